/* test-http.c -- the curl-on-libuv transport against a real local HTTPS
 * server (tests/data/kube/testserver.py with a CA made at test time):
 * TLS verification, client certificates, tokens, streaming, cancel,
 * timeouts, limits, concurrency and a clean close.
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
#include "sb/http.h"
#include "sb/log.h"

#include "log-capture.h"

#include "kube-testsrv.h"

static testsrv srv;

typedef struct result {
  int done;              /* times the done callback ran */
  int err;
  long status;
  int version;
  long retry_after;
  char ctype[64];
  char body[4096];
  size_t body_len;
  char errmsg[256];
  int chunks;            /* data callbacks */
  size_t streamed;       /* bytes through the data callback */
  uint64_t first_data_ms;
  uint64_t done_ms;
  int cancel_on_data;    /* cancel from inside the first data callback */
  sb_http_req *req;
  uv_loop_t *loop;
  /* things done from inside callbacks */
  sb_http *h;
  int close_in_done;
  int start_in_data;
  struct result *child;
} result;

static int on_data(void *arg, const char *p, size_t n) {
  result *r = arg;

  (void) p;
  if (r->chunks++ == 0)
    r->first_data_ms = uv_now(r->loop);
  r->streamed += n;
  if (r->cancel_on_data)
    sb_http_cancel(r->req);
  return 0;
}

static void on_close(void *arg) {
  (*(int *) arg)++;
}

static void on_done(void *arg, const sb_http_resp *resp) {
  result *r = arg;

  r->done++;
  r->err = resp->err;
  r->status = resp->status;
  r->version = resp->version;
  r->retry_after = resp->retry_after;
  r->done_ms = uv_now(r->loop);
  snprintf(r->ctype, sizeof(r->ctype), "%s",
           resp->content_type ? resp->content_type : "");
  r->body_len = resp->body_len;
  snprintf(r->body, sizeof(r->body), "%s", resp->body);
  snprintf(r->errmsg, sizeof(r->errmsg), "%s", resp->errmsg);
  assert_non_null(resp->errmsg);
  if (r->close_in_done)
    assert_int_equal(sb_http_close(r->h, NULL, NULL), 0);
}

static sb_http_tls good_tls(void) {
  sb_http_tls t;

  memset(&t, 0, sizeof(t));
  t.ca = srv.ca;
  t.ca_len = srv.ca_len;
  return t;
}

static void start(sb_http *h, result *r, const char *method,
                  const char *path, const sb_http_tls *tls,
                  sb_http_opts *extra) {
  sb_http_opts o;
  char url[512];

  memset(&o, 0, sizeof(o));
  if (extra)
    o = *extra;
  snprintf(url, sizeof(url), "%s%s", srv.base, path);
  o.method = method;
  o.url = url;
  o.tls = tls;
  o.on_done = on_done;
  o.arg = r;
  assert_int_equal(sb_http_start(h, &o, &r->req), 0);
}

static uv_loop_t *new_loop(sb_http **h) {
  static uv_loop_t loop;

  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(sb_http_new(&loop, NULL, h), 0);
  return &loop;
}

static void close_all(uv_loop_t *loop, sb_http *h) {
  int closed = 0;

  if (h)
    assert_int_equal(sb_http_close(h, on_close, &closed), 0);
  assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
  if (h)
    assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(loop), 0);
}

static void get_with_token_and_client_cert(void **state) {
  sb_http *h;
  uv_loop_t *loop = new_loop(&h);
  sb_http_tls t = good_tls();
  sb_http_opts o;
  const char *hdrs[] = {"User-Agent: smi-bridge/test", NULL};
  result r = {0}, anon = {0};

  (void) state;
  r.loop = anon.loop = loop;
  memset(&o, 0, sizeof(o));
  o.token = "s3cret-token";
  o.headers = hdrs;
  t.cert = srv.cert;
  t.cert_len = srv.cert_len;
  t.key = srv.key;
  t.key_len = srv.key_len;
  start(h, &r, "GET", "/echo", &t, &o);
  r.loop = loop;
  t = good_tls();
  start(h, &anon, "GET", "/echo", &t, NULL);
  anon.loop = loop;
  assert_int_equal(r.done, 0);  /* never from inside start */
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.version, 1);
  assert_string_equal(r.ctype, "application/json");
  assert_int_equal(r.retry_after, -1);
  assert_non_null(strstr(r.body, "\"authorization\": \"Bearer s3cret-token\""));
  assert_non_null(strstr(r.body, "\"cn\": \"alice\""));
  assert_non_null(strstr(r.body, "\"user_agent\": \"smi-bridge/test\""));
  assert_int_equal(anon.done, 1);
  assert_non_null(strstr(anon.body, "\"authorization\": \"\""));
  assert_non_null(strstr(anon.body, "\"cn\": \"\""));
  close_all(loop, h);
}

