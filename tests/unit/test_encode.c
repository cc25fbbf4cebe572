/* Unit tests for the chunk planner (src/encode.c): which transform and
 * codec auto mode picks, and that every choice decodes to the chunk. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "test_util.h"

#define N 65536 /* bytes per chunk here */

typedef struct {
  alcm_encode_buffers b;
  alcm_frame f;
  const uint8_t *payload;
} enc;

static void enc_init(enc *e) {
  const alcm_encode_policy pol = {NULL, alcm_codec_zstd.level_default, -1};
  const size_t bound = alcm_encode_bound(&pol, N);
  e->b = (alcm_encode_buffers){malloc(N), malloc(bound), malloc(bound), NULL};
  cr_assert(e->b.tmp && e->b.out && e->b.out2);
}

static void enc_free(enc *e) {
  alcm_zstd_free_ctx(e->b.zstd);
  free(e->b.tmp);
  free(e->b.out);
  free(e->b.out2);
}

static const alcm_codec *by_id(unsigned id) {
  static const alcm_codec_set builtins; /* no extra codecs */
  const alcm_codec *const c = alcm_codec_by_id(&builtins, id);
  cr_assert_not_null(c, "codec %u", id);
  return c;
}

/* Encode in auto mode, decode as a reader does, compare. */
static void encode_check(enc *e, unsigned dtype, const uint8_t *raw,
                         size_t n) {
  const alcm_encode_policy pol = {NULL, alcm_codec_zstd.level_default, -1};
  alcm_encode_chunk(&pol, dtype, raw, n, &e->b, &e->f, &e->payload);
  cr_assert_leq(e->f.stored_size, n);
  cr_assert_eq(alcm_hash64(e->payload, (size_t)e->f.stored_size),
               e->f.stored_hash);
  uint8_t *const plain = malloc(n), *const back = malloc(n);
  const int split = e->f.transform != ALCM_TRANSFORM_IDENTITY;
  cr_assert_eq(by_id(e->f.codec)->decompress(split ? plain : back, n,
                                             e->payload,
                                             (size_t)e->f.stored_size),
               0);
  if (split)
    alcm_transform_inverse(e->f.transform, e->f.elem_size, back, plain, n);
  cr_assert_arr_eq(back, raw, n);
  free(plain);
  free(back);
}

/* bf16 of a standard normal times 0.05 (weights-like). */
static void weights(uint16_t *v, size_t count, uint64_t seed) {
  uint64_t r = seed;
  for (size_t i = 0; i < count; i += 2) {
    const double u1 = (tu_rng(&r) >> 11) * 0x1p-53 + 0x1p-54;
    const double u2 = (tu_rng(&r) >> 11) * 0x1p-53;
    const double m = sqrt(-2 * log(u1)) * 0.05;
    const float a = (float)(m * cos(6.283185307179586 * u2));
    const float b = (float)(m * sin(6.283185307179586 * u2));
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    v[i] = (uint16_t)(x >> 16);
    if (i + 1 < count) v[i + 1] = (uint16_t)(y >> 16);
  }
}

/* Weights: field split + rans, with no zstd probe needed to get there. */
Test(encode, weights_take_split_and_rans) {
  enc e;
  enc_init(&e);
  static uint16_t v[N / 2];
  weights(v, N / 2, 1);
  encode_check(&e, ALCM_DTYPE_BF16, (const uint8_t *)v, N);
  cr_assert_eq(e.f.codec, ALCM_CODEC_ID_RANS);
  cr_assert_eq(e.f.transform, ALCM_TRANSFORM_SPLIT_BF16);
  cr_assert_lt(e.f.stored_size, N * 0.72);
  cr_assert_null(e.b.zstd, "the zstd probe ran on plain weights");
  enc_free(&e);
}

/* Rows repeated (a 512-byte row 128 times) and weights with zeroed rows:
 * the repeat check lets the probe run and zstd win where it should. */
Test(encode, repeats_go_to_zstd) {
  enc e;
  enc_init(&e);
  static uint16_t v[N / 2];
  weights(v, 256, 2);
  for (size_t r = 1; r < N / 512; r++) memcpy(v + 256 * r, v, 512);
  encode_check(&e, ALCM_DTYPE_BF16, (const uint8_t *)v, N);
  cr_assert_eq(e.f.codec, ALCM_CODEC_ID_ZSTD);
  cr_assert_eq(e.f.transform, ALCM_TRANSFORM_IDENTITY);
  cr_assert_lt(e.f.stored_size, N / 20);

  weights(v, N / 2, 3); /* every other 256-element row zero */
  for (size_t r = 0; r < N / 512; r += 2) memset(v + 256 * r, 0, 512);
  encode_check(&e, ALCM_DTYPE_BF16, (const uint8_t *)v, N);
  cr_assert_not_null(e.b.zstd, "zero rows: the zstd probe did not run");
  enc_free(&e);
}

/* Text (a blob: dtype 0, identity) is always probed: zstd beats order-0. */
Test(encode, text_goes_to_zstd) {
  enc e;
  enc_init(&e);
  static char t[N];
  static const char *const words[] = {"weight", "bias", "layer", "norm",
                                      "attention", "query", "key", "value"};
  uint64_t r = 4;
  size_t at = 0;
  while (at < N - 16) {
    const char *w = words[tu_rng(&r) % 8];
    const size_t k = strlen(w);
    memcpy(t + at, w, k);
    t[at + k] = ' ';
    at += k + 1;
  }
  memset(t + at, '.', N - at);
  encode_check(&e, 0, (const uint8_t *)t, N);
  cr_assert_eq(e.f.codec, ALCM_CODEC_ID_ZSTD);
  enc_free(&e);
}

/* Random bytes as f32: nothing pays, stored as they are. */
Test(encode, noise_is_stored) {
  enc e;
  enc_init(&e);
  static uint8_t v[N];
  uint64_t r = 5;
  for (size_t i = 0; i < N; i++) v[i] = (uint8_t)tu_rng(&r);
  encode_check(&e, ALCM_DTYPE_F32, v, N);
  cr_assert_eq(e.f.codec, ALCM_CODEC_ID_STORE);
  cr_assert_eq(e.payload, v);
  enc_free(&e);
}
