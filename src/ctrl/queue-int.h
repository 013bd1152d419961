/* queue-int.h -- private to the queue module (queue.c, queue-core.c) and
 * its unit test.
 *
 * The work queue is two layers. queue-core.c is the pure state machine:
 * the sets (queued, processing, dirty), delayed adds, the rate limiter
 * and the metrics, with time read from an injected clock and randomness
 * from an injected source -- no libuv, so a test steps it through time
 * exactly. queue.c drives it from the event loop: an idle handle hands
 * keys to the consumer, a timer promotes delayed keys when they are due.
 */
#ifndef SB_QUEUE_INT_H
#define SB_QUEUE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sb/hmap.h"
#include "sb/metrics.h"
#include "sb/ratelimit.h"

/* Monotonic nanoseconds, and a random number in [0, 1). */
typedef uint64_t (*sb__wq_clock_fn)(void *data);
typedef double (*sb__wq_rand_fn)(void *data);

typedef struct sb__wq_item sb__wq_item;

typedef struct sb__wq_list {
  sb__wq_item *head;
  sb__wq_item *tail;
  size_t len;
} sb__wq_list;

typedef struct sb__wq {
  sb_hmap *items;          /* key -> item, every key the queue knows */
  sb__wq_list queue;       /* waiting keys, FIFO */
  sb__wq_list processing;  /* keys handed out, oldest first */
  size_t dirty;            /* keys needing processing (queued or dirty) */
  sb__wq_item **heap;      /* delayed keys, min-heap on (ready, seq) */
  size_t nheap;
  size_t heap_cap;
  uint64_t seq;
  int shutting_down;

  sb_backoff backoff;
  sb_bucket bucket;
  int use_bucket;

  sb__wq_clock_fn clock;
  sb__wq_rand_fn rand;
  void *clock_data;
  uint64_t rand_state;     /* the default source's xorshift state */

  sb_metrics *metrics;
  sb_series *m_depth, *m_adds, *m_retries, *m_queue_dur, *m_work_dur,
      *m_unfinished, *m_longest;
} sb__wq;

typedef struct sb__wq_opts {
  const char *name;        /* metrics label */
  sb_metrics *metrics;     /* NULL: none */
  uint64_t base_delay_ms;
  uint64_t max_delay_ms;
  double jitter;
  double qps;              /* <= 0: no token bucket */
  int burst;
  sb__wq_clock_fn clock;   /* required */
  sb__wq_rand_fn rand;     /* NULL: an internal xorshift seeded by clock */
  void *clock_data;        /* passed to clock and rand */
} sb__wq_opts;

/* 0, SB_EINVAL, SB_ENOMEM (nothing to free then). */
int sb__wq_init(sb__wq *q, const sb__wq_opts *opts);
void sb__wq_free(sb__wq *q);

/* 0, SB_EINVAL, SB_ENOMEM, SB_ECLOSING. */
int sb__wq_add(sb__wq *q, const char *key);
int sb__wq_add_after(sb__wq *q, const char *key, uint64_t delay_ms);
int sb__wq_add_rate_limited(sb__wq *q, const char *key);
/* The delay the rate limiter picks for key's next failure, counting the
 * failure and taking from the bucket (what add_rate_limited uses). */
int sb__wq_when(sb__wq *q, const char *key, uint64_t *delay_ms);
void sb__wq_forget(sb__wq *q, const char *key);
unsigned sb__wq_num_requeues(const sb__wq *q, const char *key);

/* The next waiting key, now processing; NULL when none. The key lives
 * until sb__wq_done for it. */
const char *sb__wq_pop(sb__wq *q);
/* 0 or SB_ENOTFOUND. */
int sb__wq_done(sb__wq *q, const char *key);

/* Moves delayed keys that are due into the queue; returns how many. */
size_t sb__wq_promote(sb__wq *q);
/* Clock time at which the earliest delayed key is due; UINT64_MAX when
 * nothing is delayed. */
uint64_t sb__wq_next_due(const sb__wq *q);

/* Drops waiting and delayed keys and failure counts; adds then fail with
 * SB_ECLOSING. Keys being processed stay until done. */
void sb__wq_shutdown(sb__wq *q);

size_t sb__wq_len(const sb__wq *q);         /* dirty keys: the depth */
size_t sb__wq_queued(const sb__wq *q);      /* ready to pop now */
size_t sb__wq_processing(const sb__wq *q);
size_t sb__wq_delayed(const sb__wq *q);
size_t sb__wq_known(const sb__wq *q);       /* items held (leak checks) */

#endif
