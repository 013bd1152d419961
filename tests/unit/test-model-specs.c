/* test-model-specs.c -- HTTPRouteGroup, TCPRoute, UDPRoute v1alpha1..4,
 * both groups (specs.smi-spec.io and the old spec.smi-spec.io). */
#include "model-test.h"

#include "../../src/model/parse.h"

#define META "'metadata':{'name':'routes','namespace':'shop'}"
#define HRG(ver, body)                                                   \
  "{'apiVersion':'specs.smi-spec.io/" ver "','kind':'HTTPRouteGroup',"   \
  META "," body "}"

static sb_http_route_group *hrg_ok(const char *text, size_t nwarn) {
  sb_obj *o = ok(text, nwarn);

  assert_int_equal(o->kind, SB_KIND_HTTP_ROUTE_GROUP);
  return (sb_http_route_group *) o;
}

/* The spec's two-match example, in each version's own layout. */
static void every_version_in_its_layout(void **state) {
  static const char *const texts[] = {
    HRG("v1alpha1", "'matches':[{'name':'metrics','pathRegex':'/metrics',"
        "'methods':['GET']},{'name':'health','pathRegex':'/ping',"
        "'methods':['*']}]"),
    HRG("v1alpha2", "'matches':[{'name':'metrics','pathRegex':'/metrics',"
        "'methods':['GET']},{'name':'health','pathRegex':'/ping',"
        "'methods':['*']}]"),
    HRG("v1alpha3", "'spec':{'matches':[{'name':'metrics',"
        "'pathRegex':'/metrics','methods':['GET']},{'name':'health',"
        "'pathRegex':'/ping','methods':['*']}]}"),
    HRG("v1alpha4", "'spec':{'matches':[{'name':'metrics',"
        "'pathRegex':'/metrics','methods':['GET']},{'name':'health',"
        "'pathRegex':'/ping','methods':['*']}]}"),
  };
  sb_http_route_group *g;
  size_t i;

  (void) state;
  for (i = 0; i < 4; i++) {
    g = hrg_ok(texts[i], 0);
    assert_int_equal(g->obj.version, (int) i + 1);
    assert_int_equal(g->nmatches, 2);
    assert_string_equal(g->matches[0].name, "metrics");
    assert_string_equal(g->matches[0].path_regex, "/metrics");
    assert_int_equal(g->matches[0].nmethods, 1);
    assert_string_equal(g->matches[0].methods[0], "GET");
    assert_int_equal(g->matches[0].nheaders, 0);
    assert_null(g->matches[0].headers);
    assert_string_equal(g->matches[1].name, "health");
    assert_string_equal(g->matches[1].methods[0], "*");
    sb_obj_free(&g->obj);
  }
}

static void either_layout_in_any_version(void **state) {
  sb_http_route_group *g;

  (void) state;
  g = (sb_http_route_group *) warned(
      HRG("v1alpha4", "'matches':[{'name':'a'}]"), 1, "matches",
      "belongs under spec in v1alpha4; read anyway");
  assert_int_equal(g->nmatches, 1);
  sb_obj_free(&g->obj);
  g = (sb_http_route_group *) warned(
      HRG("v1alpha2", "'spec':{'matches':[{'name':'a'}]}"), 1,
      "spec.matches",
      "belongs at the top level (no spec) in v1alpha2; read anyway");
  assert_int_equal(g->nmatches, 1);
  sb_obj_free(&g->obj);
  bad(HRG("v1alpha4", "'matches':[{'name':'a'}],'spec':{'matches':"
          "[{'name':'b'}]}"), 1, "matches",
      "is given both at the top level and under spec; write it once "
      "(under spec from v1alpha3)");
}

