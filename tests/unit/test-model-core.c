/* test-model-core.c -- detection, metadata, Service, Pod, ServiceAccount,
 * and what objects cost in memory. */
#include "model-test.h"

#include "sb/arena.h"

static void detects_every_kind_and_version(void **state) {
  static const struct {
    const char *api, *kind;
    sb_kind want;
    int version;
  } cases[] = {
    { "split.smi-spec.io/v1alpha1", "TrafficSplit", SB_KIND_TRAFFIC_SPLIT, 1 },
    { "split.smi-spec.io/v1alpha2", "TrafficSplit", SB_KIND_TRAFFIC_SPLIT, 2 },
    { "split.smi-spec.io/v1alpha3", "TrafficSplit", SB_KIND_TRAFFIC_SPLIT, 3 },
    { "split.smi-spec.io/v1alpha4", "TrafficSplit", SB_KIND_TRAFFIC_SPLIT, 4 },
    { "split.smi-spec.io/v1alpha5", "TrafficSplit", SB_KIND_TRAFFIC_SPLIT, 0 },
    { "split.smi-spec.io/v1alpha01", "TrafficSplit", SB_KIND_TRAFFIC_SPLIT,
      0 },
    { "split.smi-spec.io/v1", "TrafficSplit", SB_KIND_TRAFFIC_SPLIT, 0 },
    { "specs.smi-spec.io/v1alpha1", "HTTPRouteGroup",
      SB_KIND_HTTP_ROUTE_GROUP, 1 },
    { "specs.smi-spec.io/v1alpha4", "HTTPRouteGroup",
      SB_KIND_HTTP_ROUTE_GROUP, 4 },
    { "spec.smi-spec.io/v1alpha2", "HTTPRouteGroup",
      SB_KIND_HTTP_ROUTE_GROUP, 2 },
    { "specs.smi-spec.io/v1alpha3", "TCPRoute", SB_KIND_TCP_ROUTE, 3 },
    { "spec.smi-spec.io/v1alpha1", "TCPRoute", SB_KIND_TCP_ROUTE, 1 },
    { "specs.smi-spec.io/v1alpha4", "UDPRoute", SB_KIND_UDP_ROUTE, 4 },
    { "access.smi-spec.io/v1alpha1", "TrafficTarget",
      SB_KIND_TRAFFIC_TARGET, 1 },
    { "access.smi-spec.io/v1alpha3", "TrafficTarget",
      SB_KIND_TRAFFIC_TARGET, 3 },
    { "access.smi-spec.io/v1alpha4", "TrafficTarget",
      SB_KIND_TRAFFIC_TARGET, 0 },
    { "v1", "Service", SB_KIND_SERVICE, 1 },
    { "v1", "Pod", SB_KIND_POD, 1 },
    { "v1", "ServiceAccount", SB_KIND_SERVICE_ACCOUNT, 1 },
    /* Not ours. */
    { "v1", "ConfigMap", SB_KIND_UNKNOWN, 0 },
    { "apps/v1", "Deployment", SB_KIND_UNKNOWN, 0 },
    { "apps/v1", "Pod", SB_KIND_UNKNOWN, 0 },
    { "v1", "TrafficSplit", SB_KIND_UNKNOWN, 0 },
    { "specs.smi-spec.io/v1alpha4", "TrafficSplit", SB_KIND_UNKNOWN, 0 },
    { "split.smi-spec.io/v1alpha4", "HTTPRouteGroup", SB_KIND_UNKNOWN, 0 },
    { "metrics.smi-spec.io/v1alpha1", "TrafficMetrics", SB_KIND_UNKNOWN, 0 },
    { "access.smi-spec.io/v1alpha4", "IdentityBinding", SB_KIND_UNKNOWN, 0 },
    { "example.com/v1", "TrafficSplit", SB_KIND_UNKNOWN, 0 },
    { "split.smi-spec.io/v1alpha4", "trafficsplit", SB_KIND_UNKNOWN, 0 },
  };
  char text[256];
  size_t i;
  cJSON *j;
  int v;

  (void) state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    snprintf(text, sizeof(text), "{'apiVersion':'%s','kind':'%s'}",
             cases[i].api, cases[i].kind);
    j = J(text);
    v = -1;
    if (sb_model_detect(j, &v) != cases[i].want || v != cases[i].version)
      fprintf(stderr, "%s %s\n", cases[i].api, cases[i].kind);
    assert_int_equal(sb_model_detect(j, &v), cases[i].want);
    assert_int_equal(v, cases[i].version);
    cJSON_Delete(j);
  }
  j = J("[1]");
  assert_int_equal(sb_model_detect(j, &v), SB_KIND_UNKNOWN);
  cJSON_Delete(j);
  j = J("{'kind':'Pod'}");
  assert_int_equal(sb_model_detect(j, &v), SB_KIND_UNKNOWN);
  cJSON_Delete(j);
}

