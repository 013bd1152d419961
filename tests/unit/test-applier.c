/* test-applier.c -- plans carried out against the generic fake API server
 * (tests/data/kube/testserver.py, /fake/): what is sent for applies and
 * deletes and in which order, how each kind of failure is reported (403
 * message verbatim, 409 precondition, 404 delete, 429 Retry-After), the
 * exact dry-run text, and the lifecycle: callbacks only from the loop,
 * free cancels runs in flight and their callbacks never run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "sb/applier.h"
#include "sb/err.h"

#include "fake-api.h"

static const sb_gvk VS = {"networking.istio.io", "v1", "VirtualService",
                          "virtualservices"};
static const sb_gvk CM = {"", "v1", "ConfigMap", "configmaps"};

#define VS_PATH "/apis/networking.istio.io/v1/namespaces/shop/virtualservices"

/* ---- plans --------------------------------------------------------------- */

static char *xdup(const char *s) {
  char *p = s ? strdup(s) : NULL;

  assert_true(!s || p);
  return p;
}

static cJSON *vs(const char *name, int weight) {
  char text[1024];
  cJSON *o;

  snprintf(text, sizeof(text),
           "{\"apiVersion\":\"networking.istio.io/v1\","
           "\"kind\":\"VirtualService\",\"metadata\":{\"name\":\"%s\","
           "\"namespace\":\"shop\",\"labels\":{\"app.kubernetes.io/"
           "managed-by\":\"smi-bridge\"}},\"spec\":{\"hosts\":"
           "[\"web.shop.svc.cluster.local\"],\"http\":[{\"route\":["
           "{\"destination\":{\"host\":\"web-v1.shop.svc.cluster.local\"},"
           "\"weight\":%d},{\"destination\":{\"host\":"
           "\"web-v2.shop.svc.cluster.local\"},\"weight\":%d}]}]}}",
           name, weight, 100 - weight);
  o = cJSON_Parse(text);
  assert_non_null(o);
  return o;
}

static void add_apply(sb_plan *p, const sb_gvk *g, const char *ns,
                      const char *name, cJSON *obj) {
  sb_action *a;

  p->actions = realloc(p->actions, (p->nactions + 1) * sizeof(*a));
  assert_non_null(p->actions);
  a = &p->actions[p->nactions++];
  memset(a, 0, sizeof(*a));
  a->type = SB_ACTION_APPLY;
  a->gvk = g;
  a->ns = xdup(ns);
  a->name = xdup(name);
  a->obj = obj;
}

static void add_delete(sb_plan *p, const sb_gvk *g, const char *ns,
                       const char *name, const char *uid, const char *rv) {
  sb_action *a;

  p->actions = realloc(p->actions, (p->nactions + 1) * sizeof(*a));
  assert_non_null(p->actions);
  a = &p->actions[p->nactions++];
  memset(a, 0, sizeof(*a));
  a->type = SB_ACTION_DELETE;
  a->gvk = g;
  a->ns = xdup(ns);
  a->name = xdup(name);
  a->uid = xdup(uid);
  a->resource_version = xdup(rv);
}

/* The reconcile module owns sb_plan_free; this test frees what it built. */
static void plan_clear(sb_plan *p) {
  size_t i;

  for (i = 0; i < p->nactions; i++) {
    free(p->actions[i].ns);
    free(p->actions[i].name);
    free(p->actions[i].uid);
    free(p->actions[i].resource_version);
    cJSON_Delete(p->actions[i].obj);
  }
  free(p->actions);
  memset(p, 0, sizeof(*p));
}

/* ---- results ------------------------------------------------------------- */

typedef struct seen {
  int calls;
  int during_run;          /* set while sb_applier_run is on the stack */
  int called_during_run;
  size_t applied, deleted, not_found, nfailures;
  long retry_after;
  int err[8];
  char msg[8][1024];
  const sb_action *failed[8];
  cJSON *returned[8];
  size_t nreturned;
  /* what the callback does next */
  sb_applier **free_me;
  const sb_plan *rerun;
  struct seen *rerun_seen;
} seen;

