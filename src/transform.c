/*
 * transform.c - reversible byte transforms applied before a codec
 * (spec "Transforms").
 *
 * Byte grouping writes plane k (byte k of every element, in element
 * order) contiguously: dst[k * n_elem + i] = src[i * elem_size + k].
 * Bytes of equal significance then sit together, which is what lets a
 * codec find the low entropy of float exponents.
 */
#include <assert.h>

#include "internal.h"

bool alcm_transform_valid(unsigned transform, unsigned elem_size) {
  switch (transform) {
  case ALCM_TRANSFORM_IDENTITY:
    return elem_size == 1;
  case ALCM_TRANSFORM_BYTE_GROUP:
    return elem_size == 2 || elem_size == 4 || elem_size == 8;
  default:
    return false;
  }
}

/* One function per element size: each element is loaded as one
 * little-endian word (a single load on common hosts) and its bytes are
 * peeled off by shifts into named plane pointers. gcc -O2 keeps this in
 * registers; a generic byte loop over a plane array was 2-3x slower. */
static void group2(uint8_t *restrict dst, const uint8_t *restrict src,
                   size_t n) {
  uint8_t *const p0 = dst, *const p1 = dst + n;
  for (size_t i = 0; i < n; i++) {
    const uint16_t v = alcm_le16(src + 2 * i);
    p0[i] = (uint8_t)v;
    p1[i] = (uint8_t)(v >> 8);
  }
}

static void ungroup2(uint8_t *restrict dst, const uint8_t *restrict src,
                     size_t n) {
  const uint8_t *const p0 = src, *const p1 = src + n;
  for (size_t i = 0; i < n; i++)
    alcm_st16(dst + 2 * i, (uint16_t)(p0[i] | (p1[i] << 8)));
}

static void group4(uint8_t *restrict dst, const uint8_t *restrict src,
                   size_t n) {
  uint8_t *const p0 = dst, *const p1 = dst + n, *const p2 = dst + 2 * n,
                 *const p3 = dst + 3 * n;
  for (size_t i = 0; i < n; i++) {
    const uint32_t v = alcm_le32(src + 4 * i);
    p0[i] = (uint8_t)v;
    p1[i] = (uint8_t)(v >> 8);
    p2[i] = (uint8_t)(v >> 16);
    p3[i] = (uint8_t)(v >> 24);
  }
}

static void ungroup4(uint8_t *restrict dst, const uint8_t *restrict src,
                     size_t n) {
  const uint8_t *const p0 = src, *const p1 = src + n, *const p2 = src + 2 * n,
                       *const p3 = src + 3 * n;
  for (size_t i = 0; i < n; i++)
    alcm_st32(dst + 4 * i, (uint32_t)p0[i] | ((uint32_t)p1[i] << 8) |
                               ((uint32_t)p2[i] << 16) |
                               ((uint32_t)p3[i] << 24));
}

/* 8-byte elements as two 4-byte halves: planes 0..3 from the low word,
 * 4..7 from the high word. */
static void group8(uint8_t *restrict dst, const uint8_t *restrict src,
                   size_t n) {
  uint8_t *const p0 = dst, *const p1 = dst + n, *const p2 = dst + 2 * n,
                 *const p3 = dst + 3 * n, *const p4 = dst + 4 * n,
                 *const p5 = dst + 5 * n, *const p6 = dst + 6 * n,
                 *const p7 = dst + 7 * n;
  for (size_t i = 0; i < n; i++) {
    const uint32_t lo = alcm_le32(src + 8 * i);
    const uint32_t hi = alcm_le32(src + 8 * i + 4);
    p0[i] = (uint8_t)lo;
    p1[i] = (uint8_t)(lo >> 8);
    p2[i] = (uint8_t)(lo >> 16);
    p3[i] = (uint8_t)(lo >> 24);
    p4[i] = (uint8_t)hi;
    p5[i] = (uint8_t)(hi >> 8);
    p6[i] = (uint8_t)(hi >> 16);
    p7[i] = (uint8_t)(hi >> 24);
  }
}

static void ungroup8(uint8_t *restrict dst, const uint8_t *restrict src,
                     size_t n) {
  const uint8_t *const p0 = src, *const p1 = src + n, *const p2 = src + 2 * n,
                       *const p3 = src + 3 * n, *const p4 = src + 4 * n,
                       *const p5 = src + 5 * n, *const p6 = src + 6 * n,
                       *const p7 = src + 7 * n;
  for (size_t i = 0; i < n; i++) {
    alcm_st32(dst + 8 * i, (uint32_t)p0[i] | ((uint32_t)p1[i] << 8) |
                               ((uint32_t)p2[i] << 16) |
                               ((uint32_t)p3[i] << 24));
    alcm_st32(dst + 8 * i + 4, (uint32_t)p4[i] | ((uint32_t)p5[i] << 8) |
                                   ((uint32_t)p6[i] << 16) |
                                   ((uint32_t)p7[i] << 24));
  }
}

static void copy(uint8_t *dst, const uint8_t *src, size_t n) {
  if (n && dst != src) memmove(dst, src, n);
}

void alcm_transform_forward(unsigned transform, unsigned elem_size,
                            uint8_t *dst, const uint8_t *src, size_t n) {
  assert(alcm_transform_valid(transform, elem_size));
  assert(n % elem_size == 0);
  if (transform != ALCM_TRANSFORM_BYTE_GROUP) {
    copy(dst, src, n);
    return;
  }
  switch (elem_size) {
  case 2: group2(dst, src, n / 2); break;
  case 4: group4(dst, src, n / 4); break;
  case 8: group8(dst, src, n / 8); break;
  default: copy(dst, src, n); return;
  }
  /* Unreachable tail when the invariant holds; keeps dst defined if not. */
  const size_t whole = n - n % elem_size;
  copy(dst + whole, src + whole, n - whole);
}

void alcm_transform_inverse(unsigned transform, unsigned elem_size,
                            uint8_t *dst, const uint8_t *src, size_t n) {
  assert(alcm_transform_valid(transform, elem_size));
  assert(n % elem_size == 0);
  if (transform != ALCM_TRANSFORM_BYTE_GROUP) {
    copy(dst, src, n);
    return;
  }
  switch (elem_size) {
  case 2: ungroup2(dst, src, n / 2); break;
  case 4: ungroup4(dst, src, n / 4); break;
  case 8: ungroup8(dst, src, n / 8); break;
  default: copy(dst, src, n); return;
  }
  /* Unreachable tail when the invariant holds; keeps dst defined if not. */
  const size_t whole = n - n % elem_size;
  copy(dst + whole, src + whole, n - whole);
}
