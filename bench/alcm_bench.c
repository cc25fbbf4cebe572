/*
 * alcm_bench.c - ALCM against zstd and zlib on safetensors files, plus the
 * order-0 entropy limits of the same bytes. One JSON object per line on
 * stdout per file and method; progress and errors on stderr.
 *
 *   alcm-bench [-r REPS] [-d SCRATCH_DIR] [-m METHODS] FILE.safetensors...
 *
 * Methods (-m, comma-separated; default all):
 *   alcm     the library's defaults, 1 thread: alcm_import_safetensors into
 *            a writer whose archive lives in SCRATCH_DIR (default /dev/shm,
 *            so disk speed does not count), then every entry read back
 *            into memory by one alcm_reader_read_entries call. The round trip is checked byte
 *            for byte against the input, and the archive's source record
 *            must rebuild the input file exactly; any difference is fatal.
 *   alcm2    the same with 2 writer and 2 reader threads; the archive
 *            must be byte-identical to the 1-thread one.
 *   engine   the library's chunk engine alone, in memory like the zstd
 *            rows: the writer's chunks (tensors cut in chunks of its
 *            default size, ALCM_CHUNK_SIZE_DEFAULT, those of up to 4 KiB
 *            bundled per dtype as it does), each through the
 *            planner (alcm_encode_chunk: transform, rans/zstd/store
 *            choice, raw and stored XXH3-64), then decoded as the reader
 *            does (codec, inverse transform, raw hash; the stored hash
 *            only if those fail) and compared. No files, index or
 *            content hash. Size: header bytes + payloads + 64-byte frame
 *            headers.
 *   engine2  the same on the library's worker pool of 2 threads (the
 *            calling thread and one more), chunks handed out largest
 *            first; every frame must equal the 1-thread one. With both,
 *            their runs alternate (one of each per repetition).
 *   zstd1, zstd3, zstd19, zlib6
 *            ZSTD_compressCCtx / compress2 on the whole file in memory.
 *   zstd1f, zstd1f2
 *            zstd -1 through files, the ALCM rows' footing, streamed as
 *            the zstd program does (ZSTD_compressStream2 in buffers of
 *            ZSTD_CStreamInSize/OutSize, reused): compress = read the
 *            file (a copy in SCRATCH_DIR), write a new file beside the
 *            target, fsync it, rename it into place and fsync the
 *            folder (what alcm_writer_finish does); decompress = read
 *            that file and decode it into memory (ZSTD_decompressStream).
 *            zstd1f2 sets ZSTD_c_nbWorkers = 2 (zstd's own threads; its
 *            decoder has none).
 *   limits   order-0 entropy limits, tables free, header bytes stored raw:
 *            per byte plane, per field (sign/exponent/mantissa) and of
 *            16-bit symbols, each stream coded on its own per tensor.
 *
 * Timing: single thread (except alcm2 and engine2), best of REPS (default 3) wall-clock
 * runs on CLOCK_MONOTONIC; cpu_s is the least process CPU time
 * (CLOCK_PROCESS_CPUTIME_ID) of the compress runs, all threads counted.
 * zstd -19 runs once: at ~3 MB/s best-of-3 would triple the whole
 * benchmark's time for a figure nobody disputes. Output buffers are
 * allocated and touched before the clock starts.
 *
 * ratio = file bytes / compressed bytes; MB/s = 1e6 file bytes per second;
 * caq = ratio / (cpu_s + 1) (DESIGN.md: CAQ with the encoding CPU time).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "alcm.h"
#include "internal.h" /* the chunk engine, for the engine row */

/* ---- small helpers ------------------------------------------------------ */

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("alcm-bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void *xmalloc(size_t n) {
  void *const p = malloc(n ? n : 1);
  if (!p) die("out of memory (%zu bytes)", n);
  /* Touch every page now so that page faults do not land in a timing. */
  memset(p, 0, n);
  return p;
}

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
  double wall, cpu;
} stamp;

static stamp now(void) {
  const stamp s = {clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_PROCESS_CPUTIME_ID)};
  return s;
}

/* Keep the least wall time and the least CPU time seen over the runs. */
static void keep_best(stamp *best, stamp start) {
  const stamp end = now();
  const double wall = end.wall - start.wall, cpu = end.cpu - start.cpu;
  if (wall < best->wall) best->wall = wall;
  if (cpu < best->cpu) best->cpu = cpu;
}

static const stamp NOT_RUN = {HUGE_VAL, HUGE_VAL};

static uint8_t *read_file(const char *path, size_t *size) {
  FILE *const f = fopen(path, "rb");
  if (!f) die("%s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || st.st_size < 0)
    die("%s: cannot stat", path);
  *size = (size_t)st.st_size;
  uint8_t *const buf = xmalloc(*size);
  if (fread(buf, 1, *size, f) != *size) die("%s: short read", path);
  fclose(f);
  return buf;
}

static void write_file(const char *path, const void *data, size_t size) {
  FILE *const f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
    die("%s: cannot write: %s", path, strerror(errno));
}

static uint64_t file_size(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) die("%s: %s", path, strerror(errno));
  return (uint64_t)st.st_size;
}

/* ---- the input: a safetensors file in memory ---------------------------- */

typedef struct {
  const char *name; /* owned by the JSON header */
  int dtype;
  size_t esize;
  size_t begin, end; /* absolute file offsets */
} tensor;

typedef struct {
  const char *path, *label, *dtype; /* dtype: the one with most bytes */
  uint8_t *data;
  size_t size, head; /* head: 8 + JSON header bytes */
  tensor *t;
  size_t count;
  json_t *json;
} input;

