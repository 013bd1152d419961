/* test-cache.c -- the controller's cache: world, invalid and generated
 * parts, the exact sequence of reported changes, relist sweeps, and what
 * it costs in memory.
 *
 * Every change the cache reports is appended to a log as one line
 *   <M|I|G> <Kind> <ns>/<name> <old rv>><new rv>
 * ("-" for a missing side), so a test states the whole expected sequence
 * in one string.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SB_TEST_ASAN 1
#endif
#if !defined(SB_TEST_ASAN) && defined(__GLIBC__) &&                        \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#define SB_TEST_MALLINFO 1
#include <malloc.h>
#endif

#include "sb/cache.h"
#include "sb/err.h"
#include "sb/reconcile.h"

#include "test-json.h"

static const sb_gvk VS = {"networking.istio.io", "v1", "VirtualService",
                          "virtualservices"};
static const sb_gvk AP = {"security.istio.io", "v1", "AuthorizationPolicy",
                          "authorizationpolicies"};
/* Same group and kind at another version: the same resource. */
static const sb_gvk VS_BETA = {"networking.istio.io", "v1beta1",
                               "VirtualService", "virtualservices"};

static const sb_cache_res R_TS = {SB_KIND_TRAFFIC_SPLIT, NULL, NULL};
static const sb_cache_res R_POD = {SB_KIND_POD, NULL, NULL};
static const sb_cache_res R_VS = {SB_KIND_UNKNOWN, &VS, NULL};
static const sb_cache_res R_AP = {SB_KIND_UNKNOWN, &AP, NULL};

/* ---- helpers ------------------------------------------------------------ */

typedef struct changelog {
  sb_buf b;
  const sb_cache *cache;   /* for checks made inside the callback */
  int checked;
} changelog;

static const char *side_rv(const sb_change *c, const void *o) {
  if (!o)
    return "-";
  switch (c->type) {
  case SB_CHANGE_MODEL:
    return ((const sb_obj *) o)->resource_version;
  case SB_CHANGE_INVALID:
    return ((const sb_invalid *) o)->resource_version;
  case SB_CHANGE_GENERATED:
    return ((const sb_gen *) o)->resource_version;
  }
  return "?";
}

static void on_change(void *arg, const sb_change *c) {
  changelog *l = arg;
  const char *kind = c->type == SB_CHANGE_GENERATED
                         ? ((const sb_gen *) (c->new_obj ? c->new_obj
                                                         : c->old_obj))
                               ->gvk->kind
                         : sb_kind_name(c->kind);
  char t = c->type == SB_CHANGE_MODEL ? 'M'
           : c->type == SB_CHANGE_INVALID ? 'I' : 'G';

  assert_true(c->old_obj || c->new_obj);
  assert_int_equal(sb_buf_addf(&l->b, "%c %s %s/%s %s>%s\n", t, kind, c->ns,
                               c->name, side_rv(c, c->old_obj),
                               side_rv(c, c->new_obj)), 0);
  if (c->type == SB_CHANGE_MODEL && c->new_obj) {
    /* The world already holds the new object when it is reported. */
    assert_ptr_equal(sb_world_get(sb_cache_world(l->cache), c->kind, c->ns,
                                  c->name), c->new_obj);
    l->checked++;
  }
}

/* Returns the log since the last call and clears it. */
static char *taken;
static const char *take(changelog *l) {
  free(taken);
  taken = strdup(sb_buf_cstr(&l->b));
  assert_non_null(taken);
  sb_buf_reset(&l->b);
  return taken;
}

static sb_cache *new_cache(changelog *l) {
  sb_cache *c;

  memset(l, 0, sizeof(*l));
  sb_buf_init(&l->b, SB_BUF_UNLIMITED);
  c = sb_cache_new(on_change, l);
  assert_non_null(c);
  l->cache = c;
  return c;
}

static void done(sb_cache *c, changelog *l) {
  sb_cache_free(c);
  sb_buf_free(&l->b);
  free(taken);
  taken = NULL;
}

static int apply(sb_cache *c, const sb_cache_res *r, const char *text) {
  cJSON *j = J(text);
  int rc = sb_cache_apply(c, r, j);

  cJSON_Delete(j);
  return rc;
}

static int del(sb_cache *c, const sb_cache_res *r, const char *text) {
  cJSON *j = J(text);
  int rc = sb_cache_delete(c, r, j);

  cJSON_Delete(j);
  return rc;
}

static void apply_fixture(sb_cache *c, const sb_cache_res *r,
                          const char *name) {
  cJSON *j = test_fixture("ctrl", name);

  assert_int_equal(sb_cache_apply(c, r, j), 0);
  cJSON_Delete(j);
}

#define META(ns, name, rv)                                                   \
  "'metadata':{'namespace':'" ns "','name':'" name "','uid':'uid-" name      \
  "','resourceVersion':'" rv "'}"

#define TS_OBJ(name, rv, w)                                                  \
  "{'apiVersion':'split.smi-spec.io/v1alpha4','kind':'TrafficSplit',"        \
  META("shop", name, rv) ",'spec':{'service':'web','backends':["             \
  "{'service':'web-v1','weight':" w "},{'service':'web-v2','weight':10}]}}"

/* ---- the world ---------------------------------------------------------- */

typedef struct kindcase {
  sb_kind kind;
  const char *v1;
  const char *v2;
} kindcase;

static void model_put_replace_delete(void **state) {
  static const kindcase cases[] = {
    {SB_KIND_TRAFFIC_SPLIT, TS_OBJ("web", "1", "90"),
     TS_OBJ("web", "2", "80")},
    {SB_KIND_HTTP_ROUTE_GROUP,
     "{'apiVersion':'specs.smi-spec.io/v1alpha4','kind':'HTTPRouteGroup',"
     META("shop", "routes", "1") ",'spec':{'matches':[{'name':'api',"
     "'pathRegex':'/api'}]}}",
     "{'apiVersion':'specs.smi-spec.io/v1alpha4','kind':'HTTPRouteGroup',"
     META("shop", "routes", "2") ",'spec':{'matches':[{'name':'api',"
     "'pathRegex':'/api/v2'}]}}"},
    {SB_KIND_TCP_ROUTE,
     "{'apiVersion':'specs.smi-spec.io/v1alpha4','kind':'TCPRoute',"
     META("shop", "routes", "1") ",'spec':{'matches':{'ports':[3306]}}}",
     "{'apiVersion':'specs.smi-spec.io/v1alpha4','kind':'TCPRoute',"
     META("shop", "routes", "2") ",'spec':{'matches':{'ports':[5432]}}}"},
    {SB_KIND_UDP_ROUTE,
     "{'apiVersion':'specs.smi-spec.io/v1alpha4','kind':'UDPRoute',"
     META("shop", "routes", "1") ",'spec':{'matches':{'ports':[53]}}}",
     "{'apiVersion':'specs.smi-spec.io/v1alpha4','kind':'UDPRoute',"
     META("shop", "routes", "2") ",'spec':{'matches':{'ports':[5353]}}}"},
    {SB_KIND_TRAFFIC_TARGET,
     "{'apiVersion':'access.smi-spec.io/v1alpha3','kind':'TrafficTarget',"
     META("shop", "api", "1") ",'spec':{'destination':{'kind':"
     "'ServiceAccount','name':'api'},'sources':[{'kind':'ServiceAccount',"
     "'name':'web'}],'rules':[{'kind':'HTTPRouteGroup','name':'routes'}]}}",
     "{'apiVersion':'access.smi-spec.io/v1alpha3','kind':'TrafficTarget',"
     META("shop", "api", "2") ",'spec':{'destination':{'kind':"
     "'ServiceAccount','name':'api'},'sources':[{'kind':'ServiceAccount',"
     "'name':'gw'}],'rules':[{'kind':'HTTPRouteGroup','name':'routes'}]}}"},
    {SB_KIND_SERVICE,
     "{'apiVersion':'v1','kind':'Service'," META("shop", "web", "1")
     ",'spec':{'selector':{'app':'web'},'ports':[{'port':80}]}}",
     "{'apiVersion':'v1','kind':'Service'," META("shop", "web", "2")
     ",'spec':{'selector':{'app':'web'},'ports':[{'port':8080}]}}"},
    {SB_KIND_POD,
     "{'apiVersion':'v1','kind':'Pod'," META("shop", "web-1", "1")
     ",'spec':{'serviceAccountName':'web','containers':[{'name':'c'}]}}",
     "{'apiVersion':'v1','kind':'Pod'," META("shop", "web-1", "2")
     ",'spec':{'serviceAccountName':'api','containers':[{'name':'c'}]}}"},
    {SB_KIND_SERVICE_ACCOUNT,
     "{'apiVersion':'v1','kind':'ServiceAccount'," META("shop", "web", "1")
     "}",
     "{'apiVersion':'v1','kind':'ServiceAccount'," META("shop", "web", "2")
     ",'automountServiceAccountToken':false}"},
  };
  size_t i;
  char want[256];

  (void) state;
  for (i = 0; i < SB_ARRAY_SIZE(cases); i++) {
    const kindcase *k = &cases[i];
    sb_cache_res r = {k->kind, NULL, NULL};
    const char *kn = sb_kind_name(k->kind);
    changelog l;
    sb_cache *c = new_cache(&l);
    cJSON *j = J(k->v1);
    const char *name = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"),
                                           "name")->valuestring;
    const sb_obj *o;

    assert_int_equal(sb_cache_apply(c, &r, j), 0);
    snprintf(want, sizeof(want), "M %s shop/%s ->1\n", kn, name);
    assert_string_equal(take(&l), want);
    o = sb_world_get(sb_cache_world(c), k->kind, "shop", name);
    assert_non_null(o);
    assert_int_equal(o->kind, k->kind);
    assert_string_equal(o->resource_version, "1");
    assert_int_equal(sb_cache_count(c), 1);

    /* The same resourceVersion again (a relist): nothing happens. */
    assert_int_equal(sb_cache_apply(c, &r, j), 0);
    assert_string_equal(take(&l), "");
    assert_ptr_equal(sb_world_get(sb_cache_world(c), k->kind, "shop", name),
                     o);

    assert_int_equal(apply(c, &r, k->v2), 0);
    snprintf(want, sizeof(want), "M %s shop/%s 1>2\n", kn, name);
    assert_string_equal(take(&l), want);
    o = sb_world_get(sb_cache_world(c), k->kind, "shop", name);
    assert_string_equal(o->resource_version, "2");
    assert_int_equal(sb_cache_count(c), 1);

    assert_int_equal(sb_cache_delete(c, &r, j), 0);
    snprintf(want, sizeof(want), "M %s shop/%s 2>-\n", kn, name);
    assert_string_equal(take(&l), want);
    assert_null(sb_world_get(sb_cache_world(c), k->kind, "shop", name));
    assert_int_equal(sb_cache_count(c), 0);
    /* Deleting what is not there is not an error and reports nothing. */
    assert_int_equal(sb_cache_delete(c, &r, j), 0);
    assert_string_equal(take(&l), "");
    assert_int_equal(l.checked, 2);
    cJSON_Delete(j);
    done(c, &l);
  }
}

