/* test-translate.c -- the module's frame: options, keys, output kinds,
 * results, metadata (labels, names, ownerReferences), determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sb/err.h"
#include "sb/translate.h"

#include "test-translate-util.h"

static void options_default(void **state) {
  sb_translate_opts o;

  (void) state;
  memset(&o, 0xff, sizeof(o));
  sb_translate_opts_default(&o);
  assert_int_equal(o.mesh, SB_MESH_ISTIO);
  assert_int_equal(o.routes, SB_ROUTES_NATIVE);
  assert_int_equal(o.istio_api, SB_ISTIO_API_V1);
  assert_string_equal(o.cluster_domain, "cluster.local");
  assert_string_equal(o.trust_domain, "cluster.local");
  assert_int_equal(o.linkerd_service_profile, 0);
}

/* "group/version/Kind(resource)" joined by spaces. */
static char *kinds(sb_mesh mesh, sb_routes routes, sb_istio_api api,
                   int sp) {
  sb_translate_opts o;
  const sb_gvk *k;
  sb_buf b;
  size_t i, n;

  sb_translate_opts_default(&o);
  o.mesh = mesh;
  o.routes = routes;
  o.istio_api = api;
  o.linkerd_service_profile = sp;
  n = sb_translate_output_kinds(&o, &k);
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  for (i = 0; i < n; i++)
    sb_buf_addf(&b, "%s%s/%s/%s(%s)", i ? " " : "", k[i].group,
                k[i].version, k[i].kind, k[i].resource);
  return sb_buf_steal(&b, NULL);
}

static void output_kinds(void **state) {
  (void) state;
  TU_EQ(kinds(SB_MESH_ISTIO, SB_ROUTES_NATIVE, SB_ISTIO_API_V1, 0),
        "networking.istio.io/v1/VirtualService(virtualservices) "
        "security.istio.io/v1/AuthorizationPolicy(authorizationpolicies)");
  TU_EQ(kinds(SB_MESH_ISTIO, SB_ROUTES_NATIVE, SB_ISTIO_API_V1BETA1, 0),
        "networking.istio.io/v1beta1/VirtualService(virtualservices) "
        "security.istio.io/v1beta1/AuthorizationPolicy"
        "(authorizationpolicies)");
  TU_EQ(kinds(SB_MESH_ISTIO, SB_ROUTES_GATEWAY_API, SB_ISTIO_API_V1, 0),
        "gateway.networking.k8s.io/v1/HTTPRoute(httproutes) "
        "security.istio.io/v1/AuthorizationPolicy(authorizationpolicies)");
  TU_EQ(kinds(SB_MESH_LINKERD, SB_ROUTES_NATIVE, SB_ISTIO_API_V1, 0),
        "policy.linkerd.io/v1beta3/HTTPRoute(httproutes) "
        "policy.linkerd.io/v1beta3/Server(servers) "
        "policy.linkerd.io/v1alpha1/AuthorizationPolicy"
        "(authorizationpolicies) "
        "policy.linkerd.io/v1alpha1/MeshTLSAuthentication"
        "(meshtlsauthentications)");
  TU_EQ(kinds(SB_MESH_LINKERD, SB_ROUTES_NATIVE, SB_ISTIO_API_V1, 1),
        "linkerd.io/v1alpha2/ServiceProfile(serviceprofiles) "
        "policy.linkerd.io/v1beta3/HTTPRoute(httproutes) "
        "policy.linkerd.io/v1beta3/Server(servers) "
        "policy.linkerd.io/v1alpha1/AuthorizationPolicy"
        "(authorizationpolicies) "
        "policy.linkerd.io/v1alpha1/MeshTLSAuthentication"
        "(meshtlsauthentications)");
  /* Gateway API routes replace Linkerd's own, inbound ones included; the
   * ServiceProfile mode does not apply. */
  TU_EQ(kinds(SB_MESH_LINKERD, SB_ROUTES_GATEWAY_API, SB_ISTIO_API_V1, 1),
        "gateway.networking.k8s.io/v1/HTTPRoute(httproutes) "
        "policy.linkerd.io/v1beta3/Server(servers) "
        "policy.linkerd.io/v1alpha1/AuthorizationPolicy"
        "(authorizationpolicies) "
        "policy.linkerd.io/v1alpha1/MeshTLSAuthentication"
        "(meshtlsauthentications)");
}

