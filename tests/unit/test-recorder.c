/* test-recorder.c -- Events against the generic fake API server
 * (tests/data/kube/testserver.py, /fake/): the exact body of a new Event,
 * repeats folded into one Event (apply with count+1, coalesced while a
 * write is out), a different message or object or an expired window
 * starting a new Event, the per-object spam filter, message truncation,
 * failures logged once and never retried, dry run, and close.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <uv.h>

#include "sb/err.h"
#include "sb/log.h"
#include "sb/recorder.h"

#include "fake-api.h"
#include "log-capture.h"

#define EVENTS "/api/v1/namespaces/shop/events"

static const sb_objref WEB = {"split.smi-spec.io/v1alpha4", "TrafficSplit",
                              "shop", "web", "0b9d6c5e-uid-web"};
static const sb_objref API = {"split.smi-spec.io/v1alpha4", "TrafficSplit",
                              "shop", "api", "uid-api"};

typedef struct env {
  uv_loop_t loop;
  sb_kube *k;
  sb_recorder *r;
} env;

static void env_open_paced(env *e, const char *host, int dry_run,
                           unsigned window_ms, double qps, int burst) {
  sb_recorder_opts o;

  assert_int_equal(uv_loop_init(&e->loop), 0);
  e->k = fake_client(&e->loop);
  fake_reset(&e->loop, e->k);
  memset(&o, 0, sizeof(o));
  o.component = "smi-bridge";
  o.host = host;
  o.dry_run = dry_run;
  o.window_ms = window_ms;
  o.qps = qps;
  o.burst = burst;
  assert_int_equal(sb_recorder_new(&e->loop, e->k, &o, &e->r), 0);
}

static void env_open(env *e, const char *host, int dry_run,
                     unsigned window_ms) {
  env_open_paced(e, host, dry_run, window_ms, 0, 0);
}

static void env_close(env *e) {
  int n = 0;

  sb_recorder_close(e->r, fake_closed, &n);
  run_until(&e->loop, &n);
  assert_int_equal(n, 1);
  fake_finish(&e->loop, e->k);
}

/* Records one Event (reason, message) for each of n objects like WEB
 * named "<prefix>-0" .. "<prefix>-<n-1>". */
static void record_many(env *e, const char *prefix, int n,
                        const char *reason, const char *msg) {
  sb_objref o = WEB;
  char name[64];
  int i;

  for (i = 0; i < n; i++) {
    snprintf(name, sizeof(name), "%s-%d", prefix, i);
    o.name = name;
    assert_int_equal(sb_recorder_event(e->r, &o, SB_EVENT_NORMAL, reason,
                                       "%s", msg), 0);
  }
}

/* Runs the loop until the recorder has finished `writes` writes. */
static void wait_writes(env *e, unsigned long writes) {
  uint64_t start = uv_now(&e->loop);
  unsigned long w = 0, f = 0;

  for (;;) {
    sb_recorder_stats(e->r, &w, &f);
    if (w + f >= writes)
      break;
    uv_update_time(&e->loop);
    assert_true(uv_now(&e->loop) - start < 20000);
    uv_run(&e->loop, UV_RUN_ONCE);
  }
  assert_int_equal(w + f, writes);
}

static int is_rfc3339_now(const char *s) {
  struct tm tm;
  time_t t, now = time(NULL);
  const char *end;

  if (!s || strlen(s) != 20 || s[19] != 'Z')
    return 0;
  memset(&tm, 0, sizeof(tm));
  end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end)
    return 0;
  t = timegm(&tm);
  return t <= now && now - t < 30;
}

static int count_keys(const cJSON *o) {
  return cJSON_GetArraySize(o);
}

