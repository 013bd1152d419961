/* doc-int.h -- private to src/doc: the tree builder both readers feed, and
 * the scalar typing the YAML reader and the YAML emitter share.
 *
 * The YAML reader (yaml.c, libyaml events) and the JSON reader (json.c, a
 * hand-written scanner) are only event sources. Everything that decides what
 * a tree may look like -- limits, positions, duplicate keys, anchors,
 * aliases, merge keys -- lives once, in the builder (doc.c), so both input
 * formats obey exactly the same rules and give the same diagnostics.
 */
#ifndef SB_DOC_INT_H
#define SB_DOC_INT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "sb/common.h"
#include "sb/diag.h"
#include "sb/doc.h"

/* ---- scalar typing (scalar.c) ------------------------------------------ */

/* What a YAML 1.2 core-schema reader makes of a plain scalar. */
typedef enum {
  SB__SC_STRING = 0,
  SB__SC_NULL,
  SB__SC_TRUE,
  SB__SC_FALSE,
  SB__SC_INT,      /* *num holds the value exactly (|v| <= 2^53) */
  SB__SC_FLOAT,    /* *num holds the value (finite) */
  SB__SC_BIGINT,   /* integer syntax, magnitude above 2^53 */
  SB__SC_NONFIN    /* .inf/.nan, or a float literal that overflows */
} sb__scalar;

/* Types s[0..n) (s is NUL-terminated at n). *num may be NULL. */
sb__scalar sb__scalar_resolve(const char *s, size_t n, double *num);

/* Largest integer a double (and so cJSON) holds with every digit: 2^53. */
#define SB__MAX_EXACT 9007199254740992.0

/* Validates UTF-8 (no overlongs, no surrogates, <= U+10FFFF). Returns the
 * length of the sequence at s (1..4), 0 when it is invalid. n > 0. */
size_t sb__utf8_len(const unsigned char *s, size_t n, unsigned *cp);

/* ---- the builder (doc.c) ------------------------------------------------ */

typedef struct sb__builder sb__builder;

/* Every builder call returns 0 or a negative SB_E*; on error it has already
 * added the one diagnostic and the reader must stop (or, for JSON, call
 * sb__b_abort and resynchronise). */
sb__builder *sb__b_new(const char *file, const sb_doc_limits *lim,
                       sb_doc_fn fn, void *arg, sb_diags *diags);
void sb__b_free(sb__builder *b);

/* The diagnostic every failure ends in (reason SB_REASON_SYNTAX). Returns
 * rc, or SB_ENOMEM when even the diagnostic cannot be stored. */
int sb__b_fail(sb__builder *b, int rc, int line, int col, const char *fmt,
               ...) SB_PRINTF(5, 6);

int sb__b_doc_start(sb__builder *b, int line, int col);
/* Delivers the document (unless its root is null) and returns what the
 * callback returned. */
int sb__b_doc_end(sb__builder *b);
/* Drops the document being built (after an error). */
void sb__b_abort(sb__builder *b);

/* Nesting of the containers open now (0 = at the document's top). */
unsigned sb__b_depth(const sb__builder *b);
/* Is the innermost open container a mapping that waits for a key? */
int sb__b_want_key(const sb__builder *b);
int sb__b_top_is_map(const sb__builder *b);

/* A key of the innermost mapping; s is copied. merge: the plain `<<`. */
int sb__b_key(sb__builder *b, const char *s, size_t n, int merge, int line,
              int col);
/* A finished value (scalar) node; the builder owns node from now on, even
 * on error. */
int sb__b_value(sb__builder *b, cJSON *node, int line, int col);
int sb__b_open(sb__builder *b, int is_map, int line, int col);
int sb__b_close(sb__builder *b);
/* Names the node just given to sb__b_value or sb__b_open. */
int sb__b_anchor(sb__builder *b, const char *name, int line, int col);
int sb__b_alias(sb__builder *b, const char *name, int line, int col);

/* A string node that takes ownership of s (allocated with cJSON_malloc). */
cJSON *sb__string_node(char *s);

/* "64 MiB", "3 KiB", "100 bytes" for limit messages; returns buf. */
const char *sb__size_text(size_t n, char *buf, size_t len);

/* ---- the readers -------------------------------------------------------- */

int sb__yaml_parse(sb__builder *b, const char *data, size_t len,
                   const sb_doc_limits *lim);
int sb__json_parse(sb__builder *b, const char *data, size_t len,
                   const sb_doc_limits *lim);

#endif
