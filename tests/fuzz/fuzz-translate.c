/* fuzz-translate.c -- the whole offline path: bytes -> sb_input (documents,
 * model, world) -> sb_input_render in every mode -> bytes, checked.
 *
 * The input is one buffer of YAML or JSON. A line "#context" splits it: what
 * comes before is read as source (translated, printed), what comes after as
 * context (Services, Pods, ...), like -f and --context-file. Every input is
 * rendered in each mode of `modes` below, as YAML and as JSON.
 *
 * Properties checked (abort() on a violation, so libFuzzer keeps the input):
 *   - reading and rendering return 0 (no SB_ENOMEM is injected here, so any
 *     other code is a bug); every diagnostic says something;
 *   - the YAML output parses back with sb_doc into objects, and the JSON
 *     output into one v1 List whose items are exactly those objects, in
 *     the same order (the two formats never disagree);
 *   - every object has apiVersion, kind, metadata.name (a DNS-1123
 *     subdomain: [a-z0-9.-], alphanumeric at both ends, at most 63, or 253
 *     for a ServiceProfile's FQDN), metadata.namespace and the label
 *     app.kubernetes.io/managed-by: smi-bridge, and label values
 *     Kubernetes accepts (at most 63);
 *   - nothing the API server or a mesh webhook refuses on sight (see
 *     check_tree and check_routes): empty lists, weights outside
 *     0..1,000,000, ports outside 1..65535, oversized regexes, routes
 *     beyond the Linkerd / Gateway API rule and match limits;
 *   - rendering twice gives the same bytes (determinism).
 * Small document limits keep each run fast and the limit paths reachable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb/doc.h"
#include "sb/emit.h"
#include "sb/err.h"
#include "sb/input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char context_mark[] = "\n#context\n";

static const struct mode {
  sb_mesh mesh;
  sb_routes routes;
  sb_istio_api istio_api;
  int service_profile;
} modes[] = {
  {SB_MESH_ISTIO, SB_ROUTES_NATIVE, SB_ISTIO_API_V1, 0},
  {SB_MESH_ISTIO, SB_ROUTES_NATIVE, SB_ISTIO_API_V1BETA1, 0},
  {SB_MESH_LINKERD, SB_ROUTES_NATIVE, SB_ISTIO_API_V1, 0},
  {SB_MESH_LINKERD, SB_ROUTES_NATIVE, SB_ISTIO_API_V1, 1},
  {SB_MESH_ISTIO, SB_ROUTES_GATEWAY_API, SB_ISTIO_API_V1, 0},
  {SB_MESH_LINKERD, SB_ROUTES_GATEWAY_API, SB_ISTIO_API_V1, 0},
};

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz-translate: property violated: %s\n", what);
    abort();
  }
}

static const char *str_at(const cJSON *obj, const char *a, const char *b) {
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, a);

  if (b)
    n = cJSON_GetObjectItemCaseSensitive(n, b);
  return cJSON_IsString(n) ? n->valuestring : NULL;
}

static int dns_subdomain(const char *s) {
  size_t n = strlen(s), i;

  if (n == 0 || n > 253)
    return 0;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.'))
      return 0;
  }
  return s[0] != '-' && s[0] != '.' && s[n - 1] != '-' && s[n - 1] != '.';
}

/* Shapes the API server or the meshes' webhooks would refuse, anywhere in
 * an object: an empty list (Istio rejects `from: []`, `to: []`; Kubernetes
 * drops or refuses the rest), an empty key, a weight outside 0..1,000,000,
 * a port outside 1..65535 (numbers, and the strings of an Istio
 * `ports` list), a regex longer than Istio's 1024. */
static int port_ok(double v) {
  return v >= 1 && v <= 65535 && v == (double) (int) v;
}

