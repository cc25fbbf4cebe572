/* Unit tests for src/mlp.c: forward on known weights, gradient against
 * finite differences, bit-exact reproducibility, training convergence,
 * the deterministic exp, and the weights file. */
#include <criterion/criterion.h>
#include <math.h>

#include "adaptive.h"

static alcm_mem mem;
static void setup(void) { alcm_mem_init(&mem, NULL, 0); }
TestSuite(mlp, .init = setup);

Test(mlp, exp_matches_libm) {
  uint64_t st = 3;
  for (int i = 0; i < 100000; i++) {
    const double x = (alcm_rng_uniform(&st) - 0.5) * 1400;
    const double want = exp(x), got = alcm_mlp_exp(x);
    if (want == 0 || isinf(want)) continue;
    cr_assert(fabs(got - want) <= 4e-16 * want, "exp(%.17g)", x);
  }
  cr_assert_eq(alcm_mlp_exp(0), 1.0);
  cr_assert_eq(alcm_mlp_exp(-1000), 0.0);
  cr_assert(isinf(alcm_mlp_exp(1000)));
}

Test(mlp, forward_known_weights) {
  alcm_mlp m;
  cr_assert_eq(alcm_mlp_init(&m, &mem, 2, 0.2, 0.9, 1, NULL), ALCM_OK);
  /* h0 = relu(x0 + 2 x1 + 0.5) ; h1 = relu(-x0 - 1) ; z = 3 h0 - h1 - 1 */
  memset(m.w1, 0, sizeof(double) * 12);
  m.w1[0] = 1;
  m.w1[1] = 2;
  m.w1[6] = -1;
  m.b1[0] = 0.5;
  m.b1[1] = -1;
  m.w2[0] = 3;
  m.w2[1] = -1;
  m.b2 = -1;
  const double x[6] = {0.25, -0.5, 9, 9, 9, 9};
  /* h0 = relu(0.25 - 1 + 0.5) = 0, h1 = relu(-1.25) = 0: z = -1 */
  const double want = 0.2 + 0.7 / (1 + exp(1.0));
  cr_assert(fabs(alcm_mlp_forward(&m, x) - want) < 1e-15);
  const double x2[6] = {1, 0.5, 0, 0, 0, 0}; /* h0 = 2.5, z = 6.5 */
  cr_assert(fabs(alcm_mlp_forward(&m, x2) - (0.2 + 0.7 / (1 + exp(-6.5)))) <
            1e-15);
  alcm_mlp_free(&m, &mem);
}

static double loss_at(const alcm_mlp *m, const double *x, double t) {
  const double y = alcm_mlp_forward(m, x);
  return (y - t) * (y - t);
}

Test(mlp, gradient_matches_finite_differences) {
  alcm_mlp m, g;
  cr_assert_eq(alcm_mlp_init(&m, &mem, 16, 0.2, 0.9, 42, NULL), ALCM_OK);
  cr_assert_eq(alcm_mlp_init(&g, &mem, 16, 0.2, 0.9, 0, NULL), ALCM_OK);
  for (size_t j = 0; j < 16; j++) m.b1[j] = 0.05 * (double)j - 0.3;
  m.b2 = 0.1;
  const double x[6] = {0.3, -0.7, 0.9, 0.1, 0.4, 0.2}, t = 0.8;
  const double loss = alcm_mlp_backward(&m, x, t, &g);
  cr_assert(fabs(loss - loss_at(&m, x, t)) < 1e-15);
  const size_t nw = 16 * 8;
  const double h = 1e-6;
  for (size_t i = 0; i <= nw; i++) {
    double *const w = i < nw ? &m.w1[i] : &m.b2;
    const double an = i < nw ? g.w1[i] : g.b2, keep = *w;
    *w = keep + h;
    const double lp = loss_at(&m, x, t);
    *w = keep - h;
    const double lm = loss_at(&m, x, t);
    *w = keep;
    const double num = (lp - lm) / (2 * h);
    cr_assert(fabs(num - an) <= 1e-7 + 1e-5 * fabs(an),
              "parameter %zu: analytic %.10g numeric %.10g", i, an, num);
  }
  alcm_mlp_free(&m, &mem);
  alcm_mlp_free(&g, &mem);
}

