/* test-lease.c -- leader election against the generic fake API server
 * (tests/data/kube/testserver.py, /fake/), with short durations. Times are
 * asserted as orderings and lower bounds; upper bounds only where they are
 * the point (a released Lease is taken long before it could expire) and
 * then loose.
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

#include "sb/err.h"
#include "sb/lease.h"
#include "sb/log.h"

#include "fake-api.h"
#include "log-capture.h"

#define LEASE_PATH "/apis/coordination.k8s.io/v1/namespaces/shop/leases/sb"

typedef struct cand {
  uv_loop_t *loop;
  sb_lease *l;
  const char *id;
  int leading;
  int changes;
  uint64_t at[16];
  int val[16];
  int *leaders;              /* shared: how many lead right now */
  int max_leaders;
} cand;

static void on_leading(void *arg, int leading) {
  cand *c = arg;

  uv_update_time(c->loop);
  assert_int_not_equal(leading, c->leading);  /* changes only */
  if (c->changes < 16) {
    c->at[c->changes] = uv_now(c->loop);
    c->val[c->changes] = leading;
  }
  c->changes++;
  c->leading = leading;
  if (c->leaders) {
    *c->leaders += leading ? 1 : -1;
    if (*c->leaders > c->max_leaders)
      c->max_leaders = *c->leaders;
  }
}

static void cand_new(cand *c, uv_loop_t *loop, sb_kube *k, const char *id,
                     unsigned dur, unsigned deadline, unsigned retry) {
  sb_lease_opts o;

  memset(c, 0, sizeof(*c));
  c->loop = loop;
  c->id = id;
  memset(&o, 0, sizeof(o));
  o.ns = "shop";
  o.name = "sb";
  o.identity = id;
  o.lease_duration_ms = dur;
  o.renew_deadline_ms = deadline;
  o.retry_period_ms = retry;
  assert_int_equal(sb_lease_new(loop, k, &o, on_leading, c, &c->l), 0);
}

static void cand_close(cand *c) {
  int n = 0, changes = c->changes;

  sb_lease_close(c->l, fake_closed, &n);
  run_until(c->loop, &n);
  assert_int_equal(c->changes, changes);  /* no callback from close */
  c->l = NULL;
}

static uint64_t now(uv_loop_t *loop) {
  uv_update_time(loop);
  return uv_now(loop);
}

static cJSON *peek(uv_loop_t *loop, sb_kube *k) {
  return fake_ctl(loop, k, "/_peek?path=" LEASE_PATH);
}

/* "2006-01-02T15:04:05.000000Z" */
static int is_micro_time(const char *s) {
  static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
  size_t i;

  if (!s || strlen(s) != sizeof(shape) - 1)
    return 0;
  for (i = 0; shape[i]; i++)
    if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
      return 0;
  return 1;
}

static void seed_lease(uv_loop_t *loop, sb_kube *k, const char *holder,
                       double transitions) {
  static const sb_kube_target t = {
      {"coordination.k8s.io", "v1", "leases"}, "shop", NULL, NULL};
  char text[512];
  cJSON *o;
  fake_res x;

  snprintf(text, sizeof(text),
           "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
           "\"metadata\":{\"name\":\"sb\"},\"spec\":{\"holderIdentity\":"
           "\"%s\",\"leaseDurationSeconds\":1,\"acquireTime\":"
           "\"2000-01-01T00:00:00.000000Z\",\"renewTime\":"
           "\"2000-01-01T00:00:00.000000Z\",\"leaseTransitions\":%.0f}}",
           holder, transitions);
  o = cJSON_Parse(text);
  memset(&x, 0, sizeof(x));
  assert_int_equal(sb_kube_create(k, &t, o, 0, fake_on_res, &x, NULL), 0);
  run_until(loop, &x.done);
  assert_int_equal(x.err, 0);
  cJSON_Delete(x.body);
  cJSON_Delete(o);
}

/* ---- tests --------------------------------------------------------------- */

