/* index.c -- which reconcile keys read which objects. See sb/index.h.
 *
 * A bipartite graph between keys ("TrafficSplit/shop/web") and selectors,
 * the flattened form of a dependency:
 *
 *   O/<Kind>/<ns>/<name>   one object (a model kind, or a generated kind
 *                          a key wants)
 *   S/<ns>/<sa>            pods of a ServiceAccount
 *   N/<ns>                 every pod of a namespace
 *   R/<ns>/<root>          TrafficSplits of a root Service
 *   T/<ns>/<sa>            TrafficTargets whose destination is ns/sa
 *
 * Names never contain '/', so the strings are unambiguous. Both sides live
 * in a hash map. Every (key, selector) pair is one edge; a key owns the
 * array of its edges, a selector holds pointers to the edges that reach it,
 * and each edge remembers its slot there. Replacing a key's dependencies
 * therefore costs O(its degree), however many keys share a selector (every
 * TrafficTarget of a namespace reading "N/ns", say) -- no list is scanned.
 *
 * Lookups answer with each key once: the keys reached through several
 * selectors are gathered, sorted by name and de-duplicated, which also
 * makes the callback order deterministic.
 */
#include "sb/index.h"

#include <stdlib.h>
#include <string.h>

#include "sb/err.h"
#include "sb/hmap.h"

struct keynode;
struct selnode;

typedef struct edge {
  struct keynode *key;
  struct selnode *sel;
  size_t pos;                  /* slot in sel->v */
} edge;

typedef struct selnode {
  edge **v;
  size_t n;
  size_t cap;
  size_t len;
  char str[];
} selnode;

typedef struct keynode {
  edge *edges;
  size_t nedges;
  size_t len;
  char str[];
} keynode;

struct sb_index {
  sb_hmap *keys;               /* key string -> keynode (keys borrowed) */
  sb_hmap *sels;               /* selector -> selnode (keys borrowed) */
};

/* Selector strings are built into one buffer, each ending in a NUL, with
 * their offsets alongside. Kubernetes names are at most 253 bytes; 1 MiB
 * for one key's selectors is generous and still bounded. */
#define SEL_BUF_MAX ((size_t) 1 << 20)

typedef struct sellist {
  sb_buf buf;
  size_t *off;
  size_t n;
  size_t cap;
} sellist;

static void sellist_init(sellist *l) {
  sb_buf_init(&l->buf, SEL_BUF_MAX);
  l->off = NULL;
  l->n = 0;
  l->cap = 0;
}

static void sellist_free(sellist *l) {
  sb_buf_free(&l->buf);
  free(l->off);
}

static const char *sellist_at(const sellist *l, size_t i) {
  return l->buf.data + l->off[i];
}

static int sellist_add(sellist *l, char type, const char *a, const char *b,
                       const char *c) {
  size_t start = l->buf.len;
  int rc;

  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    size_t *off = realloc(l->off, cap * sizeof(*off));
    if (!off)
      return SB_ENOMEM;
    l->off = off;
    l->cap = cap;
  }
  if (c)
    rc = sb_buf_addf(&l->buf, "%c/%s/%s/%s", type, a, b, c);
  else if (b)
    rc = sb_buf_addf(&l->buf, "%c/%s/%s", type, a, b);
  else
    rc = sb_buf_addf(&l->buf, "%c/%s", type, a);
  if (rc == 0)
    rc = sb_buf_addc(&l->buf, '\0');
  if (rc)
    return rc;
  l->off[l->n++] = start;
  return 0;
}

static int sellist_dep(sellist *l, const sb_dep *d) {
  const char *ns = d->ns ? d->ns : "";
  const char *name = d->name ? d->name : "";

  switch (d->sel) {
  case SB_DEP_OBJECT:
    return sellist_add(l, 'O', sb_kind_name(d->kind), ns, name);
  case SB_DEP_PODS_OF_SA:
    return sellist_add(l, 'S', ns, name, NULL);
  case SB_DEP_PODS_IN_NS:
    return sellist_add(l, 'N', ns, NULL, NULL);
  case SB_DEP_SPLITS_OF_ROOT:
    return sellist_add(l, 'R', ns, name, NULL);
  case SB_DEP_TARGETS_OF_SA:
    return sellist_add(l, 'T', ns, name, NULL);
  }
  return SB_EINVAL;
}

/* ---- keys --------------------------------------------------------------- */

int sb_index_key_format(const sb_key *k, sb_buf *out) {
  if (!k || k->kind == SB_KIND_UNKNOWN || !k->name)
    return SB_EINVAL;
  return sb_buf_addf(out, "%s/%s/%s", sb_kind_name(k->kind),
                     k->ns ? k->ns : "", k->name);
}

