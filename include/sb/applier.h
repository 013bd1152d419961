/* applier.h -- carries out a reconcile plan against the API server.
 *
 * Applies go first (server-side apply, fieldManager=smi-bridge,
 * force=true), then deletes (with the uid precondition, so an object that
 * was replaced in the meantime is not deleted). Every action runs even when
 * an earlier one failed; the result says which failed and why, so the
 * controller can record an ApplyFailed Event naming the object and the
 * server's message (a 403 names the verb and resource) and requeue.
 *
 * At most 8 calls of one run are out at a time (the client's write bucket
 * paces them further); deletes start once every apply has answered.
 *
 * In dry-run mode nothing is sent: each action is printed as YAML to the
 * output, applies first, then deletes, each as one document:
 *
 *   ---
 *   # smi-bridge dry-run: apply VirtualService shop/web-split
 *   <the object exactly as it would be sent, sb_emit_yaml>
 *   ---
 *   # smi-bridge dry-run: delete VirtualService shop/old
 *   apiVersion: networking.istio.io/v1
 *   kind: VirtualService
 *   metadata:
 *     name: old
 *     namespace: shop
 *     uid: <the uid precondition>
 *
 * (cluster-scoped objects show just the name). The output is flushed after
 * each run. The result counts printed actions as applied/deleted and
 * returns no objects.
 */
#ifndef SB_APPLIER_H
#define SB_APPLIER_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "sb/kube.h"
#include "sb/reconcile.h"

typedef struct sb_applier sb_applier;

typedef struct sb_applier_opts {
  int dry_run;
  FILE *out;                 /* dry-run output; NULL = stdout */
} sb_applier_opts;

typedef struct sb_apply_failure {
  const sb_action *action;   /* points into the plan */
  int err;                   /* SB_E* */
  char *message;             /* the server's or curl's message, verbatim;
                                a DELETE refused by its preconditions
                                (SB_ECONFLICT) says so first. Freed after
                                the callback returns. */
} sb_apply_failure;

typedef struct sb_apply_result {
  size_t applied;
  size_t deleted;
  size_t not_found;          /* deletes of objects already gone (fine) */
  sb_apply_failure *failures;
  size_t nfailures;
  long retry_after;          /* largest Retry-After seen, -1 when none */
  /* What the server returned for each successful apply, in action order
   * (NULL for failures and deletes), so the cache can be updated before
   * the watch event arrives. The callback may take them. */
  cJSON **returned;
  size_t nreturned;
} sb_apply_result;

/* Called once per sb_applier_run, always from the loop (never from inside
 * sb_applier_run); plan must stay alive until then. res and everything it
 * points to is freed when the callback returns (take `returned` objects by
 * setting them to NULL). The callback may call sb_applier_run and
 * sb_applier_free. */
typedef void (*sb_apply_cb)(void *arg, sb_apply_result *res);

/* Runs on k's loop; k must outlive the applier (o may be NULL). */
int sb_applier_new(sb_kube *k, const sb_applier_opts *o, sb_applier **out);
/* Frees at once. Runs not yet reported are canceled: their callbacks
 * never run, and from this call on the applier does not touch their plans
 * (the caller may free them right away). Their API calls are canceled;
 * a write the server had already received may still take effect. */
void sb_applier_free(sb_applier *a);
/* Starts every action of plan. If this returns an error, cb never runs:
 * SB_EINVAL (an action without gvk, kind, name, or an APPLY without obj),
 * SB_ENOMEM. A plan without actions completes (from the loop) with zero
 * counts. */
int sb_applier_run(sb_applier *a, const sb_plan *plan, sb_apply_cb cb,
                   void *arg);

#endif
