/*
 * codec_rans.c - codec 3 "rans": blocked order-0 rANS with 8 (RANS) or
 * 32 (RANS32, format 1.3) interleaved 32-bit states and 16-bit
 * renormalization (spec "Codecs", "rans payload"; format 1.1).
 *
 * The payload is a sequence of blocks that cover the input in order.
 * Each block is RAW (bytes copied), CONSTANT (one byte repeated) or RANS
 * / RANS32 (a frequency table normalized to 2^12, then one rANS stream). Blocks
 * are coded independently, so the statistics adapt every block and a
 * bad block never makes the decoder read outside its own bytes.
 *
 * The coder follows Fabian Giesen's rans_byte.h / rans_word_sse41.h
 * (ryg_rans, public domain): state x in [L, 2^31) with L = 2^15, 16-bit
 * words, encoder division replaced by a reciprocal multiply (Alverson),
 * decoder one table lookup per symbol. Symbol i of a block belongs to
 * lane i mod K (K = 8, or 32 in a RANS32 block); the lanes share one word
 * stream, which the encoder writes backwards and the decoder reads
 * forwards. Independent lanes hide the multiply and load latencies; the
 * renormalization is branch-free because at ~2.6 bits per symbol it is
 * taken about one time in six, which a branch predictor cannot learn.
 *
 * On x86 an AVX2 encoder and decoder (chosen at run time, same bytes
 * and same acceptance as the scalar code, which stays the reference)
 * do the bulk of each block: one 8-lane vector per RANS block, with up
 * to four blocks side by side, or four vectors for a RANS32 block, which
 * the encoder writes where a payload has too few blocks to interleave.
 * Hosts with AVX-512 F/VL decode with mask instructions and eight blocks
 * side by side.
 *
 * Thread-safe: no state outside the call; tables live on the stack
 * (about 135 KiB when decoding: eight blocks' tables).
 */
#include "internal.h"

/* x86 hosts get an AVX2 decoder, chosen at run time; the build needs no
 * special flags (the functions carry their own target attribute). */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define ALCM_RANS_X86 1
#include <immintrin.h>
#define AVX2_FN __attribute__((target("avx2,popcnt")))
#define AVX2_INLINE static inline __attribute__((always_inline)) AVX2_FN
static int rans_simd(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
}
/* The AVX-512 encoder and decoder (on ymm vectors, for the mask
 * instructions and the 32 registers) on top of AVX2: 0 or 1. */
#define AVX512_FN                                                         \
  __attribute__((target("avx2,popcnt,avx512f,avx512vl,avx512bw")))
#define AVX512_INLINE static inline __attribute__((always_inline)) AVX512_FN
static int rans_avx512(void) {
  return rans_simd() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw");
}
#else
#define ALCM_RANS_X86 0
static int rans_simd(void) { return 0; }
static int rans_avx512(void) { return 0; }
#endif

/* What the host has: 0 scalar, 1 AVX2, 2 AVX-512. */
static int simd_level(void) { return rans_avx512() ? 2 : rans_simd(); }

#define SCALE_BITS 12u
#define SCALE (1u << SCALE_BITS) /* frequencies sum to this */
#define STATE_L (1u << 15)       /* states live in [STATE_L, 2^31) */
#define LANES 8u    /* lanes of a RANS block */
#define LANES32 32u /* lanes of a RANS32 block (format 1.3) */
#define STATES_SIZE (4u * LANES) /* a RANS block's 8 initial states */
/* Blocks coded side by side (decoded: DEC_GROUP) */
#define GROUP 4

/* Block header: u32, bits 0-1 mode, bits 2-7 zero, bits 8-31 length-1. */
#define BLOCK_HEADER_SIZE 4u
#define MODE_RAW 0u
#define MODE_CONST 1u
#define MODE_RANS 2u
#define MODE_RANS32 3u
#define BLOCK_LEN_MAX (1u << 24)

/* Level picks the block size: 2^(16 + level) bytes. 64 KiB (level 0) keeps
 * table and state overhead near 0.3 % on exponent planes while still
 * following changes of statistics inside a chunk; larger blocks
 * trade adaptivity for overhead. */
#define LEVEL_MIN 0
#define LEVEL_MAX 2
#define BLOCK_LOG2_BASE 16u

/* A block is entropy-coded only when the estimate saves more than
 * len >> GAIN_SHIFT bytes (1/256, i.e. ~0.03 bit per byte): below that,
 * decoding at memcpy speed is worth more than the bytes. */
#define GAIN_SHIFT 8u

/* Shortest block coded with 32 lanes (when it has no neighbours to run
 * beside): the 96 extra state bytes are at most ~0.9 % of an 8 KiB bf16
 * exponent block's chunk (with its mantissa plane), and its four chains
 * decode ~3x faster than one. Measured on the bench corpus against 16
 * KiB: 0.04 % larger, 7 % faster decoding; at 4 KiB 0.07 % larger. */
#define RANS32_MIN_LEN (8u * 1024u)

_Static_assert(((size_t)1 << (BLOCK_LOG2_BASE + LEVEL_MAX)) <= BLOCK_LEN_MAX,
               "block length must fit the header's 24 bits");

static size_t block_size(int level) {
  return (size_t)1 << (BLOCK_LOG2_BASE + (unsigned)level);
}

/* ---- shared ----------------------------------------------------------- */

/* Byte histogram with four sub-tables: consecutive equal bytes (common in
 * exponent planes) then hit different counters and do not serialize on
 * one store-to-load chain. hist_add() accumulates into c, hist_sum()
 * folds the sub-tables. */
static void hist_add(const uint8_t *src, size_t n, uint32_t c[4][256]) {
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
}

static void hist_sum(const uint32_t c[4][256], uint32_t count[256]) {
  for (unsigned s = 0; s < 256; s++)
    count[s] = c[0][s] + c[1][s] + c[2][s] + c[3][s];
}

/* Shorter inputs count into one table: clearing and folding four (5 KiB
 * of stores) costs more than the store-to-load chains they would save
 * (tiny tensors: ~300 bytes per plane). */
#define HIST_ONE_TABLE 1024u

static void histogram_scalar(const uint8_t *src, size_t n,
                             uint32_t count[256]) {
  if (n < HIST_ONE_TABLE) {
    memset(count, 0, 256 * sizeof *count);
    for (size_t i = 0; i < n; i++) count[src[i]]++;
    return;
  }
  uint32_t c[4][256];
  memset(c, 0, sizeof c);
  hist_add(src, n, c);
  hist_sum(c, count);
}

#if ALCM_RANS_X86
/* AVX-512 histogram (GFNI, VBMI, VBMI2, BITALG; chosen at run time, the
 * same counts as the scalar code). The bytes of an exponent plane sit in
 * a narrow window: a 64 KiB block has 99.9 % of its bytes within 16-24
 * values in most blocks, within 64 in nearly all. The window
 * [lo, lo + 8G) (G groups of 8 values, G = 1..8) is counted 64 bytes at
 * a time without a table: for d = byte - lo, a VPERMB per group makes
 * each byte of the group one-hot (bit d & 7), GF2P8AFFINEQB transposes
 * each 8x8 bit matrix (eight bytes of one-hot bits become, for each bit,
 * the set of bytes that have it) and VPOPCNTB counts those sets. The
 * byte counters (at most 8 per vector) are folded every HIST_ROUND
 * vectors: a VPERMB gathers each value's eight qword lanes into one
 * qword, VPSADBW sums them. Bytes outside the window are packed
 * (VPCOMPRESSB) into a buffer that the scalar hist_add() counts; every
 * vector packs, as a branch on "any byte outside" mispredicts when a few
 * percent of the bytes are (bf16 planes: 2 % of the bytes, in 19 % of
 * the vectors).
 *
 * The high bytes of f16 (sign, exponent, two mantissa bits) make two
 * such clusters, one per sign, ~128 apart: no one window holds both.
 * Two windows [lo, lo + width) and [lo2, lo2 + width2), one in each half
 * of the byte values, widths multiples of 4 adding up to 8G (G = 1..16),
 * map their bytes to one index d = byte - lo or byte - lo2 + width
 * (0..8G - 1); groups 0..7 count d < 64 as above, groups 8..15 the
 * others with the same tables (VPERMB reads d & 63) and own counters.
 *
 * The plan comes from a coarse histogram (byte >> 2: 64 bins of four
 * values, counted the same way with G = 8) of HIST_ROUND vectors spread
 * over the block: the best run of k bins for each k, anywhere and in
 * either half, then the cheapest of the scalar code, one window and two:
 * a group costs ~0.035 cycle per byte (two port-5 uops per vector), the
 * second window about one group, a byte outside the windows ~1.2 cycles
 * (HIST_OUT_COST groups). Two windows are tried only where both halves
 * hold enough bytes to pay for the second. Where nothing beats the
 * scalar code (near-uniform bytes), the scalar code counts.
 *
 * Measured on 64 KiB blocks of the corpus (Emerald Rapids, cycles per
 * byte, scalar -> this, best of 15): f16 high bytes 1.13 -> 0.51 (one
 * window: 0.86), bf16 exponent planes 1.15 -> 0.23, f32 exponent planes
 * 1.15 -> 0.23 (with a branch on outside bytes: 0.25), uniform bytes
 * 1.11 -> 1.14 (the sample, then the scalar code). */
#define HIST_FN                                                               \
  __attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vbmi2,"          \
                        "avx512bitalg,gfni,popcnt")))
#define HIST_INLINE static inline __attribute__((always_inline)) HIST_FN
#define HIST_ROUND 31u     /* vectors per fold: 8 * 31 <= 255 */
#define HIST_MIN 4096u     /* shorter inputs: scalar */
#define HIST_OUT_COST 40u  /* a byte outside the window, in groups */
#define HIST_TWO_COST 1u   /* the second window, in groups */
#define HIST_OUTBUF 4096u  /* packed outside bytes before hist_add() */

static int hist_simd(void) {
  return __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vbmi") &&
         __builtin_cpu_supports("avx512vbmi2") &&
         __builtin_cpu_supports("avx512bitalg") &&
         __builtin_cpu_supports("gfni") && __builtin_cpu_supports("popcnt");
}

/* ONEHOT + 64 - 8g, 64 bytes: bit d & 7 for d in group g, else 0. */
static const uint8_t ONEHOT[128] = {[64] = 1,  [65] = 2,  [66] = 4,
                                    [67] = 8,  [68] = 16, [69] = 32,
                                    [70] = 64, [71] = 128};

/* Per group, the counts of 64 indices d (0..63; bytes not in the mask
 * count nowhere) added to acc[g]: byte 8q + b counts d = 8g + b among
 * bytes 8q..8q+7. */
HIST_INLINE void hist_vec(__m512i d, __mmask64 in, const __m512i *tab,
                          __m512i *acc, unsigned groups) {
  const __m512i bit = _mm512_set1_epi64((long long)0x8040201008040201u);
  for (unsigned g = 0; g < groups; g++) {
    const __m512i h = _mm512_maskz_permutexvar_epi8(in, d, tab[g]);
    const __m512i t = _mm512_gf2p8affine_epi64_epi8(bit, h, 0);
    acc[g] = _mm512_add_epi8(acc[g], _mm512_popcnt_epi8(t));
  }
}

