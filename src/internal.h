/*
 * internal.h - declarations shared by libalcm's modules. Not installed.
 * One section per module; each names the .c file that implements it.
 */
#ifndef ALCM_INTERNAL_H
#define ALCM_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alcm.h"
#include "alcm_format.h"

#if defined(__GNUC__)
#define ALCM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ALCM_PRINTF(f, a)
#endif

/* ---- little-endian load/store (header-only) ------------------------- */
static inline uint16_t alcm_le16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t alcm_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}
static inline uint64_t alcm_le64(const uint8_t *p) {
  return (uint64_t)alcm_le32(p) | ((uint64_t)alcm_le32(p + 4) << 32);
}
static inline void alcm_st16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void alcm_st32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static inline void alcm_st64(uint8_t *p, uint64_t v) {
  alcm_st32(p, (uint32_t)v);
  alcm_st32(p + 4, (uint32_t)(v >> 32));
}
static inline bool alcm_all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

/* Options structs start with size_t sizeof_options (public API rule):
 * copy the prefix the caller knows over dst, which holds the defaults, so
 * newer fields keep them. false when the caller's size is below min (a
 * struct too old or not initialized). */
static inline bool alcm_options_copy(void *dst, size_t dst_size,
                                     const void *src, size_t min) {
  size_t n;
  memcpy(&n, src, sizeof n);
  if (n < min) return false;
  memcpy(dst, src, n < dst_size ? n : dst_size);
  memcpy(dst, &dst_size, sizeof dst_size); /* it is this library's size now */
  return true;
}

/* ---- bounded cursor over untrusted bytes (cursor.c) --------------------
 * Every take checks the remaining length first by subtraction; a failed
 * take leaves the cursor where it was and returns ALCM_ERR_TRUNCATED. */
typedef struct {
  const uint8_t *p, *end, *start;
} alcm_cursor;
void alcm_cursor_init(alcm_cursor *c, const void *data, size_t size);
size_t alcm_cursor_left(const alcm_cursor *c);
size_t alcm_cursor_pos(const alcm_cursor *c);
alcm_status alcm_cursor_u8(alcm_cursor *c, uint8_t *v);
alcm_status alcm_cursor_u16(alcm_cursor *c, uint16_t *v);
alcm_status alcm_cursor_u32(alcm_cursor *c, uint32_t *v);
alcm_status alcm_cursor_u64(alcm_cursor *c, uint64_t *v);
/* Borrow n bytes in place (*p points into the buffer). */
alcm_status alcm_cursor_bytes(alcm_cursor *c, size_t n, const uint8_t **p);
alcm_status alcm_cursor_skip(alcm_cursor *c, size_t n);

/* ---- messages (message.c) ---------------------------------------------- */
#define ALCM_MSG_SIZE 512
typedef struct {
  char text[ALCM_MSG_SIZE];
} alcm_msg;
/* Sets msg to "<formatted>: <error text>" and returns s (so callers can
 * `return alcm_fail(&h->msg, ALCM_ERR_X, "tensor '%s': ...", ...)`). */
alcm_status alcm_fail(alcm_msg *msg, alcm_status s, const char *fmt, ...)
    ALCM_PRINTF(3, 4);
void alcm_msg_clear(alcm_msg *msg);
/* Put "<formatted>: " in front of the message already in msg. */
void alcm_msg_prefix(alcm_msg *msg, const char *fmt, ...) ALCM_PRINTF(2, 3);

/* ---- memory (alloc.c) ---------------------------------------------------
 * Every allocation of the library goes through the handle's allocator.
 * alcm_mem_alloc returns NULL for requests above max_alloc or when the
 * hook fails; size 0 returns a valid block. */
typedef struct {
  alcm_allocator a; /* both NULL = malloc/free */
  uint64_t max_alloc;
} alcm_mem;
void alcm_mem_init(alcm_mem *m, const alcm_allocator *a, uint64_t max_alloc);
void *alcm_mem_alloc(const alcm_mem *m, size_t size);
void *alcm_mem_calloc(const alcm_mem *m, size_t count, size_t size);
/* Grow *p (holding *cap bytes) to at least need bytes, doubling. */
alcm_status alcm_mem_reserve(const alcm_mem *m, void **p, size_t *cap,
                             size_t need);
void alcm_mem_free(const alcm_mem *m, void *p);
char *alcm_mem_strndup(const alcm_mem *m, const char *s, size_t n);

