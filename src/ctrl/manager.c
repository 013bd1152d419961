/* manager.c -- the controller assembled from its modules. See sb/manager.h.
 *
 * Everything here is wiring and policy; the decisions live elsewhere:
 * what should exist in reconcile.c (via translate/), how to write it in
 * applier.c, how to watch in reflector.c. The file reads top to bottom in
 * the order things happen: start-up, discovery, watches, change handling,
 * the reconcile worker, leadership, shutdown.
 */
#include "sb/manager.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "sb/applier.h"
#include "sb/cache.h"
#include "sb/discovery.h"
#include "sb/err.h"
#include "sb/httpd.h"
#include "sb/index.h"
#include "sb/kube.h"
#include "sb/kubeconfig.h"
#include "sb/lease.h"
#include "sb/log.h"
#include "sb/metrics.h"
#include "sb/queue.h"
#include "sb/reconcile.h"
#include "sb/recorder.h"
#include "sb/reflector.h"
#include "sb/version.h"

#define CONTROLLER "smi-bridge"
#define FORBIDDEN_GRACE_MS 5000
/* Discovery retries: like the reflectors' backoff, so a controller started
 * before its API server is ready within a second or two of it. */
#define DISCOVERY_RETRY_MS 1000
#define DISCOVERY_RETRY_MAX_MS 30000
/* A stop waits this long for writes in flight, then this long for the
 * Lease release, then cancels whatever is still out: a hung API server
 * must not hold a SIGTERM for a request timeout (60 s) each. */
#define STOP_WRITES_MS 800
#define STOP_RELEASE_MS 800
/* Reconciles after which an idle queue gives free heap pages back. */
#define TRIM_AFTER 256

/* One watched resource in one namespace (or all). */
struct watch {
  sb_manager *m;
  char *name;          /* "virtualservices.networking.istio.io" for logs */
  char *group, *version, *resource, *ns;
  sb_cache_res res;
  int gating;          /* readiness waits for it */
  int synced;
  int input;           /* a model kind (SMI, Service, Pod), not an output */
  int degraded;        /* refused (403) too long: gating waived */
  uint64_t forbidden_since;
  sb_reflector *r;
};

/* One reconcile in flight: the plan must outlive the applier's run. */
struct inflight {
  sb_manager *m;
  struct inflight *prev, *next;  /* m->flights, for a stop that cannot
                                    wait for them */
  char *key;           /* the queue's key (copy) */
  char *keybuf;        /* parsed key points here */
  sb_key k;
  sb_plan plan;
  uint64_t start_ms;
};

struct sb_manager {
  uv_loop_t *loop;
  sb_manager_opts o;          /* strings point into owned copies below */
  char **strs;                /* every copied string, freed at the end */
  size_t nstrs;
  int oom;                    /* a keep() failed */
  const char **namespaces;

  sb_kubeconfig *cfg;
  sb_kube *kube;
  sb_metrics *metrics;
  sb_httpd *healthd, *metricsd;
  sb_cache *cache;
  sb_index *index;
  sb_queue *queue;
  sb_applier *applier;
  sb_recorder *rec;
  sb_lease *lease;

  uv_timer_t timer;           /* discovery retries */
  unsigned discovery_delay;
  int discovered;
  struct watch *watches;
  size_t nwatches;

  const char *own_key;        /* the key whose writes are being put into
                                 the cache (on_applied) */
  int synced;                 /* every gating reflector synced once */
  int leading;
  int started;                /* sb_manager_start ran */
  int stopping;               /* 1: reconciles finishing, 2: releasing
                                 the Lease or closing */
  int status;                 /* exit status once stopped */
  unsigned pending;           /* closes outstanding during shutdown */
  size_t inflight;
  struct inflight *flights;   /* the reconciles counted by inflight */
  int lease_forced;           /* stop went on without the release */
  char discovery_err[256];    /* why discovery failed last, for /readyz */
  size_t since_trim;          /* reconciles since the last trim_heap */
  sb_manager_done_cb done_cb;
  void *done_arg;

  /* metric families */
  sb_metric *m_reconcile_total, *m_reconcile_errors, *m_reconcile_time;
  sb_metric *m_rest, *m_leader, *m_translate_errors, *m_conflicts;
  sb_metric *m_applied, *m_deleted, *m_apply_failed, *m_cached;
  sb_metric *m_cache_bytes;
  char host[256];
};

static void check_gates(sb_manager *m);
static void stop_now(sb_manager *m, int status);
static void continue_stop(sb_manager *m);
static void on_stop_deadline(uv_timer_t *t);

/* ---- small helpers ------------------------------------------------------ */

/* A copy of s owned by m (NULL stays NULL). Out of memory, it returns
 * NULL and sets m->oom: a NULL option means "the default", so the caller
 * must not go on with it. */
static const char *keep(sb_manager *m, const char *s) {
  char **v, *c;

  if (!s)
    return NULL;
  v = realloc(m->strs, (m->nstrs + 1) * sizeof(*v));
  if (!v) {
    m->oom = 1;
    return NULL;
  }
  m->strs = v;
  c = strdup(s);
  if (!c) {
    m->oom = 1;
    return NULL;
  }
  m->strs[m->nstrs++] = c;
  return c;
}

static void make_identity(sb_manager *m, char *out, size_t n) {
  char host[200] = "smi-bridge";
  unsigned char rnd[4] = {0, 0, 0, 0};
  const char *pod = getenv("POD_NAME");

  if (pod && *pod)
    snprintf(host, sizeof(host), "%s", pod);
  else
    gethostname(host, sizeof(host) - 1);
  uv_random(NULL, NULL, rnd, sizeof(rnd), 0, NULL);
  snprintf(out, n, "%s_%02x%02x%02x%02x", host, rnd[0], rnd[1], rnd[2],
           rnd[3]);
  snprintf(m->host, sizeof(m->host), "%s", host);
}

static void rest_metric(void *arg, const char *method, int code) {
  sb_manager *m = arg;
  char c[16];

  snprintf(c, sizeof(c), "%d", code);
  sb_metric_inc(m->m_rest, SB_LABELS(c, method));
}

