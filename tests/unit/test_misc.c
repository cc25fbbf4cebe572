/* Unit tests for errors, messages, dtypes, checksums, memory and version
 * (src/errors.c, message.c, dtype.c, hash.c, alloc.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#include "internal.h"

/* ---- version ---- */

Test(version, numbers_and_strings) {
  cr_assert_eq(alcm_version_number(), ALCM_VERSION_NUMBER);
  cr_assert_str_eq(alcm_version_string(), ALCM_VERSION_STRING);
  cr_assert_eq(alcm_format_version(), ALCM_FORMAT_MAJOR * 100 + ALCM_FORMAT_MINOR);
  cr_assert_eq(alcm_format_version(), ALCM_FORMAT_MAJOR * 100 + ALCM_FORMAT_MINOR);
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", ALCM_VERSION_MAJOR,
           ALCM_VERSION_MINOR, ALCM_VERSION_PATCH);
  cr_assert_str_eq(alcm_version_string(), want);
}

/* ---- errors ---- */

Test(errors, every_status_has_name_and_text) {
#define X_CHECK(name, value, text)                                   \
  cr_assert_str_eq(alcm_error_name(ALCM_##name), #name);             \
  cr_assert_str_eq(alcm_error_text(ALCM_##name), text);              \
  cr_assert_eq((int)ALCM_##name, value);
  ALCM_ERROR_LIST(X_CHECK)
#undef X_CHECK
  cr_assert_eq(ALCM_ERROR_COUNT_, 24);
  cr_assert_str_eq(alcm_error_name(ALCM_ERR_CHECKSUM), "ERR_CHECKSUM");
  cr_assert_str_eq(alcm_error_name(ALCM_ERROR_COUNT_), "UNKNOWN");
  cr_assert_str_eq(alcm_error_name((alcm_status)-1), "UNKNOWN");
  cr_assert_str_eq(alcm_error_name((alcm_status)1000), "UNKNOWN");
  cr_assert_not_null(alcm_error_text((alcm_status)-1));
  cr_assert_not_null(alcm_error_text(ALCM_ERROR_COUNT_));
}

Test(errors, fail_formats_message) {
  alcm_msg msg;
  alcm_msg_clear(&msg);
  cr_assert_str_eq(msg.text, "");
  cr_assert_eq(alcm_fail(&msg, ALCM_ERR_CHECKSUM,
                         "tensor '%s': chunk %u at offset %d", "w1", 3u,
                         81920),
               ALCM_ERR_CHECKSUM);
  cr_assert_str_eq(msg.text,
                   "tensor 'w1': chunk 3 at offset 81920: checksum mismatch");
  cr_assert_eq(alcm_fail(&msg, ALCM_ERR_IO, "%s", ""), ALCM_ERR_IO);
  cr_assert_str_eq(msg.text, "input/output error");
  alcm_msg_clear(&msg);
  cr_assert_str_eq(msg.text, "");
  cr_assert_eq(alcm_fail(NULL, ALCM_ERR_NAME, "x"), ALCM_ERR_NAME);
  alcm_msg_clear(NULL);
}

Test(errors, fail_truncates_safely) {
  alcm_msg msg;
  char *const big = malloc(4000);
  memset(big, 'a', 3999);
  big[3999] = '\0';
  alcm_fail(&msg, ALCM_ERR_LIMIT, "name '%s'", big);
  cr_assert_eq(strlen(msg.text), ALCM_MSG_SIZE - 1);
  cr_assert_eq(strncmp(msg.text, "name 'aaa", 9), 0);
  /* almost full: the status text is cut, not overrun */
  memset(big, 'b', ALCM_MSG_SIZE - 4);
  big[ALCM_MSG_SIZE - 4] = '\0';
  alcm_fail(&msg, ALCM_ERR_LIMIT, "%s", big);
  cr_assert_eq(strlen(msg.text), ALCM_MSG_SIZE - 1);
  cr_assert_eq(strncmp(msg.text + ALCM_MSG_SIZE - 4, ": ", 2), 0);
  free(big);
}

/* ---- dtypes ---- */

Test(dtype, table) {
  static const struct {
    int dtype;
    const char *name;
    size_t size;
  } t[] = {
      {ALCM_DTYPE_BOOL, "BOOL", 1},    {ALCM_DTYPE_U8, "U8", 1},
      {ALCM_DTYPE_I8, "I8", 1},        {ALCM_DTYPE_U16, "U16", 2},
      {ALCM_DTYPE_I16, "I16", 2},      {ALCM_DTYPE_U32, "U32", 4},
      {ALCM_DTYPE_I32, "I32", 4},      {ALCM_DTYPE_U64, "U64", 8},
      {ALCM_DTYPE_I64, "I64", 8},      {ALCM_DTYPE_F16, "F16", 2},
      {ALCM_DTYPE_BF16, "BF16", 2},    {ALCM_DTYPE_F32, "F32", 4},
      {ALCM_DTYPE_F64, "F64", 8},      {ALCM_DTYPE_F8_E4M3, "F8_E4M3", 1},
      {ALCM_DTYPE_F8_E5M2, "F8_E5M2", 1},
  };
  cr_assert_eq(sizeof t / sizeof t[0], ALCM_DTYPE_MAX);
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    cr_assert_eq(alcm_dtype_size(t[i].dtype), t[i].size, "%s", t[i].name);
    cr_assert_str_eq(alcm_dtype_name(t[i].dtype), t[i].name);
    cr_assert_eq(alcm_dtype_from_name(t[i].name), t[i].dtype);
  }
}

Test(dtype, invalid) {
  static const int bad[] = {0, -1, ALCM_DTYPE_MAX + 1, 255, 1 << 30};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_assert_eq(alcm_dtype_size(bad[i]), 0);
    cr_assert_null(alcm_dtype_name(bad[i]));
  }
  cr_assert_eq(alcm_dtype_from_name(NULL), 0);
  cr_assert_eq(alcm_dtype_from_name(""), 0);
  cr_assert_eq(alcm_dtype_from_name("f32"), 0);
  cr_assert_eq(alcm_dtype_from_name("F32 "), 0);
  cr_assert_eq(alcm_dtype_from_name("F8"), 0);
  cr_assert_eq(alcm_dtype_from_name("float32"), 0);
}

/* ---- checksums ---- */

Test(hash, matches_xxh3) {
  const char *const s = "The quick brown fox";
  cr_assert_eq(alcm_hash64(s, strlen(s)), XXH3_64bits(s, strlen(s)));
  cr_assert_eq(alcm_hash64(NULL, 0), XXH3_64bits("", 0));
  /* XXH3-64 of empty input is a published constant */
  cr_assert_eq(alcm_hash64("", 0), 0x2D06800538D394C2ull);
  uint8_t out[16];
  alcm_hash128(s, strlen(s), out);
  const XXH128_hash_t h = XXH3_128bits(s, strlen(s));
  for (int i = 0; i < 8; i++) {
    cr_assert_eq(out[i], (uint8_t)(h.high64 >> (56 - 8 * i)));
    cr_assert_eq(out[8 + i], (uint8_t)(h.low64 >> (56 - 8 * i)));
  }
  /* Long inputs take the AVX2 build on such hosts: the same values. */
  static uint8_t big[5000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 31 + 7);
  cr_assert_eq(alcm_hash64(big, sizeof big), XXH3_64bits(big, sizeof big));
  alcm_hash128(big, sizeof big, out);
  const XXH128_hash_t hb = XXH3_128bits(big, sizeof big);
  for (int i = 0; i < 8; i++) {
    cr_assert_eq(out[i], (uint8_t)(hb.high64 >> (56 - 8 * i)));
    cr_assert_eq(out[8 + i], (uint8_t)(hb.low64 >> (56 - 8 * i)));
  }
}

Test(hash, streaming_equals_one_shot) {
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  const size_t n = 100000;
  uint8_t *const data = malloc(n);
  for (size_t i = 0; i < n; i++) data[i] = (uint8_t)(i * 7 + (i >> 9));
  uint8_t want[16], got[16];
  static const size_t steps[] = {1, 7, 64, 240, 1000, 4096, 100000};
  for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
    for (size_t len = 0; len <= n; len = len ? len * 3 : 1) {
      alcm_hash128(data, len, want);
      alcm_hash128_state *const st = alcm_hash128_create(&mem);
      cr_assert_not_null(st);
      for (size_t off = 0; off < len; off += steps[k]) {
        const size_t m = len - off < steps[k] ? len - off : steps[k];
        alcm_hash128_update(st, data + off, m);
      }
      alcm_hash128_update(st, NULL, 0);
      alcm_hash128_final(st, got);
      cr_assert_arr_eq(got, want, 16, "step %zu len %zu", steps[k], len);
      alcm_hash128_free(&mem, st);
    }
  }
  /* reset starts over: same state, second message */
  alcm_hash128_state *const st = alcm_hash128_create(&mem);
  alcm_hash128_update(st, "junk", 4);
  alcm_hash128_reset(st);
  alcm_hash128_update(st, data, 1000);
  alcm_hash128_final(st, got);
  alcm_hash128(data, 1000, want);
  cr_assert_arr_eq(got, want, 16);
  alcm_hash128_reset(st);
  alcm_hash128_final(st, got);
  alcm_hash128(NULL, 0, want);
  cr_assert_arr_eq(got, want, 16);
  alcm_hash128_free(&mem, st);
  alcm_hash128_free(&mem, NULL);
  free(data);
}

/* ---- memory ---- */

typedef struct {
  size_t allocs, frees;
  int fail;
} counting;
static void *count_alloc(void *opaque, size_t n) {
  counting *const c = opaque;
  if (c->fail) return NULL;
  c->allocs++;
  return malloc(n);
}
static void count_free(void *opaque, void *p) {
  counting *const c = opaque;
  if (p) c->frees++;
  free(p);
}

Test(alloc, defaults_and_limits) {
  alcm_mem m;
  alcm_mem_init(&m, NULL, 0);
  cr_assert_eq(m.max_alloc, (uint64_t)2 << 30);
  void *const z = alcm_mem_alloc(&m, 0);
  cr_assert_not_null(z);
  alcm_mem_free(&m, z);
  alcm_mem_free(&m, NULL);
  alcm_mem_init(&m, NULL, 100);
  void *const p = alcm_mem_alloc(&m, 100);
  cr_assert_not_null(p);
  alcm_mem_free(&m, p);
  cr_assert_null(alcm_mem_alloc(&m, 101));
  cr_assert_null(alcm_mem_alloc(&m, SIZE_MAX));
  cr_assert_null(alcm_mem_calloc(&m, 11, 10));
  cr_assert_null(alcm_mem_calloc(&m, SIZE_MAX / 2, 3)); /* overflow */
  uint8_t *const c = alcm_mem_calloc(&m, 10, 10);
  cr_assert_not_null(c);
  cr_assert(alcm_all_zero(c, 100));
  alcm_mem_free(&m, c);
  void *const c0 = alcm_mem_calloc(&m, 0, 5);
  cr_assert_not_null(c0);
  alcm_mem_free(&m, c0);
}

Test(alloc, hook_used_and_half_hook_ignored) {
  counting cnt = {0, 0, 0};
  const alcm_allocator a = {count_alloc, count_free, &cnt};
  alcm_mem m;
  alcm_mem_init(&m, &a, 0);
  void *const p = alcm_mem_alloc(&m, 10);
  char *const s = alcm_mem_strndup(&m, "hello", 3);
  cr_assert_str_eq(s, "hel");
  alcm_mem_free(&m, p);
  alcm_mem_free(&m, s);
  cr_assert_eq(cnt.allocs, 2);
  cr_assert_eq(cnt.frees, 2);
  cnt.fail = 1;
  cr_assert_null(alcm_mem_alloc(&m, 10));
  cr_assert_null(alcm_mem_strndup(&m, "x", 1));
  const alcm_allocator half = {count_alloc, NULL, &cnt};
  alcm_mem_init(&m, &half, 0);
  void *const q = alcm_mem_alloc(&m, 10); /* malloc, not the hook */
  cr_assert_not_null(q);
  alcm_mem_free(&m, q);
}

Test(alloc, strndup_stops_at_nul) {
  alcm_mem m;
  alcm_mem_init(&m, NULL, 0);
  char *const s = alcm_mem_strndup(&m, "ab\0cd", 5);
  cr_assert_str_eq(s, "ab");
  alcm_mem_free(&m, s);
  char *const e = alcm_mem_strndup(&m, "abc", 0);
  cr_assert_str_eq(e, "");
  alcm_mem_free(&m, e);
}

Test(alloc, reserve_grows_and_keeps_contents) {
  alcm_mem m;
  alcm_mem_init(&m, NULL, 0);
  void *p = NULL;
  size_t cap = 0;
  cr_assert_eq(alcm_mem_reserve(&m, &p, &cap, 10), ALCM_OK);
  cr_assert_geq(cap, 10);
  memset(p, 0xAB, cap);
  const size_t first = cap;
  void *const before = p;
  cr_assert_eq(alcm_mem_reserve(&m, &p, &cap, first), ALCM_OK);
  cr_assert_eq(p, before); /* no growth needed */
  cr_assert_eq(alcm_mem_reserve(&m, &p, &cap, first + 1), ALCM_OK);
  cr_assert_geq(cap, 2 * first);
  for (size_t i = 0; i < first; i++) cr_assert_eq(((uint8_t *)p)[i], 0xAB);
  cr_assert_eq(alcm_mem_reserve(&m, &p, &cap, 100000), ALCM_OK);
  cr_assert_geq(cap, 100000);
  alcm_mem_free(&m, p);
}

Test(alloc, reserve_limits_and_failures) {
  alcm_mem m;
  alcm_mem_init(&m, NULL, 1000);
  void *p = NULL;
  size_t cap = 0;
  cr_assert_eq(alcm_mem_reserve(&m, &p, &cap, 600), ALCM_OK);
  /* doubling would pass the cap: clamp to it */
  cr_assert_eq(alcm_mem_reserve(&m, &p, &cap, 900), ALCM_OK);
  cr_assert_geq(cap, 900);
  cr_assert_leq(cap, 1000);
  cr_assert_eq(alcm_mem_reserve(&m, &p, &cap, 1001), ALCM_ERR_LIMIT);
  cr_assert_eq(alcm_mem_reserve(&m, &p, &cap, SIZE_MAX), ALCM_ERR_LIMIT);
  cr_assert_not_null(p); /* untouched on failure */
  alcm_mem_free(&m, p);

  alcm_mem_init(&m, NULL, UINT64_MAX);
  p = NULL;
  cap = SIZE_MAX / 2 + 2; /* pretend: doubling would overflow */
  void *dummy = malloc(1);
  p = dummy;
  cr_assert_eq(alcm_mem_reserve(&m, &p, &cap, SIZE_MAX), ALCM_ERR_NOMEM);
  cr_assert_eq(p, dummy);
  free(dummy);

  counting cnt = {0, 0, 1};
  const alcm_allocator a = {count_alloc, count_free, &cnt};
  alcm_mem_init(&m, &a, 0);
  p = NULL;
  cap = 0;
  cr_assert_eq(alcm_mem_reserve(&m, &p, &cap, 8), ALCM_ERR_NOMEM);
  cr_assert_null(p);
  cr_assert_eq(cap, 0);
}