/* Fold the byte counters into qword sums: sum[g] lane b = count of 8g+b. */
HIST_INLINE void hist_fold(__m512i *acc, __m512i *sum, unsigned groups) {
  const __m512i by_value = _mm512_set_epi64(
      0x3F372F271F170F07, 0x3E362E261E160E06, 0x3D352D251D150D05,
      0x3C342C241C140C04, 0x3B332B231B130B03, 0x3A322A221A120A02,
      0x3931292119110901, 0x3830282018100800);
  for (unsigned g = 0; g < groups; g++) {
    const __m512i v = _mm512_permutexvar_epi8(by_value, acc[g]);
    sum[g] = _mm512_add_epi64(sum[g],
                              _mm512_sad_epu8(v, _mm512_setzero_si512()));
    acc[g] = _mm512_setzero_si512();
  }
}

HIST_INLINE void hist_tables(__m512i *tab, __m512i *acc, __m512i *sum,
                             unsigned groups) {
  for (unsigned g = 0; g < groups; g++) {
    tab[g] = _mm512_loadu_si512(ONEHOT + 64 - 8 * g);
    acc[g] = sum[g] = _mm512_setzero_si512();
  }
}

/* Add sum[g] lane b to count[8g + b]. */
HIST_INLINE void hist_store(const __m512i *sum, unsigned groups,
                            uint32_t *count) {
  for (unsigned g = 0; g < groups; g++) {
    uint64_t q[8];
    _mm512_storeu_si512(q, sum[g]);
    for (unsigned b = 0; b < 8; b++) count[8 * g + b] += (uint32_t)q[b];
  }
}

/* A counting plan: groups (0: the scalar code counts), the window
 * [lo, lo + width) and, where width2 > 0, a second window
 * [lo2, lo2 + width2). */
struct hist_plan {
  unsigned groups, lo, width, lo2, width2;
};

/* The plan for src[0..n) (n >= HIST_MIN). */
static HIST_FN void hist_plan(const uint8_t *src, size_t n,
                              struct hist_plan *p) {
  __m512i tab[8], acc[8], sum[8];
  hist_tables(tab, acc, sum, 8);
  const __m512i low6 = _mm512_set1_epi8(0x3F);
  const size_t step = (n - 64) / (HIST_ROUND - 1);
  for (unsigned i = 0; i < HIST_ROUND; i++) {
    const __m512i x = _mm512_loadu_si512(src + i * step);
    hist_vec(_mm512_and_si512(_mm512_srli_epi16(x, 2), low6), ~(__mmask64)0,
             tab, acc, 8);
  }
  hist_fold(acc, sum, 8);
  uint32_t bin[64] = {0}, pre[80];
  hist_store(sum, 8, bin);
  pre[0] = 0;
  for (unsigned b = 0; b < 64; b++) pre[b + 1] = pre[b] + bin[b];
  for (unsigned b = 65; b < 80; b++) pre[b] = pre[64];
  /* The best run of k bins (lane k - 1, k = 1..16) as coverage << 8 |
   * first bin: run[0] within bins 0..31, run[1] within 32..63, run[2]
   * anywhere. */
  const __m512i len = _mm512_set_epi32(16, 15, 14, 13, 12, 11, 10, 9, 8, 7,
                                       6, 5, 4, 3, 2, 1);
  __m512i lower = _mm512_setzero_si512(), upper = lower, any = lower;
  for (unsigned a = 0; a < 64; a++) {
    const __m512i in = _mm512_sub_epi32(_mm512_loadu_si512(pre + a + 1),
                                        _mm512_set1_epi32((int)pre[a]));
    const __m512i key =
        _mm512_or_si512(_mm512_slli_epi32(in, 8), _mm512_set1_epi32((int)a));
    const __mmask16 fits =
        _mm512_cmple_epu32_mask(len, _mm512_set1_epi32((int)(~a & 31) + 1));
    if (a < 32) {
      lower = _mm512_mask_max_epu32(lower, fits, lower, key);
      any = _mm512_max_epu32(any, key);
    } else {
      upper = _mm512_mask_max_epu32(upper, fits, upper, key);
    }
  }
  uint32_t run[3][16];
  _mm512_storeu_si512(run[0], lower);
  _mm512_storeu_si512(run[1], upper);
  _mm512_storeu_si512(run[2], _mm512_max_epu32(any, upper));
  const uint32_t total = 64 * HIST_ROUND;
  uint32_t best = total * HIST_OUT_COST * 3 / 4; /* scalar */
  p->groups = p->width2 = 0;
  for (unsigned g = 1; g <= 8; g++) {
    const uint32_t key = run[2][2 * g - 1];
    const uint32_t cost = total * g + (total - (key >> 8)) * HIST_OUT_COST;
    if (cost < best) {
      best = cost;
      p->groups = g;
      p->lo = 4 * (key & 0xFF);
      p->width = 8 * g;
    }
  }
  /* Two windows, one in each half of the byte values (f16 high bytes:
   * the sign splits them), k and 2g - k bins. They cover at most the
   * bytes of one half's run plus all of the other half, so they cannot
   * beat the single window unless the smaller half holds more than
   * total * HIST_TWO_COST / HIST_OUT_COST bytes. */
  const uint32_t minor = pre[32] < total - pre[32] ? pre[32] : total - pre[32];
  if (minor * HIST_OUT_COST <= total * HIST_TWO_COST) return;
  for (unsigned g = 1; g <= 16; g++) {
    const unsigned from = 2 * g > 16 ? 2 * g - 16 : 1;
    uint32_t in = 0;
    unsigned k = from;
    for (unsigned j = from; j < 2 * g && j <= 16; j++) {
      const uint32_t c = (run[0][j - 1] >> 8) + (run[1][2 * g - j - 1] >> 8);
      k = c > in ? j : k;
      in = c > in ? c : in;
    }
    const uint32_t cost =
        total * (g + HIST_TWO_COST) + (total - in) * HIST_OUT_COST;
    if (cost < best) {
      best = cost;
      p->groups = g;
      p->lo = 4 * (run[0][k - 1] & 0xFF);
      p->width = 4 * k;
      p->lo2 = 4 * (run[1][2 * g - k - 1] & 0xFF);
      p->width2 = 8 * g - 4 * k;
    }
  }
}

/* Count src[0..n) into count (zeroed) with the plan's windows; two: it
 * has a second window. Bytes of the second window count at index
 * d = byte - lo2 + width, after the first window's; groups 8.. (those
 * of d >= 64) have their own counters. */
HIST_INLINE void hist_count(const uint8_t *src, size_t n,
                            const struct hist_plan *p, unsigned groups,
                            int two, uint32_t count[256]) {
  const unsigned low = groups < 8 ? groups : 8, high = groups - low;
  __m512i tab[8], acc[8], sum[8], acc2[8], sum2[8];
  hist_tables(tab, acc, sum, low);
  hist_tables(tab, acc2, sum2, high);
  uint32_t c[4][256];
  memset(c, 0, sizeof c);
  uint8_t out[HIST_OUTBUF];
  size_t nout = 0;
  const __m512i vlo = _mm512_set1_epi8((char)p->lo);
  const __m512i width = _mm512_set1_epi8((char)p->width);
  const __m512i vlo2 = _mm512_set1_epi8((char)p->lo2);
  const __m512i width2 = _mm512_set1_epi8((char)p->width2);
  const __m512i half = _mm512_set1_epi8(64);
  const size_t nv = n / 64;
  for (size_t v = 0; v < nv;) {
    const size_t end = nv - v < HIST_ROUND ? nv : v + HIST_ROUND;
    for (; v < end; v++) {
      const __m512i x = _mm512_loadu_si512(src + 64 * v);
      __m512i d = _mm512_sub_epi8(x, vlo);
      __mmask64 in = _mm512_cmplt_epu8_mask(d, width);
      if (two) {
        const __m512i d2 = _mm512_sub_epi8(x, vlo2);
        const __mmask64 in2 = _mm512_cmplt_epu8_mask(d2, width2);
        d = _mm512_mask_add_epi8(d, in2, d2, width);
        in |= in2;
      }
      _mm512_storeu_si512(out + nout, _mm512_maskz_compress_epi8(~in, x));
      nout += (size_t)_mm_popcnt_u64(~in);
      if (nout > HIST_OUTBUF - 64) {
        hist_add(out, nout, c);
        nout = 0;
      }
      if (high) {
        const __mmask64 below = _mm512_mask_cmplt_epu8_mask(in, d, half);
        hist_vec(d, below, tab, acc, low);
        hist_vec(d, in & ~below, tab, acc2, high);
      } else {
        hist_vec(d, in, tab, acc, low);
      }
    }
    hist_fold(acc, sum, low);
    hist_fold(acc2, sum2, high);
  }
  hist_add(out, nout, c);
  hist_add(src + 64 * nv, n - 64 * nv, c);
  hist_sum(c, count);
  if (two) {
    uint32_t w[128] = {0};
    hist_store(sum, low, w);
    hist_store(sum2, high, w + 64);
    for (unsigned i = 0; i < p->width; i++) count[p->lo + i] += w[i];
    for (unsigned i = 0; i < p->width2; i++)
      count[p->lo2 + i] += w[p->width + i];
  } else {
    hist_store(sum, low, count + p->lo);
  }
}

/* One copy of the loop per plan shape, so the tables and counters stay
 * in registers. 0 when the scalar code should count. */
#define HIST_CASE(g, two)                                                     \
  case g: hist_count(src, n, &p, g, two, count); break
static HIST_FN int histogram_avx512(const uint8_t *src, size_t n,
                                    uint32_t count[256]) {
  struct hist_plan p = {0, 0, 0, 0, 0};
  if (n >= HIST_MIN) hist_plan(src, n, &p);
  if (p.width2) {
    switch (p.groups) {
      HIST_CASE(1, 1); HIST_CASE(2, 1); HIST_CASE(3, 1); HIST_CASE(4, 1);
      HIST_CASE(5, 1); HIST_CASE(6, 1); HIST_CASE(7, 1); HIST_CASE(8, 1);
      HIST_CASE(9, 1); HIST_CASE(10, 1); HIST_CASE(11, 1); HIST_CASE(12, 1);
      HIST_CASE(13, 1); HIST_CASE(14, 1); HIST_CASE(15, 1);
    default: hist_count(src, n, &p, 16, 1, count); break;
    }
  } else {
    switch (p.groups) {
    case 0: return 0;
      HIST_CASE(1, 0); HIST_CASE(2, 0); HIST_CASE(3, 0); HIST_CASE(4, 0);
      HIST_CASE(5, 0); HIST_CASE(6, 0); HIST_CASE(7, 0);
    default: hist_count(src, n, &p, 8, 0, count); break;
    }
  }
  return 1;
}
#undef HIST_CASE
#endif

/* The byte histogram of src[0..n); simd: the AVX-512 code where the
 * host has it. */
static void histogram(const uint8_t *src, size_t n, uint32_t count[256],
                      int simd) {
#if ALCM_RANS_X86
  if (simd && hist_simd() && histogram_avx512(src, n, count)) return;
#else
  (void)simd;
#endif
  histogram_scalar(src, n, count);
}

/* Test hook (internal.h). */
void alcm_rans_histogram(const void *src, size_t n, uint32_t count[256],
                         int simd) {
  histogram(src, n, count, simd);
}

/* ---- encoder ---------------------------------------------------------- */

/* floor(256 * log2(1 + i/256)), i = 0..255 (by repeated squaring of the
 * mantissa, integer-only). */
