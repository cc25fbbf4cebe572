/* Unit tests for src/quant.c and src/adaptive.c: bit widths, scales,
 * error bounds as property tests over random and adversarial channels,
 * pruning and its mask, the code layouts (1.3 byte planes, 1.2 packed),
 * and decode of corrupt input. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>

#include "adaptive.h"

static alcm_mem mem;
static void setup(void) { alcm_mem_init(&mem, NULL, 0); }
TestSuite(quant, .init = setup);

static uint8_t *make(unsigned dtype, const double *v, size_t n) {
  uint8_t *const b = malloc(n * alcm_dtype_size((int)dtype) + 1);
  for (size_t i = 0; i < n; i++) alcm_elem_store(dtype, b, i, v[i]);
  return b;
}

/* Encode, decode, and check that the figures describe the output. */
static alcm_status roundtrip(const alcm_adaptive_params *p, unsigned dtype,
                             unsigned ndim, const uint64_t *shape,
                             const double *v, size_t n,
                             alcm_adaptive_result *r, double *max_err) {
  uint8_t *const in = make(dtype, v, n);
  const size_t es = alcm_dtype_size((int)dtype);
  alcm_msg msg;
  alcm_status s =
      alcm_adaptive_encode(p, dtype, ndim, shape, in, n * es, &mem, r, &msg);
  if (s) {
    cr_log_info("encode: %s", msg.text);
    free(in);
    return s;
  }
  uint8_t *const out = malloc(n * es + 1);
  cr_assert_eq(alcm_adaptive_decode(dtype, ndim, shape, r->channel_axis,
                                    r->scales, r->bits, r->mask, r->mask_size,
                                    r->codes, r->code_size, out, n * es, &msg),
               ALCM_OK, "%s", msg.text);
  double me = 0, sse = 0;
  for (size_t i = 0; i < n; i++) {
    const double x = alcm_elem_load(dtype, in, i);
    const double y = alcm_elem_load(dtype, out, i);
    cr_assert(isfinite(y));
    if (!alcm_mask_kept(r->mask, i)) cr_assert_eq(y, 0.0);
    me = fmax(me, fabs(x - y));
    sse += (x - y) * (x - y);
  }
  cr_assert_eq(me, r->max_abs_err, "measured %g reported %g", me,
               r->max_abs_err);
  cr_assert(fabs(sqrt(sse / (double)n) - r->rmse) <= 1e-12 * (1 + r->rmse));
  *max_err = me;
  free(in);
  free(out);
  return ALCM_OK;
}

Test(quant, bits_from_entropy_mapping) {
  cr_assert_eq(alcm_bits_from_entropy(0.2, 0.2, 0.9, 4, 8), 4);
  cr_assert_eq(alcm_bits_from_entropy(0.9, 0.2, 0.9, 4, 8), 8);
  cr_assert_eq(alcm_bits_from_entropy(0.55, 0.2, 0.9, 4, 8), 6);
  cr_assert_eq(alcm_bits_from_entropy(-5, 0.2, 0.9, 4, 8), 4);
  cr_assert_eq(alcm_bits_from_entropy(5, 0.2, 0.9, 4, 8), 8);
  cr_assert_eq(alcm_bits_from_entropy(NAN, 0.2, 0.9, 4, 8), 4);
  cr_assert_eq(alcm_bits_from_entropy(0.3, 0.2, 0.9, 8, 8), 8);
}

Test(quant, scale_covers_range) {
  uint64_t st = 5;
  for (int i = 0; i < 20000; i++) {
    const double a = ldexp(alcm_rng_uniform(&st) + 0.5,
                           (int)(alcm_rng_next(&st) % 200) - 100);
    const unsigned b = 2 + (unsigned)(alcm_rng_next(&st) % 15);
    const float s = alcm_scale_from_range(a, b);
    cr_assert((double)s * alcm_qmax(b) >= a);
    cr_assert((double)s * alcm_qmax(b) <= a * (1 + 1e-6));
    cr_assert_eq(alcm_quantize(a, s, b), (int32_t)alcm_qmax(b));
    cr_assert_eq(alcm_quantize(-a, s, b), -(int32_t)alcm_qmax(b));
  }
  cr_assert_eq(alcm_scale_from_range(0, 8), 0.0f);
  cr_assert_eq(alcm_scale_from_range(1, 1), 0.0f); /* 1 bit: zero only */
  cr_assert_eq(alcm_quantize(5, 0.0f, 8), 0);
  cr_assert_eq(alcm_scale_from_range(3e38, 2), 3e38f);
}