static void no_matches_is_legal_but_useless(void **state) {
  sb_http_route_group *g;

  (void) state;
  g = (sb_http_route_group *) warned(HRG("v1alpha4", "'spec':{}"), 1,
                                     "spec.matches",
                                     "is missing: this group matches no "
                                     "request");
  assert_int_equal(g->nmatches, 0);
  sb_obj_free(&g->obj);
  sb_obj_free(warned(HRG("v1alpha1", "'x':1"), 1, "matches",
                     "is missing: this group matches no request"));
  sb_obj_free(warned(HRG("v1alpha3", "'spec':{'matches':[]}"), 1,
                     "spec.matches",
                     "is empty: this group matches no request"));
  bad(HRG("v1alpha4", "'spec':{'routes':[{'name':'a'}]}"), 1,
      "spec.routes", "is not read; HTTPRouteGroup matches belong in "
      "spec.matches");
  bad(HRG("v1alpha3", "'spec':{'matches':{'name':'a'}}"), 1,
      "spec.matches", "must be a list of matches (got a map)");
}

static void the_old_group_is_an_alias(void **state) {
  sb_http_route_group *g;
  sb_port_route *r;

  (void) state;
  g = hrg_ok("{'apiVersion':'spec.smi-spec.io/v1alpha1',"
             "'kind':'HTTPRouteGroup'," META ",'matches':[{'name':'all',"
             "'pathRegex':'.*','methods':['*']}]}", 0);
  assert_int_equal(g->obj.version, 1);
  assert_string_equal(g->obj.meta->api_version, "spec.smi-spec.io/v1alpha1");
  assert_int_equal(g->nmatches, 1);
  sb_obj_free(&g->obj);
  r = (sb_port_route *) ok("{'apiVersion':'spec.smi-spec.io/v1alpha1',"
                           "'kind':'TCPRoute'," META "}", 0);
  assert_int_equal(r->obj.kind, SB_KIND_TCP_ROUTE);
  assert_int_equal(r->nports, 0);
  sb_obj_free(&r->obj);
}

/* Headers: the CRD's list of maps and the spec's map read the same. */
static void both_header_forms(void **state) {
  static const char *const texts[] = {
    HRG("v1alpha4", "'spec':{'matches':[{'name':'android-insiders',"
        "'headers':[{'user-agent':'.*Android.*'},"
        "{'cookie':'^(.*?;)?(type=insider)(;.*)?$'}]}]}"),
    HRG("v1alpha4", "'spec':{'matches':[{'name':'android-insiders',"
        "'headers':[{'user-agent':'.*Android.*',"
        "'cookie':'^(.*?;)?(type=insider)(;.*)?$'}]}]}"),
    HRG("v1alpha4", "'spec':{'matches':[{'name':'android-insiders',"
        "'headers':{'user-agent':'.*Android.*',"
        "'cookie':'^(.*?;)?(type=insider)(;.*)?$'}}]}"),
    HRG("v1alpha2", "'matches':[{'name':'android-insiders',"
        "'headers':{'user-agent':'.*Android.*',"
        "'cookie':'^(.*?;)?(type=insider)(;.*)?$'}}]"),
  };
  sb_http_route_group *g;
  size_t i;

  (void) state;
  for (i = 0; i < 4; i++) {
    g = hrg_ok(texts[i], 0);
    assert_int_equal(g->matches[0].nheaders, 2);
    assert_string_equal(g->matches[0].headers[0].key, "user-agent");
    assert_string_equal(g->matches[0].headers[0].value, ".*Android.*");
    assert_string_equal(g->matches[0].headers[1].key, "cookie");
    assert_string_equal(g->matches[0].headers[1].value,
                        "^(.*?;)?(type=insider)(;.*)?$");
    assert_null(g->matches[0].path_regex);
    assert_int_equal(g->matches[0].nmethods, 0);
    sb_obj_free(&g->obj);
  }
  /* v1alpha1 had no headers: read anyway. */
  g = (sb_http_route_group *) warned(
      HRG("v1alpha1", "'matches':[{'name':'a','headers':{'x-a':'1'}}]"), 1,
      "matches[0].headers",
      "headers is a v1alpha2 field; honoured in v1alpha1 too");
  assert_int_equal(g->matches[0].nheaders, 1);
  sb_obj_free(&g->obj);
  /* Empty forms are no headers. */
  g = hrg_ok(HRG("v1alpha4", "'spec':{'matches':[{'name':'a',"
                 "'headers':[]},{'name':'b','headers':{}}]}"), 0);
  assert_int_equal(g->matches[0].nheaders, 0);
  assert_int_equal(g->matches[1].nheaders, 0);
  sb_obj_free(&g->obj);
}

