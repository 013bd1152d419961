/* reconcile.c -- desired against actual for one key: the plan. See
 * sb/reconcile.h.
 *
 * Pure: the translation says what should exist, the cache what does, and
 * this file only compares. Nothing here knows a mesh; everything mesh
 * specific (names, kinds, labels) comes from the translation, which is
 * what lets `smi-bridge translate` and the controller agree byte for byte.
 *
 * "Already as desired" is a subset test, not equality: the API server adds
 * defaults, metadata and status, so the object we would send is contained
 * in the one it holds when nothing needs doing. Labels and ownerReferences
 * are part of what we send, so a label or owner removed by hand fails the
 * test and is put back. A missing managed-by label is different: the
 * object is then foreign, and foreign objects are never touched. The
 * cache keeps managed objects as fingerprints, not JSON, so the test runs
 * through sb_gen_contains (sb_json_subset's rules over hashed fields).
 * A subset test alone cannot see a field the new desired object dropped
 * (a header match removed from a route group): the cluster's object still
 * contains the smaller desired one. The translation closes that: every
 * generated object carries the hash of its own content as an annotation
 * (SB_ANNOTATION_HASH), so a desired object that changed in any way --
 * grown, shrunk or reordered -- holds a value the cluster's object does
 * not, whoever wrote that object and whenever.
 *
 * Ownership of existing objects is decided from their labels: managed-by
 * says "smi-bridge", the source labels say which key. When the label had
 * to be hashed, the full source name comes from the annotation or the
 * ownerReference (sb_gen.source_full_name), so a short name that happens
 * to equal a hash never claims a long-named source's objects.
 */
#include "sb/reconcile.h"

#include <stdlib.h>
#include <string.h>

#include "sb/err.h"

