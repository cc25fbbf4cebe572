#!/usr/bin/env node
/*
 * compare.js - independent check of the .alcm layout: parses archives with
 * a parser generated from format/alcm.ksy by the Kaitai Struct compiler and
 * compares what it finds with `alcm-inspect --json`.
 *
 * Two implementations of spec/alcm-format.md (libalcm in C, the Kaitai
 * description) must agree on every field of every valid fixture; a
 * disagreement means one of them, or the spec, is wrong.
 *
 * usage: node compare.js --inspect BIN --ksy FILE --gen-dir DIR
 *                        [--modules DIR] ARCHIVE...
 *   --modules  node_modules folder holding kaitai-struct-compiler,
 *              kaitai-struct and yaml (default: next to this script)
 *   --gen-dir  where the generated parser (Alcm.js) is written
 * Exit status: 0 all passed, 1 a mismatch or error, 2 bad usage.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { createRequire } = require('module');

function usage(msg) {
  process.stderr.write(`compare.js: ${msg}\n` +
    'usage: node compare.js --inspect BIN --ksy FILE --gen-dir DIR ' +
    '[--modules DIR] ARCHIVE...\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opt = { modules: path.join(__dirname, 'node_modules'), files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const key = { '--inspect': 'inspect', '--ksy': 'ksy', '--gen-dir': 'genDir',
                  '--modules': 'modules' }[a];
    if (key) {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      opt[key] = argv[++i];
    } else if (a.startsWith('--')) {
      usage(`unknown option ${a}`);
    } else {
      opt.files.push(a);
    }
  }
  for (const k of ['inspect', 'ksy', 'genDir'])
    if (!opt[k]) usage(`missing --${k === 'genDir' ? 'gen-dir' : k}`);
  if (opt.files.length === 0) usage('no archives given');
  return opt;
}

/* ---- the generated parser ------------------------------------------------ */

/* Compiles the .ksy, writes the parser to genDir (for people debugging a
 * failure) and loads it. The generated UMD module requires
 * 'kaitai-struct/KaitaiStream'; it is handed our resolver so that the
 * parser need not live next to a node_modules folder. */
async function loadParser(opt) {
  const req = createRequire(path.join(path.resolve(opt.modules), 'noop.js'));
  const compiler = req('kaitai-struct-compiler');
  const YAML = req('yaml');
  const KaitaiStream = req('kaitai-struct/KaitaiStream');
  const ksy = YAML.parse(fs.readFileSync(opt.ksy, 'utf8'));
  const files = await compiler.compile('javascript', ksy, null, false);
  fs.mkdirSync(opt.genDir, { recursive: true });
  for (const [name, text] of Object.entries(files))
    fs.writeFileSync(path.join(opt.genDir, name), text);
  const code = files['Alcm.js'];
  if (!code) throw new Error(`compiler produced ${Object.keys(files)}, no Alcm.js`);
  const exportsObj = {};
  const localRequire = (id) => {
    if (id === 'kaitai-struct/KaitaiStream') return KaitaiStream;
    throw new Error(`generated parser requires unexpected module ${id}`);
  };
  new Function('exports', 'require', 'module', code)(exportsObj, localRequire,
                                                     { exports: exportsObj });
  return { Alcm: exportsObj.Alcm, KaitaiStream, version: compiler.version };
}

/* ---- values ---------------------------------------------------------------- */

/* JSON.parse turns integers above 2^53 into inexact doubles. Quote long
 * integer literals (outside strings) first so they arrive as exact strings. */
function parseJsonExact(text) {
  const quoted = text.replace(/"(?:[^"\\]|\\.)*"|(?<![\d.])-?\d{16,}(?![.\deE])/g,
    (m) => (m[0] === '"' ? m : `"${m}"`));
  return JSON.parse(quoted);
}

function isIntLike(v) {
  return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v)) ||
         (typeof v === 'string' && /^-?\d+$/.test(v));
}

