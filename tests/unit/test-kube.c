/* test-kube.c -- the Kubernetes client: pure parts (watch line splitter,
 * Status decoding, URL building) and the verbs against the small fake API
 * server in tests/data/kube/testserver.py (list pagination, watch with a
 * 410 ERROR event, server-side apply twice, delete preconditions, 403, 401
 * with token refresh and exec plugin re-run, rate limiting, cancel and
 * close).
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

#include "../../src/kube/kube-int.h"
#include "sb/err.h"
#include "sb/kube.h"

#include "kube-testsrv.h"

static testsrv srv;

/* ---- line splitter ------------------------------------------------------ */

typedef struct lines_seen {
  int n;
  char v[8][64];
  int stop_at;  /* return an error on this line (1-based), 0 never */
} lines_seen;

static int collect(void *arg, const char *line, size_t len) {
  lines_seen *s = arg;

  if (s->n < 8)
    snprintf(s->v[s->n], sizeof(s->v[0]), "%.*s", (int) len, line);
  s->n++;
  return s->n == s->stop_at ? SB_ECANCELED : 0;
}

static void line_splitter(void **state) {
  static const char stream[] = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n";
  lines_seen s;
  sb__lines l;
  size_t cut, i;

  (void) state;
  /* Every way of cutting the stream in two gives the same lines. */
  for (cut = 0; cut <= sizeof(stream) - 1; cut++) {
    memset(&s, 0, sizeof(s));
    sb__lines_init(&l, 64, collect, &s);
    assert_int_equal(sb__lines_feed(&l, stream, cut), 0);
    assert_int_equal(sb__lines_feed(&l, stream + cut,
                                    sizeof(stream) - 1 - cut), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.v[0], "{\"a\":1}");
    assert_string_equal(s.v[1], "{\"b\":2}");  /* \r dropped */
    assert_string_equal(s.v[2], "{\"c\":3}");
    assert_int_equal(sb__lines_pending(&l), 0);
    sb__lines_free(&l);
  }
  /* Byte by byte, and a partial line waits. */
  memset(&s, 0, sizeof(s));
  sb__lines_init(&l, 64, collect, &s);
  for (i = 0; i < sizeof(stream) - 1; i++)
    assert_int_equal(sb__lines_feed(&l, stream + i, 1), 0);
  assert_int_equal(s.n, 3);
  assert_int_equal(sb__lines_feed(&l, "{\"par", 5), 0);
  assert_int_equal(s.n, 3);
  assert_int_equal(sb__lines_pending(&l), 5);
  assert_int_equal(sb__lines_feed(&l, "tial\":1}\n", 9), 0);
  assert_string_equal(s.v[3], "{\"partial\":1}");
  sb__lines_free(&l);

  /* The cap: exactly max passes, one more byte fails, in one chunk or
   * across chunks. */
  memset(&s, 0, sizeof(s));
  sb__lines_init(&l, 8, collect, &s);
  assert_int_equal(sb__lines_feed(&l, "12345678\n", 9), 0);
  assert_int_equal(sb__lines_feed(&l, "123456789\n", 10), SB_ELIMIT);
  sb__lines_free(&l);
  sb__lines_init(&l, 8, collect, &s);
  assert_int_equal(sb__lines_feed(&l, "12345", 5), 0);
  assert_int_equal(sb__lines_feed(&l, "6789", 4), SB_ELIMIT);
  sb__lines_free(&l);
  sb__lines_init(&l, 8, collect, &s);
  assert_int_equal(sb__lines_feed(&l, "1234", 4), 0);
  assert_int_equal(sb__lines_feed(&l, "56789\n", 6), SB_ELIMIT);
  sb__lines_free(&l);

  /* A callback's error stops the feed. */
  memset(&s, 0, sizeof(s));
  s.stop_at = 2;
  sb__lines_init(&l, 64, collect, &s);
  assert_int_equal(sb__lines_feed(&l, stream, sizeof(stream) - 1),
                   SB_ECANCELED);
  assert_int_equal(s.n, 2);
  sb__lines_free(&l);
}

/* ---- Status ----------------------------------------------------------- */