/* Our own corpus, but still checked: a wrong offset here would make the
 * round-trip comparison meaningless. */
static void parse_tensor(input *in, const char *key, json_t *v, tensor *t) {
  const char *dt = json_string_value(json_object_get(v, "dtype"));
  const json_t *off = json_object_get(v, "data_offsets");
  t->name = key;
  t->dtype = dt ? alcm_dtype_from_name(dt) : 0;
  t->esize = alcm_dtype_size(t->dtype);
  if (!t->esize || json_array_size(off) != 2)
    die("%s: tensor '%s': bad dtype or data_offsets", in->path, key);
  const json_int_t b = json_integer_value(json_array_get(off, 0));
  const json_int_t e = json_integer_value(json_array_get(off, 1));
  if (b < 0 || e < b || (uint64_t)e > in->size - in->head ||
      (size_t)(e - b) % t->esize != 0)
    die("%s: tensor '%s': data_offsets [%lld, %lld] out of range", in->path,
        key, (long long)b, (long long)e);
  t->begin = in->head + (size_t)b;
  t->end = in->head + (size_t)e;
}

static const char *main_dtype(const input *in) {
  size_t bytes[ALCM_DTYPE_MAX + 1] = {0};
  int best = 0;
  for (size_t i = 0; i < in->count; i++) {
    const int d = in->t[i].dtype;
    bytes[d] += in->t[i].end - in->t[i].begin;
    if (!best || bytes[d] > bytes[best]) best = d;
  }
  return best ? alcm_dtype_name(best) : "none";
}

/* "dir/name" from the last two components of the path. */
static const char *make_label(const char *path) {
  const char *p = path + strlen(path), *cut = path;
  int slashes = 0;
  while (p > path)
    if (*--p == '/' && ++slashes == 2) {
      cut = p + 1;
      break;
    }
  return cut;
}

static void load_input(input *in, const char *path) {
  memset(in, 0, sizeof *in);
  in->path = path;
  in->label = make_label(path);
  in->data = read_file(path, &in->size);
  if (in->size < 8) die("%s: too short for safetensors", path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | in->data[i];
  if (n > in->size - 8) die("%s: header length %llu too large", path,
                            (unsigned long long)n);
  in->head = 8 + (size_t)n;
  json_error_t err;
  in->json = json_loadb((const char *)in->data + 8, (size_t)n, 0, &err);
  if (!json_is_object(in->json)) die("%s: header: %s", path, err.text);
  in->t = xmalloc(json_object_size(in->json) * sizeof *in->t);
  const char *key;
  json_t *v;
  json_object_foreach(in->json, key, v) {
    if (strcmp(key, "__metadata__") != 0)
      parse_tensor(in, key, v, &in->t[in->count++]);
  }
  in->dtype = main_dtype(in);
}

static void free_input(input *in) {
  json_decref(in->json);
  free(in->t);
  free(in->data);
}

/* ---- results ------------------------------------------------------------ */

typedef struct {
  const char *method;
  double compressed;  /* bytes (fractional for limits) */
  stamp comp, decomp; /* NOT_RUN for limits */
  int runs;
  int identical; /* alcm2: archive equals the 1-thread one (-1: n/a) */
} result;

static json_t *num_or_null(double v) {
  return isfinite(v) ? json_real(v) : json_null();
}

static void emit(const input *in, const result *r) {
  const double mb = (double)in->size / 1e6;
  const double ratio = (double)in->size / r->compressed;
  const int timed = isfinite(r->comp.wall);
  json_t *const o = json_object();
  json_object_set_new(o, "file", json_string(in->label));
  json_object_set_new(o, "dtype", json_string(in->dtype));
  json_object_set_new(o, "method", json_string(r->method));
  json_object_set_new(o, "ratio", json_real(ratio));
  json_object_set_new(o, "compress_MBps",
                      num_or_null(timed ? mb / r->comp.wall : NAN));
  json_object_set_new(o, "decompress_MBps",
                      num_or_null(timed ? mb / r->decomp.wall : NAN));
  json_object_set_new(o, "cpu_s", num_or_null(timed ? r->comp.cpu : NAN));
  json_object_set_new(o, "caq",
                      num_or_null(timed ? ratio / (r->comp.cpu + 1) : NAN));
  json_object_set_new(o, "bytes", json_integer((json_int_t)in->size));
  json_object_set_new(o, "compressed_bytes", json_real(r->compressed));
  json_object_set_new(o, "compress_s", num_or_null(r->comp.wall));
  json_object_set_new(o, "decompress_s", num_or_null(r->decomp.wall));
  json_object_set_new(o, "runs", json_integer(r->runs));
  if (r->identical >= 0)
    json_object_set_new(o, "identical_to_1_thread", json_boolean(r->identical));
  char *const s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(8));
  if (!s) die("out of memory");
  puts(s);
  fflush(stdout);
  free(s);
  json_decref(o);
}

/* ---- ALCM --------------------------------------------------------------- */

static void pack(const char *src, const char *dst, const char *name,
                 unsigned threads) {
  alcm_write_options o;
  alcm_write_options_init(&o); /* the library's defaults, whatever they are */
  o.threads = threads;
  o.overwrite = 1;
  alcm_writer *const w = alcm_writer_create(&o);
  if (!w) die("alcm_writer_create: out of memory");
  alcm_status s = alcm_writer_open(w, dst);
  if (s == ALCM_OK) s = alcm_import_safetensors(w, src, name);
  if (s == ALCM_OK) s = alcm_writer_finish(w);
  if (s != ALCM_OK)
    die("pack %s (%u threads): %s: %s", src, threads, alcm_error_name(s),
        alcm_writer_message(w));
  alcm_writer_close(w);
}

