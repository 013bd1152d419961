/* test-linkerd.c -- TrafficSplit -> HTTPRoutes / ServiceProfile,
 * TrafficTarget -> MeshTLSAuthentication + AuthorizationPolicy (+ inbound
 * HTTPRoute), ServiceAccount -> shared Servers. */
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
#define HEAD(api, kind, name, skind, src)                                    \
  "{\"apiVersion\":\"" api "\",\"kind\":\"" kind "\",\"metadata\":"          \
  "{\"name\":\"" name "\",\"namespace\":\"shop\"," LABELS(skind, src)
#define ROUTE(name, src)                                                     \
  HEAD("policy.linkerd.io/v1beta3", "HTTPRoute", name, "TrafficSplit", src)
#define PARENT(svc, port)                                                    \
  "\"parentRefs\":[{\"group\":\"core\",\"kind\":\"Service\",\"name\":\""     \
  svc "\",\"port\":" #port "}]"
#define BREF(n, port, w)                                                     \
  "{\"name\":\"" n "\",\"port\":" #port ",\"weight\":" #w "}"
#define MTLS(name, src)                                                      \
  HEAD("policy.linkerd.io/v1alpha1", "MeshTLSAuthentication", name,          \
       "TrafficTarget", src)
#define AUTHZ(name, src)                                                     \
  HEAD("policy.linkerd.io/v1alpha1", "AuthorizationPolicy", name,            \
       "TrafficTarget", src)
#define REF(kind, name)                                                      \
  "{\"group\":\"policy.linkerd.io\",\"kind\":\"" kind "\",\"name\":\""       \
  name "\"}"

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
  f->o.mesh = SB_MESH_LINKERD;
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

/* ---- TrafficSplit ------------------------------------------------------- */

static void split_per_port(void **state) {
  fixture *f = *state;
  sb_traffic_split *ts = tu_split_obj("shop", "canary", "web",
                                      "web-v1=90000,web-v2=10000,web-v3=0",
                                      "");

  tu_meta(&ts->obj, "u-1", NULL);
  put(f, ts);
  put(f, tu_svc("shop", "web", "8080,80,53/UDP"));
  put(f, tu_svc("shop", "web-v1", "80,8080"));
  put(f, tu_svc("shop", "web-v2", "80"));
  /* web-v3 is not known yet: kept (SMI allows splits to future Services). */
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "canary"),
        ROUTE("canary-split-80", "canary") ",\"ownerReferences\":[{"
        "\"apiVersion\":\"split.smi-spec.io/v1alpha4\",\"kind\":"
        "\"TrafficSplit\",\"name\":\"canary\",\"uid\":\"u-1\",\"controller\":"
        "true}]},\"spec\":{" PARENT("web", 80) ",\"rules\":[{\"backendRefs\":"
        "[" BREF("web-v1", 80, 90) "," BREF("web-v2", 80, 10) ","
        BREF("web-v3", 80, 0) "]}]}}\n"
        ROUTE("canary-split-8080", "canary") ",\"ownerReferences\":[{"
        "\"apiVersion\":\"split.smi-spec.io/v1alpha4\",\"kind\":"
        "\"TrafficSplit\",\"name\":\"canary\",\"uid\":\"u-1\",\"controller\":"
        "true}]},\"spec\":{" PARENT("web", 8080) ",\"rules\":[{"
        "\"backendRefs\":[" BREF("web-v1", 8080, 90) ","
        BREF("web-v3", 8080, 0) "]}]}}");
  TU_EQ(tu_diags(&f->out),
        "W Unsupported spec.service: port 53/UDP of Service shop/web is not "
        "split (HTTPRoutes carry TCP only)\n"
        "W Unsupported spec.backends[1]: Service shop/web-v2 has no port "
        "8080; it takes no part in the split on that port");
  TU_EQ(tu_deps(&f->out), "obj:TrafficSplit:shop/canary "
        "splits-of-root:TrafficSplit:shop/web obj:Service:shop/web "
        "obj:Service:shop/web-v1 obj:Service:shop/web-v2 "
        "obj:Service:shop/web-v3");
}

