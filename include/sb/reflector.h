/* reflector.h -- list, then watch, forever: one resource kept in step.
 *
 * The client-go reflector contract as an explicit state machine (kube-rs'
 * watcher shape):
 *
 *   LISTING   paginated list (limit/continue); its resourceVersion is where
 *             the watch starts. Emits SYNC_BEGIN, APPLY for every object,
 *             SYNC_END -- the consumer drops what it had that the list did
 *             not contain (sb_cache_begin_sync/end_sync).
 *   STREAMING the same list as a watch-list (stream_lists): one watch with
 *             sendInitialEvents=true and resourceVersionMatch=NotOlderThan
 *             (a consistent read, like the paginated list), whose ADDED
 *             events are the list's items and whose bookmark annotated
 *             k8s.io/initial-events-end is its end and resourceVersion:
 *             the same SYNC_BEGIN, APPLY..., SYNC_END, and the stream then
 *             simply goes on as the WATCHING watch. One request instead of
 *             a page per 500 objects followed by a watch, items parsed as
 *             they arrive (no page held whole), and the API server serves
 *             it from its watch cache. A server that refuses it (400 or
 *             422 before any event: the WatchList feature is off, or older
 *             than 1.27, which rejects resourceVersionMatch on watches)
 *             makes the reflector list in pages from then on (one info
 *             line). A 403 up front (a role that may list but not watch)
 *             makes this one list a paginated one (the watch after it
 *             then reports the refusal) and the next list streams again.
 *             A stream that ends before its end bookmark is a failed
 *             list: BACKOFF, then a new stream with a new SYNC_BEGIN.
 *   WATCHING  watch from the last resourceVersion with allowWatchBookmarks
 *             and a randomised timeoutSeconds (between min and 2*min, so
 *             that many reflectors do not reconnect in lock-step); events
 *             become APPLY/DELETE; BOOKMARKs only advance the version. When
 *             the server ends the stream normally, watch again from the
 *             last version at once (unless the watch lasted under a second
 *             and brought nothing: that counts as an error, so a proxy
 *             that closes every stream cannot make us spin). A transport
 *             error or a 5xx also re-watches from the last version, after
 *             BACKOFF; only 410 (and 404: the resource went away) relist.
 *   BACKOFF   after an error: exponential with jitter (sb_backoff), or the
 *             server's Retry-After on 429. Then watch again when a version
 *             is known, else list.
 *
 * 410 Gone (as an HTTP status or as an ERROR event) means our version was
 * compacted away: relist at once (after BACKOFF only when the 410 answers
 * a watch from the version a list just returned, which would otherwise
 * loop). A continue token that expires mid-list restarts the list at once
 * (after BACKOFF when it happens again before a list completes).
 *
 * A resource the server does not serve (404 on list: the CRD is not
 * installed) or refuses (403) is logged as one clear line naming the
 * resource and retried with backoff; it never stops the process or other
 * reflectors.
 *
 * Objects handed to the callback are valid during the call only. Every
 * object carries apiVersion and kind (list items, which the server sends
 * without them, get the list's). A list that fails part-way is started
 * again from its first page with a new SYNC_BEGIN and no SYNC_END for the
 * abandoned one: the consumer treats SYNC_BEGIN as "start marking again".
 *
 * Errors are logged once per distinct message and again only every few
 * minutes while they last (no flood while a CRD is missing); recovery is
 * logged once.
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
  /* 1: list by streaming (STREAMING above), falling back to pages for
   * good if the server refuses; 0: paginated lists only. */
  int stream_lists;
  unsigned min_watch_s;       /* 0 = 300 (timeoutSeconds in [min, 2*min)) */
  sb_backoff backoff;         /* zero = {800 ms, 30 s, 0.2} like client-go */
  /* How often an error that lasts is logged again (with how many times
   * it was seen meanwhile); 0 = every 5 minutes. */
  unsigned error_log_interval_ms;
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
/* The last error and its message (borrowed until the next callback), for
 * readiness reporting: 0 again once a list page, a watch event or a
 * normal end of a watch succeeded after it. *msg may be NULL. */
int sb_reflector_error(const sb_reflector *r, const char **msg);
/* Stops: cancels the request in flight, closes its timer, then cb(arg)
 * from the loop (r is freed by then). No callback of fn runs after this
 * returns; it may be called from inside fn. A second call is ignored. */
void sb_reflector_close(sb_reflector *r, void (*cb)(void *arg), void *arg);

/* Counters for metrics, debugging and tests. Strings are borrowed until
 * the reflector's next callback or request. */
typedef struct sb_reflector_stats {
  const char *state;       /* "new", "listing", "streaming", "watching",
                              "backoff", "stopped" (the client closed
                              under us), "closing" */
  const char *rv;          /* last known resourceVersion, or NULL */
  uint64_t lists;          /* lists started (a list of N pages: 1; a
                              streamed list: 1) */
  uint64_t streamed;       /* of those, streamed (watch-list) */
  uint64_t pages;          /* list pages received */
  uint64_t relists;        /* lists after the first SYNC_END */
  uint64_t gone;           /* 410s (HTTP or ERROR event) */
  uint64_t watches;        /* watch requests started */
  uint64_t events;         /* ADDED/MODIFIED/DELETED delivered */
  uint64_t bookmarks;
  uint64_t errors;         /* failed requests, 410 included */
  uint64_t last_delay_ms;  /* the last backoff waited */
} sb_reflector_stats;

void sb_reflector_get_stats(const sb_reflector *r, sb_reflector_stats *out);

#endif
