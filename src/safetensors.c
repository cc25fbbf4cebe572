/*
 * safetensors.c - import a safetensors file into a writer; rebuild it
 * byte-exact from a reader. Also home of alcm_export_source(), the
 * dispatcher over source formats (safetensors here, .npy in npy.c, plain
 * files as blobs), and of the helpers both exporters share.
 *
 * Safetensors layout (huggingface/safetensors, "Format"):
 *   u64 N little-endian | N bytes UTF-8 JSON header | data
 * The header is an object mapping tensor names to
 *   {"dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end]}
 * (offsets relative to the start of data) plus an optional "__metadata__"
 * object of string values. We accept what the reference implementation
 * accepts (including its 100,000,000-byte header limit), but spell every
 * rule out here because the input is untrusted. The 8 + N bytes are kept
 * verbatim as the source's restore record, so export is byte-exact
 * whatever the key order, spacing or padding of the original header.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "importers.h"


#define ST_MAX_HEADER 100000000u /* reference implementation's limit */
#define ST_LEN_SIZE 8u
#define ST_METADATA_KEY "__metadata__"

typedef unsigned long long ull; /* for printf of uint64_t without PRIu64 */

/* ---- shared helpers ------------------------------------------------- */

alcm_status alcm_import_copy_(alcm_writer *w, const alcm_infile *in,
                              uint64_t offset, uint64_t n, const char *path,
                              const char *tensor) {
  /* Read straight into the writer's chunks: memory does not grow with the
   * file and no byte is copied twice. */
  const alcm_status s = alcm_writer_write_from_(w, in, offset, n);
  if (s != ALCM_OK)
    alcm_msg_prefix(alcm_writer_msg_(w),
                    "%s: tensor '%s': %llu bytes at offset %llu", path, tensor,
                    (ull)n, (ull)offset);
  return s;
}

alcm_status alcm_import_release_(alcm_writer *w, const alcm_infile *in,
                                 const char *path, alcm_status s) {
  const alcm_status r = alcm_writer_release_(w, in);
  if (s != ALCM_OK || r == ALCM_OK) return s;
  alcm_msg_prefix(alcm_writer_msg_(w), "%s", path);
  return r;
}

typedef struct {
  alcm_outfile *out;
  alcm_msg msg;
  alcm_status status;
} sink_ctx;

static int sink_to_outfile(void *opaque, const void *data, size_t size) {
  sink_ctx *const c = opaque;
  c->status = alcm_outfile_write(c->out, data, size, &c->msg);
  return c->status != ALCM_OK;
}

alcm_status alcm_export_entry_(alcm_reader *r, size_t entry,
                               alcm_outfile *out) {
  sink_ctx c = {out, {{0}}, ALCM_OK};
  const alcm_status s = alcm_reader_stream(r, entry, sink_to_outfile, &c);
  if (c.status != ALCM_OK) {
    /* The write failed, not the archive: report the output's error. */
    alcm_msg *const msg = alcm_reader_msg_(r);
    memcpy(msg->text, c.msg.text, sizeof msg->text);
    return c.status;
  }
  return s;
}

alcm_status alcm_export_sole_entry_(alcm_reader *r, size_t source, int kind,
                                    size_t *entry_ret) {
  const size_t n = alcm_reader_entry_count(r);
  size_t found = 0, at = 0;
  for (size_t i = 0; i < n; i++) {
    alcm_entry_info e;
    const alcm_status s = alcm_reader_entry(r, i, &e);
    if (s != ALCM_OK) return s;
    if (e.source != source) continue;
    found++;
    at = i;
    if (e.kind != kind) found++; /* a wrong kind counts as "not sole" */
  }
  if (found != 1)
    return alcm_fail(alcm_reader_msg_(r), ALCM_ERR_CORRUPT,
                     "source %zu: expected exactly one %s entry", source,
                     kind == ALCM_ENTRY_BLOB ? "blob" : "tensor");
  *entry_ret = at;
  return ALCM_OK;
}

