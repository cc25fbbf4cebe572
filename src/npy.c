/*
 * npy.c - NumPy .npy files: import one array as a tensor, rebuild the
 * original file byte-exact, and write any tensor entry as numpy.save
 * would.
 *
 * Layout (numpy/lib/format.py, "NPY format"):
 *   "\x93NUMPY" | u8 major | u8 minor | header_len (u16 in 1.0, u32 in
 *   2.0 and 3.0) | header | data
 * The header is a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and a '\n'. numpy reads it with ast.literal_eval; we
 * accept only the literal grammar numpy itself writes (and older numpy
 * wrote: either quote style, optional trailing commas, 'L' suffixes in
 * 1.0/2.0), which is enough for every real file and small enough to check
 * by reading.
 */
#include <stdio.h>

#include "internal.h"
#include "importers.h"


#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_SIZE 6u
#define NPY_PREFIX_MAX 12u             /* magic, version, u32 length */
#define NPY_MAX_HEADER ((size_t)1 << 20) /* header bytes we accept */
#define NPY_ALIGN 64u                  /* numpy's ARRAY_ALIGN */
#define NPY_GROWTH_DIGITS 21u          /* numpy's GROWTH_AXIS_MAX_DIGITS */

typedef unsigned long long ull;

typedef struct {
  int dtype;
  unsigned flags;
  unsigned ndim;
  uint64_t shape[ALCM_MAX_NDIM];
  size_t preamble_size; /* magic .. end of header = offset of the data */
  uint64_t data_size;   /* numel * itemsize */
} npy_header;

/* ---- prefix ------------------------------------------------------------ */

/* Magic, version and header length from the first n bytes; sets
 * h->preamble_size. */
static alcm_status npy_prefix(const uint8_t *p, size_t n, npy_header *h,
                              unsigned *major, const char *file,
                              alcm_msg *msg) {
  const size_t m = n < NPY_MAGIC_SIZE ? n : NPY_MAGIC_SIZE;
  if (memcmp(p, NPY_MAGIC, m) != 0)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: no .npy magic "
                     "\"\\x93NUMPY\" at offset 0", file);
  if (n < NPY_MAGIC_SIZE + 2)
    return alcm_fail(msg, ALCM_ERR_TRUNCATED, "%s: %zu bytes, too short for "
                     "the .npy magic and version", file, n);
  *major = p[6];
  const unsigned minor = p[7];
  if (*major < 1 || *major > 3 || minor != 0)
    return alcm_fail(msg, ALCM_ERR_VERSION, "%s: .npy version %u.%u at "
                     "offset 6 (1.0, 2.0 and 3.0 are known)", file, *major,
                     minor);
  const size_t len_size = *major == 1 ? 2 : 4;
  if (n - 8 < len_size)
    return alcm_fail(msg, ALCM_ERR_TRUNCATED, "%s: header length at offset "
                     "8", file);
  const size_t hlen = len_size == 2 ? alcm_le16(p + 8) : alcm_le32(p + 8);
  if (hlen > NPY_MAX_HEADER)
    return alcm_fail(msg, ALCM_ERR_LIMIT, "%s: header length %zu at offset "
                     "8 exceeds %zu bytes", file, hlen, NPY_MAX_HEADER);
  h->preamble_size = 8 + len_size + hlen;
  return ALCM_OK;
}

/* ---- header dict literal ------------------------------------------------ */

typedef struct {
  const char *p, *end;
  bool long_suffix; /* 1.0/2.0 files from Python 2 may say 3L */
} lex;

