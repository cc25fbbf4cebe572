/*
 * pool.c - a fixed set of worker threads running fn(ctx, i, worker) for
 * every i in [0, n). The calling thread works too (as worker 0), so a
 * pool of T threads starts T - 1 of them (workers 1..T-1); with T <= 1
 * nothing is started and runs are inline. A run can be started and
 * waited for later, so that the caller prepares the next run meanwhile.
 *
 * Indices are handed out one at a time under the mutex: items are whole
 * chunks (milliseconds of codec work), so the lock is never contended
 * enough to matter, and the order of completion does not matter to
 * callers, which write results by index.
 */
#include <pthread.h>

#include "internal.h"

/* Least stack a worker gets (see alcm_pool_create). */
#define WORKER_STACK ((size_t)1 << 20)

typedef struct {
  alcm_pool *pool;
  unsigned id; /* 1..T-1 */
} worker_arg;

struct alcm_pool {
  pthread_mutex_t lock;
  pthread_cond_t work; /* a new run or stop */
  pthread_cond_t done; /* pending reached 0 */
  pthread_t *threads;
  worker_arg *args;
  unsigned started;
  /* the current run, all guarded by lock */
  void (*fn)(void *ctx, size_t i, unsigned worker);
  void *ctx;
  size_t n, next, pending;
  uint64_t generation;
  bool stop;
};

/* Takes and runs indices of the current run until none are left; called
 * and returns with the lock held. */
static void drain(alcm_pool *p, unsigned self) {
  while (p->next < p->n) {
    const size_t i = p->next++;
    void (*const fn)(void *, size_t, unsigned) = p->fn;
    void *const ctx = p->ctx;
    pthread_mutex_unlock(&p->lock);
    fn(ctx, i, self);
    pthread_mutex_lock(&p->lock);
    if (--p->pending == 0) pthread_cond_broadcast(&p->done);
  }
}

static void *worker(void *arg) {
  const worker_arg *const a = arg;
  alcm_pool *const p = a->pool;
  /* Start from generation 0, not the current one: a thread that starts
   * late must still join a run that began before it got the lock. */
  uint64_t seen = 0;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!p->stop && p->generation == seen)
      pthread_cond_wait(&p->work, &p->lock);
    if (p->stop) break;
    seen = p->generation;
    drain(p, a->id);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static void stop_workers(alcm_pool *p) {
  pthread_mutex_lock(&p->lock);
  p->stop = true;
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->lock);
  for (unsigned t = 0; t < p->started; t++) pthread_join(p->threads[t], NULL);
  p->started = 0;
}

static alcm_status init_sync(alcm_pool *p) {
  if (pthread_mutex_init(&p->lock, NULL) != 0) return ALCM_ERR_NOMEM;
  if (pthread_cond_init(&p->work, NULL) != 0) {
    pthread_mutex_destroy(&p->lock);
    return ALCM_ERR_NOMEM;
  }
  if (pthread_cond_init(&p->done, NULL) != 0) {
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    return ALCM_ERR_NOMEM;
  }
  return ALCM_OK;
}

alcm_status alcm_pool_create(alcm_pool **out, const alcm_mem *m,
                             unsigned threads) {
  *out = NULL;
  alcm_pool *const p = alcm_mem_calloc(m, 1, sizeof *p);
  if (!p) return ALCM_ERR_NOMEM;
  if (init_sync(p) != ALCM_OK) {
    alcm_mem_free(m, p);
    return ALCM_ERR_NOMEM;
  }
  const unsigned workers = threads > 1 ? threads - 1 : 0;
  if (workers) {
    p->threads = alcm_mem_calloc(m, workers, sizeof *p->threads);
    p->args = alcm_mem_calloc(m, workers, sizeof *p->args);
    if (!p->threads || !p->args) {
      alcm_pool_destroy(p, m);
      return ALCM_ERR_NOMEM;
    }
  }
  /* Workers run the codecs, whose tables live on the stack (the rans
   * decoder's eight tables: ~135 KiB); a host whose default thread stack
   * is small (musl: 128 KiB) gets WORKER_STACK instead. */
  pthread_attr_t attr;
  size_t stack = 0;
  if (pthread_attr_init(&attr) != 0) {
    alcm_pool_destroy(p, m);
    return ALCM_ERR_NOMEM;
  }
  if (pthread_attr_getstacksize(&attr, &stack) != 0 || stack < WORKER_STACK)
    (void)pthread_attr_setstacksize(&attr, WORKER_STACK);
  for (unsigned t = 0; t < workers; t++) {
    p->args[t] = (worker_arg){.pool = p, .id = t + 1};
    if (pthread_create(&p->threads[t], &attr, worker, &p->args[t]) != 0) {
      pthread_attr_destroy(&attr);
      alcm_pool_destroy(p, m);
      return ALCM_ERR_NOMEM;
    }
    p->started++;
  }
  pthread_attr_destroy(&attr);
  *out = p;
  return ALCM_OK;
}

void alcm_pool_start(alcm_pool *p, size_t n,
                     void (*fn)(void *ctx, size_t i, unsigned worker),
                     void *ctx) {
  if (!p || p->started == 0) {
    for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
    return;
  }
  if (n == 0) return;
  pthread_mutex_lock(&p->lock);
  p->fn = fn;
  p->ctx = ctx;
  p->n = n;
  p->next = 0;
  p->pending = n;
  p->generation++;
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->lock);
}

void alcm_pool_wait(alcm_pool *p) {
  if (!p || p->started == 0) return;
  pthread_mutex_lock(&p->lock);
  drain(p, 0);
  while (p->pending) pthread_cond_wait(&p->done, &p->lock);
  pthread_mutex_unlock(&p->lock);
}

void alcm_pool_run(alcm_pool *p, size_t n,
                   void (*fn)(void *ctx, size_t i, unsigned worker),
                   void *ctx) {
  alcm_pool_start(p, n, fn, ctx);
  alcm_pool_wait(p);
}

void alcm_pool_destroy(alcm_pool *p, const alcm_mem *m) {
  if (!p) return;
  stop_workers(p);
  pthread_cond_destroy(&p->done);
  pthread_cond_destroy(&p->work);
  pthread_mutex_destroy(&p->lock);
  alcm_mem_free(m, p->threads);
  alcm_mem_free(m, p->args);
  alcm_mem_free(m, p);
}
