/* queue.c -- the work queue on the event loop. See sb/queue.h.
 *
 * The state machine (queue-core.c) decides what is waiting; this file only
 * decides when to look. Two handles do it:
 *
 *   idle   started whenever a key could be handed out (one is queued, the
 *          queue runs, a worker slot is free); its callback hands out keys
 *          and stops it again once nothing more can go. That is what keeps
 *          process() out of the add/done call stacks, and it costs nothing
 *          while the queue has no work: an idle handle only spins the loop
 *          while it is active.
 *   timer  armed for the earliest delayed add; its callback promotes what
 *          is due and re-arms for the next one.
 *
 * Time is uv_hrtime() for both the core and the timer arithmetic; the
 * timer itself runs on the loop's cached millisecond clock, which can be a
 * little behind, so a timer may fire a hair early. The callback then finds
 * nothing due and simply re-arms for the remainder.
 */
#include "sb/queue.h"

#include <stdlib.h>

#include "queue-int.h"
#include "sb/common.h"
#include "sb/err.h"

/* Keys handed out per idle callback, so a consumer that finishes every key
 * at once and re-adds it cannot keep the loop from polling for I/O. */
#define BATCH 32

struct sb_queue {
  uv_loop_t *loop;
  sb__wq wq;
  uv_idle_t idle;
  uv_timer_t timer;
  uint64_t timer_due;          /* due time the timer is armed for, or 0 */
  sb_queue_process_cb process;
  void *data;
  unsigned concurrency;
  int paused;
  int closing;                 /* sb_queue_close was called */
  int handles_closing;         /* the handles are being closed */
  int open_handles;
  sb_queue_close_cb close_cb;
  void *close_data;
};

static uint64_t hr_clock(void *data) {
  (void) data;
  return uv_hrtime();
}

static void on_idle(uv_idle_t *h);

/* Starts or stops the idle handle to match whether a key can go out. */
static void kick(sb_queue *q) {
  if (q->closing)
    return;
  if (q->paused || sb__wq_queued(&q->wq) == 0 ||
      sb__wq_processing(&q->wq) >= q->concurrency)
    uv_idle_stop(&q->idle);
  else
    uv_idle_start(&q->idle, on_idle);
}

static void on_idle(uv_idle_t *h) {
  sb_queue *q = SB_CONTAINER_OF(h, sb_queue, idle);
  int n;

  for (n = 0; n < BATCH; n++) {
    const char *key;
    if (q->closing || q->paused ||
        sb__wq_processing(&q->wq) >= q->concurrency)
      break;
    key = sb__wq_pop(&q->wq);
    if (!key)
      break;
    q->process(q, key, q->data);
  }
  kick(q);
}

static void on_timer(uv_timer_t *h);

static void arm_timer(sb_queue *q) {
  uint64_t due = sb__wq_next_due(&q->wq), now, ms;

  if (due == UINT64_MAX) {
    uv_timer_stop(&q->timer);
    q->timer_due = 0;
    return;
  }
  if (due == q->timer_due && uv_is_active((uv_handle_t *) &q->timer))
    return;
  now = uv_hrtime();
  ms = due > now ? (due - now + 999999) / 1000000 : 0;
  /* Start from the current time, not the loop's cached one, so the timer
   * is not early by however long this loop iteration has run. */
  uv_update_time(q->loop);
  uv_timer_start(&q->timer, on_timer, ms, 0);
  q->timer_due = due;
}

static void on_timer(uv_timer_t *h) {
  sb_queue *q = SB_CONTAINER_OF(h, sb_queue, timer);

  q->timer_due = 0;
  sb__wq_promote(&q->wq);
  arm_timer(q);
  kick(q);
}

