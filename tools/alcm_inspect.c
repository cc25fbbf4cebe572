/*
 * alcm-inspect - show what a .alcm archive holds (human or --json) and
 * verify every checksum (--verify). Uses only the public API (plus
 * jansson for --json, whose schema is fixed: tests parse it).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alcm.h"
#include "cli_common.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: %s [OPTION]... ARCHIVE\n"
          "Show the header, sources, metadata and entries of ARCHIVE.\n"
          "\n"
          "      --json            print a JSON document instead\n"
          "      --verify          check every checksum, decode every chunk\n"
          "      --quick           with --verify: check stored checksums "
          "only\n"
          "      --channels NAME   per-channel entropy map, bit widths, scales\n"
          "                        and mask density of adaptive tensor NAME\n"
          "  -v, --verbose         also list every chunk\n"
          "      --help            show this help and exit\n"
          "      --version         show the version and exit\n"
          "\n" CLI_EXIT_HELP,
          cli_prog());
}

typedef struct {
  const char *archive;
  const char *channels;
  int json, verify, quick;
} inspect_args;

enum { OPT_JSON = 256, OPT_VERIFY, OPT_QUICK, OPT_HELP, OPT_VERSION,
       OPT_CHANNELS };

static const struct option long_opts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"verify", no_argument, NULL, OPT_VERIFY},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"channels", required_argument, NULL, OPT_CHANNELS},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0}};

/* The first failure met while listing (a corrupt frame header makes its
 * chunk unreadable): the listing goes on, the exit code reports it. */
static alcm_status g_bad = ALCM_OK;
static char g_bad_msg[512];

static void note_bad(const alcm_reader *r, alcm_status s) {
  if (g_bad != ALCM_OK) return;
  g_bad = s;
  snprintf(g_bad_msg, sizeof g_bad_msg, "%s", cli_reader_message(r, s));
}

static void hex(const uint8_t *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = '\0';
}

static const char *kind_name(int kind) {
  return kind == ALCM_ENTRY_TENSOR ? "tensor"
         : kind == ALCM_ENTRY_BLOB ? "blob" : "?";
}

static const char *source_name(int format) {
  static const char *const names[] = {"none", "safetensors", "npy",
                                      "npz", "pytorch", "file"};
  return format >= 0 && format <= ALCM_SOURCE_MAX ? names[format] : "?";
}

static int64_t le64s(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return (int64_t)v;
}

static double le64d(const uint8_t *p) {
  const uint64_t v = (uint64_t)le64s(p);
  double d;
  memcpy(&d, &v, sizeof d);
  return d;
}

/* ---- human output ------------------------------------------------------ */

static void print_meta_value(const alcm_meta_info *m) {
  if (m->type == ALCM_META_STRING) {
    printf("\"%.*s\"", (int)(m->size > 200 ? 200 : m->size),
           (const char *)m->value);
    if (m->size > 200) printf("...");
  } else if (m->type == ALCM_META_I64 && m->size == 8) {
    printf("%lld", (long long)le64s(m->value));
  } else if (m->type == ALCM_META_F64 && m->size == 8) {
    printf("%.17g", le64d(m->value));
  } else {
    printf("%zu bytes", m->size);
  }
}

static void print_shape(const alcm_entry_info *e) {
  putchar('[');
  for (unsigned d = 0; d < e->ndim; d++)
    printf("%s%llu", d ? "," : "", (unsigned long long)e->shape[d]);
  putchar(']');
}

/* Stored (entropy-coded) bits of an adaptive entry's codes per element:
 * its chunks' stored sizes over numel (e->raw_size is numel x dtype size
 * for an adaptive entry). Sections are not counted. */
static double coded_bits(const alcm_entry_info *e) {
  return e->raw_size ? 8.0 * (double)e->stored_size *
                           (double)alcm_dtype_size(e->dtype) /
                           (double)e->raw_size
                     : 0.0;
}