static void wrong_input_is_refused(void **state) {
  changelog l;
  sb_cache *c = new_cache(&l);
  sb_cache_res bad = {SB_KIND_UNKNOWN, NULL, NULL};

  (void) state;
  /* A Service fed to the Pod resource, an object without a name or kind. */
  assert_int_equal(apply(c, &R_POD, "{'apiVersion':'v1','kind':'Service',"
                         META("shop", "web", "1") "}"), SB_EINVAL);
  assert_int_equal(apply(c, &R_POD, "{'apiVersion':'v1','kind':'Pod',"
                         "'metadata':{'namespace':'shop'}}"), SB_EINVAL);
  assert_int_equal(apply(c, &R_POD, "{'apiVersion':'v1',"
                         META("shop", "web", "1") "}"), SB_EINVAL);
  assert_int_equal(apply(c, &R_VS, "{'metadata':{'namespace':'shop'}}"),
                   SB_EINVAL);
  assert_int_equal(apply(c, &bad, TS_OBJ("web", "1", "90")), SB_EINVAL);
  assert_int_equal(apply(c, &R_TS, "[]"), SB_EINVAL);
  assert_string_equal(take(&l), "");
  assert_int_equal(sb_cache_count(c), 0);
  done(c, &l);
}

static void invalid_smi_keeps_last_valid(void **state) {
  changelog l;
  sb_cache *c = new_cache(&l);
  const sb_invalid *iv;
  const sb_diags *d;
  const sb_obj *o;
  const char *uid = "x";

  (void) state;
  assert_int_equal(apply(c, &R_TS, TS_OBJ("web", "1", "90")), 0);
  assert_string_equal(take(&l), "M TrafficSplit shop/web ->1\n");
  assert_null(sb_cache_invalid(c, SB_KIND_TRAFFIC_SPLIT, "shop", "web",
                               &uid));
  assert_null(uid);

  /* A bad edit: the world keeps version 1, the invalid set holds 2. */
  assert_int_equal(apply(c, &R_TS, TS_OBJ("web", "2", "-5")), 0);
  assert_string_equal(take(&l), "I TrafficSplit shop/web ->2\n");
  o = sb_world_get(sb_cache_world(c), SB_KIND_TRAFFIC_SPLIT, "shop", "web");
  assert_non_null(o);
  assert_string_equal(o->resource_version, "1");
  assert_int_equal(((const sb_traffic_split *) o)->backends[0].weight_milli,
                   90000);
  d = sb_cache_invalid(c, SB_KIND_TRAFFIC_SPLIT, "shop", "web", &uid);
  assert_non_null(d);
  assert_string_equal(uid, "uid-web");
  assert_int_equal(d->n, 1);
  assert_int_equal(d->v[0].sev, SB_DIAG_ERROR);
  assert_string_equal(d->v[0].reason, SB_REASON_INVALID);
  assert_string_equal(d->v[0].kind, "TrafficSplit");
  assert_string_equal(d->v[0].ns, "shop");
  assert_string_equal(d->v[0].name, "web");
  assert_string_equal(d->v[0].path, "spec.backends[0].weight");
  assert_string_equal(d->v[0].msg, "must not be negative (got -5)");
  iv = sb_cache_invalid_get(c, SB_KIND_TRAFFIC_SPLIT, "shop", "web");
  assert_ptr_equal(&iv->diags, d);
  assert_string_equal(iv->api_version, "split.smi-spec.io/v1alpha4");
  assert_string_equal(iv->uid, "uid-web");
  assert_string_equal(iv->resource_version, "2");
  assert_int_equal(sb_cache_count(c), 2);

  /* Same invalid version again: nothing. Another bad one: replaced. */
  assert_int_equal(apply(c, &R_TS, TS_OBJ("web", "2", "-5")), 0);
  assert_string_equal(take(&l), "");
  assert_int_equal(apply(c, &R_TS, TS_OBJ("web", "3", "-7")), 0);
  assert_string_equal(take(&l), "I TrafficSplit shop/web 2>3\n");
  d = sb_cache_invalid(c, SB_KIND_TRAFFIC_SPLIT, "shop", "web", NULL);
  assert_string_equal(d->v[0].msg, "must not be negative (got -7)");

  /* Recovery: the world moves on, the invalid entry goes -- in that order.
   * The version held as "last valid" is not a reason to skip the parse. */
  assert_int_equal(apply(c, &R_TS, TS_OBJ("web", "1", "90")), 0);
  assert_string_equal(take(&l), "M TrafficSplit shop/web 1>1\n"
                                "I TrafficSplit shop/web 3>-\n");
  assert_null(sb_cache_invalid_get(c, SB_KIND_TRAFFIC_SPLIT, "shop", "web"));
  assert_int_equal(apply(c, &R_TS, TS_OBJ("web", "4", "70")), 0);
  assert_string_equal(take(&l), "M TrafficSplit shop/web 1>4\n");
  assert_int_equal(sb_cache_count(c), 1);

  /* Invalid then deleted: both parts go. */
  assert_int_equal(apply(c, &R_TS, TS_OBJ("web", "5", "-1")), 0);
  assert_string_equal(take(&l), "I TrafficSplit shop/web ->5\n");
  assert_int_equal(del(c, &R_TS, TS_OBJ("web", "5", "-1")), 0);
  assert_string_equal(take(&l), "M TrafficSplit shop/web 4>-\n"
                                "I TrafficSplit shop/web 5>-\n");
  assert_int_equal(sb_cache_count(c), 0);

  /* Never valid: only the invalid part exists. */
  assert_int_equal(apply(c, &R_TS, TS_OBJ("new", "6", "-1")), 0);
  assert_string_equal(take(&l), "I TrafficSplit shop/new ->6\n");
  assert_null(sb_world_get(sb_cache_world(c), SB_KIND_TRAFFIC_SPLIT, "shop",
                           "new"));
  assert_int_equal(apply(c, &R_TS, TS_OBJ("new", "7", "50")), 0);
  assert_string_equal(take(&l), "M TrafficSplit shop/new ->7\n"
                                "I TrafficSplit shop/new 6>-\n");
  done(c, &l);
}

