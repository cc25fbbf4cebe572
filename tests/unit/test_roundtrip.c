/*
 * test_roundtrip.c - write, open, verify and read back, byte-exact:
 * every dtype x codec (store, zstd, zlib) x transform (auto, identity),
 * each archive holding tensors sized around the chunk boundaries
 * (0, 1 element, chunk - elem, chunk, chunk + elem, 5 chunks + 3 elements)
 * with 4096-byte chunks; then determinism (same input twice, 1 vs 2
 * threads), random access, blobs, many small tensors, short buffers.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define CHUNK 4096u

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Half compressible (small values), half noise, so codecs both pay and
 * fall back to store on different chunks. */
static uint8_t *make_bytes(uint64_t seed, int dtype, size_t n) {
  uint8_t *const p = malloc(n ? n : 1);
  cr_assert(p);
  for (size_t i = 0; i < n; i++) {
    const uint64_t r = rng_next(&seed);
    if (dtype == ALCM_DTYPE_BOOL)
      p[i] = (uint8_t)(r & 1);
    else
      p[i] = (i / 3000) % 2 ? (uint8_t)r : (uint8_t)(r % 5);
  }
  return p;
}

typedef struct {
  char dir[256];
  char path[300];
} tmp;

static void tmp_make(tmp *t, const char *file) {
  snprintf(t->dir, sizeof t->dir, "/tmp/alcm-rt-XXXXXX");
  cr_assert(mkdtemp(t->dir), "mkdtemp");
  snprintf(t->path, sizeof t->path, "%s/%s", t->dir, file);
}

