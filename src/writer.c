/*
 * writer.c - the streaming archive writer (spec "Layout", "Frames",
 * "Index").
 *
 * Bytes collect in a batch of slots, one chunk per slot, packed one after
 * the other; a slot holds a chunk of one entry, and consecutive slots may
 * belong to different entries, so that checkpoints of many small tensors
 * encode in parallel too. With threads the batches form a ring of
 * BATCHES: the caller fills one and queues it on the pool, then writes
 * the frames of the oldest once encoded, while the pool works on the ones
 * in between (without threads, one batch). Frames go out in slot order,
 * which is chunk order, so the file does not depend on the thread count.
 * Each thread encodes into its own scratch buffers and moves the payload
 * (never larger than the chunk) into the chunk's place in the batch.
 * Memory stays at about BATCHES x batch + 3 x threads x chunk_size, a
 * batch being up to 1 MiB of chunks per thread (one chunk without
 * threads): small batches keep the pipeline full on files of a few MB
 * (larger ones measured slower there: more fresh pages to fault in).
 *
 * Lossless tensors of up to ALCM_BUNDLE_ENTRY_MAX bytes are bundled
 * (format 1.4, spec "Bundled"): each dtype collects them in a buffer of its own,
 * which becomes one slot (one frame, one set of codec tables) when the
 * next does not fit, when the lent file is released, or at finish; the
 * entries name that frame and where in it they start. Members given whole
 * from the lent file are read and hashed by the bundle's task too.
 *
 * An importer that lends its file (alcm_writer_lend_) leaves the reading
 * of whole entries of up to one chunk to the pool: the slot records where
 * the bytes are, and the task that encodes it reads and hashes them, so
 * the calling thread only writes frames (measured on the BF16 corpus, 2
 * threads, best of 6 x 7 runs: pack 27.4 -> 25.8 ms).
 */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "adaptive.h"
#include "internal.h"
#include "predictor_v1.h"

typedef struct {
  uint8_t *raw;         /* chunk bytes in its batch; then the payload */
  size_t raw_size;
  uint32_t entry;       /* index of the entry the chunk belongs to */
  unsigned dtype;       /* its dtype, 0 for blobs */
  const uint8_t *payload;
  alcm_frame frame;
  /* A whole entry read by the pool task that encodes it (see
   * alcm_writer_lend_): from in at in_offset; the task also hashes it
   * (content), or records why the read failed (read_status, read_msg). */
  const alcm_infile *in; /* NULL: raw was filled when given */
  uint64_t in_offset;
  alcm_status read_status;
  uint8_t content[16];
  alcm_msg read_msg;
  bool bundle;          /* a bundle: entry is its first member, the others
                           follow through alcm_entry.bundle_next */
  struct bundle_read *reads; /* a bundle's members read by the task */
  size_t nreads;
  size_t read_failed;   /* the reads entry that failed (read_status) */
} slot;

/* Chunks for one pool run: up to SLOTS_MAX slots packed in raw. A ring of
 * BATCHES with threads (one fills while the others are encoded, the
 * oldest then has its frames written), of one without: encoded inline
 * and written at once, the same buffer then fills again (a ring would
 * only fault in more fresh pages). */
#define BATCHES 3u
typedef struct {
  slot *slots;
  uint8_t *raw;         /* batch_bytes */
  unsigned used;        /* slots holding bytes; the last may be filling */
  struct alcm_writer *w;
  bool queued;          /* given to the pool (run), frames not yet written */
  uint64_t run;
} batch;

/* Small tensors of one dtype collecting for their frame (see above and
 * ALCM_BUNDLE_* in internal.h). */
#define BUNDLE_DTYPES 16u /* dtype ids 1..15 */
/* A member of a bundle whose bytes the task that encodes the bundle reads
 * from the lent file (as for whole entries up to a chunk): where from,
 * where to, and its content hash, which the task computes. The entry
 * table may move while tasks run, so a read carries all it needs. */
typedef struct bundle_read {
  const alcm_infile *in;
  uint64_t in_offset;
  size_t at, size;      /* its bytes in the bundle */
  uint32_t entry;
  uint8_t content[16];
} bundle_read;

typedef struct {
  uint8_t *buf;        /* bundle_cap bytes, allocated on first use */
  size_t used;
  uint32_t first, last; /* member entries + 1, 0 = none */
  bundle_read *reads;  /* members still to read, in entry order */
  size_t nreads, reads_cap;
} bundle;

struct alcm_writer {
  alcm_mem mem;
  alcm_msg msg;
  alcm_status init_error;
  alcm_codec_set codecs;
  alcm_encode_policy policy;
  alcm_dedup *dedup;    /* NULL when disabled */
  bool no_dedup, plain_index, no_bundle;
  uint32_t chunk_size;
  unsigned threads, align_log2;
  int overwrite;

  alcm_outfile out;
  alcm_pool *pool;
  bool opened, finished, failed;

  alcm_index idx;
  size_t sources_cap, entries_cap, meta_cap;
  uint32_t *name_table; /* open addressing: entry index + 1, 0 = empty */
  size_t name_table_cap;
  uint32_t cur_source;

  bool in_entry;
  uint64_t expected;    /* declared size of a tensor; UINT64_MAX for blobs */
  uint64_t written;
  alcm_hash128_state *content;
  bool content_later;   /* the entry's hash comes from its slot */
  const alcm_infile *lent; /* see alcm_writer_lend_ */
  bool lent_pending;    /* slots not yet written may read from lent */

  batch batches[BATCHES];
  unsigned ring;        /* batches in use: BATCHES, or 1 without threads */
  unsigned cur;         /* the batch being filled */
  size_t batch_bytes;
  alcm_encode_buffers *scratch; /* one per thread, [0] the caller's */
  unsigned scratch_count;
  bool open_slot;       /* the current batch's last slot takes bytes */
  bundle bundles[BUNDLE_DTYPES];
  size_t bundle_cap;    /* min(ALCM_BUNDLE_BYTES, chunk_size) */
  bool bundling;        /* the current entry's bytes go to its bundle */
  uint64_t file_size;   /* set at finish; out.offset is reset by commit */

  /* adaptive mode (alcm_writer_set_adaptive) */
  bool adaptive_mode;
  alcm_adaptive_options aopt;
  bool holding;         /* the current tensor collects in hold */
  uint8_t *hold;
  size_t hold_cap;
  alcm_mlp mlp;         /* loaded predictor, from mlp_src */
  const void *mlp_src;
  bool any_adaptive;
  uint64_t original_total; /* bytes of every entry as the user gave them */
  uint64_t entry_original; /* of the current entry */
  double open_wall, open_cpu;
};

alcm_msg *alcm_writer_msg_(alcm_writer *w) { return &w->msg; }
const alcm_mem *alcm_writer_mem_(const alcm_writer *w) { return &w->mem; }

void alcm_write_options_init(alcm_write_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->sizeof_options = sizeof *opt;
  opt->transform = -1;
}

/* ---- create / options ---------------------------------------------------- */

static alcm_status apply_options(alcm_writer *w, const alcm_write_options *o) {
  w->codecs.extra = o->extra_codecs;
  w->codecs.extra_count = o->extra_codec_count;
  alcm_status st = alcm_codec_set_check(&w->codecs, &w->msg);
  if (st) return st;
  const char *name = o->codec ? o->codec : "auto";
  const bool is_auto = strcmp(name, "auto") == 0;
  w->policy.codec = is_auto ? NULL : alcm_codec_by_name(&w->codecs, name);
  if (!is_auto && !w->policy.codec)
    return alcm_fail(&w->msg, ALCM_ERR_CODEC_UNKNOWN, "codec '%s'", name);
  /* In auto mode the level is zstd's, for chunks where zstd wins. */
  const alcm_codec *const lc = is_auto ? &alcm_codec_zstd : w->policy.codec;
  w->policy.level = (o->level_set || o->level != 0) ? o->level
                                                    : lc->level_default;
  if (w->policy.level < lc->level_min || w->policy.level > lc->level_max)
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT,
                     "level %d outside %d..%d for codec '%s'",
                     w->policy.level, lc->level_min, lc->level_max, lc->name);
  w->chunk_size = o->chunk_size ? o->chunk_size : ALCM_CHUNK_SIZE_DEFAULT;
  if (w->chunk_size < ALCM_CHUNK_SIZE_MIN ||
      w->chunk_size > ALCM_CHUNK_SIZE_MAX || w->chunk_size % 8 != 0)
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT,
                     "chunk size %u: must be a multiple of 8 in %u..%u",
                     (unsigned)w->chunk_size, ALCM_CHUNK_SIZE_MIN,
                     ALCM_CHUNK_SIZE_MAX);
  w->threads = o->threads ? o->threads : 1;
  if (w->threads > 256)
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT, "%u threads (at most 256)",
                     w->threads);
  w->align_log2 = o->align_log2 ? o->align_log2 : ALCM_ALIGN_LOG2_DEFAULT;
  if (w->align_log2 < ALCM_ALIGN_LOG2_MIN ||
      w->align_log2 > ALCM_ALIGN_LOG2_MAX)
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT, "align_log2 %u outside %u..%u",
                     w->align_log2, ALCM_ALIGN_LOG2_MIN, ALCM_ALIGN_LOG2_MAX);
  w->policy.transform = o->transform;
  if (w->policy.transform < -1 ||
      w->policy.transform > (int)ALCM_TRANSFORM_BYTE_GROUP)
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT,
                     "transform %d (-1 auto, 0 identity, 1 byte grouping)",
                     w->policy.transform);
  w->overwrite = o->overwrite;
  w->no_dedup = o->no_dedup != 0;
  w->plain_index = o->plain_index != 0;
  w->no_bundle = o->no_bundle != 0;
  w->bundle_cap =
      w->chunk_size < ALCM_BUNDLE_BYTES ? w->chunk_size : ALCM_BUNDLE_BYTES;
  return ALCM_OK;
}

