/*
 * alcm.h - the public API of libalcm, the library behind the .alcm
 * compressed, checksummed model-checkpoint archive.
 *
 * Conventions
 *  - Every function that can fail returns an alcm_status; ALCM_OK is 0.
 *    The handle it was called on keeps a message saying what failed and
 *    where (alcm_writer_message(), alcm_reader_message()).
 *  - Buffers travel as (pointer, capacity). Optional results come back via
 *    *_ret out-parameters, which may be NULL.
 *  - Handles are opaque. alcm_*_close(NULL) is a no-op.
 *  - Thread safety: a handle is used by one thread at a time; different
 *    handles are independent. The library has no mutable global state.
 *  - Options structs start with sizeof_options so fields can be appended;
 *    set it to sizeof(the struct) after zeroing the struct, or use the
 *    *_options_init() functions.
 *
 * The format is specified in spec/alcm-format.md.
 */
#ifndef ALCM_H
#define ALCM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ALCM_BUILDING_LIBRARY) && defined(__GNUC__)
#define ALCM_API __attribute__((visibility("default")))
#else
#define ALCM_API
#endif

/* ---- version ------------------------------------------------------------ */
#define ALCM_VERSION_MAJOR 0
#define ALCM_VERSION_MINOR 1
#define ALCM_VERSION_PATCH 0
#define ALCM_VERSION_NUMBER \
  (ALCM_VERSION_MAJOR * 10000 + ALCM_VERSION_MINOR * 100 + ALCM_VERSION_PATCH)
#define ALCM_VERSION_STRING "0.1.0"

/** @return ALCM_VERSION_NUMBER of the library actually linked. */
ALCM_API unsigned alcm_version_number(void);
/** @return the library version as a static string, e.g. "0.1.0". */
ALCM_API const char *alcm_version_string(void);
/** @return the newest archive format version this library reads and
 *  writes, as major * 100 + minor (format 1.0 -> 100). */
ALCM_API unsigned alcm_format_version(void);

/* ---- errors ------------------------------------------------------------- */
/* X-macro: name, value, description. Values are fixed forever. */
#define ALCM_ERROR_LIST(X)                                                    \
  X(OK, 0, "no error")                                                        \
  X(ERR_IO, 1, "input/output error")                                          \
  X(ERR_NOMEM, 2, "out of memory")                                            \
  X(ERR_TRUNCATED, 3, "data ends before a structure does")                    \
  X(ERR_BAD_MAGIC, 4, "not an ALCM archive (bad magic)")                      \
  X(ERR_VERSION, 5, "unsupported format version")                             \
  X(ERR_RESERVED, 6, "reserved field or padding is not zero")                 \
  X(ERR_CHECKSUM, 7, "checksum mismatch")                                     \
  X(ERR_CORRUPT, 8, "inconsistent structure")                                 \
  X(ERR_CODEC_UNKNOWN, 9, "unknown codec id")                                 \
  X(ERR_TRANSFORM_UNKNOWN, 10, "unknown transform id")                        \
  X(ERR_DTYPE_UNKNOWN, 11, "unknown dtype")                                   \
  X(ERR_OVERFLOW, 12, "size arithmetic overflows")                            \
  X(ERR_LIMIT, 13, "exceeds a configured limit")                              \
  X(ERR_ARGUMENT, 14, "invalid argument")                                     \
  X(ERR_NOT_FOUND, 15, "no such entry")                                       \
  X(ERR_DUPLICATE, 16, "duplicate name or key")                               \
  X(ERR_NAME, 17, "invalid name")                                             \
  X(ERR_CODEC, 18, "codec failed to encode or decode")                        \
  X(ERR_STATE, 19, "call not allowed in this state")                          \
  X(ERR_UNSUPPORTED, 20, "valid but not supported by this library")          \
  X(ERR_EXISTS, 21, "target exists")                                          \
  X(ERR_INPUT, 22, "malformed input checkpoint file")                         \
  X(ERR_SIZE, 23, "data size does not match what was declared")

typedef enum {
#define ALCM_X_ENUM(name, value, text) ALCM_##name = value,
  ALCM_ERROR_LIST(ALCM_X_ENUM)
#undef ALCM_X_ENUM
  ALCM_ERROR_COUNT_ /* not a status: one past the last value */
} alcm_status;