static void acquire_on_empty_then_renew(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  cand a;
  cJSON *o, *puts, *it;
  char acquired[40], prev_rv[32] = "", prev_renew[40] = "";
  int n = 0;

  (void) state;
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  cand_new(&a, &loop, k, "pod-a_1", 3000, 2000, 50);
  assert_string_equal(sb_lease_holder(a.l), "");
  assert_int_equal(sb_lease_start(a.l), 0);
  assert_int_equal(sb_lease_start(a.l), SB_EINVAL);
  run_until(&loop, &a.leading);
  assert_int_equal(sb_lease_leading(a.l), 1);
  assert_string_equal(sb_lease_holder(a.l), "pod-a_1");
  /* The Lease as created. */
  puts = fake_requests(&loop, k, "POST", "/apis/coordination.k8s.io/v1/"
                       "namespaces/shop/leases");
  assert_int_equal(cJSON_GetArraySize(puts), 1);
  o = cJSON_GetObjectItem(cJSON_GetArrayItem(puts, 0), "body");
  assert_string_equal(jstr(o, "apiVersion"), "coordination.k8s.io/v1");
  assert_string_equal(jstr(o, "kind"), "Lease");
  assert_string_equal(jstr(o, "metadata.name"), "sb");
  assert_string_equal(jstr(o, "metadata.namespace"), "shop");
  assert_string_equal(jstr(o, "spec.holderIdentity"), "pod-a_1");
  assert_int_equal(jnum(o, "spec.leaseDurationSeconds"), 3);
  assert_int_equal(jnum(o, "spec.leaseTransitions"), 0);
  assert_true(is_micro_time(jstr(o, "spec.acquireTime")));
  assert_string_equal(jstr(o, "spec.renewTime"), jstr(o, "spec.acquireTime"));
  snprintf(acquired, sizeof(acquired), "%s", jstr(o, "spec.acquireTime"));
  cJSON_Delete(puts);

  /* Renewals every retry period: wait for three. */
  for (;;) {
    puts = fake_requests(&loop, k, "PUT", LEASE_PATH);
    n = cJSON_GetArraySize(puts);
    cJSON_Delete(puts);
    if (n >= 3)
      break;
    run_for(&loop, 50);
  }
  n = 0;
  /* GET 404, POST, then the PUTs, each on the version the previous one
   * returned, keeping acquireTime. */
  puts = fake_requests(&loop, k, NULL, "/apis/coordination.k8s.io/");
  assert_string_equal(jstr(cJSON_GetArrayItem(puts, 0), "method"), "GET");
  assert_string_equal(jstr(cJSON_GetArrayItem(puts, 1), "method"), "POST");
  cJSON_ArrayForEach(it, puts) {
    const char *m = jstr(it, "method");

    if (strcmp(m, "PUT") != 0)
      continue;
    n++;
    assert_string_equal(jstr(it, "path"), LEASE_PATH);
    assert_string_equal(jstr(it, "body.spec.holderIdentity"), "pod-a_1");
    assert_string_equal(jstr(it, "body.spec.acquireTime"), acquired);
    assert_true(strcmp(jstr(it, "body.spec.renewTime"), prev_renew) > 0);
    snprintf(prev_renew, sizeof(prev_renew), "%s",
             jstr(it, "body.spec.renewTime"));
    if (prev_rv[0])
      assert_int_equal(strtol(jstr(it, "body.metadata.resourceVersion"),
                              NULL, 10), strtol(prev_rv, NULL, 10) + 1);
    snprintf(prev_rv, sizeof(prev_rv), "%s",
             jstr(it, "body.metadata.resourceVersion"));
  }
  assert_true(n >= 3);
  assert_int_equal(cJSON_GetArraySize(puts), n + 2);
  cJSON_Delete(puts);
  assert_int_equal(a.changes, 1);

  cand_close(&a);
  o = peek(&loop, k);
  assert_string_equal(jstr(o, "spec.holderIdentity"), "");
  assert_int_equal(jnum(o, "spec.leaseDurationSeconds"), 1);
  assert_int_equal(jnum(o, "spec.leaseTransitions"), 0);
  cJSON_Delete(o);
  fake_finish(&loop, k);
}

