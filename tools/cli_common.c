/*
 * cli_common.c - shared command-line plumbing for the alcm tools.
 */
#include "cli_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Process-wide by design: one program, one name, one verbosity. */
static const char *g_prog = "alcm";
static int g_verbosity = 0;

void cli_init(const char *prog) { g_prog = prog; }
const char *cli_prog(void) { return g_prog; }
void cli_set_verbosity(int level) { g_verbosity = level; }
int cli_verbosity(void) { return g_verbosity; }

static void vmessage(const char *fmt, va_list ap) {
  fprintf(stderr, "%s: ", g_prog);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmessage(fmt, ap);
  va_end(ap);
}

void cli_note(int level, const char *fmt, ...) {
  if (g_verbosity < level) return;
  va_list ap;
  va_start(ap, fmt);
  vmessage(fmt, ap);
  va_end(ap);
}

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmessage(fmt, ap);
  va_end(ap);
  fprintf(stderr, "Try '%s --help' for more information.\n", g_prog);
  return CLI_EXIT_USAGE;
}

int cli_exit_code(alcm_status s) {
  switch (s) {
  case ALCM_OK:
    return CLI_EXIT_OK;
  case ALCM_ERR_IO:
  case ALCM_ERR_NOMEM:
  case ALCM_ERR_EXISTS:
  case ALCM_ERR_STATE: /* a library misuse: not the input's fault */
    return CLI_EXIT_IO;
  case ALCM_ERR_ARGUMENT:
    return CLI_EXIT_USAGE;
  default:
    return CLI_EXIT_INPUT;
  }
}

const char *cli_reader_message(const alcm_reader *r, alcm_status s) {
  const char *const m = r ? alcm_reader_message(r) : NULL;
  return m && *m ? m : alcm_error_text(s);
}

const char *cli_writer_message(const alcm_writer *w, alcm_status s) {
  const char *const m = w ? alcm_writer_message(w) : NULL;
  return m && *m ? m : alcm_error_text(s);
}

void cli_print_version(void) {
  const unsigned f = alcm_format_version();
  printf("%s %s (libalcm %s, format %u.%u)\n", g_prog, ALCM_VERSION_STRING,
         alcm_version_string(), f / 100, f % 100);
}

int cli_parse_long(const char *s, long min, long max, long *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  const long v = strtol(s, &end, 10);
  if (errno || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

int cli_parse_threads(const char *s, unsigned max, unsigned *out) {
  long v;
  if (cli_parse_long(s, 1, (long)max, &v))
    return cli_usage_error("--threads: '%s' is not a number in 1..%u", s,
                           max);
  *out = (unsigned)v;
  return -1;
}

int cli_parse_size(const char *s, uint64_t *out) {
  if (!s || *s < '0' || *s > '9') return -1;
  uint64_t v = 0;
  while (*s >= '0' && *s <= '9') {
    if (__builtin_mul_overflow(v, (uint64_t)10, &v) ||
        __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
      return -1;
    s++;
  }
  unsigned shift = 0;
  switch (*s) {
  case 'K': case 'k': shift = 10; s++; break;
  case 'M': case 'm': shift = 20; s++; break;
  case 'G': case 'g': shift = 30; s++; break;
  default: break;
  }
  if (shift && *s == 'i') s++;
  if (*s == 'B') s++;
  if (*s) return -1;
  if (shift && v > (UINT64_MAX >> shift)) return -1;
  *out = v << shift;
  return 0;
}

void cli_format_size(uint64_t n, char *buf, size_t cap) {
  static const char *const units[] = {"KB", "MB", "GB", "TB", "PB", "EB"};
  if (n < 1000) {
    snprintf(buf, cap, "%llu B", (unsigned long long)n);
    return;
  }
  double v = (double)n / 1000.0;
  size_t u = 0;
  while (v >= 999.995 && u + 1 < sizeof units / sizeof units[0]) {
    v /= 1000.0;
    u++;
  }
  snprintf(buf, cap, "%.2f %s", v, units[u]);
}

const char *cli_basename(const char *path) {
  const char *const slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

int cli_ends_with(const char *s, const char *suffix) {
  const size_t n = strlen(s), k = strlen(suffix);
  return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int cli_open_archive(int argc, char **argv, int optind, unsigned threads,
                     const char **archive, alcm_reader **r_ret) {
  *r_ret = NULL;
  if (optind >= argc) return cli_usage_error("no archive given");
  if (optind + 1 < argc)
    return cli_usage_error("one archive at a time ('%s' is extra)",
                           argv[optind + 1]);
  *archive = argv[optind];
  alcm_read_options o;
  alcm_read_options_init(&o);
  o.threads = threads;
  alcm_reader *const r = alcm_reader_create(&o);
  if (!r) {
    cli_error("%s: out of memory", *archive);
    return CLI_EXIT_IO;
  }
  const alcm_status s = alcm_reader_open(r, *archive);
  if (s != ALCM_OK) {
    cli_error("%s: %s", *archive, cli_reader_message(r, s));
    alcm_reader_close(r);
    return cli_exit_code(s);
  }
  *r_ret = r;
  return -1;
}
