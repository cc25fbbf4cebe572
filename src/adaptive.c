/*
 * adaptive.c - one-call encode and decode of an adaptive tensor
 * (spec/adaptive.md): statistics -> entropy map -> pruning -> bit widths
 * and scales (from the map, or from an error bound) -> codes, with the
 * error measured on the values exactly as the decoder will produce them.
 */
#include <float.h>
#include <math.h>

#include "adaptive.h"

void alcm_adaptive_params_init(alcm_adaptive_params *p) {
  memset(p, 0, sizeof *p);
  p->map = ALCM_MAP_UNIFORM;
  p->min_precision = 4;
  p->base_precision = 8;
  p->map_lo = 0.2;
  p->map_hi = 0.9;
  p->max_drop_ratio = 0.25;
}

void alcm_adaptive_result_free(alcm_adaptive_result *r,
                               const alcm_mem *mem) {
  if (!r) return;
  alcm_mem_free(mem, r->entropy_map);
  alcm_mem_free(mem, r->scales);
  alcm_mem_free(mem, r->bits);
  alcm_mem_free(mem, r->mask);
  alcm_mem_free(mem, r->stats);
  alcm_mem_free(mem, r->codes);
  memset(r, 0, sizeof *r);
}

static alcm_status check_params(const alcm_adaptive_params *p,
                                alcm_msg *msg) {
  if (p->min_precision < 1 || p->min_precision > p->base_precision ||
      p->base_precision > ALCM_BITS_MAX)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT,
                     "precision %u..%u (need 1 <= min <= base <= 16)",
                     p->min_precision, p->base_precision);
  if (!(p->map_lo >= 0 && p->map_lo < p->map_hi && p->map_hi <= 1))
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "entropy range [%g, %g]",
                     p->map_lo, p->map_hi);
  if (!(p->prune_fraction >= 0 && p->prune_fraction <= 1 &&
        p->max_drop_ratio >= 0 && p->max_drop_ratio <= 1))
    return alcm_fail(msg, ALCM_ERR_ARGUMENT,
                     "pruning threshold %g, max drop ratio %g",
                     p->prune_fraction, p->max_drop_ratio);
  if (p->bound != ALCM_BOUND_NONE &&
      (p->bound > ALCM_BOUND_SNR || !isfinite(p->bound_value) ||
       (p->bound != ALCM_BOUND_SNR && !(p->bound_value > 0))))
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "error bound %d of %g",
                     (int)p->bound, p->bound_value);
  if (p->snr_candidates < 0 || p->snr_candidates > 2)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "SNR candidates %d",
                     p->snr_candidates);
  if (p->map > ALCM_MAP_UNIFORM ||
      (p->map == ALCM_MAP_PREDICTOR && !p->predictor))
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "entropy map source %d",
                     (int)p->map);
  return ALCM_OK;
}

/* Entropy (bits per code) of channel c quantized at bits with its range
 * scale; hist holds 2^bits counters. */
static double channel_code_entropy(unsigned dtype, const uint8_t *data,
                                   const alcm_chgeom *g, size_t c,
                                   double absmax, unsigned bits,
                                   uint64_t *hist) {
  const size_t n = g->outer * g->inner, levels = (size_t)1 << bits;
  const float scale = alcm_scale_from_range(absmax, bits);
  const int32_t qmax = (int32_t)alcm_qmax(bits);
  memset(hist, 0, levels * sizeof *hist);
  for (size_t k = 0; k < n; k++) {
    const double x = alcm_elem_load(dtype, data, alcm_chgeom_index(g, c, k));
    hist[alcm_quantize(x, scale, bits) + qmax]++;
  }
  double h = 0;
  for (size_t v = 0; v < levels; v++)
    if (hist[v]) {
      const double q = (double)hist[v] / (double)n;
      h -= q * log2(q);
    }
  return h;
}

typedef struct {
  const alcm_adaptive_params *p;
  unsigned dtype;
  const uint8_t *data;
  alcm_chgeom g;
  alcm_stats tensor;
  double *absmax; /* [C] */
  alcm_adaptive_result *r;
  const alcm_mem *mem;
  alcm_msg *msg;
} enc;

