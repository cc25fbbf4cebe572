/*
 * transform.c - reversible byte transforms applied before a codec
 * (spec "Transforms").
 *
 * Byte grouping writes plane k (byte k of every element, in element
 * order) contiguously: dst[k * n_elem + i] = src[i * elem_size + k].
 * Bytes of equal significance then sit together, which is what lets a
 * codec find the low entropy of float exponents.
 *
 * The field splits (format 1.1) go one step further for bf16 and f32:
 * the 8-bit exponent, which straddles two bytes, gets a plane of its
 * own, and the sign moves next to the top mantissa bits, so that one
 * plane holds all the redundancy and the others are near-random.
 */
#include <assert.h>

#include "internal.h"

/* SSE2 is part of x86-64, so the inverse splits use it unconditionally
 * there (gcc 12 -O3 vectorized them only to ~4 GB/s). */
#if defined(__SSE2__)
#define ALCM_TRANSFORM_SSE2 1
#include <emmintrin.h>
#else
#define ALCM_TRANSFORM_SSE2 0
#endif

bool alcm_transform_valid(unsigned transform, unsigned elem_size) {
  switch (transform) {
  case ALCM_TRANSFORM_IDENTITY:
    return elem_size == 1;
  case ALCM_TRANSFORM_BYTE_GROUP:
    return elem_size == 2 || elem_size == 4 || elem_size == 8;
  case ALCM_TRANSFORM_SPLIT_BF16:
    return elem_size == 2;
  case ALCM_TRANSFORM_SPLIT_F32:
    return elem_size == 4;
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

/* ---- field splits (spec "Transforms", ids 2 and 3) ----------------------
 * Elements go in fixed groups of SPLIT_GROUP with a constant trip count so
 * that gcc's -O2 "very cheap" vectorizer (which refuses loops needing a
 * scalar epilogue) turns the group body into SIMD shifts and masks; the
 * few leftover elements take the same code one at a time. No branch
 * depends on the data. */
#define SPLIT_GROUP 16

/* bf16 x: plane 0 = exponent (x >> 7) & 0xFF, plane 1 = sign | mant7. */
static inline void split_bf16_one(uint8_t *restrict e, uint8_t *restrict m,
                                  const uint8_t *restrict s) {
  const uint16_t x = alcm_le16(s);
  *e = (uint8_t)(x >> 7);
  *m = (uint8_t)(((x >> 8) & 0x80u) | (x & 0x7Fu));
}

static void split_bf16(uint8_t *restrict dst, const uint8_t *restrict src,
                       size_t n) {
  uint8_t *const p0 = dst, *const p1 = dst + n;
  size_t i = 0;
  for (; n - i >= SPLIT_GROUP; i += SPLIT_GROUP)
    for (size_t k = 0; k < SPLIT_GROUP; k++)
      split_bf16_one(p0 + i + k, p1 + i + k, src + 2 * (i + k));
  for (; i < n; i++) split_bf16_one(p0 + i, p1 + i, src + 2 * i);
}

static inline void merge_bf16_one(uint8_t *restrict d, uint8_t e, uint8_t m) {
  alcm_st16(d, (uint16_t)(((m & 0x80u) << 8) | ((unsigned)e << 7) |
                          (m & 0x7Fu)));
}

#if ALCM_TRANSFORM_SSE2
/* 16 exponents e and sign|mantissa bytes m into 8 + 8 bf16: in 16-bit
 * lanes, (m & 0x80) << 8 | e << 7 | (m & 0x7F). */
static inline __m128i merge_bf16_8(__m128i e16, __m128i m16) {
  const __m128i sign = _mm_set1_epi16(0x80), mant = _mm_set1_epi16(0x7F);
  return _mm_or_si128(
      _mm_or_si128(_mm_slli_epi16(_mm_and_si128(m16, sign), 8),
                   _mm_slli_epi16(e16, 7)),
      _mm_and_si128(m16, mant));
}
#endif

static void merge_bf16(uint8_t *restrict dst, const uint8_t *restrict src,
                       size_t n) {
  const uint8_t *const p0 = src, *const p1 = src + n;
  size_t i = 0;
#if ALCM_TRANSFORM_SSE2
  const __m128i zero = _mm_setzero_si128();
  for (; n - i >= 16; i += 16) {
    const __m128i e = _mm_loadu_si128((const __m128i *)(const void *)(p0 + i));
    const __m128i m = _mm_loadu_si128((const __m128i *)(const void *)(p1 + i));
    __m128i *const d = (__m128i *)(void *)(dst + 2 * i);
    _mm_storeu_si128(d, merge_bf16_8(_mm_unpacklo_epi8(e, zero),
                                     _mm_unpacklo_epi8(m, zero)));
    _mm_storeu_si128(d + 1, merge_bf16_8(_mm_unpackhi_epi8(e, zero),
                                         _mm_unpackhi_epi8(m, zero)));
  }
#endif
  for (; n - i >= SPLIT_GROUP; i += SPLIT_GROUP)
    for (size_t k = 0; k < SPLIT_GROUP; k++)
      merge_bf16_one(dst + 2 * (i + k), p0[i + k], p1[i + k]);
  for (; i < n; i++) merge_bf16_one(dst + 2 * i, p0[i], p1[i]);
}

/* f32 x: plane 0 = exponent, 1 = sign | mantissa bits 22..16,
 * 2 = mantissa bits 15..8, 3 = mantissa bits 7..0. */
static inline void split_f32_one(uint8_t *restrict p0, uint8_t *restrict p1,
                                 uint8_t *restrict p2, uint8_t *restrict p3,
                                 const uint8_t *restrict s) {
  const uint32_t x = alcm_le32(s);
  *p0 = (uint8_t)(x >> 23);
  *p1 = (uint8_t)(((x >> 24) & 0x80u) | ((x >> 16) & 0x7Fu));
  *p2 = (uint8_t)(x >> 8);
  *p3 = (uint8_t)x;
}

static void split_f32(uint8_t *restrict dst, const uint8_t *restrict src,
                      size_t n) {
  uint8_t *const p0 = dst, *const p1 = dst + n, *const p2 = dst + 2 * n,
                 *const p3 = dst + 3 * n;
  size_t i = 0;
  for (; n - i >= SPLIT_GROUP; i += SPLIT_GROUP)
    for (size_t k = 0; k < SPLIT_GROUP; k++)
      split_f32_one(p0 + i + k, p1 + i + k, p2 + i + k, p3 + i + k,
                    src + 4 * (i + k));
  for (; i < n; i++)
    split_f32_one(p0 + i, p1 + i, p2 + i, p3 + i, src + 4 * i);
}

static inline void merge_f32_one(uint8_t *restrict d, uint32_t e, uint32_t m1,
                                 uint32_t m2, uint32_t m3) {
  alcm_st32(d, ((m1 & 0x80u) << 24) | (e << 23) | ((m1 & 0x7Fu) << 16) |
                   (m2 << 8) | m3);
}

#if ALCM_TRANSFORM_SSE2
/* 8 elements: high halves as in bf16, low halves m2 << 8 | m3. */
static inline void merge_f32_8(uint8_t *d, __m128i e16, __m128i m116,
                               __m128i lo16) {
  const __m128i hi16 = merge_bf16_8(e16, m116);
  __m128i *const v = (__m128i *)(void *)d;
  _mm_storeu_si128(v, _mm_unpacklo_epi16(lo16, hi16));
  _mm_storeu_si128(v + 1, _mm_unpackhi_epi16(lo16, hi16));
}
#endif

static void merge_f32(uint8_t *restrict dst, const uint8_t *restrict src,
                      size_t n) {
  const uint8_t *const p0 = src, *const p1 = src + n, *const p2 = src + 2 * n,
                       *const p3 = src + 3 * n;
  size_t i = 0;
#if ALCM_TRANSFORM_SSE2
  const __m128i zero = _mm_setzero_si128();
  for (; n - i >= 16; i += 16) {
    const __m128i e = _mm_loadu_si128((const __m128i *)(const void *)(p0 + i));
    const __m128i m1 = _mm_loadu_si128((const __m128i *)(const void *)(p1 + i));
    const __m128i m2 = _mm_loadu_si128((const __m128i *)(const void *)(p2 + i));
    const __m128i m3 = _mm_loadu_si128((const __m128i *)(const void *)(p3 + i));
    merge_f32_8(dst + 4 * i, _mm_unpacklo_epi8(e, zero),
                _mm_unpacklo_epi8(m1, zero), _mm_unpacklo_epi8(m3, m2));
    merge_f32_8(dst + 4 * i + 32, _mm_unpackhi_epi8(e, zero),
                _mm_unpackhi_epi8(m1, zero), _mm_unpackhi_epi8(m3, m2));
  }
#endif
  for (; n - i >= SPLIT_GROUP; i += SPLIT_GROUP)
    for (size_t k = 0; k < SPLIT_GROUP; k++)
      merge_f32_one(dst + 4 * (i + k), p0[i + k], p1[i + k], p2[i + k],
                    p3[i + k]);
  for (; i < n; i++) merge_f32_one(dst + 4 * i, p0[i], p1[i], p2[i], p3[i]);
}

static void copy(uint8_t *dst, const uint8_t *src, size_t n) {
  if (n && dst != src) memmove(dst, src, n);
}

/* The switch on (transform, elem_size) is taken once per chunk; the
 * kernels below it are branch-free per element. Anything the kernels do
 * not cover (an invalid pair, or a tail when n is not a multiple of
 * elem_size, both excluded by the callers' invariants) is copied so that
 * dst is always fully defined. */
void alcm_transform_forward(unsigned transform, unsigned elem_size,
                            uint8_t *dst, const uint8_t *src, size_t n) {
  assert(alcm_transform_valid(transform, elem_size));
  assert(n % elem_size == 0);
  const size_t es = elem_size ? elem_size : 1, elems = n / es;
  switch (alcm_transform_valid(transform, elem_size) ? transform * 16 + es
                                                     : 0) {
  case ALCM_TRANSFORM_BYTE_GROUP * 16 + 2: group2(dst, src, elems); break;
  case ALCM_TRANSFORM_BYTE_GROUP * 16 + 4: group4(dst, src, elems); break;
  case ALCM_TRANSFORM_BYTE_GROUP * 16 + 8: group8(dst, src, elems); break;
  case ALCM_TRANSFORM_SPLIT_BF16 * 16 + 2: split_bf16(dst, src, elems); break;
  case ALCM_TRANSFORM_SPLIT_F32 * 16 + 4: split_f32(dst, src, elems); break;
  default: copy(dst, src, n); return;
  }
  copy(dst + elems * es, src + elems * es, n - elems * es);
}

void alcm_transform_inverse(unsigned transform, unsigned elem_size,
                            uint8_t *dst, const uint8_t *src, size_t n) {
  assert(alcm_transform_valid(transform, elem_size));
  assert(n % elem_size == 0);
  const size_t es = elem_size ? elem_size : 1, elems = n / es;
  switch (alcm_transform_valid(transform, elem_size) ? transform * 16 + es
                                                     : 0) {
  case ALCM_TRANSFORM_BYTE_GROUP * 16 + 2: ungroup2(dst, src, elems); break;
  case ALCM_TRANSFORM_BYTE_GROUP * 16 + 4: ungroup4(dst, src, elems); break;
  case ALCM_TRANSFORM_BYTE_GROUP * 16 + 8: ungroup8(dst, src, elems); break;
  case ALCM_TRANSFORM_SPLIT_BF16 * 16 + 2: merge_bf16(dst, src, elems); break;
  case ALCM_TRANSFORM_SPLIT_F32 * 16 + 4: merge_f32(dst, src, elems); break;
  default: copy(dst, src, n); return;
  }
  copy(dst + elems * es, src + elems * es, n - elems * es);
}
