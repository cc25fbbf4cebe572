/*
 * test_reader.c - API-level error paths of the writer and the reader:
 * misuse gives the documented status and a message, leaves no temporary
 * file behind, and never touches an existing target.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* ---- scratch folder ----------------------------------------------------- */

static char g_dir[256];

static void setup(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/alcm-rd-XXXXXX");
  cr_assert(mkdtemp(g_dir), "mkdtemp");
}

static void teardown(void) {
  DIR *const d = opendir(g_dir);
  if (!d) return;
  const struct dirent *e;
  char p[600];
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(g_dir);
}

TestSuite(writer, .init = setup, .fini = teardown);
TestSuite(reader, .init = setup, .fini = teardown);

static void path_of(char *out, size_t cap, const char *file) {
  snprintf(out, cap, "%s/%s", g_dir, file);
}

/* Names in the scratch folder other than "." and "..", joined by ' '. */
static int list_dir(char *out, size_t cap) {
  DIR *const d = opendir(g_dir);
  cr_assert(d);
  int n = 0;
  out[0] = '\0';
  const struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    n++;
    strncat(out, e->d_name, cap - strlen(out) - 2);
    strncat(out, " ", cap - strlen(out) - 1);
  }
  closedir(d);
  return n;
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *const f = fopen(path, "wb");
  cr_assert(f);
  cr_assert_eq(fwrite(p, 1, n, f), n);
  fclose(f);
}

static size_t read_file(const char *path, void *p, size_t cap) {
  FILE *const f = fopen(path, "rb");
  cr_assert(f);
  const size_t n = fread(p, 1, cap, f);
  fclose(f);
  return n;
}

static alcm_writer *open_writer(const char *file, int overwrite) {
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.chunk_size = 4096;
  o.overwrite = overwrite;
  alcm_writer *const w = alcm_writer_create(&o);
  cr_assert(w);
  char p[512];
  path_of(p, sizeof p, file);
  cr_assert_eq(alcm_writer_open(w, p), ALCM_OK, "%s", alcm_writer_message(w));
  return w;
}

static void expect_msg(const alcm_writer *w) {
  cr_expect_neq(alcm_writer_message(w)[0], '\0', "empty writer message");
}

/* A small valid archive with tensors "a" (3 chunks) and "b". */
static void make_archive(const char *file) {
  alcm_writer *const w = open_writer(file, 0);
  static float a[3000];
  for (int i = 0; i < 3000; i++) a[i] = (float)i * 0.5f;
  const uint64_t sa[1] = {3000}, sb[1] = {4};
  cr_assert_eq(alcm_writer_add_tensor(w, "a", ALCM_DTYPE_F32, 1, sa, a,
                                      sizeof a),
               ALCM_OK);
  const int32_t b[4] = {1, 2, 3, 4};
  cr_assert_eq(alcm_writer_add_tensor(w, "b", ALCM_DTYPE_I32, 1, sb, b,
                                      sizeof b),
               ALCM_OK);
  cr_assert_eq(alcm_writer_set_meta_string(w, "user.x", "y"), ALCM_OK);
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "%s", alcm_writer_message(w));
  alcm_writer_close(w);
}

/* ---- writer ------------------------------------------------------------- */

Test(writer, write_without_begin_is_a_state_error) {
  alcm_writer *const w = open_writer("x.alcm", 0);
  cr_assert_eq(alcm_writer_write(w, "abc", 3), ALCM_ERR_STATE);
  expect_msg(w);
  cr_assert_eq(alcm_writer_end(w), ALCM_ERR_STATE);
  alcm_writer_close(w);
}

Test(writer, calls_before_open_are_state_errors) {
  alcm_writer *const w = alcm_writer_create(NULL);
  cr_assert(w);
  const uint64_t s[1] = {1};
  cr_assert_eq(alcm_writer_begin_tensor(w, "t", ALCM_DTYPE_U8, 1, s, 0),
               ALCM_ERR_STATE);
  cr_assert_eq(alcm_writer_finish(w), ALCM_ERR_STATE);
  alcm_writer_close(w);
}

