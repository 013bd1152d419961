/* reflector.c -- list, then watch, forever: one resource kept in step.
 *
 * The state machine of reflector.h, written out: `enum rstate` is the
 * whole state, and every event that can happen to a reflector has one
 * function (sb_reflector_start, on_list_page, on_watch_event, on_watch_end,
 * on_timer, sb_reflector_close) that looks at the state and moves to the next one
 * through goto_state(), which is the only place the state changes (and
 * logs the move at debug level). At most one request is in flight at any
 * time, and the timer runs only in BACKOFF, so close has exactly two things
 * to wait for.
 *
 * Memory: list pages are handed to the callback item by item and freed
 * before the next page is asked for, so a big collection never sits in
 * memory whole; a watch, and a streamed list, holds one event at a time
 * (the client's line splitter caps it). A streamed list is a watch in
 * state STREAMING: on_watch_event delivers its items like a watch's
 * events (with SYNC_BEGIN before the first) until end_stream takes its end
 * bookmark and makes it the WATCHING watch; on_watch_end hands a stream
 * that ended before that to on_stream_end.
 *
 * Logging: a failing request is logged once per distinct message (and
 * again every error_log_interval_ms while it lasts, with how often it was seen
 * in between), so a missing CRD costs one line every few minutes, not one
 * per retry. Messages that differ only in numbers (curl's "after 1 ms")
 * count as the same. The first success afterwards logs one "recovered"
 * line.
 */
#include "sb/reflector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb/err.h"
#include "sb/log.h"

#define DEFAULT_PAGE 500
#define DEFAULT_MIN_WATCH_S 300
#define DEFAULT_BASE_MS 800
#define DEFAULT_MAX_MS 30000
#define DEFAULT_JITTER 0.2
/* A Retry-After beyond this is not believed. */
#define MAX_RETRY_AFTER_MS (10u * 60 * 1000)
/* A watch that ends by itself sooner than this with nothing in it is
 * treated as a failure (client-go's "very short watch"). */
#define SHORT_WATCH_MS 1000
#define DEFAULT_ERROR_LOG_MS (5u * 60 * 1000)

typedef enum rstate {
  R_NEW = 0,
  R_LISTING,
  R_STREAMING,
  R_WATCHING,
  R_BACKOFF,
  R_STOPPED,
  R_CLOSING
} rstate;

static const char *const state_names[] = {
  "new", "listing", "streaming", "watching", "backoff", "stopped", "closing"
};

/* The bookmark that ends a streamed list's initial events. */
#define INITIAL_EVENTS_END "k8s.io/initial-events-end"

struct sb_reflector {
  uv_loop_t *loop;
  sb_kube *k;
  sb_reflector_fn fn;
  void *arg;

  /* Options, copied: the caller's strings may go away. */
  char *name;
  char *group, *version, *resource, *ns, *selector;
  sb_kube_target target;
  long page_size;
  int stream;                  /* list by streaming, until refused */
  int stream_begun;            /* SYNC_BEGIN sent for this stream */
  unsigned min_watch_s;
  unsigned error_log_ms;
  sb_backoff backoff;
  double (*rand)(void *arg);
  void *rand_arg;
  uint64_t rng;

  rstate state;
  sb_kube_call *call;          /* the one request in flight, or NULL */
  uv_timer_t timer;

  char *rv;                    /* where the next watch starts; NULL: list */
  char *cont;                  /* continue token of the list in progress */
  char *list_rv;               /* resourceVersion of that list */
  char item_api[128];          /* apiVersion/kind for list items */
  char item_kind[128];
  int list_gone;               /* a 410 since the last complete list */
  int rv_from_list;            /* rv is a list's, no event moved it since */
  int synced;
  int relist_after_backoff;    /* BACKOFF ends in a list, not a watch */
  unsigned failures;           /* in a row */

  uint64_t watch_start_ms;
  uint64_t watch_seen;         /* events and bookmarks in this watch */

  int err;
  char errmsg[512];
  int logged_err;              /* what the last error line said */
  char logged_msg[512];        /* (its shape: see shape_of) */
  uint64_t logged_ms;
  unsigned repeats;            /* failures not logged since */

  sb_reflector_stats st;

  int close_pending;
  void (*close_cb)(void *arg);
  void *close_arg;
};

