/* test-discovery.c -- which SMI versions and mesh kinds a cluster serves,
 * learned from discovery documents served by the fake API server
 * (tests/data/fakeapi/fakeapi.py expands the compact fixtures in
 * tests/data/discovery/ into /apis and one APIResourceList per group
 * version, subresources included).
 *
 * Fixtures: our CRDs (every SMI version) with Istio 1.22+ and Gateway API;
 * the smi-sdk-go CRDs (one version per kind) with Linkerd; the old alias
 * group spec.smi-spec.io with Linkerd's split versions and Istio before
 * 1.22; nothing installed; both meshes; a group version that vanishes
 * (404: not served) or fails (503: the discovery fails); /apis failing.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "sb/discovery.h"
#include "sb/err.h"
#include "sb/kube.h"

#include "fakeapi.h"


static fakeapi fa;
static sb_kubeconfig cfg;

typedef struct result {
  int done;
  int err;
  char msg[512];
  sb_discovery d;
} result;

static void on_discovered(void *arg, int err, const char *msg,
                          const sb_discovery *d) {
  result *r = arg;

  r->done++;
  r->err = err;
  snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
  if (err) {
    assert_null(d);
    return;
  }
  assert_non_null(d);
  assert_int_equal(sb_discovery_copy(d, &r->d), 0);
}

static void closed(void *arg) {
  (*(int *) arg)++;
}

/* Loads the fixture, runs one discovery to its end, closes everything. */
static void discover(const char *fixture, result *r) {
  uv_loop_t loop;
  sb_kube *k;
  int n = 0;

  memset(r, 0, sizeof(*r));
  assert_int_equal(fakeapi_discovery(&fa, fixture), 0);
  memset(&cfg, 0, sizeof(cfg));
  cfg.origin = "test";
  cfg.server = fa.base;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(sb_kube_new(&loop, &cfg, NULL, &k), 0);
  assert_int_equal(sb_discover(k, on_discovered, r), 0);
  assert_int_equal(r->done, 0);  /* never from inside sb_discover */
  while (!r->done)
    uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(r->done, 1);
  assert_int_equal(sb_kube_close(k, closed, &n), 0);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(n, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void expect_smi(const sb_discovery *d, sb_kind k, const char *group,
                       const char *version, const char *resource) {
  if (!group) {
    assert_null(d->smi[k].group);
    assert_null(d->smi[k].version);
    assert_null(d->smi[k].resource);
    return;
  }
  assert_non_null(d->smi[k].group);
  assert_string_equal(d->smi[k].group, group);
  assert_string_equal(d->smi[k].version, version);
  assert_string_equal(d->smi[k].resource, resource);
}

static sb_translate_opts topts(sb_mesh mesh, sb_routes routes,
                               sb_istio_api api, int profiles) {
  sb_translate_opts o;

  memset(&o, 0, sizeof(o));
  o.mesh = mesh;
  o.routes = routes;
  o.istio_api = api;
  o.cluster_domain = "cluster.local";
  o.trust_domain = "cluster.local";
  o.linkerd_service_profile = profiles;
  return o;
}

static int fetched(const char *path) {
  cJSON *reqs = fakeapi_requests(&fa), *x;
  int n = 0;

  cJSON_ArrayForEach(x, reqs) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(x, "path");

    if (cJSON_IsString(p) && strcmp(p->valuestring, path) == 0)
      n++;
  }
  cJSON_Delete(reqs);
  return n;
}

/* ---- tests --------------------------------------------------------------- */

static void ours_with_istio(void **state) {
  sb_translate_opts o;
  const char *msg = "x";
  result r;

  (void) state;
  discover("ours-istio.json", &r);
  assert_int_equal(r.err, 0);
  expect_smi(&r.d, SB_KIND_TRAFFIC_SPLIT, "split.smi-spec.io", "v1alpha4",
             "trafficsplits");
  expect_smi(&r.d, SB_KIND_HTTP_ROUTE_GROUP, "specs.smi-spec.io", "v1alpha4",
             "httproutegroups");
  expect_smi(&r.d, SB_KIND_TCP_ROUTE, "specs.smi-spec.io", "v1alpha4",
             "tcproutes");
  expect_smi(&r.d, SB_KIND_UDP_ROUTE, "specs.smi-spec.io", "v1alpha4",
             "udproutes");
  expect_smi(&r.d, SB_KIND_TRAFFIC_TARGET, "access.smi-spec.io", "v1alpha3",
             "traffictargets");
  expect_smi(&r.d, SB_KIND_SERVICE, NULL, NULL, NULL);
  assert_int_equal(r.d.istio, 1);
  assert_int_equal(r.d.istio_v1, 1);
  assert_int_equal(r.d.linkerd, 0);
  assert_int_equal(r.d.linkerd_profiles, 0);
  assert_int_equal(r.d.gateway_api, 1);
  assert_int_equal(sb_discovery_mesh(&r.d), SB_MESH_ISTIO);

  o = topts(SB_MESH_ISTIO, SB_ROUTES_NATIVE, SB_ISTIO_API_V1, 0);
  assert_int_equal(sb_discovery_serves(&r.d, &o, &msg), 1);
  assert_null(msg);
  o = topts(SB_MESH_ISTIO, SB_ROUTES_GATEWAY_API, SB_ISTIO_API_V1, 0);
  assert_int_equal(sb_discovery_serves(&r.d, &o, &msg), 1);
  o = topts(SB_MESH_LINKERD, SB_ROUTES_NATIVE, SB_ISTIO_API_V1, 0);
  assert_int_equal(sb_discovery_serves(&r.d, &o, &msg), 0);
  assert_string_equal(msg, "policy.linkerd.io/v1beta3 HTTPRoute");

  assert_int_equal(sb_discovery_served(&r.d, "networking.istio.io",
                                       "v1alpha3", "virtualservices"), 1);
  assert_int_equal(sb_discovery_served(&r.d, "networking.istio.io", "v1",
                                       "virtualservices/status"), 0);
  assert_int_equal(sb_discovery_served(&r.d, "", "v1", "services"), 1);
  /* Only our groups are fetched, every version of them once. */
  assert_int_equal(fetched("/apis"), 1);
  assert_int_equal(fetched("/apis/apps/v1"), 0);
  assert_int_equal(fetched("/apis/split.smi-spec.io/v1alpha1"), 1);
  assert_int_equal(fetched("/apis/networking.istio.io/v1alpha3"), 1);
  sb_discovery_free(&r.d);
}

static void sdkgo_with_linkerd(void **state) {
  sb_translate_opts o;
  const char *msg;
  result r;

  (void) state;
  discover("sdkgo-linkerd.json", &r);
  assert_int_equal(r.err, 0);
  expect_smi(&r.d, SB_KIND_TRAFFIC_SPLIT, "split.smi-spec.io", "v1alpha4",
             "trafficsplits");
  expect_smi(&r.d, SB_KIND_HTTP_ROUTE_GROUP, "specs.smi-spec.io", "v1alpha4",
             "httproutegroups");
  expect_smi(&r.d, SB_KIND_UDP_ROUTE, "specs.smi-spec.io", "v1alpha4",
             "udproutes");
  expect_smi(&r.d, SB_KIND_TRAFFIC_TARGET, "access.smi-spec.io", "v1alpha3",
             "traffictargets");
  assert_int_equal(r.d.istio, 0);
  assert_int_equal(r.d.istio_v1, 0);
  assert_int_equal(r.d.linkerd, 1);
  assert_int_equal(r.d.linkerd_profiles, 1);
  assert_int_equal(r.d.gateway_api, 0);
  assert_int_equal(sb_discovery_mesh(&r.d), SB_MESH_LINKERD);
  o = topts(SB_MESH_LINKERD, SB_ROUTES_NATIVE, SB_ISTIO_API_V1, 0);
  assert_int_equal(sb_discovery_serves(&r.d, &o, &msg), 1);
  o = topts(SB_MESH_LINKERD, SB_ROUTES_NATIVE, SB_ISTIO_API_V1, 1);
  assert_int_equal(sb_discovery_serves(&r.d, &o, &msg), 1);
  o = topts(SB_MESH_ISTIO, SB_ROUTES_NATIVE, SB_ISTIO_API_V1, 0);
  assert_int_equal(sb_discovery_serves(&r.d, &o, &msg), 0);
  assert_string_equal(msg, "networking.istio.io/v1 VirtualService");
  sb_discovery_free(&r.d);
}

/* HTTPRouteGroup and TCPRoute only under the alias group, UDPRoute only
 * under specs: each kind is looked up on its own. TrafficSplit v1alpha2 is
 * the newest Linkerd's extension serves. Istio < 1.22: v1beta1 only. */
static void legacy_alias_old_istio(void **state) {
  sb_translate_opts o;
  const char *msg;
  result r;

  (void) state;
  discover("legacy-alias-istio-old.json", &r);
  assert_int_equal(r.err, 0);
  expect_smi(&r.d, SB_KIND_TRAFFIC_SPLIT, "split.smi-spec.io", "v1alpha2",
             "trafficsplits");
  expect_smi(&r.d, SB_KIND_HTTP_ROUTE_GROUP, "spec.smi-spec.io", "v1alpha1",
             "httproutegroups");
  expect_smi(&r.d, SB_KIND_TCP_ROUTE, "spec.smi-spec.io", "v1alpha1",
             "tcproutes");
  expect_smi(&r.d, SB_KIND_UDP_ROUTE, "specs.smi-spec.io", "v1alpha4",
             "udproutes");
  expect_smi(&r.d, SB_KIND_TRAFFIC_TARGET, "access.smi-spec.io", "v1alpha1",
             "traffictargets");
  assert_int_equal(r.d.istio, 1);
  assert_int_equal(r.d.istio_v1, 0);
  assert_int_equal(sb_discovery_mesh(&r.d), SB_MESH_ISTIO);
  o = topts(SB_MESH_ISTIO, SB_ROUTES_NATIVE, SB_ISTIO_API_V1, 0);
  assert_int_equal(sb_discovery_serves(&r.d, &o, &msg), 0);
  assert_string_equal(msg, "networking.istio.io/v1 VirtualService");
  o = topts(SB_MESH_ISTIO, SB_ROUTES_NATIVE, SB_ISTIO_API_V1BETA1, 0);
  assert_int_equal(sb_discovery_serves(&r.d, &o, &msg), 1);
  o = topts(SB_MESH_ISTIO, SB_ROUTES_GATEWAY_API, SB_ISTIO_API_V1, 0);
  assert_int_equal(sb_discovery_serves(&r.d, &o, &msg), 0);
  assert_string_equal(msg, "gateway.networking.k8s.io/v1 HTTPRoute");
  sb_discovery_free(&r.d);
}

static void nothing_installed(void **state) {
  result r;
  int k;

  (void) state;
  discover("none.json", &r);
  assert_int_equal(r.err, 0);
  for (k = 0; k < SB_KIND__COUNT; k++)
    expect_smi(&r.d, (sb_kind) k, NULL, NULL, NULL);
  assert_int_equal(r.d.istio + r.d.linkerd + r.d.gateway_api, 0);
  assert_int_equal(sb_discovery_mesh(&r.d), 0);
  assert_int_equal(r.d.nserved, 0);
  assert_int_equal(fetched("/apis"), 1);
  assert_int_equal(fetched("/apis/apps/v1"), 0);
  sb_discovery_free(&r.d);
}

static void both_meshes(void **state) {
  result r;

  (void) state;
  discover("both-meshes.json", &r);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.d.istio, 1);
  assert_int_equal(r.d.linkerd, 1);
  assert_int_equal(sb_discovery_mesh(&r.d), -1);
  sb_discovery_free(&r.d);
}

