/* Unit tests for the transforms (src/transform.c). */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "internal.h"

Test(transform, validity) {
  cr_assert(alcm_transform_valid(ALCM_TRANSFORM_IDENTITY, 1));
  for (unsigned es = 0; es <= 16; es++) {
    if (es != 1) cr_assert_not(alcm_transform_valid(ALCM_TRANSFORM_IDENTITY, es));
    cr_assert_eq(alcm_transform_valid(ALCM_TRANSFORM_BYTE_GROUP, es),
                 es == 2 || es == 4 || es == 8, "es %u", es);
    cr_assert_eq(alcm_transform_valid(ALCM_TRANSFORM_SPLIT_BF16, es), es == 2,
                 "es %u", es);
    cr_assert_eq(alcm_transform_valid(ALCM_TRANSFORM_SPLIT_F32, es), es == 4,
                 "es %u", es);
  }
  cr_assert_eq(ALCM_TRANSFORM_COUNT, 4u);
  cr_assert_not(alcm_transform_valid(ALCM_TRANSFORM_COUNT, 1));
  cr_assert_not(alcm_transform_valid(ALCM_TRANSFORM_COUNT, 2));
  cr_assert_not(alcm_transform_valid(255, 4));
}

Test(transform, byte_group_layout) {
  /* three 4-byte elements: planes of byte 0, 1, 2, 3 */
  const uint8_t src[12] = {0x00, 0x01, 0x02, 0x03, 0x10, 0x11,
                           0x12, 0x13, 0x20, 0x21, 0x22, 0x23};
  const uint8_t want[12] = {0x00, 0x10, 0x20, 0x01, 0x11, 0x21,
                            0x02, 0x12, 0x22, 0x03, 0x13, 0x23};
  uint8_t dst[12], back[12];
  alcm_transform_forward(ALCM_TRANSFORM_BYTE_GROUP, 4, dst, src, 12);
  cr_assert_arr_eq(dst, want, 12);
  alcm_transform_inverse(ALCM_TRANSFORM_BYTE_GROUP, 4, back, dst, 12);
  cr_assert_arr_eq(back, src, 12);
  const uint8_t s2[6] = {1, 2, 3, 4, 5, 6}, w2[6] = {1, 3, 5, 2, 4, 6};
  alcm_transform_forward(ALCM_TRANSFORM_BYTE_GROUP, 2, dst, s2, 6);
  cr_assert_arr_eq(dst, w2, 6);
}

static void round_trip(unsigned t, unsigned es, size_t n_elem) {
  const size_t n = n_elem * es;
  uint8_t *const src = malloc(n + 1), *const mid = malloc(n + 1),
                 *const back = malloc(n + 1);
  for (size_t i = 0; i < n; i++) src[i] = (uint8_t)(i * 131u + i / 7);
  alcm_transform_forward(t, es, mid, src, n);
  for (size_t i = 0; i < n_elem; i++)
    for (size_t k = 0; k < es; k++)
      cr_assert_eq(mid[k * n_elem + i], src[i * es + k]);
  alcm_transform_inverse(t, es, back, mid, n);
  cr_assert(n == 0 || memcmp(back, src, n) == 0, "t %u es %u n %zu", t, es,
            n_elem);
  free(src);
  free(mid);
  free(back);
}

Test(transform, round_trip_every_size) {
  static const size_t counts[] = {0, 1, 2, 3, 7, 15, 16, 17, 255, 1001, 65537};
  for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
    round_trip(ALCM_TRANSFORM_IDENTITY, 1, counts[c]);
    round_trip(ALCM_TRANSFORM_BYTE_GROUP, 2, counts[c]);
    round_trip(ALCM_TRANSFORM_BYTE_GROUP, 4, counts[c]);
    round_trip(ALCM_TRANSFORM_BYTE_GROUP, 8, counts[c]);
  }
}

Test(transform, identity_in_place) {
  uint8_t b[5] = {1, 2, 3, 4, 5};
  alcm_transform_forward(ALCM_TRANSFORM_IDENTITY, 1, b, b, 5);
  alcm_transform_inverse(ALCM_TRANSFORM_IDENTITY, 1, b, b, 5);
  cr_assert_eq(b[4], 5);
}

/* ---- field splits (format 1.1) ---------------------------------------- */

/* Every bf16 bit pattern, in an order that puts each pattern at every
 * position modulo the 16-element groups: exact planes and exact inverse. */
