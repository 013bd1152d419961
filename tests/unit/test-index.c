/* test-index.c -- the dependency index: key strings, replacing a key's
 * dependencies, and the exact keys every kind of cache change reaches.
 *
 * Changes are built by hand from model structs (the index only reads the
 * fields that select: a pod's ServiceAccount, a split's root, a target's
 * destination), so these tests need no parser. Then the compact tables'
 * own risks: clusters and deletion by shifting back, long lists of one
 * selector taken apart in every order, random runs against a model, and
 * allocation failures at every point of a set.
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
#include "sb/hmap.h"
#include "sb/index.h"

#include "wrap-alloc.h"

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

/* ---- the tables ----------------------------------------------------------
 *
 * The index keeps keys and selectors in open-addressing tables with
 * deletion by shifting back, and the keys of a shared selector in a list
 * whose positions the keys remember. What follows fails if a probe stops
 * early, a shift leaves an entry behind its home, a table loses entries
 * when it grows, or a remembered position goes stale. */

/* "Service/shop/<name>": a selector with nothing else attached (a model
 * change of a Service selects only the object itself). */
static sb_dep svc_dep(const char *name) {
  return dep(SB_DEP_OBJECT, SB_KIND_SERVICE, "shop", name);
}

static const char *svc_affected(const sb_index *ix, const char *name) {
  sb_change c = model_change(SB_KIND_SERVICE, "shop", name, NULL, NULL);

  return affected(ix, &c);
}

/* The selector hash index.c computes for svc_dep(name), to choose names
 * that share a home slot. Only a choice of names: were index.c to hash
 * differently these tests would still pass, with fewer collisions. */
static uint64_t svc_sel_hash(const char *name) {
  uint64_t x = sb_hash_add(SB_HASH_INIT, "O", 1);

  x = sb_hash_add(x, "Service", sizeof("Service"));
  x = sb_hash_add(x, "shop", sizeof("shop"));
  x = sb_hash_add(x, name, strlen(name) + 1);
  x = sb_hash_final(x);
  return x ? x : 1;
}

#define CL_N 40  /* under 3/4 of a first table's 64 slots: no growth */

/* CL_N keys, each with a selector of its own: 30 whose hash (of the key
 * string, or of the selector with by_sel) is at home in the last two of 64
 * slots, so that they make one cluster wrapping past the end, and 10 at
 * home inside that cluster (slots 3 to 20), pushed along by it. */
static void cluster_names(int by_sel, char key[CL_N][40],
                          char own[CL_N][24]) {
  int hi = 0, lo = 0, i;

  for (i = 0; hi + lo < CL_N; i++) {
    char k[40], o[24];
    uint64_t home;
    snprintf(k, sizeof(k), "TrafficSplit/shop/c%d", i);
    snprintf(o, sizeof(o), "own-%d", i);
    home = (by_sel ? svc_sel_hash(o) : sb_hash(k, strlen(k))) & 63;
    if (home >= 62 && hi < 30)
      hi++;
    else if (home >= 3 && home <= 20 && lo < 10)
      lo++;
    else
      continue;
    memcpy(key[hi + lo - 1], k, sizeof(k));
    memcpy(own[hi + lo - 1], o, sizeof(o));
  }
}

/* Removal orders of 0..CL_N-1. */
static int cl_order(int order, int i) {
  switch (order) {
  case 0:
    return i;                                   /* oldest first */
  case 1:
    return CL_N - 1 - i;                        /* newest first */
  case 2:
    return (i * 17) % CL_N;                     /* scattered */
  default:
    return i % 2 ? CL_N / 2 + i / 2 : CL_N / 2 - 1 - i / 2;  /* middle out */
  }
}

/* Keys (by_sel 0) or selectors (by_sel 1) crowded into one wrapping
 * cluster, removed one at a time in several orders: after each removal
 * every survivor is still found -- by its string (setting it again adds
 * no key) and by its selector -- and no removed one is. */
static void clustered(int by_sel) {
  static char key[CL_N][40], own[CL_N][24];
  int order, i, j;

  cluster_names(by_sel, key, own);
  for (order = 0; order < 4; order++) {
    sb_index *ix = sb_index_new();
    char gone[CL_N] = {0};

    assert_non_null(ix);
    for (i = 0; i < CL_N; i++) {
      sb_dep d = svc_dep(own[i]);
      assert_int_equal(sb_index_set(ix, key[i], &d, 1, NULL, 0), 0);
    }
    for (i = 0; i < CL_N; i++) {
      int r = cl_order(order, i);
      sb_index_remove(ix, key[r]);
      gone[r] = 1;
      for (j = 0; j < CL_N; j++) {
        sb_dep d = svc_dep(own[j]);
        if (gone[j]) {
          sb_index_remove(ix, key[j]);  /* not there: changes nothing */
          assert_string_equal(svc_affected(ix, own[j]), "");
        } else {
          assert_int_equal(sb_index_set(ix, key[j], &d, 1, NULL, 0), 0);
          assert_string_equal(svc_affected(ix, own[j]), key[j]);
        }
      }
      assert_int_equal(sb_index_keys(ix), (size_t) (CL_N - 1 - i));
    }
    sb_index_free(ix);
  }
}