Test(writer, end_with_missing_bytes_is_a_size_error) {
  alcm_writer *const w = open_writer("x.alcm", 0);
  const uint64_t s[1] = {10};
  cr_assert_eq(alcm_writer_begin_tensor(w, "t", ALCM_DTYPE_F32, 1, s, 0),
               ALCM_OK);
  cr_assert_eq(alcm_writer_write(w, "0123456789", 10), ALCM_OK);
  cr_assert_eq(alcm_writer_end(w), ALCM_ERR_SIZE);
  expect_msg(w);
  alcm_writer_close(w);
}

Test(writer, too_many_bytes_is_a_size_error) {
  alcm_writer *const w = open_writer("x.alcm", 0);
  const uint64_t s[1] = {2};
  cr_assert_eq(alcm_writer_begin_tensor(w, "t", ALCM_DTYPE_U8, 1, s, 0),
               ALCM_OK);
  cr_assert_eq(alcm_writer_write(w, "abc", 3), ALCM_ERR_SIZE);
  expect_msg(w);
  alcm_writer_close(w);
}

Test(writer, add_tensor_with_wrong_size) {
  alcm_writer *w = open_writer("x.alcm", 0);
  const uint64_t s[1] = {2};
  cr_assert_eq(alcm_writer_add_tensor(w, "u", ALCM_DTYPE_U8, 1, s, "abc", 3),
               ALCM_ERR_SIZE);
  expect_msg(w);
  alcm_writer_close(w);
  w = open_writer("y.alcm", 0);
  cr_assert_eq(alcm_writer_add_tensor(w, "u", ALCM_DTYPE_U8, 1, s, "a", 1),
               ALCM_ERR_SIZE);
  alcm_writer_close(w);
}

Test(writer, duplicate_name) {
  alcm_writer *const w = open_writer("x.alcm", 0);
  const uint64_t s[1] = {1};
  cr_assert_eq(alcm_writer_add_tensor(w, "t", ALCM_DTYPE_U8, 1, s, "a", 1),
               ALCM_OK);
  cr_assert_eq(alcm_writer_add_tensor(w, "t", ALCM_DTYPE_U8, 1, s, "a", 1),
               ALCM_ERR_DUPLICATE);
  expect_msg(w);
  /* Tensors and blobs share one namespace. */
  cr_assert_eq(alcm_writer_begin_blob(w, "t"), ALCM_ERR_DUPLICATE);
  /* Setting a metadata key again replaces its value (writer.c); the
   * archive still holds each key once. */
  cr_assert_eq(alcm_writer_set_meta_string(w, "k", "1"), ALCM_OK);
  cr_assert_eq(alcm_writer_set_meta_string(w, "k", "22"), ALCM_OK);
  /* The writer still finishes after refused calls. */
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK, "%s", alcm_writer_message(w));
  alcm_writer_close(w);
  char p[512];
  path_of(p, sizeof p, "x.alcm");
  alcm_reader *const r = alcm_reader_create(NULL);
  cr_assert_eq(alcm_reader_open(r, p), ALCM_OK, "%s", alcm_reader_message(r));
  cr_assert_eq(alcm_reader_meta_count(r), 1);
  alcm_meta_info mi;
  cr_assert_eq(alcm_reader_find_meta(r, "k", &mi), ALCM_OK);
  cr_assert_eq(mi.size, 2);
  cr_assert(memcmp(mi.value, "22", 2) == 0);
  alcm_reader_close(r);
}

