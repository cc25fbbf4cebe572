/*
 * codec_store.c - codec 0 "store": the payload is the raw bytes
 * (spec "Codecs"). Used when no codec pays, and for mmap-able chunks.
 */
#include "internal.h"

static size_t store_bound(size_t src_size) { return src_size; }

/* Returns src_size; for an empty input that is 0, which callers already
 * treat as "nothing stored" (empty entries have no chunks). */
static size_t store_compress(void *dst, size_t dst_capacity, const void *src,
                             size_t src_size, int level) {
  (void)level;
  if (src_size > dst_capacity) return 0;
  if (src_size) memcpy(dst, src, src_size);
  return src_size;
}

static int store_decompress(void *dst, size_t dst_size, const void *src,
                            size_t src_size) {
  if (src_size != dst_size) return 1;
  if (dst_size) memcpy(dst, src, dst_size);
  return 0;
}

const alcm_codec alcm_codec_store = {
    .id = ALCM_CODEC_ID_STORE,
    .name = "store",
    .level_min = 0,
    .level_max = 0,
    .level_default = 0,
    .bound = store_bound,
    .compress = store_compress,
    .decompress = store_decompress,
};