/* A version that answers 404 is not served; the next one down is used. */
static void group_gone(void **state) {
  result r;

  (void) state;
  discover("group-gone.json", &r);
  assert_int_equal(r.err, 0);
  expect_smi(&r.d, SB_KIND_TRAFFIC_SPLIT, "split.smi-spec.io", "v1alpha3",
             "trafficsplits");
  assert_int_equal(sb_discovery_served(&r.d, "split.smi-spec.io", "v1alpha4",
                                       "trafficsplits"), 0);
  sb_discovery_free(&r.d);
}

static void failures(void **state) {
  result r;

  (void) state;
  discover("group-fails.json", &r);
  assert_int_equal(r.err, SB_EHTTP);
  assert_string_equal(r.msg, "GET /apis/security.istio.io/v1: fake failure "
                             "503");
  discover("apis-fails.json", &r);
  assert_int_equal(r.err, SB_EHTTP);
  assert_string_equal(r.msg, "GET /apis: fake failure 500");
}

/* The copy owns its strings: it outlives the original. */
static void copy_is_deep(void **state) {
  sb_discovery a, b;
  result r;
  size_t i;

  (void) state;
  discover("sdkgo-linkerd.json", &r);
  assert_int_equal(r.err, 0);
  a = r.d;
  assert_int_equal(sb_discovery_copy(&a, &b), 0);
  sb_discovery_free(&a);
  assert_null(a.storage);
  expect_smi(&b, SB_KIND_TRAFFIC_TARGET, "access.smi-spec.io", "v1alpha3",
             "traffictargets");
  assert_int_equal(b.linkerd, 1);
  assert_true(b.nserved > 10);
  for (i = 1; i < b.nserved; i++)
    assert_true(strcmp(b.served[i - 1], b.served[i]) < 0);
  assert_int_equal(sb_discovery_served(&b, "policy.linkerd.io", "v1beta3",
                                       "servers"), 1);
  sb_discovery_free(&b);
}

