/* applier.c -- turns a reconcile plan into API calls. See sb/applier.h.
 *
 * A run walks the plan in two phases: every APPLY first, then every
 * DELETE, so that a renamed object exists under its new name before the
 * old one goes. Within a phase at most MAX_INFLIGHT calls are out at once
 * (the API client's write bucket paces them further); the phase ends when
 * its last call has answered, whatever the answers were.
 *
 * Results are never handed to the caller from inside sb_applier_run or a
 * client callback: a finished run moves to the `ready` list and a
 * zero-delay timer reports it. That keeps the libuv rule (no callback from
 * the call that started the work) and gives one place where the caller's
 * callback runs, which is also the one place where it may free the
 * applier.
 *
 * sb_applier_free detaches the runs still waiting for the server instead
 * of waiting for them: each is marked orphaned, its calls are canceled,
 * and it frees itself when the last of them has called back. An orphaned
 * run never touches the plan again and never calls the caller back.
 */
#include "sb/applier.h"

#include <stdlib.h>
#include <string.h>

#include "sb/buf.h"
#include "sb/emit.h"
#include "sb/err.h"
#include "sb/log.h"

#define MAX_INFLIGHT 8
/* One dry-run document; translated objects are a few kB. */
#define MAX_DOC ((size_t) 16 * 1024 * 1024)

typedef struct run run;

typedef struct slot {
  run *r;
  size_t i;                  /* index into plan->actions */
  sb_kube_call *call;        /* while in flight */
} slot;

struct run {
  sb_applier *a;             /* NULL once orphaned by sb_applier_free */
  run *prev, *next;          /* a->runs (in flight) or a->ready */
  const sb_plan *plan;
  sb_apply_cb cb;
  void *arg;
  slot *slots;               /* one per action */
  size_t next_action;        /* next index to look at in this phase */
  int phase;                 /* 0 applies, 1 deletes */
  size_t inflight;
  size_t failcap;
  sb_apply_result res;
};

struct sb_applier {
  uv_loop_t *loop;
  sb_kube *k;
  int dry_run;
  FILE *out;
  run *runs;                 /* waiting for the server */
  run *ready;                /* finished, to be reported (FIFO) */
  run *ready_tail;
  uv_timer_t *defer;         /* own allocation: outlives a in uv_close */
  int *freed;                /* set while the caller's cb runs */
};

/* ---- result bookkeeping -------------------------------------------------- */

static void run_free(run *r) {
  size_t i;

  for (i = 0; i < r->res.nfailures; i++)
    free(r->res.failures[i].message);
  free(r->res.failures);
  if (r->res.returned)
    for (i = 0; i < r->res.nreturned; i++)
      cJSON_Delete(r->res.returned[i]);
  free(r->res.returned);
  free(r->slots);
  free(r);
}

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);

  if (p)
    memcpy(p, s, n);
  return p;
}

/* Records a failure. The message is kept verbatim (a 403 names the user,
 * the verb and the resource, which is what the operator needs to see). */
static void add_failure(run *r, size_t i, int err, const char *msg) {
  sb_apply_failure *f;
  const sb_action *act = &r->plan->actions[i];

  sb_log(SB_LOG_WARN, act->type == SB_ACTION_APPLY ? "apply failed"
                                                   : "delete failed",
         "kind=%s namespace=%s name=%s err=%s message=%s", act->gvk->kind,
         act->ns ? act->ns : "", act->name ? act->name : "", sb_err_name(err),
         msg);
  if (r->res.nfailures == r->failcap) {
    size_t cap = r->failcap ? r->failcap * 2 : 4;
    sb_apply_failure *p = realloc(r->res.failures, cap * sizeof(*p));

    if (!p)
      return;  /* the log line above is all that is left of it */
    r->res.failures = p;
    r->failcap = cap;
  }
  f = &r->res.failures[r->res.nfailures++];
  f->action = act;
  f->err = err;
  f->message = dupstr(msg ? msg : sb_strerror(err));
}

static void note_retry_after(run *r, long ra) {
  if (ra > r->res.retry_after)
    r->res.retry_after = ra;
}

/* ---- reporting ----------------------------------------------------------- */

static void on_defer(uv_timer_t *t) {
  sb_applier *a = t->data;
  run *r;

  while ((r = a->ready)) {
    int freed = 0;

    a->ready = r->next;
    if (!a->ready)
      a->ready_tail = NULL;
    r->next = NULL;
    a->freed = &freed;
    r->cb(r->arg, &r->res);
    run_free(r);
    if (freed)
      return;  /* the callback freed the applier (and its timer) */
    a->freed = NULL;
  }
}