static void collect(sb_metrics *metrics, void *data) {
  sb_manager *m = data;

  (void) metrics;
  if (!m->cache)
    return;
  sb_metric_set(m->m_cached, SB_LABELS(CONTROLLER),
                (double) sb_cache_count(m->cache));
  sb_metric_set(m->m_cache_bytes, SB_LABELS(CONTROLLER),
                (double) sb_cache_bytes(m->cache));
  sb_metric_set(m->m_leader, SB_LABELS(m->o.lease_name),
                m->leading ? 1.0 : 0.0);
}

static int register_metrics(sb_manager *m) {
  size_t nb;
  const double *b = sb_metrics_buckets(SB_BUCKETS_RECONCILE, &nb);
  int rc = 0;

  rc |= sb_metrics_counter(m->metrics, "controller_runtime_reconcile_total",
                           "Total number of reconciliations per controller",
                           SB_LABELS("controller", "result"),
                           &m->m_reconcile_total);
  rc |= sb_metrics_counter(m->metrics,
                           "controller_runtime_reconcile_errors_total",
                           "Total number of reconciliation errors per "
                           "controller", SB_LABELS("controller"),
                           &m->m_reconcile_errors);
  rc |= sb_metrics_histogram(m->metrics,
                             "controller_runtime_reconcile_time_seconds",
                             "Length of time per reconciliation per "
                             "controller", SB_LABELS("controller"), b, nb,
                             &m->m_reconcile_time);
  rc |= sb_metrics_counter(m->metrics, "rest_client_requests_total",
                           "Number of HTTP requests, partitioned by status "
                           "code and method.", SB_LABELS("code", "method"),
                           &m->m_rest);
  rc |= sb_metrics_gauge(m->metrics, "leader_election_master_status",
                         "Gauge of if the reporting system is master of the "
                         "relevant lease, 0 indicates backup, 1 indicates "
                         "master. 'name' is the string used to identify "
                         "the lease.", SB_LABELS("name"), &m->m_leader);
  rc |= sb_metrics_counter(m->metrics, "smi_bridge_translation_errors_total",
                           "SMI objects that could not be translated, by "
                           "kind and reason.", SB_LABELS("kind", "reason"),
                           &m->m_translate_errors);
  rc |= sb_metrics_counter(m->metrics, "smi_bridge_conflicts_total",
                           "Conflicts reported on SMI objects (foreign "
                           "objects, competing splits, shared selectors).",
                           SB_LABELS("kind"), &m->m_conflicts);
  rc |= sb_metrics_counter(m->metrics, "smi_bridge_objects_applied_total",
                           "Generated objects written with server-side "
                           "apply.", SB_LABELS("kind"), &m->m_applied);
  rc |= sb_metrics_counter(m->metrics, "smi_bridge_objects_deleted_total",
                           "Generated objects pruned.", SB_LABELS("kind"),
                           &m->m_deleted);
  rc |= sb_metrics_counter(m->metrics, "smi_bridge_apply_failures_total",
                           "Writes the API server refused or that failed.",
                           SB_LABELS("kind"), &m->m_apply_failed);
  rc |= sb_metrics_gauge(m->metrics, "smi_bridge_cached_objects",
                         "Objects held in the controller's cache.",
                         SB_LABELS("controller"), &m->m_cached);
  rc |= sb_metrics_gauge(m->metrics, "smi_bridge_cache_bytes",
                         "Bytes held by the controller's cache.",
                         SB_LABELS("controller"), &m->m_cache_bytes);
  if (rc)
    return SB_ENOMEM;
  return sb_metrics_on_collect(m->metrics, collect, m);
}

/* ---- probes ------------------------------------------------------------- */

static void on_healthz(const sb_httpd_req *req, sb_httpd_resp *resp,
                       void *data) {
  (void) req;
  (void) data;
  sb_buf_adds(&resp->body, "ok\n");
}

static void on_readyz(const sb_httpd_req *req, sb_httpd_resp *resp,
                      void *data) {
  sb_manager *m = data;
  size_t i;

  (void) req;
  if (sb_manager_ready(m)) {
    sb_buf_adds(&resp->body, "ok\n");
    return;
  }
  resp->status = 503;
  if (!m->discovered)
    sb_buf_addf(&resp->body, "waiting for API discovery%s%s\n",
                m->discovery_err[0] ? ": " : "", m->discovery_err);
  for (i = 0; i < m->nwatches; i++)
    if (m->watches[i].gating && !m->watches[i].synced)
      sb_buf_addf(&resp->body, "waiting for %s%s%s to sync\n",
                  m->watches[i].name, m->watches[i].ns ? " in " : "",
                  m->watches[i].ns ? m->watches[i].ns : "");
}

static void on_metrics(const sb_httpd_req *req, sb_httpd_resp *resp,
                       void *data) {
  sb_manager *m = data;

  (void) req;
  resp->content_type = SB_METRICS_CONTENT_TYPE;
  if (sb_metrics_write(m->metrics, &resp->body))
    resp->status = 500;
}

/* ---- events ------------------------------------------------------------- */

static void event_for(sb_manager *m, const sb_key *k, const sb_plan *p,
                      sb_event_type type, const char *reason,
                      const char *msg) {
  sb_objref ref;

  if (!p->src_api_version)
    return;  /* the source is gone: nobody to tell */
  ref.api_version = p->src_api_version;
  ref.kind = sb_kind_name(k->kind);
  ref.ns = k->ns;
  ref.name = k->name;
  ref.uid = p->src_uid;
  if (k->kind != SB_KIND_TRAFFIC_SPLIT && k->kind != SB_KIND_TRAFFIC_TARGET)
    return;  /* ServiceAccount keys report through their TrafficTargets */
  sb_recorder_event(m->rec, &ref, type, reason, "%s", msg);
}

