/*
 * npz.c - NumPy .npz archives (numpy.savez, numpy.savez_compressed): a
 * zip of .npy members, stored or deflated. Import: each member's array
 * becomes a tensor "<archive path>:<member name without .npy>", streamed
 * from the zip through bounded buffers. Export: a new zip whose members
 * hold the same .npy bytes (preamble kept verbatim), in the same order and
 * with the same compression method; the zip records themselves are ours
 * (spec "Source record", format 3: arrays, names, dtypes and shapes come
 * back identical, the container bytes need not).
 */
#include <stdio.h>
#include <zlib.h>

#include "internal.h"
#include "importers.h"

typedef unsigned long long ull;

#define NZ_MAGIC "ANZ1"
#define NZ_PREFIX 12u

typedef struct {
  const alcm_zip_member *zm;
  uint8_t *pre;
  alcm_npy_info info;
  char *entry;
} nz_member;

typedef struct {
  uint8_t *buf;
  size_t at, cap;
} nz_buf;

static alcm_status nz_sink_buf(void *opaque, const uint8_t *p, size_t n) {
  nz_buf *const b = opaque;
  if (n > b->cap - b->at) n = b->cap - b->at;
  memcpy(b->buf + b->at, p, n);
  b->at += n;
  return ALCM_OK;
}

static alcm_status nz_sink_writer(void *opaque, const uint8_t *p, size_t n) {
  return alcm_writer_write(opaque, p, n);
}

/* The member's .npy preamble: first 12 bytes, then exactly its size. */
static alcm_status nz_preamble(const alcm_infile *in, nz_member *nm,
                               const char *file, const alcm_mem *m,
                               alcm_msg *msg) {
  char what[64 + 2 * ALCM_MAX_NAME];
  snprintf(what, sizeof what, "%s: member '%s'", file, nm->zm->name);
  uint8_t first[NZ_PREFIX];
  nz_buf b = {first, 0, sizeof first};
  alcm_status s = alcm_zip_read_(in, nm->zm, 0, sizeof first, nz_sink_buf, &b,
                                 file, m, msg);
  if (s != ALCM_OK) return s;
  s = alcm_npy_parse_(first, b.at, &nm->info, what, msg);
  if (s != ALCM_ERR_TRUNCATED || nm->info.preamble_size <= b.at) return s;
  const size_t size = nm->info.preamble_size;
  if (size > nm->zm->usize)
    return alcm_fail(msg, ALCM_ERR_TRUNCATED, "%s: .npy header of %zu bytes "
                     "in a %llu-byte member", what, size, (ull)nm->zm->usize);
  nz_buf all = {alcm_mem_alloc(m, size), 0, size};
  if (!all.buf) return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: header", what);
  nm->pre = all.buf;
  s = alcm_zip_read_(in, nm->zm, 0, size, nz_sink_buf, &all, file, m, msg);
  if (s == ALCM_OK) s = alcm_npy_parse_(all.buf, all.at, &nm->info, what, msg);
  if (s == ALCM_OK && nm->zm->usize - size != nm->info.data_size)
    s = alcm_fail(msg, ALCM_ERR_SIZE, "%s: %llu data bytes, dtype and shape "
                  "need %llu", what, (ull)(nm->zm->usize - size),
                  (ull)nm->info.data_size);
  return s;
}

static alcm_status nz_name(nz_member *nm, const char *archive_path,
                           const char *file, const alcm_mem *m,
                           alcm_msg *msg) {
  const char *const n = nm->zm->name;
  const size_t len = nm->zm->name_len;
  if (len <= 4 || strcmp(n + len - 4, ".npy") != 0 ||
      !alcm_path_valid((const uint8_t *)n, len))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: member '%s' is not a safe "
                     "'*.npy' name", file, n);
  const size_t a = strlen(archive_path);
  if (!(nm->entry = alcm_mem_alloc(m, a + 1 + len - 4 + 1)))
    return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: names", file);
  memcpy(nm->entry, archive_path, a);
  nm->entry[a] = ':';
  memcpy(nm->entry + a + 1, n, len - 4);
  nm->entry[a + 1 + len - 4] = '\0';
  return ALCM_OK;
}

