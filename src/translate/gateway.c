/* gateway.c -- TrafficSplit as HTTPRoutes with a Service parent (GAMMA).
 *
 * Gateway API HTTPRoute (gateway.networking.k8s.io/v1, `--routes
 * gateway-api`, either mesh) and Linkerd's own policy.linkerd.io/v1beta3
 * HTTPRoute have the same shape, so both are built here; only the
 * apiVersion, the parent group spelling and the size limits differ.
 *
 * One route per port of the root Service, because HTTPRoute backends need
 * a port and SMI backends take part per port: a backend whose Service is
 * known and lacks the port is left out for that port (SMI), one that is
 * not known yet is kept (SMI lets a split name a Service before it
 * exists). With the standard-channel CRD two parentRefs that differ only
 * by port are rejected, another reason for one route per port.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int sb__route_rules(sb__tx *t, const sb__route_flavor *f, cJSON *rules,
                    cJSON *matches, const cJSON *backend_refs,
                    size_t reserve_rules, size_t reserve_matches,
                    const char *path) {
  size_t total = (size_t) cJSON_GetArraySize(matches), nrules, i;
  cJSON *m;

  nrules = (total + f->max_matches_rule - 1) / f->max_matches_rule;
  /* Name the limit that is exceeded, counting what the caller reserves
   * (the catch-all rule and its match) the way the CRD counts it. */
  if (total + reserve_matches > f->max_matches_total) {
    sb__err(t, SB_REASON_UNSUPPORTED, path, "%zu HTTP matches%s do not fit "
            "in one HTTPRoute: it holds at most %zu matches in all", total,
            reserve_matches ? " and the catch-all" : "",
            f->max_matches_total);
    return -1;
  }
  if (nrules + reserve_rules > f->max_rules) {
    sb__err(t, SB_REASON_UNSUPPORTED, path, "%zu HTTP matches need %zu "
            "rules of at most %zu matches%s, %zu in all; one HTTPRoute holds "
            "at most %zu rules", total, nrules, f->max_matches_rule,
            reserve_rules ? " and the catch-all rule" : "",
            nrules + reserve_rules, f->max_rules);
    return -1;
  }
  for (i = 0; i < nrules; i++) {
    cJSON *rule = sb__jobj(t, rules, NULL);
    cJSON *list = sb__jarr(t, rule, "matches");
    size_t k;

    /* Move the next chunk from the front of `matches`. */
    for (k = 0; k < f->max_matches_rule && (m = matches->child); k++) {
      cJSON_DetachItemViaPointer(matches, m);
      sb__jadd(t, list, NULL, m);
    }
    if (backend_refs)
      sb__jadd(t, rule, "backendRefs", cJSON_Duplicate(backend_refs, 1));
  }
  return (int) nrules;
}

int sb__svc_has_port(const sb_service *svc, int32_t port) {
  size_t i;

  for (i = 0; i < svc->nports; i++)
    if (svc->ports[i].port == port)
      return 1;
  return 0;
}

/* The root Service's TCP ports, ascending and unique; n = 0 when none. */
static int32_t *root_ports(sb__tx *t, const sb_service *svc, size_t *n) {
  int32_t *v = malloc((svc->nports ? svc->nports : 1) * sizeof(*v));
  size_t i, k = 0, j = 0;

  *n = 0;
  if (!v) {
    t->oom = 1;
    return NULL;
  }
  for (i = 0; i < svc->nports; i++) {
    const sb_service_port *p = &svc->ports[i];
    if (p->protocol && strcmp(p->protocol, "TCP") != 0) {
      sb__warn(t, SB_REASON_UNSUPPORTED, "spec.service", "port %d/%s of "
               "Service %s/%s is not split (HTTPRoutes carry TCP only)",
               (int) p->port, p->protocol, svc->obj.ns, svc->obj.name);
      continue;
    }
    v[k++] = p->port;
  }
  qsort(v, k, sizeof(*v), sb__cmp_int32);
  for (i = 0; i < k; i++)
    if (j == 0 || v[j - 1] != v[i])
      v[j++] = v[i];
  *n = j;
  return v;
}

/* backendRefs for port P; NULL (with a warning) when nothing would get
 * traffic on it. */
static cJSON *backend_refs(sb__tx *t, const sb_traffic_split *ts,
                           const sb__split *s, int32_t port) {
  cJSON *refs = cJSON_CreateArray();
  int64_t sum = 0;
  size_t i, kept = 0;

  if (!refs) {
    t->oom = 1;
    return NULL;
  }
  for (i = 0; i < ts->nbackends; i++) {
    const sb_ts_backend *b = &ts->backends[i];
    const sb_service *svc = (const sb_service *)
        sb_world_get(t->w, SB_KIND_SERVICE, ts->obj.ns, b->service);
    cJSON *r;
    char path[64];

    if (svc && !sb__svc_has_port(svc, port)) {
      sb__epath(path, sizeof(path), "spec.backends", i, "");
      sb__warn(t, SB_REASON_UNSUPPORTED, path, "Service %s/%s has no port "
               "%d; it takes no part in the split on that port",
               ts->obj.ns, b->service, (int) port);
      continue;
    }
    r = sb__jobj(t, refs, NULL);
    sb__jstr(t, r, "name", b->service);
    sb__jint(t, r, "port", port);
    sb__jint(t, r, "weight", s->weights[i]);
    sum += s->weights[i];
    kept++;
  }
  if (kept == 0 || sum == 0) {
    sb__warn(t, SB_REASON_UNSUPPORTED, "spec.backends", "no backend with "
             "a non-zero weight serves port %d; that port is not split "
             "(requests keep going to the root Service)", (int) port);
    cJSON_Delete(refs);
    return NULL;
  }
  return refs;
}