static alcm_reader *open_archive(const char *path, unsigned threads) {
  alcm_read_options o;
  alcm_read_options_init(&o);
  o.threads = threads;
  alcm_reader *const r = alcm_reader_create(&o);
  if (!r) die("alcm_reader_create: out of memory");
  const alcm_status s = alcm_reader_open(r, path);
  if (s != ALCM_OK)
    die("open %s: %s: %s", path, alcm_error_name(s), alcm_reader_message(r));
  return r;
}

/* Decode every entry into out (entries one after the other), all in one
 * alcm_reader_read_entries call, as a program loading a model would. */
static void unpack(const char *path, uint8_t *out, size_t cap,
                   unsigned threads) {
  alcm_reader *const r = open_archive(path, threads);
  const size_t n = alcm_reader_entry_count(r);
  void **const dst = xmalloc((n + 1) * sizeof *dst);
  size_t *const room = xmalloc((n + 1) * sizeof *room);
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    alcm_entry_info e;
    alcm_status s = alcm_reader_entry(r, i, &e);
    if (s == ALCM_OK && e.raw_size > cap - at) s = ALCM_ERR_SIZE;
    if (s != ALCM_OK)
      die("entry %zu of %s: %s: %s", i, path, alcm_error_name(s),
          alcm_reader_message(r));
    dst[i] = out + at;
    room[i] = (size_t)e.raw_size;
    at += (size_t)e.raw_size;
  }
  const alcm_status s = alcm_reader_read_entries(r, 0, n, dst, room);
  if (s != ALCM_OK)
    die("read %s: %s: %s", path, alcm_error_name(s), alcm_reader_message(r));
  free(dst);
  free(room);
  alcm_reader_close(r);
}

static const tensor *find_tensor(const input *in, const char *name) {
  for (size_t i = 0; i < in->count; i++)
    if (strcmp(in->t[i].name, name) == 0) return &in->t[i];
  return NULL;
}

/* The decoded entries must be the input's tensors, byte for byte, and the
 * archive must rebuild the input file exactly. */
static void verify(const input *in, const char *archive, const uint8_t *out,
                   const char *rebuilt) {
  alcm_reader *const r = open_archive(archive, 1);
  const size_t n = alcm_reader_entry_count(r);
  if (n != in->count)
    die("%s: archive has %zu entries, the file %zu tensors", in->path, n,
        in->count);
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    alcm_entry_info e;
    if (alcm_reader_entry(r, i, &e) != ALCM_OK) die("%s: entry %zu", archive, i);
    const tensor *const t = find_tensor(in, e.name);
    if (!t) die("%s: entry '%s' is not in the input", in->path, e.name);
    const size_t len = t->end - t->begin;
    if (e.raw_size != len || memcmp(out + at, in->data + t->begin, len) != 0)
      die("ROUND TRIP MISMATCH: %s: tensor '%s'", in->path, e.name);
    at += len;
  }
  const alcm_status s = alcm_export_source(r, 0, rebuilt, 1);
  if (s != ALCM_OK)
    die("%s: export: %s: %s", archive, alcm_error_name(s),
        alcm_reader_message(r));
  alcm_reader_close(r);
  size_t size;
  uint8_t *const back = read_file(rebuilt, &size);
  if (size != in->size || memcmp(back, in->data, size) != 0)
    die("ROUND TRIP MISMATCH: %s: the rebuilt file differs", in->path);
  free(back);
  unlink(rebuilt);
}

static int same_file(const char *a, const char *b) {
  size_t na, nb;
  uint8_t *const x = read_file(a, &na), *const y = read_file(b, &nb);
  const int same = na == nb && memcmp(x, y, na) == 0;
  free(x);
  free(y);
  return same;
}

typedef struct {
  const char *dir;
  int reps;
} config;

static void scratch_path(char *buf, size_t cap, const config *c,
                         const char *what) {
  const int n = snprintf(buf, cap, "%s/alcm-bench-%ld-%s", c->dir,
                         (long)getpid(), what);
  if (n < 0 || (size_t)n >= cap) die("scratch path too long");
}

static result bench_alcm(const input *in, const config *c, unsigned threads) {
  char src[512], dst[512], ref[512], rebuilt[512];
  scratch_path(src, sizeof src, c, "in.safetensors");
  scratch_path(dst, sizeof dst, c, threads == 1 ? "1.alcm" : "n.alcm");
  scratch_path(ref, sizeof ref, c, "1.alcm");
  scratch_path(rebuilt, sizeof rebuilt, c, "rebuilt.safetensors");
  /* The importer reads a path: give it a copy in memory-backed storage. */
  write_file(src, in->data, in->size);
  const size_t cap = in->size - in->head;
  uint8_t *const out = xmalloc(cap);
  result r = {threads == 1 ? "alcm" : "alcm-2t", 0, NOT_RUN, NOT_RUN, c->reps,
              -1};
  for (int i = 0; i < c->reps; i++) {
    /* A new archive each time, as a user's first pack makes: replacing
     * the last one would time the freeing of its pages too. */
    unlink(dst);
    stamp t = now();
    pack(src, dst, make_label(in->path), threads);
    keep_best(&r.comp, t);
    t = now();
    unpack(dst, out, cap, threads);
    keep_best(&r.decomp, t);
  }
  r.compressed = (double)file_size(dst);
  verify(in, dst, out, rebuilt);
  if (threads != 1) {
    r.identical = access(ref, F_OK) == 0 ? same_file(ref, dst) : -1;
    unlink(dst);
  }
  unlink(src);
  free(out);
  return r;
}