/** @return the enum name without prefix ("ERR_CHECKSUM"), or "UNKNOWN". */
ALCM_API const char *alcm_error_name(alcm_status s);
/** @return a one-line English description of the status. */
ALCM_API const char *alcm_error_text(alcm_status s);

/* ---- wire enums (values fixed by the spec) ------------------------------ */
typedef enum {
  ALCM_DTYPE_BOOL = 1, ALCM_DTYPE_U8 = 2, ALCM_DTYPE_I8 = 3,
  ALCM_DTYPE_U16 = 4, ALCM_DTYPE_I16 = 5, ALCM_DTYPE_U32 = 6,
  ALCM_DTYPE_I32 = 7, ALCM_DTYPE_U64 = 8, ALCM_DTYPE_I64 = 9,
  ALCM_DTYPE_F16 = 10, ALCM_DTYPE_BF16 = 11, ALCM_DTYPE_F32 = 12,
  ALCM_DTYPE_F64 = 13, ALCM_DTYPE_F8_E4M3 = 14, ALCM_DTYPE_F8_E5M2 = 15
} alcm_dtype;
#define ALCM_DTYPE_MAX 15

/** @return bytes per element of dtype, or 0 if dtype is not valid. */
ALCM_API size_t alcm_dtype_size(int dtype);
/** @return the safetensors spelling ("F32", "BF16", ...) or NULL. */
ALCM_API const char *alcm_dtype_name(int dtype);
/** @return the dtype spelled name (safetensors spelling), or 0. */
ALCM_API int alcm_dtype_from_name(const char *name);

typedef enum { ALCM_ENTRY_TENSOR = 1, ALCM_ENTRY_BLOB = 2 } alcm_entry_kind;
typedef enum { ALCM_ENCODING_LOSSLESS = 0, ALCM_ENCODING_ADAPTIVE = 1 } alcm_encoding;

/* entry flags: how the stored bytes are laid out */
#define ALCM_ENTRY_FLAG_FORTRAN_ORDER 0x0001u /* column-major element order */
#define ALCM_ENTRY_FLAG_BIG_ENDIAN 0x0002u    /* elements are big-endian */
#define ALCM_ENTRY_FLAGS_KNOWN 0x0003u        /* the flags a caller gives */
/* Set by the writer, seen in alcm_entry_info: a small tensor stored with
 * others of its dtype in one frame (format 1.4, spec "Bundled entries"). */
#define ALCM_ENTRY_FLAG_BUNDLED 0x0004u

typedef enum {
  ALCM_SOURCE_NONE = 0, ALCM_SOURCE_SAFETENSORS = 1, ALCM_SOURCE_NPY = 2,
  ALCM_SOURCE_NPZ = 3, ALCM_SOURCE_PYTORCH = 4, ALCM_SOURCE_FILE = 5
} alcm_source_format;
#define ALCM_SOURCE_MAX 5

typedef enum {
  ALCM_SECTION_ENTROPY_MAP = 1, /* f32[channels] predicted entropy, 0.2..0.9 */
  ALCM_SECTION_SCALES = 2,      /* f32[channels] quantization step */
  ALCM_SECTION_ZERO_POINTS = 3, /* i32[channels] */
  ALCM_SECTION_BIT_WIDTHS = 4,  /* u8[channels] 1..16 */
  ALCM_SECTION_PRUNING_MASK = 5,/* u8[ceil(numel/8)], bit i LSB-first = kept */
  ALCM_SECTION_STATISTICS = 6   /* f32[channels][6]: mean var std skew kurt sparsity */
} alcm_section_type;
#define ALCM_SECTION_MAX 6

typedef enum {
  ALCM_META_STRING = 1, /* UTF-8, no NUL */
  ALCM_META_BYTES = 2,
  ALCM_META_I64 = 3,    /* 8 bytes little-endian */
  ALCM_META_F64 = 4     /* 8 bytes IEEE-754 binary64 little-endian */
} alcm_meta_type;

/* ---- allocator and codecs ------------------------------------------------ */
/** Allocation hook. Both functions must be set or both NULL (malloc/free).
 *  alloc returns NULL on failure; free(opaque, NULL) must be harmless. */
typedef struct {
  void *(*alloc)(void *opaque, size_t size);
  void (*free)(void *opaque, void *ptr);
  void *opaque;
} alcm_allocator;

