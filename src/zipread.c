/*
 * zipread.c - a strict reader for the zip archives that numpy.savez and
 * torch.save write (PKWARE APPNOTE.TXT 6.3: 4.3.12 central directory,
 * 4.3.16 end of central directory, 4.3.14/4.3.15 zip64, 4.3.7 local
 * header, 4.5.3 zip64 extra field).
 *
 * Why not libzip: the PyTorch importer needs each member's data offset in
 * the file (to cut the storages out and put them back byte-exact), which
 * libzip does not expose, and the checks that matter against hostile
 * files (members that overlap, sizes a deflate stream cannot reach) are
 * ours to state anyway. Inflation is zlib's, through bounded buffers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "internal.h"
#include "importers.h"

typedef unsigned long long ull;

#define ZIP_EOCD_SIZE 22u
#define ZIP_EOCD_SIG 0x06054b50u
#define ZIP_LOC64_SIZE 20u
#define ZIP_LOC64_SIG 0x07064b50u
#define ZIP_EOCD64_SIZE 56u
#define ZIP_EOCD64_SIG 0x06064b50u
#define ZIP_CEN_SIZE 46u
#define ZIP_CEN_SIG 0x02014b50u
#define ZIP_LOC_SIZE 30u
#define ZIP_LOC_SIG 0x04034b50u
#define ZIP_MAX_COMMENT 0xFFFFu
#define ZIP_MAX_CD ((uint64_t)256 << 20) /* central directory bytes read */
#define ZIP_MAX_RATIO 1032u /* deflate's maximum expansion (RFC 1951) */
#define ZIP_FLAG_ENCRYPTED 0x0001u
#define ZIP_FLAG_DESCRIPTOR 0x0008u
#define ZIP_FLAG_STRONG 0x0040u
#define ZIP_IN_PIECE ((size_t)64 << 10)

/* ---- end of central directory ------------------------------------------ */

typedef struct {
  uint64_t count, cd_size, cd_offset, end; /* end: where the CD must stop */
} zip_eocd;

static alcm_status zip_find_eocd(const alcm_infile *in, const char *file,
                                 const alcm_mem *m, alcm_msg *msg,
                                 uint64_t *at) {
  if (in->size < ZIP_EOCD_SIZE)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: %llu bytes, too short for a "
                     "zip end record", file, (ull)in->size);
  const uint64_t span64 = in->size < ZIP_EOCD_SIZE + ZIP_MAX_COMMENT
                              ? in->size
                              : ZIP_EOCD_SIZE + ZIP_MAX_COMMENT;
  const size_t span = (size_t)span64;
  uint8_t *const buf = alcm_mem_alloc(m, span);
  if (!buf) return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: zip tail", file);
  alcm_status s = alcm_infile_read(in, in->size - span, buf, span, msg);
  if (s == ALCM_OK) {
    s = alcm_fail(msg, ALCM_ERR_INPUT, "%s: no zip end-of-central-directory "
                  "record", file);
    /* The last record whose comment runs exactly to the end of file. */
    for (size_t i = span - ZIP_EOCD_SIZE + 1; i-- > 0;) {
      if (alcm_le32(buf + i) != ZIP_EOCD_SIG) continue;
      if (alcm_le16(buf + i + 20) != span - i - ZIP_EOCD_SIZE) continue;
      *at = in->size - span + i;
      alcm_msg_clear(msg);
      s = ALCM_OK;
      break;
    }
  }
  alcm_mem_free(m, buf);
  return s;
}

