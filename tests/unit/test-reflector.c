/* test-reflector.c -- the list/watch state machine against a scripted fake
 * API server (tests/data/fakeapi/fakeapi.py).
 *
 * Each test loads a script -- what every request to a path answers, in
 * order -- runs a reflector through it and checks three things: the exact
 * sequence of callbacks, the requests the fake saw (continue tokens, the
 * resourceVersion of every watch, timeoutSeconds) and, for the waits, the
 * time between requests (lower bounds; the random numbers are injected so
 * the jitter is known). Scripts use single quotes for readability; they
 * become double quotes before they are sent.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "sb/err.h"
#include "sb/kube.h"
#include "sb/log.h"
#include "sb/reflector.h"

#include "fakeapi.h"

#define CM_PATH "/api/v1/namespaces/t/configmaps"
#define TS_PATH "/apis/split.smi-spec.io/v1alpha4/trafficsplits"

static fakeapi fa;
static sb_kubeconfig cfg;

/* ---- harness ------------------------------------------------------------ */

static void load(const char *script) {
  char *s = strdup(script), *p;

  assert_non_null(s);
  for (p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  assert_int_equal(fakeapi_script(&fa, s), 0);
  free(s);
}

/* What the callback saw: "SYNC_BEGIN", "APPLY a", "DELETE c", ... plus a
 * tiny mark-and-sweep store, the way sb_cache consumes the events. */
typedef struct rec {
  char ev[64][48];
  int n;
  int close_at;            /* close from inside callback number N (1-based) */
  int closed;              /* close callback ran */
  int bad_type;            /* an object without apiVersion/kind */
  int reqs_at_first_apply; /* requests the fake had seen by then */
  sb_reflector *r;
  char store[16][16];
  int marked[16];
  int nstore;
} rec;

static const char *name_of(const cJSON *o) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "metadata");
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "name");

  return cJSON_IsString(n) ? n->valuestring : "?";
}

static int store_find(rec *c, const char *name) {
  int i;

  for (i = 0; i < c->nstore; i++)
    if (strcmp(c->store[i], name) == 0)
      return i;
  return -1;
}

static void store_del(rec *c, int i) {
  c->nstore--;
  memmove(c->store[i], c->store[c->nstore], sizeof(c->store[0]));
  c->marked[i] = c->marked[c->nstore];
}

static int count_requests(void);

static void on_event(void *arg, sb_reflect_ev ev, const cJSON *obj) {
  static const char *const names[] = {"SYNC_BEGIN", "APPLY", "DELETE",
                                      "SYNC_END"};
  rec *c = arg;
  int i;

  if (c->n < 64) {
    if (obj)
      snprintf(c->ev[c->n], sizeof(c->ev[0]), "%s %s", names[ev],
               name_of(obj));
    else
      snprintf(c->ev[c->n], sizeof(c->ev[0]), "%s", names[ev]);
  }
  c->n++;
  if (obj && (!cJSON_GetObjectItemCaseSensitive(obj, "apiVersion") ||
              !cJSON_GetObjectItemCaseSensitive(obj, "kind")))
    c->bad_type = 1;
  if (ev == SB_REFLECT_APPLY && c->reqs_at_first_apply < 0)
    c->reqs_at_first_apply = count_requests();
  switch (ev) {
  case SB_REFLECT_SYNC_BEGIN:
    for (i = 0; i < c->nstore; i++)
      c->marked[i] = 0;
    break;
  case SB_REFLECT_APPLY:
    i = store_find(c, name_of(obj));
    if (i < 0 && c->nstore < 16) {
      i = c->nstore++;
      snprintf(c->store[i], sizeof(c->store[0]), "%s", name_of(obj));
    }
    if (i >= 0)
      c->marked[i] = 1;
    break;
  case SB_REFLECT_DELETE:
    i = store_find(c, name_of(obj));
    if (i >= 0)
      store_del(c, i);
    break;
  case SB_REFLECT_SYNC_END:
    for (i = c->nstore - 1; i >= 0; i--)
      if (!c->marked[i])
        store_del(c, i);
    break;
  }
  if (c->n == c->close_at)
    sb_reflector_close(c->r, NULL, NULL);
}

static void rec_init(rec *c) {
  memset(c, 0, sizeof(*c));
  c->reqs_at_first_apply = -1;
}

static void expect_events(const rec *c, const char *const *want, int n) {
  int i;

  for (i = 0; i < n && i < c->n; i++)
    assert_string_equal(c->ev[i], want[i]);
  assert_int_equal(c->n, n);
}

#define EXPECT_EVENTS(c, ...)                                                \
  do {                                                                       \
    static const char *const want_[] = {__VA_ARGS__};                        \
    expect_events((c), want_, (int) (sizeof(want_) / sizeof(want_[0])));     \
  } while (0)

static double fixed_rand(void *arg) {
  return *(const double *) arg;
}

static void tick(uv_timer_t *t) {
  (void) t;
}

/* One loop with a client and a ticker (so UV_RUN_ONCE never sleeps longer
 * than 10 ms while a request is held). */
typedef struct env {
  uv_loop_t loop;
  uv_timer_t ticker;
  sb_kube *k;
} env;

static void env_init(env *e) {
  memset(&cfg, 0, sizeof(cfg));
  cfg.origin = "test";
  cfg.server = fa.base;
  assert_int_equal(uv_loop_init(&e->loop), 0);
  assert_int_equal(sb_kube_new(&e->loop, &cfg, NULL, &e->k), 0);
  uv_timer_init(&e->loop, &e->ticker);
  uv_timer_start(&e->ticker, tick, 10, 10);
}

static void closed(void *arg) {
  (*(int *) arg)++;
}

static void env_done(env *e) {
  int n = 0;

  if (e->k)
    assert_int_equal(sb_kube_close(e->k, closed, &n), 0);
  uv_close((uv_handle_t *) &e->ticker, NULL);
  assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(n, e->k ? 1 : 0);
  assert_int_equal(uv_loop_close(&e->loop), 0);
}

/* Runs the loop until *flag >= want; fails after 20 s. */
static void run_until(env *e, const int *flag, int want) {
  uint64_t end = uv_hrtime() + 20000000000ull;

  while (*flag < want && uv_hrtime() < end)
    uv_run(&e->loop, UV_RUN_ONCE);
  assert_true(*flag >= want);
}