static void not_ours_is_skipped_quietly(void **state) {
  static const char *const texts[] = {
    "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'x'}}",
    "{'apiVersion':'v1','kind':'ConfigMap'}",
    "{'apiVersion':'metrics.smi-spec.io/v1alpha1','kind':'TrafficMetrics'}",
    "{'apiVersion':'example.com/v1','kind':'TrafficSplit'}",
    "{'kind':'Pod'}",
    "{}",
    "[]",
    "'text'",
  };
  sb_diags d;
  sb_obj *o;
  size_t i;

  (void) state;
  sb_diags_init(&d);
  for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    o = (sb_obj *) 1;
    assert_int_equal(P(texts[i], &o, &d), SB_ENOTSMI);
    assert_null(o);
  }
  assert_int_equal(d.n, 0);
  sb_diags_free(&d);
}

/* Clearly SMI, but with no usable group: an error, not a skip. */
static void smi_without_a_group_is_an_error(void **state) {
  (void) state;
  bad("{'kind':'TrafficSplit','metadata':{'name':'a'}}", 1, "apiVersion",
      "is required (TrafficSplit is split.smi-spec.io/v1alpha1 to "
      "v1alpha4)");
  bad("{'apiVersion':'v1alpha1','kind':'HTTPRouteGroup'}", 1, "apiVersion",
      "\"v1alpha1\" names no API group; HTTPRouteGroup is "
      "specs.smi-spec.io/v1alpha1 to v1alpha4");
  bad("{'apiVersion':'specs.smi-spec.io/v1alpha4','kind':'TrafficSplit'}",
      1, "apiVersion", "TrafficSplit is not in specs.smi-spec.io; it is "
      "split.smi-spec.io/v1alpha1 to v1alpha4");
  bad("{'apiVersion':'split.smi-spec.io/v1alpha3','kind':'TrafficTarget'}",
      1, "apiVersion", "TrafficTarget is not in split.smi-spec.io; it is "
      "access.smi-spec.io/v1alpha1 to v1alpha3");
  bad("{'apiVersion':'split.smi-spec.io','kind':'TrafficSplit'}", 1,
      "apiVersion", "\"split.smi-spec.io\" names no version; TrafficSplit "
      "is split.smi-spec.io/v1alpha1 to v1alpha4");
  bad("{'apiVersion':3,'kind':'TCPRoute'}", 1, "apiVersion",
      "must be a string (got a number)");
}

