/*
 * test_bundle.c - bundled entries (format 1.4, spec "Bundled"): small
 * lossless tensors of seven dtypes, interleaved with large ones, written
 * with 1 and 2 threads (same bytes), read back every way the API offers
 * with 1 and 2 reader threads and in a scattered order (more bundles in
 * play than the reader keeps decoded); no_bundle; a damaged bundle; the
 * adaptive writer mode, whose small lossless tensors bundle too.
 */
#include "alcm.h"
#include "test_util.h"

#define N 300
#define BIG_EVERY 37 /* every 37th tensor is larger than a bundle */

static const int DTYPES[] = {ALCM_DTYPE_F32, ALCM_DTYPE_BF16, ALCM_DTYPE_I32,
                             ALCM_DTYPE_F16, ALCM_DTYPE_U8,   ALCM_DTYPE_F64,
                             ALCM_DTYPE_I64};
#define N_DTYPES (sizeof DTYPES / sizeof *DTYPES)

typedef struct {
  int dtype;
  size_t size;
  uint8_t *data;
} item;

/* Tensor k: dtype k mod 7, 1..4096 bytes (whole elements), or 5000..13000
 * for every BIG_EVERY-th; bytes with some structure, so codecs have work. */
static void make_items(item *it) {
  uint64_t s = 1400;
  for (int k = 0; k < N; k++) {
    const int dt = DTYPES[k % N_DTYPES];
    const size_t es = alcm_dtype_size(dt);
    const size_t max = k % BIG_EVERY == BIG_EVERY - 1 ? 13000 : 4096;
    const size_t min = max == 4096 ? 1 : 5000;
    size_t n = min + tu_rng(&s) % (max - min + 1);
    n = (n + es - 1) / es * es;
    if (n > max) n -= es;
    it[k].dtype = dt;
    it[k].size = n;
    it[k].data = malloc(n + 1);
    cr_assert_not_null(it[k].data);
    for (size_t i = 0; i < n; i++)
      it[k].data[i] = (uint8_t)(i % es == es - 1 ? 0x3F : tu_rng(&s) % 23);
  }
}

static void free_items(item *it) {
  for (int k = 0; k < N; k++) free(it[k].data);
}

static void write_items(const char *path, const item *it, unsigned threads,
                        int no_bundle) {
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.threads = threads;
  o.no_bundle = no_bundle;
  o.overwrite = 1;
  o.chunk_size = 8192; /* bundles of up to 8 KiB */
  alcm_writer *const w = alcm_writer_create(&o);
  cr_assert_not_null(w);
  cr_assert_eq(alcm_writer_open(w, path), ALCM_OK, "%s", alcm_writer_message(w));
  for (int k = 0; k < N; k++) {
    char name[16];
    snprintf(name, sizeof name, "t%03d", k);
    const uint64_t shape[1] = {it[k].size / alcm_dtype_size(it[k].dtype)};
    cr_assert_eq(alcm_writer_add_tensor(w, name, it[k].dtype, 1, shape,
                                        it[k].data, it[k].size),
                 ALCM_OK, "%s: %s", name, alcm_writer_message(w));
  }
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "%s", alcm_writer_message(w));
  alcm_writer_close(w);
}

/* Whether files a and b hold the same bytes; their sizes in *na, *nb. */
static int same_file(const char *a, const char *b, size_t *na, size_t *nb) {
  uint8_t *x, *y;
  tu_read_file(a, &x, na);
  tu_read_file(b, &y, nb);
  const int same = *na == *nb && memcmp(x, y, *na) == 0;
  free(x);
  free(y);
  return same;
}

static alcm_reader *open_at(const char *path, unsigned threads) {
  alcm_read_options o;
  alcm_read_options_init(&o);
  o.threads = threads;
  alcm_reader *const r = alcm_reader_create(&o);
  cr_assert_not_null(r);
  cr_assert_eq(alcm_reader_open(r, path), ALCM_OK, "%s", alcm_reader_message(r));
  return r;
}

static int bundled(alcm_reader *r, size_t i) {
  alcm_entry_info e;
  cr_assert_eq(alcm_reader_entry(r, i, &e), ALCM_OK);
  return (e.flags & ALCM_ENTRY_FLAG_BUNDLED) != 0;
}

typedef struct {
  uint8_t *p;
  size_t n;
} acc;

static int sink(void *opaque, const void *data, size_t size) {
  acc *const a = opaque;
  memcpy(a->p + a->n, data, size);
  a->n += size;
  return 0;
}

/* Every way to read: whole entries in a scattered order, one chunk, a
 * stream, and all at once. */
