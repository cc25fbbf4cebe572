/*
 * test_golden.c - the committed fixtures (fixtures/, made by
 * fixtures/gen_fixtures.c):
 *  - every fixtures/valid archive opens, verifies, and every entry reads
 *    (whole and streamed) to the XXH3-128 recorded in valid/EXPECTED.tsv;
 *    an adaptive (lossy) entry's line has two more columns, its code size
 *    and code hash: read_dequantized and stream give the dequantized values
 *    recorded, the exact-bytes read is refused (ERR_UNSUPPORTED);
 *  - every fixtures/invalid archive fails at the operation named in
 *    invalid/EXPECTED.tsv (open or verify) with exactly the named status
 *    and a message that says what and where.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FIXTURES ALCM_SOURCE_DIR "/fixtures"

/* ---- EXPECTED.tsv ------------------------------------------------------- */

#define MAX_FIELDS 7
#define FIELD_SIZE 160

typedef struct {
  char f[MAX_FIELDS][FIELD_SIZE];
  int n;
} row;

/* Parse the tab-separated lines of path, skipping '#' comments.
 * @return the number of rows (at most cap); -1 if the file is missing. */
static int read_tsv(const char *path, row *rows, int cap) {
  FILE *const f = fopen(path, "r");
  if (!f) return -1;
  char line[1024];
  int count = 0;
  while (count < cap && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '#' || line[0] == '\0') continue;
    row *const r = &rows[count++];
    memset(r, 0, sizeof *r);
    char *save = NULL;
    for (char *t = strtok_r(line, "\t", &save); t && r->n < MAX_FIELDS;
         t = strtok_r(NULL, "\t", &save))
      snprintf(r->f[r->n++], FIELD_SIZE, "%s", t);
  }
  fclose(f);
  return count;
}

#define MAX_ROWS 512
static row g_rows[MAX_ROWS];

static alcm_status status_named(const char *name) {
  for (int s = 0; s < ALCM_ERROR_COUNT_; s++)
    if (strcmp(alcm_error_name((alcm_status)s), name) == 0)
      return (alcm_status)s;
  cr_assert_fail("EXPECTED.tsv names an unknown status '%s'", name);
  return ALCM_OK;
}

static void hex(char *out, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]);
}

