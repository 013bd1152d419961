/* model.h -- one version-free model of the objects smi-bridge reads.
 *
 * Every SMI version (TrafficSplit v1alpha1-4, HTTPRouteGroup v1alpha1-4,
 * TCPRoute/UDPRoute v1alpha4, TrafficTarget v1alpha1-3) and the few core
 * objects a translation needs (Service, Pod, ServiceAccount) parse into the
 * structs below. Translators and the controller's cache only ever see this
 * model, never raw JSON, so "which version was it" is answered once, here.
 *
 * Ownership: every string and array of an object lives in the object's own
 * arena (one allocation for a typical object); sb_obj_free releases it all
 * (a pod's shared parts: see sb_obj_share).
 * Values that many objects repeat ("TCP", "Running", "default", method
 * names, common label keys, the apiVersion) may instead point to static
 * storage -- never free or compare them by address. Objects are immutable
 * after parsing. Strings are never NULL unless the comment says so.
 *
 * Liberal on input (docs/mapping.md): weights as integers or quantities in
 * every version, HTTPRouteGroup headers as a list of maps or as a map, the
 * historical `spec.smi-spec.io` group as an alias of `specs.smi-spec.io`.
 * Strict on meaning: anything a translation cannot use faithfully is an
 * SB_DIAG_ERROR diagnostic naming the field path, and no object.
 */
#ifndef SB_MODEL_H
#define SB_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sb/arena.h"
#include "sb/diag.h"
#include "sb/doc.h"

typedef enum sb_kind {
  SB_KIND_UNKNOWN = 0,
  SB_KIND_TRAFFIC_SPLIT,
  SB_KIND_HTTP_ROUTE_GROUP,
  SB_KIND_TCP_ROUTE,
  SB_KIND_UDP_ROUTE,
  SB_KIND_TRAFFIC_TARGET,
  SB_KIND_SERVICE,
  SB_KIND_POD,
  SB_KIND_SERVICE_ACCOUNT,
  SB_KIND__COUNT
} sb_kind;

/* "TrafficSplit", ...; "" for SB_KIND_UNKNOWN. */
const char *sb_kind_name(sb_kind k);
sb_kind sb_kind_from_name(const char *name);
/* Is this one of the SMI kinds (as opposed to a context kind)? */
int sb_kind_is_smi(sb_kind k);

typedef struct sb_kv {
  const char *key;
  const char *value;
} sb_kv;

/* What an object read from the API or a file carries besides its name:
 * reported (involvedObject, owner references) or kept for messages, but
 * never needed to cache a Pod, so cached pods share one empty instance.
 * The uid and creationTimestamp are kept as numbers (a tenth of an SMI
 * object as text): read them with sb_obj_uid and `created`. */
typedef struct sb_obj_meta {
  const char *api_version;  /* as read: "split.smi-spec.io/v1alpha1" */
  const char *file;         /* source file (offline) or NULL */
  int64_t generation;
  int64_t created;          /* creationTimestamp, seconds since 1970 UTC;
                               valid when has_created */
  union {
    unsigned char bin[16];  /* SB_UID_BINARY: a lower-case UUID */
    const char *text;       /* SB_UID_TEXT: any other uid, as read */
  } uid;
  int line;                 /* first line of the object in file, or 0 */
  unsigned char uid_form;   /* SB_UID_NONE (offline input), _BINARY, _TEXT */
  unsigned char has_created;
} sb_obj_meta;

enum { SB_UID_NONE = 0, SB_UID_BINARY = 1, SB_UID_TEXT = 2 };

/* Room for a uid written out (a UUID and its NUL). */
#define SB_UID_BUF 37

/* Common header: every model struct starts with it (cast freely). Small on
 * purpose: tens of thousands of pods are cached, each with this header. */
typedef struct sb_obj {
  sb_kind kind;
  unsigned char version;    /* SMI v1alphaN -> N; 1 for core kinds */
  unsigned char shared;     /* model-internal: how a cached pod is stored
                               (sb_obj_share); 0 otherwise */
  const char *ns;           /* "" when the input had none */
  const char *name;
  const char *resource_version;   /* NULL when absent */
  const sb_obj_meta *meta;  /* never NULL */
  sb_arena *arena;          /* owns all of the above and below, except
                               the parts sb_obj_share moved to a pool;
                               NULL for a pod sb_obj_share made */
} sb_obj;

