/*
 * adaptive.h - the modules of the lossy "adaptive" encoding (spec/adaptive.md):
 * per-channel statistics (stats.c), the entropy predictor (mlp.c),
 * quantization and pruning (quant.c), the one-call encode/decode
 * (adaptive.c), YAML configs (config.c), the CAQ scheduler (scheduler.c)
 * and CPU timing (caq.c). Not installed; included by internal.h users.
 *
 * Thread safety: every function works on the objects it is given only; an
 * alcm_mlp is read-only during inference and can be shared by threads.
 */
#ifndef ALCM_ADAPTIVE_H
#define ALCM_ADAPTIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* ---- elements (stats.c) ----------------------------------------------
 * Float dtypes the adaptive mode accepts: F16, BF16, F32, F64, stored
 * little-endian, row-major (the caller rejects other flags). */
bool alcm_adaptive_dtype_ok(unsigned dtype);
/* Element i of data as a double (exact for every accepted dtype). */
double alcm_elem_load(unsigned dtype, const uint8_t *data, size_t i);
/* Round v to dtype (round to nearest, ties to even) and store element i. */
void alcm_elem_store(unsigned dtype, uint8_t *data, size_t i, double v);
/* v rounded to dtype, as a double (what alcm_elem_store then loads). */
double alcm_elem_round(unsigned dtype, double v);

/* The channel geometry of a row-major tensor along axis: element
 * (o, c, j) is at index (o * C + c) * inner + j, o < outer, j < inner.
 * A scalar (ndim 0) is one channel of one element. */
typedef struct {
  size_t outer, channels, inner, numel;
  unsigned axis;
} alcm_chgeom;
/* Layout hints for the default channel axis (spec/adaptive.md, "Channel
 * axis"): OUT_FIRST = axis 0 ([out, in, ...]: PyTorch, NumPy, most
 * safetensors), OUT_LAST = axis ndim-1 (TensorFlow/tfjs HWIO kernels). */
typedef enum { ALCM_LAYOUT_OUT_FIRST = 0, ALCM_LAYOUT_OUT_LAST = 1 } alcm_layout;
unsigned alcm_channel_axis_default(alcm_layout layout, unsigned ndim);
/* ERR_ARGUMENT if axis >= ndim (ndim 0: axis must be 0); ERR_OVERFLOW if
 * numel overflows size_t. */
alcm_status alcm_chgeom_init(alcm_chgeom *g, unsigned ndim,
                             const uint64_t *shape, unsigned axis,
                             alcm_msg *msg);
static inline size_t alcm_chgeom_index(const alcm_chgeom *g, size_t c,
                                       size_t k) {
  /* k-th element (0 <= k < outer*inner) of channel c. */
  const size_t o = k / g->inner, j = k % g->inner;
  return (o * g->channels + c) * g->inner + j;
}

/* ---- statistics (stats.c) --------------------------------------------
 * Population moments (NumPy np.mean/np.var, scipy.stats.skew and
 * scipy.stats.kurtosis with their defaults: biased, Fisher/excess). For a
 * zero-variance set skew = kurt = 0. sparsity = fraction with |x| < 1e-6.
 * Non-finite input gives non-finite moments (callers check first). */
enum { ALCM_STAT_MEAN, ALCM_STAT_VAR, ALCM_STAT_STD, ALCM_STAT_SKEW,
       ALCM_STAT_KURT, ALCM_STAT_SPARSITY, ALCM_STAT_COUNT };
typedef struct {
  double v[ALCM_STAT_COUNT];
  double absmax, rms; /* max |x|, sqrt(mean(x^2)) */
  size_t n;
} alcm_stats;
/* Statistics of a whole tensor (n elements; n 0 gives all zeros). */
void alcm_stats_tensor(unsigned dtype, const uint8_t *data, size_t n,
                       alcm_stats *s);
/* Statistics of channel c of g. */
void alcm_stats_channel(unsigned dtype, const uint8_t *data,
                        const alcm_chgeom *g, size_t c, alcm_stats *s);