static void start_list(sb_reflector *r);
static void start_pages(sb_reflector *r);
static void start_stream(sb_reflector *r);
static void start_watch(sb_reflector *r);
static void call_ended_closing(sb_reflector *r);

/* ---- small helpers ------------------------------------------------------- */

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

static int set_str(char **dst, const char *s) {
  char *c = NULL;

  if (s) {
    c = strdup(s);
    if (!c)
      return SB_ENOMEM;
  }
  free(*dst);
  *dst = c;
  return 0;
}

/* xorshift64*: jitter only needs to differ between reflectors. */
static double own_rand(void *arg) {
  sb_reflector *r = arg;

  r->rng ^= r->rng >> 12;
  r->rng ^= r->rng << 25;
  r->rng ^= r->rng >> 27;
  return (double) ((r->rng * 2685821657736338717ull) >> 11) /
         9007199254740992.0;
}

static double rnd(sb_reflector *r) {
  double v = r->rand(r->rand_arg);

  return v < 0 ? 0 : v >= 1 ? 0.999999 : v;
}

static const char *meta_rv(const cJSON *obj) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "resourceVersion");

  return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

static void goto_state(sb_reflector *r, rstate to, const char *why) {
  sb_log(SB_LOG_DEBUG, "reflector state", "resource=%s from=%s to=%s why=%s",
         r->name, state_names[r->state], state_names[to], why);
  r->state = to;
  r->st.state = state_names[to];
}

/* ---- errors and their log lines ------------------------------------------ */

/* The message with every run of digits as one '#': "after 0 ms" and
 * "after 1 ms" (curl), "stream 5" and "stream 7" are the same failure. */
static void shape_of(const char *msg, char *out, size_t cap) {
  size_t o = 0;

  while (*msg && o + 1 < cap) {
    if (*msg >= '0' && *msg <= '9') {
      out[o++] = '#';
      while (*msg >= '0' && *msg <= '9')
        msg++;
    } else {
      out[o++] = *msg++;
    }
  }
  out[o] = '\0';
}

static void report(sb_reflector *r, const char *what, int err,
                   const char *msg) {
  uint64_t now = uv_now(r->loop);
  const char *hint = "";
  char shape[sizeof(r->logged_msg)];

  if (err == SB_ENOTFOUND)
    hint = " (is the CRD installed?)";
  snprintf(r->errmsg, sizeof(r->errmsg), "%s%s", msg && *msg ? msg
           : sb_strerror(err), hint);
  r->err = err;
  r->st.errors++;
  shape_of(r->errmsg, shape, sizeof(shape));
  if (r->logged_err == err && strcmp(r->logged_msg, shape) == 0 &&
      now - r->logged_ms < r->error_log_ms) {
    r->repeats++;
    sb_log(SB_LOG_DEBUG, what, "resource=%s err=%s reason=%s", r->name,
           sb_err_name(err), r->errmsg);
    return;
  }
  if (r->repeats)
    sb_log(SB_LOG_WARN, what, "resource=%s err=%s reason=%s repeated=%u",
           r->name, sb_err_name(err), r->errmsg, r->repeats);
  else
    sb_log(SB_LOG_WARN, what, "resource=%s err=%s reason=%s", r->name,
           sb_err_name(err), r->errmsg);
  r->logged_err = err;
  snprintf(r->logged_msg, sizeof(r->logged_msg), "%s", shape);
  r->logged_ms = now;
  r->repeats = 0;
}

static void recovered(sb_reflector *r) {
  unsigned failures = r->failures;

  r->failures = 0;
  if (!r->err)
    return;
  sb_log(SB_LOG_INFO, "recovered", "resource=%s after=%s failures=%u",
         r->name, sb_err_name(r->err), failures);
  r->err = 0;
  r->errmsg[0] = '\0';
  r->logged_err = 0;
  r->logged_msg[0] = '\0';
  r->repeats = 0;
}

/* ---- BACKOFF ------------------------------------------------------------- */

static void on_timer(uv_timer_t *t) {
  sb_reflector *r = t->data;

  if (r->state != R_BACKOFF)
    return;
  if (r->relist_after_backoff || !r->rv)
    start_list(r);
  else
    start_watch(r);
}

/* After a failure: wait (Retry-After when the server gave one, else the
 * exponential delay) and then list or watch again. */
