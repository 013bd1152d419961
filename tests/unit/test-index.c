/* test-index.c -- the dependency index: key strings, replacing a key's
 * dependencies, and the exact keys every kind of cache change reaches.
 *
 * Changes are built by hand from model structs (the index only reads the
 * fields that select: a pod's ServiceAccount, a split's root, a target's
 * destination), so these tests need no parser.
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
#include "sb/index.h"

/* Collects the keys of one sb_index_affected call as "a,b,c". */
typedef struct hits {
  sb_buf b;
  int calls;
} hits;

static void on_key(void *arg, const char *key) {
  hits *h = arg;

  if (h->calls++)
    assert_int_equal(sb_buf_addc(&h->b, ','), 0);
  assert_int_equal(sb_buf_adds(&h->b, key), 0);
}

static hits h;

/* Runs sb_index_affected and returns the keys reached, "" for none; the
 * string lives until the next call. */
static const char *affected(const sb_index *ix, const sb_change *c) {
  sb_buf_free(&h.b);
  sb_buf_init(&h.b, SB_BUF_UNLIMITED);
  h.calls = 0;
  assert_int_equal(sb_index_affected(ix, c, on_key, &h), 0);
  return sb_buf_cstr(&h.b);
}

static sb_dep dep(sb_dep_sel sel, sb_kind kind, const char *ns,
                  const char *name) {
  sb_dep d;

  d.sel = sel;
  d.kind = kind;
  d.ns = (char *) ns;
  d.name = (char *) name;
  return d;
}

static sb_change model_change(sb_kind kind, const char *ns, const char *name,
                              const void *old_obj, const void *new_obj) {
  sb_change c;

  memset(&c, 0, sizeof(c));
  c.type = SB_CHANGE_MODEL;
  c.kind = kind;
  c.ns = ns;
  c.name = name;
  c.old_obj = old_obj;
  c.new_obj = new_obj;
  return c;
}

static void obj_init(sb_obj *o, sb_kind kind, const char *ns,
                     const char *name) {
  memset(o, 0, sizeof(*o));
  o->kind = kind;
  o->ns = ns;
  o->name = name;
}

static void key_strings(void **state) {
  sb_key k = {SB_KIND_TRAFFIC_SPLIT, "shop", "web"};
  char s1[] = "TrafficTarget/shop/api-access";
  char s2[] = "ServiceAccount//default";
  char bad1[] = "TrafficSplit/shop";
  char bad2[] = "Deployment/shop/web";
  char bad3[] = "TrafficSplit/shop/a/b";
  char bad4[] = "TrafficSplit/shop/";
  char bad5[] = "TrafficSplit";
  sb_buf b;

  (void) state;
  sb_buf_init(&b, 256);
  assert_int_equal(sb_index_key_format(&k, &b), 0);
  assert_string_equal(sb_buf_cstr(&b), "TrafficSplit/shop/web");
  sb_buf_free(&b);
  k.kind = SB_KIND_UNKNOWN;
  assert_int_equal(sb_index_key_format(&k, &b), SB_EINVAL);
  sb_buf_free(&b);

  assert_int_equal(sb_index_key_parse(s1, &k), 0);
  assert_int_equal(k.kind, SB_KIND_TRAFFIC_TARGET);
  assert_string_equal(k.ns, "shop");
  assert_string_equal(k.name, "api-access");
  assert_int_equal(sb_index_key_parse(s2, &k), 0);
  assert_int_equal(k.kind, SB_KIND_SERVICE_ACCOUNT);
  assert_string_equal(k.ns, "");
  assert_string_equal(k.name, "default");

  assert_int_equal(sb_index_key_parse(bad1, &k), SB_EINVAL);
  assert_int_equal(sb_index_key_parse(bad2, &k), SB_EINVAL);
  assert_string_equal(bad2, "Deployment/shop/web");  /* left intact */
  assert_int_equal(sb_index_key_parse(bad3, &k), SB_EINVAL);
  assert_int_equal(sb_index_key_parse(bad4, &k), SB_EINVAL);
  assert_int_equal(sb_index_key_parse(bad5, &k), SB_EINVAL);
  assert_int_equal(sb_index_key_parse(NULL, &k), SB_EINVAL);
}

