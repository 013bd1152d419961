/* diag.c -- diagnostic lists and their one-line rendering. See sb/diag.h. */
#include "sb/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sb/err.h"

void sb_diags_init(sb_diags *d) {
  d->v = NULL;
  d->n = 0;
  d->cap = 0;
}

static void diag_clear(sb_diag *x) {
  free(x->file);
  free(x->kind);
  free(x->ns);
  free(x->name);
  free(x->path);
  free(x->msg);
}

void sb_diags_free(sb_diags *d) {
  size_t i;

  for (i = 0; i < d->n; i++)
    diag_clear(&d->v[i]);
  free(d->v);
  sb_diags_init(d);
}

static int grow(sb_diags *d, size_t more) {
  size_t cap;
  sb_diag *v;

  if (d->n + more <= d->cap)
    return 0;
  cap = d->cap ? d->cap * 2 : 4;
  while (cap < d->n + more)
    cap *= 2;
  v = realloc(d->v, cap * sizeof(*v));
  if (!v)
    return SB_ENOMEM;
  d->v = v;
  d->cap = cap;
  return 0;
}

static char *dup_or_null(const char *s, int *fail) {
  char *p;

  if (!s)
    return NULL;
  p = strdup(s);
  if (!p)
    *fail = 1;
  return p;
}

int sb_diags_add(sb_diags *d, sb_diag_sev sev, const char *reason,
                 const sb_diag_loc *loc, const char *path, const char *fmt,
                 ...) {
  sb_diag x;
  sb_buf msg;
  va_list ap;
  int fail = 0, rc;

  memset(&x, 0, sizeof(x));
  x.sev = sev;
  x.reason = reason;
  if (loc) {
    x.file = dup_or_null(loc->file, &fail);
    x.line = loc->line;
    x.col = loc->col;
    x.kind = dup_or_null(loc->kind, &fail);
    x.ns = dup_or_null(loc->ns, &fail);
    x.name = dup_or_null(loc->name, &fail);
  }
  x.path = dup_or_null(path, &fail);
  sb_buf_init(&msg, 64 * 1024);
  va_start(ap, fmt);
  rc = sb_buf_vaddf(&msg, fmt, ap);
  va_end(ap);
  x.msg = sb_buf_steal(&msg, NULL);
  if (rc == SB_ENOMEM || !x.msg || fail || grow(d, 1)) {
    diag_clear(&x);
    return SB_ENOMEM;
  }
  d->v[d->n++] = x;
  return 0;
}

int sb_diags_move(sb_diags *dst, sb_diags *src) {
  if (grow(dst, src->n))
    return SB_ENOMEM;
  if (src->n)
    memcpy(dst->v + dst->n, src->v, src->n * sizeof(sb_diag));
  dst->n += src->n;
  free(src->v);
  sb_diags_init(src);
  return 0;
}

size_t sb_diags_count(const sb_diags *d, sb_diag_sev sev) {
  size_t i, c = 0;

  for (i = 0; i < d->n; i++)
    if (d->v[i].sev == sev)
      c++;
  return c;
}

int sb_diag_format(const sb_diag *d, sb_buf *out) {
  int rc = 0;

  if (d->file) {
    rc |= sb_buf_adds(out, d->file);
    if (d->line > 0)
      rc |= sb_buf_addf(out, ":%d", d->line);
    if (d->line > 0 && d->col > 0)
      rc |= sb_buf_addf(out, ":%d", d->col);
    rc |= sb_buf_adds(out, ": ");
  }
  if (d->kind) {
    rc |= sb_buf_addf(out, "%s ", d->kind);
    if (d->ns && *d->ns)
      rc |= sb_buf_addf(out, "%s/", d->ns);
    rc |= sb_buf_addf(out, "%s: ", d->name ? d->name : "<unnamed>");
  }
  if (d->path && *d->path)
    rc |= sb_buf_addf(out, "%s: ", d->path);
  if (d->sev == SB_DIAG_WARNING)
    rc |= sb_buf_adds(out, "warning: ");
  rc |= sb_buf_adds(out, d->msg ? d->msg : "");
  return rc ? SB_ENOMEM : 0;
}
