/* test-gateway.c -- `--routes gateway-api`: TrafficSplit -> Gateway API
 * HTTPRoute (Service parent) with either mesh; authorization unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sb/translate.h"

#include "test-translate-util.h"

#define LABELS(kind, name)                                                   \
  "\"labels\":{\"app.kubernetes.io/managed-by\":\"smi-bridge\","           \
  "\"smi-bridge.io/source-kind\":\"" kind "\","                              \
  "\"smi-bridge.io/source-name\":\"" name "\"}"
#define GW_ROUTE(name, src)                                                  \
  "{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"HTTPRoute\"," \
  "\"metadata\":{\"name\":\"" name "\",\"namespace\":\"shop\","             \
  LABELS("TrafficSplit", src)
#define PARENT(svc, port)                                                    \
  "\"parentRefs\":[{\"group\":\"\",\"kind\":\"Service\",\"name\":\""         \
  svc "\",\"port\":" #port "}]"
#define BREF(n, port, w)                                                     \
  "{\"name\":\"" n "\",\"port\":" #port ",\"weight\":" #w "}"

typedef struct fixture {
  sb_world *w;
  sb_translate_opts o;
  sb_out out;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));

  assert_non_null(f);
  f->w = sb_world_new();
  assert_non_null(f->w);
  sb_translate_opts_default(&f->o);
  f->o.routes = SB_ROUTES_GATEWAY_API;
  sb_out_init(&f->out);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;

  sb_out_free(&f->out);
  sb_world_free(f->w);
  free(f);
  return 0;
}

static void put(fixture *f, void *obj) {
  assert_int_equal(sb_world_put(f->w, obj, NULL), 0);
}

static char *run(fixture *f, sb_kind kind, const char *name) {
  sb_out_free(&f->out);
  return tu_run(f->w, kind, "shop", name, &f->o, &f->out);
}

#define CANARY_80                                                            \
  GW_ROUTE("canary-split-80", "canary") "},\"spec\":{" PARENT("web", 80)     \
  ",\"rules\":[{\"backendRefs\":[" BREF("web-v1", 80, 10) ","                \
  BREF("web-v2", 80, 5) "]}]}}"

static void split_with_istio(void **state) {
  fixture *f = *state;

  put(f, tu_split_obj("shop", "canary", "web", "web-v1=1000,web-v2=500",
                      ""));
  put(f, tu_svc("shop", "web", "80"));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "canary"), CANARY_80);
  /* Percentages are for VirtualServices only. */
  f->o.istio_api = SB_ISTIO_API_V1BETA1;
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "canary"), CANARY_80);
}

static void split_with_linkerd(void **state) {
  fixture *f = *state;

  /* The gateway routes win over the legacy ServiceProfile mode. */
  f->o.mesh = SB_MESH_LINKERD;
  f->o.linkerd_service_profile = 1;
  put(f, tu_split_obj("shop", "canary", "web", "web-v1=1000,web-v2=500",
                      ""));
  put(f, tu_svc("shop", "web", "80"));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "canary"), CANARY_80);
}

static void split_matches_limits(void **state) {
  fixture *f = *state;
  sb_http_route_group *g = tu_hrg("shop", "g");
  cJSON *rules;
  char name[16];
  int i;

  /* 70 matches: one rule of 64, one of 6, then the catch-all. */
  for (i = 0; i < 70; i++) {
    snprintf(name, sizeof(name), "/p%d$", i);
    tu_hrg_match(g, name, name, "", "");
  }
  put(f, g);
  put(f, tu_split_obj("shop", "ab", "web", "v1=1000", "g"));
  put(f, tu_svc("shop", "web", "80"));
  free(run(f, SB_KIND_TRAFFIC_SPLIT, "ab"));
  assert_int_equal(f->out.nobjs, 1);
  rules = cJSON_GetObjectItem(cJSON_GetObjectItem(f->out.objs[0], "spec"),
                              "rules");
  assert_int_equal(cJSON_GetArraySize(rules), 3);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
      cJSON_GetArrayItem(rules, 0), "matches")), 64);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
      cJSON_GetArrayItem(rules, 1), "matches")), 6);
  {
    char *s = cJSON_PrintUnformatted(cJSON_GetArrayItem(rules, 2));
    assert_string_equal(s, "{\"backendRefs\":[{\"name\":\"web\","
                        "\"port\":80}]}");
    free(s);
  }
  /* 126 matches and the catch-all make 127: the most that fits. */
  for (; i < 127; i++) {
    snprintf(name, sizeof(name), "/p%d$", i);
    tu_hrg_match(g, name, name, "", "");
  }
  g->nmatches = 126;
  free(run(f, SB_KIND_TRAFFIC_SPLIT, "ab"));
  assert_int_equal(f->out.outcome, SB_OUTCOME_OK);
  g->nmatches = 127;
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "ab"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  TU_EQ(tu_diags(&f->out), "E Unsupported spec.matches: 127 HTTP matches "
        "and the catch-all do not fit in one HTTPRoute: it holds at most "
        "127 matches in all");
}

