/* manager.h -- the controller, assembled: `smi-bridge run`.
 *
 * Wires the modules into one level-triggered control loop on one libuv
 * loop (docs/architecture.md):
 *
 *   discovery ─▶ reflectors ─▶ cache ─▶ index ─▶ queue ─▶ reconcile
 *                                                            │
 *         Events ◀─ recorder ◀──────── applier (SSA, delete) ◀┘
 *
 * Start-up: load the kubeconfig (or in-cluster config), serve /healthz and
 * /metrics at once, discover what the cluster serves (--mesh auto picks the
 * mesh there; retried from 1 s doubling to 30 s while the API server
 * cannot be reached, /readyz saying why), start one reflector per watched
 * resource and namespace, and -- when leader election is on -- campaign
 * for the Lease. The queue processes keys only while every gating
 * reflector has synced and we lead (or election is off); followers keep
 * their caches warm for a fast takeover. /readyz turns 200 once the caches
 * have synced.
 *
 * Every change in the cache enqueues the keys it affects: the key of the
 * changed source itself, every key whose recorded dependencies match, and
 * for a generated object the key named by its source labels (repair of
 * hand edits, prune of orphans after the initial sync).
 *
 * With dry_run nothing is written: applies and deletes are printed as YAML,
 * Events are logged, no Lease is taken.
 */
#ifndef SB_MANAGER_H
#define SB_MANAGER_H

#include <stddef.h>
#include <stdio.h>

#include <uv.h>

#include "sb/translate.h"

typedef struct sb_manager sb_manager;

typedef struct sb_manager_opts {
  const char *kubeconfig;        /* NULL: KUBECONFIG, in-cluster, ~/.kube */
  const char *context;
  const char *sa_dir;            /* in-cluster service-account dir (tests) */
  const char *const *namespaces; /* watched namespaces; none = all */
  size_t nnamespaces;
  int mesh_auto;                 /* pick topts.mesh from discovery */
  sb_translate_opts topts;
  int dry_run;
  FILE *dry_run_out;             /* NULL = stdout */
  int leader_elect;
  const char *lease_ns;          /* NULL: the config's namespace or
                                    "default" */
  const char *lease_name;        /* NULL = "smi-bridge" */
  const char *identity;          /* NULL = hostname + random suffix */
  unsigned lease_duration_ms;
  unsigned renew_deadline_ms;
  unsigned retry_period_ms;
  const char *metrics_addr;      /* NULL or "" = off; ":8080" */
  const char *health_addr;       /* NULL or "" = off; ":8081" */
  double qps;                    /* API writes per second */
  int burst;
  unsigned workers;              /* keys reconciled at once; 0 = 4 */
  int stream_lists;              /* 1: read initial state as streamed
                                    watch-lists (sb_reflector); 0: pages */
} sb_manager_opts;

/* Loads the configuration and creates the parts that need no I/O yet.
 * On error writes one line to err and returns SB_ECONFIG, SB_EINVAL or
 * SB_ENOMEM. Strings in o are copied. */
int sb_manager_new(uv_loop_t *loop, const sb_manager_opts *o,
                   sb_manager **out, char *err, size_t errlen);
/* Starts serving probes and talking to the API server. On error (a probe
 * address that cannot be bound) writes one line to err. */
int sb_manager_start(sb_manager *m, char *err, size_t errlen);

/* Called when the manager has stopped, with the process exit status:
 * 0 after sb_manager_stop, 1 after a fatal condition (logged). */
typedef void (*sb_manager_done_cb)(void *arg, int status);
/* Graceful stop: let the writes in flight finish, release the Lease,
 * close watches and connections, free everything, then cb. Writes still
 * out after 0.8 s are canceled, and a release unanswered after another
 * 0.8 s is given up (the Lease then expires by itself): a hung API
 * server cannot hold a stop for its request timeout. Also what a fatal
 * condition triggers by itself, so set the callback before start with
 * sb_manager_on_done. */
void sb_manager_on_done(sb_manager *m, sb_manager_done_cb cb, void *arg);
void sb_manager_stop(sb_manager *m);

/* Test and probe helpers. */
int sb_manager_ready(const sb_manager *m);
int sb_manager_leading(const sb_manager *m);
int sb_manager_health_port(const sb_manager *m);
int sb_manager_metrics_port(const sb_manager *m);

#endif