static int print_entry(alcm_reader *r, size_t i) {
  alcm_entry_info e;
  alcm_status s = alcm_reader_entry(r, i, &e);
  if (s != ALCM_OK) {
    note_bad(r, s);
    return -1;
  }
  char raw[32], stored[32];
  cli_format_size(e.raw_size, raw, sizeof raw);
  cli_format_size(e.stored_size, stored, sizeof stored);
  printf("  %-40s %-6s %-7s ", e.name, kind_name(e.kind),
         e.kind == ALCM_ENTRY_TENSOR && alcm_dtype_name(e.dtype)
             ? alcm_dtype_name(e.dtype) : "-");
  print_shape(&e);
  if (e.flags & ALCM_ENTRY_FLAG_FORTRAN_ORDER) printf(" fortran");
  if (e.flags & ALCM_ENTRY_FLAG_BIG_ENDIAN) printf(" big-endian");
  if (e.flags & ALCM_ENTRY_FLAG_BUNDLED) /* its frame is shared */
    printf("  %s in a bundle of %s stored\n", raw, stored);
  else
    printf("  %s -> %s  %.3fx  %u chunk%s\n", raw, stored,
           e.stored_size ? (double)e.raw_size / (double)e.stored_size : 0.0,
           e.chunk_count, e.chunk_count == 1 ? "" : "s");
  alcm_adaptive_info ad;
  if (e.encoding == ALCM_ENCODING_ADAPTIVE &&
      alcm_reader_adaptive(r, i, &ad) == ALCM_OK)
    printf("    adaptive (lossy): %.2f coded bits/weight, SNR %.1f dB, max "
           "error %.3g, RMSE %.3g, pruned %.1f%%, CAQ %.3f, axis %u, %u "
           "channels, %u sections\n",
           coded_bits(&e),
           ad.snr_db, ad.max_abs_err, ad.rmse, 100.0 * ad.pruned, ad.caq,
           ad.channel_axis, (unsigned)ad.channel_count, e.section_count);
  for (uint32_t c = 0; cli_verbosity() > 0 && c < e.chunk_count; c++) {
    alcm_chunk_info ci;
    s = alcm_reader_chunk(r, i, c, &ci);
    if (s != ALCM_OK) {
      printf("    chunk %u: unreadable: %s\n", c, cli_reader_message(r, s));
      note_bad(r, s);
      break;
    }
    printf("    chunk %u at %llu: raw %llu at %llu, stored %llu, transform "
           "%u, codec %u, elem %u\n", c,
           (unsigned long long)ci.frame_offset,
           (unsigned long long)ci.raw_size,
           (unsigned long long)ci.raw_offset,
           (unsigned long long)ci.stored_size, ci.transform, ci.codec,
           ci.elem_size);
    if (e.flags & ALCM_ENTRY_FLAG_BUNDLED)
      printf("      bundled: bytes %llu.. of the frame's %llu\n",
             (unsigned long long)ci.bundle_offset,
             (unsigned long long)ci.frame_raw_size);
  }
  return 0;
}

static int print_human(alcm_reader *r, const char *archive) {
  alcm_archive_info ai;
  alcm_status st = alcm_reader_archive_info(r, &ai);
  if (st != ALCM_OK) {
    note_bad(r, st);
    return -1;
  }
  char fs[32], raw[32];
  cli_format_size(ai.file_size, fs, sizeof fs);
  cli_format_size(ai.total_raw, raw, sizeof raw);
  printf("%s: ALCM format %u.%u, %s (%llu bytes), alignment %u, %s raw\n",
         archive, ai.format_major, ai.format_minor, fs,
         (unsigned long long)ai.file_size, 1u << ai.align_log2, raw);
  printf("index: %llu bytes at offset %llu\n",
         (unsigned long long)ai.index_size,
         (unsigned long long)ai.index_offset);
  const size_t ns = alcm_reader_source_count(r);
  printf("sources: %zu\n", ns);
  for (size_t i = 0; i < ns; i++) {
    alcm_source_info s;
    if ((st = alcm_reader_source(r, i, &s)) != ALCM_OK) {
      note_bad(r, st);
      return -1;
    }
    printf("  %zu  %-11s %s (restore %zu bytes)\n", i,
           source_name(s.format), s.path, s.restore_size);
  }
  const size_t nm = alcm_reader_meta_count(r);
  printf("metadata: %zu\n", nm);
  for (size_t i = 0; i < nm; i++) {
    alcm_meta_info m;
    if ((st = alcm_reader_meta(r, i, &m)) != ALCM_OK) {
      note_bad(r, st);
      return -1;
    }
    printf("  %s = ", m.key);
    print_meta_value(&m);
    putchar('\n');
  }
  const size_t ne = alcm_reader_entry_count(r);
  printf("entries: %zu\n", ne);
  for (size_t i = 0; i < ne; i++)
    print_entry(r, i);
  return 0;
}