/* ---- header parsing --------------------------------------------------- */

typedef struct {
  const char *name; /* owned by the JSON tree */
  const json_t *shape;
  int dtype;
  uint64_t begin, end;
  size_t order; /* position in the header: tie-break for the sort */
} st_tensor;

typedef struct {
  json_t *root;
  st_tensor *t; /* sorted by data offsets */
  size_t count;
  uint64_t data_size; /* end of the last tensor's data */
} st_header;

static void st_free(st_header *h, const alcm_mem *m) {
  alcm_mem_free(m, h->t);
  json_decref(h->root);
  memset(h, 0, sizeof *h);
}

/* A JSON integer >= 0, as uint64. */
static bool json_uint(const json_t *v, uint64_t *out) {
  if (!json_is_integer(v)) return false;
  const json_int_t i = json_integer_value(v);
  if (i < 0) return false;
  *out = (uint64_t)i;
  return true;
}

static alcm_status st_metadata(json_t *meta, const char *file,
                               alcm_msg *msg) {
  if (!json_is_object(meta))
    return alcm_fail(msg, ALCM_ERR_INPUT,
                     "%s: header at offset 8: \"" ST_METADATA_KEY "\" is not an object",
                     file);
  const char *key;
  json_t *v;
  json_object_foreach(meta, key, v) {
    if (!json_is_string(v))
      return alcm_fail(msg, ALCM_ERR_INPUT,
                       "%s: header at offset 8: metadata '%s' is not a string", file, key);
  }
  return ALCM_OK;
}

/* Element count x size of a validated shape, overflow-checked in the
 * order the reference checks it. */
static alcm_status st_shape(st_tensor *t, const char *file, alcm_msg *msg,
                            uint64_t *bytes) {
  if (!json_is_array(t->shape))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header at offset 8: tensor '%s': shape is "
                     "not an array", file, t->name);
  const size_t ndim = json_array_size(t->shape);
  if (ndim > ALCM_MAX_NDIM)
    return alcm_fail(msg, ALCM_ERR_LIMIT, "%s: header at offset 8: tensor '%s': %zu "
                     "dimensions (at most %u)", file, t->name, ndim,
                     ALCM_MAX_NDIM);
  uint64_t numel = 1;
  for (size_t d = 0; d < ndim; d++) {
    uint64_t dim;
    if (!json_uint(json_array_get(t->shape, d), &dim))
      return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header at offset 8: tensor '%s': "
                       "shape[%zu] is not a non-negative integer", file,
                       t->name, d);
    if (__builtin_mul_overflow(numel, dim, &numel))
      return alcm_fail(msg, ALCM_ERR_OVERFLOW, "%s: header at offset 8: tensor '%s': "
                       "element count", file, t->name);
  }
  if (__builtin_mul_overflow(numel, (uint64_t)alcm_dtype_size(t->dtype),
                             bytes))
    return alcm_fail(msg, ALCM_ERR_OVERFLOW, "%s: header at offset 8: tensor '%s': byte "
                     "size", file, t->name);
  return ALCM_OK;
}

