/*
 * test_safetensors.c - the safetensors importer rejects every malformed
 * header with a specific status, and a valid file round-trips byte-exact
 * through an archive (alcm_export_source).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alcm.h"
#include "internal.h" /* alcm_writer_lend_, for the deferred-read tests */
#include "test_util.h"

static char tmpdir[64];
static char in_path[128], out_path[128], back_path[128];

static void setup(void) {
  strcpy(tmpdir, "/tmp/alcm_st_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
  snprintf(in_path, sizeof in_path, "%s/in.safetensors", tmpdir);
  snprintf(out_path, sizeof out_path, "%s/out.alcm", tmpdir);
  snprintf(back_path, sizeof back_path, "%s/back.safetensors", tmpdir);
}

static void teardown(void) {
  unlink(in_path);
  unlink(out_path);
  unlink(back_path);
  rmdir(tmpdir);
}

TestSuite(safetensors, .init = setup, .fini = teardown);

/* u64 header length | header | data_size bytes of pattern; the length
 * field may be forced (len != 0) to test lying lengths. */
static void make_st(const char *json, size_t data_size, uint64_t len) {
  const size_t n = strlen(json);
  uint8_t *const buf = malloc(8 + n + data_size + 1);
  cr_assert_not_null(buf);
  const uint64_t l = len ? len : n;
  for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(l >> (8 * i));
  memcpy(buf + 8, json, n);
  for (size_t i = 0; i < data_size; i++) buf[8 + n + i] = (uint8_t)(i * 7 + 1);
  tu_write_file(in_path, buf, 8 + n + data_size);
  free(buf);
}

static alcm_status import_file(const char *path) {
  alcm_write_options opt;
  alcm_write_options_init(&opt);
  opt.overwrite = 1;
  alcm_writer *const w = alcm_writer_create(&opt);
  cr_assert_not_null(w);
  cr_assert_eq(alcm_writer_open(w, out_path), ALCM_OK, "%s",
               alcm_writer_message(w));
  const alcm_status s = alcm_import_safetensors(w, path, "in.safetensors");
  if (s != ALCM_OK) {
    const char *const m = alcm_writer_message(w);
    cr_log_info("%s", m);
    /* Every failure names the file. */
    cr_expect(strstr(m, path) != NULL, "message lacks the file: %s", m);
  }
  alcm_writer_close(w);
  return s;
}

static void expect_st(const char *json, size_t data_size, alcm_status want) {
  make_st(json, data_size, 0);
  const alcm_status got = import_file(in_path);
  cr_expect_eq(got, want, "%s: got %s, want %s", json, alcm_error_name(got),
               alcm_error_name(want));
}

/* ---- length field -------------------------------------------------------- */

Test(safetensors, shorter_than_length_field) {
  tu_write_file(in_path, "\x02\0\0", 3);
  cr_expect_eq(import_file(in_path), ALCM_ERR_TRUNCATED);
}

Test(safetensors, header_too_large) {
  make_st("{}", 0, 100000001u);
  cr_expect_eq(import_file(in_path), ALCM_ERR_LIMIT);
}

Test(safetensors, header_past_eof) {
  make_st("{}", 0, 3);
  cr_expect_eq(import_file(in_path), ALCM_ERR_TRUNCATED);
}

Test(safetensors, missing_file) {
  char p[160];
  snprintf(p, sizeof p, "%s/absent.safetensors", tmpdir);
  cr_expect_eq(import_file(p), ALCM_ERR_IO);
}

/* ---- header JSON ---------------------------------------------------------- */

Test(safetensors, empty_header) { expect_st("", 0, ALCM_ERR_INPUT); }
Test(safetensors, not_json) { expect_st("{nope", 0, ALCM_ERR_INPUT); }
Test(safetensors, not_object) { expect_st("[1, 2]", 0, ALCM_ERR_INPUT); }
Test(safetensors, leading_space) { expect_st(" {}", 0, ALCM_ERR_INPUT); }
Test(safetensors, trailing_garbage) { expect_st("{} x", 0, ALCM_ERR_INPUT); }
Test(safetensors, bad_utf8) {
  expect_st("{\"\xff\": {\"dtype\": \"U8\", \"shape\": [], "
            "\"data_offsets\": [0, 1]}}", 1, ALCM_ERR_INPUT);
}
Test(safetensors, duplicate_key) {
  expect_st("{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": "
            "[0, 1]}, \"a\": {\"dtype\": \"U8\", \"shape\": [1], "
            "\"data_offsets\": [1, 2]}}", 2, ALCM_ERR_DUPLICATE);
}
Test(safetensors, metadata_not_object) {
  expect_st("{\"__metadata__\": [\"x\"]}", 0, ALCM_ERR_INPUT);
}
Test(safetensors, metadata_value_not_string) {
  expect_st("{\"__metadata__\": {\"format\": 1}}", 0, ALCM_ERR_INPUT);
}

/* ---- tensor descriptions ------------------------------------------------- */

#define T1(body) "{\"t\": " body "}"

Test(safetensors, tensor_not_object) { expect_st(T1("[1]"), 0, ALCM_ERR_INPUT); }
Test(safetensors, unknown_dtype) {
  expect_st(T1("{\"dtype\": \"F128\", \"shape\": [1], \"data_offsets\": [0, 16]}"),
            16, ALCM_ERR_DTYPE_UNKNOWN);
}
Test(safetensors, dtype_not_string) {
  expect_st(T1("{\"dtype\": 12, \"shape\": [1], \"data_offsets\": [0, 4]}"), 4,
            ALCM_ERR_INPUT);
}
Test(safetensors, missing_key) {
  expect_st(T1("{\"dtype\": \"F32\", \"shape\": [1]}"), 4, ALCM_ERR_INPUT);
}
Test(safetensors, extra_key) {
  expect_st(T1("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4], "
               "\"x\": 0}"), 4, ALCM_ERR_INPUT);
}
Test(safetensors, negative_shape) {
  expect_st(T1("{\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}"),
            4, ALCM_ERR_INPUT);
}
Test(safetensors, float_shape) {
  expect_st(T1("{\"dtype\": \"F32\", \"shape\": [1.0], \"data_offsets\": [0, 4]}"),
            4, ALCM_ERR_INPUT);
}
Test(safetensors, shape_not_array) {
  expect_st(T1("{\"dtype\": \"F32\", \"shape\": 1, \"data_offsets\": [0, 4]}"), 4,
            ALCM_ERR_INPUT);
}
Test(safetensors, too_many_dims) {
  expect_st(T1("{\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
               "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 1]}"),
            1, ALCM_ERR_LIMIT);
}
Test(safetensors, numel_overflow) {
  expect_st(T1("{\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 16], "
               "\"data_offsets\": [0, 4]}"), 4, ALCM_ERR_OVERFLOW);
}
Test(safetensors, bytes_overflow) {
  expect_st(T1("{\"dtype\": \"F64\", \"shape\": [4611686018427387904], "
               "\"data_offsets\": [0, 8]}"), 8, ALCM_ERR_OVERFLOW);
}
Test(safetensors, offsets_one_value) {
  expect_st(T1("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}"), 4,
            ALCM_ERR_INPUT);
}
Test(safetensors, offsets_three_values) {
  expect_st(T1("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8]}"),
            4, ALCM_ERR_INPUT);
}
Test(safetensors, offsets_not_array) {
  expect_st(T1("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": 4}"), 4,
            ALCM_ERR_INPUT);
}
Test(safetensors, offsets_negative) {
  expect_st(T1("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}"),
            4, ALCM_ERR_INPUT);
}
Test(safetensors, offsets_end_before_begin) {
  expect_st(T1("{\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [4, 0]}"),
            4, ALCM_ERR_INPUT);
}
Test(safetensors, offsets_size_mismatch) {
  expect_st(T1("{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}"),
            4, ALCM_ERR_SIZE);
}

/* ---- data layout ------------------------------------------------------------ */

#define U8T(name, n, b, e)                                                    \
  "\"" name "\": {\"dtype\": \"U8\", \"shape\": [" #n "], "                  \
  "\"data_offsets\": [" #b ", " #e "]}"

Test(safetensors, offsets_not_from_zero) {
  expect_st("{" U8T("a", 4, 4, 8) "}", 8, ALCM_ERR_INPUT);
}
Test(safetensors, offsets_gap) {
  expect_st("{" U8T("a", 4, 0, 4) ", " U8T("b", 4, 8, 12) "}", 12,
            ALCM_ERR_INPUT);
}
Test(safetensors, offsets_overlap) {
  expect_st("{" U8T("a", 8, 0, 8) ", " U8T("b", 8, 4, 12) "}", 12,
            ALCM_ERR_INPUT);
}
Test(safetensors, data_shorter_than_header_says) {
  expect_st("{" U8T("a", 8, 0, 8) "}", 7, ALCM_ERR_SIZE);
}
Test(safetensors, data_longer_than_header_says) {
  expect_st("{" U8T("a", 8, 0, 8) "}", 9, ALCM_ERR_SIZE);
}

/* ---- valid files ------------------------------------------------------------ */

static alcm_reader *pack_and_open_threads(unsigned threads) {
  alcm_write_options opt;
  alcm_write_options_init(&opt);
  opt.overwrite = 1;
  opt.chunk_size = 4096;
  opt.threads = threads;
  alcm_writer *const w = alcm_writer_create(&opt);
  cr_assert_not_null(w);
  cr_assert_eq(alcm_writer_open(w, out_path), ALCM_OK);
  const alcm_status s = alcm_import_safetensors(w, in_path, "in.safetensors");
  cr_assert_eq(s, ALCM_OK, "%s", alcm_writer_message(w));
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "%s", alcm_writer_message(w));
  alcm_writer_close(w);
  alcm_reader *const r = alcm_reader_create(NULL);
  cr_assert_not_null(r);
  cr_assert_eq(alcm_reader_open(r, out_path), ALCM_OK, "%s",
               alcm_reader_message(r));
  return r;
}

