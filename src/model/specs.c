/* specs.c -- HTTPRouteGroup, TCPRoute and UDPRoute (specs.smi-spec.io and
 * its historical alias spec.smi-spec.io), v1alpha1..v1alpha4.
 *
 * Where the versions and the real world disagree we read both:
 * HTTPRouteGroup `matches` sits at the top level in v1alpha1/2 and under
 * `spec` from v1alpha3 (either place is read in any version, with a
 * warning when it is not the version's own); `headers` is a list of maps
 * in every CRD but a plain map in the Go types and the spec text (both are
 * read, order kept). Regexes are checked for the syntax every target mesh
 * shares (regex.c), so a bad one is reported here, with its path, rather
 * than by a webhook at apply time.
 */
#include "parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const http_methods[] = {
  "*", "GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS",
  "TRACE", "PATCH",
};

static void check_regex(sb__pctx *c, const cJSON *node, const char *path,
                        const char *re) {
  char why[160], q[SB__QUOTE_MAX];

  if (sb__regex_check(re, why, sizeof(why)))
    sb__err(c, node, path, "is not a valid regex: %s (got %s)", why,
            sb__quote(q, re));
}

static void methods(sb__pctx *c, sb_http_match *m, const cJSON *match,
                    const char *base) {
  const cJSON *list, *e;
  char path[SB__PATH_MAX], lpath[SB__PATH_MAX], q[SB__QUOTE_MAX];
  const char *want = NULL;
  size_t n, i = 0, j;

  list = sb__get_list(c, match, base, "methods", 0);
  if (!list)
    return;
  n = (size_t) cJSON_GetArraySize(list);
  m->methods = sb__array(c, n, sizeof(*m->methods));
  if (n && !m->methods)
    return;
  cJSON_ArrayForEach(e, list) {
    sb__pathi(path, sb__path(lpath, base, "methods"), i++);
    if (!cJSON_IsString(e)) {
      sb__err(c, e, path, "must be a string (got %s)", sb__type(e));
      continue;
    }
    for (j = 0; j < SB_ARRAY_SIZE(http_methods); j++) {
      want = http_methods[j];
      if (strcasecmp(e->valuestring, want) == 0)
        break;
    }
    if (j == SB_ARRAY_SIZE(http_methods)) {
      sb__err(c, e, path, "%s is not an HTTP method (use *, GET, HEAD, PUT, "
              "POST, DELETE, CONNECT, OPTIONS, TRACE or PATCH)",
              sb__quote(q, e->valuestring));
      continue;
    }
    if (strcmp(e->valuestring, want) != 0)
      sb__warn(c, e, path, "%s should be upper case; read as %s",
               sb__quote(q, e->valuestring), want);
    for (j = 0; j < m->nmethods; j++)
      if (m->methods[j] == want)
        break;
    if (j < m->nmethods) {
      sb__warn(c, e, path, "%s is listed twice; the repeat is ignored",
               want);
      continue;
    }
    m->methods[m->nmethods++] = want;  /* static: costs no copy */
  }
}

/* RFC 9110 token characters. */
static int is_header_name(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++) {
    unsigned char ch = (unsigned char) *s;

    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch)))
      return 0;
  }
  return 1;
}

static void header(sb__pctx *c, sb_http_match *m, const cJSON *e,
                   const char *base) {
  char path[SB__PATH_MAX], q[SB__QUOTE_MAX];
  size_t j;

  sb__pathk(path, base, e->string);
  if (!is_header_name(e->string)) {
    sb__err(c, e, path, "%s is not an HTTP header name",
            sb__quote(q, e->string));
    return;
  }
  if (!cJSON_IsString(e)) {
    sb__err(c, e, path, "must be a string, a regex for the header's value "
            "(got %s)%s", sb__type(e),
            cJSON_IsNumber(e) || cJSON_IsBool(e) ? "; quote it" : "");
    return;
  }
  check_regex(c, e, path, e->valuestring);
  /* Header names are case-insensitive; a second condition on the same
   * header cannot be expressed by any mesh's header match. */
  for (j = 0; j < m->nheaders; j++) {
    if (strcasecmp(m->headers[j].key, e->string) == 0) {
      sb__err(c, e, path, "header %s is given twice in one match",
              sb__quote(q, e->string));
      return;
    }
  }
  m->headers[m->nheaders].key = sb__str(c, e->string);
  m->headers[m->nheaders].value = sb__str(c, e->valuestring);
  m->nheaders++;
}

