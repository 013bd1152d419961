/* hmap.h -- a hash map from byte-string keys to pointers.
 *
 * Keys are borrowed, not copied: the caller keeps each key alive for as long
 * as its entry exists (usually the key points into the value's own arena).
 * That keeps a cache of tens of thousands of objects to one allocation per
 * object. Values are never freed by the map.
 *
 * Iteration order is unspecified and changes as the map grows; code whose
 * output must be deterministic sorts what it collects.
 */
#ifndef SB_HMAP_H
#define SB_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sb_hmap sb_hmap;

typedef struct sb_hmap_iter {
  size_t next;  /* opaque position; start at 0 */
} sb_hmap_iter;

sb_hmap *sb_hmap_new(size_t hint);
void sb_hmap_free(sb_hmap *m);
size_t sb_hmap_count(const sb_hmap *m);
void *sb_hmap_get(const sb_hmap *m, const char *key, size_t klen);
/* Inserts or replaces. On replace, the old value goes to *old (when old is
 * not NULL) and the stored key pointer becomes the new one. 0, SB_ENOMEM, or
 * SB_EINVAL for a key longer than 4 GiB. */
int sb_hmap_put(sb_hmap *m, const char *key, size_t klen, void *val,
                void **old);
/* Removes the entry; returns its value or NULL when absent. The table
 * keeps its size (an iteration may delete the entry it just returned). */
void *sb_hmap_del(sb_hmap *m, const char *key, size_t klen);
/* Gives back the slots a map that once was large no longer needs: the
 * table shrinks to twice what its entries need, at least 16 slots. Not
 * during an iteration. Without memory it keeps its size. */
void sb_hmap_shrink(sb_hmap *m);
/* Returns 1 and fills key/klen/val for the next entry, 0 at the end.
 * The map must not be modified during an iteration, except by deleting the
 * entry just returned. */
int sb_hmap_next(const sb_hmap *m, sb_hmap_iter *it, const char **key,
                 size_t *klen, void **val);
/* The hash the map uses, for callers that shard or combine keys. */
uint64_t sb_hash(const void *p, size_t n);
/* Its parts, for hashes built piece by piece: FNV-1a from SB_HASH_INIT
 * over each piece, then sb_hash_final (the avalanche that makes the low
 * bits depend on every byte). sb_hash(p, n) ==
 * sb_hash_final(sb_hash_add(SB_HASH_INIT, p, n)). */
#define SB_HASH_INIT 1469598103934665603ULL
uint64_t sb_hash_add(uint64_t h, const void *p, size_t n);
uint64_t sb_hash_final(uint64_t h);

#endif