static void make_data(double *x, double *t, size_t n) {
  uint64_t st = 99;
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < 6; k++) x[i * 6 + k] = 2 * alcm_rng_uniform(&st) - 1;
    /* learnable: smooth function of two features, inside [0.2, 0.9] */
    t[i] = 0.55 + 0.3 * tanh(x[i * 6 + 0] - 0.5 * x[i * 6 + 3]);
  }
}

Test(mlp, same_seed_same_bits) {
  enum { N = 300 };
  static double x[N * 6], t[N];
  make_data(x, t, N);
  const alcm_mlp_train_params p = {0.001, 3, 42};
  uint8_t *f[2];
  size_t fs[2];
  for (int r = 0; r < 2; r++) {
    alcm_mlp m;
    cr_assert_eq(alcm_mlp_init(&m, &mem, 64, 0.2, 0.9, 42, NULL), ALCM_OK);
    cr_assert_eq(alcm_mlp_train(&m, &mem, &p, x, t, N, NULL, NULL), ALCM_OK);
    cr_assert_eq(alcm_mlp_save(&m, &mem, &f[r], &fs[r], NULL), ALCM_OK);
    alcm_mlp_free(&m, &mem);
  }
  cr_assert_eq(fs[0], fs[1]);
  cr_assert_eq(memcmp(f[0], f[1], fs[0]), 0);
  /* Golden value: the same bits on every IEEE-754 machine. */
  cr_assert_eq(alcm_hash64(f[0], fs[0]), 0xfbbb5c0c59aa06ccull,
               "hash %016llx", (unsigned long long)alcm_hash64(f[0], fs[0]));
  alcm_mlp a, b;
  cr_assert_eq(alcm_mlp_init(&a, &mem, 64, 0.2, 0.9, 42, NULL), ALCM_OK);
  cr_assert_eq(alcm_mlp_init(&b, &mem, 64, 0.2, 0.9, 43, NULL), ALCM_OK);
  cr_assert_neq(memcmp(a.w1, b.w1, 64 * 8 * sizeof(double)), 0);
  /* Xavier bounds and zero biases */
  const double a1 = sqrt(6.0 / 70), a2 = sqrt(6.0 / 65);
  for (size_t i = 0; i < 64 * 6; i++) cr_assert(fabs(a.w1[i]) <= a1);
  for (size_t j = 0; j < 64; j++) {
    cr_assert(fabs(a.w2[j]) <= a2);
    cr_assert_eq(a.b1[j], 0.0);
  }
  cr_assert_eq(a.b2, 0.0);
  alcm_mlp_free(&a, &mem);
  alcm_mlp_free(&b, &mem);
  alcm_mem_free(&mem, f[0]);
  alcm_mem_free(&mem, f[1]);
}

Test(mlp, loss_decreases_on_learnable_target) {
  enum { N = 2000, E = 30 };
  static double x[N * 6], t[N];
  make_data(x, t, N);
  alcm_mlp m;
  cr_assert_eq(alcm_mlp_init(&m, &mem, 64, 0.2, 0.9, 42, NULL), ALCM_OK);
  double loss[E];
  const alcm_mlp_train_params p = {0.001, E, 42};
  cr_assert_eq(alcm_mlp_train(&m, &mem, &p, x, t, N, loss, NULL), ALCM_OK);
  cr_assert(loss[E - 1] < 0.5 * loss[0], "loss %g -> %g", loss[0],
            loss[E - 1]);
  for (int e = 1; e < E; e++) cr_assert(loss[e] <= loss[e - 1] * 1.01);
  alcm_mlp_free(&m, &mem);
}