static void on_applied(void *arg, sb_apply_result *res) {
  seen *s = arg;
  size_t i;

  s->calls++;
  if (s->during_run)
    s->called_during_run = 1;
  s->applied = res->applied;
  s->deleted = res->deleted;
  s->not_found = res->not_found;
  s->nfailures = res->nfailures;
  s->retry_after = res->retry_after;
  for (i = 0; i < res->nfailures && i < 8; i++) {
    s->err[i] = res->failures[i].err;
    snprintf(s->msg[i], sizeof(s->msg[i]), "%s", res->failures[i].message);
    s->failed[i] = res->failures[i].action;
  }
  s->nreturned = res->nreturned;
  for (i = 0; i < res->nreturned && i < 8; i++) {
    s->returned[i] = res->returned[i];  /* taken */
    res->returned[i] = NULL;
  }
  if (s->rerun)
    assert_int_equal(sb_applier_run(*s->free_me, s->rerun, on_applied,
                                    s->rerun_seen), 0);
  else if (s->free_me)
    sb_applier_free(*s->free_me);
}

static void seen_clear(seen *s) {
  size_t i;

  for (i = 0; i < 8; i++)
    cJSON_Delete(s->returned[i]);
  memset(s, 0, sizeof(*s));
}

static void run_plan(uv_loop_t *loop, sb_applier *a, const sb_plan *p,
                     seen *s) {
  s->during_run = 1;
  assert_int_equal(sb_applier_run(a, p, on_applied, s), 0);
  s->during_run = 0;
  assert_int_equal(s->calls, 0);
  run_until(loop, &s->calls);
  assert_int_equal(s->calls, 1);
  assert_false(s->called_during_run);
}

/* Creates a ConfigMap or VirtualService directly; returns its uid. */
static void seed(uv_loop_t *loop, sb_kube *k, const sb_gvk *g,
                 const char *name, char uid[64], char rv[64]) {
  sb_kube_target t;
  fake_res x;
  cJSON *o = g == &VS ? vs(name, 50) : cJSON_CreateObject();

  if (g == &CM) {
    cJSON *m = cJSON_AddObjectToObject(o, "metadata");

    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddStringToObject(o, "kind", "ConfigMap");
    cJSON_AddStringToObject(m, "name", name);
  }
  memset(&t, 0, sizeof(t));
  t.gvr.group = g->group;
  t.gvr.version = g->version;
  t.gvr.resource = g->resource;
  t.ns = "shop";
  memset(&x, 0, sizeof(x));
  assert_int_equal(sb_kube_create(k, &t, o, 0, fake_on_res, &x, NULL), 0);
  run_until(loop, &x.done);
  assert_int_equal(x.err, 0);
  snprintf(uid, 64, "%s", jstr(x.body, "metadata.uid"));
  if (rv)
    snprintf(rv, 64, "%s", jstr(x.body, "metadata.resourceVersion"));
  cJSON_Delete(x.body);
  cJSON_Delete(o);
}

/* ---- tests --------------------------------------------------------------- */

