/*
 * reader.c - open an archive through its footer, read entries chunk by
 * chunk, verify every byte (spec "Layout", "Compliance").
 *
 * Only header, footer and index are read at open; payloads are read on
 * demand into buffers of at most one chunk each. With threads > 1, reads
 * of several chunks decode them in parallel, each thread through its own
 * view of the reader (same archive, own scratch buffers and message).
 */
#include <math.h>
#include <stdlib.h>

#include "adaptive.h"
#include "internal.h"

#define DEFAULT_MAX_INDEX ((uint64_t)1 << 30)
#define DEFAULT_MAX_ENTRIES 1000000u
#define DEFAULT_MAX_CHUNK ((uint64_t)ALCM_CHUNK_SIZE_MAX)
#define MAX_THREADS 256u

/* Decoded bundle frames kept (spec "Bundled", 1.4): a bundle's entries are
 * read one after the other, so each frame decodes once; bundles of
 * different dtypes fill in side by side (hence more than one). */
#define BUNDLE_CACHE 4u
typedef struct {
  uint64_t offset;   /* its frame's offset; valid only if buf holds it */
  alcm_frame frame;  /* its header, checked against each entry naming it */
  uint8_t *buf;      /* frame.raw_size decoded bytes */
  size_t cap;
  bool valid;
  bool verified;     /* decoded by verify: stored hash checked too */
} bundle_slot;

struct alcm_reader {
  alcm_mem mem;
  alcm_msg msg;
  alcm_status init_error;
  alcm_limits lim;
  alcm_codec_set codecs;
  alcm_infile file;
  bool opened;
  unsigned align_log2, minor;
  alcm_footer footer;
  alcm_index idx;
  /* scratch, grown on demand, each at most one chunk */
  uint8_t *stored, *tmp, *raw;
  size_t stored_cap, tmp_cap, raw_cap;
  /* parallel decoding (threads > 1): pool and views made on first use */
  unsigned threads;
  alcm_pool *pool;
  struct alcm_reader *views; /* [threads]; views[0] runs on the caller */
  /* set by verify: every payload checked before it is decoded, so that
   * no bit of the file goes unchecked (read_chunk) */
  bool verifying;
  bundle_slot bundle[BUNDLE_CACHE];
  unsigned bundle_next; /* the slot to fill next */
};

alcm_msg *alcm_reader_msg_(alcm_reader *r) { return &r->msg; }
const alcm_mem *alcm_reader_mem_(const alcm_reader *r) { return &r->mem; }

void alcm_read_options_init(alcm_read_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->sizeof_options = sizeof *opt;
}

alcm_reader *alcm_reader_create(const alcm_read_options *opt) {
  alcm_read_options o;
  alcm_read_options_init(&o);
  bool bad_size = false;
  if (opt)
    bad_size = !alcm_options_copy(&o, sizeof o, opt,
                                  offsetof(alcm_read_options, allocator));
  alcm_mem mem;
  alcm_mem_init(&mem, &o.allocator, o.limits.max_alloc);
  alcm_reader *r = alcm_mem_calloc(&mem, 1, sizeof *r);
  if (!r) return NULL;
  r->mem = mem;
  r->file.fd = -1;
  r->lim = o.limits;
  if (!r->lim.max_index_size) r->lim.max_index_size = DEFAULT_MAX_INDEX;
  if (!r->lim.max_entries) r->lim.max_entries = DEFAULT_MAX_ENTRIES;
  if (!r->lim.max_chunk_raw) r->lim.max_chunk_raw = DEFAULT_MAX_CHUNK;
  r->codecs.extra = o.extra_codecs;
  r->codecs.extra_count = o.extra_codec_count;
  r->threads = o.threads > MAX_THREADS ? MAX_THREADS : o.threads;
  if (bad_size)
    r->init_error = alcm_fail(&r->msg, ALCM_ERR_ARGUMENT,
                              "options: sizeof_options is %zu",
                              opt->sizeof_options);
  else
    r->init_error = alcm_codec_set_check(&r->codecs, &r->msg);
  return r;
}

/* ---- open ------------------------------------------------------------------ */

static alcm_status read_header(alcm_reader *r) {
  uint8_t hdr[ALCM_HEADER_SIZE];
  const uint64_t size = r->file.size;
  const size_t have = size < ALCM_HEADER_SIZE ? (size_t)size : ALCM_HEADER_SIZE;
  alcm_status st = alcm_infile_read(&r->file, 0, hdr, have, &r->msg);
  if (st) return st;
  if (have < ALCM_HEADER_MAGIC_SIZE ||
      memcmp(hdr, ALCM_HEADER_MAGIC, ALCM_HEADER_MAGIC_SIZE) != 0) {
    if (have >= ALCM_HEADER_MAGIC_SIZE)
      return alcm_fail(&r->msg, ALCM_ERR_BAD_MAGIC, "file header at offset 0");
  }
  if (size < (uint64_t)ALCM_HEADER_SIZE + ALCM_FOOTER_SIZE)
    return alcm_fail(&r->msg, ALCM_ERR_TRUNCATED,
                     "file of %llu bytes is shorter than header and footer "
                     "(%u bytes)",
                     (unsigned long long)size,
                     ALCM_HEADER_SIZE + ALCM_FOOTER_SIZE);
  return alcm_header_decode(hdr, &r->align_log2, &r->minor, &r->msg);
}

static alcm_status read_footer(alcm_reader *r) {
  uint8_t foot[ALCM_FOOTER_SIZE];
  const uint64_t size = r->file.size;
  const uint64_t at = size - ALCM_FOOTER_SIZE;
  alcm_status st = alcm_infile_read(&r->file, at, foot, sizeof foot, &r->msg);
  if (st) return st;
  /* A good header without a footer magic at the end is a cut file. */
  if (memcmp(foot + ALCM_FTR_OFF_MAGIC, ALCM_FOOTER_MAGIC, 8) != 0)
    return alcm_fail(&r->msg, ALCM_ERR_TRUNCATED,
                     "no footer at offset %llu: file truncated or never "
                     "finished",
                     (unsigned long long)at);
  if ((st = alcm_footer_decode(foot, &r->footer, &r->msg))) return st;
  const alcm_footer *f = &r->footer;
  if (f->minor != r->minor)
    return alcm_fail(&r->msg, ALCM_ERR_CORRUPT,
                     "footer: minor version %u, header says %u", f->minor,
                     r->minor);
  uint64_t end;
  if (f->index_offset < ALCM_HEADER_SIZE ||
      f->index_size < ALCM_INDEX_HEADER_SIZE ||
      __builtin_add_overflow(f->index_offset, f->index_size, &end) ||
      end != at)
    return alcm_fail(&r->msg, ALCM_ERR_CORRUPT,
                     "footer: index at offset %llu of %llu bytes does not end "
                     "where the footer starts (%llu)",
                     (unsigned long long)f->index_offset,
                     (unsigned long long)f->index_size,
                     (unsigned long long)at);
  if (f->index_size > r->lim.max_index_size)
    return alcm_fail(&r->msg, ALCM_ERR_LIMIT,
                     "index of %llu bytes, limit %llu",
                     (unsigned long long)f->index_size,
                     (unsigned long long)r->lim.max_index_size);
  return ALCM_OK;
}

static alcm_status read_index(alcm_reader *r) {
  const alcm_footer *f = &r->footer;
  const size_t n = (size_t)f->index_size;
  uint8_t *buf = alcm_mem_alloc(&r->mem, n);
  if (!buf)
    return alcm_fail(&r->msg, ALCM_ERR_NOMEM, "index of %zu bytes", n);
  alcm_status st = alcm_infile_read(&r->file, f->index_offset, buf, n, &r->msg);
  if (!st && alcm_hash64(buf, n) != f->index_hash)
    st = alcm_fail(&r->msg, ALCM_ERR_CHECKSUM, "index at offset %llu",
                   (unsigned long long)f->index_offset);
  if (!st)
    st = alcm_index_decode(buf, n, f->index_offset, r->align_log2, &r->lim,
                           &r->mem, &r->idx, &r->msg);
  alcm_mem_free(&r->mem, buf);
  return st;
}

