/* test-reconcile.c -- the plan for one key: what to apply, what to leave,
 * what to delete, and what to refuse.
 *
 * The cache is filled from tests/data/ctrl/world-shop.json through
 * sb_cache_apply, as the reflectors would. What the cluster holds of the
 * generated kinds is made from the plan itself: every applied object comes
 * back "from the server" with the metadata, defaults and status a real API
 * server adds (echo()). That keeps these tests about reconcile's decisions,
 * not about one translator's naming, while every assertion stays exact:
 * the desired objects are compared with sb_translate's own output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sb/err.h"
#include "sb/reconcile.h"

#include "test-json.h"

#define TS_UID "0d2a7c58-6a0e-4f2b-9e43-31b8f1c2d3e4"

static const sb_key WEB = {SB_KIND_TRAFFIC_SPLIT, "shop", "web"};

/* ---- helpers ------------------------------------------------------------ */

static void model_apply(sb_cache *c, const cJSON *obj) {
  sb_cache_res r;

  r.kind = sb_kind_from_name(cJSON_GetObjectItem(obj, "kind")->valuestring);
  r.gvk = NULL;
  r.ns = NULL;
  assert_int_not_equal(r.kind, SB_KIND_UNKNOWN);
  assert_int_equal(sb_cache_apply(c, &r, obj), 0);
}

/* The shop namespace: a TrafficSplit, its Services, a TrafficTarget and
 * what it refers to. */
static sb_cache *load_world(void) {
  sb_cache *c = sb_cache_new(NULL, NULL);
  cJSON *all = test_fixture("ctrl", "world-shop.json"), *o;

  assert_non_null(c);
  cJSON_ArrayForEach(o, all)
    model_apply(c, o);
  cJSON_Delete(all);
  return c;
}

static void opts(sb_translate_opts *o) {
  sb_translate_opts_default(o);
  o->mesh = SB_MESH_ISTIO;
}

static sb_cache_res gen_res(const sb_gvk *gvk) {
  sb_cache_res r;

  r.kind = SB_KIND_UNKNOWN;
  r.gvk = gvk;
  r.ns = NULL;
  return r;
}

static cJSON *meta_of(cJSON *obj) {
  return cJSON_GetObjectItem(obj, "metadata");
}

static cJSON *labels_of(cJSON *obj) {
  return cJSON_GetObjectItem(meta_of(obj), "labels");
}

static void set_str(cJSON *o, const char *k, const char *v) {
  cJSON *s = cJSON_CreateString(v);

  assert_non_null(s);
  if (cJSON_GetObjectItem(o, k))
    assert_true(cJSON_ReplaceItemInObjectCaseSensitive(o, k, s));
  else
    assert_true(cJSON_AddItemToObject(o, k, s));
}

/* obj as an API server returns it after a server-side apply: identity,
 * bookkeeping, a defaulted field and status added. */
static int rv_seq;

static cJSON *from_server(const cJSON *obj, int n) {
  cJSON *s = cJSON_Duplicate(obj, 1), *meta, *spec;
  char buf[64];

  assert_non_null(s);
  meta = meta_of(s);
  snprintf(buf, sizeof(buf), "uid-%d", n);
  set_str(meta, "uid", buf);
  /* A new resourceVersion per write, as the server gives. */
  snprintf(buf, sizeof(buf), "%d", 9000 + rv_seq++);
  set_str(meta, "resourceVersion", buf);
  set_str(meta, "creationTimestamp", "2024-05-01T09:00:00Z");
  cJSON_AddNumberToObject(meta, "generation", 1);
  assert_non_null(cJSON_AddItemToObject(meta, "managedFields",
                  J("[{'manager':'smi-bridge','operation':'Apply',"
                    "'fieldsType':'FieldsV1','fieldsV1':{'f:spec':{}}}]")));
  spec = cJSON_GetObjectItem(s, "spec");
  if (spec)
    cJSON_AddStringToObject(spec, "x-defaulted-by-server", "yes");
  cJSON_AddItemToObject(s, "status", J("{'observedGeneration':1}"));
  return s;
}

/* Puts what the plan applies into the cache, as the watch would. */
static void echo(sb_cache *c, const sb_plan *p) {
  size_t i;

  for (i = 0; i < p->nactions; i++) {
    const sb_action *a = &p->actions[i];
    sb_cache_res r = gen_res(a->gvk);
    cJSON *s;
    assert_int_equal(a->type, SB_ACTION_APPLY);
    s = from_server(a->obj, (int) i);
    assert_int_equal(sb_cache_apply(c, &r, s), 0);
    cJSON_Delete(s);
  }
}

static int run(const sb_cache *c, const sb_key *k, sb_plan *p) {
  sb_translate_opts o;

  opts(&o);
  sb_plan_free(p);
  return sb_reconcile(c, k, &o, p);
}

static size_t count(const sb_plan *p, sb_action_type t) {
  size_t i, n = 0;

  for (i = 0; i < p->nactions; i++)
    n += p->actions[i].type == t;
  return n;
}

static size_t count_reason(const sb_plan *p, const char *reason) {
  size_t i, n = 0;

  for (i = 0; i < p->diags.n; i++)
    n += strcmp(p->diags.v[i].reason, reason) == 0;
  return n;
}

/* The server's copy of the plan's i-th applied object as echo() put it
 * into the cache, at the resourceVersion the cache holds now (the cache
 * keeps a fingerprint, not the JSON), for hand edits: each edit then
 * starts from the object as desired and is the only difference. */
static cJSON *cached_copy(const sb_cache *c, const sb_plan *p, size_t i) {
  const sb_gen *g = sb_cache_gen(c, p->actions[i].gvk, p->actions[i].ns,
                                 p->actions[i].name);
  cJSON *j;

  assert_non_null(g);
  assert_int_equal(g->managed, 1);
  j = from_server(p->actions[i].obj, (int) i);
  assert_non_null(j);
  set_str(meta_of(j), "resourceVersion", g->resource_version);
  return j;
}