/* ---- JSON output ------------------------------------------------------- */

/* json_int_t is signed; values above its range (possible only for a
 * dimension of an empty tensor) become reals rather than wrapping. */
static json_t *jint(uint64_t v) {
  return v <= (uint64_t)INT64_MAX ? json_integer((json_int_t)v)
                                  : json_real((double)v);
}

/* Attach v to obj under key; records a failure in *ok. */
static void jset(json_t *obj, const char *key, json_t *v, int *ok) {
  if (!v || json_object_set_new(obj, key, v)) *ok = 0;
}
static void jpush(json_t *arr, json_t *v, int *ok) {
  if (!v || json_array_append_new(arr, v)) *ok = 0;
}

static json_t *meta_json(const alcm_meta_info *m) {
  switch (m->type) {
  case ALCM_META_STRING:
    return json_stringn((const char *)m->value, m->size);
  case ALCM_META_I64:
    return m->size == 8 ? json_integer((json_int_t)le64s(m->value)) : NULL;
  case ALCM_META_F64: {
    if (m->size != 8) return NULL;
    const double d = le64d(m->value);
    /* JSON has no NaN or infinity. */
    return isfinite(d) ? json_real(d) : json_null();
  }
  default: {
    char *const h = malloc(2 * m->size + 1);
    if (!h) return NULL;
    hex(m->value, m->size, h);
    json_t *const s = json_string(h);
    free(h);
    return s;
  }
  }
}

static json_t *chunks_json(alcm_reader *r, size_t i,
                           const alcm_entry_info *e, int *ok) {
  json_t *const arr = json_array();
  if (!arr) *ok = 0;
  for (uint32_t c = 0; arr && *ok && c < e->chunk_count; c++) {
    alcm_chunk_info ci;
    const alcm_status s = alcm_reader_chunk(r, i, c, &ci);
    if (s != ALCM_OK) {
      note_bad(r, s);
      break;
    }
    json_t *const o = json_object();
    if (!o) {
      *ok = 0;
      break;
    }
    jset(o, "frame_offset", jint(ci.frame_offset), ok);
    jset(o, "raw_size", jint(ci.raw_size), ok);
    jset(o, "stored_size", jint(ci.stored_size), ok);
    jset(o, "transform", json_integer(ci.transform), ok);
    jset(o, "codec", json_integer(ci.codec), ok);
    jset(o, "elem_size", json_integer(ci.elem_size), ok);
    if (e->flags & ALCM_ENTRY_FLAG_BUNDLED) {
      jset(o, "bundle_offset", jint(ci.bundle_offset), ok);
      jset(o, "frame_raw_size", jint(ci.frame_raw_size), ok);
    }
    jpush(arr, o, ok);
  }
  return arr;
}

