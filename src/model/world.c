/* world.c -- the set of model objects translations read. See sb/world.h.
 *
 * Shape, and why: the controller holds some 20,000 pods and 10,000 SMI
 * objects in a small process, so what an entry costs beyond its object
 * decides the footprint. Entries are not allocated one by one: each kind
 * keeps them in two parallel arrays, the object pointers and the entries'
 * links, and entries name each other by 32-bit slot number (NIL for none).
 * An entry is 24 bytes, 32 for a kind with an index, plus 4-8 bytes of
 * buckets (it was a nine-pointer 80-byte chunk plus 8-16). For 20,000
 * pods, 10,000 SMI objects and 600 Services and ServiceAccounts the world
 * holds 1.4 MB besides the objects, where it held 3.5 MB (massif, with
 * entries of 20 and 28 bytes before the stored hash: 1.3 MB).
 *
 *   - slots are in insertion order, so the kind's order (sb_world_each
 *     without ns) is the array's and needs no list. A taken entry leaves
 *     a hole (NULL object) that iterations skip. Holes are squeezed out
 *     ("compaction": live slots slide down in order, every link is
 *     renumbered, the hash chains are rebuilt; nothing is allocated, so it
 *     cannot fail) when a full array holds at least an eighth of holes,
 *     instead of growing it, and when a take leaves more holes than
 *     entries, after which the arrays shrink to half as much again as the
 *     entries need. So a steady churn reuses slots rather than growing,
 *     and removing most of a kind (a deleted namespace) gives the memory
 *     back. The price: the arrays grow by half, and only when fewer than
 *     an eighth of their slots are holes, so after a growth up to 40% of
 *     the slots are unused (14% for the 20,000 pods above); removals that
 *     stop just short of a compaction can leave about two thirds unused
 *     until more removals, or a full array, bring one;
 *   - a chained hash table per kind finds (ns, name), one slot number per
 *     bucket, at most one entry per bucket on average. It compares the
 *     object's own ns and name strings (immutable in the object's arena),
 *     so no key is copied;
 *   - its namespace group's list, doubly linked, in insertion order
 *     (sb_world_each with ns), so a namespace is iterated without walking
 *     the whole kind;
 *   - for pods, TrafficSplits and TrafficTargets, the doubly linked list
 *     of its secondary index group (pods by ns+serviceAccount, splits by
 *     ns+root, targets by destination ns+ServiceAccount).
 *
 * A group is 16 bytes in a per-kind open-addressing table: the 32-bit hash
 * of its key (the namespace, or "ns\0value"; see world-int.h), the slots
 * of its first and last entry, and a flag. The key itself is not kept,
 * which saves a malloc per group (TrafficSplits mostly have a root of
 * their own). Keys that share a hash share a group: an entry joining a
 * group whose first entry has another key marks it mixed, and iterations
 * over a mixed group compare every object's own strings and pass over the
 * others, which never changes an answer or an order (each key's entries
 * keep their relative order in the shared list). Over any other group an
 * iteration compares the first entry's key only -- all share it -- which
 * is what keeps a translation's many group walks from being string
 * comparisons (they were 3% of a Linkerd translation).
 *
 * A replaced object takes over its predecessor's slot, so it keeps its
 * place in the kind and in its namespace, and in the index list too unless
 * the indexed field changed (then it moves to the end of its new group).
 * Groups are deleted when they empty, and a kind that empties frees all it
 * has. Every insertion first makes room for what it will add (array slot,
 * bucket, groups) and links nothing before all of that succeeded, so
 * SB_ENOMEM leaves the world unchanged. Iterations go by slot number and
 * reread the arrays after every callback, so they never touch freed memory
 * (though the world still must not be modified during one, sb/world.h).
 */
#include "sb/world.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sb/err.h"
#include "world-int.h"

#define NIL UINT32_MAX  /* no slot */
#define MIN_SLOTS 16
#define MIN_BUCKETS 16
#define MIN_GROUPS 8

/* An entry's links, by offset into its run of uint32 in kindtab.lk, and
 * its (ns, name) hash: a lookup that misses -- every insertion asks
 * first -- then passes over a chain without touching its objects, and a
 * rehash reads no strings. Kinds without an index keep only the first
 * four. */
