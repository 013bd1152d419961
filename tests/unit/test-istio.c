/* test-istio.c -- TrafficSplit -> VirtualService, TrafficTarget ->
 * AuthorizationPolicy: exact objects, diagnostics and dependencies. */
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
#define VS_HEAD(name, src)                                                   \
  "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"VirtualService\","  \
  "\"metadata\":{\"name\":\"" name "\",\"namespace\":\"shop\","             \
  LABELS("TrafficSplit", src)
#define AP_HEAD(name, src)                                                   \
  "{\"apiVersion\":\"security.istio.io/v1\",\"kind\":"                       \
  "\"AuthorizationPolicy\",\"metadata\":{\"name\":\"" name "\","            \
  "\"namespace\":\"shop\"," LABELS("TrafficTarget", src)
#define HOST(s) "{\"destination\":{\"host\":\"" s ".shop.svc.cluster.local\"}"
#define DEST(s, w) HOST(s) ",\"weight\":" #w "}"

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

static void split_quantities_with_owner(void **state) {
  fixture *f = *state;
  sb_traffic_split *ts = tu_split_obj("shop", "web-canary", "web",
                                      "web-v1=1000,web-v2=500", "");

  /* v1alpha1: "1" and "500m" */
  tu_m(&ts->obj)->api_version = "split.smi-spec.io/v1alpha1";
  ts->obj.version = 1;
  tu_meta(&ts->obj, "0b1c", "2024-05-01T10:00:00Z");
  put(f, ts);
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "web-canary"),
        "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
        "\"VirtualService\",\"metadata\":{\"name\":\"web-canary-split\","
        "\"namespace\":\"shop\"," LABELS("TrafficSplit", "web-canary") ","
        "\"ownerReferences\":[{\"apiVersion\":\"split.smi-spec.io/v1alpha1\","
        "\"kind\":\"TrafficSplit\",\"name\":\"web-canary\",\"uid\":\"0b1c\","
        "\"controller\":true}]},\"spec\":{\"hosts\":"
        "[\"web.shop.svc.cluster.local\"],\"http\":[{\"route\":["
        DEST("web-v1", 10) "," DEST("web-v2", 5) "]}],\"tcp\":[{\"route\":["
        DEST("web-v1", 10) "," DEST("web-v2", 5) "]}]}}");
  assert_int_equal(f->out.outcome, SB_OUTCOME_OK);
  assert_int_equal(f->out.diags.n, 0);
  TU_EQ(tu_deps(&f->out), "obj:TrafficSplit:shop/web-canary "
        "splits-of-root:TrafficSplit:shop/web obj:Service:shop/web "
        "obj:Service:shop/web-v1 obj:Service:shop/web-v2");
}

static void split_integers_cluster_domain(void **state) {
  fixture *f = *state;

  f->o.cluster_domain = "corp.example";
  put(f, tu_split_obj("shop", "s", "web", "web=90000,web-v2=10000", ""));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "s"),
        VS_HEAD("s-split", "s") "},\"spec\":{\"hosts\":"
        "[\"web.shop.svc.corp.example\"],\"http\":[{\"route\":["
        "{\"destination\":{\"host\":\"web.shop.svc.corp.example\"},"
        "\"weight\":90},{\"destination\":{\"host\":"
        "\"web-v2.shop.svc.corp.example\"},\"weight\":10}]}],\"tcp\":["
        "{\"route\":[{\"destination\":{\"host\":"
        "\"web.shop.svc.corp.example\"},\"weight\":90},{\"destination\":"
        "{\"host\":\"web-v2.shop.svc.corp.example\"},\"weight\":10}]}]}}");
}

