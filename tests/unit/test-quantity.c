/* test-quantity.c -- Kubernetes quantities as exact milli-units. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/model/parse.h"

#define MAXW (2147483647LL * 1000)

static const struct {
  const char *in;
  int64_t milli;
} good[] = {
  { "0", 0 },
  { "1", 1000 },
  { "500m", 500 },
  { "1.5", 1500 },
  { "10", 10000 },
  { "90", 90000 },
  { "100", 100000 },
  { "1k", 1000000 },
  { "10m", 10 },
  { "100m", 100 },
  { "1500m", 1500 },
  { "0.001", 1 },
  { "0.100", 100 },
  { ".5", 500 },
  { "5.", 5000 },
  { "+2", 2000 },
  { "-0", 0 },
  { "-0.000", 0 },         /* zero, however it is written */
  { "000123", 123000 },
  { "1e3", 1000000 },
  { "1E3", 1000000 },
  { "1e+3", 1000000 },
  { "1e-3", 1 },
  { "25e-2", 250 },
  { "1000u", 1 },
  { "1000000n", 1 },
  { "1M", 1000000000LL },
  { "1G", 1000000000000LL },
  { "2Ki", 2048000 },
  { "0.5Ki", 512000 },
  { "0.0005Ki", 512 },     /* 0.512 exactly */
  { "1Mi", 1048576000LL },
  { "2147483647", MAXW },
  { "1.000000000000000000000000000000000000000000000000000", 1000 },
};

static const struct {
  const char *in;
  sb__qerr err;
} wrong[] = {
  { "", SB__Q_SYNTAX },
  { "abc", SB__Q_SYNTAX },
  { " 1", SB__Q_SYNTAX },
  { "1 ", SB__Q_SYNTAX },
  { "1.2.3", SB__Q_SYNTAX },
  { "m", SB__Q_SYNTAX },
  { ".", SB__Q_SYNTAX },
  { "-", SB__Q_SYNTAX },
  { "1K", SB__Q_SYNTAX },   /* kilo is lower case */
  { "1e", SB__Q_SYNTAX },
  { "1mm", SB__Q_SYNTAX },
  { "1Ki1", SB__Q_SYNTAX },
  { "1i", SB__Q_SYNTAX },
  { "0x10", SB__Q_SYNTAX },
  { "1e3.5", SB__Q_SYNTAX },
  { "-1", SB__Q_NEGATIVE },
  { "-500m", SB__Q_NEGATIVE },
  { "-1u", SB__Q_NEGATIVE },
  { "1u", SB__Q_PRECISION },
  { "1n", SB__Q_PRECISION },
  { "0.0001", SB__Q_PRECISION },
  { "1.0005", SB__Q_PRECISION },
  { "0.0001Ki", SB__Q_PRECISION },  /* 0.1024m */
  { "1e-4", SB__Q_PRECISION },
  { "1e-100000", SB__Q_PRECISION },
  { "0.000000000000000000000000000000000000000000000000001",
    SB__Q_PRECISION },
  { "1.00000000000000000000000000000000000000000000000001",
    SB__Q_PRECISION },
  { "2147483648", SB__Q_RANGE },
  { "2147483647.001", SB__Q_RANGE },
  { "1E", SB__Q_RANGE },
  { "1Ei", SB__Q_RANGE },
  { "1e30", SB__Q_RANGE },
  { "1e100000", SB__Q_RANGE },
  { "99999999999999999999999", SB__Q_RANGE },
  { "100000000000000000000000000000000000000000000000000000000000",
    SB__Q_RANGE },
};

static void quantities_read_exactly(void **state) {
  int64_t v;
  size_t i;

  (void) state;
  for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    sb__qerr e = sb__quantity_milli(good[i].in, MAXW, &v);

    if (e != SB__Q_OK || v != good[i].milli)
      fprintf(stderr, "%s: err %d, %lld\n", good[i].in, (int) e,
              (long long) v);
    assert_int_equal(e, SB__Q_OK);
    assert_int_equal(v, good[i].milli);
  }
}

static void bad_quantities_say_why(void **state) {
  int64_t v;
  size_t i;

  (void) state;
  for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
    sb__qerr e = sb__quantity_milli(wrong[i].in, MAXW, &v);

    if (e != wrong[i].err)
      fprintf(stderr, "%s: err %d, want %d\n", wrong[i].in, (int) e,
              (int) wrong[i].err);
    assert_int_equal(e, wrong[i].err);
  }
}

static void the_limit_is_the_callers(void **state) {
  int64_t v;

  (void) state;
  assert_int_equal(sb__quantity_milli("1Pi", INT64_MAX, &v), SB__Q_OK);
  assert_int_equal(v, 1125899906842624000LL);
  assert_int_equal(sb__quantity_milli("9223372036854775807m", INT64_MAX, &v),
                   SB__Q_OK);
  assert_int_equal(v, INT64_MAX);
  assert_int_equal(sb__quantity_milli("9223372036854775808m", INT64_MAX, &v),
                   SB__Q_RANGE);
  assert_int_equal(sb__quantity_milli("18446744073709551616m", INT64_MAX,
                                      &v), SB__Q_RANGE);
  assert_int_equal(sb__quantity_milli("10", 9999, &v), SB__Q_RANGE);
  assert_int_equal(sb__quantity_milli("9999m", 9999, &v), SB__Q_OK);
}

static void milli_prints_short(void **state) {
  char b[32];

  (void) state;
  assert_string_equal(sb__milli_str(1500, b, sizeof(b)), "1.5");
  assert_string_equal(sb__milli_str(10, b, sizeof(b)), "0.01");
  assert_string_equal(sb__milli_str(1, b, sizeof(b)), "0.001");
  assert_string_equal(sb__milli_str(1000, b, sizeof(b)), "1");
  assert_string_equal(sb__milli_str(0, b, sizeof(b)), "0");
  assert_string_equal(sb__milli_str(-2500, b, sizeof(b)), "-2.5");
  assert_string_equal(sb__milli_str(MAXW, b, sizeof(b)), "2147483647");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(quantities_read_exactly),
    cmocka_unit_test(bad_quantities_say_why),
    cmocka_unit_test(the_limit_is_the_callers),
    cmocka_unit_test(milli_prints_short),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