/* Restore data: "ANZ1", u32 count, then per member u8 method, u8 0,
 * u16 name_len, u16 entry_len, u16 0, u32 preamble_len, name, entry,
 * preamble. */
static alcm_status nz_restore(const nz_member *nm, size_t count,
                              const char *file, const alcm_mem *m,
                              alcm_msg *msg, uint8_t **out, size_t *size) {
  size_t n = 8;
  for (size_t i = 0; i < count; i++)
    n += 12 + nm[i].zm->name_len + strlen(nm[i].entry) +
         nm[i].info.preamble_size;
  uint8_t *const buf = alcm_mem_alloc(m, n);
  if (!buf) return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: restore data", file);
  memcpy(buf, NZ_MAGIC, 4);
  alcm_st32(buf + 4, (uint32_t)count);
  uint8_t *p = buf + 8;
  for (size_t i = 0; i < count; i++) {
    const size_t el = strlen(nm[i].entry);
    p[0] = (uint8_t)nm[i].zm->method;
    p[1] = 0;
    alcm_st16(p + 2, (uint16_t)nm[i].zm->name_len);
    alcm_st16(p + 4, (uint16_t)el);
    alcm_st16(p + 6, 0);
    alcm_st32(p + 8, (uint32_t)nm[i].info.preamble_size);
    p += 12;
    memcpy(p, nm[i].zm->name, nm[i].zm->name_len);
    p += nm[i].zm->name_len;
    memcpy(p, nm[i].entry, el);
    p += el;
    memcpy(p, nm[i].pre, nm[i].info.preamble_size);
    p += nm[i].info.preamble_size;
  }
  *out = buf;
  *size = n;
  return ALCM_OK;
}

static alcm_status nz_import(alcm_writer *w, const alcm_infile *in,
                             const alcm_zip *z, nz_member *nm,
                             const char *path, const char *archive_path) {
  alcm_msg *const msg = alcm_writer_msg_(w);
  const alcm_mem *const m = alcm_writer_mem_(w);
  alcm_status s = ALCM_OK;
  for (size_t i = 0; i < z->count && s == ALCM_OK; i++) {
    nm[i].zm = &z->m[i];
    s = nz_name(&nm[i], archive_path, path, m, msg);
    if (s == ALCM_OK) s = nz_preamble(in, &nm[i], path, m, msg);
  }
  uint8_t *restore = NULL;
  size_t rsize = 0;
  if (s == ALCM_OK) s = nz_restore(nm, z->count, path, m, msg, &restore, &rsize);
  if (s == ALCM_OK &&
      (s = alcm_writer_add_source(w, ALCM_SOURCE_NPZ, archive_path, restore,
                                  rsize, NULL)))
    alcm_msg_prefix(msg, "%s", path);
  alcm_mem_free(m, restore);
  for (size_t i = 0; i < z->count && s == ALCM_OK; i++) {
    const alcm_npy_info *const h = &nm[i].info;
    s = alcm_writer_begin_tensor(w, nm[i].entry, h->dtype, h->ndim,
                                 h->ndim ? h->shape : NULL, h->flags);
    if (s == ALCM_OK)
      s = alcm_zip_read_(in, nm[i].zm, h->preamble_size, UINT64_MAX,
                         nz_sink_writer, w, path, m, msg);
    if (s == ALCM_OK) s = alcm_writer_end(w);
    if (s != ALCM_OK)
      alcm_msg_prefix(msg, "%s: member '%s' (tensor '%s')", path,
                       nm[i].zm->name, nm[i].entry);
  }
  return s;
}

ALCM_API alcm_status alcm_import_npz(alcm_writer *w, const char *path,
                                     const char *archive_path) {
  if (!w) return ALCM_ERR_ARGUMENT;
  alcm_msg *const msg = alcm_writer_msg_(w);
  const alcm_mem *const m = alcm_writer_mem_(w);
  if (!path || !archive_path)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "npz import: path and "
                     "archive_path are required");
  alcm_msg_clear(msg);
  alcm_infile in;
  alcm_status s = alcm_infile_open(&in, path, msg);
  if (s != ALCM_OK) return s;
  alcm_zip z;
  s = alcm_zip_open_(&z, &in, path, m, msg);
  nz_member *nm = NULL;
  if (s == ALCM_OK &&
      !(nm = alcm_mem_calloc(m, z.count ? z.count : 1, sizeof *nm)))
    s = alcm_fail(msg, ALCM_ERR_NOMEM, "%s: members", path);
  if (s == ALCM_OK) s = nz_import(w, &in, &z, nm, path, archive_path);
  for (size_t i = 0; nm && i < z.count; i++) {
    alcm_mem_free(m, nm[i].pre);
    alcm_mem_free(m, nm[i].entry);
  }
  alcm_mem_free(m, nm);
  alcm_zip_free_(&z, m);
  alcm_infile_close(&in);
  return s;
}