static void backoff(sb_reflector *r, int relist, long retry_after) {
  uint64_t delay;

  r->failures++;
  delay = sb_backoff_delay(&r->backoff, r->failures - 1, rnd(r));
  if (delay > r->backoff.max_ms)
    delay = r->backoff.max_ms;
  if (retry_after > 0) {
    delay = (uint64_t) retry_after * 1000;
    if (delay > MAX_RETRY_AFTER_MS)
      delay = MAX_RETRY_AFTER_MS;
  }
  r->relist_after_backoff = relist;
  r->st.last_delay_ms = delay;
  goto_state(r, R_BACKOFF, relist ? "error, then list" : "error, then watch");
  uv_timer_start(&r->timer, on_timer, delay, 0);
}

/* A request could not even start. SB_ECLOSING: the client is closing
 * under us, so nothing we do can work any more -- stop quietly. */
static void start_failed(sb_reflector *r, const char *what, int rc,
                         int relist) {
  if (rc == SB_ECLOSING) {
    goto_state(r, R_STOPPED, "client closed");
    return;
  }
  report(r, what, rc, NULL);
  backoff(r, relist, -1);
}

/* ---- LISTING ------------------------------------------------------------- */

static void on_list_page(void *arg, sb_kube_result *res);

static void start_list(sb_reflector *r) {
  if (!r->cont) {
    r->st.lists++;
    if (r->synced)
      r->st.relists++;
    if (r->stream) {
      start_stream(r);
      return;
    }
  }
  start_pages(r);
}

static void start_pages(sb_reflector *r) {
  sb_kube_query q;
  int rc;

  memset(&q, 0, sizeof(q));
  /* No resourceVersion: a consistent read, the only kind the server
   * paginates; its version is where the watch will start. */
  q.label_selector = r->selector;
  q.limit = r->page_size;
  q.cont = r->cont;
  goto_state(r, R_LISTING, r->cont ? "next page" : "list");
  rc = sb_kube_list(r->k, &r->target, &q, on_list_page, r, &r->call);
  if (rc) {
    r->call = NULL;
    start_failed(r, "cannot list", rc, 1);
  }
}

/* "ConfigMapList" -> "ConfigMap": what list items are. */
static void learn_item_type(sb_reflector *r, const cJSON *list) {
  const cJSON *api = cJSON_GetObjectItemCaseSensitive(list, "apiVersion");
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(list, "kind");
  size_t n;

  r->item_api[0] = r->item_kind[0] = '\0';
  if (cJSON_IsString(api))
    snprintf(r->item_api, sizeof(r->item_api), "%s", api->valuestring);
  if (cJSON_IsString(kind)) {
    n = strlen(kind->valuestring);
    if (n > 4 && strcmp(kind->valuestring + n - 4, "List") == 0 &&
        n - 4 < sizeof(r->item_kind))
      snprintf(r->item_kind, sizeof(r->item_kind), "%.*s", (int) (n - 4),
               kind->valuestring);
  }
}

static void fill_type(sb_reflector *r, cJSON *item) {
  if (r->item_api[0] &&
      !cJSON_GetObjectItemCaseSensitive(item, "apiVersion"))
    cJSON_AddStringToObject(item, "apiVersion", r->item_api);
  if (r->item_kind[0] && !cJSON_GetObjectItemCaseSensitive(item, "kind"))
    cJSON_AddStringToObject(item, "kind", r->item_kind);
}

static void list_failed(sb_reflector *r, sb_kube_result *res) {
  int first_gone = res->err == SB_EGONE && !r->list_gone;

  free(r->cont);
  r->cont = NULL;
  if (res->err == SB_EGONE)
    r->st.gone++;
  r->list_gone = res->err == SB_EGONE;
  if (first_gone) {
    /* The continue token expired (compaction) mid-list: the pages we
     * had are from a version that is gone, so start over -- at once the
     * first time, after a backoff if it keeps happening. */
    r->st.errors++;
    sb_log(SB_LOG_INFO, "list expired, listing again", "resource=%s "
           "reason=%s", r->name, res->message);
    start_list(r);
    return;
  }
  report(r, "cannot list", res->err, res->message);
  backoff(r, 1, res->err == SB_ETOOMANY ? res->retry_after : -1);
}