alcm_status alcm_reader_open(alcm_reader *r, const char *path) {
  if (!r || !path) return ALCM_ERR_ARGUMENT;
  alcm_msg_clear(&r->msg);
  if (r->init_error) return alcm_fail(&r->msg, r->init_error, "reader options");
  if (r->opened) return alcm_fail(&r->msg, ALCM_ERR_STATE, "already open");
  alcm_status st = alcm_infile_open(&r->file, path, &r->msg);
  if (!st) st = read_header(r);
  if (!st) st = read_footer(r);
  if (!st) st = read_index(r);
  if (st) {
    alcm_infile_close(&r->file);
    return st;
  }
  r->opened = true;
  return ALCM_OK;
}

/* ---- queries ---------------------------------------------------------------- */

static alcm_status need_open(const alcm_reader *r) {
  return r && r->opened ? ALCM_OK : ALCM_ERR_STATE;
}

alcm_status alcm_reader_archive_info(const alcm_reader *r,
                                     alcm_archive_info *info) {
  if (need_open(r) || !info) return r && !info ? ALCM_ERR_ARGUMENT : ALCM_ERR_STATE;
  info->file_size = r->file.size;
  info->index_offset = r->footer.index_offset;
  info->index_size = r->footer.index_size;
  info->total_raw = r->idx.total_raw;
  info->format_major = ALCM_FORMAT_MAJOR;
  info->format_minor = r->minor;
  info->align_log2 = r->align_log2;
  return ALCM_OK;
}

size_t alcm_reader_entry_count(const alcm_reader *r) {
  return need_open(r) ? 0 : r->idx.entry_count;
}

alcm_status alcm_reader_entry(const alcm_reader *r, size_t i,
                              alcm_entry_info *info) {
  if (need_open(r)) return ALCM_ERR_STATE;
  if (!info || i >= r->idx.entry_count) return ALCM_ERR_ARGUMENT;
  const alcm_entry *e = &r->idx.entries[i];
  info->name = e->name;
  info->kind = (int)e->kind;
  info->dtype = (int)e->dtype;
  info->encoding = (int)e->encoding;
  info->flags = e->flags;
  info->ndim = e->ndim;
  info->shape = e->shape;
  info->raw_size = e->raw_size;
  /* An adaptive entry reads as its dequantized values (its raw_size is
   * the code bytes; the index checked the shape product). */
  if (e->encoding == ALCM_ENCODING_ADAPTIVE)
    (void)alcm_shape_bytes(e->dtype, e->ndim, e->shape, &info->raw_size);
  uint64_t stored = 0;
  for (uint32_t j = 0; j < e->chunk_count; j++)
    stored += e->chunks[j].stored_size; /* each < file size: no overflow */
  info->stored_size = stored;
  info->chunk_count = e->chunk_count;
  info->chunk_size = e->chunk_size;
  info->section_count = e->section_count;
  info->source = e->source;
  memcpy(info->content_hash, e->content_hash, 16);
  return ALCM_OK;
}

alcm_status alcm_reader_find(const alcm_reader *r, const char *name,
                             size_t *index_ret) {
  if (need_open(r)) return ALCM_ERR_STATE;
  if (!name) return ALCM_ERR_ARGUMENT;
  uint32_t pos;
  const alcm_status st = alcm_index_find(&r->idx, name, strlen(name), &pos);
  if (st == ALCM_OK && index_ret) *index_ret = pos;
  return st;
}

static uint64_t chunk_raw_size(const alcm_entry *e, uint32_t j) {
  const uint64_t start = (uint64_t)j * e->chunk_size;
  const uint64_t left = e->raw_size - start;
  return left < e->chunk_size ? left : e->chunk_size;
}

static alcm_status grow(alcm_reader *r, uint8_t **p, size_t *cap, uint64_t n);

/* Reads a frame's header and its stored_size payload bytes (one read) into
 * r->stored, payload at r->stored + ALCM_FRAME_HEADER_SIZE, and decodes
 * the header (spec "Frames"). The caller matches it against its ref, then
 * calls check_stored. */
static alcm_status load_frame(alcm_reader *r, const alcm_entry *e,
                              const char *what, uint32_t j, uint64_t offset,
                              uint64_t stored_size, alcm_frame *f) {
  const uint64_t n = ALCM_FRAME_HEADER_SIZE + stored_size; /* in the file */
  alcm_status st = grow(r, &r->stored, &r->stored_cap, n);
  if (st)
    return alcm_fail(&r->msg, st, "entry '%s': %s %u: %llu stored bytes",
                     e->name, what, (unsigned)j,
                     (unsigned long long)stored_size);
  st = alcm_infile_read(&r->file, offset, r->stored, (size_t)n, &r->msg);
  if (!st) st = alcm_frame_decode(r->stored, f, offset, &r->msg);
  if (st) alcm_msg_prefix(&r->msg, "entry '%s': %s %u", e->name, what,
                          (unsigned)j);
  return st;
}

/* The chunk frame must be the one the index describes, in a codec this
 * reader has and a transform allowed for the entry (spec "Frames",
 * "Transforms"). */
static alcm_status check_chunk_frame(alcm_reader *r, const alcm_entry *e,
                                     uint32_t j, const alcm_frame *f) {
  const alcm_chunk_ref *ref = &e->chunks[j];
  const unsigned long long off = (unsigned long long)ref->frame_offset;
  const bool bundled = (e->flags & ALCM_ENTRY_FLAG_BUNDLED) != 0;
  if (f->kind != ALCM_FRAME_KIND_CHUNK || f->stored_size != ref->stored_size ||
      (bundled ? f->raw_size < e->bundle_offset + e->raw_size ||
                     f->raw_size > e->chunk_size
               : f->raw_size != chunk_raw_size(e, j)))
    return alcm_fail(&r->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': chunk %u at offset %llu: frame (kind %u, "
                     "%llu raw, %llu stored) does not match the index",
                     e->name, (unsigned)j, off, f->kind,
                     (unsigned long long)f->raw_size,
                     (unsigned long long)f->stored_size);
  if (!alcm_codec_by_id(&r->codecs, f->codec))
    return alcm_fail(&r->msg, ALCM_ERR_CODEC_UNKNOWN,
                     "entry '%s': chunk %u at offset %llu: codec %u", e->name,
                     (unsigned)j, off, f->codec);
  /* Codes of an adaptive entry are bytes: identity only (spec 1.2). */
  const size_t es = e->kind == ALCM_ENTRY_TENSOR &&
                            e->encoding == ALCM_ENCODING_LOSSLESS
                        ? alcm_dtype_size((int)e->dtype)
                        : 1;
  /* A transform works on whole elements of the entry's dtype; blobs have
   * none (es 1 forces identity); the field splits belong to their dtype. */
  const bool split_ok =
      (f->transform != ALCM_TRANSFORM_SPLIT_BF16 || e->dtype == ALCM_DTYPE_BF16) &&
      (f->transform != ALCM_TRANSFORM_SPLIT_F32 || e->dtype == ALCM_DTYPE_F32);
  if ((f->transform != ALCM_TRANSFORM_IDENTITY && f->elem_size != es) ||
      !split_ok)
    return alcm_fail(&r->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': chunk %u at offset %llu: transform %u over "
                     "%u-byte elements for elements of %zu bytes",
                     e->name, (unsigned)j, off, f->transform, f->elem_size,
                     es);
  return ALCM_OK;
}