static alcm_status zip_eocd64(const alcm_infile *in, uint64_t eocd_at,
                              zip_eocd *e, const char *file, alcm_msg *msg) {
  uint8_t loc[ZIP_LOC64_SIZE], rec[ZIP_EOCD64_SIZE];
  if (eocd_at < ZIP_LOC64_SIZE ||
      alcm_infile_read(in, eocd_at - ZIP_LOC64_SIZE, loc, sizeof loc, msg) ||
      alcm_le32(loc) != ZIP_LOC64_SIG)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip end record at offset %llu "
                     "needs a zip64 locator, none found", file, (ull)eocd_at);
  const uint64_t at = alcm_le64(loc + 8);
  if (alcm_le32(loc + 4) != 0 || alcm_le32(loc + 16) > 1 ||
      at > eocd_at - ZIP_LOC64_SIZE ||
      eocd_at - ZIP_LOC64_SIZE - at < ZIP_EOCD64_SIZE)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip64 locator at offset %llu: "
                     "bad disk or record offset %llu", file,
                     (ull)(eocd_at - ZIP_LOC64_SIZE), (ull)at);
  alcm_status s = alcm_infile_read(in, at, rec, sizeof rec, msg);
  if (s != ALCM_OK) return s;
  if (alcm_le32(rec) != ZIP_EOCD64_SIG || alcm_le32(rec + 16) != 0 ||
      alcm_le32(rec + 20) != 0 || alcm_le64(rec + 24) != alcm_le64(rec + 32))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip64 end record at offset "
                     "%llu: bad signature or multi-disk archive", file,
                     (ull)at);
  e->count = alcm_le64(rec + 32);
  e->cd_size = alcm_le64(rec + 40);
  e->cd_offset = alcm_le64(rec + 48);
  e->end = at;
  return ALCM_OK;
}

static alcm_status zip_read_eocd(const alcm_infile *in, zip_eocd *e,
                                 const char *file, const alcm_mem *m,
                                 alcm_msg *msg) {
  uint64_t at = 0;
  alcm_status s = zip_find_eocd(in, file, m, msg, &at);
  if (s != ALCM_OK) return s;
  uint8_t b[ZIP_EOCD_SIZE];
  if ((s = alcm_infile_read(in, at, b, sizeof b, msg))) return s;
  if (alcm_le16(b + 4) != 0 || alcm_le16(b + 6) != 0 ||
      alcm_le16(b + 8) != alcm_le16(b + 10))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip end record at offset %llu: "
                     "multi-disk archives are not supported", file, (ull)at);
  e->count = alcm_le16(b + 10);
  e->cd_size = alcm_le32(b + 12);
  e->cd_offset = alcm_le32(b + 16);
  e->end = at;
  /* Some writers (miniz, so torch.save) add the zip64 records even when
   * the 32-bit fields suffice: a locator right before the end record
   * means they are there and authoritative. */
  uint8_t loc[4] = {0};
  const bool has64 = at >= ZIP_LOC64_SIZE &&
                     alcm_infile_read(in, at - ZIP_LOC64_SIZE, loc, 4, msg) ==
                         ALCM_OK &&
                     alcm_le32(loc) == ZIP_LOC64_SIG;
  if (has64 || e->count == 0xFFFF || e->cd_size == 0xFFFFFFFFu ||
      e->cd_offset == 0xFFFFFFFFu)
    s = zip_eocd64(in, at, e, file, msg);
  if (s != ALCM_OK) return s;
  if (e->cd_offset > e->end || e->cd_size != e->end - e->cd_offset)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip central directory at "
                     "offset %llu (%llu bytes) does not end at its end record "
                     "(offset %llu)", file, (ull)e->cd_offset,
                     (ull)e->cd_size, (ull)e->end);
  if (e->cd_size > ZIP_MAX_CD)
    return alcm_fail(msg, ALCM_ERR_LIMIT, "%s: zip central directory of %llu "
                     "bytes", file, (ull)e->cd_size);
  if (e->count > e->cd_size / ZIP_CEN_SIZE)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip end record claims %llu "
                     "members in a %llu-byte central directory", file,
                     (ull)e->count, (ull)e->cd_size);
  return ALCM_OK;
}

/* ---- central directory records ------------------------------------------ */