static void applies_then_deletes(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  sb_applier *a;
  sb_plan p;
  seen s;
  cJSON *reqs, *it;
  char uid_old[64], rv_old[64], uid_cm[64];
  int i, last_patch = -1, first_delete = 100;

  (void) state;
  memset(&p, 0, sizeof(p));
  memset(&s, 0, sizeof(s));
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  seed(&loop, k, &VS, "old", uid_old, rv_old);
  seed(&loop, k, &CM, "stale", uid_cm, NULL);
  /* Deletes listed first on purpose: applies still go first. */
  add_delete(&p, &VS, "shop", "old", uid_old, rv_old);
  add_delete(&p, &VS, "shop", "gone", "uid-nothing", NULL);
  add_delete(&p, &CM, "shop", "stale", uid_cm, NULL);
  add_apply(&p, &VS, "shop", "web-split", vs("web-split", 90));
  add_apply(&p, &VS, "shop", "api-split", vs("api-split", 70));
  assert_int_equal(sb_applier_new(k, NULL, &a), 0);
  run_plan(&loop, a, &p, &s);

  assert_int_equal(s.applied, 2);
  assert_int_equal(s.deleted, 2);
  assert_int_equal(s.not_found, 1);
  assert_int_equal(s.nfailures, 0);
  assert_int_equal(s.retry_after, -1);
  /* The server's object for each apply, in action order. */
  assert_int_equal(s.nreturned, 5);
  for (i = 0; i < 3; i++)
    assert_null(s.returned[i]);
  assert_string_equal(jstr(s.returned[3], "metadata.name"), "web-split");
  assert_non_null(jstr(s.returned[3], "metadata.uid"));
  assert_string_equal(jstr(s.returned[4], "metadata.name"), "api-split");

  reqs = fake_requests(&loop, k, NULL, "/");
  i = 0;
  cJSON_ArrayForEach(it, reqs) {
    const char *m = jstr(it, "method"), *path = jstr(it, "path");

    if (strcmp(m, "PATCH") == 0) {
      last_patch = i;
      assert_string_equal(jstr(it, "ctype"), "application/apply-patch+yaml");
      assert_string_equal(jstr(it, "query.fieldManager"), "smi-bridge");
      assert_string_equal(jstr(it, "query.force"), "true");
      /* No second, strict parse of the body on the server (client.c). */
      assert_string_equal(jstr(it, "query.fieldValidation"), "Ignore");
      if (strcmp(path, VS_PATH "/web-split") == 0) {
        cJSON *want = vs("web-split", 90);

        assert_true(cJSON_Compare(cJSON_GetObjectItem(it, "body"), want, 1));
        cJSON_Delete(want);
      } else {
        assert_string_equal(path, VS_PATH "/api-split");
      }
    } else if (strcmp(m, "DELETE") == 0) {
      if (first_delete == 100)
        first_delete = i;
      assert_string_equal(jstr(it, "body.propagationPolicy"), "Background");
      if (strcmp(path, VS_PATH "/old") == 0) {
        assert_string_equal(jstr(it, "body.preconditions.uid"), uid_old);
        assert_string_equal(jstr(it, "body.preconditions.resourceVersion"),
                            rv_old);
      } else if (strcmp(path, VS_PATH "/gone") == 0) {
        assert_string_equal(jstr(it, "body.preconditions.uid"),
                            "uid-nothing");
        assert_null(jstr(it, "body.preconditions.resourceVersion"));
      } else {
        assert_string_equal(path,
                            "/api/v1/namespaces/shop/configmaps/stale");
        assert_string_equal(jstr(it, "body.preconditions.uid"), uid_cm);
      }
    }
    i++;
  }
  assert_int_equal(cJSON_GetArraySize(reqs), 2 + 5);  /* 2 seeds + plan */
  assert_true(last_patch >= 0 && last_patch < first_delete);
  cJSON_Delete(reqs);
  /* What the server holds now. */
  it = fake_ctl(&loop, k, "/_peek?path=" VS_PATH "/old");
  assert_null(it);
  it = fake_ctl(&loop, k, "/_peek?path=" VS_PATH "/web-split");
  assert_non_null(it);
  cJSON_Delete(it);

  seen_clear(&s);
  sb_applier_free(a);
  plan_clear(&p);
  fake_finish(&loop, k);
}