static void status_decoding(void **state) {
  static const struct {
    long http;
    const char *body;
    int err;
    const char *reason;
    const char *msg;
  } cases[] = {
      {403, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
            "\"Failure\",\"message\":\"configmaps \\\"x\\\" is forbidden: "
            "User \\\"u\\\" cannot patch resource \\\"configmaps\\\"\","
            "\"reason\":\"Forbidden\",\"code\":403}",
       SB_EFORBIDDEN, "Forbidden",
       "configmaps \"x\" is forbidden: User \"u\" cannot patch resource "
       "\"configmaps\""},
      {409, "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"code\":409,"
            "\"message\":\"exists\"}", SB_EEXIST, "AlreadyExists", "exists"},
      {409, "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"code\":409,"
            "\"message\":\"modified\"}", SB_ECONFLICT, "Conflict",
       "modified"},
      {404, "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404,"
            "\"message\":\"x not found\"}", SB_ENOTFOUND, "NotFound",
       "x not found"},
      {410, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"code\":410,"
            "\"message\":\"too old\"}", SB_EGONE, "Expired", "too old"},
      {429, "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\","
            "\"code\":429}", SB_ETOOMANY, "TooManyRequests",
       "HTTP 429 TooManyRequests"},
      {401, "{\"kind\":\"Status\",\"code\":401,\"message\":\"Unauthorized\"}",
       SB_EUNAUTHORIZED, "", "Unauthorized"},
      {422, "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"code\":422,"
            "\"message\":\"spec.x: Invalid value\"}", SB_EINVAL, "Invalid",
       "spec.x: Invalid value"},
      {503, "{\"kind\":\"Status\",\"reason\":\"ServiceUnavailable\","
            "\"code\":503,\"message\":\"line one\\nline two\"}", SB_EHTTP,
       "ServiceUnavailable", "line one line two"},
      {502, "<html>bad gateway</html>", SB_EHTTP, "",
       "HTTP 502: <html>bad gateway</html>"},
      {500, "", SB_EHTTP, "", "HTTP 500"},
  };
  sb__status st;
  size_t i;

  (void) state;
  for (i = 0; i < SB_ARRAY_SIZE(cases); i++) {
    sb__status_decode(cases[i].http, cases[i].body, strlen(cases[i].body),
                      &st);
    assert_int_equal(st.err, cases[i].err);
    assert_int_equal(st.code, cases[i].http);
    assert_string_equal(st.reason, cases[i].reason);
    assert_string_equal(st.message, cases[i].msg);
  }
}

static void url_building(void **state) {
  sb_kube_target t = {{"split.smi-spec.io", "v1alpha4", "trafficsplits"},
                      "team a", NULL, NULL};
  sb_kube_query q;
  sb_buf b;

  (void) state;
  memset(&q, 0, sizeof(q));
  sb_buf_init(&b, 4096);
  assert_int_equal(sb_kube_path(&t, NULL, 0, &b), 0);
  assert_string_equal(sb_buf_cstr(&b),
                      "/apis/split.smi-spec.io/v1alpha4/namespaces/team%20a/"
                      "trafficsplits");
  sb_buf_reset(&b);
  t.gvr.group = "";
  t.gvr.version = "v1";
  t.gvr.resource = "pods";
  t.ns = NULL;
  t.name = "p/1";
  t.subresource = "status";
  assert_int_equal(sb_kube_path(&t, NULL, 0, &b), 0);
  assert_string_equal(sb_buf_cstr(&b), "/api/v1/pods/p%2F1/status");
  sb_buf_reset(&b);
  t.name = NULL;
  q.label_selector = "app in (a,b),tier!=db";
  q.field_selector = "metadata.name=x";
  q.resource_version = "123";
  q.resource_version_match = "NotOlderThan";
  q.limit = 500;
  q.cont = "eyJ2IjoxfQ==";
  q.allow_bookmarks = 1;
  q.timeout_seconds = 300;
  q.send_initial_events = 1;
  assert_int_equal(sb_kube_path(&t, &q, 0, &b), 0);
  assert_string_equal(sb_buf_cstr(&b),
                      "/api/v1/pods?labelSelector=app%20in%20%28a%2Cb%29%2C"
                      "tier%21%3Ddb&fieldSelector=metadata.name%3Dx&"
                      "resourceVersion=123&resourceVersionMatch=NotOlderThan"
                      "&limit=500&continue=eyJ2IjoxfQ%3D%3D");
  sb_buf_reset(&b);
  q.label_selector = q.field_selector = q.cont = NULL;
  q.limit = 0;
  q.resource_version_match = NULL;
  assert_int_equal(sb_kube_path(&t, &q, 1, &b), 0);
  assert_string_equal(sb_buf_cstr(&b),
                      "/api/v1/pods?watch=true&resourceVersion=123&"
                      "allowWatchBookmarks=true&timeoutSeconds=300&"
                      "sendInitialEvents=true");
  t.gvr.resource = NULL;
  assert_int_equal(sb_kube_path(&t, &q, 1, &b), SB_EINVAL);
  sb_buf_free(&b);
}

