/* queue-core.c -- the work queue's state machine, without an event loop.
 *
 * Every key the queue knows has one item, found through a hash map and
 * holding the key's bytes. Its flags say where it is:
 *
 *   DIRTY       needs processing (client-go's "dirty" set)
 *   QUEUED      in the FIFO, ready to pop; implies DIRTY and not PROCESSING
 *   PROCESSING  popped, not yet done; on the processing list
 *   DELAYED     in the heap of delayed adds
 *
 * DIRTY and PROCESSING together is a key added while it was processing:
 * done() moves it to the FIFO's tail. An item also stays while it has a
 * failure count, because the backoff must remember it until forget().
 * Otherwise an item with no flag left is freed at once.
 *
 * The FIFO and the processing list share the item's links, since a key is
 * never on both. Delayed adds live in a binary min-heap ordered by due
 * time, then by insertion sequence so equal delays keep their order; each
 * item knows its heap slot, which makes "a sooner delay wins" an
 * O(log n) sift-up.
 *
 * Metric updates mirror client-go's: adds and depth count keys that become
 * dirty, queue duration runs from that moment to the pop, work duration
 * from the pop to done, retries count every delayed add.
 */
#include "queue-int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sb/err.h"

enum {
  F_DIRTY = 1,
  F_QUEUED = 2,
  F_PROCESSING = 4,
  F_DELAYED = 8
};

struct sb__wq_item {
  sb__wq_item *prev;
  sb__wq_item *next;
  uint64_t dirty_ns;      /* when it last became dirty */
  uint64_t started_ns;    /* when it was popped */
  uint64_t due_ns;        /* DELAYED: when to add it */
  uint64_t seq;           /* DELAYED: tie-break between equal due times */
  size_t heap_index;      /* DELAYED: slot in q->heap */
  unsigned failures;
  unsigned flags;
  size_t klen;
  char key[];
};

/* ---- small helpers ----------------------------------------------------- */

static uint64_t now_ns(const sb__wq *q) {
  return q->clock(q->clock_data);
}

static double xorshift_rand(void *data) {
  /* The default jitter source: xorshift64*, good enough for spreading
   * retries, state kept in the queue (data is the queue). */
  sb__wq *q = data;
  uint64_t x = q->rand_state;

  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  q->rand_state = x;
  return (double) ((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static double next_rand(sb__wq *q) {
  if (q->rand)
    return q->rand(q->clock_data);
  return xorshift_rand(q);
}

static void list_push(sb__wq_list *l, sb__wq_item *it) {
  it->next = NULL;
  it->prev = l->tail;
  if (l->tail)
    l->tail->next = it;
  else
    l->head = it;
  l->tail = it;
  l->len++;
}

static void list_remove(sb__wq_list *l, sb__wq_item *it) {
  if (it->prev)
    it->prev->next = it->next;
  else
    l->head = it->next;
  if (it->next)
    it->next->prev = it->prev;
  else
    l->tail = it->prev;
  it->prev = it->next = NULL;
  l->len--;
}

static double seconds_between(uint64_t from_ns, uint64_t to_ns) {
  return to_ns > from_ns ? (double) (to_ns - from_ns) / 1e9 : 0.0;
}

/* ---- the heap of delayed adds ------------------------------------------ */

static int heap_less(const sb__wq_item *a, const sb__wq_item *b) {
  if (a->due_ns != b->due_ns)
    return a->due_ns < b->due_ns;
  return a->seq < b->seq;
}

static void heap_set(sb__wq *q, size_t i, sb__wq_item *it) {
  q->heap[i] = it;
  it->heap_index = i;
}

static void heap_up(sb__wq *q, size_t i) {
  sb__wq_item *it = q->heap[i];

  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!heap_less(it, q->heap[parent]))
      break;
    heap_set(q, i, q->heap[parent]);
    i = parent;
  }
  heap_set(q, i, it);
}

static void heap_down(sb__wq *q, size_t i) {
  sb__wq_item *it = q->heap[i];

  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    const sb__wq_item *best = it;
    if (l < q->nheap && heap_less(q->heap[l], best)) {
      m = l;
      best = q->heap[l];
    }
    if (r < q->nheap && heap_less(q->heap[r], best))
      m = r;
    if (m == i)
      break;
    heap_set(q, i, q->heap[m]);
    i = m;
  }
  heap_set(q, i, it);
}

