/* access.c -- what a TrafficTarget allows, independent of the mesh.
 *
 * SMI leaves open how rules of different kinds combine (smi README §6.8).
 * We read them the way the SMI v1alpha3 example table does (prometheus may
 * GET /metrics on port 8080 only):
 *
 *   TCPRoute rules        -> ports (an empty list: every port)
 *   HTTPRouteGroup rules  -> HTTP routes (rule.matches picks match names;
 *                            none picks every match of the group)
 *   both                  -> the routes, on those ports only (AND)
 *   only TCPRoute         -> the whole ports
 *   only HTTPRouteGroup   -> the routes, on every port
 *   destination.port      -> (v1alpha1/2) narrows the ports further
 *   UDPRoute              -> no mesh here authorizes UDP: dropped with a
 *                            warning, which allows less, never more
 *
 * Several rules of one kind are ORed: ports and routes are unions. The
 * result is shared by the Istio and Linkerd backends and by the Linkerd
 * ServiceAccount key (which needs every TrafficTarget's ports).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sb/err.h"

typedef struct ports {
  int32_t *v;
  size_t n, cap;
} ports;

static int ports_add(ports *p, int32_t port) {
  size_t i;

  for (i = 0; i < p->n; i++)
    if (p->v[i] == port)
      return 0;
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 8;
    int32_t *v = realloc(p->v, cap * sizeof(*v));
    if (!v)
      return SB_ENOMEM;
    p->v = v;
    p->cap = cap;
  }
  p->v[p->n++] = port;
  return 0;
}

static int add_match(sb__access *a, size_t *cap, size_t rule,
                     const sb_http_route_group *g, const sb_http_match *m) {
  size_t i;

  for (i = 0; i < a->nmatches; i++)
    if (a->matches[i].match == m)
      return 0;
  if (a->nmatches == *cap) {
    size_t c = *cap ? *cap * 2 : 8;
    sb__access_match *v = realloc(a->matches, c * sizeof(*v));
    if (!v)
      return SB_ENOMEM;
    a->matches = v;
    *cap = c;
  }
  a->matches[a->nmatches].group = g;
  a->matches[a->nmatches].match = m;
  a->matches[a->nmatches].rule = rule;
  a->nmatches++;
  return 0;
}

static int subject_ok(sb__tx *t, const sb_subject *s, const char *path) {
  if (s->kind && strcmp(s->kind, "ServiceAccount") != 0) {
    sb__err(t, SB_REASON_UNSUPPORTED, path, "kind %s is not supported "
            "(only ServiceAccount)", s->kind);
    return 0;
  }
  if (!s->name || !*s->name) {
    sb__err(t, SB_REASON_INVALID, path, "a ServiceAccount name is "
            "required");
    return 0;
  }
  return 1;
}

/* An HTTPRouteGroup rule: the selected matches. */
static int http_rule(sb__tx *t, const sb_tt_rule *r, size_t ri,
                     const char *path, sb__access *a, size_t *cap) {
  const sb_obj *o = sb__tx_get(t, SB_KIND_HTTP_ROUTE_GROUP, t->src->ns,
                            r->name);
  const sb_http_route_group *g = (const sb_http_route_group *) o;
  size_t i, j;

  if (!g) {
    sb__err(t, SB_REASON_MISSING, path, "needs HTTPRouteGroup %s/%s, which "
            "is not known (create it, or pass it with -f)", t->src->ns,
            r->name);
    a->invalid = 1;
    return 0;
  }
  if (r->nmatches == 0) {
    for (i = 0; i < g->nmatches; i++)
      if (add_match(a, cap, ri, g, &g->matches[i]))
        return SB_ENOMEM;
    return 0;
  }
  for (j = 0; j < r->nmatches; j++) {
    for (i = 0; i < g->nmatches; i++)
      if (g->matches[i].name && strcmp(g->matches[i].name, r->matches[j]) == 0)
        break;
    if (i == g->nmatches) {
      sb__err(t, SB_REASON_INVALID, path, "HTTPRouteGroup %s/%s has no "
              "match named \"%s\"", g->obj.ns, g->obj.name, r->matches[j]);
      a->invalid = 1;
      continue;
    }
    if (add_match(a, cap, ri, g, &g->matches[i]))
      return SB_ENOMEM;
  }
  return 0;
}

/* Does the match select every request (no condition at all)? */
static int match_everything(const sb_http_match *m) {
  sb_buf lit;
  size_t i;
  int all;

  if (m->nheaders)
    return 0;
  for (i = 0; i < m->nmethods; i++)
    if (strcmp(m->methods[i], "*") == 0)
      break;
  if (m->nmethods && i == m->nmethods)
    return 0;
  sb_buf_init(&lit, SB_BUF_UNLIMITED);
  all = sb__path_classify(m->path_regex, &lit) == SB__PATH_ALL;
  sb_buf_free(&lit);
  return all;
}

