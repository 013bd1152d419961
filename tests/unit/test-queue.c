/* test-queue.c -- the work queue: the state machine on a fake clock, then
 * the libuv driver with real short timers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "../../src/ctrl/queue-int.h"
#include "sb/err.h"
#include "sb/metrics.h"
#include "sb/queue.h"

/* ==== the state machine ================================================ */

static uint64_t fake_now;
static double fake_rand_value;

static uint64_t fake_clock(void *data) {
  (void) data;
  return fake_now;
}

static double fake_rand(void *data) {
  (void) data;
  return fake_rand_value;
}

static void advance_ms(uint64_t ms) {
  fake_now += ms * 1000000;
}

static void wq_setup(sb__wq *q, sb_metrics *m, double qps, int burst) {
  sb__wq_opts o = {0};

  o.name = "q";
  o.metrics = m;
  o.base_delay_ms = 5;
  o.max_delay_ms = 1000000;
  o.qps = qps;
  o.burst = burst;
  o.clock = fake_clock;
  o.rand = fake_rand;
  fake_now = 1000000000;  /* not zero, to catch "0 means unset" mistakes */
  fake_rand_value = 0.5;
  assert_int_equal(sb__wq_init(q, &o), 0);
}

static void core_fifo_and_dedup(void **state) {
  sb__wq q;

  (void) state;
  wq_setup(&q, NULL, 0, 0);
  assert_int_equal(sb__wq_add(&q, "a"), 0);
  assert_int_equal(sb__wq_add(&q, "b"), 0);
  assert_int_equal(sb__wq_add(&q, "a"), 0);
  assert_int_equal(sb__wq_add(&q, "c"), 0);
  assert_int_equal(sb__wq_add(&q, "b"), 0);
  assert_int_equal(sb__wq_add(&q, ""), SB_EINVAL);
  assert_int_equal(sb__wq_add(&q, NULL), SB_EINVAL);
  assert_int_equal(sb__wq_len(&q), 3);
  assert_string_equal(sb__wq_pop(&q), "a");
  assert_string_equal(sb__wq_pop(&q), "b");
  assert_string_equal(sb__wq_pop(&q), "c");
  assert_null(sb__wq_pop(&q));
  assert_int_equal(sb__wq_processing(&q), 3);
  assert_int_equal(sb__wq_len(&q), 0);
  assert_int_equal(sb__wq_done(&q, "b"), 0);
  assert_int_equal(sb__wq_done(&q, "b"), SB_ENOTFOUND);
  assert_int_equal(sb__wq_done(&q, "zzz"), SB_ENOTFOUND);
  assert_int_equal(sb__wq_done(&q, "a"), 0);
  assert_int_equal(sb__wq_done(&q, "c"), 0);
  assert_int_equal(sb__wq_known(&q), 0);
  sb__wq_free(&q);
}

/* Added while processing: not handed out again until done, then queued
 * once, at the tail. */
static void core_dirty_while_processing(void **state) {
  sb__wq q;
  const char *k;

  (void) state;
  wq_setup(&q, NULL, 0, 0);
  assert_int_equal(sb__wq_add(&q, "a"), 0);
  assert_int_equal(sb__wq_add(&q, "b"), 0);
  k = sb__wq_pop(&q);
  assert_string_equal(k, "a");
  assert_int_equal(sb__wq_add(&q, "a"), 0);
  assert_int_equal(sb__wq_add(&q, "a"), 0);
  assert_int_equal(sb__wq_len(&q), 2);     /* b, and a (dirty) */
  assert_int_equal(sb__wq_queued(&q), 1);  /* only b can be popped */
  assert_string_equal(sb__wq_pop(&q), "b");
  assert_null(sb__wq_pop(&q));              /* a is still processing */
  assert_int_equal(sb__wq_add(&q, "c"), 0);
  assert_int_equal(sb__wq_done(&q, "a"), 0);
  assert_string_equal(sb__wq_pop(&q), "c");
  assert_string_equal(sb__wq_pop(&q), "a");
  assert_null(sb__wq_pop(&q));
  assert_int_equal(sb__wq_done(&q, "a"), 0);
  assert_null(sb__wq_pop(&q));              /* not dirty: gone */
  assert_int_equal(sb__wq_done(&q, "b"), 0);
  assert_int_equal(sb__wq_done(&q, "c"), 0);
  assert_int_equal(sb__wq_known(&q), 0);
  sb__wq_free(&q);
}

