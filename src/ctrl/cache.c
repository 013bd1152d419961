/* cache.c -- the controller's picture of the cluster. See sb/cache.h.
 *
 * Three stores behind one writer interface:
 *
 *   world      an sb_world (model objects, owned and indexed by world.c).
 *              The cache adds nothing per object: tens of thousands of
 *              pods live here and every byte per entry counts.
 *   invalid    per SMI kind, "ns\0name" -> one block holding the entry, its
 *              strings and the diagnostics of the unusable version.
 *   generated  per (group, kind), "ns\0name" -> one block holding sb_gen
 *              and its strings; managed objects also keep a stripped copy
 *              of the JSON (what reconcile compares against). Managed
 *              entries are also linked into a list per source
 *              ("ns\0kind\0label"), which is what prune walks.
 *
 * Relists are mark-and-sweep, one sync per (resource, namespace): the
 * controller runs one reflector per watched namespace, and their lists
 * interleave (they start together and relist independently), so a sync
 * must neither sweep nor unmark another namespace's objects. Each sync
 * records the address of every entry (world object, invalid or generated
 * entry) put or confirmed in its namespace while it runs; end_sync sweeps
 * the entries of that namespace (every namespace for an all-namespaces
 * sync) whose address it did not record. Addresses rather than marks in
 * the entries, because world objects belong to the model and cannot carry
 * one, and because syncs that overlap (all namespaces and one of them)
 * each need their own. That is exact: an entry that has lived since
 * before begin_sync cannot share an address with one created during the
 * sync, and an entry created during the sync is recorded when it is put.
 * A mark that cannot be recorded (ENOMEM) cancels the sweep instead of
 * deleting a live object.
 *
 * An update that carries the resourceVersion the cache already holds is a
 * no-op (relists resend everything); a Pod update that changes nothing the
 * model keeps is stored silently (status churn would otherwise re-run
 * every TrafficTarget of the namespace).
 */
#include "sb/cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sb/common.h"
#include "sb/err.h"
#include "sb/hmap.h"

#define ANN_LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

/* What one malloc(n) really takes with glibc on 64-bit: the size word plus
 * the request, rounded to 16, at least 32. */
static size_t alloc_cost(size_t n) {
  size_t c = (n + 8 + 15) & ~(size_t) 15;
  return c < 32 ? 32 : c;
}

/* A hash table slot (hmap.c: hash, key, length, value) at the table's
 * typical load of one half. */
#define SLOT_COST (2 * 32)
/* An arena is one malloc: on average 16 more bytes than it asked. (What
 * the world spends beyond the arenas, sb_world_overhead, is a few large
 * arrays and tables: no per-object malloc to account for.) */
#define ARENA_OVERHEAD 16

/* ---- small helpers ------------------------------------------------------ */

