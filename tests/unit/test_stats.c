/* Unit tests for src/stats.c: element conversion, channel geometry and
 * the six statistics against NumPy (tests/unit/gen_stats_expected.py).
 * Tolerance: |got - want| <= 1e-9 * max(1, |want|) - the C code sums in a
 * different order than NumPy's pairwise sums; both are float64. */
#include <criterion/criterion.h>
#include <math.h>

#include "adaptive.h"
#include "stats_expected.h"

static void le_bytes(uint8_t *dst, const void *bits, size_t n, size_t w) {
  for (size_t i = 0; i < n; i++) {
    uint64_t v = 0;
    memcpy(&v, (const uint8_t *)bits + i * w, w); /* host is little-endian */
    for (size_t k = 0; k < w; k++) dst[i * w + k] = (uint8_t)(v >> (8 * k));
  }
}

static void near(double got, double want, const char *what, size_t row) {
  cr_assert(fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want)),
            "%s row %zu: got %.17g want %.17g", what, row, got, want);
}

static void check_variant(unsigned dtype, const void *bits, size_t w,
                          const double (*expect)[6], const char *name) {
  const size_t n = SX_C * SX_A * SX_B;
  uint8_t data[SX_C * SX_A * SX_B * 8];
  le_bytes(data, bits, n, w);
  alcm_stats s;
  alcm_stats_tensor(dtype, data, n, &s);
  for (int k = 0; k < 6; k++) near(s.v[k], expect[0][k], name, 0);
  const uint64_t shape[3] = {SX_C, SX_A, SX_B};
  alcm_chgeom g;
  cr_assert_eq(alcm_chgeom_init(&g, 3, shape, 0, NULL), ALCM_OK);
  cr_assert_eq(g.channels, SX_C);
  for (size_t c = 0; c < SX_C; c++) {
    alcm_stats_channel(dtype, data, &g, c, &s);
    for (int k = 0; k < 6; k++) near(s.v[k], expect[1 + c][k], name, 1 + c);
  }
  cr_assert_eq(alcm_chgeom_init(&g, 3, shape, 2, NULL), ALCM_OK);
  cr_assert_eq(g.channels, SX_B);
  for (size_t c = 0; c < SX_B; c++) {
    alcm_stats_channel(dtype, data, &g, c, &s);
    for (int k = 0; k < 6; k++)
      near(s.v[k], expect[1 + SX_C + c][k], name, 1 + SX_C + c);
  }
}

Test(stats, f32_against_numpy) {
  check_variant(ALCM_DTYPE_F32, sx_f32_bits, 4, sx_f32_expect, "f32");
}
Test(stats, f64_against_numpy) {
  check_variant(ALCM_DTYPE_F64, sx_f64_bits, 8, sx_f64_expect, "f64");
}
Test(stats, f16_against_numpy) {
  check_variant(ALCM_DTYPE_F16, sx_f16_bits, 2, sx_f16_expect, "f16");
}
Test(stats, bf16_against_numpy) {
  check_variant(ALCM_DTYPE_BF16, sx_bf16_bits, 2, sx_bf16_expect, "bf16");
}

Test(stats, zero_variance_and_empty) {
  const float v[4] = {2.5f, 2.5f, 2.5f, 2.5f};
  alcm_stats s;
  alcm_stats_tensor(ALCM_DTYPE_F32, (const uint8_t *)v, 4, &s);
  cr_assert_eq(s.v[ALCM_STAT_MEAN], 2.5);
  cr_assert_eq(s.v[ALCM_STAT_VAR], 0.0);
  cr_assert_eq(s.v[ALCM_STAT_SKEW], 0.0);
  cr_assert_eq(s.v[ALCM_STAT_KURT], 0.0);
  cr_assert_eq(s.absmax, 2.5);
  alcm_stats_tensor(ALCM_DTYPE_F32, (const uint8_t *)v, 0, &s);
  for (int k = 0; k < 6; k++) cr_assert_eq(s.v[k], 0.0);
}

Test(stats, nonfinite_found) {
  float v[5] = {1, 2, 3, 4, 5};
  cr_assert_eq(alcm_first_nonfinite(ALCM_DTYPE_F32, (uint8_t *)v, 5), 5);
  v[3] = NAN;
  cr_assert_eq(alcm_first_nonfinite(ALCM_DTYPE_F32, (uint8_t *)v, 5), 3);
  v[1] = -INFINITY;
  cr_assert_eq(alcm_first_nonfinite(ALCM_DTYPE_F32, (uint8_t *)v, 5), 1);
  const uint16_t h[2] = {0x3c00, 0x7c00}; /* 1.0, +inf in f16 */
  cr_assert_eq(alcm_first_nonfinite(ALCM_DTYPE_F16, (const uint8_t *)h, 2), 1);
}

