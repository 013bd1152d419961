/* kube.h -- the Kubernetes API client the controller runs on.
 *
 * Verbs on resources addressed by group/version/resource + namespace +
 * name: get, list (paginated with limit/continue), watch (a stream of
 * events, one JSON object per line, parsed as it arrives), create, update
 * (PUT), server-side apply (PATCH application/apply-patch+yaml with
 * fieldManager=smi-bridge and force=true), delete (preconditions,
 * propagationPolicy) and raw GETs for discovery (/apis, /apis/<group>...).
 *
 * Every call takes a callback and follows the libuv rules: if the call
 * returns an error, the callback never runs; otherwise it runs exactly once
 * from the loop (with SB_ECANCELED after sb_kube_cancel or close). A call
 * handle is valid until its callback returns.
 *
 * Errors: a metav1.Status reply is decoded into an SB_E* code and the
 * server's message -- 401 SB_EUNAUTHORIZED, 403 SB_EFORBIDDEN (the message
 * names user, verb and resource), 404 SB_ENOTFOUND, 409 SB_EEXIST
 * (AlreadyExists) or SB_ECONFLICT, 410 SB_EGONE, 429 SB_ETOOMANY (with
 * Retry-After), 400/422 SB_EINVAL, 5xx and anything else SB_EHTTP.
 * Transport failures are SB_ECONNECT, SB_ETLS, SB_ETIMEOUT, SB_EIO with
 * curl's text as the message. A watch ERROR event ends the watch with the
 * error it carries (410 Expired -> SB_EGONE: relist).
 *
 * Retries: a 401 refreshes the credential (token file re-read, exec plugin
 * re-run) and repeats the request once, and only if the credential
 * changed. Nothing else is retried here: 429 and 5xx go back to the caller
 * (whose queue backs off), with Retry-After reported.
 *
 * Writes (everything but GET) pass a token bucket (qps/burst), unless
 * flagged SB_KUBE_UNPACED; reads and watches do not.
 */
#ifndef SB_KUBE_H
#define SB_KUBE_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "sb/buf.h"
#include "sb/jsplit.h"
#include "sb/kubeconfig.h"

typedef struct sb_kube sb_kube;
typedef struct sb_kube_call sb_kube_call;

/* Called once per HTTP response or transport failure (code 0), including
 * the first attempt of a request retried after a 401: the data behind
 * rest_client_requests_total{code,method}. */
typedef void (*sb_kube_metric_fn)(void *arg, const char *method, int code);

typedef struct sb_kube_opts {
  double qps;              /* writes per second; <= 0 = unlimited */
  int burst;               /* bucket size; < 1 = 1 */
  const char *user_agent;  /* NULL = "smi-bridge/<version>" */
  unsigned timeout_ms;     /* non-watch requests; 0 = 60 s */
  size_t max_body;         /* response body cap; 0 = 64 MiB */
  size_t max_line;         /* one watch event; 0 = 16 MiB */
  long max_streams;        /* per HTTP/2 connection; 0 = 100 (http.h) */
  sb_kube_metric_fn on_request;
  void *metric_arg;
} sb_kube_opts;

/* cfg must outlive the client; opts may be NULL. Caller closes with
 * sb_kube_close. */
int sb_kube_new(uv_loop_t *loop, const sb_kubeconfig *cfg,
                const sb_kube_opts *opts, sb_kube **out);
/* Cancels every call (callbacks run with SB_ECANCELED, some from inside
 * this function), closes all handles, then calls cb(arg) from the loop;
 * k is freed by then. SB_ECLOSING if already closing. */
int sb_kube_close(sb_kube *k, void (*cb)(void *arg), void *arg);

typedef struct sb_gvr {
  const char *group;       /* "" or NULL for the core group */
  const char *version;
  const char *resource;    /* plural, lower case: "configmaps" */
} sb_gvr;

typedef struct sb_kube_target {
  sb_gvr gvr;
  const char *ns;          /* NULL: cluster-scoped, or all namespaces */
  const char *name;        /* NULL: the collection */
  const char *subresource; /* "status", or NULL */
} sb_kube_target;

typedef struct sb_kube_query {
  const char *label_selector;
  const char *field_selector;
  const char *resource_version;
  const char *resource_version_match;  /* "NotOlderThan", "Exact" */
  long limit;              /* list page size; 0 = server default */
  const char *cont;        /* continue token of the previous page */
  int allow_bookmarks;     /* watch */
  long timeout_seconds;    /* watch: the server ends it after this */
  int send_initial_events; /* watch (streaming list) */
} sb_kube_query;

/* The URL path and query of a request, escaped ("/api/v1/namespaces/
 * default/configmaps?labelSelector=app%3Dx"). watch=1 adds watch=true. */
int sb_kube_path(const sb_kube_target *t, const sb_kube_query *q, int watch,
                 sb_buf *out);