/* ---- checksums (hash.c), XXH3 (xxhash.h, inlined) ---------------------- */
uint64_t alcm_hash64(const void *data, size_t size);
/* hash_avx2.c: the bulk of long inputs on AVX2 hosts (x86-64 gcc/clang
 * builds); state is hash.c's XXH3_state_t. */
#if defined(__GNUC__) && defined(__x86_64__)
#define ALCM_HASH_AVX2 1
uint64_t alcm_hash64_avx2(const void *data, size_t size);
void alcm_hash128_update_avx2(void *state, const void *data, size_t size);
void alcm_hash128_avx2(const void *data, size_t size, void *out); /* XXH128_hash_t */
#else
#define ALCM_HASH_AVX2 0
#endif
/* XXH3-128 in canonical (big-endian) byte order. */
void alcm_hash128(const void *data, size_t size, uint8_t out[16]);
typedef struct alcm_hash128_state alcm_hash128_state;
alcm_hash128_state *alcm_hash128_create(const alcm_mem *m);
void alcm_hash128_reset(alcm_hash128_state *s); /* start a new hash */
void alcm_hash128_update(alcm_hash128_state *s, const void *data, size_t size);
void alcm_hash128_final(alcm_hash128_state *s, uint8_t out[16]);
void alcm_hash128_free(const alcm_mem *m, alcm_hash128_state *s);

/* ---- dtypes and names (dtype.c, names.c) ------------------------------- */
/* Valid UTF-8, no NUL, no control characters below 0x20. */
bool alcm_utf8_valid(const uint8_t *s, size_t n);
/* Tensor names: 1..ALCM_MAX_NAME bytes of valid UTF-8 without NUL. */
bool alcm_tensor_name_valid(const uint8_t *s, size_t n);
/* Blob/source paths (spec "Names"): relative, '/'-separated, no empty,
 * "." or ".." component, no backslash, no NUL, no leading '/', UTF-8. */
bool alcm_path_valid(const uint8_t *s, size_t n);

/* ---- codecs (codec.c registry; codec_store.c, codec_zstd.c,
 *      codec_zlib.c, codec_rans.c one each) ---------------------------- */
extern const alcm_codec alcm_codec_store;
extern const alcm_codec alcm_codec_zstd;
extern const alcm_codec alcm_codec_zlib;
extern const alcm_codec alcm_codec_rans;
/* rans with its SIMD paths forced off (simd 0) or allowed up to AVX2 (1)
 * or AVX-512 (2), each capped at what the host has, for tests that
 * compare them; the codec itself picks at run time. */
size_t alcm_rans_compress_path(void *dst, size_t dst_capacity,
                               const void *src, size_t src_size, int level,
                               int simd);
int alcm_rans_decompress_path(void *dst, size_t dst_size, const void *src,
                              size_t src_size, int simd);
/* rans's byte histogram (scalar: simd 0; the host's SIMD code: 1). */
void alcm_rans_histogram(const void *src, size_t n, uint32_t count[256],
                         int simd);
/* zstd with a compression context the caller keeps between calls (one
 * per thread): context set-up otherwise dominates small chunks. *ctx
 * starts NULL; free it with alcm_zstd_free_ctx (NULL is fine). */
size_t alcm_zstd_compress_ctx(void **ctx, void *dst, size_t dst_capacity,
                              const void *src, size_t src_size, int level);
void alcm_zstd_free_ctx(void *ctx);
typedef struct {
  const alcm_codec *const *extra;
  size_t extra_count;
} alcm_codec_set;
/* Look a codec up by wire id / name among built-ins and extras. */
const alcm_codec *alcm_codec_by_id(const alcm_codec_set *set, unsigned id);
const alcm_codec *alcm_codec_by_name(const alcm_codec_set *set,
                                     const char *name);
/* Check an extra codec table: ids in 128..254, unique, functions set. */
alcm_status alcm_codec_set_check(const alcm_codec_set *set, alcm_msg *msg);

/* ---- transforms (transform.c, spec "Transforms") ----------------------
 * forward: src (n bytes, n % elem_size == 0) -> dst (n bytes).
 * inverse: the exact inverse. Identity requires elem_size == 1. */
bool alcm_transform_valid(unsigned transform, unsigned elem_size);
void alcm_transform_forward(unsigned transform, unsigned elem_size,
                            uint8_t *dst, const uint8_t *src, size_t n);
void alcm_transform_inverse(unsigned transform, unsigned elem_size,
                            uint8_t *dst, const uint8_t *src, size_t n);

/* ---- frames, header, footer (frame.c, spec "File header", "Frames",
 *      "Footer") ------------------------------------------------------- */