static void new_event_body(void **state) {
  env e;
  cJSON *reqs, *req, *body;
  const char *name;
  unsigned long w, f;
  size_t i;

  (void) state;
  env_open(&e, "smi-bridge-7d9f-x2x", 0, 0);
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING,
                                     "InvalidSpec", "spec.backends[%d]: %s",
                                     1, "weight must not be negative"), 0);
  wait_writes(&e, 1);
  reqs = fake_requests(&e.loop, e.k, NULL, "/");
  assert_int_equal(cJSON_GetArraySize(reqs), 1);
  req = cJSON_GetArrayItem(reqs, 0);
  assert_string_equal(jstr(req, "method"), "POST");
  assert_string_equal(jstr(req, "path"), EVENTS);
  body = cJSON_GetObjectItem(req, "body");
  assert_int_equal(count_keys(body), 13);
  assert_string_equal(jstr(body, "apiVersion"), "v1");
  assert_string_equal(jstr(body, "kind"), "Event");
  assert_int_equal(count_keys(cJSON_GetObjectItem(body, "metadata")), 2);
  name = jstr(body, "metadata.name");
  assert_int_equal(strlen(name), strlen("web.") + 16);
  assert_memory_equal(name, "web.", 4);
  for (i = 4; i < strlen(name); i++)
    assert_true(isxdigit((unsigned char) name[i]) &&
                !isupper((unsigned char) name[i]));
  assert_string_equal(jstr(body, "metadata.namespace"), "shop");
  assert_int_equal(count_keys(cJSON_GetObjectItem(body, "involvedObject")),
                   5);
  assert_string_equal(jstr(body, "involvedObject.apiVersion"),
                      "split.smi-spec.io/v1alpha4");
  assert_string_equal(jstr(body, "involvedObject.kind"), "TrafficSplit");
  assert_string_equal(jstr(body, "involvedObject.namespace"), "shop");
  assert_string_equal(jstr(body, "involvedObject.name"), "web");
  assert_string_equal(jstr(body, "involvedObject.uid"), "0b9d6c5e-uid-web");
  assert_string_equal(jstr(body, "reason"), "InvalidSpec");
  assert_string_equal(jstr(body, "message"),
                      "spec.backends[1]: weight must not be negative");
  assert_string_equal(jstr(body, "type"), "Warning");
  assert_int_equal(count_keys(cJSON_GetObjectItem(body, "source")), 2);
  assert_string_equal(jstr(body, "source.component"), "smi-bridge");
  assert_string_equal(jstr(body, "source.host"), "smi-bridge-7d9f-x2x");
  assert_true(is_rfc3339_now(jstr(body, "firstTimestamp")));
  assert_string_equal(jstr(body, "lastTimestamp"),
                      jstr(body, "firstTimestamp"));
  assert_int_equal(jnum(body, "count"), 1);
  assert_string_equal(jstr(body, "reportingComponent"), "smi-bridge");
  assert_string_equal(jstr(body, "reportingInstance"), "smi-bridge-7d9f-x2x");
  sb_recorder_stats(e.r, &w, &f);
  assert_int_equal(w, 1);
  assert_int_equal(f, 0);
  cJSON_Delete(reqs);
  env_close(&e);
}

/* Without a host and for a cluster-scoped object without uid: the Event
 * goes to "default" and leaves the missing fields out. A long name is
 * cut so that the Event name stays a valid 253-character name. */
static void cluster_scoped_and_long_names(void **state) {
  sb_objref node = {"v1", "Namespace", NULL, NULL, NULL};
  char longname[254];
  env e;
  cJSON *reqs, *b;

  (void) state;
  memset(longname, 'n', 253);
  longname[253] = '\0';
  node.name = "shop";
  env_open(&e, NULL, 0, 0);
  assert_int_equal(sb_recorder_event(e.r, &node, SB_EVENT_NORMAL,
                                     "Translated", "ok"), 0);
  node.name = longname;
  assert_int_equal(sb_recorder_event(e.r, &node, SB_EVENT_NORMAL,
                                     "Translated", "ok"), 0);
  wait_writes(&e, 2);
  reqs = fake_requests(&e.loop, e.k, "POST", "/api/v1/namespaces/default/");
  assert_int_equal(cJSON_GetArraySize(reqs), 2);
  /* Two writes at once reach the server in any order. */
  if (strlen(jstr(cJSON_GetArrayItem(reqs, 0), "body.metadata.name")) > 100)
    cJSON_AddItemToArray(reqs, cJSON_DetachItemFromArray(reqs, 0));
  b = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0), "body");
  assert_string_equal(jstr(b, "metadata.namespace"), "default");
  assert_int_equal(count_keys(cJSON_GetObjectItem(b, "involvedObject")), 3);
  assert_null(jstr(b, "involvedObject.namespace"));
  assert_null(jstr(b, "involvedObject.uid"));
  assert_int_equal(count_keys(cJSON_GetObjectItem(b, "source")), 1);
  assert_null(jstr(b, "reportingInstance"));
  assert_string_equal(jstr(b, "type"), "Normal");
  b = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 1), "body");
  assert_int_equal(strlen(jstr(b, "metadata.name")), 253);
  assert_string_equal(jstr(b, "involvedObject.name"), longname);
  cJSON_Delete(reqs);
  env_close(&e);
}