static void parse_warnings_are_kept(void **state) {
  changelog l;
  sb_cache *c = new_cache(&l);
  const sb_diags *w;

  (void) state;
  /* A quantity weight in v1alpha4 is read, with a warning. */
  assert_int_equal(apply(c, &R_TS, TS_OBJ("web", "1", "'500m'")), 0);
  assert_string_equal(take(&l), "M TrafficSplit shop/web ->1\n");
  w = sb_cache_warnings(c, SB_KIND_TRAFFIC_SPLIT, "shop", "web");
  assert_non_null(w);
  assert_int_equal(w->n, 1);
  assert_int_equal(w->v[0].sev, SB_DIAG_WARNING);
  assert_string_equal(w->v[0].path, "spec.backends[0].weight");
  assert_string_equal(w->v[0].msg, "\"500m\" is a quantity (the v1alpha1 "
                      "form); read as 0.5");
  assert_null(sb_cache_invalid_get(c, SB_KIND_TRAFFIC_SPLIT, "shop", "web"));
  assert_int_equal(sb_cache_count(c), 1);

  /* A bad edit keeps the last valid version, and so its warnings. */
  assert_int_equal(apply(c, &R_TS, TS_OBJ("web", "2", "-5")), 0);
  assert_ptr_equal(sb_cache_warnings(c, SB_KIND_TRAFFIC_SPLIT, "shop",
                                     "web"), w);
  /* A clean version has none. */
  assert_int_equal(apply(c, &R_TS, TS_OBJ("web", "3", "90")), 0);
  assert_null(sb_cache_warnings(c, SB_KIND_TRAFFIC_SPLIT, "shop", "web"));
  assert_int_equal(apply(c, &R_TS, TS_OBJ("web", "4", "'500m'")), 0);
  assert_non_null(sb_cache_warnings(c, SB_KIND_TRAFFIC_SPLIT, "shop",
                                    "web"));
  take(&l);
  /* Deleted or swept: gone. */
  assert_int_equal(del(c, &R_TS, TS_OBJ("web", "4", "'500m'")), 0);
  assert_string_equal(take(&l), "M TrafficSplit shop/web 4>-\n");
  assert_null(sb_cache_warnings(c, SB_KIND_TRAFFIC_SPLIT, "shop", "web"));
  assert_int_equal(apply(c, &R_TS, TS_OBJ("web", "5", "'500m'")), 0);
  sb_cache_begin_sync(c, &R_TS);
  assert_int_equal(sb_cache_end_sync(c, &R_TS), 0);
  assert_string_equal(take(&l), "M TrafficSplit shop/web ->5\n"
                                "M TrafficSplit shop/web 5>-\n");
  assert_null(sb_cache_warnings(c, SB_KIND_TRAFFIC_SPLIT, "shop", "web"));
  assert_int_equal(sb_cache_count(c), 0);
  done(c, &l);
}

static void other_bad_objects_are_skipped(void **state) {
  changelog l;
  sb_cache *c = new_cache(&l);
  const sb_obj *o;

  (void) state;
  apply_fixture(c, &R_POD, "pod-web.json");
  assert_string_equal(take(&l), "M Pod shop/web-6f7c9d8b4-k2x9q ->7001\n");
  /* A pod we cannot read is not ours to complain about: no change, no
   * invalid entry, the last good version stays. */
  assert_int_equal(apply(c, &R_POD, "{'apiVersion':'v1','kind':'Pod',"
                         META("shop", "web-6f7c9d8b4-k2x9q", "7002")
                         ",'spec':{'containers':[5]}}"), 0);
  assert_string_equal(take(&l), "");
  assert_null(sb_cache_invalid_get(c, SB_KIND_POD, "shop",
                                   "web-6f7c9d8b4-k2x9q"));
  o = sb_world_get(sb_cache_world(c), SB_KIND_POD, "shop",
                   "web-6f7c9d8b4-k2x9q");
  assert_string_equal(o->resource_version, "7001");
  assert_int_equal(sb_cache_count(c), 1);
  done(c, &l);
}

static void pod_churn_is_quiet(void **state) {
  changelog l;
  sb_cache *c = new_cache(&l);
  cJSON *pod = test_fixture("ctrl", "pod-web.json");
  cJSON *meta = cJSON_GetObjectItem(pod, "metadata");
  cJSON *status = cJSON_GetObjectItem(pod, "status");
  const sb_pod *p;

  (void) state;
  assert_int_equal(sb_cache_apply(c, &R_POD, pod), 0);
  assert_string_equal(take(&l), "M Pod shop/web-6f7c9d8b4-k2x9q ->7001\n");

  /* Only status details changed: stored, not reported. */
  cJSON_ReplaceItemInObject(meta, "resourceVersion",
                            cJSON_CreateString("7002"));
  cJSON_ReplaceItemInObject(status, "podIP", cJSON_CreateString("10.0.0.1"));
  assert_int_equal(sb_cache_apply(c, &R_POD, pod), 0);
  assert_string_equal(take(&l), "");
  p = (const sb_pod *) sb_world_get(sb_cache_world(c), SB_KIND_POD, "shop",
                                    "web-6f7c9d8b4-k2x9q");
  assert_string_equal(p->obj.resource_version, "7002");

  /* The phase is part of the model: reported. */
  cJSON_ReplaceItemInObject(meta, "resourceVersion",
                            cJSON_CreateString("7003"));
  cJSON_ReplaceItemInObject(status, "phase", cJSON_CreateString("Failed"));
  assert_int_equal(sb_cache_apply(c, &R_POD, pod), 0);
  assert_string_equal(take(&l), "M Pod shop/web-6f7c9d8b4-k2x9q 7002>7003\n");

  /* So are labels. */
  cJSON_ReplaceItemInObject(meta, "resourceVersion",
                            cJSON_CreateString("7004"));
  cJSON_AddStringToObject(cJSON_GetObjectItem(meta, "labels"), "x", "y");
  assert_int_equal(sb_cache_apply(c, &R_POD, pod), 0);
  assert_string_equal(take(&l), "M Pod shop/web-6f7c9d8b4-k2x9q 7003>7004\n");
  cJSON_Delete(pod);
  done(c, &l);
}

/* ---- generated objects -------------------------------------------------- */

/* sb_gen_contains(g, text) for JSON with single quotes. */
static int has(const sb_gen *g, const char *text) {
  cJSON *j = J(text);
  int r = sb_gen_contains(g, j);

  cJSON_Delete(j);
  return r;
}

/* The fingerprint answers sb_json_subset's question: every case of the
 * subset tests, asked of a managed object whose spec is `a` with a
 * desired object whose spec is `d`. */
static const struct {
  const char *d, *a;
} subset_cases[] = {
  {"{}", "{}"}, {"{}", "{'a':1}"}, {"{'a':1}", "{'a':1,'b':2}"},
  {"{'a':1,'b':2}", "{'a':1}"}, {"{'a':1}", "{'A':1}"},
  {"{'m':{'x':'1'}}", "{'m':{'x':'1','y':'2'},'n':0}"},
  {"{'m':{'x':'1'}}", "{'m':{'x':'2'}}"}, {"{'m':{'x':'1'}}", "{'m':['x']}"},
  {"{'m':{'x':'1'}}", "{'m':'x'}"},
  {"{'a':1,'b':{'c':2,'d':3}}", "{'b':{'d':3,'c':2},'a':1}"},
  {"{'a':'x'}", "{'b':'x'}"}, {"{'a':{'b':'x'}}", "{'a.b':'x'}"},
  {"{'a':{'b':'x'}}", "{'a':{'c':{'b':'x'}}}"},
  {"[]", "[]"}, {"[1,2]", "[1,2]"}, {"[1,2]", "[2,1]"}, {"[1,2]", "[1,2,3]"},
  {"[1,2,3]", "[1,2]"}, {"[]", "[1]"},
  {"[{'port':80}]", "[{'port':80,'protocol':'TCP'}]"},
  {"[{'port':80,'name':'http'}]", "[{'port':80}]"}, {"[[1]]", "[[1,2]]"},
  {"[[1],[2]]", "[[2],[1]]"}, {"[1]", "{'0':1}"},
  {"{'o':[{'uid':'a'},{'uid':'b'}]}", "{'o':[{'uid':'a'}]}"},
  {"{'o':[{'uid':'a','controller':true}]}", "{'o':[{'uid':'a'}]}"},
  {"{'w':90}", "{'w':90.0}"}, {"{'w':1e2}", "{'w':100}"},
  {"{'w':0}", "{'w':-0}"}, {"{'w':90}", "{'w':91}"},
  {"{'w':90}", "{'w':'90'}"}, {"{'w':'90'}", "{'w':90}"},
  {"{'s':'a'}", "{'s':'a'}"}, {"{'s':'a'}", "{'s':'A'}"},
  {"{'s':'a'}", "{'s':'a '}"}, {"{'s':''}", "{}"}, {"{'s':'ab'}", "{'s':'a'}"},
  {"{'b':true}", "{'b':true}"}, {"{'b':true}", "{'b':false}"},
  {"{'b':false}", "{}"}, {"{'b':true}", "{'b':1}"},
  {"{'b':false}", "{'b':null}"}, {"{'n':null}", "{'n':null}"},
  {"{'n':null}", "{}"}, {"{'n':null}", "{'n':0}"}, {"{'n':0}", "{'n':null}"},
  {"{'m':{},'l':[]}", "{}"}, {"{'m':{},'l':[]}", "{'m':null,'l':null}"},
  {"{'m':{'a':1}}", "{}"}, {"{'l':[1]}", "{'l':null}"},
  {"{'l':[]}", "{'l':[1]}"}, {"{'l':[]}", "{'l':[]}"},
};