static void headers(sb__pctx *c, sb_http_match *m, const cJSON *match,
                    const char *base) {
  const cJSON *h = sb__get(match, "headers"), *e, *kv;
  char path[SB__PATH_MAX], p2[SB__PATH_MAX];
  size_t n = 0, i = 0;

  if (!h)
    return;
  sb__path(path, base, "headers");
  if (c->version < 2)
    sb__warn_version(c, h, path, "headers is a v1alpha2 field; honoured in v1alpha1 "
             "too");
  if (cJSON_IsObject(h)) {
    cJSON_ArrayForEach(e, h)
      n++;
  } else if (cJSON_IsArray(h)) {
    cJSON_ArrayForEach(e, h)
      if (cJSON_IsObject(e))
        cJSON_ArrayForEach(kv, e)
          n++;
  } else {
    sb__err(c, h, path, "must be a map of header name to regex or a list of "
            "such maps (got %s)", sb__type(h));
    return;
  }
  if (!sb__len_ok(c, h, path, n))
    return;
  m->headers = sb__array(c, n, sizeof(*m->headers));
  if (n && !m->headers)
    return;
  if (cJSON_IsObject(h)) {
    cJSON_ArrayForEach(e, h)
      header(c, m, e, path);
    return;
  }
  cJSON_ArrayForEach(e, h) {
    sb__pathi(p2, path, i++);
    if (!cJSON_IsObject(e)) {
      sb__err(c, e, p2, "must be a map of header name to regex (got %s)",
              sb__type(e));
      continue;
    }
    cJSON_ArrayForEach(kv, e)
      header(c, m, kv, p2);
  }
}

static void http_match(sb__pctx *c, sb_http_route_group *g, size_t idx,
                       const cJSON *e, const char *path) {
  sb_http_match *m = &g->matches[idx];
  char p2[SB__PATH_MAX], q[SB__QUOTE_MAX];
  const char *name, *re;
  size_t j;

  if (!cJSON_IsObject(e)) {
    sb__err(c, e, path, "must be a map with a name (got %s)", sb__type(e));
    return;
  }
  if (c->doc)
    m->line = sb_doc_line(c->doc, e);
  name = sb__get_str(c, e, path, "name", 1);
  if (name && !*name) {
    sb__err(c, sb__get(e, "name"), sb__path(p2, path, "name"),
            "must not be empty");
  } else if (name) {
    for (j = 0; j < idx; j++) {
      if (g->matches[j].name && strcmp(g->matches[j].name, name) == 0) {
        sb__err(c, sb__get(e, "name"), sb__path(p2, path, "name"),
                "%s is used by another match too; names must be unique",
                sb__quote(q, name));
        break;
      }
    }
    m->name = sb__str(c, name);
  }
  re = sb__get_str(c, e, path, "pathRegex", 0);
  if (re)
    check_regex(c, sb__get(e, "pathRegex"), sb__path(p2, path, "pathRegex"),
                re);
  m->path_regex = sb__str(c, re);
  methods(c, m, e, path);
  headers(c, m, e, path);
}