/* Index of the first NaN/Inf element, or n if all are finite. */
size_t alcm_first_nonfinite(unsigned dtype, const uint8_t *data, size_t n);

/* ---- entropy predictor (mlp.c) ---------------------------------------
 * 6 -> H (ReLU) -> 1 (sigmoid scaled to [lo, hi]). Arithmetic is IEEE
 * double with +, -, *, /, sqrt and an exp built from them, so training and
 * inference are bit-reproducible on every conforming machine. */
#define ALCM_MLP_INPUTS 6
#define ALCM_MLP_HIDDEN_MAX 1024
typedef struct {
  unsigned hidden;
  double lo, hi;      /* output range (entropy_config scheduler.min/max_bits) */
  double *w1;         /* [hidden][6] */
  double *b1, *w2;    /* [hidden] */
  double b2;
} alcm_mlp;
typedef struct {
  double learning_rate; /* 0.001 */
  unsigned epochs;      /* 10 */
  uint64_t seed;        /* 42 */
} alcm_mlp_train_params;
/* Xavier-uniform weights from seed, zero biases. ERR_ARGUMENT for hidden
 * outside 1..ALCM_MLP_HIDDEN_MAX or lo/hi not 0 <= lo < hi <= 1. */
alcm_status alcm_mlp_init(alcm_mlp *m, const alcm_mem *mem, unsigned hidden,
                          double lo, double hi, uint64_t seed, alcm_msg *msg);
void alcm_mlp_free(alcm_mlp *m, const alcm_mem *mem);
/* Normalized features (spec/adaptive.md "Predictor input") of channel
 * statistics s within a tensor whose RMS is tensor_rms. */
void alcm_mlp_features(const alcm_stats *s, double tensor_rms,
                       double x[ALCM_MLP_INPUTS]);
double alcm_mlp_forward(const alcm_mlp *m, const double x[ALCM_MLP_INPUTS]);
/* Gradient of (forward(x) - target)^2 into g (same shape as m; g's arrays
 * must be allocated, e.g. by alcm_mlp_init). @return the loss. */
double alcm_mlp_backward(const alcm_mlp *m, const double x[ALCM_MLP_INPUTS],
                         double target, alcm_mlp *g);
/* Stochastic gradient descent, one sample per step, sample order shuffled
 * every epoch by the seeded PRNG. x: [n][6], t: [n]. loss_ret (optional)
 * gets the mean loss of each epoch ([epochs]). */
alcm_status alcm_mlp_train(alcm_mlp *m, const alcm_mem *mem,
                           const alcm_mlp_train_params *p, const double *x,
                           const double *t, size_t n, double *loss_ret,
                           alcm_msg *msg);
/* Weights file (spec/adaptive.md "Predictor file"): serialize into a
 * buffer from mem, or parse one (bounded, checksummed). */
alcm_status alcm_mlp_save(const alcm_mlp *m, const alcm_mem *mem,
                          uint8_t **out, size_t *out_size, alcm_msg *msg);
alcm_status alcm_mlp_load(alcm_mlp *m, const alcm_mem *mem,
                          const uint8_t *data, size_t size, alcm_msg *msg);
/* Deterministic exp (|error| < 2 ulp), for the sigmoid. */
double alcm_mlp_exp(double x);
/* The PRNG (splitmix64) and a uniform double in [0, 1) from it. */
uint64_t alcm_rng_next(uint64_t *state);
double alcm_rng_uniform(uint64_t *state);

/* ---- quantization and pruning (quant.c) -----------------------------
 * Symmetric per-channel quantization: q = round(x / scale) clamped to
 * [-qmax, qmax], qmax = 2^(b-1) - 1, code u = q + qmax as an unsigned
 * b-bit integer; decoded value = scale * q rounded to the dtype. */
#define ALCM_BITS_MAX 16
static inline uint32_t alcm_qmax(unsigned bits) {
  return bits ? ((uint32_t)1 << (bits - 1)) - 1u : 0u;
}
/* Bit width for entropy value e in [lo, hi], linear onto
 * [min_bits, max_bits], rounded to nearest. */
