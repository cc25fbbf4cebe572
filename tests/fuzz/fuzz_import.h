/*
 * fuzz_import.h - shared body of the importer harnesses: an untrusted
 * checkpoint file is imported into a fresh archive; when the import is
 * accepted, the archive must verify and the source must come back out of
 * it byte-exact (exact != 0), or, for formats whose container bytes are
 * rebuilt rather than kept (.npz), as a file the same importer accepts
 * again with the same entries; when it is refused, no archive may appear.
 */
#ifndef ALCM_FUZZ_IMPORT_H
#define ALCM_FUZZ_IMPORT_H

#include "fuzz_common.h"

typedef alcm_status (*fuzz_import_fn)(alcm_writer *w, const char *path);

/* Imports path into a new archive at arc; @return its entry count, or -1
 * if the import or the archive failed. */
static inline long fuzz_import_count(const char *path, const char *arc,
                                     fuzz_import_fn import) {
  alcm_writer *w = alcm_writer_create(NULL);
  FUZZ_CHECK(w != NULL, "writer_create");
  alcm_status st = alcm_writer_open(w, arc);
  if (!st) st = import(w, path);
  if (!st) st = alcm_writer_finish(w);
  alcm_writer_close(w);
  if (st) return -1;
  alcm_reader *r = alcm_reader_create(NULL);
  FUZZ_CHECK(r != NULL, "reader_create");
  long n = -1;
  if (alcm_reader_open(r, arc) == ALCM_OK && alcm_reader_verify(r, 0) == ALCM_OK)
    n = (long)alcm_reader_entry_count(r);
  alcm_reader_close(r);
  return n;
}

static inline void fuzz_import_roundtrip(const uint8_t *data, size_t size,
                                         const char *in_name,
                                         fuzz_import_fn import, int exact) {
  const char *in = fuzz_path(0, in_name);
  const char *arc = fuzz_path(1, "out.alcm");
  const char *back = fuzz_path(2, "back.bin");
  fuzz_write_file(in, data, size);
  unlink(arc);
  unlink(back);
  alcm_write_options o;
  alcm_write_options_init(&o);
  o.chunk_size = 4096; /* several chunks even for small inputs */
  alcm_writer *w = alcm_writer_create(&o);
  FUZZ_CHECK(w != NULL, "writer_create");
  FUZZ_CHECK(alcm_writer_open(w, arc) == ALCM_OK, "writer_open: %s",
             alcm_writer_message(w));
  alcm_status st = import(w, in);
  FUZZ_CHECK(st == ALCM_OK || alcm_writer_message(w)[0] != '\0',
             "import failed (%s) without a message", alcm_error_name(st));
  if (st == ALCM_OK) st = alcm_writer_finish(w);
  alcm_writer_close(w);
  if (st != ALCM_OK) {
    FUZZ_CHECK(access(arc, F_OK) != 0, "failed import left an archive");
    return;
  }
  alcm_reader *r = alcm_reader_create(NULL);
  FUZZ_CHECK(r != NULL, "reader_create");
  st = alcm_reader_open(r, arc);
  FUZZ_CHECK(st == ALCM_OK, "open of a fresh archive: %s",
             alcm_reader_message(r));
  st = alcm_reader_verify(r, 0);
  FUZZ_CHECK(st == ALCM_OK, "verify of a fresh archive: %s",
             alcm_reader_message(r));
  FUZZ_CHECK(alcm_reader_source_count(r) == 1, "%zu sources",
             alcm_reader_source_count(r));
  st = alcm_export_source(r, 0, back, 0);
  FUZZ_CHECK(st == ALCM_OK, "export of an imported source: %s",
             alcm_reader_message(r));
  if (exact) {
    size_t n = 0;
    uint8_t *got = fuzz_read_file(back, &n);
    FUZZ_CHECK(got && n == size && (size == 0 || memcmp(got, data, size) == 0),
               "export is not byte-exact (%zu bytes in, %zu out)", size, n);
    free(got);
  } else {
    const long entries = (long)alcm_reader_entry_count(r);
    const char *again = fuzz_path(3, "again.alcm");
    unlink(again);
    const long n = fuzz_import_count(back, again, import);
    FUZZ_CHECK(n == entries, "exported file re-imports as %ld entries, the "
               "archive has %ld", n, entries);
    unlink(again);
  }
  for (size_t i = 0; i < alcm_reader_entry_count(r); i++) {
    unlink(back);
    (void)alcm_export_npy(r, i, back, 0);
  }
  alcm_reader_close(r);
}

#endif /* ALCM_FUZZ_IMPORT_H */
