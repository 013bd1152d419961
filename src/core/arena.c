/* arena.c -- chunked bump allocator. See sb/arena.h.
 *
 * The first chunk is allocated together with the arena header, so a small
 * object with an accurate hint costs exactly one malloc.
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

struct sb_arena {
  struct chunk *head;   /* the chunk being filled */
  size_t total;
  struct chunk first;   /* must stay last: its data follows the struct */
};

#define ALIGN8(n) (((n) + 7u) & ~(size_t) 7u)
#define CHUNK_DATA(c) ((char *) (c) + ALIGN8(sizeof(struct chunk)))

sb_arena *sb_arena_new(size_t hint) {
  sb_arena *a;
  size_t cap = ALIGN8(hint ? hint : 128);
  size_t head = ALIGN8(sizeof(sb_arena));

  a = malloc(head + cap);
  if (!a)
    return NULL;
  a->first.next = NULL;
  a->first.cap = cap;
  a->first.used = 0;
  a->head = NULL;  /* the embedded chunk is used through first_data() */
  a->total = head + cap;
  return a;
}

/* The embedded chunk's data lives right after the arena struct. */
static char *first_data(sb_arena *a) {
  return (char *) a + ALIGN8(sizeof(sb_arena));
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

void *sb_arena_alloc(sb_arena *a, size_t n) {
  struct chunk *c;
  size_t cap;
  void *p;

  n = ALIGN8(n ? n : 1);
  if (!a->head && a->first.cap - a->first.used >= n) {
    p = first_data(a) + a->first.used;
    a->first.used += n;
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
  cap = a->total;  /* grow geometrically */
  if (cap < n)
    cap = n;
  if (cap > SIZE_MAX / 2)
    return NULL;
  c = malloc(ALIGN8(sizeof(struct chunk)) + cap);
  if (!c)
    return NULL;
  c->next = a->head;
  c->cap = cap;
  c->used = n;
  a->head = c;
  a->total += ALIGN8(sizeof(struct chunk)) + cap;
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

size_t sb_arena_size(const sb_arena *a) {
  return a ? a->total : 0;
}
