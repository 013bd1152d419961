/* istio.c -- SMI to Istio: VirtualService and AuthorizationPolicy.
 *
 * TrafficSplit -> one VirtualService "<ts>-split" on the root Service's
 * FQDN that routes by host to the backend Services' FQDNs (no
 * DestinationRule subsets: each backend keeps its own targetPort, see
 * istio README §3). The same weighted route is written for `http` and
 * `tcp` so non-HTTP ports are split too. With matches, the matched rule
 * comes first and a catch-all to the root Service last (SMI: unmatched
 * requests go to the root); plain TCP cannot be matched, so no `tcp`.
 * One rule serves every port -- unless a known backend Service lacks a
 * port of the known root Service: SMI leaves that backend out on that
 * port, so the rules are then written per port (match.port).
 *
 * TrafficTarget -> one AuthorizationPolicy "<tt>-access", ALLOW, in the
 * destination namespace, selecting the destination ServiceAccount's pods
 * (identity.c). AuthorizationPolicy has no regex: what cannot be said
 * exactly is dropped (fail closed), never widened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *vs_api(const sb__tx *t) {
  return t->o->istio_api == SB_ISTIO_API_V1BETA1
             ? "networking.istio.io/v1beta1" : "networking.istio.io/v1";
}

static const char *ap_api(const sb__tx *t) {
  return t->o->istio_api == SB_ISTIO_API_V1BETA1
             ? "security.istio.io/v1beta1" : "security.istio.io/v1";
}

/* Does backend i serve port (0 = any)? Unknown Services are assumed to:
 * SMI allows splits to Services that do not exist yet. */
static int serves(sb__tx *t, const sb_traffic_split *ts, size_t i,
                  int32_t port) {
  const sb_service *svc;

  if (!port)
    return 1;
  svc = (const sb_service *) sb_world_get(t->w, SB_KIND_SERVICE, ts->obj.ns,
                                          ts->backends[i].service);
  return !svc || sb__svc_has_port(svc, port);
}

/* A route: [{destination: {host}, weight}] for every backend that serves
 * port (0: every backend); NULL when none with a non-zero weight does. */
static cJSON *weighted_route(sb__tx *t, const sb_traffic_split *ts,
                             const int64_t *w, int32_t port) {
  cJSON *route = cJSON_CreateArray();
  int64_t sum = 0;
  size_t i;

  if (!route)
    t->oom = 1;
  for (i = 0; route && port && i < ts->nbackends; i++)
    if (serves(t, ts, i, port))
      sum += w[i];
  if (route && port && sum == 0) {
    cJSON_Delete(route);
    return NULL;
  }
  for (i = 0; route && i < ts->nbackends; i++) {
    cJSON *d;
    sb_buf host;

    if (!serves(t, ts, i, port))
      continue;
    d = sb__jobj(t, route, NULL);

    sb_buf_init(&host, SB_BUF_UNLIMITED);
    if (sb__fqdn(&host, ts->backends[i].service, ts->obj.ns,
                 t->o->cluster_domain))
      t->oom = 1;
    sb__jstr(t, sb__jobj(t, d, "destination"), "host", sb_buf_cstr(&host));
    sb__jint(t, d, "weight", w[i]);
    sb_buf_free(&host);
  }
  return route;
}

