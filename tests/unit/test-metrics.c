/* test-metrics.c -- the metrics registry and its text exposition. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sb/buf.h"
#include "sb/err.h"
#include "sb/metrics.h"

static char *expose(sb_metrics *m) {
  sb_buf b;

  sb_buf_init(&b, SB_BUF_UNLIMITED);
  assert_int_equal(sb_metrics_write(m, &b), 0);
  return sb_buf_steal(&b, NULL);
}

/* The golden exposition: families sorted by name, series by label values,
 * escaping in help and label values, a histogram with cumulative buckets,
 * a labelled family that was never observed left out. */
static void exposition_golden(void **state) {
  sb_metrics *m = sb_metrics_new();
  sb_metric *req, *temp, *cached, *rpc, *unused;
  static const double bounds[] = {0.1, 0.5, 1};
  char *text;

  (void) state;
  assert_non_null(m);
  assert_int_equal(sb_metrics_counter(m, "http_requests_total",
      "Requests by \"code\".\nSecond line \\ backslash",
      SB_LABELS("code", "path"), &req), 0);
  assert_int_equal(sb_metrics_gauge(m, "temperature_celsius",
      "Current temperature.", NULL, &temp), 0);
  assert_int_equal(sb_metrics_gauge(m, "cached_objects", "Objects cached.",
      SB_LABELS("kind"), &cached), 0);
  assert_int_equal(sb_metrics_histogram(m, "rpc_seconds", "RPC latency.",
      SB_LABELS("service"), bounds, 3, &rpc), 0);
  assert_int_equal(sb_metrics_counter(m, "never_total", "Never observed.",
      SB_LABELS("x"), &unused), 0);

  assert_int_equal(sb_metric_inc(req, SB_LABELS("200", "/a\"b\\c\nd")), 0);
  assert_int_equal(sb_metric_add(req, SB_LABELS("200", "/"), 2), 0);
  assert_int_equal(sb_metric_inc(req, SB_LABELS("404", "/")), 0);
  assert_int_equal(sb_metric_inc(req, SB_LABELS("200", "/")), 0);
  assert_int_equal(sb_metric_set(temp, NULL, -1.5), 0);
  assert_int_equal(sb_metric_set(cached, SB_LABELS("Service"), 1e6), 0);
  assert_int_equal(sb_metric_set(cached, SB_LABELS("Pod"), 123456), 0);
  assert_int_equal(sb_metric_observe(rpc, SB_LABELS("b"), 0.25), 0);
  assert_int_equal(sb_metric_observe(rpc, SB_LABELS("a"), 0.05), 0);
  assert_int_equal(sb_metric_observe(rpc, SB_LABELS("a"), 0.1), 0);
  assert_int_equal(sb_metric_observe(rpc, SB_LABELS("a"), 0.7), 0);
  assert_int_equal(sb_metric_observe(rpc, SB_LABELS("a"), 3), 0);

  text = expose(m);
  assert_string_equal(text,
    "# HELP cached_objects Objects cached.\n"
    "# TYPE cached_objects gauge\n"
    "cached_objects{kind=\"Pod\"} 123456\n"
    "cached_objects{kind=\"Service\"} 1e+06\n"
    "# HELP http_requests_total Requests by \"code\".\\nSecond line "
    "\\\\ backslash\n"
    "# TYPE http_requests_total counter\n"
    "http_requests_total{code=\"200\",path=\"/\"} 3\n"
    "http_requests_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"} 1\n"
    "http_requests_total{code=\"404\",path=\"/\"} 1\n"
    "# HELP rpc_seconds RPC latency.\n"
    "# TYPE rpc_seconds histogram\n"
    "rpc_seconds_bucket{service=\"a\",le=\"0.1\"} 2\n"
    "rpc_seconds_bucket{service=\"a\",le=\"0.5\"} 2\n"
    "rpc_seconds_bucket{service=\"a\",le=\"1\"} 3\n"
    "rpc_seconds_bucket{service=\"a\",le=\"+Inf\"} 4\n"
    "rpc_seconds_sum{service=\"a\"} 3.85\n"
    "rpc_seconds_count{service=\"a\"} 4\n"
    "rpc_seconds_bucket{service=\"b\",le=\"0.1\"} 0\n"
    "rpc_seconds_bucket{service=\"b\",le=\"0.5\"} 1\n"
    "rpc_seconds_bucket{service=\"b\",le=\"1\"} 1\n"
    "rpc_seconds_bucket{service=\"b\",le=\"+Inf\"} 1\n"
    "rpc_seconds_sum{service=\"b\"} 0.25\n"
    "rpc_seconds_count{service=\"b\"} 1\n"
    "# HELP temperature_celsius Current temperature.\n"
    "# TYPE temperature_celsius gauge\n"
    "temperature_celsius -1.5\n");
  free(text);
  sb_metrics_free(m);
}