static void set_replace_remove(void **state) {
  sb_index *ix = sb_index_new();
  sb_dep d1[] = {
    dep(SB_DEP_OBJECT, SB_KIND_HTTP_ROUTE_GROUP, "shop", "rg"),
    dep(SB_DEP_OBJECT, SB_KIND_SERVICE, "shop", "web"),
  };
  sb_dep d2[] = {
    dep(SB_DEP_OBJECT, SB_KIND_HTTP_ROUTE_GROUP, "shop", "rg2"),
  };
  sb_change rg = model_change(SB_KIND_HTTP_ROUTE_GROUP, "shop", "rg", NULL,
                              NULL);
  sb_change rg2 = model_change(SB_KIND_HTTP_ROUTE_GROUP, "shop", "rg2", NULL,
                               NULL);
  sb_change svc = model_change(SB_KIND_SERVICE, "shop", "web", NULL, NULL);
  sb_change other_ns = model_change(SB_KIND_SERVICE, "prod", "web", NULL,
                                    NULL);

  (void) state;
  assert_non_null(ix);
  assert_int_equal(sb_index_set(ix, "TrafficSplit/shop/a", d1, 2, NULL, 0),
                   0);
  assert_int_equal(sb_index_set(ix, "TrafficSplit/shop/b", d1 + 1, 1, NULL,
                                0), 0);
  assert_int_equal(sb_index_keys(ix), 2);
  assert_string_equal(affected(ix, &rg), "TrafficSplit/shop/a");
  assert_string_equal(affected(ix, &svc),
                      "TrafficSplit/shop/a,TrafficSplit/shop/b");
  assert_string_equal(affected(ix, &rg2), "");
  assert_string_equal(affected(ix, &other_ns), "");

  /* Replacing drops every old dependency. */
  assert_int_equal(sb_index_set(ix, "TrafficSplit/shop/a", d2, 1, NULL, 0),
                   0);
  assert_int_equal(sb_index_keys(ix), 2);
  assert_string_equal(affected(ix, &rg), "");
  assert_string_equal(affected(ix, &rg2), "TrafficSplit/shop/a");
  assert_string_equal(affected(ix, &svc), "TrafficSplit/shop/b");

  /* An empty set keeps the key, reaching nothing. */
  assert_int_equal(sb_index_set(ix, "TrafficSplit/shop/a", NULL, 0, NULL, 0),
                   0);
  assert_int_equal(sb_index_keys(ix), 2);
  assert_string_equal(affected(ix, &rg2), "");

  sb_index_remove(ix, "TrafficSplit/shop/b");
  sb_index_remove(ix, "TrafficSplit/shop/nope");
  assert_int_equal(sb_index_keys(ix), 1);
  assert_string_equal(affected(ix, &svc), "");
  sb_index_remove(ix, "TrafficSplit/shop/a");
  assert_int_equal(sb_index_keys(ix), 0);
  sb_index_free(ix);
}

