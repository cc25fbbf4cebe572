/* Unit tests for the thread pool (src/pool.c). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"

typedef struct {
  atomic_uint *hits;
  pthread_t caller;
  atomic_uint other_thread;
  unsigned threads;      /* the pool's, for the worker index check */
  atomic_uint bad_worker; /* worker index out of range, or 0 off the caller */
} ctx_t;

/* Worker 0 is the caller and only the caller; others are < threads. */
static void bump(void *ctx, size_t i, unsigned worker) {
  ctx_t *const c = ctx;
  atomic_fetch_add(&c->hits[i], 1u);
  const bool caller = pthread_equal(pthread_self(), c->caller);
  if (!caller) atomic_store(&c->other_thread, 1u);
  if ((worker == 0) != caller ||
      worker >= (c->threads > 1 ? c->threads : 1))
    atomic_store(&c->bad_worker, 1u);
}

static void check_runs(unsigned threads, size_t rounds) {
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  alcm_pool *p = NULL;
  cr_assert_eq(alcm_pool_create(&p, &mem, threads), ALCM_OK);
  cr_assert_not_null(p);
  static const size_t ns[] = {0, 1, 2, 3, 17, 1000, 10007};
  atomic_uint *const hits = calloc(10007, sizeof *hits);
  ctx_t c = {hits, pthread_self(), 0, threads, 0};
  for (size_t r = 0; r < rounds; r++) {
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
      const size_t n = ns[k];
      for (size_t i = 0; i < n; i++) atomic_store(&hits[i], 0u);
      alcm_pool_run(p, n, bump, &c);
      for (size_t i = 0; i < n; i++)
        cr_assert_eq(atomic_load(&hits[i]), 1, "threads %u n %zu index %zu",
                     threads, n, i);
    }
  }
  if (threads <= 1)
    cr_assert_eq(atomic_load(&c.other_thread), 0, "inline pool used a thread");
  cr_assert_eq(atomic_load(&c.bad_worker), 0, "worker index");
  free(hits);
  alcm_pool_destroy(p, &mem);
}

Test(pool, inline_with_zero_and_one_thread) {
  check_runs(0, 3);
  check_runs(1, 3);
}

Test(pool, two_threads_every_index_once) { check_runs(2, 20); }

Test(pool, many_threads_every_index_once) { check_runs(8, 5); }

/* Work is slow enough that other threads must have taken some. */
static void slow(void *ctx, size_t i, unsigned worker) {
  ctx_t *const c = ctx;
  struct timespec ts = {0, 2000000};
  nanosleep(&ts, NULL);
  bump(c, i, worker);
}

Test(pool, workers_really_run) {
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  alcm_pool *p = NULL;
  cr_assert_eq(alcm_pool_create(&p, &mem, 4), ALCM_OK);
  atomic_uint hits[64] = {0};
  ctx_t c = {hits, pthread_self(), 0, 4, 0};
  alcm_pool_run(p, 64, slow, &c);
  cr_assert_eq(atomic_load(&c.other_thread), 1);
  cr_assert_eq(atomic_load(&c.bad_worker), 0);
  for (size_t i = 0; i < 64; i++) cr_assert_eq(atomic_load(&hits[i]), 1);
  alcm_pool_destroy(p, &mem);
}

/* start returns at once; the workers run items while the caller is busy;
 * wait makes the caller help and returns with every item done once. With
 * no threads, start runs everything itself. */
Test(pool, start_then_wait) {
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  static const unsigned counts[] = {1, 2, 3};
  for (size_t k = 0; k < 3; k++) {
    alcm_pool *p = NULL;
    cr_assert_eq(alcm_pool_create(&p, &mem, counts[k]), ALCM_OK);
    atomic_uint hits[40] = {0};
    ctx_t c = {hits, pthread_self(), 0, counts[k], 0};
    for (int round = 0; round < 3; round++) {
      for (size_t i = 0; i < 40; i++) atomic_store(&hits[i], 0u);
      alcm_pool_start(p, 40, slow, &c);
      if (counts[k] <= 1)
        for (size_t i = 0; i < 40; i++) cr_assert_eq(atomic_load(&hits[i]), 1);
      struct timespec ts = {0, 10000000}; /* the caller is busy */
      nanosleep(&ts, NULL);
      alcm_pool_wait(p);
      for (size_t i = 0; i < 40; i++) cr_assert_eq(atomic_load(&hits[i]), 1);
    }
    cr_assert_eq(atomic_load(&c.bad_worker), 0);
    if (counts[k] > 1) cr_assert_eq(atomic_load(&c.other_thread), 1);
    alcm_pool_destroy(p, &mem);
  }
}