static uint8_t *load(const char *path, size_t *n) {
  FILE *const f = fopen(path, "rb");
  cr_assert(f, "cannot open %s", path);
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  const long len = ftell(f);
  cr_assert(len >= 0);
  rewind(f);
  uint8_t *const p = malloc((size_t)len + 1);
  cr_assert(p);
  cr_assert_eq(fread(p, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return p;
}

/* ---- parameters: one test per fixture file ------------------------------ */

typedef struct {
  char file[FIELD_SIZE];
  char status[FIELD_SIZE];
  char op[FIELD_SIZE];
} fixture_param;

static void free_params(struct criterion_test_params *p) { cr_free(p->params); }

/* Distinct values of column 0 of a TSV, in file order. */
static struct criterion_test_params params_from(const char *tsv, int invalid) {
  const int n = read_tsv(tsv, g_rows, MAX_ROWS);
  fixture_param *const p =
      cr_malloc(sizeof *p * (size_t)(n > 0 ? n : 1));
  size_t count = 0;
  for (int i = 0; i < n; i++) {
    if (count && strcmp(p[count - 1].file, g_rows[i].f[0]) == 0) continue;
    memset(&p[count], 0, sizeof p[count]);
    snprintf(p[count].file, FIELD_SIZE, "%s", g_rows[i].f[0]);
    if (invalid) {
      snprintf(p[count].status, FIELD_SIZE, "%s", g_rows[i].f[1]);
      snprintf(p[count].op, FIELD_SIZE, "%s", g_rows[i].f[2]);
    }
    count++;
  }
  return cr_make_param_array(fixture_param, p, count, free_params);
}

/* ---- valid -------------------------------------------------------------- */

typedef struct {
  alcm_hash128_state *h;
  alcm_mem m;
  uint64_t bytes;
} sink_state;

static int sink(void *opaque, const void *data, size_t size) {
  sink_state *const s = opaque;
  alcm_hash128_update(s->h, data, size);
  s->bytes += size;
  return 0;
}

static void hash_hex(char out[33], const void *p, size_t n) {
  uint8_t h[16];
  alcm_hash128(p, n, h);
  hex(out, h, 16);
}

/* Streamed bytes hash to want (column 3), raw_size of them. */
static void check_stream(alcm_reader *r, const char *file, size_t i,
                         const char *name, uint64_t raw_size,
                         const char *want) {
  sink_state s = {0};
  alcm_mem_init(&s.m, NULL, 0);
  s.h = alcm_hash128_create(&s.m);
  cr_assert(s.h);
  cr_assert_eq(alcm_reader_stream(r, i, sink, &s), ALCM_OK,
               "%s: stream '%s': %s", file, name, alcm_reader_message(r));
  uint8_t h[16];
  char got[33];
  alcm_hash128_final(s.h, h);
  alcm_hash128_free(&s.m, s.h);
  hex(got, h, 16);
  cr_assert_eq(s.bytes, raw_size);
  cr_assert_str_eq(got, want, "%s: '%s' streamed bytes", file, name);
}

/* Columns 2-3: numel x dtype size and the hash of the dequantized values;
 * 5-6: the code bytes (index raw_size, content hash). */
static void check_adaptive(alcm_reader *r, const char *file, size_t i,
                           const alcm_entry_info *info, const row *x) {
  const char *const name = x->f[1];
  cr_assert_eq(x->n, 7, "%s: '%s' is adaptive: 7 columns expected", file,
               name);
  alcm_adaptive_info a;
  cr_assert_eq(alcm_reader_adaptive(r, i, &a), ALCM_OK);
  cr_assert_eq(a.code_size, strtoull(x->f[5], NULL, 10),
               "%s: '%s' code size %llu", file, name,
               (unsigned long long)a.code_size);
  char got[33];
  hex(got, info->content_hash, 16);
  cr_assert_str_eq(got, x->f[6], "%s: '%s' stored content hash", file, name);

  const size_t n = (size_t)info->raw_size;
  uint8_t *const buf = malloc(n + 1);
  cr_assert(buf);
  cr_assert_eq(alcm_reader_read(r, i, buf, n), ALCM_ERR_UNSUPPORTED,
               "%s: exact read of lossy '%s'", file, name);
  cr_assert_eq(alcm_reader_read_dequantized(r, i, buf, n), ALCM_OK,
               "%s: read_dequantized '%s': %s", file, name,
               alcm_reader_message(r));
  hash_hex(got, buf, n);
  cr_assert_str_eq(got, x->f[3], "%s: '%s' dequantized to %s, want %s",
                   file, name, got, x->f[3]);
  free(buf);
  check_stream(r, file, i, name, info->raw_size, x->f[3]);
}

static void check_entry(alcm_reader *r, const char *file, const row *x) {
  const char *const name = x->f[1];
  size_t i;
  cr_assert_eq(alcm_reader_find(r, name, &i), ALCM_OK, "%s: find '%s': %s",
               file, name, alcm_reader_message(r));
  alcm_entry_info info;
  cr_assert_eq(alcm_reader_entry(r, i, &info), ALCM_OK);
  const uint64_t raw_size = strtoull(x->f[2], NULL, 10);
  cr_assert_eq(info.raw_size, raw_size, "%s: '%s' raw_size %llu, want %llu",
               file, name, (unsigned long long)info.raw_size,
               (unsigned long long)raw_size);
  if (info.encoding == ALCM_ENCODING_ADAPTIVE) {
    check_adaptive(r, file, i, &info, x);
    return;
  }
  cr_assert_eq(x->n, 5, "%s: malformed EXPECTED.tsv line", file);
  char got[33];
  hex(got, info.content_hash, 16);
  cr_assert_str_eq(got, x->f[3], "%s: '%s' stored content hash", file, name);

  uint8_t *const buf = malloc((size_t)raw_size + 1);
  cr_assert(buf);
  cr_assert_eq(alcm_reader_read(r, i, buf, (size_t)raw_size), ALCM_OK,
               "%s: read '%s': %s", file, name, alcm_reader_message(r));
  hash_hex(got, buf, (size_t)raw_size);
  cr_assert_str_eq(got, x->f[3], "%s: '%s' bytes read hash to %s, want %s",
                   file, name, got, x->f[3]);
  free(buf);
  check_stream(r, file, i, name, raw_size, x->f[3]);
}

ParameterizedTestParameters(golden, valid) {
  return params_from(FIXTURES "/valid/EXPECTED.tsv", 0);
}

ParameterizedTest(fixture_param *p, golden, valid) {
  char path[1024];
  snprintf(path, sizeof path, FIXTURES "/valid/%s", p->file);
  const int n = read_tsv(FIXTURES "/valid/EXPECTED.tsv", g_rows, MAX_ROWS);
  cr_assert(n > 0);

  size_t size;
  uint8_t *const bytes = load(path, &size);
  char fh[17];
  snprintf(fh, sizeof fh, "%016llx",
           (unsigned long long)alcm_hash64(bytes, size));
  free(bytes);

  alcm_reader *const r = alcm_reader_create(NULL);
  cr_assert(r);
  cr_assert_eq(alcm_reader_open(r, path), ALCM_OK, "%s: open: %s", p->file,
               alcm_reader_message(r));
  cr_assert_eq(alcm_reader_verify(r, 0), ALCM_OK, "%s: verify: %s", p->file,
               alcm_reader_message(r));
  cr_assert_eq(alcm_reader_verify(r, ALCM_VERIFY_STORED_ONLY), ALCM_OK,
               "%s: verify (stored only): %s", p->file,
               alcm_reader_message(r));
  size_t entries = 0;
  for (int k = 0; k < n; k++) {
    const row *const x = &g_rows[k];
    if (strcmp(x->f[0], p->file) != 0) continue;
    cr_assert(x->n == 5 || x->n == 7, "%s: malformed EXPECTED.tsv line",
              p->file);
    cr_assert_str_eq(x->f[4], fh, "%s: file hash %s, EXPECTED.tsv says %s "
                     "(regenerate the fixtures?)", p->file, fh, x->f[4]);
    if (strcmp(x->f[1], "-") == 0) continue;
    entries++;
    check_entry(r, p->file, x);
  }
  cr_assert_eq(alcm_reader_entry_count(r), entries,
               "%s: %zu entries, EXPECTED.tsv lists %zu", p->file,
               alcm_reader_entry_count(r), entries);
  alcm_reader_close(r);
}

/* ---- invalid ------------------------------------------------------------ */

ParameterizedTestParameters(golden, invalid) {
  return params_from(FIXTURES "/invalid/EXPECTED.tsv", 1);
}

/* The message must add what/where to the status text ("<where>: <text>"). */
static void check_message(const char *file, alcm_status st, const char *msg) {
  cr_assert(msg && msg[0], "%s: %s with an empty message", file,
            alcm_error_name(st));
  cr_assert(strlen(msg) > strlen(alcm_error_text(st)) + 2,
            "%s: message '%s' names nothing", file, msg);
}

ParameterizedTest(fixture_param *p, golden, invalid) {
  char path[1024], msg[ALCM_MSG_SIZE];
  snprintf(path, sizeof path, FIXTURES "/invalid/%s", p->file);
  const alcm_status want = status_named(p->status);
  const int at_open = strcmp(p->op, "open") == 0;
  cr_assert(at_open || strcmp(p->op, "verify") == 0,
            "%s: unknown operation '%s'", p->file, p->op);
  /* Run, keep the message, close; then judge (so a failure leaks nothing). */
  alcm_reader *const r = alcm_reader_create(NULL);
  cr_assert(r);
  const alcm_status opened = alcm_reader_open(r, path);
  const alcm_status st =
      at_open || opened != ALCM_OK ? opened : alcm_reader_verify(r, 0);
  snprintf(msg, sizeof msg, "%s", alcm_reader_message(r));
  alcm_reader_close(r);
  if (!at_open)
    cr_assert_eq(opened, ALCM_OK, "%s: open gave %s (%s), want OK then %s "
                 "at verify", p->file, alcm_error_name(opened), msg,
                 p->status);
  cr_assert_eq(st, want, "%s: %s gave %s (%s), want %s", p->file, p->op,
               alcm_error_name(st), msg, p->status);
  check_message(p->file, st, msg);
}

/* The bad bit widths are found by every call that decodes the entry, not
 * only by verify. */
static int drop(void *opaque, const void *data, size_t size) {
  (void)opaque, (void)data, (void)size;
  return 0;
}

static void check_bad_decode(const char *file) {
  char path[1024];
  snprintf(path, sizeof path, FIXTURES "/invalid/%s", file);
  alcm_reader *const r = alcm_reader_create(NULL);
  cr_assert(r);
  cr_assert_eq(alcm_reader_open(r, path), ALCM_OK, "%s: %s", file,
               alcm_reader_message(r));
  size_t i;
  cr_assert_eq(alcm_reader_find(r, "dense.weight", &i), ALCM_OK);
  alcm_entry_info info;
  cr_assert_eq(alcm_reader_entry(r, i, &info), ALCM_OK);
  void *const buf = malloc((size_t)info.raw_size);
  cr_assert(buf);
  cr_assert_eq(alcm_reader_read_dequantized(r, i, buf, (size_t)info.raw_size),
               ALCM_ERR_CORRUPT, "%s: read_dequantized: %s", file,
               alcm_reader_message(r));
  cr_assert(strstr(alcm_reader_message(r), "bit width"), "%s: '%s'", file,
            alcm_reader_message(r));
  cr_assert_eq(alcm_reader_stream(r, i, drop, NULL), ALCM_ERR_CORRUPT,
               "%s: stream: %s", file, alcm_reader_message(r));
  uint8_t widths[64];
  size_t n = 0;
  cr_assert_eq(alcm_reader_section(r, i, ALCM_SECTION_BIT_WIDTHS, widths,
                                   sizeof widths, &n),
               ALCM_ERR_CORRUPT, "%s: section: %s", file,
               alcm_reader_message(r));
  free(buf);
  alcm_reader_close(r);
}

Test(golden, adaptive_bad_bit_widths_fail_every_decode) {
  check_bad_decode("adaptive_bit_width_0.alcm");
  check_bad_decode("adaptive_bit_width_17.alcm");
}

/* ---- the lists match the folders ---------------------------------------- */

static void check_listed(const char *sub) {
  char dir[1024], tsv[1024];
  snprintf(dir, sizeof dir, FIXTURES "/%s", sub);
  snprintf(tsv, sizeof tsv, FIXTURES "/%s/EXPECTED.tsv", sub);
  const int n = read_tsv(tsv, g_rows, MAX_ROWS);
  cr_assert(n > 0, "%s is missing or empty", tsv);
  DIR *const d = opendir(dir);
  cr_assert(d, "cannot list %s", dir);
  const struct dirent *e;
  int files = 0;
  while ((e = readdir(d)) != NULL) {
    const size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 5, ".alcm") != 0) continue;
    files++;
    int found = 0;
    for (int i = 0; i < n && !found; i++)
      found = strcmp(g_rows[i].f[0], e->d_name) == 0;
    cr_expect(found, "%s/%s is not listed in EXPECTED.tsv", sub, e->d_name);
  }
  closedir(d);
  cr_assert(files > 0, "no fixtures in %s", dir);
}

Test(golden, every_valid_file_listed) { check_listed("valid"); }
Test(golden, every_invalid_file_listed) { check_listed("invalid"); }