static void bump_rv(cJSON *obj) {
  const char *rv = cJSON_GetObjectItem(meta_of(obj), "resourceVersion")
                       ->valuestring;
  char buf[32];

  snprintf(buf, sizeof(buf), "%ld", strtol(rv, NULL, 10) + 100);
  set_str(meta_of(obj), "resourceVersion", buf);
}

/* Changes the first string or number under spec; 1 when one was found. */
static int change_leaf(cJSON *j) {
  cJSON *i;

  for (i = j ? j->child : NULL; i; i = i->next) {
    if (cJSON_IsString(i) &&
        (!i->string || strcmp(i->string, "x-defaulted-by-server") != 0)) {
      assert_non_null(cJSON_SetValuestring(i, "changed-by-hand"));
      return 1;
    }
    if (cJSON_IsNumber(i)) {
      cJSON_SetNumberValue(i, i->valuedouble + 7);
      return 1;
    }
    if (change_leaf(i))
      return 1;
  }
  return 0;
}

static void delete_source(sb_cache *c) {
  sb_cache_res r = {SB_KIND_TRAFFIC_SPLIT, NULL, NULL};
  cJSON *j = J("{'metadata':{'namespace':'shop','name':'web'}}");

  assert_int_equal(sb_cache_delete(c, &r, j), 0);
  cJSON_Delete(j);
}

/* The plan's applies as a fresh plan of the steady state: creates the
 * objects of WEB in the cache and returns how many there are. */
static size_t settle(sb_cache *c, sb_plan *p) {
  size_t n;

  assert_int_equal(run(c, &WEB, p), 0);
  n = p->nactions;
  assert_true(n > 0);
  echo(c, p);
  assert_int_equal(run(c, &WEB, p), 0);
  assert_int_equal(p->nactions, 0);
  assert_int_equal(p->unchanged, n);
  return n;
}

/* ---- sb_json_subset ----------------------------------------------------- */

static int sub(const char *d, const char *a) {
  cJSON *x = J(d), *y = J(a);
  int r = sb_json_subset(x, y);

  cJSON_Delete(x);
  cJSON_Delete(y);
  return r;
}

static void subset_objects(void **state) {
  (void) state;
  assert_true(sub("{}", "{}"));
  assert_true(sub("{}", "{'a':1}"));
  assert_true(sub("{'a':1}", "{'a':1,'b':2}"));
  assert_false(sub("{'a':1,'b':2}", "{'a':1}"));
  assert_false(sub("{'a':1}", "{'A':1}"));           /* keys are exact */
  assert_true(sub("{'m':{'x':'1'}}", "{'m':{'x':'1','y':'2'},'n':0}"));
  assert_false(sub("{'m':{'x':'1'}}", "{'m':{'x':'2'}}"));
  assert_false(sub("{'m':{'x':'1'}}", "{'m':['x']}"));
  assert_false(sub("{'m':{'x':'1'}}", "{'m':'x'}"));
  /* Key order does not matter. */
  assert_true(sub("{'a':1,'b':{'c':2,'d':3}}", "{'b':{'d':3,'c':2},'a':1}"));
  /* A typical server copy: metadata and defaults added. */
  assert_true(sub("{'metadata':{'name':'x','labels':{'l':'v'}},"
                  "'spec':{'hosts':['h']}}",
                  "{'metadata':{'name':'x','uid':'u','labels':{'l':'v',"
                  "'other':'o'}},'spec':{'hosts':['h'],'gateways':[]},"
                  "'status':{}}"));
  /* A label removed by hand. */
  assert_false(sub("{'metadata':{'labels':{'l':'v','k':'w'}}}",
                   "{'metadata':{'labels':{'l':'v'}}}"));
}

static void subset_arrays(void **state) {
  (void) state;
  assert_true(sub("[]", "[]"));
  assert_true(sub("[1,2]", "[1,2]"));
  assert_false(sub("[1,2]", "[2,1]"));               /* order matters */
  assert_false(sub("[1,2]", "[1,2,3]"));             /* so does length */
  assert_false(sub("[1,2,3]", "[1,2]"));
  assert_false(sub("[]", "[1]"));
  /* Element-wise subset: the server defaults fields inside elements. */
  assert_true(sub("[{'port':80}]", "[{'port':80,'protocol':'TCP'}]"));
  assert_false(sub("[{'port':80,'name':'http'}]", "[{'port':80}]"));
  assert_false(sub("[[1]]", "[[1,2]]"));
  assert_false(sub("[1]", "{'0':1}"));
  /* ownerReferences: one removed, one changed. */
  assert_false(sub("{'o':[{'uid':'a'},{'uid':'b'}]}", "{'o':[{'uid':'a'}]}"));
  assert_false(sub("{'o':[{'uid':'a','controller':true}]}",
                   "{'o':[{'uid':'a','controller':false}]}"));
}

