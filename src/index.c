/*
 * index.c - encode and decode the archive index (spec "Index").
 *
 * The decoder treats its input as hostile: every count is checked against
 * the bytes left before anything is allocated, every size product and sum
 * is overflow-checked, and every reserved field must be zero.
 */
#include <stdlib.h>

#include "internal.h"

alcm_status alcm_shape_bytes(unsigned dtype, unsigned ndim,
                             const uint64_t *shape, uint64_t *bytes) {
  uint64_t n = alcm_dtype_size((int)dtype);
  for (unsigned i = 0; i < ndim; i++)
    if (__builtin_mul_overflow(n, shape[i], &n)) return ALCM_ERR_OVERFLOW;
  *bytes = n;
  return ALCM_OK;
}

/* ---- encode ------------------------------------------------------------- */

static size_t entry_record_size(const alcm_entry *e) {
  return ALCM_ENTRY_RECORD_SIZE + e->name_len + 8u * e->ndim +
         (size_t)ALCM_CHUNK_REF_SIZE * e->chunk_count +
         (e->flags & ALCM_ENTRY_FLAG_BUNDLED ? ALCM_BUNDLE_OFFSET_SIZE : 0) +
         (size_t)ALCM_SECTION_REF_SIZE * e->section_count +
         (e->encoding == ALCM_ENCODING_ADAPTIVE ? ALCM_ADAPTIVE_BLOCK_SIZE : 0);
}

static void put_f64(uint8_t *p, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  alcm_st64(p, u);
}

static uint8_t *encode_entry(uint8_t *p, const alcm_entry *e) {
  memset(p, 0, ALCM_ENTRY_RECORD_SIZE);
  p[ALCM_ENT_OFF_KIND] = (uint8_t)e->kind;
  p[ALCM_ENT_OFF_DTYPE] = (uint8_t)e->dtype;
  p[ALCM_ENT_OFF_ENCODING] = (uint8_t)e->encoding;
  p[ALCM_ENT_OFF_NDIM] = (uint8_t)e->ndim;
  alcm_st16(p + ALCM_ENT_OFF_NAME_LEN, (uint16_t)e->name_len);
  alcm_st16(p + ALCM_ENT_OFF_FLAGS, (uint16_t)e->flags);
  alcm_st32(p + ALCM_ENT_OFF_SOURCE, e->source);
  alcm_st32(p + ALCM_ENT_OFF_CHUNK_COUNT, e->chunk_count);
  alcm_st32(p + ALCM_ENT_OFF_SECTION_COUNT, e->section_count);
  alcm_st32(p + ALCM_ENT_OFF_CHUNK_SIZE, e->chunk_size);
  alcm_st64(p + ALCM_ENT_OFF_RAW_SIZE, e->raw_size);
  memcpy(p + ALCM_ENT_OFF_CONTENT_HASH, e->content_hash, 16);
  p += ALCM_ENTRY_RECORD_SIZE;
  memcpy(p, e->name, e->name_len);
  p += e->name_len;
  for (unsigned i = 0; i < e->ndim; i++, p += 8) alcm_st64(p, e->shape[i]);
  for (uint32_t i = 0; i < e->chunk_count; i++, p += ALCM_CHUNK_REF_SIZE) {
    alcm_st64(p, e->chunks[i].frame_offset);
    alcm_st64(p + 8, e->chunks[i].stored_size);
  }
  if (e->flags & ALCM_ENTRY_FLAG_BUNDLED) {
    alcm_st64(p, e->bundle_offset);
    p += ALCM_BUNDLE_OFFSET_SIZE;
  }
  for (uint32_t i = 0; i < e->section_count; i++, p += ALCM_SECTION_REF_SIZE) {
    memset(p, 0, ALCM_SECTION_REF_SIZE);
    alcm_st16(p, (uint16_t)e->sections[i].type);
    alcm_st64(p + 8, e->sections[i].frame_offset);
    alcm_st64(p + 16, e->sections[i].stored_size);
  }
  if (e->encoding == ALCM_ENCODING_ADAPTIVE) {
    const alcm_adaptive_block *a = &e->adaptive;
    memset(p, 0, ALCM_ADAPTIVE_BLOCK_SIZE);
    p[ALCM_ADP_OFF_CHANNEL_AXIS] = (uint8_t)a->channel_axis;
    p[ALCM_ADP_OFF_CODE_LAYOUT] = (uint8_t)a->code_layout;
    alcm_st32(p + ALCM_ADP_OFF_CHANNEL_COUNT, a->channel_count);
    put_f64(p + ALCM_ADP_OFF_MAX_ABS_ERR, a->max_abs_err);
    put_f64(p + ALCM_ADP_OFF_RMSE, a->rmse);
    put_f64(p + ALCM_ADP_OFF_SNR_DB, a->snr_db);
    put_f64(p + ALCM_ADP_OFF_PRUNED, a->pruned);
    put_f64(p + ALCM_ADP_OFF_CPU_SECONDS, a->cpu_seconds);
    put_f64(p + ALCM_ADP_OFF_CAQ, a->caq);
    p += ALCM_ADAPTIVE_BLOCK_SIZE;
  }
  return p;
}

/* Names repeat (layer paths, the restore copy of a safetensors header):
 * zlib level 1 shrinks a typical body 5x (level 9 gains 20 % more of that
 * at 8x the time). zlib rather than zstd so that
 * generic parsers (Kaitai's `process: zlib`) can read the index too.
 * Kept only when it saves bytes. Takes ownership of raw. */
