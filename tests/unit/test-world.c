/* test-world.c -- sb_world: replace semantics, ordering, indexes, take,
 * counts, bytes; then the compact layout's own risks: long random runs
 * against a plain reference, group keys that share a hash, slot reuse and
 * shrinking, and allocation failures at every point of an insertion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/model/world-int.h"
#include "sb/buf.h"
#include "sb/err.h"
#include "sb/world.h"

#include "test-translate-util.h"

#include "wrap-alloc.h"

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

/* ---- the compact layout ------------------------------------------------- */

/* Collects the visited objects' pointers. */
typedef struct ptrs {
  const sb_obj **v;
  size_t n, cap;
} ptrs;

static int collect_ptr(void *arg, const sb_obj *obj) {
  ptrs *p = arg;

  if (p->n == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 64;
    p->v = realloc(p->v, p->cap * sizeof(*p->v));
    assert_non_null(p->v);
  }
  p->v[p->n++] = obj;
  return 0;
}

/* What the reference knows of a key: whether it is in the world, its
 * object, its index key, and the two orders: kseq when it was inserted
 * (the kind and namespace order), iseq when it joined its index group. */
typedef struct ref {
  sb_kind kind;
  char ns[16], name[16];
  char xns[16], xv[16];
  sb_obj *obj;
  unsigned long kseq, iseq;
  int live;
} ref;

#define R_NS 6
#define R_NAMES 100
#define R_VALUES 4
static const sb_kind r_kinds[] = {SB_KIND_POD, SB_KIND_TRAFFIC_SPLIT,
                                  SB_KIND_TRAFFIC_TARGET, SB_KIND_SERVICE};
#define R_KINDS (sizeof(r_kinds) / sizeof(r_kinds[0]))
#define R_KEYS (R_KINDS * R_NS * R_NAMES)

typedef struct refworld {
  ref r[R_KEYS];
  unsigned long seq;
  uint64_t rng;
} refworld;

static uint32_t rnd(refworld *rw, uint32_t n) {
  rw->rng ^= rw->rng << 13;
  rw->rng ^= rw->rng >> 7;
  rw->rng ^= rw->rng << 17;
  return (uint32_t) (rw->rng % n);
}

static void ref_init(refworld *rw) {
  size_t k, n, m, i = 0;

  memset(rw, 0, sizeof(*rw));
  rw->rng = 0x9e3779b97f4a7c15ULL;
  for (k = 0; k < R_KINDS; k++)
    for (n = 0; n < R_NS; n++)
      for (m = 0; m < R_NAMES; m++, i++) {
        rw->r[i].kind = r_kinds[k];
        snprintf(rw->r[i].ns, sizeof(rw->r[i].ns), "n%zu", n);
        snprintf(rw->r[i].name, sizeof(rw->r[i].name), "o%zu", m);
      }
}

/* A new object for r's key with a random index key (noted in r). */
static sb_obj *ref_make(refworld *rw, ref *r) {
  snprintf(r->xv, sizeof(r->xv), "v%u", rnd(rw, R_VALUES));
  snprintf(r->xns, sizeof(r->xns), "%s", r->ns);
  switch (r->kind) {
  case SB_KIND_POD:
    return &tu_pod(r->ns, r->name, r->xv, NULL, "", "")->obj;
  case SB_KIND_TRAFFIC_SPLIT:
    return &tu_split_obj(r->ns, r->name, r->xv, "v1=1000", "")->obj;
  case SB_KIND_TRAFFIC_TARGET: {
    sb_traffic_target *tt = tu_target(r->ns, r->name, r->xv, "n0/c", "");
    /* Half of them point at another namespace's ServiceAccount. */
    if (rnd(rw, 2)) {
      snprintf(r->xns, sizeof(r->xns), "n%u", rnd(rw, R_NS));
      tt->dest.ns = tu_str(&tt->obj, r->xns);
    }
    return &tt->obj;
  }
  default:
    r->xns[0] = r->xv[0] = '\0';
    return &tu_svc(r->ns, r->name, "80")->obj;
  }
}