static const uint8_t LOG2_FRAC[256] = {
    0, 1, 2, 4, 5, 7, 8, 9, 11, 12, 14, 15, 16,
    18, 19, 21, 22, 23, 25, 26, 27, 29, 30, 31, 33, 34,
    35, 37, 38, 39, 40, 42, 43, 44, 46, 47, 48, 49, 51,
    52, 53, 54, 56, 57, 58, 59, 61, 62, 63, 64, 65, 67,
    68, 69, 70, 71, 73, 74, 75, 76, 77, 78, 80, 81, 82,
    83, 84, 85, 86, 88, 89, 90, 91, 92, 93, 94, 96, 97,
    98, 99, 100, 101, 102, 103, 104, 105, 106, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124,
    125, 126, 127, 128, 129, 131, 132, 133, 134, 135, 136, 137, 138,
    139, 140, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150,
    151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 162,
    163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 173, 174,
    175, 176, 177, 178, 179, 180, 181, 181, 182, 183, 184, 185, 186,
    187, 188, 188, 189, 190, 191, 192, 193, 194, 194, 195, 196, 197,
    198, 199, 200, 200, 201, 202, 203, 204, 205, 205, 206, 207, 208,
    209, 209, 210, 211, 212, 213, 214, 214, 215, 216, 217, 218, 218,
    219, 220, 221, 222, 222, 223, 224, 225, 225, 226, 227, 228, 229,
    229, 230, 231, 232, 232, 233, 234, 235, 235, 236, 237, 238, 239,
    239, 240, 241, 242, 242, 243, 244, 245, 245, 246, 247, 247, 248,
    249, 250, 250, 251, 252, 253, 253, 254, 255
};

/* log2(f) in 1/256 bit for f >= 1, from the leading 9 bits of f (exact
 * below 512, rounded down above). Integer-only, so every host makes the
 * same RAW/RANS choice. */
static uint32_t log2_fix8(uint32_t f) {
  const unsigned k = 31u - (unsigned)__builtin_clz(f);
  const uint32_t m = k >= 8 ? f >> (k - 8) : f << (8 - k); /* 256..511 */
  return ((uint32_t)k << 8) + LOG2_FRAC[m - 256];
}

/* The symbols a block uses, as a 256-bit set, so that the per-block
 * work below visits those (a few dozen in an exponent plane) in order
 * instead of branching on all 256 counts. */
typedef struct {
  uint64_t w[4];
} symbol_set;

/* Bits set in m, without the popcnt instruction (this code is built for
 * any x86-64, where __builtin_popcountll is a library call). */
static unsigned popcount64(uint64_t m) {
  m -= (m >> 1) & 0x5555555555555555u;
  m = (m & 0x3333333333333333u) + ((m >> 2) & 0x3333333333333333u);
  m = (m + (m >> 4)) & 0x0F0F0F0F0F0F0F0Fu;
  return (unsigned)((m * 0x0101010101010101u) >> 56);
}

/* The set of symbols with a count, and its size: once per block, which
 * for the many tiny tensors of real checkpoints is most of the cost, so
 * SSE2 where there is (16 counts a step: packed to bytes with signed
 * saturation, which keeps every count < 2^31 non-zero, then compared). */
static unsigned used_set(const uint32_t count[256], symbol_set *u) {
  unsigned n = 0;
  for (unsigned w = 0; w < 4; w++) {
    uint64_t m = 0;
#if defined(__SSE2__)
    for (unsigned b = 0; b < 64; b += 16) {
      const __m128i *const c =
          (const __m128i *)(const void *)(count + 64 * w + b);
      const __m128i lo =
          _mm_packs_epi32(_mm_loadu_si128(c), _mm_loadu_si128(c + 1));
      const __m128i hi =
          _mm_packs_epi32(_mm_loadu_si128(c + 2), _mm_loadu_si128(c + 3));
      const __m128i zero =
          _mm_cmpeq_epi8(_mm_packs_epi16(lo, hi), _mm_setzero_si128());
      m |= (uint64_t)(~(unsigned)_mm_movemask_epi8(zero) & 0xFFFFu) << b;
    }
#else
    for (unsigned b = 0; b < 64; b++)
      m |= (uint64_t)(count[64 * w + b] != 0) << b;
#endif
    u->w[w] = m;
    n += popcount64(m);
  }
  return n;
}

/* for (each symbol s in u, ascending) */
#define FOR_EACH_USED(s, u)                                               \
  for (unsigned w_ = 0; w_ < 4; w_++)                                     \
    for (uint64_t m_ = (u)->w[w_];                                        \
         m_ && ((s) = 64 * w_ + (unsigned)__builtin_ctzll(m_), 1);        \
         m_ &= m_ - 1)

/* Scale counts (>= 2 distinct symbols u, n = their sum) to frequencies
 * that sum to SCALE, every used symbol >= 1 and <= SCALE - 1, unused 0.
 * Rounded shares first; the rounding error goes to the most frequent
 * symbol, where it costs least, unless that would take half of it, in
 * which case every symbol above 1 gives up one unit per pass (rare: only
 * many tiny symbols beside no dominant one). Deterministic: the share is
 * floor((count * SCALE + n / 2) / n) computed in double, exact here (the
 * numerator < 2^37 is exact, and a quotient below 2^12 that is not an
 * integer is at least 1/n >= 2^-24 from one, far more than the
 * division's 2^-41 error), and ~3x the throughput of a 64-bit divide. */
static void normalize(const uint32_t count[256], uint32_t n,
                      const symbol_set *u, uint32_t freq[256]) {
  uint32_t sum = 0;
  unsigned big = 0, s;
  memset(freq, 0, 256 * sizeof *freq);
  FOR_EACH_USED(s, u) {
    const double num = (double)count[s] * SCALE + (double)(n / 2);
    uint32_t f = (uint32_t)(num / (double)n);
    if (f == 0) f = 1;
    if (f > SCALE - 1) f = SCALE - 1;
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
    FOR_EACH_USED(s, u)
      if (freq[s] > 1 && excess) {
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
  /* 1 + (freq >= 0x80) for freq <= SCALE, in arithmetic: gcc makes the
   * comparison a branch, mispredicted on real tables. */
  for (unsigned s = first; s <= last; s++) k += 1u + ((freq[s] + 0xFF80u) >> 16);
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
    const uint32_t shift = 32u - (uint32_t)__builtin_clz(freq - 1); /* ceil log2 */
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

/* The AVX2 encoder's tables (see below): per symbol, its reciprocal and
 * bias | freq << 13 | shift << 25. Like tab, set for the block's symbols
 * first..last only (no other index is ever looked up). */
typedef struct {
  uint32_t pk[256], rcp[256];
} enc_vec_tab;

static void enc_vec_init(enc_vec_tab *t, const enc_sym tab[256],
                         const uint32_t freq[256], unsigned first,
                         unsigned last) {
  for (unsigned s = first; s <= last; s++) { /* the block's symbols */
    const enc_sym *const e = &tab[s];
    t->rcp[s] = freq[s] ? e->rcp : 0;
    t->pk[s] = freq[s] ? e->bias | freq[s] << 13 | (uint32_t)e->shift << 25 : 0;
  }
}

/* Symbols first..first + WINDOW - 1 of a block whose last - first <
 * WINDOW: the AVX-512 encoder looks their tables up in registers. */
#define WINDOW 64u

/* The AVX-512 encoder's table kinds, in order of what they can do:
 * E512_NARROW (last - first < 32: two zmm per table), E512_WIDE (< 64:
 * four); E512_NONE: wider, AVX2 code. */
enum { E512_NARROW = 1, E512_WIDE, E512_NONE };

/* One block on its way through the encoder: what encode_plan() decided,
 * and for a RANS block the stream being coded backwards from hi towards
 * lo (q, the lane states, the whole groups of 8 symbols still to code).
 * After coding, p is the stream start, or NULL if it did not fit. */
typedef struct {
  const uint8_t *src;
  size_t len;
  unsigned mode, first, last;
  unsigned lanes; /* RANS: 8, or 32 (written as mode RANS32) */
  size_t table;   /* table bytes */
  uint32_t freq[256];
  enc_sym tab[256];
  enc_vec_tab vt;
  uint32_t wpk[WINDOW], wrcp[WINDOW]; /* vt from first on, for AVX-512 */
  uint8_t *lo, *hi, *q, *p;
  size_t left;
  uint32_t x[LANES32];
  int ok;
} enc_block;

#if ALCM_RANS_X86
/* AVX2 encoder: the same arithmetic as ENC on the 8 lanes of a vector,
 * so the same bytes. Per symbol two gathers: the reciprocal, and
 * bias | freq << 13 | shift << 25 (bias <= 2 * SCALE - 2 needs 13 bits).
 * Flushing lanes' low words go out in lane order, ending at p: they are
 * moved to the top of a vector by COMPRESS_LUT (for each flush mask,
 * slot 8 - count + t takes the t-th flushing lane; 3 bits per slot) and
 * stored as 16 bytes at p - 16, the bytes below the new p being garbage
 * that later words overwrite, as in ENC. */
static const uint32_t COMPRESS_LUT[256] = {
    0x000000, 0x000000, 0x200000, 0x200000, 0x400000, 0x400000,
    0x440000, 0x440000, 0x600000, 0x600000, 0x640000, 0x640000,
    0x680000, 0x680000, 0x688000, 0x688000, 0x800000, 0x800000,
    0x840000, 0x840000, 0x880000, 0x880000, 0x888000, 0x888000,
    0x8c0000, 0x8c0000, 0x8c8000, 0x8c8000, 0x8d0000, 0x8d0000,
    0x8d1000, 0x8d1000, 0xa00000, 0xa00000, 0xa40000, 0xa40000,
    0xa80000, 0xa80000, 0xa88000, 0xa88000, 0xac0000, 0xac0000,
    0xac8000, 0xac8000, 0xad0000, 0xad0000, 0xad1000, 0xad1000,
    0xb00000, 0xb00000, 0xb08000, 0xb08000, 0xb10000, 0xb10000,
    0xb11000, 0xb11000, 0xb18000, 0xb18000, 0xb19000, 0xb19000,
    0xb1a000, 0xb1a000, 0xb1a200, 0xb1a200, 0xc00000, 0xc00000,
    0xc40000, 0xc40000, 0xc80000, 0xc80000, 0xc88000, 0xc88000,
    0xcc0000, 0xcc0000, 0xcc8000, 0xcc8000, 0xcd0000, 0xcd0000,
    0xcd1000, 0xcd1000, 0xd00000, 0xd00000, 0xd08000, 0xd08000,
    0xd10000, 0xd10000, 0xd11000, 0xd11000, 0xd18000, 0xd18000,
    0xd19000, 0xd19000, 0xd1a000, 0xd1a000, 0xd1a200, 0xd1a200,
    0xd40000, 0xd40000, 0xd48000, 0xd48000, 0xd50000, 0xd50000,
    0xd51000, 0xd51000, 0xd58000, 0xd58000, 0xd59000, 0xd59000,
    0xd5a000, 0xd5a000, 0xd5a200, 0xd5a200, 0xd60000, 0xd60000,
    0xd61000, 0xd61000, 0xd62000, 0xd62000, 0xd62200, 0xd62200,
    0xd63000, 0xd63000, 0xd63200, 0xd63200, 0xd63400, 0xd63400,
    0xd63440, 0xd63440, 0xe00000, 0xe00000, 0xe40000, 0xe40000,
    0xe80000, 0xe80000, 0xe88000, 0xe88000, 0xec0000, 0xec0000,
    0xec8000, 0xec8000, 0xed0000, 0xed0000, 0xed1000, 0xed1000,
    0xf00000, 0xf00000, 0xf08000, 0xf08000, 0xf10000, 0xf10000,
    0xf11000, 0xf11000, 0xf18000, 0xf18000, 0xf19000, 0xf19000,
    0xf1a000, 0xf1a000, 0xf1a200, 0xf1a200, 0xf40000, 0xf40000,
    0xf48000, 0xf48000, 0xf50000, 0xf50000, 0xf51000, 0xf51000,
    0xf58000, 0xf58000, 0xf59000, 0xf59000, 0xf5a000, 0xf5a000,
    0xf5a200, 0xf5a200, 0xf60000, 0xf60000, 0xf61000, 0xf61000,
    0xf62000, 0xf62000, 0xf62200, 0xf62200, 0xf63000, 0xf63000,
    0xf63200, 0xf63200, 0xf63400, 0xf63400, 0xf63440, 0xf63440,
    0xf80000, 0xf80000, 0xf88000, 0xf88000, 0xf90000, 0xf90000,
    0xf91000, 0xf91000, 0xf98000, 0xf98000, 0xf99000, 0xf99000,
    0xf9a000, 0xf9a000, 0xf9a200, 0xf9a200, 0xfa0000, 0xfa0000,
    0xfa1000, 0xfa1000, 0xfa2000, 0xfa2000, 0xfa2200, 0xfa2200,
    0xfa3000, 0xfa3000, 0xfa3200, 0xfa3200, 0xfa3400, 0xfa3400,
    0xfa3440, 0xfa3440, 0xfa8000, 0xfa8000, 0xfa9000, 0xfa9000,
    0xfaa000, 0xfaa000, 0xfaa200, 0xfaa200, 0xfab000, 0xfab000,
    0xfab200, 0xfab200, 0xfab400, 0xfab400, 0xfab440, 0xfab440,
    0xfac000, 0xfac000, 0xfac200, 0xfac200, 0xfac400, 0xfac400,
    0xfac440, 0xfac440, 0xfac600, 0xfac600, 0xfac640, 0xfac640,
    0xfac680, 0xfac680, 0xfac688, 0xfac688,
};

/* The coding step of ENC on 8 lanes, after the flush: q = x / freq by
 * the reciprocal, x + bias + q * (SCALE - freq); pk as enc_vec_tab's. */
AVX2_INLINE __m256i enc_code(__m256i x, __m256i rcp, __m256i pk,
                             __m256i freq) {
  const __m256i even = _mm256_srli_epi64(_mm256_mul_epu32(x, rcp), 32);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32),
                                       _mm256_srli_epi64(rcp, 32));
  const __m256i q = _mm256_srlv_epi32(_mm256_blend_epi32(even, odd, 0xAA),
                                      _mm256_srli_epi32(pk, 25));
  const __m256i bias = _mm256_and_si256(pk, _mm256_set1_epi32(0x1FFF));
  const __m256i cmpl = _mm256_sub_epi32(_mm256_set1_epi32(SCALE), freq);
  return _mm256_add_epi32(_mm256_add_epi32(x, bias),
                          _mm256_mullo_epi32(q, cmpl));
}

AVX2_INLINE __m256i avx2_enc_step(__m256i x, const uint8_t *s,
                                  const enc_vec_tab *t, uint8_t **pp) {
  const __m256i idx =
      _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)s));
  const __m256i pk =
      _mm256_i32gather_epi32((const int *)(const void *)t->pk, idx, 4);
  const __m256i rcp =
      _mm256_i32gather_epi32((const int *)(const void *)t->rcp, idx, 4);
  const __m256i freq =
      _mm256_and_si256(_mm256_srli_epi32(pk, 13), _mm256_set1_epi32(SCALE - 1));
  const __m256i x_max1 = _mm256_sub_epi32(_mm256_slli_epi32(freq, 19),
                                          _mm256_set1_epi32(1));
  const __m256i fl = _mm256_cmpgt_epi32(x, x_max1); /* x >= x_max */
  const unsigned m = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(fl));
  const __m256i cidx =
      _mm256_srlv_epi32(_mm256_set1_epi32((int)COMPRESS_LUT[m]),
                        _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21));
  const __m256i w = _mm256_and_si256(_mm256_permutevar8x32_epi32(x, cidx),
                                     _mm256_set1_epi32(0xFFFF));
  const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packus_epi32(w, w), 0x08);
  _mm_storeu_si128((__m128i *)(void *)(*pp - 16), _mm256_castsi256_si128(w16));
  *pp -= 2 * (unsigned)__builtin_popcount(m);
  x = _mm256_srlv_epi32(x, _mm256_and_si256(fl, _mm256_set1_epi32(16)));
  return enc_code(x, rcp, pk, freq);
}