static void compress_body(uint8_t *raw, size_t size, const alcm_mem *m,
                          uint8_t **out, size_t *out_size) {
  const size_t body = size - ALCM_INDEX_HEADER_SIZE;
  const size_t cap = alcm_codec_zlib.bound(body);
  uint8_t *z = body > 64 && body <= UINT32_MAX && cap
                   ? alcm_mem_alloc(m, ALCM_INDEX_HEADER_SIZE + cap)
                   : NULL;
  const size_t n = z ? alcm_codec_zlib.compress(z + ALCM_INDEX_HEADER_SIZE, cap,
                                                raw + ALCM_INDEX_HEADER_SIZE,
                                                body, 1)
                     : 0;
  if (n == 0 || n >= body) {
    alcm_mem_free(m, z);
    *out = raw;
    *out_size = size;
    return;
  }
  memcpy(z, raw, ALCM_INDEX_HEADER_SIZE);
  alcm_st32(z + ALCM_IDX_OFF_FLAGS, ALCM_INDEX_FLAG_ZLIB);
  alcm_st32(z + ALCM_IDX_OFF_BODY_SIZE, (uint32_t)body);
  alcm_mem_free(m, raw);
  *out = z;
  *out_size = ALCM_INDEX_HEADER_SIZE + n;
}

alcm_status alcm_index_encode(const alcm_index *idx, bool compress,
                              const alcm_mem *m, uint8_t **out,
                              size_t *out_size, alcm_msg *msg) {
  size_t size = ALCM_INDEX_HEADER_SIZE;
  for (uint32_t i = 0; i < idx->source_count; i++)
    size += ALCM_SOURCE_RECORD_SIZE + idx->sources[i].path_len +
            idx->sources[i].restore_size;
  for (uint32_t i = 0; i < idx->entry_count; i++)
    size += entry_record_size(&idx->entries[i]);
  for (uint32_t i = 0; i < idx->meta_count; i++)
    size += ALCM_META_RECORD_SIZE + idx->meta[i].key_len + idx->meta[i].size;
  uint8_t *buf = alcm_mem_alloc(m, size);
  if (!buf)
    return alcm_fail(msg, ALCM_ERR_NOMEM, "index of %zu bytes", size);
  uint8_t *p = buf;
  memset(p, 0, ALCM_INDEX_HEADER_SIZE);
  memcpy(p + ALCM_IDX_OFF_MAGIC, ALCM_INDEX_MAGIC, 4);
  alcm_st32(p + ALCM_IDX_OFF_SOURCE_COUNT, idx->source_count);
  alcm_st32(p + ALCM_IDX_OFF_ENTRY_COUNT, idx->entry_count);
  alcm_st32(p + ALCM_IDX_OFF_META_COUNT, idx->meta_count);
  alcm_st64(p + ALCM_IDX_OFF_TOTAL_RAW, idx->total_raw);
  p += ALCM_INDEX_HEADER_SIZE;
  for (uint32_t i = 0; i < idx->source_count; i++) {
    const alcm_source *s = &idx->sources[i];
    memset(p, 0, ALCM_SOURCE_RECORD_SIZE);
    p[ALCM_SRC_OFF_FORMAT] = (uint8_t)s->format;
    alcm_st16(p + ALCM_SRC_OFF_PATH_LEN, (uint16_t)s->path_len);
    alcm_st32(p + ALCM_SRC_OFF_RESTORE_LEN, (uint32_t)s->restore_size);
    p += ALCM_SOURCE_RECORD_SIZE;
    if (s->path_len) memcpy(p, s->path, s->path_len);
    p += s->path_len;
    if (s->restore_size) memcpy(p, s->restore, s->restore_size);
    p += s->restore_size;
  }
  for (uint32_t i = 0; i < idx->entry_count; i++)
    p = encode_entry(p, &idx->entries[i]);
  for (uint32_t i = 0; i < idx->meta_count; i++) {
    const alcm_meta *mt = &idx->meta[i];
    memset(p, 0, ALCM_META_RECORD_SIZE);
    alcm_st16(p + ALCM_MET_OFF_KEY_LEN, (uint16_t)mt->key_len);
    p[ALCM_MET_OFF_TYPE] = (uint8_t)mt->type;
    alcm_st32(p + ALCM_MET_OFF_VALUE_LEN, (uint32_t)mt->size);
    p += ALCM_META_RECORD_SIZE;
    memcpy(p, mt->key, mt->key_len);
    p += mt->key_len;
    if (mt->size) memcpy(p, mt->value, mt->size);
    p += mt->size;
  }
  if (compress) {
    compress_body(buf, size, m, out, out_size);
  } else {
    *out = buf;
    *out_size = size;
  }
  return ALCM_OK;
}

/* ---- decode ------------------------------------------------------------- */

typedef struct {
  alcm_cursor c;
  uint64_t index_offset; /* file offset of the index, for messages */
  uint64_t align;
  const alcm_limits *lim;
  const alcm_mem *m;
  alcm_msg *msg;
} decoder;

/* Positions in messages count from the start of the (inflated) index. */
static unsigned long long at(const decoder *d) {
  return (unsigned long long)(ALCM_INDEX_HEADER_SIZE + alcm_cursor_pos(&d->c));
}

/* Borrow n bytes or fail with a message naming the structure. */
static alcm_status take(decoder *d, size_t n, const uint8_t **p,
                        const char *what, uint32_t i) {
  if (alcm_cursor_bytes(&d->c, n, p) != ALCM_OK)
    return alcm_fail(d->msg, ALCM_ERR_TRUNCATED,
                     "index: %s %u at index byte %llu needs %zu bytes, %zu left",
                     what, (unsigned)i, at(d), n, alcm_cursor_left(&d->c));
  return ALCM_OK;
}

static char *dup_name(const decoder *d, const uint8_t *s, size_t n) {
  return alcm_mem_strndup(d->m, (const char *)s, n);
}