static alcm_reader *pack_and_open(void) { return pack_and_open_threads(1); }

static void expect_restored(alcm_reader *r) {
  cr_assert_eq(alcm_export_source(r, 0, back_path, 0), ALCM_OK, "%s",
               alcm_reader_message(r));
  uint8_t *a, *b;
  size_t na, nb;
  tu_read_file(in_path, &a, &na);
  tu_read_file(back_path, &b, &nb);
  cr_expect_eq(na, nb);
  cr_expect(na == nb && memcmp(a, b, na) == 0, "restored bytes differ");
  free(a);
  free(b);
}

/* Header order differs from data order; a zero-size tensor; metadata;
 * the space padding the format allows. */
Test(safetensors, round_trip_byte_exact) {
  make_st("{\"__metadata__\": {\"format\": \"pt\"}, "
          "\"b\": {\"dtype\": \"F32\", \"shape\": [2, 3], "
          "\"data_offsets\": [8, 32]}, "
          "\"empty\": {\"dtype\": \"BF16\", \"shape\": [0, 5], "
          "\"data_offsets\": [32, 32]}, "
          "\"a\": {\"dtype\": \"I16\", \"shape\": [4], "
          "\"data_offsets\": [0, 8]}}      ", 32, 0);
  alcm_reader *const r = pack_and_open();
  cr_assert_eq(alcm_reader_source_count(r), 1);
  alcm_source_info src;
  cr_assert_eq(alcm_reader_source(r, 0, &src), ALCM_OK);
  cr_expect_eq(src.format, ALCM_SOURCE_SAFETENSORS);
  cr_expect_str_eq(src.path, "in.safetensors");
  cr_assert_eq(alcm_reader_entry_count(r), 3);
  /* Entries follow the data order. */
  static const char *const order[] = {"a", "b", "empty"};
  for (size_t i = 0; i < 3; i++) {
    alcm_entry_info e;
    cr_assert_eq(alcm_reader_entry(r, i, &e), ALCM_OK);
    cr_expect_str_eq(e.name, order[i]);
    cr_expect_eq(e.source, 0);
  }
  size_t i;
  cr_assert_eq(alcm_reader_find(r, "b", &i), ALCM_OK);
  alcm_entry_info e;
  cr_assert_eq(alcm_reader_entry(r, i, &e), ALCM_OK);
  cr_expect_eq(e.dtype, ALCM_DTYPE_F32);
  cr_expect_eq(e.ndim, 2);
  cr_expect_eq(e.shape[0], 2);
  cr_expect_eq(e.shape[1], 3);
  cr_expect_eq(e.raw_size, 24);
  expect_restored(r);
  /* No overwrite: the existing target is refused. */
  cr_expect_eq(alcm_export_source(r, 0, back_path, 0), ALCM_ERR_EXISTS);
  cr_expect_eq(alcm_export_source(r, 0, back_path, 1), ALCM_OK);
  alcm_reader_close(r);
}

