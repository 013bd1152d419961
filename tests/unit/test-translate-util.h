/* test-translate-util.h -- model objects built by hand for the world and
 * translation tests.
 *
 * The tests must not depend on the parser, so they allocate the public
 * model structs the way the parser does: the struct first in its own arena
 * (sb_obj_free then frees everything). Lists are given as small spec
 * strings ("a=1,b=2") to keep the test cases readable. Every helper aborts
 * the test (cmocka fail) on allocation failure.
 */
#ifndef SB_TEST_TRANSLATE_UTIL_H
#define SB_TEST_TRANSLATE_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb/arena.h"
#include "sb/buf.h"
#include "sb/emit.h"
#include "sb/model.h"
#include "sb/rfc3339.h"

/* Splits s at sep into at most max parts copied into the arena; returns
 * the count. "" gives 0 parts. */
static inline size_t tu_split(sb_arena *a, const char *s, char sep,
                              char **out, size_t max) {
  size_t n = 0;

  if (!s || !*s)
    return 0;
  while (n < max) {
    const char *e = strchr(s, sep);
    size_t len = e ? (size_t) (e - s) : strlen(s);
    out[n++] = sb_arena_strndup(a, s, len);
    assert_non_null(out[n - 1]);
    if (!e)
      break;
    s = e + 1;
  }
  return n;
}

/* The object's meta, writable: tu_obj gives every object its own. */
static inline sb_obj_meta *tu_m(const sb_obj *o) {
  return (sb_obj_meta *) (uintptr_t) o->meta;
}

static inline void *tu_obj(sb_kind kind, size_t size, const char *ns,
                    const char *name) {
  sb_arena *a = sb_arena_new(1024);
  sb_obj *o;
  sb_obj_meta *m;

  assert_non_null(a);
  o = sb_arena_alloc(a, size);
  assert_non_null(o);
  m = sb_arena_alloc(a, sizeof(*m));
  assert_non_null(m);
  o->meta = m;
  o->kind = kind;
  o->version = 1;
  o->arena = a;
  o->ns = sb_arena_strdup(a, ns);
  o->name = sb_arena_strdup(a, name);
  switch (kind) {
  case SB_KIND_TRAFFIC_SPLIT:
    m->api_version = "split.smi-spec.io/v1alpha4";
    o->version = 4;
    break;
  case SB_KIND_HTTP_ROUTE_GROUP:
  case SB_KIND_TCP_ROUTE:
  case SB_KIND_UDP_ROUTE:
    m->api_version = "specs.smi-spec.io/v1alpha4";
    o->version = 4;
    break;
  case SB_KIND_TRAFFIC_TARGET:
    m->api_version = "access.smi-spec.io/v1alpha3";
    o->version = 3;
    break;
  default:
    m->api_version = "v1";
    break;
  }
  return o;
}

static inline const char *tu_str(const sb_obj *o, const char *s) {
  return sb_arena_strdup(o->arena, s);
}

static inline void tu_meta(sb_obj *o, const char *uid,
                           const char *created) {
  sb_obj_meta_set_uid(tu_m(o), uid ? tu_str(o, uid) : NULL);
  tu_m(o)->has_created = created != NULL;
  if (created)
    assert_int_equal(sb_rfc3339_parse(created, &tu_m(o)->created), 0);
}

/* labels "k=v,k2=v2" */
static inline void tu_kvs(sb_obj *o, const char *spec, sb_kv **kv,
                          size_t *n) {
  char *parts[64];
  size_t i, c = tu_split(o->arena, spec, ',', parts, 64);

  *kv = sb_arena_alloc(o->arena, (c ? c : 1) * sizeof(sb_kv));
  assert_non_null(*kv);
  for (i = 0; i < c; i++) {
    char *eq = strchr(parts[i], '=');
    assert_non_null(eq);
    *eq = '\0';
    (*kv)[i].key = parts[i];
    (*kv)[i].value = eq + 1;
  }
  *n = c;
}

