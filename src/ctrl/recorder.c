/* recorder.c -- Kubernetes Events, de-duplicated and rate limited. See
 * sb/recorder.h.
 *
 * Two bounded LRU tables, both keyed by a 64-bit hash of the key's parts:
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
 * The layout is about memory: with thousands of objects both tables stay
 * full, so every byte of a record counts 8192 times, and strings kept for
 * the next occurrence are wasted -- it brings them again.
 *
 *   - Neither table keeps its key. The parts are hashed as they come
 *     (sb_hash_add over each part and its NUL, then sb_hash_final; the
 *     Event's hash goes on from the object's), and two keys are the same
 *     when their hashes are. The price: two different Events with one
 *     hash would count as one, the second raising the first one's count
 *     instead of being written (and two objects with one hash would share
 *     a spam bucket). By accident that is about 2^-41 for a full table;
 *     the hash is not keyed, so names and messages chosen for it could
 *     collide on purpose. Accepted for Events, which are advice.
 *   - An entry holds the strings its Event is built from only while the
 *     Event is on its way out. A `pending` (one allocation: the strings,
 *     the newest lastTimestamp, the queue's and the call's state) is made
 *     by the occurrence that queues a write and freed once a write
 *     completed with no repeat left to send. Then the entry is its hash,
 *     counters, timestamps and name suffix: 56 bytes. A repeat comes
 *     through sb_recorder_event with every part again, so it attaches a
 *     new pending; its write has the same name (the object name from the
 *     repeat, the suffix kept) and the new count. (The involved object's
 *     apiVersion, which is no part of the key, is the repeat's too.) Dry
 *     run writes nothing and logs from the arguments, so its entries
 *     never hold strings.
 *   - A bucket is its hash and the time it is full again (sb_gcra_take):
 *     24 bytes.
 *   - Each table is one array of records, linked in LRU order by 32-bit
 *     slot numbers and found through an open-addressing index of slot
 *     numbers (linear probing, at most half full, deletion by backward
 *     shift so there are no tombstones): 8 bytes of index per record and
 *     no allocation per record. sb_hmap borrows its keys, so with it each
 *     record would need an allocation of its own to keep its hash in
 *     place (8-16 bytes of allocator overhead each), and its 24-byte
 *     slots come to 48 bytes a record at its load factor: about twice the
 *     memory in all. The arrays double up to TABLE_MAX records and are
 *     freed when a table empties. A record moves when its array grows, so
 *     no pointer to one is kept across an insertion: a pending names its
 *     entry by slot number.
 *
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
 * server costs bounded memory (a repeat of a known Event is still
 * queued: at most one pending per entry). An entry that leaves the
 * table while its write waits or is out leaves the pending behind, an
 * orphan: freed when it reaches the head of the queue (unsent) or when
 * its write completes.
 */
#include "sb/recorder.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sb/err.h"
#include "sb/hmap.h"
#include "sb/log.h"
#include "sb/ratelimit.h"

#define DEFAULT_WINDOW_MS (10u * 60u * 1000u)
#define TABLE_MAX 4096             /* records per table, a power of two */
#define SPAM_BURST 25
#define SPAM_EVERY_MS 300000       /* one token every 5 minutes */
#define MAX_MESSAGE 1024           /* bytes, what the API accepts */
#define MAX_SENDING 1              /* writes out at once */
#define MAX_QUEUED 1000            /* Events waiting for their write */
#define MAX_NAME 253               /* an Event name is a DNS subdomain */
#define MIN_SWEEP_MS 1000
#define HELD_GAP_MS 1000           /* between write starts while held */
#define HELD_MAX_MS 5000           /* the longest a hold delays an Event */
#define FIRST_CAP 16               /* records in a table's first array */

#define NIL UINT32_MAX             /* no slot */

_Static_assert((FIRST_CAP & (FIRST_CAP - 1)) == 0 &&
               (TABLE_MAX & (TABLE_MAX - 1)) == 0 && TABLE_MAX >= FIRST_CAP,
               "a table's arrays double from FIRST_CAP to TABLE_MAX");