/* Frame header and payload of chunk j, checked up to the stored hash. */
static alcm_status load_chunk(alcm_reader *r, const alcm_entry *e, uint32_t j,
                              alcm_frame *f) {
  const alcm_chunk_ref *ref = &e->chunks[j];
  alcm_status st = load_frame(r, e, "chunk", j, ref->frame_offset,
                              ref->stored_size, f);
  if (!st) st = check_chunk_frame(r, e, j, f);
  return st;
}

static alcm_status grow(alcm_reader *r, uint8_t **p, size_t *cap, uint64_t n) {
  if (n > SIZE_MAX) return ALCM_ERR_LIMIT;
  void *q = *p;
  const alcm_status st = alcm_mem_reserve(&r->mem, &q, cap, (size_t)n);
  *p = q;
  return st;
}

/* The payload loaded by load_frame against its stored hash. */
static alcm_status check_stored(alcm_reader *r, const alcm_entry *e,
                                uint32_t j, const char *what,
                                uint64_t frame_offset, const alcm_frame *f) {
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  if (alcm_hash64(r->stored + ALCM_FRAME_HEADER_SIZE,
                  (size_t)f->stored_size) != f->stored_hash)
    return alcm_fail(&r->msg, ALCM_ERR_CHECKSUM,
                     "entry '%s': %s %u at offset %llu: stored bytes",
                     e->name, what, (unsigned)j,
                     (unsigned long long)frame_offset);
#else
  (void)r, (void)e, (void)j, (void)what, (void)frame_offset, (void)f;
#endif
  return ALCM_OK;
}

/* Decodes the payload in r->stored (already hash-checked) into dst
 * (f->raw_size bytes). */
static alcm_status decode_payload(alcm_reader *r, const alcm_entry *e,
                                  uint32_t j, const char *what,
                                  uint64_t frame_offset, const alcm_frame *f,
                                  uint8_t *dst) {
  const size_t n = (size_t)f->raw_size;
  const alcm_codec *c = alcm_codec_by_id(&r->codecs, f->codec);
  uint8_t *plain = dst;
  if (f->transform != ALCM_TRANSFORM_IDENTITY) {
    alcm_status st = grow(r, &r->tmp, &r->tmp_cap, n);
    if (st)
      return alcm_fail(&r->msg, st, "entry '%s': %s %u", e->name, what,
                       (unsigned)j);
    plain = r->tmp;
  }
  if (c->decompress(plain, n, r->stored + ALCM_FRAME_HEADER_SIZE,
                    (size_t)f->stored_size) != 0)
    return alcm_fail(&r->msg, ALCM_ERR_CODEC,
                     "entry '%s': %s %u at offset %llu: %s data does not "
                     "decode to %zu bytes",
                     e->name, what, (unsigned)j,
                     (unsigned long long)frame_offset, c->name, n);
  if (plain != dst)
    alcm_transform_inverse(f->transform, f->elem_size, dst, plain, n);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  if (alcm_hash64(dst, n) != f->raw_hash)
    return alcm_fail(&r->msg, ALCM_ERR_CHECKSUM,
                     "entry '%s': %s %u at offset %llu: decoded bytes",
                     e->name, what, (unsigned)j,
                     (unsigned long long)frame_offset);
#endif
  return ALCM_OK;
}

static alcm_status entry_readable(alcm_reader *r, const alcm_entry *e) {
  if (e->encoding != ALCM_ENCODING_LOSSLESS)
    return alcm_fail(&r->msg, ALCM_ERR_UNSUPPORTED,
                     "entry '%s': adaptive (lossy) entry: its bytes are "
                     "codes, read it with alcm_reader_read_dequantized",
                     e->name);
  return ALCM_OK;
}

/* Built-in codecs decode any bytes safely (they are fuzzed on hostile
 * payloads), so outside verify their chunks are decoded first and the
 * stored hash is only computed when decoding fails or the raw hash does
 * not match: the same error either way (spec "Decoding a frame"), one
 * pass over the payload less. A registered codec gets only checked
 * bytes; verify checks every payload (a change that decodes to the same
 * bytes, e.g. in zlib's padding bits, must still be found). */
static bool decode_first(const alcm_reader *r, const alcm_frame *f) {
  return !r->verifying && f->codec <= ALCM_CODEC_ID_RANS;
}

/* The loaded frame f of chunk j decoded into dst (f->raw_size bytes). */
static alcm_status decode_chunk(alcm_reader *r, const alcm_entry *e,
                                uint32_t j, const alcm_frame *f,
                                uint8_t *dst) {
  const uint64_t off = e->chunks[j].frame_offset;
  alcm_status st;
  if (!decode_first(r, f)) {
    st = check_stored(r, e, j, "chunk", off, f);
    return st ? st : decode_payload(r, e, j, "chunk", off, f, dst);
  }
  st = decode_payload(r, e, j, "chunk", off, f, dst);
  if (st == ALCM_ERR_CODEC || st == ALCM_ERR_CHECKSUM) {
    const alcm_status stored = check_stored(r, e, j, "chunk", off, f);
    if (stored) return stored;
  }
  return st;
}

/* A bundled entry: its range of its frame, decoded once for all the
 * entries that name it (while it stays among the last BUNDLE_CACHE). The
 * header is checked against every entry, the bytes when decoded; verify
 * only takes a bundle that verify decoded (a read need not check the
 * stored hash, decode_first). */
static alcm_status read_bundled(alcm_reader *r, const alcm_entry *e,
                                uint8_t *dst) {
  const uint64_t off = e->chunks[0].frame_offset;
  bundle_slot *b = NULL;
  for (unsigned k = 0; k < BUNDLE_CACHE && !b; k++)
    if (r->bundle[k].valid && r->bundle[k].offset == off &&
        (r->bundle[k].verified || !r->verifying))
      b = &r->bundle[k];
  alcm_status st;
  if (b) {
    if ((st = check_chunk_frame(r, e, 0, &b->frame))) return st;
  } else {
    b = &r->bundle[r->bundle_next];
    r->bundle_next = (r->bundle_next + 1) % BUNDLE_CACHE;
    b->valid = false;
    if ((st = load_chunk(r, e, 0, &b->frame))) return st;
    if ((st = grow(r, &b->buf, &b->cap, b->frame.raw_size)))
      return alcm_fail(&r->msg, st, "entry '%s': bundle of %llu bytes",
                       e->name, (unsigned long long)b->frame.raw_size);
    if ((st = decode_chunk(r, e, 0, &b->frame, b->buf))) return st;
    b->offset = off;
    b->valid = true;
    b->verified = r->verifying;
  }
  memcpy(dst, b->buf + e->bundle_offset, (size_t)e->raw_size);
  return ALCM_OK;
}

static alcm_status read_chunk(alcm_reader *r, const alcm_entry *e, uint32_t j,
                              uint8_t *dst) {
  if (e->flags & ALCM_ENTRY_FLAG_BUNDLED) return read_bundled(r, e, dst);
  alcm_frame f;
  const alcm_status st = load_chunk(r, e, j, &f);
  return st ? st : decode_chunk(r, e, j, &f, dst);
}

/* Any entry of an open reader. */
static alcm_status lookup_any(alcm_reader *r, size_t entry,
                              const alcm_entry **e) {
  if (need_open(r)) return r ? alcm_fail(&r->msg, ALCM_ERR_STATE, "reader not open")
                             : ALCM_ERR_ARGUMENT;
  alcm_msg_clear(&r->msg);
  if (entry >= r->idx.entry_count)
    return alcm_fail(&r->msg, ALCM_ERR_ARGUMENT, "entry %zu of %u", entry,
                     (unsigned)r->idx.entry_count);
  *e = &r->idx.entries[entry];
  return ALCM_OK;
}

/* An entry whose data this library can decode. */
static alcm_status lookup(alcm_reader *r, size_t entry, const alcm_entry **e) {
  const alcm_status st = lookup_any(r, entry, e);
  return st ? st : entry_readable(r, *e);
}