/* A record count must fit in the bytes left, at its minimum record size,
 * before the array for it is allocated. */
static alcm_status check_count(decoder *d, uint64_t count, size_t min_size,
                               const char *what) {
  if (count > alcm_cursor_left(&d->c) / min_size)
    return alcm_fail(d->msg, ALCM_ERR_TRUNCATED,
                     "index: %llu %s cannot fit in the %zu bytes left",
                     (unsigned long long)count, what, alcm_cursor_left(&d->c));
  return ALCM_OK;
}

static alcm_status decode_source(decoder *d, uint32_t i, alcm_source *s) {
  const uint8_t *p;
  alcm_status st = take(d, ALCM_SOURCE_RECORD_SIZE, &p, "source", i);
  if (st) return st;
  s->format = p[ALCM_SRC_OFF_FORMAT];
  s->path_len = alcm_le16(p + ALCM_SRC_OFF_PATH_LEN);
  const uint32_t restore_len = alcm_le32(p + ALCM_SRC_OFF_RESTORE_LEN);
  if (s->format > ALCM_SOURCE_MAX)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT, "index: source %u: format %u",
                     (unsigned)i, s->format);
  /* Formats 1-4 rebuild their file from restore data; 0 and 5 have none
   * (spec "Source record"). */
  if (restore_len && (s->format == ALCM_SOURCE_NONE ||
                      s->format == ALCM_SOURCE_FILE))
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index: source %u: format %u carries restore data",
                     (unsigned)i, s->format);
  if (p[ALCM_SRC_OFF_RESERVED] != 0)
    return alcm_fail(d->msg, ALCM_ERR_RESERVED,
                     "index: source %u: reserved byte", (unsigned)i);
  if (s->path_len > ALCM_MAX_NAME)
    return alcm_fail(d->msg, ALCM_ERR_NAME,
                     "index: source %u: path of %zu bytes", (unsigned)i,
                     s->path_len);
  if ((st = take(d, s->path_len, &p, "source path", i))) return st;
  if (s->path_len && !alcm_path_valid(p, s->path_len))
    return alcm_fail(d->msg, ALCM_ERR_NAME,
                     "index: source %u: unsafe or invalid path", (unsigned)i);
  if (!(s->path = dup_name(d, p, s->path_len)))
    return alcm_fail(d->msg, ALCM_ERR_NOMEM, "index: source %u", (unsigned)i);
  if ((st = take(d, restore_len, &p, "source restore data", i))) return st;
  s->restore_size = restore_len;
  if (!(s->restore = alcm_mem_alloc(d->m, restore_len)))
    return alcm_fail(d->msg, ALCM_ERR_NOMEM,
                     "index: source %u: %u bytes of restore data",
                     (unsigned)i, (unsigned)restore_len);
  if (restore_len) memcpy(s->restore, p, restore_len);
  return ALCM_OK;
}

/* Frame extents must lie between the file header and the index, with the
 * payload aligned (spec "Layout"). */
static alcm_status check_frame_ref(const decoder *d, const alcm_entry *e,
                                   const char *what, uint32_t j,
                                   uint64_t off, uint64_t stored) {
  uint64_t end;
  if (off < ALCM_HEADER_SIZE ||
      __builtin_add_overflow(off, (uint64_t)ALCM_FRAME_HEADER_SIZE, &end) ||
      __builtin_add_overflow(end, stored, &end) || end > d->index_offset)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': %s %u: frame at offset %llu (%llu stored "
                     "bytes) is outside the data area [32, %llu)",
                     e->name, what, (unsigned)j, (unsigned long long)off,
                     (unsigned long long)stored,
                     (unsigned long long)d->index_offset);
  if ((off + ALCM_FRAME_HEADER_SIZE) % d->align != 0)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': %s %u: payload at offset %llu is not "
                     "aligned to %llu",
                     e->name, what, (unsigned)j,
                     (unsigned long long)(off + ALCM_FRAME_HEADER_SIZE),
                     (unsigned long long)d->align);
  return ALCM_OK;
}

static double get_f64(const uint8_t *p) {
  const uint64_t u = alcm_le64(p);
  double v;
  memcpy(&v, &u, 8);
  return v;
}

