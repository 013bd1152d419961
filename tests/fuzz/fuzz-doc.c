/* fuzz-doc.c -- bytes -> sb_doc_parse -> emit YAML and JSON -> parse again.
 *
 * Properties checked on every input (abort() on a violation, so libFuzzer
 * keeps the input as a crash):
 *   - the return code and the diagnostics agree: 0 with no error, SB_EPARSE
 *     or SB_ELIMIT with at least one error that has a line, nothing else;
 *   - every node of every delivered tree has a position (line and column
 *     > 0), also after sb_doc_take_root;
 *   - emitting a tree never fails, and parsing the YAML, the pretty JSON and
 *     the compact JSON each gives back exactly one document that is equal to
 *     the tree: same types, same key order, bit-identical numbers, and
 *     cJSON_Compare agrees.
 * Small limits keep each run fast and make the limit paths reachable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb/doc.h"
#include "sb/emit.h"
#include "sb/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz-doc: property violated: %s\n", what);
    abort();
  }
}

static int same(const cJSON *a, const cJSON *b) {
  const cJSON *x, *y;

  if ((a->type & 0xFF) != (b->type & 0xFF))
    return 0;
  if ((a->string == NULL) != (b->string == NULL) ||
      (a->string && strcmp(a->string, b->string) != 0))
    return 0;
  switch (a->type & 0xFF) {
  case cJSON_Number:
    return memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) == 0 ||
           a->valuedouble == b->valuedouble;
  case cJSON_String:
    return strcmp(a->valuestring, b->valuestring) == 0;
  case cJSON_Object:
  case cJSON_Array:
    for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
      if (!same(x, y))
        return 0;
    return !x && !y;
  default:
    return 1;
  }
}

static void positions(const sb_doc *doc, const cJSON *n) {
  const cJSON *c;

  check(sb_doc_line(doc, n) > 0 && sb_doc_col(doc, n) > 0,
        "every node has a position");
  for (c = n->child; c; c = c->next)
    positions(doc, c);
}

struct reparse {
  cJSON *root;
  int docs;
};

static int keep(void *arg, sb_doc *doc) {
  struct reparse *r = arg;

  r->docs++;
  if (!r->root)
    r->root = sb_doc_take_root(doc);
  sb_doc_free(doc);
  return 0;
}

static void round_trip(const cJSON *tree, const char *text, size_t len,
                       const char *what) {
  struct reparse r = {NULL, 0};
  sb_diags d;
  int rc;

  sb_diags_init(&d);
  rc = sb_doc_parse("again", text, len, NULL, keep, &r, &d);
  if (rc != 0 || r.docs != 1 || !same(tree, r.root) ||
      !cJSON_Compare(tree, r.root, 1)) {
    fprintf(stderr, "%s round trip failed (rc %d, %d docs):\n%s\n", what,
            rc, r.docs, text);
    if (d.n)
      fprintf(stderr, "first diagnostic: line %d col %d: %s\n", d.v[0].line,
              d.v[0].col, d.v[0].msg);
    abort();
  }
  cJSON_Delete(r.root);
  sb_diags_free(&d);
}

static int on_doc(void *arg, sb_doc *doc) {
  sb_buf out;
  cJSON *root;

  (void) arg;
  root = sb_doc_take_root(doc);
  check(root && !cJSON_IsNull(root), "null documents are skipped");
  check(sb_doc_root(doc) == NULL, "take_root empties the doc");
  positions(doc, root);
  sb_buf_init(&out, SB_BUF_UNLIMITED);
  check(sb_emit_yaml(root, &out) == 0, "emit YAML");
  round_trip(root, out.data, out.len, "YAML");
  sb_buf_reset(&out);
  check(sb_emit_json(root, &out, 1) == 0, "emit pretty JSON");
  round_trip(root, out.data, out.len, "pretty JSON");
  sb_buf_reset(&out);
  check(sb_emit_json(root, &out, 0) == 0, "emit compact JSON");
  round_trip(root, out.data, out.len, "compact JSON");
  sb_buf_free(&out);
  cJSON_Delete(root);
  sb_doc_free(doc);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sb_doc_limits lim;
  sb_diags d;
  size_t i;
  int rc;

  sb_doc_limits_default(&lim);
  lim.max_input_bytes = 1 << 20;
  lim.max_doc_bytes = 64 * 1024;
  lim.max_depth = 32;
  lim.max_nodes = 5000;
  sb_diags_init(&d);
  rc = sb_doc_parse("fuzz", (const char *) data, size, &lim, on_doc, NULL,
                    &d);
  check(rc == 0 || rc == SB_EPARSE || rc == SB_ELIMIT, "return code");
  check((rc == 0) == (sb_diags_count(&d, SB_DIAG_ERROR) == 0),
        "an error return comes with an error diagnostic");
  for (i = 0; i < d.n; i++)
    check(d.v[i].line > 0 && d.v[i].msg && d.v[i].msg[0],
          "diagnostics name a line and say something");
  sb_diags_free(&d);
  return 0;
}
