/* pool.c -- what pods repeat, stored once. See sb_pool in sb/model.h.
 *
 * The controller caches every pod of the cluster, and pods come in herds:
 * the replicas of one ReplicaSet have the same labels, the same container
 * ports, the same ServiceAccount and namespace. Parsed alone, each pod
 * copies all of that into its arena (some 130 of its 350 bytes). Shared,
 * each of those parts is one refcounted block in a pool, found by its
 * content, and the pod keeps a small arena with its struct, its name and
 * its resourceVersion.
 *
 * A block is a header followed by its payload: for labels the sb_kv array
 * and then the strings it points to, for ports the sb_container_port
 * array and its names, for a string the string. The strings double as the
 * block's key (type, count and the NUL-separated fields), so comparing a
 * candidate means walking the payload. Because the payload starts right
 * after the header, a pod finds the block of its labels, ports or strings
 * from the pointers it already has: nothing extra per pod but a flag byte
 * in sb_obj's padding.
 *
 * Ownership: every pod holding a part holds one reference; sb_obj_free
 * drops them, and the last one frees the block (and takes it out of its
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

enum { BLK_LABELS = 1, BLK_PORTS = 2, BLK_STRING = 3 };

typedef struct blk {
  struct blk *next;          /* hash chain */
  sb_pool *pool;             /* NULL once the pool is gone */
  uint32_t refs;
  uint32_t hash;
  uint32_t n;                /* elements (labels, ports) or 0 */
  uint32_t type;
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

/* The padding byte of sb_obj says which parts of a pod are shared. */
#define SHARED_LABELS 1u
#define SHARED_PORTS 2u
#define SHARED_SA 4u
#define SHARED_NS 8u

/* ---- hashing ------------------------------------------------------------- */

static uint32_t fnv(uint32_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  size_t i;

  for (i = 0; i < n; i++)
    h = (h ^ b[i]) * 16777619u;
  return h;
}

static uint32_t fnv_str(uint32_t h, const char *s) {
  return fnv(h, s ? s : "", (s ? strlen(s) : 0) + 1);
}

static uint32_t hash_labels(const sb_kv *kv, size_t n) {
  uint32_t h = fnv(2166136261u, "L", 1);
  size_t i;

  for (i = 0; i < n; i++)
    h = fnv_str(fnv_str(h, kv[i].key), kv[i].value);
  return h;
}

/* Port names may be NULL: hashed (and compared) apart from "". */
static uint32_t hash_ports(const sb_container_port *p, size_t n) {
  uint32_t h = fnv(2166136261u, "P", 1);
  size_t i;

  for (i = 0; i < n; i++) {
    h = fnv(h, p[i].name ? "n" : "-", 1);
    h = fnv_str(fnv_str(h, p[i].name), p[i].protocol);
    h = fnv(h, &p[i].port, sizeof(p[i].port));
  }
  return h;
}

static uint32_t hash_string(const char *s) {
  return fnv_str(fnv(2166136261u, "S", 1), s);
}