/* Fields of the fixed entry record that need no other context. */
static alcm_status check_entry_fixed(decoder *d, uint32_t i, alcm_entry *e,
                                     const uint8_t *p, uint32_t source_count) {
  e->kind = p[ALCM_ENT_OFF_KIND];
  e->dtype = p[ALCM_ENT_OFF_DTYPE];
  e->encoding = p[ALCM_ENT_OFF_ENCODING];
  e->ndim = p[ALCM_ENT_OFF_NDIM];
  e->name_len = alcm_le16(p + ALCM_ENT_OFF_NAME_LEN);
  e->flags = alcm_le16(p + ALCM_ENT_OFF_FLAGS);
  e->source = alcm_le32(p + ALCM_ENT_OFF_SOURCE);
  e->chunk_count = alcm_le32(p + ALCM_ENT_OFF_CHUNK_COUNT);
  e->section_count = alcm_le32(p + ALCM_ENT_OFF_SECTION_COUNT);
  e->chunk_size = alcm_le32(p + ALCM_ENT_OFF_CHUNK_SIZE);
  e->raw_size = alcm_le64(p + ALCM_ENT_OFF_RAW_SIZE);
  memcpy(e->content_hash, p + ALCM_ENT_OFF_CONTENT_HASH, 16);
  const unsigned n = (unsigned)i;
  if (e->kind != ALCM_ENTRY_TENSOR && e->kind != ALCM_ENTRY_BLOB)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT, "index: entry %u: kind %u", n,
                     e->kind);
  if (e->kind == ALCM_ENTRY_TENSOR && alcm_dtype_size((int)e->dtype) == 0)
    return alcm_fail(d->msg, ALCM_ERR_DTYPE_UNKNOWN,
                     "index: entry %u: dtype %u", n, e->dtype);
  if (e->kind == ALCM_ENTRY_BLOB &&
      (e->dtype || e->ndim || e->encoding || e->flags || e->section_count))
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index: entry %u: blob with tensor fields set", n);
  if (e->encoding > ALCM_ENCODING_ADAPTIVE)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT, "index: entry %u: encoding %u",
                     n, e->encoding);
  if (e->ndim > ALCM_MAX_NDIM)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index: entry %u: %u dimensions (at most %u)", n, e->ndim,
                     ALCM_MAX_NDIM);
  if (e->name_len == 0 || e->name_len > ALCM_MAX_NAME)
    return alcm_fail(d->msg, ALCM_ERR_NAME,
                     "index: entry %u: name of %zu bytes", n, e->name_len);
  if (e->flags & ~ALCM_ENTRY_FLAGS_FORMAT)
    return alcm_fail(d->msg, ALCM_ERR_RESERVED,
                     "index: entry %u: flags 0x%04x", n, e->flags);
  if (e->source != ALCM_NO_SOURCE && e->source >= source_count)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index: entry %u: source %u of %u", n,
                     (unsigned)e->source, (unsigned)source_count);
  if (e->chunk_size < ALCM_CHUNK_SIZE_MIN ||
      e->chunk_size > ALCM_CHUNK_SIZE_MAX || e->chunk_size % 8 != 0)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index: entry %u: chunk size %u", n,
                     (unsigned)e->chunk_size);
  if (e->chunk_size > d->lim->max_chunk_raw)
    return alcm_fail(d->msg, ALCM_ERR_LIMIT,
                     "index: entry %u: chunk size %u above the limit %llu", n,
                     (unsigned)e->chunk_size,
                     (unsigned long long)d->lim->max_chunk_raw);
  const uint64_t want = e->raw_size / e->chunk_size +
                        (e->raw_size % e->chunk_size != 0);
  if (e->chunk_count != want)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index: entry %u: %u chunks for %llu bytes in chunks of "
                     "%u (expected %llu)",
                     n, (unsigned)e->chunk_count,
                     (unsigned long long)e->raw_size, (unsigned)e->chunk_size,
                     (unsigned long long)want);
  if (e->section_count && e->encoding != ALCM_ENCODING_ADAPTIVE)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index: entry %u: sections on a lossless entry", n);
  /* spec "Bundled": blobs and adaptive entries have their own flag rules */
  if ((e->flags & ALCM_ENTRY_FLAG_BUNDLED) && e->kind == ALCM_ENTRY_TENSOR &&
      e->encoding == ALCM_ENCODING_LOSSLESS && e->raw_size == 0)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index: entry %u: bundled entry of 0 bytes", n);
  return ALCM_OK;
}

/* spec "Adaptive entries" (1.2): a float dtype in wire order, and
 * raw_size (the code bytes) at most 16 bits per element; the exact size
 * follows from the sections, checked when they are read. */
static alcm_status check_adaptive_size(decoder *d, const alcm_entry *e) {
  const unsigned t = e->dtype;
  if ((t != ALCM_DTYPE_F16 && t != ALCM_DTYPE_BF16 && t != ALCM_DTYPE_F32 &&
       t != ALCM_DTYPE_F64) ||
      e->flags)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': adaptive entry of dtype %u, flags 0x%x "
                     "(F16, BF16, F32 or F64 little-endian row-major only)",
                     e->name, t, e->flags);
  uint64_t limit; /* numel x 2 bytes = 16 bits per element */
  if (alcm_shape_bytes(ALCM_DTYPE_F16, e->ndim, e->shape, &limit) != ALCM_OK)
    return alcm_fail(d->msg, ALCM_ERR_OVERFLOW,
                     "entry '%s': shape times 2 overflows 64 bits", e->name);
  if (e->raw_size > limit)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': %llu code bytes for %llu elements (more "
                     "than %u bits each)",
                     e->name, (unsigned long long)e->raw_size,
                     (unsigned long long)(limit / 2), ALCM_ADAPTIVE_MAX_BITS);
  return ALCM_OK;
}

static alcm_status decode_name_shape(decoder *d, uint32_t i, alcm_entry *e) {
  const uint8_t *p;
  alcm_status st = take(d, e->name_len, &p, "entry name", i);
  if (st) return st;
  const bool ok = e->kind == ALCM_ENTRY_BLOB ? alcm_path_valid(p, e->name_len)
                                             : alcm_tensor_name_valid(p, e->name_len);
  if (!ok)
    return alcm_fail(d->msg, ALCM_ERR_NAME,
                     "index: entry %u: invalid %s name", (unsigned)i,
                     e->kind == ALCM_ENTRY_BLOB ? "blob" : "tensor");
  if (!(e->name = dup_name(d, p, e->name_len)))
    return alcm_fail(d->msg, ALCM_ERR_NOMEM, "index: entry %u", (unsigned)i);
  if ((st = take(d, 8u * e->ndim, &p, "entry shape", i))) return st;
  if (!(e->shape = alcm_mem_calloc(d->m, e->ndim ? e->ndim : 1, 8)))
    return alcm_fail(d->msg, ALCM_ERR_NOMEM, "entry '%s'", e->name);
  for (unsigned k = 0; k < e->ndim; k++) e->shape[k] = alcm_le64(p + 8u * k);
  if (e->kind != ALCM_ENTRY_TENSOR) return ALCM_OK;
  uint64_t bytes;
  if (alcm_shape_bytes(e->dtype, e->ndim, e->shape, &bytes) != ALCM_OK)
    return alcm_fail(d->msg, ALCM_ERR_OVERFLOW,
                     "entry '%s': shape times element size overflows 64 bits",
                     e->name);
  if (e->encoding == ALCM_ENCODING_ADAPTIVE) return check_adaptive_size(d, e);
  if (bytes != e->raw_size)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': shape gives %llu bytes, raw size is %llu",
                     e->name, (unsigned long long)bytes,
                     (unsigned long long)e->raw_size);
  return ALCM_OK;
}