typedef struct {
  unsigned kind, transform, codec, elem_size, section_type;
  uint64_t raw_size, stored_size, raw_hash, stored_hash;
} alcm_frame;
void alcm_header_encode(uint8_t out[ALCM_HEADER_SIZE], unsigned align_log2);
alcm_status alcm_header_decode(const uint8_t in[ALCM_HEADER_SIZE],
                               unsigned *align_log2, unsigned *minor,
                               alcm_msg *msg);
void alcm_frame_encode(uint8_t out[ALCM_FRAME_HEADER_SIZE],
                       const alcm_frame *f);
/* Checks magic, header hash, reserved bytes, known kind/transform; codec
 * ids are checked by the caller against its codec set. */
alcm_status alcm_frame_decode(const uint8_t in[ALCM_FRAME_HEADER_SIZE],
                              alcm_frame *f, uint64_t offset, alcm_msg *msg);
typedef struct {
  uint64_t index_offset, index_size, index_hash;
  unsigned minor;
} alcm_footer;
void alcm_footer_encode(uint8_t out[ALCM_FOOTER_SIZE], const alcm_footer *f);
alcm_status alcm_footer_decode(const uint8_t in[ALCM_FOOTER_SIZE],
                               alcm_footer *f, alcm_msg *msg);

/* ---- file I/O (fileio.c) ----------------------------------------------
 * Atomic commit: a temp file "<dir>/.<base>.alcmtmp.XXXXXX" in the
 * target's folder, written, fsync'd, renamed over the target, then the
 * folder fsync'd. */
typedef struct {
  int fd;
  char *tmp_path;    /* owned */
  char *final_path;  /* owned */
  uint64_t offset;   /* bytes written so far (buffered ones included) */
  uint8_t *buf;      /* small writes collect here; NULL = unbuffered */
  size_t buffered;
} alcm_outfile;
alcm_status alcm_outfile_open(alcm_outfile *f, const alcm_mem *m,
                              const char *path, int overwrite, alcm_msg *msg);
alcm_status alcm_outfile_write(alcm_outfile *f, const void *data, size_t n,
                               alcm_msg *msg);
/* Read back n bytes written earlier at offset (ERR_TRUNCATED past the
 * bytes written so far); writes out the buffered bytes first. */
alcm_status alcm_outfile_read(alcm_outfile *f, uint64_t offset, void *dst,
                              size_t n, alcm_msg *msg);
/* Write zero bytes until offset is a multiple of align. */
alcm_status alcm_outfile_pad(alcm_outfile *f, uint64_t align, alcm_msg *msg);
alcm_status alcm_outfile_commit(alcm_outfile *f, const alcm_mem *m,
                                alcm_msg *msg);
/* Remove the temp file if not committed; free paths. Safe to repeat. */
void alcm_outfile_abort(alcm_outfile *f, const alcm_mem *m);

typedef struct {
  int fd;
  uint64_t size;
} alcm_infile;
alcm_status alcm_infile_open(alcm_infile *f, const char *path, alcm_msg *msg);
/* Read exactly n bytes at offset; ERR_TRUNCATED if the file is shorter. */
alcm_status alcm_infile_read(const alcm_infile *f, uint64_t offset, void *dst,
                             size_t n, alcm_msg *msg);
void alcm_infile_close(alcm_infile *f);

/* ---- thread pool (pool.c) ----------------------------------------------
 * A fixed set of pthreads that run fn(ctx, i, worker) for i in [0, n);
 * worker (0..threads-1, 0 = the caller) tells which thread runs it, so
 * fn can use per-thread scratch. run = start + wait. Between start and
 * wait the caller may do other work, start more runs (queued: tasks of
 * the oldest go first), or wait for one run (wait_run, with the id start
 * returned); waiting makes the caller take tasks too. threads <= 1 runs
 * inline, in start. Only the caller's thread starts and waits. */
typedef struct alcm_pool alcm_pool;
alcm_status alcm_pool_create(alcm_pool **p, const alcm_mem *m,
                             unsigned threads);
uint64_t alcm_pool_start(alcm_pool *p, size_t n,
                         void (*fn)(void *ctx, size_t i, unsigned worker),
                         void *ctx);
void alcm_pool_wait_run(alcm_pool *p, uint64_t id); /* that run finished */
void alcm_pool_wait(alcm_pool *p);                  /* every run finished */
void alcm_pool_run(alcm_pool *p, size_t n,
                   void (*fn)(void *ctx, size_t i, unsigned worker),
                   void *ctx);
void alcm_pool_destroy(alcm_pool *p, const alcm_mem *m);

