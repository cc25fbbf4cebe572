/* Unit tests for codec 3 "rans" (src/codec_rans.c, spec "rans payload"):
 * round trips over sizes and distributions, hostile payloads, and a
 * seeded fuzz-style loop. Run under ASan+UBSan as well (ALCM_SANITIZE). */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "internal.h"

#define BLOCK ((size_t)1 << 16) /* level 0 block size */
#define SCALE 4096u

static const alcm_codec *const rc = &alcm_codec_rans;

static uint64_t rng_s;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng_s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

enum dist {
  D_SAME,      /* one symbol */
  D_SKEW,      /* two symbols, the rare one 1 in 10^6 */
  D_UNIFORM,   /* random bytes: RAW */
  D_GEOMETRIC, /* p(k) = 2^-(k+1) */
  D_EVERY,     /* every symbol once, then again */
  D_SPIKE,     /* 256-symbol flat plus one symbol at 50 % */
  D_EXPONENT,  /* bf16-exponent-like: 120 +- a few */
  D_COUNT
};

static void fill(uint8_t *p, size_t n, int d) {
  const uint8_t base = (uint8_t)rnd();
  for (size_t i = 0; i < n; i++) {
    const uint64_t r = rnd();
    switch (d) {
    case D_SAME: p[i] = base; break;
    case D_SKEW: p[i] = (r % 1000000u == 0) ? 7 : 200; break;
    case D_UNIFORM: p[i] = (uint8_t)r; break;
    case D_GEOMETRIC: {
      unsigned k = 0;
      while (k < 40 && ((r >> k) & 1)) k++;
      p[i] = (uint8_t)(base + k);
      break;
    }
    case D_EVERY: p[i] = (uint8_t)(i * 167 + base); break;
    case D_SPIKE: p[i] = (r & 1) ? 0x55 : (uint8_t)(r >> 8); break;
    default: {
      int v = 120;
      for (unsigned k = 0; k < 8; k++) v += (int)((r >> (4 * k)) & 3) - 1;
      p[i] = (uint8_t)(v - 4 + (int)((r >> 40) % 3));
      break;
    }
    }
  }
}

/* Compress, check size bounds and determinism, decompress, compare.
 * Returns the payload size (0 = caller would store raw). */
static size_t round_trip_level(const uint8_t *src, size_t n, int level) {
  const size_t cap = rc->bound(n);
  cr_assert(cap >= n);
  uint8_t *const c = malloc(cap + 1), *const c2 = malloc(cap + 1),
                 *const back = malloc(n + 1);
  const size_t k = rc->compress(c, cap, src, n, level);
  if (n) cr_assert(k > 0 && k <= cap, "n %zu: payload %zu, bound %zu", n, k, cap);
  else cr_assert_eq(k, 0);
  cr_assert_eq(rc->compress(c2, cap, src, n, level), k, "not deterministic");
  cr_assert(k == 0 || memcmp(c, c2, k) == 0, "not deterministic");
  cr_assert_eq(rc->decompress(back, n, c, k), 0, "n %zu level %d", n, level);
  cr_assert(n == 0 || memcmp(back, src, n) == 0, "n %zu: bytes differ", n);
  if (k > 1) /* one byte short of the payload: must say so, not overflow */
    cr_assert_eq(rc->compress(c2, k - 1, src, n, level), 0);
  free(c);
  free(c2);
  free(back);
  return k;
}

static size_t round_trip(const uint8_t *src, size_t n) {
  return round_trip_level(src, n, 0);
}

Test(rans, registry) {
  cr_assert_eq(alcm_codec_builtin("rans"), rc);
  cr_assert_eq(alcm_codec_by_id(NULL, ALCM_CODEC_ID_RANS), rc);
  cr_assert_eq(rc->id, 3u);
  cr_assert_eq(rc->level_default, 0);
  uint8_t d[64];
  const uint8_t s[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  cr_assert_eq(rc->compress(d, sizeof d, s, sizeof s, rc->level_max + 1), 0);
  cr_assert_eq(rc->compress(d, sizeof d, s, sizeof s, rc->level_min - 1), 0);
  cr_assert_eq(rc->bound(0), 4u);
  cr_assert_eq(rc->bound(SIZE_MAX), 0u);
}

Test(rans, sizes_by_distribution) {
  static const size_t sizes[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 100,
                                 BLOCK - 1, BLOCK, BLOCK + 1,
                                 5 * BLOCK + 17};
  uint8_t *const buf = malloc(5 * BLOCK + 17);
  rng_s = 1;
  for (int d = 0; d < D_COUNT; d++)
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
      fill(buf, sizes[k], d);
      round_trip(buf, sizes[k]);
    }
  free(buf);
}

