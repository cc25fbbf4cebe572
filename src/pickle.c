/*
 * pickle.c - a pickle stack machine for the data.pkl that torch.save
 * writes (Python "pickletools" documents the opcodes; protocols 2-5).
 *
 * Unpickling runs code: GLOBAL + REDUCE calls any importable function.
 * This machine never calls anything. It knows a short allow-list of
 * globals (tensor and parameter rebuild functions, storage classes,
 * OrderedDict, torch.Size, torch dtypes) and builds plain values for
 * them; every other global, and every opcode outside the subset torch
 * writes, is an ERR_INPUT naming it and its offset, before anything else
 * happens. Memory is bounded by the input: one value per opcode at most,
 * a capped stack, a capped memo, and an explicit-stack walk (no recursion
 * on attacker-controlled depth).
 */
#include <stdio.h>

#include "internal.h"
#include "importers.h"

typedef unsigned long long ull;

/* ---- values ------------------------------------------------------------- */

enum {
  V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_BYTES, V_TUPLE, V_LIST, V_DICT,
  V_GLOBAL, V_STORAGE, V_TENSOR, V_DTYPE, V_MARK_UNUSED
};

/* Allowed globals. */
enum {
  G_ORDERED_DICT, G_REBUILD_TENSOR, G_REBUILD_PARAM, G_REBUILD_PARAM_STATE,
  G_SIZE, G_STORAGE_CLASS, G_DTYPE
};

typedef struct {
  uint8_t kind;
  uint8_t global; /* V_GLOBAL: G_*; V_STORAGE_CLASS etc. */
  int16_t dtype;  /* storage class / dtype: alcm dtype */
  uint32_t len;   /* string bytes, container items */
  uint32_t cap;   /* container capacity */
  union {
    int64_t i;
    const uint8_t *s;
    uint32_t *items;  /* dict: key, value pairs */
    uint32_t index;   /* storage or tensor record */
  } u;
} pk_val;

typedef struct {
  uint32_t storage;
  uint64_t offset;
  unsigned ndim;
  uint64_t shape[ALCM_MAX_NDIM];
  int64_t stride[ALCM_MAX_NDIM];
  bool requires_grad;
} pk_tensor;

typedef struct {
  const uint8_t *start, *p, *end;
  const char *file;
  const alcm_mem *m;
  alcm_msg *msg;
  size_t op_at; /* offset of the current opcode, for messages */
  unsigned op;
  pk_val *v;
  size_t nv, capv, maxv;
  uint32_t *stack;
  size_t sp, capstack;
  size_t *marks;
  size_t nmarks, capmarks;
  uint32_t *memo; /* value index + 1; 0 = empty */
  size_t nmemo, capmemo;
  pk_tensor *t;
  size_t nt, capt;
  alcm_pk_storage *st;
  size_t nst, capst;
} pk;

static const char *pk_opname(unsigned op) {
  switch (op) {
  case '(': return "MARK"; case '.': return "STOP"; case '0': return "POP";
  case '1': return "POP_MARK"; case '2': return "DUP";
  case 'F': return "FLOAT"; case 'I': return "INT"; case 'J': return "BININT";
  case 'K': return "BININT1"; case 'L': return "LONG"; case 'M': return "BININT2";
  case 'N': return "NONE"; case 'P': return "PERSID"; case 'Q': return "BINPERSID";
  case 'R': return "REDUCE"; case 'S': return "STRING"; case 'T': return "BINSTRING";
  case 'U': return "SHORT_BINSTRING"; case 'V': return "UNICODE";
  case 'X': return "BINUNICODE"; case 'a': return "APPEND"; case 'b': return "BUILD";
  case 'c': return "GLOBAL"; case 'd': return "DICT"; case '}': return "EMPTY_DICT";
  case 'e': return "APPENDS"; case 'g': return "GET"; case 'h': return "BINGET";
  case 'i': return "INST"; case 'j': return "LONG_BINGET"; case 'l': return "LIST";
  case ']': return "EMPTY_LIST"; case 'o': return "OBJ"; case 'p': return "PUT";
  case 'q': return "BINPUT"; case 'r': return "LONG_BINPUT"; case 's': return "SETITEM";
  case 't': return "TUPLE"; case ')': return "EMPTY_TUPLE"; case 'u': return "SETITEMS";
  case 'G': return "BINFLOAT"; case 'B': return "BINBYTES"; case 'C': return "SHORT_BINBYTES";
  case 0x80: return "PROTO"; case 0x81: return "NEWOBJ"; case 0x82: return "EXT1";
  case 0x83: return "EXT2"; case 0x84: return "EXT4"; case 0x85: return "TUPLE1";
  case 0x86: return "TUPLE2"; case 0x87: return "TUPLE3"; case 0x88: return "NEWTRUE";
  case 0x89: return "NEWFALSE"; case 0x8a: return "LONG1"; case 0x8b: return "LONG4";
  case 0x8c: return "SHORT_BINUNICODE"; case 0x8d: return "BINUNICODE8";
  case 0x8e: return "BINBYTES8"; case 0x8f: return "EMPTY_SET"; case 0x90: return "ADDITEMS";
  case 0x91: return "FROZENSET"; case 0x92: return "NEWOBJ_EX"; case 0x93: return "STACK_GLOBAL";
  case 0x94: return "MEMOIZE"; case 0x95: return "FRAME"; case 0x96: return "BYTEARRAY8";
  case 0x97: return "NEXT_BUFFER"; case 0x98: return "READONLY_BUFFER";
  default: return "unknown";
  }
}

/* "<file>: offset N: opcode NAME: <what>" */
static alcm_status pk_fail(pk *k, alcm_status s, const char *fmt, ...)
    ALCM_PRINTF(3, 4);