Test(writer, bad_names) {
  alcm_writer *const w = open_writer("x.alcm", 0);
  const uint64_t s[1] = {1};
  cr_assert_eq(alcm_writer_add_tensor(w, "", ALCM_DTYPE_U8, 1, s, "a", 1),
               ALCM_ERR_NAME);
  expect_msg(w);
  cr_assert_eq(alcm_writer_add_tensor(w, "bad\xff", ALCM_DTYPE_U8, 1, s, "a",
                                      1),
               ALCM_ERR_NAME);
  cr_assert_eq(alcm_writer_add_tensor(w, "tab\there", ALCM_DTYPE_U8, 1, s,
                                      "a", 1),
               ALCM_ERR_NAME);
  static char longname[ALCM_MAX_NAME + 2];
  memset(longname, 'n', ALCM_MAX_NAME + 1);
  cr_assert_eq(alcm_writer_add_tensor(w, longname, ALCM_DTYPE_U8, 1, s, "a",
                                      1),
               ALCM_ERR_NAME);
  const char *const bad_paths[] = {"../evil", "/abs", "a//b", "a/./b",
                                   "a\\b", "C:x", "a/"};
  for (size_t i = 0; i < sizeof bad_paths / sizeof *bad_paths; i++)
    cr_assert_eq(alcm_writer_begin_blob(w, bad_paths[i]), ALCM_ERR_NAME,
                 "blob '%s'", bad_paths[i]);
  cr_assert_eq(alcm_writer_add_source(w, ALCM_SOURCE_FILE, "../x", NULL, 0,
                                      NULL),
               ALCM_ERR_NAME);
  cr_assert_eq(alcm_writer_set_meta_string(w, "", "v"), ALCM_ERR_NAME);
  alcm_writer_close(w);
}

Test(writer, bad_dtype) {
  alcm_writer *const w = open_writer("x.alcm", 0);
  const uint64_t s[1] = {1};
  cr_assert_eq(alcm_writer_begin_tensor(w, "t", 0, 1, s, 0),
               ALCM_ERR_DTYPE_UNKNOWN);
  expect_msg(w);
  cr_assert_eq(alcm_writer_begin_tensor(w, "t", ALCM_DTYPE_MAX + 1, 1, s, 0),
               ALCM_ERR_DTYPE_UNKNOWN);
  cr_assert_eq(alcm_writer_begin_tensor(w, "t", 99, 1, s, 0),
               ALCM_ERR_DTYPE_UNKNOWN);
  alcm_writer_close(w);
}

Test(writer, existing_target_without_overwrite) {
  char p[512], listing[1024];
  path_of(p, sizeof p, "keep.alcm");
  write_file(p, "precious", 8);
  alcm_writer *const w = alcm_writer_create(NULL);
  cr_assert_eq(alcm_writer_open(w, p), ALCM_ERR_EXISTS);
  expect_msg(w);
  alcm_writer_close(w);
  char buf[64];
  cr_assert_eq(read_file(p, buf, sizeof buf), 8);
  cr_assert(memcmp(buf, "precious", 8) == 0);
  cr_assert_eq(list_dir(listing, sizeof listing), 1, "left behind: %s",
               listing);
}

Test(writer, close_without_finish_leaves_no_trace) {
  char p[512], listing[1024];
  path_of(p, sizeof p, "target.alcm");
  write_file(p, "old contents", 12);
  alcm_writer *const w = open_writer("target.alcm", 1);
  const uint64_t s[1] = {5000};
  static uint8_t d[5000];
  cr_assert_eq(alcm_writer_add_tensor(w, "t", ALCM_DTYPE_U8, 1, s, d, 5000),
               ALCM_OK);
  alcm_writer_close(w);
  char buf[64];
  cr_assert_eq(read_file(p, buf, sizeof buf), 12);
  cr_assert(memcmp(buf, "old contents", 12) == 0);
  cr_assert_eq(list_dir(listing, sizeof listing), 1, "left behind: %s",
               listing);
}

Test(writer, close_without_finish_and_no_target) {
  char listing[1024];
  alcm_writer *const w = open_writer("new.alcm", 0);
  cr_assert_eq(alcm_writer_begin_blob(w, "b"), ALCM_OK);
  cr_assert_eq(alcm_writer_write(w, "xyz", 3), ALCM_OK);
  alcm_writer_close(w); /* mid-entry */
  cr_assert_eq(list_dir(listing, sizeof listing), 0, "left behind: %s",
               listing);
}