static void failures_are_reported_and_the_rest_runs(void **state) {
  static const char forbidden[] =
      "virtualservices.networking.istio.io \"denied\" is forbidden: User "
      "\"system:serviceaccount:smi:smi-bridge\" cannot patch resource "
      "\"virtualservices\" in API group \"networking.istio.io\" in the "
      "namespace \"shop\"";
  uv_loop_t loop;
  sb_kube *k;
  sb_applier *a;
  sb_plan p;
  seen s;
  char uid[64], other_uid[64];
  size_t i;
  int saw403 = 0, saw409 = 0, saw429 = 0, saw500 = 0;

  (void) state;
  memset(&p, 0, sizeof(p));
  memset(&s, 0, sizeof(s));
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  seed(&loop, k, &VS, "replaced", uid, NULL);
  seed(&loop, k, &VS, "other", other_uid, NULL);
  cJSON_Delete(fake_ctl(&loop, k, "/_fault?method=PATCH&path=" VS_PATH
                        "/denied&code=403&reason=Forbidden&message=%s",
                        "virtualservices.networking.istio.io%20%22denied%22"
                        "%20is%20forbidden:%20User%20%22system:"
                        "serviceaccount:smi:smi-bridge%22%20cannot%20patch"
                        "%20resource%20%22virtualservices%22%20in%20API%20"
                        "group%20%22networking.istio.io%22%20in%20the%20"
                        "namespace%20%22shop%22"));
  cJSON_Delete(fake_ctl(&loop, k, "/_fault?method=PATCH&path=" VS_PATH
                        "/busy&code=429&reason=TooManyRequests&message=slow"
                        "%%20down&retry=7"));
  cJSON_Delete(fake_ctl(&loop, k, "/_fault?method=DELETE&path=" VS_PATH
                        "/other&code=500&reason=InternalError&message=etcd"
                        "%%20timeout"));
  add_apply(&p, &VS, "shop", "denied", vs("denied", 10));
  add_apply(&p, &VS, "shop", "ok", vs("ok", 20));
  add_apply(&p, &VS, "shop", "busy", vs("busy", 30));
  /* The object was replaced: same name, another uid. */
  add_delete(&p, &VS, "shop", "replaced", "uid-of-the-old-one", NULL);
  add_delete(&p, &VS, "shop", "other", other_uid, NULL);
  assert_int_equal(sb_applier_new(k, NULL, &a), 0);
  run_plan(&loop, a, &p, &s);

  assert_int_equal(s.applied, 1);
  assert_int_equal(s.deleted, 0);
  assert_int_equal(s.not_found, 0);
  assert_int_equal(s.nfailures, 4);
  assert_int_equal(s.retry_after, 7);
  for (i = 0; i < s.nfailures; i++) {
    const sb_action *act = s.failed[i];

    assert_true(act >= p.actions && act < p.actions + p.nactions);
    if (strcmp(act->name, "denied") == 0) {
      saw403++;
      assert_int_equal(s.err[i], SB_EFORBIDDEN);
      assert_string_equal(s.msg[i], forbidden);  /* verbatim */
    } else if (strcmp(act->name, "replaced") == 0) {
      saw409++;
      assert_int_equal(s.err[i], SB_ECONFLICT);
      assert_non_null(strstr(s.msg[i], "replaced or changed since it was "
                                       "read"));
      assert_non_null(strstr(s.msg[i], "the UID in the precondition "
                                       "(uid-of-the-old-one) does not match "
                                       "the UID in record"));
    } else if (strcmp(act->name, "busy") == 0) {
      saw429++;
      assert_int_equal(s.err[i], SB_ETOOMANY);
      assert_string_equal(s.msg[i], "slow down");
    } else {
      assert_string_equal(act->name, "other");
      saw500++;
      assert_int_equal(s.err[i], SB_EHTTP);
      assert_string_equal(s.msg[i], "etcd timeout");
    }
  }
  assert_int_equal(saw403 + saw409 + saw429 + saw500, 4);
  assert_int_equal(saw403 * saw409 * saw429 * saw500, 1);
  assert_non_null(s.returned[1]);
  assert_null(s.returned[0]);
  assert_null(s.returned[2]);
  /* The replaced object is still there. */
  {
    cJSON *o = fake_ctl(&loop, k, "/_peek?path=" VS_PATH "/replaced");

    assert_non_null(o);
    assert_string_equal(jstr(o, "metadata.uid"), uid);
    cJSON_Delete(o);
  }
  seen_clear(&s);
  sb_applier_free(a);
  plan_clear(&p);
  fake_finish(&loop, k);
}

