/* test-model-split.c -- TrafficSplit v1alpha1..v1alpha4. */
#include "model-test.h"

#define META "'metadata':{'name':'web','namespace':'shop'}"
#define TS(ver, spec)                                                    \
  "{'apiVersion':'split.smi-spec.io/" ver "','kind':'TrafficSplit',"     \
  META ",'spec':" spec "}"

static sb_traffic_split *ts_ok(const char *text, size_t nwarn) {
  sb_obj *o = ok(text, nwarn);

  assert_int_equal(o->kind, SB_KIND_TRAFFIC_SPLIT);
  return (sb_traffic_split *) o;
}

/* One backend with weight w (JSON text) in version ver. */
static void one_weight(char *buf, size_t n, int ver, const char *w) {
  snprintf(buf, n,
           "{'apiVersion':'split.smi-spec.io/v1alpha%d',"
           "'kind':'TrafficSplit'," META ",'spec':{'service':'web',"
           "'backends':[{'service':'a','weight':%s}]}}", ver, w);
}

static void weight_is(int ver, const char *w, int64_t milli, size_t nwarn) {
  char text[512];
  sb_traffic_split *ts;

  one_weight(text, sizeof(text), ver, w);
  ts = ts_ok(text, nwarn);
  if (ts->backends[0].weight_milli != milli)
    fprintf(stderr, "v1alpha%d weight %s: %lld\n", ver, w,
            (long long) ts->backends[0].weight_milli);
  assert_int_equal(ts->backends[0].weight_milli, milli);
  sb_obj_free(&ts->obj);
}

static void weight_bad(int ver, const char *w, const char *msg) {
  char text[512];

  one_weight(text, sizeof(text), ver, w);
  bad(text, 1, "spec.backends[0].weight", msg);
}

static void v1alpha1_weights_are_quantities(void **state) {
  sb_traffic_split *ts;

  (void) state;
  /* The spec's own samples. */
  ts = ts_ok(TS("v1alpha1", "{'service':'numbers','backends':["
                "{'service':'one','weight':'10m'},"
                "{'service':'two','weight':'100m'},"
                "{'service':'three','weight':'1500m'}]}"), 0);
  assert_int_equal(ts->obj.version, 1);
  assert_string_equal(ts->obj.meta->api_version, "split.smi-spec.io/v1alpha1");
  assert_string_equal(ts->obj.name, "web");
  assert_string_equal(ts->obj.ns, "shop");
  assert_string_equal(ts->service, "numbers");
  assert_string_equal(ts->root, "numbers");
  assert_int_equal(ts->nbackends, 3);
  assert_string_equal(ts->backends[0].service, "one");
  assert_int_equal(ts->backends[0].weight_milli, 10);
  assert_int_equal(ts->backends[1].weight_milli, 100);
  assert_string_equal(ts->backends[2].service, "three");
  assert_int_equal(ts->backends[2].weight_milli, 1500);
  assert_int_equal(ts->nmatches, 0);
  assert_null(ts->matches);
  sb_obj_free(&ts->obj);

  /* "1" is 1000m, never 1 (sdk-go's converter gets this wrong). */
  ts = ts_ok(TS("v1alpha1", "{'service':'web','backends':["
                "{'service':'a','weight':1},{'service':'b','weight':'500m'}]}"),
             0);
  assert_int_equal(ts->backends[0].weight_milli, 1000);
  assert_int_equal(ts->backends[1].weight_milli, 500);
  sb_obj_free(&ts->obj);

  weight_is(1, "'1'", 1000, 0);
  weight_is(1, "1", 1000, 0);
  weight_is(1, "'1.5'", 1500, 0);
  weight_is(1, "1.5", 1500, 0);
  weight_is(1, "'10'", 10000, 0);
  weight_is(1, "'90'", 90000, 0);
  weight_is(1, "'1k'", 1000000, 0);
  weight_is(1, "0", 0, 0);
  weight_is(1, "'0'", 0, 0);
  weight_is(1, "0.001", 1, 0);
  weight_is(1, "1.001", 1001, 0);
  weight_is(1, "2147483647", 2147483647000LL, 0);
}