static alcm_status st_tensor_info(const json_t *v, st_tensor *t,
                                  const char *file, alcm_msg *msg) {
  if (!json_is_object(v))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header at offset 8: tensor '%s' is not "
                     "an object", file, t->name);
  const json_t *const dtype = json_object_get(v, "dtype");
  const json_t *const offs = json_object_get(v, "data_offsets");
  t->shape = json_object_get(v, "shape");
  if (!dtype || !t->shape || !offs)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header at offset 8: tensor '%s' lacks "
                     "dtype, shape or data_offsets", file, t->name);
  if (json_object_size(v) != 3)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header at offset 8: tensor '%s' has keys "
                     "other than dtype, shape, data_offsets", file, t->name);
  if (!json_is_string(dtype))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header at offset 8: tensor '%s': dtype is "
                     "not a string", file, t->name);
  t->dtype = alcm_dtype_from_name(json_string_value(dtype));
  if (!t->dtype)
    return alcm_fail(msg, ALCM_ERR_DTYPE_UNKNOWN, "%s: header at offset 8: tensor '%s': "
                     "dtype '%s'", file, t->name, json_string_value(dtype));
  uint64_t bytes = 0;
  const alcm_status s = st_shape(t, file, msg, &bytes);
  if (s != ALCM_OK) return s;
  if (!json_is_array(offs) || json_array_size(offs) != 2 ||
      !json_uint(json_array_get(offs, 0), &t->begin) ||
      !json_uint(json_array_get(offs, 1), &t->end))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header at offset 8: tensor '%s': "
                     "data_offsets is not [begin, end] of non-negative "
                     "integers", file, t->name);
  if (t->end < t->begin)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header at offset 8: tensor '%s': "
                     "data_offsets [%llu, %llu] end before begin", file,
                     t->name, (ull)t->begin, (ull)t->end);
  if (t->end - t->begin != bytes)
    return alcm_fail(msg, ALCM_ERR_SIZE, "%s: header at offset 8: tensor '%s': "
                     "data_offsets [%llu, %llu] hold %llu bytes, dtype and "
                     "shape need %llu", file, t->name, (ull)t->begin,
                     (ull)t->end, (ull)(t->end - t->begin), (ull)bytes);
  return ALCM_OK;
}

static int st_cmp(const void *a, const void *b) {
  const st_tensor *const x = a, *const y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

/* Data must be one run from 0 with no gap and no overlap. */
static alcm_status st_layout(st_header *h, uint64_t data_start,
                             const char *file, alcm_msg *msg) {
  qsort(h->t, h->count, sizeof *h->t, st_cmp);
  uint64_t at = 0;
  for (size_t i = 0; i < h->count; i++) {
    const st_tensor *const t = &h->t[i];
    if (t->begin != at)
      return alcm_fail(msg, ALCM_ERR_INPUT, "%s: tensor '%s': data at offset "
                       "%llu: %s (data_offsets begin %llu, expected %llu)",
                       file, t->name, (ull)(data_start + t->begin),
                       t->begin > at ? (at ? "gap after the previous tensor"
                                           : "data does not start at 0")
                                     : "overlaps the previous tensor",
                       (ull)t->begin, (ull)at);
    at = t->end;
  }
  h->data_size = at;
  return ALCM_OK;
}

/* jansson reports a failed allocation either with its out-of-memory code
 * or, where it fails before it could say anything (lexer set-up, some
 * object insertions), with no error text at all; the file is not to
 * blame for either. */
static alcm_status st_json_status(const json_error_t *err) {
  if (err->text[0] == '\0') return ALCM_ERR_NOMEM;
  switch (json_error_code(err)) {
  case json_error_duplicate_key: return ALCM_ERR_DUPLICATE;
  case json_error_out_of_memory: return ALCM_ERR_NOMEM;
  default: return ALCM_ERR_INPUT;
  }
}

/* Parse and validate header bytes json[0..n) (the bytes after the 8-byte
 * length). data_start is their end's file offset, for messages. */
static alcm_status st_parse(st_header *h, const uint8_t *json, size_t n,
                            const char *file, const alcm_mem *m,
                            alcm_msg *msg) {
  memset(h, 0, sizeof *h);
  const uint64_t data_start = (uint64_t)ST_LEN_SIZE + n;
  if (n == 0 || json[0] != '{')
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header at offset 8 does not "
                     "start with '{'", file);
  json_error_t err;
  h->root = json_loadb((const char *)json, n, JSON_REJECT_DUPLICATES, &err);
  if (!h->root)
    return alcm_fail(msg, st_json_status(&err),
                     "%s: header byte %llu (file offset %llu): %s", file,
                     (ull)err.position, (ull)(ST_LEN_SIZE + (uint64_t)err.position),
                     err.text[0] ? err.text : "JSON parser ran out of memory");
  if (!json_is_object(h->root))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header is not a JSON object",
                     file);
  const size_t keys = json_object_size(h->root);
  h->t = alcm_mem_calloc(m, keys ? keys : 1, sizeof *h->t);
  if (!h->t)
    return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: header at offset 8: %zu tensors", file,
                     keys);
  const char *key;
  json_t *v;
  json_object_foreach(h->root, key, v) {
    alcm_status s;
    if (strcmp(key, ST_METADATA_KEY) == 0) {
      s = st_metadata(v, file, msg);
    } else {
      st_tensor *const t = &h->t[h->count];
      t->name = key;
      t->order = h->count++;
      s = st_tensor_info(v, t, file, msg);
    }
    if (s != ALCM_OK) return s;
  }
  return st_layout(h, data_start, file, msg);
}

