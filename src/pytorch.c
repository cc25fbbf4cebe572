/*
 * pytorch.c - import the zip files torch.save writes (.pt, .pth, .bin);
 * rebuild them byte-exact.
 *
 * Layout (torch/serialization.py _save, PyTorchFileWriter): a zip whose
 * members all sit under one folder P/: P/data.pkl (the pickled object,
 * which names storages through persistent ids), P/data/<key> (each
 * storage's raw bytes, stored, 64-byte aligned), P/version, and in newer
 * versions P/byteorder and P/.data/serialization_id.
 *
 * The pickle runs on the allow-listed machine of pickle.c. Each storage
 * becomes one tensor entry holding its bytes once (spec "Source record",
 * format 4, names the entries); the restore data is the file with the
 * storages' data bytes cut out, plus where they go, so export writes the
 * same bytes back.
 */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "importers.h"

typedef unsigned long long ull;

#define PT_MAGIC "APT1"
#define PT_HEAD 24u
#define PT_MAX_PICKLE ((uint64_t)256 << 20)

typedef struct {
  uint32_t index;       /* into the pickle's storages */
  uint64_t offset, size;/* data bytes in the file */
  char *entry;          /* entry name */
  unsigned ndim;
  uint64_t shape[ALCM_MAX_NDIM];
} pt_storage;

typedef struct {
  alcm_zip zip;
  alcm_pk_result pk;
  pt_storage *st; /* sorted by offset */
  size_t nst;
} pt_file;

static void pt_free(pt_file *f, const alcm_mem *m) {
  for (size_t i = 0; i < f->nst; i++) alcm_mem_free(m, f->st[i].entry);
  alcm_mem_free(m, f->st);
  alcm_pickle_free_(&f->pk, m);
  alcm_zip_free_(&f->zip, m);
}

typedef struct {
  uint8_t *buf;
  size_t at, cap;
} pt_buf;

static alcm_status pt_sink(void *opaque, const uint8_t *p, size_t n) {
  pt_buf *const b = opaque;
  if (n > b->cap - b->at) return ALCM_ERR_SIZE; /* cannot happen: sized */
  memcpy(b->buf + b->at, p, n);
  b->at += n;
  return ALCM_OK;
}

static const alcm_zip_member *pt_member(const alcm_zip *z, const char *prefix,
                                        size_t plen, const char *rest) {
  const size_t rlen = strlen(rest);
  for (size_t i = 0; i < z->count; i++)
    if (z->m[i].name_len == plen + rlen &&
        memcmp(z->m[i].name, prefix, plen) == 0 &&
        memcmp(z->m[i].name + plen, rest, rlen) == 0)
      return &z->m[i];
  return NULL;
}

/* The one folder P/ holding data.pkl; every member must be under it. */
static alcm_status pt_prefix(const alcm_zip *z, const char *file,
                             alcm_msg *msg, size_t *plen,
                             const alcm_zip_member **pkl) {
  *pkl = NULL;
  for (size_t i = 0; i < z->count; i++) {
    const char *const n = z->m[i].name;
    const char *const slash = strchr(n, '/');
    if (!slash || strcmp(slash, "/data.pkl") != 0) continue;
    if (*pkl)
      return alcm_fail(msg, ALCM_ERR_INPUT, "%s: two data.pkl members ('%s', "
                       "'%s')", file, (*pkl)->name, n);
    *pkl = &z->m[i];
    *plen = (size_t)(slash - n) + 1;
  }
  if (!*pkl)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip without a <folder>/data.pkl "
                     "member: not a torch.save file", file);
  for (size_t i = 0; i < z->count; i++)
    if (z->m[i].name_len <= *plen ||
        memcmp(z->m[i].name, (*pkl)->name, *plen) != 0)
      return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s' is outside "
                       "the folder '%.*s'", file, z->m[i].name, (int)*plen,
                       (*pkl)->name);
  return ALCM_OK;
}

static alcm_status pt_read_member(const alcm_infile *in,
                                  const alcm_zip_member *zm, uint64_t cap,
                                  uint8_t **out, const char *file,
                                  const alcm_mem *m, alcm_msg *msg) {
  if (zm->usize > cap)
    return alcm_fail(msg, ALCM_ERR_LIMIT, "%s: member '%s' of %llu bytes "
                     "(at most %llu)", file, zm->name, (ull)zm->usize,
                     (ull)cap);
  pt_buf b = {alcm_mem_alloc(m, (size_t)zm->usize + 1), 0, (size_t)zm->usize};
  if (!b.buf) return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: '%s'", file, zm->name);
  const alcm_status s = alcm_zip_read_(in, zm, 0, UINT64_MAX, pt_sink, &b,
                                       file, m, msg);
  if (s != ALCM_OK) {
    alcm_mem_free(m, b.buf);
    return s;
  }
  *out = b.buf;
  return ALCM_OK;
}

