/*
 * rel_allocfail.c - allocation-failure injection (SQLite / curl "torture"
 * style) through the library's allocator hook.
 *
 *   rel_allocfail SOURCE-DIR [SCENARIO...]
 *
 * Each scenario (write with 1 and 2 threads, open, read, verify, import of
 * safetensors and .npy, export of a source and of a tensor) first runs
 * with no failure to count its allocations, then once for every N with the
 * N-th allocation failing. jansson, which the safetensors code uses, is
 * routed through the same counter (json_set_alloc_funcs) so its
 * allocations fail too. Every run must end in ALCM_OK with the right
 * result or in an error status with a message; every block must be freed
 * once the handles are closed; a write or export whose target already
 * held a file must leave that file byte-identical on failure and no other
 * file (no temporary) in the folder.
 */
#include <jansson.h>
#include <stdatomic.h>

#include "rel_common.h"

/* ---- the failing allocator ------------------------------------------------ */

typedef struct {
  atomic_long count, live;
  long fail_at; /* 0: never */
  atomic_int injected;
} failer;

static failer *current; /* jansson's hook has no opaque pointer */

static void *fail_alloc(void *opaque, size_t size) {
  failer *f = opaque;
  const long n = atomic_fetch_add(&f->count, 1) + 1;
  if (n == f->fail_at) {
    atomic_store(&f->injected, 1);
    return NULL;
  }
  void *p = malloc(size);
  if (p) atomic_fetch_add(&f->live, 1);
  return p;
}

static void fail_free(void *opaque, void *p) {
  failer *f = opaque;
  if (!p) return;
  atomic_fetch_sub(&f->live, 1);
  free(p);
}

static void *json_alloc(size_t size) {
  return current ? fail_alloc(current, size) : malloc(size);
}
static void json_free(void *p) {
  if (current) fail_free(current, p);
  else free(p);
}

/* ---- fixtures of the run ---------------------------------------------------- */

typedef struct {
  const char *src;  /* source tree */
  char *dir;        /* scratch folder of one run */
  char old[1024];   /* the previous file at every target */
  char st[1024], npy[1024], archive[1024];
  uint8_t *old_bytes;
  size_t old_size;
} env;

static void make_inputs(env *e, const char *work) {
  /* safetensors: a 3-chunk F32 tensor and a small I16 one */
  static const char hdr[] =
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[30,100],\"data_offsets\":[0,12000]},"
      "\"b\":{\"dtype\":\"I16\",\"shape\":[7],\"data_offsets\":[12000,12014]}}";
  const size_t hlen = (sizeof hdr - 1 + 7) & ~(size_t)7;
  const size_t total = 8 + hlen + 12014;
  uint8_t *st = calloc(1, total);
  for (size_t i = 0; i < 8; i++) st[i] = (uint8_t)(hlen >> (8 * i));
  memset(st + 8, ' ', hlen);
  memcpy(st + 8, hdr, sizeof hdr - 1);
  for (size_t i = 0; i < 12014; i++) st[8 + hlen + i] = (uint8_t)(i * 7 / 5);
  snprintf(e->st, sizeof e->st, "%s/in.safetensors", work);
  rel_spit(e->st, st, total);
  free(st);
  /* .npy version 1.0, '<f4' (40, 50) */
  char head[128];
  const int n = snprintf(head, sizeof head,
                         "{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (40, 50), }");
  uint8_t npy[128 + 8000];
  memset(npy, 0, sizeof npy);
  memcpy(npy, "\x93NUMPY\x01\x00", 8);
  npy[8] = 128 - 10;
  memset(npy + 10, ' ', 118);
  memcpy(npy + 10, head, (size_t)n);
  npy[127] = '\n';
  for (size_t i = 0; i < 8000; i++) npy[128 + i] = (uint8_t)(i % 251);
  snprintf(e->npy, sizeof e->npy, "%s/in.npy", work);
  rel_spit(e->npy, npy, sizeof npy);
  /* the archive read by open/read/verify/export: both sources */
  snprintf(e->archive, sizeof e->archive, "%s/in.alcm", work);
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.chunk_size = 4096;
  alcm_writer *w = alcm_writer_create(&o);
  if (alcm_writer_open(w, e->archive) || alcm_import_safetensors(w, e->st, "m.safetensors") ||
      alcm_import_npy(w, e->npy, "w.npy", "w") || alcm_writer_finish(w)) {
    fprintf(stderr, "setup: %s\n", alcm_writer_message(w));
    exit(2);
  }
  alcm_writer_close(w);
  snprintf(e->old, sizeof e->old, "%s/fixtures/valid/mixed.alcm", e->src);
  e->old_bytes = rel_slurp(e->old, &e->old_size);
  if (!e->old_bytes) {
    perror(e->old);
    exit(2);
  }
}

