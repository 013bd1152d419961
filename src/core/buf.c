/* buf.c -- capped growable buffer. See sb/buf.h. */
#include "sb/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb/err.h"

void sb_buf_init(sb_buf *b, size_t max) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

void sb_buf_free(sb_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void sb_buf_reset(sb_buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

/* Makes room for n more bytes plus the terminating NUL. */
static int buf_reserve(sb_buf *b, size_t n) {
  size_t need, cap;
  char *p;

  if (n > b->max || b->len > b->max - n)
    return SB_ELIMIT;
  need = b->len + n + 1;
  if (need <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap = cap > ((size_t) -1) / 2 ? need : cap * 2;
  p = realloc(b->data, cap);
  if (!p)
    return SB_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int sb_buf_add(sb_buf *b, const void *p, size_t n) {
  int rc = buf_reserve(b, n);
  if (rc)
    return rc;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int sb_buf_adds(sb_buf *b, const char *s) {
  return sb_buf_add(b, s, strlen(s));
}

int sb_buf_addc(sb_buf *b, char c) {
  return sb_buf_add(b, &c, 1);
}

int sb_buf_vaddf(sb_buf *b, const char *fmt, va_list ap) {
  va_list cp;
  int n, rc;

  va_copy(cp, ap);
  n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n < 0)
    return SB_EINVAL;
  rc = buf_reserve(b, (size_t) n);
  if (rc)
    return rc;
  vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
  b->len += (size_t) n;
  return 0;
}

int sb_buf_addf(sb_buf *b, const char *fmt, ...) {
  va_list ap;
  int rc;

  va_start(ap, fmt);
  rc = sb_buf_vaddf(b, fmt, ap);
  va_end(ap);
  return rc;
}

void sb_buf_consume(sb_buf *b, size_t n) {
  if (n >= b->len) {
    sb_buf_reset(b);
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = '\0';
}

char *sb_buf_steal(sb_buf *b, size_t *len) {
  char *p = b->data;

  if (len)
    *len = b->len;
  if (!p)
    p = calloc(1, 1);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  return p;
}

const char *sb_buf_cstr(const sb_buf *b) {
  return b->data ? b->data : "";
}