static int streq(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

static int same(const blk *b, uint32_t type, const void *v, size_t n) {
  size_t i;

  if (b->type != type || b->n != n)
    return 0;
  if (type == BLK_LABELS) {
    const sb_kv *x = (const sb_kv *) (const void *) PAYLOAD(b), *y = v;
    for (i = 0; i < n; i++)
      if (!streq(x[i].key, y[i].key) || !streq(x[i].value, y[i].value))
        return 0;
    return 1;
  }
  if (type == BLK_PORTS) {
    const sb_container_port *x =
        (const sb_container_port *) (const void *) PAYLOAD(b);
    const sb_container_port *y = v;
    for (i = 0; i < n; i++)
      if (x[i].port != y[i].port || !streq(x[i].name, y[i].name) ||
          !streq(x[i].protocol, y[i].protocol))
        return 0;
    return 1;
  }
  return strcmp(PAYLOAD(b), v) == 0;
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

static void release(void *payload) {
  blk *b = BLK_OF(payload);

  if (--b->refs)
    return;
  unlink_blk(b);
  free(b);
}

/* The block of this content, found or made, with one more reference;
 * NULL on ENOMEM. */
static blk *intern(sb_pool *p, uint32_t type, const void *v, size_t n) {
  uint32_t h = type == BLK_LABELS ? hash_labels(v, n)
               : type == BLK_PORTS ? hash_ports(v, n)
                                   : hash_string(v);
  size_t size, i, arr = 0, str = 0;
  blk *b;
  char *s;

  for (b = p->nbuckets ? p->buckets[h & (p->nbuckets - 1)] : NULL; b;
       b = b->next)
    if (b->hash == h && same(b, type, v, n)) {
      b->refs++;
      return b;
    }
  if (grow(p))
    return NULL;
  if (type == BLK_LABELS) {
    const sb_kv *kv = v;
    arr = n * sizeof(sb_kv);
    for (i = 0; i < n; i++)
      str += strlen(kv[i].key) + strlen(kv[i].value) + 2;
  } else if (type == BLK_PORTS) {
    const sb_container_port *cp = v;
    arr = n * sizeof(sb_container_port);
    for (i = 0; i < n; i++)
      str += (cp[i].name ? strlen(cp[i].name) + 1 : 0) +
             strlen(cp[i].protocol) + 1;
  } else {
    str = strlen(v) + 1;
  }
  size = sizeof(blk) + ALIGN8(arr) + str;
  b = malloc(size);
  if (!b)
    return NULL;
  memset(b, 0, sizeof(*b));
  b->pool = p;
  b->refs = 1;
  b->hash = h;
  b->n = (uint32_t) n;
  b->type = type;
  b->size = size;
  s = PAYLOAD(b) + ALIGN8(arr);
  if (type == BLK_LABELS) {
    const sb_kv *kv = v;
    sb_kv *d = (sb_kv *) (void *) PAYLOAD(b);
    for (i = 0; i < n; i++) {
      size_t a = strlen(kv[i].key) + 1, c = strlen(kv[i].value) + 1;
      d[i].key = memcpy(s, kv[i].key, a);
      s += a;
      d[i].value = memcpy(s, kv[i].value, c);
      s += c;
    }
  } else if (type == BLK_PORTS) {
    const sb_container_port *cp = v;
    sb_container_port *d = (sb_container_port *) (void *) PAYLOAD(b);
    for (i = 0; i < n; i++) {
      size_t c = strlen(cp[i].protocol) + 1;
      d[i] = cp[i];
      d[i].name = NULL;
      if (cp[i].name) {
        size_t a = strlen(cp[i].name) + 1;
        d[i].name = memcpy(s, cp[i].name, a);
        s += a;
      }
      d[i].protocol = memcpy(s, cp[i].protocol, c);
      s += c;
    }
  } else {
    memcpy(s, v, str);
  }
  b->next = p->buckets[h & (p->nbuckets - 1)];
  p->buckets[h & (p->nbuckets - 1)] = b;
  p->count++;
  p->bytes += size;
  return b;
}

/* ---- pods ---------------------------------------------------------------- */

void sb__obj_release(sb_obj *o) {
  sb_pod *p = (sb_pod *) o;

  if (o->kind != SB_KIND_POD || !o->shared)
    return;
  if (o->shared & SHARED_LABELS)
    release(p->labels);
  if (o->shared & SHARED_PORTS)
    release(p->ports);
  if (o->shared & SHARED_SA)
    release((void *) p->service_account);
  if (o->shared & SHARED_NS)
    release((void *) o->ns);
  o->shared = 0;
}

/* A string of the small arena: a copy, unless it is static. */
static const char *keep_str(sb_arena *a, const char *s, int *oom) {
  char *d;

  if (!s || sb__is_common(s))
    return s;
  d = sb_arena_strdup(a, s);
  if (!d)
    *oom = 1;
  return d;
}

static size_t str_need(const char *s) {
  return s && !sb__is_common(s) ? ALIGN8(strlen(s) + 1) : 0;
}

int sb_obj_share(sb_obj **objp, sb_pool *pool) {
  sb_obj *o = *objp;
  const sb_pod *p = (const sb_pod *) o;
  sb_pod *q;
  sb_arena *a;
  blk *lb = NULL, *pb = NULL, *sab = NULL, *nb = NULL;
  size_t need;
  int oom = 0;

  if (!o || !pool || o->kind != SB_KIND_POD || o->shared || o->file ||
      o->uid || o->creation_timestamp)
    return 0;
  /* Strings are the parser's copies or its static common ones: only the
   * copies need a block. */
  if (p->nlabels && !(lb = intern(pool, BLK_LABELS, p->labels, p->nlabels)))
    goto fail;
  if (p->nports && !(pb = intern(pool, BLK_PORTS, p->ports, p->nports)))
    goto fail;
  if (p->service_account && !sb__is_common(p->service_account) &&
      !(sab = intern(pool, BLK_STRING, p->service_account, 0)))
    goto fail;
  if (o->ns && !sb__is_common(o->ns) &&
      !(nb = intern(pool, BLK_STRING, o->ns, 0)))
    goto fail;
  need = ALIGN8(sizeof(sb_pod)) + str_need(o->name) +
         str_need(o->resource_version) + str_need(p->phase);
  a = sb_arena_new(need);
  if (!a)
    goto fail;
  q = sb_arena_alloc(a, sizeof(sb_pod));
  if (!q) {
    sb_arena_free(a);
    goto fail;
  }
  *q = *p;
  q->obj.arena = a;
  q->obj.name = keep_str(a, o->name, &oom);
  q->obj.resource_version = keep_str(a, o->resource_version, &oom);
  q->phase = keep_str(a, p->phase, &oom);
  if (oom) {
    sb_arena_free(a);
    goto fail;
  }
  if (lb) {
    q->labels = (sb_kv *) (void *) PAYLOAD(lb);
    q->obj.shared |= SHARED_LABELS;
  }
  if (pb) {
    q->ports = (sb_container_port *) (void *) PAYLOAD(pb);
    q->obj.shared |= SHARED_PORTS;
  }
  if (sab) {
    q->service_account = PAYLOAD(sab);
    q->obj.shared |= SHARED_SA;
  }
  if (nb) {
    q->obj.ns = PAYLOAD(nb);
    q->obj.shared |= SHARED_NS;
  }
  sb_obj_free(o);
  *objp = &q->obj;
  return 0;

fail:
  if (lb)
    release(PAYLOAD(lb));
  if (pb)
    release(PAYLOAD(pb));
  if (sab)
    release(PAYLOAD(sab));
  if (nb)
    release(PAYLOAD(nb));
  return SB_ENOMEM;
}