static void remove_scratch(const config *c) {
  char p[512];
  scratch_path(p, sizeof p, c, "1.alcm");
  unlink(p);
}

/* ---- the chunk engine in memory ----------------------------------------- */

#define ENGINE_CHUNK ((size_t)ALCM_CHUNK_SIZE_DEFAULT) /* the writer's */

typedef struct {
  alcm_frame f;
  size_t at; /* the chunk's offset in image, store and back */
  size_t n;
  unsigned dtype;
  const uint8_t *raw;
} engine_chunk;

static const alcm_codec *engine_codec(unsigned id) {
  static const alcm_codec_set builtins; /* no extra codecs */
  const alcm_codec *const c = alcm_codec_by_id(&builtins, id);
  if (!c) die("engine: codec %u", id);
  return c;
}

/* The engine's work, shared by its pool tasks: chunk k is
 * image[ch[k].at ...], its payload goes to store + ch[k].at (the chunk's
 * own place: a payload is never larger than its raw bytes), and it decodes
 * to back + ch[k].at. */
typedef struct {
  const alcm_encode_policy *pol;
  engine_chunk *ch;
  const input *in;
  const uint8_t *image;   /* the chunks' bytes one after the other */
  uint8_t *store, *back;
  alcm_encode_buffers *b; /* per worker */
  uint8_t **tmp;          /* per worker */
  const size_t *order;    /* task i is chunk order[i] */
  int failed;             /* 1 + chunk index of a round-trip failure */
} engine_run;

static void engine_encode(void *ctx, size_t i, unsigned worker) {
  engine_run *const e = ctx;
  const size_t k = e->order[i];
  engine_chunk *const c = &e->ch[k];
  const uint8_t *payload;
  alcm_encode_chunk(e->pol, c->dtype, c->raw, c->n, &e->b[worker], &c->f,
                    &payload);
  memcpy(e->store + c->at, payload, (size_t)c->f.stored_size);
}

/* Decoded as the reader does: codec, inverse transform, raw hash; the
 * stored hash only if those fail (spec "Decoding a frame"). */
static void engine_decode(void *ctx, size_t i, unsigned worker) {
  engine_run *const e = ctx;
  const size_t k = e->order[i];
  const engine_chunk *const c = &e->ch[k];
  const alcm_frame *const f = &c->f;
  const size_t n = (size_t)f->raw_size;
  const uint8_t *const p = e->store + c->at;
  uint8_t *const dst = e->back + c->at, *const tmp = e->tmp[worker];
  const int split = f->transform != ALCM_TRANSFORM_IDENTITY;
  if (engine_codec(f->codec)->decompress(split ? tmp : dst, n, p,
                                         (size_t)f->stored_size) != 0) {
    if (alcm_hash64(p, (size_t)f->stored_size) == f->stored_hash)
      die("%s: engine: chunk %zu does not decode (stored hash fine)",
          e->in->path, k);
    e->failed = 1 + (int)k;
    return;
  }
  if (split) alcm_transform_inverse(f->transform, f->elem_size, dst, tmp, n);
  if (alcm_hash64(dst, n) != f->raw_hash) e->failed = 1 + (int)k;
}

static const engine_chunk *sort_chunks;

static int larger_first(const void *a, const void *b) {
  const size_t i = *(const size_t *)a, j = *(const size_t *)b;
  const size_t m = sort_chunks[i].n, n = sort_chunks[j].n;
  return m != n ? (m < n) - (m > n) : (i > j) - (i < j);
}

/* One encode and one decode of every chunk, timed into r: threads 1 a
 * plain loop on this thread in file order, else the pool (order: largest
 * chunks first). */
static void engine_rep(engine_run *e, size_t chunks, alcm_pool *pool,
                       const size_t *order, result *r) {
  e->order = order;
  stamp t = now();
  if (pool)
    alcm_pool_run(pool, chunks, engine_encode, e);
  else
    for (size_t k = 0; k < chunks; k++) engine_encode(e, k, 0);
  keep_best(&r->comp, t);
  t = now();
  if (pool)
    alcm_pool_run(pool, chunks, engine_decode, e);
  else
    for (size_t k = 0; k < chunks; k++) engine_decode(e, k, 0);
  keep_best(&r->decomp, t);
  if (e->failed)
    die("%s: engine: chunk %d: raw hash", e->in->path, e->failed - 1);
  if (memcmp(e->back, e->image, e->in->size - e->in->head) != 0)
    die("ROUND TRIP MISMATCH: %s: engine", e->in->path);
}

/* The engine rows: 1 thread (r1, if want1) and the library's pool of 2
 * threads, chunks handed out one at a time, largest first so that no
 * long chunk starts last and runs alone (r2, if want2). Their runs
 * alternate, so that both rows see the same host (a shared machine's
 * slow minutes would otherwise land on one row). The 2-thread frames
 * must equal the 1-thread ones. */
/* The writer's chunks (spec "Bundled"): tensors of 1..ALCM_BUNDLE_ENTRY_MAX
 * bytes go to a bundle per dtype of up to ALCM_BUNDLE_BYTES (one chunk,
 * closed when the next does not fit and at the end), the others are cut
 * in ENGINE_CHUNK pieces; their bytes are laid out in image one chunk
 * after the other (all the file's data bytes, rearranged: what the round
 * trip compares with). @return the chunk count. */