static alcm_status pk_fail(pk *k, alcm_status s, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return alcm_fail(k->msg, s, "%s: pickle offset %zu: opcode %s (0x%02x): %s",
                   k->file, k->op_at, pk_opname(k->op), k->op, what);
}

static alcm_status pk_new(pk *k, unsigned kind, uint32_t *out) {
  if (k->nv == k->maxv)
    return pk_fail(k, ALCM_ERR_LIMIT, "more than %zu values", k->maxv);
  if (k->nv == k->capv) {
    size_t cap = k->capv * sizeof *k->v;
    void *p = k->v;
    if (alcm_mem_reserve(k->m, &p, &cap, (k->nv + 1) * sizeof *k->v))
      return pk_fail(k, ALCM_ERR_NOMEM, "value table");
    k->v = p;
    k->capv = cap / sizeof *k->v;
  }
  memset(&k->v[k->nv], 0, sizeof k->v[k->nv]);
  k->v[k->nv].kind = (uint8_t)kind;
  *out = (uint32_t)k->nv++;
  return ALCM_OK;
}

static alcm_status pk_push(pk *k, uint32_t v) {
  if (k->sp == ALCM_PK_MAX_STACK)
    return pk_fail(k, ALCM_ERR_LIMIT, "stack deeper than %zu",
                   (size_t)ALCM_PK_MAX_STACK);
  if (k->sp == k->capstack) {
    size_t cap = k->capstack * sizeof *k->stack;
    void *p = k->stack;
    if (alcm_mem_reserve(k->m, &p, &cap, (k->sp + 1) * sizeof *k->stack))
      return pk_fail(k, ALCM_ERR_NOMEM, "stack");
    k->stack = p;
    k->capstack = cap / sizeof *k->stack;
  }
  k->stack[k->sp++] = v;
  return ALCM_OK;
}

static alcm_status pk_push_new(pk *k, unsigned kind, uint32_t *out) {
  alcm_status s = pk_new(k, kind, out);
  return s ? s : pk_push(k, *out);
}

/* The stack above the topmost mark must hold at least n values. */
static size_t pk_floor(const pk *k) {
  return k->nmarks ? k->marks[k->nmarks - 1] : 0;
}

static alcm_status pk_pop(pk *k, uint32_t *v) {
  if (k->sp == pk_floor(k))
    return pk_fail(k, ALCM_ERR_INPUT, "stack underflow");
  *v = k->stack[--k->sp];
  return ALCM_OK;
}

static alcm_status pk_top(pk *k, uint32_t *v) {
  if (k->sp == pk_floor(k))
    return pk_fail(k, ALCM_ERR_INPUT, "stack underflow");
  *v = k->stack[k->sp - 1];
  return ALCM_OK;
}

static alcm_status pk_append(pk *k, uint32_t c, uint32_t item) {
  pk_val *const v = &k->v[c];
  if (v->len == UINT32_MAX)
    return pk_fail(k, ALCM_ERR_LIMIT, "container too large");
  if (v->len == v->cap) {
    size_t cap = (size_t)v->cap * sizeof *v->u.items;
    void *p = v->u.items;
    if (alcm_mem_reserve(k->m, &p, &cap, ((size_t)v->len + 1) * sizeof *v->u.items))
      return pk_fail(k, ALCM_ERR_NOMEM, "container");
    v->u.items = p;
    v->cap = (uint32_t)(cap / sizeof *v->u.items > UINT32_MAX
                            ? UINT32_MAX
                            : cap / sizeof *v->u.items);
  }
  v->u.items[v->len++] = item;
  return ALCM_OK;
}

/* Pop everything above the top mark into a new container of kind. */
static alcm_status pk_collect(pk *k, unsigned kind, uint32_t *out) {
  if (!k->nmarks) return pk_fail(k, ALCM_ERR_INPUT, "no MARK on the stack");
  const size_t from = k->marks[--k->nmarks];
  alcm_status s = pk_new(k, kind, out);
  for (size_t i = from; i < k->sp && s == ALCM_OK; i++)
    s = pk_append(k, *out, k->stack[i]);
  k->sp = from;
  return s;
}

/* ---- globals ------------------------------------------------------------ */

typedef struct {
  const char *module, *name;
  uint8_t global;
  int16_t dtype;
} pk_allowed;

static const pk_allowed pk_globals[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR, 0},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAM, 0},
    {"torch._utils", "_rebuild_parameter_with_state", G_REBUILD_PARAM_STATE, 0},
    {"torch", "Size", G_SIZE, 0},
    {"torch", "FloatStorage", G_STORAGE_CLASS, ALCM_DTYPE_F32},
    {"torch", "DoubleStorage", G_STORAGE_CLASS, ALCM_DTYPE_F64},
    {"torch", "HalfStorage", G_STORAGE_CLASS, ALCM_DTYPE_F16},
    {"torch", "BFloat16Storage", G_STORAGE_CLASS, ALCM_DTYPE_BF16},
    {"torch", "LongStorage", G_STORAGE_CLASS, ALCM_DTYPE_I64},
    {"torch", "IntStorage", G_STORAGE_CLASS, ALCM_DTYPE_I32},
    {"torch", "ShortStorage", G_STORAGE_CLASS, ALCM_DTYPE_I16},
    {"torch", "CharStorage", G_STORAGE_CLASS, ALCM_DTYPE_I8},
    {"torch", "ByteStorage", G_STORAGE_CLASS, ALCM_DTYPE_U8},
    {"torch", "BoolStorage", G_STORAGE_CLASS, ALCM_DTYPE_BOOL},
    {"torch", "float32", G_DTYPE, ALCM_DTYPE_F32},
    {"torch", "float", G_DTYPE, ALCM_DTYPE_F32},
    {"torch", "float64", G_DTYPE, ALCM_DTYPE_F64},
    {"torch", "double", G_DTYPE, ALCM_DTYPE_F64},
    {"torch", "float16", G_DTYPE, ALCM_DTYPE_F16},
    {"torch", "half", G_DTYPE, ALCM_DTYPE_F16},
    {"torch", "bfloat16", G_DTYPE, ALCM_DTYPE_BF16},
    {"torch", "int64", G_DTYPE, ALCM_DTYPE_I64},
    {"torch", "long", G_DTYPE, ALCM_DTYPE_I64},
    {"torch", "int32", G_DTYPE, ALCM_DTYPE_I32},
    {"torch", "int", G_DTYPE, ALCM_DTYPE_I32},
    {"torch", "int16", G_DTYPE, ALCM_DTYPE_I16},
    {"torch", "short", G_DTYPE, ALCM_DTYPE_I16},
    {"torch", "int8", G_DTYPE, ALCM_DTYPE_I8},
    {"torch", "uint8", G_DTYPE, ALCM_DTYPE_U8},
    {"torch", "bool", G_DTYPE, ALCM_DTYPE_BOOL},
};