/* Turns the plan's diagnostics into Events and metrics. */
static void report_diags(sb_manager *m, const sb_key *k, const sb_plan *p) {
  sb_buf line;
  size_t i;

  sb_buf_init(&line, 4096);
  for (i = 0; i < p->diags.n; i++) {
    const sb_diag *d = &p->diags.v[i];
    const char *kind = d->kind ? d->kind : sb_kind_name(k->kind);

    /* The API server hands out every object under the watched version
     * (conversion None), so "a field of another version" says nothing
     * about what the author wrote: not worth an Event here. */
    if (d->reason && !strcmp(d->reason, SB_REASON_VERSION_SKEW))
      continue;
    sb_buf_reset(&line);
    if (d->path && *d->path)
      sb_buf_addf(&line, "%s: ", d->path);
    sb_buf_adds(&line, d->msg ? d->msg : "");
    if (d->sev == SB_DIAG_ERROR)
      sb_metric_inc(m->m_translate_errors, SB_LABELS(kind, d->reason));
    if (d->reason && !strcmp(d->reason, SB_REASON_CONFLICT))
      sb_metric_inc(m->m_conflicts, SB_LABELS(kind));
    sb_log(d->sev == SB_DIAG_ERROR ? SB_LOG_WARN : SB_LOG_INFO,
           d->sev == SB_DIAG_ERROR ? "cannot translate" : "translation note",
           "kind=%s object=%s/%s reason=%s detail=%s", kind,
           d->ns ? d->ns : k->ns, d->name ? d->name : k->name, d->reason,
           sb_buf_cstr(&line));
    event_for(m, k, p, SB_EVENT_WARNING, d->reason, sb_buf_cstr(&line));
  }
  sb_buf_free(&line);
}

/* ---- memory ------------------------------------------------------------- */

/* After a burst -- the initial lists (pages of parsed JSON), a relist, a
 * few hundred reconciles (plans, request bodies) -- the heap holds free
 * memory between the long-lived cache entries, which glibc keeps resident
 * (it only trims the top of the heap by itself). malloc_trim gives those
 * pages back: some 3 MiB after syncing 20,000 pods. It walks the heap
 * once (milliseconds), and only runs when such a burst has ended. */
static void trim_heap(sb_manager *m) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  m->since_trim = 0;
}

/* ---- the reconcile worker ----------------------------------------------- */

static void inflight_free(struct inflight *f) {
  sb_plan_free(&f->plan);
  free(f->key);
  free(f->keybuf);
  free(f);
}

/* Ends one reconcile: metrics, queue bookkeeping. */
static void finish(struct inflight *f, int ok, long retry_after) {
  sb_manager *m = f->m;
  double secs = (double) (uv_now(m->loop) - f->start_ms) / 1000.0;

  sb_metric_observe(m->m_reconcile_time, SB_LABELS(CONTROLLER), secs);
  if (ok) {
    sb_metric_inc(m->m_reconcile_total, SB_LABELS(CONTROLLER, "success"));
    sb_queue_forget(m->queue, f->key);
  } else {
    sb_metric_inc(m->m_reconcile_total, SB_LABELS(CONTROLLER, "error"));
    sb_metric_inc(m->m_reconcile_errors, SB_LABELS(CONTROLLER));
    if (!m->stopping) {
      if (retry_after > 0)
        sb_queue_add_after(m->queue, f->key, (uint64_t) retry_after * 1000);
      else
        sb_queue_add_rate_limited(m->queue, f->key);
    }
  }
  sb_queue_done(m->queue, f->key);
  if (f->prev)
    f->prev->next = f->next;
  else
    m->flights = f->next;
  if (f->next)
    f->next->prev = f->prev;
  m->inflight--;
  inflight_free(f);
  if (m->stopping) {
    continue_stop(m);
    return;
  }
  /* Events wait while the queue has work; the next reconcile, if any,
   * starts from the queue's idle callback and holds them again. */
  if (!m->inflight && !sb_queue_len(m->queue))
    sb_recorder_hold(m->rec, 0);
  if (++m->since_trim >= TRIM_AFTER && !m->inflight &&
      !sb_queue_len(m->queue))
    trim_heap(m);
}

/* The cache resource a generated kind is fed under. */
static const sb_cache_res *res_of_gvk(sb_manager *m, const sb_gvk *gvk) {
  size_t i;

  for (i = 0; i < m->nwatches; i++)
    if (m->watches[i].res.gvk == gvk)
      return &m->watches[i].res;
  return NULL;
}

static void on_applied(void *arg, sb_apply_result *res) {
  struct inflight *f = arg;
  sb_manager *m = f->m;
  size_t i, j = 0;
  char msg[1024];

  if (m->stopping || !m->cache) {
    finish(f, 0, -1);
    return;
  }
  /* Update the cache with what the server returned, so a reconcile that
   * runs before the watch event arrives already sees it. The changes
   * this makes do not queue f->key again: the objects are what its plan
   * just wrote (or deleted), and anything that changed since has queued
   * it already. (Other keys a change touches are queued as usual.) */
  m->own_key = f->key;
  for (i = 0; i < f->plan.nactions; i++) {
    const sb_action *a = &f->plan.actions[i];
    const sb_cache_res *cr = res_of_gvk(m, a->gvk);

    if (a->type == SB_ACTION_APPLY) {
      cJSON *obj = j < res->nreturned ? res->returned[j] : NULL;
      j++;
      if (obj && cr)
        sb_cache_apply(m->cache, cr, obj);
      if (obj) {
        sb_metric_inc(m->m_applied, SB_LABELS(a->gvk->kind));
        sb_log(SB_LOG_INFO, "applied", "kind=%s object=%s/%s source=%s",
               a->gvk->kind, a->ns, a->name, f->key);
      }
    }
  }
  for (i = 0; i < f->plan.nactions; i++) {
    const sb_action *a = &f->plan.actions[i];
    int failed = 0;
    size_t k;

    if (a->type != SB_ACTION_DELETE)
      continue;
    for (k = 0; k < res->nfailures; k++)
      if (res->failures[k].action == a)
        failed = 1;
    if (failed)
      continue;
    sb_metric_inc(m->m_deleted, SB_LABELS(a->gvk->kind));
    sb_log(SB_LOG_INFO, "deleted", "kind=%s object=%s/%s source=%s",
           a->gvk->kind, a->ns, a->name, f->key);
    if (!m->o.dry_run) {
      const sb_cache_res *cr = res_of_gvk(m, a->gvk);
      cJSON *stub = cJSON_CreateObject(), *meta;
      if (stub && cr && (meta = cJSON_AddObjectToObject(stub, "metadata")) &&
          cJSON_AddStringToObject(meta, "name", a->name) &&
          cJSON_AddStringToObject(meta, "namespace", a->ns))
        sb_cache_delete(m->cache, cr, stub);
      cJSON_Delete(stub);
    }
  }
  m->own_key = NULL;
  for (i = 0; i < res->nfailures; i++) {
    const sb_apply_failure *fl = &res->failures[i];
    const sb_action *a = fl->action;

    sb_metric_inc(m->m_apply_failed, SB_LABELS(a->gvk->kind));
    snprintf(msg, sizeof(msg), "%s %s %s/%s: %s",
             a->type == SB_ACTION_APPLY ? "apply" : "delete", a->gvk->kind,
             a->ns, a->name, fl->message ? fl->message : sb_strerror(fl->err));
    sb_log(SB_LOG_ERROR, "write failed", "source=%s err=%s detail=%s",
           f->key, sb_err_name(fl->err), msg);
    event_for(m, &f->k, &f->plan, SB_EVENT_WARNING, SB_REASON_APPLY_FAILED,
              msg);
  }
  if (!res->nfailures && (res->applied || res->deleted)) {
    snprintf(msg, sizeof(msg), "%s: applied %zu, deleted %zu %s",
             m->o.dry_run ? "dry run" : "in step", res->applied, res->deleted,
             m->o.topts.mesh == SB_MESH_LINKERD ? "Linkerd objects"
                                                : "Istio objects");
    if (m->o.topts.routes == SB_ROUTES_GATEWAY_API)
      snprintf(msg, sizeof(msg), "%s: applied %zu, deleted %zu objects",
               m->o.dry_run ? "dry run" : "in step", res->applied,
               res->deleted);
    event_for(m, &f->k, &f->plan, SB_EVENT_NORMAL, SB_REASON_TRANSLATED, msg);
  }
  finish(f, res->nfailures == 0, res->retry_after);
}

