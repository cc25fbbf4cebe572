/*
 * importers.h - internal interfaces of the issue-4 importers (zipread.c,
 * pickle.c, npz.c, pytorch.c, folder.c, convert.c) and what npy.c and
 * safetensors.c share with them. Included after internal.h.
 */
#ifndef ALCM_IMPORTERS_H
#define ALCM_IMPORTERS_H

#include "internal.h"

/* A parsed .npy preamble (npy.c). */
typedef struct {
  int dtype;
  unsigned flags, ndim;
  uint64_t shape[ALCM_MAX_NDIM];
  size_t preamble_size; /* magic .. end of header = offset of the data */
  uint64_t data_size;   /* numel * itemsize */
} alcm_npy_info;
/* Parse p[0..n). With fewer bytes than the preamble it returns
 * ERR_TRUNCATED with info->preamble_size set (when the first 12 bytes are
 * valid), so a caller can read the first bytes, learn the size, and call
 * again with the whole preamble. */
alcm_status alcm_npy_parse_(const uint8_t *p, size_t n, alcm_npy_info *info,
                            const char *file, alcm_msg *msg);

/* One member of a zip archive, from its central directory record, checked
 * against its local header (zipread.c, PKWARE APPNOTE 6.3). */
typedef struct {
  char *name;             /* NUL-terminated copy (names never hold NUL) */
  size_t name_len;
  unsigned method;        /* 0 stored, 8 deflate (others rejected) */
  unsigned flags;         /* general purpose bits */
  uint32_t crc32;
  uint64_t csize, usize;  /* compressed / uncompressed bytes */
  uint64_t header_offset; /* local file header */
  uint64_t data_offset;   /* first byte of the member's data */
} alcm_zip_member;
typedef struct {
  alcm_zip_member *m;     /* in central directory order */
  size_t count;
  uint64_t cd_offset;     /* central directory: the members end before it */
} alcm_zip;
/* Read and validate the central directory of in: EOCD (+ zip64), every
 * record inside the file, names valid UTF-8 without control bytes and
 * unique, no encryption, methods 0/8, stored sizes equal, local headers
 * that agree with the central records, member byte ranges that do not
 * overlap, and declared sizes a deflate stream can reach (<= 1032:1). */
alcm_status alcm_zip_open_(alcm_zip *z, const alcm_infile *in,
                           const char *file, const alcm_mem *m,
                           alcm_msg *msg);
void alcm_zip_free_(alcm_zip *z, const alcm_mem *m);
/* Stream a member's uncompressed bytes [skip, min(limit, usize)) to sink,
 * through bounded buffers (at most ALCM_IO_PIECE out, 64 KiB in). Fails
 * with ERR_INPUT as soon as more than usize bytes come out; when the
 * whole member was read, checks its size and CRC-32. */
typedef alcm_status (*alcm_zip_sink)(void *opaque, const uint8_t *p,
                                     size_t n);
alcm_status alcm_zip_read_(const alcm_infile *in, const alcm_zip_member *zm,
                           uint64_t skip, uint64_t limit, alcm_zip_sink sink,
                           void *opaque, const char *file, const alcm_mem *m,
                           alcm_msg *msg);

/* The pickle machine (pickle.c): runs protocol 2..5 pickles over an
 * allow-list of opcodes and globals and never calls anything. The result
 * is the storages (persistent ids) and the tensors found under the root
 * object, with their dotted key paths, in depth-first order. */
typedef struct {
  char *key;           /* dotted key path, NUL-terminated */
  uint32_t storage;    /* index into storages */
  uint64_t offset;     /* storage offset in elements */
  unsigned ndim;
  uint64_t shape[ALCM_MAX_NDIM];
  int64_t stride[ALCM_MAX_NDIM];
  bool requires_grad;
} alcm_pk_view;
typedef struct {
  char *key;           /* persistent key: the member is <folder>/data/<key> */
  int dtype;           /* alcm_dtype of the storage class */
  uint64_t numel;
} alcm_pk_storage;
typedef struct {
  alcm_pk_view *views;
  size_t view_count;
  alcm_pk_storage *storages;
  size_t storage_count;
} alcm_pk_result;
alcm_status alcm_pickle_run_(const uint8_t *p, size_t n, alcm_pk_result *res,
                             const char *file, const alcm_mem *m,
                             alcm_msg *msg);
void alcm_pickle_free_(alcm_pk_result *res, const alcm_mem *m);
#define ALCM_PK_MAX_STACK ((size_t)1 << 16)
#define ALCM_PK_MAX_MEMO ((size_t)1 << 20)
#define ALCM_PK_MAX_DEPTH 64u

/* Rebuild an NPZ / PyTorch source (npz.c, pytorch.c), for
 * alcm_export_source(). */
alcm_status alcm_npz_export_source_(alcm_reader *r, size_t source,
                                    const alcm_source_info *src,
                                    const char *out_path, int overwrite);
alcm_status alcm_pytorch_export_source_(alcm_reader *r, size_t source,
                                        const alcm_source_info *src,
                                        const char *out_path, int overwrite);

#endif /* ALCM_IMPORTERS_H */