/* One random step: insert an absent key, else replace or take it. */
static void ref_step(sb_world *w, refworld *rw) {
  ref *r = &rw->r[rnd(rw, R_KEYS)];
  char xns[16], xv[16];
  sb_obj *old = NULL;

  if (!r->live) {
    r->obj = ref_make(rw, r);
    assert_int_equal(sb_world_put(w, r->obj, &old), 0);
    assert_null(old);
    r->live = 1;
    r->kseq = r->iseq = ++rw->seq;
  } else if (rnd(rw, 5) < 2) {
    memcpy(xns, r->xns, sizeof(xns));
    memcpy(xv, r->xv, sizeof(xv));
    r->obj = ref_make(rw, r);
    assert_int_equal(sb_world_put(w, r->obj, &old), 0);
    assert_non_null(old);
    sb_obj_free(old);
    if (strcmp(xns, r->xns) != 0 || strcmp(xv, r->xv) != 0)
      r->iseq = ++rw->seq;
  } else {
    old = sb_world_take(w, r->kind, r->ns, r->name);
    assert_ptr_equal(old, r->obj);
    sb_obj_free(old);
    r->live = 0;
    r->obj = NULL;
  }
}

static void ref_take(sb_world *w, ref *r) {
  sb_obj *o = sb_world_take(w, r->kind, r->ns, r->name);

  assert_ptr_equal(o, r->obj);
  sb_obj_free(o);
  r->live = 0;
  r->obj = NULL;
}

static int by_kseq(const void *a, const void *b) {
  const ref *x = *(const ref *const *) a, *y = *(const ref *const *) b;
  return x->kseq < y->kseq ? -1 : x->kseq > y->kseq;
}

static int by_iseq(const void *a, const void *b) {
  const ref *x = *(const ref *const *) a, *y = *(const ref *const *) b;
  return x->iseq < y->iseq ? -1 : x->iseq > y->iseq;
}

/* Runs an iteration and compares what it visited with the live refs in
 * sorted (n of them) that pass the filter, in that order. */
static void expect_visits(int rc, ptrs *got, ref **sorted, size_t n,
                          const char *ns, const char *xns, const char *xv) {
  size_t i, j = 0;

  assert_int_equal(rc, 0);
  for (i = 0; i < n; i++) {
    const ref *r = sorted[i];
    if ((ns && strcmp(r->ns, ns) != 0) || (xns && strcmp(r->xns, xns) != 0) ||
        (xv && strcmp(r->xv, xv) != 0))
      continue;
    assert_true(j < got->n);
    assert_ptr_equal(got->v[j], r->obj);
    j++;
  }
  assert_int_equal(j, got->n);
  got->n = 0;
}

static int (*const index_fn[])(const sb_world *, const char *, const char *,
                               sb_world_fn, void *) = {
  sb_world_pods_by_sa, sb_world_splits_by_root, sb_world_targets_by_dest,
};

/* Everything the world answers, against the reference. */
static void ref_check(const sb_world *w, refworld *rw) {
  ref *sorted[R_NS * R_NAMES];
  ptrs got = {0};
  size_t k, i, n, bytes = 0;
  char ns[16], v[16];
  int x, y;

  for (k = 0; k < R_KINDS; k++) {
    sb_kind kind = r_kinds[k];

    n = 0;
    for (i = 0; i < R_KEYS; i++) {
      ref *r = &rw->r[i];
      if (r->kind != kind)
        continue;
      assert_ptr_equal(sb_world_get(w, kind, r->ns, r->name),
                       r->live ? r->obj : NULL);
      if (r->live) {
        sorted[n++] = r;
        bytes += sb_obj_size(r->obj);
      }
    }
    assert_int_equal(sb_world_count(w, kind), n);
    qsort(sorted, n, sizeof(*sorted), by_kseq);
    expect_visits(sb_world_each(w, kind, NULL, collect_ptr, &got), &got,
                  sorted, n, NULL, NULL, NULL);
    for (x = 0; x <= R_NS; x++) {  /* n6 is never used */
      snprintf(ns, sizeof(ns), "n%d", x);
      expect_visits(sb_world_each(w, kind, ns, collect_ptr, &got), &got,
                    sorted, n, ns, NULL, NULL);
    }
    if (k >= 3)
      continue;
    qsort(sorted, n, sizeof(*sorted), by_iseq);
    for (x = 0; x <= R_NS; x++) {
      snprintf(ns, sizeof(ns), "n%d", x);
      for (y = 0; y <= R_VALUES; y++) {
        snprintf(v, sizeof(v), "v%d", y);
        expect_visits(index_fn[k](w, ns, v, collect_ptr, &got), &got, sorted,
                      n, NULL, ns, v);
      }
    }
  }
  assert_int_equal(sb_world_bytes(w), bytes);
  free(got.v);
}