static void check_tree(const cJSON *n, const char *key) {
  const cJSON *c;

  if (cJSON_IsArray(n))
    check(n->child != NULL, "no empty lists");
  if (key && (cJSON_IsObject(n) || cJSON_IsArray(n)) && !*key)
    check(0, "no empty keys");
  if (key && cJSON_IsNumber(n)) {
    if (!strcmp(key, "weight"))
      check(n->valuedouble >= 0 && n->valuedouble <= 1000000 &&
                n->valuedouble == (double) (int) n->valuedouble,
            "weights are whole, 0..1000000");
    if (!strcmp(key, "port") || !strcmp(key, "number"))
      check(port_ok(n->valuedouble), "ports are 1..65535");
  }
  if (key && cJSON_IsString(n) && !strcmp(key, "regex"))
    check(strlen(n->valuestring) <= 1024, "regexes fit Istio's limit");
  if (key && !strcmp(key, "ports") && cJSON_IsArray(n)) {
    cJSON_ArrayForEach(c, n) {
      if (cJSON_IsString(c)) {
        char *end;
        double v = strtod(c->valuestring, &end);
        check(*c->valuestring && !*end && port_ok(v),
              "string ports are 1..65535");
      }
    }
  }
  for (c = n->child; c; c = c->next)
    check_tree(c, cJSON_IsObject(n) ? c->string : key);
}

/* Route size limits of docs/mapping.md: Linkerd 16 rules of 8 matches,
 * Gateway API 16 rules of 64 and fewer than 128 matches in all. */
static void check_routes(const cJSON *obj) {
  const char *av = str_at(obj, "apiVersion", NULL);
  const char *kind = str_at(obj, "kind", NULL);
  const cJSON *rules, *r;
  int linkerd, nrules = 0, total = 0;

  if (!av || !kind || strcmp(kind, "HTTPRoute") != 0)
    return;
  linkerd = strncmp(av, "policy.linkerd.io/", 18) == 0;
  rules = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(obj, "spec"), "rules");
  cJSON_ArrayForEach(r, rules) {
    int m = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r,
                                                                "matches"));
    check(m <= (linkerd ? 8 : 64), "matches per rule fit");
    total += m ? m : 1;
    nrules++;
  }
  check(nrules <= 16, "at most 16 rules");
  check(linkerd || total < 128, "fewer than 128 matches in all");
}

static void check_object(const cJSON *obj) {
  const cJSON *labels, *l;
  const char *name, *mb;

  check(cJSON_IsObject(obj), "output items are objects");
  check(str_at(obj, "apiVersion", NULL) && str_at(obj, "kind", NULL),
        "apiVersion and kind");
  name = str_at(obj, "metadata", "name");
  check(name && dns_subdomain(name), "metadata.name is a DNS-1123 subdomain");
  check(str_at(obj, "metadata", "namespace") != NULL, "metadata.namespace");
  labels = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "labels");
  mb = str_at(labels, SB_LABEL_MANAGED_BY, NULL);
  check(mb && strcmp(mb, "smi-bridge") == 0, "managed-by label");
  cJSON_ArrayForEach(l, labels)
    check(cJSON_IsString(l) && strlen(l->valuestring) <= 63,
          "label values fit");
  if (strcmp(str_at(obj, "kind", NULL), "ServiceProfile") != 0)
    check(strlen(name) <= 63, "names fit 63 characters");
  check_tree(obj, NULL);
  check_routes(obj);
}

/* Collects the documents of a re-parse. */
struct docs {
  cJSON **v;
  size_t n, cap;
};

static int keep(void *arg, sb_doc *doc) {
  struct docs *d = arg;

  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 16;
    cJSON **v = realloc(d->v, cap * sizeof(*v));
    check(v != NULL, "memory");
    d->v = v;
    d->cap = cap;
  }
  d->v[d->n++] = sb_doc_take_root(doc);
  sb_doc_free(doc);
  return 0;
}

static void parse_back(const sb_buf *out, struct docs *d, const char *what) {
  sb_diags diags;
  int rc;

  sb_diags_init(&diags);
  rc = sb_doc_parse("out", out->data ? out->data : "", out->len, NULL, keep,
                    d, &diags);
  if (rc != 0) {
    fprintf(stderr, "%s output does not parse (rc %d): %s\n%.*s\n", what, rc,
            diags.n ? diags.v[0].msg : "?", (int) out->len,
            out->data ? out->data : "");
    abort();
  }
  sb_diags_free(&diags);
}

