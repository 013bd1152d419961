/* test-emit.c -- sb_emit: exact YAML/JSON bytes, quoting, round trips. */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sb/doc.h"
#include "sb/emit.h"
#include "sb/err.h"

/* ---- helpers ------------------------------------------------------------ */

static char *yaml_of(const cJSON *t) {
  sb_buf b;

  sb_buf_init(&b, SB_BUF_UNLIMITED);
  assert_int_equal(sb_emit_yaml(t, &b), 0);
  return sb_buf_steal(&b, NULL);
}

static char *json_of(const cJSON *t, int pretty) {
  sb_buf b;

  sb_buf_init(&b, SB_BUF_UNLIMITED);
  assert_int_equal(sb_emit_json(t, &b, pretty), 0);
  return sb_buf_steal(&b, NULL);
}

static void yaml_is(const cJSON *t, const char *want) {
  char *got = yaml_of(t);

  assert_string_equal(got, want);
  free(got);
}

static void json_is(const cJSON *t, int pretty, const char *want) {
  char *got = json_of(t, pretty);

  assert_string_equal(got, want);
  free(got);
}

/* Exact equality: types, key order, strings, bit-identical numbers. */
static int same(const cJSON *a, const cJSON *b) {
  const cJSON *x, *y;

  if ((a->type & 0xFF) != (b->type & 0xFF))
    return 0;
  if ((a->string == NULL) != (b->string == NULL) ||
      (a->string && strcmp(a->string, b->string) != 0))
    return 0;
  switch (a->type & 0xFF) {
  case cJSON_Number:
    return a->valuedouble == b->valuedouble;
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

typedef struct all {
  cJSON *roots[64];
  int n;
} all;

static int keep_all(void *arg, sb_doc *doc) {
  all *a = arg;

  assert_true(a->n < 64);
  a->roots[a->n++] = sb_doc_take_root(doc);
  sb_doc_free(doc);
  return 0;
}

static void all_free(all *a) {
  int i;

  for (i = 0; i < a->n; i++)
    cJSON_Delete(a->roots[i]);
  a->n = 0;
}

/* Parses text that must be exactly one document. */
static cJSON *parse_one(const char *text, size_t len) {
  all a = {{0}, 0};
  sb_diags d;
  int rc;

  sb_diags_init(&d);
  rc = sb_doc_parse("rt", text, len, NULL, keep_all, &a, &d);
  if (rc != 0 || a.n != 1) {
    fprintf(stderr, "reparse of [%s] gave rc %d, %d docs%s%s\n", text, rc,
            a.n, d.n ? ": " : "", d.n ? d.v[0].msg : "");
    fail();
  }
  sb_diags_free(&d);
  return a.roots[0];
}

/* parse(emit_yaml(t)) == t and the same for both JSON forms. */
static void round_trips(const cJSON *t) {
  char *text;
  cJSON *back;
  int pretty;

  text = yaml_of(t);
  back = parse_one(text, strlen(text));
  if (!same(t, back) || !cJSON_Compare(t, back, 1)) {
    fprintf(stderr, "YAML round trip differs:\n%s", text);
    fail();
  }
  cJSON_Delete(back);
  free(text);
  for (pretty = 0; pretty < 2; pretty++) {
    text = json_of(t, pretty);
    back = parse_one(text, strlen(text));
    if (!same(t, back) || !cJSON_Compare(t, back, 1)) {
      fprintf(stderr, "JSON round trip differs:\n%s\n", text);
      fail();
    }
    cJSON_Delete(back);
    free(text);
  }
}

/* ---- layout ------------------------------------------------------------- */

static cJSON *sample(void) {
  cJSON *o = cJSON_CreateObject(), *md, *spec, *ports, *p, *hosts, *nested;

  cJSON_AddStringToObject(o, "apiVersion", "networking.istio.io/v1beta1");
  cJSON_AddStringToObject(o, "kind", "VirtualService");
  md = cJSON_AddObjectToObject(o, "metadata");
  cJSON_AddStringToObject(md, "name", "web");
  cJSON_AddObjectToObject(md, "labels");
  spec = cJSON_AddObjectToObject(o, "spec");
  hosts = cJSON_AddArrayToObject(spec, "hosts");
  cJSON_AddItemToArray(hosts,
                       cJSON_CreateString("web.shop.svc.cluster.local"));
  ports = cJSON_AddArrayToObject(spec, "ports");
  p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "name", "http");
  cJSON_AddNumberToObject(p, "port", 80.0);
  cJSON_AddNumberToObject(p, "weight", 0.5);
  cJSON_AddItemToArray(ports, p);
  cJSON_AddItemToArray(ports, cJSON_CreateObject());
  cJSON_AddItemToArray(ports, cJSON_CreateArray());
  nested = cJSON_CreateArray();
  cJSON_AddItemToArray(nested, cJSON_CreateString("a"));
  cJSON_AddItemToArray(nested, cJSON_CreateNull());
  cJSON_AddItemToArray(ports, nested);
  cJSON_AddItemToArray(ports, cJSON_CreateFalse());
  cJSON_AddArrayToObject(spec, "empty");
  cJSON_AddNullToObject(spec, "none");
  cJSON_AddTrueToObject(spec, "on");
  cJSON_AddStringToObject(spec, "version", "100");
  return o;
}

static void yaml_layout(void **state) {
  cJSON *o = sample();

  (void) state;
  yaml_is(o,
          "apiVersion: networking.istio.io/v1beta1\n"
          "kind: VirtualService\n"
          "metadata:\n"
          "  name: web\n"
          "  labels: {}\n"
          "spec:\n"
          "  hosts:\n"
          "  - web.shop.svc.cluster.local\n"
          "  ports:\n"
          "  - name: http\n"
          "    port: 80\n"
          "    weight: 0.5\n"
          "  - {}\n"
          "  - []\n"
          "  - - a\n"
          "    - null\n"
          "  - false\n"
          "  empty: []\n"
          "  none: null\n"
          "  \"on\": true\n"
          "  version: \"100\"\n");
  round_trips(o);
  cJSON_Delete(o);
}

static void yaml_roots_and_nesting(void **state) {
  cJSON *t, *a, *b;

  (void) state;
  t = cJSON_CreateString("hello");
  yaml_is(t, "hello\n");
  cJSON_Delete(t);
  t = cJSON_CreateNumber(42);
  yaml_is(t, "42\n");
  cJSON_Delete(t);
  t = cJSON_CreateObject();
  yaml_is(t, "{}\n");
  cJSON_Delete(t);
  t = cJSON_CreateArray();
  yaml_is(t, "[]\n");
  cJSON_Delete(t);

  /* Sequences of sequences of maps. */
  t = cJSON_CreateArray();
  a = cJSON_CreateArray();
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "k", "v");
  cJSON_AddItemToObject(b, "m", cJSON_CreateArray());
  cJSON_AddItemToArray(cJSON_GetObjectItem(b, "m"), cJSON_CreateString("x"));
  cJSON_AddItemToArray(a, b);
  cJSON_AddItemToArray(a, cJSON_CreateString("y1"));
  cJSON_AddItemToArray(t, a);
  cJSON_AddItemToArray(t, cJSON_CreateString("z"));
  yaml_is(t,
          "- - k: v\n"
          "    m:\n"
          "    - x\n"
          "  - y1\n"
          "- z\n");
  round_trips(t);
  cJSON_Delete(t);
}