/** A codec. Built-ins are store (0), zstd (1), zlib (2), rans (3). A caller
 *  can add
 *  its own with an id in 128..254 by listing it in the options of both the
 *  writer and the reader (spec "Codecs"). The functions must be thread-safe
 *  (they are called from worker threads concurrently).
 *  compress: @return bytes written to dst, or 0 if it does not fit/failed.
 *  decompress: must produce exactly dst_size bytes; @return 0 on success,
 *  non-zero on any error. */
typedef struct alcm_codec {
  unsigned id;
  const char *name;
  int level_min, level_max, level_default;
  size_t (*bound)(size_t src_size);
  size_t (*compress)(void *dst, size_t dst_capacity, const void *src,
                     size_t src_size, int level);
  int (*decompress)(void *dst, size_t dst_size, const void *src,
                    size_t src_size);
} alcm_codec;

/** @return the built-in codec with this name ("rans", "zstd", "zlib",
 *  "store") or
 *  NULL. The returned object is static and immutable. */
ALCM_API const alcm_codec *alcm_codec_builtin(const char *name);

/* ---- limits ------------------------------------------------------------- */
/** Caps a reader applies to untrusted archives; 0 = default. */
typedef struct {
  uint64_t max_index_size;  /* default 1 GiB */
  uint64_t max_entries;     /* default 1,000,000 */
  uint64_t max_chunk_raw;   /* default 1 GiB (ALCM_CHUNK_SIZE_MAX) */
  uint64_t max_alloc;       /* largest single allocation, default 2 GiB */
} alcm_limits;

/* ---- writer ------------------------------------------------------------- */
/** Raw bytes per chunk when the options say 0: the unit of parallel work
 *  and of random access. 512 KiB measured 0.002 % larger than 1 MiB on
 *  the benchmark corpus and lets a 1 MiB tensor use two threads. */
#define ALCM_CHUNK_SIZE_DEFAULT (512u * 1024u)

typedef struct {
  size_t sizeof_options;
  const char *codec;       /* "auto" (default: per chunk the smallest of
                              field split + rans, zstd, store), "rans",
                              "zstd", "zlib", "store", or an extra codec */
  int level;               /* 0 = codec default */
  int level_set;           /* non-zero: level is meaningful even if 0 */
  uint32_t chunk_size;     /* raw bytes per chunk; 0 = 512 KiB
                              (ALCM_CHUNK_SIZE_DEFAULT) */
  unsigned threads;        /* worker threads; 0 or 1 = encode inline */
  unsigned align_log2;     /* payload alignment; 0 = 3 (8 bytes) */
  int overwrite;           /* non-zero: replace an existing target */
  int transform;           /* -1 auto (field split for bf16/f32, byte
                              grouping for other multi-byte dtypes),
                              0 identity, 1 byte grouping */
  alcm_allocator allocator;
  const alcm_codec *const *extra_codecs; /* caller codecs, ids 128..254 */
  size_t extra_codec_count;
  int no_dedup;            /* non-zero: store identical chunks again */
  int plain_index;         /* non-zero: do not zlib-compress the index
                              (for tools that patch or parse it by hand) */
  int no_bundle;           /* non-zero: no bundled entries (format 1.4):
                              every tensor in frames of its own, as a 1.3
                              reader needs */
} alcm_write_options;

/** Fill *opt with defaults and set sizeof_options. */
ALCM_API void alcm_write_options_init(alcm_write_options *opt);

typedef struct alcm_writer alcm_writer;

/** Create a writer. opt may be NULL (defaults). Nothing is touched on disk.
 *  @return the handle or NULL if out of memory. Free with alcm_writer_close. */
ALCM_API alcm_writer *alcm_writer_create(const alcm_write_options *opt);
/** Start writing the archive that will appear at path on
 *  alcm_writer_finish(). A temporary file is made in the same folder; the
 *  target is untouched until finish. ERR_EXISTS if path exists and the
 *  options do not say overwrite. */
ALCM_API alcm_status alcm_writer_open(alcm_writer *w, const char *path);
/** Declare a source file (what unpack restores). restore holds what is
 *  needed to rebuild it byte-exact (e.g. the safetensors header); it is
 *  copied. Entries added afterwards belong to this source until the next
 *  call; pass format ALCM_SOURCE_NONE and path NULL to stop.
 *  @param id_ret the source index, may be NULL. */