/* JSON has no NaN or infinity (an exact SNR is +inf): null. */
static json_t *jreal(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* Section refs in index order: where each points, and its decoded size
 * (which reads and checks the frame). */
static json_t *sections_json(alcm_reader *r, size_t i,
                             const alcm_entry_info *e, int *ok) {
  json_t *const arr = json_array();
  if (!arr) *ok = 0;
  for (uint32_t k = 0; arr && k < e->section_count; k++) {
    alcm_section_info si;
    if (alcm_reader_section_info(r, i, k, &si) != ALCM_OK) {
      *ok = 0;
      continue;
    }
    size_t n = 0;
    json_t *const o = json_object();
    jset(o, "type", json_integer(si.type), ok);
    jset(o, "frame_offset", jint(si.frame_offset), ok);
    jset(o, "stored_size", jint(si.stored_size), ok);
    if (alcm_reader_section(r, i, si.type, NULL, 0, &n) == ALCM_OK)
      jset(o, "raw_size", jint(n), ok);
    else
      *ok = 0;
    jpush(arr, o, ok);
  }
  return arr;
}

static json_t *entry_json(alcm_reader *r, size_t i, int *ok) {
  alcm_entry_info e;
  json_t *const o = json_object();
  if (!o || alcm_reader_entry(r, i, &e) != ALCM_OK) {
    *ok = 0;
    return o;
  }
  char h[33];
  hex(e.content_hash, sizeof e.content_hash, h);
  json_t *const shape = json_array();
  for (unsigned d = 0; shape && d < e.ndim; d++)
    jpush(shape, jint(e.shape[d]), ok);
  jset(o, "name", json_string(e.name), ok);
  jset(o, "kind", json_integer(e.kind), ok);
  jset(o, "dtype", json_integer(e.dtype), ok);
  jset(o, "encoding", json_integer(e.encoding), ok);
  jset(o, "flags", json_integer(e.flags), ok);
  jset(o, "shape", shape, ok);
  jset(o, "source",
       json_integer(e.source == 0xFFFFFFFFu ? (json_int_t)-1
                                            : (json_int_t)e.source),
       ok);
  jset(o, "raw_size", jint(e.raw_size), ok);
  jset(o, "chunk_size", json_integer(e.chunk_size), ok);
  jset(o, "content_hash", json_string(h), ok);
  jset(o, "chunks", chunks_json(r, i, &e, ok), ok);
  jset(o, "sections", sections_json(r, i, &e, ok), ok);
  alcm_adaptive_info ad;
  if (e.encoding == ALCM_ENCODING_ADAPTIVE &&
      alcm_reader_adaptive(r, i, &ad) == ALCM_OK) {
    json_t *const a = json_object();
    const uint64_t numel = e.raw_size / alcm_dtype_size(e.dtype);
    jset(a, "channel_axis", json_integer(ad.channel_axis), ok);
    jset(a, "channel_count", json_integer(ad.channel_count), ok);
    jset(a, "code_size", jint(ad.code_size), ok);
    jset(a, "bits_per_weight",
         json_real(numel ? 8.0 * (double)ad.code_size / (double)numel : 0.0),
         ok);
    jset(a, "coded_bits_per_weight", json_real(coded_bits(&e)), ok);
    jset(a, "max_abs_err", jreal(ad.max_abs_err), ok);
    jset(a, "rmse", jreal(ad.rmse), ok);
    jset(a, "snr_db", jreal(ad.snr_db), ok);
    jset(a, "pruned", jreal(ad.pruned), ok);
    jset(a, "cpu_seconds", jreal(ad.cpu_seconds), ok);
    jset(a, "caq", jreal(ad.caq), ok);
    jset(o, "adaptive", a, ok);
  }
  return o;
}

static json_t *sources_json(const alcm_reader *r, int *ok) {
  json_t *const arr = json_array();
  for (size_t i = 0; arr && i < alcm_reader_source_count(r); i++) {
    alcm_source_info s;
    json_t *const o = json_object();
    if (!o || alcm_reader_source(r, i, &s) != ALCM_OK) {
      json_decref(o);
      *ok = 0;
      break;
    }
    jset(o, "format", json_integer(s.format), ok);
    jset(o, "path", json_string(s.path), ok);
    jset(o, "restore_size", jint(s.restore_size), ok);
    jpush(arr, o, ok);
  }
  return arr;
}

static json_t *metas_json(const alcm_reader *r, int *ok) {
  json_t *const arr = json_array();
  for (size_t i = 0; arr && i < alcm_reader_meta_count(r); i++) {
    alcm_meta_info m;
    json_t *const o = json_object();
    if (!o || alcm_reader_meta(r, i, &m) != ALCM_OK) {
      json_decref(o);
      *ok = 0;
      break;
    }
    jset(o, "key", json_string(m.key), ok);
    jset(o, "type", json_integer(m.type), ok);
    jset(o, "value", meta_json(&m), ok);
    jpush(arr, o, ok);
  }
  return arr;
}

static json_t *archive_json(alcm_reader *r, const char *archive,
                            int *ok) {
  alcm_archive_info ai;
  json_t *const o = json_object();
  if (!o || alcm_reader_archive_info(r, &ai) != ALCM_OK) {
    *ok = 0;
    return o;
  }
  jset(o, "file", json_string(archive), ok);
  jset(o, "file_size", jint(ai.file_size), ok);
  jset(o, "format_major", json_integer(ai.format_major), ok);
  jset(o, "format_minor", json_integer(ai.format_minor), ok);
  jset(o, "align_log2", json_integer(ai.align_log2), ok);
  jset(o, "index_offset", jint(ai.index_offset), ok);
  jset(o, "index_size", jint(ai.index_size), ok);
  jset(o, "total_raw", jint(ai.total_raw), ok);
  jset(o, "sources", sources_json(r, ok), ok);
  jset(o, "meta", metas_json(r, ok), ok);
  json_t *const entries = json_array();
  for (size_t i = 0; entries && *ok && i < alcm_reader_entry_count(r); i++)
    jpush(entries, entry_json(r, i, ok), ok);
  jset(o, "entries", entries, ok);
  return o;
}

/* ---- --channels ---------------------------------------------------------- */

typedef struct {
  alcm_entry_info e;
  alcm_adaptive_info ad;
  float *entropy, *scales, *stats; /* NULL when the section is absent */
  uint8_t *bits, *mask;
  uint64_t outer, inner;
} channel_view;

static float lef32(const uint8_t *p) {
  const uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* Section t into a new buffer (f32 sections converted); NULL if absent. */
static alcm_status load_section(alcm_reader *r, size_t i, int t, void **out) {
  size_t n = 0;
  *out = NULL;
  alcm_status s = alcm_reader_section(r, i, t, NULL, 0, &n);
  if (s == ALCM_ERR_NOT_FOUND) return ALCM_OK;
  uint8_t *b = s == ALCM_OK ? malloc(n ? n : 1) : NULL;
  if (s == ALCM_OK && !b) s = ALCM_ERR_NOMEM;
  if (s == ALCM_OK) s = alcm_reader_section(r, i, t, b, n, NULL);
  if (s != ALCM_OK) {
    free(b);
    return s;
  }
  if (t != ALCM_SECTION_BIT_WIDTHS && t != ALCM_SECTION_PRUNING_MASK)
    for (size_t k = 0; k + 4 <= n; k += 4) {
      const float f = lef32(b + k);
      memcpy(b + k, &f, 4);
    }
  *out = b;
  return ALCM_OK;
}

static void view_free(channel_view *v) {
  free(v->entropy);
  free(v->scales);
  free(v->stats);
  free(v->bits);
  free(v->mask);
}

static alcm_status view_load(alcm_reader *r, size_t i, channel_view *v) {
  alcm_status s = alcm_reader_entry(r, i, &v->e);
  if (s == ALCM_OK) s = alcm_reader_adaptive(r, i, &v->ad);
  if (s == ALCM_OK) s = load_section(r, i, ALCM_SECTION_ENTROPY_MAP, (void **)&v->entropy);
  if (s == ALCM_OK) s = load_section(r, i, ALCM_SECTION_SCALES, (void **)&v->scales);
  if (s == ALCM_OK) s = load_section(r, i, ALCM_SECTION_STATISTICS, (void **)&v->stats);
  if (s == ALCM_OK) s = load_section(r, i, ALCM_SECTION_BIT_WIDTHS, (void **)&v->bits);
  if (s == ALCM_OK) s = load_section(r, i, ALCM_SECTION_PRUNING_MASK, (void **)&v->mask);
  v->outer = v->inner = 1;
  for (unsigned d = 0; s == ALCM_OK && d < v->e.ndim; d++) {
    if (d < v->ad.channel_axis) v->outer *= v->e.shape[d];
    if (d > v->ad.channel_axis) v->inner *= v->e.shape[d];
  }
  return s;
}

/* Fraction of channel c's elements kept by the mask (1 without one). */
static double density(const channel_view *v, uint64_t c) {
  const uint64_t per = v->outer * v->inner;
  if (!v->mask || per == 0) return 1.0;
  uint64_t kept = 0;
  for (uint64_t k = 0; k < per; k++) {
    const uint64_t o = k / v->inner, j = k % v->inner;
    const uint64_t at = (o * v->ad.channel_count + c) * v->inner + j;
    kept += ((unsigned)v->mask[at >> 3] >> (at & 7)) & 1u;
  }
  return (double)kept / (double)per;
}

static json_t *channels_json(const channel_view *v, int *ok) {
  json_t *const arr = json_array();
  for (uint64_t c = 0; arr && c < v->ad.channel_count; c++) {
    json_t *const o = json_object();
    jset(o, "channel", jint(c), ok);
    jset(o, "entropy", v->entropy ? jreal(v->entropy[c]) : json_null(), ok);
    jset(o, "bits", json_integer(v->bits ? v->bits[c] : 0), ok);
    jset(o, "scale", v->scales ? jreal(v->scales[c]) : json_null(), ok);
    jset(o, "mask_density", json_real(density(v, c)), ok);
    if (v->stats) {
      json_t *const st = json_array();
      for (int k = 0; k < 6; k++) jpush(st, jreal(v->stats[6 * c + (uint64_t)k]), ok);
      jset(o, "stats", st, ok);
    }
    jpush(arr, o, ok);
  }
  return arr;
}

static void channels_human(const channel_view *v) {
  printf("%s: %u channels on axis %u, %.2f coded bits/weight, SNR %.1f dB, "
         "pruned %.1f%%\n",
         v->e.name, (unsigned)v->ad.channel_count, v->ad.channel_axis,
         coded_bits(&v->e), v->ad.snr_db, 100.0 * v->ad.pruned);
  printf("  %8s %8s %5s %14s %8s %12s %12s\n", "channel", "entropy", "bits",
         "scale", "density", "mean", "std");
  for (uint64_t c = 0; c < v->ad.channel_count; c++) {
    printf("  %8llu", (unsigned long long)c);
    if (v->entropy) /* informative: only with --informative-sections */
      printf(" %8.4f", (double)v->entropy[c]);
    else
      printf(" %8s", "-");
    printf(" %5u %14.6g %8.4f", v->bits ? v->bits[c] : 0u,
           v->scales ? (double)v->scales[c] : NAN, density(v, c));
    if (v->stats)
      printf(" %12.5g %12.5g", (double)v->stats[6 * c],
             (double)v->stats[6 * c + 2]);
    putchar('\n');
  }
}

/* --channels NAME: @return an exit code, or -1 when printed. */
static int show_channels(alcm_reader *r, const inspect_args *a) {
  size_t i;
  alcm_status s = alcm_reader_find(r, a->channels, &i);
  if (s != ALCM_OK) {
    cli_error("%s: no entry '%s'", a->archive, a->channels);
    return CLI_EXIT_INPUT;
  }
  channel_view v;
  memset(&v, 0, sizeof v);
  alcm_entry_info e;
  if (alcm_reader_entry(r, i, &e) == ALCM_OK &&
      e.encoding != ALCM_ENCODING_ADAPTIVE) {
    cli_error("%s: '%s' is stored lossless: it has no channel data",
              a->archive, a->channels);
    return CLI_EXIT_INPUT;
  }
  s = view_load(r, i, &v);
  if (s != ALCM_OK) {
    cli_error("%s: %s", a->archive, cli_reader_message(r, s));
    view_free(&v);
    return cli_exit_code(s);
  }
  int rc = -1;
  if (a->json) {
    int ok = 1;
    json_t *const doc = json_object();
    jset(doc, "file", json_string(a->archive), &ok);
    jset(doc, "entry", entry_json(r, i, &ok), &ok);
    jset(doc, "channels", channels_json(&v, &ok), &ok);
    char *const text =
        ok ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text) {
      cli_error("%s: cannot build the JSON document", a->archive);
      rc = CLI_EXIT_IO;
    } else {
      puts(text);
      free(text);
    }
  } else {
    channels_human(&v);
  }
  view_free(&v);
  return rc < 0 ? CLI_EXIT_OK : rc;
}

/* ---- main -------------------------------------------------------------- */

static uint64_t total_chunks(const alcm_reader *r) {
  uint64_t n = 0;
  for (size_t i = 0; i < alcm_reader_entry_count(r); i++) {
    alcm_entry_info e;
    if (alcm_reader_entry(r, i, &e) == ALCM_OK) n += e.chunk_count;
  }
  return n;
}

static int inspect(alcm_reader *r, const inspect_args *a) {
  alcm_status vs = ALCM_OK;
  char vmsg[512] = "";
  if (a->verify) {
    vs = alcm_reader_verify(r, a->quick ? ALCM_VERIFY_STORED_ONLY : 0);
    /* Keep it: listing calls below may replace the reader's message. */
    if (vs != ALCM_OK)
      snprintf(vmsg, sizeof vmsg, "%s", cli_reader_message(r, vs));
  }
  if (a->json) {
    int ok = 1;
    json_t *const doc = archive_json(r, a->archive, &ok);
    if (a->verify) {
      json_t *const v = json_object();
      jset(v, "ok", json_boolean(vs == ALCM_OK), &ok);
      jset(v, "status", json_string(alcm_error_name(vs)), &ok);
      jset(v, "message", json_string(vmsg), &ok);
      jset(doc, "verify", v, &ok);
    }
    char *const text =
        ok ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text) {
      cli_error("%s: cannot build the JSON document (out of memory or "
                "invalid UTF-8)", a->archive);
      return CLI_EXIT_IO;
    }
    puts(text);
    free(text);
  } else {
    print_human(r, a->archive);
    if (a->verify && vs == ALCM_OK)
      printf("OK: %zu entries, %llu chunks verified\n",
             alcm_reader_entry_count(r), (unsigned long long)total_chunks(r));
  }
  if (vs != ALCM_OK) {
    cli_error("%s: %s", a->archive, vmsg);
    return cli_exit_code(vs);
  }
  if (g_bad != ALCM_OK) {
    cli_error("%s: %s", a->archive, g_bad_msg);
    return cli_exit_code(g_bad);
  }
  return CLI_EXIT_OK;
}