static void json_layout(void **state) {
  cJSON *o = sample();

  (void) state;
  json_is(o, 0,
          "{\"apiVersion\":\"networking.istio.io/v1beta1\","
          "\"kind\":\"VirtualService\","
          "\"metadata\":{\"name\":\"web\",\"labels\":{}},"
          "\"spec\":{\"hosts\":[\"web.shop.svc.cluster.local\"],"
          "\"ports\":[{\"name\":\"http\",\"port\":80,\"weight\":0.5},{},[],"
          "[\"a\",null],false],\"empty\":[],\"none\":null,\"on\":true,"
          "\"version\":\"100\"}}");
  json_is(o, 1,
          "{\n"
          "  \"apiVersion\": \"networking.istio.io/v1beta1\",\n"
          "  \"kind\": \"VirtualService\",\n"
          "  \"metadata\": {\n"
          "    \"name\": \"web\",\n"
          "    \"labels\": {}\n"
          "  },\n"
          "  \"spec\": {\n"
          "    \"hosts\": [\n"
          "      \"web.shop.svc.cluster.local\"\n"
          "    ],\n"
          "    \"ports\": [\n"
          "      {\n"
          "        \"name\": \"http\",\n"
          "        \"port\": 80,\n"
          "        \"weight\": 0.5\n"
          "      },\n"
          "      {},\n"
          "      [],\n"
          "      [\n"
          "        \"a\",\n"
          "        null\n"
          "      ],\n"
          "      false\n"
          "    ],\n"
          "    \"empty\": [],\n"
          "    \"none\": null,\n"
          "    \"on\": true,\n"
          "    \"version\": \"100\"\n"
          "  }\n"
          "}\n");
  cJSON_Delete(o);
  o = cJSON_CreateString("x");
  json_is(o, 1, "\"x\"\n");
  json_is(o, 0, "\"x\"");
  cJSON_Delete(o);
}