static void methods_and_bodies(void **state) {
  sb_http *h;
  uv_loop_t *loop = new_loop(&h);
  sb_http_tls t = good_tls();
  const char *methods[] = {"POST", "PUT", "PATCH", "DELETE"};
  const char *hdrs[] = {"Content-Type: application/apply-patch+yaml", NULL};
  result r[5];
  sb_http_opts o;
  size_t i;

  (void) state;
  memset(r, 0, sizeof(r));
  memset(&o, 0, sizeof(o));
  o.body = "{\"a\":1}";
  o.body_len = 7;
  o.headers = hdrs;
  for (i = 0; i < 4; i++) {
    start(h, &r[i], methods[i], "/echo?x=1", &t, &o);
    r[i].loop = loop;
  }
  start(h, &r[4], "DELETE", "/echo", &t, NULL);  /* no body */
  r[4].loop = loop;
  uv_run(loop, UV_RUN_DEFAULT);
  for (i = 0; i < 4; i++) {
    char want[64];

    assert_int_equal(r[i].status, 200);
    snprintf(want, sizeof(want), "\"method\": \"%s\"", methods[i]);
    assert_non_null(strstr(r[i].body, want));
    assert_non_null(strstr(r[i].body, "\"body\": \"{\\\"a\\\":1}\""));
    assert_non_null(strstr(r[i].body,
                   "\"content_type\": \"application/apply-patch+yaml\""));
    assert_non_null(strstr(r[i].body, "\"path\": \"/echo?x=1\""));
  }
  assert_non_null(strstr(r[4].body, "\"method\": \"DELETE\""));
  assert_non_null(strstr(r[4].body, "\"body\": \"\""));
  close_all(loop, h);
}

static void tls_failures_are_clear(void **state) {
  sb_http *h;
  uv_loop_t *loop = new_loop(&h);
  sb_http_tls wrong = good_tls(), none, named = good_tls(),
              badname = good_tls(), insecure;
  result r[5];

  (void) state;
  memset(r, 0, sizeof(r));
  memset(&none, 0, sizeof(none));
  memset(&insecure, 0, sizeof(insecure));
  wrong.ca = srv.other_ca;
  wrong.ca_len = srv.other_ca_len;
  named.server_name = "kube.test";
  badname.server_name = "wrong.test";
  insecure.insecure = 1;
  insecure.ca = srv.other_ca;
  insecure.ca_len = srv.other_ca_len;
  start(h, &r[0], "GET", "/echo", &wrong, NULL);
  start(h, &r[1], "GET", "/echo", &none, NULL);      /* system store */
  start(h, &r[2], "GET", "/echo", &named, NULL);
  start(h, &r[3], "GET", "/echo", &badname, NULL);
  start(h, &r[4], "GET", "/echo", &insecure, NULL);
  for (int i = 0; i < 5; i++)
    r[i].loop = loop;
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(r[0].err, SB_ETLS);
  assert_int_equal(r[0].status, 0);
  assert_non_null(strstr(r[0].errmsg, "certificate"));
  assert_int_equal(r[1].err, SB_ETLS);
  /* The server name is what the certificate is checked against, while
   * the connection still goes to 127.0.0.1. */
  assert_int_equal(r[2].err, 0);
  assert_int_equal(r[2].status, 200);
  assert_non_null(strstr(r[2].body, "kube.test"));
  assert_int_equal(r[3].err, SB_ETLS);
  assert_non_null(strstr(r[3].errmsg, "wrong.test"));
  assert_int_equal(r[4].err, 0);
  assert_int_equal(r[4].status, 200);
  close_all(loop, h);
}

static void streaming_is_incremental(void **state) {
  sb_http *h;
  uv_loop_t *loop = new_loop(&h);
  sb_http_tls t = good_tls();
  sb_http_opts o;
  result r = {0};

  (void) state;
  memset(&o, 0, sizeof(o));
  o.on_data = on_data;
  r.loop = loop;
  start(h, &r, "GET", "/stream?n=5&ms=150", &t, &o);
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.done, 1);
  assert_true(r.chunks >= 3);  /* not one lump at the end */
  assert_int_equal(r.body_len, 0);
  assert_int_equal(r.streamed, 5 * strlen(
      "{\"type\": \"ADDED\", \"object\": {\"i\": 0}}\n"));
  /* The first event arrived while the server was still sending. */
  assert_true(r.done_ms - r.first_data_ms >= 450);
  close_all(loop, h);
}

