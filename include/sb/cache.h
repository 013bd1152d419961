/* cache.h -- the controller's picture of the cluster.
 *
 * Three parts, all written by the reflectors only (a single writer) and
 * read by reconcile:
 *
 *   world      the model objects translations read: SMI objects (their last
 *              VALID version), Services, Pods (compact), ServiceAccounts.
 *   generated  every object of the kinds smi-bridge may write, ours or not:
 *              ours (managed-by=smi-bridge) with a fingerprint of their
 *              fields, so reconcile can tell whether the desired object is
 *              already there (sb_gen_contains); foreign ones only as a
 *              name, so reconcile can refuse to touch them.
 *   invalid    SMI objects whose current version does not parse: their
 *              diagnostics and uid (for the Event). Their last valid version,
 *              if any, stays in the world -- a bad edit changes nothing.
 *
 * Relists: between sb_cache_begin_sync and sb_cache_end_sync of one
 * resource in one namespace (or in all), every object of that namespace
 * put or confirmed is marked; end_sync removes the unmarked ones of that
 * resource and namespace (deleted while we were not watching) and reports
 * them through the change callback like any deletion. Syncs of different
 * namespaces may interleave freely (one reflector per namespace).
 *
 * Every change is reported to one callback with the old and the new object
 * (either may be NULL) so the controller can find the keys it affects.
 * Pointers handed to the callback are valid during the call only.
 */
#ifndef SB_CACHE_H
#define SB_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sb/diag.h"
#include "sb/model.h"
#include "sb/translate.h"
#include "sb/world.h"

typedef struct sb_cache sb_cache;

/* One object of a generated kind. */
typedef struct sb_gen {
  const sb_gvk *gvk;           /* one of sb_translate_output_kinds */
  const char *ns;
  const char *name;
  const char *uid;
  const char *resource_version;
  int managed;                 /* labelled managed-by=smi-bridge */
  const char *source_kind;     /* label values, NULL when absent */
  const char *source_name;
  /* The source's full name (the label value is hashed for names over 63
   * characters): the smi-bridge.io/source-name annotation when present,
   * else the name of the one ownerReference of the source's kind whose
   * sb_label_value is the label, else the label; NULL when none is
   * there. */
  const char *source_full_name;
} sb_gen;

/* The current, unusable version of an SMI object. */
typedef struct sb_invalid {
  const char *api_version;     /* NULL when absent */
  const char *uid;             /* NULL when absent */
  const char *resource_version;
  sb_diags diags;              /* at least one SB_DIAG_ERROR */
} sb_invalid;

typedef enum {
  SB_CHANGE_MODEL = 0,         /* world object (old/new are sb_obj) */
  SB_CHANGE_GENERATED = 1,     /* generated object (old/new are sb_gen) */
  SB_CHANGE_INVALID = 2        /* an SMI object became (in)valid */
} sb_change_type;

/* old_obj/new_obj point to an sb_obj (MODEL: the world's valid versions),
 * an sb_gen (GENERATED) or an sb_invalid (INVALID: the previous and the new
 * unusable version; new_obj NULL when the object became valid again or was
 * deleted). An SMI object turning invalid is one INVALID change (the world
 * keeps its last valid version, so there is no MODEL change); turning valid
 * again is a MODEL change followed by an INVALID change. A Pod update that
 * changes nothing the model keeps (labels, serviceAccountName, phase,
 * ports) is stored but not reported: pods churn, translations do not care.
 * An update with the resourceVersion already held (a relist) is neither. */
typedef struct sb_change {
  sb_change_type type;
  const void *old_obj;         /* NULL on create */
  const void *new_obj;         /* NULL on delete */
  sb_kind kind;                /* for MODEL and INVALID */
  const char *ns;
  const char *name;
} sb_change;

typedef void (*sb_cache_fn)(void *arg, const sb_change *c);

sb_cache *sb_cache_new(sb_cache_fn on_change, void *arg);
void sb_cache_free(sb_cache *c);
const sb_world *sb_cache_world(const sb_cache *c);