Test(writer, failed_finish_leaves_no_trace) {
  char listing[1024];
  alcm_writer *const w = open_writer("new.alcm", 0);
  const uint64_t s[1] = {8};
  cr_assert_eq(alcm_writer_begin_tensor(w, "t", ALCM_DTYPE_U8, 1, s, 0),
               ALCM_OK);
  cr_assert_eq(alcm_writer_write(w, "abc", 3), ALCM_OK);
  /* Finishing in the middle of an entry must not produce an archive. */
  cr_assert_neq(alcm_writer_finish(w), ALCM_OK);
  expect_msg(w);
  alcm_writer_close(w);
  cr_assert_eq(list_dir(listing, sizeof listing), 0, "left behind: %s",
               listing);
}

Test(writer, close_null_is_a_no_op) { alcm_writer_close(NULL); }

/* ---- reader ------------------------------------------------------------- */

static alcm_status open_status(const char *path, alcm_reader **out) {
  alcm_reader *const r = alcm_reader_create(NULL);
  cr_assert(r);
  const alcm_status st = alcm_reader_open(r, path);
  *out = r;
  return st;
}

Test(reader, missing_file_is_io) {
  char p[512];
  path_of(p, sizeof p, "nope.alcm");
  alcm_reader *r;
  cr_assert_eq(open_status(p, &r), ALCM_ERR_IO);
  cr_assert(strstr(alcm_reader_message(r), "nope.alcm"),
            "message does not name the file: %s", alcm_reader_message(r));
  alcm_reader_close(r);
}

Test(reader, empty_and_tiny_files_are_truncated) {
  char p[512];
  path_of(p, sizeof p, "empty.alcm");
  write_file(p, "", 0);
  alcm_reader *r;
  cr_assert_eq(open_status(p, &r), ALCM_ERR_TRUNCATED, "%s",
               alcm_reader_message(r));
  cr_assert_neq(alcm_reader_message(r)[0], '\0');
  alcm_reader_close(r);
  path_of(p, sizeof p, "ten.alcm");
  write_file(p, "\x89" "ALCM\r\n\x1a\x01\x00", 10);
  cr_assert_eq(open_status(p, &r), ALCM_ERR_TRUNCATED, "%s",
               alcm_reader_message(r));
  alcm_reader_close(r);
}

Test(reader, not_an_archive_is_bad_magic) {
  char p[512];
  path_of(p, sizeof p, "text.alcm");
  char junk[200];
  memset(junk, 'x', sizeof junk);
  write_file(p, junk, sizeof junk);
  alcm_reader *r;
  cr_assert_eq(open_status(p, &r), ALCM_ERR_BAD_MAGIC, "%s",
               alcm_reader_message(r));
  alcm_reader_close(r);
}

Test(reader, lookups_out_of_range) {
  char p[512];
  path_of(p, sizeof p, "ok.alcm");
  make_archive("ok.alcm");
  alcm_reader *r;
  cr_assert_eq(open_status(p, &r), ALCM_OK, "%s", alcm_reader_message(r));
  size_t i = 99;
  cr_assert_eq(alcm_reader_find(r, "missing", &i), ALCM_ERR_NOT_FOUND);
  cr_assert_eq(alcm_reader_find(r, "", &i), ALCM_ERR_NOT_FOUND);
  cr_assert_eq(alcm_reader_find(r, "a", &i), ALCM_OK);
  alcm_meta_info mi;
  cr_assert_eq(alcm_reader_find_meta(r, "user.none", &mi), ALCM_ERR_NOT_FOUND);
  cr_assert_eq(alcm_reader_find_meta(r, "user.x", &mi), ALCM_OK);

  alcm_entry_info info;
  cr_assert_eq(alcm_reader_entry(r, i, &info), ALCM_OK);
  cr_assert_eq(info.chunk_count, 3);
  alcm_chunk_info ci;
  cr_assert_eq(alcm_reader_chunk(r, i, 3, &ci), ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_reader_chunk(r, i, UINT32_MAX, &ci), ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_reader_chunk(r, 2, 0, &ci), ALCM_ERR_ARGUMENT);
  uint8_t buf[16384];
  cr_assert_eq(alcm_reader_read_chunks(r, i, 3, 1, buf, sizeof buf, NULL),
               ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_reader_read_chunks(r, i, 2, 2, buf, sizeof buf, NULL),
               ALCM_ERR_ARGUMENT);
  /* first + count must not wrap around */
  cr_assert_eq(alcm_reader_read_chunks(r, i, 1, UINT32_MAX, buf, sizeof buf,
                                       NULL),
               ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_reader_read(r, 2, buf, sizeof buf), ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_reader_entry(r, 2, &info), ALCM_ERR_ARGUMENT);
  alcm_source_info si;
  cr_assert_eq(alcm_reader_source(r, 0, &si), ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_reader_meta(r, 1, &mi), ALCM_ERR_ARGUMENT);
  /* Still usable after all that. */
  cr_assert_eq(alcm_reader_read_chunks(r, i, 1, 2, buf, sizeof buf, NULL),
               ALCM_OK, "%s", alcm_reader_message(r));
  cr_assert_eq(alcm_reader_verify(r, 0), ALCM_OK);
  alcm_reader_close(r);
}

