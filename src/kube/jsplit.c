/* jsplit.c -- a JSON object's array member, element by element. See
 * sb/jsplit.h.
 *
 * Skipping a value is a walk over its bytes that knows three things:
 * strings (a quote inside one, escaped or not, closes nothing), brackets
 * (each closer must match its opener; the stack is a bit per level, as
 * deep as cJSON allows) and where a scalar ends. Everything else is left
 * to cJSON, which parses what is returned.
 */
#include "sb/jsplit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sb/err.h"

/* cJSON's CJSON_NESTING_LIMIT: deeper input would not parse anyway. */
#define MAX_DEPTH 1000

/* What cJSON skips as whitespace (every byte up to space): the pieces
 * must split wherever cJSON would have parsed the whole. */
static int is_ws(char c) {
  return (unsigned char) c <= 32;
}

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && is_ws(*p))
    p++;
  return p;
}

/* p at an opening quote: returns one past the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    if (*p == '"')
      return p + 1;
    if (*p == '\\' && ++p == end)
      return NULL;
  }
  return NULL;
}

/* p at the first byte of a value: returns one past it, or NULL. */
static const char *skip_value(const char *p, const char *end) {
  unsigned char stack[(MAX_DEPTH + 7) / 8];
  size_t depth = 0;

  if (p >= end)
    return NULL;
  if (*p == '"')
    return skip_string(p, end);
  if (*p != '{' && *p != '[') {
    const char *q = p;
    while (q < end && !is_ws(*q) && *q != ',' && *q != '}' && *q != ']' &&
           *q != ':' && *q != '"' && *q != '{' && *q != '[')
      q++;
    return q > p ? q : NULL;
  }
  while (p < end) {
    char c = *p;

    if (c == '"') {
      p = skip_string(p, end);
      if (!p)
        return NULL;
      continue;
    }
    if (c == '{' || c == '[') {
      if (depth == MAX_DEPTH)
        return NULL;
      if (c == '{')
        stack[depth / 8] |= (unsigned char) (1u << (depth % 8));
      else
        stack[depth / 8] &= (unsigned char) ~(1u << (depth % 8));
      depth++;
    } else if (c == '}' || c == ']') {
      int brace;
      if (depth == 0)
        return NULL;
      depth--;
      brace = (stack[depth / 8] >> (depth % 8)) & 1;
      if (brace != (c == '}'))
        return NULL;
      if (depth == 0)
        return p + 1;
    }
    p++;
  }
  return NULL;
}

int sb_jsplit_begin(const char *s, size_t len, const char *key, char **env,
                    size_t *envlen, sb_jsplit *it) {
  const char *p, *end = s + len, *vstart = NULL, *vend = NULL;
  size_t klen = strlen(key), n;
  char *out;

  *env = NULL;
  *envlen = 0;
  it->p = it->end = NULL;
  it->more = 0;
  p = skip_ws(s, end);
  if (p == end || *p != '{')
    return SB_EPARSE;
  p = skip_ws(p + 1, end);
  if (p < end && *p == '}') {
    p++;
  } else {
    for (;;) {
      const char *k = p, *kend, *v;

      if (p >= end || *p != '"' || !(kend = skip_string(p, end)))
        return SB_EPARSE;
      p = skip_ws(kend, end);
      if (p == end || *p != ':')
        return SB_EPARSE;
      v = skip_ws(p + 1, end);
      p = skip_value(v, end);
      if (!p)
        return SB_EPARSE;
      /* The key as written, between its quotes (an API server does not
       * escape "items"). */
      if (!vstart && (size_t) (kend - k) == klen + 2 &&
          memcmp(k + 1, key, klen) == 0) {
        vstart = v;
        vend = p;
      }
      p = skip_ws(p, end);
      if (p < end && *p == ',') {
        p = skip_ws(p + 1, end);
        continue;
      }
      if (p < end && *p == '}') {
        p++;
        break;
      }
      return SB_EPARSE;
    }
  }
  if (skip_ws(p, end) != end)
    return SB_EPARSE;
  if (vstart && *vstart == 'n' && vend - vstart == 4 &&
      memcmp(vstart, "null", 4) == 0)
    vstart = NULL;  /* "items": null is a list without items */
  if (vstart && *vstart != '[')
    return SB_EPARSE;

  n = vstart ? len - (size_t) (vend - vstart) + 2 : len;
  out = malloc(n + 1);
  if (!out)
    return SB_ENOMEM;
  if (vstart) {
    size_t head = (size_t) (vstart - s);
    memcpy(out, s, head);
    memcpy(out + head, "[]", 2);
    memcpy(out + head + 2, vend, (size_t) (end - vend));
    it->p = vstart + 1;
    it->end = vend;
  } else {
    memcpy(out, s, len);
  }
  out[n] = '\0';
  *env = out;
  *envlen = n;
  return 0;
}

int sb_jsplit_next(sb_jsplit *it, const char **elem, size_t *elen) {
  const char *p, *q;

  if (!it->p)
    return 0;
  p = skip_ws(it->p, it->end);
  if (p < it->end && *p == ']' && !it->more) {
    it->p = NULL;  /* done */
    return 0;
  }
  q = skip_value(p, it->end);
  if (!q)
    goto bad;
  *elem = p;
  *elen = (size_t) (q - p);
  q = skip_ws(q, it->end);
  if (q < it->end && *q == ',') {
    it->more = 1;
    it->p = q + 1;
  } else if (q < it->end && *q == ']') {
    it->more = 0;
    it->p = q;
  } else {
    goto bad;
  }
  return 1;
bad:
  it->p = it->end;  /* an error, and stays one */
  it->more = 1;
  return SB_EPARSE;
}