static void on_list_page(void *arg, sb_kube_result *res) {
  sb_reflector *r = arg;
  const cJSON *meta, *cont, *items;
  cJSON *item;
  const char *rv;
  int err;

  r->call = NULL;
  if (r->state == R_CLOSING) {
    call_ended_closing(r);
    return;
  }
  if (res->err == SB_ECANCELED) {
    goto_state(r, R_STOPPED, "client closed");
    return;
  }
  if (res->err) {
    list_failed(r, res);
    return;
  }
  items = cJSON_GetObjectItemCaseSensitive(res->body, "items");
  meta = cJSON_GetObjectItemCaseSensitive(res->body, "metadata");
  cont = cJSON_GetObjectItemCaseSensitive(meta, "continue");
  rv = meta_rv(res->body);
  if (!cJSON_IsArray(items) && !cJSON_IsNull(items) && items) {
    res->err = SB_EPARSE;
    res->message = "the list has no items array";
  } else if (!r->cont && !rv) {
    res->err = SB_EPARSE;
    res->message = "the list has no resourceVersion";
  }
  if (res->err) {
    list_failed(r, res);
    return;
  }
  r->st.pages++;
  recovered(r);
  if (!r->cont) {
    if (set_str(&r->list_rv, rv)) {
      res->err = SB_ENOMEM;
      res->message = NULL;
      list_failed(r, res);
      return;
    }
    learn_item_type(r, res->body);
    r->fn(r->arg, SB_REFLECT_SYNC_BEGIN, NULL);
  }
  /* One item parsed at a time (sb_kube_next_item says why). A page that
   * breaks off leaves the items before it applied; the relist that
   * follows a failure makes the cache whole again. */
  while ((item = sb_kube_next_item(res, &err)) != NULL) {
    if (r->state != R_CLOSING && cJSON_IsObject(item)) {
      fill_type(r, item);
      r->fn(r->arg, SB_REFLECT_APPLY, item);
    }
    cJSON_Delete(item);
    if (r->state == R_CLOSING)
      return;
  }
  if (r->state == R_CLOSING)
    return;
  if (err) {
    res->err = err;
    res->message = "a list item is not JSON";
    list_failed(r, res);
    return;
  }
  if (cJSON_IsString(cont) && *cont->valuestring) {
    if (set_str(&r->cont, cont->valuestring)) {
      res->err = SB_ENOMEM;
      res->message = NULL;
      list_failed(r, res);
      return;
    }
    start_list(r);
    return;
  }
  free(r->cont);
  r->cont = NULL;
  free(r->rv);
  r->rv = r->list_rv;
  r->list_rv = NULL;
  r->rv_from_list = 1;
  r->list_gone = 0;
  r->synced = 1;
  r->fn(r->arg, SB_REFLECT_SYNC_END, NULL);
  if (r->state == R_CLOSING)
    return;
  start_watch(r);
}

/* ---- STREAMING ----------------------------------------------------------- */

/* Spread over [min, 2*min) so that reflectors started together do not
 * all reconnect together. */
static long watch_timeout(sb_reflector *r) {
  return (long) r->min_watch_s + (long) (rnd(r) * (double) r->min_watch_s);
}

static int on_watch_event(void *arg, sb_kube_event *ev);
static void on_watch_end(void *arg, sb_kube_result *res);

/* A list as one watch: no resourceVersion with NotOlderThan is the same
 * consistent read as a list without one. Nothing of the stream is a place
 * to resume from until its end bookmark, so r->rv is left alone (a failed
 * stream is a failed list: it starts over). */
static void start_stream(sb_reflector *r) {
  sb_kube_query q;
  int rc;

  memset(&q, 0, sizeof(q));
  q.label_selector = r->selector;
  q.resource_version_match = "NotOlderThan";
  q.send_initial_events = 1;
  q.allow_bookmarks = 1;
  q.timeout_seconds = watch_timeout(r);
  r->watch_start_ms = uv_now(r->loop);
  r->watch_seen = 0;
  r->stream_begun = 0;
  r->st.streamed++;
  goto_state(r, R_STREAMING, "list (streaming)");
  rc = sb_kube_watch(r->k, &r->target, &q, on_watch_event, on_watch_end, r,
                     &r->call);
  if (rc) {
    r->call = NULL;
    start_failed(r, "cannot list", rc, 1);
  }
}

static int is_initial_end(const cJSON *obj) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, "annotations");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, INITIAL_EVENTS_END);

  return cJSON_IsString(v) && strcmp(v->valuestring, "true") == 0;
}