static void lex_ws(lex *l) {
  while (l->p != l->end &&
         (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
    l->p++;
}

static bool lex_eat(lex *l, char c) {
  lex_ws(l);
  if (l->p == l->end || *l->p != c) return false;
  l->p++;
  return true;
}

/* A quoted string without escapes (none of the values we accept needs
 * one). */
static bool lex_str(lex *l, const char **s, size_t *n) {
  lex_ws(l);
  if (l->p == l->end || (*l->p != '\'' && *l->p != '"')) return false;
  const char q = *l->p++;
  const char *const start = l->p;
  while (l->p != l->end && *l->p != q) {
    if (*l->p == '\\' || *l->p == '\n') return false;
    l->p++;
  }
  if (l->p == l->end) return false;
  *s = start;
  *n = (size_t)(l->p - start);
  l->p++;
  return true;
}

static bool lex_word(lex *l, const char *w) {
  lex_ws(l);
  const size_t n = strlen(w);
  if ((size_t)(l->end - l->p) < n || memcmp(l->p, w, n) != 0) return false;
  l->p += n;
  return true;
}

/* Decimal integer as Python writes it: no sign, no leading zeros. */
static alcm_status lex_uint(lex *l, uint64_t *v) {
  lex_ws(l);
  if (l->p == l->end || *l->p < '0' || *l->p > '9') return ALCM_ERR_INPUT;
  if (*l->p == '0' && l->end - l->p > 1 && l->p[1] >= '0' && l->p[1] <= '9')
    return ALCM_ERR_INPUT;
  uint64_t x = 0;
  while (l->p != l->end && *l->p >= '0' && *l->p <= '9') {
    if (__builtin_mul_overflow(x, (uint64_t)10, &x) ||
        __builtin_add_overflow(x, (uint64_t)(*l->p - '0'), &x))
      return ALCM_ERR_OVERFLOW;
    l->p++;
  }
  if (l->long_suffix && l->p != l->end && *l->p == 'L') l->p++;
  *v = x;
  return ALCM_OK;
}

/* (), (a,), (a, b), (a, b,) */
static alcm_status lex_shape(lex *l, npy_header *h, const char *file,
                             alcm_msg *msg) {
  if (!lex_eat(l, '('))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header: shape is not a tuple",
                     file);
  h->ndim = 0;
  if (lex_eat(l, ')')) return ALCM_OK;
  for (;;) {
    if (h->ndim == ALCM_MAX_NDIM)
      return alcm_fail(msg, ALCM_ERR_LIMIT, "%s: header: more than %u "
                       "dimensions", file, ALCM_MAX_NDIM);
    const alcm_status s = lex_uint(l, &h->shape[h->ndim]);
    if (s != ALCM_OK)
      return alcm_fail(msg, s, "%s: header: shape[%u] is not a non-negative "
                       "integer", file, h->ndim);
    h->ndim++;
    const bool comma = lex_eat(l, ',');
    if (lex_eat(l, ')')) {
      /* Python: (3) is the integer 3, not a tuple. */
      if (h->ndim == 1 && !comma) break;
      return ALCM_OK;
    }
    if (!comma) break;
  }
  return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header: shape is not a tuple of "
                   "integers", file);
}

typedef struct {
  char code[4]; /* kind and size after the byte-order character */
  int dtype;
} npy_kind;

static const npy_kind npy_kinds[] = {
    {"b1", ALCM_DTYPE_BOOL}, {"u1", ALCM_DTYPE_U8},  {"i1", ALCM_DTYPE_I8},
    {"u2", ALCM_DTYPE_U16},  {"i2", ALCM_DTYPE_I16}, {"u4", ALCM_DTYPE_U32},
    {"i4", ALCM_DTYPE_I32},  {"u8", ALCM_DTYPE_U64}, {"i8", ALCM_DTYPE_I64},
    {"f2", ALCM_DTYPE_F16},  {"f4", ALCM_DTYPE_F32}, {"f8", ALCM_DTYPE_F64},
};

/* '<f4', '>i8', '|u1', '|b1'. Byte order '|' only for one-byte types;
 * '=' (native) is rejected because it does not say which order. */
