/* test-core.c -- buf, arena, hmap, diag, err. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sb/arena.h"
#include "sb/buf.h"
#include "sb/diag.h"
#include "sb/err.h"
#include "sb/hmap.h"
#include "sb/ratelimit.h"
#include "sb/rfc3339.h"

static void buf_grows_and_caps(void **state) {
  sb_buf b;
  int i;

  (void) state;
  sb_buf_init(&b, 10);
  assert_int_equal(sb_buf_adds(&b, "12345"), 0);
  assert_int_equal(sb_buf_addf(&b, "%d", 678), 0);
  assert_string_equal(sb_buf_cstr(&b), "12345678");
  assert_int_equal(sb_buf_adds(&b, "abc"), SB_ELIMIT);
  assert_string_equal(sb_buf_cstr(&b), "12345678");  /* nothing added */
  assert_int_equal(sb_buf_adds(&b, "ab"), 0);
  assert_int_equal(b.len, 10);
  sb_buf_consume(&b, 4);
  assert_string_equal(sb_buf_cstr(&b), "5678ab");
  sb_buf_free(&b);

  sb_buf_init(&b, SB_BUF_UNLIMITED);
  for (i = 0; i < 1000; i++)
    assert_int_equal(sb_buf_addc(&b, 'x'), 0);
  assert_int_equal(b.len, 1000);
  free(sb_buf_steal(&b, NULL));
  assert_null(b.data);
}

static void arena_strings_survive_growth(void **state) {
  sb_arena *a = sb_arena_new(16);
  char *first, *s;
  int i;

  (void) state;
  assert_non_null(a);
  first = sb_arena_strdup(a, "first");
  for (i = 0; i < 200; i++) {
    s = sb_arena_strdup(a, "some string that forces new chunks");
    assert_non_null(s);
    assert_int_equal(((uintptr_t) s) % 8, 0);
  }
  assert_string_equal(first, "first");
  assert_null(sb_arena_strdup(a, NULL));
  assert_true(sb_arena_size(a) > 200 * 30);
  sb_arena_free(a);
}

static void hmap_put_get_del(void **state) {
  sb_hmap *m = sb_hmap_new(0);
  static char keys[2000][24];
  sb_hmap_iter it = {0};
  void *old;
  size_t seen = 0;
  int i;

  (void) state;
  for (i = 0; i < 2000; i++) {
    snprintf(keys[i], sizeof(keys[i]), "ns/obj-%d", i);
    assert_int_equal(sb_hmap_put(m, keys[i], strlen(keys[i]),
                                 (void *) (intptr_t) (i + 1), &old), 0);
    assert_null(old);
  }
  assert_int_equal(sb_hmap_count(m), 2000);
  for (i = 0; i < 2000; i += 2)
    assert_int_equal((intptr_t) sb_hmap_del(m, keys[i], strlen(keys[i])),
                     i + 1);
  assert_int_equal(sb_hmap_count(m), 1000);
  assert_null(sb_hmap_get(m, keys[0], strlen(keys[0])));
  assert_int_equal((intptr_t) sb_hmap_get(m, keys[1], strlen(keys[1])), 2);
  assert_int_equal(sb_hmap_put(m, keys[1], strlen(keys[1]), (void *) 7, &old),
                   0);
  assert_int_equal((intptr_t) old, 2);
  while (sb_hmap_next(m, &it, NULL, NULL, NULL))
    seen++;
  assert_int_equal(seen, 1000);
  /* Re-adding after tombstones must not grow the count wrongly. */
  for (i = 0; i < 2000; i += 2)
    assert_int_equal(sb_hmap_put(m, keys[i], strlen(keys[i]), (void *) 1,
                                 NULL), 0);
  assert_int_equal(sb_hmap_count(m), 2000);
  /* Lengths are kept in 32 bits: a longer key is refused, never read. */
  assert_int_equal(sb_hmap_put(m, "k", (size_t) UINT32_MAX + 1, (void *) 1,
                               NULL), SB_EINVAL);
  assert_null(sb_hmap_get(m, "k", (size_t) UINT32_MAX + 1));
  assert_null(sb_hmap_del(m, "k", (size_t) UINT32_MAX + 1));
  assert_int_equal(sb_hmap_count(m), 2000);

  /* Shrinking keeps every entry (and drops the tombstones); the map grows
   * again as needed. */
  for (i = 0; i < 2000; i++)
    if (i % 100)
      sb_hmap_del(m, keys[i], strlen(keys[i]));
  sb_hmap_shrink(m);
  assert_int_equal(sb_hmap_count(m), 20);
  for (i = 0; i < 2000; i++)
    if (i % 100 == 0)
      assert_non_null(sb_hmap_get(m, keys[i], strlen(keys[i])));
    else
      assert_null(sb_hmap_get(m, keys[i], strlen(keys[i])));
  seen = 0;
  it.next = 0;
  while (sb_hmap_next(m, &it, NULL, NULL, NULL))
    seen++;
  assert_int_equal(seen, 20);
  for (i = 0; i < 2000; i++)
    assert_int_equal(sb_hmap_put(m, keys[i], strlen(keys[i]), (void *) 1,
                                 NULL), 0);
  assert_int_equal(sb_hmap_count(m), 2000);
  while (sb_hmap_count(m))
    for (i = 0; i < 2000; i++)
      sb_hmap_del(m, keys[i], strlen(keys[i]));
  sb_hmap_shrink(m);
  assert_null(sb_hmap_get(m, keys[5], strlen(keys[5])));
  assert_int_equal(sb_hmap_put(m, keys[5], 3, (void *) 1, NULL), 0);
  assert_int_equal(sb_hmap_count(m), 1);
  sb_hmap_free(m);
}