static int heap_push(sb__wq *q, sb__wq_item *it) {
  if (q->nheap == q->heap_cap) {
    size_t cap = q->heap_cap ? q->heap_cap * 2 : 16;
    sb__wq_item **p = realloc(q->heap, cap * sizeof(*p));
    if (!p)
      return SB_ENOMEM;
    q->heap = p;
    q->heap_cap = cap;
  }
  heap_set(q, q->nheap++, it);
  heap_up(q, q->nheap - 1);
  return 0;
}

static void heap_remove(sb__wq *q, sb__wq_item *it) {
  size_t i = it->heap_index;
  sb__wq_item *last = q->heap[--q->nheap];

  if (last == it)
    return;
  heap_set(q, i, last);
  if (i > 0 && heap_less(last, q->heap[(i - 1) / 2]))
    heap_up(q, i);
  else
    heap_down(q, i);
}

/* ---- items ------------------------------------------------------------- */

static sb__wq_item *item_get(const sb__wq *q, const char *key) {
  return sb_hmap_get(q->items, key, strlen(key));
}

static int item_make(sb__wq *q, const char *key, sb__wq_item **out) {
  size_t klen = strlen(key);
  sb__wq_item *it = sb_hmap_get(q->items, key, klen);

  if (!it) {
    it = calloc(1, sizeof(*it) + klen + 1);
    if (!it)
      return SB_ENOMEM;
    memcpy(it->key, key, klen);
    it->klen = klen;
    if (sb_hmap_put(q->items, it->key, klen, it, NULL) != 0) {
      free(it);
      return SB_ENOMEM;
    }
  }
  *out = it;
  return 0;
}

/* Frees an item nothing refers to any more. */
static void item_release(sb__wq *q, sb__wq_item *it) {
  if (it->flags || it->failures)
    return;
  sb_hmap_del(q->items, it->key, it->klen);
  free(it);
  /* A burst of 10,000 keys grew the table to 16,384 slots (384 KiB); as
   * it drains they are given back (each time the keys halve, so the
   * rehashing costs O(1) per key). A few keys in backoff stay, so waiting
   * for an empty queue would not do. */
  sb_hmap_shrink(q->items);
}

/* client-go's Add for an item that exists. */
static void make_dirty(sb__wq *q, sb__wq_item *it) {
  if (it->flags & F_DIRTY)
    return;
  it->flags |= F_DIRTY;
  it->dirty_ns = now_ns(q);
  q->dirty++;
  sb_series_inc(q->m_adds);
  sb_series_inc(q->m_depth);
  if (it->flags & F_PROCESSING)
    return;
  it->flags |= F_QUEUED;
  list_push(&q->queue, it);
}

/* ---- metrics ----------------------------------------------------------- */

static void collect(sb_metrics *m, void *data) {
  sb__wq *q = data;
  uint64_t now = now_ns(q);
  double total = 0;
  sb__wq_item *it;

  (void) m;
  for (it = q->processing.head; it; it = it->next)
    total += seconds_between(it->started_ns, now);
  sb_series_set(q->m_unfinished, total);
  /* The processing list is in pop order: its head runs longest. */
  sb_series_set(q->m_longest, q->processing.head
      ? seconds_between(q->processing.head->started_ns, now) : 0.0);
}

static int register_metrics(sb__wq *q, sb_metrics *m, const char *name) {
  static const char *const labels[] = {"name", "controller", NULL};
  const char *const values[] = {name, name, NULL};
  const double *wq;
  sb_metric *f;
  size_t nb;
  int rc;

  wq = sb_metrics_buckets(SB_BUCKETS_WORKQUEUE, &nb);
#define SERIES(field, call)                                                  \
  do {                                                                       \
    if ((rc = (call)) != 0 || (rc = sb_metric_series(f, values, &field)))    \
      return rc;                                                             \
  } while (0)
  SERIES(q->m_depth, sb_metrics_gauge(m, "workqueue_depth",
      "Current depth of workqueue", labels, &f));
  SERIES(q->m_adds, sb_metrics_counter(m, "workqueue_adds_total",
      "Total number of adds handled by workqueue", labels, &f));
  SERIES(q->m_retries, sb_metrics_counter(m, "workqueue_retries_total",
      "Total number of retries handled by workqueue", labels, &f));
  SERIES(q->m_queue_dur, sb_metrics_histogram(m,
      "workqueue_queue_duration_seconds",
      "How long in seconds an item stays in workqueue before being "
      "requested", labels, wq, nb, &f));
  SERIES(q->m_work_dur, sb_metrics_histogram(m,
      "workqueue_work_duration_seconds",
      "How long in seconds processing an item from workqueue takes.",
      labels, wq, nb, &f));
  SERIES(q->m_unfinished, sb_metrics_gauge(m,
      "workqueue_unfinished_work_seconds",
      "How many seconds of work has been done that is in progress and "
      "hasn't been observed by work_duration. Large values indicate stuck "
      "threads. One can deduce the number of stuck threads by observing "
      "the rate at which this increases.", labels, &f));
  SERIES(q->m_longest, sb_metrics_gauge(m,
      "workqueue_longest_running_processor_seconds",
      "How many seconds has the longest running processor for workqueue "
      "been running.", labels, &f));
#undef SERIES
  rc = sb_metrics_on_collect(m, collect, q);
  if (rc == 0)
    q->metrics = m;
  return rc;
}