/* Every bound, on random channels in every dtype: the reported figures
 * are the measured ones and the bound holds. */
Test(quant, bounds_hold_random_channels) {
  const unsigned dts[4] = {ALCM_DTYPE_F32, ALCM_DTYPE_F64, ALCM_DTYPE_F16,
                           ALCM_DTYPE_BF16};
  enum { C = 7, K = 53, N = C * K };
  static double v[N];
  uint64_t st = 11;
  for (int trial = 0; trial < 24; trial++) {
    const unsigned dt = dts[trial % 4];
    for (size_t c = 0; c < C; c++) {
      const double sc = ldexp(1.0, (int)(alcm_rng_next(&st) % 12) - 8);
      for (size_t k = 0; k < K; k++) {
        const double u = alcm_rng_uniform(&st) - 0.5;
        v[c * K + k] = (c == 3 ? u * u * u * 40 : u) * sc + (c == 5 ? sc : 0);
      }
    }
    const uint64_t shape[2] = {C, K};
    alcm_adaptive_params p;
    alcm_adaptive_params_init(&p);
    p.map = (alcm_map_source)(trial % 2 ? ALCM_MAP_MEASURED : ALCM_MAP_UNIFORM);
    p.prune_fraction = trial % 3 == 0 ? 0.2 : 0.0;
    alcm_adaptive_result r;
    double me;
    /* max abs */
    p.bound = ALCM_BOUND_MAX_ABS;
    p.bound_value = 1e-3;
    cr_assert_eq(roundtrip(&p, dt, 2, shape, v, N, &r, &me), ALCM_OK);
    cr_assert(me <= 1e-3, "dtype %u max err %g", dt, me);
    for (size_t c = 0; c < C; c++) cr_assert(r.bits[c] >= 1 && r.bits[c] <= 16);
    alcm_adaptive_result_free(&r, &mem);
    /* relative to absmax */
    p.bound = ALCM_BOUND_REL;
    p.bound_value = 0.01;
    cr_assert_eq(roundtrip(&p, dt, 2, shape, v, N, &r, &me), ALCM_OK);
    double amax = 0;
    for (size_t i = 0; i < N; i++)
      amax = fmax(amax, fabs(alcm_elem_round(dt, v[i])));
    cr_assert(me <= 0.01 * amax);
    alcm_adaptive_result_free(&r, &mem);
    /* SNR */
    p.bound = ALCM_BOUND_SNR;
    p.bound_value = 35;
    cr_assert_eq(roundtrip(&p, dt, 2, shape, v, N, &r, &me), ALCM_OK);
    cr_assert(r.snr_db >= 35, "snr %g", r.snr_db);
    alcm_adaptive_result_free(&r, &mem);
    /* no bound: map bits within [min, base], range scales: error <= step/2
     * on kept elements */
    p.bound = ALCM_BOUND_NONE;
    cr_assert_eq(roundtrip(&p, dt, 2, shape, v, N, &r, &me), ALCM_OK);
    for (size_t c = 0; c < C; c++)
      cr_assert(r.bits[c] >= 4 && r.bits[c] <= 8);
    alcm_adaptive_result_free(&r, &mem);
  }
}

static void adversarial(const double *v, size_t n, unsigned dt,
                        alcm_bound_kind bound, double value) {
  const uint64_t shape[2] = {2, n / 2};
  alcm_adaptive_params p;
  alcm_adaptive_params_init(&p);
  p.bound = bound;
  p.bound_value = value;
  alcm_adaptive_result r;
  double me;
  cr_assert_eq(roundtrip(&p, dt, 2, shape, v, n, &r, &me), ALCM_OK);
  if (bound == ALCM_BOUND_MAX_ABS) cr_assert(me <= value);
  alcm_adaptive_result_free(&r, &mem);
}