Test(reader, calls_before_open_are_state_errors) {
  alcm_reader *const r = alcm_reader_create(NULL);
  cr_assert(r);
  size_t i;
  cr_assert_eq(alcm_reader_find(r, "a", &i), ALCM_ERR_STATE);
  cr_assert_eq(alcm_reader_verify(r, 0), ALCM_ERR_STATE);
  cr_assert_eq(alcm_reader_entry_count(r), 0);
  uint8_t b[4];
  cr_assert_eq(alcm_reader_read(r, 0, b, sizeof b), ALCM_ERR_STATE);
  alcm_reader_close(r);
}

Test(reader, second_open_is_a_state_error) {
  char p[512];
  path_of(p, sizeof p, "ok.alcm");
  make_archive("ok.alcm");
  alcm_reader *r;
  cr_assert_eq(open_status(p, &r), ALCM_OK);
  cr_assert_eq(alcm_reader_open(r, p), ALCM_ERR_STATE);
  alcm_reader_close(r);
}

static int stop_sink(void *opaque, const void *data, size_t size) {
  (void)data;
  (void)size;
  ++*(int *)opaque;
  return 1;
}

Test(reader, sink_stop_is_io) {
  char p[512];
  path_of(p, sizeof p, "ok.alcm");
  make_archive("ok.alcm");
  alcm_reader *r;
  cr_assert_eq(open_status(p, &r), ALCM_OK);
  int calls = 0;
  cr_assert_eq(alcm_reader_stream(r, 0, stop_sink, &calls), ALCM_ERR_IO);
  cr_assert_eq(calls, 1);
  alcm_reader_close(r);
}

Test(reader, close_null_is_a_no_op) { alcm_reader_close(NULL); }

/* ---- parallel decoding (alcm_read_options.threads) ---------------------- */

static alcm_reader *open_threads(const char *path, unsigned threads) {
  alcm_read_options o;
  alcm_read_options_init(&o);
  o.threads = threads;
  alcm_reader *r = alcm_reader_create(&o);
  cr_assert(r);
  cr_assert_eq(alcm_reader_open(r, path), ALCM_OK, "%s", alcm_reader_message(r));
  return r;
}

/* A writer on path with 4 KiB chunks, so small tensors have several. */
static alcm_writer *small_chunk_writer(const char *path) {
  alcm_write_options wo;
  alcm_write_options_init(&wo);
  wo.chunk_size = 4096;
  wo.overwrite = 1;
  alcm_writer *w = alcm_writer_create(&wo);
  cr_assert(w);
  cr_assert_eq(alcm_writer_open(w, path), ALCM_OK);
  return w;
}

/* Flip a bit in the second payload byte of chunk chunk[i] of entry
 * entry[i], i < n, of the archive at path (a stored-hash error). */
static void break_payloads(const char *path, const size_t *entry,
                           const uint32_t *chunk, size_t n) {
  static uint8_t file[1 << 16];
  const size_t size = read_file(path, file, sizeof file);
  alcm_reader *r = open_threads(path, 1);
  for (size_t i = 0; i < n; i++) {
    alcm_chunk_info ci;
    cr_assert_eq(alcm_reader_chunk(r, entry[i], chunk[i], &ci), ALCM_OK);
    file[ci.frame_offset + ALCM_FRAME_HEADER_SIZE + 1] ^= 0x40;
  }
  alcm_reader_close(r);
  write_file(path, file, size);
}