/* The zip64 extra field (id 1) holds, in this order, the fields whose
 * 32-bit value is all ones. */
static alcm_status zip_extra64(const uint8_t *x, size_t n, alcm_zip_member *z,
                               bool want_u, bool want_c, bool want_o,
                               const char *file, alcm_msg *msg) {
  alcm_cursor c;
  alcm_cursor_init(&c, x, n);
  while (c.end - c.p >= 4) {
    uint16_t id, len;
    const uint8_t *d;
    alcm_cursor_u16(&c, &id);
    alcm_cursor_u16(&c, &len);
    if (alcm_cursor_bytes(&c, len, &d)) break;
    if (id != 1) continue;
    alcm_cursor f;
    alcm_cursor_init(&f, d, len);
    uint64_t v;
    if (want_u && !alcm_cursor_u64(&f, &v)) {
      z->usize = v;
      want_u = false;
    }
    if (want_c && !alcm_cursor_u64(&f, &v)) {
      z->csize = v;
      want_c = false;
    }
    if (want_o && !alcm_cursor_u64(&f, &v)) {
      z->header_offset = v;
      want_o = false;
    }
    break;
  }
  if (want_u || want_c || want_o)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s': 32-bit size "
                     "or offset is 0xFFFFFFFF without a zip64 extra field",
                     file, z->name);
  return ALCM_OK;
}

static alcm_status zip_record(alcm_cursor *c, alcm_zip_member *z,
                              const char *file, const alcm_mem *m,
                              alcm_msg *msg, size_t i) {
  const uint8_t *h, *name, *extra;
  if (alcm_cursor_bytes(c, ZIP_CEN_SIZE, &h) || alcm_le32(h) != ZIP_CEN_SIG)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip central record %zu: "
                     "truncated or bad signature", file, i);
  const size_t nlen = alcm_le16(h + 28), xlen = alcm_le16(h + 30),
               clen = alcm_le16(h + 32);
  if (alcm_cursor_bytes(c, nlen, &name) || alcm_cursor_bytes(c, xlen, &extra) ||
      alcm_cursor_skip(c, clen))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip central record %zu: name "
                     "or fields run past the central directory", file, i);
  if (!alcm_tensor_name_valid(name, nlen))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip central record %zu: member "
                     "name is empty, not UTF-8 or has control bytes", file, i);
  if (!(z->name = alcm_mem_strndup(m, (const char *)name, nlen)))
    return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: zip member name", file);
  z->name_len = nlen;
  z->flags = alcm_le16(h + 8);
  z->method = alcm_le16(h + 10);
  z->crc32 = alcm_le32(h + 16);
  z->csize = alcm_le32(h + 20);
  z->usize = alcm_le32(h + 24);
  z->header_offset = alcm_le32(h + 42);
  if (z->flags & (ZIP_FLAG_ENCRYPTED | ZIP_FLAG_STRONG))
    return alcm_fail(msg, ALCM_ERR_UNSUPPORTED, "%s: zip member '%s' is "
                     "encrypted", file, z->name);
  if (z->method != 0 && z->method != 8)
    return alcm_fail(msg, ALCM_ERR_UNSUPPORTED, "%s: zip member '%s': "
                     "compression method %u (only stored and deflate)", file,
                     z->name, z->method);
  if (alcm_le16(h + 34) != 0 && alcm_le16(h + 34) != 0xFFFF)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s' is on disk %u",
                     file, z->name, alcm_le16(h + 34));
  return zip_extra64(extra, xlen, z, z->usize == 0xFFFFFFFFu,
                     z->csize == 0xFFFFFFFFu,
                     z->header_offset == 0xFFFFFFFFu, file, msg);
}