static void metadata(void **state) {
  char uid[SB_UID_BUF];
  sb_obj *o;

  (void) state;
  o = ok("{'apiVersion':'v1','kind':'ServiceAccount','metadata':{"
         "'name':'web','namespace':'shop','uid':'u-1',"
         "'resourceVersion':'42','creationTimestamp':'2024-01-02T03:04:05Z',"
         "'generation':3,'labels':{'a':'b'}},'secrets':[]}", 0);
  assert_int_equal(o->kind, SB_KIND_SERVICE_ACCOUNT);
  assert_int_equal(o->version, 1);
  assert_string_equal(o->meta->api_version, "v1");
  assert_string_equal(o->name, "web");
  assert_string_equal(o->ns, "shop");
  /* Not a UUID: kept as text. */
  assert_int_equal(o->meta->uid_form, SB_UID_TEXT);
  assert_string_equal(sb_obj_uid(o, uid), "u-1");
  assert_string_equal(o->resource_version, "42");
  assert_true(o->meta->has_created);
  assert_int_equal(o->meta->created, 1704164645);  /* date -d ... +%s */
  assert_int_equal(o->meta->generation, 3);
  assert_null(o->meta->file);
  assert_int_equal(o->meta->line, 0);
  assert_non_null(o->arena);
  sb_obj_free(o);

  /* Offline input: no namespace (the caller picks the default), no uid. */
  o = ok("{'apiVersion':'v1','kind':'ServiceAccount','metadata':{"
         "'name':'web'}}", 0);
  assert_string_equal(o->ns, "");
  assert_null(sb_obj_uid(o, uid));
  assert_null(o->resource_version);
  assert_false(o->meta->has_created);
  assert_int_equal(o->meta->generation, 0);
  sb_obj_free(o);

  bad("{'apiVersion':'v1','kind':'ServiceAccount','metadata':{"
      "'name':'web','generation':1.5}}", 1, "metadata.generation",
      "must be a whole number (got a number)");
  bad("{'apiVersion':'v1','kind':'ServiceAccount','metadata':{"
      "'name':'web','uid':7}}", 1, "metadata.uid",
      "must be a string (got a number)");
  bad("{'apiVersion':'v1','kind':'ServiceAccount','metadata':[]}", 1,
      "metadata", "must be a map (got a list)");
  bad("{'apiVersion':'v1','kind':'ServiceAccount','metadata':{"
      "'name':'a..b'}}", 1, "metadata.name",
      "must be a DNS-1123 subdomain: lower-case letters, digits, '-' and "
      "'.', starting and ending with a letter or digit, at most 253 "
      "characters (got \"a..b\")");
}

/* uids: the API server's UUIDs are packed into 16 bytes and read back
 * exactly; anything else (upper case, other lengths) stays text. */
static void uids(void **state) {
  sb_obj_meta m;
  sb_obj o;
  char buf[SB_UID_BUF];

  (void) state;

  memset(&m, 0, sizeof(m));
  memset(&o, 0, sizeof(o));
  o.meta = &m;
  sb_obj_meta_set_uid(&m, "0b7f4d6e-5a1c-4f3b-8e2d-7c9a1b3e5f60");
  assert_int_equal(m.uid_form, SB_UID_BINARY);
  assert_string_equal(sb_obj_uid(&o, buf),
                      "0b7f4d6e-5a1c-4f3b-8e2d-7c9a1b3e5f60");
  sb_obj_meta_set_uid(&m, "00000000-0000-4000-8000-000000000001");
  assert_string_equal(sb_obj_uid(&o, buf),
                      "00000000-0000-4000-8000-000000000001");
  /* Upper case would not read back the same: text. */
  sb_obj_meta_set_uid(&m, "0B7F4D6E-5A1C-4F3B-8E2D-7C9A1B3E5F60");
  assert_int_equal(m.uid_form, SB_UID_TEXT);
  assert_string_equal(sb_obj_uid(&o, buf),
                      "0B7F4D6E-5A1C-4F3B-8E2D-7C9A1B3E5F60");
  sb_obj_meta_set_uid(&m, "0b7f4d6e-5a1c-4f3b-8e2d-7c9a1b3e5f6");  /* 35 */
  assert_int_equal(m.uid_form, SB_UID_TEXT);
  sb_obj_meta_set_uid(&m, "0b7f4d6e_5a1c-4f3b-8e2d-7c9a1b3e5f60");
  assert_int_equal(m.uid_form, SB_UID_TEXT);
  sb_obj_meta_set_uid(&m, "0b7f4d6e-5a1c-4f3b-8e2d-7c9a1b3e5f60x");
  assert_int_equal(m.uid_form, SB_UID_TEXT);
  sb_obj_meta_set_uid(&m, NULL);
  assert_int_equal(m.uid_form, SB_UID_NONE);
  assert_null(sb_obj_uid(&o, buf));
}

/* A creationTimestamp that is not a time is a warning, and the object
 * is kept without one. */
static void bad_creation_timestamp(void **state) {
  sb_diags d;
  sb_obj *o;
  cJSON *j;

  (void) state;
  j = J("{'apiVersion':'v1','kind':'ServiceAccount','metadata':{"
        "'name':'web','namespace':'shop','creationTimestamp':'yesterday'}}");
  sb_diags_init(&d);
  assert_int_equal(sb_model_parse(j, NULL, &o, &d), 0);
  assert_int_equal(d.n, 1);
  assert_int_equal(d.v[0].sev, SB_DIAG_WARNING);
  assert_string_equal(d.v[0].path, "metadata.creationTimestamp");
  assert_false(o->meta->has_created);
  sb_obj_free(o);
  sb_diags_free(&d);
  cJSON_Delete(j);
}

