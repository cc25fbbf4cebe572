/*
 * alcm-pack - pack checkpoint files (safetensors, .npy) into one .alcm
 * archive. All the work is in libalcm; this is argument parsing and
 * messages, after the zstd command line.
 */
#include <getopt.h>
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
          "Pack checkpoint files into one .alcm archive (lossless).\n"
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
          "(default 1M)\n"
          "      --meta KEY=VALUE  add a metadata string (repeatable)\n"
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
} pack_args;

enum { OPT_CODEC = 256, OPT_CHUNK, OPT_META, OPT_HELP, OPT_VERSION };

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"threads", required_argument, NULL, 'T'},
    {"level", required_argument, NULL, 'l'},
    {"codec", required_argument, NULL, OPT_CODEC},
    {"chunk-size", required_argument, NULL, OPT_CHUNK},
    {"meta", required_argument, NULL, OPT_META},
    {"force", no_argument, NULL, 'f'},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0}};

/* @return -1 to continue, else an exit code. */
static int parse_one(int c, pack_args *a) {
  long v;
  uint64_t size;
  switch (c) {
  case 'o': a->output = optarg; return -1;
  case 'T':
    if (cli_parse_long(optarg, 1, 1024, &v))
      return cli_usage_error("--threads: '%s' is not a number in 1..1024",
                             optarg);
    a->wopt.threads = (unsigned)v;
    return -1;
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

static int pack(pack_args *a, char **inputs, int count) {
  alcm_writer *const w = alcm_writer_create(&a->wopt);
  if (!w) {
    cli_error("%s: out of memory", a->output);
    return CLI_EXIT_IO;
  }
  int rc = -1;
  alcm_status s = alcm_writer_open(w, a->output);
  if (s != ALCM_OK) rc = fail_writer(w, s, a->output);
  for (int i = 0; i < count && rc < 0; i++) rc = add_input(w, inputs[i]);
  if (rc < 0) rc = set_meta(w, a);
  if (rc < 0) {
    s = alcm_writer_finish(w);
    if (s != ALCM_OK) rc = fail_writer(w, s, a->output);
  }
  if (rc < 0) {
    if (cli_verbosity() >= 0) summary(w, inputs, count, a->output);
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
  int c;
  while ((c = getopt_long(argc, argv, "o:T:l:fqv", long_opts, NULL)) != -1) {
    const int rc = parse_one(c, &a);
    if (rc >= 0) return rc;
  }
  if (optind >= argc) return cli_usage_error("no input files");
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
