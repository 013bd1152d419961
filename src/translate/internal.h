/* internal.h -- private to src/translate: what its files share.
 *
 * Not a contract. The files are split by concern (naming, weights, match
 * conversion, identity, TrafficTarget rule semantics, one file per mesh)
 * and meet here. Everything is pure: no I/O, no clock, no randomness.
 *
 * Error handling inside a translation is "sticky": the JSON and diagnostic
 * helpers take a possibly NULL parent, and any allocation failure sets
 * t->oom. Builders therefore read top to bottom without a check after
 * every cJSON call; sb_translate turns t->oom into SB_ENOMEM at the end.
 */
#ifndef SB_TRANSLATE_INTERNAL_H
#define SB_TRANSLATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sb/buf.h"
#include "sb/common.h"
#include "sb/kname.h"
#include "sb/translate.h"

/* ---- one translation ---------------------------------------------------- */

typedef struct sb__tx {
  const sb_world *w;
  const sb_translate_opts *o;
  const sb_key *key;
  sb_out *out;
  const sb_obj *src;     /* the key's object; NULL for ServiceAccount keys */
  sb_diag_loc loc;       /* where diagnostics point */
  int oom;
} sb__tx;

/* Appends a diagnostic at t->loc. */
void sb__diag(sb__tx *t, sb_diag_sev sev, const char *reason,
              const char *path, const char *fmt, ...) SB_PRINTF(5, 6);
#define sb__err(t, reason, path, ...) \
  sb__diag((t), SB_DIAG_ERROR, (reason), (path), __VA_ARGS__)
#define sb__warn(t, reason, path, ...) \
  sb__diag((t), SB_DIAG_WARNING, (reason), (path), __VA_ARGS__)

/* qsort comparator for int32_t (ports). */
int sb__cmp_int32(const void *a, const void *b);

/* "<prefix>[<i>]<suffix>" into buf (size bytes), cut and terminated the
 * way snprintf would: element paths are built for every element whether
 * or not a message follows, so they are not worth a printf. */
const char *sb__epath(char *buf, size_t size, const char *prefix, size_t i,
                      const char *suffix);

/* Records a dependency (deduplicated). */
void sb__dep(sb__tx *t, sb_dep_sel sel, sb_kind kind, const char *ns,
             const char *name);
/* sb_world_get plus an SB_DEP_OBJECT dependency, present or not. */
const sb_obj *sb__tx_get(sb__tx *t, sb_kind kind, const char *ns,
                      const char *name);

/* ---- JSON building (sticky errors) -------------------------------------- */

/* key NULL appends to an array parent. Each returns the new node or NULL.
 *
 * key must be a string literal (or otherwise live for the whole program):
 * the node keeps the pointer, not a copy (cJSON_StringIsConst), which
 * spares a malloc, a copy and a free for nearly every member written.
 * Keys that come from the input (label keys, header names) go through
 * the _dup variants, which copy. */
cJSON *sb__jobj(sb__tx *t, cJSON *parent, const char *key);
cJSON *sb__jarr(sb__tx *t, cJSON *parent, const char *key);
cJSON *sb__jstr(sb__tx *t, cJSON *parent, const char *key, const char *v);
cJSON *sb__jint(sb__tx *t, cJSON *parent, const char *key, int64_t v);
cJSON *sb__jbool(sb__tx *t, cJSON *parent, const char *key, int v);
/* Adds node under parent (or frees it when parent is NULL). */
cJSON *sb__jadd(sb__tx *t, cJSON *parent, const char *key, cJSON *node);
/* The same with a key of any lifetime (copied). */
cJSON *sb__jobj_dup(sb__tx *t, cJSON *parent, const char *key);
cJSON *sb__jstr_dup(sb__tx *t, cJSON *parent, const char *key,
                    const char *v);
/* Appends item to arr unless an equal item is already there (then frees
 * it). Returns 1 when appended. */
int sb__jadd_unique(sb__tx *t, cJSON *arr, cJSON *item);

/* A generated object with its metadata (docs/mapping.md, "Naming" and
 * "Metadata"): apiVersion, kind, metadata{name, namespace, labels,
 * ownerReferences}. owners with a uid become ownerReferences;
 * controller: true only when there is exactly one owner and `controller`
 * is set. The caller adds "spec" and pushes it. */
cJSON *sb__object(sb__tx *t, const char *api_version, const char *kind,
                  const char *name, const char *ns,
                  const sb_obj *const *owners, size_t nowners,
                  int controller);
/* Appends a finished object to the result (or frees it on OOM). */
void sb__push(sb__tx *t, cJSON *obj);

/* ---- names (names.c) ---------------------------------------------------- */

#define SB__NAME_MAX 63
#define SB__HASH_HEX 10

/* "<src>-<tag>" or "<src>-<tag>-<part>" (part > 0), cut and hashed when it
 * would not be a DNS-1123 subdomain of at most 63 characters. 0 or
 * SB_ENOMEM. */
int sb__name(char out[SB__NAME_MAX + 1], const char *src, const char *tag,
             int32_t part);
