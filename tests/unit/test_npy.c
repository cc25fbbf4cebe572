/*
 * test_npy.c - the .npy importer rejects every malformed preamble with a
 * specific status; valid files round-trip byte-exact (alcm_export_source)
 * and alcm_export_npy writes what numpy.save writes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alcm.h"
#include "test_util.h"

static char tmpdir[64];
static char in_path[128], out_path[128], back_path[128];

static void setup(void) {
  strcpy(tmpdir, "/tmp/alcm_npy_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
  snprintf(in_path, sizeof in_path, "%s/in.npy", tmpdir);
  snprintf(out_path, sizeof out_path, "%s/out.alcm", tmpdir);
  snprintf(back_path, sizeof back_path, "%s/back.npy", tmpdir);
}

static void teardown(void) {
  unlink(in_path);
  unlink(out_path);
  unlink(back_path);
  rmdir(tmpdir);
}

TestSuite(npy, .init = setup, .fini = teardown);

/* magic | major.minor | length | dict padded as numpy pads it | data.
 * hlen_override != 0 forces the length field. */
static size_t make_npy_v(unsigned major, unsigned minor, const char *dict,
                         size_t data_size, uint32_t hlen_override) {
  const size_t prefix = major == 1 ? 10 : 12;
  const size_t n = strlen(dict);
  const size_t total = prefix + n + 1;
  const size_t hlen = n + 1 + (64 - total % 64) % 64;
  uint8_t *const buf = malloc(prefix + hlen + data_size + 1);
  cr_assert_not_null(buf);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (uint8_t)major;
  buf[7] = (uint8_t)minor;
  const uint32_t field = hlen_override ? hlen_override : (uint32_t)hlen;
  buf[8] = (uint8_t)field;
  buf[9] = (uint8_t)(field >> 8);
  if (prefix == 12) {
    buf[10] = (uint8_t)(field >> 16);
    buf[11] = (uint8_t)(field >> 24);
  }
  memcpy(buf + prefix, dict, n);
  memset(buf + prefix + n, ' ', hlen - n - 1);
  buf[prefix + hlen - 1] = '\n';
  for (size_t i = 0; i < data_size; i++)
    buf[prefix + hlen + i] = (uint8_t)(i * 13 + 5);
  tu_write_file(in_path, buf, prefix + hlen + data_size);
  free(buf);
  return prefix + hlen + data_size;
}

static void make_npy(const char *dict, size_t data_size) {
  make_npy_v(1, 0, dict, data_size, 0);
}

static alcm_status import_file(void) {
  alcm_write_options opt;
  alcm_write_options_init(&opt);
  opt.overwrite = 1;
  alcm_writer *const w = alcm_writer_create(&opt);
  cr_assert_not_null(w);
  cr_assert_eq(alcm_writer_open(w, out_path), ALCM_OK, "%s",
               alcm_writer_message(w));
  const alcm_status s = alcm_import_npy(w, in_path, "in.npy", "in");
  if (s != ALCM_OK) {
    const char *const m = alcm_writer_message(w);
    cr_log_info("%s", m);
    cr_expect(strstr(m, in_path) != NULL, "message lacks the file: %s", m);
  }
  alcm_writer_close(w);
  return s;
}

static void expect_npy(const char *dict, size_t data_size, alcm_status want) {
  make_npy(dict, data_size);
  const alcm_status got = import_file();
  cr_expect_eq(got, want, "%s: got %s, want %s", dict, alcm_error_name(got),
               alcm_error_name(want));
}

#define DICT(descr, fortran, shape)                                           \
  "{'descr': '" descr "', 'fortran_order': " fortran ", 'shape': " shape ", }"

/* ---- prefix ---------------------------------------------------------------- */

Test(npy, bad_magic) {
  tu_write_file(in_path, "\x93NUMPX\x01\x00\x10\x00{}              \n", 26);
  cr_expect_eq(import_file(), ALCM_ERR_INPUT);
}

Test(npy, not_npy_at_all) {
  tu_write_file(in_path, "PK\x03\x04", 4);
  cr_expect_eq(import_file(), ALCM_ERR_INPUT);
}