static cJSON *managed_with_spec(const char *spec, int rv) {
  cJSON *o = J("{'apiVersion':'networking.istio.io/v1',"
               "'kind':'VirtualService','metadata':{'name':'x',"
               "'namespace':'shop','labels':{'app.kubernetes.io/managed-by':"
               "'smi-bridge'}}}");
  char buf[16];

  snprintf(buf, sizeof(buf), "%d", rv);
  cJSON_AddStringToObject(cJSON_GetObjectItem(o, "metadata"),
                          "resourceVersion", buf);
  cJSON_AddItemToObject(o, "spec", J(spec));
  return o;
}

static void fingerprint_agrees_with_subset(void **state) {
  sb_cache *c = sb_cache_new(NULL, NULL);
  size_t i;

  (void) state;
  assert_non_null(c);
  for (i = 0; i < SB_ARRAY_SIZE(subset_cases); i++) {
    cJSON *actual = managed_with_spec(subset_cases[i].a, (int) i + 1);
    cJSON *desired = cJSON_CreateObject();
    const sb_gen *g;
    int want, got;

    cJSON_AddItemToObject(desired, "spec", J(subset_cases[i].d));
    assert_int_equal(sb_cache_apply(c, &R_VS, actual), 0);
    g = sb_cache_gen(c, &VS, "shop", "x");
    assert_non_null(g);
    want = sb_json_subset(desired, actual);
    got = sb_gen_contains(g, desired);
    if (want != got)
      fprintf(stderr, "  case %zu: %s in %s: subset %d, fingerprint %d\n",
              i, subset_cases[i].d, subset_cases[i].a, want, got);
    assert_int_equal(got, want);
    cJSON_Delete(desired);
    cJSON_Delete(actual);
  }

  /* The documented corners: an empty map, and an empty list facing a
   * value that is not a list, count as contained. */
  {
    cJSON *actual = managed_with_spec("{'m':'x','l':'y'}", 1000);
    const sb_gen *g;

    assert_int_equal(sb_cache_apply(c, &R_VS, actual), 0);
    g = sb_cache_gen(c, &VS, "shop", "x");
    assert_true(has(g, "{'spec':{'m':{}}}"));
    assert_true(has(g, "{'spec':{'l':[]}}"));
    assert_false(has(g, "{'spec':{'m':{'a':1}}}"));
    assert_false(has(g, "{'spec':{'l':[1]}}"));
    cJSON_Delete(actual);
  }
  sb_cache_free(c);
}

static void generated_managed_and_foreign(void **state) {
  changelog l;
  sb_cache *c = new_cache(&l);
  const sb_gen *g;
  cJSON *raw = test_fixture("ctrl", "vs-managed.json"), *want, *meta, *x;
  size_t before;

  (void) state;
  assert_int_equal(sb_cache_bytes(c), sb_cache_bytes(c));
  before = sb_cache_bytes(c);
  assert_int_equal(sb_cache_apply(c, &R_VS, raw), 0);
  apply_fixture(c, &R_VS, "vs-foreign.json");
  assert_string_equal(take(&l), "G VirtualService shop/web-split ->5001\n"
                                "G VirtualService shop/web-canary ->5002\n");
  assert_int_equal(sb_cache_count(c), 2);

  g = sb_cache_gen(c, &VS, "shop", "web-split");
  assert_non_null(g);
  assert_ptr_equal(g->gvk, &VS);
  assert_string_equal(g->ns, "shop");
  assert_string_equal(g->name, "web-split");
  assert_string_equal(g->uid, "6c1f0c4e-1b7d-4e55-a0a4-7d3b0f5e2a11");
  assert_string_equal(g->resource_version, "5001");
  assert_int_equal(g->managed, 1);
  assert_string_equal(g->source_kind, "TrafficSplit");
  assert_string_equal(g->source_name, "web");
  assert_string_equal(g->source_full_name, "web");

  /* The object as sent, minus what the fingerprint leaves out (status,
   * managedFields, the kubectl annotation, and the server's uid,
   * resourceVersion, creationTimestamp and generation), is contained
   * whole; each part of it too. */
  want = cJSON_Duplicate(raw, 1);
  assert_non_null(want);
  meta = cJSON_GetObjectItem(want, "metadata");
  cJSON_DeleteItemFromObject(want, "status");
  cJSON_DeleteItemFromObject(meta, "managedFields");
  cJSON_DeleteItemFromObject(meta, "uid");
  cJSON_DeleteItemFromObject(meta, "resourceVersion");
  cJSON_DeleteItemFromObject(meta, "creationTimestamp");
  cJSON_DeleteItemFromObject(meta, "generation");
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(meta, "annotations"),
                             "kubectl.kubernetes.io/"
                             "last-applied-configuration");
  assert_true(sb_gen_contains(g, want));
  assert_true(sb_gen_contains(g, NULL));
  assert_true(has(g, "{'metadata':{'annotations':{'note':'kept'}}}"));
  assert_true(has(g, "{'spec':{'hosts':['web.shop.svc.cluster.local']}}"));
  assert_true(has(g, "{'metadata':{'labels':{'smi-bridge.io/source-kind':"
                     "'TrafficSplit'}}}"));
  /* Left out: never contained, whatever their value. */
  x = cJSON_CreateObject();
  assert_non_null(x);
  cJSON_AddItemToObject(x, "status",
                        cJSON_Duplicate(cJSON_GetObjectItem(raw, "status"),
                                        1));
  assert_non_null(cJSON_GetObjectItem(x, "status"));
  assert_false(sb_gen_contains(g, x));
  cJSON_Delete(x);
  assert_false(has(g, "{'metadata':{'resourceVersion':'5001'}}"));
  assert_false(has(g, "{'metadata':{'uid':"
                      "'6c1f0c4e-1b7d-4e55-a0a4-7d3b0f5e2a11'}}"));
  assert_false(has(g, "{'metadata':{'annotations':{'kubectl.kubernetes.io/"
                      "last-applied-configuration':'x'}}}"));
  /* A changed leaf, a leaf at another path, another list length, an
   * ownerReference less: not contained. */
  x = cJSON_Duplicate(want, 1);
  cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(
      cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
          cJSON_GetObjectItem(x, "spec"), "http"), 0), "route"), 1),
      "weight"), 11);
  assert_false(sb_gen_contains(g, x));
  cJSON_Delete(x);
  assert_false(has(g, "{'metadata':{'annotations':{'other':'kept'}}}"));
  assert_false(has(g, "{'spec':{'hosts':['web.shop.svc.cluster.local',"
                      "'web']}}"));
  assert_false(has(g, "{'spec':{'hosts':[]}}"));
  assert_false(has(g, "{'metadata':{'ownerReferences':[]}}"));
  assert_false(has(g, "{'metadata':{'labels':{'app.kubernetes.io/"
                      "managed-by':'someone'}}}"));
  cJSON_Delete(want);
  fprintf(stderr, "  managed VirtualService: %zu bytes accounted\n",
          sb_cache_bytes(c) - before);

  /* Foreign: a name and labels, never the body -- even with our source
   * labels on it. */
  g = sb_cache_gen(c, &VS, "shop", "web-canary");
  assert_non_null(g);
  assert_int_equal(g->managed, 0);
  assert_false(has(g, "{}"));
  assert_false(sb_gen_contains(g, NULL));
  assert_string_equal(g->uid, "a3e1d6b2-40c1-4b8e-8f27-9b0c5d4e3f21");

  /* Found under another version of the same kind, not under another kind
   * or name. */
  assert_ptr_equal(sb_cache_gen(c, &VS_BETA, "shop", "web-canary"), g);
  assert_null(sb_cache_gen(c, &AP, "shop", "web-canary"));
  assert_null(sb_cache_gen(c, &VS, "prod", "web-canary"));
  assert_null(sb_cache_gen(c, &VS, "shop", "web"));

  /* A hand edit that drops our label makes it foreign. */
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(cJSON_GetObjectItem(raw,
                             "metadata"), "labels"),
                             "app.kubernetes.io/managed-by");
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(raw, "metadata"),
                            "resourceVersion", cJSON_CreateString("5003"));
  assert_int_equal(sb_cache_apply(c, &R_VS, raw), 0);
  assert_string_equal(take(&l), "G VirtualService shop/web-split 5001>5003\n");
  g = sb_cache_gen(c, &VS, "shop", "web-split");
  assert_int_equal(g->managed, 0);
  assert_false(has(g, "{'spec':{'hosts':['web.shop.svc.cluster.local']}}"));

  assert_int_equal(sb_cache_delete(c, &R_VS, raw), 0);
  assert_string_equal(take(&l), "G VirtualService shop/web-split 5003>-\n");
  assert_null(sb_cache_gen(c, &VS, "shop", "web-split"));
  assert_int_equal(sb_cache_count(c), 1);
  cJSON_Delete(raw);
  done(c, &l);
}