/* The first SB__HASH_HEX hex digits of SHA-256(s). */
int sb__hash_hex(const char *s, size_t n, char out[SB__HASH_HEX + 1]);
/* "<svc>.<ns>.svc.<cluster domain>" into b. */
int sb__fqdn(sb_buf *b, const char *svc, const char *ns, const char *cd);

/* ---- weights (weights.c) ------------------------------------------------ */

#define SB__WEIGHT_MAX 1000000  /* Gateway API / Linkerd per-backend cap */

typedef enum {
  SB__W_OK = 0,
  SB__W_NEGATIVE,   /* *bad = the first negative index */
  SB__W_ZERO        /* no backend, or every weight 0 */
} sb__wres;

/* From milli-units to exact relative integers: multiplied by the smallest
 * k in {1, 10, 100, 1000} that makes every weight whole after dividing by
 * 1000, then scaled down proportionally when one exceeds SB__WEIGHT_MAX
 * (non-zero weights stay >= 1; *scaled = 1). */
sb__wres sb__weights(const int64_t *milli, size_t n, int64_t *out,
                     size_t *bad, int *scaled);
/* Largest-remainder shares of w (sum > 0) that add up to total: floor
 * first, leftovers to the largest remainders, ties by order; 0 stays 0. */
void sb__weights_share(const int64_t *w, size_t n, int64_t total,
                       int64_t *out);

/* ---- matches (match.c) -------------------------------------------------- */

typedef enum {
  SB__PATH_ALL = 0, /* matches every path: no condition */
  SB__PATH_PREFIX,  /* literal L: string prefix L */
  SB__PATH_EXACT,   /* L$ */
  SB__PATH_SEGMENT, /* L(/.*)?$ and equivalents: L or L/... */
  SB__PATH_REGEX    /* anything else */
} sb__path_kind;

/* Classifies an SMI pathRegex (anchored at the start only; NULL = absent)
 * and puts the literal L (unescaped) into lit for PREFIX/EXACT/SEGMENT. */
sb__path_kind sb__path_classify(const char *re, sb_buf *lit);
/* "(?:P).*": an SMI regex for engines that match whole paths. */
int sb__path_regex(const char *re, sb_buf *out);
/* Is s a literal regex (only literal characters and escaped punctuation)?
 * Puts the unescaped text into lit when it is. */
int sb__regex_literal(const char *s, size_t n, sb_buf *lit);
/* Is this an HTTP method every target accepts (GET ... PATCH)? */
int sb__method_ok(const char *m);
int sb__header_name_ok(const char *s);
/* Is p a path value Gateway API accepts for Exact/PathPrefix? */
int sb__route_path_ok(const char *p);

/* A list of malloc'd strings. */
typedef struct sb__strv {
  char **v;
  size_t n, cap;
} sb__strv;
void sb__strv_free(sb__strv *s);
int sb__strv_add(sb__strv *s, const char *str, size_t len);  /* dedups */

/* AuthorizationPolicy `paths` for a pathRegex (istio README §4.3): 0 and
 * the paths (none = every path), 1 when it cannot be expressed without
 * widening, SB_ENOMEM. */
int sb__ap_paths(const char *re, sb__strv *paths);
/* AuthorizationPolicy header values (exact, prefix*, *suffix, * presence)
 * for a full-match header regex: 0, 1 (inexpressible) or SB_ENOMEM. */
int sb__ap_header_values(const char *re, sb__strv *values);

/* Which of the three match shapes to build. */
typedef enum {
  SB__MATCH_VS = 0,    /* Istio HTTPMatchRequest */
  SB__MATCH_ROUTE      /* Gateway API / Linkerd HTTPRouteMatch */
} sb__match_form;

/* Converts one SMI match into entries appended (deduplicated) to list.
 * `what` names it in diagnostics ("HTTPRouteGroup ns/g match \"m\"").
 * *all is set when the match has no condition at all. Returns 0, or -1
 * after an error diagnostic (invalid input). */
int sb__convert_match(sb__tx *t, sb__match_form form, const sb_http_match *m,
                      const char *what, const char *path, cJSON *list,
                      int *all);
/* Istio AuthorizationPolicy form: an operation {ports (a copy of the
 * given array, if any), methods, paths} (NULL when it would be
 * empty) and `when` conditions (NULL when none). Returns 0, 1 when the
 * match cannot be expressed without widening (a MatchDropped warning is
 * added), or -1 after an error diagnostic. */
int sb__convert_match_ap(sb__tx *t, const sb_http_match *m,
                         const cJSON *ports, const char *what,
                         const char *path, cJSON **op, cJSON **when);
/* "HTTPRouteGroup ns/name match \"m\"" into b. */
void sb__match_what(sb_buf *b, const sb_http_route_group *g,
                    const sb_http_match *m);

/* ---- identity (identity.c) ---------------------------------------------- */

typedef enum {
  SB__ID_OK = 0,
  SB__ID_NO_PODS,    /* MissingDependency error added */
  SB__ID_NO_LABEL,   /* InvalidSpec error added */
  SB__ID_CONFLICT    /* Conflict error added: write nothing */
} sb__id_status;

