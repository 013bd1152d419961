/* identity.c -- a ServiceAccount as a pod selector (istio README §4.4,
 * linkerd README §5.1).
 *
 * Neither mesh can select workloads by ServiceAccount, and SMI names
 * destinations only by ServiceAccount. So the selector is derived from the
 * pods that run as it: the labels all of them carry with the same value,
 * minus the keys that differ between replicas or revisions by design
 * (pod-template-hash and friends, which would pin the selector to one
 * rollout). A selector is written only after checking that it selects no
 * live pod of another ServiceAccount in the namespace: an over-broad
 * selector would put another workload under default-deny.
 *
 * Terminal pods (Succeeded, Failed) are ignored on both sides: they run
 * nothing and their labels may be stale.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sb/err.h"

static const char *const volatile_keys[] = {
  "pod-template-hash",
  "controller-revision-hash",
  "pod-template-generation",
  "statefulset.kubernetes.io/pod-name",
  "apps.kubernetes.io/pod-index",
};

int sb__label_volatile(const char *key) {
  size_t i;

  for (i = 0; i < SB_ARRAY_SIZE(volatile_keys); i++)
    if (strcmp(key, volatile_keys[i]) == 0)
      return 1;
  return 0;
}

static int terminal(const sb_pod *p) {
  return p->shape->phase && (strcmp(p->shape->phase, "Succeeded") == 0 ||
                      strcmp(p->shape->phase, "Failed") == 0);
}

/* Runs for every label of every pod of the namespace on each derivation.
 * Common keys ("app", "version") are shared strings in the model, so the
 * pointer test usually settles a hit and the first byte most misses. */
static const char *label(const sb_pod *p, const char *key) {
  size_t i;

  for (i = 0; i < p->shape->nlabels; i++) {
    const char *k = p->shape->labels[i].key;
    if (k && (k == key || (k[0] == key[0] && strcmp(k, key) == 0)))
      return p->shape->labels[i].value ? p->shape->labels[i].value : "";
  }
  return NULL;
}

static int same(const char *a, const char *b) {
  return a == b || (a[0] == b[0] && strcmp(a, b) == 0);
}

typedef struct collect {
  const sb_pod **pods;
  size_t n, cap;
  int oom;
} collect;

static int collect_pod(void *arg, const sb_obj *obj) {
  collect *c = arg;
  const sb_pod *p = (const sb_pod *) obj;

  if (terminal(p))
    return 0;
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 8;
    const sb_pod **v = realloc(c->pods, cap * sizeof(*v));
    if (!v) {
      c->oom = 1;
      return 1;
    }
    c->pods = v;
    c->cap = cap;
  }
  c->pods[c->n++] = p;
  return 0;
}

static int cmp_kv(const void *a, const void *b) {
  return strcmp(((const sb_kv *) a)->key, ((const sb_kv *) b)->key);
}

/* The labels every pod has with the first pod's value. */
static int common_labels(const collect *c, sb__identity *id) {
  const sb_pod *first = c->pods[0];
  size_t i, j;

  id->labels = calloc(first->shape->nlabels ? first->shape->nlabels : 1,
                      sizeof(*id->labels));
  if (!id->labels)
    return SB_ENOMEM;
  for (i = 0; i < first->shape->nlabels; i++) {
    const sb_kv *kv = &first->shape->labels[i];
    const char *v = kv->value ? kv->value : "";
    if (!kv->key || sb__label_volatile(kv->key))
      continue;
    for (j = 1; j < c->n; j++) {
      const char *other = label(c->pods[j], kv->key);
      if (!other || strcmp(other, v) != 0)
        break;
    }
    if (j == c->n) {
      id->labels[id->nlabels].key = kv->key;
      id->labels[id->nlabels].value = v;
      id->nlabels++;
    }
  }
  qsort(id->labels, id->nlabels, sizeof(*id->labels), cmp_kv);
  return 0;
}

