/* pool.c -- what pods repeat, stored once. See sb_pool in sb/model.h.
 *
 * The controller caches every pod of the cluster, and pods come in herds:
 * the replicas of one ReplicaSet have the same labels, the same container
 * ports, the same ServiceAccount, phase and namespace -- the same
 * sb_pod_shape. Parsed alone, each pod copies all of that into its arena
 * (some 130 of its 190 bytes, with the arena's header). Shared, the shape
 * is one refcounted block in a pool, found by its content, and the pod is
 * a single allocation: its struct, its name and its resourceVersion.
 *
 * A block is a header followed by its payload: the sb_pod_shape, its
 * sb_kv and sb_container_port arrays, then the strings they point to (the
 * parser's static common strings -- "TCP", "app", "Running" -- are kept
 * as the same static pointers, so identity.c's pointer tests still hit).
 * Because the payload starts right after the header, a pod finds the block
 * of its shape from the pointer it already has.
 *
 * Ownership: every pod holding a shape holds one reference; sb_obj_free
 * drops it, and the last one frees the block (and takes it out of its
 * pool). sb_pool_free only frees the table: blocks still referenced live
 * on, detached, until their last pod goes, so objects never depend on the
 * pool outliving them. Single-threaded, like everything that holds a
 * world.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "sb/err.h"

#define ALIGN8(n) (((n) + 7u) & ~(size_t) 7u)

typedef struct blk {
  struct blk *next;          /* hash chain */
  sb_pool *pool;             /* NULL once the pool is gone */
  const char *ns;            /* the namespace, in the payload or static */
  uint32_t refs;
  uint32_t hash;
  size_t size;               /* bytes allocated, for accounting */
  /* payload follows, 8-aligned (the header is 40 bytes) */
} blk;

struct sb_pool {
  blk **buckets;
  size_t nbuckets;           /* power of two, or 0 */
  size_t count;
  size_t bytes;
};

#define PAYLOAD(b) ((char *) (b) + sizeof(blk))
#define BLK_OF(p) ((blk *) (void *) ((char *) (p) - sizeof(blk)))

/* sb_obj.shared of a pod sb_obj_share made: its shape is a pool block and
 * the pod is one allocation (no arena). */
#define SHARED_SHAPE 1u

/* ---- hashing ------------------------------------------------------------- */

static uint32_t fnv(uint32_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  size_t i;

  for (i = 0; i < n; i++)
    h = (h ^ b[i]) * 16777619u;
  return h;
}

/* NULL is hashed (and compared) apart from "". */
static uint32_t fnv_str(uint32_t h, const char *s) {
  h = fnv(h, s ? "s" : "-", 1);
  return fnv(h, s ? s : "", (s ? strlen(s) : 0) + 1);
}

static uint32_t hash_shape(const char *ns, const sb_pod_shape *sh) {
  uint32_t h = fnv_str(2166136261u, ns), i;

  h = fnv_str(fnv_str(h, sh->service_account), sh->phase);
  for (i = 0; i < sh->nlabels; i++)
    h = fnv_str(fnv_str(h, sh->labels[i].key), sh->labels[i].value);
  h = fnv(h, "|", 1);
  for (i = 0; i < sh->nports; i++) {
    h = fnv_str(fnv_str(h, sh->ports[i].name), sh->ports[i].protocol);
    h = fnv(h, &sh->ports[i].port, sizeof(sh->ports[i].port));
  }
  return h;
}

static int streq(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return a == b || strcmp(a, b) == 0;
}

int sb_pod_shape_same(const sb_pod_shape *x, const sb_pod_shape *y) {
  uint32_t i;

  if (x == y)
    return 1;
  if (x->nlabels != y->nlabels || x->nports != y->nports ||
      !streq(x->service_account, y->service_account) ||
      !streq(x->phase, y->phase))
    return 0;
  for (i = 0; i < x->nlabels; i++)
    if (!streq(x->labels[i].key, y->labels[i].key) ||
        !streq(x->labels[i].value, y->labels[i].value))
      return 0;
  for (i = 0; i < x->nports; i++)
    if (x->ports[i].port != y->ports[i].port ||
        !streq(x->ports[i].name, y->ports[i].name) ||
        !streq(x->ports[i].protocol, y->ports[i].protocol))
      return 0;
  return 1;
}

static int same(const blk *b, const char *ns, const sb_pod_shape *y) {
  return streq(b->ns, ns) &&
         sb_pod_shape_same((const sb_pod_shape *) (const void *) PAYLOAD(b),
                           y);
}

/* ---- the table ----------------------------------------------------------- */

sb_pool *sb_pool_new(void) {
  return calloc(1, sizeof(sb_pool));
}

void sb_pool_free(sb_pool *p) {
  size_t i;
  blk *b;

  if (!p)
    return;
  for (i = 0; i < p->nbuckets; i++)
    for (b = p->buckets[i]; b; b = b->next)
      b->pool = NULL;
  free(p->buckets);
  free(p);
}

size_t sb_pool_bytes(const sb_pool *p) {
  return p ? p->bytes + p->nbuckets * sizeof(blk *) : 0;
}

size_t sb_pool_count(const sb_pool *p) {
  return p ? p->count : 0;
}

