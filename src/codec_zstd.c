/*
 * codec_zstd.c - codec 1 "zstd": one Zstandard frame (RFC 8878) with its
 * content size declared, no dictionary, no skippable frames
 * (spec "Codecs").
 *
 * Contexts are created per call: the functions run concurrently on worker
 * threads and must share nothing.
 */
/* ZSTD_getFrameHeader (stable since 1.3, exported by the shared library)
 * tells frame type, dictionary and window before decoding. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "internal.h"

#define ZSTD_LEVEL_MIN (-7)
#define ZSTD_LEVEL_MAX 19
#define ZSTD_LEVEL_DEFAULT 3
/* Also tell the decoder to refuse windows above 128 MiB (zstd's own
 * default); zstd_frame_ok() already applies the tighter per-call limit. */
#define ZSTD_WINDOW_LOG_MAX 27
#define ZSTD_WINDOW_MIN 1024ull /* smallest window a frame can declare */

static size_t zstd_bound(size_t src_size) {
  const size_t b = ZSTD_compressBound(src_size);
  return ZSTD_isError(b) ? 0 : b;
}

size_t alcm_zstd_compress_ctx(void **ctx, void *dst, size_t dst_capacity,
                              const void *src, size_t src_size, int level) {
  if (level < ZSTD_LEVEL_MIN || level > ZSTD_LEVEL_MAX) return 0;
  if (!*ctx && !(*ctx = ZSTD_createCCtx())) return 0;
  ZSTD_CCtx *const cctx = *ctx;
  /* A reused context keeps its parameters: reset them all. */
  size_t n = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  if (!ZSTD_isError(n))
    n = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(n))
    n = ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
  if (!ZSTD_isError(n))
    n = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
  if (!ZSTD_isError(n))
    n = ZSTD_compress2(cctx, dst, dst_capacity, src, src_size);
  return ZSTD_isError(n) ? 0 : n;
}

void alcm_zstd_free_ctx(void *ctx) { ZSTD_freeCCtx(ctx); }

static size_t zstd_compress(void *dst, size_t dst_capacity, const void *src,
                            size_t src_size, int level) {
  void *ctx = NULL;
  const size_t n =
      alcm_zstd_compress_ctx(&ctx, dst, dst_capacity, src, src_size, level);
  ZSTD_freeCCtx(ctx);
  return n;
}

/* Before any decoding work: the input must be exactly one regular frame
 * (no skippable frame, no dictionary) whose declared content size is
 * dst_size and whose window is no larger than the content needs (our
 * encoder never asks for more than max(content, 1 KiB)). This rejects
 * unknown or huge declared sizes and trailing bytes up front. */
static int zstd_frame_ok(size_t dst_size, const void *src, size_t src_size) {
  ZSTD_frameHeader h;
  if (ZSTD_getFrameHeader(&h, src, src_size) != 0) return 0;
  if (h.frameType != ZSTD_frame || h.dictID != 0) return 0;
  if (h.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN ||
      h.frameContentSize != (unsigned long long)dst_size)
    return 0;
  const unsigned long long window_max =
      dst_size > ZSTD_WINDOW_MIN ? dst_size : ZSTD_WINDOW_MIN;
  if (h.windowSize > window_max) return 0;
  const size_t csize = ZSTD_findFrameCompressedSize(src, src_size);
  return !ZSTD_isError(csize) && csize == src_size;
}

static int zstd_decompress(void *dst, size_t dst_size, const void *src,
                           size_t src_size) {
  if (!zstd_frame_ok(dst_size, src, src_size)) return 1;
  ZSTD_DCtx *const dctx = ZSTD_createDCtx();
  if (!dctx) return 1;
  uint8_t dummy;
  size_t n = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax,
                                    ZSTD_WINDOW_LOG_MAX);
  if (!ZSTD_isError(n))
    n = ZSTD_decompressDCtx(dctx, dst_size ? dst : &dummy, dst_size, src,
                            src_size);
  ZSTD_freeDCtx(dctx);
  return ZSTD_isError(n) || n != dst_size;
}

const alcm_codec alcm_codec_zstd = {
    .id = ALCM_CODEC_ID_ZSTD,
    .name = "zstd",
    .level_min = ZSTD_LEVEL_MIN,
    .level_max = ZSTD_LEVEL_MAX,
    .level_default = ZSTD_LEVEL_DEFAULT,
    .bound = zstd_bound,
    .compress = zstd_compress,
    .decompress = zstd_decompress,
};