static void free_docs(struct docs *d) {
  size_t i;

  for (i = 0; i < d->n; i++)
    cJSON_Delete(d->v[i]);
  free(d->v);
}

static void render_mode(const sb_input *in, const struct mode *m) {
  sb_translate_opts o;
  sb_buf yaml, again, json;
  sb_diags diags;
  struct docs yd = {NULL, 0, 0}, jd = {NULL, 0, 0};
  const cJSON *items, *item;
  size_t i;

  sb_translate_opts_default(&o);
  o.mesh = m->mesh;
  o.routes = m->routes;
  o.istio_api = m->istio_api;
  o.linkerd_service_profile = m->service_profile;
  sb_diags_init(&diags);
  sb_buf_init(&yaml, SB_BUF_UNLIMITED);
  sb_buf_init(&again, SB_BUF_UNLIMITED);
  sb_buf_init(&json, SB_BUF_UNLIMITED);
  check(sb_input_render(in, &o, SB_OUTPUT_YAML, &yaml, &diags) == 0,
        "render YAML");
  check(sb_input_render(in, &o, SB_OUTPUT_YAML, &again, &diags) == 0,
        "render YAML again");
  check(yaml.len == again.len &&
            (yaml.len == 0 || memcmp(yaml.data, again.data, yaml.len) == 0),
        "rendering is deterministic");
  check(sb_input_render(in, &o, SB_OUTPUT_JSON, &json, &diags) == 0,
        "render JSON");
  for (i = 0; i < diags.n; i++)
    check(diags.v[i].msg && diags.v[i].msg[0] && diags.v[i].reason,
          "translation diagnostics say something");

  parse_back(&yaml, &yd, "YAML");
  parse_back(&json, &jd, "JSON");
  check(jd.n == 1 && cJSON_IsObject(jd.v[0]), "JSON output is one object");
  check(str_at(jd.v[0], "kind", NULL) &&
            strcmp(str_at(jd.v[0], "kind", NULL), "List") == 0,
        "JSON output is a List");
  items = cJSON_GetObjectItemCaseSensitive(jd.v[0], "items");
  check(cJSON_IsArray(items) &&
            (size_t) cJSON_GetArraySize(items) == yd.n,
        "JSON and YAML carry as many objects");
  i = 0;
  cJSON_ArrayForEach(item, items) {
    check_object(item);
    check(cJSON_Compare(item, yd.v[i], 1), "JSON item equals YAML document");
    i++;
  }
  free_docs(&yd);
  free_docs(&jd);
  sb_buf_free(&yaml);
  sb_buf_free(&again);
  sb_buf_free(&json);
  sb_diags_free(&diags);
}

static const char *find_mark(const char *p, size_t n) {
  size_t m = sizeof(context_mark) - 1, i;

  for (i = 0; n >= m && i <= n - m; i++)
    if (memcmp(p + i, context_mark, m) == 0)
      return p + i;
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *) data, *mark = find_mark(p, size);
  size_t src_len = mark ? (size_t) (mark - p) : size, i;
  sb_doc_limits lim;
  sb_input *in;
  sb_diags diags;

  sb_doc_limits_default(&lim);
  lim.max_input_bytes = 1 << 20;
  lim.max_doc_bytes = 64 * 1024;
  lim.max_depth = 32;
  lim.max_nodes = 20000;
  in = sb_input_new(&lim, "fuzz");
  check(in != NULL, "sb_input_new");
  sb_diags_init(&diags);
  if (mark) {
    size_t skip = src_len + sizeof(context_mark) - 1;
    check(sb_input_add_buffer(in, "context", p + skip, size - skip,
                              SB_INPUT_CONTEXT, &diags) == 0,
          "read context");
  }
  check(sb_input_add_buffer(in, "source", p, src_len, SB_INPUT_SOURCE,
                            &diags) == 0,
        "read source");
  for (i = 0; i < diags.n; i++)
    check(diags.v[i].msg && diags.v[i].msg[0] && diags.v[i].reason,
          "input diagnostics say something");
  for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
    render_mode(in, &modes[i]);
  sb_diags_free(&diags);
  sb_input_free(in);
  return 0;
}
