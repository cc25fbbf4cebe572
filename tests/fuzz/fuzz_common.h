/*
 * fuzz_common.h - helpers shared by the libFuzzer harnesses in tests/fuzz/.
 *
 * The library reads and writes files by path, so each harness puts the
 * fuzzer's bytes into a file of its own scratch folder (one per process,
 * made on first use, so parallel fuzzing jobs never share a file). A
 * harness calls FUZZ_CHECK for properties that must hold whatever the
 * input; a failure aborts, which libFuzzer and the replay driver both
 * report as a crash.
 */
#ifndef ALCM_FUZZ_COMMON_H
#define ALCM_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alcm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                            \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__,         \
              __LINE__, #cond);                                         \
      fprintf(stderr, __VA_ARGS__);                                     \
      fputc('\n', stderr);                                              \
      abort();                                                          \
    }                                                                   \
  } while (0)

/* The process's scratch folder, created once and removed at exit. */
static char fuzz_dir_buf[256];
static char fuzz_path_buf[4][300];

static inline void fuzz_cleanup(void) {
  for (size_t i = 0; i < 4; i++)
    if (fuzz_path_buf[i][0]) unlink(fuzz_path_buf[i]);
  if (fuzz_dir_buf[0]) rmdir(fuzz_dir_buf);
}

static inline const char *fuzz_dir(void) {
  if (!fuzz_dir_buf[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(fuzz_dir_buf, sizeof fuzz_dir_buf, "%s/alcm-fuzz.XXXXXX",
             t && t[0] ? t : "/tmp");
    if (!mkdtemp(fuzz_dir_buf)) {
      perror("mkdtemp");
      abort();
    }
    atexit(fuzz_cleanup);
  }
  return fuzz_dir_buf;
}

/* Path number i (0..3) inside the scratch folder. */
static inline const char *fuzz_path(unsigned i, const char *name) {
  snprintf(fuzz_path_buf[i], sizeof fuzz_path_buf[i], "%s/%s", fuzz_dir(),
           name);
  return fuzz_path_buf[i];
}

static inline void fuzz_write_file(const char *path, const uint8_t *data,
                            size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror(path);
    abort();
  }
}

/* Reads a whole small file; *size_ret its size. Caller frees. */
static inline uint8_t *fuzz_read_file(const char *path, size_t *size_ret) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *const nb = realloc(buf, cap *= 2);
      if (!nb) free(buf);
      buf = nb;
    }
  }
  fclose(f);
  *size_ret = n;
  return buf;
}

/* Streams entry i to nowhere (bounded memory whatever its size). */
static inline int fuzz_sink(void *opaque, const void *data, size_t size) {
  (void)opaque, (void)data, (void)size;
  return 0;
}

/* Exercises every query of an open reader; reads every entry whose size
 * is modest into memory, streams the others. */
static inline void fuzz_walk_reader(alcm_reader *r) {
  alcm_archive_info ai;
  (void)alcm_reader_archive_info(r, &ai);
  const size_t n = alcm_reader_entry_count(r);
  for (size_t i = 0; i < n; i++) {
    alcm_entry_info e;
    if (alcm_reader_entry(r, i, &e) != ALCM_OK) continue;
    size_t found;
    FUZZ_CHECK(alcm_reader_find(r, e.name, &found) == ALCM_OK,
               "entry %zu '%s' not found by name", i, e.name);
    for (uint32_t j = 0; j < e.chunk_count && j < 64; j++) {
      alcm_chunk_info ci;
      (void)alcm_reader_chunk(r, i, j, &ci);
    }
    if (e.raw_size <= ((uint64_t)1 << 20)) {
      void *buf = malloc(e.raw_size ? (size_t)e.raw_size : 1);
      if (buf) {
        (void)alcm_reader_read(r, i, buf, (size_t)e.raw_size);
        if (e.chunk_count)
          (void)alcm_reader_read_chunks(r, i, 0, 1, buf, (size_t)e.raw_size,
                                        NULL);
        free(buf);
      }
    } else {
      (void)alcm_reader_stream(r, i, fuzz_sink, NULL);
    }
  }
  for (size_t i = 0; i < alcm_reader_source_count(r); i++) {
    alcm_source_info s;
    (void)alcm_reader_source(r, i, &s);
  }
  for (size_t i = 0; i < alcm_reader_meta_count(r); i++) {
    alcm_meta_info m;
    if (alcm_reader_meta(r, i, &m) == ALCM_OK)
      (void)alcm_reader_find_meta(r, m.key, NULL);
  }
  (void)alcm_reader_verify(r, ALCM_VERIFY_LAYOUT_ONLY);
  (void)alcm_reader_verify(r, ALCM_VERIFY_STORED_ONLY);
  (void)alcm_reader_verify(r, 0);
}

#endif /* ALCM_FUZZ_COMMON_H */