int sb_queue_new(uv_loop_t *loop, const sb_queue_opts *opts,
                 sb_queue_process_cb process, void *data, sb_queue **out) {
  static const sb_queue_opts defaults;
  sb__wq_opts wo = {0};
  sb_queue *q;
  int rc;

  if (!loop || !process || !out)
    return SB_EINVAL;
  if (!opts)
    opts = &defaults;
  q = calloc(1, sizeof(*q));
  if (!q)
    return SB_ENOMEM;
  wo.name = opts->name ? opts->name : "queue";
  wo.metrics = opts->metrics;
  wo.base_delay_ms = opts->base_delay_ms ? opts->base_delay_ms : 5;
  wo.max_delay_ms = opts->max_delay_ms ? opts->max_delay_ms : 1000000;
  wo.jitter = opts->jitter;
  wo.qps = opts->qps == 0 ? 10 : opts->qps;
  wo.burst = opts->burst ? opts->burst : 100;
  wo.clock = hr_clock;
  rc = sb__wq_init(&q->wq, &wo);
  if (rc) {
    free(q);
    return rc;
  }
  q->loop = loop;
  q->process = process;
  q->data = data;
  q->concurrency = opts->concurrency ? opts->concurrency : 1;
  q->paused = opts->start_paused != 0;
  uv_idle_init(loop, &q->idle);
  uv_timer_init(loop, &q->timer);
  q->open_handles = 2;
  *out = q;
  return 0;
}

int sb_queue_add(sb_queue *q, const char *key) {
  int rc = sb__wq_add(&q->wq, key);

  if (rc == 0)
    kick(q);
  return rc;
}

int sb_queue_add_after(sb_queue *q, const char *key, uint64_t delay_ms) {
  int rc = sb__wq_add_after(&q->wq, key, delay_ms);

  if (rc == 0) {
    arm_timer(q);
    kick(q);
  }
  return rc;
}

int sb_queue_add_rate_limited(sb_queue *q, const char *key) {
  int rc = sb__wq_add_rate_limited(&q->wq, key);

  if (rc == 0) {
    arm_timer(q);
    kick(q);
  }
  return rc;
}

void sb_queue_forget(sb_queue *q, const char *key) {
  sb__wq_forget(&q->wq, key);
}

unsigned sb_queue_num_requeues(const sb_queue *q, const char *key) {
  return sb__wq_num_requeues(&q->wq, key);
}

static void on_close(uv_handle_t *h) {
  sb_queue *q = h->data;

  if (--q->open_handles > 0)
    return;
  sb__wq_free(&q->wq);
  if (q->close_cb)
    q->close_cb(q->close_data);
  free(q);
}

static void close_handles(sb_queue *q) {
  if (q->handles_closing)
    return;
  q->handles_closing = 1;
  q->idle.data = q;
  q->timer.data = q;
  uv_close((uv_handle_t *) &q->idle, on_close);
  uv_close((uv_handle_t *) &q->timer, on_close);
}

int sb_queue_done(sb_queue *q, const char *key) {
  int rc = sb__wq_done(&q->wq, key);

  if (rc)
    return rc;
  if (q->closing) {
    if (sb__wq_processing(&q->wq) == 0)
      close_handles(q);
  } else {
    kick(q);
  }
  return 0;
}

void sb_queue_pause(sb_queue *q) {
  q->paused = 1;
  kick(q);
}

void sb_queue_resume(sb_queue *q) {
  q->paused = 0;
  kick(q);
}

size_t sb_queue_len(const sb_queue *q) {
  return sb__wq_len(&q->wq);
}

size_t sb_queue_in_flight(const sb_queue *q) {
  return sb__wq_processing(&q->wq);
}

size_t sb_queue_delayed(const sb_queue *q) {
  return sb__wq_delayed(&q->wq);
}

void sb_queue_close(sb_queue *q, sb_queue_close_cb cb, void *data) {
  if (q->closing)
    return;
  q->closing = 1;
  q->close_cb = cb;
  q->close_data = data;
  sb__wq_shutdown(&q->wq);
  uv_idle_stop(&q->idle);
  uv_timer_stop(&q->timer);
  if (sb__wq_processing(&q->wq) == 0)
    close_handles(q);
}
