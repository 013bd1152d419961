/* test-input.c -- sb_input: reading buffers into a world, what is skipped
 * and what is reported, and rendering in input order. The golden suite
 * (tests/golden/) covers whole translations; this covers the pipeline's
 * own decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sb/buf.h"
#include "sb/doc.h"
#include "sb/err.h"
#include "sb/input.h"
#include "sb/world.h"

static const char split_web[] =
    "apiVersion: split.smi-spec.io/v1alpha2\n"
    "kind: TrafficSplit\n"
    "metadata: {name: web, namespace: shop}\n"
    "spec: {service: web, backends: [{service: web-v1, weight: 1}]}\n";

static void add(sb_input *in, const char *text, sb_input_role role,
                sb_diags *d) {
  assert_int_equal(sb_input_add_buffer(in, "t.yaml", text, strlen(text),
                                       role, d), 0);
}

static void misplaced_group_reported(void **state) {
  /* A typo in the group used to make the object vanish without a word:
   * the pipeline skipped every object sb_model_detect did not know
   * before the model could say "TrafficSplit is not in splits...". */
  sb_input *in = sb_input_new(NULL, NULL);
  sb_diags d;

  (void) state;
  sb_diags_init(&d);
  add(in,
      "apiVersion: splits.smi-spec.io/v1alpha2\n"
      "kind: TrafficSplit\n"
      "metadata: {name: typo, namespace: a}\n"
      "spec: {service: web, backends: [{service: v1, weight: 1}]}\n"
      "---\n"
      "apiVersion: v1alpha2\n"
      "kind: TrafficTarget\n"
      "metadata: {name: nogroup, namespace: a}\n"
      "---\n"
      "apiVersion: v1\n"
      "kind: ConfigMap\n"
      "metadata: {name: cm}\n"
      "---\n"
      "apiVersion: metrics.smi-spec.io/v1alpha1\n"
      "kind: TrafficMetrics\n"
      "metadata: {name: m}\n"
      "---\n"
      "apiVersion: example.com/v1\n"
      "kind: TrafficSplit\n"
      "metadata: {name: someone-elses}\n",
      SB_INPUT_SOURCE, &d);
  assert_int_equal(d.n, 2);
  assert_int_equal(d.v[0].sev, SB_DIAG_ERROR);
  assert_int_equal(d.v[0].line, 1);
  assert_non_null(strstr(d.v[0].msg, "not in splits.smi-spec.io"));
  assert_int_equal(d.v[1].line, 6);
  assert_non_null(strstr(d.v[1].msg, "names no API group"));
  assert_int_equal(sb_input_sources(in), 0);
  sb_diags_free(&d);
  sb_input_free(in);
}

static void lists_and_default_namespace(void **state) {
  sb_input *in = sb_input_new(NULL, "team");
  const sb_world *w;
  sb_diags d;

  (void) state;
  sb_diags_init(&d);
  add(in,
      "apiVersion: v1\n"
      "kind: List\n"
      "items:\n"
      "- apiVersion: split.smi-spec.io/v1alpha2\n"
      "  kind: TrafficSplit\n"
      "  metadata: {name: a}\n"
      "  spec: {service: web, backends: [{service: v1, weight: 1}]}\n"
      "- apiVersion: v1\n"
      "  kind: Service\n"
      "  metadata: {name: web, namespace: \"\"}\n"
      "  spec: {ports: [{port: 80}]}\n"
      "---\n"
      "apiVersion: split.smi-spec.io/v1alpha2\n"
      "kind: TrafficSplitList\n"
      "items:\n"
      "- apiVersion: split.smi-spec.io/v1alpha2\n"
      "  kind: TrafficSplit\n"
      "  metadata: {name: b, namespace: other}\n"
      "  spec: {service: api, backends: [{service: v1, weight: 1}]}\n",
      SB_INPUT_SOURCE, &d);
  assert_int_equal(d.n, 0);
  w = sb_input_world(in);
  assert_non_null(sb_world_get(w, SB_KIND_TRAFFIC_SPLIT, "team", "a"));
  assert_non_null(sb_world_get(w, SB_KIND_SERVICE, "team", "web"));
  assert_non_null(sb_world_get(w, SB_KIND_TRAFFIC_SPLIT, "other", "b"));
  /* The Service is context even in a source file: not a source. */
  assert_int_equal(sb_input_sources(in), 2);
  sb_diags_free(&d);
  sb_input_free(in);
}