static alcm_status decode_refs(decoder *d, uint32_t i, alcm_entry *e) {
  alcm_status st = check_count(d, e->chunk_count, ALCM_CHUNK_REF_SIZE,
                               "chunk refs");
  if (st) return st;
  e->chunks = alcm_mem_calloc(d->m, e->chunk_count ? e->chunk_count : 1,
                              sizeof *e->chunks);
  if (!e->chunks)
    return alcm_fail(d->msg, ALCM_ERR_NOMEM, "entry '%s': %u chunk refs",
                     e->name, (unsigned)e->chunk_count);
  const uint8_t *p;
  for (uint32_t j = 0; j < e->chunk_count; j++) {
    if ((st = take(d, ALCM_CHUNK_REF_SIZE, &p, "chunk ref", j))) return st;
    e->chunks[j].frame_offset = alcm_le64(p);
    e->chunks[j].stored_size = alcm_le64(p + 8);
    if ((st = check_frame_ref(d, e, "chunk", j, e->chunks[j].frame_offset,
                              e->chunks[j].stored_size)))
      return st;
  }
  if (e->flags & ALCM_ENTRY_FLAG_BUNDLED) {
    if ((st = take(d, ALCM_BUNDLE_OFFSET_SIZE, &p, "bundle offset", i)))
      return st;
    e->bundle_offset = alcm_le64(p);
    uint64_t end;
    if (e->bundle_offset % alcm_dtype_size((int)e->dtype) != 0 ||
        __builtin_add_overflow(e->bundle_offset, e->raw_size, &end) ||
        end > e->chunk_size)
      return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                       "entry '%s': bundle offset %llu for %llu bytes of "
                       "%zu-byte elements in chunks of %u",
                       e->name, (unsigned long long)e->bundle_offset,
                       (unsigned long long)e->raw_size,
                       alcm_dtype_size((int)e->dtype), (unsigned)e->chunk_size);
  }
  if ((st = check_count(d, e->section_count, ALCM_SECTION_REF_SIZE,
                        "section refs")))
    return st;
  e->sections = alcm_mem_calloc(d->m, e->section_count ? e->section_count : 1,
                                sizeof *e->sections);
  if (!e->sections)
    return alcm_fail(d->msg, ALCM_ERR_NOMEM, "entry '%s': sections", e->name);
  unsigned seen = 0;
  for (uint32_t j = 0; j < e->section_count; j++) {
    if ((st = take(d, ALCM_SECTION_REF_SIZE, &p, "section ref", j))) return st;
    alcm_section_ref *s = &e->sections[j];
    s->type = alcm_le16(p);
    s->frame_offset = alcm_le64(p + 8);
    s->stored_size = alcm_le64(p + 16);
    if (!alcm_all_zero(p + 2, 6))
      return alcm_fail(d->msg, ALCM_ERR_RESERVED,
                       "entry '%s': section ref %u: reserved bytes", e->name,
                       (unsigned)j);
    if (s->type == 0 || s->type > ALCM_SECTION_MAX || (seen >> s->type) & 1u)
      return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                       "entry '%s': section ref %u: type %u unknown or "
                       "repeated",
                       e->name, (unsigned)j, s->type);
    seen |= 1u << s->type;
    if ((st = check_frame_ref(d, e, "section", j, s->frame_offset,
                              s->stored_size)))
      return st;
  }
  (void)i;
  if (e->encoding != ALCM_ENCODING_ADAPTIVE) return ALCM_OK;
  /* spec "Adaptive entries": scales and bit widths are required; zero
   * points are rejected, not ignored: decoding is symmetric, so an entry
   * that needs them would silently decode to wrong values. */
  if ((seen >> ALCM_SECTION_ZERO_POINTS) & 1u)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': zero-point section on an adaptive entry "
                     "(format 1.2 quantization is symmetric)",
                     e->name);
  if (!((seen >> ALCM_SECTION_SCALES) & 1u) ||
      !((seen >> ALCM_SECTION_BIT_WIDTHS) & 1u))
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': adaptive entry without its %s section",
                     e->name,
                     (seen >> ALCM_SECTION_SCALES) & 1u ? "bit widths"
                                                        : "scales");
  return ALCM_OK;
}

