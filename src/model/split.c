/* split.c -- TrafficSplit v1alpha1..v1alpha4 into sb_traffic_split.
 *
 * The versions differ in two places only: v1alpha1 weights are Kubernetes
 * quantities (1 = 1000m), later ones integers; v1alpha3 added `matches`.
 * Both are read in every version (docs/mapping.md, "Weights"): a weight
 * is kept as exact milli-units whatever its form, so the translator sees
 * one number line.
 * The spec leaves what `spec.service` may hold open; we take the forms
 * clients actually write for a Service in the split's own namespace.
 */
#include "parse.h"
#include "sb/kname.h"

#include <stdio.h>
#include <string.h>

/* Every mesh stores a weight as an int32, so a larger one could not be
 * written without rescaling the user's numbers. */
#define WEIGHT_MAX 2147483647LL

/* Reads a Service reference: "name", "name.ns", "name.ns.svc" or
 * "name.ns.svc.<cluster domain>" (a final '.' allowed), where ns must be
 * the split's own namespace. Returns the length of the name part, 0 after
 * reporting an error. */
static size_t service_ref(sb__pctx *c, const cJSON *node, const char *path,
                          const char *s) {
  char buf[254], q[SB__QUOTE_MAX], q2[SB__QUOTE_MAX], q3[SB__QUOTE_MAX];
  char *part[128], *p;
  size_t n = 0, len = strlen(s), i;

  if (!strchr(s, '.'))
    return sb__check_service_name(c, node, path, s) ? len : 0;
  if (len >= sizeof(buf))
    goto bad;
  memcpy(buf, s, len + 1);
  for (p = buf; n < SB_ARRAY_SIZE(part); p++) {
    part[n++] = p;
    p = strchr(p, '.');
    if (!p)
      break;
    *p = '\0';
  }
  if (n >= 4 && !*part[n - 1])
    n--;  /* an absolute name: "web.shop.svc.cluster.local." */
  if (!sb_is_dns1035_label(part[0]) || !sb_is_dns1123_label(part[1]))
    goto bad;
  if (n >= 3 && strcmp(part[2], "svc") != 0)
    goto bad;
  for (i = 3; i < n; i++)
    if (!sb_is_dns1123_label(part[i]))
      goto bad;
  if (*c->ns && strcmp(part[1], c->ns) != 0) {
    sb__err(c, node, path, "%s names namespace %s but the TrafficSplit is "
            "in %s", sb__quote(q, s), sb__quote(q2, part[1]),
            sb__quote(q3, c->ns));
    return 0;
  }
  return strlen(part[0]);

bad:
  sb__err(c, node, path, "%s is not a Service name, \"name.namespace\" or "
          "\"name.namespace.svc.<cluster domain>\"", sb__quote(q, s));
  return 0;
}

/* The name part of a reference, shared with the text when it is all of
 * it (the usual bare name costs no copy). */
static const char *ref_name(sb__pctx *c, const char *s, size_t nlen) {
  char name[64];

  if (!s[nlen])
    return sb__str(c, s);
  memcpy(name, s, nlen);
  name[nlen] = '\0';
  return sb__str(c, name);
}