/* SYNC_BEGIN before the stream's first item (or its end, when it has
 * none): a stream that fails before anything arrived, like a list whose
 * first page failed, has not begun. 0, or SB_ECANCELED when the callback
 * closed the reflector. */
static int stream_begin(sb_reflector *r) {
  if (r->stream_begun)
    return 0;
  r->stream_begun = 1;
  r->fn(r->arg, SB_REFLECT_SYNC_BEGIN, NULL);
  return r->state == R_STREAMING ? 0 : SB_ECANCELED;
}

/* The stream's end bookmark: the list is complete at its version, and
 * the stream goes on as the watch. */
static int end_stream(sb_reflector *r, const cJSON *bookmark) {
  const char *rv = meta_rv(bookmark);

  if (!rv)
    return SB_EPARSE;
  if (stream_begin(r))
    return SB_ECANCELED;
  if (set_str(&r->rv, rv))
    return SB_ENOMEM;
  r->rv_from_list = 1;
  r->list_gone = 0;
  r->synced = 1;
  recovered(r);
  goto_state(r, R_WATCHING, "initial events end");
  r->fn(r->arg, SB_REFLECT_SYNC_END, NULL);
  return r->state == R_WATCHING ? 0 : SB_ECANCELED;
}

/* The stream ended before its end bookmark. */
static void on_stream_end(sb_reflector *r, sb_kube_result *res) {
  if (res->err == SB_ECANCELED) {
    goto_state(r, R_STOPPED, "client closed");
    return;
  }
  if (res->err == SB_EINVAL && r->watch_seen == 0) {
    /* 400/422 up front: the server does not do watch-lists (also when
     * it did before: a server restarted with the feature off, or one
     * behind the same address that never had it). */
    r->stream = 0;
    sb_log(SB_LOG_INFO, "the server does not stream lists; listing in "
           "pages", "resource=%s reason=%s", r->name,
           res->message && *res->message ? res->message : "invalid");
    start_pages(r);
    return;
  }
  if (res->err == SB_EFORBIDDEN && r->watch_seen == 0) {
    /* Authorisation treats the stream as a watch: a role that may list
     * but not watch still gets the list, in pages, as client-go's
     * reflector does ("progress is better than deadlocking"); the watch
     * after it reports the refusal. The next list streams again. */
    sb_log(SB_LOG_DEBUG, "streamed list forbidden; listing in pages",
           "resource=%s", r->name);
    start_pages(r);
    return;
  }
  if (res->err == SB_EGONE)
    r->st.gone++;
  if (res->err == 0)
    report(r, "cannot list", SB_EIO, "the server ended the streamed list "
           "before its initial events were complete");
  else
    report(r, "cannot list", res->err, res->message);
  backoff(r, 1, res->err == SB_ETOOMANY ? res->retry_after : -1);
}

/* ---- WATCHING ------------------------------------------------------------ */

static void start_watch(sb_reflector *r) {
  sb_kube_query q;
  int rc;

  memset(&q, 0, sizeof(q));
  q.label_selector = r->selector;
  q.resource_version = r->rv;
  q.allow_bookmarks = 1;
  q.timeout_seconds = watch_timeout(r);
  r->watch_start_ms = uv_now(r->loop);
  r->watch_seen = 0;
  r->st.watches++;
  goto_state(r, R_WATCHING, "watch");
  sb_log(SB_LOG_DEBUG, "watching", "resource=%s rv=%s timeout_s=%ld",
         r->name, r->rv ? r->rv : "", q.timeout_seconds);
  rc = sb_kube_watch(r->k, &r->target, &q, on_watch_event, on_watch_end, r,
                     &r->call);
  if (rc) {
    r->call = NULL;
    start_failed(r, "cannot watch", rc, 0);
  }
}