static void split_with_matches(void **state) {
  fixture *f = *state;
  sb_http_route_group *g1 = tu_hrg("shop", "firefox"), *g2;

  tu_hrg_match(g1, "ff", "/api", "GET,POST", "User-Agent=.*Firefox.*");
  put(f, g1);
  g2 = tu_hrg("shop", "exact");
  tu_hrg_match(g2, "x", "^/x$", "", "");
  tu_hrg_match(g2, "re", "/v[0-9]+/", "*", "");
  put(f, g2);
  put(f, tu_split_obj("shop", "ab", "web", "web-v1=0,web-v2=100000",
                      "firefox,exact"));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "ab"),
        VS_HEAD("ab-split", "ab") "},\"spec\":{\"hosts\":"
        "[\"web.shop.svc.cluster.local\"],\"http\":[{\"match\":["
        "{\"uri\":{\"prefix\":\"/api\"},\"method\":{\"exact\":\"GET\"},"
        "\"headers\":{\"user-agent\":{\"regex\":\".*Firefox.*\"}}},"
        "{\"uri\":{\"prefix\":\"/api\"},\"method\":{\"exact\":\"POST\"},"
        "\"headers\":{\"user-agent\":{\"regex\":\".*Firefox.*\"}}},"
        "{\"uri\":{\"exact\":\"/x\"}},"
        "{\"uri\":{\"regex\":\"(?:/v[0-9]+/).*\"}}],"
        "\"route\":[" DEST("web-v1", 0) "," DEST("web-v2", 100) "]},"
        "{\"route\":[" HOST("web") "}]}]}}");
  TU_EQ(tu_deps(&f->out), "obj:TrafficSplit:shop/ab "
        "splits-of-root:TrafficSplit:shop/web "
        "obj:HTTPRouteGroup:shop/firefox obj:HTTPRouteGroup:shop/exact "
        "obj:Service:shop/web obj:Service:shop/web-v1 obj:Service:shop/web-v2");
}

static void split_match_everything(void **state) {
  fixture *f = *state;
  sb_http_route_group *g = tu_hrg("shop", "g");

  /* One match takes every request: one weighted rule, no catch-all, and
   * still no tcp section (matches are HTTP). */
  tu_hrg_match(g, "api", "/api", "", "");
  tu_hrg_match(g, "all", ".*", "*", "");
  put(f, g);
  put(f, tu_split_obj("shop", "s", "web", "a=1000,b=1000", "g"));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "s"),
        VS_HEAD("s-split", "s") "},\"spec\":{\"hosts\":"
        "[\"web.shop.svc.cluster.local\"],\"http\":[{\"route\":["
        DEST("a", 1) "," DEST("b", 1) "]}]}}");
}