/* The start of every record: its key and its place in LRU order. */
typedef struct lru_node {
  uint64_t hash;
  uint32_t prev, next;         /* slots, most recently used first; a free
                                  slot's next is the next free one */
} lru_node;

/* A table: `cap` records of `size` bytes each, and an index of 2 * cap
 * slot numbers. Every slot below cap is in the LRU list or the free
 * list. */
typedef struct lru {
  unsigned char *recs;
  uint32_t *index;             /* NIL = empty */
  size_t size;
  uint32_t cap, n;
  uint32_t head, tail;         /* most and least recently used */
  uint32_t free;
} lru;

/* Parts of an event key, in order, then the one part that is not in the
 * key. A pending holds them in this order, each NUL-terminated. */
enum { P_KIND, P_NS, P_NAME, P_UID, P_TYPE, P_REASON, P_MESSAGE,
       P_API_VERSION, NPARTS };

struct pending;

typedef struct entry {
  lru_node node;               /* first: the hash of the Event's key */
  uint64_t last_ms;            /* uv_now of the newest occurrence */
  uint64_t suffix;             /* the Event is "<object name>.<suffix>" */
  int64_t first_s;             /* wall clock: firstTimestamp */
  struct pending *out;         /* while a write waits or is out */
  uint32_t count;              /* occurrences so far (saturating) */
  unsigned char created;       /* a POST succeeded: repeats apply */
} entry;

typedef struct spam {
  lru_node node;               /* the hash of the object's key */
  uint64_t full_ms;            /* uv_now when the bucket is full again */
} spam;

_Static_assert(sizeof(entry) <= 56 && sizeof(spam) <= 24,
               "the records stay small (see the top of this file)");

/* An Event on its way out: waiting on the queue, or written now (never
 * both). */
typedef struct pending {
  sb_recorder *r;
  struct pending *next;        /* the queue, or the list of writes out */
  sb_kube_call *call;          /* the write in flight */
  uint64_t queued_ms;          /* uv_now when it joined the queue */
  uint64_t suffix;             /* the entry's, to name an orphan in logs */
  int64_t last_s;              /* wall clock: lastTimestamp */
  size_t size;                 /* of this allocation */
  uint32_t slot;               /* its entry; NIL for an orphan */
  uint32_t sending;            /* count carried by the write out */
  char str[];                  /* the NPARTS parts */
} pending;

struct sb_recorder {
  uv_loop_t *loop;
  sb_kube *k;
  char *component;
  char *host;
  int dry_run;
  uint64_t window_ms;
  lru events;                  /* of entry */
  lru buckets;                 /* of spam */
  pending *qhead, *qtail;      /* waiting for their write */
  size_t queued;
  pending *out;                /* written now (at most MAX_SENDING) */
  size_t inflight;
  size_t pending_bytes;        /* of all pendings, for sb_recorder_bytes */
  sb_bucket pace;              /* the recorder's own write bucket */
  uv_timer_t pace_timer;
  int held;                    /* sb_recorder_hold */
  int started;                 /* a write has started (last_start_ms) */
  uint64_t last_start_ms;
  uv_timer_t sweep_timer;
  uint64_t last_suffix;        /* event name suffixes never repeat */
  unsigned long written, failed, dropped;
  int closing;
  int to_close;                /* close: handles + calls still to finish */
  void (*close_cb)(void *);
  void *close_arg;
};

static void pump(sb_recorder *r);

/* ---- LRU tables ---------------------------------------------------------- */

static void lru_init(lru *t, size_t size) {
  memset(t, 0, sizeof(*t));
  t->size = size;
  t->head = t->tail = t->free = NIL;
}

static void lru_free(lru *t) {
  free(t->recs);
  free(t->index);
  lru_init(t, t->size);
}

static lru_node *lru_at(const lru *t, uint32_t slot) {
  return (lru_node *) (t->recs + (size_t) slot * t->size);
}

static size_t lru_bytes(const lru *t) {
  return t->cap ? (size_t) t->cap * (t->size + 2 * sizeof(uint32_t)) : 0;
}

static uint32_t index_mask(const lru *t) {
  return 2 * t->cap - 1;
}

