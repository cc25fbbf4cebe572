/*
 * bench_entropy.c - micro-benchmark of codec 3 "rans" and the float
 * transforms (not a test: it prints figures and checks round trips).
 *
 *   alcm-bench-entropy [--reps N] [file.safetensors ...]
 *
 * 1. A synthetic 1 MiB bf16-shaped chunk after split_bf16: first half
 *    exponent-like bytes (discretized Gaussian around 120, sigma 1.5,
 *    ~2.6 bits/byte), second half uniform random bytes. Encode/decode
 *    MB/s (of input bytes, best of --reps runs, one core) and bits/byte
 *    against the order-0 entropy (sum over 64 KiB blocks of n*H; "+tab"
 *    adds the table bytes actually written), beside zstd -1.
 * 2. Block size (codec level 0, 1, 2 = 64, 128, 256 KiB) on the same
 *    exponent half and on every plane of the files given.
 * 3. Transform speed (split_bf16, split_f32, byte_group) per direction.
 * Files: every data byte after the safetensors header, cut in 1 MiB
 * chunks, split by the dtype named first in the header (BF16, F32, F16);
 * bits/byte by block size per plane, then rans vs zstd -1 speed per plane
 * (the bf16 exponent plane "p0" is the figure that matters most).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "internal.h"

#define CHUNK ((size_t)1 << 20)
#define BLOCK ((size_t)1 << 16)

static int reps = 5;

#define TABLE_HEAD                                                          \
  "| input          | codec   | enc MB/s | dec MB/s | bits/B | H0 b/B "     \
  "| vs H0    | vs H0+tab |\n"                                              \
  "|----------------|---------|---------:|---------:|-------:|-------:"     \
  "|---------:|---------:|\n"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static double gauss(void) {
  const double u = ((double)(rng() >> 11) + 0.5) / 9007199254740992.0;
  const double v = ((double)(rng() >> 11) + 0.5) / 9007199254740992.0;
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void *xmalloc(size_t n) {
  void *const p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  return p;
}

/* Order-0 entropy in bits of src, summed over blocks of `block` bytes. */
static double entropy_bits(const uint8_t *src, size_t n, size_t block) {
  double bits = 0;
  for (size_t pos = 0; pos < n; pos += block) {
    const size_t len = n - pos < block ? n - pos : block;
    size_t c[256] = {0};
    for (size_t i = 0; i < len; i++) c[src[pos + i]]++;
    for (int s = 0; s < 256; s++)
      if (c[s]) bits -= (double)c[s] * log2((double)c[s] / (double)len);
  }
  return bits;
}

/* Bytes of rANS tables in a payload (walks the block headers). */
static size_t table_bytes(const uint8_t *p, size_t size) {
  size_t tab = 0;
  const uint8_t *const end = p + size;
  while (end - p >= 4) {
    const uint32_t h = alcm_le32(p);
    const size_t len = (h >> 8) + 1;
    p += 4;
    if ((h & 3) == 0) {
      p += len;
    } else if ((h & 3) == 1) {
      p += 1;
    } else {
      const uint8_t *const t = p;
      const unsigned first = p[0], last = p[1];
      p += 2;
      for (unsigned s = first; s <= last; s++) p += (*p & 0x80) ? 2 : 1;
      tab += (size_t)(p - t);
      p += 4 + alcm_le32(p);
    }
  }
  return tab;
}

typedef struct {
  double enc_mbs, dec_mbs;
  size_t out;
} result;

typedef size_t (*enc_fn)(void *dst, size_t cap, const void *src, size_t n,
                         int level);
typedef int (*dec_fn)(void *dst, size_t n, const void *src, size_t size);

static size_t zstd1_enc(void *dst, size_t cap, const void *src, size_t n,
                        int level) {
  (void)level;
  const size_t k = ZSTD_compress(dst, cap, src, n, 1);
  return ZSTD_isError(k) ? 0 : k;
}
static int zstd_dec(void *dst, size_t n, const void *src, size_t size) {
  const size_t k = ZSTD_decompress(dst, n, src, size);
  return ZSTD_isError(k) || k != n;
}

