/* test-identity.c -- ServiceAccount -> pod selector and ports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/translate/internal.h"

#include "test-translate-util.h"

typedef struct fixture {
  sb_world *w;
  sb_translate_opts o;
  sb_key key;
  sb_out out;
  sb__tx t;
  sb__identity id;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));

  assert_non_null(f);
  f->w = sb_world_new();
  sb_translate_opts_default(&f->o);
  f->key.kind = SB_KIND_TRAFFIC_TARGET;
  f->key.ns = "shop";
  f->key.name = "tt";
  sb_out_init(&f->out);
  f->t.w = f->w;
  f->t.o = &f->o;
  f->t.key = &f->key;
  f->t.out = &f->out;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;

  sb__identity_free(&f->id);
  sb_out_free(&f->out);
  sb_world_free(f->w);
  free(f);
  return 0;
}

static void put(fixture *f, void *obj) {
  assert_int_equal(sb_world_put(f->w, obj, NULL), 0);
}

static const char *selector(const sb__identity *id) {
  static char buf[512];
  size_t i, n = 0;

  buf[0] = '\0';
  for (i = 0; i < id->nlabels; i++)
    n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%s=%s",
                           i ? "," : "", id->labels[i].key,
                           id->labels[i].value);
  return buf;
}

static void common_labels(void **state) {
  fixture *f = *state;

  put(f, tu_pod("shop", "web-1", "web", "Running",
                "version=v1,app=web,pod-template-hash=abc,tier=front",
                "8080,9090"));
  put(f, tu_pod("shop", "web-2", "web", NULL,
                "app=web,version=v2,pod-template-hash=abc,tier=front",
                "8080"));
  /* A finished pod with other labels does not count. */
  put(f, tu_pod("shop", "web-job", "web", "Succeeded", "job=x", "1"));
  /* Another namespace does not count either. */
  put(f, tu_pod("other", "web-x", "web", NULL, "foo=bar", "1"));
  assert_int_equal(sb__identity_derive(&f->t, "shop", "web", "spec",
                                       &f->id), SB__ID_OK);
  /* Same value everywhere, volatile keys dropped, sorted by key. */
  assert_string_equal(selector(&f->id), "app=web,tier=front");
  assert_int_equal(f->id.nports, 2);
  assert_int_equal(f->id.ports[0], 8080);
  assert_int_equal(f->id.ports[1], 9090);
  assert_int_equal(f->out.diags.n, 0);
  /* Both pod dependencies are recorded. */
  assert_int_equal(f->out.ndeps, 2);
  assert_int_equal(f->out.deps[0].sel, SB_DEP_PODS_OF_SA);
  assert_string_equal(f->out.deps[0].ns, "shop");
  assert_string_equal(f->out.deps[0].name, "web");
  assert_int_equal(f->out.deps[1].sel, SB_DEP_PODS_IN_NS);
  assert_string_equal(f->out.deps[1].ns, "shop");
}

static void volatile_keys(void **state) {
  fixture *f = *state;

  (void) f;
  assert_true(sb__label_volatile("pod-template-hash"));
  assert_true(sb__label_volatile("controller-revision-hash"));
  assert_true(sb__label_volatile("pod-template-generation"));
  assert_true(sb__label_volatile("statefulset.kubernetes.io/pod-name"));
  assert_true(sb__label_volatile("apps.kubernetes.io/pod-index"));
  assert_false(sb__label_volatile("app"));

  /* A single StatefulSet pod: its per-pod labels are left out even though
   * "every" pod has them. */
  put(f, tu_pod("shop", "db-0", "db", NULL,
                "app=db,statefulset.kubernetes.io/pod-name=db-0,"
                "controller-revision-hash=db-7f,"
                "apps.kubernetes.io/pod-index=0", "5432"));
  assert_int_equal(sb__identity_derive(&f->t, "shop", "db", "spec",
                                       &f->id), SB__ID_OK);
  assert_string_equal(selector(&f->id), "app=db");
}