static alcm_status npy_descr(const char *s, size_t n, npy_header *h,
                             const char *file, alcm_msg *msg) {
  if (n == 3) {
    for (size_t i = 0; i < sizeof npy_kinds / sizeof npy_kinds[0]; i++) {
      if (memcmp(s + 1, npy_kinds[i].code, 2) != 0) continue;
      const int dt = npy_kinds[i].dtype;
      const bool one = alcm_dtype_size(dt) == 1;
      if (s[0] == '<' || (s[0] == '|' && one)) {
        h->dtype = dt;
        return ALCM_OK;
      }
      if (s[0] == '>') {
        h->dtype = dt;
        if (!one) h->flags |= ALCM_ENTRY_FLAG_BIG_ENDIAN;
        return ALCM_OK;
      }
      break;
    }
  }
  return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header: dtype '%.*s' is not a "
                   "bool, integer or float array type", file,
                   (int)(n < 64 ? n : 64), s);
}

static alcm_status npy_value(lex *l, unsigned bit, npy_header *h,
                             const char *file, alcm_msg *msg) {
  const char *s;
  size_t n;
  switch (bit) {
  case 1:
    if (lex_eat(l, '['))
      return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header: structured dtypes "
                       "are not supported", file);
    if (!lex_str(l, &s, &n))
      return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header: descr is not a "
                       "string", file);
    return npy_descr(s, n, h, file, msg);
  case 2:
    if (lex_word(l, "True")) {
      h->flags |= ALCM_ENTRY_FLAG_FORTRAN_ORDER;
      return ALCM_OK;
    }
    if (lex_word(l, "False")) return ALCM_OK;
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header: fortran_order is not "
                     "True or False", file);
  default:
    return lex_shape(l, h, file, msg);
  }
}

static unsigned npy_key_bit(const char *k, size_t n) {
  if (n == 5 && memcmp(k, "descr", 5) == 0) return 1;
  if (n == 13 && memcmp(k, "fortran_order", 13) == 0) return 2;
  if (n == 5 && memcmp(k, "shape", 5) == 0) return 4;
  return 0;
}

/* The dict literal in text[0..n): exactly the keys descr, fortran_order
 * and shape, then only whitespace. */
static alcm_status npy_dict(const char *text, size_t n, unsigned major,
                            npy_header *h, const char *file, alcm_msg *msg) {
  lex l = {text, text + n, major <= 2};
  unsigned seen = 0;
  if (!lex_eat(&l, '{'))
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header is not a dict literal",
                     file);
  while (!lex_eat(&l, '}')) {
    const char *k;
    size_t kn;
    if (!lex_str(&l, &k, &kn) || !lex_eat(&l, ':'))
      return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header byte %zu: expected "
                       "'key': value", file, (size_t)(l.p - text));
    const unsigned bit = npy_key_bit(k, kn);
    if (!bit)
      return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header: unexpected key "
                       "'%.*s'", file, (int)(kn < 64 ? kn : 64), k);
    if (seen & bit)
      return alcm_fail(msg, ALCM_ERR_DUPLICATE, "%s: header: key '%.*s' "
                       "twice", file, (int)kn, k);
    seen |= bit;
    const alcm_status s = npy_value(&l, bit, h, file, msg);
    if (s != ALCM_OK) return s;
    if (!lex_eat(&l, ',')) {
      if (lex_eat(&l, '}')) break;
      return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header byte %zu: expected "
                       "',' or '}'", file, (size_t)(l.p - text));
    }
  }
  lex_ws(&l);
  if (l.p != l.end)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header byte %zu: text after "
                     "the dict", file, (size_t)(l.p - text));
  if (seen != 7)
    return alcm_fail(msg, ALCM_ERR_INPUT, "%s: header lacks descr, "
                     "fortran_order or shape", file);
  return ALCM_OK;
}

