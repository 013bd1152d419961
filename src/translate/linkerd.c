/* linkerd.c -- SMI to Linkerd policy (policy.linkerd.io) objects.
 *
 * TrafficSplit -> an outbound HTTPRoute per root Service port (gateway.c
 * builds it), or, in the opt-in legacy mode, one ServiceProfile with
 * dstOverrides -- never both: a ServiceProfile with dstOverrides makes
 * the proxy ignore every HTTPRoute of that Service.
 *
 * TrafficTarget -> MeshTLSAuthentication "<tt>-access" naming the sources,
 * and per destination port P an AuthorizationPolicy "<tt>-access-<P>"
 * that requires it. The policy targets the port's Server, or, when only
 * some HTTP routes are allowed, an inbound HTTPRoute "<tt>-access-<P>"
 * carrying those routes.
 *
 * ServiceAccount key -> the Servers "<sa>-sa-<P>". Several TrafficTargets
 * with one destination share them (Linkerd lets one Server own a pod
 * port), so they are made by a key of their own that reads every such
 * TrafficTarget and lists all of them as owners.
 *
 * Linkerd caveats this file handles (linkerd README §2.3):
 *   - once any inbound HTTPRoute is attached to a Server, a request that
 *     matches no route is refused; so when one TrafficTarget restricts a
 *     port to routes and another allows the whole port, a catch-all
 *     route "<sa>-sa-<P>" keeps the whole-port one working (policies on a
 *     Server apply to all of its routes);
 *   - with an inbound HTTPRoute the kubelet probes lose their default
 *     authorization: a warning says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define POLICY_GROUP "policy.linkerd.io"

static const sb__route_flavor linkerd_flavor = {
  "policy.linkerd.io/v1beta3",
  POLICY_GROUP,
  "core",  /* what Linkerd's docs and tools write for a Service parent */
  8,       /* the Linkerd CRD's maxItems for rule matches */
  128,
  16,
};

/* Inbound (per-route authorization) HTTPRoutes: Linkerd's own kind, or
 * Gateway API's when `--routes gateway-api` asked for Gateway API types
 * (Linkerd reads both, and policies may target both). */
static const sb__route_flavor *inbound_flavor(const sb__tx *t) {
  return t->o->routes == SB_ROUTES_GATEWAY_API ? &sb__gateway_flavor
                                               : &linkerd_flavor;
}

/* ---- TrafficSplit ------------------------------------------------------- */

static void service_profile(sb__tx *t, const sb_traffic_split *ts) {
  const sb_obj *owner = t->src;
  cJSON *sp, *list;
  int64_t *share = NULL, *milli = NULL;
  sb_buf name;
  size_t i;
  sb__split s;

  sb_buf_init(&name, SB_BUF_UNLIMITED);
  if (!sb__split_prepare(t, ts, &s))
    goto done;
  if (s.has_matches) {
    sb__err(t, SB_REASON_UNSUPPORTED, "spec.matches", "a ServiceProfile "
            "cannot split by HTTP match; use HTTPRoutes (without the "
            "ServiceProfile mode) for a split with matches");
    t->out->outcome = SB_OUTCOME_INVALID;
    goto done;
  }
  share = calloc(ts->nbackends ? ts->nbackends : 1, sizeof(*share));
  if (!share || sb__fqdn(&name, ts->root, ts->obj.ns,
                         t->o->cluster_domain)) {
    t->oom = 1;
    goto done;
  }
  /* Quantities summing to 1000m: the destination controller sends
   * MilliValue()*10 as a uint32, which large integers overflow. Shares of
   * the user's own numbers, not of the weights scaled to the shared limit
   * (see istio.c's vs_weights). */
  milli = calloc(ts->nbackends ? ts->nbackends : 1, sizeof(*milli));
  if (!milli) {
    t->oom = 1;
    goto done;
  }
  for (i = 0; i < ts->nbackends; i++)
    milli[i] = ts->backends[i].weight_milli;
  sb__weights_share(milli, ts->nbackends, 1000, share);
  sp = sb__object(t, "linkerd.io/v1alpha2", "ServiceProfile",
                  sb_buf_cstr(&name), ts->obj.ns, &owner, 1, 1);
  list = sb__jarr(t, sb__jobj(t, sp, "spec"), "dstOverrides");
  for (i = 0; i < ts->nbackends; i++) {
    cJSON *d = sb__jobj(t, list, NULL);
    char w[32];
    sb_buf auth;

    sb_buf_init(&auth, SB_BUF_UNLIMITED);
    if (sb__fqdn(&auth, ts->backends[i].service, ts->obj.ns,
                 t->o->cluster_domain))
      t->oom = 1;
    snprintf(w, sizeof(w), "%lldm", (long long) share[i]);
    sb__jstr(t, d, "authority", sb_buf_cstr(&auth));
    sb__jstr(t, d, "weight", w);
    sb_buf_free(&auth);
    if (s.weights[i] > 0 && share[i] == 0) {
      char path[64];
      sb__epath(path, sizeof(path), "spec.backends", i, ".weight");
      sb__warn(t, SB_REASON_SCALED, path, "backend %s's share rounds to "
               "0m of 1000m; it gets no traffic", ts->backends[i].service);
    }
  }
  sb__push(t, sp);
done:
  free(share);
  free(milli);
  sb_buf_free(&name);
  sb__split_free(&s);
}