static alcm_status make_map(enc *e) {
  const alcm_adaptive_params *const p = e->p;
  uint64_t *hist = NULL;
  if (p->map == ALCM_MAP_MEASURED) {
    hist = alcm_mem_calloc(e->mem, (size_t)1 << p->base_precision,
                           sizeof *hist);
    if (!hist) return alcm_fail(e->msg, ALCM_ERR_NOMEM, "code histogram");
  }
  for (size_t c = 0; c < e->g.channels; c++) {
    alcm_stats s;
    alcm_stats_channel(e->dtype, e->data, &e->g, c, &s);
    for (size_t k = 0; k < ALCM_STAT_COUNT; k++)
      e->r->stats[c * ALCM_STAT_COUNT + k] = (float)s.v[k];
    e->absmax[c] = s.absmax;
    double v = p->map_hi;
    if (p->map == ALCM_MAP_PREDICTOR) {
      double x[ALCM_MLP_INPUTS];
      alcm_mlp_features(&s, e->tensor.rms, x);
      v = alcm_mlp_forward(p->predictor, x);
      /* A predictor trained for another range is mapped onto this one. */
      const alcm_mlp *const m = p->predictor;
      v = p->map_lo + (v - m->lo) / (m->hi - m->lo) * (p->map_hi - p->map_lo);
    } else if (p->map == ALCM_MAP_MEASURED) {
      double h = channel_code_entropy(e->dtype, e->data, &e->g, c,
                                      s.absmax, p->base_precision, hist) /
                 (double)p->base_precision;
      if (h > 1) h = 1;
      v = p->map_lo + h * (p->map_hi - p->map_lo);
    }
    e->r->entropy_map[c] = (float)v;
  }
  alcm_mem_free(e->mem, hist);
  return ALCM_OK;
}

static unsigned map_bits(const enc *e, size_t c) {
  if (!(e->absmax[c] > 0)) return 1; /* all-zero channel: nothing to code */
  return alcm_bits_from_entropy(e->r->entropy_map[c], e->p->map_lo,
                                e->p->map_hi, e->p->min_precision,
                                e->p->base_precision);
}

/* Spacing of dtype's values at magnitude a (an upper bound on the
 * rounding of a decoded value near a). */
static double dtype_ulp(unsigned dtype, double a) {
  int ex;
  (void)frexp(a, &ex); /* a = m 2^ex, 0.5 <= m < 1 */
  const int man = dtype == ALCM_DTYPE_F16    ? 10
                  : dtype == ALCM_DTYPE_BF16 ? 7
                  : dtype == ALCM_DTYPE_F32  ? 23
                                             : 52;
  const double u = ldexp(1.0, ex - 1 - man);
  return dtype == ALCM_DTYPE_F16 && u < 0x1p-24 ? 0x1p-24 : u;
}

/* Try one step (shrunk a little while f32 rounding breaks the bound):
 * the fewest bits whose range reaches absmax within E. */
static bool try_step(enc *e, size_t c, double bound, double step) {
  alcm_adaptive_result *const r = e->r;
  const double a = e->absmax[c];
  for (int tries = 0; tries < 8; tries++, step *= 1.0 - 0x1p-10) {
    float s = step >= (double)FLT_MAX ? FLT_MAX : (float)step;
    if ((double)s > step) s = nextafterf(s, 0.0f);
    if (!(s > 0)) return false;
    unsigned b = 2;
    while (b <= ALCM_BITS_MAX &&
           (double)alcm_qmax(b) * (double)s + bound < a)
      b++;
    if (b > ALCM_BITS_MAX) return false;
    alcm_qerr q;
    alcm_quant_channel_error(e->dtype, e->data, &e->g, c, r->mask, s, b, &q);
    if (q.max_abs <= bound) {
      r->bits[c] = (uint8_t)b;
      r->scales[c] = s;
      return true;
    }
  }
  return false;
}

/* Max-abs bound E: step 2E, the largest whose rounding error is E; when
 * rounding the decoded value to the dtype (up to half its spacing u)
 * breaks that, step 2E - u, which leaves room for it. */
