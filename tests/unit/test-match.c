/* test-match.c -- pathRegex / header / method conversion tables for the
 * VirtualService, HTTPRoute and AuthorizationPolicy shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/translate/internal.h"
#include "sb/err.h"

#include "test-translate-util.h"

/* ---- classification ----------------------------------------------------- */

static void classify_paths(void **state) {
  static const struct {
    const char *re;
    sb__path_kind kind;
    const char *lit;
  } cases[] = {
    {NULL, SB__PATH_ALL, ""},
    {"", SB__PATH_ALL, ""},
    {".*", SB__PATH_ALL, ""},
    {"^.*", SB__PATH_ALL, ""},
    {"/.*", SB__PATH_ALL, ""},
    {"^/.*", SB__PATH_ALL, ""},
    {"/", SB__PATH_ALL, ""},
    {"/.*$", SB__PATH_ALL, ""},
    {"/api", SB__PATH_PREFIX, "/api"},
    {"^/api", SB__PATH_PREFIX, "/api"},
    {"/api/v1\\.0", SB__PATH_PREFIX, "/api/v1.0"},
    {"/a\\$", SB__PATH_PREFIX, "/a$"},
    {"/api.*", SB__PATH_PREFIX, "/api"},
    {"/api.*$", SB__PATH_PREFIX, "/api"},
    {"/api$", SB__PATH_EXACT, "/api"},
    {"^/$", SB__PATH_EXACT, "/"},
    {"/api(/.*)?$", SB__PATH_SEGMENT, "/api"},
    {"/api(/|$)", SB__PATH_SEGMENT, "/api"},
    {"/api($|/)", SB__PATH_SEGMENT, "/api"},
    {"/api(/.*|$)", SB__PATH_SEGMENT, "/api"},
    {"/api($|/.*)", SB__PATH_SEGMENT, "/api"},
    {"/api/(/.*)?$", SB__PATH_REGEX, ""},   /* L may not end in '/' */
    {"/api(/.*)?", SB__PATH_REGEX, ""},     /* no $: a string prefix */
    {"/api/v[0-9]+", SB__PATH_REGEX, ""},
    {"/api|/web", SB__PATH_REGEX, ""},
    {"/a\\.*", SB__PATH_REGEX, ""},
    {"/users/\\d+", SB__PATH_REGEX, ""},
    {"$", SB__PATH_REGEX, ""},
  };
  sb_buf lit;
  size_t i;

  (void) state;
  sb_buf_init(&lit, SB_BUF_UNLIMITED);
  for (i = 0; i < SB_ARRAY_SIZE(cases); i++) {
    sb__path_kind k = sb__path_classify(cases[i].re, &lit);
    if (k != cases[i].kind)
      fail_msg("%s: kind %d, want %d", cases[i].re ? cases[i].re : "NULL",
               (int) k, (int) cases[i].kind);
    if (k != SB__PATH_ALL && k != SB__PATH_REGEX)
      assert_string_equal(sb_buf_cstr(&lit), cases[i].lit);
  }
  sb_buf_free(&lit);
}

static void literals(void **state) {
  sb_buf lit;

  (void) state;
  sb_buf_init(&lit, SB_BUF_UNLIMITED);
  assert_int_equal(sb__regex_literal("/a-b_c:d", 8, &lit), 1);
  assert_string_equal(sb_buf_cstr(&lit), "/a-b_c:d");
  assert_int_equal(sb__regex_literal("\\/\\.\\-", 6, &lit), 1);
  assert_string_equal(sb_buf_cstr(&lit), "/.-");
  assert_int_equal(sb__regex_literal("a.b", 3, &lit), 0);
  assert_int_equal(sb__regex_literal("\\d", 2, &lit), 0);
  assert_int_equal(sb__regex_literal("a\\", 2, &lit), 0);
  assert_int_equal(sb__regex_literal("{id}", 4, &lit), 0);
  sb_buf_free(&lit);
}

static void methods_and_headers(void **state) {
  (void) state;
  assert_true(sb__method_ok("GET"));
  assert_true(sb__method_ok("PATCH"));
  assert_false(sb__method_ok("get"));
  assert_false(sb__method_ok("*"));
  assert_true(sb__header_name_ok("X-Forwarded-For"));
  assert_false(sb__header_name_ok("bad header"));
  assert_false(sb__header_name_ok(""));
  assert_true(sb__route_path_ok("/a/b.c~d%20e"));
  assert_false(sb__route_path_ok("a"));
  assert_false(sb__route_path_ok("/a//b"));
  assert_false(sb__route_path_ok("/a/../b"));
  assert_false(sb__route_path_ok("/a/."));
  assert_false(sb__route_path_ok("/a#b"));
  assert_false(sb__route_path_ok("/a b"));
  assert_false(sb__route_path_ok("/a%2Fb"));
  assert_false(sb__route_path_ok("/a%zz"));
}