static int collect_sink(void *opaque, const void *data, size_t size) {
  uint8_t **p = opaque;
  memcpy(*p, data, size);
  *p += size;
  return 0;
}

/* A 9-chunk bf16 tensor (4 KiB chunks, the last one short) read whole,
 * by chunk ranges and streamed gives the same bytes with 1, 2 and 5
 * threads; a payload byte broken in chunks 3 and 6 gives every thread
 * count the serial error: chunk 3's, with the same message. */
Test(reader, threads_read_alike_and_fail_alike) {
  char path[600];
  path_of(path, sizeof path, "par.alcm");
  alcm_writer *w = small_chunk_writer(path);
  enum { N = 8 * 2048 + 1000 }; /* bf16 elements */
  static uint16_t v[N];
  uint64_t s = 5;
  for (size_t i = 0; i < N; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v[i] = (uint16_t)(0x3C00u + (s >> 56));
  }
  const uint64_t shape[1] = {N};
  cr_assert_eq(alcm_writer_add_tensor(w, "t", ALCM_DTYPE_BF16, 1, shape, v,
                                      sizeof v), ALCM_OK);
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK);
  alcm_writer_close(w);

  static uint8_t got[sizeof v], streamed[sizeof v];
  const unsigned counts[] = {1, 2, 5};
  for (size_t k = 0; k < 3; k++) {
    alcm_reader *r = open_threads(path, counts[k]);
    alcm_entry_info e;
    cr_assert_eq(alcm_reader_entry(r, 0, &e), ALCM_OK);
    cr_assert_eq(e.chunk_count, 9);
    memset(got, 0, sizeof got);
    cr_assert_eq(alcm_reader_read(r, 0, got, sizeof got), ALCM_OK);
    cr_assert(memcmp(got, v, sizeof v) == 0, "threads %u", counts[k]);
    size_t n = 0;
    memset(got, 0, sizeof got);
    cr_assert_eq(alcm_reader_read_chunks(r, 0, 2, 7, got, sizeof got, &n),
                 ALCM_OK);
    cr_assert_eq(n, sizeof v - 2 * 4096);
    cr_assert(memcmp(got, (const uint8_t *)v + 2 * 4096, n) == 0);
    uint8_t *p = streamed;
    cr_assert_eq(alcm_reader_stream(r, 0, collect_sink, &p), ALCM_OK);
    cr_assert_eq((size_t)(p - streamed), sizeof v);
    cr_assert(memcmp(streamed, v, sizeof v) == 0);
    alcm_reader_close(r);
  }

  /* Break one payload byte of chunks 3 and 6 (stored-hash errors). */
  static const size_t entry0[] = {0, 0};
  static const uint32_t chunks36[] = {3, 6};
  break_payloads(path, entry0, chunks36, 2);
  char first[ALCM_MSG_SIZE];
  for (size_t k = 0; k < 3; k++) {
    alcm_reader *r = open_threads(path, counts[k]);
    cr_assert_eq(alcm_reader_read(r, 0, got, sizeof got), ALCM_ERR_CHECKSUM);
    if (k == 0) {
      snprintf(first, sizeof first, "%s", alcm_reader_message(r));
      cr_assert(strstr(first, "chunk 3"), "%s", first);
      /* decoded first, but reported as the payload's own checksum */
      cr_assert(strstr(first, "stored bytes"), "%s", first);
    } else {
      cr_assert_str_eq(alcm_reader_message(r), first, "threads %u", counts[k]);
    }
    uint8_t *p = streamed;
    cr_assert_eq(alcm_reader_stream(r, 0, collect_sink, &p), ALCM_ERR_CHECKSUM);
    cr_assert(strstr(alcm_reader_message(r), "chunk 3"), "%s",
              alcm_reader_message(r));
    alcm_reader_close(r);
  }
}

