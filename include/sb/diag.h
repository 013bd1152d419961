/* diag.h -- diagnostics: what is wrong with an input, and where.
 *
 * Parsers and translators never print; they append diagnostics here and
 * carry on with the next object. The CLI prints them, the controller turns
 * them into Kubernetes Events and metrics. A diagnostic names as much of
 * "file:line:col: Kind ns/name: field.path: message" as is known.
 *
 * `reason` is a short CamelCase word that doubles as the Event reason
 * (SB_REASON_*); it always points to a static string.
 */
#ifndef SB_DIAG_H
#define SB_DIAG_H

#include <stddef.h>

#include "sb/buf.h"
#include "sb/common.h"

typedef enum { SB_DIAG_ERROR = 0, SB_DIAG_WARNING = 1 } sb_diag_sev;

/* Event reasons (docs/operations.md, "Events") and a few finer ones for
 * warnings. */
#define SB_REASON_TRANSLATED "Translated"
#define SB_REASON_INVALID "InvalidSpec"
#define SB_REASON_CONFLICT "Conflict"
#define SB_REASON_APPLY_FAILED "ApplyFailed"
#define SB_REASON_SYNTAX "SyntaxError"
#define SB_REASON_UNSUPPORTED "Unsupported"
#define SB_REASON_MISSING "MissingDependency"
#define SB_REASON_DROPPED "MatchDropped"
#define SB_REASON_SCALED "WeightsScaled"
#define SB_REASON_VERSION_SKEW "VersionSkew"

/* Where a diagnostic points. Every member may be NULL/0 when unknown. */
typedef struct sb_diag_loc {
  const char *file;
  int line;
  int col;
  const char *kind;
  const char *ns;
  const char *name;
} sb_diag_loc;

typedef struct sb_diag {
  sb_diag_sev sev;
  const char *reason;  /* static */
  char *file;          /* the strings below are owned by the list */
  int line;
  int col;
  char *kind;
  char *ns;
  char *name;
  char *path;          /* "spec.backends[1].weight" */
  char *msg;
} sb_diag;

typedef struct sb_diags {
  sb_diag *v;
  size_t n;
  size_t cap;
} sb_diags;

void sb_diags_init(sb_diags *d);
void sb_diags_free(sb_diags *d);
/* Appends one diagnostic; loc and path may be NULL. 0 or SB_ENOMEM. */
int sb_diags_add(sb_diags *d, sb_diag_sev sev, const char *reason,
                 const sb_diag_loc *loc, const char *path, const char *fmt,
                 ...) SB_PRINTF(6, 7);
/* Moves every entry of src to the end of dst; src ends empty. */
int sb_diags_move(sb_diags *dst, sb_diags *src);
size_t sb_diags_count(const sb_diags *d, sb_diag_sev sev);
/* "file:line:col: Kind ns/name: path: msg" (parts that are unknown are
 * left out; a warning gets "warning: " in front of msg). */
int sb_diag_format(const sb_diag *d, sb_buf *out);

#endif
