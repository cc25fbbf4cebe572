/*
 * rel_sweep.c - corruption sweeps over valid archives, in one process.
 *
 *   rel_sweep truncate FILE...
 *       Cut each archive at every byte offset 0..size-1. alcm_reader_open
 *       must fail with ALCM_ERR_TRUNCATED and a message, every time.
 *   rel_sweep bitflip [--stride N] [--full-below BYTES] FILE...
 *       Flip every bit (every N-th bit of files of BYTES or more; default
 *       every bit of every file) one at a time. Open or
 *       alcm_reader_verify(r, 0) must fail every time; and reading any
 *       entry of an archive that still opens must either fail or give the
 *       original bytes (no silent corruption). Every byte for which some
 *       flip went undetected is printed with the structure it belongs to.
 *
 * Prints one line per file and a total; exit 0 only if every case held.
 */
#include <errno.h>
#include <fcntl.h>

#include "rel_common.h"

typedef struct {
  unsigned long long cases, failed;
  unsigned long long by_status[ALCM_ERROR_COUNT_];
} tally;

static void tally_status(tally *t, alcm_status s) {
  if ((unsigned)s < ALCM_ERROR_COUNT_) t->by_status[s]++;
}

static void print_statuses(const tally *t) {
  for (unsigned s = 0; s < ALCM_ERROR_COUNT_; s++)
    if (t->by_status[s])
      printf(" %s=%llu", alcm_error_name((alcm_status)s), t->by_status[s]);
}

/* ---- truncation ---------------------------------------------------------- */

static int sweep_truncate(const char *file, const char *work, tally *all) {
  size_t size = 0;
  uint8_t *data = rel_slurp(file, &size);
  if (!data) {
    fprintf(stderr, "%s: cannot read\n", file);
    return 1;
  }
  char path[600];
  snprintf(path, sizeof path, "%s/cut.alcm", work);
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
    perror(path);
    exit(2);
  }
  tally t;
  memset(&t, 0, sizeof t);
  for (size_t cut = size; cut-- > 0;) {
    if (ftruncate(fd, (off_t)cut) != 0) {
      perror("ftruncate");
      exit(2);
    }
    alcm_reader *r = alcm_reader_create(NULL);
    const alcm_status s = alcm_reader_open(r, path);
    t.cases++;
    tally_status(&t, s);
    if (s != ALCM_ERR_TRUNCATED || !alcm_reader_message(r)[0]) {
      t.failed++;
      printf("  FAIL %s cut at %zu: %s (%s), want ERR_TRUNCATED\n", file, cut,
             alcm_error_name(s), alcm_reader_message(r));
    }
    alcm_reader_close(r);
  }
  close(fd);
  unlink(path);
  free(data);
  printf("truncate %s: %zu bytes, %llu cuts, %llu failed:", file, size,
         t.cases, t.failed);
  print_statuses(&t);
  printf("\n");
  all->cases += t.cases;
  all->failed += t.failed;
  for (unsigned s = 0; s < ALCM_ERROR_COUNT_; s++)
    all->by_status[s] += t.by_status[s];
  return t.failed != 0;
}

/* ---- bit flips ------------------------------------------------------------ */

typedef struct {
  size_t count;
  uint8_t **data;
  uint64_t *size;
} originals;

static int read_originals(const char *path, originals *o) {
  alcm_reader *r = alcm_reader_create(NULL);
  if (alcm_reader_open(r, path) != ALCM_OK ||
      alcm_reader_verify(r, 0) != ALCM_OK) {
    fprintf(stderr, "%s: not a valid archive: %s\n", path,
            alcm_reader_message(r));
    alcm_reader_close(r);
    return -1;
  }
  o->count = alcm_reader_entry_count(r);
  o->data = calloc(o->count + 1, sizeof *o->data);
  o->size = calloc(o->count + 1, sizeof *o->size);
  for (size_t i = 0; i < o->count; i++) {
    alcm_entry_info e;
    alcm_reader_entry(r, i, &e);
    o->size[i] = e.raw_size;
    o->data[i] = malloc(e.raw_size ? (size_t)e.raw_size : 1);
    /* Entries alcm_reader_read does not serve (adaptive ones are read
     * dequantized) are left out of the read comparison; verify still
     * covers their bytes. */
    if (alcm_reader_read(r, i, o->data[i], (size_t)e.raw_size) != ALCM_OK) {
      free(o->data[i]);
      o->data[i] = NULL;
    }
  }
  alcm_reader_close(r);
  return 0;
}

/* Which structure the byte at off belongs to, for the report. */
static const char *region_of(const char *path, uint64_t off) {
  static char buf[160];
  alcm_reader *r = alcm_reader_create(NULL);
  alcm_archive_info ai;
  snprintf(buf, sizeof buf, "padding");
  if (alcm_reader_open(r, path) == ALCM_OK &&
      alcm_reader_archive_info(r, &ai) == ALCM_OK) {
    if (off < 32) snprintf(buf, sizeof buf, "file header");
    else if (off >= ai.index_offset + ai.index_size)
      snprintf(buf, sizeof buf, "footer");
    else if (off >= ai.index_offset)
      snprintf(buf, sizeof buf, "index");
    for (size_t i = 0; i < alcm_reader_entry_count(r); i++) {
      alcm_entry_info e;
      alcm_reader_entry(r, i, &e);
      for (uint32_t j = 0; j < e.chunk_count; j++) {
        alcm_chunk_info c;
        if (alcm_reader_chunk(r, i, j, &c) != ALCM_OK) continue;
        if (off >= c.frame_offset && off < c.frame_offset + 64)
          snprintf(buf, sizeof buf, "frame header of '%s' chunk %u", e.name, j);
        else if (off >= c.frame_offset + 64 &&
                 off < c.frame_offset + 64 + c.stored_size)
          snprintf(buf, sizeof buf, "payload of '%s' chunk %u", e.name, j);
      }
    }
  }
  alcm_reader_close(r);
  return buf;
}