alcm_writer *alcm_writer_create(const alcm_write_options *opt) {
  alcm_write_options o;
  alcm_write_options_init(&o);
  bool bad_size = false;
  if (opt)
    bad_size = !alcm_options_copy(&o, sizeof o, opt,
                                  offsetof(alcm_write_options, codec));
  alcm_mem mem;
  alcm_mem_init(&mem, &o.allocator, 0);
  alcm_writer *w = alcm_mem_calloc(&mem, 1, sizeof *w);
  if (!w) return NULL;
  w->mem = mem;
  w->out.fd = -1;
  w->cur_source = ALCM_NO_SOURCE;
  if (bad_size)
    w->init_error = alcm_fail(&w->msg, ALCM_ERR_ARGUMENT,
                              "options: sizeof_options is %zu",
                              opt->sizeof_options);
  else
    w->init_error = apply_options(w, &o);
  return w;
}

/* ---- open ---------------------------------------------------------------- */

/* Bytes per thread and batch with threads: at least a chunk, and whole
 * chunks up to 1 MiB (2 MiB measured no faster on large files and slower
 * on files of a few MB, where one batch held everything and nothing
 * overlapped; two of the default 512 KiB chunks a thread matched one of
 * 1 MiB on a 112 MB file, one of 512 KiB was slower). Without threads a
 * batch is one chunk. Small chunks pack, up to SLOTS_MAX per batch, each
 * at a SLOT_ALIGN offset. */
#define THREAD_BATCH_BYTES ((size_t)1 << 20)
#define SLOTS_MAX 64u
#define SLOT_ALIGN 64u

static alcm_status alloc_slots(alcm_writer *w) {
  const unsigned t = w->threads > 1 ? w->threads : 1;
  const size_t cs = w->chunk_size;
  const size_t bound = alcm_encode_bound(&w->policy, cs);
  const size_t per = t > 1 && cs < THREAD_BATCH_BYTES
                        ? THREAD_BATCH_BYTES / cs * cs
                        : cs;
  if (__builtin_mul_overflow(per, (size_t)t, &w->batch_bytes))
    return alcm_fail(&w->msg, ALCM_ERR_LIMIT, "writer buffers: %u threads",
                     t);
  w->ring = t > 1 ? BATCHES : 1;
  for (unsigned k = 0; k < w->ring; k++) {
    batch *const b = &w->batches[k];
    b->w = w;
    b->slots = alcm_mem_calloc(&w->mem, SLOTS_MAX, sizeof *b->slots);
    /* not zeroed: pages are touched only as chunks fill them */
    b->raw = alcm_mem_alloc(&w->mem, w->batch_bytes);
    if (!b->slots || !b->raw)
      return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "writer buffers");
  }
  w->scratch = alcm_mem_calloc(&w->mem, t, sizeof *w->scratch);
  if (!w->scratch) return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "writer buffers");
  w->scratch_count = t;
  for (unsigned i = 0; i < t; i++) {
    alcm_encode_buffers *b = &w->scratch[i];
    b->tmp = alcm_mem_alloc(&w->mem, cs);
    b->out = alcm_mem_alloc(&w->mem, bound);
    b->out2 = w->policy.codec ? NULL : alcm_mem_alloc(&w->mem, bound);
    if (!b->tmp || !b->out || (!w->policy.codec && !b->out2))
      return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "writer buffers");
  }
  if (!w->no_dedup && alcm_dedup_create(&w->dedup, &w->mem))
    return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "dedup table");
  return ALCM_OK;
}

static double wall_seconds(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0.0;
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

alcm_status alcm_writer_open(alcm_writer *w, const char *path) {
  if (!w || !path) return ALCM_ERR_ARGUMENT;
  alcm_msg_clear(&w->msg);
  if (w->init_error)
    return alcm_fail(&w->msg, w->init_error, "writer options");
  if (w->opened)
    return alcm_fail(&w->msg, ALCM_ERR_STATE, "writer already opened");
  alcm_status st = alloc_slots(w);
  if (st) return st;
  if ((st = alcm_pool_create(&w->pool, &w->mem, w->threads)))
    return alcm_fail(&w->msg, st, "worker pool of %u threads", w->threads);
  if (!(w->content = alcm_hash128_create(&w->mem)))
    return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "hash state");
  if ((st = alcm_outfile_open(&w->out, &w->mem, path, w->overwrite, &w->msg)))
    return st;
  w->opened = true;
  w->open_cpu = alcm_cpu_seconds();
  w->open_wall = wall_seconds();
  uint8_t hdr[ALCM_HEADER_SIZE];
  alcm_header_encode(hdr, w->align_log2);
  if ((st = alcm_outfile_write(&w->out, hdr, sizeof hdr, &w->msg))) {
    w->failed = true;
    return st;
  }
  return ALCM_OK;
}

/* Calls that need an open, healthy writer start with this. */
static alcm_status usable(alcm_writer *w, bool want_entry, const char *what) {
  alcm_msg_clear(&w->msg);
  if (!w->opened || w->finished)
    return alcm_fail(&w->msg, ALCM_ERR_STATE, "%s: writer is not open", what);
  if (w->failed)
    return alcm_fail(&w->msg, ALCM_ERR_STATE,
                     "%s: an earlier write failed; the archive is abandoned",
                     what);
  if (w->in_entry != want_entry)
    return alcm_fail(&w->msg, ALCM_ERR_STATE, "%s: %s", what,
                     want_entry ? "no entry begun" : "previous entry not ended");
  return ALCM_OK;
}

/* ---- names --------------------------------------------------------------- */

static size_t name_slot(const alcm_writer *w, const char *name, size_t len,
                        bool *found) {
  const size_t mask = w->name_table_cap - 1;
  size_t i = (size_t)alcm_hash64(name, len) & mask;
  for (;; i = (i + 1) & mask) {
    const uint32_t v = w->name_table[i];
    if (v == 0) break;
    const alcm_entry *e = &w->idx.entries[v - 1];
    if (e->name_len == len && memcmp(e->name, name, len) == 0) {
      *found = true;
      return i;
    }
  }
  *found = false;
  return i;
}

/* Keep the table at most half full. */
static alcm_status grow_name_table(alcm_writer *w) {
  if ((size_t)w->idx.entry_count + 1 <= w->name_table_cap / 2) return ALCM_OK;
  const size_t cap = w->name_table_cap ? w->name_table_cap * 2 : 64;
  uint32_t *t = alcm_mem_calloc(&w->mem, cap, sizeof *t);
  if (!t) return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "name table");
  alcm_mem_free(&w->mem, w->name_table);
  w->name_table = t;
  w->name_table_cap = cap;
  for (uint32_t i = 0; i < w->idx.entry_count; i++) {
    bool found;
    const alcm_entry *e = &w->idx.entries[i];
    w->name_table[name_slot(w, e->name, e->name_len, &found)] = i + 1;
  }
  return ALCM_OK;
}

static alcm_status new_entry(alcm_writer *w, const char *name, unsigned kind,
                             alcm_entry **ret) {
  const size_t len = strlen(name);
  alcm_status st = grow_name_table(w);
  if (st) return st;
  bool found;
  const size_t pos = name_slot(w, name, len, &found);
  if (found)
    return alcm_fail(&w->msg, ALCM_ERR_DUPLICATE, "entry '%s' already added",
                     name);
  if (w->idx.entry_count == UINT32_MAX)
    return alcm_fail(&w->msg, ALCM_ERR_LIMIT, "too many entries");
  void *p = w->idx.entries;
  size_t cap = w->entries_cap * sizeof(alcm_entry);
  if ((st = alcm_mem_reserve(&w->mem, &p, &cap,
                             ((size_t)w->idx.entry_count + 1) *
                                 sizeof(alcm_entry))))
    return alcm_fail(&w->msg, st, "entry table");
  w->idx.entries = p;
  w->entries_cap = cap / sizeof(alcm_entry);
  alcm_entry *e = &w->idx.entries[w->idx.entry_count];
  memset(e, 0, sizeof *e);
  if (!(e->name = alcm_mem_strndup(&w->mem, name, len)))
    return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "entry '%s'", name);
  e->name_len = len;
  e->kind = kind;
  e->source = w->cur_source;
  e->chunk_size = w->chunk_size;
  w->name_table[pos] = ++w->idx.entry_count;
  *ret = e;
  return ALCM_OK;
}

static alcm_entry *current(alcm_writer *w) {
  return &w->idx.entries[w->idx.entry_count - 1];
}

static alcm_status start_held(alcm_writer *w, const alcm_entry *e);

static void begin_common(alcm_writer *w, uint64_t expected) {
  w->in_entry = true;
  w->holding = false;
  w->entry_original = 0;
  w->expected = expected;
  w->written = 0;
  w->open_slot = false; /* a new entry starts a new chunk */
  w->content_later = false;
  w->bundling = false;
  alcm_hash128_reset(w->content);
}

