/*
 * frame.c - encode/decode of the fixed-size structures: file header,
 * frame header and footer (spec "File header", "Frames", "Footer").
 */
#include "internal.h"

/* spec "File header" */
void alcm_header_encode(uint8_t out[ALCM_HEADER_SIZE], unsigned align_log2) {
  memset(out, 0, ALCM_HEADER_SIZE);
  memcpy(out + ALCM_HDR_OFF_MAGIC, ALCM_HEADER_MAGIC, ALCM_HEADER_MAGIC_SIZE);
  alcm_st16(out + ALCM_HDR_OFF_MAJOR, ALCM_FORMAT_MAJOR);
  alcm_st16(out + ALCM_HDR_OFF_MINOR, ALCM_FORMAT_MINOR);
  out[ALCM_HDR_OFF_ALIGN_LOG2] = (uint8_t)align_log2;
  alcm_st64(out + ALCM_HDR_OFF_HASH, alcm_hash64(out, ALCM_HDR_OFF_HASH));
}

/* spec "File header": magic, hash, version, then the remaining fields. */
alcm_status alcm_header_decode(const uint8_t in[ALCM_HEADER_SIZE],
                               unsigned *align_log2, unsigned *minor,
                               alcm_msg *msg) {
  if (memcmp(in, ALCM_HEADER_MAGIC, ALCM_HEADER_MAGIC_SIZE) != 0)
    return alcm_fail(msg, ALCM_ERR_BAD_MAGIC, "file header at offset 0");
  if (alcm_le64(in + ALCM_HDR_OFF_HASH) != alcm_hash64(in, ALCM_HDR_OFF_HASH))
    return alcm_fail(msg, ALCM_ERR_CHECKSUM, "file header at offset 0");
  const unsigned major = alcm_le16(in + ALCM_HDR_OFF_MAJOR);
  if (major != ALCM_FORMAT_MAJOR)
    return alcm_fail(msg, ALCM_ERR_VERSION,
                     "file header: format %u.%u (this library reads %u.x)",
                     major, alcm_le16(in + ALCM_HDR_OFF_MINOR),
                     ALCM_FORMAT_MAJOR);
  if (alcm_le32(in + ALCM_HDR_OFF_FLAGS) != 0)
    return alcm_fail(msg, ALCM_ERR_RESERVED, "file header: flags 0x%08x",
                     (unsigned)alcm_le32(in + ALCM_HDR_OFF_FLAGS));
  if (!alcm_all_zero(in + ALCM_HDR_OFF_RESERVED, 7))
    return alcm_fail(msg, ALCM_ERR_RESERVED,
                     "file header: reserved bytes at offset 17");
  const unsigned a = in[ALCM_HDR_OFF_ALIGN_LOG2];
  if (a < ALCM_ALIGN_LOG2_MIN || a > ALCM_ALIGN_LOG2_MAX)
    return alcm_fail(msg, ALCM_ERR_CORRUPT,
                     "file header: align_log2 %u outside %u..%u", a,
                     ALCM_ALIGN_LOG2_MIN, ALCM_ALIGN_LOG2_MAX);
  *align_log2 = a;
  *minor = alcm_le16(in + ALCM_HDR_OFF_MINOR);
  return ALCM_OK;
}

/* spec "Frames" */
void alcm_frame_encode(uint8_t out[ALCM_FRAME_HEADER_SIZE],
                       const alcm_frame *f) {
  memset(out, 0, ALCM_FRAME_HEADER_SIZE);
  memcpy(out + ALCM_FRM_OFF_MAGIC, ALCM_FRAME_MAGIC, 4);
  out[ALCM_FRM_OFF_KIND] = (uint8_t)f->kind;
  out[ALCM_FRM_OFF_TRANSFORM] = (uint8_t)f->transform;
  out[ALCM_FRM_OFF_CODEC] = (uint8_t)f->codec;
  out[ALCM_FRM_OFF_ELEM_SIZE] = (uint8_t)f->elem_size;
  alcm_st64(out + ALCM_FRM_OFF_RAW_SIZE, f->raw_size);
  alcm_st64(out + ALCM_FRM_OFF_STORED_SIZE, f->stored_size);
  alcm_st64(out + ALCM_FRM_OFF_RAW_HASH, f->raw_hash);
  alcm_st64(out + ALCM_FRM_OFF_STORED_HASH, f->stored_hash);
  alcm_st16(out + ALCM_FRM_OFF_SECTION_TYPE, (uint16_t)f->section_type);
  alcm_st64(out + ALCM_FRM_OFF_HEADER_HASH,
            alcm_hash64(out, ALCM_FRM_OFF_HEADER_HASH));
}