ALCM_API alcm_status alcm_writer_add_source(alcm_writer *w, int format,
                                            const char *path,
                                            const void *restore,
                                            size_t restore_size,
                                            uint32_t *id_ret);
/** Begin a tensor. name: UTF-8, 1..4096 bytes, unique among entries.
 *  shape may be NULL when ndim is 0. flags: ALCM_ENTRY_FLAG_*. The bytes
 *  then follow through alcm_writer_write(), exactly
 *  numel * alcm_dtype_size(dtype) of them. */
ALCM_API alcm_status alcm_writer_begin_tensor(alcm_writer *w, const char *name,
                                              int dtype, unsigned ndim,
                                              const uint64_t *shape,
                                              unsigned flags);
/** Begin a blob (a side file such as config.json). name must be a safe
 *  relative path (spec "Names"). Any number of bytes may follow. */
ALCM_API alcm_status alcm_writer_begin_blob(alcm_writer *w, const char *name);
/** Append bytes to the current entry. Memory stays bounded by about
 *  6 x threads x max(chunk size, 1 MiB) whatever the total, plus 64 KiB
 *  per dtype for small tensors being bundled. */
ALCM_API alcm_status alcm_writer_write(alcm_writer *w, const void *data,
                                       size_t size);
/** End the current entry (checks the declared size was written). */
ALCM_API alcm_status alcm_writer_end(alcm_writer *w);
/** Convenience: begin_tensor + write + end. A size that differs from
 *  numel * dtype size is refused (ERR_SIZE) before anything is begun. */
ALCM_API alcm_status alcm_writer_add_tensor(alcm_writer *w, const char *name,
                                            int dtype, unsigned ndim,
                                            const uint64_t *shape,
                                            const void *data, size_t size);
/** Set a metadata key (1..255 bytes UTF-8). Setting a key again replaces
 *  its value. Values are copied. */
ALCM_API alcm_status alcm_writer_set_meta(alcm_writer *w, const char *key,
                                          int type, const void *value,
                                          size_t size);
ALCM_API alcm_status alcm_writer_set_meta_string(alcm_writer *w,
                                                 const char *key,
                                                 const char *value);
/** Write index and footer, fsync, rename over the target, fsync the folder.
 *  On any failure before the rename the temporary file is removed and the
 *  target untouched. The one failure after it: the folder will not sync;
 *  then ERR_IO says the new archive is in place (complete, but perhaps not
 *  durable across a crash). */
ALCM_API alcm_status alcm_writer_finish(alcm_writer *w);
/** Free the writer. If finish did not succeed, the temporary file is
 *  removed and the target is left as it was. NULL is a no-op. */
ALCM_API void alcm_writer_close(alcm_writer *w);
/** @return the message of the last failure ("" if none); valid until the
 *  next call on w. */
ALCM_API const char *alcm_writer_message(const alcm_writer *w);
/** @return raw (input) bytes and stored (file) bytes so far, for ratios. */
ALCM_API void alcm_writer_totals(const alcm_writer *w, uint64_t *raw_ret,
                                 uint64_t *file_ret);


/* ---- adaptive (lossy) encoding, format 1.2/1.3 (spec/adaptive.md) ------- */
/** Error bound of an adaptive tensor (values fixed). */
typedef enum {
  ALCM_ERROR_BOUND_NONE = 0,    /* bits from the entropy map, scales from ranges */
  ALCM_ERROR_BOUND_MAX_ABS = 1, /* every |x - y| <= bound_value */
  ALCM_ERROR_BOUND_REL = 2,     /* every |x - y| <= bound_value * max|x| */
  ALCM_ERROR_BOUND_SNR = 3      /* tensor SNR >= bound_value dB */
} alcm_error_bound;