static alcm_status close_bundle(alcm_writer *w, unsigned dtype);

/* Make e (the current entry, of its dtype's size in bytes) the next member
 * of its dtype's bundle, closing the bundle first if e does not fit. */
static alcm_status join_bundle(alcm_writer *w, alcm_entry *e) {
  bundle *const b = &w->bundles[e->dtype];
  alcm_status st;
  if (b->used + e->raw_size > w->bundle_cap &&
      (st = close_bundle(w, e->dtype)))
    return st;
  if (!b->buf && !(b->buf = alcm_mem_alloc(&w->mem, w->bundle_cap)))
    return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "bundle buffer");
  const uint32_t id = w->idx.entry_count; /* e's index + 1 */
  e->flags |= ALCM_ENTRY_FLAG_BUNDLED;
  e->bundle_offset = b->used;
  b->used += (size_t)e->raw_size;
  if (b->last)
    w->idx.entries[b->last - 1].bundle_next = id;
  else
    b->first = id;
  b->last = id;
  w->bundling = true;
  return ALCM_OK;
}

alcm_status alcm_writer_begin_tensor(alcm_writer *w, const char *name,
                                     int dtype, unsigned ndim,
                                     const uint64_t *shape, unsigned flags) {
  if (!w || !name) return ALCM_ERR_ARGUMENT;
  alcm_status st = usable(w, false, "begin tensor");
  if (st) return st;
  const size_t len = strlen(name);
  if (!alcm_tensor_name_valid((const uint8_t *)name, len))
    return alcm_fail(&w->msg, ALCM_ERR_NAME,
                     "tensor name of %zu bytes: must be 1..%u bytes of UTF-8 "
                     "without control characters",
                     len, ALCM_MAX_NAME);
  if (alcm_dtype_size(dtype) == 0)
    return alcm_fail(&w->msg, ALCM_ERR_DTYPE_UNKNOWN, "tensor '%s': dtype %d",
                     name, dtype);
  if (ndim > ALCM_MAX_NDIM || (ndim && !shape))
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT,
                     "tensor '%s': %u dimensions (at most %u)", name, ndim,
                     ALCM_MAX_NDIM);
  if (flags & ~ALCM_ENTRY_FLAGS_KNOWN)
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT, "tensor '%s': flags 0x%x",
                     name, flags);
  uint64_t bytes;
  if (alcm_shape_bytes((unsigned)dtype, ndim, shape, &bytes))
    return alcm_fail(&w->msg, ALCM_ERR_OVERFLOW,
                     "tensor '%s': shape times element size overflows", name);
  alcm_entry *e;
  if ((st = new_entry(w, name, ALCM_ENTRY_TENSOR, &e))) return st;
  e->dtype = (unsigned)dtype;
  e->ndim = ndim;
  e->flags = flags;
  e->raw_size = bytes;
  if (!(e->shape = alcm_mem_calloc(&w->mem, ndim ? ndim : 1, 8))) {
    w->failed = true;
    return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "tensor '%s'", name);
  }
  if (ndim) memcpy(e->shape, shape, 8u * ndim);
  begin_common(w, bytes);
  if (w->adaptive_mode && (st = start_held(w, e))) return st;
  if (!w->holding && !w->no_bundle && bytes > 0 &&
      bytes <= ALCM_BUNDLE_ENTRY_MAX && bytes <= w->bundle_cap &&
      (st = join_bundle(w, e))) {
    w->failed = true;
    return st;
  }
  return ALCM_OK;
}

alcm_status alcm_writer_begin_blob(alcm_writer *w, const char *name) {
  if (!w || !name) return ALCM_ERR_ARGUMENT;
  alcm_status st = usable(w, false, "begin blob");
  if (st) return st;
  if (!alcm_path_valid((const uint8_t *)name, strlen(name)))
    return alcm_fail(&w->msg, ALCM_ERR_NAME,
                     "blob '%s': not a safe relative path", name);
  alcm_entry *e;
  if ((st = new_entry(w, name, ALCM_ENTRY_BLOB, &e))) return st;
  begin_common(w, UINT64_MAX);
  return ALCM_OK;
}

/* ---- chunk encoding -------------------------------------------------------- */

/* Encode chunk i of a queued batch (ctx); runs on pool thread `worker`
 * and touches only its slot and that thread's scratch. A payload other
 * than the raw bytes is smaller than them (encode.c), so it moves into
 * their place, and the scratch is free for the thread's next chunk. */
static void encode_slot(void *ctx, size_t i, unsigned worker) {
  const batch *const b = ctx;
  const alcm_writer *const w = b->w;
  slot *const s = &b->slots[i];
  if (s->in) {
    s->read_status = alcm_infile_read(s->in, s->in_offset, s->raw,
                                      s->raw_size, &s->read_msg);
    if (s->read_status) return;
    alcm_hash128(s->raw, s->raw_size, s->content);
  }
  for (size_t k = 0; k < s->nreads; k++) {
    bundle_read *const r = &s->reads[k];
    s->read_status = alcm_infile_read(r->in, r->in_offset, s->raw + r->at,
                                      r->size, &s->read_msg);
    if (s->read_status) {
      s->read_failed = k;
      return;
    }
    alcm_hash128(s->raw + r->at, r->size, r->content);
  }
  alcm_encode_chunk(&w->policy, s->dtype, s->raw, s->raw_size,
                    &w->scratch[worker], &s->frame, &s->payload);
  if (s->payload != s->raw) {
    memcpy(s->raw, s->payload, (size_t)s->frame.stored_size);
    s->payload = s->raw;
  }
}

/* The chunk list's capacity is implied by its count: it doubles whenever
 * the count reaches a power of two (from 4), so entries whose chunks are
 * written long after they ended need no capacity of their own. */
static alcm_status add_chunk_ref(alcm_writer *w, alcm_entry *e, uint64_t off,
                                 uint64_t stored) {
  const uint32_t n = e->chunk_count;
  if (n == UINT32_MAX)
    return alcm_fail(&w->msg, ALCM_ERR_LIMIT, "entry '%s': too many chunks",
                     e->name);
  if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
    void *p = e->chunks;
    size_t cap = n < 4 ? 0 : (size_t)n * sizeof(alcm_chunk_ref);
    const size_t want = (n < 4 ? 4 : 2 * (size_t)n) * sizeof(alcm_chunk_ref);
    const alcm_status st = alcm_mem_reserve(&w->mem, &p, &cap, want);
    if (st) return alcm_fail(&w->msg, st, "entry '%s': chunk list", e->name);
    e->chunks = p;
  }
  e->chunks[e->chunk_count].frame_offset = off;
  e->chunks[e->chunk_count].stored_size = stored;
  e->chunk_count++;
  return ALCM_OK;
}

/* Frame header at the offset that puts the payload on the alignment. */
static alcm_status write_frame(alcm_writer *w, const slot *s, uint64_t *off) {
  const uint64_t align = (uint64_t)1 << w->align_log2;
  const uint64_t payload = (w->out.offset + ALCM_FRAME_HEADER_SIZE + align - 1) &
                           ~(align - 1);
  uint8_t hdr[ALCM_FRAME_HEADER_SIZE];
  alcm_status st = ALCM_OK;
  static const uint8_t zeros[256];
  while (st == ALCM_OK && w->out.offset < payload - ALCM_FRAME_HEADER_SIZE) {
    const uint64_t gap = payload - ALCM_FRAME_HEADER_SIZE - w->out.offset;
    st = alcm_outfile_write(&w->out, zeros,
                            gap < sizeof zeros ? (size_t)gap : sizeof zeros,
                            &w->msg);
  }
  if (st) return st;
  *off = w->out.offset;
  alcm_frame_encode(hdr, &s->frame);
  if ((st = alcm_outfile_write(&w->out, hdr, sizeof hdr, &w->msg))) return st;
  return alcm_outfile_write(&w->out, s->payload, (size_t)s->frame.stored_size,
                            &w->msg);
}

/* A frame written earlier with the same encoding and payload bytes holds
 * the same raw bytes (decoding is a function of them): share it. The
 * payload is read back from the file and compared byte-wise, so a hash
 * collision can never merge different chunks. */
static alcm_status find_duplicate(alcm_writer *w, slot *s, bool *found,
                                  uint64_t *off) {
  *found = false;
  if (!w->dedup) return ALCM_OK;
  size_t cursor = 0;
  alcm_frame f;
  while (alcm_dedup_next(w->dedup, s->frame.raw_hash, &cursor, off, &f)) {
    if (f.transform != s->frame.transform || f.codec != s->frame.codec ||
        f.elem_size != s->frame.elem_size ||
        f.raw_size != s->frame.raw_size ||
        f.stored_size != s->frame.stored_size ||
        f.stored_hash != s->frame.stored_hash)
      continue;
    /* The caller's scratch: the pool uses it only in alcm_pool_wait.
     * stored <= raw <= chunk size */
    uint8_t *const back = w->scratch[0].tmp;
    alcm_status st = alcm_outfile_read(&w->out, *off + ALCM_FRAME_HEADER_SIZE,
                                       back, (size_t)f.stored_size, &w->msg);
    if (st) return st;
    if (memcmp(back, s->payload, (size_t)f.stored_size) == 0) {
      *found = true;
      return ALCM_OK;
    }
  }
  return ALCM_OK;
}