/* The whole groups of a block in AVX2, one block (x1) or several side by
 * side (the step is a ~30-cycle dependency chain through the states, so
 * independent blocks fill the gaps). Each loop stops when any of its
 * blocks is done or short of room; x1 then finishes each block with the
 * room check of enc_bulk_scalar, so the bytes, and where a stream gives
 * up, are the scalar encoder's whatever the grouping. */
static inline int enc_step_ok(const enc_block *b) {
  return b->ok && b->left > 0 && (size_t)(b->q - b->lo) >= 2 * LANES;
}

AVX2_INLINE __m256i enc_load(const enc_block *b) {
  return _mm256_loadu_si256((const __m256i *)(const void *)b->x);
}

AVX2_INLINE void enc_store(enc_block *b, __m256i x) {
  _mm256_storeu_si256((__m256i *)(void *)b->x, x);
}

static AVX2_FN void enc_bulk_avx2(enc_block *b) {
  if (!b->ok) return;
  __m256i x = enc_load(b);
  uint8_t *q = b->q;
  const uint8_t *const lo = b->lo, *const src = b->src;
  size_t left = b->left;
  while (left > 0) {
    if ((size_t)(q - lo) < 2 * LANES) {
      b->ok = 0;
      break;
    }
    left -= LANES;
    x = avx2_enc_step(x, src + left, &b->vt, &q);
  }
  b->q = q;
  b->left = left;
  enc_store(b, x);
}

/* The state of up to GROUP blocks being coded side by side, in locals:
 * the loops store through q (uint8_t *), which may alias anything in
 * memory, so fields of enc_block would be reloaded after every step
 * (measured: 8-lane blocks four at a time at 640 MB/s on f16 high bytes
 * with the fields, 870 with locals, as fast as one RANS32 block). */
typedef struct {
  uint8_t *q[GROUP];
  const uint8_t *lo[GROUP], *src[GROUP];
  size_t left[GROUP];
} enc_pos;

#define POS_OK(s, i) \
  ((s).left[i] > 0 && (size_t)((s).q[i] - (s).lo[i]) >= 2 * LANES)

/* The blocks of r[0..k) that can take another group, moved to the front;
 * their count. */
static size_t pos_active(enc_block **r, size_t k) {
  size_t m = 0;
  for (size_t i = 0; i < k; i++)
    if (enc_step_ok(r[i])) r[m++] = r[i];
  return m;
}

static void pos_load(enc_pos *s, enc_block *const *r, size_t k) {
  for (size_t i = 0; i < k; i++) {
    s->q[i] = r[i]->q;
    s->lo[i] = r[i]->lo;
    s->src[i] = r[i]->src;
    s->left[i] = r[i]->left;
  }
}

static void pos_store(const enc_pos *s, enc_block *const *r, size_t k) {
  for (size_t i = 0; i < k; i++) {
    r[i]->q = s->q[i];
    r[i]->left = s->left[i];
  }
}

/* k (1..GROUP) blocks side by side, NEXT(s, i) coding a group of block i,
 * until one of them is done or short of room. */
#define SIDE_BY_SIDE(s, k, NEXT)                                           \
  do {                                                                     \
    if ((k) >= 4)                                                          \
      while (POS_OK(s, 0) && POS_OK(s, 1) && POS_OK(s, 2) && POS_OK(s, 3)) \
        NEXT(s, 0), NEXT(s, 1), NEXT(s, 2), NEXT(s, 3);                    \
    else if ((k) == 3)                                                     \
      while (POS_OK(s, 0) && POS_OK(s, 1) && POS_OK(s, 2))                 \
        NEXT(s, 0), NEXT(s, 1), NEXT(s, 2);                                \
    else if ((k) == 2)                                                     \
      while (POS_OK(s, 0) && POS_OK(s, 1)) NEXT(s, 0), NEXT(s, 1);         \
    else                                                                   \
      while (POS_OK(s, 0)) NEXT(s, 0);                                     \
  } while (0)

#define AVX2_NEXT(s, i)                                                  \
  ((s).left[i] -= LANES,                                                 \
   x[i] = avx2_enc_step(x[i], (s).src[i] + (s).left[i], vt[i], &(s).q[i]))

/* The 8-lane blocks blocks[0..k) side by side: as many at once as are
 * left (each loop ends when one of its blocks does); enc_bulk_avx2 then
 * finishes the last one alone. */
static AVX2_FN void enc_bulk_avx2_side(enc_block *const *blocks, size_t k) {
  enc_block *r[GROUP];
  const enc_vec_tab *vt[GROUP];
  __m256i x[GROUP];
  enc_pos s;
  memcpy(r, blocks, k * sizeof *r);
  while ((k = pos_active(r, k)) >= 2) {
    for (size_t i = 0; i < k; i++) {
      vt[i] = &r[i]->vt;
      x[i] = enc_load(r[i]);
    }
    pos_load(&s, r, k);
    SIDE_BY_SIDE(s, k, AVX2_NEXT);
    pos_store(&s, r, k);
    for (size_t i = 0; i < k; i++) enc_store(r[i], x[i]);
  }
}

/* A RANS32 block: lanes 24..31, then 16..23, 8..15, 0..7 per group of 32
 * symbols, each vector writing its words in lane order below the last,
 * as the scalar code does lane by lane; four independent chains. */
static AVX2_FN void enc_bulk_avx2_32(enc_block *b) {
  if (!b->ok) return;
  __m256i x[4];
  for (unsigned v = 0; v < 4; v++)
    x[v] = _mm256_loadu_si256((const __m256i *)(const void *)(b->x + 8 * v));
  const enc_vec_tab *const vt = &b->vt;
  uint8_t *q = b->q;
  const uint8_t *const lo = b->lo, *const src = b->src;
  size_t left = b->left;
  while (left > 0) {
    if ((size_t)(q - lo) < 2 * LANES32) {
      b->ok = 0;
      break;
    }
    left -= LANES32;
    const uint8_t *const g = src + left;
    x[3] = avx2_enc_step(x[3], g + 24, vt, &q);
    x[2] = avx2_enc_step(x[2], g + 16, vt, &q);
    x[1] = avx2_enc_step(x[1], g + 8, vt, &q);
    x[0] = avx2_enc_step(x[0], g, vt, &q);
  }
  b->q = q;
  b->left = left;
  for (unsigned v = 0; v < 4; v++)
    _mm256_storeu_si256((__m256i *)(void *)(b->x + 8 * v), x[v]);
}

