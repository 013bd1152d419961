/* test-model-access.c -- TrafficTarget v1alpha1..v1alpha3. */
#include "model-test.h"

#define META "'metadata':{'name':'path-specific','namespace':'default'}"
#define TT(ver, body)                                                    \
  "{'apiVersion':'access.smi-spec.io/" ver "','kind':'TrafficTarget',"   \
  META "," body "}"
#define DEST "'destination':{'kind':'ServiceAccount','name':'service-a'}"
#define SRC "'sources':[{'kind':'ServiceAccount','name':'prometheus'}]"
#define RULE "'rules':[{'kind':'HTTPRouteGroup','name':'the-routes'}]"

static sb_traffic_target *tt_ok(const char *text, size_t nwarn) {
  sb_obj *o = ok(text, nwarn);

  assert_int_equal(o->kind, SB_KIND_TRAFFIC_TARGET);
  return (sb_traffic_target *) o;
}

static void v1alpha1_is_top_level_with_specs(void **state) {
  sb_traffic_target *t;

  (void) state;
  t = tt_ok(TT("v1alpha1",
               "'destination':{'kind':'ServiceAccount','name':'service-a',"
               "'namespace':'default','port':8080},"
               "'specs':[{'kind':'HTTPRouteGroup','name':'the-routes',"
               "'matches':['metrics']}],"
               "'sources':[{'kind':'ServiceAccount','name':'prometheus',"
               "'namespace':'monitoring'}]"), 0);
  assert_int_equal(t->obj.version, 1);
  assert_string_equal(t->dest.kind, "ServiceAccount");
  assert_string_equal(t->dest.name, "service-a");
  assert_string_equal(t->dest.ns, "default");
  assert_int_equal(t->dest.ns_defaulted, 0);
  assert_int_equal(t->dest.port, 8080);
  assert_int_equal(t->nrules, 1);
  assert_string_equal(t->rules[0].kind, "HTTPRouteGroup");
  assert_string_equal(t->rules[0].name, "the-routes");
  assert_int_equal(t->rules[0].nmatches, 1);
  assert_string_equal(t->rules[0].matches[0], "metrics");
  assert_int_equal(t->nsources, 1);
  assert_string_equal(t->sources[0].name, "prometheus");
  assert_string_equal(t->sources[0].ns, "monitoring");
  assert_int_equal(t->sources[0].port, 0);
  sb_obj_free(&t->obj);
}

static void v1alpha2_and_3_are_under_spec(void **state) {
  sb_traffic_target *t;

  (void) state;
  t = tt_ok(TT("v1alpha2", "'spec':{'destination':{'kind':'ServiceAccount',"
               "'name':'service-a','port':9090}," SRC "," RULE "}"), 0);
  assert_int_equal(t->obj.version, 2);
  assert_int_equal(t->dest.port, 9090);
  /* Namespaces left out default to the TrafficTarget's own. */
  assert_string_equal(t->dest.ns, "default");
  assert_int_equal(t->dest.ns_defaulted, 1);
  assert_string_equal(t->sources[0].ns, "default");
  assert_int_equal(t->sources[0].ns_defaulted, 1);
  assert_int_equal(t->rules[0].nmatches, 0);  /* every match */
  assert_null(t->rules[0].matches);
  sb_obj_free(&t->obj);

  /* The spec's L4 example, with a UDPRoute. */
  t = tt_ok(TT("v1alpha3", "'spec':{" DEST ",'rules':["
               "{'kind':'TCPRoute','name':'tcp-ports'},"
               "{'kind':'UDPRoute','name':'udp-ports'},"
               "{'kind':'HTTPRouteGroup','name':'the-routes','matches':"
               "['metrics','health']}]," SRC "}"), 0);
  assert_int_equal(t->obj.version, 3);
  assert_int_equal(t->dest.port, 0);
  assert_int_equal(t->nrules, 3);
  assert_string_equal(t->rules[0].kind, "TCPRoute");
  assert_string_equal(t->rules[1].kind, "UDPRoute");
  assert_string_equal(t->rules[1].name, "udp-ports");
  assert_int_equal(t->rules[2].nmatches, 2);
  assert_string_equal(t->rules[2].matches[1], "health");
  sb_obj_free(&t->obj);

  /* Without a namespace anywhere, namespaces stay "" (defaulted). */
  t = tt_ok("{'apiVersion':'access.smi-spec.io/v1alpha3',"
            "'kind':'TrafficTarget','metadata':{'name':'t'},'spec':{"
            DEST "," SRC "," RULE "}}", 0);
  assert_string_equal(t->obj.ns, "");
  assert_string_equal(t->dest.ns, "");
  assert_int_equal(t->dest.ns_defaulted, 1);
  sb_obj_free(&t->obj);
}

