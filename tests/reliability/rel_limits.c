/*
 * rel_limits.c - resource limits: hostile archives must be rejected fast
 * and in little memory, and decompression bombs must be stoppable by the
 * caller's limits.
 *
 *   rel_limits SOURCE-DIR [--max-ms N] [--max-mib N] [--quick]
 *
 * Every archive runs in a child process that opens it with the default
 * limits and, if that succeeds, verifies it and streams every entry; the
 * parent takes the child's CPU time and peak RSS from wait4() (getrusage
 * of the child) and subtracts the RSS of an idle child.
 *
 * 1. The .alcm files of fixtures/invalid: each must fail with its status from
 *    EXPECTED.tsv within N ms CPU (default 10) and N MiB (default 16).
 * 2. Bombs generated here (see make_bombs): huge counts, a frame claiming
 *    2^40 raw bytes, zstd frames with huge windows or content sizes: the
 *    same rule. Two are valid archives that expand a 32 KiB file to
 *    1 GiB (one chunk) and to 1 TiB (1024 references to that chunk): they
 *    must open within the same bounds, be refused at open with
 *    ERR_LIMIT when the caller sets max_chunk_raw = 16 MiB, and their
 *    default-limit verify is measured (with a time cap) and reported
 *    (skipped with --quick: it takes seconds and 1 GiB of memory).
 */
#define _DEFAULT_SOURCE /* wait4 */
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "internal.h"
#include "rel_common.h"

#define ALIGN_LOG2 6u
#define ALIGN ((uint64_t)1 << ALIGN_LOG2)

/* ---- archive building ------------------------------------------------------ */

typedef struct {
  uint8_t *p;
  size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) exit(2);
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}

static void pad(buf *b) {
  static const uint8_t z[64];
  put(b, z, (size_t)((ALIGN - b->n % ALIGN) % ALIGN));
}

/* One tensor entry (U8, 1-d) whose chunks all reference a single frame. */
typedef struct {
  uint64_t raw_size, frame_raw;
  uint32_t chunk_size, chunk_count;
  unsigned codec;
  const uint8_t *payload;
  size_t payload_size;
  uint32_t entry_count_override; /* 0: the real count (1) */
  int zero_hashes; /* set the hashes of all-zero content (valid bombs) */
} spec;

static void build(const char *path, const spec *s) {
  buf b = {0};
  uint8_t hdr[ALCM_HEADER_SIZE];
  alcm_header_encode(hdr, ALIGN_LOG2);
  put(&b, hdr, sizeof hdr);
  pad(&b);
  const uint64_t frame_at = b.n;
  /* Zero pages from calloc are hashed without becoming resident. */
  uint8_t *zeros = s->zero_hashes ? calloc(1, (size_t)s->frame_raw) : NULL;
  alcm_frame f = {ALCM_FRAME_KIND_CHUNK, ALCM_TRANSFORM_IDENTITY, s->codec, 1,
                  0, s->frame_raw, s->payload_size,
                  zeros ? alcm_hash64(zeros, (size_t)s->frame_raw) : 0,
                  alcm_hash64(s->payload, s->payload_size)};
  uint8_t fh[ALCM_FRAME_HEADER_SIZE];
  alcm_frame_encode(fh, &f);
  put(&b, fh, sizeof fh);
  put(&b, s->payload, s->payload_size);
  pad(&b);
  alcm_chunk_ref *refs = calloc(s->chunk_count ? s->chunk_count : 1, sizeof *refs);
  for (uint32_t i = 0; i < s->chunk_count; i++)
    refs[i] = (alcm_chunk_ref){frame_at, s->payload_size};
  uint64_t shape[1] = {s->raw_size};
  alcm_entry e;
  memset(&e, 0, sizeof e);
  e.kind = ALCM_ENTRY_TENSOR;
  e.dtype = ALCM_DTYPE_U8;
  e.ndim = 1;
  e.name = (char *)"bomb";
  e.name_len = 4;
  e.source = ALCM_NO_SOURCE;
  e.chunk_size = s->chunk_size;
  e.chunk_count = s->chunk_count;
  e.raw_size = s->raw_size;
  e.shape = shape;
  e.chunks = refs;
  if (zeros && s->raw_size == s->frame_raw)
    alcm_hash128(zeros, (size_t)s->raw_size, e.content_hash);
  free(zeros);
  alcm_index idx;
  memset(&idx, 0, sizeof idx);
  idx.entries = &e;
  idx.entry_count = 1;
  idx.total_raw = s->raw_size;
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  alcm_msg msg;
  uint8_t *ib = NULL;
  size_t in = 0;
  if (alcm_index_encode(&idx, false, &mem, &ib, &in, &msg)) exit(2);
  if (s->entry_count_override)
    alcm_st32(ib + ALCM_IDX_OFF_ENTRY_COUNT, s->entry_count_override);
  const alcm_footer ft = {b.n, in, alcm_hash64(ib, in), ALCM_FORMAT_MINOR};
  put(&b, ib, in);
  uint8_t foot[ALCM_FOOTER_SIZE];
  alcm_footer_encode(foot, &ft);
  put(&b, foot, sizeof foot);
  rel_spit(path, b.p, b.n);
  alcm_mem_free(&mem, ib);
  free(refs);
  free(b.p);
}