/* Long random runs of insertions, replacements (some moving to another
 * index group) and takes over four kinds and six namespaces, checked
 * against the reference as the arrays grow, compact and shrink; then a
 * namespace removed from every kind at once, then a whole kind. */
static void random_against_reference(void **state) {
  refworld *rw = malloc(sizeof(*rw));
  sb_world *w = sb_world_new();
  size_t i;
  int step;

  (void) state;
  assert_non_null(rw);
  assert_non_null(w);
  ref_init(rw);
  for (step = 1; step <= 12000; step++) {
    ref_step(w, rw);
    if (step % 400 == 0)
      ref_check(w, rw);
  }
  for (i = 0; i < R_KEYS; i++)
    if (rw->r[i].live && strcmp(rw->r[i].ns, "n2") == 0)
      ref_take(w, &rw->r[i]);
  ref_check(w, rw);
  for (i = 0; i < R_KEYS; i++)
    if (rw->r[i].live && rw->r[i].kind == SB_KIND_POD)
      ref_take(w, &rw->r[i]);
  ref_check(w, rw);
  for (step = 1; step <= 4000; step++) {
    ref_step(w, rw);
    if (step % 400 == 0)
      ref_check(w, rw);
  }
  free(rw);
  sb_world_free(w);  /* frees the objects still in it */
}

/* Finds two values a, b (prefix + number) whose group keys share a hash:
 * (ns, value) for an index group, or the namespace alone when ns is NULL.
 * The search stops at the first pair: a birthday search over 32 bits
 * needs some 80,000 tries on average. */
static void find_shared_hash(const char *ns, const char *prefix, char *a,
                             char *b, size_t len) {
  const uint32_t cap = 1u << 19, mask = cap - 1;
  uint64_t *seen = calloc(cap, sizeof(*seen));
  uint32_t i;

  assert_non_null(seen);
  for (i = 1; i < cap / 2; i++) {
    uint32_t h, j;
    snprintf(a, len, "%s%u", prefix, i);
    h = ns ? sb__world_group_hash(ns, a) : sb__world_group_hash(a, NULL);
    for (j = h & mask; seen[j]; j = (j + 1) & mask) {
      if ((uint32_t) (seen[j] >> 32) == h) {
        snprintf(b, len, "%s%u", prefix, (uint32_t) seen[j]);
        free(seen);
        return;
      }
    }
    seen[j] = (uint64_t) h << 32 | i;
  }
  free(seen);
  fail_msg("no two %s values share a group hash", prefix);
}

/* Keys whose groups share a hash share a group: every lookup must still
 * answer for its own key alone, in its own order. */
