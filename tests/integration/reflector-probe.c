/* reflector-probe.c -- the reflector and discovery modules as a small
 * program, for the integration tests against a real API server.
 *
 *   sb-reflector-probe [--kubeconfig P] [--namespace N]
 *                      [--resource GROUP/VERSION/RESOURCE] [--page-size N]
 *                      [--min-watch S] [--backoff-base MS]
 *                      [--backoff-max MS] [--pause-first-apply-ms MS]
 *                      [--stream 0|1] [-v N]
 *   sb-reflector-probe --discover [--kubeconfig P]
 *
 * Prints one JSON object per line on stdout, flushed at once, so a test
 * can follow what the reflector does while it changes the cluster:
 *   {"ev":"SYNC_BEGIN"}  {"ev":"APPLY","name":..,"rv":..,"data":{..}}
 *   {"ev":"DELETE",..}   {"ev":"SYNC_END"}
 *   {"ev":"STATS","state":..,"rv":..,"lists":..,"streamed":..,"pages":..,
 *    "relists":..,"gone":..,
 *    "watches":..,"errors":..,"err":"SB_E..."}   whenever one changes
 *   {"ev":"DISCOVERY",...}                        with --discover
 *   {"ev":"CLOSED","loop_close":0}                at the end
 * It runs until its standard input closes (or SIGTERM/SIGINT), then closes
 * the reflector and the client and checks that the loop has nothing left
 * (exit status 0 only then). The core group is written as an empty
 * GROUP: "/v1/configmaps" (the default).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "sb/discovery.h"
#include "sb/err.h"
#include "sb/kube.h"
#include "sb/kubeconfig.h"
#include "sb/log.h"
#include "sb/model.h"
#include "sb/reflector.h"


typedef struct probe {
  uv_loop_t *loop;
  sb_kube *k;
  sb_reflector *r;
  uv_timer_t stats_timer;
  uv_signal_t sigterm, sigint;
  uv_poll_t in;
  int stopping;
  int status;
  long pause_ms;          /* --pause-first-apply-ms, once */
  char last_stats[1024];
} probe;

static void emit(cJSON *o) {
  char *s = cJSON_PrintUnformatted(o);

  if (s) {
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(s);
  }
  cJSON_Delete(o);
}

static cJSON *line(const char *ev) {
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "ev", ev);
  return o;
}

static const char *meta(const cJSON *obj, const char *key) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);

  return cJSON_IsString(v) ? v->valuestring : "";
}

static void on_event(void *arg, sb_reflect_ev ev, const cJSON *obj) {
  static const char *const names[] = {"SYNC_BEGIN", "APPLY", "DELETE",
                                      "SYNC_END"};
  cJSON *o = line(names[ev]);
  probe *p = arg;

  if (obj) {
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "data");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");

    cJSON_AddStringToObject(o, "name", meta(obj, "name"));
    cJSON_AddStringToObject(o, "rv", meta(obj, "resourceVersion"));
    cJSON_AddStringToObject(o, "kind",
                            cJSON_IsString(kind) ? kind->valuestring : "");
    if (data)
      cJSON_AddItemToObject(o, "data", cJSON_Duplicate(data, 1));
  }
  emit(o);
  if (ev == SB_REFLECT_APPLY && p->pause_ms > 0) {
    /* A slow consumer: the loop stands still mid-list, long enough for
     * the test to compact etcd under the list's continue token. */
    usleep((useconds_t) p->pause_ms * 1000);
    p->pause_ms = 0;
  }
}

static void print_stats(probe *p) {
  sb_reflector_stats st;
  const char *msg;
  int err;
  cJSON *o;
  char *s;

  if (!p->r)
    return;
  sb_reflector_get_stats(p->r, &st);
  err = sb_reflector_error(p->r, &msg);
  o = line("STATS");
  cJSON_AddStringToObject(o, "state", st.state);
  cJSON_AddStringToObject(o, "rv", st.rv ? st.rv : "");
  cJSON_AddNumberToObject(o, "lists", (double) st.lists);
  cJSON_AddNumberToObject(o, "streamed", (double) st.streamed);
  cJSON_AddNumberToObject(o, "pages", (double) st.pages);
  cJSON_AddNumberToObject(o, "relists", (double) st.relists);
  cJSON_AddNumberToObject(o, "gone", (double) st.gone);
  cJSON_AddNumberToObject(o, "watches", (double) st.watches);
  cJSON_AddNumberToObject(o, "events", (double) st.events);
  cJSON_AddNumberToObject(o, "bookmarks", (double) st.bookmarks);
  cJSON_AddNumberToObject(o, "errors", (double) st.errors);
  cJSON_AddNumberToObject(o, "synced", sb_reflector_synced(p->r));
  cJSON_AddStringToObject(o, "err", err ? sb_err_name(err) : "");
  cJSON_AddStringToObject(o, "msg", msg);
  s = cJSON_PrintUnformatted(o);
  if (s && strcmp(s, p->last_stats) != 0) {
    snprintf(p->last_stats, sizeof(p->last_stats), "%s", s);
    emit(o);
  } else {
    cJSON_Delete(o);
  }
  free(s);
}