static void error_bodies_are_buffered(void **state) {
  sb_http *h;
  uv_loop_t *loop = new_loop(&h);
  sb_http_tls t = good_tls();
  sb_http_opts o;
  result gone = {0}, busy = {0};

  (void) state;
  memset(&o, 0, sizeof(o));
  o.on_data = on_data;
  start(h, &gone, "GET", "/status?code=410&reason=Expired", &t, &o);
  start(h, &busy, "GET", "/status?code=429&reason=TooManyRequests&retry=7",
        &t, &o);
  gone.loop = busy.loop = loop;
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(gone.err, 0);
  assert_int_equal(gone.status, 410);
  assert_int_equal(gone.chunks, 0);
  assert_non_null(strstr(gone.body, "\"reason\": \"Expired\""));
  assert_int_equal(busy.status, 429);
  assert_int_equal(busy.retry_after, 7);
  close_all(loop, h);
}

static int count_of(const char *hay, const char *needle) {
  int n = 0;

  while ((hay = strstr(hay, needle)) != NULL) {
    n++;
    hay += strlen(needle);
  }
  return n;
}

/* A Warning header is logged with the request it came with, the text
 * unquoted; the response itself is unchanged. The same text again soon
 * after is not repeated at the default level; another text is, and so is
 * the same text once the quiet time has passed. */
static void warnings_are_logged(void **state) {
  static const char *paths[] = {
      "/status?code=200&warning=unknown%20field%20%22spec.fo%5Co%22",
      "/status?code=200&warning=unknown%20field%20%22spec.fo%5Co%22",
      "/status?code=200&warning=deprecated",
      "/status?code=200&warning=unknown%20field%20%22spec.fo%5Co%22"};
  static uv_loop_t lp;
  uv_loop_t *loop = &lp;
  sb_http_config cfg = {0, 0, 300};
  sb_http *h;
  sb_http_tls t = good_tls();
  sb_http_opts o;
  result r = {0};
  FILE *log;
  char *text;
  size_t i;

  (void) state;
  assert_int_equal(uv_loop_init(loop), 0);
  assert_int_equal(sb_http_new(loop, &cfg, &h), 0);
  memset(&o, 0, sizeof(o));
  log = log_capture_start();
  for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
    if (i == 3)
      uv_sleep(350);  /* past the quiet time */
    uv_update_time(loop);
    memset(&r, 0, sizeof(r));
    start(h, &r, "PATCH", paths[i], &t, &o);
    r.loop = loop;
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.status, 200);
  }
  text = log_capture_end(log);
  assert_non_null(strstr(text, "level=warning msg=\"API server warning\" "
                               "method=PATCH path=\"/status?code=200&"));
  assert_non_null(strstr(text, "warning=\"unknown field \\\"spec.fo\\\\o\\\"\""));
  assert_int_equal(count_of(text, "msg=\"API server warning\""), 3);
  assert_int_equal(count_of(text, " warning=\"unknown field"), 2);
  assert_int_equal(count_of(text, " warning=deprecated"), 1);
  free(text);
  close_all(loop, h);
}

static void cancel_paths(void **state) {
  sb_http *h;
  uv_loop_t *loop = new_loop(&h);
  sb_http_tls t = good_tls();
  sb_http_opts o;
  result early = {0}, mid = {0};

  (void) state;
  memset(&o, 0, sizeof(o));
  o.on_data = on_data;
  start(h, &early, "GET", "/stream?n=1&hold=1", &t, &o);
  early.loop = loop;
  sb_http_cancel(early.req);
  assert_int_equal(early.done, 0);  /* deferred, never synchronous */
  mid.cancel_on_data = 1;
  start(h, &mid, "GET", "/stream?n=3&ms=200&hold=1", &t, &o);
  mid.loop = loop;
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(early.done, 1);
  assert_int_equal(early.err, SB_ECANCELED);
  assert_int_equal(early.chunks, 0);
  assert_int_equal(mid.done, 1);
  assert_int_equal(mid.err, SB_ECANCELED);
  assert_int_equal(mid.chunks, 1);  /* nothing after the cancel */
  close_all(loop, h);
}