static alcm_status pk_global(pk *k, const uint8_t *mod, size_t mn,
                             const uint8_t *name, size_t nn) {
  for (size_t i = 0; i < sizeof pk_globals / sizeof pk_globals[0]; i++) {
    const pk_allowed *const g = &pk_globals[i];
    if (strlen(g->module) != mn || memcmp(g->module, mod, mn) != 0 ||
        strlen(g->name) != nn || memcmp(g->name, name, nn) != 0)
      continue;
    uint32_t v;
    const alcm_status s = pk_push_new(k, V_GLOBAL, &v);
    if (s == ALCM_OK) {
      k->v[v].global = g->global;
      k->v[v].dtype = g->dtype;
    }
    return s;
  }
  char shown[200];
  size_t o = 0;
  for (size_t i = 0; i < mn + 1 + nn && o + 5 < sizeof shown; i++) {
    const uint8_t c = i < mn ? mod[i] : i == mn ? '.' : name[i - mn - 1];
    o += (size_t)snprintf(shown + o, sizeof shown - o,
                          c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
  }
  return pk_fail(k, ALCM_ERR_INPUT, "global '%s' is not allowed (only tensor "
                 "rebuild functions, storage classes, OrderedDict, torch.Size "
                 "and dtypes)", shown);
}

/* ---- argument readers ---------------------------------------------------- */

static alcm_status pk_bytes(pk *k, size_t n, const uint8_t **p) {
  if ((size_t)(k->end - k->p) < n)
    return pk_fail(k, ALCM_ERR_TRUNCATED, "argument of %zu bytes runs past "
                   "the end", n);
  *p = k->p;
  k->p += n;
  return ALCM_OK;
}

static alcm_status pk_uint(pk *k, size_t n, uint64_t *v) {
  const uint8_t *p = NULL;
  const alcm_status s = pk_bytes(k, n, &p);
  if (s) return s;
  *v = 0;
  for (size_t i = n; i-- > 0;) *v = (*v << 8) | p[i];
  return ALCM_OK;
}

static alcm_status pk_line(pk *k, const uint8_t **p, size_t *n) {
  const uint8_t *const nl = memchr(k->p, '\n', (size_t)(k->end - k->p));
  if (!nl) return pk_fail(k, ALCM_ERR_TRUNCATED, "line without newline");
  *p = k->p;
  *n = (size_t)(nl - k->p);
  k->p = nl + 1;
  return ALCM_OK;
}

static alcm_status pk_string(pk *k, unsigned kind, size_t lenbytes) {
  uint64_t n = 0;
  const uint8_t *p = NULL;
  alcm_status s = pk_uint(k, lenbytes, &n);
  if (s) return s;
  if (n > (uint64_t)(k->end - k->p))
    return pk_fail(k, ALCM_ERR_TRUNCATED, "string of %llu bytes runs past "
                   "the end", (ull)n);
  if ((s = pk_bytes(k, (size_t)n, &p))) return s;
  uint32_t v;
  if ((s = pk_push_new(k, kind, &v))) return s;
  k->v[v].u.s = p;
  k->v[v].len = (uint32_t)n;
  return ALCM_OK;
}

static alcm_status pk_int(pk *k, int64_t i) {
  uint32_t v = 0;
  const alcm_status s = pk_push_new(k, V_INT, &v);
  if (s == ALCM_OK) k->v[v].u.i = i;
  return s;
}

/* LONG1: little-endian two's complement, at most 8 bytes. */
static alcm_status pk_long1(pk *k) {
  uint64_t n = 0;
  const uint8_t *p = NULL;
  alcm_status s = pk_uint(k, 1, &n);
  if (s == ALCM_OK) s = pk_bytes(k, (size_t)n, &p);
  if (s) return s;
  if (n > 8) return pk_fail(k, ALCM_ERR_UNSUPPORTED, "integer of %llu bytes",
                            (ull)n);
  uint64_t x = 0;
  for (size_t i = n; i-- > 0;) x = (x << 8) | p[i];
  if (n && n < 8 && (p[n - 1] & 0x80)) x |= ~(uint64_t)0 << (8 * n);
  return pk_int(k, (int64_t)x);
}

/* ---- memo --------------------------------------------------------------- */

static alcm_status pk_put(pk *k, uint64_t key) {
  uint32_t v = 0;
  alcm_status s = pk_top(k, &v);
  if (s) return s;
  /* Keys come from the file: bound the table by the caps and the input. */
  if (key >= ALCM_PK_MAX_MEMO || key > (uint64_t)(k->end - k->start))
    return pk_fail(k, ALCM_ERR_LIMIT, "memo key %llu", (ull)key);
  if (key >= k->capmemo) {
    size_t cap = k->capmemo * sizeof *k->memo;
    void *p = k->memo;
    if (alcm_mem_reserve(k->m, &p, &cap, ((size_t)key + 1) * sizeof *k->memo))
      return pk_fail(k, ALCM_ERR_NOMEM, "memo");
    k->memo = p;
    const size_t ncap = cap / sizeof *k->memo;
    memset(k->memo + k->capmemo, 0, (ncap - k->capmemo) * sizeof *k->memo);
    k->capmemo = ncap;
  }
  k->memo[key] = v + 1;
  if (key >= k->nmemo) k->nmemo = (size_t)key + 1;
  return ALCM_OK;
}

static alcm_status pk_get(pk *k, uint64_t key) {
  if (key >= k->capmemo || !k->memo[key])
    return pk_fail(k, ALCM_ERR_INPUT, "memo key %llu was never stored",
                   (ull)key);
  return pk_push(k, k->memo[key] - 1);
}

/* ---- REDUCE, BUILD, BINPERSID -------------------------------------------- */

static bool pk_is(const pk *k, uint32_t v, unsigned kind) {
  return k->v[v].kind == kind;
}

static bool pk_str_is(const pk *k, uint32_t v, const char *s) {
  return pk_is(k, v, V_STR) && k->v[v].len == strlen(s) &&
         memcmp(k->v[v].u.s, s, k->v[v].len) == 0;
}

/* A tuple of n ints >= 0 into out. */
static bool pk_ints(const pk *k, uint32_t t, uint64_t *out, unsigned *n) {
  if (!pk_is(k, t, V_TUPLE) || k->v[t].len > ALCM_MAX_NDIM) return false;
  for (uint32_t i = 0; i < k->v[t].len; i++) {
    const pk_val *const e = &k->v[k->v[t].u.items[i]];
    if (e->kind != V_INT || e->u.i < 0) return false;
    out[i] = (uint64_t)e->u.i;
  }
  *n = k->v[t].len;
  return true;
}

/* The last element a view touches must lie inside the storage. */
static alcm_status pk_view_fits(pk *k, const pk_tensor *t) {
  const alcm_pk_storage *const st = &k->st[t->storage];
  uint64_t last = t->offset;
  bool empty = false;
  for (unsigned d = 0; d < t->ndim; d++) {
    uint64_t step;
    if (t->shape[d] == 0) empty = true;
    else if (__builtin_mul_overflow(t->shape[d] - 1, (uint64_t)t->stride[d],
                                    &step) ||
             __builtin_add_overflow(last, step, &last))
      return pk_fail(k, ALCM_ERR_OVERFLOW, "tensor view extent overflows");
  }
  if (empty ? t->offset > st->numel : last >= st->numel)
    return pk_fail(k, ALCM_ERR_INPUT, "tensor view (offset %llu, last "
                   "element %llu) needs more than the %llu elements of "
                   "storage '%s'", (ull)t->offset, (ull)last,
                   (ull)st->numel, st->key);
  return ALCM_OK;
}

static alcm_status pk_new_tensor(pk *k, const pk_tensor *t, uint32_t *out) {
  if (k->nt == k->capt) {
    size_t cap = k->capt * sizeof *k->t;
    void *p = k->t;
    if (alcm_mem_reserve(k->m, &p, &cap, (k->nt + 1) * sizeof *k->t))
      return pk_fail(k, ALCM_ERR_NOMEM, "tensor table");
    k->t = p;
    k->capt = cap / sizeof *k->t;
  }
  k->t[k->nt] = *t;
  alcm_status s = pk_new(k, V_TENSOR, out);
  if (s == ALCM_OK) k->v[*out].u.index = (uint32_t)k->nt++;
  return s;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
 * backward_hooks[, metadata]) */
static alcm_status pk_rebuild_tensor(pk *k, uint32_t args, uint32_t *out) {
  const pk_val *const a = &k->v[args];
  if (a->len != 6 && a->len != 7)
    return pk_fail(k, ALCM_ERR_INPUT, "_rebuild_tensor_v2 takes 6 or 7 "
                   "arguments, got %u", a->len);
  const uint32_t *const x = a->u.items;
  pk_tensor t;
  memset(&t, 0, sizeof t);
  unsigned nstride = 0;
  uint64_t stride[ALCM_MAX_NDIM];
  if (!pk_is(k, x[0], V_STORAGE) || !pk_is(k, x[1], V_INT) ||
      k->v[x[1]].u.i < 0 || !pk_ints(k, x[2], t.shape, &t.ndim) ||
      !pk_ints(k, x[3], stride, &nstride) || nstride != t.ndim ||
      !pk_is(k, x[4], V_BOOL) || !pk_is(k, x[5], V_DICT) ||
      (a->len == 7 && !pk_is(k, x[6], V_DICT)))
    return pk_fail(k, ALCM_ERR_INPUT, "_rebuild_tensor_v2 arguments are not "
                   "(storage, offset, size, stride, requires_grad, hooks)");
  if (k->v[x[5]].len)
    return pk_fail(k, ALCM_ERR_INPUT, "tensor with backward hooks");
  t.storage = k->v[x[0]].u.index;
  t.offset = (uint64_t)k->v[x[1]].u.i;
  for (unsigned d = 0; d < t.ndim; d++) {
    if (stride[d] > INT64_MAX)
      return pk_fail(k, ALCM_ERR_INPUT, "stride %llu", (ull)stride[d]);
    t.stride[d] = (int64_t)stride[d];
  }
  t.requires_grad = k->v[x[4]].u.i != 0;
  const alcm_status s = pk_view_fits(k, &t);
  return s ? s : pk_new_tensor(k, &t, out);
}

/* _rebuild_parameter(tensor, requires_grad, hooks[, state]) */
static alcm_status pk_rebuild_param(pk *k, uint32_t args, unsigned n,
                                    uint32_t *out) {
  const pk_val *const a = &k->v[args];
  if (a->len != n || !pk_is(k, a->u.items[0], V_TENSOR) ||
      !pk_is(k, a->u.items[1], V_BOOL) || !pk_is(k, a->u.items[2], V_DICT) ||
      k->v[a->u.items[2]].len)
    return pk_fail(k, ALCM_ERR_INPUT, "_rebuild_parameter arguments are not "
                   "(tensor, requires_grad, {})");
  pk_tensor t = k->t[k->v[a->u.items[0]].u.index];
  t.requires_grad = k->v[a->u.items[1]].u.i != 0;
  return pk_new_tensor(k, &t, out);
}

static alcm_status op_reduce(pk *k) {
  uint32_t args = 0, fn = 0, out = 0;
  alcm_status s = pk_pop(k, &args);
  if (s == ALCM_OK) s = pk_pop(k, &fn);
  if (s) return s;
  if (!pk_is(k, fn, V_GLOBAL))
    return pk_fail(k, ALCM_ERR_INPUT, "calls something that is not an "
                   "allowed global");
  if (!pk_is(k, args, V_TUPLE))
    return pk_fail(k, ALCM_ERR_INPUT, "arguments are not a tuple");
  switch (k->v[fn].global) {
  case G_ORDERED_DICT:
    if (k->v[args].len)
      return pk_fail(k, ALCM_ERR_INPUT, "OrderedDict with arguments");
    s = pk_new(k, V_DICT, &out);
    break;
  case G_REBUILD_TENSOR: s = pk_rebuild_tensor(k, args, &out); break;
  case G_REBUILD_PARAM: s = pk_rebuild_param(k, args, 3, &out); break;
  case G_REBUILD_PARAM_STATE: s = pk_rebuild_param(k, args, 4, &out); break;
  case G_SIZE:
    if (k->v[args].len != 1 || !pk_is(k, k->v[args].u.items[0], V_TUPLE))
      return pk_fail(k, ALCM_ERR_INPUT, "torch.Size of something other than "
                     "a tuple");
    out = k->v[args].u.items[0];
    break;
  default:
    return pk_fail(k, ALCM_ERR_INPUT, "storage classes and dtypes are not "
                   "callable");
  }
  return s ? s : pk_push(k, out);
}

/* BUILD sets object state; the only objects that get it in a state_dict
 * are OrderedDicts (their _metadata attribute), which we ignore. */
static alcm_status op_build(pk *k) {
  uint32_t state = 0, obj = 0;
  alcm_status s = pk_pop(k, &state);
  if (s == ALCM_OK) s = pk_top(k, &obj);
  if (s) return s;
  if (!pk_is(k, obj, V_DICT) ||
      !(pk_is(k, state, V_DICT) || pk_is(k, state, V_NONE)))
    return pk_fail(k, ALCM_ERR_INPUT, "BUILD is allowed only on a dict with "
                   "a dict state");
  return ALCM_OK;
}

static alcm_status pk_add_storage(pk *k, int dtype, const pk_val *key,
                                  int64_t numel, uint32_t *index) {
  for (size_t i = 0; i < k->nst; i++) {
    if (strlen(k->st[i].key) != key->len ||
        memcmp(k->st[i].key, key->u.s, key->len) != 0)
      continue;
    if (k->st[i].dtype != dtype || k->st[i].numel != (uint64_t)numel)
      return pk_fail(k, ALCM_ERR_INPUT, "storage '%s' declared again with "
                     "another type or size", k->st[i].key);
    *index = (uint32_t)i;
    return ALCM_OK;
  }
  if (!alcm_path_valid(key->u.s, key->len) || memchr(key->u.s, '/', key->len))
    return pk_fail(k, ALCM_ERR_INPUT, "storage key is not a plain file name");
  if (k->nst == k->capst) {
    size_t cap = k->capst * sizeof *k->st;
    void *p = k->st;
    if (alcm_mem_reserve(k->m, &p, &cap, (k->nst + 1) * sizeof *k->st))
      return pk_fail(k, ALCM_ERR_NOMEM, "storage table");
    k->st = p;
    k->capst = cap / sizeof *k->st;
  }
  alcm_pk_storage *const st = &k->st[k->nst];
  if (!(st->key = alcm_mem_strndup(k->m, (const char *)key->u.s, key->len)))
    return pk_fail(k, ALCM_ERR_NOMEM, "storage key");
  st->dtype = dtype;
  st->numel = (uint64_t)numel;
  *index = (uint32_t)k->nst++;
  return ALCM_OK;
}

/* persistent_load(('storage', StorageClass, key, location, numel)) */
static alcm_status op_binpersid(pk *k) {
  uint32_t pid = 0, out = 0;
  alcm_status s = pk_pop(k, &pid);
  if (s) return s;
  const pk_val *const t = &k->v[pid];
  if (t->kind != V_TUPLE || t->len != 5 || !pk_str_is(k, t->u.items[0], "storage") ||
      !pk_is(k, t->u.items[1], V_GLOBAL) ||
      k->v[t->u.items[1]].global != G_STORAGE_CLASS ||
      !pk_is(k, t->u.items[2], V_STR) || !pk_is(k, t->u.items[3], V_STR) ||
      !pk_is(k, t->u.items[4], V_INT) || k->v[t->u.items[4]].u.i < 0)
    return pk_fail(k, ALCM_ERR_INPUT, "persistent id is not ('storage', "
                   "StorageClass, key, location, numel)");
  uint32_t index = 0;
  s = pk_add_storage(k, k->v[t->u.items[1]].dtype, &k->v[t->u.items[2]],
                     k->v[t->u.items[4]].u.i, &index);
  if (s == ALCM_OK) s = pk_push_new(k, V_STORAGE, &out);
  if (s == ALCM_OK) k->v[out].u.index = index;
  return s;
}

static alcm_status op_setitems(pk *k, bool many) {
  size_t from;
  if (many) {
    if (!k->nmarks) return pk_fail(k, ALCM_ERR_INPUT, "no MARK on the stack");
    from = k->marks[--k->nmarks];
  } else {
    if (k->sp - pk_floor(k) < 2)
      return pk_fail(k, ALCM_ERR_INPUT, "stack underflow");
    from = k->sp - 2;
  }
  if (from == 0 || (k->sp - from) % 2)
    return pk_fail(k, ALCM_ERR_INPUT, "needs a dict and key/value pairs");
  const uint32_t d = k->stack[from - 1];
  if (!pk_is(k, d, V_DICT))
    return pk_fail(k, ALCM_ERR_INPUT, "target is not a dict");
  alcm_status s = ALCM_OK;
  for (size_t i = from; i < k->sp && s == ALCM_OK; i++)
    s = pk_append(k, d, k->stack[i]);
  k->sp = from;
  return s;
}

static alcm_status op_appends(pk *k, bool many) {
  size_t from;
  if (many) {
    if (!k->nmarks) return pk_fail(k, ALCM_ERR_INPUT, "no MARK on the stack");
    from = k->marks[--k->nmarks];
  } else {
    if (k->sp == pk_floor(k))
      return pk_fail(k, ALCM_ERR_INPUT, "stack underflow");
    from = k->sp - 1;
  }
  if (from == 0 || !pk_is(k, k->stack[from - 1], V_LIST))
    return pk_fail(k, ALCM_ERR_INPUT, "target is not a list");
  const uint32_t l = k->stack[from - 1];
  alcm_status s = ALCM_OK;
  for (size_t i = from; i < k->sp && s == ALCM_OK; i++)
    s = pk_append(k, l, k->stack[i]);
  k->sp = from;
  return s;
}

static alcm_status op_tuple_n(pk *k, unsigned n) {
  if (k->sp - pk_floor(k) < n)
    return pk_fail(k, ALCM_ERR_INPUT, "stack underflow");
  uint32_t t;
  alcm_status s = pk_new(k, V_TUPLE, &t);
  for (size_t i = k->sp - n; i < k->sp && s == ALCM_OK; i++)
    s = pk_append(k, t, k->stack[i]);
  k->sp -= n;
  return s ? s : pk_push(k, t);
}

static alcm_status op_mark(pk *k) {
  if (k->nmarks == ALCM_PK_MAX_STACK)
    return pk_fail(k, ALCM_ERR_LIMIT, "more than %zu marks",
                   (size_t)ALCM_PK_MAX_STACK);
  if (k->nmarks == k->capmarks) {
    size_t cap = k->capmarks * sizeof *k->marks;
    void *p = k->marks;
    if (alcm_mem_reserve(k->m, &p, &cap, (k->nmarks + 1) * sizeof *k->marks))
      return pk_fail(k, ALCM_ERR_NOMEM, "marks");
    k->marks = p;
    k->capmarks = cap / sizeof *k->marks;
  }
  k->marks[k->nmarks++] = k->sp;
  return ALCM_OK;
}

static alcm_status op_stack_global(pk *k) {
  uint32_t name = 0, mod = 0;
  alcm_status s = pk_pop(k, &name);
  if (s == ALCM_OK) s = pk_pop(k, &mod);
  if (s) return s;
  if (!pk_is(k, name, V_STR) || !pk_is(k, mod, V_STR))
    return pk_fail(k, ALCM_ERR_INPUT, "module and name are not strings");
  return pk_global(k, k->v[mod].u.s, k->v[mod].len, k->v[name].u.s,
                   k->v[name].len);
}

static alcm_status op_global(pk *k) {
  const uint8_t *mod = NULL, *name = NULL;
  size_t mn = 0, nn = 0;
  alcm_status s = pk_line(k, &mod, &mn);
  if (s == ALCM_OK) s = pk_line(k, &name, &nn);
  return s ? s : pk_global(k, mod, mn, name, nn);
}

/* One opcode with its argument. *stop is set by STOP. */
static alcm_status pk_step(pk *k, bool *stop) {
  uint64_t n = 0;
  uint32_t v = 0;
  alcm_status s;
  k->op_at = (size_t)(k->p - k->start);
  k->op = *k->p++;
  switch (k->op) {
  case 0x80: /* PROTO */
    if ((s = pk_uint(k, 1, &n))) return s;
    if (n < 2 || n > 5)
      return pk_fail(k, ALCM_ERR_UNSUPPORTED, "protocol %llu (2..5 are "
                     "read)", (ull)n);
    return ALCM_OK;
  case 0x95: /* FRAME: framing is advisory; the opcodes inside follow. */
    if ((s = pk_uint(k, 8, &n))) return s;
    if (n > (uint64_t)(k->end - k->p))
      return pk_fail(k, ALCM_ERR_TRUNCATED, "frame of %llu bytes", (ull)n);
    return ALCM_OK;
  case '.': *stop = true; return ALCM_OK;
  case '(': return op_mark(k);
  case '0': return pk_pop(k, &v);
  case '1':
    if (!k->nmarks) return pk_fail(k, ALCM_ERR_INPUT, "no MARK on the stack");
    k->sp = k->marks[--k->nmarks];
    return ALCM_OK;
  case '2': return (s = pk_top(k, &v)) ? s : pk_push(k, v);
  case 'N': return pk_push_new(k, V_NONE, &v);
  case 0x88: case 0x89:
    if ((s = pk_push_new(k, V_BOOL, &v))) return s;
    k->v[v].u.i = k->op == 0x88;
    return ALCM_OK;
  case 'J':
    if ((s = pk_uint(k, 4, &n))) return s;
    return pk_int(k, (int32_t)(uint32_t)n);
  case 'K': return (s = pk_uint(k, 1, &n)) ? s : pk_int(k, (int64_t)n);
  case 'M': return (s = pk_uint(k, 2, &n)) ? s : pk_int(k, (int64_t)n);
  case 0x8a: return pk_long1(k);
  case 'G': {
    if ((s = pk_uint(k, 8, &n))) return s; /* big-endian double: unused */
    return pk_push_new(k, V_FLOAT, &v);
  }
  case 'X': return pk_string(k, V_STR, 4);
  case 0x8c: return pk_string(k, V_STR, 1);
  case 0x8d: return pk_string(k, V_STR, 8);
  case 'C': return pk_string(k, V_BYTES, 1);
  case 'B': return pk_string(k, V_BYTES, 4);
  case 0x8e: return pk_string(k, V_BYTES, 8);
  case '}': return pk_push_new(k, V_DICT, &v);
  case ']': return pk_push_new(k, V_LIST, &v);
  case ')': return pk_push_new(k, V_TUPLE, &v);
  case 'd': return (s = pk_collect(k, V_DICT, &v)) ? s
                   : k->v[v].len % 2 ? pk_fail(k, ALCM_ERR_INPUT, "odd item count")
                                     : pk_push(k, v);
  case 'l': return (s = pk_collect(k, V_LIST, &v)) ? s : pk_push(k, v);
  case 't': return (s = pk_collect(k, V_TUPLE, &v)) ? s : pk_push(k, v);
  case 0x85: return op_tuple_n(k, 1);
  case 0x86: return op_tuple_n(k, 2);
  case 0x87: return op_tuple_n(k, 3);
  case 'a': return op_appends(k, false);
  case 'e': return op_appends(k, true);
  case 's': return op_setitems(k, false);
  case 'u': return op_setitems(k, true);
  case 'q': return (s = pk_uint(k, 1, &n)) ? s : pk_put(k, n);
  case 'r': return (s = pk_uint(k, 4, &n)) ? s : pk_put(k, n);
  case 0x94: return pk_put(k, k->nmemo);
  case 'h': return (s = pk_uint(k, 1, &n)) ? s : pk_get(k, n);
  case 'j': return (s = pk_uint(k, 4, &n)) ? s : pk_get(k, n);
  case 'c': return op_global(k);
  case 0x93: return op_stack_global(k);
  case 'R': return op_reduce(k);
  case 'b': return op_build(k);
  case 'Q': return op_binpersid(k);
  default:
    return pk_fail(k, ALCM_ERR_INPUT, "opcode is not allowed");
  }
}

/* ---- walk: tensors under the root, with key paths --------------------------
 * Depth-first, dict items in insertion order, with an explicit stack;
 * each container is entered once (memo can make cycles). */

typedef struct {
  uint32_t v, next;
  size_t path_len;
} pk_frame;

typedef struct {
  char path[ALCM_MAX_NAME + 1];
  size_t len;
} pk_path;

static bool pk_path_add(pk_path *p, size_t at, const char *s, size_t n) {
  const size_t sep = at ? 1 : 0;
  if (at + sep + n > ALCM_MAX_NAME) return false;
  if (sep) p->path[at] = '.';
  memcpy(p->path + at + sep, s, n);
  p->len = at + sep + n;
  p->path[p->len] = '\0';
  return true;
}

static alcm_status pk_emit(pk *k, uint32_t v, const pk_path *path,
                           alcm_pk_result *res, size_t *cap) {
  const pk_tensor *const t = &k->t[k->v[v].u.index];
  if (!alcm_tensor_name_valid((const uint8_t *)path->path, path->len))
    return alcm_fail(k->msg, ALCM_ERR_INPUT, "%s: tensor key '%s' is empty or "
                     "not valid UTF-8", k->file, path->path);
  void *p = res->views;
  size_t bytes = *cap * sizeof *res->views;
  if (alcm_mem_reserve(k->m, &p, &bytes, (res->view_count + 1) * sizeof *res->views))
    return alcm_fail(k->msg, ALCM_ERR_NOMEM, "%s: tensor list", k->file);
  res->views = p;
  *cap = bytes / sizeof *res->views;
  alcm_pk_view *const o = &res->views[res->view_count];
  memset(o, 0, sizeof *o);
  if (!(o->key = alcm_mem_strndup(k->m, path->path, path->len)))
    return alcm_fail(k->msg, ALCM_ERR_NOMEM, "%s: tensor key", k->file);
  res->view_count++;
  o->storage = t->storage;
  o->offset = t->offset;
  o->ndim = t->ndim;
  memcpy(o->shape, t->shape, sizeof o->shape);
  memcpy(o->stride, t->stride, sizeof o->stride);
  o->requires_grad = t->requires_grad;
  return ALCM_OK;
}

/* The key text of dict item i / list index i of container c. */
static bool pk_key(const pk *k, uint32_t c, uint32_t i, char *buf, size_t cap,
                   const char **s, size_t *n) {
  if (k->v[c].kind != V_DICT) {
    *n = (size_t)snprintf(buf, cap, "%u", i);
    *s = buf;
    return true;
  }
  const pk_val *const key = &k->v[k->v[c].u.items[2 * i]];
  if (key->kind == V_STR) {
    *s = (const char *)key->u.s;
    *n = key->len;
    return true;
  }
  if (key->kind == V_INT) {
    *n = (size_t)snprintf(buf, cap, "%lld", (long long)key->u.i);
    *s = buf;
    return true;
  }
  return false;
}

static alcm_status pk_walk(pk *k, uint32_t root, alcm_pk_result *res) {
  size_t vcap = 0;
  pk_path path = {{0}, 0};
  if (pk_is(k, root, V_TENSOR)) return pk_emit(k, root, &path, res, &vcap);
  uint8_t *const seen = alcm_mem_calloc(k->m, k->nv, 1);
  pk_frame *const fr = alcm_mem_calloc(k->m, ALCM_PK_MAX_DEPTH, sizeof *fr);
  alcm_status s = ALCM_OK;
  if (!seen || !fr)
    s = alcm_fail(k->msg, ALCM_ERR_NOMEM, "%s: pickle walk", k->file);
  size_t depth = 0;
  const unsigned kind = k->v[root].kind;
  if (s == ALCM_OK && (kind == V_DICT || kind == V_LIST || kind == V_TUPLE)) {
    fr[depth++] = (pk_frame){root, 0, 0};
    seen[root] = 1;
  }
  while (depth && s == ALCM_OK) {
    pk_frame *const f = &fr[depth - 1];
    const pk_val *const c = &k->v[f->v];
    const uint32_t count = c->kind == V_DICT ? c->len / 2 : c->len;
    if (f->next == count) {
      depth--;
      continue;
    }
    const uint32_t i = f->next++;
    const uint32_t child = c->kind == V_DICT ? c->u.items[2 * i + 1] : c->u.items[i];
    const unsigned ck = k->v[child].kind;
    if (ck != V_TENSOR && ck != V_DICT && ck != V_LIST && ck != V_TUPLE)
      continue;
    if (ck != V_TENSOR && seen[child]) continue;
    char num[32];
    const char *ks;
    size_t kn;
    if (!pk_key(k, f->v, i, num, sizeof num, &ks, &kn)) {
      s = alcm_fail(k->msg, ALCM_ERR_INPUT, "%s: a dict holding tensors has "
                    "a key that is not a string or integer", k->file);
      break;
    }
    if (!pk_path_add(&path, f->path_len, ks, kn)) {
      s = alcm_fail(k->msg, ALCM_ERR_LIMIT, "%s: tensor key path longer than "
                    "%u bytes", k->file, ALCM_MAX_NAME);
      break;
    }
    if (ck == V_TENSOR) {
      s = pk_emit(k, child, &path, res, &vcap);
      continue;
    }
    if (depth == ALCM_PK_MAX_DEPTH) {
      s = alcm_fail(k->msg, ALCM_ERR_LIMIT, "%s: containers nested deeper "
                    "than %u", k->file, ALCM_PK_MAX_DEPTH);
      break;
    }
    seen[child] = 1;
    fr[depth++] = (pk_frame){child, 0, path.len};
  }
  alcm_mem_free(k->m, seen);
  alcm_mem_free(k->m, fr);
  return s;
}

static void pk_free(pk *k) {
  for (size_t i = 0; i < k->nv; i++) {
    const unsigned kind = k->v[i].kind;
    if (kind == V_TUPLE || kind == V_LIST || kind == V_DICT)
      alcm_mem_free(k->m, k->v[i].u.items);
  }
  alcm_mem_free(k->m, k->v);
  alcm_mem_free(k->m, k->stack);
  alcm_mem_free(k->m, k->marks);
  alcm_mem_free(k->m, k->memo);
  alcm_mem_free(k->m, k->t);
}

void alcm_pickle_free_(alcm_pk_result *res, const alcm_mem *m) {
  for (size_t i = 0; i < res->view_count; i++) alcm_mem_free(m, res->views[i].key);
  for (size_t i = 0; i < res->storage_count; i++)
    alcm_mem_free(m, res->storages[i].key);
  alcm_mem_free(m, res->views);
  alcm_mem_free(m, res->storages);
  memset(res, 0, sizeof *res);
}

alcm_status alcm_pickle_run_(const uint8_t *p, size_t n, alcm_pk_result *res,
                             const char *file, const alcm_mem *m,
                             alcm_msg *msg) {
  memset(res, 0, sizeof *res);
  pk k;
  memset(&k, 0, sizeof k);
  k.start = k.p = p;
  k.end = p + n;
  k.file = file;
  k.m = m;
  k.msg = msg;
  k.maxv = n + 1; /* at most one value per opcode byte */
  alcm_status s = ALCM_OK;
  bool stop = false;
  while (!stop && s == ALCM_OK) {
    if (k.p == k.end) {
      s = alcm_fail(msg, ALCM_ERR_TRUNCATED, "%s: pickle ends at offset %zu "
                    "without STOP", file, n);
      break;
    }
    s = pk_step(&k, &stop);
  }
  if (s == ALCM_OK && k.p != k.end)
    s = alcm_fail(msg, ALCM_ERR_INPUT, "%s: %zu bytes after the pickle's STOP "
                  "at offset %zu", file, (size_t)(k.end - k.p), k.op_at);
  if (s == ALCM_OK && (k.sp != 1 || k.nmarks))
    s = alcm_fail(msg, ALCM_ERR_INPUT, "%s: pickle STOP at offset %zu leaves "
                  "%zu values and %zu marks on the stack (expected 1 and 0)",
                  file, k.op_at, k.sp, k.nmarks);
  res->storages = k.st;
  res->storage_count = k.nst;
  if (s == ALCM_OK) s = pk_walk(&k, k.stack[0], res);
  pk_free(&k);
  if (s != ALCM_OK) alcm_pickle_free_(res, m);
  return s;
}