/* Runs the loop for about ms milliseconds. */
static void run_for(env *e, uint64_t ms) {
  uint64_t end;

  uv_update_time(&e->loop);
  end = uv_now(&e->loop) + ms;
  while (uv_now(&e->loop) < end)
    uv_run(&e->loop, UV_RUN_ONCE);
}

static cJSON *reqs;

static int count_requests(void) {
  cJSON *r = fakeapi_requests(&fa);
  int n = cJSON_GetArraySize(r);

  cJSON_Delete(r);
  return n;
}

/* Runs until the fake has logged n requests for path (NULL: any). */
static void run_until_requests(env *e, const char *path, int n) {
  uint64_t end = uv_hrtime() + 20000000000ull;
  int seen = 0;

  while (uv_hrtime() < end) {
    cJSON *r = fakeapi_requests(&fa), *x;

    seen = 0;
    cJSON_ArrayForEach(x, r) {
      const cJSON *p = cJSON_GetObjectItemCaseSensitive(x, "path");

      if (!path || (cJSON_IsString(p) && strcmp(p->valuestring, path) == 0))
        seen++;
    }
    cJSON_Delete(r);
    if (seen >= n)
      return;
    uv_run(&e->loop, UV_RUN_ONCE);
  }
  assert_true(seen >= n);
}

/* The i-th logged request for path. */
static const cJSON *req(const char *path, int i) {
  const cJSON *x;

  cJSON_ArrayForEach(x, reqs) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(x, "path");

    if (cJSON_IsString(p) && strcmp(p->valuestring, path) == 0 && i-- == 0)
      return x;
  }
  fail_msg("no request %d for %s", i, path);
  return NULL;
}

static void fetch_requests(void) {
  cJSON_Delete(reqs);
  reqs = fakeapi_requests(&fa);
  assert_non_null(reqs);
}

static int nreq(const char *path) {
  const cJSON *x;
  int n = 0;

  cJSON_ArrayForEach(x, reqs) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(x, "path");

    if (cJSON_IsString(p) && strcmp(p->valuestring, path) == 0)
      n++;
  }
  return n;
}

/* A query parameter of a logged request, or NULL. */
static const char *q(const cJSON *r, const char *key) {
  const cJSON *qs = cJSON_GetObjectItemCaseSensitive(r, "query");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(qs, key);

  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int is_watch(const cJSON *r) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "watch"));
}

static double t_ms(const cJSON *r) {
  return cJSON_GetObjectItemCaseSensitive(r, "t_ms")->valuedouble;
}

static void no_script_errors(void) {
  const cJSON *x;

  cJSON_ArrayForEach(x, reqs) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(x, "error");

    if (cJSON_IsString(e))
      fail_msg("fake API server: %s", e->valuestring);
  }
}

static sb_reflector *new_cm_opts(env *e, rec *c, double *rnd,
                                 uint64_t base_ms, uint64_t max_ms,
                                 int stream) {
  sb_reflector_opts o;
  sb_reflector *r;

  memset(&o, 0, sizeof(o));
  o.stream_lists = stream;
  o.gvr.group = "";
  o.gvr.version = "v1";
  o.gvr.resource = "configmaps";
  o.ns = "t";
  o.page_size = 2;
  o.min_watch_s = 100;
  o.backoff.base_ms = base_ms;
  o.backoff.max_ms = max_ms;
  o.backoff.jitter = 0.2;
  o.rand = fixed_rand;
  o.rand_arg = rnd;
  assert_int_equal(sb_reflector_new(&e->loop, e->k, &o, on_event, c, &r),
                   0);
  c->r = r;
  return r;
}

static sb_reflector *new_cm(env *e, rec *c, double *rnd, uint64_t base_ms,
                            uint64_t max_ms) {
  return new_cm_opts(e, c, rnd, base_ms, max_ms, 0);
}

static void close_and_wait(env *e, sb_reflector *r, rec *c) {
  sb_reflector_close(r, closed, &c->closed);
  run_until(e, &c->closed, 1);
}

/* ---- tests --------------------------------------------------------------- */

/* Two list pages, a watch that ends normally (events, a bookmark), and the
 * next watch from the bookmark's version. */
static void list_pages_then_watch(void **state) {
  double rnd = 0.25;
  sb_reflector_stats st;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': ["
       "{'expect':'list','items':['a','b'],'rv':'10','continue':'p2'},"
       "{'expect':'list','items':['c'],'rv':'10'},"
       "{'expect':'watch','events':[['ADDED','d','11'],['MODIFIED','a','12'],"
       "  ['DELETED','c','13'],['BOOKMARK','20']],'then':'end'},"
       "{'expect':'watch','events':[['MODIFIED','b','21']],'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm(&e, &c, &rnd, 5000, 30000);
  assert_int_equal(sb_reflector_synced(r), 0);
  assert_int_equal(sb_reflector_start(r), 0);
  run_until(&e, &c.n, 9);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a", "APPLY b", "APPLY c", "SYNC_END",
                "APPLY d", "APPLY a", "DELETE c", "APPLY b");
  assert_int_equal(c.bad_type, 0);  /* list items got apiVersion/kind */
  /* Page one reached the callback before page two was asked for. */
  assert_int_equal(c.reqs_at_first_apply, 1);
  assert_int_equal(sb_reflector_synced(r), 1);
  assert_int_equal(sb_reflector_error(r, NULL), 0);

  fetch_requests();
  no_script_errors();
  assert_int_equal(nreq(CM_PATH), 4);
  assert_false(is_watch(req(CM_PATH, 0)));
  assert_string_equal(q(req(CM_PATH, 0), "limit"), "2");
  assert_null(q(req(CM_PATH, 0), "continue"));
  assert_null(q(req(CM_PATH, 0), "resourceVersion"));
  assert_string_equal(q(req(CM_PATH, 1), "continue"), "p2");
  assert_true(is_watch(req(CM_PATH, 2)));
  assert_string_equal(q(req(CM_PATH, 2), "resourceVersion"), "10");
  assert_string_equal(q(req(CM_PATH, 2), "allowWatchBookmarks"), "true");
  /* min 100 s + 0.25 * 100 s */
  assert_string_equal(q(req(CM_PATH, 2), "timeoutSeconds"), "125");
  /* The bookmark moved the version without a callback. */
  assert_string_equal(q(req(CM_PATH, 3), "resourceVersion"), "20");
  /* A normal end re-watches at once (the backoff would be 5 s). */
  assert_true(t_ms(req(CM_PATH, 3)) - t_ms(req(CM_PATH, 2)) < 2500);

  sb_reflector_get_stats(r, &st);
  assert_string_equal(st.state, "watching");
  assert_string_equal(st.rv, "21");
  assert_int_equal(st.lists, 1);
  assert_int_equal(st.pages, 2);
  assert_int_equal(st.relists, 0);
  assert_int_equal(st.watches, 2);
  assert_int_equal(st.events, 4);
  assert_int_equal(st.bookmarks, 1);
  assert_int_equal(st.errors, 0);
  close_and_wait(&e, r, &c);
  assert_int_equal(c.n, 9);
  env_done(&e);
}