static void pod_changes(void **state) {
  sb_index *ix = sb_index_new();
  sb_dep da = dep(SB_DEP_PODS_OF_SA, SB_KIND_UNKNOWN, "shop", "api");
  sb_dep db = dep(SB_DEP_PODS_OF_SA, SB_KIND_UNKNOWN, "shop", "web");
  sb_dep dc = dep(SB_DEP_PODS_OF_SA, SB_KIND_UNKNOWN, "shop", "db");
  sb_dep dn = dep(SB_DEP_PODS_IN_NS, SB_KIND_UNKNOWN, "shop", NULL);
  sb_dep dx = dep(SB_DEP_PODS_IN_NS, SB_KIND_UNKNOWN, "prod", NULL);
  sb_dep dp = dep(SB_DEP_OBJECT, SB_KIND_POD, "shop", "p1");
  sb_pod oldp, newp;
  sb_pod_shape olds = {0}, news = {0};
  sb_change c;

  (void) state;
  assert_int_equal(sb_index_set(ix, "TrafficTarget/shop/a", &da, 1, NULL, 0),
                   0);
  assert_int_equal(sb_index_set(ix, "TrafficTarget/shop/b", &db, 1, NULL, 0),
                   0);
  assert_int_equal(sb_index_set(ix, "TrafficTarget/shop/c", &dc, 1, NULL, 0),
                   0);
  assert_int_equal(sb_index_set(ix, "TrafficTarget/shop/n", &dn, 1, NULL, 0),
                   0);
  assert_int_equal(sb_index_set(ix, "TrafficTarget/prod/x", &dx, 1, NULL, 0),
                   0);
  assert_int_equal(sb_index_set(ix, "TrafficTarget/shop/p", &dp, 1, NULL, 0),
                   0);

  memset(&oldp, 0, sizeof(oldp));
  memset(&newp, 0, sizeof(newp));
  obj_init(&oldp.obj, SB_KIND_POD, "shop", "p1");
  obj_init(&newp.obj, SB_KIND_POD, "shop", "p1");
  oldp.shape = &olds;
  newp.shape = &news;
  olds.service_account = "api";
  news.service_account = "web";

  /* Created: the new SA's readers, the namespace's, the pod's own. */
  c = model_change(SB_KIND_POD, "shop", "p1", NULL, &newp);
  assert_string_equal(affected(ix, &c), "TrafficTarget/shop/b,"
                      "TrafficTarget/shop/n,TrafficTarget/shop/p");
  /* ServiceAccount changed: both the old and the new SA's readers. */
  c = model_change(SB_KIND_POD, "shop", "p1", &oldp, &newp);
  assert_string_equal(affected(ix, &c), "TrafficTarget/shop/a,"
                      "TrafficTarget/shop/b,TrafficTarget/shop/n,"
                      "TrafficTarget/shop/p");
  /* Deleted. */
  c = model_change(SB_KIND_POD, "shop", "p1", &oldp, NULL);
  assert_string_equal(affected(ix, &c), "TrafficTarget/shop/a,"
                      "TrafficTarget/shop/n,TrafficTarget/shop/p");
  /* Another pod in the namespace. */
  obj_init(&newp.obj, SB_KIND_POD, "shop", "p2");
  c = model_change(SB_KIND_POD, "shop", "p2", NULL, &newp);
  assert_string_equal(affected(ix, &c),
                      "TrafficTarget/shop/b,TrafficTarget/shop/n");
  sb_index_free(ix);
}

static void split_root_change(void **state) {
  sb_index *ix = sb_index_new();
  sb_dep r1 = dep(SB_DEP_SPLITS_OF_ROOT, SB_KIND_UNKNOWN, "shop", "web");
  sb_dep r2 = dep(SB_DEP_SPLITS_OF_ROOT, SB_KIND_UNKNOWN, "shop", "api");
  sb_dep r3 = dep(SB_DEP_SPLITS_OF_ROOT, SB_KIND_UNKNOWN, "prod", "web");
  sb_traffic_split o, n;
  sb_change c;

  (void) state;
  assert_int_equal(sb_index_set(ix, "TrafficSplit/shop/w1", &r1, 1, NULL, 0),
                   0);
  assert_int_equal(sb_index_set(ix, "TrafficSplit/shop/a1", &r2, 1, NULL, 0),
                   0);
  assert_int_equal(sb_index_set(ix, "TrafficSplit/prod/w1", &r3, 1, NULL, 0),
                   0);
  memset(&o, 0, sizeof(o));
  memset(&n, 0, sizeof(n));
  obj_init(&o.obj, SB_KIND_TRAFFIC_SPLIT, "shop", "s");
  obj_init(&n.obj, SB_KIND_TRAFFIC_SPLIT, "shop", "s");
  o.root = "web";
  n.root = "api";
  c = model_change(SB_KIND_TRAFFIC_SPLIT, "shop", "s", &o, &n);
  assert_string_equal(affected(ix, &c),
                      "TrafficSplit/shop/a1,TrafficSplit/shop/w1");
  c = model_change(SB_KIND_TRAFFIC_SPLIT, "shop", "s", NULL, &o);
  assert_string_equal(affected(ix, &c), "TrafficSplit/shop/w1");
  c = model_change(SB_KIND_TRAFFIC_SPLIT, "shop", "s", &n, NULL);
  assert_string_equal(affected(ix, &c), "TrafficSplit/shop/a1");
  sb_index_free(ix);
}

