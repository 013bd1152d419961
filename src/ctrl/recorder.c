/* recorder.c -- Kubernetes Events, de-duplicated and rate limited. See
 * sb/recorder.h.
 *
 * Two bounded LRU tables, both keyed by strings we build:
 *
 *   events  (kind, namespace, name, uid, type, reason, message) -> the
 *           Event we wrote for it: its name suffix, its timestamps, how
 *           often it happened. A repeat within the window bumps `count`
 *           and `lastTimestamp` of that Event; after the window, or once
 *           the entry fell out of the table, a new Event is created.
 *   buckets (kind, namespace, name, uid) -> a token bucket (client-go's
 *           spam filter: 25 at once, then one every 5 minutes). An Event
 *           that finds its bucket empty is dropped.
 *
 * An entry is one allocation: the struct and its key, followed by the
 * involved object's apiVersion. The Event body is built from those when
 * it is written and freed as soon as the request has it, so the table
 * costs a few hundred bytes per Event rather than a JSON tree each.
 * Entries older than the window and buckets that have filled up again
 * carry no information any more; they are swept from the tails of the
 * tables on every Event and by a timer that only runs while something
 * can expire (at most one wakeup per window).
 *
 * The first occurrence is a POST; a repeat is a server-side apply of the
 * whole Event with the new count to its name. Apply rather than a merge
 * patch because it needs no new client verb and because it also recreates
 * an Event the server has already expired (Events live an hour), where a
 * patch would fail and need a second request.
 *
 * Writes go out one at a time from a FIFO, as client-go's event sink
 * writes them, paced by the recorder's own token bucket (the client's
 * write bucket is skipped: SB_KUBE_UNPACED). Events are advice; the
 * writes that keep generated objects in step come first, and a burst of
 * a thousand "Translated" Events neither takes their tokens nor competes
 * with them for the API server beyond one request at a time; while the
 * controller holds the recorder (reconciles in flight), they start at
 * most once a second -- for five seconds at most, and only until half the
 * queue is taken -- and catch up when it lets go. At most one
 * write per Event is out or waiting: repeats only raise the count, and
 * the write carries the newest count when it goes. A failed write is
 * logged once and forgotten (the entry is dropped, so the next occurrence
 * starts a new Event); nothing is retried. When MAX_QUEUED Events already
 * wait, further new Events are dropped rather than queued, so a slow API
 * server costs bounded memory.
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
#define MAX_SENDING 1              /* writes out at once */
#define MAX_QUEUED 1000            /* Events waiting for their write */
#define MAX_NAME 253               /* an Event name is a DNS subdomain */
#define MIN_SWEEP_MS 1000
#define HELD_GAP_MS 1000           /* between write starts while held */
#define HELD_MAX_MS 5000           /* the longest a hold delays an Event */

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

/* Parts of an event key, in order, each NUL-terminated. */
enum { P_KIND, P_NS, P_NAME, P_UID, P_TYPE, P_REASON, P_MESSAGE };

typedef struct entry {
  lru_node node;               /* first: a node is an entry; node.key
                                  points to key[] below */
  sb_recorder *r;
  struct entry *qnext;         /* the send queue */
  sb_kube_call *call;          /* the write in flight */
  uint64_t last_ms;            /* uv_now of the newest occurrence */
  uint64_t queued_ms;          /* uv_now when it joined the send queue */
  uint64_t suffix;             /* the Event is "<object name>.<suffix>" */
  int64_t first_s, last_s;     /* wall clock: first/lastTimestamp */
  unsigned long count;         /* occurrences so far */
  unsigned long sending;       /* count carried by the write in flight */
  unsigned char created;       /* the POST succeeded: repeats apply */
  unsigned char queued;        /* on the send queue */
  unsigned char orphan;        /* out of the table: freed when its write
                                  completes or it leaves the queue */
  char key[];                  /* the key, then the apiVersion ("" when
                                  the object had none) */
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
  entry *qhead, *qtail;        /* waiting for their write */
  size_t queued;
  entry *orphans;              /* dropped while a write was out */
  size_t inflight;
  sb_bucket pace;              /* the recorder's own write bucket */
  uv_timer_t pace_timer;
  int held;                    /* sb_recorder_hold */
  int started;                 /* a write has started (last_start_ms) */
  uint64_t last_start_ms;
  uv_timer_t sweep_timer;
  uint64_t last_suffix;        /* event name suffixes never repeat */
  unsigned long written, failed, dropped;
  int closing;
  int pending;                 /* close: handles + calls still to finish */
  void (*close_cb)(void *);
  void *close_arg;
};

