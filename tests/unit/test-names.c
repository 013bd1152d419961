/* test-names.c -- generated object names and label values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/translate/internal.h"
#include "sb/err.h"

static void plain_names(void **state) {
  char out[64];

  (void) state;
  assert_int_equal(sb__name(out, "web", "split", 0), 0);
  assert_string_equal(out, "web-split");
  assert_int_equal(sb__name(out, "web", "access", 8080), 0);
  assert_string_equal(out, "web-access-8080");
  assert_int_equal(sb__name(out, "api", "sa", 1), 0);
  assert_string_equal(out, "api-sa-1");
  /* Dots are fine in a DNS-1123 subdomain. */
  assert_int_equal(sb__name(out, "web.v2", "split", 80), 0);
  assert_string_equal(out, "web.v2-split-80");
  /* Exactly 63 characters stays as it is. */
  {
    char src[64];
    memset(src, 'a', 57);
    src[57] = '\0';
    assert_int_equal(sb__name(out, src, "split", 0), 0);
    assert_int_equal(strlen(out), 63);
    assert_int_equal(strncmp(out + 57, "-split", 6), 0);
  }
}

static void long_names_are_hashed(void **state) {
  char out[64], src[128];

  (void) state;
  memset(src, 'a', 60);
  src[60] = '\0';
  /* "aaa...a-split" is 66 long: 52 kept, "-", 10 hex of its SHA-256. */
  assert_int_equal(sb__name(out, src, "split", 0), 0);
  assert_int_equal(strlen(out), 63);
  assert_int_equal(strncmp(out, src, 52), 0);
  assert_string_equal(out + 52, "-8f5176fbd6");
  assert_true(sb_is_dns1123_subdomain(out));

  memset(src, 'b', 58);
  src[58] = '\0';
  assert_int_equal(sb__name(out, src, "access", 65535), 0);
  assert_string_equal(out + 52, "-97919756d3");

  /* Same input, same name; a different part, a different name. */
  {
    char again[64], other[64];
    assert_int_equal(sb__name(again, src, "access", 65535), 0);
    assert_string_equal(out, again);
    assert_int_equal(sb__name(other, src, "access", 65534), 0);
    assert_string_not_equal(out, other);
  }
}

static void invalid_sources_become_valid(void **state) {
  char out[64], src[128];
  size_t i;

  (void) state;
  /* Possible only with hand-written offline input. */
  assert_int_equal(sb__name(out, "Web_App", "split", 0), 0);
  assert_string_equal(out, "web-app-split-079a9a3ff4");
  assert_true(sb_is_dns1123_subdomain(out));

  /* A cut that would end on a dot or a dash is trimmed. */
  memset(src, 'x', 51);
  src[51] = '.';
  memset(src + 52, 'y', 20);
  src[72] = '\0';
  assert_int_equal(sb__name(out, src, "split", 0), 0);
  assert_true(strlen(out) <= 63);
  assert_true(sb_is_dns1123_subdomain(out));
  assert_null(strstr(out, "--"));
  assert_null(strchr(out, '.'));

  /* Nothing usable at all: the hash alone. */
  assert_int_equal(sb__name(out, "___", "", 0), 0);
  assert_int_equal(strlen(out), 10);
  for (i = 0; i < 10; i++)
    assert_non_null(strchr("0123456789abcdef", out[i]));
}

static void dns1123(void **state) {
  (void) state;
  assert_true(sb_is_dns1123_subdomain("a"));
  assert_true(sb_is_dns1123_subdomain("a-b.c-d"));
  assert_true(sb_is_dns1123_subdomain("0abc"));
  assert_false(sb_is_dns1123_subdomain(""));
  assert_false(sb_is_dns1123_subdomain("-a"));
  assert_false(sb_is_dns1123_subdomain("a-"));
  assert_false(sb_is_dns1123_subdomain("a.-b"));
  assert_false(sb_is_dns1123_subdomain("a-.b"));
  assert_false(sb_is_dns1123_subdomain("a..b"));
  assert_false(sb_is_dns1123_subdomain("A"));
  assert_false(sb_is_dns1123_subdomain("a_b"));
}

static void label_values(void **state) {
  char out[64], name[128];

  (void) state;
  assert_int_equal(sb_label_value("web", out), 0);
  assert_string_equal(out, "web");
  assert_int_equal(sb_label_value("", out), 0);
  assert_string_equal(out, "");
  assert_int_equal(sb_label_value("A.b_c-D", out), 0);
  assert_string_equal(out, "A.b_c-D");
  /* Too long: a prefix and the hash, still a valid label value. */
  memset(name, 'x', 70);
  name[70] = '\0';
  assert_int_equal(sb_label_value(name, out), 0);
  assert_int_equal(strlen(out), 63);
  assert_string_equal(out + 52, "-c71bd10922");
  assert_true(sb_is_label_value(out));
  /* Must start with an alphanumeric. */
  assert_int_equal(sb_label_value("-x", out), 0);
  assert_string_equal(out, "x-a420962426");
  assert_true(sb_is_label_value(out));
  assert_int_equal(sb_label_value(NULL, out), SB_EINVAL);

  assert_true(sb_is_label_value("a"));
  assert_false(sb_is_label_value("a-"));
  assert_false(sb_is_label_value("a/b"));
}