static void on_stats_timer(uv_timer_t *t) {
  print_stats(t->data);
}

static void kube_closed(void *arg) {
  (void) arg;
}

static void reflector_closed(void *arg) {
  probe *p = arg;

  p->r = NULL;
  sb_kube_close(p->k, kube_closed, p);
}

static void stop(probe *p) {
  if (p->stopping)
    return;
  p->stopping = 1;
  print_stats(p);
  uv_close((uv_handle_t *) &p->stats_timer, NULL);
  uv_close((uv_handle_t *) &p->sigterm, NULL);
  uv_close((uv_handle_t *) &p->sigint, NULL);
  uv_close((uv_handle_t *) &p->in, NULL);
  if (p->r)
    sb_reflector_close(p->r, reflector_closed, p);
  else
    sb_kube_close(p->k, kube_closed, p);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void) signum;
  stop(s->data);
}

static void on_stdin(uv_poll_t *h, int status, int events) {
  char buf[256];
  ssize_t n;

  (void) events;
  n = status < 0 ? 0 : read(0, buf, sizeof(buf));
  if (n <= 0 && !(n < 0 && errno == EINTR))
    stop(h->data);
}

/* ---- --discover ---------------------------------------------------------- */

static void on_discovered(void *arg, int err, const char *msg,
                          const sb_discovery *d) {
  probe *p = arg;
  cJSON *o = line("DISCOVERY"), *smi;
  int k;

  if (err) {
    cJSON_AddStringToObject(o, "err", sb_err_name(err));
    cJSON_AddStringToObject(o, "msg", msg ? msg : "");
    p->status = 1;
  } else {
    smi = cJSON_AddObjectToObject(o, "smi");
    for (k = 1; k < SB_KIND__COUNT; k++) {
      cJSON *x;

      if (!d->smi[k].group)
        continue;
      x = cJSON_AddObjectToObject(smi, sb_kind_name((sb_kind) k));
      cJSON_AddStringToObject(x, "group", d->smi[k].group);
      cJSON_AddStringToObject(x, "version", d->smi[k].version);
      cJSON_AddStringToObject(x, "resource", d->smi[k].resource);
    }
    cJSON_AddNumberToObject(o, "istio", d->istio);
    cJSON_AddNumberToObject(o, "istio_v1", d->istio_v1);
    cJSON_AddNumberToObject(o, "linkerd", d->linkerd);
    cJSON_AddNumberToObject(o, "linkerd_profiles", d->linkerd_profiles);
    cJSON_AddNumberToObject(o, "gateway_api", d->gateway_api);
    cJSON_AddNumberToObject(o, "mesh", sb_discovery_mesh(d));
    cJSON_AddNumberToObject(o, "served", (double) d->nserved);
  }
  emit(o);
  sb_kube_close(p->k, kube_closed, p);
}

/* ---- main ---------------------------------------------------------------- */

static int usage(void) {
  fputs("usage: sb-reflector-probe [--kubeconfig P] [--namespace N] "
        "[--resource G/V/R]\n  [--page-size N] [--min-watch S] "
        "[--backoff-base MS] [--backoff-max MS]\n  "
        "[--pause-first-apply-ms MS] [--stream 0|1] [-v N]\n"
        "  | --discover [--kubeconfig P]\n", stderr);
  return 2;
}

static int number(const char *s, long *out) {
  char *end;

  errno = 0;
  *out = strtol(s, &end, 10);
  return errno || end == s || *end || *out < 0 ? -1 : 0;
}