static void split_v1beta1_percentages(void **state) {
  fixture *f = *state;

  f->o.istio_api = SB_ISTIO_API_V1BETA1;
  put(f, tu_split_obj("shop", "s", "web", "a=2000,b=1000", ""));
  put(f, tu_split_obj("shop", "z", "api", "a=1000,b=1000,c=1000,d=0", ""));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "s"),
        "{\"apiVersion\":\"networking.istio.io/v1beta1\",\"kind\":"
        "\"VirtualService\",\"metadata\":{\"name\":\"s-split\",\"namespace\":"
        "\"shop\"," LABELS("TrafficSplit", "s") "},\"spec\":{\"hosts\":"
        "[\"web.shop.svc.cluster.local\"],\"http\":[{\"route\":["
        DEST("a", 67) "," DEST("b", 33) "]}],\"tcp\":[{\"route\":["
        DEST("a", 67) "," DEST("b", 33) "]}]}}");
  /* The zero weight gets nothing; the leftover point goes to the first. */
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "z"),
        "{\"apiVersion\":\"networking.istio.io/v1beta1\",\"kind\":"
        "\"VirtualService\",\"metadata\":{\"name\":\"z-split\",\"namespace\":"
        "\"shop\"," LABELS("TrafficSplit", "z") "},\"spec\":{\"hosts\":"
        "[\"api.shop.svc.cluster.local\"],\"http\":[{\"route\":["
        DEST("a", 34) "," DEST("b", 33) "," DEST("c", 33) "," DEST("d", 0)
        "]}],\"tcp\":[{\"route\":[" DEST("a", 34) "," DEST("b", 33) ","
        DEST("c", 33) "," DEST("d", 0) "]}]}}");
  /* A share that rounds to 0% is reported. */
  put(f, tu_split_obj("shop", "tiny", "db", "a=1000,b=1000000", ""));
  free(run(f, SB_KIND_TRAFFIC_SPLIT, "tiny"));
  TU_EQ(tu_diags(&f->out), "W WeightsScaled spec.backends[0].weight: "
        "backend a's share rounds to 0% (--istio-api v1beta1 writes "
        "percentages); it gets no traffic");
  /* Weights above the shared limit: percentages of the user's own
   * numbers (34.623 and 15.623 %: the last gets the point; of the weights
   * scaled to 1,000,000 the first would), and no warning about the
   * scaling. */
  put(f, tu_split_obj("shop", "big", "web", "a=53189989000,b=17938025000,"
                      "c=58497259000,d=24000999000", ""));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "big"),
        "{\"apiVersion\":\"networking.istio.io/v1beta1\",\"kind\":"
        "\"VirtualService\",\"metadata\":{\"name\":\"big-split\",\"namespace\":"
        "\"shop\"," LABELS("TrafficSplit", "big") "},\"spec\":{\"hosts\":"
        "[\"web.shop.svc.cluster.local\"],\"http\":[{\"route\":["
        DEST("a", 34) "," DEST("b", 12) "," DEST("c", 38) "," DEST("d", 16)
        "]}],\"tcp\":[{\"route\":[" DEST("a", 34) "," DEST("b", 12) ","
        DEST("c", 38) "," DEST("d", 16) "]}]}}");
  TU_EQ(tu_diags(&f->out), "");
}

static void split_conflict(void **state) {
  fixture *f = *state;
  sb_traffic_split *a = tu_split_obj("shop", "a", "web", "v1=1000", "");
  sb_traffic_split *b = tu_split_obj("shop", "b", "web", "v2=1000", "");
  sb_traffic_split *c = tu_split_obj("shop", "c", "web", "v3=1000", "");

  /* b is the oldest; c has no timestamp and sorts after both. */
  tu_meta(&a->obj, NULL, "2024-02-01T00:00:00Z");
  tu_meta(&b->obj, NULL, "2024-01-01T00:00:00Z");
  put(f, c);
  put(f, a);
  put(f, b);
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "a"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_OK);
  TU_EQ(tu_diags(&f->out), "E Conflict spec.service: TrafficSplit shop/b "
        "already splits the root Service web and is older; this one is "
        "ignored (its objects are removed) until the conflict is resolved");
  TU_EQ(tu_deps(&f->out), "obj:TrafficSplit:shop/a "
        "splits-of-root:TrafficSplit:shop/web");
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "c"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_OK);
  assert_int_equal(f->out.diags.n, 1);
  free(run(f, SB_KIND_TRAFFIC_SPLIT, "b"));
  assert_int_equal(f->out.nobjs, 1);
  assert_int_equal(f->out.diags.n, 0);

  /* Same timestamp: the name decides. */
  sb_obj_free(sb_world_take(f->w, SB_KIND_TRAFFIC_SPLIT, "shop", "b"));
  tu_meta(&c->obj, NULL, "2024-02-01T00:00:00Z");
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "c"), "");
  assert_string_equal(f->out.diags.v[0].reason, SB_REASON_CONFLICT);
  free(run(f, SB_KIND_TRAFFIC_SPLIT, "a"));
  assert_int_equal(f->out.nobjs, 1);
  /* Another root in the namespace is no conflict. */
  put(f, tu_split_obj("shop", "d", "api", "v1=1000", ""));
  free(run(f, SB_KIND_TRAFFIC_SPLIT, "d"));
  assert_int_equal(f->out.nobjs, 1);
}