static void repeats_bump_count(void **state) {
  env e;
  cJSON *reqs, *b, *stored;
  char name[300], first[32], path[400];
  int i;

  (void) state;
  env_open(&e, "h", 0, 0);
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING, "Conflict",
                                     "split %s wins", "older"), 0);
  wait_writes(&e, 1);
  reqs = fake_requests(&e.loop, e.k, "POST", EVENTS);
  b = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0), "body");
  snprintf(name, sizeof(name), "%s", jstr(b, "metadata.name"));
  snprintf(first, sizeof(first), "%s", jstr(b, "firstTimestamp"));
  cJSON_Delete(reqs);

  /* The same again: the same Event, count 2, by server-side apply. */
  run_for(&e.loop, 1100);  /* lastTimestamp has a resolution of 1 s */
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING, "Conflict",
                                     "split older wins"), 0);
  wait_writes(&e, 2);
  reqs = fake_requests(&e.loop, e.k, NULL, EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 2);
  b = cJSON_GetArrayItem(reqs, 1);
  assert_string_equal(jstr(b, "method"), "PATCH");
  snprintf(path, sizeof(path), "%s/%s", EVENTS, name);
  assert_string_equal(jstr(b, "path"), path);
  assert_string_equal(jstr(b, "ctype"), "application/apply-patch+yaml");
  b = cJSON_GetObjectItem(b, "body");
  assert_int_equal(jnum(b, "count"), 2);
  assert_string_equal(jstr(b, "metadata.name"), name);
  assert_string_equal(jstr(b, "firstTimestamp"), first);
  assert_true(strcmp(jstr(b, "lastTimestamp"), first) > 0);
  assert_string_equal(jstr(b, "message"), "split older wins");
  cJSON_Delete(reqs);

  /* Five at once: the first goes out (count 3), the four that come while
   * it is out fold into one more write (count 7). */
  for (i = 0; i < 5; i++)
    assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING,
                                       "Conflict", "split older wins"), 0);
  wait_writes(&e, 4);
  run_for(&e.loop, 100);
  reqs = fake_requests(&e.loop, e.k, NULL, EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 4);
  assert_int_equal(jnum(cJSON_GetArrayItem(reqs, 2), "body.count"), 3);
  assert_int_equal(jnum(cJSON_GetArrayItem(reqs, 3), "body.count"), 7);
  cJSON_Delete(reqs);
  stored = fake_ctl(&e.loop, e.k, "/_peek?path=%s", path);
  assert_non_null(stored);
  assert_int_equal(jnum(stored, "count"), 7);
  cJSON_Delete(stored);

  /* Another message, type, or object: a new Event each. */
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING, "Conflict",
                                     "split newer wins"), 0);
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_NORMAL, "Conflict",
                                     "split older wins"), 0);
  assert_int_equal(sb_recorder_event(e.r, &API, SB_EVENT_WARNING, "Conflict",
                                     "split older wins"), 0);
  wait_writes(&e, 7);
  reqs = fake_requests(&e.loop, e.k, "POST", EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 4);
  for (i = 1; i < 4; i++) {
    b = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, i), "body");
    assert_int_equal(jnum(b, "count"), 1);
    assert_string_not_equal(jstr(b, "metadata.name"), name);
  }
  cJSON_Delete(reqs);
  env_close(&e);
}

/* Once its write completed, an entry lets go of the strings its Event
 * was built from (the bytes the recorder holds drop by the message's
 * length); a repeat brings them again, and its write is the same Event
 * -- the same name, object, reason, type, message and firstTimestamp --
 * with the new count. */