/* ---- AuthorizationPolicy strings ---------------------------------------- */

/* Joins the list with '|' (or "ALL" for an empty list), "DROP" for 1. */
static void ap_expect(int (*fn)(const char *, sb__strv *), const char *re,
                      const char *want) {
  sb__strv v = {0};
  sb_buf got;
  size_t i;
  int rc = fn(re, &v);

  sb_buf_init(&got, SB_BUF_UNLIMITED);
  if (rc == 1)
    sb_buf_adds(&got, "DROP");
  else if (rc == 0 && v.n == 0)
    sb_buf_adds(&got, "ALL");
  for (i = 0; rc == 0 && i < v.n; i++)
    sb_buf_addf(&got, "%s%s", i ? "|" : "", v.v[i]);
  if (strcmp(sb_buf_cstr(&got), want) != 0)
    fail_msg("%s: got %s, want %s", re ? re : "NULL", sb_buf_cstr(&got),
             want);
  if (rc)
    assert_int_equal(v.n, 0);
  sb__strv_free(&v);
  sb_buf_free(&got);
}

static void ap_paths(void **state) {
  (void) state;
  ap_expect(sb__ap_paths, NULL, "ALL");
  ap_expect(sb__ap_paths, "", "ALL");
  ap_expect(sb__ap_paths, ".*", "ALL");
  ap_expect(sb__ap_paths, "/.*", "ALL");
  ap_expect(sb__ap_paths, "^.*", "ALL");
  ap_expect(sb__ap_paths, "/api", "/api*");
  ap_expect(sb__ap_paths, "^/api$", "/api");
  ap_expect(sb__ap_paths, "/api.*", "/api*");
  ap_expect(sb__ap_paths, "/api.*$", "/api*");
  ap_expect(sb__ap_paths, "/v1\\.0/x\\-y", "/v1.0/x-y*");
  ap_expect(sb__ap_paths, "/a|/b$", "/a*|/b");
  ap_expect(sb__ap_paths, "^/a|^/b", "/a*|/b*");
  ap_expect(sb__ap_paths, "/a|/a", "/a*");
  ap_expect(sb__ap_paths, "/a|.*", "ALL");
  ap_expect(sb__ap_paths, "/api(/.*)?$", "/api|/api/*");
  ap_expect(sb__ap_paths, "/a|$", "/a*");
  /* Fail closed: cannot be said without widening. */
  ap_expect(sb__ap_paths, "/api/v[0-9]+", "DROP");
  ap_expect(sb__ap_paths, "/a*b", "DROP");
  ap_expect(sb__ap_paths, "/a\\*", "DROP");     /* '*' would be a wildcard */
  ap_expect(sb__ap_paths, "/x/\\{id\\}", "DROP");  /* templates */
  ap_expect(sb__ap_paths, "(/a|/b)", "DROP");
  ap_expect(sb__ap_paths, "/a|/b/\\d", "DROP");
  ap_expect(sb__ap_paths, "$", "DROP");          /* matches nothing */
  ap_expect(sb__ap_paths, "/.+", "DROP");
}

static void ap_headers(void **state) {
  (void) state;
  ap_expect(sb__ap_header_values, ".*", "*");
  ap_expect(sb__ap_header_values, "Firefox", "Firefox");
  ap_expect(sb__ap_header_values, "^v1$", "v1");
  ap_expect(sb__ap_header_values, "v1.*", "v1*");
  ap_expect(sb__ap_header_values, ".*Android", "*Android");
  ap_expect(sb__ap_header_values, "a|b", "a|b");
  ap_expect(sb__ap_header_values, "a|.*", "*");
  ap_expect(sb__ap_header_values, "1\\.0", "1.0");
  ap_expect(sb__ap_header_values, ".*Android.*", "DROP");
  ap_expect(sb__ap_header_values, "", "DROP");
  ap_expect(sb__ap_header_values, "v[12]", "DROP");
  ap_expect(sb__ap_header_values, ".+", "DROP");
  ap_expect(sb__ap_header_values, "a|", "DROP");
}

/* ---- whole matches ------------------------------------------------------ */

typedef struct fixture {
  sb_world *w;
  sb_translate_opts o;
  sb_key key;
  sb_out out;
  sb__tx t;
  sb_http_route_group *g;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));

  assert_non_null(f);
  f->w = sb_world_new();
  sb_translate_opts_default(&f->o);
  f->key.kind = SB_KIND_TRAFFIC_SPLIT;
  f->key.ns = "shop";
  f->key.name = "ts";
  sb_out_init(&f->out);
  f->t.w = f->w;
  f->t.o = &f->o;
  f->t.key = &f->key;
  f->t.out = &f->out;
  f->g = tu_hrg("shop", "g");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;

  sb_out_free(&f->out);
  sb_obj_free(&f->g->obj);
  sb_world_free(f->w);
  free(f);
  return 0;
}

