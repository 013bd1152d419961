/* test-index-keys.c -- the keys a cache change names by itself
 * (sb_index_keys_of_change): SMI objects through the translation's
 * sb_translate_keys_of, invalid versions, and generated objects through
 * their source labels.
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

static sb_buf got;
static int calls;

static void on_key(void *arg, const char *key) {
  (void) arg;
  if (calls++)
    assert_int_equal(sb_buf_addc(&got, ','), 0);
  assert_int_equal(sb_buf_adds(&got, key), 0);
}

static const char *keys(const sb_change *c, sb_mesh mesh) {
  sb_translate_opts o;

  sb_translate_opts_default(&o);
  o.mesh = mesh;
  sb_buf_free(&got);
  sb_buf_init(&got, SB_BUF_UNLIMITED);
  calls = 0;
  assert_int_equal(sb_index_keys_of_change(c, &o, on_key, NULL), 0);
  return sb_buf_cstr(&got);
}

static sb_change change(sb_change_type t, sb_kind kind, const char *ns,
                        const char *name, const void *o, const void *n) {
  sb_change c;

  memset(&c, 0, sizeof(c));
  c.type = t;
  c.kind = kind;
  c.ns = ns;
  c.name = name;
  c.old_obj = o;
  c.new_obj = n;
  return c;
}

static void obj_init(sb_obj *o, sb_kind kind, const char *ns,
                     const char *name) {
  memset(o, 0, sizeof(*o));
  o->kind = kind;
  o->version = 4;
  o->ns = ns;
  o->name = name;
}

static void smi_objects(void **state) {
  sb_traffic_split ts;
  sb_traffic_target a, b;
  sb_service svc;
  sb_change c;

  (void) state;
  memset(&ts, 0, sizeof(ts));
  obj_init(&ts.obj, SB_KIND_TRAFFIC_SPLIT, "shop", "web");
  ts.service = ts.root = "web";
  c = change(SB_CHANGE_MODEL, SB_KIND_TRAFFIC_SPLIT, "shop", "web", NULL,
             &ts);
  assert_string_equal(keys(&c, SB_MESH_ISTIO), "TrafficSplit/shop/web");
  c.old_obj = &ts;  /* old and new name the same key: once */
  assert_string_equal(keys(&c, SB_MESH_ISTIO), "TrafficSplit/shop/web");
  assert_int_equal(calls, 1);
  c.new_obj = NULL;
  assert_string_equal(keys(&c, SB_MESH_ISTIO), "TrafficSplit/shop/web");

  /* A TrafficTarget whose destination moved: in Linkerd mode both
   * ServiceAccounts' keys (they own the shared Servers). */
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  obj_init(&a.obj, SB_KIND_TRAFFIC_TARGET, "shop", "tt");
  obj_init(&b.obj, SB_KIND_TRAFFIC_TARGET, "shop", "tt");
  a.obj.version = b.obj.version = 3;
  a.dest.kind = b.dest.kind = "ServiceAccount";
  a.dest.ns = "shop";
  a.dest.name = "api";
  b.dest.ns = "shop";
  b.dest.name = "db";
  c = change(SB_CHANGE_MODEL, SB_KIND_TRAFFIC_TARGET, "shop", "tt", &a, &b);
  assert_string_equal(keys(&c, SB_MESH_ISTIO), "TrafficTarget/shop/tt");
  assert_string_equal(keys(&c, SB_MESH_LINKERD),
                      "ServiceAccount/shop/api,ServiceAccount/shop/db,"
                      "TrafficTarget/shop/tt");

  /* Context objects name no key by themselves. */
  memset(&svc, 0, sizeof(svc));
  obj_init(&svc.obj, SB_KIND_SERVICE, "shop", "web");
  c = change(SB_CHANGE_MODEL, SB_KIND_SERVICE, "shop", "web", NULL, &svc);
  assert_string_equal(keys(&c, SB_MESH_ISTIO), "");
}

static void invalid_versions(void **state) {
  sb_change c;

  (void) state;
  c = change(SB_CHANGE_INVALID, SB_KIND_TRAFFIC_SPLIT, "shop", "web", NULL,
             NULL);
  assert_string_equal(keys(&c, SB_MESH_ISTIO), "TrafficSplit/shop/web");
  c.kind = SB_KIND_TRAFFIC_TARGET;
  assert_string_equal(keys(&c, SB_MESH_LINKERD), "TrafficTarget/shop/web");
  /* A route group is no key: its readers come from the index. */
  c.kind = SB_KIND_HTTP_ROUTE_GROUP;
  assert_string_equal(keys(&c, SB_MESH_ISTIO), "");
}

static void generated_objects(void **state) {
  static const sb_gvk vs = {"networking.istio.io", "v1", "VirtualService",
                            "virtualservices"};
  sb_gen g, h;
  sb_change c;

  (void) state;
  memset(&g, 0, sizeof(g));
  g.gvk = &vs;
  g.ns = "shop";
  g.name = "web-split";
  g.managed = 1;
  g.source_kind = "TrafficSplit";
  g.source_name = g.source_full_name = "web";
  c = change(SB_CHANGE_GENERATED, SB_KIND_UNKNOWN, "shop", "web-split", NULL,
             &g);
  assert_string_equal(keys(&c, SB_MESH_ISTIO), "TrafficSplit/shop/web");

  /* Relabelled by hand: both sources re-run. */
  h = g;
  h.source_name = h.source_full_name = "canary";
  c.old_obj = &g;
  c.new_obj = &h;
  assert_string_equal(keys(&c, SB_MESH_ISTIO),
                      "TrafficSplit/shop/canary,TrafficSplit/shop/web");

  /* A hashed label: the annotation's full name is the key. */
  h.source_name = "a-very-long-name-abc123";
  h.source_full_name = "a-very-long-name-that-did-not-fit-in-a-label-value";
  c.old_obj = NULL;
  assert_string_equal(keys(&c, SB_MESH_ISTIO), "TrafficSplit/shop/"
                      "a-very-long-name-that-did-not-fit-in-a-label-value");

  /* Not ours, or no source kind we know: nothing. */
  h = g;
  h.managed = 0;
  c.new_obj = &h;
  assert_string_equal(keys(&c, SB_MESH_ISTIO), "");
  h.managed = 1;
  h.source_kind = "Deployment";
  assert_string_equal(keys(&c, SB_MESH_ISTIO), "");
  h.source_kind = NULL;
  assert_string_equal(keys(&c, SB_MESH_ISTIO), "");
}

static void bad_arguments(void **state) {
  sb_translate_opts o;
  sb_change c;

  (void) state;
  sb_translate_opts_default(&o);
  c = change(SB_CHANGE_INVALID, SB_KIND_TRAFFIC_SPLIT, "shop", "web", NULL,
             NULL);
  assert_int_equal(sb_index_keys_of_change(NULL, &o, on_key, NULL),
                   SB_EINVAL);
  assert_int_equal(sb_index_keys_of_change(&c, NULL, on_key, NULL),
                   SB_EINVAL);
  assert_int_equal(sb_index_keys_of_change(&c, &o, NULL, NULL), SB_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(smi_objects),
    cmocka_unit_test(invalid_versions),
    cmocka_unit_test(generated_objects),
    cmocka_unit_test(bad_arguments),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);

  sb_buf_free(&got);
  return rc;
}
