/* Unit tests for the bounded cursor (src/cursor.c). */
#include <criterion/criterion.h>

#include "internal.h"

static const uint8_t bytes[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                  0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
                                  0x0d, 0x0e, 0x0f, 0x10};

Test(cursor, reads_little_endian_in_order) {
  alcm_cursor c;
  alcm_cursor_init(&c, bytes, sizeof bytes);
  uint8_t a;
  uint16_t b;
  uint32_t d;
  uint64_t e;
  cr_assert_eq(alcm_cursor_u8(&c, &a), ALCM_OK);
  cr_assert_eq(a, 0x01);
  cr_assert_eq(alcm_cursor_u16(&c, &b), ALCM_OK);
  cr_assert_eq(b, 0x0302);
  cr_assert_eq(alcm_cursor_u32(&c, &d), ALCM_OK);
  cr_assert_eq(d, 0x07060504u);
  cr_assert_eq(alcm_cursor_u64(&c, &e), ALCM_OK);
  cr_assert_eq(e, 0x0f0e0d0c0b0a0908ull);
  cr_assert_eq(alcm_cursor_pos(&c), 15);
  cr_assert_eq(alcm_cursor_left(&c), 1);
}

/* For each width, a cursor holding one byte fewer than needed must fail
 * with ERR_TRUNCATED, leave the output alone, and not move. */
Test(cursor, truncation_at_each_width) {
  for (size_t have = 0; have < 8; have++) {
    alcm_cursor c;
    alcm_cursor_init(&c, bytes, have);
    uint64_t v64 = 77;
    cr_assert_eq(alcm_cursor_u64(&c, &v64), ALCM_ERR_TRUNCATED);
    cr_assert_eq(v64, 77);
    cr_assert_eq(alcm_cursor_pos(&c), 0);
    cr_assert_eq(alcm_cursor_left(&c), have);
    uint32_t v32 = 77;
    cr_assert_eq(alcm_cursor_u32(&c, &v32), have >= 4 ? ALCM_OK
                                                     : ALCM_ERR_TRUNCATED);
    if (have < 4) cr_assert_eq(v32, 77);
    alcm_cursor_init(&c, bytes, have);
    uint16_t v16 = 77;
    cr_assert_eq(alcm_cursor_u16(&c, &v16), have >= 2 ? ALCM_OK
                                                     : ALCM_ERR_TRUNCATED);
    if (have < 2) cr_assert_eq(v16, 77);
    alcm_cursor_init(&c, bytes, have);
    uint8_t v8 = 77;
    cr_assert_eq(alcm_cursor_u8(&c, &v8), have >= 1 ? ALCM_OK
                                                   : ALCM_ERR_TRUNCATED);
    if (have < 1) cr_assert_eq(v8, 77);
  }
}

Test(cursor, truncation_after_partial_progress) {
  alcm_cursor c;
  alcm_cursor_init(&c, bytes, 5);
  uint32_t v;
  cr_assert_eq(alcm_cursor_u32(&c, &v), ALCM_OK);
  cr_assert_eq(alcm_cursor_u32(&c, &v), ALCM_ERR_TRUNCATED);
  cr_assert_eq(alcm_cursor_u16(&c, &(uint16_t){0}), ALCM_ERR_TRUNCATED);
  cr_assert_eq(alcm_cursor_pos(&c), 4);
  uint8_t b;
  cr_assert_eq(alcm_cursor_u8(&c, &b), ALCM_OK);
  cr_assert_eq(b, 0x05);
  cr_assert_eq(alcm_cursor_u8(&c, &b), ALCM_ERR_TRUNCATED);
  cr_assert_eq(alcm_cursor_left(&c), 0);
}

Test(cursor, bytes_borrow_in_place) {
  alcm_cursor c;
  alcm_cursor_init(&c, bytes, sizeof bytes);
  const uint8_t *p = NULL;
  cr_assert_eq(alcm_cursor_bytes(&c, 3, &p), ALCM_OK);
  cr_assert_eq(p, bytes);
  cr_assert_eq(alcm_cursor_bytes(&c, 0, &p), ALCM_OK);
  cr_assert_eq(p, bytes + 3);
  cr_assert_eq(alcm_cursor_bytes(&c, 14, &p), ALCM_ERR_TRUNCATED);
  cr_assert_eq(p, bytes + 3);
  cr_assert_eq(alcm_cursor_bytes(&c, 13, &p), ALCM_OK);
  cr_assert_eq(alcm_cursor_left(&c), 0);
}

/* A length near SIZE_MAX must not wrap a pointer sum into "fits". */
Test(cursor, huge_lengths_do_not_wrap) {
  alcm_cursor c;
  alcm_cursor_init(&c, bytes, sizeof bytes);
  const uint8_t *p = NULL;
  cr_assert_eq(alcm_cursor_bytes(&c, SIZE_MAX, &p), ALCM_ERR_TRUNCATED);
  cr_assert_eq(alcm_cursor_skip(&c, SIZE_MAX), ALCM_ERR_TRUNCATED);
  cr_assert_eq(alcm_cursor_skip(&c, (size_t)-8), ALCM_ERR_TRUNCATED);
  cr_assert_eq(alcm_cursor_pos(&c), 0);
}

Test(cursor, skip) {
  alcm_cursor c;
  alcm_cursor_init(&c, bytes, sizeof bytes);
  cr_assert_eq(alcm_cursor_skip(&c, 15), ALCM_OK);
  cr_assert_eq(alcm_cursor_skip(&c, 2), ALCM_ERR_TRUNCATED);
  cr_assert_eq(alcm_cursor_pos(&c), 15);
  cr_assert_eq(alcm_cursor_skip(&c, 1), ALCM_OK);
  cr_assert_eq(alcm_cursor_skip(&c, 0), ALCM_OK);
  cr_assert_eq(alcm_cursor_skip(&c, 1), ALCM_ERR_TRUNCATED);
}

Test(cursor, empty_and_null) {
  alcm_cursor c;
  alcm_cursor_init(&c, NULL, 0);
  cr_assert_eq(alcm_cursor_left(&c), 0);
  cr_assert_eq(alcm_cursor_pos(&c), 0);
  uint8_t v;
  cr_assert_eq(alcm_cursor_u8(&c, &v), ALCM_ERR_TRUNCATED);
  cr_assert_eq(alcm_cursor_skip(&c, 0), ALCM_OK);
}

Test(le, load_store_round_trip) {
  uint8_t b[8];
  alcm_st16(b, 0xBEEF);
  cr_assert_eq(b[0], 0xEF);
  cr_assert_eq(alcm_le16(b), 0xBEEF);
  alcm_st32(b, 0xDEADBEEFu);
  cr_assert_eq(b[0], 0xEF);
  cr_assert_eq(b[3], 0xDE);
  cr_assert_eq(alcm_le32(b), 0xDEADBEEFu);
  alcm_st64(b, 0x0123456789ABCDEFull);
  cr_assert_eq(b[0], 0xEF);
  cr_assert_eq(b[7], 0x01);
  cr_assert_eq(alcm_le64(b), 0x0123456789ABCDEFull);
  cr_assert(alcm_all_zero(b, 0));
  memset(b, 0, sizeof b);
  cr_assert(alcm_all_zero(b, 8));
  b[7] = 1;
  cr_assert_not(alcm_all_zero(b, 8));
}
