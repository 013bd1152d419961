/* world.c -- the set of model objects translations read. See sb/world.h.
 *
 * Shape, and why: the controller holds some 20,000 pods and 10,000 SMI
 * objects in a small process, so what an entry costs beyond its object
 * decides the footprint. An entry is nine pointers (one 80-byte malloc
 * chunk):
 *
 *   - an intrusive chained hash table per kind finds (ns, name). It
 *     compares the object's own ns and name strings (immutable in the
 *     object's arena), so no key is copied, and the table costs one
 *     pointer per bucket rather than a slot array kept below 70% load;
 *   - the kind's list, in insertion order (sb_world_each without ns);
 *   - its namespace group's list, in insertion order (sb_world_each with
 *     ns), so a namespace is iterated without walking the whole kind;
 *   - for pods, TrafficSplits and TrafficTargets, the list of its secondary
 *     index group (pods by ns+serviceAccount, splits by ns+root, targets by
 *     destination ns+ServiceAccount), groups found by "ns\0value" in a
 *     per-kind sb_hmap (there are far fewer groups than entries).
 *
 * A replaced object takes over its predecessor's entry, so it keeps its
 * place in the first two lists, and in the index list too unless the
 * indexed field changed (then it moves to the end of its new group).
 * Groups are freed when they empty. Every insertion allocates what it
 * needs before linking anything, so SB_ENOMEM leaves the world unchanged.
 */
#include "sb/world.h"

#include <stdlib.h>
#include <string.h>

#include "sb/err.h"
#include "sb/hmap.h"

typedef struct entry {
  sb_obj *obj;
  struct entry *hnext;          /* hash chain */
  struct entry *prev, *next;    /* kind list */
  struct entry *nprev, *nnext;  /* namespace group list */
  struct entry *iprev, *inext;  /* index group list */
  struct ixgroup *ig;           /* NULL for kinds without an index */
} entry;

struct ixgroup;

typedef struct nsgroup {
  entry *head, *tail;
  char ns[];
} nsgroup;

typedef struct ixgroup {
  entry *head, *tail;
  size_t klen;
  char key[];                   /* "ns\0value", klen bytes */
} ixgroup;

typedef struct kindtab {
  entry **buckets;              /* power-of-two count, or NULL */
  size_t nbuckets;
  sb_hmap *nss;                 /* ns -> nsgroup (keys in the group) */
  sb_hmap *ix;                  /* "ns\0value" -> ixgroup, or NULL */
  entry *head, *tail;
  size_t count;
  size_t bytes;
} kindtab;

struct sb_world {
  kindtab k[SB_KIND__COUNT];
};

/* Stack room for composite index keys: a namespace (63) and a name (253)
 * always fit; only hand-written offline input could need malloc. */
#define KEYBUF 512

static int kind_ok(sb_kind kind) {
  return kind > SB_KIND_UNKNOWN && kind < SB_KIND__COUNT;
}

static int kind_indexed(sb_kind kind) {
  return kind == SB_KIND_POD || kind == SB_KIND_TRAFFIC_SPLIT ||
         kind == SB_KIND_TRAFFIC_TARGET;
}

static const char *str(const char *s) {
  return s ? s : "";
}

/* FNV-1a over "ns\0name" with a final avalanche, without building the
 * composite string. */
static uint32_t hash2(const char *ns, const char *name) {
  uint64_t h = 1469598103934665603ULL;
  const unsigned char *p;

  for (p = (const unsigned char *) ns; *p; p++)
    h = (h ^ *p) * 1099511628211ULL;
  h *= 1099511628211ULL;  /* the separator */
  for (p = (const unsigned char *) name; *p; p++)
    h = (h ^ *p) * 1099511628211ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return (uint32_t) h;
}

/* ---- the hash table ----------------------------------------------------- */

static size_t bucket(const kindtab *t, const sb_obj *obj) {
  return hash2(str(obj->ns), obj->name) & (t->nbuckets - 1);
}

/* Chains are about one entry long, so the strings are compared directly
 * (no stored hash: it would not fit the 80-byte chunk). */
static entry *hfind(const kindtab *t, const char *ns, const char *name,
                    uint32_t h) {
  entry *e;

  if (!t->nbuckets)
    return NULL;
  for (e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->hnext)
    if (strcmp(e->obj->name, name) == 0 && strcmp(str(e->obj->ns), ns) == 0)
      return e;
  return NULL;
}