static void services(void **state) {
  sb_service *s;

  (void) state;
  s = (sb_service *) ok(
      "{'apiVersion':'v1','kind':'Service','metadata':{'name':'web',"
      "'namespace':'shop','uid':'u'},'spec':{'type':'NodePort',"
      "'selector':{'app':'web','tier':'front'},'ports':["
      "{'name':'http','port':80,'targetPort':8080,'appProtocol':'http'},"
      "{'name':'grpc','protocol':'TCP','port':9090,'targetPort':'grpc'},"
      "{'protocol':'UDP','port':53},"
      "{'name':'metrics','port':9100,'targetPort':'9101'}]},"
      "'status':{'loadBalancer':{}}}", 0);
  assert_int_equal(s->obj.kind, SB_KIND_SERVICE);
  assert_string_equal(s->type, "NodePort");
  assert_int_equal(s->nselector, 2);
  assert_string_equal(s->selector[0].key, "app");
  assert_string_equal(s->selector[0].value, "web");
  assert_string_equal(s->selector[1].key, "tier");
  assert_string_equal(s->selector[1].value, "front");
  assert_int_equal(s->nports, 4);
  assert_string_equal(s->ports[0].name, "http");
  assert_string_equal(s->ports[0].protocol, "TCP");
  assert_string_equal(s->ports[0].app_protocol, "http");
  assert_int_equal(s->ports[0].port, 80);
  assert_int_equal(s->ports[0].target_port, 8080);
  assert_null(s->ports[0].target_port_name);
  assert_int_equal(s->ports[1].target_port, 0);
  assert_string_equal(s->ports[1].target_port_name, "grpc");
  assert_null(s->ports[1].app_protocol);
  assert_null(s->ports[2].name);
  assert_string_equal(s->ports[2].protocol, "UDP");
  assert_int_equal(s->ports[2].target_port, 53);  /* defaults to port */
  assert_int_equal(s->ports[3].target_port, 9101);
  assert_null(s->ports[3].target_port_name);
  sb_obj_free(&s->obj);

  /* Defaults: ClusterIP, no selector, no ports. */
  s = (sb_service *) ok("{'apiVersion':'v1','kind':'Service','metadata':"
                        "{'name':'db'}}", 0);
  assert_string_equal(s->type, "ClusterIP");
  assert_int_equal(s->nselector, 0);
  assert_null(s->selector);
  assert_int_equal(s->nports, 0);
  sb_obj_free(&s->obj);

  bad("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web'},"
      "'spec':{'ports':[{'name':'a'},{'port':0},{'port':80,"
      "'protocol':'HTTP'},{'port':81,'targetPort':'Bad_Name'},{'port':82,"
      "'targetPort':70000},{'port':83,'targetPort':'99999'},"
      "{'port':84,'targetPort':true}],'selector':{'v':1}}}", 8,
      "spec.ports[0].port", "is required");
  bad("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web'},"
      "'spec':{'ports':[{'port':0}]}}", 1, "spec.ports[0].port",
      "must be a port number from 1 to 65535 (got 0)");
  bad("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web'},"
      "'spec':{'ports':[{'port':80,'protocol':'HTTP'}]}}", 1,
      "spec.ports[0].protocol", "must be TCP, UDP or SCTP (got \"HTTP\")");
  bad("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web'},"
      "'spec':{'ports':[{'port':80,'targetPort':'Bad_Name'}]}}", 1,
      "spec.ports[0].targetPort",
      "\"Bad_Name\" is not a port name (at most 15 lower-case letters, "
      "digits and '-', with at least one letter)");
  bad("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web'},"
      "'spec':{'ports':[{'port':80,'targetPort':'99999'}]}}", 1,
      "spec.ports[0].targetPort",
      "must be a port number from 1 to 65535 (got \"99999\")");
  bad("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web'},"
      "'spec':{'selector':{'version':1}}}", 1, "spec.selector[version]",
      "must be a string (got a number); quote it");
}

