/* Unit tests for atomic output and bounded input (src/fileio.c). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static char dir[64];
static alcm_mem mem;

static void setup(void) {
  strcpy(dir, "/tmp/alcm_fileio_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  alcm_mem_init(&mem, NULL, 0);
}

static void rm_rf(const char *d) {
  DIR *const dp = opendir(d);
  if (!dp) return;
  struct dirent *e;
  char p[512];
  while ((e = readdir(dp)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", d, e->d_name);
    if (rmdir(p) != 0) unlink(p);
  }
  closedir(dp);
  rmdir(d);
}

static void teardown(void) { rm_rf(dir); }

TestSuite(fileio, .init = setup, .fini = teardown);

static char *path_in(const char *name) {
  static char p[2][256];
  static int which;
  which ^= 1;
  snprintf(p[which], sizeof p[which], "%s/%s", dir, name);
  return p[which];
}

static size_t count_entries(void) {
  DIR *const dp = opendir(dir);
  cr_assert_not_null(dp);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(dp)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(dp);
  return n;
}

static void write_file(const char *p, const char *text) {
  FILE *const f = fopen(p, "wb");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

static size_t read_all(const char *p, char *buf, size_t cap) {
  FILE *const f = fopen(p, "rb");
  cr_assert_not_null(f, "%s", p);
  const size_t n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

Test(fileio, write_pad_commit) {
  alcm_outfile f;
  alcm_msg msg = {{0}};
  const char *const target = path_in("out.alcm");
  cr_assert_eq(alcm_outfile_open(&f, &mem, target, 0, &msg), ALCM_OK, "%s",
               msg.text);
  cr_assert_eq(count_entries(), 1); /* the temp file */
  cr_assert_eq(access(target, F_OK), -1);
  cr_assert_eq(alcm_outfile_write(&f, "abc", 3, &msg), ALCM_OK);
  cr_assert_eq(alcm_outfile_pad(&f, 8, &msg), ALCM_OK);
  cr_assert_eq(f.offset, 8);
  cr_assert_eq(alcm_outfile_pad(&f, 8, &msg), ALCM_OK);
  cr_assert_eq(f.offset, 8);
  cr_assert_eq(alcm_outfile_pad(&f, 1, &msg), ALCM_OK);
  cr_assert_eq(alcm_outfile_pad(&f, 0, &msg), ALCM_OK);
  cr_assert_eq(alcm_outfile_write(&f, "Z", 1, &msg), ALCM_OK);
  cr_assert_eq(alcm_outfile_write(&f, NULL, 0, &msg), ALCM_OK);
  cr_assert_eq(alcm_outfile_pad(&f, 65536, &msg), ALCM_OK);
  cr_assert_eq(f.offset, 65536);
  cr_assert_eq(alcm_outfile_commit(&f, &mem, &msg), ALCM_OK, "%s", msg.text);
  cr_assert_eq(count_entries(), 1);
  static char buf[70000];
  cr_assert_eq(read_all(target, buf, sizeof buf), 65536);
  cr_assert_eq(memcmp(buf, "abc\0\0\0\0\0Z", 9), 0);
  cr_assert(alcm_all_zero((const uint8_t *)buf + 9, 65536 - 9));
  /* after commit: no writes, abort is a harmless no-op */
  cr_assert_eq(alcm_outfile_write(&f, "x", 1, &msg), ALCM_ERR_STATE);
  cr_assert_eq(alcm_outfile_commit(&f, &mem, &msg), ALCM_ERR_STATE);
  alcm_outfile_abort(&f, &mem);
  alcm_outfile_abort(&f, &mem);
  cr_assert_eq(read_all(target, buf, sizeof buf), 65536);
}

/* Small writes are buffered, large ones go straight through: any mix,
 * read back before commit (the writer's duplicate check) and after, gives
 * the bytes in order. */
