/* access.c -- TrafficTarget (access.smi-spec.io) v1alpha1..v1alpha3.
 *
 * v1alpha1 keeps destination, `specs` and sources at the top level;
 * v1alpha2 moves them under `spec` and renames `specs` to `rules`;
 * v1alpha3 drops destination.port (ports moved to TCPRoute/UDPRoute) and
 * adds UDPRoute rules. Every layout and name is read in every version,
 * with a warning when it is not the version's own.
 *
 * This is an allow-list, so where the input is ambiguous we fail closed:
 * a TrafficTarget needs a destination, at least one source and at least
 * one rule in every version (v1alpha3 states it; for v1alpha1/2 "no rule"
 * could mean all traffic or none, and guessing either way is wrong), and
 * a v1alpha3 destination.port is honoured rather than dropped, since
 * dropping it would open every port.
 */
#include "parse.h"

#include <string.h>

static void subject(sb__pctx *c, sb_subject *s, const cJSON *e,
                    const char *path, int is_dest) {
  const char *kind, *name, *ns;
  const cJSON *port;
  char p2[SB__PATH_MAX], q[SB__QUOTE_MAX];

  if (!cJSON_IsObject(e)) {
    sb__err(c, e, path, "must be a map with kind, name and namespace "
            "(got %s)", sb__type(e));
    return;
  }
  if (c->doc)
    s->line = sb_doc_line(c->doc, e);
  kind = sb__get_str(c, e, path, "kind", 1);
  if (kind && strcmp(kind, "ServiceAccount") != 0)
    sb__err(c, sb__get(e, "kind"), sb__path(p2, path, "kind"),
            "must be ServiceAccount (got %s): %s are ServiceAccount "
            "identities", sb__quote(q, kind),
            is_dest ? "destinations" : "sources");
  s->kind = "ServiceAccount";
  name = sb__get_str(c, e, path, "name", 1);
  if (name)
    sb__check_subdomain(c, sb__get(e, "name"), sb__path(p2, path, "name"),
                        name);
  s->name = sb__str(c, name ? name : "");
  ns = sb__get_str(c, e, path, "namespace", 0);
  if (ns && *ns) {
    sb__check_label(c, sb__get(e, "namespace"),
                    sb__path(p2, path, "namespace"), ns);
    s->ns = sb__str_common(c, ns);
    s->ns_defaulted = 0;
  } else {
    s->ns = c->ns;  /* shares the object's string */
    s->ns_defaulted = 1;
  }
  port = sb__get(e, "port");
  if (port && is_dest) {
    sb__path(p2, path, "port");
    if (c->version >= 3)
      sb__warn_version(c, port, p2, "port is a v1alpha1/v1alpha2 field (v1alpha3 "
               "puts ports in TCPRoute/UDPRoute); honoured, so only this "
               "port is allowed");
    s->port = sb__port(c, port, p2);
  }
}

static void sources(sb__pctx *c, sb_traffic_target *t, const cJSON *holder,
                    const char *base) {
  const cJSON *list, *e;
  char path[SB__PATH_MAX], p2[SB__PATH_MAX];
  size_t n, i = 0;

  list = sb__get_list(c, holder, base, "sources", 1);
  if (!list)
    return;
  n = (size_t) cJSON_GetArraySize(list);
  if (n == 0) {
    sb__err(c, list, sb__path(path, base, "sources"),
            "must list at least one source");
    return;
  }
  t->sources = sb__array(c, n, sizeof(*t->sources));
  if (!t->sources)
    return;
  sb__path(p2, base, "sources");
  cJSON_ArrayForEach(e, list) {
    sb__pathi(path, p2, i);
    subject(c, &t->sources[i++], e, path, 0);
  }
  t->nsources = n;
}