static void later_weights_are_integers(void **state) {
  int v;

  (void) state;
  for (v = 2; v <= 4; v++) {
    weight_is(v, "90", 90000, 0);
    weight_is(v, "0", 0, 0);
    weight_is(v, "1", 1000, 0);
    weight_is(v, "1.0", 1000, 0);
    weight_is(v, "'10'", 10000, 0);  /* int-or-string */
  }
  /* Quantities are read in every version (docs/mapping.md, "Weights"),
   * with a note. */
  weight_is(2, "'500m'", 500, 1);
  weight_is(4, "'1.5'", 1500, 1);
  {
    char text[512];

    one_weight(text, sizeof(text), 3, "'500m'");
    sb_obj_free(warned(text, 1, "spec.backends[0].weight",
                       "\"500m\" is a quantity (the v1alpha1 form); read as "
                       "0.5"));
  }
}

static void bad_weights_say_why(void **state) {
  (void) state;
  weight_bad(2, "1.5", "must be a whole number in v1alpha2 (got 1.5)");
  weight_bad(4, "0.0001", "must be a whole number in v1alpha4 (got 0.0001)");
  weight_bad(1, "-5", "must not be negative (got -5)");
  weight_bad(3, "-5", "must not be negative (got -5)");
  weight_bad(1, "'-500m'", "must not be negative (got \"-500m\")");
  weight_bad(1, "'1u'",
             "is finer than 1m (0.001), the smallest weight step "
             "(got \"1u\")");
  weight_bad(1, "0.0001",
             "is finer than 1m (0.001), the smallest weight step "
             "(got 0.0001)");
  weight_bad(2, "'0.0001'",
             "is finer than 1m (0.001), the smallest weight step "
             "(got \"0.0001\")");
  weight_bad(1, "'abc'",
             "must be a whole number or a Kubernetes quantity such as "
             "\"500m\" (got \"abc\")");
  weight_bad(4, "''",
             "must be a whole number or a Kubernetes quantity such as "
             "\"500m\" (got \"\")");
  weight_bad(1, "1e30", "is too large (got 1e+30; at most 2147483647)");
  weight_bad(2, "2147483648",
             "is too large (got 2147483648; at most 2147483647)");
  weight_bad(1, "'3G'", "is too large (got \"3G\"; at most 2147483647)");
  weight_bad(1, "true",
             "must be a number or a quantity such as \"500m\" "
             "(got a boolean)");
  weight_bad(2, "[1]",
             "must be a number or a quantity such as \"500m\" (got a list)");
  weight_bad(2, "null", "is required");
}

static void root_forms(void **state) {
  static const char *const forms[] = {
    "web", "web.shop", "web.shop.svc", "web.shop.svc.cluster.local",
    "web.shop.svc.cluster.local.", "web.shop.svc.example.org",
  };
  char text[512];
  sb_traffic_split *ts;
  size_t i;

  (void) state;
  for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
    snprintf(text, sizeof(text),
             TS("v1alpha4", "{'service':'%s','backends':"
                "[{'service':'web-v1','weight':1}]}"), forms[i]);
    ts = ts_ok(text, 0);
    assert_string_equal(ts->service, forms[i]);
    assert_string_equal(ts->root, "web");
    sb_obj_free(&ts->obj);
  }
  /* Without a namespace of its own, any namespace part is taken (the
   * caller applies its default namespace later). */
  ts = ts_ok("{'apiVersion':'split.smi-spec.io/v1alpha2',"
             "'kind':'TrafficSplit','metadata':{'name':'s'},'spec':{"
             "'service':'web.other','backends':[{'service':'a',"
             "'weight':1}]}}", 0);
  assert_string_equal(ts->obj.ns, "");
  assert_string_equal(ts->root, "web");
  sb_obj_free(&ts->obj);
}

