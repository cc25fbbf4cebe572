/*
 * fuzz_roundtrip.c - fuzzer bytes -> tensors and blobs -> archive -> read
 * back; the same archive written twice (one thread, then one or two) must
 * be byte-identical.
 *
 * Input: 5 option bytes, then records until the bytes run out:
 *   [0] codec (among the built-ins this library has), [1] level,
 *   [2] chunk size and alignment, [3] transform, [4] threads of write 2
 *   record: [kind/dtype] [ndim] [dim]... then data taken from the input
 *   (repeated when the input has fewer bytes than the tensor needs).
 */
#include "fuzz_common.h"
#include "alcm_format.h"

#define MAX_ENTRIES 8u
#define MAX_BYTES ((size_t)96 << 10) /* per entry */

typedef struct {
  const uint8_t *p, *end;
} bytes;

static unsigned take(bytes *b) { return b->p < b->end ? *b->p++ : 0u; }

typedef struct {
  char name[16];
  int blob, dtype;
  unsigned ndim;
  uint64_t shape[3];
  uint8_t *data;
  size_t size;
} item;

static size_t parse_items(bytes *b, item *it) {
  size_t n = 0;
  while (b->p < b->end && n < MAX_ENTRIES) {
    item *const x = &it[n];
    memset(x, 0, sizeof *x);
    const unsigned k = take(b);
    x->blob = (k & 0x80) != 0;
    x->dtype = (int)(k % 15) + 1;
    x->ndim = x->blob ? 0 : take(b) % 4;
    size_t elems = 1;
    for (unsigned d = 0; d < x->ndim; d++) {
      x->shape[d] = take(b) % 48;
      elems *= (size_t)x->shape[d];
    }
    const size_t es = x->blob ? 1 : alcm_dtype_size(x->dtype);
    x->size = x->blob ? take(b) * 97u : elems * es;
    if (x->size > MAX_BYTES) { /* keep the tensor, shrink its last axis */
      x->shape[x->ndim - 1] = 1;
      elems = 1;
      for (unsigned d = 0; d < x->ndim; d++) elems *= (size_t)x->shape[d];
      x->size = elems * es;
    }
    x->data = malloc(x->size ? x->size : 1);
    FUZZ_CHECK(x->data != NULL, "malloc");
    const size_t have = (size_t)(b->end - b->p);
    for (size_t i = 0; i < x->size; i++)
      x->data[i] = (uint8_t)(have ? b->p[i % have] + i / have : i);
    b->p += have < x->size ? have : x->size;
    snprintf(x->name, sizeof x->name, x->blob ? "blob/%zu.bin" : "t%zu", n);
    n++;
  }
  return n;
}

static const char *pick_codec(unsigned v) {
  static const char *const names[] = {"zstd", "zlib", "store", "rans"};
  for (unsigned i = 0; i < 4; i++) {
    const char *const c = names[(v + i) % 4];
    if (alcm_codec_builtin(c)) return c;
  }
  return "store";
}

static alcm_status write_archive(const char *path, const alcm_write_options *o,
                                 const item *it, size_t n) {
  alcm_writer *w = alcm_writer_create(o);
  FUZZ_CHECK(w != NULL, "writer_create");
  alcm_status st = alcm_writer_open(w, path);
  for (size_t i = 0; i < n && st == ALCM_OK; i++) {
    const item *const x = &it[i];
    if (x->blob) {
      st = alcm_writer_begin_blob(w, x->name);
      /* Blobs are written in two pieces to cross chunk edges oddly. */
      if (st == ALCM_OK) st = alcm_writer_write(w, x->data, x->size / 3);
      if (st == ALCM_OK)
        st = alcm_writer_write(w, x->data + x->size / 3,
                               x->size - x->size / 3);
      if (st == ALCM_OK) st = alcm_writer_end(w);
    } else {
      st = alcm_writer_add_tensor(w, x->name, x->dtype, x->ndim, x->shape,
                                  x->data, x->size);
    }
  }
  if (st == ALCM_OK) st = alcm_writer_set_meta_string(w, "fuzz", "round trip");
  if (st == ALCM_OK) st = alcm_writer_finish(w);
  alcm_writer_close(w);
  return st;
}