static void shared_group_hashes(void **state) {
  sb_world *w = sb_world_new();
  char s1[32], s2[32], n1[32], n2[32], want[256];
  sb_obj *old;

  (void) state;
  find_shared_hash("a", "sa-", s1, s2, sizeof(s1));
  find_shared_hash(NULL, "ns-", n1, n2, sizeof(n1));
  assert_string_not_equal(s1, s2);
  assert_int_equal(sb__world_group_hash("a", s1),
                   sb__world_group_hash("a", s2));
  assert_int_equal(sb__world_group_hash(n1, NULL),
                   sb__world_group_hash(n2, NULL));

  /* Pods of both service accounts, interleaved. */
  put(w, tu_pod("a", "p1", s1, NULL, "", ""));
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", s2), "");
  put(w, tu_pod("a", "p2", s2, NULL, "", ""));
  put(w, tu_pod("a", "p3", s1, NULL, "", ""));
  put(w, tu_pod("a", "p4", s2, NULL, "", ""));
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", s1), "a/p1 a/p3");
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", s2), "a/p2 a/p4");
  /* Moving to the other key of the same group goes to the end. */
  assert_int_equal(sb_world_put(w, &tu_pod("a", "p1", s2, NULL, "",
                                           "")->obj, &old), 0);
  sb_obj_free(old);
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", s1), "a/p3");
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", s2), "a/p2 a/p4 a/p1");
  /* The stop value still comes back. */
  {
    int n = 0;
    assert_int_equal(sb_world_pods_by_sa(w, "a", s2, stop_at_second, &n),
                     42);
  }
  sb_obj_free(sb_world_take(w, SB_KIND_POD, "a", "p3"));
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", s1), "");
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", s2), "a/p2 a/p4 a/p1");
  sb_obj_free(sb_world_take(w, SB_KIND_POD, "a", "p2"));
  sb_obj_free(sb_world_take(w, SB_KIND_POD, "a", "p4"));
  sb_obj_free(sb_world_take(w, SB_KIND_POD, "a", "p1"));
  EXPECT_ITER(IT(sb_world_pods_by_sa, w, "a", s2), "");
  assert_int_equal(sb_world_count(w, SB_KIND_POD), 0);

  /* Namespaces that share a hash. */
  put(w, tu_svc(n1, "x", "80"));
  put(w, tu_svc(n2, "x", "80"));
  put(w, tu_svc(n1, "y", "80"));
  put(w, tu_svc(n2, "y", "80"));
  snprintf(want, sizeof(want), "%s/x %s/y", n1, n1);
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, n1), want);
  snprintf(want, sizeof(want), "%s/x %s/y", n2, n2);
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, n2), want);
  sb_obj_free(sb_world_take(w, SB_KIND_SERVICE, n1, "x"));
  sb_obj_free(sb_world_take(w, SB_KIND_SERVICE, n1, "y"));
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, n1), "");
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, n2), want);
  snprintf(want, sizeof(want), "%s/x %s/y", n2, n2);
  EXPECT_ITER(IT(sb_world_each, w, SB_KIND_SERVICE, NULL), want);
  sb_world_free(w);
}

static void put_pod(sb_world *w, const char *ns, int i) {
  char name[16];

  snprintf(name, sizeof(name), "p%d", i);
  put(w, tu_pod(ns, name, i % 3 ? "web" : "db", NULL, "", ""));
}

static void take_pod(sb_world *w, const char *ns, int i) {
  char name[16];
  sb_obj *o;

  snprintf(name, sizeof(name), "p%d", i);
  o = sb_world_take(w, SB_KIND_POD, ns, name);
  assert_non_null(o);
  sb_obj_free(o);
}

/* Visits pods in ns and checks they are p<first>, p<first+1>, ... and,
 * through the index, the same run filtered to one service account. */
static void expect_run(const sb_world *w, const char *ns, int first,
                       int n) {
  ptrs got = {0};
  char name[16];
  size_t i, j;

  assert_int_equal(sb_world_each(w, SB_KIND_POD, ns, collect_ptr, &got), 0);
  assert_int_equal(got.n, n);
  for (i = 0; i < got.n; i++) {
    snprintf(name, sizeof(name), "p%d", first + (int) i);
    assert_string_equal(got.v[i]->name, name);
  }
  got.n = 0;
  assert_int_equal(sb_world_pods_by_sa(w, ns, "db", collect_ptr, &got), 0);
  for (i = 0, j = 0; i < (size_t) n; i++) {
    if ((first + i) % 3)
      continue;
    snprintf(name, sizeof(name), "p%d", first + (int) i);
    assert_true(j < got.n);
    assert_string_equal(got.v[j++]->name, name);
  }
  assert_int_equal(j, got.n);
  free(got.v);
}

/* Slots of taken entries are used again: a steady churn (the oldest pod
 * goes, a new one comes) stops growing the world once it has room, and
 * keeps every order; a namespace removed gives the memory back; an empty
 * world costs what a new one does. */