static void root_errors(void **state) {
  (void) state;
  bad(TS("v1alpha4", "{'service':'web.other','backends':"
         "[{'service':'a','weight':1}]}"), 1, "spec.service",
      "\"web.other\" names namespace \"other\" but the TrafficSplit is in "
      "\"shop\"");
  bad(TS("v1alpha4", "{'service':'web.other.svc.cluster.local',"
         "'backends':[{'service':'a','weight':1}]}"), 1, "spec.service",
      "\"web.other.svc.cluster.local\" names namespace \"other\" but the "
      "TrafficSplit is in \"shop\"");
  bad(TS("v1alpha4", "{'service':'web.shop.cluster.local','backends':"
         "[{'service':'a','weight':1}]}"), 1, "spec.service",
      "\"web.shop.cluster.local\" is not a Service name, "
      "\"name.namespace\" or \"name.namespace.svc.<cluster domain>\"");
  bad(TS("v1alpha4", "{'service':'web..svc','backends':"
         "[{'service':'a','weight':1}]}"), 1, "spec.service",
      "\"web..svc\" is not a Service name, "
      "\"name.namespace\" or \"name.namespace.svc.<cluster domain>\"");
  bad(TS("v1alpha4", "{'service':'Web','backends':"
         "[{'service':'a','weight':1}]}"), 1, "spec.service",
      "must be a Service name (a DNS-1035 label: lower-case letters, "
      "digits and '-', starting with a letter, ending with a letter or "
      "digit, at most 63 characters) (got \"Web\")");
  bad(TS("v1alpha4", "{'service':'','backends':"
         "[{'service':'a','weight':1}]}"), 1, "spec.service",
      "must not be empty");
  bad(TS("v1alpha4", "{'backends':[{'service':'a','weight':1}]}"), 1,
      "spec.service", "is required");
  bad(TS("v1alpha4", "{'service':7,'backends':[{'service':'a',"
         "'weight':1}]}"), 1, "spec.service",
      "must be a string (got a number)");
}

static void backends(void **state) {
  sb_traffic_split *ts;

  (void) state;
  /* Backends may be written like the root; they are stored by name. The
   * root may be one of its own backends (Argo Rollouts does that). */
  ts = ts_ok(TS("v1alpha2", "{'service':'web','backends':["
                "{'service':'web','weight':90},"
                "{'service':'web-v2.shop','weight':10}]}"), 0);
  assert_string_equal(ts->backends[0].service, "web");
  assert_string_equal(ts->backends[1].service, "web-v2");
  assert_int_equal(ts->backends[1].weight_milli, 10000);
  assert_int_equal(ts->backends[1].line, 0);  /* no document */
  sb_obj_free(&ts->obj);

  bad(TS("v1alpha2", "{'service':'web','backends':[]}"), 1,
      "spec.backends", "must list at least one backend");
  bad(TS("v1alpha2", "{'service':'web'}"), 1, "spec.backends",
      "is required");
  bad(TS("v1alpha2", "{'service':'web','backends':{'a':1}}"), 1,
      "spec.backends", "must be a list (got a map)");
  bad(TS("v1alpha2", "{'service':'web','backends':['a']}"), 1,
      "spec.backends[0]",
      "must be a map with service and weight (got a string)");
  bad(TS("v1alpha2", "{'service':'web','backends':[{'weight':1}]}"), 1,
      "spec.backends[0].service", "is required");
  bad(TS("v1alpha2", "{'service':'web','backends':[{'service':'a'}]}"), 1,
      "spec.backends[0].weight", "is required");
  bad(TS("v1alpha2", "{'service':'web','backends':[{'service':'a',"
         "'weight':1},{'service':'b','weight':1},{'service':'a.shop',"
         "'weight':2}]}"), 1, "spec.backends[2].service",
      "backend \"a\" is listed twice (also spec.backends[0])");
  bad(TS("v1alpha2", "{'service':'web','backends':[{'service':'a.other',"
         "'weight':1}]}"), 1, "spec.backends[0].service",
      "\"a.other\" names namespace \"other\" but the TrafficSplit is in "
      "\"shop\"");
}

