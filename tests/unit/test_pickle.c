/*
 * test_pickle.c - the allow-listed pickle machine (src/pickle.c): plain
 * containers run, everything outside the allow-list is refused with a
 * message naming the opcode or global, malformed streams are refused, and
 * nothing is ever called.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "importers.h"
#include "internal.h"

static alcm_status run(const char *p, size_t n, alcm_msg *msg) {
  alcm_mem m;
  alcm_mem_init(&m, NULL, 0);
  alcm_pk_result res;
  memset(&res, 0, sizeof res);
  alcm_msg_clear(msg);
  const alcm_status s =
      alcm_pickle_run_((const uint8_t *)p, n, &res, "t.pt", &m, msg);
  alcm_pickle_free_(&res, &m);
  return s;
}

#define RUN(lit, msg) run(lit, sizeof(lit) - 1, msg)

/* The refusal names the file and, where given, a word of the rule. */
static void refused(const char *p, size_t n, const char *word) {
  alcm_msg msg;
  const alcm_status s = run(p, n, &msg);
  cr_assert_neq(s, ALCM_OK, "accepted a pickle that must be refused");
  cr_assert(strstr(msg.text, "t.pt") != NULL, "message: %s", msg.text);
  if (word)
    cr_assert(strstr(msg.text, word) != NULL, "'%s' not in: %s", word,
              msg.text);
}
#define REFUSED(lit, word) refused(lit, sizeof(lit) - 1, word)

Test(pickle, empty_dict_runs) {
  alcm_msg msg;
  cr_assert_eq(RUN("\x80\x02}q\x00.", &msg), ALCM_OK, "%s", msg.text);
}

Test(pickle, nested_containers_run) {
  /* {'a': [1, 2], 'b': ('x', None)} via MARK/SETITEMS, protocol 2 */
  alcm_msg msg;
  /* what pickle.dumps(..., protocol=2) writes; strings split so that
   * no hex escape swallows a following letter */
  cr_assert_eq(RUN("\x80\x02}q\x00(X\x01\x00\x00\x00" "a" "q\x01]q\x02("
                   "K\x01K\x02" "e" "X\x01\x00\x00\x00" "b" "q\x03"
                   "X\x01\x00\x00\x00" "x" "q\x04N\x86q\x05u.",
                   &msg),
               ALCM_OK, "%s", msg.text);
}

Test(pickle, global_os_system_refused) {
  REFUSED("\x80\x02" "cos\nsystem\n" "X\x04\x00\x00\x00" "echo" "\x85R.",
          "os.system");
}

Test(pickle, stack_global_eval_refused) {
  REFUSED("\x80\x04\x8c\x08" "builtins" "\x8c\x04" "eval" "\x93"
          "\x8c\x01" "1" "\x85R.",
          "eval");
}

Test(pickle, stack_global_import_refused) {
  REFUSED("\x80\x04\x8c\x08" "builtins" "\x8c\x0a" "__import__" "\x93.",
          "__import__");
}

Test(pickle, inst_refused) {
  REFUSED("(X\x02\x00\x00\x00" "ls" "ios\nsystem\n.", "INST");
}

Test(pickle, setitem_on_a_list_refused) {
  REFUSED("\x80\x02]K\x01K\x02s.", "not a dict");
}

Test(pickle, stack_underflow_refused) {
  REFUSED("\x80\x02s.", "underflow");
}

Test(pickle, tuple_without_mark_refused) {
  REFUSED("\x80\x02t.", "MARK");
}

Test(pickle, unknown_memo_key_refused) {
  REFUSED("\x80\x02h\x05.", "memo");
}

Test(pickle, disallowed_opcode_refused) {
  REFUSED("\x80\x02\x82\x01.", "not allowed"); /* EXT1 */
}

Test(pickle, missing_stop_refused) { REFUSED("\x80\x02}", NULL); }

Test(pickle, empty_input_refused) { REFUSED("", NULL); }

Test(pickle, stack_depth_capped) {
  /* More EMPTY_LISTs than the stack cap allows, then STOP. */
  const size_t n = ALCM_PK_MAX_STACK + 16;
  char *const p = malloc(n + 3);
  cr_assert(p);
  p[0] = '\x80';
  p[1] = '\x02';
  memset(p + 2, ']', n);
  p[n + 2] = '.';
  refused(p, n + 3, NULL);
  free(p);
}