/* ---- parallel decoding -------------------------------------------------- */

/* Per worker of one pool run: its status and its lowest failed task
 * (tasks run in order on each worker, so its later ones cannot fail
 * first: a worker that failed skips them). */
typedef struct {
  uint64_t bad[MAX_THREADS];
  alcm_status st[MAX_THREADS];
} par_fail;

static void par_failed(par_fail *f, unsigned worker, size_t task,
                       alcm_status st) {
  f->st[worker] = st;
  f->bad[worker] = task;
}

/* Chunks [first, first + count) of e decoded into dst, on the pool. */
typedef struct {
  alcm_reader *r;
  const alcm_entry *e;
  uint32_t first;
  uint8_t *dst;
  par_fail fail;
} par_read;

static void par_chunk(void *ctx, size_t i, unsigned worker) {
  par_read *const p = ctx;
  if (p->fail.st[worker]) return;
  alcm_reader *const v = &p->r->views[worker];
  const uint32_t j = p->first + (uint32_t)i;
  const alcm_status st =
      read_chunk(v, p->e, j, p->dst + (size_t)i * p->e->chunk_size);
  if (st) par_failed(&p->fail, worker, i, st);
}

/* Views share the archive (file, index, codecs, limits, allocator, all
 * fixed once the reader is open) and own their scratch buffers (kept
 * across reads) and message. */
static alcm_status make_views(alcm_reader *r) {
  if (r->views) return ALCM_OK;
  if (!r->pool) {
    const alcm_status st = alcm_pool_create(&r->pool, &r->mem, r->threads);
    if (st) return alcm_fail(&r->msg, st, "pool of %u threads", r->threads);
  }
  r->views = alcm_mem_calloc(&r->mem, r->threads, sizeof *r->views);
  if (!r->views) return alcm_fail(&r->msg, ALCM_ERR_NOMEM, "reader views");
  for (unsigned t = 0; t < r->threads; t++) {
    alcm_reader *const v = &r->views[t];
    *v = *r;
    v->views = NULL;
    v->pool = NULL;
    v->threads = 1;
    v->stored = v->tmp = v->raw = NULL;
    v->stored_cap = v->tmp_cap = v->raw_cap = 0;
    memset(v->bundle, 0, sizeof v->bundle);
  }
  return ALCM_OK;
}

/* Run fn(ctx, task, worker) over n tasks on the pool, the views set up
 * as r; the status of the lowest failed task in f (its message then in
 * r) or ALCM_OK, and in *bad that task. */
static alcm_status par_run(alcm_reader *r, size_t n,
                           void (*fn)(void *, size_t, unsigned), void *ctx,
                           par_fail *f, uint64_t *bad) {
  for (unsigned t = 0; t < r->threads; t++) {
    alcm_msg_clear(&r->views[t].msg);
    r->views[t].verifying = r->verifying;
    f->st[t] = ALCM_OK;
  }
  alcm_pool_run(r->pool, n, fn, ctx);
  unsigned worst = r->threads;
  for (unsigned t = 0; t < r->threads; t++)
    if (f->st[t] && (worst == r->threads || f->bad[t] < f->bad[worst]))
      worst = t;
  if (worst == r->threads) return ALCM_OK;
  r->msg = r->views[worst].msg;
  *bad = f->bad[worst];
  return f->st[worst];
}

/* Decode chunks [first, first + count) of e into dst, chunk k at
 * (k - first) * chunk_size, in parallel when the reader has threads.
 * Errors are those of the lowest failing chunk, as in a serial read. */
static alcm_status read_range(alcm_reader *r, const alcm_entry *e,
                              uint32_t first, uint32_t count, uint8_t *dst) {
  if (r->threads <= 1 || count < 2) {
    for (uint32_t j = first; j < first + count; j++) {
      const alcm_status st = read_chunk(r, e, j, dst);
      if (st) return st;
      dst += chunk_raw_size(e, j);
    }
    return ALCM_OK;
  }
  alcm_status st = make_views(r);
  if (st) return st;
  par_read *const p = alcm_mem_calloc(&r->mem, 1, sizeof *p);
  if (!p) return alcm_fail(&r->msg, ALCM_ERR_NOMEM, "parallel read");
  *p = (par_read){.r = r, .e = e, .first = first, .dst = dst};
  uint64_t bad;
  st = par_run(r, count, par_chunk, p, &p->fail, &bad);
  alcm_mem_free(&r->mem, p);
  return st;
}

alcm_status alcm_reader_read_chunks(alcm_reader *r, size_t entry,
                                    uint32_t first, uint32_t count, void *dst,
                                    size_t capacity, size_t *written_ret) {
  const alcm_entry *e = NULL;
  alcm_status st = lookup(r, entry, &e);
  if (st) return st;
  if (first > e->chunk_count || count > e->chunk_count - first)
    return alcm_fail(&r->msg, ALCM_ERR_ARGUMENT,
                     "entry '%s': chunks %u+%u of %u", e->name,
                     (unsigned)first, (unsigned)count,
                     (unsigned)e->chunk_count);
  uint64_t need = 0;
  for (uint32_t j = first; j < first + count; j++) need += chunk_raw_size(e, j);
  if (need > capacity || (need && !dst))
    return alcm_fail(&r->msg, ALCM_ERR_ARGUMENT,
                     "entry '%s': %llu bytes do not fit in %zu", e->name,
                     (unsigned long long)need, capacity);
  if ((st = read_range(r, e, first, count, dst))) return st;
  if (written_ret) *written_ret = (size_t)need;
  return ALCM_OK;
}

static alcm_status check_content(alcm_reader *r, const alcm_entry *e,
                                 const uint8_t got[16]) {
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  if (memcmp(got, e->content_hash, 16) != 0)
    return alcm_fail(&r->msg, ALCM_ERR_CHECKSUM, "entry '%s': content hash",
                     e->name);
#else
  (void)r, (void)e, (void)got;
#endif
  return ALCM_OK;
}

alcm_status alcm_reader_read(alcm_reader *r, size_t entry, void *dst,
                             size_t capacity) {
  const alcm_entry *e = NULL;
  alcm_status st = lookup(r, entry, &e);
  if (st) return st;
  if (e->raw_size > capacity || (e->raw_size && !dst))
    return alcm_fail(&r->msg, ALCM_ERR_ARGUMENT,
                     "entry '%s': %llu bytes do not fit in %zu", e->name,
                     (unsigned long long)e->raw_size, capacity);
  if ((st = alcm_reader_read_chunks(r, entry, 0, e->chunk_count, dst, capacity,
                                    NULL)))
    return st;
  uint8_t h[16];
  alcm_hash128(dst, (size_t)e->raw_size, h);
  return check_content(r, e, h);
}

/* ---- many entries at once ------------------------------------------------ */

/* alcm_reader_read_entries on the pool: phase 1 decodes every chunk of
 * the entries (tasks in entry, chunk order), phase 2 checks each entry's
 * content hash, one task per entry. A file of many small tensors, one
 * chunk each, thus decodes on all threads, which a read per entry cannot
 * do. Errors are those a read per entry in order would meet first. */
typedef struct {
  uint32_t k, j; /* entry first + k, its chunk j */
} many_task;

typedef struct {
  alcm_reader *r;
  const alcm_entry **e; /* [count] */
  uint8_t *const *dst;  /* [count] */
  const many_task *task;
  par_fail fail;
} par_many;

static void many_chunk(void *ctx, size_t i, unsigned worker) {
  par_many *const p = ctx;
  if (p->fail.st[worker]) return;
  const many_task *const t = &p->task[i];
  const alcm_entry *const e = p->e[t->k];
  const alcm_status st = read_chunk(&p->r->views[worker], e, t->j,
                                    p->dst[t->k] + (size_t)t->j * e->chunk_size);
  if (st) par_failed(&p->fail, worker, i, st);
}