static void split_invalid(void **state) {
  fixture *f = *state;

  put(f, tu_split_obj("shop", "zero", "web", "a=0,b=0", ""));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "zero"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  TU_EQ(tu_diags(&f->out), "E InvalidSpec spec.backends: every weight is "
        "0: no backend would get traffic");

  put(f, tu_split_obj("shop", "neg", "api", "a=1000,b=-1", ""));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "neg"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  TU_EQ(tu_diags(&f->out), "E InvalidSpec spec.backends[1].weight: weight "
        "must not be negative");

  put(f, tu_split_obj("shop", "nogroup", "db", "a=1000", "ab,TCPRoute:t"));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "nogroup"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  TU_EQ(tu_diags(&f->out), "E MissingDependency spec.matches[0]: needs "
        "HTTPRouteGroup shop/ab, which is not known (create it, or pass it "
        "with -f)\n"
        "E Unsupported spec.matches[1]: matches of kind TCPRoute are not "
        "supported (only HTTPRouteGroup)");
  /* The missing group is a dependency: the key re-runs when it appears. */
  TU_EQ(tu_deps(&f->out), "obj:TrafficSplit:shop/nogroup "
        "splits-of-root:TrafficSplit:shop/db obj:HTTPRouteGroup:shop/ab");

  /* A broken match (bad method) makes the split invalid too. */
  {
    sb_http_route_group *g = tu_hrg("shop", "bad");
    tu_hrg_match(g, "m", "/x", "FETCH", "");
    put(f, g);
  }
  put(f, tu_split_obj("shop", "badmatch", "q", "a=1000", "bad"));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "badmatch"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
}

static void split_scaled(void **state) {
  fixture *f = *state;

  put(f, tu_split_obj("shop", "big", "web", "a=3000000000,b=1000", ""));
  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "big"),
        VS_HEAD("big-split", "big") "},\"spec\":{\"hosts\":"
        "[\"web.shop.svc.cluster.local\"],\"http\":[{\"route\":["
        DEST("a", 1000000) "," DEST("b", 1) "]}],\"tcp\":[{\"route\":["
        DEST("a", 1000000) "," DEST("b", 1) "]}]}}");
  TU_EQ(tu_diags(&f->out), "W WeightsScaled spec.backends: weights above "
        "1000000 (the Gateway API limit) were scaled down proportionally");
}

static void split_gone(void **state) {
  fixture *f = *state;

  TU_EQ(run(f, SB_KIND_TRAFFIC_SPLIT, "gone"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_OK);
  assert_int_equal(f->out.diags.n, 0);
  TU_EQ(tu_deps(&f->out), "obj:TrafficSplit:shop/gone");
}

/* ---- TrafficTarget ------------------------------------------------------ */

#define PRINCIPALS                                                           \
  "\"from\":[{\"source\":{\"principals\":[\"cluster.local/ns/shop/sa/"       \
  "client\",\"cluster.local/ns/mon/sa/prom\"]}}]"
#define SELECTOR                                                             \
  "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\","              \
  "\"tier\":\"front\"}},\"action\":\"ALLOW\""

static void web_pods(fixture *f) {
  put(f, tu_pod("shop", "web-1", "web", "Running",
                "app=web,tier=front,pod-template-hash=a1", "8080"));
  put(f, tu_pod("shop", "web-2", "web", "Running",
                "tier=front,app=web,pod-template-hash=b2", "8080"));
}

static void target_tcp_ports(void **state) {
  fixture *f = *state;
  sb_traffic_target *tt = tu_target("shop", "web-access", "web",
                                    "shop/client,mon/prom,shop/client",
                                    "TCPRoute:db;TCPRoute:metrics");

  tu_meta(&tt->obj, "77", NULL);
  put(f, tt);
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "db", "9090,8080"));
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "metrics", "8080"));
  web_pods(f);
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "web-access"),
        "{\"apiVersion\":\"security.istio.io/v1\",\"kind\":"
        "\"AuthorizationPolicy\",\"metadata\":{\"name\":"
        "\"web-access-access\",\"namespace\":\"shop\","
        LABELS("TrafficTarget", "web-access") ",\"ownerReferences\":["
        "{\"apiVersion\":\"access.smi-spec.io/v1alpha3\",\"kind\":"
        "\"TrafficTarget\",\"name\":\"web-access\",\"uid\":\"77\","
        "\"controller\":true}]}," SELECTOR ",\"rules\":[{" PRINCIPALS ","
        "\"to\":[{\"operation\":{\"ports\":[\"8080\",\"9090\"]}}]}]}}");
  assert_int_equal(f->out.diags.n, 0);
  TU_EQ(tu_deps(&f->out), "obj:TrafficTarget:shop/web-access "
        "obj:TCPRoute:shop/db obj:TCPRoute:shop/metrics "
        "pods-of-sa:Pod:shop/web pods-in-ns:Pod:shop/");
}

