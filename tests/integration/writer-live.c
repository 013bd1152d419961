/* writer-live.c -- the applier, the Events recorder and leader election
 * against a real kube-apiserver (the test control plane; KUBECONFIG
 * points at it, kubectl is on PATH).
 *
 * What it proves, in a fresh namespace:
 *   applier   server-side apply of an Istio VirtualService creates it; the
 *             same apply again changes nothing (same resourceVersion); a
 *             delete with a stale uid is refused (409, object kept); with
 *             the right uid it goes; deleting it again counts as not found;
 *             a ServiceAccount without rights gets the server's 403 message
 *             verbatim; the dry-run output passes kubectl apply
 *             --dry-run=server.
 *   recorder  an Event is created, the same Event again becomes count 2 on
 *             the same object (read back with kubectl get events -o json),
 *             another message makes a second Event.
 *   lease     two candidates in one loop: exactly one leads; closing it
 *             (release) hands over at the follower's next look. A leader
 *             in another process killed with SIGKILL is replaced within
 *             lease duration + retry period.
 *
 * It prints one line per check and the measured handover times, and exits
 * 0 when everything held. `writer-live candidate NS NAME ID` is the child
 * used for the kill test (it campaigns until killed).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "sb/applier.h"
#include "sb/err.h"
#include "sb/kube.h"
#include "sb/kubeconfig.h"
#include "sb/lease.h"
#include "sb/log.h"
#include "sb/recorder.h"

#define LEASE_MS 3000u
#define DEADLINE_MS 2000u
#define RETRY_MS 500u

static uv_loop_t *loop;
static sb_kubeconfig *cfg;
static sb_kube *kube;
static char ns[64];

static void fail(const char *fmt, ...) SB_PRINTF(1, 2);

static void fail(const char *fmt, ...) {
  va_list ap;

  fputs("FAIL: ", stdout);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
  exit(1);
}

#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (!(cond))                                                             \
      fail(__VA_ARGS__);                                                     \
  } while (0)

static void ok(const char *fmt, ...) SB_PRINTF(1, 2);

static void ok(const char *fmt, ...) {
  va_list ap;

  fputs("ok: ", stdout);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

static uint64_t now_ms(void) {
  uv_update_time(loop);
  return uv_now(loop);
}

/* Runs the loop until *flag, at most limit_ms. */
static int run_until(const int *flag, uint64_t limit_ms) {
  uint64_t start = now_ms();

  while (!*flag && now_ms() - start < limit_ms)
    uv_run(loop, UV_RUN_ONCE);
  return *flag;
}

static void stop(uv_timer_t *t) {
  *(int *) t->data = 1;
}

static void closed_cb(void *arg) {
  (*(int *) arg)++;
}

static void run_for(uint64_t ms) {
  uv_timer_t t;
  int done = 0;

  uv_timer_init(loop, &t);
  t.data = &done;
  uv_timer_start(&t, stop, ms, 0);
  while (!done)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *) &t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

/* ---- synchronous API calls -------------------------------------------- */

typedef struct res {
  int done;
  int err;
  long status;
  char msg[1024];
  cJSON *body;
} res;

static void on_res(void *arg, sb_kube_result *r) {
  res *x = arg;

  x->done = 1;
  x->err = r->err;
  x->status = r->status;
  snprintf(x->msg, sizeof(x->msg), "%s", r->message);
  x->body = r->body;
  r->body = NULL;
}

static res wait_res(res *x, int rc, const char *what) {
  CHECK(rc == 0, "%s: not started: %s", what, sb_strerror(rc));
  CHECK(run_until(&x->done, 30000), "%s: no answer in 30 s", what);
  return *x;
}

static const char *jstr(const cJSON *j, const char *a, const char *b) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, a);

  if (b)
    v = cJSON_GetObjectItemCaseSensitive(v, b);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static res get(const sb_gvr *g, const char *name) {
  sb_kube_target t;
  res x;

  memset(&t, 0, sizeof(t));
  memset(&x, 0, sizeof(x));
  t.gvr = *g;
  t.ns = ns;
  t.name = name;
  return wait_res(&x, sb_kube_get(kube, &t, NULL, on_res, &x, NULL), "get");
}