Test(npy, too_short) {
  tu_write_file(in_path, "\x93NUMPY\x01", 7);
  cr_expect_eq(import_file(), ALCM_ERR_TRUNCATED);
}

Test(npy, empty_file) {
  tu_write_file(in_path, "", 0);
  cr_expect_eq(import_file(), ALCM_ERR_TRUNCATED);
}

Test(npy, length_field_cut) {
  tu_write_file(in_path, "\x93NUMPY\x02\x00\x10\x00", 10);
  cr_expect_eq(import_file(), ALCM_ERR_TRUNCATED);
}

Test(npy, bad_major_version) {
  make_npy_v(4, 0, DICT("<f4", "False", "(1,)"), 4, 0);
  cr_expect_eq(import_file(), ALCM_ERR_VERSION);
}

Test(npy, bad_minor_version) {
  make_npy_v(1, 1, DICT("<f4", "False", "(1,)"), 4, 0);
  cr_expect_eq(import_file(), ALCM_ERR_VERSION);
}

Test(npy, version_zero) {
  make_npy_v(0, 0, DICT("<f4", "False", "(1,)"), 4, 0);
  cr_expect_eq(import_file(), ALCM_ERR_VERSION);
}

Test(npy, header_over_cap) {
  make_npy_v(2, 0, DICT("<f4", "False", "(1,)"), 4, (1u << 20) + 1);
  cr_expect_eq(import_file(), ALCM_ERR_LIMIT);
}

Test(npy, header_past_eof) {
  make_npy_v(1, 0, DICT("<f4", "False", "(1,)"), 0, 4000);
  cr_expect_eq(import_file(), ALCM_ERR_TRUNCATED);
}

/* ---- header dict ------------------------------------------------------------ */

Test(npy, object_dtype) { expect_npy(DICT("|O", "False", "(2,)"), 16, ALCM_ERR_INPUT); }
Test(npy, unicode_dtype) { expect_npy(DICT("<U5", "False", "(1,)"), 20, ALCM_ERR_INPUT); }
Test(npy, complex_dtype) { expect_npy(DICT("<c8", "False", "(1,)"), 8, ALCM_ERR_INPUT); }
Test(npy, native_order_dtype) { expect_npy(DICT("=f4", "False", "(1,)"), 4, ALCM_ERR_INPUT); }
Test(npy, pipe_on_multibyte) { expect_npy(DICT("|f4", "False", "(1,)"), 4, ALCM_ERR_INPUT); }
Test(npy, structured_dtype) {
  expect_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
             4, ALCM_ERR_INPUT);
}
Test(npy, not_a_dict) { expect_npy("['descr', '<f4']", 4, ALCM_ERR_INPUT); }
Test(npy, missing_key) {
  expect_npy("{'descr': '<f4', 'shape': (1,), }", 4, ALCM_ERR_INPUT);
}
Test(npy, extra_key) {
  expect_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), "
             "'x': 1, }", 4, ALCM_ERR_INPUT);
}
Test(npy, duplicate_key) {
  expect_npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
             "'shape': (1,), }", 4, ALCM_ERR_DUPLICATE);
}
Test(npy, fortran_not_bool) { expect_npy(DICT("<f4", "1", "(1,)"), 4, ALCM_ERR_INPUT); }
Test(npy, shape_not_tuple) { expect_npy(DICT("<f4", "False", "[1]"), 4, ALCM_ERR_INPUT); }
Test(npy, shape_parenthesized_int) { expect_npy(DICT("<f4", "False", "(1)"), 4, ALCM_ERR_INPUT); }
Test(npy, shape_negative) { expect_npy(DICT("<f4", "False", "(-1,)"), 4, ALCM_ERR_INPUT); }
Test(npy, shape_float) { expect_npy(DICT("<f4", "False", "(1.0,)"), 4, ALCM_ERR_INPUT); }
Test(npy, shape_leading_zero) { expect_npy(DICT("<f4", "False", "(01,)"), 4, ALCM_ERR_INPUT); }
Test(npy, shape_dim_overflow) {
  expect_npy(DICT("<f4", "False", "(18446744073709551616,)"), 4, ALCM_ERR_OVERFLOW);
}
Test(npy, shape_numel_overflow) {
  expect_npy(DICT("<f4", "False", "(4294967296, 4294967296, 16)"), 4,
             ALCM_ERR_OVERFLOW);
}
Test(npy, too_many_dims) {
  expect_npy(DICT("|u1", "False", "(1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
                  "1,1,1,1,1,1,1,1,1,1,1,1)"), 1, ALCM_ERR_LIMIT);
}
Test(npy, text_after_dict) {
  expect_npy(DICT("<f4", "False", "(1,)") " x", 4, ALCM_ERR_INPUT);
}
Test(npy, unterminated_string) {
  expect_npy("{'descr: '<f4', 'fortran_order': False, 'shape': (1,), }", 4,
             ALCM_ERR_INPUT);
}
Test(npy, escaped_string) {
  expect_npy("{'descr': '<f\\4', 'fortran_order': False, 'shape': (1,), }", 4,
             ALCM_ERR_INPUT);
}