Test(safetensors, no_tensors) {
  make_st("{}", 0, 0);
  alcm_reader *const r = pack_and_open();
  cr_expect_eq(alcm_reader_entry_count(r), 0);
  expect_restored(r);
  alcm_reader_close(r);
}

/* More than one 4 MiB read piece and many chunks. */
Test(safetensors, large_tensor_streams) {
  make_st("{\"big\": {\"dtype\": \"F32\", \"shape\": [1310721], "
          "\"data_offsets\": [0, 5242884]}}", 5242884, 0);
  alcm_reader *const r = pack_and_open();
  expect_restored(r);
  alcm_reader_close(r);
}

/* Tensors of up to one chunk are read and hashed by the pool task that
 * encodes them (alcm_writer_lend_), larger ones as they are given: the
 * archive is the same for 1 and 2 threads, every content hash checks,
 * and the source restores exactly. */
Test(safetensors, whole_chunk_tensors_read_in_tasks) {
  make_st("{" U8T("a", 100, 0, 100) ", " U8T("big", 10000, 100, 10100)
          ", " U8T("c", 4096, 10100, 14196) ", " U8T("e", 0, 14196, 14196)
          ", " U8T("d", 1, 14196, 14197) "}", 14197, 0);
  char one[160];
  snprintf(one, sizeof one, "%s/one.alcm", tmpdir);
  for (unsigned threads = 1; threads <= 2; threads++) {
    alcm_reader *const r = pack_and_open_threads(threads);
    cr_expect_eq(alcm_reader_verify(r, 0), ALCM_OK, "%u threads: %s",
                 threads, alcm_reader_message(r));
    expect_restored(r);
    alcm_reader_close(r);
    unlink(back_path);
    if (threads == 1) {
      cr_assert_eq(rename(out_path, one), 0);
      continue;
    }
    uint8_t *a, *b;
    size_t na, nb;
    tu_read_file(one, &a, &na);
    tu_read_file(out_path, &b, &nb);
    cr_expect(na == nb && memcmp(a, b, na) == 0,
              "2-thread archive differs from the 1-thread one");
    free(a);
    free(b);
  }
  unlink(one);
}