static void timeouts_and_refusals(void **state) {
  sb_http *h;
  uv_loop_t *loop = new_loop(&h);
  sb_http_tls t = good_tls();
  sb_http_opts total, idle, refused;
  result slow = {0}, quiet = {0}, dead = {0};
  char url[64];
  uint64_t t0;

  (void) state;
  memset(&total, 0, sizeof(total));
  memset(&idle, 0, sizeof(idle));
  total.timeout_ms = 300;
  start(h, &slow, "GET", "/slow?ms=3000", &t, &total);
  idle.idle_timeout_ms = 1000;
  idle.on_data = on_data;
  start(h, &quiet, "GET", "/stream?n=0&hold=1", &t, &idle);
  memset(&refused, 0, sizeof(refused));
  snprintf(url, sizeof(url), "https://127.0.0.1:%d/", testsrv_dead_port());
  refused.method = "GET";
  refused.url = url;
  refused.on_done = on_done;
  refused.arg = &dead;
  assert_int_equal(sb_http_start(h, &refused, NULL), 0);
  slow.loop = quiet.loop = dead.loop = loop;
  t0 = uv_now(loop);
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(slow.err, SB_ETIMEOUT);
  assert_true(slow.done_ms - t0 < 2500);
  assert_int_equal(quiet.err, SB_ETIMEOUT);
  assert_int_equal(quiet.chunks, 0);
  assert_true(quiet.done_ms - t0 >= 900);
  assert_true(quiet.done_ms - t0 < 5000);
  assert_int_equal(dead.err, SB_ECONNECT);
  assert_true(strlen(dead.errmsg) > 0);
  close_all(loop, h);
}

/* A GET whose response stops half-way is sent again after stall_ms; one
 * without stall_ms waits for its timeout. */