/* ---- data size ---------------------------------------------------------------- */

Test(npy, truncated_data) { expect_npy(DICT("<f4", "False", "(2, 3)"), 23, ALCM_ERR_SIZE); }
Test(npy, trailing_data) { expect_npy(DICT("<f4", "False", "(2, 3)"), 25, ALCM_ERR_SIZE); }

/* ---- valid files ---------------------------------------------------------------- */

static alcm_reader *pack_and_open(const char *name) {
  alcm_write_options opt;
  alcm_write_options_init(&opt);
  opt.overwrite = 1;
  alcm_writer *const w = alcm_writer_create(&opt);
  cr_assert_not_null(w);
  cr_assert_eq(alcm_writer_open(w, out_path), ALCM_OK);
  const alcm_status s = alcm_import_npy(w, in_path, "in.npy", name);
  cr_assert_eq(s, ALCM_OK, "%s", alcm_writer_message(w));
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "%s", alcm_writer_message(w));
  alcm_writer_close(w);
  alcm_reader *const r = alcm_reader_create(NULL);
  cr_assert_not_null(r);
  cr_assert_eq(alcm_reader_open(r, out_path), ALCM_OK, "%s",
               alcm_reader_message(r));
  return r;
}

static void expect_same_files(const char *x, const char *y) {
  uint8_t *a, *b;
  size_t na, nb;
  tu_read_file(x, &a, &na);
  tu_read_file(y, &b, &nb);
  cr_expect_eq(na, nb, "%zu vs %zu bytes", na, nb);
  cr_expect(na == nb && memcmp(a, b, na) == 0, "files differ");
  free(a);
  free(b);
}

static void round_trip(unsigned major, const char *dict, size_t data_size,
                       int dtype, unsigned flags, unsigned ndim) {
  make_npy_v(major, 0, dict, data_size, 0);
  alcm_reader *const r = pack_and_open("t/x");
  alcm_source_info src;
  cr_assert_eq(alcm_reader_source(r, 0, &src), ALCM_OK);
  cr_expect_eq(src.format, ALCM_SOURCE_NPY);
  alcm_entry_info e;
  cr_assert_eq(alcm_reader_entry(r, 0, &e), ALCM_OK);
  cr_expect_str_eq(e.name, "t/x");
  cr_expect_eq(e.dtype, dtype);
  cr_expect_eq(e.flags & ALCM_ENTRY_FLAGS_KNOWN, flags);
  cr_expect_eq(e.ndim, ndim);
  cr_expect_eq(e.raw_size, data_size);
  cr_assert_eq(alcm_export_source(r, 0, back_path, 0), ALCM_OK, "%s",
               alcm_reader_message(r));
  expect_same_files(in_path, back_path);
  alcm_reader_close(r);
}

