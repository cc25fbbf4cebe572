/*
 * test_util.h - small helpers shared by the Criterion unit tests: a
 * scratch folder per test and a seeded PRNG.
 */
#ifndef ALCM_TEST_UTIL_H
#define ALCM_TEST_UTIL_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char dir[256];
  char path[300];
} tu_tmp;

/* A fresh folder under /tmp and path = folder/file. */
static inline void tu_tmp_make(tu_tmp *t, const char *file) {
  snprintf(t->dir, sizeof t->dir, "/tmp/alcm-test-XXXXXX");
  cr_assert(mkdtemp(t->dir), "mkdtemp");
  snprintf(t->path, sizeof t->path, "%s/%s", t->dir, file);
}

/* Remove everything in the folder, then the folder. */
static inline void tu_tmp_drop(const tu_tmp *t) {
  DIR *const d = opendir(t->dir);
  if (d) {
    const struct dirent *e;
    char p[600];
    while ((e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      snprintf(p, sizeof p, "%s/%s", t->dir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(t->dir);
}

/* splitmix64 */
static inline uint64_t tu_rng(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Write n bytes to path (replacing it). */
static inline void tu_write_file(const char *path, const void *data, size_t n) {
  FILE *const f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(data, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

/* The whole file in a malloc'd buffer (one spare byte); caller frees. */
static inline void tu_read_file(const char *path, uint8_t **data, size_t *n) {
  FILE *const f = fopen(path, "rb");
  cr_assert_not_null(f);
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  const long len = ftell(f);
  cr_assert(len >= 0);
  rewind(f);
  *n = (size_t)len;
  *data = malloc(*n + 1);
  cr_assert_not_null(*data);
  cr_assert_eq(fread(*data, 1, *n, f), *n);
  fclose(f);
}

#endif /* ALCM_TEST_UTIL_H */
