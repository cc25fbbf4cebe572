/*
 * names.c - validation of names that come from archives or callers
 * (spec "Names"): tensor names, metadata keys and blob/source paths.
 */
#include "internal.h"

/* Length of the UTF-8 sequence starting at s[0..n), or 0 if it is not a
 * well-formed scalar value (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF) or is a control character below 0x20 (this includes
 * NUL). */
static size_t utf8_seq(const uint8_t *s, size_t n) {
  const uint8_t b0 = s[0];
  if (b0 < 0x20) return 0;
  if (b0 < 0x80) return 1;
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;      /* overlong */
    else if (b0 == 0xED) hi = 0x9F; /* surrogates D800..DFFF */
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;      /* overlong */
    else if (b0 == 0xF4) hi = 0x8F; /* above U+10FFFF */
  } else {
    return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
  }
  if (n < len) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return len;
}

bool alcm_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    const size_t len = utf8_seq(s + i, n - i);
    if (!len) return false;
    i += len;
  }
  return true;
}

bool alcm_tensor_name_valid(const uint8_t *s, size_t n) {
  return n >= 1 && n <= ALCM_MAX_NAME && alcm_utf8_valid(s, n);
}

static bool component_valid(const uint8_t *c, size_t n) {
  if (n == 0) return false; /* "a//b", trailing '/' */
  if (n == 1 && c[0] == '.') return false;
  if (n == 2 && c[0] == '.' && c[1] == '.') return false;
  return true;
}

static bool is_alpha(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* A path is extracted below a folder on unpack, so anything that could
 * escape that folder or mean something else on another system is
 * refused: absolute paths, "..", backslashes and drive prefixes. */
bool alcm_path_valid(const uint8_t *s, size_t n) {
  if (!alcm_tensor_name_valid(s, n)) return false;
  if (s[0] == '/') return false;
  if (n >= 2 && is_alpha(s[0]) && s[1] == ':') return false;
  if (memchr(s, '\\', n)) return false;
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == '/') {
      if (!component_valid(s + start, i - start)) return false;
      start = i + 1;
    }
  }
  return true;
}