static alcm_status decode_adaptive(decoder *d, uint32_t i, alcm_entry *e) {
  const uint8_t *p;
  alcm_status st = take(d, ALCM_ADAPTIVE_BLOCK_SIZE, &p, "adaptive block", i);
  if (st) return st;
  alcm_adaptive_block *a = &e->adaptive;
  a->channel_axis = p[ALCM_ADP_OFF_CHANNEL_AXIS];
  a->code_layout = p[ALCM_ADP_OFF_CODE_LAYOUT];
  a->channel_count = alcm_le32(p + ALCM_ADP_OFF_CHANNEL_COUNT);
  a->max_abs_err = get_f64(p + ALCM_ADP_OFF_MAX_ABS_ERR);
  a->rmse = get_f64(p + ALCM_ADP_OFF_RMSE);
  a->snr_db = get_f64(p + ALCM_ADP_OFF_SNR_DB);
  a->pruned = get_f64(p + ALCM_ADP_OFF_PRUNED);
  a->cpu_seconds = get_f64(p + ALCM_ADP_OFF_CPU_SECONDS);
  a->caq = get_f64(p + ALCM_ADP_OFF_CAQ);
  if (!alcm_all_zero(p + ALCM_ADP_OFF_RESERVED, 2) ||
      !alcm_all_zero(p + ALCM_ADP_OFF_RESERVED2, 8))
    return alcm_fail(d->msg, ALCM_ERR_RESERVED,
                     "entry '%s': adaptive block reserved bytes", e->name);
  if (a->code_layout > ALCM_CODE_LAYOUT_BYTES)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': adaptive code layout %u", e->name,
                     a->code_layout);
  if (a->channel_axis >= e->ndim ||
      a->channel_count != e->shape[a->channel_axis])
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "entry '%s': channel axis %u / count %u do not match the "
                     "shape",
                     e->name, a->channel_axis, (unsigned)a->channel_count);
  return ALCM_OK;
}

static alcm_status decode_entry(decoder *d, uint32_t i, alcm_entry *e,
                                uint32_t source_count) {
  const uint8_t *p;
  alcm_status st = take(d, ALCM_ENTRY_RECORD_SIZE, &p, "entry", i);
  if (st) return st;
  if ((st = check_entry_fixed(d, i, e, p, source_count))) return st;
  if ((st = decode_name_shape(d, i, e))) return st;
  if ((st = decode_refs(d, i, e))) return st;
  if (e->encoding == ALCM_ENCODING_ADAPTIVE) return decode_adaptive(d, i, e);
  return ALCM_OK;
}

/* Meta strings are UTF-8 without NUL; tab, newline and carriage return are
 * allowed (YAML configs), other control bytes are not. */
bool alcm_meta_string_valid(const uint8_t *s, size_t n) {
  size_t run = 0;
  for (size_t k = 0; k <= n; k++) {
    if (k < n && s[k] != '\t' && s[k] != '\n' && s[k] != '\r') continue;
    if (k > run && !alcm_utf8_valid(s + run, k - run)) return false;
    run = k + 1;
  }
  return true;
}

static alcm_status decode_meta(decoder *d, uint32_t i, alcm_meta *mt) {
  const uint8_t *p;
  alcm_status st = take(d, ALCM_META_RECORD_SIZE, &p, "metadata record", i);
  if (st) return st;
  mt->key_len = alcm_le16(p + ALCM_MET_OFF_KEY_LEN);
  mt->type = p[ALCM_MET_OFF_TYPE];
  mt->size = alcm_le32(p + ALCM_MET_OFF_VALUE_LEN);
  const unsigned n = (unsigned)i;
  if (p[ALCM_MET_OFF_RESERVED] != 0)
    return alcm_fail(d->msg, ALCM_ERR_RESERVED,
                     "index: metadata %u: reserved byte", n);
  if (mt->type < ALCM_META_STRING || mt->type > ALCM_META_F64)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT, "index: metadata %u: type %u",
                     n, mt->type);
  if ((mt->type == ALCM_META_I64 || mt->type == ALCM_META_F64) && mt->size != 8)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index: metadata %u: %zu-byte value for a 64-bit number",
                     n, mt->size);
  if (mt->key_len == 0 || mt->key_len > ALCM_MAX_META_KEY)
    return alcm_fail(d->msg, ALCM_ERR_NAME,
                     "index: metadata %u: key of %zu bytes", n, mt->key_len);
  if ((st = take(d, mt->key_len, &p, "metadata key", i))) return st;
  if (!alcm_tensor_name_valid(p, mt->key_len))
    return alcm_fail(d->msg, ALCM_ERR_NAME,
                     "index: metadata %u: key is not valid UTF-8", n);
  if (!(mt->key = dup_name(d, p, mt->key_len)))
    return alcm_fail(d->msg, ALCM_ERR_NOMEM, "index: metadata %u", n);
  if ((st = take(d, mt->size, &p, "metadata value", i))) return st;
  if (mt->type == ALCM_META_STRING && !alcm_meta_string_valid(p, mt->size))
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index: metadata '%s': string is not valid UTF-8",
                     mt->key);
  /* One spare byte keeps strings NUL-terminated for callers. */
  if (!(mt->value = alcm_mem_calloc(d->m, mt->size + 1, 1)))
    return alcm_fail(d->msg, ALCM_ERR_NOMEM, "index: metadata '%s'", mt->key);
  if (mt->size) memcpy(mt->value, p, mt->size);
  return ALCM_OK;
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn) {
  const int c = memcmp(a, b, an < bn ? an : bn);
  if (c) return c;
  return (an > bn) - (an < bn);
}

/* qsort has no context argument: sort pointers, then turn them into
 * indices. */
static int cmp_entry_ptr(const void *x, const void *y) {
  const alcm_entry *a = *(const alcm_entry *const *)x;
  const alcm_entry *b = *(const alcm_entry *const *)y;
  return cmp_bytes(a->name, a->name_len, b->name, b->name_len);
}

static int cmp_meta_ptr(const void *x, const void *y) {
  const alcm_meta *a = *(const alcm_meta *const *)x;
  const alcm_meta *b = *(const alcm_meta *const *)y;
  return cmp_bytes(a->key, a->key_len, b->key, b->key_len);
}

