/*
 * alcm-pack - pack checkpoint files (safetensors, .npy) into one .alcm
 * archive. All the work is in libalcm; this is argument parsing and
 * messages, after the zstd command line.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alcm.h"
#include "cli_common.h"

#define MAX_META 256

static void usage(FILE *out) {
  fprintf(out,
          "Usage: %s [OPTION]... INPUT...\n"
          "Pack checkpoint files into one .alcm archive (lossless by default).\n"
          "INPUT is a .safetensors, .npy, .npz or PyTorch (.pt/.bin zip)\n"
          "file, or a model folder; the type is found from its first bytes\n"
          "or, failing that, its extension. Each file is stored as a source\n"
          "that alcm-unpack restores (byte-exact except .npz, which comes\n"
          "back with identical arrays). A .npy tensor is named after the\n"
          "file without '.npy'; .npz and PyTorch tensors 'FILE:NAME'. A\n"
          "folder stores every checkpoint it holds and every other file as a\n"
          "blob, under its path relative to the folder; links are refused.\n"
          "\n"
          "  -o, --output FILE     archive to write (default: first INPUT + "
          "\".alcm\")\n"
          "  -T, --threads N       worker threads (default 1)\n"
          "  -l, --level N         compression level of the codec (with\n"
          "                        auto: of zstd, where zstd wins)\n"
          "      --codec NAME      auto (default: per chunk the smallest of\n"
          "                        field split + rans, zstd, stored), rans,\n"
          "                        zstd, zlib or store\n"
          "      --chunk-size SIZE raw bytes per chunk, e.g. 64K, 1M "
          "(default 512K)\n"
          "      --no-bundle       every tensor in frames of its own (by\n"
          "                        default tensors of up to 4 KiB share\n"
          "                        frames per dtype, format 1.4, which\n"
          "                        1.3 readers cannot read)\n"
          "      --meta KEY=VALUE  add a metadata string (repeatable)\n"
          "      --mode MODE       lossless (default) or adaptive: float\n"
          "                        tensors quantized per channel (lossy;\n"
          "                        spec/adaptive.md); small and 1-D tensors\n"
          "                        stay lossless\n"
          "      --config FILE     encoder_config.yaml for adaptive mode\n"
          "      --max-abs-error E every |x - y| <= E (adaptive)\n"
          "      --rel-error R     every |x - y| <= R * max|x| (adaptive)\n"
          "      --snr-db S        tensor SNR >= S dB (adaptive)\n"
          "      --channel-axis N  quantization channel axis: a number, or\n"
          "                        'last' (TF/tfjs kernels); default 0\n"
          "      --keep-lossless PATTERN  tensors whose name matches the\n"
          "                        glob stay lossless (repeatable)\n"
          "      --prev FILE       previous archive of the run: continue its\n"
          "                        pruning scheduler (adaptive)\n"
          "      --timeout SECONDS give up after this long (adaptive;\n"
          "                        default from the config, 300)\n"
          "      --informative-sections  also store each quantized tensor's\n"
          "                        entropy map and statistics (adaptive;\n"
          "                        for inspect --channels; no decoder\n"
          "                        needs them)\n"
          "  -f, --force           overwrite an existing output\n"
          "  -q, --quiet           print nothing but errors\n"
          "  -v, --verbose         say more (repeatable)\n"
          "      --help            show this help and exit\n"
          "      --version         show the version and exit\n"
          "\n" CLI_EXIT_HELP,
          cli_prog());
}

typedef struct {
  alcm_write_options wopt;
  const char *output;
  char *output_owned;
  const char *meta[MAX_META];
  size_t meta_count;
  int adaptive;
  const char *config, *prev;
  int bound;
  double bound_value, timeout;
  const char *keep[MAX_META];
  size_t keep_count;
  int channel_axis; /* -1: the library's default */
  int informative;  /* --informative-sections */
} pack_args;

