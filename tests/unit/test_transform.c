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
  }
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
