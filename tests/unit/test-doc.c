/* test-doc.c -- sb_doc: YAML and JSON streams, typing, positions, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sb/doc.h"
#include "sb/err.h"

/* ---- helpers ------------------------------------------------------------ */

#define MAX_DOCS 16

typedef struct got {
  sb_doc *docs[MAX_DOCS];
  int n;
  int stop_at;   /* 1-based document whose callback returns stop_rc */
  int stop_rc;
} got;

static int collect(void *arg, sb_doc *doc) {
  got *g = arg;

  assert_true(g->n < MAX_DOCS);
  g->docs[g->n++] = doc;
  if (g->stop_at && g->n == g->stop_at)
    return g->stop_rc;
  return 0;
}

static void got_free(got *g) {
  int i;

  for (i = 0; i < g->n; i++)
    sb_doc_free(g->docs[i]);
  memset(g, 0, sizeof(*g));
}

static int parse_lim(const char *text, const sb_doc_limits *lim, got *g,
                     sb_diags *d) {
  memset(g, 0, sizeof(*g));
  sb_diags_init(d);
  return sb_doc_parse("t.yaml", text, strlen(text), lim, collect, g, d);
}

static int parse(const char *text, got *g, sb_diags *d) {
  return parse_lim(text, NULL, g, d);
}

/* Parses text that must hold exactly one document; returns its root. */
static const cJSON *one(const char *text, got *g) {
  sb_diags d;
  int rc = parse(text, g, &d);

  if (rc != 0 && d.n > 0)
    fprintf(stderr, "unexpected: %d:%d: %s\n", d.v[0].line, d.v[0].col,
            d.v[0].msg);
  assert_int_equal(rc, 0);
  assert_int_equal(d.n, 0);
  assert_int_equal(g->n, 1);
  sb_diags_free(&d);
  return sb_doc_root(g->docs[0]);
}

/* Expects failure rc with exactly one diagnostic at line:col whose
 * message contains msg. */
static void fails_lim(const char *text, const sb_doc_limits *lim, int rc,
                      int line, int col, const char *msg) {
  sb_diags d;
  got g;
  int r = parse_lim(text, lim, &g, &d);

  if (d.n != 1 || d.v[0].line != line || d.v[0].col != col ||
      !strstr(d.v[0].msg, msg))
    fprintf(stderr, "input: %s\n got: %zu diags, first %d:%d: %s\n", text,
            d.n, d.n ? d.v[0].line : 0, d.n ? d.v[0].col : 0,
            d.n ? d.v[0].msg : "");
  assert_int_equal(r, rc);
  assert_int_equal(d.n, 1);
  assert_int_equal(d.v[0].sev, SB_DIAG_ERROR);
  assert_string_equal(d.v[0].reason, SB_REASON_SYNTAX);
  assert_string_equal(d.v[0].file, "t.yaml");
  assert_int_equal(d.v[0].line, line);
  assert_int_equal(d.v[0].col, col);
  assert_non_null(strstr(d.v[0].msg, msg));
  sb_diags_free(&d);
  got_free(&g);
}

static void fails(const char *text, int rc, int line, int col,
                  const char *msg) {
  fails_lim(text, NULL, rc, line, col, msg);
}

/* Walks "a.b.0.c" (numbers index sequences). */
static const cJSON *at(const cJSON *n, const char *path) {
  while (n && *path) {
    char part[128];
    size_t k = strcspn(path, ".");
    assert_true(k < sizeof(part));
    memcpy(part, path, k);
    part[k] = '\0';
    if (cJSON_IsArray(n))
      n = cJSON_GetArrayItem(n, (int) strtol(part, NULL, 10));
    else
      n = cJSON_GetObjectItemCaseSensitive(n, part);
    path += k;
    if (*path == '.')
      path++;
  }
  assert_non_null(n);
  return n;
}

static void is_str(const cJSON *n, const char *s) {
  assert_true(cJSON_IsString(n));
  assert_string_equal(n->valuestring, s);
}

static void is_num(const cJSON *n, double v) {
  assert_true(cJSON_IsNumber(n));
  assert_true(n->valuedouble == v);
}

static void pos_is(const sb_doc *doc, const cJSON *n, int line, int col) {
  assert_int_equal(sb_doc_line(doc, n), line);
  assert_int_equal(sb_doc_col(doc, n), col);
}

/* ---- streams and positions ---------------------------------------------- */

static void yaml_stream_positions(void **state) {
  const char *text =
    "# leading comment\n"
    "a: 1\n"
    "---\n"
    "kind: X\n"
    "spec:\n"
    "  list:\n"
    "  - one\n"
    "  - k: v\n"
    "    w: [p, q]\n"
    "--- \n"
    "\n"
    "- x\n"
    "-   y: z\n";
  const sb_doc *d2, *d3;
  const cJSON *r;
  sb_diags d;
  got g;

  (void) state;
  assert_int_equal(parse(text, &g, &d), 0);
  assert_int_equal(g.n, 3);
  assert_string_equal(sb_doc_file(g.docs[0]), "t.yaml");
  r = sb_doc_root(g.docs[0]);
  pos_is(g.docs[0], r, 2, 1);
  pos_is(g.docs[0], at(r, "a"), 2, 1);

  d2 = g.docs[1];
  r = sb_doc_root(d2);
  pos_is(d2, r, 4, 1);
  pos_is(d2, at(r, "kind"), 4, 1);      /* a member sits at its key */
  pos_is(d2, at(r, "spec"), 5, 1);
  pos_is(d2, at(r, "spec.list"), 6, 3);
  pos_is(d2, at(r, "spec.list.0"), 7, 5);
  pos_is(d2, at(r, "spec.list.1"), 8, 5);
  pos_is(d2, at(r, "spec.list.1.k"), 8, 5);
  pos_is(d2, at(r, "spec.list.1.w"), 9, 5);
  pos_is(d2, at(r, "spec.list.1.w.1"), 9, 12);

  d3 = g.docs[2];
  r = sb_doc_root(d3);
  assert_true(cJSON_IsArray(r));
  pos_is(d3, r, 12, 1);
  pos_is(d3, at(r, "0"), 12, 3);
  pos_is(d3, at(r, "1"), 13, 5);
  pos_is(d3, at(r, "1.y"), 13, 5);
  sb_diags_free(&d);
  got_free(&g);
}

