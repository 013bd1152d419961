/* translate.c -- dispatch, reconcile keys, results and object metadata.
 *
 * sb_translate is the one place that decides what should exist for a key:
 * it looks the key's object up, picks the mesh backend (a vtable per mesh,
 * as curl's vtls picks a TLS library) and lets it fill the result. The
 * parts every backend shares live here: the result list, dependencies,
 * diagnostics pointed at the source object, the metadata every generated
 * object carries (labels, ownerReferences) and the TrafficSplit checks
 * that do not depend on the mesh (conflicts, weights, route groups).
 *
 * Keys inside each generated object are built in one fixed order --
 * apiVersion, kind, metadata{name, namespace, labels, ownerReferences},
 * spec -- and objects are pushed in a documented order, so the same world
 * always gives the same bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sb/emit.h"
#include "sb/err.h"
#include "sb/hmap.h"

void sb_translate_opts_default(sb_translate_opts *o) {
  memset(o, 0, sizeof(*o));
  o->mesh = SB_MESH_ISTIO;
  o->routes = SB_ROUTES_NATIVE;
  o->istio_api = SB_ISTIO_API_V1;
  o->cluster_domain = "cluster.local";
  o->trust_domain = "cluster.local";
  o->linkerd_service_profile = 0;
}

/* ---- results ------------------------------------------------------------ */

void sb_out_init(sb_out *out) {
  memset(out, 0, sizeof(*out));
  sb_diags_init(&out->diags);
}

void sb_out_free(sb_out *out) {
  size_t i;

  for (i = 0; i < out->nobjs; i++)
    cJSON_Delete(out->objs[i]);
  free(out->objs);
  for (i = 0; i < out->ndeps; i++)
    free(out->deps[i].ns);  /* name shares its block (sb__dep) */
  free(out->deps);
  sb_diags_free(&out->diags);
  sb_out_init(out);
}

cJSON *sb_out_take(sb_out *out, size_t i) {
  cJSON *o;

  if (i >= out->nobjs)
    return NULL;
  o = out->objs[i];
  out->objs[i] = NULL;
  return o;
}

void sb__push(sb__tx *t, cJSON *obj) {
  sb_out *out = t->out;

  if (!obj || t->oom) {
    cJSON_Delete(obj);
    t->oom = 1;
    return;
  }
  if (out->nobjs == out->objs_cap) {
    size_t cap = out->objs_cap ? out->objs_cap * 2 : 4;
    cJSON **v = realloc(out->objs, cap * sizeof(*v));
    if (!v) {
      cJSON_Delete(obj);
      t->oom = 1;
      return;
    }
    out->objs = v;
    out->objs_cap = cap;
  }
  out->objs[out->nobjs++] = obj;
}

void sb__diag(sb__tx *t, sb_diag_sev sev, const char *reason,
              const char *path, const char *fmt, ...) {
  char small[1024];
  sb_buf msg;
  va_list ap;
  int n, rc = 0;

  /* One formatting pass into the stack when the message fits (nearly
   * always); sb_buf_vaddf would measure first and format again. Linkerd
   * warns once per TrafficTarget with per-route access. */
  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t) n < sizeof(small)) {
    if (sb_diags_add(&t->out->diags, sev, reason, &t->loc, path, "%s",
                     small))
      t->oom = 1;
    return;
  }
  sb_buf_init(&msg, 64 * 1024);
  va_start(ap, fmt);
  rc = sb_buf_vaddf(&msg, fmt, ap);
  va_end(ap);
  if (rc == SB_ENOMEM ||
      sb_diags_add(&t->out->diags, sev, reason, &t->loc, path, "%s",
                   sb_buf_cstr(&msg)))
    t->oom = 1;
  sb_buf_free(&msg);
}

static void put(char *buf, size_t size, size_t *o, const char *s,
                size_t n) {
  if (n > size - 1 - *o)
    n = size - 1 - *o;
  memcpy(buf + *o, s, n);
  *o += n;
}

