/*
 * alloc.c - the library's one way to get memory: the handle's allocator
 * hook (or malloc/free) under a per-allocation cap, so that a size read
 * from an untrusted file can never turn into an unbounded allocation.
 */
#include <stdlib.h>

#include "internal.h"

#define DEFAULT_MAX_ALLOC ((uint64_t)2 << 30) /* 2 GiB */
#define MIN_RESERVE 64u

void alcm_mem_init(alcm_mem *m, const alcm_allocator *a, uint64_t max_alloc) {
  memset(m, 0, sizeof *m);
  /* A hook must set both functions; half a hook falls back to malloc so
   * that memory is never freed by a function that did not allocate it. */
  if (a && a->alloc && a->free) m->a = *a;
  m->max_alloc = max_alloc ? max_alloc : DEFAULT_MAX_ALLOC;
}

void *alcm_mem_alloc(const alcm_mem *m, size_t size) {
  /* Objects above PTRDIFF_MAX break pointer subtraction; refuse them even
   * when the caller lifted max_alloc. */
  if ((uint64_t)size > m->max_alloc || size > (size_t)PTRDIFF_MAX)
    return NULL;
  /* Size 0 still gets a distinct, freeable block: callers need no
   * special case for empty tensors and blobs. */
  const size_t n = size ? size : 1;
  return m->a.alloc ? m->a.alloc(m->a.opaque, n) : malloc(n);
}

void *alcm_mem_calloc(const alcm_mem *m, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) return NULL;
  void *const p = alcm_mem_alloc(m, total);
  if (p) memset(p, 0, total);
  return p;
}

void alcm_mem_free(const alcm_mem *m, void *p) {
  if (!p) return;
  if (m->a.free)
    m->a.free(m->a.opaque, p);
  else
    free(p);
}

/* Next capacity: double from max(cap, MIN_RESERVE) until need fits, but
 * never above max_alloc (need itself is already known to fit). */
static size_t grow_size(size_t cap, size_t need, uint64_t max_alloc) {
  size_t n = cap > MIN_RESERVE ? cap : MIN_RESERVE;
  while (n < need) {
    size_t twice;
    if (__builtin_mul_overflow(n, (size_t)2, &twice)) return need;
    n = twice;
  }
  if ((uint64_t)n > max_alloc) n = (size_t)max_alloc;
  return n;
}

alcm_status alcm_mem_reserve(const alcm_mem *m, void **p, size_t *cap,
                             size_t need) {
  if (need <= *cap && *p) return ALCM_OK;
  if ((uint64_t)need > m->max_alloc) return ALCM_ERR_LIMIT;
  const size_t n = grow_size(*cap, need, m->max_alloc);
  void *const q = alcm_mem_alloc(m, n);
  if (!q) return ALCM_ERR_NOMEM;
  if (*p && *cap) memcpy(q, *p, *cap);
  alcm_mem_free(m, *p);
  *p = q;
  *cap = n;
  return ALCM_OK;
}

char *alcm_mem_strndup(const alcm_mem *m, const char *s, size_t n) {
  const char *const nul = memchr(s, '\0', n);
  const size_t len = nul ? (size_t)(nul - s) : n;
  size_t total;
  if (__builtin_add_overflow(len, (size_t)1, &total)) return NULL;
  char *const d = alcm_mem_alloc(m, total);
  if (!d) return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}