void sb__split_routes(sb__tx *t, const sb_traffic_split *ts,
                      const sb__route_flavor *f) {
  const sb_obj *owner = t->src;
  const sb_service *root;
  cJSON *matches = NULL;
  int32_t *ports = NULL;
  size_t i, j, nports = 0;
  int everything = 0, bad = 0;
  sb__split s;

  if (!sb__split_prepare(t, ts, &s))
    goto done;
  if (s.has_matches) {
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
        if (sb__convert_match(t, SB__MATCH_ROUTE, &g->matches[j],
                              sb_buf_cstr(&what), path, matches, &all))
          bad = 1;
        everything |= all;
        sb_buf_free(&what);
      }
    }
  }
  root = (const sb_service *) sb__tx_get(t, SB_KIND_SERVICE, ts->obj.ns,
                                      ts->root);
  for (i = 0; i < ts->nbackends; i++)
    sb__dep(t, SB_DEP_OBJECT, SB_KIND_SERVICE, ts->obj.ns,
            ts->backends[i].service);
  if (!root) {
    sb__err(t, SB_REASON_MISSING, "spec.service", "needs Service %s/%s to "
            "know its ports (pass it with --context-file)", ts->obj.ns,
            ts->root);
    bad = 1;
  }
  if (bad) {
    t->out->outcome = SB_OUTCOME_INVALID;
    goto done;
  }
  if (s.has_matches && !everything && cJSON_GetArraySize(matches) == 0)
    sb__warn(t, SB_REASON_UNSUPPORTED, "spec.matches", "the referenced "
             "HTTPRouteGroups have no match; every request goes to the "
             "root Service");
  ports = root_ports(t, root, &nports);
  if (ports && nports == 0)
    sb__warn(t, SB_REASON_UNSUPPORTED, "spec.service", "Service %s/%s has "
             "no TCP port; there is nothing to split", ts->obj.ns,
             ts->root);

  for (i = 0; ports && i < nports && !t->oom; i++) {
    char name[SB__NAME_MAX + 1];
    cJSON *refs = backend_refs(t, ts, &s, ports[i]), *route, *spec, *rules;
    cJSON *parent, *mcopy;

    if (!refs)
      continue;
    if (sb__name(name, ts->obj.name, "split", ports[i])) {
      cJSON_Delete(refs);
      t->oom = 1;
      break;
    }
    route = sb__object(t, f->api_version, "HTTPRoute", name, ts->obj.ns,
                       &owner, 1, 1);
    spec = sb__jobj(t, route, "spec");
    parent = sb__jobj(t, sb__jarr(t, spec, "parentRefs"), NULL);
    sb__jstr(t, parent, "group", f->parent_group);
    sb__jstr(t, parent, "kind", "Service");
    sb__jstr(t, parent, "name", ts->root);
    sb__jint(t, parent, "port", ports[i]);
    rules = sb__jarr(t, spec, "rules");
    if (!s.has_matches || everything) {
      sb__jadd(t, sb__jobj(t, rules, NULL), "backendRefs", refs);
      refs = NULL;
    } else {
      cJSON *catchall;
      mcopy = cJSON_Duplicate(matches, 1);
      if (!mcopy)
        t->oom = 1;
      else if (sb__route_rules(t, f, rules, mcopy, refs, 1, 1,
                               "spec.matches") < 0)
        t->out->outcome = SB_OUTCOME_INVALID;
      cJSON_Delete(mcopy);
      /* Unmatched requests go to the root Service itself. */
      catchall = sb__jobj(t, sb__jarr(t, sb__jobj(t, rules, NULL),
                                      "backendRefs"), NULL);
      sb__jstr(t, catchall, "name", ts->root);
      sb__jint(t, catchall, "port", ports[i]);
    }
    cJSON_Delete(refs);
    sb__push(t, route);
    if (t->out->outcome == SB_OUTCOME_INVALID)
      break;
  }
done:
  free(ports);
  cJSON_Delete(matches);
  sb__split_free(&s);
}

const sb__route_flavor sb__gateway_flavor = {
  "gateway.networking.k8s.io/v1",
  "gateway.networking.k8s.io",
  "",    /* the core group, as the Gateway API spec spells it */
  64,
  127,   /* "less than 128" over all rules */
  16,
};

void sb__gateway_split(sb__tx *t, const sb_traffic_split *ts) {
  sb__split_routes(t, ts, &sb__gateway_flavor);
}
