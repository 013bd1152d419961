/* hmap.c -- open addressing with linear probing and tombstones.
 *
 * Each slot holds 32 bits of the hash (which also pick its home slot) and
 * the key's length next to each other, so probes compare 8 bytes before
 * touching the key, in 24-byte slots: the cache's maps hold tens of
 * thousands of entries, and a 32-byte slot would cost a third more. The
 * table doubles at 70% load (tombstones included) and is rebuilt without
 * tombstones whenever it grows. Keys are at most 4 GiB long.
 */
#include "sb/hmap.h"

#include <stdlib.h>
#include <string.h>

#include "sb/err.h"

struct slot {
  uint32_t hash;     /* 0 = empty, 1 = tombstone, else slot_hash */
  uint32_t klen;
  const char *key;
  void *val;
};

struct sb_hmap {
  struct slot *slots;
  size_t cap;        /* power of two */
  size_t count;
  size_t used;       /* live + tombstones */
};

#define EMPTY 0
#define TOMB 1

uint64_t sb_hash_add(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  size_t i;

  for (i = 0; i < n; i++) {
    h ^= s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* splitmix64's finaliser: every input bit moves every output bit. */
uint64_t sb_hash_final(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

uint64_t sb_hash(const void *p, size_t n) {
  return sb_hash_final(sb_hash_add(SB_HASH_INIT, p, n));
}

/* The low 32 bits of sb_hash (avalanched, so every bit is as good as
 * any), 0 and 1 moved out of the way of the markers. */
static uint32_t slot_hash(const char *key, size_t klen) {
  uint32_t h = (uint32_t) sb_hash(key, klen);
  return h < 2 ? h + 2 : h;
}

sb_hmap *sb_hmap_new(size_t hint) {
  sb_hmap *m = calloc(1, sizeof(*m));
  size_t cap = 16;

  if (!m)
    return NULL;
  while (cap * 7 / 10 < hint)
    cap *= 2;
  m->slots = calloc(cap, sizeof(struct slot));
  if (!m->slots) {
    free(m);
    return NULL;
  }
  m->cap = cap;
  return m;
}

void sb_hmap_free(sb_hmap *m) {
  if (!m)
    return;
  free(m->slots);
  free(m);
}

size_t sb_hmap_count(const sb_hmap *m) {
  return m->count;
}

static struct slot *find(const sb_hmap *m, uint32_t h, const char *key,
                         size_t klen) {
  size_t mask = m->cap - 1;
  size_t i = (size_t) h & mask;

  for (;;) {
    struct slot *s = &m->slots[i];
    if (s->hash == EMPTY)
      return NULL;
    if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
      return s;
    i = (i + 1) & mask;
  }
}

void *sb_hmap_get(const sb_hmap *m, const char *key, size_t klen) {
  struct slot *s;

  if (klen > UINT32_MAX)
    return NULL;
  s = find(m, slot_hash(key, klen), key, klen);
  return s ? s->val : NULL;
}

static int rehash(sb_hmap *m, size_t cap) {
  struct slot *old = m->slots, *ns;
  size_t oldcap = m->cap, i;

  ns = calloc(cap, sizeof(*ns));
  if (!ns)
    return SB_ENOMEM;
  for (i = 0; i < oldcap; i++) {
    size_t j;
    if (old[i].hash < 2)
      continue;
    j = (size_t) old[i].hash & (cap - 1);
    while (ns[j].hash != EMPTY)
      j = (j + 1) & (cap - 1);
    ns[j] = old[i];
  }
  free(old);
  m->slots = ns;
  m->cap = cap;
  m->used = m->count;
  return 0;
}

int sb_hmap_put(sb_hmap *m, const char *key, size_t klen, void *val,
                void **old) {
  uint32_t h;
  struct slot *s, *tomb = NULL;
  size_t i, mask;

  if (old)
    *old = NULL;
  if (klen > UINT32_MAX)
    return SB_EINVAL;
  h = slot_hash(key, klen);
  s = find(m, h, key, klen);
  if (s) {
    if (old)
      *old = s->val;
    s->key = key;
    s->val = val;
    return 0;
  }
  if ((m->used + 1) * 10 > m->cap * 7) {
    size_t cap = m->count * 2 + 2 > m->cap ? m->cap * 2 : m->cap;
    int rc = rehash(m, cap);
    if (rc)
      return rc;
  }
  mask = m->cap - 1;
  for (i = (size_t) h & mask;; i = (i + 1) & mask) {
    if (m->slots[i].hash == TOMB && !tomb)
      tomb = &m->slots[i];
    if (m->slots[i].hash == EMPTY)
      break;
  }
  s = tomb ? tomb : &m->slots[i];
  if (!tomb)
    m->used++;
  s->hash = h;
  s->key = key;
  s->klen = (uint32_t) klen;
  s->val = val;
  m->count++;
  return 0;
}

void sb_hmap_shrink(sb_hmap *m) {
  size_t cap = 16;

  /* A table shrinks only below 17.5% full (0.7 * half of it, for twice
   * the entries): above a fifth the answer is known without the loop,
   * which keeps this cheap for callers that ask after every delete. */
  if (m->count * 5 >= m->cap)
    return;

  while (cap * 7 / 10 < m->count * 2)
    cap *= 2;
  if (cap < m->cap)
    (void) rehash(m, cap);  /* without memory the table stays as it is */
}

void *sb_hmap_del(sb_hmap *m, const char *key, size_t klen) {
  struct slot *s;
  void *v;

  if (klen > UINT32_MAX)
    return NULL;
  s = find(m, slot_hash(key, klen), key, klen);
  if (!s)
    return NULL;
  v = s->val;
  s->hash = TOMB;
  s->key = NULL;
  s->klen = 0;
  s->val = NULL;
  m->count--;
  return v;
}

int sb_hmap_next(const sb_hmap *m, sb_hmap_iter *it, const char **key,
                 size_t *klen, void **val) {
  while (it->next < m->cap) {
    struct slot *s = &m->slots[it->next++];
    if (s->hash < 2)
      continue;
    if (key)
      *key = s->key;
    if (klen)
      *klen = s->klen;
    if (val)
      *val = s->val;
    return 1;
  }
  return 0;
}
