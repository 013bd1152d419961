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

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(plain_names),
    cmocka_unit_test(long_names_are_hashed),
    cmocka_unit_test(invalid_sources_become_valid),
    cmocka_unit_test(dns1123),
    cmocka_unit_test(label_values),
    cmocka_unit_test(fqdn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