static int is_plain_int(const char *s) {
  if (*s == '+')
    s++;
  if (!*s)
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

/* A weight in any form (docs/mapping.md, "Weights") as milli-units; -1
 * after an error. */
static int64_t weight(sb__pctx *c, const cJSON *w, const char *path) {
  char txt[64], got[SB__QUOTE_MAX], m[32];
  const char *s;
  int64_t milli;
  int num = cJSON_IsNumber(w);

  if (num) {
    /* 15 significant digits give back the decimal the user wrote (1.001
     * rather than 1.000999...), which the quantity reader then takes
     * exactly. */
    snprintf(txt, sizeof(txt), "%.15g", w->valuedouble);
    s = txt;
  } else if (cJSON_IsString(w)) {
    s = w->valuestring;
  } else {
    sb__err(c, w, path, "must be a number or a quantity such as \"500m\" "
            "(got %s)", sb__type(w));
    return -1;
  }
  sb__scalar(got, w);
  switch (sb__quantity_milli(s, WEIGHT_MAX * 1000, &milli)) {
  case SB__Q_OK:
    break;
  case SB__Q_SYNTAX:
    sb__err(c, w, path, num ? "must be a finite number (got %s)"
            : "must be a whole number or a Kubernetes quantity such as "
              "\"500m\" (got %s)", got);
    return -1;
  case SB__Q_NEGATIVE:
    sb__err(c, w, path, "must not be negative (got %s)", got);
    return -1;
  case SB__Q_PRECISION:
    if (num && c->version >= 2)
      goto fraction;
    sb__err(c, w, path, "is finer than 1m (0.001), the smallest weight "
            "step (got %s)", got);
    return -1;
  case SB__Q_RANGE:
    sb__err(c, w, path, "is too large (got %s; at most %lld)", got,
            WEIGHT_MAX);
    return -1;
  }
  if (num && c->version >= 2 && milli % 1000)
    goto fraction;
  if (!num && c->version >= 2 && !is_plain_int(s))
    sb__warn_version(c, w, path, "%s is a quantity (the v1alpha1 form); read as %s",
             got, sb__milli_str(milli, m, sizeof(m)));
  return milli;

fraction:
  sb__err(c, w, path, "must be a whole number in v1alpha%d (got %s)",
          c->version, got);
  return -1;
}

static void backends(sb__pctx *c, sb_traffic_split *ts, const cJSON *spec) {
  const cJSON *list, *e, *w;
  char path[SB__PATH_MAX], p2[SB__PATH_MAX], q[SB__QUOTE_MAX];
  const char *svc;
  size_t n = 0, i = 0, j, nlen;
  sb_ts_backend *b;

  list = sb__get_list(c, spec, "spec", "backends", 1);
  if (!list)
    return;
  n = (size_t) cJSON_GetArraySize(list);
  if (n == 0) {
    sb__err(c, list, "spec.backends", "must list at least one backend");
    return;
  }
  if (!sb__len_ok(c, list, "spec.backends", n))
    return;
  ts->backends = sb__array(c, n, sizeof(*ts->backends));
  if (!ts->backends)
    return;
  cJSON_ArrayForEach(e, list) {
    sb__pathi(path, "spec.backends", i);
    b = &ts->backends[i++];
    if (!cJSON_IsObject(e)) {
      sb__err(c, e, path, "must be a map with service and weight (got %s)",
              sb__type(e));
      continue;
    }
    if (c->doc)
      b->line = sb_doc_line(c->doc, e);
    svc = sb__get_str(c, e, path, "service", 1);
    sb__path(p2, path, "service");
    if (svc && (nlen = service_ref(c, sb__get(e, "service"), p2, svc)) > 0) {
      b->service = ref_name(c, svc, nlen);
      for (j = 0; j + 1 < i; j++) {
        if (ts->backends[j].service &&
            strcmp(ts->backends[j].service, b->service) == 0) {
          sb__err(c, sb__get(e, "service"), p2,
                  "backend %s is listed twice (also spec.backends[%zu])",
                  sb__quote(q, b->service), j);
          break;
        }
      }
    }
    w = sb__get(e, "weight");
    sb__path(p2, path, "weight");
    if (!w)
      sb__err(c, e, p2, "is required");
    else
      b->weight_milli = weight(c, w, p2);
  }
  ts->nbackends = n;
}

static void matches(sb__pctx *c, sb_traffic_split *ts, const cJSON *spec) {
  const cJSON *list, *e;
  char path[SB__PATH_MAX], p2[SB__PATH_MAX], q[SB__QUOTE_MAX];
  const char *kind, *name;
  size_t n, i = 0, j;
  sb_ts_match *m;

  list = sb__get_list(c, spec, "spec", "matches", 0);
  if (!list)
    return;
  n = (size_t) cJSON_GetArraySize(list);
  if (n && c->version < 3)
    sb__warn_version(c, list, "spec.matches", "matches is a v1alpha3 field; "
             "honoured in v1alpha%d too", c->version);
  if (!sb__len_ok(c, list, "spec.matches", n))
    return;
  ts->matches = sb__array(c, n, sizeof(*ts->matches));
  if (n && !ts->matches)
    return;
  cJSON_ArrayForEach(e, list) {
    sb__pathi(path, "spec.matches", i++);
    if (!cJSON_IsObject(e)) {
      sb__err(c, e, path, "must be a map with kind and name (got %s)",
              sb__type(e));
      continue;
    }
    kind = sb__get_str(c, e, path, "kind", 1);
    if (kind && strcmp(kind, "HTTPRouteGroup") != 0 &&
        strcmp(kind, "TCPRoute") != 0) {
      sb__err(c, sb__get(e, "kind"), sb__path(p2, path, "kind"),
              "must be HTTPRouteGroup (or TCPRoute) (got %s)",
              sb__quote(q, kind));
      kind = NULL;
    }
    name = sb__get_str(c, e, path, "name", 1);
    if (name &&
        !sb__check_subdomain(c, sb__get(e, "name"),
                             sb__path(p2, path, "name"), name))
      name = NULL;
    if (!kind || !name)
      continue;
    for (j = 0; j < ts->nmatches; j++)
      if (strcmp(ts->matches[j].kind, kind) == 0 &&
          strcmp(ts->matches[j].name, name) == 0)
        break;
    if (j < ts->nmatches) {
      sb__warn(c, e, path, "%s %s is listed twice; the repeat is ignored",
               kind, sb__quote(q, name));
      continue;
    }
    m = &ts->matches[ts->nmatches++];
    m->kind = sb__str_common(c, kind);
    m->name = sb__str(c, name);
    if (c->doc)
      m->line = sb_doc_line(c->doc, e);
  }
}

sb_obj *sb__parse_split(sb__pctx *c, const cJSON *json) {
  sb_traffic_split *ts;
  const cJSON *spec;
  const char *svc;
  size_t nlen = 0;

  ts = (sb_traffic_split *) sb__obj_new(c, json, sizeof(*ts));
  if (!ts)
    return NULL;
  spec = sb__get_map(c, json, "", "spec", 1);
  svc = sb__get_str(c, spec, "spec", "service", 1);
  if (svc)
    nlen = service_ref(c, sb__get(spec, "service"), "spec.service", svc);
  ts->service = sb__str(c, svc ? svc : "");
  ts->root = nlen && !svc[nlen] ? ts->service
                                : ref_name(c, nlen ? svc : "", nlen);
  backends(c, ts, spec);
  matches(c, ts, spec);
  return &ts->obj;
}