static alcm_status emit_slot(alcm_writer *w, alcm_entry *e, slot *s) {
  if (s->read_status) { /* the read's own message, in context */
    const bundle_read *const r = s->nreads ? &s->reads[s->read_failed] : NULL;
    w->msg = s->read_msg;
    alcm_msg_prefix(&w->msg, "entry '%s': %zu bytes at offset %llu",
                    r ? w->idx.entries[r->entry].name : e->name,
                    r ? r->size : s->raw_size,
                    (unsigned long long)(r ? r->in_offset : s->in_offset));
    return s->read_status;
  }
  for (size_t k = 0; k < s->nreads; k++)
    memcpy(w->idx.entries[s->reads[k].entry].content_hash,
           s->reads[k].content, 16);
  alcm_mem_free(&w->mem, s->reads);
  s->reads = NULL;
  s->nreads = 0;
  if (s->in) memcpy(e->content_hash, s->content, sizeof s->content);
  bool dup;
  uint64_t off = 0;
  alcm_status st = find_duplicate(w, s, &dup, &off);
  if (!st && !dup) {
    st = write_frame(w, s, &off);
    if (!st && w->dedup && alcm_dedup_add(w->dedup, &w->mem, off, &s->frame))
      st = alcm_fail(&w->msg, ALCM_ERR_NOMEM, "dedup table");
  }
  if (!st && s->bundle) /* every member names the frame */
    for (uint32_t k = s->entry + 1; k && !st;
         k = w->idx.entries[k - 1].bundle_next)
      st = add_chunk_ref(w, &w->idx.entries[k - 1], off, s->frame.stored_size);
  else if (!st)
    st = add_chunk_ref(w, e, off, s->frame.stored_size);
  return st;
}

/* Write the frames of an encoded batch, in slot order. */
static alcm_status emit_batch(alcm_writer *w, batch *b) {
  const unsigned n = b->used;
  b->used = 0;
  for (unsigned i = 0; i < n; i++) {
    slot *const s = &b->slots[i];
    const alcm_status st = emit_slot(w, &w->idx.entries[s->entry], s);
    if (st) {
      w->failed = true;
      return st;
    }
  }
  return ALCM_OK;
}

/* Once b's chunks are encoded (the caller takes chunks of either batch
 * meanwhile), write its frames; b is then free to fill. */
static alcm_status write_batch(alcm_writer *w, batch *b) {
  if (!b->queued) return ALCM_OK;
  alcm_pool_wait_run(w->pool, b->run);
  b->queued = false;
  return emit_batch(w, b);
}

/* Queue the filling batch on the pool, then write the frames of the
 * oldest: frames still go out in chunk order, and the threads have the
 * newer batches to work on while the oldest one's last chunks finish and
 * its frames are written. (Two batches, the old one waited for before the
 * new one was queued, left a thread idle for up to a chunk per batch:
 * 2 threads packed a 112 MB bf16 file 1.28x faster than one; a ring of
 * three queued ahead: 1.62x; the BF16 corpus 1.34x -> 1.53x.) The oldest
 * batch, written out, is the next to fill. */
static alcm_status flush_batch(alcm_writer *w) {
  batch *const b = &w->batches[w->cur];
  w->open_slot = false;
  if (b->used == 0) return ALCM_OK;
  b->queued = true;
  b->run = alcm_pool_start(w->pool, b->used, encode_slot, b);
  w->cur = (w->cur + 1) % w->ring;
  return write_batch(w, &w->batches[w->cur]);
}

/* Every chunk given so far encoded and its frame written. */
static alcm_status flush_all(alcm_writer *w) {
  alcm_status st = flush_batch(w);
  for (unsigned k = 1; k < w->ring && !st; k++) /* oldest first */
    st = write_batch(w, &w->batches[(w->cur + k) % w->ring]);
  return st;
}

/* A fresh slot behind the current batch's last, with room for a whole
 * chunk (the batch is flushed first when it has no such room or no free
 * slot). */
static alcm_status new_slot(alcm_writer *w, slot **s) {
  batch *b = &w->batches[w->cur];
  size_t at = 0;
  if (b->used) {
    const slot *const last = &b->slots[b->used - 1];
    at = (size_t)(last->raw - b->raw) +
         ((last->raw_size + SLOT_ALIGN - 1) & ~(size_t)(SLOT_ALIGN - 1));
  }
  if (b->used == SLOTS_MAX || at > w->batch_bytes ||
      w->batch_bytes - at < w->chunk_size) {
    const alcm_status st = flush_batch(w);
    if (st) return st;
    b = &w->batches[w->cur];
    at = 0;
  }
  slot *const f = &b->slots[b->used++];
  f->raw = b->raw + at;
  f->raw_size = 0;
  f->in = NULL;
  f->bundle = false;
  f->reads = NULL;
  f->nreads = 0;
  f->read_status = ALCM_OK;
  *s = f;
  return ALCM_OK;
}

/* The slot that takes the next bytes of the current entry: the open one,
 * or a new one. */
static alcm_status slot_for_bytes(alcm_writer *w, slot **s) {
  batch *const b = &w->batches[w->cur];
  if (w->open_slot && b->slots[b->used - 1].raw_size < w->chunk_size) {
    *s = &b->slots[b->used - 1];
    return ALCM_OK;
  }
  const alcm_status st = new_slot(w, s);
  if (st) return st;
  const alcm_entry *e = current(w);
  (*s)->entry = w->idx.entry_count - 1;
  /* Codes of an adaptive entry are plain bytes (identity transform). */
  (*s)->dtype = e->kind == ALCM_ENTRY_TENSOR &&
                        e->encoding == ALCM_ENCODING_LOSSLESS
                    ? e->dtype
                    : 0;
  w->open_slot = true;
  return ALCM_OK;
}

/* The bundle of dtype, if any, into a slot of its own (a frame that its
 * members will all name); the bundle is then empty. Called between
 * entries' bytes (no slot is open). */
static alcm_status close_bundle(alcm_writer *w, unsigned dtype) {
  bundle *const b = &w->bundles[dtype];
  if (!b->used) return ALCM_OK;
  slot *s;
  const alcm_status st = new_slot(w, &s);
  if (st) return st;
  memcpy(s->raw, b->buf, b->used);
  s->raw_size = b->used;
  s->entry = b->first - 1;
  s->dtype = dtype;
  s->bundle = true;
  s->reads = b->reads; /* the task reads them, emit_slot frees them */
  s->nreads = b->nreads;
  b->reads = NULL;
  b->nreads = b->reads_cap = 0;
  b->used = 0;
  b->first = b->last = 0;
  return ALCM_OK;
}

/* Where an entry's next bytes come from: fill copies the next k of them
 * to dst. */
typedef struct {
  alcm_status (*fill)(void *ctx, uint8_t *dst, size_t k);
  void *ctx;
} byte_source;

typedef struct {
  const uint8_t *p;
} mem_source;

static alcm_status fill_from_mem(void *ctx, uint8_t *dst, size_t k) {
  mem_source *const m = ctx;
  memcpy(dst, m->p, k);
  m->p += k;
  return ALCM_OK;
}

typedef struct {
  const alcm_infile *in;
  uint64_t offset;
  alcm_msg *msg;
} file_source;

static alcm_status fill_from_file(void *ctx, uint8_t *dst, size_t k) {
  file_source *const f = ctx;
  const alcm_status st = alcm_infile_read(f->in, f->offset, dst, k, f->msg);
  f->offset += k;
  return st;
}

/* Append n bytes of src to the current entry's chunks (batch slots),
 * hashing them in place. */
static alcm_status put_from(alcm_writer *w, uint64_t n, const byte_source *src) {
  alcm_status st;
  while (n > 0) {
    slot *s;
    if ((st = slot_for_bytes(w, &s))) return st;
    const size_t room = w->chunk_size - s->raw_size;
    const size_t k = n < room ? (size_t)n : room;
    uint8_t *const at = s->raw + s->raw_size;
    if ((st = src->fill(src->ctx, at, k))) return st;
    alcm_hash128_update(w->content, at, k);
    s->raw_size += k;
    w->written += k;
    n -= k;
  }
  return ALCM_OK;
}

static alcm_status put_bytes(alcm_writer *w, const void *data, size_t size) {
  mem_source m = {data};
  const byte_source src = {fill_from_mem, &m};
  return put_from(w, size, &src);
}

/* alcm_writer_write of n bytes from src: checks, then the adaptive hold
 * (the tensor is quantized whole at its end) or the chunks. */
static alcm_status write_from(alcm_writer *w, uint64_t n,
                              const byte_source *src) {
  alcm_status st = usable(w, true, "write");
  if (st) return st;
  alcm_entry *e = current(w);
  if (n > w->expected - w->written)
    return alcm_fail(&w->msg, ALCM_ERR_SIZE,
                     "%s '%s': %llu more bytes after %llu of %llu",
                     e->kind == ALCM_ENTRY_TENSOR ? "tensor" : "blob", e->name,
                     (unsigned long long)n, (unsigned long long)w->written,
                     (unsigned long long)w->expected);
  if (w->bundling) { /* into its place in the bundle (join_bundle) */
    uint8_t *const at = w->bundles[e->dtype].buf + e->bundle_offset +
                        w->written;
    if (n && (st = src->fill(src->ctx, at, (size_t)n))) return st;
    alcm_hash128_update(w->content, at, (size_t)n);
    w->written += n;
    return ALCM_OK;
  }
  if (!w->holding) return put_from(w, n, src);
  if (n && (st = src->fill(src->ctx, w->hold + w->written, (size_t)n)))
    return st;
  w->written += n;
  return ALCM_OK;
}

