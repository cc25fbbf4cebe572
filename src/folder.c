/*
 * folder.c - a model folder in and out: every checkpoint file we
 * understand as tensors (each with its own source), every other regular
 * file as a blob, so a Hugging Face style folder (config.json, tokenizer
 * files, sharded safetensors + model.safetensors.index.json) packs into
 * one archive and comes back as the same tree.
 *
 * Untrusted names both ways: on import we never follow a symbolic link
 * (fstatat with AT_SYMLINK_NOFOLLOW, directories opened with O_NOFOLLOW
 * one component at a time); on export each stored path is validated
 * again (spec "Names") and its directories are made with mkdirat below
 * the target and opened with O_NOFOLLOW, so a link planted in the target
 * cannot redirect a write outside it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "importers.h"

#define FD_MAX_FILES ((size_t)1 << 20)
#define FD_MAX_DEPTH 64u

typedef struct {
  char **path; /* relative paths of regular files */
  size_t count, cap;
} fd_list;

static void fd_list_free(fd_list *l, const alcm_mem *m) {
  for (size_t i = 0; i < l->count; i++) alcm_mem_free(m, l->path[i]);
  alcm_mem_free(m, l->path);
  memset(l, 0, sizeof *l);
}

static alcm_status fd_list_add(fd_list *l, const alcm_mem *m, const char *s,
                               size_t n) {
  if (l->count == FD_MAX_FILES) return ALCM_ERR_LIMIT;
  void *p = l->path;
  size_t bytes = l->cap * sizeof *l->path;
  if (alcm_mem_reserve(m, &p, &bytes, (l->count + 1) * sizeof *l->path))
    return ALCM_ERR_NOMEM;
  l->path = p;
  l->cap = bytes / sizeof *l->path;
  if (!(l->path[l->count] = alcm_mem_strndup(m, s, n))) return ALCM_ERR_NOMEM;
  l->count++;
  return ALCM_OK;
}

/* Open directory rel (relative, validated) below root, one component at a
 * time, never through a symbolic link. With make, missing components are
 * created. @return the fd or -1 (errno set). */
static int fd_open_dir(int root, const char *rel, size_t n, bool make) {
  int fd = dup(root);
  size_t at = 0;
  while (fd >= 0 && at < n) {
    const char *const slash = memchr(rel + at, '/', n - at);
    const size_t len = slash ? (size_t)(slash - (rel + at)) : n - at;
    char comp[ALCM_MAX_NAME + 1];
    memcpy(comp, rel + at, len);
    comp[len] = '\0';
    if (make && mkdirat(fd, comp, 0777) != 0 && errno != EEXIST) {
      close(fd);
      return -1;
    }
    const int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                          O_CLOEXEC);
    const int err = errno;
    close(fd);
    errno = err;
    fd = next;
    at += len + (slash ? 1 : 0);
  }
  return fd;
}

/* ---- import ------------------------------------------------------------- */

typedef struct {
  const char *root;
  int rootfd;
  const alcm_mem *m;
  alcm_msg *msg;
  fd_list files, dirs; /* dirs: a work queue of relative directories */
} fd_walk;

static alcm_status fd_entry(fd_walk *wk, int dfd, const char *dir,
                            const char *name) {
  char rel[ALCM_MAX_NAME + 2];
  const int n = snprintf(rel, sizeof rel, "%s%s%s", dir, *dir ? "/" : "", name);
  if (n < 0 || (size_t)n > ALCM_MAX_NAME ||
      !alcm_path_valid((const uint8_t *)rel, (size_t)n))
    return alcm_fail(wk->msg, ALCM_ERR_NAME, "%s: '%s%s%s': not a valid "
                     "archive path (UTF-8, no control bytes, no backslash, at "
                     "most %u bytes)", wk->root, dir, *dir ? "/" : "", name,
                     ALCM_MAX_NAME);
  struct stat st;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return alcm_fail(wk->msg, ALCM_ERR_IO, "%s: '%s': %s", wk->root, rel,
                     strerror(errno));
  if (S_ISLNK(st.st_mode))
    return alcm_fail(wk->msg, ALCM_ERR_INPUT, "%s: '%s' is a symbolic link: "
                     "links are not followed (copy the file into the folder)",
                     wk->root, rel);
  alcm_status s;
  if (S_ISDIR(st.st_mode)) s = fd_list_add(&wk->dirs, wk->m, rel, (size_t)n);
  else if (S_ISREG(st.st_mode)) s = fd_list_add(&wk->files, wk->m, rel, (size_t)n);
  else
    return alcm_fail(wk->msg, ALCM_ERR_INPUT, "%s: '%s' is not a regular file "
                     "or directory", wk->root, rel);
  if (s != ALCM_OK)
    return alcm_fail(wk->msg, s, "%s: '%s': file list", wk->root, rel);
  return ALCM_OK;
}