static void repeat_after_the_write_is_the_same_event(void **state) {
  static const char *const same[] = {
      "metadata.name", "metadata.namespace", "involvedObject.apiVersion",
      "involvedObject.kind", "involvedObject.namespace",
      "involvedObject.name", "involvedObject.uid", "reason", "message",
      "type", "source.component", "source.host", "firstTimestamp",
      "reportingComponent", "reportingInstance"};
  char msg[1001];
  env e;
  cJSON *reqs, *post, *patch;
  size_t busy, idle, i;

  (void) state;
  memset(msg, 'x', 1000);
  msg[1000] = '\0';
  env_open(&e, "h", 0, 0);
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING, "Conflict",
                                     "%s", msg), 0);
  busy = sb_recorder_bytes(e.r);
  wait_writes(&e, 1);
  idle = sb_recorder_bytes(e.r);
  assert_true(idle + 1000 < busy);
  run_for(&e.loop, 1100);  /* lastTimestamp has a resolution of 1 s */
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING, "Conflict",
                                     "%s", msg), 0);
  assert_true(sb_recorder_bytes(e.r) > idle + 1000);
  wait_writes(&e, 2);
  assert_int_equal(sb_recorder_bytes(e.r), idle);
  reqs = fake_requests(&e.loop, e.k, NULL, EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 2);
  assert_string_equal(jstr(cJSON_GetArrayItem(reqs, 1), "method"), "PATCH");
  post = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0), "body");
  patch = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 1), "body");
  for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
    assert_non_null(jstr(post, same[i]));
    assert_non_null(jstr(patch, same[i]));
    assert_string_equal(jstr(patch, same[i]), jstr(post, same[i]));
  }
  assert_int_equal(count_keys(patch), count_keys(post));
  assert_int_equal(jnum(post, "count"), 1);
  assert_int_equal(jnum(patch, "count"), 2);
  assert_true(strcmp(jstr(patch, "lastTimestamp"),
                     jstr(post, "lastTimestamp")) > 0);
  cJSON_Delete(reqs);
  env_close(&e);
}

static void window_expiry_starts_a_new_event(void **state) {
  env e;
  cJSON *reqs;

  (void) state;
  env_open(&e, "h", 0, 150);
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_NORMAL,
                                     "Translated", "ok"), 0);
  wait_writes(&e, 1);
  run_for(&e.loop, 200);
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_NORMAL,
                                     "Translated", "ok"), 0);
  wait_writes(&e, 2);
  reqs = fake_requests(&e.loop, e.k, NULL, EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 2);
  assert_string_equal(jstr(cJSON_GetArrayItem(reqs, 1), "method"), "POST");
  assert_string_not_equal(jstr(cJSON_GetArrayItem(reqs, 0),
                               "body.metadata.name"),
                          jstr(cJSON_GetArrayItem(reqs, 1),
                               "body.metadata.name"));
  cJSON_Delete(reqs);
  env_close(&e);
}

/* An Event that leaves the table while its write is out (a repeat after
 * the window starts a new Event) leaves its write behind as an orphan. The
 * new Event's entry may take the same slot; the orphan's completion must
 * not touch it: the new Event still folds its repeat into its own write,
 * and every string is freed once both writes are done. */
static void orphan_write_completes(void **state) {
  char msg[1001];
  size_t busy, idle;
  cJSON *reqs, *a, *b;
  env e;

  (void) state;
  memset(msg, 'x', 1000);
  msg[1000] = '\0';
  env_open(&e, "h", 0, 150);
  cJSON_Delete(fake_ctl(&e.loop, e.k, "/_fault?method=POST&path=" EVENTS
                        "&ms=800&times=1"));
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING, "Conflict",
                                     "%s", msg), 0);
  run_for(&e.loop, 300);  /* the POST is out, the window over */
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING, "Conflict",
                                     "%s", msg), 0);
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING, "Conflict",
                                     "%s", msg), 0);
  busy = sb_recorder_bytes(e.r);
  wait_writes(&e, 2);
  idle = sb_recorder_bytes(e.r);
  assert_true(idle + 2000 < busy);  /* both Events' strings freed */
  reqs = fake_requests(&e.loop, e.k, NULL, EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 2);
  a = cJSON_GetArrayItem(reqs, 0);
  b = cJSON_GetArrayItem(reqs, 1);
  assert_string_equal(jstr(a, "method"), "POST");
  assert_string_equal(jstr(b, "method"), "POST");
  assert_string_not_equal(jstr(a, "body.metadata.name"),
                          jstr(b, "body.metadata.name"));
  assert_int_equal(jnum(a, "body.count"), 1);
  assert_int_equal(jnum(b, "body.count"), 2);
  cJSON_Delete(reqs);
  env_close(&e);
}