const char *sb__epath(char *buf, size_t size, const char *prefix, size_t i,
                      const char *suffix) {
  char digits[24];
  size_t n = sizeof(digits), o = 0;

  if (!size)
    return buf;
  do {
    digits[--n] = (char) ('0' + i % 10);
    i /= 10;
  } while (i);
  put(buf, size, &o, prefix, strlen(prefix));
  put(buf, size, &o, "[", 1);
  put(buf, size, &o, digits + n, sizeof(digits) - n);
  put(buf, size, &o, "]", 1);
  put(buf, size, &o, suffix, strlen(suffix));
  buf[o] = '\0';
  return buf;
}

int sb__cmp_int32(const void *a, const void *b) {
  int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;
  return (x > y) - (x < y);
}

static int str_eq(const char *a, const char *b) {
  return strcmp(a ? a : "", b ? b : "") == 0;
}

void sb__dep(sb__tx *t, sb_dep_sel sel, sb_kind kind, const char *ns,
             const char *name) {
  sb_out *out = t->out;
  sb_dep *d;
  size_t i, a, b;

  if (sel != SB_DEP_OBJECT)
    kind = sel == SB_DEP_SPLITS_OF_ROOT ? SB_KIND_TRAFFIC_SPLIT
           : sel == SB_DEP_TARGETS_OF_SA ? SB_KIND_TRAFFIC_TARGET
                                         : SB_KIND_POD;
  for (i = 0; i < out->ndeps; i++) {
    d = &out->deps[i];
    if (d->sel == sel && d->kind == kind && str_eq(d->ns, ns) &&
        str_eq(d->name, name))
      return;
  }
  if (out->ndeps == out->deps_cap) {
    size_t cap = out->deps_cap ? out->deps_cap * 2 : 8;
    sb_dep *v = realloc(out->deps, cap * sizeof(*v));
    if (!v) {
      t->oom = 1;
      return;
    }
    out->deps = v;
    out->deps_cap = cap;
  }
  /* ns and name in one block ("ns\0name\0"): a Linkerd key reads a
   * dozen objects and pod sets, so one malloc per dependency instead of
   * two adds up. sb_out_free frees ns only. */
  if (!ns)
    ns = "";
  if (!name)
    name = "";
  a = strlen(ns) + 1;
  b = strlen(name) + 1;
  d = &out->deps[out->ndeps];
  d->sel = sel;
  d->kind = kind;
  d->ns = malloc(a + b);
  if (!d->ns) {
    t->oom = 1;
    return;
  }
  memcpy(d->ns, ns, a);
  d->name = d->ns + a;
  memcpy(d->name, name, b);
  out->ndeps++;
}

const sb_obj *sb__tx_get(sb__tx *t, sb_kind kind, const char *ns,
                      const char *name) {
  sb__dep(t, SB_DEP_OBJECT, kind, ns, name);
  return name ? sb_world_get(t->w, kind, ns, name) : NULL;
}

/* ---- JSON --------------------------------------------------------------- */

static cJSON *jadd(sb__tx *t, cJSON *parent, const char *key, cJSON *node,
                   int copy) {
  int ok;

  if (!parent || !node) {
    cJSON_Delete(node);
    t->oom = 1;
    return NULL;
  }
  ok = !key ? cJSON_AddItemToArray(parent, node)
       : copy ? cJSON_AddItemToObject(parent, key, node)
              : cJSON_AddItemToObjectCS(parent, key, node);
  if (!ok) {
    cJSON_Delete(node);
    t->oom = 1;
    return NULL;
  }
  return node;
}

cJSON *sb__jadd(sb__tx *t, cJSON *parent, const char *key, cJSON *node) {
  return jadd(t, parent, key, node, 0);
}

cJSON *sb__jobj_dup(sb__tx *t, cJSON *parent, const char *key) {
  return jadd(t, parent, key, cJSON_CreateObject(), 1);
}