static alcm_status fd_scan_dir(fd_walk *wk, const char *dir) {
  size_t depth = 0;
  for (const char *p = dir; *p; p++) depth += *p == '/';
  if (*dir && depth + 1 > FD_MAX_DEPTH)
    return alcm_fail(wk->msg, ALCM_ERR_LIMIT, "%s: '%s': folders nested deeper "
                     "than %u", wk->root, dir, FD_MAX_DEPTH);
  const int dfd = fd_open_dir(wk->rootfd, dir, strlen(dir), false);
  DIR *const d = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (!d) {
    const int err = errno;
    if (dfd >= 0) close(dfd);
    return alcm_fail(wk->msg, ALCM_ERR_IO, "%s: folder '%s': %s", wk->root,
                     *dir ? dir : ".", strerror(err));
  }
  alcm_status s = ALCM_OK;
  const struct dirent *de;
  while (s == ALCM_OK && (de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    s = fd_entry(wk, dirfd(d), dir, de->d_name);
  }
  closedir(d);
  return s;
}

static int fd_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool fd_ends(const char *s, const char *suffix) {
  const size_t n = strlen(s), k = strlen(suffix);
  return n > k && strcmp(s + n - k, suffix) == 0;
}

static bool fd_is_zip(const char *path) {
  uint8_t b[4] = {0};
  FILE *const f = fopen(path, "rb");
  if (!f) return false;
  const size_t n = fread(b, 1, sizeof b, f);
  fclose(f);
  return n == 4 && memcmp(b, "PK\x03\x04", 4) == 0;
}

static alcm_status fd_blob(alcm_writer *w, const char *full, const char *rel) {
  alcm_msg *const msg = alcm_writer_msg_(w);
  alcm_infile in;
  alcm_status s = alcm_writer_add_source(w, ALCM_SOURCE_FILE, rel, NULL, 0,
                                         NULL);
  if (s == ALCM_OK) s = alcm_writer_begin_blob(w, rel);
  if (s != ALCM_OK) {
    alcm_msg_prefix(msg, "%s", full);
    return s;
  }
  if ((s = alcm_infile_open(&in, full, msg))) return s;
  s = alcm_import_copy_(w, &in, 0, in.size, full, rel);
  alcm_infile_close(&in);
  if (s == ALCM_OK && (s = alcm_writer_end(w))) alcm_msg_prefix(msg, "%s", full);
  return s;
}

static alcm_status fd_import_file(alcm_writer *w, const char *full,
                                  const char *rel) {
  if (fd_ends(rel, ".safetensors")) return alcm_import_safetensors(w, full, rel);
  if (fd_ends(rel, ".npz")) return alcm_import_npz(w, full, rel);
  if (fd_ends(rel, ".npy")) {
    char name[ALCM_MAX_NAME + 1];
    const size_t n = strlen(rel) - 4;
    memcpy(name, rel, n);
    name[n] = '\0';
    return alcm_import_npy(w, full, rel, name);
  }
  if ((fd_ends(rel, ".pt") || fd_ends(rel, ".pth") || fd_ends(rel, ".bin") ||
       fd_ends(rel, ".ckpt")) &&
      fd_is_zip(full))
    return alcm_import_pytorch(w, full, rel);
  return fd_blob(w, full, rel);
}

static alcm_status fd_import_all(alcm_writer *w, fd_walk *wk) {
  alcm_status s = fd_scan_dir(wk, "");
  /* dirs grows while we scan: a queue without recursion. */
  for (size_t i = 0; i < wk->dirs.count && s == ALCM_OK; i++)
    s = fd_scan_dir(wk, wk->dirs.path[i]);
  if (s != ALCM_OK) return s;
  qsort(wk->files.path, wk->files.count, sizeof *wk->files.path, fd_cmp);
  const size_t rl = strlen(wk->root);
  char *const full = alcm_mem_alloc(wk->m, rl + ALCM_MAX_NAME + 2);
  if (!full) return alcm_fail(wk->msg, ALCM_ERR_NOMEM, "%s: paths", wk->root);
  for (size_t i = 0; i < wk->files.count && s == ALCM_OK; i++) {
    snprintf(full, rl + ALCM_MAX_NAME + 2, "%s%s%s", wk->root,
             rl && wk->root[rl - 1] == '/' ? "" : "/", wk->files.path[i]);
    s = fd_import_file(w, full, wk->files.path[i]);
  }
  alcm_mem_free(wk->m, full);
  return s;
}

ALCM_API alcm_status alcm_import_folder(alcm_writer *w, const char *dir) {
  if (!w) return ALCM_ERR_ARGUMENT;
  alcm_msg *const msg = alcm_writer_msg_(w);
  if (!dir) return alcm_fail(msg, ALCM_ERR_ARGUMENT, "folder import: no path");
  alcm_msg_clear(msg);
  fd_walk wk;
  memset(&wk, 0, sizeof wk);
  wk.root = dir;
  wk.m = alcm_writer_mem_(w);
  wk.msg = msg;
  wk.rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (wk.rootfd < 0)
    return alcm_fail(msg, ALCM_ERR_IO, "%s: %s", dir, strerror(errno));
  const alcm_status s = fd_import_all(w, &wk);
  fd_list_free(&wk.files, wk.m);
  fd_list_free(&wk.dirs, wk.m);
  close(wk.rootfd);
  return s;
}

/* ---- export ------------------------------------------------------------- */

static alcm_status fd_export_one(alcm_reader *r, int root, const char *out_dir,
                                 size_t i, int overwrite) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  const alcm_mem *const m = alcm_reader_mem_(r);
  alcm_source_info src;
  alcm_status s = alcm_reader_source(r, i, &src);
  if (s != ALCM_OK) return s;
  const size_t n = strlen(src.path);
  if (!n || !alcm_path_valid((const uint8_t *)src.path, n))
    return alcm_fail(msg, ALCM_ERR_NAME, "source %zu: path '%s' is empty or "
                     "not a safe relative path", i, src.path);
  const char *const slash = strrchr(src.path, '/');
  if (slash) {
    const int fd = fd_open_dir(root, src.path, (size_t)(slash - src.path), true);
    if (fd < 0)
      return alcm_fail(msg, ALCM_ERR_IO, "%s: folders of '%s': %s (symbolic "
                       "links in the target are refused)", out_dir, src.path,
                       strerror(errno));
    close(fd);
  }
  const size_t dl = strlen(out_dir);
  char *const out = alcm_mem_alloc(m, dl + n + 2);
  if (!out) return alcm_fail(msg, ALCM_ERR_NOMEM, "%s", out_dir);
  snprintf(out, dl + n + 2, "%s%s%s", out_dir,
           dl && out_dir[dl - 1] == '/' ? "" : "/", src.path);
  s = alcm_export_source(r, i, out, overwrite);
  alcm_mem_free(m, out);
  return s;
}

ALCM_API alcm_status alcm_export_folder(alcm_reader *r, const char *out_dir,
                                        int overwrite) {
  if (!r) return ALCM_ERR_ARGUMENT;
  alcm_msg *const msg = alcm_reader_msg_(r);
  if (!out_dir) return alcm_fail(msg, ALCM_ERR_ARGUMENT, "export: no folder");
  alcm_msg_clear(msg);
  if (mkdir(out_dir, 0777) != 0 && errno != EEXIST)
    return alcm_fail(msg, ALCM_ERR_IO, "%s: %s", out_dir, strerror(errno));
  const int root = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return alcm_fail(msg, ALCM_ERR_IO, "%s: %s", out_dir, strerror(errno));
  alcm_status s = ALCM_OK;
  const size_t n = alcm_reader_source_count(r);
  for (size_t i = 0; i < n && s == ALCM_OK; i++)
    s = fd_export_one(r, root, out_dir, i, overwrite);
  close(root);
  return s;
}
