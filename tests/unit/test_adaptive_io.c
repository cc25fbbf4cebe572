/*
 * test_adaptive_io.c - adaptive entries end to end (format 1.3): write
 * with each bound kind and dtype, open, verify, read back dequantized and
 * check the stored error figures and sections against a recomputation.
 */
#include <math.h>

#include "adaptive.h"
#include "predictor_v1.h"
#include "test_util.h"

#define ROWS 64
#define COLS 96

static void fill(int dtype, uint8_t *buf, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++) {
    const double u = (double)(tu_rng(&seed) >> 11) / 9007199254740992.0;
    const double row = (double)(i / COLS + 1) / ROWS; /* per-channel spread */
    alcm_elem_store((unsigned)dtype, buf, i, (u - 0.5) * row * 0.2);
  }
}

typedef struct {
  double max_abs, sse, ssx;
} err3;

static err3 measure(int dtype, const uint8_t *x, const uint8_t *y, size_t n) {
  err3 e = {0, 0, 0};
  for (size_t i = 0; i < n; i++) {
    const double a = alcm_elem_load((unsigned)dtype, x, i);
    const double b = alcm_elem_load((unsigned)dtype, y, i);
    const double d = fabs(a - b);
    if (d > e.max_abs) e.max_abs = d;
    e.sse += d * d;
    e.ssx += a * a;
  }
  return e;
}