/* Weights as written, or as percentages for Istio < 1.15. */
static int64_t *vs_weights(sb__tx *t, const sb_traffic_split *ts,
                           const sb__split *s) {
  int64_t *w = calloc(ts->nbackends ? ts->nbackends : 1, sizeof(*w));
  size_t i;

  if (!w) {
    t->oom = 1;
    return NULL;
  }
  if (t->o->istio_api != SB_ISTIO_API_V1BETA1) {
    memcpy(w, s->weights, ts->nbackends * sizeof(*w));
    return w;
  }
  /* Percentages of the user's own numbers (milli-units: shares do not
   * depend on the unit), not of the weights scaled to the shared limit,
   * whose rounding can move a point from one backend to another. */
  {
    int64_t *milli = calloc(ts->nbackends ? ts->nbackends : 1,
                            sizeof(*milli));
    if (!milli) {
      free(w);
      t->oom = 1;
      return NULL;
    }
    for (i = 0; i < ts->nbackends; i++)
      milli[i] = ts->backends[i].weight_milli;
    sb__weights_share(milli, ts->nbackends, 100, w);
    free(milli);
  }
  for (i = 0; i < ts->nbackends; i++) {
    if (s->weights[i] > 0 && w[i] == 0) {
      char path[64];
      sb__epath(path, sizeof(path), "spec.backends", i, ".weight");
      sb__warn(t, SB_REASON_SCALED, path, "backend %s's share rounds to "
               "0%% (--istio-api v1beta1 writes percentages); it gets no "
               "traffic", ts->backends[i].service);
    }
  }
  return w;
}

/* [{destination: {host: root}}]: the Service's own behaviour. */
static cJSON *root_route(sb__tx *t, const sb_buf *root) {
  cJSON *r = cJSON_CreateArray();

  if (!r)
    t->oom = 1;
  sb__jstr(t, sb__jobj(t, sb__jobj(t, r, NULL), "destination"), "host",
           sb_buf_cstr(root));
  return r;
}

/* Sidecars carry TCP only: UDP and SCTP ports get no rule either way. */
static int tcp_port(const sb_service_port *p) {
  return !p->protocol || strcmp(p->protocol, "TCP") == 0;
}

/* The root Service's ports when the rules must be per port (a known
 * backend lacks one of them), ascending and unique; NULL (n = 0) when one
 * rule serves every port. Records the Services as dependencies: a port
 * added to a backend later changes the rules. */
static int32_t *split_ports(sb__tx *t, const sb_traffic_split *ts,
                            size_t *n) {
  const sb_service *root = (const sb_service *) sb__tx_get(
      t, SB_KIND_SERVICE, ts->obj.ns, ts->root);
  int32_t *v;
  size_t i, j, k = 0;
  int per_port = 0;

  *n = 0;
  for (i = 0; i < ts->nbackends; i++)
    sb__dep(t, SB_DEP_OBJECT, SB_KIND_SERVICE, ts->obj.ns,
            ts->backends[i].service);
  if (!root || !root->nports)
    return NULL;
  for (i = 0; i < root->nports && !per_port; i++)
    for (j = 0; j < ts->nbackends && !per_port; j++)
      per_port = tcp_port(&root->ports[i]) &&
                 !serves(t, ts, j, root->ports[i].port);
  if (!per_port)
    return NULL;
  v = malloc(root->nports * sizeof(*v));
  if (!v) {
    t->oom = 1;
    return NULL;
  }
  for (i = 0; i < root->nports; i++)
    if (tcp_port(&root->ports[i]))
      v[k++] = root->ports[i].port;
  qsort(v, k, sizeof(*v), sb__cmp_int32);
  for (i = 0, j = 0; i < k; i++)
    if (j == 0 || v[j - 1] != v[i])
      v[j++] = v[i];
  *n = j;
  return v;
}

static void warn_missing_port(sb__tx *t, const sb_traffic_split *ts,
                              int32_t port, int none) {
  char path[64];
  size_t i;

  for (i = 0; i < ts->nbackends; i++) {
    if (serves(t, ts, i, port))
      continue;
    sb__epath(path, sizeof(path), "spec.backends", i, "");
    sb__warn(t, SB_REASON_UNSUPPORTED, path, "Service %s/%s has no port %d; "
             "it takes no part in the split on that port", ts->obj.ns,
             ts->backends[i].service, (int) port);
  }
  if (none)
    sb__warn(t, SB_REASON_UNSUPPORTED, "spec.backends", "no backend with a "
             "non-zero weight serves port %d; that port is not split "
             "(requests keep going to the root Service)", (int) port);
}