static void spam_filter_per_object(void **state) {
  env e;
  cJSON *reqs;
  int i;

  (void) state;
  env_open(&e, "h", 0, 0);
  for (i = 0; i < 30; i++)
    assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING,
                                       "InvalidSpec", "problem %d", i), 0);
  /* Repeats take tokens too: this one is dropped as well. */
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING,
                                     "InvalidSpec", "problem 0"), 0);
  /* Another object has its own bucket. */
  assert_int_equal(sb_recorder_event(e.r, &API, SB_EVENT_WARNING,
                                     "InvalidSpec", "problem 0"), 0);
  wait_writes(&e, 26);
  run_for(&e.loop, 100);
  assert_int_equal(sb_recorder_dropped(e.r), 6);
  reqs = fake_requests(&e.loop, e.k, "POST", EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 26);
  /* The first 25 of the object went out (in any order on the wire). */
  for (i = 0; i < 25; i++) {
    char want[32];
    const cJSON *it;
    int found = 0;

    snprintf(want, sizeof(want), "problem %d", i);
    cJSON_ArrayForEach(it, reqs)
      if (strcmp(jstr(it, "body.involvedObject.name"), "web") == 0 &&
          strcmp(jstr(it, "body.message"), want) == 0)
        found++;
    assert_int_equal(found, 1);
  }
  cJSON_Delete(reqs);
  reqs = fake_requests(&e.loop, e.k, "PATCH", EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 0);
  cJSON_Delete(reqs);
  env_close(&e);
}

static void message_is_truncated(void **state) {
  char msg[2100];
  env e;
  cJSON *reqs;
  const char *m;

  (void) state;
  env_open(&e, "h", 0, 0);
  memset(msg, 'a', 2000);
  msg[2000] = '\0';
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_NORMAL, "Long",
                                     "%s", msg), 0);
  /* A two-byte character across the 1024-byte line is left out whole. */
  memcpy(msg + 1023, "\xc3\xa9", 2);
  assert_int_equal(sb_recorder_event(e.r, &API, SB_EVENT_NORMAL, "Long",
                                     "%s", msg), 0);
  wait_writes(&e, 2);
  reqs = fake_requests(&e.loop, e.k, "POST", EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 2);
  m = jstr(cJSON_GetArrayItem(reqs, 0), "body.message");
  assert_int_equal(strlen(m), 1024);
  m = jstr(cJSON_GetArrayItem(reqs, 1), "body.message");
  assert_int_equal(strlen(m), 1023);
  assert_int_equal(m[1022], 'a');
  cJSON_Delete(reqs);
  env_close(&e);
}

static void failures_are_logged_not_retried(void **state) {
  env e;
  cJSON *reqs;
  unsigned long w, f;

  (void) state;
  env_open(&e, "h", 0, 0);
  cJSON_Delete(fake_ctl(&e.loop, e.k, "/_fault?method=POST&path=" EVENTS
                        "&code=403&reason=Forbidden&message=no&times=1"));
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_NORMAL,
                                     "Translated", "ok"), 0);
  wait_writes(&e, 1);
  run_for(&e.loop, 300);  /* nothing more goes out */
  sb_recorder_stats(e.r, &w, &f);
  assert_int_equal(w, 0);
  assert_int_equal(f, 1);
  reqs = fake_requests(&e.loop, e.k, NULL, EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 1);
  cJSON_Delete(reqs);
  /* The failed Event is forgotten: the next occurrence creates one. */
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_NORMAL,
                                     "Translated", "ok"), 0);
  wait_writes(&e, 2);
  reqs = fake_requests(&e.loop, e.k, "POST", EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 2);
  assert_int_equal(jnum(cJSON_GetArrayItem(reqs, 1), "body.count"), 1);
  cJSON_Delete(reqs);
  sb_recorder_stats(e.r, &w, &f);
  assert_int_equal(w, 1);
  assert_int_equal(f, 1);
  env_close(&e);
}