unsigned alcm_bits_from_entropy(double e, double lo, double hi,
                                unsigned min_bits, unsigned max_bits);
/* Step that covers absmax with qmax levels, as f32 rounded up so that
 * scale * qmax >= absmax (0 for absmax 0). */
float alcm_scale_from_range(double absmax, unsigned bits);
/* Decoded value of q, before rounding to the dtype. */
static inline double alcm_dequant(float scale, int32_t q) {
  return (double)scale * (double)q; /* exact: 24 + 16 bits < 53 */
}
int32_t alcm_quantize(double x, float scale, unsigned bits);
/* Error of channel c quantized with (scale, bits), as decoded to dtype;
 * pruned elements (mask bit 0; mask may be NULL) decode to 0. */
typedef struct {
  double max_abs, sse, ssx; /* max |x - y|, sum (x - y)^2, sum x^2 */
} alcm_qerr;
void alcm_quant_channel_error(unsigned dtype, const uint8_t *data,
                              const alcm_chgeom *g, size_t c,
                              const uint8_t *mask, float scale, unsigned bits,
                              alcm_qerr *e);

/* Mask bitmap (spec "Per-channel sections", type 5). */
static inline bool alcm_mask_kept(const uint8_t *mask, size_t i) {
  return !mask || (((unsigned)mask[i >> 3] >> (i & 7)) & 1u);
}
/* Prune the k = min(floor(fraction * n), floor(max_drop * n)) elements of
 * smallest magnitude (ties: lower index first), never one with
 * |x| > cap_abs. *mask_ret is NULL when nothing is pruned; else
 * ceil(n/8) bytes from mem with padding bits zero. */
alcm_status alcm_prune(unsigned dtype, const uint8_t *data, size_t n,
                       double fraction, double max_drop, double cap_abs,
                       const alcm_mem *mem, uint8_t **mask_ret,
                       size_t *pruned_ret, alcm_msg *msg);
/* Check a stored mask: size ceil(n/8), padding bits zero (ERR_RESERVED);
 * counts kept elements. */
alcm_status alcm_mask_check(const uint8_t *mask, size_t mask_size, size_t n,
                            size_t *kept_ret, alcm_msg *msg);

/* Code stream (spec/adaptive.md "Codes"), by the entry's code layout
 * (adaptive block): PACKED (format 1.2): channel 0..C-1 in order, each channel's kept elements in
 * channel order as b_c-bit codes u = q + qmax packed LSB-first, every
 * channel starting on a byte boundary. BYTES (1.3): the channels in
 * width order (by bit width, then index), each kept element (channel
 * order) as its zig-zag code
 * z = 2q (q >= 0) or -2q - 1 as one low byte, then, for the channels
 * wider than 8 bits in the same order, the high byte of each z. size_ret
 * gets the code bytes, low_ret (optional) the low plane's (kept elements). */
alcm_status alcm_codes_size(const alcm_chgeom *g, const uint8_t *bits,
                            const uint8_t *mask, unsigned layout,
                            size_t *size_ret, size_t *low_ret, alcm_msg *msg);
static inline uint32_t alcm_zigzag(int32_t q) {
  return q >= 0 ? 2u * (uint32_t)q : 2u * (uint32_t)(-(q + 1)) + 1u;
}
static inline int32_t alcm_unzigzag(uint32_t z) {
  return (z & 1u) ? -(int32_t)(z >> 1) - 1 : (int32_t)(z >> 1);
}