static void follower_waits_then_release_hands_over(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  cand a, b;
  cJSON *o;
  FILE *log;
  char *text;
  uint64_t closed_at;

  (void) state;
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  /* A long lease duration: a takeover by expiry would need 2 s. */
  cand_new(&a, &loop, k, "a", 2000, 1500, 50);
  cand_new(&b, &loop, k, "b", 2000, 1500, 50);
  assert_int_equal(sb_lease_start(a.l), 0);
  run_until(&loop, &a.leading);
  log = log_capture_start();
  assert_int_equal(sb_lease_start(b.l), 0);
  run_for(&loop, 2500);  /* longer than the lease duration */
  text = log_capture_end(log);
  assert_int_equal(b.changes, 0);
  assert_int_equal(a.changes, 1);
  assert_string_equal(sb_lease_holder(b.l), "a");
  assert_non_null(strstr(text, "msg=\"new leader elected\" lease=shop/sb "
                               "holder=a"));
  free(text);

  cand_close(&a);
  closed_at = now(&loop);
  run_until(&loop, &b.leading);
  /* Released: taken at b's next look, not after 2 s. */
  assert_true(b.at[0] - closed_at < 1000);
  o = peek(&loop, k);
  assert_string_equal(jstr(o, "spec.holderIdentity"), "b");
  assert_int_equal(jnum(o, "spec.leaseDurationSeconds"), 2);
  assert_int_equal(jnum(o, "spec.leaseTransitions"), 1);
  cJSON_Delete(o);
  cand_close(&b);
  fake_finish(&loop, k);
}

/* The holder never renews, and its renewTime is from 2000: still we wait
 * the full lease duration on our own clock before taking over. */
static void takeover_after_expiry_on_our_clock(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  cand a;
  cJSON *o;
  uint64_t t0;

  (void) state;
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  seed_lease(&loop, k, "ghost", 3);
  cand_new(&a, &loop, k, "a", 400, 300, 50);
  t0 = now(&loop);
  assert_int_equal(sb_lease_start(a.l), 0);
  run_until(&loop, &a.leading);
  assert_true(a.at[0] - t0 >= 400);
  o = peek(&loop, k);
  assert_string_equal(jstr(o, "spec.holderIdentity"), "a");
  assert_int_equal(jnum(o, "spec.leaseTransitions"), 4);
  assert_string_not_equal(jstr(o, "spec.acquireTime"),
                          "2000-01-01T00:00:00.000000Z");
  cJSON_Delete(o);
  cand_close(&a);
  fake_finish(&loop, k);
}

static void lost_race_on_update(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  cand a;
  cJSON *reqs;

  (void) state;
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  seed_lease(&loop, k, "", 2);  /* free */
  cJSON_Delete(fake_ctl(&loop, k, "/_fault?method=PUT&path=" LEASE_PATH
                        "&code=409&reason=Conflict&message=modified"));
  cand_new(&a, &loop, k, "a", 3000, 2000, 50);
  assert_int_equal(sb_lease_start(a.l), 0);
  run_until(&loop, &a.leading);
  assert_int_equal(a.changes, 1);
  reqs = fake_requests(&loop, k, NULL, LEASE_PATH);
  /* GET, PUT (409: someone else wrote), GET again, PUT. */
  assert_true(cJSON_GetArraySize(reqs) >= 4);
  assert_string_equal(jstr(cJSON_GetArrayItem(reqs, 0), "method"), "GET");
  assert_string_equal(jstr(cJSON_GetArrayItem(reqs, 1), "method"), "PUT");
  assert_string_equal(jstr(cJSON_GetArrayItem(reqs, 2), "method"), "GET");
  assert_string_equal(jstr(cJSON_GetArrayItem(reqs, 3), "method"), "PUT");
  cJSON_Delete(reqs);
  cand_close(&a);
  fake_finish(&loop, k);
}

/* Three candidates start at once on no Lease: one POST wins, the others
 * get 409 AlreadyExists and follow; never two leaders. */
