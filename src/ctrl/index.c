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
 * object (some 37,000 edges for 10,000 objects), so it holds no selector
 * strings. A selector is its 64-bit hash (sb_hash over the type and the
 * NUL-terminated parts). Two selectors that collide would only make a
 * change of one re-run the keys of the other as well -- a spurious
 * reconcile, which is harmless, and at 2^-64 per pair never seen; a
 * dependency is never lost.
 *
 *   - A key is one allocation: its id, the hash of its string, its
 *     selectors (sorted, unique) and for each the key's slot in that
 *     selector's list, then its string. The key string is what
 *     sb_index_affected reports; ids are small integers reused after a
 *     remove, and ix->ids.v finds the node of one.
 *   - Keys are found by string through an open-addressing table of key
 *     ids, 4 bytes a slot: a probe compares the hash kept in the node
 *     before the string, and growing reads no string at all. (The generic
 *     sb_hmap took 24 bytes a slot for a string pointer and a value the
 *     node already has.)
 *   - Selectors live in an open-addressing table of 16-byte slots: hash,
 *     count, and either the one key id reaching it (most selectors) or
 *     the number of its id list in a side array (the few that several
 *     keys share: a namespace, a ServiceAccount, a backend Service).
 *
 * For 10,000 objects as tests/bench/memory.py makes them (6,667 keys;
 * 23,655 selectors, 320 of them shared; 36,669 edges) the index holds
 * 1.61 MB of heap: 32,768 selector slots (512 KiB), 16,384 key slots
 * (64 KiB), the nodes (833 KiB in 128-byte blocks), the id array
 * (64 KiB) and the lists (76 KiB). With 24-byte selector slots, an
 * sb_hmap for the keys (384 KiB) and a stack of free ids sized with the
 * ids it was 2.25 MB.
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
#include "sb/hmap.h"  /* sb_hash */

/* Header, the key string (padded to 8), then uint64_t sel[n] and
 * uint32_t pos[n]: the string stays put when n changes. */
typedef struct keynode {
  uint32_t id;
  uint32_t n;
  uint32_t len;
  uint32_t hash;               /* key_hash of the string */
} keynode;

/* 16 bytes: this table is the largest part of the index. */
typedef struct selslot {
  uint64_t h;                  /* 0: empty slot */
  uint32_t n;                  /* keys reaching it */
  uint32_t x;                  /* n == 1: the key's id, else its list's
                                  number in ix->lists */
} selslot;

/* Small numbers, reused once given back: key ids (v: keynode *) and the
 * lists of shared selectors (v: uint32_t *, the list's capacity then its
 * ids). v[i] is NULL while i is free. */
typedef struct pool {
  void **v;
  uint32_t n;                  /* handed out so far */
  uint32_t cap;
  uint32_t *free;              /* numbers to reuse, grown as they come */
  uint32_t nfree;
  uint32_t capfree;
} pool;