static void header_errors(void **state) {
  (void) state;
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a','headers':7}]}"), 1,
      "spec.matches[0].headers",
      "must be a map of header name to regex or a list of such maps "
      "(got a number)");
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a','headers':"
          "['x']}]}"), 1, "spec.matches[0].headers[0]",
      "must be a map of header name to regex (got a string)");
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a','headers':"
          "{'x-version':2}}]}"), 1, "spec.matches[0].headers[x-version]",
      "must be a string, a regex for the header's value (got a number); "
      "quote it");
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a','headers':"
          "[{'x-a':'1'},{'X-A':'2'}]}]}"), 1,
      "spec.matches[0].headers[1][X-A]",
      "header \"X-A\" is given twice in one match");
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a','headers':"
          "{'bad header':'1'}}]}"), 1,
      "spec.matches[0].headers[bad header]",
      "\"bad header\" is not an HTTP header name");
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a','headers':"
          "{'x-a':'(a'}}]}"), 1, "spec.matches[0].headers[x-a]",
      "is not a valid regex: missing ')' at offset 2 (got \"(a\")");
}

static void methods(void **state) {
  sb_http_route_group *g;
  sb_diags d;
  sb_obj *o = NULL;

  (void) state;
  g = hrg_ok(HRG("v1alpha4", "'spec':{'matches':[{'name':'all','methods':"
                 "['GET','HEAD','PUT','POST','DELETE','CONNECT','OPTIONS',"
                 "'TRACE','PATCH','*']}]}"), 0);
  assert_int_equal(g->matches[0].nmethods, 10);
  assert_string_equal(g->matches[0].methods[8], "PATCH");
  sb_obj_free(&g->obj);

  /* Lower case is read as upper case, with a warning; repeats go. */
  sb_diags_init(&d);
  assert_int_equal(P(HRG("v1alpha4", "'spec':{'matches':[{'name':'a',"
                         "'methods':['get','Post','GET']}]}"), &o, &d), 0);
  g = (sb_http_route_group *) o;
  assert_int_equal(g->matches[0].nmethods, 2);
  assert_string_equal(g->matches[0].methods[0], "GET");
  assert_string_equal(g->matches[0].methods[1], "POST");
  assert_int_equal(sb_diags_count(&d, SB_DIAG_WARNING), 3);
  expect_diag(&d, SB_DIAG_WARNING, "spec.matches[0].methods[0]",
              "\"get\" should be upper case; read as GET");
  expect_diag(&d, SB_DIAG_WARNING, "spec.matches[0].methods[1]",
              "\"Post\" should be upper case; read as POST");
  expect_diag(&d, SB_DIAG_WARNING, "spec.matches[0].methods[2]",
              "GET is listed twice; the repeat is ignored");
  sb_obj_free(o);
  sb_diags_free(&d);

  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a','methods':"
          "['GET','FETCH']}]}"), 1, "spec.matches[0].methods[1]",
      "\"FETCH\" is not an HTTP method (use *, GET, HEAD, PUT, POST, "
      "DELETE, CONNECT, OPTIONS, TRACE or PATCH)");
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a','methods':"
          "[1]}]}"), 1, "spec.matches[0].methods[0]",
      "must be a string (got a number)");
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a','methods':"
          "'GET'}]}"), 1, "spec.matches[0].methods",
      "must be a list (got a string)");
}