enum { OPT_CODEC = 256, OPT_CHUNK, OPT_META, OPT_HELP, OPT_VERSION, OPT_MODE,
       OPT_CONFIG, OPT_MAXABS, OPT_REL, OPT_SNR, OPT_KEEP, OPT_PREV,
       OPT_TIMEOUT, OPT_AXIS, OPT_INFO, OPT_NO_BUNDLE };

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"threads", required_argument, NULL, 'T'},
    {"level", required_argument, NULL, 'l'},
    {"codec", required_argument, NULL, OPT_CODEC},
    {"chunk-size", required_argument, NULL, OPT_CHUNK},
    {"meta", required_argument, NULL, OPT_META},
    {"mode", required_argument, NULL, OPT_MODE},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"max-abs-error", required_argument, NULL, OPT_MAXABS},
    {"rel-error", required_argument, NULL, OPT_REL},
    {"snr-db", required_argument, NULL, OPT_SNR},
    {"keep-lossless", required_argument, NULL, OPT_KEEP},
    {"channel-axis", required_argument, NULL, OPT_AXIS},
    {"prev", required_argument, NULL, OPT_PREV},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"informative-sections", no_argument, NULL, OPT_INFO},
    {"no-bundle", no_argument, NULL, OPT_NO_BUNDLE},
    {"force", no_argument, NULL, 'f'},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0}};

/* A finite number > 0 (>= 0 with allow_zero). */
static int parse_number(const char *s, int allow_zero, double *v) {
  char *end;
  *v = strtod(s, &end);
  return !(end != s && *end == '\0' && isfinite(*v) &&
           (*v > 0 || (allow_zero && *v == 0)));
}

static int set_bound(pack_args *a, int bound, const char *opt) {
  if (a->bound && a->bound != bound)
    return cli_usage_error("%s: only one of --max-abs-error, --rel-error, "
                           "--snr-db", opt);
  if (parse_number(optarg, bound == ALCM_ERROR_BOUND_SNR, &a->bound_value))
    return cli_usage_error("%s: '%s' is not a positive number", opt, optarg);
  a->bound = bound;
  return -1;
}

/* Adaptive-mode options. @return -1 to continue, else an exit code. */
static int parse_adaptive(int c, pack_args *a) {
  switch (c) {
  case OPT_MODE:
    if (strcmp(optarg, "adaptive") == 0) a->adaptive = 1;
    else if (strcmp(optarg, "lossless") == 0) a->adaptive = 0;
    else
      return cli_usage_error("--mode: '%s' (lossless or adaptive)", optarg);
    return -1;
  case OPT_CONFIG: a->config = optarg; return -1;
  case OPT_PREV: a->prev = optarg; return -1;
  case OPT_INFO: a->informative = 1; return -1;
  case OPT_NO_BUNDLE: a->wopt.no_bundle = 1; return -1;
  case OPT_MAXABS: return set_bound(a, ALCM_ERROR_BOUND_MAX_ABS, "--max-abs-error");
  case OPT_REL: return set_bound(a, ALCM_ERROR_BOUND_REL, "--rel-error");
  case OPT_SNR: return set_bound(a, ALCM_ERROR_BOUND_SNR, "--snr-db");
  case OPT_TIMEOUT:
    if (parse_number(optarg, 0, &a->timeout))
      return cli_usage_error("--timeout: '%s' is not a positive number of "
                             "seconds", optarg);
    return -1;
  case OPT_AXIS: {
    long axis = 0;
    if (strcmp(optarg, "last") == 0)
      a->channel_axis = ALCM_CHANNEL_AXIS_LAST;
    else if (cli_parse_long(optarg, 0, 31, &axis) == 0)
      a->channel_axis = (int)axis;
    else
      return cli_usage_error("--channel-axis: '%s' (0..31 or last)", optarg);
    return -1;
  }
  case OPT_KEEP:
    if (a->keep_count == MAX_META)
      return cli_usage_error("--keep-lossless: at most %d patterns", MAX_META);
    a->keep[a->keep_count++] = optarg;
    return -1;
  default: return cli_usage_error("invalid option");
  }
}