static void many_content(void *ctx, size_t k, unsigned worker) {
  par_many *const p = ctx;
  if (p->fail.st[worker]) return;
  const alcm_entry *const e = p->e[k];
  uint8_t h[16];
  alcm_hash128(p->dst[k], (size_t)e->raw_size, h);
  const alcm_status st = check_content(&p->r->views[worker], e, h);
  if (st) par_failed(&p->fail, worker, k, st);
}

static alcm_status read_many(alcm_reader *r, const alcm_entry **e,
                             uint8_t *const *dst, size_t count) {
  size_t tasks = 0;
  for (size_t k = 0; k < count; k++) tasks += e[k]->chunk_count;
  alcm_status st = make_views(r);
  if (st) return st;
  par_many *const p = alcm_mem_calloc(&r->mem, 1, sizeof *p);
  many_task *const task = alcm_mem_alloc(&r->mem, (tasks + 1) * sizeof *task);
  if (!p || !task) {
    alcm_mem_free(&r->mem, p);
    alcm_mem_free(&r->mem, task);
    return alcm_fail(&r->msg, ALCM_ERR_NOMEM, "%zu chunk tasks", tasks);
  }
  size_t i = 0;
  for (size_t k = 0; k < count; k++)
    for (uint32_t j = 0; j < e[k]->chunk_count; j++)
      task[i++] = (many_task){(uint32_t)k, j};
  *p = (par_many){.r = r, .e = e, .dst = dst, .task = task};
  uint64_t bad = 0;
  const alcm_status chunks = par_run(r, tasks, many_chunk, p, &p->fail, &bad);
  /* Content hashes of the entries before the first failed chunk: one of
   * them failing is what a read per entry would have met first. */
  const size_t whole = chunks ? task[bad].k : count;
  const alcm_msg chunk_msg = r->msg;
  st = par_run(r, whole, many_content, p, &p->fail, &bad);
  if (!st && chunks) {
    st = chunks;
    r->msg = chunk_msg;
  }
  alcm_mem_free(&r->mem, task);
  alcm_mem_free(&r->mem, p);
  return st;
}

alcm_status alcm_reader_read_entries(alcm_reader *r, size_t first,
                                     size_t count, void *const *dst,
                                     const size_t *capacity) {
  if (need_open(r)) return r ? alcm_fail(&r->msg, ALCM_ERR_STATE, "reader not open")
                             : ALCM_ERR_ARGUMENT;
  if (count && (!dst || !capacity))
    return alcm_fail(&r->msg, ALCM_ERR_ARGUMENT, "no destinations");
  if (r->threads <= 1) { /* one after the other is all there is */
    for (size_t k = 0; k < count; k++) {
      const alcm_status st = alcm_reader_read(r, first + k, dst[k], capacity[k]);
      if (st) return st;
    }
    return ALCM_OK;
  }
  const alcm_entry **const e =
      alcm_mem_alloc(&r->mem, (count + 1) * sizeof *e);
  uint8_t **const d = alcm_mem_alloc(&r->mem, (count + 1) * sizeof *d);
  if (!e || !d) {
    alcm_mem_free(&r->mem, e);
    alcm_mem_free(&r->mem, d);
    return alcm_fail(&r->msg, ALCM_ERR_NOMEM, "%zu entries", count);
  }
  /* The entries that can be read, up to the first that cannot: its error
   * comes after theirs, as in a read per entry. */
  alcm_status late = ALCM_OK;
  alcm_msg late_msg;
  size_t n = 0;
  for (; n < count; n++) {
    late = lookup(r, first + n, &e[n]);
    d[n] = dst[n];
    if (!late && (e[n]->raw_size > capacity[n] || (e[n]->raw_size && !dst[n])))
      late = alcm_fail(&r->msg, ALCM_ERR_ARGUMENT,
                       "entry '%s': %llu bytes do not fit in %zu", e[n]->name,
                       (unsigned long long)e[n]->raw_size, capacity[n]);
    if (late) break;
  }
  late_msg = r->msg;
  alcm_msg_clear(&r->msg);
  alcm_status st = n ? read_many(r, e, d, n) : ALCM_OK;
  if (!st && late) {
    st = late;
    r->msg = late_msg;
  }
  alcm_mem_free(&r->mem, e);
  alcm_mem_free(&r->mem, d);
  return st;
}

/* Decodes every chunk of e in order, checking all checksums and the
 * content hash; no check of the encoding, so verify can use it on any
 * entry. */
static alcm_status stream_entry(alcm_reader *r, const alcm_entry *e,
                                int (*sink)(void *, const void *, size_t),
                                void *opaque) {
  /* One chunk at a time, or one per thread decoded side by side. */
  const uint32_t group = r->threads > 1 ? r->threads : 1;
  const uint32_t per = e->chunk_count >= group ? group
                       : e->chunk_count     ? e->chunk_count
                                            : 1;
  alcm_status st =
      (uint64_t)per * e->chunk_size > SIZE_MAX
          ? ALCM_ERR_LIMIT
          : grow(r, &r->raw, &r->raw_cap, (uint64_t)per * e->chunk_size);
  if (st) return alcm_fail(&r->msg, st, "entry '%s': chunk buffer", e->name);
  alcm_hash128_state *h = alcm_hash128_create(&r->mem);
  if (!h) return alcm_fail(&r->msg, ALCM_ERR_NOMEM, "hash state");
  for (uint32_t j = 0; j < e->chunk_count && !st; j += per) {
    const uint32_t k = e->chunk_count - j < per ? e->chunk_count - j : per;
    if ((st = read_range(r, e, j, k, r->raw))) break;
    for (uint32_t q = 0; q < k && !st; q++) {
      const uint8_t *const c = r->raw + (size_t)q * e->chunk_size;
      const size_t n = (size_t)chunk_raw_size(e, j + q);
      alcm_hash128_update(h, c, n);
      if (sink && sink(opaque, c, n) != 0)
        st = alcm_fail(&r->msg, ALCM_ERR_IO,
                       "entry '%s': chunk %u: output failed", e->name,
                       (unsigned)(j + q));
    }
  }
  uint8_t got[16];
  alcm_hash128_final(h, got);
  alcm_hash128_free(&r->mem, h);
  if (!st) st = check_content(r, e, got);
  return st;
}

static alcm_status stream_dequantized(alcm_reader *r, const alcm_entry *e,
                                      int (*sink)(void *, const void *,
                                                  size_t),
                                      void *opaque);

alcm_status alcm_reader_stream(alcm_reader *r, size_t entry,
                               int (*sink)(void *, const void *, size_t),
                               void *opaque) {
  const alcm_entry *e = NULL;
  alcm_status st = lookup_any(r, entry, &e);
  if (st) return st;
  if (e->encoding == ALCM_ENCODING_ADAPTIVE)
    return stream_dequantized(r, e, sink, opaque);
  return stream_entry(r, e, sink, opaque);
}

alcm_status alcm_reader_chunk(alcm_reader *r, size_t entry, uint32_t chunk,
                              alcm_chunk_info *info) {
  const alcm_entry *e = NULL;
  alcm_status st = lookup_any(r, entry, &e);
  if (st) return st;
  if (!info || chunk >= e->chunk_count)
    return alcm_fail(&r->msg, ALCM_ERR_ARGUMENT, "entry '%s': chunk %u of %u",
                     e->name, (unsigned)chunk, (unsigned)e->chunk_count);
  alcm_frame f; /* the header only: no payload is read */
  if ((st = load_frame(r, e, "chunk", chunk, e->chunks[chunk].frame_offset, 0,
                       &f)) ||
      (st = check_chunk_frame(r, e, chunk, &f)))
    return st;
  info->frame_offset = e->chunks[chunk].frame_offset;
  info->raw_offset = (uint64_t)chunk * e->chunk_size;
  info->raw_size = chunk_raw_size(e, chunk);
  info->frame_raw_size = f.raw_size;
  info->bundle_offset = e->bundle_offset;
  info->stored_size = e->chunks[chunk].stored_size;
  info->transform = f.transform;
  info->codec = f.codec;
  info->elem_size = f.elem_size;
  return ALCM_OK;
}

