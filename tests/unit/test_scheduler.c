/* Unit tests for src/scheduler.c and src/caq.c: every step of the CAQ
 * trend rule, the window, the clamps, and the serialized state. */
#include <criterion/criterion.h>
#include <math.h>

#include "adaptive.h"

Test(scheduler, steps_follow_the_trend) {
  alcm_sched s;
  cr_assert_eq(alcm_sched_init(&s, 0.01, 0.95, 5, 0.25, NULL), ALCM_OK);
  /* first CAQ: no trend yet */
  cr_assert_eq(alcm_sched_step(&s, 2.0), 0);
  cr_assert_eq(s.threshold, 0.01);
  /* rising: prune more, threshold / decay */
  cr_assert_eq(alcm_sched_step(&s, 2.2), 1);
  cr_assert_eq(s.threshold, 0.01 / 0.95);
  cr_assert_eq(alcm_sched_step(&s, 2.4), 1);
  cr_assert_eq(s.threshold, 0.01 / 0.95 / 0.95);
  /* 2.0 2.2 2.4 2.1: slope = (-1.5*2 -0.5*2.2 +0.5*2.4 +1.5*2.1)/5 > 0 */
  cr_assert(alcm_sched_trend(&s) > 0);
  cr_assert_eq(alcm_sched_step(&s, 2.1), 1);
  /* 2.0 2.2 2.4 2.1 1.5: slope < 0 -> prune less */
  const double before = s.threshold;
  cr_assert_eq(alcm_sched_step(&s, 1.5), -1);
  cr_assert_eq(s.threshold, before * 0.95);
  cr_assert_eq(s.count, 5);
  /* window slides: 2.2 2.4 2.1 1.5 1.5 */
  cr_assert_eq(alcm_sched_step(&s, 1.5), -1);
  cr_assert_eq(s.count, 5);
  cr_assert_eq(s.caq[0], 2.2);
  cr_assert_eq(s.caq[4], 1.5);
  cr_assert_eq(s.steps, 6);
  /* flat: unchanged */
  alcm_sched f;
  cr_assert_eq(alcm_sched_init(&f, 0.05, 0.95, 5, 0.25, NULL), ALCM_OK);
  for (int i = 0; i < 7; i++) cr_assert_eq(alcm_sched_step(&f, 3.0), 0);
  cr_assert_eq(f.threshold, 0.05);
  /* non-finite CAQ is ignored */
  cr_assert_eq(alcm_sched_step(&f, NAN), 0);
  cr_assert_eq(f.steps, 7);
}

Test(scheduler, clamps) {
  alcm_sched s;
  cr_assert_eq(alcm_sched_init(&s, 0.2, 0.5, 2, 0.25, NULL), ALCM_OK);
  alcm_sched_step(&s, 1);
  alcm_sched_step(&s, 2);
  cr_assert_eq(s.threshold, 0.25); /* 0.4 clamped to max_drop_ratio */
  for (int i = 0; i < 40; i++) alcm_sched_step(&s, 100.0 - i);
  cr_assert_eq(s.threshold, 1e-4); /* floor */
  alcm_msg m;
  cr_assert_eq(alcm_sched_init(&s, 0.3, 0.95, 5, 0.25, &m), ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_sched_init(&s, 0.01, 1.0, 5, 0.25, &m), ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_sched_init(&s, 0.01, 0.95, 1, 0.25, &m), ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_sched_init(&s, 0.01, 0.95, 17, 0.25, &m), ALCM_ERR_ARGUMENT);
  cr_assert_eq(alcm_sched_init(&s, NAN, 0.95, 5, 0.25, &m), ALCM_ERR_ARGUMENT);
}

Test(scheduler, state_round_trip_and_continuation) {
  alcm_sched a, b;
  cr_assert_eq(alcm_sched_init(&a, 0.01, 0.95, 5, 0.25, NULL), ALCM_OK);
  const double caq[7] = {1.0, 1.2, 1.1, 1.4, 1.3, 1.6, 1.2};
  for (int i = 0; i < 4; i++) alcm_sched_step(&a, caq[i]);
  uint8_t buf[ALCM_SCHED_STATE_SIZE];
  alcm_sched_save(&a, buf);
  cr_assert_eq(alcm_sched_load(&b, buf, sizeof buf, NULL), ALCM_OK);
  cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
  /* continuing from the loaded state = never having stopped */
  for (int i = 4; i < 7; i++)
    cr_assert_eq(alcm_sched_step(&a, caq[i]), alcm_sched_step(&b, caq[i]));
  cr_assert_eq(a.threshold, b.threshold);
  uint8_t again[ALCM_SCHED_STATE_SIZE];
  alcm_sched_save(&a, buf);
  alcm_sched_save(&b, again);
  cr_assert_eq(memcmp(buf, again, sizeof buf), 0);
}

Test(scheduler, state_errors) {
  alcm_sched a, b;
  alcm_msg m;
  cr_assert_eq(alcm_sched_init(&a, 0.01, 0.95, 5, 0.25, NULL), ALCM_OK);
  alcm_sched_step(&a, 1.0);
  alcm_sched_step(&a, 2.0);
  uint8_t buf[ALCM_SCHED_STATE_SIZE];
  alcm_sched_save(&a, buf);
  cr_assert_eq(alcm_sched_load(&b, buf, sizeof buf - 1, &m), ALCM_ERR_SIZE);
  buf[0] ^= 1;
  cr_assert_eq(alcm_sched_load(&b, buf, sizeof buf, &m), ALCM_ERR_BAD_MAGIC);
  buf[0] ^= 1;
  buf[8] = 9;
  cr_assert_eq(alcm_sched_load(&b, buf, sizeof buf, &m), ALCM_ERR_VERSION);
  buf[8] = 1;
  buf[20] = 1;
  cr_assert_eq(alcm_sched_load(&b, buf, sizeof buf, &m), ALCM_ERR_RESERVED);
  buf[20] = 0;
  buf[16] = 6; /* count > window */
  cr_assert_eq(alcm_sched_load(&b, buf, sizeof buf, &m), ALCM_ERR_CORRUPT);
  buf[16] = 2;
  buf[64 + 8 * 3] = 1; /* a CAQ slot past count */
  cr_assert_eq(alcm_sched_load(&b, buf, sizeof buf, &m), ALCM_ERR_RESERVED);
  buf[64 + 8 * 3] = 0;
  memset(buf + 64, 0xff, 8); /* NaN CAQ */
  cr_assert_eq(alcm_sched_load(&b, buf, sizeof buf, &m), ALCM_ERR_CORRUPT);
  alcm_sched_save(&a, buf);
  memset(buf + 32, 0xff, 8); /* NaN threshold */
  cr_assert_eq(alcm_sched_load(&b, buf, sizeof buf, &m), ALCM_ERR_CORRUPT);
}

Test(caq, formula_and_cpu_time) {
  cr_assert_eq(alcm_caq(4.0, 1.0), 2.0);
  cr_assert_eq(alcm_caq(3.0, 0.0), 3.0);
  cr_assert_eq(alcm_caq(NAN, 1.0), 0.0);
  cr_assert_eq(alcm_caq(2.0, -1.0), 0.0);
  const double t0 = alcm_cpu_seconds();
  volatile double x = 0;
  for (int i = 0; i < 20000000; i++) x += i * 1e-9;
  const double t1 = alcm_cpu_seconds();
  cr_assert(t1 > t0, "cpu time %g -> %g", t0, t1);
}