static int count_one(void *arg, const sb_obj *obj) {
  (void) obj;
  ++*(size_t *) arg;
  return 0;
}

/* Has the key's source gone for good? A ServiceAccount key lives as long
 * as some TrafficTarget names that ServiceAccount. */
static int key_gone(sb_manager *m, const sb_key *k) {
  const sb_world *w = sb_cache_world(m->cache);
  size_t n = 0;

  if (k->kind == SB_KIND_SERVICE_ACCOUNT) {
    sb_world_targets_by_dest(w, k->ns, k->name, count_one, &n);
    return n == 0;
  }
  return !sb_world_get(w, k->kind, k->ns, k->name) &&
         !sb_cache_invalid(m->cache, k->kind, k->ns, k->name, NULL);
}

static void process(sb_queue *q, const char *key, void *data) {
  sb_manager *m = data;
  struct inflight *f;
  int rc;

  (void) q;
  f = calloc(1, sizeof(*f));
  if (!f || !(f->key = strdup(key)) || !(f->keybuf = strdup(key))) {
    if (f) {
      free(f->key);
      free(f);
    }
    sb_queue_add_rate_limited(m->queue, key);
    sb_queue_done(m->queue, key);
    return;
  }
  f->m = m;
  f->start_ms = uv_now(m->loop);
  sb_plan_init(&f->plan);
  f->next = m->flights;
  if (f->next)
    f->next->prev = f;
  m->flights = f;
  m->inflight++;
  sb_recorder_hold(m->rec, 1);
  if (sb_index_key_parse(f->keybuf, &f->k) != 0) {
    sb_log(SB_LOG_ERROR, "bad queue key", "key=%s", key);
    finish(f, 1, -1);
    return;
  }
  rc = sb_reconcile(m->cache, &f->k, &m->o.topts, &f->plan);
  if (rc) {
    sb_log(SB_LOG_ERROR, "reconcile failed", "key=%s err=%s", key,
           sb_err_name(rc));
    finish(f, 0, -1);
    return;
  }
  if (key_gone(m, &f->k) && f->plan.nwanted == 0)
    sb_index_remove(m->index, key);  /* nothing left to watch for it */
  else
    sb_index_set(m->index, key, f->plan.deps, f->plan.ndeps,
                 f->plan.wanted, f->plan.nwanted);
  report_diags(m, &f->k, &f->plan);
  sb_log(SB_LOG_DEBUG, "reconcile", "key=%s actions=%zu unchanged=%zu "
         "outcome=%s", key, f->plan.nactions, f->plan.unchanged,
         f->plan.outcome == SB_OUTCOME_OK ? "ok" : "invalid");
  if (f->plan.nactions == 0) {
    finish(f, 1, -1);
    return;
  }
  rc = sb_applier_run(m->applier, &f->plan, on_applied, f);
  if (rc) {
    sb_log(SB_LOG_ERROR, "cannot start writes", "key=%s err=%s", key,
           sb_err_name(rc));
    finish(f, 0, -1);
  }
}

/* ---- from cache changes to keys ----------------------------------------- */

static void enqueue(void *arg, const char *key) {
  sb_manager *m = arg;

  if (m->stopping || (m->own_key && strcmp(key, m->own_key) == 0))
    return;
  sb_queue_add(m->queue, key);
}

static void on_change(void *arg, const sb_change *c) {
  sb_manager *m = arg;

  if (m->stopping)
    return;
  /* Keys whose recorded dependencies the change touches, and the keys the
   * change names by itself (the source, or a generated object's owner). */
  if (sb_index_affected(m->index, c, enqueue, m) ||
      sb_index_keys_of_change(c, &m->o.topts, enqueue, m))
    sb_log(SB_LOG_ERROR, "out of memory mapping a change to keys",
           "kind=%s object=%s/%s", sb_kind_name(c->kind),
           c->ns ? c->ns : "", c->name ? c->name : "");
}

/* ---- watches ------------------------------------------------------------ */

static void on_reflect(void *arg, sb_reflect_ev ev, const cJSON *obj) {
  struct watch *w = arg;
  sb_manager *m = w->m;
  int rc;

  switch (ev) {
  case SB_REFLECT_SYNC_BEGIN:
    sb_cache_begin_sync(m->cache, &w->res);
    break;
  case SB_REFLECT_APPLY:
    if (sb_cache_apply(m->cache, &w->res, obj) == SB_ENOMEM)
      sb_log(SB_LOG_ERROR, "out of memory caching", "resource=%s", w->name);
    break;
  case SB_REFLECT_DELETE:
    sb_cache_delete(m->cache, &w->res, obj);
    break;
  case SB_REFLECT_SYNC_END:
    rc = sb_cache_end_sync(m->cache, &w->res);
    if (rc)
      sb_log(SB_LOG_ERROR, "relist could not drop deleted objects; they "
             "stay until the next relist", "resource=%s namespace=%s err=%s",
             w->name, w->ns ? w->ns : "*", sb_err_name(rc));
    else if (w->synced)
      sb_log(SB_LOG_INFO, "cache resynced", "resource=%s namespace=%s",
             w->name, w->ns ? w->ns : "*");
    if (m->synced)
      trim_heap(m);  /* a relist: its pages are garbage now */
    if (!w->synced) {
      w->synced = 1;
      sb_log(SB_LOG_INFO, "cache synced", "resource=%s namespace=%s",
             w->name, w->ns ? w->ns : "*");
      check_gates(m);
    }
    break;
  }
}