static size_t engine_layout(const input *in, uint8_t *image,
                            engine_chunk *ch) {
  const size_t cap = ALCM_BUNDLE_BYTES < ENGINE_CHUNK ? ALCM_BUNDLE_BYTES
                                                      : ENGINE_CHUNK;
  uint8_t *bundle[16] = {NULL};
  size_t used[16] = {0};
  size_t at = 0, k = 0;
#define ENGINE_PUT(src, len, dt)                                              \
  do {                                                                        \
    memcpy(image + at, (src), (len));                                         \
    ch[k++] = (engine_chunk){.at = at, .n = (len), .dtype = (dt),             \
                             .raw = image + at};                              \
    at += (len);                                                              \
  } while (0)
  for (size_t i = 0; i < in->count; i++) {
    const tensor *const x = &in->t[i];
    const size_t n = x->end - x->begin;
    const unsigned dt = (unsigned)x->dtype;
    if (n == 0 || n > ALCM_BUNDLE_ENTRY_MAX || dt >= 16) {
      for (size_t pos = x->begin; pos < x->end; pos += ENGINE_CHUNK)
        ENGINE_PUT(in->data + pos,
                   x->end - pos < ENGINE_CHUNK ? x->end - pos : ENGINE_CHUNK,
                   dt);
      continue;
    }
    if (used[dt] + n > cap) {
      ENGINE_PUT(bundle[dt], used[dt], dt);
      used[dt] = 0;
    }
    if (!bundle[dt]) bundle[dt] = xmalloc(cap);
    memcpy(bundle[dt] + used[dt], in->data + x->begin, n);
    used[dt] += n;
  }
  for (unsigned dt = 0; dt < 16; dt++) {
    if (used[dt]) ENGINE_PUT(bundle[dt], used[dt], dt);
    free(bundle[dt]);
  }
#undef ENGINE_PUT
  if (at != in->size - in->head) die("%s: engine layout", in->path);
  return k;
}

static void bench_engines(const input *in, const config *c, int want1,
                          int want2, result *r1, result *r2) {
  const alcm_encode_policy pol = {NULL, alcm_codec_zstd.level_default, -1};
  const size_t bound = alcm_encode_bound(&pol, ENGINE_CHUNK);
  alcm_encode_buffers b[2];
  uint8_t *tmp[2];
  for (unsigned t = 0; t < 2; t++) {
    b[t] = (alcm_encode_buffers){xmalloc(ENGINE_CHUNK), xmalloc(bound),
                                 xmalloc(bound), NULL};
    tmp[t] = xmalloc(ENGINE_CHUNK);
  }
  size_t chunks = 0; /* at most: a small tensor is at most one chunk */
  for (size_t i = 0; i < in->count; i++)
    chunks += (in->t[i].end - in->t[i].begin + ENGINE_CHUNK - 1) / ENGINE_CHUNK;
  engine_chunk *const ch = xmalloc(chunks * sizeof *ch + 1);
  uint8_t *const image = xmalloc(in->size - in->head + 1);
  chunks = engine_layout(in, image, ch);
  size_t *const in_order = xmalloc(chunks * sizeof *in_order + 1);
  size_t *const larger = xmalloc(chunks * sizeof *larger + 1);
  size_t k;
  for (k = 0; k < chunks; k++) in_order[k] = larger[k] = k;
  sort_chunks = ch;
  qsort(larger, chunks, sizeof *larger, larger_first);
  uint8_t *const store = xmalloc(in->size - in->head + 1);
  uint8_t *const back = xmalloc(in->size - in->head + 1);
  memset(store, 0, in->size - in->head + 1); /* touched before the clock */
  memset(back, 0, in->size - in->head + 1);
  alcm_pool *pool = NULL;
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  if (want2 && alcm_pool_create(&pool, &mem, 2) != ALCM_OK)
    die("engine: pool of 2 threads");
  engine_run e = {&pol, ch, in, image, store, back, b, tmp, in_order, 0};
  *r1 = (result){"engine", 0, NOT_RUN, NOT_RUN, c->reps, -1};
  *r2 = (result){"engine-2t", 0, NOT_RUN, NOT_RUN, c->reps, -1};
  alcm_frame *const ref = xmalloc(chunks * sizeof *ref + 1);
  for (k = 0; k < chunks; k++) engine_encode(&e, k, 0); /* the reference */
  for (k = 0; k < chunks; k++) ref[k] = ch[k].f;
  for (int rep = 0; rep < c->reps; rep++) {
    if (want1) engine_rep(&e, chunks, NULL, in_order, r1);
    if (want2) engine_rep(&e, chunks, pool, larger, r2);
  }
  size_t stored = 0;
  for (k = 0; k < chunks; k++) stored += (size_t)ch[k].f.stored_size;
  if (want2) { /* frame fields, hashes of the payloads among them */
    r2->identical = 1;
    for (k = 0; k < chunks; k++)
      if (memcmp(&ref[k], &ch[k].f, sizeof *ref) != 0) r2->identical = 0;
  }
  r1->compressed = r2->compressed = (double)in->head + (double)stored +
                                    (double)chunks * ALCM_FRAME_HEADER_SIZE;
  alcm_pool_destroy(pool, &mem);
  for (unsigned t = 0; t < 2; t++) {
    alcm_zstd_free_ctx(b[t].zstd);
    free(b[t].tmp);
    free(b[t].out);
    free(b[t].out2);
    free(tmp[t]);
  }
  free(ref);
  free(in_order);
  free(larger);
  free(ch);
  free(image);
  free(store);
  free(back);
}

