/* world.c -- the set of model objects translations read. See sb/world.h.
 *
 * Shape, and why:
 *
 *   kind -> namespace group -> name -> entry
 *
 * Each kind has a map from namespace to a group; each group has a map from
 * name to entry. The name map borrows its keys from the objects themselves
 * (obj->name lives in the object's immutable arena for as long as the entry
 * holds it), so the only copied string per namespace is the namespace
 * itself and an entry carries no key at all. With 20,000 cached pods the
 * per-entry cost is what matters: an entry is seven pointers.
 *
 * Every entry is on three intrusive doubly linked lists:
 *   - the kind's list, in insertion order (sb_world_each without ns);
 *   - its namespace group's list, in insertion order (sb_world_each with
 *     ns) -- iteration stays proportional to the namespace, not the kind;
 *   - for pods, TrafficSplits and TrafficTargets, the list of its secondary
 *     index group (pods by ns+serviceAccount, splits by ns+root, targets by
 *     destination ns+ServiceAccount), keyed "ns\0value" in a per-kind map.
 * A replaced object takes over its predecessor's entry, so it keeps its
 * place in the first two lists; it keeps its place in the index list too
 * unless the indexed field changed, in which case it moves to the end of
 * its new group. Groups are freed when they empty.
 *
 * Every insertion allocates everything it needs before linking anything,
 * so an SB_ENOMEM leaves the world exactly as it was.
 */
#include "sb/world.h"

#include <stdlib.h>
#include <string.h>

#include "sb/err.h"
#include "sb/hmap.h"

struct ixgroup;

typedef struct entry {
  sb_obj *obj;
  struct entry *prev, *next;    /* kind list */
  struct entry *nprev, *nnext;  /* namespace group list */
  struct entry *iprev, *inext;  /* index group list */
  struct ixgroup *ig;           /* NULL for kinds without an index */
} entry;

typedef struct nsgroup {
  sb_hmap *names;               /* obj->name -> entry (keys borrowed) */
  entry *head, *tail;
  char ns[];
} nsgroup;

typedef struct ixgroup {
  entry *head, *tail;
  size_t klen;
  char key[];                   /* "ns\0value", klen bytes */
} ixgroup;

typedef struct kindtab {
  sb_hmap *nss;                 /* ns -> nsgroup (keys in the group) */
  sb_hmap *ix;                  /* "ns\0value" -> ixgroup, or NULL */
  entry *head, *tail;
  size_t count;
  size_t bytes;
} kindtab;

struct sb_world {
  kindtab k[SB_KIND__COUNT];
};

/* Stack room for composite index keys; longer ones are malloc'd. */
#define KEYBUF 256

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

static void nsgroup_free(nsgroup *g) {
  if (!g)
    return;
  sb_hmap_free(g->names);
  free(g);
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
    if (t->nss) {
      while (sb_hmap_next(t->nss, &it, NULL, NULL, &v))
        nsgroup_free(v);
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

static nsgroup *ns_find(const kindtab *t, const char *ns) {
  return sb_hmap_get(t->nss, ns, strlen(ns));
}

static entry *find(const sb_world *w, sb_kind kind, const char *ns,
                   const char *name) {
  nsgroup *g;

  if (!w || !kind_ok(kind) || !name)
    return NULL;
  g = ns_find(&w->k[kind], str(ns));
  return g ? sb_hmap_get(g->names, name, strlen(name)) : NULL;
}

/* Finds or creates the namespace group; *created says whether it is new
 * (and therefore must be dropped again if the insertion fails later). */
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
  g->names = sb_hmap_new(4);
  if (!g->names || sb_hmap_put(t->nss, g->ns, len, g, NULL)) {
    nsgroup_free(g);
    return NULL;
  }
  *created = 1;
  return g;
}

static void ns_drop_if_empty(kindtab *t, nsgroup *g) {
  if (g && !g->head && sb_hmap_count(g->names) == 0) {
    sb_hmap_del(t->nss, g->ns, strlen(g->ns));
    nsgroup_free(g);
  }
}

/* Finds or creates the index group of obj. */
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
  e->ig = NULL;
  e->iprev = e->inext = NULL;
}

/* Replaces the object of an existing entry. */
static int replace(kindtab *t, entry *e, nsgroup *g, sb_obj *obj,
                   sb_obj **old) {
  ixgroup *ng = NULL, *og = e->ig;
  int created = 0;

  if (t->ix) {
    ng = ix_get(t, obj, &created);
    if (!ng)
      return SB_ENOMEM;
  }
  /* The name map must borrow the new object's name from now on (the old
   * object is about to be handed back or freed). Same key, so the map does
   * not grow and this cannot fail. */
  sb_hmap_put(g->names, obj->name, strlen(obj->name), e, NULL);
  t->bytes -= sb_obj_size(e->obj);
  t->bytes += sb_obj_size(obj);
  if (old)
    *old = e->obj;
  else
    sb_obj_free(e->obj);
  e->obj = obj;
  if (ng && ng != og) {
    ix_unlink(e);
    ix_link(e, ng);
    ix_drop_if_empty(t, og);
  }
  return 0;
}

int sb_world_put(sb_world *w, sb_obj *obj, sb_obj **old) {
  kindtab *t;
  nsgroup *g;
  ixgroup *ig = NULL;
  entry *e;
  int ns_new = 0, ix_new = 0;

  if (old)
    *old = NULL;
  if (!w || !obj || !kind_ok(obj->kind) || !obj->name)
    return SB_EINVAL;
  t = &w->k[obj->kind];
  g = ns_get(t, str(obj->ns), &ns_new);
  if (!g)
    return SB_ENOMEM;
  e = sb_hmap_get(g->names, obj->name, strlen(obj->name));
  if (e)
    return replace(t, e, g, obj, old);

  e = calloc(1, sizeof(*e));
  if (!e)
    goto fail;
  if (t->ix) {
    ig = ix_get(t, obj, &ix_new);
    if (!ig)
      goto fail;
  }
  if (sb_hmap_put(g->names, obj->name, strlen(obj->name), e, NULL))
    goto fail;

  e->obj = obj;
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
  if (ix_new)
    ix_drop_if_empty(t, ig);
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
  g = ns_find(t, str(ns));
  sb_hmap_del(g->names, name, strlen(name));
  if (e->prev)
    e->prev->next = e->next;
  else
    t->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    t->tail = e->prev;
  if (e->nprev)
    e->nprev->nnext = e->nnext;
  else
    g->head = e->nnext;
  if (e->nnext)
    e->nnext->nprev = e->nprev;
  else
    g->tail = e->nprev;
  ig = e->ig;
  ix_unlink(e);
  ix_drop_if_empty(t, ig);
  ns_drop_if_empty(t, g);
  t->count--;
  obj = e->obj;
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