static void match_errors(void **state) {
  (void) state;
  bad(HRG("v1alpha4", "'spec':{'matches':[{'pathRegex':'/a'}]}"), 1,
      "spec.matches[0].name", "is required");
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':''}]}"), 1,
      "spec.matches[0].name", "must not be empty");
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a'},{'name':'b'},"
          "{'name':'a'}]}"), 1, "spec.matches[2].name",
      "\"a\" is used by another match too; names must be unique");
  bad(HRG("v1alpha4", "'spec':{'matches':['a']}"), 1, "spec.matches[0]",
      "must be a map with a name (got a string)");
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a','pathRegex':"
          "'/(?=x)'}]}"), 1, "spec.matches[0].pathRegex",
      "is not a valid regex: lookahead (?=...) is not supported at offset "
      "1 (got \"/(?=x)\")");
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a','pathRegex':"
          "'/users/{id}'}]}"), 1, "spec.matches[0].pathRegex",
      "is not a valid regex: '{' must start a repeat such as {2} or {1,3}; "
      "write \\{ for a literal brace at offset 7 (got \"/users/{id}\")");
  bad(HRG("v1alpha4", "'spec':{'matches':[{'name':'a','pathRegex':5}]}"), 1,
      "spec.matches[0].pathRegex", "must be a string (got a number)");
  /* Everything at once. */
  bad(HRG("v1alpha3", "'spec':{'matches':[{'name':'a','pathRegex':'*',"
          "'methods':['NOPE'],'headers':{'x':1}},{'name':'a'}]}"), 4,
      "spec.matches[0].pathRegex",
      "is not a valid regex: '*' has nothing to repeat at offset 0 "
      "(got \"*\")");
}

static void regexes_every_mesh_reads(void **state) {
  static const char *const good[] = {
    "", "/metrics", ".*", "/api/.*", "/ping$", "^/a|^/b",
    "/api/v[0-9]+/users/[^/]+", "(?:/a|/b)/c", "(?i)/Admin",
    "(?i:a)b", "(?P<id>[0-9]+)", "(?<id>x)", "\\d{2,4}", "\\w+\\s*\\.",
    "a{2}", "a{2,}", "a*?", "a+?b??", "a{1,3}?", "[]a]", "[^]a]",
    "[a-z0-9_-]", "[[:alpha:]]+", "[\\d\\-x]", "\\pL\\p{Greek}\\PN",
    "\\x41\\x{263a}", "\\.\\*\\(\\)\\[\\{\\}", "\\A/x\\z", "\\bword\\B",
    "a}", "[(]", "/caf\xc3\xa9/", "[\xc3\xa0-\xc3\xbf]", "((a)(b))",
  };
  static const struct {
    const char *re;
    const char *why;
  } wrong[] = {
    { "(", "missing ')' at offset 1" },
    { "a)", "unmatched ')' at offset 1" },
    { "[a", "missing ']' at offset 0" },
    { "*a", "'*' has nothing to repeat at offset 0" },
    { "a|+", "'+' has nothing to repeat at offset 2" },
    { "(?)", "unsupported group syntax (?) at offset 0" },
    { "a**", "a repeat of a repeat (\"**\") is not allowed at offset 2" },
    { "a+{2}", "a repeat of a repeat (\"+{2}\") is not allowed at offset 2" },
    { "^*", "'*' has nothing to repeat at offset 1" },
    { "a{2,1}", "invalid repeat {2,1}: the minimum is larger at offset 1" },
    { "a{1001}", "repeat count above 1000 at offset 1" },
    { "a{", "'{' must start a repeat such as {2} or {1,3}; write \\{ for a "
            "literal brace at offset 1" },
    { "(a)\\1", "backreferences such as \\1 are not supported at offset 3" },
    { "\\0", "octal escapes are not supported; use \\x{...} at offset 0" },
    { "(?!a)", "lookahead (?!...) is not supported at offset 0" },
    { "(?<=a)b", "lookbehind (?<=...) is not supported at offset 0" },
    { "(?<!a)b", "lookbehind (?<!...) is not supported at offset 0" },
    { "(?P=n)", "backreferences such as (?P=name) are not supported at "
                "offset 0" },
    { "(?<>a)", "invalid group name at offset 0" },
    { "(?>a)", "unsupported group syntax (?> at offset 0" },
    { "\\Qa\\E", "unknown escape \\Q at offset 0" },
    { "\\e", "unknown escape \\e at offset 0" },
    { "a\\", "trailing backslash at offset 1" },
    { "\\xZZ", "invalid \\x escape; use \\xHH or \\x{HHHH} at offset 0" },
    { "\\p{", "invalid Unicode class \\p at offset 0" },
    { "[z-a]", "invalid range z-a at offset 1" },
    { "[\\d-z]", "invalid range: an end is a class, not a character at "
                 "offset 3" },
    { "[[:foo:]]", "unknown character class [:foo:] at offset 1" },
    { "[\\b]", "\\b is not allowed in a character class at offset 1" },
  };
  char why[160];
  size_t i;

  (void) state;
  for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    if (sb__regex_check(good[i], why, sizeof(why)))
      fprintf(stderr, "%s: %s\n", good[i], why);
    assert_int_equal(sb__regex_check(good[i], why, sizeof(why)), 0);
  }
  for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
    assert_int_equal(sb__regex_check(wrong[i].re, why, sizeof(why)), -1);
    if (strcmp(why, wrong[i].why) != 0)
      fprintf(stderr, "%s: %s\n", wrong[i].re, why);
    assert_string_equal(why, wrong[i].why);
  }
}