/* Converts one match; returns the list as compact JSON (caller frees) or
 * "ALL" / "ERROR". */
static char *conv(fixture *f, sb__match_form form, const char *path,
                  const char *methods, const char *headers) {
  sb_http_match *m = tu_hrg_match(f->g, "m", path, methods, headers);
  cJSON *list = cJSON_CreateArray();
  char *s;
  int all = 0, rc;

  rc = sb__convert_match(&f->t, form, m, "M", "spec", list, &all);
  assert_false(f->t.oom);
  if (rc)
    s = strdup("ERROR");
  else if (all)
    s = strdup(cJSON_GetArraySize(list) ? "ALL+ENTRIES" : "ALL");
  else
    s = cJSON_PrintUnformatted(list);
  cJSON_Delete(list);
  return s;
}

#define CONV(form, path, methods, headers, want)                             \
  do {                                                                       \
    char *got_ = conv(f, (form), (path), (methods), (headers));              \
    assert_string_equal(got_, (want));                                       \
    free(got_);                                                              \
  } while (0)

static void vs_matches(void **state) {
  fixture *f = *state;

  CONV(SB__MATCH_VS, "/api", "", "", "[{\"uri\":{\"prefix\":\"/api\"}}]");
  CONV(SB__MATCH_VS, "^/api$", "", "", "[{\"uri\":{\"exact\":\"/api\"}}]");
  CONV(SB__MATCH_VS, "/api/v[0-9]+", "", "",
       "[{\"uri\":{\"regex\":\"(?:/api/v[0-9]+).*\"}}]");
  CONV(SB__MATCH_VS, "/api(/.*)?$", "", "",
       "[{\"uri\":{\"regex\":\"(?:/api(/.*)?$).*\"}}]");
  CONV(SB__MATCH_VS, "/x", "GET,POST", "",
       "[{\"uri\":{\"prefix\":\"/x\"},\"method\":{\"exact\":\"GET\"}},"
       "{\"uri\":{\"prefix\":\"/x\"},\"method\":{\"exact\":\"POST\"}}]");
  CONV(SB__MATCH_VS, "/x", "GET,*", "", "[{\"uri\":{\"prefix\":\"/x\"}}]");
  CONV(SB__MATCH_VS, "/x", "GET,GET", "",
       "[{\"uri\":{\"prefix\":\"/x\"},\"method\":{\"exact\":\"GET\"}}]");
  CONV(SB__MATCH_VS, NULL, "", "User-Agent=.*Firefox.*",
       "[{\"headers\":{\"user-agent\":{\"regex\":\".*Firefox.*\"}}}]");
  CONV(SB__MATCH_VS, ".*", "PUT", "x-a=1,X-B=b.*",
       "[{\"method\":{\"exact\":\"PUT\"},\"headers\":{\"x-a\":{\"regex\":"
       "\"1\"},\"x-b\":{\"regex\":\"b.*\"}}}]");
  /* No condition at all: "everything", never match: [{}]. */
  CONV(SB__MATCH_VS, NULL, "", "", "ALL");
  CONV(SB__MATCH_VS, "/.*", "*", "", "ALL");
  assert_int_equal(f->out.diags.n, 0);
}

static void route_matches(void **state) {
  fixture *f = *state;

  /* A literal is a string prefix in SMI: not a (segment) PathPrefix. */
  CONV(SB__MATCH_ROUTE, "/api", "", "",
       "[{\"path\":{\"type\":\"RegularExpression\",\"value\":"
       "\"(?:/api).*\"}}]");
  CONV(SB__MATCH_ROUTE, "/api$", "", "",
       "[{\"path\":{\"type\":\"Exact\",\"value\":\"/api\"}}]");
  CONV(SB__MATCH_ROUTE, "^/api(/.*)?$", "", "",
       "[{\"path\":{\"type\":\"PathPrefix\",\"value\":\"/api\"}}]");
  /* An Exact value the CRD would refuse stays a regex. */
  CONV(SB__MATCH_ROUTE, "/a//b$", "", "",
       "[{\"path\":{\"type\":\"RegularExpression\",\"value\":"
       "\"(?:/a//b$).*\"}}]");
  CONV(SB__MATCH_ROUTE, ".*", "GET", "", "[{\"method\":\"GET\"}]");
  CONV(SB__MATCH_ROUTE, "/v1$", "GET,DELETE", "X-User=a.*",
       "[{\"path\":{\"type\":\"Exact\",\"value\":\"/v1\"},\"headers\":"
       "[{\"type\":\"RegularExpression\",\"name\":\"x-user\",\"value\":"
       "\"a.*\"}],\"method\":\"GET\"},{\"path\":{\"type\":\"Exact\","
       "\"value\":\"/v1\"},\"headers\":[{\"type\":\"RegularExpression\","
       "\"name\":\"x-user\",\"value\":\"a.*\"}],\"method\":\"DELETE\"}]");
  CONV(SB__MATCH_ROUTE, "", "", "", "ALL");
  assert_int_equal(f->out.diags.n, 0);
}

