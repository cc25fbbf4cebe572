/*
 * mlp.c - the entropy predictor: a 6 -> H (ReLU) -> 1 (sigmoid scaled to
 * [lo, hi]) perceptron, its gradient, seeded training, and its weights
 * file (spec/adaptive.md "Predictor").
 *
 * Reproducibility: only IEEE-754 double +, -, *, /, sqrt and exact
 * power-of-two scaling are used (exp is built from them below, not taken
 * from libm, whose exp differs between libraries in the last bit), and
 * the build uses -std=c11, which keeps gcc from contracting a*b+c into an
 * FMA. The same seed and data therefore give the same bits everywhere.
 */
#include <math.h>

#include "adaptive.h"

uint64_t alcm_rng_next(uint64_t *state) {
  /* splitmix64: tiny, full period 2^64, passes BigCrush. */
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double alcm_rng_uniform(uint64_t *state) {
  return (double)(alcm_rng_next(state) >> 11) * 0x1.0p-53;
}

double alcm_mlp_exp(double x) {
  if (x != x) return x;
  if (x > 709.7) return INFINITY;
  if (x < -745.2) return 0.0;
  /* x = k ln2 + r, |r| <= ln2/2; ln2 split in two (fdlibm) so that k*hi
   * is exact. */
  const double ln2_hi = 6.93147180369123816490e-01;
  const double ln2_lo = 1.90821492927058770002e-10;
  const double k = floor(x * 1.44269504088896338700e+00 + 0.5);
  const double r = (x - k * ln2_hi) - k * ln2_lo;
  /* Taylor to r^14: truncation < 1e-17 relative for |r| <= 0.35. */
  double p = 1.0 / 87178291200.0;
  static const double inv_fact[] = {
      1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
      1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
      1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
      1.0 / 24.0,         1.0 / 6.0,         0.5,
      1.0,                1.0};
  for (size_t i = 0; i < sizeof inv_fact / sizeof inv_fact[0]; i++)
    p = p * r + inv_fact[i];
  return ldexp(p, (int)k);
}

static double sigmoid(double z) { return 1.0 / (1.0 + alcm_mlp_exp(-z)); }

static alcm_status mlp_alloc(alcm_mlp *m, const alcm_mem *mem,
                             unsigned hidden, double lo, double hi,
                             alcm_msg *msg) {
  memset(m, 0, sizeof *m);
  if (hidden < 1 || hidden > ALCM_MLP_HIDDEN_MAX)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "predictor hidden size %u",
                     hidden);
  if (!(lo >= 0 && lo < hi && hi <= 1))
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "predictor range [%g, %g]", lo,
                     hi);
  m->hidden = hidden;
  m->lo = lo;
  m->hi = hi;
  m->w1 = alcm_mem_calloc(mem, (size_t)hidden * 8u, sizeof(double));
  if (!m->w1) return alcm_fail(msg, ALCM_ERR_NOMEM, "predictor weights");
  m->b1 = m->w1 + (size_t)hidden * ALCM_MLP_INPUTS;
  m->w2 = m->b1 + hidden;
  return ALCM_OK;
}

alcm_status alcm_mlp_init(alcm_mlp *m, const alcm_mem *mem, unsigned hidden,
                          double lo, double hi, uint64_t seed, alcm_msg *msg) {
  const alcm_status s = mlp_alloc(m, mem, hidden, lo, hi, msg);
  if (s) return s;
  /* Xavier-uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)). */
  uint64_t st = seed;
  const double a1 = sqrt(6.0 / (double)(ALCM_MLP_INPUTS + hidden));
  const double a2 = sqrt(6.0 / (double)(hidden + 1));
  for (size_t i = 0; i < (size_t)hidden * ALCM_MLP_INPUTS; i++)
    m->w1[i] = (2.0 * alcm_rng_uniform(&st) - 1.0) * a1;
  for (size_t j = 0; j < hidden; j++)
    m->w2[j] = (2.0 * alcm_rng_uniform(&st) - 1.0) * a2;
  return ALCM_OK;
}

void alcm_mlp_free(alcm_mlp *m, const alcm_mem *mem) {
  if (!m) return;
  alcm_mem_free(mem, m->w1);
  memset(m, 0, sizeof *m);
}

static double clamp1(double v) { return v < -1 ? -1 : v > 1 ? 1 : v; }

