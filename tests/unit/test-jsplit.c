/* test-jsplit.c -- a list page taken apart: the envelope with "items": [],
 * then each item's text, and every way the structure can be broken.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "sb/buf.h"
#include "sb/err.h"
#include "sb/jsplit.h"

/* Splits s on "items"; returns the envelope and, in *elems, the elements
 * joined by '|' (the caller frees both). The result code of begin, or of
 * the first failing next, goes to *rc. */
static char *split(const char *s, char **elems, int *rc) {
  sb_jsplit it;
  char *env = NULL;
  size_t envlen, n;
  const char *e;
  sb_buf b;
  int r, first = 1;

  sb_buf_init(&b, SB_BUF_UNLIMITED);
  *rc = sb_jsplit_begin(s, strlen(s), "items", &env, &envlen, &it);
  if (*rc == 0) {
    assert_non_null(env);
    assert_int_equal(strlen(env), envlen);
    while ((r = sb_jsplit_next(&it, &e, &n)) == 1) {
      if (!first)
        assert_int_equal(sb_buf_addc(&b, '|'), 0);
      first = 0;
      assert_int_equal(sb_buf_add(&b, e, n), 0);
    }
    *rc = r;
    if (r) /* an error stays one */
      assert_int_equal(sb_jsplit_next(&it, &e, &n), r);
    else
      assert_int_equal(sb_jsplit_next(&it, &e, &n), 0);
  } else {
    assert_null(env);
  }
  *elems = strdup(sb_buf_cstr(&b));
  sb_buf_free(&b);
  return env;
}

static void expect(const char *s, const char *env_want, const char *elems_want) {
  char *elems, *env;
  int rc;

  env = split(s, &elems, &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(env, env_want);
  assert_string_equal(elems, elems_want);
  free(env);
  free(elems);
}

static void expect_err(const char *s) {
  char *elems, *env;
  int rc;

  env = split(s, &elems, &rc);
  if (rc != SB_EPARSE)
    fail_msg("%s: rc %d, want SB_EPARSE", s, rc);
  free(env);
  free(elems);
}

static void a_page(void **state) {
  (void) state;
  expect("{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"7\"},"
         "\"items\":[{\"a\":1},{\"b\":[2,3]}]}",
         "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"7\"},"
         "\"items\":[]}",
         "{\"a\":1}|{\"b\":[2,3]}");
  /* Whitespace anywhere; items not last; elements of any type. */
  expect(" {\n \"items\" : [ 1 , \"x\" ,\n{ } , [ ] , null, true ] ,\n"
         " \"kind\": \"L\" } \n",
         " {\n \"items\" : [] ,\n \"kind\": \"L\" } \n",
         "1|\"x\"|{ }|[ ]|null|true");
  expect("{\"items\":[]}", "{\"items\":[]}", "");
  expect("{\"items\":[ ]}", "{\"items\":[]}", "");
}

static void no_items(void **state) {
  (void) state;
  expect("{}", "{}", "");
  expect("{\"kind\":\"L\"}", "{\"kind\":\"L\"}", "");
  expect("{\"items\":null}", "{\"items\":null}", "");
  /* Only the key itself: not a prefix, not a longer name. */
  expect("{\"itemsx\":[1],\"item\":[2]}", "{\"itemsx\":[1],\"item\":[2]}", "");
  /* Nested "items" are content of another member. */
  expect("{\"m\":{\"items\":[1]}}", "{\"m\":{\"items\":[1]}}", "");
}

static void strings_hide_structure(void **state) {
  (void) state;
  expect("{\"items\":[{\"k\":\"]}\\\",[{\"},\"\\\\\"]}",
         "{\"items\":[]}",
         "{\"k\":\"]}\\\",[{\"}|\"\\\\\"");
  /* The first "items" counts, as cJSON's lookup finds the first. */
  expect("{\"items\":[1],\"items\":[2]}", "{\"items\":[],\"items\":[2]}",
         "1");
}

static void broken(void **state) {
  (void) state;
  expect_err("");
  expect_err("   ");
  expect_err("[1,2]");
  expect_err("\"items\"");
  expect_err("{\"items\":[1,2]");           /* unclosed object */
  expect_err("{\"items\":[1,2}");           /* mismatched */
  expect_err("{\"items\":[1,2]}}");         /* trailing */
  expect_err("{\"items\":[1,2]} x");
  expect_err("{\"items\":{\"a\":1}}");      /* not an array */
  expect_err("{\"items\":\"[]\"}");
  expect_err("{\"items\":7}");
  expect_err("{\"items\":[1,]}");           /* trailing comma */
  expect_err("{\"items\":[,1]}");
  expect_err("{\"items\":[1 2]}");
  expect_err("{\"items\":[\"a]}");          /* unterminated string */
  expect_err("{\"items\":[\"a\\");
  expect_err("{items:[1]}");
  expect_err("{\"items\" [1]}");
  expect_err("{\"a\":1,}");
  expect_err("{\"a\":}");
  expect_err("{\"a\":1 \"b\":2}");
}

/* Nesting as deep as cJSON parses is fine; deeper is refused. */
static void depth(void **state) {
  char *s = malloc(4096), *elems, *env;
  int rc, i, n = 0;

  (void) state;
  n += sprintf(s + n, "{\"items\":[");
  for (i = 0; i < 998; i++)
    s[n++] = '[';
  for (i = 0; i < 998; i++)
    s[n++] = ']';
  n += sprintf(s + n, "]}");
  env = split(s, &elems, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(strlen(elems), 2 * 998);
  free(env);
  free(elems);

  n = sprintf(s, "{\"items\":[");
  for (i = 0; i < 1001; i++)
    s[n++] = '[';
  for (i = 0; i < 1001; i++)
    s[n++] = ']';
  sprintf(s + n, "]}");
  env = split(s, &elems, &rc);
  assert_int_equal(rc, SB_EPARSE);
  free(env);
  free(elems);
  free(s);
}

/* What the pieces give cJSON equals the page parsed whole. */
static void same_as_whole(void **state) {
  const char *page =
      "{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"metadata\":"
      "{\"resourceVersion\":\"42\",\"continue\":\"abc\"},\"items\":["
      "{\"metadata\":{\"name\":\"p1\",\"labels\":{\"app\":\"web\"}}},"
      "{\"metadata\":{\"name\":\"p2\"},\"spec\":{\"containers\":[{\"ports\":"
      "[{\"containerPort\":8080,\"name\":\"h\\u00e9\"}]}]}}]}";
  cJSON *whole = cJSON_Parse(page), *envj, *items;
  sb_jsplit it;
  char *env;
  size_t envlen, n;
  const char *e;

  (void) state;
  assert_int_equal(sb_jsplit_begin(page, strlen(page), "items", &env,
                                   &envlen, &it), 0);
  envj = cJSON_Parse(env);
  assert_non_null(envj);
  items = cJSON_GetObjectItem(envj, "items");
  assert_int_equal(cJSON_GetArraySize(items), 0);
  while (sb_jsplit_next(&it, &e, &n) == 1)
    cJSON_AddItemToArray(items, cJSON_ParseWithLength(e, n));
  assert_true(cJSON_Compare(whole, envj, 1));
  cJSON_Delete(whole);
  cJSON_Delete(envj);
  free(env);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_page),
    cmocka_unit_test(no_items),
    cmocka_unit_test(strings_hide_structure),
    cmocka_unit_test(broken),
    cmocka_unit_test(depth),
    cmocka_unit_test(same_as_whole),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