int main(int argc, char **argv) {
  cli_init("alcm-inspect");
  inspect_args a;
  memset(&a, 0, sizeof a);
  int c;
  while ((c = getopt_long(argc, argv, "v", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_JSON: a.json = 1; break;
    case OPT_VERIFY: a.verify = 1; break;
    case OPT_QUICK: a.quick = 1; break;
    case OPT_CHANNELS: a.channels = optarg; break;
    case 'v': cli_set_verbosity(cli_verbosity() + 1); break;
    case OPT_HELP: usage(stdout); return CLI_EXIT_OK;
    case OPT_VERSION: cli_print_version(); return CLI_EXIT_OK;
    default: return cli_usage_error("invalid option");
    }
  }
  if (a.quick && !a.verify) return cli_usage_error("--quick needs --verify");
  if (a.channels && a.verify)
    return cli_usage_error("--channels and --verify: one at a time");
  alcm_reader *r;
  int rc = cli_open_archive(argc, argv, optind, 1, &a.archive, &r);
  if (!r) return rc;
  rc = a.channels ? show_channels(r, &a) : inspect(r, &a);
  alcm_reader_close(r);
  /* A listing lost to a full disk or a closed pipe must not exit 0. */
  errno = 0;
  if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CLI_EXIT_OK) {
    cli_error("standard output: %s", errno ? strerror(errno) : "write error");
    rc = CLI_EXIT_IO;
  }
  return rc;
}
