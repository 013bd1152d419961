/* metrics.c -- the metrics registry and its Prometheus text exposition.
 *
 * Shape: the registry keeps its families in an array sorted by name and
 * each family keeps its series in an array sorted by label values. Sorted
 * arrays give the deterministic exposition order for free, and binary
 * search finds a label set without allocating or hashing. Families number
 * in the dozens and series per family in the tens, so insertion cost
 * (a memmove) does not matter; callers on hot paths keep the sb_series
 * pointer and skip the search altogether.
 *
 * A series is one allocation: the struct, the histogram's per-bucket
 * counts, the label value pointers and the label value strings, in that
 * order (each part starts suitably aligned because the part before it has
 * a size that is a multiple of its alignment).
 *
 * Bucket counts are stored per bucket, not cumulatively, so an observation
 * touches one counter; the exposition adds them up.
 */
#include "sb/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb/err.h"

struct sb_series {
  sb_metric *family;
  double value;        /* counter or gauge value; histogram sum */
  uint64_t count;      /* histogram samples */
  uint64_t *buckets;   /* histogram: family->nbuckets counts, not +Inf */
  char **values;       /* family->nlabels label values */
};

struct sb_metric {
  sb_metric_type type;
  char *name;
  char *help;
  char **labels;
  size_t nlabels;
  double *bounds;
  size_t nbounds;
  sb_series **series;  /* sorted by values */
  size_t nseries;
  size_t cap;
};

struct hook {
  sb_metrics_collect_cb cb;
  void *data;
};

struct sb_metrics {
  sb_metric **fams;    /* sorted by name */
  size_t nfams;
  size_t cap;
  struct hook *hooks;
  size_t nhooks;
  size_t hcap;
};

static const double default_buckets[] = {
  .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10
};

static const double reconcile_buckets[] = {
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45,
  0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0,
  4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60
};

/* controller-runtime's ExponentialBuckets(10e-9, 10, 12), written as the
 * doubles that repeated multiplication yields (two of them are not round),
 * so the le labels equal those of Go controllers and sum across them. */
static const double workqueue_buckets[] = {
  1e-08, 1e-07, 1e-06, 9.999999999999999e-06, 9.999999999999999e-05,
  0.001, 0.01, 0.1, 1, 10, 100, 1000
};

const double *sb_metrics_buckets(sb_buckets_preset which, size_t *n) {
  switch (which) {
  case SB_BUCKETS_RECONCILE:
    *n = SB_ARRAY_SIZE(reconcile_buckets);
    return reconcile_buckets;
  case SB_BUCKETS_WORKQUEUE:
    *n = SB_ARRAY_SIZE(workqueue_buckets);
    return workqueue_buckets;
  case SB_BUCKETS_DEFAULT:
  default:
    *n = SB_ARRAY_SIZE(default_buckets);
    return default_buckets;
  }
}

size_t sb_metrics_buckets_exponential(double start, double factor,
                                      size_t count, double *out) {
  size_t i;

  if (!(start > 0) || !(factor > 1) || count == 0)
    return 0;
  for (i = 0; i < count; i++) {
    out[i] = start;
    start *= factor;
  }
  return count;
}

/* ---- registry ---------------------------------------------------------- */

sb_metrics *sb_metrics_new(void) {
  return calloc(1, sizeof(sb_metrics));
}

static void family_free(sb_metric *f) {
  size_t i;

  for (i = 0; i < f->nseries; i++)
    free(f->series[i]);
  free(f->series);
  for (i = 0; i < f->nlabels; i++)
    free(f->labels[i]);
  free(f->labels);
  free(f->bounds);
  free(f->name);
  free(f->help);
  free(f);
}

void sb_metrics_free(sb_metrics *m) {
  size_t i;

  if (!m)
    return;
  for (i = 0; i < m->nfams; i++)
    family_free(m->fams[i]);
  free(m->fams);
  free(m->hooks);
  free(m);
}

static int valid_name(const char *s, int colon) {
  size_t i;

  if (!s || !*s)
    return 0;
  for (i = 0; s[i]; i++) {
    char c = s[i];
    int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                c == '_' || (colon && c == ':');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
      return 0;
  }
  return 1;
}

static size_t count_strings(const char *const *v) {
  size_t n = 0;

  if (v)
    while (v[n])
      n++;
  return n;
}

/* Index of the family called `name`, or where it would go (*found 0). */
static size_t find_family(const sb_metrics *m, const char *name, int *found) {
  size_t lo = 0, hi = m->nfams;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(m->fams[mid]->name, name);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = 0;
  return lo;
}