/* ---- zstd and zlib ------------------------------------------------------ */

static result bench_zstd(const input *in, const config *c, int level,
                         const char *method) {
  const size_t cap = ZSTD_compressBound(in->size);
  uint8_t *const z = xmalloc(cap), *const back = xmalloc(in->size);
  ZSTD_CCtx *const cc = ZSTD_createCCtx();
  ZSTD_DCtx *const dc = ZSTD_createDCtx();
  if (!cc || !dc) die("zstd: out of memory");
  const int reps = level >= 19 ? 1 : c->reps;
  result r = {method, 0, NOT_RUN, NOT_RUN, reps, -1};
  size_t zn = 0;
  for (int i = 0; i < reps; i++) {
    const stamp t = now();
    zn = ZSTD_compressCCtx(cc, z, cap, in->data, in->size, level);
    keep_best(&r.comp, t);
    if (ZSTD_isError(zn)) die("%s: ZSTD_compress: %s", in->path,
                              ZSTD_getErrorName(zn));
  }
  for (int i = 0; i < c->reps; i++) {
    const stamp t = now();
    const size_t bn = ZSTD_decompressDCtx(dc, back, in->size, z, zn);
    keep_best(&r.decomp, t);
    if (bn != in->size || memcmp(back, in->data, in->size) != 0)
      die("ROUND TRIP MISMATCH: %s: zstd -%d", in->path, level);
  }
  r.compressed = (double)zn;
  ZSTD_freeCCtx(cc);
  ZSTD_freeDCtx(dc);
  free(z);
  free(back);
  return r;
}

static result bench_zlib(const input *in, const config *c, int level,
                         const char *method) {
  if ((uLong)in->size != in->size) die("%s: too large for zlib", in->path);
  const uLong cap = compressBound((uLong)in->size);
  uint8_t *const z = xmalloc(cap), *const back = xmalloc(in->size);
  result r = {method, 0, NOT_RUN, NOT_RUN, c->reps, -1};
  uLongf zn = 0;
  for (int i = 0; i < c->reps; i++) {
    zn = cap;
    const stamp t = now();
    const int e = compress2(z, &zn, in->data, (uLong)in->size, level);
    keep_best(&r.comp, t);
    if (e != Z_OK) die("%s: compress2: %d", in->path, e);
  }
  for (int i = 0; i < c->reps; i++) {
    uLongf bn = (uLongf)in->size;
    const stamp t = now();
    const int e = uncompress(back, &bn, z, zn);
    keep_best(&r.decomp, t);
    if (e != Z_OK || bn != in->size || memcmp(back, in->data, in->size) != 0)
      die("ROUND TRIP MISMATCH: %s: zlib -%d", in->path, level);
  }
  r.compressed = (double)zn;
  free(z);
  free(back);
  return r;
}

/* ---- zstd through files ------------------------------------------------- */

static void fsync_path(const char *path, int flags) {
  const int fd = open(path, flags);
  if (fd < 0 || fsync(fd) != 0 || close(fd) != 0)
    die("%s: fsync: %s", path, strerror(errno));
}

static void write_all_fd(int fd, const void *p, size_t n, const char *path) {
  for (size_t put = 0; put < n;) {
    const ssize_t w = write(fd, (const uint8_t *)p + put, n - put);
    if (w <= 0) die("%s: write: %s", path, strerror(errno));
    put += (size_t)w;
  }
}

/* Compress the file src into dst as the zstd program does: streaming, in
 * buffers of ZSTD_CStreamInSize / OutSize bytes reused throughout, into a
 * temporary file renamed into place once synced. @return its size. */
static size_t zstd_file(ZSTD_CCtx *cc, const char *src, const char *tmp,
                        const char *dst, const char *dir, uint8_t *ibuf,
                        size_t isz, uint8_t *obuf, size_t osz) {
  const int in = open(src, O_RDONLY);
  const int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (in < 0 || out < 0) die("%s: %s", in < 0 ? src : tmp, strerror(errno));
  size_t total = 0;
  for (;;) {
    const ssize_t n = read(in, ibuf, isz);
    if (n < 0) die("%s: read: %s", src, strerror(errno));
    const ZSTD_EndDirective mode = n == 0 ? ZSTD_e_end : ZSTD_e_continue;
    ZSTD_inBuffer ib = {ibuf, (size_t)n, 0};
    size_t left;
    do {
      ZSTD_outBuffer ob = {obuf, osz, 0};
      left = ZSTD_compressStream2(cc, &ob, &ib, mode);
      if (ZSTD_isError(left)) die("%s: %s", src, ZSTD_getErrorName(left));
      write_all_fd(out, obuf, ob.pos, tmp);
      total += ob.pos;
    } while (mode == ZSTD_e_end ? left != 0 : ib.pos < ib.size);
    if (n == 0) break;
  }
  if (fsync(out) != 0 || close(out) != 0 || close(in) != 0 ||
      rename(tmp, dst) != 0)
    die("%s: %s", dst, strerror(errno));
  fsync_path(dir, O_RDONLY | O_DIRECTORY);
  return total;
}

/* Decompress the file src into back (cap bytes), streaming from a reused
 * input buffer. @return the bytes decoded. */