/** What happened to one tensor given to the adaptive path. */
typedef struct {
  int adaptive;            /* 1: stored adaptive; 0: stored lossless */
  char reason[160];        /* why it stayed lossless ("" if adaptive) */
  uint64_t original_size;  /* numel * dtype size */
  uint64_t code_size;      /* code bytes (the entry's raw_size), 0 if lossless */
  uint64_t section_size;   /* stored bytes of its section frames */
  unsigned channel_axis;
  uint32_t channels;
  double bits_per_weight;  /* 8 * code bytes / numel (format 1.3: 8, or 16
                              above 8-bit widths: before entropy coding) */
  double max_abs_err, rmse, snr_db; /* measured on the decoded values */
  double pruned;           /* fraction of elements pruned */
  double cpu_seconds;      /* process CPU time of its encoding */
  double ratio;            /* original / (code bytes + section bytes),
                              codes before entropy coding (the caq stored
                              in the archive uses the coded sizes) */
  double caq;              /* ratio / (cpu_seconds + 1) */
} alcm_adaptive_report;

#define ALCM_CHANNEL_AXIS_LAST (-2)
typedef struct {
  size_t sizeof_options;
  int bound;               /* alcm_error_bound, default NONE */
  double bound_value;      /* E, R or dB */
  unsigned min_precision;  /* bits, default 4 (1..16) */
  unsigned base_precision; /* bits, default 8 (min..16) */
  double prune_threshold;  /* fraction to prune, default 0.01 (0 = none) */
  double max_drop_ratio;   /* never prune more, default 0.25 */
  int channel_axis;        /* -1 (default): axis 0; ALCM_CHANNEL_AXIS_LAST:
                              the last axis (TF/tfjs HWIO kernels, dense
                              [in, out]); else that axis (spec/adaptive.md) */
  int bit_map;             /* 0 predictor (default), 1 measured, 2 uniform */
  const void *predictor;   /* predictor file (spec/adaptive.md); NULL =
                              the built-in format/predictor_v1.bin */
  size_t predictor_size;
  uint64_t min_elements;   /* fewer elements stay lossless, default 1024 */
  int allow_1d;            /* non-zero: 1-D tensors may be quantized too
                              (default: biases and norms stay lossless) */
  /* writer mode (alcm_writer_set_adaptive) only: */
  const char *const *keep_lossless; /* fnmatch patterns of tensor names */
  size_t keep_lossless_count;
  double timeout_seconds;  /* > 0: ERR_LIMIT once the writer has been open
                              longer (wall clock); checked per tensor */
  void (*on_tensor)(void *opaque, const char *name,
                    const alcm_adaptive_report *report);
  void *opaque;
  int informative_sections; /* non-zero: also store the entropy map (1)
                               and statistics (6) sections, which no
                               decoder needs (default 0: left out) */
} alcm_adaptive_options;

/** Fill *opt with the defaults above and set sizeof_options. */
ALCM_API void alcm_adaptive_options_init(alcm_adaptive_options *opt);

/** Add a whole tensor, quantized (spec "Adaptive entries"). It is stored
 *  lossless instead, through the normal path, when the dtype is not a float
 *  (F16, BF16, F32, F64), it has fewer than opt->min_elements elements or
 *  is 1-D (unless allow_1d), or the encoder refuses it (NaN/Inf, a bound
 *  16 bits cannot meet); report_ret says which. opt NULL = defaults.
 *  Memory: about the tensor's size again, for the codes and sections. */
ALCM_API alcm_status alcm_writer_add_tensor_adaptive(
    alcm_writer *w, const char *name, int dtype, unsigned ndim,
    const uint64_t *shape, const void *data, size_t size,
    const alcm_adaptive_options *opt, alcm_adaptive_report *report_ret);
/** Writer mode: from now on every tensor added through begin_tensor /
 *  write / end (and so by every importer) takes the adaptive path of
 *  alcm_writer_add_tensor_adaptive unless its name matches a
 *  keep_lossless pattern; such tensors are held whole in memory until
 *  their end. opt is copied (the patterns and predictor are not: keep them
 *  alive until finish). NULL switches back to lossless. */
ALCM_API alcm_status alcm_writer_set_adaptive(alcm_writer *w,
                                              const alcm_adaptive_options *opt);
/** Parse an encoder_config.yaml (spec/adaptive.md "Configuration") into
 *  opt (precisions, pruning threshold_init and max_drop_ratio,
 *  timeout_seconds) and store the text as metadata "alcm.config". name is
 *  used in messages ("name:line:column: ..."). */
ALCM_API alcm_status alcm_writer_use_config(alcm_writer *w, const char *name,
                                            const void *yaml, size_t size,
                                            alcm_adaptive_options *opt);