static void diag_formats_every_part(void **state) {
  sb_diags d;
  sb_diag_loc loc = {"in.yaml", 12, 3, "TrafficSplit", "shop", "web"};
  sb_buf b;

  (void) state;
  sb_diags_init(&d);
  assert_int_equal(sb_diags_add(&d, SB_DIAG_ERROR, SB_REASON_INVALID, &loc,
                                "spec.backends[1].weight", "must be >= %d",
                                0), 0);
  assert_int_equal(sb_diags_add(&d, SB_DIAG_WARNING, SB_REASON_SCALED, NULL,
                                NULL, "scaled"), 0);
  sb_buf_init(&b, 4096);
  assert_int_equal(sb_diag_format(&d.v[0], &b), 0);
  assert_string_equal(sb_buf_cstr(&b), "in.yaml:12:3: TrafficSplit shop/web: "
                      "spec.backends[1].weight: must be >= 0");
  sb_buf_reset(&b);
  sb_diag_format(&d.v[1], &b);
  assert_string_equal(sb_buf_cstr(&b), "warning: scaled");
  assert_int_equal(sb_diags_count(&d, SB_DIAG_ERROR), 1);
  sb_buf_free(&b);
  sb_diags_free(&d);
}

static void err_names(void **state) {
  (void) state;
  assert_string_equal(sb_err_name(SB_ENOMEM), "SB_ENOMEM");
  assert_string_equal(sb_strerror(SB_EGONE), "resource version too old");
  assert_true(SB_ENOMEM < 0 && SB_EEXEC < 0);
}