/* ---- the client against the fake API server --------------------------- */

typedef struct res {
  int done;
  int err;
  long status;
  long retry_after;
  char reason[64];
  char msg[512];
  cJSON *body;
  int events;
  char types[16][16];
  char names[16][32];
  unsigned seq;          /* completion order across all calls */
} res;

static unsigned completions;

static void on_res(void *arg, sb_kube_result *r) {
  res *x = arg;

  x->done++;
  x->seq = ++completions;
  x->err = r->err;
  x->status = r->status;
  x->retry_after = r->retry_after;
  assert_non_null(r->reason);
  assert_non_null(r->message);
  snprintf(x->reason, sizeof(x->reason), "%s", r->reason);
  snprintf(x->msg, sizeof(x->msg), "%s", r->message);
  cJSON_Delete(x->body);
  x->body = r->body;  /* taken */
  r->body = NULL;
  /* A list page's items come one at a time; put them back in the body so
   * that the tests see the whole page. */
  if (x->body) {
    cJSON *items = cJSON_GetObjectItem(x->body, "items"), *it;
    int err;

    while ((it = sb_kube_next_item(r, &err)) != NULL) {
      assert_true(cJSON_IsArray(items));
      cJSON_AddItemToArray(items, it);
    }
    assert_int_equal(err, 0);
  }
}

static int on_event(void *arg, sb_kube_event *ev) {
  res *x = arg;
  const cJSON *m = cJSON_GetObjectItem(ev->object, "metadata");
  const cJSON *n = cJSON_GetObjectItem(m, "name");

  if (x->events < 16) {
    snprintf(x->types[x->events], 16, "%s", ev->type);
    snprintf(x->names[x->events], 32, "%s",
             cJSON_IsString(n) ? n->valuestring : "");
  }
  x->events++;
  return 0;
}

static const char *body_str(const cJSON *j, const char *a, const char *b) {
  const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(j, a), b);

  return cJSON_IsString(v) ? v->valuestring : "";
}

typedef struct metrics {
  int n;
  char seen[32][24];
} metrics;

static void on_metric(void *arg, const char *method, int code) {
  metrics *m = arg;

  if (m->n < 32)
    snprintf(m->seen[m->n], sizeof(m->seen[0]), "%s %d", method, code);
  m->n++;
}

static sb_kubeconfig cfg;
static char token_path[512];
static char server[128];

static void write_token(const char *tok) {
  FILE *f = fopen(token_path, "w");

  assert_non_null(f);
  fputs(tok, f);
  fclose(f);
}

static void base_cfg(const char *token) {
  memset(&cfg, 0, sizeof(cfg));
  snprintf(server, sizeof(server), "%s/kube", srv.base);
  cfg.origin = "kubeconfig test";
  cfg.server = server;
  cfg.ca = srv.ca;
  cfg.ca_len = srv.ca_len;
  cfg.token = (char *) token;
  cfg.token_reload_ms = 60000;
}

static sb_kube *new_client(uv_loop_t *loop, const sb_kube_opts *o) {
  sb_kube *k;

  assert_int_equal(uv_loop_init(loop), 0);
  assert_int_equal(sb_kube_new(loop, &cfg, o, &k), 0);
  return k;
}

static void closed(void *arg) {
  (*(int *) arg)++;
}

static void finish(uv_loop_t *loop, sb_kube *k) {
  int n = 0;

  assert_int_equal(sb_kube_close(k, closed, &n), 0);
  assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(n, 1);
  assert_int_equal(uv_loop_close(loop), 0);
}

static cJSON *configmap(const char *name, const char *key, const char *val) {
  cJSON *o = cJSON_CreateObject(), *m, *d;

  cJSON_AddStringToObject(o, "apiVersion", "v1");
  cJSON_AddStringToObject(o, "kind", "ConfigMap");
  m = cJSON_AddObjectToObject(o, "metadata");
  cJSON_AddStringToObject(m, "name", name);
  d = cJSON_AddObjectToObject(o, "data");
  cJSON_AddStringToObject(d, key, val);
  return o;
}

static const sb_gvr CM = {"", "v1", "configmaps"};

static void run_until(uv_loop_t *loop, const int *flag) {
  int i;

  for (i = 0; i < 10000 && !*flag; i++)
    uv_run(loop, UV_RUN_ONCE);
  assert_true(*flag);
}