/* pod with labels "k=v,...", ports "80,8080" (TCP) */
static inline sb_pod *tu_pod(const char *ns, const char *name,
                             const char *sa, const char *phase,
                             const char *labels, const char *ports) {
  sb_pod *p = tu_obj(SB_KIND_POD, sizeof(*p), ns, name);
  sb_pod_shape *sh = sb_arena_alloc(p->obj.arena, sizeof(*sh));
  char *parts[32];
  size_t i, n;

  assert_non_null(sh);
  p->shape = sh;
  sh->service_account = tu_str(&p->obj, sa ? sa : "default");
  sh->phase = phase ? tu_str(&p->obj, phase) : NULL;
  tu_kvs(&p->obj, labels, &sh->labels, &n);
  sh->nlabels = (uint32_t) n;
  n = tu_split(p->obj.arena, ports, ',', parts, 32);
  sh->ports = sb_arena_alloc(p->obj.arena, (n ? n : 1) * sizeof(*sh->ports));
  assert_non_null(sh->ports);
  for (i = 0; i < n; i++) {
    sh->ports[i].protocol = "TCP";
    sh->ports[i].port = (int32_t) strtol(parts[i], NULL, 10);
  }
  sh->nports = (uint32_t) n;
  return p;
}

/* Service with ports "80,443" (TCP; target = port) or "53/UDP" */
static inline sb_service *tu_svc(const char *ns, const char *name,
                          const char *ports) {
  sb_service *s = tu_obj(SB_KIND_SERVICE, sizeof(*s), ns, name);
  char *parts[32];
  size_t i, n = tu_split(s->obj.arena, ports, ',', parts, 32);

  s->type = "ClusterIP";
  s->ports = sb_arena_alloc(s->obj.arena, (n ? n : 1) * sizeof(*s->ports));
  assert_non_null(s->ports);
  for (i = 0; i < n; i++) {
    char *slash = strchr(parts[i], '/');
    s->ports[i].protocol = "TCP";
    if (slash) {
      *slash = '\0';
      s->ports[i].protocol = slash + 1;
    }
    s->ports[i].port = (int32_t) strtol(parts[i], NULL, 10);
    s->ports[i].target_port = s->ports[i].port;
  }
  s->nports = n;
  return s;
}

/* backends "web-v1=1000,web-v2=500" (milli); matches "g1,g2" (HTTPRoute-
 * Group names) or "TCPRoute:t" */
static inline sb_traffic_split *tu_split_obj(const char *ns,
                                             const char *name,
                                             const char *root,
                                             const char *backends,
                                             const char *matches) {
  sb_traffic_split *ts = tu_obj(SB_KIND_TRAFFIC_SPLIT, sizeof(*ts), ns,
                                name);
  char *parts[32];
  size_t i, n;

  ts->service = tu_str(&ts->obj, root);
  ts->root = ts->service;
  n = tu_split(ts->obj.arena, backends, ',', parts, 32);
  ts->backends = sb_arena_alloc(ts->obj.arena,
                                (n ? n : 1) * sizeof(*ts->backends));
  assert_non_null(ts->backends);
  for (i = 0; i < n; i++) {
    char *eq = strchr(parts[i], '=');
    assert_non_null(eq);
    *eq = '\0';
    ts->backends[i].service = parts[i];
    ts->backends[i].weight_milli = strtoll(eq + 1, NULL, 10);
  }
  ts->nbackends = n;
  n = tu_split(ts->obj.arena, matches, ',', parts, 32);
  ts->matches = sb_arena_alloc(ts->obj.arena,
                               (n ? n : 1) * sizeof(*ts->matches));
  assert_non_null(ts->matches);
  for (i = 0; i < n; i++) {
    char *colon = strchr(parts[i], ':');
    if (colon) {
      *colon = '\0';
      ts->matches[i].kind = parts[i];
      ts->matches[i].name = colon + 1;
    } else {
      ts->matches[i].kind = "HTTPRouteGroup";
      ts->matches[i].name = parts[i];
    }
  }
  ts->nmatches = n;
  return ts;
}

#define TU_MAX_MATCHES 200