static void subset_scalars(void **state) {
  (void) state;
  /* Numbers by value, whatever their spelling. */
  assert_true(sub("{'w':90}", "{'w':90.0}"));
  assert_true(sub("{'w':1e2}", "{'w':100}"));
  assert_true(sub("{'w':0}", "{'w':-0}"));
  assert_false(sub("{'w':90}", "{'w':91}"));
  assert_false(sub("{'w':90}", "{'w':'90'}"));       /* no coercion */
  assert_false(sub("{'w':'90'}", "{'w':90}"));
  /* Strings exactly. */
  assert_true(sub("{'s':'a'}", "{'s':'a'}"));
  assert_false(sub("{'s':'a'}", "{'s':'A'}"));
  assert_false(sub("{'s':'a'}", "{'s':'a '}"));
  assert_false(sub("{'s':''}", "{}"));
  /* Booleans and null exactly. */
  assert_true(sub("{'b':true}", "{'b':true}"));
  assert_false(sub("{'b':true}", "{'b':false}"));
  assert_false(sub("{'b':false}", "{}"));
  assert_false(sub("{'b':true}", "{'b':1}"));
  assert_false(sub("{'b':false}", "{'b':null}"));
  assert_true(sub("{'n':null}", "{'n':null}"));
  assert_false(sub("{'n':null}", "{}"));
  assert_false(sub("{'n':null}", "{'n':0}"));
  assert_false(sub("{'n':0}", "{'n':null}"));
  /* Empty maps and lists equal ones the server dropped. */
  assert_true(sub("{'m':{},'l':[]}", "{}"));
  assert_true(sub("{'m':{},'l':[]}", "{'m':null,'l':null}"));
  assert_false(sub("{'m':{'a':1}}", "{}"));
  assert_false(sub("{'l':[1]}", "{'l':null}"));
  assert_false(sub("{'m':{}}", "{'m':'x'}"));
  /* Edge cases of the arguments themselves. */
  assert_true(sb_json_subset(NULL, NULL));
  {
    cJSON *x = J("{'a':1}");
    assert_false(sb_json_subset(x, NULL));
    assert_true(sb_json_subset(NULL, x));
    assert_true(sb_json_subset(x, x));
    cJSON_Delete(x);
  }
}

/* ---- plans -------------------------------------------------------------- */

/* The plan's deps are exactly what translating key reports. */
static void same_deps(const sb_plan *p, const sb_cache *c, const sb_key *k) {
  sb_translate_opts o;
  sb_out out;
  size_t i;

  opts(&o);
  sb_out_init(&out);
  assert_int_equal(sb_translate(sb_cache_world(c), k, &o, &out), 0);
  assert_true(out.ndeps > 0);
  assert_int_equal(p->ndeps, out.ndeps);
  for (i = 0; i < p->ndeps; i++) {
    assert_int_equal(p->deps[i].sel, out.deps[i].sel);
    assert_int_equal(p->deps[i].kind, out.deps[i].kind);
    if (out.deps[i].ns)
      assert_string_equal(p->deps[i].ns, out.deps[i].ns);
    else
      assert_null(p->deps[i].ns);
    if (out.deps[i].name)
      assert_string_equal(p->deps[i].name, out.deps[i].name);
    else
      assert_null(p->deps[i].name);
  }
  sb_out_free(&out);
}

static void create_applies_exactly_the_translation(void **state) {
  sb_cache *c = load_world();
  sb_translate_opts o;
  const sb_gvk *kinds;
  size_t nkinds, i, j;
  sb_out out;
  sb_plan p;

  (void) state;
  opts(&o);
  sb_out_init(&out);
  assert_int_equal(sb_translate(sb_cache_world(c), &WEB, &o, &out), 0);
  assert_int_equal(out.outcome, SB_OUTCOME_OK);
  assert_true(out.nobjs > 0);
  nkinds = sb_translate_output_kinds(&o, &kinds);

  sb_plan_init(&p);
  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.outcome, SB_OUTCOME_OK);
  assert_int_equal(p.nactions, out.nobjs);
  assert_int_equal(p.unchanged, 0);
  for (i = 0; i < p.nactions; i++) {
    const sb_action *a = &p.actions[i];
    const cJSON *m = cJSON_GetObjectItem(a->obj, "metadata");
    const cJSON *l = cJSON_GetObjectItem(m, "labels");
    int known = 0;

    assert_int_equal(a->type, SB_ACTION_APPLY);
    assert_true(cJSON_Compare(a->obj, out.objs[i], 1));
    assert_string_equal(a->ns, cJSON_GetObjectItem(m, "namespace")
                                   ->valuestring);
    assert_string_equal(a->name, cJSON_GetObjectItem(m, "name")->valuestring);
    assert_string_equal(a->gvk->kind,
                        cJSON_GetObjectItem(a->obj, "kind")->valuestring);
    for (j = 0; j < nkinds; j++)
      known |= a->gvk == &kinds[j];
    assert_true(known);
    assert_null(a->uid);
    assert_string_equal(cJSON_GetObjectItem(l, SB_LABEL_MANAGED_BY)
                            ->valuestring, "smi-bridge");
    assert_string_equal(cJSON_GetObjectItem(l, SB_LABEL_SOURCE_KIND)
                            ->valuestring, "TrafficSplit");
    assert_string_equal(cJSON_GetObjectItem(l, SB_LABEL_SOURCE_NAME)
                            ->valuestring, "web");
    /* wanted: every desired object, in order. */
    assert_string_equal(p.wanted[i].kind, a->gvk->kind);
    assert_string_equal(p.wanted[i].ns, a->ns);
    assert_string_equal(p.wanted[i].name, a->name);
  }
  assert_int_equal(p.nwanted, out.nobjs);
  same_deps(&p, c, &WEB);
  assert_int_equal(p.diags.n, out.diags.n);
  assert_string_equal(p.src_uid, TS_UID);
  assert_string_equal(p.src_api_version, "split.smi-spec.io/v1alpha4");
  sb_out_free(&out);
  sb_plan_free(&p);
  sb_cache_free(c);
}

static void steady_state_does_nothing(void **state) {
  sb_cache *c = load_world();
  sb_plan p;
  size_t n;

  (void) state;
  sb_plan_init(&p);
  n = settle(c, &p);
  assert_int_equal(p.nwanted, n);
  assert_int_equal(count_reason(&p, SB_REASON_CONFLICT), 0);
  sb_plan_free(&p);
  sb_cache_free(c);
}