static void target_dest_change(void **state) {
  sb_index *ix = sb_index_new();
  sb_dep t1 = dep(SB_DEP_TARGETS_OF_SA, SB_KIND_UNKNOWN, "shop", "api");
  sb_dep t2 = dep(SB_DEP_TARGETS_OF_SA, SB_KIND_UNKNOWN, "data", "db");
  sb_dep t3 = dep(SB_DEP_TARGETS_OF_SA, SB_KIND_UNKNOWN, "shop", "db");
  sb_traffic_target o, n;
  sb_change c;

  (void) state;
  assert_int_equal(sb_index_set(ix, "ServiceAccount/shop/api", &t1, 1, NULL,
                                0), 0);
  assert_int_equal(sb_index_set(ix, "ServiceAccount/data/db", &t2, 1, NULL,
                                0), 0);
  assert_int_equal(sb_index_set(ix, "ServiceAccount/shop/db", &t3, 1, NULL,
                                0), 0);
  memset(&o, 0, sizeof(o));
  memset(&n, 0, sizeof(n));
  obj_init(&o.obj, SB_KIND_TRAFFIC_TARGET, "shop", "tt");
  obj_init(&n.obj, SB_KIND_TRAFFIC_TARGET, "shop", "tt");
  o.dest.kind = n.dest.kind = "ServiceAccount";
  o.dest.ns = "shop";
  o.dest.name = "api";
  n.dest.ns = "data";  /* the destination's namespace, not the target's */
  n.dest.name = "db";
  c = model_change(SB_KIND_TRAFFIC_TARGET, "shop", "tt", &o, &n);
  assert_string_equal(affected(ix, &c),
                      "ServiceAccount/data/db,ServiceAccount/shop/api");
  c = model_change(SB_KIND_TRAFFIC_TARGET, "shop", "tt", NULL, &n);
  assert_string_equal(affected(ix, &c), "ServiceAccount/data/db");
  sb_index_free(ix);
}

static void generated_and_invalid(void **state) {
  static const sb_gvk vs = {"networking.istio.io", "v1", "VirtualService",
                            "virtualservices"};
  sb_index *ix = sb_index_new();
  sb_index_obj want[] = {
    {"VirtualService", "shop", "web-split"},
    {"VirtualService", "shop", "web-split"},  /* a repeat is harmless */
  };
  sb_dep self = dep(SB_DEP_OBJECT, SB_KIND_TRAFFIC_SPLIT, "shop", "s");
  sb_gen g;
  sb_change c;

  (void) state;
  assert_int_equal(sb_index_set(ix, "TrafficSplit/shop/s", &self, 1, want, 2),
                   0);
  memset(&g, 0, sizeof(g));
  g.gvk = &vs;
  g.ns = "shop";
  g.name = "web-split";
  memset(&c, 0, sizeof(c));
  c.type = SB_CHANGE_GENERATED;
  c.ns = "shop";
  c.name = "web-split";
  c.new_obj = &g;      /* a foreign object appears under the wanted name */
  assert_string_equal(affected(ix, &c), "TrafficSplit/shop/s");
  c.new_obj = NULL;    /* ... and vanishes */
  c.old_obj = &g;
  assert_string_equal(affected(ix, &c), "TrafficSplit/shop/s");
  g.name = "other";
  assert_string_equal(affected(ix, &c), "");

  memset(&c, 0, sizeof(c));
  c.type = SB_CHANGE_INVALID;
  c.kind = SB_KIND_TRAFFIC_SPLIT;
  c.ns = "shop";
  c.name = "s";
  assert_string_equal(affected(ix, &c), "TrafficSplit/shop/s");
  c.name = "t";
  assert_string_equal(affected(ix, &c), "");
  /* A model change of the same name and another kind is another object. */
  c = model_change(SB_KIND_HTTP_ROUTE_GROUP, "shop", "s", NULL, NULL);
  assert_string_equal(affected(ix, &c), "");
  sb_index_free(ix);
}