static const cJSON *jget(const cJSON *o, const char *k) {
  return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = jget(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int streq(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

static size_t slen(const char *s) {
  return s ? strlen(s) + 1 : 0;
}

/* Copies s to *p (advancing it); NULL stays NULL. */
static const char *put_str(char **p, const char *s) {
  size_t n;
  char *d = *p;

  if (!s)
    return NULL;
  n = strlen(s) + 1;
  memcpy(d, s, n);
  *p += n;
  return d;
}

/* Composite keys "a\0b" or "a\0b\0c", on the stack when short. */
typedef struct ckey {
  char stack[256];
  char *p;
  size_t len;
} ckey;

static int ckey_make(ckey *k, const char *a, const char *b, const char *c) {
  size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
  size_t len = la + 1 + lb + (c ? 1 + lc : 0);

  k->p = len < sizeof(k->stack) ? k->stack : malloc(len + 1);
  if (!k->p)
    return SB_ENOMEM;
  memcpy(k->p, a, la);
  k->p[la] = '\0';
  memcpy(k->p + la + 1, b, lb);
  k->p[la + 1 + lb] = '\0';
  if (c) {
    memcpy(k->p + la + 2 + lb, c, lc);
    k->p[len] = '\0';
  }
  k->len = len;
  return 0;
}

static void ckey_done(ckey *k) {
  if (k->p != k->stack)
    free(k->p);
}

/* ---- a set of addresses (sync marks for world objects) ------------------ */

typedef struct ptrset {
  uintptr_t *v;
  size_t cap;        /* power of two, or 0 */
  size_t n;
} ptrset;

static size_t ptr_slot(uintptr_t p, size_t cap) {
  uint64_t h = (uint64_t) p * 0x9e3779b97f4a7c15ULL;
  return (size_t) (h >> 17) & (cap - 1);
}

static int ptrset_has(const ptrset *s, const void *p) {
  size_t i;

  if (!s->cap)
    return 0;
  for (i = ptr_slot((uintptr_t) p, s->cap);; i = (i + 1) & (s->cap - 1)) {
    if (s->v[i] == (uintptr_t) p)
      return 1;
    if (s->v[i] == 0)
      return 0;
  }
}

static int ptrset_add(ptrset *s, const void *p) {
  size_t i;

  if ((s->n + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64, j;
    uintptr_t *v = calloc(cap, sizeof(*v));
    if (!v)
      return SB_ENOMEM;
    for (j = 0; j < s->cap; j++) {
      if (!s->v[j])
        continue;
      for (i = ptr_slot(s->v[j], cap); v[i]; i = (i + 1) & (cap - 1))
        ;
      v[i] = s->v[j];
    }
    free(s->v);
    s->v = v;
    s->cap = cap;
  }
  for (i = ptr_slot((uintptr_t) p, s->cap); s->v[i];
       i = (i + 1) & (s->cap - 1))
    if (s->v[i] == (uintptr_t) p)
      return 0;
  s->v[i] = (uintptr_t) p;
  s->n++;
  return 0;
}

static void ptrset_free(ptrset *s) {
  free(s->v);
  memset(s, 0, sizeof(*s));
}

/* ---- entries ------------------------------------------------------------ */

typedef struct inv {
  sb_invalid pub;
  sb_kind kind;
  size_t bytes;
  size_t klen;
  char key[];        /* "ns\0name", then the other strings */
} inv;

struct srcgroup;

typedef struct genent {
  sb_gen pub;
  struct srcgroup *sg;
  struct genent *sprev, *snext;
  const uint32_t *fp;  /* managed: the fingerprint, in this block */
  uint32_t nfp;
  uint32_t epoch;
  uint32_t bytes;
  uint32_t klen;
  char key[];        /* "ns\0name", then the other strings, then the
                        fingerprint (4-aligned) */
} genent;

typedef struct srcgroup {
  genent *head, *tail;
  size_t klen;
  char key[];        /* "ns\0kind\0label" */
} srcgroup;

/* A relist in progress of one resource in one namespace (all = every
 * namespace): the addresses of the entries it put or confirmed. */
typedef struct syncst {
  struct syncst *next;
  ptrset seen;
  int failed;        /* a mark was lost: sweep nothing */
  int all;
  char ns[];
} syncst;

typedef struct genres {
  const sb_gvk *gvk;
  sb_hmap *objs;     /* "ns\0name" -> genent (keys borrowed) */
  syncst *syncs;
  struct genres *next;
} genres;

/* Diagnostics per SMI object: one map per kind, "ns\0name" -> inv. */
typedef struct difftab {
  sb_hmap *m[SB_KIND__COUNT];
  size_t n;
  size_t bytes;
} difftab;

struct sb_cache {
  sb_cache_fn fn;
  void *arg;
  sb_world *world;
  sb_pool *pool;     /* what pods repeat (labels, ports, names) */
  difftab invalid;   /* unusable current versions */
  difftab warned;    /* warnings of the world's (valid) versions */
  syncst *ms[SB_KIND__COUNT];   /* syncs of model kinds */
  genres *gens;
  sb_hmap *bysrc;    /* "ns\0kind\0label" -> srcgroup */
  size_t ngen;
  size_t gen_bytes;
  size_t nsrc;
};

static void report(sb_cache *c, sb_change_type type, sb_kind kind,
                   const char *ns, const char *name, const void *old_obj,
                   const void *new_obj) {
  sb_change ch;

  if (!c->fn)
    return;
  ch.type = type;
  ch.kind = kind;
  ch.ns = ns;
  ch.name = name;
  ch.old_obj = old_obj;
  ch.new_obj = new_obj;
  c->fn(c->arg, &ch);
}

/* ---- fingerprints of managed objects ----------------------------------- */

/* Reconcile only ever asks one question of a managed object: is the
 * desired object a subset of it (sb_json_subset's rules)? Keeping the
 * whole JSON to answer that costs some 5 KB per object as cJSON nodes;
 * thousands of generated objects would be most of the process. So the
 * cache keeps a fingerprint instead: the sorted set of 32-bit hashes of
 * the object's leaves, each hash covering the leaf's full path, its type
 * and its value (computed in 64 bits, stored folded to 32):
 *
 *   a string, number, boolean or null   H(path, type, value)
 *   a list of n elements                H(path, "length", n) and
 *                                       H(path, "a list")
 *
 * Paths are hashed step by step (a key or an index per step), so the same
 * walk over the desired object produces the same hashes: desired is
 * contained when every leaf hash it yields is in the set and every list
 * of it has its length there. Maps need no entry: their members are
 * checked by path. What sb_json_subset allows, this allows too -- fields
 * and list lengths the server or another manager added, an empty list we
 * would send where the server has none -- with two looser corners that
 * desired objects never contain: an empty map, and an empty list where
 * the server holds a value that is not a list, both count as contained.
 * A hash collision could make a changed field look unchanged: the field's
 * new hash would have to equal one of the object's other hashes, about
 * 50 in 2^32 for one edited field of a generated object (one in 80
 * million); the edit would then wait for the next change of the object.
 * Nothing else depends on the width: an object the cluster holds
 * unchanged always matches. 32 bits rather than 64 save 200-odd bytes
 * per generated object, a quarter of what one costs the cache.
 *
 * Left out, as before: status, metadata.managedFields and the kubectl
 * last-applied annotation, which the server keeps changing and desired
 * objects never hold; also uid, resourceVersion, creationTimestamp and
 * generation, which desired objects never hold either (they are kept as
 * strings where the cache needs them). */

typedef struct fpset {
  uint32_t *v;
  size_t n, cap;
  int oom;
} fpset;

static uint64_t step_key(uint64_t path, const char *key) {
  path = sb_hash_add(path, "K", 1);
  return sb_hash_add(path, key, strlen(key) + 1);
}

static uint64_t step_index(uint64_t path, uint64_t i) {
  path = sb_hash_add(path, "I", 1);
  return sb_hash_add(path, &i, sizeof(i));
}

/* The hash of a scalar at path; 0 for containers. */
static uint64_t leaf_hash(uint64_t path, const cJSON *j) {
  double d;

  switch (j->type & 0xFF) {
  case cJSON_String:
  case cJSON_Raw:
    path = sb_hash_add(path, (j->type & 0xFF) == cJSON_Raw ? "R" : "S", 1);
    if (j->valuestring)
      path = sb_hash_add(path, j->valuestring, strlen(j->valuestring) + 1);
    return sb_hash_final(path);
  case cJSON_Number:
    d = j->valuedouble == 0 ? 0.0 : j->valuedouble;  /* -0 is 0 */
    return sb_hash_final(sb_hash_add(sb_hash_add(path, "D", 1), &d, sizeof(d)));
  case cJSON_True:
    return sb_hash_final(sb_hash_add(path, "T", 1));
  case cJSON_False:
    return sb_hash_final(sb_hash_add(path, "F", 1));
  case cJSON_NULL:
    return sb_hash_final(sb_hash_add(path, "N", 1));
  }
  return 0;
}

static uint64_t list_len_hash(uint64_t path, uint64_t n) {
  return sb_hash_final(sb_hash_add(sb_hash_add(path, "L", 1), &n, sizeof(n)));
}

static uint64_t list_mark_hash(uint64_t path) {
  return sb_hash_final(sb_hash_add(path, "A", 1));
}

/* What the fingerprint stores of a 64-bit hash. */
static uint32_t fold(uint64_t h) {
  return (uint32_t) (h ^ (h >> 32));
}

static void fp_add(fpset *s, uint64_t h) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    uint32_t *v = realloc(s->v, cap * sizeof(*v));
    if (!v) {
      s->oom = 1;
      return;
    }
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = fold(h);
}

static void fp_walk(fpset *s, const cJSON *j, uint64_t path) {
  const cJSON *c;
  uint64_t i = 0;

  if (cJSON_IsObject(j)) {
    cJSON_ArrayForEach(c, j)
      if (c->string)
        fp_walk(s, c, step_key(path, c->string));
  } else if (cJSON_IsArray(j)) {
    cJSON_ArrayForEach(c, j)
      fp_walk(s, c, step_index(path, i++));
    fp_add(s, list_len_hash(path, i));
    fp_add(s, list_mark_hash(path));
  } else {
    fp_add(s, leaf_hash(path, j));
  }
}

static int is_skipped_meta(const char *k) {
  static const char *const skip[] = {
    "managedFields", "resourceVersion", "uid", "creationTimestamp",
    "generation",
  };
  size_t i;

  for (i = 0; i < SB_ARRAY_SIZE(skip); i++)
    if (strcmp(k, skip[i]) == 0)
      return 1;
  return 0;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
  return x < y ? -1 : x > y;
}

/* The fingerprint of a managed object, sorted and without repeats, in
 * s->v (caller frees). SB_ENOMEM. */
static int fingerprint(const cJSON *obj, fpset *s) {
  const cJSON *i, *m, *a;
  uint64_t root = SB_HASH_INIT, mp, ap;
  size_t r, w;

  memset(s, 0, sizeof(*s));
  cJSON_ArrayForEach(i, obj) {
    if (!i->string || strcmp(i->string, "status") == 0)
      continue;
    if (strcmp(i->string, "metadata") != 0 || !cJSON_IsObject(i)) {
      fp_walk(s, i, step_key(root, i->string));
      continue;
    }
    mp = step_key(root, "metadata");
    cJSON_ArrayForEach(m, i) {
      if (!m->string || is_skipped_meta(m->string))
        continue;
      if (strcmp(m->string, "annotations") != 0 || !cJSON_IsObject(m)) {
        fp_walk(s, m, step_key(mp, m->string));
        continue;
      }
      ap = step_key(mp, "annotations");
      cJSON_ArrayForEach(a, m)
        if (a->string && strcmp(a->string, ANN_LAST_APPLIED) != 0)
          fp_walk(s, a, step_key(ap, a->string));
    }
  }
  if (s->oom) {
    free(s->v);
    s->v = NULL;
    return SB_ENOMEM;
  }
  if (s->n > 1)
    qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
  for (r = w = 0; r < s->n; r++)
    if (w == 0 || s->v[r] != s->v[w - 1])
      s->v[w++] = s->v[r];
  s->n = w;
  return 0;
}

static int fp_has(const uint32_t *v, size_t n, uint64_t h64) {
  uint32_t h = fold(h64);
  size_t lo = 0, hi = n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v[mid] == h)
      return 1;
    if (v[mid] < h)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

static int fp_contains(const uint32_t *v, size_t n, const cJSON *d,
                       uint64_t path) {
  const cJSON *c;
  uint64_t i = 0;

  if (cJSON_IsObject(d)) {
    cJSON_ArrayForEach(c, d) {
      if (!c->string || !fp_contains(v, n, c, step_key(path, c->string)))
        return 0;
    }
    return 1;
  }
  if (cJSON_IsArray(d)) {
    if (!d->child)  /* [] also matches a list the server left out */
      return fp_has(v, n, list_len_hash(path, 0)) ||
             !fp_has(v, n, list_mark_hash(path));
    if (!fp_has(v, n, list_len_hash(path, (uint64_t)
                                    cJSON_GetArraySize(d))))
      return 0;
    cJSON_ArrayForEach(c, d)
      if (!fp_contains(v, n, c, step_index(path, i++)))
        return 0;
    return 1;
  }
  return fp_has(v, n, leaf_hash(path, d));
}

/* ---- life cycle --------------------------------------------------------- */

sb_cache *sb_cache_new(sb_cache_fn on_change, void *arg) {
  sb_cache *c = calloc(1, sizeof(*c));

  if (!c)
    return NULL;
  c->fn = on_change;
  c->arg = arg;
  c->world = sb_world_new();
  c->pool = sb_pool_new();
  c->bysrc = sb_hmap_new(0);
  if (!c->world || !c->pool || !c->bysrc) {
    sb_cache_free(c);
    return NULL;
  }
  return c;
}

static void inv_free(inv *iv) {
  if (!iv)
    return;
  sb_diags_free(&iv->pub.diags);
  free(iv);
}

static void difftab_free_kind(difftab *t, int k) {
  sb_hmap_iter it = {0};
  void *v;

  if (!t->m[k])
    return;
  while (sb_hmap_next(t->m[k], &it, NULL, NULL, &v))
    inv_free(v);
  sb_hmap_free(t->m[k]);
  t->m[k] = NULL;
}

static void syncs_free(syncst *s) {
  syncst *next;

  for (; s; s = next) {
    next = s->next;
    ptrset_free(&s->seen);
    free(s);
  }
}

static void gen_free(genent *g) {
  free(g);
}

int sb_gen_contains(const sb_gen *g, const cJSON *desired) {
  const genent *e = (const genent *) g;

  if (!g || !g->managed)
    return 0;
  if (!desired)
    return 1;
  return fp_contains(e->fp, e->nfp, desired, SB_HASH_INIT);
}

void sb_cache_free(sb_cache *c) {
  sb_hmap_iter it;
  genres *t, *next;
  void *v;
  int k;

  if (!c)
    return;
  for (k = 0; k < SB_KIND__COUNT; k++) {
    difftab_free_kind(&c->invalid, k);
    difftab_free_kind(&c->warned, k);
    syncs_free(c->ms[k]);
  }
  for (t = c->gens; t; t = next) {
    next = t->next;
    syncs_free(t->syncs);
    memset(&it, 0, sizeof(it));
    while (sb_hmap_next(t->objs, &it, NULL, NULL, &v))
      gen_free(v);
    sb_hmap_free(t->objs);
    free(t);
  }
  if (c->bysrc) {
    memset(&it, 0, sizeof(it));
    while (sb_hmap_next(c->bysrc, &it, NULL, NULL, &v))
      free(v);
    sb_hmap_free(c->bysrc);
  }
  sb_world_free(c->world);
  sb_pool_free(c->pool);
  free(c);
}

const sb_world *sb_cache_world(const sb_cache *c) {
  return c->world;
}

/* ---- diagnostics of SMI objects ----------------------------------------- */

static inv *inv_get(const difftab *t, sb_kind kind, const char *ns,
                    const char *name) {
  ckey k;
  inv *iv;

  if (kind <= SB_KIND_UNKNOWN || kind >= SB_KIND__COUNT || !t->m[kind])
    return NULL;
  if (ckey_make(&k, ns, name, NULL))
    return NULL;
  iv = sb_hmap_get(t->m[kind], k.p, k.len);
  ckey_done(&k);
  return iv;
}

static size_t diags_cost(const sb_diags *d) {
  size_t n = d->cap ? alloc_cost(d->cap * sizeof(sb_diag)) : 0, i;

  for (i = 0; i < d->n; i++) {
    const sb_diag *x = &d->v[i];
    const char *s[] = {x->file, x->kind, x->ns, x->name, x->path, x->msg};
    size_t j;
    for (j = 0; j < SB_ARRAY_SIZE(s); j++)
      if (s[j])
        n += alloc_cost(strlen(s[j]) + 1);
  }
  return n;
}

/* A new entry for the version json; takes diags' contents. */
static inv *inv_new(sb_kind kind, const char *ns, const char *name,
                    const cJSON *json, sb_diags *diags) {
  const cJSON *meta = jget(json, "metadata");
  const char *av = jstr(json, "apiVersion");
  const char *uid = jstr(meta, "uid");
  const char *rv = jstr(meta, "resourceVersion");
  size_t klen = strlen(ns) + 1 + strlen(name);
  size_t size = sizeof(inv) + klen + 1 + slen(av) + slen(uid) + slen(rv);
  inv *iv = malloc(size);
  char *p;

  if (!iv)
    return NULL;
  memset(iv, 0, sizeof(*iv));
  iv->kind = kind;
  iv->klen = klen;
  p = iv->key;
  put_str(&p, ns);
  put_str(&p, name);
  iv->pub.api_version = put_str(&p, av);
  iv->pub.uid = put_str(&p, uid);
  iv->pub.resource_version = put_str(&p, rv);
  iv->pub.diags = *diags;
  sb_diags_init(diags);
  iv->bytes = alloc_cost(size) + diags_cost(&iv->pub.diags) + SLOT_COST;
  return iv;
}

static const char *inv_ns(const inv *iv) {
  return iv->key;
}

static const char *inv_name(const inv *iv) {
  return iv->key + strlen(iv->key) + 1;
}

/* Puts iv in place of whatever entry had its name; returns that one. */
static int inv_put(difftab *t, inv *iv, inv **old) {
  void *prev = NULL;
  int rc;

  *old = NULL;
  if (!t->m[iv->kind]) {
    t->m[iv->kind] = sb_hmap_new(0);
    if (!t->m[iv->kind])
      return SB_ENOMEM;
  }
  rc = sb_hmap_put(t->m[iv->kind], iv->key, iv->klen, iv, &prev);
  if (rc)
    return rc;
  *old = prev;
  if (prev)
    t->bytes -= ((inv *) prev)->bytes;
  else
    t->n++;
  t->bytes += iv->bytes;
  return 0;
}

static void inv_unlink(difftab *t, inv *iv) {
  sb_hmap_del(t->m[iv->kind], iv->key, iv->klen);
  t->n--;
  t->bytes -= iv->bytes;
}

/* Records the warnings of the world's new version of an SMI object (or
 * forgets the old ones). Best effort: warnings are advice, so running out
 * of memory here only loses them. */
static void set_warnings(sb_cache *c, const sb_obj *o, const cJSON *json,
                         sb_diags *diags) {
  inv *iv = inv_get(&c->warned, o->kind, o->ns, o->name), *old;

  if (iv) {
    inv_unlink(&c->warned, iv);
    inv_free(iv);
  }
  if (!diags->n || !sb_kind_is_smi(o->kind))
    return;
  iv = inv_new(o->kind, o->ns, o->name, json, diags);
  if (iv && inv_put(&c->warned, iv, &old) == 0)
    return;
  inv_free(iv);
}

static void drop_warnings(sb_cache *c, sb_kind kind, const char *ns,
                          const char *name) {
  inv *iv = inv_get(&c->warned, kind, ns, name);

  if (iv) {
    inv_unlink(&c->warned, iv);
    inv_free(iv);
  }
}

const sb_invalid *sb_cache_invalid_get(const sb_cache *c, sb_kind kind,
                                       const char *ns, const char *name) {
  inv *iv = inv_get(&c->invalid, kind, ns ? ns : "", name ? name : "");
  return iv ? &iv->pub : NULL;
}

const sb_diags *sb_cache_warnings(const sb_cache *c, sb_kind kind,
                                  const char *ns, const char *name) {
  inv *iv = inv_get(&c->warned, kind, ns ? ns : "", name ? name : "");
  return iv ? &iv->pub.diags : NULL;
}

const sb_diags *sb_cache_invalid(const sb_cache *c, sb_kind kind,
                                 const char *ns, const char *name,
                                 const char **uid) {
  const sb_invalid *iv = sb_cache_invalid_get(c, kind, ns, name);

  if (uid)
    *uid = iv ? iv->uid : NULL;
  return iv ? &iv->diags : NULL;
}

/* ---- world objects ------------------------------------------------------ */

/* ---- sync marks --------------------------------------------------------- */

static int sync_covers(const syncst *s, const char *ns) {
  return s->all || strcmp(s->ns, ns ? ns : "") == 0;
}

/* Records p (an entry in namespace ns) in every running sync that covers
 * ns. */
static void mark_in(syncst *list, const char *ns, const void *p) {
  syncst *s;

  if (!p)
    return;
  for (s = list; s; s = s->next)
    if (sync_covers(s, ns) && ptrset_add(&s->seen, p))
      s->failed = 1;
}

static void mark(sb_cache *c, sb_kind kind, const char *ns, const void *p) {
  mark_in(c->ms[kind], ns, p);
}

/* The sync of (list, ns); *prevp is where it is linked from. */
static syncst *sync_find(syncst **list, const char *ns, syncst ***prevp) {
  syncst **pp, *s;

  for (pp = list; (s = *pp); pp = &s->next)
    if (ns ? !s->all && strcmp(s->ns, ns) == 0 : s->all) {
      if (prevp)
        *prevp = pp;
      return s;
    }
  return NULL;
}

/* Starts (or, for a list that started over, restarts) marking. */
static void sync_begin(syncst **list, const char *ns) {
  syncst *s = sync_find(list, ns, NULL);
  size_t n = ns ? strlen(ns) + 1 : 1;

  if (s) {
    ptrset_free(&s->seen);
    s->failed = 0;
    return;
  }
  s = calloc(1, sizeof(*s) + n);
  if (!s)
    return;  /* end_sync then finds no sync to end and sweeps nothing */
  s->all = !ns;
  if (ns)
    memcpy(s->ns, ns, n);
  s->next = *list;
  *list = s;
}

/* Takes the sync of (list, ns) out; the caller frees it with
 * syncs_free. */
static syncst *sync_take(syncst **list, const char *ns) {
  syncst **pp, *s = sync_find(list, ns, &pp);

  if (s) {
    *pp = s->next;
    s->next = NULL;
  }
  return s;
}

/* Does the new pod differ from the old in anything the model keeps? (Its
 * namespace and name are the key's.) Shared pods of one shape point at
 * the same block, so this is usually a pointer test. */
static int pod_same(const sb_obj *a, const sb_obj *b) {
  return sb_pod_shape_same(((const sb_pod *) a)->shape,
                           ((const sb_pod *) b)->shape);
}

static int apply_model(sb_cache *c, sb_kind kind, const cJSON *json) {
  const cJSON *meta = jget(json, "metadata");
  const char *ns = jstr(meta, "namespace");
  const char *name = jstr(meta, "name");
  const char *rv = jstr(meta, "resourceVersion");
  const sb_obj *cur;
  sb_obj *obj = NULL, *old = NULL;
  inv *iv, *niv, *oiv;
  sb_diags diags;
  int rc, quiet;

  if (!ns)
    ns = "";
  if (!name || !streq(jstr(json, "kind"), sb_kind_name(kind)))
    return SB_EINVAL;
  cur = sb_world_get(c->world, kind, ns, name);
  iv = inv_get(&c->invalid, kind, ns, name);
  if (rv && iv && streq(iv->pub.resource_version, rv)) {
    mark(c, kind, ns, iv);
    mark(c, kind, ns, cur);
    return 0;
  }
  if (rv && !iv && cur && streq(cur->resource_version, rv)) {
    mark(c, kind, ns, cur);
    return 0;
  }

  sb_diags_init(&diags);
  rc = sb_model_parse(json, NULL, &obj, &diags);
  if (rc == 0 && obj->kind != kind) {
    sb_obj_free(obj);
    sb_diags_free(&diags);
    return SB_EINVAL;
  }
  if (rc == 0) {
    /* Best effort: a pod that cannot be shared is kept as parsed. */
    if (kind == SB_KIND_POD)
      sb_obj_share(&obj, c->pool);
    quiet = kind == SB_KIND_POD && cur && pod_same(cur, obj);
    rc = sb_world_put(c->world, obj, &old);
    if (rc) {
      sb_obj_free(obj);
      sb_diags_free(&diags);
      return rc;
    }
    mark(c, kind, ns, obj);
    set_warnings(c, obj, json, &diags);
    sb_diags_free(&diags);
    if (!quiet)
      report(c, SB_CHANGE_MODEL, kind, obj->ns, obj->name, old, obj);
    sb_obj_free(old);
    if (iv) {
      inv_unlink(&c->invalid, iv);
      report(c, SB_CHANGE_INVALID, kind, inv_ns(iv), inv_name(iv), iv,
             NULL);
      inv_free(iv);
    }
    return 0;
  }
  if (rc == SB_ENOMEM || !sb_kind_is_smi(kind) || rc != SB_EINVAL) {
    /* Not ours to complain about (or out of memory): keep what we had. */
    sb_diags_free(&diags);
    if (rc == SB_ENOMEM)
      return rc;
    mark(c, kind, ns, cur);
    return 0;
  }

  niv = inv_new(kind, ns, name, json, &diags);
  sb_diags_free(&diags);
  if (!niv)
    return SB_ENOMEM;
  rc = inv_put(&c->invalid, niv, &oiv);
  if (rc) {
    inv_free(niv);
    return rc;
  }
  mark(c, kind, ns, niv);
  mark(c, kind, ns, cur);
  report(c, SB_CHANGE_INVALID, kind, inv_ns(niv), inv_name(niv), oiv, niv);
  inv_free(oiv);
  return 0;
}

static void drop_model(sb_cache *c, sb_kind kind, const char *ns,
                       const char *name) {
  sb_obj *old = sb_world_take(c->world, kind, ns, name);
  inv *iv = inv_get(&c->invalid, kind, ns, name);

  drop_warnings(c, kind, ns, name);
  if (old) {
    report(c, SB_CHANGE_MODEL, kind, old->ns, old->name, old, NULL);
    sb_obj_free(old);
  }
  if (iv) {
    inv_unlink(&c->invalid, iv);
    report(c, SB_CHANGE_INVALID, kind, inv_ns(iv), inv_name(iv), iv, NULL);
    inv_free(iv);
  }
}

/* ---- generated objects -------------------------------------------------- */

static genres *genres_find(const sb_cache *c, const sb_gvk *gvk) {
  genres *t;

  for (t = c->gens; t; t = t->next)
    if (streq(t->gvk->group, gvk->group) && streq(t->gvk->kind, gvk->kind))
      return t;
  return NULL;
}

static genres *genres_get(sb_cache *c, const sb_gvk *gvk) {
  genres *t = genres_find(c, gvk);

  if (t)
    return t;
  t = calloc(1, sizeof(*t));
  if (!t)
    return NULL;
  t->objs = sb_hmap_new(0);
  if (!t->objs) {
    free(t);
    return NULL;
  }
  t->gvk = gvk;
  t->next = c->gens;
  c->gens = t;
  return t;
}

static void src_unlink(sb_cache *c, genent *g) {
  srcgroup *sg = g->sg;

  if (!sg)
    return;
  if (g->sprev)
    g->sprev->snext = g->snext;
  else
    sg->head = g->snext;
  if (g->snext)
    g->snext->sprev = g->sprev;
  else
    sg->tail = g->sprev;
  g->sg = NULL;
  g->sprev = g->snext = NULL;
  if (!sg->head) {
    sb_hmap_del(c->bysrc, sg->key, sg->klen);
    free(sg);
    c->nsrc--;
  }
}

/* Links g into its source's list, after `after` when given (a replaced
 * entry keeps its place), else at the end. */
static int src_link(sb_cache *c, genent *g, genent *after) {
  srcgroup *sg;
  ckey k;
  int rc;

  if (!g->pub.managed || !g->pub.source_kind || !g->pub.source_name)
    return 0;
  rc = ckey_make(&k, g->pub.ns, g->pub.source_kind, g->pub.source_name);
  if (rc)
    return rc;
  sg = sb_hmap_get(c->bysrc, k.p, k.len);
  if (!sg) {
    sg = calloc(1, sizeof(*sg) + k.len + 1);
    if (sg) {
      memcpy(sg->key, k.p, k.len + 1);
      sg->klen = k.len;
    }
    if (!sg || sb_hmap_put(c->bysrc, sg->key, k.len, sg, NULL)) {
      free(sg);
      ckey_done(&k);
      return SB_ENOMEM;
    }
    c->nsrc++;
  }
  ckey_done(&k);
  if (after && after->sg != sg)
    after = NULL;
  g->sg = sg;
  if (after) {
    g->sprev = after;
    g->snext = after->snext;
    after->snext = g;
    if (g->snext)
      g->snext->sprev = g;
    else
      sg->tail = g;
  } else {
    g->sprev = sg->tail;
    g->snext = NULL;
    if (sg->tail)
      sg->tail->snext = g;
    else
      sg->head = g;
    sg->tail = g;
  }
  return 0;
}

/* The source's full name when the object says it: the annotation, else
 * the one ownerReference of the source's kind whose name the label stands
 * for (a long name is hashed in the label, never in an ownerReference).
 * NULL when neither tells. */
static const char *full_source_name(const cJSON *meta, const char *skind,
                                    const char *label) {
  const char *full = jstr(jget(meta, "annotations"), SB_LABEL_SOURCE_NAME);
  const char *name;
  const cJSON *ref;
  char lv[64];
  int n = 0;

  if (full || !skind || !label)
    return full;
  cJSON_ArrayForEach(ref, jget(meta, "ownerReferences")) {
    name = jstr(ref, "name");
    if (!name || !streq(jstr(ref, "kind"), skind) ||
        sb_label_value(name, lv) != 0 || strcmp(lv, label) != 0)
      continue;
    full = name;
    n++;
  }
  return n == 1 ? full : NULL;
}

static genent *gen_new(const sb_gvk *gvk, const cJSON *json) {
  const cJSON *meta = jget(json, "metadata");
  const cJSON *labels = jget(meta, "labels");
  const char *ns = jstr(meta, "namespace");
  const char *name = jstr(meta, "name");
  const char *uid = jstr(meta, "uid");
  const char *rv = jstr(meta, "resourceVersion");
  const char *skind = jstr(labels, SB_LABEL_SOURCE_KIND);
  const char *sname = jstr(labels, SB_LABEL_SOURCE_NAME);
  const char *sfull = full_source_name(meta, skind, sname);
  int managed = streq(jstr(labels, SB_LABEL_MANAGED_BY), SB_MANAGER);
  size_t klen, size, fpoff;
  fpset fp = {0};
  genent *g;
  char *p;

  if (!ns)
    ns = "";
  if (managed && fingerprint(json, &fp))
    return NULL;
  klen = strlen(ns) + 1 + strlen(name);
  fpoff = (sizeof(genent) + klen + 1 + slen(uid) + slen(rv) + slen(skind) +
           slen(sname) + slen(sfull) + 3) & ~(size_t) 3;
  size = fpoff + fp.n * sizeof(uint32_t);
  g = size <= UINT32_MAX ? malloc(size) : NULL;
  if (!g) {
    free(fp.v);
    return NULL;
  }
  memset(g, 0, sizeof(*g));
  g->klen = (uint32_t) klen;
  p = g->key;
  g->pub.gvk = gvk;
  g->pub.ns = put_str(&p, ns);
  g->pub.name = put_str(&p, name);
  g->pub.uid = put_str(&p, uid);
  g->pub.resource_version = put_str(&p, rv);
  g->pub.managed = managed;
  g->pub.source_kind = put_str(&p, skind);
  g->pub.source_name = put_str(&p, sname);
  g->pub.source_full_name = sfull ? put_str(&p, sfull) : g->pub.source_name;
  if (fp.n) {
    memcpy((char *) g + fpoff, fp.v, fp.n * sizeof(uint32_t));
    g->fp = (const uint32_t *) (void *) ((char *) g + fpoff);
    g->nfp = (uint32_t) fp.n;
  }
  free(fp.v);
  g->bytes = (uint32_t) (alloc_cost(size) + SLOT_COST);
  return g;
}

static int apply_gen(sb_cache *c, const sb_gvk *gvk, const cJSON *json) {
  const cJSON *meta = jget(json, "metadata");
  const char *ns = jstr(meta, "namespace");
  const char *rv = jstr(meta, "resourceVersion");
  const char *name = jstr(meta, "name");
  genres *t;
  genent *g, *old;
  void *prev;
  ckey k;
  int rc;

  if (!name)
    return SB_EINVAL;
  t = genres_get(c, gvk);
  if (!t)
    return SB_ENOMEM;
  rc = ckey_make(&k, ns ? ns : "", name, NULL);
  if (rc)
    return rc;
  old = sb_hmap_get(t->objs, k.p, k.len);
  ckey_done(&k);
  if (old && rv && streq(old->pub.resource_version, rv)) {
    mark_in(t->syncs, old->pub.ns, old);
    return 0;
  }
  g = gen_new(t->gvk, json);
  if (!g)
    return SB_ENOMEM;
  rc = src_link(c, g, old);
  if (rc == 0)
    rc = sb_hmap_put(t->objs, g->key, g->klen, g, &prev);
  if (rc) {
    src_unlink(c, g);
    gen_free(g);
    return rc;
  }
  if (old) {
    src_unlink(c, old);
    c->gen_bytes -= old->bytes;
  } else {
    c->ngen++;
  }
  c->gen_bytes += g->bytes;
  mark_in(t->syncs, g->pub.ns, g);
  report(c, SB_CHANGE_GENERATED, SB_KIND_UNKNOWN, g->pub.ns, g->pub.name,
         old ? &old->pub : NULL, &g->pub);
  gen_free(old);
  return 0;
}

static void gen_drop(sb_cache *c, genres *t, genent *g) {
  sb_hmap_del(t->objs, g->key, g->klen);
  src_unlink(c, g);
  c->ngen--;
  c->gen_bytes -= g->bytes;
  report(c, SB_CHANGE_GENERATED, SB_KIND_UNKNOWN, g->pub.ns, g->pub.name,
         &g->pub, NULL);
  gen_free(g);
}

const sb_gen *sb_cache_gen(const sb_cache *c, const sb_gvk *gvk,
                           const char *ns, const char *name) {
  genres *t = genres_find(c, gvk);
  genent *g;
  ckey k;

  if (!t || !name || ckey_make(&k, ns ? ns : "", name, NULL))
    return NULL;
  g = sb_hmap_get(t->objs, k.p, k.len);
  ckey_done(&k);
  return g ? &g->pub : NULL;
}

int sb_cache_gen_by_source(const sb_cache *c, const char *ns,
                           const char *source_kind, const char *label_value,
                           sb_gen_fn fn, void *arg) {
  srcgroup *sg;
  genent *g, *next;
  ckey k;
  int rc;

  if (!ns || !source_kind || !label_value || !fn)
    return SB_EINVAL;
  rc = ckey_make(&k, ns, source_kind, label_value);
  if (rc)
    return rc;
  sg = sb_hmap_get(c->bysrc, k.p, k.len);
  ckey_done(&k);
  for (g = sg ? sg->head : NULL; g; g = next) {
    next = g->snext;
    rc = fn(arg, &g->pub);
    if (rc)
      return rc;
  }
  return 0;
}

int sb_cache_gen_each(const sb_cache *c, sb_gen_fn fn, void *arg) {
  const genres *t;
  sb_hmap_iter it;
  void *v;
  int rc;

  for (t = c->gens; t; t = t->next) {
    memset(&it, 0, sizeof(it));
    while (sb_hmap_next(t->objs, &it, NULL, NULL, &v)) {
      const genent *g = v;
      if (!g->pub.managed)
        continue;
      rc = fn(arg, &g->pub);
      if (rc)
        return rc;
    }
  }
  return 0;
}

/* ---- the writer interface ----------------------------------------------- */

static int res_ok(const sb_cache_res *res) {
  if (!res)
    return 0;
  if (res->gvk)
    return res->gvk->kind != NULL;
  return res->kind > SB_KIND_UNKNOWN && res->kind < SB_KIND__COUNT;
}

int sb_cache_apply(sb_cache *c, const sb_cache_res *res, const cJSON *obj) {
  const char *ns;
  genres *t;
  syncst *s;
  int rc;

  if (!c || !res_ok(res) || !cJSON_IsObject(obj))
    return SB_EINVAL;
  rc = res->gvk ? apply_gen(c, res->gvk, obj) : apply_model(c, res->kind, obj);
  if (rc != SB_ENOMEM)
    return rc;
  /* The object exists but could not be recorded (nor its old version
   * marked): a sweep now would drop it. Cancel the syncs it falls in. */
  ns = jstr(jget(obj, "metadata"), "namespace");
  if (res->gvk) {
    t = genres_find(c, res->gvk);
    s = t ? t->syncs : NULL;
  } else {
    s = c->ms[res->kind];
  }
  for (; s; s = s->next)
    if (sync_covers(s, ns))
      s->failed = 1;
  return rc;
}

int sb_cache_delete(sb_cache *c, const sb_cache_res *res, const cJSON *obj) {
  const cJSON *meta = jget(obj, "metadata");
  const char *ns = jstr(meta, "namespace");
  const char *name = jstr(meta, "name");
  genres *t;
  genent *g;
  ckey k;

  if (!c || !res_ok(res) || !name)
    return SB_EINVAL;
  if (!ns)
    ns = "";
  if (!res->gvk) {
    drop_model(c, res->kind, ns, name);
    return 0;
  }
  t = genres_find(c, res->gvk);
  if (!t)
    return 0;
  if (ckey_make(&k, ns, name, NULL))
    return SB_ENOMEM;
  g = sb_hmap_get(t->objs, k.p, k.len);
  ckey_done(&k);
  if (g)
    gen_drop(c, t, g);
  return 0;
}

void sb_cache_begin_sync(sb_cache *c, const sb_cache_res *res) {
  genres *t;

  if (!c || !res_ok(res))
    return;
  if (res->gvk) {
    t = genres_get(c, res->gvk);
    if (t)
      sync_begin(&t->syncs, res->ns);
    return;  /* without t, end_sync finds no sync to end: sweeps nothing */
  }
  sync_begin(&c->ms[res->kind], res->ns);
}

typedef struct collect {
  const sb_obj **v;
  size_t n;
  size_t cap;
  const ptrset *seen;
  int oom;
} collect;

static int collect_unseen(void *arg, const sb_obj *o) {
  collect *cl = arg;

  if (ptrset_has(cl->seen, o))
    return 0;
  if (cl->n == cl->cap) {
    size_t cap = cl->cap ? cl->cap * 2 : 16;
    const sb_obj **v = realloc(cl->v, cap * sizeof(*v));
    if (!v) {
      cl->oom = 1;
      return 1;
    }
    cl->v = v;
    cl->cap = cap;
  }
  cl->v[cl->n++] = o;
  return 0;
}

static int cmp_gen(const void *a, const void *b) {
  const genent *x = *(const genent *const *) a;
  const genent *y = *(const genent *const *) b;
  int r = strcmp(x->pub.ns, y->pub.ns);
  return r ? r : strcmp(x->pub.name, y->pub.name);
}

static int cmp_inv(const void *a, const void *b) {
  const inv *x = *(const inv *const *) a;
  const inv *y = *(const inv *const *) b;
  int r = strcmp(inv_ns(x), inv_ns(y));
  return r ? r : strcmp(inv_name(x), inv_name(y));
}

/* Collects the entries of m (genent or inv) in the sync's namespace that
 * the sync did not see. */
static int stale_entries(sb_hmap *m, const syncst *s, int is_gen,
                         void ***out, size_t *n) {
  sb_hmap_iter it = {0};
  void **v = NULL, *e;
  size_t cap = 0;

  *n = 0;
  while (m && sb_hmap_next(m, &it, NULL, NULL, &e)) {
    const char *ns = is_gen ? ((genent *) e)->pub.ns : inv_ns(e);
    if (!sync_covers(s, ns) || ptrset_has(&s->seen, e))
      continue;
    if (*n == cap) {
      void **nv;
      cap = cap ? cap * 2 : 16;
      nv = realloc(v, cap * sizeof(*nv));
      if (!nv) {
        free(v);
        return SB_ENOMEM;
      }
      v = nv;
    }
    v[(*n)++] = e;
  }
  *out = v;
  return 0;
}

static int end_sync_model(sb_cache *c, sb_kind kind, const char *ns) {
  syncst *s = sync_take(&c->ms[kind], ns);
  collect cl;
  void **stale = NULL;
  size_t nstale = 0, i;
  int rc = 0;

  if (!s)
    return SB_EINVAL;
  if (s->failed) {
    syncs_free(s);
    return SB_ENOMEM;
  }
  memset(&cl, 0, sizeof(cl));
  cl.seen = &s->seen;
  sb_world_each(c->world, kind, s->all ? NULL : s->ns, collect_unseen, &cl);
  if (!cl.oom)
    rc = stale_entries(c->invalid.m[kind], s, 0, &stale, &nstale);
  syncs_free(s);
  if (cl.oom || rc) {
    free(cl.v);
    return SB_ENOMEM;
  }
  /* Deleted while we were not watching: the world's version and any
   * invalid version go, reported like any deletion. */
  for (i = 0; i < cl.n; i++) {
    sb_obj *o = sb_world_take(c->world, kind, cl.v[i]->ns, cl.v[i]->name);
    drop_warnings(c, kind, o->ns, o->name);
    report(c, SB_CHANGE_MODEL, kind, o->ns, o->name, o, NULL);
    sb_obj_free(o);
  }
  if (nstale > 1)
    qsort(stale, nstale, sizeof(*stale), cmp_inv);
  for (i = 0; i < nstale; i++) {
    inv *iv = stale[i];
    inv_unlink(&c->invalid, iv);
    report(c, SB_CHANGE_INVALID, kind, inv_ns(iv), inv_name(iv), iv, NULL);
    inv_free(iv);
  }
  free(stale);
  free(cl.v);
  return 0;
}

static int end_sync_gen(sb_cache *c, const sb_gvk *gvk, const char *ns) {
  genres *t = genres_find(c, gvk);
  syncst *s = t ? sync_take(&t->syncs, ns) : NULL;
  void **stale;
  size_t n, i;
  int rc;

  if (!s)
    return SB_EINVAL;
  rc = s->failed ? SB_ENOMEM : stale_entries(t->objs, s, 1, &stale, &n);
  syncs_free(s);
  if (rc)
    return rc;
  if (n > 1)
    qsort(stale, n, sizeof(*stale), cmp_gen);
  for (i = 0; i < n; i++)
    gen_drop(c, t, stale[i]);
  free(stale);
  return 0;
}

int sb_cache_end_sync(sb_cache *c, const sb_cache_res *res) {
  if (!c || !res_ok(res))
    return SB_EINVAL;
  return res->gvk ? end_sync_gen(c, res->gvk, res->ns)
                  : end_sync_model(c, res->kind, res->ns);
}

/* ---- accounting --------------------------------------------------------- */

size_t sb_cache_count(const sb_cache *c) {
  size_t n = c->ngen + c->invalid.n;
  int k;

  for (k = 1; k < SB_KIND__COUNT; k++)
    n += sb_world_count(c->world, (sb_kind) k);
  return n;
}

size_t sb_cache_bytes(const sb_cache *c) {
  size_t n = alloc_cost(sizeof(*c)), objs = 0;
  int k;

  for (k = 1; k < SB_KIND__COUNT; k++)
    objs += sb_world_count(c->world, (sb_kind) k);
  n += sb_world_bytes(c->world) + objs * ARENA_OVERHEAD +
       sb_world_overhead(c->world);
  n += sb_pool_bytes(c->pool) + sb_pool_count(c->pool) * ARENA_OVERHEAD;
  n += c->invalid.bytes + c->warned.bytes + c->gen_bytes;
  n += c->nsrc * (alloc_cost(sizeof(srcgroup) + 64) + SLOT_COST);
  return n;
}