static void pods_keep_only_what_identity_needs(void **state) {
  char uid[SB_UID_BUF];
  sb_diags d;
  sb_obj *o;
  sb_pod *p;
  cJSON *j;

  (void) state;
  sb_diags_init(&d);
  j = test_fixture("model", "pod-api.json");
  assert_int_equal(sb_model_parse(j, NULL, &o, &d), 0);
  assert_int_equal(d.n, 0);
  p = (sb_pod *) o;
  assert_int_equal(o->kind, SB_KIND_POD);
  assert_string_equal(o->name, "web-7d9f8c6b5-x2k4p");
  assert_string_equal(o->ns, "shop");
  assert_string_equal(o->resource_version, "1843321");
  assert_null(sb_obj_uid(o, uid));          /* not kept for pods */
  assert_false(o->meta->has_created);
  assert_int_equal(p->shape->nlabels, 4);
  assert_string_equal(p->shape->labels[0].key, "app");
  assert_string_equal(p->shape->labels[0].value, "web");
  assert_string_equal(p->shape->labels[3].key, "team");
  assert_string_equal(p->shape->labels[3].value, "checkout");
  assert_string_equal(p->shape->service_account, "web");
  assert_string_equal(p->shape->phase, "Running");
  assert_int_equal(p->shape->nports, 1);
  assert_string_equal(p->shape->ports[0].name, "http");
  assert_string_equal(p->shape->ports[0].protocol, "TCP");
  assert_int_equal(p->shape->ports[0].port, 8080);
  sb_obj_free(o);
  cJSON_Delete(j);
  sb_diags_free(&d);

  /* The deprecated serviceAccount, then "default". */
  p = (sb_pod *) ok("{'apiVersion':'v1','kind':'Pod','metadata':{'name':"
                    "'a'},'spec':{'serviceAccount':'old'}}", 0);
  assert_string_equal(p->shape->service_account, "old");
  assert_null(p->shape->phase);
  assert_int_equal(p->shape->nlabels, 0);
  sb_obj_free(&p->obj);
  p = (sb_pod *) ok("{'apiVersion':'v1','kind':'Pod','metadata':{'name':"
                    "'a'},'spec':{'serviceAccountName':''}}", 0);
  assert_string_equal(p->shape->service_account, "default");
  sb_obj_free(&p->obj);

  /* Ports of every container and of native sidecars, not of plain init
   * containers. */
  p = (sb_pod *) ok(
      "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'a'},'spec':{"
      "'containers':[{'name':'app','ports':[{'containerPort':80},"
      "{'containerPort':53,'protocol':'UDP','name':'dns'}]},"
      "{'name':'side','ports':[{'containerPort':9090}]}],"
      "'initContainers':[{'name':'init','ports':[{'containerPort':1}]},"
      "{'name':'proxy','restartPolicy':'Always','ports':"
      "[{'containerPort':4143,'name':'proxy'}]}]},"
      "'status':{'phase':'Pending'}}", 0);
  assert_int_equal(p->shape->nports, 4);
  assert_int_equal(p->shape->ports[0].port, 80);
  assert_null(p->shape->ports[0].name);
  assert_string_equal(p->shape->ports[1].protocol, "UDP");
  assert_string_equal(p->shape->ports[1].name, "dns");
  assert_int_equal(p->shape->ports[2].port, 9090);
  assert_int_equal(p->shape->ports[3].port, 4143);
  assert_string_equal(p->shape->phase, "Pending");
  sb_obj_free(&p->obj);

  bad("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'a','labels':"
      "{'v':2}},'spec':{'containers':[{'ports':[{'name':'x'},"
      "{'containerPort':70000}]},'c']}}", 4,
      "spec.containers[0].ports[0].containerPort", "is required");
  bad("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'a'},'spec':{"
      "'containers':[{'ports':[{'containerPort':70000}]}]}}", 1,
      "spec.containers[0].ports[0].containerPort",
      "must be a port number from 1 to 65535 (got 70000)");
  bad("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'a','labels':"
      "{'v':2}}}", 1, "metadata.labels[v]",
      "must be a string (got a number); quote it");
  bad("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'a'},'spec':{"
      "'containers':['c']}}", 1, "spec.containers[0]",
      "must be a map (got a string)");
}

static size_t arena_overhead(void) {
  sb_arena *a = sb_arena_new(8);
  size_t n;

  assert_non_null(a);
  n = sb_arena_size(a) - 8;
  sb_arena_free(a);
  return n;
}