Test(rans, levels) {
  const size_t n = 600000;
  uint8_t *const buf = malloc(n);
  rng_s = 2;
  fill(buf, n, D_EXPONENT);
  for (int level = rc->level_min; level <= rc->level_max; level++) {
    round_trip_level(buf, n, level);
    round_trip_level(buf, (BLOCK << level) + 1, level);
  }
  free(buf);
}

Test(rans, modes_and_sizes) {
  const size_t n = 3 * BLOCK + 5, blocks = 4;
  uint8_t *const buf = malloc(n);
  rng_s = 3;
  fill(buf, n, D_SAME); /* CONSTANT: 5 bytes per block */
  cr_assert_eq(round_trip(buf, n), 5 * blocks);
  fill(buf, n, D_UNIFORM); /* RAW: header + bytes */
  cr_assert_eq(round_trip(buf, n), n + 4 * blocks);
  fill(buf, n, D_SKEW); /* ~0 bits per symbol: a few states and tables */
  cr_assert_lt(round_trip(buf, n), 80 * blocks);
  fill(buf, n, D_GEOMETRIC); /* H = 2 bits */
  const size_t k = round_trip(buf, n);
  cr_assert_lt(k, n / 4 + n / 200, "geometric: %zu for %zu", k, n);
  free(buf);
}

/* A RANS block of 1000 bytes over symbols {3, 5} (4 absent: a zero in
 * the middle of the table) for the hostile tests below. */
static size_t small_payload(uint8_t *src, uint8_t *c, size_t cap) {
  rng_s = 4;
  for (size_t i = 0; i < 1000; i++) src[i] = (rnd() % 5 == 0) ? 5 : 3;
  const size_t k = rc->compress(c, cap, src, 1000, 0);
  cr_assert_gt(k, 0);
  cr_assert_eq(c[0] & 3, 2, "expected a RANS block");
  cr_assert_eq(c[4], 3); /* first symbol */
  cr_assert_eq(c[5], 5); /* last symbol */
  cr_assert_eq(c[6] & 0x80, 0x80); /* symbol 3: two-byte varint */
  cr_assert_eq(c[8], 0); /* symbol 4 absent */
  return k;
}

Test(rans, zero_in_table_middle_decodes) {
  uint8_t src[1000], c[2048], back[1000];
  const size_t k = small_payload(src, c, sizeof c);
  cr_assert_eq(rc->decompress(back, sizeof back, c, k), 0);
  cr_assert_arr_eq(back, src, sizeof src);
}

Test(rans, truncated_at_every_length) {
  uint8_t src[1000], c[2048], back[1000];
  const size_t k = small_payload(src, c, sizeof c);
  for (size_t len = 0; len < k; len++) {
    uint8_t *const t = malloc(len ? len : 1); /* exact size for ASan */
    memcpy(t, c, len);
    cr_assert_neq(rc->decompress(back, sizeof back, t, len), 0, "len %zu", len);
    free(t);
  }
}

Test(rans, every_single_byte_corruption) {
  uint8_t src[1000], c[2048];
  const size_t k = small_payload(src, c, sizeof c);
  uint8_t *const t = malloc(k), *const back = malloc(sizeof src);
  size_t undetected = 0;
  for (size_t pos = 0; pos < k; pos++)
    for (unsigned x = 1; x < 256; x++) {
      memcpy(t, c, k);
      t[pos] ^= (uint8_t)x;
      if (rc->decompress(back, sizeof src, t, k) == 0) undetected++;
    }
  /* Changes that still decode give exactly dst_size bytes (the frame's
   * raw_hash catches them); they must stay rare. */
  cr_assert_lt(undetected, k * 255 / 20, "%zu of %zu", undetected, k * 255);
  free(t);
  free(back);
}

