/*
 * test_dedup.c - identical chunks are stored once (spec "Layout": several
 * refs may point at one frame), and only when they really are identical.
 */
#include "internal.h"
#include "test_util.h"

#define CHUNK 4096u
#define N (3 * CHUNK + 100) /* bytes per tensor: 4 chunks */

static alcm_writer *open_writer(const char *path, int no_dedup) {
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.chunk_size = CHUNK;
  o.no_dedup = no_dedup;
  alcm_writer *const w = alcm_writer_create(&o);
  cr_assert(w);
  cr_assert_eq(alcm_writer_open(w, path), ALCM_OK, "%s",
               alcm_writer_message(w));
  return w;
}

static void add(alcm_writer *w, const char *name, int dtype, const uint8_t *p,
                size_t n) {
  const uint64_t shape[1] = {n / alcm_dtype_size(dtype)};
  cr_assert_eq(alcm_writer_add_tensor(w, name, dtype, 1, shape, p, n), ALCM_OK,
               "%s", alcm_writer_message(w));
}

static alcm_reader *open_reader(const char *path) {
  alcm_reader *const r = alcm_reader_create(NULL);
  cr_assert(r);
  cr_assert_eq(alcm_reader_open(r, path), ALCM_OK, "%s",
               alcm_reader_message(r));
  cr_assert_eq(alcm_reader_verify(r, 0), ALCM_OK, "%s",
               alcm_reader_message(r));
  return r;
}

static void expect_bytes(alcm_reader *r, const char *name, const uint8_t *p,
                         size_t n) {
  size_t i;
  cr_assert_eq(alcm_reader_find(r, name, &i), ALCM_OK);
  uint8_t *const got = malloc(n);
  cr_assert_eq(alcm_reader_read(r, i, got, n), ALCM_OK, "%s",
               alcm_reader_message(r));
  cr_assert(memcmp(got, p, n) == 0, "'%s' differs", name);
  free(got);
}

static uint64_t frame_of(alcm_reader *r, const char *name, uint32_t k) {
  size_t i;
  alcm_chunk_info ci;
  cr_assert_eq(alcm_reader_find(r, name, &i), ALCM_OK);
  cr_assert_eq(alcm_reader_chunk(r, i, k, &ci), ALCM_OK);
  return ci.frame_offset;
}

/* Gaussian-ish f32 weights: compressible but not repetitive. */
static void weights(uint8_t *p, size_t n, uint64_t seed) {
  for (size_t i = 0; i + 4 <= n; i += 4) {
    const float v = (float)((double)(tu_rng(&seed) >> 11) / 9007199254740992.0 -
                            0.5) * 0.05f;
    memcpy(p + i, &v, 4);
  }
}

Test(dedup, identical_tensors_share_frames) {
  static uint8_t a[N], b[N];
  weights(a, N, 1);
  weights(b, N, 2);
  tu_tmp t, t2;
  tu_tmp_make(&t, "d.alcm");
  tu_tmp_make(&t2, "n.alcm");
  for (int pass = 0; pass < 2; pass++) {
    alcm_writer *const w = open_writer(pass ? t2.path : t.path, pass);
    add(w, "a", ALCM_DTYPE_F32, a, N);
    add(w, "b", ALCM_DTYPE_F32, b, N);
    add(w, "a_copy", ALCM_DTYPE_F32, a, N);
    cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "%s", alcm_writer_message(w));
    alcm_writer_close(w);
  }
  alcm_reader *const r = open_reader(t.path);
  alcm_reader *const rn = open_reader(t2.path);
  for (uint32_t k = 0; k < 4; k++) {
    cr_assert_eq(frame_of(r, "a", k), frame_of(r, "a_copy", k), "chunk %u", k);
    cr_assert_neq(frame_of(r, "a", k), frame_of(r, "b", k), "chunk %u", k);
    cr_assert_neq(frame_of(rn, "a", k), frame_of(rn, "a_copy", k));
  }
  expect_bytes(r, "a", a, N);
  expect_bytes(r, "a_copy", a, N);
  expect_bytes(r, "b", b, N);
  alcm_archive_info di, ni;
  cr_assert_eq(alcm_reader_archive_info(r, &di), ALCM_OK);
  cr_assert_eq(alcm_reader_archive_info(rn, &ni), ALCM_OK);
  /* the copy costs index bytes only */
  cr_assert_lt(di.file_size + N / 2, ni.file_size);
  alcm_reader_close(r);
  alcm_reader_close(rn);
  tu_tmp_drop(&t);
  tu_tmp_drop(&t2);
}