alcm_status alcm_reader_section_info(const alcm_reader *r, size_t entry,
                                     uint32_t k, alcm_section_info *info) {
  if (need_open(r)) return ALCM_ERR_STATE;
  if (!info || entry >= r->idx.entry_count ||
      k >= r->idx.entries[entry].section_count)
    return ALCM_ERR_ARGUMENT;
  const alcm_section_ref *s = &r->idx.entries[entry].sections[k];
  info->type = (int)s->type;
  info->frame_offset = s->frame_offset;
  info->stored_size = s->stored_size;
  return ALCM_OK;
}

size_t alcm_reader_source_count(const alcm_reader *r) {
  return need_open(r) ? 0 : r->idx.source_count;
}

alcm_status alcm_reader_source(const alcm_reader *r, size_t i,
                               alcm_source_info *info) {
  if (need_open(r)) return ALCM_ERR_STATE;
  if (!info || i >= r->idx.source_count) return ALCM_ERR_ARGUMENT;
  const alcm_source *s = &r->idx.sources[i];
  info->format = (int)s->format;
  info->path = s->path;
  info->restore = s->restore;
  info->restore_size = s->restore_size;
  return ALCM_OK;
}

size_t alcm_reader_meta_count(const alcm_reader *r) {
  return need_open(r) ? 0 : r->idx.meta_count;
}

alcm_status alcm_reader_meta(const alcm_reader *r, size_t i,
                             alcm_meta_info *info) {
  if (need_open(r)) return ALCM_ERR_STATE;
  if (!info || i >= r->idx.meta_count) return ALCM_ERR_ARGUMENT;
  const alcm_meta *m = &r->idx.meta[i];
  info->key = m->key;
  info->type = (int)m->type;
  info->value = m->value;
  info->size = m->size;
  return ALCM_OK;
}

alcm_status alcm_reader_find_meta(const alcm_reader *r, const char *key,
                                  alcm_meta_info *info) {
  if (need_open(r)) return ALCM_ERR_STATE;
  if (!key) return ALCM_ERR_ARGUMENT;
  for (size_t i = 0; i < r->idx.meta_count; i++)
    if (strcmp(r->idx.meta[i].key, key) == 0)
      return info ? alcm_reader_meta(r, i, info) : ALCM_OK;
  return ALCM_ERR_NOT_FOUND;
}

/* ---- verify ---------------------------------------------------------------- */

typedef struct {
  uint64_t start, end; /* frame header start, payload end */
  uint32_t entry, ref;
  bool section;
} extent;

static int cmp_extent(const void *x, const void *y) {
  const extent *a = x, *b = y;
  if (a->start != b->start) return a->start < b->start ? -1 : 1;
  return (a->end > b->end) - (a->end < b->end);
}

static alcm_status collect_extents(alcm_reader *r, extent **out, size_t *n) {
  size_t total = 0;
  for (uint32_t i = 0; i < r->idx.entry_count; i++)
    total += (size_t)r->idx.entries[i].chunk_count +
             r->idx.entries[i].section_count;
  extent *x = alcm_mem_calloc(&r->mem, total ? total : 1, sizeof *x);
  if (!x) return alcm_fail(&r->msg, ALCM_ERR_NOMEM, "verify: frame table");
  size_t k = 0;
  for (uint32_t i = 0; i < r->idx.entry_count; i++) {
    const alcm_entry *e = &r->idx.entries[i];
    for (uint32_t j = 0; j < e->chunk_count; j++, k++)
      x[k] = (extent){e->chunks[j].frame_offset,
                      e->chunks[j].frame_offset + ALCM_FRAME_HEADER_SIZE +
                          e->chunks[j].stored_size,
                      i, j, false};
    for (uint32_t j = 0; j < e->section_count; j++, k++)
      x[k] = (extent){e->sections[j].frame_offset,
                      e->sections[j].frame_offset + ALCM_FRAME_HEADER_SIZE +
                          e->sections[j].stored_size,
                      i, j, true};
  }
  qsort(x, total, sizeof *x, cmp_extent);
  *out = x;
  *n = total;
  return ALCM_OK;
}

static alcm_status check_gap(alcm_reader *r, uint64_t from, uint64_t to) {
  uint8_t buf[4096];
  while (from < to) {
    const size_t n = to - from < sizeof buf ? (size_t)(to - from) : sizeof buf;
    alcm_status st = alcm_infile_read(&r->file, from, buf, n, &r->msg);
    if (st) return st;
    for (size_t i = 0; i < n; i++)
      if (buf[i])
        return alcm_fail(&r->msg, ALCM_ERR_RESERVED,
                         "padding byte at offset %llu is 0x%02x, must be 0",
                         (unsigned long long)(from + i), buf[i]);
    from += n;
  }
  return ALCM_OK;
}

/* Frames must not overlap (refs to the very same frame are allowed), and
 * every byte between them must be zero padding. */
static alcm_status check_layout(alcm_reader *r, const extent *x, size_t n) {
  uint64_t pos = ALCM_HEADER_SIZE;
  for (size_t i = 0; i < n; i++) {
    if (i && x[i].start == x[i - 1].start && x[i].end == x[i - 1].end &&
        x[i].section == x[i - 1].section)
      continue;
    if (x[i].start < pos)
      return alcm_fail(&r->msg, ALCM_ERR_CORRUPT,
                       "entry '%s': frame at offset %llu overlaps the one "
                       "before it (ending at %llu)",
                       r->idx.entries[x[i].entry].name,
                       (unsigned long long)x[i].start,
                       (unsigned long long)pos);
    alcm_status st = check_gap(r, pos, x[i].start);
    if (st) return st;
    pos = x[i].end;
  }
  return check_gap(r, pos, r->footer.index_offset);
}

/* Section payload sizes (spec "Per-channel sections"). */
static uint64_t section_raw_size(const alcm_entry *e, unsigned type) {
  const uint64_t c = e->adaptive.channel_count;
  switch (type) {
  case ALCM_SECTION_ENTROPY_MAP:
  case ALCM_SECTION_SCALES:
  case ALCM_SECTION_ZERO_POINTS:
    return 4 * c;
  case ALCM_SECTION_BIT_WIDTHS:
    return c;
  case ALCM_SECTION_PRUNING_MASK: {
    uint64_t numel = 1; /* cannot overflow: the index checked the shape */
    for (unsigned k = 0; k < e->ndim; k++) numel *= e->shape[k];
    return numel / 8 + (numel % 8 != 0);
  }
  default: /* ALCM_SECTION_STATISTICS */
    return 24 * c;
  }
}

/* Section j of e: frame checked against its ref and the size rule; with
 * flags STORED_ONLY only its stored hash, else decoded into dst (or
 * r->raw when dst is NULL) and its raw hash checked. */