static void candidates_race_one_wins(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  cand c[3];
  int leaders = 0, i, total = 0;
  const char *ids[3] = {"x", "y", "z"};
  cJSON *o;

  (void) state;
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  for (i = 0; i < 3; i++) {
    cand_new(&c[i], &loop, k, ids[i], 3000, 2000, 50);
    c[i].leaders = &leaders;
  }
  for (i = 0; i < 3; i++)
    assert_int_equal(sb_lease_start(c[i].l), 0);
  run_for(&loop, 700);
  for (i = 0; i < 3; i++) {
    total += c[i].leading;
    assert_true(c[i].max_leaders <= 1);
    assert_true(c[i].changes <= 1);
  }
  assert_int_equal(total, 1);
  o = peek(&loop, k);
  for (i = 0; i < 3; i++)
    if (c[i].leading)
      assert_string_equal(jstr(o, "spec.holderIdentity"), ids[i]);
  cJSON_Delete(o);
  for (i = 0; i < 3; i++)
    cand_close(&c[i]);
  fake_finish(&loop, k);
}

/* Renewals fail from some moment on: the leader keeps leading through the
 * renew deadline, then stops (callback 0) and, once writes work again,
 * takes its own Lease back. */
static void renew_failures_past_deadline(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  cand a;
  uint64_t t_start;
  cJSON *o, *renewals;

  (void) state;
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  /* Creating the Lease works (POST), every renewal (PUT) fails. */
  cJSON_Delete(fake_ctl(&loop, k, "/_fault?method=PUT&path=" LEASE_PATH
                        "&code=500&reason=InternalError&message=etcd&"
                        "times=-1"));
  cand_new(&a, &loop, k, "a", 1000, 600, 50);
  t_start = now(&loop);
  assert_int_equal(sb_lease_start(a.l), 0);
  run_until(&loop, &a.leading);
  while (a.leading)
    uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(a.changes, 2);
  /* Leading from the create, through failed renewals, until the renew
   * deadline counted from when the create was sent. */
  assert_true(a.at[1] - t_start >= 600);
  renewals = fake_requests(&loop, k, "PUT", LEASE_PATH);
  assert_true(cJSON_GetArraySize(renewals) >= 2);
  cJSON_Delete(renewals);
  assert_int_equal(sb_lease_leading(a.l), 0);
  cJSON_Delete(fake_ctl(&loop, k, "/_reset"));
  /* The store was reset too: the Lease is gone, so it is created again. */
  run_until(&loop, &a.leading);
  assert_int_equal(a.changes, 3);
  o = peek(&loop, k);
  assert_string_equal(jstr(o, "spec.holderIdentity"), "a");
  cJSON_Delete(o);
  cand_close(&a);
  fake_finish(&loop, k);
}

/* A renewal that hangs: the deadline still fires while it is out. */
static void hanging_renewal_hits_deadline(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  cand a;
  uint64_t t_start;

  (void) state;
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  cJSON_Delete(fake_ctl(&loop, k, "/_fault?method=PUT&path=" LEASE_PATH
                        "&ms=6000&times=-1"));
  cand_new(&a, &loop, k, "a", 1000, 600, 50);
  t_start = now(&loop);
  assert_int_equal(sb_lease_start(a.l), 0);
  run_until(&loop, &a.leading);
  while (a.leading)
    uv_run(&loop, UV_RUN_ONCE);
  assert_true(a.at[1] - t_start >= 600);
  assert_true(a.at[1] - t_start < 5000);  /* did not wait for the answer */
  cand_close(&a);
  fake_finish(&loop, k);
}

/* The Lease is taken over by someone else while we lead (our renewals
 * fail with 409): we stop leading as soon as we read it. */
static void taken_over_while_leading(void **state) {
  static const sb_kube_target t = {
      {"coordination.k8s.io", "v1", "leases"}, "shop", "sb", NULL};
  uv_loop_t loop;
  sb_kube *k;
  cand a;
  cJSON *o;
  fake_res x;

  (void) state;
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  cand_new(&a, &loop, k, "a", 3000, 2000, 50);
  assert_int_equal(sb_lease_start(a.l), 0);
  run_until(&loop, &a.leading);
  o = peek(&loop, k);
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(o, "spec"),
                            "holderIdentity", cJSON_CreateString("intruder"));
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(o, "metadata"),
                             "resourceVersion");
  memset(&x, 0, sizeof(x));
  assert_int_equal(sb_kube_update(k, &t, o, 0, fake_on_res, &x, NULL), 0);
  run_until(&loop, &x.done);
  assert_int_equal(x.err, 0);
  cJSON_Delete(x.body);
  cJSON_Delete(o);
  while (a.leading)
    uv_run(&loop, UV_RUN_ONCE);
  assert_string_equal(sb_lease_holder(a.l), "intruder");
  /* Closing a follower writes nothing. */
  cand_close(&a);
  o = peek(&loop, k);
  assert_string_equal(jstr(o, "spec.holderIdentity"), "intruder");
  cJSON_Delete(o);
  fake_finish(&loop, k);
}