alcm_status alcm_writer_write(alcm_writer *w, const void *data, size_t size) {
  if (!w || (!data && size)) return ALCM_ERR_ARGUMENT;
  mem_source m = {data};
  const byte_source src = {fill_from_mem, &m};
  return write_from(w, size, &src);
}

/* A whole entry of up to one chunk from the lent file: its slot reads and
 * hashes it in the pool task that encodes it, so the calling thread,
 * which writes the frames, does not read or hash it as well. */
static bool read_later(const alcm_writer *w, const alcm_infile *in,
                       uint64_t n) {
  return in == w->lent && !w->holding && !w->bundling && w->written == 0 &&
         n == w->expected && n > 0 && n <= w->chunk_size;
}

/* A bundled entry given whole from the lent file: the task that encodes
 * its bundle reads it (see bundle_read). */
static alcm_status bundle_later(alcm_writer *w, const alcm_infile *in,
                                uint64_t offset, uint64_t n) {
  const alcm_entry *const e = current(w);
  bundle *const b = &w->bundles[e->dtype];
  if (b->nreads == b->reads_cap) {
    void *p = b->reads;
    size_t cap = b->reads_cap * sizeof *b->reads;
    const alcm_status st = alcm_mem_reserve(
        &w->mem, &p, &cap, (b->reads_cap ? 2 * b->reads_cap : 16) * sizeof *b->reads);
    if (st) return alcm_fail(&w->msg, st, "entry '%s': bundle reads", e->name);
    b->reads = p;
    b->reads_cap = cap / sizeof *b->reads;
  }
  b->reads[b->nreads++] = (bundle_read){in, offset, (size_t)e->bundle_offset,
                                        (size_t)n, w->idx.entry_count - 1, {0}};
  w->written = n;
  w->content_later = true;
  w->lent_pending = true;
  return ALCM_OK;
}

alcm_status alcm_writer_write_from_(alcm_writer *w, const alcm_infile *in,
                                    uint64_t offset, uint64_t n) {
  if (!w || !in) return ALCM_ERR_ARGUMENT;
  const bool ok = usable(w, true, "write") == ALCM_OK;
  if (ok && w->bundling && in == w->lent && w->written == 0 &&
      n == w->expected)
    return bundle_later(w, in, offset, n);
  if (ok && read_later(w, in, n)) {
    slot *s;
    const alcm_status st = slot_for_bytes(w, &s);
    if (st) return st;
    s->in = in;
    s->in_offset = offset;
    s->raw_size = (size_t)n;
    w->written = n;
    w->content_later = true;
    w->lent_pending = true;
    return ALCM_OK;
  }
  file_source f = {in, offset, &w->msg};
  const byte_source src = {fill_from_file, &f};
  return write_from(w, n, &src);
}

void alcm_writer_lend_(alcm_writer *w, const alcm_infile *in) {
  w->lent = in;
  w->lent_pending = false;
}

alcm_status alcm_writer_release_(alcm_writer *w, const alcm_infile *in) {
  if (w->lent != in) return ALCM_OK;
  alcm_status st = ALCM_OK;
  if (w->lent_pending) {
    /* bundles waiting for reads from in go out now, the file's last use */
    for (unsigned d = 1; d < BUNDLE_DTYPES && !w->failed && !st; d++)
      if (w->bundles[d].nreads && (st = close_bundle(w, d))) w->failed = true;
    if (!w->failed && !st) st = flush_all(w);
    alcm_pool_wait(w->pool); /* failed: no task may read any more */
    /* Batches not written (the writer failed) must not read later. */
    for (unsigned k = 0; k < w->ring; k++) {
      batch *const b = &w->batches[k];
      b->queued = false;
      for (unsigned i = 0; i < b->used; i++) {
        if (b->slots[i].in == in) b->slots[i].in = NULL;
        b->slots[i].nreads = 0; /* (their arrays are freed by close) */
      }
    }
    for (unsigned d = 1; d < BUNDLE_DTYPES; d++) w->bundles[d].nreads = 0;
  }
  w->lent = NULL;
  w->lent_pending = false;
  return st;
}

static alcm_status end_held(alcm_writer *w);

alcm_status alcm_writer_end(alcm_writer *w) {
  if (!w) return ALCM_ERR_ARGUMENT;
  alcm_status st = usable(w, true, "end");
  if (st) return st;
  alcm_entry *e = current(w);
  if (w->holding && w->written == w->expected) {
    w->holding = false;
    if ((st = end_held(w))) {
      w->failed = true;
      return st;
    }
  }
  if (e->kind == ALCM_ENTRY_TENSOR && w->written != w->expected) {
    w->failed = true;
    return alcm_fail(&w->msg, ALCM_ERR_SIZE,
                     "tensor '%s': %llu bytes written, shape needs %llu",
                     e->name, (unsigned long long)w->written,
                     (unsigned long long)w->expected);
  }
  /* The entry's last chunk stays in the batch: it is encoded with the
   * next entries' chunks, and written in order at the next flush. */
  w->open_slot = false;
  e->raw_size = w->written;
  if (!w->content_later) alcm_hash128_final(w->content, e->content_hash);
  if (e->encoding == ALCM_ENCODING_LOSSLESS) w->entry_original = e->raw_size;
  if (__builtin_add_overflow(w->original_total, w->entry_original,
                             &w->original_total) ||
      __builtin_add_overflow(w->idx.total_raw, e->raw_size, &w->idx.total_raw)) {
    w->failed = true;
    return alcm_fail(&w->msg, ALCM_ERR_OVERFLOW, "total raw size");
  }
  w->in_entry = false;
  return ALCM_OK;
}

alcm_status alcm_writer_add_tensor(alcm_writer *w, const char *name, int dtype,
                                   unsigned ndim, const uint64_t *shape,
                                   const void *data, size_t size) {
  uint64_t bytes = 0;
  if (w && alcm_dtype_size(dtype) && ndim <= ALCM_MAX_NDIM && (shape || !ndim) &&
      alcm_shape_bytes((unsigned)dtype, ndim, shape, &bytes) == ALCM_OK &&
      bytes != size)
    return alcm_fail(&w->msg, ALCM_ERR_SIZE,
                     "tensor '%s': %zu bytes given, shape needs %llu",
                     name ? name : "", size, (unsigned long long)bytes);
  alcm_status st = alcm_writer_begin_tensor(w, name, dtype, ndim, shape, 0);
  if (!st) st = alcm_writer_write(w, data, size);
  if (!st) st = alcm_writer_end(w);
  return st;
}

/* ---- sources and metadata ------------------------------------------------ */

alcm_status alcm_writer_add_source(alcm_writer *w, int format, const char *path,
                                   const void *restore, size_t restore_size,
                                   uint32_t *id_ret) {
  if (!w || (restore_size && !restore)) return ALCM_ERR_ARGUMENT;
  alcm_status st = usable(w, false, "add source");
  if (st) return st;
  if (format == ALCM_SOURCE_NONE && !path) {
    w->cur_source = ALCM_NO_SOURCE;
    return ALCM_OK;
  }
  const size_t len = path ? strlen(path) : 0;
  if (format < 0 || format > ALCM_SOURCE_MAX)
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT, "source format %d", format);
  if (len > ALCM_MAX_NAME ||
      (len && !alcm_path_valid((const uint8_t *)path, len)))
    return alcm_fail(&w->msg, ALCM_ERR_NAME,
                     "source '%s': not a safe relative path", path);
  if (restore_size > UINT32_MAX)
    return alcm_fail(&w->msg, ALCM_ERR_LIMIT,
                     "source '%s': %zu bytes of restore data", path,
                     restore_size);
  void *p = w->idx.sources;
  size_t cap = w->sources_cap * sizeof(alcm_source);
  if ((st = alcm_mem_reserve(&w->mem, &p, &cap,
                             ((size_t)w->idx.source_count + 1) *
                                 sizeof(alcm_source))))
    return alcm_fail(&w->msg, st, "source table");
  w->idx.sources = p;
  w->sources_cap = cap / sizeof(alcm_source);
  alcm_source *s = &w->idx.sources[w->idx.source_count];
  memset(s, 0, sizeof *s);
  s->path = alcm_mem_strndup(&w->mem, path ? path : "", len);
  s->restore = alcm_mem_alloc(&w->mem, restore_size);
  if (!s->path || !s->restore) {
    alcm_mem_free(&w->mem, s->path);
    alcm_mem_free(&w->mem, s->restore);
    return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "source '%s'", path);
  }
  if (restore_size) memcpy(s->restore, restore, restore_size);
  s->format = (unsigned)format;
  s->path_len = len;
  s->restore_size = restore_size;
  w->cur_source = w->idx.source_count++;
  if (id_ret) *id_ret = w->cur_source;
  return ALCM_OK;
}

static alcm_status check_meta(alcm_writer *w, const char *key, int type,
                              const void *value, size_t size) {
  const size_t klen = strlen(key);
  if (klen == 0 || klen > ALCM_MAX_META_KEY ||
      !alcm_tensor_name_valid((const uint8_t *)key, klen))
    return alcm_fail(&w->msg, ALCM_ERR_NAME,
                     "metadata key of %zu bytes: must be 1..%u bytes of UTF-8",
                     klen, ALCM_MAX_META_KEY);
  if (type < ALCM_META_STRING || type > ALCM_META_F64)
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT, "metadata '%s': type %d", key,
                     type);
  if ((type == ALCM_META_I64 || type == ALCM_META_F64) && size != 8)
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT,
                     "metadata '%s': %zu bytes for a 64-bit value", key, size);
  if (type == ALCM_META_STRING && !alcm_meta_string_valid(value, size))
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT,
                     "metadata '%s': value is not UTF-8 text", key);
  if (size > UINT32_MAX)
    return alcm_fail(&w->msg, ALCM_ERR_LIMIT, "metadata '%s': %zu bytes", key,
                     size);
  return ALCM_OK;
}