#define ALCM_SCHEDULER_STATE_SIZE 192
/** Continue the pruning scheduler (spec/adaptive.md "Scheduler"): with
 *  prev_state NULL, start one at opt->prune_threshold; else load it (the
 *  previous archive's "alcm.scheduler") and step it with prev_caq (its
 *  "alcm.caq"). Sets opt->prune_threshold to the new threshold and the
 *  archive metadata "alcm.scheduler" to the new state. */
ALCM_API alcm_status alcm_writer_scheduler(alcm_writer *w,
                                           const void *prev_state,
                                           size_t prev_size, double prev_caq,
                                           alcm_adaptive_options *opt);

/* ---- reader ------------------------------------------------------------- */
typedef struct {
  size_t sizeof_options;
  alcm_allocator allocator;
  alcm_limits limits;
  const alcm_codec *const *extra_codecs;
  size_t extra_codec_count;
  unsigned threads; /* decode threads for multi-chunk reads; 0 or 1 =
                       inline (threads > 1: extra codecs must be
                       thread-safe) */
} alcm_read_options;

ALCM_API void alcm_read_options_init(alcm_read_options *opt);

typedef struct alcm_reader alcm_reader;

typedef struct {
  const char *name;       /* NUL-terminated; owned by the reader */
  int kind;               /* alcm_entry_kind */
  int dtype;              /* 0 for blobs */
  int encoding;           /* alcm_encoding */
  unsigned flags;         /* ALCM_ENTRY_FLAG_* */
  unsigned ndim;
  const uint64_t *shape;  /* ndim values; owned by the reader */
  uint64_t raw_size;      /* bytes of the entry when read; for an adaptive
                             entry numel * dtype size, the dequantized
                             bytes (its code bytes: alcm_reader_adaptive) */
  uint64_t stored_size;   /* payload bytes of its chunk frames (of a
                             bundled entry: its bundle's, which it shares) */
  uint32_t chunk_count;
  uint32_t chunk_size;
  uint32_t section_count;
  uint32_t source;        /* source index or 0xFFFFFFFF */
  uint8_t content_hash[16]; /* XXH3-128 of the raw bytes, canonical form */
} alcm_entry_info;

typedef struct {
  uint64_t frame_offset;  /* file offset of the frame header */
  uint64_t raw_offset;    /* offset of this chunk in the entry's bytes */
  uint64_t raw_size;
  uint64_t stored_size;
  unsigned transform, codec, elem_size;
  uint64_t frame_raw_size; /* decoded bytes of the frame: raw_size, or for
                              a bundled entry (ALCM_ENTRY_FLAG_BUNDLED)
                              its whole bundle's */
  uint64_t bundle_offset;  /* bundled entry: where its bytes start in the
                              frame's decoded bytes; else 0 */
} alcm_chunk_info;

typedef struct {
  int format;               /* alcm_source_format */
  const char *path;         /* NUL-terminated, "" if none */
  const uint8_t *restore;   /* restore data, owned by the reader */
  size_t restore_size;
} alcm_source_info;

typedef struct {
  const char *key;
  int type;                 /* alcm_meta_type */
  const uint8_t *value;
  size_t size;
} alcm_meta_info;

typedef struct {
  uint64_t file_size, index_offset, index_size, total_raw;
  unsigned format_major, format_minor, align_log2;
} alcm_archive_info;

/** Create a reader; opt may be NULL. @return handle or NULL (no memory). */
ALCM_API alcm_reader *alcm_reader_create(const alcm_read_options *opt);
/** Open an archive: reads header, footer and index (all checksummed and
 *  validated); chunk payloads are read only on demand. */
ALCM_API alcm_status alcm_reader_open(alcm_reader *r, const char *path);
ALCM_API alcm_status alcm_reader_archive_info(const alcm_reader *r,
                                              alcm_archive_info *info);
ALCM_API size_t alcm_reader_entry_count(const alcm_reader *r);
ALCM_API alcm_status alcm_reader_entry(const alcm_reader *r, size_t i,
                                       alcm_entry_info *info);
/** Find an entry by exact name. ERR_NOT_FOUND if absent. */
ALCM_API alcm_status alcm_reader_find(const alcm_reader *r, const char *name,
                                      size_t *index_ret);
