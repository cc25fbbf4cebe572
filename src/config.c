/*
 * config.c - entropy_config.yaml and encoder_config.yaml through libyaml
 * (spec/adaptive.md "Configuration"). Every key is known in advance; an
 * unknown key, a duplicate, a wrong type or an out-of-range value is an
 * error naming <file>:<line>:<column> from libyaml's marks (1-based).
 *
 * Numbers are parsed here, not with strtod, whose decimal point follows
 * the process locale.
 */
#include <math.h>
#include <stdio.h>
#include <yaml.h>

#include "adaptive.h"

#define CONFIG_MAX_BYTES ((size_t)1 << 20)

typedef enum { F_MAP, F_INT, F_FLOAT, F_BOOL, F_STRING } field_kind;
typedef struct {
  const char *path; /* "model.epochs" */
  field_kind kind;
  double min, max;  /* inclusive range for numbers */
  bool open_min;    /* min itself excluded */
  void *target;     /* unsigned*, uint64_t*, double*, bool*, char[size] */
  size_t size;      /* string buffer size */
  const char *const *choices; /* allowed strings, NULL-terminated */
  bool seen;
  yaml_mark_t mark;
} field;

typedef struct {
  const char *name;
  yaml_document_t *doc;
  field *fields;
  size_t count;
  alcm_msg *msg;
} walker;

static alcm_status at(const walker *w, yaml_mark_t m, const char *what,
                      const char *key) {
  return alcm_fail(w->msg, ALCM_ERR_ARGUMENT, "%s:%zu:%zu: %s '%s'", w->name,
                   m.line + 1, m.column + 1, what, key);
}

/* [+-]?digits: value into *v. @return false on syntax. */
static bool parse_int(const char *s, double *v) {
  const bool neg = *s == '-';
  if (*s == '-' || *s == '+') s++;
  if (!*s) return false;
  double r = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    r = r * 10 + (*s - '0');
  }
  *v = neg ? -r : r;
  return true;
}

/* YAML 1.2 core-schema float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?
 * [0-9]+)?. Correctly rounded while the digits fit 2^53 and the decimal
 * exponent is within +-22 (one exact operation), which covers any
 * sensible config value. */
static bool parse_float(const char *s, double *v) {
  const bool neg = *s == '-';
  if (*s == '-' || *s == '+') s++;
  uint64_t mant = 0;
  int exp10 = 0, digits = 0;
  bool any = false;
  for (; *s >= '0' && *s <= '9'; s++, any = true)
    if (mant < (1ull << 53) / 10) {
      mant = mant * 10 + (uint64_t)(*s - '0');
      digits++;
    } else {
      exp10++;
    }
  if (*s == '.')
    for (s++; *s >= '0' && *s <= '9'; s++, any = true)
      if (mant < (1ull << 53) / 10) {
        mant = mant * 10 + (uint64_t)(*s - '0');
        exp10--;
      }
  if (!any) return false;
  if (*s == 'e' || *s == 'E') {
    s++;
    const bool eneg = *s == '-';
    if (*s == '-' || *s == '+') s++;
    if (*s < '0' || *s > '9') return false;
    int e = 0;
    for (; *s >= '0' && *s <= '9'; s++)
      if (e < 10000) e = e * 10 + (*s - '0');
    exp10 += eneg ? -e : e;
  }
  if (*s) return false;
  (void)digits;
  double r = (double)mant, p = 1;
  const int ae = exp10 < 0 ? -exp10 : exp10;
  for (int i = 0; i < ae && i < 400; i++) p *= 10; /* exact up to 1e22 */
  r = exp10 < 0 ? r / p : r * p;
  *v = neg ? -r : r;
  return true;
}

static bool parse_bool(const char *s, bool *v) {
  static const char *const t[] = {"true", "True", "TRUE"};
  static const char *const f[] = {"false", "False", "FALSE"};
  for (size_t i = 0; i < 3; i++) {
    if (!strcmp(s, t[i])) return (*v = true);
    if (!strcmp(s, f[i])) return !(*v = false);
  }
  return false;
}