/* kubectl's output (caller frees), or NULL. */
static char *run_cmd(const char *cmd) {
  FILE *p = popen(cmd, "r");
  char *out = NULL;
  size_t len = 0, cap = 0, n;
  char buf[4096];

  if (!p)
    return NULL;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
    if (len + n + 1 > cap) {
      char *q;

      cap = (len + n + 1) * 2;
      q = realloc(out, cap);
      if (!q) {
        free(out);
        pclose(p);
        return NULL;
      }
      out = q;
    }
    memcpy(out + len, buf, n);
    len += n;
    out[len] = '\0';
  }
  if (pclose(p) != 0) {
    free(out);
    return NULL;
  }
  return out ? out : strdup("");
}

/* ---- applier ------------------------------------------------------------ */

static const sb_gvk VS_GVK = {"networking.istio.io", "v1", "VirtualService",
                              "virtualservices"};
static const sb_gvr VS_GVR = {"networking.istio.io", "v1",
                              "virtualservices"};

typedef struct applied {
  int done;
  size_t applied, deleted, not_found, nfailures;
  int err;
  char msg[1024];
  cJSON *returned;
} applied;

static void on_applied(void *arg, sb_apply_result *r) {
  applied *a = arg;

  a->done = 1;
  a->applied = r->applied;
  a->deleted = r->deleted;
  a->not_found = r->not_found;
  a->nfailures = r->nfailures;
  if (r->nfailures) {
    a->err = r->failures[0].err;
    snprintf(a->msg, sizeof(a->msg), "%s", r->failures[0].message);
  }
  if (r->nreturned) {
    a->returned = r->returned[0];
    r->returned[0] = NULL;
  }
}

static cJSON *virtualservice(void) {
  char text[1024];
  cJSON *o;

  snprintf(text, sizeof(text),
           "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
           "\"VirtualService\",\"metadata\":{\"name\":\"web-split\","
           "\"namespace\":\"%s\",\"labels\":{\"app.kubernetes.io/"
           "managed-by\":\"smi-bridge\"}},\"spec\":{\"hosts\":[\"web.%s."
           "svc.cluster.local\"],\"http\":[{\"route\":[{\"destination\":"
           "{\"host\":\"web-v1.%s.svc.cluster.local\"},\"weight\":90},"
           "{\"destination\":{\"host\":\"web-v2.%s.svc.cluster.local\"},"
           "\"weight\":10}]}]}}", ns, ns, ns, ns);
  o = cJSON_Parse(text);
  CHECK(o, "bad VirtualService text");
  return o;
}

static applied run_plan(sb_applier *ap, sb_action *act) {
  sb_plan p;
  applied a;
  int rc;

  memset(&p, 0, sizeof(p));
  memset(&a, 0, sizeof(a));
  p.actions = act;
  p.nactions = 1;
  rc = sb_applier_run(ap, &p, on_applied, &a);
  CHECK(rc == 0, "applier run: %s", sb_strerror(rc));
  CHECK(run_until(&a.done, 30000), "applier: no result in 30 s");
  return a;
}

static void check_applier(void) {
  sb_applier *ap;
  sb_action act;
  applied a1, a2, a;
  char uid[64], rv[64];
  res g;

  CHECK(sb_applier_new(kube, NULL, &ap) == 0, "applier new");
  memset(&act, 0, sizeof(act));
  act.type = SB_ACTION_APPLY;
  act.gvk = &VS_GVK;
  act.ns = ns;
  act.name = (char *) "web-split";
  act.obj = virtualservice();

  a1 = run_plan(ap, &act);
  CHECK(a1.applied == 1 && a1.nfailures == 0, "first apply: %s", a1.msg);
  snprintf(uid, sizeof(uid), "%s", jstr(a1.returned, "metadata", "uid"));
  snprintf(rv, sizeof(rv), "%s",
           jstr(a1.returned, "metadata", "resourceVersion"));
  g = get(&VS_GVR, "web-split");
  CHECK(!g.err, "VirtualService not created: %s", g.msg);
  CHECK(strcmp(jstr(g.body, "metadata", "uid"), uid) == 0, "uid differs");
  cJSON_Delete(g.body);
  ok("server-side apply created VirtualService %s/web-split uid=%s rv=%s",
     ns, uid, rv);

  a2 = run_plan(ap, &act);
  CHECK(a2.applied == 1 && a2.nfailures == 0, "second apply: %s", a2.msg);
  CHECK(strcmp(jstr(a2.returned, "metadata", "resourceVersion"), rv) == 0,
        "second apply changed the object: rv %s -> %s", rv,
        jstr(a2.returned, "metadata", "resourceVersion"));
  ok("second identical apply is a no-op (resourceVersion still %s)", rv);
  cJSON_Delete(a1.returned);
  cJSON_Delete(a2.returned);
  cJSON_Delete(act.obj);
  act.obj = NULL;

  act.type = SB_ACTION_DELETE;
  act.uid = (char *) "00000000-0000-4000-8000-000000000000";
  a = run_plan(ap, &act);
  CHECK(a.nfailures == 1 && a.err == SB_ECONFLICT && a.deleted == 0,
        "delete with a stale uid: failures=%zu err=%s", a.nfailures,
        sb_err_name(a.err));
  CHECK(strstr(a.msg, "does not match the UID in record") != NULL,
        "409 message: %s", a.msg);
  g = get(&VS_GVR, "web-split");
  CHECK(!g.err, "object gone after a refused delete");
  cJSON_Delete(g.body);
  ok("delete with a stale uid refused: %s", a.msg);

  act.uid = uid;
  act.resource_version = rv;
  a = run_plan(ap, &act);
  CHECK(a.deleted == 1 && a.nfailures == 0, "delete: %s", a.msg);
  g = get(&VS_GVR, "web-split");
  CHECK(g.err == SB_ENOTFOUND, "still there after delete: %s",
        sb_err_name(g.err));
  cJSON_Delete(g.body);
  ok("delete with the right uid and resourceVersion succeeded");
  a = run_plan(ap, &act);
  CHECK(a.not_found == 1 && a.nfailures == 0, "second delete: %s", a.msg);
  ok("deleting it again counts as not found");
  sb_applier_free(ap);
}

