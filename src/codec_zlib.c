/*
 * codec_zlib.c - codec 2 "zlib": one zlib stream (RFC 1950 wrapper around
 * RFC 1951 deflate), 32 KiB window, no preset dictionary
 * (spec "Codecs").
 *
 * zlib counts in uInt, so buffers larger than UINT_MAX are fed in slices.
 * Streams are created per call: the functions must be thread-safe.
 */
#include <limits.h>
/* const-correct next_in, so that no cast drops const */
#define ZLIB_CONST
#include <zlib.h>

#include "internal.h"

#define ZLIB_LEVEL_MIN 1
#define ZLIB_LEVEL_MAX 9
#define ZLIB_LEVEL_DEFAULT 6

/* Hands zlib the next slice of a buffer whenever its window is used up. */
typedef struct {
  size_t in_left, out_left;
} slices;

static uInt slice(size_t *left) {
  const size_t n = *left < (size_t)UINT_MAX ? *left : (size_t)UINT_MAX;
  *left -= n;
  return (uInt)n;
}

static void refill(z_stream *zs, slices *s) {
  if (zs->avail_in == 0) zs->avail_in = slice(&s->in_left);
  if (zs->avail_out == 0) zs->avail_out = slice(&s->out_left);
}

/* zlib's compressBound(), overflow-checked; 0 when it does not fit. */
static size_t zlib_bound(size_t n) {
  const size_t extra = (n >> 12) + (n >> 14) + (n >> 25) + 13;
  size_t b;
  if (__builtin_add_overflow(n, extra, &b)) return 0;
  return b;
}

/* Z_BUF_ERROR only means "no progress possible with these buffers"; it
 * is fine when the next refill will give zlib more room or input. */
static int may_continue(const z_stream *zs, const slices *s, int ret) {
  if (ret == Z_OK) return 1;
  if (ret != Z_BUF_ERROR) return 0;
  return (zs->avail_out == 0 && s->out_left) ||
         (zs->avail_in == 0 && s->in_left);
}

static size_t zlib_compress(void *dst, size_t dst_capacity, const void *src,
                            size_t src_size, int level) {
  if (level < ZLIB_LEVEL_MIN || level > ZLIB_LEVEL_MAX) return 0;
  if (dst_capacity == 0) return 0;
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return 0;
  static const Bytef empty = 0;
  zs.next_in = src_size ? (const Bytef *)src : &empty;
  zs.next_out = (Bytef *)dst;
  slices s = {src_size, dst_capacity};
  int ret;
  do {
    refill(&zs, &s);
    ret = deflate(&zs, (zs.avail_in == 0 && s.in_left == 0) ? Z_FINISH
                                                           : Z_NO_FLUSH);
  } while (ret != Z_STREAM_END && may_continue(&zs, &s, ret));
  const size_t written = (size_t)(zs.next_out - (Bytef *)dst);
  deflateEnd(&zs);
  return ret == Z_STREAM_END ? written : 0;
}

/* Exactly one stream that ends at the last input byte and yields exactly
 * dst_size bytes; anything else (corrupt data, a dictionary request, short
 * or long output, trailing bytes) is an error. */
static int zlib_decompress(void *dst, size_t dst_size, const void *src,
                           size_t src_size) {
  if (src_size == 0) return 1;
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15) != Z_OK) return 1;
  Bytef dummy;
  zs.next_in = (const Bytef *)src;
  zs.next_out = dst_size ? (Bytef *)dst : &dummy;
  slices s = {src_size, dst_size};
  int ret;
  do {
    refill(&zs, &s);
    ret = inflate(&zs, Z_NO_FLUSH);
  } while (ret != Z_STREAM_END && may_continue(&zs, &s, ret));
  const int exact = ret == Z_STREAM_END && zs.avail_in == 0 &&
                    s.in_left == 0 && zs.avail_out == 0 && s.out_left == 0;
  inflateEnd(&zs);
  return !exact;
}

const alcm_codec alcm_codec_zlib = {
    .id = ALCM_CODEC_ID_ZLIB,
    .name = "zlib",
    .level_min = ZLIB_LEVEL_MIN,
    .level_max = ZLIB_LEVEL_MAX,
    .level_default = ZLIB_LEVEL_DEFAULT,
    .bound = zlib_bound,
    .compress = zlib_compress,
    .decompress = zlib_decompress,
};