/* A field the new desired object no longer has (a header match removed
 * from the HTTPRouteGroup): the cluster's object still contains the rest
 * of the new desired one, so only the hash annotation shows the change --
 * with no memory of earlier applies, as after a restart or when another
 * instance wrote the object. */
static void removed_fields_are_applied(void **state) {
  static const sb_key CANARY = {SB_KIND_TRAFFIC_SPLIT, "shop", "canary"};
  const char *hrg1 = "{'apiVersion':'specs.smi-spec.io/v1alpha4',"
    "'kind':'HTTPRouteGroup','metadata':{'name':'canary-routes',"
    "'namespace':'shop','resourceVersion':'1'},'spec':{'matches':[{"
    "'name':'beta','pathRegex':'/shop','headers':{'x-canary':'1'}}]}}";
  const char *hrg2 = "{'apiVersion':'specs.smi-spec.io/v1alpha4',"
    "'kind':'HTTPRouteGroup','metadata':{'name':'canary-routes',"
    "'namespace':'shop','resourceVersion':'2'},'spec':{'matches':[{"
    "'name':'beta','pathRegex':'/shop'}]}}";
  const char *ts = "{'apiVersion':'split.smi-spec.io/v1alpha4',"
    "'kind':'TrafficSplit','metadata':{'name':'canary','namespace':'shop',"
    "'resourceVersion':'1'},'spec':{'service':'front','backends':[{"
    "'service':'web-v1','weight':90},{'service':'web-v2','weight':10}],"
    "'matches':[{'kind':'HTTPRouteGroup','name':'canary-routes'}]}}";
  const char *svc = "{'apiVersion':'v1','kind':'Service','metadata':{"
    "'name':'front','namespace':'shop','resourceVersion':'1'},'spec':{"
    "'ports':[{'name':'http','port':80,'protocol':'TCP'}]}}";
  sb_cache *c = load_world();
  sb_plan p;
  cJSON *j;
  char *text;

  (void) state;
  sb_plan_init(&p);
  j = J(svc);
  model_apply(c, j);
  cJSON_Delete(j);
  j = J(hrg1);
  model_apply(c, j);
  cJSON_Delete(j);
  j = J(ts);
  model_apply(c, j);
  cJSON_Delete(j);
  assert_int_equal(run(c, &CANARY, &p), 0);
  assert_true(p.nactions > 0);
  echo(c, &p);
  assert_int_equal(run(c, &CANARY, &p), 0);
  assert_int_equal(p.nactions, 0);

  j = J(hrg2);
  model_apply(c, j);
  cJSON_Delete(j);
  assert_int_equal(run(c, &CANARY, &p), 0);
  assert_int_equal(p.nactions, 1);
  assert_int_equal(p.actions[0].type, SB_ACTION_APPLY);
  text = cJSON_PrintUnformatted(p.actions[0].obj);
  assert_non_null(text);
  assert_null(strstr(text, "x-canary"));
  assert_non_null(strstr(text, "/shop"));
  assert_non_null(strstr(text, "\"" SB_ANNOTATION_HASH "\":\""));
  free(text);
  echo(c, &p);
  assert_int_equal(run(c, &CANARY, &p), 0);
  assert_int_equal(p.nactions, 0);
  sb_plan_free(&p);
  sb_cache_free(c);
}

static void hand_edits_are_repaired(void **state) {
  sb_cache *c = load_world();
  sb_cache_res r;
  sb_plan p, first;
  cJSON *obj, *refs;
  size_t n;

  (void) state;
  sb_plan_init(&first);
  assert_int_equal(run(c, &WEB, &first), 0);
  sb_plan_init(&p);
  n = settle(c, &p);
  r = gen_res(first.actions[0].gvk);

  /* A field the server added by itself, or another manager's field:
   * still as desired. */
  obj = cached_copy(c, &first, 0);
  bump_rv(obj);
  cJSON_AddStringToObject(cJSON_GetObjectItem(obj, "spec"), "extra", "x");
  set_str(labels_of(obj), "team", "web");
  assert_int_equal(sb_cache_apply(c, &r, obj), 0);
  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.nactions, 0);
  assert_int_equal(p.unchanged, n);

  /* A spec field changed by hand: that object is applied again, whole. */
  assert_true(change_leaf(cJSON_GetObjectItem(obj, "spec")));
  bump_rv(obj);
  assert_int_equal(sb_cache_apply(c, &r, obj), 0);
  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.nactions, 1);
  assert_int_equal(p.actions[0].type, SB_ACTION_APPLY);
  assert_string_equal(p.actions[0].name, first.actions[0].name);
  assert_true(cJSON_Compare(p.actions[0].obj, first.actions[0].obj, 1));
  assert_int_equal(p.unchanged, n - 1);
  cJSON_Delete(obj);

  /* A source label removed: still ours (managed-by is there), repaired. */
  obj = cached_copy(c, &first, 0);
  bump_rv(obj);
  bump_rv(obj);
  cJSON_DeleteItemFromObject(labels_of(obj), SB_LABEL_SOURCE_KIND);
  assert_int_equal(sb_cache_apply(c, &r, obj), 0);
  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.nactions, 1);
  assert_true(cJSON_Compare(p.actions[0].obj, first.actions[0].obj, 1));
  assert_int_equal(count_reason(&p, SB_REASON_CONFLICT), 0);
  cJSON_Delete(obj);

  /* The ownerReference removed: repaired. */
  obj = cached_copy(c, &first, 0);
  refs = cJSON_GetObjectItem(meta_of(obj), "ownerReferences");
  assert_non_null(refs);  /* the source has a uid */
  bump_rv(obj);
  bump_rv(obj);
  bump_rv(obj);
  cJSON_DeleteItemFromObject(meta_of(obj), "ownerReferences");
  assert_int_equal(sb_cache_apply(c, &r, obj), 0);
  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.nactions, 1);
  assert_true(cJSON_Compare(p.actions[0].obj, first.actions[0].obj, 1));
  cJSON_Delete(obj);

  /* Deleted by hand: created again. */
  obj = cached_copy(c, &first, 0);
  assert_int_equal(sb_cache_delete(c, &r, obj), 0);
  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.nactions, 1);
  assert_true(cJSON_Compare(p.actions[0].obj, first.actions[0].obj, 1));
  assert_int_equal(p.unchanged, n - 1);
  cJSON_Delete(obj);
  sb_plan_free(&first);
  sb_plan_free(&p);
  sb_cache_free(c);
}