static void fqdn(void **state) {
  sb_buf b;

  (void) state;
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  assert_int_equal(sb__fqdn(&b, "web", "shop", "example.org"), 0);
  assert_string_equal(sb_buf_cstr(&b), "web.shop.svc.example.org");
  sb_buf_reset(&b);
  assert_int_equal(sb__fqdn(&b, "web", "shop", NULL), 0);
  assert_string_equal(sb_buf_cstr(&b), "web.shop.svc.cluster.local");
  sb_buf_free(&b);
}

/* sb__name appends by hand what "%s-%s-%d" would write. */
static void names_match_printf(void **state) {
  static const char *const srcs[] = {"web", "a.b", "x"};
  static const char *const tags[] = {"split", "sa", "", NULL};
  static const int32_t parts[] = {0, 1, 9, 10, 80, 8080, 65535, -3,
                                  2147483647};
  char out[64], want[128];
  size_t i, j, k;

  (void) state;
  for (i = 0; i < SB_ARRAY_SIZE(srcs); i++)
    for (j = 0; j < SB_ARRAY_SIZE(tags); j++)
      for (k = 0; k < SB_ARRAY_SIZE(parts); k++) {
        int n = snprintf(want, sizeof(want), "%s", srcs[i]);
        if (tags[j] && *tags[j])
          n += snprintf(want + n, sizeof(want) - (size_t) n, "-%s", tags[j]);
        if (parts[k] > 0)
          snprintf(want + n, sizeof(want) - (size_t) n, "-%d",
                   (int) parts[k]);
        assert_int_equal(sb__name(out, srcs[i], tags[j], parts[k]), 0);
        assert_string_equal(out, want);
      }
}

/* sb__epath writes what snprintf would, cut included. */
static void element_paths(void **state) {
  static const size_t idx[] = {0, 7, 10, 123, (size_t) 4294967295u};
  char buf[64], want[64];
  size_t size, i;

  (void) state;
  assert_string_equal(sb__epath(buf, sizeof(buf), "spec.rules", 3, ""),
                      "spec.rules[3]");
  assert_string_equal(sb__epath(buf, sizeof(buf), "spec.backends", 12,
                                ".weight"), "spec.backends[12].weight");
  for (size = 1; size <= sizeof(buf); size++)
    for (i = 0; i < SB_ARRAY_SIZE(idx); i++) {
      snprintf(want, size, "spec.backends[%zu].weight", idx[i]);
      memset(buf, '#', sizeof(buf));
      sb__epath(buf, size, "spec.backends", idx[i], ".weight");
      assert_string_equal(buf, want);
    }
}

/* Keys are kept by pointer (literals) unless the _dup helpers copy them:
 * a label key from the world must survive the world object. */
static void literal_and_copied_keys(void **state) {
  static const char kind[] = "kind";
  sb__tx t;
  cJSON *o = cJSON_CreateObject(), *dup;
  char key[8] = "app", key2[8] = "tier";

  (void) state;
  memset(&t, 0, sizeof(t));
  assert_non_null(sb__jstr(&t, o, kind, "Server"));
  assert_non_null(sb__jstr_dup(&t, o, key, "web"));
  assert_non_null(sb__jobj_dup(&t, o, key2));
  assert_false(t.oom);
  assert_ptr_equal(o->child->string, kind);
  assert_true(o->child->type & cJSON_StringIsConst);
  assert_false(o->child->next->type & cJSON_StringIsConst);
  assert_ptr_not_equal(o->child->next->string, key);
  dup = cJSON_Duplicate(o, 1);
  /* the sources of the copied keys change */
  memcpy(key, "xyz", 4);
  memcpy(key2, "xyz", 4);
  assert_string_equal(o->child->next->string, "app");
  assert_string_equal(o->child->next->next->string, "tier");
  assert_true(cJSON_Compare(o, dup, 1));
  cJSON_Delete(dup);
  cJSON_Delete(o);  /* ASan: no free of the literal, no leak of copies */
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(plain_names),
    cmocka_unit_test(long_names_are_hashed),
    cmocka_unit_test(invalid_sources_become_valid),
    cmocka_unit_test(dns1123),
    cmocka_unit_test(label_values),
    cmocka_unit_test(fqdn),
    cmocka_unit_test(names_match_printf),
    cmocka_unit_test(element_paths),
    cmocka_unit_test(literal_and_copied_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