/* @return -1 to continue, else an exit code. */
static int parse_one(int c, pack_args *a) {
  if (c >= OPT_MODE) return parse_adaptive(c, a);
  long v;
  uint64_t size;
  switch (c) {
  case 'o': a->output = optarg; return -1;
  case 'T': return cli_parse_threads(optarg, 1024, &a->wopt.threads);
  case 'l':
    if (cli_parse_long(optarg, -1000, 1000, &v))
      return cli_usage_error("--level: '%s' is not a number", optarg);
    a->wopt.level = (int)v;
    a->wopt.level_set = 1;
    return -1;
  case OPT_CODEC:
    if (strcmp(optarg, "auto") != 0 && !alcm_codec_builtin(optarg))
      return cli_usage_error("--codec: unknown codec '%s' (auto, rans, zstd, "
                             "zlib, store)",
                             optarg);
    a->wopt.codec = optarg;
    return -1;
  case OPT_CHUNK:
    if (cli_parse_size(optarg, &size) || size < 4096 || size > (1u << 30) ||
        size % 8 != 0)
      return cli_usage_error("--chunk-size: '%s' is not a size such as 64K "
                             "or 1M (a multiple of 8 in 4K..1G)", optarg);
    a->wopt.chunk_size = (uint32_t)size;
    return -1;
  case OPT_META:
    if (!strchr(optarg, '=') || optarg[0] == '=')
      return cli_usage_error("--meta: '%s' is not KEY=VALUE", optarg);
    if (a->meta_count == MAX_META)
      return cli_usage_error("--meta: at most %d keys", MAX_META);
    a->meta[a->meta_count++] = optarg;
    return -1;
  case 'f': a->wopt.overwrite = 1; return -1;
  case 'q': cli_set_verbosity(-1); return -1;
  case 'v':
    cli_set_verbosity(cli_verbosity() < 0 ? 1 : cli_verbosity() + 1);
    return -1;
  case OPT_HELP: usage(stdout); return CLI_EXIT_OK;
  case OPT_VERSION: cli_print_version(); return CLI_EXIT_OK;
  default: return cli_usage_error("invalid option");
  }
}

/* Keys must be unique; the two alcm.* keys are set by this program. */
static int check_meta(const pack_args *a) {
  for (size_t i = 0; i < a->meta_count; i++) {
    const char *const k = a->meta[i];
    const size_t n = (size_t)(strchr(k, '=') - k);
    if ((n == 20 && memcmp(k, "alcm.library_version", n) == 0) ||
        (n == 15 && memcmp(k, "alcm.created_by", n) == 0))
      return cli_usage_error("--meta: key '%.*s' is set by %s", (int)n, k,
                             cli_prog());
    for (size_t j = 0; j < i; j++)
      if (strncmp(a->meta[j], k, n + 1) == 0)
        return cli_usage_error("--meta: key '%.*s' given twice", (int)n, k);
  }
  return -1;
}

typedef enum {
  IN_UNKNOWN, IN_SAFETENSORS, IN_NPY, IN_NPZ, IN_PYTORCH, IN_FOLDER
} input_type;

/* By magic first (the .npy magic; or a safetensors length followed by
 * '{'), then by extension. */
static input_type detect(const char *path) {
  uint8_t b[9] = {0};
  size_t n = 0;
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return IN_FOLDER;
  FILE *const f = fopen(path, "rb");
  if (f) {
    n = fread(b, 1, sizeof b, f);
    fclose(f);
  }
  if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0) return IN_NPY;
  /* A zip: numpy.savez by extension, else a torch.save file. */
  if (n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
    return cli_ends_with(path, ".npz") ? IN_NPZ : IN_PYTORCH;
  if (n == 9 && b[8] == '{' && b[6] == 0 && b[7] == 0) return IN_SAFETENSORS;
  if (cli_ends_with(path, ".safetensors")) return IN_SAFETENSORS;
  if (cli_ends_with(path, ".npy")) return IN_NPY;
  return IN_UNKNOWN;
}