/* ---- import ------------------------------------------------------------ */

static alcm_status st_import_tensor(alcm_writer *w, const alcm_infile *in,
                                    const st_tensor *t, uint64_t data_start,
                                    const char *path) {
  uint64_t shape[ALCM_MAX_NDIM];
  const unsigned ndim = (unsigned)json_array_size(t->shape);
  for (unsigned d = 0; d < ndim; d++)
    json_uint(json_array_get(t->shape, d), &shape[d]); /* validated */
  alcm_status s = alcm_writer_begin_tensor(w, t->name, t->dtype, ndim,
                                           ndim ? shape : NULL, 0);
  if (s != ALCM_OK) {
    alcm_msg_prefix(alcm_writer_msg_(w), "%s: tensor '%s' (data at offset "
                     "%llu)", path, t->name, (ull)(data_start + t->begin));
    return s;
  }
  s = alcm_import_copy_(w, in, data_start + t->begin, t->end - t->begin, path,
                        t->name);
  if (s != ALCM_OK) return s;
  s = alcm_writer_end(w);
  if (s != ALCM_OK)
    alcm_msg_prefix(alcm_writer_msg_(w), "%s: tensor '%s' (data at offset "
                     "%llu)", path, t->name, (ull)(data_start + t->begin));
  return s;
}

/* Read and check the 8-byte length and the header; *buf (8 + N bytes,
 * exactly as in the file) is allocated from m. */
static alcm_status st_read_header(const alcm_infile *in, const char *path,
                                  const alcm_mem *m, alcm_msg *msg,
                                  uint8_t **buf, size_t *size) {
  uint8_t len[ST_LEN_SIZE];
  if (in->size < ST_LEN_SIZE)
    return alcm_fail(msg, ALCM_ERR_TRUNCATED, "%s: %llu bytes, shorter than "
                     "the 8-byte header length", path, (ull)in->size);
  alcm_status s = alcm_infile_read(in, 0, len, sizeof len, msg);
  if (s != ALCM_OK) {
    alcm_msg_prefix(msg, "%s: header length at offset 0", path);
    return s;
  }
  const uint64_t n = alcm_le64(len);
  if (n > ST_MAX_HEADER)
    return alcm_fail(msg, ALCM_ERR_LIMIT, "%s: header length %llu at offset "
                     "0 exceeds %u bytes", path, (ull)n, ST_MAX_HEADER);
  if (n > in->size - ST_LEN_SIZE)
    return alcm_fail(msg, ALCM_ERR_TRUNCATED, "%s: header length %llu at "
                     "offset 0 runs past the end of the %llu-byte file", path,
                     (ull)n, (ull)in->size);
  *size = ST_LEN_SIZE + (size_t)n;
  *buf = alcm_mem_alloc(m, *size);
  if (!*buf)
    return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: %zu-byte header", path, *size);
  memcpy(*buf, len, sizeof len);
  s = alcm_infile_read(in, ST_LEN_SIZE, *buf + ST_LEN_SIZE, (size_t)n, msg);
  if (s != ALCM_OK) alcm_msg_prefix(msg, "%s: header at offset 8", path);
  return s;
}

