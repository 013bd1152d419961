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
#include <string.h>

#include "sb/hmap.h"

/* The hash of the group key "ns\0" (v NULL: a namespace group) or
 * "ns\0v" (an index group). Never 0, which marks a free table slot. */
static inline uint32_t sb__world_group_hash(const char *ns, const char *v) {
  uint64_t h = sb_hash_add(SB_HASH_INIT, ns, strlen(ns) + 1);
  uint32_t r;

  if (v)
    h = sb_hash_add(h, v, strlen(v));
  r = (uint32_t) sb_hash_final(h);
  return r ? r : 1;
}

#endif