static void dedupe(void **state) {
  sb_index *ix = sb_index_new();
  sb_dep d[] = {
    dep(SB_DEP_OBJECT, SB_KIND_POD, "shop", "p"),
    dep(SB_DEP_PODS_OF_SA, SB_KIND_UNKNOWN, "shop", "api"),
    dep(SB_DEP_PODS_IN_NS, SB_KIND_UNKNOWN, "shop", NULL),
    dep(SB_DEP_PODS_IN_NS, SB_KIND_UNKNOWN, "shop", NULL),
  };
  sb_pod p;
  sb_pod_shape ps = {0};
  sb_change c;

  (void) state;
  assert_int_equal(sb_index_set(ix, "TrafficTarget/shop/z", d, 4, NULL, 0),
                   0);
  assert_int_equal(sb_index_set(ix, "TrafficTarget/shop/a", d + 2, 1, NULL,
                                0), 0);
  memset(&p, 0, sizeof(p));
  obj_init(&p.obj, SB_KIND_POD, "shop", "p");
  p.shape = &ps;
  ps.service_account = "api";
  c = model_change(SB_KIND_POD, "shop", "p", &p, &p);
  /* Reached through three selectors, reported once; sorted. */
  assert_string_equal(affected(ix, &c),
                      "TrafficTarget/shop/a,TrafficTarget/shop/z");
  /* The repeated dependency is one edge: removing it once clears it. */
  sb_index_remove(ix, "TrafficTarget/shop/a");
  sb_index_remove(ix, "TrafficTarget/shop/z");
  assert_string_equal(affected(ix, &c), "");
  sb_index_free(ix);
}

/* 10,000 keys sharing one selector, each replaced twice: replacing must not
 * scan the shared selector (this would be 10^8 steps if it did, and
 * visible as a timeout under the sanitizers). */
static void many_keys(void **state) {
  sb_index *ix = sb_index_new();
  sb_dep d[2];
  char key[64], name[32];
  sb_change c;
  sb_pod p;
  sb_pod_shape ps = {0};
  hits all;
  int i, round;

  (void) state;
  d[0] = dep(SB_DEP_PODS_IN_NS, SB_KIND_UNKNOWN, "shop", NULL);
  for (round = 0; round < 2; round++)
    for (i = 0; i < 10000; i++) {
      snprintf(key, sizeof(key), "TrafficTarget/shop/t%05d", i);
      snprintf(name, sizeof(name), "sa-%d", (i + round) % 100);
      d[1] = dep(SB_DEP_PODS_OF_SA, SB_KIND_UNKNOWN, "shop", name);
      assert_int_equal(sb_index_set(ix, key, d, 2, NULL, 0), 0);
    }
  assert_int_equal(sb_index_keys(ix), 10000);

  sb_buf_init(&all.b, SB_BUF_UNLIMITED);
  all.calls = 0;
  memset(&p, 0, sizeof(p));
  obj_init(&p.obj, SB_KIND_POD, "shop", "x");
  p.shape = &ps;
  ps.service_account = "none";
  c = model_change(SB_KIND_POD, "shop", "x", NULL, &p);
  assert_int_equal(sb_index_affected(ix, &c, on_key, &all), 0);
  assert_int_equal(all.calls, 10000);  /* "N/shop" reaches every key once */
  assert_non_null(strstr(sb_buf_cstr(&all.b), "TrafficTarget/shop/t00000,"
                         "TrafficTarget/shop/t00001,"));
  sb_buf_free(&all.b);

  for (i = 0; i < 10000; i += 2) {
    snprintf(key, sizeof(key), "TrafficTarget/shop/t%05d", i);
    sb_index_remove(ix, key);
  }
  sb_buf_init(&all.b, SB_BUF_UNLIMITED);
  all.calls = 0;
  assert_int_equal(sb_index_affected(ix, &c, on_key, &all), 0);
  assert_int_equal(all.calls, 5000);
  sb_buf_free(&all.b);
  sb_index_free(ix);
}