static void bucket_and_backoff(void **state) {
  sb_bucket b;
  uint64_t full = 0;
  int i;
  sb_backoff bo = {5, 1000, 0.0};
  sb_backoff jb = {100, 1000, 0.5};

  (void) state;
  sb_bucket_init(&b, 10, 2, 1000);
  assert_int_equal(sb_bucket_take(&b, 1000), 0);
  assert_int_equal(sb_bucket_take(&b, 1000), 0);
  assert_int_equal(sb_bucket_take(&b, 1000), 100);  /* 10/s: next in 100ms */
  assert_int_equal(sb_bucket_take(&b, 1050), 50);
  assert_int_equal(sb_bucket_take(&b, 1100), 0);
  assert_int_equal(sb_bucket_take(&b, 5000), 0);    /* refilled to burst */
  assert_int_equal(sb_bucket_take(&b, 5000), 0);
  assert_true(sb_bucket_take(&b, 5000) > 0);

  /* The 8-byte bucket gives the same answers (every 100 ms = 10/s). */
  assert_int_equal(sb_gcra_take(&full, 100, 2, 1000), 0);
  assert_int_equal(sb_gcra_take(&full, 100, 2, 1000), 0);
  assert_int_equal(full, 1200);
  assert_int_equal(sb_gcra_take(&full, 100, 2, 1000), 100);
  assert_int_equal(full, 1200);                      /* nothing taken */
  assert_int_equal(sb_gcra_take(&full, 100, 2, 1050), 50);
  assert_int_equal(sb_gcra_take(&full, 100, 2, 1100), 0);
  assert_int_equal(sb_gcra_take(&full, 100, 2, 5000), 0);  /* full again */
  assert_int_equal(sb_gcra_take(&full, 100, 2, 5000), 0);
  assert_int_equal(sb_gcra_take(&full, 100, 2, 5000), 100);
  /* The recorder's spam filter: 25 at once, then one every 5 minutes. */
  full = 0;
  for (i = 0; i < 25; i++)
    assert_int_equal(sb_gcra_take(&full, 300000, 25, 7), 0);
  assert_int_equal(sb_gcra_take(&full, 300000, 25, 7), 300000);
  assert_int_equal(sb_gcra_take(&full, 300000, 25, 300006), 1);
  assert_int_equal(sb_gcra_take(&full, 300000, 25, 300007), 0);
  assert_int_equal(sb_gcra_take(&full, 300000, 25, 300007), 300000);
  assert_int_equal(full, 7 + 26 * 300000);  /* full again then */
  /* burst < 1 is 1; every 0 is unlimited. */
  full = 0;
  assert_int_equal(sb_gcra_take(&full, 10, 0, 1), 0);
  assert_int_equal(sb_gcra_take(&full, 10, 0, 1), 10);
  full = 0;
  for (i = 0; i < 100; i++)
    assert_int_equal(sb_gcra_take(&full, 0, 1, 1), 0);

  assert_int_equal(sb_backoff_delay(&bo, 0, 0.5), 5);
  assert_int_equal(sb_backoff_delay(&bo, 3, 0.5), 40);
  assert_int_equal(sb_backoff_delay(&bo, 40, 0.5), 1000);
  assert_int_equal(sb_backoff_delay(&jb, 0, 0.0), 50);   /* -50% */
  assert_int_equal(sb_backoff_delay(&jb, 0, 0.999999), 149);
}

/* Kubernetes timestamps: offsets, fractions, the calendar. */
static void rfc3339_times(void **state) {
  static const struct {
    const char *in;
    int ok;
    int64_t want;
  } times[] = {
    {"1970-01-01T00:00:00Z", 1, 0},
    {"2024-01-02T03:04:05Z", 1, 1704164645},
    {"2024-01-02t03:04:05z", 1, 1704164645},
    {"2024-01-02 03:04:05Z", 1, 1704164645},
    {"2024-02-29T12:00:00Z", 1, 1709208000},      /* leap year */
    {"2024-01-02T03:04:05.123456Z", 1, 1704164645},
    {"2024-01-02T05:04:05+02:00", 1, 1704164645},
    {"2024-01-01T22:04:05-05:00", 1, 1704164645},
    {"1969-12-31T23:59:59Z", 1, -1},
    {"2100-03-01T00:00:00Z", 1, 4107542400},
    {"2023-02-29T00:00:00Z", 0, 0},               /* not a leap year */
    {"1900-02-29T00:00:00Z", 0, 0},
    {"2024-04-31T00:00:00Z", 0, 0},
    {"2024-13-01T00:00:00Z", 0, 0},
    {"2024-01-02X03:04:05Z", 0, 0},
    {"2024-01-02T03:04:05", 0, 0},                /* no zone */
    {"2024-01-02T03:04:05.Z", 0, 0},
    {"2024-01-02T24:00:00Z", 0, 0},
    {"2024-01-02T03:04:05+24:00", 0, 0},
    {"2024-01-02T03:04:05Zjunk", 0, 0},
    {"2024-1-02T03:04:05Z", 0, 0},
    {"yesterday", 0, 0},
    {"", 0, 0},
  };
  int64_t t;
  size_t i;

  (void) state;
  for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
    t = 42;
    assert_int_equal(sb_rfc3339_parse(times[i].in, &t),
                     times[i].ok ? 0 : SB_EPARSE);
    assert_true(t == (times[i].ok ? times[i].want : 42));
  }
  assert_int_equal(sb_rfc3339_parse(NULL, &t), SB_EPARSE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(buf_grows_and_caps),
    cmocka_unit_test(arena_strings_survive_growth),
    cmocka_unit_test(hmap_put_get_del),
    cmocka_unit_test(diag_formats_every_part),
    cmocka_unit_test(err_names),
    cmocka_unit_test(bucket_and_backoff),
    cmocka_unit_test(rfc3339_times),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
