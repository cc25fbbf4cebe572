/*
 * quant.c - per-channel symmetric quantization, error measurement, and
 * magnitude pruning with its mask bitmap (spec/adaptive.md "Bit widths",
 * "Scales", "Pruning"; spec/alcm-format.md "Per-channel sections").
 */
#include <float.h>
#include <math.h>

#include "adaptive.h"

unsigned alcm_bits_from_entropy(double e, double lo, double hi,
                                unsigned min_bits, unsigned max_bits) {
  if (max_bits <= min_bits || !(hi > lo)) return max_bits;
  double u = (e - lo) / (hi - lo);
  if (!(u > 0)) u = 0; /* also NaN */
  if (u > 1) u = 1;
  return min_bits + (unsigned)floor(u * (double)(max_bits - min_bits) + 0.5);
}

float alcm_scale_from_range(double absmax, unsigned bits) {
  const uint32_t qmax = alcm_qmax(bits);
  if (qmax == 0 || !(absmax > 0)) return 0.0f;
  const double d = absmax / (double)qmax;
  if (d >= (double)FLT_MAX) return FLT_MAX;
  float f = (float)d;
  if (f == 0.0f) f = nextafterf(0.0f, 1.0f);
  /* (float)d may round below d: step up until scale * qmax covers
   * absmax, so that no element is clamped (at most two steps). */
  while ((double)f * (double)qmax < absmax && f < FLT_MAX)
    f = nextafterf(f, INFINITY);
  return f;
}

int32_t alcm_quantize(double x, float scale, unsigned bits) {
  if (!(scale > 0)) return 0;
  const double qmax = (double)alcm_qmax(bits);
  const double v = floor(x / (double)scale + 0.5);
  if (v >= qmax) return (int32_t)qmax;
  if (v <= -qmax) return -(int32_t)qmax;
  return (int32_t)v;
}

void alcm_quant_channel_error(unsigned dtype, const uint8_t *data,
                              const alcm_chgeom *g, size_t c,
                              const uint8_t *mask, float scale, unsigned bits,
                              alcm_qerr *e) {
  const size_t n = g->outer * g->inner;
  alcm_qerr r = {0, 0, 0};
  for (size_t k = 0; k < n; k++) {
    const size_t i = alcm_chgeom_index(g, c, k);
    const double x = alcm_elem_load(dtype, data, i);
    double y = 0.0;
    if (alcm_mask_kept(mask, i))
      y = alcm_elem_round(dtype,
                          alcm_dequant(scale, alcm_quantize(x, scale, bits)));
    const double d = fabs(x - y);
    if (d > r.max_abs) r.max_abs = d;
    r.sse += d * d;
    r.ssx += x * x;
  }
  *e = r;
}

/* ---- pruning ----------------------------------------------------------
 * The k-th smallest magnitude is found by a two-pass radix select on the
 * bits of |x| as f32 (a non-negative float orders like its bit pattern):
 * O(n), no copy of the tensor, 512 KiB of counters. */
#define RADIX 65536u

static bool prune_key(unsigned dtype, const uint8_t *data, size_t i,
                      double cap_abs, uint32_t *key) {
  const double a = fabs(alcm_elem_load(dtype, data, i));
  if (a > cap_abs) return false;
  const float f = (float)a;
  memcpy(key, &f, 4);
  return true;
}

/* Find the key of rank `want` (0-based) among eligible keys whose high
 * half is hi (or every key when hi < 0). */
static uint32_t select_half(unsigned dtype, const uint8_t *data, size_t n,
                            double cap_abs, uint64_t *count, long hi,
                            uint64_t *want) {
  memset(count, 0, RADIX * sizeof *count);
  for (size_t i = 0; i < n; i++) {
    uint32_t key;
    if (!prune_key(dtype, data, i, cap_abs, &key)) continue;
    if (hi < 0)
      count[key >> 16]++;
    else if ((long)(key >> 16) == hi)
      count[key & 0xffffu]++;
  }
  uint32_t b = 0;
  while (b < RADIX - 1 && count[b] <= *want) *want -= count[b++];
  return b;
}