static void check_read_back(const char *path, const item *it, size_t n) {
  alcm_reader *r = alcm_reader_create(NULL);
  FUZZ_CHECK(r != NULL, "reader_create");
  FUZZ_CHECK(alcm_reader_open(r, path) == ALCM_OK, "open: %s",
             alcm_reader_message(r));
  FUZZ_CHECK(alcm_reader_verify(r, 0) == ALCM_OK, "verify: %s",
             alcm_reader_message(r));
  FUZZ_CHECK(alcm_reader_entry_count(r) == n, "%zu entries, wrote %zu",
             alcm_reader_entry_count(r), n);
  for (size_t i = 0; i < n; i++) {
    size_t k;
    alcm_entry_info e;
    FUZZ_CHECK(alcm_reader_find(r, it[i].name, &k) == ALCM_OK &&
                   alcm_reader_entry(r, k, &e) == ALCM_OK,
               "entry '%s' missing", it[i].name);
    FUZZ_CHECK(e.raw_size == it[i].size && e.ndim == it[i].ndim &&
                   (it[i].blob || e.dtype == it[i].dtype),
               "entry '%s' described wrongly", it[i].name);
    for (unsigned d = 0; d < e.ndim; d++)
      FUZZ_CHECK(e.shape[d] == it[i].shape[d], "entry '%s': shape[%u]",
                 it[i].name, d);
    uint8_t *got = malloc(it[i].size ? it[i].size : 1);
    FUZZ_CHECK(got != NULL, "malloc");
    FUZZ_CHECK(alcm_reader_read(r, k, got, it[i].size) == ALCM_OK,
               "read '%s': %s", it[i].name, alcm_reader_message(r));
    FUZZ_CHECK(memcmp(got, it[i].data, it[i].size) == 0,
               "entry '%s' reads back different bytes", it[i].name);
    free(got);
  }
  alcm_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 5) return 0;
  bytes b = {data, data + size};
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.codec = pick_codec(take(&b));
  const alcm_codec *c = alcm_codec_builtin(o.codec);
  const int level = (int)(take(&b) % 4);
  if (c && level >= c->level_min && level <= c->level_max) {
    o.level = level;
    o.level_set = 1;
  }
  const unsigned cs = take(&b);
  o.chunk_size = 4096u * (1u + cs % 4u);
  static const unsigned aligns[4] = {0, 3, 6, 12};
  o.align_log2 = aligns[(cs >> 2) % 4];
  const unsigned t = take(&b) % (ALCM_TRANSFORM_COUNT + 1);
  o.transform = t == 0 ? -1 : (int)t - 1;
  o.overwrite = 1;
  const unsigned threads2 = 1 + take(&b) % 2;

  item it[MAX_ENTRIES];
  const size_t n = parse_items(&b, it);
  const char *pa = fuzz_path(0, "a.alcm"), *pb = fuzz_path(1, "b.alcm");
  o.threads = 1;
  const alcm_status sa = write_archive(pa, &o, it, n);
  o.threads = threads2;
  const alcm_status sb = write_archive(pb, &o, it, n);
  FUZZ_CHECK(sa == sb, "same input, %s with 1 thread, %s with %u",
             alcm_error_name(sa), alcm_error_name(sb), threads2);
  if (sa == ALCM_OK) {
    size_t na = 0, nb = 0;
    uint8_t *fa = fuzz_read_file(pa, &na), *fb = fuzz_read_file(pb, &nb);
    FUZZ_CHECK(fa && fb && na == nb && memcmp(fa, fb, na) == 0,
               "written twice, archives differ (%zu and %zu bytes)", na, nb);
    free(fa);
    free(fb);
    check_read_back(pa, it, n);
  }
  for (size_t i = 0; i < n; i++) free(it[i].data);
  return 0;
}