static int on_watch_event(void *arg, sb_kube_event *ev) {
  sb_reflector *r = arg;
  rstate state = r->state;
  const char *rv = meta_rv(ev->object);
  sb_reflect_ev what;

  if (state != R_WATCHING && state != R_STREAMING)
    return SB_ECANCELED;
  r->watch_seen++;
  if (strcmp(ev->type, "BOOKMARK") == 0) {
    r->st.bookmarks++;
    /* Mid-stream a bookmark is progress, not a place to resume from. */
    if (state == R_STREAMING)
      return is_initial_end(ev->object) ? end_stream(r, ev->object) : 0;
  } else if (strcmp(ev->type, "ADDED") == 0 ||
             strcmp(ev->type, "MODIFIED") == 0 ||
             strcmp(ev->type, "DELETED") == 0) {
    what = ev->type[0] == 'D' ? SB_REFLECT_DELETE : SB_REFLECT_APPLY;
    if (!cJSON_IsObject(ev->object))
      return 0;
    if (state == R_STREAMING && stream_begin(r))
      return SB_ECANCELED;
    r->st.events++;
    r->fn(r->arg, what, ev->object);
    if (r->state != state)
      return SB_ECANCELED;
  } else {
    sb_log(SB_LOG_DEBUG, "unknown watch event ignored", "resource=%s "
           "type=%s", r->name, ev->type);
    return 0;
  }
  /* After the callback: should the version not fit in memory, the event
   * is still delivered, and the stream ends so we do not skip it on the
   * next watch -- we watch again from the previous version. A streamed
   * list's items are no place to resume from either: until its end a
   * failed stream starts over. */
  if (state == R_WATCHING && rv) {
    if (set_str(&r->rv, rv))
      return SB_ENOMEM;
    r->rv_from_list = 0;
  }
  recovered(r);
  return 0;
}

static void on_watch_end(void *arg, sb_kube_result *res) {
  sb_reflector *r = arg;
  uint64_t lasted = uv_now(r->loop) - r->watch_start_ms;

  r->call = NULL;
  if (r->state == R_CLOSING) {
    call_ended_closing(r);
    return;
  }
  if (r->state == R_STREAMING) {
    on_stream_end(r, res);
    return;
  }
  switch (res->err) {
  case 0:
    if (r->watch_seen == 0 && lasted < SHORT_WATCH_MS) {
      report(r, "watch failed", SB_EIO,
             "the server ended the watch at once with no event");
      backoff(r, 0, -1);
      return;
    }
    /* timeoutSeconds ran out: the normal way a watch ends. */
    recovered(r);
    start_watch(r);
    return;
  case SB_EGONE:
    /* Our version was compacted away: whatever happened since is only
     * in a fresh list -- at once, unless the version came straight from
     * a list: a server that refuses the versions its own lists hand out
     * would otherwise have us list in a tight loop. */
    r->st.gone++;
    if (r->rv_from_list) {
      report(r, "watch failed", res->err, res->message);
      free(r->rv);
      r->rv = NULL;
      /* The server answered: failures before this one (an API server
       * that was down, and came back with a new watch cache) say nothing
       * about how long to wait now. Carrying them over would delay the
       * relist by up to the maximum after every restart; the loop this
       * guards against is still paced by the base delay (a completed
       * list resets the count anyway). */
      r->failures = 0;
      backoff(r, 1, -1);
      return;
    }
    r->st.errors++;
    sb_log(SB_LOG_INFO, "watch expired, listing again", "resource=%s rv=%s "
           "reason=%s", r->name, r->rv ? r->rv : "", res->message);
    free(r->rv);
    r->rv = NULL;
    start_list(r);
    return;
  case SB_ECANCELED:
    goto_state(r, R_STOPPED, "client closed");
    return;
  case SB_ENOTFOUND:
    /* The resource itself went away (CRD deleted): list when it is back,
     * an old version means nothing to the new one. */
    report(r, "cannot watch", res->err, res->message);
    free(r->rv);
    r->rv = NULL;
    backoff(r, 1, -1);
    return;
  default:
    report(r, "watch failed", res->err, res->message);
    backoff(r, 0, res->err == SB_ETOOMANY ? res->retry_after : -1);
    return;
  }
}

/* ---- life cycle ---------------------------------------------------------- */