static void split_port_nobody_serves(void **state) {
  fixture *f = *state;

  put(f, tu_split_obj("shop", "s", "web", "a=1000,b=0", ""));
  put(f, tu_svc("shop", "web", "80,9000"));
  put(f, tu_svc("shop", "a", "80"));
  /* On 9000 only b (weight 0) is left: no route for that port. */
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "s"),
        ROUTE("s-split-80", "s") "},\"spec\":{" PARENT("web", 80)
        ",\"rules\":[{\"backendRefs\":[" BREF("a", 80, 1) ","
        BREF("b", 80, 0) "]}]}}");
  TU_EQ(tu_diags(&f->out),
        "W Unsupported spec.backends[0]: Service shop/a has no port 9000; "
        "it takes no part in the split on that port\n"
        "W Unsupported spec.backends: no backend with a non-zero weight "
        "serves port 9000; that port is not split (requests keep going to "
        "the root Service)");
}

static void split_missing_root_service(void **state) {
  fixture *f = *state;

  put(f, tu_split_obj("shop", "s", "web", "a=1000", ""));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "s"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  TU_EQ(tu_diags(&f->out), "E MissingDependency spec.service: needs "
        "Service shop/web to know its ports (pass it with --context-file)");
  TU_EQ(tu_deps(&f->out), "obj:TrafficSplit:shop/s "
        "splits-of-root:TrafficSplit:shop/web obj:Service:shop/web "
        "obj:Service:shop/a");
}

static void split_matches_and_catch_all(void **state) {
  fixture *f = *state;
  sb_http_route_group *g = tu_hrg("shop", "g");
  char name[16];
  int i;

  tu_hrg_match(g, "ff", "/api", "GET", "user-agent=.*Firefox.*");
  /* 9 more: 10 match entries in all, more than Linkerd's 8 per rule. */
  for (i = 0; i < 9; i++) {
    snprintf(name, sizeof(name), "/p%d$", i);
    tu_hrg_match(g, name, name, "", "");
  }
  put(f, g);
  put(f, tu_split_obj("shop", "ab", "web", "v1=1000,v2=3000", "g"));
  put(f, tu_svc("shop", "web", "80"));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "ab"),
        ROUTE("ab-split-80", "ab") "},\"spec\":{" PARENT("web", 80)
        ",\"rules\":[{\"matches\":["
        "{\"path\":{\"type\":\"RegularExpression\",\"value\":\"(?:/api).*\"},"
        "\"headers\":[{\"type\":\"RegularExpression\",\"name\":"
        "\"user-agent\",\"value\":\".*Firefox.*\"}],\"method\":\"GET\"},"
        "{\"path\":{\"type\":\"Exact\",\"value\":\"/p0\"}},"
        "{\"path\":{\"type\":\"Exact\",\"value\":\"/p1\"}},"
        "{\"path\":{\"type\":\"Exact\",\"value\":\"/p2\"}},"
        "{\"path\":{\"type\":\"Exact\",\"value\":\"/p3\"}},"
        "{\"path\":{\"type\":\"Exact\",\"value\":\"/p4\"}},"
        "{\"path\":{\"type\":\"Exact\",\"value\":\"/p5\"}},"
        "{\"path\":{\"type\":\"Exact\",\"value\":\"/p6\"}}],"
        "\"backendRefs\":[" BREF("v1", 80, 1) "," BREF("v2", 80, 3) "]},"
        "{\"matches\":["
        "{\"path\":{\"type\":\"Exact\",\"value\":\"/p7\"}},"
        "{\"path\":{\"type\":\"Exact\",\"value\":\"/p8\"}}],"
        "\"backendRefs\":[" BREF("v1", 80, 1) "," BREF("v2", 80, 3) "]},"
        "{\"backendRefs\":[{\"name\":\"web\",\"port\":80}]}]}}");
  assert_int_equal(f->out.diags.n, 0);
}

static void split_too_many_matches(void **state) {
  fixture *f = *state;
  sb_http_route_group *g = tu_hrg("shop", "g");
  char name[16];
  int i;

  /* 15 rules of 8 plus the catch-all is the most one route can hold. */
  for (i = 0; i < 121; i++) {
    snprintf(name, sizeof(name), "/p%d$", i);
    tu_hrg_match(g, name, name, "", "");
  }
  put(f, g);
  put(f, tu_split_obj("shop", "ab", "web", "v1=1000", "g"));
  put(f, tu_svc("shop", "web", "80"));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "ab"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  TU_EQ(tu_diags(&f->out), "E Unsupported spec.matches: 121 HTTP matches "
        "need 16 rules of at most 8 matches and the catch-all rule, 17 in "
        "all; one HTTPRoute holds at most 16 rules");
  /* 120 fit. */
  g->nmatches = 120;
  free(run(f, SB_KIND_TRAFFIC_SPLIT, "ab"));
  assert_int_equal(f->out.outcome, SB_OUTCOME_OK);
  assert_int_equal(f->out.nobjs, 1);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
      cJSON_GetObjectItem(f->out.objs[0], "spec"), "rules")), 16);
}