static void core_delayed_sooner_wins(void **state) {
  sb__wq q;

  (void) state;
  wq_setup(&q, NULL, 0, 0);
  assert_int_equal(sb__wq_next_due(&q), UINT64_MAX);
  assert_int_equal(sb__wq_add_after(&q, "a", 100), 0);
  assert_int_equal(sb__wq_add_after(&q, "b", 50), 0);
  assert_int_equal(sb__wq_add_after(&q, "a", 30), 0);   /* sooner: wins */
  assert_int_equal(sb__wq_add_after(&q, "b", 500), 0);  /* later: ignored */
  assert_int_equal(sb__wq_add_after(&q, "c", 50), 0);   /* ties b */
  assert_int_equal(sb__wq_delayed(&q), 3);
  assert_int_equal(sb__wq_len(&q), 0);
  assert_true(sb__wq_next_due(&q) == fake_now + 30 * 1000000);

  advance_ms(29);
  assert_int_equal(sb__wq_promote(&q), 0);
  assert_null(sb__wq_pop(&q));
  advance_ms(1);
  assert_int_equal(sb__wq_promote(&q), 1);
  assert_string_equal(sb__wq_pop(&q), "a");
  assert_true(sb__wq_next_due(&q) == fake_now + 20 * 1000000);
  advance_ms(25);
  assert_int_equal(sb__wq_promote(&q), 2);
  assert_string_equal(sb__wq_pop(&q), "b");  /* equal due: added first */
  assert_string_equal(sb__wq_pop(&q), "c");
  assert_int_equal(sb__wq_next_due(&q), UINT64_MAX);

  /* A delayed add of a key that is processing makes it dirty when due. */
  assert_int_equal(sb__wq_add_after(&q, "a", 10), 0);
  advance_ms(10);
  assert_int_equal(sb__wq_promote(&q), 1);
  assert_null(sb__wq_pop(&q));
  assert_int_equal(sb__wq_done(&q, "a"), 0);
  assert_string_equal(sb__wq_pop(&q), "a");
  assert_int_equal(sb__wq_done(&q, "a"), 0);
  assert_int_equal(sb__wq_done(&q, "b"), 0);
  assert_int_equal(sb__wq_done(&q, "c"), 0);

  /* Zero delay is a plain add; a huge delay does not wrap around. */
  assert_int_equal(sb__wq_add_after(&q, "z", 0), 0);
  assert_int_equal(sb__wq_queued(&q), 1);
  assert_int_equal(sb__wq_add_after(&q, "far", UINT64_MAX), 0);
  assert_true(sb__wq_next_due(&q) > fake_now);
  sb__wq_free(&q);
}

/* The per-key exponential backoff: 5 ms doubling to the cap, per key,
 * reset by forget. */
static void core_backoff(void **state) {
  static const uint64_t want[] = {5, 10, 20, 40, 80, 160, 320, 640, 1280};
  uint64_t d;
  sb__wq q;
  size_t i;

  (void) state;
  wq_setup(&q, NULL, 0, 0);
  for (i = 0; i < SB_ARRAY_SIZE(want); i++) {
    assert_int_equal(sb__wq_when(&q, "a", &d), 0);
    assert_int_equal(d, want[i]);
  }
  assert_int_equal(sb__wq_num_requeues(&q, "a"), SB_ARRAY_SIZE(want));
  assert_int_equal(sb__wq_when(&q, "b", &d), 0);
  assert_int_equal(d, 5);
  for (i = 0; i < 40; i++)
    assert_int_equal(sb__wq_when(&q, "a", &d), 0);
  assert_int_equal(d, 1000000);  /* capped at 1000 s */
  sb__wq_forget(&q, "a");
  assert_int_equal(sb__wq_num_requeues(&q, "a"), 0);
  assert_int_equal(sb__wq_when(&q, "a", &d), 0);
  assert_int_equal(d, 5);

  /* add_rate_limited delays by exactly that. */
  assert_int_equal(sb__wq_add_rate_limited(&q, "c"), 0);
  assert_true(sb__wq_next_due(&q) == fake_now + 5 * 1000000);
  assert_int_equal(sb__wq_num_requeues(&q, "c"), 1);
  advance_ms(5);
  assert_int_equal(sb__wq_promote(&q), 1);
  assert_string_equal(sb__wq_pop(&q), "c");
  assert_int_equal(sb__wq_done(&q, "c"), 0);
  /* Failure counts keep an item alive until forget. */
  assert_int_equal(sb__wq_known(&q), 3);
  sb__wq_forget(&q, "a");
  sb__wq_forget(&q, "b");
  sb__wq_forget(&q, "c");
  sb__wq_forget(&q, "never-seen");
  assert_int_equal(sb__wq_known(&q), 0);
  sb__wq_free(&q);
}