static void dry_run_logs_instead(void **state) {
  env e;
  FILE *log;
  cJSON *reqs;
  char *text, *second;
  unsigned long w, f;

  (void) state;
  env_open(&e, "h", 1, 0);
  log = log_capture_start();
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING,
                                     "InvalidSpec", "bad weight"), 0);
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_WARNING,
                                     "InvalidSpec", "bad weight"), 0);
  text = log_capture_end(log);
  run_for(&e.loop, 100);
  reqs = fake_requests(&e.loop, e.k, NULL, "/");
  assert_int_equal(cJSON_GetArraySize(reqs), 0);
  cJSON_Delete(reqs);
  sb_recorder_stats(e.r, &w, &f);
  assert_int_equal(w + f, 0);
  assert_non_null(strstr(text, "msg=\"event (dry run)\" kind=TrafficSplit "
                               "namespace=shop name=web type=Warning "
                               "reason=InvalidSpec count=1 "
                               "message=\"bad weight\""));
  second = strstr(text, "count=2");
  assert_non_null(second);
  assert_null(strstr(second + 1, "event (dry run)"));
  free(text);
  env_close(&e);
}

/* The de-dup table holds 4096 Events: the oldest falls out first. Dry
 * run shows it without a server round trip per Event (the count in the
 * log says whether a repeat was folded in). */
static void table_is_bounded(void **state) {
  env e;
  FILE *log;
  char *text;
  sb_objref o = WEB;

  (void) state;
  env_open(&e, "h", 1, 0);
  log = log_capture_start();
  record_many(&e, "obj", 4097, "R", "m");
  /* obj-0 fell out (a new Event, count 1); obj-4096 is still known. */
  o.name = "obj-0";
  assert_int_equal(sb_recorder_event(e.r, &o, SB_EVENT_NORMAL, "R", "m"), 0);
  o.name = "obj-4096";
  assert_int_equal(sb_recorder_event(e.r, &o, SB_EVENT_NORMAL, "R", "m"), 0);
  text = log_capture_end(log);
  assert_non_null(strstr(text, "name=obj-4096 type=Normal reason=R count=1 "
                               "message=m\n"));
  assert_non_null(strstr(text, "name=obj-4096 type=Normal reason=R count=2 "
                               "message=m\n"));
  assert_null(strstr(text, "name=obj-0 type=Normal reason=R count=2"));
  assert_int_equal(sb_recorder_dropped(e.r), 0);
  free(text);
  env_close(&e);
}

/* Dry run keeps no strings at all: full tables of Events with 200-byte
 * messages cost less than 128 bytes an Event with its object's spam
 * bucket. And the tables still find every Event they hold -- after
 * growing from nothing and after half as many again pushed the oldest
 * out -- so each repeat is counted (count=2). */
static void tables_are_small(void **state) {
  char msg[201], name[32];
  sb_objref o = WEB;
  size_t events = 0, buckets = 0;
  env e;
  FILE *log;
  char *text, *at;
  int i, twos = 0;

  (void) state;
  memset(msg, 'm', 200);
  msg[200] = '\0';
  env_open(&e, "h", 1, 0);
  log = log_capture_start();
  record_many(&e, "obj", 4096 + 2048, "R", msg);
  assert_true(sb_recorder_bytes(e.r) < 4096 * 128);
  for (i = 2048; i < 4096 + 2048; i++) {
    snprintf(name, sizeof(name), "obj-%d", i);
    o.name = name;
    assert_int_equal(sb_recorder_event(e.r, &o, SB_EVENT_NORMAL, "R", "%s",
                                       msg), 0);
  }
  text = log_capture_end(log);
  for (at = text; (at = strstr(at, " reason=R count=2 ")); at++)
    twos++;
  assert_int_equal(twos, 4096);
  assert_null(strstr(text, "count=3"));
  sb_recorder_remembered(e.r, &events, &buckets);
  assert_int_equal(events, 4096);
  assert_int_equal(buckets, 4096);
  assert_true(sb_recorder_bytes(e.r) < 4096 * 128);
  free(text);
  env_close(&e);
}