/* ---- SMI ---------------------------------------------------------------- */

typedef struct sb_ts_backend {
  const char *service;      /* the Service's name ("v2" for "v2.ns" too) */
  int64_t weight_milli;     /* 1 -> 1000, "500m" -> 500, 90 -> 90000 */
  int line;
} sb_ts_backend;

typedef struct sb_ts_match {
  const char *kind;         /* "HTTPRouteGroup" (or "TCPRoute") */
  const char *name;
  int line;
} sb_ts_match;

typedef struct sb_traffic_split {
  sb_obj obj;
  const char *service;      /* spec.service as written */
  const char *root;         /* the root Service's name: "web" for "web",
                               "web.ns", "web.ns.svc", "web.ns.svc.<any
                               cluster domain>[.]"; ns must be the
                               split's own namespace when it has one */
  sb_ts_backend *backends;
  size_t nbackends;
  sb_ts_match *matches;
  size_t nmatches;
} sb_traffic_split;

typedef struct sb_http_match {
  const char *name;
  const char *path_regex;   /* NULL when absent */
  const char **methods;     /* upper case (lower case is read with a
                               warning), "*" kept, no repeats */
  size_t nmethods;
  sb_kv *headers;           /* name (as written) -> value regex, in
                               input order; names unique ignoring case */
  size_t nheaders;
  int line;
} sb_http_match;

typedef struct sb_http_route_group {
  sb_obj obj;
  sb_http_match *matches;
  size_t nmatches;
} sb_http_route_group;

/* TCPRoute and UDPRoute. v1alpha1-3 TCPRoutes have no ports. */
typedef struct sb_port_route {
  sb_obj obj;
  int32_t *ports;           /* distinct, in input order */
  size_t nports;            /* 0 = every port of the destination */
} sb_port_route;

typedef struct sb_subject {
  const char *kind;         /* "ServiceAccount" */
  const char *name;
  const char *ns;           /* defaulted to the object's namespace ("" when
                               the object has none either) */
  int ns_defaulted;         /* 1 when the input left it out */
  int32_t port;             /* v1alpha1/2 destination.port; 0 = all */
  int line;
} sb_subject;

typedef struct sb_tt_rule {
  const char *kind;         /* HTTPRouteGroup | TCPRoute | UDPRoute */
  const char *name;
  const char **matches;     /* HTTPRouteGroup match names; 0 = all */
  size_t nmatches;
  int line;
} sb_tt_rule;

typedef struct sb_traffic_target {
  sb_obj obj;
  sb_subject dest;
  sb_subject *sources;
  size_t nsources;
  sb_tt_rule *rules;        /* v1alpha1 `specs` are rules too */
  size_t nrules;
} sb_traffic_target;

/* ---- context (core/v1) -------------------------------------------------- */

typedef struct sb_service_port {
  const char *name;         /* NULL when unnamed */
  const char *protocol;     /* "TCP" default */
  const char *app_protocol; /* NULL when absent */
  int32_t port;
  int32_t target_port;      /* 0 when target_port_name is set */
  const char *target_port_name;  /* NULL when numeric */
} sb_service_port;

typedef struct sb_service {
  sb_obj obj;
  const char *type;         /* "ClusterIP" default */
  sb_kv *selector;
  size_t nselector;
  sb_service_port *ports;
  size_t nports;
} sb_service;

typedef struct sb_container_port {
  const char *name;         /* NULL when unnamed */
  const char *protocol;     /* "TCP" default */
  int32_t port;
} sb_container_port;

/* What the replicas of one workload have in common, and all that identity
 * derivation reads of a pod: one block shared by every pod of that shape
 * once the controller caches them (sb_obj_share). */
typedef struct sb_pod_shape {
  sb_kv *labels;
  uint32_t nlabels;
  uint32_t nports;
  sb_container_port *ports;     /* of every container and of native
                                   sidecars (init containers with
                                   restartPolicy: Always) */
  const char *service_account;  /* "default" when unset */
  const char *phase;            /* NULL when absent */
} sb_pod_shape;