sb_metric *sb_metrics_find(const sb_metrics *m, const char *name) {
  int found;
  size_t i;

  if (!m || !name)
    return NULL;
  i = find_family(m, name, &found);
  return found ? m->fams[i] : NULL;
}

sb_metric_type sb_metric_type_of(const sb_metric *f) {
  return f->type;
}

/* Does the existing family `f` have exactly this definition? */
static int same_definition(const sb_metric *f, sb_metric_type type,
                           const char *help, const char *const *labels,
                           size_t nlabels, const double *bounds,
                           size_t nbounds) {
  size_t i;

  if (f->type != type || strcmp(f->help, help) != 0 ||
      f->nlabels != nlabels || f->nbounds != nbounds)
    return 0;
  for (i = 0; i < nlabels; i++)
    if (strcmp(f->labels[i], labels[i]) != 0)
      return 0;
  for (i = 0; i < nbounds; i++)
    if (f->bounds[i] != bounds[i])
      return 0;
  return 1;
}

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);

  if (p)
    memcpy(p, s, n);
  return p;
}

static sb_series *series_new(sb_metric *f, const char *const *values);
static int series_insert(sb_metric *f, size_t at, sb_series *s);

static int reg(sb_metrics *m, sb_metric_type type, const char *name,
               const char *help, const char *const *labels,
               const double *bounds, size_t nbounds, sb_metric **out) {
  size_t nlabels = count_strings(labels), i, j, at;
  sb_metric *f;
  int found;

  if (out)
    *out = NULL;
  if (!m || !out || !help || !valid_name(name, 1) ||
      nlabels > SB_METRICS_MAX_LABELS)
    return SB_EINVAL;
  for (i = 0; i < nlabels; i++) {
    if (!valid_name(labels[i], 0) || strncmp(labels[i], "__", 2) == 0)
      return SB_EINVAL;
    if (type == SB_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0)
      return SB_EINVAL;
    for (j = 0; j < i; j++)
      if (strcmp(labels[i], labels[j]) == 0)
        return SB_EINVAL;
  }
  if (type == SB_METRIC_HISTOGRAM) {
    if (!bounds)
      bounds = sb_metrics_buckets(SB_BUCKETS_DEFAULT, &nbounds);
    if (nbounds > 0 && isinf(bounds[nbounds - 1]) && bounds[nbounds - 1] > 0)
      nbounds--;
    if (nbounds > SB_METRICS_MAX_BUCKETS)
      return SB_EINVAL;
    for (i = 0; i < nbounds; i++)
      if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
        return SB_EINVAL;
  }

  at = find_family(m, name, &found);
  if (found) {
    if (!same_definition(m->fams[at], type, help, labels, nlabels, bounds,
                         nbounds))
      return SB_EEXIST;
    *out = m->fams[at];
    return 0;
  }

  f = calloc(1, sizeof(*f));
  if (!f)
    return SB_ENOMEM;
  f->type = type;
  f->name = dupstr(name);
  f->help = dupstr(help);
  f->labels = calloc(nlabels ? nlabels : 1, sizeof(char *));
  if (!f->name || !f->help || !f->labels)
    goto nomem;
  for (f->nlabels = 0; f->nlabels < nlabels; f->nlabels++)
    if (!(f->labels[f->nlabels] = dupstr(labels[f->nlabels])))
      goto nomem;
  if (nbounds) {
    f->bounds = malloc(nbounds * sizeof(double));
    if (!f->bounds)
      goto nomem;
    memcpy(f->bounds, bounds, nbounds * sizeof(double));
    f->nbounds = nbounds;
  }
  /* Without labels there is exactly one series, shown from the start. */
  if (nlabels == 0) {
    sb_series *s = series_new(f, NULL);
    if (!s || series_insert(f, 0, s) != 0) {
      free(s);
      goto nomem;
    }
  }

  if (m->nfams == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 16;
    sb_metric **p = realloc(m->fams, cap * sizeof(*p));
    if (!p)
      goto nomem;
    m->fams = p;
    m->cap = cap;
  }
  memmove(m->fams + at + 1, m->fams + at, (m->nfams - at) * sizeof(*m->fams));
  m->fams[at] = f;
  m->nfams++;
  *out = f;
  return 0;

nomem:
  family_free(f);
  return SB_ENOMEM;
}