static int add_watch(sb_manager *m, const char *group, const char *version,
                     const char *resource, const char *ns,
                     const sb_cache_res *res, int gating) {
  struct watch *w, *nw;
  char name[256];

  nw = realloc(m->watches, (m->nwatches + 1) * sizeof(*nw));
  if (!nw)
    return SB_ENOMEM;
  m->watches = nw;
  w = &m->watches[m->nwatches];
  memset(w, 0, sizeof(*w));
  snprintf(name, sizeof(name), "%s%s%s", resource, *group ? "." : "", group);
  w->m = m;
  w->name = strdup(name);
  w->group = strdup(group);
  w->version = strdup(version);
  w->resource = strdup(resource);
  w->ns = ns ? strdup(ns) : NULL;
  w->res = *res;
  w->res.ns = w->ns;  /* the sync of this watch covers its namespace only */
  w->gating = gating;
  w->input = res->kind != SB_KIND_UNKNOWN;
  if (!w->name || !w->group || !w->version || !w->resource ||
      (ns && !w->ns)) {
    free(w->name);
    free(w->group);
    free(w->version);
    free(w->resource);
    free(w->ns);
    return SB_ENOMEM;
  }
  m->nwatches++;
  return 0;
}

static int add_watch_all_ns(sb_manager *m, const char *group,
                            const char *version, const char *resource,
                            const sb_cache_res *res, int gating) {
  size_t i;
  int rc = 0;

  if (!m->o.nnamespaces)
    return add_watch(m, group, version, resource, NULL, res, gating);
  for (i = 0; i < m->o.nnamespaces && !rc; i++)
    rc = add_watch(m, group, version, resource, m->namespaces[i], res,
                   gating);
  return rc;
}

/* SMI kinds we know, with the version to try when discovery found none:
 * the reflector then reports the missing CRD and keeps retrying, so a CRD
 * installed later is picked up without a restart. */
static const struct {
  sb_kind kind;
  const char *group, *version, *resource;
} smi_defaults[] = {
  {SB_KIND_TRAFFIC_SPLIT, "split.smi-spec.io", "v1alpha4", "trafficsplits"},
  {SB_KIND_HTTP_ROUTE_GROUP, "specs.smi-spec.io", "v1alpha4",
   "httproutegroups"},
  {SB_KIND_TCP_ROUTE, "specs.smi-spec.io", "v1alpha4", "tcproutes"},
  {SB_KIND_UDP_ROUTE, "specs.smi-spec.io", "v1alpha4", "udproutes"},
  {SB_KIND_TRAFFIC_TARGET, "access.smi-spec.io", "v1alpha3",
   "traffictargets"},
};

static int plan_watches(sb_manager *m, const sb_discovery *d) {
  const sb_gvk *kinds;
  size_t n, i;
  int rc = 0;

  for (i = 0; i < SB_ARRAY_SIZE(smi_defaults) && !rc; i++) {
    sb_kind k = smi_defaults[i].kind;
    sb_cache_res res = {k, NULL, NULL};
    if (d->smi[k].version) {
      rc = add_watch_all_ns(m, d->smi[k].group, d->smi[k].version,
                            d->smi[k].resource, &res, 1);
    } else {
      sb_log(SB_LOG_WARN, "SMI kind not served; watching for its CRD",
             "kind=%s group=%s", sb_kind_name(k), smi_defaults[i].group);
      rc = add_watch_all_ns(m, smi_defaults[i].group, smi_defaults[i].version,
                            smi_defaults[i].resource, &res, 0);
    }
  }
  if (!rc) {
    sb_cache_res svc = {SB_KIND_SERVICE, NULL, NULL};
    sb_cache_res pod = {SB_KIND_POD, NULL, NULL};
    rc = add_watch_all_ns(m, "", "v1", "services", &svc, 1);
    if (!rc)
      rc = add_watch_all_ns(m, "", "v1", "pods", &pod, 1);
  }
  n = sb_translate_output_kinds(&m->o.topts, &kinds);
  for (i = 0; i < n && !rc; i++) {
    sb_cache_res res = {SB_KIND_UNKNOWN, &kinds[i], NULL};
    rc = add_watch_all_ns(m, kinds[i].group, kinds[i].version,
                          kinds[i].resource, &res, 1);
  }
  return rc;
}

static int start_watches(sb_manager *m) {
  size_t i;
  int rc;

  for (i = 0; i < m->nwatches; i++) {
    struct watch *w = &m->watches[i];
    sb_reflector_opts ro;

    memset(&ro, 0, sizeof(ro));
    ro.name = w->name;
    ro.gvr.group = w->group;
    ro.gvr.version = w->version;
    ro.gvr.resource = w->resource;
    ro.ns = w->ns;
    ro.stream_lists = m->o.stream_lists;
    rc = sb_reflector_new(m->loop, m->kube, &ro, on_reflect, w, &w->r);
    if (!rc)
      rc = sb_reflector_start(w->r);
    if (rc)
      return rc;
  }
  return 0;
}

/* ---- leadership and gating ---------------------------------------------- */

static void check_gates(sb_manager *m) {
  size_t i;
  int synced = m->discovered;

  for (i = 0; i < m->nwatches && synced; i++)
    if (m->watches[i].gating && !m->watches[i].synced &&
        !m->watches[i].degraded)
      synced = 0;
  if (synced && !m->synced) {
    m->synced = 1;
    trim_heap(m);
    sb_log(SB_LOG_INFO, "all caches synced", "objects=%zu",
           sb_cache_count(m->cache));
  }
  if (m->stopping)
    return;
  if (m->synced && (m->leading || !m->o.leader_elect)) {
    sb_queue_resume(m->queue);
  } else {
    sb_queue_pause(m->queue);
    /* Nothing starts while paused: nothing for Events to wait behind. */
    if (!m->inflight)
      sb_recorder_hold(m->rec, 0);
  }
}