/* Parse a whole preamble p[0..n) (n >= h->preamble_size after prefix). */
static alcm_status npy_parse(const uint8_t *p, size_t n, npy_header *h,
                             const char *file, alcm_msg *msg) {
  memset(h, 0, sizeof *h);
  unsigned major = 0;
  alcm_status s = npy_prefix(p, n, h, &major, file, msg);
  if (s != ALCM_OK) return s;
  if (n < h->preamble_size)
    return alcm_fail(msg, ALCM_ERR_TRUNCATED, "%s: header of %zu bytes at "
                     "offset %u", file, h->preamble_size - (major == 1 ? 10 : 12),
                     major == 1 ? 10u : 12u);
  const size_t at = major == 1 ? 10 : 12;
  s = npy_dict((const char *)p + at, h->preamble_size - at, major, h, file,
               msg);
  if (s != ALCM_OK) return s;
  uint64_t numel = 1;
  for (unsigned d = 0; d < h->ndim; d++)
    if (__builtin_mul_overflow(numel, h->shape[d], &numel))
      return alcm_fail(msg, ALCM_ERR_OVERFLOW, "%s: header: element count",
                       file);
  if (__builtin_mul_overflow(numel, (uint64_t)alcm_dtype_size(h->dtype),
                             &h->data_size))
    return alcm_fail(msg, ALCM_ERR_OVERFLOW, "%s: header: byte size", file);
  return ALCM_OK;
}

/* ---- import ------------------------------------------------------------ */

static alcm_status npy_read_preamble(const alcm_infile *in, const char *path,
                                     const alcm_mem *m, alcm_msg *msg,
                                     uint8_t **buf, npy_header *h) {
  uint8_t pre[NPY_PREFIX_MAX];
  const size_t n = in->size < sizeof pre ? (size_t)in->size : sizeof pre;
  alcm_status s = alcm_infile_read(in, 0, pre, n, msg);
  if (s != ALCM_OK) {
    alcm_msg_prefix(msg, "%s: reading the .npy magic at offset 0", path);
    return s;
  }
  unsigned major;
  s = npy_prefix(pre, n, h, &major, path, msg);
  if (s != ALCM_OK) return s;
  if (h->preamble_size > in->size)
    return alcm_fail(msg, ALCM_ERR_TRUNCATED, "%s: header ends at offset %zu, "
                     "past the end of the %llu-byte file", path,
                     h->preamble_size, (ull)in->size);
  *buf = alcm_mem_alloc(m, h->preamble_size);
  if (!*buf)
    return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: %zu-byte header", path,
                     h->preamble_size);
  s = alcm_infile_read(in, 0, *buf, h->preamble_size, msg);
  if (s != ALCM_OK) {
    alcm_msg_prefix(msg, "%s: reading the header", path);
    return s;
  }
  return npy_parse(*buf, h->preamble_size, h, path, msg);
}

static alcm_status npy_import(alcm_writer *w, const alcm_infile *in,
                              const char *path, const char *archive_path,
                              const char *name, uint8_t **pre) {
  alcm_msg *const msg = alcm_writer_msg_(w);
  npy_header h;
  alcm_status s =
      npy_read_preamble(in, path, alcm_writer_mem_(w), msg, pre, &h);
  if (s != ALCM_OK) return s;
  const uint64_t have = in->size - h.preamble_size;
  if (have != h.data_size)
    return alcm_fail(msg, ALCM_ERR_SIZE, "%s: data at offset %zu is %llu "
                     "bytes, dtype and shape need %llu", path,
                     h.preamble_size, (ull)have, (ull)h.data_size);
  s = alcm_writer_add_source(w, ALCM_SOURCE_NPY, archive_path, *pre,
                             h.preamble_size, NULL);
  if (s == ALCM_OK)
    s = alcm_writer_begin_tensor(w, name, h.dtype, h.ndim,
                                 h.ndim ? h.shape : NULL, h.flags);
  if (s != ALCM_OK) {
    alcm_msg_prefix(msg, "%s: tensor '%s'", path, name);
    return s;
  }
  s = alcm_import_copy_(w, in, h.preamble_size, h.data_size, path, name);
  if (s != ALCM_OK) return s;
  s = alcm_writer_end(w);
  if (s != ALCM_OK) alcm_msg_prefix(msg, "%s: tensor '%s'", path, name);
  return s;
}