static void positions_survive_take_root(void **state) {
  cJSON *root, *other;
  const cJSON *leaf;
  got g;

  (void) state;
  one("---\nmeta:\n  name: web\n", &g);
  root = sb_doc_take_root(g.docs[0]);
  assert_non_null(root);
  assert_null(sb_doc_root(g.docs[0]));
  assert_null(sb_doc_take_root(g.docs[0]));
  leaf = at(root, "meta.name");
  pos_is(g.docs[0], leaf, 3, 3);
  /* Unknown nodes: the document's first line, column 0. */
  other = cJSON_CreateNull();
  pos_is(g.docs[0], other, 2, 0);
  pos_is(g.docs[0], NULL, 2, 0);
  cJSON_Delete(other);
  assert_int_equal(sb_doc_line(NULL, root), 0);
  cJSON_Delete(root);
  got_free(&g);
}

static void columns_count_characters(void **state) {
  const cJSON *r;
  got g;

  (void) state;
  r = one("ü: é\nx: [ä, b]\n", &g);
  pos_is(g.docs[0], at(r, "x.1"), 2, 8);
  got_free(&g);
  r = one("{\"ü\": \"é\", \"k\": [\"äö\", 2]}", &g);
  pos_is(g.docs[0], at(r, "k"), 1, 12);
  pos_is(g.docs[0], at(r, "k.1"), 1, 24);
  got_free(&g);
  /* CRLF and CR line ends. */
  r = one("a: 1\r\nb:\r\n  - x\r\n", &g);
  pos_is(g.docs[0], at(r, "b.0"), 3, 5);
  got_free(&g);
  r = one("a: 1\rb:\r  - x\r", &g);
  pos_is(g.docs[0], at(r, "b.0"), 3, 5);
  got_free(&g);
  r = one("{\"a\": 1,\r\n \"b\":\r  [\"x\"]}", &g);
  pos_is(g.docs[0], at(r, "b"), 2, 2);
  pos_is(g.docs[0], at(r, "b.0"), 3, 4);
  got_free(&g);
}

static void empty_documents_skipped(void **state) {
  sb_diags d;
  got g;

  (void) state;
  assert_int_equal(parse("", &g, &d), 0);
  assert_int_equal(g.n, 0);
  assert_int_equal(parse("---\n---\n# only a comment\n---\nnull\n---\n~\n"
                         "...\n", &g, &d), 0);
  assert_int_equal(g.n, 0);
  assert_int_equal(parse("---\n---\na: 1\n---\n", &g, &d), 0);
  assert_int_equal(g.n, 1);
  pos_is(g.docs[0], sb_doc_root(g.docs[0]), 3, 1);
  got_free(&g);
  assert_int_equal(parse("  \n\n{}\nnull\n[]", &g, &d), 0);
  assert_int_equal(g.n, 2);
  got_free(&g);
  sb_diags_free(&d);
}

static void callback_stop_value_returned(void **state) {
  sb_diags d;
  got g;

  (void) state;
  memset(&g, 0, sizeof(g));
  g.stop_at = 2;
  g.stop_rc = 7;
  sb_diags_init(&d);
  assert_int_equal(sb_doc_parse("t", "a: 1\n---\nb: 2\n---\nc: 3\n", 22,
                                NULL, collect, &g, &d), 7);
  assert_int_equal(g.n, 2);
  got_free(&g);
  /* JSON, and a stop value that looks like a parse error. */
  g.stop_at = 1;
  g.stop_rc = SB_EPARSE;
  assert_int_equal(sb_doc_parse("t", "{}\n{}\n{}", 8, NULL, collect, &g, &d),
                   SB_EPARSE);
  assert_int_equal(g.n, 1);
  assert_int_equal(d.n, 0);
  got_free(&g);
  sb_diags_free(&d);
}

/* ---- JSON --------------------------------------------------------------- */

static void json_values(void **state) {
  const cJSON *r;
  got g;

  (void) state;
  r = one("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}", &g);
  is_num(at(r, "a"), 1);
  assert_true(cJSON_IsTrue(at(r, "b.0")));
  assert_true(cJSON_IsFalse(at(r, "b.1")));
  assert_true(cJSON_IsNull(at(r, "b.2")));
  is_str(at(r, "c.d"), "e");
  got_free(&g);

  r = one("{\"s\":\"a\\/b\\\"\\\\\\b\\f\\n\\r\\t\",\"e\":\"\\u00e9\\u00E9\","
          "\"p\":\"\\ud83d\\ude00\",\"raw\":\"\xc3\xa9\xf0\x9f\x98\x80\"}",
          &g);
  is_str(at(r, "s"), "a/b\"\\\b\f\n\r\t");
  is_str(at(r, "e"), "\xc3\xa9\xc3\xa9");
  is_str(at(r, "p"), "\xf0\x9f\x98\x80");
  is_str(at(r, "raw"), "\xc3\xa9\xf0\x9f\x98\x80");
  got_free(&g);

  r = one("[0, -0, 12, -7, 1.5, -2.5e-3, 1E2, 9007199254740992, "
          "9007199254740993, -12345678901234567890, 1e400, 1e-400, "
          "123456789012345678901234567890.5]", &g);
  is_num(at(r, "0"), 0);
  is_num(at(r, "1"), 0);
  is_num(at(r, "2"), 12);
  is_num(at(r, "3"), -7);
  is_num(at(r, "4"), 1.5);
  is_num(at(r, "5"), -2.5e-3);
  is_num(at(r, "6"), 100);
  is_num(at(r, "7"), 9007199254740992.0);
  is_str(at(r, "8"), "9007199254740993");    /* no digit is lost */
  is_str(at(r, "9"), "-12345678901234567890");
  is_str(at(r, "10"), "1e400");              /* overflows a double */
  is_num(at(r, "11"), 0);                    /* underflow is just small */
  is_num(at(r, "12"), 123456789012345678901234567890.5);
  got_free(&g);

  /* Whitespace JSON allows, a key and its colon on different lines. */
  r = one("\xEF\xBB\xBF \t\r\n{\n\"a\"\n:\n\t1\r\n}\n", &g);
  is_num(at(r, "a"), 1);
  pos_is(g.docs[0], at(r, "a"), 3, 1);
  got_free(&g);
  /* Long keys (libyaml refuses implicit keys over 1024 characters). */
  {
    char big[3000];
    memset(big, 'k', sizeof(big));
    memcpy(big, "{\"", 2);
    memcpy(big + 2000, "\": 5}", 6);
    r = one(big, &g);
    assert_int_equal(strlen(r->child->string), 1998);
    is_num(r->child, 5);
    got_free(&g);
  }
}