/* 410 as an ERROR event and as an HTTP status: relist at once, and the
 * SYNC_END sweep drops what the new list no longer has. */
static void relist_on_gone(void **state) {
  double rnd = 0.5;
  sb_reflector_stats st;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': ["
       "{'expect':'list','items':['a','b'],'rv':'10'},"
       "{'expect':'watch','events':[['ADDED','c','11'],['ERROR',410]],"
       "  'then':'end'},"
       "{'expect':'list','items':['b','c'],'rv':'30'},"
       "{'expect':'watch','events':[['BOOKMARK','35']],'then':'end'},"
       "{'expect':'watch','status':410,"
       "  'message':'too old resource version: 35 (40)'},"
       "{'expect':'list','items':['c'],'rv':'50'},"
       "{'expect':'watch','events':[],'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm(&e, &c, &rnd, 5000, 30000);
  assert_int_equal(sb_reflector_start(r), 0);
  run_until_requests(&e, CM_PATH, 7);
  run_until(&e, &c.n, 12);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a", "APPLY b", "SYNC_END",
                "APPLY c",
                "SYNC_BEGIN", "APPLY b", "APPLY c", "SYNC_END",
                "SYNC_BEGIN", "APPLY c", "SYNC_END");
  /* a and b were deleted while we were not watching: swept. */
  assert_int_equal(c.nstore, 1);
  assert_string_equal(c.store[0], "c");

  fetch_requests();
  no_script_errors();
  assert_string_equal(q(req(CM_PATH, 1), "resourceVersion"), "10");
  assert_false(is_watch(req(CM_PATH, 2)));
  assert_null(q(req(CM_PATH, 2), "resourceVersion"));
  assert_null(q(req(CM_PATH, 2), "continue"));
  assert_string_equal(q(req(CM_PATH, 3), "resourceVersion"), "30");
  assert_string_equal(q(req(CM_PATH, 4), "resourceVersion"), "35");
  assert_false(is_watch(req(CM_PATH, 5)));
  assert_string_equal(q(req(CM_PATH, 6), "resourceVersion"), "50");
  /* No backoff anywhere (it would be 5 s). */
  assert_true(t_ms(req(CM_PATH, 6)) - t_ms(req(CM_PATH, 0)) < 4000);
  sb_reflector_get_stats(r, &st);
  assert_int_equal(st.lists, 3);
  assert_int_equal(st.relists, 2);
  assert_int_equal(st.gone, 2);
  assert_int_equal(sb_reflector_synced(r), 1);
  close_and_wait(&e, r, &c);
  env_done(&e);
}

/* A list item that is not JSON: the items before it were handed over one
 * by one (the page is never one tree), the page fails, and the relist
 * from the start -- not from the failed page's continue token -- makes
 * the cache whole: its SYNC_END sweeps what the broken page left. */
static void broken_list_item(void **state) {
  double rnd = 0.5;
  sb_reflector_stats st;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': ["
       "{'expect':'list','items':['a','b'],'rv':'10','continue':'p2'},"
       "{'expect':'list','items':['c','x','d'],'rv':'10','bad_item':1},"
       "{'expect':'list','items':['a','d'],'rv':'12'},"
       "{'expect':'watch','events':[],'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm(&e, &c, &rnd, 50, 1000);
  assert_int_equal(sb_reflector_start(r), 0);
  run_until_requests(&e, CM_PATH, 4);
  run_until(&e, &c.n, 8);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a", "APPLY b", "APPLY c",
                "SYNC_BEGIN", "APPLY a", "APPLY d", "SYNC_END");
  assert_int_equal(c.nstore, 2);  /* b and c swept */
  assert_string_equal(c.store[0], "a");
  assert_string_equal(c.store[1], "d");

  fetch_requests();
  no_script_errors();
  assert_string_equal(q(req(CM_PATH, 1), "continue"), "p2");
  assert_false(is_watch(req(CM_PATH, 2)));
  assert_null(q(req(CM_PATH, 2), "continue"));
  assert_string_equal(q(req(CM_PATH, 3), "resourceVersion"), "12");
  sb_reflector_get_stats(r, &st);
  assert_int_equal(st.lists, 2);
  assert_int_equal(st.errors, 1);
  assert_int_equal(sb_reflector_synced(r), 1);
  close_and_wait(&e, r, &c);
  env_done(&e);
}

/* A 410 for the very version a list just returned: relisting at once could
 * loop as fast as the server answers, so this one waits for the backoff. */
static void gone_from_list_version(void **state) {
  double rnd = 0.5;
  sb_reflector_stats st;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': ["
       "{'expect':'list','items':['a'],'rv':'10'},"
       "{'expect':'watch','status':410,'message':'too old'},"
       "{'expect':'list','items':['a'],'rv':'20'},"
       "{'expect':'watch','events':[],'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm(&e, &c, &rnd, 400, 30000);
  assert_int_equal(sb_reflector_start(r), 0);
  run_until_requests(&e, CM_PATH, 4);
  run_until(&e, &c.n, 6);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a", "SYNC_END",
                "SYNC_BEGIN", "APPLY a", "SYNC_END");
  fetch_requests();
  no_script_errors();
  assert_false(is_watch(req(CM_PATH, 2)));
  assert_true(t_ms(req(CM_PATH, 2)) - t_ms(req(CM_PATH, 1)) >= 400 - 2);
  assert_string_equal(q(req(CM_PATH, 3), "resourceVersion"), "20");
  sb_reflector_get_stats(r, &st);
  assert_int_equal(st.gone, 1);
  assert_int_equal(st.relists, 1);
  close_and_wait(&e, r, &c);
  env_done(&e);
}

/* The same after an outage: the watches from the list's version failed
 * (the server was down) and the server that comes back answers 410. It
 * answered, so the wait before the relist starts again from the base
 * delay instead of going on growing from the outage's failures. */
