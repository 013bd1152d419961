/* lease.c -- leader election on a coordination.k8s.io/v1 Lease. See
 * sb/lease.h.
 *
 * One timer and at most one request at a time. Each tick is either a
 * renewal (we lead and hold the Lease's latest resourceVersion: PUT it
 * with a new renewTime) or a look (GET, then create the Lease when it is
 * missing, or PUT ourselves in as holder when it is free, ours, or
 * expired). Every write carries the resourceVersion we read, so of two
 * candidates racing for the same record one gets 409 and stays a
 * follower.
 *
 * Expiry never compares clocks across machines: we remember when the
 * record (holder, renewTime, leaseTransitions) last changed, on our
 * monotonic clock, and call it expired when it has not changed for
 * lease_duration since. A follower schedules its next look for exactly
 * that moment when it comes before the next retry period, so a dead
 * leader is replaced within lease_duration + retry_period of its last
 * renewal plus one request.
 *
 * The leader counts renew_deadline from the moment it *sent* its last
 * successful renewal (the server stored it no earlier). The timer is kept
 * armed for that deadline even while a request hangs, and at the deadline
 * we stop leading (callback 0) before anyone else may start: followers
 * wait lease_duration > renew_deadline from when they saw that renewal.
 *
 * Closing cancels what is out, then, if we lead, writes the release
 * (holderIdentity "", leaseDurationSeconds 1; one re-read and retry on
 * 409) so that a follower's next look takes over at once.
 */
#include "sb/lease.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sb/err.h"
#include "sb/log.h"

#define DEFAULT_DURATION_MS 15000u
#define DEFAULT_DEADLINE_MS 10000u
#define DEFAULT_RETRY_MS 2000u
#define MAX_FIELD 256

enum op {
  OP_NONE,
  OP_GET,         /* look at the Lease */
  OP_CREATE,      /* there was none: create it holding it */
  OP_ACQUIRE,     /* take it over (or keep our own) with its rv */
  OP_RENEW,       /* leader: new renewTime */
  OP_RELEASE,     /* closing: hand it back */
  OP_RELEASE_GET  /* closing: the release met 409; re-read once */
};

static const sb_gvr LEASES = {"coordination.k8s.io", "v1", "leases"};

struct sb_lease {
  uv_loop_t *loop;
  sb_kube *k;
  char *ns, *name, *identity;
  uint64_t duration_ms, deadline_ms, retry_ms;
  sb_lease_fn fn;
  void *arg;
  uv_timer_t timer;
  sb_kube_call *call;          /* the request out, if any */
  enum op op;
  uint64_t sent_ms;            /* when that request was sent */
  cJSON *obj;                  /* the Lease as last read or written */
  char holder[MAX_FIELD];      /* as last observed */
  char *observed;              /* holder/renewTime/transitions we saw */
  uint64_t observed_ms;        /* when `observed` last changed */
  uint64_t renewed_ms;         /* send time of our last successful write */
  int leading;
  int started;
  int closing;
  int release_retried;
  int ignore;                  /* the request out was canceled at the
                                  renew deadline: its answer is moot */
  void (*close_cb)(void *);
  void *close_arg;
};

static void arm(sb_lease *l);
static void look(sb_lease *l);
static void continue_close(sb_lease *l);

/* ---- small helpers ------------------------------------------------------- */

static uint64_t now_ms(sb_lease *l) {
  uv_update_time(l->loop);
  return uv_now(l->loop);
}

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);

  if (p)
    memcpy(p, s, n);
  return p;
}

/* metav1.MicroTime: RFC 3339 with microseconds, UTC. */
static void micro_time(char out[40]) {
  struct timespec ts;
  struct tm tm;
  size_t n;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 40 - n, ".%06uZ",
           (unsigned) (ts.tv_nsec / 1000) % 1000000u);
}

static const cJSON *spec_of(const cJSON *obj) {
  return cJSON_GetObjectItemCaseSensitive(obj, "spec");
}

static const char *spec_str(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec_of(obj), key);

  return cJSON_IsString(v) ? v->valuestring : "";
}