static int fail_writer(alcm_writer *w, alcm_status s, const char *file) {
  cli_error("%s: %s", file, cli_writer_message(w, s));
  return cli_exit_code(s);
}

static int add_input(alcm_writer *w, const char *path) {
  const char *const base = cli_basename(path);
  alcm_status s;
  switch (detect(path)) {
  case IN_SAFETENSORS:
    cli_note(1, "%s: adding safetensors as '%s'", path, base);
    s = alcm_import_safetensors(w, path, base);
    break;
  case IN_NPY: {
    const size_t n = strlen(base);
    char *const name = malloc(n + 1);
    if (!name) {
      cli_error("%s: out of memory", path);
      return CLI_EXIT_IO;
    }
    memcpy(name, base, n + 1);
    if (cli_ends_with(name, ".npy") && n > 4) name[n - 4] = '\0';
    cli_note(1, "%s: adding .npy as tensor '%s'", path, name);
    s = alcm_import_npy(w, path, base, name);
    free(name);
    break;
  }
  case IN_NPZ:
    cli_note(1, "%s: adding .npz as '%s'", path, base);
    s = alcm_import_npz(w, path, base);
    break;
  case IN_PYTORCH:
    cli_note(1, "%s: adding PyTorch file as '%s'", path, base);
    s = alcm_import_pytorch(w, path, base);
    break;
  case IN_FOLDER:
    cli_note(1, "%s: adding model folder", path);
    s = alcm_import_folder(w, path);
    break;
  default:
    cli_error("%s: not a safetensors, .npy, .npz or PyTorch file, nor a "
              "folder", path);
    return CLI_EXIT_INPUT;
  }
  /* Importer messages already name the input file. */
  if (s != ALCM_OK) {
    cli_error("%s", cli_writer_message(w, s));
    return cli_exit_code(s);
  }
  return -1;
}

static int set_meta(alcm_writer *w, const pack_args *a) {
  alcm_status s = alcm_writer_set_meta_string(w, "alcm.library_version",
                                              alcm_version_string());
  if (s == ALCM_OK)
    s = alcm_writer_set_meta_string(w, "alcm.created_by", "alcm-pack");
  for (size_t i = 0; i < a->meta_count && s == ALCM_OK; i++) {
    const char *const eq = strchr(a->meta[i], '=');
    const size_t n = (size_t)(eq - a->meta[i]);
    char *const key = malloc(n + 1);
    if (!key) {
      cli_error("%s: out of memory", a->output);
      return CLI_EXIT_IO;
    }
    memcpy(key, a->meta[i], n);
    key[n] = '\0';
    s = alcm_writer_set_meta_string(w, key, eq + 1);
    free(key);
  }
  return s == ALCM_OK ? -1 : fail_writer(w, s, a->output);
}

/* Ratio of input file bytes (headers included, as a user sees them) to
 * archive bytes. */
static void summary(const alcm_writer *w, char **inputs, int count,
                    const char *output) {
  uint64_t in = 0, file = 0, raw = 0;
  alcm_writer_totals(w, &raw, &file);
  for (int i = 0; i < count; i++) {
    struct stat st;
    if (stat(inputs[i], &st) != 0) continue;
    /* A folder's size is not its files': count the bytes packed. */
    if (S_ISDIR(st.st_mode)) {
      in = raw;
      break;
    }
    in += (uint64_t)st.st_size;
  }
  char is[32], fs[32], label[64];
  cli_format_size(in, is, sizeof is);
  cli_format_size(file, fs, sizeof fs);
  if (count > 1) snprintf(label, sizeof label, "%d files", count);
  const double ratio = file ? (double)in / (double)file : 0.0;
  printf("%s : %.3fx (%s => %s) %s\n", count > 1 ? label : inputs[0], ratio,
         is, fs, output);
}

