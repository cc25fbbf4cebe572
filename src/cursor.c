/*
 * cursor.c - bounded reads over untrusted bytes.
 *
 * Every take compares the requested size with the bytes left, computed by
 * subtraction (end - p), so no pointer past the buffer is ever formed and
 * no size addition can wrap. A failed take does not move the cursor.
 */
#include "internal.h"

void alcm_cursor_init(alcm_cursor *c, const void *data, size_t size) {
  const uint8_t *const p = (const uint8_t *)data;
  c->start = p;
  c->p = p;
  /* NULL with size 0 is an empty cursor; avoid NULL + 0 arithmetic. */
  c->end = size ? p + size : p;
}

size_t alcm_cursor_left(const alcm_cursor *c) {
  return (size_t)(c->end - c->p);
}

size_t alcm_cursor_pos(const alcm_cursor *c) {
  return (size_t)(c->p - c->start);
}

static alcm_status take(alcm_cursor *c, size_t n, const uint8_t **p) {
  if (alcm_cursor_left(c) < n) return ALCM_ERR_TRUNCATED;
  *p = c->p;
  if (n) c->p += n;
  return ALCM_OK;
}

alcm_status alcm_cursor_u8(alcm_cursor *c, uint8_t *v) {
  const uint8_t *p;
  const alcm_status s = take(c, 1, &p);
  if (s == ALCM_OK) *v = p[0];
  return s;
}

alcm_status alcm_cursor_u16(alcm_cursor *c, uint16_t *v) {
  const uint8_t *p;
  const alcm_status s = take(c, 2, &p);
  if (s == ALCM_OK) *v = alcm_le16(p);
  return s;
}

alcm_status alcm_cursor_u32(alcm_cursor *c, uint32_t *v) {
  const uint8_t *p;
  const alcm_status s = take(c, 4, &p);
  if (s == ALCM_OK) *v = alcm_le32(p);
  return s;
}

alcm_status alcm_cursor_u64(alcm_cursor *c, uint64_t *v) {
  const uint8_t *p;
  const alcm_status s = take(c, 8, &p);
  if (s == ALCM_OK) *v = alcm_le64(p);
  return s;
}

alcm_status alcm_cursor_bytes(alcm_cursor *c, size_t n, const uint8_t **p) {
  return take(c, n, p);
}

alcm_status alcm_cursor_skip(alcm_cursor *c, size_t n) {
  const uint8_t *p;
  return take(c, n, &p);
}