/* ---- scenarios ---------------------------------------------------------------- */

typedef struct {
  alcm_status st;
  const char *msg;     /* copy of the handle's message */
  char target[1100];   /* file a write produced, "" if none */
} outcome;

static char msgbuf[1024];

static alcm_writer *new_writer(const alcm_allocator *a, unsigned threads) {
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.allocator = *a;
  o.chunk_size = 4096;
  o.threads = threads;
  o.overwrite = 1;
  return alcm_writer_create(&o);
}

static alcm_reader *new_reader(const alcm_allocator *a) {
  alcm_read_options o;
  alcm_read_options_init(&o);
  o.allocator = *a;
  return alcm_reader_create(&o);
}

static void set_target(const env *e, outcome *out, const char *name) {
  snprintf(out->target, sizeof out->target, "%s/%s", e->dir, name);
  rel_spit(out->target, e->old_bytes, e->old_size);
}

static alcm_status end_writer(alcm_writer *w, alcm_status st) {
  if (st == ALCM_OK) st = alcm_writer_finish(w);
  snprintf(msgbuf, sizeof msgbuf, "%s", alcm_writer_message(w));
  alcm_writer_close(w);
  return st;
}

static alcm_status end_reader(alcm_reader *r, alcm_status st) {
  snprintf(msgbuf, sizeof msgbuf, "%s", r ? alcm_reader_message(r) : "");
  alcm_reader_close(r);
  return st;
}

static alcm_status sc_write(const env *e, const alcm_allocator *a,
                            outcome *out, unsigned threads) {
  set_target(e, out, "target.alcm");
  alcm_writer *w = new_writer(a, threads);
  if (!w) return ALCM_ERR_NOMEM;
  float t[3000];
  for (size_t i = 0; i < 3000; i++) t[i] = (float)i * 0.25f;
  const uint64_t shape[2] = {30, 100};
  uint8_t blob[5000];
  for (size_t i = 0; i < sizeof blob; i++) blob[i] = (uint8_t)(i * 13);
  alcm_status st = alcm_writer_open(w, out->target);
  if (!st) st = alcm_writer_add_tensor(w, "t", ALCM_DTYPE_F32, 2, shape, t, sizeof t);
  if (!st) st = alcm_writer_begin_blob(w, "cfg/blob.bin");
  if (!st) st = alcm_writer_write(w, blob, 1234);
  if (!st) st = alcm_writer_write(w, blob + 1234, sizeof blob - 1234);
  if (!st) st = alcm_writer_end(w);
  if (!st) st = alcm_writer_set_meta_string(w, "note", "allocation failures");
  if (!st) st = alcm_writer_set_meta_string(w, "note", "replaced");
  return end_writer(w, st);
}

static alcm_status sc_write1(const env *e, const alcm_allocator *a, outcome *o) {
  return sc_write(e, a, o, 1);
}
static alcm_status sc_write2(const env *e, const alcm_allocator *a, outcome *o) {
  return sc_write(e, a, o, 2);
}

static alcm_status sc_open(const env *e, const alcm_allocator *a, outcome *o) {
  (void)o;
  alcm_reader *r = new_reader(a);
  if (!r) return ALCM_ERR_NOMEM;
  return end_reader(r, alcm_reader_open(r, e->archive));
}

static int sink(void *opaque, const void *data, size_t size) {
  (void)opaque, (void)data, (void)size;
  return 0;
}

static alcm_status sc_read(const env *e, const alcm_allocator *a, outcome *o) {
  (void)o;
  alcm_reader *r = new_reader(a);
  if (!r) return ALCM_ERR_NOMEM;
  alcm_status st = alcm_reader_open(r, e->archive);
  for (size_t i = 0; !st && i < alcm_reader_entry_count(r); i++) {
    alcm_entry_info info;
    st = alcm_reader_entry(r, i, &info);
    void *buf = malloc(info.raw_size ? (size_t)info.raw_size : 1);
    if (!st) st = alcm_reader_read(r, i, buf, (size_t)info.raw_size);
    free(buf);
    if (!st) st = alcm_reader_stream(r, i, sink, NULL);
  }
  return end_reader(r, st);
}

static alcm_status sc_verify(const env *e, const alcm_allocator *a, outcome *o) {
  (void)o;
  alcm_reader *r = new_reader(a);
  if (!r) return ALCM_ERR_NOMEM;
  alcm_status st = alcm_reader_open(r, e->archive);
  if (!st) st = alcm_reader_verify(r, 0);
  return end_reader(r, st);
}

static alcm_status sc_import_st(const env *e, const alcm_allocator *a,
                                outcome *out) {
  set_target(e, out, "target.alcm");
  alcm_writer *w = new_writer(a, 1);
  if (!w) return ALCM_ERR_NOMEM;
  alcm_status st = alcm_writer_open(w, out->target);
  if (!st) st = alcm_import_safetensors(w, e->st, "m.safetensors");
  return end_writer(w, st);
}

