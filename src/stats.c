/*
 * stats.c - float elements as doubles, channel geometry, and the six
 * per-channel statistics of the adaptive mode (spec/adaptive.md
 * "Statistics", "Channel axis").
 */
#include <math.h>

#include "adaptive.h"

bool alcm_adaptive_dtype_ok(unsigned dtype) {
  return dtype == ALCM_DTYPE_F16 || dtype == ALCM_DTYPE_BF16 ||
         dtype == ALCM_DTYPE_F32 || dtype == ALCM_DTYPE_F64;
}

static double half_to_double(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f;
  const unsigned man = h & 0x3ffu;
  double v;
  if (exp == 0)
    v = ldexp((double)man, -24); /* subnormal: man * 2^-24 */
  else if (exp == 31)
    v = man ? NAN : INFINITY;
  else
    v = ldexp((double)(man | 0x400u), exp - 25);
  return sign ? -v : v;
}

double alcm_elem_load(unsigned dtype, const uint8_t *data, size_t i) {
  switch (dtype) {
  case ALCM_DTYPE_F16:
    return half_to_double(alcm_le16(data + 2 * i));
  case ALCM_DTYPE_BF16: {
    const uint32_t u = (uint32_t)alcm_le16(data + 2 * i) << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  case ALCM_DTYPE_F32: {
    const uint32_t u = alcm_le32(data + 4 * i);
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  case ALCM_DTYPE_F64: {
    const uint64_t u = alcm_le64(data + 8 * i);
    double d;
    memcpy(&d, &u, 8);
    return d;
  }
  default:
    return 0.0;
  }
}

/* Round a finite double to a binary format with man_bits explicit
 * mantissa bits, exponent bias, and exp_bits of exponent, ties to even,
 * straight from the double's bits (going through float first would round
 * twice). @return the format's bit pattern (overflow gives infinity). */
static uint32_t round_to_small(double v, unsigned man_bits, unsigned exp_bits) {
  uint64_t u;
  memcpy(&u, &v, 8);
  const uint32_t sign = (uint32_t)(u >> 63) << (man_bits + exp_bits);
  if (v != v) return sign | (((1u << exp_bits) - 1u) << man_bits) | 1u;
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int e = (int)((u >> 52) & 0x7ff);
  if (e == 0x7ff) return sign | (((1u << exp_bits) - 1u) << man_bits);
  if (e == 0) return sign; /* double subnormals are below every target */
  uint64_t m = (u & ((1ull << 52) - 1)) | (1ull << 52); /* 53 bits */
  int te = e - 1023 + bias;                             /* target exponent */
  unsigned shift = 52 - man_bits;
  if (te < 1) { /* target subnormal: shift further */
    const int extra = 1 - te;
    if (extra > 53) return sign; /* below half the smallest subnormal */
    shift += (unsigned)extra;
    te = 0;
  }
  if (shift > 53) return sign; /* m < 2^53 <= half: rounds to zero */
  uint64_t q = m >> shift;
  const uint64_t rem = m & ((1ull << shift) - 1);
  const uint64_t half = 1ull << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) q++;
  /* q holds the implicit bit for normals; a carry moves the exponent. */
  uint32_t bits;
  if (te == 0) {
    bits = (uint32_t)q; /* may carry into the smallest normal: still right */
  } else {
    if (q >> (man_bits + 1)) {
      q >>= 1;
      te++;
    }
    if (te >= (1 << exp_bits) - 1)
      return sign | (((1u << exp_bits) - 1u) << man_bits);
    bits = ((uint32_t)te << man_bits) | ((uint32_t)q & ((1u << man_bits) - 1));
  }
  return sign | bits;
}

static double small_to_double(uint32_t bits, unsigned dtype) {
  uint8_t b[2];
  alcm_st16(b, (uint16_t)bits);
  return alcm_elem_load(dtype, b, 0);
}

double alcm_elem_round(unsigned dtype, double v) {
  switch (dtype) {
  case ALCM_DTYPE_F16:
    return small_to_double(round_to_small(v, 10, 5), dtype);
  case ALCM_DTYPE_BF16:
    return small_to_double(round_to_small(v, 7, 8), dtype);
  case ALCM_DTYPE_F32:
    return (double)(float)v;
  default:
    return v;
  }
}

void alcm_elem_store(unsigned dtype, uint8_t *data, size_t i, double v) {
  switch (dtype) {
  case ALCM_DTYPE_F16:
    alcm_st16(data + 2 * i, (uint16_t)round_to_small(v, 10, 5));
    break;
  case ALCM_DTYPE_BF16:
    alcm_st16(data + 2 * i, (uint16_t)round_to_small(v, 7, 8));
    break;
  case ALCM_DTYPE_F32: {
    const float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    alcm_st32(data + 4 * i, u);
    break;
  }
  case ALCM_DTYPE_F64: {
    uint64_t u;
    memcpy(&u, &v, 8);
    alcm_st64(data + 8 * i, u);
    break;
  }
  default:
    break;
  }
}

unsigned alcm_channel_axis_default(alcm_layout layout, unsigned ndim) {
  return layout == ALCM_LAYOUT_OUT_LAST && ndim > 0 ? ndim - 1 : 0;
}

alcm_status alcm_chgeom_init(alcm_chgeom *g, unsigned ndim,
                             const uint64_t *shape, unsigned axis,
                             alcm_msg *msg) {
  memset(g, 0, sizeof *g);
  if (ndim == 0 ? axis != 0 : axis >= ndim)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT,
                     "channel axis %u of a %u-dimensional tensor", axis, ndim);
  size_t outer = 1, inner = 1, ch = 1;
  for (unsigned d = 0; d < ndim; d++) {
    if (shape[d] > SIZE_MAX)
      return alcm_fail(msg, ALCM_ERR_OVERFLOW, "dimension %u", d);
    size_t *const dst = d < axis ? &outer : d == axis ? &ch : &inner;
    if (__builtin_mul_overflow(*dst, (size_t)shape[d], dst))
      return alcm_fail(msg, ALCM_ERR_OVERFLOW, "dimension %u", d);
  }
  size_t numel;
  if (__builtin_mul_overflow(outer, ch, &numel) ||
      __builtin_mul_overflow(numel, inner, &numel))
    return alcm_fail(msg, ALCM_ERR_OVERFLOW, "element count");
  g->outer = outer;
  g->channels = ch;
  g->inner = inner;
  g->numel = numel;
  g->axis = axis;
  return ALCM_OK;
}