Test(quant, adversarial_channels) {
  enum { N = 64 };
  double v[N];
  for (int mode = 0; mode < 6; mode++) {
    for (size_t i = 0; i < N; i++) {
      const double s = (double)((i * 37) % 23) / 11.0 - 1.0;
      v[i] = mode == 0   ? 0.0                       /* all zero */
             : mode == 1 ? 0.75                      /* constant */
             : mode == 2 ? (i < N / 2 ? 1e30 * s : s) /* huge range */
             : mode == 3 ? 1e-30 * s                 /* tiny (f32 normal) */
             : mode == 4 ? (i % 2 ? -3e38 : 3e38)    /* near FLT_MAX */
                         : ldexp(s, -140);            /* f32 subnormals */
    }
    for (int b = 0; b < 3; b++) {
      const alcm_bound_kind k = b == 0   ? ALCM_BOUND_NONE
                                : b == 1 ? ALCM_BOUND_SNR
                                         : ALCM_BOUND_REL;
      adversarial(v, N, ALCM_DTYPE_F32, k, b == 1 ? 20 : 0.01);
    }
    adversarial(v, N, ALCM_DTYPE_F64, ALCM_BOUND_NONE, 0);
  }
  /* constant and zero channels decode exactly */
  for (size_t i = 0; i < N; i++) v[i] = i < N / 2 ? 0.0 : -2.5;
  const uint64_t shape[2] = {2, N / 2};
  alcm_adaptive_params p;
  alcm_adaptive_params_init(&p);
  alcm_adaptive_result r;
  double me;
  cr_assert_eq(roundtrip(&p, ALCM_DTYPE_F32, 2, shape, v, N, &r, &me),
               ALCM_OK);
  /* zero channel exact; constant channel within one f32 ulp */
  cr_assert(me <= 2.5 * 0x1p-23, "%g", me);
  for (size_t i = 0; i < N / 2; i++) cr_assert_eq(v[i], 0.0);
  cr_assert_eq(r.bits[0], 1); /* all-zero channel costs one bit each */
  cr_assert_eq(r.scales[0], 0.0f);
  alcm_adaptive_result_free(&r, &mem);
}

Test(quant, nonfinite_and_unreachable_rejected) {
  enum { N = 16 };
  double v[N];
  for (size_t i = 0; i < N; i++) v[i] = (double)i / 7.0;
  const uint64_t shape[1] = {N};
  alcm_adaptive_params p;
  alcm_adaptive_params_init(&p);
  alcm_adaptive_result r;
  alcm_msg msg;
  const double bad[3] = {NAN, INFINITY, -INFINITY};
  const unsigned dts[4] = {ALCM_DTYPE_F32, ALCM_DTYPE_F64, ALCM_DTYPE_F16,
                           ALCM_DTYPE_BF16};
  for (int d = 0; d < 4; d++)
    for (int k = 0; k < 3; k++) {
      v[9] = bad[k];
      uint8_t *const in = make(dts[d], v, N);
      cr_assert_eq(alcm_adaptive_encode(&p, dts[d], 1, shape, in,
                                        N * alcm_dtype_size((int)dts[d]),
                                        &mem, &r, &msg),
                   ALCM_ERR_UNSUPPORTED);
      cr_assert(strstr(msg.text, "element 9"), "%s", msg.text);
      cr_assert_null(r.codes);
      free(in);
    }
  v[9] = 1;
  /* a bound below what 16 bits can reach: lossless instead */
  p.bound = ALCM_BOUND_MAX_ABS;
  p.bound_value = 1e-12;
  uint8_t *in = make(ALCM_DTYPE_F32, v, N);
  cr_assert_eq(alcm_adaptive_encode(&p, ALCM_DTYPE_F32, 1, shape, in, N * 4,
                                    &mem, &r, &msg),
               ALCM_ERR_UNSUPPORTED);
  p.bound = ALCM_BOUND_SNR;
  p.bound_value = 200;
  cr_assert_eq(alcm_adaptive_encode(&p, ALCM_DTYPE_F32, 1, shape, in, N * 4,
                                    &mem, &r, &msg),
               ALCM_ERR_UNSUPPORTED);
  free(in);
  /* f64 beyond f32 scales */
  v[3] = 1e300;
  in = make(ALCM_DTYPE_F64, v, N);
  p.bound = ALCM_BOUND_NONE;
  cr_assert_eq(alcm_adaptive_encode(&p, ALCM_DTYPE_F64, 1, shape, in, N * 8,
                                    &mem, &r, &msg),
               ALCM_ERR_UNSUPPORTED);
  /* argument errors */
  cr_assert_eq(alcm_adaptive_encode(&p, ALCM_DTYPE_F64, 1, shape, in, N * 8 - 1,
                                    &mem, &r, &msg),
               ALCM_ERR_SIZE);
  cr_assert_eq(alcm_adaptive_encode(&p, ALCM_DTYPE_I32, 1, shape, in, N * 4,
                                    &mem, &r, &msg),
               ALCM_ERR_ARGUMENT);
  p.min_precision = 9;
  cr_assert_eq(alcm_adaptive_encode(&p, ALCM_DTYPE_F64, 1, shape, in, N * 8,
                                    &mem, &r, &msg),
               ALCM_ERR_ARGUMENT);
  p.min_precision = 4;
  p.map = ALCM_MAP_PREDICTOR; /* no predictor given */
  cr_assert_eq(alcm_adaptive_encode(&p, ALCM_DTYPE_F64, 1, shape, in, N * 8,
                                    &mem, &r, &msg),
               ALCM_ERR_ARGUMENT);
  free(in);
}

