/*
 * fuzz_npy.c - the .npy importer on untrusted bytes, with the byte-exact
 * export round trip of fuzz_import.h.
 */
#include "fuzz_import.h"

static alcm_status import_npy(alcm_writer *w, const char *path) {
  return alcm_import_npy(w, path, "weights.npy", "weights");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_import_roundtrip(data, size, "in.npy", import_npy, 1);
  return 0;
}
