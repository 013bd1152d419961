/* test-world.c -- sb_world: replace semantics, ordering, indexes, take,
 * counts, bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sb/buf.h"
#include "sb/err.h"
#include "sb/world.h"

#include "test-translate-util.h"

/* Collects "ns/name" of every visited object, space separated. */
static int collect(void *arg, const sb_obj *obj) {
  sb_buf *b = arg;
  if (b->len)
    sb_buf_addc(b, ' ');
  sb_buf_addf(b, "%s/%s", obj->ns, obj->name);
  return 0;
}

static int stop_at_second(void *arg, const sb_obj *obj) {
  int *n = arg;
  (void) obj;
  return ++*n == 2 ? 42 : 0;
}

#define EXPECT_ITER(call, want)                                              \
  do {                                                                       \
    sb_buf b_;                                                               \
    sb_buf_init(&b_, SB_BUF_UNLIMITED);                                      \
    assert_int_equal((call), 0);                                             \
    assert_string_equal(sb_buf_cstr(&b_), (want));                           \
    sb_buf_free(&b_);                                                        \
  } while (0)
#define IT(fn, ...) fn(__VA_ARGS__, collect, &b_)

static void put(sb_world *w, void *obj) {
  sb_obj *old = (sb_obj *) 1;
  assert_int_equal(sb_world_put(w, obj, &old), 0);
  assert_null(old);
}

static void empty_world(void **state) {
  sb_world *w = sb_world_new();

  (void) state;
  assert_non_null(w);
  assert_null(sb_world_get(w, SB_KIND_POD, "a", "x"));
  assert_null(sb_world_take(w, SB_KIND_POD, "a", "x"));
  assert_int_equal(sb_world_count(w, SB_KIND_POD), 0);
  assert_int_equal(sb_world_bytes(w), 0);
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_POD, NULL), "");
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", "default"), "");
  sb_world_free(w);
  sb_world_free(NULL);
}

static void order_and_replace(void **state) {
  sb_world *w = sb_world_new();
  sb_obj *old = NULL;
  sb_service *s2;
  const sb_obj *got;

  (void) state;
  put(w, tu_svc("b", "one", "80"));
  put(w, tu_svc("a", "two", "80"));
  put(w, tu_svc("b", "three", "80"));
  put(w, tu_pod("a", "p", "sa", NULL, "app=x", ""));
  assert_int_equal(sb_world_count(w, SB_KIND_SERVICE), 3);
  assert_int_equal(sb_world_count(w, SB_KIND_POD), 1);
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, NULL),
              "b/one a/two b/three");
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, "b"), "b/one b/three");
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, "c"), "");

  /* Replace the first: same position, old object handed back. */
  s2 = tu_svc("b", "one", "8080");
  assert_int_equal(sb_world_put(w, &s2->obj, &old), 0);
  assert_non_null(old);
  assert_int_equal(((sb_service *) old)->ports[0].port, 80);
  sb_obj_free(old);
  got = sb_world_get(w, SB_KIND_SERVICE, "b", "one");
  assert_ptr_equal(got, &s2->obj);
  assert_int_equal(sb_world_count(w, SB_KIND_SERVICE), 3);
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, NULL),
              "b/one a/two b/three");
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, "b"), "b/one b/three");

  /* Replace without taking the old one back: the world frees it (ASan
   * would report a leak otherwise). */
  assert_int_equal(sb_world_put(w, &tu_svc("a", "two", "1")->obj, NULL), 0);
  assert_int_equal(sb_world_count(w, SB_KIND_SERVICE), 3);

  /* Kinds are separate: a pod named like a service does not replace it. */
  put(w, tu_pod("b", "one", "sa", NULL, "", ""));
  assert_int_equal(sb_world_count(w, SB_KIND_SERVICE), 3);
  assert_int_equal(sb_world_count(w, SB_KIND_POD), 2);

  /* The iteration stop value comes back. */
  {
    int n = 0;
    assert_int_equal(sb_world_each(w, SB_KIND_SERVICE, NULL,
                                   stop_at_second, &n), 42);
    assert_int_equal(n, 2);
  }
  sb_world_free(w);
}