static void index_put(lru *t, uint32_t slot) {
  uint32_t mask = index_mask(t);
  uint32_t i = (uint32_t) lru_at(t, slot)->hash & mask;

  while (t->index[i] != NIL)
    i = (i + 1) & mask;
  t->index[i] = slot;
}

/* Knuth's algorithm R: the entries after the hole in its probe run move
 * up into it unless their home lies after the hole, so that a lookup
 * never meets an empty slot before its entry. */
static void index_del(lru *t, uint32_t slot) {
  uint32_t mask = index_mask(t), i, j, home;

  i = (uint32_t) lru_at(t, slot)->hash & mask;
  while (t->index[i] != slot)
    i = (i + 1) & mask;
  for (j = (i + 1) & mask; t->index[j] != NIL; j = (j + 1) & mask) {
    home = (uint32_t) lru_at(t, t->index[j])->hash & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      t->index[i] = t->index[j];
      i = j;
    }
  }
  t->index[i] = NIL;
}

static uint32_t lru_find(const lru *t, uint64_t hash) {
  uint32_t mask, i;

  if (!t->cap)
    return NIL;
  mask = index_mask(t);
  for (i = (uint32_t) hash & mask; t->index[i] != NIL; i = (i + 1) & mask)
    if (lru_at(t, t->index[i])->hash == hash)
      return t->index[i];
  return NIL;
}

static void lru_unlink(lru *t, uint32_t slot) {
  lru_node *n = lru_at(t, slot);

  if (n->prev != NIL)
    lru_at(t, n->prev)->next = n->next;
  else
    t->head = n->next;
  if (n->next != NIL)
    lru_at(t, n->next)->prev = n->prev;
  else
    t->tail = n->prev;
}

static void lru_push_front(lru *t, uint32_t slot) {
  lru_node *n = lru_at(t, slot);

  n->prev = NIL;
  n->next = t->head;
  if (t->head != NIL)
    lru_at(t, t->head)->prev = slot;
  t->head = slot;
  if (t->tail == NIL)
    t->tail = slot;
}

/* The record for hash, now the most recently used; NIL if none. */
static uint32_t lru_get(lru *t, uint64_t hash) {
  uint32_t slot = lru_find(t, hash);

  if (slot != NIL && slot != t->head) {
    lru_unlink(t, slot);
    lru_push_front(t, slot);
  }
  return slot;
}

/* Doubles the array (the first time: FIRST_CAP records) and rebuilds the
 * index for it. On failure the table is as it was. */
static int lru_grow(lru *t) {
  uint32_t cap = t->cap ? 2 * t->cap : FIRST_CAP, slot;
  uint32_t *index = malloc(2 * (size_t) cap * sizeof(*index));
  unsigned char *recs;

  if (!index)
    return SB_ENOMEM;
  recs = realloc(t->recs, (size_t) cap * t->size);
  if (!recs) {
    free(index);
    return SB_ENOMEM;
  }
  memset(index, 0xff, 2 * (size_t) cap * sizeof(*index));  /* NIL */
  free(t->index);
  t->recs = recs;
  t->index = index;
  for (slot = cap; slot-- > t->cap;) {
    lru_at(t, slot)->next = t->free;
    t->free = slot;
  }
  t->cap = cap;
  for (slot = t->head; slot != NIL; slot = lru_at(t, slot)->next)
    index_put(t, slot);
  return 0;
}

/* Adds a record for hash (not in t, and t not full) as the most recently
 * used; its fields past the node are the caller's to set. Returns its
 * slot, NIL on ENOMEM. Records may move: pointers into t are stale. */
static uint32_t lru_add(lru *t, uint64_t hash) {
  uint32_t slot;

  if (t->free == NIL && (t->cap >= TABLE_MAX || lru_grow(t)))
    return NIL;
  slot = t->free;
  t->free = lru_at(t, slot)->next;
  memset(lru_at(t, slot), 0, t->size);
  lru_at(t, slot)->hash = hash;
  index_put(t, slot);
  lru_push_front(t, slot);
  t->n++;
  return slot;
}

/* The last record gone, the arrays go too: a quiet controller keeps no
 * table sized for its busiest minute. */