int sb__access_eval(sb__tx *t, const sb_traffic_target *tt, sb__access *a) {
  ports tcp = {0};
  size_t i, cap = 0;
  int has_tcp = 0, tcp_all = 0, has_http = 0, rc = 0;
  char path[64];

  memset(a, 0, sizeof(*a));
  if (!subject_ok(t, &tt->dest, "spec.destination"))
    a->invalid = 1;
  if (tt->dest.ns && *tt->dest.ns && strcmp(tt->dest.ns, tt->obj.ns) != 0) {
    sb__err(t, SB_REASON_INVALID, "spec.destination.namespace", "the "
            "destination (namespace %s) must be in the TrafficTarget's own "
            "namespace %s: the generated policies live there",
            tt->dest.ns, tt->obj.ns);
    a->invalid = 1;
  }
  if (tt->nsources == 0) {
    sb__err(t, SB_REASON_INVALID, "spec.sources", "needs at least one "
            "source");
    a->invalid = 1;
  }
  for (i = 0; i < tt->nsources; i++) {
    sb__epath(path, sizeof(path), "spec.sources", i, "");
    if (!subject_ok(t, &tt->sources[i], path))
      a->invalid = 1;
  }
  if (tt->nrules == 0) {
    sb__err(t, SB_REASON_INVALID, "spec.rules", "needs at least one rule");
    a->invalid = 1;
  }
  for (i = 0; i < tt->nrules && rc == 0; i++) {
    const sb_tt_rule *r = &tt->rules[i];
    const char *kind = r->kind ? r->kind : "";

    sb__epath(path, sizeof(path), "spec.rules", i, "");
    if (!r->name || !*r->name) {
      sb__err(t, SB_REASON_INVALID, path, "the rule needs a name");
      a->invalid = 1;
      continue;
    }
    if (strcmp(kind, "HTTPRouteGroup") == 0) {
      has_http = 1;
      rc = http_rule(t, r, i, path, a, &cap);
    } else if (strcmp(kind, "TCPRoute") == 0) {
      const sb_port_route *pr = (const sb_port_route *)
          sb__tx_get(t, SB_KIND_TCP_ROUTE, tt->obj.ns, r->name);
      size_t j;

      has_tcp = 1;
      if (!pr) {
        sb__err(t, SB_REASON_MISSING, path, "needs TCPRoute %s/%s, which is "
                "not known (create it, or pass it with -f)", tt->obj.ns,
                r->name);
        a->invalid = 1;
        continue;
      }
      if (pr->nports == 0)
        tcp_all = 1;
      for (j = 0; j < pr->nports && rc == 0; j++)
        rc = ports_add(&tcp, pr->ports[j]);
    } else if (strcmp(kind, "UDPRoute") == 0) {
      sb__warn(t, SB_REASON_UNSUPPORTED, path, "UDPRoute %s is not "
               "supported (the meshes authorize TCP only); the rule is "
               "ignored, so UDP stays denied", r->name);
    } else {
      sb__err(t, SB_REASON_UNSUPPORTED, path, "rule kind \"%s\" is not "
              "supported (HTTPRouteGroup, TCPRoute, UDPRoute)", kind);
      a->invalid = 1;
    }
  }
  if (rc)
    goto oom;
  if (a->invalid)
    goto done;

  if (has_tcp) {
    a->all_ports = tcp_all;
  } else if (has_http) {
    a->all_ports = 1;
  } else {
    a->nothing = 1;  /* only UDPRoute rules */
    goto done;
  }
  if (!a->all_ports) {
    qsort(tcp.v, tcp.n, sizeof(*tcp.v), sb__cmp_int32);
    a->ports = tcp.v;
    a->nports = tcp.n;
    tcp.v = NULL;
  }
  if (tt->dest.port > 0) {
    if (a->all_ports) {
      a->all_ports = 0;
      a->ports = malloc(sizeof(*a->ports));
      if (!a->ports)
        goto oom;
      a->ports[0] = tt->dest.port;
      a->nports = 1;
    } else {
      size_t j, k = 0;
      for (j = 0; j < a->nports; j++)
        if (a->ports[j] == tt->dest.port)
          a->ports[k++] = a->ports[j];
      a->nports = k;
      if (k == 0) {
        sb__warn(t, SB_REASON_UNSUPPORTED, "spec.destination.port",
                 "port %d is not among the TCPRoute ports; nothing is "
                 "allowed", (int) tt->dest.port);
        a->nothing = 1;
      }
    }
  }
  if (has_http && !a->nothing) {
    a->http = 1;
    if (a->nmatches == 0) {
      sb__warn(t, SB_REASON_UNSUPPORTED, "spec.rules", "the "
               "HTTPRouteGroup rules select no match; nothing is allowed");
      a->nothing = 1;
      a->http = 0;
    }
    for (i = 0; i < a->nmatches; i++) {
      if (match_everything(a->matches[i].match)) {
        /* One match takes every request: the ports as a whole. */
        a->http = 0;
        break;
      }
    }
  }
done:
  free(tcp.v);
  return 0;
oom:
  free(tcp.v);
  sb__access_free(a);
  t->oom = 1;
  return SB_ENOMEM;
}

void sb__access_free(sb__access *a) {
  free(a->ports);
  free(a->matches);
  a->ports = NULL;
  a->matches = NULL;
  a->nports = a->nmatches = 0;
}
