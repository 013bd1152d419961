/* metrics.h -- counters, gauges and histograms, exposed in the Prometheus
 * text format (version 0.0.4).
 *
 * There is no global registry: the controller creates one sb_metrics and
 * hands it to the modules that report something; each registers its own
 * families (a name, help text, fixed label names) and observes values with
 * the label values of the moment. Registering the same definition twice
 * returns the family already registered, so several queues or clients can
 * share one family with different label values.
 *
 * Hot paths: sb_metric_series() finds or creates the series of one label
 * set (it allocates only the first time a label set is seen); a caller
 * that reports often keeps the returned sb_series and updates it directly,
 * which costs a few arithmetic operations. Families and series live until
 * sb_metrics_free(); there is no way to remove one, so a pointer once
 * returned stays valid.
 *
 * A NULL family or series is accepted everywhere and ignored, so a module
 * can run without a registry without testing for one at each call site.
 *
 * Label values are passed as NULL-terminated arrays, most easily written
 * with SB_LABELS: sb_metric_inc(total, SB_LABELS("traffic-split", "ok")).
 * A family without labels takes NULL.
 *
 * Not thread-safe: everything runs on the event loop's thread.
 */
#ifndef SB_METRICS_H
#define SB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "sb/buf.h"

typedef struct sb_metrics sb_metrics;
typedef struct sb_metric sb_metric;  /* a family: name, help, label names */
typedef struct sb_series sb_series;  /* one label set of a family */

typedef enum {
  SB_METRIC_COUNTER = 0,
  SB_METRIC_GAUGE = 1,
  SB_METRIC_HISTOGRAM = 2
} sb_metric_type;

/* The Content-Type of what sb_metrics_write produces. */
#define SB_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Limits that keep a mistake (a label fed from outside input, say) from
 * eating memory: more labels per family fail with SB_EINVAL, more series
 * per family with SB_ELIMIT. */
#define SB_METRICS_MAX_LABELS 8
#define SB_METRICS_MAX_SERIES 10000
#define SB_METRICS_MAX_BUCKETS 64

#define SB_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

sb_metrics *sb_metrics_new(void);
/* Frees every family and series. Collect hooks must be gone (or their
 * data still alive); they are not called. */
void sb_metrics_free(sb_metrics *m);

/* Registers a family and stores it in *out (owned by the registry).
 * `name` matches [a-zA-Z_:][a-zA-Z0-9_:]*; `labels` is a NULL-terminated
 * list of names matching [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__",
 * no duplicates, or NULL for none. Strings are copied. Returns 0 (also when
 * an identical definition exists: *out is that family), SB_EEXIST when the
 * name is taken by a different definition, SB_EINVAL, SB_ENOMEM.
 * A family without labels exposes its single series (value 0) at once; a
 * family with labels shows up once its first label set is observed. */
int sb_metrics_counter(sb_metrics *m, const char *name, const char *help,
                       const char *const *labels, sb_metric **out);
int sb_metrics_gauge(sb_metrics *m, const char *name, const char *help,
                     const char *const *labels, sb_metric **out);
/* `buckets` are the upper bounds, strictly increasing and finite (a final
 * +Inf is accepted and ignored: it is always implied), at most
 * SB_METRICS_MAX_BUCKETS; NULL takes SB_BUCKETS_DEFAULT. The label name
 * "le" is reserved. */
int sb_metrics_histogram(sb_metrics *m, const char *name, const char *help,
                         const char *const *labels, const double *buckets,
                         size_t nbuckets, sb_metric **out);

/* The family registered under `name`, or NULL. */
sb_metric *sb_metrics_find(const sb_metrics *m, const char *name);
sb_metric_type sb_metric_type_of(const sb_metric *f);

/* Bucket layouts the Kubernetes world uses, so dashboards line up.
 *   DEFAULT    Prometheus' default: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10
 *   RECONCILE  controller-runtime's reconcile_time_seconds: .005 to 60
 *   WORKQUEUE  controller-runtime's workqueue durations: 1e-08 to 1000 */
typedef enum {
  SB_BUCKETS_DEFAULT = 0,
  SB_BUCKETS_RECONCILE = 1,
  SB_BUCKETS_WORKQUEUE = 2
} sb_buckets_preset;

/* A static array; its length goes to *n. */
const double *sb_metrics_buckets(sb_buckets_preset which, size_t *n);
/* Fills out[0..count) with start, start*factor, ... Returns count, or 0
 * when start <= 0, factor <= 1 or count is 0. */
size_t sb_metrics_buckets_exponential(double start, double factor,
                                      size_t count, double *out);

/* The series for one label set (exactly as many values as the family has
 * label names, none NULL), created on first use. The pointer stays valid
 * until sb_metrics_free. 0, SB_EINVAL (wrong number of values), SB_ELIMIT
 * (SB_METRICS_MAX_SERIES reached), SB_ENOMEM. With f NULL: 0, *out NULL. */
int sb_metric_series(sb_metric *f, const char *const *values,
                     sb_series **out);

/* Updates. SB_EINVAL when the operation does not fit the type: counters
 * take inc/add (v >= 0), gauges inc/dec/add/set, histograms observe. */
int sb_series_inc(sb_series *s);
int sb_series_dec(sb_series *s);
int sb_series_add(sb_series *s, double v);
int sb_series_set(sb_series *s, double v);
int sb_series_observe(sb_series *s, double v);

/* Shortcuts: sb_metric_series + the update. */
int sb_metric_inc(sb_metric *f, const char *const *values);
int sb_metric_add(sb_metric *f, const char *const *values, double v);
int sb_metric_set(sb_metric *f, const char *const *values, double v);
int sb_metric_observe(sb_metric *f, const char *const *values, double v);

/* Reads a series without creating it: *value is a counter's or gauge's
 * value or a histogram's sum; *count is a histogram's sample count (0 for
 * the others). Either pointer may be NULL. SB_ENOTFOUND when the label set
 * was never observed, SB_EINVAL on a bad argument. */
int sb_metric_read(const sb_metric *f, const char *const *values,
                   double *value, uint64_t *count);

/* Collect hooks run at the start of every sb_metrics_write, in the order
 * they were added, so values that are cheap to compute but costly to keep
 * current (the age of the oldest running item, a cache size) are set just
 * in time. A hook must not register or unregister anything. */
typedef void (*sb_metrics_collect_cb)(sb_metrics *m, void *data);
int sb_metrics_on_collect(sb_metrics *m, sb_metrics_collect_cb cb,
                          void *data);
/* Removes the hook added with the same cb and data; no-op if absent. */
void sb_metrics_off_collect(sb_metrics *m, sb_metrics_collect_cb cb,
                            void *data);

/* Appends the exposition to `out`: families sorted by name, each with
 * # HELP and # TYPE, series sorted by label values (compared in label
 * order, bytewise), labels in registration order, histograms as
 * _bucket{le=...} (cumulative, ending with +Inf), _sum and _count. Numbers
 * are printed as Go's strconv.FormatFloat(v, 'g', -1, 64) does, as the
 * Prometheus Go client does. 0, SB_ENOMEM or SB_ELIMIT (out's cap). */
int sb_metrics_write(sb_metrics *m, sb_buf *out);

#endif