int sb_reflector_new(uv_loop_t *loop, sb_kube *k,
                     const sb_reflector_opts *o, sb_reflector_fn fn,
                     void *arg, sb_reflector **out) {
  sb_reflector *r;
  char name[256];

  *out = NULL;
  if (!loop || !k || !o || !fn || !o->gvr.version || !*o->gvr.version ||
      !o->gvr.resource || !*o->gvr.resource)
    return SB_EINVAL;
  r = calloc(1, sizeof(*r));
  if (!r)
    return SB_ENOMEM;
  if (o->name)
    snprintf(name, sizeof(name), "%s", o->name);
  else if (o->gvr.group && *o->gvr.group)
    snprintf(name, sizeof(name), "%s.%s", o->gvr.resource, o->gvr.group);
  else
    snprintf(name, sizeof(name), "%s", o->gvr.resource);
  r->name = strdup(name);
  r->group = strdup(o->gvr.group ? o->gvr.group : "");
  r->version = strdup(o->gvr.version);
  r->resource = strdup(o->gvr.resource);
  r->ns = dup_or_null(o->ns);
  r->selector = dup_or_null(o->label_selector);
  if (!r->name || !r->group || !r->version || !r->resource ||
      (o->ns && !r->ns) || (o->label_selector && !r->selector)) {
    free(r->name);
    free(r->group);
    free(r->version);
    free(r->resource);
    free(r->ns);
    free(r->selector);
    free(r);
    return SB_ENOMEM;
  }
  r->loop = loop;
  r->k = k;
  r->fn = fn;
  r->arg = arg;
  r->target.gvr.group = r->group;
  r->target.gvr.version = r->version;
  r->target.gvr.resource = r->resource;
  r->target.ns = r->ns;
  r->page_size = o->page_size > 0 ? o->page_size : DEFAULT_PAGE;
  r->stream = o->stream_lists != 0;
  r->min_watch_s = o->min_watch_s ? o->min_watch_s : DEFAULT_MIN_WATCH_S;
  r->error_log_ms = o->error_log_interval_ms ? o->error_log_interval_ms
                                             : DEFAULT_ERROR_LOG_MS;
  r->backoff = o->backoff;
  if (!r->backoff.base_ms && !r->backoff.max_ms && r->backoff.jitter == 0) {
    r->backoff.base_ms = DEFAULT_BASE_MS;
    r->backoff.max_ms = DEFAULT_MAX_MS;
    r->backoff.jitter = DEFAULT_JITTER;
  }
  if (!r->backoff.base_ms)
    r->backoff.base_ms = 1;
  if (r->backoff.max_ms < r->backoff.base_ms)
    r->backoff.max_ms = r->backoff.base_ms;
  if (o->rand) {
    r->rand = o->rand;
    r->rand_arg = o->rand_arg;
  } else {
    r->rand = own_rand;
    r->rand_arg = r;
    r->rng = uv_hrtime() ^ (uint64_t) (uintptr_t) r ^ 0x9e3779b97f4a7c15ull;
    if (!r->rng)
      r->rng = 1;
  }
  r->state = R_NEW;
  r->st.state = state_names[R_NEW];
  uv_timer_init(loop, &r->timer);
  r->timer.data = r;
  *out = r;
  return 0;
}

int sb_reflector_start(sb_reflector *r) {
  if (r->state == R_CLOSING)
    return SB_ECLOSING;
  if (r->state != R_NEW)
    return 0;
  start_list(r);
  return 0;
}

int sb_reflector_synced(const sb_reflector *r) {
  return r->synced;
}

int sb_reflector_error(const sb_reflector *r, const char **msg) {
  if (msg)
    *msg = r->err ? r->errmsg : "";
  return r->err;
}

void sb_reflector_get_stats(const sb_reflector *r, sb_reflector_stats *out) {
  *out = r->st;
  out->rv = r->rv;
}

static void free_reflector(sb_reflector *r) {
  free(r->name);
  free(r->group);
  free(r->version);
  free(r->resource);
  free(r->ns);
  free(r->selector);
  free(r->rv);
  free(r->cont);
  free(r->list_rv);
  free(r);
}

static void timer_closed(uv_handle_t *h) {
  sb_reflector *r = h->data;
  void (*cb)(void *) = r->close_cb;
  void *arg = r->close_arg;

  free_reflector(r);
  if (cb)
    cb(arg);
}

static void call_ended_closing(sb_reflector *r) {
  if (--r->close_pending == 0)
    uv_close((uv_handle_t *) &r->timer, timer_closed);
}

void sb_reflector_close(sb_reflector *r, void (*cb)(void *arg), void *arg) {
  sb_kube_call *call = r->call;

  if (r->state == R_CLOSING)
    return;
  goto_state(r, R_CLOSING, "close");
  r->close_cb = cb;
  r->close_arg = arg;
  uv_timer_stop(&r->timer);
  /* The timer is closed last, once the request in flight has called
   * back, so that timer_closed is the one place r is freed. */
  if (call) {
    r->close_pending = 1;
    sb_kube_cancel(call);
  } else {
    uv_close((uv_handle_t *) &r->timer, timer_closed);
  }
}