ALCM_API alcm_status alcm_import_npy(alcm_writer *w, const char *path,
                                     const char *archive_path,
                                     const char *name) {
  if (!w) return ALCM_ERR_ARGUMENT;
  alcm_msg *const msg = alcm_writer_msg_(w);
  if (!path || !archive_path || !name)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "npy import: path, archive_path "
                     "and name are required");
  alcm_msg_clear(msg);
  alcm_infile in;
  alcm_status s = alcm_infile_open(&in, path, msg);
  if (s != ALCM_OK) return s;
  uint8_t *pre = NULL;
  alcm_writer_lend_(w, &in);
  s = npy_import(w, &in, path, archive_path, name, &pre);
  alcm_mem_free(alcm_writer_mem_(w), pre);
  s = alcm_import_release_(w, &in, path, s);
  alcm_infile_close(&in);
  return s;
}

/* ---- export ------------------------------------------------------------ */

static alcm_status npy_write(alcm_reader *r, size_t entry, const void *pre,
                             size_t pre_size, const char *out_path,
                             int overwrite) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  const alcm_mem *const m = alcm_reader_mem_(r);
  alcm_outfile out;
  alcm_status s = alcm_outfile_open(&out, m, out_path, overwrite, msg);
  if (s != ALCM_OK) return s;
  s = alcm_outfile_write(&out, pre, pre_size, msg);
  if (s == ALCM_OK) s = alcm_export_entry_(r, entry, &out);
  if (s == ALCM_OK) s = alcm_outfile_commit(&out, m, msg);
  alcm_outfile_abort(&out, m);
  return s;
}

alcm_status alcm_npy_export_source_(alcm_reader *r, size_t source,
                                    const alcm_source_info *src,
                                    const char *out_path, int overwrite) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  size_t entry;
  alcm_status s =
      alcm_export_sole_entry_(r, source, ALCM_ENTRY_TENSOR, &entry);
  if (s != ALCM_OK) return s;
  alcm_entry_info e;
  s = alcm_reader_entry(r, entry, &e);
  if (s != ALCM_OK) return s;
  char what[64 + ALCM_MAX_NAME];
  snprintf(what, sizeof what, "source %zu '%s'", source, src->path);
  npy_header h;
  s = npy_parse(src->restore, src->restore_size, &h, what, msg);
  if (s != ALCM_OK) return s;
  if (h.preamble_size != src->restore_size || h.dtype != e.dtype ||
      h.data_size != e.raw_size)
    return alcm_fail(msg, ALCM_ERR_CORRUPT, "%s: stored .npy header does not "
                     "match tensor '%s'", what, e.name);
  return npy_write(r, entry, src->restore, src->restore_size, out_path,
                   overwrite);
}

/* The descr numpy writes (dtype.str), or NULL if numpy has none. */
static const char *npy_descr_code(int dtype) {
  for (size_t i = 0; i < sizeof npy_kinds / sizeof npy_kinds[0]; i++)
    if (npy_kinds[i].dtype == dtype) return npy_kinds[i].code;
  return NULL;
}

/* Append to buf[*len..cap); the caller sized buf for the worst case. */
static void npy_put(char *buf, size_t cap, size_t *len, const char *fmt,
                    ...) ALCM_PRINTF(4, 5);