Test(rans, other_block_sizes_for_dst) {
  uint8_t src[1000], c[2048], back[1001];
  const size_t k = small_payload(src, c, sizeof c);
  cr_assert_neq(rc->decompress(back, 999, c, k), 0); /* block longer */
  cr_assert_neq(rc->decompress(back, 1001, c, k), 0); /* no next block */
  cr_assert_neq(rc->decompress(back, 0, c, k), 0);
  cr_assert_eq(rc->decompress(back, 0, c, 0), 0); /* empty payload */
  cr_assert_eq(rc->decompress(NULL, 0, NULL, 0), 0);
}

Test(rans, trailing_bytes) {
  uint8_t src[1000], c[2048], back[1000];
  const size_t k = small_payload(src, c, sizeof c);
  c[k] = 0;
  cr_assert_neq(rc->decompress(back, sizeof back, c, k + 1), 0);
}

/* Hand-made blocks. h(mode, len) = the 4-byte block header. */
static void hdr(uint8_t *p, unsigned mode, size_t len) {
  alcm_st32(p, mode | (uint32_t)((len - 1) << 8));
}

Test(rans, handmade_raw_and_const) {
  uint8_t p[16], out[8];
  hdr(p, 0, 3);
  p[4] = 9, p[5] = 8, p[6] = 7;
  cr_assert_eq(rc->decompress(out, 3, p, 7), 0);
  cr_assert_eq(out[2], 7);
  cr_assert_neq(rc->decompress(out, 2, p, 7), 0); /* len > dst_size */
  cr_assert_neq(rc->decompress(out, 3, p, 6), 0); /* bytes missing */
  hdr(p, 1, 8);
  p[4] = 0xAB;
  cr_assert_eq(rc->decompress(out, 8, p, 5), 0);
  cr_assert_eq(out[7], 0xAB);
  cr_assert_neq(rc->decompress(out, 8, p, 4), 0); /* symbol missing */
  hdr(p, 3, 1); /* mode 3 */
  cr_assert_neq(rc->decompress(out, 1, p, 5), 0);
  for (unsigned bit = 2; bit < 8; bit++) { /* reserved header bits */
    hdr(p, 1, 8);
    p[0] |= (uint8_t)(1u << bit);
    cr_assert_neq(rc->decompress(out, 8, p, 5), 0, "bit %u", bit);
  }
  hdr(p, 1, 4); /* two blocks: 4 + 4 */
  p[4] = 1;
  hdr(p + 5, 0, 4);
  memcpy(p + 9, "abcd", 4);
  cr_assert_eq(rc->decompress(out, 8, p, 13), 0);
  cr_assert_eq(out[0], 1);
  cr_assert_eq(out[7], 'd');
}

/* RANS block over symbols first..first+count-1 with the given varint
 * frequency bytes, a stream length and stream bytes. */
static size_t rans_block(uint8_t *p, size_t len, unsigned first,
                         unsigned last, const uint8_t *tab, size_t tab_len,
                         uint32_t stream_len, const uint8_t *stream,
                         size_t stream_bytes) {
  hdr(p, 2, len);
  p[4] = (uint8_t)first;
  p[5] = (uint8_t)last;
  memcpy(p + 6, tab, tab_len);
  alcm_st32(p + 6 + tab_len, stream_len);
  memcpy(p + 10 + tab_len, stream, stream_bytes);
  return 10 + tab_len + stream_bytes;
}