static void service_profile_mode(void **state) {
  fixture *f = *state;
  sb_traffic_split *ts = tu_split_obj("shop", "s", "web",
                                      "web-v1=1000,web-v2=500,web-v3=0", "");

  f->o.linkerd_service_profile = 1;
  tu_meta(&ts->obj, "u-9", NULL);
  put(f, ts);
  /* No Service needed: the profile names the root itself. */
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "s"),
        HEAD("linkerd.io/v1alpha2", "ServiceProfile",
             "web.shop.svc.cluster.local", "TrafficSplit", "s")
        ",\"ownerReferences\":[{\"apiVersion\":"
        "\"split.smi-spec.io/v1alpha4\",\"kind\":\"TrafficSplit\",\"name\":"
        "\"s\",\"uid\":\"u-9\",\"controller\":true}]},\"spec\":{"
        "\"dstOverrides\":["
        "{\"authority\":\"web-v1.shop.svc.cluster.local\",\"weight\":"
        "\"667m\"},"
        "{\"authority\":\"web-v2.shop.svc.cluster.local\",\"weight\":"
        "\"333m\"},"
        "{\"authority\":\"web-v3.shop.svc.cluster.local\",\"weight\":"
        "\"0m\"}]}}");
  assert_int_equal(f->out.diags.n, 0);

  /* Matches cannot be said with dstOverrides. */
  {
    sb_http_route_group *g = tu_hrg("shop", "g");
    tu_hrg_match(g, "m", "/a", "", "");
    put(f, g);
  }
  put(f, tu_split_obj("shop", "m", "api", "a=1000", "g"));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "m"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  TU_EQ(tu_diags(&f->out), "E Unsupported spec.matches: a ServiceProfile "
        "cannot split by HTTP match; use HTTPRoutes (without the "
        "ServiceProfile mode) for a split with matches");
}

/* ---- TrafficTarget ------------------------------------------------------ */

static void web_pods(fixture *f) {
  put(f, tu_pod("shop", "web-1", "web", NULL,
                "app=web,pod-template-hash=1", "8080,9090"));
  put(f, tu_pod("shop", "web-2", "web", NULL,
                "app=web,pod-template-hash=2", "8080"));
}

static void target_whole_ports(void **state) {
  fixture *f = *state;
  sb_traffic_target *tt = tu_target("shop", "db-access", "web",
                                    "shop/api,jobs/cron,shop/api",
                                    "TCPRoute:db");

  tu_meta(&tt->obj, "t-1", NULL);
  put(f, tt);
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "db", "9090,8080"));
  web_pods(f);
#define OWNER                                                                \
  ",\"ownerReferences\":[{\"apiVersion\":\"access.smi-spec.io/v1alpha3\","   \
  "\"kind\":\"TrafficTarget\",\"name\":\"db-access\",\"uid\":\"t-1\","       \
  "\"controller\":true}]}"
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "db-access"),
        MTLS("db-access-access", "db-access") OWNER ",\"spec\":{"
        "\"identityRefs\":[{\"kind\":\"ServiceAccount\",\"name\":\"api\","
        "\"namespace\":\"shop\"},{\"kind\":\"ServiceAccount\",\"name\":"
        "\"cron\",\"namespace\":\"jobs\"}]}}\n"
        AUTHZ("db-access-access-8080", "db-access") OWNER ",\"spec\":{"
        "\"targetRef\":" REF("Server", "web-sa-8080") ","
        "\"requiredAuthenticationRefs\":[" REF("MeshTLSAuthentication",
                                               "db-access-access") "]}}\n"
        AUTHZ("db-access-access-9090", "db-access") OWNER ",\"spec\":{"
        "\"targetRef\":" REF("Server", "web-sa-9090") ","
        "\"requiredAuthenticationRefs\":[" REF("MeshTLSAuthentication",
                                               "db-access-access") "]}}");
#undef OWNER
  assert_int_equal(f->out.diags.n, 0);
}