/* ---- export: a zip64 writer with data descriptors (APPNOTE 4.3.9) ------- */

typedef struct {
  const uint8_t *name, *entry_name, *pre;
  size_t name_len, entry_len, pre_len;
  unsigned method;
  size_t entry;
  uint64_t header_offset, csize, usize;
  uint32_t crc;
} nz_out;

typedef struct {
  alcm_outfile *out;
  alcm_msg *msg;
  z_stream zs;
  bool deflate;
  uint8_t *zbuf;
  size_t zcap;
  nz_out *o;
  alcm_status status;
} nz_writer;

static alcm_status nz_feed(nz_writer *x, const uint8_t *p, size_t n,
                           int flush) {
  /* crc32(crc, NULL, 0) would restart the CRC: skip empty pieces. */
  if (n) x->o->crc = (uint32_t)crc32(x->o->crc, p, (uInt)n);
  x->o->usize += n;
  if (!x->deflate) {
    x->o->csize += n;
    return alcm_outfile_write(x->out, p, n, x->msg);
  }
  x->zs.next_in = (Bytef *)(uintptr_t)p;
  x->zs.avail_in = (uInt)n;
  int zr;
  do {
    x->zs.next_out = x->zbuf;
    x->zs.avail_out = (uInt)x->zcap;
    zr = deflate(&x->zs, flush);
    const size_t got = x->zcap - x->zs.avail_out;
    x->o->csize += got;
    const alcm_status s = alcm_outfile_write(x->out, x->zbuf, got, x->msg);
    if (s != ALCM_OK) return s;
  } while (x->zs.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
  return ALCM_OK;
}

static int nz_stream_sink(void *opaque, const void *data, size_t size) {
  nz_writer *const x = opaque;
  x->status = nz_feed(x, data, size, Z_NO_FLUSH);
  return x->status != ALCM_OK;
}

static void nz_local(uint8_t *h, const nz_out *o) {
  memset(h, 0, 30 + 20);
  alcm_st32(h, 0x04034b50u);
  alcm_st16(h + 4, 45);
  alcm_st16(h + 6, 0x0008);
  alcm_st16(h + 8, (uint16_t)o->method);
  alcm_st16(h + 12, 0x21); /* 1980-01-01: deterministic */
  alcm_st32(h + 18, 0xFFFFFFFFu);
  alcm_st32(h + 22, 0xFFFFFFFFu);
  alcm_st16(h + 26, (uint16_t)o->name_len);
  alcm_st16(h + 28, 20);
}

static alcm_status nz_member_write(alcm_reader *r, nz_writer *x, nz_out *o) {
  uint8_t h[50];
  o->header_offset = x->out->offset;
  nz_local(h, o);
  alcm_st16(h + 30, 1); /* zip64 extra: sizes in the data descriptor */
  alcm_st16(h + 32, 16);
  alcm_status s = alcm_outfile_write(x->out, h, 30, x->msg);
  if (s == ALCM_OK) s = alcm_outfile_write(x->out, o->name, o->name_len, x->msg);
  if (s == ALCM_OK) s = alcm_outfile_write(x->out, h + 30, 20, x->msg);
  if (s != ALCM_OK) return s;
  x->o = o;
  x->deflate = o->method == 8;
  x->status = ALCM_OK;
  if (x->deflate) deflateReset(&x->zs);
  s = nz_feed(x, o->pre, o->pre_len, Z_NO_FLUSH);
  if (s == ALCM_OK) {
    s = alcm_reader_stream(r, o->entry, nz_stream_sink, x);
    if (x->status != ALCM_OK) s = x->status;
  }
  if (s == ALCM_OK && x->deflate) s = nz_feed(x, NULL, 0, Z_FINISH);
  if (s != ALCM_OK) return s;
  uint8_t dd[24];
  alcm_st32(dd, 0x08074b50u);
  alcm_st32(dd + 4, o->crc);
  alcm_st64(dd + 8, o->csize);
  alcm_st64(dd + 16, o->usize);
  return alcm_outfile_write(x->out, dd, sizeof dd, x->msg);
}

static alcm_status nz_central(nz_writer *x, const nz_out *o, size_t n) {
  const uint64_t cd_start = x->out->offset;
  alcm_status s = ALCM_OK;
  for (size_t i = 0; i < n && s == ALCM_OK; i++) {
    uint8_t h[46 + 28];
    memset(h, 0, sizeof h);
    alcm_st32(h, 0x02014b50u);
    alcm_st16(h + 4, 45 | (3 << 8));
    alcm_st16(h + 6, 45);
    alcm_st16(h + 8, 0x0008);
    alcm_st16(h + 10, (uint16_t)o[i].method);
    alcm_st16(h + 14, 0x21);
    alcm_st32(h + 16, o[i].crc);
    alcm_st32(h + 20, 0xFFFFFFFFu);
    alcm_st32(h + 24, 0xFFFFFFFFu);
    alcm_st16(h + 28, (uint16_t)o[i].name_len);
    alcm_st16(h + 30, 28);
    alcm_st32(h + 38, 0644u << 16);
    alcm_st32(h + 42, 0xFFFFFFFFu);
    alcm_st16(h + 46, 1);
    alcm_st16(h + 48, 24);
    alcm_st64(h + 50, o[i].usize);
    alcm_st64(h + 58, o[i].csize);
    alcm_st64(h + 66, o[i].header_offset);
    s = alcm_outfile_write(x->out, h, 46, x->msg);
    if (s == ALCM_OK) s = alcm_outfile_write(x->out, o[i].name, o[i].name_len, x->msg);
    if (s == ALCM_OK) s = alcm_outfile_write(x->out, h + 46, 28, x->msg);
  }
  if (s != ALCM_OK) return s;
  const uint64_t cd_end = x->out->offset;
  uint8_t e[56 + 20 + 22];
  memset(e, 0, sizeof e);
  alcm_st32(e, 0x06064b50u);
  alcm_st64(e + 4, 44);
  alcm_st16(e + 12, 45);
  alcm_st16(e + 14, 45);
  alcm_st64(e + 24, n);
  alcm_st64(e + 32, n);
  alcm_st64(e + 40, cd_end - cd_start);
  alcm_st64(e + 48, cd_start);
  alcm_st32(e + 56, 0x07064b50u);
  alcm_st64(e + 64, cd_end);
  alcm_st32(e + 72, 1);
  alcm_st32(e + 76, 0x06054b50u);
  alcm_st16(e + 84, 0xFFFF);
  alcm_st16(e + 86, 0xFFFF);
  alcm_st32(e + 88, 0xFFFFFFFFu);
  alcm_st32(e + 92, 0xFFFFFFFFu);
  return alcm_outfile_write(x->out, e, sizeof e, x->msg);
}

/* Parse the restore data into o[] and check every member's entry. */
static alcm_status nz_parse_restore(alcm_reader *r, size_t source,
                                    const alcm_source_info *src, nz_out *o,
                                    uint32_t n) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  alcm_cursor c;
  alcm_cursor_init(&c, src->restore + 8, src->restore_size - 8);
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *h;
    if (alcm_cursor_bytes(&c, 12, &h) || (h[0] != 0 && h[0] != 8) || h[1] ||
        alcm_le16(h + 6))
      return alcm_fail(msg, ALCM_ERR_CORRUPT, "source %zu '%s': npz restore "
                       "record %u", source, src->path, i);
    o[i].method = h[0];
    o[i].name_len = alcm_le16(h + 2);
    o[i].entry_len = alcm_le16(h + 4);
    o[i].pre_len = alcm_le32(h + 8);
    if (alcm_cursor_bytes(&c, o[i].name_len, &o[i].name) ||
        alcm_cursor_bytes(&c, o[i].entry_len, &o[i].entry_name) ||
        alcm_cursor_bytes(&c, o[i].pre_len, &o[i].pre) ||
        !alcm_path_valid(o[i].name, o[i].name_len) || !o[i].entry_len ||
        o[i].entry_len > ALCM_MAX_NAME)
      return alcm_fail(msg, ALCM_ERR_CORRUPT, "source %zu '%s': npz restore "
                       "record %u runs past the data or has a bad name",
                       source, src->path, i);
    char entry[ALCM_MAX_NAME + 1];
    memcpy(entry, o[i].entry_name, o[i].entry_len);
    entry[o[i].entry_len] = '\0';
    alcm_entry_info e;
    alcm_npy_info info;
    alcm_status s = alcm_reader_find(r, entry, &o[i].entry);
    if (s == ALCM_OK) s = alcm_reader_entry(r, o[i].entry, &e);
    if (s == ALCM_OK) s = alcm_npy_parse_(o[i].pre, o[i].pre_len, &info, entry, msg);
    if (s != ALCM_OK) {
      alcm_msg_prefix(msg, "source %zu '%s'", source, src->path);
      return s == ALCM_ERR_NOT_FOUND ? s : ALCM_ERR_CORRUPT;
    }
    if (e.source != source || e.kind != ALCM_ENTRY_TENSOR ||
        info.preamble_size != o[i].pre_len || info.dtype != e.dtype ||
        info.data_size != e.raw_size)
      return alcm_fail(msg, ALCM_ERR_CORRUPT, "source %zu '%s': entry '%s' "
                       "does not match its stored .npy header", source,
                       src->path, entry);
  }
  if (c.p != c.end)
    return alcm_fail(msg, ALCM_ERR_CORRUPT, "source %zu '%s': bytes after the "
                     "npz restore records", source, src->path);
  return ALCM_OK;
}