/* Setting a key again replaces its value. */
alcm_status alcm_writer_set_meta(alcm_writer *w, const char *key, int type,
                                 const void *value, size_t size) {
  if (!w || !key || (size && !value)) return ALCM_ERR_ARGUMENT;
  alcm_msg_clear(&w->msg);
  if (w->finished || w->failed)
    return alcm_fail(&w->msg, ALCM_ERR_STATE, "set metadata: writer is done");
  alcm_status st = check_meta(w, key, type, value, size);
  if (st) return st;
  uint8_t *copy = alcm_mem_alloc(&w->mem, size);
  if (!copy) return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "metadata '%s'", key);
  if (size) memcpy(copy, value, size);
  alcm_meta *mt = NULL;
  for (uint32_t i = 0; i < w->idx.meta_count && !mt; i++)
    if (strcmp(w->idx.meta[i].key, key) == 0) mt = &w->idx.meta[i];
  if (!mt) {
    void *p = w->idx.meta;
    size_t cap = w->meta_cap * sizeof(alcm_meta);
    if ((st = alcm_mem_reserve(&w->mem, &p, &cap,
                               ((size_t)w->idx.meta_count + 1) *
                                   sizeof(alcm_meta)))) {
      alcm_mem_free(&w->mem, copy);
      return alcm_fail(&w->msg, st, "metadata table");
    }
    w->idx.meta = p;
    w->meta_cap = cap / sizeof(alcm_meta);
    mt = &w->idx.meta[w->idx.meta_count];
    memset(mt, 0, sizeof *mt);
    if (!(mt->key = alcm_mem_strndup(&w->mem, key, strlen(key)))) {
      alcm_mem_free(&w->mem, copy);
      return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "metadata '%s'", key);
    }
    mt->key_len = strlen(key);
    w->idx.meta_count++;
  }
  alcm_mem_free(&w->mem, mt->value);
  mt->value = copy;
  mt->size = size;
  mt->type = (unsigned)type;
  return ALCM_OK;
}

alcm_status alcm_writer_set_meta_string(alcm_writer *w, const char *key,
                                        const char *value) {
  if (!value) return ALCM_ERR_ARGUMENT;
  return alcm_writer_set_meta(w, key, ALCM_META_STRING, value, strlen(value));
}

/* ---- finish / close ------------------------------------------------------- */

static alcm_status set_f64_meta(alcm_writer *w, const char *key, double v) {
  uint8_t b[8];
  uint64_t u;
  memcpy(&u, &v, 8);
  alcm_st64(b, u);
  return alcm_writer_set_meta(w, key, ALCM_META_F64, b, 8);
}

/* spec "Metadata keys": archive figures of an archive with adaptive
 * entries. The ratio is measured up to the index (header and frames),
 * which is known before the index is encoded; the index adds well under
 * 1 % for checkpoints of real size. */
static alcm_status set_adaptive_meta(alcm_writer *w) {
  /* Each adaptive entry's caq over its stored (coded) bytes, known now
   * that every chunk is written (spec "Adaptive entries"). */
  for (size_t i = 0; i < w->idx.entry_count; i++) {
    alcm_entry *const e = &w->idx.entries[i];
    if (e->encoding != ALCM_ENCODING_ADAPTIVE) continue;
    uint64_t stored = 0, original = 0;
    for (uint32_t j = 0; j < e->chunk_count; j++)
      stored += e->chunks[j].stored_size;
    for (uint32_t j = 0; j < e->section_count; j++)
      stored += e->sections[j].stored_size;
    (void)alcm_shape_bytes(e->dtype, e->ndim, e->shape, &original);
    e->adaptive.caq = alcm_caq(stored ? (double)original / (double)stored
                                      : 0.0,
                               e->adaptive.cpu_seconds);
  }
  const double cpu = alcm_cpu_seconds() - w->open_cpu;
  const double ratio = w->out.offset
                           ? (double)w->original_total / (double)w->out.offset
                           : 0.0;
  alcm_status st = set_f64_meta(w, "alcm.cpu_seconds", cpu > 0 ? cpu : 0.0);
  if (!st) st = set_f64_meta(w, "alcm.ratio", ratio);
  if (!st) st = set_f64_meta(w, "alcm.caq", alcm_caq(ratio, cpu > 0 ? cpu : 0.0));
  return st;
}

alcm_status alcm_writer_finish(alcm_writer *w) {
  if (!w) return ALCM_ERR_ARGUMENT;
  alcm_status st = usable(w, false, "finish");
  for (unsigned d = 1; d < BUNDLE_DTYPES && !st; d++)
    if ((st = close_bundle(w, d))) w->failed = true;
  if (!st) st = flush_all(w);
  if (!st && w->any_adaptive) st = set_adaptive_meta(w);
  if (st) return st;
  uint8_t *buf = NULL;
  size_t size = 0;
  alcm_footer ft = {.index_offset = w->out.offset};
  st = alcm_index_encode(&w->idx, !w->plain_index, &w->mem, &buf, &size,
                         &w->msg);
  if (!st) {
    ft.index_size = size;
    ft.index_hash = alcm_hash64(buf, size);
    st = alcm_outfile_write(&w->out, buf, size, &w->msg);
  }
  alcm_mem_free(&w->mem, buf);
  if (!st) {
    uint8_t foot[ALCM_FOOTER_SIZE];
    alcm_footer_encode(foot, &ft);
    st = alcm_outfile_write(&w->out, foot, sizeof foot, &w->msg);
  }
  w->file_size = w->out.offset;
  if (!st) st = alcm_outfile_commit(&w->out, &w->mem, &w->msg);
  if (st) {
    w->failed = true;
    alcm_outfile_abort(&w->out, &w->mem);
    return st;
  }
  w->finished = true;
  return ALCM_OK;
}

void alcm_writer_close(alcm_writer *w) {
  if (!w) return;
  const alcm_mem mem = w->mem;
  alcm_outfile_abort(&w->out, &mem);
  alcm_pool_destroy(w->pool, &mem);
  if (w->content) alcm_hash128_free(&mem, w->content);
  if (w->scratch)
    for (unsigned i = 0; i < w->scratch_count; i++) {
      alcm_mem_free(&mem, w->scratch[i].tmp);
      alcm_mem_free(&mem, w->scratch[i].out);
      alcm_mem_free(&mem, w->scratch[i].out2);
      alcm_zstd_free_ctx(w->scratch[i].zstd);
    }
  alcm_mem_free(&mem, w->scratch);
  alcm_dedup_free(w->dedup, &mem);
  for (unsigned k = 0; k < BATCHES; k++) {
    /* a slot's bundle reads: freed when written, else here */
    for (unsigned i = 0; w->batches[k].slots && i < SLOTS_MAX; i++)
      alcm_mem_free(&mem, w->batches[k].slots[i].reads);
    alcm_mem_free(&mem, w->batches[k].slots);
    alcm_mem_free(&mem, w->batches[k].raw);
  }
  for (unsigned d = 0; d < BUNDLE_DTYPES; d++) {
    alcm_mem_free(&mem, w->bundles[d].buf);
    alcm_mem_free(&mem, w->bundles[d].reads);
  }
  alcm_mem_free(&mem, w->name_table);
  alcm_mem_free(&mem, w->hold);
  if (w->mlp_src) alcm_mlp_free(&w->mlp, &mem);
  alcm_index_free(&w->idx, &mem);
  alcm_mem_free(&mem, w);
}

const char *alcm_writer_message(const alcm_writer *w) {
  return w ? w->msg.text : "no writer";
}

void alcm_writer_totals(const alcm_writer *w, uint64_t *raw_ret,
                        uint64_t *file_ret) {
  if (raw_ret) *raw_ret = w ? w->idx.total_raw : 0;
  if (file_ret) *file_ret = w ? (w->finished ? w->file_size : w->out.offset) : 0;
}

/* ---- adaptive entries (format 1.2/1.3, spec "Adaptive entries",
 *      spec/adaptive.md) ---------------------------------------------- */

void alcm_adaptive_options_init(alcm_adaptive_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->sizeof_options = sizeof *opt;
  opt->min_precision = 4;
  opt->base_precision = 8;
  opt->prune_threshold = 0.01;
  opt->max_drop_ratio = 0.25;
  opt->channel_axis = -1;
  opt->min_elements = 1024;
}

