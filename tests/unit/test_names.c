/* Unit tests for UTF-8, tensor name and path validation (src/names.c). */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "internal.h"

typedef struct {
  const char *s;
  size_t n; /* 0 = strlen */
  bool ok;
  const char *why;
} vec;

static bool run_utf8(const vec *v) {
  const size_t n = v->n ? v->n : strlen(v->s);
  return alcm_utf8_valid((const uint8_t *)v->s, n);
}

static const vec utf8_table[] = {
    {"", 0, true, "empty"},
    {"abc.def_0", 0, true, "ascii"},
    {"\x7f", 0, true, "DEL is allowed"},
    {" ", 0, true, "space"},
    {"\xc2\x80", 0, true, "U+0080"},
    {"\xdf\xbf", 0, true, "U+07FF"},
    {"\xe0\xa0\x80", 0, true, "U+0800"},
    {"\xed\x9f\xbf", 0, true, "U+D7FF"},
    {"\xee\x80\x80", 0, true, "U+E000"},
    {"\xef\xbf\xbf", 0, true, "U+FFFF"},
    {"\xf0\x90\x80\x80", 0, true, "U+10000"},
    {"\xf4\x8f\xbf\xbf", 0, true, "U+10FFFF"},
    {"caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac", 0, true, "mixed"},
    {"a\0b", 3, false, "NUL"},
    {"\x01", 0, false, "control 0x01"},
    {"\x1f", 0, false, "control 0x1f"},
    {"a\nb", 0, false, "newline"},
    {"\t", 0, false, "tab"},
    {"\x80", 0, false, "lone continuation"},
    {"\xbf", 0, false, "lone continuation"},
    {"\xc0\x80", 0, false, "overlong NUL"},
    {"\xc1\xbf", 0, false, "overlong 2-byte"},
    {"\xe0\x80\x80", 0, false, "overlong 3-byte"},
    {"\xe0\x9f\xbf", 0, false, "overlong 3-byte max"},
    {"\xf0\x80\x80\x80", 0, false, "overlong 4-byte"},
    {"\xf0\x8f\xbf\xbf", 0, false, "overlong 4-byte max"},
    {"\xed\xa0\x80", 0, false, "surrogate D800"},
    {"\xed\xbf\xbf", 0, false, "surrogate DFFF"},
    {"\xf4\x90\x80\x80", 0, false, "U+110000"},
    {"\xf5\x80\x80\x80", 0, false, "F5 lead"},
    {"\xff", 0, false, "FF"},
    {"\xfe", 0, false, "FE"},
    {"\xc2", 0, false, "truncated 2-byte"},
    {"\xe0\xa0", 0, false, "truncated 3-byte"},
    {"\xf0\x90\x80", 0, false, "truncated 4-byte"},
    {"a\xc3", 0, false, "truncated at end"},
    {"\xc3\x28", 0, false, "bad continuation"},
    {"\xe2\x28\xa1", 0, false, "bad 2nd of 3"},
    {"\xe2\x82\x28", 0, false, "bad 3rd of 3"},
    {"\xf0\x90\x28\xbc", 0, false, "bad 3rd of 4"},
    {"\xf0\x90\x8c\x28", 0, false, "bad 4th of 4"},
};

Test(names, utf8_table) {
  for (size_t i = 0; i < sizeof utf8_table / sizeof utf8_table[0]; i++)
    cr_assert_eq(run_utf8(&utf8_table[i]), utf8_table[i].ok, "%s",
                 utf8_table[i].why);
}

/* A truncated sequence must not be read past n even if bytes follow. */
Test(names, utf8_respects_length) {
  const uint8_t s[] = {'a', 0xe6, 0x97, 0xa5};
  cr_assert(alcm_utf8_valid(s, 4));
  cr_assert_not(alcm_utf8_valid(s, 3));
  cr_assert_not(alcm_utf8_valid(s, 2));
  cr_assert(alcm_utf8_valid(s, 1));
  cr_assert(alcm_utf8_valid(NULL, 0));
}

Test(names, tensor_names) {
  cr_assert(alcm_tensor_name_valid((const uint8_t *)"w", 1));
  cr_assert(alcm_tensor_name_valid((const uint8_t *)"model.layers.0/../x", 19));
  cr_assert_not(alcm_tensor_name_valid((const uint8_t *)"", 0));
  cr_assert_not(alcm_tensor_name_valid((const uint8_t *)"a\0", 2));
  cr_assert_not(alcm_tensor_name_valid((const uint8_t *)"\xff", 1));
  uint8_t *const big = malloc(ALCM_MAX_NAME + 1);
  memset(big, 'x', ALCM_MAX_NAME + 1);
  cr_assert(alcm_tensor_name_valid(big, ALCM_MAX_NAME));
  cr_assert_not(alcm_tensor_name_valid(big, ALCM_MAX_NAME + 1));
  free(big);
}

static const vec path_table[] = {
    {"config.json", 0, true, "plain"},
    {"a/b/c.bin", 0, true, "nested"},
    {"tokenizer/vocab.txt", 0, true, "folder"},
    {".hidden", 0, true, "dot file"},
    {"a/..b/c", 0, true, "dots inside a name"},
    {"...", 0, true, "three dots"},
    {"ab:c", 0, true, "colon after the first two chars"},
    {"ab:/c", 0, true, "not a drive"},
    {"\xe6\x97\xa5/x", 0, true, "utf-8"},
    {"", 0, false, "empty"},
    {"/etc/passwd", 0, false, "absolute"},
    {"/", 0, false, "root"},
    {"a//b", 0, false, "empty component"},
    {"a/", 0, false, "trailing slash"},
    {".", 0, false, "dot"},
    {"..", 0, false, "dotdot"},
    {"./a", 0, false, "leading dot"},
    {"../a", 0, false, "leading dotdot"},
    {"a/./b", 0, false, "inner dot"},
    {"a/../b", 0, false, "inner dotdot"},
    {"a/..", 0, false, "trailing dotdot"},
    {"a/.", 0, false, "trailing dot"},
    {"a\\b", 0, false, "backslash"},
    {"..\\x", 0, false, "backslash escape"},
    {"C:", 0, false, "drive"},
    {"C:x", 0, false, "drive relative"},
    {"c:/x", 0, false, "drive absolute"},
    {"a/\x01", 0, false, "control"},
    {"a/b\0c", 5, false, "NUL"},
    {"a/\xc0\xaf", 0, false, "overlong slash"},
};

Test(names, path_table) {
  for (size_t i = 0; i < sizeof path_table / sizeof path_table[0]; i++) {
    const vec *const v = &path_table[i];
    const size_t n = v->n ? v->n : strlen(v->s);
    cr_assert_eq(alcm_path_valid((const uint8_t *)v->s, n), v->ok, "%s: '%s'",
                 v->why, v->s);
  }
  uint8_t *const big = malloc(ALCM_MAX_NAME + 1);
  memset(big, 'x', ALCM_MAX_NAME + 1);
  cr_assert(alcm_path_valid(big, ALCM_MAX_NAME));
  cr_assert_not(alcm_path_valid(big, ALCM_MAX_NAME + 1));
  free(big);
}