typedef struct sb__identity {
  sb_kv *labels;     /* malloc'd array; strings borrowed from the world */
  size_t nlabels;    /* sorted by key */
  int32_t *ports;    /* malloc'd; TCP container ports, ascending */
  size_t nports;
} sb__identity;

/* The pod selector for ServiceAccount ns/sa: labels every non-terminal
 * pod running as sa has with the same value, minus volatile keys. Checks
 * that it selects no non-terminal pod of another ServiceAccount. Records
 * SB_DEP_PODS_OF_SA and SB_DEP_PODS_IN_NS. `path` is where diagnostics
 * point. Returns the status (diagnostics added), or SB_ENOMEM. */
int sb__identity_derive(sb__tx *t, const char *ns, const char *sa,
                        const char *path, sb__identity *id);
void sb__identity_free(sb__identity *id);
/* Is the label key one that changes between pods of one workload? */
int sb__label_volatile(const char *key);

/* ---- TrafficTarget rule semantics (access.c) ---------------------------- */

typedef struct sb__access_match {
  const sb_http_route_group *group;
  const sb_http_match *match;
  size_t rule;          /* index of the rule that selected it */
} sb__access_match;

typedef struct sb__access {
  int invalid;          /* an error diagnostic was added */
  int all_ports;        /* every port of the destination */
  int32_t *ports;       /* when !all_ports: ascending, unique (malloc'd) */
  size_t nports;
  int http;             /* HTTP routes restrict what is allowed */
  sb__access_match *matches;  /* when http (malloc'd) */
  size_t nmatches;
  int nothing;          /* allows nothing at all */
} sb__access;

/* Evaluates the rules of tt (docs/mapping.md#traffictarget-rules):
 * TCPRoute rules give ports, HTTPRouteGroup rules give routes, both means
 * the routes on those ports, v1alpha1/2 destination.port narrows, UDPRoute
 * is dropped with a warning. Also checks the TrafficTarget itself
 * (destination in its own namespace, ServiceAccount subjects, at least one
 * source and rule). Records the route objects as dependencies. 0 or
 * SB_ENOMEM. */
int sb__access_eval(sb__tx *t, const sb_traffic_target *tt, sb__access *a);
void sb__access_free(sb__access *a);

/* ---- TrafficSplit common checks (translate.c) --------------------------- */

typedef struct sb__split {
  int64_t *weights;     /* exact integers, one per backend (malloc'd) */
  const sb_http_route_group **groups;  /* matches (malloc'd) */
  size_t ngroups;
  int has_matches;      /* spec.matches was given */
} sb__split;

/* Shared first steps for a TrafficSplit key: conflict resolution by root,
 * weights, referenced HTTPRouteGroups. Returns 1 when the translation
 * should go on, 0 when it is finished (outcome already set: a lost
 * conflict -> OK with no objects; invalid -> INVALID). */
int sb__split_prepare(sb__tx *t, const sb_traffic_split *ts, sb__split *s);
void sb__split_free(sb__split *s);

/* ---- backends ----------------------------------------------------------- */

/* One mesh: what a TrafficSplit, a TrafficTarget and a ServiceAccount key
 * become. Gateway API routes replace `split` (gateway.c). */
typedef struct sb__backend {
  const char *name;
  void (*split)(sb__tx *t, const sb_traffic_split *ts);
  void (*target)(sb__tx *t, const sb_traffic_target *tt);
  void (*service_account)(sb__tx *t, const char *ns, const char *name);
} sb__backend;

extern const sb__backend sb__istio_backend;
extern const sb__backend sb__linkerd_backend;
void sb__gateway_split(sb__tx *t, const sb_traffic_split *ts);
/* Does the Service expose this port number? */
int sb__svc_has_port(const sb_service *svc, int32_t port);

/* HTTPRoutes for a split, one per root Service port: shared by Linkerd
 * (policy.linkerd.io, parent group "core") and Gateway API
 * (gateway.networking.k8s.io, parent group ""). */
typedef struct sb__route_flavor {
  const char *api_version;
  const char *group;         /* of the route itself, for references */
  const char *parent_group;
  size_t max_matches_rule;   /* per rule */
  size_t max_matches_total;  /* over all rules, the catch-all included */
  size_t max_rules;
} sb__route_flavor;

extern const sb__route_flavor sb__gateway_flavor;

void sb__split_routes(sb__tx *t, const sb_traffic_split *ts,
                      const sb__route_flavor *f);
/* Splits converted route matches into rules of at most f->max_matches_rule
 * matches, each rule getting a copy of `proto` (backendRefs or nothing)
 * under its "backendRefs" key when proto is not NULL. Returns the number
 * of rules added, or -1 after an error diagnostic (too many). */
int sb__route_rules(sb__tx *t, const sb__route_flavor *f, cJSON *rules,
                    cJSON *matches, const cJSON *backend_refs,
                    size_t reserve_rules, size_t reserve_matches,
                    const char *path);

#endif
