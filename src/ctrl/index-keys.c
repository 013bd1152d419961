/* index-keys.c -- the keys a cache change names by itself. See
 * sb_index_keys_of_change in sb/index.h.
 *
 * Kept apart from index.c: the dependency graph is plain data, while this
 * asks the translation which keys an SMI object implies (a TrafficTarget
 * also implies its destination ServiceAccount's key in Linkerd mode).
 */
#include "sb/index.h"

#include <stdlib.h>
#include <string.h>

#include "sb/err.h"

#define MAX_KEYS_OF 8

typedef struct keyset {
  char **v;
  size_t n;
  size_t cap;
} keyset;

static int keyset_add(keyset *s, sb_kind kind, const char *ns,
                      const char *name) {
  sb_key k;
  sb_buf b;
  int rc;

  if (kind != SB_KIND_TRAFFIC_SPLIT && kind != SB_KIND_TRAFFIC_TARGET &&
      kind != SB_KIND_SERVICE_ACCOUNT)
    return 0;
  if (!name || !*name)
    return 0;
  k.kind = kind;
  k.ns = ns ? ns : "";
  k.name = name;
  sb_buf_init(&b, 4096);
  rc = sb_index_key_format(&k, &b);
  if (rc) {
    sb_buf_free(&b);
    return rc;
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 4;
    char **v = realloc(s->v, cap * sizeof(*v));
    if (!v) {
      sb_buf_free(&b);
      return SB_ENOMEM;
    }
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n] = sb_buf_steal(&b, NULL);
  if (!s->v[s->n])
    return SB_ENOMEM;
  s->n++;
  return 0;
}

static int keys_of_obj(keyset *s, const sb_obj *obj,
                       const sb_translate_opts *o) {
  sb_key keys[MAX_KEYS_OF];
  size_t n, i;
  int rc = 0;

  if (!obj || !sb_kind_is_smi(obj->kind))
    return 0;
  n = sb_translate_keys_of(obj, o, keys, MAX_KEYS_OF);
  for (i = 0; i < n && rc == 0; i++)
    rc = keyset_add(s, keys[i].kind, keys[i].ns, keys[i].name);
  return rc;
}

static int keys_of_gen(keyset *s, const sb_gen *g) {
  const char *name;

  if (!g || !g->managed || !g->source_kind)
    return 0;
  name = g->source_full_name ? g->source_full_name : g->source_name;
  return keyset_add(s, sb_kind_from_name(g->source_kind), g->ns, name);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *) a, *(char *const *) b);
}

int sb_index_keys_of_change(const sb_change *c, const sb_translate_opts *o,
                            sb_index_fn fn, void *arg) {
  keyset s = {NULL, 0, 0};
  size_t i;
  int rc = 0;

  if (!c || !o || !fn)
    return SB_EINVAL;
  switch (c->type) {
  case SB_CHANGE_MODEL:
    rc = keys_of_obj(&s, c->old_obj, o);
    if (rc == 0)
      rc = keys_of_obj(&s, c->new_obj, o);
    break;
  case SB_CHANGE_INVALID:
    rc = keyset_add(&s, c->kind, c->ns, c->name);
    break;
  case SB_CHANGE_GENERATED:
    rc = keys_of_gen(&s, c->old_obj);
    if (rc == 0)
      rc = keys_of_gen(&s, c->new_obj);
    break;
  default:
    rc = SB_EINVAL;
  }
  if (rc == 0 && s.n > 1)
    qsort(s.v, s.n, sizeof(*s.v), cmp_str);
  for (i = 0; i < s.n && rc == 0; i++)
    if (i == 0 || strcmp(s.v[i], s.v[i - 1]) != 0)
      fn(arg, s.v[i]);
  for (i = 0; i < s.n; i++)
    free(s.v[i]);
  free(s.v);
  return rc;
}
