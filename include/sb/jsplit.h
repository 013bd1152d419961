/* jsplit.h -- a JSON object with one big array member, taken apart as
 * text: the object without the array, then the array's elements one at a
 * time.
 *
 * Why: a page of a Kubernetes list is one JSON object whose "items" hold
 * hundreds of objects. Parsed as one cJSON tree, a page of 500 pods is tens
 * of thousands of small allocations that live exactly as long as the page,
 * interleaved with the long-lived objects the cache makes from it; freed,
 * they leave holes no later allocation fills, and the heap stays that much
 * larger (under 20,000 pods, some 4 MiB of resident memory). Split, the
 * envelope is parsed alone and each item is parsed, used and freed before
 * the next, so the short-lived memory is one item's.
 *
 * The scanner checks structure only -- strings and their escapes, nesting,
 * separators -- not the grammar of numbers and literals: cJSON parses each
 * piece it returns, so an item that is not JSON is found when its turn
 * comes. No allocation but the envelope's copy.
 */
#ifndef SB_JSPLIT_H
#define SB_JSPLIT_H

#include <stddef.h>

typedef struct sb_jsplit {
  const char *p;      /* the next element (or the closing bracket) */
  const char *end;    /* one past the array's closing bracket */
  int more;           /* a comma was read: an element must follow */
} sb_jsplit;

/* s holds one JSON object. Finds its top-level member named key (the first
 * one, as cJSON's lookup does); sets *env to a malloc'd, NUL-terminated
 * copy of s in which that member's value is [] (*envlen its length) and
 * *it to the elements. A member that is absent or null gives no elements
 * (and the copy is s as it is). 0; SB_EPARSE when s is not an object, the
 * member is neither an array nor null, or the structure is broken;
 * SB_ENOMEM. On error *env is NULL. */
int sb_jsplit_begin(const char *s, size_t len, const char *key, char **env,
                    size_t *envlen, sb_jsplit *it);

/* 1 and the next element's text in *elem and *elen (surrounding whitespace
 * removed; it points into s, which must stay alive), 0 after the last one,
 * SB_EPARSE when the array is malformed (then every later call too). */
int sb_jsplit_next(sb_jsplit *it, const char **elem, size_t *elen);

#endif
