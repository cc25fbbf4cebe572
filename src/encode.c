/*
 * encode.c - the chunk planner: which transform and codec each chunk gets,
 * and the encoding itself (spec "Transforms", "Codecs").
 *
 * Auto mode (the default) follows what real weights look like: the
 * exponent of bf16/f32 carries ~2.6 bits in 8 and the mantissa bytes are
 * near-random, so a field split + an order-0 coder (rans) is right for
 * nearly every chunk; only data with repeats (zero blocks, text, tables)
 * does better under zstd, and a zstd -1 probe on a small sample of the raw
 * chunk finds those; for multi-byte dtypes it runs only where a cheaper
 * check sees repeated 8-byte words.
 */
#include "internal.h"

#define PROBE_SIZE 4096u       /* raw bytes the zstd probe looks at */
#define PROBE_MARGIN_PCT 98u   /* try zstd if its estimate beats rans by 2 % */
#define REPEAT_TABLE_LOG2 10u  /* hash table of the repeat check */
#define REPEAT_MIN_SHIFT 6u    /* probe if >= 1/64 of the words repeat */

static const alcm_codec *entropy_codec(const alcm_encode_policy *p) {
  return p->codec ? p->codec : &alcm_codec_rans;
}

size_t alcm_encode_bound(const alcm_encode_policy *p, size_t chunk_size) {
  size_t b = entropy_codec(p)->bound(chunk_size);
  if (!p->codec) {
    const size_t z = alcm_codec_zstd.bound(chunk_size);
    if (z > b) b = z;
  }
  /* The stored fallback needs chunk_size; bound() of any codec covers it,
   * but a caller codec might not. */
  return b > chunk_size ? b : chunk_size;
}

/* Field split for the floats it exists for, byte grouping for the other
 * multi-byte dtypes, identity for bytes and blobs. */
static void pick_transform(const alcm_encode_policy *p, unsigned dtype,
                           unsigned *transform, unsigned *elem_size) {
  *transform = ALCM_TRANSFORM_IDENTITY;
  *elem_size = 1;
  const size_t size = dtype ? alcm_dtype_size((int)dtype) : 1;
  if (size <= 1 || p->transform == (int)ALCM_TRANSFORM_IDENTITY ||
      entropy_codec(p)->id == ALCM_CODEC_ID_STORE)
    return;
  *elem_size = (unsigned)size;
  *transform = ALCM_TRANSFORM_BYTE_GROUP;
  if (p->transform != -1) return;
  if (dtype == ALCM_DTYPE_BF16) *transform = ALCM_TRANSFORM_SPLIT_BF16;
  if (dtype == ALCM_DTYPE_F32) *transform = ALCM_TRANSFORM_SPLIT_F32;
}

static size_t try_codec(const alcm_codec *c, uint8_t *dst, size_t cap,
                        const uint8_t *src, size_t n, int level) {
  const size_t k = c->compress(dst, cap, src, n, level);
  return k > 0 && k < n ? k : 0;
}

/* A rans payload is a sequence of self-delimiting blocks, so payloads
 * concatenate. Coding each plane on its own keeps every block inside one
 * plane: a block that straddles the exponent and mantissa planes would mix
 * two very different histograms (measured: 1.25x instead of 1.44x on a
 * 72 KiB bf16 tensor). */
static size_t try_rans_planes(const alcm_codec *c, uint8_t *dst, size_t cap,
                              const uint8_t *src, size_t n, unsigned planes,
                              int level) {
  const size_t plane = n / planes; /* transforms need n % planes == 0 */
  size_t used = 0;
  for (unsigned k = 0; k < planes; k++) {
    const size_t got = c->compress(dst + used, cap - used, src + k * plane,
                                   plane, level);
    if (got == 0) return 0;
    used += got;
  }
  return used < n ? used : 0;
}

/* zstd on the raw bytes, if a zstd -1 probe of the first PROBE_SIZE bytes
 * says it can beat `best` bytes (0 = nothing pays so far) by the margin.
 * A chunk no larger than the probe is the probe: its result is used as it
 * is, so small tensors cost one zstd call, not two. @return the size in
 * dst, or 0. */