static void chunk_of(alcm_reader *r, const char *name, uint32_t k,
                     alcm_chunk_info *ci) {
  size_t i;
  cr_assert_eq(alcm_reader_find(r, name, &i), ALCM_OK);
  cr_assert_eq(alcm_reader_chunk(r, i, k, ci), ALCM_OK);
}

/* Same bytes as f32, i32 and u8. A frame may be shared only when the
 * encodings are identical (e.g. zstd on the raw bytes); with codec "rans"
 * the f32 chunks are field-split and the i32 ones byte-grouped, so nothing
 * is shared. Either way every tensor reads back. */
static void other_dtypes(const char *codec, int must_differ) {
  static uint8_t a[N];
  weights(a, N, 3);
  tu_tmp t;
  tu_tmp_make(&t, "x.alcm");
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.chunk_size = CHUNK;
  o.codec = codec;
  alcm_writer *const w = alcm_writer_create(&o);
  cr_assert_eq(alcm_writer_open(w, t.path), ALCM_OK);
  add(w, "f", ALCM_DTYPE_F32, a, N);
  add(w, "i", ALCM_DTYPE_I32, a, N);
  add(w, "u8", ALCM_DTYPE_U8, a, N);
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "%s", alcm_writer_message(w));
  alcm_writer_close(w);
  alcm_reader *const r = open_reader(t.path);
  static const char *const names[] = {"f", "i", "u8"};
  for (uint32_t k = 0; k < 3; k++)
    for (int x = 0; x < 3; x++)
      for (int y = x + 1; y < 3; y++) {
        alcm_chunk_info cx, cy;
        chunk_of(r, names[x], k, &cx);
        chunk_of(r, names[y], k, &cy);
        if (cx.frame_offset == cy.frame_offset)
          cr_assert(cx.transform == cy.transform && cx.codec == cy.codec &&
                        cx.elem_size == cy.elem_size,
                    "%s/%s chunk %u shared across encodings", names[x],
                    names[y], k);
      }
  if (must_differ)
    for (uint32_t k = 0; k < 3; k++)
      cr_assert_neq(frame_of(r, "f", k), frame_of(r, "i", k));
  expect_bytes(r, "f", a, N);
  expect_bytes(r, "i", a, N);
  expect_bytes(r, "u8", a, N);
  alcm_reader_close(r);
  tu_tmp_drop(&t);
}

Test(dedup, same_bytes_other_dtype_auto) { other_dtypes("auto", 0); }
Test(dedup, same_bytes_other_dtype_rans) { other_dtypes("rans", 1); }

Test(dedup, repeated_chunks_inside_a_tensor) {
  /* Four equal chunks plus a tail: one frame serves all four, also when
   * two of them are encoded in the same batch by two threads. */
  static uint8_t a[N];
  weights(a, CHUNK, 4);
  for (int k = 1; k < 4; k++) memcpy(a + k * CHUNK, a, k < 3 ? CHUNK : 100);
  tu_tmp t;
  tu_tmp_make(&t, "r.alcm");
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.chunk_size = CHUNK;
  o.threads = 2;
  alcm_writer *const w = alcm_writer_create(&o);
  cr_assert_eq(alcm_writer_open(w, t.path), ALCM_OK);
  add(w, "rep", ALCM_DTYPE_F32, a, N);
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "%s", alcm_writer_message(w));
  alcm_writer_close(w);
  alcm_reader *const r = open_reader(t.path);
  cr_assert_eq(frame_of(r, "rep", 0), frame_of(r, "rep", 1));
  cr_assert_eq(frame_of(r, "rep", 0), frame_of(r, "rep", 2));
  cr_assert_neq(frame_of(r, "rep", 0), frame_of(r, "rep", 3));
  expect_bytes(r, "rep", a, N);
  alcm_reader_close(r);
  tu_tmp_drop(&t);
}