static void target_every_port(void **state) {
  fixture *f = *state;

  /* An empty TCPRoute port list means every port: no `to` at all. */
  put(f, tu_target("shop", "t", "web", "shop/client,mon/prom",
                   "TCPRoute:all"));
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "all", ""));
  web_pods(f);
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "t"),
        AP_HEAD("t-access", "t") "}," SELECTOR ",\"rules\":[{" PRINCIPALS
        "}]}}");
  /* --istio-api v1beta1 moves the policy to security.istio.io/v1beta1. */
  f->o.istio_api = SB_ISTIO_API_V1BETA1;
  free(run(f, SB_KIND_TRAFFIC_TARGET, "t"));
  assert_int_equal(f->out.nobjs, 1);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
      f->out.objs[0], "apiVersion")), "security.istio.io/v1beta1");
}

static void target_http_routes_on_tcp_ports(void **state) {
  fixture *f = *state;
  sb_http_route_group *g = tu_hrg("shop", "routes");

  /* The SMI v1alpha3 example: GET /metrics on 8080 only. */
  tu_hrg_match(g, "metrics", "/metrics", "GET", "");
  tu_hrg_match(g, "health", "^/healthz$", "GET,HEAD", "");
  tu_hrg_match(g, "v1", "/api/v1(/.*)?$", "", "");
  tu_hrg_match(g, "unused", "/admin", "", "");
  put(f, g);
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "p", "8080"));
  put(f, tu_target("shop", "t", "web", "shop/client,mon/prom",
                   "HTTPRouteGroup:routes:metrics|health|v1;TCPRoute:p"));
  web_pods(f);
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "t"),
        AP_HEAD("t-access", "t") "}," SELECTOR ",\"rules\":[{" PRINCIPALS
        ",\"to\":["
        "{\"operation\":{\"ports\":[\"8080\"],\"methods\":[\"GET\"],"
        "\"paths\":[\"/metrics*\"]}},"
        "{\"operation\":{\"ports\":[\"8080\"],\"methods\":[\"GET\",\"HEAD\"],"
        "\"paths\":[\"/healthz\"]}},"
        "{\"operation\":{\"ports\":[\"8080\"],\"paths\":[\"/api/v1\","
        "\"/api/v1/*\"]}}]}]}}");
  assert_int_equal(f->out.diags.n, 0);
}