/* The overall bucket: a burst passes, then retries are spaced at 1/qps,
 * each reservation pushing the next one further out. */
static void core_bucket(void **state) {
  uint64_t d;
  sb__wq q;

  (void) state;
  wq_setup(&q, NULL, 10, 2);
  assert_int_equal(sb__wq_when(&q, "k1", &d), 0);
  assert_int_equal(d, 5);
  assert_int_equal(sb__wq_when(&q, "k2", &d), 0);
  assert_int_equal(d, 5);
  assert_int_equal(sb__wq_when(&q, "k3", &d), 0);
  assert_int_equal(d, 100);
  assert_int_equal(sb__wq_when(&q, "k4", &d), 0);
  assert_int_equal(d, 200);
  assert_int_equal(sb__wq_when(&q, "k5", &d), 0);
  assert_int_equal(d, 300);
  advance_ms(300);  /* pays the debt back to 0 tokens */
  assert_int_equal(sb__wq_when(&q, "k6", &d), 0);
  assert_int_equal(d, 100);
  advance_ms(10000);  /* refills to the burst, no more */
  assert_int_equal(sb__wq_when(&q, "k7", &d), 0);
  assert_int_equal(d, 5);
  assert_int_equal(sb__wq_when(&q, "k8", &d), 0);
  assert_int_equal(d, 5);
  assert_int_equal(sb__wq_when(&q, "k9", &d), 0);
  assert_int_equal(d, 100);
  /* The backoff still wins when it is the longer of the two. */
  advance_ms(10000);
  assert_int_equal(sb__wq_when(&q, "k1", &d), 0);
  assert_int_equal(d, 10);
  sb__wq_free(&q);
}

static void core_jitter_uses_injected_rand(void **state) {
  sb__wq_opts o = {0};
  uint64_t d;
  sb__wq q;

  (void) state;
  o.base_delay_ms = 100;
  o.max_delay_ms = 1000;
  o.jitter = 0.5;
  o.clock = fake_clock;
  o.rand = fake_rand;
  assert_int_equal(sb__wq_init(&q, &o), 0);
  fake_rand_value = 0.0;
  assert_int_equal(sb__wq_when(&q, "a", &d), 0);
  assert_int_equal(d, 50);
  fake_rand_value = 0.75;
  assert_int_equal(sb__wq_when(&q, "a", &d), 0);
  assert_int_equal(d, 250);
  sb__wq_free(&q);
}

static void core_shutdown(void **state) {
  sb__wq q;

  (void) state;
  wq_setup(&q, NULL, 0, 0);
  assert_int_equal(sb__wq_add(&q, "a"), 0);
  assert_int_equal(sb__wq_add(&q, "b"), 0);
  assert_int_equal(sb__wq_add_after(&q, "c", 10), 0);
  assert_int_equal(sb__wq_add_rate_limited(&q, "d"), 0);
  assert_string_equal(sb__wq_pop(&q), "a");
  assert_int_equal(sb__wq_add(&q, "a"), 0);  /* dirty */
  sb__wq_shutdown(&q);
  assert_int_equal(sb__wq_len(&q), 0);
  assert_int_equal(sb__wq_delayed(&q), 0);
  assert_int_equal(sb__wq_processing(&q), 1);
  assert_int_equal(sb__wq_known(&q), 1);
  assert_int_equal(sb__wq_add(&q, "x"), SB_ECLOSING);
  assert_int_equal(sb__wq_add_after(&q, "x", 1), SB_ECLOSING);
  assert_int_equal(sb__wq_add_rate_limited(&q, "x"), SB_ECLOSING);
  advance_ms(100);
  assert_int_equal(sb__wq_promote(&q), 0);
  assert_null(sb__wq_pop(&q));
  assert_int_equal(sb__wq_done(&q, "a"), 0);
  assert_null(sb__wq_pop(&q));  /* the dirty mark went with the shutdown */
  assert_int_equal(sb__wq_known(&q), 0);
  sb__wq_free(&q);
}

