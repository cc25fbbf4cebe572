/*
 * codec_rans.c - codec 3 "rans": blocked order-0 rANS with 8 interleaved
 * 32-bit states and 16-bit renormalization (spec "Codecs", "rans
 * payload"; format 1.1).
 *
 * The payload is a sequence of blocks that cover the input in order.
 * Each block is RAW (bytes copied), CONSTANT (one byte repeated) or RANS
 * (a frequency table normalized to 2^12, then one rANS stream). Blocks
 * are coded independently, so the statistics adapt every block and a
 * bad block never makes the decoder read outside its own bytes.
 *
 * The coder follows Fabian Giesen's rans_byte.h / rans_word_sse41.h
 * (ryg_rans, public domain): state x in [L, 2^31) with L = 2^15, 16-bit
 * words, encoder division replaced by a reciprocal multiply (Alverson),
 * decoder one table lookup per symbol. Symbol i of a block belongs to
 * lane i mod 8; the lanes share one word stream, which the encoder
 * writes backwards and the decoder reads forwards. Eight independent
 * lanes hide the multiply and load latencies; the renormalization is
 * branch-free because at ~2.6 bits per symbol it is taken about one
 * time in six, which a branch predictor cannot learn.
 *
 * Thread-safe: no state outside the call; tables live on the stack
 * (about 20 KiB).
 */
#include "internal.h"


#define SCALE_BITS 12u
#define SCALE (1u << SCALE_BITS) /* frequencies sum to this */
#define STATE_L (1u << 15)       /* states live in [STATE_L, 2^31) */
#define LANES 8u
#define STATES_SIZE (4u * LANES) /* the 8 initial decoder states */

/* Block header: u32, bits 0-1 mode, bits 2-7 zero, bits 8-31 length-1. */
#define BLOCK_HEADER_SIZE 4u
#define MODE_RAW 0u
#define MODE_CONST 1u
#define MODE_RANS 2u
#define BLOCK_LEN_MAX (1u << 24)

/* Level picks the block size: 2^(16 + level) bytes. 64 KiB (level 0) keeps
 * table and state overhead near 0.3 % on exponent planes while still
 * following changes of statistics inside a 1 MiB chunk; larger blocks
 * trade adaptivity for overhead. */
#define LEVEL_MIN 0
#define LEVEL_MAX 2
#define BLOCK_LOG2_BASE 16u

/* A block is entropy-coded only when the estimate saves more than
 * len >> GAIN_SHIFT bytes (1/256, i.e. ~0.03 bit per byte): below that,
 * decoding at memcpy speed is worth more than the bytes. */
#define GAIN_SHIFT 8u

_Static_assert(((size_t)1 << (BLOCK_LOG2_BASE + LEVEL_MAX)) <= BLOCK_LEN_MAX,
               "block length must fit the header's 24 bits");

static size_t block_size(int level) {
  return (size_t)1 << (BLOCK_LOG2_BASE + (unsigned)level);
}

/* ---- shared ----------------------------------------------------------- */

/* Byte histogram with four sub-tables: consecutive equal bytes (common in
 * exponent planes) then hit different counters and do not serialize on
 * one store-to-load chain. */
static void histogram(const uint8_t *src, size_t n, uint32_t count[256]) {
  uint32_t c[4][256];
  memset(c, 0, sizeof c);
  size_t i = 0;
  for (; n - i >= 8; i += 8) {
    const uint32_t a = alcm_le32(src + i), b = alcm_le32(src + i + 4);
    c[0][a & 0xFF]++;
    c[1][(a >> 8) & 0xFF]++;
    c[2][(a >> 16) & 0xFF]++;
    c[3][a >> 24]++;
    c[0][b & 0xFF]++;
    c[1][(b >> 8) & 0xFF]++;
    c[2][(b >> 16) & 0xFF]++;
    c[3][b >> 24]++;
  }
  for (; i < n; i++) c[0][src[i]]++;
  for (unsigned s = 0; s < 256; s++)
    count[s] = c[0][s] + c[1][s] + c[2][s] + c[3][s];
}