/* ---- quoting ------------------------------------------------------------ */

static void needs_quotes_rules(void **state) {
  static const char *const quoted[] = {
    /* read as something else by the core schema */
    "", "null", "Null", "NULL", "~", "true", "True", "FALSE", "0", "-1",
    "+12", "007", "0o17", "0x1F", "1.5", "-2.", ".5", "1e3", "1E-3", ".inf",
    "-.Inf", ".NaN", "9007199254740993", "1e400",
    /* ... or by YAML 1.1 readers such as kubectl's */
    "yes", "No", "ON", "off", "y", "N", "<<", "=", "0b101", "1_000",
    "+inf", "-Infinity", "12:30:00", "190:20:30.15", "2024-01-31",
    "2001-12-14T21:59:43Z", "0x1p-2", "0B1_0", "0o1_7", "1_0.5e3", "_1",
    "-1_0", "2024-1-31", ":1", "1:",
    /* not representable plain */
    " lead", "trail ", "a: b", "a:", "a #b", "- x", "-", "? x", "?x", ":x",
    ",x", "[x", "]x", "{x", "}x", "#x", "&x", "*x", "!x", "|x", ">x", "'x",
    "\"x", "%x", "@x", "`x", "---", "--- x", "...", "a\tb", "a\nb", "a\rb",
    "\x7f", "a\xc2\x85" "b", "a\xe2\x80\xa8" "b", "\xef\xbb\xbf" "a",
    "a\x01", "\xc3\x28",
  };
  static const char *const plain[] = {
    "a", "web-v1", "a b  c", "a:b", "http://x:80/y?z#f", "a#b", "x-", "-x",
    "--port=80", "-.", "a,b", "a]", "a}", "a'b", "a\"b", "a\\b",
    "\xc3\xa9t\xc3\xa9", "\xf0\x9f\x98\x80", "nbsp\xc2\xa0x", "1.2.3",
    "v1", "e3", "inf", "nan", "Yes please", "0x", "1-2", "--", "-- x",
    "a...b", "..a", "truex", "nul", "12:3a", "1-2", "1.2.3", "1e", "0b12",
    "0o8", "0xg", "1.5.", "1e5x", "v1.2",
  };
  size_t i;

  (void) state;
  for (i = 0; i < sizeof(quoted) / sizeof(quoted[0]); i++) {
    if (!sb_emit_yaml_needs_quotes(quoted[i]))
      fprintf(stderr, "should be quoted: [%s]\n", quoted[i]);
    assert_true(sb_emit_yaml_needs_quotes(quoted[i]));
  }
  for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
    if (sb_emit_yaml_needs_quotes(plain[i]))
      fprintf(stderr, "should be plain: [%s]\n", plain[i]);
    assert_false(sb_emit_yaml_needs_quotes(plain[i]));
  }
  assert_true(sb_emit_yaml_needs_quotes(NULL));
}

static void escapes(void **state) {
  cJSON *t;

  (void) state;
  t = cJSON_CreateString("q\"b\\n\nt\tr\rc\x01" "d\x7f" "e\xc2\x85"
                         "l\xe2\x80\xa8p\xe2\x80\xa9" "b\xef\xbb\xbf"
                         "f\xef\xbf\xbe" "u\xc3\xa9\xf0\x9f\x98\x80");
  yaml_is(t, "\"q\\\"b\\\\n\\nt\\tr\\rc\\x01d\\x7Fe\\x85l\\Lp\\Pb\\uFEFFf"
             "\\uFFFEu\xc3\xa9\xf0\x9f\x98\x80\"\n");
  json_is(t, 0, "\"q\\\"b\\\\n\\nt\\tr\\rc\\u0001d\\u007Fe\\u0085l\\u2028"
                "p\\u2029b\\uFEFFf\\uFFFEu\xc3\xa9\xf0\x9f\x98\x80\"");
  round_trips(t);
  cJSON_Delete(t);
  t = cJSON_CreateString("\b\f/");
  json_is(t, 0, "\"\\b\\f/\"");
  yaml_is(t, "\"\\x08\\x0C/\"\n");
  round_trips(t);
  cJSON_Delete(t);
  /* Keys are quoted by the same rules. */
  t = cJSON_CreateObject();
  cJSON_AddNumberToObject(t, "100", 1);
  cJSON_AddNumberToObject(t, "a: b", 2);
  cJSON_AddNumberToObject(t, "<<", 3);
  cJSON_AddNumberToObject(t, "", 4);
  cJSON_AddNumberToObject(t, "plain key", 5);
  yaml_is(t, "\"100\": 1\n\"a: b\": 2\n\"<<\": 3\n\"\": 4\nplain key: 5\n");
  round_trips(t);
  cJSON_Delete(t);
}