Test(transform, split_bf16_every_pattern) {
  const size_t n = 65536;
  uint8_t *const src = malloc(2 * n), *const mid = malloc(2 * n),
                 *const back = malloc(2 * n);
  for (size_t i = 0; i < n; i++) alcm_st16(src + 2 * i, (uint16_t)(i * 40503u));
  alcm_transform_forward(ALCM_TRANSFORM_SPLIT_BF16, 2, mid, src, 2 * n);
  for (size_t i = 0; i < n; i++) {
    const uint16_t x = alcm_le16(src + 2 * i);
    cr_assert_eq(mid[i], (x >> 7) & 0xFF, "exponent of %04x", x);
    cr_assert_eq(mid[n + i], ((x >> 8) & 0x80) | (x & 0x7F), "mant of %04x", x);
  }
  alcm_transform_inverse(ALCM_TRANSFORM_SPLIT_BF16, 2, back, mid, 2 * n);
  cr_assert(memcmp(back, src, 2 * n) == 0);
  free(src);
  free(mid);
  free(back);
}

static uint32_t split_ref(uint32_t x, unsigned k) {
  switch (k) {
  case 0: return (x >> 23) & 0xFF;
  case 1: return ((x >> 24) & 0x80) | ((x >> 16) & 0x7F);
  case 2: return (x >> 8) & 0xFF;
  default: return x & 0xFF;
  }
}

static void f32_round_trip(const uint32_t *v, size_t n) {
  uint8_t *const src = malloc(4 * n + 1), *const mid = malloc(4 * n + 1),
                 *const back = malloc(4 * n + 1);
  for (size_t i = 0; i < n; i++) alcm_st32(src + 4 * i, v[i]);
  alcm_transform_forward(ALCM_TRANSFORM_SPLIT_F32, 4, mid, src, 4 * n);
  for (size_t i = 0; i < n; i++)
    for (unsigned k = 0; k < 4; k++)
      cr_assert_eq(mid[k * n + i], split_ref(v[i], k), "%08x plane %u", v[i],
                   k);
  alcm_transform_inverse(ALCM_TRANSFORM_SPLIT_F32, 4, back, mid, 4 * n);
  cr_assert(n == 0 || memcmp(back, src, 4 * n) == 0, "n %zu", n);
  free(src);
  free(mid);
  free(back);
}

Test(transform, split_f32_special_and_random) {
  static const uint32_t special[] = {
      0x00000000u, 0x80000000u,              /* +-0 */
      0x7F800000u, 0xFF800000u,              /* +-inf */
      0x7FC00000u, 0xFFC00000u,              /* quiet NaN */
      0x7F800001u, 0x7FBFFFFFu, 0xFFFFFFFFu, /* NaN payloads, signalling */
      0x7FFFFFFFu, 0x00000001u, 0x807FFFFFu, /* denormals */
      0x00400000u, 0x00800000u, 0x3F800000u, /* smallest normal, 1.0 */
      0x7F7FFFFFu, 0xBF800000u, 0x12345678u};
  const size_t ns = sizeof special / sizeof special[0];
  for (size_t n = 0; n <= ns; n++) f32_round_trip(special, n);
  const size_t n = 100003; /* odd: groups of 16 plus a tail */
  uint32_t *const v = malloc(n * sizeof *v);
  uint64_t s = 7;
  for (size_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v[i] = (uint32_t)(s >> 32);
    if (i % 7 == 0) v[i] = special[(s >> 20) % ns] ^ (uint32_t)(s & 1);
  }
  f32_round_trip(v, n);
  free(v);
}

Test(transform, split_bf16_sizes_and_in_tail) {
  static const size_t counts[] = {0, 1, 15, 16, 17, 31, 33};
  for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
    const size_t n = counts[c];
    uint8_t src[66], mid[66], back[66];
    for (size_t i = 0; i < 2 * n; i++) src[i] = (uint8_t)(i * 37 + 11);
    alcm_transform_forward(ALCM_TRANSFORM_SPLIT_BF16, 2, mid, src, 2 * n);
    alcm_transform_inverse(ALCM_TRANSFORM_SPLIT_BF16, 2, back, mid, 2 * n);
    cr_assert(n == 0 || memcmp(back, src, 2 * n) == 0, "n %zu", n);
  }
}