/* alcm_reader_read_entries: six tensors (one of three chunks, the others
 * one chunk or empty) read in one call give every thread count the bytes
 * of reads one by one; a range that starts past the end, a capacity too
 * small for entry 4 and payload bytes broken in entries 2 and 5 give the
 * error a read per entry in order meets first, with the same message
 * whatever the thread count, and the entries before it are read. */
Test(reader, read_entries_alike_and_fail_alike) {
  char path[600];
  path_of(path, sizeof path, "many.alcm");
  alcm_writer *w = small_chunk_writer(path);
  enum { E = 6 };
  static const size_t elems[E] = {700, 2048, 1500, 0, 5000, 900};
  static uint16_t v[E][5000];
  uint64_t s = 9;
  for (size_t k = 0; k < E; k++) {
    char name[8];
    snprintf(name, sizeof name, "t%zu", k);
    for (size_t i = 0; i < elems[k]; i++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      v[k][i] = (uint16_t)(0x3C00u + (s >> 56));
    }
    const uint64_t shape[1] = {elems[k]};
    cr_assert_eq(alcm_writer_add_tensor(w, name, ALCM_DTYPE_BF16, 1, shape,
                                        v[k], 2 * elems[k]), ALCM_OK);
  }
  cr_assert_eq(alcm_writer_finish(w), ALCM_OK);
  alcm_writer_close(w);

  static uint8_t got[E][10000];
  void *dst[E];
  size_t cap[E];
  const unsigned counts[] = {1, 2, 5};
  for (size_t t = 0; t < 3; t++) {
    alcm_reader *r = open_threads(path, counts[t]);
    memset(got, 0, sizeof got);
    for (size_t k = 0; k < E; k++) {
      dst[k] = got[k];
      cap[k] = 2 * elems[k];
    }
    cr_assert_eq(alcm_reader_read_entries(r, 0, E, dst, cap), ALCM_OK);
    for (size_t k = 0; k < E; k++)
      cr_assert(memcmp(got[k], v[k], 2 * elems[k]) == 0, "threads %u entry %zu",
                counts[t], k);
    cr_assert_eq(alcm_reader_read_entries(r, 1, 0, NULL, NULL), ALCM_OK);
    cr_assert_eq(alcm_reader_read_entries(r, E, 1, dst, cap), ALCM_ERR_ARGUMENT);
    /* entry 4 does not fit: entries 0..3 are read first */
    memset(got, 0, sizeof got);
    cap[4] = 2 * elems[4] - 1;
    cr_assert_eq(alcm_reader_read_entries(r, 0, E, dst, cap), ALCM_ERR_ARGUMENT);
    cr_assert(strstr(alcm_reader_message(r), "'t4'"), "%s",
              alcm_reader_message(r));
    cr_assert(memcmp(got[2], v[2], 2 * elems[2]) == 0);
    cap[4] = 2 * elems[4];
    alcm_reader_close(r);
  }

  /* Break one payload byte of entries 5 and 2 (chunk 0 of each). */
  static const size_t entries52[] = {5, 2};
  static const uint32_t chunk0[] = {0, 0};
  break_payloads(path, entries52, chunk0, 2);
  char first[ALCM_MSG_SIZE];
  for (size_t t = 0; t < 3; t++) {
    alcm_reader *r = open_threads(path, counts[t]);
    memset(got, 0, sizeof got);
    cr_assert_eq(alcm_reader_read_entries(r, 0, E, dst, cap), ALCM_ERR_CHECKSUM);
    if (t == 0) {
      snprintf(first, sizeof first, "%s", alcm_reader_message(r));
      cr_assert(strstr(first, "'t2'"), "%s", first);
    } else {
      cr_assert_str_eq(alcm_reader_message(r), first, "threads %u", counts[t]);
    }
    cr_assert(memcmp(got[1], v[1], 2 * elems[1]) == 0);
    /* from entry 3 on, the first broken one is entry 5 */
    cr_assert_eq(alcm_reader_read_entries(r, 3, 3, dst + 3, cap + 3),
                 ALCM_ERR_CHECKSUM);
    cr_assert(strstr(alcm_reader_message(r), "'t5'"), "%s",
              alcm_reader_message(r));
    alcm_reader_close(r);
  }
}