static double spec_num(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec_of(obj), key);

  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void set_field(cJSON *spec, const char *key, cJSON *v) {
  if (!v)
    return;
  if (cJSON_GetObjectItemCaseSensitive(spec, key))
    cJSON_ReplaceItemInObjectCaseSensitive(spec, key, v);
  else
    cJSON_AddItemToObject(spec, key, v);
}

/* The record we write: a copy of the Lease we read (so its
 * resourceVersion and any fields we do not know travel back unchanged)
 * with our spec fields, or a new Lease when base is NULL. */
static cJSON *record(sb_lease *l, const cJSON *base, const char *holder,
                     double duration_s, int new_acquire, double transitions) {
  cJSON *o, *spec;
  char now[40];

  micro_time(now);
  if (base) {
    o = cJSON_Duplicate(base, 1);
  } else {
    cJSON *m;

    o = cJSON_CreateObject();
    if (o) {
      cJSON_AddStringToObject(o, "apiVersion", "coordination.k8s.io/v1");
      cJSON_AddStringToObject(o, "kind", "Lease");
      m = cJSON_AddObjectToObject(o, "metadata");
      cJSON_AddStringToObject(m, "name", l->name);
      cJSON_AddStringToObject(m, "namespace", l->ns);
    }
  }
  if (!o)
    return NULL;
  spec = cJSON_GetObjectItemCaseSensitive(o, "spec");
  if (!cJSON_IsObject(spec)) {
    cJSON_DeleteItemFromObjectCaseSensitive(o, "spec");
    spec = cJSON_AddObjectToObject(o, "spec");
  }
  if (!spec) {
    cJSON_Delete(o);
    return NULL;
  }
  set_field(spec, "holderIdentity", cJSON_CreateString(holder));
  set_field(spec, "leaseDurationSeconds", cJSON_CreateNumber(duration_s));
  if (new_acquire || !*spec_str(o, "acquireTime"))
    set_field(spec, "acquireTime", cJSON_CreateString(now));
  set_field(spec, "renewTime", cJSON_CreateString(now));
  set_field(spec, "leaseTransitions", cJSON_CreateNumber(transitions));
  if (strcmp(spec_str(o, "holderIdentity"), holder) != 0 ||
      strcmp(spec_str(o, "renewTime"), now) != 0 ||
      spec_num(o, "leaseTransitions") != transitions) {
    cJSON_Delete(o);  /* an allocation failed on the way */
    return NULL;
  }
  return o;
}

static double duration_s(const sb_lease *l) {
  return (double) ((l->duration_ms + 999) / 1000);
}

/* ---- leadership changes -------------------------------------------------- */

/* Both return non-zero when the callback closed the lease. */
static int become_leader(sb_lease *l) {
  l->leading = 1;
  sb_log(SB_LOG_INFO, "became leader", "lease=%s/%s identity=%s", l->ns,
         l->name, l->identity);
  l->fn(l->arg, 1);
  return l->closing;
}

static int step_down(sb_lease *l, const char *why) {
  l->leading = 0;
  sb_log(SB_LOG_WARN, "lost leadership", "lease=%s/%s identity=%s "
         "reason=%s", l->ns, l->name, l->identity, why);
  l->fn(l->arg, 0);
  return l->closing;
}

/* Remembers what the Lease says; true when the record changed. */
static int observe(sb_lease *l, const cJSON *obj) {
  const char *holder = spec_str(obj, "holderIdentity");
  char sig[3 * MAX_FIELD + 64];
  int changed;

  snprintf(sig, sizeof(sig), "%s\n%s\n%.0f", holder,
           spec_str(obj, "renewTime"), spec_num(obj, "leaseTransitions"));
  changed = !l->observed || strcmp(l->observed, sig) != 0;
  if (changed) {
    char *s = dupstr(sig);

    if (s) {
      free(l->observed);
      l->observed = s;
    }
    l->observed_ms = now_ms(l);
  }
  if (strcmp(l->holder, holder) != 0) {
    if (*holder && strcmp(holder, l->identity) != 0)
      sb_log(SB_LOG_INFO, "new leader elected", "lease=%s/%s holder=%s",
             l->ns, l->name, holder);
    snprintf(l->holder, sizeof(l->holder), "%s", holder);
  }
  return changed;
}