cJSON *sb__jstr_dup(sb__tx *t, cJSON *parent, const char *key,
                    const char *v) {
  return jadd(t, parent, key, cJSON_CreateString(v ? v : ""), 1);
}

cJSON *sb__jobj(sb__tx *t, cJSON *parent, const char *key) {
  return sb__jadd(t, parent, key, cJSON_CreateObject());
}

cJSON *sb__jarr(sb__tx *t, cJSON *parent, const char *key) {
  return sb__jadd(t, parent, key, cJSON_CreateArray());
}

cJSON *sb__jstr(sb__tx *t, cJSON *parent, const char *key, const char *v) {
  return sb__jadd(t, parent, key, cJSON_CreateString(v ? v : ""));
}

cJSON *sb__jint(sb__tx *t, cJSON *parent, const char *key, int64_t v) {
  return sb__jadd(t, parent, key, cJSON_CreateNumber((double) v));
}

cJSON *sb__jbool(sb__tx *t, cJSON *parent, const char *key, int v) {
  return sb__jadd(t, parent, key, cJSON_CreateBool(v));
}

int sb__jadd_unique(sb__tx *t, cJSON *arr, cJSON *item) {
  const cJSON *e;

  if (!arr || !item) {
    cJSON_Delete(item);
    t->oom = 1;
    return 0;
  }
  cJSON_ArrayForEach(e, arr) {
    if (cJSON_Compare(e, item, 1)) {
      cJSON_Delete(item);
      return 0;
    }
  }
  return sb__jadd(t, arr, NULL, item) != NULL;
}

static int owner_cmp(const void *a, const void *b) {
  const sb_obj *x = *(const sb_obj *const *) a;
  const sb_obj *y = *(const sb_obj *const *) b;
  char bx[SB_UID_BUF], by[SB_UID_BUF];
  int c = strcmp(x->name, y->name);

  return c ? c : strcmp(sb_obj_uid(x, bx), sb_obj_uid(y, by));
}

cJSON *sb__object(sb__tx *t, const char *api_version, const char *kind,
                  const char *name, const char *ns,
                  const sb_obj *const *owners, size_t nowners,
                  int controller) {
  cJSON *o = cJSON_CreateObject(), *meta, *labels, *annotations,
        *refs = NULL;
  const sb_obj **sorted = NULL;
  char value[64];
  size_t i, nuid = 0;

  if (!o) {
    t->oom = 1;
    return NULL;
  }
  sb__jstr(t, o, "apiVersion", api_version);
  sb__jstr(t, o, "kind", kind);
  meta = sb__jobj(t, o, "metadata");
  sb__jstr(t, meta, "name", name);
  sb__jstr(t, meta, "namespace", ns);
  labels = sb__jobj(t, meta, "labels");
  sb__jstr(t, labels, SB_LABEL_MANAGED_BY, SB_MANAGER);
  sb__jstr(t, labels, SB_LABEL_SOURCE_KIND, sb_kind_name(t->key->kind));
  if (sb_label_value(t->key->name, value)) {
    t->oom = 1;
  } else {
    sb__jstr(t, labels, SB_LABEL_SOURCE_NAME, value);
  }
  /* Annotations come after the labels; stamp_hash adds the last one. */
  annotations = sb__jobj(t, meta, "annotations");
  /* A hashed label cannot be read back: the full name goes into an
   * annotation (no length limit) so the controller can always find the
   * source of what it generated. */
  if (!t->oom && strcmp(value, t->key->name) != 0)
    sb__jstr(t, annotations, SB_LABEL_SOURCE_NAME, t->key->name);

  for (i = 0; i < nowners; i++)
    nuid += owners[i]->meta->uid_form != SB_UID_NONE;
  if (nuid) {
    sorted = malloc(nuid * sizeof(*sorted));
    if (!sorted) {
      t->oom = 1;
      return o;
    }
    for (i = 0, nuid = 0; i < nowners; i++)
      if (owners[i]->meta->uid_form != SB_UID_NONE)
        sorted[nuid++] = owners[i];
    qsort(sorted, nuid, sizeof(*sorted), owner_cmp);
    refs = sb__jarr(t, meta, "ownerReferences");
    for (i = 0; i < nuid; i++) {
      cJSON *r = sb__jobj(t, refs, NULL);
      char uid[SB_UID_BUF];
      sb__jstr(t, r, "apiVersion", sorted[i]->meta->api_version);
      sb__jstr(t, r, "kind", sb_kind_name(sorted[i]->kind));
      sb__jstr(t, r, "name", sorted[i]->name);
      sb__jstr(t, r, "uid", sb_obj_uid(sorted[i], uid));
      /* Kubernetes allows one controller; shared objects get none. */
      if (controller && nowners == 1)
        sb__jbool(t, r, "controller", 1);
    }
    free(sorted);
  }
  return o;
}

