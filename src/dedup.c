/*
 * dedup.c - the frames a writer has written, by raw hash, so that an
 * identical chunk (a repeated tensor, a zero block) is stored once.
 *
 * Open addressing over item indices, kept at most half full. Equal hashes
 * are allowed (collisions are told apart by the writer's byte-wise check).
 */
#include "internal.h"

typedef struct {
  uint64_t frame_offset;
  alcm_frame frame;
} item;

struct alcm_dedup {
  item *items;
  size_t count, items_cap;
  uint32_t *slots; /* item index + 1; 0 = empty */
  size_t slot_cap; /* power of two */
};

alcm_status alcm_dedup_create(alcm_dedup **d, const alcm_mem *m) {
  *d = alcm_mem_calloc(m, 1, sizeof **d);
  return *d ? ALCM_OK : ALCM_ERR_NOMEM;
}

void alcm_dedup_free(alcm_dedup *d, const alcm_mem *m) {
  if (!d) return;
  alcm_mem_free(m, d->items);
  alcm_mem_free(m, d->slots);
  alcm_mem_free(m, d);
}

static size_t home(const alcm_dedup *d, uint64_t h) {
  return (size_t)(h ^ (h >> 29)) & (d->slot_cap - 1);
}

static void place(alcm_dedup *d, size_t i) {
  size_t s = home(d, d->items[i].frame.raw_hash);
  while (d->slots[s]) s = (s + 1) & (d->slot_cap - 1);
  d->slots[s] = (uint32_t)(i + 1);
}

static alcm_status grow_slots(alcm_dedup *d, const alcm_mem *m) {
  const size_t cap = d->slot_cap ? d->slot_cap * 2 : 256;
  uint32_t *s = alcm_mem_calloc(m, cap, sizeof *s);
  if (!s) return ALCM_ERR_NOMEM;
  alcm_mem_free(m, d->slots);
  d->slots = s;
  d->slot_cap = cap;
  for (size_t i = 0; i < d->count; i++) place(d, i);
  return ALCM_OK;
}

alcm_status alcm_dedup_add(alcm_dedup *d, const alcm_mem *m,
                           uint64_t frame_offset, const alcm_frame *f) {
  if (d->count >= UINT32_MAX - 1) return ALCM_ERR_LIMIT;
  if ((d->count + 1) * 2 > d->slot_cap) {
    const alcm_status st = grow_slots(d, m);
    if (st) return st;
  }
  void *p = d->items;
  size_t cap = d->items_cap * sizeof(item);
  const alcm_status st = alcm_mem_reserve(m, &p, &cap,
                                          (d->count + 1) * sizeof(item));
  if (st) return st;
  d->items = p;
  d->items_cap = cap / sizeof(item);
  d->items[d->count] = (item){frame_offset, *f};
  place(d, d->count++);
  return ALCM_OK;
}

bool alcm_dedup_next(const alcm_dedup *d, uint64_t raw_hash, size_t *cursor,
                     uint64_t *frame_offset, alcm_frame *f) {
  if (!d->slot_cap) return false;
  /* *cursor counts probe steps taken from the home slot. */
  for (size_t s = (home(d, raw_hash) + *cursor) & (d->slot_cap - 1);
       d->slots[s]; s = (s + 1) & (d->slot_cap - 1)) {
    ++*cursor;
    const item *it = &d->items[d->slots[s] - 1];
    if (it->frame.raw_hash == raw_hash) {
      *frame_offset = it->frame_offset;
      *f = it->frame;
      return true;
    }
  }
  return false;
}
