/* arena.h -- a bump allocator that owns every string and array of one object.
 *
 * A parsed object (an SMI resource, a Service, a cached Pod) keeps all its
 * pieces in one arena, so it is freed with one call and costs few malloc
 * headers: with 20,000 cached pods the per-allocation overhead is what
 * decides the resident size. Give sb_arena_new() a good size hint (the
 * parser can measure first) and the whole object is one allocation.
 */
#ifndef SB_ARENA_H
#define SB_ARENA_H

#include <stddef.h>

typedef struct sb_arena sb_arena;

/* hint: bytes expected; later chunks grow geometrically. NULL on ENOMEM. */
sb_arena *sb_arena_new(size_t hint);
void sb_arena_free(sb_arena *a);
/* Zeroed, 8-byte aligned memory, valid until sb_arena_free. NULL on ENOMEM. */
void *sb_arena_alloc(sb_arena *a, size_t n);
/* Copies; NULL in gives NULL out (not an error). */
char *sb_arena_strdup(sb_arena *a, const char *s);
char *sb_arena_strndup(sb_arena *a, const char *s, size_t n);
/* Total bytes reserved from malloc (for memory accounting). */
size_t sb_arena_size(const sb_arena *a);

#endif