/* ---- the queue --------------------------------------------------------- */

int sb__wq_init(sb__wq *q, const sb__wq_opts *opts) {
  int rc;

  memset(q, 0, sizeof(*q));
  if (!opts || !opts->clock)
    return SB_EINVAL;
  q->clock = opts->clock;
  q->rand = opts->rand;
  q->clock_data = opts->clock_data;
  q->rand_state = now_ns(q) | 1;
  q->backoff.base_ms = opts->base_delay_ms;
  q->backoff.max_ms = opts->max_delay_ms;
  q->backoff.jitter = opts->jitter;
  if (opts->qps > 0) {
    sb_bucket_init(&q->bucket, opts->qps, opts->burst, now_ns(q) / 1000000);
    q->use_bucket = 1;
  }
  q->items = sb_hmap_new(0);
  if (!q->items)
    return SB_ENOMEM;
  if (opts->metrics) {
    rc = register_metrics(q, opts->metrics,
                          opts->name ? opts->name : "queue");
    if (rc) {
      sb_hmap_free(q->items);
      q->items = NULL;
      return rc;
    }
  }
  return 0;
}

void sb__wq_free(sb__wq *q) {
  sb_hmap_iter iter = {0};
  void *val;

  if (q->metrics) {
    /* The series outlive the queue in the registry: leave them at rest. */
    sb_metrics_off_collect(q->metrics, collect, q);
    sb_series_set(q->m_unfinished, 0);
    sb_series_set(q->m_longest, 0);
    sb_series_set(q->m_depth, 0);
  }
  if (q->items) {
    while (sb_hmap_next(q->items, &iter, NULL, NULL, &val))
      free(val);
    sb_hmap_free(q->items);
  }
  free(q->heap);
  memset(q, 0, sizeof(*q));
}

static int check_key(const sb__wq *q, const char *key) {
  if (!key || !*key)
    return SB_EINVAL;
  if (q->shutting_down)
    return SB_ECLOSING;
  return 0;
}

int sb__wq_add(sb__wq *q, const char *key) {
  sb__wq_item *it;
  int rc = check_key(q, key);

  if (rc == 0)
    rc = item_make(q, key, &it);
  if (rc == 0)
    make_dirty(q, it);
  return rc;
}

int sb__wq_add_after(sb__wq *q, const char *key, uint64_t delay_ms) {
  sb__wq_item *it;
  uint64_t due;
  int rc = check_key(q, key);

  if (rc)
    return rc;
  sb_series_inc(q->m_retries);
  if (delay_ms == 0)
    return sb__wq_add(q, key);
  rc = item_make(q, key, &it);
  if (rc)
    return rc;
  /* Clamp so the nanosecond arithmetic cannot wrap: 1e12 ms is 31
   * years, "never" for a controller. */
  if (delay_ms > 1000000000000ULL)
    delay_ms = 1000000000000ULL;
  due = now_ns(q) + delay_ms * 1000000;
  if (it->flags & F_DELAYED) {
    /* Already delayed: the sooner time wins. */
    if (due < it->due_ns) {
      it->due_ns = due;
      heap_up(q, it->heap_index);
    }
    return 0;
  }
  it->due_ns = due;
  it->seq = q->seq++;
  rc = heap_push(q, it);
  if (rc) {
    item_release(q, it);
    return rc;
  }
  it->flags |= F_DELAYED;
  return 0;
}