#define ROUTE(kind, ver, body)                                           \
  "{'apiVersion':'specs.smi-spec.io/" ver "','kind':'" kind "'," META    \
  body "}"

static void port_routes(void **state) {
  sb_port_route *r;
  int v;

  (void) state;
  /* v1alpha1..3 TCPRoutes are a name (v1alpha3 with an empty spec). */
  for (v = 1; v <= 3; v++) {
    char text[256];

    snprintf(text, sizeof(text),
             "{'apiVersion':'specs.smi-spec.io/v1alpha%d','kind':'TCPRoute',"
             META "%s}", v, v == 3 ? ",'spec':{}" : "");
    r = (sb_port_route *) ok(text, 0);
    assert_int_equal(r->obj.kind, SB_KIND_TCP_ROUTE);
    assert_int_equal(r->obj.version, v);
    assert_int_equal(r->nports, 0);
    assert_null(r->ports);
    sb_obj_free(&r->obj);
  }
  r = (sb_port_route *) ok(ROUTE("TCPRoute", "v1alpha4",
                                 ",'spec':{'matches':{'ports':"
                                 "[3306,6446]}}"), 0);
  assert_int_equal(r->nports, 2);
  assert_int_equal(r->ports[0], 3306);
  assert_int_equal(r->ports[1], 6446);
  sb_obj_free(&r->obj);
  r = (sb_port_route *) ok(ROUTE("UDPRoute", "v1alpha4",
                                 ",'spec':{'matches':{'ports':[989,990]}}"),
                           0);
  assert_int_equal(r->obj.kind, SB_KIND_UDP_ROUTE);
  assert_int_equal(r->nports, 2);
  assert_int_equal(r->ports[1], 990);
  sb_obj_free(&r->obj);
  /* Empty means every port; so does leaving matches out. */
  r = (sb_port_route *) ok(ROUTE("UDPRoute", "v1alpha4",
                                 ",'spec':{'matches':{'ports':[]}}"), 0);
  assert_int_equal(r->nports, 0);
  sb_obj_free(&r->obj);
  r = (sb_port_route *) ok(ROUTE("TCPRoute", "v1alpha4", ",'spec':{}"), 0);
  assert_int_equal(r->nports, 0);
  sb_obj_free(&r->obj);

  /* Later fields in earlier versions are honoured, with a warning. */
  r = (sb_port_route *) warned(
      ROUTE("TCPRoute", "v1alpha3", ",'spec':{'matches':{'ports':[80]}}"),
      1, "spec.matches.ports",
      "ports is a v1alpha4 field; honoured in v1alpha3 too");
  assert_int_equal(r->nports, 1);
  sb_obj_free(&r->obj);
  sb_obj_free(warned(ROUTE("UDPRoute", "v1alpha3", ""), 1, "apiVersion",
                     "UDPRoute exists only in v1alpha4; read as v1alpha4"));
  r = (sb_port_route *) warned(
      ROUTE("TCPRoute", "v1alpha4", ",'spec':{'matches':{'ports':"
            "[80,443,80]}}"), 1, "spec.matches.ports[2]",
      "port 80 is listed twice; the repeat is ignored");
  assert_int_equal(r->nports, 2);
  sb_obj_free(&r->obj);

  bad(ROUTE("TCPRoute", "v1alpha4", ",'spec':{'matches':{'ports':"
            "[0,65536,'80',8080.5]}}"), 4, "spec.matches.ports[1]",
      "must be a port number from 1 to 65535 (got 65536)");
  bad(ROUTE("TCPRoute", "v1alpha4", ",'spec':{'matches':{'ports':"
            "['80']}}"), 1, "spec.matches.ports[0]",
      "must be a port number (got a string)");
  bad(ROUTE("TCPRoute", "v1alpha4", ",'spec':{'matches':[{'ports':[1]}]}"),
      1, "spec.matches", "must be a map (got a list)");
  bad(ROUTE("TCPRoute", "v1alpha4", ",'spec':{'ports':[80]}"), 1,
      "spec.ports", "is not read; ports belong in spec.matches.ports");
  bad(ROUTE("TCPRoute", "v1alpha9", ""), 1, "apiVersion",
      "unsupported version \"v1alpha9\" of specs.smi-spec.io (smi-bridge "
      "reads v1alpha1 to v1alpha4)");
}