static void other_layouts_are_read_with_a_warning(void **state) {
  sb_traffic_target *t;

  (void) state;
  t = (sb_traffic_target *) warned(TT("v1alpha3", DEST "," SRC "," RULE),
                                   1, "",
                                   "destination, sources and rules belong "
                                   "under spec in v1alpha3; read anyway");
  assert_string_equal(t->dest.name, "service-a");
  assert_int_equal(t->nrules, 1);
  sb_obj_free(&t->obj);
  t = (sb_traffic_target *) warned(
      TT("v1alpha1", "'spec':{" DEST "," SRC ",'specs':[{'kind':"
         "'TCPRoute','name':'t'}]}"), 1, "spec",
      "v1alpha1 has no spec (destination, specs and sources are "
      "top-level); read anyway");
  assert_int_equal(t->nrules, 1);
  sb_obj_free(&t->obj);
  t = (sb_traffic_target *) warned(
      TT("v1alpha2", "'spec':{" DEST "," SRC ",'specs':[{'kind':"
         "'TCPRoute','name':'t'}]}"), 1, "spec.specs",
      "specs is the v1alpha1 name of rules; read anyway");
  assert_int_equal(t->nrules, 1);
  sb_obj_free(&t->obj);
  t = (sb_traffic_target *) warned(
      TT("v1alpha1", DEST "," SRC "," RULE), 1, "rules",
      "v1alpha1 calls rules specs; read anyway");
  assert_int_equal(t->nrules, 1);
  sb_obj_free(&t->obj);
  /* Fields of other versions are honoured, never dropped. */
  t = (sb_traffic_target *) warned(
      TT("v1alpha3", "'spec':{'destination':{'kind':'ServiceAccount',"
         "'name':'a','port':8080}," SRC "," RULE "}"), 1,
      "spec.destination.port",
      "port is a v1alpha1/v1alpha2 field (v1alpha3 puts ports in "
      "TCPRoute/UDPRoute); honoured, so only this port is allowed");
  assert_int_equal(t->dest.port, 8080);
  sb_obj_free(&t->obj);
  t = (sb_traffic_target *) warned(
      TT("v1alpha2", "'spec':{" DEST "," SRC ",'rules':[{'kind':"
         "'UDPRoute','name':'u'}]}"), 1, "spec.rules[0].kind",
      "UDPRoute rules are a v1alpha3 field; honoured in v1alpha2 too");
  sb_obj_free(&t->obj);
  /* Repeated match names go. */
  t = (sb_traffic_target *) warned(
      TT("v1alpha3", "'spec':{" DEST "," SRC ",'rules':[{'kind':"
         "'HTTPRouteGroup','name':'r','matches':['a','b','a']}]}"), 1,
      "spec.rules[0].matches[2]", "\"a\" is listed twice; the repeat is "
      "ignored");
  assert_int_equal(t->rules[0].nmatches, 2);
  sb_obj_free(&t->obj);
}

static void subjects_are_service_accounts(void **state) {
  (void) state;
  bad(TT("v1alpha3", "'spec':{'destination':{'kind':'Group','name':'a'},"
         SRC "," RULE "}"), 1, "spec.destination.kind",
      "must be ServiceAccount (got \"Group\"): destinations are "
      "ServiceAccount identities");
  bad(TT("v1alpha3", "'spec':{" DEST ",'sources':[{'kind':'ServiceAccount',"
         "'name':'a'},{'kind':'IdentityBinding','name':'b'}]," RULE "}"), 1,
      "spec.sources[1].kind",
      "must be ServiceAccount (got \"IdentityBinding\"): sources are "
      "ServiceAccount identities");
  bad(TT("v1alpha3", "'spec':{'destination':{'name':'a'}," SRC "," RULE
         "}"), 1, "spec.destination.kind", "is required");
  bad(TT("v1alpha3", "'spec':{'destination':{'kind':'ServiceAccount'},"
         SRC "," RULE "}"), 1, "spec.destination.name", "is required");
  bad(TT("v1alpha3", "'spec':{'destination':{'kind':'ServiceAccount',"
         "'name':'a','namespace':'Bad'}," SRC "," RULE "}"), 1,
      "spec.destination.namespace",
      "must be a DNS-1123 label: lower-case letters, digits and '-', "
      "starting and ending with a letter or digit, at most 63 characters "
      "(got \"Bad\")");
  bad(TT("v1alpha2", "'spec':{'destination':{'kind':'ServiceAccount',"
         "'name':'a','port':70000}," SRC "," RULE "}"), 1,
      "spec.destination.port",
      "must be a port number from 1 to 65535 (got 70000)");
  bad(TT("v1alpha3", "'spec':{'destination':'a'," SRC "," RULE "}"), 1,
      "spec.destination", "must be a map (got a string)");
  bad(TT("v1alpha3", "'spec':{" DEST ",'sources':['a']," RULE "}"), 1,
      "spec.sources[0]",
      "must be a map with kind, name and namespace (got a string)");
}

