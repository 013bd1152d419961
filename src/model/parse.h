/* parse.h -- private to the model module: the parse context and helpers
 * that every kind's parser shares.
 *
 * Parsing runs twice over the same JSON (see parse.c): a first pass that
 * checks everything, reports every problem and measures the bytes the
 * object needs, then -- only when the object is valid -- a second pass that
 * builds it into an arena of exactly that size. Kind parsers are written
 * once and do not know which pass they are in; they only use the helpers
 * below, which count in the first pass and keep quiet in the second.
 */
#ifndef SB_MODEL_PARSE_H
#define SB_MODEL_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sb/common.h"
#include "sb/model.h"

/* Longest field path we print ("spec.rules[12].matches[3]"); longer ones
 * are cut, which only shortens a message. */
#define SB__PATH_MAX 160
/* Room for one quoted value in a message (long values are cut). */
#define SB__QUOTE_MAX 96

typedef struct sb__pctx {
  const sb_doc *doc;        /* NULL when positions are unknown */
  sb_diags *diags;          /* NULL: report nothing (the second pass) */
  sb_arena *arena;
  char *str;                /* packed string area (second pass) */
  size_t str_left;
  size_t str_total;         /* second pass: bytes the first pass counted */
  size_t need_mem;          /* bytes of structs and arrays, 8-aligned */
  size_t need_str;          /* bytes of strings incl. their NULs */
  int build;                /* 0: first pass, 1: second pass */
  int nerr;
  int oom;
  sb_kind kind;
  int version;
  const char *ns;           /* the object's namespace as read, or "" */
  sb_diag_loc loc;          /* file, kind, ns, name for diagnostics */
} sb__pctx;

/* ---- memory -------------------------------------------------------------- */

/* Zeroed memory from the object's arena; NULL (and c->oom) on failure. */
void *sb__alloc(sb__pctx *c, size_t n);
/* n elements of size bytes; NULL without allocating when n is 0. */
void *sb__array(sb__pctx *c, size_t n, size_t size);
/* Copies s into the object's packed string area; NULL for NULL. */
const char *sb__str(sb__pctx *c, const char *s);
/* Like sb__str, but values that most objects share ("TCP", "Running",
 * "app", ...) point to one static copy instead. */
const char *sb__str_common(sb__pctx *c, const char *s);
/* Does s point to one of those shared static strings? */
int sb__is_common(const char *s);
/* For a pod sb_obj_share made: drops its reference on the shape's pool
 * block, frees the pod and returns 1; any other object: 0, untouched
 * (pool.c; sb_obj_free calls it). */
int sb__obj_release(sb_obj *o);
/* Bytes a pod sb_obj_share made holds (it has no arena). */
size_t sb__obj_own_size(const sb_obj *o);
/* The one meta cached pods share (apiVersion "v1", nothing else). */
const sb_obj_meta *sb__pod_meta(void);

/* ---- diagnostics --------------------------------------------------------- */

/* An error/warning about `node` (or about a field missing from it) at the
 * field path `path`. Errors make the object invalid. */
void sb__err(sb__pctx *c, const cJSON *node, const char *path,
             const char *fmt, ...) SB_PRINTF(4, 5);
void sb__warn(sb__pctx *c, const cJSON *node, const char *path,
              const char *fmt, ...) SB_PRINTF(4, 5);
/* A field of another API version, honoured anyway (reason
 * SB_REASON_VERSION_SKEW). Offline these tell the author; the controller
 * drops them, because with conversion None the API server hands every
 * object out under the version being watched, whatever the author wrote. */
void sb__warn_version(sb__pctx *c, const cJSON *node, const char *path,
                      const char *fmt, ...) SB_PRINTF(4, 5);

/* "base.key" ("key" when base is empty), "base[i]" and "base[key]" (a map
 * key that may itself hold dots, the way Kubernetes prints field paths)
 * into buf, which holds SB__PATH_MAX bytes. */
const char *sb__path(char *buf, const char *base, const char *key);
const char *sb__pathi(char *buf, const char *base, size_t i);
const char *sb__pathk(char *buf, const char *base, const char *key);
/* s in double quotes, escaped and cut to 64 characters, into buf (holds
 * SB__QUOTE_MAX bytes): user text in messages stays one readable line. */
const char *sb__quote(char *buf, const char *s);
/* A scalar as the user wrote it: "text" quoted, 1.5, or its type. */
const char *sb__scalar(char *buf, const cJSON *n);

