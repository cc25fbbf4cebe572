/*
 * fuzz_chunk.c - chunk decoding: every codec and every transform, on their
 * own and through the reader.
 *
 * Input: 6 control bytes, then the payload.
 *   [0] codec id (modulo ALCM_CODEC_ID_BUILTIN_COUNT + 1, so one unknown id)
 *   [1] transform id (modulo ALCM_TRANSFORM_COUNT + 1, so one unknown id)
 *   [2] dtype (modulo 15, + 1)
 *   [3..4] element count, u16 little-endian (the frame's element size
 *          is the dtype's, or 1 for the identity transform)
 *   [5] bit 0: declare one raw byte more than the elements hold
 *
 * 1. Each built-in codec decompresses the payload to raw_size bytes (ASan
 *    checks it never writes outside dst), and each valid (transform,
 *    element size) pair must satisfy forward(inverse(x)) == x.
 * 2. A one-entry archive is built around the payload as one chunk frame,
 *    with every checksum set from what the harness decoded itself, and
 *    the reader must agree: if the harness could decode the chunk, read()
 *    returns exactly those bytes; if it could not, read() fails.
 */
#include "fuzz_common.h"
#include "internal.h"

#define CTL 6u
#define ALIGN_LOG2 6u
#define ALIGN ((size_t)1 << ALIGN_LOG2)

static size_t round_up(size_t n) { return (n + ALIGN - 1) & ~(ALIGN - 1); }

static void check_transforms(const uint8_t *x, size_t n) {
  static const unsigned sizes[] = {1, 2, 4, 8};
  uint8_t *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
  FUZZ_CHECK(a && b, "malloc");
  for (unsigned t = 0; t < ALCM_TRANSFORM_COUNT; t++)
    for (size_t k = 0; k < 4; k++) {
      const unsigned es = sizes[k];
      if (!alcm_transform_valid(t, es)) continue;
      const size_t m = n - n % es;
      alcm_transform_inverse(t, es, a, x, m);
      alcm_transform_forward(t, es, b, a, m);
      FUZZ_CHECK(memcmp(b, x, m) == 0,
                 "transform %u, element size %u: forward(inverse(x)) != x "
                 "for %zu bytes", t, es, m);
    }
  free(a);
  free(b);
}

static void check_codecs(const uint8_t *src, size_t n, size_t raw_size) {
  uint8_t *dst = malloc(raw_size ? raw_size : 1);
  FUZZ_CHECK(dst != NULL, "malloc");
  const alcm_codec_set none = {NULL, 0};
  for (unsigned id = 0; id < ALCM_CODEC_ID_BUILTIN_COUNT; id++) {
    const alcm_codec *c = alcm_codec_by_id(&none, id);
    if (c) (void)c->decompress(dst, raw_size, src, n);
  }
  free(dst);
}

/* What the reader should produce: codec, then inverse transform; NULL if
 * either step is impossible. */
static uint8_t *expected_raw(unsigned codec, unsigned transform, unsigned es,
                             int dtype, const uint8_t *src, size_t n,
                             size_t raw_size) {
  const alcm_codec_set none = {NULL, 0};
  const alcm_codec *c = alcm_codec_by_id(&none, codec);
  if (!c || transform >= ALCM_TRANSFORM_COUNT ||
      !alcm_transform_valid(transform, es) || raw_size % es)
    return NULL;
  /* The field splits belong to their own dtype (spec "Transforms"). */
  if ((transform == ALCM_TRANSFORM_SPLIT_BF16 && dtype != ALCM_DTYPE_BF16) ||
      (transform == ALCM_TRANSFORM_SPLIT_F32 && dtype != ALCM_DTYPE_F32))
    return NULL;
  uint8_t *plain = malloc(raw_size ? raw_size : 1);
  uint8_t *raw = malloc(raw_size ? raw_size : 1);
  FUZZ_CHECK(plain && raw, "malloc");
  if (c->decompress(plain, raw_size, src, n) != 0) {
    free(plain);
    free(raw);
    return NULL;
  }
  alcm_transform_inverse(transform, es, raw, plain, raw_size);
  free(plain);
  return raw;
}