static void linkerd_split(sb__tx *t, const sb_traffic_split *ts) {
  if (t->o->linkerd_service_profile)
    service_profile(t, ts);
  else
    sb__split_routes(t, ts, &linkerd_flavor);
}

/* ---- TrafficTarget ------------------------------------------------------ */

/* The ports a TrafficTarget covers: its own list, or every container port
 * of the destination's pods. 0 = OK, -1 after an error. */
static int covered_ports(sb__tx *t, const sb_traffic_target *tt,
                         const sb__access *a, const sb__identity *id,
                         int32_t **ports, size_t *n) {
  const int32_t *src = a->all_ports ? id->ports : a->ports;
  size_t cnt = a->all_ports ? id->nports : a->nports;

  *ports = NULL;
  *n = 0;
  if (a->nothing)
    return 0;
  if (a->all_ports && cnt == 0) {
    sb__err(t, SB_REASON_UNSUPPORTED, "spec.rules", "allows every port of "
            "ServiceAccount %s/%s, but its Pods declare no TCP "
            "containerPorts; list the ports in a TCPRoute rule",
            tt->obj.ns, tt->dest.name);
    return -1;
  }
  *ports = malloc((cnt ? cnt : 1) * sizeof(**ports));
  if (!*ports) {
    t->oom = 1;
    return -1;
  }
  if (cnt)
    memcpy(*ports, src, cnt * sizeof(**ports));
  *n = cnt;
  return 0;
}

static void ref(sb__tx *t, cJSON *parent, const char *key,
                const char *group, const char *kind, const char *name) {
  cJSON *r = sb__jobj(t, parent, key);

  sb__jstr(t, r, "group", group);
  sb__jstr(t, r, "kind", kind);
  sb__jstr(t, r, "name", name);
}