static void rule(sb__pctx *c, sb_tt_rule *r, const cJSON *e,
                 const char *path) {
  const cJSON *list, *m;
  const char *kind, *name;
  char p2[SB__PATH_MAX], p3[SB__PATH_MAX], q[SB__QUOTE_MAX];
  size_t n, i = 0, j;

  if (!cJSON_IsObject(e)) {
    sb__err(c, e, path, "must be a map with kind and name (got %s)",
            sb__type(e));
    return;
  }
  if (c->doc)
    r->line = sb_doc_line(c->doc, e);
  kind = sb__get_str(c, e, path, "kind", 1);
  if (kind && strcmp(kind, "HTTPRouteGroup") != 0 &&
      strcmp(kind, "TCPRoute") != 0 && strcmp(kind, "UDPRoute") != 0) {
    sb__err(c, sb__get(e, "kind"), sb__path(p2, path, "kind"),
            "must be HTTPRouteGroup, TCPRoute or UDPRoute (got %s)",
            sb__quote(q, kind));
    kind = NULL;
  } else if (kind && strcmp(kind, "UDPRoute") == 0 && c->version < 3) {
    sb__warn_version(c, sb__get(e, "kind"), sb__path(p2, path, "kind"),
             "UDPRoute rules are a v1alpha3 field; honoured in v1alpha%d "
             "too", c->version);
  }
  r->kind = sb__str_common(c, kind ? kind : "");
  name = sb__get_str(c, e, path, "name", 1);
  if (name)
    sb__check_subdomain(c, sb__get(e, "name"), sb__path(p2, path, "name"),
                        name);
  r->name = sb__str(c, name ? name : "");

  list = sb__get_list(c, e, path, "matches", 0);
  n = list ? (size_t) cJSON_GetArraySize(list) : 0;
  sb__path(p2, path, "matches");
  if (n == 0 || !sb__len_ok(c, list, p2, n))
    return;  /* 0: every match of the group */
  if (kind && strcmp(kind, "HTTPRouteGroup") != 0) {
    sb__err(c, list, p2, "names HTTPRouteGroup matches, but this rule is "
            "a %s, which has none", kind);
    return;
  }
  r->matches = sb__array(c, n, sizeof(*r->matches));
  if (!r->matches)
    return;
  cJSON_ArrayForEach(m, list) {
    sb__pathi(p3, p2, i++);
    if (!cJSON_IsString(m)) {
      sb__err(c, m, p3, "must be the name of a match (got %s)",
              sb__type(m));
      continue;
    }
    if (!*m->valuestring) {
      sb__err(c, m, p3, "must not be empty");
      continue;
    }
    for (j = 0; j < r->nmatches; j++)
      if (strcmp(r->matches[j], m->valuestring) == 0)
        break;
    if (j < r->nmatches) {
      sb__warn(c, m, p3, "%s is listed twice; the repeat is ignored",
               sb__quote(q, m->valuestring));
      continue;
    }
    r->matches[r->nmatches++] = sb__str(c, m->valuestring);
  }
}

static void rules(sb__pctx *c, sb_traffic_target *t, const cJSON *holder,
                  const cJSON *json, const char *base) {
  const cJSON *as_rules = sb__get(holder, "rules"), *list, *e;
  const cJSON *as_specs = sb__get(holder, "specs");
  const char *own = c->version == 1 ? "specs" : "rules";
  const char *key;
  char path[SB__PATH_MAX], p2[SB__PATH_MAX];
  size_t n, i = 0;

  if (as_rules && as_specs) {
    sb__err(c, as_specs, sb__path(path, base, "specs"), "is the v1alpha1 "
            "name of rules; give only one of them");
    return;
  }
  key = as_rules ? "rules" : as_specs ? "specs" : own;
  sb__path(p2, base, key);
  if ((as_rules || as_specs) && strcmp(key, own) != 0)
    sb__warn_version(c, as_rules ? as_rules : as_specs, p2, "%s", as_specs
             ? "specs is the v1alpha1 name of rules; read anyway"
             : "v1alpha1 calls rules specs; read anyway");
  list = sb__get_list(c, holder, base, key, 0);
  if (!list) {
    if (!sb__get(holder, key))
      sb__err(c, holder ? holder : json, p2, "is required: a TrafficTarget "
              "needs at least one rule");
    return;
  }
  n = (size_t) cJSON_GetArraySize(list);
  if (n == 0) {
    sb__err(c, list, p2, "must list at least one rule");
    return;
  }
  t->rules = sb__array(c, n, sizeof(*t->rules));
  if (!t->rules)
    return;
  cJSON_ArrayForEach(e, list) {
    sb__pathi(path, p2, i);
    rule(c, &t->rules[i++], e, path);
  }
  t->nrules = n;
}

static int has_any(const cJSON *obj) {
  return sb__get(obj, "destination") || sb__get(obj, "sources") ||
         sb__get(obj, "rules") || sb__get(obj, "specs");
}

sb_obj *sb__parse_target(sb__pctx *c, const cJSON *json) {
  sb_traffic_target *t;
  const cJSON *spec, *holder, *dest;
  const char *base;
  int top, old = c->version == 1;
  char path[SB__PATH_MAX];

  t = (sb_traffic_target *) sb__obj_new(c, json, sizeof(*t));
  if (!t)
    return NULL;
  spec = sb__get_map(c, json, "", "spec", 0);
  top = has_any(json);
  if (top && has_any(spec)) {
    sb__err(c, spec, "spec", "destination, sources and rules are given both "
            "at the top level and under spec; write them once (%s)",
            old ? "at the top level in v1alpha1" : "under spec");
    return &t->obj;
  }
  if (!top && !sb__get(json, "spec")) {
    sb__err(c, json, "spec", "is required");
    return &t->obj;
  }
  holder = top ? json : spec;
  base = top ? "" : "spec";
  if (top && !old)
    sb__warn_version(c, json, "", "destination, sources and rules belong under "
             "spec in v1alpha%d; read anyway", c->version);
  else if (!top && old && spec)
    sb__warn_version(c, spec, "spec", "v1alpha1 has no spec (destination, specs "
             "and sources are top-level); read anyway");

  dest = sb__get_map(c, holder, base, "destination", 1);
  t->dest.ns = c->ns;
  t->dest.ns_defaulted = 1;
  t->dest.kind = "ServiceAccount";
  t->dest.name = "";
  if (dest)
    subject(c, &t->dest, dest, sb__path(path, base, "destination"), 1);
  sources(c, t, holder, base);
  rules(c, t, holder, json, base);
  return &t->obj;
}