int main(int argc, char **argv) {
  const char *kubeconfig = NULL, *ns = NULL, *res = "/v1/configmaps";
  long page = 0, min_watch = 0, base = 0, max = 0, verbosity = 0, pause = 0;
  long stream = 0;
  char group[256], version[64], resource[128], err[1024];
  sb_kubeconfig_opts ko;
  sb_kubeconfig *cfg;
  sb_reflector_opts o;
  uv_loop_t loop;
  probe p;
  int discover = 0, i, rc;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    long *num = NULL;

    if (strcmp(a, "--discover") == 0) {
      discover = 1;
      continue;
    }
    if (!v)
      return usage();
    i++;
    if (strcmp(a, "--kubeconfig") == 0)
      kubeconfig = v;
    else if (strcmp(a, "--namespace") == 0)
      ns = v;
    else if (strcmp(a, "--resource") == 0)
      res = v;
    else if (strcmp(a, "--page-size") == 0)
      num = &page;
    else if (strcmp(a, "--min-watch") == 0)
      num = &min_watch;
    else if (strcmp(a, "--backoff-base") == 0)
      num = &base;
    else if (strcmp(a, "--backoff-max") == 0)
      num = &max;
    else if (strcmp(a, "--pause-first-apply-ms") == 0)
      num = &pause;
    else if (strcmp(a, "--stream") == 0)
      num = &stream;
    else if (strcmp(a, "-v") == 0)
      num = &verbosity;
    else
      return usage();
    if (num && number(v, num))
      return usage();
  }
  if (sscanf(res, "%255[^/]/%63[^/]/%127s", group, version, resource) != 3) {
    group[0] = '\0';
    if (sscanf(res, "/%63[^/]/%127s", version, resource) != 2)
      return usage();
  }
  sb_log_setup(SB_LOG_TEXT, (int) verbosity, 2);
  signal(SIGPIPE, SIG_IGN);

  memset(&ko, 0, sizeof(ko));
  ko.path = kubeconfig;
  if (sb_kubeconfig_load(&ko, &cfg, err, sizeof(err))) {
    fprintf(stderr, "sb-reflector-probe: %s\n", err);
    return 1;
  }
  memset(&p, 0, sizeof(p));
  uv_loop_init(&loop);
  p.loop = &loop;
  p.pause_ms = pause;
  rc = sb_kube_new(&loop, cfg, NULL, &p.k);
  if (rc) {
    fprintf(stderr, "sb-reflector-probe: %s\n", sb_strerror(rc));
    return 1;
  }
  if (discover) {
    rc = sb_discover(p.k, on_discovered, &p);
    if (rc) {
      fprintf(stderr, "sb-reflector-probe: discovery: %s\n",
              sb_strerror(rc));
      return 1;
    }
  } else {
    memset(&o, 0, sizeof(o));
    o.gvr.group = group;
    o.gvr.version = version;
    o.gvr.resource = resource;
    o.ns = ns;
    o.page_size = page;
    o.stream_lists = stream != 0;
    o.min_watch_s = (unsigned) min_watch;
    if (base || max) {
      o.backoff.base_ms = (uint64_t) (base ? base : 800);
      o.backoff.max_ms = (uint64_t) (max ? max : 30000);
      o.backoff.jitter = 0.2;
    }
    rc = sb_reflector_new(&loop, p.k, &o, on_event, &p, &p.r);
    if (!rc)
      rc = sb_reflector_start(p.r);
    if (rc) {
      fprintf(stderr, "sb-reflector-probe: %s\n", sb_strerror(rc));
      return 1;
    }
    uv_timer_init(&loop, &p.stats_timer);
    p.stats_timer.data = &p;
    uv_timer_start(&p.stats_timer, on_stats_timer, 20, 20);
    uv_signal_init(&loop, &p.sigterm);
    uv_signal_init(&loop, &p.sigint);
    p.sigterm.data = p.sigint.data = &p;
    uv_signal_start(&p.sigterm, on_signal, SIGTERM);
    uv_signal_start(&p.sigint, on_signal, SIGINT);
    uv_poll_init(&loop, &p.in, 0);
    p.in.data = &p;
    uv_poll_start(&p.in, UV_READABLE | UV_DISCONNECT, on_stdin);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&loop);
  {
    cJSON *c = line("CLOSED");

    cJSON_AddNumberToObject(c, "loop_close", rc);
    emit(c);
  }
  sb_kubeconfig_free(cfg);
  return rc || p.status ? 1 : 0;
}