static void lru_remove(lru *t, uint32_t slot) {
  index_del(t, slot);
  lru_unlink(t, slot);
  lru_at(t, slot)->next = t->free;
  t->free = slot;
  if (--t->n == 0)
    lru_free(t);
}

/* ---- entries ------------------------------------------------------------- */

static entry *entry_at(const sb_recorder *r, uint32_t slot) {
  return (entry *) lru_at(&r->events, slot);
}

static spam *spam_at(const sb_recorder *r, uint32_t slot) {
  return (spam *) lru_at(&r->buckets, slot);
}

static const char *part(const pending *p, int i) {
  const char *s = p->str;

  while (i-- > 0)
    s += strlen(s) + 1;
  return s;
}

/* The namespace an Event lives in. */
static const char *event_ns(const char *ns) {
  return *ns ? ns : "default";
}

/* A pending for an Event with these parts, on no list yet. */
static pending *pending_new(sb_recorder *r, const char *const pt[NPARTS],
                            uint32_t slot, uint64_t suffix, int64_t last_s) {
  size_t len[NPARTS], size = sizeof(pending), off = 0;
  pending *p;
  int i;

  for (i = 0; i < NPARTS; i++) {
    len[i] = strlen(pt[i]) + 1;
    size += len[i];
  }
  p = malloc(size);
  if (!p)
    return NULL;
  memset(p, 0, sizeof(*p));
  for (i = 0; i < NPARTS; i++) {
    memcpy(p->str + off, pt[i], len[i]);
    off += len[i];
  }
  p->r = r;
  p->size = size;
  p->slot = slot;
  p->suffix = suffix;
  p->last_s = last_s;
  r->pending_bytes += size;
  return p;
}

/* Frees p, which is on no list; its entry (if any) lets go of it. */
static void pending_free(sb_recorder *r, pending *p) {
  if (p->slot != NIL)
    entry_at(r, p->slot)->out = NULL;
  r->pending_bytes -= p->size;
  free(p);
}

/* Takes an entry out of the table. Its pending, if it has one, stays on
 * its list as an orphan. */