static void churn_reuses_slots(void **state) {
  sb_world *w = sb_world_new();
  size_t base = sb_world_overhead(w), full, mid = 0;
  int i;

  (void) state;
  for (i = 0; i < 3000; i++)
    put_pod(w, "big", i);
  for (i = 0; i < 10; i++)
    put_pod(w, "small", i);
  full = sb_world_overhead(w);
  assert_true(full > base);
  for (i = 0; i < 30000; i++) {
    take_pod(w, "big", i);
    put_pod(w, "big", 3000 + i);
    if (i == 10000)
      mid = sb_world_overhead(w);
    if (i % 7919 == 0)
      expect_run(w, "big", i + 1, 3000);
  }
  /* At most one growth on the way, none once the churn is steady. */
  assert_true(mid <= full + full / 2);
  assert_int_equal(sb_world_overhead(w), mid);
  expect_run(w, "big", 30000, 3000);
  expect_run(w, "small", 0, 10);
  assert_int_equal(sb_world_count(w, SB_KIND_POD), 3010);

  /* The big namespace goes: most of the memory with it. */
  for (i = 30000; i < 33000; i++)
    take_pod(w, "big", i);
  assert_true(sb_world_overhead(w) < full / 8);
  expect_run(w, "big", 0, 0);
  expect_run(w, "small", 0, 10);
  /* Insertion order across namespaces survives the compaction. */
  put_pod(w, "big", 0);
  put_pod(w, "small", 10);
  expect_run(w, "small", 0, 11);
  {
    ptrs got = {0};
    assert_int_equal(sb_world_each(w, SB_KIND_POD, NULL, collect_ptr, &got),
                     0);
    assert_int_equal(got.n, 12);
    assert_string_equal(got.v[9]->name, "p9");
    assert_string_equal(got.v[10]->ns, "big");
    assert_string_equal(got.v[11]->name, "p10");
    free(got.v);
  }
  take_pod(w, "big", 0);
  for (i = 0; i <= 10; i++)
    take_pod(w, "small", i);
  assert_int_equal(sb_world_overhead(w), base);
  sb_world_free(w);
}

#ifdef SB_TEST_WRAP_ALLOC
/* Everything a caller can see of the world, as text. */
static char *dump(const sb_world *w) {
  static const char *const nss[] = {"a", "b", "c", "d"};
  static const char *const vals[] = {"web", "db", "new", "default"};
  sb_buf b;
  size_t k, i, j;

  sb_buf_init(&b, SB_BUF_UNLIMITED);
  sb_buf_addf(&b, "bytes %zu\n", sb_world_bytes(w));
  for (k = 0; k < R_KINDS; k++) {
    sb_buf_addf(&b, "kind %d: %zu:", (int) r_kinds[k],
                sb_world_count(w, r_kinds[k]));
    sb_world_each(w, r_kinds[k], NULL, collect, &b);
    for (i = 0; i < 4; i++) {
      sb_buf_addf(&b, "\n ns %s:", nss[i]);
      sb_world_each(w, r_kinds[k], nss[i], collect, &b);
      for (j = 0; k < 3 && j < 4; j++) {
        sb_buf_addf(&b, "\n  %s:", vals[j]);
        index_fn[k](w, nss[i], vals[j], collect, &b);
      }
    }
    sb_buf_addc(&b, '\n');
  }
  return sb_buf_steal(&b, NULL);
}

/* Tries put with the first n allocations allowed, n = 0, 1, ... until it
 * succeeds; every failure must be SB_ENOMEM and leave the world as it
 * was, with the object still the caller's. make builds the object. */
static void put_under_failures(sb_world *w, sb_obj *(*make)(int), int i) {
  char *before = dump(w), *after;
  long n;
  int rc;

  for (n = 0;; n++) {
    sb_obj *obj = make(i), *old = (sb_obj *) 1;
    fail_after = n;
    rc = sb_world_put(w, obj, &old);
    fail_after = -1;
    if (rc == 0) {
      sb_obj_free(old);
      break;
    }
    assert_int_equal(rc, SB_ENOMEM);
    assert_null(old);
    after = dump(w);
    assert_string_equal(after, before);
    free(after);
    sb_obj_free(obj);
  }
  free(before);
}