static void linkerd_target(sb__tx *t, const sb_traffic_target *tt) {
  const sb__route_flavor *in = inbound_flavor(t);
  const sb_obj *owner = t->src;
  char mtls[SB__NAME_MAX + 1];
  cJSON *o, *refs, *matches = NULL;
  int32_t *ports = NULL;
  size_t i, nports = 0;
  sb__identity id;
  sb__access a;
  int st = SB__ID_OK, bad = 0;

  memset(&id, 0, sizeof(id));
  if (sb__access_eval(t, tt, &a))
    return;
  if (!a.invalid)
    st = sb__identity_derive(t, tt->obj.ns, tt->dest.name,
                             "spec.destination", &id);
  if (st < 0)
    goto done;
  if (a.invalid || st == SB__ID_NO_PODS || st == SB__ID_NO_LABEL ||
      covered_ports(t, tt, &a, &id, &ports, &nports)) {
    t->out->outcome = SB_OUTCOME_INVALID;
    goto done;
  }
  if (st == SB__ID_CONFLICT) {
    t->out->outcome = SB_OUTCOME_INVALID;  /* fail closed: keep what exists */
    goto done;
  }
  if (a.nothing)
    goto done;  /* OK with nothing */

  if (a.http) {
    matches = cJSON_CreateArray();
    if (!matches)
      t->oom = 1;
    for (i = 0; matches && i < a.nmatches; i++) {
      char path[64];
      sb_buf what;
      int all = 0;

      sb_buf_init(&what, SB_BUF_UNLIMITED);
      sb__match_what(&what, a.matches[i].group, a.matches[i].match);
      sb__epath(path, sizeof(path), "spec.rules", a.matches[i].rule, "");
      if (sb__convert_match(t, SB__MATCH_ROUTE, a.matches[i].match,
                            sb_buf_cstr(&what), path, matches, &all))
        bad = 1;
      sb_buf_free(&what);
    }
    if (bad) {
      t->out->outcome = SB_OUTCOME_INVALID;
      goto done;
    }
  }

  if (sb__name(mtls, tt->obj.name, "access", 0)) {
    t->oom = 1;
    goto done;
  }
  o = sb__object(t, "policy.linkerd.io/v1alpha1", "MeshTLSAuthentication",
                 mtls, tt->obj.ns, &owner, 1, 1);
  refs = sb__jarr(t, sb__jobj(t, o, "spec"), "identityRefs");
  for (i = 0; i < tt->nsources; i++) {
    cJSON *r = cJSON_CreateObject();
    if (!r)
      t->oom = 1;
    sb__jstr(t, r, "kind", "ServiceAccount");
    sb__jstr(t, r, "name", tt->sources[i].name);
    sb__jstr(t, r, "namespace", tt->sources[i].ns && *tt->sources[i].ns
                                    ? tt->sources[i].ns : tt->obj.ns);
    sb__jadd_unique(t, refs, r);
  }
  sb__push(t, o);

  for (i = 0; i < nports && !t->oom; i++) {
    char server[SB__NAME_MAX + 1], name[SB__NAME_MAX + 1];
    cJSON *spec;

    if (sb__name(server, tt->dest.name, "sa", ports[i]) ||
        sb__name(name, tt->obj.name, "access", ports[i])) {
      t->oom = 1;
      break;
    }
    if (a.http) {
      /* route_rules moves the matches out: the last port takes the
       * originals, only the ones before it need a copy. */
      cJSON *mcopy = i + 1 == nports ? matches : cJSON_Duplicate(matches, 1);
      if (mcopy == matches)
        matches = NULL;
      o = sb__object(t, in->api_version, "HTTPRoute", name, tt->obj.ns,
                     &owner, 1, 1);
      spec = sb__jobj(t, o, "spec");
      ref(t, sb__jarr(t, spec, "parentRefs"), NULL, POLICY_GROUP, "Server",
          server);
      if (!mcopy)
        t->oom = 1;
      else if (sb__route_rules(t, in,
                               sb__jarr(t, spec, "rules"), mcopy, NULL, 0, 0,
                               "spec.rules") < 0)
        t->out->outcome = SB_OUTCOME_INVALID;
      cJSON_Delete(mcopy);
      sb__push(t, o);
      if (t->out->outcome == SB_OUTCOME_INVALID)
        break;
    }
    o = sb__object(t, "policy.linkerd.io/v1alpha1", "AuthorizationPolicy",
                   name, tt->obj.ns, &owner, 1, 1);
    spec = sb__jobj(t, o, "spec");
    if (a.http)
      ref(t, spec, "targetRef", in->group, "HTTPRoute", name);
    else
      ref(t, spec, "targetRef", POLICY_GROUP, "Server", server);
    ref(t, sb__jarr(t, spec, "requiredAuthenticationRefs"), NULL,
        POLICY_GROUP, "MeshTLSAuthentication", mtls);
    sb__push(t, o);
  }
  if (a.http && nports)
    sb__warn(t, SB_REASON_PROBES, "spec.rules", "per-route access attaches "
             "inbound HTTPRoutes to the Servers of ServiceAccount %s/%s; "
             "Linkerd then no longer authorizes kubelet probes on those "
             "ports by default -- authorize them explicitly (for example "
             "a NetworkAuthentication for the probe network)",
             tt->obj.ns, tt->dest.name);
done:
  cJSON_Delete(matches);
  free(ports);
  sb__identity_free(&id);
  sb__access_free(&a);
}