int sb_metrics_counter(sb_metrics *m, const char *name, const char *help,
                       const char *const *labels, sb_metric **out) {
  return reg(m, SB_METRIC_COUNTER, name, help, labels, NULL, 0, out);
}

int sb_metrics_gauge(sb_metrics *m, const char *name, const char *help,
                     const char *const *labels, sb_metric **out) {
  return reg(m, SB_METRIC_GAUGE, name, help, labels, NULL, 0, out);
}

int sb_metrics_histogram(sb_metrics *m, const char *name, const char *help,
                         const char *const *labels, const double *buckets,
                         size_t nbuckets, sb_metric **out) {
  return reg(m, SB_METRIC_HISTOGRAM, name, help, labels, buckets, nbuckets,
             out);
}

/* ---- series ------------------------------------------------------------ */

static sb_series *series_new(sb_metric *f, const char *const *values) {
  size_t size = sizeof(sb_series), i;
  size_t off_buckets, off_values, off_strings;
  sb_series *s;
  char *p;

  off_buckets = size;
  size += f->nbounds * sizeof(uint64_t);
  off_values = size;
  size += f->nlabels * sizeof(char *);
  off_strings = size;
  for (i = 0; i < f->nlabels; i++)
    size += strlen(values[i]) + 1;

  s = calloc(1, size);
  if (!s)
    return NULL;
  s->family = f;
  s->buckets = (uint64_t *) (void *) ((char *) s + off_buckets);
  s->values = (char **) (void *) ((char *) s + off_values);
  p = (char *) s + off_strings;
  for (i = 0; i < f->nlabels; i++) {
    size_t n = strlen(values[i]) + 1;
    memcpy(p, values[i], n);
    s->values[i] = p;
    p += n;
  }
  return s;
}

static int series_insert(sb_metric *f, size_t at, sb_series *s) {
  if (f->nseries == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 4;
    sb_series **p = realloc(f->series, cap * sizeof(*p));
    if (!p)
      return SB_ENOMEM;
    f->series = p;
    f->cap = cap;
  }
  memmove(f->series + at + 1, f->series + at,
          (f->nseries - at) * sizeof(*f->series));
  f->series[at] = s;
  f->nseries++;
  return 0;
}

static int compare_values(const sb_metric *f, char *const *a,
                          const char *const *b) {
  size_t i;

  for (i = 0; i < f->nlabels; i++) {
    int c = strcmp(a[i], b[i]);
    if (c)
      return c;
  }
  return 0;
}

/* Index of the series with these values, or where it would go. */
static size_t find_series(const sb_metric *f, const char *const *values,
                          int *found) {
  size_t lo = 0, hi = f->nseries;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = compare_values(f, f->series[mid]->values, values);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = 0;
  return lo;
}

static int check_values(const sb_metric *f, const char *const *values) {
  return count_strings(values) == f->nlabels;
}

