/*
 * alcm_format.h - wire constants of the .alcm container, format v1.3.
 *
 * This header mirrors spec/alcm-format.md field by field; the spec is
 * normative. Every offset below is relative to the start of the structure
 * named in the prefix; every multi-byte field is little-endian.
 *
 *   file = header | padding | (frame | padding)* | index | footer
 *
 * Internal to libalcm and its tests; not installed.
 */
#ifndef ALCM_FORMAT_H
#define ALCM_FORMAT_H

/* ---- format version (spec "Version") -------------------------------- */
#define ALCM_FORMAT_MAJOR 1u
#define ALCM_FORMAT_MINOR 4u /* 1.2: adaptive entries (codes + sections);
                                1.3: rans block mode RANS32 and the
                                byte-plane zig-zag code layout;
                                1.4: bundled entries (entry flag bit 2) */

/* ---- file header (spec "File header"), 32 bytes at offset 0 ---------- */
#define ALCM_HEADER_SIZE 32u
#define ALCM_HEADER_MAGIC "\x89" "ALCM\r\n\x1a"   /* 8 bytes */
#define ALCM_HEADER_MAGIC_SIZE 8u
#define ALCM_HDR_OFF_MAGIC 0u        /* u8[8] */
#define ALCM_HDR_OFF_MAJOR 8u        /* u16 format major, must be 1 */
#define ALCM_HDR_OFF_MINOR 10u       /* u16 format minor */
#define ALCM_HDR_OFF_FLAGS 12u       /* u32 feature flags, no bit defined: 0 */
#define ALCM_HDR_OFF_ALIGN_LOG2 16u  /* u8 log2(alignment), 3..16 */
#define ALCM_HDR_OFF_RESERVED 17u    /* u8[7] zero */
#define ALCM_HDR_OFF_HASH 24u        /* u64 XXH3-64 of bytes 0..23 */
#define ALCM_ALIGN_LOG2_MIN 3u
#define ALCM_ALIGN_LOG2_MAX 16u
#define ALCM_ALIGN_LOG2_DEFAULT 3u   /* 8 bytes */

/* ---- frame header (spec "Frames"), 64 bytes ---------------------------
 * A frame holds one chunk of an entry's bytes or one per-channel section.
 * Its payload (stored_size bytes) starts right after the header, at an
 * offset that is a multiple of the file's alignment. */
#define ALCM_FRAME_HEADER_SIZE 64u
#define ALCM_FRAME_MAGIC "ALCF"        /* 4 bytes */
#define ALCM_FRM_OFF_MAGIC 0u          /* u8[4] */
#define ALCM_FRM_OFF_KIND 4u           /* u8 ALCM_FRAME_KIND_* */
#define ALCM_FRM_OFF_TRANSFORM 5u      /* u8 ALCM_TRANSFORM_* */
#define ALCM_FRM_OFF_CODEC 6u          /* u8 ALCM_CODEC_ID_* */
#define ALCM_FRM_OFF_ELEM_SIZE 7u      /* u8 element size the transform used: 1,2,4,8 */
#define ALCM_FRM_OFF_RAW_SIZE 8u       /* u64 bytes after decoding */
#define ALCM_FRM_OFF_STORED_SIZE 16u   /* u64 payload bytes */
#define ALCM_FRM_OFF_RAW_HASH 24u      /* u64 XXH3-64 of the decoded bytes */
#define ALCM_FRM_OFF_STORED_HASH 32u   /* u64 XXH3-64 of the payload */
#define ALCM_FRM_OFF_SECTION_TYPE 40u  /* u16 ALCM_SECTION_* (kind 2), else 0 */
#define ALCM_FRM_OFF_RESERVED 42u      /* u8[14] zero */
#define ALCM_FRM_OFF_HEADER_HASH 56u   /* u64 XXH3-64 of bytes 0..55 */

#define ALCM_FRAME_KIND_CHUNK 1u       /* a chunk of a tensor's or blob's bytes */
#define ALCM_FRAME_KIND_SECTION 2u     /* a per-channel section */