/* ---- ServiceAccount: the shared Servers --------------------------------- */

typedef struct target_need {
  const sb_traffic_target *tt;
  int32_t *ports;
  size_t nports;
  int http;
} target_need;

typedef struct targets {
  const char *ns;
  const sb_traffic_target **v;
  size_t n, cap;
  int oom;
} targets;

static int collect_target(void *arg, const sb_obj *obj) {
  targets *l = arg;

  /* A TrafficTarget in another namespace is invalid by itself and must
   * not be able to hold this namespace's Servers hostage. */
  if (strcmp(obj->ns, l->ns) != 0)
    return 0;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    const sb_traffic_target **v = realloc(l->v, cap * sizeof(*v));
    if (!v) {
      l->oom = 1;
      return 1;
    }
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = (const sb_traffic_target *) obj;
  return 0;
}

static int cmp_target(const void *a, const void *b) {
  const sb_obj *x = *(const sb_obj *const *) a;
  const sb_obj *y = *(const sb_obj *const *) b;
  return strcmp(x->name, y->name);
}

static int has(const target_need *n, int32_t port) {
  size_t i;

  for (i = 0; i < n->nports; i++)
    if (n->ports[i] == port)
      return 1;
  return 0;
}

/* Evaluates one TrafficTarget for the Servers: its diagnostics go to a
 * scratch list (they belong to its own key), its dependencies are kept.
 * Returns 0, or -1 when it is invalid (an error naming it is added). */
static int target_needs(sb__tx *t, const sb_traffic_target *tt,
                        const sb__identity *id, target_need *need) {
  sb_key key = {SB_KIND_TRAFFIC_TARGET, tt->obj.ns, tt->obj.name};
  sb_out scratch;
  sb__tx sub;
  sb__access a;
  size_t i;
  int rc = 0;

  memset(need, 0, sizeof(*need));
  need->tt = tt;
  sb_out_init(&scratch);
  sub = *t;
  sub.key = &key;
  sub.out = &scratch;
  sub.src = &tt->obj;
  sub.loc = sb_obj_loc(&tt->obj);
  sub.oom = 0;
  if (sb__access_eval(&sub, tt, &a) == 0) {
    if (!a.invalid &&
        covered_ports(&sub, tt, &a, id, &need->ports, &need->nports))
      a.invalid = 1;
    need->http = a.http;
    if (a.invalid) {
      const sb_diag *d = NULL;
      for (i = 0; i < scratch.diags.n && !d; i++)
        if (scratch.diags.v[i].sev == SB_DIAG_ERROR)
          d = &scratch.diags.v[i];
      sb__err(t, d ? d->reason : SB_REASON_INVALID, NULL,
              "TrafficTarget %s/%s is invalid%s%s%s%s%s; the Servers of "
              "ServiceAccount %s/%s are left as they are until it is fixed",
              tt->obj.ns, tt->obj.name, d ? " (" : "",
              d && d->path ? d->path : "", d && d->path ? ": " : "",
              d ? d->msg : "", d ? ")" : "", t->key->ns, t->key->name);
      rc = -1;
    }
    sb__access_free(&a);
  }
  for (i = 0; i < scratch.ndeps; i++)
    sb__dep(t, scratch.deps[i].sel, scratch.deps[i].kind,
            scratch.deps[i].ns, scratch.deps[i].name);
  if (sub.oom)
    t->oom = 1;
  sb_out_free(&scratch);
  return rc;
}