static void gone_after_outage(void **state) {
  double rnd = 0.5;  /* no jitter: delays are exactly 300, 600, 1200 */
  sb_reflector_stats st;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': ["
       "{'expect':'list','items':['a','b'],'rv':'10'},"
       "{'expect':'watch','status':503,'message':'down'},"
       "{'expect':'watch','status':503,'message':'down'},"
       "{'expect':'watch','status':503,'message':'down'},"
       "{'expect':'watch','status':410,'message':'too old'},"
       "{'expect':'list','items':['a'],'rv':'20'},"
       "{'expect':'watch','events':[],'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm(&e, &c, &rnd, 300, 30000);
  assert_int_equal(sb_reflector_start(r), 0);
  run_until_requests(&e, CM_PATH, 7);
  run_until(&e, &c.n, 7);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a", "APPLY b", "SYNC_END",
                "SYNC_BEGIN", "APPLY a", "SYNC_END");
  assert_int_equal(c.nstore, 1);
  fetch_requests();
  no_script_errors();
  assert_true(t_ms(req(CM_PATH, 4)) - t_ms(req(CM_PATH, 3)) >= 1200 - 2);
  assert_false(is_watch(req(CM_PATH, 5)));
  /* 300 ms, not the 2400 the outage had grown the delay to. */
  assert_true(t_ms(req(CM_PATH, 5)) - t_ms(req(CM_PATH, 4)) >= 300 - 2);
  assert_true(t_ms(req(CM_PATH, 5)) - t_ms(req(CM_PATH, 4)) < 2000);
  sb_reflector_get_stats(r, &st);
  assert_int_equal(st.gone, 1);
  assert_int_equal(st.relists, 1);
  close_and_wait(&e, r, &c);
  env_done(&e);
}

/* A continue token that expires mid-list restarts the list from its first
 * page at once; a second expiry before any list completes backs off. */
static void continue_expired(void **state) {
  double rnd = 0.5;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': ["
       "{'expect':'list','items':['a'],'rv':'10','continue':'p2'},"
       "{'expect':'list','status':410,'message':'The provided continue "
       "parameter is too old to display a consistent list result.'},"
       "{'expect':'list','items':['a'],'rv':'20','continue':'q2'},"
       "{'expect':'list','status':410,'message':'too old again'},"
       "{'expect':'list','items':['a','b'],'rv':'30'},"
       "{'expect':'watch','events':[],'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm(&e, &c, &rnd, 1500, 30000);
  assert_int_equal(sb_reflector_start(r), 0);
  run_until_requests(&e, CM_PATH, 6);
  run_until(&e, &c.n, 8);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a",
                "SYNC_BEGIN", "APPLY a",
                "SYNC_BEGIN", "APPLY a", "APPLY b", "SYNC_END");
  fetch_requests();
  no_script_errors();
  assert_string_equal(q(req(CM_PATH, 1), "continue"), "p2");
  assert_null(q(req(CM_PATH, 2), "continue"));
  assert_string_equal(q(req(CM_PATH, 3), "continue"), "q2");
  assert_null(q(req(CM_PATH, 4), "continue"));
  assert_string_equal(q(req(CM_PATH, 5), "resourceVersion"), "30");
  assert_true(t_ms(req(CM_PATH, 2)) - t_ms(req(CM_PATH, 1)) < 1000);
  assert_true(t_ms(req(CM_PATH, 4)) - t_ms(req(CM_PATH, 3)) >= 1500 - 2);
  close_and_wait(&e, r, &c);
  env_done(&e);
}

/* A dropped connection, a 500 and a watch that ends at once with nothing
 * are errors: back off, then watch again from the last version -- no
 * relist. A watch that ends normally after events re-watches at once. */
static void rewatch_after_errors(void **state) {
  double rnd = 0.5;  /* no jitter: delays are exactly 300, 600, 1200 */
  sb_reflector_stats st;
  const char *msg;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': ["
       "{'expect':'list','items':['a'],'rv':'10'},"
       "{'expect':'watch','events':[['ADDED','b','11']],'then':'drop'},"
       "{'expect':'watch','status':500,'message':'etcd is sad'},"
       "{'expect':'watch','events':[],'then':'end'},"
       "{'expect':'watch','events':[['MODIFIED','b','12']],'then':'end'},"
       "{'expect':'watch','events':[],'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm(&e, &c, &rnd, 300, 30000);
  assert_int_equal(sb_reflector_start(r), 0);
  /* Backing off after the short watch: the error is visible. */
  do {
    uv_run(&e.loop, UV_RUN_ONCE);
    sb_reflector_get_stats(r, &st);
  } while (st.errors < 3);
  assert_string_equal(st.state, "backoff");
  assert_int_equal(sb_reflector_error(r, &msg), SB_EIO);
  assert_string_equal(msg, "the server ended the watch at once with no event");
  run_until_requests(&e, CM_PATH, 6);
  run_until(&e, &c.n, 5);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a", "SYNC_END", "APPLY b",
                "APPLY b");
  fetch_requests();
  no_script_errors();
  assert_string_equal(q(req(CM_PATH, 1), "resourceVersion"), "10");
  assert_string_equal(q(req(CM_PATH, 2), "resourceVersion"), "11");
  assert_string_equal(q(req(CM_PATH, 3), "resourceVersion"), "11");
  assert_string_equal(q(req(CM_PATH, 4), "resourceVersion"), "11");
  assert_string_equal(q(req(CM_PATH, 5), "resourceVersion"), "12");
  assert_true(t_ms(req(CM_PATH, 2)) - t_ms(req(CM_PATH, 1)) >= 300 - 2);
  assert_true(t_ms(req(CM_PATH, 3)) - t_ms(req(CM_PATH, 2)) >= 600 - 2);
  assert_true(t_ms(req(CM_PATH, 4)) - t_ms(req(CM_PATH, 3)) >= 1200 - 2);
  assert_true(t_ms(req(CM_PATH, 5)) - t_ms(req(CM_PATH, 4)) < 250);
  sb_reflector_get_stats(r, &st);
  assert_int_equal(st.lists, 1);
  assert_int_equal(st.relists, 0);
  assert_int_equal(st.errors, 3);
  assert_int_equal(st.last_delay_ms, 1200);
  assert_int_equal(sb_reflector_error(r, NULL), 0);  /* events since */
  close_and_wait(&e, r, &c);
  env_done(&e);
}

