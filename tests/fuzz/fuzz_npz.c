/*
 * fuzz_npz.c - the .npz importer (zip reader, stored and deflated .npy
 * members) on untrusted bytes. Export rebuilds the zip records, so the
 * round trip of fuzz_import.h checks that the exported file imports again
 * with the same entries instead of byte equality.
 */
#include "fuzz_import.h"

static alcm_status import_npz(alcm_writer *w, const char *path) {
  return alcm_import_npz(w, path, "arrays.npz");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_import_roundtrip(data, size, "in.npz", import_npz, 0);
  return 0;
}