static void apply_get_list_delete(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  sb_kube_target t = {CM, "apply", "one", NULL};
  sb_kube_delete_opts del;
  cJSON *o = configmap("one", "k", "v1");
  res a1 = {0}, a2 = {0}, dry = {0}, got = {0}, gone = {0}, d1 = {0},
      d2 = {0}, made = {0}, dup = {0}, upd = {0}, stale = {0};
  char rv[32], uid[64];
  metrics m = {0};
  sb_kube_opts opts = {0};

  (void) state;
  base_cfg("admin");
  opts.on_request = on_metric;
  opts.metric_arg = &m;
  k = new_client(&loop, &opts);
  /* Server-side apply, twice: the second is a no-op. */
  assert_int_equal(sb_kube_apply(k, &t, o, 0, on_res, &a1, NULL), 0);
  run_until(&loop, &a1.done);
  assert_int_equal(a1.err, 0);
  assert_int_equal(a1.status, 200);
  assert_string_equal(body_str(a1.body, "data", "k"), "v1");
  snprintf(rv, sizeof(rv), "%s", body_str(a1.body, "metadata",
                                          "resourceVersion"));
  snprintf(uid, sizeof(uid), "%s", body_str(a1.body, "metadata", "uid"));
  assert_int_equal(sb_kube_apply(k, &t, o, 0, on_res, &a2, NULL), 0);
  run_until(&loop, &a2.done);
  assert_string_equal(body_str(a2.body, "metadata", "resourceVersion"), rv);
  /* Dry run is not stored. */
  cJSON_Delete(o);
  o = configmap("dry", "k", "v");
  t.name = NULL;  /* name from metadata */
  assert_int_equal(sb_kube_apply(k, &t, o, SB_KUBE_DRY_RUN, on_res, &dry,
                                 NULL), 0);
  run_until(&loop, &dry.done);
  assert_int_equal(dry.err, 0);
  t.name = "dry";
  assert_int_equal(sb_kube_get(k, &t, NULL, on_res, &gone, NULL), 0);
  run_until(&loop, &gone.done);
  assert_int_equal(gone.err, SB_ENOTFOUND);
  assert_string_equal(gone.msg, "configmaps \"dry\" not found");
  assert_string_equal(gone.reason, "NotFound");
  assert_non_null(gone.body);  /* the Status itself */
  t.name = "one";
  assert_int_equal(sb_kube_get(k, &t, NULL, on_res, &got, NULL), 0);
  run_until(&loop, &got.done);
  assert_int_equal(got.err, 0);
  assert_string_equal(body_str(got.body, "metadata", "name"), "one");

  /* Create: new, then AlreadyExists. Update with a stale version. */
  cJSON_Delete(o);
  o = configmap("made", "k", "v");
  assert_int_equal(sb_kube_create(k, &t, o, 0, on_res, &made, NULL), 0);
  assert_int_equal(sb_kube_create(k, &t, o, 0, on_res, &dup, NULL), 0);
  run_until(&loop, &dup.done);
  run_until(&loop, &made.done);
  assert_int_equal(made.status, 201);
  assert_int_equal(dup.err, SB_EEXIST);
  cJSON_AddStringToObject(cJSON_GetObjectItem(made.body, "metadata"),
                          "ignored", "x");
  t.name = NULL;
  assert_int_equal(sb_kube_update(k, &t, made.body, 0, on_res, &upd, NULL),
                   0);
  run_until(&loop, &upd.done);
  assert_int_equal(upd.err, 0);
  assert_int_equal(sb_kube_update(k, &t, made.body, 0, on_res, &stale,
                                  NULL), 0);
  run_until(&loop, &stale.done);
  assert_int_equal(stale.err, SB_ECONFLICT);
  assert_string_equal(stale.msg, "the object has been modified");

  /* Delete: a wrong uid precondition conflicts, the right one deletes. */
  t.name = "one";
  memset(&del, 0, sizeof(del));
  del.uid = "not-the-uid";
  del.propagation = "Background";
  assert_int_equal(sb_kube_delete(k, &t, &del, on_res, &d1, NULL), 0);
  run_until(&loop, &d1.done);
  assert_int_equal(d1.err, SB_ECONFLICT);
  assert_non_null(strstr(d1.msg, "Precondition failed"));
  del.uid = uid;
  assert_int_equal(sb_kube_delete(k, &t, &del, on_res, &d2, NULL), 0);
  run_until(&loop, &d2.done);
  assert_int_equal(d2.err, 0);

  /* Every response was counted with its method and code. */
  assert_int_equal(m.n, 11);
  assert_string_equal(m.seen[0], "PATCH 200");
  assert_string_equal(m.seen[3], "GET 404");
  assert_string_equal(m.seen[9], "DELETE 409");
  cJSON_Delete(o);
  cJSON_Delete(a1.body);
  cJSON_Delete(a2.body);
  cJSON_Delete(dry.body);
  cJSON_Delete(got.body);
  cJSON_Delete(gone.body);
  cJSON_Delete(d1.body);
  cJSON_Delete(d2.body);
  cJSON_Delete(made.body);
  cJSON_Delete(dup.body);
  cJSON_Delete(upd.body);
  cJSON_Delete(stale.body);
  finish(&loop, k);
}