static void keys_of_objects(void **state) {
  sb_traffic_split *ts = tu_split_obj("a", "s", "web", "v=1000", "");
  sb_traffic_target *tt = tu_target("a", "t", "api", "a/c", "");
  sb_pod *p = tu_pod("a", "p", "x", NULL, "", "");
  sb_translate_opts o;
  sb_key k[4];

  (void) state;
  sb_translate_opts_default(&o);
  assert_int_equal(sb_translate_keys_of(&ts->obj, &o, k, 4), 1);
  assert_int_equal(k[0].kind, SB_KIND_TRAFFIC_SPLIT);
  assert_string_equal(k[0].ns, "a");
  assert_string_equal(k[0].name, "s");
  assert_int_equal(sb_translate_keys_of(&tt->obj, &o, k, 4), 1);
  assert_int_equal(k[0].kind, SB_KIND_TRAFFIC_TARGET);
  assert_int_equal(sb_translate_keys_of(&p->obj, &o, k, 4), 0);
  o.mesh = SB_MESH_LINKERD;
  assert_int_equal(sb_translate_keys_of(&tt->obj, &o, k, 4), 2);
  assert_int_equal(k[0].kind, SB_KIND_TRAFFIC_TARGET);
  assert_int_equal(k[1].kind, SB_KIND_SERVICE_ACCOUNT);
  assert_string_equal(k[1].ns, "a");
  assert_string_equal(k[1].name, "api");
  /* max is honoured */
  assert_int_equal(sb_translate_keys_of(&tt->obj, &o, k, 1), 1);
  assert_int_equal(sb_translate_keys_of(&tt->obj, &o, k, 0), 0);
  sb_obj_free(&ts->obj);
  sb_obj_free(&tt->obj);
  sb_obj_free(&p->obj);
}

static char *all_keys(const sb_world *w, const sb_translate_opts *o) {
  sb_key *keys;
  sb_buf b;
  size_t i, n;

  assert_int_equal(sb_translate_keys(w, o, &keys, &n), 0);
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  for (i = 0; i < n; i++)
    sb_buf_addf(&b, "%s%s:%s/%s", i ? " " : "", sb_kind_name(keys[i].kind),
                keys[i].ns, keys[i].name);
  free(keys);
  return sb_buf_steal(&b, NULL);
}

static void keys_of_world(void **state) {
  sb_world *w = sb_world_new();
  sb_translate_opts o;

  (void) state;
  sb_translate_opts_default(&o);
  TU_EQ(all_keys(w, &o), "");
  assert_int_equal(sb_world_put(w, &tu_target("a", "t1", "web", "a/c",
                                              "")->obj, NULL), 0);
  assert_int_equal(sb_world_put(w, &tu_split_obj("b", "s2", "x", "v=1000",
                                                 "")->obj, NULL), 0);
  assert_int_equal(sb_world_put(w, &tu_target("a", "t2", "db", "a/c",
                                              "")->obj, NULL), 0);
  assert_int_equal(sb_world_put(w, &tu_target("a", "t3", "web", "a/c",
                                              "")->obj, NULL), 0);
  assert_int_equal(sb_world_put(w, &tu_split_obj("a", "s1", "y", "v=1000",
                                                 "")->obj, NULL), 0);
  assert_int_equal(sb_world_put(w, &tu_svc("a", "web", "80")->obj, NULL),
                   0);
  TU_EQ(all_keys(w, &o), "TrafficSplit:b/s2 TrafficSplit:a/s1 "
        "TrafficTarget:a/t1 TrafficTarget:a/t2 TrafficTarget:a/t3");
  /* Linkerd: each ServiceAccount key once, right after the first
   * TrafficTarget that implies it. */
  o.mesh = SB_MESH_LINKERD;
  TU_EQ(all_keys(w, &o), "TrafficSplit:b/s2 TrafficSplit:a/s1 "
        "TrafficTarget:a/t1 ServiceAccount:a/web TrafficTarget:a/t2 "
        "ServiceAccount:a/db TrafficTarget:a/t3");
  sb_world_free(w);
}

