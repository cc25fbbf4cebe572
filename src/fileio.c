/*
 * fileio.c - POSIX file access.
 *
 * Output is atomic: bytes go to "<dir>/.<base>.alcmtmp.XXXXXX" in the
 * target's own folder (so rename() cannot cross file systems), which is
 * fsync'd, renamed over the target, and the folder fsync'd so the rename
 * itself survives a crash. Until then the target is untouched; a failed
 * or abandoned write only ever removes its own temporary file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "internal.h"

#define TMP_TAG ".alcmtmp."
#define TMP_SUFFIX_LEN 6
#define TMP_ATTEMPTS 100
/* Larger single I/O calls gain nothing and Linux caps them near 2 GiB. */
#define IO_SLICE ((size_t)1 << 30)

/* ---- paths ---------------------------------------------------------- */

/* Length of the folder part of path (without the final '/'), and whether
 * there is one at all. "a" -> none, "/a" -> "/", "d/a" -> "d". */
static size_t dir_len(const char *path, bool *has_dir) {
  const char *const slash = strrchr(path, '/');
  *has_dir = slash != NULL;
  if (!slash) return 0;
  return slash == path ? 1 : (size_t)(slash - path);
}

static char *dir_of(const alcm_mem *m, const char *path) {
  bool has_dir;
  const size_t n = dir_len(path, &has_dir);
  return has_dir ? alcm_mem_strndup(m, path, n) : alcm_mem_strndup(m, ".", 1);
}

/* Unpredictable enough to make collisions rare; O_EXCL makes them safe. */
static void tmp_suffix(char out[TMP_SUFFIX_LEN], unsigned attempt) {
  static const char alphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  const uint64_t seed[4] = {(uint64_t)getpid(), (uint64_t)ts.tv_sec,
                            (uint64_t)ts.tv_nsec,
                            (uint64_t)(uintptr_t)out ^ attempt};
  uint64_t h = XXH3_64bits(seed, sizeof seed);
  for (size_t i = 0; i < TMP_SUFFIX_LEN; i++) {
    out[i] = alphabet[h % (sizeof alphabet - 1)];
    h /= sizeof alphabet - 1;
  }
}

/* "<dir>/.<base>.alcmtmp." followed by room for the suffix. */
static char *tmp_template(const alcm_mem *m, const char *path, size_t *len) {
  const char *const slash = strrchr(path, '/');
  const char *const base = slash ? slash + 1 : path;
  const size_t prefix = (size_t)(base - path); /* folder and its '/' */
  const size_t bn = strlen(base);
  size_t total = prefix; /* no overflow: all parts are sizes of strings */
  total += 1 + bn + sizeof(TMP_TAG) - 1 + TMP_SUFFIX_LEN;
  char *const t = alcm_mem_alloc(m, total + 1);
  if (!t) return NULL;
  memcpy(t, path, prefix);
  t[prefix] = '.';
  memcpy(t + prefix + 1, base, bn);
  memcpy(t + prefix + 1 + bn, TMP_TAG, sizeof(TMP_TAG) - 1);
  t[total] = '\0';
  *len = total;
  return t;
}

/* Create the temp file with O_EXCL and mode 0666, so the process umask
 * decides the final permissions as for any other new file (mkstemp would
 * force 0600, and reading the umask is not thread-safe). */
static int create_tmp(char *tmp, size_t len) {
  for (unsigned attempt = 0; attempt < TMP_ATTEMPTS; attempt++) {
    tmp_suffix(tmp + len - TMP_SUFFIX_LEN, attempt);
    const int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

/* ---- output --------------------------------------------------------- */

/* Small writes (frame headers, padding, small payloads) collect in a
 * buffer: a file of many small tensors would otherwise cost a system call
 * or three per chunk. Larger writes go straight to the file. */
#define OUT_BUF ((size_t)64 << 10)
#define OUT_SMALL (OUT_BUF / 4)

static void outfile_reset(alcm_outfile *f) {
  f->fd = -1;
  f->tmp_path = NULL;
  f->final_path = NULL;
  f->offset = 0;
  f->buf = NULL;
  f->buffered = 0;
}

static alcm_status check_target(const char *path, int overwrite,
                                alcm_msg *msg) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT) return ALCM_OK;
    return alcm_fail(msg, ALCM_ERR_IO, "output '%s': %s", path,
                     strerror(errno));
  }
  if (S_ISDIR(st.st_mode))
    return alcm_fail(msg, ALCM_ERR_EXISTS, "output '%s' is a directory",
                     path);
  if (!overwrite)
    return alcm_fail(msg, ALCM_ERR_EXISTS,
                     "output '%s' exists (overwrite not allowed)", path);
  return ALCM_OK;
}