static int union_ports(const collect *c, sb__identity *id) {
  size_t i, j, total = 0, n = 0;

  for (i = 0; i < c->n; i++)
    total += c->pods[i]->shape->nports;
  id->ports = malloc((total ? total : 1) * sizeof(*id->ports));
  if (!id->ports)
    return SB_ENOMEM;
  for (i = 0; i < c->n; i++) {
    for (j = 0; j < c->pods[i]->shape->nports; j++) {
      const sb_container_port *p = &c->pods[i]->shape->ports[j];
      if (p->protocol && strcmp(p->protocol, "TCP") != 0)
        continue;  /* the meshes authorize TCP only */
      if (p->port > 0 && p->port <= 65535)
        id->ports[n++] = p->port;
    }
  }
  qsort(id->ports, n, sizeof(*id->ports), sb__cmp_int32);
  for (i = 0, j = 0; i < n; i++)
    if (j == 0 || id->ports[j - 1] != id->ports[i])
      id->ports[j++] = id->ports[i];
  id->nports = j;
  return 0;
}

typedef struct overlap {
  const sb__identity *id;
  const char *sa;
  const sb_pod *hit;    /* the first by name, for a stable message */
} overlap;

static int check_overlap(void *arg, const sb_obj *obj) {
  overlap *o = arg;
  const sb_pod *p = (const sb_pod *) obj;
  const char *psa = p->shape->service_account && *p->shape->service_account
                        ? p->shape->service_account : "default";
  size_t i;

  /* Every pod of the namespace comes through here for every key that
   * derives a selector: the cheapest test that usually fails goes first
   * (the selector's labels), the phase only matters for a match. */
  for (i = 0; i < o->id->nlabels; i++) {
    const char *v = label(p, o->id->labels[i].key);
    if (!v || !same(v, o->id->labels[i].value))
      return 0;
  }
  if (strcmp(psa, o->sa) == 0 || terminal(p))
    return 0;
  if (!o->hit || strcmp(obj->name, o->hit->obj.name) < 0)
    o->hit = p;
  return 0;
}

static void selector_text(sb_buf *b, const sb__identity *id) {
  size_t i;

  sb_buf_addc(b, '{');
  for (i = 0; i < id->nlabels; i++)
    sb_buf_addf(b, "%s%s=%s", i ? ", " : "", id->labels[i].key,
                id->labels[i].value);
  sb_buf_addc(b, '}');
}

int sb__identity_derive(sb__tx *t, const char *ns, const char *sa,
                        const char *path, sb__identity *id) {
  collect c = {0};
  overlap o = {0};
  int rc = SB__ID_OK;

  memset(id, 0, sizeof(*id));
  sb__dep(t, SB_DEP_PODS_OF_SA, SB_KIND_POD, ns, sa);
  sb__dep(t, SB_DEP_PODS_IN_NS, SB_KIND_POD, ns, "");
  sb_world_pods_by_sa(t->w, ns, sa, collect_pod, &c);
  if (c.oom)
    goto oom;
  if (c.n == 0) {
    sb__err(t, SB_REASON_MISSING, path, "needs the Pods of ServiceAccount "
            "%s/%s to derive a pod selector (none is running; pass them "
            "with --context-file)", ns, sa);
    rc = SB__ID_NO_PODS;
    goto done;
  }
  if (common_labels(&c, id) || union_ports(&c, id))
    goto oom;
  if (id->nlabels == 0) {
    sb__err(t, SB_REASON_INVALID, path, "cannot derive a pod selector for "
            "ServiceAccount %s/%s: its %zu Pod(s) share no label (besides "
            "per-replica ones); label them alike", ns, sa, c.n);
    rc = SB__ID_NO_LABEL;
    goto done;
  }
  o.id = id;
  o.sa = sa && *sa ? sa : "default";
  sb_world_each(t->w, SB_KIND_POD, ns, check_overlap, &o);
  if (o.hit) {
    sb_buf sel;
    sb_buf_init(&sel, SB_BUF_UNLIMITED);
    selector_text(&sel, id);
    sb__err(t, SB_REASON_CONFLICT, path, "the pod selector %s derived from "
            "the Pods of ServiceAccount %s/%s also selects Pod %s/%s "
            "(ServiceAccount %s); nothing is written until the workloads "
            "can be told apart by their labels", sb_buf_cstr(&sel), ns, sa,
            ns, o.hit->obj.name,
            o.hit->shape->service_account && *o.hit->shape->service_account
                ? o.hit->shape->service_account : "default");
    sb_buf_free(&sel);
    rc = SB__ID_CONFLICT;
  }
done:
  free(c.pods);
  return rc;
oom:
  free(c.pods);
  sb__identity_free(id);
  t->oom = 1;
  return SB_ENOMEM;
}

void sb__identity_free(sb__identity *id) {
  free(id->labels);
  free(id->ports);
  memset(id, 0, sizeof(*id));
}