alcm_status alcm_prune(unsigned dtype, const uint8_t *data, size_t n,
                       double fraction, double max_drop, double cap_abs,
                       const alcm_mem *mem, uint8_t **mask_ret,
                       size_t *pruned_ret, alcm_msg *msg) {
  *mask_ret = NULL;
  *pruned_ret = 0;
  if (!(fraction >= 0 && fraction <= 1 && max_drop >= 0 && max_drop <= 1))
    return alcm_fail(msg, ALCM_ERR_ARGUMENT,
                     "pruning fraction %g, max drop ratio %g", fraction,
                     max_drop);
  const double f = fraction < max_drop ? fraction : max_drop;
  size_t k = (size_t)floor(f * (double)n);
  if (k > n) k = n;
  size_t eligible = 0;
  for (size_t i = 0; i < n && k; i++) {
    uint32_t key;
    eligible += prune_key(dtype, data, i, cap_abs, &key);
  }
  if (k > eligible) k = eligible;
  if (k == 0) return ALCM_OK;
  uint64_t *const count = alcm_mem_calloc(mem, RADIX, sizeof *count);
  uint8_t *const mask = alcm_mem_alloc(mem, n / 8 + (n % 8 != 0));
  if (!count || !mask) {
    alcm_mem_free(mem, count);
    alcm_mem_free(mem, mask);
    return alcm_fail(msg, ALCM_ERR_NOMEM, "pruning mask of %zu elements", n);
  }
  uint64_t want = k - 1;
  const uint32_t hi = select_half(dtype, data, n, cap_abs, count, -1, &want);
  const uint32_t lo = select_half(dtype, data, n, cap_abs, count, (long)hi,
                                  &want);
  const uint32_t tau = (hi << 16) | lo;
  alcm_mem_free(mem, count);
  /* All kept, padding zero; then clear keys below tau, and keys equal to
   * tau in index order until k are pruned. */
  memset(mask, 0xff, n / 8);
  if (n % 8) mask[n / 8] = (uint8_t)((1u << (n % 8)) - 1u);
  size_t less = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t key;
    if (prune_key(dtype, data, i, cap_abs, &key) && key < tau) {
      mask[i >> 3] &= (uint8_t)~(1u << (i & 7));
      less++;
    }
  }
  size_t ties = k - less;
  for (size_t i = 0; i < n && ties; i++) {
    uint32_t key;
    if (prune_key(dtype, data, i, cap_abs, &key) && key == tau) {
      mask[i >> 3] &= (uint8_t)~(1u << (i & 7));
      ties--;
    }
  }
  *mask_ret = mask;
  *pruned_ret = k;
  return ALCM_OK;
}

alcm_status alcm_mask_check(const uint8_t *mask, size_t mask_size, size_t n,
                            size_t *kept_ret, alcm_msg *msg) {
  const size_t want = n / 8 + (n % 8 != 0);
  if (mask_size != want)
    return alcm_fail(msg, ALCM_ERR_CORRUPT,
                     "pruning mask of %zu bytes for %zu elements", mask_size,
                     n);
  if (n % 8 && (mask[n / 8] >> (n % 8)))
    return alcm_fail(msg, ALCM_ERR_RESERVED,
                     "pruning mask: padding bits of byte %zu", n / 8);
  size_t kept = 0;
  for (size_t i = 0; i < mask_size; i++)
    kept += (size_t)__builtin_popcount(mask[i]);
  if (kept_ret) *kept_ret = kept;
  return ALCM_OK;
}

alcm_status alcm_codes_size(const alcm_chgeom *g, const uint8_t *bits,
                            const uint8_t *mask, unsigned layout,
                            size_t *size_ret, size_t *low_ret,
                            alcm_msg *msg) {
  const size_t per = g->outer * g->inner;
  size_t total = 0, low = 0;
  for (size_t c = 0; c < g->channels; c++) {
    if (bits[c] < 1 || bits[c] > ALCM_BITS_MAX)
      return alcm_fail(msg, ALCM_ERR_CORRUPT, "channel %zu: bit width %u", c,
                       (unsigned)bits[c]);
    size_t kept = per;
    if (mask) {
      kept = 0;
      for (size_t k = 0; k < per; k++)
        kept += alcm_mask_kept(mask, alcm_chgeom_index(g, c, k));
    }
    /* kept <= numel < SIZE_MAX / 16 is not guaranteed: check. */
    size_t bytes;
    if (layout == ALCM_CODE_LAYOUT_PACKED) {
      size_t nbits;
      if (__builtin_mul_overflow(kept, (size_t)bits[c], &nbits))
        return alcm_fail(msg, ALCM_ERR_OVERFLOW, "channel %zu code size", c);
      bytes = nbits / 8 + (nbits % 8 != 0);
    } else if (__builtin_mul_overflow(kept, (size_t)(bits[c] > 8 ? 2 : 1),
                                      &bytes)) {
      return alcm_fail(msg, ALCM_ERR_OVERFLOW, "channel %zu code size", c);
    }
    low += kept;
    if (__builtin_add_overflow(total, bytes, &total))
      return alcm_fail(msg, ALCM_ERR_OVERFLOW, "code size");
  }
  *size_ret = total;
  if (low_ret) *low_ret = low;
  return ALCM_OK;
}
