/*
 * fuzz_open.c - an untrusted .alcm file: open (header, footer, index),
 * list every entry, source and metadata key, verify in all three modes,
 * read or stream every entry, and rebuild every source and tensor the way
 * alcm-unpack does. Default limits: what a user who opens a stranger's
 * archive gets.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = fuzz_path(0, "in.alcm");
  const char *out = fuzz_path(1, "out.bin");
  fuzz_write_file(in, data, size);
  alcm_reader *r = alcm_reader_create(NULL);
  FUZZ_CHECK(r != NULL, "reader_create");
  const alcm_status st = alcm_reader_open(r, in);
  FUZZ_CHECK(st != ALCM_OK || alcm_reader_message(r)[0] == '\0',
             "open succeeded with a message: %s", alcm_reader_message(r));
  FUZZ_CHECK(st == ALCM_OK || alcm_reader_message(r)[0] != '\0',
             "open failed (%s) without a message", alcm_error_name(st));
  if (st == ALCM_OK) {
    fuzz_walk_reader(r);
    alcm_archive_info ai;
    const int small = alcm_reader_archive_info(r, &ai) == ALCM_OK &&
                      ai.total_raw <= ((uint64_t)4 << 20);
    for (size_t i = 0; small && i < alcm_reader_source_count(r); i++)
      if (unlink(out), alcm_export_source(r, i, out, 1) != ALCM_OK)
        FUZZ_CHECK(access(out, F_OK) != 0,
                   "failed export of source %zu left a file", i);
    for (size_t i = 0; small && i < alcm_reader_entry_count(r) && i < 16; i++)
      (void)alcm_export_npy(r, i, out, 1);
    unlink(out);
  }
  alcm_reader_close(r);
  return 0;
}