static alcm_status set_scalar(const walker *w, field *f, yaml_node_t *n) {
  const char *const s = (const char *)n->data.scalar.value;
  const bool plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (f->kind == F_STRING) {
    if (n->data.scalar.length >= f->size || strlen(s) != n->data.scalar.length)
      return at(w, n->start_mark, "string too long for", f->path);
    bool ok = !f->choices;
    for (size_t i = 0; f->choices && f->choices[i]; i++)
      ok |= !strcmp(s, f->choices[i]);
    if (!ok) return at(w, n->start_mark, "value not allowed for", f->path);
    memcpy(f->target, s, n->data.scalar.length + 1);
    return ALCM_OK;
  }
  if (f->kind == F_BOOL) {
    if (!plain || !parse_bool(s, f->target))
      return at(w, n->start_mark, "expected true or false for", f->path);
    return ALCM_OK;
  }
  double v;
  const bool ok = plain && (f->kind == F_INT ? parse_int(s, &v)
                                             : parse_float(s, &v));
  if (!ok)
    return at(w, n->start_mark,
              f->kind == F_INT ? "expected an integer for"
                               : "expected a number for",
              f->path);
  if (!(v >= f->min && v <= f->max) || (f->open_min && v == f->min))
    return at(w, n->start_mark, "value out of range for", f->path);
  if (f->kind == F_FLOAT)
    *(double *)f->target = v;
  else if (f->size == sizeof(uint64_t))
    *(uint64_t *)f->target = (uint64_t)v;
  else
    *(unsigned *)f->target = (unsigned)v;
  return ALCM_OK;
}

static field *find_field(const walker *w, const char *path) {
  for (size_t i = 0; i < w->count; i++)
    if (!strcmp(w->fields[i].path, path)) return &w->fields[i];
  return NULL;
}

static alcm_status walk(const walker *w, yaml_node_t *map, const char *prefix) {
  if (map->type != YAML_MAPPING_NODE)
    return at(w, map->start_mark, "expected a mapping for",
              prefix[0] ? prefix : "the document");
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *const k = yaml_document_get_node(w->doc, p->key);
    yaml_node_t *const v = yaml_document_get_node(w->doc, p->value);
    if (!k || !v || k->type != YAML_SCALAR_NODE)
      return at(w, k ? k->start_mark : map->start_mark, "expected a key in",
                prefix[0] ? prefix : "the document");
    char path[96];
    const int len = snprintf(path, sizeof path, "%s%s%s", prefix,
                             prefix[0] ? "." : "", k->data.scalar.value);
    field *const f = len > 0 && (size_t)len < sizeof path
                         ? find_field(w, path) : NULL;
    if (!f) return at(w, k->start_mark, "unknown key", (const char *)k->data.scalar.value);
    if (f->seen) return at(w, k->start_mark, "duplicate key", path);
    f->seen = true;
    f->mark = k->start_mark;
    alcm_status s;
    if (f->kind == F_MAP)
      s = walk(w, v, path);
    else if (v->type != YAML_SCALAR_NODE)
      s = at(w, v->start_mark, "expected a scalar for", path);
    else
      s = set_scalar(w, f, v);
    if (s) return s;
  }
  return ALCM_OK;
}

static alcm_status parse(const char *name, const void *text, size_t size,
                         field *fields, size_t count, alcm_msg *msg) {
  if (size > CONFIG_MAX_BYTES)
    return alcm_fail(msg, ALCM_ERR_LIMIT, "%s: %zu bytes", name, size);
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser))
    return alcm_fail(msg, ALCM_ERR_NOMEM, "%s: YAML parser", name);
  yaml_parser_set_input_string(&parser, text, size);
  if (!yaml_parser_load(&parser, &doc)) {
    const alcm_status s = alcm_fail(
        msg, parser.error == YAML_MEMORY_ERROR ? ALCM_ERR_NOMEM
                                               : ALCM_ERR_ARGUMENT,
        "%s:%zu:%zu: YAML error: %s", name, parser.problem_mark.line + 1,
        parser.problem_mark.column + 1,
        parser.problem ? parser.problem : "unknown");
    yaml_parser_delete(&parser);
    return s;
  }
  walker w = {name, &doc, fields, count, msg};
  yaml_node_t *const root = yaml_document_get_root_node(&doc);
  alcm_status s = ALCM_OK;
  if (root) s = walk(&w, root, "");
  /* One document per file: a second one would be silently ignored. */
  yaml_document_t extra;
  if (!s && yaml_parser_load(&parser, &extra)) {
    if (yaml_document_get_root_node(&extra))
      s = alcm_fail(msg, ALCM_ERR_ARGUMENT, "%s:%zu:%zu: a second document",
                    name, extra.start_mark.line + 1,
                    extra.start_mark.column + 1);
    yaml_document_delete(&extra);
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return s;
}

