/* recorder.h -- Kubernetes Events about SMI objects.
 *
 * What an operator sees with `kubectl describe trafficsplit web`:
 * Translated (Normal), InvalidSpec, Conflict, MissingDependency,
 * ApplyFailed (Warning), ... Written as core/v1 Events in the object's
 * namespace, source component "smi-bridge".
 *
 * De-duplicated like client-go's event correlator: the same (object, type,
 * reason, message) within the aggregation window bumps `count` and
 * `lastTimestamp` of the existing Event (PATCH) instead of creating a new
 * one, and a per-object token bucket keeps a broken object from flooding
 * the API server. Failures to write an Event are logged, never retried
 * forever, and never block reconciling.
 */
#ifndef SB_RECORDER_H
#define SB_RECORDER_H

#include <uv.h>

#include "sb/common.h"
#include "sb/kube.h"

typedef struct sb_recorder sb_recorder;

typedef struct sb_objref {
  const char *api_version;   /* "split.smi-spec.io/v1alpha4" */
  const char *kind;
  const char *ns;
  const char *name;
  const char *uid;           /* may be NULL */
} sb_objref;

typedef enum { SB_EVENT_NORMAL = 0, SB_EVENT_WARNING = 1 } sb_event_type;

typedef struct sb_recorder_opts {
  const char *component;     /* "smi-bridge" */
  const char *host;          /* reporting instance (pod name), may be NULL */
  int dry_run;               /* log Events instead of writing them */
  unsigned window_ms;        /* aggregation window; 0 = 10 min */
} sb_recorder_opts;

int sb_recorder_new(uv_loop_t *loop, sb_kube *k, const sb_recorder_opts *o,
                    sb_recorder **out);
/* Records one Event (asynchronously). 0, SB_ENOMEM, or SB_ECLOSING. */
int sb_recorder_event(sb_recorder *r, const sb_objref *obj,
                      sb_event_type type, const char *reason,
                      const char *fmt, ...) SB_PRINTF(5, 6);
/* Events written and failed so far (metrics, tests). */
void sb_recorder_stats(const sb_recorder *r, unsigned long *written,
                       unsigned long *failed);
void sb_recorder_close(sb_recorder *r, void (*cb)(void *arg), void *arg);

#endif
