/* Unit tests for the codecs (src/codec*.c): round trips, strict decoding
 * of bad input, and the registry of built-in and caller codecs. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <zlib.h>

#include "internal.h"

static const alcm_codec *const all[] = {&alcm_codec_store, &alcm_codec_zstd,
                                        &alcm_codec_zlib, &alcm_codec_rans};
#define NCODECS (sizeof all / sizeof all[0])
static const size_t sizes[] = {0, 1, 4095, 4096, 1u << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint8_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint8_t)(rng_state >> 24);
}

static uint8_t *make_data(size_t n, int kind) {
  uint8_t *const p = malloc(n ? n : 1);
  cr_assert_not_null(p);
  for (size_t i = 0; i < n; i++)
    p[i] = kind == 0 ? 0 : kind == 1 ? rnd() : (uint8_t)(rnd() & 0x0F);
  return p;
}

/* Compress with the default level; returns the malloc'd payload. */
static uint8_t *encode(const alcm_codec *c, const uint8_t *src, size_t n,
                       size_t *out_n) {
  const size_t cap = c->bound(n);
  uint8_t *const dst = malloc(cap ? cap : 1);
  cr_assert_not_null(dst);
  *out_n = c->compress(dst, cap, src, n, c->level_default);
  return dst;
}

Test(codec, round_trip_all_sizes_and_contents) {
  for (size_t ci = 0; ci < NCODECS; ci++) {
    const alcm_codec *const c = all[ci];
    for (size_t si = 0; si < NSIZES; si++) {
      for (int kind = 0; kind < 3; kind++) {
        const size_t n = sizes[si];
        uint8_t *const src = make_data(n, kind);
        size_t cn;
        uint8_t *const comp = encode(c, src, n, &cn);
        /* store and rans write nothing for nothing (0 also means "does
         * not pay": writers store such chunks) */
        if ((c->id != ALCM_CODEC_ID_STORE && c->id != ALCM_CODEC_ID_RANS) || n)
          cr_assert_gt(cn, 0, "%s size %zu kind %d", c->name, n, kind);
        cr_assert_leq(cn, c->bound(n));
        if (kind == 0 && n >= 4096 && c->id != ALCM_CODEC_ID_STORE)
          cr_assert_lt(cn, n / 10, "%s should compress zeros", c->name);
        uint8_t *const back = malloc(n ? n : 1);
        cr_assert_eq(c->decompress(back, n, comp, cn), 0,
                     "%s size %zu kind %d", c->name, n, kind);
        cr_assert(n == 0 || memcmp(back, src, n) == 0);
        free(back);
        free(comp);
        free(src);
      }
    }
  }
}

Test(codec, every_level_round_trips) {
  const size_t n = 10000;
  uint8_t *const src = make_data(n, 2);
  uint8_t *const back = malloc(n);
  for (size_t ci = 0; ci < NCODECS; ci++) {
    const alcm_codec *const c = all[ci];
    cr_assert_leq(c->level_min, c->level_default);
    cr_assert_leq(c->level_default, c->level_max);
    const size_t cap = c->bound(n);
    uint8_t *const dst = malloc(cap);
    for (int level = c->level_min; level <= c->level_max; level++) {
      const size_t cn = c->compress(dst, cap, src, n, level);
      cr_assert_gt(cn, 0, "%s level %d", c->name, level);
      cr_assert_eq(c->decompress(back, n, dst, cn), 0);
      cr_assert_eq(memcmp(back, src, n), 0);
    }
    free(dst);
  }
  free(back);
  free(src);
}

Test(codec, levels_outside_range_fail) {
  const uint8_t src[64] = {1, 2, 3};
  uint8_t dst[256];
  cr_assert_eq(alcm_codec_zstd.compress(dst, sizeof dst, src, sizeof src, 20),
               0);
  cr_assert_eq(alcm_codec_zstd.compress(dst, sizeof dst, src, sizeof src, -8),
               0);
  cr_assert_eq(alcm_codec_zlib.compress(dst, sizeof dst, src, sizeof src, 0),
               0);
  cr_assert_eq(alcm_codec_zlib.compress(dst, sizeof dst, src, sizeof src, 10),
               0);
  cr_assert_eq(alcm_codec_zstd.level_min, -7);
  cr_assert_eq(alcm_codec_zstd.level_max, 19);
  cr_assert_eq(alcm_codec_zstd.level_default, 3);
  cr_assert_eq(alcm_codec_zlib.level_min, 1);
  cr_assert_eq(alcm_codec_zlib.level_max, 9);
  cr_assert_eq(alcm_codec_zlib.level_default, 6);
}

