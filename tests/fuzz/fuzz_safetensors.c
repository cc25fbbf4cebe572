/*
 * fuzz_safetensors.c - the safetensors importer on untrusted bytes, with
 * the byte-exact export round trip of fuzz_import.h.
 */
#include "fuzz_import.h"

static alcm_status import_st(alcm_writer *w, const char *path) {
  return alcm_import_safetensors(w, path, "model.safetensors");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_import_roundtrip(data, size, "in.safetensors", import_st, 1);
  return 0;
}