/* Best-of-reps speed; each rep repeats the call for at least 50 ms. */
static result measure(enc_fn enc, dec_fn dec, int level, const uint8_t *src,
                      size_t n) {
  const size_t cap = ZSTD_compressBound(n) + alcm_codec_rans.bound(n);
  uint8_t *const c = xmalloc(cap), *const back = xmalloc(n);
  result r = {0, 0, 0};
  double best_e = 1e30, best_d = 1e30;
  for (int k = 0; k < reps; k++) {
    size_t iters = 0;
    const double t0 = now();
    double t;
    do {
      r.out = enc(c, cap, src, n, level);
      iters++;
    } while ((t = now() - t0) < 0.05);
    if (t / (double)iters < best_e) best_e = t / (double)iters;
    if (r.out == 0) break;
    iters = 0;
    const double t1 = now();
    do {
      if (dec(back, n, c, r.out) != 0 || memcmp(back, src, n) != 0) {
        fprintf(stderr, "ROUND TRIP FAILED\n");
        exit(1);
      }
      iters++;
    } while ((t = now() - t1) < 0.05);
    if (t / (double)iters < best_d) best_d = t / (double)iters;
  }
  r.enc_mbs = (double)n / best_e / 1e6;
  r.dec_mbs = r.out ? (double)n / best_d / 1e6 : 0;
  free(c);
  free(back);
  return r;
}

static void row(const char *what, const char *codec, const uint8_t *src,
                size_t n, result r, const uint8_t *payload) {
  const double h = entropy_bits(src, n, BLOCK) / (double)n;
  const double bpb = 8.0 * (double)r.out / (double)n;
  printf("| %-14s | %-7s | %8.0f | %8.0f | %6.4f | %6.4f |", what, codec,
         r.enc_mbs, r.dec_mbs, bpb, h);
  if (payload) {
    const double tab = 8.0 * (double)table_bytes(payload, r.out) / (double)n;
    printf(" %+6.2f %% | %+6.2f %% |\n", 100.0 * (bpb / h - 1),
           100.0 * (bpb / (h + tab) - 1));
  } else {
    printf(" %+6.2f %% | %8s |\n", 100.0 * (bpb / h - 1), "");
  }
}

static void codec_rows(const char *what, const uint8_t *src, size_t n) {
  const alcm_codec *const rc = &alcm_codec_rans;
  const result r = measure(rc->compress, rc->decompress, 0, src, n);
  uint8_t *const payload = xmalloc(rc->bound(n));
  if (rc->compress(payload, rc->bound(n), src, n, 0) != r.out) exit(1);
  row(what, "rans", src, n, r, payload);
  free(payload);
  row(what, "zstd -1", src, n, measure(zstd1_enc, zstd_dec, 1, src, n), NULL);
}

static void synthetic(uint8_t *buf) {
  for (size_t i = 0; i < CHUNK / 2; i++) {
    const long v = lround(120.0 + 1.5 * gauss());
    buf[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
  }
  for (size_t i = CHUNK / 2; i < CHUNK; i += 8) {
    const uint64_t v = rng();
    memcpy(buf + i, &v, 8);
  }
}

static void block_size_row(const char *what, const uint8_t *src, size_t n) {
  const alcm_codec *const rc = &alcm_codec_rans;
  uint8_t *const c = xmalloc(rc->bound(n));
  printf("| %-28s | %6.4f |", what, entropy_bits(src, n, n) / (double)n);
  for (int level = 0; level <= 2; level++) {
    const size_t k = rc->compress(c, rc->bound(n), src, n, level);
    printf(" %6.4f |", 8.0 * (double)(k ? k : n) / (double)n);
  }
  printf("\n");
  free(c);
}

static void transform_rows(void) {
  static const struct {
    unsigned t, es;
    const char *name;
  } list[] = {{ALCM_TRANSFORM_SPLIT_BF16, 2, "split_bf16"},
              {ALCM_TRANSFORM_SPLIT_F32, 4, "split_f32"},
              {ALCM_TRANSFORM_BYTE_GROUP, 2, "byte_group/2"},
              {ALCM_TRANSFORM_BYTE_GROUP, 4, "byte_group/4"}};
  const size_t n = 4 * CHUNK;
  uint8_t *const a = xmalloc(n), *const b = xmalloc(n), *const c = xmalloc(n);
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    memcpy(a + i, &v, 8);
  }
  printf("\n| transform    | forward MB/s | inverse MB/s |\n"
         "|--------------|-------------:|-------------:|\n");
  for (size_t k = 0; k < sizeof list / sizeof list[0]; k++) {
    double best[2] = {1e30, 1e30};
    for (int r = 0; r < reps; r++)
      for (int dir = 0; dir < 2; dir++) {
        size_t iters = 0;
        const double t0 = now();
        double t;
        do {
          if (dir == 0)
            alcm_transform_forward(list[k].t, list[k].es, b, a, n);
          else
            alcm_transform_inverse(list[k].t, list[k].es, c, b, n);
          iters++;
        } while ((t = now() - t0) < 0.05);
        if (t / (double)iters < best[dir]) best[dir] = t / (double)iters;
      }
    if (memcmp(a, c, n) != 0) {
      fprintf(stderr, "%s: ROUND TRIP FAILED\n", list[k].name);
      exit(1);
    }
    printf("| %-12s | %12.0f | %12.0f |\n", list[k].name,
           (double)n / best[0] / 1e6, (double)n / best[1] / 1e6);
  }
  free(a);
  free(b);
  free(c);
}