function sameValue(a, b) {
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  if (isIntLike(a) && isIntLike(b)) return BigInt(a) === BigInt(b);
  if (typeof a === 'number' && typeof b === 'number')
    return a === b || (Number.isNaN(a) && Number.isNaN(b));
  return a === b;
}

function show(v) {
  return typeof v === 'bigint' ? `${v}` : JSON.stringify(v);
}

function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

/* Collects differences as "path: inspect X, kaitai Y". */
class Diff {
  constructor() { this.lines = []; }
  field(where, expected, actual) {
    if (expected === undefined) {
      this.lines.push(`${where}: missing in alcm-inspect output (kaitai ${show(actual)})`);
    } else if (!sameValue(expected, actual)) {
      this.lines.push(`${where}: alcm-inspect ${show(expected)}, kaitai ${show(actual)}`);
    }
  }
  count(where, expected, actual) {
    if (!Array.isArray(expected)) {
      this.lines.push(`${where}: alcm-inspect gives no list`);
      return false;
    }
    if (expected.length !== actual.length) {
      this.lines.push(`${where}: alcm-inspect lists ${expected.length}, kaitai ${actual.length}`);
      return false;
    }
    return true;
  }
  note(text) { this.lines.push(text); }
}

/* ---- what Kaitai saw, in alcm-inspect's vocabulary ------------------------ */

function metaValue(m) {
  switch (m.type) {
    case 1: return m.value.value;                       /* string */
    case 2:                                             /* bytes */
      /* alcm.scheduler is parsed (scheduler_state); compare its bytes */
      return hex(m.value instanceof Uint8Array ? m.value : m._raw_value);
    case 3: {                                           /* i64, exact */
      const raw = Buffer.from(m._raw_value);
      return raw.readBigInt64LE(0);
    }
    case 4: return m.value.value;                       /* f64 */
    default: return undefined;
  }
}

function compareChunks(d, where, expected, entry) {
  if (!d.count(`${where}.chunks`, expected, entry.chunks)) return;
  entry.chunks.forEach((ref, c) => {
    const w = `${where}.chunks[${c}]`;
    const e = expected[c];
    const f = ref.frame;
    d.field(`${w}.frame_offset`, e.frame_offset, ref.frameOffset);
    d.field(`${w}.stored_size`, e.stored_size, ref.storedSize);
    if (entry.bundled) {
      /* 1.4: the entry's bytes are a range of its bundle's frame */
      d.field(`${w}.raw_size`, e.raw_size, entry.rawSize);
      d.field(`${w}.frame_raw_size`, e.frame_raw_size, f.rawSize);
      d.field(`${w}.bundle_offset`, e.bundle_offset, entry.bundleOffset);
    } else {
      d.field(`${w}.raw_size`, e.raw_size, f.rawSize);
    }
    d.field(`${w}.transform`, e.transform, f.transform);
    d.field(`${w}.codec`, e.codec, f.codec);
    d.field(`${w}.elem_size`, e.elem_size, f.elemSize);
  });
}

/* Section refs, matched by type (alcm-inspect lists them by type, the
 * index in its own order). alcm-inspect may print "sections": [] without
 * describing them; an empty list is then "not reported", and the frames
 * are still checked by checkConsistency(). Fields alcm-inspect prints are
 * compared; frame_offset and stored_size only when it prints them. */
function compareSections(d, where, expected, entry) {
  if (expected === undefined) return;
  if (Array.isArray(expected) && expected.length === 0) return;
  if (!d.count(`${where}.sections`, expected, entry.sections)) return;
  const known = {
    type: (s) => s.type, frame_offset: (s) => s.frameOffset,
    stored_size: (s) => s.storedSize, raw_size: (s) => s.frame.rawSize,
    transform: (s) => s.frame.transform, codec: (s) => s.frame.codec,
    elem_size: (s) => s.frame.elemSize,
  };
  expected.forEach((e, i) => {
    if (e === null || typeof e !== 'object') return;
    const s = entry.sections.find((x) => x.type === e.type);
    if (!s) {
      d.note(`${where}.sections[${i}]: type ${e.type} not in the index`);
      return;
    }
    for (const [k, get] of Object.entries(known))
      if (k in e) d.field(`${where}.sections[type ${e.type}].${k}`, e[k], get(s));
  });
}