static void foreign_object_is_a_conflict(void **state) {
  sb_cache *c = load_world();
  sb_cache_res r;
  sb_plan p;
  cJSON *obj;
  char want[512];
  size_t n;
  const sb_diag *d;

  (void) state;
  sb_plan_init(&p);
  assert_int_equal(run(c, &WEB, &p), 0);
  n = p.nactions;
  r = gen_res(p.actions[0].gvk);
  /* Someone else's object under the first desired name: no label. */
  obj = from_server(p.actions[0].obj, 50);
  cJSON_DeleteItemFromObject(labels_of(obj), SB_LABEL_MANAGED_BY);
  assert_int_equal(sb_cache_apply(c, &r, obj), 0);
  snprintf(want, sizeof(want), "%s %s/%s exists and is not managed by "
           "smi-bridge; left untouched", p.actions[0].gvk->kind,
           p.actions[0].ns, p.actions[0].name);

  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.outcome, SB_OUTCOME_OK);
  assert_int_equal(p.nactions, n - 1);         /* the others still go */
  assert_int_equal(count(&p, SB_ACTION_DELETE), 0);
  assert_int_equal(p.unchanged, 0);
  assert_int_equal(count_reason(&p, SB_REASON_CONFLICT), 1);
  d = &p.diags.v[p.diags.n - 1];
  assert_int_equal(d->sev, SB_DIAG_ERROR);
  assert_string_equal(d->reason, SB_REASON_CONFLICT);
  assert_string_equal(d->kind, "TrafficSplit");
  assert_string_equal(d->ns, "shop");
  assert_string_equal(d->name, "web");
  assert_null(d->path);
  assert_string_equal(d->msg, want);
  /* Still wanted: its disappearance must re-run the key. */
  assert_int_equal(p.nwanted, n);
  assert_string_equal(p.wanted[0].name,
                      cJSON_GetObjectItem(meta_of(obj), "name")->valuestring);

  /* Even when its source is gone: never deleted. */
  delete_source(c);
  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.nactions, 0);
  assert_int_equal(p.nwanted, 0);
  assert_null(p.src_uid);
  cJSON_Delete(obj);
  sb_plan_free(&p);
  sb_cache_free(c);
}

/* The same with a hand-made object where the Istio translation puts the
 * TrafficSplit's VirtualService (docs/mapping.md). */
static void foreign_virtual_service(void **state) {
  static const sb_gvk vs = {"networking.istio.io", "v1", "VirtualService",
                            "virtualservices"};
  sb_cache *c = load_world();
  sb_cache_res r = gen_res(&vs);
  cJSON *obj = test_fixture("ctrl", "vs-web-split-foreign.json");
  sb_plan p;

  (void) state;
  assert_int_equal(sb_cache_apply(c, &r, obj), 0);
  sb_plan_init(&p);
  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.outcome, SB_OUTCOME_OK);
  assert_int_equal(p.nactions, 0);
  assert_int_equal(p.diags.n, 1);
  assert_string_equal(p.diags.v[0].msg, "VirtualService shop/web-split "
                      "exists and is not managed by smi-bridge; left "
                      "untouched");
  assert_int_equal(p.nwanted, 1);
  assert_string_equal(p.wanted[0].kind, "VirtualService");
  assert_string_equal(p.wanted[0].name, "web-split");
  cJSON_Delete(obj);
  sb_plan_free(&p);
  sb_cache_free(c);
}

static void other_source_is_a_conflict(void **state) {
  sb_cache *c = load_world();
  sb_cache_res r;
  sb_plan p, first;
  cJSON *obj;
  char want[512];
  size_t n;

  (void) state;
  sb_plan_init(&p);
  sb_plan_init(&first);
  assert_int_equal(run(c, &WEB, &first), 0);
  n = first.nactions;
  r = gen_res(first.actions[0].gvk);
  /* Ours, but written for TrafficSplit shop/other. */
  obj = from_server(first.actions[0].obj, 60);
  set_str(labels_of(obj), SB_LABEL_SOURCE_NAME, "other");
  assert_int_equal(sb_cache_apply(c, &r, obj), 0);
  snprintf(want, sizeof(want), "%s %s/%s is managed by smi-bridge for "
           "TrafficSplit shop/other; left untouched",
           first.actions[0].gvk->kind, first.actions[0].ns,
           first.actions[0].name);
  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.nactions, n - 1);
  assert_int_equal(count(&p, SB_ACTION_DELETE), 0);
  assert_int_equal(count_reason(&p, SB_REASON_CONFLICT), 1);
  assert_string_equal(p.diags.v[p.diags.n - 1].msg, want);
  assert_string_equal(p.diags.v[p.diags.n - 1].name, "web");

  /* Another kind of source with the same name is another source too. */
  set_str(labels_of(obj), SB_LABEL_SOURCE_NAME, "web");
  set_str(labels_of(obj), SB_LABEL_SOURCE_KIND, "TrafficTarget");
  bump_rv(obj);
  assert_int_equal(sb_cache_apply(c, &r, obj), 0);
  snprintf(want, sizeof(want), "%s %s/%s is managed by smi-bridge for "
           "TrafficTarget shop/web; left untouched",
           first.actions[0].gvk->kind, first.actions[0].ns,
           first.actions[0].name);
  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.nactions, n - 1);
  assert_int_equal(count_reason(&p, SB_REASON_CONFLICT), 1);
  assert_string_equal(p.diags.v[p.diags.n - 1].msg, want);
  cJSON_Delete(obj);
  sb_plan_free(&first);
  sb_plan_free(&p);
  sb_cache_free(c);
}