int sb_metric_series(sb_metric *f, const char *const *values,
                     sb_series **out) {
  sb_series *s;
  size_t at;
  int found, rc;

  *out = NULL;
  if (!f)
    return 0;
  if (!check_values(f, values))
    return SB_EINVAL;
  at = find_series(f, values, &found);
  if (found) {
    *out = f->series[at];
    return 0;
  }
  if (f->nseries >= SB_METRICS_MAX_SERIES)
    return SB_ELIMIT;
  s = series_new(f, values);
  if (!s)
    return SB_ENOMEM;
  rc = series_insert(f, at, s);
  if (rc) {
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

int sb_series_add(sb_series *s, double v) {
  if (!s)
    return 0;
  switch (s->family->type) {
  case SB_METRIC_COUNTER:
    if (!(v >= 0))
      return SB_EINVAL;
    /* fall through */
  case SB_METRIC_GAUGE:
    s->value += v;
    return 0;
  default:
    return SB_EINVAL;
  }
}

int sb_series_inc(sb_series *s) {
  return sb_series_add(s, 1);
}

int sb_series_dec(sb_series *s) {
  if (!s)
    return 0;
  if (s->family->type != SB_METRIC_GAUGE)
    return SB_EINVAL;
  s->value -= 1;
  return 0;
}

int sb_series_set(sb_series *s, double v) {
  if (!s)
    return 0;
  if (s->family->type != SB_METRIC_GAUGE)
    return SB_EINVAL;
  s->value = v;
  return 0;
}

int sb_series_observe(sb_series *s, double v) {
  const sb_metric *f;
  size_t lo, hi;

  if (!s)
    return 0;
  f = s->family;
  if (f->type != SB_METRIC_HISTOGRAM)
    return SB_EINVAL;
  /* First bound >= v; NaN and values above every bound land only in the
   * implied +Inf bucket, as in the Go client. */
  lo = 0;
  hi = f->nbounds;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (f->bounds[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < f->nbounds && v <= f->bounds[lo])
    s->buckets[lo]++;
  s->count++;
  s->value += v;
  return 0;
}

int sb_metric_inc(sb_metric *f, const char *const *values) {
  sb_series *s;
  int rc = sb_metric_series(f, values, &s);
  return rc ? rc : sb_series_inc(s);
}

int sb_metric_add(sb_metric *f, const char *const *values, double v) {
  sb_series *s;
  int rc = sb_metric_series(f, values, &s);
  return rc ? rc : sb_series_add(s, v);
}

int sb_metric_set(sb_metric *f, const char *const *values, double v) {
  sb_series *s;
  int rc = sb_metric_series(f, values, &s);
  return rc ? rc : sb_series_set(s, v);
}

int sb_metric_observe(sb_metric *f, const char *const *values, double v) {
  sb_series *s;
  int rc = sb_metric_series(f, values, &s);
  return rc ? rc : sb_series_observe(s, v);
}

int sb_metric_read(const sb_metric *f, const char *const *values,
                   double *value, uint64_t *count) {
  const sb_series *s;
  size_t at;
  int found;

  if (!f || !check_values(f, values))
    return SB_EINVAL;
  at = find_series(f, values, &found);
  if (!found)
    return SB_ENOTFOUND;
  s = f->series[at];
  if (value)
    *value = s->value;
  if (count)
    *count = f->type == SB_METRIC_HISTOGRAM ? s->count : 0;
  return 0;
}

/* ---- collect hooks ----------------------------------------------------- */

int sb_metrics_on_collect(sb_metrics *m, sb_metrics_collect_cb cb,
                          void *data) {
  if (!m || !cb)
    return SB_EINVAL;
  if (m->nhooks == m->hcap) {
    size_t cap = m->hcap ? m->hcap * 2 : 4;
    struct hook *p = realloc(m->hooks, cap * sizeof(*p));
    if (!p)
      return SB_ENOMEM;
    m->hooks = p;
    m->hcap = cap;
  }
  m->hooks[m->nhooks].cb = cb;
  m->hooks[m->nhooks].data = data;
  m->nhooks++;
  return 0;
}

void sb_metrics_off_collect(sb_metrics *m, sb_metrics_collect_cb cb,
                            void *data) {
  size_t i;

  if (!m)
    return;
  for (i = 0; i < m->nhooks; i++) {
    if (m->hooks[i].cb == cb && m->hooks[i].data == data) {
      memmove(m->hooks + i, m->hooks + i + 1,
              (m->nhooks - i - 1) * sizeof(*m->hooks));
      m->nhooks--;
      return;
    }
  }
}

/* ---- exposition -------------------------------------------------------- */

/* The output and the first error met: every writer below is a no-op once
 * an append failed, so the code reads straight through without checks. */
struct out {
  sb_buf *b;
  int err;
};

static void put(struct out *o, const char *p, size_t n) {
  if (!o->err)
    o->err = sb_buf_add(o->b, p, n);
}

static void put_str(struct out *o, const char *s) {
  put(o, s, strlen(s));
}

static void put_chr(struct out *o, char c) {
  put(o, &c, 1);
}

/* Formats v the way Go's strconv.FormatFloat(v, 'g', -1, 64) does: the
 * shortest digits that read back as v, in %e form when the decimal
 * exponent is below -4 or at least 6 ("1e+06", "1.5e-05"), else plain
 * ("0.005", "123456"). */
static void put_float(struct out *o, double v) {
  char tmp[40], digits[20];
  int p, exp, nd = 0, i;
  char *e;

  if (isnan(v)) {
    put_str(o, "NaN");
    return;
  }
  if (isinf(v)) {
    put_str(o, v > 0 ? "+Inf" : "-Inf");
    return;
  }
  if (v == 0) {
    put_str(o, signbit(v) ? "-0" : "0");
    return;
  }
  for (p = 1; p < 17; p++) {
    snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
    if (strtod(tmp, NULL) == v)
      break;
  }
  if (p == 17)
    snprintf(tmp, sizeof(tmp), "%.16e", v);
  /* tmp is "[-]d.ddde+XX": collect the digits and the exponent. */
  for (e = tmp; *e && *e != 'e'; e++)
    if (*e >= '0' && *e <= '9')
      digits[nd++] = *e;
  exp = (int) strtol(e + 1, NULL, 10);
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;

  if (v < 0)
    put_chr(o, '-');
  if (exp < -4 || exp >= 6) {
    put_chr(o, digits[0]);
    if (nd > 1) {
      put_chr(o, '.');
      put(o, digits + 1, (size_t) nd - 1);
    }
    snprintf(tmp, sizeof(tmp), "e%c%02d", exp < 0 ? '-' : '+',
             exp < 0 ? -exp : exp);
    put_str(o, tmp);
  } else if (exp >= 0) {
    for (i = 0; i <= exp; i++)
      put_chr(o, i < nd ? digits[i] : '0');
    if (nd > exp + 1) {
      put_chr(o, '.');
      put(o, digits + exp + 1, (size_t) (nd - exp - 1));
    }
  } else {
    put_str(o, "0.");
    for (i = 0; i < -exp - 1; i++)
      put_chr(o, '0');
    put(o, digits, (size_t) nd);
  }
}

/* Label values escape \, " and newline; help text escapes \ and newline. */
static void put_escaped(struct out *o, const char *s, int quotes) {
  const char *run = s;

  for (; *s; s++) {
    const char *rep = NULL;
    if (*s == '\\')
      rep = "\\\\";
    else if (*s == '\n')
      rep = "\\n";
    else if (*s == '"' && quotes)
      rep = "\\\"";
    if (!rep)
      continue;
    put(o, run, (size_t) (s - run));
    put_str(o, rep);
    run = s + 1;
  }
  put(o, run, (size_t) (s - run));
}

/* One sample line: name{a="x",b="y"[,le="..."]} value. The braces are
 * left out when there is no label at all. */
static void put_sample(struct out *o, const sb_metric *f, const char *suffix,
                       const sb_series *s, const double *le, double value) {
  size_t i;

  put_str(o, f->name);
  put_str(o, suffix);
  if (f->nlabels || le) {
    put_chr(o, '{');
    for (i = 0; i < f->nlabels; i++) {
      if (i)
        put_chr(o, ',');
      put_str(o, f->labels[i]);
      put_str(o, "=\"");
      put_escaped(o, s->values[i], 1);
      put_chr(o, '"');
    }
    if (le) {
      put_str(o, f->nlabels ? ",le=\"" : "le=\"");
      put_float(o, *le);
      put_chr(o, '"');
    }
    put_chr(o, '}');
  }
  put_chr(o, ' ');
  put_float(o, value);
  put_chr(o, '\n');
}

static void put_family(struct out *o, const sb_metric *f) {
  static const char *const types[] = {"counter", "gauge", "histogram"};
  const double inf = INFINITY;
  size_t i, j;

  if (f->nseries == 0)
    return;
  put_str(o, "# HELP ");
  put_str(o, f->name);
  put_chr(o, ' ');
  put_escaped(o, f->help, 0);
  put_str(o, "\n# TYPE ");
  put_str(o, f->name);
  put_chr(o, ' ');
  put_str(o, types[f->type]);
  put_chr(o, '\n');
  for (i = 0; i < f->nseries && !o->err; i++) {
    const sb_series *s = f->series[i];
    uint64_t cum = 0;

    if (f->type != SB_METRIC_HISTOGRAM) {
      put_sample(o, f, "", s, NULL, s->value);
      continue;
    }
    /* Counts print through a double, as in the Go client: exact up to
     * 2^53, far more samples than this process will see. */
    for (j = 0; j < f->nbounds; j++) {
      cum += s->buckets[j];
      put_sample(o, f, "_bucket", s, &f->bounds[j], (double) cum);
    }
    put_sample(o, f, "_bucket", s, &inf, (double) s->count);
    put_sample(o, f, "_sum", s, NULL, s->value);
    put_sample(o, f, "_count", s, NULL, (double) s->count);
  }
}

int sb_metrics_write(sb_metrics *m, sb_buf *out) {
  struct out o;
  size_t i;

  if (!m || !out)
    return SB_EINVAL;
  o.b = out;
  o.err = 0;
  for (i = 0; i < m->nhooks; i++)
    m->hooks[i].cb(m, m->hooks[i].data);
  for (i = 0; i < m->nfams && !o.err; i++)
    put_family(&o, m->fams[i]);
  return o.err;
}