/* ---- encoder ---------------------------------------------------------- */

/* log2(f) in 1/256 bit for 1 <= f <= SCALE, by repeated squaring of the
 * mantissa. Integer-only so every host makes the same RAW/RANS choice. */
static uint32_t log2_fix8(uint32_t f) {
  uint32_t k = 0;
  while (f >> (k + 1)) k++;
  uint32_t m = f << (15 - k); /* 1.15 fixed point in [1, 2) */
  uint32_t r = k << 8;
  for (uint32_t bit = 128; bit; bit >>= 1) {
    m = (m * m) >> 15;
    if (m >= (1u << 16)) {
      m >>= 1;
      r += bit;
    }
  }
  return r;
}

/* Scale counts (>= 2 distinct symbols, n = their sum) to frequencies that
 * sum to SCALE, every used symbol >= 1 and <= SCALE - 1. Rounded shares
 * first; the rounding error goes to the most frequent symbol, where it
 * costs least, unless that would take half of it, in which case every
 * symbol above 1 gives up one unit per pass (rare: only many tiny
 * symbols beside no dominant one). Deterministic. */
static void normalize(const uint32_t count[256], uint32_t n,
                      uint32_t freq[256]) {
  uint32_t sum = 0;
  unsigned big = 0;
  for (unsigned s = 0; s < 256; s++) {
    uint32_t f = 0;
    if (count[s]) {
      f = (uint32_t)(((uint64_t)count[s] * SCALE + n / 2) / n);
      if (f == 0) f = 1;
      if (f > SCALE - 1) f = SCALE - 1;
    }
    freq[s] = f;
    sum += f;
    if (count[s] > count[big]) big = s;
  }
  if (sum <= SCALE) { /* big + others == sum, others >= 1: stays < SCALE */
    freq[big] += SCALE - sum;
    return;
  }
  uint32_t excess = sum - SCALE;
  if (excess < freq[big] / 2) {
    freq[big] -= excess;
    return;
  }
  while (excess) /* terminates: sum of (freq - 1) >= SCALE - 256 > 0 */
    for (unsigned s = 0; s < 256 && excess; s++)
      if (freq[s] > 1) {
        freq[s]--;
        excess--;
      }
}

/* Table: u8 first, u8 last symbol used, then for each symbol in
 * first..last its frequency as a 1- or 2-byte LEB128 varint (0 = absent).
 * Returns its size, writing it only if it fits in cap. */
static size_t table_write(uint8_t *dst, size_t cap, const uint32_t freq[256],
                          unsigned first, unsigned last) {
  size_t k = 2;
  for (unsigned s = first; s <= last; s++) k += freq[s] >= 0x80 ? 2 : 1;
  if (k > cap) return k;
  dst[0] = (uint8_t)first;
  dst[1] = (uint8_t)last;
  uint8_t *p = dst + 2;
  for (unsigned s = first; s <= last; s++) {
    const uint32_t f = freq[s];
    if (f >= 0x80) {
      *p++ = (uint8_t)(0x80 | (f & 0x7F));
      *p++ = (uint8_t)(f >> 7);
    } else {
      *p++ = (uint8_t)f;
    }
  }
  return k;
}

typedef struct {
  uint32_t x_max; /* renormalize (emit a word) when x >= x_max */
  uint32_t rcp;   /* reciprocal of freq, see enc_init */
  uint32_t bias;
  uint16_t cmpl; /* SCALE - freq */
  uint16_t shift;
} enc_sym;

/* ryg_rans RansEncSymbolInit: q = mulhi(x, rcp) >> shift equals x / freq
 * for x < 2^31, and x + bias + q * cmpl equals
 * (x / freq) * SCALE + x % freq + start. freq 1 cannot use a reciprocal
 * below 1, so it takes rcp = 2^32 - 1 (q = x - 1) and a bias to match. */