static size_t try_zstd(const uint8_t *raw, size_t n, size_t best, int level,
                       uint8_t *dst, size_t cap, void **ctx) {
  const size_t probe_n = n < PROBE_SIZE ? n : PROBE_SIZE;
  const size_t z = alcm_zstd_compress_ctx(ctx, dst, cap, raw, probe_n, 1);
  if (z == 0) return 0;
  const double target = (double)(best ? best : n) * PROBE_MARGIN_PCT / 100.0;
  if ((double)z * (double)n / (double)probe_n >= target) return 0;
  if (probe_n == n) return z < n ? z : 0;
  const size_t k = alcm_zstd_compress_ctx(ctx, dst, cap, raw, n, level);
  return k < n ? k : 0;
}

/* Exact 8-byte repeats among the words of the first PROBE_SIZE bytes,
 * found through a small table of earlier positions by hash: what zstd can
 * use and an order-0 coder cannot. Field-split weights have next to none,
 * so for them the zstd probe (~20 % of the encoding time on bf16 weights
 * of typical small tensors, for 0.01 % of size) runs only when this cheap
 * check finds some: zero runs, padded or repeated rows. */
static bool has_repeats(const uint8_t *raw, size_t n) {
  uint16_t seen[1u << REPEAT_TABLE_LOG2]; /* word index + 1, 0 = none */
  memset(seen, 0, sizeof seen);
  const size_t words = (n < PROBE_SIZE ? n : PROBE_SIZE) / 8;
  size_t hits = 0;
  for (size_t i = 0; i < words; i++) {
    const uint64_t v = alcm_le64(raw + 8 * i);
    const uint32_t h = (uint32_t)((v * 0x9E3779B97F4A7C15ull) >>
                                  (64 - REPEAT_TABLE_LOG2));
    const size_t j = seen[h];
    if (j && alcm_le64(raw + 8 * (j - 1)) == v) hits++;
    seen[h] = (uint16_t)(i + 1);
  }
  return words > 0 && hits >= ((words + (1u << REPEAT_MIN_SHIFT) - 1) >>
                               REPEAT_MIN_SHIFT);
}

void alcm_encode_chunk(const alcm_encode_policy *p, unsigned dtype,
                       const uint8_t *raw, size_t n, alcm_encode_buffers *b,
                       alcm_frame *f, const uint8_t **payload) {
  memset(f, 0, sizeof *f);
  f->kind = ALCM_FRAME_KIND_CHUNK;
  f->raw_size = n;
  f->raw_hash = alcm_hash64(raw, n);
  const alcm_codec *const c = entropy_codec(p);
  const size_t cap = alcm_encode_bound(p, n);
  unsigned transform, elem_size;
  pick_transform(p, dtype, &transform, &elem_size);
  const uint8_t *src = raw;
  if (transform != ALCM_TRANSFORM_IDENTITY) {
    alcm_transform_forward(transform, elem_size, b->tmp, raw, n);
    src = b->tmp;
  }
  size_t best = 0;
  if (c->id != ALCM_CODEC_ID_STORE && n > 0) {
    const int level = p->codec ? p->level : c->level_default;
    best = c->id == ALCM_CODEC_ID_RANS && transform != ALCM_TRANSFORM_IDENTITY
               ? try_rans_planes(c, b->out, cap, src, n, elem_size, level)
               : try_codec(c, b->out, cap, src, n, level);
    if (best) {
      f->codec = c->id;
      f->transform = transform;
      f->elem_size = elem_size;
      *payload = b->out;
    }
  }
  if (!p->codec && n > 0 &&
      (transform == ALCM_TRANSFORM_IDENTITY || has_repeats(raw, n))) {
    const size_t z = try_zstd(raw, n, best, p->level, b->out2, cap, &b->zstd);
    if (z && (!best || z < best)) {
      best = z;
      f->codec = ALCM_CODEC_ID_ZSTD;
      f->transform = ALCM_TRANSFORM_IDENTITY;
      f->elem_size = 1;
      *payload = b->out2;
    }
  }
  if (!best) {
    /* Nothing pays: the original bytes, untransformed, so the payload can
     * be memory-mapped as the tensor itself. */
    f->codec = ALCM_CODEC_ID_STORE;
    f->transform = ALCM_TRANSFORM_IDENTITY;
    f->elem_size = 1;
    best = n;
    *payload = raw;
  }
  f->stored_size = best;
  f->stored_hash = alcm_hash64(*payload, best);
}
