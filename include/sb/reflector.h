/* reflector.h -- list, then watch, forever: one resource kept in step.
 *
 * The client-go reflector contract as an explicit state machine (kube-rs'
 * watcher shape):
 *
 *   LISTING   paginated list (limit/continue); its resourceVersion is where
 *             the watch starts. Emits SYNC_BEGIN, APPLY for every object,
 *             SYNC_END -- the consumer drops what it had that the list did
 *             not contain (sb_cache_begin_sync/end_sync).
 *   WATCHING  watch from the last resourceVersion with allowWatchBookmarks
 *             and a randomised timeoutSeconds (between min and 2*min, so
 *             that many reflectors do not reconnect in lock-step); events
 *             become APPLY/DELETE; BOOKMARKs only advance the version. When
 *             the server ends the stream normally, watch again from the
 *             last version.
 *   BACKOFF   after an error: exponential with jitter (sb_backoff), or the
 *             server's Retry-After on 429. Then watch again when a version
 *             is known, else list.
 *
 * 410 Gone (as an HTTP status or as an ERROR event) means our version was
 * compacted away: relist at once. A resource the server does not serve
 * (404 on list: the CRD is not installed) or refuses (403) is logged as one
 * clear line naming the resource and retried with backoff; it never stops
 * the process or other reflectors.
 *
 * Objects handed to the callback are valid during the call only.
 */
#ifndef SB_REFLECTOR_H
#define SB_REFLECTOR_H

#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "sb/kube.h"
#include "sb/ratelimit.h"

typedef struct sb_reflector sb_reflector;

typedef enum {
  SB_REFLECT_SYNC_BEGIN = 0,  /* a (re)list starts; obj is NULL */
  SB_REFLECT_APPLY = 1,       /* added or modified (also list items) */
  SB_REFLECT_DELETE = 2,
  SB_REFLECT_SYNC_END = 3     /* the list is complete; obj is NULL */
} sb_reflect_ev;

typedef void (*sb_reflector_fn)(void *arg, sb_reflect_ev ev,
                                const cJSON *obj);

typedef struct sb_reflector_opts {
  const char *name;           /* for logs: "trafficsplits.split.smi-spec.io" */
  sb_gvr gvr;
  const char *ns;             /* NULL = all namespaces */
  const char *label_selector; /* NULL = everything */
  long page_size;             /* 0 = 500 */
  unsigned min_watch_s;       /* 0 = 300 (timeoutSeconds in [min, 2*min)) */
  sb_backoff backoff;         /* zero = {800 ms, 30 s, 0.2} like client-go */
  /* Random numbers in [0,1) for jitter and timeouts; NULL = the module's
   * own generator. Tests inject a fixed sequence. */
  double (*rand)(void *arg);
  void *rand_arg;
} sb_reflector_opts;

int sb_reflector_new(uv_loop_t *loop, sb_kube *k,
                     const sb_reflector_opts *o, sb_reflector_fn fn,
                     void *arg, sb_reflector **out);
/* Starts listing. 0, or SB_ECLOSING. */
int sb_reflector_start(sb_reflector *r);
/* 1 once the first SYNC_END was delivered (stays 1 across relists). */
int sb_reflector_synced(const sb_reflector *r);
/* The last error (0 when the last request succeeded) and its message, for
 * readiness reporting and logs. */
int sb_reflector_error(const sb_reflector *r, const char **msg);
/* Stops: cancels the request in flight, closes its timer, then cb(arg).
 * No callback of fn runs after this returns. */
void sb_reflector_close(sb_reflector *r, void (*cb)(void *arg), void *arg);

#endif