/* Copy the prefix the caller knows; newer fields keep their defaults. */
static alcm_status copy_adaptive_options(alcm_writer *w,
                                         alcm_adaptive_options *dst,
                                         const alcm_adaptive_options *src) {
  alcm_adaptive_options_init(dst);
  if (!src) return ALCM_OK;
  if (!alcm_options_copy(dst, sizeof *dst, src,
                         offsetof(alcm_adaptive_options, bound_value)))
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT,
                     "adaptive options: sizeof_options is %zu",
                     src->sizeof_options);
  const bool bad =
      dst->bound < ALCM_ERROR_BOUND_NONE || dst->bound > ALCM_ERROR_BOUND_SNR ||
      !(isfinite(dst->bound_value)) ||
      (dst->bound != ALCM_ERROR_BOUND_NONE && dst->bound != ALCM_ERROR_BOUND_SNR &&
       !(dst->bound_value > 0)) ||
      dst->min_precision < 1 || dst->base_precision > ALCM_BITS_MAX ||
      dst->min_precision > dst->base_precision ||
      !(dst->prune_threshold >= 0 && dst->prune_threshold <= 1) ||
      !(dst->max_drop_ratio >= 0 && dst->max_drop_ratio <= 1) ||
      dst->channel_axis < ALCM_CHANNEL_AXIS_LAST ||
      dst->channel_axis >= (int)ALCM_MAX_NDIM ||
      dst->bit_map < 0 || dst->bit_map > 2 ||
      (dst->keep_lossless_count && !dst->keep_lossless) ||
      (dst->predictor && !dst->predictor_size) ||
      !(dst->timeout_seconds >= 0);
  if (bad)
    return alcm_fail(&w->msg, ALCM_ERR_ARGUMENT,
                     "adaptive options: bound %d (%g), precision %u..%u, "
                     "prune %g (max %g), axis %d, map %d out of range",
                     dst->bound, dst->bound_value, dst->min_precision,
                     dst->base_precision, dst->prune_threshold,
                     dst->max_drop_ratio, dst->channel_axis, dst->bit_map);
  return ALCM_OK;
}

static alcm_status check_timeout(alcm_writer *w, const alcm_adaptive_options *o,
                                 const char *name) {
  const double t = wall_seconds() - w->open_wall;
  if (o->timeout_seconds > 0 && t > o->timeout_seconds) {
    w->failed = true;
    return alcm_fail(&w->msg, ALCM_ERR_LIMIT,
                     "tensor '%s': timeout of %g s exceeded (%.1f s)", name,
                     o->timeout_seconds, t);
  }
  return ALCM_OK;
}

/* Why the tensor stays lossless, or "" if it may be quantized. */
static void why_lossless(const alcm_entry *e, uint64_t numel,
                         const alcm_adaptive_options *o, char *why,
                         size_t cap) {
  why[0] = '\0';
  if (!alcm_adaptive_dtype_ok(e->dtype))
    snprintf(why, cap, "dtype %s is not F16, BF16, F32 or F64",
             alcm_dtype_name((int)e->dtype));
  else if (e->flags)
    snprintf(why, cap, "big-endian or Fortran-order data");
  else if (numel < o->min_elements)
    snprintf(why, cap, "%llu elements (fewer than %llu)",
             (unsigned long long)numel, (unsigned long long)o->min_elements);
  else if (e->ndim < 2 && !o->allow_1d)
    snprintf(why, cap, "%u-D tensor (bias or norm)", e->ndim);
  else if (o->channel_axis >= (int)e->ndim)
    snprintf(why, cap, "channel axis %d of a %u-D tensor", o->channel_axis,
             e->ndim);
  for (size_t i = 0; !why[0] && i < o->keep_lossless_count; i++)
    if (o->keep_lossless[i] && fnmatch(o->keep_lossless[i], e->name, 0) == 0)
      snprintf(why, cap, "name matches '%s'", o->keep_lossless[i]);
}

/* The predictor of o (the built-in one by default), loaded once. */
static alcm_status get_predictor(alcm_writer *w, const alcm_adaptive_options *o,
                                 const alcm_mlp **ret) {
  const void *src = o->predictor ? o->predictor : alcm_predictor_v1_bin;
  const size_t n = o->predictor ? o->predictor_size
                                : sizeof alcm_predictor_v1_bin;
  if (w->mlp_src != src) {
    if (w->mlp_src) alcm_mlp_free(&w->mlp, &w->mem);
    w->mlp_src = NULL;
    alcm_status st = alcm_mlp_load(&w->mlp, &w->mem, src, n, &w->msg);
    if (st) {
      alcm_msg_prefix(&w->msg, "%s predictor",
                      o->predictor ? "adaptive options:" : "built-in");
      return st;
    }
    w->mlp_src = src;
  }
  *ret = &w->mlp;
  return ALCM_OK;
}

/* One section frame (kind 2, identity): rans when it is smaller, else
 * stored. Appends its ref to e. Chunks given before it are written first,
 * so the frame order does not depend on batching (thread count). */
static alcm_status write_section(alcm_writer *w, alcm_entry *e, unsigned type,
                                 const void *data, size_t n,
                                 uint64_t *stored_total) {
  alcm_status fst = flush_all(w);
  if (fst) return fst;
  const alcm_codec *const rans = &alcm_codec_rans;
  const size_t cap = rans->bound(n);
  uint8_t *buf = alcm_mem_alloc(&w->mem, cap);
  if (!buf)
    return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "tensor '%s': section %u",
                     e->name, type);
  const size_t c = rans->compress(buf, cap, data, n, rans->level_default);
  slot s;
  memset(&s, 0, sizeof s);
  const bool packed = c > 0 && c < n;
  s.payload = packed ? buf : data;
  s.frame = (alcm_frame){.kind = ALCM_FRAME_KIND_SECTION,
                         .transform = ALCM_TRANSFORM_IDENTITY,
                         .codec = packed ? ALCM_CODEC_ID_RANS : ALCM_CODEC_ID_STORE,
                         .elem_size = 1,
                         .section_type = type,
                         .raw_size = n,
                         .stored_size = packed ? c : n,
                         .raw_hash = alcm_hash64(data, n),
                         .stored_hash = alcm_hash64(s.payload, packed ? c : n)};
  uint64_t off = 0;
  const alcm_status st = write_frame(w, &s, &off);
  alcm_mem_free(&w->mem, buf);
  if (st) return st;
  alcm_section_ref *r = &e->sections[e->section_count++];
  r->type = type;
  r->frame_offset = off;
  r->stored_size = s.frame.stored_size;
  *stored_total += s.frame.stored_size;
  return ALCM_OK;
}

static alcm_status write_sections(alcm_writer *w, alcm_entry *e,
                                  const alcm_adaptive_result *res,
                                  bool informative, uint64_t *stored) {
  const size_t c = res->channels;
  if (!(e->sections = alcm_mem_calloc(&w->mem, ALCM_SECTION_MAX,
                                      sizeof *e->sections)))
    return alcm_fail(&w->msg, ALCM_ERR_NOMEM, "tensor '%s': sections",
                     e->name);
  /* f32 arrays: the library only runs on little-endian hosts (wire order).
   * The informative sections only on request (spec/adaptive.md). */
  alcm_status st = ALCM_OK;
  if (informative)
    st = write_section(w, e, ALCM_SECTION_ENTROPY_MAP, res->entropy_map,
                       4 * c, stored);
  if (!st)
    st = write_section(w, e, ALCM_SECTION_SCALES, res->scales, 4 * c, stored);
  if (!st)
    st = write_section(w, e, ALCM_SECTION_BIT_WIDTHS, res->bits, c, stored);
  if (!st && res->mask)
    st = write_section(w, e, ALCM_SECTION_PRUNING_MASK, res->mask,
                       res->mask_size, stored);
  if (!st && informative)
    st = write_section(w, e, ALCM_SECTION_STATISTICS, res->stats, 24 * c,
                       stored);
  return st;
}

static void params_from(const alcm_adaptive_options *o, const alcm_entry *e,
                        const alcm_mlp *mlp, alcm_adaptive_params *p) {
  alcm_adaptive_params_init(p);
  p->map = (alcm_map_source)o->bit_map;
  p->predictor = mlp;
  if (mlp) {
    p->map_lo = mlp->lo;
    p->map_hi = mlp->hi;
  }
  p->min_precision = o->min_precision;
  p->base_precision = o->base_precision;
  p->prune_fraction = o->prune_threshold;
  p->max_drop_ratio = o->max_drop_ratio;
  p->bound = (alcm_bound_kind)o->bound;
  p->bound_value = o->bound_value;
  p->channel_axis = o->channel_axis == ALCM_CHANNEL_AXIS_LAST
                        ? (e->ndim ? e->ndim - 1 : 0u)
                    : o->channel_axis < 0 ? 0u
                                          : (unsigned)o->channel_axis;
}

/* The quantized entry: codes as its chunks, then sections and block. */
static alcm_status store_adaptive(alcm_writer *w, alcm_entry *e,
                                  const alcm_adaptive_result *res,
                                  const alcm_adaptive_options *o,
                                  uint64_t original, double cpu0,
                                  alcm_adaptive_report *rep) {
  e->encoding = ALCM_ENCODING_ADAPTIVE;
  w->expected = res->code_size;
  alcm_status st = put_bytes(w, res->codes, res->code_size);
  uint64_t sec = 0;
  if (!st)
    st = write_sections(w, e, res, o->informative_sections != 0, &sec);
  if (st) return st;
  const double cpu = alcm_cpu_seconds() - cpu0;
  const double stored = (double)res->code_size + (double)sec;
  rep->adaptive = 1;
  rep->code_size = res->code_size;
  rep->section_size = sec;
  rep->channel_axis = res->channel_axis;
  rep->channels = res->channels;
  rep->bits_per_weight = res->numel ? 8.0 * (double)res->code_size /
                                          (double)res->numel
                                    : 0.0;
  rep->max_abs_err = res->max_abs_err;
  rep->rmse = res->rmse;
  rep->snr_db = res->snr_db;
  rep->pruned = res->pruned;
  rep->cpu_seconds = cpu > 0 ? cpu : 0.0;
  rep->ratio = stored > 0 ? (double)original / stored : 0.0;
  rep->caq = alcm_caq(rep->ratio, rep->cpu_seconds);
  alcm_adaptive_block *a = &e->adaptive;
  a->channel_axis = res->channel_axis;
  a->code_layout = ALCM_CODE_LAYOUT_BYTES;
  a->channel_count = res->channels;
  a->max_abs_err = res->max_abs_err;
  a->rmse = res->rmse;
  a->snr_db = res->snr_db;
  a->pruned = res->pruned;
  a->cpu_seconds = rep->cpu_seconds;
  a->caq = rep->caq;
  w->any_adaptive = true;
  return ALCM_OK;
}