static alcm_status sort_names(decoder *d, alcm_index *idx) {
  const size_t n = idx->entry_count;
  const alcm_entry **ptrs = alcm_mem_calloc(d->m, n ? n : 1, sizeof *ptrs);
  idx->by_name = alcm_mem_calloc(d->m, n ? n : 1, sizeof *idx->by_name);
  if (!ptrs || !idx->by_name) {
    alcm_mem_free(d->m, (void *)ptrs);
    return alcm_fail(d->msg, ALCM_ERR_NOMEM, "index: name table");
  }
  for (size_t i = 0; i < n; i++) ptrs[i] = &idx->entries[i];
  qsort((void *)ptrs, n, sizeof *ptrs, cmp_entry_ptr);
  alcm_status st = ALCM_OK;
  for (size_t i = 0; i < n; i++) {
    idx->by_name[i] = (uint32_t)(ptrs[i] - idx->entries);
    if (i && cmp_entry_ptr(&ptrs[i - 1], &ptrs[i]) == 0 && st == ALCM_OK)
      st = alcm_fail(d->msg, ALCM_ERR_DUPLICATE,
                     "index: entry name '%s' appears twice", ptrs[i]->name);
  }
  alcm_mem_free(d->m, (void *)ptrs);
  return st;
}

static alcm_status check_meta_unique(decoder *d, const alcm_index *idx) {
  const size_t n = idx->meta_count;
  if (n < 2) return ALCM_OK;
  const alcm_meta **ptrs = alcm_mem_calloc(d->m, n, sizeof *ptrs);
  if (!ptrs) return alcm_fail(d->msg, ALCM_ERR_NOMEM, "index: metadata keys");
  for (size_t i = 0; i < n; i++) ptrs[i] = &idx->meta[i];
  qsort((void *)ptrs, n, sizeof *ptrs, cmp_meta_ptr);
  alcm_status st = ALCM_OK;
  for (size_t i = 1; i < n && st == ALCM_OK; i++)
    if (cmp_meta_ptr(&ptrs[i - 1], &ptrs[i]) == 0)
      st = alcm_fail(d->msg, ALCM_ERR_DUPLICATE,
                     "index: metadata key '%s' appears twice", ptrs[i]->key);
  alcm_mem_free(d->m, (void *)ptrs);
  return st;
}

/* Few sources per archive: a quadratic scan is fine and needs no memory. */
static alcm_status check_sources_unique(decoder *d, const alcm_index *idx) {
  for (uint32_t i = 0; i < idx->source_count; i++) {
    const alcm_source *a = &idx->sources[i];
    for (uint32_t j = 0; a->path_len && j < i; j++)
      if (cmp_bytes(a->path, a->path_len, idx->sources[j].path,
                    idx->sources[j].path_len) == 0)
        return alcm_fail(d->msg, ALCM_ERR_DUPLICATE,
                         "index: source path '%s' appears twice", a->path);
  }
  return ALCM_OK;
}

/* Header fields; the counts are checked against the body by decode_all. */
static alcm_status decode_header(decoder *d, const uint8_t *p, size_t size,
                                 alcm_index *idx, uint32_t *flags,
                                 uint32_t *body_size) {
  if (size < ALCM_INDEX_HEADER_SIZE)
    return alcm_fail(d->msg, ALCM_ERR_TRUNCATED,
                     "index at offset %llu: %zu bytes, header needs %u",
                     (unsigned long long)d->index_offset, size,
                     ALCM_INDEX_HEADER_SIZE);
  if (memcmp(p + ALCM_IDX_OFF_MAGIC, ALCM_INDEX_MAGIC, 4) != 0)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index at offset %llu: bad index magic",
                     (unsigned long long)d->index_offset);
  *flags = alcm_le32(p + ALCM_IDX_OFF_FLAGS);
  *body_size = alcm_le32(p + ALCM_IDX_OFF_BODY_SIZE);
  if ((*flags & ~ALCM_INDEX_FLAG_ZLIB) ||
      (!(*flags & ALCM_INDEX_FLAG_ZLIB) && *body_size != 0))
    return alcm_fail(d->msg, ALCM_ERR_RESERVED,
                     "index at offset %llu: flags 0x%x, body size %u",
                     (unsigned long long)d->index_offset, (unsigned)*flags,
                     (unsigned)*body_size);
  idx->source_count = alcm_le32(p + ALCM_IDX_OFF_SOURCE_COUNT);
  idx->entry_count = alcm_le32(p + ALCM_IDX_OFF_ENTRY_COUNT);
  idx->meta_count = alcm_le32(p + ALCM_IDX_OFF_META_COUNT);
  idx->total_raw = alcm_le64(p + ALCM_IDX_OFF_TOTAL_RAW);
  if (idx->entry_count > d->lim->max_entries)
    return alcm_fail(d->msg, ALCM_ERR_LIMIT,
                     "index: %u entries, limit %llu",
                     (unsigned)idx->entry_count,
                     (unsigned long long)d->lim->max_entries);
  return ALCM_OK;
}

/* All three counts at their minimum record sizes must fit in the body. */
static alcm_status check_counts(decoder *d, const alcm_index *idx) {
  const uint64_t need = (uint64_t)idx->source_count * ALCM_SOURCE_RECORD_SIZE +
                        (uint64_t)idx->entry_count * ALCM_ENTRY_RECORD_SIZE +
                        (uint64_t)idx->meta_count * ALCM_META_RECORD_SIZE;
  if (need > alcm_cursor_left(&d->c))
    return alcm_fail(d->msg, ALCM_ERR_TRUNCATED,
                     "index: %u sources, %u entries and %u metadata records "
                     "need at least %llu bytes, %zu left",
                     (unsigned)idx->source_count, (unsigned)idx->entry_count,
                     (unsigned)idx->meta_count, (unsigned long long)need,
                     alcm_cursor_left(&d->c));
  return ALCM_OK;
}