/* Local header: same name and method; sets data_offset. */
static alcm_status zip_local(const alcm_infile *in, alcm_zip_member *z,
                             uint64_t cd_offset, const char *file,
                             const alcm_mem *m, alcm_msg *msg) {
  uint8_t h[ZIP_LOC_SIZE];
  if (z->header_offset > cd_offset ||
      cd_offset - z->header_offset < ZIP_LOC_SIZE)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s': local header "
                     "offset %llu is not before the central directory", file,
                     z->name, (ull)z->header_offset);
  alcm_status s = alcm_infile_read(in, z->header_offset, h, sizeof h, msg);
  if (s != ALCM_OK) return s;
  const uint64_t nlen = alcm_le16(h + 26), xlen = alcm_le16(h + 28);
  if (alcm_le32(h) != ZIP_LOC_SIG || alcm_le16(h + 8) != z->method ||
      nlen != z->name_len)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s': local header "
                     "at offset %llu does not match its central record", file,
                     z->name, (ull)z->header_offset);
  z->data_offset = z->header_offset + ZIP_LOC_SIZE + nlen + xlen;
  if (z->data_offset > cd_offset || cd_offset - z->data_offset < z->csize)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s': %llu data "
                     "bytes at offset %llu run into the central directory",
                     file, z->name, (ull)z->csize, (ull)z->data_offset);
  char *const name = alcm_mem_alloc(m, z->name_len ? z->name_len : 1);
  if (!name) return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: zip name", file);
  s = alcm_infile_read(in, z->header_offset + ZIP_LOC_SIZE, name, z->name_len,
                       msg);
  if (s == ALCM_OK && memcmp(name, z->name, z->name_len) != 0)
    s = alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s': local header at "
                  "offset %llu names another file", file, z->name,
                  (ull)z->header_offset);
  alcm_mem_free(m, name);
  return s;
}

static alcm_status zip_sizes(const alcm_zip_member *z, const char *file,
                             alcm_msg *msg) {
  if (z->method == 0 && z->csize != z->usize)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s': stored with "
                     "%llu bytes but declares %llu", file, z->name,
                     (ull)z->csize, (ull)z->usize);
  /* A deflate stream cannot inflate more than ~1032:1; a member that
   * claims more is a bomb or a lie either way. */
  if (z->method == 8 && (z->usize > 1024 + z->csize * (uint64_t)ZIP_MAX_RATIO ||
                         z->csize > UINT64_MAX / ZIP_MAX_RATIO))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s': declares "
                     "%llu bytes from %llu compressed (ratio above %u:1: zip "
                     "bomb)", file, z->name, (ull)z->usize, (ull)z->csize,
                     ZIP_MAX_RATIO);
  return ALCM_OK;
}

static int zip_by_offset(const void *a, const void *b) {
  const alcm_zip_member *const x = *(alcm_zip_member *const *)a;
  const alcm_zip_member *const y = *(alcm_zip_member *const *)b;
  return x->header_offset < y->header_offset ? -1
                                             : x->header_offset > y->header_offset;
}

static int zip_by_name(const void *a, const void *b) {
  const alcm_zip_member *const x = *(alcm_zip_member *const *)a;
  const alcm_zip_member *const y = *(alcm_zip_member *const *)b;
  return strcmp(x->name, y->name);
}

/* Members, sorted by local header offset, must not share a byte; names
 * must be unique. */