static void json_stream(void **state) {
  const char *text = "{\"a\":1}{\"b\":2}\n[3]\n  \"str\" 4 true\n{}";
  const cJSON *r;
  sb_diags d;
  got g;

  (void) state;
  assert_int_equal(parse(text, &g, &d), 0);
  assert_int_equal(g.n, 7);
  r = sb_doc_root(g.docs[1]);
  is_num(at(r, "b"), 2);
  pos_is(g.docs[1], r, 1, 8);
  pos_is(g.docs[1], at(r, "b"), 1, 9);
  pos_is(g.docs[2], sb_doc_root(g.docs[2]), 2, 1);
  is_str(sb_doc_root(g.docs[3]), "str");
  pos_is(g.docs[3], sb_doc_root(g.docs[3]), 3, 3);
  is_num(sb_doc_root(g.docs[4]), 4);
  assert_true(cJSON_IsTrue(sb_doc_root(g.docs[5])));
  assert_true(cJSON_IsObject(sb_doc_root(g.docs[6])));
  pos_is(g.docs[6], sb_doc_root(g.docs[6]), 4, 1);
  sb_diags_free(&d);
  got_free(&g);
}

/* A bad JSON value after a good one (so no second chance as YAML): one
 * diagnostic on line 2 at col, the good value delivered. */
static void json_fails(const char *bad, int col, const char *msg) {
  char text[256];
  sb_diags d;
  got g;

  snprintf(text, sizeof(text), "[0]\n%s", bad);
  assert_int_equal(parse(text, &g, &d), SB_EPARSE);
  if (d.n != 1 || d.v[0].col != col || !strstr(d.v[0].msg, msg))
    fprintf(stderr, "input: %s\n got: %zu diags, first %d:%d: %s\n", bad,
            d.n, d.n ? d.v[0].line : 0, d.n ? d.v[0].col : 0,
            d.n ? d.v[0].msg : "");
  assert_int_equal(g.n, 1);
  assert_int_equal(d.n, 1);
  assert_int_equal(d.v[0].line, 2);
  assert_int_equal(d.v[0].col, col);
  assert_non_null(strstr(d.v[0].msg, msg));
  sb_diags_free(&d);
  got_free(&g);
}

static void json_errors(void **state) {
  (void) state;
  json_fails("{\"a\": 1,}", 9, "expected a string key");
  json_fails("{\"a\" 1}", 6, "expected ':' after a key");
  json_fails("[1 2]", 4, "expected ',' or ']'");
  json_fails("{\"a\": 1]", 8, "expected ',' or '}'");
  json_fails("[\"\\ud83d\"]", 3, "lone surrogate");
  json_fails("[\"x\\ude00\"]", 4, "lone surrogate");
  json_fails("[\"\\u12\"]", 3, "invalid \\u escape");
  json_fails("[\"\\u0000\"]", 3, "NUL");
  json_fails("[\"\\q\"]", 3, "invalid escape");
  json_fails("[\"a\tb\"]", 4, "control character");
  json_fails("[\"\xc3\x28\"]", 3, "invalid UTF-8");
  json_fails("[\"\xed\xa0\x80\"]", 3, "invalid UTF-8");
  json_fails("[\"\xc3\xa9\xc3\x28\"]", 4, "invalid UTF-8");
  json_fails("[\"unterminated]", 2, "unterminated string");
  json_fails("[-]", 2, "invalid number");
  json_fails("[1.]", 2, "invalid number");
  json_fails("[1e+]", 2, "invalid number");
  json_fails("[01]", 3, "expected ',' or ']'");
  json_fails("[tru]", 2, "invalid literal");
  json_fails("[nul", 2, "invalid literal");
  json_fails("[,]", 2, "expected a value, found ','");
  json_fails("{\"a\": 1, \"a\": 2}", 10,
             "duplicate key \"a\" (first at line 2)");
  fails("{\"a\": [1,\n", SB_EPARSE, 2, 1, "unexpected end of input");
}

static void json_resyncs_after_error(void **state) {
  const char *text = "{\"a\": 1}\n"
                     "{\"b\": [1 2],\n"
                     "  \"x\": {}}\n"
                     "{\"c\": 3}\n"
                     "[\n"
                     "  \"\\q\"\n"
                     "]\n"
                     "[4]\n";
  sb_diags d;
  got g;

  (void) state;
  assert_int_equal(parse(text, &g, &d), SB_EPARSE);
  assert_int_equal(g.n, 3);
  is_num(at(sb_doc_root(g.docs[0]), "a"), 1);
  is_num(at(sb_doc_root(g.docs[1]), "c"), 3);
  pos_is(g.docs[1], sb_doc_root(g.docs[1]), 4, 1);
  is_num(at(sb_doc_root(g.docs[2]), "0"), 4);
  pos_is(g.docs[2], sb_doc_root(g.docs[2]), 8, 1);
  assert_int_equal(d.n, 2);
  assert_int_equal(d.v[0].line, 2);
  assert_int_equal(d.v[0].col, 10);
  assert_int_equal(d.v[1].line, 6);
  assert_int_equal(d.v[1].col, 4);
  sb_diags_free(&d);
  got_free(&g);
}