static alcm_status pt_byteorder(const alcm_infile *in, const alcm_zip *z,
                                const char *prefix, size_t plen,
                                const char *file, const alcm_mem *m,
                                alcm_msg *msg) {
  const alcm_zip_member *const bo = pt_member(z, prefix, plen, "byteorder");
  if (!bo) return ALCM_OK;
  uint8_t *text = NULL;
  alcm_status s = pt_read_member(in, bo, 16, &text, file, m, msg);
  if (s != ALCM_OK) return s;
  if (bo->usize != 6 || memcmp(text, "little", 6) != 0)
    s = alcm_fail(msg, ALCM_ERR_UNSUPPORTED, "%s: member '%s' is not "
                  "\"little\" (big-endian checkpoints are not supported)",
                  file, bo->name);
  alcm_mem_free(m, text);
  return s;
}

/* The storage's entry: the first key that uses it; the view's shape when
 * that view alone covers the whole storage contiguously from 0, else 1-D. */
static alcm_status pt_entry(pt_storage *st, const alcm_pk_result *pk,
                            const char *archive_path, const alcm_mem *m) {
  const alcm_pk_storage *const s = &pk->storages[st->index];
  const alcm_pk_view *first = NULL;
  size_t users = 0;
  for (size_t i = 0; i < pk->view_count; i++) {
    if (pk->views[i].storage != st->index) continue;
    if (!users++) first = &pk->views[i];
  }
  st->ndim = 1;
  st->shape[0] = s->numel;
  if (first && users == 1 && first->offset == 0) {
    uint64_t expect = 1;
    bool contiguous = true;
    for (unsigned d = first->ndim; d-- > 0;) {
      if (first->shape[d] != 1 && (uint64_t)first->stride[d] != expect)
        contiguous = false;
      expect *= first->shape[d]; /* <= numel: checked by the pickle */
    }
    if (contiguous && expect == s->numel) {
      st->ndim = first->ndim;
      memcpy(st->shape, first->shape, sizeof st->shape);
    }
  }
  const char *const key = first ? first->key : s->key;
  const size_t a = strlen(archive_path), k = strlen(key);
  const char *const mid = first ? ":" : ":data/";
  const size_t mlen = strlen(mid);
  if (!(st->entry = alcm_mem_alloc(m, a + mlen + k + 1))) return ALCM_ERR_NOMEM;
  memcpy(st->entry, archive_path, a);
  memcpy(st->entry + a, mid, mlen);
  memcpy(st->entry + a + mlen, key, k + 1);
  return ALCM_OK;
}