/** Describe one chunk (reads and checks its frame header). */
ALCM_API alcm_status alcm_reader_chunk(alcm_reader *r, size_t entry,
                                       uint32_t chunk, alcm_chunk_info *info);
ALCM_API size_t alcm_reader_source_count(const alcm_reader *r);
ALCM_API alcm_status alcm_reader_source(const alcm_reader *r, size_t i,
                                        alcm_source_info *info);
ALCM_API size_t alcm_reader_meta_count(const alcm_reader *r);
ALCM_API alcm_status alcm_reader_meta(const alcm_reader *r, size_t i,
                                      alcm_meta_info *info);
/** Find a metadata key. ERR_NOT_FOUND if absent. */
ALCM_API alcm_status alcm_reader_find_meta(const alcm_reader *r,
                                           const char *key,
                                           alcm_meta_info *info);
/** Read chunks [first, first+count) of an entry, decoded, into dst
 *  (capacity bytes). Each chunk's checksums are verified.
 *  @param written_ret bytes written, may be NULL. */
ALCM_API alcm_status alcm_reader_read_chunks(alcm_reader *r, size_t entry,
                                             uint32_t first, uint32_t count,
                                             void *dst, size_t capacity,
                                             size_t *written_ret);
/** Read a whole entry into dst (capacity >= raw_size); also checks the
 *  content hash. Exact bytes only: an adaptive (lossy) entry is
 *  ERR_UNSUPPORTED here and in read_chunks (alcm_reader_read_dequantized
 *  reads it). */
ALCM_API alcm_status alcm_reader_read(alcm_reader *r, size_t entry, void *dst,
                                      size_t capacity);
/** Read entries [first, first+count) whole, entry first+k into dst[k]
 *  (capacity[k] bytes), as alcm_reader_read does each: same checks, and
 *  on failure the error a read of each in order would meet first (the
 *  entries before it are read). With threads, the chunks of all of them
 *  are decoded side by side, so a model of many small tensors (one chunk
 *  each) uses every thread, which reads one entry at a time cannot. */
ALCM_API alcm_status alcm_reader_read_entries(alcm_reader *r, size_t first,
                                              size_t count, void *const *dst,
                                              const size_t *capacity);
/** Stream an entry to a callback chunk by chunk (bounded memory); checks
 *  every checksum and the content hash. sink returns non-zero to stop
 *  (then ERR_IO). An adaptive entry streams its dequantized values (the
 *  whole tensor is decoded first), so exporters write lossy archives. */
ALCM_API alcm_status alcm_reader_stream(alcm_reader *r, size_t entry,
                                        int (*sink)(void *opaque,
                                                    const void *data,
                                                    size_t size),
                                        void *opaque);
#define ALCM_VERIFY_STORED_ONLY 1u /* check stored checksums, do not decode */
#define ALCM_VERIFY_LAYOUT_ONLY 2u /* frame layout and zero padding only: reads
                                      no payload, cheap before a full unpack */
/** Verify the whole file: every byte is either checked against a checksum
 *  or required to be zero padding; by default every chunk is also decoded
 *  and its raw hash and each entry's content hash are checked.
 *  The message names the first bad place. */
ALCM_API alcm_status alcm_reader_verify(alcm_reader *r, unsigned flags);
ALCM_API void alcm_reader_close(alcm_reader *r);
ALCM_API const char *alcm_reader_message(const alcm_reader *r);


/* ---- reading adaptive entries (format 1.2) ------------------------------ */
typedef struct {
  unsigned channel_axis;
  uint32_t channel_count;
  uint64_t code_size;      /* the entry's code bytes (index raw_size) */
  double max_abs_err, rmse, snr_db, pruned, cpu_seconds, caq;
} alcm_adaptive_info;

/** The adaptive block of an adaptive entry; ERR_ARGUMENT for any other. */
ALCM_API alcm_status alcm_reader_adaptive(alcm_reader *r, size_t entry,
                                          alcm_adaptive_info *info);
/** Where section ref k (0 <= k < alcm_entry_info.section_count) of an
 *  entry points, as the index says (no frame is read). */
typedef struct {
  int type;               /* ALCM_SECTION_* */
  uint64_t frame_offset;  /* file offset of the section's frame header */
  uint64_t stored_size;   /* payload bytes */
} alcm_section_info;
ALCM_API alcm_status alcm_reader_section_info(const alcm_reader *r,
                                              size_t entry, uint32_t k,
                                              alcm_section_info *info);
