/*
 * adaptive_corpus.h - shared by bench/train_predictor.c and
 * bench/bench_adaptive.c: the F32 weight tensors of safetensors files,
 * in a fixed order (files as given, tensors sorted by name), so that
 * training and measurement are deterministic.
 */
#ifndef ALCM_ADAPTIVE_CORPUS_H
#define ALCM_ADAPTIVE_CORPUS_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adaptive.h"

typedef struct {
  char name[256];
  unsigned ndim;
  uint64_t shape[8];
  const uint8_t *data; /* points into the file buffer */
  size_t size, numel;
} corpus_tensor;

typedef struct {
  uint8_t *buf;
  corpus_tensor *t;
  size_t count;
} corpus_file;

static int corpus_cmp(const void *a, const void *b) {
  return strcmp(((const corpus_tensor *)a)->name,
                ((const corpus_tensor *)b)->name);
}

/* F32 tensors with ndim >= 2 and at least min_numel elements (weights;
 * biases and norms stay lossless in ALCM's default policy). */
static int corpus_load(const char *path, size_t min_numel, corpus_file *f) {
  memset(f, 0, sizeof *f);
  FILE *const fp = fopen(path, "rb");
  if (!fp) return -1;
  fseek(fp, 0, SEEK_END);
  const long len = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  f->buf = malloc((size_t)len + 1);
  if (!f->buf || fread(f->buf, 1, (size_t)len, fp) != (size_t)len) {
    fclose(fp);
    return -1;
  }
  fclose(fp);
  const uint64_t hl = alcm_le64(f->buf);
  if (hl > (uint64_t)len - 8) return -1;
  json_error_t err;
  json_t *const root =
      json_loadb((const char *)f->buf + 8, (size_t)hl, 0, &err);
  if (!root) return -1;
  f->t = calloc(json_object_size(root) + 1, sizeof *f->t);
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v) {
    json_t *const dt = json_object_get(v, "dtype");
    json_t *const sh = json_object_get(v, "shape");
    json_t *const off = json_object_get(v, "data_offsets");
    if (!dt || strcmp(json_string_value(dt), "F32") || !sh || !off) continue;
    corpus_tensor *const t = &f->t[f->count];
    t->ndim = (unsigned)json_array_size(sh);
    if (t->ndim < 2 || t->ndim > 8 || strlen(key) >= sizeof t->name) continue;
    t->numel = 1;
    for (unsigned d = 0; d < t->ndim; d++) {
      t->shape[d] = (uint64_t)json_integer_value(json_array_get(sh, d));
      t->numel *= (size_t)t->shape[d];
    }
    const size_t a = (size_t)json_integer_value(json_array_get(off, 0));
    const size_t b = (size_t)json_integer_value(json_array_get(off, 1));
    if (t->numel < min_numel || b - a != t->numel * 4 ||
        8 + hl + b > (uint64_t)len)
      continue;
    strcpy(t->name, key);
    t->data = f->buf + 8 + hl + a;
    t->size = b - a;
    f->count++;
  }
  json_decref(root);
  qsort(f->t, f->count, sizeof *f->t, corpus_cmp);
  return 0;
}

static void corpus_free(corpus_file *f) {
  free(f->buf);
  free(f->t);
  memset(f, 0, sizeof *f);
}

#endif