static void matches(void **state) {
  sb_traffic_split *ts;
  int v;

  (void) state;
  for (v = 3; v <= 4; v++) {
    char text[512];

    snprintf(text, sizeof(text),
             "{'apiVersion':'split.smi-spec.io/v1alpha%d',"
             "'kind':'TrafficSplit'," META ",'spec':{'service':'web',"
             "'matches':[{'kind':'HTTPRouteGroup','name':'ab-test'},"
             "{'kind':'TCPRoute','name':'db','apiGroup':'x'}],"
             "'backends':[{'service':'a','weight':0},"
             "{'service':'b','weight':100}]}}", v);
    ts = ts_ok(text, 0);
    assert_int_equal(ts->obj.version, v);
    assert_int_equal(ts->nmatches, 2);
    assert_string_equal(ts->matches[0].kind, "HTTPRouteGroup");
    assert_string_equal(ts->matches[0].name, "ab-test");
    assert_string_equal(ts->matches[1].kind, "TCPRoute");
    assert_string_equal(ts->matches[1].name, "db");
    assert_int_equal(ts->backends[1].weight_milli, 100000);
    sb_obj_free(&ts->obj);
  }
  /* Before v1alpha3 they are honoured, with a warning. */
  ts = (sb_traffic_split *) warned(
      TS("v1alpha2", "{'service':'web','matches':[{'kind':'HTTPRouteGroup',"
         "'name':'ab'}],'backends':[{'service':'a','weight':1}]}"),
      1, "spec.matches",
      "matches is a v1alpha3 field; honoured in v1alpha2 too");
  assert_int_equal(ts->nmatches, 1);
  sb_obj_free(&ts->obj);
  /* A repeat is dropped. */
  ts = (sb_traffic_split *) warned(
      TS("v1alpha4", "{'service':'web','matches':[{'kind':'HTTPRouteGroup',"
         "'name':'ab'},{'kind':'HTTPRouteGroup','name':'ab'}],"
         "'backends':[{'service':'a','weight':1}]}"),
      1, "spec.matches[1]",
      "HTTPRouteGroup \"ab\" is listed twice; the repeat is ignored");
  assert_int_equal(ts->nmatches, 1);
  sb_obj_free(&ts->obj);
  /* An empty list is no matches. */
  ts = ts_ok(TS("v1alpha4", "{'service':'web','matches':[],"
                "'backends':[{'service':'a','weight':1}]}"), 0);
  assert_int_equal(ts->nmatches, 0);
  sb_obj_free(&ts->obj);

  bad(TS("v1alpha4", "{'service':'web','matches':[{'name':'ab'}],"
         "'backends':[{'service':'a','weight':1}]}"), 1,
      "spec.matches[0].kind", "is required");
  bad(TS("v1alpha4", "{'service':'web','matches':[{'kind':'Service',"
         "'name':'ab'}],'backends':[{'service':'a','weight':1}]}"), 1,
      "spec.matches[0].kind",
      "must be HTTPRouteGroup (or TCPRoute) (got \"Service\")");
  bad(TS("v1alpha4", "{'service':'web','matches':[{'kind':"
         "'HTTPRouteGroup'}],'backends':[{'service':'a','weight':1}]}"), 1,
      "spec.matches[0].name", "is required");
  bad(TS("v1alpha4", "{'service':'web','matches':[{'kind':"
         "'HTTPRouteGroup','name':'A_B'}],'backends':[{'service':'a',"
         "'weight':1}]}"), 1, "spec.matches[0].name",
      "must be a DNS-1123 subdomain: lower-case letters, digits, '-' and "
      "'.', starting and ending with a letter or digit, at most 253 "
      "characters (got \"A_B\")");
  bad(TS("v1alpha4", "{'service':'web','matches':['ab'],"
         "'backends':[{'service':'a','weight':1}]}"), 1, "spec.matches[0]",
      "must be a map with kind and name (got a string)");
}

