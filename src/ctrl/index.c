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
 * Size is what shaped it: the controller keeps this graph for every SMI
 * object (some 40,000 edges for 10,000 objects), so it holds no selector
 * strings. A selector is its 64-bit hash (sb_hash over the type and the
 * NUL-terminated parts). Two selectors that collide would only make a
 * change of one re-run the keys of the other as well -- a spurious
 * reconcile, which is harmless, and at 2^-64 per pair never seen; a
 * dependency is never lost.
 *
 *   - A key is one allocation: its id, its selectors (sorted, unique) and
 *     for each the key's slot in that selector's list, then its string.
 *     The key string is what sb_index_affected reports and what the keys
 *     map borrows; ids are small integers reused after a remove.
 *   - Selectors live in an open-addressing table of 24-byte slots (hash,
 *     count, and the key ids reaching it: inline while there is one, which
 *     is most selectors, else an array).
 *
 * Replacing a key's dependencies costs O(its degree), however many keys
 * share a selector (every TrafficTarget of a namespace reading "N/ns",
 * say): an edge remembers its slot in the selector's list, removal swaps
 * the last id in, and only that moved key's slot is rewritten (found by a
 * binary search of its sorted selectors) -- no list is scanned.
 *
 * Lookups answer with each key once: the keys reached through several
 * selectors are gathered, de-duplicated and sorted by name, which also
 * makes the callback order deterministic.
 */
#include "sb/index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sb/err.h"
#include "sb/hmap.h"

/* Header, the key string (padded to 8), then uint64_t sel[n] and
 * uint32_t pos[n]: the string stays put when n changes. */
typedef struct keynode {
  uint32_t id;
  uint32_t n;
  uint32_t len;
  uint32_t pad_;
} keynode;

typedef struct selslot {
  uint64_t h;                  /* 0: empty slot */
  uint32_t n;                  /* keys reaching it */
  uint32_t cap;                /* 1: the id is inline in one */
  union {
    uint32_t one;
    uint32_t *v;
  } k;
} selslot;

struct sb_index {
  sb_hmap *keys;               /* key string -> keynode (keys borrowed) */
  keynode **byid;              /* id -> keynode, NULL when free */
  uint32_t nids;               /* ids handed out so far */
  uint32_t capids;
  uint32_t *freeids;           /* ids to reuse */
  uint32_t nfree;
  selslot *sels;               /* power-of-two slots, or NULL */
  size_t nsels;                /* slots */
  size_t usedsels;
};

#define ALIGN8(n) (((n) + 7u) & ~(size_t) 7u)

static char *kn_str(keynode *kn) {
  return (char *) (kn + 1);
}

static uint64_t *kn_sel(keynode *kn) {
  return (uint64_t *) (void *) (kn_str(kn) + ALIGN8((size_t) kn->len + 1));
}

static uint32_t *kn_pos(keynode *kn) {
  return (uint32_t *) (void *) (kn_sel(kn) + kn->n);
}

/* Selector hashes of one key (or one change), gathered before the graph is
 * touched. 64 cover every translation; more grow on the heap. */
#define SELS_INLINE 64

typedef struct sellist {
  uint64_t inl[SELS_INLINE];
  uint64_t *h;
  size_t n;
  size_t cap;
} sellist;

static void sellist_init(sellist *l) {
  l->h = l->inl;
  l->n = 0;
  l->cap = SELS_INLINE;
}

static void sellist_free(sellist *l) {
  if (l->h != l->inl)
    free(l->h);
}