static void list_pages_and_watch(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  sb_kube_target t = {CM, "pages", NULL, NULL};
  sb_kube_query q;
  res ap[5], pg = {0}, w = {0}, old = {0};
  char name[16], cont[32] = "", rv0[32];
  int i, total = 0, pages = 0;

  (void) state;
  memset(ap, 0, sizeof(ap));
  base_cfg("admin");
  k = new_client(&loop, NULL);
  /* The resourceVersion before the writes, to watch from. */
  memset(&q, 0, sizeof(q));
  assert_int_equal(sb_kube_list(k, &t, &q, on_res, &pg, NULL), 0);
  run_until(&loop, &pg.done);
  snprintf(rv0, sizeof(rv0), "%s", body_str(pg.body, "metadata",
                                            "resourceVersion"));
  cJSON_Delete(pg.body);
  for (i = 0; i < 5; i++) {
    cJSON *o;

    snprintf(name, sizeof(name), "cm-%d", i);
    o = configmap(name, "i", name);
    assert_int_equal(sb_kube_apply(k, &t, o, 0, on_res, &ap[i], NULL), 0);
    cJSON_Delete(o);
  }
  for (i = 0; i < 5; i++) {
    run_until(&loop, &ap[i].done);
    assert_int_equal(ap[i].err, 0);
    cJSON_Delete(ap[i].body);
  }
  /* Pages of two until no continue token. */
  do {
    const char *c;

    memset(&pg, 0, sizeof(pg));
    q.limit = 2;
    q.cont = cont[0] ? cont : NULL;
    assert_int_equal(sb_kube_list(k, &t, &q, on_res, &pg, NULL), 0);
    run_until(&loop, &pg.done);
    assert_int_equal(pg.err, 0);
    total += cJSON_GetArraySize(cJSON_GetObjectItem(pg.body, "items"));
    pages++;
    c = body_str(pg.body, "metadata", "continue");
    snprintf(cont, sizeof(cont), "%s", c);
    cJSON_Delete(pg.body);
    pg.body = NULL;
  } while (cont[0]);
  assert_int_equal(total, 5);
  assert_int_equal(pages, 3);

  /* Watch from before the writes: five ADDED events, then the server ends
   * the stream at timeoutSeconds. */
  memset(&q, 0, sizeof(q));
  q.resource_version = rv0;
  q.allow_bookmarks = 1;
  q.timeout_seconds = 1;
  assert_int_equal(sb_kube_watch(k, &t, &q, on_event, on_res, &w, NULL), 0);
  /* A watch from a compacted version ends with 410 Gone. */
  q.resource_version = "5";
  assert_int_equal(sb_kube_watch(k, &t, &q, on_event, on_res, &old, NULL),
                   0);
  run_until(&loop, &w.done);
  run_until(&loop, &old.done);
  assert_int_equal(w.err, 0);
  assert_int_equal(w.status, 200);
  assert_int_equal(w.events, 5);
  {
    unsigned seen = 0;

    /* The applies ran concurrently: any order, each name once. */
    for (i = 0; i < 5; i++) {
      assert_string_equal(w.types[i], "ADDED");
      assert_int_equal(strncmp(w.names[i], "cm-", 3), 0);
      seen |= 1u << (w.names[i][3] - '0');
    }
    assert_int_equal(seen, 0x1f);
  }
  assert_int_equal(old.err, SB_EGONE);
  assert_int_equal(old.status, 410);
  assert_string_equal(old.reason, "Expired");
  assert_string_equal(old.msg, "too old resource version: 5 (100)");
  assert_int_equal(old.events, 0);
  finish(&loop, k);
}

static sb_kube_call *cancel_me;

static int cancel_on_first(void *arg, sb_kube_event *ev) {
  on_event(arg, ev);
  sb_kube_cancel(cancel_me);
  return 0;
}

/* A live watch sees writes made while it runs; cancel from inside the
 * event callback; close with a watch in flight. */