static alcm_status sc_import_npy(const env *e, const alcm_allocator *a,
                                 outcome *out) {
  set_target(e, out, "target.alcm");
  alcm_writer *w = new_writer(a, 1);
  if (!w) return ALCM_ERR_NOMEM;
  alcm_status st = alcm_writer_open(w, out->target);
  if (!st) st = alcm_import_npy(w, e->npy, "w.npy", "w");
  return end_writer(w, st);
}

static alcm_status sc_export(const env *e, const alcm_allocator *a,
                             outcome *out, int which) {
  set_target(e, out, which == 2 ? "w0.npy" : which ? "w.npy" : "m.safetensors");
  alcm_reader *r = new_reader(a);
  if (!r) return ALCM_ERR_NOMEM;
  alcm_status st = alcm_reader_open(r, e->archive);
  size_t entry = 0;
  if (!st && which == 2) st = alcm_reader_find(r, "w", &entry);
  if (!st)
    st = which == 2 ? alcm_export_npy(r, entry, out->target, 1)
                    : alcm_export_source(r, (size_t)which, out->target, 1);
  return end_reader(r, st);
}

static alcm_status sc_export_st(const env *e, const alcm_allocator *a, outcome *o) {
  return sc_export(e, a, o, 0);
}
static alcm_status sc_export_npysrc(const env *e, const alcm_allocator *a,
                                    outcome *o) {
  return sc_export(e, a, o, 1);
}
static alcm_status sc_export_tensor(const env *e, const alcm_allocator *a,
                                    outcome *o) {
  return sc_export(e, a, o, 2);
}

typedef struct {
  const char *name;
  alcm_status (*run)(const env *, const alcm_allocator *, outcome *);
} scenario;

static const scenario scenarios[] = {
    {"write", sc_write1},           {"write-2threads", sc_write2},
    {"open", sc_open},              {"read", sc_read},
    {"verify", sc_verify},          {"import-safetensors", sc_import_st},
    {"import-npy", sc_import_npy},  {"export-safetensors", sc_export_st},
    {"export-npy-source", sc_export_npysrc},
    {"export-npy-tensor", sc_export_tensor},
};

/* ---- the loop ---------------------------------------------------------------- */

typedef struct {
  long allocs, runs, failures;
  long by_status[ALCM_ERROR_COUNT_];
} result;

/* Whether the archive at path verifies and holds the same entries, byte
 * for byte, as the reference archive ref (written to a file in dir). */
static int same_archive_content(const char *path, const uint8_t *ref,
                                size_t ref_size, const char *dir) {
  char rpath[1100];
  snprintf(rpath, sizeof rpath, "%s/reference.alcm.ref", dir);
  if (rel_spit(rpath, ref, ref_size) != 0) return 0;
  alcm_reader *a = alcm_reader_create(NULL), *b = alcm_reader_create(NULL);
  int same = alcm_reader_open(a, path) == ALCM_OK &&
             alcm_reader_open(b, rpath) == ALCM_OK &&
             alcm_reader_verify(a, 0) == ALCM_OK &&
             alcm_reader_entry_count(a) == alcm_reader_entry_count(b);
  for (size_t i = 0; same && i < alcm_reader_entry_count(a); i++) {
    alcm_entry_info x, y;
    same = alcm_reader_entry(a, i, &x) == ALCM_OK &&
           alcm_reader_entry(b, i, &y) == ALCM_OK &&
           !strcmp(x.name, y.name) && x.raw_size == y.raw_size &&
           !memcmp(x.content_hash, y.content_hash, 16);
  }
  alcm_reader_close(a);
  alcm_reader_close(b);
  unlink(rpath);
  return same;
}