static void roundtrip(int dtype, int bound, double value) {
  tu_tmp t;
  tu_tmp_make(&t, "a.alcm");
  const size_t n = ROWS * COLS, es = alcm_dtype_size(dtype);
  uint8_t *x = malloc(n * es), *y = malloc(n * es);
  cr_assert(x && y);
  fill(dtype, x, n, 7 + (uint64_t)bound);
  const uint64_t shape[2] = {ROWS, COLS};
  alcm_writer *w = alcm_writer_create(NULL);
  cr_assert_eq(alcm_writer_open(w, t.path), ALCM_OK);
  alcm_adaptive_options o;
  alcm_adaptive_options_init(&o);
  o.bound = bound;
  o.bound_value = value;
  /* The informative sections only on request: asked for with no bound. */
  o.informative_sections = bound == ALCM_ERROR_BOUND_NONE;
  alcm_adaptive_report rep;
  cr_assert_eq(alcm_writer_add_tensor_adaptive(w, "w", dtype, 2, shape, x,
                                               n * es, &o, &rep),
               ALCM_OK, "%s", alcm_writer_message(w));
  cr_assert_eq(rep.adaptive, 1, "%s", rep.reason);
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "%s", alcm_writer_message(w));
  alcm_writer_close(w);

  alcm_reader *r = alcm_reader_create(NULL);
  cr_assert_eq(alcm_reader_open(r, t.path), ALCM_OK, "%s",
               alcm_reader_message(r));
  cr_assert_eq(alcm_reader_verify(r, 0), ALCM_OK, "%s", alcm_reader_message(r));
  alcm_entry_info e;
  cr_assert_eq(alcm_reader_entry(r, 0, &e), ALCM_OK);
  cr_assert_eq(e.encoding, ALCM_ENCODING_ADAPTIVE);
  cr_assert_eq(e.raw_size, n * es);
  cr_assert_eq(alcm_reader_read(r, 0, y, n * es), ALCM_ERR_UNSUPPORTED);
  cr_assert_eq(alcm_reader_read_dequantized(r, 0, y, n * es), ALCM_OK, "%s",
               alcm_reader_message(r));
  alcm_adaptive_info ai;
  cr_assert_eq(alcm_reader_adaptive(r, 0, &ai), ALCM_OK);
  const err3 m = measure(dtype, x, y, n);
  cr_assert_eq(ai.max_abs_err, m.max_abs, "stored %g, measured %g",
               ai.max_abs_err, m.max_abs);
  cr_assert(fabs(ai.rmse - sqrt(m.sse / (double)n)) <= 1e-12 * (1 + ai.rmse));
  cr_assert_eq(ai.code_size, rep.code_size);
  cr_assert_eq(ai.max_abs_err, rep.max_abs_err);
  /* the stored caq counts the coded bytes: chunks + sections as stored */
  uint64_t stored = e.stored_size;
  for (uint32_t k = 0; k < e.section_count; k++) {
    alcm_section_info si;
    cr_assert_eq(alcm_reader_section_info(r, 0, k, &si), ALCM_OK);
    stored += si.stored_size;
  }
  cr_assert_eq(ai.caq, alcm_caq((double)(n * es) / (double)stored,
                                ai.cpu_seconds));
  if (bound == ALCM_ERROR_BOUND_MAX_ABS) cr_assert(m.max_abs <= value);
  if (bound == ALCM_ERROR_BOUND_SNR)
    cr_assert(10 * log10(m.ssx / m.sse) >= value - 1e-9);
  if (bound == ALCM_ERROR_BOUND_REL) {
    double amax = 0;
    for (size_t i = 0; i < n; i++)
      amax = fmax(amax, fabs(alcm_elem_load((unsigned)dtype, x, i)));
    cr_assert(m.max_abs <= value * amax);
  }
  /* Sections equal the encoder's. */
  const alcm_mlp *mlp = NULL;
  alcm_mlp model;
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  alcm_msg msg;
  cr_assert_eq(alcm_mlp_load(&model, &mem, alcm_predictor_v1_bin,
                             sizeof alcm_predictor_v1_bin, &msg), ALCM_OK);
  mlp = &model;
  alcm_adaptive_params p;
  alcm_adaptive_params_init(&p);
  p.map = ALCM_MAP_PREDICTOR;
  p.predictor = mlp;
  p.map_lo = mlp->lo;
  p.map_hi = mlp->hi;
  p.prune_fraction = 0.01;
  p.bound = (alcm_bound_kind)bound;
  p.bound_value = value;
  alcm_adaptive_result res;
  memset(&res, 0, sizeof res);
  cr_assert_eq(alcm_adaptive_encode(&p, (unsigned)dtype, 2, shape, x, n * es,
                                    &mem, &res, &msg), ALCM_OK, "%s", msg.text);
  uint8_t buf[ROWS * 24];
  size_t got = 0;
  cr_assert_eq(alcm_reader_section(r, 0, ALCM_SECTION_SCALES, buf, sizeof buf,
                                   &got), ALCM_OK);
  cr_assert_eq(got, 4 * ROWS);
  cr_assert_eq(memcmp(buf, res.scales, got), 0);
  cr_assert_eq(alcm_reader_section(r, 0, ALCM_SECTION_BIT_WIDTHS, buf,
                                   sizeof buf, &got), ALCM_OK);
  cr_assert_eq(memcmp(buf, res.bits, ROWS), 0);
  if (bound == ALCM_ERROR_BOUND_NONE) {
    cr_assert_eq(alcm_reader_section(r, 0, ALCM_SECTION_ENTROPY_MAP, buf,
                                     sizeof buf, &got), ALCM_OK);
    cr_assert_eq(memcmp(buf, res.entropy_map, got), 0);
    cr_assert_eq(alcm_reader_section(r, 0, ALCM_SECTION_STATISTICS, buf,
                                     sizeof buf, &got), ALCM_OK);
    cr_assert_eq(memcmp(buf, res.stats, got), 0);
  } else {
    cr_assert_eq(alcm_reader_section(r, 0, ALCM_SECTION_ENTROPY_MAP, buf,
                                     sizeof buf, &got), ALCM_ERR_NOT_FOUND);
    cr_assert_eq(alcm_reader_section(r, 0, ALCM_SECTION_STATISTICS, buf,
                                     sizeof buf, &got), ALCM_ERR_NOT_FOUND);
  }
  cr_assert_eq(alcm_reader_section(r, 0, ALCM_SECTION_ZERO_POINTS, buf,
                                   sizeof buf, &got), ALCM_ERR_NOT_FOUND);
  cr_assert_eq(res.code_size, ai.code_size);
  alcm_adaptive_result_free(&res, &mem);
  alcm_mlp_free(&model, &mem);
  alcm_reader_close(r);
  free(x);
  free(y);
  tu_tmp_drop(&t);
}

