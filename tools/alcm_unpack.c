/*
 * alcm-unpack - restore the checkpoint files packed in a .alcm archive
 * (byte-exact), or write chosen tensors as .npy files. Thin: the work is
 * in libalcm (alcm_export_source, alcm_export_npy).
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alcm.h"
#include "cli_common.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: %s [OPTION]... ARCHIVE\n"
          "Restore the files packed in ARCHIVE, or write tensors as .npy.\n"
          "\n"
          "Without --tensor, every source file is restored byte-exact. With\n"
          "one source, -o names the output file (default: the stored file\n"
          "name, in the current directory); with several, -o names a\n"
          "directory (default: the current directory).\n"
          "An archive packed from a folder (or -o naming an existing\n"
          "directory) is restored as a folder below -o; nothing is written\n"
          "outside it and links in it are not followed.\n"
          "With --tensor PATTERN (a shell glob, repeatable), each matching\n"
          "tensor is written to DIR/NAME.npy ('/' in NAME becomes '_'), DIR\n"
          "being -o (default '.'); with exactly one tensor, '-o FILE.npy'\n"
          "names the file itself. With --format safetensors, the selected\n"
          "tensors (all without --tensor) go into the one file -o.\n"
          "\n"
          "  -o, --output PATH     output file or directory (see above)\n"
          "  -T, --threads N       decode threads (default 1)\n"
          "      --tensor PATTERN  select tensors by name glob (repeatable)\n"
          "      --format FMT      npy (one file per tensor) or safetensors\n"
          "                        (one file): convert instead of restoring\n"
          "  -f, --force           overwrite existing outputs\n"
          "  -q, --quiet           print nothing but errors\n"
          "  -v, --verbose         say more (repeatable)\n"
          "      --help            show this help and exit\n"
          "      --version         show the version and exit\n"
          "\n" CLI_EXIT_HELP,
          cli_prog());
}

#define MAX_TENSORS 4096

typedef struct {
  const char *archive;
  const char *output;
  int force;
  const char *tensors[MAX_TENSORS];
  size_t tensor_count;
  const char *format; /* NULL: restore sources */
  unsigned threads;
} unpack_args;

enum { OPT_TENSOR = 256, OPT_FORMAT, OPT_HELP, OPT_VERSION };

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"threads", required_argument, NULL, 'T'},
    {"tensor", required_argument, NULL, OPT_TENSOR},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"force", no_argument, NULL, 'f'},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0}};

/* @return -1 to continue, else an exit code. */
static int parse_one(int c, unpack_args *a) {
  switch (c) {
  case 'o': a->output = optarg; return -1;
  case 'T': return cli_parse_threads(optarg, 256, &a->threads);
  case OPT_TENSOR:
    if (a->tensor_count == MAX_TENSORS)
      return cli_usage_error("--tensor: at most %d", MAX_TENSORS);
    a->tensors[a->tensor_count++] = optarg;
    return -1;
  case OPT_FORMAT:
    if (strcmp(optarg, "npy") != 0 && strcmp(optarg, "safetensors") != 0)
      return cli_usage_error("--format: '%s' is not npy or safetensors",
                             optarg);
    a->format = optarg;
    return -1;
  case 'f': a->force = 1; return -1;
  case 'q': cli_set_verbosity(-1); return -1;
  case 'v':
    cli_set_verbosity(cli_verbosity() < 0 ? 1 : cli_verbosity() + 1);
    return -1;
  case OPT_HELP: usage(stdout); return CLI_EXIT_OK;
  case OPT_VERSION: cli_print_version(); return CLI_EXIT_OK;
  default: return cli_usage_error("invalid option");
  }
}

/* dir + "/" + name (+ suffix); malloc'd. */
static char *join(const char *dir, const char *name, const char *suffix) {
  const size_t d = strlen(dir), n = strlen(name), s = strlen(suffix);
  char *const p = malloc(d + 1 + n + s + 1);
  if (!p) return NULL;
  memcpy(p, dir, d);
  size_t at = d;
  if (d && dir[d - 1] != '/') p[at++] = '/';
  memcpy(p + at, name, n);
  memcpy(p + at + n, suffix, s + 1);
  return p;
}