static void target_routes(void **state) {
  fixture *f = *state;
  sb_http_route_group *g = tu_hrg("shop", "g");

  tu_hrg_match(g, "metrics", "/metrics", "GET", "");
  tu_hrg_match(g, "other", "/other", "", "");
  put(f, g);
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "p", "9090"));
  put(f, tu_target("shop", "prom", "web", "mon/prometheus",
                   "HTTPRouteGroup:g:metrics;TCPRoute:p"));
  web_pods(f);
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "prom"),
        MTLS("prom-access", "prom") "},\"spec\":{\"identityRefs\":[{\"kind\":"
        "\"ServiceAccount\",\"name\":\"prometheus\",\"namespace\":\"mon\"}]}"
        "}\n"
        HEAD("policy.linkerd.io/v1beta3", "HTTPRoute", "prom-access-9090",
             "TrafficTarget", "prom") "},\"spec\":{\"parentRefs\":["
        REF("Server", "web-sa-9090") "],\"rules\":[{\"matches\":[{\"path\":"
        "{\"type\":\"RegularExpression\",\"value\":\"(?:/metrics).*\"},"
        "\"method\":\"GET\"}]}]}}\n"
        AUTHZ("prom-access-9090", "prom") "},\"spec\":{\"targetRef\":"
        REF("HTTPRoute", "prom-access-9090") ",\"requiredAuthentication"
        "Refs\":[" REF("MeshTLSAuthentication", "prom-access") "]}}");
  TU_EQ(tu_diags(&f->out), "W ProbesNotAuthorized spec.rules: per-route "
        "access attaches inbound HTTPRoutes to the Servers of ServiceAccount "
        "shop/web; Linkerd then no longer authorizes kubelet probes on those "
        "ports by default -- authorize them explicitly (for example a "
        "NetworkAuthentication for the probe network)");
}

static void target_every_port_needs_container_ports(void **state) {
  fixture *f = *state;

  put(f, tu_pod("shop", "p", "quiet", NULL, "app=quiet", ""));
  put(f, tu_target("shop", "t", "quiet", "shop/c", "TCPRoute:all"));
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "all", ""));
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "t"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  TU_EQ(tu_diags(&f->out), "E Unsupported spec.rules: allows every port of "
        "ServiceAccount shop/quiet, but its Pods declare no TCP "
        "containerPorts; list the ports in a TCPRoute rule");
}

static void target_conflict_and_udp(void **state) {
  fixture *f = *state;

  web_pods(f);
  put(f, tu_target("shop", "u", "web", "shop/c", "UDPRoute:dns"));
  /* Only UDP: nothing is allowed, nothing written. */
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "u"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_OK);
  assert_int_equal(f->out.diags.n, 1);
  put(f, tu_pod("shop", "x", "other", NULL, "app=web", ""));
  put(f, tu_target("shop", "t", "web", "shop/c", "TCPRoute:all"));
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "all", ""));
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "t"), "");
  /* Fail closed: keep what exists rather than open the port. */
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  assert_string_equal(f->out.diags.v[0].reason, SB_REASON_CONFLICT);
}

/* ---- ServiceAccount key ------------------------------------------------- */

#define SERVER(name, owners, port)                                           \
  HEAD("policy.linkerd.io/v1beta3", "Server", name, "ServiceAccount",        \
       "web") owners "},\"spec\":{\"podSelector\":{\"matchLabels\":"         \
  "{\"app\":\"web\"}},\"port\":" #port "}}"
#define OREF(name, uid, ctl)                                                 \
  "{\"apiVersion\":\"access.smi-spec.io/v1alpha3\",\"kind\":"                \
  "\"TrafficTarget\",\"name\":\"" name "\",\"uid\":\"" uid "\"" ctl "}"