/* The field path builders write exactly what snprintf("%s.%s"),
 * ("%s[%zu]") and ("%s[%s]") into SB__PATH_MAX bytes would: the text, cut
 * to SB__PATH_MAX - 1 bytes. */
static void expect_cut(const char *got, const char *full) {
  char want[SB__PATH_MAX];
  size_t n = strlen(full);

  if (n > SB__PATH_MAX - 1)
    n = SB__PATH_MAX - 1;
  memcpy(want, full, n);
  want[n] = '\0';
  assert_string_equal(got, want);
}

/* sb__get is cJSON_GetObjectItemCaseSensitive written out, with JSON
 * null read as absent. */
static void member_lookup(void **state) {
  static const char *const keys[] = {"a", "ab", "b", "", "n", "zz", "A"};
  cJSON *o = cJSON_Parse("{\"ab\": 1, \"a\": 2, \"\": 3, \"n\": null, "
                         "\"b\": {\"a\": 4}, \"a\": 5}");
  cJSON *arr = cJSON_Parse("[1, 2]");
  size_t i;

  (void) state;
  assert_non_null(o);
  for (i = 0; i < SB_ARRAY_SIZE(keys); i++) {
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
    if (cJSON_IsNull(want))
      want = NULL;
    assert_ptr_equal(sb__get(o, keys[i]), want);
  }
  /* The first of repeated keys, as cJSON. */
  assert_int_equal(sb__get(o, "a")->valueint, 2);
  assert_null(sb__get(arr, "a"));
  assert_null(sb__get(NULL, "a"));
  assert_null(sb__get(o, NULL));
  cJSON_Delete(arr);
  cJSON_Delete(o);
}