/* A check between two fields, reported at the later-set key. */
static alcm_status cross(const char *name, const field *a, const field *b,
                         const char *what, alcm_msg *msg) {
  const field *const f = b->seen ? b : a;
  return alcm_fail(msg, ALCM_ERR_ARGUMENT, "%s:%zu:%zu: %s", name,
                   f->seen ? f->mark.line + 1 : 1,
                   f->seen ? f->mark.column + 1 : 1, what);
}

void alcm_entropy_config_default(alcm_entropy_config *c) {
  memset(c, 0, sizeof *c);
  memcpy(c->model_type, "MLP", 4);
  c->hidden_size = 64;
  c->learning_rate = 0.001;
  c->epochs = 10;
  c->seed = 42;
  c->decay = 0.95;
  c->window = 5;
  c->min_bits = 0.2;
  c->max_bits = 0.9;
  c->offline_only = true;
}

void alcm_encoder_config_default(alcm_encoder_config *c) {
  memset(c, 0, sizeof *c);
  c->base_precision = 8;
  c->min_precision = 4;
  c->threshold_init = 0.01;
  c->max_drop_ratio = 0.25;
  memcpy(c->backend, "bridge", 7);
  c->timeout_seconds = 300;
}

alcm_status alcm_entropy_config_parse(alcm_entropy_config *c, const char *name,
                                      const void *text, size_t size,
                                      alcm_msg *msg) {
  static const char *const types[] = {"MLP", NULL};
  alcm_entropy_config v;
  alcm_entropy_config_default(&v);
  field f[] = {
      {"model", F_MAP, 0, 0, false, NULL, 0, NULL, false, {0, 0, 0}},
      {"model.type", F_STRING, 0, 0, false, v.model_type, sizeof v.model_type,
       types, false, {0, 0, 0}},
      {"model.hidden_size", F_INT, 1, ALCM_MLP_HIDDEN_MAX, false,
       &v.hidden_size, sizeof(unsigned), NULL, false, {0, 0, 0}},
      {"model.learning_rate", F_FLOAT, 0, 1, true, &v.learning_rate, 0, NULL,
       false, {0, 0, 0}},
      {"model.epochs", F_INT, 1, 1000000, false, &v.epochs, sizeof(unsigned),
       NULL, false, {0, 0, 0}},
      {"model.seed", F_INT, 0, 9007199254740992.0, false, &v.seed,
       sizeof(uint64_t), NULL, false, {0, 0, 0}},
      {"scheduler", F_MAP, 0, 0, false, NULL, 0, NULL, false, {0, 0, 0}},
      {"scheduler.decay", F_FLOAT, 0, 0.999999, true, &v.decay, 0, NULL,
       false, {0, 0, 0}},
      {"scheduler.window", F_INT, 2, ALCM_SCHED_WINDOW_MAX, false, &v.window,
       sizeof(unsigned), NULL, false, {0, 0, 0}},
      {"scheduler.min_bits", F_FLOAT, 0, 1, false, &v.min_bits, 0, NULL,
       false, {0, 0, 0}},
      {"scheduler.max_bits", F_FLOAT, 0, 1, false, &v.max_bits, 0, NULL,
       false, {0, 0, 0}},
      {"offline_only", F_BOOL, 0, 0, false, &v.offline_only, 0, NULL, false,
       {0, 0, 0}},
  };
  const alcm_status s = parse(name, text, size, f, sizeof f / sizeof f[0], msg);
  if (s) return s;
  if (!(v.min_bits < v.max_bits))
    return cross(name, &f[9], &f[10],
                 "scheduler.min_bits must be below scheduler.max_bits", msg);
  *c = v;
  return ALCM_OK;
}