typedef struct {
  unsigned quantized, lossless;
  uint64_t original, stored;
} adaptive_tally;

static void on_tensor(void *opaque, const char *name,
                      const alcm_adaptive_report *r) {
  adaptive_tally *t = opaque;
  if (!r->adaptive) {
    t->lossless++;
    cli_note(2, "%s: lossless (%s)", name, r->reason);
    return;
  }
  t->quantized++;
  t->original += r->original_size;
  t->stored += r->code_size + r->section_size;
  cli_note(1, "%s: %.2f bits/weight, SNR %.1f dB, max error %.3g, "
           "pruned %.1f%%, ratio %.2fx, CAQ %.3f",
           name, r->bits_per_weight, r->snr_db, r->max_abs_err,
           100.0 * r->pruned, r->ratio, r->caq);
}

/* Whole small file (config YAML, at most 1 MiB) into *buf. */
static int read_small(const char *path, char **buf, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    cli_error("%s: cannot open: %s", path, strerror(errno));
    return CLI_EXIT_IO;
  }
  *buf = malloc((1u << 20) + 1);
  *n = *buf ? fread(*buf, 1, (1u << 20) + 1, f) : 0;
  const int bad = !*buf || ferror(f) || *n > (1u << 20);
  fclose(f);
  if (bad) {
    cli_error("%s: unreadable or larger than 1 MiB", path);
    return CLI_EXIT_IO;
  }
  return -1;
}

/* The previous archive's scheduler state and CAQ (spec/adaptive.md
 * "Scheduler"), or none when it has no state. */
static int scheduler_from_prev(alcm_writer *w, const char *prev,
                               alcm_adaptive_options *o) {
  alcm_reader *r = alcm_reader_create(NULL);
  if (!r) {
    cli_error("%s: out of memory", prev);
    return CLI_EXIT_IO;
  }
  alcm_status s = alcm_reader_open(r, prev);
  if (s != ALCM_OK) {
    cli_error("--prev %s: %s", prev, cli_reader_message(r, s));
    alcm_reader_close(r);
    return cli_exit_code(s);
  }
  alcm_meta_info st, caq;
  double c = 0;
  const int have = alcm_reader_find_meta(r, "alcm.scheduler", &st) == ALCM_OK &&
                   st.type == ALCM_META_BYTES &&
                   alcm_reader_find_meta(r, "alcm.caq", &caq) == ALCM_OK &&
                   caq.type == ALCM_META_F64 && caq.size == 8;
  if (have) {
    uint64_t u = 0;
    for (int k = 7; k >= 0; k--) u = (u << 8) | caq.value[k];
    memcpy(&c, &u, 8);
  } else {
    cli_note(0, "--prev %s: no scheduler state; starting a new one", prev);
  }
  s = alcm_writer_scheduler(w, have ? st.value : NULL, have ? st.size : 0, c,
                            o);
  alcm_reader_close(r);
  if (s != ALCM_OK) {
    cli_error("--prev %s: %s", prev, cli_writer_message(w, s));
    return cli_exit_code(s);
  }
  if (have)
    cli_note(1, "scheduler: previous CAQ %.4f, pruning threshold now %.4g", c,
             o->prune_threshold);
  return -1;
}