static void target_dropped_and_when(void **state) {
  fixture *f = *state;
  sb_http_route_group *g = tu_hrg("shop", "routes");

  tu_hrg_match(g, "regex", "/users/[0-9]+", "GET", "");
  tu_hrg_match(g, "beta", "/api", "", "x-version=beta.*");
  tu_hrg_match(g, "android", "/", "", "user-agent=.*Android.*");
  put(f, g);
  put(f, tu_target("shop", "t", "web", "shop/client,mon/prom",
                   "HTTPRouteGroup:routes"));
  web_pods(f);
  /* Only "beta" survives, as a rule of its own (when is rule-wide). */
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "t"),
        AP_HEAD("t-access", "t") "}," SELECTOR ",\"rules\":[{" PRINCIPALS
        ",\"to\":[{\"operation\":{\"paths\":[\"/api*\"]}}],\"when\":["
        "{\"key\":\"request.headers[x-version]\",\"values\":[\"beta*\"]}]"
        "}]}}");
  TU_EQ(tu_diags(&f->out),
        "W MatchDropped spec.rules[0]: HTTPRouteGroup shop/routes match "
        "\"regex\": pathRegex \"/users/[0-9]+\" cannot be expressed in an "
        "Istio AuthorizationPolicy (exact, prefix* and *suffix paths only); "
        "the match is dropped, so what it would allow is denied\n"
        "W MatchDropped spec.rules[0]: HTTPRouteGroup shop/routes match "
        "\"android\": the regex \".*Android.*\" of header user-agent cannot "
        "be expressed in an Istio AuthorizationPolicy (exact, prefix*, "
        "*suffix or presence only); the match is dropped, so what it would "
        "allow is denied");
  assert_int_equal(f->out.outcome, SB_OUTCOME_OK);
}

static void target_everything_dropped(void **state) {
  fixture *f = *state;
  sb_http_route_group *g = tu_hrg("shop", "routes");

  tu_hrg_match(g, "regex", "/users/[0-9]+", "GET", "");
  put(f, g);
  put(f, tu_target("shop", "t", "web", "shop/client", "HTTPRouteGroup:"
                   "routes"));
  web_pods(f);
  /* The policy stays, with no rules: it allows nothing (fail closed). */
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "t"),
        AP_HEAD("t-access", "t") "}," SELECTOR "}}");
  assert_int_equal(f->out.diags.n, 2);
  assert_string_equal(f->out.diags.v[1].msg, "every HTTP match was "
                      "dropped; the AuthorizationPolicy allows nothing");
}

static void target_v1alpha1_port(void **state) {
  fixture *f = *state;
  sb_http_route_group *g = tu_hrg("shop", "routes");
  sb_traffic_target *tt = tu_target("shop", "t", "web", "shop/client",
                                    "HTTPRouteGroup:routes");

  tu_hrg_match(g, "all", "/api", "", "");
  put(f, g);
  tu_m(&tt->obj)->api_version = "access.smi-spec.io/v1alpha1";
  tt->obj.version = 1;
  tt->dest.port = 8080;
  put(f, tt);
  web_pods(f);
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "t"),
        AP_HEAD("t-access", "t") "}," SELECTOR ",\"rules\":[{\"from\":[{"
        "\"source\":{\"principals\":[\"cluster.local/ns/shop/sa/client\"]"
        "}}],\"to\":[{\"operation\":{\"ports\":[\"8080\"],\"paths\":"
        "[\"/api*\"]}}]}]}}");
}

static void target_trust_domain_and_udp(void **state) {
  fixture *f = *state;

  f->o.trust_domain = "example.org";
  put(f, tu_target("shop", "t", "web", "shop/client", "UDPRoute:dns"));
  web_pods(f);
  /* UDP cannot be authorized: the policy allows nothing. */
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "t"),
        AP_HEAD("t-access", "t") "}," SELECTOR "}}");
  TU_EQ(tu_diags(&f->out), "W Unsupported spec.rules[0]: UDPRoute dns is "
        "not supported (the meshes authorize TCP only); the rule is "
        "ignored, so UDP stays denied");
  put(f, tu_target("shop", "t2", "web", "other/client", "TCPRoute:x"));
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "x", ""));
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "t2"),
        AP_HEAD("t2-access", "t2") "}," SELECTOR ",\"rules\":[{\"from\":[{"
        "\"source\":{\"principals\":[\"example.org/ns/other/sa/client\"]}}]"
        "}]}}");
}