alcm_status alcm_outfile_open(alcm_outfile *f, const alcm_mem *m,
                              const char *path, int overwrite, alcm_msg *msg) {
  outfile_reset(f);
  if (!path || !path[0] || path[strlen(path) - 1] == '/')
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "output path '%s' names no file",
                     path ? path : "(null)");
  alcm_status s = check_target(path, overwrite, msg);
  if (s != ALCM_OK) return s;
  size_t len = 0;
  char *const final_path = alcm_mem_strndup(m, path, strlen(path));
  char *const tmp = tmp_template(m, path, &len);
  const int fd = (final_path && tmp) ? create_tmp(tmp, len) : -1;
  if (fd < 0) {
    s = (final_path && tmp)
            ? alcm_fail(msg, ALCM_ERR_IO,
                        "output '%s': creating temporary '%s': %s", path, tmp,
                        strerror(errno))
            : alcm_fail(msg, ALCM_ERR_NOMEM, "output '%s'", path);
    alcm_mem_free(m, tmp); /* never created: nothing to unlink */
    alcm_mem_free(m, final_path);
    return s;
  }
  f->fd = fd;
  f->tmp_path = tmp;
  f->final_path = final_path;
  f->buf = alcm_mem_alloc(m, OUT_BUF); /* without it: unbuffered */
  return ALCM_OK;
}

/* n bytes to the file; at is their offset, for the message. */
static alcm_status write_all(alcm_outfile *f, uint64_t at, const void *data,
                             size_t n, alcm_msg *msg) {
  const uint8_t *p = data;
  size_t left = n;
  while (left) {
    const size_t want = left < IO_SLICE ? left : IO_SLICE;
    const ssize_t w = write(f->fd, p, want);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      return alcm_fail(msg, ALCM_ERR_IO,
                       "output '%s': write at offset %" PRIu64 ": %s",
                       f->final_path, at,
                       w < 0 ? strerror(errno) : "no progress");
    p += w;
    left -= (size_t)w;
    at += (uint64_t)w;
  }
  return ALCM_OK;
}

static alcm_status outfile_flush(alcm_outfile *f, alcm_msg *msg) {
  const size_t n = f->buffered;
  if (n == 0) return ALCM_OK;
  f->buffered = 0;
  return write_all(f, f->offset - n, f->buf, n, msg);
}

alcm_status alcm_outfile_write(alcm_outfile *f, const void *data, size_t n,
                               alcm_msg *msg) {
  if (f->fd < 0)
    return alcm_fail(msg, ALCM_ERR_STATE, "output is not open for writing");
  uint64_t end;
  if (__builtin_add_overflow(f->offset, (uint64_t)n, &end))
    return alcm_fail(msg, ALCM_ERR_OVERFLOW, "output '%s': %zu bytes at %" PRIu64,
                     f->final_path, n, f->offset);
  alcm_status st;
  if (n == 0) return ALCM_OK;
  if (f->buf && n <= OUT_SMALL) {
    if (OUT_BUF - f->buffered < n && (st = outfile_flush(f, msg))) return st;
    memcpy(f->buf + f->buffered, data, n);
    f->buffered += n;
    f->offset = end;
    return ALCM_OK;
  }
  if ((st = outfile_flush(f, msg)) ||
      (st = write_all(f, f->offset, data, n, msg)))
    return st;
  f->offset = end;
  return ALCM_OK;
}

alcm_status alcm_outfile_pad(alcm_outfile *f, uint64_t align, alcm_msg *msg) {
  static const uint8_t zeros[4096];
  if (align <= 1) return ALCM_OK;
  const uint64_t rem = f->offset % align;
  uint64_t left = rem ? align - rem : 0;
  while (left) {
    const size_t n = left < sizeof zeros ? (size_t)left : sizeof zeros;
    const alcm_status s = alcm_outfile_write(f, zeros, n, msg);
    if (s != ALCM_OK) return s;
    left -= n;
  }
  return ALCM_OK;
}

/* fsync of a folder: some file systems cannot and say EINVAL; the rename
 * is then as durable as they make it. */
/* The target's folder, opened before the rename so that nothing after the
 * rename can fail for want of memory or a descriptor. */
static alcm_status open_dir(const alcm_mem *m, const char *final_path,
                            int *fd, alcm_msg *msg) {
  char *const dir = dir_of(m, final_path);
  if (!dir) return alcm_fail(msg, ALCM_ERR_NOMEM, "output '%s'", final_path);
  *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const alcm_status s =
      *fd < 0 ? alcm_fail(msg, ALCM_ERR_IO, "output '%s': opening folder '%s': %s",
                          final_path, dir, strerror(errno))
              : ALCM_OK;
  alcm_mem_free(m, dir);
  return s;
}