/* ---- pruning ---- */

Test(quant, prune_fraction_cap_and_ties) {
  enum { N = 203 };
  float v[N];
  for (size_t i = 0; i < N; i++) v[i] = (float)((i * 7) % 50) - 25.0f;
  uint8_t *mask;
  size_t pruned;
  /* 10 %: the 20 smallest magnitudes, ties by lower index */
  cr_assert_eq(alcm_prune(ALCM_DTYPE_F32, (uint8_t *)v, N, 0.1, 0.25,
                          INFINITY, &mem, &mask, &pruned, NULL),
               ALCM_OK);
  cr_assert_eq(pruned, 20);
  size_t kept;
  cr_assert_eq(alcm_mask_check(mask, (N + 7) / 8, N, &kept, NULL), ALCM_OK);
  cr_assert_eq(kept, N - 20);
  float maxp = 0, mink = 1e9f;
  for (size_t i = 0; i < N; i++) {
    if (alcm_mask_kept(mask, i))
      mink = fminf(mink, fabsf(v[i]));
    else
      maxp = fmaxf(maxp, fabsf(v[i]));
  }
  cr_assert(maxp <= mink);
  /* ties at the threshold are pruned in index order */
  size_t last_pruned_tie = 0, first_kept_tie = N;
  for (size_t i = 0; i < N; i++)
    if (fabsf(v[i]) == maxp) {
      if (!alcm_mask_kept(mask, i)) last_pruned_tie = i;
      else if (first_kept_tie == N) first_kept_tie = i;
    }
  cr_assert(first_kept_tie == N || last_pruned_tie < first_kept_tie);
  cr_assert_eq(mask[N / 8] >> (N % 8), 0); /* padding zero */
  free(mask);
  /* never above max_drop_ratio, even when asked for 90 % */
  cr_assert_eq(alcm_prune(ALCM_DTYPE_F32, (uint8_t *)v, N, 0.9, 0.25,
                          INFINITY, &mem, &mask, &pruned, NULL),
               ALCM_OK);
  cr_assert_eq(pruned, (size_t)(0.25 * N));
  free(mask);
  /* all zeros: still only 25 % */
  float z[N];
  memset(z, 0, sizeof z);
  cr_assert_eq(alcm_prune(ALCM_DTYPE_F32, (uint8_t *)z, N, 1.0, 0.25,
                          INFINITY, &mem, &mask, &pruned, NULL),
               ALCM_OK);
  cr_assert_eq(pruned, 50);
  cr_assert_eq(alcm_mask_check(mask, (N + 7) / 8, N, &kept, NULL), ALCM_OK);
  cr_assert_eq(kept, N - 50);
  for (size_t i = 0; i < 50; i++) cr_assert(!alcm_mask_kept(mask, i));
  free(mask);
  /* cap_abs: nothing above it is pruned */
  cr_assert_eq(alcm_prune(ALCM_DTYPE_F32, (uint8_t *)v, N, 0.25, 0.25, 2.0,
                          &mem, &mask, &pruned, NULL),
               ALCM_OK);
  for (size_t i = 0; i < N; i++)
    if (!alcm_mask_kept(mask, i)) cr_assert(fabsf(v[i]) <= 2.0f);
  free(mask);
  /* nothing to prune: no mask */
  cr_assert_eq(alcm_prune(ALCM_DTYPE_F32, (uint8_t *)v, N, 0.001, 0.25,
                          INFINITY, &mem, &mask, &pruned, NULL),
               ALCM_OK);
  cr_assert_null(mask);
  cr_assert_eq(alcm_prune(ALCM_DTYPE_F32, (uint8_t *)v, N, 1.5, 0.25,
                          INFINITY, &mem, &mask, &pruned, NULL),
               ALCM_ERR_ARGUMENT);
}