/* One run; @return 0 if every property held. */
static int run_once(const env *base, const scenario *sc, long fail_at,
                    failer *f, outcome *out, const uint8_t *ref,
                    size_t ref_size) {
  env e = *base;
  e.dir = rel_tmpdir("allocfail");
  memset(f, 0, sizeof *f);
  f->fail_at = fail_at;
  const alcm_allocator a = {fail_alloc, fail_free, f};
  memset(out, 0, sizeof *out);
  msgbuf[0] = '\0';
  current = f;
  out->st = sc->run(&e, &a, out);
  current = NULL;
  int bad = 0;
  char where[160];
  snprintf(where, sizeof where, "%s, allocation %ld of", sc->name, fail_at);
  if (atomic_load(&f->live) != 0) {
    printf("  FAIL %s: %ld blocks not freed after close\n", where,
           (long)atomic_load(&f->live));
    bad = 1;
  }
  if (out->st != ALCM_OK && !msgbuf[0] && out->st != ALCM_ERR_NOMEM) {
    printf("  FAIL %s: %s without a message\n", where,
           alcm_error_name(out->st));
    bad = 1;
  }
  /* A message part left empty (e.g. a parser's error text that was never
   * set because it ran out of memory first) says nothing. */
  if (out->st != ALCM_OK && strstr(msgbuf, ": :")) {
    printf("  FAIL %s: message with an empty part: %s\n", where, msgbuf);
    bad = 1;
  }
  if (out->target[0]) {
    const char *base_name = strrchr(out->target, '/') + 1;
    if (out->st != ALCM_OK && !rel_same(out->target, e.old_bytes, e.old_size)) {
      printf("  FAIL %s: failed (%s) but the previous target changed\n", where,
             alcm_error_name(out->st));
      bad = 1;
    }
    if (out->st == ALCM_OK && ref &&
        !rel_same(out->target, ref, ref_size)) {
      /* An archive may legitimately come out different when an optional
       * step (e.g. index compression) gave up for want of memory: it must
       * still be a valid archive with the same entries. Any other output
       * (a restored checkpoint) must be byte-exact. */
      if (!rel_ends_with(out->target, ".alcm") ||
          !same_archive_content(out->target, ref, ref_size, e.dir)) {
        printf("  FAIL %s: succeeded with a different output\n", where);
        bad = 1;
      } else {
        printf("  note %s: succeeded with different but valid archive bytes "
               "(an optional step gave up)\n", where);
      }
    }
    if (rel_extra_files(e.dir, base_name, where) != 0) bad = 1;
  }
  rel_rmtree(e.dir);
  free(e.dir);
  return bad;
}

static int run_scenario(const env *e, const scenario *sc, result *res) {
  failer f;
  outcome out;
  memset(res, 0, sizeof *res);
  /* Reference run: nothing fails; remember the output. */
  env keep = *e;
  keep.dir = rel_tmpdir("allocfail-ref");
  memset(&f, 0, sizeof f);
  const alcm_allocator a = {fail_alloc, fail_free, &f};
  current = &f;
  memset(&out, 0, sizeof out);
  const alcm_status st = sc->run(&keep, &a, &out);
  current = NULL;
  uint8_t *ref = NULL;
  size_t ref_size = 0;
  if (out.target[0]) ref = rel_slurp(out.target, &ref_size);
  rel_rmtree(keep.dir);
  free(keep.dir);
  if (st != ALCM_OK || atomic_load(&f.live) != 0) {
    printf("  FAIL %s: reference run: %s (%s), %ld blocks live\n", sc->name,
           alcm_error_name(st), msgbuf, (long)atomic_load(&f.live));
    free(ref);
    return 1;
  }
  res->allocs = atomic_load(&f.count);
  int bad = 0;
  for (long n = 1; n <= res->allocs + 1; n++) {
    bad |= run_once(e, sc, n, &f, &out, ref, ref_size);
    if (!atomic_load(&f.injected)) break; /* ran past the last allocation */
    res->runs++;
    if ((unsigned)out.st < ALCM_ERROR_COUNT_) {
      if (out.st != ALCM_ERR_NOMEM && !res->by_status[out.st])
        printf("  note %s, allocation %ld: %s: %s\n", sc->name, n,
               alcm_error_name(out.st), msgbuf);
      res->by_status[out.st]++;
    }
  }
  free(ref);
  return bad;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: rel_allocfail SOURCE-DIR [SCENARIO...]\n");
    return 64;
  }
  json_set_alloc_funcs(json_alloc, json_free);
  env e;
  memset(&e, 0, sizeof e);
  e.src = argv[1];
  char *work = rel_tmpdir("allocfail-in");
  make_inputs(&e, work);
  int bad = 0;
  long total_runs = 0;
  for (size_t i = 0; i < sizeof scenarios / sizeof *scenarios; i++) {
    int wanted = argc == 2;
    for (int k = 2; k < argc; k++) wanted |= !strcmp(argv[k], scenarios[i].name);
    if (!wanted) continue;
    result res;
    const int b = run_scenario(&e, &scenarios[i], &res);
    bad |= b;
    total_runs += res.runs;
    printf("%-20s %5ld allocations, %5ld failing runs, %s:", scenarios[i].name,
           res.allocs, res.runs, b ? "FAILED" : "ok");
    for (unsigned s = 0; s < ALCM_ERROR_COUNT_; s++)
      if (res.by_status[s])
        printf(" %s=%ld", alcm_error_name((alcm_status)s), res.by_status[s]);
    printf("\n");
  }
  rel_rmtree(work);
  free(work);
  free(e.old_bytes);
  printf("allocfail total: %ld failing runs, %s\n", total_runs,
         bad ? "FAILED" : "every run clean (status, no leak, target intact)");
  return bad;
}