static void every_problem_is_reported(void **state) {
  sb_diags d;
  sb_obj *o = NULL;
  sb_buf b;

  (void) state;
  sb_diags_init(&d);
  assert_int_equal(P("{'apiVersion':'split.smi-spec.io/v1alpha2',"
                     "'kind':'TrafficSplit','metadata':{'name':'Bad_Name',"
                     "'namespace':'shop'},'spec':{'service':'web.x',"
                     "'backends':[{'service':'a','weight':10},"
                     "{'service':'b','weight':-5},{'service':'a',"
                     "'weight':1.5},{'weight':'x'}]}}", &o, &d),
                   SB_EINVAL);
  assert_null(o);
  assert_int_equal(sb_diags_count(&d, SB_DIAG_ERROR), 7);
  expect_diag(&d, SB_DIAG_ERROR, "metadata.name",
              "must be a DNS-1123 subdomain: lower-case letters, digits, "
              "'-' and '.', starting and ending with a letter or digit, at "
              "most 253 characters (got \"Bad_Name\")");
  expect_diag(&d, SB_DIAG_ERROR, "spec.service",
              "\"web.x\" names namespace \"x\" but the TrafficSplit is in "
              "\"shop\"");
  expect_diag(&d, SB_DIAG_ERROR, "spec.backends[1].weight",
              "must not be negative (got -5)");
  expect_diag(&d, SB_DIAG_ERROR, "spec.backends[2].service",
              "backend \"a\" is listed twice (also spec.backends[0])");
  expect_diag(&d, SB_DIAG_ERROR, "spec.backends[2].weight",
              "must be a whole number in v1alpha2 (got 1.5)");
  expect_diag(&d, SB_DIAG_ERROR, "spec.backends[3].service", "is required");
  expect_diag(&d, SB_DIAG_ERROR, "spec.backends[3].weight",
              "must be a whole number or a Kubernetes quantity such as "
              "\"500m\" (got \"x\")");
  /* Every diagnostic names the object and the reason. */
  assert_string_equal(d.v[0].kind, "TrafficSplit");
  assert_string_equal(d.v[0].ns, "shop");
  assert_string_equal(d.v[0].name, "Bad_Name");
  assert_string_equal(d.v[0].reason, SB_REASON_INVALID);
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  assert_int_equal(sb_diag_format(&d.v[2], &b), 0);
  assert_string_equal(sb_buf_cstr(&b),
                      "TrafficSplit shop/Bad_Name: spec.backends[1].weight: "
                      "must not be negative (got -5)");
  sb_buf_free(&b);
  sb_diags_free(&d);
}

static void object_level_errors(void **state) {
  (void) state;
  bad("{'apiVersion':'split.smi-spec.io/v1alpha4','kind':'TrafficSplit',"
      META "}", 1, "spec", "is required");
  bad("{'apiVersion':'split.smi-spec.io/v1alpha4','kind':'TrafficSplit',"
      META ",'spec':[]}", 1, "spec", "must be a map (got a list)");
  bad("{'apiVersion':'split.smi-spec.io/v1alpha4','kind':'TrafficSplit',"
      "'spec':{'service':'web','backends':[{'service':'a','weight':1}]}}",
      1, "metadata", "is required");
  bad("{'apiVersion':'split.smi-spec.io/v1alpha4','kind':'TrafficSplit',"
      "'metadata':{'namespace':'shop'},'spec':{'service':'web',"
      "'backends':[{'service':'a','weight':1}]}}", 1, "metadata.name",
      "is required");
  bad("{'apiVersion':'split.smi-spec.io/v1alpha4','kind':'TrafficSplit',"
      "'metadata':{'name':'x','namespace':'Shop'},'spec':{'service':'web',"
      "'backends':[{'service':'a','weight':1}]}}", 1, "metadata.namespace",
      "must be a DNS-1123 label: lower-case letters, digits and '-', "
      "starting and ending with a letter or digit, at most 63 characters "
      "(got \"Shop\")");
  bad("{'apiVersion':'split.smi-spec.io/v1alpha5','kind':'TrafficSplit',"
      META ",'spec':{}}", 1, "apiVersion",
      "unsupported version \"v1alpha5\" of split.smi-spec.io (smi-bridge "
      "reads v1alpha1 to v1alpha4)");
  bad("{'apiVersion':'split.smi-spec.io/v1beta1','kind':'TrafficSplit',"
      META ",'spec':{}}", 1, "apiVersion",
      "unsupported version \"v1beta1\" of split.smi-spec.io (smi-bridge "
      "reads v1alpha1 to v1alpha4)");
}