/* The dry-run output is what kubectl and the server accept as is. */
static void check_dry_run(void) {
  char path[] = "/tmp/writer-live-XXXXXX", cmd[512], *out;
  sb_applier_opts o;
  sb_applier *ap;
  sb_action act;
  applied a;
  FILE *f;
  int fd;

  fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
  f = fdopen(fd, "w");
  CHECK(f, "fdopen");
  memset(&o, 0, sizeof(o));
  o.dry_run = 1;
  o.out = f;
  CHECK(sb_applier_new(kube, &o, &ap) == 0, "applier new");
  memset(&act, 0, sizeof(act));
  act.type = SB_ACTION_APPLY;
  act.gvk = &VS_GVK;
  act.ns = ns;
  act.name = (char *) "web-split";
  act.obj = virtualservice();
  a = run_plan(ap, &act);
  CHECK(a.applied == 1 && a.nfailures == 0, "dry run: %s", a.msg);
  fclose(f);
  snprintf(cmd, sizeof(cmd), "kubectl apply --server-side "
           "--field-manager=smi-bridge --dry-run=server -f %s", path);
  out = run_cmd(cmd);
  CHECK(out && strstr(out, "web-split"), "kubectl refused the dry-run "
        "output (%s)", path);
  ok("dry-run output accepted by kubectl apply --dry-run=server: %.*s",
     (int) strcspn(out, "\n"), out);
  free(out);
  unlink(path);
  cJSON_Delete(act.obj);
  sb_applier_free(ap);
}

/* A ServiceAccount with no rights: the 403 comes back word for word. */
static void check_forbidden(void) {
  char cmd[512], want[512], *token;
  sb_kubeconfig limited;
  sb_kube *k2;
  sb_applier *ap;
  sb_action act;
  applied a;
  size_t n;
  int closed = 0;

  snprintf(cmd, sizeof(cmd), "kubectl create serviceaccount limited -n %s "
           ">/dev/null && kubectl create token limited -n %s", ns, ns);
  token = run_cmd(cmd);
  CHECK(token && *token, "cannot get a ServiceAccount token");
  n = strlen(token);
  while (n && (token[n - 1] == '\n' || token[n - 1] == '\r'))
    token[--n] = '\0';
  limited = *cfg;
  limited.cert = limited.key = NULL;
  limited.cert_len = limited.key_len = 0;
  limited.token = token;
  limited.token_file = NULL;
  limited.exec = NULL;
  CHECK(sb_kube_new(loop, &limited, NULL, &k2) == 0, "client");
  CHECK(sb_applier_new(k2, NULL, &ap) == 0, "applier");
  memset(&act, 0, sizeof(act));
  act.type = SB_ACTION_APPLY;
  act.gvk = &VS_GVK;
  act.ns = ns;
  act.name = (char *) "web-split";
  act.obj = virtualservice();
  a = run_plan(ap, &act);
  snprintf(want, sizeof(want),
           "virtualservices.networking.istio.io \"web-split\" is forbidden: "
           "User \"system:serviceaccount:%s:limited\" cannot patch resource "
           "\"virtualservices\" in API group \"networking.istio.io\" in the "
           "namespace \"%s\"", ns, ns);
  CHECK(a.nfailures == 1 && a.err == SB_EFORBIDDEN, "403 expected: %s",
        sb_err_name(a.err));
  CHECK(strcmp(a.msg, want) == 0, "403 message changed:\n  got  %s\n  "
        "want %s", a.msg, want);
  ok("403 reported verbatim: %s", a.msg);
  sb_applier_free(ap);
  cJSON_Delete(act.obj);
  sb_kube_close(k2, closed_cb, &closed);
  CHECK(run_until(&closed, 10000), "client did not close");
  free(token);
}