static void live_watch_cancel_close(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  sb_kube_target t = {CM, "live", NULL, NULL};
  sb_kube_query q;
  sb_kube_call *c1 = NULL, *c2 = NULL;
  res w1 = {0}, w2 = {0}, ap = {0};
  cJSON *o = configmap("x", "k", "v");
  int n = 0;

  (void) state;
  base_cfg("admin");
  k = new_client(&loop, NULL);
  memset(&q, 0, sizeof(q));
  q.resource_version = "100";
  q.timeout_seconds = 30;
  assert_int_equal(sb_kube_watch(k, &t, &q, cancel_on_first, on_res, &w1,
                                 &c1), 0);
  cancel_me = c1;
  assert_int_equal(sb_kube_watch(k, &t, &q, on_event, on_res, &w2, &c2), 0);
  assert_int_equal(sb_kube_apply(k, &t, o, 0, on_res, &ap, NULL), 0);
  run_until(&loop, &w1.done);
  assert_int_equal(w1.err, SB_ECANCELED);
  assert_int_equal(w1.events, 1);
  run_until(&loop, &w2.events);
  assert_string_equal(w2.names[0], "x");
  assert_int_equal(w2.done, 0);
  assert_int_equal(sb_kube_close(k, closed, &n), 0);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(w2.done, 1);
  assert_int_equal(w2.err, SB_ECANCELED);
  assert_int_equal(n, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
  cJSON_Delete(o);
  cJSON_Delete(ap.body);
}

static void forbidden_and_server_errors(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  sb_kube_target t = {CM, "ro", "cm", NULL};
  cJSON *o = configmap("cm", "k", "v");
  res f = {0}, busy = {0}, boom = {0}, echo = {0}, nf = {0};

  (void) state;
  base_cfg("readonly");
  k = new_client(&loop, NULL);
  assert_int_equal(sb_kube_apply(k, &t, o, 0, on_res, &f, NULL), 0);
  run_until(&loop, &f.done);
  assert_int_equal(f.err, SB_EFORBIDDEN);
  assert_int_equal(f.status, 403);
  assert_string_equal(f.msg, "configmaps \"cm\" is forbidden: User "
                      "\"readonly\" cannot patch resource \"configmaps\" in "
                      "API group \"\" in the namespace \"ro\"");
  finish(&loop, k);

  /* Raw GETs against the plain endpoints (server without /kube). */
  base_cfg("admin");
  cfg.server = srv.base;
  k = new_client(&loop, NULL);
  assert_int_equal(sb_kube_raw_get(k, "/status?code=429&reason="
                                   "TooManyRequests&retry=3", on_res, &busy,
                                   NULL), 0);
  assert_int_equal(sb_kube_raw_get(k, "/status?code=503&reason="
                                   "ServiceUnavailable", on_res, &boom,
                                   NULL), 0);
  assert_int_equal(sb_kube_raw_get(k, "/echo", on_res, &echo, NULL), 0);
  assert_int_equal(sb_kube_raw_get(k, "/nope", on_res, &nf, NULL), 0);
  assert_int_equal(sb_kube_raw_get(k, "no-slash", on_res, &nf, NULL),
                   SB_EINVAL);
  run_until(&loop, &busy.done);
  run_until(&loop, &boom.done);
  run_until(&loop, &echo.done);
  run_until(&loop, &nf.done);
  assert_int_equal(busy.err, SB_ETOOMANY);
  assert_int_equal(busy.retry_after, 3);
  assert_int_equal(boom.err, SB_EHTTP);
  assert_int_equal(boom.status, 503);
  assert_int_equal(echo.err, 0);
  assert_non_null(strstr(cJSON_GetObjectItem(echo.body, "user_agent")
                             ->valuestring, "smi-bridge/"));
  assert_string_equal(cJSON_GetObjectItem(echo.body, "authorization")
                          ->valuestring, "Bearer admin");
  assert_int_equal(nf.err, SB_ENOTFOUND);
  cJSON_Delete(o);
  cJSON_Delete(f.body);
  cJSON_Delete(busy.body);
  cJSON_Delete(boom.body);
  cJSON_Delete(echo.body);
  cJSON_Delete(nf.body);
  finish(&loop, k);
}

/* Requests the fake server saw with a given path prefix, as "METHOD auth"
 * strings. */
static int seen_auth(uv_loop_t *loop, sb_kube *k, const char *prefix,
                     char out[][64], int max) {
  res r = {0};
  const cJSON *it;
  int n = 0;

  assert_int_equal(sb_kube_raw_get(k, "/requests", on_res, &r, NULL), 0);
  run_until(loop, &r.done);
  cJSON_ArrayForEach(it, r.body) {
    const char *path = cJSON_GetArrayItem(it, 1)->valuestring;

    if (strncmp(path, prefix, strlen(prefix)) == 0 && n < max)
      snprintf(out[n++], 64, "%s %s", cJSON_GetArrayItem(it, 0)->valuestring,
               cJSON_GetArrayItem(it, 2)->valuestring);
  }
  cJSON_Delete(r.body);
  return n;
}

static void unauthorized_refreshes_token_file_once(void **state) {
  uv_loop_t loop;
  sb_kube *k;
  sb_kube_target t = {CM, "auth401", "a", NULL};
  res r1 = {0}, r2 = {0};
  char seen[8][64];

  (void) state;
  base_cfg(NULL);
  cfg.token_file = token_path;
  write_token("expired\n");
  k = new_client(&loop, NULL);
  assert_int_equal(sb_kube_get(k, &t, NULL, on_res, &r1, NULL), 0);
  write_token("admin\n");  /* rotated after the request read the file */
  run_until(&loop, &r1.done);
  assert_int_equal(r1.err, SB_ENOTFOUND);  /* got through, on retry */
  assert_int_equal(seen_auth(&loop, k, "/kube/api/v1/namespaces/auth401/",
                             seen, 8), 2);
  assert_string_equal(seen[0], "GET Bearer expired");
  assert_string_equal(seen[1], "GET Bearer admin");
  cJSON_Delete(r1.body);

  /* Still bad after the re-read: exactly one retry, then 401. */
  write_token("expired\n");
  t.ns = "auth401b";
  cfg.token_reload_ms = 0;
  assert_int_equal(sb_kube_get(k, &t, NULL, on_res, &r2, NULL), 0);
  run_until(&loop, &r2.done);
  assert_int_equal(r2.err, SB_EUNAUTHORIZED);
  assert_int_equal(r2.status, 401);
  assert_int_equal(seen_auth(&loop, k, "/kube/api/v1/namespaces/auth401b/",
                             seen, 8), 1);
  cJSON_Delete(r2.body);
  finish(&loop, k);
}

static char plugin_dir[256];

static void unauthorized_reruns_exec_plugin(void **state) {
  static const char script[] =
      "#!/bin/sh\n"
      "d=$(dirname \"$0\")\n"
      "n=$(cat \"$d/runs\" 2>/dev/null || echo 0); n=$((n+1))\n"
      "echo $n > \"$d/runs\"\n"
      "tok=$(sed -n \"${n}p\" \"$d/tokens\")\n"
      "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",'\n"
      "printf '\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' "
      "\"$tok\"\n";
  uv_loop_t loop;
  sb_kube *k;
  sb_kube_target t = {CM, "execns", "a", NULL};
  sb_kubeexec x;
  res r[3];
  char path[600], cmd[600], seen[8][64];
  FILE *f;
  int i;

  (void) state;
  memset(r, 0, sizeof(r));
  snprintf(cmd, sizeof(cmd), "%s/plugin.sh", plugin_dir);
  f = fopen(cmd, "w");
  fputs(script, f);
  fclose(f);
  chmod(cmd, 0755);
  snprintf(path, sizeof(path), "%s/tokens", plugin_dir);
  f = fopen(path, "w");
  fputs("expired\nadmin\nexpired\nexpired\n", f);
  fclose(f);
  snprintf(path, sizeof(path), "%s/runs", plugin_dir);
  unlink(path);
  memset(&x, 0, sizeof(x));
  x.api_version = "client.authentication.k8s.io/v1";
  x.command = cmd;
  x.interactive_mode = "Never";
  x.timeout_ms = 10000;
  base_cfg(NULL);
  cfg.exec = &x;
  cfg.user_name = "u";
  k = new_client(&loop, NULL);
  /* Three requests at once share the first run ("expired"), all get 401,
   * share one re-run ("admin") and succeed. */
  for (i = 0; i < 3; i++)
    assert_int_equal(sb_kube_get(k, &t, NULL, on_res, &r[i], NULL), 0);
  for (i = 0; i < 3; i++) {
    run_until(&loop, &r[i].done);
    assert_int_equal(r[i].err, SB_ENOTFOUND);
    cJSON_Delete(r[i].body);
  }
  assert_int_equal(seen_auth(&loop, k, "/kube/api/v1/namespaces/execns/",
                             seen, 8), 6);
  for (i = 0; i < 3; i++) {
    assert_string_equal(seen[i], "GET Bearer expired");
    assert_string_equal(seen[3 + i], "GET Bearer admin");
  }
  {
    char *runs;
    char err[64];

    assert_int_equal(sb__read_file(path, 100, &runs, NULL, err,
                                   sizeof(err)), 0);
    assert_string_equal(runs, "2\n");
    free(runs);
  }
  finish(&loop, k);
  unlink(path);
  snprintf(path, sizeof(path), "%s/tokens", plugin_dir);
  unlink(path);
  unlink(cmd);
}

static void writes_are_rate_limited(void **state) {
  enum { N = 4 };
  uv_loop_t loop;
  sb_kube *k;
  sb_kube_target t = {CM, "rate", NULL, NULL};
  sb_kube_opts o = {0};
  res w[N], r[N], cw = {0}, u[N];
  sb_kube_call *queued;
  uint64_t t0, writes_done;
  int i;

  (void) state;
  memset(w, 0, sizeof(w));
  memset(r, 0, sizeof(r));
  memset(u, 0, sizeof(u));
  base_cfg("admin");
  o.qps = 2;
  o.burst = 1;
  k = new_client(&loop, &o);
  uv_update_time(&loop);
  t0 = uv_now(&loop);
  for (i = 0; i < N; i++) {
    char name[16];
    cJSON *obj;

    snprintf(name, sizeof(name), "r%d", i);
    obj = configmap(name, "k", "v");
    assert_int_equal(sb_kube_apply(k, &t, obj, 0, on_res, &w[i], NULL), 0);
    cJSON_Delete(obj);
    assert_int_equal(sb_kube_list(k, &t, NULL, on_res, &r[i], NULL), 0);
  }
  {
    cJSON *obj = configmap("canceled", "k", "v");

    assert_int_equal(sb_kube_apply(k, &t, obj, 0, on_res, &cw, &queued), 0);
    cJSON_Delete(obj);
    sb_kube_cancel(queued);  /* leaves the line at once */
  }
  /* Writes the caller paces itself skip the line and the bucket. */
  for (i = 0; i < N; i++) {
    char name[16];
    cJSON *obj;

    snprintf(name, sizeof(name), "u%d", i);
    obj = configmap(name, "k", "v");
    assert_int_equal(sb_kube_apply(k, &t, obj, SB_KUBE_UNPACED, on_res,
                                   &u[i], NULL), 0);
    cJSON_Delete(obj);
  }
  for (i = 0; i < N; i++) {
    run_until(&loop, &u[i].done);
    assert_int_equal(u[i].err, 0);
    cJSON_Delete(u[i].body);
  }
  for (i = 0; i < N; i++) {
    run_until(&loop, &r[i].done);
    assert_int_equal(r[i].err, 0);
    cJSON_Delete(r[i].body);
  }
  run_until(&loop, &cw.done);
  assert_int_equal(cw.err, SB_ECANCELED);
  for (i = 0; i < N; i++) {
    run_until(&loop, &w[i].done);
    assert_int_equal(w[i].err, 0);
    cJSON_Delete(w[i].body);
  }
  writes_done = uv_now(&loop) - t0;
  /* One at once, then three more at 2/s: at least 1.5 s. */
  assert_true(writes_done >= 1450);
  /* Not by the clock (against the test server, HTTP/1.1, requests may
   * take turns on one connection): in order. Reads and unpaced writes
   * all finish before the last paced write, which waits 1.5 s for its
   * token; in the token line they would come after it. */
  for (i = 0; i < N; i++) {
    assert_true(r[i].seq < w[N - 1].seq);
    assert_true(u[i].seq < w[N - 1].seq);
  }
  /* ... and take no tokens: had they, the paced four would need 3.5 s. */
  assert_true(writes_done < 3000);
  finish(&loop, k);
}

static int setup(void **state) {
  (void) state;
  signal(SIGPIPE, SIG_IGN);
  if (testsrv_start(&srv))
    return -1;
  snprintf(token_path, sizeof(token_path), "%s/token", srv.dir);
  snprintf(plugin_dir, sizeof(plugin_dir), "%s", srv.dir);
  return 0;
}

static int teardown(void **state) {
  (void) state;
  testsrv_stop(&srv);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(line_splitter),
      cmocka_unit_test(status_decoding),
      cmocka_unit_test(url_building),
      cmocka_unit_test(apply_get_list_delete),
      cmocka_unit_test(list_pages_and_watch),
      cmocka_unit_test(live_watch_cancel_close),
      cmocka_unit_test(forbidden_and_server_errors),
      cmocka_unit_test(unauthorized_refreshes_token_file_once),
      cmocka_unit_test(unauthorized_reruns_exec_plugin),
      cmocka_unit_test(writes_are_rate_limited),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