static int pt_by_offset(const void *a, const void *b) {
  const pt_storage *const x = a, *const y = b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Match each storage with its member: stored, exactly numel x size. */
static alcm_status pt_storages(pt_file *f, const char *prefix, size_t plen,
                               const char *archive_path, const char *file,
                               const alcm_mem *m, alcm_msg *msg) {
  f->st = alcm_mem_calloc(m, f->pk.storage_count ? f->pk.storage_count : 1,
                          sizeof *f->st);
  if (!f->st) return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: storages", file);
  for (size_t i = 0; i < f->pk.storage_count; i++) {
    const alcm_pk_storage *const s = &f->pk.storages[i];
    char rest[ALCM_MAX_NAME + 8];
    snprintf(rest, sizeof rest, "data/%s", s->key);
    const alcm_zip_member *const zm = pt_member(&f->zip, prefix, plen, rest);
    if (!zm)
      return alcm_fail(msg, ALCM_ERR_INPUT, "%s: storage '%s': no member "
                       "'%.*s%s'", file, s->key, (int)plen, prefix, rest);
    uint64_t bytes;
    if (__builtin_mul_overflow(s->numel, (uint64_t)alcm_dtype_size(s->dtype),
                               &bytes))
      return alcm_fail(msg, ALCM_ERR_OVERFLOW, "%s: storage '%s': %llu "
                       "elements", file, s->key, (ull)s->numel);
    if (zm->method != 0 || zm->usize != bytes)
      return alcm_fail(msg, ALCM_ERR_INPUT, "%s: storage '%s': member '%s' "
                       "holds %llu bytes (%s), the pickle declares %llu "
                       "elements of %s = %llu bytes", file, s->key, zm->name,
                       (ull)zm->usize, zm->method ? "compressed" : "stored",
                       (ull)s->numel, alcm_dtype_name(s->dtype), (ull)bytes);
    pt_storage *const st = &f->st[f->nst++];
    st->index = (uint32_t)i;
    st->offset = zm->data_offset;
    st->size = bytes;
    if (pt_entry(st, &f->pk, archive_path, m))
      return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: entry name", file);
  }
  qsort(f->st, f->nst, sizeof *f->st, pt_by_offset);
  return ALCM_OK;
}

/* ---- restore data (spec "Source record", format 4) ---------------------- */

static size_t pt_restore_size(const pt_file *f, uint64_t skeleton) {
  size_t n = PT_HEAD + (size_t)skeleton;
  for (size_t i = 0; i < f->nst; i++)
    n += 24 + strlen(f->st[i].entry) + strlen(f->pk.storages[f->st[i].index].key);
  for (size_t i = 0; i < f->pk.view_count; i++)
    n += 16 + f->pk.views[i].ndim * 16u + strlen(f->pk.views[i].key);
  return n;
}

static uint8_t *pt_put(uint8_t *p, const void *s, size_t n) {
  memcpy(p, s, n);
  return p + n;
}

static alcm_status pt_restore(const pt_file *f, const alcm_infile *in,
                              const char *file, const alcm_mem *m,
                              alcm_msg *msg, uint8_t **out, size_t *size) {
  uint64_t cut = 0;
  for (size_t i = 0; i < f->nst; i++) cut += f->st[i].size;
  const uint64_t skeleton = in->size - cut;
  if (skeleton > (uint64_t)1 << 30)
    return alcm_fail(msg, ALCM_ERR_LIMIT, "%s: %llu bytes besides the "
                     "storages (at most 1 GiB)", file, (ull)skeleton);
  *size = pt_restore_size(f, skeleton);
  uint8_t *const buf = alcm_mem_alloc(m, *size);
  if (!buf) return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: restore data", file);
  uint8_t *p = pt_put(buf, PT_MAGIC, 4);
  alcm_st32(p, (uint32_t)f->nst);
  alcm_st32(p + 4, (uint32_t)f->pk.view_count);
  alcm_st32(p + 8, 0);
  alcm_st64(p + 12, in->size);
  p += 20;
  uint32_t *const pos = alcm_mem_calloc(m, f->pk.storage_count + 1, sizeof *pos);
  if (!pos) {
    alcm_mem_free(m, buf);
    return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: restore data", file);
  }
  for (size_t i = 0; i < f->nst; i++) {
    const pt_storage *const st = &f->st[i];
    const char *const key = f->pk.storages[st->index].key;
    pos[st->index] = (uint32_t)i;
    alcm_st64(p, st->offset);
    alcm_st64(p + 8, st->size);
    p[16] = (uint8_t)f->pk.storages[st->index].dtype;
    p[17] = p[18] = p[19] = 0;
    alcm_st16(p + 20, (uint16_t)strlen(st->entry));
    alcm_st16(p + 22, (uint16_t)strlen(key));
    p = pt_put(p + 24, st->entry, strlen(st->entry));
    p = pt_put(p, key, strlen(key));
  }
  for (size_t i = 0; i < f->pk.view_count; i++) {
    const alcm_pk_view *const v = &f->pk.views[i];
    alcm_st32(p, pos[v->storage]);
    p[4] = (uint8_t)v->ndim;
    p[5] = v->requires_grad;
    alcm_st16(p + 6, (uint16_t)strlen(v->key));
    alcm_st64(p + 8, v->offset);
    p += 16;
    for (unsigned d = 0; d < v->ndim; d++, p += 8) alcm_st64(p, v->shape[d]);
    for (unsigned d = 0; d < v->ndim; d++, p += 8)
      alcm_st64(p, (uint64_t)v->stride[d]);
    p = pt_put(p, v->key, strlen(v->key));
  }
  alcm_mem_free(m, pos);
  /* The file minus the storage bytes. */
  alcm_status s = ALCM_OK;
  uint64_t at = 0;
  for (size_t i = 0; i <= f->nst && s == ALCM_OK; i++) {
    const uint64_t end = i < f->nst ? f->st[i].offset : in->size;
    s = alcm_infile_read(in, at, p, (size_t)(end - at), msg);
    p += end - at;
    if (i < f->nst) at = f->st[i].offset + f->st[i].size;
  }
  if (s != ALCM_OK) {
    alcm_mem_free(m, buf);
    return s;
  }
  *out = buf;
  return ALCM_OK;
}

/* ---- import ------------------------------------------------------------- */

static alcm_status pt_parse(pt_file *f, const alcm_infile *in,
                            const char *path, const char *archive_path,
                            const alcm_mem *m, alcm_msg *msg) {
  alcm_status s = alcm_zip_open_(&f->zip, in, path, m, msg);
  size_t plen = 0;
  const alcm_zip_member *pkl = NULL;
  if (s == ALCM_OK) s = pt_prefix(&f->zip, path, msg, &plen, &pkl);
  if (s == ALCM_OK) s = pt_byteorder(in, &f->zip, pkl->name, plen, path, m, msg);
  uint8_t *bytes = NULL;
  if (s == ALCM_OK)
    s = pt_read_member(in, pkl, PT_MAX_PICKLE, &bytes, path, m, msg);
  if (s == ALCM_OK) {
    char what[64 + ALCM_MAX_NAME];
    snprintf(what, sizeof what, "%s: %s", path, pkl->name);
    s = alcm_pickle_run_(bytes, (size_t)pkl->usize, &f->pk, what, m, msg);
  }
  alcm_mem_free(m, bytes);
  if (s == ALCM_OK)
    s = pt_storages(f, pkl->name, plen, archive_path, path, m, msg);
  return s;
}

static alcm_status pt_import(alcm_writer *w, const alcm_infile *in,
                             const char *path, const char *archive_path) {
  alcm_msg *const msg = alcm_writer_msg_(w);
  const alcm_mem *const m = alcm_writer_mem_(w);
  pt_file f;
  memset(&f, 0, sizeof f);
  alcm_status s = pt_parse(&f, in, path, archive_path, m, msg);
  uint8_t *restore = NULL;
  size_t rsize = 0;
  if (s == ALCM_OK) s = pt_restore(&f, in, path, m, msg, &restore, &rsize);
  if (s == ALCM_OK) {
    s = alcm_writer_add_source(w, ALCM_SOURCE_PYTORCH, archive_path, restore,
                               rsize, NULL);
    if (s != ALCM_OK) alcm_msg_prefix(msg, "%s", path);
  }
  alcm_mem_free(m, restore);
  for (size_t i = 0; i < f.nst && s == ALCM_OK; i++) {
    const pt_storage *const st = &f.st[i];
    s = alcm_writer_begin_tensor(w, st->entry, f.pk.storages[st->index].dtype,
                                 st->ndim, st->shape, 0);
    if (s != ALCM_OK) {
      alcm_msg_prefix(msg, "%s: tensor '%s'", path, st->entry);
      break;
    }
    s = alcm_import_copy_(w, in, st->offset, st->size, path, st->entry);
    if (s == ALCM_OK && (s = alcm_writer_end(w)))
      alcm_msg_prefix(msg, "%s: tensor '%s'", path, st->entry);
  }
  pt_free(&f, m);
  return s;
}

ALCM_API alcm_status alcm_import_pytorch(alcm_writer *w, const char *path,
                                         const char *archive_path) {
  if (!w) return ALCM_ERR_ARGUMENT;
  alcm_msg *const msg = alcm_writer_msg_(w);
  if (!path || !archive_path)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "pytorch import: path and "
                     "archive_path are required");
  alcm_msg_clear(msg);
  alcm_infile in;
  alcm_status s = alcm_infile_open(&in, path, msg);
  if (s != ALCM_OK) return s;
  alcm_writer_lend_(w, &in);
  s = pt_import(w, &in, path, archive_path);
  s = alcm_import_release_(w, &in, path, s);
  alcm_infile_close(&in);
  return s;
}