/* ---- reading JSON -------------------------------------------------------- */

/* The member `key` of obj; NULL when absent or JSON null (Kubernetes reads
 * an explicit null as "not set"). */
const cJSON *sb__get(const cJSON *obj, const char *key);
/* "a string", "a number", "a list", ... for messages. */
const char *sb__type(const cJSON *n);

/* A string member. Returns the JSON's own string (copy it to keep it) or
 * NULL: when absent (an error "is required" if required) or not a string
 * (always an error). */
const char *sb__get_str(sb__pctx *c, const cJSON *obj, const char *base,
                        const char *key, int required);
/* A member that must be a map / a list when present; NULL when absent (an
 * error if required) or of another type (an error). */
const cJSON *sb__get_map(sb__pctx *c, const cJSON *obj, const char *base,
                         const char *key, int required);
const cJSON *sb__get_list(sb__pctx *c, const cJSON *obj, const char *base,
                          const char *key, int required);
/* Is n a JSON number holding a whole value in [min, max]? */
int sb__is_int(const cJSON *n, int64_t min, int64_t max, int64_t *out);
/* A port number 1..65535 in node (already fetched). 0 and an error when it
 * is anything else. */
int32_t sb__port(sb__pctx *c, const cJSON *node, const char *path);
/* Lists whose entries are checked against each other for repeats are
 * capped, which keeps those checks (and a hostile input) cheap; no real
 * object comes near it. Reports an error and returns 0 when n is above. */
#define SB__MAX_ITEMS 1000
int sb__len_ok(sb__pctx *c, const cJSON *node, const char *path, size_t n);
/* A map of string to string (labels, selector) into kv/nkv. */
int sb__string_map(sb__pctx *c, const cJSON *map, const char *path,
                   sb_kv **kv, size_t *nkv);

/* ---- names --------------------------------------------------------------- */

/* Reports an error unless s is a valid object name / namespace / Service
 * name; returns 1 when valid. */
int sb__check_subdomain(sb__pctx *c, const cJSON *node, const char *path,
                        const char *s);
int sb__check_label(sb__pctx *c, const cJSON *node, const char *path,
                    const char *s);
int sb__check_service_name(sb__pctx *c, const cJSON *node, const char *path,
                           const char *s);

/* ---- shared parsers ------------------------------------------------------ */

/* Allocates the kind's struct (size bytes, starting with sb_obj) and fills
 * the header from apiVersion and metadata. NULL only on ENOMEM. */
sb_obj *sb__obj_new(sb__pctx *c, const cJSON *json, size_t size);

sb_obj *sb__parse_split(sb__pctx *c, const cJSON *json);
sb_obj *sb__parse_route_group(sb__pctx *c, const cJSON *json);
sb_obj *sb__parse_port_route(sb__pctx *c, const cJSON *json);
sb_obj *sb__parse_target(sb__pctx *c, const cJSON *json);
sb_obj *sb__parse_service(sb__pctx *c, const cJSON *json);
sb_obj *sb__parse_pod(sb__pctx *c, const cJSON *json);
sb_obj *sb__parse_service_account(sb__pctx *c, const cJSON *json);

/* ---- quantities (quantity.c) --------------------------------------------- */

typedef enum {
  SB__Q_OK = 0,
  SB__Q_SYNTAX,     /* not a Kubernetes quantity */
  SB__Q_NEGATIVE,   /* below zero */
  SB__Q_PRECISION,  /* finer than 1m ("1u", "0.0001") */
  SB__Q_RANGE       /* larger than max_milli */
} sb__qerr;

/* A Kubernetes resource.Quantity ("500m", "1", "1.5", "1k", "2Ki", "1e3")
 * as an exact count of milli-units, refusing anything above max_milli. */
sb__qerr sb__quantity_milli(const char *s, int64_t max_milli, int64_t *out);
/* A milli count as a short decimal: 1500 -> "1.5", 10 -> "0.01". */
const char *sb__milli_str(int64_t milli, char *buf, size_t n);

/* ---- regular expressions (regex.c) --------------------------------------- */

/* Checks that re is in the regex dialect every target mesh understands
 * (RE2 as used by Istio/Envoy, Go's regexp, Rust's regex): 0 when it is,
 * else -1 with a reason in why. */
int sb__regex_check(const char *re, char *why, size_t n);

#endif