enum { HNEXT, HHASH, NPREV, NNEXT, IPREV, INEXT };
#define LINKS_PLAIN 4
#define LINKS_INDEXED 6

typedef struct group {
  uint32_t hash;                /* sb__world_group_hash; 0 = free */
  uint32_t head, tail;          /* first and last entry's slot */
  uint32_t mixed;               /* holds keys that only share the hash */
} group;

/* Linear probing from hash & (cap - 1), at most 3/4 full, deletion by
 * backward shift (no tombstones). */
typedef struct gtab {
  group *g;
  uint32_t cap;                 /* 0 or a power of two */
  uint32_t count;
} gtab;

typedef struct kindtab {
  sb_obj **objs;                /* by slot; NULL = hole */
  uint32_t *lk;                 /* nlinks per slot */
  uint32_t nlinks;
  uint32_t used;                /* slots [0, used) are entries or holes */
  uint32_t cap;
  uint32_t count;               /* entries */
  uint32_t *buckets;            /* chain heads */
  uint32_t nbuckets;            /* 0 or a power of two */
  gtab nss;                     /* namespace groups */
  gtab ix;                      /* index groups (indexed kinds only) */
  size_t bytes;                 /* sum of sb_obj_size */
} kindtab;

struct sb_world {
  kindtab k[SB_KIND__COUNT];
};

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

static uint32_t *lk(const kindtab *t, uint32_t i) {
  return t->lk + (size_t) i * t->nlinks;
}

/* An entry's hash: (ns, name) as a group key would be hashed. */
static uint32_t hash2(const char *ns, const char *name) {
  return sb__world_group_hash(ns, name);
}

/* ---- index keys --------------------------------------------------------- */

/* The two parts of an object's index key: the namespace and the value of
 * the indexed field. */
