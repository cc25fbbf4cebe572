/*
 * codec.c - the codec registry: the built-ins plus the caller's extra
 * codecs, which must use the private id range (spec "Codecs").
 */
#include <string.h>

#include "internal.h"

static const alcm_codec *const builtins[] = {
    &alcm_codec_store,
    &alcm_codec_zstd,
    &alcm_codec_zlib,
    &alcm_codec_rans,
};
#define BUILTIN_COUNT (sizeof builtins / sizeof builtins[0])

ALCM_API const alcm_codec *alcm_codec_builtin(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < BUILTIN_COUNT; i++)
    if (strcmp(builtins[i]->name, name) == 0) return builtins[i];
  return NULL;
}

static size_t extra_count(const alcm_codec_set *set) {
  return (set && set->extra) ? set->extra_count : 0;
}

const alcm_codec *alcm_codec_by_id(const alcm_codec_set *set, unsigned id) {
  for (size_t i = 0; i < BUILTIN_COUNT; i++)
    if (builtins[i]->id == id) return builtins[i];
  const size_t n = extra_count(set);
  for (size_t i = 0; i < n; i++)
    if (set->extra[i] && set->extra[i]->id == id) return set->extra[i];
  return NULL;
}

const alcm_codec *alcm_codec_by_name(const alcm_codec_set *set,
                                     const char *name) {
  if (!name) return NULL;
  const alcm_codec *const b = alcm_codec_builtin(name);
  if (b) return b;
  const size_t n = extra_count(set);
  for (size_t i = 0; i < n; i++) {
    const alcm_codec *const c = set->extra[i];
    if (c && c->name && strcmp(c->name, name) == 0) return c;
  }
  return NULL;
}

static alcm_status check_one(const alcm_codec *c, size_t i, alcm_msg *msg) {
  if (!c) return alcm_fail(msg, ALCM_ERR_ARGUMENT, "extra codec %zu is NULL", i);
  if (!c->name || !c->name[0])
    return alcm_fail(msg, ALCM_ERR_ARGUMENT, "extra codec %zu has no name", i);
  if (c->id < ALCM_CODEC_ID_PRIVATE_MIN || c->id > ALCM_CODEC_ID_PRIVATE_MAX)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT,
                     "extra codec '%s': id %u outside %u..%u", c->name, c->id,
                     ALCM_CODEC_ID_PRIVATE_MIN, ALCM_CODEC_ID_PRIVATE_MAX);
  if (!c->bound || !c->compress || !c->decompress)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT,
                     "extra codec '%s': bound, compress and decompress must "
                     "all be set", c->name);
  if (c->level_min > c->level_max || c->level_default < c->level_min ||
      c->level_default > c->level_max)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT,
                     "extra codec '%s': level default %d outside %d..%d",
                     c->name, c->level_default, c->level_min, c->level_max);
  if (alcm_codec_builtin(c->name))
    return alcm_fail(msg, ALCM_ERR_DUPLICATE,
                     "extra codec '%s': name of a built-in codec", c->name);
  return ALCM_OK;
}

alcm_status alcm_codec_set_check(const alcm_codec_set *set, alcm_msg *msg) {
  if (!set || set->extra_count == 0) return ALCM_OK;
  if (!set->extra)
    return alcm_fail(msg, ALCM_ERR_ARGUMENT,
                     "%zu extra codecs given but the table is NULL",
                     set->extra_count);
  for (size_t i = 0; i < set->extra_count; i++) {
    const alcm_codec *const c = set->extra[i];
    const alcm_status s = check_one(c, i, msg);
    if (s != ALCM_OK) return s;
    for (size_t j = 0; j < i; j++) {
      const alcm_codec *const d = set->extra[j];
      if (d->id == c->id)
        return alcm_fail(msg, ALCM_ERR_DUPLICATE,
                         "extra codecs '%s' and '%s' share id %u", d->name,
                         c->name, c->id);
      if (strcmp(d->name, c->name) == 0)
        return alcm_fail(msg, ALCM_ERR_DUPLICATE,
                         "extra codecs %zu and %zu share name '%s'", j, i,
                         c->name);
    }
  }
  return ALCM_OK;
}