static void close_cancels_writes(void **state) {
  env e;
  int n = 0;
  uint64_t t0;

  (void) state;
  env_open(&e, "h", 0, 0);
  cJSON_Delete(fake_ctl(&e.loop, e.k, "/_fault?method=POST&path=" EVENTS
                        "&ms=3000&times=1"));
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_NORMAL,
                                     "Translated", "ok"), 0);
  run_for(&e.loop, 100);  /* the POST is out */
  t0 = uv_now(&e.loop);
  sb_recorder_close(e.r, fake_closed, &n);
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_NORMAL,
                                     "Translated", "ok"), SB_ECLOSING);
  assert_int_equal(n, 0);  /* from the loop, not from close */
  run_until(&e.loop, &n);
  assert_true(uv_now(&e.loop) - t0 < 2500);  /* did not wait for it */
  fake_finish(&e.loop, e.k);
}

/* Writes go out one at a time, in the order the Events came, paced by
 * the recorder's own bucket. */
static void one_write_at_a_time(void **state) {
  env e;
  cJSON *reqs;
  sb_objref o = WEB;
  uint64_t t0;
  const char *names[] = {"a", "b", "c", "d"};
  int i;

  (void) state;
  env_open(&e, "h", 0, 0);
  cJSON_Delete(fake_ctl(&e.loop, e.k, "/_fault?method=POST&path=" EVENTS
                        "&ms=400&times=1"));
  for (i = 0; i < 3; i++) {
    o.name = names[i];
    assert_int_equal(sb_recorder_event(e.r, &o, SB_EVENT_NORMAL,
                                       "Translated", "ok"), 0);
  }
  run_for(&e.loop, 200);
  reqs = fake_requests(&e.loop, e.k, NULL, EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 1);  /* the others wait */
  cJSON_Delete(reqs);
  wait_writes(&e, 3);
  reqs = fake_requests(&e.loop, e.k, "POST", EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 3);
  for (i = 0; i < 3; i++)
    assert_string_equal(jstr(cJSON_GetArrayItem(reqs, i),
                             "body.involvedObject.name"), names[i]);
  cJSON_Delete(reqs);
  env_close(&e);

  /* 10 a second, no burst: four Events take at least 0.3 s. */
  env_open_paced(&e, "h", 0, 0, 10, 1);
  uv_update_time(&e.loop);
  t0 = uv_now(&e.loop);
  for (i = 0; i < 4; i++) {
    o.name = names[i];
    assert_int_equal(sb_recorder_event(e.r, &o, SB_EVENT_NORMAL,
                                       "Translated", "ok"), 0);
  }
  wait_writes(&e, 4);
  assert_true(uv_now(&e.loop) - t0 >= 290);
  env_close(&e);
}

/* Held (reconciles in flight), the recorder starts one write a second;
 * let go, it sends what waits at once. A queue half full goes at its own
 * pace even while held, so holding never makes the cap drop Events. */
static void held_events_wait(void **state) {
  env e;
  cJSON *reqs;
  uint64_t t0;
  unsigned long w, f;

  (void) state;
  env_open(&e, "h", 0, 0);
  sb_recorder_hold(e.r, 1);
  record_many(&e, "held", 3, "Translated", "ok");
  run_for(&e.loop, 500);
  reqs = fake_requests(&e.loop, e.k, "POST", EVENTS);
  assert_int_equal(cJSON_GetArraySize(reqs), 1);  /* the others wait */
  cJSON_Delete(reqs);
  uv_update_time(&e.loop);
  t0 = uv_now(&e.loop);
  sb_recorder_hold(e.r, 0);
  wait_writes(&e, 3);
  /* Held, the third would start two seconds after the first. */
  assert_true(uv_now(&e.loop) - t0 < 1200);
  env_close(&e);

  env_open(&e, "h", 0, 0);
  sb_recorder_hold(e.r, 1);
  record_many(&e, "many", 520, "Translated", "ok");
  run_for(&e.loop, 800);
  sb_recorder_stats(e.r, &w, &f);
  assert_true(w + f >= 3);
  assert_int_equal(sb_recorder_dropped(e.r), 0);
  env_close(&e);

  /* Held for good (reconciles that never stop): one a second, but none
   * waits more than five seconds -- twelve Events take about five
   * seconds, not eleven. */
  env_open(&e, "h", 0, 0);
  sb_recorder_hold(e.r, 1);
  uv_update_time(&e.loop);
  t0 = uv_now(&e.loop);
  record_many(&e, "steady", 12, "Translated", "ok");
  run_for(&e.loop, 2500);
  sb_recorder_stats(e.r, &w, &f);
  assert_true(w + f <= 4);  /* still held */
  wait_writes(&e, 12);
  assert_true(uv_now(&e.loop) - t0 < 8000);
  env_close(&e);
}