static void stalled_responses_are_sent_again(void **state) {
  sb_http *h;
  uv_loop_t *loop = new_loop(&h);
  sb_http_tls t = good_tls();
  sb_http_opts o;
  result again = {0}, stuck = {0}, count = {0};

  (void) state;
  memset(&o, 0, sizeof(o));
  o.stall_ms = 300;
  o.timeout_ms = 2500;
  start(h, &again, "GET", "/stall?bytes=100000&key=again&hold=3", &t, &o);
  o.stall_ms = 0;
  start(h, &stuck, "GET", "/stall?bytes=100000&key=stuck&hold=3", &t, &o);
  again.loop = stuck.loop = loop;
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(again.err, 0);
  assert_int_equal(again.status, 200);
  assert_int_equal(again.body_len, 100000);  /* the second answer only */
  assert_int_equal(stuck.err, SB_ETIMEOUT);
  count.loop = loop;
  start(h, &count, "GET", "/stall/count?key=again", &t, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  assert_string_equal(count.body, "{\"count\": 2}");
  close_all(loop, h);
}

static void body_cap(void **state) {
  sb_http *h;
  uv_loop_t *loop = new_loop(&h);
  sb_http_tls t = good_tls();
  sb_http_opts o;
  result big = {0}, fits = {0};

  (void) state;
  memset(&o, 0, sizeof(o));
  o.max_body = 1000;
  start(h, &big, "GET", "/big?bytes=100000", &t, &o);
  start(h, &fits, "GET", "/big?bytes=1000", &t, &o);
  big.loop = fits.loop = loop;
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(big.err, SB_ELIMIT);
  assert_int_equal(fits.err, 0);
  assert_int_equal(fits.body_len, 1000);
  close_all(loop, h);
}

static void bad_start_never_calls_back(void **state) {
  sb_http *h;
  uv_loop_t *loop = new_loop(&h);
  sb_http_opts o;
  result r = {0};

  (void) state;
  memset(&o, 0, sizeof(o));
  o.method = "GET";
  o.url = "ftp://example/";
  o.on_done = on_done;
  o.arg = &r;
  assert_int_equal(sb_http_start(h, &o, NULL), SB_EINVAL);
  o.url = NULL;
  assert_int_equal(sb_http_start(h, &o, NULL), SB_EINVAL);
  o.url = "https://127.0.0.1:1/";
  o.on_done = NULL;
  assert_int_equal(sb_http_start(h, &o, NULL), SB_EINVAL);
  assert_int_equal(sb_http_active(h), 0);
  close_all(loop, h);
  assert_int_equal(r.done, 0);
}

/* N watches that never end and a batch of writes: every write completes
 * while the watches stay open (they must not take the slots writes need),
 * then closing the client ends the watches. */
static void watches_do_not_starve_writes(void **state) {
  enum { NWATCH = 12, NWRITE = 40 };
  sb_http *h;
  uv_loop_t *loop = new_loop(&h);
  sb_http_tls t = good_tls();
  sb_http_opts wo, po;
  static result w[NWATCH], p[NWRITE];
  int i, closed = 0;

  (void) state;
  memset(w, 0, sizeof(w));
  memset(p, 0, sizeof(p));
  memset(&wo, 0, sizeof(wo));
  wo.on_data = on_data;
  memset(&po, 0, sizeof(po));
  po.body = "{}";
  po.body_len = 2;
  for (i = 0; i < NWATCH; i++) {
    start(h, &w[i], "GET", "/stream?n=1&hold=1", &t, &wo);
    w[i].loop = loop;
  }
  for (i = 0; i < NWRITE; i++) {
    start(h, &p[i], "PATCH", "/echo", &t, &po);
    p[i].loop = loop;
  }
  /* Run until every write is done (bounded: the idle-less watches would
   * keep the loop alive forever). */
  for (i = 0; i < 2000; i++) {
    int n = 0, k;

    uv_run(loop, UV_RUN_ONCE);
    for (k = 0; k < NWRITE; k++)
      n += p[k].done;
    if (n == NWRITE)
      break;
  }
  for (i = 0; i < NWRITE; i++) {
    assert_int_equal(p[i].done, 1);
    assert_int_equal(p[i].status, 200);
  }
  for (i = 0; i < NWATCH; i++)
    assert_int_equal(w[i].done, 0);
  assert_int_equal(sb_http_active(h), NWATCH);
  assert_int_equal(sb_http_close(h, on_close, &closed), 0);
  assert_int_equal(sb_http_close(h, on_close, &closed), SB_ECLOSING);
  assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(closed, 1);
  for (i = 0; i < NWATCH; i++) {
    assert_int_equal(w[i].done, 1);
    assert_int_equal(w[i].err, SB_ECANCELED);
  }
  assert_int_equal(uv_loop_close(loop), 0);
}

static void child_done(void *arg, const sb_http_resp *resp) {
  on_done(arg, resp);
}

static int data_starts_request(void *arg, const char *p, size_t n) {
  result *r = arg;
  sb_http_opts o;
  char url[256];

  on_data(arg, p, n);
  if (r->chunks == 1) {
    memset(&o, 0, sizeof(o));
    snprintf(url, sizeof(url), "%s/echo", srv.base);
    o.method = "GET";
    o.url = url;
    o.tls = &(sb_http_tls){.ca = srv.ca, .ca_len = srv.ca_len};
    o.on_done = child_done;
    o.arg = r->child;
    assert_int_equal(sb_http_start(r->h, &o, NULL), 0);
  }
  return 0;
}

/* Starting a request from inside a data callback (inside curl) and closing
 * the client from inside a done callback both work. */
static void reentrant_calls(void **state) {
  sb_http *h;
  uv_loop_t *loop = new_loop(&h);
  sb_http_tls t = good_tls();
  sb_http_opts o;
  result parent = {0}, child = {0}, other = {0};

  (void) state;
  memset(&o, 0, sizeof(o));
  o.on_data = data_starts_request;
  parent.h = child.h = h;
  parent.child = &child;
  child.close_in_done = 1;
  parent.loop = child.loop = other.loop = loop;
  start(h, &parent, "GET", "/stream?n=1&hold=1", &t, &o);
  parent.loop = loop;
  memset(&o, 0, sizeof(o));
  o.on_data = on_data;
  start(h, &other, "GET", "/stream?n=1&hold=1", &t, &o);
  other.loop = loop;
  assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(child.done, 1);
  assert_int_equal(child.status, 200);
  assert_int_equal(parent.done, 1);
  assert_int_equal(parent.err, SB_ECANCELED);
  assert_int_equal(other.done, 1);
  assert_int_equal(other.err, SB_ECANCELED);
  assert_int_equal(uv_loop_close(loop), 0);
}

static int setup(void **state) {
  (void) state;
  signal(SIGPIPE, SIG_IGN);
  return testsrv_start(&srv);
}

static int teardown(void **state) {
  (void) state;
  testsrv_stop(&srv);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(get_with_token_and_client_cert),
      cmocka_unit_test(methods_and_bodies),
      cmocka_unit_test(tls_failures_are_clear),
      cmocka_unit_test(streaming_is_incremental),
      cmocka_unit_test(error_bodies_are_buffered),
      cmocka_unit_test(warnings_are_logged),
      cmocka_unit_test(cancel_paths),
      cmocka_unit_test(timeouts_and_refusals),
      cmocka_unit_test(stalled_responses_are_sent_again),
      cmocka_unit_test(body_cap),
      cmocka_unit_test(bad_start_never_calls_back),
      cmocka_unit_test(watches_do_not_starve_writes),
      cmocka_unit_test(reentrant_calls),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