static int setup_adaptive(alcm_writer *w, const pack_args *a,
                          alcm_adaptive_options *o, adaptive_tally *t) {
  alcm_adaptive_options_init(o);
  o->timeout_seconds = 300; /* encoder_config.yaml default */
  int rc = -1;
  if (a->config) {
    char *text = NULL;
    size_t n = 0;
    rc = read_small(a->config, &text, &n);
    if (rc < 0) {
      const alcm_status s = alcm_writer_use_config(w, a->config, text, n, o);
      if (s != ALCM_OK) {
        cli_error("%s", cli_writer_message(w, s));
        rc = cli_exit_code(s);
      }
    }
    free(text);
    if (rc >= 0) return rc;
  }
  o->bound = a->bound;
  o->bound_value = a->bound_value;
  if (a->timeout > 0) o->timeout_seconds = a->timeout;
  o->keep_lossless = a->keep;
  o->keep_lossless_count = a->keep_count;
  if (a->channel_axis != -1) o->channel_axis = a->channel_axis;
  o->informative_sections = a->informative;
  o->on_tensor = on_tensor;
  o->opaque = t;
  if (a->prev) rc = scheduler_from_prev(w, a->prev, o);
  else {
    const alcm_status s = alcm_writer_scheduler(w, NULL, 0, 0, o);
    if (s != ALCM_OK) rc = fail_writer(w, s, a->output);
  }
  if (rc >= 0) return rc;
  const alcm_status s = alcm_writer_set_adaptive(w, o);
  return s == ALCM_OK ? -1 : fail_writer(w, s, a->output);
}

static int pack(pack_args *a, char **inputs, int count) {
  alcm_writer *const w = alcm_writer_create(&a->wopt);
  if (!w) {
    cli_error("%s: out of memory", a->output);
    return CLI_EXIT_IO;
  }
  int rc = -1;
  alcm_adaptive_options ao;
  adaptive_tally tally = {0, 0, 0, 0};
  alcm_status s = alcm_writer_open(w, a->output);
  if (s != ALCM_OK) rc = fail_writer(w, s, a->output);
  if (rc < 0 && a->adaptive) rc = setup_adaptive(w, a, &ao, &tally);
  for (int i = 0; i < count && rc < 0; i++) rc = add_input(w, inputs[i]);
  if (rc < 0) rc = set_meta(w, a);
  if (rc < 0) {
    s = alcm_writer_finish(w);
    if (s != ALCM_OK) rc = fail_writer(w, s, a->output);
  }
  if (rc < 0) {
    if (cli_verbosity() >= 0) summary(w, inputs, count, a->output);
    if (a->adaptive && cli_verbosity() >= 0)
      printf("adaptive (lossy): %u tensors quantized (%.2fx on them), %u "
             "kept lossless\n",
             tally.quantized,
             tally.stored ? (double)tally.original / (double)tally.stored : 0.0,
             tally.lossless);
    rc = CLI_EXIT_OK;
  }
  /* On failure this removes the temporary file; the target is untouched. */
  alcm_writer_close(w);
  return rc;
}

int main(int argc, char **argv) {
  cli_init("alcm-pack");
  pack_args a;
  memset(&a, 0, sizeof a);
  alcm_write_options_init(&a.wopt);
  a.channel_axis = -1;
  int c;
  while ((c = getopt_long(argc, argv, "o:T:l:fqv", long_opts, NULL)) != -1) {
    const int rc = parse_one(c, &a);
    if (rc >= 0) return rc;
  }
  if (optind >= argc) return cli_usage_error("no input files");
  if (!a.adaptive && (a.config || a.prev || a.bound || a.keep_count ||
                      a.timeout > 0 || a.informative))
    return cli_usage_error("--config, --prev, error bounds, --keep-lossless, "
                           "--timeout and --informative-sections need "
                           "--mode adaptive");
  int rc = check_meta(&a);
  if (rc >= 0) return rc;
  if (!a.output) {
    const size_t n = strlen(argv[optind]);
    a.output_owned = malloc(n + sizeof ".alcm");
    if (!a.output_owned) {
      cli_error("out of memory");
      return CLI_EXIT_IO;
    }
    memcpy(a.output_owned, argv[optind], n);
    memcpy(a.output_owned + n, ".alcm", sizeof ".alcm");
    a.output = a.output_owned;
  }
  rc = pack(&a, argv + optind, argc - optind);
  free(a.output_owned);
  return rc;
}