static void istio_split(sb__tx *t, const sb_traffic_split *ts) {
  const sb_obj *owner = t->src;
  cJSON *vs, *spec, *http, *tcp, *route, *matches = NULL;
  char name[SB__NAME_MAX + 1];
  int32_t *ports = NULL;
  size_t nports = 0;
  int64_t *w = NULL;
  sb__split s;
  sb_buf root;
  size_t i, j;
  int everything = 0, bad = 0;

  sb_buf_init(&root, SB_BUF_UNLIMITED);
  if (!sb__split_prepare(t, ts, &s))
    goto done;
  if (s.has_matches) {
    /* The union of every match of every referenced group. */
    matches = cJSON_CreateArray();
    if (!matches)
      t->oom = 1;
    for (i = 0; matches && i < s.ngroups; i++) {
      const sb_http_route_group *g = s.groups[i];
      for (j = 0; j < g->nmatches; j++) {
        sb_buf what;
        char path[64];
        int all = 0;

        sb__epath(path, sizeof(path), "spec.matches", i, "");
        sb_buf_init(&what, SB_BUF_UNLIMITED);
        sb__match_what(&what, g, &g->matches[j]);
        if (sb__convert_match(t, SB__MATCH_VS, &g->matches[j],
                              sb_buf_cstr(&what), path, matches, &all))
          bad = 1;
        everything |= all;
        sb_buf_free(&what);
      }
    }
    if (bad) {
      t->out->outcome = SB_OUTCOME_INVALID;
      goto done;
    }
  }
  w = vs_weights(t, ts, &s);
  if (!w || sb__name(name, ts->obj.name, "split", 0) ||
      sb__fqdn(&root, ts->root, ts->obj.ns, t->o->cluster_domain)) {
    t->oom = 1;
    goto done;
  }

  ports = split_ports(t, ts, &nports);
  vs = sb__object(t, vs_api(t), "VirtualService", name, ts->obj.ns, &owner,
                  1, 1);
  spec = sb__jobj(t, vs, "spec");
  sb__jstr(t, sb__jarr(t, spec, "hosts"), NULL, sb_buf_cstr(&root));
  http = sb__jarr(t, spec, "http");
  tcp = s.has_matches ? NULL : sb__jarr(t, spec, "tcp");
  if (s.has_matches && !everything && cJSON_GetArraySize(matches) == 0)
    sb__warn(t, SB_REASON_UNSUPPORTED, "spec.matches", "the referenced "
             "HTTPRouteGroups have no match; every request goes to the "
             "root Service");
  /* One pass with port 0 (every port), or one pass per root port. */
  for (i = 0; i < (nports ? nports : 1) && !t->oom; i++) {
    int32_t port = nports ? ports[i] : 0;
    cJSON *wr = weighted_route(t, ts, w, port), *pm = NULL, *m;

    if (nports)
      warn_missing_port(t, ts, port, !wr);
    if (!s.has_matches || everything) {
      route = sb__jobj(t, http, NULL);
      if (port)
        sb__jint(t, sb__jobj(t, sb__jarr(t, route, "match"), NULL), "port",
                 port);
      sb__jadd(t, route, "route", wr ? wr : root_route(t, &root));
      if (!s.has_matches) {
        route = sb__jobj(t, tcp, NULL);
        if (port)
          sb__jint(t, sb__jobj(t, sb__jarr(t, route, "match"), NULL),
                   "port", port);
        sb__jadd(t, route, "route", wr ? cJSON_Duplicate(wr, 1)
                                       : root_route(t, &root));
      }
      continue;
    }
    if (!wr || cJSON_GetArraySize(matches) == 0) {
      cJSON_Delete(wr);
      continue;  /* the catch-all below serves this port */
    }
    pm = cJSON_Duplicate(matches, 1);
    if (!pm)
      t->oom = 1;
    cJSON_ArrayForEach(m, pm)
      if (port)
        sb__jint(t, m, "port", port);
    route = sb__jobj(t, http, NULL);
    sb__jadd(t, route, "match", pm);
    sb__jadd(t, route, "route", wr);
  }
  if (s.has_matches && !everything) {
    /* Unmatched requests go to the root Service itself. */
    route = sb__jobj(t, http, NULL);
    sb__jadd(t, route, "route", root_route(t, &root));
  }
  sb__push(t, vs);
done:
  cJSON_Delete(matches);
  free(ports);
  free(w);
  sb_buf_free(&root);
  sb__split_free(&s);
}