static alcm_status bits_for_bound(enc *e, size_t c, double bound) {
  alcm_adaptive_result *const r = e->r;
  const double a = e->absmax[c];
  if (a <= bound) {
    r->bits[c] = 1;
    r->scales[c] = 0.0f;
    return ALCM_OK;
  }
  const double u = dtype_ulp(e->dtype, a);
  if (try_step(e, c, bound, 2.0 * bound) ||
      (2.0 * bound > u && try_step(e, c, bound, 2.0 * bound - u)))
    return ALCM_OK;
  return alcm_fail(e->msg, ALCM_ERR_UNSUPPORTED,
                   "channel %zu: max abs error %g needs more than %u bits "
                   "(keep the tensor lossless)",
                   c, bound, ALCM_BITS_MAX);
}

static void set_from_map(enc *e, int offset) {
  for (size_t c = 0; c < e->g.channels; c++) {
    int b = (int)map_bits(e, c);
    if (b > 1 || e->absmax[c] > 0) b += offset;
    if (b < 1) b = 1;
    if (b > ALCM_BITS_MAX) b = ALCM_BITS_MAX;
    e->r->bits[c] = (uint8_t)b;
    e->r->scales[c] = alcm_scale_from_range(e->absmax[c], (unsigned)b);
  }
}

static double tensor_snr(const enc *e) {
  double sse = 0, ssx = 0;
  for (size_t c = 0; c < e->g.channels; c++) {
    alcm_qerr q;
    alcm_quant_channel_error(e->dtype, e->data, &e->g, c, e->r->mask,
                             e->r->scales[c], e->r->bits[c], &q);
    sse += q.sse;
    ssx += q.ssx;
  }
  return sse > 0 ? 10.0 * log10(ssx / sse) : INFINITY;
}

/* SNR bound, map candidate: shift every channel's map bit width by one
 * offset, the smallest that meets the bound (binary search, then
 * verified). */
static alcm_status bits_for_snr(enc *e, double snr_db) {
  int lo = -ALCM_BITS_MAX, hi = ALCM_BITS_MAX;
  while (lo < hi) {
    const int mid = lo + (hi - lo) / 2;
    set_from_map(e, mid);
    if (tensor_snr(e) >= snr_db)
      hi = mid;
    else
      lo = mid + 1;
  }
  for (int k = lo; k <= ALCM_BITS_MAX; k++) {
    set_from_map(e, k);
    if (tensor_snr(e) >= snr_db) return ALCM_OK;
  }
  return alcm_fail(e->msg, ALCM_ERR_UNSUPPORTED,
                   "SNR %g dB needs more than %u bits (keep the tensor "
                   "lossless)",
                   snr_db, ALCM_BITS_MAX);
}

/* One step s for every channel; a channel's width is the fewest bits that
 * hold its largest code (1 with scale 0 when every code is 0), and a
 * channel that would need more than 16 bits gets its 16-bit range scale. */
static void set_global_step(enc *e, float s) {
  for (size_t c = 0; c < e->g.channels; c++) {
    const double a = e->absmax[c];
    const double m = a > 0 ? floor(a / (double)s + 0.5) : 0.0;
    unsigned b = 1;
    while (b <= ALCM_BITS_MAX && (double)alcm_qmax(b) < m) b++;
    e->r->bits[c] = (uint8_t)(b > ALCM_BITS_MAX ? ALCM_BITS_MAX : b);
    e->r->scales[c] = b == 1                ? 0.0f
                      : b > ALCM_BITS_MAX ? alcm_scale_from_range(a, b - 1)
                                          : s;
  }
}

/* SNR bound, global-step candidate: the largest f32 step (binary search
 * on log2 s, 24 halvings between absmax * 2^-18 and 2 * absmax) whose
 * measured tensor SNR meets the bound. false if none does. */
static bool step_for_snr(enc *e, double snr_db) {
  const double top = log2(e->tensor.absmax) + 1.0;
  double lo = top - 19.0, hi = top; /* lo: the finest step tried */
  float best = 0.0f;
  for (int it = 0; it < 24; it++) {
    const double t = it == 0 ? lo : 0.5 * (lo + hi);
    float s = (float)exp2(t);
    if (!isfinite(s)) s = FLT_MAX;
    if (!(s > 0)) return false; /* an all-zero tensor: the map does it */
    set_global_step(e, s);
    const bool ok = tensor_snr(e) >= snr_db;
    if (it == 0 && !ok) return false;
    if (ok) {
      best = s;
      lo = t;
    } else {
      hi = t;
    }
  }
  set_global_step(e, best);
  return true;
}