/* Output that does not fit must give 0, never overrun dst. */
Test(codec, compress_into_too_small_buffer_returns_zero) {
  const size_t n = 4096;
  uint8_t *const src = make_data(n, 1);
  for (size_t ci = 0; ci < NCODECS; ci++) {
    const alcm_codec *const c = all[ci];
    for (size_t cap = 0; cap < 64; cap += 7) {
      uint8_t *const dst = malloc(cap ? cap : 1);
      cr_assert_eq(c->compress(dst, cap, src, n, c->level_default), 0,
                   "%s cap %zu", c->name, cap);
      free(dst);
    }
    uint8_t *const dst = malloc(n - 1);
    cr_assert_eq(c->compress(dst, n - 1, src, n, c->level_default), 0);
    free(dst);
  }
  free(src);
}

Test(codec, wrong_size_truncated_and_trailing_rejected) {
  const size_t n = 4096;
  uint8_t *const src = make_data(n, 2);
  uint8_t *const back = malloc(n + 1);
  for (size_t ci = 0; ci < NCODECS; ci++) {
    const alcm_codec *const c = all[ci];
    size_t cn;
    uint8_t *const comp = encode(c, src, n, &cn);
    uint8_t *const longer = malloc(cn + 16);
    memcpy(longer, comp, cn);
    memset(longer + cn, 0, 16);
    cr_assert_neq(c->decompress(back, n - 1, comp, cn), 0, "%s", c->name);
    cr_assert_neq(c->decompress(back, n + 1, comp, cn), 0, "%s", c->name);
    cr_assert_neq(c->decompress(back, 0, comp, cn), 0, "%s", c->name);
    cr_assert_neq(c->decompress(back, n, comp, cn - 1), 0, "%s", c->name);
    cr_assert_neq(c->decompress(back, n, comp, cn / 2), 0, "%s", c->name);
    cr_assert_neq(c->decompress(back, n, comp, 0), 0, "%s", c->name);
    cr_assert_neq(c->decompress(back, n, longer, cn + 1), 0, "%s", c->name);
    cr_assert_neq(c->decompress(back, n, longer, cn + 16), 0, "%s", c->name);
    cr_assert_eq(c->decompress(back, n, longer, cn), 0, "%s", c->name);
    free(longer);
    free(comp);
  }
  free(back);
  free(src);
}

/* Two complete streams back to back are trailing bytes too. */
Test(codec, concatenated_streams_rejected) {
  const uint8_t src[100] = {5};
  uint8_t back[200];
  const alcm_codec *const cs[] = {&alcm_codec_zstd, &alcm_codec_zlib};
  for (size_t ci = 0; ci < 2; ci++) {
    size_t cn;
    uint8_t *const comp = encode(cs[ci], src, sizeof src, &cn);
    uint8_t *const two = malloc(2 * cn);
    memcpy(two, comp, cn);
    memcpy(two + cn, comp, cn);
    cr_assert_neq(cs[ci]->decompress(back, 100, two, 2 * cn), 0);
    cr_assert_neq(cs[ci]->decompress(back, 200, two, 2 * cn), 0);
    free(two);
    free(comp);
  }
}

Test(codec, garbage_rejected) {
  uint8_t back[4096];
  for (int round = 0; round < 200; round++) {
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = rnd();
    const size_t jn = 1 + (size_t)rnd();
    cr_assert_neq(alcm_codec_zstd.decompress(back, sizeof back, junk, jn), 0);
    cr_assert_neq(alcm_codec_zlib.decompress(back, sizeof back, junk, jn), 0);
  }
  const uint8_t zeros[64] = {0};
  cr_assert_neq(alcm_codec_zstd.decompress(back, 64, zeros, sizeof zeros), 0);
  cr_assert_neq(alcm_codec_zlib.decompress(back, 64, zeros, sizeof zeros), 0);
  cr_assert_neq(alcm_codec_store.decompress(back, 64, zeros, 63), 0);
}