/* ---- TrafficTarget ------------------------------------------------------ */

static cJSON *from_principals(sb__tx *t, const sb_traffic_target *tt) {
  cJSON *from = cJSON_CreateArray(), *pr;
  size_t i;

  pr = sb__jarr(t, sb__jobj(t, sb__jobj(t, from, NULL), "source"),
                "principals");
  for (i = 0; pr && i < tt->nsources; i++) {
    sb_buf p;
    sb_buf_init(&p, SB_BUF_UNLIMITED);
    if (sb_buf_addf(&p, "%s/ns/%s/sa/%s",
                    t->o->trust_domain && *t->o->trust_domain
                        ? t->o->trust_domain : "cluster.local",
                    tt->sources[i].ns && *tt->sources[i].ns
                        ? tt->sources[i].ns : tt->obj.ns,
                    tt->sources[i].name))
      t->oom = 1;
    sb__jadd_unique(t, pr, cJSON_CreateString(sb_buf_cstr(&p)));
    sb_buf_free(&p);
  }
  return from;
}

static cJSON *port_strings(sb__tx *t, const sb__access *a) {
  cJSON *ports;
  size_t i;

  if (a->all_ports)
    return NULL;
  ports = cJSON_CreateArray();
  if (!ports)
    t->oom = 1;
  for (i = 0; ports && i < a->nports; i++) {
    char num[16];
    snprintf(num, sizeof(num), "%d", (int) a->ports[i]);
    sb__jstr(t, ports, NULL, num);
  }
  return ports;
}

/* A rule {from, to?, when?}; to is a list of operations. */
static void add_rule(sb__tx *t, cJSON *rules, const cJSON *from, cJSON *to,
                     cJSON *when) {
  cJSON *r = sb__jobj(t, rules, NULL);

  sb__jadd(t, r, "from", cJSON_Duplicate(from, 1));
  if (to)
    sb__jadd(t, r, "to", to);
  if (when)
    sb__jadd(t, r, "when", when);
}

