/* recorder.c -- Kubernetes Events, de-duplicated and rate limited. See
 * sb/recorder.h.
 *
 * Two bounded LRU tables, both keyed by strings we build:
 *
 *   events  (kind, namespace, name, uid, type, reason, message) -> the
 *           Event we wrote for it: its name, the body, how often it
 *           happened. A repeat within the window bumps `count` and
 *           `lastTimestamp` of that Event; after the window, or once the
 *           entry fell out of the table, a new Event is created.
 *   buckets (kind, namespace, name, uid) -> a token bucket (client-go's
 *           spam filter: 25 at once, then one every 5 minutes). An Event
 *           that finds its bucket empty is dropped.
 *
 * The first occurrence is a POST; a repeat is a server-side apply of the
 * whole Event with the new count to its name. Apply rather than a merge
 * patch because it needs no new client verb and because it also recreates
 * an Event the server has already expired (Events live an hour), where a
 * patch would fail and need a second request.
 *
 * At most one write per Event is out at a time: repeats that arrive while
 * one is in flight only raise the count, and the completion sends the
 * newest count. A failed write is logged once and forgotten (the entry is
 * dropped, so the next occurrence starts a new Event); nothing is retried
 * and nothing waits for it. When too many writes are already out, further
 * Events are dropped rather than queued, so a slow API server costs
 * bounded memory.
 */
#include "sb/recorder.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sb/buf.h"
#include "sb/err.h"
#include "sb/hmap.h"
#include "sb/log.h"
#include "sb/ratelimit.h"

#define DEFAULT_WINDOW_MS (10u * 60u * 1000u)
#define TABLE_MAX 4096
#define SPAM_BURST 25
#define SPAM_QPS (1.0 / 300.0)     /* one token every 5 minutes */
#define MAX_MESSAGE 1024           /* bytes, what the API accepts */
#define MAX_INFLIGHT 64
#define MAX_NAME 253               /* an Event name is a DNS subdomain */

/* A node of an LRU table: the hash map finds it, the list orders it. */
typedef struct lru_node {
  struct lru_node *prev, *next;   /* most recently used first */
  char *key;
  size_t klen;
} lru_node;

typedef struct lru {
  sb_hmap *map;
  lru_node *head, *tail;
  size_t n;
} lru;

typedef struct entry {
  lru_node node;               /* first: a node is an entry */
  sb_recorder *r;
  cJSON *event;                /* body last built */
  char *ns;
  char *name;
  char last_ts[32];            /* lastTimestamp of the newest occurrence */
  uint64_t last_ms;            /* uv_now of the newest occurrence */
  unsigned long count;         /* occurrences so far */
  unsigned long sending;       /* count carried by the write in flight */
  sb_kube_call *call;          /* the write in flight */
  int orphan;                  /* out of the table, on r->orphans (through
                                  node.prev/next); freed on completion */
} entry;

typedef struct spam {
  lru_node node;
  sb_bucket bucket;
} spam;

struct sb_recorder {
  uv_loop_t *loop;
  sb_kube *k;
  char *component;
  char *host;
  int dry_run;
  uint64_t window_ms;
  lru events;
  lru buckets;
  entry *orphans;              /* dropped while a write was out */
  size_t inflight;
  uint64_t last_suffix;        /* event name suffixes never repeat */
  unsigned long written, failed, dropped;
  uv_timer_t closer;           /* only to get the close callback onto the
                                  loop */
  int closing;
  int pending;                 /* close: handle + calls still to finish */
  void (*close_cb)(void *);
  void *close_arg;
};

/* ---- LRU tables ---------------------------------------------------------- */

static int lru_init(lru *t) {
  memset(t, 0, sizeof(*t));
  t->map = sb_hmap_new(64);
  return t->map ? 0 : SB_ENOMEM;
}

static void lru_unlink(lru *t, lru_node *n) {
  if (n->prev)
    n->prev->next = n->next;
  else
    t->head = n->next;
  if (n->next)
    n->next->prev = n->prev;
  else
    t->tail = n->prev;
  n->prev = n->next = NULL;
}

