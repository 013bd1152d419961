/* queue.h -- the controller's work queue: de-duplicated, delayed and
 * rate-limited keys, handed to a process callback on the event loop.
 *
 * The semantics are client-go's workqueue, which controller-runtime and
 * every Go controller build on:
 *
 *   - Items are string keys ("TrafficSplit/shop/web"); the queue copies
 *     them. A key waits at most once: adding a key that is already waiting
 *     does nothing (events are debounced, reconcile is level-triggered).
 *   - A key handed to the process callback is "processing" until the
 *     consumer calls sb_queue_done(). Adding it meanwhile marks it dirty:
 *     it is queued again when done -- never processed twice at once, never
 *     lost.
 *   - sb_queue_add_after() delays an add (a sooner delay for a key already
 *     delayed wins); sb_queue_add_rate_limited() delays by the larger of a
 *     per-key exponential backoff (5 ms doubling to 1000 s, reset by
 *     sb_queue_forget) and an overall token bucket (10 qps, burst 100) --
 *     client-go's DefaultControllerRateLimiter.
 *
 * Consumption: whenever a key is waiting, the queue is not paused and
 * fewer than `concurrency` keys are processing, the queue calls
 * process(q, key) from its own idle handle -- never from inside an add
 * or done -- so a consumer may add and call done from anywhere, including
 * inside process. The consumer calls sb_queue_done(q, key) when finished,
 * synchronously or later (a reconcile that waits for HTTP).
 *
 * The handles are only active while there is something to do, so an idle
 * queue does not keep uv_run() alive.
 *
 * Metrics (when a registry is given), with labels name and controller
 * both set to the queue's name, as controller-runtime exposes them:
 * workqueue_depth, workqueue_adds_total, workqueue_retries_total,
 * workqueue_queue_duration_seconds, workqueue_work_duration_seconds,
 * workqueue_unfinished_work_seconds and
 * workqueue_longest_running_processor_seconds.
 */
#ifndef SB_QUEUE_H
#define SB_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sb/metrics.h"

typedef struct sb_queue sb_queue;

/* Zero means "the default" for every field, so {0} is client-go's
 * defaults with one worker. */
typedef struct sb_queue_opts {
  const char *name;        /* metrics label; default "queue"; copied */
  unsigned concurrency;    /* keys processed at once; default 1 */
  sb_metrics *metrics;     /* NULL: no metrics; must outlive the queue */
  uint64_t base_delay_ms;  /* first backoff; default 5 */
  uint64_t max_delay_ms;   /* backoff cap; default 1000000 (1000 s) */
  double jitter;           /* backoff jitter fraction; default 0 */
  double qps;              /* overall rate of retries; default 10, < 0 off */
  int burst;               /* default 100 */
  int start_paused;        /* non-zero: nothing is processed before resume */
} sb_queue_opts;

/* `key` is borrowed until sb_queue_done(q, key) returns. */
typedef void (*sb_queue_process_cb)(sb_queue *q, const char *key,
                                    void *data);
typedef void (*sb_queue_close_cb)(void *data);

/* Creates a queue on `loop`; opts may be NULL. 0, SB_EINVAL (process NULL),
 * SB_ENOMEM; *out is set on success only. */
int sb_queue_new(uv_loop_t *loop, const sb_queue_opts *opts,
                 sb_queue_process_cb process, void *data, sb_queue **out);

/* Adds return 0, SB_EINVAL (NULL or empty key), SB_ENOMEM, or SB_ECLOSING
 * once sb_queue_close has been called. */
int sb_queue_add(sb_queue *q, const char *key);
/* delay 0 is sb_queue_add. */
int sb_queue_add_after(sb_queue *q, const char *key, uint64_t delay_ms);
/* Counts a failure of `key` and adds it after the rate limiter's delay. */
int sb_queue_add_rate_limited(sb_queue *q, const char *key);
/* Resets the failure count of `key` (call after a successful reconcile). */
void sb_queue_forget(sb_queue *q, const char *key);
/* Failures counted for `key` since the last forget. */
unsigned sb_queue_num_requeues(const sb_queue *q, const char *key);

/* Ends the processing of `key`; a dirty key is queued again. 0, or
 * SB_ENOTFOUND when `key` is not being processed. */
int sb_queue_done(sb_queue *q, const char *key);

/* Paused: keys are still accepted (and delays run) but none is handed to
 * process; keys being processed are unaffected. */
void sb_queue_pause(sb_queue *q);
void sb_queue_resume(sb_queue *q);

/* Keys waiting to be processed (workqueue_depth: includes dirty keys that
 * are being processed); keys being processed; delayed adds pending. */
size_t sb_queue_len(const sb_queue *q);
size_t sb_queue_in_flight(const sb_queue *q);
size_t sb_queue_delayed(const sb_queue *q);

/* Shuts the queue down: waiting and delayed keys are dropped, adds fail
 * with SB_ECLOSING, nothing more is handed to process. Once every key
 * being processed has been done (done keeps working after close), the
 * handles are closed, the queue is freed and cb(data) runs (cb may be
 * NULL). A second call is ignored. */
void sb_queue_close(sb_queue *q, sb_queue_close_cb cb, void *data);

#endif
