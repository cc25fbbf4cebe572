/* Unit tests for src/config.c: the shipped configs, every error kind
 * (YAML syntax, unknown key, duplicate, wrong type, out of range, cross
 * checks) with its file:line:column. */
#include <criterion/criterion.h>

#include "adaptive.h"

static alcm_mem mem;
static void setup(void) { alcm_mem_init(&mem, NULL, 0); }
TestSuite(config, .init = setup);

Test(config, shipped_files_are_the_defaults) {
  alcm_entropy_config e, de;
  alcm_encoder_config c, dc;
  alcm_msg msg;
  cr_assert_eq(alcm_entropy_config_load(
                   &e, ALCM_SOURCE_DIR "/configs/entropy_config.yaml", &mem,
                   &msg),
               ALCM_OK, "%s", msg.text);
  cr_assert_eq(alcm_encoder_config_load(
                   &c, ALCM_SOURCE_DIR "/configs/encoder_config.yaml", &mem,
                   &msg),
               ALCM_OK, "%s", msg.text);
  alcm_entropy_config_default(&de);
  alcm_encoder_config_default(&dc);
  cr_assert_eq(memcmp(&e, &de, sizeof e), 0);
  cr_assert_eq(memcmp(&c, &dc, sizeof c), 0);
  cr_assert_str_eq(e.model_type, "MLP");
  cr_assert_eq(e.hidden_size, 64);
  cr_assert_eq(e.learning_rate, 0.001);
  cr_assert_eq(e.epochs, 10);
  cr_assert_eq(e.decay, 0.95);
  cr_assert_eq(e.min_bits, 0.2);
  cr_assert_eq(e.max_bits, 0.9);
  cr_assert(e.offline_only);
  cr_assert_eq(c.base_precision, 8);
  cr_assert_eq(c.min_precision, 4);
  cr_assert_eq(c.threshold_init, 0.01);
  cr_assert_eq(c.max_drop_ratio, 0.25);
  cr_assert_str_eq(c.backend, "bridge");
  cr_assert_eq(c.timeout_seconds, 300);
  cr_assert_eq(alcm_encoder_config_load(&c, "/nonexistent/x.yaml", &mem, &msg),
               ALCM_ERR_IO);
}

static void ent_err(const char *text, const char *want) {
  alcm_entropy_config e;
  alcm_msg msg;
  cr_assert_eq(alcm_entropy_config_parse(&e, "e.yaml", text, strlen(text),
                                         &msg),
               ALCM_ERR_ARGUMENT, "accepted: %s", text);
  cr_assert(strstr(msg.text, want), "got '%s', want '%s'", msg.text, want);
}

static void enc_err(const char *text, const char *want) {
  alcm_encoder_config c;
  alcm_msg msg;
  cr_assert_eq(alcm_encoder_config_parse(&c, "c.yaml", text, strlen(text),
                                         &msg),
               ALCM_ERR_ARGUMENT, "accepted: %s", text);
  cr_assert(strstr(msg.text, want), "got '%s', want '%s'", msg.text, want);
}

Test(config, values_and_partial_files) {
  alcm_entropy_config e;
  const char *t = "model:\n  epochs: 3\n  learning_rate: 2.5e-3\n"
                  "  seed: 7\nscheduler:\n  decay: .5\n  window: 3\n"
                  "offline_only: false\n";
  cr_assert_eq(alcm_entropy_config_parse(&e, "e", t, strlen(t), NULL),
               ALCM_OK);
  cr_assert_eq(e.epochs, 3);
  cr_assert_eq(e.learning_rate, 0.0025);
  cr_assert_eq(e.seed, 7);
  cr_assert_eq(e.decay, 0.5);
  cr_assert_eq(e.window, 3);
  cr_assert(!e.offline_only);
  cr_assert_eq(e.hidden_size, 64); /* default kept */
  cr_assert_eq(alcm_entropy_config_parse(&e, "e", "", 0, NULL), ALCM_OK);
  cr_assert_eq(alcm_entropy_config_parse(&e, "e", "# only a comment\n", 17,
                                         NULL),
               ALCM_OK);
  alcm_encoder_config c;
  t = "backend: zstd\ntimeout_seconds: 12.5\n";
  cr_assert_eq(alcm_encoder_config_parse(&c, "c", t, strlen(t), NULL),
               ALCM_OK);
  cr_assert_str_eq(c.backend, "zstd");
  cr_assert_eq(c.timeout_seconds, 12.5);
}