/* A generated object of kind gvk named name, labelled for source
 * kind/label (managed or not), with a uid and resourceVersion. */
static void put_gen(sb_cache *c, const sb_gvk *gvk, const char *ns,
                    const char *name, int managed, const char *skind,
                    const char *label, const char *full) {
  sb_cache_res r = gen_res(gvk);
  char buf[128];
  cJSON *o = cJSON_CreateObject(), *m, *l;

  assert_non_null(o);
  snprintf(buf, sizeof(buf), "%s/%s", gvk->group, gvk->version);
  cJSON_AddStringToObject(o, "apiVersion", buf);
  cJSON_AddStringToObject(o, "kind", gvk->kind);
  m = cJSON_AddObjectToObject(o, "metadata");
  cJSON_AddStringToObject(m, "name", name);
  cJSON_AddStringToObject(m, "namespace", ns);
  snprintf(buf, sizeof(buf), "uid-%s", name);
  cJSON_AddStringToObject(m, "uid", buf);
  cJSON_AddStringToObject(m, "resourceVersion", "777");
  l = cJSON_AddObjectToObject(m, "labels");
  if (managed)
    cJSON_AddStringToObject(l, SB_LABEL_MANAGED_BY, "smi-bridge");
  cJSON_AddStringToObject(l, SB_LABEL_SOURCE_KIND, skind);
  cJSON_AddStringToObject(l, SB_LABEL_SOURCE_NAME, label);
  if (full)
    cJSON_AddStringToObject(cJSON_AddObjectToObject(m, "annotations"),
                            SB_LABEL_SOURCE_NAME, full);
  cJSON_AddObjectToObject(o, "spec");
  assert_int_equal(sb_cache_apply(c, &r, o), 0);
  cJSON_Delete(o);
}

static void stale_objects_are_pruned(void **state) {
  sb_cache *c = load_world();
  sb_translate_opts o;
  const sb_gvk *kinds;
  size_t nkinds, n;
  sb_plan p;

  (void) state;
  opts(&o);
  nkinds = sb_translate_output_kinds(&o, &kinds);
  assert_true(nkinds >= 2);
  sb_plan_init(&p);
  n = settle(c, &p);

  /* Ours, for this key, no longer wanted: deleted. Put in an order that
   * is not the plan's. */
  put_gen(c, &kinds[1], "shop", "zz-old", 1, "TrafficSplit", "web", NULL);
  put_gen(c, &kinds[0], "shop", "web-old", 1, "TrafficSplit", "web", NULL);
  put_gen(c, &kinds[0], "shop", "aa-old", 1, "TrafficSplit", "web", NULL);
  /* Not ours, or not this key's, or not this namespace's: kept. */
  put_gen(c, &kinds[0], "shop", "foreign", 0, "TrafficSplit", "web", NULL);
  put_gen(c, &kinds[0], "shop", "api-old", 1, "TrafficSplit", "api", NULL);
  put_gen(c, &kinds[0], "shop", "tt-old", 1, "TrafficTarget", "web", NULL);
  put_gen(c, &kinds[0], "prod", "web-old", 1, "TrafficSplit", "web", NULL);

  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.outcome, SB_OUTCOME_OK);
  assert_int_equal(p.unchanged, n);
  assert_int_equal(p.nactions, 3);
  /* Sorted by kind, then namespace and name. */
  {
    const sb_gvk *first = strcmp(kinds[0].kind, kinds[1].kind) < 0
                              ? &kinds[0] : &kinds[1];
    const sb_action *a = &p.actions[0];
    size_t i;
    for (i = 0; i < 3; i++)
      assert_int_equal(p.actions[i].type, SB_ACTION_DELETE);
    if (first == &kinds[0]) {
      assert_string_equal(a[0].name, "aa-old");
      assert_string_equal(a[1].name, "web-old");
      assert_string_equal(a[2].name, "zz-old");
      assert_ptr_equal(a[2].gvk, &kinds[1]);
    } else {
      assert_string_equal(a[0].name, "zz-old");
      assert_string_equal(a[1].name, "aa-old");
      assert_string_equal(a[2].name, "web-old");
      assert_ptr_equal(a[0].gvk, &kinds[1]);
    }
    for (i = 0; i < 3; i++) {
      char uid[64];
      snprintf(uid, sizeof(uid), "uid-%s", a[i].name);
      assert_string_equal(a[i].ns, "shop");
      assert_string_equal(a[i].uid, uid);
      assert_string_equal(a[i].resource_version, "777");
      assert_null(a[i].obj);
    }
  }
  assert_int_equal(count_reason(&p, SB_REASON_CONFLICT), 0);
  sb_plan_free(&p);
  sb_cache_free(c);
}

static void gone_source_prunes_everything(void **state) {
  sb_cache *c = load_world();
  sb_plan p;
  size_t n, i;

  (void) state;
  sb_plan_init(&p);
  n = settle(c, &p);
  delete_source(c);
  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.outcome, SB_OUTCOME_OK);
  assert_int_equal(p.nactions, n);
  assert_int_equal(p.unchanged, 0);
  assert_int_equal(p.nwanted, 0);
  for (i = 0; i < n; i++) {
    assert_int_equal(p.actions[i].type, SB_ACTION_DELETE);
    assert_non_null(p.actions[i].uid);
    assert_non_null(p.actions[i].resource_version);
    assert_int_equal(strncmp(p.actions[i].uid, "uid-", 4), 0);
  }
  assert_null(p.src_uid);
  assert_null(p.src_api_version);
  sb_plan_free(&p);
  sb_cache_free(c);
}