typedef struct sb_kube_result {
  int err;                 /* 0 or SB_E* (see above) */
  long status;             /* HTTP status; 0 when there was no response */
  int http_version;        /* 2 or 1; 0 when unknown */
  const char *reason;      /* Status reason ("AlreadyExists") or "" */
  const char *message;     /* one line; "" on success */
  long retry_after;        /* seconds, -1 when not given */
  /* The parsed response: the object, the list, or the Status of an
   * error (NULL when the body was empty or not JSON). The callback may
   * take it (set it to NULL) and free it with cJSON_Delete. A list's
   * items are not in it ("items": []): see sb_kube_next_item. */
  cJSON *body;
  sb_jsplit items;         /* private: sb_kube_next_item's position */
} sb_kube_result;

/* The next item of a successful sb_kube_list page, parsed; the caller
 * frees it (cJSON_Delete). NULL after the last item, or when an item is
 * not JSON (*err = SB_EPARSE; it may be NULL) -- items before it were
 * returned. Only during the callback: the page's text goes with it.
 * Why items come one at a time: a page parsed as one tree is thousands
 * of short-lived allocations among the cache's long-lived ones, which
 * fragments the heap (sb/jsplit.h). */
cJSON *sb_kube_next_item(sb_kube_result *res, int *err);

typedef void (*sb_kube_cb)(void *arg, sb_kube_result *res);

/* One watch event. The callback may take `object` (set it to NULL).
 * Returning non-zero (a negative SB_E*) ends the watch with that error. */
typedef struct sb_kube_event {
  const char *type;        /* ADDED, MODIFIED, DELETED, BOOKMARK */
  cJSON *object;
} sb_kube_event;

typedef int (*sb_kube_event_fn)(void *arg, sb_kube_event *ev);

/* call (may be NULL) receives the handle for sb_kube_cancel. Errors:
 * SB_EINVAL (missing gvr fields, name needed), SB_ENOMEM, SB_ECLOSING. */
int sb_kube_get(sb_kube *k, const sb_kube_target *t, const sb_kube_query *q,
                sb_kube_cb cb, void *arg, sb_kube_call **call);
int sb_kube_list(sb_kube *k, const sb_kube_target *t,
                 const sb_kube_query *q, sb_kube_cb cb, void *arg,
                 sb_kube_call **call);
/* The stream ends when the server ends it (timeoutSeconds: err 0), on an
 * ERROR event, on a transport error or idle timeout (timeout_seconds +
 * 60 s without a byte), or when canceled; then cb runs. */
int sb_kube_watch(sb_kube *k, const sb_kube_target *t,
                  const sb_kube_query *q, sb_kube_event_fn on_event,
                  sb_kube_cb cb, void *arg, sb_kube_call **call);

#define SB_KUBE_DRY_RUN 1u  /* dryRun=All: validated, not stored */
/* Skips the write token bucket: for writes the caller paces itself (the
 * Events recorder has its own bucket, as a client-go event sink has its
 * own client, so Events never take the tokens of the writes that keep
 * objects in step). */
#define SB_KUBE_UNPACED 2u

/* POST to the collection of t (t->name is ignored). */
int sb_kube_create(sb_kube *k, const sb_kube_target *t, const cJSON *obj,
                   unsigned flags, sb_kube_cb cb, void *arg,
                   sb_kube_call **call);
/* PUT; the name comes from t->name or obj's metadata.name. obj should
 * carry metadata.resourceVersion for optimistic concurrency. */
int sb_kube_update(sb_kube *k, const sb_kube_target *t, const cJSON *obj,
                   unsigned flags, sb_kube_cb cb, void *arg,
                   sb_kube_call **call);
/* Server-side apply of obj (a full intent: apiVersion, kind, metadata,
 * the fields we own), fieldManager=smi-bridge, force=true. */
int sb_kube_apply(sb_kube *k, const sb_kube_target *t, const cJSON *obj,
                  unsigned flags, sb_kube_cb cb, void *arg,
                  sb_kube_call **call);

typedef struct sb_kube_delete_opts {
  const char *uid;               /* precondition, or NULL */
  const char *resource_version;  /* precondition, or NULL */
  const char *propagation;       /* "Background", "Foreground", "Orphan" */
  unsigned flags;                /* SB_KUBE_DRY_RUN */
} sb_kube_delete_opts;

int sb_kube_delete(sb_kube *k, const sb_kube_target *t,
                   const sb_kube_delete_opts *d, sb_kube_cb cb, void *arg,
                   sb_kube_call **call);
/* GET of a path relative to the server ("/apis", "/apis/split.smi-spec.io/
 * v1alpha4", "/version"). */
int sb_kube_raw_get(sb_kube *k, const char *path, sb_kube_cb cb, void *arg,
                    sb_kube_call **call);

/* Ends a call early; its callback runs with SB_ECANCELED (after a pending
 * credential refresh, if the call waits for one). */
void sb_kube_cancel(sb_kube_call *call);

/* The configuration the client was made with. */
const sb_kubeconfig *sb_kube_config(const sb_kube *k);
/* The loop the client runs on (for modules built on the client that
 * need a handle of their own). */
uv_loop_t *sb_kube_loop(const sb_kube *k);

#endif
