/*
 * pool.c - a fixed set of worker threads running queued runs: a run is
 * fn(ctx, i, worker) for every i in [0, n). The calling thread works too
 * (as worker 0), so a pool of T threads starts T - 1 of them (workers
 * 1..T-1); with T <= 1 nothing is started and runs are inline. A run can
 * be started and waited for later, and up to RUNS_MAX runs can be queued,
 * so that a caller can queue its next run before it waits for the one
 * before: the threads then never run dry between runs (the writer's
 * pipeline: encode batch N + 1 while batch N finishes and is written).
 *
 * Tasks are handed out one at a time under the mutex, from the oldest
 * run that has any left: items are whole chunks (milliseconds of codec
 * work), so the lock is never contended enough to matter, and the order
 * of completion does not matter to callers, which write results by index.
 */
#include <pthread.h>

#include "internal.h"

/* Least stack a worker gets (see alcm_pool_create). */
#define WORKER_STACK ((size_t)1 << 20)
/* Runs queued at once (the writer queues up to three). */
#define RUNS_MAX 4u

typedef struct {
  alcm_pool *pool;
  unsigned id; /* 1..T-1 */
} worker_arg;

typedef struct {
  void (*fn)(void *ctx, size_t i, unsigned worker);
  void *ctx;
  size_t n, next, pending; /* pending: tasks not finished */
} pool_run;

struct alcm_pool {
  pthread_mutex_t lock;
  pthread_cond_t work; /* a new run or stop */
  pthread_cond_t done; /* a run finished */
  pthread_t *threads;
  worker_arg *args;
  unsigned started;
  /* runs head..tail - 1 (ids), in runs[id % RUNS_MAX]; every run before
   * head is finished. All guarded by lock. */
  pool_run runs[RUNS_MAX];
  uint64_t head, tail;
  bool stop;
};

/* The run to take a task from (the oldest with any left), or NULL. */
static pool_run *next_run(alcm_pool *p) {
  for (uint64_t id = p->head; id < p->tail; id++) {
    pool_run *const r = &p->runs[id % RUNS_MAX];
    if (r->next < r->n) return r;
  }
  return NULL;
}

/* Takes and runs one task of r; called and returns with the lock held. */
static void run_one(alcm_pool *p, pool_run *r, unsigned self) {
  const size_t i = r->next++;
  void (*const fn)(void *, size_t, unsigned) = r->fn;
  void *const ctx = r->ctx;
  pthread_mutex_unlock(&p->lock);
  fn(ctx, i, self);
  pthread_mutex_lock(&p->lock);
  if (--r->pending) return;
  /* Waiters wait for runs to finish: wake them only then (a wake per
   * task costs a futex call per tiny tensor). */
  while (p->head < p->tail && p->runs[p->head % RUNS_MAX].pending == 0)
    p->head++;
  pthread_cond_broadcast(&p->done);
}

/* Runs before head are finished; an id at or past tail was an empty run
 * (never queued). */
static bool run_finished(const alcm_pool *p, uint64_t id) {
  return id < p->head || id >= p->tail ||
         p->runs[id % RUNS_MAX].pending == 0;
}

static void *worker(void *arg) {
  const worker_arg *const a = arg;
  alcm_pool *const p = a->pool;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    pool_run *r;
    while (!p->stop && (r = next_run(p)) == NULL)
      pthread_cond_wait(&p->work, &p->lock);
    if (p->stop) break;
    run_one(p, r, a->id);
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

/* The caller takes tasks (of any run, oldest first) until run id (or,
 * id UINT64_MAX, every run) is finished; called and returns with the
 * lock held. Taking later runs' tasks too measured faster than waiting
 * idle for id's last task (2 threads packing the BF16 corpus: 22.3 ms
 * against 25.4). */
static void help_until(alcm_pool *p, uint64_t id) {
  for (;;) {
    if (id == UINT64_MAX ? p->head == p->tail : run_finished(p, id)) return;
    pool_run *const r = next_run(p);
    if (r)
      run_one(p, r, 0);
    else
      pthread_cond_wait(&p->done, &p->lock);
  }
}

uint64_t alcm_pool_start(alcm_pool *p, size_t n,
                         void (*fn)(void *ctx, size_t i, unsigned worker),
                         void *ctx) {
  if (!p || p->started == 0) {
    for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
    return 0;
  }
  pthread_mutex_lock(&p->lock);
  if (p->tail - p->head == RUNS_MAX) help_until(p, p->head); /* full */
  const uint64_t id = p->tail;
  if (n) {
    p->runs[id % RUNS_MAX] = (pool_run){fn, ctx, n, 0, n};
    p->tail++;
    pthread_cond_broadcast(&p->work);
  }
  pthread_mutex_unlock(&p->lock);
  return id;
}

void alcm_pool_wait_run(alcm_pool *p, uint64_t id) {
  if (!p || p->started == 0) return;
  pthread_mutex_lock(&p->lock);
  help_until(p, id);
  pthread_mutex_unlock(&p->lock);
}

void alcm_pool_wait(alcm_pool *p) { alcm_pool_wait_run(p, UINT64_MAX); }

void alcm_pool_run(alcm_pool *p, size_t n,
                   void (*fn)(void *ctx, size_t i, unsigned worker),
                   void *ctx) {
  alcm_pool_wait_run(p, alcm_pool_start(p, n, fn, ctx));
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
