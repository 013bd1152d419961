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
 *
 * Details (client-go's correlator, simplified):
 *   - The Event goes to the object's namespace ("default" for a
 *     cluster-scoped object) and is named "<object name>.<16 hex digits>"
 *     (wall-clock nanoseconds, never repeated). Timestamps are RFC 3339
 *     from the wall clock; the message is cut to 1024 bytes (on a UTF-8
 *     boundary).
 *   - De-dup key: involved object (kind, namespace, name, uid), type,
 *     reason and message. The first occurrence is a POST; a repeat within
 *     the window is a server-side apply of the same Event (same name) with
 *     count+1 and the new lastTimestamp -- which also recreates an Event
 *     the server expired. At most one write per Event is out; repeats
 *     meanwhile are folded into the next one. 4096 keys are remembered
 *     (least recently used go first), each as a 64-bit hash: two
 *     different Events with the same hash (by accident about 2^-41
 *     with 4096 known; the hash is not keyed, so names and messages
 *     chosen for it could collide on purpose) would be counted as one.
 *   - Spam filter: per involved object a token bucket of 25, refilled one
 *     per 5 minutes; every occurrence takes a token (repeats too), and an
 *     Event without one is dropped (debug log).
 *   - Writes go out one at a time, in order, paced by the recorder's own
 *     token bucket (qps/burst) and not by the client's write bucket, as
 *     client-go's event sink does: Events never hold up the writes that
 *     keep objects in step. New Events are dropped while 1000 wait.
 *   - An Event last seen a window ago is forgotten (its repeat would be a
 *     new Event anyway), as is a spam bucket that has filled up again.
 *   - Dry run: the Event is logged (info, "event (dry run)", with its
 *     count) instead of written; filter and de-dup still apply.
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
  double qps;                /* Event writes per second; <= 0 unlimited */
  int burst;                 /* bucket size; < 1 = 1 */
} sb_recorder_opts;

int sb_recorder_new(uv_loop_t *loop, sb_kube *k, const sb_recorder_opts *o,
                    sb_recorder **out);
/* Records one Event (asynchronously): 0, SB_ENOMEM, SB_ECLOSING; SB_EINVAL
 * without kind, name or reason. Dropped Events return 0. */
int sb_recorder_event(sb_recorder *r, const sb_objref *obj,
                      sb_event_type type, const char *reason,
                      const char *fmt, ...) SB_PRINTF(5, 6);
/* Writes (creates and repeats) that succeeded and that failed so far
 * (metrics, tests). Either pointer may be NULL. */
void sb_recorder_stats(const sb_recorder *r, unsigned long *written,
                       unsigned long *failed);
/* While held, Event writes yield to the caller's own writes: at most one
 * starts per second, and none waits more than five seconds for it. The
 * controller holds its recorder while reconciles are in flight, so that a
 * burst of "Translated" Events does not take API server time from the
 * writes that converge the mesh objects; the Events follow as soon as it
 * lets go. */
void sb_recorder_hold(sb_recorder *r, int on);
/* Events dropped by the spam filter or the queue cap. */
unsigned long sb_recorder_dropped(const sb_recorder *r);
/* How many Events the de-dup table and spam buckets the spam filter
 * remember now (tests; memory). Either pointer may be NULL. */
void sb_recorder_remembered(const sb_recorder *r, size_t *events,
                            size_t *buckets);
/* Heap bytes the recorder holds now: itself, its tables, and the strings
 * of the Events on their way out (an Event keeps none once written). Not
 * counted: the allocator's overhead, bodies the API client holds (tests;
 * memory). */
size_t sb_recorder_bytes(const sb_recorder *r);
/* Cancels the writes still out, then frees r and calls cb(arg) from the
 * loop. No sb_recorder_event after this (SB_ECLOSING until freed). A
 * second call is ignored. */
void sb_recorder_close(sb_recorder *r, void (*cb)(void *arg), void *arg);

#endif