/* A generated object: gvk resource, name, rv, managed flag, source. */
static int gen(sb_cache *c, const sb_cache_res *r, const char *name,
               const char *rv, int managed, const char *skind,
               const char *sname, const char *full) {
  char text[1024];
  int n;

  n = snprintf(text, sizeof(text),
               "{'apiVersion':'%s/%s','kind':'%s','metadata':{'namespace':"
               "'shop','name':'%s','uid':'uid-%s','resourceVersion':'%s',"
               "'labels':{'app':'x'%s%s%s%s%s%s%s}%s%s%s},'spec':{}}",
               r->gvk->group, r->gvk->version, r->gvk->kind, name, name, rv,
               managed ? ",'app.kubernetes.io/managed-by':'smi-bridge'" : "",
               skind ? ",'smi-bridge.io/source-kind':'" : "",
               skind ? skind : "", skind ? "'" : "",
               sname ? ",'smi-bridge.io/source-name':'" : "",
               sname ? sname : "", sname ? "'" : "",
               full ? ",'annotations':{'smi-bridge.io/source-name':'" : "",
               full ? full : "", full ? "'}" : "");
  assert_true(n > 0 && (size_t) n < sizeof(text));
  return apply(c, r, text);
}

static int collect(void *arg, const sb_gen *g) {
  sb_buf *b = arg;

  assert_int_equal(sb_buf_addf(b, "%s:%s ", g->gvk->kind, g->name), 0);
  return 0;
}

static const char *by_source(const sb_cache *c, const char *ns,
                             const char *kind, const char *label) {
  static char out[512];
  sb_buf b;

  sb_buf_init(&b, SB_BUF_UNLIMITED);
  assert_int_equal(sb_cache_gen_by_source(c, ns, kind, label, collect, &b),
                   0);
  snprintf(out, sizeof(out), "%s", sb_buf_cstr(&b));
  sb_buf_free(&b);
  return out;
}

static int stop_at_first(void *arg, const sb_gen *g) {
  (void) g;
  ++*(int *) arg;
  return 7;
}

static void generated_by_source(void **state) {
  changelog l;
  sb_cache *c = new_cache(&l);
  int calls = 0;
  sb_buf b;
  const char *longname =
      "a-traffic-split-whose-name-is-far-too-long-for-a-label-value-"
      "of-sixty-three-characters";
  const sb_gen *g;

  (void) state;
  assert_int_equal(gen(c, &R_VS, "a", "1", 1, "TrafficSplit", "web", NULL),
                   0);
  assert_int_equal(gen(c, &R_AP, "b", "1", 1, "TrafficSplit", "web", NULL),
                   0);
  assert_int_equal(gen(c, &R_VS, "c", "1", 1, "TrafficSplit", "web", NULL),
                   0);
  assert_int_equal(gen(c, &R_VS, "d", "1", 1, "TrafficSplit", "api", NULL),
                   0);
  assert_int_equal(gen(c, &R_VS, "e", "1", 1, "TrafficTarget", "web", NULL),
                   0);
  /* Foreign objects wearing our source labels are not ours to prune. */
  assert_int_equal(gen(c, &R_VS, "f", "1", 0, "TrafficSplit", "web", NULL),
                   0);
  /* Managed without source labels: in no source list. */
  assert_int_equal(gen(c, &R_VS, "g", "1", 1, NULL, NULL, NULL), 0);
  assert_int_equal(gen(c, &R_VS, "h", "1", 1, "TrafficSplit", "web-abc123",
                       longname), 0);
  take(&l);

  assert_string_equal(by_source(c, "shop", "TrafficSplit", "web"),
                      "VirtualService:a AuthorizationPolicy:b "
                      "VirtualService:c ");
  assert_string_equal(by_source(c, "shop", "TrafficSplit", "api"),
                      "VirtualService:d ");
  assert_string_equal(by_source(c, "shop", "TrafficTarget", "web"),
                      "VirtualService:e ");
  assert_string_equal(by_source(c, "prod", "TrafficSplit", "web"), "");
  assert_string_equal(by_source(c, "shop", "TrafficSplit", "web-abc123"),
                      "VirtualService:h ");
  g = sb_cache_gen(c, &VS, "shop", "h");
  assert_string_equal(g->source_name, "web-abc123");
  assert_string_equal(g->source_full_name, longname);
  assert_null(sb_cache_gen(c, &VS, "shop", "g")->source_full_name);

  /* Without the annotation, the ownerReference the label stands for. */
  {
    char lv[64], text[1024];
    assert_int_equal(sb_label_value(longname, lv), 0);
    snprintf(text, sizeof(text),
             "{'metadata':{'namespace':'shop','name':'i','uid':'u',"
             "'resourceVersion':'1','labels':{'app.kubernetes.io/managed-by':"
             "'smi-bridge','smi-bridge.io/source-kind':'TrafficSplit',"
             "'smi-bridge.io/source-name':'%s'},'ownerReferences':["
             "{'kind':'TrafficTarget','name':'x'},"
             "{'kind':'TrafficSplit','name':'other'},"
             "{'kind':'TrafficSplit','name':'%s'}]}}", lv, longname);
    assert_int_equal(apply(c, &R_VS, text), 0);
    assert_string_equal(sb_cache_gen(c, &VS, "shop", "i")->source_full_name,
                        longname);
    /* An owner the label does not stand for says nothing. */
    assert_int_equal(apply(c, &R_VS, "{'metadata':{'namespace':'shop',"
                           "'name':'j','labels':{"
                           "'app.kubernetes.io/managed-by':'smi-bridge',"
                           "'smi-bridge.io/source-kind':'TrafficSplit',"
                           "'smi-bridge.io/source-name':'web'},"
                           "'ownerReferences':[{'kind':'TrafficSplit',"
                           "'name':'api'}]}}"), 0);
    assert_string_equal(sb_cache_gen(c, &VS, "shop", "j")->source_full_name,
                        "web");
    assert_int_equal(del(c, &R_VS, "{'metadata':{'namespace':'shop',"
                         "'name':'i'}}"), 0);
    assert_int_equal(del(c, &R_VS, "{'metadata':{'namespace':'shop',"
                         "'name':'j'}}"), 0);
  }

  /* An update keeps the object's place in its source's list. */
  assert_int_equal(gen(c, &R_VS, "a", "2", 1, "TrafficSplit", "web", NULL),
                   0);
  assert_string_equal(by_source(c, "shop", "TrafficSplit", "web"),
                      "VirtualService:a AuthorizationPolicy:b "
                      "VirtualService:c ");
  /* A relabel moves it; losing our label takes it out. */
  assert_int_equal(gen(c, &R_VS, "a", "3", 1, "TrafficSplit", "api", NULL),
                   0);
  assert_int_equal(gen(c, &R_AP, "b", "2", 0, "TrafficSplit", "web", NULL),
                   0);
  assert_string_equal(by_source(c, "shop", "TrafficSplit", "web"),
                      "VirtualService:c ");
  assert_string_equal(by_source(c, "shop", "TrafficSplit", "api"),
                      "VirtualService:d VirtualService:a ");
  assert_int_equal(del(c, &R_VS, "{'metadata':{'namespace':'shop',"
                       "'name':'c'}}"), 0);
  assert_string_equal(by_source(c, "shop", "TrafficSplit", "web"), "");

  /* A non-zero return stops the walk and is passed back. */
  assert_int_equal(sb_cache_gen_by_source(c, "shop", "TrafficSplit", "api",
                                          stop_at_first, &calls), 7);
  assert_int_equal(calls, 1);
  assert_int_equal(sb_cache_gen_by_source(c, "shop", NULL, "api",
                                          stop_at_first, &calls), SB_EINVAL);

  /* Every managed object, whatever its source. */
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  assert_int_equal(sb_cache_gen_each(c, collect, &b), 0);
  assert_int_equal(strlen(sb_buf_cstr(&b)),
                   strlen("VirtualService:a VirtualService:d "
                          "VirtualService:e VirtualService:g "
                          "VirtualService:h "));
  assert_non_null(strstr(sb_buf_cstr(&b), "VirtualService:g "));
  assert_null(strstr(sb_buf_cstr(&b), ":f "));
  assert_null(strstr(sb_buf_cstr(&b), ":b "));
  sb_buf_free(&b);
  done(c, &l);
}