static void build_rules(sb__tx *t, const sb_traffic_target *tt,
                        const sb__access *a, cJSON *spec) {
  cJSON *from, *ports, *rules, *plain = NULL;
  size_t i, kept = 0;
  int open = 0;

  if (a->nothing)
    return;  /* ALLOW without rules: allows nothing */
  from = from_principals(t, tt);
  ports = port_strings(t, a);
  rules = cJSON_CreateArray();
  if (!rules)
    t->oom = 1;
  if (!a->http) {
    cJSON *to = NULL;
    if (ports) {
      to = cJSON_CreateArray();
      if (!to)
        t->oom = 1;
      sb__jadd(t, sb__jobj(t, sb__jobj(t, to, NULL), "operation"), "ports",
               cJSON_Duplicate(ports, 1));
    }
    add_rule(t, rules, from, to, NULL);
  }
  for (i = 0; a->http && i < a->nmatches; i++) {
    const sb__access_match *am = &a->matches[i];
    cJSON *op = NULL, *when = NULL;
    char path[64];
    sb_buf what;
    int rc;

    sb_buf_init(&what, SB_BUF_UNLIMITED);
    sb__match_what(&what, am->group, am->match);
    sb__epath(path, sizeof(path), "spec.rules", am->rule, "");
    rc = sb__convert_match_ap(t, am->match, ports, sb_buf_cstr(&what),
                              path, &op, &when);
    sb_buf_free(&what);
    if (rc < 0) {
      t->out->outcome = SB_OUTCOME_INVALID;
    } else if (rc == 0) {
      kept++;
      if (when) {
        /* `when` applies to a whole rule: a rule of its own. */
        cJSON *to = NULL;
        if (op) {
          to = cJSON_CreateArray();
          if (!to)
            t->oom = 1;
          sb__jadd(t, sb__jobj(t, to, NULL), "operation", op);
          op = NULL;
        }
        add_rule(t, rules, from, to, when);
        when = NULL;
      } else if (!op) {
        open = 1;  /* every request on every port */
      } else {
        cJSON *e = cJSON_CreateObject();
        if (!plain && !(plain = cJSON_CreateArray()))
          t->oom = 1;
        if (sb__jadd(t, e, "operation", op))
          sb__jadd_unique(t, plain, e);
        else
          cJSON_Delete(e);
        op = NULL;
      }
    }
    cJSON_Delete(op);
    cJSON_Delete(when);
  }
  if (a->http && (plain || open)) {
    /* The header-free matches share one rule, placed first. */
    cJSON *r = cJSON_CreateObject();
    if (!r) {
      t->oom = 1;
    } else {
      sb__jadd(t, r, "from", cJSON_Duplicate(from, 1));
      if (!open)
        sb__jadd(t, r, "to", plain);
      else
        cJSON_Delete(plain);
      plain = NULL;
      if (!cJSON_InsertItemInArray(rules, 0, r)) {
        cJSON_Delete(r);
        t->oom = 1;
      }
    }
  }
  cJSON_Delete(plain);
  if (a->http && kept == 0)
    sb__warn(t, SB_REASON_DROPPED, "spec.rules", "every HTTP match was "
             "dropped; the AuthorizationPolicy allows nothing");
  if (cJSON_GetArraySize(rules) > 512) {
    sb__err(t, SB_REASON_INVALID, "spec.rules", "would need %d "
            "AuthorizationPolicy rules; Istio allows at most 512",
            cJSON_GetArraySize(rules));
    t->out->outcome = SB_OUTCOME_INVALID;
  }
  if (cJSON_GetArraySize(rules) > 0)
    sb__jadd(t, spec, "rules", rules);
  else
    cJSON_Delete(rules);
  cJSON_Delete(from);
  cJSON_Delete(ports);
}

static void istio_target(sb__tx *t, const sb_traffic_target *tt) {
  const sb_obj *owner = t->src;
  char name[SB__NAME_MAX + 1];
  sb__identity id;
  sb__access a;
  cJSON *ap, *spec, *ml;
  size_t i;
  int st = SB__ID_OK;

  memset(&id, 0, sizeof(id));
  if (sb__access_eval(t, tt, &a))
    return;
  if (!a.invalid)
    st = sb__identity_derive(t, tt->obj.ns, tt->dest.name,
                             "spec.destination", &id);
  if (st < 0)
    goto done;
  if (a.invalid || st == SB__ID_NO_PODS || st == SB__ID_NO_LABEL) {
    t->out->outcome = SB_OUTCOME_INVALID;
    goto done;
  }
  if (st == SB__ID_CONFLICT) {
    /* Fail closed: keep what exists. A new, over-broad selector would
     * restrict workloads the TrafficTarget does not name; deleting the
     * policy would open the destination to everyone. */
    t->out->outcome = SB_OUTCOME_INVALID;
    goto done;
  }
  if (sb__name(name, tt->obj.name, "access", 0)) {
    t->oom = 1;
    goto done;
  }
  ap = sb__object(t, ap_api(t), "AuthorizationPolicy", name, tt->obj.ns,
                  &owner, 1, 1);
  spec = sb__jobj(t, ap, "spec");
  ml = sb__jobj(t, sb__jobj(t, spec, "selector"), "matchLabels");
  for (i = 0; i < id.nlabels; i++)
    sb__jstr_dup(t, ml, id.labels[i].key, id.labels[i].value);
  sb__jstr(t, spec, "action", "ALLOW");
  build_rules(t, tt, &a, spec);
  sb__push(t, ap);
done:
  sb__identity_free(&id);
  sb__access_free(&a);
}

const sb__backend sb__istio_backend = {
  "istio",
  istio_split,
  istio_target,
  NULL,  /* no ServiceAccount objects */
};