static size_t unzstd_file(ZSTD_DCtx *dc, const char *src, uint8_t *back,
                          size_t cap, uint8_t *ibuf, size_t isz) {
  const int in = open(src, O_RDONLY);
  if (in < 0) die("%s: %s", src, strerror(errno));
  ZSTD_outBuffer ob = {back, cap, 0};
  for (;;) {
    const ssize_t n = read(in, ibuf, isz);
    if (n < 0) die("%s: read: %s", src, strerror(errno));
    if (n == 0) break;
    ZSTD_inBuffer ib = {ibuf, (size_t)n, 0};
    while (ib.pos < ib.size) {
      const size_t r = ZSTD_decompressStream(dc, &ob, &ib);
      if (ZSTD_isError(r)) die("%s: %s", src, ZSTD_getErrorName(r));
    }
  }
  close(in);
  return ob.pos;
}

static result bench_zstd_file(const input *in, const config *c, int workers,
                              const char *method) {
  char src[512], tmp[512], dst[512];
  scratch_path(src, sizeof src, c, "zin.safetensors");
  scratch_path(tmp, sizeof tmp, c, "z.tmp");
  scratch_path(dst, sizeof dst, c, "z.zst");
  write_file(src, in->data, in->size);
  ZSTD_CCtx *const cc = ZSTD_createCCtx();
  ZSTD_DCtx *const dc = ZSTD_createDCtx();
  if (!cc || !dc) die("zstd: out of memory");
  ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
  if (workers &&
      ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_nbWorkers, workers)))
    die("zstd: this libzstd has no threads");
  const size_t isz = ZSTD_CStreamInSize(), osz = ZSTD_CStreamOutSize();
  const size_t dsz = ZSTD_DStreamInSize();
  uint8_t *const ibuf = xmalloc(isz), *const obuf = xmalloc(osz);
  uint8_t *const dbuf = xmalloc(dsz);
  uint8_t *const back = xmalloc(in->size + 1);
  memset(back, 0, in->size + 1); /* touched before the clock, like ALCM's */
  result r = {method, 0, NOT_RUN, NOT_RUN, c->reps, -1};
  size_t zn = 0;
  for (int i = 0; i < c->reps; i++) {
    unlink(dst); /* a new file each time, as for ALCM */
    const stamp t = now();
    zn = zstd_file(cc, src, tmp, dst, c->dir, ibuf, isz, obuf, osz);
    keep_best(&r.comp, t);
  }
  for (int i = 0; i < c->reps; i++) {
    ZSTD_DCtx_reset(dc, ZSTD_reset_session_only);
    const stamp t = now();
    const size_t bn = unzstd_file(dc, dst, back, in->size, dbuf, dsz);
    keep_best(&r.decomp, t);
    if (bn != in->size || memcmp(back, in->data, in->size) != 0)
      die("ROUND TRIP MISMATCH: %s: %s", in->path, method);
  }
  r.compressed = (double)zn;
  unlink(dst);
  unlink(src);
  ZSTD_freeCCtx(cc);
  ZSTD_freeDCtx(dc);
  free(ibuf);
  free(obuf);
  free(dbuf);
  free(back);
  return r;
}

/* ---- order-0 limits ------------------------------------------------------ */

/* A symbol stream of one tensor: element i gives symbol
 * (element >> shift) & mask, where element is the little-endian value of
 * the i-th esize-byte element. */
typedef struct {
  unsigned shift;
  uint32_t mask;
} field;

enum { MAX_FIELDS = 8, HIST_SIZE = 1u << 16 };

typedef struct {
  field f[MAX_FIELDS];
  unsigned n;
} split;

static void add_field(split *s, unsigned shift, unsigned bits) {
  s->f[s->n].shift = shift;
  s->f[s->n].mask = bits >= 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
  s->n++;
}

static split byte_planes(size_t esize) {
  split s = {{{0, 0}}, 0};
  for (unsigned b = 0; b < esize && b < MAX_FIELDS; b++) add_field(&s, 8 * b, 8);
  return s;
}

/* Sign, exponent, mantissa. Fields up to 16 bits are one symbol each; the
 * 23-bit F32 mantissa cannot be histogrammed usefully per tensor, so it is
 * coded as its three byte planes (bits 0-7, 8-15, 16-22). */
static split field_split(int dtype) {
  split s = {{{0, 0}}, 0};
  switch (dtype) {
  case ALCM_DTYPE_BF16:
    add_field(&s, 15, 1), add_field(&s, 7, 8), add_field(&s, 0, 7);
    return s;
  case ALCM_DTYPE_F16:
    add_field(&s, 15, 1), add_field(&s, 10, 5), add_field(&s, 0, 10);
    return s;
  case ALCM_DTYPE_F32:
    add_field(&s, 31, 1), add_field(&s, 23, 8);
    add_field(&s, 16, 7), add_field(&s, 8, 8), add_field(&s, 0, 8);
    return s;
  default: /* integers, F64, ...: byte planes */
    return byte_planes(alcm_dtype_size(dtype));
  }
}

/* 16-bit symbols: the whole element for 2-byte dtypes; for 4-byte ones the
 * upper half (sign, exponent, top mantissa bits jointly) plus the lower two
 * bytes as byte planes. A 65536-entry free table over the lower half, which
 * is noise, would only count the tensor's own samples back (a tensor of n
 * elements never needs more than log2(n) bits a symbol), not a real limit.
 * Byte planes for other sizes. */
static split sym16_split(int dtype) {
  const size_t es = alcm_dtype_size(dtype);
  split s = {{{0, 0}}, 0};
  if (es == 2) {
    add_field(&s, 0, 16);
  } else if (es == 4) {
    add_field(&s, 16, 16), add_field(&s, 8, 8), add_field(&s, 0, 8);
  } else {
    s = byte_planes(es);
  }
  return s;
}