static void keep_obj(sb_lease *l, sb_kube_result *res) {
  cJSON_Delete(l->obj);
  l->obj = res->body;
  res->body = NULL;
}

/* ---- requests ------------------------------------------------------------ */

static void on_response(void *arg, sb_kube_result *res);

static int send_op(sb_lease *l, enum op op, const cJSON *body) {
  sb_kube_target t;
  int rc;

  memset(&t, 0, sizeof(t));
  t.gvr = LEASES;
  t.ns = l->ns;
  t.name = l->name;
  l->op = op;
  l->sent_ms = now_ms(l);
  switch (op) {
  case OP_GET:
  case OP_RELEASE_GET:
    rc = sb_kube_get(l->k, &t, NULL, on_response, l, &l->call);
    break;
  case OP_CREATE:
    rc = sb_kube_create(l->k, &t, body, 0, on_response, l, &l->call);
    break;
  default:
    rc = sb_kube_update(l->k, &t, body, 0, on_response, l, &l->call);
    break;
  }
  if (rc) {
    l->op = OP_NONE;
    l->call = NULL;
    sb_log(SB_LOG_WARN, "lease request not sent", "lease=%s/%s err=%s",
           l->ns, l->name, sb_err_name(rc));
    return rc;
  }
  if (l->leading)
    arm(l);  /* the renew deadline holds while the request is out */
  return 0;
}

static int send_record(sb_lease *l, enum op op, const cJSON *base,
                       const char *holder, double dur, int new_acquire,
                       double transitions) {
  cJSON *body = record(l, base, holder, dur, new_acquire, transitions);
  int rc;

  if (!body)
    return SB_ENOMEM;
  rc = send_op(l, op, body);
  cJSON_Delete(body);
  return rc;
}

/* Decides, from the Lease just read, whether to take it. */
static void consider(sb_lease *l) {
  const char *holder = spec_str(l->obj, "holderIdentity");
  int mine = strcmp(holder, l->identity) == 0;
  double transitions = spec_num(l->obj, "leaseTransitions");

  if (l->leading && !mine) {
    char why[MAX_FIELD + 32];

    snprintf(why, sizeof(why), "the lease is held by %s",
             *holder ? holder : "nobody");
    if (step_down(l, why))
      return;
  }
  if (!mine && *holder &&
      now_ms(l) - l->observed_ms < l->duration_ms) {
    arm(l);  /* held, and renewed within the lease duration */
    return;
  }
  /* Free, expired, or ours already (a lost response to our own write). */
  if (!mine)
    transitions += 1;
  if (send_record(l, OP_ACQUIRE, l->obj, l->identity, duration_s(l), !mine,
                  transitions))
    arm(l);
}