static void clustered_keys(void **state) {
  (void) state;
  clustered(0);
}

static void clustered_selectors(void **state) {
  (void) state;
  clustered(1);
}

typedef struct named_hash {
  uint32_t h;
  int i;
} named_hash;

static int cmp_named_hash(const void *a, const void *b) {
  const named_hash *x = a, *y = b;

  return x->h < y->h ? -1 : x->h > y->h ? 1 : x->i - y->i;
}

/* Two keys whose 32-bit hashes, all the key table keeps of a string, are
 * the same (found among 2^18 names, where some 8 such pairs are to be
 * expected): both are kept, each found by its own string. */
static void same_hash_keys(void **state) {
  enum { N = 1 << 18 };
  named_hash *v = malloc(N * sizeof(*v));
  char a[40], b[40];
  sb_dep da = svc_dep("own-a"), db = svc_dep("own-b");
  sb_index *ix = sb_index_new();
  int i;

  (void) state;
  assert_non_null(v);
  for (i = 0; i < N; i++) {
    snprintf(a, sizeof(a), "TrafficSplit/shop/h%d", i);
    v[i].h = (uint32_t) sb_hash(a, strlen(a));
    v[i].i = i;
  }
  qsort(v, N, sizeof(*v), cmp_named_hash);
  for (i = 0; i + 1 < N && v[i].h != v[i + 1].h; i++)
    ;
  assert_true(i + 1 < N);
  snprintf(a, sizeof(a), "TrafficSplit/shop/h%d", v[i].i);
  snprintf(b, sizeof(b), "TrafficSplit/shop/h%d", v[i + 1].i);
  free(v);

  assert_int_equal(sb_index_set(ix, a, &da, 1, NULL, 0), 0);
  assert_int_equal(sb_index_set(ix, b, &db, 1, NULL, 0), 0);
  assert_int_equal(sb_index_keys(ix), 2);
  assert_int_equal(sb_index_set(ix, b, &db, 1, NULL, 0), 0);
  assert_int_equal(sb_index_set(ix, a, &da, 1, NULL, 0), 0);
  assert_int_equal(sb_index_keys(ix), 2);
  assert_string_equal(svc_affected(ix, "own-a"), a);
  assert_string_equal(svc_affected(ix, "own-b"), b);
  sb_index_remove(ix, a);
  sb_index_remove(ix, a);
  assert_int_equal(sb_index_keys(ix), 1);
  assert_string_equal(svc_affected(ix, "own-a"), "");
  assert_string_equal(svc_affected(ix, "own-b"), b);
  sb_index_remove(ix, b);
  assert_int_equal(sb_index_keys(ix), 0);
  sb_index_free(ix);
}

#define SH_N 200

/* What affected() should say for "all" (group < 0) or for "g-<group>":
 * the keys alive on it, in strcmp order. */
static const char *sh_want(const char *alive, int group) {
  static sb_buf b;
  char key[40];
  int i, n = 0;

  sb_buf_free(&b);
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  for (i = 0; i < SH_N; i++) {
    if (!alive[i] || (group >= 0 && i % 7 != group))
      continue;
    snprintf(key, sizeof(key), "TrafficTarget/shop/t%03d", i);
    if (n++)
      assert_int_equal(sb_buf_addc(&b, ','), 0);
    assert_int_equal(sb_buf_adds(&b, key), 0);
  }
  return sb_buf_cstr(&b);
}

/* SH_N keys on one selector ("all", whose list grows several times), a
 * seventh of them on each of 7 group selectors, each on one of its own;
 * taken off in several orders, by removing the key or by replacing its
 * dependencies with its own selector. Every step moves the last id of a
 * list into the hole, and the moved key's remembered position must
 * follow: a stale one shows as a key reached twice, or not reached, or a
 * sanitizer report. With one key left the list is inline again, and
 * grows from there. */