static uint32_t element(const uint8_t *p, size_t esize) {
  uint32_t v = 0;
  for (size_t b = esize < 4 ? esize : 4; b-- > 0;) v = v << 8 | p[b];
  return v;
}

/* Bits to code n symbols at their own order-0 entropy. */
static double entropy_bits(const uint32_t *hist, size_t nsym, size_t n) {
  double bits = n ? (double)n * log2((double)n) : 0;
  for (size_t i = 0; i < nsym; i++)
    if (hist[i]) bits -= (double)hist[i] * log2((double)hist[i]);
  return bits;
}

static double stream_bits(const tensor *t, const uint8_t *data, field f,
                          uint32_t *hist) {
  const size_t n = (t->end - t->begin) / t->esize;
  const size_t nsym = (size_t)f.mask + 1;
  memset(hist, 0, nsym * sizeof *hist);
  const uint8_t *p = data + t->begin;
  if (t->esize > 4) {
    /* 8-byte elements only ever use byte planes: shift names the byte. */
    for (size_t i = 0; i < n; i++, p += t->esize) hist[p[f.shift / 8]]++;
  } else {
    for (size_t i = 0; i < n; i++, p += t->esize)
      hist[(element(p, t->esize) >> f.shift) & f.mask]++;
  }
  return entropy_bits(hist, nsym, n);
}

static result limit(const input *in, const char *method,
                    split (*how)(int dtype), uint32_t *hist) {
  double bits = 8.0 * (double)in->head;
  for (size_t i = 0; i < in->count; i++) {
    const tensor *const t = &in->t[i];
    const split s = t->esize > 4 ? byte_planes(t->esize) : how(t->dtype);
    for (unsigned k = 0; k < s.n; k++)
      bits += stream_bits(t, in->data, s.f[k], hist);
  }
  const result r = {method, bits / 8, NOT_RUN, NOT_RUN, 0, -1};
  return r;
}

static split byte_planes_of(int dtype) {
  return byte_planes(alcm_dtype_size(dtype));
}

/* ---- driver -------------------------------------------------------------- */

static int wanted(const char *list, const char *m) {
  if (!list) return 1;
  const size_t n = strlen(m);
  for (const char *p = list; (p = strstr(p, m)) != NULL; p += n)
    if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
  return 0;
}

static void bench_file(const char *path, const config *c, const char *methods,
                       uint32_t *hist) {
  input in;
  load_input(&in, path);
  fprintf(stderr, "alcm-bench: %s (%zu bytes, %zu tensors, %s)\n", in.label,
          in.size, in.count, in.dtype);
  result r;
  if (wanted(methods, "alcm")) emit(&in, (r = bench_alcm(&in, c, 1), &r));
  if (wanted(methods, "alcm2")) emit(&in, (r = bench_alcm(&in, c, 2), &r));
  const int e1 = wanted(methods, "engine"), e2 = wanted(methods, "engine2");
  if (e1 || e2) {
    result r2;
    bench_engines(&in, c, e1, e2, &r, &r2);
    if (e1) emit(&in, &r);
    if (e2) emit(&in, &r2);
  }
  remove_scratch(c);
  if (wanted(methods, "zstd1")) emit(&in, (r = bench_zstd(&in, c, 1, "zstd-1"), &r));
  if (wanted(methods, "zstd1f"))
    emit(&in, (r = bench_zstd_file(&in, c, 0, "zstd-1-file"), &r));
  if (wanted(methods, "zstd1f2"))
    emit(&in, (r = bench_zstd_file(&in, c, 2, "zstd-1-file-2t"), &r));
  if (wanted(methods, "zstd3")) emit(&in, (r = bench_zstd(&in, c, 3, "zstd-3"), &r));
  if (wanted(methods, "zstd19"))
    emit(&in, (r = bench_zstd(&in, c, 19, "zstd-19"), &r));
  if (wanted(methods, "zlib6")) emit(&in, (r = bench_zlib(&in, c, 6, "zlib-6"), &r));
  if (wanted(methods, "limits")) {
    emit(&in, (r = limit(&in, "limit-byteplane", byte_planes_of, hist), &r));
    emit(&in, (r = limit(&in, "limit-field", field_split, hist), &r));
    emit(&in, (r = limit(&in, "limit-sym16", sym16_split, hist), &r));
  }
  free_input(&in);
}

static void usage(void) {
  fputs("usage: alcm-bench [-r REPS] [-d SCRATCH_DIR] [-m METHODS] "
        "FILE.safetensors...\n"
        "  METHODS: comma-separated subset of "
        "alcm,alcm2,engine,engine2,zstd1,zstd1f,zstd1f2,zstd3,zstd19,zlib6,\n"
        "  limits (default all)\n",
        stderr);
  exit(2);
}

int main(int argc, char **argv) {
  config c = {"/dev/shm", 3};
  const char *methods = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "r:d:m:h")) != -1) {
    switch (opt) {
    case 'r': c.reps = atoi(optarg); break;
    case 'd': c.dir = optarg; break;
    case 'm': methods = optarg; break;
    default: usage();
    }
  }
  if (optind >= argc || c.reps < 1 || c.reps > 100) usage();
  uint32_t *const hist = xmalloc(HIST_SIZE * sizeof *hist);
  for (int i = optind; i < argc; i++) bench_file(argv[i], &c, methods, hist);
  free(hist);
  return 0;
}