Test(quant, mask_round_trip_through_encode) {
  enum { C = 5, K = 41, N = C * K };
  double v[N];
  uint64_t st = 17;
  for (size_t i = 0; i < N; i++) v[i] = alcm_rng_uniform(&st) - 0.5;
  const uint64_t shape[2] = {K, C}; /* channels on the last axis */
  alcm_adaptive_params p;
  alcm_adaptive_params_init(&p);
  p.channel_axis = 1;
  p.prune_fraction = 0.25;
  alcm_adaptive_result r;
  double me;
  cr_assert_eq(roundtrip(&p, ALCM_DTYPE_F32, 2, shape, v, N, &r, &me),
               ALCM_OK);
  cr_assert_eq(r.channels, C);
  cr_assert_eq(r.pruned_count, N / 4);
  cr_assert_eq(r.mask_size, (N + 7) / 8);
  cr_assert(fabs(r.pruned - (double)(N / 4) / N) < 1e-12);
  /* pruned positions cost no code bits */
  size_t want = 0;
  for (size_t c = 0; c < C; c++) {
    size_t kept = 0;
    for (size_t k = 0; k < K; k++) kept += alcm_mask_kept(r.mask, k * C + c);
    want += kept * (r.bits[c] > 8 ? 2u : 1u); /* 1.3 byte planes */
  }
  cr_assert_eq(r.code_size, want);
  alcm_adaptive_result_free(&r, &mem);
}

/* ---- decode of corrupt sections and codes ---- */