static double metric(sb_metrics *m, const char *name, uint64_t *count) {
  double v = -1;

  assert_int_equal(sb_metric_read(sb_metrics_find(m, name),
                                  SB_LABELS("q", "q"), &v, count), 0);
  return v;
}

static void core_metrics(void **state) {
  sb_metrics *m = sb_metrics_new();
  uint64_t n;
  sb_buf b;
  sb__wq q;

  (void) state;
  wq_setup(&q, m, 0, 0);
  assert_int_equal(sb__wq_add(&q, "a"), 0);
  assert_int_equal(sb__wq_add(&q, "a"), 0);  /* de-duplicated: no add */
  assert_int_equal(sb__wq_add(&q, "b"), 0);
  assert_true(metric(m, "workqueue_adds_total", NULL) == 2);
  assert_true(metric(m, "workqueue_depth", NULL) == 2);
  advance_ms(2);
  assert_string_equal(sb__wq_pop(&q), "a");
  assert_true(metric(m, "workqueue_depth", NULL) == 1);
  assert_true(metric(m, "workqueue_queue_duration_seconds", &n) == 0.002);
  assert_int_equal(n, 1);
  advance_ms(3);
  assert_string_equal(sb__wq_pop(&q), "b");
  advance_ms(4);

  /* Scrape-time gauges: a has run 7 ms, b 4 ms. */
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  assert_int_equal(sb_metrics_write(m, &b), 0);
  assert_non_null(strstr(sb_buf_cstr(&b),
      "\nworkqueue_unfinished_work_seconds{name=\"q\",controller=\"q\"} "
      "0.011\n"));
  assert_non_null(strstr(sb_buf_cstr(&b),
      "\nworkqueue_longest_running_processor_seconds{name=\"q\","
      "controller=\"q\"} 0.007\n"));
  assert_non_null(strstr(sb_buf_cstr(&b),
      "workqueue_queue_duration_seconds_bucket{name=\"q\",controller=\"q\","
      "le=\"0.01\"} 2\n"));
  sb_buf_free(&b);

  assert_int_equal(sb__wq_done(&q, "a"), 0);
  assert_true(metric(m, "workqueue_work_duration_seconds", &n) == 0.007);
  assert_int_equal(n, 1);
  assert_int_equal(sb__wq_add_after(&q, "c", 5), 0);
  assert_int_equal(sb__wq_add_rate_limited(&q, "c"), 0);
  assert_true(metric(m, "workqueue_retries_total", NULL) == 2);
  advance_ms(5);
  sb__wq_promote(&q);
  assert_true(metric(m, "workqueue_adds_total", NULL) == 3);
  assert_true(metric(m, "workqueue_depth", NULL) == 1);
  sb__wq_shutdown(&q);
  assert_true(metric(m, "workqueue_depth", NULL) == 0);
  assert_int_equal(sb__wq_done(&q, "b"), 0);

  /* Freeing a queue removes its collect hook and leaves its gauges at 0;
   * a queue made again under the same name continues the same series. */
  assert_int_equal(sb__wq_add(&q, "late"), SB_ECLOSING);
  assert_string_equal(sb__wq_pop(&q) ? "popped" : "none", "none");
  sb__wq_free(&q);
  assert_true(metric(m, "workqueue_unfinished_work_seconds", NULL) == 0);
  assert_true(metric(m, "workqueue_longest_running_processor_seconds", NULL)
              == 0);
  wq_setup(&q, m, 0, 0);
  assert_int_equal(sb__wq_add(&q, "x"), 0);
  assert_true(metric(m, "workqueue_adds_total", NULL) == 4);
  sb__wq_free(&q);
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  assert_int_equal(sb_metrics_write(m, &b), 0);
  assert_non_null(strstr(sb_buf_cstr(&b),
      "\nworkqueue_depth{name=\"q\",controller=\"q\"} 0\n"));
  sb_buf_free(&b);
  sb_metrics_free(m);
}