static void duplicate_reported_first_kept(void **state) {
  sb_input *in = sb_input_new(NULL, NULL);
  const sb_traffic_split *ts;
  sb_diags d;

  (void) state;
  sb_diags_init(&d);
  add(in, split_web, SB_INPUT_SOURCE, &d);
  add(in,
      "apiVersion: split.smi-spec.io/v1alpha2\n"
      "kind: TrafficSplit\n"
      "metadata: {name: web, namespace: shop}\n"
      "spec: {service: other, backends: [{service: x, weight: 1}]}\n",
      SB_INPUT_SOURCE, &d);
  assert_int_equal(d.n, 1);
  assert_non_null(strstr(d.v[0].msg, "duplicate TrafficSplit shop/web "
                                     "(first defined at t.yaml:1)"));
  ts = (const sb_traffic_split *) sb_world_get(
      sb_input_world(in), SB_KIND_TRAFFIC_SPLIT, "shop", "web");
  assert_string_equal(ts->service, "web");
  assert_int_equal(sb_input_sources(in), 1);
  sb_diags_free(&d);
  sb_input_free(in);
}

static void render(const sb_input *in, sb_mesh mesh, sb_output_format fmt,
                   sb_buf *out, sb_diags *d) {
  sb_translate_opts o;

  sb_translate_opts_default(&o);
  o.mesh = mesh;
  sb_buf_init(out, SB_BUF_UNLIMITED);
  assert_int_equal(sb_input_render(in, &o, fmt, out, d), 0);
}

static void context_split_informs_not_printed(void **state) {
  /* An older split in the context wins the root: the source split gets a
   * Conflict and nothing is printed at all. */
  sb_input *in = sb_input_new(NULL, NULL);
  sb_diags d;
  sb_buf out;

  (void) state;
  sb_diags_init(&d);
  add(in,
      "apiVersion: split.smi-spec.io/v1alpha2\n"
      "kind: TrafficSplit\n"
      "metadata: {name: old, namespace: shop,"
      " creationTimestamp: '2020-01-01T00:00:00Z'}\n"
      "spec: {service: web, backends: [{service: web-v0, weight: 1}]}\n",
      SB_INPUT_CONTEXT, &d);
  add(in, split_web, SB_INPUT_SOURCE, &d);
  assert_int_equal(sb_input_sources(in), 1);
  render(in, SB_MESH_ISTIO, SB_OUTPUT_YAML, &out, &d);
  assert_int_equal(out.len, 0);
  assert_int_equal(d.n, 1);
  assert_non_null(strstr(d.v[0].msg, "TrafficSplit shop/old already splits"));
  sb_buf_free(&out);
  sb_diags_free(&d);
  sb_input_free(in);
}

static const char two_targets[] =
    "apiVersion: specs.smi-spec.io/v1alpha4\n"
    "kind: TCPRoute\n"
    "metadata: {name: p, namespace: ns}\n"
    "spec: {matches: {ports: [8080]}}\n"
    "---\n"
    "apiVersion: access.smi-spec.io/v1alpha3\n"
    "kind: TrafficTarget\n"
    "metadata: {name: t1, namespace: ns}\n"
    "spec: {destination: {kind: ServiceAccount, name: web},"
    " sources: [{kind: ServiceAccount, name: a}],"
    " rules: [{kind: TCPRoute, name: p}]}\n"
    "---\n"
    "apiVersion: split.smi-spec.io/v1alpha2\n"
    "kind: TrafficSplit\n"
    "metadata: {name: s, namespace: ns}\n"
    "spec: {service: web, backends: [{service: v1, weight: 1}]}\n"
    "---\n"
    "apiVersion: access.smi-spec.io/v1alpha3\n"
    "kind: TrafficTarget\n"
    "metadata: {name: t2, namespace: ns}\n"
    "spec: {destination: {kind: ServiceAccount, name: web},"
    " sources: [{kind: ServiceAccount, name: b}],"
    " rules: [{kind: TCPRoute, name: p}]}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Pod\n"
    "metadata: {name: web-0, namespace: ns, labels: {app: web}}\n"
    "spec: {serviceAccountName: web, containers: [{name: c, image: i}]}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: web, namespace: ns}\n"
    "spec: {ports: [{port: 80}]}\n";