/* AVX-512 encoder: the AVX2 step with its two gathers (about half of its
 * micro-ops) replaced by register permutes, and the flush by a compress.
 * Real exponent planes use a narrow range of byte values (measured on
 * bf16 weights: last - first < 32 in 79 % of blocks, < 64 in 97 %), so
 * the per-symbol tables of a block fit in two (narrow) or four (wide)
 * zmm registers each, indexed by symbol - first with vpermt2d. The
 * flushing lanes' low words are compressed to the bottom of a vector,
 * narrowed to 16 bits and stored with a mask just below p: the same
 * bytes as ENC. Blocks with a wider range (f16's high bytes, whose sign
 * bit splits them in two clusters) keep the AVX2 code: one 64-bit
 * gather of both words instead of two 32-bit gathers measured slower. */
typedef struct {
  __m512i pk[4], rcp[4];
  __m256i first;
} e512_tab;

AVX512_INLINE void e512_load(e512_tab *t, const enc_block *b) {
  for (unsigned i = 0; i < 4; i++) {
    t->pk[i] = _mm512_loadu_si512(b->wpk + 16 * i);
    t->rcp[i] = _mm512_loadu_si512(b->wrcp + 16 * i);
  }
  t->first = _mm256_set1_epi32((int)b->first);
}

AVX512_INLINE __m256i e512_lookup(const __m512i t[4], __m512i idx,
                                  const int kind) {
  __m512i r = _mm512_permutex2var_epi32(t[0], idx, t[1]);
  if (kind == E512_WIDE) {
    const __m512i h = _mm512_permutex2var_epi32(t[2], idx, t[3]);
    r = _mm512_mask_blend_epi32(
        _mm512_test_epi32_mask(idx, _mm512_set1_epi32(32)), r, h);
  }
  return _mm512_castsi512_si256(r);
}

AVX512_INLINE __m256i e512_step(__m256i x, const uint8_t *s,
                                const e512_tab *t, uint8_t **pp,
                                const int kind) {
  const __m256i sym =
      _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)s));
  const __m512i idx = _mm512_castsi256_si512(_mm256_sub_epi32(sym, t->first));
  const __m256i pk = e512_lookup(t->pk, idx, kind);
  const __m256i rcp = e512_lookup(t->rcp, idx, kind);
  const __m256i freq =
      _mm256_and_si256(_mm256_srli_epi32(pk, 13), _mm256_set1_epi32(SCALE - 1));
  const __m256i x_max1 = _mm256_sub_epi32(_mm256_slli_epi32(freq, 19),
                                          _mm256_set1_epi32(1));
  const __mmask8 fl = _mm256_cmpgt_epi32_mask(x, x_max1); /* x >= x_max */
  const unsigned c = (unsigned)__builtin_popcount(fl);
  *pp -= 2 * c;
  _mm_mask_storeu_epi16(*pp, (__mmask8)((1u << c) - 1),
                        _mm256_cvtepi32_epi16(_mm256_maskz_compress_epi32(fl, x)));
  x = _mm256_mask_srli_epi32(x, fl, x, 16);
  return enc_code(x, rcp, pk, freq);
}

#define E512_NEXT(s, i)                                                  \
  ((s).left[i] -= LANES,                                                 \
   x[i] = e512_step(x[i], (s).src[i] + (s).left[i], &t[i], &(s).q[i], kind))

/* Up to four 8-lane blocks side by side, as enc_bulk_avx2_side. */
AVX512_INLINE void e512_side(enc_block *const *blocks, size_t k,
                             const int kind) {
  enc_block *r[GROUP];
  e512_tab t[GROUP];
  __m256i x[GROUP];
  enc_pos s;
  memcpy(r, blocks, k * sizeof *r);
  while ((k = pos_active(r, k)) > 0) {
    for (size_t i = 0; i < k; i++) {
      e512_load(&t[i], r[i]);
      x[i] = enc_load(r[i]);
    }
    pos_load(&s, r, k);
    SIDE_BY_SIDE(s, k, E512_NEXT);
    pos_store(&s, r, k);
    for (size_t i = 0; i < k; i++) enc_store(r[i], x[i]);
    if (k == 1) break;
  }
}

/* A RANS32 block, four chains, as enc_bulk_avx2_32 (which then sees
 * whether the stream ran out of room). */
AVX512_INLINE void e512_32(enc_block *b, const int kind) {
  if (!b->ok) return;
  e512_tab t;
  e512_load(&t, b);
  __m256i x[4];
  for (unsigned v = 0; v < 4; v++)
    x[v] = _mm256_loadu_si256((const __m256i *)(const void *)(b->x + 8 * v));
  uint8_t *q = b->q;
  const uint8_t *const lo = b->lo, *const src = b->src;
  size_t left = b->left;
  while (left > 0 && (size_t)(q - lo) >= 2 * LANES32) {
    left -= LANES32;
    const uint8_t *const g = src + left;
    x[3] = e512_step(x[3], g + 24, &t, &q, kind);
    x[2] = e512_step(x[2], g + 16, &t, &q, kind);
    x[1] = e512_step(x[1], g + 8, &t, &q, kind);
    x[0] = e512_step(x[0], g, &t, &q, kind);
  }
  b->q = q;
  b->left = left;
  for (unsigned v = 0; v < 4; v++)
    _mm256_storeu_si256((__m256i *)(void *)(b->x + 8 * v), x[v]);
}

/* The kernels, one copy per table kind. */
static AVX512_FN void e512_side_narrow(enc_block *const *r, size_t k) {
  e512_side(r, k, E512_NARROW);
}
static AVX512_FN void e512_side_wide(enc_block *const *r, size_t k) {
  e512_side(r, k, E512_WIDE);
}
static AVX512_FN void e512_32_narrow(enc_block *b) { e512_32(b, E512_NARROW); }
static AVX512_FN void e512_32_wide(enc_block *b) { e512_32(b, E512_WIDE); }

static void e512_side_run(enc_block *const *r, size_t k, int kind) {
  if (kind == E512_NARROW) e512_side_narrow(r, k);
  if (kind == E512_WIDE) e512_side_wide(r, k);
}

static void e512_32_run(enc_block *b, int kind) {
  if (kind == E512_NARROW) e512_32_narrow(b);
  if (kind == E512_WIDE) e512_32_wide(b);
}
#endif

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
                              const uint32_t freq[256], const symbol_set *u,
                              size_t table, unsigned lanes) {
  uint64_t bits256 = 0; /* in 1/256 bit */
  unsigned s;
  FOR_EACH_USED(s, u)
    bits256 += (uint64_t)count[s] * ((SCALE_BITS << 8) - log2_fix8(freq[s]));
  return BLOCK_HEADER_SIZE + table + 4 + 4 * lanes + (bits256 >> 11) + 2;
}

/* Near-random blocks (the mantissa planes of real weights, ~7.97 bits per
 * byte) are most of the bytes and never pay; a histogram of a sample
 * (SAMPLE_PIECE bytes every SAMPLE_STRIDE, at most SAMPLE_MAX_PIECES
 * pieces spread evenly: an eighth of a 4-16 KiB block, a 32nd of a 64 KiB
 * one) finds them at a fraction of the cost (32 pieces instead of 128 on
 * 64 KiB blocks: the same archive bytes on the corpus, F16 engine
 * compress 3.6 % faster). The sample's order-0 entropy plus the Miller-Madow
 * correction (used - 1) / (2 N ln 2) estimates the block's; at or above
 * SAMPLE_RAW_BITS256 / 256 bits per byte the block is RAW without a full
 * histogram. A RANS block must save len/256 bytes plus its ~300-byte
 * table (about 0.07 bit per byte at 64 KiB, so RANS needs < 7.93 bits),
 * which leaves a margin of ~0.03 bit per byte, many times the estimate's
 * spread at N >= 2048; a shorter block spreads its table over fewer bytes
 * (4 KiB: ~0.6 bit per byte, RANS needs < 7.4 bits), so down to 4 KiB
 * (N = 512) the margin grows faster than the spread (measured: the same
 * archive bytes on the whole corpus as with a 16 KiB floor, F16 tensors
 * 1.5 % faster). The estimate errs low (RANS-ward), where the full
 * histogram decides. Integer-only, so every host decides alike. */
#define SAMPLE_STRIDE 512u
#define SAMPLE_PIECE 64u
#define SAMPLE_MAX_PIECES 32u /* N <= 2048 */
#define SAMPLE_MIN_LEN (4u * 1024u)
#define SAMPLE_RAW_BITS256 2038u /* 7.96 bits per byte, in 1/256 bit */
#define MILLER_MADOW256 185u     /* 256 / (2 ln 2), rounded up */

static int sample_says_raw(const uint8_t *src, size_t len) {
  if (len < SAMPLE_MIN_LEN) return 0;
  uint32_t c[4][256], count[256];
  memset(c, 0, sizeof c);
  size_t n = 0;
  const size_t pieces = len / SAMPLE_STRIDE < SAMPLE_MAX_PIECES
                            ? len / SAMPLE_STRIDE
                            : SAMPLE_MAX_PIECES;
  const size_t stride = len / pieces;
  for (size_t k = 0; k < pieces; k++) {
    hist_add(src + k * stride, SAMPLE_PIECE, c);
    n += SAMPLE_PIECE;
  }
  hist_sum(c, count);
  uint64_t sum_clogc = 0; /* sum of count * log2(count), 1/256 bit */
  uint32_t used = 0;
  for (unsigned s = 0; s < 256; s++)
    if (count[s]) {
      sum_clogc += (uint64_t)count[s] * log2_fix8(count[s]);
      used++;
    }
  const uint64_t bits256 = (uint64_t)n * log2_fix8((uint32_t)n) - sum_clogc +
                           (uint64_t)(used - 1) * MILLER_MADOW256;
  return bits256 >= (uint64_t)n * SAMPLE_RAW_BITS256;
}

/* The scalar encoder (the reference; the AVX2 loops above give the same
 * bytes and give up at the same point). A block's stream is coded
 * backwards from hi towards lo, lane i mod K, every lane starting at L:
 * enc_begin codes the last len % K symbols (decoded last), the bulk the
 * whole groups of K, and enc_end puts the K final states in front, or
 * leaves p NULL when the stream does not fit. */
static void enc_begin(enc_block *e) {
  const unsigned lanes = e->lanes;
  e->ok = e->hi > e->lo && (size_t)(e->hi - e->lo) >= 2 * lanes;
  for (unsigned j = 0; j < lanes; j++) e->x[j] = STATE_L;
  e->left = e->len & ~(size_t)(lanes - 1);
  const enc_sym *const tab = e->tab;
  uint8_t *p = e->hi;
  if (e->ok)
    for (size_t j = e->len - e->left; j-- > 0;)
      ENC(e->x[j], e->src[e->left + j]);
  e->q = p;
}

static void enc_bulk_scalar(enc_block *e) {
  const unsigned lanes = e->lanes;
  const enc_sym *const tab = e->tab;
  uint8_t *p = e->q;
  for (; e->ok && e->left > 0; e->left -= lanes) {
    if ((size_t)(p - e->lo) < 2 * lanes) { /* a word per lane */
      e->ok = 0;
      break;
    }
    const uint8_t *const g = e->src + e->left - lanes;
    for (unsigned j = lanes; j-- > 0;) ENC(e->x[j], g[j]);
  }
  e->q = p;
}

static void enc_end(enc_block *e) {
  const size_t states = 4 * (size_t)e->lanes;
  if (!e->ok || (size_t)(e->q - e->lo) < states) return;
  e->p = e->q - states;
  for (unsigned j = 0; j < e->lanes; j++) alcm_st32(e->p + 4 * j, e->x[j]);
}

/* Decide a block's mode (sampled_raw: sample_says_raw() of the block);
 * for RANS also its lanes, table and coder tables. RANS32 (32 lanes:
 * four independent chains, 96 more state bytes) where the caller asks
 * for it and the block is long enough for the states to cost little. */