Test(npy, round_trip_f4) {
  round_trip(1, DICT("<f4", "False", "(2, 3)"), 24, ALCM_DTYPE_F32, 0, 2);
}
Test(npy, round_trip_big_endian_fortran) {
  round_trip(1, DICT(">i2", "True", "(2, 3)"), 12, ALCM_DTYPE_I16,
             ALCM_ENTRY_FLAG_BIG_ENDIAN | ALCM_ENTRY_FLAG_FORTRAN_ORDER, 2);
}
Test(npy, round_trip_bool_scalar) {
  round_trip(1, DICT("|b1", "False", "()"), 1, ALCM_DTYPE_BOOL, 0, 0);
}
Test(npy, round_trip_v2_double_quotes) {
  round_trip(2, "{\"descr\": \"<f8\", \"fortran_order\": False, "
             "\"shape\": (3,)}", 24, ALCM_DTYPE_F64, 0, 1);
}
Test(npy, v3_long_suffix_rejected) {
  /* 'L' suffixes are Python 2 (format 1.0/2.0 only). */
  make_npy_v(3, 0, DICT("<i8", "False", "(2L,)"), 16, 0);
  cr_expect_eq(import_file(), ALCM_ERR_INPUT);
}
Test(npy, round_trip_v1_long_suffix) {
  round_trip(1, DICT("<i8", "False", "(2L,)"), 16, ALCM_DTYPE_I64, 0, 1);
}
Test(npy, round_trip_empty) {
  round_trip(1, DICT("<u4", "False", "(0, 7)"), 0, ALCM_DTYPE_U32, 0, 2);
}

/* What numpy 1.24 numpy.save writes (captured from it): the export must
 * produce the same bytes. */
static void expect_numpy_header(const char *dict, size_t data_size) {
  make_npy(dict, data_size);
  alcm_reader *const r = pack_and_open("x");
  cr_assert_eq(alcm_export_npy(r, 0, back_path, 0), ALCM_OK, "%s",
               alcm_reader_message(r));
  alcm_reader_close(r);
  expect_same_files(in_path, back_path);
}

Test(npy, export_matches_numpy_save) {
  /* numpy adds 21 - len(str(shape[0 or -1])) spaces after the dict; the
   * padding to 64 then absorbs them, so the files equal make_npy's. */
  expect_numpy_header(DICT("<f4", "False", "(2, 3)"), 24);
}
Test(npy, export_matches_numpy_save_fortran_be) {
  expect_numpy_header(DICT(">i2", "True", "(2, 3)"), 12);
}
Test(npy, export_matches_numpy_save_scalar) {
  expect_numpy_header(DICT("|b1", "False", "()"), 1);
}
Test(npy, export_matches_numpy_save_1d) {
  expect_numpy_header(DICT("|u1", "False", "(5,)"), 5);
}

Test(npy, export_bf16_unsupported) {
  alcm_write_options opt;
  alcm_write_options_init(&opt);
  opt.overwrite = 1;
  alcm_writer *const w = alcm_writer_create(&opt);
  cr_assert_eq(alcm_writer_open(w, out_path), ALCM_OK);
  const uint64_t shape[1] = {2};
  const uint16_t v[2] = {0x3f80, 0x4000};
  cr_assert_eq(alcm_writer_add_tensor(w, "h", ALCM_DTYPE_BF16, 1, shape, v,
                                      sizeof v), ALCM_OK);
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK);
  alcm_writer_close(w);
  alcm_reader *const r = alcm_reader_create(NULL);
  cr_assert_eq(alcm_reader_open(r, out_path), ALCM_OK);
  cr_expect_eq(alcm_export_npy(r, 0, back_path, 0), ALCM_ERR_UNSUPPORTED);
  cr_expect(strstr(alcm_reader_message(r), "safetensors") != NULL, "%s",
            alcm_reader_message(r));
  cr_expect_eq(access(back_path, F_OK), -1, "no partial output");
  alcm_reader_close(r);
}

Test(npy, null_arguments) {
  cr_expect_eq(alcm_import_npy(NULL, in_path, "x", "x"), ALCM_ERR_ARGUMENT);
  alcm_writer *const w = alcm_writer_create(NULL);
  cr_expect_eq(alcm_import_npy(w, in_path, "x", NULL), ALCM_ERR_ARGUMENT);
  alcm_writer_close(w);
  cr_expect_eq(alcm_export_npy(NULL, 0, back_path, 0), ALCM_ERR_ARGUMENT);
}
