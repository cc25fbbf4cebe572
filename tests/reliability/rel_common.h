/*
 * rel_common.h - small helpers shared by the reliability programs in
 * tests/reliability/ (file slurping, temp folders, folder listings).
 */
#ifndef ALCM_REL_COMMON_H
#define ALCM_REL_COMMON_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alcm.h"

static inline uint8_t *rel_slurp(const char *path, size_t *size_ret) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
    fclose(f);
    return NULL;
  }
  const size_t n = (size_t)st.st_size;
  uint8_t *buf = malloc(n ? n : 1);
  if (buf && n && fread(buf, 1, n, f) != n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *size_ret = n;
  return buf;
}

static inline int rel_spit(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  const int ok = (n == 0 || fwrite(data, 1, n, f) == n);
  return fclose(f) == 0 && ok ? 0 : -1;
}

/* 1 if the file at path holds exactly data[0..n). */
static inline int rel_same(const char *path, const void *data, size_t n) {
  size_t m = 0;
  uint8_t *got = rel_slurp(path, &m);
  const int same = got && m == n && (n == 0 || memcmp(got, data, n) == 0);
  free(got);
  return same;
}

/* A fresh folder under $TMPDIR or /tmp; exits on failure. */
static inline char *rel_tmpdir(const char *tag) {
  const char *t = getenv("TMPDIR");
  char *d = malloc(512);
  if (!d) exit(2);
  snprintf(d, 512, "%s/alcm-%s.XXXXXX", t && t[0] ? t : "/tmp", tag);
  if (!mkdtemp(d)) {
    perror("mkdtemp");
    exit(2);
  }
  return d;
}

/* Number of entries of folder dir other than keep (a file name or NULL);
 * prints them with prefix when verbose. */
static inline int rel_extra_files(const char *dir, const char *keep,
                                  const char *prefix) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  const struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (keep && !strcmp(e->d_name, keep)) continue;
    if (prefix) fprintf(stderr, "%s: left behind: %s\n", prefix, e->d_name);
    n++;
  }
  closedir(d);
  return n;
}

/* Remove every file of dir (one level), then dir itself. */
static inline void rel_rmtree(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    const struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

static inline int rel_ends_with(const char *s, const char *suffix) {
  const size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

#endif /* ALCM_REL_COMMON_H */