static void json_that_is_really_yaml(void **state) {
  const cJSON *r;
  got g;

  (void) state;
  /* Not JSON, but a fine YAML flow mapping: read as YAML. */
  r = one("{a: 1, b: [x, 'y']}\n", &g);
  is_num(at(r, "a"), 1);
  is_str(at(r, "b.1"), "y");
  got_free(&g);
  r = one("[1, 2,]\n", &g);
  assert_int_equal(cJSON_GetArraySize(r), 2);
  got_free(&g);
  /* Broken for both: the diagnostic of the reader that got further. */
  fails("{\"a\": [1,}", SB_EPARSE, 1, 10, "expected a value");
  fails("{a: 1, a: 2}\n", SB_EPARSE, 1, 8, "duplicate key \"a\"");
  fails("[1, {a: !!int y}]\n", SB_EPARSE, 1, 9, "cannot read \"y\" as !!int");
  fails("[\"x\", !!int y]\n", SB_EPARSE, 1, 7, "expected a value, found '!'");
  /* Document markers make it YAML from the start. */
  {
    sb_diags d;
    assert_int_equal(parse("[1, 2]\n---\n{a: 1}\n...\n", &g, &d), 0);
    assert_int_equal(g.n, 2);
    is_num(at(sb_doc_root(g.docs[1]), "a"), 1);
    got_free(&g);
    sb_diags_free(&d);
  }
}

/* ---- YAML typing -------------------------------------------------------- */

typedef struct case_ {
  const char *in;
  int type;       /* cJSON_* */
  double num;
  const char *str;
} case_;

static void scalar_typing(void **state) {
  static const case_ cases[] = {
    {"null", cJSON_NULL, 0, NULL}, {"Null", cJSON_NULL, 0, NULL},
    {"NULL", cJSON_NULL, 0, NULL}, {"~", cJSON_NULL, 0, NULL},
    {"", cJSON_NULL, 0, NULL}, {"nULL", cJSON_String, 0, "nULL"},
    {"true", cJSON_True, 0, NULL}, {"True", cJSON_True, 0, NULL},
    {"TRUE", cJSON_True, 0, NULL}, {"false", cJSON_False, 0, NULL},
    {"False", cJSON_False, 0, NULL}, {"FALSE", cJSON_False, 0, NULL},
    {"tRUE", cJSON_String, 0, "tRUE"},
    /* YAML 1.1 booleans are strings in the 1.2 core schema. */
    {"yes", cJSON_String, 0, "yes"}, {"off", cJSON_String, 0, "off"},
    {"y", cJSON_String, 0, "y"},
    {"0", cJSON_Number, 0, NULL}, {"-0", cJSON_Number, 0, NULL},
    {"+12", cJSON_Number, 12, NULL}, {"-12", cJSON_Number, -12, NULL},
    {"007", cJSON_Number, 7, NULL}, {"0o17", cJSON_Number, 15, NULL},
    {"0x1F", cJSON_Number, 31, NULL}, {"0xff", cJSON_Number, 255, NULL},
    {"-0x1", cJSON_String, 0, "-0x1"}, {"0o8", cJSON_String, 0, "0o8"},
    {"0x", cJSON_String, 0, "0x"}, {"0b101", cJSON_String, 0, "0b101"},
    {"1_000", cJSON_String, 0, "1_000"},
    {"9007199254740992", cJSON_Number, 9007199254740992.0, NULL},
    {"9007199254740993", cJSON_String, 0, "9007199254740993"},
    {"-9007199254740993", cJSON_String, 0, "-9007199254740993"},
    {"0x20000000000001", cJSON_String, 0, "0x20000000000001"},
    {"1.5", cJSON_Number, 1.5, NULL}, {"-2.", cJSON_Number, -2, NULL},
    {".5", cJSON_Number, 0.5, NULL}, {"+.5e1", cJSON_Number, 5, NULL},
    {"1e3", cJSON_Number, 1000, NULL}, {"1E-3", cJSON_Number, 0.001, NULL},
    {"9007199254740993.0", cJSON_Number, 9007199254740992.0, NULL},
    {"1e400", cJSON_String, 0, "1e400"}, {"1e-400", cJSON_Number, 0, NULL},
    {".", cJSON_String, 0, "."}, {"1e", cJSON_String, 0, "1e"},
    {"1.2.3", cJSON_String, 0, "1.2.3"}, {"e3", cJSON_String, 0, "e3"},
    /* JSON cannot carry these: they stay strings. */
    {".inf", cJSON_String, 0, ".inf"}, {"-.Inf", cJSON_String, 0, "-.Inf"},
    {"+.INF", cJSON_String, 0, "+.INF"}, {".NaN", cJSON_String, 0, ".NaN"},
    {"inf", cJSON_String, 0, "inf"}, {"nan", cJSON_String, 0, "nan"},
    {"2024-01-31", cJSON_String, 0, "2024-01-31"},
    {"12:30", cJSON_String, 0, "12:30"},
    {"web-v1", cJSON_String, 0, "web-v1"},
    {"a b  c", cJSON_String, 0, "a b  c"},
    {"x # comment", cJSON_String, 0, "x"},
    {"'100'", cJSON_String, 0, "100"}, {"\"true\"", cJSON_String, 0, "true"},
    {"\"\"", cJSON_String, 0, ""}, {"''", cJSON_String, 0, ""},
    {"\"null\"", cJSON_String, 0, "null"}, {"'~'", cJSON_String, 0, "~"},
    {"|\n  100\n", cJSON_String, 0, "100\n"},
    {">-\n  true\n", cJSON_String, 0, "true"},
    {"!!str 100", cJSON_String, 0, "100"},
    {"!!str", cJSON_String, 0, ""},
    {"! 100", cJSON_String, 0, "100"},
    {"!!int \"42\"", cJSON_Number, 42, NULL},
    {"!!int 0x10", cJSON_Number, 16, NULL},
    {"!!int 9007199254740993", cJSON_String, 0, "9007199254740993"},
    {"!!float 1", cJSON_Number, 1, NULL},
    {"!!float '2.5'", cJSON_Number, 2.5, NULL},
    {"!!bool \"false\"", cJSON_False, 0, NULL},
    {"!!null ''", cJSON_NULL, 0, NULL},
    {"!!binary aGVsbG8=", cJSON_String, 0, "aGVsbG8="},
    {"!!timestamp 2024-01-31", cJSON_String, 0, "2024-01-31"},
    {"\"\\t\\u00e9\\x41\\N\"", cJSON_String, 0, "\t\xc3\xa9" "A\xc2\x85"},
  };
  size_t i;

  (void) state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char text[256];
    const cJSON *v;
    got g;

    snprintf(text, sizeof(text), "v: %s\n", cases[i].in);
    v = at(one(text, &g), "v");
    if ((v->type & 0xFF) != cases[i].type)
      fprintf(stderr, "case %s: type %d\n", cases[i].in, v->type & 0xFF);
    assert_int_equal(v->type & 0xFF, cases[i].type);
    if (cases[i].type == cJSON_Number)
      is_num(v, cases[i].num);
    if (cases[i].type == cJSON_String)
      is_str(v, cases[i].str);
    got_free(&g);
  }
}