static void enc_init(enc_sym *e, uint32_t start, uint32_t freq) {
  e->x_max = ((STATE_L >> SCALE_BITS) << 16) * freq;
  e->cmpl = (uint16_t)(SCALE - freq);
  if (freq < 2) {
    e->rcp = ~0u;
    e->shift = 0;
    e->bias = start + SCALE - 1;
  } else {
    uint32_t shift = 0;
    while (freq > (1u << shift)) shift++;
    e->rcp = (uint32_t)(((1ull << (shift + 31)) + freq - 1) / freq);
    e->shift = (uint16_t)(shift - 1);
    e->bias = start;
  }
}

/* One symbol into lane state x: flush the low word if x would leave
 * [L, 2^31) (stored unconditionally below p, kept only when needed, so
 * no branch), then x = C(s, x). Needs 2 writable bytes below p. */
#define ENC(x, c)                                                         \
  do {                                                                    \
    const enc_sym *const e_ = &tab[(c)];                                  \
    const uint32_t f_ = (x) >= e_->x_max;                                 \
    alcm_st16(p - 2, (uint16_t)(x));                                      \
    p -= 2 * f_;                                                          \
    (x) >>= 16 * f_;                                                      \
    const uint32_t q_ =                                                   \
        (uint32_t)(((uint64_t)(x) * e_->rcp) >> 32) >> e_->shift;         \
    (x) += e_->bias + q_ * e_->cmpl;                                      \
  } while (0)

/* Encode src[0..n) backwards into [lo, hi); returns the stream start or
 * NULL when it does not fit. Stream = 8 states (lane 0 first) + words.
 * The lane states are eight named locals, never an array, so that gcc
 * keeps them in registers instead of packing them into vectors. */
static uint8_t *rans_encode(uint8_t *lo, uint8_t *hi, const uint8_t *src,
                            size_t n, const enc_sym tab[256]) {
  uint8_t *p = hi;
  uint32_t x0 = STATE_L, x1 = STATE_L, x2 = STATE_L, x3 = STATE_L,
           x4 = STATE_L, x5 = STATE_L, x6 = STATE_L, x7 = STATE_L;
  const size_t whole = n & ~(size_t)(LANES - 1);
  const uint8_t *const t = src + whole; /* the 0..7 last symbols */
  if ((size_t)(p - lo) < 2 * LANES) return NULL;
  if (n - whole > 6) ENC(x6, t[6]);
  if (n - whole > 5) ENC(x5, t[5]);
  if (n - whole > 4) ENC(x4, t[4]);
  if (n - whole > 3) ENC(x3, t[3]);
  if (n - whole > 2) ENC(x2, t[2]);
  if (n - whole > 1) ENC(x1, t[1]);
  if (n - whole > 0) ENC(x0, t[0]);
  for (size_t i = whole; i > 0; i -= LANES) {
    if ((size_t)(p - lo) < 2 * LANES) return NULL; /* 8 words at most */
    const uint8_t *const s = src + i - LANES;
    ENC(x7, s[7]);
    ENC(x6, s[6]);
    ENC(x5, s[5]);
    ENC(x4, s[4]);
    ENC(x3, s[3]);
    ENC(x2, s[2]);
    ENC(x1, s[1]);
    ENC(x0, s[0]);
  }
  if ((size_t)(p - lo) < STATES_SIZE) return NULL;
  p -= STATES_SIZE;
  alcm_st32(p, x0);
  alcm_st32(p + 4, x1);
  alcm_st32(p + 8, x2);
  alcm_st32(p + 12, x3);
  alcm_st32(p + 16, x4);
  alcm_st32(p + 20, x5);
  alcm_st32(p + 24, x6);
  alcm_st32(p + 28, x7);
  return p;
}

static size_t put_header(uint8_t *dst, unsigned mode, size_t len) {
  alcm_st32(dst, (uint32_t)mode | ((uint32_t)(len - 1) << 8));
  return BLOCK_HEADER_SIZE;
}

static size_t raw_block(uint8_t *dst, size_t cap, const uint8_t *src,
                        size_t len) {
  if (cap < BLOCK_HEADER_SIZE || cap - BLOCK_HEADER_SIZE < len) return 0;
  put_header(dst, MODE_RAW, len);
  memcpy(dst + BLOCK_HEADER_SIZE, src, len);
  return BLOCK_HEADER_SIZE + len;
}