static void invalid_source_changes_nothing(void **state) {
  sb_cache *c = load_world();
  sb_translate_opts o;
  const sb_gvk *kinds;
  sb_plan p;
  cJSON *ts;
  size_t n;

  (void) state;
  opts(&o);
  sb_translate_output_kinds(&o, &kinds);
  sb_plan_init(&p);
  n = settle(c, &p);
  /* Something it owned but would no longer want, then a bad edit. */
  put_gen(c, &kinds[0], "shop", "web-old", 1, "TrafficSplit", "web", NULL);
  ts = J("{'apiVersion':'split.smi-spec.io/v1alpha4','kind':'TrafficSplit',"
         "'metadata':{'name':'web','namespace':'shop','uid':'" TS_UID "',"
         "'resourceVersion':'3100'},'spec':{'service':'web','backends':["
         "{'service':'web-v1','weight':-90}]}}");
  model_apply(c, ts);
  cJSON_Delete(ts);

  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.outcome, SB_OUTCOME_INVALID);
  assert_int_equal(p.nactions, 0);              /* not even the prune */
  assert_int_equal(p.unchanged, 0);
  assert_int_equal(p.diags.n, 1);               /* the current version's */
  assert_int_equal(p.diags.v[0].sev, SB_DIAG_ERROR);
  assert_string_equal(p.diags.v[0].reason, SB_REASON_INVALID);
  assert_string_equal(p.diags.v[0].kind, "TrafficSplit");
  assert_string_equal(p.diags.v[0].name, "web");
  assert_string_equal(p.diags.v[0].path, "spec.backends[0].weight");
  assert_string_equal(p.diags.v[0].msg, "must not be negative (got -90)");
  assert_string_equal(p.src_uid, TS_UID);
  assert_string_equal(p.src_api_version, "split.smi-spec.io/v1alpha4");
  /* The index keeps what the last valid version reads and writes. */
  same_deps(&p, c, &WEB);
  assert_int_equal(p.nwanted, n);
  sb_plan_free(&p);
  sb_cache_free(c);
}

/* The source's own parse warnings come first in the plan, for Events. */
static void source_warnings_in_plan(void **state) {
  sb_cache *c = load_world();
  sb_translate_opts o;
  sb_out out;
  sb_plan p;
  cJSON *ts;

  (void) state;
  ts = J("{'apiVersion':'split.smi-spec.io/v1alpha4','kind':'TrafficSplit',"
         "'metadata':{'name':'web','namespace':'shop','uid':'" TS_UID "',"
         "'resourceVersion':'3200'},'spec':{'service':'web','backends':["
         "{'service':'web-v1','weight':'900m'},"
         "{'service':'web-v2','weight':'100m'}]}}");
  model_apply(c, ts);
  cJSON_Delete(ts);
  opts(&o);
  sb_out_init(&out);
  assert_int_equal(sb_translate(sb_cache_world(c), &WEB, &o, &out), 0);
  sb_plan_init(&p);
  assert_int_equal(run(c, &WEB, &p), 0);
  assert_int_equal(p.outcome, SB_OUTCOME_OK);
  assert_int_equal(p.diags.n, 2 + out.diags.n);
  assert_int_equal(p.diags.v[0].sev, SB_DIAG_WARNING);
  assert_string_equal(p.diags.v[0].path, "spec.backends[0].weight");
  assert_string_equal(p.diags.v[1].path, "spec.backends[1].weight");
  assert_string_equal(p.diags.v[0].kind, "TrafficSplit");
  assert_string_equal(p.diags.v[0].name, "web");
  assert_true(p.nactions > 0);
  sb_out_free(&out);
  sb_plan_free(&p);
  sb_cache_free(c);
}

static void hashed_source_names(void **state) {
  static const char *a =
      "a-traffic-split-with-a-name-much-longer-than-sixty-three-chars-one";
  static const char *b =
      "a-traffic-split-with-a-name-much-longer-than-sixty-three-chars-two";
  sb_cache *c = sb_cache_new(NULL, NULL);
  sb_translate_opts o;
  const sb_gvk *kinds;
  char la[64], lb[64];
  sb_key k = {SB_KIND_TRAFFIC_SPLIT, "shop", a};
  sb_plan p;

  (void) state;
  opts(&o);
  sb_translate_output_kinds(&o, &kinds);
  assert_int_equal(sb_label_value(a, la), 0);
  assert_int_equal(sb_label_value(b, lb), 0);
  assert_true(strlen(la) <= 63);
  /* Two owned objects under a's label value: one says it is a's, the
   * other that the value stands for b (as if the hashes collided). */
  put_gen(c, &kinds[0], "shop", "mine", 1, "TrafficSplit", la, a);
  put_gen(c, &kinds[0], "shop", "theirs", 1, "TrafficSplit", la, b);
  sb_plan_init(&p);
  assert_int_equal(run(c, &k, &p), 0);   /* a is gone: prune its objects */
  assert_int_equal(p.nactions, 1);
  assert_int_equal(p.actions[0].type, SB_ACTION_DELETE);
  assert_string_equal(p.actions[0].name, "mine");
  sb_plan_free(&p);
  sb_cache_free(c);
}

/* Without the annotation the ownerReference names the source: a source
 * whose short name equals a long name's hashed label value must not take
 * (or prune) the long one's objects. */
