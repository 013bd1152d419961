/* parse.c -- sb_model_detect, sb_model_parse and the helpers every kind's
 * parser shares. See sb/model.h for the contract.
 *
 * Why two passes. With tens of thousands of cached Pods, what an object
 * costs in memory is decided by malloc headers and slack, not by its
 * fields. So the parser first runs over the JSON into a scratch arena,
 * validating everything, reporting every problem and counting the bytes
 * the object needs (structs and arrays 8-aligned, strings packed without
 * padding). Only a valid object is then parsed a second time into an arena
 * of exactly that size: one malloc, no slack, and an invalid object never
 * exists at all. Kind parsers are plain top-to-bottom code that runs
 * unchanged in both passes; only the helpers here know the difference.
 */
#include "parse.h"
#include "sb/kname.h"
#include "sb/rfc3339.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb/err.h"

#define ALIGN8(n) (((n) + 7u) & ~(size_t) 7u)

/* ---- memory -------------------------------------------------------------- */

void *sb__alloc(sb__pctx *c, size_t n) {
  void *p;

  n = ALIGN8(n ? n : 1);
  if (!c->build)
    c->need_mem += n;
  p = sb_arena_alloc(c->arena, n);
  if (!p)
    c->oom = 1;
  return p;
}

void *sb__array(sb__pctx *c, size_t n, size_t size) {
  if (n == 0)
    return NULL;
  if (n > SIZE_MAX / size) {
    c->oom = 1;
    return NULL;
  }
  return sb__alloc(c, n * size);
}

const char *sb__str(sb__pctx *c, const char *s) {
  size_t n;
  char *p;

  if (!s)
    return NULL;
  n = strlen(s) + 1;
  if (!c->build) {
    c->need_str += n;
  } else {
    /* The packed area comes right after the struct: the first pass
     * counted exactly what the second one copies. */
    if (!c->str && c->str_total) {
      c->str = sb_arena_alloc(c->arena, ALIGN8(c->str_total));
      c->str_left = c->str ? ALIGN8(c->str_total) : 0;
    }
    if (c->str && n <= c->str_left) {
      p = c->str;
      memcpy(p, s, n);
      c->str += n;
      c->str_left -= n;
      return p;
    }
  }
  p = sb_arena_strndup(c->arena, s, n - 1);
  if (!p)
    c->oom = 1;
  return p;
}

/* Values that most objects repeat. Sorted (strcmp) for find_common. */
static const char *const common_strings[] = {
  "*",
  "CONNECT",
  "ClusterIP",
  "DELETE",
  "ExternalName",
  "Failed",
  "GET",
  "HEAD",
  "HTTPRouteGroup",
  "LoadBalancer",
  "NodePort",
  "OPTIONS",
  "PATCH",
  "POST",
  "PUT",
  "Pending",
  "Running",
  "SCTP",
  "ServiceAccount",
  "Succeeded",
  "TCP",
  "TCPRoute",
  "TRACE",
  "UDP",
  "UDPRoute",
  "Unknown",
  "app",
  "app.kubernetes.io/component",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/managed-by",
  "app.kubernetes.io/name",
  "app.kubernetes.io/part-of",
  "app.kubernetes.io/version",
  "component",
  "controller-revision-hash",
  "default",
  "grpc",
  "http",
  "http-metrics",
  "http2",
  "https",
  "k8s-app",
  "kubernetes.io/h2c",
  "linkerd.io/control-plane-ns",
  "linkerd.io/proxy-deployment",
  "linkerd.io/workload-ns",
  "metrics",
  "name",
  "pod-template-generation",
  "pod-template-hash",
  "release",
  "security.istio.io/tlsMode",
  "service.istio.io/canonical-name",
  "service.istio.io/canonical-revision",
  "statefulset.kubernetes.io/pod-name",
  "tcp",
  "tier",
  "version",
};