/* Feeds one object as the API server sent it. `res` tells which watched
 * resource it came from: a model kind (SMI or context; parsed with
 * sb_model_parse -- an invalid SMI object goes to the invalid set with its
 * diagnostics; any other object that does not parse is skipped, its last
 * good version kept), or a generated kind (gvk != NULL; kinds are told
 * apart by group and kind, the version does not matter). For model kinds
 * the object must carry its kind and apiVersion (list items do not: the
 * reflector sets them from the list). 0, SB_EINVAL (no metadata.name, or
 * the kind is not the resource's; nothing changed) or SB_ENOMEM. */
typedef struct sb_cache_res {
  sb_kind kind;                /* SB_KIND_UNKNOWN for generated kinds */
  const sb_gvk *gvk;           /* NULL for model kinds */
  /* The namespace the resource is watched in, NULL for every namespace.
   * Only the syncs use it (which objects a sweep may remove); apply and
   * delete go by the object's own namespace. */
  const char *ns;
} sb_cache_res;

int sb_cache_apply(sb_cache *c, const sb_cache_res *res, const cJSON *obj);
/* Removes the object named by obj's metadata (valid and invalid versions);
 * 0 when it was not there. */
int sb_cache_delete(sb_cache *c, const sb_cache_res *res, const cJSON *obj);
/* One sync per (resource, res->ns): a begin_sync while that sync runs
 * starts its marking over (a list that started again from its first
 * page); syncs of other namespaces are not touched. An all-namespaces
 * sync (ns NULL) sweeps the whole resource. end_sync returns 0, SB_EINVAL
 * without a begin_sync of the same resource and namespace, or SB_ENOMEM
 * when the marks could not all be recorded -- then nothing is swept (a
 * wrong sweep would prune live objects); relist again. */
void sb_cache_begin_sync(sb_cache *c, const sb_cache_res *res);
int sb_cache_end_sync(sb_cache *c, const sb_cache_res *res);

/* Generated objects. */
const sb_gen *sb_cache_gen(const sb_cache *c, const sb_gvk *gvk,
                           const char *ns, const char *name);
/* Is every field of desired present, equal, in the managed object g?
 * The rules of sb_json_subset (reconcile.h), answered from a fingerprint
 * the cache keeps instead of the object: 32-bit hashes of its leaves
 * with their paths, and of its lists' lengths (not of status,
 * metadata.managedFields, uid, resourceVersion, creationTimestamp,
 * generation and the kubectl last-applied annotation). Differs from
 * sb_json_subset only where desired holds an empty map (always
 * contained) or an empty list facing a non-list value (contained), and
 * by the odds of a collision (an edited field whose new hash equals
 * another of the object's: about one in 80 million, cache.c). 0 for a
 * foreign object; 1 for a
 * NULL desired. */
int sb_gen_contains(const sb_gen *g, const cJSON *desired);
/* Iterations stop when fn returns non-zero and return that value; fn must
 * not change the cache. */
typedef int (*sb_gen_fn)(void *arg, const sb_gen *g);
/* Every managed object in ns whose source labels are kind/label_value,
 * in the order they were first seen. */
int sb_cache_gen_by_source(const sb_cache *c, const char *ns,
                           const char *source_kind, const char *label_value,
                           sb_gen_fn fn, void *arg);
/* Every managed object (for the start-up orphan sweep); unspecified
 * order. */
int sb_cache_gen_each(const sb_cache *c, sb_gen_fn fn, void *arg);

/* Invalid SMI objects: the diagnostics of the current version, or NULL. */
const sb_diags *sb_cache_invalid(const sb_cache *c, sb_kind kind,
                                 const char *ns, const char *name,
                                 const char **uid);
/* The same entry whole (apiVersion, uid, resourceVersion, diagnostics), or
 * NULL. Valid until the object's next change. */
const sb_invalid *sb_cache_invalid_get(const sb_cache *c, sb_kind kind,
                                       const char *ns, const char *name);
/* The warnings sb_model_parse gave for the world's version of an SMI
 * object (a deprecated form, say), or NULL when it had none; sb_reconcile
 * puts a key's own into its plan. Valid until the object's next change. */
const sb_diags *sb_cache_warnings(const sb_cache *c, sb_kind kind,
                                  const char *ns, const char *name);

/* Objects and bytes held (for the cached-objects gauge and memory tests).
 * Bytes count every allocation the cache makes or has the world make,
 * with glibc's per-allocation overhead; hash tables and the world's own
 * entries are estimated from their counts. */
size_t sb_cache_count(const sb_cache *c);
size_t sb_cache_bytes(const sb_cache *c);

#endif