Test(config, syntax_errors) {
  ent_err("model: [1, 2\n", "e.yaml:2:1: YAML error");
  ent_err("model:\n  epochs: 3\n epochs: 4\n", "e.yaml:3:");
  ent_err("offline_only: true\n---\noffline_only: false\n", "e.yaml:2:1: a second document");
}

Test(config, unknown_keys) {
  ent_err("model:\n  epoch: 3\n", "e.yaml:2:3: unknown key 'epoch'");
  ent_err("modle:\n  epochs: 3\n", "e.yaml:1:1: unknown key 'modle'");
  enc_err("quantization:\n  base_precision: 8\n  bits: 4\n",
          "c.yaml:3:3: unknown key 'bits'");
  enc_err("pruning:\n  max_drop_ratio: 0.25\ntimeout: 3\n",
          "c.yaml:3:1: unknown key 'timeout'");
  enc_err("? [a, b]\n: 1\n", "c.yaml:1:3: expected a key");
}

Test(config, duplicates) {
  ent_err("model:\n  epochs: 3\n  epochs: 4\n",
          "e.yaml:3:3: duplicate key 'model.epochs'");
  enc_err("backend: zstd\nbackend: zlib\n", "c.yaml:2:1: duplicate key");
}

Test(config, wrong_types) {
  ent_err("model:\n  epochs: ten\n", "e.yaml:2:11: expected an integer for 'model.epochs'");
  ent_err("model:\n  epochs: 2.5\n", "expected an integer for 'model.epochs'");
  ent_err("model:\n  epochs: \"3\"\n", "expected an integer");
  ent_err("model:\n  learning_rate: fast\n", "e.yaml:2:18: expected a number");
  ent_err("model:\n  learning_rate: 1,5\n", "expected a number");
  ent_err("offline_only: yes\n", "e.yaml:1:15: expected true or false");
  ent_err("model: 3\n", "e.yaml:1:8: expected a mapping for 'model'");
  ent_err("model:\n  epochs: [1]\n", "e.yaml:2:11: expected a scalar");
  ent_err("- 1\n- 2\n", "e.yaml:1:1: expected a mapping for 'the document'");
  enc_err("quantization:\n  base_precision: {a: 1}\n", "c.yaml:2:19: expected a scalar");
}

Test(config, out_of_range) {
  ent_err("model:\n  hidden_size: 0\n", "e.yaml:2:16: value out of range for 'model.hidden_size'");
  ent_err("model:\n  hidden_size: 5000\n", "out of range");
  ent_err("model:\n  learning_rate: 0\n", "out of range for 'model.learning_rate'");
  ent_err("model:\n  learning_rate: -1e-3\n", "out of range");
  ent_err("model:\n  epochs: 0\n", "out of range");
  ent_err("model:\n  type: \"Transformer\"\n", "e.yaml:2:9: value not allowed for 'model.type'");
  ent_err("scheduler:\n  decay: 1\n", "out of range for 'scheduler.decay'");
  ent_err("scheduler:\n  window: 1\n", "out of range");
  ent_err("scheduler:\n  min_bits: 1.5\n", "out of range");
  ent_err("scheduler:\n  min_bits: 0.9\n  max_bits: 0.2\n",
          "e.yaml:3:3: scheduler.min_bits must be below");
  enc_err("quantization:\n  base_precision: 17\n", "c.yaml:2:19: value out of range");
  enc_err("quantization:\n  min_precision: 9\n",
          "c.yaml:2:3: quantization.min_precision exceeds base_precision");
  enc_err("pruning:\n  max_drop_ratio: 1.01\n", "out of range");
  enc_err("pruning:\n  threshold_init: 0.5\n", "threshold_init exceeds");
  enc_err("backend: \"gzip\"\n", "c.yaml:1:10: value not allowed for 'backend'");
  enc_err("timeout_seconds: 0\n", "out of range for 'timeout_seconds'");
  enc_err("timeout_seconds: 1e999\n", "out of range");
}