static void lru_push_front(lru *t, lru_node *n) {
  n->prev = NULL;
  n->next = t->head;
  if (t->head)
    t->head->prev = n;
  t->head = n;
  if (!t->tail)
    t->tail = n;
}

static lru_node *lru_get(lru *t, const char *key, size_t klen) {
  lru_node *n = sb_hmap_get(t->map, key, klen);

  if (n && n != t->head) {
    lru_unlink(t, n);
    lru_push_front(t, n);
  }
  return n;
}

static void lru_remove(lru *t, lru_node *n) {
  sb_hmap_del(t->map, n->key, n->klen);
  lru_unlink(t, n);
  t->n--;
}

/* Takes a key copy; the node must not be in a table. */
static int lru_add(lru *t, lru_node *n, const char *key, size_t klen) {
  n->key = malloc(klen ? klen : 1);
  if (!n->key)
    return SB_ENOMEM;
  memcpy(n->key, key, klen);
  n->klen = klen;
  if (sb_hmap_put(t->map, n->key, klen, n, NULL)) {
    free(n->key);
    n->key = NULL;
    return SB_ENOMEM;
  }
  lru_push_front(t, n);
  t->n++;
  return 0;
}

/* ---- entries ------------------------------------------------------------- */

static void entry_free(entry *e) {
  cJSON_Delete(e->event);
  free(e->ns);
  free(e->name);
  free(e->node.key);
  free(e);
}

/* Takes e out of the table; frees it unless a write still refers to it. */
static void entry_drop(sb_recorder *r, entry *e) {
  lru_remove(&r->events, &e->node);
  if (!e->call) {
    entry_free(e);
    return;
  }
  e->orphan = 1;
  e->node.next = r->orphans ? &r->orphans->node : NULL;
  if (r->orphans)
    r->orphans->node.prev = &e->node;
  r->orphans = e;
}

static void orphan_free(sb_recorder *r, entry *e) {
  if (e->node.prev)
    e->node.prev->next = e->node.next;
  else
    r->orphans = (entry *) e->node.next;
  if (e->node.next)
    e->node.next->prev = e->node.prev;
  entry_free(e);
}

static void spam_free(spam *s) {
  free(s->node.key);
  free(s);
}

/* ---- building an Event --------------------------------------------------- */

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);

  if (p)
    memcpy(p, s, n);
  return p;
}