/* All data bytes of a safetensors file, split into planes per 1 MiB chunk
 * and the planes of every chunk concatenated per plane index. */
static int file_rows(const char *path, int speed) {
  FILE *const f = fopen(path, "rb");
  if (!f) return 1;
  fseek(f, 0, SEEK_END);
  const long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *const all = xmalloc((size_t)size);
  const int ok = size > 8 && fread(all, 1, (size_t)size, f) == (size_t)size;
  fclose(f);
  const uint64_t hl = ok ? alcm_le64(all) : 0;
  if (!ok || hl > (uint64_t)size - 8) {
    free(all);
    return 1;
  }
  char *const js = xmalloc((size_t)hl + 1);
  memcpy(js, all + 8, (size_t)hl);
  js[hl] = 0;
  const char *const bf = strstr(js, "\"BF16\""), *const f32 = strstr(js, "\"F32\""),
                    *const f16 = strstr(js, "\"F16\"");
  unsigned es = 2, t = ALCM_TRANSFORM_SPLIT_BF16;
  const char *dt = "bf16";
  if (f32 && (!bf || f32 < bf) && (!f16 || f32 < f16))
    es = 4, t = ALCM_TRANSFORM_SPLIT_F32, dt = "f32";
  else if (f16 && (!bf || f16 < bf))
    t = ALCM_TRANSFORM_BYTE_GROUP, dt = "f16";
  free(js);
  const uint8_t *const data = all + 8 + hl;
  const size_t n = ((size_t)size - 8 - (size_t)hl) / es * es;
  uint8_t *const planes = xmalloc(n), *const tmp = xmalloc(CHUNK);
  size_t plane_pos[4] = {0};
  size_t plane_len[4] = {0};
  for (size_t pos = 0; pos < n; pos += CHUNK) {
    const size_t len = n - pos < CHUNK ? n - pos : CHUNK;
    for (unsigned k = 0; k < es; k++) plane_len[k] += len / es;
  }
  for (unsigned k = 1; k < es; k++)
    plane_pos[k] = plane_pos[k - 1] + plane_len[k - 1];
  for (size_t pos = 0; pos < n; pos += CHUNK) {
    const size_t len = n - pos < CHUNK ? n - pos : CHUNK;
    alcm_transform_forward(t, es, tmp, data + pos, len);
    for (unsigned k = 0; k < es; k++) {
      memcpy(planes + plane_pos[k], tmp + k * (len / es), len / es);
      plane_pos[k] += len / es;
    }
  }
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  for (unsigned k = 0; k < es; k++) {
    const size_t start = plane_pos[k] - plane_len[k];
    char what[64];
    if (speed) {
      snprintf(what, sizeof what, "%.11s p%u", base, k);
      codec_rows(what, planes + start, plane_len[k]);
    } else {
      snprintf(what, sizeof what, "%.18s %s p%u", base, dt, k);
      block_size_row(what, planes + start, plane_len[k]);
    }
  }
  free(planes);
  free(tmp);
  free(all);
  return 0;
}

int main(int argc, char **argv) {
  int first_file = 1;
  if (argc > 2 && strcmp(argv[1], "--reps") == 0) {
    reps = atoi(argv[2]);
    if (reps < 1) reps = 1;
    first_file = 3;
  }
  uint8_t *const buf = xmalloc(CHUNK);
  synthetic(buf);
  printf("rans codec (level 0: 64 KiB blocks, scale 2^12, 8 lanes) vs "
         "zstd -1, one core, best of %d\n\n", reps);
  printf("%s", TABLE_HEAD);
  codec_rows("exponent half", buf, CHUNK / 2);
  codec_rows("random half", buf + CHUNK / 2, CHUNK / 2);
  codec_rows("bf16 chunk", buf, CHUNK);

  printf("\nblock size: bits/byte by level (H0 = entropy of the whole "
         "input)\n\n| input                        | H0     | 64 KiB | "
         "128 KiB| 256 KiB|\n|------------------------------|-------:|-------:"
         "|-------:|-------:|\n");
  block_size_row("synthetic exponent half", buf, CHUNK / 2);
  for (int i = first_file; i < argc; i++)
    if (file_rows(argv[i], 0) != 0)
      fprintf(stderr, "%s: unreadable\n", argv[i]);
  if (argc > first_file)
    printf("\nspeed on the planes of the files (every 1 MiB chunk split, "
           "planes concatenated)\n\n%s", TABLE_HEAD);
  for (int i = first_file; i < argc; i++) (void)file_rows(argv[i], 1);
  transform_rows();
  free(buf);
  return 0;
}