int sb__wq_when(sb__wq *q, const char *key, uint64_t *delay_ms) {
  sb__wq_item *it;
  uint64_t backoff, wait = 0;
  int rc = check_key(q, key);

  if (rc == 0)
    rc = item_make(q, key, &it);
  if (rc)
    return rc;
  backoff = sb_backoff_delay(&q->backoff, it->failures, next_rand(q));
  if (it->failures < UINT_MAX)
    it->failures++;
  if (q->use_bucket) {
    wait = sb_bucket_take(&q->bucket, now_ns(q) / 1000000);
    /* sb_bucket_take only says how long until a token is there. Like
     * rate.Limiter.Reserve, take that future token now (the bucket goes
     * negative), so a burst of failures is spread out at qps instead of
     * all retrying at the same moment. */
    if (wait > 0)
      q->bucket.tokens -= 1.0;
  }
  *delay_ms = backoff > wait ? backoff : wait;
  return 0;
}

int sb__wq_add_rate_limited(sb__wq *q, const char *key) {
  uint64_t delay;
  int rc = sb__wq_when(q, key, &delay);

  return rc ? rc : sb__wq_add_after(q, key, delay);
}

void sb__wq_forget(sb__wq *q, const char *key) {
  sb__wq_item *it = key ? item_get(q, key) : NULL;

  if (!it)
    return;
  it->failures = 0;
  item_release(q, it);
}

unsigned sb__wq_num_requeues(const sb__wq *q, const char *key) {
  const sb__wq_item *it = key ? item_get(q, key) : NULL;

  return it ? it->failures : 0;
}

const char *sb__wq_pop(sb__wq *q) {
  sb__wq_item *it = q->queue.head;
  uint64_t now;

  if (!it)
    return NULL;
  now = now_ns(q);
  list_remove(&q->queue, it);
  it->flags &= ~(unsigned) (F_QUEUED | F_DIRTY);
  it->flags |= F_PROCESSING;
  it->started_ns = now;
  list_push(&q->processing, it);
  q->dirty--;
  sb_series_dec(q->m_depth);
  sb_series_observe(q->m_queue_dur, seconds_between(it->dirty_ns, now));
  return it->key;
}

int sb__wq_done(sb__wq *q, const char *key) {
  sb__wq_item *it = key ? item_get(q, key) : NULL;

  if (!it || !(it->flags & F_PROCESSING))
    return SB_ENOTFOUND;
  list_remove(&q->processing, it);
  it->flags &= ~(unsigned) F_PROCESSING;
  sb_series_observe(q->m_work_dur, seconds_between(it->started_ns,
                                                   now_ns(q)));
  if (it->flags & F_DIRTY) {
    it->flags |= F_QUEUED;
    list_push(&q->queue, it);
  }
  item_release(q, it);
  return 0;
}

size_t sb__wq_promote(sb__wq *q) {
  uint64_t now = now_ns(q);
  size_t n = 0;

  while (q->nheap > 0 && q->heap[0]->due_ns <= now) {
    sb__wq_item *it = q->heap[0];
    heap_remove(q, it);
    it->flags &= ~(unsigned) F_DELAYED;
    make_dirty(q, it);
    n++;
  }
  return n;
}

uint64_t sb__wq_next_due(const sb__wq *q) {
  return q->nheap ? q->heap[0]->due_ns : UINT64_MAX;
}

void sb__wq_shutdown(sb__wq *q) {
  sb_hmap_iter iter = {0};
  void *val;

  q->shutting_down = 1;
  q->queue.head = q->queue.tail = NULL;
  q->queue.len = 0;
  q->nheap = 0;
  q->dirty = 0;
  sb_series_set(q->m_depth, 0);
  while (sb_hmap_next(q->items, &iter, NULL, NULL, &val)) {
    sb__wq_item *it = val;
    it->flags &= F_PROCESSING;
    it->failures = 0;
    if (!it->flags) {
      sb_hmap_del(q->items, it->key, it->klen);
      free(it);
    }
  }
}

size_t sb__wq_len(const sb__wq *q) {
  return q->dirty;
}

size_t sb__wq_queued(const sb__wq *q) {
  return q->queue.len;
}

size_t sb__wq_processing(const sb__wq *q) {
  return q->processing.len;
}

size_t sb__wq_delayed(const sb__wq *q) {
  return q->nheap;
}

size_t sb__wq_known(const sb__wq *q) {
  return sb_hmap_count(q->items);
}