/* Bytes per element of each dtype (spec "Dtypes"). */
const DTYPE_SIZE = [0, 1, 1, 1, 2, 2, 4, 4, 8, 8, 2, 2, 4, 8, 1, 1];

function numelOf(k) {
  return k.shape.reduce((n, v) => n * BigInt(v), 1n);
}

/* Format 1.2: alcm-inspect's raw_size of an adaptive entry is the
 * dequantized size (numel x dtype size) and adaptive.code_size the index
 * raw_size; the block is compared field by field. */
function compareAdaptive(d, where, e, k) {
  d.field(`${where}.raw_size (numel x dtype size)`, e.raw_size,
          numelOf(k) * BigInt(DTYPE_SIZE[k.dtype] || 0));
  const a = e.adaptive;
  const b = k.adaptive;
  if (!a || typeof a !== 'object') {
    d.note(`${where}: alcm-inspect prints no adaptive block`);
    return;
  }
  if (!b) {
    d.note(`${where}: kaitai found no adaptive block`);
    return;
  }
  d.field(`${where}.adaptive.code_size`, a.code_size, k.rawSize);
  d.field(`${where}.adaptive.channel_axis`, a.channel_axis, b.channelAxis);
  d.field(`${where}.adaptive.channel_count`, a.channel_count, b.channelCount);
  for (const [key, get] of [['max_abs_err', 'maxAbsErr'], ['rmse', 'rmse'],
                            ['snr_db', 'snrDb'], ['pruned', 'pruned'],
                            ['cpu_seconds', 'cpuSeconds'], ['caq', 'caq']]) {
    /* alcm-inspect prints null for a non-finite value (e.g. SNR of an
     * exact tensor) */
    const v = b[get];
    d.field(`${where}.adaptive.${key}`, a[key], Number.isFinite(v) ? v : null);
  }
}

function compareEntry(d, where, e, k) {
  d.field(`${where}.name`, e.name, k.name);
  d.field(`${where}.kind`, e.kind, k.kind);
  d.field(`${where}.dtype`, e.dtype, k.dtype);
  d.field(`${where}.encoding`, e.encoding, k.encoding);
  d.field(`${where}.flags`, e.flags, k.flags);
  if (d.count(`${where}.shape`, e.shape, k.shape))
    k.shape.forEach((v, i) => d.field(`${where}.shape[${i}]`, e.shape[i], v));
  d.field(`${where}.source`, e.source, k.source === 0xffffffff ? -1 : k.source);
  if (k.encoding === 1)
    compareAdaptive(d, where, e, k);
  else
    d.field(`${where}.raw_size`, e.raw_size, k.rawSize);
  d.field(`${where}.chunk_size`, e.chunk_size, k.chunkSize);
  d.field(`${where}.content_hash`, e.content_hash, hex(k.contentHash));
  compareChunks(d, where, e.chunks, k);
  compareSections(d, where, e.sections, k);
}

/* Raw size of a section's payload (spec "Per-channel sections"). */
function sectionRawSize(type, channels, numel) {
  switch (type) {
    case 1: case 2: case 3: return 4n * channels;
    case 4: return channels;
    case 5: return (numel + 7n) / 8n;
    case 6: return 24n * channels;
    default: return -1n;
  }
}

/* spec "Adaptive entries" (1.2): what the expression language of the .ksy
 * cannot say. */