static void check_all(alcm_reader *r, const item *it, int want_bundles) {
  cr_assert_eq(alcm_reader_entry_count(r), N);
  uint8_t *const back = malloc(13001);
  cr_assert_not_null(back);
  size_t nb = 0;
  for (int q = 0; q < N; q++) {
    const int k = (q * 113) % N; /* 113 is prime to 300 */
    const size_t i = (size_t)k;  /* entries in the order added */
    cr_assert_eq(alcm_reader_read(r, i, back, 13001), ALCM_OK, "t%03d: %s", k,
                 alcm_reader_message(r));
    cr_assert(memcmp(back, it[k].data, it[k].size) == 0, "t%03d", k);
    const int b = bundled(r, i);
    nb += (size_t)b;
    cr_assert_eq(b, want_bundles && it[k].size <= 4096, "t%03d flag", k);
    alcm_chunk_info ci;
    cr_assert_eq(alcm_reader_chunk(r, i, 0, &ci), ALCM_OK);
    if (b) {
      cr_assert_eq(ci.raw_size, it[k].size);
      cr_assert_geq(ci.frame_raw_size, ci.bundle_offset + ci.raw_size);
      cr_assert_leq(ci.frame_raw_size, 8192);
      cr_assert_eq(ci.bundle_offset % alcm_dtype_size(it[k].dtype), 0);
      size_t got = 0;
      cr_assert_eq(alcm_reader_read_chunks(r, i, 0, 1, back, 13001, &got),
                   ALCM_OK);
      cr_assert(got == it[k].size && memcmp(back, it[k].data, got) == 0);
    } else {
      cr_assert_eq(ci.bundle_offset, 0);
      cr_assert_eq(ci.frame_raw_size, ci.raw_size);
    }
    acc a = {back, 0};
    cr_assert_eq(alcm_reader_stream(r, i, sink, &a), ALCM_OK);
    cr_assert(a.n == it[k].size && memcmp(back, it[k].data, a.n) == 0);
  }
  cr_assert(want_bundles ? nb > N / 2 : nb == 0, "%zu bundled", nb);
  void *dst[N];
  size_t cap[N];
  for (int k = 0; k < N; k++) {
    dst[k] = malloc(it[k].size + 1);
    cap[k] = it[k].size;
  }
  cr_assert_eq(alcm_reader_read_entries(r, 0, N, dst, cap), ALCM_OK, "%s",
               alcm_reader_message(r));
  for (int k = 0; k < N; k++) {
    cr_assert(memcmp(dst[k], it[k].data, it[k].size) == 0, "t%03d", k);
    free(dst[k]);
  }
  cr_assert_eq(alcm_reader_verify(r, 0), ALCM_OK, "%s", alcm_reader_message(r));
  free(back);
}

Test(bundle, seven_dtypes_any_thread_count_any_order) {
  item it[N];
  make_items(it);
  tu_tmp t;
  tu_tmp_make(&t, "one.alcm");
  char two[320];
  snprintf(two, sizeof two, "%s/two.alcm", t.dir);
  write_items(t.path, it, 1, 0);
  write_items(two, it, 2, 0);
  size_t na, nb;
  cr_assert(same_file(t.path, two, &na, &nb), "2 threads wrote other bytes");
  for (unsigned threads = 1; threads <= 2; threads++) {
    alcm_reader *const r = open_at(t.path, threads);
    check_all(r, it, 1);
    alcm_reader_close(r);
  }
  free_items(it);
  tu_tmp_drop(&t);
}

Test(bundle, no_bundle_writes_a_frame_per_entry) {
  item it[N];
  make_items(it);
  tu_tmp t;
  tu_tmp_make(&t, "plain.alcm");
  char with[320];
  snprintf(with, sizeof with, "%s/with.alcm", t.dir);
  write_items(t.path, it, 1, 1);
  write_items(with, it, 1, 0);
  alcm_reader *const r = open_at(t.path, 2);
  check_all(r, it, 0);
  alcm_reader_close(r);
  size_t na, nb;
  (void)same_file(t.path, with, &na, &nb);
  cr_expect_lt(nb, na, "bundled %zu bytes, not smaller than %zu", nb, na);
  free_items(it);
  tu_tmp_drop(&t);
}

/* One changed payload byte of a bundle: every entry in it fails to read
 * with ERR_CHECKSUM, the others still read, verify finds it. */