/* Lists checked for repeats are capped at 1000 entries. */
static void long_lists(void **state) {
  cJSON *j = J(TS("v1alpha2", "{'service':'web','backends':[]}"));
  cJSON *list = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "spec"),
                                    "backends");
  sb_traffic_split *ts;
  sb_diags d;
  sb_obj *o;
  char name[32];
  int i;

  (void) state;
  for (i = 0; i < 1000; i++) {
    cJSON *b = cJSON_CreateObject();

    snprintf(name, sizeof(name), "b%d", i);
    cJSON_AddStringToObject(b, "service", name);
    cJSON_AddNumberToObject(b, "weight", i);
    cJSON_AddItemToArray(list, b);
  }
  sb_diags_init(&d);
  assert_int_equal(sb_model_parse(j, NULL, &o, &d), 0);
  ts = (sb_traffic_split *) o;
  assert_int_equal(ts->nbackends, 1000);
  assert_string_equal(ts->backends[999].service, "b999");
  assert_int_equal(ts->backends[999].weight_milli, 999000);
  sb_obj_free(o);

  cJSON_AddItemToArray(list, cJSON_Duplicate(cJSON_GetArrayItem(list, 0),
                                             1));
  assert_int_equal(sb_model_parse(j, NULL, &o, &d), SB_EINVAL);
  assert_null(o);
  assert_int_equal(d.n, 1);
  expect_diag(&d, SB_DIAG_ERROR, "spec.backends",
              "has 1001 entries; smi-bridge reads at most 1000");
  sb_diags_free(&d);
  cJSON_Delete(j);
}

/* What Flagger and Argo Rollouts really write: integer percentages (as
 * JSON numbers or, through resource.Quantity, as strings). */
static void real_clients(void **state) {
  static const struct {
    const char *file;
    int version;
    const char *root;
    int64_t w0, w1;
  } cases[] = {
    { "flagger-linkerd-v1alpha1.json", 1, "podinfo", 95, 5 },
    { "argo-rollouts-v1alpha1.json", 1, "rollout-example-stable", 10, 90 },
    { "flagger-osm-v1alpha2.json", 2, "podinfo", 0, 100 },
    { "flagger-v1alpha3.json", 3, "podinfo", 60, 40 },
  };
  sb_traffic_split *ts;
  sb_diags d;
  char uid[SB_UID_BUF];
  sb_obj *o;
  cJSON *j;
  size_t i;

  (void) state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    sb_diags_init(&d);
    j = test_fixture("model", cases[i].file);
    assert_int_equal(sb_model_parse(j, NULL, &o, &d), 0);
    assert_int_equal(d.n, 0);
    ts = (sb_traffic_split *) o;
    assert_int_equal(ts->obj.version, cases[i].version);
    assert_string_equal(ts->root, cases[i].root);
    assert_int_equal(ts->nbackends, 2);
    assert_int_equal(ts->backends[0].weight_milli, cases[i].w0 * 1000);
    assert_int_equal(ts->backends[1].weight_milli, cases[i].w1 * 1000);
    sb_obj_free(o);
    cJSON_Delete(j);
    sb_diags_free(&d);
  }
  /* The API server's metadata is kept. */
  j = test_fixture("model", "flagger-linkerd-v1alpha1.json");
  sb_diags_init(&d);
  assert_int_equal(sb_model_parse(j, NULL, &o, &d), 0);
  /* A UUID is kept in 16 bytes and reads back the same. */
  assert_int_equal(o->meta->uid_form, SB_UID_BINARY);
  assert_string_equal(sb_obj_uid(o, uid),
                      "0b7f4d6e-5a1c-4f3b-8e2d-7c9a1b3e5f60");
  assert_string_equal(o->resource_version, "184467");
  assert_int_equal(o->meta->created, 1709374500);
  assert_int_equal(o->meta->generation, 7);
  assert_null(o->meta->file);
  assert_int_equal(o->meta->line, 0);
  sb_obj_free(o);
  cJSON_Delete(j);
  sb_diags_free(&d);
}