Test(quant, decode_rejects_corruption) {
  enum { C = 3, K = 10, N = C * K };
  double v[N];
  for (size_t i = 0; i < N; i++) v[i] = sin((double)i);
  const uint64_t shape[2] = {C, K};
  alcm_adaptive_params p;
  alcm_adaptive_params_init(&p);
  p.prune_fraction = 0.2;
  p.min_precision = 3;
  p.base_precision = 3;
  uint8_t *in = make(ALCM_DTYPE_F32, v, N);
  alcm_adaptive_result r;
  alcm_msg msg;
  cr_assert_eq(alcm_adaptive_encode(&p, ALCM_DTYPE_F32, 2, shape, in, N * 4,
                                    &mem, &r, &msg),
               ALCM_OK);
  float out[N];
#define DEC(scales, bits, mask, msize, codes, csize)                          \
  alcm_adaptive_decode(ALCM_DTYPE_F32, 2, shape, 0, scales, bits, mask, msize, \
                       codes, csize, out, sizeof out, &msg)
  cr_assert_eq(DEC(r.scales, r.bits, r.mask, r.mask_size, r.codes,
                   r.code_size), ALCM_OK);
  uint8_t bits[C];
  memcpy(bits, r.bits, C);
  bits[1] = 0;
  cr_assert_eq(DEC(r.scales, bits, r.mask, r.mask_size, r.codes, r.code_size),
               ALCM_ERR_CORRUPT);
  bits[1] = 17;
  cr_assert_eq(DEC(r.scales, bits, r.mask, r.mask_size, r.codes, r.code_size),
               ALCM_ERR_CORRUPT);
  float sc[C];
  memcpy(sc, r.scales, sizeof sc);
  sc[2] = -1;
  cr_assert_eq(DEC(sc, r.bits, r.mask, r.mask_size, r.codes, r.code_size),
               ALCM_ERR_CORRUPT);
  sc[2] = NAN;
  cr_assert_eq(DEC(sc, r.bits, r.mask, r.mask_size, r.codes, r.code_size),
               ALCM_ERR_CORRUPT);
  cr_assert_eq(DEC(r.scales, r.bits, r.mask, r.mask_size, r.codes,
                   r.code_size - 1), ALCM_ERR_CORRUPT);
  cr_assert_eq(DEC(r.scales, r.bits, r.mask, r.mask_size - 1, r.codes,
                   r.code_size), ALCM_ERR_CORRUPT);
  cr_assert_eq(DEC(r.scales, r.bits, NULL, 0, r.codes, r.code_size),
               ALCM_ERR_CORRUPT); /* mask missing: sizes disagree */
  uint8_t mask[(N + 7) / 8];
  memcpy(mask, r.mask, sizeof mask);
  mask[N / 8] |= 0x80; /* padding bit */
  cr_assert_eq(DEC(r.scales, r.bits, mask, sizeof mask, r.codes, r.code_size),
               ALCM_ERR_RESERVED);
  uint8_t *codes = malloc(r.code_size);
  memcpy(codes, r.codes, r.code_size);
  codes[0] = 7; /* first 3-bit code = 7 > 2 * qmax (6) */
  cr_assert_eq(DEC(r.scales, r.bits, r.mask, r.mask_size, codes, r.code_size),
               ALCM_ERR_CORRUPT);
  memcpy(codes, r.codes, r.code_size);
  codes[r.code_size - 1] = 0x80; /* last code far above 2 * qmax */
  cr_assert_eq(DEC(r.scales, r.bits, r.mask, r.mask_size, codes,
                   r.code_size), ALCM_ERR_CORRUPT);
  cr_assert_eq(alcm_adaptive_decode(ALCM_DTYPE_F32, 2, shape, 0, r.scales,
                                    r.bits, r.mask, r.mask_size, r.codes,
                                    r.code_size, out, sizeof out - 4, &msg),
               ALCM_ERR_SIZE);
  cr_assert_eq(alcm_adaptive_decode(ALCM_DTYPE_F32, 2, shape, 2, r.scales,
                                    r.bits, r.mask, r.mask_size, r.codes,
                                    r.code_size, out, sizeof out, &msg),
               ALCM_ERR_ARGUMENT);
#undef DEC
  free(codes);
  free(in);
  alcm_adaptive_result_free(&r, &mem);
}

Test(quant, predictor_map_and_sections) {
  alcm_mlp m;
  cr_assert_eq(alcm_mlp_init(&m, &mem, 64, 0.2, 0.9, 42, NULL), ALCM_OK);
  enum { C = 8, K = 100, N = C * K };
  static double v[N];
  uint64_t st = 23;
  for (size_t i = 0; i < N; i++)
    v[i] = (alcm_rng_uniform(&st) - 0.5) * (double)(1 + i / K);
  const uint64_t shape[2] = {C, K};
  alcm_adaptive_params p;
  alcm_adaptive_params_init(&p);
  p.map = ALCM_MAP_PREDICTOR;
  p.predictor = &m;
  alcm_adaptive_result r;
  double me;
  cr_assert_eq(roundtrip(&p, ALCM_DTYPE_F32, 2, shape, v, N, &r, &me),
               ALCM_OK);
  for (size_t c = 0; c < C; c++) {
    cr_assert(r.entropy_map[c] >= 0.2f && r.entropy_map[c] <= 0.9f);
    cr_assert_eq(r.bits[c], alcm_bits_from_entropy(r.entropy_map[c], 0.2, 0.9,
                                                   4, 8));
    /* statistics section: mean of channel c */
    double s = 0;
    for (size_t k = 0; k < K; k++) s += (double)(float)v[c * K + k];
    cr_assert(fabs(r.stats[c * 6] - s / K) < 1e-6);
  }
  alcm_adaptive_result_free(&r, &mem);
  alcm_mlp_free(&m, &mem);
}

/* ---- code layouts (spec/adaptive.md "Codes") ---- */

/* Every width 2..16: codes use the full range -qmax..qmax, one byte per
 * code up to 8 bits, a low and a high plane above; the bytes are the
 * zig-zag codes exactly, and every code above 2 * qmax is rejected. */