static void long_keys_are_explicit(void **state) {
  char key[1200], quoted[1200], want[2600];
  cJSON *t, *v;

  (void) state;
  memset(key, 'k', sizeof(key) - 1);
  key[sizeof(key) - 1] = '\0';
  t = cJSON_CreateObject();
  cJSON_AddStringToObject(t, key, "v");
  v = cJSON_AddObjectToObject(t, "m");
  cJSON_AddItemToObject(v, key, cJSON_CreateArray());
  cJSON_AddItemToArray(cJSON_GetObjectItem(v, key), cJSON_CreateNumber(1));
  snprintf(want, sizeof(want), "? %s\n: v\nm:\n  ? %s\n  :\n  - 1\n", key,
           key);
  yaml_is(t, want);
  round_trips(t);
  cJSON_Delete(t);
  /* Quoted keys count their escapes: 500 tabs are 1002 bytes quoted. */
  memset(quoted, '\t', 500);
  quoted[500] = '\0';
  t = cJSON_CreateObject();
  cJSON_AddTrueToObject(t, quoted);
  round_trips(t);
  {
    char *y = yaml_of(t);
    assert_memory_equal(y, "? \"\\t", 5);
    free(y);
  }
  cJSON_Delete(t);
  /* Just under the limit stays implicit. */
  memset(quoted, '\t', 499);
  quoted[499] = '\0';
  t = cJSON_CreateObject();
  cJSON_AddTrueToObject(t, quoted);
  {
    char *y = yaml_of(t);
    assert_memory_equal(y, "\"\\t", 3);
    free(y);
  }
  round_trips(t);
  cJSON_Delete(t);
}

/* Every string of up to three characters from an alphabet of YAML's
 * troublemakers survives as a value, a key and a root, in both formats. */
static void short_strings_round_trip(void **state) {
  static const char *const alpha[] = {
    " ", "-", "?", ":", ",", "[", "]", "{", "}", "#", "&", "*", "!", "|",
    ">", "'", "\"", "%", "@", "`", "\\", ".", "~", "0", "1", "e", "x", "n",
    "y", "<", "=", "_", "+", "\t", "\n", "\xc3\xa9", "\xc2\x85",
  };
  size_t na = sizeof(alpha) / sizeof(alpha[0]), i, j, k;

  (void) state;
  for (i = 0; i < na; i++)
    for (j = 0; j <= na; j++)
      for (k = 0; k <= na; k++) {
        char s[16];
        cJSON *root, *map, *seq;
        if (j == na && k < na)
          continue;
        snprintf(s, sizeof(s), "%s%s%s", alpha[i], j < na ? alpha[j] : "",
                 k < na ? alpha[k] : "");
        map = cJSON_CreateObject();
        cJSON_AddStringToObject(map, s, s);
        seq = cJSON_AddArrayToObject(map, "seq");
        cJSON_AddItemToArray(seq, cJSON_CreateString(s));
        round_trips(map);
        cJSON_Delete(map);
        root = cJSON_CreateString(s);
        round_trips(root);
        cJSON_Delete(root);
      }
}

/* ---- numbers ------------------------------------------------------------ */