static void dry_run_prints_exactly_and_sends_nothing(void **state) {
  static const char want[] =
      "---\n"
      "# smi-bridge dry-run: apply VirtualService shop/web-split\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: VirtualService\n"
      "metadata:\n"
      "  name: web-split\n"
      "  namespace: shop\n"
      "  labels:\n"
      "    app.kubernetes.io/managed-by: smi-bridge\n"
      "spec:\n"
      "  hosts:\n"
      "  - web.shop.svc.cluster.local\n"
      "  http:\n"
      "  - route:\n"
      "    - destination:\n"
      "        host: web-v1.shop.svc.cluster.local\n"
      "      weight: 90\n"
      "    - destination:\n"
      "        host: web-v2.shop.svc.cluster.local\n"
      "      weight: 10\n"
      "---\n"
      "# smi-bridge dry-run: delete VirtualService shop/old-split\n"
      "apiVersion: networking.istio.io/v1\n"
      "kind: VirtualService\n"
      "metadata:\n"
      "  name: old-split\n"
      "  namespace: shop\n"
      "  uid: 6f1c0a52-0000-4000-8000-000000000001\n"
      "---\n"
      "# smi-bridge dry-run: delete ConfigMap shop/x\n"
      "apiVersion: v1\n"
      "kind: ConfigMap\n"
      "metadata:\n"
      "  name: x\n"
      "  namespace: shop\n"
      "  uid: \"1234\"\n";
  uv_loop_t loop;
  sb_kube *k;
  sb_applier *a;
  sb_applier_opts o;
  sb_plan p;
  seen s;
  char *text = NULL;
  size_t len = 0;
  FILE *out;
  cJSON *reqs;

  (void) state;
  memset(&p, 0, sizeof(p));
  memset(&s, 0, sizeof(s));
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  out = open_memstream(&text, &len);
  assert_non_null(out);
  memset(&o, 0, sizeof(o));
  o.dry_run = 1;
  o.out = out;
  add_delete(&p, &VS, "shop", "old-split",
             "6f1c0a52-0000-4000-8000-000000000001", "77");
  add_apply(&p, &VS, "shop", "web-split", vs("web-split", 90));
  add_delete(&p, &CM, "shop", "x", "1234", NULL);
  assert_int_equal(sb_applier_new(k, &o, &a), 0);
  run_plan(&loop, a, &p, &s);
  assert_int_equal(s.applied, 1);
  assert_int_equal(s.deleted, 2);
  assert_int_equal(s.nfailures, 0);
  assert_null(s.returned[1]);
  fclose(out);
  assert_string_equal(text, want);
  free(text);
  reqs = fake_requests(&loop, k, NULL, "/");
  assert_int_equal(cJSON_GetArraySize(reqs), 0);
  cJSON_Delete(reqs);
  seen_clear(&s);
  sb_applier_free(a);
  plan_clear(&p);
  fake_finish(&loop, k);
}

static void empty_and_invalid_plans(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  sb_applier *a;
  sb_plan p, bad;
  seen s;

  (void) state;
  memset(&p, 0, sizeof(p));
  memset(&bad, 0, sizeof(bad));
  memset(&s, 0, sizeof(s));
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  assert_int_equal(sb_applier_new(k, NULL, &a), 0);
  run_plan(&loop, a, &p, &s);  /* from the loop, with zero counts */
  assert_int_equal(s.applied + s.deleted + s.not_found + s.nfailures, 0);
  assert_int_equal(s.retry_after, -1);
  seen_clear(&s);
  /* An APPLY without an object: refused, no callback. */
  add_apply(&bad, &VS, "shop", "x", NULL);
  assert_int_equal(sb_applier_run(a, &bad, on_applied, &s), SB_EINVAL);
  assert_int_equal(sb_applier_run(a, NULL, on_applied, &s), SB_EINVAL);
  run_for(&loop, 20);
  assert_int_equal(s.calls, 0);
  sb_applier_free(a);
  plan_clear(&bad);
  fake_finish(&loop, k);
}

/* sb_applier_free with a run waiting for the server and one waiting for
 * its report: neither callback ever runs, the plans may go at once, and
 * everything is freed (ASan checks both). */