struct sb_index {
  uint32_t *keys;              /* id + 1 by key_hash, 0: empty slot */
  size_t nkeyslots;            /* a power of two, or 0 */
  size_t nkeys;
  pool ids;                    /* id -> keynode */
  selslot *sels;               /* power-of-two slots, or NULL */
  size_t nsels;                /* slots */
  size_t usedsels;
  pool lists;                  /* selslot.x -> the ids of a shared one */
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

static keynode *kn_of(const sb_index *ix, uint32_t id) {
  return ix->ids.v[id];
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

/* ---- numbers ------------------------------------------------------------ */

static int pool_take(pool *p, uint32_t *i) {
  if (p->nfree) {
    *i = p->free[--p->nfree];
    return 0;
  }
  if (p->n == UINT32_MAX)  /* a key's id + 1 must fit the key table */
    return SB_ENOMEM;
  if (p->n == p->cap) {
    uint32_t cap = !p->cap ? 64
                 : p->cap > UINT32_MAX / 2 ? UINT32_MAX : p->cap * 2;
    void **v = realloc(p->v, cap * sizeof(*v));
    if (!v)
      return SB_ENOMEM;
    p->v = v;
    p->cap = cap;
  }
  *i = p->n;
  p->v[p->n++] = NULL;
  return 0;
}

/* Gives i back. The stack of free numbers grows only as numbers come
 * back: an index that only grows, the usual case, needs none, where one
 * sized with the ids would cost 4 bytes an id. Without memory to grow it,
 * i is just never reused. */
static void pool_put(pool *p, uint32_t i) {
  p->v[i] = NULL;
  if (p->nfree == p->capfree) {
    uint32_t cap = p->capfree ? p->capfree * 2 : 16;
    uint32_t *f;
    if (cap < p->capfree)
      return;
    f = realloc(p->free, cap * sizeof(*f));
    if (!f)
      return;
    p->free = f;
    p->capfree = cap;
  }
  p->free[p->nfree++] = i;
}

static void pool_free(pool *p) {
  uint32_t i;

  for (i = 0; i < p->n; i++)
    free(p->v[i]);
  free(p->v);
  free(p->free);
}

/* ---- the tables --------------------------------------------------------- */

/* Both use linear probing, at most 3/4 full, deletion by shifting back (no
 * tombstones). A selector slot moving does not matter to anyone, since
 * keys remember their place in a selector's list, not the selector's slot;
 * nothing points at a key slot. */

static uint32_t key_hash(const char *key, size_t len) {
  return (uint32_t) sb_hash(key, len);
}

/* The slot holding key, or NULL. */
static uint32_t *key_find(const sb_index *ix, const char *key, size_t len,
                          uint32_t h) {
  size_t mask, i;

  if (!ix->nkeyslots)
    return NULL;
  mask = ix->nkeyslots - 1;
  for (i = h & mask; ix->keys[i]; i = (i + 1) & mask) {
    keynode *kn = kn_of(ix, ix->keys[i] - 1);
    if (kn->hash == h && kn->len == len && memcmp(kn_str(kn), key, len) == 0)
      return &ix->keys[i];
  }
  return NULL;
}

/* Adds id, whose key is not there yet. */
static int key_add(sb_index *ix, uint32_t id, uint32_t h) {
  size_t mask, i, j;

  if ((ix->nkeys + 1) * 4 > ix->nkeyslots * 3) {
    size_t n = ix->nkeyslots ? ix->nkeyslots * 2 : 64;
    uint32_t *t = calloc(n, sizeof(*t));

    if (!t)
      return SB_ENOMEM;
    for (i = 0; i < ix->nkeyslots; i++) {
      if (!ix->keys[i])
        continue;
      for (j = kn_of(ix, ix->keys[i] - 1)->hash & (n - 1); t[j];
           j = (j + 1) & (n - 1))
        ;
      t[j] = ix->keys[i];
    }
    free(ix->keys);
    ix->keys = t;
    ix->nkeyslots = n;
  }
  mask = ix->nkeyslots - 1;
  for (i = h & mask; ix->keys[i]; i = (i + 1) & mask)
    ;
  ix->keys[i] = id + 1;
  ix->nkeys++;
  return 0;
}

static void key_del(sb_index *ix, uint32_t *slot) {
  size_t mask = ix->nkeyslots - 1, i = (size_t) (slot - ix->keys), j, home;

  ix->keys[i] = 0;
  ix->nkeys--;
  /* Shift back every following entry that may not stay behind the hole. */
  for (j = (i + 1) & mask; ix->keys[j]; j = (j + 1) & mask) {
    home = kn_of(ix, ix->keys[j] - 1)->hash & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      ix->keys[i] = ix->keys[j];
      ix->keys[j] = 0;
      i = j;
    }
  }
}

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

/* The slot of h, added with no keys if it is not there. */
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
  s->h = h;
  s->n = 0;
  s->x = 0;
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

/* The ids reaching s (s->n of them, at least one). */
static uint32_t *sel_ids(const sb_index *ix, selslot *s) {
  return s->n == 1 ? &s->x : (uint32_t *) ix->lists.v[s->x] + 1;
}

/* A list's first word is its capacity. It starts with room for 5 ids, 24
 * bytes, which 64-bit glibc's smallest block holds anyway; each growth
 * doubles the block. */
#define LIST_FIRST 5

/* Appends id; returns its slot in the list through *pos. */
static int sel_push(sb_index *ix, selslot *s, uint32_t id, uint32_t *pos) {
  uint32_t *l, x;

  if (s->n == 0) {
    s->x = id;
  } else if (s->n == 1) {  /* a second key: the ids move to a list */
    l = malloc((1 + LIST_FIRST) * sizeof(*l));
    if (!l)
      return SB_ENOMEM;
    if (pool_take(&ix->lists, &x)) {
      free(l);
      return SB_ENOMEM;
    }
    l[0] = LIST_FIRST;
    l[1] = s->x;
    l[2] = id;
    ix->lists.v[x] = l;
    s->x = x;
  } else {
    l = ix->lists.v[s->x];
    if (s->n == l[0]) {  /* doubles, header included */
      uint32_t cap;
      if (l[0] >= UINT32_MAX / 2)
        return SB_ENOMEM;
      cap = l[0] * 2 + 1;
      l = realloc(l, (1 + (size_t) cap) * sizeof(*l));
      if (!l)
        return SB_ENOMEM;
      l[0] = cap;
      ix->lists.v[s->x] = l;
    }
    l[1 + s->n] = id;
  }
  *pos = s->n++;
  return 0;
}

/* Takes the last id out of s (the caller has moved it where it belongs),
 * and s out of the table when that was its only one. */
static void sel_pop(sb_index *ix, selslot *s) {
  uint32_t *l;

  if (--s->n == 0) {
    sel_del(ix, s);
  } else if (s->n == 1) {  /* back inline: most lists shrink to one */
    l = ix->lists.v[s->x];
    pool_put(&ix->lists, s->x);
    s->x = l[1];
    free(l);
  }
}

/* ---- the graph ---------------------------------------------------------- */

sb_index *sb_index_new(void) {
  return calloc(1, sizeof(sb_index));
}

void sb_index_free(sb_index *ix) {
  if (!ix)
    return;
  pool_free(&ix->ids);
  pool_free(&ix->lists);
  free(ix->sels);
  free(ix->keys);
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
    ids = sel_ids(ix, s);
    if (pos != s->n - 1) {
      keynode *moved = kn_of(ix, ids[s->n - 1]);
      ids[pos] = ids[s->n - 1];
      kn_pos(moved)[kn_find(moved, h)] = pos;
    }
    sel_pop(ix, s);
  }
}