Test(rans, handmade_tables) {
  uint8_t p[128], out[16], states[32];
  for (int j = 0; j < 8; j++) alcm_st32(states + 4 * j, 1u << 15);
  /* 2048 + 2048 = SCALE; all lanes at L: decodes symbol 0/1 per slot 0
   * but must then fail the final-state check (or succeed consistently) */
  const uint8_t ok[] = {0x80, 0x10, 0x80, 0x10}; /* 2048, 2048 */
  size_t k = rans_block(p, 1, 0, 1, ok, 4, 32, states, 32);
  (void)rc->decompress(out, 1, p, k); /* any result, no overflow */
  const uint8_t sum_low[] = {0x80, 0x10, 0xFF, 0x0F}; /* 2048 + 2047 */
  k = rans_block(p, 1, 0, 1, sum_low, 4, 32, states, 32);
  cr_assert_neq(rc->decompress(out, 1, p, k), 0);
  const uint8_t sum_high[] = {0x80, 0x10, 0x81, 0x10}; /* 2048 + 2049 */
  k = rans_block(p, 1, 0, 1, sum_high, 4, 32, states, 32);
  cr_assert_neq(rc->decompress(out, 1, p, k), 0);
  const uint8_t whole[] = {0x80, 0x20, 0x00}; /* 4096 + 0 */
  k = rans_block(p, 1, 0, 1, whole, 3, 32, states, 32);
  cr_assert_neq(rc->decompress(out, 1, p, k), 0);
  const uint8_t zero_first[] = {0x00, 0x80, 0x20}; /* 0 + 4096 */
  k = rans_block(p, 1, 0, 1, zero_first, 3, 32, states, 32);
  cr_assert_neq(rc->decompress(out, 1, p, k), 0);
  const uint8_t zero_last[] = {0x80, 0x10, 0x80, 0x10, 0x00};
  k = rans_block(p, 1, 0, 2, zero_last, 5, 32, states, 32);
  cr_assert_neq(rc->decompress(out, 1, p, k), 0);
  const uint8_t overlong[] = {0x80, 0x10, 0x81, 0x00, 0x80, 0x10};
  k = rans_block(p, 1, 0, 2, overlong, 6, 32, states, 32);
  cr_assert_neq(rc->decompress(out, 1, p, k), 0); /* 0x81 0x00 = 1 */
  k = rans_block(p, 1, 1, 1, ok, 2, 32, states, 32); /* one symbol */
  cr_assert_neq(rc->decompress(out, 1, p, k), 0);
  k = rans_block(p, 1, 2, 1, ok, 2, 32, states, 32); /* last < first */
  cr_assert_neq(rc->decompress(out, 1, p, k), 0);
  /* stream length beyond the payload, and shorter than the states */
  k = rans_block(p, 1, 0, 1, ok, 4, 33, states, 32);
  cr_assert_neq(rc->decompress(out, 1, p, k), 0);
  k = rans_block(p, 1, 0, 1, ok, 4, 31, states, 31);
  cr_assert_neq(rc->decompress(out, 1, p, k), 0);
  /* initial states outside [2^15, 2^31) */
  alcm_st32(states + 8, 0x7FFF);
  k = rans_block(p, 1, 0, 1, ok, 4, 32, states, 32);
  cr_assert_neq(rc->decompress(out, 1, p, k), 0);
  alcm_st32(states + 8, 0x80000000u);
  k = rans_block(p, 1, 0, 1, ok, 4, 32, states, 32);
  cr_assert_neq(rc->decompress(out, 1, p, k), 0);
}

/* Any bytes: decompress returns non-zero or exactly dst_size bytes, and
 * never touches memory outside the buffers (checked by ASan). */
Test(rans, random_garbage) {
  rng_s = 5;
  uint8_t *const out = malloc(4096);
  for (int iter = 0; iter < 3000; iter++) {
    const size_t n = rnd() % 200, dst = 1 + rnd() % 4096;
    uint8_t *const p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rnd();
    if (n >= 4) { /* mostly plausible headers so the deeper paths run */
      const size_t len = 1 + rnd() % dst;
      hdr(p, (unsigned)(rnd() % 3), len);
    }
    (void)rc->decompress(out, dst, p, n);
    free(p);
  }
  free(out);
}

/* Seeded fuzz-style loop: a few thousand inputs mixing distributions,
 * block-crossing sizes, and piecewise statistics. */
Test(rans, fuzz_round_trips) {
  rng_s = 6;
  const size_t max = 3 * BLOCK + 100;
  uint8_t *const buf = malloc(max);
  for (int iter = 0; iter < 3000; iter++) {
    const uint64_t r = rnd();
    size_t n = (r & 7) == 0 ? (size_t)(rnd() % max) : (size_t)(rnd() % 2000);
    if ((r & 0x70) == 0) n = BLOCK + (size_t)(rnd() % 17) - 8;
    size_t pos = 0;
    while (pos < n) { /* pieces of different distributions */
      size_t piece = 1 + (size_t)(rnd() % (n - pos));
      if (rnd() & 1) piece = n - pos;
      fill(buf + pos, piece, (int)(rnd() % D_COUNT));
      pos += piece;
    }
    round_trip_level(buf, n, (int)((r >> 8) % 3));
  }
  free(buf);
}
