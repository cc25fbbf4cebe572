/*
 * message.c - per-handle error messages: "<what and where>: <error text>".
 */
#include <stdio.h>

#include "internal.h"

alcm_status alcm_fail(alcm_msg *msg, alcm_status s, const char *fmt, ...) {
  if (!msg) return s;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg->text, sizeof msg->text, fmt, ap);
  va_end(ap);
  if (n < 0) {
    /* An encoding error leaves text unspecified; keep only the status. */
    msg->text[0] = '\0';
    n = 0;
  }
  size_t used = (size_t)n;
  if (used >= sizeof msg->text) used = sizeof msg->text - 1;
  /* snprintf truncates safely and always terminates. */
  snprintf(msg->text + used, sizeof msg->text - used, "%s%s",
           used ? ": " : "", alcm_error_text(s));
  return s;
}

void alcm_msg_clear(alcm_msg *msg) {
  if (msg) msg->text[0] = '\0';
}

/* Keeps the lower layer's detail and adds context in front of it. */
void alcm_msg_prefix(alcm_msg *msg, const char *fmt, ...) {
  char old[ALCM_MSG_SIZE];
  memcpy(old, msg->text, sizeof old);
  old[sizeof old - 1] = '\0';
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg->text, sizeof msg->text, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  size_t used = (size_t)n;
  if (used >= sizeof msg->text) used = sizeof msg->text - 1;
  snprintf(msg->text + used, sizeof msg->text - used, "%s%s",
           used && old[0] ? ": " : "", old);
}