/* ---- transforms (spec "Transforms") ---------------------------------- */
#define ALCM_TRANSFORM_IDENTITY 0u     /* elem_size must be 1 */
#define ALCM_TRANSFORM_BYTE_GROUP 1u   /* byte planes; elem_size 2, 4 or 8 */
#define ALCM_TRANSFORM_SPLIT_BF16 2u   /* exponent | sign+mantissa; elem_size 2 (1.1) */
#define ALCM_TRANSFORM_SPLIT_F32 3u    /* exponent | sign+mant hi | mant | mant lo; elem_size 4 (1.1) */
#define ALCM_TRANSFORM_COUNT 4u        /* ids >= this are rejected */

/* ---- codecs (spec "Codecs") -------------------------------------------- */
#define ALCM_CODEC_ID_STORE 0u
#define ALCM_CODEC_ID_ZSTD 1u
#define ALCM_CODEC_ID_ZLIB 2u
#define ALCM_CODEC_ID_RANS 3u          /* blocked order-0 rANS (1.1) */
#define ALCM_CODEC_ID_BUILTIN_COUNT 4u
#define ALCM_CODEC_ID_PRIVATE_MIN 128u /* 128..254: registered by the caller */
#define ALCM_CODEC_ID_PRIVATE_MAX 254u

/* ---- index (spec "Index"), variable size, at index_offset ------------- */
#define ALCM_INDEX_MAGIC "AIDX"
#define ALCM_INDEX_HEADER_SIZE 32u
#define ALCM_IDX_OFF_MAGIC 0u          /* u8[4] */
#define ALCM_IDX_OFF_FLAGS 4u          /* u32 ALCM_INDEX_FLAG_* */
#define ALCM_IDX_OFF_SOURCE_COUNT 8u   /* u32 */
#define ALCM_IDX_OFF_ENTRY_COUNT 12u   /* u32 */
#define ALCM_IDX_OFF_META_COUNT 16u    /* u32 */
#define ALCM_IDX_OFF_BODY_SIZE 20u     /* u32 inflated body bytes (flag ZLIB), else 0 */
#define ALCM_IDX_OFF_TOTAL_RAW 24u     /* u64 sum of entry raw sizes */
#define ALCM_INDEX_FLAG_ZLIB 1u        /* body (after the header) is one zlib stream (1.1) */

/* source record: 8 bytes, then path[path_len], then restore[restore_len] */
#define ALCM_SOURCE_RECORD_SIZE 8u
#define ALCM_SRC_OFF_FORMAT 0u         /* u8 ALCM_SOURCE_* */
#define ALCM_SRC_OFF_RESERVED 1u       /* u8 zero */
#define ALCM_SRC_OFF_PATH_LEN 2u       /* u16, 0..4096 */
#define ALCM_SRC_OFF_RESTORE_LEN 4u    /* u32 */

/* entry record: 48 bytes, then name[name_len], shape u64[ndim],
 * chunk refs [chunk_count], bundle offset (bundled entries only, 1.4),
 * section refs [section_count], adaptive block (encoding ADAPTIVE only). */
#define ALCM_ENTRY_RECORD_SIZE 48u
#define ALCM_ENT_OFF_KIND 0u           /* u8 ALCM_ENTRY_* */
#define ALCM_ENT_OFF_DTYPE 1u          /* u8 ALCM_DTYPE_* (tensor), 0 (blob) */
#define ALCM_ENT_OFF_ENCODING 2u       /* u8 ALCM_ENCODING_* */
#define ALCM_ENT_OFF_NDIM 3u           /* u8 0..ALCM_MAX_NDIM */
#define ALCM_ENT_OFF_NAME_LEN 4u       /* u16 1..ALCM_MAX_NAME */
#define ALCM_ENT_OFF_FLAGS 6u          /* u16 ALCM_ENTRY_FLAG_* */
#define ALCM_ENT_OFF_SOURCE 8u         /* u32 source index or ALCM_NO_SOURCE */
#define ALCM_ENT_OFF_CHUNK_COUNT 12u   /* u32 */
#define ALCM_ENT_OFF_SECTION_COUNT 16u /* u32 */
#define ALCM_ENT_OFF_CHUNK_SIZE 20u    /* u32 raw bytes per chunk but the last */
#define ALCM_ENT_OFF_RAW_SIZE 24u      /* u64 */
#define ALCM_ENT_OFF_CONTENT_HASH 32u  /* u8[16] XXH3-128 of the raw bytes, canonical (big-endian) form */

#define ALCM_CHUNK_REF_SIZE 16u        /* u64 frame_offset, u64 stored_size */
#define ALCM_BUNDLE_OFFSET_SIZE 8u       /* u64: bundled entry's first byte in its frame's decoded bytes (1.4) */