static void unlink_run(run *r) {
  sb_applier *a = r->a;

  if (r->prev)
    r->prev->next = r->next;
  else
    a->runs = r->next;
  if (r->next)
    r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

static void make_ready(run *r) {
  sb_applier *a = r->a;

  r->next = NULL;
  if (a->ready_tail)
    a->ready_tail->next = r;
  else
    a->ready = r;
  a->ready_tail = r;
  uv_timer_start(a->defer, on_defer, 0, 0);
}

/* ---- the calls ----------------------------------------------------------- */

static void pump(run *r);

static void target_of(const sb_action *act, sb_kube_target *t) {
  memset(t, 0, sizeof(*t));
  t->gvr.group = act->gvk->group;
  t->gvr.version = act->gvk->version;
  t->gvr.resource = act->gvk->resource;
  t->ns = act->ns && *act->ns ? act->ns : NULL;
  t->name = act->name;
}

static void on_done(void *arg, sb_kube_result *res) {
  slot *s = arg;
  run *r = s->r;
  const sb_action *act;

  s->call = NULL;
  r->inflight--;
  if (!r->a) {
    /* Orphaned: the plan may be gone already; just wind down. */
    if (r->inflight == 0)
      run_free(r);
    return;
  }
  act = &r->plan->actions[s->i];
  note_retry_after(r, res->retry_after);
  if (act->type == SB_ACTION_APPLY) {
    if (!res->err) {
      r->res.applied++;
      r->res.returned[s->i] = res->body;
      res->body = NULL;
    } else {
      add_failure(r, s->i, res->err, res->message);
    }
  } else if (!res->err) {
    r->res.deleted++;
  } else if (res->err == SB_ENOTFOUND) {
    r->res.not_found++;  /* already gone: what we wanted */
  } else if (res->err == SB_ECONFLICT) {
    sb_buf m;

    /* Only the preconditions can make a DELETE conflict: the object we
     * saw was replaced (new uid) or changed (new resourceVersion). The
     * caller requeues; the next plan sees the new object. */
    sb_buf_init(&m, 4096);
    sb_buf_addf(&m, "not deleted: the object was replaced or changed since "
                "it was read (precondition failed): %s", res->message);
    add_failure(r, s->i, res->err, sb_buf_cstr(&m));
    sb_buf_free(&m);
  } else {
    add_failure(r, s->i, res->err, res->message);
  }
  pump(r);
}

static int start_one(run *r, size_t i) {
  const sb_action *act = &r->plan->actions[i];
  sb_applier *a = r->a;
  slot *s = &r->slots[i];
  sb_kube_target t;

  target_of(act, &t);
  s->r = r;
  s->i = i;
  if (act->type == SB_ACTION_APPLY)
    return sb_kube_apply(a->k, &t, act->obj, 0, on_done, s, &s->call);
  else {
    sb_kube_delete_opts d;

    memset(&d, 0, sizeof(d));
    d.uid = act->uid;
    d.resource_version = act->resource_version;
    d.propagation = "Background";
    return sb_kube_delete(a->k, &t, &d, on_done, s, &s->call);
  }
}

/* Starts what the phase allows; moves on to deletes, then to the report. */
static void pump(run *r) {
  const sb_plan *p = r->plan;

  for (;;) {
    sb_action_type want = r->phase == 0 ? SB_ACTION_APPLY
                                        : SB_ACTION_DELETE;

    while (r->inflight < MAX_INFLIGHT && r->next_action < p->nactions) {
      size_t i = r->next_action++;
      int rc;

      if (p->actions[i].type != want)
        continue;
      rc = start_one(r, i);
      if (rc)
        add_failure(r, i, rc, sb_strerror(rc));
      else
        r->inflight++;
    }
    if (r->inflight > 0 || r->next_action < p->nactions)
      return;
    if (r->phase == 1)
      break;
    r->phase = 1;
    r->next_action = 0;
  }
  unlink_run(r);
  make_ready(r);
}

/* ---- dry run ------------------------------------------------------------- */

static void kind_name(const sb_action *act, sb_buf *b) {
  sb_buf_addf(b, "%s ", act->gvk->kind);
  if (act->ns && *act->ns)
    sb_buf_addf(b, "%s/", act->ns);
  sb_buf_adds(b, act->name ? act->name : "");
}

/* The object a DELETE would name: enough to find it with kubectl. */
static cJSON *delete_stub(const sb_action *act) {
  cJSON *o = cJSON_CreateObject(), *m = NULL;
  char av[256];
  int ok;

  if (!o)
    return NULL;
  if (act->gvk->group && *act->gvk->group)
    snprintf(av, sizeof(av), "%s/%s", act->gvk->group, act->gvk->version);
  else
    snprintf(av, sizeof(av), "%s", act->gvk->version);
  ok = cJSON_AddStringToObject(o, "apiVersion", av) &&
       cJSON_AddStringToObject(o, "kind", act->gvk->kind) &&
       (m = cJSON_AddObjectToObject(o, "metadata")) &&
       cJSON_AddStringToObject(m, "name", act->name ? act->name : "");
  if (ok && act->ns && *act->ns)
    ok = cJSON_AddStringToObject(m, "namespace", act->ns) != NULL;
  if (ok && act->uid)
    ok = cJSON_AddStringToObject(m, "uid", act->uid) != NULL;
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static int print_action(sb_applier *a, const sb_action *act) {
  sb_buf b;
  cJSON *stub = NULL;
  int rc;

  sb_buf_init(&b, MAX_DOC);
  sb_buf_addf(&b, "---\n# smi-bridge dry-run: %s ",
              act->type == SB_ACTION_APPLY ? "apply" : "delete");
  kind_name(act, &b);
  rc = sb_buf_addc(&b, '\n');
  if (!rc && act->type == SB_ACTION_APPLY) {
    rc = act->obj ? sb_emit_yaml(act->obj, &b) : SB_EINVAL;
  } else if (!rc) {
    stub = delete_stub(act);
    rc = stub ? sb_emit_yaml(stub, &b) : SB_ENOMEM;
  }
  cJSON_Delete(stub);
  /* All or nothing: a half-printed document would be misleading. */
  if (!rc && fwrite(b.data, 1, b.len, a->out) != b.len)
    rc = SB_EIO;
  sb_buf_free(&b);
  return rc;
}

static void dry_run(run *r) {
  const sb_plan *p = r->plan;
  int phase;
  size_t i;

  for (phase = 0; phase < 2; phase++)
    for (i = 0; i < p->nactions; i++) {
      const sb_action *act = &p->actions[i];
      int rc;

      if ((int) act->type != phase)
        continue;
      rc = print_action(r->a, act);
      if (rc)
        add_failure(r, i, rc, rc == SB_EIO ? "cannot write the dry-run "
                                             "output" : sb_strerror(rc));
      else if (act->type == SB_ACTION_APPLY)
        r->res.applied++;
      else
        r->res.deleted++;
    }
  fflush(r->a->out);
}

/* ---- public -------------------------------------------------------------- */

int sb_applier_new(sb_kube *k, const sb_applier_opts *o, sb_applier **out) {
  sb_applier *a;

  *out = NULL;
  if (!k)
    return SB_EINVAL;
  a = calloc(1, sizeof(*a));
  if (!a)
    return SB_ENOMEM;
  a->defer = malloc(sizeof(*a->defer));
  if (!a->defer) {
    free(a);
    return SB_ENOMEM;
  }
  a->loop = sb_kube_loop(k);
  a->k = k;
  a->dry_run = o ? o->dry_run : 0;
  a->out = o && o->out ? o->out : stdout;
  uv_timer_init(a->loop, a->defer);
  a->defer->data = a;
  *out = a;
  return 0;
}

int sb_applier_run(sb_applier *a, const sb_plan *plan, sb_apply_cb cb,
                   void *arg) {
  run *r;
  size_t i;

  if (!a || !plan || !cb || (plan->nactions && !plan->actions))
    return SB_EINVAL;
  for (i = 0; i < plan->nactions; i++) {
    const sb_action *act = &plan->actions[i];

    if (!act->gvk || !act->gvk->kind || !act->name ||
        (act->type == SB_ACTION_APPLY && !act->obj) ||
        (act->type != SB_ACTION_APPLY && act->type != SB_ACTION_DELETE))
      return SB_EINVAL;
  }
  r = calloc(1, sizeof(*r));
  if (!r)
    return SB_ENOMEM;
  r->a = a;
  r->plan = plan;
  r->cb = cb;
  r->arg = arg;
  r->res.retry_after = -1;
  if (plan->nactions) {
    r->slots = calloc(plan->nactions, sizeof(*r->slots));
    r->res.returned = calloc(plan->nactions, sizeof(cJSON *));
    if (!r->slots || !r->res.returned) {
      run_free(r);
      return SB_ENOMEM;
    }
    r->res.nreturned = plan->nactions;
  }
  if (a->dry_run) {
    dry_run(r);
    make_ready(r);
    return 0;
  }
  r->next = a->runs;
  if (a->runs)
    a->runs->prev = r;
  a->runs = r;
  pump(r);
  return 0;
}

static void defer_closed(uv_handle_t *h) {
  free(h);
}

void sb_applier_free(sb_applier *a) {
  run *r, *next;

  if (!a)
    return;
  if (a->freed)
    *a->freed = 1;
  /* Runs that only wait for their report: nothing is out, drop them. */
  for (r = a->ready; r; r = next) {
    next = r->next;
    run_free(r);
  }
  /* Runs with calls out: orphan them; the last callback frees each. The
   * cancel callbacks come from the loop. */
  for (r = a->runs; r; r = next) {
    size_t i;

    next = r->next;
    r->a = NULL;
    r->prev = r->next = NULL;
    r->inflight++;  /* held, in case a cancel ever called back at once */
    for (i = 0; i < r->plan->nactions; i++)
      if (r->slots[i].call)
        sb_kube_cancel(r->slots[i].call);
    r->plan = NULL;
    if (--r->inflight == 0)
      run_free(r);
  }
  uv_close((uv_handle_t *) a->defer, defer_closed);
  free(a);
}