/** Read section type (ALCM_SECTION_*) of an adaptive entry, checked (frame,
 *  checksums, size; bit widths 1..16, finite non-negative scales, mask
 *  padding), into dst. ERR_NOT_FOUND if the entry has no such section.
 *  With dst NULL only *size_ret is set. */
ALCM_API alcm_status alcm_reader_section(alcm_reader *r, size_t entry,
                                         int type, void *dst, size_t capacity,
                                         size_t *size_ret);
/** Read a tensor entry as values of its dtype into dst (capacity >=
 *  numel * dtype size, which alcm_entry_info.raw_size gives for every
 *  tensor): lossless entries as alcm_reader_read; adaptive ones are
 *  decoded from their codes and sections (all checked) and dequantized.
 *  Memory: one chunk plus the sections, beside dst. */
ALCM_API alcm_status alcm_reader_read_dequantized(alcm_reader *r,
                                                  size_t entry, void *dst,
                                                  size_t capacity);

/* ---- importers and exporters (checkpoint files) ------------------------- */
/** Add every tensor of a safetensors file to w (streamed, bounded memory),
 *  with a source record that lets alcm_export_source() rebuild the file
 *  byte-exact. archive_path names the source inside the archive. */
ALCM_API alcm_status alcm_import_safetensors(alcm_writer *w, const char *path,
                                             const char *archive_path);
/** Add the array of a .npy file as one tensor named name. */
ALCM_API alcm_status alcm_import_npy(alcm_writer *w, const char *path,
                                     const char *archive_path,
                                     const char *name);
/** Rebuild source i at out_path (atomically; ERR_EXISTS unless overwrite). */
ALCM_API alcm_status alcm_export_source(alcm_reader *r, size_t source,
                                        const char *out_path, int overwrite);
/** Write one tensor entry as a .npy file (atomically). */
ALCM_API alcm_status alcm_export_npy(alcm_reader *r, size_t entry,
                                     const char *out_path, int overwrite);


/* ---- more checkpoint forms (issue 4; spec "Source record") -------------- */
/** Add every array of a NumPy .npz (stored or deflated members) as a
 *  tensor named "<archive_path>:<member name without .npy>", streamed
 *  through bounded buffers; the zip is validated first (no overlapping or
 *  duplicate members, no sizes a deflate stream cannot reach). */
ALCM_API alcm_status alcm_import_npz(alcm_writer *w, const char *path,
                                     const char *archive_path);
/** Add a torch.save zip file (.pt, .pth, .bin). Its data.pkl is read by an
 *  allow-listed pickle machine that never executes anything; each storage
 *  becomes one tensor "<archive_path>:<first key using it>" (spec names
 *  the rest), and export rebuilds the file byte-exact. */
ALCM_API alcm_status alcm_import_pytorch(alcm_writer *w, const char *path,
                                         const char *archive_path);
/** Add a model folder: checkpoint files it understands (.safetensors,
 *  .npy, .npz, torch .pt/.pth/.bin/.ckpt zips) as tensors, every other
 *  regular file as a blob, each with a source whose path is the path
 *  relative to dir. Files are visited in byte order of their paths;
 *  symbolic links and special files are refused (ERR_INPUT). */
ALCM_API alcm_status alcm_import_folder(alcm_writer *w, const char *dir);
/** Recreate every source below out_dir (created if missing). Paths are
 *  validated again; directories are made with mkdirat and never followed
 *  through symbolic links, so nothing is written outside out_dir.
 *  ERR_EXISTS for an existing file unless overwrite. */
ALCM_API alcm_status alcm_export_folder(alcm_reader *r, const char *out_dir,
                                        int overwrite);
/** Write the tensor entries entries[0..count) as one safetensors file
 *  (atomically), in the given order; names must be unique. Big-endian or
 *  Fortran-order entries are ERR_UNSUPPORTED. */
ALCM_API alcm_status alcm_export_safetensors(alcm_reader *r,
                                             const size_t *entries,
                                             size_t count,
                                             const char *out_path,
                                             int overwrite);

#ifdef __cplusplus
}
#endif
#endif /* ALCM_H */