/* ---- one-call encode/decode (adaptive.c) ----------------------------- */
typedef enum {
  ALCM_BOUND_NONE = 0,    /* bits from the entropy map, scales from ranges */
  ALCM_BOUND_MAX_ABS = 1, /* every |x - y| <= value */
  ALCM_BOUND_REL = 2,     /* every |x - y| <= value * tensor absmax */
  ALCM_BOUND_SNR = 3      /* tensor SNR >= value dB */
} alcm_bound_kind;
typedef enum {
  ALCM_MAP_PREDICTOR = 0, /* the MLP */
  ALCM_MAP_MEASURED = 1,  /* entropy of each channel's base_precision codes */
  ALCM_MAP_UNIFORM = 2    /* every channel at base_precision */
} alcm_map_source;
typedef struct {
  const alcm_mlp *predictor; /* required for ALCM_MAP_PREDICTOR */
  alcm_map_source map;
  unsigned min_precision, base_precision; /* 4, 8; 1..16, min <= base */
  double map_lo, map_hi;     /* entropy range, 0.2 .. 0.9 */
  double prune_fraction;     /* scheduler threshold; 0 = no pruning */
  double max_drop_ratio;     /* 0.25 */
  alcm_bound_kind bound;
  double bound_value;
  unsigned channel_axis;
  /* SNR bound candidates (spec "SNR bound"): 0 both, the cheaper kept
   * (default); 1 map widths only; 2 one step only (for the benchmark's
   * ablation) */
  int snr_candidates;
} alcm_adaptive_params;
/* Defaults of configs/encoder_config.yaml, no bound, axis 0, map UNIFORM
 * (no predictor given). */
void alcm_adaptive_params_init(alcm_adaptive_params *p);

typedef struct {
  unsigned channel_axis;
  uint32_t channels;
  size_t numel;
  float *entropy_map;  /* [C]  section 1 */
  float *scales;       /* [C]  section 2 (symmetric: no section 3) */
  uint8_t *bits;       /* [C]  section 4 */
  uint8_t *mask;       /* [mask_size] section 5, NULL if nothing pruned */
  size_t mask_size;
  float *stats;        /* [C][6] section 6 */
  uint8_t *codes;      /* the entry's bytes (format 1.3 layout) */
  size_t code_size;
  size_t pruned_count;
  double max_abs_err, rmse, snr_db, pruned; /* adaptive block figures */
  int global_step;     /* SNR bound: 1 if one step for the whole tensor won
                          over the map widths (spec "SNR bound") */
} alcm_adaptive_result;
/* Quantize a whole tensor. Errors: ERR_ARGUMENT (params, dtype, size),
 * ERR_UNSUPPORTED (NaN/Inf, a value beyond f32 scale range, or a bound
 * that 16 bits cannot meet: the caller stores the tensor lossless),
 * ERR_NOMEM. Memory: the result (about numel * (b/8 + 1/8) bytes plus
 * 40 bytes per channel) and, while pruning, 4 bytes per element. */
alcm_status alcm_adaptive_encode(const alcm_adaptive_params *p,
                                 unsigned dtype, unsigned ndim,
                                 const uint64_t *shape, const void *data,
                                 size_t size, const alcm_mem *mem,
                                 alcm_adaptive_result *r, alcm_msg *msg);
void alcm_adaptive_result_free(alcm_adaptive_result *r, const alcm_mem *mem);
/* Decode codes (in ALCM_CODE_LAYOUT_* `layout`; alcm_adaptive_decode:
 * the BYTES layout that the encoder writes) into out (numel elements of dtype, out_size bytes).
 * Every input is untrusted: bit widths 1..16, finite non-negative scales,
 * mask padding, code_size and every code are checked (ERR_CORRUPT,
 * ERR_RESERVED). mask NULL = nothing pruned. */
alcm_status alcm_adaptive_decode_layout(unsigned layout, unsigned dtype,
                                        unsigned ndim, const uint64_t *shape,
                                        unsigned channel_axis,
                                        const float *scales,
                                        const uint8_t *bits,
                                        const uint8_t *mask, size_t mask_size,
                                        const uint8_t *codes,
                                        size_t code_size, void *out,
                                        size_t out_size, alcm_msg *msg);
alcm_status alcm_adaptive_decode(unsigned dtype, unsigned ndim,
                                 const uint64_t *shape, unsigned channel_axis,
                                 const float *scales, const uint8_t *bits,
                                 const uint8_t *mask, size_t mask_size,
                                 const uint8_t *codes, size_t code_size,
                                 void *out, size_t out_size, alcm_msg *msg);