static void keys_are_text(void **state) {
  const cJSON *r;
  got g;

  (void) state;
  r = one("1: a\ntrue: b\nnull: c\n~: d\n'x y': e\n0x10: f\n", &g);
  is_str(at(r, "1"), "a");
  is_str(at(r, "true"), "b");
  is_str(at(r, "null"), "c");
  is_str(at(r, "~"), "d");
  is_str(at(r, "x y"), "e");
  is_str(at(r, "0x10"), "f");
  got_free(&g);
  r = one("? \n: empty\n", &g);
  assert_string_equal(r->child->string, "");
  is_str(r->child, "empty");
  got_free(&g);
}

static void tag_errors(void **state) {
  (void) state;
  fails("a: !!int abc\n", SB_EPARSE, 1, 4, "cannot read \"abc\" as !!int");
  fails("a: !!bool yes\n", SB_EPARSE, 1, 4, "as !!bool");
  fails("a: !!null x\n", SB_EPARSE, 1, 4, "as !!null");
  fails("a: !!float x\n", SB_EPARSE, 1, 4, "as !!float");
  fails("a: !custom 1\n", SB_EPARSE, 1, 4, "unsupported tag !custom");
  fails("a: !!set {x: 1}\n", SB_EPARSE, 1, 4, "unsupported tag !!set");
  fails("a: !!map [1]\n", SB_EPARSE, 1, 4, "unsupported tag !!map");
  fails("!!omap\n- a: 1\n", SB_EPARSE, 1, 1, "unsupported tag !!omap");
  fails("!k a: 1\n", SB_EPARSE, 1, 1, "unsupported tag !k");
}

static void unsupported_shapes(void **state) {
  (void) state;
  fails("? [a, b]\n: v\n", SB_EPARSE, 1, 3, "a mapping key must be a scalar");
  fails("a:\n  ? {x: 1}\n  : v\n", SB_EPARSE, 2, 5,
        "a mapping key must be a scalar");
  fails("&k a: 1\n", SB_EPARSE, 1, 1, "anchors on mapping keys");
  fails("a: &x k\n*x : 1\n", SB_EPARSE, 2, 1,
        "an alias cannot be a mapping key");
  fails("a: \"x\\0y\"\n", SB_EPARSE, 1, 4, "NUL character");
  fails("\"x\\0\": 1\n", SB_EPARSE, 1, 1, "NUL character");
}

static char *nest(const char *open, const char *close, int depth);

/* ---- keys, anchors, merges ---------------------------------------------- */

static void duplicate_keys(void **state) {
  char big[8192];
  size_t n = 0;
  int i;

  (void) state;
  fails("a: 1\nb: 2\na: 3\n", SB_EPARSE, 3, 1,
        "duplicate key \"a\" (first at line 1)");
  fails("x:\n  k: 1\n  'k': 2\n", SB_EPARSE, 3, 3, "duplicate key \"k\"");
  fails("{a: 1, a: 2}\n", SB_EPARSE, 1, 8, "duplicate key");
  fails("a: &m {x: 1}\nb:\n  <<: *m\n  <<: *m\n", SB_EPARSE, 4, 3,
        "duplicate merge key");
  /* Past the size where a map gets a hash index. */
  for (i = 0; i < 100; i++)
    n += (size_t) snprintf(big + n, sizeof(big) - n, "k%d: %d\n", i, i);
  snprintf(big + n, sizeof(big) - n, "k%d: dup\n", 57);
  fails(big, SB_EPARSE, 101, 1, "duplicate key \"k57\" (first at line 58)");
  /* Keys that share prefixes are not duplicates. */
  {
    got g;
    const cJSON *r = one("a: 1\nab: 2\nabc: 3\nb: 4\n", &g);
    assert_int_equal(cJSON_GetArraySize(r), 4);
    got_free(&g);
  }
}

static void anchors_and_aliases(void **state) {
  const cJSON *r;
  got g;

  (void) state;
  r = one("base: &b\n  x: 1\n  y: [a, b]\n"
          "copy: *b\n"
          "s: &s hello\n"
          "t: *s\n"
          "list: [*s, *b]\n"
          "re: &s again\n"
          "u: *s\n", &g);
  assert_true(cJSON_Compare(at(r, "base"), at(r, "copy"), 1));
  assert_ptr_not_equal(at(r, "base"), at(r, "copy"));
  assert_ptr_not_equal(at(r, "base.y"), at(r, "copy.y"));
  is_str(at(r, "t"), "hello");
  is_str(at(r, "list.0"), "hello");
  is_num(at(r, "list.1.x"), 1);
  is_str(at(r, "u"), "again");          /* the later anchor wins */
  /* A copy is positioned at the alias; its insides where they were. */
  pos_is(g.docs[0], at(r, "copy"), 4, 1);
  pos_is(g.docs[0], at(r, "copy.y"), 3, 3);
  pos_is(g.docs[0], at(r, "list.1"), 7, 12);
  got_free(&g);

  fails("a: *nope\n", SB_EPARSE, 1, 4, "unknown anchor \"nope\"");
  fails("a: &a [1, *a]\n", SB_EPARSE, 1, 11,
        "alias *a refers to a node that contains it");
  fails("a: &a {b: *a}\n", SB_EPARSE, 1, 11, "contains it");
  /* Anchors do not cross documents. */
  fails("a: &a 1\n---\nb: *a\n", SB_EPARSE, 3, 4, "unknown anchor");

  /* Copies of deep nodes (the copier keeps its own stack). */
  {
    char *deep = nest("{k: [", "]}", 25), text[512];
    snprintf(text, sizeof(text), "a: &a %s\nb: *a\n", deep);
    free(deep);
    r = one(text, &g);
    assert_true(cJSON_Compare(at(r, "a"), at(r, "b"), 1));
    assert_int_equal(sb_doc_line(g.docs[0], at(r, "b.k.0.k.0.k")), 1);
    got_free(&g);
  }
}