/* Estimated coded size (order-0 entropy of the two byte planes, bits) of
 * the current widths and scales: the code layout's cost without coding. */
static double code_cost(const enc *e, uint64_t hist[512]) {
  memset(hist, 0, 512 * sizeof *hist);
  const size_t per = e->g.outer * e->g.inner;
  for (size_t c = 0; c < e->g.channels; c++) {
    const unsigned b = e->r->bits[c];
    const float s = e->r->scales[c];
    for (size_t k = 0; k < per; k++) {
      const size_t i = alcm_chgeom_index(&e->g, c, k);
      if (!alcm_mask_kept(e->r->mask, i)) continue;
      const uint32_t z =
          alcm_zigzag(alcm_quantize(alcm_elem_load(e->dtype, e->data, i), s, b));
      hist[z & 255u]++;
      if (b > 8) hist[256 + (z >> 8)]++;
    }
  }
  double bits = 0;
  for (unsigned plane = 0; plane < 2; plane++) {
    uint64_t n = 0;
    for (unsigned v = 0; v < 256; v++) n += hist[plane * 256 + v];
    for (unsigned v = 0; v < 256; v++) {
      const uint64_t h = hist[plane * 256 + v];
      if (h) bits -= (double)h * log2((double)h / (double)n);
    }
  }
  return bits;
}

/* SNR bound: both candidates, the one with the smaller estimated code
 * size kept (the map one on a tie or when the step search fails); its
 * estimate in *cost (bits). */
static alcm_status choose_for_snr(enc *e, double snr_db, double *cost) {
  alcm_adaptive_result *const r = e->r;
  const size_t C = e->g.channels;
  uint64_t *const hist = alcm_mem_calloc(e->mem, 512, sizeof *hist);
  float *const sc = alcm_mem_calloc(e->mem, C ? C : 1, sizeof *sc);
  uint8_t *const bt = alcm_mem_calloc(e->mem, C ? C : 1, 1);
  alcm_status s = ALCM_OK;
  if (!hist || !sc || !bt) {
    s = alcm_fail(e->msg, ALCM_ERR_NOMEM, "SNR search of %zu channels", C);
  } else {
    double global_cost = INFINITY;
    if (e->p->snr_candidates != 1 && step_for_snr(e, snr_db)) {
      global_cost = code_cost(e, hist);
      memcpy(sc, r->scales, C * sizeof *sc);
      memcpy(bt, r->bits, C);
    }
    alcm_msg m;
    alcm_msg_clear(&m);
    alcm_msg *const keep = e->msg;
    e->msg = &m;
    s = e->p->snr_candidates != 2
            ? bits_for_snr(e, snr_db)
            : alcm_fail(&m, ALCM_ERR_UNSUPPORTED, "no step meets SNR %g dB",
                        snr_db);
    e->msg = keep;
    const double map_cost = s ? INFINITY : code_cost(e, hist);
    r->global_step = 0;
    *cost = map_cost;
    if (global_cost < map_cost) {
      memcpy(r->scales, sc, C * sizeof *sc);
      memcpy(r->bits, bt, C);
      r->global_step = 1;
      *cost = global_cost;
      s = ALCM_OK;
    } else if (s) {
      s = alcm_fail(e->msg, s, "%s", m.text);
    }
  }
  alcm_mem_free(e->mem, hist);
  alcm_mem_free(e->mem, sc);
  alcm_mem_free(e->mem, bt);
  return s;
}

/* Pruning; under an SNR bound the pruned energy may take at most half of
 * the noise budget (halve the fraction until it does). */
static alcm_status prune(enc *e, double cap_abs) {
  const alcm_adaptive_params *const p = e->p;
  alcm_adaptive_result *const r = e->r;
  double f = p->prune_fraction;
  for (int tries = 0; tries < 24 && f > 0; tries++, f /= 2) {
    const alcm_status s =
        alcm_prune(e->dtype, e->data, e->g.numel, f, p->max_drop_ratio,
                   cap_abs, e->mem, &r->mask, &r->pruned_count, e->msg);
    if (s || !r->mask || p->bound != ALCM_BOUND_SNR) return s;
    double pruned_sq = 0;
    for (size_t i = 0; i < e->g.numel; i++)
      if (!alcm_mask_kept(r->mask, i)) {
        const double x = alcm_elem_load(e->dtype, e->data, i);
        pruned_sq += x * x;
      }
    const double budget = e->tensor.rms * e->tensor.rms *
                          (double)e->g.numel * pow(10.0, -p->bound_value / 10);
    if (pruned_sq <= 0.5 * budget) return ALCM_OK;
    alcm_mem_free(e->mem, r->mask);
    r->mask = NULL;
    r->pruned_count = 0;
  }
  return ALCM_OK;
}

