/*
 * bench_adaptive.c - rate/distortion of the adaptive mode on real F32
 * weights: ratio vs SNR for bit widths from (a) the MLP predictor,
 * (b) each channel's measured code entropy, (c) uniform per-channel absmax
 * int-b, (d) the max-abs error bound mode (step from the bound), and
 * (e) the SNR bound with each of its candidates alone and both (the
 * pack default): map widths, one step for the tensor, and (f) one step
 * per tensor at each tensor's own SNR under uniform int-b (c), so every
 * tensor has the SNR (c) gives it: the quantizer compared without any
 * reallocation between tensors.
 *
 *   alcm-bench-adaptive format/predictor_v1.bin bench/corpus/f32/\*.safetensors
 *
 * Ratio = original bytes / (codes + sections) over the weight tensors
 * (F32, ndim >= 2, >= 1024 elements; channel axis = last, tfjs HWIO);
 * "zstd" = the same with zstd -1 on each tensor's codes (format 1.3: one
 * zig-zag byte per code up to 8 bits, so (c) is per-channel absmax int-b
 * stored one code per byte + zstd -1, the baseline). SNR = 10 log10
 * (sum x^2 / sum (x - y)^2) over the whole set. Sections counted as a 1.3
 * writer writes them by default: scales 4C + bit widths C, plus the
 * pruning mask when there is one (raw in "ratio", zstd -1 in "+zstd-1").
 * "+info" = "+zstd-1" with the informative entropy map (4C) and
 * statistics (24C) as well, for (a)/(b) (what 1.2 wrote).
 */
#include <math.h>
#include <zstd.h>

#include "adaptive_corpus.h"

typedef struct {
  const char *label;
  alcm_map_source map;
  unsigned minp, basep;
  alcm_bound_kind bound;
  double value;
  int candidates; /* (e): alcm_adaptive_params.snr_candidates */
  double prune;
} row;

/* The SNR tensor t gets as uniform per-channel absmax int-b (b = the
 * row's min_precision). @return non-zero if it is not finite. */