void alcm_mlp_features(const alcm_stats *s, double tensor_rms,
                       double x[ALCM_MLP_INPUTS]) {
  const double mean = s->v[ALCM_STAT_MEAN], var = s->v[ALCM_STAT_VAR];
  const double sd = s->v[ALCM_STAT_STD];
  const double rms = sqrt(mean * mean + var);
  memset(x, 0, sizeof(double) * ALCM_MLP_INPUTS);
  x[5] = s->v[ALCM_STAT_SPARSITY];
  if (!(rms > 0) || !isfinite(rms)) return;
  x[0] = mean / rms;
  x[1] = tensor_rms > 0 && var > 0
             ? clamp1(log2(var / (tensor_rms * tensor_rms)) / 16.0)
             : -1.0;
  x[2] = sd / rms;
  const double sk = s->v[ALCM_STAT_SKEW];
  x[3] = sk / (1.0 + fabs(sk));
  const double kp = s->v[ALCM_STAT_KURT] + 3.0; /* Pearson, >= 1 */
  x[4] = kp > 1 ? clamp1(log2(kp) / 8.0) : 0.0;
}

/* Hidden pre-activations into pre[hidden]; @return the output z. */
static double hidden_pass(const alcm_mlp *m, const double *x, double *pre) {
  double z = m->b2;
  for (size_t j = 0; j < m->hidden; j++) {
    const double *const w = m->w1 + j * ALCM_MLP_INPUTS;
    double a = m->b1[j];
    for (size_t i = 0; i < ALCM_MLP_INPUTS; i++) a += w[i] * x[i];
    pre[j] = a;
    if (a > 0) z += m->w2[j] * a;
  }
  return z;
}

double alcm_mlp_forward(const alcm_mlp *m, const double x[ALCM_MLP_INPUTS]) {
  double pre[ALCM_MLP_HIDDEN_MAX];
  const double z = hidden_pass(m, x, pre);
  return m->lo + (m->hi - m->lo) * sigmoid(z);
}

double alcm_mlp_backward(const alcm_mlp *m, const double x[ALCM_MLP_INPUTS],
                         double target, alcm_mlp *g) {
  double pre[ALCM_MLP_HIDDEN_MAX];
  const double z = hidden_pass(m, x, pre);
  const double sg = sigmoid(z);
  const double y = m->lo + (m->hi - m->lo) * sg;
  const double dy = 2.0 * (y - target);
  const double dz = dy * (m->hi - m->lo) * sg * (1.0 - sg);
  g->b2 = dz;
  for (size_t j = 0; j < m->hidden; j++) {
    const double h = pre[j] > 0 ? pre[j] : 0.0;
    g->w2[j] = dz * h;
    const double dh = pre[j] > 0 ? dz * m->w2[j] : 0.0;
    g->b1[j] = dh;
    for (size_t i = 0; i < ALCM_MLP_INPUTS; i++)
      g->w1[j * ALCM_MLP_INPUTS + i] = dh * x[i];
  }
  return (y - target) * (y - target);
}

static void sgd_step(alcm_mlp *m, const alcm_mlp *g, double lr) {
  const size_t n = (size_t)m->hidden * 8u; /* w1, b1, w2 are contiguous */
  for (size_t i = 0; i < n; i++) m->w1[i] -= lr * g->w1[i];
  m->b2 -= lr * g->b2;
}

alcm_status alcm_mlp_train(alcm_mlp *m, const alcm_mem *mem,
                           const alcm_mlp_train_params *p, const double *x,
                           const double *t, size_t n, double *loss_ret,
                           alcm_msg *msg) {
  if (!(p->learning_rate > 0) || !isfinite(p->learning_rate))
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "learning rate %g",
                     p->learning_rate);
  alcm_mlp g;
  alcm_status s = mlp_alloc(&g, mem, m->hidden, m->lo, m->hi, msg);
  if (s) return s;
  size_t *const order = alcm_mem_calloc(mem, n ? n : 1, sizeof(size_t));
  if (!order) {
    alcm_mlp_free(&g, mem);
    return alcm_fail(msg, ALCM_ERR_NOMEM, "training order of %zu samples", n);
  }
  for (size_t i = 0; i < n; i++) order[i] = i;
  /* A stream of its own, so the shuffle does not depend on how many
   * numbers the initialisation drew. */
  uint64_t st = p->seed ^ 0xA5A5A5A55A5A5A5Aull;
  for (unsigned e = 0; e < p->epochs; e++) {
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
      const size_t j = (size_t)(alcm_rng_next(&st) % i);
      const size_t tmp = order[i - 1];
      order[i - 1] = order[j];
      order[j] = tmp;
    }
    double sum = 0;
    for (size_t k = 0; k < n; k++) {
      const size_t i = order[k];
      sum += alcm_mlp_backward(m, x + i * ALCM_MLP_INPUTS, t[i], &g);
      sgd_step(m, &g, p->learning_rate);
    }
    if (loss_ret) loss_ret[e] = n ? sum / (double)n : 0.0;
  }
  alcm_mem_free(mem, order);
  alcm_mlp_free(&g, mem);
  return ALCM_OK;
}