/* Codes in the current layout (spec/adaptive.md "Codes"): channels in
 * width order, low bytes of the zig-zag codes, then the high bytes of the
 * channels wider than 8 bits; the error measured on the decoded values. */
static alcm_status pack(enc *e) {
  alcm_adaptive_result *const r = e->r;
  size_t low = 0;
  alcm_status s = alcm_codes_size(&e->g, r->bits, r->mask, ALCM_CODE_LAYOUT_BYTES,
                                  &r->code_size, &low, e->msg);
  if (s) return s;
  r->codes = alcm_mem_alloc(e->mem, r->code_size ? r->code_size : 1);
  if (!r->codes)
    return alcm_fail(e->msg, ALCM_ERR_NOMEM, "%zu bytes of codes",
                     r->code_size);
  uint8_t *lo = r->codes, *hi = r->codes + low;
  double sse = 0, ssx = 0, maxe = 0;
  const size_t per = e->g.outer * e->g.inner;
  for (unsigned b = 1; b <= ALCM_BITS_MAX; b++) { /* width order */
    for (size_t c = 0; c < e->g.channels; c++) {
      if (r->bits[c] != b) continue;
      for (size_t k = 0; k < per; k++) {
        const size_t i = alcm_chgeom_index(&e->g, c, k);
        const double x = alcm_elem_load(e->dtype, e->data, i);
        double y = 0;
        if (alcm_mask_kept(r->mask, i)) {
          const int32_t q = alcm_quantize(x, r->scales[c], b);
          const uint32_t z = alcm_zigzag(q);
          *lo++ = (uint8_t)z;
          if (b > 8) *hi++ = (uint8_t)(z >> 8);
          y = alcm_elem_round(e->dtype, alcm_dequant(r->scales[c], q));
        }
        const double d = fabs(x - y);
        if (d > maxe) maxe = d;
        sse += d * d;
        ssx += x * x;
      }
    }
  }
  const double n = e->g.numel ? (double)e->g.numel : 1.0;
  r->max_abs_err = maxe;
  r->rmse = sqrt(sse / n);
  r->snr_db = sse > 0 ? 10.0 * log10(ssx / sse) : INFINITY;
  r->pruned = (double)r->pruned_count / n;
  return ALCM_OK;
}

/* Bits of a mask with k of n pruned, as an order-0 coder would spend. */
static double mask_cost(size_t k, size_t n) {
  if (k == 0 || k >= n) return 0.0;
  const double f = (double)k / (double)n;
  return (double)n * -(f * log2(f) + (1 - f) * log2(1 - f));
}

/* SNR bound with pruning: the mask is kept only when codes + mask are
 * estimated to cost less than the codes without pruning (pruned elements
 * are the smallest, mostly code 0 anyway, and the pruned energy takes
 * noise budget from the step); otherwise nothing is pruned. */