/* ---- chunk planner (encode.c) ------------------------------------------
 * Decides, per chunk, the transform and codec, and encodes it. With
 * codec NULL ("auto", the default) it keeps the smallest of: the field
 * split / byte grouping + the rans entropy coder, zstd on the raw bytes
 * (tried when a sample says it may win: repeats that order-0 coding
 * cannot see), and the raw bytes stored. Deterministic: the result
 * depends only on the bytes, the dtype and the policy. */
typedef struct {
  const alcm_codec *codec; /* NULL = auto */
  int level;               /* for codec, or for zstd in auto mode */
  int transform;           /* -1 auto, ALCM_TRANSFORM_IDENTITY, _BYTE_GROUP */
} alcm_encode_policy;
typedef struct {
  uint8_t *tmp;  /* chunk_size bytes: transform output */
  uint8_t *out;  /* alcm_encode_bound() bytes */
  uint8_t *out2; /* alcm_encode_bound() bytes (auto mode) */
  void *zstd;    /* zstd context, created on first use (auto mode) */
} alcm_encode_buffers;
size_t alcm_encode_bound(const alcm_encode_policy *p, size_t chunk_size);
/* dtype 0 for blobs. Fills f (kind CHUNK) and *payload (points into b or
 * to raw). Safe to call concurrently with distinct buffers. */
void alcm_encode_chunk(const alcm_encode_policy *p, unsigned dtype,
                       const uint8_t *raw, size_t n, alcm_encode_buffers *b,
                       alcm_frame *f, const uint8_t **payload);

/* ---- duplicate chunks (dedup.c) ----------------------------------------
 * The frames written so far, found by raw hash, so an identical chunk can
 * share a frame (after a byte-wise check by the writer). */
typedef struct alcm_dedup alcm_dedup;
alcm_status alcm_dedup_create(alcm_dedup **d, const alcm_mem *m);
void alcm_dedup_free(alcm_dedup *d, const alcm_mem *m);
alcm_status alcm_dedup_add(alcm_dedup *d, const alcm_mem *m,
                           uint64_t frame_offset, const alcm_frame *f);
/* Frames whose raw hash is raw_hash: start with *cursor = 0, call until
 * it returns false. */
bool alcm_dedup_next(const alcm_dedup *d, uint64_t raw_hash, size_t *cursor,
                     uint64_t *frame_offset, alcm_frame *f);

/* ---- bundles (writer.c, spec "Bundled") ----------------------------------
 * Lossless tensors of 1..ALCM_BUNDLE_ENTRY_MAX bytes share a frame per
 * dtype of up to ALCM_BUNDLE_BYTES (or the chunk size if smaller).
 * Measured on the benchmark corpus (archive bytes, BF16 / F16 / F32):
 * tensors up to 4 KiB in bundles of 64 KiB: -0.34 / -0.33 / -0.14 %
 * against none; up to 2, 8 or 16 KiB, or bundles of 16 or 256 KiB, no
 * better on all three. */
#define ALCM_BUNDLE_ENTRY_MAX 4096u
#define ALCM_BUNDLE_BYTES ((size_t)64 << 10)

/* ---- index (index.c, spec "Index") --------------------------------------
 * The decoded index: arrays owned by the reader's allocator. */
typedef struct {
  uint64_t frame_offset, stored_size;
} alcm_chunk_ref;
typedef struct {
  unsigned type;
  uint64_t frame_offset, stored_size;
} alcm_section_ref;
typedef struct {
  unsigned channel_axis, code_layout;
  uint32_t channel_count;
  double max_abs_err, rmse, snr_db, pruned, cpu_seconds, caq;
} alcm_adaptive_block;
typedef struct {
  unsigned kind, dtype, encoding, ndim, flags;
  char *name;             /* NUL-terminated copy */
  size_t name_len;
  uint32_t source, chunk_count, section_count, chunk_size;
  uint64_t raw_size;
  uint8_t content_hash[16];
  uint64_t *shape;
  alcm_chunk_ref *chunks;
  alcm_section_ref *sections;
  alcm_adaptive_block adaptive;
  uint64_t bundle_offset; /* ALCM_ENTRY_FLAG_BUNDLED: start in its frame */
  uint32_t bundle_next;   /* writer: next entry of its bundle + 1, 0 none */
} alcm_entry;
typedef struct {
  unsigned format;
  char *path;
  size_t path_len;
  uint8_t *restore;
  size_t restore_size;
} alcm_source;
typedef struct {
  char *key;
  size_t key_len;
  unsigned type;
  uint8_t *value;
  size_t size;
} alcm_meta;
typedef struct {
  alcm_source *sources;
  alcm_entry *entries;
  alcm_meta *meta;
  uint32_t source_count, entry_count, meta_count;
  uint64_t total_raw;
  uint32_t *by_name; /* entry indices sorted by name (decode only) */
} alcm_index;