static void merge_keys(void **state) {
  const cJSON *r, *m;
  got g;

  (void) state;
  r = one("base: &base\n"
          "  timeout: 30s\n"
          "  retries: 3\n"
          "other: &other\n"
          "  retries: 9\n"
          "  extra: true\n"
          "svc:\n"
          "  name: a\n"
          "  <<: [*base, *other]\n"
          "  timeout: 5s\n"
          "inline:\n"
          "  <<: {k: v}\n"
          "'<<': literal\n", &g);
  m = at(r, "svc");
  assert_int_equal(cJSON_GetArraySize(m), 4);
  is_str(at(m, "name"), "a");
  is_str(at(m, "timeout"), "5s");        /* explicit keys win */
  is_num(at(m, "retries"), 3);           /* earlier maps win */
  assert_true(cJSON_IsTrue(at(m, "extra")));
  /* Merged keys come after the explicit ones, in source order. */
  assert_string_equal(m->child->string, "name");
  assert_string_equal(m->child->next->string, "timeout");
  assert_string_equal(m->child->next->next->string, "retries");
  pos_is(g.docs[0], at(m, "retries"), 3, 3);
  is_str(at(r, "inline.k"), "v");
  is_str(at(r, "<<"), "literal");        /* quoted: an ordinary key */
  /* The anchored maps are untouched by merging. */
  assert_int_equal(cJSON_GetArraySize(at(r, "base")), 2);
  got_free(&g);

  /* An anchor inside a merge value stays usable afterwards. */
  r = one("m:\n  <<: &in {a: 1, b: 2}\n  a: 0\nn: *in\n", &g);
  is_num(at(r, "m.a"), 0);
  is_num(at(r, "n.a"), 1);
  is_num(at(r, "n.b"), 2);
  got_free(&g);

  fails("a: &a [1]\nb:\n  <<: *a\n", SB_EPARSE, 3, 3,
        "must be a mapping or a sequence of mappings");
  fails("b:\n  <<: [{x: 1}, 2]\n", SB_EPARSE, 2, 3, "merge key");
  fails("b:\n  <<: 1\n", SB_EPARSE, 2, 3, "merge key");
}

/* ---- limits ------------------------------------------------------------- */

static char *nest(const char *open, const char *close, int depth) {
  size_t lo = strlen(open), lc = strlen(close);
  char *s = malloc((lo + lc) * (size_t) depth + 1), *p = s;
  int i;

  assert_non_null(s);
  for (i = 0; i < depth; i++, p += lo)
    memcpy(p, open, lo);
  for (i = 0; i < depth; i++, p += lc)
    memcpy(p, close, lc);
  *p = '\0';
  return s;
}

static void depth_limit(void **state) {
  char *s;
  got g;

  (void) state;
  s = nest("[", "]", 64);
  one(s, &g);
  got_free(&g);
  free(s);
  s = nest("[", "]", 65);
  fails(s, SB_ELIMIT, 1, 65, "document nests deeper than 64 levels");
  free(s);
  s = nest("{\"a\":", "}", 65);
  fails(s, SB_ELIMIT, 1, 321, "nests deeper than 64");
  free(s);
  s = nest("- ", "", 65);
  fails(s, SB_ELIMIT, 1, 129, "nests deeper than 64");
  free(s);
  /* Through an alias: the copy would reach level 5 of at most 4. */
  {
    sb_doc_limits lim;
    sb_doc_limits_default(&lim);
    lim.max_depth = 4;
    fails_lim("a: &a [[1]]\nb: [[*a]]\n", &lim, SB_ELIMIT, 2, 6,
              "nests deeper than 4 levels");
  }
}

static void billion_laughs_fails_fast(void **state) {
  /* Ten levels of ten: 10^10 nodes if expanded. */
  const char *text =
    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "j: &j [*i,*i,*i,*i,*i,*i,*i,*i,*i,*i]\n";
  sb_doc_limits lim;

  (void) state;
  /* Fail-fast is proven by where it fails, not by a stopwatch: the
   * position of the refused alias shows how far expansion got.
   * With the default limit the document may legitimately hold up to a
   * million nodes, and it does: a is 9 nodes, b 91, c 911, d 9,111,
   * e 91,111 (101,234 with the root); each *e in f adds 91,111 and the
   * tenth would make 1,012,345. The alias is refused before it is copied,
   * so the work is bounded by the limit, not by the expansion. */
  fails(text, SB_ELIMIT, 6, 35, "aliases expand to more than 1000000 nodes");

  /* With a smaller limit the same bomb is refused two lines earlier,
   * after a few thousand nodes. */
  sb_doc_limits_default(&lim);
  lim.max_nodes = 10000;
  fails_lim(text, &lim, SB_ELIMIT, 4, 35, "aliases expand to more than 10000");
  lim.max_nodes = 50;
  fails_lim(text, &lim, SB_ELIMIT, 2, 20, "aliases expand to more than 50");
}

static void node_limit(void **state) {
  sb_doc_limits lim;
  got g;

  (void) state;
  sb_doc_limits_default(&lim);
  lim.max_nodes = 5;
  fails_lim("a: 1\nb: 2\nc: 3\nd: [4, 5]\n", &lim, SB_ELIMIT, 4, 5,
            "document has more than 5 nodes");
  /* The count is per document. */
  {
    sb_diags d;
    assert_int_equal(parse_lim("[1, 2, 3, 4]\n---\n[1, 2, 3, 4]\n", &lim,
                               &g, &d), 0);
    assert_int_equal(g.n, 2);
    got_free(&g);
  }
  /* Merges are charged for what they copy: the alias (4 nodes) and the
   * members taken from it (3) make b cost 8 on top of the 5 before. */
  lim.max_nodes = 12;
  fails_lim("a: &a {x: 1, y: 2, z: 3}\nb: {<<: *a}\n", &lim, SB_ELIMIT, 2, 5,
            "aliases expand to more than 12 nodes");
  lim.max_nodes = 13;
  {
    sb_diags d;
    assert_int_equal(parse_lim("a: &a {x: 1, y: 2, z: 3}\nb: {<<: *a}\n",
                               &lim, &g, &d), 0);
    got_free(&g);
  }
  /* ... also when the limit is reached inside a merged member. */
  lim.max_nodes = 20;
  fails_lim("a: &a {x: [1, 2, 3, 4, 5]}\nb: {<<: *a}\n", &lim, SB_ELIMIT,
            2, 5, "aliases expand to more than 20 nodes");
}