static void encode_plan(enc_block *b, const uint8_t *src, size_t len,
                        int simd, int sampled_raw, int lanes32) {
  b->src = src;
  b->len = len;
  b->mode = MODE_RAW;
  b->lanes = LANES;
  b->p = NULL;
  if (sampled_raw) return;
  uint32_t count[256];
  histogram(src, len, count, simd);
  symbol_set u;
  const unsigned used = used_set(count, &u);
  unsigned s;
  b->first = 256;
  FOR_EACH_USED(s, &u) {
    if (b->first == 256) b->first = s;
    b->last = s;
  }
  if (used == 1) {
    b->mode = MODE_CONST;
    return;
  }
  normalize(count, (uint32_t)len, &u, b->freq);
  b->table = table_write(NULL, 0, b->freq, b->first, b->last);
  b->lanes = lanes32 && len >= RANS32_MIN_LEN ? LANES32 : LANES;
  if (rans_estimate(count, b->freq, &u, b->table, b->lanes) +
          (len >> GAIN_SHIFT) >=
      BLOCK_HEADER_SIZE + len)
    return;
  b->mode = MODE_RANS;
  uint32_t start = 0;
  FOR_EACH_USED(s, &u) {
    enc_init(&b->tab[s], start, b->freq[s]);
    start += b->freq[s];
  }
#if ALCM_RANS_X86
  if (simd) enc_vec_init(&b->vt, b->tab, b->freq, b->first, b->last);
  if (simd > 1) {
    if (b->last - b->first < WINDOW)
      for (unsigned i = 0; i < WINDOW; i++) {
        const unsigned c = b->first + i;
        b->wpk[i] = c <= b->last ? b->vt.pk[c] : 0;
        b->wrcp[i] = c <= b->last ? b->vt.rcp[c] : 0;
      }
  }
#else
  (void)simd;
#endif
}

/* Head of a RANS block: header, table, stream length. */
static size_t rans_head(const enc_block *b) {
  return BLOCK_HEADER_SIZE + b->table + 4;
}

#if ALCM_RANS_X86
/* The AVX-512 table kind a block needs (its range of symbols). */
static int e512_kind(const enc_block *b) {
  const unsigned range = b->last - b->first;
  return range < WINDOW / 2 ? E512_NARROW
         : range < WINDOW   ? E512_WIDE
                            : E512_NONE;
}
#endif

/* Code the streams of the RANS blocks among b[0..n) into their areas
 * [lo, hi), setting p. simd: 0 scalar, 1 AVX2, 2 AVX-512 (the AVX2 code
 * then finishes: the last steps of a stream that runs out of room). */
static void encode_streams(enc_block *b, size_t n, int simd) {
  enc_block *r[GROUP]; /* the 8-lane RANS blocks */
  size_t k = 0;
  int kind = E512_NARROW; /* the 8-lane blocks': the widest any needs */
  for (size_t i = 0; i < n; i++) {
    if (b[i].mode != MODE_RANS) continue;
    enc_begin(&b[i]);
#if ALCM_RANS_X86
    const int w = simd > 1 ? e512_kind(&b[i]) : E512_NONE;
    if (simd && b[i].lanes == LANES) {
      r[k++] = &b[i];
      kind = w > kind ? w : kind;
      continue;
    }
    if (simd) {
      e512_32_run(&b[i], w);
      enc_bulk_avx2_32(&b[i]);
      continue;
    }
#endif
    enc_bulk_scalar(&b[i]);
  }
#if ALCM_RANS_X86
  e512_side_run(r, k, kind);
  enc_bulk_avx2_side(r, k);
  for (size_t i = 0; i < k; i++) enc_bulk_avx2(r[i]); /* out of room: ok = 0 */
#else
  (void)simd, (void)r, (void)k, (void)kind;
#endif
  for (size_t i = 0; i < n; i++)
    if (b[i].mode == MODE_RANS) enc_end(&b[i]);
}

/* Write block b at dst (cap bytes); 0 if it does not fit. A RANS block
 * whose stream did not fit, or does not beat RAW, goes RAW. The stream
 * lies above dst + its head, so it moves down. */
static size_t encode_emit(uint8_t *dst, size_t cap, const enc_block *b) {
  const size_t raw_total = BLOCK_HEADER_SIZE + b->len;
  switch (b->mode) {
  case MODE_CONST:
    if (cap < BLOCK_HEADER_SIZE + 1) return 0;
    put_header(dst, MODE_CONST, b->len);
    dst[BLOCK_HEADER_SIZE] = (uint8_t)b->first;
    return BLOCK_HEADER_SIZE + 1;
  case MODE_RANS: {
    const size_t head = rans_head(b);
    const size_t stream = b->p ? (size_t)(b->hi - b->p) : 0;
    if (!b->p || head + stream >= raw_total || head + stream > cap) break;
    memmove(dst + head, b->p, stream);
    put_header(dst, b->lanes == LANES32 ? MODE_RANS32 : MODE_RANS, b->len);
    table_write(dst + BLOCK_HEADER_SIZE, b->table, b->freq, b->first, b->last);
    alcm_st32(dst + head - 4, (uint32_t)stream);
    return head + stream;
  }
  default:
    break;
  }
  return raw_block(dst, cap, b->src, b->len);
}
static size_t rans_bound(size_t src_size) {
  const size_t blocks = src_size / block_size(LEVEL_MIN) + 1;
  const size_t extra = blocks * BLOCK_HEADER_SIZE;
  return src_size > SIZE_MAX - extra ? 0 : src_size + extra;
}

/* Returns 0 for an empty input (nothing to store), a bad level, or when
 * the payload does not fit dst_capacity; the caller then stores raw.
 *
 * Blocks go GROUP at a time: planned, their RANS streams coded side by
 * side, then written in order. The decoder takes the 8-lane RANS blocks
 * GROUP at a time, side by side too; one left without GROUP - 1
 * neighbours would decode (and code) at a fraction of the speed, so a
 * first pass counts the blocks that will likely be RANS (those the
 * sample does not call RAW) and the last count % GROUP of them, or all
 * of them when there are fewer than GROUP, use 32 lanes: four chains of
 * their own. (A guess that turns out wrong costs speed, never bytes.)
 * Block k's stream is coded into the place it would start at if every
 * block before it in the group came out RAW (the most any block takes),
 * so it only ever moves down, never over a later block's stream, and
 * needs no buffer of its own. */
/* Blocks whose sample result the first pass keeps (64 per word; later
 * blocks sample again). */
#define SAMPLED_WORDS 8u

static size_t compress_with(void *dst, size_t dst_capacity, const void *src,
                            size_t src_size, int level, int simd) {
  if (level < LEVEL_MIN || level > LEVEL_MAX || src_size == 0) return 0;
  uint8_t *const d = dst;
  const uint8_t *const s = src;
  const size_t bs = block_size(level);
  enc_block b[GROUP];
  uint64_t sampled_raw[SAMPLED_WORDS] = {0}; /* first blocks' samples */
  size_t likely = 0, seen = 0;              /* likely RANS: all, so far */
  for (size_t pos = 0, i = 0; pos < src_size; pos += bs, i++) {
    const size_t len = src_size - pos < bs ? src_size - pos : bs;
    const int raw = sample_says_raw(s + pos, len);
    if (i < 64 * SAMPLED_WORDS) sampled_raw[i / 64] |= (uint64_t)raw << i % 64;
    likely += !raw;
  }
  const size_t lanes8 = likely < GROUP ? 0 : likely - likely % GROUP;
  size_t out = 0, i = 0; /* i: block index */
  for (size_t pos = 0; pos < src_size;) {
    size_t n = 0, worst = 0; /* worst: the group's size if all RAW */
    while (n < GROUP && pos < src_size) {
      const size_t len = src_size - pos < bs ? src_size - pos : bs;
      if (n > 0 && worst + BLOCK_HEADER_SIZE + len > dst_capacity - out) break;
      const size_t base = out + worst; /* <= dst_capacity */
      enc_block *const e = &b[n++];
      const int raw = i < 64 * SAMPLED_WORDS
                          ? (int)(sampled_raw[i / 64] >> i % 64 & 1)
                          : sample_says_raw(s + pos, len);
      encode_plan(e, s + pos, len, simd, raw, !raw && seen >= lanes8);
      seen += !raw;
      i++;
      if (e->mode == MODE_RANS) {
        const size_t room = dst_capacity - base;
        const size_t hi = BLOCK_HEADER_SIZE + len < room
                              ? BLOCK_HEADER_SIZE + len : room;
        e->lo = d + base + (rans_head(e) < hi ? rans_head(e) : hi);
        e->hi = d + base + hi;
      }
      worst += BLOCK_HEADER_SIZE + len;
      pos += len;
    }
    encode_streams(b, n, simd);
    for (size_t k = 0; k < n; k++) {
      const size_t got = encode_emit(d + out, dst_capacity - out, &b[k]);
      if (got == 0) return 0;
      out += got;
    }
  }
  return out;
}

static size_t rans_compress(void *dst, size_t dst_capacity, const void *src,
                            size_t src_size, int level) {
  return compress_with(dst, dst_capacity, src, src_size, level,
                       simd_level());
}

/* Test hook (internal.h): the same encoder with the SIMD path off or on. */
size_t alcm_rans_compress_path(void *dst, size_t dst_capacity,
                               const void *src, size_t src_size, int level,
                               int simd) {
  const int have = simd_level();
  return compress_with(dst, dst_capacity, src, src_size, level,
                       simd < have ? (simd < 0 ? 0 : simd) : have);
}

/* ---- decoder (spec "rans payload", "Compliance") --------------------- */

/* RANS blocks decoded side by side: eight tables (128 KiB, mostly in L2)
 * feed the eight chains of the AVX-512 loop below; the AVX2 loops take
 * them four at a time. */