/* Random operations against a plain reference model of client-go's
 * semantics: same pops in the same order, never a key handed out twice. */
#define NKEYS 6

static void core_matches_reference_model(void **state) {
  static const char *const keys[NKEYS] = {"k0", "k1", "k2", "k3", "k4",
                                          "k5"};
  int dirty[NKEYS] = {0}, processing[NKEYS] = {0};
  int fifo[NKEYS], nfifo = 0;
  unsigned seed = 12345;
  sb__wq q;
  int step, i;

  (void) state;
  wq_setup(&q, NULL, 0, 0);
  for (step = 0; step < 20000; step++) {
    int op, k;
    seed = seed * 1103515245u + 12345u;
    op = (int) ((seed >> 16) % 3);
    k = (int) ((seed >> 8) % NKEYS);
    if (op == 0) {
      assert_int_equal(sb__wq_add(&q, keys[k]), 0);
      if (!dirty[k]) {
        dirty[k] = 1;
        if (!processing[k])
          fifo[nfifo++] = k;
      }
    } else if (op == 1) {
      const char *got = sb__wq_pop(&q);
      if (nfifo == 0) {
        assert_null(got);
      } else {
        int want = fifo[0];
        assert_non_null(got);
        assert_string_equal(got, keys[want]);
        assert_false(processing[want]);
        memmove(fifo, fifo + 1, (size_t) (nfifo - 1) * sizeof(int));
        nfifo--;
        dirty[want] = 0;
        processing[want] = 1;
      }
    } else {
      int rc = sb__wq_done(&q, keys[k]);
      assert_int_equal(rc, processing[k] ? 0 : SB_ENOTFOUND);
      if (processing[k]) {
        processing[k] = 0;
        if (dirty[k])
          fifo[nfifo++] = k;
      }
    }
    assert_int_equal(sb__wq_queued(&q), (size_t) nfifo);
  }
  for (i = 0; i < NKEYS; i++)
    if (processing[i])
      assert_int_equal(sb__wq_done(&q, keys[i]), 0);
  while (sb__wq_pop(&q))
    ;
  for (i = 0; i < NKEYS; i++)
    sb__wq_done(&q, keys[i]);
  assert_int_equal(sb__wq_known(&q), 0);
  sb__wq_free(&q);
}

/* ==== the libuv driver ================================================= */

#define MAXLOG 64

struct ctx {
  uv_loop_t loop;
  sb_queue *q;
  int in_call;              /* inside an add/done made by the test */
  char log[MAXLOG][16];     /* keys in the order they were handed out */
  uint64_t at_ms[MAXLOG];   /* when, relative to start */
  int n;
  uint64_t start;
  int sync_done;            /* process calls done at once */
  int running[8];           /* per key "k0".."k7": being processed now */
  int max_running, now_running;
  int readd_once;           /* re-add "k0" during its first processing */
  int fail_times;           /* rate-limited retries before success */
  uv_timer_t timers[MAXLOG];
  char pending[MAXLOG][16];
  int npending;
  int closed;
  uint64_t resumed_ms;
  int bad;                  /* an assertion inside a callback failed */
};

static uint64_t ms_since(const struct ctx *c) {
  return (uv_hrtime() - c->start) / 1000000;
}

static void later_done(uv_timer_t *t) {
  struct ctx *c = t->data;
  int i = (int) (t - c->timers);
  int k = c->pending[i][1] - '0';

  c->running[k] = 0;
  c->now_running--;
  if (sb_queue_done(c->q, c->pending[i]) != 0)
    c->bad++;
  uv_close((uv_handle_t *) t, NULL);
}

static void record(struct ctx *c, const char *key) {
  if (c->in_call)
    c->bad++;  /* process ran inside an add or done: must not happen */
  if (c->n < MAXLOG) {
    snprintf(c->log[c->n], sizeof(c->log[c->n]), "%s", key);
    c->at_ms[c->n] = ms_since(c);
  }
  c->n++;
}