/* ---- YAML configs (config.c) -----------------------------------------
 * Keys and ranges: spec/adaptive.md "Configuration". Errors are
 * ERR_ARGUMENT with "<name>:<line>:<column>: ..." (1-based). */
typedef struct {
  char model_type[16];  /* "MLP" */
  unsigned hidden_size; /* 64 */
  double learning_rate; /* 0.001 */
  unsigned epochs;      /* 10 */
  uint64_t seed;        /* 42 (ALCM extension key model.seed) */
  double decay;         /* 0.95 */
  unsigned window;      /* 5 (ALCM extension key scheduler.window) */
  double min_bits, max_bits; /* 0.2, 0.9: predictor output range */
  bool offline_only;    /* true */
} alcm_entropy_config;
typedef struct {
  unsigned base_precision, min_precision; /* 8, 4 */
  double threshold_init, max_drop_ratio;  /* 0.01, 0.25 */
  char backend[16];     /* "bridge" (= auto), auto, rans, zstd, zlib, store */
  double timeout_seconds; /* 300 */
} alcm_encoder_config;
void alcm_entropy_config_default(alcm_entropy_config *c);
void alcm_encoder_config_default(alcm_encoder_config *c);
/* Parse YAML text; name is used in messages. Missing keys keep defaults. */
alcm_status alcm_entropy_config_parse(alcm_entropy_config *c, const char *name,
                                      const void *text, size_t size,
                                      alcm_msg *msg);
alcm_status alcm_encoder_config_parse(alcm_encoder_config *c, const char *name,
                                      const void *text, size_t size,
                                      alcm_msg *msg);
/* Read a file (at most 1 MiB) and parse it. */
alcm_status alcm_entropy_config_load(alcm_entropy_config *c, const char *path,
                                     const alcm_mem *mem, alcm_msg *msg);
alcm_status alcm_encoder_config_load(alcm_encoder_config *c, const char *path,
                                     const alcm_mem *mem, alcm_msg *msg);

/* ---- scheduler (scheduler.c) -----------------------------------------
 * Moves the pruning fraction by the CAQ trend (least-squares slope over
 * the last `window` CAQs): rising -> threshold / decay (prune more),
 * falling -> threshold * decay (prune less), clamped to [min, max]. */
#define ALCM_SCHED_WINDOW_MAX 16
#define ALCM_SCHED_STATE_SIZE 192u /* serialized bytes, spec/adaptive.md */
typedef struct {
  double threshold, decay, min_threshold, max_threshold;
  unsigned window, count; /* count <= window: CAQs held */
  uint64_t steps;         /* checkpoints seen */
  double caq[ALCM_SCHED_WINDOW_MAX]; /* oldest first */
} alcm_sched;
alcm_status alcm_sched_init(alcm_sched *s, double threshold_init,
                            double decay, unsigned window,
                            double max_threshold, alcm_msg *msg);
/* Record the CAQ of the checkpoint just written; @return the trend sign
 * used (-1, 0, +1) and update s->threshold for the next checkpoint. */
int alcm_sched_step(alcm_sched *s, double caq);
double alcm_sched_trend(const alcm_sched *s);
void alcm_sched_save(const alcm_sched *s, uint8_t out[ALCM_SCHED_STATE_SIZE]);
alcm_status alcm_sched_load(alcm_sched *s, const uint8_t *data, size_t size,
                            alcm_msg *msg);

/* ---- CAQ (caq.c) ------------------------------------------------------ */
/* Process CPU time in seconds (CLOCK_PROCESS_CPUTIME_ID), 0 if absent. */
double alcm_cpu_seconds(void);
/* ratio / (cpu_seconds + 1); 0 for a non-finite or negative input. */
double alcm_caq(double ratio, double cpu_seconds);

#endif /* ALCM_ADAPTIVE_H */