function checkAdaptive(d, where, en) {
  const numel = numelOf(en);
  if (BigInt(en.rawSize) > 2n * numel)
    d.note(`${where}: ${en.rawSize} code bytes for ${numel} elements (> 16 bits each)`);
  const types = en.sections.map((s) => s.type);
  if (!types.includes(2) || !types.includes(4))
    d.note(`${where}: adaptive entry without scales (2) or bit widths (4): ${types}`);
  if (types.includes(3)) d.note(`${where}: zero-point section (3) on an adaptive entry`);
  const channels = BigInt(en.adaptive.channelCount);
  en.sections.forEach((ref, c) => {
    const want = sectionRawSize(ref.type, channels, numel);
    if (BigInt(ref.frame.rawSize) !== want)
      d.note(`${where} section ${c} (type ${ref.type}): raw_size ${ref.frame.rawSize}, want ${want}`);
    if (ref.frame.transform !== 0)
      d.note(`${where} section ${c}: transform ${ref.frame.transform}, want identity`);
  });
  en.chunks.forEach((ref, c) => {
    if (ref.frame.transform !== 0 || ref.frame.elemSize !== 1)
      d.note(`${where} chunk ${c}: codes with transform ${ref.frame.transform} ` +
             `elem_size ${ref.frame.elemSize}, want identity/1`);
  });
}

/* Rules the .ksy cannot state but the spec does (spec "Index", "Frames"):
 * checked here so that a fixture that both tools misread still fails. */
function checkConsistency(d, doc, fileSize) {
  const idx = doc.index;
  const ft = doc.footer;
  if (BigInt(ft.indexOffset) + BigInt(ft.indexSize) + 48n !== BigInt(fileSize))
    d.note(`footer: index_offset ${ft.indexOffset} + index_size ${ft.indexSize} + 48 != file size ${fileSize}`);
  let total = 0n;
  idx.entries.forEach((en, i) => {
    const where = `entries[${i}] '${en.name}'`;
    total += BigInt(en.rawSize);
    let sum = 0n;
    en.chunks.forEach((ref, c) => {
      const f = ref.frame;
      if (f.kind !== 1) d.note(`${where} chunk ${c}: frame kind ${f.kind}, want 1`);
      if (f.storedSize !== ref.storedSize)
        d.note(`${where} chunk ${c}: frame stored_size ${f.storedSize} != ref ${ref.storedSize}`);
      if ((ref.frameOffset + 64) % doc.align !== 0)
        d.note(`${where} chunk ${c}: payload at ${ref.frameOffset + 64} not aligned to ${doc.align}`);
      if (ref.frameOffset + 64 + ref.storedSize > doc.footer.indexOffset)
        d.note(`${where} chunk ${c}: frame runs into the index`);
      sum += BigInt(f.rawSize);
    });
    if (en.bundled) { /* spec "Bundled" (1.4) */
      const end = BigInt(en.bundleOffset) + BigInt(en.rawSize);
      if (en.chunks.length !== 1 || en.encoding !== 0 || en.rawSize === 0)
        d.note(`${where}: bundled, but not one chunk of a lossless tensor`);
      else if (BigInt(en.chunks[0].frame.rawSize) < end ||
               en.chunks[0].frame.rawSize > en.chunkSize)
        d.note(`${where}: bytes ${en.bundleOffset}..${end} outside its frame ` +
               `of ${en.chunks[0].frame.rawSize} (chunk size ${en.chunkSize})`);
      if (BigInt(en.bundleOffset) % BigInt(DTYPE_SIZE[en.dtype] || 1) !== 0n)
        d.note(`${where}: bundle_offset ${en.bundleOffset} not on an element`);
      sum = BigInt(en.rawSize); /* its own bytes, not the frame's */
    }
    en.sections.forEach((ref, c) => {
      const f = ref.frame;
      if (f.kind !== 2 || f.sectionType !== ref.type || f.storedSize !== ref.storedSize)
        d.note(`${where} section ${c}: frame kind ${f.kind} type ${f.sectionType} ` +
               `stored_size ${f.storedSize} do not match ref type ${ref.type} stored_size ${ref.storedSize}`);
    });
    if (sum !== BigInt(en.rawSize))
      d.note(`${where}: chunk raw sizes add up to ${sum}, raw_size is ${en.rawSize}`);
    if (en.encoding === 1) checkAdaptive(d, where, en);
    else if (en.sections.length !== 0) d.note(`${where}: sections on a lossless entry`);
  });
  if (total !== BigInt(idx.totalRaw))
    d.note(`index: total_raw ${idx.totalRaw}, entries add up to ${total}`);
}