static void on_response(void *arg, sb_kube_result *res) {
  sb_lease *l = arg;
  enum op op = l->op;

  l->call = NULL;
  l->op = OP_NONE;
  if (l->closing && op != OP_RELEASE && op != OP_RELEASE_GET) {
    continue_close(l);  /* what was out when close came is moot */
    return;
  }
  if (l->ignore) {
    l->ignore = 0;
    arm(l);
    return;
  }
  switch (op) {
  case OP_GET:
    if (res->err == SB_ENOTFOUND) {
      cJSON_Delete(l->obj);
      l->obj = NULL;
      if (l->leading && step_down(l, "the lease was deleted"))
        return;
      if (send_record(l, OP_CREATE, NULL, l->identity, duration_s(l), 1, 0))
        arm(l);
      return;
    }
    if (res->err || !res->body) {
      sb_log(SB_LOG_DEBUG, "cannot read the lease", "lease=%s/%s err=%s "
             "message=%s", l->ns, l->name, sb_err_name(res->err),
             res->message);
      break;
    }
    keep_obj(l, res);
    observe(l, l->obj);
    consider(l);
    return;
  case OP_CREATE:
  case OP_ACQUIRE:
  case OP_RENEW:
    if (!res->err && res->body) {
      keep_obj(l, res);
      observe(l, l->obj);
      if (now_ms(l) - l->sent_ms >= l->deadline_ms) {
        /* So slow that leading on it would already be past the
         * deadline: the next look decides afresh. */
        sb_log(SB_LOG_WARN, "lease write answered too late", "lease=%s/%s "
               "ms=%llu", l->ns, l->name,
               (unsigned long long) (now_ms(l) - l->sent_ms));
        break;
      }
      l->renewed_ms = l->sent_ms;
      if (!l->leading && become_leader(l))
        return;
      break;
    }
    if (res->err == SB_EEXIST || res->err == SB_ECONFLICT) {
      /* Someone else wrote first: read again now, decide then. */
      sb_log(SB_LOG_DEBUG, "lease write lost a race", "lease=%s/%s "
             "message=%s", l->ns, l->name, res->message);
      look(l);
      return;
    }
    sb_log(SB_LOG_WARN, op == OP_RENEW ? "cannot renew the lease"
                                       : "cannot acquire the lease",
           "lease=%s/%s err=%s message=%s", l->ns, l->name,
           sb_err_name(res->err), res->message);
    if (op == OP_RENEW) {
      /* Read before the next try: the cached version may be stale. */
      cJSON_Delete(l->obj);
      l->obj = NULL;
    }
    break;
  case OP_RELEASE:
    if (!res->err) {
      sb_log(SB_LOG_INFO, "released the lease", "lease=%s/%s identity=%s",
             l->ns, l->name, l->identity);
      l->leading = 0;
    } else if (res->err == SB_ECONFLICT && !l->release_retried) {
      l->release_retried = 1;
      if (send_op(l, OP_RELEASE_GET, NULL) == 0)
        return;
    } else {
      sb_log(SB_LOG_WARN, "cannot release the lease", "lease=%s/%s err=%s "
             "message=%s", l->ns, l->name, sb_err_name(res->err),
             res->message);
    }
    l->leading = 0;
    continue_close(l);
    return;
  case OP_RELEASE_GET:
    if (!res->err && res->body) {
      keep_obj(l, res);
      if (strcmp(spec_str(l->obj, "holderIdentity"), l->identity) == 0 &&
          send_record(l, OP_RELEASE, l->obj, "", 1,
                      0, spec_num(l->obj, "leaseTransitions")) == 0)
        return;
    }
    l->leading = 0;
    continue_close(l);
    return;
  default:
    break;
  }
  arm(l);
}

static void look(sb_lease *l) {
  if (send_op(l, OP_GET, NULL))
    arm(l);
}

static void renew(sb_lease *l) {
  if (send_record(l, OP_RENEW, l->obj, l->identity, duration_s(l), 0,
                  spec_num(l->obj, "leaseTransitions")))
    arm(l);
}

/* ---- the timer ----------------------------------------------------------- */

static void on_tick(uv_timer_t *t) {
  sb_lease *l = t->data;
  uint64_t now = now_ms(l);

  if (l->closing)
    return;
  if (l->leading && now - l->renewed_ms >= l->deadline_ms) {
    /* Stop writing before anyone else may start. */
    if (l->call) {
      l->ignore = 1;
      sb_kube_cancel(l->call);
    }
    if (step_down(l, "could not renew within the renew deadline"))
      return;
  }
  if (l->call) {
    arm(l);
    return;
  }
  if (l->leading && l->obj)
    renew(l);
  else
    look(l);
}

/* When to look next: the retry period, but no later than the renew
 * deadline (leader) or the moment the holder's lease expires (follower). */