/* Wall clock as RFC 3339 with seconds (what Event timestamps carry). */
static void now_rfc3339(char out[32], uint64_t *ns_out) {
  struct timespec ts;
  struct tm tm;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (ns_out)
    *ns_out = (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static void truncate_utf8(char *s, size_t max) {
  size_t n = strlen(s);

  if (n <= max)
    return;
  n = max;
  while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
    n--;
  s[n] = '\0';
}

static void put_str(cJSON *o, const char *k, const char *v, int *ok) {
  if (*ok && !cJSON_AddStringToObject(o, k, v))
    *ok = 0;
}

static cJSON *build_event(const sb_recorder *r, const sb_objref *obj,
                          const char *ns, const char *name,
                          sb_event_type type, const char *reason,
                          const char *message, const char *ts) {
  cJSON *ev = cJSON_CreateObject(), *m, *io, *src;
  int ok = ev != NULL;

  put_str(ev, "apiVersion", "v1", &ok);
  put_str(ev, "kind", "Event", &ok);
  m = ok ? cJSON_AddObjectToObject(ev, "metadata") : NULL;
  ok = ok && m;
  put_str(m, "name", name, &ok);
  put_str(m, "namespace", ns, &ok);
  io = ok ? cJSON_AddObjectToObject(ev, "involvedObject") : NULL;
  ok = ok && io;
  if (obj->api_version)
    put_str(io, "apiVersion", obj->api_version, &ok);
  put_str(io, "kind", obj->kind, &ok);
  if (obj->ns && *obj->ns)
    put_str(io, "namespace", obj->ns, &ok);
  put_str(io, "name", obj->name, &ok);
  if (obj->uid && *obj->uid)
    put_str(io, "uid", obj->uid, &ok);
  put_str(ev, "reason", reason, &ok);
  put_str(ev, "message", message, &ok);
  put_str(ev, "type", type == SB_EVENT_WARNING ? "Warning" : "Normal", &ok);
  src = ok ? cJSON_AddObjectToObject(ev, "source") : NULL;
  ok = ok && src;
  put_str(src, "component", r->component, &ok);
  if (r->host)
    put_str(src, "host", r->host, &ok);
  put_str(ev, "firstTimestamp", ts, &ok);
  put_str(ev, "lastTimestamp", ts, &ok);
  if (ok && !cJSON_AddNumberToObject(ev, "count", 1))
    ok = 0;
  put_str(ev, "reportingComponent", r->component, &ok);
  if (r->host)
    put_str(ev, "reportingInstance", r->host, &ok);
  if (!ok) {
    cJSON_Delete(ev);
    return NULL;
  }
  return ev;
}

/* "<object name>.<hex>", like client-go (which uses the time in ns): we
 * use the wall clock too, bumped so two Events never share a name. */
static char *event_name(sb_recorder *r, const char *objname, uint64_t ns) {
  char buf[MAX_NAME + 1];
  size_t keep = strlen(objname);

  if (ns <= r->last_suffix)
    ns = r->last_suffix + 1;
  r->last_suffix = ns;
  if (keep > MAX_NAME - 17)
    keep = MAX_NAME - 17;
  snprintf(buf, sizeof(buf), "%.*s.%016llx", (int) keep, objname,
           (unsigned long long) ns);
  return dupstr(buf);
}

/* ---- writing ------------------------------------------------------------- */

static void maybe_closed(sb_recorder *r);
static void send_entry(sb_recorder *r, entry *e, int create);

static void log_event(const entry *e, const char *msg, int level) {
  const cJSON *io = cJSON_GetObjectItemCaseSensitive(e->event,
                                                     "involvedObject");
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(io, "kind");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(io, "name");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(e->event, "type");
  const cJSON *reason = cJSON_GetObjectItemCaseSensitive(e->event,
                                                         "reason");
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(e->event, "message");

  sb_log(level, msg, "kind=%s namespace=%s name=%s type=%s reason=%s "
         "count=%lu message=%s", kind->valuestring, e->ns,
         name->valuestring, type->valuestring, reason->valuestring,
         e->count, text->valuestring);
}

static void on_written(void *arg, sb_kube_result *res) {
  entry *e = arg;
  sb_recorder *r = e->r;

  e->call = NULL;
  r->inflight--;
  if (res->err == SB_ECANCELED || r->closing) {
    if (e->orphan)
      orphan_free(r, e);
    maybe_closed(r);
    return;
  }
  if (res->err) {
    r->failed++;
    sb_log(SB_LOG_WARN, "cannot write event", "namespace=%s event=%s "
           "err=%s message=%s", e->ns, e->name, sb_err_name(res->err),
           res->message);
    /* Forgotten, not retried: the next occurrence starts afresh. */
    if (e->orphan)
      orphan_free(r, e);
    else
      entry_drop(r, e);
    return;
  }
  r->written++;
  if (e->orphan) {
    orphan_free(r, e);
    return;
  }
  if (e->count > e->sending)
    send_entry(r, e, 0);  /* repeats came in while this was out */
}

static void send_entry(sb_recorder *r, entry *e, int create) {
  sb_kube_target t;
  cJSON *count, *last;
  int rc;

  count = cJSON_GetObjectItemCaseSensitive(e->event, "count");
  last = cJSON_GetObjectItemCaseSensitive(e->event, "lastTimestamp");
  cJSON_SetNumberValue(count, (double) e->count);
  if (!cJSON_SetValuestring(last, e->last_ts)) {
    rc = SB_ENOMEM;
    goto failed;
  }
  memset(&t, 0, sizeof(t));
  t.gvr.version = "v1";
  t.gvr.resource = "events";
  t.ns = e->ns;
  t.name = e->name;
  e->sending = e->count;
  if (create)
    rc = sb_kube_create(r->k, &t, e->event, 0, on_written, e, &e->call);
  else
    rc = sb_kube_apply(r->k, &t, e->event, 0, on_written, e, &e->call);
  if (!rc) {
    r->inflight++;
    return;
  }
failed:
  r->failed++;
  sb_log(SB_LOG_WARN, "cannot write event", "namespace=%s event=%s err=%s",
         e->ns, e->name, sb_err_name(rc));
  entry_drop(r, e);
}

/* ---- public -------------------------------------------------------------- */

static int add_key_part(sb_buf *b, const char *s) {
  int rc = sb_buf_adds(b, s ? s : "");

  return rc ? rc : sb_buf_add(b, "", 1);  /* NUL separates the parts */
}

/* Takes one token from obj's bucket: 0 when the Event may go. */
static int spam_check(sb_recorder *r, const sb_buf *objkey, uint64_t now) {
  spam *s = (spam *) lru_get(&r->buckets, objkey->data, objkey->len);

  if (!s) {
    if (r->buckets.n >= TABLE_MAX) {
      spam *old = (spam *) r->buckets.tail;

      lru_remove(&r->buckets, &old->node);
      spam_free(old);
    }
    s = calloc(1, sizeof(*s));
    if (!s)
      return SB_ENOMEM;
    sb_bucket_init(&s->bucket, SPAM_QPS, SPAM_BURST, now);
    if (lru_add(&r->buckets, &s->node, objkey->data, objkey->len)) {
      free(s);
      return SB_ENOMEM;
    }
  }
  return sb_bucket_take(&s->bucket, now) ? 1 : 0;
}

static int record(sb_recorder *r, const sb_objref *obj, sb_event_type type,
                  const char *reason, char *message) {
  uint64_t now = uv_now(r->loop), wall_ns;
  const char *ns = obj->ns && *obj->ns ? obj->ns : "default";
  char ts[32];
  sb_buf key;
  entry *e;
  int rc;

  truncate_utf8(message, MAX_MESSAGE);
  sb_buf_init(&key, SB_BUF_UNLIMITED);
  rc = add_key_part(&key, obj->kind);
  if (!rc)
    rc = add_key_part(&key, obj->ns);
  if (!rc)
    rc = add_key_part(&key, obj->name);
  if (!rc)
    rc = add_key_part(&key, obj->uid);
  if (rc)
    goto out;
  rc = spam_check(r, &key, now);
  if (rc == 1) {
    r->dropped++;
    sb_log(SB_LOG_DEBUG, "event dropped by the per-object rate limit",
           "kind=%s namespace=%s name=%s reason=%s", obj->kind, ns,
           obj->name, reason);
    rc = 0;
    goto out;
  }
  if (rc)
    goto out;
  rc = add_key_part(&key, type == SB_EVENT_WARNING ? "Warning" : "Normal");
  if (!rc)
    rc = add_key_part(&key, reason);
  if (!rc)
    rc = add_key_part(&key, message);
  if (rc)
    goto out;
  now_rfc3339(ts, &wall_ns);
  e = (entry *) lru_get(&r->events, key.data, key.len);
  if (e && now - e->last_ms < r->window_ms) {
    e->count++;
    e->last_ms = now;
    memcpy(e->last_ts, ts, sizeof(ts));
    if (r->dry_run)
      log_event(e, "event (dry run)", SB_LOG_INFO);
    else if (!e->call)
      send_entry(r, e, 0);
    goto out;
  }
  if (e)
    entry_drop(r, e);  /* outside the window: a new Event */
  if (!r->dry_run && r->inflight >= MAX_INFLIGHT) {
    r->dropped++;
    sb_log(SB_LOG_DEBUG, "event dropped: too many writes in flight",
           "kind=%s namespace=%s name=%s reason=%s", obj->kind, ns,
           obj->name, reason);
    goto out;
  }
  if (r->events.n >= TABLE_MAX)
    entry_drop(r, (entry *) r->events.tail);
  e = calloc(1, sizeof(*e));
  if (!e) {
    rc = SB_ENOMEM;
    goto out;
  }
  e->r = r;
  e->count = 1;
  e->last_ms = now;
  memcpy(e->last_ts, ts, sizeof(ts));
  e->ns = dupstr(ns);
  e->name = event_name(r, obj->name, wall_ns);
  e->event = e->ns && e->name ? build_event(r, obj, ns, e->name, type,
                                            reason, message, ts)
                              : NULL;
  if (!e->event || lru_add(&r->events, &e->node, key.data, key.len)) {
    entry_free(e);
    rc = SB_ENOMEM;
    goto out;
  }
  if (r->dry_run)
    log_event(e, "event (dry run)", SB_LOG_INFO);
  else
    send_entry(r, e, 1);
out:
  sb_buf_free(&key);
  return rc;
}

int sb_recorder_event(sb_recorder *r, const sb_objref *obj,
                      sb_event_type type, const char *reason,
                      const char *fmt, ...) {
  /* A little more than fits, so that truncate_utf8 sees the cut. */
  char msg[MAX_MESSAGE + 8];
  va_list ap;

  if (r->closing)
    return SB_ECLOSING;
  if (!obj || !obj->kind || !*obj->kind || !obj->name || !*obj->name ||
      !reason || !*reason || !fmt)
    return SB_EINVAL;
  va_start(ap, fmt);
  if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
    msg[0] = '\0';
  va_end(ap);
  return record(r, obj, type, reason, msg);
}

void sb_recorder_stats(const sb_recorder *r, unsigned long *written,
                       unsigned long *failed) {
  if (written)
    *written = r->written;
  if (failed)
    *failed = r->failed;
}

unsigned long sb_recorder_dropped(const sb_recorder *r) {
  return r->dropped;
}

int sb_recorder_new(uv_loop_t *loop, sb_kube *k, const sb_recorder_opts *o,
                    sb_recorder **out) {
  sb_recorder *r;

  *out = NULL;
  if (!loop || !k)
    return SB_EINVAL;
  r = calloc(1, sizeof(*r));
  if (!r)
    return SB_ENOMEM;
  r->loop = loop;
  r->k = k;
  r->component = dupstr(o && o->component ? o->component : SB_MANAGER);
  r->host = o && o->host ? dupstr(o->host) : NULL;
  r->dry_run = o ? o->dry_run : 0;
  r->window_ms = o && o->window_ms ? o->window_ms : DEFAULT_WINDOW_MS;
  if (!r->component || (o && o->host && !r->host) || lru_init(&r->events) ||
      lru_init(&r->buckets)) {
    sb_hmap_free(r->events.map);
    sb_hmap_free(r->buckets.map);
    free(r->component);
    free(r->host);
    free(r);
    return SB_ENOMEM;
  }
  uv_timer_init(loop, &r->closer);
  r->closer.data = r;
  *out = r;
  return 0;
}

static void maybe_closed(sb_recorder *r) {
  void (*cb)(void *) = r->close_cb;
  void *arg = r->close_arg;
  lru_node *n, *next;

  if (!r->closing || --r->pending > 0)
    return;
  for (n = r->events.head; n; n = next) {
    next = n->next;
    entry_free((entry *) n);
  }
  for (n = r->buckets.head; n; n = next) {
    next = n->next;
    spam_free((spam *) n);
  }
  sb_hmap_free(r->events.map);
  sb_hmap_free(r->buckets.map);
  free(r->component);
  free(r->host);
  free(r);
  if (cb)
    cb(arg);
}

static void closer_closed(uv_handle_t *h) {
  maybe_closed(h->data);
}

void sb_recorder_close(sb_recorder *r, void (*cb)(void *arg), void *arg) {
  lru_node *n;
  entry *e;

  if (r->closing)
    return;
  r->closing = 1;
  r->close_cb = cb;
  r->close_arg = arg;
  /* The handle, and every write still out (including those of entries
   * already out of the table, which on_written frees). */
  r->pending = 1 + (int) r->inflight;
  for (n = r->events.head; n; n = n->next) {
    e = (entry *) n;
    if (e->call)
      sb_kube_cancel(e->call);
  }
  for (e = r->orphans; e; e = (entry *) e->node.next)
    sb_kube_cancel(e->call);
  uv_close((uv_handle_t *) &r->closer, closer_closed);
}