int sb_index_key_parse(char *s, sb_key *k) {
  char *a, *b;
  sb_kind kind;

  if (!s)
    return SB_EINVAL;
  a = strchr(s, '/');
  if (!a)
    return SB_EINVAL;
  b = strchr(a + 1, '/');
  if (!b || b[1] == '\0' || strchr(b + 1, '/'))
    return SB_EINVAL;
  *a = '\0';
  kind = sb_kind_from_name(s);
  if (kind == SB_KIND_UNKNOWN) {
    *a = '/';
    return SB_EINVAL;
  }
  *b = '\0';
  k->kind = kind;
  k->ns = a + 1;
  k->name = b + 1;
  return 0;
}

/* ---- the graph ---------------------------------------------------------- */

sb_index *sb_index_new(void) {
  sb_index *ix = calloc(1, sizeof(*ix));

  if (!ix)
    return NULL;
  ix->keys = sb_hmap_new(0);
  ix->sels = sb_hmap_new(0);
  if (!ix->keys || !ix->sels) {
    sb_hmap_free(ix->keys);
    sb_hmap_free(ix->sels);
    free(ix);
    return NULL;
  }
  return ix;
}

void sb_index_free(sb_index *ix) {
  sb_hmap_iter it = {0};
  void *v;

  if (!ix)
    return;
  while (sb_hmap_next(ix->keys, &it, NULL, NULL, &v)) {
    keynode *kn = v;
    free(kn->edges);
    free(kn);
  }
  it.next = 0;
  while (sb_hmap_next(ix->sels, &it, NULL, NULL, &v)) {
    selnode *sn = v;
    free(sn->v);
    free(sn);
  }
  sb_hmap_free(ix->keys);
  sb_hmap_free(ix->sels);
  free(ix);
}

static void edge_unlink(sb_index *ix, edge *e) {
  selnode *sn = e->sel;

  sn->v[e->pos] = sn->v[--sn->n];
  sn->v[e->pos]->pos = e->pos;
  if (sn->n == 0) {
    sb_hmap_del(ix->sels, sn->str, sn->len);
    free(sn->v);
    free(sn);
  }
}

static void key_clear(sb_index *ix, keynode *kn) {
  size_t i;

  for (i = 0; i < kn->nedges; i++)
    edge_unlink(ix, &kn->edges[i]);
  free(kn->edges);
  kn->edges = NULL;
  kn->nedges = 0;
}

static selnode *sel_get(sb_index *ix, const char *s) {
  size_t len = strlen(s);
  selnode *sn = sb_hmap_get(ix->sels, s, len);

  if (sn)
    return sn;
  sn = malloc(sizeof(*sn) + len + 1);
  if (!sn)
    return NULL;
  sn->v = NULL;
  sn->n = 0;
  sn->cap = 0;
  sn->len = len;
  memcpy(sn->str, s, len + 1);
  if (sb_hmap_put(ix->sels, sn->str, len, sn, NULL)) {
    free(sn);
    return NULL;
  }
  return sn;
}

/* Adds the edge kn -> s unless kn already reaches s. While one key's edges
 * are being added, every edge appended to a selector is that key's, so a
 * repeat is always the selector's last edge. */
static int edge_link(sb_index *ix, keynode *kn, const char *s) {
  selnode *sn = sel_get(ix, s);
  edge *e;

  if (!sn)
    return SB_ENOMEM;
  if (sn->n && sn->v[sn->n - 1]->key == kn)
    return 0;
  if (sn->n == sn->cap) {
    size_t cap = sn->cap ? sn->cap * 2 : 2;
    edge **v = realloc(sn->v, cap * sizeof(*v));
    if (!v) {
      if (sn->n == 0) {
        sb_hmap_del(ix->sels, sn->str, sn->len);
        free(sn->v);
        free(sn);
      }
      return SB_ENOMEM;
    }
    sn->v = v;
    sn->cap = cap;
  }
  e = &kn->edges[kn->nedges++];
  e->key = kn;
  e->sel = sn;
  e->pos = sn->n;
  sn->v[sn->n++] = e;
  return 0;
}

int sb_index_set(sb_index *ix, const char *key, const sb_dep *deps,
                 size_t ndeps, const sb_index_obj *wanted, size_t nwanted) {
  size_t len, i;
  sellist l;
  keynode *kn;
  int rc = 0;

  if (!ix || !key)
    return SB_EINVAL;
  sellist_init(&l);
  for (i = 0; i < ndeps && rc == 0; i++)
    rc = sellist_dep(&l, &deps[i]);
  for (i = 0; i < nwanted && rc == 0; i++)
    rc = sellist_add(&l, 'O', wanted[i].kind, wanted[i].ns, wanted[i].name);
  if (rc)
    goto out;

  len = strlen(key);
  kn = sb_hmap_get(ix->keys, key, len);
  if (kn) {
    key_clear(ix, kn);
  } else {
    kn = malloc(sizeof(*kn) + len + 1);
    if (!kn) {
      rc = SB_ENOMEM;
      goto out;
    }
    kn->edges = NULL;
    kn->nedges = 0;
    kn->len = len;
    memcpy(kn->str, key, len + 1);
    rc = sb_hmap_put(ix->keys, kn->str, len, kn, NULL);
    if (rc) {
      free(kn);
      goto out;
    }
  }
  if (l.n) {
    kn->edges = malloc(l.n * sizeof(*kn->edges));
    if (!kn->edges) {
      rc = SB_ENOMEM;
      goto out;
    }
  }
  for (i = 0; i < l.n && rc == 0; i++)
    rc = edge_link(ix, kn, sellist_at(&l, i));
out:
  sellist_free(&l);
  return rc;
}