static void arm(sb_lease *l) {
  uint64_t now, delay = l->retry_ms;

  if (l->closing)
    return;
  now = now_ms(l);
  if (l->leading) {
    uint64_t end = l->renewed_ms + l->deadline_ms;

    delay = end <= now ? 0 : end - now;
    if (!l->call && delay > l->retry_ms)
      delay = l->retry_ms;
  } else if (l->call) {
    return;  /* the answer re-arms */
  } else if (l->holder[0] && strcmp(l->holder, l->identity) != 0) {
    uint64_t end = l->observed_ms + l->duration_ms;

    if (end > now && end - now < delay)
      delay = end - now;
  }
  uv_timer_start(&l->timer, on_tick, delay, 0);
}

/* ---- public -------------------------------------------------------------- */

int sb_lease_new(uv_loop_t *loop, sb_kube *k, const sb_lease_opts *o,
                 sb_lease_fn fn, void *arg, sb_lease **out) {
  sb_lease *l;

  *out = NULL;
  if (!loop || !k || !o || !fn || !o->ns || !*o->ns || !o->name ||
      !*o->name || !o->identity || !*o->identity ||
      strlen(o->identity) >= MAX_FIELD)
    return SB_EINVAL;
  l = calloc(1, sizeof(*l));
  if (!l)
    return SB_ENOMEM;
  l->duration_ms = o->lease_duration_ms ? o->lease_duration_ms
                                        : DEFAULT_DURATION_MS;
  l->deadline_ms = o->renew_deadline_ms ? o->renew_deadline_ms
                                        : DEFAULT_DEADLINE_MS;
  l->retry_ms = o->retry_period_ms ? o->retry_period_ms : DEFAULT_RETRY_MS;
  /* client-go's rules: followers must wait out a leader that is still
   * trying to renew, and the leader must get more than one try. */
  if (l->duration_ms <= l->deadline_ms || l->deadline_ms <= l->retry_ms) {
    free(l);
    return SB_EINVAL;
  }
  l->loop = loop;
  l->k = k;
  l->fn = fn;
  l->arg = arg;
  l->ns = dupstr(o->ns);
  l->name = dupstr(o->name);
  l->identity = dupstr(o->identity);
  if (!l->ns || !l->name || !l->identity) {
    free(l->ns);
    free(l->name);
    free(l->identity);
    free(l);
    return SB_ENOMEM;
  }
  uv_timer_init(loop, &l->timer);
  l->timer.data = l;
  *out = l;
  return 0;
}

int sb_lease_start(sb_lease *l) {
  if (l->started || l->closing)
    return SB_EINVAL;
  l->started = 1;
  uv_timer_start(&l->timer, on_tick, 0, 0);
  return 0;
}

int sb_lease_leading(const sb_lease *l) {
  return l->leading;
}

const char *sb_lease_holder(const sb_lease *l) {
  return l->holder;
}

static void timer_closed(uv_handle_t *h) {
  sb_lease *l = h->data;
  void (*cb)(void *) = l->close_cb;
  void *arg = l->close_arg;

  cJSON_Delete(l->obj);
  free(l->observed);
  free(l->ns);
  free(l->name);
  free(l->identity);
  free(l);
  if (cb)
    cb(arg);
}

/* Called once nothing is out: release if we lead, else finish. */
static void continue_close(sb_lease *l) {
  if (l->leading && !l->release_retried && l->op == OP_NONE) {
    if (l->obj && send_record(l, OP_RELEASE, l->obj, "", 1, 0,
                              spec_num(l->obj, "leaseTransitions")) == 0)
      return;
    /* No current copy (a renewal just failed): read, then release if it
     * is still ours. */
    l->release_retried = 1;
    if (!l->obj && send_op(l, OP_RELEASE_GET, NULL) == 0)
      return;
  }
  l->leading = 0;
  uv_close((uv_handle_t *) &l->timer, timer_closed);
}

void sb_lease_close(sb_lease *l, void (*cb)(void *arg), void *arg) {
  if (l->closing)
    return;
  l->closing = 1;
  l->close_cb = cb;
  l->close_arg = arg;
  uv_timer_stop(&l->timer);
  if (l->call) {
    sb_kube_cancel(l->call);  /* on_response continues the close */
    return;
  }
  continue_close(l);
}