/* ---- recorder ----------------------------------------------------------- */

static void wait_written(sb_recorder *r, unsigned long n) {
  uint64_t start = now_ms();
  unsigned long w = 0, f = 0;

  while (now_ms() - start < 30000) {
    sb_recorder_stats(r, &w, &f);
    if (w + f >= n)
      break;
    uv_run(loop, UV_RUN_ONCE);
  }
  CHECK(f == 0, "event writes failed: %lu", f);
  CHECK(w == n, "events written: %lu, want %lu", w, n);
}

static void check_recorder(void) {
  sb_recorder_opts o;
  sb_recorder *r;
  sb_objref ref;
  char cmd[256], *out;
  cJSON *list, *it;
  int n = 0, closed = 0;
  double count = 0;
  const cJSON *ev = NULL;

  memset(&o, 0, sizeof(o));
  o.component = "smi-bridge";
  o.host = "writer-live";
  CHECK(sb_recorder_new(loop, kube, &o, &r) == 0, "recorder");
  memset(&ref, 0, sizeof(ref));
  ref.api_version = "v1";
  ref.kind = "ServiceAccount";
  ref.ns = ns;
  ref.name = "limited";
  ref.uid = NULL;
  CHECK(sb_recorder_event(r, &ref, SB_EVENT_WARNING, "ApplyFailed",
                          "cannot apply %s: %s", "VirtualService web-split",
                          "forbidden") == 0, "event");
  wait_written(r, 1);
  run_for(1100);  /* a later lastTimestamp (1 s resolution) */
  CHECK(sb_recorder_event(r, &ref, SB_EVENT_WARNING, "ApplyFailed",
                          "cannot apply VirtualService web-split: "
                          "forbidden") == 0, "event");
  wait_written(r, 2);
  CHECK(sb_recorder_event(r, &ref, SB_EVENT_NORMAL, "Translated",
                          "rendered 1 object") == 0, "event");
  wait_written(r, 3);

  snprintf(cmd, sizeof(cmd), "kubectl get events -n %s -o json", ns);
  out = run_cmd(cmd);
  CHECK(out, "kubectl get events failed");
  list = cJSON_Parse(out);
  CHECK(list, "kubectl output is not JSON");
  cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items")) {
    n++;
    if (strcmp(jstr(it, "reason", NULL), "ApplyFailed") == 0) {
      CHECK(!ev, "two ApplyFailed events: not de-duplicated");
      ev = it;
    }
  }
  CHECK(n == 2, "%d events in the namespace, want 2", n);
  CHECK(ev, "no ApplyFailed event");
  count = cJSON_GetObjectItem(ev, "count")->valuedouble;
  CHECK(count == 2, "count %.0f, want 2", count);
  CHECK(strcmp(jstr(ev, "type", NULL), "Warning") == 0, "type");
  CHECK(strcmp(jstr(ev, "involvedObject", "name"), "limited") == 0, "name");
  CHECK(strcmp(jstr(ev, "source", "component"), "smi-bridge") == 0, "src");
  CHECK(strcmp(jstr(ev, "lastTimestamp", NULL),
               jstr(ev, "firstTimestamp", NULL)) > 0,
        "lastTimestamp %s not after firstTimestamp %s",
        jstr(ev, "lastTimestamp", NULL), jstr(ev, "firstTimestamp", NULL));
  ok("event %s: count=2 first=%s last=%s (kubectl get events)",
     jstr(ev, "metadata", "name"), jstr(ev, "firstTimestamp", NULL),
     jstr(ev, "lastTimestamp", NULL));
  cJSON_Delete(list);
  free(out);
  sb_recorder_close(r, closed_cb, &closed);
  CHECK(run_until(&closed, 10000), "recorder did not close");
}