static void client_closed_mid_discovery(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  result r;
  int n = 0;

  (void) state;
  memset(&r, 0, sizeof(r));
  assert_int_equal(fakeapi_discovery(&fa, "ours-istio.json"), 0);
  memset(&cfg, 0, sizeof(cfg));
  cfg.origin = "test";
  cfg.server = fa.base;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(sb_kube_new(&loop, &cfg, NULL, &k), 0);
  assert_int_equal(sb_discover(k, on_discovered, &r), 0);
  assert_int_equal(sb_kube_close(k, closed, &n), 0);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.err, SB_ECANCELED);
  assert_int_equal(n, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static int setup(void **state) {
  (void) state;
  signal(SIGPIPE, SIG_IGN);
  return fakeapi_start(&fa);
}

static int teardown(void **state) {
  (void) state;
  fakeapi_stop(&fa);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ours_with_istio),
      cmocka_unit_test(sdkgo_with_linkerd),
      cmocka_unit_test(legacy_alias_old_istio),
      cmocka_unit_test(nothing_installed),
      cmocka_unit_test(both_meshes),
      cmocka_unit_test(group_gone),
      cmocka_unit_test(failures),
      cmocka_unit_test(copy_is_deep),
      cmocka_unit_test(client_closed_mid_discovery),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