#include "sb/doc.h"

struct lines {
  sb_diags diags;
  int rc;
  sb_obj *obj;
};

static int on_doc(void *arg, sb_doc *doc) {
  struct lines *l = arg;

  l->rc = sb_model_parse(sb_doc_root(doc), doc, &l->obj, &l->diags);
  sb_doc_free(doc);
  return 0;
}

static void errors_carry_lines(void **state) {
  static const char yaml[] =
      "apiVersion: split.smi-spec.io/v1alpha2\n"   /* 1 */
      "kind: TrafficSplit\n"                       /* 2 */
      "metadata:\n"                                /* 3 */
      "  name: web\n"                              /* 4 */
      "  namespace: shop\n"                        /* 5 */
      "spec:\n"                                    /* 6 */
      "  service: web.other\n"                     /* 7 */
      "  backends:\n"                              /* 8 */
      "  - service: a\n"                           /* 9 */
      "    weight: 10\n"                           /* 10 */
      "  - service: b\n"                           /* 11 */
      "    weight: -5\n";                          /* 12 */
  static const char good[] =
      "# a comment\n"
      "apiVersion: split.smi-spec.io/v1alpha1\n"   /* 2 */
      "kind: TrafficSplit\n"
      "metadata: {name: web, namespace: shop}\n"
      "spec:\n"
      "  service: web\n"
      "  backends:\n"
      "  - service: a\n"                           /* 8 */
      "    weight: 500m\n";
  struct lines l;
  sb_doc_limits lim;

  (void) state;
  sb_doc_limits_default(&lim);
  memset(&l, 0, sizeof(l));
  sb_diags_init(&l.diags);
  assert_int_equal(sb_doc_parse("split.yaml", yaml, sizeof(yaml) - 1, &lim,
                                on_doc, &l, &l.diags), 0);
  assert_int_equal(l.rc, SB_EINVAL);
  assert_null(l.obj);
  assert_int_equal(l.diags.n, 2);
  assert_string_equal(l.diags.v[0].path, "spec.service");
  assert_string_equal(l.diags.v[0].file, "split.yaml");
  assert_int_equal(l.diags.v[0].line, 7);
  assert_string_equal(l.diags.v[1].path, "spec.backends[1].weight");
  assert_int_equal(l.diags.v[1].line, 12);
  sb_diags_free(&l.diags);

  memset(&l, 0, sizeof(l));
  sb_diags_init(&l.diags);
  assert_int_equal(sb_doc_parse("good.yaml", good, sizeof(good) - 1, &lim,
                                on_doc, &l, &l.diags), 0);
  assert_int_equal(l.rc, 0);
  assert_string_equal(l.obj->meta->file, "good.yaml");
  assert_int_equal(l.obj->meta->line, 2);
  assert_int_equal(((sb_traffic_split *) l.obj)->backends[0].line, 8);
  assert_int_equal(((sb_traffic_split *) l.obj)->backends[0].weight_milli,
                   500);
  sb_obj_free(l.obj);
  sb_diags_free(&l.diags);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(v1alpha1_weights_are_quantities),
    cmocka_unit_test(later_weights_are_integers),
    cmocka_unit_test(bad_weights_say_why),
    cmocka_unit_test(root_forms),
    cmocka_unit_test(root_errors),
    cmocka_unit_test(backends),
    cmocka_unit_test(matches),
    cmocka_unit_test(every_problem_is_reported),
    cmocka_unit_test(object_level_errors),
    cmocka_unit_test(long_lists),
    cmocka_unit_test(real_clients),
    cmocka_unit_test(errors_carry_lines),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