Test(fileio, buffered_writes_in_order) {
  alcm_outfile f;
  alcm_msg msg = {{0}};
  const char *const target = path_in("mix.alcm");
  cr_assert_eq(alcm_outfile_open(&f, &mem, target, 0, &msg), ALCM_OK);
  static char want[400000], got[400000];
  static const size_t sizes[] = {1, 64, 7, 20000, 3, 16384, 16385, 65536,
                                 5, 100000, 9, 60000, 2};
  size_t at = 0;
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    for (size_t i = 0; i < sizes[k]; i++)
      want[at + i] = (char)(k * 31 + i * 7);
    cr_assert_eq(alcm_outfile_write(&f, want + at, sizes[k], &msg), ALCM_OK);
    at += sizes[k];
    cr_assert_eq(f.offset, at);
    /* read back the last write, whether it is buffered or on disk */
    cr_assert_eq(alcm_outfile_read(&f, at - sizes[k], got, sizes[k], &msg),
                 ALCM_OK, "%s", msg.text);
    cr_assert(memcmp(got, want + at - sizes[k], sizes[k]) == 0, "write %zu", k);
  }
  cr_assert_eq(alcm_outfile_read(&f, 0, got, at + 1, &msg), ALCM_ERR_TRUNCATED);
  cr_assert_eq(alcm_outfile_commit(&f, &mem, &msg), ALCM_OK, "%s", msg.text);
  cr_assert_eq(read_all(target, got, sizeof got), at);
  cr_assert(memcmp(got, want, at) == 0);
}

Test(fileio, exists_refused_without_overwrite) {
  const char *const target = path_in("keep.alcm");
  write_file(target, "original");
  alcm_outfile f;
  alcm_msg msg = {{0}};
  cr_assert_eq(alcm_outfile_open(&f, &mem, target, 0, &msg), ALCM_ERR_EXISTS);
  cr_assert(strstr(msg.text, target) != NULL, "%s", msg.text);
  cr_assert_eq(count_entries(), 1);
  alcm_outfile_abort(&f, &mem); /* harmless after a failed open */
  char buf[32];
  cr_assert_eq(read_all(target, buf, sizeof buf), 8);
  cr_assert_eq(memcmp(buf, "original", 8), 0);
}

Test(fileio, dangling_symlink_counts_as_existing) {
  const char *const target = path_in("link.alcm");
  cr_assert_eq(symlink("/nonexistent/alcm/target", target), 0);
  alcm_outfile f;
  alcm_msg msg = {{0}};
  cr_assert_eq(alcm_outfile_open(&f, &mem, target, 0, &msg), ALCM_ERR_EXISTS);
}

Test(fileio, directory_refused_even_with_overwrite) {
  const char *const target = path_in("sub");
  cr_assert_eq(mkdir(target, 0755), 0);
  alcm_outfile f;
  alcm_msg msg = {{0}};
  cr_assert_eq(alcm_outfile_open(&f, &mem, target, 1, &msg), ALCM_ERR_EXISTS);
  cr_assert(strstr(msg.text, "directory") != NULL, "%s", msg.text);
  cr_assert_eq(alcm_outfile_open(&f, &mem, target, 0, &msg), ALCM_ERR_EXISTS);
  cr_assert_eq(count_entries(), 1);
}

Test(fileio, abort_leaves_target_untouched) {
  const char *const target = path_in("keep.alcm");
  write_file(target, "original");
  alcm_outfile f;
  alcm_msg msg = {{0}};
  cr_assert_eq(alcm_outfile_open(&f, &mem, target, 1, &msg), ALCM_OK);
  cr_assert_eq(alcm_outfile_write(&f, "new data!", 9, &msg), ALCM_OK);
  cr_assert_eq(count_entries(), 2);
  alcm_outfile_abort(&f, &mem);
  alcm_outfile_abort(&f, &mem);
  cr_assert_eq(count_entries(), 1);
  char buf[32];
  cr_assert_eq(read_all(target, buf, sizeof buf), 8);
  cr_assert_eq(memcmp(buf, "original", 8), 0);
}