/* ---- export ------------------------------------------------------------- */

typedef struct {
  uint64_t offset, size;
  size_t entry;
} pt_piece;

static alcm_status pt_bad(alcm_msg *msg, size_t source, const char *path,
                          const char *what) {
  return alcm_fail(msg, ALCM_ERR_CORRUPT, "source %zu '%s': PyTorch restore "
                   "data: %s", source, path, what);
}

/* Parse the storage table; check entries; leave c at the view table. */
static alcm_status pt_parse_restore(alcm_reader *r, size_t source,
                                    const alcm_source_info *src,
                                    pt_piece *pc, uint32_t n, alcm_cursor *c,
                                    uint64_t file_size) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  uint64_t end = 0, cut = 0;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *h, *name, *key;
    if (alcm_cursor_bytes(c, 24, &h))
      return pt_bad(msg, source, src->path, "storage table truncated");
    const size_t nl = alcm_le16(h + 20), kl = alcm_le16(h + 22);
    if (alcm_cursor_bytes(c, nl, &name) || alcm_cursor_bytes(c, kl, &key) ||
        nl == 0 || nl > ALCM_MAX_NAME || h[17] || h[18] || h[19])
      return pt_bad(msg, source, src->path, "bad storage record");
    pc[i].offset = alcm_le64(h);
    pc[i].size = alcm_le64(h + 8);
    if (pc[i].offset < end || pc[i].offset > file_size ||
        file_size - pc[i].offset < pc[i].size)
      return pt_bad(msg, source, src->path, "storages out of order or "
                    "outside the file");
    end = pc[i].offset + pc[i].size;
    cut += pc[i].size;
    char entry[ALCM_MAX_NAME + 1];
    memcpy(entry, name, nl);
    entry[nl] = '\0';
    alcm_entry_info e;
    alcm_status s = alcm_reader_find(r, entry, &pc[i].entry);
    if (s == ALCM_OK) s = alcm_reader_entry(r, pc[i].entry, &e);
    if (s != ALCM_OK) {
      alcm_msg_prefix(msg, "source %zu '%s': storage entry '%s'", source,
                       src->path, entry);
      return s;
    }
    if (e.source != source || e.kind != ALCM_ENTRY_TENSOR ||
        e.dtype != h[16] || e.raw_size != pc[i].size)
      return alcm_fail(msg, ALCM_ERR_CORRUPT, "source %zu '%s': entry '%s' "
                       "does not match its storage record", source, src->path,
                       entry);
  }
  (void)cut;
  return ALCM_OK;
}