#define A8(n) (((n) + 7u) & ~(size_t) 7u)

/* A typical Pod (4 labels, 1 port) is one allocation with no slack: the
 * arena holds the struct, its shape, two arrays and the strings that are
 * not shared static ones, nothing else (no meta: pods share one). */
static void a_pod_is_one_small_allocation(void **state) {
  sb_diags d;
  sb_obj *o;
  cJSON *j;
  size_t want, strings;

  (void) state;
  sb_diags_init(&d);
  j = test_fixture("model", "pod-api.json");
  assert_int_equal(sb_model_parse(j, NULL, &o, &d), 0);
  /* name, namespace, resourceVersion, label values "web", "7d9f8c6b5",
   * "v1", the key "team" and its value, the ServiceAccount; "app",
   * "pod-template-hash", "version", "http", "TCP", "Running" are
   * shared. */
  strings = sizeof("web-7d9f8c6b5-x2k4p") + sizeof("shop") +
            sizeof("1843321") + sizeof("web") + sizeof("7d9f8c6b5") +
            sizeof("v1") + sizeof("team") + sizeof("checkout") +
            sizeof("web");
  want = arena_overhead() + A8(sizeof(sb_pod)) + A8(sizeof(sb_pod_shape)) +
         A8(4 * sizeof(sb_kv)) +
         A8(sizeof(sb_container_port)) + A8(strings);
  printf("typical Pod (4 labels, 1 port): %zu bytes in one allocation "
         "(struct %zu, arena header %zu)\n", sb_obj_size(o),
         sizeof(sb_pod), arena_overhead());
  assert_int_equal(sb_obj_size(o), want);
  assert_true(sb_obj_size(o) <= 360);
  sb_obj_free(o);
  cJSON_Delete(j);
  sb_diags_free(&d);
}

static sb_obj *pod_named(const char *name, const char *ns,
                         const char *hash, int port) {
  char text[1024];
  sb_diags d;
  sb_obj *o;
  cJSON *j;

  snprintf(text, sizeof(text),
           "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s',"
           "'namespace':'%s','resourceVersion':'77','uid':'u',"
           "'labels':{'app':'web','pod-template-hash':'%s','team':'pay'}},"
           "'spec':{'serviceAccountName':'web-sa','containers':[{'name':"
           "'c','ports':[{'containerPort':%d,'name':'http'},"
           "{'containerPort':9090,'name':'admin-port','protocol':'UDP'}]}]},"
           "'status':{'phase':'Booting'}}", name, ns, hash, port);
  j = J(text);
  sb_diags_init(&d);
  assert_int_equal(sb_model_parse(j, NULL, &o, &d), 0);
  cJSON_Delete(j);
  sb_diags_free(&d);
  return o;
}

static void same_pod(const sb_pod *a, const sb_pod *b) {
  size_t i;

  assert_string_equal(a->obj.name, b->obj.name);
  assert_string_equal(a->obj.ns, b->obj.ns);
  assert_string_equal(a->obj.resource_version, b->obj.resource_version);
  assert_string_equal(a->obj.meta->api_version, b->obj.meta->api_version);
  assert_int_equal(a->obj.kind, b->obj.kind);
  assert_string_equal(a->shape->service_account, b->shape->service_account);
  assert_string_equal(a->shape->phase, b->shape->phase);
  assert_int_equal(a->shape->nlabels, b->shape->nlabels);
  for (i = 0; i < a->shape->nlabels; i++) {
    assert_string_equal(a->shape->labels[i].key, b->shape->labels[i].key);
    assert_string_equal(a->shape->labels[i].value, b->shape->labels[i].value);
  }
  assert_int_equal(a->shape->nports, b->shape->nports);
  for (i = 0; i < a->shape->nports; i++) {
    assert_int_equal(a->shape->ports[i].port, b->shape->ports[i].port);
    assert_string_equal(a->shape->ports[i].name, b->shape->ports[i].name);
    assert_string_equal(a->shape->ports[i].protocol,
                        b->shape->ports[i].protocol);
  }
}

/* Replicas share one shape (labels, ports, ServiceAccount, phase and
 * namespace); a pod reads the same before and after; a block goes with
 * its last pod, and outlives the pool when pods still hold it. */