alcm_status alcm_frame_decode(const uint8_t in[ALCM_FRAME_HEADER_SIZE],
                              alcm_frame *f, uint64_t offset, alcm_msg *msg) {
  if (memcmp(in + ALCM_FRM_OFF_MAGIC, ALCM_FRAME_MAGIC, 4) != 0)
    return alcm_fail(msg, ALCM_ERR_CORRUPT,
                     "frame at offset %llu: bad frame magic",
                     (unsigned long long)offset);
  if (alcm_le64(in + ALCM_FRM_OFF_HEADER_HASH) !=
      alcm_hash64(in, ALCM_FRM_OFF_HEADER_HASH))
    return alcm_fail(msg, ALCM_ERR_CHECKSUM,
                     "frame header at offset %llu",
                     (unsigned long long)offset);
  if (!alcm_all_zero(in + ALCM_FRM_OFF_RESERVED, 14))
    return alcm_fail(msg, ALCM_ERR_RESERVED,
                     "frame at offset %llu: reserved bytes",
                     (unsigned long long)offset);
  f->kind = in[ALCM_FRM_OFF_KIND];
  f->transform = in[ALCM_FRM_OFF_TRANSFORM];
  f->codec = in[ALCM_FRM_OFF_CODEC];
  f->elem_size = in[ALCM_FRM_OFF_ELEM_SIZE];
  f->raw_size = alcm_le64(in + ALCM_FRM_OFF_RAW_SIZE);
  f->stored_size = alcm_le64(in + ALCM_FRM_OFF_STORED_SIZE);
  f->raw_hash = alcm_le64(in + ALCM_FRM_OFF_RAW_HASH);
  f->stored_hash = alcm_le64(in + ALCM_FRM_OFF_STORED_HASH);
  f->section_type = alcm_le16(in + ALCM_FRM_OFF_SECTION_TYPE);
  if (f->kind != ALCM_FRAME_KIND_CHUNK && f->kind != ALCM_FRAME_KIND_SECTION)
    return alcm_fail(msg, ALCM_ERR_CORRUPT,
                     "frame at offset %llu: unknown kind %u",
                     (unsigned long long)offset, f->kind);
  if ((f->kind == ALCM_FRAME_KIND_CHUNK) != (f->section_type == 0) ||
      f->section_type > ALCM_SECTION_MAX)
    return alcm_fail(msg, ALCM_ERR_CORRUPT,
                     "frame at offset %llu: section type %u for kind %u",
                     (unsigned long long)offset, f->section_type, f->kind);
  if (f->transform >= ALCM_TRANSFORM_COUNT)
    return alcm_fail(msg, ALCM_ERR_TRANSFORM_UNKNOWN,
                     "frame at offset %llu: transform %u",
                     (unsigned long long)offset, f->transform);
  if (!alcm_transform_valid(f->transform, f->elem_size) ||
      f->raw_size % f->elem_size != 0)
    return alcm_fail(msg, ALCM_ERR_CORRUPT,
                     "frame at offset %llu: transform %u with element size "
                     "%u over %llu bytes",
                     (unsigned long long)offset, f->transform, f->elem_size,
                     (unsigned long long)f->raw_size);
  if (f->codec == ALCM_CODEC_ID_STORE && f->stored_size != f->raw_size)
    return alcm_fail(msg, ALCM_ERR_CORRUPT,
                     "frame at offset %llu: stored codec with %llu stored "
                     "bytes for %llu raw bytes",
                     (unsigned long long)offset,
                     (unsigned long long)f->stored_size,
                     (unsigned long long)f->raw_size);
  return ALCM_OK;
}

/* spec "Footer" */
void alcm_footer_encode(uint8_t out[ALCM_FOOTER_SIZE], const alcm_footer *f) {
  memset(out, 0, ALCM_FOOTER_SIZE);
  alcm_st64(out + ALCM_FTR_OFF_INDEX_OFFSET, f->index_offset);
  alcm_st64(out + ALCM_FTR_OFF_INDEX_SIZE, f->index_size);
  alcm_st64(out + ALCM_FTR_OFF_INDEX_HASH, f->index_hash);
  alcm_st16(out + ALCM_FTR_OFF_MAJOR, ALCM_FORMAT_MAJOR);
  alcm_st16(out + ALCM_FTR_OFF_MINOR, ALCM_FORMAT_MINOR);
  alcm_st64(out + ALCM_FTR_OFF_HASH, alcm_hash64(out, ALCM_FTR_OFF_HASH));
  memcpy(out + ALCM_FTR_OFF_MAGIC, ALCM_FOOTER_MAGIC, 8);
}

/* Decodes the footer; the caller compares the minor version with the
 * header's and the offsets with the file size. */
alcm_status alcm_footer_decode(const uint8_t in[ALCM_FOOTER_SIZE],
                               alcm_footer *f, alcm_msg *msg) {
  if (memcmp(in + ALCM_FTR_OFF_MAGIC, ALCM_FOOTER_MAGIC, 8) != 0)
    return alcm_fail(msg, ALCM_ERR_BAD_MAGIC, "footer magic");
  if (alcm_le64(in + ALCM_FTR_OFF_HASH) != alcm_hash64(in, ALCM_FTR_OFF_HASH))
    return alcm_fail(msg, ALCM_ERR_CHECKSUM, "footer");
  if (alcm_le16(in + ALCM_FTR_OFF_MAJOR) != ALCM_FORMAT_MAJOR)
    return alcm_fail(msg, ALCM_ERR_CORRUPT,
                     "footer: major version %u differs from the header's",
                     alcm_le16(in + ALCM_FTR_OFF_MAJOR));
  if (alcm_le32(in + ALCM_FTR_OFF_FLAGS) != 0)
    return alcm_fail(msg, ALCM_ERR_RESERVED, "footer: flags 0x%08x",
                     (unsigned)alcm_le32(in + ALCM_FTR_OFF_FLAGS));
  f->index_offset = alcm_le64(in + ALCM_FTR_OFF_INDEX_OFFSET);
  f->index_size = alcm_le64(in + ALCM_FTR_OFF_INDEX_SIZE);
  f->index_hash = alcm_le64(in + ALCM_FTR_OFF_INDEX_HASH);
  f->minor = alcm_le16(in + ALCM_FTR_OFF_MINOR);
  return ALCM_OK;
}
