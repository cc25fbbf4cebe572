/*
 * dtype.c - element types: sizes and safetensors spellings
 * (spec "Dtypes"). Values are wire ids, fixed forever.
 */
#include <string.h>

#include "internal.h"

typedef struct {
  const char *name;
  size_t size;
} dtype_desc;

static const dtype_desc dtypes[ALCM_DTYPE_MAX + 1] = {
    [ALCM_DTYPE_BOOL] = {"BOOL", 1},    [ALCM_DTYPE_U8] = {"U8", 1},
    [ALCM_DTYPE_I8] = {"I8", 1},        [ALCM_DTYPE_U16] = {"U16", 2},
    [ALCM_DTYPE_I16] = {"I16", 2},      [ALCM_DTYPE_U32] = {"U32", 4},
    [ALCM_DTYPE_I32] = {"I32", 4},      [ALCM_DTYPE_U64] = {"U64", 8},
    [ALCM_DTYPE_I64] = {"I64", 8},      [ALCM_DTYPE_F16] = {"F16", 2},
    [ALCM_DTYPE_BF16] = {"BF16", 2},    [ALCM_DTYPE_F32] = {"F32", 4},
    [ALCM_DTYPE_F64] = {"F64", 8},      [ALCM_DTYPE_F8_E4M3] = {"F8_E4M3", 1},
    [ALCM_DTYPE_F8_E5M2] = {"F8_E5M2", 1},
};

static const dtype_desc *lookup(int dtype) {
  if (dtype < 1 || dtype > (int)ALCM_DTYPE_MAX) return NULL;
  return &dtypes[dtype];
}

ALCM_API size_t alcm_dtype_size(int dtype) {
  const dtype_desc *const d = lookup(dtype);
  return d ? d->size : 0;
}

ALCM_API const char *alcm_dtype_name(int dtype) {
  const dtype_desc *const d = lookup(dtype);
  return d ? d->name : NULL;
}

ALCM_API int alcm_dtype_from_name(const char *name) {
  if (!name) return 0;
  for (int i = 1; i <= (int)ALCM_DTYPE_MAX; i++)
    if (strcmp(dtypes[i].name, name) == 0) return i;
  return 0;
}
