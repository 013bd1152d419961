/* arena.c -- chunked bump allocator. See sb/arena.h.
 *
 * The first chunk is allocated together with the arena header, so a small
 * object with an accurate hint costs exactly one malloc (16 bytes of
 * header plus the hint).
 */
#include "sb/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct chunk {
  struct chunk *next;
  size_t cap;
  size_t used;
  /* data follows, 8-byte aligned */
};

/* 16 bytes: with tens of thousands of cached objects, each an arena, the
 * header is part of every object's cost. The first chunk is described by
 * cap/used and its data follows the struct; later chunks are listed from
 * head. */
struct sb_arena {
  struct chunk *head;   /* later chunks, the one being filled first */
  uint32_t cap;         /* the first chunk */
  uint32_t used;
};

#define ALIGN8(n) (((n) + 7u) & ~(size_t) 7u)
#define HEAD_SIZE ALIGN8(sizeof(sb_arena))
#define CHUNK_HEAD ALIGN8(sizeof(struct chunk))
#define CHUNK_DATA(c) ((char *) (c) + CHUNK_HEAD)

sb_arena *sb_arena_new(size_t hint) {
  sb_arena *a;
  size_t cap = ALIGN8(hint ? hint : 128);

  if (cap > UINT32_MAX)
    cap = 0;  /* everything goes to a chunk of its own */
  a = malloc(HEAD_SIZE + cap);
  if (!a)
    return NULL;
  a->head = NULL;
  a->cap = (uint32_t) cap;
  a->used = 0;
  return a;
}

void sb_arena_free(sb_arena *a) {
  struct chunk *c, *next;

  if (!a)
    return;
  for (c = a->head; c; c = next) {
    next = c->next;
    free(c);
  }
  free(a);
}

size_t sb_arena_size(const sb_arena *a) {
  const struct chunk *c;
  size_t n;

  if (!a)
    return 0;
  n = HEAD_SIZE + a->cap;
  for (c = a->head; c; c = c->next)
    n += CHUNK_HEAD + c->cap;
  return n;
}

void *sb_arena_alloc(sb_arena *a, size_t n) {
  struct chunk *c;
  size_t cap;
  void *p;

  n = ALIGN8(n ? n : 1);
  if (!a->head && a->cap - a->used >= n) {
    p = (char *) a + HEAD_SIZE + a->used;
    a->used += (uint32_t) n;
    memset(p, 0, n);
    return p;
  }
  c = a->head;
  if (c && c->cap - c->used >= n) {
    p = CHUNK_DATA(c) + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
  }
  cap = sb_arena_size(a);  /* grow geometrically */
  if (cap < n)
    cap = n;
  if (cap > SIZE_MAX / 2)
    return NULL;
  c = malloc(CHUNK_HEAD + cap);
  if (!c)
    return NULL;
  c->next = a->head;
  c->cap = cap;
  c->used = n;
  a->head = c;
  p = CHUNK_DATA(c);
  memset(p, 0, n);
  return p;
}

char *sb_arena_strndup(sb_arena *a, const char *s, size_t n) {
  char *p;

  if (!s)
    return NULL;
  p = sb_arena_alloc(a, n + 1);
  if (!p)
    return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *sb_arena_strdup(sb_arena *a, const char *s) {
  return s ? sb_arena_strndup(a, s, strlen(s)) : NULL;
}