/* The current tensor entry (begun, nothing written) from its whole data:
 * quantized, or lossless with the reason in rep. */
static alcm_status adaptive_entry(alcm_writer *w, const uint8_t *data,
                                  size_t size, const alcm_adaptive_options *o,
                                  alcm_adaptive_report *rep) {
  alcm_entry *e = current(w);
  memset(rep, 0, sizeof *rep);
  rep->original_size = size;
  w->entry_original = size;
  const size_t es = alcm_dtype_size((int)e->dtype);
  const uint64_t numel = es ? size / es : 0;
  why_lossless(e, numel, o, rep->reason, sizeof rep->reason);
  alcm_status st = ALCM_OK;
  if (!rep->reason[0]) {
    const alcm_mlp *mlp = NULL;
    if (o->bit_map == ALCM_MAP_PREDICTOR && (st = get_predictor(w, o, &mlp)))
      return st;
    alcm_adaptive_params p;
    params_from(o, e, mlp, &p);
    const double cpu0 = alcm_cpu_seconds();
    alcm_adaptive_result res;
    memset(&res, 0, sizeof res);
    alcm_msg m;
    alcm_msg_clear(&m);
    st = alcm_adaptive_encode(&p, e->dtype, e->ndim, e->shape, data, size,
                              &w->mem, &res, &m);
    if (st == ALCM_OK && (uint64_t)res.code_size > 2 * numel) /* <= 16 bits */
      st = alcm_fail(&m, ALCM_ERR_UNSUPPORTED, "%zu code bytes",
                     res.code_size);
    if (st == ALCM_OK)
      st = store_adaptive(w, e, &res, o, size, cpu0, rep);
    alcm_adaptive_result_free(&res, &w->mem);
    if (st == ALCM_OK) return ALCM_OK;
    if (st != ALCM_ERR_UNSUPPORTED) {
      if (st != ALCM_OK && m.text[0])
        return alcm_fail(&w->msg, st, "tensor '%s': %s", e->name, m.text);
      return st;
    }
    /* The encoder's message, cut to fit (it names the element). */
    const size_t len = strnlen(m.text, sizeof rep->reason - 1);
    memcpy(rep->reason, m.text, len);
    rep->reason[len] = '\0';
  }
  return put_bytes(w, data, size);
}

static alcm_status start_held(alcm_writer *w, const alcm_entry *e) {
  alcm_status st = check_timeout(w, &w->aopt, e->name);
  if (st) return st;
  uint64_t numel = 1;
  for (unsigned k = 0; k < e->ndim; k++) numel *= e->shape[k]; /* checked */
  char why[160];
  why_lossless(e, numel, &w->aopt, why, sizeof why);
  if (why[0]) {
    if (w->aopt.on_tensor) {
      alcm_adaptive_report rep;
      memset(&rep, 0, sizeof rep);
      rep.original_size = e->raw_size;
      memcpy(rep.reason, why, sizeof why);
      w->aopt.on_tensor(w->aopt.opaque, e->name, &rep);
    }
    return ALCM_OK;
  }
  if (e->raw_size > SIZE_MAX) {
    w->failed = true;
    return alcm_fail(&w->msg, ALCM_ERR_LIMIT, "tensor '%s': %llu bytes",
                     e->name, (unsigned long long)e->raw_size);
  }
  void *p = w->hold;
  if ((st = alcm_mem_reserve(&w->mem, &p, &w->hold_cap, (size_t)e->raw_size))) {
    w->failed = true;
    return alcm_fail(&w->msg, st, "tensor '%s': %llu bytes to quantize",
                     e->name, (unsigned long long)e->raw_size);
  }
  w->hold = p;
  w->holding = true;
  return ALCM_OK;
}

static alcm_status end_held(alcm_writer *w) {
  const alcm_entry *e = current(w);
  const size_t n = (size_t)w->written;
  w->written = 0;
  alcm_adaptive_report rep;
  alcm_status st = adaptive_entry(w, w->hold, n, &w->aopt, &rep);
  if (!st) st = check_timeout(w, &w->aopt, e->name);
  if (!st && w->aopt.on_tensor) w->aopt.on_tensor(w->aopt.opaque, e->name, &rep);
  return st;
}

alcm_status alcm_writer_add_tensor_adaptive(
    alcm_writer *w, const char *name, int dtype, unsigned ndim,
    const uint64_t *shape, const void *data, size_t size,
    const alcm_adaptive_options *opt, alcm_adaptive_report *report_ret) {
  if (!w || (!data && size)) return ALCM_ERR_ARGUMENT;
  alcm_adaptive_options o;
  alcm_status st = copy_adaptive_options(w, &o, opt);
  if (st) return st;
  uint64_t bytes = 0;
  if (alcm_dtype_size(dtype) && ndim <= ALCM_MAX_NDIM && (shape || !ndim) &&
      alcm_shape_bytes((unsigned)dtype, ndim, shape, &bytes) == ALCM_OK &&
      bytes != size)
    return alcm_fail(&w->msg, ALCM_ERR_SIZE,
                     "tensor '%s': %zu bytes given, shape needs %llu",
                     name ? name : "", size, (unsigned long long)bytes);
  /* Not through the writer mode: this call quantizes by itself (and
   * writes the entry's own frames). */
  const bool mode = w->adaptive_mode, no_bundle = w->no_bundle;
  w->adaptive_mode = false;
  w->no_bundle = true;
  st = alcm_writer_begin_tensor(w, name, dtype, ndim, shape, 0);
  w->adaptive_mode = mode;
  w->no_bundle = no_bundle;
  if (st) return st;
  alcm_adaptive_report rep;
  st = adaptive_entry(w, data, size, &o, &rep);
  if (st) {
    w->failed = true;
    return st;
  }
  if ((st = alcm_writer_end(w))) return st;
  if (report_ret) *report_ret = rep;
  return ALCM_OK;
}

alcm_status alcm_writer_set_adaptive(alcm_writer *w,
                                     const alcm_adaptive_options *opt) {
  if (!w) return ALCM_ERR_ARGUMENT;
  alcm_msg_clear(&w->msg);
  if (w->in_entry)
    return alcm_fail(&w->msg, ALCM_ERR_STATE,
                     "set adaptive: an entry is being written");
  if (!opt) {
    w->adaptive_mode = false;
    return ALCM_OK;
  }
  alcm_adaptive_options o;
  alcm_status st = copy_adaptive_options(w, &o, opt);
  if (st) return st;
  w->aopt = o;
  w->adaptive_mode = true;
  return ALCM_OK;
}

alcm_status alcm_writer_use_config(alcm_writer *w, const char *name,
                                   const void *yaml, size_t size,
                                   alcm_adaptive_options *opt) {
  if (!w || !opt || (!yaml && size)) return ALCM_ERR_ARGUMENT;
  alcm_msg_clear(&w->msg);
  alcm_encoder_config c;
  alcm_encoder_config_default(&c);
  alcm_status st = alcm_encoder_config_parse(&c, name ? name : "config",
                                             yaml, size, &w->msg);
  if (st) return st;
  opt->min_precision = c.min_precision;
  opt->base_precision = c.base_precision;
  opt->prune_threshold = c.threshold_init;
  opt->max_drop_ratio = c.max_drop_ratio;
  opt->timeout_seconds = c.timeout_seconds;
  return alcm_writer_set_meta(w, "alcm.config", ALCM_META_STRING, yaml, size);
}

alcm_status alcm_writer_scheduler(alcm_writer *w, const void *prev_state,
                                  size_t prev_size, double prev_caq,
                                  alcm_adaptive_options *opt) {
  if (!w || !opt || (!prev_state && prev_size)) return ALCM_ERR_ARGUMENT;
  alcm_msg_clear(&w->msg);
  alcm_sched s;
  alcm_status st;
  if (prev_state) {
    if ((st = alcm_sched_load(&s, prev_state, prev_size, &w->msg))) {
      alcm_msg_prefix(&w->msg, "previous scheduler state");
      return st;
    }
    alcm_sched_step(&s, prev_caq);
  } else {
    alcm_entropy_config ec;
    alcm_entropy_config_default(&ec);
    if ((st = alcm_sched_init(&s, opt->prune_threshold, ec.decay, ec.window,
                              opt->max_drop_ratio, &w->msg)))
      return st;
  }
  opt->prune_threshold = s.threshold;
  uint8_t state[ALCM_SCHED_STATE_SIZE];
  alcm_sched_save(&s, state);
  return alcm_writer_set_meta(w, "alcm.scheduler", ALCM_META_BYTES, state,
                              sizeof state);
}