static void pods_share_what_they_repeat(void **state) {
  sb_pool *pool = sb_pool_new();
  sb_obj *a = pod_named("web-1", "shop", "7d9f", 8080);
  sb_obj *b = pod_named("web-2", "shop", "7d9f", 8080);
  sb_obj *c = pod_named("web-3", "shop", "8e0a", 8081);  /* a new RS */
  sb_obj *ra = pod_named("web-1", "shop", "7d9f", 8080);
  sb_obj *rc = pod_named("web-3", "shop", "8e0a", 8081);
  sb_obj *before = a;
  size_t size = sb_obj_size(a);
  const sb_pod *pa, *pb, *pc;

  (void) state;
  assert_non_null(pool);
  assert_int_equal(sb_obj_share(&a, pool), 0);
  assert_ptr_not_equal(a, before);
  /* Shared, a pod is its struct, name and resourceVersion. */
  assert_int_equal(sb_obj_size(a),
                   sizeof(sb_pod) + sizeof("web-1") + sizeof("77"));
  assert_true(sb_obj_size(a) < size);
  assert_int_equal(sb_obj_share(&b, pool), 0);
  assert_int_equal(sb_obj_share(&c, pool), 0);
  pa = (const sb_pod *) a;
  pb = (const sb_pod *) b;
  pc = (const sb_pod *) c;
  same_pod(pa, (const sb_pod *) ra);
  same_pod(pc, (const sb_pod *) rc);
  assert_string_equal(pb->obj.name, "web-2");
  /* One shape for the replicas of a ReplicaSet, another for the next. */
  assert_ptr_equal(pa->shape, pb->shape);
  assert_ptr_equal(pa->obj.ns, pb->obj.ns);
  assert_ptr_not_equal(pa->shape, pc->shape);
  assert_int_equal(sb_pool_count(pool), 2);
  printf("shared pod: %zu bytes of its own instead of %zu; pool %zu bytes "
         "for 3 pods\n", sb_obj_size(a), size, sb_pool_bytes(pool));

  /* Sharing twice changes nothing. */
  before = a;
  assert_int_equal(sb_obj_share(&a, pool), 0);
  assert_ptr_equal(a, before);

  /* The last pod of a ReplicaSet takes its block along. */
  sb_obj_free(c);
  assert_int_equal(sb_pool_count(pool), 1);
  sb_obj_free(b);
  assert_int_equal(sb_pool_count(pool), 1);
  /* The pool may go first: a's blocks stay valid until a goes. */
  sb_pool_free(pool);
  same_pod((const sb_pod *) a, (const sb_pod *) ra);
  sb_obj_free(a);
  sb_obj_free(ra);
  sb_obj_free(rc);
}

/* Shapes compare by content, so a pod that could not be shared still
 * reads as unchanged when nothing identity derivation uses changed. */
static void shapes_compare_by_content(void **state) {
  sb_obj *a = pod_named("web-1", "shop", "7d9f", 8080);
  sb_obj *b = pod_named("web-2", "other", "7d9f", 8080);
  sb_obj *c = pod_named("web-1", "shop", "7d9f", 8081);
  sb_obj *d = pod_named("web-1", "shop", "8e0a", 8080);
  const sb_pod_shape *sa = ((sb_pod *) a)->shape;
  sb_pod_shape x;

  (void) state;
  assert_true(sb_pod_shape_same(sa, sa));
  assert_true(sb_pod_shape_same(sa, ((sb_pod *) b)->shape));
  assert_false(sb_pod_shape_same(sa, ((sb_pod *) c)->shape));  /* port */
  assert_false(sb_pod_shape_same(sa, ((sb_pod *) d)->shape));  /* label */
  x = *sa;
  x.phase = "Running";
  assert_false(sb_pod_shape_same(sa, &x));
  x = *sa;
  x.service_account = "default";
  assert_false(sb_pod_shape_same(sa, &x));
  x = *sa;
  x.nlabels--;
  assert_false(sb_pod_shape_same(sa, &x));
  sb_obj_free(a);
  sb_obj_free(b);
  sb_obj_free(c);
  sb_obj_free(d);
}