static int ensure_dir(const char *dir) {
  if (mkdir(dir, 0777) == 0 || errno == EEXIST) return 0;
  cli_error("%s: cannot create directory: %s", dir, strerror(errno));
  return -1;
}

/* A stored path must stay under the output directory even if the archive
 * lies: relative, no "." or ".." component (the library checks too). */
static int safe_relative(const char *p) {
  if (!*p || *p == '/') return 0;
  for (const char *c = p; *c;) {
    const char *const e = strchr(c, '/');
    const size_t n = e ? (size_t)(e - c) : strlen(c);
    if (n == 0 || (n == 1 && c[0] == '.') ||
        (n == 2 && c[0] == '.' && c[1] == '.'))
      return 0;
    c += n + (e ? 1 : 0);
  }
  return 1;
}

static int fail_reader(alcm_reader *r, alcm_status s, const char *archive) {
  cli_error("%s: %s", archive, cli_reader_message(r, s));
  return cli_exit_code(s);
}

static void done(const char *archive, const char *out) {
  struct stat st;
  char sz[32];
  cli_format_size(stat(out, &st) == 0 ? (uint64_t)st.st_size : 0, sz,
                  sizeof sz);
  if (cli_verbosity() >= 0) fprintf(stderr, "%s : %s => %s\n", archive, sz, out);
}

static int restore_one(alcm_reader *r, const unpack_args *a, size_t i,
                       const char *out) {
  alcm_status s = alcm_export_source(r, i, out, a->force);
  if (s != ALCM_OK) return fail_reader(r, s, a->archive);
  done(a->archive, out);
  return -1;
}

static int restore_sources(alcm_reader *r, const unpack_args *a) {
  const size_t n = alcm_reader_source_count(r);
  if (n == 0) {
    cli_error("%s: the archive holds no source files; use --tensor NAME",
              a->archive);
    return CLI_EXIT_INPUT;
  }
  const char *const dir = a->output ? a->output : ".";
  struct stat st;
  /* A folder (several sources, or -o naming a directory): the library
   * recreates it below dir without following links. */
  if (n > 1 || (a->output && stat(a->output, &st) == 0 && S_ISDIR(st.st_mode))) {
    const alcm_status s = alcm_export_folder(r, dir, a->force);
    if (s != ALCM_OK) return fail_reader(r, s, a->archive);
    done(a->archive, dir);
    return -1;
  }
  alcm_source_info src;
  const alcm_status s = alcm_reader_source(r, 0, &src);
  if (s != ALCM_OK) return fail_reader(r, s, a->archive);
  if (!safe_relative(src.path)) {
    cli_error("%s: source 0 has an unsafe path '%s'", a->archive, src.path);
    return CLI_EXIT_INPUT;
  }
  const char *const base = strrchr(src.path, '/');
  return restore_one(r, a, 0,
                     a->output ? a->output : base ? base + 1 : src.path);
}

/* Tensor entries matching any pattern (all tensors without patterns), in
 * entry order; a pattern that matches nothing is a usage error. */
static int select_tensors(alcm_reader *r, const unpack_args *a, size_t **sel,
                          size_t *count) {
  const size_t n = alcm_reader_entry_count(r);
  *sel = malloc((n ? n : 1) * sizeof **sel);
  unsigned char *const hit = calloc(a->tensor_count + 1, 1);
  if (!*sel || !hit) {
    free(hit);
    cli_error("%s: out of memory", a->archive);
    return CLI_EXIT_IO;
  }
  *count = 0;
  for (size_t i = 0; i < n; i++) {
    alcm_entry_info e;
    const alcm_status s = alcm_reader_entry(r, i, &e);
    if (s != ALCM_OK) {
      free(hit);
      return fail_reader(r, s, a->archive);
    }
    if (e.kind != ALCM_ENTRY_TENSOR) continue;
    bool take = a->tensor_count == 0;
    for (size_t p = 0; p < a->tensor_count; p++)
      if (fnmatch(a->tensors[p], e.name, 0) == 0) {
        hit[p] = 1;
        take = true;
      }
    if (take) (*sel)[(*count)++] = i;
  }
  for (size_t p = 0; p < a->tensor_count; p++)
    if (!hit[p]) {
      free(hit);
      cli_error("%s: no tensor matches '%s'", a->archive, a->tensors[p]);
      return CLI_EXIT_USAGE;
    }
  free(hit);
  return -1;
}