void sb_index_remove(sb_index *ix, const char *key) {
  keynode *kn;

  if (!ix || !key)
    return;
  kn = sb_hmap_del(ix->keys, key, strlen(key));
  if (!kn)
    return;
  key_clear(ix, kn);
  free(kn);
}

size_t sb_index_keys(const sb_index *ix) {
  return ix ? sb_hmap_count(ix->keys) : 0;
}

/* ---- lookups ------------------------------------------------------------ */

/* The selectors one side (old or new) of a model change matches besides the
 * object itself. */
static int model_sels(sellist *l, sb_kind kind, const sb_obj *o) {
  int rc = 0;

  if (!o)
    return 0;
  switch (kind) {
  case SB_KIND_POD: {
    const sb_pod *p = (const sb_pod *) o;
    rc = sellist_add(l, 'S', o->ns,
                     p->service_account ? p->service_account : "default",
                     NULL);
    if (rc == 0)
      rc = sellist_add(l, 'N', o->ns, NULL, NULL);
    break;
  }
  case SB_KIND_TRAFFIC_SPLIT: {
    const sb_traffic_split *ts = (const sb_traffic_split *) o;
    if (ts->root)
      rc = sellist_add(l, 'R', o->ns, ts->root, NULL);
    break;
  }
  case SB_KIND_TRAFFIC_TARGET: {
    const sb_traffic_target *tt = (const sb_traffic_target *) o;
    if (tt->dest.name)
      rc = sellist_add(l, 'T', tt->dest.ns ? tt->dest.ns : o->ns,
                       tt->dest.name, NULL);
    break;
  }
  default:
    break;
  }
  return rc;
}

static int change_sels(sellist *l, const sb_change *c) {
  const char *ns = c->ns ? c->ns : "";
  int rc;

  switch (c->type) {
  case SB_CHANGE_MODEL:
    rc = sellist_add(l, 'O', sb_kind_name(c->kind), ns, c->name);
    if (rc == 0)
      rc = model_sels(l, c->kind, c->old_obj);
    if (rc == 0)
      rc = model_sels(l, c->kind, c->new_obj);
    return rc;
  case SB_CHANGE_INVALID:
    return sellist_add(l, 'O', sb_kind_name(c->kind), ns, c->name);
  case SB_CHANGE_GENERATED: {
    const sb_gen *g = c->new_obj ? c->new_obj : c->old_obj;
    if (!g || !g->gvk)
      return 0;
    return sellist_add(l, 'O', g->gvk->kind, g->ns, g->name);
  }
  }
  return SB_EINVAL;
}

static int cmp_key(const void *a, const void *b) {
  const keynode *x = *(const keynode *const *) a;
  const keynode *y = *(const keynode *const *) b;
  return strcmp(x->str, y->str);
}

int sb_index_affected(const sb_index *ix, const sb_change *c,
                      sb_index_fn fn, void *arg) {
  const keynode **hit = NULL;
  size_t nhit = 0, cap = 0, i, j;
  sellist l;
  int rc;

  if (!ix || !c || !fn)
    return SB_EINVAL;
  sellist_init(&l);
  rc = change_sels(&l, c);
  for (i = 0; i < l.n && rc == 0; i++) {
    const char *s = sellist_at(&l, i);
    const selnode *sn = sb_hmap_get(ix->sels, s, strlen(s));
    if (!sn)
      continue;
    if (nhit + sn->n > cap) {
      size_t ncap = cap ? cap : 8;
      const keynode **v;
      while (ncap < nhit + sn->n)
        ncap *= 2;
      v = realloc(hit, ncap * sizeof(*v));
      if (!v) {
        rc = SB_ENOMEM;
        break;
      }
      hit = v;
      cap = ncap;
    }
    for (j = 0; j < sn->n; j++)
      hit[nhit++] = sn->v[j]->key;
  }
  sellist_free(&l);
  if (rc == 0 && nhit) {
    qsort(hit, nhit, sizeof(*hit), cmp_key);
    for (i = 0; i < nhit; i++)
      if (i == 0 || hit[i] != hit[i - 1])
        fn(arg, hit[i]->str);
  }
  free(hit);
  return rc;
}