int sb_index_set(sb_index *ix, const char *key, const sb_dep *deps,
                 size_t ndeps, const sb_index_obj *wanted, size_t nwanted) {
  size_t len, i;
  sellist l;
  keynode *old, *kn;
  uint32_t id, hash, *slot;
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

  /* A new node every time (its size follows its degree); the key keeps
   * its id, so its slot in the key table stays as it is. */
  kn = malloc(sizeof(*kn) + ALIGN8(len + 1) +
              l.n * (sizeof(uint64_t) + sizeof(uint32_t)));
  if (!kn) {
    rc = SB_ENOMEM;
    goto out;
  }
  hash = key_hash(key, len);
  slot = key_find(ix, key, len, hash);
  old = slot ? kn_of(ix, *slot - 1) : NULL;
  kn->n = (uint32_t) l.n;
  kn->len = (uint32_t) len;
  kn->hash = hash;
  memcpy(kn_str(kn), key, len + 1);
  memcpy(kn_sel(kn), l.h, l.n * sizeof(uint64_t));
  if (old) {
    id = old->id;
    key_unlink(ix, old, old->n);
    free(old);
  } else if ((rc = pool_take(&ix->ids, &id)) != 0) {
    free(kn);
    goto out;
  }
  kn->id = id;
  ix->ids.v[id] = kn;
  if (!old && (rc = key_add(ix, id, hash)) != 0) {
    pool_put(&ix->ids, id);
    free(kn);
    goto out;
  }
  for (i = 0; i < kn->n; i++) {
    selslot *s = sel_get(ix, kn_sel(kn)[i]);
    /* A selector just added takes its first id inline, so a failing push
     * never leaves one without keys. */
    if (!s || sel_push(ix, s, id, &kn_pos(kn)[i])) {
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
  size_t len;
  uint32_t *slot;
  keynode *kn;

  if (!ix || !key)
    return;
  len = strlen(key);
  slot = key_find(ix, key, len, key_hash(key, len));
  if (!slot)
    return;
  kn = kn_of(ix, *slot - 1);
  key_del(ix, slot);
  key_unlink(ix, kn, kn->n);
  pool_put(&ix->ids, kn->id);
  free(kn);
}

size_t sb_index_keys(const sb_index *ix) {
  return ix ? ix->nkeys : 0;
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
    memcpy(hit + nhit, sel_ids(ix, s), s->n * sizeof(*hit));
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
        kns[n++] = kn_of(ix, hit[i]);
    qsort(kns, n, sizeof(*kns), cmp_key);
    for (i = 0; i < n; i++)
      fn(arg, kn_str(kns[i]));
  }
  free(kns);
  free(hit);
  return rc;
}