static alcm_status decode_all(decoder *d, alcm_index *idx) {
  alcm_status st = check_counts(d, idx);
  if (st) return st;
  idx->sources = alcm_mem_calloc(d->m, (size_t)idx->source_count + 1, sizeof *idx->sources);
  idx->entries = alcm_mem_calloc(d->m, (size_t)idx->entry_count + 1, sizeof *idx->entries);
  idx->meta = alcm_mem_calloc(d->m, (size_t)idx->meta_count + 1, sizeof *idx->meta);
  if (!idx->sources || !idx->entries || !idx->meta)
    return alcm_fail(d->msg, ALCM_ERR_NOMEM, "index tables");
  for (uint32_t i = 0; i < idx->source_count; i++)
    if ((st = decode_source(d, i, &idx->sources[i]))) return st;
  uint64_t total = 0;
  for (uint32_t i = 0; i < idx->entry_count; i++) {
    if ((st = decode_entry(d, i, &idx->entries[i], idx->source_count)))
      return st;
    if (__builtin_add_overflow(total, idx->entries[i].raw_size, &total))
      return alcm_fail(d->msg, ALCM_ERR_OVERFLOW, "index: total raw size");
  }
  for (uint32_t i = 0; i < idx->meta_count; i++)
    if ((st = decode_meta(d, i, &idx->meta[i]))) return st;
  if (alcm_cursor_left(&d->c) != 0)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index: %zu trailing bytes at index byte %llu",
                     alcm_cursor_left(&d->c), at(d));
  if (total != idx->total_raw)
    return alcm_fail(d->msg, ALCM_ERR_CORRUPT,
                     "index: total raw size %llu, entries add up to %llu",
                     (unsigned long long)idx->total_raw,
                     (unsigned long long)total);
  if ((st = check_sources_unique(d, idx))) return st;
  if ((st = sort_names(d, idx))) return st;
  return check_meta_unique(d, idx);
}

/* A zlib body inflates to exactly body_size bytes, within the index size
 * limit, before anything else is allocated for it. */
static alcm_status inflate_body(decoder *d, const uint8_t *z, size_t z_size,
                                uint32_t body_size, uint8_t **body) {
  if (body_size > d->lim->max_index_size)
    return alcm_fail(d->msg, ALCM_ERR_LIMIT,
                     "index: body of %u bytes, limit %llu",
                     (unsigned)body_size,
                     (unsigned long long)d->lim->max_index_size);
  if (!(*body = alcm_mem_alloc(d->m, body_size)))
    return alcm_fail(d->msg, ALCM_ERR_NOMEM, "index body of %u bytes",
                     (unsigned)body_size);
  if (alcm_codec_zlib.decompress(*body, body_size, z, z_size) != 0)
    return alcm_fail(d->msg, ALCM_ERR_CODEC,
                     "index at offset %llu: zlib body does not inflate to "
                     "%u bytes",
                     (unsigned long long)d->index_offset, (unsigned)body_size);
  return ALCM_OK;
}

alcm_status alcm_index_decode(const uint8_t *data, size_t size,
                              uint64_t index_offset, unsigned align_log2,
                              const alcm_limits *lim, const alcm_mem *m,
                              alcm_index *idx, alcm_msg *msg) {
  decoder d = {.index_offset = index_offset,
               .align = (uint64_t)1 << align_log2,
               .lim = lim,
               .m = m,
               .msg = msg};
  memset(idx, 0, sizeof *idx);
  uint32_t flags = 0, body_size = 0;
  uint8_t *body = NULL;
  alcm_status st = decode_header(&d, data, size, idx, &flags, &body_size);
  if (!st && (flags & ALCM_INDEX_FLAG_ZLIB))
    st = inflate_body(&d, data + ALCM_INDEX_HEADER_SIZE,
                      size - ALCM_INDEX_HEADER_SIZE, body_size, &body);
  if (!st) {
    if (body)
      alcm_cursor_init(&d.c, body, body_size);
    else
      alcm_cursor_init(&d.c, data + ALCM_INDEX_HEADER_SIZE,
                       size - ALCM_INDEX_HEADER_SIZE);
    st = decode_all(&d, idx);
  }
  alcm_mem_free(m, body);
  if (st) alcm_index_free(idx, m); /* frees only the tables that exist */
  return st;
}

alcm_status alcm_index_find(const alcm_index *idx, const char *name,
                            size_t len, uint32_t *pos) {
  size_t lo = 0, hi = idx->entry_count;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const alcm_entry *e = &idx->entries[idx->by_name[mid]];
    const int c = cmp_bytes(e->name, e->name_len, name, len);
    if (c == 0) {
      *pos = idx->by_name[mid];
      return ALCM_OK;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return ALCM_ERR_NOT_FOUND;
}

void alcm_index_free(alcm_index *idx, const alcm_mem *m) {
  if (idx->sources)
    for (uint32_t i = 0; i < idx->source_count; i++) {
      alcm_mem_free(m, idx->sources[i].path);
      alcm_mem_free(m, idx->sources[i].restore);
    }
  if (idx->entries)
    for (uint32_t i = 0; i < idx->entry_count; i++) {
      alcm_entry *e = &idx->entries[i];
      alcm_mem_free(m, e->name);
      alcm_mem_free(m, e->shape);
      alcm_mem_free(m, e->chunks);
      alcm_mem_free(m, e->sections);
    }
  if (idx->meta)
    for (uint32_t i = 0; i < idx->meta_count; i++) {
      alcm_mem_free(m, idx->meta[i].key);
      alcm_mem_free(m, idx->meta[i].value);
    }
  alcm_mem_free(m, idx->sources);
  alcm_mem_free(m, idx->entries);
  alcm_mem_free(m, idx->meta);
  alcm_mem_free(m, idx->by_name);
  memset(idx, 0, sizeof *idx);
}