/* A zstd frame of `size` zero bytes made of RLE blocks (at most
 * max_blocks of them: fewer make a frame that ends early). window_byte 0
 * means single-segment (window = content size). */
static uint8_t *zstd_rle(uint64_t size, uint8_t window_byte, uint64_t max_blocks,
                         size_t *n) {
  buf b = {0};
  const uint8_t magic[4] = {0x28, 0xB5, 0x2F, 0xFD};
  put(&b, magic, 4);
  const uint8_t fhd = window_byte ? 0xC0 : 0xE0; /* 8-byte content size */
  put(&b, &fhd, 1);
  if (window_byte) put(&b, &window_byte, 1);
  uint8_t fcs[8];
  alcm_st64(fcs, size);
  put(&b, fcs, 8);
  const uint64_t block = 128 << 10;
  for (uint64_t done = 0, k = 0; (done < size || size == 0) && k < max_blocks;
       k++) {
    const uint64_t n_block = size - done < block ? size - done : block;
    const int last = done + n_block == size;
    const uint32_t h = (last ? 1u : 0u) | (1u << 1) | (uint32_t)(n_block << 3);
    const uint8_t bh[4] = {(uint8_t)h, (uint8_t)(h >> 8), (uint8_t)(h >> 16), 0};
    put(&b, bh, 4); /* 3-byte header + the RLE byte (0) */
    done += n_block;
    if (size == 0) break;
  }
  *n = b.n;
  return b.p;
}

/* ---- measuring ---------------------------------------------------------------- */

typedef struct {
  alcm_status open_st, st;
  double cpu_ms, wall_ms;
  double rss_mib;
  int killed;
} measure;

static int sink(void *o, const void *d, size_t n) {
  (void)o, (void)d, (void)n;
  return 0;
}

/* In the child: open (and verify + stream when open succeeds). */
static int child_work(const char *path, uint64_t max_chunk_raw, int open_only) {
  alcm_read_options o;
  alcm_read_options_init(&o);
  o.limits.max_chunk_raw = max_chunk_raw;
  alcm_reader *r = alcm_reader_create(&o);
  alcm_status st = alcm_reader_open(r, path);
  const alcm_status open_st = st;
  if (!st && !open_only) st = alcm_reader_verify(r, 0);
  for (size_t i = 0; !st && !open_only && i < alcm_reader_entry_count(r); i++)
    st = alcm_reader_stream(r, i, sink, NULL);
  alcm_reader_close(r);
  return (int)open_st * 32 + (int)st;
}

