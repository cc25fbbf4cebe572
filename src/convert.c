/*
 * convert.c - write chosen tensor entries as one safetensors file, for
 * partial unpack and format conversion (huggingface/safetensors "Format":
 * u64 N | N bytes JSON header, padded with spaces to a multiple of 8 as
 * the reference writer does | data, tensors back to back in header order).
 */
#include <jansson.h>
#include <stdio.h>

#include "internal.h"
#include "importers.h"

typedef unsigned long long ull;

static alcm_status cv_entry(alcm_reader *r, json_t *root, size_t entry,
                            uint64_t *at) {
  alcm_msg *const msg = alcm_reader_msg_(r);
  alcm_entry_info e;
  alcm_status s = alcm_reader_entry(r, entry, &e);
  if (s != ALCM_OK) return s;
  if (e.kind != ALCM_ENTRY_TENSOR)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "entry '%s' is a blob", e.name);
  if (e.flags & ALCM_ENTRY_FLAGS_KNOWN) /* the layout flags; not BUNDLED */
    return alcm_fail(msg, ALCM_ERR_UNSUPPORTED, "tensor '%s': big-endian or "
                     "Fortran-order data has no safetensors form", e.name);
  if (json_object_get(root, e.name))
    return alcm_fail(msg, ALCM_ERR_DUPLICATE, "tensor '%s' selected twice",
                     e.name);
  json_t *const t = json_object(), *const shape = json_array();
  json_t *const offs = json_array();
  int bad = !t || !shape || !offs;
  for (unsigned d = 0; d < e.ndim && !bad; d++)
    bad = json_array_append_new(shape, json_integer((json_int_t)e.shape[d]));
  if (!bad)
    bad = json_array_append_new(offs, json_integer((json_int_t)*at)) ||
          json_array_append_new(offs, json_integer((json_int_t)(*at + e.raw_size)));
  if (!bad)
    bad = json_object_set_new(t, "dtype", json_string(alcm_dtype_name(e.dtype))) ||
          json_object_set(t, "shape", shape) ||
          json_object_set(t, "data_offsets", offs) ||
          json_object_set(root, e.name, t);
  json_decref(shape);
  json_decref(offs);
  json_decref(t);
  if (bad) return alcm_fail(msg, ALCM_ERR_NOMEM, "tensor '%s': header", e.name);
  *at += e.raw_size;
  return ALCM_OK;
}

ALCM_API alcm_status alcm_export_safetensors(alcm_reader *r,
                                             const size_t *entries,
                                             size_t count,
                                             const char *out_path,
                                             int overwrite) {
  if (!r) return ALCM_ERR_ARGUMENT;
  alcm_msg *const msg = alcm_reader_msg_(r);
  const alcm_mem *const m = alcm_reader_mem_(r);
  if (!out_path || (count && !entries))
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "export: no output or entries");
  alcm_msg_clear(msg);
  json_t *const root = json_object();
  if (!root) return alcm_fail(msg, ALCM_ERR_NOMEM, "safetensors header");
  alcm_status s = ALCM_OK;
  uint64_t at = 0;
  for (size_t i = 0; i < count && s == ALCM_OK; i++)
    s = cv_entry(r, root, entries[i], &at);
  char *text = NULL;
  if (s == ALCM_OK &&
      !(text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER)))
    s = alcm_fail(msg, ALCM_ERR_NOMEM, "safetensors header");
  json_decref(root);
  alcm_outfile out;
  bool opened = false;
  if (s == ALCM_OK) {
    s = alcm_outfile_open(&out, m, out_path, overwrite, msg);
    opened = s == ALCM_OK;
  }
  if (s == ALCM_OK) {
    const size_t n = strlen(text), padded = (n + 7) / 8 * 8;
    uint8_t len[8];
    alcm_st64(len, padded);
    s = alcm_outfile_write(&out, len, sizeof len, msg);
    if (s == ALCM_OK) s = alcm_outfile_write(&out, text, n, msg);
    if (s == ALCM_OK) s = alcm_outfile_write(&out, "       ", padded - n, msg);
  }
  free(text);
  for (size_t i = 0; i < count && s == ALCM_OK; i++)
    s = alcm_export_entry_(r, entries[i], &out);
  if (s == ALCM_OK) s = alcm_outfile_commit(&out, m, msg);
  if (opened) alcm_outfile_abort(&out, m);
  return s;
}