/* entry flags: bits 0 and 1 are ALCM_ENTRY_FLAG_FORTRAN_ORDER and
 * ALCM_ENTRY_FLAG_BIG_ENDIAN (alcm.h); bit 2 ALCM_ENTRY_FLAG_BUNDLED */
#define ALCM_ENTRY_FLAGS_FORMAT 0x0007u
#define ALCM_SECTION_REF_SIZE 24u      /* u16 type, u8[6] zero, u64 frame_offset, u64 stored_size */

/* adaptive block: 64 bytes, only for ALCM_ENCODING_ADAPTIVE */
#define ALCM_ADAPTIVE_BLOCK_SIZE 64u
#define ALCM_ADP_OFF_CHANNEL_AXIS 0u   /* u8 < ndim */
#define ALCM_ADP_OFF_CODE_LAYOUT 1u    /* u8 ALCM_CODE_LAYOUT_* (1.3; 1.2: zero) */
#define ALCM_ADP_OFF_RESERVED 2u       /* u8[2] zero */
#define ALCM_ADP_OFF_CHANNEL_COUNT 4u  /* u32 == shape[channel_axis] */
#define ALCM_ADP_OFF_MAX_ABS_ERR 8u    /* f64 measured */
#define ALCM_ADP_OFF_RMSE 16u          /* f64 measured */
#define ALCM_ADP_OFF_SNR_DB 24u        /* f64 measured */
#define ALCM_ADP_OFF_PRUNED 32u        /* f64 fraction of elements pruned */
#define ALCM_ADP_OFF_CPU_SECONDS 40u   /* f64 encode CPU time */
#define ALCM_ADP_OFF_CAQ 48u           /* f64 ratio / (cpu_seconds + 1) */
#define ALCM_ADP_OFF_RESERVED2 56u     /* u8[8] zero */

/* adaptive entries (1.2, spec "Adaptive entries"): raw_size is the code
 * bytes, at most ALCM_ADAPTIVE_MAX_BITS bits per element. */
#define ALCM_ADAPTIVE_MAX_BITS 16u
/* code layouts (spec/adaptive.md "Codes") */
#define ALCM_CODE_LAYOUT_PACKED 0u /* 1.2: b-bit codes, LSB-first */
#define ALCM_CODE_LAYOUT_BYTES 1u  /* 1.3: zig-zag byte planes, width order */

/* metadata record: 8 bytes, then key[key_len], then value[value_len] */
#define ALCM_META_RECORD_SIZE 8u
#define ALCM_MET_OFF_KEY_LEN 0u        /* u16 1..255 */
#define ALCM_MET_OFF_TYPE 2u           /* u8 ALCM_META_* */
#define ALCM_MET_OFF_RESERVED 3u       /* u8 zero */
#define ALCM_MET_OFF_VALUE_LEN 4u      /* u32 */

/* ---- footer (spec "Footer"), last 48 bytes of the file ---------------- */
#define ALCM_FOOTER_SIZE 48u
#define ALCM_FOOTER_MAGIC "ALCMEND\n"
#define ALCM_FTR_OFF_INDEX_OFFSET 0u   /* u64 */
#define ALCM_FTR_OFF_INDEX_SIZE 8u     /* u64 */
#define ALCM_FTR_OFF_INDEX_HASH 16u    /* u64 XXH3-64 of the index bytes */
#define ALCM_FTR_OFF_MAJOR 24u         /* u16 == header major */
#define ALCM_FTR_OFF_MINOR 26u         /* u16 == header minor */
#define ALCM_FTR_OFF_FLAGS 28u         /* u32 zero */
#define ALCM_FTR_OFF_HASH 32u          /* u64 XXH3-64 of footer bytes 0..31 */
#define ALCM_FTR_OFF_MAGIC 40u         /* u8[8] */

/* ---- limits (spec "Limits") -------------------------------------------- */
#define ALCM_MAX_NDIM 32u
#define ALCM_MAX_NAME 4096u
#define ALCM_MAX_META_KEY 255u
#define ALCM_NO_SOURCE 0xFFFFFFFFu
#define ALCM_CHUNK_SIZE_MIN 4096u      /* and a multiple of 8 */
#define ALCM_CHUNK_SIZE_MAX (1u << 30)

#endif /* ALCM_FORMAT_H */