static int write_npy(alcm_reader *r, const unpack_args *a, size_t idx,
                     const char *out) {
  const alcm_status s = alcm_export_npy(r, idx, out, a->force);
  if (s != ALCM_OK) return fail_reader(r, s, a->archive);
  done(a->archive, out);
  return -1;
}

static int write_tensors_npy(alcm_reader *r, const unpack_args *a,
                             const size_t *sel, size_t count) {
  if (count == 1 && a->output && cli_ends_with(a->output, ".npy"))
    return write_npy(r, a, sel[0], a->output);
  const char *const dir = a->output ? a->output : ".";
  if (ensure_dir(dir)) return CLI_EXIT_IO;
  int rc = -1;
  for (size_t i = 0; i < count && rc < 0; i++) {
    alcm_entry_info e;
    const alcm_status s = alcm_reader_entry(r, sel[i], &e);
    if (s != ALCM_OK) return fail_reader(r, s, a->archive);
    char *const out = join(dir, e.name, ".npy");
    if (!out) {
      cli_error("%s: out of memory", a->archive);
      return CLI_EXIT_IO;
    }
    /* Only the file-name part is the tensor's: flatten its slashes. */
    for (char *p = out + strlen(out) - strlen(e.name) - 4; *p; p++)
      if (*p == '/') *p = '_';
    rc = write_npy(r, a, sel[i], out);
    free(out);
  }
  return rc;
}

static int write_tensors(alcm_reader *r, const unpack_args *a) {
  size_t *sel = NULL, count = 0;
  int rc = select_tensors(r, a, &sel, &count);
  if (rc < 0 && a->format && strcmp(a->format, "safetensors") == 0) {
    if (!a->output) {
      rc = cli_usage_error("--format safetensors needs -o FILE");
    } else {
      const alcm_status s =
          alcm_export_safetensors(r, sel, count, a->output, a->force);
      if (s != ALCM_OK) rc = fail_reader(r, s, a->archive);
      else done(a->archive, a->output);
    }
  } else if (rc < 0) {
    rc = write_tensors_npy(r, a, sel, count);
  }
  free(sel);
  return rc;
}

/* A full unpack reads every payload anyway; checking the frame layout and
 * the zero padding between frames first makes it refuse any damaged byte,
 * as --verify does. */
static int restore_all(alcm_reader *r, const unpack_args *a) {
  const alcm_status s = alcm_reader_verify(r, ALCM_VERIFY_LAYOUT_ONLY);
  if (s != ALCM_OK) return fail_reader(r, s, a->archive);
  return restore_sources(r, a);
}

/* Adaptive entries come back dequantized, not byte-exact: say so (on
 * stderr, unless --quiet). */
static void note_lossy(const alcm_reader *r) {
  for (size_t i = 0; i < alcm_reader_entry_count(r); i++) {
    alcm_entry_info e;
    if (alcm_reader_entry(r, i, &e) == ALCM_OK &&
        e.encoding == ALCM_ENCODING_ADAPTIVE) {
      cli_note(0, "note: archive is lossy (adaptive); tensors are "
                  "dequantized");
      return;
    }
  }
}

int main(int argc, char **argv) {
  cli_init("alcm-unpack");
  unpack_args a;
  memset(&a, 0, sizeof a);
  int c;
  while ((c = getopt_long(argc, argv, "o:T:fqv", long_opts, NULL)) != -1) {
    const int rc = parse_one(c, &a);
    if (rc >= 0) return rc;
  }
  alcm_reader *r;
  int rc = cli_open_archive(argc, argv, optind, a.threads, &a.archive, &r);
  if (!r) return rc;
  note_lossy(r);
  rc = a.tensor_count || a.format ? write_tensors(r, &a) : restore_all(r, &a);
  alcm_reader_close(r);
  return rc < 0 ? CLI_EXIT_OK : rc;
}
