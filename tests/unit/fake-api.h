/* fake-api.h -- the generic fake API server of tests/data/kube/testserver.py
 * (its /fake/ endpoints) for the applier, recorder and lease tests.
 *
 * The server runs in its own process; a test talks to it through the real
 * API client (sb_kube) on its own loop. The control endpoints (_requests,
 * _reset, _fault, _peek) are plain GETs, so they need no write token and
 * are not recorded. Include after cmocka.h.
 */
#ifndef SB_FAKE_API_H
#define SB_FAKE_API_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "sb/err.h"
#include "sb/kube.h"
#include "sb/kubeconfig.h"

#include "kube-testsrv.h"

static testsrv fake_srv;
static sb_kubeconfig fake_cfg;
static char fake_server[128];

static inline int fake_setup(void **state) {
  (void) state;
  signal(SIGPIPE, SIG_IGN);
  if (testsrv_start(&fake_srv))
    return -1;
  memset(&fake_cfg, 0, sizeof(fake_cfg));
  snprintf(fake_server, sizeof(fake_server), "%s/fake", fake_srv.base);
  fake_cfg.origin = "fake api";
  fake_cfg.server = fake_server;
  fake_cfg.ca = fake_srv.ca;
  fake_cfg.ca_len = fake_srv.ca_len;
  fake_cfg.token = (char *) "token";
  fake_cfg.token_reload_ms = 60000;
  return 0;
}

static inline int fake_teardown(void **state) {
  (void) state;
  testsrv_stop(&fake_srv);
  return 0;
}

/* Runs the loop until *flag is non-zero (fails the test after 20 s). */
static inline void run_until(uv_loop_t *loop, const int *flag) {
  uint64_t start = uv_now(loop);

  while (!*flag) {
    uv_update_time(loop);
    if (uv_now(loop) - start > 20000)
      break;
    uv_run(loop, UV_RUN_ONCE);
  }
  assert_true(*flag);
}

static inline void stop_loop(uv_timer_t *t) {
  *(int *) t->data = 1;
}

/* Runs the loop for ms milliseconds. */
static inline void run_for(uv_loop_t *loop, uint64_t ms) {
  uv_timer_t t;
  int done = 0;

  uv_timer_init(loop, &t);
  t.data = &done;
  uv_timer_start(&t, stop_loop, ms, 0);
  while (!done)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *) &t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

typedef struct fake_res {
  int done;
  int err;
  cJSON *body;
} fake_res;

static inline void fake_on_res(void *arg, sb_kube_result *r) {
  fake_res *x = arg;

  x->done = 1;
  x->err = r->err;
  x->body = r->body;
  r->body = NULL;
}

/* GET of a control path; returns the parsed body (caller frees) or NULL
 * on 404. */
static inline cJSON *fake_ctl(uv_loop_t *loop, sb_kube *k,
                              const char *fmt, ...) {
  char path[2048];
  fake_res x;
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(path, sizeof(path), fmt, ap);
  va_end(ap);
  memset(&x, 0, sizeof(x));
  assert_int_equal(sb_kube_raw_get(k, path, fake_on_res, &x, NULL), 0);
  run_until(loop, &x.done);
  if (x.err) {
    assert_int_equal(x.err, SB_ENOTFOUND);
    cJSON_Delete(x.body);
    return NULL;
  }
  return x.body;
}

static inline void fake_reset(uv_loop_t *loop, sb_kube *k) {
  cJSON_Delete(fake_ctl(loop, k, "/_reset"));
}

/* The requests the server saw with method (or any, when NULL) on paths
 * starting with prefix, as a new array (caller frees). */
static inline cJSON *fake_requests(uv_loop_t *loop, sb_kube *k,
                                   const char *method, const char *prefix) {
  cJSON *all = fake_ctl(loop, k, "/_requests"), *out = cJSON_CreateArray();
  const cJSON *it;

  assert_non_null(all);
  cJSON_ArrayForEach(it, all) {
    const char *m = cJSON_GetObjectItem(it, "method")->valuestring;
    const char *p = cJSON_GetObjectItem(it, "path")->valuestring;

    if ((!method || strcmp(m, method) == 0) &&
        strncmp(p, prefix, strlen(prefix)) == 0)
      cJSON_AddItemToArray(out, cJSON_Duplicate(it, 1));
  }
  cJSON_Delete(all);
  return out;
}

static inline const char *jstr(const cJSON *j, const char *path) {
  char key[128];
  const char *dot;

  while ((dot = strchr(path, '.'))) {
    snprintf(key, sizeof(key), "%.*s", (int) (dot - path), path);
    j = cJSON_GetObjectItemCaseSensitive(j, key);
    path = dot + 1;
  }
  j = cJSON_GetObjectItemCaseSensitive(j, path);
  return cJSON_IsString(j) ? j->valuestring : NULL;
}

static inline double jnum(const cJSON *j, const char *path) {
  char key[128];
  const char *dot;

  while ((dot = strchr(path, '.'))) {
    snprintf(key, sizeof(key), "%.*s", (int) (dot - path), path);
    j = cJSON_GetObjectItemCaseSensitive(j, key);
    path = dot + 1;
  }
  j = cJSON_GetObjectItemCaseSensitive(j, path);
  return cJSON_IsNumber(j) ? j->valuedouble : -1;
}

static inline sb_kube *fake_client(uv_loop_t *loop) {
  sb_kube *k;

  assert_int_equal(sb_kube_new(loop, &fake_cfg, NULL, &k), 0);
  return k;
}

static inline void fake_closed(void *arg) {
  (*(int *) arg)++;
}

/* Closes k and checks that the loop ends clean. */
static inline void fake_finish(uv_loop_t *loop, sb_kube *k) {
  int n = 0;

  assert_int_equal(sb_kube_close(k, fake_closed, &n), 0);
  assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(n, 1);
  assert_int_equal(uv_loop_close(loop), 0);
}

#endif