static void results_and_take(void **state) {
  sb_world *w = sb_world_new();
  sb_translate_opts o;
  sb_out out;
  sb_key key = {SB_KIND_TRAFFIC_SPLIT, "a", "s"};
  cJSON *obj;
  char *s;

  (void) state;
  sb_translate_opts_default(&o);
  assert_int_equal(sb_world_put(w, &tu_split_obj("a", "s", "x", "v=1000",
                                                 "")->obj, NULL), 0);
  sb_out_init(&out);
  assert_int_equal(sb_translate(w, &key, &o, &out), 0);
  assert_int_equal(out.nobjs, 1);
  obj = sb_out_take(&out, 0);
  assert_non_null(obj);
  assert_null(out.objs[0]);
  assert_null(sb_out_take(&out, 0));
  assert_null(sb_out_take(&out, 5));
  cJSON_Delete(obj);
  sb_out_free(&out);  /* frees the rest, tolerates the taken slot */
  assert_int_equal(out.nobjs, 0);

  /* Keys that are not reconcile keys, and missing arguments. */
  key.kind = SB_KIND_POD;
  assert_int_equal(sb_translate(w, &key, &o, &out), SB_EINVAL);
  assert_int_equal(sb_translate(NULL, &key, &o, &out), SB_EINVAL);
  sb_out_free(&out);

  /* The same world gives the same bytes. */
  key.kind = SB_KIND_TRAFFIC_SPLIT;
  s = tu_run(w, SB_KIND_TRAFFIC_SPLIT, "a", "s", &o, &out);
  sb_out_free(&out);
  TU_EQ(tu_run(w, SB_KIND_TRAFFIC_SPLIT, "a", "s", &o, &out), s);
  sb_out_free(&out);
  free(s);
  sb_world_free(w);
}

static void long_names_and_labels(void **state) {
  sb_world *w = sb_world_new();
  sb_translate_opts o;
  sb_out out;
  char src[80];
  const cJSON *meta, *labels;

  (void) state;
  memset(src, 'n', 70);
  src[70] = '\0';
  sb_translate_opts_default(&o);
  assert_int_equal(sb_world_put(w, &tu_split_obj("a", src, "x", "v=1000",
                                                 "")->obj, NULL), 0);
  free(tu_run(w, SB_KIND_TRAFFIC_SPLIT, "a", src, &o, &out));
  assert_int_equal(out.nobjs, 1);
  meta = cJSON_GetObjectItem(out.objs[0], "metadata");
  /* "nnn...n-split" (76) is cut to 52 and hashed: 63 characters. */
  assert_int_equal(strlen(cJSON_GetStringValue(
      cJSON_GetObjectItem(meta, "name"))), 63);
  assert_int_equal(strncmp(cJSON_GetStringValue(
      cJSON_GetObjectItem(meta, "name")), src, 52), 0);
  labels = cJSON_GetObjectItem(meta, "labels");
  assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(
      labels, SB_LABEL_SOURCE_NAME))), 63);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
      labels, SB_LABEL_MANAGED_BY)), "smi-bridge");
  /* Offline input has no uid: no ownerReferences at all. */
  assert_null(cJSON_GetObjectItem(meta, "ownerReferences"));
  sb_out_free(&out);
  sb_world_free(w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(options_default),
    cmocka_unit_test(output_kinds),
    cmocka_unit_test(keys_of_objects),
    cmocka_unit_test(keys_of_world),
    cmocka_unit_test(results_and_take),
    cmocka_unit_test(long_names_and_labels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