/* Estimated RANS block size: exact header, table and stream length
 * field, plus sum count * log2(SCALE / freq) bits and the states. */
static uint64_t rans_estimate(const uint32_t count[256],
                              const uint32_t freq[256], size_t table) {
  uint64_t bits256 = 0; /* in 1/256 bit */
  for (unsigned s = 0; s < 256; s++)
    if (count[s])
      bits256 += (uint64_t)count[s] * ((SCALE_BITS << 8) - log2_fix8(freq[s]));
  return BLOCK_HEADER_SIZE + table + 4 + STATES_SIZE + (bits256 >> 11) + 2;
}

/* Code one block of 1..BLOCK_LEN_MAX bytes; 0 if it does not fit cap. */
static size_t encode_block(uint8_t *dst, size_t cap, const uint8_t *src,
                           size_t len) {
  uint32_t count[256], freq[256];
  histogram(src, len, count);
  unsigned first = 256, last = 0, used = 0;
  for (unsigned s = 0; s < 256; s++)
    if (count[s]) {
      if (first == 256) first = s;
      last = s;
      used++;
    }
  if (used == 1) {
    if (cap < BLOCK_HEADER_SIZE + 1) return 0;
    put_header(dst, MODE_CONST, len);
    dst[BLOCK_HEADER_SIZE] = (uint8_t)first;
    return BLOCK_HEADER_SIZE + 1;
  }
  const size_t raw_total = BLOCK_HEADER_SIZE + len;
  normalize(count, (uint32_t)len, freq);
  const size_t table = table_write(NULL, 0, freq, first, last);
  if (rans_estimate(count, freq, table) + (len >> GAIN_SHIFT) >= raw_total)
    return raw_block(dst, cap, src, len);

  /* Worth trying: table, then the stream coded backwards into the space
   * a RAW block would take, then moved down behind the table. */
  const size_t head = BLOCK_HEADER_SIZE + table + 4;
  const size_t hi = cap < raw_total ? cap : raw_total;
  if (hi <= head) return raw_block(dst, cap, src, len);
  enc_sym tab[256];
  for (unsigned s = 0, start = 0; s < 256; s++)
    if (freq[s]) {
      enc_init(&tab[s], start, freq[s]);
      start += freq[s];
    }
  uint8_t *const p = rans_encode(dst + head, dst + hi, src, len, tab);
  if (!p) return raw_block(dst, cap, src, len);
  const size_t stream = (size_t)(dst + hi - p);
  if (head + stream >= raw_total) return raw_block(dst, cap, src, len);
  put_header(dst, MODE_RANS, len);
  table_write(dst + BLOCK_HEADER_SIZE, table, freq, first, last);
  alcm_st32(dst + head - 4, (uint32_t)stream);
  memmove(dst + head, p, stream);
  return head + stream;
}

static size_t rans_bound(size_t src_size) {
  const size_t blocks = src_size / block_size(LEVEL_MIN) + 1;
  const size_t extra = blocks * BLOCK_HEADER_SIZE;
  return src_size > SIZE_MAX - extra ? 0 : src_size + extra;
}

/* Returns 0 for an empty input (nothing to store), a bad level, or when
 * the payload does not fit dst_capacity; the caller then stores raw. */
static size_t rans_compress(void *dst, size_t dst_capacity, const void *src,
                            size_t src_size, int level) {
  if (level < LEVEL_MIN || level > LEVEL_MAX || src_size == 0) return 0;
  uint8_t *const d = dst;
  const uint8_t *const s = src;
  const size_t bs = block_size(level);
  size_t out = 0;
  for (size_t pos = 0; pos < src_size;) {
    const size_t len = src_size - pos < bs ? src_size - pos : bs;
    const size_t k = encode_block(d + out, dst_capacity - out, s + pos, len);
    if (k == 0) return 0;
    out += k;
    pos += len;
  }
  return out;
}

