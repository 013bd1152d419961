/* discovery.c -- what the cluster serves: SMI versions and mesh kinds.
 *
 * Why the plain discovery documents and not the aggregated one: GET /apis
 * (an APIGroupList) names every group and its versions, and one GET of
 * /apis/<group>/<version> (an APIResourceList) per version of the few
 * groups we care about gives kinds and plurals. That works on every
 * server version, needs nothing but sb_kube_raw_get, and the requests run
 * side by side on one HTTP/2 connection (about 25 small documents with
 * every SMI, Istio, Linkerd and Gateway API CRD installed). The aggregated
 * document (apidiscovery.k8s.io/v2) would be one request, but it needs
 * Accept-header negotiation the client does not do, a second parser for a
 * format only 1.26+ serves, and a fallback to this path anyway.
 *
 * A group document that answers 404 means the version went away between
 * the two requests (a CRD being deleted): it is simply not served. Any
 * other failure fails the whole discovery, because a half answer could
 * pick an older SMI version or the wrong mesh; the caller retries.
 *
 * The result keeps, besides the per-kind answers, the sorted list of every
 * "group/version/resource" seen in those groups, so sb_discovery_serves
 * can check any set of output kinds without knowing them in advance.
 */
#include "sb/discovery.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb/buf.h"
#include "sb/err.h"
#include "sb/log.h"

/* The groups whose resource lists we fetch. */
static const char *const groups[] = {
  "split.smi-spec.io", "specs.smi-spec.io", "spec.smi-spec.io",
  "access.smi-spec.io", "networking.istio.io", "security.istio.io",
  "policy.linkerd.io", "linkerd.io", "gateway.networking.k8s.io",
};

/* For each SMI kind, where to look, best first: the newest version the
 * model reads, and for the specs kinds the old alias group only when the
 * current one does not serve the kind at all. */
static const struct smi_kind {
  sb_kind kind;
  const char *k8s_kind;
  const char *groups[2];
  const char *versions[4];
} smi_kinds[] = {
  {SB_KIND_TRAFFIC_SPLIT, "TrafficSplit", {"split.smi-spec.io", NULL},
   {"v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"}},
  {SB_KIND_HTTP_ROUTE_GROUP, "HTTPRouteGroup",
   {"specs.smi-spec.io", "spec.smi-spec.io"},
   {"v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"}},
  {SB_KIND_TCP_ROUTE, "TCPRoute", {"specs.smi-spec.io", "spec.smi-spec.io"},
   {"v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"}},
  {SB_KIND_UDP_ROUTE, "UDPRoute", {"specs.smi-spec.io", "spec.smi-spec.io"},
   {"v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"}},
  {SB_KIND_TRAFFIC_TARGET, "TrafficTarget", {"access.smi-spec.io", NULL},
   {"v1alpha3", "v1alpha2", "v1alpha1", NULL}},
};

static const char *const linkerd_kinds[] = {
  "Server", "HTTPRoute", "AuthorizationPolicy", "MeshTLSAuthentication",
};

/* One resource a group document listed. */
typedef struct res {
  char *group, *version, *resource, *kind;
} res;

typedef struct disc {
  sb_kube *k;
  sb_discovery_cb cb;
  void *arg;
  unsigned pending;      /* group documents still to come */
  int err;               /* the first failure */
  char msg[512];
  res *v;
  size_t n, cap;
} disc;

/* ---- collecting -------------------------------------------------------- */

static void fail(disc *d, int err, const char *path, const char *msg) {
  if (d->err)
    return;
  d->err = err;
  snprintf(d->msg, sizeof(d->msg), "GET %s: %s", path,
           msg && *msg ? msg : sb_strerror(err));
}

static int add_res(disc *d, const char *g, const char *v, const char *r,
                   const char *kind) {
  res *x;

  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 64;
    res *nv = realloc(d->v, cap * sizeof(*nv));

    if (!nv)
      return SB_ENOMEM;
    d->v = nv;
    d->cap = cap;
  }
  x = &d->v[d->n];
  x->group = strdup(g);
  x->version = strdup(v);
  x->resource = strdup(r);
  x->kind = strdup(kind);
  if (!x->group || !x->version || !x->resource || !x->kind) {
    free(x->group);
    free(x->version);
    free(x->resource);
    free(x->kind);
    return SB_ENOMEM;
  }
  d->n++;
  return 0;
}