static sb_obj *new_pod(int i) {
  char name[16];

  snprintf(name, sizeof(name), "p%d", i);
  return &tu_pod(i % 2 ? "a" : "b", name, i % 3 ? "web" : "db", NULL, "",
                 "")->obj;
}

static sb_obj *pod_in_c(int i) {
  (void) i;
  return &tu_pod("c", "pc", "new", NULL, "", "")->obj;
}

static sb_obj *pod_moved(int i) {
  char name[16];

  snprintf(name, sizeof(name), "p%d", i);
  return &tu_pod(i % 2 ? "a" : "b", name, "new", NULL, "", "")->obj;
}

static sb_obj *split_new_root(int i) {
  char name[16];

  snprintf(name, sizeof(name), "s%d", i);
  return &tu_split_obj("a", name, i % 2 ? "web" : "new", "v1=1000",
                       "")->obj;
}

static sb_obj *target_to_d(int i) {
  sb_traffic_target *tt = tu_target("a", "t", i ? "new" : "web", "a/c", "");

  tt->dest.ns = tu_str(&tt->obj, "d");
  return &tt->obj;
}

static sb_obj *svc_in_d(int i) {
  char name[16];

  snprintf(name, sizeof(name), "svc%d", i);
  return &tu_svc("d", name, "80")->obj;
}
#endif

/* SB_ENOMEM at any allocation of an insertion or a replacement leaves the
 * world unchanged, across array, bucket and group growth; takes, which
 * cannot fail, still work when nothing can be allocated. */
static void enomem_leaves_world_unchanged(void **state) {
#ifndef SB_TEST_WRAP_ALLOC
  (void) state;
  skip();
#else
  sb_world *w = sb_world_new();
  char *want, *got;
  int i;

  (void) state;
  /* New pods, through several growths of every table. */
  for (i = 0; i < 120; i++)
    put_under_failures(w, new_pod, i);
  /* A new namespace and a new index group at once. */
  put_under_failures(w, pod_in_c, 0);
  /* Replacements that move to a new index group, or stay. */
  put_under_failures(w, pod_moved, 7);
  put_under_failures(w, pod_moved, 8);
  put_under_failures(w, new_pod, 9);
  for (i = 0; i < 40; i++)
    put_under_failures(w, split_new_root, i);
  for (i = 0; i < 40; i++)
    put_under_failures(w, split_new_root, i);  /* same roots: no move */
  put_under_failures(w, target_to_d, 0);
  put_under_failures(w, target_to_d, 1);
  for (i = 0; i < 40; i++)
    put_under_failures(w, svc_in_d, i);

  /* Take almost everything with every allocation failing: compaction and
   * shrinking must do without. The result is what a world with the same
   * insertions and no takes would show. */
  fail_after = 0;
  for (i = 0; i < 110; i++) {
    char name[16];
    snprintf(name, sizeof(name), "p%d", i);
    sb_obj_free(sb_world_take(w, SB_KIND_POD, i % 2 ? "a" : "b", name));
  }
  for (i = 0; i < 38; i++) {
    char name[16];
    snprintf(name, sizeof(name), "svc%d", i);
    sb_obj_free(sb_world_take(w, SB_KIND_SERVICE, "d", name));
  }
  fail_after = -1;
  got = dump(w);
  sb_world_free(w);

  w = sb_world_new();
  for (i = 110; i < 120; i++)
    put(w, new_pod(i));
  put(w, pod_in_c(0));
  for (i = 0; i < 40; i++)
    put(w, split_new_root(i));
  put(w, target_to_d(1));
  for (i = 38; i < 40; i++)
    put(w, svc_in_d(i));
  want = dump(w);
  assert_string_equal(got, want);
  free(got);
  free(want);
  sb_world_free(w);
#endif
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
    cmocka_unit_test(random_against_reference),
    cmocka_unit_test(shared_group_hashes),
    cmocka_unit_test(churn_reuses_slots),
    cmocka_unit_test(enomem_leaves_world_unchanged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