static inline sb_http_route_group *tu_hrg(const char *ns,
                                          const char *name) {
  sb_http_route_group *g = tu_obj(SB_KIND_HTTP_ROUTE_GROUP, sizeof(*g), ns,
                                  name);
  g->matches = sb_arena_alloc(g->obj.arena,
                              TU_MAX_MATCHES * sizeof(*g->matches));
  assert_non_null(g->matches);
  return g;
}

/* path NULL = absent; methods "GET,POST"; headers "k=v" ('=' splits once;
 * a value may not contain ','). */
static inline sb_http_match *tu_hrg_match(sb_http_route_group *g,
                                          const char *name,
                                          const char *path,
                                          const char *methods,
                                          const char *headers) {
  sb_http_match *m;
  char *parts[16];
  size_t i, n;

  assert_true(g->nmatches < TU_MAX_MATCHES);
  m = &g->matches[g->nmatches++];
  m->name = tu_str(&g->obj, name);
  m->path_regex = path ? tu_str(&g->obj, path) : NULL;
  n = tu_split(g->obj.arena, methods, ',', parts, 16);
  m->methods = sb_arena_alloc(g->obj.arena, (n ? n : 1) * sizeof(char *));
  assert_non_null(m->methods);
  for (i = 0; i < n; i++)
    m->methods[i] = parts[i];
  m->nmethods = n;
  tu_kvs(&g->obj, headers, &m->headers, &m->nheaders);
  return m;
}

/* TCPRoute / UDPRoute with ports "80,443" ("" = every port) */
static inline sb_port_route *tu_ports_route(sb_kind kind, const char *ns,
                                            const char *name,
                                            const char *ports) {
  sb_port_route *r = tu_obj(kind, sizeof(*r), ns, name);
  char *parts[32];
  size_t i, n = tu_split(r->obj.arena, ports, ',', parts, 32);

  r->ports = sb_arena_alloc(r->obj.arena, (n ? n : 1) * sizeof(int32_t));
  assert_non_null(r->ports);
  for (i = 0; i < n; i++)
    r->ports[i] = (int32_t) strtol(parts[i], NULL, 10);
  r->nports = n;
  return r;
}

/* sources "ns/sa,ns2/sa2"; rules "HTTPRouteGroup:g:m1|m2;TCPRoute:t"
 * (match names optional) */
static inline sb_traffic_target *tu_target(const char *ns,
                                           const char *name,
                                           const char *dest_sa,
                                           const char *sources,
                                           const char *rules) {
  sb_traffic_target *tt = tu_obj(SB_KIND_TRAFFIC_TARGET, sizeof(*tt), ns,
                                 name);
  char *parts[32], *f[3] = {NULL, NULL, NULL}, *ms[32];
  size_t i, j, n;

  tt->dest.kind = "ServiceAccount";
  tt->dest.name = tu_str(&tt->obj, dest_sa);
  tt->dest.ns = tt->obj.ns;
  n = tu_split(tt->obj.arena, sources, ',', parts, 32);
  tt->sources = sb_arena_alloc(tt->obj.arena,
                               (n ? n : 1) * sizeof(*tt->sources));
  assert_non_null(tt->sources);
  for (i = 0; i < n; i++) {
    char *slash = strchr(parts[i], '/');
    assert_non_null(slash);
    *slash = '\0';
    tt->sources[i].kind = "ServiceAccount";
    tt->sources[i].ns = parts[i];
    tt->sources[i].name = slash + 1;
  }
  tt->nsources = n;
  n = tu_split(tt->obj.arena, rules, ';', parts, 32);
  tt->rules = sb_arena_alloc(tt->obj.arena, (n ? n : 1) * sizeof(*tt->rules));
  assert_non_null(tt->rules);
  for (i = 0; i < n; i++) {
    size_t nf = tu_split(tt->obj.arena, parts[i], ':', f, 3), nm;
    assert_true(nf >= 2);
    tt->rules[i].kind = f[0];
    tt->rules[i].name = f[1];
    nm = nf == 3 ? tu_split(tt->obj.arena, f[2], '|', ms, 32) : 0;
    tt->rules[i].matches = sb_arena_alloc(tt->obj.arena,
                                          (nm ? nm : 1) * sizeof(char *));
    assert_non_null(tt->rules[i].matches);
    for (j = 0; j < nm; j++)
      tt->rules[i].matches[j] = ms[j];
    tt->rules[i].nmatches = nm;
  }
  tt->nrules = n;
  return tt;
}