function compareArchive(doc, fileSize, ex) {
  const d = new Diff();
  const idx = doc.index;
  d.field('file_size', ex.file_size, fileSize);
  d.field('format_major', ex.format_major, doc.header.major);
  d.field('format_minor', ex.format_minor, doc.header.minor);
  d.field('align_log2', ex.align_log2, doc.header.alignLog2);
  d.field('index_offset', ex.index_offset, doc.footer.indexOffset);
  d.field('index_size', ex.index_size, doc.footer.indexSize);
  d.field('total_raw', ex.total_raw, idx.totalRaw);
  if (d.count('sources', ex.sources, idx.sources)) {
    idx.sources.forEach((s, i) => {
      const e = ex.sources[i];
      d.field(`sources[${i}].format`, e.format, s.format);
      d.field(`sources[${i}].path`, e.path, s.path);
      d.field(`sources[${i}].restore_size`, e.restore_size, s.restoreLen);
    });
  }
  if (d.count('meta', ex.meta, idx.metas)) {
    idx.metas.forEach((m, i) => {
      const e = ex.meta[i];
      d.field(`meta[${i}].key`, e.key, m.key);
      d.field(`meta[${i}].type`, e.type, m.type);
      d.field(`meta[${i}].value`, e.value, metaValue(m));
    });
  }
  if (d.count('entries', ex.entries, idx.entries))
    idx.entries.forEach((k, i) =>
      compareEntry(d, `entries[${i}] '${k.name}'`, ex.entries[i], k));
  checkConsistency(d, doc, fileSize);
  return d.lines;
}

/* ---- driver ------------------------------------------------------------------ */

function checkFile(parser, opt, file) {
  let ex;
  try {
    const out = execFileSync(opt.inspect, ['--json', file],
                             { encoding: 'utf8', maxBuffer: 256 << 20,
                               stdio: ['ignore', 'pipe', 'pipe'] });
    ex = parseJsonExact(out);
  } catch (err) {
    const why = err.stderr ? String(err.stderr).trim() : err.message;
    return [`alcm-inspect --json failed: ${why}`];
  }
  const buf = fs.readFileSync(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  let doc;
  try {
    doc = new parser.Alcm(new parser.KaitaiStream(ab));
    void doc.footer; void doc.index;             /* instances parse lazily */
    doc.index.entries.forEach((en) => {
      en.chunks.forEach((r) => void r.frame);
      en.sections.forEach((r) => { void r.frame; void r.storedContent; });
    });
  } catch (err) {
    return [`kaitai parser rejected the file: ${err.name || 'Error'}: ${err.message}`];
  }
  return compareArchive(doc, buf.length, ex);
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const parser = await loadParser(opt);
  process.stdout.write(`kaitai-struct-compiler ${parser.version}, ` +
                       `parser in ${path.join(opt.genDir, 'Alcm.js')}\n`);
  let passed = 0;
  let failed = 0;
  for (const file of opt.files) {
    const diffs = checkFile(parser, opt, file);
    if (diffs.length === 0) {
      passed++;
      process.stdout.write(`ok    ${file}\n`);
    } else {
      failed++;
      process.stdout.write(`FAIL  ${file}\n`);
      for (const line of diffs) process.stdout.write(`      ${line}\n`);
    }
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(`compare.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