/* While the caches sync: an input resource the API server keeps refusing
 * (403) stops holding everything else back after a grace period. That is
 * safe for inputs only -- a translation that needs the missing objects
 * reports them as missing and changes nothing --, never for output kinds:
 * without their list, foreign objects would be invisible and could be
 * overwritten. */
static void on_gate_timer(uv_timer_t *t) {
  sb_manager *m = t->data;
  uint64_t now = uv_now(m->loop);
  size_t i;

  if (m->stopping || m->synced) {
    uv_timer_stop(t);
    return;
  }
  for (i = 0; i < m->nwatches; i++) {
    struct watch *w = &m->watches[i];
    const char *msg = NULL;

    if (!w->gating || w->synced || w->degraded || !w->input || !w->r)
      continue;
    if (sb_reflector_error(w->r, &msg) != SB_EFORBIDDEN) {
      w->forbidden_since = 0;
      continue;
    }
    if (!w->forbidden_since) {
      w->forbidden_since = now;
    } else if (now - w->forbidden_since >= FORBIDDEN_GRACE_MS) {
      w->degraded = 1;
      sb_log(SB_LOG_ERROR, "continuing without a resource the API server "
             "refuses; objects that need it are reported as missing",
             "resource=%s namespace=%s detail=%s", w->name,
             w->ns ? w->ns : "*", msg ? msg : "forbidden");
    }
  }
  check_gates(m);
}

static void on_leading(void *arg, int leading) {
  sb_manager *m = arg;

  m->leading = leading;
  sb_log(SB_LOG_DEBUG, leading ? "leading: writes enabled"
                               : "not leading: writes paused",
         "identity=%s lease=%s/%s", m->o.identity, m->o.lease_ns,
         m->o.lease_name);
  check_gates(m);
}

/* ---- discovery ---------------------------------------------------------- */

static void discover(sb_manager *m);

static void on_timer(uv_timer_t *t) {
  discover(t->data);
}

/* The next wait: 1 s doubling to 30 s. */
static unsigned next_discovery_delay(const sb_manager *m) {
  unsigned d = m->discovery_delay ? m->discovery_delay * 2
                                  : DISCOVERY_RETRY_MS;
  return d > DISCOVERY_RETRY_MAX_MS ? DISCOVERY_RETRY_MAX_MS : d;
}

static void retry_discovery(sb_manager *m) {
  m->discovery_delay = next_discovery_delay(m);
  uv_timer_start(&m->timer, on_timer, m->discovery_delay, 0);
}

static void on_discovered(void *arg, int err, const char *msg,
                          const sb_discovery *d) {
  sb_manager *m = arg;
  const char *missing = NULL;
  int rc;

  if (m->stopping)
    return;
  if (err) {
    snprintf(m->discovery_err, sizeof(m->discovery_err), "%s",
             msg && *msg ? msg : sb_strerror(err));
    sb_log(SB_LOG_ERROR, "cannot discover the API", "err=%s detail=%s "
           "server=%s retry_ms=%u", sb_err_name(err), m->discovery_err,
           m->cfg->server, next_discovery_delay(m));
    retry_discovery(m);
    return;
  }
  if (m->discovery_err[0]) {
    sb_log(SB_LOG_INFO, "API discovery succeeded", "server=%s",
           m->cfg->server);
    m->discovery_err[0] = '\0';
  }
  if (m->o.mesh_auto) {
    int mesh = sb_discovery_mesh(d);
    if (mesh < 0) {
      sb_log(SB_LOG_ERROR, "both Istio and Linkerd CRDs are served; choose "
             "one with --mesh istio or --mesh linkerd", "server=%s",
             m->cfg->server);
      stop_now(m, 1);
      return;
    }
    if (mesh == 0) {
      snprintf(m->discovery_err, sizeof(m->discovery_err), "neither Istio "
               "nor Linkerd CRDs are served");
      sb_log(SB_LOG_WARN, "neither Istio nor Linkerd CRDs are served; "
             "retrying", "retry_ms=%u", next_discovery_delay(m));
      retry_discovery(m);
      return;
    }
    m->o.topts.mesh = (sb_mesh) mesh;
    sb_log(SB_LOG_INFO, "mesh detected", "mesh=%s",
           mesh == SB_MESH_ISTIO ? "istio" : "linkerd");
  }
  if (!sb_discovery_serves(d, &m->o.topts, &missing)) {
    snprintf(m->discovery_err, sizeof(m->discovery_err), "the cluster "
             "does not serve %s", missing ? missing : "a kind to write");
    sb_log(SB_LOG_WARN, "the cluster does not serve a kind smi-bridge must "
           "write; retrying", "missing=%s retry_ms=%u",
           missing ? missing : "?", next_discovery_delay(m));
    retry_discovery(m);
    return;
  }
  m->discovered = 1;
  rc = plan_watches(m, d);
  if (!rc)
    rc = start_watches(m);
  if (rc) {
    sb_log(SB_LOG_ERROR, "cannot start watches", "err=%s", sb_err_name(rc));
    stop_now(m, 1);
    return;
  }
  /* The discovery timer is free from here on: it watches the initial
   * sync for inputs the API server refuses (on_gate_timer). */
  uv_timer_start(&m->timer, on_gate_timer, 1000, 1000);
  if (m->o.leader_elect && !m->o.dry_run) {
    sb_lease_opts lo;
    memset(&lo, 0, sizeof(lo));
    lo.ns = m->o.lease_ns;
    lo.name = m->o.lease_name;
    lo.identity = m->o.identity;
    lo.lease_duration_ms = m->o.lease_duration_ms;
    lo.renew_deadline_ms = m->o.renew_deadline_ms;
    lo.retry_period_ms = m->o.retry_period_ms;
    rc = sb_lease_new(m->loop, m->kube, &lo, on_leading, m, &m->lease);
    if (!rc)
      rc = sb_lease_start(m->lease);
    if (rc) {
      sb_log(SB_LOG_ERROR, "cannot start leader election", "err=%s",
             sb_err_name(rc));
      stop_now(m, 1);
      return;
    }
  }
  check_gates(m);
}

static void discover(sb_manager *m) {
  int rc = sb_discover(m->kube, on_discovered, m);

  if (rc) {
    sb_log(SB_LOG_ERROR, "cannot start discovery", "err=%s",
           sb_err_name(rc));
    retry_discovery(m);
  }
}