Test(quant, byte_layout_widths_2_to_16) {
  enum { C = 3, K = 41, N = C * K };
  static double v[N];
  for (unsigned b = 2; b <= 16; b++) {
    const double qmax = (double)alcm_qmax(b);
    for (size_t c = 0; c < C; c++)
      for (size_t k = 0; k < K; k++) /* -qmax .. qmax, times 2^c */
        v[c * K + k] = ldexp(round(qmax * (2.0 * (double)k / (K - 1) - 1.0)),
                             (int)c - 3);
    const uint64_t shape[2] = {C, K};
    alcm_adaptive_params p;
    alcm_adaptive_params_init(&p);
    p.min_precision = p.base_precision = b;
    alcm_adaptive_result r;
    double me;
    cr_assert_eq(roundtrip(&p, ALCM_DTYPE_F32, 2, shape, v, N, &r, &me),
                 ALCM_OK);
    cr_assert_eq(me, 0.0, "width %u: integers times 2^c are exact", b);
    const size_t per = b > 8 ? 2 : 1;
    cr_assert_eq(r.code_size, N * per, "width %u", b);
    for (size_t c = 0; c < C; c++) {
      cr_assert_eq(r.bits[c], b);
      for (size_t k = 0; k < K; k++) {
        const int32_t q = alcm_quantize(v[c * K + k], r.scales[c], b);
        const uint32_t z = alcm_zigzag(q);
        cr_assert_eq(alcm_unzigzag(z), q);
        cr_assert_eq(r.codes[c * K + k], (uint8_t)z);
        if (b > 8) cr_assert_eq(r.codes[N + c * K + k], (uint8_t)(z >> 8));
      }
    }
    /* a code one above 2 * qmax, in the low or the high plane */
    uint8_t *codes = malloc(r.code_size);
    memcpy(codes, r.codes, r.code_size);
    const uint32_t bad = 2u * alcm_qmax(b) + 1u;
    codes[K + 5] = (uint8_t)bad;
    if (b > 8) codes[N + K + 5] = (uint8_t)(bad >> 8);
    float out[N];
    alcm_msg msg;
    cr_assert_eq(alcm_adaptive_decode(ALCM_DTYPE_F32, 2, shape, 0, r.scales,
                                      r.bits, NULL, 0, codes, r.code_size,
                                      out, sizeof out, &msg),
                 ALCM_ERR_CORRUPT, "width %u", b);
    free(codes);
    alcm_adaptive_result_free(&r, &mem);
  }
}

/* Mixed widths: channels in width order (then index), high bytes last. */
Test(quant, byte_layout_width_order) {
  const uint64_t shape[2] = {3, 2};
  const float scales[3] = {1, 1, 1};
  const uint8_t bits[3] = {9, 2, 5};
  /* channel 1 (2 bits): -1, 1; channel 2 (5 bits): 15, -15;
   * channel 0 (9 bits): 255, -255 (zig-zag 510, 509) */
  const uint8_t codes[8] = {1, 2, 30, 29, 0xfe, 0xfd, 1, 1};
  float out[6];
  alcm_msg msg;
  cr_assert_eq(alcm_adaptive_decode(ALCM_DTYPE_F32, 2, shape, 0, scales, bits,
                                    NULL, 0, codes, sizeof codes, out,
                                    sizeof out, &msg),
               ALCM_OK, "%s", msg.text);
  const float want[6] = {255, -255, -1, 1, 15, -15};
  for (size_t i = 0; i < 6; i++) cr_assert_eq(out[i], want[i], "%zu", i);
  /* sizes: one byte short, one over */
  cr_assert_eq(alcm_adaptive_decode(ALCM_DTYPE_F32, 2, shape, 0, scales, bits,
                                    NULL, 0, codes, 7, out, sizeof out, &msg),
               ALCM_ERR_CORRUPT);
  /* a pruned element has no code: mask keeps all but element 1 */
  const uint8_t mask[1] = {0x3d};
  const uint8_t pruned[6] = {1, 2, 30, 29, 0xfe, 1};
  cr_assert_eq(alcm_adaptive_decode(ALCM_DTYPE_F32, 2, shape, 0, scales, bits,
                                    mask, 1, pruned, sizeof pruned, out,
                                    sizeof out, &msg),
               ALCM_OK, "%s", msg.text);
  const float want2[6] = {255, 0, -1, 1, 15, -15};
  for (size_t i = 0; i < 6; i++) cr_assert_eq(out[i], want2[i], "%zu", i);
  /* 3 > 2 * qmax(2) */
  uint8_t bad[8];
  memcpy(bad, codes, sizeof bad);
  bad[1] = 3;
  cr_assert_eq(alcm_adaptive_decode(ALCM_DTYPE_F32, 2, shape, 0, scales, bits,
                                    NULL, 0, bad, sizeof bad, out, sizeof out,
                                    &msg),
               ALCM_ERR_CORRUPT);
}