static void numbers(void **state) {
  static const struct {
    double v;
    const char *text;
  } cases[] = {
    {100.0, "100"}, {0.0, "0"}, {-0.0, "0"}, {-7, "-7"}, {0.5, "0.5"},
    {0.1, "0.1"}, {1.0 / 3, "0.3333333333333333"}, {-1.5e-7, "-1.5e-07"},
    {123456.789, "123456.789"}, {1e21, "1e+21"},
    {9007199254740992.0, "9007199254740992"},
    {-9007199254740992.0, "-9007199254740992"},
    {9007199254740994.0, "9.007199254740994e+15"},
    {1e16, "1e+16"}, {DBL_MAX, "1.7976931348623157e+308"},
    {5e-324, "5e-324"}, {2.5e-308, "2.5e-308"},
  };
  size_t i;

  (void) state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cJSON *t = cJSON_CreateNumber(cases[i].v);
    char want[64];
    snprintf(want, sizeof(want), "%s\n", cases[i].text);
    yaml_is(t, want);
    json_is(t, 0, cases[i].text);
    round_trips(t);
    cJSON_Delete(t);
  }
  /* Many doubles, shortest text that reads back the same. */
  {
    uint64_t x = 88172645463325252ULL;
    for (i = 0; i < 5000; i++) {
      double d;
      cJSON *t;
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      memcpy(&d, &x, sizeof(d));
      if (!isfinite(d))
        continue;
      t = cJSON_CreateNumber(d);
      round_trips(t);
      cJSON_Delete(t);
    }
  }
}

/* ---- errors ------------------------------------------------------------- */

static void emit_errors(void **state) {
  sb_buf b;
  cJSON *t;

  (void) state;
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  assert_int_equal(sb_emit_yaml(NULL, &b), SB_EINVAL);
  assert_int_equal(sb_emit_json(NULL, &b, 1), SB_EINVAL);
  t = cJSON_CreateNumber(NAN);
  assert_int_equal(sb_emit_yaml(t, &b), SB_EINVAL);
  assert_int_equal(sb_emit_json(t, &b, 0), SB_EINVAL);
  cJSON_Delete(t);
  t = cJSON_CreateNumber(INFINITY);
  assert_int_equal(sb_emit_json(t, &b, 0), SB_EINVAL);
  cJSON_Delete(t);
  t = cJSON_CreateString("bad \xff utf-8");
  assert_int_equal(sb_emit_yaml(t, &b), SB_EINVAL);
  assert_int_equal(sb_emit_json(t, &b, 0), SB_EINVAL);
  cJSON_Delete(t);
  t = cJSON_CreateObject();
  cJSON_AddItemToObject(t, "\xed\xa0\x80", cJSON_CreateNull());
  assert_int_equal(sb_emit_yaml(t, &b), SB_EINVAL);
  assert_int_equal(sb_emit_json(t, &b, 0), SB_EINVAL);
  cJSON_Delete(t);
  /* A member without a key is not an object member. */
  t = cJSON_CreateObject();
  cJSON_AddItemToArray(t, cJSON_CreateNull());
  assert_int_equal(sb_emit_yaml(t, &b), SB_EINVAL);
  assert_int_equal(sb_emit_json(t, &b, 0), SB_EINVAL);
  cJSON_Delete(t);
  t = cJSON_CreateRaw("1");
  assert_int_equal(sb_emit_yaml(t, &b), SB_EINVAL);
  assert_int_equal(sb_emit_json(t, &b, 0), SB_EINVAL);
  cJSON_Delete(t);
  sb_buf_free(&b);

  /* The buffer's cap is honoured. */
  sb_buf_init(&b, 20);
  t = sample();
  assert_int_equal(sb_emit_yaml(t, &b), SB_ELIMIT);
  assert_int_equal(sb_emit_json(t, &b, 1), SB_ELIMIT);
  cJSON_Delete(t);
  sb_buf_free(&b);

  /* Nesting past the emitter's recursion bound. */
  {
    cJSON *root = cJSON_CreateArray(), *cur = root;
    int i;
    for (i = 0; i < 1100; i++) {
      cJSON *n = cJSON_CreateArray();
      cJSON_AddItemToArray(cur, n);
      cur = n;
    }
    sb_buf_init(&b, SB_BUF_UNLIMITED);
    assert_int_equal(sb_emit_yaml(root, &b), SB_ELIMIT);
    sb_buf_reset(&b);
    assert_int_equal(sb_emit_json(root, &b, 0), SB_ELIMIT);
    sb_buf_free(&b);
    cJSON_Delete(root);
    root = cJSON_CreateObject();
    cur = root;
    for (i = 0; i < 1100; i++)
      cur = cJSON_AddObjectToObject(cur, "k");
    cJSON_AddNumberToObject(cur, "leaf", 1);
    sb_buf_init(&b, SB_BUF_UNLIMITED);
    assert_int_equal(sb_emit_yaml(root, &b), SB_ELIMIT);
    sb_buf_reset(&b);
    assert_int_equal(sb_emit_json(root, &b, 1), SB_ELIMIT);
    sb_buf_free(&b);
    cJSON_Delete(root);
  }
}