static void process_cb(sb_queue *q, const char *key, void *data) {
  struct ctx *c = data;
  int k = key[1] - '0';

  record(c, key);
  if (c->sync_done) {
    c->in_call = 1;
    if (sb_queue_done(q, key) != 0)
      c->bad++;
    c->in_call = 0;
    return;
  }
  /* Finish 10 ms later from a timer, as a reconcile waiting on HTTP. */
  if (key[0] == 'k' && k >= 0 && k < 8) {
    if (c->running[k])
      c->bad++;  /* the same key twice at once */
    c->running[k] = 1;
  }
  c->now_running++;
  if (c->now_running > c->max_running)
    c->max_running = c->now_running;
  if (c->readd_once && strcmp(key, "k0") == 0) {
    c->readd_once = 0;
    c->in_call = 1;
    if (sb_queue_add(q, "k0") != 0)
      c->bad++;
    c->in_call = 0;
  }
  snprintf(c->pending[c->npending], sizeof(c->pending[0]), "%s", key);
  uv_timer_init(&c->loop, &c->timers[c->npending]);
  c->timers[c->npending].data = c;
  uv_timer_start(&c->timers[c->npending], later_done, 10, 0);
  c->npending++;
}

static void on_closed(void *data) {
  struct ctx *c = data;
  c->closed++;
}

static void ctx_init(struct ctx *c, const sb_queue_opts *o,
                     sb_queue_process_cb cb) {
  memset(c, 0, sizeof(*c));
  assert_int_equal(uv_loop_init(&c->loop), 0);
  assert_int_equal(sb_queue_new(&c->loop, o, cb, c, &c->q), 0);
  c->start = uv_hrtime();
}

static void ctx_finish(struct ctx *c) {
  if (c->q && !c->closed) {
    sb_queue_close(c->q, on_closed, c);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
  }
  assert_int_equal(c->closed, 1);
  assert_int_equal(c->bad, 0);
  assert_int_equal(uv_loop_close(&c->loop), 0);
}