/* Two passes (mean, then central moments) keep the variance of data with
 * a large mean accurate, as NumPy's np.var does. */
typedef struct {
  double sum, sum_sq, absmax;
  size_t sparse;
} pass1;

static void finish(alcm_stats *s, const pass1 *a, double m2, double m3,
                   double m4, size_t n) {
  memset(s, 0, sizeof *s);
  s->n = n;
  if (n == 0) return;
  const double dn = (double)n;
  s->v[ALCM_STAT_MEAN] = a->sum / dn;
  const double var = m2 / dn;
  s->v[ALCM_STAT_VAR] = var;
  s->v[ALCM_STAT_STD] = sqrt(var);
  if (var > 0) {
    s->v[ALCM_STAT_SKEW] = (m3 / dn) / (var * sqrt(var));
    s->v[ALCM_STAT_KURT] = (m4 / dn) / (var * var) - 3.0;
  }
  s->v[ALCM_STAT_SPARSITY] = (double)a->sparse / dn;
  s->absmax = a->absmax;
  s->rms = sqrt(a->sum_sq / dn);
}

static void add1(pass1 *a, double x) {
  a->sum += x;
  a->sum_sq += x * x;
  const double ax = fabs(x);
  if (ax > a->absmax || ax != ax) a->absmax = ax;
  if (ax < 1e-6) a->sparse++;
}

static void add2(double x, double mean, double *m2, double *m3, double *m4) {
  const double d = x - mean, d2 = d * d;
  *m2 += d2;
  *m3 += d2 * d;
  *m4 += d2 * d2;
}

void alcm_stats_tensor(unsigned dtype, const uint8_t *data, size_t n,
                       alcm_stats *s) {
  pass1 a = {0, 0, 0, 0};
  for (size_t i = 0; i < n; i++) add1(&a, alcm_elem_load(dtype, data, i));
  const double mean = n ? a.sum / (double)n : 0.0;
  double m2 = 0, m3 = 0, m4 = 0;
  for (size_t i = 0; i < n; i++)
    add2(alcm_elem_load(dtype, data, i), mean, &m2, &m3, &m4);
  finish(s, &a, m2, m3, m4, n);
}

void alcm_stats_channel(unsigned dtype, const uint8_t *data,
                        const alcm_chgeom *g, size_t c, alcm_stats *s) {
  const size_t n = g->outer * g->inner;
  pass1 a = {0, 0, 0, 0};
  for (size_t k = 0; k < n; k++)
    add1(&a, alcm_elem_load(dtype, data, alcm_chgeom_index(g, c, k)));
  const double mean = n ? a.sum / (double)n : 0.0;
  double m2 = 0, m3 = 0, m4 = 0;
  for (size_t k = 0; k < n; k++)
    add2(alcm_elem_load(dtype, data, alcm_chgeom_index(g, c, k)), mean, &m2,
         &m3, &m4);
  finish(s, &a, m2, m3, m4, n);
}

size_t alcm_first_nonfinite(unsigned dtype, const uint8_t *data, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(alcm_elem_load(dtype, data, i))) return i;
  return n;
}