/* Do two shapes hold the same labels (in order), ports, ServiceAccount
 * and phase? */
int sb_pod_shape_same(const sb_pod_shape *a, const sb_pod_shape *b);

/* Compact on purpose (tens of thousands are cached): obj.meta carries
 * neither uid nor creationTimestamp; obj.resource_version is kept. */
typedef struct sb_pod {
  sb_obj obj;
  sb_pod_shape *shape;          /* never NULL; read-only once parsed */
} sb_pod;

typedef struct sb_service_account {
  sb_obj obj;
} sb_service_account;

/* ---- parsing ------------------------------------------------------------ */

/* Which kind a JSON object is, from apiVersion and kind; SB_KIND_UNKNOWN for
 * anything smi-bridge does not read. Sets *version (may be NULL) to N for
 * v1alphaN, or to 0 when
 * the group and kind are ours but the version is not one we read
 * (sb_model_parse then reports "unsupported version"). */
sb_kind sb_model_detect(const cJSON *json, int *version);

/* Parses one object. doc, when not NULL, is the document the JSON came from
 * (for line numbers in diagnostics and in obj.file/obj.line).
 *
 * Returns 0 and *out on success; SB_ENOTSMI (no diagnostic, *out NULL) for a
 * kind smi-bridge does not read; SB_EINVAL with at least one SB_DIAG_ERROR
 * in diags (reason SB_REASON_INVALID, the field path, the line) when the
 * object is unusable -- every problem of the object is reported, not only
 * the first; SB_ENOMEM. Warnings (deprecated forms, ignored fields) may be
 * added on success. An SMI kind whose apiVersion is missing, has no group
 * or names another smi-spec.io group is clearly meant for us: SB_EINVAL
 * with a diagnostic, not SB_ENOTSMI. Diagnostics carry the document's file
 * and the line/column of the offending node when doc is given. */
int sb_model_parse(const cJSON *json, const sb_doc *doc, sb_obj **out,
                   sb_diags *diags);

void sb_obj_free(sb_obj *obj);

/* ---- sharing what pods repeat ---------------------------------------------
 *
 * The replicas of one workload have the same labels, container ports,
 * ServiceAccount, phase and namespace: the same sb_pod_shape. A pool keeps
 * each shape once, as a refcounted block found by its content (namespace
 * included); sb_obj_share points the pod at it and keeps the rest (the
 * struct, name and resourceVersion) in one allocation of its own, without
 * an arena: about 90 bytes a pod instead of 190. The pod reads exactly as
 * before; sb_obj_free drops its reference. Pools are not thread-safe (one
 * per cache, used from one thread). */
typedef struct sb_pool sb_pool;

sb_pool *sb_pool_new(void);
/* Frees the table. Blocks still held by objects stay valid until their
 * last object is freed. */
void sb_pool_free(sb_pool *p);
/* Bytes held by the pool's blocks and table (each block counted once),
 * and how many blocks there are. */
size_t sb_pool_bytes(const sb_pool *p);
size_t sb_pool_count(const sb_pool *p);
/* For a pod parsed from the API (no file): replaces *obj by
 * the shared form (the old one is freed). 0, or SB_ENOMEM with *obj
 * unchanged. Any other object, or a pod already shared: 0, unchanged. */
int sb_obj_share(sb_obj **obj, sb_pool *pool);

/* The object's uid as text: buf (a UUID written out) or the uid as read;
 * NULL when it has none. */
const char *sb_obj_uid(const sb_obj *obj, char buf[SB_UID_BUF]);
/* Sets m's uid from text: 16 bytes for a lower-case UUID, else text
 * itself (not copied: it must live as long as m). NULL clears it. */
void sb_obj_meta_set_uid(sb_obj_meta *m, const char *text);

/* A diagnostic location for an object (file, line, kind, ns, name). */
sb_diag_loc sb_obj_loc(const sb_obj *obj);

/* Bytes the object holds (arena size), for memory accounting. */
size_t sb_obj_size(const sb_obj *obj);

#endif