alcm_status alcm_encoder_config_parse(alcm_encoder_config *c, const char *name,
                                      const void *text, size_t size,
                                      alcm_msg *msg) {
  static const char *const backends[] = {"bridge", "auto", "rans", "zstd",
                                         "zlib",   "store", NULL};
  alcm_encoder_config v;
  alcm_encoder_config_default(&v);
  field f[] = {
      {"quantization", F_MAP, 0, 0, false, NULL, 0, NULL, false, {0, 0, 0}},
      {"quantization.base_precision", F_INT, 1, ALCM_BITS_MAX, false,
       &v.base_precision, sizeof(unsigned), NULL, false, {0, 0, 0}},
      {"quantization.min_precision", F_INT, 1, ALCM_BITS_MAX, false,
       &v.min_precision, sizeof(unsigned), NULL, false, {0, 0, 0}},
      {"pruning", F_MAP, 0, 0, false, NULL, 0, NULL, false, {0, 0, 0}},
      {"pruning.threshold_init", F_FLOAT, 0, 1, false, &v.threshold_init, 0,
       NULL, false, {0, 0, 0}},
      {"pruning.max_drop_ratio", F_FLOAT, 0, 1, false, &v.max_drop_ratio, 0,
       NULL, false, {0, 0, 0}},
      {"backend", F_STRING, 0, 0, false, v.backend, sizeof v.backend,
       backends, false, {0, 0, 0}},
      {"timeout_seconds", F_FLOAT, 0, 31536000, true, &v.timeout_seconds, 0,
       NULL, false, {0, 0, 0}},
  };
  const alcm_status s = parse(name, text, size, f, sizeof f / sizeof f[0], msg);
  if (s) return s;
  if (v.min_precision > v.base_precision)
    return cross(name, &f[1], &f[2],
                 "quantization.min_precision exceeds base_precision", msg);
  if (v.threshold_init > v.max_drop_ratio)
    return cross(name, &f[4], &f[5],
                 "pruning.threshold_init exceeds max_drop_ratio", msg);
  *c = v;
  return ALCM_OK;
}

static alcm_status read_file(const char *path, const alcm_mem *mem,
                             uint8_t **buf, size_t *size, alcm_msg *msg) {
  FILE *const f = fopen(path, "rb");
  if (!f) return alcm_fail(msg, ALCM_ERR_IO, "config '%s': cannot open", path);
  uint8_t *const b = alcm_mem_alloc(mem, CONFIG_MAX_BYTES + 1);
  if (!b) {
    fclose(f);
    return alcm_fail(msg, ALCM_ERR_NOMEM, "config '%s'", path);
  }
  const size_t n = fread(b, 1, CONFIG_MAX_BYTES + 1, f);
  const bool err = ferror(f) != 0;
  fclose(f);
  if (err || n > CONFIG_MAX_BYTES) {
    alcm_mem_free(mem, b);
    return alcm_fail(msg, err ? ALCM_ERR_IO : ALCM_ERR_LIMIT,
                     "config '%s'%s", path, err ? "" : ": above 1 MiB");
  }
  *buf = b;
  *size = n;
  return ALCM_OK;
}

alcm_status alcm_entropy_config_load(alcm_entropy_config *c, const char *path,
                                     const alcm_mem *mem, alcm_msg *msg) {
  uint8_t *b = NULL;
  size_t n = 0;
  alcm_status s = read_file(path, mem, &b, &n, msg);
  if (s) return s;
  s = alcm_entropy_config_parse(c, path, b, n, msg);
  alcm_mem_free(mem, b);
  return s;
}

alcm_status alcm_encoder_config_load(alcm_encoder_config *c, const char *path,
                                     const alcm_mem *mem, alcm_msg *msg) {
  uint8_t *b = NULL;
  size_t n = 0;
  alcm_status s = read_file(path, mem, &b, &n, msg);
  if (s) return s;
  s = alcm_encoder_config_parse(c, path, b, n, msg);
  alcm_mem_free(mem, b);
  return s;
}