static int grow(sb_pool *p) {
  size_t n = p->nbuckets ? p->nbuckets * 2 : 64, i;
  blk **nb, *b, *next;

  if (p->count < p->nbuckets)
    return 0;
  nb = calloc(n, sizeof(*nb));
  if (!nb)
    return SB_ENOMEM;
  for (i = 0; i < p->nbuckets; i++)
    for (b = p->buckets[i]; b; b = next) {
      next = b->next;
      b->next = nb[b->hash & (n - 1)];
      nb[b->hash & (n - 1)] = b;
    }
  free(p->buckets);
  p->buckets = nb;
  p->nbuckets = n;
  return 0;
}

static void unlink_blk(blk *b) {
  sb_pool *p = b->pool;
  blk **pp;

  if (!p)
    return;
  for (pp = &p->buckets[b->hash & (p->nbuckets - 1)]; *pp != b;
       pp = &(*pp)->next)
    ;
  *pp = b->next;
  p->count--;
  p->bytes -= b->size;
}

static void release(blk *b) {
  if (--b->refs)
    return;
  unlink_blk(b);
  free(b);
}

/* Bytes a string needs in a block: none when it is NULL or static. */
static size_t str_need(const char *s) {
  return s && !sb__is_common(s) ? strlen(s) + 1 : 0;
}

/* Copies s to *at unless it is NULL or static. */
static const char *put_str(char **at, const char *s) {
  size_t n = str_need(s);

  if (!n)
    return s;
  memcpy(*at, s, n);
  *at += n;
  return *at - n;
}

/* The block of this shape, found or made, with one more reference; NULL
 * on ENOMEM. */
static blk *intern(sb_pool *p, const char *ns, const sb_pod_shape *sh) {
  uint32_t h = hash_shape(ns, sh), i;
  size_t size, str;
  sb_pod_shape *d;
  char *s;
  blk *b;

  for (b = p->nbuckets ? p->buckets[h & (p->nbuckets - 1)] : NULL; b;
       b = b->next)
    if (b->hash == h && same(b, ns, sh)) {
      b->refs++;
      return b;
    }
  if (grow(p))
    return NULL;
  str = str_need(ns) + str_need(sh->service_account) + str_need(sh->phase);
  for (i = 0; i < sh->nlabels; i++)
    str += str_need(sh->labels[i].key) + str_need(sh->labels[i].value);
  for (i = 0; i < sh->nports; i++)
    str += str_need(sh->ports[i].name) + str_need(sh->ports[i].protocol);
  size = sizeof(blk) + sizeof(sb_pod_shape) +
         ALIGN8(sh->nlabels * sizeof(sb_kv)) +
         ALIGN8(sh->nports * sizeof(sb_container_port)) + str;
  b = malloc(size);
  if (!b)
    return NULL;
  memset(b, 0, sizeof(*b));
  b->pool = p;
  b->refs = 1;
  b->hash = h;
  b->size = size;
  d = (sb_pod_shape *) (void *) PAYLOAD(b);
  *d = *sh;
  d->labels = sh->nlabels ? (sb_kv *) (void *) (d + 1) : NULL;
  d->ports = sh->nports ? (sb_container_port *) (void *) ((char *) (d + 1) +
                          ALIGN8(sh->nlabels * sizeof(sb_kv)))
                        : NULL;
  s = (char *) (d + 1) + ALIGN8(sh->nlabels * sizeof(sb_kv)) +
      ALIGN8(sh->nports * sizeof(sb_container_port));
  b->ns = put_str(&s, ns);
  d->service_account = put_str(&s, sh->service_account);
  d->phase = put_str(&s, sh->phase);
  for (i = 0; i < sh->nlabels; i++) {
    d->labels[i].key = put_str(&s, sh->labels[i].key);
    d->labels[i].value = put_str(&s, sh->labels[i].value);
  }
  for (i = 0; i < sh->nports; i++) {
    d->ports[i] = sh->ports[i];
    d->ports[i].name = put_str(&s, sh->ports[i].name);
    d->ports[i].protocol = put_str(&s, sh->ports[i].protocol);
  }
  b->next = p->buckets[h & (p->nbuckets - 1)];
  p->buckets[h & (p->nbuckets - 1)] = b;
  p->count++;
  p->bytes += size;
  return b;
}

/* ---- pods ---------------------------------------------------------------- */

int sb__obj_release(sb_obj *o) {
  sb_pod *p = (sb_pod *) o;

  if (o->kind != SB_KIND_POD || !(o->shared & SHARED_SHAPE))
    return 0;
  release(BLK_OF(p->shape));
  free(o);
  return 1;
}

size_t sb__obj_own_size(const sb_obj *o) {
  return sizeof(sb_pod) + str_need(o->name) + str_need(o->resource_version);
}

int sb_obj_share(sb_obj **objp, sb_pool *pool) {
  sb_obj *o = *objp;
  const sb_pod *p = (const sb_pod *) o;
  sb_pod *q;
  blk *b;
  char *s;

  if (!o || !pool || o->kind != SB_KIND_POD || o->shared ||
      o->meta != sb__pod_meta())
    return 0;
  b = intern(pool, o->ns, p->shape);
  if (!b)
    return SB_ENOMEM;
  q = malloc(sb__obj_own_size(o));
  if (!q) {
    release(b);
    return SB_ENOMEM;
  }
  *q = *p;
  q->obj.arena = NULL;
  q->obj.shared = SHARED_SHAPE;
  q->obj.ns = b->ns;
  q->shape = (sb_pod_shape *) (void *) PAYLOAD(b);
  s = (char *) (q + 1);
  q->obj.name = put_str(&s, o->name);
  q->obj.resource_version = put_str(&s, o->resource_version);
  sb_obj_free(o);
  *objp = &q->obj;
  return 0;
}
