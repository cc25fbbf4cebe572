/*
 * alcm-unpack - restore the checkpoint files packed in a .alcm archive
 * (byte-exact), or write chosen tensors as .npy files. Thin: the work is
 * in libalcm (alcm_export_source, alcm_export_npy).
 */
#include <errno.h>
#include <getopt.h>
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
          "With --tensor, each named tensor is written to DIR/NAME.npy ('/'\n"
          "in NAME becomes '_'), DIR being -o (default '.'); with exactly\n"
          "one tensor, '-o FILE.npy' names the file itself.\n"
          "\n"
          "  -o, --output PATH     output file or directory (see above)\n"
          "      --tensor NAME     write tensor NAME as .npy (repeatable)\n"
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
} unpack_args;

enum { OPT_TENSOR = 256, OPT_HELP, OPT_VERSION };

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"tensor", required_argument, NULL, OPT_TENSOR},
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
  case OPT_TENSOR:
    if (a->tensor_count == MAX_TENSORS)
      return cli_usage_error("--tensor: at most %d", MAX_TENSORS);
    a->tensors[a->tensor_count++] = optarg;
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

/* mkdir -p for the folders above path's last component. */
static int make_parents(char *path) {
  for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
    *p = '\0';
    const int bad = mkdir(path, 0777) != 0 && errno != EEXIST;
    *p = '/';
    if (bad) return -1;
  }
  return 0;
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
  if (n > 1 && ensure_dir(dir)) return CLI_EXIT_IO;
  int rc = -1;
  for (size_t i = 0; i < n && rc < 0; i++) {
    alcm_source_info src;
    alcm_status s = alcm_reader_source(r, i, &src);
    if (s != ALCM_OK) return fail_reader(r, s, a->archive);
    if (!safe_relative(src.path)) {
      cli_error("%s: source %zu has an unsafe path '%s'", a->archive, i,
                src.path);
      return CLI_EXIT_INPUT;
    }
    if (n == 1) {
      const char *const base = strrchr(src.path, '/');
      return restore_one(r, a, i,
                         a->output ? a->output : base ? base + 1 : src.path);
    }
    char *const out = join(dir, src.path, "");
    if (!out) {
      cli_error("%s: out of memory", a->archive);
      return CLI_EXIT_IO;
    }
    if (make_parents(out)) {
      cli_error("%s: cannot create the folders of '%s': %s", a->archive, out,
                strerror(errno));
      rc = CLI_EXIT_IO;
    } else {
      cli_note(1, "%s: source %zu '%s' -> %s", a->archive, i, src.path, out);
      rc = restore_one(r, a, i, out);
    }
    free(out);
  }
  return rc;
}

static int write_tensor(alcm_reader *r, const unpack_args *a,
                        const char *name, const char *out) {
  size_t idx;
  alcm_status s = alcm_reader_find(r, name, &idx);
  if (s == ALCM_ERR_NOT_FOUND) {
    cli_error("%s: no tensor named '%s'", a->archive, name);
    return CLI_EXIT_USAGE;
  }
  if (s == ALCM_OK) s = alcm_export_npy(r, idx, out, a->force);
  if (s != ALCM_OK) return fail_reader(r, s, a->archive);
  done(a->archive, out);
  return -1;
}

static int write_tensors(alcm_reader *r, const unpack_args *a) {
  if (a->tensor_count == 1 && a->output && cli_ends_with(a->output, ".npy"))
    return write_tensor(r, a, a->tensors[0], a->output);
  const char *const dir = a->output ? a->output : ".";
  if (ensure_dir(dir)) return CLI_EXIT_IO;
  int rc = -1;
  for (size_t i = 0; i < a->tensor_count && rc < 0; i++) {
    const char *const name = a->tensors[i];
    char *const out = join(dir, name, ".npy");
    if (!out) {
      cli_error("%s: out of memory", a->archive);
      return CLI_EXIT_IO;
    }
    /* Only the file-name part is the tensor's: flatten its slashes. */
    for (char *p = out + strlen(out) - strlen(name) - 4; *p; p++)
      if (*p == '/') *p = '_';
    rc = write_tensor(r, a, name, out);
    free(out);
  }
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

int main(int argc, char **argv) {
  cli_init("alcm-unpack");
  unpack_args a;
  memset(&a, 0, sizeof a);
  int c;
  while ((c = getopt_long(argc, argv, "o:fqv", long_opts, NULL)) != -1) {
    const int rc = parse_one(c, &a);
    if (rc >= 0) return rc;
  }
  alcm_reader *r;
  int rc = cli_open_archive(argc, argv, optind, &a.archive, &r);
  if (!r) return rc;
  rc = a.tensor_count ? write_tensors(r, &a) : restore_all(r, &a);
  alcm_reader_close(r);
  return rc < 0 ? CLI_EXIT_OK : rc;
}
