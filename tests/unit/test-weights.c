/* test-weights.c -- exact relative weights, scaling, largest remainder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/translate/internal.h"

/* Runs sb__weights and compares with want[] (n entries). */
static void expect(const int64_t *milli, size_t n, const int64_t *want,
                   int want_scaled) {
  int64_t out[16];
  size_t bad = 99, i;
  int scaled = -1;

  assert_int_equal(sb__weights(milli, n, out, &bad, &scaled), SB__W_OK);
  assert_int_equal(scaled, want_scaled);
  for (i = 0; i < n; i++)
    assert_int_equal(out[i], want[i]);
}

static void integers_pass_through(void **state) {
  (void) state;
  {
    int64_t m[] = {90000, 10000}, w[] = {90, 10};
    expect(m, 2, w, 0);
  }
  {
    int64_t m[] = {0, 100000}, w[] = {0, 100};
    expect(m, 2, w, 0);
  }
  {
    int64_t m[] = {1000000000}, w[] = {1000000};  /* 1,000,000 itself */
    expect(m, 1, w, 0);
  }
}

static void quantities_smallest_power_of_ten(void **state) {
  (void) state;
  {
    /* v1alpha1 "1" and "500m" */
    int64_t m[] = {1000, 500}, w[] = {10, 5};
    expect(m, 2, w, 0);
  }
  {
    /* "10m", "100m", "1500m" */
    int64_t m[] = {10, 100, 1500}, w[] = {1, 10, 150};
    expect(m, 3, w, 0);
  }
  {
    /* "1m" needs k = 1000 */
    int64_t m[] = {1, 2000}, w[] = {1, 2000};
    expect(m, 2, w, 0);
  }
  {
    /* "250m" "750m" -> k = 100 */
    int64_t m[] = {250, 750}, w[] = {25, 75};
    expect(m, 2, w, 0);
  }
}

static void rejected(void **state) {
  int64_t out[4];
  size_t bad = 99;
  int scaled;

  (void) state;
  {
    int64_t m[] = {1000, -1000, -5};
    assert_int_equal(sb__weights(m, 3, out, &bad, &scaled),
                     SB__W_NEGATIVE);
    assert_int_equal(bad, 1);
  }
  {
    int64_t m[] = {0, 0};
    assert_int_equal(sb__weights(m, 2, out, &bad, &scaled), SB__W_ZERO);
  }
  assert_int_equal(sb__weights(NULL, 0, out, &bad, &scaled), SB__W_ZERO);
}

static void scaled_down(void **state) {
  (void) state;
  {
    /* 4,000,000 : 1 -> 1,000,000 : 1 (a non-zero weight never becomes
     * 0), and 0 stays 0. */
    int64_t m[] = {4000000000LL, 1000, 0}, w[] = {1000000, 1, 0};
    expect(m, 3, w, 1);
  }
  {
    /* Proportional: 3,000,000 : 1,500,000 : 2 -> 1e6 : 5e5 : 1 */
    int64_t m[] = {3000000000LL, 1500000000LL, 2000},
            w[] = {1000000, 500000, 1};
    expect(m, 3, w, 1);
  }
  {
    /* Huge values do not overflow. */
    int64_t m[] = {8000000000000000000LL, 4000000000000000000LL},
            w[] = {1000000, 500000};
    expect(m, 2, w, 1);
  }
}

static void share(const int64_t *w, size_t n, int64_t total,
                  const int64_t *want) {
  int64_t out[16];
  int64_t sum = 0;
  size_t i;

  sb__weights_share(w, n, total, out);
  for (i = 0; i < n; i++) {
    assert_int_equal(out[i], want[i]);
    assert_true(out[i] >= 0);
    if (w[i] == 0)
      assert_int_equal(out[i], 0);
    sum += out[i];
  }
  assert_int_equal(sum, total);
}

static void largest_remainder(void **state) {
  (void) state;
  {
    int64_t w[] = {2, 1}, p[] = {67, 33};
    share(w, 2, 100, p);
  }
  {
    int64_t w[] = {1, 10, 150}, p[] = {1, 6, 93};
    share(w, 3, 100, p);
  }
  {
    /* smi-adapter-istio gave the zero weight 1 point here. */
    int64_t w[] = {1, 1, 1, 0}, p[] = {34, 33, 33, 0};
    share(w, 4, 100, p);
  }
  {
    /* ... and -2 here. */
    int64_t w[] = {1, 1, 1, 1, 1, 1, 0}, p[] = {17, 17, 17, 17, 16, 16, 0};
    share(w, 7, 100, p);
  }
  {
    int64_t w[] = {90, 10}, p[] = {90, 10};
    share(w, 2, 100, p);
  }
  {
    /* A tiny share may round to 0 (documented). */
    int64_t w[] = {1, 1000}, p[] = {0, 100};
    share(w, 2, 100, p);
  }
  {
    /* Ties by backend order. */
    int64_t w[] = {1, 1, 1}, p[] = {334, 333, 333};
    share(w, 3, 1000, p);
  }
  {
    int64_t w[] = {10, 5}, p[] = {667, 333};
    share(w, 2, 1000, p);
  }
  {
    int64_t w[] = {0, 7}, p[] = {0, 100};
    share(w, 2, 100, p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(integers_pass_through),
    cmocka_unit_test(quantities_smallest_power_of_ten),
    cmocka_unit_test(rejected),
    cmocka_unit_test(scaled_down),
    cmocka_unit_test(largest_remainder),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