static void uv_order_and_dedup(void **state) {
  struct ctx c;

  (void) state;
  ctx_init(&c, NULL, process_cb);
  c.sync_done = 1;
  c.in_call = 1;
  assert_int_equal(sb_queue_add(c.q, "k1"), 0);
  assert_int_equal(sb_queue_add(c.q, "k2"), 0);
  assert_int_equal(sb_queue_add(c.q, "k1"), 0);
  assert_int_equal(sb_queue_add(c.q, "k3"), 0);
  assert_int_equal(sb_queue_add(c.q, "k2"), 0);
  c.in_call = 0;
  assert_int_equal(c.n, 0);  /* nothing runs inside add */
  assert_int_equal(sb_queue_len(c.q), 3);
  assert_int_equal(uv_run(&c.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(c.n, 3);
  assert_string_equal(c.log[0], "k1");
  assert_string_equal(c.log[1], "k2");
  assert_string_equal(c.log[2], "k3");
  assert_int_equal(sb_queue_len(c.q), 0);
  assert_int_equal(sb_queue_in_flight(c.q), 0);
  ctx_finish(&c);
}

/* Four workers, slow consumers: never more than four at once, never one
 * key twice at once, and the key re-added while processing runs again
 * after its first run is done. */
static void uv_concurrency_and_dirty(void **state) {
  sb_queue_opts o = {0};
  struct ctx c;
  int i, k0_runs = 0;
  char key[16];

  (void) state;
  o.concurrency = 4;
  ctx_init(&c, &o, process_cb);
  c.readd_once = 1;
  for (i = 0; i < 8; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    assert_int_equal(sb_queue_add(c.q, key), 0);
  }
  assert_int_equal(uv_run(&c.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(c.n, 9);
  assert_int_equal(c.max_running, 4);
  for (i = 0; i < c.n; i++)
    k0_runs += strcmp(c.log[i], "k0") == 0;
  assert_int_equal(k0_runs, 2);
  /* The second run of k0 came after its first one finished (10 ms). */
  for (i = 1; i < c.n; i++)
    if (strcmp(c.log[i], "k0") == 0)
      assert_true(c.at_ms[i] >= c.at_ms[0] + 10);
  ctx_finish(&c);
}

static void uv_add_after(void **state) {
  struct ctx c;

  (void) state;
  ctx_init(&c, NULL, process_cb);
  c.sync_done = 1;
  assert_int_equal(sb_queue_add_after(c.q, "k1", 60), 0);
  assert_int_equal(sb_queue_add_after(c.q, "k2", 20), 0);
  assert_int_equal(sb_queue_add_after(c.q, "k1", 40), 0);  /* sooner wins */
  assert_int_equal(sb_queue_add_after(c.q, "k2", 200), 0); /* later: no */
  assert_int_equal(sb_queue_delayed(c.q), 2);
  assert_int_equal(uv_run(&c.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(c.n, 2);
  assert_string_equal(c.log[0], "k2");
  assert_string_equal(c.log[1], "k1");
  assert_true(c.at_ms[0] >= 20);
  assert_true(c.at_ms[1] >= 40);
  /* The loop ended without waiting for the superseded 60/200 ms adds. */
  assert_true(ms_since(&c) < 60 || c.at_ms[1] >= 60);
  ctx_finish(&c);
}

/* A consumer that fails three times: retries spaced 10, 20, 40 ms. */
static void fail_cb(sb_queue *q, const char *key, void *data) {
  struct ctx *c = data;

  record(c, key);
  if (c->fail_times-- > 0) {
    if (sb_queue_add_rate_limited(q, key) != 0)
      c->bad++;
  } else {
    if (sb_queue_num_requeues(q, key) != 3)
      c->bad++;
    sb_queue_forget(q, key);
  }
  if (sb_queue_done(q, key) != 0)
    c->bad++;
}

static void uv_rate_limited_retries(void **state) {
  sb_queue_opts o = {0};
  struct ctx c;

  (void) state;
  o.base_delay_ms = 10;
  ctx_init(&c, &o, fail_cb);
  c.fail_times = 3;
  assert_int_equal(sb_queue_add(c.q, "k0"), 0);
  assert_int_equal(uv_run(&c.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(c.n, 4);
  assert_true(c.at_ms[1] - c.at_ms[0] >= 10);
  assert_true(c.at_ms[2] - c.at_ms[1] >= 20);
  assert_true(c.at_ms[3] - c.at_ms[2] >= 40);
  assert_int_equal(sb_queue_num_requeues(c.q, "k0"), 0);
  ctx_finish(&c);
}

static void resume_cb(uv_timer_t *t) {
  struct ctx *c = t->data;

  if (c->n != 0)
    c->bad++;  /* processed while paused */
  c->resumed_ms = ms_since(c);
  sb_queue_resume(c->q);
  uv_close((uv_handle_t *) t, NULL);
}

static void uv_pause_resume(void **state) {
  sb_queue_opts o = {0};
  uv_timer_t t;
  struct ctx c;

  (void) state;
  o.start_paused = 1;
  ctx_init(&c, &o, process_cb);
  c.sync_done = 1;
  assert_int_equal(sb_queue_add(c.q, "k1"), 0);
  assert_int_equal(sb_queue_add_after(c.q, "k2", 5), 0);
  uv_timer_init(&c.loop, &t);
  t.data = &c;
  uv_timer_start(&t, resume_cb, 30, 0);
  assert_int_equal(uv_run(&c.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(c.n, 2);
  assert_true(c.resumed_ms >= 25);
  assert_true(c.at_ms[0] >= c.resumed_ms);
  /* Pausing again holds new work back; the loop has nothing to wait for. */
  sb_queue_pause(c.q);
  assert_int_equal(sb_queue_add(c.q, "k3"), 0);
  assert_int_equal(uv_run(&c.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(c.n, 2);
  assert_int_equal(sb_queue_len(c.q), 1);
  ctx_finish(&c);
}

/* Close while a key is processing and others wait: the waiting ones are
 * dropped, adds fail, and the close callback waits for the done. */
static void close_soon(uv_timer_t *t) {
  struct ctx *c = t->data;

  sb_queue_close(c->q, on_closed, c);
  sb_queue_close(c->q, on_closed, c);  /* ignored */
  if (sb_queue_add(c->q, "k7") != SB_ECLOSING)
    c->bad++;
  if (sb_queue_add_after(c->q, "k7", 1) != SB_ECLOSING)
    c->bad++;
  if (c->closed)
    c->bad++;  /* k0 is still processing */
  uv_close((uv_handle_t *) t, NULL);
}

static void uv_close_with_work_in_flight(void **state) {
  uv_timer_t t;
  struct ctx c;

  (void) state;
  ctx_init(&c, NULL, process_cb);
  assert_int_equal(sb_queue_add(c.q, "k0"), 0);
  assert_int_equal(sb_queue_add(c.q, "k1"), 0);
  assert_int_equal(sb_queue_add_after(c.q, "k2", 5), 0);
  uv_timer_init(&c.loop, &t);
  t.data = &c;
  uv_timer_start(&t, close_soon, 2, 0);
  assert_int_equal(uv_run(&c.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(c.n, 1);  /* only k0 ran */
  assert_string_equal(c.log[0], "k0");
  assert_int_equal(c.closed, 1);
  assert_int_equal(c.bad, 0);
  assert_int_equal(uv_loop_close(&c.loop), 0);
}

/* A consumer that finishes and re-adds its key forever must not starve the
 * loop: a timer started meanwhile still fires within a batch or two. */
static int spin_count, spin_timer_at;

static void spin_timer(uv_timer_t *t) {
  spin_timer_at = spin_count;
  uv_close((uv_handle_t *) t, NULL);
}

static void spin_cb(sb_queue *q, const char *key, void *data) {
  struct ctx *c = data;

  spin_count++;
  if (spin_count == 100) {
    uv_timer_init(&c->loop, &c->timers[0]);
    uv_timer_start(&c->timers[0], spin_timer, 0, 0);
  }
  if (spin_count < 1000)
    sb_queue_add(q, key);
  sb_queue_done(q, key);
}

static void uv_no_starvation(void **state) {
  struct ctx c;

  (void) state;
  ctx_init(&c, NULL, spin_cb);
  spin_count = 0;
  spin_timer_at = -1;
  assert_int_equal(sb_queue_add(c.q, "k0"), 0);
  assert_int_equal(uv_run(&c.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(spin_count, 1000);
  assert_true(spin_timer_at >= 100 && spin_timer_at <= 100 + 2 * 32);
  ctx_finish(&c);
}

static void uv_metrics(void **state) {
  sb_metrics *m = sb_metrics_new();
  sb_queue_opts o = {0};
  struct ctx c;
  uint64_t n;
  double v;

  (void) state;
  o.name = "q";
  o.metrics = m;
  ctx_init(&c, &o, process_cb);
  c.sync_done = 1;
  sb_queue_add(c.q, "k1");
  sb_queue_add(c.q, "k1");
  sb_queue_add(c.q, "k2");
  sb_queue_add_after(c.q, "k3", 1);
  assert_int_equal(uv_run(&c.loop, UV_RUN_DEFAULT), 0);
  assert_true(metric(m, "workqueue_adds_total", NULL) == 3);
  assert_true(metric(m, "workqueue_retries_total", NULL) == 1);
  assert_true(metric(m, "workqueue_depth", NULL) == 0);
  v = metric(m, "workqueue_work_duration_seconds", &n);
  assert_int_equal(n, 3);
  assert_true(v >= 0 && v < 1);
  ctx_finish(&c);
  sb_metrics_free(m);
}

static void uv_bad_arguments(void **state) {
  uv_loop_t loop;
  sb_queue *q = NULL;

  (void) state;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(sb_queue_new(&loop, NULL, NULL, NULL, &q), SB_EINVAL);
  assert_null(q);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(core_fifo_and_dedup),
    cmocka_unit_test(core_dirty_while_processing),
    cmocka_unit_test(core_delayed_sooner_wins),
    cmocka_unit_test(core_backoff),
    cmocka_unit_test(core_bucket),
    cmocka_unit_test(core_jitter_uses_injected_rand),
    cmocka_unit_test(core_shutdown),
    cmocka_unit_test(core_metrics),
    cmocka_unit_test(core_matches_reference_model),
    cmocka_unit_test(uv_order_and_dedup),
    cmocka_unit_test(uv_concurrency_and_dirty),
    cmocka_unit_test(uv_add_after),
    cmocka_unit_test(uv_rate_limited_retries),
    cmocka_unit_test(uv_pause_resume),
    cmocka_unit_test(uv_close_with_work_in_flight),
    cmocka_unit_test(uv_no_starvation),
    cmocka_unit_test(uv_metrics),
    cmocka_unit_test(uv_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