/* ---- fixtures ----------------------------------------------------------- */

/* Every document of every fixture (the fuzz seeds and tests/data/doc)
 * survives emit + parse in both formats. */
static void fixtures_round_trip(void **state) {
  static const char *const dirs[] = {
    SB_SOURCE_DIR "/tests/fuzz/corpus/doc",
    SB_SOURCE_DIR "/tests/data/doc",
  };
  size_t di;
  int docs = 0;

  (void) state;
  for (di = 0; di < sizeof(dirs) / sizeof(dirs[0]); di++) {
    struct dirent *e;
    DIR *dir = opendir(dirs[di]);
    if (!dir)
      continue;
    while ((e = readdir(dir))) {
      char path[1024], err[256], *data;
      size_t len;
      sb_diags d;
      all a = {{0}, 0};
      int i;
      if (e->d_name[0] == '.')
        continue;
      snprintf(path, sizeof(path), "%s/%s", dirs[di], e->d_name);
      assert_int_equal(sb_doc_read_file(path, 1 << 20, &data, &len, err,
                                        sizeof(err)), 0);
      sb_diags_init(&d);
      sb_doc_parse(path, data, len, NULL, keep_all, &a, &d);
      for (i = 0; i < a.n; i++)
        round_trips(a.roots[i]);
      docs += a.n;
      all_free(&a);
      sb_diags_free(&d);
      free(data);
    }
    closedir(dir);
  }
  assert_true(docs >= 30);
}

/* Keys marked constant (cJSON_StringIsConst, as translate builds them)
 * give the YAML copied keys give, with a memo kept across documents too,
 * also when a constant buffer is reused with other text. */
static void constant_keys(void **state) {
  static const char *const keys[] = {
    "apiVersion", "on", "a: b", "", "-", "x", "metadata", "yes",
    "a-key-longer-than-the-memo-keeps-of-any-one-key-at-all", "apiVersion",
  };
  static char reused[16] = "app";
  sb_emit_memo *mm = sb_emit_memo_new();
  size_t round, i;

  (void) state;
  assert_non_null(mm);
  for (round = 0; round < 3; round++) {
    cJSON *c = cJSON_CreateObject(), *p = cJSON_CreateObject();
    sb_buf a, b;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
      cJSON_AddItemToObjectCS(c, keys[i], cJSON_CreateNumber((double) i));
      cJSON_AddItemToObject(p, keys[i], cJSON_CreateNumber((double) i));
    }
    cJSON_AddItemToObjectCS(c, reused, cJSON_CreateString("v"));
    cJSON_AddItemToObject(p, reused, cJSON_CreateString("v"));
    sb_buf_init(&a, SB_BUF_UNLIMITED);
    sb_buf_init(&b, SB_BUF_UNLIMITED);
    assert_int_equal(sb_emit_yaml_memo(c, &a, mm), 0);
    assert_int_equal(sb_emit_yaml(p, &b), 0);
    assert_string_equal(sb_buf_cstr(&a), sb_buf_cstr(&b));
    sb_buf_reset(&a);
    assert_int_equal(sb_emit_yaml(c, &a), 0);
    assert_string_equal(sb_buf_cstr(&a), sb_buf_cstr(&b));
    sb_buf_free(&a);
    sb_buf_free(&b);
    cJSON_Delete(c);
    cJSON_Delete(p);
    /* Same address, new text: "on" needs quotes, then a plain one. */
    snprintf(reused, sizeof(reused), "%s", round == 0 ? "on" : "ap");
  }
  {
    cJSON *c = cJSON_CreateObject();
    sb_buf a;

    snprintf(reused, sizeof(reused), "app");
    cJSON_AddItemToObjectCS(c, reused, cJSON_CreateString("v"));
    sb_buf_init(&a, SB_BUF_UNLIMITED);
    assert_int_equal(sb_emit_yaml_memo(c, &a, mm), 0);
    assert_string_equal(sb_buf_cstr(&a), "app: v\n");
    snprintf(reused, sizeof(reused), "no");
    sb_buf_reset(&a);
    assert_int_equal(sb_emit_yaml_memo(c, &a, mm), 0);
    assert_string_equal(sb_buf_cstr(&a), "\"no\": v\n");
    sb_buf_free(&a);
    cJSON_Delete(c);
  }
  sb_emit_memo_free(mm);
}