/* 6,000 keys with selectors of their own plus one shared by a few: the
 * selector table grows, then loses two thirds of its entries (deleting
 * from an open-addressing table moves the survivors), and every selector
 * left must still reach exactly its keys; lists shrinking from several
 * keys to one and to none along the way. */
static void many_selectors(void **state) {
  sb_index *ix = sb_index_new();
  char key[64], own[32], shared[32];
  sb_dep d[3];
  sb_change c;
  int i;

  (void) state;
  for (i = 0; i < 6000; i++) {
    snprintf(key, sizeof(key), "TrafficSplit/shop/s%04d", i);
    snprintf(own, sizeof(own), "svc-%d", i);
    snprintf(shared, sizeof(shared), "common-%d", i / 3);
    d[0] = dep(SB_DEP_OBJECT, SB_KIND_SERVICE, "shop", own);
    d[1] = dep(SB_DEP_OBJECT, SB_KIND_HTTP_ROUTE_GROUP, "shop", own);
    d[2] = dep(SB_DEP_OBJECT, SB_KIND_SERVICE, "shop", shared);
    assert_int_equal(sb_index_set(ix, key, d, 3, NULL, 0), 0);
  }
  for (i = 0; i < 6000; i++)
    if (i % 3 != 1) {
      snprintf(key, sizeof(key), "TrafficSplit/shop/s%04d", i);
      sb_index_remove(ix, key);
    }
  assert_int_equal(sb_index_keys(ix), 2000);
  for (i = 0; i < 6000; i++) {
    char want[64] = "";
    if (i % 3 == 1)
      snprintf(want, sizeof(want), "TrafficSplit/shop/s%04d", i);
    snprintf(own, sizeof(own), "svc-%d", i);
    c = model_change(SB_KIND_HTTP_ROUTE_GROUP, "shop", own, NULL, NULL);
    assert_string_equal(affected(ix, &c), want);
    c = model_change(SB_KIND_SERVICE, "shop", own, NULL, NULL);
    assert_string_equal(affected(ix, &c), want);
    if (i % 3 == 0) {
      snprintf(shared, sizeof(shared), "common-%d", i / 3);
      snprintf(want, sizeof(want), "TrafficSplit/shop/s%04d", i + 1);
      c = model_change(SB_KIND_SERVICE, "shop", shared, NULL, NULL);
      assert_string_equal(affected(ix, &c), want);
    }
  }
  /* The survivors replaced with nothing: every selector is gone. */
  for (i = 1; i < 6000; i += 3) {
    snprintf(key, sizeof(key), "TrafficSplit/shop/s%04d", i);
    assert_int_equal(sb_index_set(ix, key, NULL, 0, NULL, 0), 0);
  }
  assert_int_equal(sb_index_keys(ix), 2000);
  c = model_change(SB_KIND_SERVICE, "shop", "common-0", NULL, NULL);
  assert_string_equal(affected(ix, &c), "");
  c = model_change(SB_KIND_SERVICE, "shop", "svc-1", NULL, NULL);
  assert_string_equal(affected(ix, &c), "");
  sb_index_free(ix);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(key_strings),
    cmocka_unit_test(set_replace_remove),
    cmocka_unit_test(pod_changes),
    cmocka_unit_test(split_root_change),
    cmocka_unit_test(target_dest_change),
    cmocka_unit_test(generated_and_invalid),
    cmocka_unit_test(dedupe),
    cmocka_unit_test(many_keys),
    cmocka_unit_test(many_selectors),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);

  sb_buf_free(&h.b);
  return rc;
}