static void document_size_limit(void **state) {
  sb_doc_limits lim;
  char text[4096];
  size_t n = 0;
  sb_diags d;
  got g;
  int i;

  (void) state;
  sb_doc_limits_default(&lim);
  lim.max_doc_bytes = 1000;
  /* First document small, second 1200 bytes but only 600 characters. */
  n += (size_t) snprintf(text + n, sizeof(text) - n, "a: 1\n---\nb: \"");
  for (i = 0; i < 600; i++)
    n += (size_t) snprintf(text + n, sizeof(text) - n, "\xc3\xa9");
  snprintf(text + n, sizeof(text) - n, "\"\n");
  assert_int_equal(parse_lim(text, &lim, &g, &d), SB_ELIMIT);
  assert_int_equal(g.n, 1);
  assert_int_equal(d.n, 1);
  assert_int_equal(d.v[0].line, 3);
  assert_string_equal(d.v[0].msg, "document is larger than 1000 bytes");
  sb_diags_free(&d);
  got_free(&g);

  /* JSON: measured per value. */
  lim.max_doc_bytes = 20;
  assert_int_equal(parse_lim("{\"a\": \"0123456789\"}\n"
                             "{\"a\": \"0123456789012345\"}\n{}\n",
                             &lim, &g, &d), SB_ELIMIT);
  assert_int_equal(g.n, 2);
  assert_int_equal(d.n, 1);
  assert_int_equal(d.v[0].line, 2);
  sb_diags_free(&d);
  got_free(&g);
}

static void input_size_limit(void **state) {
  sb_doc_limits lim;
  sb_diags d;
  got g;

  (void) state;
  sb_doc_limits_default(&lim);
  assert_int_equal(lim.max_input_bytes, 64u << 20);
  assert_int_equal(lim.max_doc_bytes, 8u << 20);
  assert_int_equal(lim.max_depth, 64);
  assert_int_equal(lim.max_nodes, 1000000);
  lim.max_input_bytes = 2048;
  {
    char *big = malloc(4000);
    assert_non_null(big);
    memset(big, 'a', 3999);
    big[0] = '#';
    big[3999] = '\0';
    assert_int_equal(parse_lim(big, &lim, &g, &d), SB_ELIMIT);
    free(big);
  }
  assert_int_equal(g.n, 0);
  assert_int_equal(d.n, 1);
  assert_string_equal(d.v[0].msg, "input is larger than 2 KiB");
  assert_string_equal(d.v[0].file, "t.yaml");
  sb_diags_free(&d);
  lim.max_input_bytes = 1 << 20;
  {
    char *big = calloc(1, (1 << 20) + 2);
    assert_non_null(big);
    memset(big, '#', (1 << 20) + 1);
    assert_int_equal(parse_lim(big, &lim, &g, &d), SB_ELIMIT);
    assert_string_equal(d.v[0].msg, "input is larger than 1 MiB");
    sb_diags_free(&d);
    free(big);
  }
}

/* ---- syntax errors ------------------------------------------------------ */

static void yaml_syntax_errors(void **state) {
  sb_diags d;
  got g;

  (void) state;
  fails("a: 1\nb: [1, 2\nc: 3\n", SB_EPARSE, 3, 2,
        "did not find expected ',' or ']' (while parsing a flow sequence "
        "at line 2)");
  fails("a:\n\tb: 1\n", SB_EPARSE, 2, 1,
        "found character that cannot start any token");
  fails("a: b: c\n", SB_EPARSE, 1, 5,
        "mapping values are not allowed in this context");
  fails("a: 'x\n", SB_EPARSE, 2, 1, "found unexpected end of stream");
  fails("a: \xff\n", SB_EPARSE, 1, 4,
        "invalid leading UTF-8 octet (byte 0xFF)");
  fails("key: \"\\ud83d\\ude00\"\n", SB_EPARSE, 1, 9,
        "invalid Unicode character escape code");
  /* Documents before the bad one are delivered. */
  assert_int_equal(parse("a: 1\n---\nb: 2\n---\nc: [\n", &g, &d), SB_EPARSE);
  assert_int_equal(g.n, 2);
  assert_int_equal(d.n, 1);
  assert_int_equal(d.v[0].line, 6);
  sb_diags_free(&d);
  got_free(&g);
}

static void other_encodings(void **state) {
  static const char utf16[] = "\xff\xfe" "a\0:\0 \0" "1\0\n\0";
  const cJSON *r;
  sb_diags d;
  got g;

  (void) state;
  r = one("\xEF\xBB\xBF" "a: \xc3\xbc\n", &g);
  is_str(at(r, "a"), "\xc3\xbc");
  pos_is(g.docs[0], at(r, "a"), 1, 1);
  got_free(&g);
  memset(&g, 0, sizeof(g));
  sb_diags_init(&d);
  assert_int_equal(sb_doc_parse("u", utf16, sizeof(utf16) - 1, NULL, collect,
                                &g, &d), 0);
  assert_int_equal(g.n, 1);
  is_num(at(sb_doc_root(g.docs[0]), "a"), 1);
  got_free(&g);
  /* UTF-16 is measured at two bytes a character. */
  {
    sb_doc_limits lim;
    sb_doc_limits_default(&lim);
    lim.max_doc_bytes = 6;
    assert_int_equal(sb_doc_parse("u", utf16, sizeof(utf16) - 1, &lim,
                                  collect, &g, &d), SB_ELIMIT);
    assert_int_equal(g.n, 0);
    assert_string_equal(d.v[0].msg, "document is larger than 6 bytes");
  }
  sb_diags_free(&d);
}

static void bad_arguments(void **state) {
  sb_diags d;
  got g;

  (void) state;
  sb_diags_init(&d);
  memset(&g, 0, sizeof(g));
  assert_int_equal(sb_doc_parse("t", "a", 1, NULL, NULL, NULL, &d), SB_EINVAL);
  assert_int_equal(sb_doc_parse("t", "a", 1, NULL, collect, &g, NULL),
                   SB_EINVAL);
  assert_int_equal(sb_doc_parse("t", NULL, 1, NULL, collect, &g, &d),
                   SB_EINVAL);
  assert_int_equal(sb_doc_parse("t", NULL, 0, NULL, collect, &g, &d), 0);
  assert_int_equal(g.n, 0);
  assert_null(sb_doc_root(NULL));
  assert_null(sb_doc_file(NULL));
  sb_doc_free(NULL);
}