static alcm_status snr_with_mask(enc *e, double snr_db) {
  alcm_adaptive_result *const r = e->r;
  double with = INFINITY, without = INFINITY;
  alcm_status s = choose_for_snr(e, snr_db, &with);
  if (!r->mask) return s;
  const size_t C = e->g.channels;
  with += mask_cost(r->pruned_count, e->g.numel);
  float *const sc = alcm_mem_calloc(e->mem, C ? C : 1, sizeof *sc);
  uint8_t *const bt = alcm_mem_calloc(e->mem, C ? C : 1, 1);
  if (!sc || !bt) {
    alcm_mem_free(e->mem, sc);
    alcm_mem_free(e->mem, bt);
    return alcm_fail(e->msg, ALCM_ERR_NOMEM, "SNR search of %zu channels", C);
  }
  const int global = r->global_step;
  memcpy(sc, r->scales, C * sizeof *sc);
  memcpy(bt, r->bits, C);
  uint8_t *const mask = r->mask;
  const size_t pruned = r->pruned_count;
  r->mask = NULL;
  r->pruned_count = 0;
  alcm_msg m;
  alcm_msg_clear(&m);
  alcm_msg *const keep = e->msg;
  e->msg = &m;
  const alcm_status s2 = choose_for_snr(e, snr_db, &without);
  e->msg = keep;
  if (s2 == ALCM_OK && (s != ALCM_OK || without <= with)) {
    alcm_mem_free(e->mem, mask);
    s = ALCM_OK;
  } else {
    r->mask = mask;
    r->pruned_count = pruned;
    r->global_step = global;
    memcpy(r->scales, sc, C * sizeof *sc);
    memcpy(r->bits, bt, C);
  }
  alcm_mem_free(e->mem, sc);
  alcm_mem_free(e->mem, bt);
  return s;
}

static alcm_status alloc_result(enc *e) {
  alcm_adaptive_result *const r = e->r;
  const size_t C = e->g.channels;
  r->entropy_map = alcm_mem_calloc(e->mem, C, sizeof(float));
  r->scales = alcm_mem_calloc(e->mem, C, sizeof(float));
  r->bits = alcm_mem_calloc(e->mem, C, 1);
  r->stats = alcm_mem_calloc(e->mem, C, sizeof(float) * ALCM_STAT_COUNT);
  e->absmax = alcm_mem_calloc(e->mem, C, sizeof(double));
  if (!r->entropy_map || !r->scales || !r->bits || !r->stats || !e->absmax)
    return alcm_fail(e->msg, ALCM_ERR_NOMEM, "sections of %zu channels", C);
  return ALCM_OK;
}

static alcm_status choose_bits(enc *e) {
  const alcm_adaptive_params *const p = e->p;
  double bound = INFINITY;
  if (p->bound == ALCM_BOUND_MAX_ABS) bound = p->bound_value;
  if (p->bound == ALCM_BOUND_REL) bound = p->bound_value * e->tensor.absmax;
  alcm_status s = p->prune_fraction > 0 ? prune(e, bound) : ALCM_OK;
  if (!s && p->bound == ALCM_BOUND_SNR) s = snr_with_mask(e, p->bound_value);
  e->r->mask_size = e->r->mask ? e->g.numel / 8 + (e->g.numel % 8 != 0) : 0;
  if (s || p->bound == ALCM_BOUND_SNR) return s;
  if (p->bound == ALCM_BOUND_NONE) {
    set_from_map(e, 0);
    return ALCM_OK;
  }
  for (size_t c = 0; c < e->g.channels && !s; c++)
    s = bits_for_bound(e, c, bound);
  return s;
}

static alcm_status encode(enc *e, size_t size) {
  const alcm_adaptive_params *const p = e->p;
  size_t want;
  if (__builtin_mul_overflow(e->g.numel, alcm_dtype_size((int)e->dtype),
                             &want) ||
      want != size)
    return alcm_fail(e->msg, ALCM_ERR_SIZE, "%zu bytes for %zu elements",
                     size, e->g.numel);
  if (e->g.channels > UINT32_MAX)
    return alcm_fail(e->msg, ALCM_ERR_LIMIT, "%zu channels", e->g.channels);
  const size_t bad = alcm_first_nonfinite(e->dtype, e->data, e->g.numel);
  if (bad < e->g.numel)
    return alcm_fail(e->msg, ALCM_ERR_UNSUPPORTED,
                     "element %zu is NaN or infinite (keep the tensor "
                     "lossless)",
                     bad);
  alcm_stats_tensor(e->dtype, e->data, e->g.numel, &e->tensor);
  if (e->tensor.absmax > (double)FLT_MAX)
    return alcm_fail(e->msg, ALCM_ERR_UNSUPPORTED,
                     "absmax %g is beyond f32 scales (keep the tensor "
                     "lossless)",
                     e->tensor.absmax);
  e->r->channel_axis = e->g.axis;
  e->r->channels = (uint32_t)e->g.channels;
  e->r->numel = e->g.numel;
  alcm_status s = alloc_result(e);
  if (!s) s = make_map(e);
  if (!s) s = choose_bits(e);
  if (!s) s = pack(e);
  if (s) return s;
  /* The guarantee, checked on what was actually measured. */
  const double bound = p->bound == ALCM_BOUND_REL
                           ? p->bound_value * e->tensor.absmax
                           : p->bound_value;
  if (((p->bound == ALCM_BOUND_MAX_ABS || p->bound == ALCM_BOUND_REL) &&
       e->r->max_abs_err > bound) ||
      (p->bound == ALCM_BOUND_SNR && !(e->r->snr_db >= p->bound_value)))
    return alcm_fail(e->msg, ALCM_ERR_UNSUPPORTED,
                     "measured error misses the bound (keep the tensor "
                     "lossless)");
  return ALCM_OK;
}