static void shared_selector_orders(void **state) {
  char key[40], own[24], grp[24];
  int order, i, g, kept;

  (void) state;
  for (order = 0; order < 5; order++) {
    sb_index *ix = sb_index_new();
    char alive[SH_N];

    for (i = 0; i < SH_N; i++) {
      sb_dep d[3];
      snprintf(key, sizeof(key), "TrafficTarget/shop/t%03d", i);
      snprintf(own, sizeof(own), "own-%d", i);
      snprintf(grp, sizeof(grp), "g-%d", i % 7);
      d[0] = svc_dep("all");
      d[1] = svc_dep(grp);
      d[2] = svc_dep(own);
      assert_int_equal(sb_index_set(ix, key, d, 3, NULL, 0), 0);
      alive[i] = 1;
    }
    assert_string_equal(svc_affected(ix, "all"), sh_want(alive, -1));
    kept = 0;
    for (i = 0; i < SH_N; i++) {
      int r = order == 0 ? i
            : order == 1 ? SH_N - 1 - i
            : order == 2 ? (i * 73) % SH_N  /* 73 is prime to 200 */
            : (i * 31 + 7) % SH_N;
      int replace = order == 4 || r % 3 == 0;
      snprintf(key, sizeof(key), "TrafficTarget/shop/t%03d", r);
      snprintf(own, sizeof(own), "own-%d", r);
      if (replace) {
        sb_dep d = svc_dep(own);
        assert_int_equal(sb_index_set(ix, key, &d, 1, NULL, 0), 0);
        kept++;
      } else {
        sb_index_remove(ix, key);
      }
      alive[r] = 0;
      assert_int_equal(sb_index_keys(ix), (size_t) (SH_N - 1 - i + kept));
      assert_string_equal(svc_affected(ix, "all"), sh_want(alive, -1));
      assert_string_equal(svc_affected(ix, own), replace ? key : "");
      if (i % 10 == 0 || SH_N - i < 10)
        for (g = 0; g < 7; g++) {
          snprintf(grp, sizeof(grp), "g-%d", g);
          assert_string_equal(svc_affected(ix, grp), sh_want(alive, g));
        }
      if (i == SH_N - 2) {
        /* One key left on "all": two join it and leave again. */
        sb_dep d = svc_dep("all");
        const char *x1 = "TrafficTarget/shop/x1", *x2 = "TrafficTarget/shop/x2";
        char want[128];
        snprintf(want, sizeof(want), "%s,%s,%s", sh_want(alive, -1), x1, x2);
        assert_int_equal(sb_index_set(ix, x1, &d, 1, NULL, 0), 0);
        assert_int_equal(sb_index_set(ix, x2, &d, 1, NULL, 0), 0);
        assert_string_equal(svc_affected(ix, "all"), want);
        sb_index_remove(ix, order % 2 ? x1 : x2);
        sb_index_remove(ix, order % 2 ? x2 : x1);
        assert_string_equal(svc_affected(ix, "all"), sh_want(alive, -1));
      }
    }
    assert_string_equal(svc_affected(ix, "all"), "");
    sb_index_free(ix);
  }
}

/* ---- against a model ---------------------------------------------------- */

#define M_KEYS 400
#define M_SELS 48

/* What the index should hold: key i ("TrafficSplit/shop/k<i>") is known
 * while on[i], reads "m-<j>" while dep[i][j] and "own-<i>" while own[i]. */
typedef struct model {
  unsigned char on[M_KEYS];
  unsigned char own[M_KEYS];
  unsigned char dep[M_KEYS][M_SELS];
  size_t n;
} model;

static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(uint32_t n) {
  rnd_state ^= rnd_state << 13;  /* xorshift32 */
  rnd_state ^= rnd_state >> 17;
  rnd_state ^= rnd_state << 5;
  return rnd_state % n;
}

static void m_key(int i, char *key, size_t n) {
  snprintf(key, n, "TrafficSplit/shop/k%03d", i);
}

/* Sets key i to a random set of dependencies, repeats included, the low
 * selectors much more likely (some lists get long, most stay short). */
static void m_set(sb_index *ix, model *m, int i) {
  char key[40], names[8][24];
  sb_dep d[8];
  int n = (int) rnd(7), j, k;

  m_key(i, key, sizeof(key));
  memset(m->dep[i], 0, sizeof(m->dep[i]));
  m->own[i] = (unsigned char) rnd(2);
  for (k = 0; k < n; k++) {
    uint32_t a = rnd(M_SELS), b = rnd(M_SELS);
    j = (int) (a < b ? a : b);
    snprintf(names[k], sizeof(names[k]), "m-%d", j);
    d[k] = svc_dep(names[k]);
    m->dep[i][j] = 1;
  }
  if (m->own[i]) {
    snprintf(names[k], sizeof(names[k]), "own-%d", i);
    d[k] = svc_dep(names[k]);
    k++;
  }
  assert_int_equal(sb_index_set(ix, key, d, (size_t) k, NULL, 0), 0);
  m->n += !m->on[i];
  m->on[i] = 1;
}