static void disc_free(disc *d) {
  size_t i;

  for (i = 0; i < d->n; i++) {
    free(d->v[i].group);
    free(d->v[i].version);
    free(d->v[i].resource);
    free(d->v[i].kind);
  }
  free(d->v);
  free(d);
}

static const res *find(const disc *d, const char *g, const char *v,
                       const char *kind) {
  size_t i;

  for (i = 0; i < d->n; i++)
    if (strcmp(d->v[i].group, g) == 0 && strcmp(d->v[i].version, v) == 0 &&
        strcmp(d->v[i].kind, kind) == 0)
      return &d->v[i];
  return NULL;
}

static int served_any(const disc *d, const char *g, const char *kind) {
  size_t i;

  for (i = 0; i < d->n; i++)
    if (strcmp(d->v[i].group, g) == 0 && strcmp(d->v[i].kind, kind) == 0)
      return 1;
  return 0;
}

/* ---- building the answer ----------------------------------------------- */

/* Strings go into one buffer first (as offsets: the buffer may move), and
 * become pointers once it is final. */
#define NO_STR SIZE_MAX

static size_t pack(sb_buf *b, const char *s, int *oom) {
  size_t off = b->len;

  if (!s)
    return NO_STR;
  if (sb_buf_add(b, s, strlen(s) + 1))
    *oom = 1;
  return off;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Fills out from per-kind answers and the served list (strings anywhere);
 * out owns copies of everything. */
static int build(sb_discovery *out, const char *const smi[][3],
                 const char *const *served, size_t nserved,
                 const sb_discovery *flags) {
  size_t off[SB_KIND__COUNT][3], *soff = NULL, i, j;
  int oom = 0;
  sb_buf b;

  memset(out, 0, sizeof(*out));
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  for (i = 0; i < SB_KIND__COUNT; i++)
    for (j = 0; j < 3; j++)
      off[i][j] = pack(&b, smi[i][j], &oom);
  if (nserved) {
    soff = malloc(nserved * sizeof(*soff));
    out->served = malloc(nserved * sizeof(*out->served));
    if (!soff || !out->served)
      oom = 1;
    for (i = 0; i < nserved && !oom; i++)
      soff[i] = pack(&b, served[i], &oom);
  }
  if (!oom && !b.len && sb_buf_addc(&b, '\0'))
    oom = 1;
  if (oom) {
    free(soff);
    free(out->served);
    out->served = NULL;
    sb_buf_free(&b);
    return SB_ENOMEM;
  }
  out->storage = sb_buf_steal(&b, NULL);
  sb_buf_free(&b);
  if (!out->storage) {
    free(soff);
    free(out->served);
    out->served = NULL;
    return SB_ENOMEM;
  }
  for (i = 0; i < SB_KIND__COUNT; i++) {
    out->smi[i].group = off[i][0] == NO_STR ? NULL : out->storage + off[i][0];
    out->smi[i].version =
        off[i][1] == NO_STR ? NULL : out->storage + off[i][1];
    out->smi[i].resource =
        off[i][2] == NO_STR ? NULL : out->storage + off[i][2];
  }
  for (i = 0; i < nserved; i++)
    out->served[i] = out->storage + soff[i];
  out->nserved = nserved;
  free(soff);
  if (nserved > 1)
    qsort(out->served, nserved, sizeof(*out->served), cmp_str);
  out->istio = flags->istio;
  out->istio_v1 = flags->istio_v1;
  out->linkerd = flags->linkerd;
  out->linkerd_profiles = flags->linkerd_profiles;
  out->gateway_api = flags->gateway_api;
  return 0;
}

static int has_res(const disc *d, const char *g, const char *v,
                   const char *resource) {
  size_t i;

  for (i = 0; i < d->n; i++)
    if (strcmp(d->v[i].group, g) == 0 && strcmp(d->v[i].version, v) == 0 &&
        strcmp(d->v[i].resource, resource) == 0)
      return 1;
  return 0;
}

static int answer(const disc *d, sb_discovery *out) {
  const char *smi[SB_KIND__COUNT][3];
  char **served = NULL;
  sb_discovery flags;
  size_t i, g, v;
  int rc = 0;

  memset(smi, 0, sizeof(smi));
  for (i = 0; i < SB_ARRAY_SIZE(smi_kinds); i++) {
    const struct smi_kind *sk = &smi_kinds[i];
    const res *hit = NULL;

    for (g = 0; g < 2 && sk->groups[g] && !hit; g++)
      for (v = 0; v < 4 && sk->versions[v] && !hit; v++)
        hit = find(d, sk->groups[g], sk->versions[v], sk->k8s_kind);
    if (hit) {
      smi[sk->kind][0] = hit->group;
      smi[sk->kind][1] = hit->version;
      smi[sk->kind][2] = hit->resource;
    }
  }
  memset(&flags, 0, sizeof(flags));
  flags.istio_v1 =
      has_res(d, "networking.istio.io", "v1", "virtualservices") &&
      has_res(d, "security.istio.io", "v1", "authorizationpolicies");
  flags.istio = flags.istio_v1 ||
      (has_res(d, "networking.istio.io", "v1beta1", "virtualservices") &&
       has_res(d, "security.istio.io", "v1beta1", "authorizationpolicies"));
  flags.linkerd = 1;
  for (i = 0; i < SB_ARRAY_SIZE(linkerd_kinds); i++)
    if (!served_any(d, "policy.linkerd.io", linkerd_kinds[i]))
      flags.linkerd = 0;
  flags.linkerd_profiles =
      has_res(d, "linkerd.io", "v1alpha2", "serviceprofiles");
  flags.gateway_api =
      has_res(d, "gateway.networking.k8s.io", "v1", "httproutes");
  if (d->n) {
    served = calloc(d->n, sizeof(*served));
    if (!served)
      return SB_ENOMEM;
    for (i = 0; i < d->n && !rc; i++) {
      sb_buf b;

      sb_buf_init(&b, SB_BUF_UNLIMITED);
      if (sb_buf_addf(&b, "%s/%s/%s", d->v[i].group, d->v[i].version,
                      d->v[i].resource))
        rc = SB_ENOMEM;
      else if (!(served[i] = sb_buf_steal(&b, NULL)))
        rc = SB_ENOMEM;
      sb_buf_free(&b);
    }
  }
  if (!rc)
    rc = build(out, smi, (const char *const *) served, d->n, &flags);
  for (i = 0; served && i < d->n; i++)
    free(served[i]);
  free(served);
  return rc;
}

static void finish(disc *d) {
  sb_discovery out;
  int rc;

  if (d->err) {
    d->cb(d->arg, d->err, d->msg, NULL);
    disc_free(d);
    return;
  }
  rc = answer(d, &out);
  if (rc) {
    d->cb(d->arg, rc, sb_strerror(rc), NULL);
  } else {
    sb_log(SB_LOG_DEBUG, "discovered", "resources=%zu istio=%d linkerd=%d "
           "gateway_api=%d", out.nserved, out.istio, out.linkerd,
           out.gateway_api);
    d->cb(d->arg, 0, NULL, &out);
    sb_discovery_free(&out);
  }
  disc_free(d);
}

/* ---- the requests ------------------------------------------------------ */

typedef struct gv_req {
  disc *d;
  char *group;
  char *version;
  char path[300];
} gv_req;

static void on_group(void *arg, sb_kube_result *r) {
  gv_req *q = arg;
  disc *d = q->d;
  const cJSON *list, *x;

  if (r->err == SB_ENOTFOUND) {
    sb_log(SB_LOG_DEBUG, "discovery: version went away", "path=%s",
           q->path);
  } else if (r->err) {
    fail(d, r->err, q->path, r->message);
  } else {
    list = cJSON_GetObjectItemCaseSensitive(r->body, "resources");
    if (!cJSON_IsArray(list))
      fail(d, SB_EPARSE, q->path, "not an APIResourceList");
    cJSON_ArrayForEach(x, list) {
      const cJSON *name = cJSON_GetObjectItemCaseSensitive(x, "name");
      const cJSON *kind = cJSON_GetObjectItemCaseSensitive(x, "kind");

      if (d->err)
        break;
      /* "trafficsplits/status" and the like are subresources. */
      if (!cJSON_IsString(name) || !cJSON_IsString(kind) ||
          strchr(name->valuestring, '/'))
        continue;
      if (add_res(d, q->group, q->version, name->valuestring,
                  kind->valuestring))
        fail(d, SB_ENOMEM, q->path, NULL);
    }
  }
  free(q->group);
  free(q->version);
  free(q);
  if (--d->pending == 0)
    finish(d);
}

static int interesting(const char *group) {
  size_t i;

  for (i = 0; i < SB_ARRAY_SIZE(groups); i++)
    if (strcmp(groups[i], group) == 0)
      return 1;
  return 0;
}

static void fetch_version(disc *d, const char *group, const char *version) {
  gv_req *q = calloc(1, sizeof(*q));
  int rc;

  if (!q) {
    fail(d, SB_ENOMEM, "/apis", NULL);
    return;
  }
  q->d = d;
  q->group = strdup(group);
  q->version = strdup(version);
  snprintf(q->path, sizeof(q->path), "/apis/%s/%s", group, version);
  rc = !q->group || !q->version ? SB_ENOMEM
       : sb_kube_raw_get(d->k, q->path, on_group, q, NULL);
  if (rc) {
    fail(d, rc, q->path, NULL);
    free(q->group);
    free(q->version);
    free(q);
    return;
  }
  d->pending++;
}

static void on_apis(void *arg, sb_kube_result *r) {
  disc *d = arg;
  const cJSON *list, *g, *vs, *v;

  if (r->err) {
    fail(d, r->err, "/apis", r->message);
    finish(d);
    return;
  }
  list = cJSON_GetObjectItemCaseSensitive(r->body, "groups");
  if (!cJSON_IsArray(list)) {
    fail(d, SB_EPARSE, "/apis", "not an APIGroupList");
    finish(d);
    return;
  }
  /* Held at one while the requests start, so that none of them can
   * finish the discovery before the last one is sent. */
  d->pending = 1;
  cJSON_ArrayForEach(g, list) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(g, "name");

    if (!cJSON_IsString(name) || !interesting(name->valuestring))
      continue;
    vs = cJSON_GetObjectItemCaseSensitive(g, "versions");
    cJSON_ArrayForEach(v, vs) {
      const cJSON *ver = cJSON_GetObjectItemCaseSensitive(v, "version");

      if (d->err)
        break;
      /* A version name becomes a path segment: refuse anything odd. */
      if (!cJSON_IsString(ver) || !*ver->valuestring ||
          strpbrk(ver->valuestring, "/?#%") ||
          strlen(ver->valuestring) > 64 ||
          strlen(name->valuestring) > 200)
        continue;
      fetch_version(d, name->valuestring, ver->valuestring);
    }
  }
  if (--d->pending == 0)
    finish(d);
}