static alcm_status pt_skip_views(alcm_cursor *c, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *h;
    if (alcm_cursor_bytes(c, 16, &h)) return ALCM_ERR_CORRUPT;
    if (h[4] > ALCM_MAX_NDIM || h[5] > 1) return ALCM_ERR_CORRUPT;
    if (alcm_cursor_skip(c, (size_t)h[4] * 16u + alcm_le16(h + 6)))
      return ALCM_ERR_CORRUPT;
  }
  return ALCM_OK;
}

static alcm_status pt_write(alcm_reader *r, const pt_piece *pc, uint32_t n,
                            const uint8_t *skel, uint64_t file_size,
                            const char *out_path, int overwrite) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  const alcm_mem *const m = alcm_reader_mem_(r);
  alcm_outfile out;
  alcm_status s = alcm_outfile_open(&out, m, out_path, overwrite, msg);
  if (s != ALCM_OK) return s;
  uint64_t at = 0;
  for (uint32_t i = 0; i <= n && s == ALCM_OK; i++) {
    const uint64_t end = i < n ? pc[i].offset : file_size;
    s = alcm_outfile_write(&out, skel, (size_t)(end - at), msg);
    skel += end - at;
    if (s == ALCM_OK && i < n) {
      s = alcm_export_entry_(r, pc[i].entry, &out);
      at = pc[i].offset + pc[i].size;
    }
  }
  if (s == ALCM_OK) s = alcm_outfile_commit(&out, m, msg);
  alcm_outfile_abort(&out, m);
  return s;
}

alcm_status alcm_pytorch_export_source_(alcm_reader *r, size_t source,
                                        const alcm_source_info *src,
                                        const char *out_path, int overwrite) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  const alcm_mem *const m = alcm_reader_mem_(r);
  alcm_cursor c;
  alcm_cursor_init(&c, src->restore, src->restore_size);
  const uint8_t *h;
  if (alcm_cursor_bytes(&c, PT_HEAD, &h) || memcmp(h, PT_MAGIC, 4) != 0 ||
      alcm_le32(h + 12) != 0)
    return pt_bad(msg, source, src->path, "bad header");
  const uint32_t n = alcm_le32(h + 4), views = alcm_le32(h + 8);
  const uint64_t file_size = alcm_le64(h + 16);
  if (n > src->restore_size / 24)
    return pt_bad(msg, source, src->path, "storage count");
  pt_piece *const pc = alcm_mem_calloc(m, n ? n : 1, sizeof *pc);
  if (!pc) return alcm_fail(msg, ALCM_ERR_NOMEM, "source %zu", source);
  alcm_status s = pt_parse_restore(r, source, src, pc, n, &c, file_size);
  if (s == ALCM_OK && pt_skip_views(&c, views))
    s = pt_bad(msg, source, src->path, "bad view record");
  uint64_t cut = 0;
  for (uint32_t i = 0; i < n; i++) cut += pc[i].size;
  if (s == ALCM_OK && (uint64_t)(c.end - c.p) != file_size - cut)
    s = pt_bad(msg, source, src->path, "skeleton size does not match");
  if (s == ALCM_OK)
    s = pt_write(r, pc, n, c.p, file_size, out_path, overwrite);
  alcm_mem_free(m, pc);
  return s;
}
