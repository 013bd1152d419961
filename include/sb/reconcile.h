/* reconcile.h -- the decision: what to apply, what to delete, for one key.
 *
 * Pure (no uv, no curl, no clock): given the cache and a key it translates
 * (sb_translate) and compares the desired objects with what the cache holds:
 *
 *   desired, absent                      -> apply
 *   desired, ours, already as desired    -> nothing (desired is a subset of
 *                                           what the server holds)
 *   desired, ours, different             -> apply
 *   desired, exists without our label,   -> CONFLICT: never adopted,
 *     or ours but from another source       overwritten or deleted
 *   ours from this key, not desired      -> delete (uid precondition)
 *
 * An invalid source (sb_cache_invalid, or translation outcome INVALID)
 * yields no actions at all: what exists stays. The plan carries every
 * diagnostic to turn into Events (InvalidSpec, Conflict, MissingDependency,
 * warnings) and the dependencies to record in the index.
 */
#ifndef SB_RECONCILE_H
#define SB_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sb/cache.h"
#include "sb/diag.h"
#include "sb/index.h"
#include "sb/translate.h"

/* Diagnostic reason for a translation that produced an object reconcile
 * cannot place (a kind not in sb_translate_output_kinds, no name): a bug
 * guard, never the user's fault. */
#define SB_REASON_INTERNAL "InternalError"

typedef enum { SB_ACTION_APPLY = 0, SB_ACTION_DELETE = 1 } sb_action_type;

typedef struct sb_action {
  sb_action_type type;
  const sb_gvk *gvk;
  char *ns;
  char *name;
  cJSON *obj;          /* APPLY: the object to send (owned) */
  char *uid;           /* DELETE: precondition */
  char *resource_version; /* DELETE: precondition, may be NULL */
} sb_action;

typedef struct sb_plan {
  sb_outcome outcome;
  sb_action *actions;  /* applies first (translation order), then deletes */
  size_t nactions;
  size_t unchanged;    /* desired objects already in place */
  sb_diags diags;      /* translation diagnostics + conflicts */
  sb_dep *deps;        /* copied from the translation (owned) */
  size_t ndeps;
  sb_index_obj *wanted; /* every desired object (strings owned) */
  size_t nwanted;
  /* The source object, for Events (owned copies): NULL when it is gone. */
  char *src_api_version;
  char *src_uid;
} sb_plan;

void sb_plan_init(sb_plan *p);
void sb_plan_free(sb_plan *p);

/* Fills plan (initialised with sb_plan_init and empty) for key.
 *
 *   outcome OK       diags: the source's parse warnings (sb_cache_warnings),
 *                    the translation's, then conflicts.
 *                    actions as in the table above; applies in translation
 *                    order, then deletes sorted by kind, namespace, name.
 *                    Only objects in the key's own namespace are pruned:
 *                    the source labels do not name the source's namespace.
 *   outcome INVALID  no actions at all. diags are the invalid entry's
 *                    (sb_cache_invalid) when there is one, else the
 *                    translation's.
 * Either way deps and wanted are filled (wanted: what the translation of
 * the world's version produced -- for an invalid source, its last valid
 * version), ready for sb_index_set, and src_api_version/src_uid come from
 * the invalid entry, else the world's object, else stay NULL.
 * Conflicts are SB_DIAG_ERROR diagnostics (reason SB_REASON_CONFLICT) on
 * the source key. 0, SB_EINVAL, or SB_ENOMEM (plan partly filled: free it
 * with sb_plan_free). */
int sb_reconcile(const sb_cache *c, const sb_key *key,
                 const sb_translate_opts *o, sb_plan *plan);

/* Is every field of desired present, equal, in actual? (objects:
 * recursively per key; arrays: same length, element-wise; scalars equal;
 * numbers compared as numbers; strings, booleans and null exactly). An
 * empty map or list in desired also matches a missing or null field (the
 * API server drops empty values). NULL desired is a subset of anything.
 * Exposed for tests. */
int sb_json_subset(const cJSON *desired, const cJSON *actual);

#endif