static alcm_status zip_disjoint(alcm_zip *z, const char *file,
                                const alcm_mem *m, alcm_msg *msg) {
  if (z->count < 2) return ALCM_OK;
  alcm_zip_member **const v = alcm_mem_calloc(m, z->count, sizeof *v);
  if (!v) return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: zip members", file);
  for (size_t i = 0; i < z->count; i++) v[i] = &z->m[i];
  alcm_status s = ALCM_OK;
  qsort(v, z->count, sizeof *v, zip_by_offset);
  for (size_t i = 1; i < z->count && s == ALCM_OK; i++)
    if (v[i]->header_offset < v[i - 1]->data_offset + v[i - 1]->csize)
      s = alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip members '%s' and '%s' "
                    "overlap (local header at offset %llu inside bytes "
                    "%llu..%llu)", file, v[i - 1]->name, v[i]->name,
                    (ull)v[i]->header_offset, (ull)v[i - 1]->header_offset,
                    (ull)(v[i - 1]->data_offset + v[i - 1]->csize));
  if (s == ALCM_OK) {
    qsort(v, z->count, sizeof *v, zip_by_name);
    for (size_t i = 1; i < z->count && s == ALCM_OK; i++)
      if (strcmp(v[i]->name, v[i - 1]->name) == 0)
        s = alcm_fail(msg, ALCM_ERR_DUPLICATE, "%s: zip member '%s' appears "
                      "twice", file, v[i]->name);
  }
  alcm_mem_free(m, v);
  return s;
}

alcm_status alcm_zip_open_(alcm_zip *z, const alcm_infile *in,
                           const char *file, const alcm_mem *m,
                           alcm_msg *msg) {
  memset(z, 0, sizeof *z);
  zip_eocd e = {0, 0, 0, 0};
  alcm_status s = zip_read_eocd(in, &e, file, m, msg);
  if (s != ALCM_OK) return s;
  uint8_t *const cd = alcm_mem_alloc(m, (size_t)e.cd_size);
  z->m = alcm_mem_calloc(m, e.count ? (size_t)e.count : 1, sizeof *z->m);
  if (!cd || !z->m) {
    alcm_mem_free(m, cd);
    return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: zip central directory of %llu "
                     "bytes", file, (ull)e.cd_size);
  }
  z->cd_offset = e.cd_offset;
  s = alcm_infile_read(in, e.cd_offset, cd, (size_t)e.cd_size, msg);
  alcm_cursor c;
  alcm_cursor_init(&c, cd, (size_t)e.cd_size);
  for (size_t i = 0; i < e.count && s == ALCM_OK; i++) {
    z->count = i + 1;
    s = zip_record(&c, &z->m[i], file, m, msg, i);
    if (s == ALCM_OK) s = zip_sizes(&z->m[i], file, msg);
    if (s == ALCM_OK) s = zip_local(in, &z->m[i], e.cd_offset, file, m, msg);
  }
  if (s == ALCM_OK && c.p != c.end)
    s = alcm_fail(msg, ALCM_ERR_INPUT, "%s: %zu bytes after the last zip "
                  "central record", file, (size_t)(c.end - c.p));
  alcm_mem_free(m, cd);
  if (s == ALCM_OK) s = zip_disjoint(z, file, m, msg);
  return s;
}

void alcm_zip_free_(alcm_zip *z, const alcm_mem *m) {
  for (size_t i = 0; i < z->count; i++) alcm_mem_free(m, z->m[i].name);
  alcm_mem_free(m, z->m);
  memset(z, 0, sizeof *z);
}

/* ---- member data ------------------------------------------------------- */

typedef struct {
  uint64_t skip, limit, done; /* done: uncompressed bytes produced */
  uLong crc;
  alcm_zip_sink sink;
  void *opaque;
} zip_out;

/* Hand out[0..n) (bytes done..done+n of the member) to the sink, minus the
 * skipped prefix and anything past the limit. */
static alcm_status zip_emit(zip_out *o, const uint8_t *p, size_t n) {
  const uint64_t from = o->done;
  o->crc = crc32(o->crc, p, (uInt)n);
  o->done += n;
  uint64_t a = from, b = o->done;
  if (b > o->limit) b = o->limit;
  if (a < o->skip) a = o->skip;
  if (a >= b) return ALCM_OK;
  return o->sink(o->opaque, p + (a - from), (size_t)(b - a));
}