alcm_status alcm_outfile_commit(alcm_outfile *f, const alcm_mem *m,
                                alcm_msg *msg) {
  if (f->fd < 0 || !f->tmp_path)
    return alcm_fail(msg, ALCM_ERR_STATE, "output is not open for writing");
  int dir_fd = -1;
  alcm_status st = outfile_flush(f, msg);
  if (!st) st = open_dir(m, f->final_path, &dir_fd, msg);
  if (st) {
    alcm_outfile_abort(f, m);
    return st;
  }
  const char *what = "fsync";
  int ok = fsync(f->fd) == 0;
  if (ok) {
    what = "close";
    ok = close(f->fd) == 0;
    f->fd = -1;
  }
  if (ok) {
    what = "rename";
    ok = rename(f->tmp_path, f->final_path) == 0;
  }
  if (!ok) {
    st = alcm_fail(msg, ALCM_ERR_IO, "output '%s': %s of '%s': %s",
                   f->final_path, what, f->tmp_path, strerror(errno));
    close(dir_fd);
    alcm_outfile_abort(f, m);
    return st;
  }
  /* The temp name is gone now: nothing left to unlink. The new file is in
   * place; a folder that will not sync only leaves its durability open,
   * and the message says exactly that. */
  alcm_mem_free(m, f->tmp_path);
  f->tmp_path = NULL;
  if (fsync(dir_fd) != 0 && errno != EINVAL)
    st = alcm_fail(msg, ALCM_ERR_IO,
                   "output '%s' was renamed into place complete, but "
                   "syncing its folder failed (%s): it may not survive a "
                   "crash",
                   f->final_path, strerror(errno));
  close(dir_fd);
  alcm_outfile_abort(f, m);
  return st;
}

void alcm_outfile_abort(alcm_outfile *f, const alcm_mem *m) {
  /* tmp_path marks an open temp file; a zeroed struct (fd 0) is left
   * alone so that abort after a failed or missing open is harmless. */
  if (f->tmp_path) {
    if (f->fd >= 0) close(f->fd);
    unlink(f->tmp_path);
    alcm_mem_free(m, f->tmp_path);
  }
  alcm_mem_free(m, f->final_path);
  alcm_mem_free(m, f->buf);
  outfile_reset(f);
}

/* ---- input ---------------------------------------------------------- */

alcm_status alcm_infile_open(alcm_infile *f, const char *path, alcm_msg *msg) {
  f->fd = -1;
  f->size = 0;
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return alcm_fail(msg, ALCM_ERR_IO, "file '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    close(fd);
    return alcm_fail(msg, ALCM_ERR_IO, "file '%s': %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode) || st.st_size < 0) {
    close(fd);
    return alcm_fail(msg, ALCM_ERR_IO, "file '%s' is not a regular file",
                     path);
  }
  f->fd = fd;
  f->size = (uint64_t)st.st_size;
  return ALCM_OK;
}

alcm_status alcm_infile_read(const alcm_infile *f, uint64_t offset, void *dst,
                             size_t n, alcm_msg *msg) {
  uint64_t end;
  if (__builtin_add_overflow(offset, (uint64_t)n, &end) || end > f->size)
    return alcm_fail(msg, ALCM_ERR_TRUNCATED,
                     "read of %zu bytes at offset %" PRIu64
                     " past end of file (%" PRIu64 " bytes)",
                     n, offset, f->size);
  uint8_t *p = dst;
  uint64_t at = offset;
  size_t left = n;
  while (left) {
    const size_t want = left < IO_SLICE ? left : IO_SLICE;
    /* at <= size, and size came from off_t: the conversion is exact. */
    const ssize_t r = pread(f->fd, p, want, (off_t)at);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return alcm_fail(msg, ALCM_ERR_IO, "read at offset %" PRIu64 ": %s", at,
                       strerror(errno));
    if (r == 0)
      return alcm_fail(msg, ALCM_ERR_TRUNCATED,
                       "read at offset %" PRIu64 ": file shrank", at);
    p += r;
    at += (uint64_t)r;
    left -= (size_t)r;
  }
  return ALCM_OK;
}

void alcm_infile_close(alcm_infile *f) {
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  f->size = 0;
}

/* The writer reads back what it wrote to prove a duplicate chunk equal
 * before it shares a frame; the temp file is opened read-write for this. */
alcm_status alcm_outfile_read(alcm_outfile *f, uint64_t offset, void *dst,
                              size_t n, alcm_msg *msg) {
  const alcm_status st = outfile_flush(f, msg);
  if (st) return st;
  const alcm_infile view = {.fd = f->fd, .size = f->offset};
  return alcm_infile_read(&view, offset, dst, n, msg);
}
