/*
 * hash.c - XXH3 checksums (xxhash.h, inlined). 64-bit for frames, index,
 * footer; 128-bit (canonical big-endian bytes) for whole-entry content
 * hashes.
 *
 * Inlined rather than called in libxxhash, which Debian builds for SSE2
 * only: on an AVX2 host the bulk of every long input goes to the AVX2
 * build of the same code in hash_avx2.c (twice the speed, same values).
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "internal.h"

/* Below this, XXH3 has no vector loop and a call is all the cost. */
#define BULK_MIN 1024u

static int use_avx2(size_t size) {
#if ALCM_HASH_AVX2
  return size >= BULK_MIN && __builtin_cpu_supports("avx2");
#else
  (void)size;
  return 0;
#endif
}

struct alcm_hash128_state {
  XXH3_state_t *xx; /* allocated by hand: XXH3_createState uses malloc */
};

uint64_t alcm_hash64(const void *data, size_t size) {
#if ALCM_HASH_AVX2
  if (use_avx2(size)) return alcm_hash64_avx2(data, size);
#endif
  return (uint64_t)XXH3_64bits(data, size);
}

static void canonical128(XXH128_hash_t h, uint8_t out[16]) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  memcpy(out, c.digest, 16);
}

void alcm_hash128(const void *data, size_t size, uint8_t out[16]) {
#if ALCM_HASH_AVX2
  if (use_avx2(size)) {
    XXH128_hash_t h;
    alcm_hash128_avx2(data, size, &h);
    canonical128(h, out);
    return;
  }
#endif
  canonical128(XXH3_128bits(data, size), out);
}

/* XXH3_state_t must be 64-byte aligned; our allocator promises only
 * malloc alignment, so over-allocate and align by hand, keeping the
 * original pointer just before the aligned block. */
#define STATE_ALIGN 64u

alcm_hash128_state *alcm_hash128_create(const alcm_mem *m) {
  alcm_hash128_state *const s = alcm_mem_alloc(m, sizeof *s);
  if (!s) return NULL;
  const size_t raw_size = sizeof(XXH3_state_t) + STATE_ALIGN + sizeof(void *);
  uint8_t *const raw = alcm_mem_alloc(m, raw_size);
  if (!raw) {
    alcm_mem_free(m, s);
    return NULL;
  }
  uintptr_t a = (uintptr_t)(raw + sizeof(void *));
  a = (a + STATE_ALIGN - 1) & ~(uintptr_t)(STATE_ALIGN - 1);
  uint8_t *const aligned = raw + (a - (uintptr_t)raw);
  memcpy(aligned - sizeof(void *), &raw, sizeof raw);
  s->xx = (XXH3_state_t *)(void *)aligned;
#ifdef XXH3_INITSTATE
  XXH3_INITSTATE(s->xx);
#endif
  XXH3_128bits_reset(s->xx);
  return s;
}

void alcm_hash128_reset(alcm_hash128_state *s) {
  XXH3_128bits_reset(s->xx);
}

void alcm_hash128_update(alcm_hash128_state *s, const void *data,
                         size_t size) {
  if (!size) return;
#if ALCM_HASH_AVX2
  if (use_avx2(size)) {
    alcm_hash128_update_avx2(s->xx, data, size);
    return;
  }
#endif
  XXH3_128bits_update(s->xx, data, size);
}

void alcm_hash128_final(alcm_hash128_state *s, uint8_t out[16]) {
  canonical128(XXH3_128bits_digest(s->xx), out);
}

void alcm_hash128_free(const alcm_mem *m, alcm_hash128_state *s) {
  if (!s) return;
  void *raw;
  memcpy(&raw, (uint8_t *)s->xx - sizeof(void *), sizeof raw);
  alcm_mem_free(m, raw);
  alcm_mem_free(m, s);
}
