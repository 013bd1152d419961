/* index.h -- which reconcile keys read which objects.
 *
 * Every reconcile records the dependencies its translation reported
 * (sb_out.deps) plus the generated objects it wants; the index keeps them
 * per key, replacing the previous set each time. A change in the cache is
 * turned into the dependency selectors it matches (sb_index_affected), and
 * the index answers with exactly the keys that read them. This is what
 * makes "a change to a referenced HTTPRouteGroup, a Service, a Pod or a
 * generated object enqueue exactly the SMI objects it affects".
 *
 * Keys are strings "Kind/ns/name" (sb_index_key_format); the index copies
 * them.
 */
#ifndef SB_INDEX_H
#define SB_INDEX_H

#include <stddef.h>

#include "sb/buf.h"
#include "sb/cache.h"
#include "sb/translate.h"

typedef struct sb_index sb_index;

sb_index *sb_index_new(void);
void sb_index_free(sb_index *ix);

/* "TrafficSplit/shop/web" */
int sb_index_key_format(const sb_key *k, sb_buf *out);
/* Parses a key string back; the strings point into s (kept alive by the
 * caller). 0 or SB_EINVAL. */
int sb_index_key_parse(char *s, sb_key *k);

/* A generated object a key wants: a foreign object appearing or vanishing
 * under that name must re-run the key. */
typedef struct sb_index_obj {
  const char *kind;   /* sb_gvk.kind */
  const char *ns;
  const char *name;
} sb_index_obj;

/* Replaces everything key depends on: the translation's deps and the
 * generated objects it wants (repeats are harmless). A key set with nothing
 * stays known (sb_index_keys) until removed. 0, SB_EINVAL, or SB_ENOMEM --
 * then the key's dependencies are only partly recorded: run it again. */
int sb_index_set(sb_index *ix, const char *key, const sb_dep *deps,
                 size_t ndeps, const sb_index_obj *wanted, size_t nwanted);
/* Forgets key (its source is gone and its outputs are pruned). */
void sb_index_remove(sb_index *ix, const char *key);

/* Calls fn for every key whose dependencies a cache change touches, each
 * key once per call, in strcmp order. What a change touches, from its old
 * AND new object: the object itself (kind/ns/name; for GENERATED changes
 * the gvk's kind, matched against wanted objects); for a Pod also the pods
 * of its ServiceAccount and of its namespace; for a TrafficSplit the splits
 * of its root; for a TrafficTarget the targets of its destination. The key
 * string is valid during the call only. 0, SB_EINVAL or SB_ENOMEM (then fn
 * was not called). */
typedef void (*sb_index_fn)(void *arg, const char *key);
int sb_index_affected(const sb_index *ix, const sb_change *c,
                      sb_index_fn fn, void *arg);

size_t sb_index_keys(const sb_index *ix);

/* The keys a change names by itself, which no recorded dependency can
 * know about (a new TrafficSplit, an orphan found at start-up): for an SMI
 * object, sb_translate_keys_of of its old and of its new version; for an
 * INVALID change of a TrafficSplit or TrafficTarget, its own key; for a
 * generated object managed by smi-bridge (old or new), the key its source
 * labels name (the full name from the annotation when the label is
 * hashed). The controller enqueues these and sb_index_affected's keys;
 * each key is reported once per call, in strcmp order. 0, SB_EINVAL or
 * SB_ENOMEM (then fn was not called). */
int sb_index_keys_of_change(const sb_change *c, const sb_translate_opts *o,
                            sb_index_fn fn, void *arg);

#endif