static void split_with_matches_exact_output(void **state) {
  fixture *f = *state;
  sb_http_route_group *g = tu_hrg("shop", "g");

  tu_hrg_match(g, "seg", "^/api(/.*)?$", "GET", "");
  put(f, g);
  put(f, tu_split_obj("shop", "ab", "web", "v1=1000,v2=1000", "g"));
  put(f, tu_svc("shop", "web", "8080"));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "ab"),
        GW_ROUTE("ab-split-8080", "ab") "},\"spec\":{" PARENT("web", 8080)
        ",\"rules\":[{\"matches\":[{\"path\":{\"type\":\"PathPrefix\","
        "\"value\":\"/api\"},\"method\":\"GET\"}],\"backendRefs\":["
        BREF("v1", 8080, 1) "," BREF("v2", 8080, 1) "]},{\"backendRefs\":"
        "[{\"name\":\"web\",\"port\":8080}]}]}}");
}

static void targets_keep_native_authorization(void **state) {
  fixture *f = *state;

  put(f, tu_pod("shop", "p", "web", NULL, "app=web", "8080"));
  put(f, tu_target("shop", "t", "web", "shop/c", "TCPRoute:all"));
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "all", ""));
  free(run(f, SB_KIND_TRAFFIC_TARGET, "t"));
  assert_int_equal(f->out.nobjs, 1);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
      f->out.objs[0], "apiVersion")), "security.istio.io/v1");
  f->o.mesh = SB_MESH_LINKERD;
  free(run(f, SB_KIND_TRAFFIC_TARGET, "t"));
  assert_int_equal(f->out.nobjs, 2);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
      f->out.objs[1], "kind")), "AuthorizationPolicy");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
      f->out.objs[1], "apiVersion")), "policy.linkerd.io/v1alpha1");
}

/* With Linkerd, the per-route authorization routes are Gateway API
 * HTTPRoutes too (Linkerd reads both kinds; its policies target both). */
static void linkerd_inbound_routes(void **state) {
  fixture *f = *state;
  sb_http_route_group *g = tu_hrg("shop", "g");

  f->o.mesh = SB_MESH_LINKERD;
  tu_hrg_match(g, "m", "/metrics$", "GET", "");
  put(f, g);
  put(f, tu_pod("shop", "p", "web", NULL, "app=web", "8080"));
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "all", ""));
  put(f, tu_target("shop", "prom", "web", "mon/prom", "HTTPRouteGroup:g"));
  put(f, tu_target("shop", "full", "web", "shop/c", "TCPRoute:all"));
  free(run(f, SB_KIND_TRAFFIC_TARGET, "prom"));
  assert_int_equal(f->out.nobjs, 3);
  {
    char *s = cJSON_PrintUnformatted(f->out.objs[1]);
    assert_string_equal(s,
        "{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":"
        "\"HTTPRoute\",\"metadata\":{\"name\":\"prom-access-8080\","
        "\"namespace\":\"shop\"," LABELS("TrafficTarget", "prom") "},"
        "\"spec\":{\"parentRefs\":[{\"group\":\"policy.linkerd.io\","
        "\"kind\":\"Server\",\"name\":\"web-sa-8080\"}],\"rules\":[{"
        "\"matches\":[{\"path\":{\"type\":\"Exact\",\"value\":"
        "\"/metrics\"},\"method\":\"GET\"}]}]}}");
    free(s);
    s = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetObjectItem(
        f->out.objs[2], "spec"), "targetRef"));
    assert_string_equal(s, "{\"group\":\"gateway.networking.k8s.io\","
                        "\"kind\":\"HTTPRoute\",\"name\":"
                        "\"prom-access-8080\"}");
    free(s);
  }
  /* The catch-all of the shared Server is a Gateway API route as well. */
  free(run(f, SB_KIND_SERVICE_ACCOUNT, "web"));
  assert_int_equal(f->out.nobjs, 2);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
      f->out.objs[1], "apiVersion")), "gateway.networking.k8s.io/v1");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
      f->out.objs[1], "kind")), "HTTPRoute");
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(split_with_istio),
    T(split_with_linkerd),
    T(split_matches_limits),
    T(split_with_matches_exact_output),
    T(targets_keep_native_authorization),
    T(linkerd_inbound_routes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