static void ports_union(void **state) {
  fixture *f = *state;
  sb_pod *p = tu_pod("shop", "a", "web", NULL, "app=web", "53,8080,80");

  p->shape->ports[0].protocol = "UDP";  /* not authorized by the meshes */
  put(f, p);
  put(f, tu_pod("shop", "b", "web", NULL, "app=web", "80,443"));
  assert_int_equal(sb__identity_derive(&f->t, "shop", "web", "spec",
                                       &f->id), SB__ID_OK);
  assert_int_equal(f->id.nports, 3);
  assert_int_equal(f->id.ports[0], 80);
  assert_int_equal(f->id.ports[1], 443);
  assert_int_equal(f->id.ports[2], 8080);
}

static void no_pods(void **state) {
  fixture *f = *state;

  put(f, tu_pod("shop", "old", "web", "Failed", "app=web", ""));
  assert_int_equal(sb__identity_derive(&f->t, "shop", "web",
                                       "spec.destination", &f->id),
                   SB__ID_NO_PODS);
  assert_int_equal(f->out.diags.n, 1);
  assert_int_equal(f->out.diags.v[0].sev, SB_DIAG_ERROR);
  assert_string_equal(f->out.diags.v[0].reason, SB_REASON_MISSING);
  assert_string_equal(f->out.diags.v[0].path, "spec.destination");
  assert_string_equal(f->out.diags.v[0].msg, "needs the Pods of "
                      "ServiceAccount shop/web to derive a pod selector "
                      "(none is running; pass them with --context-file)");
  /* The dependency is there, so the key re-runs when pods appear. */
  assert_int_equal(f->out.deps[0].sel, SB_DEP_PODS_OF_SA);
}

static void no_common_label(void **state) {
  fixture *f = *state;

  put(f, tu_pod("shop", "a", "web", NULL, "app=a,pod-template-hash=1", ""));
  put(f, tu_pod("shop", "b", "web", NULL, "app=b,pod-template-hash=1", ""));
  assert_int_equal(sb__identity_derive(&f->t, "shop", "web", NULL, &f->id),
                   SB__ID_NO_LABEL);
  assert_string_equal(f->out.diags.v[0].reason, SB_REASON_INVALID);
  assert_string_equal(f->out.diags.v[0].msg, "cannot derive a pod selector "
                      "for ServiceAccount shop/web: its 2 Pod(s) share no "
                      "label (besides per-replica ones); label them alike");
}

static void over_broad_selector(void **state) {
  fixture *f = *state;

  put(f, tu_pod("shop", "web-1", "web", NULL, "app=web", ""));
  /* Finished pods of other ServiceAccounts do not conflict. */
  put(f, tu_pod("shop", "zz-done", "batch", "Succeeded", "app=web", ""));
  put(f, tu_pod("shop", "web-admin-2", "admin", NULL, "app=web,x=y", ""));
  put(f, tu_pod("shop", "web-admin-1", "admin", NULL, "app=web", ""));
  /* Not selected: different value. */
  put(f, tu_pod("shop", "api-1", "api", NULL, "app=api", ""));
  assert_int_equal(sb__identity_derive(&f->t, "shop", "web", NULL, &f->id),
                   SB__ID_CONFLICT);
  assert_int_equal(f->out.diags.n, 1);
  assert_string_equal(f->out.diags.v[0].reason, SB_REASON_CONFLICT);
  /* The first conflicting pod by name, whatever the insertion order. */
  assert_string_equal(f->out.diags.v[0].msg, "the pod selector {app=web} "
                      "derived from the Pods of ServiceAccount shop/web also "
                      "selects Pod shop/web-admin-1 (ServiceAccount admin); "
                      "nothing is written until the workloads can be told "
                      "apart by their labels");
}

static void default_service_account(void **state) {
  fixture *f = *state;

  put(f, tu_pod("shop", "a", "", NULL, "app=a", ""));
  assert_int_equal(sb__identity_derive(&f->t, "shop", "default", NULL,
                                       &f->id), SB__ID_OK);
  assert_string_equal(selector(&f->id), "app=a");
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(common_labels),
    T(volatile_keys),
    T(ports_union),
    T(no_pods),
    T(no_common_label),
    T(over_broad_selector),
    T(default_service_account),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
