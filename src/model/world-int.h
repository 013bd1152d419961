/* world-int.h -- private to world.c and its unit test.
 *
 * world.c finds a group (the entries of one namespace, or of one index
 * key) by a 32-bit hash of its key alone, without keeping the key: keys
 * that share a hash share a group, and iterations compare each object's
 * own strings. Such keys are rare, so only a test that goes looking for
 * them exercises that path; it looks with this very function.
 */
#ifndef SB_WORLD_INT_H
#define SB_WORLD_INT_H

#include <stdint.h>
#include "sb/hmap.h"

/* The world's one string hash: FNV-1a over "ns\0" and then v (when not
 * NULL), in one pass without building the composite string, and the
 * avalanche that makes its low bits depend on every byte. It finds
 * entries by (ns, name) and groups by "ns\0" (a namespace group, v NULL)
 * or "ns\0v" (an index group). Never 0, which marks a free group slot. */
static inline uint32_t sb__world_group_hash(const char *ns, const char *v) {
  uint64_t h = SB_HASH_INIT;
  const unsigned char *p;
  uint32_t r;

  for (p = (const unsigned char *) ns; *p; p++)
    h = (h ^ *p) * 1099511628211ULL;
  h *= 1099511628211ULL;  /* the NUL after ns */
  if (v)
    for (p = (const unsigned char *) v; *p; p++)
      h = (h ^ *p) * 1099511628211ULL;
  r = (uint32_t) sb_hash_final(h);
  return r ? r : 1;
}

#endif