/* Every single-byte corruption must be handled without a crash (the
 * sanitizer run makes this meaningful); zlib's Adler-32 catches most. */
Test(codec, byte_flips_never_crash) {
  const size_t n = 2000;
  uint8_t *const src = make_data(n, 2);
  uint8_t *const back = malloc(n);
  for (size_t ci = 1; ci < NCODECS; ci++) {
    size_t cn;
    uint8_t *const comp = encode(all[ci], src, n, &cn);
    for (size_t i = 0; i < cn; i++) {
      comp[i] ^= 0x5A;
      (void)all[ci]->decompress(back, n, comp, cn);
      comp[i] ^= 0x5A;
    }
    cr_assert_eq(all[ci]->decompress(back, n, comp, cn), 0);
    free(comp);
  }
  free(back);
  free(src);
}

/* zstd frame: magic, header descriptor, [window], content size, then one
 * raw block of `payload` bytes of value 7. */
static size_t zstd_frame(uint8_t *f, uint8_t fhd, int window, uint64_t fcs,
                         unsigned fcs_bytes, size_t payload) {
  size_t n = 0;
  alcm_st32(f, 0xFD2FB528u);
  n += 4;
  f[n++] = fhd;
  if (window >= 0) f[n++] = (uint8_t)window;
  for (unsigned i = 0; i < fcs_bytes; i++) f[n++] = (uint8_t)(fcs >> (8 * i));
  const uint32_t bh = (uint32_t)(payload << 3) | 1u; /* last, raw */
  f[n++] = (uint8_t)bh;
  f[n++] = (uint8_t)(bh >> 8);
  f[n++] = (uint8_t)(bh >> 16);
  memset(f + n, 7, payload);
  return n + payload;
}

Test(codec, zstd_hand_made_frame_accepted) {
  uint8_t f[512], out[256];
  /* single segment, 1-byte content size */
  size_t n = zstd_frame(f, 0x20, -1, 16, 1, 16);
  cr_assert_eq(alcm_codec_zstd.decompress(out, 16, f, n), 0);
  cr_assert_eq(out[15], 7);
  /* 2-byte content size (value - 256), window 1 KiB */
  n = zstd_frame(f, 0x40, 0x00, 0, 2, 256);
  cr_assert_eq(alcm_codec_zstd.decompress(out, 256, f, n), 0);
}

Test(codec, zstd_huge_declared_content_size_rejected) {
  uint8_t f[64], out[16];
  const size_t n = zstd_frame(f, 0xE0, -1, 1ull << 40, 8, 1);
  cr_assert_neq(alcm_codec_zstd.decompress(out, 1, f, n), 0);
  cr_assert_neq(alcm_codec_zstd.decompress(out, 16, f, n), 0);
  const size_t m = zstd_frame(f, 0xE0, -1, UINT64_MAX - 3, 8, 1);
  cr_assert_neq(alcm_codec_zstd.decompress(out, 1, f, m), 0);
}

Test(codec, zstd_window_larger_than_content_rejected) {
  uint8_t f[512], out[256];
  /* window 2^31 for 256 bytes of content */
  const size_t n = zstd_frame(f, 0x40, 21 << 3, 0, 2, 256);
  cr_assert_neq(alcm_codec_zstd.decompress(out, 256, f, n), 0);
}