static void take_and_reinsert(void **state) {
  sb_world *w = sb_world_new();
  sb_obj *o;

  (void) state;
  put(w, tu_svc("a", "x", "80"));
  put(w, tu_svc("a", "y", "80"));
  put(w, tu_svc("a", "z", "80"));
  o = sb_world_take(w, SB_KIND_SERVICE, "a", "y");
  assert_non_null(o);
  assert_string_equal(o->name, "y");
  assert_null(sb_world_get(w, SB_KIND_SERVICE, "a", "y"));
  assert_int_equal(sb_world_count(w, SB_KIND_SERVICE), 2);
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, NULL), "a/x a/z");
  /* A taken object inserted again goes to the end. */
  put(w, o);
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, NULL), "a/x a/z a/y");
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, "a"), "a/x a/z a/y");
  /* Take the head and the tail; take the last of a namespace. */
  sb_obj_free(sb_world_take(w, SB_KIND_SERVICE, "a", "x"));
  sb_obj_free(sb_world_take(w, SB_KIND_SERVICE, "a", "y"));
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, "a"), "a/z");
  sb_obj_free(sb_world_take(w, SB_KIND_SERVICE, "a", "z"));
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, NULL), "");
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, "a"), "");
  assert_null(sb_world_take(w, SB_KIND_SERVICE, "a", "z"));
  /* The namespace can be used again after it emptied. */
  put(w, tu_svc("a", "q", "80"));
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, "a"), "a/q");
  /* Invalid arguments. */
  assert_int_equal(sb_world_put(w, NULL, NULL), SB_EINVAL);
  assert_null(sb_world_get(w, SB_KIND_UNKNOWN, "a", "q"));
  assert_null(sb_world_get(w, SB_KIND__COUNT, "a", "q"));
  sb_world_free(w);
}

static void pod_index(void **state) {
  sb_world *w = sb_world_new();
  sb_obj *old;

  (void) state;
  put(w, tu_pod("a", "p1", "web", NULL, "", ""));
  put(w, tu_pod("a", "p2", "db", NULL, "", ""));
  put(w, tu_pod("b", "p3", "web", NULL, "", ""));
  put(w, tu_pod("a", "p4", "web", NULL, "", ""));
  put(w, tu_pod("a", "p5", "", NULL, "", ""));
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", "web"), "a/p1 a/p4");
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "b", "web"), "b/p3");
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", "db"), "a/p2");
  /* An empty serviceAccountName is "default". */
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", "default"), "a/p5");
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", ""), "a/p5");

  /* Replace without changing the SA: keeps its place in the index. */
  assert_int_equal(sb_world_put(w, &tu_pod("a", "p1", "web", "Running",
                                           "", "")->obj, NULL), 0);
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", "web"), "a/p1 a/p4");
  /* Replace with another SA: moves to the end of the new group. */
  assert_int_equal(sb_world_put(w, &tu_pod("a", "p1", "db", NULL, "",
                                           "")->obj, &old), 0);
  sb_obj_free(old);
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", "web"), "a/p4");
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", "db"), "a/p2 a/p1");
  /* ... while keeping its place in the kind order. */
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_POD, NULL),
              "a/p1 a/p2 b/p3 a/p4 a/p5");
  /* Take removes it from the index; a group that empties is gone. */
  sb_obj_free(sb_world_take(w, SB_KIND_POD, "a", "p4"));
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", "web"), "");
  put(w, tu_pod("a", "p6", "web", NULL, "", ""));
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", "web"), "a/p6");
  sb_world_free(w);
}

static void split_and_target_index(void **state) {
  sb_world *w = sb_world_new();
  sb_traffic_target *tt;

  (void) state;
  put(w, tu_split_obj("a", "s1", "web", "v1=1000", ""));
  put(w, tu_split_obj("a", "s2", "web", "v1=1000", ""));
  put(w, tu_split_obj("a", "s3", "api", "v1=1000", ""));
  put(w, tu_split_obj("b", "s4", "web", "v1=1000", ""));
  EXPECT_ITER(IT(sb_world_splits_by_root, w, "a", "web"), "a/s1 a/s2");
  EXPECT_ITER(IT(sb_world_splits_by_root, w, "b", "web"), "b/s4");
  /* The root changes on replace. */
  assert_int_equal(sb_world_put(w, &tu_split_obj("a", "s1", "api",
                                                 "v1=1000", "")->obj, NULL),
                   0);
  EXPECT_ITER(IT(sb_world_splits_by_root, w, "a", "web"), "a/s2");
  EXPECT_ITER(IT(sb_world_splits_by_root, w, "a", "api"), "a/s3 a/s1");

  put(w, tu_target("a", "t1", "web", "a/client", ""));
  /* A target's index key is its destination namespace, not its own. */
  tt = tu_target("c", "t2", "web", "a/client", "");
  tt->dest.ns = tu_str(&tt->obj, "a");
  put(w, tt);
  put(w, tu_target("a", "t3", "db", "a/client", ""));
  EXPECT_ITER(IT(sb_world_targets_by_dest, w, "a", "web"), "a/t1 c/t2");
  EXPECT_ITER(IT(sb_world_targets_by_dest, w, "c", "web"), "");
  EXPECT_ITER(IT(sb_world_targets_by_dest, w, "a", "db"), "a/t3");
  /* Destination changes on replace. */
  assert_int_equal(sb_world_put(w, &tu_target("a", "t1", "db", "a/client",
                                              "")->obj, NULL), 0);
  EXPECT_ITER(IT(sb_world_targets_by_dest, w, "a", "web"), "c/t2");
  EXPECT_ITER(IT(sb_world_targets_by_dest, w, "a", "db"), "a/t3 a/t1");
  sb_obj_free(sb_world_take(w, SB_KIND_TRAFFIC_TARGET, "c", "t2"));
  EXPECT_ITER(IT(sb_world_targets_by_dest, w, "a", "web"), "");
  sb_world_free(w);
}

