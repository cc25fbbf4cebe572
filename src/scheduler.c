/*
 * scheduler.c - the pruning-threshold scheduler across successive
 * checkpoints of one run, and its serialized state (spec/adaptive.md
 * "Scheduler").
 *
 * The source documents say both "CAQ improving: threshold *= decay (more
 * aggressive)" and that the threshold is the pruning percentile, where a
 * smaller value prunes less. ALCM follows the stated intent: a rising CAQ
 * trend prunes more (threshold / decay), a falling one prunes less
 * (threshold * decay).
 */
#include <math.h>

#include "adaptive.h"

#define SCHED_MIN_THRESHOLD 1e-4
static const uint8_t SCHED_MAGIC[8] = {'A', 'L', 'C', 'M', 'S', 'C', 'H', 'D'};
#define SCHED_VERSION 1u

static bool sched_valid(const alcm_sched *s) {
  return s->decay > 0 && s->decay < 1 && s->window >= 2 &&
         s->window <= ALCM_SCHED_WINDOW_MAX && s->count <= s->window &&
         s->min_threshold >= 0 && s->min_threshold <= s->threshold &&
         s->threshold <= s->max_threshold && s->max_threshold <= 1;
}

alcm_status alcm_sched_init(alcm_sched *s, double threshold_init,
                            double decay, unsigned window,
                            double max_threshold, alcm_msg *msg) {
  memset(s, 0, sizeof *s);
  s->threshold = threshold_init;
  s->decay = decay;
  s->window = window;
  s->max_threshold = max_threshold;
  s->min_threshold =
      threshold_init < SCHED_MIN_THRESHOLD ? threshold_init : SCHED_MIN_THRESHOLD;
  if (!sched_valid(s))
    return alcm_fail(msg, ALCM_ERR_ARGUMENT,
                     "scheduler: threshold %g, decay %g, window %u, max %g",
                     threshold_init, decay, window, max_threshold);
  return ALCM_OK;
}

double alcm_sched_trend(const alcm_sched *s) {
  /* Least-squares slope of CAQ against step over the window: less
   * sensitive to one noisy checkpoint than last - first. */
  if (s->count < 2) return 0.0;
  const double n = (double)s->count, xm = (n - 1) / 2;
  double ym = 0;
  for (unsigned i = 0; i < s->count; i++) ym += s->caq[i];
  ym /= n;
  double sxy = 0, sxx = 0;
  for (unsigned i = 0; i < s->count; i++) {
    const double dx = (double)i - xm;
    sxy += dx * (s->caq[i] - ym);
    sxx += dx * dx;
  }
  return sxy / sxx;
}

int alcm_sched_step(alcm_sched *s, double caq) {
  if (!isfinite(caq)) return 0;
  if (s->count == s->window) {
    memmove(s->caq, s->caq + 1, sizeof(double) * (s->window - 1));
    s->count--;
  }
  s->caq[s->count++] = caq;
  s->steps++;
  const double t = alcm_sched_trend(s);
  if (t > 0) {
    s->threshold /= s->decay;
    if (s->threshold > s->max_threshold) s->threshold = s->max_threshold;
    return 1;
  }
  if (t < 0) {
    s->threshold *= s->decay;
    if (s->threshold < s->min_threshold) s->threshold = s->min_threshold;
    return -1;
  }
  return 0;
}

static void put_f64(uint8_t *p, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  alcm_st64(p, u);
}

static double get_f64(const uint8_t *p) {
  const uint64_t u = alcm_le64(p);
  double v;
  memcpy(&v, &u, 8);
  return v;
}

void alcm_sched_save(const alcm_sched *s, uint8_t out[ALCM_SCHED_STATE_SIZE]) {
  memset(out, 0, ALCM_SCHED_STATE_SIZE);
  memcpy(out, SCHED_MAGIC, 8);
  alcm_st32(out + 8, SCHED_VERSION);
  alcm_st32(out + 12, s->window);
  alcm_st32(out + 16, s->count);
  alcm_st64(out + 24, s->steps);
  put_f64(out + 32, s->threshold);
  put_f64(out + 40, s->decay);
  put_f64(out + 48, s->min_threshold);
  put_f64(out + 56, s->max_threshold);
  for (unsigned i = 0; i < s->count; i++) put_f64(out + 64 + 8 * i, s->caq[i]);
}

alcm_status alcm_sched_load(alcm_sched *s, const uint8_t *data, size_t size,
                            alcm_msg *msg) {
  memset(s, 0, sizeof *s);
  if (size != ALCM_SCHED_STATE_SIZE)
    return alcm_fail(msg, ALCM_ERR_SIZE, "scheduler state of %zu bytes", size);
  if (memcmp(data, SCHED_MAGIC, 8))
    return alcm_fail(msg, ALCM_ERR_BAD_MAGIC, "scheduler state");
  if (alcm_le32(data + 8) != SCHED_VERSION)
    return alcm_fail(msg, ALCM_ERR_VERSION, "scheduler state version %u",
                     (unsigned)alcm_le32(data + 8));
  if (alcm_le32(data + 20))
    return alcm_fail(msg, ALCM_ERR_RESERVED, "scheduler state offset 20");
  s->window = alcm_le32(data + 12);
  s->count = alcm_le32(data + 16);
  s->steps = alcm_le64(data + 24);
  s->threshold = get_f64(data + 32);
  s->decay = get_f64(data + 40);
  s->min_threshold = get_f64(data + 48);
  s->max_threshold = get_f64(data + 56);
  if (!sched_valid(s) || s->count > s->steps) {
    memset(s, 0, sizeof *s);
    return alcm_fail(msg, ALCM_ERR_CORRUPT, "scheduler state fields");
  }
  for (unsigned i = 0; i < ALCM_SCHED_WINDOW_MAX; i++) {
    const uint8_t *const p = data + 64 + 8 * i;
    if (i >= s->count) {
      if (!alcm_all_zero(p, 8)) {
        memset(s, 0, sizeof *s);
        return alcm_fail(msg, ALCM_ERR_RESERVED, "scheduler state CAQ %u", i);
      }
      continue;
    }
    s->caq[i] = get_f64(p);
    if (!isfinite(s->caq[i])) {
      memset(s, 0, sizeof *s);
      return alcm_fail(msg, ALCM_ERR_CORRUPT, "scheduler state CAQ %u", i);
    }
  }
  return ALCM_OK;
}