Test(adaptive_io, f32_bounds) {
  roundtrip(ALCM_DTYPE_F32, ALCM_ERROR_BOUND_NONE, 0);
  roundtrip(ALCM_DTYPE_F32, ALCM_ERROR_BOUND_MAX_ABS, 1e-3);
  roundtrip(ALCM_DTYPE_F32, ALCM_ERROR_BOUND_REL, 0.01);
  roundtrip(ALCM_DTYPE_F32, ALCM_ERROR_BOUND_SNR, 30);
}
Test(adaptive_io, bf16_bounds) {
  roundtrip(ALCM_DTYPE_BF16, ALCM_ERROR_BOUND_NONE, 0);
  roundtrip(ALCM_DTYPE_BF16, ALCM_ERROR_BOUND_MAX_ABS, 2e-3);
  roundtrip(ALCM_DTYPE_BF16, ALCM_ERROR_BOUND_SNR, 25);
}
Test(adaptive_io, f16_bounds) {
  roundtrip(ALCM_DTYPE_F16, ALCM_ERROR_BOUND_REL, 0.02);
  roundtrip(ALCM_DTYPE_F16, ALCM_ERROR_BOUND_SNR, 30);
}

/* NaN, small and 1-D tensors stay lossless; a mixed archive reads back. */
Test(adaptive_io, fallbacks_and_mixed) {
  tu_tmp t;
  tu_tmp_make(&t, "m.alcm");
  const size_t n = ROWS * COLS;
  float *x = malloc(n * 4), *y = malloc(n * 4);
  cr_assert(x && y);
  fill(ALCM_DTYPE_F32, (uint8_t *)x, n, 3);
  const uint64_t shape[2] = {ROWS, COLS}, small[2] = {4, 8}, flat[1] = {n};
  alcm_writer *w = alcm_writer_create(NULL);
  cr_assert_eq(alcm_writer_open(w, t.path), ALCM_OK);
  alcm_adaptive_report rep;
  cr_assert_eq(alcm_writer_add_tensor_adaptive(w, "good", ALCM_DTYPE_F32, 2,
                                               shape, x, n * 4, NULL, &rep),
               ALCM_OK);
  cr_assert_eq(rep.adaptive, 1);
  cr_assert_eq(alcm_writer_add_tensor_adaptive(w, "small", ALCM_DTYPE_F32, 2,
                                               small, x, 128, NULL, &rep),
               ALCM_OK);
  cr_assert_eq(rep.adaptive, 0);
  cr_assert_eq(alcm_writer_add_tensor_adaptive(w, "flat", ALCM_DTYPE_F32, 1,
                                               flat, x, n * 4, NULL, &rep),
               ALCM_OK);
  cr_assert_eq(rep.adaptive, 0);
  const float keep = x[100];
  x[100] = NAN;
  cr_assert_eq(alcm_writer_add_tensor_adaptive(w, "nan", ALCM_DTYPE_F32, 2,
                                               shape, x, n * 4, NULL, &rep),
               ALCM_OK);
  cr_assert_eq(rep.adaptive, 0);
  cr_assert(rep.reason[0]);
  cr_assert_eq(alcm_writer_add_tensor(w, "plain", ALCM_DTYPE_F32, 2, shape, x,
                                      n * 4), ALCM_OK);
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "%s", alcm_writer_message(w));
  alcm_writer_close(w);
  alcm_reader *r = alcm_reader_create(NULL);
  cr_assert_eq(alcm_reader_open(r, t.path), ALCM_OK);
  cr_assert_eq(alcm_reader_verify(r, 0), ALCM_OK, "%s", alcm_reader_message(r));
  const char *lossless[] = {"small", "flat", "nan", "plain"};
  for (int k = 0; k < 4; k++) {
    size_t i;
    alcm_entry_info e;
    cr_assert_eq(alcm_reader_find(r, lossless[k], &i), ALCM_OK);
    cr_assert_eq(alcm_reader_entry(r, i, &e), ALCM_OK);
    cr_assert_eq(e.encoding, ALCM_ENCODING_LOSSLESS, "%s", lossless[k]);
    cr_assert_eq(alcm_reader_read_dequantized(r, i, y, n * 4), ALCM_OK);
    x[100] = k < 2 ? keep : NAN; /* small and flat were added before */
    cr_assert_eq(memcmp(x, y, (size_t)e.raw_size), 0, "%s", lossless[k]);
  }
  alcm_meta_info m;
  cr_assert_eq(alcm_reader_find_meta(r, "alcm.caq", &m), ALCM_OK);
  cr_assert_eq(m.type, ALCM_META_F64);
  cr_assert_eq(alcm_reader_find_meta(r, "alcm.ratio", &m), ALCM_OK);
  alcm_reader_close(r);
  free(x);
  free(y);
  tu_tmp_drop(&t);
}