Test(stats, geometry_and_axis_defaults) {
  const uint64_t shape[4] = {3, 3, 16, 32}; /* HWIO kernel */
  cr_assert_eq(alcm_channel_axis_default(ALCM_LAYOUT_OUT_LAST, 4), 3);
  cr_assert_eq(alcm_channel_axis_default(ALCM_LAYOUT_OUT_FIRST, 4), 0);
  cr_assert_eq(alcm_channel_axis_default(ALCM_LAYOUT_OUT_LAST, 0), 0);
  alcm_chgeom g;
  cr_assert_eq(alcm_chgeom_init(&g, 4, shape, 3, NULL), ALCM_OK);
  cr_assert_eq(g.outer, 3 * 3 * 16);
  cr_assert_eq(g.inner, 1);
  cr_assert_eq(g.channels, 32);
  cr_assert_eq(alcm_chgeom_index(&g, 5, 2), 2 * 32 + 5);
  cr_assert_eq(alcm_chgeom_init(&g, 4, shape, 1, NULL), ALCM_OK);
  cr_assert_eq(g.outer, 3);
  cr_assert_eq(g.inner, 16 * 32);
  cr_assert_eq(alcm_chgeom_index(&g, 2, 512 + 7), (1 * 3 + 2) * 512 + 7);
  alcm_msg m;
  cr_assert_eq(alcm_chgeom_init(&g, 4, shape, 4, &m), ALCM_ERR_ARGUMENT);
  cr_assert(strstr(m.text, "axis 4"));
  cr_assert_eq(alcm_chgeom_init(&g, 0, NULL, 0, NULL), ALCM_OK);
  cr_assert_eq(g.numel, 1);
  const uint64_t big[2] = {UINT64_MAX / 2, 4};
  cr_assert_eq(alcm_chgeom_init(&g, 2, big, 0, NULL), ALCM_ERR_OVERFLOW);
}

/* Rounding to f16/bf16 is to nearest, ties to even, including subnormal
 * and overflow cases; checked against the exact definitions. */
Test(stats, round_to_half_and_bf16) {
  cr_assert_eq(alcm_elem_round(ALCM_DTYPE_F16, 1.0 + 0x1p-11), 1.0); /* tie->even */
  cr_assert_eq(alcm_elem_round(ALCM_DTYPE_F16, 1.0 + 3 * 0x1p-11),
               1.0 + 0x1p-9);                              /* tie->even up */
  cr_assert_eq(alcm_elem_round(ALCM_DTYPE_F16, 65504.0), 65504.0);
  cr_assert(isinf(alcm_elem_round(ALCM_DTYPE_F16, 65520.0)));
  cr_assert_eq(alcm_elem_round(ALCM_DTYPE_F16, 0x1p-24), 0x1p-24); /* min sub */
  cr_assert_eq(alcm_elem_round(ALCM_DTYPE_F16, 0x1p-25), 0.0);     /* tie->0 */
  cr_assert_eq(alcm_elem_round(ALCM_DTYPE_F16, 0x1.8p-25), 0x1p-24);
  cr_assert_eq(alcm_elem_round(ALCM_DTYPE_F16, -3 * 0x1p-25), -0x1p-23);
  cr_assert_eq(alcm_elem_round(ALCM_DTYPE_F16, 0x1.ffcp-15), 0x1p-14); /* sub->normal carry */
  cr_assert_eq(alcm_elem_round(ALCM_DTYPE_BF16, 1.0 + 0x1p-8), 1.0);
  cr_assert_eq(alcm_elem_round(ALCM_DTYPE_BF16, 1.0 + 0x1p-8 + 0x1p-30),
               1.0 + 0x1p-7);
  cr_assert_eq(alcm_elem_round(ALCM_DTYPE_BF16, 1e-300), 0.0);
  cr_assert_eq(alcm_elem_round(ALCM_DTYPE_F32, 0.1), (double)0.1f);
  /* store/load agree with round for every dtype */
  const unsigned dts[4] = {ALCM_DTYPE_F16, ALCM_DTYPE_BF16, ALCM_DTYPE_F32,
                           ALCM_DTYPE_F64};
  uint64_t st = 1;
  for (int d = 0; d < 4; d++)
    for (int i = 0; i < 2000; i++) {
      const double v = (alcm_rng_uniform(&st) - 0.5) *
                       ldexp(1.0, (int)(alcm_rng_next(&st) % 60) - 40);
      uint8_t b[8];
      alcm_elem_store(dts[d], b, 0, v);
      cr_assert_eq(alcm_elem_load(dts[d], b, 0), alcm_elem_round(dts[d], v));
    }
}

/* f16 round trip of all 65536 patterns (NaN aside). */
Test(stats, half_exhaustive_round_trip) {
  for (uint32_t u = 0; u < 65536; u++) {
    uint8_t b[2] = {(uint8_t)u, (uint8_t)(u >> 8)};
    const double v = alcm_elem_load(ALCM_DTYPE_F16, b, 0);
    if (v != v) continue;
    uint8_t o[2];
    alcm_elem_store(ALCM_DTYPE_F16, o, 0, v);
    cr_assert(o[0] == b[0] && o[1] == b[1], "pattern %04x", (unsigned)u);
  }
}