static void bytes_follow_objects(void **state) {
  sb_world *w = sb_world_new();
  sb_service *a = tu_svc("a", "x", "80"), *b;
  sb_pod *p = tu_pod("a", "p", "sa", NULL, "app=web", "80");
  sb_obj *old;
  size_t sa = sb_obj_size(&a->obj), sp = sb_obj_size(&p->obj), sb2;

  (void) state;
  assert_true(sa > 0);
  put(w, a);
  put(w, p);
  assert_int_equal(sb_world_bytes(w), sa + sp);
  /* Grow the replacement's arena so the sizes differ. */
  b = tu_svc("a", "x", "80");
  assert_non_null(sb_arena_alloc(b->obj.arena, 4096));
  sb2 = sb_obj_size(&b->obj);
  assert_true(sb2 > sa);
  assert_int_equal(sb_world_put(w, &b->obj, &old), 0);
  sb_obj_free(old);
  assert_int_equal(sb_world_bytes(w), sb2 + sp);
  sb_obj_free(sb_world_take(w, SB_KIND_POD, "a", "p"));
  assert_int_equal(sb_world_bytes(w), sb2);
  sb_world_free(w);
}

/* Many objects across namespaces: counts, lookups and the namespace lists
 * stay right while half of them are taken again. */
static void many_objects(void **state) {
  sb_world *w = sb_world_new();
  char ns[16], name[16];
  int i;

  (void) state;
  for (i = 0; i < 2000; i++) {
    snprintf(ns, sizeof(ns), "ns%d", i % 10);
    snprintf(name, sizeof(name), "p%d", i);
    put(w, tu_pod(ns, name, i % 2 ? "odd" : "even", NULL, "", ""));
  }
  assert_int_equal(sb_world_count(w, SB_KIND_POD), 2000);
  for (i = 0; i < 2000; i += 2) {
    snprintf(ns, sizeof(ns), "ns%d", i % 10);
    snprintf(name, sizeof(name), "p%d", i);
    sb_obj_free(sb_world_take(w, SB_KIND_POD, ns, name));
  }
  assert_int_equal(sb_world_count(w, SB_KIND_POD), 1000);
  for (i = 0; i < 2000; i++) {
    snprintf(ns, sizeof(ns), "ns%d", i % 10);
    snprintf(name, sizeof(name), "p%d", i);
    if (i % 2)
      assert_non_null(sb_world_get(w, SB_KIND_POD, ns, name));
    else
      assert_null(sb_world_get(w, SB_KIND_POD, ns, name));
  }
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "ns1", "even"), "");
  {
    sb_buf b_;
    sb_buf_init(&b_, SB_BUF_UNLIMITED);
    assert_int_equal(sb_world_pods_by_sa(w, "ns1", "odd", collect, &b_), 0);
    assert_true(strncmp(sb_buf_cstr(&b_), "ns1/p1 ns1/p11 ns1/p21", 22)
                == 0);
    sb_buf_free(&b_);
  }
  sb_world_free(w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(empty_world),
    cmocka_unit_test(order_and_replace),
    cmocka_unit_test(take_and_reinsert),
    cmocka_unit_test(pod_index),
    cmocka_unit_test(split_and_target_index),
    cmocka_unit_test(bytes_follow_objects),
    cmocka_unit_test(many_objects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