static const cJSON *jget(const cJSON *o, const char *k) {
  return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = jget(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int streq(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

/* strdup that keeps NULL; *ok cleared on ENOMEM. */
static char *dup(const char *s, int *ok) {
  char *d;

  if (!s)
    return NULL;
  d = strdup(s);
  if (!d)
    *ok = 0;
  return d;
}

/* ---- the subset test ---------------------------------------------------- */

/* An empty map or list we would send equals one the server left out:
 * Kubernetes drops empty values on the way in. */
static int empty_container(const cJSON *j) {
  return (cJSON_IsObject(j) || cJSON_IsArray(j)) && !j->child;
}

int sb_json_subset(const cJSON *desired, const cJSON *actual) {
  const cJSON *d, *a;

  if (!desired)
    return 1;
  if (!actual || cJSON_IsNull(actual))
    return cJSON_IsNull(desired) ? actual != NULL : empty_container(desired);
  switch (desired->type & 0xFF) {
  case cJSON_Object:
    if (!cJSON_IsObject(actual))
      return 0;
    cJSON_ArrayForEach(d, desired) {
      if (!d->string)
        return 0;
      a = cJSON_GetObjectItemCaseSensitive(actual, d->string);
      if (!sb_json_subset(d, a))
        return 0;
    }
    return 1;
  case cJSON_Array:
    if (!cJSON_IsArray(actual) ||
        cJSON_GetArraySize(desired) != cJSON_GetArraySize(actual))
      return 0;
    for (d = desired->child, a = actual->child; d && a;
         d = d->next, a = a->next)
      if (!sb_json_subset(d, a))
        return 0;
    return 1;
  case cJSON_Number:
    return cJSON_IsNumber(actual) &&
           desired->valuedouble == actual->valuedouble;
  case cJSON_String:
  case cJSON_Raw:
    return (actual->type & 0xFF) == (desired->type & 0xFF) &&
           desired->valuestring && actual->valuestring &&
           strcmp(desired->valuestring, actual->valuestring) == 0;
  case cJSON_True:
  case cJSON_False:
  case cJSON_NULL:
    return (actual->type & 0xFF) == (desired->type & 0xFF);
  }
  return 0;
}

/* ---- plans -------------------------------------------------------------- */

void sb_plan_init(sb_plan *p) {
  memset(p, 0, sizeof(*p));
  sb_diags_init(&p->diags);
}

void sb_plan_free(sb_plan *p) {
  size_t i;

  if (!p)
    return;
  for (i = 0; i < p->nactions; i++) {
    cJSON_Delete(p->actions[i].obj);
    free(p->actions[i].ns);
    free(p->actions[i].name);
    free(p->actions[i].uid);
    free(p->actions[i].resource_version);
  }
  free(p->actions);
  sb_diags_free(&p->diags);
  for (i = 0; i < p->ndeps; i++) {
    free(p->deps[i].ns);
    free(p->deps[i].name);
  }
  free(p->deps);
  for (i = 0; i < p->nwanted; i++) {
    free((char *) p->wanted[i].kind);
    free((char *) p->wanted[i].ns);
    free((char *) p->wanted[i].name);
  }
  free(p->wanted);
  free(p->src_api_version);
  free(p->src_uid);
  sb_plan_init(p);
}

/* Room for one more action; NULL on ENOMEM. Actions are few (one per
 * generated object), so growth is by doubling from 4. */
static sb_action *action_new(sb_plan *p, size_t *cap) {
  sb_action *a;

  if (p->nactions == *cap) {
    size_t ncap = *cap ? *cap * 2 : 4;
    a = realloc(p->actions, ncap * sizeof(*a));
    if (!a)
      return NULL;
    p->actions = a;
    *cap = ncap;
  }
  a = &p->actions[p->nactions];
  memset(a, 0, sizeof(*a));
  return a;
}

static int add_wanted(sb_plan *p, const char *kind, const char *ns,
                      const char *name) {
  sb_index_obj *w = &p->wanted[p->nwanted];
  int ok = 1;

  w->kind = dup(kind, &ok);
  w->ns = dup(ns, &ok);
  w->name = dup(name, &ok);
  p->nwanted++;  /* counted even when partial, so sb_plan_free frees it */
  return ok ? 0 : SB_ENOMEM;
}

static int copy_deps(sb_plan *p, const sb_out *out) {
  size_t i;
  int ok = 1;

  if (!out->ndeps)
    return 0;
  p->deps = calloc(out->ndeps, sizeof(*p->deps));
  if (!p->deps)
    return SB_ENOMEM;
  for (i = 0; i < out->ndeps; i++) {
    p->deps[i].sel = out->deps[i].sel;
    p->deps[i].kind = out->deps[i].kind;
    p->deps[i].ns = dup(out->deps[i].ns, &ok);
    p->deps[i].name = dup(out->deps[i].name, &ok);
    p->ndeps++;
  }
  return ok ? 0 : SB_ENOMEM;
}

static int copy_diags(sb_diags *dst, const sb_diags *src) {
  size_t i;
  int rc;

  for (i = 0; i < src->n; i++) {
    const sb_diag *d = &src->v[i];
    sb_diag_loc loc;
    loc.file = d->file;
    loc.line = d->line;
    loc.col = d->col;
    loc.kind = d->kind;
    loc.ns = d->ns;
    loc.name = d->name;
    rc = sb_diags_add(dst, d->sev, d->reason, &loc, d->path, "%s",
                      d->msg ? d->msg : "");
    if (rc)
      return rc;
  }
  return 0;
}

/* ---- identities --------------------------------------------------------- */

/* The output kind a desired object is: apiVersion's group and kind. */
static const sb_gvk *gvk_of(const cJSON *obj, const sb_gvk *kinds,
                            size_t nkinds) {
  const char *av = jstr(obj, "apiVersion"), *kind = jstr(obj, "kind");
  const char *slash;
  size_t glen, i;

  if (!av || !kind)
    return NULL;
  slash = strchr(av, '/');
  glen = slash ? (size_t) (slash - av) : 0;
  for (i = 0; i < nkinds; i++)
    if (strcmp(kinds[i].kind, kind) == 0 &&
        strlen(kinds[i].group) == glen &&
        strncmp(kinds[i].group, av, glen) == 0)
      return &kinds[i];
  return NULL;
}

static int same_gk(const sb_gvk *a, const sb_gvk *b) {
  return a == b || (streq(a->group, b->group) && streq(a->kind, b->kind));
}

/* Is a managed object labelled for this key? Labels that are missing (a
 * hand edit) do not make it someone else's: the next apply restores them. */
static int owned_by(const sb_gen *g, const sb_key *key, const char *lv) {
  if (g->source_kind && !streq(g->source_kind, sb_kind_name(key->kind)))
    return 0;
  if (g->source_name && !streq(g->source_name, lv))
    return 0;
  /* source_full_name is the label itself when neither the annotation nor
   * an ownerReference names the source. */
  if (g->source_full_name && g->source_full_name != g->source_name &&
      !streq(g->source_full_name, key->name))
    return 0;
  return 1;
}

/* ---- the decision ------------------------------------------------------- */

typedef struct desired {
  const sb_gvk *gvk;
  const char *ns;
  const char *name;
} desired;

typedef struct prune {
  const sb_key *key;
  const char *lv;
  const desired *want;
  size_t nwant;
  sb_plan *plan;
  size_t *cap;
  int rc;
} prune;

static int prune_one(void *arg, const sb_gen *g) {
  prune *pr = arg;
  sb_action *a;
  size_t i;
  int ok = 1;

  /* A hashed label value shared by two long names: the annotation tells
   * them apart. */
  if (!owned_by(g, pr->key, pr->lv) || !g->source_kind || !g->source_name)
    return 0;
  for (i = 0; i < pr->nwant; i++)
    if (same_gk(pr->want[i].gvk, g->gvk) && streq(pr->want[i].ns, g->ns) &&
        streq(pr->want[i].name, g->name))
      return 0;
  a = action_new(pr->plan, pr->cap);
  if (!a) {
    pr->rc = SB_ENOMEM;
    return 1;
  }
  a->type = SB_ACTION_DELETE;
  a->gvk = g->gvk;
  a->ns = dup(g->ns, &ok);
  a->name = dup(g->name, &ok);
  a->uid = dup(g->uid, &ok);
  a->resource_version = dup(g->resource_version, &ok);
  pr->plan->nactions++;
  if (!ok) {
    pr->rc = SB_ENOMEM;
    return 1;
  }
  return 0;
}

static int cmp_delete(const void *x, const void *y) {
  const sb_action *a = x, *b = y;
  int r = strcmp(a->gvk->kind, b->gvk->kind);

  if (r == 0)
    r = strcmp(a->gvk->group, b->gvk->group);
  if (r == 0)
    r = strcmp(a->ns, b->ns);
  return r ? r : strcmp(a->name, b->name);
}

static int conflict(sb_plan *p, const sb_diag_loc *src, const sb_gen *g,
                    const sb_key *key) {
  if (!g->managed)
    return sb_diags_add(&p->diags, SB_DIAG_ERROR, SB_REASON_CONFLICT, src,
                        NULL, "%s %s/%s exists and is not managed by "
                        "smi-bridge; left untouched", g->gvk->kind, g->ns,
                        g->name);
  return sb_diags_add(&p->diags, SB_DIAG_ERROR, SB_REASON_CONFLICT, src,
                      NULL, "%s %s/%s is managed by smi-bridge for %s %s/%s; "
                      "left untouched", g->gvk->kind, g->ns, g->name,
                      g->source_kind ? g->source_kind
                                     : sb_kind_name(key->kind),
                      g->ns,
                      g->source_full_name ? g->source_full_name : key->name);
}

int sb_reconcile(const sb_cache *c, const sb_key *key,
                 const sb_translate_opts *o, sb_plan *plan) {
  const sb_world *w = sb_cache_world(c);
  const sb_invalid *iv;
  const sb_obj *src;
  const sb_gvk *kinds = NULL;
  size_t nkinds, i, cap = 0, ndesired = 0, napply;
  desired *want = NULL;
  sb_diag_loc loc;
  char lv[64];
  sb_out out;
  prune pr;
  int rc, ok = 1;

  if (!c || !key || !key->name || !o || !plan)
    return SB_EINVAL;
  iv = sb_cache_invalid_get(c, key->kind, key->ns, key->name);
  src = sb_world_get(w, key->kind, key->ns, key->name);
  memset(&loc, 0, sizeof(loc));
  if (src)
    loc = sb_obj_loc(src);
  loc.kind = sb_kind_name(key->kind);
  loc.ns = key->ns;
  loc.name = key->name;
  if (iv) {
    plan->src_api_version = dup(iv->api_version, &ok);
    plan->src_uid = dup(iv->uid, &ok);
  } else if (src) {
    char uid[SB_UID_BUF];
    plan->src_api_version = dup(src->meta->api_version, &ok);
    plan->src_uid = dup(sb_obj_uid(src, uid), &ok);
  }
  if (!ok)
    return SB_ENOMEM;
  rc = sb_label_value(key->name, lv);
  if (rc)
    return rc;

  sb_out_init(&out);
  rc = sb_translate(w, key, o, &out);
  if (rc == 0)
    rc = copy_deps(plan, &out);
  if (rc == 0 && out.nobjs) {
    plan->wanted = calloc(out.nobjs, sizeof(*plan->wanted));
    want = calloc(out.nobjs, sizeof(*want));
    if (!plan->wanted || !want)
      rc = SB_ENOMEM;
  }
  if (rc)
    goto done;
  nkinds = sb_translate_output_kinds(o, &kinds);

  /* Identities first: what the key wants is recorded whatever happens
   * next, so a foreign object appearing under one of these names re-runs
   * it. */
  for (i = 0; i < out.nobjs && rc == 0; i++) {
    const cJSON *obj = out.objs[i];
    const cJSON *meta = jget(obj, "metadata");
    desired *d = &want[ndesired];

    d->gvk = gvk_of(obj, kinds, nkinds);
    d->ns = jstr(meta, "namespace");
    d->name = jstr(meta, "name");
    if (!d->ns)
      d->ns = "";
    if (!d->gvk || !d->name) {
      /* A translator bug, not a user error; say so rather than write
       * something we cannot watch or prune. */
      rc = sb_diags_add(&plan->diags, SB_DIAG_ERROR, SB_REASON_INTERNAL,
                        &loc, NULL, "translation produced %s %s %s/%s, "
                        "which is not an output kind of this configuration",
                        jstr(obj, "apiVersion") ? jstr(obj, "apiVersion")
                                                : "(no apiVersion)",
                        jstr(obj, "kind") ? jstr(obj, "kind") : "(no kind)",
                        d->ns, d->name ? d->name : "(no name)");
      continue;
    }
    rc = add_wanted(plan, d->gvk->kind, d->ns, d->name);
    ndesired++;
  }
  if (rc)
    goto done;

  /* An invalid source changes nothing: its current version's diagnostics
   * are the whole story (the translation read the last valid version). */
  if (iv || out.outcome == SB_OUTCOME_INVALID) {
    plan->outcome = SB_OUTCOME_INVALID;
    if (iv) {
      sb_diags_free(&plan->diags);
      sb_diags_init(&plan->diags);
      rc = copy_diags(&plan->diags, &iv->diags);
    } else {
      rc = sb_diags_move(&plan->diags, &out.diags);
    }
    goto done;
  }
  plan->outcome = SB_OUTCOME_OK;
  if (sb_cache_warnings(c, key->kind, key->ns, key->name))
    rc = copy_diags(&plan->diags, sb_cache_warnings(c, key->kind, key->ns,
                                                    key->name));
  if (rc == 0)
    rc = sb_diags_move(&plan->diags, &out.diags);

  for (i = 0; i < out.nobjs && rc == 0; i++) {
    const cJSON *obj = out.objs[i];
    const cJSON *meta = jget(obj, "metadata");
    const sb_gvk *gvk = gvk_of(obj, kinds, nkinds);
    const char *ns = jstr(meta, "namespace");
    const char *name = jstr(meta, "name");
    const sb_gen *g;
    sb_action *a;

    if (!gvk || !name)
      continue;
    if (!ns)
      ns = "";
    g = sb_cache_gen(c, gvk, ns, name);
    if (g && (!g->managed || !owned_by(g, key, lv))) {
      rc = conflict(plan, &loc, g, key);
      continue;
    }
    /* In place: contained in the cluster's object (hash annotation
     * included). */
    if (g && sb_gen_contains(g, obj)) {
      plan->unchanged++;
      continue;
    }
    a = action_new(plan, &cap);
    if (!a) {
      rc = SB_ENOMEM;
      break;
    }
    a->type = SB_ACTION_APPLY;
    a->gvk = gvk;
    a->ns = dup(ns, &ok);
    a->name = dup(name, &ok);
    a->obj = sb_out_take(&out, i);
    plan->nactions++;
    if (!ok)
      rc = SB_ENOMEM;
  }
  if (rc)
    goto done;

  /* Prune what this key owns and no longer wants. Only in the key's own
   * namespace: the source labels do not name the source's namespace, so
   * an object labelled TrafficTarget/x elsewhere may belong to another
   * namespace's TrafficTarget x. */
  napply = plan->nactions;
  memset(&pr, 0, sizeof(pr));
  pr.key = key;
  pr.lv = lv;
  pr.want = want;
  pr.nwant = ndesired;
  pr.plan = plan;
  pr.cap = &cap;
  rc = sb_cache_gen_by_source(c, key->ns ? key->ns : "",
                              sb_kind_name(key->kind), lv, prune_one, &pr);
  if (rc == 0)
    rc = pr.rc;
  if (rc == 0 && plan->nactions - napply > 1)
    qsort(plan->actions + napply, plan->nactions - napply,
          sizeof(*plan->actions), cmp_delete);

done:
  free(want);
  sb_out_free(&out);
  return rc;
}