/* ---- TrafficSplit checks shared by every mesh --------------------------- */

/* Is a older than b (creationTimestamp, then name; objects without a
 * timestamp after those with one)? */
static int older(const sb_obj *a, const sb_obj *b) {
  const sb_obj_meta *x = a->meta, *y = b->meta;

  if (x->has_created != y->has_created)
    return x->has_created;
  if (x->has_created && x->created != y->created)
    return x->created < y->created;
  return strcmp(a->name, b->name) < 0;
}

static int find_oldest(void *arg, const sb_obj *obj) {
  const sb_obj **best = arg;
  if (!*best || older(obj, *best))
    *best = obj;
  return 0;
}

void sb__split_free(sb__split *s) {
  free(s->weights);
  free(s->groups);
  memset(s, 0, sizeof(*s));
}

int sb__split_prepare(sb__tx *t, const sb_traffic_split *ts, sb__split *s) {
  const sb_obj *winner = NULL;
  size_t i, bad = 0;
  int scaled = 0, invalid = 0;
  int64_t *milli;
  char path[64];

  memset(s, 0, sizeof(*s));
  sb__dep(t, SB_DEP_SPLITS_OF_ROOT, SB_KIND_TRAFFIC_SPLIT, ts->obj.ns,
          ts->root);
  sb_world_splits_by_root(t->w, ts->obj.ns, ts->root, find_oldest, &winner);
  if (winner && winner != &ts->obj) {
    sb__err(t, SB_REASON_CONFLICT, "spec.service", "TrafficSplit %s/%s "
            "already splits the root Service %s and is older; this one is "
            "ignored (its objects are removed) until the conflict is "
            "resolved", winner->ns, winner->name, ts->root);
    t->out->outcome = SB_OUTCOME_OK;
    return 0;
  }

  if (!ts->root || !*ts->root) {
    sb__err(t, SB_REASON_INVALID, "spec.service", "the root Service is "
            "required");
    invalid = 1;
  }
  s->weights = calloc(ts->nbackends ? ts->nbackends : 1, sizeof(int64_t));
  milli = calloc(ts->nbackends ? ts->nbackends : 1, sizeof(int64_t));
  if (!s->weights || !milli) {
    free(milli);
    t->oom = 1;
    return 0;
  }
  for (i = 0; i < ts->nbackends; i++)
    milli[i] = ts->backends[i].weight_milli;
  switch (sb__weights(milli, ts->nbackends, s->weights, &bad, &scaled)) {
  case SB__W_NEGATIVE:
    sb__epath(path, sizeof(path), "spec.backends", bad, ".weight");
    sb__err(t, SB_REASON_INVALID, path, "weight must not be negative");
    invalid = 1;
    break;
  case SB__W_ZERO:
    sb__err(t, SB_REASON_INVALID, "spec.backends", ts->nbackends
            ? "every weight is 0: no backend would get traffic"
            : "needs at least one backend");
    invalid = 1;
    break;
  case SB__W_OK:
    /* Istio's v1beta1 percentages and Linkerd's ServiceProfile shares
     * are computed from the user's own numbers, so the scaling changes
     * nothing there worth a warning. */
    if (scaled && !(t->o->routes == SB_ROUTES_NATIVE &&
                    ((t->o->mesh == SB_MESH_ISTIO &&
                      t->o->istio_api == SB_ISTIO_API_V1BETA1) ||
                     (t->o->mesh == SB_MESH_LINKERD &&
                      t->o->linkerd_service_profile))))
      sb__warn(t, SB_REASON_SCALED, "spec.backends", "weights above "
               "%d (the Gateway API limit) were scaled down "
               "proportionally", SB__WEIGHT_MAX);
    break;
  }
  free(milli);

  s->has_matches = ts->nmatches > 0;
  s->groups = calloc(ts->nmatches ? ts->nmatches : 1, sizeof(*s->groups));
  if (!s->groups) {
    t->oom = 1;
    return 0;
  }
  for (i = 0; i < ts->nmatches; i++) {
    const sb_ts_match *m = &ts->matches[i];
    const sb_obj *g;

    sb__epath(path, sizeof(path), "spec.matches", i, "");
    if (!m->kind || strcmp(m->kind, "HTTPRouteGroup") != 0) {
      sb__err(t, SB_REASON_UNSUPPORTED, path, "matches of kind %s are not "
              "supported (only HTTPRouteGroup)", m->kind ? m->kind : "\"\"");
      invalid = 1;
      continue;
    }
    g = sb__tx_get(t, SB_KIND_HTTP_ROUTE_GROUP, ts->obj.ns, m->name);
    if (!g) {
      sb__err(t, SB_REASON_MISSING, path, "needs HTTPRouteGroup %s/%s, "
              "which is not known (create it, or pass it with -f)",
              ts->obj.ns, m->name ? m->name : "");
      invalid = 1;
      continue;
    }
    s->groups[s->ngroups++] = (const sb_http_route_group *) g;
  }
  if (invalid) {
    t->out->outcome = SB_OUTCOME_INVALID;
    return 0;
  }
  return !t->oom;
}