alcm_status alcm_adaptive_encode(const alcm_adaptive_params *p,
                                 unsigned dtype, unsigned ndim,
                                 const uint64_t *shape, const void *data,
                                 size_t size, const alcm_mem *mem,
                                 alcm_adaptive_result *r, alcm_msg *msg) {
  memset(r, 0, sizeof *r);
  alcm_status s = check_params(p, msg);
  if (s) return s;
  if (!alcm_adaptive_dtype_ok(dtype))
    return alcm_fail(msg, ALCM_ERR_ARGUMENT,
                     "dtype %u (adaptive needs F16, BF16, F32 or F64)", dtype);
  enc e = {p, dtype, data, {0, 0, 0, 0, 0}, {{0}, 0, 0, 0}, NULL, r, mem, msg};
  s = alcm_chgeom_init(&e.g, ndim, shape, p->channel_axis, msg);
  if (!s) s = encode(&e, size);
  alcm_mem_free(mem, e.absmax);
  if (s) alcm_adaptive_result_free(r, mem);
  return s;
}

/* ---- decode (untrusted sections and codes) --------------------------- */
typedef struct {
  const uint8_t *p, *end;
  uint64_t acc;
  unsigned n;
} bitr;

static bool bitr_get(bitr *rd, unsigned bits, uint32_t *v) {
  while (rd->n < bits) {
    if (rd->p == rd->end) return false;
    rd->acc |= (uint64_t)*rd->p++ << rd->n;
    rd->n += 8;
  }
  *v = (uint32_t)(rd->acc & ((1u << bits) - 1u));
  rd->acc >>= bits;
  rd->n -= bits;
  return true;
}

static alcm_status check_sections(const alcm_chgeom *g, const float *scales,
                                  const uint8_t *bits, alcm_msg *msg) {
  for (size_t c = 0; c < g->channels; c++) {
    if (bits[c] < 1 || bits[c] > ALCM_BITS_MAX)
      return alcm_fail(msg, ALCM_ERR_CORRUPT, "channel %zu: bit width %u", c,
                       (unsigned)bits[c]);
    if (!(scales[c] >= 0) || !isfinite(scales[c]))
      return alcm_fail(msg, ALCM_ERR_CORRUPT, "channel %zu: scale %g", c,
                       (double)scales[c]);
  }
  return ALCM_OK;
}

static alcm_status code_above(alcm_msg *msg, size_t c, size_t i, uint32_t u,
                              uint32_t qmax) {
  return alcm_fail(msg, ALCM_ERR_CORRUPT,
                   "channel %zu element %zu: code %u above %u", c, i,
                   (unsigned)u, (unsigned)(2 * qmax));
}

/* Format 1.2: b-bit offset codes, LSB-first, per-channel byte padding. */
static alcm_status unpack_v12(unsigned dtype, const alcm_chgeom *g,
                              const float *scales, const uint8_t *bits,
                              const uint8_t *mask, const uint8_t *codes,
                              size_t code_size, uint8_t *out, alcm_msg *msg) {
  bitr rd = {codes, codes + code_size, 0, 0};
  const size_t per = g->outer * g->inner;
  for (size_t c = 0; c < g->channels; c++) {
    const unsigned b = bits[c];
    const uint32_t qmax = alcm_qmax(b);
    for (size_t k = 0; k < per; k++) {
      const size_t i = alcm_chgeom_index(g, c, k);
      double y = 0;
      if (alcm_mask_kept(mask, i)) {
        uint32_t u;
        if (!bitr_get(&rd, b, &u))
          return alcm_fail(msg, ALCM_ERR_TRUNCATED, "channel %zu codes", c);
        if (u > 2 * qmax) return code_above(msg, c, i, u, qmax);
        y = alcm_dequant(scales[c], (int32_t)u - (int32_t)qmax);
      }
      alcm_elem_store(dtype, out, i, y);
    }
    if (rd.acc)
      return alcm_fail(msg, ALCM_ERR_RESERVED, "channel %zu: padding bits",
                       c);
    rd.acc = 0;
    rd.n = 0;
  }
  return ALCM_OK;
}