static void shared_servers(void **state) {
  fixture *f = *state;
  sb_traffic_target *whole, *routes, *noid;
  sb_http_route_group *g = tu_hrg("shop", "g");

  tu_hrg_match(g, "m", "/api", "", "");
  put(f, g);
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "p8080", "8080"));
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "both", "8080,9090"));
  /* "zeta" allows the whole of 8080; "alpha" only /api on 8080 and 9090;
   * "mid" (no uid) the whole of 8080 too. Inserted out of name order. */
  whole = tu_target("shop", "zeta", "web", "shop/a", "TCPRoute:p8080");
  tu_meta(&whole->obj, "uid-z", NULL);
  routes = tu_target("shop", "alpha", "web", "shop/b",
                     "HTTPRouteGroup:g;TCPRoute:both");
  tu_meta(&routes->obj, "uid-a", NULL);
  noid = tu_target("shop", "mid", "web", "shop/c", "TCPRoute:p8080");
  put(f, whole);
  put(f, routes);
  put(f, noid);
  /* Another namespace's TrafficTarget naming this destination is ignored
   * (it is invalid on its own and must not block these Servers). */
  {
    sb_traffic_target *stray = tu_target("evil", "s", "web", "evil/x",
                                         "TCPRoute:nope");
    stray->dest.ns = tu_str(&stray->obj, "shop");
    put(f, stray);
  }
  web_pods(f);
  TU_EQ(run(f, SB_KIND_SERVICE_ACCOUNT, "web"),
        SERVER("web-sa-8080", ",\"ownerReferences\":["
               OREF("alpha", "uid-a", "") "," OREF("zeta", "uid-z", "") "]",
               8080) "\n"
        HEAD("policy.linkerd.io/v1beta3", "HTTPRoute", "web-sa-8080",
             "ServiceAccount", "web") ",\"ownerReferences\":["
        OREF("alpha", "uid-a", "") "," OREF("zeta", "uid-z", "") "]},"
        "\"spec\":{\"parentRefs\":[" REF("Server", "web-sa-8080") "],"
        "\"rules\":[{\"matches\":[{\"path\":{\"type\":\"PathPrefix\","
        "\"value\":\"/\"}}]}]}}\n"
        SERVER("web-sa-9090", ",\"ownerReferences\":["
               OREF("alpha", "uid-a", ",\"controller\":true") "]", 9090));
  TU_EQ(tu_diags(&f->out), "W ProbesNotAuthorized -: port 8080 has "
        "TrafficTargets that allow only some HTTP routes and others that "
        "allow the whole port; the catch-all inbound HTTPRoute web-sa-8080 "
        "keeps whole-port access working (kubelet probes still need an "
        "explicit authorization)");
  TU_EQ(tu_deps(&f->out), "targets-of-sa:TrafficTarget:shop/web "
        "pods-of-sa:Pod:shop/web pods-in-ns:Pod:shop/ "
        "obj:HTTPRouteGroup:shop/g obj:TCPRoute:shop/both "
        "obj:TCPRoute:shop/p8080");
}

static void servers_for_every_container_port(void **state) {
  fixture *f = *state;

  put(f, tu_target("shop", "t", "web", "shop/a", "TCPRoute:all"));
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "all", ""));
  web_pods(f);
  TU_EQ(run(f, SB_KIND_SERVICE_ACCOUNT, "web"),
        SERVER("web-sa-8080", "", 8080) "\n" SERVER("web-sa-9090", "", 9090));
  assert_int_equal(f->out.diags.n, 0);
}

static void servers_wait_for_invalid_target(void **state) {
  fixture *f = *state;

  put(f, tu_target("shop", "ok", "web", "shop/a", "TCPRoute:all"));
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "all", ""));
  put(f, tu_target("shop", "broken", "web", "shop/a", "TCPRoute:later"));
  web_pods(f);
  TU_EQ(run(f, SB_KIND_SERVICE_ACCOUNT, "web"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  TU_EQ(tu_diags(&f->out), "E MissingDependency -: TrafficTarget "
        "shop/broken is invalid (spec.rules[0]: needs TCPRoute shop/later, "
        "which is not known (create it, or pass it with -f)); the Servers "
        "of ServiceAccount shop/web are left as they are until it is fixed");
  /* The missing TCPRoute is a dependency of this key too. */
  TU_EQ(tu_deps(&f->out), "targets-of-sa:TrafficTarget:shop/web "
        "pods-of-sa:Pod:shop/web pods-in-ns:Pod:shop/ "
        "obj:TCPRoute:shop/later obj:TCPRoute:shop/all");
}

static void servers_without_targets_or_pods(void **state) {
  fixture *f = *state;

  TU_EQ(run(f, SB_KIND_SERVICE_ACCOUNT, "web"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_OK);
  TU_EQ(tu_deps(&f->out), "targets-of-sa:TrafficTarget:shop/web");
  put(f, tu_target("shop", "t", "web", "shop/a", "TCPRoute:all"));
  TU_EQ(run(f, SB_KIND_SERVICE_ACCOUNT, "web"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  assert_string_equal(f->out.diags.v[0].reason, SB_REASON_MISSING);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(split_per_port),
    T(split_port_nobody_serves),
    T(split_missing_root_service),
    T(split_matches_and_catch_all),
    T(split_too_many_matches),
    T(service_profile_mode),
    T(target_whole_ports),
    T(target_routes),
    T(target_every_port_needs_container_ports),
    T(target_conflict_and_udp),
    T(shared_servers),
    T(servers_for_every_container_port),
    T(servers_wait_for_invalid_target),
    T(servers_without_targets_or_pods),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