static void index_parts(const sb_obj *obj, const char **ns, const char **v) {
  *ns = str(obj->ns);
  *v = "";
  switch (obj->kind) {
  case SB_KIND_POD: {
    const sb_pod *p = (const sb_pod *) obj;
    *v = p->shape->service_account && *p->shape->service_account
             ? p->shape->service_account : "default";
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

static uint32_t index_hash(const sb_obj *obj) {
  const char *ns, *v;

  index_parts(obj, &ns, &v);
  return sb__world_group_hash(ns, v);
}

/* Is obj's index key (ns, v)? */
static int index_is(const sb_obj *obj, const char *ns, const char *v) {
  const char *ons, *ov;

  index_parts(obj, &ons, &ov);
  return strcmp(ov, v) == 0 && strcmp(ons, ns) == 0;
}

/* Does obj belong under (ns, v) -- its namespace when v is NULL, else its
 * index key? */
static int key_is(const sb_obj *obj, const char *ns, const char *v) {
  return v ? index_is(obj, ns, v) : strcmp(str(obj->ns), ns) == 0;
}

/* ---- group tables ------------------------------------------------------- */

/* The slot that holds hash h, or the free slot where it would go. */
static group *gslot(group *g, uint32_t cap, uint32_t h) {
  uint32_t mask = cap - 1, i = h & mask;

  while (g[i].hash && g[i].hash != h)
    i = (i + 1) & mask;
  return &g[i];
}

static group *gfind(const gtab *gt, uint32_t h) {
  group *s;

  if (!gt->cap)
    return NULL;
  s = gslot(gt->g, gt->cap, h);
  return s->hash ? s : NULL;
}

static int gresize(gtab *gt, uint32_t cap) {
  group *g = calloc(cap, sizeof(*g));
  uint32_t i;

  if (!g)
    return SB_ENOMEM;
  for (i = 0; i < gt->cap; i++)
    if (gt->g[i].hash)
      *gslot(g, cap, gt->g[i].hash) = gt->g[i];
  free(gt->g);
  gt->g = g;
  gt->cap = cap;
  return 0;
}

/* Makes room for one more group, so that gadd cannot fail. */
static int greserve(gtab *gt) {
  if ((uint64_t) (gt->count + 1) * 4 <= (uint64_t) gt->cap * 3)
    return 0;
  if (gt->cap > UINT32_MAX / 2)
    return SB_ENOMEM;
  return gresize(gt, gt->cap ? gt->cap * 2 : MIN_GROUPS);
}

/* The group of h, created empty if need be (after greserve). Other
 * groups do not move. */
static group *gadd(gtab *gt, uint32_t h) {
  group *s = gslot(gt->g, gt->cap, h);

  if (!s->hash) {
    s->hash = h;
    s->head = s->tail = NIL;
    s->mixed = 0;
    gt->count++;
  }
  return s;
}

/* Deletes an emptied group. Other groups may move: no group pointer into
 * this table survives the call. */
static void gdel(gtab *gt, group *s) {
  uint32_t mask = gt->cap - 1, i = (uint32_t) (s - gt->g), j = i;

  /* Backward shift: move up every later group of the run that may sit
   * at the hole, i.e. whose home is not cyclically within (i, j]. */
  for (;;) {
    uint32_t home;

    j = (j + 1) & mask;
    if (!gt->g[j].hash)
      break;
    home = gt->g[j].hash & mask;
    if (((j - home) & mask) < ((j - i) & mask))
      continue;  /* its home is within (i, j]: it stays */
    gt->g[i] = gt->g[j];
    i = j;
  }
  gt->g[i].hash = 0;
  gt->count--;
  if (!gt->count) {
    free(gt->g);
    gt->g = NULL;
    gt->cap = 0;
  } else if (gt->cap > MIN_GROUPS && gt->count * 8 < gt->cap) {
    (void) gresize(gt, gt->cap / 2);  /* without memory, stay large */
  }
}

/* ---- lists through the slots -------------------------------------------- */

/* Appends slot i, whose key in g is (ns, v) as key_is reads it, to g's
 * list, whose links are at offsets p (previous) and n (next). */
static void list_append(kindtab *t, group *g, uint32_t i, const char *ns,
                        const char *v, int p, int n) {
  uint32_t *e = lk(t, i);

  if (g->head != NIL && !key_is(t->objs[g->head], ns, v))
    g->mixed = 1;

  e[p] = g->tail;
  e[n] = NIL;
  if (g->tail != NIL)
    lk(t, g->tail)[n] = i;
  else
    g->head = i;
  g->tail = i;
}

static void list_unlink(kindtab *t, group *g, uint32_t i, int p, int n) {
  uint32_t *e = lk(t, i);

  if (e[p] != NIL)
    lk(t, e[p])[n] = e[n];
  else
    g->head = e[n];
  if (e[n] != NIL)
    lk(t, e[n])[p] = e[p];
  else
    g->tail = e[p];
}

/* ---- the hash table ----------------------------------------------------- */

/* Chains are about one entry long; the stored hash spares the strings of
 * every entry but the one being looked for. */
static uint32_t hfind(const kindtab *t, const char *ns, const char *name,
                      uint32_t h) {
  uint32_t i;

  if (!t->nbuckets)
    return NIL;
  for (i = t->buckets[h & (t->nbuckets - 1)]; i != NIL; i = lk(t, i)[HNEXT]) {
    const sb_obj *o;
    if (lk(t, i)[HHASH] != h)
      continue;
    o = t->objs[i];
    if (strcmp(o->name, name) == 0 && strcmp(str(o->ns), ns) == 0)
      return i;
  }
  return NIL;
}

static void hlink(kindtab *t, uint32_t i, uint32_t h) {
  uint32_t *b = &t->buckets[h & (t->nbuckets - 1)];

  lk(t, i)[HNEXT] = *b;
  lk(t, i)[HHASH] = h;
  *b = i;
}

/* Threads every entry into the chains of the current buckets. */
static void hrebuild(kindtab *t) {
  uint32_t i;

  memset(t->buckets, 0xff, t->nbuckets * sizeof(*t->buckets));  /* NIL */
  for (i = 0; i < t->used; i++)
    if (t->objs[i])
      hlink(t, i, lk(t, i)[HHASH]);
}

/* Makes room for one more entry (load factor <= 1; past 2^31 buckets the
 * chains just grow longer). */
static int hgrow(kindtab *t) {
  uint32_t *b, n;

  if (t->count < t->nbuckets || t->nbuckets > UINT32_MAX / 2)
    return 0;
  n = t->nbuckets ? t->nbuckets * 2 : MIN_BUCKETS;
  if ((uint64_t) n * sizeof(*b) > SIZE_MAX)  /* 32-bit hosts */
    return SB_ENOMEM;
  b = malloc((size_t) n * sizeof(*b));
  if (!b)
    return SB_ENOMEM;
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = n;
  hrebuild(t);
  return 0;
}

static void hunlink(kindtab *t, uint32_t i) {
  uint32_t *p = &t->buckets[lk(t, i)[HHASH] & (t->nbuckets - 1)];

  while (*p != i)
    p = &lk(t, *p)[HNEXT];
  *p = lk(t, i)[HNEXT];
}

/* ---- the slot arrays ---------------------------------------------------- */

/* Reallocates both arrays to cap slots (cap >= used). Growing, a failure
 * leaves the kind as it was (one array may then be larger than cap says,
 * which is harmless). Shrinking does not fail: an array realloc could not
 * shrink just stays larger. */
static int resize_slots(kindtab *t, uint32_t cap) {
  size_t per = t->nlinks * sizeof(uint32_t);
  sb_obj **o;
  uint32_t *l;

  if ((size_t) cap > SIZE_MAX / per)
    return SB_ENOMEM;
  o = realloc(t->objs, (size_t) cap * sizeof(*o));
  if (o)
    t->objs = o;
  else if (cap > t->cap)
    return SB_ENOMEM;
  l = realloc(t->lk, (size_t) cap * per);
  if (l)
    t->lk = l;
  else if (cap > t->cap)
    return SB_ENOMEM;
  t->cap = cap;
  return 0;
}

/* Maps the old slot number in *x to the new one (kept in HNEXT). */
static void renumber(const kindtab *t, uint32_t *x) {
  if (*x != NIL)
    *x = lk(t, *x)[HNEXT];
}

static void renumber_groups(const kindtab *t, gtab *gt) {
  uint32_t i;

  for (i = 0; i < gt->cap; i++) {
    if (gt->g[i].hash) {
      renumber(t, &gt->g[i].head);
      renumber(t, &gt->g[i].tail);
    }
  }
}

/* Squeezes the holes out, keeping the order of the slots and of every
 * list. Allocates nothing. */
static void compact(kindtab *t) {
  uint32_t i, j, f;

  /* The chains are rebuilt at the end, so HNEXT holds each entry's new
   * slot meanwhile. */
  for (i = j = 0; i < t->used; i++)
    if (t->objs[i])
      lk(t, i)[HNEXT] = j++;
  for (i = 0; i < t->used; i++)
    if (t->objs[i])
      for (f = NPREV; f < t->nlinks; f++)
        renumber(t, &lk(t, i)[f]);
  renumber_groups(t, &t->nss);
  renumber_groups(t, &t->ix);
  for (i = j = 0; i < t->used; i++) {
    if (!t->objs[i])
      continue;
    if (i != j) {
      t->objs[j] = t->objs[i];
      memcpy(lk(t, j), lk(t, i), t->nlinks * sizeof(uint32_t));
    }
    j++;
  }
  t->used = j;
  hrebuild(t);
}

/* Makes room for one more slot: squeezes holes out when there are enough
 * to be worth it, or grows the arrays by half. */
static int reserve_slot(kindtab *t) {
  uint64_t cap;

  if (t->used < t->cap)
    return 0;
  if (t->used > t->count && t->used - t->count >= t->cap / 8) {
    compact(t);
    return 0;
  }
  cap = t->cap ? (uint64_t) t->cap + t->cap / 2 : MIN_SLOTS;
  if (cap > NIL)
    cap = NIL;  /* slot numbers stay below NIL */
  if (cap <= t->used)
    return SB_ENOMEM;
  return resize_slots(t, (uint32_t) cap);
}

/* Frees everything of a kind that holds no entry (its groups are gone). */
static void kind_release(kindtab *t) {
  free(t->objs);
  free(t->lk);
  free(t->buckets);
  t->objs = NULL;
  t->lk = NULL;
  t->buckets = NULL;
  t->used = t->cap = t->nbuckets = 0;
}

/* After a take: once holes outnumber entries, squeeze them out and give
 * back what the arrays and buckets no longer need. Best effort; nothing
 * here fails. */
static void maybe_shrink(kindtab *t) {
  uint64_t want;
  uint32_t n;

  if (t->used - t->count <= t->count)
    return;
  if (!t->count) {
    kind_release(t);
    return;
  }
  n = t->nbuckets;
  while (n > MIN_BUCKETS && t->count < n / 4)
    n /= 2;
  if (n != t->nbuckets) {
    uint32_t *b = realloc(t->buckets, (size_t) n * sizeof(*b));
    if (b) {
      t->buckets = b;
      t->nbuckets = n;
    }
  }
  compact(t);  /* rebuilds the chains, into the smaller buckets too */
  want = (uint64_t) t->count + t->count / 2;
  if (want < MIN_SLOTS)
    want = MIN_SLOTS;
  if (want < t->cap)
    (void) resize_slots(t, (uint32_t) want);
}

/* ---- the world ---------------------------------------------------------- */

sb_world *sb_world_new(void) {
  sb_world *w = calloc(1, sizeof(*w));
  int k;

  if (!w)
    return NULL;
  for (k = 1; k < SB_KIND__COUNT; k++)
    w->k[k].nlinks = kind_indexed((sb_kind) k) ? LINKS_INDEXED : LINKS_PLAIN;
  return w;
}

void sb_world_free(sb_world *w) {
  int k;

  if (!w)
    return;
  for (k = 1; k < SB_KIND__COUNT; k++) {
    kindtab *t = &w->k[k];
    uint32_t i;

    for (i = 0; i < t->used; i++)
      sb_obj_free(t->objs[i]);  /* NULL for a hole */
    kind_release(t);
    free(t->nss.g);
    free(t->ix.g);
  }
  free(w);
}

static uint32_t find(const sb_world *w, sb_kind kind, const char *ns,
                     const char *name) {
  if (!w || !kind_ok(kind) || !name)
    return NIL;
  ns = str(ns);
  return hfind(&w->k[kind], ns, name, hash2(ns, name));
}

/* Replaces the object in slot i. */
static int replace(kindtab *t, uint32_t i, sb_obj *obj, sb_obj **old) {
  sb_obj *prev = t->objs[i];
  const char *ns, *v;
  int move = 0;
  uint32_t nh = 0;

  if (t->nlinks == LINKS_INDEXED) {
    index_parts(obj, &ns, &v);
    move = !index_is(prev, ns, v);
    if (move) {
      nh = sb__world_group_hash(ns, v);
      if (!gfind(&t->ix, nh) && greserve(&t->ix))
        return SB_ENOMEM;
    }
  }
  t->bytes -= sb_obj_size(prev);
  t->bytes += sb_obj_size(obj);
  t->objs[i] = obj;
  if (move) {
    /* Unlinked from the old group, appended to the new one (the same
     * group when both keys share a hash), and only then is the old group
     * deleted if it emptied: gadd moves no group, gdel may. */
    group *og = gfind(&t->ix, index_hash(prev));
    list_unlink(t, og, i, IPREV, INEXT);
    list_append(t, gadd(&t->ix, nh), i, ns, v, IPREV, INEXT);
    if (og->head == NIL)
      gdel(&t->ix, og);
  }
  if (old)
    *old = prev;
  else
    sb_obj_free(prev);
  return 0;
}

int sb_world_put(sb_world *w, sb_obj *obj, sb_obj **old) {
  const char *ns;
  kindtab *t;
  uint32_t h, i, nh, xh = 0;

  if (old)
    *old = NULL;
  if (!w || !obj || !kind_ok(obj->kind) || !obj->name)
    return SB_EINVAL;
  t = &w->k[obj->kind];
  ns = str(obj->ns);
  h = hash2(ns, obj->name);
  i = hfind(t, ns, obj->name, h);
  if (i != NIL)
    return replace(t, i, obj, old);

  /* Room for everything first; from the first link on nothing fails. */
  nh = sb__world_group_hash(ns, NULL);
  if (t->nlinks == LINKS_INDEXED)
    xh = index_hash(obj);
  if (reserve_slot(t) || hgrow(t) ||
      (!gfind(&t->nss, nh) && greserve(&t->nss)) ||
      (xh && !gfind(&t->ix, xh) && greserve(&t->ix)))
    return SB_ENOMEM;

  i = t->used++;
  t->objs[i] = obj;
  hlink(t, i, h);
  list_append(t, gadd(&t->nss, nh), i, ns, NULL, NPREV, NNEXT);
  if (xh) {
    const char *xns, *xv;
    index_parts(obj, &xns, &xv);
    list_append(t, gadd(&t->ix, xh), i, xns, xv, IPREV, INEXT);
  }
  t->count++;
  t->bytes += sb_obj_size(obj);
  return 0;
}

sb_obj *sb_world_take(sb_world *w, sb_kind kind, const char *ns,
                      const char *name) {
  uint32_t i = find(w, kind, ns, name);
  kindtab *t;
  group *g;
  sb_obj *obj;

  if (i == NIL)
    return NULL;
  t = &w->k[kind];
  obj = t->objs[i];
  hunlink(t, i);
  g = gfind(&t->nss, sb__world_group_hash(str(obj->ns), NULL));
  list_unlink(t, g, i, NPREV, NNEXT);
  if (g->head == NIL)
    gdel(&t->nss, g);
  if (t->nlinks == LINKS_INDEXED) {
    g = gfind(&t->ix, index_hash(obj));
    list_unlink(t, g, i, IPREV, INEXT);
    if (g->head == NIL)
      gdel(&t->ix, g);
  }
  t->objs[i] = NULL;
  t->count--;
  t->bytes -= sb_obj_size(obj);
  maybe_shrink(t);
  return obj;
}

const sb_obj *sb_world_get(const sb_world *w, sb_kind kind, const char *ns,
                           const char *name) {
  uint32_t i = find(w, kind, ns, name);
  return i != NIL ? w->k[kind].objs[i] : NULL;
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

size_t sb_world_overhead(const sb_world *w) {
  size_t n;
  int k;

  if (!w)
    return 0;
  n = sizeof(*w);
  for (k = 1; k < SB_KIND__COUNT; k++) {
    const kindtab *t = &w->k[k];
    n += (size_t) t->cap * (sizeof(*t->objs) + t->nlinks * sizeof(uint32_t));
    n += (size_t) t->nbuckets * sizeof(*t->buckets);
    n += ((size_t) t->nss.cap + t->ix.cap) * sizeof(group);
  }
  return n;
}

/* Calls fn for the entries of g's list (links at offset n) whose key is
 * ns, or (ns, v) when v is not NULL: a mixed group's list is shared with
 * keys of the same hash. */
static int each_list(const kindtab *t, const group *g, int n,
                     const char *ns, const char *v, sb_world_fn fn,
                     void *arg) {
  uint32_t i = g->head;
  int check = g->mixed != 0;
  int rc;

  /* Unmixed, the group is one key's: the first entry says whose. */
  if (!check && i != NIL && i < t->used && t->objs[i] &&
      !key_is(t->objs[i], ns, v))
    return 0;
  while (i != NIL && i < t->used) {
    const sb_obj *obj = t->objs[i];
    if (obj && (!check || key_is(obj, ns, v)) && (rc = fn(arg, obj)) != 0)
      return rc;
    if (i >= t->used)  /* the callback broke the rule: stop, safely */
      break;
    i = lk(t, i)[n];
  }
  return 0;
}

int sb_world_each(const sb_world *w, sb_kind kind, const char *ns,
                  sb_world_fn fn, void *arg) {
  const kindtab *t;
  const group *g;
  uint32_t i;
  int rc;

  if (!w || !kind_ok(kind) || !fn)
    return 0;
  t = &w->k[kind];
  if (!ns) {
    for (i = 0; i < t->used; i++)
      if (t->objs[i] && (rc = fn(arg, t->objs[i])) != 0)
        return rc;
    return 0;
  }
  g = gfind(&t->nss, sb__world_group_hash(ns, NULL));
  return g ? each_list(t, g, NNEXT, ns, NULL, fn, arg) : 0;
}

static int each_index(const sb_world *w, sb_kind kind, const char *ns,
                      const char *v, sb_world_fn fn, void *arg) {
  const kindtab *t;
  const group *g;

  if (!w || !fn || !ns || !v)
    return 0;
  t = &w->k[kind];
  g = gfind(&t->ix, sb__world_group_hash(ns, v));
  return g ? each_list(t, g, INEXT, ns, v, fn, arg) : 0;
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