/* ---- sb_doc_read_file --------------------------------------------------- */

static void read_file(void **state) {
  char path[] = "/tmp/sb-test-doc-XXXXXX", dirpath[] = "/tmp/sb-test-dXXXXXX";
  char err[256], *data;
  const char *missing;
  size_t len;
  int fd, saved;
  FILE *f;

  (void) state;
  fd = mkstemp(path);
  assert_true(fd >= 0);
  f = fdopen(fd, "w");
  assert_non_null(f);
  fputs("a: 1\n", f);
  fclose(f);

  assert_int_equal(sb_doc_read_file(path, 100, &data, &len, err,
                                    sizeof(err)), 0);
  assert_int_equal(len, 5);
  assert_string_equal(data, "a: 1\n");
  assert_string_equal(err, "");
  free(data);

  assert_int_equal(sb_doc_read_file(path, 5, &data, &len, err, sizeof(err)),
                   0);
  free(data);
  assert_int_equal(sb_doc_read_file(path, 4, &data, &len, err, sizeof(err)),
                   SB_ELIMIT);
  assert_null(data);
  {
    char want[300];
    snprintf(want, sizeof(want), "%s is larger than 4 bytes", path);
    assert_string_equal(err, want);
  }

  missing = "no-such-dir/x.yaml";
  assert_int_equal(sb_doc_read_file(missing, 100, &data, &len, err,
                                    sizeof(err)), SB_EIO);
  assert_string_equal(err, "cannot open no-such-dir/x.yaml: No such file or "
                           "directory");

  assert_non_null(mkdtemp(dirpath));
  assert_int_equal(sb_doc_read_file(dirpath, 100, &data, &len, err,
                                    sizeof(err)), SB_EIO);
  assert_non_null(strstr(err, "Is a directory"));
  rmdir(dirpath);

  /* "-" is standard input: a regular file, then a pipe (no size known up
   * front, several reads). */
  saved = dup(0);
  assert_true(saved >= 0);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs("from stdin\n", f);
  fclose(f);
  fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  assert_true(dup2(fd, 0) == 0);
  close(fd);
  assert_int_equal(sb_doc_read_file("-", 100, &data, &len, err, sizeof(err)),
                   0);
  assert_string_equal(data, "from stdin\n");
  free(data);
  assert_true(lseek(0, 0, SEEK_SET) == 0);
  assert_int_equal(sb_doc_read_file("-", 3, &data, &len, err, sizeof(err)),
                   SB_ELIMIT);
  assert_string_equal(err, "standard input is larger than 3 bytes");
  {
    static char chunk[40000];
    int p[2];
    memset(chunk, 'x', sizeof(chunk));
    assert_true(pipe(p) == 0);
    assert_int_equal(write(p[1], chunk, sizeof(chunk)), sizeof(chunk));
    close(p[1]);
    assert_true(dup2(p[0], 0) == 0);
    close(p[0]);
    assert_int_equal(sb_doc_read_file("-", 1 << 20, &data, &len, err,
                                      sizeof(err)), 0);
    assert_int_equal(len, sizeof(chunk));
    assert_int_equal(data[len], '\0');
    free(data);
  }
  /* Larger than the first read buffer: the buffer grows, and the cap
   * holds while it does. A child writes, since a pipe holds only 64 KiB. */
  {
    size_t limit;
    for (limit = 100000; limit <= 300000; limit += 200000) {
      int p[2];
      pid_t pid;
      assert_true(pipe(p) == 0);
      pid = fork();
      assert_true(pid >= 0);
      if (pid == 0) {
        static char chunk[200000];
        signal(SIGPIPE, SIG_IGN);
        close(p[0]);
        memset(chunk, 'y', sizeof(chunk));
        (void) !write(p[1], chunk, sizeof(chunk));
        _exit(0);
      }
      close(p[1]);
      assert_true(dup2(p[0], 0) == 0);
      close(p[0]);
      if (limit < 200000) {
        assert_int_equal(sb_doc_read_file("-", limit, &data, &len, err,
                                          sizeof(err)), SB_ELIMIT);
        assert_string_equal(err, "standard input is larger than 100000 "
                                 "bytes");
      } else {
        assert_int_equal(sb_doc_read_file("-", limit, &data, &len, err,
                                          sizeof(err)), 0);
        assert_int_equal(len, 200000);
        assert_int_equal(data[199999], 'y');
        free(data);
      }
      assert_true(dup2(saved, 0) == 0);  /* drops the pipe */
      waitpid(pid, NULL, 0);
    }
  }
  assert_true(dup2(saved, 0) == 0);
  close(saved);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(yaml_stream_positions),
    cmocka_unit_test(positions_survive_take_root),
    cmocka_unit_test(columns_count_characters),
    cmocka_unit_test(empty_documents_skipped),
    cmocka_unit_test(callback_stop_value_returned),
    cmocka_unit_test(json_values),
    cmocka_unit_test(json_stream),
    cmocka_unit_test(json_errors),
    cmocka_unit_test(json_resyncs_after_error),
    cmocka_unit_test(json_that_is_really_yaml),
    cmocka_unit_test(scalar_typing),
    cmocka_unit_test(keys_are_text),
    cmocka_unit_test(tag_errors),
    cmocka_unit_test(unsupported_shapes),
    cmocka_unit_test(duplicate_keys),
    cmocka_unit_test(anchors_and_aliases),
    cmocka_unit_test(merge_keys),
    cmocka_unit_test(depth_limit),
    cmocka_unit_test(billion_laughs_fails_fast),
    cmocka_unit_test(node_limit),
    cmocka_unit_test(document_size_limit),
    cmocka_unit_test(input_size_limit),
    cmocka_unit_test(yaml_syntax_errors),
    cmocka_unit_test(other_encodings),
    cmocka_unit_test(bad_arguments),
    cmocka_unit_test(read_file),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