static void pump(sb_recorder *r);

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

/* n->key/klen are set and owned by the node; it must not be in a table. */
static int lru_add(lru *t, lru_node *n) {
  if (sb_hmap_put(t->map, n->key, n->klen, n, NULL))
    return SB_ENOMEM;
  lru_push_front(t, n);
  t->n++;
  return 0;
}

/* ---- entries ------------------------------------------------------------- */

static const char *part(const entry *e, int i) {
  const char *p = e->key;

  while (i-- > 0)
    p += strlen(p) + 1;
  return p;
}

static const char *api_version(const entry *e) {
  return e->key + e->node.klen;
}

/* The namespace the Event lives in. */
static const char *event_ns(const entry *e) {
  const char *ns = part(e, P_NS);
  return *ns ? ns : "default";
}

/* Takes e out of the table; frees it unless a write or the queue still
 * refers to it. */
static void entry_drop(sb_recorder *r, entry *e) {
  lru_remove(&r->events, &e->node);
  if (e->queued) {
    e->orphan = 1;  /* freed when it leaves the queue */
    return;
  }
  if (!e->call) {
    free(e);
    return;
  }
  e->orphan = 1;
  e->node.prev = NULL;
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
  free(e);
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

static void wall_now(int64_t *s, uint64_t *ns) {
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  *s = (int64_t) ts.tv_sec;
  *ns = (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* RFC 3339 with seconds (what Event timestamps carry). */
static void rfc3339(int64_t s, char out[32]) {
  time_t t = (time_t) s;
  struct tm tm;

  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
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

/* "<object name>.<16 hex digits>", the name cut so the whole stays a
 * valid 253-character name. */
static void event_name(const entry *e, char out[MAX_NAME + 1]) {
  const char *objname = part(e, P_NAME);
  size_t keep = strlen(objname);

  if (keep > MAX_NAME - 17)
    keep = MAX_NAME - 17;
  snprintf(out, MAX_NAME + 1, "%.*s.%016llx", (int) keep, objname,
           (unsigned long long) e->suffix);
}

static void put_str(cJSON *o, const char *k, const char *v, int *ok) {
  if (*ok && !cJSON_AddStringToObject(o, k, v))
    *ok = 0;
}

/* The whole Event as it goes out now; NULL on ENOMEM. */
static cJSON *build_event(const sb_recorder *r, const entry *e) {
  cJSON *ev = cJSON_CreateObject(), *m, *io, *src;
  const char *ns = part(e, P_NS), *uid = part(e, P_UID);
  char name[MAX_NAME + 1], first[32], last[32];
  int ok = ev != NULL;

  event_name(e, name);
  rfc3339(e->first_s, first);
  rfc3339(e->last_s, last);
  put_str(ev, "apiVersion", "v1", &ok);
  put_str(ev, "kind", "Event", &ok);
  m = ok ? cJSON_AddObjectToObject(ev, "metadata") : NULL;
  ok = ok && m;
  put_str(m, "name", name, &ok);
  put_str(m, "namespace", event_ns(e), &ok);
  io = ok ? cJSON_AddObjectToObject(ev, "involvedObject") : NULL;
  ok = ok && io;
  if (*api_version(e))
    put_str(io, "apiVersion", api_version(e), &ok);
  put_str(io, "kind", part(e, P_KIND), &ok);
  if (*ns)
    put_str(io, "namespace", ns, &ok);
  put_str(io, "name", part(e, P_NAME), &ok);
  if (*uid)
    put_str(io, "uid", uid, &ok);
  put_str(ev, "reason", part(e, P_REASON), &ok);
  put_str(ev, "message", part(e, P_MESSAGE), &ok);
  put_str(ev, "type", part(e, P_TYPE), &ok);
  src = ok ? cJSON_AddObjectToObject(ev, "source") : NULL;
  ok = ok && src;
  put_str(src, "component", r->component, &ok);
  if (r->host)
    put_str(src, "host", r->host, &ok);
  put_str(ev, "firstTimestamp", first, &ok);
  put_str(ev, "lastTimestamp", last, &ok);
  if (ok && !cJSON_AddNumberToObject(ev, "count", (double) e->count))
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

/* ---- writing ------------------------------------------------------------- */

static void maybe_closed(sb_recorder *r);
static void arm_sweep(sb_recorder *r, uint64_t now);

static void log_event(const entry *e, const char *msg, int level) {
  sb_log(level, msg, "kind=%s namespace=%s name=%s type=%s reason=%s "
         "count=%lu message=%s", part(e, P_KIND), event_ns(e),
         part(e, P_NAME), part(e, P_TYPE), part(e, P_REASON), e->count,
         part(e, P_MESSAGE));
}

static void enqueue(sb_recorder *r, entry *e) {
  e->queued = 1;
  e->queued_ms = uv_now(r->loop);
  e->qnext = NULL;
  if (r->qtail)
    r->qtail->qnext = e;
  else
    r->qhead = e;
  r->qtail = e;
  r->queued++;
}

static entry *dequeue(sb_recorder *r) {
  entry *e = r->qhead;

  r->qhead = e->qnext;
  if (!r->qhead)
    r->qtail = NULL;
  e->qnext = NULL;
  e->queued = 0;
  r->queued--;
  return e;
}

static void on_written(void *arg, sb_kube_result *res) {
  entry *e = arg;
  sb_recorder *r = e->r;
  char name[MAX_NAME + 1];

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
    event_name(e, name);
    sb_log(SB_LOG_WARN, "cannot write event", "namespace=%s event=%s "
           "err=%s message=%s", event_ns(e), name, sb_err_name(res->err),
           res->message);
    /* Forgotten, not retried: the next occurrence starts afresh. */
    if (e->orphan)
      orphan_free(r, e);
    else
      entry_drop(r, e);
    pump(r);
    return;
  }
  r->written++;
  e->created = 1;
  if (e->orphan)
    orphan_free(r, e);
  else if (e->count > e->sending)
    enqueue(r, e);  /* repeats came in while this was out */
  pump(r);
}

/* Starts the write of e (a POST until one has succeeded, then apply). */
static void send_entry(sb_recorder *r, entry *e) {
  sb_kube_target t;
  char name[MAX_NAME + 1];
  cJSON *body = build_event(r, e);
  int rc = SB_ENOMEM;

  event_name(e, name);
  if (body) {
    memset(&t, 0, sizeof(t));
    t.gvr.version = "v1";
    t.gvr.resource = "events";
    t.ns = event_ns(e);
    t.name = name;
    e->sending = e->count;
    /* The client serialises the body at once: it can go right after. */
    if (!e->created)
      rc = sb_kube_create(r->k, &t, body, SB_KUBE_UNPACED, on_written, e,
                          &e->call);
    else
      rc = sb_kube_apply(r->k, &t, body, SB_KUBE_UNPACED, on_written, e,
                         &e->call);
    cJSON_Delete(body);
  }
  if (!rc) {
    r->inflight++;
    r->started = 1;
    r->last_start_ms = uv_now(r->loop);
    return;
  }
  r->failed++;
  sb_log(SB_LOG_WARN, "cannot write event", "namespace=%s event=%s err=%s",
         event_ns(e), name, sb_err_name(rc));
  if (e->orphan)
    free(e);
  else
    entry_drop(r, e);
}

static void on_pace(uv_timer_t *t) {
  pump(t->data);
}

/* Milliseconds a held recorder still waits before its next write. A hold
 * only reorders: once the oldest Event has waited HELD_MAX_MS (reconciles
 * that never stop, under steady churn) or half the queue is taken (the
 * cap must not drop Events because of it), they go at their own pace. */
static uint64_t held_wait(const sb_recorder *r) {
  uint64_t now = uv_now(r->loop), gap, max;

  if (!r->held || !r->started || r->queued >= MAX_QUEUED / 2 ||
      now - r->qhead->queued_ms >= HELD_MAX_MS ||
      now - r->last_start_ms >= HELD_GAP_MS)
    return 0;
  gap = HELD_GAP_MS - (now - r->last_start_ms);
  max = HELD_MAX_MS - (now - r->qhead->queued_ms);
  return gap < max ? gap : max;
}

/* Starts queued writes while there is room and a token. */
static void pump(sb_recorder *r) {
  uint64_t wait;
  entry *e;

  while (!r->closing && r->qhead && r->inflight < MAX_SENDING) {
    if (r->qhead->orphan) {
      free(dequeue(r));
      continue;
    }
    wait = held_wait(r);
    if (wait) {
      if (!uv_is_active((uv_handle_t *) &r->pace_timer))
        uv_timer_start(&r->pace_timer, on_pace, wait, 0);
      return;
    }
    wait = sb_bucket_take(&r->pace, uv_now(r->loop));
    if (wait) {
      if (!uv_is_active((uv_handle_t *) &r->pace_timer))
        uv_timer_start(&r->pace_timer, on_pace, wait, 0);
      return;
    }
    e = dequeue(r);
    send_entry(r, e);
  }
}

void sb_recorder_hold(sb_recorder *r, int on) {
  if (!r || r->held == !!on)
    return;
  r->held = !!on;
  if (!on && !r->closing) {
    /* A wait for the held gap is over; a wait for a token is redone. */
    uv_timer_stop(&r->pace_timer);
    pump(r);
  }
}

/* ---- expiry -------------------------------------------------------------- */

/* Milliseconds until the bucket is full again (0: it is). */
static uint64_t refill_ms(const sb_bucket *b, uint64_t now) {
  double tokens = b->tokens, need;

  if (now > b->last_ms)
    tokens += (double) (now - b->last_ms) * b->qps / 1000.0;
  if (tokens >= b->burst)
    return 0;
  need = (b->burst - tokens) * 1000.0 / b->qps;
  return (uint64_t) need + 1;
}

/* Forgets what can no longer matter: Events last seen a window ago (a
 * repeat would start a new Event anyway) and buckets that are full
 * again (a fresh one is the same). Both tables are walked from their
 * least recently used end and stop at the first entry still of use. */
static void sweep(sb_recorder *r, uint64_t now) {
  entry *e;
  spam *s;

  while ((e = (entry *) r->events.tail) && now - e->last_ms >= r->window_ms &&
         !e->call && !e->queued)
    entry_drop(r, e);
  while ((s = (spam *) r->buckets.tail) && refill_ms(&s->bucket, now) == 0) {
    lru_remove(&r->buckets, &s->node);
    spam_free(s);
  }
}

static void on_sweep(uv_timer_t *t) {
  sb_recorder *r = t->data;
  uint64_t now = uv_now(r->loop);

  sweep(r, now);
  arm_sweep(r, now);
}

/* Wakes up when the oldest entry of either table can go. */
static void arm_sweep(sb_recorder *r, uint64_t now) {
  const entry *e = (const entry *) r->events.tail;
  const spam *s = (const spam *) r->buckets.tail;
  uint64_t due = UINT64_MAX, d;

  if (r->closing)
    return;
  if (e) {
    d = e->last_ms + r->window_ms;
    due = d > now ? d - now : 0;
  }
  if (s && (d = refill_ms(&s->bucket, now)) < due)
    due = d;
  if (due == UINT64_MAX) {
    uv_timer_stop(&r->sweep_timer);
    return;
  }
  if (due < MIN_SWEEP_MS)
    due = MIN_SWEEP_MS;
  uv_timer_start(&r->sweep_timer, on_sweep, due, 0);
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
    s->node.key = malloc(objkey->len ? objkey->len : 1);
    if (!s->node.key) {
      free(s);
      return SB_ENOMEM;
    }
    memcpy(s->node.key, objkey->data, objkey->len);
    s->node.klen = objkey->len;
    if (lru_add(&r->buckets, &s->node)) {
      spam_free(s);
      return SB_ENOMEM;
    }
  }
  return sb_bucket_take(&s->bucket, now) ? 1 : 0;
}

static int record(sb_recorder *r, const sb_objref *obj, sb_event_type type,
                  const char *reason, char *message) {
  uint64_t now = uv_now(r->loop), wall_ns;
  const char *ns = obj->ns && *obj->ns ? obj->ns : "default";
  const char *av = obj->api_version ? obj->api_version : "";
  int64_t wall_s;
  sb_buf key;
  entry *e;
  int rc;

  truncate_utf8(message, MAX_MESSAGE);
  sweep(r, now);
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
  wall_now(&wall_s, &wall_ns);
  e = (entry *) lru_get(&r->events, key.data, key.len);
  if (e && now - e->last_ms < r->window_ms) {
    e->count++;
    e->last_ms = now;
    e->last_s = wall_s;
    if (r->dry_run)
      log_event(e, "event (dry run)", SB_LOG_INFO);
    else if (!e->call && !e->queued)
      enqueue(r, e);
    goto done;
  }
  if (e)
    entry_drop(r, e);  /* outside the window: a new Event */
  if (!r->dry_run && r->queued >= MAX_QUEUED) {
    r->dropped++;
    sb_log(SB_LOG_DEBUG, "event dropped: too many Events waiting",
           "kind=%s namespace=%s name=%s reason=%s", obj->kind, ns,
           obj->name, reason);
    goto out;
  }
  if (r->events.n >= TABLE_MAX)
    entry_drop(r, (entry *) r->events.tail);
  e = malloc(sizeof(*e) + key.len + strlen(av) + 1);
  if (!e) {
    rc = SB_ENOMEM;
    goto out;
  }
  memset(e, 0, sizeof(*e));
  memcpy(e->key, key.data, key.len);
  memcpy(e->key + key.len, av, strlen(av) + 1);
  e->node.key = e->key;
  e->node.klen = key.len;
  e->r = r;
  e->count = 1;
  e->last_ms = now;
  e->first_s = e->last_s = wall_s;
  /* Like client-go's names (the time in ns), bumped so that two Events
   * never share one. */
  e->suffix = wall_ns > r->last_suffix ? wall_ns : r->last_suffix + 1;
  r->last_suffix = e->suffix;
  if (lru_add(&r->events, &e->node)) {
    free(e);
    rc = SB_ENOMEM;
    goto out;
  }
  if (r->dry_run)
    log_event(e, "event (dry run)", SB_LOG_INFO);
  else
    enqueue(r, e);
done:
  pump(r);
  arm_sweep(r, now);
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

void sb_recorder_remembered(const sb_recorder *r, size_t *events,
                            size_t *buckets) {
  if (events)
    *events = r->events.n;
  if (buckets)
    *buckets = r->buckets.n;
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
  sb_bucket_init(&r->pace, o ? o->qps : 0, o ? o->burst : 1, uv_now(loop));
  uv_timer_init(loop, &r->pace_timer);
  uv_timer_init(loop, &r->sweep_timer);
  r->pace_timer.data = r;
  r->sweep_timer.data = r;
  /* The sweep only frees memory: it never keeps a loop alive. */
  uv_unref((uv_handle_t *) &r->sweep_timer);
  *out = r;
  return 0;
}

static void maybe_closed(sb_recorder *r) {
  void (*cb)(void *) = r->close_cb;
  void *arg = r->close_arg;
  lru_node *n, *next;
  entry *e;

  if (!r->closing || --r->pending > 0)
    return;
  while (r->qhead) {  /* entries of the table are freed below */
    e = dequeue(r);
    if (e->orphan)
      free(e);
  }
  for (n = r->events.head; n; n = next) {
    next = n->next;
    free(n);
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

static void timer_closed(uv_handle_t *h) {
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
  /* The two handles, and every write still out (including those of
   * entries already out of the table, which on_written frees). */
  r->pending = 2 + (int) r->inflight;
  for (n = r->events.head; n; n = n->next) {
    e = (entry *) n;
    if (e->call)
      sb_kube_cancel(e->call);
  }
  for (e = r->orphans; e; e = (entry *) e->node.next)
    sb_kube_cancel(e->call);
  uv_close((uv_handle_t *) &r->pace_timer, timer_closed);
  uv_close((uv_handle_t *) &r->sweep_timer, timer_closed);
}