/* ---- lease -------------------------------------------------------------- */

typedef struct cand {
  sb_lease *l;
  int leading;
  int changes;
  uint64_t at;
  const char *id;
} cand;

static void on_leading(void *arg, int leading) {
  cand *c = arg;

  c->leading = leading;
  c->changes++;
  c->at = now_ms();
}

static void cand_start(cand *c, const char *name, const char *id) {
  sb_lease_opts o;

  memset(c, 0, sizeof(*c));
  c->id = id;
  memset(&o, 0, sizeof(o));
  o.ns = ns;
  o.name = name;
  o.identity = id;
  o.lease_duration_ms = LEASE_MS;
  o.renew_deadline_ms = DEADLINE_MS;
  o.retry_period_ms = RETRY_MS;
  CHECK(sb_lease_new(loop, kube, &o, on_leading, c, &c->l) == 0, "lease");
  CHECK(sb_lease_start(c->l) == 0, "lease start");
}

static void cand_close(cand *c) {
  int done = 0;

  sb_lease_close(c->l, closed_cb, &done);
  CHECK(run_until(&done, 30000), "lease did not close");
  c->l = NULL;
}

static int either(const cand *a, const cand *b) {
  return a->leading || b->leading;
}

static void check_lease_pair(void) {
  cand a, b, *leader, *follower;
  uint64_t t_close, handover;
  uint64_t start = now_ms();

  cand_start(&a, "pair", "cand-a");
  cand_start(&b, "pair", "cand-b");
  while (!either(&a, &b) && now_ms() - start < 30000)
    uv_run(loop, UV_RUN_ONCE);
  CHECK(either(&a, &b), "nobody leads after 30 s");
  run_for(LEASE_MS + 2 * RETRY_MS);
  CHECK(a.leading + b.leading == 1, "%d leaders", a.leading + b.leading);
  leader = a.leading ? &a : &b;
  follower = a.leading ? &b : &a;
  CHECK(leader->changes == 1 && follower->changes == 0,
        "leadership changed hands without cause");
  CHECK(strcmp(sb_lease_holder(follower->l), leader->id) == 0,
        "follower sees holder %s", sb_lease_holder(follower->l));
  ok("two candidates, one loop: %s leads, %s follows for %u ms",
     leader->id, follower->id, LEASE_MS + 2 * RETRY_MS);

  /* Half a retry period later, so the follower's next look is not in
   * step with the leader's renewals: the handover time then shows the
   * wait for that look (at most a retry period). */
  run_for(RETRY_MS / 2);
  cand_close(leader);  /* releases */
  t_close = now_ms();
  run_until(&follower->leading, 30000);
  CHECK(follower->leading, "no handover after release");
  handover = follower->at - t_close;
  CHECK(handover < LEASE_MS, "release handover took %llu ms",
        (unsigned long long) handover);
  ok("release on close: %s took over after %llu ms (retry period %u ms, "
     "lease duration %u ms)", follower->id, (unsigned long long) handover,
     RETRY_MS, LEASE_MS);
  cand_close(follower);
}

static void on_exit_child(uv_process_t *p, int64_t status, int sig) {
  (void) status;
  (void) sig;
  uv_close((uv_handle_t *) p, NULL);
}