/* One flipped file: 0 if detected, 1 if verify passed, 2 if a read gave
 * wrong bytes without an error. */
static int flip_case(const char *path, const originals *o, alcm_status *why) {
  alcm_reader *r = alcm_reader_create(NULL);
  alcm_status s = alcm_reader_open(r, path);
  int result = 0;
  if (s == ALCM_OK) {
    for (size_t i = 0; i < alcm_reader_entry_count(r) && i < o->count; i++) {
      alcm_entry_info e;
      if (!o->data[i] || alcm_reader_entry(r, i, &e) != ALCM_OK ||
          e.raw_size != o->size[i])
        continue; /* described differently: the read is not comparable */
      uint8_t *buf = malloc(e.raw_size ? (size_t)e.raw_size : 1);
      if (alcm_reader_read(r, i, buf, (size_t)e.raw_size) == ALCM_OK &&
          memcmp(buf, o->data[i], (size_t)e.raw_size) != 0)
        result = 2;
      free(buf);
    }
    s = alcm_reader_verify(r, 0);
    if (s == ALCM_OK && !result) result = 1;
  }
  *why = s;
  alcm_reader_close(r);
  return result;
}

static int sweep_bitflip(const char *file, const char *work, unsigned stride,
                         size_t full_below, tally *all) {
  size_t size = 0;
  uint8_t *data = rel_slurp(file, &size);
  if (!data) {
    fprintf(stderr, "%s: cannot read\n", file);
    return 1;
  }
  char path[600];
  snprintf(path, sizeof path, "%s/flip.alcm", work);
  if (rel_spit(path, data, size) != 0) exit(2);
  originals o;
  memset(&o, 0, sizeof o);
  if (read_originals(path, &o) != 0) return 1;
  const int fd = open(path, O_WRONLY);
  if (fd < 0) exit(2);
  const unsigned step = size < full_below ? 1 : stride;
  tally t;
  memset(&t, 0, sizeof t);
  unsigned long long silent = 0, uncovered = 0;
  for (size_t bit = 0; bit < size * 8; bit += step) {
    const size_t at = bit / 8;
    const uint8_t flipped = (uint8_t)(data[at] ^ (1u << (bit % 8)));
    if (pwrite(fd, &flipped, 1, (off_t)at) != 1) exit(2);
    alcm_status why;
    const int r = flip_case(path, &o, &why);
    if (pwrite(fd, &data[at], 1, (off_t)at) != 1) exit(2);
    t.cases++;
    tally_status(&t, why);
    if (r) {
      t.failed++;
      if (r == 2) silent++;
      uncovered++;
      printf("  FAIL %s byte %zu bit %zu (%s): %s\n", file, at, bit % 8,
             region_of(path, at),
             r == 2 ? "read returned wrong bytes without an error"
                    : "verify passed");
    }
  }
  close(fd);
  unlink(path);
  for (size_t i = 0; i < o.count; i++) free(o.data[i]);
  free(o.data);
  free(o.size);
  free(data);
  printf("bitflip %s: %zu bytes, %llu flips (every %u bit), detected %llu "
         "(%.3f %%), silent read corruption %llu, undetected %llu:",
         file, size, t.cases, step, t.cases - t.failed,
         t.cases ? 100.0 * (double)(t.cases - t.failed) / (double)t.cases
                 : 100.0,
         silent, uncovered);
  print_statuses(&t);
  printf("\n");
  all->cases += t.cases;
  all->failed += t.failed;
  for (unsigned s = 0; s < ALCM_ERROR_COUNT_; s++)
    all->by_status[s] += t.by_status[s];
  return t.failed != 0;
}

static void usage(void) {
  fprintf(stderr, "usage: rel_sweep truncate FILE...\n"
                  "       rel_sweep bitflip [--stride N] [--full-below BYTES] "
                  "FILE...\n");
  exit(64);
}

int main(int argc, char **argv) {
  if (argc < 3) usage();
  const int trunc = !strcmp(argv[1], "truncate");
  if (!trunc && strcmp(argv[1], "bitflip")) usage();
  unsigned stride = 1;
  size_t full_below = SIZE_MAX;
  int i = 2;
  for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
    if (!strcmp(argv[i], "--stride")) stride = (unsigned)atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--full-below"))
      full_below = (size_t)strtoull(argv[i + 1], NULL, 10);
    else usage();
  }
  if (stride == 0) usage();
  char *work = rel_tmpdir("sweep");
  tally all;
  memset(&all, 0, sizeof all);
  int bad = 0, files = 0;
  for (; i < argc; i++) {
    if (!rel_ends_with(argv[i], ".alcm")) continue;
    files++;
    bad |= trunc ? sweep_truncate(argv[i], work, &all)
                 : sweep_bitflip(argv[i], work, stride, full_below, &all);
  }
  rel_rmtree(work);
  free(work);
  printf("%s total: %d files, %llu cases, %llu failed (%.3f %% as required):",
         argv[1], files, all.cases, all.failed,
         all.cases ? 100.0 * (double)(all.cases - all.failed) / (double)all.cases
                   : 0.0);
  print_statuses(&all);
  printf("\n");
  return bad || files == 0;
}