/* ---- relists ------------------------------------------------------------ */

#define POD(name, rv, sa)                                                    \
  "{'apiVersion':'v1','kind':'Pod'," META("shop", name, rv)                  \
  ",'spec':{'serviceAccountName':'" sa "','containers':[{'name':'c'}]}}"

static void sync_sweeps_the_missing(void **state) {
  changelog l;
  sb_cache *c = new_cache(&l);
  const sb_obj *o;

  (void) state;
  /* Pods. */
  assert_int_equal(apply(c, &R_POD, POD("p1", "1", "web")), 0);
  assert_int_equal(apply(c, &R_POD, POD("p2", "1", "web")), 0);
  assert_int_equal(apply(c, &R_POD, POD("p3", "1", "web")), 0);
  assert_int_equal(apply(c, &R_POD, POD("p5", "1", "web")), 0);
  take(&l);
  assert_int_equal(sb_cache_end_sync(c, &R_POD), SB_EINVAL);  /* no begin */
  assert_string_equal(take(&l), "");
  sb_cache_begin_sync(c, &R_POD);
  assert_int_equal(apply(c, &R_POD, POD("p1", "1", "web")), 0);
  assert_int_equal(apply(c, &R_POD, POD("p2", "2", "api")), 0);
  assert_int_equal(apply(c, &R_POD, POD("p4", "1", "web")), 0);
  assert_int_equal(apply(c, &R_POD, POD("p5", "2", "web")), 0);  /* quiet */
  assert_string_equal(take(&l), "M Pod shop/p2 1>2\n"
                                "M Pod shop/p4 ->1\n");
  assert_int_equal(sb_cache_end_sync(c, &R_POD), 0);
  assert_string_equal(take(&l), "M Pod shop/p3 1>-\n");
  assert_int_equal(sb_world_count(sb_cache_world(c), SB_KIND_POD), 4);
  assert_null(sb_world_get(sb_cache_world(c), SB_KIND_POD, "shop", "p3"));
  /* A second end finds no sync to end. */
  assert_int_equal(sb_cache_end_sync(c, &R_POD), SB_EINVAL);
  /* An empty relist sweeps everything. */
  sb_cache_begin_sync(c, &R_POD);
  assert_int_equal(sb_cache_end_sync(c, &R_POD), 0);
  /* In world order: first insertion, a replaced object keeps its place. */
  assert_string_equal(take(&l), "M Pod shop/p1 1>-\n"
                                "M Pod shop/p2 2>-\n"
                                "M Pod shop/p5 2>-\n"
                                "M Pod shop/p4 1>-\n");
  assert_int_equal(sb_cache_count(c), 0);

  /* SMI objects with invalid versions. x valid; y only invalid; z and w
   * valid with a newer invalid version; v arrives during the sync. */
  assert_int_equal(apply(c, &R_TS, TS_OBJ("x", "1", "90")), 0);
  assert_int_equal(apply(c, &R_TS, TS_OBJ("y", "1", "-1")), 0);
  assert_int_equal(apply(c, &R_TS, TS_OBJ("z", "1", "90")), 0);
  assert_int_equal(apply(c, &R_TS, TS_OBJ("z", "2", "-1")), 0);
  assert_int_equal(apply(c, &R_TS, TS_OBJ("w", "1", "90")), 0);
  assert_int_equal(apply(c, &R_TS, TS_OBJ("w", "2", "-1")), 0);
  assert_int_equal(apply(c, &R_TS, TS_OBJ("u", "1", "90")), 0);
  take(&l);
  sb_cache_begin_sync(c, &R_TS);
  assert_int_equal(apply(c, &R_TS, TS_OBJ("x", "1", "90")), 0);
  assert_int_equal(apply(c, &R_TS, TS_OBJ("z", "2", "-1")), 0);
  assert_int_equal(apply(c, &R_TS, TS_OBJ("v", "1", "90")), 0);
  /* u turned invalid while we were away: its last valid version stays. */
  assert_int_equal(apply(c, &R_TS, TS_OBJ("u", "3", "-1")), 0);
  assert_string_equal(take(&l), "M TrafficSplit shop/v ->1\n"
                                "I TrafficSplit shop/u ->3\n");
  /* Pods are not being synced: no effect on them. */
  assert_int_equal(sb_cache_end_sync(c, &R_POD), SB_EINVAL);
  assert_int_equal(sb_cache_end_sync(c, &R_TS), 0);
  assert_string_equal(take(&l), "M TrafficSplit shop/w 1>-\n"
                                "I TrafficSplit shop/w 2>-\n"
                                "I TrafficSplit shop/y 1>-\n");
  o = sb_world_get(sb_cache_world(c), SB_KIND_TRAFFIC_SPLIT, "shop", "z");
  assert_non_null(o);
  assert_string_equal(o->resource_version, "1");
  assert_non_null(sb_cache_invalid_get(c, SB_KIND_TRAFFIC_SPLIT, "shop",
                                       "z"));
  o = sb_world_get(sb_cache_world(c), SB_KIND_TRAFFIC_SPLIT, "shop", "u");
  assert_non_null(o);
  assert_string_equal(o->resource_version, "1");
  /* x, z, v, u in the world; z and u invalid. */
  assert_int_equal(sb_cache_count(c), 6);

  /* Generated kinds, one resource at a time. */
  assert_int_equal(gen(c, &R_VS, "d", "1", 1, "TrafficSplit", "x", NULL), 0);
  assert_int_equal(gen(c, &R_VS, "a", "1", 1, "TrafficSplit", "x", NULL), 0);
  assert_int_equal(gen(c, &R_VS, "b", "1", 0, NULL, NULL, NULL), 0);
  assert_int_equal(gen(c, &R_VS, "c", "1", 1, "TrafficSplit", "x", NULL), 0);
  assert_int_equal(gen(c, &R_AP, "a", "1", 1, "TrafficSplit", "x", NULL), 0);
  take(&l);
  assert_int_equal(sb_cache_end_sync(c, &R_VS), SB_EINVAL);
  sb_cache_begin_sync(c, &R_VS);
  assert_int_equal(gen(c, &R_VS, "b", "1", 0, NULL, NULL, NULL), 0);
  assert_int_equal(gen(c, &R_VS, "c", "2", 1, "TrafficSplit", "x", NULL), 0);
  assert_string_equal(take(&l), "G VirtualService shop/c 1>2\n");
  assert_int_equal(sb_cache_end_sync(c, &R_VS), 0);
  assert_string_equal(take(&l), "G VirtualService shop/a 1>-\n"
                                "G VirtualService shop/d 1>-\n");
  assert_string_equal(by_source(c, "shop", "TrafficSplit", "x"),
                      "VirtualService:c AuthorizationPolicy:a ");
  assert_non_null(sb_cache_gen(c, &AP, "shop", "a"));
  /* 4 world, 2 invalid, 3 generated. */
  assert_int_equal(sb_cache_count(c), 9);
  done(c, &l);
}

/* One reflector per watched namespace: their syncs interleave, and each
 * may sweep only what is missing from its own namespace. */

static int pod_in(sb_cache *c, const char *ns, const char *name,
                  const char *rv) {
  const sb_cache_res r = {SB_KIND_POD, NULL, ns};
  char text[512];

  snprintf(text, sizeof(text),
           "{'apiVersion':'v1','kind':'Pod','metadata':{'namespace':'%s',"
           "'name':'%s','uid':'uid-%s','resourceVersion':'%s'},'spec':{"
           "'serviceAccountName':'sa-%s','containers':[{'name':'c'}]}}",
           ns, name, name, rv, rv);
  return apply(c, &r, text);
}

static int ts_in(sb_cache *c, const char *ns, const char *name,
                 const char *rv, const char *weight) {
  const sb_cache_res r = {SB_KIND_TRAFFIC_SPLIT, NULL, ns};
  char text[512];

  snprintf(text, sizeof(text),
           "{'apiVersion':'split.smi-spec.io/v1alpha4','kind':'TrafficSplit',"
           "'metadata':{'namespace':'%s','name':'%s','uid':'uid-%s',"
           "'resourceVersion':'%s'},'spec':{'service':'web','backends':["
           "{'service':'web-v1','weight':%s},{'service':'web-v2',"
           "'weight':10}]}}", ns, name, name, rv, weight);
  return apply(c, &r, text);
}