/* A binary search over common_strings (bsearch with strcmp order, but
 * inline: every label key and value of every Service and Pod comes
 * through here, and most comparisons are settled by the first byte). */
static const char *find_common(const char *s) {
  size_t lo = 0, hi = SB_ARRAY_SIZE(common_strings);
  unsigned char c0 = (unsigned char) s[0];

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *m = common_strings[mid];
    unsigned char m0 = (unsigned char) m[0];
    int d = c0 != m0 ? (c0 < m0 ? -1 : 1) : strcmp(s, m);

    if (d == 0)
      return m;
    if (d < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

int sb__is_common(const char *s) {
  if (!s || !*s)
    return 0;  /* "" may be a literal or a copy: never assume */
  return find_common(s) == s;
}

const char *sb__str_common(sb__pctx *c, const char *s) {
  const char *hit;

  if (!s)
    return NULL;
  if (!*s)
    return "";
  hit = find_common(s);
  return hit ? hit : sb__str(c, s);
}

/* ---- diagnostics --------------------------------------------------------- */

static void report(sb__pctx *c, sb_diag_sev sev, const char *reason,
                   const cJSON *node, const char *path, const char *fmt,
                   va_list ap) {
  sb_diag_loc loc = c->loc;
  char msg[768];

  if (sev == SB_DIAG_ERROR)
    c->nerr++;
  if (!c->diags)
    return;
  if (c->doc && node) {
    loc.line = sb_doc_line(c->doc, node);
    loc.col = sb_doc_col(c->doc, node);
  }
  vsnprintf(msg, sizeof(msg), fmt, ap);
  if (sb_diags_add(c->diags, sev, reason, &loc, path, "%s", msg))
    c->oom = 1;
}

void sb__err(sb__pctx *c, const cJSON *node, const char *path,
             const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  report(c, SB_DIAG_ERROR, SB_REASON_INVALID, node, path, fmt, ap);
  va_end(ap);
}

void sb__warn(sb__pctx *c, const cJSON *node, const char *path,
              const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  report(c, SB_DIAG_WARNING, SB_REASON_INVALID, node, path, fmt, ap);
  va_end(ap);
}

void sb__warn_version(sb__pctx *c, const cJSON *node, const char *path,
                      const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  report(c, SB_DIAG_WARNING, SB_REASON_VERSION_SKEW, node, path, fmt, ap);
  va_end(ap);
}

/* Paths are built for every field and element of every object, valid or
 * not, so they are concatenated by hand: snprintf cost about a tenth of
 * all the work of reading 10,000 objects. The result is what snprintf
 * would write: cut to SB__PATH_MAX - 1 bytes, always terminated. */
static void path_put(char *buf, size_t *o, const char *s, size_t n) {
  if (n > SB__PATH_MAX - 1 - *o)
    n = SB__PATH_MAX - 1 - *o;
  memmove(buf + *o, s, n);  /* buf may be base itself, at offset 0 */
  *o += n;
}

static const char *path_join(char *buf, const char *base, const char *open,
                             const char *key, size_t klen,
                             const char *close) {
  size_t o = 0;

  if (base)
    path_put(buf, &o, base, strlen(base));
  if (open)
    path_put(buf, &o, open, 1);
  path_put(buf, &o, key, klen);
  if (close)
    path_put(buf, &o, close, 1);
  buf[o] = '\0';
  return buf;
}

const char *sb__path(char *buf, const char *base, const char *key) {
  if (base && *base)
    return path_join(buf, base, ".", key, strlen(key), NULL);
  return path_join(buf, NULL, NULL, key, strlen(key), NULL);
}

const char *sb__pathi(char *buf, const char *base, size_t i) {
  char digits[24];
  size_t n = sizeof(digits);

  do {
    digits[--n] = (char) ('0' + i % 10);
    i /= 10;
  } while (i);
  return path_join(buf, base, "[", digits + n, sizeof(digits) - n, "]");
}

const char *sb__pathk(char *buf, const char *base, const char *key) {
  return path_join(buf, base, "[", key, strlen(key), "]");
}

const char *sb__quote(char *buf, const char *s) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0, i;

  buf[o++] = '"';
  for (i = 0; s[i] && o < SB__QUOTE_MAX - 8; i++) {
    unsigned char ch = (unsigned char) s[i];

    if (i == 64) {
      memcpy(buf + o, "...", 3);
      o += 3;
      break;
    }
    if (ch == '"' || ch == '\\') {
      buf[o++] = '\\';
      buf[o++] = (char) ch;
    } else if (ch < 0x20 || ch == 0x7f) {
      buf[o++] = '\\';
      buf[o++] = 'x';
      buf[o++] = hex[ch >> 4];
      buf[o++] = hex[ch & 15];
    } else {
      buf[o++] = (char) ch;
    }
  }
  buf[o++] = '"';
  buf[o] = '\0';
  return buf;
}

const char *sb__scalar(char *buf, const cJSON *n) {
  if (cJSON_IsString(n))
    return sb__quote(buf, n->valuestring);
  if (cJSON_IsNumber(n)) {
    double d = n->valuedouble;

    /* Every backend weight comes through here, message or not, and
     * printing a double is slow. A whole number below 1e15 prints under
     * "%.15g" as its plain digits (no exponent, no point): write those
     * directly; -0 and everything else take snprintf. */
    if (d > -1e15 && d < 1e15 && floor(d) == d && !(d == 0 && signbit(d))) {
      char digits[24];
      size_t k = sizeof(digits), o = 0;
      uint64_t v = (uint64_t) (d < 0 ? -d : d);

      do {
        digits[--k] = (char) ('0' + v % 10);
        v /= 10;
      } while (v);
      if (d < 0)
        buf[o++] = '-';
      memcpy(buf + o, digits + k, sizeof(digits) - k);
      buf[o + sizeof(digits) - k] = '\0';
      return buf;
    }
    snprintf(buf, SB__QUOTE_MAX, "%.15g", d);
    return buf;
  }
  snprintf(buf, SB__QUOTE_MAX, "%s", sb__type(n));
  return buf;
}

/* ---- reading JSON -------------------------------------------------------- */

/* Every field of every object is looked up here, twice (one lookup per
 * pass), so this is cJSON_GetObjectItemCaseSensitive written out: the
 * first byte is compared before strcmp is called, which turns most of the
 * siblings passed over into one load and one compare. Same result,
 * including stopping at a member without a name, as cJSON does. */
const cJSON *sb__get(const cJSON *obj, const char *key) {
  const cJSON *n;

  if (!obj || (obj->type & 0xFF) != cJSON_Object || !key)
    return NULL;
  for (n = obj->child; n && n->string; n = n->next)
    if (n->string[0] == key[0] && strcmp(n->string, key) == 0)
      break;
  if (!n || !n->string || (n->type & 0xFF) == cJSON_NULL)
    return NULL;
  return n;
}

const char *sb__type(const cJSON *n) {
  if (!n || cJSON_IsNull(n))
    return "null";
  if (cJSON_IsBool(n))
    return "a boolean";
  if (cJSON_IsNumber(n))
    return "a number";
  if (cJSON_IsString(n))
    return "a string";
  if (cJSON_IsArray(n))
    return "a list";
  if (cJSON_IsObject(n))
    return "a map";
  return "an unknown value";
}

const char *sb__get_str(sb__pctx *c, const cJSON *obj, const char *base,
                        const char *key, int required) {
  const cJSON *n = sb__get(obj, key);
  char path[SB__PATH_MAX];

  if (!n) {
    if (required && obj)
      sb__err(c, obj, sb__path(path, base, key), "is required");
    return NULL;
  }
  if (!cJSON_IsString(n)) {
    sb__err(c, n, sb__path(path, base, key), "must be a string (got %s)",
            sb__type(n));
    return NULL;
  }
  return n->valuestring;
}

static const cJSON *get_typed(sb__pctx *c, const cJSON *obj,
                              const char *base, const char *key,
                              int required, int want_map) {
  const cJSON *n = sb__get(obj, key);
  char path[SB__PATH_MAX];

  if (!n) {
    if (required && obj)
      sb__err(c, obj, sb__path(path, base, key), "is required");
    return NULL;
  }
  if (want_map ? !cJSON_IsObject(n) : !cJSON_IsArray(n)) {
    sb__err(c, n, sb__path(path, base, key), "must be %s (got %s)",
            want_map ? "a map" : "a list", sb__type(n));
    return NULL;
  }
  return n;
}

const cJSON *sb__get_map(sb__pctx *c, const cJSON *obj, const char *base,
                         const char *key, int required) {
  return get_typed(c, obj, base, key, required, 1);
}

const cJSON *sb__get_list(sb__pctx *c, const cJSON *obj, const char *base,
                          const char *key, int required) {
  return get_typed(c, obj, base, key, required, 0);
}

int sb__is_int(const cJSON *n, int64_t min, int64_t max, int64_t *out) {
  double d;

  if (!cJSON_IsNumber(n))
    return 0;
  d = n->valuedouble;
  if (!(d >= (double) min && d <= (double) max) || floor(d) != d)
    return 0;
  *out = (int64_t) d;
  return 1;
}

int sb__len_ok(sb__pctx *c, const cJSON *node, const char *path, size_t n) {
  if (n <= SB__MAX_ITEMS)
    return 1;
  sb__err(c, node, path, "has %zu entries; smi-bridge reads at most %d", n,
          SB__MAX_ITEMS);
  return 0;
}

int32_t sb__port(sb__pctx *c, const cJSON *node, const char *path) {
  char got[SB__QUOTE_MAX];
  int64_t v;

  if (sb__is_int(node, 1, 65535, &v))
    return (int32_t) v;
  if (cJSON_IsNumber(node))
    sb__err(c, node, path, "must be a port number from 1 to 65535 (got %s)",
            sb__scalar(got, node));
  else
    sb__err(c, node, path, "must be a port number (got %s)",
            sb__type(node));
  return 0;
}

int sb__string_map(sb__pctx *c, const cJSON *map, const char *path,
                   sb_kv **kv, size_t *nkv) {
  const cJSON *e;
  char p[SB__PATH_MAX];
  size_t n = 0;

  *kv = NULL;
  *nkv = 0;
  if (!map)
    return 0;
  cJSON_ArrayForEach(e, map)
    n++;
  *kv = sb__array(c, n, sizeof(**kv));
  if (n && !*kv)
    return SB_ENOMEM;
  cJSON_ArrayForEach(e, map) {
    if (!cJSON_IsString(e)) {
      sb__err(c, e, sb__pathk(p, path, e->string),
              "must be a string (got %s)%s", sb__type(e),
              cJSON_IsNumber(e) || cJSON_IsBool(e) ? "; quote it" : "");
      continue;
    }
    (*kv)[*nkv].key = sb__str_common(c, e->string);
    (*kv)[*nkv].value = sb__str_common(c, e->valuestring);
    (*nkv)++;
  }
  return 0;
}

/* ---- names --------------------------------------------------------------- */

int sb__check_subdomain(sb__pctx *c, const cJSON *node, const char *path,
                        const char *s) {
  char q[SB__QUOTE_MAX];

  if (c->build || sb_is_dns1123_subdomain(s))
    return 1;  /* the second pass only runs on what the first passed */
  if (!*s)
    sb__err(c, node, path, "must not be empty");
  else
    sb__err(c, node, path,
            "must be a DNS-1123 subdomain: lower-case letters, digits, '-' "
            "and '.', starting and ending with a letter or digit, at most "
            "253 characters (got %s)", sb__quote(q, s));
  return 0;
}

int sb__check_label(sb__pctx *c, const cJSON *node, const char *path,
                    const char *s) {
  char q[SB__QUOTE_MAX];

  if (c->build || sb_is_dns1123_label(s))
    return 1;  /* the second pass only runs on what the first passed */
  if (!*s)
    sb__err(c, node, path, "must not be empty");
  else
    sb__err(c, node, path,
            "must be a DNS-1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 "
            "characters (got %s)", sb__quote(q, s));
  return 0;
}

int sb__check_service_name(sb__pctx *c, const cJSON *node, const char *path,
                           const char *s) {
  char q[SB__QUOTE_MAX];

  if (c->build || sb_is_dns1035_label(s))
    return 1;  /* the second pass only runs on what the first passed */
  if (!*s)
    sb__err(c, node, path, "must not be empty");
  else
    sb__err(c, node, path,
            "must be a Service name (a DNS-1035 label: lower-case letters, "
            "digits and '-', starting with a letter, ending with a letter "
            "or digit, at most 63 characters) (got %s)", sb__quote(q, s));
  return 0;
}

/* ---- kinds and versions -------------------------------------------------- */

/* Every apiVersion smi-bridge reads, as static strings for obj.api_version
 * (no object pays for its own copy). */
static const char *const split_versions[] = {
  "split.smi-spec.io/v1alpha1", "split.smi-spec.io/v1alpha2",
  "split.smi-spec.io/v1alpha3", "split.smi-spec.io/v1alpha4",
};
static const char *const specs_versions[] = {
  "specs.smi-spec.io/v1alpha1", "specs.smi-spec.io/v1alpha2",
  "specs.smi-spec.io/v1alpha3", "specs.smi-spec.io/v1alpha4",
};
/* The group the first SDK release registered by mistake (sdk-go v0.1.0);
 * very old clusters still serve it. */
static const char *const spec_versions[] = {
  "spec.smi-spec.io/v1alpha1", "spec.smi-spec.io/v1alpha2",
  "spec.smi-spec.io/v1alpha3", "spec.smi-spec.io/v1alpha4",
};
static const char *const access_versions[] = {
  "access.smi-spec.io/v1alpha1", "access.smi-spec.io/v1alpha2",
  "access.smi-spec.io/v1alpha3",
};

struct group {
  const char *name;
  const char *const *versions;
  int nversions;
  sb_kind kinds[3];
};

static const struct group groups[] = {
  { "split.smi-spec.io", split_versions, 4,
    { SB_KIND_TRAFFIC_SPLIT } },
  { "specs.smi-spec.io", specs_versions, 4,
    { SB_KIND_HTTP_ROUTE_GROUP, SB_KIND_TCP_ROUTE, SB_KIND_UDP_ROUTE } },
  { "spec.smi-spec.io", spec_versions, 4,
    { SB_KIND_HTTP_ROUTE_GROUP, SB_KIND_TCP_ROUTE, SB_KIND_UDP_ROUTE } },
  { "access.smi-spec.io", access_versions, 3,
    { SB_KIND_TRAFFIC_TARGET } },
};

static const struct group *find_group(const char *name, size_t n) {
  size_t i;

  for (i = 0; i < SB_ARRAY_SIZE(groups); i++)
    if (strlen(groups[i].name) == n && memcmp(groups[i].name, name, n) == 0)
      return &groups[i];
  return NULL;
}

static int group_has(const struct group *g, sb_kind k) {
  size_t i;

  for (i = 0; i < SB_ARRAY_SIZE(g->kinds); i++)
    if (g->kinds[i] == k)
      return 1;
  return 0;
}

/* "v1alphaN" -> N (1..9999); 0 for anything else. */
static int alpha_version(const char *v) {
  int n = 0;

  if (strncmp(v, "v1alpha", 7) != 0)
    return 0;
  v += 7;
  if (*v < '1' || *v > '9')
    return 0;
  for (; *v; v++) {
    if (*v < '0' || *v > '9' || n > 999)
      return 0;
    n = n * 10 + (*v - '0');
  }
  return n;
}

static const char *str_member(const cJSON *json, const char *key) {
  const cJSON *n = sb__get(json, key);

  return cJSON_IsString(n) ? n->valuestring : NULL;
}

static int is_core_kind(sb_kind k) {
  return k == SB_KIND_SERVICE || k == SB_KIND_POD ||
         k == SB_KIND_SERVICE_ACCOUNT;
}

sb_kind sb_model_detect(const cJSON *json, int *version) {
  const char *av = str_member(json, "apiVersion");
  const char *slash;
  const struct group *g;
  sb_kind k = sb_kind_from_name(str_member(json, "kind"));
  int v, unused;

  if (!version)
    version = &unused;
  *version = 0;
  if (k == SB_KIND_UNKNOWN || !av)
    return SB_KIND_UNKNOWN;
  slash = strchr(av, '/');
  if (!slash) {
    if (strcmp(av, "v1") != 0 || !is_core_kind(k))
      return SB_KIND_UNKNOWN;
    *version = 1;
    return k;
  }
  g = find_group(av, (size_t) (slash - av));
  if (!g || !group_has(g, k))
    return SB_KIND_UNKNOWN;
  v = alpha_version(slash + 1);
  *version = v <= g->nversions ? v : 0;
  return k;
}

static const char *api_version_of(const char *av, sb_kind k, int version) {
  const char *slash = strchr(av, '/');

  if (is_core_kind(k))
    return "v1";
  return find_group(av, (size_t) (slash - av))->versions[version - 1];
}

/* The SMI group and newest version a kind belongs to, for hints. */
static const char *home_of(sb_kind k, const char **last) {
  switch (k) {
  case SB_KIND_TRAFFIC_SPLIT:
    *last = "v1alpha4";
    return "split.smi-spec.io";
  case SB_KIND_TRAFFIC_TARGET:
    *last = "v1alpha3";
    return "access.smi-spec.io";
  default:
    *last = "v1alpha4";
    return "specs.smi-spec.io";
  }
}

/* ---- metadata ------------------------------------------------------------ */

/* The meta of every cached pod: only the apiVersion is known. */
static const sb_obj_meta pod_meta = {"v1", NULL, 0, 0, {{0}}, 0, 0, 0};

const sb_obj_meta *sb__pod_meta(void) {
  return &pod_meta;
}

sb_obj *sb__obj_new(sb__pctx *c, const cJSON *json, size_t size) {
  const cJSON *meta, *n;
  const char *s;
  sb_obj *o;
  sb_obj_meta *m = NULL;
  int64_t gen;
  /* Pods are cached by the ten thousand and nothing downstream needs
   * their uid or age: they keep only what identity derivation reads, and
   * a pod read from the API shares one meta (a file needs its own). */
  int compact = c->kind == SB_KIND_POD;

  o = sb__alloc(c, size);
  if (!o)
    return NULL;
  if (!compact || c->doc) {
    m = sb__alloc(c, sizeof(*m));
    if (!m)
      return NULL;
  }
  o->kind = c->kind;
  o->version = (unsigned char) c->version;
  o->meta = m ? m : &pod_meta;
  if (m)
    m->api_version = api_version_of(str_member(json, "apiVersion"), c->kind,
                                    c->version);
  meta = sb__get_map(c, json, "", "metadata", 1);

  s = sb__get_str(c, meta, "metadata", "name", 1);
  if (s)
    sb__check_subdomain(c, sb__get(meta, "name"), "metadata.name", s);
  o->name = sb__str(c, s ? s : "");

  s = sb__get_str(c, meta, "metadata", "namespace", 0);
  if (s && *s)
    sb__check_label(c, sb__get(meta, "namespace"), "metadata.namespace", s);
  o->ns = sb__str_common(c, s ? s : "");
  c->ns = o->ns;

  s = sb__get_str(c, meta, "metadata", "uid", 0);
  if (m && !compact && s) {
    /* A UUID (what the API server hands out) is kept in 16 bytes. */
    sb_obj_meta_set_uid(m, s);
    if (m->uid_form == SB_UID_TEXT)
      m->uid.text = sb__str(c, s);
  }
  s = sb__get_str(c, meta, "metadata", "resourceVersion", 0);
  o->resource_version = sb__str(c, s);
  s = sb__get_str(c, meta, "metadata", "creationTimestamp", 0);
  if (m && !compact && s) {
    if (sb_rfc3339_parse(s, &m->created) == 0)
      m->has_created = 1;
    else
      sb__warn(c, sb__get(meta, "creationTimestamp"),
               "metadata.creationTimestamp",
               "is not an RFC 3339 time; ignored (the object sorts as "
               "the newest when names are claimed)");
  }

  n = sb__get(meta, "generation");
  if (n && !sb__is_int(n, 0, INT64_MAX / 2, &gen))
    sb__err(c, n, "metadata.generation",
            "must be a whole number (got %s)", sb__type(n));
  else if (n && m)
    m->generation = gen;

  if (c->doc && m) {
    m->file = sb__str(c, sb_doc_file(c->doc));
    m->line = sb_doc_line(c->doc, json);
  }
  return o;
}

/* ---- the two passes ------------------------------------------------------ */

typedef sb_obj *(*parse_fn)(sb__pctx *c, const cJSON *json);

static const parse_fn parsers[SB_KIND__COUNT] = {
  [SB_KIND_TRAFFIC_SPLIT] = sb__parse_split,
  [SB_KIND_HTTP_ROUTE_GROUP] = sb__parse_route_group,
  [SB_KIND_TCP_ROUTE] = sb__parse_port_route,
  [SB_KIND_UDP_ROUTE] = sb__parse_port_route,
  [SB_KIND_TRAFFIC_TARGET] = sb__parse_target,
  [SB_KIND_SERVICE] = sb__parse_service,
  [SB_KIND_POD] = sb__parse_pod,
  [SB_KIND_SERVICE_ACCOUNT] = sb__parse_service_account,
};

static void ctx_init(sb__pctx *c, const cJSON *json, const sb_doc *doc,
                     sb_kind kind, int version, sb_diags *diags) {
  const cJSON *meta = sb__get(json, "metadata");

  memset(c, 0, sizeof(*c));
  c->doc = doc;
  c->diags = diags;
  c->kind = kind;
  c->version = version;
  c->ns = "";
  c->loc.kind = sb_kind_name(kind);
  c->loc.ns = str_member(meta, "namespace");
  c->loc.name = str_member(meta, "name");
  if (doc) {
    c->loc.file = sb_doc_file(doc);
    c->loc.line = sb_doc_line(doc, json);
  }
}

/* Objects that are clearly meant as SMI but name no usable API group (the
 * spec's own examples leave apiVersion out or write "v1alpha1") deserve an
 * error rather than being skipped as "not ours". */
static int misplaced_smi(const cJSON *json, const sb_doc *doc,
                         sb_diags *diags) {
  const char *av = str_member(json, "apiVersion");
  const char *kind = str_member(json, "kind");
  const char *slash, *home, *last;
  char q[SB__QUOTE_MAX];
  sb_kind k = sb_kind_from_name(kind);
  sb__pctx c;
  size_t glen;

  if (!sb_kind_is_smi(k))
    return 0;
  slash = av ? strchr(av, '/') : NULL;
  if (slash) {
    glen = (size_t) (slash - av);
    if (glen < 12 || memcmp(av + glen - 12, ".smi-spec.io", 12) != 0)
      return 0;  /* another project's kind of the same name */
  }
  ctx_init(&c, json, doc, k, 0, diags);
  home = home_of(k, &last);
  if (!av && sb__get(json, "apiVersion"))
    sb__err(&c, sb__get(json, "apiVersion"), "apiVersion",
            "must be a string (got %s)", sb__type(sb__get(json, "apiVersion")));
  else if (!av)
    sb__err(&c, json, "apiVersion", "is required (%s is %s/v1alpha1 to %s)",
            kind, home, last);
  else if (!slash)
    sb__err(&c, sb__get(json, "apiVersion"), "apiVersion",
            "%s names no %s; %s is %s/v1alpha1 to %s", sb__quote(q, av),
            strchr(av, '.') ? "version" : "API group", kind, home, last);
  else
    sb__err(&c, sb__get(json, "apiVersion"), "apiVersion",
            "%s is not in %.*s; it is %s/v1alpha1 to %s", kind, (int) glen,
            av, home, last);
  return c.oom ? SB_ENOMEM : SB_EINVAL;
}

static int unsupported_version(const cJSON *json, const sb_doc *doc,
                               sb_kind k, sb_diags *diags) {
  const char *av = str_member(json, "apiVersion");
  const char *slash = strchr(av, '/');
  const struct group *g = find_group(av, (size_t) (slash - av));
  char q[SB__QUOTE_MAX];
  sb__pctx c;

  ctx_init(&c, json, doc, k, 0, diags);
  sb__err(&c, sb__get(json, "apiVersion"), "apiVersion",
          "unsupported version %s of %s (smi-bridge reads v1alpha1 to "
          "v1alpha%d)", sb__quote(q, slash + 1), g->name, g->nversions);
  return c.oom ? SB_ENOMEM : SB_EINVAL;
}

int sb_model_parse(const cJSON *json, const sb_doc *doc, sb_obj **out,
                   sb_diags *diags) {
  sb__pctx c;
  sb_arena *scratch, *arena;
  sb_obj *o;
  sb_kind k;
  size_t str_total;
  sb_diag_loc loc;
  int version;

  *out = NULL;
  if (!cJSON_IsObject(json))
    return SB_ENOTSMI;
  k = sb_model_detect(json, &version);
  if (k == SB_KIND_UNKNOWN) {
    int rc = misplaced_smi(json, doc, diags);
    return rc ? rc : SB_ENOTSMI;
  }
  if (version == 0)
    return unsupported_version(json, doc, k, diags);

  /* Pass 1: check, report, measure. The scratch arena's first block
   * (1,000 bytes plus a 16-byte header) stays within glibc's per-thread
   * cache of small blocks, so the malloc and free of every object's
   * scratch are cheap; larger objects just take more chunks. */
  scratch = sb_arena_new(1000);
  if (!scratch)
    return SB_ENOMEM;
  ctx_init(&c, json, doc, k, version, diags);
  c.arena = scratch;
  o = parsers[k](&c, json);
  sb_arena_free(scratch);
  if (c.oom || !o)
    return SB_ENOMEM;
  if (c.nerr)
    return SB_EINVAL;

  /* Pass 2: build into an arena of exactly the measured size. */
  arena = sb_arena_new(c.need_mem + ALIGN8(c.need_str));
  if (!arena)
    return SB_ENOMEM;
  str_total = c.need_str;
  loc = c.loc;  /* what ctx_init would look up again */
  memset(&c, 0, sizeof(c));
  c.doc = doc;
  c.kind = k;
  c.version = version;
  c.ns = "";
  c.loc = loc;
  c.arena = arena;
  c.build = 1;
  c.str_total = str_total;
  o = parsers[k](&c, json);
  if (c.oom || !o || c.nerr) {
    sb_arena_free(arena);
    return c.nerr ? SB_EINVAL : SB_ENOMEM;
  }
  o->arena = arena;
  *out = o;
  return 0;
}