static void linkerd_sa(sb__tx *t, const char *ns, const char *sa) {
  const sb__route_flavor *in = inbound_flavor(t);
  targets l = {0};
  target_need *needs = NULL;
  int32_t *all = NULL;
  size_t i, j, nall = 0, total = 0;
  sb__identity id;
  int st, bad = 0;

  memset(&id, 0, sizeof(id));
  l.ns = ns;
  sb__dep(t, SB_DEP_TARGETS_OF_SA, SB_KIND_TRAFFIC_TARGET, ns, sa);
  sb_world_targets_by_dest(t->w, ns, sa, collect_target, &l);
  if (l.oom) {
    t->oom = 1;
    goto done;
  }
  if (l.n == 0)
    goto done;  /* no TrafficTarget: no Server */
  qsort(l.v, l.n, sizeof(*l.v), cmp_target);
  st = sb__identity_derive(t, ns, sa, NULL, &id);
  if (st < 0)
    goto done;
  if (st == SB__ID_NO_PODS || st == SB__ID_NO_LABEL) {
    t->out->outcome = SB_OUTCOME_INVALID;
    goto done;
  }
  if (st == SB__ID_CONFLICT) {
    t->out->outcome = SB_OUTCOME_INVALID;  /* fail closed: keep the Servers */
    goto done;
  }

  needs = calloc(l.n, sizeof(*needs));
  if (!needs) {
    t->oom = 1;
    goto done;
  }
  for (i = 0; i < l.n && !t->oom; i++) {
    if (target_needs(t, l.v[i], &id, &needs[i]))
      bad = 1;
    total += needs[i].nports;
  }
  if (bad) {
    t->out->outcome = SB_OUTCOME_INVALID;
    goto done;
  }
  /* Every port any TrafficTarget covers, ascending. */
  all = malloc((total ? total : 1) * sizeof(*all));
  if (!all) {
    t->oom = 1;
    goto done;
  }
  for (i = 0; i < l.n; i++)
    for (j = 0; j < needs[i].nports; j++)
      all[nall++] = needs[i].ports[j];
  qsort(all, nall, sizeof(*all), sb__cmp_int32);
  for (i = 0, j = 0; i < nall; i++)
    if (j == 0 || all[j - 1] != all[i])
      all[j++] = all[i];
  nall = j;

  for (i = 0; i < nall && !t->oom; i++) {
    const sb_obj **owners = calloc(l.n, sizeof(*owners));
    char name[SB__NAME_MAX + 1];
    size_t k, n = 0;
    int routes = 0, whole = 0;
    cJSON *o, *spec, *ml;

    if (!owners || sb__name(name, sa, "sa", all[i])) {
      free(owners);
      t->oom = 1;
      break;
    }
    for (k = 0; k < l.n; k++) {
      if (!has(&needs[k], all[i]))
        continue;
      owners[n++] = &needs[k].tt->obj;
      if (needs[k].http)
        routes = 1;
      else
        whole = 1;
    }
    o = sb__object(t, "policy.linkerd.io/v1beta3", "Server", name, ns,
                   owners, n, 1);
    spec = sb__jobj(t, o, "spec");
    ml = sb__jobj(t, sb__jobj(t, spec, "podSelector"), "matchLabels");
    for (k = 0; k < id.nlabels; k++)
      sb__jstr_dup(t, ml, id.labels[k].key, id.labels[k].value);
    sb__jint(t, spec, "port", all[i]);
    sb__push(t, o);
    if (routes && whole) {
      cJSON *path;
      o = sb__object(t, in->api_version, "HTTPRoute", name, ns,
                     owners, n, 1);
      spec = sb__jobj(t, o, "spec");
      ref(t, sb__jarr(t, spec, "parentRefs"), NULL, POLICY_GROUP, "Server",
          name);
      path = sb__jobj(t, sb__jobj(t, sb__jarr(t, sb__jobj(t, sb__jarr(
                 t, spec, "rules"), NULL), "matches"), NULL), "path");
      sb__jstr(t, path, "type", "PathPrefix");
      sb__jstr(t, path, "value", "/");
      sb__push(t, o);
      sb__warn(t, SB_REASON_PROBES, NULL, "port %d has TrafficTargets that "
               "allow only some HTTP routes and others that allow the whole "
               "port; the catch-all inbound HTTPRoute %s keeps whole-port "
               "access working (kubelet probes still need an explicit "
               "authorization)", (int) all[i], name);
    }
    free(owners);
  }
done:
  if (needs)
    for (i = 0; i < l.n; i++)
      free(needs[i].ports);
  free(needs);
  free(all);
  free(l.v);
  sb__identity_free(&id);
}

const sb__backend sb__linkerd_backend = {
  "linkerd",
  linkerd_split,
  linkerd_target,
  linkerd_sa,
};