static int matched_snr(const alcm_adaptive_params *q,
                       const corpus_tensor *t, const alcm_mem *mem,
                       double *snr) {
  alcm_adaptive_params u;
  alcm_adaptive_params_init(&u);
  u.map = ALCM_MAP_UNIFORM;
  u.min_precision = u.base_precision = q->min_precision;
  u.channel_axis = q->channel_axis;
  alcm_adaptive_result res;
  alcm_msg msg;
  if (alcm_adaptive_encode(&u, ALCM_DTYPE_F32, t->ndim, t->shape, t->data,
                           t->size, mem, &res, &msg))
    return 1;
  *snr = res.snr_db;
  alcm_adaptive_result_free(&res, mem);
  return !isfinite(*snr);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s predictor.bin files.safetensors...\n", argv[0]);
    return 2;
  }
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  alcm_msg msg;
  FILE *const pf = fopen(argv[1], "rb");
  uint8_t pbuf[1 << 16];
  const size_t pn = pf ? fread(pbuf, 1, sizeof pbuf, pf) : 0;
  if (pf) fclose(pf);
  alcm_mlp mlp;
  if (alcm_mlp_load(&mlp, &mem, pbuf, pn, &msg)) {
    fprintf(stderr, "%s: %s\n", argv[1], msg.text);
    return 1;
  }
  static const row rows[] = {
      {"(a) MLP 2..4", ALCM_MAP_PREDICTOR, 2, 4, ALCM_BOUND_NONE, 0, 0, 0},
      {"(a) MLP 3..6", ALCM_MAP_PREDICTOR, 3, 6, ALCM_BOUND_NONE, 0, 0, 0},
      {"(a) MLP 4..8", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_NONE, 0, 0, 0},
      {"(a) MLP 4..8 prune .01", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_NONE, 0, 0, 0.01},
      {"(a) MLP 4..8 prune .25", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_NONE, 0, 0, 0.25},
      {"(a) MLP snr>=30", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_SNR, 30, 0, 0},
      {"(a) MLP snr>=40", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_SNR, 40, 0, 0},
      {"(b) measured 2..4", ALCM_MAP_MEASURED, 2, 4, ALCM_BOUND_NONE, 0, 0, 0},
      {"(b) measured 3..6", ALCM_MAP_MEASURED, 3, 6, ALCM_BOUND_NONE, 0, 0, 0},
      {"(b) measured 4..8", ALCM_MAP_MEASURED, 4, 8, ALCM_BOUND_NONE, 0, 0, 0},
      {"(b) measured snr>=30", ALCM_MAP_MEASURED, 4, 8, ALCM_BOUND_SNR, 30, 0, 0},
      {"(b) measured snr>=40", ALCM_MAP_MEASURED, 4, 8, ALCM_BOUND_SNR, 40, 0, 0},
      {"(c) uniform int3", ALCM_MAP_UNIFORM, 3, 3, ALCM_BOUND_NONE, 0, 0, 0},
      {"(c) uniform int4", ALCM_MAP_UNIFORM, 4, 4, ALCM_BOUND_NONE, 0, 0, 0},
      {"(c) uniform int5", ALCM_MAP_UNIFORM, 5, 5, ALCM_BOUND_NONE, 0, 0, 0},
      {"(c) uniform int6", ALCM_MAP_UNIFORM, 6, 6, ALCM_BOUND_NONE, 0, 0, 0},
      {"(c) uniform int7", ALCM_MAP_UNIFORM, 7, 7, ALCM_BOUND_NONE, 0, 0, 0},
      {"(c) uniform int8", ALCM_MAP_UNIFORM, 8, 8, ALCM_BOUND_NONE, 0, 0, 0},
      {"(d) rel-error 3e-2", ALCM_MAP_UNIFORM, 8, 8, ALCM_BOUND_REL, 3e-2, 0, 0},
      {"(d) rel-error 1e-2", ALCM_MAP_UNIFORM, 8, 8, ALCM_BOUND_REL, 1e-2, 0, 0},
      {"(d) rel-error 3e-3", ALCM_MAP_UNIFORM, 8, 8, ALCM_BOUND_REL, 3e-3, 0, 0},
      {"(d) rel-error 1e-3", ALCM_MAP_UNIFORM, 8, 8, ALCM_BOUND_REL, 1e-3, 0, 0},
      {"(e) map only snr>=15", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_SNR, 15, 1, 0},
      {"(e) map only snr>=25", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_SNR, 25, 1, 0},
      {"(e) map only snr>=35", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_SNR, 35, 1, 0},
      {"(e) step only snr>=15", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_SNR, 15, 2, 0},
      {"(e) step only snr>=25", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_SNR, 25, 2, 0},
      {"(e) step only snr>=35", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_SNR, 35, 2, 0},
      {"(e) both snr>=15", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_SNR, 15, 0, 0},
      {"(e) both snr>=25", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_SNR, 25, 0, 0},
      {"(e) both snr>=35", ALCM_MAP_PREDICTOR, 4, 8, ALCM_BOUND_SNR, 35, 0, 0},
      /* (f): minp = b of the (c) row whose per-tensor SNR is matched */
      {"(f) step at int4 SNRs", ALCM_MAP_PREDICTOR, 4, 4, ALCM_BOUND_SNR, -1, 2, 0},
      {"(f) step at int5 SNRs", ALCM_MAP_PREDICTOR, 5, 5, ALCM_BOUND_SNR, -1, 2, 0},
      {"(f) step at int6 SNRs", ALCM_MAP_PREDICTOR, 6, 6, ALCM_BOUND_SNR, -1, 2, 0},
      {"(f) step at int7 SNRs", ALCM_MAP_PREDICTOR, 7, 7, ALCM_BOUND_SNR, -1, 2, 0},
      {"(f) step at int8 SNRs", ALCM_MAP_PREDICTOR, 8, 8, ALCM_BOUND_SNR, -1, 2, 0},
  };
  const size_t nrows = sizeof rows / sizeof rows[0];
  enum { MAXROWS = 48 };
  double orig[MAXROWS] = {0}, packed[MAXROWS] = {0}, zst[MAXROWS] = {0},
         sse[MAXROWS] = {0}, ssx[MAXROWS] = {0}, sect[MAXROWS] = {0},
         bits[MAXROWS] = {0}, cpu[MAXROWS] = {0}, info[MAXROWS] = {0};
  size_t tensors = 0, fails[MAXROWS] = {0};
  if (nrows > MAXROWS) return 2;
  for (int a = 2; a < argc; a++) {
    corpus_file f;
    if (corpus_load(argv[a], 1024, &f)) {
      fprintf(stderr, "%s: cannot read\n", argv[a]);
      return 1;
    }
    for (size_t k = 0; k < f.count; k++) {
      const corpus_tensor *const t = &f.t[k];
      tensors++;
      for (size_t r = 0; r < nrows; r++) {
        alcm_adaptive_params p;
        alcm_adaptive_params_init(&p);
        p.map = rows[r].map;
        p.predictor = &mlp;
        p.min_precision = rows[r].minp;
        p.base_precision = rows[r].basep;
        p.bound = rows[r].bound;
        p.bound_value = rows[r].value;
        p.prune_fraction = rows[r].prune;
        p.snr_candidates = rows[r].candidates;
        p.channel_axis = t->ndim - 1;
        alcm_adaptive_result res;
        const double t0 = alcm_cpu_seconds();
        if (rows[r].value < 0 && matched_snr(&p, t, &mem, &p.bound_value)) {
          /* the int-b SNR is infinite (exact): code it as int-b */
          p.map = ALCM_MAP_UNIFORM;
          p.bound = ALCM_BOUND_NONE;
        }
        if (alcm_adaptive_encode(&p, ALCM_DTYPE_F32, t->ndim, t->shape, t->data,
                                 t->size, &mem, &res, &msg)) {
          fails[r]++; /* kept lossless: counted as raw */
          orig[r] += (double)t->size;
          packed[r] += (double)t->size;
          zst[r] += (double)t->size;
          continue;
        }
        cpu[r] += alcm_cpu_seconds() - t0;
        const double C = res.channels;
        const double s = 4 * C + C;
        if (rows[r].label[1] == 'a' || rows[r].label[1] == 'b')
          info[r] += 4 * C + 24 * C;
        const size_t zb = ZSTD_compressBound(res.code_size + res.mask_size);
        void *const z = malloc(zb);
        const size_t zn = ZSTD_compress(z, zb, res.codes, res.code_size, 1);
        size_t zm = 0; /* the mask section, zstd -1 as its frame would be */
        if (res.mask) {
          zm = ZSTD_compress(z, zb, res.mask, res.mask_size, 1);
          if (zm > res.mask_size) zm = res.mask_size;
        }
        free(z);
        packed[r] += (double)res.mask_size;
        zst[r] += (double)zm;
        orig[r] += (double)t->size;
        packed[r] += (double)res.code_size + s;
        zst[r] += (double)(zn < res.code_size ? zn : res.code_size) + s;
        sect[r] += s + (double)zm;
        double sx = 0;
        for (size_t i = 0; i < t->numel; i++) {
          const double x = alcm_elem_load(ALCM_DTYPE_F32, t->data, i);
          sx += x * x;
        }
        ssx[r] += sx;
        sse[r] += res.rmse * res.rmse * (double)t->numel;
        for (size_t c = 0; c < res.channels; c++)
          bits[r] += (double)res.bits[c] * (double)(t->numel / res.channels);
        alcm_adaptive_result_free(&res, &mem);
      }
    }
    corpus_free(&f);
  }
  printf("%zu weight tensors, %.1f MB F32\n", tensors, orig[0] / 1e6);
  printf("%-24s %8s %8s %9s %8s %8s %9s %6s\n", "method", "SNR dB", "bits/w",
         "ratio", "+zstd-1", "sect %", "+info", "lossl");
  for (size_t r = 0; r < nrows; r++) {
    const double n = orig[r] / 4;
    printf("%-24s %8.2f %8.3f %8.2fx %7.2fx %7.2f%% %8.2fx %6zu\n",
           rows[r].label, 10 * log10(ssx[r] / sse[r]), bits[r] / n,
           orig[r] / packed[r], orig[r] / zst[r], 100 * sect[r] / zst[r],
           orig[r] / (zst[r] + info[r]), fails[r]);
  }
  (void)cpu;
  alcm_mlp_free(&mlp, &mem);
  return 0;
}