static void target_invalid(void **state) {
  fixture *f = *state;
  sb_traffic_target *tt;
  sb_http_route_group *g = tu_hrg("shop", "routes");

  tu_hrg_match(g, "a", "/a", "", "");
  put(f, g);
  web_pods(f);
  /* Missing route objects and an unknown match name: every problem is
   * reported, nothing is written. */
  put(f, tu_target("shop", "t", "web", "shop/client",
                   "TCPRoute:nope;HTTPRouteGroup:routes:a|b"));
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "t"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  TU_EQ(tu_diags(&f->out), "E MissingDependency spec.rules[0]: needs "
        "TCPRoute shop/nope, which is not known (create it, or pass it with "
        "-f)\n"
        "E InvalidSpec spec.rules[1]: HTTPRouteGroup shop/routes has no "
        "match named \"b\"");

  /* The destination must live in the TrafficTarget's namespace. */
  tt = tu_target("shop", "x", "web", "shop/client", "HTTPRouteGroup:routes");
  tt->dest.ns = tu_str(&tt->obj, "elsewhere");
  put(f, tt);
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "x"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  TU_EQ(tu_diags(&f->out), "E InvalidSpec spec.destination.namespace: the "
        "destination (namespace elsewhere) must be in the TrafficTarget's "
        "own namespace shop: the generated policies live there");

  /* No sources, no rules. */
  put(f, tu_target("shop", "empty", "web", "", ""));
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "empty"), "");
  TU_EQ(tu_diags(&f->out), "E InvalidSpec spec.sources: needs at least one "
        "source\nE InvalidSpec spec.rules: needs at least one rule");

  /* No pods for the destination. */
  put(f, tu_target("shop", "nopods", "ghost", "shop/client",
                   "HTTPRouteGroup:routes"));
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "nopods"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  TU_EQ(tu_diags(&f->out), "E MissingDependency spec.destination: needs the "
        "Pods of ServiceAccount shop/ghost to derive a pod selector (none is "
        "running; pass them with --context-file)");
}

static void target_identity_conflict(void **state) {
  fixture *f = *state;

  web_pods(f);
  put(f, tu_pod("shop", "intruder", "other", NULL, "app=web,tier=front",
                ""));
  put(f, tu_target("shop", "t", "web", "shop/client", "TCPRoute:x"));
  put(f, tu_ports_route(SB_KIND_TCP_ROUTE, "shop", "x", ""));
  TU_EQ(run(f, SB_KIND_TRAFFIC_TARGET, "t"), "");
  /* Fail closed: the over-broad selector is not written and what exists
   * stays (INVALID: change nothing). */
  assert_int_equal(f->out.outcome, SB_OUTCOME_INVALID);
  assert_int_equal(f->out.diags.n, 1);
  assert_string_equal(f->out.diags.v[0].reason, SB_REASON_CONFLICT);
}

static void service_account_key_is_empty(void **state) {
  fixture *f = *state;

  web_pods(f);
  put(f, tu_target("shop", "t", "web", "shop/client", "TCPRoute:x"));
  TU_EQ(run(f, SB_KIND_SERVICE_ACCOUNT, "web"), "");
  assert_int_equal(f->out.outcome, SB_OUTCOME_OK);
  assert_int_equal(f->out.diags.n, 0);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(split_quantities_with_owner),
    T(split_integers_cluster_domain),
    T(split_with_matches),
    T(split_match_everything),
    T(split_v1beta1_percentages),
    T(split_conflict),
    T(split_invalid),
    T(split_scaled),
    T(split_gone),
    T(target_tcp_ports),
    T(target_every_port),
    T(target_http_routes_on_tcp_ports),
    T(target_dropped_and_when),
    T(target_everything_dropped),
    T(target_v1alpha1_port),
    T(target_trust_domain_and_udp),
    T(target_invalid),
    T(target_identity_conflict),
    T(service_account_key_is_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