static void m_remove(sb_index *ix, model *m, int i) {
  char key[40];

  m_key(i, key, sizeof(key));
  sb_index_remove(ix, key);
  m->n -= m->on[i];
  m->on[i] = 0;
}

/* Every selector reaches exactly the keys the model says. */
static void m_check(const sb_index *ix, const model *m) {
  sb_buf want;
  char key[40], name[24];
  int i, j, n;

  assert_int_equal(sb_index_keys(ix), m->n);
  sb_buf_init(&want, SB_BUF_UNLIMITED);
  for (j = 0; j < M_SELS; j++) {
    sb_buf_free(&want);
    sb_buf_init(&want, SB_BUF_UNLIMITED);
    for (i = 0, n = 0; i < M_KEYS; i++) {
      if (!m->on[i] || !m->dep[i][j])
        continue;
      m_key(i, key, sizeof(key));
      if (n++)
        assert_int_equal(sb_buf_addc(&want, ','), 0);
      assert_int_equal(sb_buf_adds(&want, key), 0);
    }
    snprintf(name, sizeof(name), "m-%d", j);
    assert_string_equal(svc_affected(ix, name), sb_buf_cstr(&want));
  }
  sb_buf_free(&want);
  for (i = 0; i < M_KEYS; i++) {
    m_key(i, key, sizeof(key));
    snprintf(name, sizeof(name), "own-%d", i);
    assert_string_equal(svc_affected(ix, name),
                        m->on[i] && m->own[i] ? key : "");
  }
}

/* Random sets and removes against the model, in phases that fill the
 * index (both tables growing through several sizes), empty most of it
 * (long runs of deletions) and churn: sb_index_keys after every step,
 * every selector every 250 steps. */
static void random_against_model(void **state) {
  static model m;
  sb_index *ix = sb_index_new();
  int phase, step;

  (void) state;
  assert_non_null(ix);
  for (phase = 0; phase < 5; phase++)
    for (step = 0; step < 3000; step++) {
      int i = (int) rnd(M_KEYS);
      /* In tenths: sets 9 (filling), 1 (emptying), 6 (churn). */
      uint32_t sets = phase % 3 == 0 ? 9 : phase % 3 == 1 ? 1 : 6;
      if (rnd(10) < sets)
        m_set(ix, &m, i);
      else
        m_remove(ix, &m, i);
      assert_int_equal(sb_index_keys(ix), m.n);
      if (step % 250 == 249)
        m_check(ix, &m);
    }
  for (step = 0; step < M_KEYS; step++)
    m_remove(ix, &m, step);
  m_check(ix, &m);
  sb_index_free(ix);
}

/* ---- allocation failures ------------------------------------------------ */

#ifdef SB_TEST_WRAP_ALLOC
/* Every selector of the allocation tests: what each reaches, one line
 * each, without the key skip (NULL: all). */
#define F_KEYS 240

static const char *f_skip;
static sb_buf f_out;

static void count_key(void *arg, const char *key) {
  (void) key;
  ++*(int *) arg;
}

static void f_on_key(void *arg, const char *key) {
  int *n = arg;

  if (f_skip && strcmp(key, f_skip) == 0)
    return;
  if ((*n)++)
    assert_int_equal(sb_buf_addc(&f_out, ','), 0);
  assert_int_equal(sb_buf_adds(&f_out, key), 0);
}

static char *f_dump(const sb_index *ix, const char *skip) {
  char name[24];
  int i, n;

  f_skip = skip;
  sb_buf_init(&f_out, SB_BUF_UNLIMITED);
  assert_int_equal(sb_buf_addf(&f_out, "keys %zu\n", sb_index_keys(ix)), 0);
  for (i = -4; i < F_KEYS; i++) {
    sb_change c;
    if (i < 0)
      snprintf(name, sizeof(name), "m-%d", -i - 1);
    else
      snprintf(name, sizeof(name), "own-%d", i);
    c = model_change(SB_KIND_SERVICE, "shop", name, NULL, NULL);
    n = 0;
    assert_int_equal(sb_buf_addf(&f_out, "%s:", name), 0);
    assert_int_equal(sb_index_affected(ix, &c, f_on_key, &n), 0);
    assert_int_equal(sb_buf_addc(&f_out, '\n'), 0);
  }
  f_skip = NULL;
  return sb_buf_steal(&f_out, NULL);
}