/* ---- dispatch ----------------------------------------------------------- */

static const sb__backend *backend_of(const sb_translate_opts *o) {
  return o->mesh == SB_MESH_LINKERD ? &sb__linkerd_backend
                                    : &sb__istio_backend;
}

/* The object's own hash as its last annotation (SB_ANNOTATION_HASH). The
 * controller decides "already as desired" by a subset test, which cannot
 * see a field the desired object lost since it was last written; the
 * hash can, also across restarts and leader changes: a desired object
 * whose content changed in any way carries a hash the cluster's object
 * does not have. Every object comes from sb__object, which always makes
 * metadata.annotations. */
static void stamp_hash(sb__tx *t, cJSON *obj) {
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
  cJSON *ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
  static const char digits[] = "0123456789abcdef";
  char hex[17];
  uint64_t h;
  int i;

  h = sb_emit_hash(obj);
  for (i = 15; i >= 0; i--, h >>= 4)
    hex[i] = digits[h & 0xF];
  hex[16] = '\0';
  sb__jstr(t, ann, SB_ANNOTATION_HASH, hex);
}

int sb_translate(const sb_world *w, const sb_key *key,
                 const sb_translate_opts *o, sb_out *out) {
  const sb__backend *b;
  sb__tx t;
  size_t i;

  if (!w || !key || !o || !out || !key->name)
    return SB_EINVAL;
  memset(&t, 0, sizeof(t));
  t.w = w;
  t.o = o;
  t.key = key;
  t.out = out;
  out->outcome = SB_OUTCOME_OK;
  b = backend_of(o);

  switch (key->kind) {
  case SB_KIND_TRAFFIC_SPLIT:
  case SB_KIND_TRAFFIC_TARGET:
    t.src = sb__tx_get(&t, key->kind, key->ns, key->name);
    if (!t.src)
      break;  /* gone: nothing is desired, the rest is pruned */
    t.loc = sb_obj_loc(t.src);
    if (key->kind == SB_KIND_TRAFFIC_TARGET)
      b->target(&t, (const sb_traffic_target *) t.src);
    else if (o->routes == SB_ROUTES_GATEWAY_API)
      sb__gateway_split(&t, (const sb_traffic_split *) t.src);
    else
      b->split(&t, (const sb_traffic_split *) t.src);
    break;
  case SB_KIND_SERVICE_ACCOUNT:
    t.loc.kind = sb_kind_name(SB_KIND_SERVICE_ACCOUNT);
    t.loc.ns = key->ns;
    t.loc.name = key->name;
    if (b->service_account)
      b->service_account(&t, key->ns ? key->ns : "", key->name);
    break;
  default:
    return SB_EINVAL;
  }
  if (t.oom)
    return SB_ENOMEM;
  /* An invalid source changes nothing: drop whatever was built. */
  if (out->outcome == SB_OUTCOME_INVALID) {
    for (i = 0; i < out->nobjs; i++)
      cJSON_Delete(out->objs[i]);
    out->nobjs = 0;
  }
  for (i = 0; i < out->nobjs; i++)
    stamp_hash(&t, out->objs[i]);
  return t.oom ? SB_ENOMEM : 0;
}