static alcm_status load_section(alcm_reader *r, const alcm_entry *e,
                                uint32_t j, unsigned flags, uint8_t *dst) {
  const alcm_section_ref *ref = &e->sections[j];
  alcm_frame f;
  alcm_status st = load_frame(r, e, "section", j, ref->frame_offset,
                              ref->stored_size, &f);
  if (st) return st;
  if (f.kind != ALCM_FRAME_KIND_SECTION || f.section_type != ref->type ||
      f.stored_size != ref->stored_size)
    return alcm_fail(&r->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': section %u at offset %llu does not match "
                     "the index",
                     e->name, (unsigned)j,
                     (unsigned long long)ref->frame_offset);
  if (!alcm_codec_by_id(&r->codecs, f.codec))
    return alcm_fail(&r->msg, ALCM_ERR_CODEC_UNKNOWN,
                     "entry '%s': section %u: codec %u", e->name, (unsigned)j,
                     f.codec);
  if (f.transform != ALCM_TRANSFORM_IDENTITY ||
      f.raw_size != section_raw_size(e, f.section_type))
    return alcm_fail(&r->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': section %u (type %u) at offset %llu: %llu "
                     "bytes with transform %u, expected %llu untransformed",
                     e->name, (unsigned)j, f.section_type,
                     (unsigned long long)ref->frame_offset,
                     (unsigned long long)f.raw_size, f.transform,
                     (unsigned long long)section_raw_size(e, f.section_type));
  if (f.raw_size > r->lim.max_chunk_raw)
    return alcm_fail(&r->msg, ALCM_ERR_LIMIT,
                     "entry '%s': section %u of %llu bytes", e->name,
                     (unsigned)j, (unsigned long long)f.raw_size);
  if ((st = check_stored(r, e, j, "section", ref->frame_offset, &f)))
    return st;
  if (flags & ALCM_VERIFY_STORED_ONLY) return ALCM_OK;
  if (!dst) {
    if ((st = grow(r, &r->raw, &r->raw_cap, f.raw_size)))
      return alcm_fail(&r->msg, st, "entry '%s': section %u", e->name,
                       (unsigned)j);
    dst = r->raw;
  }
  return decode_payload(r, e, j, "section", ref->frame_offset, &f, dst);
}

static alcm_status verify_section(alcm_reader *r, const alcm_entry *e,
                                  uint32_t j, unsigned flags) {
  return load_section(r, e, j, flags, NULL);
}

static alcm_status verify_entry(alcm_reader *r, size_t i, unsigned flags) {
  const alcm_entry *e = &r->idx.entries[i];
  alcm_status st = ALCM_OK;
  for (uint32_t j = 0; j < e->section_count && !st; j++)
    st = verify_section(r, e, j, flags);
  if (st) return st;
  if (!(flags & ALCM_VERIFY_STORED_ONLY)) {
    /* An adaptive entry must also decode: codes against bit widths and
     * mask, scales finite (spec "Adaptive entries"). */
    if (e->encoding == ALCM_ENCODING_ADAPTIVE)
      return stream_dequantized(r, e, NULL, NULL);
    return stream_entry(r, e, NULL, NULL);
  }
  for (uint32_t j = 0; j < e->chunk_count && !st; j++) {
    alcm_frame f;
    st = load_chunk(r, e, j, &f);
    if (!st) st = check_stored(r, e, j, "chunk", e->chunks[j].frame_offset, &f);
  }
  return st;
}

alcm_status alcm_reader_verify(alcm_reader *r, unsigned flags) {
  if (need_open(r)) return r ? alcm_fail(&r->msg, ALCM_ERR_STATE, "reader not open")
                             : ALCM_ERR_ARGUMENT;
  alcm_msg_clear(&r->msg);
  extent *x = NULL;
  size_t n = 0;
  alcm_status st = collect_extents(r, &x, &n);
  if (!st) st = check_layout(r, x, n);
  alcm_mem_free(&r->mem, x);
  if (flags & ALCM_VERIFY_LAYOUT_ONLY) return st;
  r->verifying = true;
  for (size_t i = 0; i < r->idx.entry_count && !st; i++)
    st = verify_entry(r, i, flags);
  r->verifying = false;
  return st;
}

void alcm_reader_close(alcm_reader *r) {
  if (!r) return;
  const alcm_mem mem = r->mem;
  alcm_infile_close(&r->file);
  alcm_index_free(&r->idx, &mem);
  alcm_mem_free(&mem, r->stored);
  alcm_mem_free(&mem, r->tmp);
  alcm_mem_free(&mem, r->raw);
  for (unsigned k = 0; k < BUNDLE_CACHE; k++)
    alcm_mem_free(&mem, r->bundle[k].buf);
  alcm_pool_destroy(r->pool, &mem);
  if (r->views)
    for (unsigned t = 0; t < r->threads; t++) {
      alcm_mem_free(&mem, r->views[t].stored);
      alcm_mem_free(&mem, r->views[t].tmp);
      for (unsigned k = 0; k < BUNDLE_CACHE; k++)
        alcm_mem_free(&mem, r->views[t].bundle[k].buf);
    }
  alcm_mem_free(&mem, r->views);
  alcm_mem_free(&mem, r);
}

const char *alcm_reader_message(const alcm_reader *r) {
  return r ? r->msg.text : "no reader";
}

/* ---- adaptive entries (format 1.2, spec "Adaptive entries") ------------- */

static bool find_section(const alcm_entry *e, unsigned type, uint32_t *j) {
  for (uint32_t k = 0; k < e->section_count; k++)
    if (e->sections[k].type == type) {
      *j = k;
      return true;
    }
  return false;
}

static float load_f32(const uint8_t *p) {
  const uint32_t u = alcm_le32(p);
  float v;
  memcpy(&v, &u, 4);
  return v;
}

/* What a decoder relies on in a section (spec "Per-channel sections"). */
static alcm_status check_section_content(alcm_reader *r, const alcm_entry *e,
                                         unsigned type, const uint8_t *p,
                                         size_t n) {
  if (type == ALCM_SECTION_BIT_WIDTHS) {
    for (size_t c = 0; c < n; c++)
      if (p[c] < 1 || p[c] > ALCM_ADAPTIVE_MAX_BITS)
        return alcm_fail(&r->msg, ALCM_ERR_CORRUPT,
                         "entry '%s': channel %zu: bit width %u (1..16)",
                         e->name, c, p[c]);
  } else if (type == ALCM_SECTION_SCALES) {
    for (size_t c = 0; c < n / 4; c++) {
      const float v = load_f32(p + 4 * c);
      if (!isfinite(v) || v < 0)
        return alcm_fail(&r->msg, ALCM_ERR_CORRUPT,
                         "entry '%s': channel %zu: scale %g", e->name, c,
                         (double)v);
    }
  } else if (type == ALCM_SECTION_PRUNING_MASK) {
    uint64_t numel = 1; /* the index checked the shape product */
    for (unsigned k = 0; k < e->ndim; k++) numel *= e->shape[k];
    const alcm_status st = alcm_mask_check(p, n, (size_t)numel, NULL, &r->msg);
    if (st) {
      alcm_msg_prefix(&r->msg, "entry '%s': pruning mask", e->name);
      return st;
    }
  }
  return ALCM_OK;
}

/* Section type of e, read and checked into a new buffer (*out, from
 * r->mem; NULL with ERR_NOT_FOUND if absent). */
static alcm_status read_section(alcm_reader *r, const alcm_entry *e,
                                unsigned type, uint8_t **out, size_t *size) {
  uint32_t j;
  *out = NULL;
  if (!find_section(e, type, &j)) return ALCM_ERR_NOT_FOUND;
  const uint64_t n = section_raw_size(e, type);
  if (n > r->lim.max_chunk_raw || n > SIZE_MAX)
    return alcm_fail(&r->msg, ALCM_ERR_LIMIT,
                     "entry '%s': section %u of %llu bytes", e->name, type,
                     (unsigned long long)n);
  uint8_t *buf = alcm_mem_alloc(&r->mem, (size_t)n);
  if (!buf)
    return alcm_fail(&r->msg, ALCM_ERR_NOMEM, "entry '%s': section %u",
                     e->name, type);
  alcm_status st = load_section(r, e, j, 0, buf);
  if (!st) st = check_section_content(r, e, type, buf, (size_t)n);
  if (st) {
    alcm_mem_free(&r->mem, buf);
    return st;
  }
  *out = buf;
  *size = (size_t)n;
  return ALCM_OK;
}