/* ---- construction ------------------------------------------------------- */

int sb_manager_new(uv_loop_t *loop, const sb_manager_opts *o,
                   sb_manager **out, char *err, size_t errlen) {
  sb_manager *m = calloc(1, sizeof(*m));
  sb_kubeconfig_opts ko;
  sb_kube_opts kopts;
  sb_queue_opts qo;
  sb_applier_opts ao;
  sb_recorder_opts rco;
  char ident[300];
  size_t i;
  int rc;

  if (!m)
    return SB_ENOMEM;
  m->loop = loop;
  m->o = *o;
  m->o.kubeconfig = keep(m, o->kubeconfig);
  m->o.context = keep(m, o->context);
  m->o.sa_dir = keep(m, o->sa_dir);
  m->o.topts.cluster_domain = keep(m, o->topts.cluster_domain);
  m->o.topts.trust_domain = keep(m, o->topts.trust_domain);
  m->o.metrics_addr = keep(m, o->metrics_addr);
  m->o.health_addr = keep(m, o->health_addr);
  m->namespaces = calloc(o->nnamespaces + 1, sizeof(char *));
  for (i = 0; m->namespaces && i < o->nnamespaces; i++)
    m->namespaces[i] = keep(m, o->namespaces[i]);
  m->o.namespaces = m->namespaces;
  if (!m->namespaces || m->oom) {
    snprintf(err, errlen, "out of memory");
    sb_manager_stop(m);  /* frees: nothing asynchronous exists yet */
    return SB_ENOMEM;
  }

  memset(&ko, 0, sizeof(ko));
  ko.path = m->o.kubeconfig;
  ko.context = m->o.context;
  ko.sa_dir = m->o.sa_dir;
  rc = sb_kubeconfig_load(&ko, &m->cfg, err, errlen);
  if (rc) {
    sb_manager_stop(m);  /* frees: nothing asynchronous exists yet */
    return rc;
  }
  make_identity(m, ident, sizeof(ident));
  m->o.identity = keep(m, o->identity ? o->identity : ident);
  m->o.lease_name = keep(m, o->lease_name ? o->lease_name : "smi-bridge");
  m->o.lease_ns = keep(m, o->lease_ns ? o->lease_ns
                          : m->cfg->ns ? m->cfg->ns : "default");

  m->metrics = sb_metrics_new();
  m->cache = sb_cache_new(on_change, m);
  m->index = sb_index_new();
  if (m->oom || !m->metrics || !m->cache || !m->index ||
      register_metrics(m)) {
    snprintf(err, errlen, "out of memory");
    sb_manager_stop(m);
    return SB_ENOMEM;
  }
  memset(&kopts, 0, sizeof(kopts));
  kopts.qps = o->qps;
  kopts.burst = o->burst;
  kopts.on_request = rest_metric;
  kopts.metric_arg = m;
  rc = sb_kube_new(loop, m->cfg, &kopts, &m->kube);
  if (rc) {
    snprintf(err, errlen, "cannot create the API client: %s",
             sb_strerror(rc));
    sb_manager_stop(m);
    return rc;
  }
  memset(&qo, 0, sizeof(qo));
  qo.name = CONTROLLER;
  qo.concurrency = o->workers ? o->workers : 4;
  qo.metrics = m->metrics;
  qo.start_paused = 1;
  rc = sb_queue_new(loop, &qo, process, m, &m->queue);
  memset(&ao, 0, sizeof(ao));
  ao.dry_run = o->dry_run;
  ao.out = o->dry_run_out;
  if (!rc)
    rc = sb_applier_new(m->kube, &ao, &m->applier);
  memset(&rco, 0, sizeof(rco));
  rco.component = CONTROLLER;
  rco.host = m->host;
  rco.dry_run = o->dry_run;
  /* Events get a write budget of their own, as with a client-go event
   * sink (which has its own client): they never take the tokens of the
   * writes that keep objects in step. */
  rco.qps = o->qps;
  rco.burst = o->burst;
  if (!rc)
    rc = sb_recorder_new(loop, m->kube, &rco, &m->rec);
  if (!rc)
    rc = uv_timer_init(loop, &m->timer) ? SB_ENOMEM : 0;
  if (rc) {
    snprintf(err, errlen, "cannot set up the controller: %s",
             sb_strerror(rc));
    sb_manager_stop(m);
    return rc;
  }
  m->timer.data = m;
  *out = m;
  return 0;
}

static int serve(sb_manager *m, const char *addr, sb_httpd **out,
                 int metrics, char *err, size_t errlen) {
  sb_httpd *h;
  int rc;

  if (!addr || !*addr || !strcmp(addr, "0"))
    return 0;
  rc = sb_httpd_new(m->loop, NULL, &h);
  if (rc) {
    snprintf(err, errlen, "cannot create the HTTP server: %s",
             sb_strerror(rc));
    return rc;
  }
  *out = h;
  if (metrics) {
    rc = sb_httpd_route(h, "/metrics", on_metrics, m);
  } else {
    rc = sb_httpd_route(h, "/healthz", on_healthz, m);
    if (!rc)
      rc = sb_httpd_route(h, "/readyz", on_readyz, m);
    /* One port for everything when both addresses are the same. */
    if (!rc && m->o.metrics_addr && !strcmp(m->o.metrics_addr, addr))
      rc = sb_httpd_route(h, "/metrics", on_metrics, m);
  }
  if (!rc)
    rc = sb_httpd_listen(h, addr, err, errlen);
  return rc;
}

int sb_manager_start(sb_manager *m, char *err, size_t errlen) {
  int rc;

  m->started = 1;
  rc = serve(m, m->o.health_addr, &m->healthd, 0, err, errlen);
  if (!rc && !(m->o.health_addr && m->o.metrics_addr &&
               !strcmp(m->o.health_addr, m->o.metrics_addr)))
    rc = serve(m, m->o.metrics_addr, &m->metricsd, 1, err, errlen);
  if (rc)
    return rc;
  sb_log(SB_LOG_INFO, "starting", "version=%s server=%s mesh=%s routes=%s "
         "dry_run=%d leader_elect=%d", SB_VERSION, m->cfg->server,
         m->o.mesh_auto ? "auto"
                        : m->o.topts.mesh == SB_MESH_LINKERD ? "linkerd"
                                                             : "istio",
         m->o.topts.routes == SB_ROUTES_GATEWAY_API ? "gateway-api"
                                                    : "native",
         m->o.dry_run, m->o.leader_elect);
  discover(m);
  return 0;
}

