/* world.h -- the set of model objects a translation reads from.
 *
 * The same structure backs both front ends: `smi-bridge translate` fills it
 * from files, the controller keeps it in step with its watches. That is
 * what makes the dry run print exactly what the controller would write.
 *
 * Objects are keyed by (kind, namespace, name). Iteration over one kind
 * follows insertion order (a replaced object keeps its place), so output
 * that follows iteration order is deterministic for a given input.
 *
 * Indexes answer the questions translations ask without scanning:
 *   pods by (ns, serviceAccountName), TrafficSplits by (ns, root service),
 *   TrafficTargets by (ns of destination, destination ServiceAccount).
 *
 * The world owns the objects it holds. Pointers returned by lookups stay
 * valid until that object is replaced or removed.
 */
#ifndef SB_WORLD_H
#define SB_WORLD_H

#include <stddef.h>

#include "sb/model.h"

typedef struct sb_world sb_world;

/* Return non-zero to stop an iteration; sb_world_each and friends then
 * return that value, else 0. The world must not be modified during an
 * iteration. */
typedef int (*sb_world_fn)(void *arg, const sb_obj *obj);

sb_world *sb_world_new(void);
void sb_world_free(sb_world *w);  /* frees every object */

/* Inserts obj (ownership moves to the world), replacing the object with the
 * same kind/ns/name. The replaced object goes to *old when old is not NULL
 * (caller frees it with sb_obj_free), or is freed. 0 or SB_ENOMEM (then obj
 * still belongs to the caller). */
int sb_world_put(sb_world *w, sb_obj *obj, sb_obj **old);
/* Takes the object out; returns it (caller frees) or NULL when absent. */
sb_obj *sb_world_take(sb_world *w, sb_kind kind, const char *ns,
                      const char *name);
const sb_obj *sb_world_get(const sb_world *w, sb_kind kind, const char *ns,
                           const char *name);
size_t sb_world_count(const sb_world *w, sb_kind kind);
/* Sum of sb_obj_size over every object. */
size_t sb_world_bytes(const sb_world *w);
/* What the world allocates beyond its objects (entry arrays, hash buckets,
 * group tables, at their capacity), for memory accounting. */
size_t sb_world_overhead(const sb_world *w);

/* Every object of a kind, optionally only one namespace (ns NULL = all). */
int sb_world_each(const sb_world *w, sb_kind kind, const char *ns,
                  sb_world_fn fn, void *arg);
/* Pods in ns whose service account is sa. */
int sb_world_pods_by_sa(const sb_world *w, const char *ns, const char *sa,
                        sb_world_fn fn, void *arg);
/* TrafficSplits in ns whose root (sb_traffic_split.root) is svc. */
int sb_world_splits_by_root(const sb_world *w, const char *ns,
                            const char *svc, sb_world_fn fn, void *arg);
/* TrafficTargets whose destination is ServiceAccount ns/sa. */
int sb_world_targets_by_dest(const sb_world *w, const char *ns,
                             const char *sa, sb_world_fn fn, void *arg);

#endif