static alcm_status st_import(alcm_writer *w, const alcm_infile *in,
                             const char *path, const char *archive_path,
                             st_header *h) {
  alcm_msg *const msg = alcm_writer_msg_(w);
  const alcm_mem *const m = alcm_writer_mem_(w);
  uint8_t *head = NULL;
  size_t head_size = 0;
  alcm_status s = st_read_header(in, path, m, msg, &head, &head_size);
  if (s == ALCM_OK)
    s = st_parse(h, head + ST_LEN_SIZE, head_size - ST_LEN_SIZE, path, m, msg);
  if (s == ALCM_OK && in->size - head_size != h->data_size)
    s = alcm_fail(msg, ALCM_ERR_SIZE, "%s: data at offset %zu is %llu bytes, "
                  "the header describes %llu", path, head_size,
                  (ull)(in->size - head_size), (ull)h->data_size);
  if (s == ALCM_OK) {
    s = alcm_writer_add_source(w, ALCM_SOURCE_SAFETENSORS, archive_path, head,
                               head_size, NULL);
    if (s != ALCM_OK) alcm_msg_prefix(msg, "%s", path);
  }
  alcm_mem_free(m, head);
  for (size_t i = 0; i < h->count && s == ALCM_OK; i++)
    s = st_import_tensor(w, in, &h->t[i], head_size, path);
  return s;
}

ALCM_API alcm_status alcm_import_safetensors(alcm_writer *w, const char *path,
                                             const char *archive_path) {
  if (!w) return ALCM_ERR_ARGUMENT;
  alcm_msg *const msg = alcm_writer_msg_(w);
  if (!path || !archive_path)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "safetensors import: path and "
                     "archive_path are required");
  alcm_msg_clear(msg);
  alcm_infile in;
  alcm_status s = alcm_infile_open(&in, path, msg);
  if (s != ALCM_OK) return s;
  st_header h;
  memset(&h, 0, sizeof h);
  alcm_writer_lend_(w, &in);
  s = st_import(w, &in, path, archive_path, &h);
  st_free(&h, alcm_writer_mem_(w));
  s = alcm_import_release_(w, &in, path, s);
  alcm_infile_close(&in);
  return s;
}

/* ---- export ------------------------------------------------------------ */

/* Match every tensor of the stored header with an entry of this source
 * before anything is written. */
static alcm_status st_match(alcm_reader *r, size_t source, const char *spath,
                            const st_header *h, size_t *entries) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  for (size_t i = 0; i < h->count; i++) {
    const st_tensor *const t = &h->t[i];
    alcm_entry_info e;
    alcm_status s = alcm_reader_find(r, t->name, &entries[i]);
    if (s == ALCM_OK) s = alcm_reader_entry(r, entries[i], &e);
    if (s != ALCM_OK) {
      alcm_msg_prefix(msg, "source %zu '%s': tensor '%s'", source, spath,
                       t->name);
      return s;
    }
    if (e.source != source || e.kind != ALCM_ENTRY_TENSOR ||
        e.dtype != t->dtype || e.raw_size != t->end - t->begin)
      return alcm_fail(msg, ALCM_ERR_CORRUPT, "source %zu '%s': tensor '%s': "
                       "entry %zu does not match the stored header (source, "
                       "kind, dtype or %llu-byte size)", source, spath,
                       t->name, entries[i], (ull)(t->end - t->begin));
  }
  return ALCM_OK;
}