Test(bundle, damaged_bundle_fails_each_member) {
  tu_tmp t;
  tu_tmp_make(&t, "bad.alcm");
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.overwrite = 1;
  o.codec = "store"; /* payload = the tensors' bytes */
  alcm_writer *const w = alcm_writer_create(&o);
  cr_assert_eq(alcm_writer_open(w, t.path), ALCM_OK);
  uint8_t x[3][400];
  for (int k = 0; k < 3; k++) {
    memset(x[k], 0x41 + k, sizeof x[k]);
    char name[8];
    snprintf(name, sizeof name, "b%d", k);
    cr_assert_eq(alcm_writer_add_tensor(w, name, ALCM_DTYPE_U8, 1,
                                        (const uint64_t[]){400}, x[k], 400),
                 ALCM_OK);
  }
  uint8_t big[9000];
  memset(big, 7, sizeof big);
  cr_assert_eq(alcm_writer_add_tensor(w, "big", ALCM_DTYPE_U8, 1,
                                      (const uint64_t[]){9000}, big, 9000),
               ALCM_OK);
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "%s", alcm_writer_message(w));
  alcm_writer_close(w);
  alcm_reader *r = open_at(t.path, 1);
  alcm_chunk_info ci;
  cr_assert_eq(alcm_reader_chunk(r, 1, 0, &ci), ALCM_OK);
  cr_assert_eq(ci.frame_raw_size, 1200);
  cr_assert_eq(ci.bundle_offset, 400);
  alcm_reader_close(r);
  uint8_t *f;
  size_t n;
  tu_read_file(t.path, &f, &n);
  f[ci.frame_offset + 64 + 1000] ^= 1; /* inside b2's bytes */
  tu_write_file(t.path, f, n);
  free(f);
  r = open_at(t.path, 1);
  uint8_t back[9000];
  for (size_t i = 0; i < 3; i++)
    cr_expect_eq(alcm_reader_read(r, i, back, sizeof back), ALCM_ERR_CHECKSUM,
                 "b%zu", i);
  cr_expect_eq(alcm_reader_read(r, 3, back, sizeof back), ALCM_OK);
  cr_expect_eq(alcm_reader_verify(r, 0), ALCM_ERR_CHECKSUM);
  alcm_reader_close(r);
  tu_tmp_drop(&t);
}

/* Writer mode adaptive: the small tensors it keeps lossless (1-D, few
 * elements) are bundled; the quantized one is not; it all reads back. */
Test(bundle, adaptive_mode_bundles_what_stays_lossless) {
  tu_tmp t;
  tu_tmp_make(&t, "ad.alcm");
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.overwrite = 1;
  alcm_writer *const w = alcm_writer_create(&o);
  cr_assert_eq(alcm_writer_open(w, t.path), ALCM_OK);
  alcm_adaptive_options ao;
  alcm_adaptive_options_init(&ao);
  cr_assert_eq(alcm_writer_set_adaptive(w, &ao), ALCM_OK,
               "%s", alcm_writer_message(w));
  float bias[64], gamma[64], kernel[64 * 48];
  uint64_t s = 9;
  for (int i = 0; i < 64; i++) {
    bias[i] = (float)(tu_rng(&s) % 1000) / 1000.0f - 0.5f;
    gamma[i] = 1.0f + bias[i] / 8;
  }
  for (int i = 0; i < 64 * 48; i++)
    kernel[i] = (float)(tu_rng(&s) % 2001) / 1000.0f - 1.0f;
  cr_assert_eq(alcm_writer_add_tensor(w, "bias", ALCM_DTYPE_F32, 1,
                                      (const uint64_t[]){64}, bias,
                                      sizeof bias),
               ALCM_OK, "%s", alcm_writer_message(w));
  cr_assert_eq(alcm_writer_add_tensor(w, "kernel", ALCM_DTYPE_F32, 2,
                                      (const uint64_t[]){64, 48}, kernel,
                                      sizeof kernel),
               ALCM_OK, "%s", alcm_writer_message(w));
  cr_assert_eq(alcm_writer_add_tensor(w, "gamma", ALCM_DTYPE_F32, 1,
                                      (const uint64_t[]){64}, gamma,
                                      sizeof gamma),
               ALCM_OK, "%s", alcm_writer_message(w));
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "%s", alcm_writer_message(w));
  alcm_writer_close(w);
  alcm_reader *const r = open_at(t.path, 1);
  alcm_entry_info e;
  cr_assert_eq(alcm_reader_entry(r, 1, &e), ALCM_OK);
  cr_expect_eq(e.encoding, ALCM_ENCODING_ADAPTIVE);
  cr_expect_eq(e.flags & ALCM_ENTRY_FLAG_BUNDLED, 0);
  float back[64];
  const float *const want[2] = {bias, gamma};
  for (size_t k = 0; k < 2; k++) {
    const size_t i = k ? 2 : 0;
    cr_assert_eq(alcm_reader_entry(r, i, &e), ALCM_OK);
    cr_expect_eq(e.encoding, ALCM_ENCODING_LOSSLESS);
    cr_expect_neq(e.flags & ALCM_ENTRY_FLAG_BUNDLED, 0, "%s", e.name);
    cr_assert_eq(alcm_reader_read(r, i, back, sizeof back), ALCM_OK);
    cr_expect(memcmp(back, want[k], sizeof back) == 0, "%s", e.name);
  }
  cr_assert_eq(alcm_reader_verify(r, 0), ALCM_OK, "%s", alcm_reader_message(r));
  alcm_reader_close(r);
  tu_tmp_drop(&t);
}