/* Tensors given whole from a lent file of 12000 bytes, which then shrinks
 * to keep bytes: the release, which writes their frames, fails naming the
 * entry 'late' and its offset; nothing is written. */
typedef struct {
  const char *name;
  uint64_t offset, size;
} given;

static void deferred_failure(const given *g, size_t n, int keep) {
  uint8_t data[12000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 13);
  tu_write_file(in_path, data, sizeof data);
  alcm_write_options opt;
  alcm_write_options_init(&opt);
  opt.overwrite = 1;
  opt.threads = 2;
  alcm_writer *const w = alcm_writer_create(&opt);
  cr_assert_not_null(w);
  cr_assert_eq(alcm_writer_open(w, out_path), ALCM_OK);
  alcm_infile in;
  cr_assert_eq(alcm_infile_open(&in, in_path, alcm_writer_msg_(w)), ALCM_OK);
  alcm_writer_lend_(w, &in);
  for (size_t k = 0; k < n; k++) {
    cr_assert_eq(alcm_writer_begin_tensor(w, g[k].name, ALCM_DTYPE_U8, 1,
                                          &g[k].size, 0),
                 ALCM_OK);
    cr_assert_eq(alcm_writer_write_from_(w, &in, g[k].offset, g[k].size),
                 ALCM_OK);
    cr_assert_eq(alcm_writer_end(w), ALCM_OK);
  }
  cr_assert_eq(truncate(in_path, keep), 0);
  const alcm_status s = alcm_import_release_(w, &in, in_path, ALCM_OK);
  cr_expect_eq(s, ALCM_ERR_TRUNCATED, "got %s", alcm_error_name(s));
  const char *const m = alcm_writer_message(w);
  cr_log_info("%s", m);
  cr_expect(strstr(m, in_path) && strstr(m, "entry 'late'") &&
                strstr(m, "offset 1000"),
            "message: %s", m);
  cr_expect_neq(alcm_writer_finish(w), ALCM_OK);
  alcm_infile_close(&in);
  alcm_writer_close(w);
  cr_expect_neq(access(out_path, F_OK), 0, "a target was written");
}

/* A tensor above the bundled size, read by the pool task that encodes it. */
Test(safetensors, deferred_read_failure_names_the_entry) {
  const given g[] = {{"late", 1000, 10000}};
  deferred_failure(g, 1, 5000);
}

/* Small tensors, read by the task that encodes their bundle (format 1.4):
 * the release closes the bundle, and the failure names the entry that
 * could not be read, not the bundle's first. */
Test(safetensors, deferred_bundle_read_failure_names_the_entry) {
  const given g[] = {{"early", 0, 500}, {"late", 1000, 1500}};
  deferred_failure(g, 2, 1500);
}

Test(safetensors, null_arguments) {
  cr_expect_eq(alcm_import_safetensors(NULL, in_path, "x"), ALCM_ERR_ARGUMENT);
  alcm_writer *const w = alcm_writer_create(NULL);
  cr_expect_eq(alcm_import_safetensors(w, NULL, "x"), ALCM_ERR_ARGUMENT);
  cr_expect_eq(alcm_import_safetensors(w, in_path, NULL), ALCM_ERR_ARGUMENT);
  alcm_writer_close(w);
  cr_expect_eq(alcm_export_source(NULL, 0, back_path, 0), ALCM_ERR_ARGUMENT);
}