static int vs_in(sb_cache *c, const char *ns, const char *name,
                 const char *rv) {
  const sb_cache_res r = {SB_KIND_UNKNOWN, &VS, ns};
  char text[512];

  snprintf(text, sizeof(text),
           "{'apiVersion':'networking.istio.io/v1','kind':'VirtualService',"
           "'metadata':{'namespace':'%s','name':'%s','uid':'uid-%s',"
           "'resourceVersion':'%s','labels':{'app.kubernetes.io/managed-by':"
           "'smi-bridge','smi-bridge.io/source-kind':'TrafficSplit',"
           "'smi-bridge.io/source-name':'%s'}},'spec':{}}",
           ns, name, name, rv, name);
  return apply(c, &r, text);
}

static void sync_per_namespace(void **state) {
  static const sb_cache_res pods1 = {SB_KIND_POD, NULL, "n1"};
  static const sb_cache_res pods2 = {SB_KIND_POD, NULL, "n2"};
  static const sb_cache_res pods3 = {SB_KIND_POD, NULL, "n3"};
  static const sb_cache_res ts1 = {SB_KIND_TRAFFIC_SPLIT, NULL, "n1"};
  static const sb_cache_res ts2 = {SB_KIND_TRAFFIC_SPLIT, NULL, "n2"};
  static const sb_cache_res vs1 = {SB_KIND_UNKNOWN, &VS, "n1"};
  static const sb_cache_res vs2 = {SB_KIND_UNKNOWN, &VS, "n2"};
  static const sb_cache_res vs_all = {SB_KIND_UNKNOWN, &VS, NULL};
  changelog l;
  sb_cache *c = new_cache(&l);
  const sb_world *w = sb_cache_world(c);

  (void) state;
  /* What the cache held when the connection broke. n3 is watched by
   * nobody here: no namespace sync may touch it. */
  assert_int_equal(pod_in(c, "n1", "p1", "1"), 0);
  assert_int_equal(pod_in(c, "n1", "p2", "1"), 0);
  assert_int_equal(pod_in(c, "n1", "p3", "1"), 0);
  assert_int_equal(pod_in(c, "n2", "p1", "1"), 0);
  assert_int_equal(pod_in(c, "n2", "p2", "1"), 0);
  assert_int_equal(pod_in(c, "n2", "p3", "1"), 0);
  assert_int_equal(pod_in(c, "n3", "p1", "1"), 0);
  /* x valid, y invalid only, in both namespaces. */
  assert_int_equal(ts_in(c, "n1", "x", "1", "90"), 0);
  assert_int_equal(ts_in(c, "n1", "y", "1", "-1"), 0);
  assert_int_equal(ts_in(c, "n2", "x", "1", "90"), 0);
  assert_int_equal(ts_in(c, "n2", "y", "1", "-1"), 0);
  assert_int_equal(vs_in(c, "n1", "a", "1"), 0);
  assert_int_equal(vs_in(c, "n1", "b", "1"), 0);
  assert_int_equal(vs_in(c, "n2", "a", "1"), 0);
  assert_int_equal(vs_in(c, "n2", "b", "1"), 0);
  assert_int_equal(sb_cache_count(c), 15);
  take(&l);

  /* Both namespaces relist at once; n1 has marked something before n2
   * begins (a shared mark set would lose it). */
  sb_cache_begin_sync(c, &pods1);
  sb_cache_begin_sync(c, &ts1);
  sb_cache_begin_sync(c, &vs1);
  assert_int_equal(pod_in(c, "n1", "p1", "1"), 0);
  assert_int_equal(ts_in(c, "n1", "x", "1", "90"), 0);
  assert_int_equal(vs_in(c, "n1", "a", "1"), 0);
  sb_cache_begin_sync(c, &pods2);
  sb_cache_begin_sync(c, &ts2);
  sb_cache_begin_sync(c, &vs2);
  assert_int_equal(pod_in(c, "n2", "p1", "1"), 0);
  assert_int_equal(pod_in(c, "n1", "p2", "1"), 0);
  assert_int_equal(pod_in(c, "n2", "p2", "2"), 0);
  assert_int_equal(ts_in(c, "n2", "y", "1", "-1"), 0);
  assert_int_equal(vs_in(c, "n2", "b", "2"), 0);
  assert_string_equal(take(&l), "M Pod n2/p2 1>2\n"
                                "G VirtualService n2/b 1>2\n");
  /* No sync of n3, nor of every namespace, is running. */
  assert_int_equal(sb_cache_end_sync(c, &pods3), SB_EINVAL);
  assert_int_equal(sb_cache_end_sync(c, &R_POD), SB_EINVAL);
  assert_string_equal(take(&l), "");

  /* n2 ends first: only n2's missing objects go. */
  assert_int_equal(sb_cache_end_sync(c, &pods2), 0);
  assert_int_equal(sb_cache_end_sync(c, &ts2), 0);
  assert_int_equal(sb_cache_end_sync(c, &vs2), 0);
  assert_string_equal(take(&l), "M Pod n2/p3 1>-\n"
                                "M TrafficSplit n2/x 1>-\n"
                                "G VirtualService n2/a 1>-\n");
  assert_int_equal(sb_cache_end_sync(c, &pods2), SB_EINVAL);

  /* n1 is still syncing: new objects are marked, then its sweep. */
  assert_int_equal(pod_in(c, "n1", "p4", "1"), 0);
  assert_string_equal(take(&l), "M Pod n1/p4 ->1\n");
  assert_int_equal(sb_cache_end_sync(c, &pods1), 0);
  assert_int_equal(sb_cache_end_sync(c, &ts1), 0);
  assert_int_equal(sb_cache_end_sync(c, &vs1), 0);
  assert_string_equal(take(&l), "M Pod n1/p3 1>-\n"
                                "I TrafficSplit n1/y 1>-\n"
                                "G VirtualService n1/b 1>-\n");
  assert_non_null(sb_world_get(w, SB_KIND_POD, "n1", "p1"));
  assert_non_null(sb_world_get(w, SB_KIND_POD, "n3", "p1"));
  assert_non_null(sb_world_get(w, SB_KIND_TRAFFIC_SPLIT, "n1", "x"));
  assert_non_null(sb_cache_invalid_get(c, SB_KIND_TRAFFIC_SPLIT, "n2",
                                       "y"));
  assert_non_null(sb_cache_gen(c, &VS, "n1", "a"));
  assert_non_null(sb_cache_gen(c, &VS, "n2", "b"));
  /* Pods n1/p1 p2 p4, n2/p1 p2, n3/p1; TS n1/x, n2/y; VS n1/a, n2/b. */
  assert_int_equal(sb_cache_count(c), 10);

  /* A list that starts over (its continue token expired) forgets its own
   * marks, not the other namespace's. */
  sb_cache_begin_sync(c, &pods1);
  assert_int_equal(pod_in(c, "n1", "p1", "1"), 0);
  sb_cache_begin_sync(c, &pods2);
  assert_int_equal(pod_in(c, "n2", "p1", "1"), 0);
  sb_cache_begin_sync(c, &pods1);
  assert_int_equal(pod_in(c, "n1", "p2", "1"), 0);
  assert_int_equal(pod_in(c, "n1", "p4", "1"), 0);
  assert_int_equal(sb_cache_end_sync(c, &pods1), 0);
  assert_string_equal(take(&l), "M Pod n1/p1 1>-\n");
  assert_int_equal(pod_in(c, "n2", "p2", "2"), 0);
  assert_int_equal(sb_cache_end_sync(c, &pods2), 0);
  assert_string_equal(take(&l), "");

  /* Overlapping syncs of every namespace and of one: starting and ending
   * the one does not reset the other's marks. */
  sb_cache_begin_sync(c, &vs_all);
  assert_int_equal(vs_in(c, "n2", "b", "2"), 0);
  sb_cache_begin_sync(c, &vs1);
  assert_int_equal(sb_cache_end_sync(c, &vs1), 0);
  assert_string_equal(take(&l), "G VirtualService n1/a 1>-\n");
  assert_int_equal(sb_cache_end_sync(c, &vs_all), 0);
  assert_string_equal(take(&l), "");
  assert_non_null(sb_cache_gen(c, &VS, "n2", "b"));

  /* An all-namespaces sync sweeps the whole resource, n3 included. */
  sb_cache_begin_sync(c, &R_POD);
  assert_int_equal(pod_in(c, "n2", "p2", "2"), 0);
  assert_int_equal(sb_cache_end_sync(c, &R_POD), 0);
  assert_string_equal(take(&l), "M Pod n1/p2 1>-\n"
                                "M Pod n2/p1 1>-\n"
                                "M Pod n3/p1 1>-\n"
                                "M Pod n1/p4 1>-\n");
  assert_int_equal(sb_world_count(w, SB_KIND_POD), 1);
  done(c, &l);
}

/* ---- memory ------------------------------------------------------------- */