static void npy_put(char *buf, size_t cap, size_t *len, const char *fmt,
                    ...) {
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
  va_end(ap);
  if (n > 0) *len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

/* numpy.lib.format._write_array_header + _wrap_header_guess_version:
 * dict, growth padding for the first (C) or last (Fortran) axis, spaces
 * and '\n' up to a multiple of 64; version 1.0 unless the length needs
 * 2.0. The worst case (32 dims of 20 digits) is far below 64 KiB. */
#define NPY_OUT_MAX (12 + 64 + ALCM_MAX_NDIM * 22 + 2 * NPY_ALIGN + 64)
static size_t npy_header_build(const alcm_entry_info *e, const char *code,
                               uint8_t *out) {
  char d[NPY_OUT_MAX];
  size_t n = 0;
  const bool fortran = (e->flags & ALCM_ENTRY_FLAG_FORTRAN_ORDER) != 0;
  const char order = alcm_dtype_size(e->dtype) == 1 ? '|'
                     : (e->flags & ALCM_ENTRY_FLAG_BIG_ENDIAN) ? '>' : '<';
  npy_put(d, sizeof d, &n, "{'descr': '%c%s', 'fortran_order': %s, "
          "'shape': (", order, code, fortran ? "True" : "False");
  for (unsigned i = 0; i < e->ndim; i++)
    npy_put(d, sizeof d, &n, "%s%llu", i ? ", " : "", (ull)e->shape[i]);
  npy_put(d, sizeof d, &n, "%s), }", e->ndim == 1 ? "," : "");
  if (e->ndim) {
    char digits[24];
    const int len = snprintf(digits, sizeof digits, "%llu",
                             (ull)e->shape[fortran ? e->ndim - 1 : 0]);
    for (int i = len; i < (int)NPY_GROWTH_DIGITS; i++)
      npy_put(d, sizeof d, &n, " ");
  }
  const size_t hlen = n + 1; /* + '\n' */
  size_t prefix = 10;
  size_t pad = NPY_ALIGN - (prefix + hlen) % NPY_ALIGN;
  if (hlen + pad > 0xFFFF) {
    prefix = 12;
    pad = NPY_ALIGN - (prefix + hlen) % NPY_ALIGN;
  }
  memcpy(out, NPY_MAGIC, NPY_MAGIC_SIZE);
  out[6] = prefix == 10 ? 1 : 2;
  out[7] = 0;
  if (prefix == 10)
    alcm_st16(out + 8, (uint16_t)(hlen + pad));
  else
    alcm_st32(out + 8, (uint32_t)(hlen + pad));
  memcpy(out + prefix, d, n);
  memset(out + prefix + n, ' ', pad);
  out[prefix + n + pad] = '\n';
  return prefix + hlen + pad;
}

ALCM_API alcm_status alcm_export_npy(alcm_reader *r, size_t entry,
                                     const char *out_path, int overwrite) {
  if (!r) return ALCM_ERR_ARGUMENT;
  alcm_msg *const msg = alcm_reader_msg_(r);
  if (!out_path)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "export: no output path");
  alcm_entry_info e;
  const alcm_status s = alcm_reader_entry(r, entry, &e);
  if (s != ALCM_OK) return s;
  alcm_msg_clear(msg);
  if (e.kind != ALCM_ENTRY_TENSOR)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "entry '%s' is a blob, not a "
                     "tensor", e.name);
  const char *const code = npy_descr_code(e.dtype);
  if (!code)
    return alcm_fail(msg, ALCM_ERR_UNSUPPORTED, "tensor '%s': dtype %s has no "
                     "NumPy equivalent; restore the safetensors source or "
                     "read the raw bytes instead", e.name,
                     alcm_dtype_name(e.dtype) ? alcm_dtype_name(e.dtype)
                                              : "?");
  if (e.ndim > ALCM_MAX_NDIM)
    return alcm_fail(msg, ALCM_ERR_CORRUPT, "tensor '%s': %u dimensions",
                     e.name, e.ndim);
  uint8_t head[NPY_OUT_MAX];
  const size_t n = npy_header_build(&e, code, head);
  return npy_write(r, entry, head, n, out_path, overwrite);
}

/* ---- for npz.c (issue 4) ------------------------------------------------ */

alcm_status alcm_npy_parse_(const uint8_t *p, size_t n, alcm_npy_info *info,
                            const char *file, alcm_msg *msg) {
  npy_header h;
  const alcm_status s = npy_parse(p, n, &h, file, msg);
  memset(info, 0, sizeof *info);
  info->preamble_size = h.preamble_size;
  if (s != ALCM_OK) return s;
  info->dtype = h.dtype;
  info->flags = h.flags;
  info->ndim = h.ndim;
  memcpy(info->shape, h.shape, sizeof info->shape);
  info->data_size = h.data_size;
  return ALCM_OK;
}
