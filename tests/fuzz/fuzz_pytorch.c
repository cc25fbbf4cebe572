/*
 * fuzz_pytorch.c - the torch.save zip importer (zip reader and the
 * allow-listed pickle machine) on untrusted bytes, with the byte-exact
 * export round trip of fuzz_import.h.
 */
#include "fuzz_import.h"

static alcm_status import_pt(alcm_writer *w, const char *path) {
  return alcm_import_pytorch(w, path, "model.pt");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_import_roundtrip(data, size, "in.pt", import_pt, 1);
  return 0;
}
