/*
 * errors.c - status names and texts (generated from ALCM_ERROR_LIST) and
 * the version queries.
 */
#include "internal.h"

/* Status values are dense 0..ALCM_ERROR_COUNT_-1, so the tables are
 * indexed by value; designated initializers keep them correct even if
 * the list is ever written out of order. */
static const char *const error_names[ALCM_ERROR_COUNT_] = {
#define ALCM_X_NAME(name, value, text) [value] = #name,
    ALCM_ERROR_LIST(ALCM_X_NAME)
#undef ALCM_X_NAME
};

static const char *const error_texts[ALCM_ERROR_COUNT_] = {
#define ALCM_X_TEXT(name, value, text) [value] = text,
    ALCM_ERROR_LIST(ALCM_X_TEXT)
#undef ALCM_X_TEXT
};

static int status_known(alcm_status s) {
  /* Compare as unsigned: an out-of-range enum value may be negative. */
  return (unsigned)s < (unsigned)ALCM_ERROR_COUNT_ && error_names[s];
}

ALCM_API const char *alcm_error_name(alcm_status s) {
  return status_known(s) ? error_names[s] : "UNKNOWN";
}

ALCM_API const char *alcm_error_text(alcm_status s) {
  return status_known(s) ? error_texts[s] : "unknown error";
}

ALCM_API unsigned alcm_version_number(void) { return ALCM_VERSION_NUMBER; }

ALCM_API const char *alcm_version_string(void) { return ALCM_VERSION_STRING; }

ALCM_API unsigned alcm_format_version(void) {
  return ALCM_FORMAT_MAJOR * 100u + ALCM_FORMAT_MINOR;
}
