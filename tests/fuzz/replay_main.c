/*
 * replay_main.c - runs a harness's LLVMFuzzerTestOneInput over every file
 * of the corpus folders (or single files) named on the command line,
 * without libFuzzer, so that ctest replays the seed and regression corpora
 * with the normal compiler (zstd tests/fuzz/regression_driver.c).
 *
 * Usage: replay_<harness> PATH...   (folders are read one level deep, in
 * name order). Exit 0 when every input ran; a harness property failure or
 * sanitizer report aborts the process, which ctest shows as a failure.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cap = 1 << 16, n = 0, got;
  uint8_t *buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *const nb = realloc(buf, cap *= 2);
      if (!nb) free(buf);
      buf = nb;
    }
  }
  const int err = ferror(f);
  fclose(f);
  if (!buf || err) {
    fprintf(stderr, "%s: cannot read\n", path);
    free(buf);
    return -1;
  }
  /* An exact-size copy, so ASan sees any read past the input's end. */
  uint8_t *const exact = malloc(n ? n : 1);
  if (!exact) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv) {
  size_t runs = 0, errors = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      errors++;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (run_file(argv[i]) == 0) runs++; else errors++;
      continue;
    }
    struct dirent **names;
    const int n = scandir(argv[i], &names, NULL, by_name);
    if (n < 0) {
      perror(argv[i]);
      errors++;
      continue;
    }
    for (int k = 0; k < n; k++) {
      char path[4096];
      if (names[k]->d_name[0] != '.' &&
          (size_t)snprintf(path, sizeof path, "%s/%s", argv[i],
                           names[k]->d_name) < sizeof path &&
          stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        if (run_file(path) == 0) runs++; else errors++;
      }
      free(names[k]);
    }
    free(names);
  }
  printf("replayed %zu inputs, %zu unreadable\n", runs, errors);
  return errors || runs == 0 ? 1 : 0;
}