/* A label-less histogram puts le alone in braces; a label-less counter
 * shows 0 before anything happened. */
static void unlabelled_families(void **state) {
  sb_metrics *m = sb_metrics_new();
  sb_metric *h, *c;
  static const double bounds[] = {1, 2, INFINITY};
  char *text;

  (void) state;
  assert_int_equal(sb_metrics_counter(m, "a_total", "A.", NULL, &c), 0);
  assert_int_equal(sb_metrics_histogram(m, "b_seconds", "B.", NULL, bounds,
                                        3, &h), 0);
  assert_int_equal(sb_metric_observe(h, NULL, 1.5), 0);
  text = expose(m);
  assert_string_equal(text,
    "# HELP a_total A.\n"
    "# TYPE a_total counter\n"
    "a_total 0\n"
    "# HELP b_seconds B.\n"
    "# TYPE b_seconds histogram\n"
    "b_seconds_bucket{le=\"1\"} 0\n"
    "b_seconds_bucket{le=\"2\"} 1\n"
    "b_seconds_bucket{le=\"+Inf\"} 1\n"
    "b_seconds_sum 1.5\n"
    "b_seconds_count 1\n");
  free(text);
  sb_metrics_free(m);
}

/* Numbers come out as Go's FormatFloat(v, 'g', -1, 64) prints them. */
static void float_format(void **state) {
  static const struct {
    double v;
    const char *want;
  } cases[] = {
    {0.005, "0.005"}, {1e-05, "1e-05"}, {0.0001, "0.0001"},
    {100000, "100000"}, {999999, "999999"}, {1e6, "1e+06"},
    {1234567, "1.234567e+06"}, {0.1, "0.1"}, {1.0 / 3, "0.3333333333333333"},
    {-2.5, "-2.5"}, {123.456, "123.456"}, {1e21, "1e+21"},
    {1.5e-07, "1.5e-07"}, {5e-324, "5e-324"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {0.30000000000000004, "0.30000000000000004"}, {0, "0"}, {10, "10"},
  };
  sb_metrics *m = sb_metrics_new();
  sb_metric *g;
  char want[128], *text;
  size_t i;

  (void) state;
  assert_int_equal(sb_metrics_gauge(m, "g", "G.", NULL, &g), 0);
  for (i = 0; i < SB_ARRAY_SIZE(cases); i++) {
    assert_int_equal(sb_metric_set(g, NULL, cases[i].v), 0);
    text = expose(m);
    snprintf(want, sizeof(want), "# HELP g G.\n# TYPE g gauge\ng %s\n",
             cases[i].want);
    assert_string_equal(text, want);
    free(text);
  }
  assert_int_equal(sb_metric_set(g, NULL, NAN), 0);
  text = expose(m);
  assert_non_null(strstr(text, "\ng NaN\n"));
  free(text);
  assert_int_equal(sb_metric_set(g, NULL, -INFINITY), 0);
  text = expose(m);
  assert_non_null(strstr(text, "\ng -Inf\n"));
  free(text);
  sb_metrics_free(m);
}

static void registration_rules(void **state) {
  sb_metrics *m = sb_metrics_new();
  sb_metric *f, *g;
  static const double unsorted[] = {1, 0.5};
  static const double dup[] = {1, 1};
  static const double nan[] = {NAN};
  static const double b1[] = {1, 2}, b2[] = {1, 3};

  (void) state;
  assert_int_equal(sb_metrics_counter(m, "9bad", "h", NULL, &f), SB_EINVAL);
  assert_null(f);
  assert_int_equal(sb_metrics_counter(m, "", "h", NULL, &f), SB_EINVAL);
  assert_int_equal(sb_metrics_counter(m, "a-b", "h", NULL, &f), SB_EINVAL);
  assert_int_equal(sb_metrics_counter(m, "ok:name_1", "h", NULL, &f), 0);
  assert_int_equal(sb_metrics_counter(m, "c", NULL, NULL, &f), SB_EINVAL);
  assert_int_equal(sb_metrics_counter(m, "c", "h", SB_LABELS("a:b"), &f),
                   SB_EINVAL);
  assert_int_equal(sb_metrics_counter(m, "c", "h", SB_LABELS("__a"), &f),
                   SB_EINVAL);
  assert_int_equal(sb_metrics_counter(m, "c", "h", SB_LABELS("a", "a"), &f),
                   SB_EINVAL);
  assert_int_equal(sb_metrics_counter(m, "c", "h",
      SB_LABELS("a", "b", "c", "d", "e", "f", "g", "h", "i"), &f), SB_EINVAL);
  assert_int_equal(sb_metrics_histogram(m, "h", "h", SB_LABELS("le"), NULL,
                                        0, &f), SB_EINVAL);
  assert_int_equal(sb_metrics_histogram(m, "h", "h", NULL, unsorted, 2, &f),
                   SB_EINVAL);
  assert_int_equal(sb_metrics_histogram(m, "h", "h", NULL, dup, 2, &f),
                   SB_EINVAL);
  assert_int_equal(sb_metrics_histogram(m, "h", "h", NULL, nan, 1, &f),
                   SB_EINVAL);
  assert_null(sb_metrics_find(m, "h"));
  assert_null(sb_metrics_find(m, "c"));

  /* The same definition again is the same family; any difference is a
   * clash. */
  assert_int_equal(sb_metrics_counter(m, "c", "h", SB_LABELS("a"), &f), 0);
  assert_int_equal(sb_metrics_counter(m, "c", "h", SB_LABELS("a"), &g), 0);
  assert_ptr_equal(f, g);
  assert_ptr_equal(sb_metrics_find(m, "c"), f);
  assert_int_equal(sb_metric_type_of(f), SB_METRIC_COUNTER);
  assert_int_equal(sb_metrics_gauge(m, "c", "h", SB_LABELS("a"), &g),
                   SB_EEXIST);
  assert_null(g);
  assert_int_equal(sb_metrics_counter(m, "c", "other", SB_LABELS("a"), &g),
                   SB_EEXIST);
  assert_int_equal(sb_metrics_counter(m, "c", "h", SB_LABELS("b"), &g),
                   SB_EEXIST);
  assert_int_equal(sb_metrics_counter(m, "c", "h", NULL, &g), SB_EEXIST);
  assert_int_equal(sb_metrics_histogram(m, "h", "h", NULL, b1, 2, &f), 0);
  assert_int_equal(sb_metrics_histogram(m, "h", "h", NULL, b1, 2, &g), 0);
  assert_ptr_equal(f, g);
  assert_int_equal(sb_metrics_histogram(m, "h", "h", NULL, b2, 2, &g),
                   SB_EEXIST);
  sb_metrics_free(m);
}

static void update_rules(void **state) {
  sb_metrics *m = sb_metrics_new();
  sb_metric *c, *g, *h;
  sb_series *s, *s2;
  double v;
  uint64_t n;

  (void) state;
  assert_int_equal(sb_metrics_counter(m, "c", "h", SB_LABELS("a", "b"), &c),
                   0);
  assert_int_equal(sb_metrics_gauge(m, "g", "h", NULL, &g), 0);
  assert_int_equal(sb_metrics_histogram(m, "h", "h", SB_LABELS("x"), NULL, 0,
                                        &h), 0);

  /* Wrong number of label values. */
  assert_int_equal(sb_metric_inc(c, SB_LABELS("1")), SB_EINVAL);
  assert_int_equal(sb_metric_inc(c, SB_LABELS("1", "2", "3")), SB_EINVAL);
  assert_int_equal(sb_metric_inc(c, NULL), SB_EINVAL);
  assert_int_equal(sb_metric_read(c, SB_LABELS("1", "2"), &v, NULL),
                   SB_ENOTFOUND);

  /* Operations that do not fit the type. */
  assert_int_equal(sb_metric_series(c, SB_LABELS("1", "2"), &s), 0);
  assert_int_equal(sb_series_add(s, -1), SB_EINVAL);
  assert_int_equal(sb_series_add(s, NAN), SB_EINVAL);
  assert_int_equal(sb_series_set(s, 5), SB_EINVAL);
  assert_int_equal(sb_series_dec(s), SB_EINVAL);
  assert_int_equal(sb_series_observe(s, 1), SB_EINVAL);
  assert_int_equal(sb_series_inc(s), 0);
  assert_int_equal(sb_series_add(s, 0.5), 0);
  assert_int_equal(sb_metric_read(c, SB_LABELS("1", "2"), &v, &n), 0);
  assert_true(v == 1.5);
  assert_int_equal(n, 0);

  /* The same label set is the same series, however it was reached. */
  assert_int_equal(sb_metric_series(c, SB_LABELS("1", "2"), &s2), 0);
  assert_ptr_equal(s, s2);

  assert_int_equal(sb_metric_series(g, NULL, &s), 0);
  assert_int_equal(sb_series_inc(s), 0);
  assert_int_equal(sb_series_inc(s), 0);
  assert_int_equal(sb_series_dec(s), 0);
  assert_int_equal(sb_series_add(s, -3), 0);
  assert_int_equal(sb_series_observe(s, 1), SB_EINVAL);
  assert_int_equal(sb_metric_read(g, NULL, &v, NULL), 0);
  assert_true(v == -2);

  assert_int_equal(sb_metric_series(h, SB_LABELS("q"), &s), 0);
  assert_int_equal(sb_series_inc(s), SB_EINVAL);
  assert_int_equal(sb_series_set(s, 1), SB_EINVAL);
  assert_int_equal(sb_series_observe(s, 0.3), 0);
  assert_int_equal(sb_series_observe(s, 0.2), 0);
  assert_int_equal(sb_metric_read(h, SB_LABELS("q"), &v, &n), 0);
  assert_true(fabs(v - 0.5) < 1e-12);
  assert_int_equal(n, 2);

  /* A missing registry is a silent no-op. */
  assert_int_equal(sb_metric_inc(NULL, SB_LABELS("a")), 0);
  assert_int_equal(sb_metric_series(NULL, NULL, &s), 0);
  assert_null(s);
  assert_int_equal(sb_series_observe(NULL, 1), 0);
  sb_metrics_free(m);
}

/* Series pointers stay put while the sorted array grows around them, and
 * the per-family cap stops a runaway label. */
static void many_series(void **state) {
  sb_metrics *m = sb_metrics_new();
  sb_metric *c;
  sb_series *first, *s;
  char v[32];
  double val;
  int i;

  (void) state;
  assert_int_equal(sb_metrics_counter(m, "c", "h", SB_LABELS("k"), &c), 0);
  assert_int_equal(sb_metric_series(c, SB_LABELS("m"), &first), 0);
  for (i = 1; i < SB_METRICS_MAX_SERIES; i++) {
    snprintf(v, sizeof(v), "%05d", (i * 7919) % 100000);
    assert_int_equal(sb_metric_inc(c, SB_LABELS(v)), 0);
  }
  assert_int_equal(sb_metric_inc(c, SB_LABELS("one-too-many")), SB_ELIMIT);
  /* Existing series still work at the cap. */
  assert_int_equal(sb_metric_inc(c, SB_LABELS("m")), 0);
  assert_int_equal(sb_metric_series(c, SB_LABELS("m"), &s), 0);
  assert_ptr_equal(s, first);
  assert_int_equal(sb_metric_read(c, SB_LABELS("m"), &val, NULL), 0);
  assert_true(val == 1);
  snprintf(v, sizeof(v), "%05d", (5 * 7919) % 100000);
  assert_int_equal(sb_metric_read(c, SB_LABELS(v), &val, NULL), 0);
  assert_true(val == 1);
  sb_metrics_free(m);
}

static int hook_calls;

static void hook(sb_metrics *m, void *data) {
  sb_metric *g = sb_metrics_find(m, "g");

  hook_calls++;
  sb_metric_set(g, NULL, *(double *) data);
}

static void collect_hooks(void **state) {
  sb_metrics *m = sb_metrics_new();
  sb_metric *g;
  double value = 42;
  char *text;

  (void) state;
  assert_int_equal(sb_metrics_gauge(m, "g", "h", NULL, &g), 0);
  assert_int_equal(sb_metrics_on_collect(m, hook, &value), 0);
  hook_calls = 0;
  text = expose(m);
  assert_int_equal(hook_calls, 1);
  assert_non_null(strstr(text, "\ng 42\n"));
  free(text);
  sb_metrics_off_collect(m, hook, &value);
  value = 7;
  text = expose(m);
  assert_int_equal(hook_calls, 1);
  assert_non_null(strstr(text, "\ng 42\n"));
  free(text);
  sb_metrics_off_collect(m, hook, &value);  /* absent: no-op */
  sb_metrics_free(m);
}

static void write_respects_cap(void **state) {
  sb_metrics *m = sb_metrics_new();
  sb_metric *c;
  sb_buf b;

  (void) state;
  assert_int_equal(sb_metrics_counter(m, "c", "A help text.", NULL, &c), 0);
  sb_buf_init(&b, 20);
  assert_int_equal(sb_metrics_write(m, &b), SB_ELIMIT);
  sb_buf_free(&b);
  sb_metrics_free(m);
}

static void bucket_helpers(void **state) {
  double out[4], wq[12];
  const double *p;
  size_t n;

  (void) state;
  assert_int_equal(sb_metrics_buckets_exponential(1, 2, 4, out), 4);
  assert_true(out[0] == 1 && out[1] == 2 && out[2] == 4 && out[3] == 8);
  assert_int_equal(sb_metrics_buckets_exponential(0, 2, 4, out), 0);
  assert_int_equal(sb_metrics_buckets_exponential(1, 1, 4, out), 0);
  p = sb_metrics_buckets(SB_BUCKETS_DEFAULT, &n);
  assert_int_equal(n, 11);
  assert_true(p[0] == 0.005 && p[10] == 10);
  p = sb_metrics_buckets(SB_BUCKETS_RECONCILE, &n);
  assert_int_equal(n, 40);
  assert_true(p[0] == 0.005 && p[17] == 1.0 && p[39] == 60);
  /* The preset is what repeated multiplication gives, as in Go. */
  p = sb_metrics_buckets(SB_BUCKETS_WORKQUEUE, &n);
  assert_int_equal(n, 12);
  assert_int_equal(sb_metrics_buckets_exponential(10e-9, 10, 12, wq), 12);
  assert_memory_equal(p, wq, sizeof(wq));
  assert_true(p[0] == 1e-08 && p[8] == 1 && p[11] == 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(exposition_golden),
    cmocka_unit_test(unlabelled_families),
    cmocka_unit_test(float_format),
    cmocka_unit_test(registration_rules),
    cmocka_unit_test(update_rules),
    cmocka_unit_test(many_series),
    cmocka_unit_test(collect_hooks),
    cmocka_unit_test(write_respects_cap),
    cmocka_unit_test(bucket_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