Test(codec, zstd_unknown_size_skippable_and_dictionary_rejected) {
  uint8_t f[64], out[16];
  /* no content size field: FHD 0, window descriptor only */
  size_t n = zstd_frame(f, 0x00, 0x00, 0, 0, 1);
  cr_assert_neq(alcm_codec_zstd.decompress(out, 1, f, n), 0);
  /* skippable frame with an empty body, taken for 0 bytes */
  alcm_st32(f, 0x184D2A50u);
  alcm_st32(f + 4, 0);
  cr_assert_neq(alcm_codec_zstd.decompress(out, 0, f, 8), 0);
  /* dictionary id present (1 byte), single segment, content 1 */
  n = 0;
  alcm_st32(f, 0xFD2FB528u);
  n = 4;
  f[n++] = 0x21;
  f[n++] = 0x05; /* dict id */
  f[n++] = 0x01; /* fcs */
  f[n++] = 0x09;
  f[n++] = 0;
  f[n++] = 0;
  f[n++] = 7;
  cr_assert_neq(alcm_codec_zstd.decompress(out, 1, f, n), 0);
}

Test(codec, zlib_dictionary_and_raw_deflate_rejected) {
  uint8_t back[16];
  /* zlib header asking for a preset dictionary */
  uint8_t h[16] = {0x78, 0};
  for (unsigned flg = 0x20; flg < 0x40; flg++)
    if ((0x78u * 256 + flg) % 31 == 0) {
      h[1] = (uint8_t)flg;
      break;
    }
  cr_assert_neq(alcm_codec_zlib.decompress(back, 1, h, sizeof h), 0);
  /* a raw deflate stream without the zlib wrapper */
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  uint8_t raw[64];
  cr_assert_eq(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY),
               Z_OK);
  uint8_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  zs.next_in = in;
  zs.avail_in = sizeof in;
  zs.next_out = raw;
  zs.avail_out = sizeof raw;
  cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
  const size_t rn = sizeof raw - zs.avail_out;
  deflateEnd(&zs);
  cr_assert_neq(alcm_codec_zlib.decompress(back, 8, raw, rn), 0);
}

Test(codec, bounds) {
  cr_assert_eq(alcm_codec_store.bound(123), 123);
  cr_assert_geq(alcm_codec_zstd.bound(1000), 1000);
  cr_assert_geq(alcm_codec_zlib.bound(1000), compressBound(1000));
  cr_assert_eq(alcm_codec_zlib.bound(SIZE_MAX), 0);
  cr_assert_eq(alcm_codec_zstd.bound(SIZE_MAX), 0);
}

/* ---- registry ---- */

static size_t fake_bound(size_t n) { return n; }
static size_t fake_compress(void *d, size_t cap, const void *s, size_t n,
                            int level) {
  (void)level;
  if (n > cap) return 0;
  memcpy(d, s, n);
  return n;
}
static int fake_decompress(void *d, size_t dn, const void *s, size_t sn) {
  if (dn != sn) return 1;
  memcpy(d, s, dn);
  return 0;
}

static alcm_codec fake(unsigned id, const char *name) {
  const alcm_codec c = {id, name, 0, 3, 1, fake_bound, fake_compress,
                        fake_decompress};
  return c;
}

Test(codec_registry, builtins) {
  cr_assert_eq(alcm_codec_builtin("zstd"), &alcm_codec_zstd);
  cr_assert_eq(alcm_codec_builtin("zlib"), &alcm_codec_zlib);
  cr_assert_eq(alcm_codec_builtin("store"), &alcm_codec_store);
  cr_assert_null(alcm_codec_builtin("lz4"));
  cr_assert_null(alcm_codec_builtin(""));
  cr_assert_null(alcm_codec_builtin(NULL));
  cr_assert_eq(alcm_codec_store.id, ALCM_CODEC_ID_STORE);
  cr_assert_eq(alcm_codec_zstd.id, ALCM_CODEC_ID_ZSTD);
  cr_assert_eq(alcm_codec_zlib.id, ALCM_CODEC_ID_ZLIB);
  for (unsigned id = 0; id < ALCM_CODEC_ID_BUILTIN_COUNT; id++)
    cr_assert_eq(alcm_codec_by_id(NULL, id)->id, id);
  cr_assert_eq(alcm_codec_builtin("rans"), &alcm_codec_rans);
  cr_assert_null(alcm_codec_by_id(NULL, ALCM_CODEC_ID_BUILTIN_COUNT));
  cr_assert_null(alcm_codec_by_id(NULL, 128));
  cr_assert_null(alcm_codec_by_id(NULL, 255));
  cr_assert_eq(alcm_codec_by_name(NULL, "zlib"), &alcm_codec_zlib);
  cr_assert_null(alcm_codec_by_name(NULL, "mine"));
  cr_assert_null(alcm_codec_by_name(NULL, NULL));
}