static void entry_drop(sb_recorder *r, uint32_t slot) {
  entry *e = entry_at(r, slot);

  if (e->out)
    e->out->slot = NIL;
  lru_remove(&r->events, slot);
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
static void event_name(const pending *p, char out[MAX_NAME + 1]) {
  const char *objname = part(p, P_NAME);
  size_t keep = strlen(objname);

  if (keep > MAX_NAME - 17)
    keep = MAX_NAME - 17;
  snprintf(out, MAX_NAME + 1, "%.*s.%016llx", (int) keep, objname,
           (unsigned long long) p->suffix);
}

static void put_str(cJSON *o, const char *k, const char *v, int *ok) {
  if (*ok && !cJSON_AddStringToObject(o, k, v))
    *ok = 0;
}

/* The whole Event of e as it goes out now; NULL on ENOMEM. */
static cJSON *build_event(const sb_recorder *r, const entry *e,
                          const pending *p) {
  cJSON *ev = cJSON_CreateObject(), *m, *io, *src;
  const char *ns = part(p, P_NS), *uid = part(p, P_UID);
  const char *av = part(p, P_API_VERSION);
  char name[MAX_NAME + 1], first[32], last[32];
  int ok = ev != NULL;

  event_name(p, name);
  rfc3339(e->first_s, first);
  rfc3339(p->last_s, last);
  put_str(ev, "apiVersion", "v1", &ok);
  put_str(ev, "kind", "Event", &ok);
  m = ok ? cJSON_AddObjectToObject(ev, "metadata") : NULL;
  ok = ok && m;
  put_str(m, "name", name, &ok);
  put_str(m, "namespace", event_ns(ns), &ok);
  io = ok ? cJSON_AddObjectToObject(ev, "involvedObject") : NULL;
  ok = ok && io;
  if (*av)
    put_str(io, "apiVersion", av, &ok);
  put_str(io, "kind", part(p, P_KIND), &ok);
  if (*ns)
    put_str(io, "namespace", ns, &ok);
  put_str(io, "name", part(p, P_NAME), &ok);
  if (*uid)
    put_str(io, "uid", uid, &ok);
  put_str(ev, "reason", part(p, P_REASON), &ok);
  put_str(ev, "message", part(p, P_MESSAGE), &ok);
  put_str(ev, "type", part(p, P_TYPE), &ok);
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

static void log_event(const char *const pt[NPARTS], unsigned long count,
                      const char *msg, int level) {
  sb_log(level, msg, "kind=%s namespace=%s name=%s type=%s reason=%s "
         "count=%lu message=%s", pt[P_KIND], event_ns(pt[P_NS]),
         pt[P_NAME], pt[P_TYPE], pt[P_REASON], count, pt[P_MESSAGE]);
}

static void enqueue(sb_recorder *r, pending *p) {
  p->queued_ms = uv_now(r->loop);
  p->next = NULL;
  if (r->qtail)
    r->qtail->next = p;
  else
    r->qhead = p;
  r->qtail = p;
  r->queued++;
}

static pending *dequeue(sb_recorder *r) {
  pending *p = r->qhead;

  r->qhead = p->next;
  if (!r->qhead)
    r->qtail = NULL;
  p->next = NULL;
  r->queued--;
  return p;
}

/* Off the list of writes out (MAX_SENDING long at most). */
static void out_remove(sb_recorder *r, pending *p) {
  pending **pp = &r->out;

  while (*pp != p)
    pp = &(*pp)->next;
  *pp = p->next;
  p->next = NULL;
}

static void on_written(void *arg, sb_kube_result *res) {
  pending *p = arg;
  sb_recorder *r = p->r;
  uint32_t slot = p->slot;
  char name[MAX_NAME + 1];
  entry *e;

  p->call = NULL;
  out_remove(r, p);
  r->inflight--;
  if (res->err == SB_ECANCELED || r->closing) {
    pending_free(r, p);
    maybe_closed(r);
    return;
  }
  if (res->err) {
    r->failed++;
    event_name(p, name);
    sb_log(SB_LOG_WARN, "cannot write event", "namespace=%s event=%s "
           "err=%s message=%s", event_ns(part(p, P_NS)), name,
           sb_err_name(res->err), res->message);
    /* Forgotten, not retried: the next occurrence starts afresh. */
    pending_free(r, p);
    if (slot != NIL)
      entry_drop(r, slot);
    pump(r);
    return;
  }
  r->written++;
  if (slot != NIL) {
    e = entry_at(r, slot);
    e->created = 1;
    if (e->count > p->sending) {  /* repeats came in while this was out */
      enqueue(r, p);
      pump(r);
      return;
    }
  }
  /* Written and nothing left to send: the entry lets go of the strings
   * until a repeat brings them again. */
  pending_free(r, p);
  pump(r);
}

/* Starts the write of p's Event (a POST until one has succeeded, then
 * apply). p is off the queue and no orphan. */
static void send_pending(sb_recorder *r, pending *p) {
  const entry *e = entry_at(r, p->slot);
  sb_kube_target t;
  char name[MAX_NAME + 1];
  cJSON *body = build_event(r, e, p);
  uint32_t slot = p->slot;
  int rc = SB_ENOMEM;

  event_name(p, name);
  if (body) {
    memset(&t, 0, sizeof(t));
    t.gvr.version = "v1";
    t.gvr.resource = "events";
    t.ns = event_ns(part(p, P_NS));
    t.name = name;
    p->sending = e->count;
    /* The client serialises the body at once: it can go right after. */
    if (!e->created)
      rc = sb_kube_create(r->k, &t, body, SB_KUBE_UNPACED, on_written, p,
                          &p->call);
    else
      rc = sb_kube_apply(r->k, &t, body, SB_KUBE_UNPACED, on_written, p,
                         &p->call);
    cJSON_Delete(body);
  }
  if (!rc) {
    p->next = r->out;
    r->out = p;
    r->inflight++;
    r->started = 1;
    r->last_start_ms = uv_now(r->loop);
    return;
  }
  r->failed++;
  sb_log(SB_LOG_WARN, "cannot write event", "namespace=%s event=%s err=%s",
         event_ns(part(p, P_NS)), name, sb_err_name(rc));
  pending_free(r, p);
  entry_drop(r, slot);
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

  while (!r->closing && r->qhead && r->inflight < MAX_SENDING) {
    if (r->qhead->slot == NIL) {
      pending_free(r, dequeue(r));
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
    send_pending(r, dequeue(r));
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

/* Forgets what can no longer matter: Events last seen a window ago (a
 * repeat would start a new Event anyway) and buckets that are full
 * again (a fresh one is the same). Both tables are walked from their
 * least recently used end and stop at the first entry still of use. */
static void sweep(sb_recorder *r, uint64_t now) {
  uint32_t slot;

  while ((slot = r->events.tail) != NIL &&
         now - entry_at(r, slot)->last_ms >= r->window_ms &&
         !entry_at(r, slot)->out)
    entry_drop(r, slot);
  while ((slot = r->buckets.tail) != NIL &&
         spam_at(r, slot)->full_ms <= now)
    lru_remove(&r->buckets, slot);
}

static void on_sweep(uv_timer_t *t) {
  sb_recorder *r = t->data;
  uint64_t now = uv_now(r->loop);

  sweep(r, now);
  arm_sweep(r, now);
}

/* Wakes up when the oldest entry of either table can go. */
static void arm_sweep(sb_recorder *r, uint64_t now) {
  uint64_t due = UINT64_MAX, d;

  if (r->closing)
    return;
  if (r->events.tail != NIL) {
    d = entry_at(r, r->events.tail)->last_ms + r->window_ms;
    due = d > now ? d - now : 0;
  }
  if (r->buckets.tail != NIL) {
    d = spam_at(r, r->buckets.tail)->full_ms;
    d = d > now ? d - now : 0;
    if (d < due)
      due = d;
  }
  if (due == UINT64_MAX) {
    uv_timer_stop(&r->sweep_timer);
    return;
  }
  if (due < MIN_SWEEP_MS)
    due = MIN_SWEEP_MS;
  uv_timer_start(&r->sweep_timer, on_sweep, due, 0);
}

/* ---- public -------------------------------------------------------------- */

/* Takes one token from the bucket of the object with this hash: 0 when
 * the Event may go, 1 when it may not. */
static int spam_check(sb_recorder *r, uint64_t objhash, uint64_t now) {
  uint32_t slot = lru_get(&r->buckets, objhash);

  if (slot == NIL) {
    if (r->buckets.n >= TABLE_MAX)
      lru_remove(&r->buckets, r->buckets.tail);
    slot = lru_add(&r->buckets, objhash);  /* full: full_ms 0 */
    if (slot == NIL)
      return SB_ENOMEM;
  }
  return sb_gcra_take(&spam_at(r, slot)->full_ms, SPAM_EVERY_MS, SPAM_BURST,
                      now) ? 1 : 0;
}

static int record(sb_recorder *r, const sb_objref *obj, sb_event_type type,
                  const char *reason, char *message) {
  uint64_t now = uv_now(r->loop), wall_ns, h = SB_HASH_INIT, objhash;
  const char *pt[NPARTS];
  pending *p = NULL;
  int64_t wall_s;
  uint32_t slot;
  entry *e;
  int i, rc;

  truncate_utf8(message, MAX_MESSAGE);
  sweep(r, now);
  pt[P_KIND] = obj->kind;
  pt[P_NS] = obj->ns ? obj->ns : "";
  pt[P_NAME] = obj->name;
  pt[P_UID] = obj->uid ? obj->uid : "";
  pt[P_TYPE] = type == SB_EVENT_WARNING ? "Warning" : "Normal";
  pt[P_REASON] = reason;
  pt[P_MESSAGE] = message;
  pt[P_API_VERSION] = obj->api_version ? obj->api_version : "";
  /* Each part with its NUL, so that no two lists of parts run together
   * into the same bytes; the Event's hash goes on from the object's. */
  for (i = P_KIND; i <= P_UID; i++)
    h = sb_hash_add(h, pt[i], strlen(pt[i]) + 1);
  objhash = sb_hash_final(h);
  for (; i <= P_MESSAGE; i++)
    h = sb_hash_add(h, pt[i], strlen(pt[i]) + 1);
  h = sb_hash_final(h);

  rc = spam_check(r, objhash, now);
  if (rc == 1) {
    r->dropped++;
    sb_log(SB_LOG_DEBUG, "event dropped by the per-object rate limit",
           "kind=%s namespace=%s name=%s reason=%s", obj->kind,
           event_ns(pt[P_NS]), obj->name, reason);
    return 0;
  }
  if (rc)
    return rc;
  wall_now(&wall_s, &wall_ns);
  slot = lru_get(&r->events, h);
  if (slot != NIL && now - entry_at(r, slot)->last_ms < r->window_ms) {
    e = entry_at(r, slot);
    if (!r->dry_run && !e->out) {
      /* Its last write is done and the strings went with it: this
       * occurrence brought them again. */
      p = pending_new(r, pt, slot, e->suffix, wall_s);
      if (!p)
        return SB_ENOMEM;
      e->out = p;
      enqueue(r, p);
    }
    if (e->count < UINT32_MAX)
      e->count++;
    e->last_ms = now;
    if (e->out)
      e->out->last_s = wall_s;
    if (r->dry_run)
      log_event(pt, e->count, "event (dry run)", SB_LOG_INFO);
    goto done;
  }
  if (slot != NIL)
    entry_drop(r, slot);  /* outside the window: a new Event */
  if (!r->dry_run && r->queued >= MAX_QUEUED) {
    r->dropped++;
    sb_log(SB_LOG_DEBUG, "event dropped: too many Events waiting",
           "kind=%s namespace=%s name=%s reason=%s", obj->kind,
           event_ns(pt[P_NS]), obj->name, reason);
    return 0;
  }
  if (!r->dry_run && !(p = pending_new(r, pt, NIL, 0, wall_s)))
    return SB_ENOMEM;
  if (r->events.n >= TABLE_MAX)
    entry_drop(r, r->events.tail);
  slot = lru_add(&r->events, h);
  if (slot == NIL) {
    if (p)
      pending_free(r, p);
    return SB_ENOMEM;
  }
  e = entry_at(r, slot);
  e->count = 1;
  e->last_ms = now;
  e->first_s = wall_s;
  /* Like client-go's names (the time in ns), bumped so that two Events
   * never share one. */
  e->suffix = wall_ns > r->last_suffix ? wall_ns : r->last_suffix + 1;
  r->last_suffix = e->suffix;
  if (r->dry_run) {
    log_event(pt, e->count, "event (dry run)", SB_LOG_INFO);
  } else {
    p->slot = slot;
    p->suffix = e->suffix;
    e->out = p;
    enqueue(r, p);
  }
done:
  pump(r);
  arm_sweep(r, now);
  return 0;
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

size_t sb_recorder_bytes(const sb_recorder *r) {
  return sizeof(*r) + strlen(r->component) + 1 +
         (r->host ? strlen(r->host) + 1 : 0) + lru_bytes(&r->events) +
         lru_bytes(&r->buckets) + r->pending_bytes;
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
  if (!r->component || (o && o->host && !r->host)) {
    free(r->component);
    free(r->host);
    free(r);
    return SB_ENOMEM;
  }
  lru_init(&r->events, sizeof(entry));
  lru_init(&r->buckets, sizeof(spam));
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

  if (!r->closing || --r->to_close > 0)
    return;
  /* Every write out has completed (and freed its pending). */
  while (r->qhead)
    pending_free(r, dequeue(r));
  lru_free(&r->events);
  lru_free(&r->buckets);
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
  pending *p;

  if (r->closing)
    return;
  r->closing = 1;
  r->close_cb = cb;
  r->close_arg = arg;
  /* The two handles, and every write still out (their callbacks run
   * from the loop, never from sb_kube_cancel). */
  r->to_close = 2 + (int) r->inflight;
  for (p = r->out; p; p = p->next)
    sb_kube_cancel(p->call);
  uv_close((uv_handle_t *) &r->pace_timer, timer_closed);
  uv_close((uv_handle_t *) &r->sweep_timer, timer_closed);
}