/* Remove everything in the scratch folder, then the folder. */
static void tmp_drop(const tmp *t) {
  DIR *const d = opendir(t->dir);
  if (d) {
    const struct dirent *e;
    char p[600];
    while ((e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      snprintf(p, sizeof p, "%s/%s", t->dir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(t->dir);
}

static alcm_writer *writer_at(const char *path, const char *codec,
                              int transform, unsigned threads) {
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.codec = codec;
  o.transform = transform;
  o.chunk_size = CHUNK;
  o.threads = threads;
  alcm_writer *const w = alcm_writer_create(&o);
  cr_assert(w);
  cr_assert_eq(alcm_writer_open(w, path), ALCM_OK, "open %s: %s", path,
               alcm_writer_message(w));
  return w;
}

static void finish(alcm_writer *w) {
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "finish: %s",
               alcm_writer_message(w));
  alcm_writer_close(w);
}

static alcm_reader *reader_at(const char *path) {
  alcm_reader *const r = alcm_reader_create(NULL);
  cr_assert(r);
  cr_assert_eq(alcm_reader_open(r, path), ALCM_OK, "open %s: %s", path,
               alcm_reader_message(r));
  cr_assert_eq(alcm_reader_verify(r, 0), ALCM_OK, "verify %s: %s", path,
               alcm_reader_message(r));
  return r;
}

static uint8_t *load(const char *path, size_t *n) {
  FILE *const f = fopen(path, "rb");
  cr_assert(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  const long len = ftell(f);
  rewind(f);
  uint8_t *const p = malloc((size_t)len + 1);
  cr_assert(p);
  cr_assert_eq(fread(p, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return p;
}

typedef struct {
  uint8_t *p;
  size_t n, cap;
} acc;

static int sink(void *opaque, const void *data, size_t size) {
  acc *const a = opaque;
  if (a->n + size > a->cap) return 1;
  memcpy(a->p + a->n, data, size);
  a->n += size;
  return 0;
}

/* Read entry i every way the API offers and compare with want. */
static void check_reads(alcm_reader *r, size_t i, const uint8_t *want,
                        size_t n, const char *what) {
  alcm_entry_info info;
  cr_assert_eq(alcm_reader_entry(r, i, &info), ALCM_OK);
  cr_assert_eq(info.raw_size, n, "%s: raw_size %llu, want %zu", what,
               (unsigned long long)info.raw_size, n);
  const uint32_t chunks = (uint32_t)((n + CHUNK - 1) / CHUNK);
  cr_assert_eq(info.chunk_count, chunks, "%s: %u chunks, want %u", what,
               info.chunk_count, chunks);
  uint8_t h[16];
  alcm_hash128(want, n, h);
  cr_assert_arr_eq(info.content_hash, h, 16, "%s: content hash", what);

  uint8_t *const buf = malloc(n + 1);
  cr_assert(buf);
  cr_assert_eq(alcm_reader_read(r, i, buf, n), ALCM_OK, "%s: read: %s", what,
               alcm_reader_message(r));
  cr_assert(n == 0 || memcmp(buf, want, n) == 0, "%s: read differs", what);

  size_t got = 0;
  memset(buf, 0, n);
  cr_assert_eq(alcm_reader_read_chunks(r, i, 0, chunks, buf, n, &got),
               ALCM_OK, "%s: read_chunks all: %s", what,
               alcm_reader_message(r));
  cr_assert_eq(got, n);
  cr_assert(n == 0 || memcmp(buf, want, n) == 0, "%s: read_chunks differs",
            what);

  /* Random access: each chunk alone equals its slice, last one first. */
  for (uint32_t k = chunks; k-- > 0;) {
    alcm_chunk_info ci;
    cr_assert_eq(alcm_reader_chunk(r, i, k, &ci), ALCM_OK);
    const size_t off = (size_t)k * CHUNK;
    const size_t len = n - off < CHUNK ? n - off : CHUNK;
    cr_assert_eq(ci.raw_offset, off, "%s: chunk %u raw_offset", what, k);
    cr_assert_eq(ci.raw_size, len, "%s: chunk %u raw_size", what, k);
    cr_assert_eq(alcm_reader_read_chunks(r, i, k, 1, buf, len, &got), ALCM_OK,
                 "%s: chunk %u: %s", what, k, alcm_reader_message(r));
    cr_assert_eq(got, len);
    cr_assert(memcmp(buf, want + off, len) == 0, "%s: chunk %u differs",
              what, k);
  }
  if (chunks >= 3) { /* a range in the middle */
    const size_t off = CHUNK, len = (size_t)(chunks - 2) * CHUNK;
    cr_assert_eq(alcm_reader_read_chunks(r, i, 1, chunks - 2, buf, len, &got),
                 ALCM_OK, "%s: chunks 1..%u: %s", what, chunks - 2,
                 alcm_reader_message(r));
    cr_assert_eq(got, len);
    cr_assert(memcmp(buf, want + off, len) == 0, "%s: middle range", what);
  }

  acc a = {buf, 0, n};
  cr_assert_eq(alcm_reader_stream(r, i, sink, &a), ALCM_OK, "%s: stream: %s",
               what, alcm_reader_message(r));
  cr_assert_eq(a.n, n);
  cr_assert(n == 0 || memcmp(buf, want, n) == 0, "%s: stream differs", what);
  free(buf);
}

/* ---- the matrix --------------------------------------------------------- */

/* "auto" picks per chunk among rans (after the transform) and zstd (on the
 * raw bytes); its frames are checked against that rule below. */
#define N_CODECS 5
static const char *const CODECS[N_CODECS] = {"store", "zstd", "zlib", "rans",
                                             "auto"};
static const unsigned CODEC_IDS[N_CODECS] = {
    ALCM_CODEC_ID_STORE, ALCM_CODEC_ID_ZSTD, ALCM_CODEC_ID_ZLIB,
    ALCM_CODEC_ID_RANS, ALCM_CODEC_ID_RANS};
static const int TRANSFORMS[] = {-1, ALCM_TRANSFORM_IDENTITY};

typedef struct {
  int dtype, codec, transform; /* indices into the tables above */
} rt_param;

static void free_params(struct criterion_test_params *p) { cr_free(p->params); }

ParameterizedTestParameters(roundtrip, matrix) {
  const size_t n = ALCM_DTYPE_MAX * N_CODECS * 2;
  rt_param *const p = cr_malloc(sizeof *p * n);
  size_t k = 0;
  for (int d = 1; d <= ALCM_DTYPE_MAX; d++)
    for (int c = 0; c < N_CODECS; c++)
      for (int t = 0; t < 2; t++) p[k++] = (rt_param){d, c, t};
  return cr_make_param_array(rt_param, p, n, free_params);
}

ParameterizedTest(rt_param *p, roundtrip, matrix) {
  const size_t es = alcm_dtype_size(p->dtype);
  const size_t sizes[6] = {0, es, CHUNK - es, CHUNK, CHUNK + es,
                           5 * CHUNK + 3 * es};
  char what[128];
  tmp t;
  tmp_make(&t, "m.alcm");
  alcm_writer *const w =
      writer_at(t.path, CODECS[p->codec], TRANSFORMS[p->transform], 1);
  uint8_t *data[6];
  for (int s = 0; s < 6; s++) {
    char name[16];
    snprintf(name, sizeof name, "s%d", s);
    data[s] = make_bytes((uint64_t)(p->dtype * 100 + s), p->dtype, sizes[s]);
    const uint64_t shape[1] = {sizes[s] / es};
    cr_assert_eq(alcm_writer_add_tensor(w, name, p->dtype, 1, shape, data[s],
                                        sizes[s]),
                 ALCM_OK, "add %s: %s", name, alcm_writer_message(w));
  }
  finish(w);

  alcm_reader *const r = reader_at(t.path);
  cr_assert_eq(alcm_reader_entry_count(r), 6);
  for (int s = 0; s < 6; s++) {
    snprintf(what, sizeof what, "%s/%s/%s size %zu",
             alcm_dtype_name(p->dtype), CODECS[p->codec],
             p->transform ? "identity" : "auto", sizes[s]);
    char name[16];
    snprintf(name, sizeof name, "s%d", s);
    size_t i;
    cr_assert_eq(alcm_reader_find(r, name, &i), ALCM_OK);
    alcm_entry_info info;
    cr_assert_eq(alcm_reader_entry(r, i, &info), ALCM_OK);
    cr_assert_eq(info.dtype, p->dtype);
    cr_assert_eq(info.ndim, 1);
    cr_assert_eq(info.shape[0], sizes[s] / es);
    cr_assert_eq(info.chunk_size, CHUNK);
    check_reads(r, i, data[s], sizes[s], what);
    /* Frames name what they did: a chunk is either the requested codec
     * (with byte grouping when auto and multi-byte) or stored as is. */
    for (uint32_t k = 0; k < info.chunk_count; k++) {
      alcm_chunk_info ci;
      cr_assert_eq(alcm_reader_chunk(r, i, k, &ci), ALCM_OK);
      /* a bundled entry's frame holds its bundle (spec "Bundled") */
      cr_assert_geq(ci.frame_raw_size, ci.bundle_offset + ci.raw_size, "%s",
                    what);
      if (ci.codec == ALCM_CODEC_ID_STORE) {
        cr_assert_eq(ci.transform, ALCM_TRANSFORM_IDENTITY, "%s", what);
        cr_assert_eq(ci.stored_size, ci.frame_raw_size, "%s", what);
        continue;
      }
      cr_assert_lt(ci.stored_size, ci.frame_raw_size, "%s", what);
      if (strcmp(CODECS[p->codec], "auto") == 0 &&
          ci.codec == ALCM_CODEC_ID_ZSTD) {
        /* zstd wins on the raw, untransformed bytes */
        cr_assert_eq(ci.transform, ALCM_TRANSFORM_IDENTITY, "%s", what);
        continue;
      }
      cr_assert_eq(ci.codec, CODEC_IDS[p->codec], "%s: chunk %u codec %u",
                   what, k, ci.codec);
      const int automatic = TRANSFORMS[p->transform] < 0 && es > 1;
      unsigned want = automatic ? ALCM_TRANSFORM_BYTE_GROUP
                                : ALCM_TRANSFORM_IDENTITY;
      if (automatic && p->dtype == ALCM_DTYPE_BF16)
        want = ALCM_TRANSFORM_SPLIT_BF16;
      if (automatic && p->dtype == ALCM_DTYPE_F32)
        want = ALCM_TRANSFORM_SPLIT_F32;
      cr_assert_eq(ci.transform, want, "%s: chunk %u transform %u", what, k,
                   ci.transform);
      cr_assert_eq(ci.elem_size, automatic ? es : 1, "%s", what);
    }
    free(data[s]);
  }
  alcm_reader_close(r);
  tmp_drop(&t);
}

/* ---- determinism -------------------------------------------------------- */

static void write_sample(const char *path, unsigned threads) {
  alcm_writer *const w = writer_at(path, "zstd", -1, threads);
  for (int k = 0; k < 6; k++) {
    char name[16];
    snprintf(name, sizeof name, "t%d", k);
    const int dt = k % 2 ? ALCM_DTYPE_F32 : ALCM_DTYPE_BF16;
    const size_t n = (size_t)(k + 1) * 3000 * alcm_dtype_size(dt);
    uint8_t *const d = make_bytes((uint64_t)k, dt, n);
    const uint64_t shape[1] = {n / alcm_dtype_size(dt)};
    cr_assert_eq(alcm_writer_add_tensor(w, name, dt, 1, shape, d, n), ALCM_OK);
    free(d);
  }
  cr_assert_eq(alcm_writer_begin_blob(w, "notes/readme.txt"), ALCM_OK);
  cr_assert_eq(alcm_writer_write(w, "hello", 5), ALCM_OK);
  cr_assert_eq(alcm_writer_end(w), ALCM_OK);
  cr_assert_eq(alcm_writer_set_meta_string(w, "user.k", "v"), ALCM_OK);
  finish(w);
}

static void assert_same_file(const char *a, const char *b) {
  size_t na, nb;
  uint8_t *const pa = load(a, &na);
  uint8_t *const pb = load(b, &nb);
  cr_assert_eq(na, nb, "%s is %zu bytes, %s is %zu", a, na, b, nb);
  cr_assert(memcmp(pa, pb, na) == 0, "%s and %s differ", a, b);
  free(pa);
  free(pb);
}

Test(roundtrip, deterministic_across_runs_and_threads) {
  tmp t;
  tmp_make(&t, "a.alcm");
  char b[320], c[320], d[320];
  snprintf(b, sizeof b, "%s/b.alcm", t.dir);
  snprintf(c, sizeof c, "%s/c.alcm", t.dir);
  snprintf(d, sizeof d, "%s/d.alcm", t.dir);
  write_sample(t.path, 1);
  write_sample(b, 1);
  write_sample(c, 2);
  write_sample(d, 4);
  assert_same_file(t.path, b);
  assert_same_file(t.path, c);
  assert_same_file(t.path, d);
  alcm_reader_close(reader_at(c));
  tmp_drop(&t);
}

/* 150 tensors, most far smaller than a chunk (they pack up to 64 per
 * batch), every tenth several chunks long, in auto mode: the writer's two
 * batches and its packing give the same bytes for 1, 2 and 3 threads, and
 * a reader with 3 threads reads every tensor back. */
static void write_many(const char *path, unsigned threads,
                       uint8_t *const *data, const size_t *sizes) {
  alcm_writer *const w = writer_at(path, "auto", -1, threads);
  for (int k = 0; k < 150; k++) {
    char name[16];
    snprintf(name, sizeof name, "m%03d", k);
    const uint64_t shape[1] = {sizes[k] / 2};
    cr_assert_eq(alcm_writer_add_tensor(w, name, ALCM_DTYPE_BF16, 1, shape,
                                        data[k], sizes[k]),
                 ALCM_OK, "%s", alcm_writer_message(w));
  }
  finish(w);
}

/* The 150 tensors: every tenth 3 chunks and a bit, the rest < 6 KiB. */
static void make_many(uint64_t seed, uint8_t **data, size_t *sizes) {
  for (int k = 0; k < 150; k++) {
    sizes[k] = k % 10 == 9 ? 3 * CHUNK + 2 * (size_t)k : 2 + 38 * (size_t)k;
    data[k] = make_bytes(seed + (uint64_t)k, ALCM_DTYPE_BF16, sizes[k]);
  }
}

#define MANY_MAX (3 * CHUNK + 300) /* bytes of the largest */

/* Tensor k read by name into back (MANY_MAX bytes) equals data[k]. */
static void check_one(alcm_reader *r, int k, uint8_t *const *data,
                      const size_t *sizes, uint8_t *back) {
  char name[16];
  snprintf(name, sizeof name, "m%03d", k);
  size_t i;
  cr_assert_eq(alcm_reader_find(r, name, &i), ALCM_OK);
  cr_assert_eq(alcm_reader_read(r, i, back, MANY_MAX), ALCM_OK, "%s: %s",
               name, alcm_reader_message(r));
  cr_assert(memcmp(back, data[k], sizes[k]) == 0, "%s", name);
}

Test(roundtrip, many_small_tensors_deterministic) {
  uint8_t *data[150];
  size_t sizes[150];
  make_many(100, data, sizes);
  tmp t;
  tmp_make(&t, "m1.alcm");
  char b[320], c[320];
  snprintf(b, sizeof b, "%s/m2.alcm", t.dir);
  snprintf(c, sizeof c, "%s/m3.alcm", t.dir);
  write_many(t.path, 1, data, sizes);
  write_many(b, 2, data, sizes);
  write_many(c, 3, data, sizes);
  assert_same_file(t.path, b);
  assert_same_file(t.path, c);
  alcm_read_options o;
  alcm_read_options_init(&o);
  o.threads = 3;
  alcm_reader *const r = alcm_reader_create(&o);
  cr_assert(r);
  cr_assert_eq(alcm_reader_open(r, c), ALCM_OK);
  cr_assert_eq(alcm_reader_entry_count(r), 150);
  uint8_t *const back = malloc(MANY_MAX);
  for (int k = 0; k < 150; k++) {
    check_one(r, k, data, sizes, back);
    free(data[k]);
  }
  free(back);
  alcm_reader_close(r);
  tmp_drop(&t);
}

/* Tensors read backwards and skipping about come back whole (each read
 * finds its own frames; no state carries over from the previous read). */
Test(roundtrip, many_small_tensors_any_order) {
  uint8_t *data[150];
  size_t sizes[150];
  make_many(200, data, sizes);
  tmp t;
  tmp_make(&t, "order.alcm");
  write_many(t.path, 1, data, sizes);
  alcm_reader *const r = reader_at(t.path);
  uint8_t *const back = malloc(MANY_MAX);
  for (int pass = 0; pass < 2; pass++)
    for (int q = 0; q < 150; q++)
      check_one(r, pass ? (q * 37) % 150 : 149 - q, data, sizes, back);
  for (int k = 0; k < 150; k++) free(data[k]);
  free(back);
  alcm_reader_close(r);
  tmp_drop(&t);
}

/* ---- blobs, many tensors, short buffers --------------------------------- */

Test(roundtrip, blob) {
  tmp t;
  tmp_make(&t, "b.alcm");
  const size_t n = 2 * CHUNK + 123;
  uint8_t *const d = make_bytes(7, ALCM_DTYPE_U8, n);
  alcm_writer *const w = writer_at(t.path, "zstd", -1, 1);
  cr_assert_eq(alcm_writer_begin_blob(w, "tokenizer/vocab.bin"), ALCM_OK,
               "%s", alcm_writer_message(w));
  /* Written in uneven pieces that straddle chunk boundaries. */
  for (size_t off = 0; off < n;) {
    const size_t piece = n - off < 1000 ? n - off : 1000;
    cr_assert_eq(alcm_writer_write(w, d + off, piece), ALCM_OK);
    off += piece;
  }
  cr_assert_eq(alcm_writer_end(w), ALCM_OK, "%s", alcm_writer_message(w));
  cr_assert_eq(alcm_writer_begin_blob(w, "empty.txt"), ALCM_OK);
  cr_assert_eq(alcm_writer_end(w), ALCM_OK, "%s", alcm_writer_message(w));
  finish(w);

  alcm_reader *const r = reader_at(t.path);
  size_t i;
  cr_assert_eq(alcm_reader_find(r, "tokenizer/vocab.bin", &i), ALCM_OK);
  alcm_entry_info info;
  cr_assert_eq(alcm_reader_entry(r, i, &info), ALCM_OK);
  cr_assert_eq(info.kind, ALCM_ENTRY_BLOB);
  cr_assert_eq(info.dtype, 0);
  cr_assert_eq(info.ndim, 0);
  check_reads(r, i, d, n, "blob");
  cr_assert_eq(alcm_reader_find(r, "empty.txt", &i), ALCM_OK);
  check_reads(r, i, d, 0, "empty blob");
  alcm_reader_close(r);
  free(d);
  tmp_drop(&t);
}

Test(roundtrip, two_hundred_small_tensors) {
  tmp t;
  tmp_make(&t, "many.alcm");
  enum { N = 200 };
  uint8_t *data[N];
  size_t size[N];
  alcm_writer *const w = writer_at(t.path, "zstd", -1, 2);
  for (int k = 0; k < N; k++) {
    const int dt = 1 + k % ALCM_DTYPE_MAX;
    const uint64_t shape[2] = {(uint64_t)(k % 7 + 1), 3};
    size[k] = (size_t)(shape[0] * shape[1]) * alcm_dtype_size(dt);
    data[k] = make_bytes((uint64_t)k, dt, size[k]);
    char name[32];
    snprintf(name, sizeof name, "model.layers.%d.w", k);
    cr_assert_eq(alcm_writer_add_tensor(w, name, dt, 2, shape, data[k],
                                        size[k]),
                 ALCM_OK, "%s: %s", name, alcm_writer_message(w));
  }
  finish(w);
  alcm_reader *const r = reader_at(t.path);
  cr_assert_eq(alcm_reader_entry_count(r), N);
  for (int k = N; k-- > 0;) {
    char name[32];
    snprintf(name, sizeof name, "model.layers.%d.w", k);
    size_t i;
    cr_assert_eq(alcm_reader_find(r, name, &i), ALCM_OK, "find %s", name);
    check_reads(r, i, data[k], size[k], name);
    free(data[k]);
  }
  alcm_reader_close(r);
  tmp_drop(&t);
}

Test(roundtrip, short_buffer_is_an_argument_error) {
  tmp t;
  tmp_make(&t, "s.alcm");
  const size_t n = 3 * CHUNK;
  uint8_t *const d = make_bytes(3, ALCM_DTYPE_F32, n);
  alcm_writer *const w = writer_at(t.path, "zstd", -1, 1);
  const uint64_t shape[1] = {n / 4};
  cr_assert_eq(alcm_writer_add_tensor(w, "x", ALCM_DTYPE_F32, 1, shape, d, n),
               ALCM_OK);
  finish(w);
  alcm_reader *const r = reader_at(t.path);
  uint8_t *const buf = malloc(n);
  cr_assert_eq(alcm_reader_read(r, 0, buf, n - 1), ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_reader_read_chunks(r, 0, 0, 2, buf, 2 * CHUNK - 1, NULL),
               ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_reader_read_chunks(r, 0, 2, 1, buf, CHUNK - 1, NULL),
               ALCM_ERR_ARGUMENT);
  cr_assert_neq(alcm_reader_message(r)[0], '\0');
  /* The reader still works after a refused call. */
  cr_assert_eq(alcm_reader_read(r, 0, buf, n), ALCM_OK);
  cr_assert(memcmp(buf, d, n) == 0);
  alcm_reader_close(r);
  free(buf);
  free(d);
  tmp_drop(&t);
}

/* Alignment: with align_log2 12 every payload is page-aligned in the
 * file, and store-codec chunks are the tensor bytes themselves. */
Test(roundtrip, aligned_store_payloads_are_in_place) {
  tmp t;
  tmp_make(&t, "al.alcm");
  const size_t n = 2 * CHUNK + 100;
  uint8_t *const d = make_bytes(9, ALCM_DTYPE_U8, n);
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.codec = "store";
  o.chunk_size = CHUNK;
  o.align_log2 = 12;
  alcm_writer *const w = alcm_writer_create(&o);
  cr_assert_eq(alcm_writer_open(w, t.path), ALCM_OK);
  const uint64_t shape[1] = {n};
  cr_assert_eq(alcm_writer_add_tensor(w, "x", ALCM_DTYPE_U8, 1, shape, d, n),
               ALCM_OK);
  finish(w);
  alcm_reader *const r = reader_at(t.path);
  alcm_archive_info ai;
  cr_assert_eq(alcm_reader_archive_info(r, &ai), ALCM_OK);
  cr_assert_eq(ai.align_log2, 12);
  size_t fn;
  uint8_t *const file = load(t.path, &fn);
  for (uint32_t k = 0; k < 3; k++) {
    alcm_chunk_info ci;
    cr_assert_eq(alcm_reader_chunk(r, 0, k, &ci), ALCM_OK);
    const uint64_t payload = ci.frame_offset + ALCM_FRAME_HEADER_SIZE;
    cr_assert_eq(payload % 4096, 0, "chunk %u payload at %llu", k,
                 (unsigned long long)payload);
    cr_assert_eq(ci.codec, ALCM_CODEC_ID_STORE);
    cr_assert(payload + ci.raw_size <= fn);
    cr_assert(memcmp(file + payload, d + ci.raw_offset, ci.raw_size) == 0);
  }
  free(file);
  alcm_reader_close(r);
  free(d);
  tmp_drop(&t);
}