static void invalid_matches(void **state) {
  fixture *f = *state;
  char *longre;

  CONV(SB__MATCH_VS, "/x", "FOO", "", "ERROR");
  assert_int_equal(f->out.diags.n, 1);
  assert_string_equal(f->out.diags.v[0].reason, SB_REASON_INVALID);
  assert_string_equal(f->out.diags.v[0].msg, "M: method \"FOO\" is not one "
                      "of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, "
                      "TRACE, PATCH or *");
  CONV(SB__MATCH_ROUTE, "/x", "", "X-A=1,x-a=2", "ERROR");
  /* Header names are case-insensitive. */
  assert_string_equal(f->out.diags.v[1].msg, "M: header x-a is listed "
                      "twice");
  CONV(SB__MATCH_VS, "/x", "", "x-a=", "ERROR");
  CONV(SB__MATCH_VS, "/x", "", "bad name=1", "ERROR");
  longre = malloc(1100);
  assert_non_null(longre);
  memset(longre, 'a', 1099);
  longre[0] = '[';
  longre[1] = 'a';
  longre[2] = ']';
  longre[1099] = '\0';
  CONV(SB__MATCH_VS, longre, "", "", "ERROR");
  assert_non_null(strstr(f->out.diags.v[f->out.diags.n - 1].msg,
                         "too long"));
  free(longre);
}

static void ap_match(void **state) {
  fixture *f = *state;
  sb_http_match *m;
  cJSON *ports = cJSON_CreateArray(), *op, *when;
  char *s;

  cJSON_AddItemToArray(ports, cJSON_CreateString("8080"));
  m = tu_hrg_match(f->g, "api", "/api", "GET", "X-V=v1");
  assert_int_equal(sb__convert_match_ap(&f->t, m, ports, "M", "spec",
                                        &op, &when), 0);
  s = cJSON_PrintUnformatted(op);
  assert_string_equal(s, "{\"ports\":[\"8080\"],\"methods\":[\"GET\"],"
                      "\"paths\":[\"/api*\"]}");
  free(s);
  s = cJSON_PrintUnformatted(when);
  assert_string_equal(s, "[{\"key\":\"request.headers[x-v]\","
                      "\"values\":[\"v1\"]}]");
  free(s);
  cJSON_Delete(op);
  cJSON_Delete(when);

  /* Everything, no ports: no operation at all. */
  m = tu_hrg_match(f->g, "all", ".*", "*", "");
  assert_int_equal(sb__convert_match_ap(&f->t, m, NULL, "M", "spec",
                                        &op, &when), 0);
  assert_null(op);
  assert_null(when);

  /* Inexpressible path: dropped, with a MatchDropped warning. */
  m = tu_hrg_match(f->g, "re", "/api/v[0-9]+", "", "");
  assert_int_equal(sb__convert_match_ap(&f->t, m, ports, "M", "spec.rules",
                                        &op, &when), 1);
  assert_null(op);
  assert_int_equal(f->out.diags.n, 1);
  assert_int_equal(f->out.diags.v[0].sev, SB_DIAG_WARNING);
  assert_string_equal(f->out.diags.v[0].reason, SB_REASON_DROPPED);
  assert_string_equal(f->out.diags.v[0].msg, "M: pathRegex "
                      "\"/api/v[0-9]+\" cannot be expressed in an Istio "
                      "AuthorizationPolicy (exact, prefix* and *suffix paths "
                      "only); the match is dropped, so what it would allow "
                      "is denied");
  /* Inexpressible header: dropped too. */
  m = tu_hrg_match(f->g, "hdr", "/x", "", "user-agent=.*Android.*");
  assert_int_equal(sb__convert_match_ap(&f->t, m, ports, "M", "spec.rules",
                                        &op, &when), 1);
  assert_null(op);
  assert_null(when);
  assert_int_equal(f->out.diags.n, 2);
  assert_string_equal(f->out.diags.v[1].reason, SB_REASON_DROPPED);
  cJSON_Delete(ports);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(classify_paths),
    cmocka_unit_test(literals),
    cmocka_unit_test(methods_and_headers),
    cmocka_unit_test(ap_paths),
    cmocka_unit_test(ap_headers),
    cmocka_unit_test_setup_teardown(vs_matches, setup, teardown),
    cmocka_unit_test_setup_teardown(route_matches, setup, teardown),
    cmocka_unit_test_setup_teardown(invalid_matches, setup, teardown),
    cmocka_unit_test_setup_teardown(ap_match, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