/* Chunks malloc mmaps (the large ones, such as the world's slot arrays)
 * are in hblkhd, not uordblks. */
static size_t heap_in_use(void) {
#ifdef SB_TEST_MALLINFO
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#else
  return 0;
#endif
}

/* Does heap_in_use see our allocations? Not under valgrind or another
 * malloc replacement, which leave glibc's counters still. */
static int heap_is_counted(void) {
  size_t h0 = heap_in_use();
  void *volatile p = malloc(4096);
  int yes;

  assert_non_null(p);
  yes = heap_in_use() >= h0 + 4096;
  free(p);
  return yes;
}

static size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;

  if (!f)
    return 0;
  if (fscanf(f, "%lu %lu", &size, &res) != 2)
    res = 0;
  fclose(f);
  return res * 4096;
}

static void apply_text(sb_cache *c, const sb_cache_res *r, const char *text) {
  cJSON *j = cJSON_Parse(text);

  assert_non_null(j);
  assert_int_equal(sb_cache_apply(c, r, j), 0);
  cJSON_Delete(j);
}

/* 10,000 SMI objects and 20,000 pods, shaped like real ones: what the
 * cache holds per entry, and whether sb_cache_bytes tells the truth. */
static void memory_per_entry(void **state) {
  sb_cache *c = sb_cache_new(NULL, NULL);
  cJSON *pod = test_fixture("ctrl", "pod-web.json");
  cJSON *meta = cJSON_GetObjectItem(pod, "metadata");
  cJSON *labels = cJSON_GetObjectItem(meta, "labels");
  cJSON *spec = cJSON_GetObjectItem(pod, "spec");
  size_t b0, b1, b2, h0, h1, h2, per_pod, per_smi, rss0 = rss_bytes();
  sb_cache_res r;
  char text[2048], s1[64], s2[64];
  char *out;
  int i;

  (void) state;
  assert_non_null(c);
  b0 = sb_cache_bytes(c);
  h0 = heap_in_use();
  for (i = 0; i < 20000; i++) {
    snprintf(s1, sizeof(s1), "web-%d-6f7c9d8b4-%05d", i % 300, i);
    cJSON_ReplaceItemInObject(meta, "name", cJSON_CreateString(s1));
    snprintf(s1, sizeof(s1), "ns-%d", i % 20);
    cJSON_ReplaceItemInObject(meta, "namespace", cJSON_CreateString(s1));
    snprintf(s1, sizeof(s1), "%d", 100000 + i);
    cJSON_ReplaceItemInObject(meta, "resourceVersion",
                              cJSON_CreateString(s1));
    snprintf(s1, sizeof(s1), "web-%d", i % 300);
    cJSON_ReplaceItemInObject(labels, "app", cJSON_CreateString(s1));
    snprintf(s2, sizeof(s2), "sa-%d", i % 300);
    cJSON_ReplaceItemInObject(spec, "serviceAccountName",
                              cJSON_CreateString(s2));
    out = cJSON_PrintUnformatted(pod);
    assert_non_null(out);
    apply_text(c, &R_POD, out);
    free(out);
  }
  b1 = sb_cache_bytes(c);
  h1 = heap_in_use();

  for (i = 0; i < 10000; i++) {
    switch (i % 3) {
    case 0:
      r.kind = SB_KIND_TRAFFIC_SPLIT;
      snprintf(text, sizeof(text),
               "{\"apiVersion\":\"split.smi-spec.io/v1alpha2\","
               "\"kind\":\"TrafficSplit\",\"metadata\":{\"name\":"
               "\"web-%d-split\",\"namespace\":\"ns-%d\",\"uid\":"
               "\"0d2a7c58-6a0e-4f2b-9e43-%012d\",\"resourceVersion\":"
               "\"%d\",\"creationTimestamp\":\"2024-05-01T09:00:00Z\","
               "\"generation\":3},\"spec\":{\"service\":\"web-%d\","
               "\"backends\":[{\"service\":\"web-%d-v1\",\"weight\":90},"
               "{\"service\":\"web-%d-v2\",\"weight\":10}]}}",
               i, i % 20, i, 200000 + i, i, i, i);
      break;
    case 1:
      r.kind = SB_KIND_TRAFFIC_TARGET;
      snprintf(text, sizeof(text),
               "{\"apiVersion\":\"access.smi-spec.io/v1alpha3\","
               "\"kind\":\"TrafficTarget\",\"metadata\":{\"name\":"
               "\"api-%d-access\",\"namespace\":\"ns-%d\",\"uid\":"
               "\"1d2a7c58-6a0e-4f2b-9e43-%012d\",\"resourceVersion\":"
               "\"%d\",\"creationTimestamp\":\"2024-05-01T09:00:00Z\"},"
               "\"spec\":{\"destination\":{\"kind\":\"ServiceAccount\","
               "\"name\":\"sa-%d\",\"namespace\":\"ns-%d\"},\"sources\":"
               "[{\"kind\":\"ServiceAccount\",\"name\":\"sa-%d\","
               "\"namespace\":\"ns-%d\"}],\"rules\":[{\"kind\":"
               "\"HTTPRouteGroup\",\"name\":\"routes-%d\",\"matches\":"
               "[\"api\",\"metrics\"]}]}}",
               i, i % 20, i, 200000 + i, i % 300, i % 20, (i + 1) % 300,
               i % 20, i);
      break;
    default:
      r.kind = SB_KIND_HTTP_ROUTE_GROUP;
      snprintf(text, sizeof(text),
               "{\"apiVersion\":\"specs.smi-spec.io/v1alpha4\","
               "\"kind\":\"HTTPRouteGroup\",\"metadata\":{\"name\":"
               "\"routes-%d\",\"namespace\":\"ns-%d\",\"uid\":"
               "\"2d2a7c58-6a0e-4f2b-9e43-%012d\",\"resourceVersion\":"
               "\"%d\",\"creationTimestamp\":\"2024-05-01T09:00:00Z\"},"
               "\"spec\":{\"matches\":[{\"name\":\"api\",\"pathRegex\":"
               "\"/api/v[0-9]+/.*\",\"methods\":[\"GET\",\"POST\"]},"
               "{\"name\":\"metrics\",\"pathRegex\":\"/metrics\","
               "\"methods\":[\"GET\"],\"headers\":[{\"x-debug\":\"1\"}]}]}}",
               i, i % 20, i, 200000 + i);
      break;
    }
    r.gvk = NULL;
    r.ns = NULL;
    apply_text(c, &r, text);
  }
  b2 = sb_cache_bytes(c);
  h2 = heap_in_use();
  assert_int_equal(sb_cache_count(c), 30000);

  per_pod = (b1 - b0) / 20000;
  per_smi = (b2 - b1) / 10000;
  fprintf(stderr, "  cache: %zu bytes per Pod, %zu per SMI object, "
          "%zu KiB in all\n", per_pod, per_smi, (b2 - b0) / 1024);
  /* Regression guards at today's cost plus ~10%. Nearly all of it is the
   * model's objects and the world's entries: the cache adds nothing per
   * world object. (The process budget is 16 MiB RSS for this load.) */
  assert_true(per_pod < 165);
  assert_true(per_smi < 450);
  if (heap_is_counted()) {
    fprintf(stderr, "  heap: %zu bytes per Pod, %zu per SMI object; "
            "RSS %zu KiB -> %zu KiB\n", (h1 - h0) / 20000,
            (h2 - h1) / 10000, rss0 / 1024, rss_bytes() / 1024);
    /* sb_cache_bytes is honest: within 10% of what the heap says. */
    assert_true((b1 - b0) * 100 >= (h1 - h0) * 90);
    assert_true((b1 - b0) * 100 <= (h1 - h0) * 110);
    assert_true((b2 - b1) * 100 >= (h2 - h1) * 90);
    assert_true((b2 - b1) * 100 <= (h2 - h1) * 110);
  } else {
    /* Sanitizer builds and valgrind replace malloc: only the release
     * build can compare with the heap. */
    fprintf(stderr, "  heap: not measurable with this allocator\n");
  }
  cJSON_Delete(pod);
  sb_cache_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(model_put_replace_delete),
    cmocka_unit_test(wrong_input_is_refused),
    cmocka_unit_test(invalid_smi_keeps_last_valid),
    cmocka_unit_test(parse_warnings_are_kept),
    cmocka_unit_test(other_bad_objects_are_skipped),
    cmocka_unit_test(pod_churn_is_quiet),
    cmocka_unit_test(generated_managed_and_foreign),
    cmocka_unit_test(fingerprint_agrees_with_subset),
    cmocka_unit_test(generated_by_source),
    cmocka_unit_test(sync_sweeps_the_missing),
    cmocka_unit_test(sync_per_namespace),
    cmocka_unit_test(memory_per_entry),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