static alcm_status nz_write(alcm_reader *r, nz_out *o, uint32_t n,
                            const char *out_path, int overwrite) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  const alcm_mem *const m = alcm_reader_mem_(r);
  alcm_outfile out;
  alcm_status s = alcm_outfile_open(&out, m, out_path, overwrite, msg);
  if (s != ALCM_OK) return s;
  nz_writer x;
  memset(&x, 0, sizeof x);
  x.out = &out;
  x.msg = msg;
  x.zcap = (size_t)1 << 16;
  x.zbuf = alcm_mem_alloc(m, x.zcap);
  if (!x.zbuf || deflateInit2(&x.zs, 6, Z_DEFLATED, -MAX_WBITS, 8,
                              Z_DEFAULT_STRATEGY) != Z_OK) {
    alcm_mem_free(m, x.zbuf);
    alcm_outfile_abort(&out, m);
    return alcm_fail(msg, ALCM_ERR_NOMEM, "npz export: deflate");
  }
  for (uint32_t i = 0; i < n && s == ALCM_OK; i++)
    s = nz_member_write(r, &x, &o[i]);
  if (s == ALCM_OK) s = nz_central(&x, o, n);
  deflateEnd(&x.zs);
  alcm_mem_free(m, x.zbuf);
  if (s == ALCM_OK) s = alcm_outfile_commit(&out, m, msg);
  alcm_outfile_abort(&out, m);
  return s;
}

alcm_status alcm_npz_export_source_(alcm_reader *r, size_t source,
                                    const alcm_source_info *src,
                                    const char *out_path, int overwrite) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  const alcm_mem *const m = alcm_reader_mem_(r);
  if (src->restore_size < 8 || memcmp(src->restore, NZ_MAGIC, 4) != 0 ||
      alcm_le32(src->restore + 4) > src->restore_size / 12)
    return alcm_fail(msg, ALCM_ERR_CORRUPT, "source %zu '%s': restore data "
                     "is not an npz member table", source, src->path);
  const uint32_t n = alcm_le32(src->restore + 4);
  nz_out *const o = alcm_mem_calloc(m, n ? n : 1, sizeof *o);
  if (!o) return alcm_fail(msg, ALCM_ERR_NOMEM, "source %zu", source);
  alcm_status s = nz_parse_restore(r, source, src, o, n);
  if (s == ALCM_OK) s = nz_write(r, o, n, out_path, overwrite);
  alcm_mem_free(m, o);
  return s;
}