/* ---- weights file (spec/adaptive.md "Predictor file") ---------------- */
static const uint8_t PRED_MAGIC[8] = {'A', 'L', 'C', 'M', 'P', 'R', 'E', 'D'};
#define PRED_VERSION 1u
#define PRED_HEAD 40u

static size_t pred_size(unsigned hidden) {
  return PRED_HEAD + 8u * ((size_t)hidden * 8u + 1u) + 8u;
}

static void put_f64(uint8_t *p, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  alcm_st64(p, u);
}

static double get_f64(const uint8_t *p) {
  const uint64_t u = alcm_le64(p);
  double v;
  memcpy(&v, &u, 8);
  return v;
}

alcm_status alcm_mlp_save(const alcm_mlp *m, const alcm_mem *mem,
                          uint8_t **out, size_t *out_size, alcm_msg *msg) {
  const size_t size = pred_size(m->hidden);
  uint8_t *const b = alcm_mem_calloc(mem, size, 1);
  if (!b) return alcm_fail(msg, ALCM_ERR_NOMEM, "predictor file");
  memcpy(b, PRED_MAGIC, 8);
  alcm_st32(b + 8, PRED_VERSION);
  alcm_st32(b + 12, ALCM_MLP_INPUTS);
  alcm_st32(b + 16, m->hidden);
  put_f64(b + 24, m->lo);
  put_f64(b + 32, m->hi);
  const size_t nw = (size_t)m->hidden * 8u;
  for (size_t i = 0; i < nw; i++) put_f64(b + PRED_HEAD + 8 * i, m->w1[i]);
  put_f64(b + PRED_HEAD + 8 * nw, m->b2);
  alcm_st64(b + size - 8, alcm_hash64(b, size - 8));
  *out = b;
  *out_size = size;
  return ALCM_OK;
}

alcm_status alcm_mlp_load(alcm_mlp *m, const alcm_mem *mem,
                          const uint8_t *data, size_t size, alcm_msg *msg) {
  memset(m, 0, sizeof *m);
  if (size < PRED_HEAD + 16)
    return alcm_fail(msg, ALCM_ERR_TRUNCATED, "predictor file: %zu bytes",
                     size);
  if (memcmp(data, PRED_MAGIC, 8))
    return alcm_fail(msg, ALCM_ERR_BAD_MAGIC, "predictor file");
  if (alcm_le32(data + 8) != PRED_VERSION)
    return alcm_fail(msg, ALCM_ERR_VERSION, "predictor file version %u",
                     (unsigned)alcm_le32(data + 8));
  const uint32_t inputs = alcm_le32(data + 12), hidden = alcm_le32(data + 16);
  if (inputs != ALCM_MLP_INPUTS || hidden < 1 || hidden > ALCM_MLP_HIDDEN_MAX)
    return alcm_fail(msg, ALCM_ERR_CORRUPT,
                     "predictor file: inputs %u, hidden %u", (unsigned)inputs,
                     (unsigned)hidden);
  if (alcm_le32(data + 20))
    return alcm_fail(msg, ALCM_ERR_RESERVED, "predictor file offset 20");
  if (size != pred_size(hidden))
    return alcm_fail(msg, ALCM_ERR_SIZE,
                     "predictor file: %zu bytes for hidden size %u", size,
                     (unsigned)hidden);
  if (alcm_le64(data + size - 8) != alcm_hash64(data, size - 8))
    return alcm_fail(msg, ALCM_ERR_CHECKSUM, "predictor file");
  alcm_status s =
      mlp_alloc(m, mem, hidden, get_f64(data + 24), get_f64(data + 32), msg);
  if (s) return s;
  const size_t nw = (size_t)hidden * 8u;
  for (size_t i = 0; i <= nw; i++) {
    const double v = get_f64(data + PRED_HEAD + 8 * i);
    if (!isfinite(v)) {
      alcm_mlp_free(m, mem);
      return alcm_fail(msg, ALCM_ERR_CORRUPT,
                       "predictor file: weight %zu is not finite", i);
    }
    if (i < nw)
      m->w1[i] = v;
    else
      m->b2 = v;
  }
  return ALCM_OK;
}