/* ---- shutdown ----------------------------------------------------------- */

static void release(sb_manager *m) {
  size_t i;

  for (i = 0; i < m->nwatches; i++) {
    free(m->watches[i].name);
    free(m->watches[i].group);
    free(m->watches[i].version);
    free(m->watches[i].resource);
    free(m->watches[i].ns);
  }
  free(m->watches);
  sb_cache_free(m->cache);
  sb_index_free(m->index);
  sb_metrics_free(m->metrics);
  sb_kubeconfig_free(m->cfg);
  for (i = 0; i < m->nstrs; i++)
    free(m->strs[i]);
  free(m->strs);
  free(m->namespaces);
}

static void closed_one(void *arg) {
  sb_manager *m = arg;
  sb_manager_done_cb cb;
  void *cbarg;
  int status;

  if (--m->pending)
    return;
  cb = m->done_cb;
  cbarg = m->done_arg;
  status = m->status;
  release(m);
  free(m);
  if (cb)
    cb(cbarg, status);
}

static void timer_closed(uv_handle_t *h) {
  closed_one(h->data);
}

static void queue_closed(void *arg) {
  closed_one(arg);
}

static void httpd_closed(void *arg) {
  closed_one(arg);
}

static void kube_closed(void *arg) {
  closed_one(arg);
}

/* Last phase: nothing is reconciled any more and the Lease is released
 * (or its release abandoned, lease_forced: then the lease is still closing
 * and the client's close cancels its request); close what is left. */
static void close_rest(sb_manager *m) {
  size_t i;

  m->pending++;  /* held until every close below has been started */
  if (m->lease)
    m->pending++;  /* lease_closed */
  for (i = 0; i < m->nwatches; i++)
    if (m->watches[i].r) {
      m->pending++;
      sb_reflector_close(m->watches[i].r, closed_one, m);
      m->watches[i].r = NULL;
    }
  if (m->rec) {
    m->pending++;
    sb_recorder_close(m->rec, closed_one, m);
    m->rec = NULL;
  }
  if (m->applier) {
    sb_applier_free(m->applier);
    m->applier = NULL;
  }
  if (m->queue) {
    m->pending++;
    sb_queue_close(m->queue, queue_closed, m);
    m->queue = NULL;
  }
  if (m->healthd) {
    m->pending++;
    sb_httpd_close(m->healthd, httpd_closed, m);
    m->healthd = NULL;
  }
  if (m->metricsd) {
    m->pending++;
    sb_httpd_close(m->metricsd, httpd_closed, m);
    m->metricsd = NULL;
  }
  if (m->kube) {
    m->pending++;
    if (sb_kube_close(m->kube, kube_closed, m) != 0)
      m->pending--;
    m->kube = NULL;
  }
  if (uv_is_active((uv_handle_t *) &m->timer) || m->timer.loop) {
    m->pending++;
    uv_close((uv_handle_t *) &m->timer, timer_closed);
  }
  closed_one(m);
}

static void lease_closed(void *arg) {
  sb_manager *m = arg;

  m->lease = NULL;
  if (m->lease_forced)
    closed_one(m);  /* close_rest has run already */
  else
    close_rest(m);
}

/* Second step of a stop: nothing is being reconciled any more. */
static void continue_stop(sb_manager *m) {
  if (m->stopping != 1 || m->inflight)
    return;
  m->stopping = 2;
  if (m->lease) {
    /* Release first: a follower takes over at once. */
    if (m->timer.loop)
      uv_timer_start(&m->timer, on_stop_deadline, STOP_RELEASE_MS, 0);
    sb_lease_close(m->lease, lease_closed, m);
    return;
  }
  close_rest(m);
}

/* Writes still out when the stop's patience ran out: the applier forgets
 * them (their requests are canceled, their callbacks never come) and each
 * ends as a failed reconcile. The last one's finish() continues the stop,
 * which may free m: nothing here touches m after it. */
static void abandon_flights(sb_manager *m) {
  struct inflight *f = m->flights, *next;

  sb_applier_free(m->applier);
  m->applier = NULL;
  for (; f; f = next) {
    next = f->next;
    finish(f, 0, -1);
  }
}

static void on_stop_deadline(uv_timer_t *t) {
  sb_manager *m = t->data;

  if (m->stopping == 1 && m->inflight) {
    sb_log(SB_LOG_WARN, "stopping without waiting for writes still out",
           "in_flight=%zu waited_ms=%d", m->inflight, STOP_WRITES_MS);
    abandon_flights(m);
    return;
  }
  if (m->stopping == 2 && m->lease && !m->lease_forced) {
    sb_log(SB_LOG_WARN, "stopping without releasing the lease: no answer",
           "lease=%s/%s waited_ms=%d", m->o.lease_ns, m->o.lease_name,
           STOP_RELEASE_MS);
    m->lease_forced = 1;
    close_rest(m);
  }
}

static void stop_now(sb_manager *m, int status) {
  if (m->stopping)
    return;
  m->status = status;
  m->stopping = 1;
  if (m->queue)
    sb_queue_pause(m->queue);
  if (m->timer.loop) {
    uv_timer_stop(&m->timer);
    if (m->inflight)
      uv_timer_start(&m->timer, on_stop_deadline, STOP_WRITES_MS, 0);
  }
  if (m->started)
    sb_log(SB_LOG_INFO, "stopping", "status=%d in_flight=%zu", m->status,
           m->inflight);
  continue_stop(m);  /* or finish() does, when the last reconcile ends */
}

void sb_manager_on_done(sb_manager *m, sb_manager_done_cb cb, void *arg) {
  m->done_cb = cb;
  m->done_arg = arg;
}

void sb_manager_stop(sb_manager *m) {
  stop_now(m, 0);
}

int sb_manager_ready(const sb_manager *m) {
  return m->synced;
}

int sb_manager_leading(const sb_manager *m) {
  return m->leading;
}

int sb_manager_health_port(const sb_manager *m) {
  return m->healthd ? sb_httpd_port(m->healthd) : 0;
}

int sb_manager_metrics_port(const sb_manager *m) {
  return m->metricsd ? sb_httpd_port(m->metricsd)
                     : m->healthd ? sb_httpd_port(m->healthd) : 0;
}