/* The code bytes of e, every chunk and the content hash checked. */
static alcm_status read_codes(alcm_reader *r, const alcm_entry *e,
                              uint8_t **out) {
  if (e->raw_size > SIZE_MAX)
    return alcm_fail(&r->msg, ALCM_ERR_LIMIT, "entry '%s': %llu code bytes",
                     e->name, (unsigned long long)e->raw_size);
  const size_t n = (size_t)e->raw_size;
  uint8_t *codes = alcm_mem_alloc(&r->mem, n);
  if (!codes)
    return alcm_fail(&r->msg, ALCM_ERR_NOMEM, "entry '%s': %zu code bytes",
                     e->name, n);
  alcm_status st = ALCM_OK;
  size_t at = 0;
  for (uint32_t j = 0; j < e->chunk_count && !st; j++) {
    st = read_chunk(r, e, j, codes + at);
    at += (size_t)chunk_raw_size(e, j);
  }
  if (!st) {
    uint8_t h[16];
    alcm_hash128(codes, n, h);
    st = check_content(r, e, h);
  }
  if (st) {
    alcm_mem_free(&r->mem, codes);
    return st;
  }
  *out = codes;
  return ALCM_OK;
}

/* spec "Adaptive entries": codes + scales + bit widths (+ mask) into
 * out_size bytes of e's dtype. */
static alcm_status dequantize(alcm_reader *r, const alcm_entry *e,
                              uint8_t *dst, size_t out_size) {
  uint8_t *sc = NULL, *bits = NULL, *mask = NULL, *codes = NULL;
  float *scales = NULL;
  size_t sc_size = 0, bits_size = 0, mask_size = 0;
  alcm_status st = read_section(r, e, ALCM_SECTION_SCALES, &sc, &sc_size);
  if (!st) st = read_section(r, e, ALCM_SECTION_BIT_WIDTHS, &bits, &bits_size);
  if (!st) {
    st = read_section(r, e, ALCM_SECTION_PRUNING_MASK, &mask, &mask_size);
    if (st == ALCM_ERR_NOT_FOUND) st = ALCM_OK; /* nothing pruned */
  }
  if (st == ALCM_ERR_NOT_FOUND) /* the index requires scales and widths */
    st = alcm_fail(&r->msg, ALCM_ERR_CORRUPT, "entry '%s': section missing",
                   e->name);
  if (!st && !(scales = alcm_mem_calloc(&r->mem, sc_size / 4 + 1, 4)))
    st = alcm_fail(&r->msg, ALCM_ERR_NOMEM, "entry '%s': scales", e->name);
  if (!st) {
    for (size_t c = 0; c < sc_size / 4; c++) scales[c] = load_f32(sc + 4 * c);
    st = read_codes(r, e, &codes);
  }
  if (!st) {
    st = alcm_adaptive_decode_layout(
        e->adaptive.code_layout, e->dtype, e->ndim, e->shape,
        e->adaptive.channel_axis, scales, bits, mask, mask_size, codes,
        (size_t)e->raw_size, dst, out_size, &r->msg);
    if (st) alcm_msg_prefix(&r->msg, "entry '%s'", e->name);
  }
  alcm_mem_free(&r->mem, sc);
  alcm_mem_free(&r->mem, scales);
  alcm_mem_free(&r->mem, bits);
  alcm_mem_free(&r->mem, mask);
  alcm_mem_free(&r->mem, codes);
  return st;
}

static alcm_status dequantized_size(alcm_reader *r, const alcm_entry *e,
                                    size_t *n) {
  uint64_t bytes = 0;
  if (alcm_shape_bytes(e->dtype, e->ndim, e->shape, &bytes) ||
      bytes > SIZE_MAX)
    return alcm_fail(&r->msg, ALCM_ERR_LIMIT, "entry '%s': %llu bytes",
                     e->name, (unsigned long long)bytes);
  *n = (size_t)bytes;
  return ALCM_OK;
}

/* The whole tensor is decoded first (decoding needs every channel's
 * codes), then handed to sink in pieces; sink NULL only checks. */
static alcm_status stream_dequantized(alcm_reader *r, const alcm_entry *e,
                                      int (*sink)(void *, const void *,
                                                  size_t),
                                      void *opaque) {
  size_t n = 0;
  alcm_status st = dequantized_size(r, e, &n);
  if (st) return st;
  uint8_t *buf = alcm_mem_alloc(&r->mem, n);
  if (!buf)
    return alcm_fail(&r->msg, ALCM_ERR_NOMEM,
                     "entry '%s': %zu bytes to dequantize", e->name, n);
  st = dequantize(r, e, buf, n);
  for (size_t at = 0; !st && sink && at < n; at += ALCM_IO_PIECE) {
    const size_t k = n - at < ALCM_IO_PIECE ? n - at : ALCM_IO_PIECE;
    if (sink(opaque, buf + at, k) != 0)
      st = alcm_fail(&r->msg, ALCM_ERR_IO, "entry '%s': output failed",
                     e->name);
  }
  alcm_mem_free(&r->mem, buf);
  return st;
}

alcm_status alcm_reader_read_dequantized(alcm_reader *r, size_t entry,
                                         void *dst, size_t capacity) {
  const alcm_entry *e = NULL;
  alcm_status st = lookup_any(r, entry, &e);
  if (st) return st;
  if (e->encoding != ALCM_ENCODING_ADAPTIVE)
    return alcm_reader_read(r, entry, dst, capacity);
  size_t n = 0;
  if ((st = dequantized_size(r, e, &n))) return st;
  if (n > capacity || (n && !dst))
    return alcm_fail(&r->msg, ALCM_ERR_ARGUMENT,
                     "entry '%s': %zu bytes do not fit in %zu", e->name, n,
                     capacity);
  return dequantize(r, e, dst, n);
}

alcm_status alcm_reader_section(alcm_reader *r, size_t entry, int type,
                                void *dst, size_t capacity,
                                size_t *size_ret) {
  const alcm_entry *e = NULL;
  alcm_status st = lookup_any(r, entry, &e);
  if (st) return st;
  if (e->encoding != ALCM_ENCODING_ADAPTIVE)
    return alcm_fail(&r->msg, ALCM_ERR_ARGUMENT,
                     "entry '%s': not adaptive, it has no sections", e->name);
  uint32_t j;
  if (type < 1 || type > (int)ALCM_SECTION_MAX ||
      !find_section(e, (unsigned)type, &j))
    return alcm_fail(&r->msg, ALCM_ERR_NOT_FOUND, "entry '%s': section %d",
                     e->name, type);
  const uint64_t n = section_raw_size(e, (unsigned)type);
  if (size_ret) *size_ret = (size_t)n;
  if (!dst) return ALCM_OK;
  if (n > capacity)
    return alcm_fail(&r->msg, ALCM_ERR_ARGUMENT,
                     "entry '%s': section %d of %llu bytes does not fit in "
                     "%zu",
                     e->name, type, (unsigned long long)n, capacity);
  if ((st = load_section(r, e, j, 0, dst))) return st;
  return check_section_content(r, e, (unsigned)type, dst, (size_t)n);
}

alcm_status alcm_reader_adaptive(alcm_reader *r, size_t entry,
                                 alcm_adaptive_info *info) {
  const alcm_entry *e = NULL;
  alcm_status st = lookup_any(r, entry, &e);
  if (st) return st;
  if (!info || e->encoding != ALCM_ENCODING_ADAPTIVE)
    return alcm_fail(&r->msg, ALCM_ERR_ARGUMENT, "entry '%s': not adaptive",
                     e->name);
  const alcm_adaptive_block *a = &e->adaptive;
  info->channel_axis = a->channel_axis;
  info->channel_count = a->channel_count;
  info->code_size = e->raw_size;
  info->max_abs_err = a->max_abs_err;
  info->rmse = a->rmse;
  info->snr_db = a->snr_db;
  info->pruned = a->pruned;
  info->cpu_seconds = a->cpu_seconds;
  info->caq = a->caq;
  return ALCM_OK;
}