/* ---- running translations ---------------------------------------------- */

#ifdef SB_TRANSLATE_H
/* Checks the hash annotation every generated object carries -- present,
 * last of its annotations, equal to sb_emit_hash of the object without it
 * -- then removes it (and the annotations map when that leaves it empty),
 * so expectations spell out the translation itself. */
static inline void tu_unstamp(cJSON *obj) {
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
  cJSON *ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
  cJSON *h = cJSON_GetObjectItemCaseSensitive(ann, SB_ANNOTATION_HASH);
  char want[17], got[17];

  assert_true(cJSON_IsString(h));
  assert_null(h->next);
  snprintf(got, sizeof(got), "%s", h->valuestring);
  cJSON_DeleteItemFromObjectCaseSensitive(ann, SB_ANNOTATION_HASH);
  snprintf(want, sizeof(want), "%016llx",
           (unsigned long long) sb_emit_hash(obj));
  assert_string_equal(got, want);
  if (!ann->child)
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "annotations");
}

/* Translates one key into out (initialised here); returns every object as
 * compact JSON, one per line (free it), each checked and without its hash
 * annotation (tu_unstamp). */
static inline char *tu_run(const sb_world *w, sb_kind kind, const char *ns,
                           const char *name, const sb_translate_opts *o,
                           sb_out *out) {
  sb_key key;
  sb_buf b;
  size_t i;

  key.kind = kind;
  key.ns = ns;
  key.name = name;
  sb_out_init(out);
  assert_int_equal(sb_translate(w, &key, o, out), 0);
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  for (i = 0; i < out->nobjs; i++) {
    char *s;

    tu_unstamp(out->objs[i]);
    s = cJSON_PrintUnformatted(out->objs[i]);
    assert_non_null(s);
    if (i)
      sb_buf_addc(&b, '\n');
    sb_buf_adds(&b, s);
    free(s);
  }
  return sb_buf_steal(&b, NULL);
}

/* Diagnostics as "E|W Reason path: msg" lines. */
static inline char *tu_diags(const sb_out *out) {
  sb_buf b;
  size_t i;

  sb_buf_init(&b, SB_BUF_UNLIMITED);
  for (i = 0; i < out->diags.n; i++) {
    const sb_diag *d = &out->diags.v[i];
    sb_buf_addf(&b, "%s%s %s %s: %s", i ? "\n" : "",
                d->sev == SB_DIAG_ERROR ? "E" : "W", d->reason,
                d->path ? d->path : "-", d->msg);
  }
  return sb_buf_steal(&b, NULL);
}

/* Dependencies as "sel:Kind:ns/name" joined by spaces. */
static inline char *tu_deps(const sb_out *out) {
  static const char *const sel[] = {"obj", "pods-of-sa", "pods-in-ns",
                                    "splits-of-root", "targets-of-sa"};
  sb_buf b;
  size_t i;

  sb_buf_init(&b, SB_BUF_UNLIMITED);
  for (i = 0; i < out->ndeps; i++)
    sb_buf_addf(&b, "%s%s:%s:%s/%s", i ? " " : "", sel[out->deps[i].sel],
                sb_kind_name(out->deps[i].kind), out->deps[i].ns,
                out->deps[i].name);
  return sb_buf_steal(&b, NULL);
}

/* Asserts a string result and frees it. */
#define TU_EQ(expr, want)                                                    \
  do {                                                                       \
    char *got_ = (expr);                                                     \
    if (strcmp(got_, (want)) != 0)                                           \
      fail_msg("got:\n%s\nwant:\n%s", got_, (want));                         \
    free(got_);                                                              \
  } while (0)
#endif

#endif