static alcm_status st_write(alcm_reader *r, const alcm_source_info *src,
                            const st_header *h, const size_t *entries,
                            const char *out_path, int overwrite) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  const alcm_mem *const m = alcm_reader_mem_(r);
  alcm_outfile out;
  alcm_status s = alcm_outfile_open(&out, m, out_path, overwrite, msg);
  if (s != ALCM_OK) return s;
  s = alcm_outfile_write(&out, src->restore, src->restore_size, msg);
  for (size_t i = 0; i < h->count && s == ALCM_OK; i++)
    s = alcm_export_entry_(r, entries[i], &out);
  if (s == ALCM_OK) s = alcm_outfile_commit(&out, m, msg);
  alcm_outfile_abort(&out, m);
  return s;
}

static alcm_status st_export(alcm_reader *r, size_t source,
                             const alcm_source_info *src, const char *out_path,
                             int overwrite) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  const alcm_mem *const m = alcm_reader_mem_(r);
  if (src->restore_size < ST_LEN_SIZE ||
      alcm_le64(src->restore) != src->restore_size - ST_LEN_SIZE)
    return alcm_fail(msg, ALCM_ERR_CORRUPT, "source %zu '%s': restore record "
                     "of %zu bytes is not a safetensors header", source,
                     src->path, src->restore_size);
  char what[64 + ALCM_MAX_NAME];
  snprintf(what, sizeof what, "source %zu '%s'", source, src->path);
  st_header h;
  alcm_status s = st_parse(&h, src->restore + ST_LEN_SIZE,
                           src->restore_size - ST_LEN_SIZE, what, m, msg);
  size_t *entries = NULL;
  if (s == ALCM_OK) {
    entries = alcm_mem_calloc(m, h.count ? h.count : 1, sizeof *entries);
    if (!entries)
      s = alcm_fail(msg, ALCM_ERR_NOMEM, "%s: %zu tensors", what, h.count);
  }
  if (s == ALCM_OK) s = st_match(r, source, src->path, &h, entries);
  if (s == ALCM_OK) s = st_write(r, src, &h, entries, out_path, overwrite);
  alcm_mem_free(m, entries);
  st_free(&h, m);
  return s;
}

static alcm_status file_export(alcm_reader *r, size_t source,
                               const char *out_path, int overwrite) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  const alcm_mem *const m = alcm_reader_mem_(r);
  size_t entry = 0;
  alcm_status s = alcm_export_sole_entry_(r, source, ALCM_ENTRY_BLOB, &entry);
  if (s != ALCM_OK) return s;
  alcm_outfile out;
  s = alcm_outfile_open(&out, m, out_path, overwrite, msg);
  if (s != ALCM_OK) return s;
  s = alcm_export_entry_(r, entry, &out);
  if (s == ALCM_OK) s = alcm_outfile_commit(&out, m, msg);
  alcm_outfile_abort(&out, m);
  return s;
}

ALCM_API alcm_status alcm_export_source(alcm_reader *r, size_t source,
                                        const char *out_path, int overwrite) {
  if (!r) return ALCM_ERR_ARGUMENT;
  alcm_msg *const msg = alcm_reader_msg_(r);
  if (!out_path)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "export: no output path");
  alcm_source_info src;
  const alcm_status s = alcm_reader_source(r, source, &src);
  if (s != ALCM_OK) return s;
  alcm_msg_clear(msg);
  switch (src.format) {
  case ALCM_SOURCE_SAFETENSORS:
    return st_export(r, source, &src, out_path, overwrite);
  case ALCM_SOURCE_NPY:
    return alcm_npy_export_source_(r, source, &src, out_path, overwrite);
  case ALCM_SOURCE_NPZ:
    return alcm_npz_export_source_(r, source, &src, out_path, overwrite);
  case ALCM_SOURCE_PYTORCH:
    return alcm_pytorch_export_source_(r, source, &src, out_path, overwrite);
  case ALCM_SOURCE_FILE:
    return file_export(r, source, out_path, overwrite);
  default:
    return alcm_fail(msg, ALCM_ERR_UNSUPPORTED, "source %zu '%s': format %d "
                     "cannot be restored by this library", source, src.path,
                     src.format);
  }
}