static int count_requests(uv_loop_t *loop, sb_kube *k, const char *method) {
  cJSON *r = fake_requests(loop, k, method, LEASE_PATH);
  int n = cJSON_GetArraySize(r);

  cJSON_Delete(r);
  return n;
}

/* Closing right after a renewal failed (no current copy of the Lease):
 * read it, and release it since it is still ours. */
static void close_after_failed_renewal_releases(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  cand a;
  cJSON *o, *reqs;
  int puts, n;

  (void) state;
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  fake_reset(&loop, k);
  cand_new(&a, &loop, k, "a", 6000, 4000, 1000);
  assert_int_equal(sb_lease_start(a.l), 0);
  run_until(&loop, &a.leading);
  puts = count_requests(&loop, k, "PUT");
  cJSON_Delete(fake_ctl(&loop, k, "/_fault?method=PUT&path=" LEASE_PATH
                        "&code=500&reason=InternalError&message=etcd"));
  while (count_requests(&loop, k, "PUT") == puts)
    run_for(&loop, 20);
  run_for(&loop, 50);  /* its answer is in; the next look is 1 s away */
  assert_int_equal(a.leading, 1);
  cand_close(&a);
  reqs = fake_requests(&loop, k, NULL, LEASE_PATH);
  n = cJSON_GetArraySize(reqs);
  assert_string_equal(jstr(cJSON_GetArrayItem(reqs, n - 2), "method"),
                      "GET");
  assert_string_equal(jstr(cJSON_GetArrayItem(reqs, n - 1), "method"),
                      "PUT");
  cJSON_Delete(reqs);
  o = peek(&loop, k);
  assert_string_equal(jstr(o, "spec.holderIdentity"), "");
  cJSON_Delete(o);
  fake_finish(&loop, k);
}

static void bad_options(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  sb_lease_opts o;
  sb_lease *l;
  cand c;

  (void) state;
  assert_int_equal(uv_loop_init(&loop), 0);
  k = fake_client(&loop);
  memset(&o, 0, sizeof(o));
  o.ns = "shop";
  o.name = "sb";
  assert_int_equal(sb_lease_new(&loop, k, &o, on_leading, &c, &l),
                   SB_EINVAL);  /* no identity */
  o.identity = "a";
  o.lease_duration_ms = 1000;
  o.renew_deadline_ms = 1000;
  assert_int_equal(sb_lease_new(&loop, k, &o, on_leading, &c, &l),
                   SB_EINVAL);
  o.renew_deadline_ms = 500;
  o.retry_period_ms = 500;
  assert_int_equal(sb_lease_new(&loop, k, &o, on_leading, &c, &l),
                   SB_EINVAL);
  /* Defaults are valid; closing without a start writes nothing. */
  cand_new(&c, &loop, k, "a", 0, 0, 0);
  cand_close(&c);
  fake_finish(&loop, k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(acquire_on_empty_then_renew),
      cmocka_unit_test(follower_waits_then_release_hands_over),
      cmocka_unit_test(takeover_after_expiry_on_our_clock),
      cmocka_unit_test(lost_race_on_update),
      cmocka_unit_test(candidates_race_one_wins),
      cmocka_unit_test(renew_failures_past_deadline),
      cmocka_unit_test(hanging_renewal_hits_deadline),
      cmocka_unit_test(taken_over_while_leading),
      cmocka_unit_test(close_after_failed_renewal_releases),
      cmocka_unit_test(bad_options),
  };

  return cmocka_run_group_tests(tests, fake_setup, fake_teardown);
}