/* ---- keys --------------------------------------------------------------- */

size_t sb_translate_keys_of(const sb_obj *obj, const sb_translate_opts *o,
                            sb_key *keys, size_t max) {
  size_t n = 0;

  if (!obj || !o || !keys)
    return 0;
  if (obj->kind != SB_KIND_TRAFFIC_SPLIT &&
      obj->kind != SB_KIND_TRAFFIC_TARGET)
    return 0;
  if (n < max) {
    keys[n].kind = obj->kind;
    keys[n].ns = obj->ns;
    keys[n].name = obj->name;
    n++;
  }
  if (obj->kind == SB_KIND_TRAFFIC_TARGET && o->mesh == SB_MESH_LINKERD &&
      n < max) {
    const sb_traffic_target *tt = (const sb_traffic_target *) obj;
    keys[n].kind = SB_KIND_SERVICE_ACCOUNT;
    keys[n].ns = tt->dest.ns && *tt->dest.ns ? tt->dest.ns : obj->ns;
    keys[n].name = tt->dest.name ? tt->dest.name : "";
    n++;
  }
  return n;
}

typedef struct keylist {
  const sb_translate_opts *o;
  sb_key *v;
  size_t n, cap;
  sb_hmap *seen;     /* "ns\0name" of ServiceAccount keys */
  sb_arena *arena;   /* owns those composite strings */
  int oom;
} keylist;