/* An Event last seen a window ago is forgotten (by a timer, without
 * another Event coming); its spam bucket, still short of a token, is
 * not. */
static void forgotten_after_the_window(void **state) {
  env e;
  size_t events = 9, buckets = 9, held;

  (void) state;
  env_open(&e, "h", 0, 150);
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_NORMAL,
                                     "Translated", "ok"), 0);
  wait_writes(&e, 1);
  sb_recorder_remembered(e.r, &events, &buckets);
  assert_int_equal(events, 1);
  assert_int_equal(buckets, 1);
  held = sb_recorder_bytes(e.r);
  run_for(&e.loop, 1300);
  sb_recorder_remembered(e.r, &events, &buckets);
  assert_int_equal(events, 0);
  assert_int_equal(buckets, 1);
  /* The empty table's arrays are gone too. */
  assert_true(sb_recorder_bytes(e.r) < held);
  env_close(&e);
}

/* While 1000 Events wait for their write, a new one is dropped. */
static void queue_is_bounded(void **state) {
  env e;
  sb_objref o = WEB;
  int n = 0;

  (void) state;
  env_open(&e, "h", 0, 0);
  cJSON_Delete(fake_ctl(&e.loop, e.k, "/_fault?method=POST&path=" EVENTS
                        "&ms=3000&times=1"));
  record_many(&e, "obj", 1002, "Translated", "ok");
  /* One out, a thousand waiting, one dropped. */
  assert_int_equal(sb_recorder_dropped(e.r), 1);
  /* A repeat of a waiting Event only raises its count. */
  o.name = "obj-5";
  assert_int_equal(sb_recorder_event(e.r, &o, SB_EVENT_NORMAL,
                                     "Translated", "ok"), 0);
  assert_int_equal(sb_recorder_dropped(e.r), 1);
  sb_recorder_close(e.r, fake_closed, &n);
  run_until(&e.loop, &n);
  fake_finish(&e.loop, e.k);
}

static void bad_arguments(void **state) {
  env e;
  sb_objref noname = {"v1", "Service", "shop", NULL, NULL};

  (void) state;
  env_open(&e, "h", 0, 0);
  assert_int_equal(sb_recorder_event(e.r, &noname, SB_EVENT_NORMAL, "R",
                                     "m"), SB_EINVAL);
  assert_int_equal(sb_recorder_event(e.r, &WEB, SB_EVENT_NORMAL, "", "m"),
                   SB_EINVAL);
  env_close(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(new_event_body),
      cmocka_unit_test(cluster_scoped_and_long_names),
      cmocka_unit_test(repeats_bump_count),
      cmocka_unit_test(repeat_after_the_write_is_the_same_event),
      cmocka_unit_test(window_expiry_starts_a_new_event),
    cmocka_unit_test(orphan_write_completes),
      cmocka_unit_test(spam_filter_per_object),
      cmocka_unit_test(message_is_truncated),
      cmocka_unit_test(failures_are_logged_not_retried),
      cmocka_unit_test(dry_run_logs_instead),
      cmocka_unit_test(table_is_bounded),
      cmocka_unit_test(tables_are_small),
      cmocka_unit_test(close_cancels_writes),
      cmocka_unit_test(one_write_at_a_time),
    cmocka_unit_test(held_events_wait),
    cmocka_unit_test(forgotten_after_the_window),
    cmocka_unit_test(queue_is_bounded),
    cmocka_unit_test(bad_arguments),
  };

  return cmocka_run_group_tests(tests, fake_setup, fake_teardown);
}