static char *slurp_fd(int fd) {
  char *buf;
  off_t n = lseek(fd, 0, SEEK_END);

  buf = malloc((size_t) n + 1);
  assert_non_null(buf);
  assert_int_equal(pread(fd, buf, (size_t) n, 0), n);
  buf[n] = '\0';
  return buf;
}

static int count_lines(const char *log, const char *a, const char *b) {
  const char *p = log;
  int n = 0;

  while (p && *p) {
    const char *end = strchr(p, '\n');
    size_t len = end ? (size_t) (end - p) : strlen(p);
    char line[2048];

    snprintf(line, sizeof(line), "%.*s", (int) len, p);
    if (strstr(line, a) && (!b || strstr(line, b)))
      n++;
    p = end ? end + 1 : NULL;
  }
  return n;
}

/* A missing CRD (404), then 403, then 429 with Retry-After: retried with
 * the exponential backoff (capped), one log line per distinct error, the
 * error readable for readiness -- and another reflector on the same
 * client syncs and watches undisturbed meanwhile. */
static void errors_back_off(void **state) {
  char tmpl[] = "/tmp/sb-reflector-log-XXXXXX";
  double rnd = 0.5, rnd2 = 0.5;
  sb_reflector_opts o;
  sb_reflector *ts, *cm;
  const char *msg;
  rec c, d;
  char *log;
  env e;
  int fd, i;
  static const double gaps[] = {50, 100, 120, 120, 1000};

  (void) state;
  fd = mkstemp(tmpl);
  assert_true(fd >= 0);
  unlink(tmpl);
  sb_log_setup(SB_LOG_TEXT, 0, fd);
  load("{'" TS_PATH "': ["
       "{'expect':'list','status':404,"
       "  'message':'the server could not find the requested resource'},"
       "{'expect':'list','status':404,"
       "  'message':'the server could not find the requested resource'},"
       "{'expect':'list','status':404,"
       "  'message':'the server could not find the requested resource'},"
       "{'expect':'list','status':403,'message':'trafficsplits.split.smi-"
       "spec.io is forbidden: User \\'x\\' cannot list resource'},"
       "{'expect':'list','status':429,'message':'slow down',"
       "  'headers':{'Retry-After':'1'}},"
       "{'expect':'list','items':['s'],'rv':'5'},"
       "{'expect':'watch','status':500,'message':'timeout after 1 ms'},"
       "{'expect':'watch','status':500,'message':'timeout after 22 ms'},"
       "{'expect':'watch','events':[],'then':'hold'}],"
       "'" CM_PATH "': ["
       "{'expect':'list','items':['x'],'rv':'7'},"
       "{'expect':'watch','events':[['ADDED','y','8']],'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  rec_init(&d);
  memset(&o, 0, sizeof(o));
  o.name = "trafficsplits.split.smi-spec.io";
  o.gvr.group = "split.smi-spec.io";
  o.gvr.version = "v1alpha4";
  o.gvr.resource = "trafficsplits";
  o.backoff.base_ms = 50;
  o.backoff.max_ms = 120;
  o.backoff.jitter = 0.2;
  o.rand = fixed_rand;
  o.rand_arg = &rnd;
  assert_int_equal(sb_reflector_new(&e.loop, e.k, &o, on_event, &c, &ts), 0);
  c.r = ts;
  cm = new_cm(&e, &d, &rnd2, 50, 120);
  assert_int_equal(sb_reflector_start(ts), 0);
  assert_int_equal(sb_reflector_start(cm), 0);

  run_until_requests(&e, TS_PATH, 2);
  assert_int_equal(sb_reflector_error(ts, &msg), SB_ENOTFOUND);
  assert_string_equal(msg, "the server could not find the requested "
                           "resource (is the CRD installed?)");
  assert_int_equal(sb_reflector_synced(ts), 0);
  /* The other reflector is not held up by this one's failures. */
  run_until(&e, &d.n, 4);
  EXPECT_EVENTS(&d, "SYNC_BEGIN", "APPLY x", "SYNC_END", "APPLY y");
  fetch_requests();
  assert_true(nreq(TS_PATH) < 5);

  run_until(&e, &c.n, 3);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY s", "SYNC_END");
  assert_int_equal(sb_reflector_synced(ts), 1);
  assert_int_equal(sb_reflector_error(ts, NULL), 0);
  run_until_requests(&e, TS_PATH, 9);
  fetch_requests();
  no_script_errors();
  for (i = 0; i < 5; i++) {
    double gap = t_ms(req(TS_PATH, i + 1)) - t_ms(req(TS_PATH, i));

    if (gap < gaps[i] - 2)
      fail_msg("wait %d was %.1f ms, want >= %.0f", i, gap, gaps[i]);
  }
  /* Retry-After (1 s) is honoured, not the 120 ms backoff, and not much
   * more than it asked for. */
  assert_true(t_ms(req(TS_PATH, 5)) - t_ms(req(TS_PATH, 4)) < 1900);

  sb_reflector_close(ts, NULL, NULL);
  close_and_wait(&e, cm, &d);
  sb_log_setup(SB_LOG_TEXT, 0, 2);
  log = slurp_fd(fd);
  close(fd);
  /* Three identical 404s: one line. Then one for the 403 and the 429. */
  assert_int_equal(count_lines(log, "msg=\"cannot list\"",
                               "resource=trafficsplits.split.smi-spec.io"),
                   3);
  assert_int_equal(count_lines(log, "msg=\"cannot list\"",
                               "err=SB_ENOTFOUND reason=\"the server could "
                               "not find the requested resource (is the CRD "
                               "installed?)\""), 1);
  assert_int_equal(count_lines(log, "err=SB_EFORBIDDEN", NULL), 1);
  assert_int_equal(count_lines(log, "err=SB_ETOOMANY", NULL), 1);
  /* Messages that differ only in numbers are the same failure. */
  assert_int_equal(count_lines(log, "msg=\"watch failed\"",
                               "reason=\"timeout after 1 ms\""), 1);
  assert_int_equal(count_lines(log, "msg=\"watch failed\"", NULL), 1);
  assert_int_equal(count_lines(log, "msg=\"recovered\"",
                               "resource=trafficsplits"), 1);
  assert_int_equal(count_lines(log, "resource=configmaps", "level=warning"),
                   0);
  free(log);
  env_done(&e);
}

/* An error that lasts is logged again after the interval, saying how
 * often it was seen in between; recovery says how many failures it took. */
static void lasting_error_logged_again(void **state) {
  char tmpl[] = "/tmp/sb-reflector-log-XXXXXX";
  double rnd = 0.5;
  sb_reflector_opts o;
  sb_reflector *r;
  char script[4096], *log;
  const char *p;
  int fd, i, lines, repeated = 0;
  rec c;
  env e;

  (void) state;
  fd = mkstemp(tmpl);
  assert_true(fd >= 0);
  unlink(tmpl);
  sb_log_setup(SB_LOG_TEXT, 0, fd);
  snprintf(script, sizeof(script), "{'%s': [", TS_PATH);
  for (i = 0; i < 12; i++)
    snprintf(script + strlen(script), sizeof(script) - strlen(script),
             "{'expect':'list','status':404,'message':'no such thing'},");
  snprintf(script + strlen(script), sizeof(script) - strlen(script),
           "{'expect':'list','items':[],'rv':'5'}]}");
  load(script);
  env_init(&e);
  rec_init(&c);
  memset(&o, 0, sizeof(o));
  o.name = "trafficsplits.split.smi-spec.io";
  o.gvr.group = "split.smi-spec.io";
  o.gvr.version = "v1alpha4";
  o.gvr.resource = "trafficsplits";
  o.backoff.base_ms = 20;
  o.backoff.max_ms = 40;
  o.error_log_interval_ms = 150;
  o.rand = fixed_rand;
  o.rand_arg = &rnd;
  assert_int_equal(sb_reflector_new(&e.loop, e.k, &o, on_event, &c, &r), 0);
  c.r = r;
  assert_int_equal(sb_reflector_start(r), 0);
  run_until(&e, &c.n, 2);  /* SYNC_BEGIN, SYNC_END */
  close_and_wait(&e, r, &c);
  sb_log_setup(SB_LOG_TEXT, 0, 2);
  log = slurp_fd(fd);
  close(fd);
  /* 12 failures 20-40 ms apart (~440 ms): logged at about 0, 150, 300 ms
   * (more on a slow machine), the lines after the first counting the ones
   * in between. */
  lines = count_lines(log, "msg=\"cannot list\"", "err=SB_ENOTFOUND");
  assert_true(lines >= 2);
  assert_int_equal(count_lines(log, "msg=\"cannot list\"", "repeated="),
                   lines - 1);
  for (p = strstr(log, "repeated="); p; p = strstr(p + 1, "repeated="))
    repeated += (int) strtol(p + 9, NULL, 10);
  assert_true(repeated > 0 && repeated + lines <= 12);
  assert_int_equal(count_lines(log, "msg=\"recovered\"",
                               "after=SB_ENOTFOUND failures=12"), 1);
  free(log);
  env_done(&e);
}

/* Close while a list request is in flight: returns at once (the server
 * would answer in 5 s), no callback at all. */
static void close_mid_list(void **state) {
  double rnd = 0.5;
  uint64_t t0;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': [{'expect':'list','items':['a'],'rv':'1',"
       "'delay_ms':5000}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm(&e, &c, &rnd, 50, 100);
  assert_int_equal(sb_reflector_start(r), 0);
  run_until_requests(&e, CM_PATH, 1);
  t0 = uv_now(&e.loop);
  close_and_wait(&e, r, &c);
  assert_true(uv_now(&e.loop) - t0 < 1000);
  assert_int_equal(c.n, 0);
  env_done(&e);
}

/* Close from inside the callback: during a list page (no more items, no
 * SYNC_END, no second page) and during a watch (no more events). */
static void close_from_callback(void **state) {
  double rnd = 0.5;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': ["
       "{'expect':'list','items':['a','b'],'rv':'10','continue':'p2'},"
       "{'expect':'list','items':['c'],'rv':'10'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm(&e, &c, &rnd, 50, 100);
  c.close_at = 2;  /* at "APPLY a" */
  assert_int_equal(sb_reflector_start(r), 0);
  run_until(&e, &c.n, 2);
  run_for(&e, 200);
  fetch_requests();
  assert_int_equal(nreq(CM_PATH), 1);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a");
  env_done(&e);

  load("{'" CM_PATH "': ["
       "{'expect':'list','items':[],'rv':'10'},"
       "{'expect':'watch','events':[['ADDED','x','11'],['ADDED','y','12'],"
       "  ['ADDED','z','13']],'gap_ms':30,'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm(&e, &c, &rnd, 50, 100);
  c.close_at = 4;  /* at "APPLY y" */
  assert_int_equal(sb_reflector_start(r), 0);
  run_until(&e, &c.n, 4);
  /* z arrives 30 ms later on the same stream: it must not be delivered. */
  run_for(&e, 200);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "SYNC_END", "APPLY x", "APPLY y");
  env_done(&e);
}

/* Close while backing off (the timer would fire in 10 s), and a client
 * closed under a watching reflector (it stops; closing it still works). */
static void close_in_backoff_and_client_gone(void **state) {
  double rnd = 0.5;
  sb_reflector_stats st;
  sb_reflector *r;
  uint64_t t0;
  rec c;
  env e;
  int kclosed = 0;

  (void) state;
  load("{'" CM_PATH "': [{'expect':'list','status':503}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm(&e, &c, &rnd, 10000, 10000);
  assert_int_equal(sb_reflector_start(r), 0);
  do {
    uv_run(&e.loop, UV_RUN_ONCE);
    sb_reflector_get_stats(r, &st);
  } while (strcmp(st.state, "backoff") != 0);
  assert_int_equal(sb_reflector_error(r, NULL), SB_EHTTP);
  t0 = uv_now(&e.loop);
  close_and_wait(&e, r, &c);
  assert_true(uv_now(&e.loop) - t0 < 1000);
  env_done(&e);

  load("{'" CM_PATH "': ["
       "{'expect':'list','items':['a'],'rv':'10'},"
       "{'expect':'watch','events':[],'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm(&e, &c, &rnd, 50, 100);
  assert_int_equal(sb_reflector_start(r), 0);
  run_until_requests(&e, CM_PATH, 2);
  assert_int_equal(sb_kube_close(e.k, closed, &kclosed), 0);
  e.k = NULL;
  run_until(&e, &kclosed, 1);
  sb_reflector_get_stats(r, &st);
  assert_string_equal(st.state, "stopped");
  assert_int_equal(sb_reflector_start(r), 0);  /* started already: no-op */
  close_and_wait(&e, r, &c);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a", "SYNC_END");
  env_done(&e);
}

static void bad_options(void **state) {
  sb_reflector_opts o;
  sb_reflector *r = (sb_reflector *) &o;
  rec c;
  env e;

  (void) state;
  env_init(&e);
  memset(&o, 0, sizeof(o));
  o.gvr.version = "v1";
  assert_int_equal(sb_reflector_new(&e.loop, e.k, &o, on_event, &c, &r),
                   SB_EINVAL);
  assert_null(r);
  o.gvr.resource = "configmaps";
  assert_int_equal(sb_reflector_new(&e.loop, e.k, &o, NULL, &c, &r),
                   SB_EINVAL);
  /* Never started: close still releases everything. */
  rec_init(&c);
  assert_int_equal(sb_reflector_new(&e.loop, e.k, &o, on_event, &c, &r), 0);
  close_and_wait(&e, r, &c);
  env_done(&e);
}

/* ---- streamed lists (watch-list) ----------------------------------------- */

/* The list as one watch: its ADDED events are the items, the bookmark
 * annotated initial-events-end closes the list and gives the version,
 * plain bookmarks before it change nothing, and the same stream goes on
 * as the watch. */
static void stream_list_then_watch(void **state) {
  double rnd = 0.25;
  sb_reflector_stats st;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': ["
       "{'expect':'watch','events':[['ADDED','a','5'],['BOOKMARK','6'],"
       "  ['ADDED','b','7'],['END','10'],['MODIFIED','a','11'],"
       "  ['DELETED','b','12']],'then':'end'},"
       "{'expect':'watch','events':[['ADDED','c','13']],'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm_opts(&e, &c, &rnd, 5000, 30000, 1);
  assert_int_equal(sb_reflector_start(r), 0);
  run_until(&e, &c.n, 7);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a", "APPLY b", "SYNC_END",
                "APPLY a", "DELETE b", "APPLY c");
  assert_int_equal(c.bad_type, 0);
  assert_int_equal(sb_reflector_synced(r), 1);
  assert_int_equal(sb_reflector_error(r, NULL), 0);

  fetch_requests();
  no_script_errors();
  assert_int_equal(nreq(CM_PATH), 2);
  assert_true(is_watch(req(CM_PATH, 0)));
  assert_string_equal(q(req(CM_PATH, 0), "sendInitialEvents"), "true");
  assert_string_equal(q(req(CM_PATH, 0), "resourceVersionMatch"),
                      "NotOlderThan");
  assert_string_equal(q(req(CM_PATH, 0), "allowWatchBookmarks"), "true");
  assert_null(q(req(CM_PATH, 0), "resourceVersion"));
  assert_null(q(req(CM_PATH, 0), "limit"));
  assert_string_equal(q(req(CM_PATH, 0), "timeoutSeconds"), "125");
  /* The next watch resumes after the last event, as a plain watch. */
  assert_true(is_watch(req(CM_PATH, 1)));
  assert_string_equal(q(req(CM_PATH, 1), "resourceVersion"), "12");
  assert_null(q(req(CM_PATH, 1), "sendInitialEvents"));
  assert_null(q(req(CM_PATH, 1), "resourceVersionMatch"));

  sb_reflector_get_stats(r, &st);
  assert_string_equal(st.state, "watching");
  assert_string_equal(st.rv, "13");
  assert_int_equal(st.lists, 1);
  assert_int_equal(st.streamed, 1);
  assert_int_equal(st.pages, 0);
  assert_int_equal(st.relists, 0);
  assert_int_equal(st.watches, 1);
  assert_int_equal(st.events, 5);
  assert_int_equal(st.bookmarks, 2);
  assert_int_equal(st.errors, 0);
  close_and_wait(&e, r, &c);
  env_done(&e);
}

/* A stream cut before its end is a failed list: back off, stream again
 * from scratch (a new SYNC_BEGIN; nothing of the broken one is a place
 * to resume from) and let SYNC_END sweep what the new one lacks. A 410
 * in the watch that follows streams the list again. */
static void stream_cut_then_again(void **state) {
  double rnd = 0.5;
  sb_reflector_stats st;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': ["
       "{'expect':'watch','events':[['ADDED','a','5'],['ADDED','b','6']],"
       "  'then':'drop'},"
       "{'expect':'watch','events':[['ADDED','b','6'],['END','20']],"
       "  'then':'end'},"
       "{'expect':'watch','events':[['ERROR',410]],'then':'end'},"
       "{'expect':'watch','events':[['ADDED','c','30'],['END','30']],"
       "  'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm_opts(&e, &c, &rnd, 50, 1000, 1);
  assert_int_equal(sb_reflector_start(r), 0);
  run_until(&e, &c.n, 9);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a", "APPLY b", "SYNC_BEGIN",
                "APPLY b", "SYNC_END", "SYNC_BEGIN", "APPLY c", "SYNC_END");
  assert_int_equal(c.nstore, 1);
  assert_string_equal(c.store[0], "c");

  fetch_requests();
  no_script_errors();
  assert_int_equal(nreq(CM_PATH), 4);
  assert_string_equal(q(req(CM_PATH, 1), "sendInitialEvents"), "true");
  assert_null(q(req(CM_PATH, 1), "resourceVersion"));
  /* The cut stream was a failure: the second waited for the backoff
   * (50 ms, jitter 0.2 at 0.5: at least 45 ms). */
  assert_true(t_ms(req(CM_PATH, 1)) - t_ms(req(CM_PATH, 0)) >= 45);
  assert_string_equal(q(req(CM_PATH, 2), "resourceVersion"), "20");
  assert_null(q(req(CM_PATH, 2), "sendInitialEvents"));
  /* The 410 on a version that came from the stream: list (streamed)
   * again, after a backoff like a 410 on a list's version. */
  assert_string_equal(q(req(CM_PATH, 3), "sendInitialEvents"), "true");

  sb_reflector_get_stats(r, &st);
  assert_string_equal(st.state, "watching");
  assert_int_equal(st.lists, 3);
  assert_int_equal(st.streamed, 3);
  assert_int_equal(st.relists, 1);
  assert_int_equal(st.gone, 1);
  assert_int_equal(sb_reflector_error(r, NULL), 0);
  close_and_wait(&e, r, &c);
  env_done(&e);
}

/* A server without watch-lists answers 422 (or 400) up front: list in
 * pages, at once and from then on -- the relist after a 410 too. */
static void stream_refused_lists_in_pages(void **state) {
  double rnd = 0.5;
  sb_reflector_stats st;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': ["
       "{'expect':'watch','status':422,'message':'sendInitialEvents: "
       "Forbidden: sendInitialEvents is forbidden for watch unless the "
       "WatchList feature gate is enabled'},"
       "{'expect':'list','items':['a'],'rv':'10'},"
       "{'expect':'watch','events':[['ADDED','b','11'],['ERROR',410]],"
       "  'then':'end'},"
       "{'expect':'list','items':['b'],'rv':'20'},"
       "{'expect':'watch','then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm_opts(&e, &c, &rnd, 5000, 30000, 1);
  assert_int_equal(sb_reflector_start(r), 0);
  run_until(&e, &c.n, 7);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a", "SYNC_END", "APPLY b",
                "SYNC_BEGIN", "APPLY b", "SYNC_END");
  run_until_requests(&e, CM_PATH, 5);

  fetch_requests();
  no_script_errors();
  assert_int_equal(nreq(CM_PATH), 5);
  assert_string_equal(q(req(CM_PATH, 0), "sendInitialEvents"), "true");
  assert_false(is_watch(req(CM_PATH, 1)));
  assert_string_equal(q(req(CM_PATH, 1), "limit"), "2");
  /* No backoff (5 s) for the refusal. */
  assert_true(t_ms(req(CM_PATH, 1)) - t_ms(req(CM_PATH, 0)) < 2500);
  assert_false(is_watch(req(CM_PATH, 3)));

  sb_reflector_get_stats(r, &st);
  assert_int_equal(st.lists, 2);
  assert_int_equal(st.streamed, 1);
  assert_int_equal(st.pages, 2);
  /* A refusal is not an error to report. */
  assert_int_equal(sb_reflector_error(r, NULL), 0);
  close_and_wait(&e, r, &c);
  env_done(&e);
}