/* Format 1.3: width order, zig-zag low bytes, then high bytes. The caller
 * checked code_size, so both planes stay in bounds. */
static alcm_status unpack_v13(unsigned dtype, const alcm_chgeom *g,
                              const float *scales, const uint8_t *bits,
                              const uint8_t *mask, const uint8_t *codes,
                              size_t low, uint8_t *out, alcm_msg *msg) {
  const uint8_t *lo = codes, *hi = codes + low;
  const size_t per = g->outer * g->inner;
  for (unsigned b = 1; b <= ALCM_BITS_MAX; b++) { /* width order */
    for (size_t c = 0; c < g->channels; c++) {
      if (bits[c] != b) continue;
      const uint32_t qmax = alcm_qmax(b);
      for (size_t k = 0; k < per; k++) {
        const size_t i = alcm_chgeom_index(g, c, k);
        double y = 0;
        if (alcm_mask_kept(mask, i)) {
          uint32_t z = *lo++;
          if (b > 8) z |= (uint32_t)*hi++ << 8;
          if (z > 2 * qmax) return code_above(msg, c, i, z, qmax);
          y = alcm_dequant(scales[c], alcm_unzigzag(z));
        }
        alcm_elem_store(dtype, out, i, y);
      }
    }
  }
  return ALCM_OK;
}

alcm_status alcm_adaptive_decode_layout(unsigned layout, unsigned dtype,
                                        unsigned ndim, const uint64_t *shape,
                                        unsigned channel_axis,
                                        const float *scales,
                                        const uint8_t *bits,
                                        const uint8_t *mask, size_t mask_size,
                                        const uint8_t *codes,
                                        size_t code_size, void *out,
                                        size_t out_size, alcm_msg *msg) {
  if (!alcm_adaptive_dtype_ok(dtype))
    return alcm_fail(msg, ALCM_ERR_CORRUPT, "adaptive dtype %u", dtype);
  alcm_chgeom g;
  alcm_status s = alcm_chgeom_init(&g, ndim, shape, channel_axis, msg);
  if (s) return s;
  size_t want;
  if (__builtin_mul_overflow(g.numel, alcm_dtype_size((int)dtype), &want) ||
      want != out_size)
    return alcm_fail(msg, ALCM_ERR_SIZE, "output of %zu bytes for %zu "
                     "elements", out_size, g.numel);
  s = check_sections(&g, scales, bits, msg);
  if (!s && mask) s = alcm_mask_check(mask, mask_size, g.numel, NULL, msg);
  size_t need = 0, low = 0;
  if (!s) s = alcm_codes_size(&g, bits, mask, layout, &need, &low, msg);
  if (s) return s;
  if (need != code_size)
    return alcm_fail(msg, ALCM_ERR_CORRUPT, "%zu code bytes, expected %zu",
                     code_size, need);
  if (layout == ALCM_CODE_LAYOUT_PACKED)
    return unpack_v12(dtype, &g, scales, bits, mask, codes, code_size, out,
                      msg);
  return unpack_v13(dtype, &g, scales, bits, mask, codes, low, out, msg);
}

alcm_status alcm_adaptive_decode(unsigned dtype, unsigned ndim,
                                 const uint64_t *shape, unsigned channel_axis,
                                 const float *scales, const uint8_t *bits,
                                 const uint8_t *mask, size_t mask_size,
                                 const uint8_t *codes, size_t code_size,
                                 void *out, size_t out_size, alcm_msg *msg) {
  return alcm_adaptive_decode_layout(ALCM_CODE_LAYOUT_BYTES, dtype, ndim,
                                     shape, channel_axis, scales, bits, mask,
                                     mask_size, codes, code_size, out,
                                     out_size, msg);
}
