/* translate.h -- from the model to mesh objects: pure, no I/O.
 *
 * The one function that decides what should exist. Given the world (every
 * object we know) and one reconcile key, it returns the complete desired
 * set of generated objects for that key, the diagnostics found on the way,
 * and the dependencies it read (so the controller knows which changes must
 * re-run this key). The offline dry run and the controller call it the
 * same way.
 *
 * Reconcile keys:
 *   TrafficSplit ns/name    -> routes (Istio VirtualService, Linkerd or
 *                              Gateway API HTTPRoutes, ServiceProfile)
 *   TrafficTarget ns/name   -> authorization (Istio AuthorizationPolicy,
 *                              Linkerd MeshTLSAuthentication,
 *                              AuthorizationPolicy, inbound HTTPRoute)
 *   ServiceAccount ns/name  -> (Linkerd only) the Servers shared by every
 *                              TrafficTarget whose destination is that
 *                              ServiceAccount, owned by all of them
 *
 * Backends are a vtable per mesh (istio.c, linkerd.c) plus gateway.c for
 * `--routes gateway-api`, like curl's vtls backends.
 *
 * Every generated object carries (docs/mapping.md, "Naming" and "Metadata"):
 *   labels app.kubernetes.io/managed-by=smi-bridge,
 *          smi-bridge.io/source-kind=<key kind>,
 *          smi-bridge.io/source-name=<sb_label_value(key name)>
 *   annotations smi-bridge.io/source-name=<key name> when the label had
 *          to be hashed, and smi-bridge.io/hash=<sb_emit_hash of the
 *          object, 16 hex digits> (SB_ANNOTATION_HASH)
 *   ownerReferences (controller: true) to the source(s) -- only when the
 *          source carries a uid (offline input usually does not)
 *   a deterministic DNS-1123 name (docs/mapping.md#naming).
 * Keys inside objects are built in a fixed order (apiVersion, kind,
 * metadata{name, namespace, labels, annotations, ownerReferences}, spec)
 * so emitted bytes are stable.
 */
#ifndef SB_TRANSLATE_H
#define SB_TRANSLATE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "sb/diag.h"
#include "sb/model.h"
#include "sb/world.h"

#define SB_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define SB_LABEL_SOURCE_KIND "smi-bridge.io/source-kind"
#define SB_LABEL_SOURCE_NAME "smi-bridge.io/source-name"
/* Annotation: sb_emit_hash of the generated object as it was before this
 * annotation was added, 16 hex digits. */
#define SB_ANNOTATION_HASH "smi-bridge.io/hash"

/* Warning reason (diag.h has the others): Linkerd stops authorizing
 * kubelet probes on a Server once an inbound HTTPRoute is attached. */
#define SB_REASON_PROBES "ProbesNotAuthorized"

typedef enum { SB_MESH_ISTIO = 1, SB_MESH_LINKERD = 2 } sb_mesh;
typedef enum { SB_ROUTES_NATIVE = 0, SB_ROUTES_GATEWAY_API = 1 } sb_routes;
typedef enum { SB_ISTIO_API_V1 = 0, SB_ISTIO_API_V1BETA1 = 1 } sb_istio_api;

typedef struct sb_translate_opts {
  sb_mesh mesh;
  sb_routes routes;
  sb_istio_api istio_api;
  const char *cluster_domain;   /* "cluster.local" */
  const char *trust_domain;     /* "cluster.local" */
  int linkerd_service_profile;  /* legacy: ServiceProfile dstOverrides
                                   instead of HTTPRoutes */
} sb_translate_opts;

void sb_translate_opts_default(sb_translate_opts *o);

typedef struct sb_key {
  sb_kind kind;   /* TRAFFIC_SPLIT, TRAFFIC_TARGET or SERVICE_ACCOUNT */
  const char *ns;
  const char *name;
} sb_key;

/* A dependency: "this key read X". sel says how X was selected. */
typedef enum {
  SB_DEP_OBJECT = 0,   /* kind ns/name (present or not) */
  SB_DEP_PODS_OF_SA,   /* pods in ns with serviceAccountName == name */
  SB_DEP_PODS_IN_NS,   /* every pod in ns (name unused) */
  SB_DEP_SPLITS_OF_ROOT, /* TrafficSplits in ns whose root is name */
  SB_DEP_TARGETS_OF_SA /* TrafficTargets whose destination is ns/name */
} sb_dep_sel;

typedef struct sb_dep {
  sb_dep_sel sel;
  sb_kind kind;        /* for SB_DEP_OBJECT */
  char *ns;
  char *name;
} sb_dep;

typedef enum {
  /* objs is the complete desired set (may be empty: apply it, prune the
   * rest of what this key owns). */
  SB_OUTCOME_OK = 0,
  /* The source is invalid: change nothing, keep what exists (a bad edit
   * must not tear down working routes); diags say why. */
  SB_OUTCOME_INVALID = 1
} sb_outcome;

typedef struct sb_out {
  sb_outcome outcome;
  cJSON **objs;        /* owned; in a deterministic order */
  size_t nobjs;
  size_t objs_cap;
  sb_diags diags;
  sb_dep *deps;
  size_t ndeps;
  size_t deps_cap;
} sb_out;

void sb_out_init(sb_out *out);
void sb_out_free(sb_out *out);     /* frees objs, diags and deps */
/* Takes objs[i] out of the result (caller owns it, the slot becomes NULL). */
cJSON *sb_out_take(sb_out *out, size_t i);

/* Computes the desired state for key. Fills out (which must be
 * initialised). Returns 0 or SB_ENOMEM; problems with the input are
 * diagnostics and an outcome, not return codes. */
int sb_translate(const sb_world *w, const sb_key *key,
                 const sb_translate_opts *o, sb_out *out);

/* The reconcile keys one object implies (a TrafficSplit: itself; a
 * TrafficTarget: itself, plus its destination ServiceAccount's key in Linkerd
 * mode). Keys point into obj. Returns how many were written (<= max). */
size_t sb_translate_keys_of(const sb_obj *obj, const sb_translate_opts *o,
                            sb_key *keys, size_t max);

/* Every reconcile key the world implies, deduplicated, in a deterministic
 * order (sources in world order; a ServiceAccount key right after the first
 * TrafficTarget that implies it). *keys is malloc'd (caller frees) and
 * points into the world's objects. */
int sb_translate_keys(const sb_world *w, const sb_translate_opts *o,
                      sb_key **keys, size_t *n);

/* The kinds this configuration may generate, so the controller can watch
 * them (repair) and prune them. */
typedef struct sb_gvk {
  const char *group;     /* "" for core */
  const char *version;
  const char *kind;
  const char *resource;  /* plural, for URLs */
} sb_gvk;

size_t sb_translate_output_kinds(const sb_translate_opts *o,
                                 const sb_gvk **kinds);

/* A label value (<= 63 chars, [a-z0-9A-Z.-_]) that stands for name:
 * name itself when it fits, else a prefix and a hash. Deterministic. */
int sb_label_value(const char *name, char out[64]);

#endif
