/* buf.h -- a growable byte buffer with a hard cap (curl's dynbuf idea).
 *
 * Every buffer that holds outside input has a maximum size: growing past it
 * fails with SB_ELIMIT instead of eating memory. The struct is public so a
 * buffer can live on the stack or inside another struct; treat the fields
 * as read-only outside buf.c.
 */
#ifndef SB_BUF_H
#define SB_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "sb/common.h"

typedef struct sb_buf {
  char *data;  /* NUL-terminated whenever len > 0 or after any add */
  size_t len;
  size_t cap;
  size_t max;  /* the cap: len never exceeds it */
} sb_buf;

#define SB_BUF_UNLIMITED ((size_t) -1)

void sb_buf_init(sb_buf *b, size_t max);
/* Frees the storage and leaves an empty buffer with the same cap. */
void sb_buf_free(sb_buf *b);
/* Drops the contents, keeps the storage for reuse. */
void sb_buf_reset(sb_buf *b);
/* 0, SB_ENOMEM, or SB_ELIMIT (nothing is added then). */
int sb_buf_add(sb_buf *b, const void *p, size_t n);
int sb_buf_adds(sb_buf *b, const char *s);
int sb_buf_addc(sb_buf *b, char c);
int sb_buf_addf(sb_buf *b, const char *fmt, ...) SB_PRINTF(2, 3);
int sb_buf_vaddf(sb_buf *b, const char *fmt, va_list ap);
/* Removes the first n bytes (a consumed line of a stream, say). */
void sb_buf_consume(sb_buf *b, size_t n);
/* Hands the storage to the caller (free() it); the buffer becomes empty.
 * Returns "" copied into fresh memory when the buffer is empty, NULL on
 * allocation failure. */
char *sb_buf_steal(sb_buf *b, size_t *len);
/* The contents as a C string; never NULL ("" when empty). */
const char *sb_buf_cstr(const sb_buf *b);

#endif
