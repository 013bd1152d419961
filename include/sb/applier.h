/* applier.h -- carries out a reconcile plan against the API server.
 *
 * Applies go first (server-side apply, fieldManager=smi-bridge,
 * force=true), then deletes (with the uid precondition, so an object that
 * was replaced in the meantime is not deleted). Every action runs even when
 * an earlier one failed; the result says which failed and why, so the
 * controller can record an ApplyFailed Event naming the object and the
 * server's message (a 403 names the verb and resource) and requeue.
 *
 * In dry-run mode nothing is sent: each action is printed as YAML to the
 * output (a "# apply Kind ns/name" or "# delete Kind ns/name" comment line,
 * then the object), exactly what would have been written.
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
  char *message;             /* the server's or curl's message */
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

/* Called once per sb_applier_run; plan must stay alive until then. */
typedef void (*sb_apply_cb)(void *arg, sb_apply_result *res);

int sb_applier_new(sb_kube *k, const sb_applier_opts *o, sb_applier **out);
void sb_applier_free(sb_applier *a);  /* runs in flight are canceled */
/* Starts every action of plan. If this returns an error, cb never runs.
 * A plan without actions completes (from the loop) with zero counts. */
int sb_applier_run(sb_applier *a, const sb_plan *plan, sb_apply_cb cb,
                   void *arg);

#endif