static void hashed_names_by_owner(void **state) {
  static const char *longname =
      "a-traffic-split-with-a-name-much-longer-than-sixty-three-chars-"
      "and-then-some";
  sb_cache *c = load_world();
  sb_translate_opts o;
  const sb_gvk *kinds;
  sb_cache_res r;
  char lv[64];
  sb_key lk = {SB_KIND_TRAFFIC_SPLIT, "shop", NULL};
  sb_key sk = {SB_KIND_TRAFFIC_SPLIT, "shop", NULL};
  sb_plan p;
  cJSON *obj, *ref;

  (void) state;
  opts(&o);
  sb_translate_output_kinds(&o, &kinds);
  assert_int_equal(sb_label_value(longname, lv), 0);
  assert_string_not_equal(lv, longname);
  lk.name = longname;
  sk.name = lv;   /* a (gone) source literally named like the hash */
  r = gen_res(&kinds[0]);
  obj = J("{'metadata':{'namespace':'shop','name':'long-split','uid':'u1',"
          "'resourceVersion':'5','labels':{'app.kubernetes.io/managed-by':"
          "'smi-bridge','smi-bridge.io/source-kind':'TrafficSplit'},"
          "'ownerReferences':[{'apiVersion':'split.smi-spec.io/v1alpha4',"
          "'kind':'TrafficSplit','uid':'u0','controller':true}]},"
          "'spec':{}}");
  set_str(labels_of(obj), SB_LABEL_SOURCE_NAME, lv);
  ref = cJSON_GetArrayItem(cJSON_GetObjectItem(meta_of(obj),
                                               "ownerReferences"), 0);
  set_str(ref, "name", longname);
  assert_int_equal(sb_cache_apply(c, &r, obj), 0);
  assert_string_equal(sb_cache_gen(c, &kinds[0], "shop", "long-split")
                          ->source_full_name, longname);

  sb_plan_init(&p);
  assert_int_equal(run(c, &sk, &p), 0);
  assert_int_equal(p.nactions, 0);
  assert_int_equal(run(c, &lk, &p), 0);  /* the long one is gone */
  assert_int_equal(p.nactions, 1);
  assert_int_equal(p.actions[0].type, SB_ACTION_DELETE);
  assert_string_equal(p.actions[0].name, "long-split");
  cJSON_Delete(obj);
  sb_plan_free(&p);
  sb_cache_free(c);
}

/* Every key of the fixture in every output mode: applied once and fed
 * back as the server returns it, nothing is left to do, and no key
 * touches another's objects. */
static void every_key_every_mode_settles(void **state) {
  static const struct {
    sb_mesh mesh;
    sb_routes routes;
  } modes[] = {
    {SB_MESH_ISTIO, SB_ROUTES_NATIVE},
    {SB_MESH_ISTIO, SB_ROUTES_GATEWAY_API},
    {SB_MESH_LINKERD, SB_ROUTES_NATIVE},
    {SB_MESH_LINKERD, SB_ROUTES_GATEWAY_API},
  };
  size_t m, k, total;

  (void) state;
  for (m = 0; m < SB_ARRAY_SIZE(modes); m++) {
    sb_cache *c = load_world();
    sb_translate_opts o;
    sb_key *keys;
    size_t nkeys, *nobj;
    sb_plan p;

    sb_translate_opts_default(&o);
    o.mesh = modes[m].mesh;
    o.routes = modes[m].routes;
    assert_int_equal(sb_translate_keys(sb_cache_world(c), &o, &keys, &nkeys),
                     0);
    assert_true(nkeys >= 2);
    nobj = calloc(nkeys, sizeof(*nobj));
    assert_non_null(nobj);
    sb_plan_init(&p);
    for (k = 0, total = 0; k < nkeys; k++) {
      assert_int_equal(sb_reconcile(c, &keys[k], &o, &p), 0);
      assert_int_equal(p.outcome, SB_OUTCOME_OK);
      assert_int_equal(count(&p, SB_ACTION_DELETE), 0);
      assert_int_equal(count_reason(&p, SB_REASON_CONFLICT), 0);
      nobj[k] = p.nactions;
      total += p.nactions;
      echo(c, &p);
      sb_plan_free(&p);
    }
    assert_true(total >= nkeys);
    for (k = 0; k < nkeys; k++) {
      assert_int_equal(sb_reconcile(c, &keys[k], &o, &p), 0);
      if (p.nactions)
        fprintf(stderr, "mode %zu key %s/%s/%s: %zu actions, first %s "
                "%s\n", m, sb_kind_name(keys[k].kind), keys[k].ns,
                keys[k].name, p.nactions, p.actions[0].gvk->kind,
                p.actions[0].name);
      assert_int_equal(p.nactions, 0);
      assert_int_equal(p.unchanged, nobj[k]);
      assert_int_equal(p.nwanted, nobj[k]);
      sb_plan_free(&p);
    }
    free(nobj);
    free(keys);
    sb_cache_free(c);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(subset_objects),
    cmocka_unit_test(subset_arrays),
    cmocka_unit_test(subset_scalars),
    cmocka_unit_test(create_applies_exactly_the_translation),
    cmocka_unit_test(steady_state_does_nothing),
    cmocka_unit_test(removed_fields_are_applied),
    cmocka_unit_test(hand_edits_are_repaired),
    cmocka_unit_test(foreign_object_is_a_conflict),
    cmocka_unit_test(foreign_virtual_service),
    cmocka_unit_test(other_source_is_a_conflict),
    cmocka_unit_test(stale_objects_are_pruned),
    cmocka_unit_test(gone_source_prunes_everything),
    cmocka_unit_test(invalid_source_changes_nothing),
    cmocka_unit_test(source_warnings_in_plan),
    cmocka_unit_test(hashed_source_names),
    cmocka_unit_test(hashed_names_by_owner),
    cmocka_unit_test(every_key_every_mode_settles),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