/* A 403 for the stream (a role with list but not watch): this list goes
 * in pages at once, the watch after it is refused and backs off, and the
 * list after a 410 streams again. */
static void stream_forbidden_lists_this_time(void **state) {
  double rnd = 0.5;
  sb_reflector_stats st;
  sb_reflector *r;
  rec c;
  env e;

  (void) state;
  load("{'" CM_PATH "': ["
       "{'expect':'watch','status':403,'message':'configmaps is forbidden: "
       "cannot watch resource configmaps'},"
       "{'expect':'list','items':['a'],'rv':'10'},"
       "{'expect':'watch','status':403,'message':'configmaps is forbidden: "
       "cannot watch resource configmaps'},"
       "{'expect':'watch','events':[['ERROR',410]],'then':'end'},"
       "{'expect':'watch','events':[['ADDED','b','20'],['END','20']],"
       "  'then':'hold'}]}");
  env_init(&e);
  rec_init(&c);
  r = new_cm_opts(&e, &c, &rnd, 500, 1000, 1);
  assert_int_equal(sb_reflector_start(r), 0);
  run_until(&e, &c.n, 6);
  EXPECT_EVENTS(&c, "SYNC_BEGIN", "APPLY a", "SYNC_END", "SYNC_BEGIN",
                "APPLY b", "SYNC_END");

  fetch_requests();
  no_script_errors();
  assert_int_equal(nreq(CM_PATH), 5);
  assert_string_equal(q(req(CM_PATH, 0), "sendInitialEvents"), "true");
  assert_false(is_watch(req(CM_PATH, 1)));
  /* No backoff (at least 400 ms) before the paginated list; the
   * refused watch after it waits for one. */
  assert_true(t_ms(req(CM_PATH, 1)) - t_ms(req(CM_PATH, 0)) < 250);
  assert_true(t_ms(req(CM_PATH, 3)) - t_ms(req(CM_PATH, 2)) >= 400);
  assert_string_equal(q(req(CM_PATH, 2), "resourceVersion"), "10");
  assert_null(q(req(CM_PATH, 2), "sendInitialEvents"));
  assert_string_equal(q(req(CM_PATH, 4), "sendInitialEvents"), "true");

  sb_reflector_get_stats(r, &st);
  assert_int_equal(st.lists, 2);
  assert_int_equal(st.streamed, 2);
  assert_int_equal(st.pages, 1);
  close_and_wait(&e, r, &c);
  env_done(&e);
}