/* "Kind/name" of every object in a JSON List, space separated. */
static void names_of(const char *json, size_t len, sb_buf *b) {
  cJSON *list = cJSON_ParseWithLength(json, len), *item;

  assert_non_null(list);
  cJSON_ArrayForEach(item, cJSON_GetObjectItem(list, "items")) {
    const cJSON *meta = cJSON_GetObjectItem(item, "metadata");
    if (b->len)
      sb_buf_addc(b, ' ');
    sb_buf_addf(b, "%s/%s", cJSON_GetObjectItem(item, "kind")->valuestring,
                cJSON_GetObjectItem(meta, "name")->valuestring);
  }
  cJSON_Delete(list);
}

static void render_order_and_formats(void **state) {
  /* Keys in input order; the ServiceAccount key (Servers) once, right
   * after the first TrafficTarget naming it. YAML and JSON carry the
   * same objects, and rendering twice gives the same bytes. */
  sb_input *in = sb_input_new(NULL, NULL);
  sb_buf yaml, yaml2, json, names;
  sb_diags d;

  (void) state;
  sb_diags_init(&d);
  add(in, two_targets, SB_INPUT_SOURCE, &d);
  assert_int_equal(d.n, 0);
  render(in, SB_MESH_LINKERD, SB_OUTPUT_JSON, &json, &d);
  render(in, SB_MESH_LINKERD, SB_OUTPUT_YAML, &yaml, &d);
  render(in, SB_MESH_LINKERD, SB_OUTPUT_YAML, &yaml2, &d);
  assert_int_equal(d.n, 0);
  sb_buf_init(&names, SB_BUF_UNLIMITED);
  names_of(json.data, json.len, &names);
  assert_string_equal(sb_buf_cstr(&names),
                      "MeshTLSAuthentication/t1-access "
                      "AuthorizationPolicy/t1-access-8080 "
                      "Server/web-sa-8080 "
                      "HTTPRoute/s-split-80 "
                      "MeshTLSAuthentication/t2-access "
                      "AuthorizationPolicy/t2-access-8080");
  assert_int_equal(yaml.len, yaml2.len);
  assert_memory_equal(yaml.data, yaml2.data, yaml.len);
  assert_non_null(strstr(sb_buf_cstr(&yaml),
                         "---\napiVersion: policy.linkerd.io/v1beta3\n"
                         "kind: Server\n"));
  sb_buf_free(&names);
  sb_buf_free(&json);
  sb_buf_free(&yaml);
  sb_buf_free(&yaml2);
  sb_diags_free(&d);
  sb_input_free(in);
}

static void empty_input_renders_empty(void **state) {
  sb_input *in = sb_input_new(NULL, NULL);
  sb_diags d;
  sb_buf out;

  (void) state;
  sb_diags_init(&d);
  render(in, SB_MESH_ISTIO, SB_OUTPUT_YAML, &out, &d);
  assert_int_equal(out.len, 0);
  sb_buf_free(&out);
  render(in, SB_MESH_ISTIO, SB_OUTPUT_JSON, &out, &d);
  assert_string_equal(sb_buf_cstr(&out),
                      "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n"
                      "  \"items\": []\n}\n");
  sb_buf_free(&out);
  sb_diags_free(&d);
  sb_input_free(in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(misplaced_group_reported),
    cmocka_unit_test(lists_and_default_namespace),
    cmocka_unit_test(duplicate_reported_first_kept),
    cmocka_unit_test(context_split_informs_not_printed),
    cmocka_unit_test(render_order_and_formats),
    cmocka_unit_test(empty_input_renders_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