/* Other kinds are left alone. */
static void only_pods_are_shared(void **state) {
  sb_pool *pool = sb_pool_new();
  sb_obj *svc = ok("{'apiVersion':'v1','kind':'Service','metadata':{'name':"
                   "'web','namespace':'shop'},'spec':{'ports':[{'port':80}]}}", 0);
  sb_obj *before = svc;

  (void) state;
  assert_int_equal(sb_obj_share(&svc, pool), 0);
  assert_ptr_equal(svc, before);
  assert_int_equal(sb_pool_count(pool), 0);
  sb_obj_free(svc);
  sb_pool_free(pool);
}

static void smi_objects_are_small_too(void **state) {
  sb_obj *o;
  size_t strings;

  (void) state;
  /* Exact too: defaulted namespaces share the object's string, kinds are
   * static, and nothing is left over. */
  o = ok("{'apiVersion':'access.smi-spec.io/v1alpha3','kind':"
         "'TrafficTarget','metadata':{'name':'t','namespace':'shop'},"
         "'spec':{'destination':{'kind':'ServiceAccount','name':'a'},"
         "'sources':[{'kind':'ServiceAccount','name':'b','namespace':"
         "'other'}],'rules':[{'kind':'HTTPRouteGroup','name':'r',"
         "'matches':['m1','m2']}]}}", 0);
  strings = sizeof("t") + sizeof("shop") + sizeof("a") + sizeof("b") +
            sizeof("other") + sizeof("r") + sizeof("m1") + sizeof("m2");
  assert_int_equal(sb_obj_size(o),
                   arena_overhead() + A8(sizeof(sb_traffic_target)) +
                   A8(sizeof(sb_obj_meta)) + A8(strings) +
                   A8(sizeof(sb_subject)) +
                   A8(sizeof(sb_tt_rule)) + A8(2 * sizeof(char *)));
  printf("TrafficTarget (1 source, 1 rule): %zu bytes\n", sb_obj_size(o));
  sb_obj_free(o);
  o = ok("{'apiVersion':'split.smi-spec.io/v1alpha1','kind':'TrafficSplit',"
         "'metadata':{'name':'podinfo','namespace':'test','uid':"
         "'0b7f4d6e-5a1c-4f3b-8e2d-7c9a1b3e5f60','resourceVersion':'184467',"
         "'creationTimestamp':'2024-03-02T10:15:00Z','generation':7},"
         "'spec':{'service':'podinfo','backends':[{'service':"
         "'podinfo-primary','weight':'95'},{'service':'podinfo-canary',"
         "'weight':'5'}]}}", 0);
  printf("TrafficSplit (2 backends): %zu bytes\n", sb_obj_size(o));
  assert_true(sb_obj_size(o) <= 400);
  sb_obj_free(o);
  o = ok("{'apiVersion':'specs.smi-spec.io/v1alpha4','kind':"
         "'HTTPRouteGroup','metadata':{'name':'r','namespace':'shop'},"
         "'spec':{'matches':[{'name':'metrics','pathRegex':'/metrics',"
         "'methods':['GET']},{'name':'ff','headers':{'user-agent':"
         "'.*Firefox.*'}}]}}", 0);
  printf("HTTPRouteGroup (2 matches): %zu bytes\n", sb_obj_size(o));
  assert_true(sb_obj_size(o) <= 400);
  sb_obj_free(o);
  o = ok("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web',"
         "'namespace':'shop'},'spec':{'selector':{'app':'web'},'ports':"
         "[{'name':'http','port':80,'targetPort':8080}]}}", 0);
  printf("Service (1 selector, 1 port): %zu bytes\n", sb_obj_size(o));
  assert_true(sb_obj_size(o) <= 300);
  sb_obj_free(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(detects_every_kind_and_version),
    cmocka_unit_test(not_ours_is_skipped_quietly),
    cmocka_unit_test(smi_without_a_group_is_an_error),
    cmocka_unit_test(metadata),
    cmocka_unit_test(uids),
    cmocka_unit_test(bad_creation_timestamp),
    cmocka_unit_test(services),
    cmocka_unit_test(pods_keep_only_what_identity_needs),
    cmocka_unit_test(a_pod_is_one_small_allocation),
    cmocka_unit_test(pods_share_what_they_repeat),
    cmocka_unit_test(shapes_compare_by_content),
    cmocka_unit_test(only_pods_are_shared),
    cmocka_unit_test(smi_objects_are_small_too),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