static int sellist_add(sellist *l, char type, const char *a, const char *b,
                       const char *c) {
  uint64_t h = sb_hash_add(SB_HASH_INIT, &type, 1);

  if (l->n == l->cap) {
    size_t cap = l->cap * 2;
    uint64_t *v = l->h == l->inl ? malloc(cap * sizeof(*v))
                                 : realloc(l->h, cap * sizeof(*v));
    if (!v)
      return SB_ENOMEM;
    if (l->h == l->inl)
      memcpy(v, l->inl, sizeof(l->inl));
    l->h = v;
    l->cap = cap;
  }
  /* Each part with its NUL: "a" + "bc" never hashes like "ab" + "c". */
  if (!a)
    a = "";
  h = sb_hash_add(h, a, strlen(a) + 1);
  if (b)
    h = sb_hash_add(h, b, strlen(b) + 1);
  if (c)
    h = sb_hash_add(h, c, strlen(c) + 1);
  h = sb_hash_final(h);
  l->h[l->n++] = h ? h : 1;  /* 0 marks an empty slot */
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

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

/* Sorts and drops repeats. */
static void sellist_unique(sellist *l) {
  size_t i, j = 0;

  qsort(l->h, l->n, sizeof(*l->h), cmp_u64);
  for (i = 0; i < l->n; i++)
    if (j == 0 || l->h[i] != l->h[j - 1])
      l->h[j++] = l->h[i];
  l->n = j;
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

/* ---- the selector table ------------------------------------------------ */

/* Linear probing, at most 3/4 full, deletion by shifting back (no
 * tombstones): a slot moving does not matter to anyone, since keys
 * remember their place in a selector's list, not the selector's slot. */

static selslot *sel_find(const sb_index *ix, uint64_t h) {
  size_t mask, i;

  if (!ix->nsels)
    return NULL;
  mask = ix->nsels - 1;
  for (i = h & mask; ix->sels[i].h; i = (i + 1) & mask)
    if (ix->sels[i].h == h)
      return &ix->sels[i];
  return NULL;
}

static int sel_grow(sb_index *ix) {
  size_t n = ix->nsels ? ix->nsels * 2 : 64, i, j;
  selslot *t = calloc(n, sizeof(*t));

  if (!t)
    return SB_ENOMEM;
  for (i = 0; i < ix->nsels; i++) {
    if (!ix->sels[i].h)
      continue;
    for (j = ix->sels[i].h & (n - 1); t[j].h; j = (j + 1) & (n - 1))
      ;
    t[j] = ix->sels[i];
  }
  free(ix->sels);
  ix->sels = t;
  ix->nsels = n;
  return 0;
}

static selslot *sel_get(sb_index *ix, uint64_t h) {
  selslot *s = sel_find(ix, h);
  size_t i;

  if (s)
    return s;
  if ((ix->usedsels + 1) * 4 > ix->nsels * 3 && sel_grow(ix))
    return NULL;
  for (i = h & (ix->nsels - 1); ix->sels[i].h; i = (i + 1) & (ix->nsels - 1))
    ;
  s = &ix->sels[i];
  memset(s, 0, sizeof(*s));
  s->h = h;
  s->cap = 1;
  ix->usedsels++;
  return s;
}

static void sel_del(sb_index *ix, selslot *s) {
  size_t mask = ix->nsels - 1, i = (size_t) (s - ix->sels), j, home;

  ix->sels[i].h = 0;
  ix->usedsels--;
  /* Shift back every following entry that may not stay behind the hole. */
  for (j = (i + 1) & mask; ix->sels[j].h; j = (j + 1) & mask) {
    home = ix->sels[j].h & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      ix->sels[i] = ix->sels[j];
      ix->sels[j].h = 0;
      i = j;
    }
  }
}

static uint32_t *sel_ids(selslot *s) {
  return s->cap == 1 ? &s->k.one : s->k.v;
}

/* Appends id; returns its slot in the list through *pos. */
static int sel_push(selslot *s, uint32_t id, uint32_t *pos) {
  if (s->n == s->cap) {
    uint32_t cap = s->cap * 2;
    uint32_t *v = malloc(cap * sizeof(*v));

    if (!v)
      return SB_ENOMEM;
    memcpy(v, sel_ids(s), s->n * sizeof(*v));
    if (s->cap > 1)
      free(s->k.v);
    s->k.v = v;
    s->cap = cap;
  }
  *pos = s->n;
  sel_ids(s)[s->n++] = id;
  return 0;
}

/* ---- the graph ---------------------------------------------------------- */

sb_index *sb_index_new(void) {
  sb_index *ix = calloc(1, sizeof(*ix));

  if (!ix)
    return NULL;
  ix->keys = sb_hmap_new(0);
  if (!ix->keys) {
    free(ix);
    return NULL;
  }
  return ix;
}

void sb_index_free(sb_index *ix) {
  size_t i;

  if (!ix)
    return;
  for (i = 0; i < ix->nids; i++)
    free(ix->byid[i]);
  for (i = 0; i < ix->nsels; i++)
    if (ix->sels[i].h && ix->sels[i].cap > 1)
      free(ix->sels[i].k.v);
  free(ix->sels);
  free(ix->byid);
  free(ix->freeids);
  sb_hmap_free(ix->keys);
  free(ix);
}

/* Position of h in kn's sorted selectors (it is there). */
static size_t kn_find(keynode *kn, uint64_t h) {
  const uint64_t *sel = kn_sel(kn);
  size_t lo = 0, hi = kn->n;

  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (sel[mid] <= h)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/* Takes kn out of its first n selectors' lists. */
static void key_unlink(sb_index *ix, keynode *kn, uint32_t n) {
  uint32_t i;

  for (i = 0; i < n; i++) {
    uint64_t h = kn_sel(kn)[i];
    uint32_t pos = kn_pos(kn)[i];
    selslot *s = sel_find(ix, h);
    uint32_t *ids;

    if (!s)
      continue;
    ids = sel_ids(s);
    if (pos != s->n - 1) {
      keynode *moved = ix->byid[ids[s->n - 1]];
      ids[pos] = ids[s->n - 1];
      kn_pos(moved)[kn_find(moved, h)] = pos;
    }
    if (--s->n == 0) {
      if (s->cap > 1)
        free(s->k.v);
      sel_del(ix, s);
    } else if (s->n == 1 && s->cap > 1) {
      uint32_t last = s->k.v[0];  /* back inline: most lists shrink to one */
      free(s->k.v);
      s->k.one = last;
      s->cap = 1;
    }
  }
}

static int id_new(sb_index *ix, uint32_t *id) {
  if (ix->nfree) {
    *id = ix->freeids[--ix->nfree];
    return 0;
  }
  if (ix->nids == UINT32_MAX)
    return SB_ENOMEM;
  if (ix->nids == ix->capids) {
    uint32_t cap = ix->capids ? ix->capids * 2 : 64;
    keynode **v = realloc(ix->byid, cap * sizeof(*v));
    uint32_t *f;
    if (!v)
      return SB_ENOMEM;
    ix->byid = v;
    f = realloc(ix->freeids, cap * sizeof(*f));
    if (!f)
      return SB_ENOMEM;
    ix->freeids = f;
    ix->capids = cap;
  }
  *id = ix->nids;
  ix->byid[ix->nids++] = NULL;
  return 0;
}

static void id_free(sb_index *ix, uint32_t id) {
  ix->byid[id] = NULL;
  ix->freeids[ix->nfree++] = id;  /* capids >= nids, so this fits */
}

int sb_index_set(sb_index *ix, const char *key, const sb_dep *deps,
                 size_t ndeps, const sb_index_obj *wanted, size_t nwanted) {
  size_t len, i;
  sellist l;
  keynode *old, *kn;
  uint32_t id;
  int rc = 0;

  if (!ix || !key)
    return SB_EINVAL;
  len = strlen(key);
  sellist_init(&l);
  for (i = 0; i < ndeps && rc == 0; i++)
    rc = sellist_dep(&l, &deps[i]);
  for (i = 0; i < nwanted && rc == 0; i++)
    rc = sellist_add(&l, 'O', wanted[i].kind, wanted[i].ns, wanted[i].name);
  if (rc == 0 && (l.n > UINT32_MAX || len > UINT32_MAX))
    rc = SB_EINVAL;
  if (rc)
    goto out;
  sellist_unique(&l);

  /* A new node every time (its size follows its degree); the map swaps
   * to its string before the old one is freed. */
  kn = malloc(sizeof(*kn) + ALIGN8(len + 1) +
              l.n * (sizeof(uint64_t) + sizeof(uint32_t)));
  if (!kn) {
    rc = SB_ENOMEM;
    goto out;
  }
  old = sb_hmap_get(ix->keys, key, len);
  if (old) {
    id = old->id;
  } else if ((rc = id_new(ix, &id)) != 0) {
    free(kn);
    goto out;
  }
  kn->id = id;
  kn->n = (uint32_t) l.n;
  kn->len = (uint32_t) len;
  kn->pad_ = 0;
  memcpy(kn_str(kn), key, len + 1);
  memcpy(kn_sel(kn), l.h, l.n * sizeof(uint64_t));
  rc = sb_hmap_put(ix->keys, kn_str(kn), len, kn, NULL);
  if (rc) {
    if (!old)
      id_free(ix, id);
    free(kn);
    goto out;
  }
  if (old) {
    key_unlink(ix, old, old->n);
    free(old);
  }
  ix->byid[id] = kn;
  for (i = 0; i < kn->n; i++) {
    selslot *s = sel_get(ix, kn_sel(kn)[i]);
    if (!s || sel_push(s, id, &kn_pos(kn)[i])) {
      if (s && s->n == 0)
        sel_del(ix, s);
      /* Keep what is linked, forget the rest: "run it again". */
      memmove(kn_sel(kn) + i, kn_pos(kn), i * sizeof(uint32_t));
      kn->n = (uint32_t) i;
      rc = SB_ENOMEM;
      break;
    }
  }
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
  key_unlink(ix, kn, kn->n);
  id_free(ix, kn->id);
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
                     p->shape->service_account ? p->shape->service_account
                                               : "default",
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

static int cmp_id(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
  return x < y ? -1 : x > y;
}

static int cmp_key(const void *a, const void *b) {
  keynode *x = *(keynode *const *) a;
  keynode *y = *(keynode *const *) b;
  return strcmp(kn_str(x), kn_str(y));
}

int sb_index_affected(const sb_index *ix, const sb_change *c,
                      sb_index_fn fn, void *arg) {
  uint32_t *hit = NULL;
  keynode **kns = NULL;
  size_t nhit = 0, cap = 0, i, n = 0;
  sellist l;
  int rc;

  if (!ix || !c || !fn)
    return SB_EINVAL;
  sellist_init(&l);
  rc = change_sels(&l, c);
  if (rc == 0)
    sellist_unique(&l);
  for (i = 0; i < l.n && rc == 0; i++) {
    selslot *s = sel_find(ix, l.h[i]);
    if (!s)
      continue;
    if (nhit + s->n > cap) {
      size_t ncap = cap ? cap : 8;
      uint32_t *v;
      while (ncap < nhit + s->n)
        ncap *= 2;
      v = realloc(hit, ncap * sizeof(*v));
      if (!v) {
        rc = SB_ENOMEM;
        break;
      }
      hit = v;
      cap = ncap;
    }
    memcpy(hit + nhit, sel_ids(s), s->n * sizeof(*hit));
    nhit += s->n;
  }
  sellist_free(&l);
  if (rc == 0 && nhit) {
    qsort(hit, nhit, sizeof(*hit), cmp_id);
    kns = malloc(nhit * sizeof(*kns));
    if (!kns)
      rc = SB_ENOMEM;
  }
  if (rc == 0 && nhit) {
    for (i = 0; i < nhit; i++)
      if (i == 0 || hit[i] != hit[i - 1])
        kns[n++] = ix->byid[hit[i]];
    qsort(kns, n, sizeof(*kns), cmp_key);
    for (i = 0; i < n; i++)
      fn(arg, kn_str(kns[i]));
  }
  free(kns);
  free(hit);
  return rc;
}