/* Shared strings: found whatever the copy, recognised only by pointer. */
static void common_strings(void **state) {
  static const char *const words[] = {"*", "version", "TCP", "app",
                                      "statefulset.kubernetes.io/pod-name",
                                      "pod-template-hash", "Running"};
  static const char *const others[] = {"", "ap", "appx", "tcp2", "~", "0"};
  char copy[64];
  size_t i;

  (void) state;
  for (i = 0; i < SB_ARRAY_SIZE(words); i++) {
    const char *c;
    snprintf(copy, sizeof(copy), "%s", words[i]);
    c = sb__str_common(NULL, copy);
    assert_ptr_not_equal(c, copy);
    assert_string_equal(c, words[i]);
    assert_true(sb__is_common(c));
    assert_false(sb__is_common(copy));
  }
  for (i = 0; i < SB_ARRAY_SIZE(others); i++)
    assert_false(sb__is_common(others[i]));
}

/* sb__scalar prints numbers as "%.15g" did, whole ones by hand. */
static void scalar_numbers(void **state) {
  static const double v[] = {0, 1, -1, 7, 10, 100, 12345, -98765,
                             999999999999999.0, -999999999999999.0, 1e15,
                             -1e15, 1e16, 0.5, -0.25, 1.001, 1e-7, 3.5e20,
                             123456789012345.0, 4294967296.0};
  char buf[SB__QUOTE_MAX], want[SB__QUOTE_MAX];
  size_t i;

  (void) state;
  for (i = 0; i < SB_ARRAY_SIZE(v); i++) {
    cJSON *n = cJSON_CreateNumber(v[i]);
    snprintf(want, sizeof(want), "%.15g", v[i]);
    assert_string_equal(sb__scalar(buf, n), want);
    cJSON_Delete(n);
  }
  {
    cJSON *n = cJSON_CreateNumber(-0.0);
    assert_string_equal(sb__scalar(buf, n), "-0");
    cJSON_Delete(n);
  }
}

static void field_paths(void **state) {
  char buf[SB__PATH_MAX], full[400], base[300];
  size_t cut;

  (void) state;
  assert_string_equal(sb__path(buf, "spec", "matches"), "spec.matches");
  assert_string_equal(sb__path(buf, "", "spec"), "spec");
  assert_string_equal(sb__path(buf, NULL, "spec"), "spec");
  assert_string_equal(sb__pathi(buf, "spec.backends", 0), "spec.backends[0]");
  assert_string_equal(sb__pathi(buf, "a", (size_t) 1234567890),
                      "a[1234567890]");
  assert_string_equal(sb__pathk(buf, "metadata.labels", "app.k8s.io/x"),
                      "metadata.labels[app.k8s.io/x]");
  /* In place: base is buf. */
  sb__path(buf, "spec", "rules");
  assert_string_equal(sb__pathi(buf, buf, 3), "spec.rules[3]");
  /* Cut at every length around the limit. */
  for (cut = SB__PATH_MAX - 12; cut < SB__PATH_MAX + 12; cut++) {
    memset(base, 'x', cut);
    base[cut] = '\0';
    snprintf(full, sizeof(full), "%s.key", base);
    expect_cut(sb__path(buf, base, "key"), full);
    snprintf(full, sizeof(full), "%s[42]", base);
    expect_cut(sb__pathi(buf, base, 42), full);
    snprintf(full, sizeof(full), "%s[k]", base);
    expect_cut(sb__pathk(buf, base, "k"), full);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(every_version_in_its_layout),
    cmocka_unit_test(either_layout_in_any_version),
    cmocka_unit_test(no_matches_is_legal_but_useless),
    cmocka_unit_test(the_old_group_is_an_alias),
    cmocka_unit_test(both_header_forms),
    cmocka_unit_test(header_errors),
    cmocka_unit_test(methods),
    cmocka_unit_test(match_errors),
    cmocka_unit_test(regexes_every_mesh_reads),
    cmocka_unit_test(port_routes),
    cmocka_unit_test(field_paths),
    cmocka_unit_test(member_lookup),
    cmocka_unit_test(common_strings),
    cmocka_unit_test(scalar_numbers),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