/* The fast path for long plain words agrees with the full rules: words
 * of six bytes or more that start with a letter are plain, the shorter
 * reserved words and anything with other bytes are still decided by the
 * resolvers. */
static void long_words_are_plain(void **state) {
  static const char *const plain[] = {
    "metadata", "apiVersion", "web-v1", "networking.istio.io/v1",
    "infinity", "falsey", "nullable", "yes-no", "Offset", "a_b.c/d",
    "TRUE-ish", "kind", "spec", "uri", NULL,
  };
  static const char *const quoted[] = {
    "false", "FALSE", "null", "NULL", "true", "yes", "off", "on", "no",
    "y", "n", "web-v1:", "a: b-c-d", "abcdef ", "abc #def",
    "abcd\xc3\xa9\xc2\x85", "123456", "0x1234", "2001-12-14", NULL,
  };
  size_t i;

  (void) state;
  for (i = 0; plain[i]; i++)
    assert_false(sb_emit_yaml_needs_quotes(plain[i]));
  for (i = 0; quoted[i]; i++)
    if (!sb_emit_yaml_needs_quotes(quoted[i]))
      fail_msg("%s should need quotes", quoted[i]);
}


/* sb_emit_hash: content, order and shape count; the number's text, not
 * its bits, goes in; the value for a fixed tree is pinned, because every
 * generated object in every cluster carries it (changing the function
 * would rewrite them all once after an upgrade -- do it knowingly). */
static void hash_of_trees(void **state) {
  static const char *distinct[] = {
      "{\"a\":1,\"b\":[\"x\",{\"c\":null}]}",
      "{\"b\":[\"x\",{\"c\":null}],\"a\":1}",
      "{\"a\":1,\"b\":[\"x\",{}]}",
      "{\"a\":1,\"b\":[\"x\"],\"c\":null}",
      "{\"a\":\"1\",\"b\":[\"x\",{\"c\":null}]}",
      "{\"a\":1,\"b\":[[\"x\"],{\"c\":null}]}",
      "{\"a\":1,\"b\":{\"x\":{\"c\":null}}}",
      "{\"a\":true}", "{\"a\":false}", "{\"a\":null}", "{\"a\":\"\"}",
      "{\"ab\":\"\"}", "{\"a\":\"b\"}", "[]", "{}"};
  uint64_t h[sizeof(distinct) / sizeof(distinct[0])];
  size_t i, k;
  cJSON *a, *b;

  (void) state;
  assert_int_equal(sb_emit_hash(NULL), 0);
  for (i = 0; i < sizeof(distinct) / sizeof(distinct[0]); i++) {
    a = cJSON_Parse(distinct[i]);
    b = cJSON_Parse(distinct[i]);
    assert_non_null(a);
    assert_non_null(b);
    h[i] = sb_emit_hash(a);
    assert_true(h[i] == sb_emit_hash(b));
    for (k = 0; k < i; k++)
      if (h[k] == h[i])
        fail_msg("%s and %s hash alike", distinct[k], distinct[i]);
    cJSON_Delete(a);
    cJSON_Delete(b);
  }
  /* 1, 1.0 and 1e0 are one number; 0.1 hashes as "0.1". */
  a = cJSON_Parse("[1,0.1]");
  b = cJSON_Parse("[1.0,1e-1]");
  assert_true(sb_emit_hash(a) == sb_emit_hash(b));
  cJSON_Delete(b);
  assert_int_equal(sb_emit_hash(a), 0x4aa4224e71bcbca4ULL);
  cJSON_Delete(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(long_words_are_plain),
    cmocka_unit_test(yaml_layout),
    cmocka_unit_test(constant_keys),
    cmocka_unit_test(yaml_roots_and_nesting),
    cmocka_unit_test(json_layout),
    cmocka_unit_test(needs_quotes_rules),
    cmocka_unit_test(escapes),
    cmocka_unit_test(long_keys_are_explicit),
    cmocka_unit_test(short_strings_round_trip),
    cmocka_unit_test(numbers),
    cmocka_unit_test(emit_errors),
    cmocka_unit_test(fixtures_round_trip),
    cmocka_unit_test(hash_of_trees),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