Test(codec_registry, extras_found) {
  const alcm_codec a = fake(128, "mine"), b = fake(254, "yours");
  const alcm_codec *const list[] = {&a, &b};
  const alcm_codec_set set = {list, 2};
  alcm_msg msg = {{0}};
  cr_assert_eq(alcm_codec_set_check(&set, &msg), ALCM_OK);
  cr_assert_eq(alcm_codec_by_id(&set, 128), &a);
  cr_assert_eq(alcm_codec_by_id(&set, 254), &b);
  cr_assert_null(alcm_codec_by_id(&set, 129));
  cr_assert_eq(alcm_codec_by_id(&set, 1), &alcm_codec_zstd);
  cr_assert_eq(alcm_codec_by_name(&set, "yours"), &b);
  cr_assert_eq(alcm_codec_by_name(&set, "zstd"), &alcm_codec_zstd);
  const alcm_codec_set empty = {NULL, 0};
  cr_assert_eq(alcm_codec_set_check(&empty, &msg), ALCM_OK);
  cr_assert_eq(alcm_codec_set_check(NULL, &msg), ALCM_OK);
}

static alcm_status check2(const alcm_codec *x, const alcm_codec *y,
                          alcm_msg *msg) {
  const alcm_codec *const list[] = {x, y};
  const alcm_codec_set set = {list, y ? 2 : 1};
  return alcm_codec_set_check(&set, msg);
}

Test(codec_registry, bad_extras_rejected) {
  alcm_msg msg = {{0}};
  const alcm_codec ok = fake(200, "ok");
  alcm_codec c = fake(127, "low");
  cr_assert_eq(check2(&c, NULL, &msg), ALCM_ERR_ARGUMENT);
  cr_assert(strstr(msg.text, "low") != NULL, "%s", msg.text);
  c = fake(255, "high");
  cr_assert_eq(check2(&c, NULL, &msg), ALCM_ERR_ARGUMENT);
  c = fake(1, "zstd2");
  cr_assert_eq(check2(&c, NULL, &msg), ALCM_ERR_ARGUMENT);
  c = fake(130, NULL);
  cr_assert_eq(check2(&c, NULL, &msg), ALCM_ERR_ARGUMENT);
  c = fake(130, "");
  cr_assert_eq(check2(&c, NULL, &msg), ALCM_ERR_ARGUMENT);
  c = fake(130, "nob");
  c.bound = NULL;
  cr_assert_eq(check2(&c, NULL, &msg), ALCM_ERR_ARGUMENT);
  c = fake(130, "noc");
  c.compress = NULL;
  cr_assert_eq(check2(&c, NULL, &msg), ALCM_ERR_ARGUMENT);
  c = fake(130, "nod");
  c.decompress = NULL;
  cr_assert_eq(check2(&c, NULL, &msg), ALCM_ERR_ARGUMENT);
  c = fake(130, "lev");
  c.level_default = 9;
  cr_assert_eq(check2(&c, NULL, &msg), ALCM_ERR_ARGUMENT);
  cr_assert_eq(check2(NULL, NULL, &msg), ALCM_ERR_ARGUMENT);
  c = fake(200, "other");
  cr_assert_eq(check2(&ok, &c, &msg), ALCM_ERR_DUPLICATE);
  cr_assert(strstr(msg.text, "200") != NULL, "%s", msg.text);
  c = fake(201, "ok");
  cr_assert_eq(check2(&ok, &c, &msg), ALCM_ERR_DUPLICATE);
  c = fake(201, "zlib");
  cr_assert_eq(check2(&c, NULL, &msg), ALCM_ERR_DUPLICATE);
  const alcm_codec_set nulltab = {NULL, 3};
  cr_assert_eq(alcm_codec_set_check(&nulltab, &msg), ALCM_ERR_ARGUMENT);
}