/* Serialize idx into a buffer allocated from m (*out, *out_size); with
 * compress, the body is zlib-compressed when that saves bytes. */
alcm_status alcm_index_encode(const alcm_index *idx, bool compress,
                              const alcm_mem *m, uint8_t **out,
                              size_t *out_size, alcm_msg *msg);
/* Parse and validate (spec "Index", "Compliance") everything that can be
 * checked without the frames: counts against bytes present, names,
 * duplicates, dtypes, shapes (numel * size == raw_size, overflow-checked),
 * chunk_count == ceil(raw_size / chunk_size), frame offsets inside
 * [header end, index_offset), reserved fields. */
alcm_status alcm_index_decode(const uint8_t *data, size_t size,
                              uint64_t index_offset, unsigned align_log2,
                              const alcm_limits *lim, const alcm_mem *m,
                              alcm_index *idx, alcm_msg *msg);
/* Metadata strings: UTF-8, no NUL, tab/newline/CR allowed. */
bool alcm_meta_string_valid(const uint8_t *s, size_t n);
/* Binary search of idx->by_name; ERR_NOT_FOUND if absent. */
alcm_status alcm_index_find(const alcm_index *idx, const char *name,
                            size_t len, uint32_t *pos);
void alcm_index_free(alcm_index *idx, const alcm_mem *m);
/* ---- handle internals for importers/exporters (writer.c, reader.c) ---- */
alcm_msg *alcm_writer_msg_(alcm_writer *w);
const alcm_mem *alcm_writer_mem_(const alcm_writer *w);
/* alcm_writer_write of n bytes at offset of in, read straight into the
 * writer's chunk buffers (no bounce buffer, no copy). A read error is
 * returned as it is (message in the writer), like one from the caller's
 * own read before a write. From a lent file (below), a whole entry of up
 * to one chunk is read later instead, by the pool task that encodes it;
 * a read error then comes back from the call that writes that chunk's
 * frame (a later write, end, alcm_writer_release_ or finish), naming the
 * entry and offset. */
alcm_status alcm_writer_write_from_(alcm_writer *w, const alcm_infile *in,
                                    uint64_t offset, uint64_t n);
/* in stays open and unchanged until alcm_writer_release_(w, in), which
 * must come before it closes, failed import or not: it writes every
 * chunk still to be read from in (or, if the writer failed, waits until
 * no task reads it). One file at a time. */
void alcm_writer_lend_(alcm_writer *w, const alcm_infile *in);
alcm_status alcm_writer_release_(alcm_writer *w, const alcm_infile *in);
alcm_msg *alcm_reader_msg_(alcm_reader *r);
const alcm_mem *alcm_reader_mem_(const alcm_reader *r);

/* ---- importers/exporters shared (safetensors.c, npy.c) ---------------- */
#define ALCM_IO_PIECE ((size_t)4 << 20) /* bytes per read/write step */
/* Stream entry's decoded bytes (all checksums checked) into out. */
alcm_status alcm_export_entry_(alcm_reader *r, size_t entry,
                               alcm_outfile *out);
/* The one entry of kind that belongs to source; ERR_CORRUPT if there is
 * none or more than one. */
alcm_status alcm_export_sole_entry_(alcm_reader *r, size_t source, int kind,
                                    size_t *entry_ret);
/* alcm_writer_release_(w, in) before in closes: an importer's status s,
 * or, if s is ALCM_OK, the release's (a deferred read's error, prefixed
 * with path). */
alcm_status alcm_import_release_(alcm_writer *w, const alcm_infile *in,
                                 const char *path, alcm_status s);
/* Copy n bytes at offset of in into the writer's current entry. */
alcm_status alcm_import_copy_(alcm_writer *w, const alcm_infile *in,
                              uint64_t offset, uint64_t n, const char *path,
                              const char *tensor);
/* Rebuild a NPY source (npy.c). */
alcm_status alcm_npy_export_source_(alcm_reader *r, size_t source,
                                    const alcm_source_info *src,
                                    const char *out_path, int overwrite);

/* numel * dtype size with overflow check; ERR_OVERFLOW. */
alcm_status alcm_shape_bytes(unsigned dtype, unsigned ndim,
                             const uint64_t *shape, uint64_t *bytes);

#endif /* ALCM_INTERNAL_H */