/* Format 1.2 (layout PACKED) still decodes: 3-bit offset codes 0, 6, 3
 * packed LSB-first in two bytes; a padding bit is ERR_RESERVED. */
static alcm_status decode_3x3bit(unsigned layout, const uint8_t codes[2],
                                 float out[3]) {
  const uint64_t shape[2] = {1, 3};
  const float scales[1] = {0.5f};
  const uint8_t bits[1] = {3};
  alcm_msg msg;
  return alcm_adaptive_decode_layout(layout, ALCM_DTYPE_F32, 2, shape, 0,
                                     scales, bits, NULL, 0, codes, 2, out,
                                     3 * sizeof(float), &msg);
}

Test(quant, packed_layout_1_2) {
  uint8_t codes[2] = {0xf0, 0x00};
  float out[3];
  cr_assert_eq(decode_3x3bit(ALCM_CODE_LAYOUT_PACKED, codes, out), ALCM_OK);
  cr_assert_eq(out[0], -1.5f);
  cr_assert_eq(out[1], 1.5f);
  cr_assert_eq(out[2], 0.0f);
  codes[1] = 0x80;
  cr_assert_eq(decode_3x3bit(ALCM_CODE_LAYOUT_PACKED, codes, out),
               ALCM_ERR_RESERVED);
  codes[0] = 0xf7; /* first code 7 > 2 * qmax (6) */
  codes[1] = 0;
  cr_assert_eq(decode_3x3bit(ALCM_CODE_LAYOUT_PACKED, codes, out),
               ALCM_ERR_CORRUPT);
  /* the same values in the byte layout take 3 bytes, not 2 */
  cr_assert_eq(decode_3x3bit(ALCM_CODE_LAYOUT_BYTES, codes, out),
               ALCM_ERR_CORRUPT);
}

/* SNR bound: the bound holds for both candidates; when one step for the
 * whole tensor wins, every channel with codes has that step, and a
 * channel with a hundred times the range gets more bits, not a coarser
 * step. */
Test(quant, snr_global_step) {
  enum { C = 6, K = 500, N = C * K };
  static double v[N];
  uint64_t st = 5;
  for (size_t c = 0; c < C; c++)
    for (size_t k = 0; k < K; k++) {
      const double u = alcm_rng_uniform(&st) + alcm_rng_uniform(&st) - 1.0;
      v[c * K + k] = u * (c == 2 ? 100.0 : 1.0 + (double)c / 4);
    }
  const uint64_t shape[2] = {C, K};
  for (int t = 0; t < 4; t++) {
    const double snr = 12.0 + 10.0 * t;
    alcm_adaptive_params p;
    alcm_adaptive_params_init(&p);
    p.bound = ALCM_BOUND_SNR;
    p.bound_value = snr;
    p.prune_fraction = t == 3 ? 0.05 : 0.0;
    alcm_adaptive_result r;
    double me;
    cr_assert_eq(roundtrip(&p, ALCM_DTYPE_F32, 2, shape, v, N, &r, &me),
                 ALCM_OK);
    cr_assert(r.snr_db >= snr, "%g < %g", r.snr_db, snr);
    cr_assert_eq(r.global_step, 1, "at %g dB", snr);
    for (size_t c = 0; c < C; c++)
      if (r.bits[c] > 1) cr_assert_eq(r.scales[c], r.scales[2]);
    cr_assert(r.bits[2] > r.bits[0]);
    alcm_adaptive_result_free(&r, &mem);
  }
}
