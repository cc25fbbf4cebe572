/*
 * train_predictor.c - retrain the entropy predictor's weights
 * (format/predictor_v1.bin) from a corpus of safetensors files,
 * deterministically (spec/adaptive.md "Predictor training").
 *
 *   alcm-train-predictor [--config configs/entropy_config.yaml]
 *       [--snr-db 30] [--min 4] [--base 8] [--axis last|first]
 *       -o format/predictor_v1.bin bench/corpus/f32/\*.safetensors
 *
 * Sample = one output channel of one F32 weight tensor (ndim >= 2, at
 * least 1024 elements); input = its normalized statistics; target = the
 * entropy value of the fewest bits b (1..16) at which the channel,
 * quantized with its range scale, reaches the SNR target:
 * lo + (hi - lo) * clamp((b - min) / (base - min), 0, 1).
 */
#include <math.h>

#include "adaptive_corpus.h"

static unsigned needed_bits(const corpus_tensor *t, const alcm_chgeom *g,
                            size_t c, double absmax, double snr_db) {
  for (unsigned b = 1; b <= ALCM_BITS_MAX; b++) {
    alcm_qerr e;
    alcm_quant_channel_error(ALCM_DTYPE_F32, t->data, g, c, NULL,
                             alcm_scale_from_range(absmax, b), b, &e);
    if (e.sse == 0 || 10 * log10(e.ssx / e.sse) >= snr_db) return b;
  }
  return ALCM_BITS_MAX;
}

int main(int argc, char **argv) {
  const char *config = NULL, *out = NULL;
  double snr_db = 30;
  unsigned minp = 4, basep = 8;
  int last_axis = 1;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
    else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--snr-db") && i + 1 < argc) snr_db = atof(argv[++i]);
    else if (!strcmp(argv[i], "--min") && i + 1 < argc) minp = (unsigned)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--base") && i + 1 < argc) basep = (unsigned)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--axis") && i + 1 < argc) last_axis = strcmp(argv[++i], "first") != 0;
    else {
      fprintf(stderr, "usage: %s [--config F] [--snr-db S] [--min B] [--base B] "
                      "[--axis last|first] -o OUT files...\n", argv[0]);
      return 2;
    }
  }
  if (!out || i == argc || minp < 1 || minp >= basep || basep > 16) {
    fprintf(stderr, "%s: need -o OUT, files, 1 <= min < base <= 16\n", argv[0]);
    return 2;
  }
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  alcm_msg msg;
  alcm_entropy_config ec;
  alcm_entropy_config_default(&ec);
  if (config && alcm_entropy_config_load(&ec, config, &mem, &msg)) {
    fprintf(stderr, "%s\n", msg.text);
    return 1;
  }
  size_t cap = 1 << 16, n = 0;
  double *x = malloc(cap * 6 * sizeof *x), *tg = malloc(cap * sizeof *tg);
  unsigned hist[17] = {0};
  for (; i < argc; i++) {
    corpus_file f;
    if (corpus_load(argv[i], 1024, &f)) {
      fprintf(stderr, "%s: cannot read\n", argv[i]);
      return 1;
    }
    for (size_t k = 0; k < f.count; k++) {
      const corpus_tensor *const t = &f.t[k];
      alcm_chgeom g;
      alcm_chgeom_init(&g, t->ndim, t->shape,
                       alcm_channel_axis_default(last_axis ? ALCM_LAYOUT_OUT_LAST
                                                           : ALCM_LAYOUT_OUT_FIRST,
                                                 t->ndim), NULL);
      alcm_stats ts;
      alcm_stats_tensor(ALCM_DTYPE_F32, t->data, t->numel, &ts);
      for (size_t c = 0; c < g.channels; c++) {
        if (n == cap) {
          cap *= 2;
          x = realloc(x, cap * 6 * sizeof *x);
          tg = realloc(tg, cap * sizeof *tg);
        }
        alcm_stats s;
        alcm_stats_channel(ALCM_DTYPE_F32, t->data, &g, c, &s);
        alcm_mlp_features(&s, ts.rms, x + n * 6);
        const unsigned b = needed_bits(t, &g, c, s.absmax, snr_db);
        hist[b]++;
        double u = ((double)b - minp) / (double)(basep - minp);
        u = u < 0 ? 0 : u > 1 ? 1 : u;
        tg[n++] = ec.min_bits + (ec.max_bits - ec.min_bits) * u;
      }
    }
    corpus_free(&f);
  }
  double mean = 0, var = 0;
  for (size_t k = 0; k < n; k++) mean += tg[k];
  mean /= (double)n;
  for (size_t k = 0; k < n; k++) var += (tg[k] - mean) * (tg[k] - mean);
  printf("samples %zu (channels), SNR target %.1f dB, bits needed:", n, snr_db);
  for (unsigned b = 1; b <= 16; b++)
    if (hist[b]) printf(" %u:%u", b, hist[b]);
  printf("\nbaseline MSE (predict the mean %.4f): %.6f\n", mean, var / (double)n);
  alcm_mlp m;
  if (alcm_mlp_init(&m, &mem, ec.hidden_size, ec.min_bits, ec.max_bits, ec.seed,
                    &msg)) {
    fprintf(stderr, "%s\n", msg.text);
    return 1;
  }
  double *loss = malloc(ec.epochs * sizeof *loss);
  const alcm_mlp_train_params p = {ec.learning_rate, ec.epochs, ec.seed};
  if (alcm_mlp_train(&m, &mem, &p, x, tg, n, loss, &msg)) {
    fprintf(stderr, "%s\n", msg.text);
    return 1;
  }
  for (unsigned e = 0; e < ec.epochs; e++)
    printf("epoch %u: mean loss %.6f\n", e + 1, loss[e]);
  uint8_t *file;
  size_t fsize;
  alcm_mlp_save(&m, &mem, &file, &fsize, NULL);
  FILE *const fo = fopen(out, "wb");
  if (!fo || fwrite(file, 1, fsize, fo) != fsize || fclose(fo)) {
    fprintf(stderr, "%s: cannot write\n", out);
    return 1;
  }
  printf("wrote %s (%zu bytes, XXH3-64 %016llx)\n", out, fsize,
         (unsigned long long)alcm_hash64(file, fsize));
  alcm_mem_free(&mem, file);
  alcm_mlp_free(&m, &mem);
  free(loss);
  free(x);
  free(tg);
  return 0;
}