static void check_lease_kill(void) {
  char exe[4096];
  size_t len = sizeof(exe);
  char *args[6];
  uv_process_options_t po;
  uv_stdio_container_t stdio[3];
  uv_process_t child;
  cand d;
  uint64_t start, t_kill, failover;
  int rc;
  res g;
  static const sb_gvr LEASES = {"coordination.k8s.io", "v1", "leases"};

  CHECK(uv_exepath(exe, &len) == 0, "exepath");
  args[0] = exe;
  args[1] = (char *) "candidate";
  args[2] = ns;
  args[3] = (char *) "kill";
  args[4] = (char *) "child-c";
  args[5] = NULL;
  memset(&po, 0, sizeof(po));
  po.file = exe;
  po.args = args;
  po.exit_cb = on_exit_child;
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = 2;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  po.stdio = stdio;
  po.stdio_count = 3;
  rc = uv_spawn(loop, &child, &po);
  CHECK(rc == 0, "spawn: %s", uv_strerror(rc));
  /* Wait until the child holds the Lease. */
  start = now_ms();
  for (;;) {
    g = get(&LEASES, "kill");
    if (!g.err && strcmp(jstr(g.body, "spec", "holderIdentity"),
                         "child-c") == 0) {
      cJSON_Delete(g.body);
      break;
    }
    cJSON_Delete(g.body);
    CHECK(now_ms() - start < 30000, "the child never led");
    run_for(100);
  }
  cand_start(&d, "kill", "cand-d");
  run_for(LEASE_MS + 2 * RETRY_MS);
  CHECK(!d.leading && d.changes == 0, "took the lease from a live leader");
  CHECK(strcmp(sb_lease_holder(d.l), "child-c") == 0, "holder %s",
        sb_lease_holder(d.l));
  ok("follower waits while the leader in another process renews (%u ms)",
     LEASE_MS + 2 * RETRY_MS);
  t_kill = now_ms();
  uv_process_kill(&child, SIGKILL);
  run_until(&d.leading, 60000);
  CHECK(d.leading, "no takeover after the leader was killed");
  failover = d.at - t_kill;
  /* The last renewal came at most a retry period before the kill; the
   * follower waits a full lease duration from when it saw it. */
  CHECK(failover + RETRY_MS + 200 >= LEASE_MS, "took over too early: %llu",
        (unsigned long long) failover);
  CHECK(failover <= LEASE_MS + RETRY_MS + 1000,
        "failover took %llu ms, more than lease duration + retry period",
        (unsigned long long) failover);
  ok("leader killed (SIGKILL): follower took over after %llu ms (lease "
     "duration %u ms + retry period %u ms = %u ms)",
     (unsigned long long) failover, LEASE_MS, RETRY_MS, LEASE_MS + RETRY_MS);
  cand_close(&d);
}

/* ---- setup -------------------------------------------------------------- */

static void make_namespace(void) {
  static const sb_kube_target t = {{"", "v1", "namespaces"}, NULL, NULL,
                                   NULL};
  cJSON *o = cJSON_CreateObject();
  res x;
  unsigned r;

  srand((unsigned) time(NULL) ^ (unsigned) getpid());
  r = (unsigned) rand();
  snprintf(ns, sizeof(ns), "sbw-%08x", r);
  cJSON_AddStringToObject(o, "apiVersion", "v1");
  cJSON_AddStringToObject(o, "kind", "Namespace");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "metadata"), "name",
                          ns);
  memset(&x, 0, sizeof(x));
  x = wait_res(&x, sb_kube_create(kube, &t, o, 0, on_res, &x, NULL),
               "namespace");
  CHECK(!x.err, "cannot create namespace %s: %s", ns, x.msg);
  cJSON_Delete(x.body);
  cJSON_Delete(o);
  ok("namespace %s", ns);
}

static void drop_namespace(void) {
  static const sb_kube_target base = {{"", "v1", "namespaces"}, NULL, NULL,
                                      NULL};
  sb_kube_target t = base;
  res x;

  t.name = ns;
  memset(&x, 0, sizeof(x));
  x = wait_res(&x, sb_kube_delete(kube, &t, NULL, on_res, &x, NULL),
               "delete namespace");
  cJSON_Delete(x.body);
}

static void setup(void) {
  sb_kubeconfig_opts ko;
  char err[512];
  int rc;

  memset(&ko, 0, sizeof(ko));
  rc = sb_kubeconfig_load(&ko, &cfg, err, sizeof(err));
  CHECK(rc == 0, "kubeconfig: %s", err);
  loop = uv_default_loop();
  CHECK(sb_kube_new(loop, cfg, NULL, &kube) == 0, "client");
}

/* The child of the kill test: campaigns until it is killed. */
static int candidate(int argc, char **argv) {
  cand c;

  if (argc != 5)
    return 2;
  setup();
  snprintf(ns, sizeof(ns), "%s", argv[2]);
  cand_start(&c, argv[3], argv[4]);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}

int main(int argc, char **argv) {
  int closed = 0;

  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "candidate") == 0)
    return candidate(argc, argv);
  if (!getenv("KUBECONFIG")) {
    printf("KUBECONFIG is not set: this test needs the test control "
           "plane\n");
    return 1;
  }
  setup();
  make_namespace();
  check_applier();
  check_dry_run();
  check_forbidden();
  check_recorder();
  check_lease_pair();
  check_lease_kill();
  drop_namespace();
  sb_kube_close(kube, closed_cb, &closed);
  uv_run(loop, UV_RUN_DEFAULT);
  CHECK(closed == 1, "client did not close");
  CHECK(uv_loop_close(loop) == 0, "handles left open");
  sb_kubeconfig_free(cfg);
  printf("PASS\n");
  return 0;
}
