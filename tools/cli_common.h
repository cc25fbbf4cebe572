/*
 * cli_common.h - what alcm-pack, alcm-unpack and alcm-inspect share:
 * exit codes, messages prefixed with the program name, verbosity, and
 * parsing of numbers and sizes given on the command line.
 *
 * The tools are single-threaded programs; the program name and the
 * verbosity are process-wide (set once in main).
 */
#ifndef ALCM_CLI_COMMON_H
#define ALCM_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "alcm.h"

#if defined(__GNUC__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

/* Exit codes: the same for every tool, listed in every --help. */
enum {
  CLI_EXIT_OK = 0,    /* success */
  CLI_EXIT_USAGE = 1, /* bad command line */
  CLI_EXIT_INPUT = 2, /* bad or corrupt archive or checkpoint, failed verify */
  CLI_EXIT_IO = 3     /* I/O or system error, target exists, out of memory */
};

/* Text for the end of every --help. */
#define CLI_EXIT_HELP                                                        \
  "Exit status:\n"                                                           \
  "  0  success\n"                                                           \
  "  1  usage error\n"                                                       \
  "  2  bad or corrupt input (archive or checkpoint; includes verify "       \
  "failures)\n"                                                              \
  "  3  I/O or system error (including target exists without -f, out of "   \
  "memory)\n"

void cli_init(const char *prog);
const char *cli_prog(void);

/* 0 normal, <0 quiet (-q), >0 verbose (-v, repeatable). */
void cli_set_verbosity(int level);
int cli_verbosity(void);

/* "prog: <message>\n" on stderr, always. */
void cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Same, but only when verbosity >= level. */
void cli_note(int level, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Usage error: message, a hint to run --help; @return CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/* The handle's message, or the status text if the call left none. */
const char *cli_reader_message(const alcm_reader *r, alcm_status s);
const char *cli_writer_message(const alcm_writer *w, alcm_status s);

/* The one archive operand at argv[optind], opened for reading with
 * `threads` decode threads. On failure the message is printed and the
 * exit code returned (*r_ret is NULL); on success @return -1 and *r_ret
 * holds the open reader. */
int cli_open_archive(int argc, char **argv, int optind, unsigned threads,
                     const char **archive, alcm_reader **r_ret);

/* The exit code for a library status. */
int cli_exit_code(alcm_status s);

/* "prog X.Y.Z (libalcm A.B.C, format M.N)" on stdout. */
void cli_print_version(void);

/* Parse a decimal integer in [min, max]. @return 0 on success. */
int cli_parse_long(const char *s, long min, long max, long *out);
/* The argument of -T/--threads, 1..max, into *out. @return -1 on success,
 * else the usage-error exit code (message printed). */
int cli_parse_threads(const char *s, unsigned max, unsigned *out);
/* Parse a size: digits, then optional K, M, G (powers of 1024), with
 * optional "i", "iB" or "B" after (64K, 1M, 1MiB, 4096). @return 0 on
 * success, -1 if malformed or it does not fit in 64 bits. */
int cli_parse_size(const char *s, uint64_t *out);
/* Human size for messages: "512 B", "4.00 MB" (decimal units). */
void cli_format_size(uint64_t n, char *buf, size_t cap);

/* The last path component of path (no allocation; points into path). */
const char *cli_basename(const char *path);
/* Does s end with suffix? */
int cli_ends_with(const char *s, const char *suffix);

#endif /* ALCM_CLI_COMMON_H */