#define DEC_GROUP 8

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
  uint32_t *d = dtab; /* in this form gcc fills it 4 entries per store */
  for (unsigned s = first; s <= last; s++) {
    const uint32_t f = freq[s], v = s | (f << 20);
    for (uint32_t k = 0; k < f; k++) d[k] = v + (k << 8);
    d += f;
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

/* One RANS block being decoded: where its symbols go, its stream, table
 * and lane states. The bulk loops below advance it 8 symbols at a time;
 * stream_finish() does the rest with checked reads. */
typedef struct {
  uint8_t *out;
  size_t done, n; /* symbols decoded, block length */
  const uint8_t *p, *end;
  const uint32_t *dtab;
  unsigned lanes; /* 8 (RANS) or 32 (RANS32) */
  uint32_t x[LANES32];
} rans_stream;

/* The bulk of a RANS32 block, lane by lane (the scalar reference). */
static void bulk_scalar32(rans_stream *s) {
  const uint8_t *p = s->p;
  const uint8_t *const end = s->end;
  const uint32_t *const dtab = s->dtab;
  for (; s->n - s->done >= LANES32 && (size_t)(end - p) >= 2 * LANES32;
       s->done += LANES32) {
    uint8_t *const o = s->out + s->done;
    for (unsigned j = 0; j < LANES32; j++) DEC(s->x[j], o[j]);
  }
  s->p = p;
}

static void stream_bulk_scalar(rans_stream *s) {
  if (s->lanes == LANES32) {
    bulk_scalar32(s);
    return;
  }
  const size_t whole = (s->n - s->done) & ~(size_t)(LANES - 1);
  s->done += bulk_scalar(s->out + s->done, whole, &s->p, s->end, s->dtab, s->x);
}

/* The last few symbols, and all of a stream that ran short; then the
 * compliance checks. 0 on success. */
static int stream_finish(rans_stream *s) {
  for (size_t i = s->done; i < s->n; i++)
    if (dec_checked(&s->x[i & (s->lanes - 1)], s->out + i, &s->p, s->end,
                    s->dtab))
      return 1;
  if (s->p != s->end) return 1;
  for (unsigned j = 0; j < s->lanes; j++)
    if (s->x[j] != STATE_L) return 1;
  return 0;
}

#if ALCM_RANS_X86
/* AVX2 decoder: the 8 lanes of a block are the 8 lanes of one vector
 * (ryg_rans rans_word_sse41.h, widened). Per step: gather the table
 * entries, multiply-add, then the refill: lanes with x < L take the next
 * words in lane order, so lane j takes word popcount(refills below j),
 * an index that REFILL_LUT holds for all 256 masks (3 bits per lane,
 * pulled out by a variable shift; vpermd ignores the higher bits). Same
 * arithmetic as DEC, so the same acceptance. One step is a ~40-cycle
 * dependency chain (the gather alone ~25), so the loops below run up to
 * four blocks side by side. */
static const uint32_t REFILL_LUT[256] = {
    0x000000, 0x000000, 0x000000, 0x000008, 0x000000, 0x000040,
    0x000040, 0x000088, 0x000000, 0x000200, 0x000200, 0x000408,
    0x000200, 0x000440, 0x000440, 0x000688, 0x000000, 0x001000,
    0x001000, 0x002008, 0x001000, 0x002040, 0x002040, 0x003088,
    0x001000, 0x002200, 0x002200, 0x003408, 0x002200, 0x003440,
    0x003440, 0x004688, 0x000000, 0x008000, 0x008000, 0x010008,
    0x008000, 0x010040, 0x010040, 0x018088, 0x008000, 0x010200,
    0x010200, 0x018408, 0x010200, 0x018440, 0x018440, 0x020688,
    0x008000, 0x011000, 0x011000, 0x01a008, 0x011000, 0x01a040,
    0x01a040, 0x023088, 0x011000, 0x01a200, 0x01a200, 0x023408,
    0x01a200, 0x023440, 0x023440, 0x02c688, 0x000000, 0x040000,
    0x040000, 0x080008, 0x040000, 0x080040, 0x080040, 0x0c0088,
    0x040000, 0x080200, 0x080200, 0x0c0408, 0x080200, 0x0c0440,
    0x0c0440, 0x100688, 0x040000, 0x081000, 0x081000, 0x0c2008,
    0x081000, 0x0c2040, 0x0c2040, 0x103088, 0x081000, 0x0c2200,
    0x0c2200, 0x103408, 0x0c2200, 0x103440, 0x103440, 0x144688,
    0x040000, 0x088000, 0x088000, 0x0d0008, 0x088000, 0x0d0040,
    0x0d0040, 0x118088, 0x088000, 0x0d0200, 0x0d0200, 0x118408,
    0x0d0200, 0x118440, 0x118440, 0x160688, 0x088000, 0x0d1000,
    0x0d1000, 0x11a008, 0x0d1000, 0x11a040, 0x11a040, 0x163088,
    0x0d1000, 0x11a200, 0x11a200, 0x163408, 0x11a200, 0x163440,
    0x163440, 0x1ac688, 0x000000, 0x200000, 0x200000, 0x400008,
    0x200000, 0x400040, 0x400040, 0x600088, 0x200000, 0x400200,
    0x400200, 0x600408, 0x400200, 0x600440, 0x600440, 0x800688,
    0x200000, 0x401000, 0x401000, 0x602008, 0x401000, 0x602040,
    0x602040, 0x803088, 0x401000, 0x602200, 0x602200, 0x803408,
    0x602200, 0x803440, 0x803440, 0xa04688, 0x200000, 0x408000,
    0x408000, 0x610008, 0x408000, 0x610040, 0x610040, 0x818088,
    0x408000, 0x610200, 0x610200, 0x818408, 0x610200, 0x818440,
    0x818440, 0xa20688, 0x408000, 0x611000, 0x611000, 0x81a008,
    0x611000, 0x81a040, 0x81a040, 0xa23088, 0x611000, 0x81a200,
    0x81a200, 0xa23408, 0x81a200, 0xa23440, 0xa23440, 0xc2c688,
    0x200000, 0x440000, 0x440000, 0x680008, 0x440000, 0x680040,
    0x680040, 0x8c0088, 0x440000, 0x680200, 0x680200, 0x8c0408,
    0x680200, 0x8c0440, 0x8c0440, 0xb00688, 0x440000, 0x681000,
    0x681000, 0x8c2008, 0x681000, 0x8c2040, 0x8c2040, 0xb03088,
    0x681000, 0x8c2200, 0x8c2200, 0xb03408, 0x8c2200, 0xb03440,
    0xb03440, 0xd44688, 0x440000, 0x688000, 0x688000, 0x8d0008,
    0x688000, 0x8d0040, 0x8d0040, 0xb18088, 0x688000, 0x8d0200,
    0x8d0200, 0xb18408, 0x8d0200, 0xb18440, 0xb18440, 0xd60688,
    0x688000, 0x8d1000, 0x8d1000, 0xb1a008, 0x8d1000, 0xb1a040,
    0xb1a040, 0xd63088, 0x8d1000, 0xb1a200, 0xb1a200, 0xd63408,
    0xb1a200, 0xd63440, 0xd63440, 0xfac688,
};


AVX2_INLINE __m256i avx2_load_states(const rans_stream *s) {
  return _mm256_loadu_si256((const __m256i *)(const void *)s->x);
}

AVX2_INLINE void avx2_store_states(rans_stream *s, __m256i x) {
  _mm256_storeu_si256((__m256i *)(void *)s->x, x);
}

/* The decoding arithmetic of 8 lanes before the refill: the slot's table
 * entry *e (symbol in its low byte), x = freq * (x >> 12) + bias. */
AVX2_INLINE __m256i dec_code(__m256i x, const uint32_t *dtab, __m256i *e) {
  const __m256i mask12 = _mm256_set1_epi32(SCALE - 1);
  *e = _mm256_i32gather_epi32((const int *)(const void *)dtab,
                              _mm256_and_si256(x, mask12), 4);
  const __m256i freq = _mm256_srli_epi32(*e, 20);
  const __m256i bias = _mm256_and_si256(_mm256_srli_epi32(*e, 8), mask12);
  return _mm256_add_epi32(_mm256_mullo_epi32(freq, _mm256_srli_epi32(x, 12)),
                          bias);
}

/* One step of 8 symbols; needs 16 readable bytes at *pp. */
AVX2_INLINE __m256i avx2_step(__m256i x, const uint32_t *dtab,
                              const uint8_t **pp, uint8_t *out) {
  __m256i e;
  x = dec_code(x, dtab, &e);
  const __m256i r = _mm256_cmpgt_epi32(_mm256_set1_epi32(STATE_L), x);
  const unsigned m = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(r));
  const __m256i w = _mm256_cvtepu16_epi32(
      _mm_loadu_si128((const __m128i *)(const void *)*pp));
  const __m256i idx =
      _mm256_srlv_epi32(_mm256_set1_epi32((int)REFILL_LUT[m]),
                        _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21));
  const __m256i words = _mm256_and_si256(_mm256_permutevar8x32_epi32(w, idx), r);
  x = _mm256_or_si256(
      _mm256_sllv_epi32(x, _mm256_and_si256(r, _mm256_set1_epi32(16))), words);
  *pp += 2 * (unsigned)__builtin_popcount(m);
  /* Symbols: byte 0 of each lane, gathered into the low 8 bytes. */
  const __m256i b = _mm256_shuffle_epi8(
      e, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                          -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1,
                          -1, -1, -1, -1));
  const __m256i c =
      _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
  _mm_storel_epi64((__m128i *)(void *)out, _mm256_castsi256_si128(c));
  return x;
}

/* Room for one more unchecked step: 8 symbols and 16 stream bytes. */
static inline int step_ok(const rans_stream *s) {
  return s->n - s->done >= LANES && (size_t)(s->end - s->p) >= 2 * LANES;
}

static AVX2_FN void stream_bulk_avx2(rans_stream *s) {
  __m256i x = avx2_load_states(s);
  for (; step_ok(s); s->done += LANES)
    x = avx2_step(x, s->dtab, &s->p, s->out + s->done);
  avx2_store_states(s, x);
}

static AVX2_FN void stream_bulk_avx2_x2(rans_stream *a, rans_stream *b) {
  __m256i xa = avx2_load_states(a), xb = avx2_load_states(b);
  for (; step_ok(a) && step_ok(b); a->done += LANES, b->done += LANES) {
    xa = avx2_step(xa, a->dtab, &a->p, a->out + a->done);
    xb = avx2_step(xb, b->dtab, &b->p, b->out + b->done);
  }
  avx2_store_states(a, xa);
  avx2_store_states(b, xb);
}

static AVX2_FN void stream_bulk_avx2_x4(rans_stream *a, rans_stream *b,
                                        rans_stream *c, rans_stream *d) {
  __m256i xa = avx2_load_states(a), xb = avx2_load_states(b);
  __m256i xc = avx2_load_states(c), xd = avx2_load_states(d);
  for (; step_ok(a) && step_ok(b) && step_ok(c) && step_ok(d);
       a->done += LANES, b->done += LANES, c->done += LANES,
       d->done += LANES) {
    xa = avx2_step(xa, a->dtab, &a->p, a->out + a->done);
    xb = avx2_step(xb, b->dtab, &b->p, b->out + b->done);
    xc = avx2_step(xc, c->dtab, &c->p, c->out + c->done);
    xd = avx2_step(xd, d->dtab, &d->p, d->out + d->done);
  }
  avx2_store_states(a, xa);
  avx2_store_states(b, xb);
  avx2_store_states(c, xc);
  avx2_store_states(d, xd);
}

static AVX2_FN void stream_bulk_avx2_x3(rans_stream *a, rans_stream *b,
                                        rans_stream *c) {
  __m256i xa = avx2_load_states(a), xb = avx2_load_states(b);
  __m256i xc = avx2_load_states(c);
  for (; step_ok(a) && step_ok(b) && step_ok(c);
       a->done += LANES, b->done += LANES, c->done += LANES) {
    xa = avx2_step(xa, a->dtab, &a->p, a->out + a->done);
    xb = avx2_step(xb, b->dtab, &b->p, b->out + b->done);
    xc = avx2_step(xc, c->dtab, &c->p, c->out + c->done);
  }
  avx2_store_states(a, xa);
  avx2_store_states(b, xb);
  avx2_store_states(c, xc);
}

/* The 8-lane blocks r[0..k) side by side: as many at once as are left
 * (each loop ends when one of its blocks does), the last alone. */
static AVX2_FN void stream_bulk_avx2_side(rans_stream **r, size_t k) {
  for (;;) {
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
      if (step_ok(r[i])) r[m++] = r[i];
    k = m;
    if (k >= 4)
      stream_bulk_avx2_x4(r[0], r[1], r[2], r[3]);
    else if (k == 3)
      stream_bulk_avx2_x3(r[0], r[1], r[2]);
    else if (k == 2)
      stream_bulk_avx2_x2(r[0], r[1]);
    else
      break;
  }
  if (k == 1) stream_bulk_avx2(r[0]);
}