int sb_discover(sb_kube *k, sb_discovery_cb cb, void *arg) {
  disc *d;
  int rc;

  if (!k || !cb)
    return SB_EINVAL;
  d = calloc(1, sizeof(*d));
  if (!d)
    return SB_ENOMEM;
  d->k = k;
  d->cb = cb;
  d->arg = arg;
  rc = sb_kube_raw_get(k, "/apis", on_apis, d, NULL);
  if (rc)
    disc_free(d);
  return rc;
}

/* ---- the result -------------------------------------------------------- */

int sb_discovery_copy(const sb_discovery *src, sb_discovery *dst) {
  const char *smi[SB_KIND__COUNT][3];
  size_t i;

  for (i = 0; i < SB_KIND__COUNT; i++) {
    smi[i][0] = src->smi[i].group;
    smi[i][1] = src->smi[i].version;
    smi[i][2] = src->smi[i].resource;
  }
  return build(dst, smi, (const char *const *) src->served, src->nserved,
               src);
}

void sb_discovery_free(sb_discovery *d) {
  free(d->storage);
  free(d->served);
  memset(d, 0, sizeof(*d));
}

int sb_discovery_mesh(const sb_discovery *d) {
  if (d->istio && d->linkerd)
    return -1;
  if (d->istio)
    return SB_MESH_ISTIO;
  if (d->linkerd)
    return SB_MESH_LINKERD;
  return 0;
}

int sb_discovery_served(const sb_discovery *d, const char *group,
                        const char *version, const char *resource) {
  char key[512];
  const char *p = key;

  if (!group || !*group)
    return 1;  /* the core group is always there */
  snprintf(key, sizeof(key), "%s/%s/%s", group, version, resource);
  return d->nserved &&
         bsearch(&p, d->served, d->nserved, sizeof(*d->served), cmp_str)
             != NULL;
}

int sb_discovery_serves(const sb_discovery *d, const sb_translate_opts *o,
                        const char **msg) {
  static _Thread_local char missing[256];
  const sb_gvk *kinds;
  size_t n, i;

  n = sb_translate_output_kinds(o, &kinds);
  for (i = 0; i < n; i++) {
    if (sb_discovery_served(d, kinds[i].group, kinds[i].version,
                            kinds[i].resource))
      continue;
    snprintf(missing, sizeof(missing), "%s/%s %s", kinds[i].group,
             kinds[i].version, kinds[i].kind);
    if (msg)
      *msg = missing;
    return 0;
  }
  if (msg)
    *msg = NULL;
  return 1;
}