static alcm_status zip_stored(const alcm_infile *in, const alcm_zip_member *zm,
                              zip_out *o, uint8_t *buf, size_t cap,
                              alcm_msg *msg) {
  alcm_status s = ALCM_OK;
  while (o->done < zm->usize && o->done < o->limit && s == ALCM_OK) {
    const uint64_t left = zm->usize - o->done;
    const size_t n = left < cap ? (size_t)left : cap;
    s = alcm_infile_read(in, zm->data_offset + o->done, buf, n, msg);
    if (s == ALCM_OK) s = zip_emit(o, buf, n);
  }
  return s;
}

static alcm_status zip_inflate(const alcm_infile *in,
                               const alcm_zip_member *zm, zip_out *o,
                               uint8_t *out, size_t cap, uint8_t *inb,
                               const char *file, alcm_msg *msg) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
    return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: zip member '%s': inflate",
                     file, zm->name);
  alcm_status s = ALCM_OK;
  uint64_t read = 0;
  int zr = Z_OK;
  while (zr != Z_STREAM_END && o->done < o->limit && s == ALCM_OK) {
    if (zs.avail_in == 0 && read < zm->csize) {
      const uint64_t left = zm->csize - read;
      const size_t n = left < ZIP_IN_PIECE ? (size_t)left : ZIP_IN_PIECE;
      s = alcm_infile_read(in, zm->data_offset + read, inb, n, msg);
      read += n;
      zs.next_in = inb;
      zs.avail_in = (uInt)n;
      if (s != ALCM_OK) break;
    }
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    zr = inflate(&zs, Z_NO_FLUSH);
    const size_t got = cap - zs.avail_out;
    if (zr != Z_OK && zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && got)) {
      s = alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s': deflate data "
                    "at offset %llu is corrupt or ends early", file, zm->name,
                    (ull)zm->data_offset);
      break;
    }
    /* Checked before the bytes go anywhere: a bomb stops here. */
    if (got > zm->usize - o->done) {
      s = alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s' inflates past "
                    "its declared %llu bytes (zip bomb?)", file, zm->name,
                    (ull)zm->usize);
      break;
    }
    if (got) s = zip_emit(o, out, got);
  }
  inflateEnd(&zs);
  if (s == ALCM_OK && o->limit >= zm->usize && zr != Z_STREAM_END)
    s = alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s': deflate stream "
                  "does not end", file, zm->name);
  return s;
}

alcm_status alcm_zip_read_(const alcm_infile *in, const alcm_zip_member *zm,
                           uint64_t skip, uint64_t limit, alcm_zip_sink sink,
                           void *opaque, const char *file, const alcm_mem *m,
                           alcm_msg *msg) {
  const size_t cap = zm->usize < ALCM_IO_PIECE
                         ? (zm->usize ? (size_t)zm->usize : 1)
                         : ALCM_IO_PIECE;
  uint8_t *const out = alcm_mem_alloc(m, cap);
  uint8_t *const inb = zm->method ? alcm_mem_alloc(m, ZIP_IN_PIECE) : NULL;
  zip_out o = {skip, limit, 0, crc32(0L, Z_NULL, 0), sink, opaque};
  alcm_status s;
  if (!out || (zm->method && !inb))
    s = alcm_fail(msg, ALCM_ERR_NOMEM, "%s: zip member '%s': buffers", file,
                  zm->name);
  else if (zm->method == 0)
    s = zip_stored(in, zm, &o, out, cap, msg);
  else
    s = zip_inflate(in, zm, &o, out, cap, inb, file, msg);
  if (s == ALCM_OK && limit >= zm->usize) {
    if (o.done != zm->usize)
      s = alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s' inflates to "
                    "%llu bytes, declares %llu", file, zm->name, (ull)o.done,
                    (ull)zm->usize);
    else if (o.crc != zm->crc32)
      s = alcm_fail(msg, ALCM_ERR_INPUT, "%s: zip member '%s': CRC-32 "
                    "mismatch", file, zm->name);
  }
  alcm_mem_free(m, out);
  alcm_mem_free(m, inb);
  return s;
}