/* Makes room for one more entry (load factor <= 1). */
static int hgrow(kindtab *t) {
  entry **b, *e, *next;
  size_t n, i;

  if (t->count < t->nbuckets)
    return 0;
  n = t->nbuckets ? t->nbuckets * 2 : 16;
  b = calloc(n, sizeof(*b));
  if (!b)
    return SB_ENOMEM;
  for (i = 0; i < t->nbuckets; i++) {
    for (e = t->buckets[i]; e; e = next) {
      size_t j = hash2(str(e->obj->ns), e->obj->name) & (n - 1);
      next = e->hnext;
      e->hnext = b[j];
      b[j] = e;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = n;
  return 0;
}

static void hunlink(kindtab *t, entry *e) {
  entry **pp = &t->buckets[bucket(t, e->obj)];

  while (*pp != e)
    pp = &(*pp)->hnext;
  *pp = e->hnext;
}

/* ---- groups ------------------------------------------------------------- */

/* The two parts of an object's index key: the namespace and the value of
 * the indexed field. */
static void index_parts(const sb_obj *obj, const char **ns, const char **v) {
  *ns = str(obj->ns);
  *v = "";
  switch (obj->kind) {
  case SB_KIND_POD: {
    const sb_pod *p = (const sb_pod *) obj;
    *v = p->service_account && *p->service_account ? p->service_account
                                                   : "default";
    break;
  }
  case SB_KIND_TRAFFIC_SPLIT:
    *v = str(((const sb_traffic_split *) obj)->root);
    break;
  case SB_KIND_TRAFFIC_TARGET: {
    const sb_traffic_target *tt = (const sb_traffic_target *) obj;
    if (tt->dest.ns && *tt->dest.ns)
      *ns = tt->dest.ns;
    *v = str(tt->dest.name);
    break;
  }
  default:
    break;
  }
}

/* Builds "ns\0v" into buf (KEYBUF bytes) or a malloc'd block; *heap tells
 * which. NULL on ENOMEM. */
static char *make_key(const char *ns, const char *v, char *buf, size_t *len,
                      int *heap) {
  size_t a = strlen(ns), b = strlen(v);
  char *k = buf;

  *heap = 0;
  *len = a + 1 + b;
  if (*len + 1 > KEYBUF) {
    k = malloc(*len + 1);
    if (!k)
      return NULL;
    *heap = 1;
  }
  memcpy(k, ns, a);
  k[a] = '\0';
  memcpy(k + a + 1, v, b);
  k[*len] = '\0';
  return k;
}

static nsgroup *ns_find(const kindtab *t, const char *ns) {
  return sb_hmap_get(t->nss, ns, strlen(ns));
}

/* Finds or creates the namespace group; *created says whether it is new
 * (and must be dropped again if the insertion fails later). */
static nsgroup *ns_get(kindtab *t, const char *ns, int *created) {
  nsgroup *g = ns_find(t, ns);
  size_t len = strlen(ns);

  *created = 0;
  if (g)
    return g;
  g = calloc(1, sizeof(*g) + len + 1);
  if (!g)
    return NULL;
  memcpy(g->ns, ns, len + 1);
  if (sb_hmap_put(t->nss, g->ns, len, g, NULL)) {
    free(g);
    return NULL;
  }
  *created = 1;
  return g;
}

static void ns_drop_if_empty(kindtab *t, nsgroup *g) {
  if (g && !g->head) {
    sb_hmap_del(t->nss, g->ns, strlen(g->ns));
    free(g);
  }
}

/* Finds or creates the index group of obj (*created says whether it is
 * new). NULL on ENOMEM. */
static ixgroup *ix_get(kindtab *t, const sb_obj *obj, int *created) {
  const char *ns, *v;
  char buf[KEYBUF], *k;
  size_t klen;
  int heap;
  ixgroup *g;

  *created = 0;
  index_parts(obj, &ns, &v);
  k = make_key(ns, v, buf, &klen, &heap);
  if (!k)
    return NULL;
  g = sb_hmap_get(t->ix, k, klen);
  if (!g) {
    g = calloc(1, sizeof(*g) + klen + 1);
    if (g) {
      memcpy(g->key, k, klen + 1);
      g->klen = klen;
      if (sb_hmap_put(t->ix, g->key, klen, g, NULL)) {
        free(g);
        g = NULL;
      } else {
        *created = 1;
      }
    }
  }
  if (heap)
    free(k);
  return g;
}

static void ix_drop_if_empty(kindtab *t, ixgroup *g) {
  if (g && !g->head) {
    sb_hmap_del(t->ix, g->key, g->klen);
    free(g);
  }
}

static void ix_link(entry *e, ixgroup *g) {
  e->ig = g;
  e->inext = NULL;
  e->iprev = g->tail;
  if (g->tail)
    g->tail->inext = e;
  else
    g->head = e;
  g->tail = e;
}

static void ix_unlink(entry *e) {
  ixgroup *g = e->ig;

  if (!g)
    return;
  if (e->iprev)
    e->iprev->inext = e->inext;
  else
    g->head = e->inext;
  if (e->inext)
    e->inext->iprev = e->iprev;
  else
    g->tail = e->iprev;
  e->iprev = e->inext = NULL;
  e->ig = NULL;
}

/* Does obj belong to index group g? */
static int ix_is(const sb_obj *obj, const ixgroup *g) {
  const char *ns, *v;
  size_t a;

  index_parts(obj, &ns, &v);
  a = strlen(ns);
  return g->klen == a + 1 + strlen(v) && memcmp(g->key, ns, a) == 0 &&
         strcmp(g->key + a + 1, v) == 0;
}

/* ---- the world ---------------------------------------------------------- */

sb_world *sb_world_new(void) {
  sb_world *w = calloc(1, sizeof(*w));
  int k;

  if (!w)
    return NULL;
  for (k = 1; k < SB_KIND__COUNT; k++) {
    w->k[k].nss = sb_hmap_new(8);
    if (!w->k[k].nss)
      goto fail;
    if (kind_indexed((sb_kind) k)) {
      w->k[k].ix = sb_hmap_new(8);
      if (!w->k[k].ix)
        goto fail;
    }
  }
  return w;

fail:
  sb_world_free(w);
  return NULL;
}

void sb_world_free(sb_world *w) {
  int k;

  if (!w)
    return;
  for (k = 1; k < SB_KIND__COUNT; k++) {
    kindtab *t = &w->k[k];
    sb_hmap_iter it = {0};
    entry *e, *next;
    void *v;

    for (e = t->head; e; e = next) {
      next = e->next;
      sb_obj_free(e->obj);
      free(e);
    }
    free(t->buckets);
    if (t->nss) {
      while (sb_hmap_next(t->nss, &it, NULL, NULL, &v))
        free(v);
      sb_hmap_free(t->nss);
    }
    if (t->ix) {
      memset(&it, 0, sizeof(it));
      while (sb_hmap_next(t->ix, &it, NULL, NULL, &v))
        free(v);
      sb_hmap_free(t->ix);
    }
  }
  free(w);
}

static entry *find(const sb_world *w, sb_kind kind, const char *ns,
                   const char *name) {
  if (!w || !kind_ok(kind) || !name)
    return NULL;
  ns = str(ns);
  return hfind(&w->k[kind], ns, name, hash2(ns, name));
}

/* Replaces the object of an existing entry. */
static int replace(kindtab *t, entry *e, sb_obj *obj, sb_obj **old) {
  ixgroup *og = e->ig, *ng = NULL;
  int created;

  if (og && !ix_is(obj, og)) {
    ng = ix_get(t, obj, &created);
    if (!ng)
      return SB_ENOMEM;
  }
  t->bytes -= sb_obj_size(e->obj);
  t->bytes += sb_obj_size(obj);
  if (old)
    *old = e->obj;
  else
    sb_obj_free(e->obj);
  e->obj = obj;
  if (ng) {
    ix_unlink(e);
    ix_link(e, ng);
    ix_drop_if_empty(t, og);
  }
  return 0;
}

int sb_world_put(sb_world *w, sb_obj *obj, sb_obj **old) {
  const char *ns;
  kindtab *t;
  nsgroup *g;
  ixgroup *ig = NULL;
  entry *e;
  uint32_t h;
  int ns_new = 0, ix_new = 0;

  if (old)
    *old = NULL;
  if (!w || !obj || !kind_ok(obj->kind) || !obj->name)
    return SB_EINVAL;
  t = &w->k[obj->kind];
  ns = str(obj->ns);
  h = hash2(ns, obj->name);
  e = hfind(t, ns, obj->name, h);
  if (e)
    return replace(t, e, obj, old);

  if (hgrow(t))
    return SB_ENOMEM;
  g = ns_get(t, ns, &ns_new);
  if (!g)
    return SB_ENOMEM;
  e = calloc(1, sizeof(*e));
  if (!e)
    goto fail;
  if (t->ix) {
    ig = ix_get(t, obj, &ix_new);
    if (!ig)
      goto fail;
  }

  e->obj = obj;
  e->hnext = t->buckets[h & (t->nbuckets - 1)];
  t->buckets[h & (t->nbuckets - 1)] = e;
  e->prev = t->tail;
  if (t->tail)
    t->tail->next = e;
  else
    t->head = e;
  t->tail = e;
  e->nprev = g->tail;
  if (g->tail)
    g->tail->nnext = e;
  else
    g->head = e;
  g->tail = e;
  if (ig)
    ix_link(e, ig);
  t->count++;
  t->bytes += sb_obj_size(obj);
  return 0;

fail:
  free(e);
  if (ns_new)
    ns_drop_if_empty(t, g);
  return SB_ENOMEM;
}

sb_obj *sb_world_take(sb_world *w, sb_kind kind, const char *ns,
                      const char *name) {
  entry *e = find(w, kind, ns, name);
  kindtab *t;
  nsgroup *g;
  ixgroup *ig;
  sb_obj *obj;

  if (!e)
    return NULL;
  t = &w->k[kind];
  obj = e->obj;
  hunlink(t, e);
  if (e->prev)
    e->prev->next = e->next;
  else
    t->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    t->tail = e->prev;
  g = ns_find(t, str(obj->ns));
  if (e->nprev)
    e->nprev->nnext = e->nnext;
  else
    g->head = e->nnext;
  if (e->nnext)
    e->nnext->nprev = e->nprev;
  else
    g->tail = e->nprev;
  ns_drop_if_empty(t, g);
  ig = e->ig;
  ix_unlink(e);
  ix_drop_if_empty(t, ig);
  t->count--;
  t->bytes -= sb_obj_size(obj);
  free(e);
  return obj;
}

const sb_obj *sb_world_get(const sb_world *w, sb_kind kind, const char *ns,
                           const char *name) {
  entry *e = find(w, kind, ns, name);
  return e ? e->obj : NULL;
}

size_t sb_world_count(const sb_world *w, sb_kind kind) {
  return w && kind_ok(kind) ? w->k[kind].count : 0;
}

size_t sb_world_bytes(const sb_world *w) {
  size_t n = 0;
  int k;

  if (!w)
    return 0;
  for (k = 1; k < SB_KIND__COUNT; k++)
    n += w->k[k].bytes;
  return n;
}

int sb_world_each(const sb_world *w, sb_kind kind, const char *ns,
                  sb_world_fn fn, void *arg) {
  const entry *e;
  nsgroup *g;
  int rc;

  if (!w || !kind_ok(kind) || !fn)
    return 0;
  if (!ns) {
    for (e = w->k[kind].head; e; e = e->next)
      if ((rc = fn(arg, e->obj)) != 0)
        return rc;
    return 0;
  }
  g = ns_find(&w->k[kind], ns);
  for (e = g ? g->head : NULL; e; e = e->nnext)
    if ((rc = fn(arg, e->obj)) != 0)
      return rc;
  return 0;
}

static int each_index(const sb_world *w, sb_kind kind, const char *ns,
                      const char *v, sb_world_fn fn, void *arg) {
  char buf[KEYBUF], *k;
  const ixgroup *g;
  const entry *e;
  size_t klen;
  int heap, rc = 0;

  if (!w || !fn || !ns || !v)
    return 0;
  k = make_key(ns, v, buf, &klen, &heap);
  if (!k)
    return SB_ENOMEM;
  g = sb_hmap_get(w->k[kind].ix, k, klen);
  if (heap)
    free(k);
  for (e = g ? g->head : NULL; e; e = e->inext)
    if ((rc = fn(arg, e->obj)) != 0)
      break;
  return rc;
}

int sb_world_pods_by_sa(const sb_world *w, const char *ns, const char *sa,
                        sb_world_fn fn, void *arg) {
  return each_index(w, SB_KIND_POD, ns, sa && *sa ? sa : "default", fn, arg);
}

int sb_world_splits_by_root(const sb_world *w, const char *ns,
                            const char *svc, sb_world_fn fn, void *arg) {
  return each_index(w, SB_KIND_TRAFFIC_SPLIT, ns, svc, fn, arg);
}

int sb_world_targets_by_dest(const sb_world *w, const char *ns,
                             const char *sa, sb_world_fn fn, void *arg) {
  return each_index(w, SB_KIND_TRAFFIC_TARGET, ns, sa, fn, arg);
}