/* The embedded predictor is format/predictor_v1.bin, byte for byte. */
Test(adaptive_io, embedded_predictor) {
  FILE *f = fopen(ALCM_SOURCE_DIR "/format/predictor_v1.bin", "rb");
  cr_assert(f);
  uint8_t buf[sizeof alcm_predictor_v1_bin + 1];
  const size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  cr_assert_eq(n, sizeof alcm_predictor_v1_bin);
  cr_assert_eq(memcmp(buf, alcm_predictor_v1_bin, n), 0);
}

/* A format 1.2 archive (the adaptive fixture as the 1.2 writer made it,
 * frozen in tests/data): its packed codes (code layout 0) still decode, to
 * the values the 1.2 fixture list recorded (XXH3-128 of the dequantized
 * bytes), which are also what the 1.3 writer's byte layout decodes to. */
Test(adaptive_io, reads_format_1_2) {
  static const struct {
    const char *name, *hash;
  } want[] = {
      {"dense.weight", "0fe571866e32eabc8c2525ef66583490"},
      {"conv.weight", "f5675be4a2e3e623fdbc97eec7a2e0fa"},
      {"dense.bias", "533394cd68c38e6e04e919ca7668b117"},
  };
  alcm_reader *r = alcm_reader_create(NULL);
  cr_assert_eq(alcm_reader_open(r, ALCM_SOURCE_DIR
                                "/tests/data/adaptive_v12.alcm"),
               ALCM_OK, "%s", alcm_reader_message(r));
  alcm_archive_info ai;
  cr_assert_eq(alcm_reader_archive_info(r, &ai), ALCM_OK);
  cr_assert_eq(ai.format_minor, 2);
  cr_assert_eq(alcm_reader_verify(r, 0), ALCM_OK, "%s", alcm_reader_message(r));
  for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
    size_t i;
    cr_assert_eq(alcm_reader_find(r, want[k].name, &i), ALCM_OK);
    alcm_entry_info e;
    cr_assert_eq(alcm_reader_entry(r, i, &e), ALCM_OK);
    uint8_t *buf = malloc((size_t)e.raw_size);
    cr_assert(buf);
    cr_assert_eq(alcm_reader_read_dequantized(r, i, buf, (size_t)e.raw_size),
                 ALCM_OK, "%s", alcm_reader_message(r));
    uint8_t h[16];
    char hex[33];
    alcm_hash128(buf, (size_t)e.raw_size, h);
    for (size_t j = 0; j < 16; j++) sprintf(hex + 2 * j, "%02x", h[j]);
    cr_assert_str_eq(hex, want[k].hash, "%s", want[k].name);
    free(buf);
  }
  alcm_reader_close(r);
}