sb_obj *sb__parse_route_group(sb__pctx *c, const cJSON *json) {
  sb_http_route_group *g;
  const cJSON *spec, *top, *in_spec, *list, *e;
  const char *base;
  char path[SB__PATH_MAX];
  size_t n, i = 0;
  int old = c->version <= 2;  /* v1alpha1/2: no spec */

  g = (sb_http_route_group *) sb__obj_new(c, json, sizeof(*g));
  if (!g)
    return NULL;
  spec = sb__get_map(c, json, "", "spec", 0);
  /* The unreleased v1alpha5 draft renamed matches to routes: reading
   * nothing would silently turn the group into one that matches nothing. */
  if (sb__get(spec, "routes"))
    sb__err(c, sb__get(spec, "routes"), "spec.routes", "is not read; "
            "HTTPRouteGroup matches belong in spec.matches");
  top = sb__get(json, "matches");
  in_spec = sb__get(spec, "matches");
  if (top && in_spec) {
    sb__err(c, top, "matches", "is given both at the top level and under "
            "spec; write it once (%s)", old ? "at the top level in v1alpha1 "
            "and v1alpha2" : "under spec from v1alpha3");
    return &g->obj;
  }
  list = top ? top : in_spec;
  base = top ? "matches" : "spec.matches";
  if (!list) {
    sb__warn(c, spec ? spec : json, old ? "matches" : "spec.matches",
             "is missing: this group matches no request");
    return &g->obj;
  }
  if (top && !old)
    sb__warn_version(c, top, base, "belongs under spec in v1alpha%d; read anyway",
             c->version);
  else if (!top && old)
    sb__warn_version(c, in_spec, base, "belongs at the top level (no spec) in "
             "v1alpha%d; read anyway", c->version);
  if (!cJSON_IsArray(list)) {
    sb__err(c, list, base, "must be a list of matches (got %s)",
            sb__type(list));
    return &g->obj;
  }
  n = (size_t) cJSON_GetArraySize(list);
  if (n == 0)
    sb__warn(c, list, base, "is empty: this group matches no request");
  if (!sb__len_ok(c, list, base, n))
    return &g->obj;
  g->matches = sb__array(c, n, sizeof(*g->matches));
  if (n && !g->matches)
    return NULL;
  cJSON_ArrayForEach(e, list) {
    sb__pathi(path, base, i);
    http_match(c, g, i++, e, path);
  }
  g->nmatches = n;
  return &g->obj;
}

/* TCPRoute and UDPRoute: v1alpha4 `spec.matches.ports`; a v1alpha1..3
 * TCPRoute is a name only and means every port. */
sb_obj *sb__parse_port_route(sb__pctx *c, const cJSON *json) {
  sb_port_route *r;
  const cJSON *spec, *m, *list, *e;
  char path[SB__PATH_MAX];
  size_t n, i = 0, j;
  int32_t port;

  r = (sb_port_route *) sb__obj_new(c, json, sizeof(*r));
  if (!r)
    return NULL;
  if (c->kind == SB_KIND_UDP_ROUTE && c->version < 4)
    sb__warn_version(c, sb__get(json, "apiVersion"), "apiVersion", "UDPRoute exists "
             "only in v1alpha4; read as v1alpha4");
  spec = sb__get_map(c, json, "", "spec", 0);
  /* The unreleased v1alpha5 draft moved ports to spec.ports: ignoring
   * them would open every port, so say where they belong. */
  if (sb__get(spec, "ports"))
    sb__err(c, sb__get(spec, "ports"), "spec.ports", "is not read; ports "
            "belong in spec.matches.ports");
  m = sb__get_map(c, spec, "spec", "matches", 0);
  list = sb__get_list(c, m, "spec.matches", "ports", 0);
  if (!list)
    return &r->obj;
  n = (size_t) cJSON_GetArraySize(list);
  if (n && c->version < 4)
    sb__warn_version(c, list, "spec.matches.ports", "ports is a v1alpha4 field; "
             "honoured in v1alpha%d too", c->version);
  if (!sb__len_ok(c, list, "spec.matches.ports", n))
    return &r->obj;
  r->ports = sb__array(c, n, sizeof(*r->ports));
  if (n && !r->ports)
    return NULL;
  cJSON_ArrayForEach(e, list) {
    sb__pathi(path, "spec.matches.ports", i++);
    port = sb__port(c, e, path);
    if (!port)
      continue;
    for (j = 0; j < r->nports; j++)
      if (r->ports[j] == port)
        break;
    if (j < r->nports) {
      sb__warn(c, e, path, "port %d is listed twice; the repeat is ignored",
               (int) port);
      continue;
    }
    r->ports[r->nports++] = port;
  }
  return &r->obj;
}