static void something_to_allow_is_required(void **state) {
  (void) state;
  bad(TT("v1alpha3", "'spec':{" SRC "," RULE "}"), 1, "spec.destination",
      "is required");
  bad(TT("v1alpha3", "'spec':{" DEST "," RULE "}"), 1, "spec.sources",
      "is required");
  bad(TT("v1alpha3", "'spec':{" DEST ",'sources':[]," RULE "}"), 1,
      "spec.sources", "must list at least one source");
  bad(TT("v1alpha3", "'spec':{" DEST "," SRC "}"), 1, "spec.rules",
      "is required: a TrafficTarget needs at least one rule");
  bad(TT("v1alpha1", DEST "," SRC), 1, "specs",
      "is required: a TrafficTarget needs at least one rule");
  bad(TT("v1alpha2", "'spec':{" DEST "," SRC ",'rules':[]}"), 1,
      "spec.rules", "must list at least one rule");
  bad(TT("v1alpha3", "'x':1"), 1, "spec", "is required");
  bad(TT("v1alpha3", DEST ",'spec':{" SRC "}"), 1, "spec",
      "destination, sources and rules are given both at the top level and "
      "under spec; write them once (under spec)");
  bad(TT("v1alpha2", "'spec':{" DEST "," SRC "," RULE ",'specs':[]}"), 1,
      "spec.specs",
      "is the v1alpha1 name of rules; give only one of them");
}

static void rule_errors(void **state) {
  (void) state;
  bad(TT("v1alpha3", "'spec':{" DEST "," SRC ",'rules':[{'kind':"
         "'Service','name':'x'}]}"), 1, "spec.rules[0].kind",
      "must be HTTPRouteGroup, TCPRoute or UDPRoute (got \"Service\")");
  bad(TT("v1alpha3", "'spec':{" DEST "," SRC ",'rules':[{'kind':"
         "'TCPRoute'}]}"), 1, "spec.rules[0].name", "is required");
  bad(TT("v1alpha3", "'spec':{" DEST "," SRC ",'rules':[{'kind':"
         "'TCPRoute','name':'t','matches':['a']}]}"), 1,
      "spec.rules[0].matches",
      "names HTTPRouteGroup matches, but this rule is a TCPRoute, which has "
      "none");
  bad(TT("v1alpha3", "'spec':{" DEST "," SRC ",'rules':[{'kind':"
         "'HTTPRouteGroup','name':'t','matches':['',3]}]}"), 2,
      "spec.rules[0].matches[1]", "must be the name of a match (got a "
      "number)");
  bad(TT("v1alpha3", "'spec':{" DEST "," SRC ",'rules':[{'kind':"
         "'HTTPRouteGroup','name':'t','matches':['']}]}"), 1,
      "spec.rules[0].matches[0]", "must not be empty");
  bad(TT("v1alpha3", "'spec':{" DEST "," SRC ",'rules':[7]}"), 1,
      "spec.rules[0]", "must be a map with kind and name (got a number)");
  bad(TT("v1alpha4", "'spec':{}"), 1, "apiVersion",
      "unsupported version \"v1alpha4\" of access.smi-spec.io (smi-bridge "
      "reads v1alpha1 to v1alpha3)");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(v1alpha1_is_top_level_with_specs),
    cmocka_unit_test(v1alpha2_and_3_are_under_spec),
    cmocka_unit_test(other_layouts_are_read_with_a_warning),
    cmocka_unit_test(subjects_are_service_accounts),
    cmocka_unit_test(something_to_allow_is_required),
    cmocka_unit_test(rule_errors),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
