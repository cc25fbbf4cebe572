/*
 * iofail_shim.c - an LD_PRELOAD library that makes the N-th call of one
 * I/O function fail, for tests/reliability/iofail.sh.
 *
 * Environment:
 *   ALCM_IOFAIL_OP    write | pwrite | read | pread | fsync | rename | close
 *   ALCM_IOFAIL_N     the call to fail, counting from 1; 0 = only count
 *   ALCM_IOFAIL_MODE  eio | enospc: the call fails with that errno and does
 *                     nothing (close still releases the descriptor, as
 *                     Linux does);
 *                     short: write/pwrite move half the bytes, read/pread
 *                     return half (legal; the caller must loop);
 *                     eintr: the call is interrupted before doing anything
 *   ALCM_IOFAIL_LOG   file that receives "calls=<n> injected=<0|1>
 *                     target=<file|dir|other>" when the process exits
 *
 * Only descriptors above 2 are counted for read/write/close, so the
 * tools' own terminal output does not shift the numbering. The shim keeps
 * no state but counters; it is for tests only.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

enum { OP_NONE, OP_WRITE, OP_PWRITE, OP_READ, OP_PREAD, OP_FSYNC, OP_RENAME,
       OP_CLOSE };
enum { MODE_EIO, MODE_ENOSPC, MODE_SHORT, MODE_EINTR };

static int op = -1, mode;
static long fail_at, calls;
static int injected;
static const char *target_kind = "none";

static void load_config(void) {
  if (op >= 0) return;
  static const char *const names[] = {"", "write", "pwrite", "read", "pread",
                                      "fsync", "rename", "close"};
  const char *o = getenv("ALCM_IOFAIL_OP"), *n = getenv("ALCM_IOFAIL_N"),
             *m = getenv("ALCM_IOFAIL_MODE");
  op = OP_NONE;
  for (int i = 1; o && i < (int)(sizeof names / sizeof *names); i++)
    if (!strcmp(o, names[i])) op = i;
  fail_at = n ? atol(n) : 0;
  mode = !m || !strcmp(m, "eio")  ? MODE_EIO
         : !strcmp(m, "enospc")   ? MODE_ENOSPC
         : !strcmp(m, "short")    ? MODE_SHORT
                                  : MODE_EINTR;
}

static void describe_fd(int fd) {
  struct stat st;
  target_kind = fd < 0 || fstat(fd, &st) != 0 ? "other"
                : S_ISDIR(st.st_mode)          ? "dir"
                : S_ISREG(st.st_mode)          ? "file"
                                               : "other";
}

/* Whether this call of `which` is the one to fail. */
static int hit(int which, int fd, int counted) {
  load_config();
  if (which != op || !counted) return 0;
  calls++;
  if (calls != fail_at) return 0;
  injected = 1;
  describe_fd(fd);
  return 1;
}

static int fail_errno(void) {
  return mode == MODE_ENOSPC ? ENOSPC : mode == MODE_EINTR ? EINTR : EIO;
}

static void *next(const char *name) {
  void *const f = dlsym(RTLD_NEXT, name);
  if (!f) abort();
  return f;
}

ssize_t write(int fd, const void *buf, size_t n) {
  static ssize_t (*real)(int, const void *, size_t);
  if (!real) real = (ssize_t(*)(int, const void *, size_t))next("write");
  if (hit(OP_WRITE, fd, fd > 2)) {
    if (mode == MODE_SHORT && n > 1) return real(fd, buf, n / 2);
    errno = fail_errno();
    return -1;
  }
  return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real) real = (ssize_t(*)(int, const void *, size_t, off_t))next("pwrite");
  if (hit(OP_PWRITE, fd, fd > 2)) {
    if (mode == MODE_SHORT && n > 1) return real(fd, buf, n / 2, off);
    errno = fail_errno();
    return -1;
  }
  return real(fd, buf, n, off);
}

ssize_t read(int fd, void *buf, size_t n) {
  static ssize_t (*real)(int, void *, size_t);
  if (!real) real = (ssize_t(*)(int, void *, size_t))next("read");
  if (hit(OP_READ, fd, fd > 2)) {
    if (mode == MODE_SHORT && n > 1) return real(fd, buf, n / 2);
    errno = fail_errno();
    return -1;
  }
  return real(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  static ssize_t (*real)(int, void *, size_t, off_t);
  if (!real) real = (ssize_t(*)(int, void *, size_t, off_t))next("pread");
  if (hit(OP_PREAD, fd, fd > 2)) {
    if (mode == MODE_SHORT && n > 1) return real(fd, buf, n / 2, off);
    errno = fail_errno();
    return -1;
  }
  return real(fd, buf, n, off);
}

/* glibc's 64-bit names, in case a caller is built with them. */
ssize_t pread64(int fd, void *buf, size_t n, off_t off);
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t pread64(int fd, void *buf, size_t n, off_t off) {
  return pread(fd, buf, n, off);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
  return pwrite(fd, buf, n, off);
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))next("fsync");
  if (hit(OP_FSYNC, fd, 1)) {
    errno = mode == MODE_ENOSPC ? ENOSPC : EIO;
    return -1;
  }
  return real(fd);
}

int rename(const char *from, const char *to) {
  static int (*real)(const char *, const char *);
  if (!real) real = (int (*)(const char *, const char *))next("rename");
  if (hit(OP_RENAME, -1, 1)) {
    target_kind = "file";
    errno = mode == MODE_ENOSPC ? ENOSPC : EIO;
    return -1;
  }
  return real(from, to);
}

int close(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))next("close");
  if (hit(OP_CLOSE, fd, fd > 2)) {
    real(fd);
    errno = mode == MODE_ENOSPC ? ENOSPC : EIO;
    return -1;
  }
  return real(fd);
}

__attribute__((destructor)) static void report(void) {
  const char *log = getenv("ALCM_IOFAIL_LOG");
  if (!log) return;
  FILE *f = fopen(log, "w");
  if (!f) return;
  fprintf(f, "calls=%ld injected=%d target=%s\n", calls, injected,
          target_kind);
  fclose(f);
}