static void free_cancels_runs(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  sb_applier *a;
  sb_plan *slow = calloc(1, sizeof(*slow)), empty;
  seen s1, s2;
  cJSON *reqs;

  (void) state;
  memset(&empty, 0, sizeof(empty));
  memset(&s1, 0, sizeof(s1));
  memset(&s2, 0, sizeof(s2));
  assert_non_null(slow);
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  cJSON_Delete(fake_ctl(&loop, k, "/_fault?method=PATCH&path=" VS_PATH
                        "/slow&ms=400&times=1"));
  add_apply(slow, &VS, "shop", "slow", vs("slow", 10));
  add_apply(slow, &VS, "shop", "quick", vs("quick", 10));
  assert_int_equal(sb_applier_new(k, NULL, &a), 0);
  assert_int_equal(sb_applier_run(a, slow, on_applied, &s1), 0);
  run_for(&loop, 150);  /* "quick" answered, "slow" still out */
  assert_int_equal(s1.calls, 0);
  assert_int_equal(sb_applier_run(a, &empty, on_applied, &s2), 0);
  sb_applier_free(a);
  plan_clear(slow);
  free(slow);
  run_for(&loop, 600);  /* the slow answer (or its cancel) comes back */
  assert_int_equal(s1.calls, 0);
  assert_int_equal(s2.calls, 0);
  reqs = fake_requests(&loop, k, "PATCH", VS_PATH);
  assert_int_equal(cJSON_GetArraySize(reqs), 2);
  cJSON_Delete(reqs);
  fake_finish(&loop, k);
}

/* The callback may start another run, and may free the applier. */
static void callback_reruns_and_frees(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  sb_applier *a;
  sb_plan p1, p2;
  seen s1, s2;

  (void) state;
  memset(&p1, 0, sizeof(p1));
  memset(&p2, 0, sizeof(p2));
  memset(&s1, 0, sizeof(s1));
  memset(&s2, 0, sizeof(s2));
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  add_apply(&p1, &VS, "shop", "one", vs("one", 10));
  add_apply(&p2, &VS, "shop", "two", vs("two", 10));
  assert_int_equal(sb_applier_new(k, NULL, &a), 0);
  s1.free_me = &a;
  s1.rerun = &p2;
  s1.rerun_seen = &s2;
  s2.free_me = &a;  /* the second callback frees the applier */
  assert_int_equal(sb_applier_run(a, &p1, on_applied, &s1), 0);
  run_until(&loop, &s1.calls);
  run_until(&loop, &s2.calls);
  assert_int_equal(s1.applied, 1);
  assert_int_equal(s2.applied, 1);
  assert_string_equal(jstr(s2.returned[0], "metadata.name"), "two");
  run_for(&loop, 20);
  assert_int_equal(s1.calls + s2.calls, 2);
  seen_clear(&s1);
  seen_clear(&s2);
  plan_clear(&p1);
  plan_clear(&p2);
  fake_finish(&loop, k);
}

/* A closed client: every action fails with a message, the run still
 * completes from the loop. */
static void client_closing_fails_actions(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  sb_applier *a;
  sb_plan p;
  seen s;
  int n = 0;

  (void) state;
  memset(&p, 0, sizeof(p));
  memset(&s, 0, sizeof(s));
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  add_apply(&p, &VS, "shop", "a", vs("a", 10));
  add_delete(&p, &VS, "shop", "b", "u", NULL);
  assert_int_equal(sb_applier_new(k, NULL, &a), 0);
  assert_int_equal(sb_kube_close(k, fake_closed, &n), 0);
  run_plan(&loop, a, &p, &s);
  assert_int_equal(s.nfailures, 2);
  assert_int_equal(s.err[0], SB_ECLOSING);
  assert_int_equal(s.err[1], SB_ECLOSING);
  assert_string_equal(s.msg[0], sb_strerror(SB_ECLOSING));
  sb_applier_free(a);
  plan_clear(&p);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(n, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
  seen_clear(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(applies_then_deletes),
      cmocka_unit_test(failures_are_reported_and_the_rest_runs),
      cmocka_unit_test(dry_run_prints_exactly_and_sends_nothing),
      cmocka_unit_test(empty_and_invalid_plans),
      cmocka_unit_test(free_cancels_runs),
      cmocka_unit_test(callback_reruns_and_frees),
      cmocka_unit_test(client_closing_fails_actions),
  };

  return cmocka_run_group_tests(tests, fake_setup, fake_teardown);
}