/* Runs queued behind each other (as the writer does: the next batch
 * before it waits for the one before): each run's tasks run once, with
 * its own ctx, and wait_run(id) returns once run id is finished (its
 * hits complete), whatever the later runs are doing; more runs than the
 * queue holds make start take tasks until there is room. */
Test(pool, queued_runs) {
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  static const unsigned counts[] = {1, 2, 3};
  enum { RUNS = 9, N = 25 };
  for (size_t k = 0; k < 3; k++) {
    alcm_pool *p = NULL;
    cr_assert_eq(alcm_pool_create(&p, &mem, counts[k]), ALCM_OK);
    static atomic_uint hits[RUNS][N];
    ctx_t c[RUNS];
    uint64_t id[RUNS];
    for (int round = 0; round < 3; round++) {
      for (size_t r = 0; r < RUNS; r++) {
        for (size_t i = 0; i < N; i++) atomic_store(&hits[r][i], 0u);
        c[r] = (ctx_t){hits[r], pthread_self(), 0, counts[k], 0};
      }
      for (size_t r = 0; r < RUNS; r++) {
        id[r] = alcm_pool_start(p, r == 4 ? 0 : N, slow, &c[r]);
        if (r >= 2) { /* the one two back: finished, every task once */
          alcm_pool_wait_run(p, id[r - 2]);
          for (size_t i = 0; i < (r - 2 == 4 ? 0u : (size_t)N); i++)
            cr_assert_eq(atomic_load(&hits[r - 2][i]), 1, "run %zu task %zu",
                         r - 2, i);
        }
      }
      alcm_pool_wait(p);
      for (size_t r = 0; r < RUNS; r++)
        for (size_t i = 0; i < (r == 4 ? 0u : (size_t)N); i++)
          cr_assert_eq(atomic_load(&hits[r][i]), 1, "run %zu task %zu", r, i);
    }
    for (size_t r = 0; r < RUNS; r++)
      cr_assert_eq(atomic_load(&c[r].bad_worker), 0);
    alcm_pool_destroy(p, &mem);
  }
}

/* A run started and never waited for: destroy still stops cleanly. */
Test(pool, destroy_with_run_in_flight) {
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  alcm_pool *p = NULL;
  cr_assert_eq(alcm_pool_create(&p, &mem, 3), ALCM_OK);
  static atomic_uint hits[16];
  static ctx_t c;
  c = (ctx_t){hits, pthread_self(), 0, 3, 0};
  alcm_pool_start(p, 16, slow, &c);
  alcm_pool_destroy(p, &mem);
  for (size_t i = 0; i < 16; i++) cr_assert_leq(atomic_load(&hits[i]), 1);
}

Test(pool, destroy_null_and_idle) {
  alcm_mem mem;
  alcm_mem_init(&mem, NULL, 0);
  alcm_pool_destroy(NULL, &mem);
  alcm_pool *p = NULL;
  cr_assert_eq(alcm_pool_create(&p, &mem, 3), ALCM_OK);
  alcm_pool_destroy(p, &mem); /* never ran */
}

/* An allocator that fails, for the create error path. */
static void *no_alloc(void *opaque, size_t n) {
  (void)opaque;
  (void)n;
  return NULL;
}
static void no_free(void *opaque, void *ptr) {
  (void)opaque;
  (void)ptr;
}

Test(pool, create_out_of_memory) {
  const alcm_allocator a = {no_alloc, no_free, NULL};
  alcm_mem mem;
  alcm_mem_init(&mem, &a, 0);
  alcm_pool *p = (alcm_pool *)&mem;
  cr_assert_eq(alcm_pool_create(&p, &mem, 4), ALCM_ERR_NOMEM);
  cr_assert_null(p);
}

/* Fail the N-th allocation for every N: no leak (ASan), no crash. */
typedef struct {
  int left;
} budget;
static void *budget_alloc(void *opaque, size_t n) {
  budget *const b = opaque;
  if (b->left-- <= 0) return NULL;
  return malloc(n);
}
static void budget_free(void *opaque, void *ptr) {
  (void)opaque;
  free(ptr);
}

Test(pool, create_fails_at_each_allocation) {
  for (int k = 0; k < 4; k++) { /* pool, threads, worker args */
    budget b = {k};
    const alcm_allocator a = {budget_alloc, budget_free, &b};
    alcm_mem mem;
    alcm_mem_init(&mem, &a, 0);
    alcm_pool *p = NULL;
    const alcm_status s = alcm_pool_create(&p, &mem, 3);
    if (k < 3) {
      cr_assert_eq(s, ALCM_ERR_NOMEM, "k %d", k);
    } else {
      cr_assert_eq(s, ALCM_OK);
      alcm_pool_destroy(p, &mem);
    }
  }
}