static int keylist_add(keylist *l, const sb_key *k) {
  if (k->kind == SB_KIND_SERVICE_ACCOUNT) {
    size_t a = strlen(k->ns), b = strlen(k->name);
    char *s = sb_arena_alloc(l->arena, a + b + 2);
    if (!s)
      return SB_ENOMEM;
    memcpy(s, k->ns, a);
    memcpy(s + a + 1, k->name, b);
    if (sb_hmap_get(l->seen, s, a + 1 + b))
      return 0;
    if (sb_hmap_put(l->seen, s, a + 1 + b, s, NULL))
      return SB_ENOMEM;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    sb_key *v = realloc(l->v, cap * sizeof(*v));
    if (!v)
      return SB_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = *k;
  return 0;
}

static int keys_each(void *arg, const sb_obj *obj) {
  keylist *l = arg;
  sb_key k[2];
  size_t i, n = sb_translate_keys_of(obj, l->o, k, 2);

  for (i = 0; i < n; i++) {
    if (keylist_add(l, &k[i])) {
      l->oom = 1;
      return 1;
    }
  }
  return 0;
}

int sb_translate_keys(const sb_world *w, const sb_translate_opts *o,
                      sb_key **keys, size_t *n) {
  keylist l;

  *keys = NULL;
  *n = 0;
  if (!w || !o)
    return SB_EINVAL;
  memset(&l, 0, sizeof(l));
  l.o = o;
  l.seen = sb_hmap_new(16);
  l.arena = sb_arena_new(4096);
  if (!l.seen || !l.arena)
    l.oom = 1;
  if (!l.oom)
    sb_world_each(w, SB_KIND_TRAFFIC_SPLIT, NULL, keys_each, &l);
  if (!l.oom)
    sb_world_each(w, SB_KIND_TRAFFIC_TARGET, NULL, keys_each, &l);
  sb_hmap_free(l.seen);
  sb_arena_free(l.arena);
  if (l.oom) {
    free(l.v);
    return SB_ENOMEM;
  }
  *keys = l.v;
  *n = l.n;
  return 0;
}

/* ---- output kinds ------------------------------------------------------- */

static const sb_gvk istio_v1[] = {
  {"networking.istio.io", "v1", "VirtualService", "virtualservices"},
  {"security.istio.io", "v1", "AuthorizationPolicy",
   "authorizationpolicies"},
};
static const sb_gvk istio_v1beta1[] = {
  {"networking.istio.io", "v1beta1", "VirtualService", "virtualservices"},
  {"security.istio.io", "v1beta1", "AuthorizationPolicy",
   "authorizationpolicies"},
};
static const sb_gvk istio_gw_v1[] = {
  {"gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"},
  {"security.istio.io", "v1", "AuthorizationPolicy",
   "authorizationpolicies"},
};
static const sb_gvk istio_gw_v1beta1[] = {
  {"gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"},
  {"security.istio.io", "v1beta1", "AuthorizationPolicy",
   "authorizationpolicies"},
};

#define LINKERD_AUTHZ                                                       \
  {"policy.linkerd.io", "v1beta3", "Server", "servers"},                    \
  {"policy.linkerd.io", "v1alpha1", "AuthorizationPolicy",                  \
   "authorizationpolicies"},                                                \
  {"policy.linkerd.io", "v1alpha1", "MeshTLSAuthentication",                \
   "meshtlsauthentications"}

/* The policy HTTPRoute is written for splits and for per-route access;
 * in the ServiceProfile mode for the latter only. */
static const sb_gvk linkerd_native[] = {
  {"policy.linkerd.io", "v1beta3", "HTTPRoute", "httproutes"},
  LINKERD_AUTHZ,
};
static const sb_gvk linkerd_sp[] = {
  {"linkerd.io", "v1alpha2", "ServiceProfile", "serviceprofiles"},
  {"policy.linkerd.io", "v1beta3", "HTTPRoute", "httproutes"},
  LINKERD_AUTHZ,
};
static const sb_gvk linkerd_gw[] = {
  {"gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"},
  LINKERD_AUTHZ,
};

size_t sb_translate_output_kinds(const sb_translate_opts *o,
                                 const sb_gvk **kinds) {
  int beta = o->istio_api == SB_ISTIO_API_V1BETA1;

  if (o->mesh == SB_MESH_LINKERD) {
    if (o->routes == SB_ROUTES_GATEWAY_API) {
      *kinds = linkerd_gw;
      return SB_ARRAY_SIZE(linkerd_gw);
    }
    if (o->linkerd_service_profile) {
      *kinds = linkerd_sp;
      return SB_ARRAY_SIZE(linkerd_sp);
    }
    *kinds = linkerd_native;
    return SB_ARRAY_SIZE(linkerd_native);
  }
  if (o->routes == SB_ROUTES_GATEWAY_API) {
    *kinds = beta ? istio_gw_v1beta1 : istio_gw_v1;
    return 2;
  }
  *kinds = beta ? istio_v1beta1 : istio_v1;
  return 2;
}
