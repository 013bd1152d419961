/* bench-create.c -- writes many objects to the API server as fast as the
 * project's own client can, for the controller benchmarks.
 *
 *   bench-create [--kubeconfig P] [-c CONCURRENCY] [--apply] [-v N]
 *                GROUP/VERSION/RESOURCE FILE
 *
 * FILE holds a JSON array of objects or a List (`items`); every object
 * names its namespace. They are POSTed (or, with --apply, written with
 * server-side apply like the controller does) with CONCURRENCY requests
 * out at once (default 64) over sb_kube: HTTP/2, one multiplexed TLS
 * connection, no client-side rate limit. The core group is written as an
 * empty GROUP ("/v1/pods").
 *
 * Why this is the baseline the controller is measured against: it is the
 * same transport the controller uses (so the ratio shows what the
 * controller adds, not what libcurl costs), it keeps the API server's
 * request handlers busy in parallel, and it spends almost no CPU of its
 * own -- on a machine of two cores a client that burns a core (Python,
 * kubectl) slows the API server it is timing.
 *
 * Prints one JSON object on stdout:
 *   {"objects":N,"ok":N,"failed":F,"seconds":S,"first_error":"..."}
 * and exits 0 when every write succeeded. "seconds" runs from the first
 * request to the last answer (the kubeconfig is loaded before).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "sb/err.h"
#include "sb/kube.h"
#include "sb/kubeconfig.h"
#include "sb/log.h"

typedef struct bench {
  uv_loop_t *loop;
  sb_kube *k;
  sb_gvr gvr;
  cJSON **objs;
  size_t n, next, done, ok, out;
  size_t conc;
  int apply;
  uint64_t t0, t1;
  char first_error[512];
} bench;

static void start_more(bench *b);

static void on_done(void *arg, sb_kube_result *res) {
  bench *b = arg;

  b->out--;
  b->done++;
  if (res->err == 0)
    b->ok++;
  else if (!b->first_error[0])
    snprintf(b->first_error, sizeof(b->first_error), "%s: %s",
             sb_err_name(res->err), res->message ? res->message : "");
  if (b->done == b->n) {
    b->t1 = uv_hrtime();
    return;
  }
  start_more(b);
}

static void start_more(bench *b) {
  while (b->out < b->conc && b->next < b->n) {
    const cJSON *o = b->objs[b->next++];
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "metadata");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
    sb_kube_target t;
    int rc;

    memset(&t, 0, sizeof(t));
    t.gvr = b->gvr;
    t.ns = cJSON_IsString(ns) ? ns->valuestring : NULL;
    t.name = cJSON_IsString(name) ? name->valuestring : NULL;
    rc = b->apply ? sb_kube_apply(b->k, &t, o, 0, on_done, b, NULL)
                  : sb_kube_create(b->k, &t, o, 0, on_done, b, NULL);
    if (rc) {
      /* Not started: count it as a failure and go on. */
      b->done++;
      if (!b->first_error[0])
        snprintf(b->first_error, sizeof(b->first_error), "%s: not started",
                 sb_err_name(rc));
      if (b->done == b->n)
        b->t1 = uv_hrtime();
      continue;
    }
    b->out++;
  }
}

static cJSON *read_json(const char *path) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t len = 0, cap = 0, r;
  cJSON *j;

  if (!f)
    return NULL;
  for (;;) {
    if (cap - len < 65536) {
      char *nb = realloc(buf, cap ? cap * 2 : 1 << 20);
      if (!nb) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
      cap = cap ? cap * 2 : 1 << 20;
    }
    r = fread(buf + len, 1, cap - len - 1, f);
    if (r == 0)
      break;
    len += r;
  }
  fclose(f);
  buf[len] = '\0';
  j = cJSON_Parse(buf);
  free(buf);
  return j;
}

static int usage(void) {
  fprintf(stderr, "usage: bench-create [--kubeconfig P] [-c CONCURRENCY] "
          "[--apply] [-v N] GROUP/VERSION/RESOURCE FILE\n");
  return 2;
}

static void kube_closed(void *arg) {
  (void) arg;
}