/* A RANS32 block: lanes 0..7, 8..15, 16..23, 24..31 per group of 32
 * symbols, each vector taking its refill words in lane order after the
 * previous one's, as the scalar code does lane by lane. The four chains
 * are independent but for the stream pointer. */
static AVX2_FN void stream_bulk_avx2_32(rans_stream *s) {
  __m256i x[4];
  for (unsigned v = 0; v < 4; v++)
    x[v] = _mm256_loadu_si256((const __m256i *)(const void *)(s->x + 8 * v));
  for (; s->n - s->done >= LANES32 && (size_t)(s->end - s->p) >= 2 * LANES32;
       s->done += LANES32) {
    uint8_t *const o = s->out + s->done;
    x[0] = avx2_step(x[0], s->dtab, &s->p, o);
    x[1] = avx2_step(x[1], s->dtab, &s->p, o + 8);
    x[2] = avx2_step(x[2], s->dtab, &s->p, o + 16);
    x[3] = avx2_step(x[3], s->dtab, &s->p, o + 24);
  }
  for (unsigned v = 0; v < 4; v++)
    _mm256_storeu_si256((__m256i *)(void *)(s->x + 8 * v), x[v]);
}

/* AVX-512 decoder (AVX-512 F and VL): the same step on the same 8-lane
 * ymm vectors, with the refill done by mask instructions: the lanes
 * below L form a k-mask, vpexpandd hands them the next words in lane
 * order (what REFILL_LUT and vpermd do above, without the table load,
 * the broadcast and the shift), the pointer moves by the mask's
 * popcount, vpmovdb packs the symbols. Same arithmetic as DEC again.
 * The 32 vector registers hold eight blocks' chains at once, and the
 * loops keep pointers and counts in registers (the AVX2 loops reload
 * them from the rans_stream after every store of symbols, which may
 * alias it). On the Emerald Rapids test host (2.9 GHz), bf16 exponent
 * plane of faceres-deep: AVX2 ~1100 MB/s; this step, four blocks ~1270;
 * eight blocks ~1560 MB/s, about 15 cycles per 8-symbol step, half of
 * it the gather (~7 cycles each however it is fed). Measured and
 * dropped: sixteen blocks (spills, ~800 MB/s), the masked EVEX gather
 * (-7 %), vpermb for the symbols, RANS32 as two zmm vectors (+1 %, in
 * the noise), a byte table plus a second gather for freq and start
 * (two gathers cost more than the 128 KiB of tables). */
AVX512_INLINE __m256i avx512_step(__m256i x, const uint32_t *dtab,
                                  const uint8_t **pp, uint8_t *out) {
  __m256i e;
  x = dec_code(x, dtab, &e);
  const __mmask8 r = _mm256_cmplt_epu32_mask(x, _mm256_set1_epi32(STATE_L));
  const __m256i w = _mm256_cvtepu16_epi32(
      _mm_loadu_si128((const __m128i *)(const void *)*pp));
  x = _mm256_or_si256(_mm256_mask_slli_epi32(x, r, x, 16),
                      _mm256_maskz_expand_epi32(r, w));
  *pp += 2 * (unsigned)__builtin_popcount((unsigned)r);
  _mm_storel_epi64((__m128i *)(void *)out, _mm256_cvtepi32_epi8(e));
  return x;
}

/* k 8-lane blocks side by side (k a constant in each caller, so the
 * arrays live in registers): runs as many unchecked steps as every block
 * has room for (8 symbols, 16 stream bytes each), then looks again, until
 * one block has no room left. */
AVX512_INLINE void avx512_side(rans_stream *const *r, const unsigned k) {
  __m256i x[DEC_GROUP];
  const uint8_t *p[DEC_GROUP];
  const uint32_t *dt[DEC_GROUP];
  uint8_t *o[DEC_GROUP];
  for (unsigned i = 0; i < k; i++) {
    x[i] = avx2_load_states(r[i]);
    p[i] = r[i]->p;
    dt[i] = r[i]->dtab;
    o[i] = r[i]->out + r[i]->done;
  }
  for (;;) {
    size_t steps = SIZE_MAX;
    for (unsigned i = 0; i < k; i++) {
      const size_t a = (r[i]->n - (size_t)(o[i] - r[i]->out)) / LANES;
      const size_t b = (size_t)(r[i]->end - p[i]) / (2 * LANES);
      steps = a < steps ? a : steps;
      steps = b < steps ? b : steps;
    }
    if (steps == 0) break;
    for (; steps; steps--)
      for (unsigned i = 0; i < k; i++) {
        x[i] = avx512_step(x[i], dt[i], &p[i], o[i]);
        o[i] += LANES;
      }
  }
  for (unsigned i = 0; i < k; i++) {
    avx2_store_states(r[i], x[i]);
    r[i]->p = p[i];
    r[i]->done = (size_t)(o[i] - r[i]->out);
  }
}

static AVX512_FN void avx512_side1(rans_stream *const *r) {
  avx512_side(r, 1);
}
static AVX512_FN void avx512_side2(rans_stream *const *r) {
  avx512_side(r, 2);
}
static AVX512_FN void avx512_side3(rans_stream *const *r) {
  avx512_side(r, 3);
}
static AVX512_FN void avx512_side4(rans_stream *const *r) {
  avx512_side(r, 4);
}
static AVX512_FN void avx512_side6(rans_stream *const *r) {
  avx512_side(r, 6);
}
static AVX512_FN void avx512_side8(rans_stream *const *r) {
  avx512_side(r, 8);
}

/* The 8-lane blocks r[0..k) side by side, as stream_bulk_avx2_side. */
static AVX512_FN void stream_bulk_avx512_side(rans_stream **r, size_t k) {
  for (;;) {
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
      if (step_ok(r[i])) r[m++] = r[i];
    k = m;
    if (k >= 8)
      avx512_side8(r);
    else if (k >= 6)
      avx512_side6(r);
    else if (k >= 4)
      avx512_side4(r);
    else if (k == 3)
      avx512_side3(r);
    else if (k == 2)
      avx512_side2(r);
    else if (k == 1)
      avx512_side1(r);
    else
      break;
  }
}

/* A RANS32 block: four ymm vectors per 32 symbols, as in the AVX2 code
 * (~1520 MB/s against ~1330 there). */
static AVX512_FN void stream_bulk_avx512_32(rans_stream *s) {
  __m256i x[4];
  for (unsigned v = 0; v < 4; v++)
    x[v] = _mm256_loadu_si256((const __m256i *)(const void *)(s->x + 8 * v));
  const uint8_t *p = s->p;
  const uint32_t *const dt = s->dtab;
  uint8_t *o = s->out + s->done;
  for (;;) {
    size_t steps = (s->n - (size_t)(o - s->out)) / LANES32;
    const size_t b = (size_t)(s->end - p) / (2 * LANES32);
    steps = b < steps ? b : steps;
    if (steps == 0) break;
    for (; steps; steps--, o += LANES32)
      for (unsigned v = 0; v < 4; v++)
        x[v] = avx512_step(x[v], dt, &p, o + 8 * v);
  }
  for (unsigned v = 0; v < 4; v++)
    _mm256_storeu_si256((__m256i *)(void *)(s->x + 8 * v), x[v]);
  s->p = p;
  s->done = (size_t)(o - s->out);
}
#endif

/* Decode the pending blocks (at most DEC_GROUP), side by side where the
 * host allows (simd: 0 scalar, 1 AVX2, 2 AVX-512). 0 when all decode and pass the final checks. */
static int streams_run(rans_stream *s, size_t count, int simd) {
#if ALCM_RANS_X86
  if (simd) {
    rans_stream *r[DEC_GROUP]; /* the 8-lane ones, side by side */
    size_t k = 0;
    for (size_t i = 0; i < count; i++)
      if (s[i].lanes == LANES)
        r[k++] = &s[i];
      else if (simd >= 2)
        stream_bulk_avx512_32(&s[i]);
      else
        stream_bulk_avx2_32(&s[i]);
    if (simd >= 2)
      stream_bulk_avx512_side(r, k);
    else
      stream_bulk_avx2_side(r, k);
  }
#else
  (void)simd;
#endif
  int bad = 0;
  for (size_t k = 0; k < count; k++) {
    stream_bulk_scalar(&s[k]);
    bad |= stream_finish(&s[k]);
  }
  return bad;
}

/* Parse one block at *pp into out[0..avail). RAW and CONSTANT blocks are
 * written at once; a RANS block's table goes into dtab and its stream
 * into *s (s->n = 0 for the others). Advances *pp; returns the block
 * length, or 0 on any error. */
static size_t parse_block(const uint8_t **pp, const uint8_t *end,
                          uint8_t *out, size_t avail, uint32_t dtab[SCALE],
                          rans_stream *s) {
  const uint8_t *p = *pp;
  s->n = 0;
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
  case MODE_RANS:
  case MODE_RANS32: {
    const unsigned lanes = mode == MODE_RANS32 ? LANES32 : LANES;
    if (table_read(&p, end, dtab) != 0) return 0;
    if ((size_t)(end - p) < 4) return 0;
    const size_t stream = alcm_le32(p);
    p += 4;
    if ((size_t)(end - p) < stream || stream < 4 * (size_t)lanes) return 0;
    for (unsigned j = 0; j < lanes; j++) {
      s->x[j] = alcm_le32(p + 4 * j);
      if (!state_ok(s->x[j])) return 0;
    }
    s->out = out;
    s->done = 0;
    s->n = len;
    s->lanes = lanes;
    s->p = p + 4 * (size_t)lanes;
    s->end = p + stream;
    s->dtab = dtab;
    p += stream;
    break;
  }
  default:
    return 0;
  }
  *pp = p;
  return len;
}


static int decompress_with(void *dst, size_t dst_size, const void *src,
                           size_t src_size, int simd) {
  if (dst_size == 0) return src_size != 0; /* the empty payload */
  uint8_t *const out = dst;
  const uint8_t *p = src;
  const uint8_t *const end = p + src_size;
  uint32_t dtab[DEC_GROUP][SCALE];
  rans_stream s[DEC_GROUP];
  size_t done = 0, pending = 0;
  while (done < dst_size) {
    const size_t k = parse_block(&p, end, out + done, dst_size - done,
                                 dtab[pending], &s[pending]);
    if (k == 0) return 1;
    done += k;
    /* RANS32 blocks have four chains of their own: decoded at once. */
    if (s[pending].n && s[pending].lanes == LANES32) {
      if (streams_run(&s[pending], 1, simd)) return 1;
    } else if (s[pending].n && ++pending == DEC_GROUP) {
      if (streams_run(s, pending, simd)) return 1;
      pending = 0;
    }
  }
  if (streams_run(s, pending, simd)) return 1;
  return p != end;
}

/* Exactly dst_size bytes from exactly src_size bytes, else non-zero. */
static int rans_decompress(void *dst, size_t dst_size, const void *src,
                           size_t src_size) {
  return decompress_with(dst, dst_size, src, src_size, simd_level());
}

/* Test hook (internal.h): the same decoder on the path asked for, or the
 * best the host has below it. */
int alcm_rans_decompress_path(void *dst, size_t dst_size, const void *src,
                              size_t src_size, int simd) {
  const int host = simd_level();
  return decompress_with(dst, dst_size, src, src_size,
                         simd < host ? (simd < 0 ? 0 : simd) : host);
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