Test(mlp, weights_file_round_trip_and_errors) {
  alcm_mlp m, back;
  cr_assert_eq(alcm_mlp_init(&m, &mem, 8, 0.2, 0.9, 5, NULL), ALCM_OK);
  m.b2 = 0.125;
  uint8_t *f;
  size_t n;
  cr_assert_eq(alcm_mlp_save(&m, &mem, &f, &n, NULL), ALCM_OK);
  cr_assert_eq(n, 40 + 8 * (8 * 8 + 1) + 8);
  cr_assert_eq(alcm_mlp_load(&back, &mem, f, n, NULL), ALCM_OK);
  cr_assert_eq(back.hidden, 8);
  cr_assert_eq(memcmp(back.w1, m.w1, 64 * sizeof(double)), 0);
  cr_assert_eq(back.b2, 0.125);
  const double x[6] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
  cr_assert_eq(alcm_mlp_forward(&m, x), alcm_mlp_forward(&back, x));
  alcm_mlp_free(&back, &mem);
  alcm_msg msg;
  cr_assert_eq(alcm_mlp_load(&back, &mem, f, n - 1, &msg), ALCM_ERR_SIZE);
  cr_assert_eq(alcm_mlp_load(&back, &mem, f, 10, &msg), ALCM_ERR_TRUNCATED);
  f[50] ^= 1;
  cr_assert_eq(alcm_mlp_load(&back, &mem, f, n, &msg), ALCM_ERR_CHECKSUM);
  f[50] ^= 1;
  f[0] = 'X';
  cr_assert_eq(alcm_mlp_load(&back, &mem, f, n, &msg), ALCM_ERR_BAD_MAGIC);
  f[0] = 'A';
  f[8] = 2;
  cr_assert_eq(alcm_mlp_load(&back, &mem, f, n, &msg), ALCM_ERR_VERSION);
  f[8] = 1;
  f[16] = 0; /* hidden 0 */
  cr_assert_eq(alcm_mlp_load(&back, &mem, f, n, &msg), ALCM_ERR_CORRUPT);
  cr_assert(strstr(msg.text, "hidden 0"));
  alcm_mem_free(&mem, f);
  alcm_mlp_free(&m, &mem);
  cr_assert_eq(alcm_mlp_init(&m, &mem, 0, 0.2, 0.9, 1, &msg),
               ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_mlp_init(&m, &mem, 4, 0.9, 0.2, 1, &msg),
               ALCM_ERR_ARGUMENT);
}

Test(mlp, features_are_scale_invariant) {
  alcm_stats a, b;
  memset(&a, 0, sizeof a);
  a.v[ALCM_STAT_MEAN] = 0.01;
  a.v[ALCM_STAT_VAR] = 0.0004;
  a.v[ALCM_STAT_STD] = 0.02;
  a.v[ALCM_STAT_SKEW] = -0.5;
  a.v[ALCM_STAT_KURT] = 2;
  a.v[ALCM_STAT_SPARSITY] = 0.1;
  b = a;
  b.v[ALCM_STAT_MEAN] *= 1000;
  b.v[ALCM_STAT_VAR] *= 1e6;
  b.v[ALCM_STAT_STD] *= 1000;
  double xa[6], xb[6];
  alcm_mlp_features(&a, 0.03, xa);
  alcm_mlp_features(&b, 30, xb);
  for (int k = 0; k < 6; k++) cr_assert(fabs(xa[k] - xb[k]) < 1e-12);
  for (int k = 0; k < 6; k++) cr_assert(xa[k] >= -1 && xa[k] <= 1);
  memset(&a, 0, sizeof a); /* all-zero channel */
  a.v[ALCM_STAT_SPARSITY] = 1;
  alcm_mlp_features(&a, 1, xa);
  cr_assert_eq(xa[5], 1.0);
  cr_assert_eq(xa[0], 0.0);
}