/* ---- decoder (spec "rans payload", "Compliance") --------------------- */

/* Parse a table at *p (< end). Frequencies must be in 0..SCALE-1, varints
 * minimal, first and last used, the sum exactly SCALE. Fills the decode
 * table: slot -> symbol | (slot - start) << 8 | freq << 20, so that every
 * slot belongs to exactly one used symbol. 0 on success. */
static int table_read(const uint8_t **pp, const uint8_t *end,
                      uint32_t dtab[SCALE]) {
  const uint8_t *p = *pp;
  if (end - p < 2) return 1;
  const unsigned first = p[0], last = p[1];
  p += 2;
  if (last <= first) return 1; /* at least two symbols */
  uint32_t freq[256], sum = 0;
  for (unsigned s = first; s <= last; s++) {
    if (p == end) return 1;
    uint32_t f = *p++;
    if (f & 0x80) {
      if (p == end || *p == 0 || *p >= 0x80) return 1;
      f = (f & 0x7F) | ((uint32_t)*p++ << 7);
    }
    if (f >= SCALE) return 1;
    freq[s] = f;
    sum += f;
  }
  if (sum != SCALE || freq[first] == 0 || freq[last] == 0) return 1;
  for (unsigned s = first, start = 0; s <= last; s++) {
    const uint32_t f = freq[s];
    for (uint32_t k = 0; k < f; k++)
      dtab[start + k] = s | (k << 8) | (f << 20);
    start += f;
  }
  *pp = p;
  return 0;
}

/* One symbol from lane state x, then a branch-free refill: the word is
 * loaded unconditionally and merged under a mask only if x fell below L
 * (written with masks because gcc turns a ?: here into a branch, which
 * mispredicts about once every six symbols). Needs 2 readable bytes at
 * p. */
#define DEC(x, o)                                                         \
  do {                                                                    \
    const uint32_t e_ = dtab[(x) & (SCALE - 1)];                          \
    (o) = (uint8_t)e_;                                                    \
    (x) = (e_ >> 20) * ((x) >> SCALE_BITS) + ((e_ >> 8) & (SCALE - 1));   \
    const uint32_t r_ = (x) < STATE_L;                                    \
    const uint32_t y_ = ((x) << 16) | alcm_le16(p);                       \
    (x) = __builtin_expect_with_probability(r_, 1, 0.5) ? y_ : (x);       \
    p += 2 * r_;                                                          \
  } while (0)

/* One symbol with every read checked: for the last few symbols of a
 * block and for a stream that runs short. 0 on success. */
static inline int dec_checked(uint32_t *xp, uint8_t *o, const uint8_t **pp,
                              const uint8_t *end, const uint32_t *dtab) {
  uint32_t x = *xp;
  const uint32_t e = dtab[x & (SCALE - 1)];
  *o = (uint8_t)e;
  x = (e >> 20) * (x >> SCALE_BITS) + ((e >> 8) & (SCALE - 1));
  if (x < STATE_L) {
    if (end - *pp < 2) return 1;
    x = (x << 16) | alcm_le16(*pp);
    *pp += 2;
  }
  *xp = x;
  return 0;
}

static inline int state_ok(uint32_t x) {
  return x >= STATE_L && x < (1u << 31);
}

/* The bulk of a block, 8 symbols per step while at least 16 stream bytes
 * are left (the most 8 refills can take), so no read is checked. Returns
 * the number of symbols decoded; updates *pp and the lane states. */
static size_t bulk_scalar(uint8_t *out, size_t whole, const uint8_t **pp,
                          const uint8_t *end, const uint32_t *dtab,
                          uint32_t xs[LANES]) {
  const uint8_t *p = *pp;
  uint32_t x0 = xs[0], x1 = xs[1], x2 = xs[2], x3 = xs[3], x4 = xs[4],
           x5 = xs[5], x6 = xs[6], x7 = xs[7];
  size_t i = 0;
  for (; i < whole && (size_t)(end - p) >= 2 * LANES; i += LANES) {
    uint8_t *const o = out + i;
    DEC(x0, o[0]);
    DEC(x1, o[1]);
    DEC(x2, o[2]);
    DEC(x3, o[3]);
    DEC(x4, o[4]);
    DEC(x5, o[5]);
    DEC(x6, o[6]);
    DEC(x7, o[7]);
  }
  xs[0] = x0, xs[1] = x1, xs[2] = x2, xs[3] = x3;
  xs[4] = x4, xs[5] = x5, xs[6] = x6, xs[7] = x7;
  *pp = p;
  return i;
}