int main(int argc, char **argv) {
  const char *kubeconfig = NULL, *res = NULL, *file = NULL;
  char group[256], version[64], resource[128], err[512], *end;
  sb_kubeconfig_opts ko;
  sb_kubeconfig *cfg;
  sb_kube_opts kopts;
  uv_loop_t loop;
  cJSON *doc, *items, *it;
  bench b;
  long verbosity = 0;
  int i, rc;

  memset(&b, 0, sizeof(b));
  b.conc = 64;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--kubeconfig") && i + 1 < argc) {
      kubeconfig = argv[++i];
    } else if (!strcmp(a, "-c") && i + 1 < argc) {
      b.conc = strtoul(argv[++i], &end, 10);
      if (*end || b.conc == 0)
        return usage();
    } else if (!strcmp(a, "-v") && i + 1 < argc) {
      verbosity = strtol(argv[++i], &end, 10);
      if (*end)
        return usage();
    } else if (!strcmp(a, "--apply")) {
      b.apply = 1;
    } else if (a[0] == '-') {
      return usage();
    } else if (!res) {
      res = a;
    } else if (!file) {
      file = a;
    } else {
      return usage();
    }
  }
  if (!res || !file)
    return usage();
  if (sscanf(res, "%255[^/]/%63[^/]/%127s", group, version, resource) != 3) {
    group[0] = '\0';
    if (sscanf(res, "/%63[^/]/%127s", version, resource) != 2)
      return usage();
  }
  b.gvr.group = group;
  b.gvr.version = version;
  b.gvr.resource = resource;

  doc = read_json(file);
  if (!doc) {
    fprintf(stderr, "bench-create: cannot read JSON from %s\n", file);
    return 1;
  }
  items = cJSON_IsArray(doc) ? doc
                             : cJSON_GetObjectItemCaseSensitive(doc, "items");
  b.n = (size_t) cJSON_GetArraySize(items);
  b.objs = calloc(b.n ? b.n : 1, sizeof(*b.objs));
  if (!b.objs)
    return 1;
  b.n = 0;
  cJSON_ArrayForEach(it, items)
    b.objs[b.n++] = it;

  sb_log_setup(SB_LOG_TEXT, (int) verbosity, 2);
  signal(SIGPIPE, SIG_IGN);
  memset(&ko, 0, sizeof(ko));
  ko.path = kubeconfig;
  if (sb_kubeconfig_load(&ko, &cfg, err, sizeof(err))) {
    fprintf(stderr, "bench-create: %s\n", err);
    return 1;
  }
  uv_loop_init(&loop);
  b.loop = &loop;
  memset(&kopts, 0, sizeof(kopts));
  kopts.qps = 0;  /* unlimited */
  rc = sb_kube_new(&loop, cfg, &kopts, &b.k);
  if (rc) {
    fprintf(stderr, "bench-create: %s\n", sb_strerror(rc));
    return 1;
  }
  b.t0 = uv_hrtime();
  if (b.n == 0)
    b.t1 = b.t0;
  start_more(&b);
  while (b.done < b.n)
    uv_run(&loop, UV_RUN_ONCE);
  sb_kube_close(b.k, kube_closed, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);

  {
    cJSON *out = cJSON_CreateObject();
    char *s;

    cJSON_AddNumberToObject(out, "objects", (double) b.n);
    cJSON_AddNumberToObject(out, "ok", (double) b.ok);
    cJSON_AddNumberToObject(out, "failed", (double) (b.n - b.ok));
    cJSON_AddNumberToObject(out, "seconds", (double) (b.t1 - b.t0) / 1e9);
    cJSON_AddNumberToObject(out, "concurrency", (double) b.conc);
    cJSON_AddStringToObject(out, "verb", b.apply ? "apply" : "create");
    cJSON_AddStringToObject(out, "first_error", b.first_error);
    s = cJSON_PrintUnformatted(out);
    if (s)
      printf("%s\n", s);
    free(s);
    cJSON_Delete(out);
  }
  rc = b.ok == b.n ? 0 : 1;
  free(b.objs);
  cJSON_Delete(doc);
  sb_kubeconfig_free(cfg);
  return rc;
}