/* Key i's dependencies in version v: its own selector, and in version 0
 * one of three shared ones (lists of some 80 keys), the first two keys
 * also "m-3" (a list of two); version 1 only its own. */
static size_t f_deps(int i, int v, sb_dep *d, char *own, size_t n) {
  size_t k = 0;

  snprintf(own, n, "own-%d", i);
  d[k++] = svc_dep(own);
  if (v == 0) {
    static const char *const shared[] = {"m-0", "m-1", "m-2"};
    d[k++] = svc_dep(shared[i % 3]);
    if (i < 2)
      d[k++] = svc_dep("m-3");
  }
  return k;
}

/* Applies one step to ix with the first n allocations allowed, n = 0, 1,
 * ... until it succeeds, and to ref without failures. Every failure is
 * SB_ENOMEM and leaves every other key as it was (the key itself may be
 * partly recorded, the contract's "run it again"); retrying from there
 * ends where ref is. v < 0 removes the key. */
static void f_step(sb_index *ix, sb_index *ref, int i, int v) {
  char key[40], own[24], *before, *after;
  sb_dep d[3];
  size_t nd = 0;
  long n;
  int rc;

  snprintf(key, sizeof(key), "TrafficSplit/shop/f%03d", i);
  if (v >= 0)
    nd = f_deps(i, v, d, own, sizeof(own));
  before = f_dump(ix, key);
  for (n = 0;; n++) {
    if (v < 0) {
      fail_after = n;  /* a remove cannot fail: try it with nothing */
      sb_index_remove(ix, key);
      fail_after = -1;
      break;
    }
    fail_after = n;
    rc = sb_index_set(ix, key, d, nd, NULL, 0);
    fail_after = -1;
    if (rc == 0)
      break;
    assert_int_equal(rc, SB_ENOMEM);
    after = f_dump(ix, key);
    assert_string_equal(after + strcspn(after, "\n"),
                        before + strcspn(before, "\n"));
    free(after);
  }
  free(before);
  if (v < 0)
    sb_index_remove(ref, key);
  else
    assert_int_equal(sb_index_set(ref, key, d, nd, NULL, 0), 0);
  before = f_dump(ref, NULL);
  after = f_dump(ix, NULL);
  assert_string_equal(after, before);
  free(before);
  free(after);
}
#endif

/* SB_ENOMEM at any allocation of a set leaves the other keys alone, and
 * setting again gets the key right: across growth of both tables and of
 * the lists, lists going back inline, removes (whose only allocation is
 * for ids to reuse, which they do without), ids reused. A lookup without
 * memory says so and reports nothing. */
static void allocation_failures(void **state) {
#ifndef SB_TEST_WRAP_ALLOC
  (void) state;
  skip();
#else
  sb_index *ix, *ref = sb_index_new();
  sb_change c = model_change(SB_KIND_SERVICE, "shop", "m-0", NULL, NULL);
  int i, calls = 0;

  (void) state;
  fail_after = 0;
  assert_null(sb_index_new());
  fail_after = -1;
  ix = sb_index_new();
  assert_non_null(ix);
  assert_non_null(ref);
  for (i = 0; i < 200; i++)   /* 2 to 3 keys a selector: tables grow */
    f_step(ix, ref, i, 0);
  for (i = 0; i < 60; i++)    /* off the shared lists; "m-3" empties */
    f_step(ix, ref, i * 3 + 1, 1);
  for (i = 0; i < 40; i++)    /* removed, ids free */
    f_step(ix, ref, i * 5, -1);
  for (i = 200; i < F_KEYS; i++)  /* new keys on the freed ids */
    f_step(ix, ref, i, 0);
  for (i = 0; i < 40; i++)    /* back */
    f_step(ix, ref, i * 5, 0);

  fail_after = 0;  /* the ids gathered */
  assert_int_equal(sb_index_affected(ix, &c, count_key, &calls), SB_ENOMEM);
  fail_after = 1;  /* the keys to sort */
  assert_int_equal(sb_index_affected(ix, &c, count_key, &calls), SB_ENOMEM);
  fail_after = -1;
  assert_int_equal(calls, 0);
  assert_int_equal(sb_index_affected(ix, &c, count_key, &calls), 0);
  assert_int_equal(calls, 80);
  sb_index_free(ix);
  sb_index_free(ref);
#endif
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
    cmocka_unit_test(clustered_keys),
    cmocka_unit_test(clustered_selectors),
    cmocka_unit_test(same_hash_keys),
    cmocka_unit_test(shared_selector_orders),
    cmocka_unit_test(random_against_model),
    cmocka_unit_test(allocation_failures),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);

  sb_buf_free(&h.b);
  return rc;
}