/* Closing from inside the stream's callbacks (at SYNC_BEGIN, mid-items,
 * at SYNC_END) stops at once: nothing more is delivered. */
static void stream_close_from_callback(void **state) {
  static const int at[] = {1, 2, 4};
  double rnd = 0.5;
  size_t i;

  (void) state;
  for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
    sb_reflector *r;
    rec c;
    env e;

    load("{'" CM_PATH "': ["
         "{'expect':'watch','events':[['ADDED','a','5'],['ADDED','b','6'],"
         "  ['END','10'],['ADDED','c','11']],'gap_ms':20,'then':'hold'}]}");
    env_init(&e);
    rec_init(&c);
    c.close_at = at[i];
    r = new_cm_opts(&e, &c, &rnd, 5000, 30000, 1);
    assert_int_equal(sb_reflector_start(r), 0);
    c.r = r;
    run_until(&e, &c.n, at[i]);
    run_for(&e, 50);
    assert_int_equal(c.n, at[i]);
    /* Already closing: this close call is ignored, the first one's
     * (NULL) callback ran. Freed by the loop. */
    env_done(&e);
  }
}

static int setup(void **state) {
  (void) state;
  signal(SIGPIPE, SIG_IGN);
  return fakeapi_start(&fa);
}

static int teardown(void **state) {
  (void) state;
  cJSON_Delete(reqs);
  reqs = NULL;
  fakeapi_stop(&fa);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(list_pages_then_watch),
      cmocka_unit_test(relist_on_gone),
    cmocka_unit_test(broken_list_item),
      cmocka_unit_test(gone_from_list_version),
      cmocka_unit_test(gone_after_outage),
      cmocka_unit_test(continue_expired),
      cmocka_unit_test(rewatch_after_errors),
      cmocka_unit_test(errors_back_off),
      cmocka_unit_test(lasting_error_logged_again),
      cmocka_unit_test(close_mid_list),
      cmocka_unit_test(close_from_callback),
      cmocka_unit_test(close_in_backoff_and_client_gone),
      cmocka_unit_test(bad_options),
      cmocka_unit_test(stream_list_then_watch),
      cmocka_unit_test(stream_cut_then_again),
      cmocka_unit_test(stream_refused_lists_in_pages),
      cmocka_unit_test(stream_forbidden_lists_this_time),
      cmocka_unit_test(stream_close_from_callback),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