Test(fileio, commit_replaces_target) {
  const char *const target = path_in("keep.alcm");
  write_file(target, "original");
  alcm_outfile f;
  alcm_msg msg = {{0}};
  cr_assert_eq(alcm_outfile_open(&f, &mem, target, 1, &msg), ALCM_OK);
  cr_assert_eq(alcm_outfile_write(&f, "new", 3, &msg), ALCM_OK);
  char buf[32];
  cr_assert_eq(read_all(target, buf, sizeof buf), 8); /* not yet */
  cr_assert_eq(alcm_outfile_commit(&f, &mem, &msg), ALCM_OK, "%s", msg.text);
  cr_assert_eq(read_all(target, buf, sizeof buf), 3);
  cr_assert_eq(memcmp(buf, "new", 3), 0);
  cr_assert_eq(count_entries(), 1);
}

Test(fileio, temp_name_and_umask) {
  const char *const target = path_in("m.alcm");
  const mode_t old = umask(077);
  alcm_outfile f;
  alcm_msg msg = {{0}};
  cr_assert_eq(alcm_outfile_open(&f, &mem, target, 0, &msg), ALCM_OK);
  char want[300];
  snprintf(want, sizeof want, "%s/.m.alcm.alcmtmp.", dir);
  cr_assert_eq(strncmp(f.tmp_path, want, strlen(want)), 0, "%s", f.tmp_path);
  cr_assert_eq(strlen(f.tmp_path), strlen(want) + 6);
  cr_assert_eq(alcm_outfile_commit(&f, &mem, &msg), ALCM_OK);
  struct stat st;
  cr_assert_eq(stat(target, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0600);
  umask(022);
  cr_assert_eq(alcm_outfile_open(&f, &mem, target, 1, &msg), ALCM_OK);
  cr_assert_eq(alcm_outfile_commit(&f, &mem, &msg), ALCM_OK);
  cr_assert_eq(stat(target, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0644);
  umask(old);
}

Test(fileio, relative_path_in_cwd) {
  cr_assert_eq(chdir(dir), 0);
  alcm_outfile f;
  alcm_msg msg = {{0}};
  cr_assert_eq(alcm_outfile_open(&f, &mem, "rel.alcm", 0, &msg), ALCM_OK);
  cr_assert_eq(strncmp(f.tmp_path, ".rel.alcm.alcmtmp.", 18), 0);
  cr_assert_eq(alcm_outfile_write(&f, "r", 1, &msg), ALCM_OK);
  cr_assert_eq(alcm_outfile_commit(&f, &mem, &msg), ALCM_OK, "%s", msg.text);
  cr_assert_eq(access(path_in("rel.alcm"), F_OK), 0);
}

Test(fileio, missing_folder_and_bad_paths) {
  alcm_outfile f;
  alcm_msg msg = {{0}};
  const char *const target = path_in("no/such/dir/x.alcm");
  cr_assert_eq(alcm_outfile_open(&f, &mem, target, 0, &msg), ALCM_ERR_IO);
  cr_assert(strstr(msg.text, target) != NULL, "%s", msg.text);
  cr_assert(strstr(msg.text, "No such file") != NULL, "%s", msg.text);
  cr_assert(strstr(msg.text, "input/output error") != NULL, "%s", msg.text);
  alcm_outfile_abort(&f, &mem);
  cr_assert_eq(alcm_outfile_open(&f, &mem, "", 0, &msg), ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_outfile_open(&f, &mem, path_in("x/"), 1, &msg),
               ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_outfile_open(&f, &mem, NULL, 1, &msg), ALCM_ERR_ARGUMENT);
  cr_assert_eq(count_entries(), 0);
}

Test(fileio, unwritable_folder) {
  if (geteuid() == 0) cr_skip_test("root ignores permissions");
  const char *const sub = path_in("ro");
  cr_assert_eq(mkdir(sub, 0555), 0);
  char target[300];
  snprintf(target, sizeof target, "%s/x.alcm", sub);
  alcm_outfile f;
  alcm_msg msg = {{0}};
  cr_assert_eq(alcm_outfile_open(&f, &mem, target, 0, &msg), ALCM_ERR_IO);
  cr_assert(strstr(msg.text, "Permission denied") != NULL, "%s", msg.text);
  chmod(sub, 0755);
}

Test(fileio, zeroed_struct_abort_is_harmless) {
  alcm_outfile f;
  memset(&f, 0, sizeof f);
  alcm_outfile_abort(&f, &mem);
  cr_assert_eq(f.fd, -1);
  alcm_msg msg = {{0}};
  cr_assert_eq(alcm_outfile_write(&f, "x", 1, &msg), ALCM_ERR_STATE);
  /* stdin (fd 0) must still be open */
  cr_assert_neq(fcntl(0, F_GETFD), -1);
}

Test(fileio, infile_reads_and_bounds) {
  const char *const p = path_in("in.bin");
  write_file(p, "0123456789");
  alcm_infile in;
  alcm_msg msg = {{0}};
  cr_assert_eq(alcm_infile_open(&in, p, &msg), ALCM_OK);
  cr_assert_eq(in.size, 10);
  char buf[16] = {0};
  cr_assert_eq(alcm_infile_read(&in, 2, buf, 5, &msg), ALCM_OK);
  cr_assert_eq(memcmp(buf, "23456", 5), 0);
  cr_assert_eq(alcm_infile_read(&in, 0, buf, 10, &msg), ALCM_OK);
  cr_assert_eq(alcm_infile_read(&in, 10, buf, 0, &msg), ALCM_OK);
  cr_assert_eq(alcm_infile_read(&in, 6, buf, 5, &msg), ALCM_ERR_TRUNCATED);
  cr_assert(strstr(msg.text, "offset 6") != NULL, "%s", msg.text);
  cr_assert_eq(alcm_infile_read(&in, 11, buf, 0, &msg), ALCM_ERR_TRUNCATED);
  cr_assert_eq(alcm_infile_read(&in, UINT64_MAX, buf, 2, &msg),
               ALCM_ERR_TRUNCATED);
  cr_assert_eq(alcm_infile_read(&in, 1, buf, SIZE_MAX, &msg),
               ALCM_ERR_TRUNCATED);
  alcm_infile_close(&in);
  alcm_infile_close(&in);
  cr_assert_eq(in.fd, -1);
}

Test(fileio, infile_errors) {
  alcm_infile in;
  alcm_msg msg = {{0}};
  const char *const missing = path_in("missing.bin");
  cr_assert_eq(alcm_infile_open(&in, missing, &msg), ALCM_ERR_IO);
  cr_assert(strstr(msg.text, missing) != NULL, "%s", msg.text);
  cr_assert_eq(in.fd, -1);
  alcm_infile_close(&in);
  cr_assert_eq(alcm_infile_open(&in, dir, &msg), ALCM_ERR_IO);
  cr_assert(strstr(msg.text, "regular") != NULL, "%s", msg.text);
  cr_assert_eq(alcm_infile_open(&in, "/dev/null", &msg), ALCM_ERR_IO);
}

Test(fileio, infile_shrunk_after_open) {
  const char *const p = path_in("shrink.bin");
  write_file(p, "0123456789");
  alcm_infile in;
  alcm_msg msg = {{0}};
  cr_assert_eq(alcm_infile_open(&in, p, &msg), ALCM_OK);
  cr_assert_eq(truncate(p, 4), 0);
  char buf[16];
  cr_assert_eq(alcm_infile_read(&in, 2, buf, 6, &msg), ALCM_ERR_TRUNCATED);
  cr_assert(strstr(msg.text, "shrank") != NULL, "%s", msg.text);
  alcm_infile_close(&in);
}