static measure run_child(const char *path, uint64_t max_chunk_raw,
                         int open_only, double cap_s) {
  measure m;
  memset(&m, 0, sizeof m);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const pid_t pid = fork();
  if (pid == 0)
    _exit(path ? child_work(path, max_chunk_raw, open_only) : 0);
  int status;
  struct rusage ru;
  for (;;) {
    const pid_t w = wait4(pid, &status, WNOHANG, &ru);
    if (w == pid) break;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double el = (double)(t1.tv_sec - t0.tv_sec) +
                      (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (el > cap_s && !m.killed) {
      kill(pid, SIGKILL);
      m.killed = 1;
    }
    const struct timespec nap = {0, 200000};
    nanosleep(&nap, NULL);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  m.wall_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
              (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
  m.cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
             (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-3;
  m.rss_mib = (double)ru.ru_maxrss / 1024.0;
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  m.open_st = code < 0 ? ALCM_ERROR_COUNT_ : (alcm_status)(code / 32);
  m.st = code < 0 ? ALCM_ERROR_COUNT_ : (alcm_status)(code % 32);
  return m;
}

static const char *sname(alcm_status s) {
  return s == ALCM_ERROR_COUNT_ ? "KILLED" : alcm_error_name(s);
}

/* ---- main ---------------------------------------------------------------------- */

static double max_ms = 10, max_mib = 16, base_mib;
static int failures, cases;
static double worst_ms, worst_mib;

static void check(const char *label, const char *path, alcm_status want,
                  uint64_t max_chunk_raw, int open_only) {
  const measure m = run_child(path, max_chunk_raw, open_only, 5.0);
  const double extra = m.rss_mib - base_mib;
  const int ok = m.st == want && m.cpu_ms <= max_ms && extra <= max_mib;
  cases++;
  if (m.cpu_ms > worst_ms) worst_ms = m.cpu_ms;
  if (extra > worst_mib) worst_mib = extra;
  if (!ok) failures++;
  printf("%s %-44s %-16s (want %-16s) cpu %6.2f ms  rss +%6.2f MiB\n",
         ok ? "ok  " : "FAIL", label, sname(m.st), sname(want), m.cpu_ms,
         extra);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: rel_limits SOURCE-DIR [--max-ms N] [--max-mib N]\n");
    return 64;
  }
  int quick = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (i + 1 < argc && !strcmp(argv[i], "--max-ms")) max_ms = atof(argv[++i]);
    else if (i + 1 < argc && !strcmp(argv[i], "--max-mib")) max_mib = atof(argv[++i]);
  }
  /* Idle child: what a do-nothing child of this program costs. */
  double idle = 1e9;
  for (int i = 0; i < 3; i++) {
    const measure m = run_child(NULL, 0, 0, 5.0);
    if (m.rss_mib < idle) idle = m.rss_mib;
  }
  base_mib = idle;
  printf("idle child: %.2f MiB peak RSS; limits: %.0f ms CPU, %.0f MiB over idle\n",
         base_mib, max_ms, max_mib);

  /* 1. the committed invalid fixtures */
  char path[1200];
  snprintf(path, sizeof path, "%s/fixtures/invalid/EXPECTED.tsv", argv[1]);
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    return 2;
  }
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char name[256], status[64], op[32];
    if (line[0] == '#' || sscanf(line, "%255s %63s %31s", name, status, op) != 3)
      continue;
    alcm_status want = ALCM_ERROR_COUNT_;
    for (unsigned s = 0; s < ALCM_ERROR_COUNT_; s++)
      if (!strcmp(alcm_error_name((alcm_status)s), status)) want = (alcm_status)s;
    snprintf(path, sizeof path, "%s/fixtures/invalid/%s", argv[1], name);
    check(name, path, want, 0, 0);
  }
  fclose(f);

  /* 2. generated bombs */
  char *dir = rel_tmpdir("limits");
  size_t zn = 0;
  uint8_t *z;
  const uint64_t gib = (uint64_t)1 << 30;
  static const uint8_t tiny[16];
  struct {
    const char *name;
    spec s;
    alcm_status want;
  } bombs[] = {
      {"entry_count_2^32-1", {4096, 4096, 4096, 1, 0, tiny, 16, 0xFFFFFFFFu, 0},
       ALCM_ERR_LIMIT},
      {"entry_count_1000001", {4096, 4096, 4096, 1, 0, tiny, 16, 1000001u, 0},
       ALCM_ERR_LIMIT},
      {"frame_raw_2^40", {4096, (uint64_t)1 << 40, 4096, 1, 0, tiny, 16, 0, 0},
       ALCM_ERR_CORRUPT},
      {"chunk_count_for_2^40_bytes_missing",
       {(uint64_t)1 << 40, 4096, 4096, 0, 0, tiny, 16, 0, 0}, ALCM_ERR_CORRUPT},
  };
  for (size_t i = 0; i < sizeof bombs / sizeof *bombs; i++) {
    snprintf(path, sizeof path, "%s/%s.alcm", dir, bombs[i].name);
    build(path, &bombs[i].s);
    check(bombs[i].name, path, bombs[i].want, 0, 0);
  }
  /* zstd: window of 2 GiB (windowLog 31) for 4 KiB of content */
  z = zstd_rle(4096, (31 - 10) << 3, 99, &zn);
  snprintf(path, sizeof path, "%s/zstd_window_2g.alcm", dir);
  build(path, &(spec){4096, 4096, 4096, 1, ALCM_CODEC_ID_ZSTD, z, zn, 0, 0});
  check("zstd_window_2GiB", path, ALCM_ERR_CODEC, 0, 0);
  free(z);
  /* zstd: declares 2^40 bytes of content in a 4 KiB chunk */
  z = zstd_rle((uint64_t)1 << 40, (17 - 10) << 3, 1, &zn);
  snprintf(path, sizeof path, "%s/zstd_content_2p40.alcm", dir);
  build(path, &(spec){4096, 4096, 4096, 1, ALCM_CODEC_ID_ZSTD, z, zn, 0, 0});
  check("zstd_content_size_2^40", path, ALCM_ERR_CODEC, 0, 0);
  free(z);
  /* zstd single-segment 1 GiB: window = content = 1 GiB > windowLogMax */
  z = zstd_rle(gib, 0, UINT64_MAX, &zn);
  snprintf(path, sizeof path, "%s/zstd_single_1g.alcm", dir);
  build(path, &(spec){gib, gib, (uint32_t)gib, 1, ALCM_CODEC_ID_ZSTD, z, zn, 0, 0});
  free(z);
  const measure ms = quick ? (measure){0} : run_child(path, 0, 0, 20.0);
  if (!quick)
  printf("info zstd single-segment frame of 1 GiB: verify with default "
         "limits: %s, cpu %.0f ms, peak rss %.0f MiB (single-shot decoding "
         "needs no window, so windowLogMax does not apply)\n",
         sname(ms.st), ms.cpu_ms, ms.rss_mib);

  /* 3. valid bombs: 1 GiB from 32 KiB, and 1 TiB by 1024 references */
  z = zstd_rle(gib, (17 - 10) << 3, UINT64_MAX, &zn);
  char one[1200], tera[1200];
  snprintf(one, sizeof one, "%s/bomb_1g.alcm", dir);
  build(one, &(spec){gib, gib, (uint32_t)gib, 1, ALCM_CODEC_ID_ZSTD, z, zn, 0, 1});
  snprintf(tera, sizeof tera, "%s/bomb_1t.alcm", dir);
  build(tera, &(spec){1024 * gib, gib, (uint32_t)gib, 1024, ALCM_CODEC_ID_ZSTD,
                      z, zn, 0, 1});
  free(z);
  check("bomb 1 GiB (32 KiB file): open, defaults", one, ALCM_OK, 0, 1);
  check("bomb 1 TiB (1024 refs): open, defaults", tera, ALCM_OK, 0, 1);
  check("bomb 1 GiB: open, max_chunk_raw 16 MiB", one, ALCM_ERR_LIMIT,
        16 << 20, 0);
  check("bomb 1 TiB: open, max_chunk_raw 16 MiB", tera, ALCM_ERR_LIMIT,
        16 << 20, 0);
  /* Measured only: what the default limits let a verify cost. */
  if (quick) goto done;
  const measure m1 = run_child(one, 0, 0, 20.0);
  printf("info bomb 1 GiB: verify+stream with default limits: %s, cpu %.0f ms, "
         "wall %.0f ms, peak rss %.0f MiB\n", sname(m1.st), m1.cpu_ms,
         m1.wall_ms, m1.rss_mib);
  const measure m2 = run_child(tera, 0, 0, 5.0);
  printf("info bomb 1 TiB: verify with default limits: %s after %.0f ms wall "
         "(cap 5 s), cpu %.0f ms, peak rss %.0f MiB\n",
         m2.killed ? "still running, killed" : sname(m2.st), m2.wall_ms,
         m2.cpu_ms, m2.rss_mib);
done:
  rel_rmtree(dir);
  free(dir);
  printf("limits total: %d cases, %d failed; worst %.2f ms CPU, +%.2f MiB\n",
         cases, failures, worst_ms, worst_mib);
  return failures != 0;
}