/* header | pad | frame header | payload | pad | index | footer */
static uint8_t *build_archive(const alcm_frame *f, const uint8_t *payload,
                              alcm_entry *e, size_t *size_ret) {
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  alcm_index idx;
  memset(&idx, 0, sizeof idx);
  idx.entries = e;
  idx.entry_count = 1;
  idx.total_raw = e->raw_size;
  uint8_t *index = NULL;
  size_t index_size = 0;
  alcm_msg msg;
  FUZZ_CHECK(alcm_index_encode(&idx, false, &mem, &index, &index_size, &msg) == 0,
             "index_encode: %s", msg.text);
  const size_t frame_at = ALIGN;
  const size_t payload_end =
      e->chunk_count ? frame_at + ALCM_FRAME_HEADER_SIZE + f->stored_size
                     : frame_at;
  const size_t index_at = round_up(payload_end);
  const size_t total = index_at + index_size + ALCM_FOOTER_SIZE;
  uint8_t *out = calloc(1, total);
  FUZZ_CHECK(out != NULL, "calloc");
  alcm_header_encode(out, ALIGN_LOG2);
  if (e->chunk_count) {
    alcm_frame_encode(out + frame_at, f);
    memcpy(out + frame_at + ALCM_FRAME_HEADER_SIZE, payload,
           (size_t)f->stored_size);
  }
  memcpy(out + index_at, index, index_size);
  const alcm_footer foot = {index_at, index_size,
                            alcm_hash64(index, index_size), ALCM_FORMAT_MINOR};
  alcm_footer_encode(out + index_at + index_size, &foot);
  alcm_mem_free(&mem, index);
  *size_ret = total;
  return out;
}

static void check_reader(const uint8_t *ctl, const uint8_t *payload,
                         size_t n) {
  const unsigned codec = ctl[0] % (ALCM_CODEC_ID_BUILTIN_COUNT + 1);
  const unsigned transform = ctl[1] % (ALCM_TRANSFORM_COUNT + 1);
  const int dtype = ctl[2] % 15 + 1;
  const unsigned dsize = (unsigned)alcm_dtype_size(dtype);
  /* The writer records element size 1 for the identity transform. */
  const unsigned es = transform == ALCM_TRANSFORM_IDENTITY ? 1 : dsize;
  const uint64_t numel = alcm_le16(ctl + 3);
  const size_t raw_size = (size_t)numel * dsize + (ctl[5] & 1);
  /* An empty entry has no chunk at all: it reads back as nothing. */
  uint8_t *want = raw_size ? expected_raw(codec, transform, es, dtype, payload, n,
                                          raw_size)
                           : calloc(1, 1);

  alcm_frame f = {ALCM_FRAME_KIND_CHUNK, transform, codec, es, 0,
                  raw_size, n, want ? alcm_hash64(want, raw_size) : 0,
                  alcm_hash64(payload, n)};
  uint64_t shape[1] = {numel};
  alcm_chunk_ref ref = {ALIGN, n};
  alcm_entry e;
  memset(&e, 0, sizeof e);
  e.kind = ALCM_ENTRY_TENSOR;
  e.dtype = (unsigned)dtype;
  e.ndim = 1;
  e.name = (char *)"x";
  e.name_len = 1;
  e.source = ALCM_NO_SOURCE;
  e.chunk_size = raw_size <= 4096 ? 4096 : (uint32_t)((raw_size + 7) & ~7u);
  e.chunk_count = raw_size ? 1 : 0;
  e.raw_size = raw_size;
  e.shape = shape;
  e.chunks = &ref;
  if (want) alcm_hash128(want, raw_size, e.content_hash);

  size_t size;
  uint8_t *file = build_archive(&f, payload, &e, &size);
  const char *path = fuzz_path(0, "chunk.alcm");
  fuzz_write_file(path, file, size);
  free(file);
  alcm_reader *r = alcm_reader_create(NULL);
  FUZZ_CHECK(r != NULL, "reader_create");
  alcm_status st = alcm_reader_open(r, path);
  /* A raw size that is no multiple of the element size is caught at open. */
  if (st == ALCM_OK) {
    uint8_t *got = malloc(raw_size ? raw_size : 1);
    FUZZ_CHECK(got != NULL, "malloc");
    st = alcm_reader_read(r, 0, got, raw_size);
    if (st == ALCM_OK)
      FUZZ_CHECK(want && memcmp(got, want, raw_size) == 0,
                 "reader decoded what the codec/transform did not "
                 "(codec %u, transform %u, es %u, %zu bytes)",
                 codec, transform, es, raw_size);
    /* Every frame the harness could decode must read back: the hashes
     * were set from the harness's own decoding. */
    else
      FUZZ_CHECK(!want, "reader failed (%s: %s) on a chunk the harness "
                 "decoded", alcm_error_name(st), alcm_reader_message(r));
    (void)alcm_reader_verify(r, 0);
    free(got);
  }
  alcm_reader_close(r);
  free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < CTL) return 0;
  const uint8_t *payload = data + CTL;
  const size_t n = size - CTL;
  const size_t raw_size =
      (size_t)alcm_le16(data + 3) * alcm_dtype_size(data[2] % 15 + 1);
  check_codecs(payload, n, raw_size);
  check_transforms(payload, n);
  check_reader(data, payload, n);
  return 0;
}