/* Decode n symbols from the stream [p, end), which must be consumed
 * exactly and leave every lane back at its initial state L. States stay
 * in [L, 2^31) for any stream once the initial ones are, so the only
 * bound to watch is end. 0 on success. */
static int rans_decode(uint8_t *out, size_t n, const uint8_t *p,
                       const uint8_t *end, const uint32_t dtab[SCALE]) {
  if ((size_t)(end - p) < STATES_SIZE) return 1;
  uint32_t xs[LANES];
  for (unsigned j = 0; j < LANES; j++) {
    xs[j] = alcm_le32(p + 4 * j);
    if (!state_ok(xs[j])) return 1;
  }
  p += STATES_SIZE;
  const size_t whole = n & ~(size_t)(LANES - 1);
  size_t i = bulk_scalar(out, whole, &p, end, dtab, xs);
  /* The last few symbols, and all of a stream that runs short. */
  for (; i < n; i++)
    if (dec_checked(&xs[i & (LANES - 1)], out + i, &p, end, dtab)) return 1;
  if (p != end) return 1;
  for (unsigned j = 0; j < LANES; j++)
    if (xs[j] != STATE_L) return 1;
  return 0;
}

/* Decode one block at *pp into out[0..avail); advances *pp and returns the
 * block length, or 0 on any error. */
static size_t decode_block(const uint8_t **pp, const uint8_t *end,
                           uint8_t *out, size_t avail, uint32_t dtab[SCALE]) {
  const uint8_t *p = *pp;
  if ((size_t)(end - p) < BLOCK_HEADER_SIZE) return 0;
  const uint32_t h = alcm_le32(p);
  p += BLOCK_HEADER_SIZE;
  const unsigned mode = h & 3u;
  const size_t len = (size_t)(h >> 8) + 1;
  if ((h & 0xFCu) != 0 || len > avail) return 0;
  switch (mode) {
  case MODE_RAW:
    if ((size_t)(end - p) < len) return 0;
    memcpy(out, p, len);
    p += len;
    break;
  case MODE_CONST:
    if (p == end) return 0;
    memset(out, *p++, len);
    break;
  case MODE_RANS: {
    if (table_read(&p, end, dtab) != 0) return 0;
    if ((size_t)(end - p) < 4) return 0;
    const size_t stream = alcm_le32(p);
    p += 4;
    if ((size_t)(end - p) < stream) return 0;
    if (rans_decode(out, len, p, p + stream, dtab) != 0) return 0;
    p += stream;
    break;
  }
  default:
    return 0;
  }
  *pp = p;
  return len;
}

/* Exactly dst_size bytes from exactly src_size bytes, else non-zero. */
static int rans_decompress(void *dst, size_t dst_size, const void *src,
                           size_t src_size) {
  if (dst_size == 0) return src_size != 0; /* the empty payload */
  uint8_t *const out = dst;
  const uint8_t *p = src;
  const uint8_t *const end = p + src_size;
  uint32_t dtab[SCALE];
  size_t done = 0;
  while (done < dst_size) {
    const size_t k =
        decode_block(&p, end, out + done, dst_size - done, dtab);
    if (k == 0) return 1;
    done += k;
  }
  return p != end;
}

const alcm_codec alcm_codec_rans = {
    .id = ALCM_CODEC_ID_RANS,
    .name = "rans",
    .level_min = LEVEL_MIN,
    .level_max = LEVEL_MAX,
    .level_default = 0,
    .bound = rans_bound,
    .compress = rans_compress,
    .decompress = rans_decompress,
};
