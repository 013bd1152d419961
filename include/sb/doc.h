/* doc.h -- YAML and JSON documents from untrusted bytes, with positions.
 *
 * Turns a byte buffer holding one or more documents (a YAML stream with
 * `---` separators, or one or more concatenated JSON values) into cJSON
 * trees, remembering the source line/column of every node so that later
 * stages can say "file:line: ... field.path: why".
 *
 * Hostile input is bounded (sb_doc_limits): total input size, size of one
 * document, nesting depth, and the number of nodes a document may produce
 * *after alias expansion* (a "billion laughs" stream fails fast with
 * SB_ELIMIT instead of eating memory).
 *
 * Scalars are typed the way Kubernetes reads YAML (YAML 1.2 core schema):
 * plain `true`/`false`, `null`/`~`/empty, integers and floats become cJSON
 * bools, nulls and numbers; everything else, and every quoted scalar, is a
 * string. Merge keys (`<<`) are expanded.
 *
 * Details (src/doc/ has the reasons):
 *   - numbers a double cannot carry stay strings with their exact text:
 *     integers above 2^53, literals that overflow, .inf/.nan;
 *   - keys are the scalar's text ("1", "true"); duplicate keys, non-scalar
 *     keys, anchors on keys, aliases as keys, strings holding NUL, and tags
 *     other than !!str/int/float/bool/null/binary/timestamp/map/seq and `!`
 *     are errors;
 *   - JSON is a stream whose first non-blank byte is `{` or `[` and that
 *     has no line starting `---`/`...`; if not one value of it reads as
 *     JSON, it is read as YAML instead (`{a: 1}` is a YAML flow mapping);
 *   - a mapping member's position is its key's; alias copies keep the
 *     positions of what they copy.
 */
#ifndef SB_DOC_H
#define SB_DOC_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "sb/diag.h"

typedef struct sb_doc_limits {
  size_t max_input_bytes;  /* whole buffer; default 64 MiB */
  size_t max_doc_bytes;    /* one document; default 8 MiB */
  unsigned max_depth;      /* nesting of maps/sequences; default 64 */
  size_t max_nodes;        /* nodes in one document incl. alias
                              expansion; default 1,000,000 */
} sb_doc_limits;

void sb_doc_limits_default(sb_doc_limits *l);

typedef struct sb_doc sb_doc;

/* Called once per document, in order. The callee owns doc and frees it with
 * sb_doc_free (it may keep it). Return 0 to continue, non-zero to stop
 * (sb_doc_parse then returns that value). Empty documents (a bare `---`)
 * are skipped, and so are documents that are just `null` or `~` (kubectl
 * skips them too). */
typedef int (*sb_doc_fn)(void *arg, sb_doc *doc);

/* Parses every document in data[0..len). `file` names the input in
 * diagnostics ("-" for stdin) and is copied.
 *
 * Returns 0 when every document parsed. A syntax error or a limit adds one
 * SB_DIAG_ERROR diagnostic with file:line:col (reason SB_REASON_SYNTAX) and
 * returns SB_EPARSE or SB_ELIMIT; documents before the bad one have already
 * been delivered. For YAML the stream cannot be resumed after a syntax
 * error; for JSON the parser skips to the next top-level value when it can.
 * SB_ENOMEM on allocation failure. */
int sb_doc_parse(const char *file, const char *data, size_t len,
                 const sb_doc_limits *limits, sb_doc_fn fn, void *arg,
                 sb_diags *diags);

/* The document's tree, owned by the doc. */
const cJSON *sb_doc_root(const sb_doc *doc);
/* Takes the tree out; the doc keeps positions (lookups of nodes of the
 * taken tree still work while that tree lives). Caller frees with
 * cJSON_Delete. */
cJSON *sb_doc_take_root(sb_doc *doc);
const char *sb_doc_file(const sb_doc *doc);
/* 1-based line/column where a node of this document starts; for a node
 * that is not known (or NULL), the document's first line and column 0. */
int sb_doc_line(const sb_doc *doc, const cJSON *node);
int sb_doc_col(const sb_doc *doc, const cJSON *node);
void sb_doc_free(sb_doc *doc);

/* Reads a whole file ("-" = stdin) into memory, refusing more than max
 * bytes (SB_ELIMIT). On error, writes a one-line reason to err. Caller
 * frees *data. */
int sb_doc_read_file(const char *path, size_t max, char **data, size_t *len,
                     char *err, size_t errlen);

#endif
