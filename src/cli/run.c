/* run.c -- `smi-bridge run`: the controller.
 *
 * Parses the command line into manager options, sets up logging and
 * signals, and runs the loop until the manager has stopped. SIGINT and
 * SIGTERM stop gracefully (the Lease is released, watches closed); a
 * second signal exits at once.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cli.h"
#include "options.h"
#include "sb/err.h"
#include "sb/log.h"
#include "sb/manager.h"

typedef struct {
  const char *kubeconfig;
  const char *context;
  sb_opt_list namespaces;
  const char *mesh;
  const char *routes;
  const char *cluster_domain;
  const char *trust_domain;
  const char *istio_api;
  int service_profile;
  int dry_run;
  int leader_elect;
  const char *lease_ns;
  const char *lease_name;
  unsigned lease_duration;
  unsigned renew_deadline;
  unsigned retry_period;
  const char *metrics_addr;
  const char *health_addr;
  double qps;
  int burst;
  int workers;
  int watch_list;
  const char *log_format;
  int verbosity;
} run_cfg;

static const char *const mesh_choices[] = {"auto", "istio", "linkerd", NULL};
static const char *const routes_choices[] = {"native", "gateway-api", NULL};
static const char *const istio_api_choices[] = {"v1", "v1beta1", NULL};
static const char *const log_choices[] = {"text", "json", NULL};

#define OFF(f) offsetof(run_cfg, f)
static const sb_opt run_opts[] = {
  {"kubeconfig", 0, SB_OPT_STRING, OFF(kubeconfig), NULL, NULL, "FILE",
   NULL, "Kubeconfig file. Without it: $KUBECONFIG (a ':' list, merged like "
   "kubectl), the in-cluster service account, then ~/.kube/config."},
  {"context", 0, SB_OPT_STRING, OFF(context), NULL, NULL, "NAME", NULL,
   "Kubeconfig context to use instead of the current one."},
  {"namespace", 'n', SB_OPT_LIST, OFF(namespaces), NULL,
   "SMI_BRIDGE_NAMESPACES", "NS", NULL, "Watch only this namespace. "
   "Repeatable; the environment takes a comma-separated list. Default: "
   "every namespace."},
  {"mesh", 0, SB_OPT_STRING, OFF(mesh), "auto", "SMI_BRIDGE_MESH", "MESH",
   mesh_choices, "Mesh to write objects for; auto picks the one whose CRDs "
   "the cluster serves."},
  {"routes", 0, SB_OPT_STRING, OFF(routes), "native", "SMI_BRIDGE_ROUTES",
   "MODE", routes_choices, "Route objects for TrafficSplits: the mesh's "
   "own, or Gateway API HTTPRoutes with a Service parent (GAMMA)."},
  {"cluster-domain", 0, SB_OPT_STRING, OFF(cluster_domain), "cluster.local",
   NULL, "DOMAIN", NULL, "Cluster DNS domain used in service FQDNs."},
  {"trust-domain", 0, SB_OPT_STRING, OFF(trust_domain), "cluster.local",
   NULL, "DOMAIN", NULL, "Mesh trust domain used in Istio principals."},
  {"istio-api", 0, SB_OPT_STRING, OFF(istio_api), "v1", NULL, "VERSION",
   istio_api_choices, "Istio API version to write; v1beta1 for Istio older "
   "than 1.22 (weights become percentages summing to 100)."},
  {"linkerd-service-profile", 0, SB_OPT_BOOL, OFF(service_profile), "false",
   NULL, NULL, NULL, "Linkerd legacy mode: TrafficSplits become "
   "ServiceProfile dstOverrides instead of HTTPRoutes."},
  {"dry-run", 0, SB_OPT_BOOL, OFF(dry_run), "false", NULL, NULL, NULL,
   "Watch the cluster and print every apply/delete as YAML on stdout; "
   "write nothing (no objects, Events or Lease)."},
  {"leader-elect", 0, SB_OPT_BOOL, OFF(leader_elect), "false", NULL, NULL,
   NULL, "Only the holder of a coordination.k8s.io Lease writes; other "
   "replicas keep warm caches."},
  {"leader-elect-namespace", 0, SB_OPT_STRING, OFF(lease_ns), NULL,
   "POD_NAMESPACE", "NS", NULL, "Namespace of the Lease. Default: the "
   "kubeconfig context's or the pod's namespace, else default."},
  {"leader-elect-name", 0, SB_OPT_STRING, OFF(lease_name), "smi-bridge",
   NULL, "NAME", NULL, "Name of the Lease."},
  {"leader-elect-lease-duration", 0, SB_OPT_DURATION, OFF(lease_duration),
   "15s", NULL, "DURATION", NULL, "How long followers wait after the "
   "leader's last renewal before taking over."},
  {"leader-elect-renew-deadline", 0, SB_OPT_DURATION, OFF(renew_deadline),
   "10s", NULL, "DURATION", NULL, "How long the leader keeps trying to "
   "renew before it stops writing."},
  {"leader-elect-retry-period", 0, SB_OPT_DURATION, OFF(retry_period), "2s",
   NULL, "DURATION", NULL, "Interval between attempts to take or renew "
   "the Lease."},
  {"metrics-addr", 0, SB_OPT_STRING, OFF(metrics_addr), ":8080", NULL,
   "ADDR", NULL, "Address of the Prometheus /metrics endpoint; 0 "
   "disables it."},
  {"health-addr", 0, SB_OPT_STRING, OFF(health_addr), ":8081", NULL, "ADDR",
   NULL, "Address of /healthz and /readyz; 0 disables them."},
  {"kube-api-qps", 0, SB_OPT_DOUBLE, OFF(qps), "20", NULL, "QPS", NULL,
   "Writes per second to the API server (token bucket)."},
  {"kube-api-burst", 0, SB_OPT_INT, OFF(burst), "30", NULL, "N", NULL,
   "Burst of writes allowed above --kube-api-qps."},
  {"workers", 0, SB_OPT_INT, OFF(workers), "4", NULL, "N", NULL,
   "SMI objects reconciled at the same time."},
  {"watch-list", 0, SB_OPT_BOOL, OFF(watch_list), "false", NULL, NULL, NULL,
   "Read each resource's initial state as one streamed watch "
   "(sendInitialEvents) instead of pages of 500: no list page held in "
   "memory, but readiness waits for the server's end-of-list bookmark "
   "(slower start-up). A server without it (the WatchList feature) is "
   "listed in pages after one refused request."},
  {"log-format", 0, SB_OPT_STRING, OFF(log_format), "text",
   "SMI_BRIDGE_LOG_FORMAT", "FORMAT", log_choices, "One line per event: "
   "logfmt text or JSON."},
  {"v", 'v', SB_OPT_COUNT, OFF(verbosity), "0", NULL, "N", NULL,
   "Log verbosity: 0 info, 2 debug, 4 trace."},
};
#undef OFF

static const char usage_line[] = "smi-bridge run [options]";
static const char about[] =
    "Runs the controller: watches SMI objects (every version the cluster "
    "serves),\nServices and Pods, and keeps the generated Istio, Linkerd or "
    "Gateway API objects\nin step with server-side apply. Problems are "
    "reported as Kubernetes Events on\nthe SMI objects, in the log and in "
    "the metrics.";

struct run_state {
  sb_manager *m;
  uv_signal_t sigint, sigterm;
  int status;
  int signals;
  int done;
};

static void on_signal(uv_signal_t *h, int signum) {
  struct run_state *st = h->data;

  if (st->signals++) {
    sb_log_raw("smi-bridge: second signal, exiting now");
    _Exit(1);
  }
  sb_log(SB_LOG_INFO, "signal received; stopping", "signal=%d", signum);
  if (st->m)
    sb_manager_stop(st->m);
}

static void on_done(void *arg, int status) {
  struct run_state *st = arg;

  st->status = status;
  st->done = 1;
  st->m = NULL;
  uv_close((uv_handle_t *) &st->sigint, NULL);
  uv_close((uv_handle_t *) &st->sigterm, NULL);
}

int sb_cli_run(int argc, char **argv) {
  run_cfg cfg;
  sb_manager_opts mo;
  sb_opt_list pos = {NULL, 0, NULL};
  struct run_state st;
  uv_loop_t loop;
  sb_buf err;
  char msg[1024] = "";
  int help, rc, status = 0;

  memset(&cfg, 0, sizeof(cfg));
  memset(&st, 0, sizeof(st));
  sb_buf_init(&err, 4096);
  rc = sb_opts_parse(run_opts, SB_ARRAY_SIZE(run_opts), &cfg, argc, argv,
                     &pos, &help, &err);
  if (help) {
    sb_opts_usage(run_opts, SB_ARRAY_SIZE(run_opts), usage_line, about,
                  stdout);
    goto out;
  }
  if (!rc && pos.n) {
    sb_buf_addf(&err, "unexpected argument \"%s\"", pos.v[0]);
    rc = SB_EINVAL;
  }
  if (!rc && (cfg.workers < 1 || cfg.burst < 1 || cfg.qps <= 0)) {
    sb_buf_adds(&err, "--workers, --kube-api-qps and --kube-api-burst must "
                "be positive");
    rc = SB_EINVAL;
  }
  if (!rc && cfg.leader_elect &&
      !(cfg.retry_period < cfg.renew_deadline &&
        cfg.renew_deadline < cfg.lease_duration)) {
    sb_buf_adds(&err, "leader election needs retry-period < renew-deadline "
                "< lease-duration");
    rc = SB_EINVAL;
  }
  if (rc) {
    fprintf(stderr, "smi-bridge run: %s\n", sb_buf_cstr(&err));
    status = 2;
    goto out;
  }
  sb_log_setup(strcmp(cfg.log_format, "json") == 0 ? SB_LOG_JSON
                                                   : SB_LOG_TEXT,
               cfg.verbosity, 2);
  signal(SIGPIPE, SIG_IGN);

  memset(&mo, 0, sizeof(mo));
  mo.kubeconfig = cfg.kubeconfig;
  mo.context = cfg.context;
  mo.sa_dir = getenv("SMI_BRIDGE_SERVICEACCOUNT_DIR");
  mo.namespaces = cfg.namespaces.v;
  mo.nnamespaces = cfg.namespaces.n;
  sb_translate_opts_default(&mo.topts);
  mo.mesh_auto = strcmp(cfg.mesh, "auto") == 0;
  mo.topts.mesh = strcmp(cfg.mesh, "linkerd") == 0 ? SB_MESH_LINKERD
                                                   : SB_MESH_ISTIO;
  mo.topts.routes = strcmp(cfg.routes, "gateway-api") == 0
                        ? SB_ROUTES_GATEWAY_API : SB_ROUTES_NATIVE;
  mo.topts.istio_api = strcmp(cfg.istio_api, "v1beta1") == 0
                           ? SB_ISTIO_API_V1BETA1 : SB_ISTIO_API_V1;
  mo.topts.cluster_domain = cfg.cluster_domain;
  mo.topts.trust_domain = cfg.trust_domain;
  mo.topts.linkerd_service_profile = cfg.service_profile;
  mo.dry_run = cfg.dry_run;
  mo.dry_run_out = stdout;
  mo.leader_elect = cfg.leader_elect;
  mo.lease_ns = cfg.lease_ns;
  mo.lease_name = cfg.lease_name;
  mo.lease_duration_ms = cfg.lease_duration;
  mo.renew_deadline_ms = cfg.renew_deadline;
  mo.retry_period_ms = cfg.retry_period;
  mo.metrics_addr = cfg.metrics_addr;
  mo.health_addr = cfg.health_addr;
  mo.qps = cfg.qps;
  mo.burst = cfg.burst;
  mo.workers = (unsigned) cfg.workers;
  mo.stream_lists = cfg.watch_list;

  if (uv_loop_init(&loop) != 0) {
    fprintf(stderr, "smi-bridge run: cannot create the event loop\n");
    status = 1;
    goto out;
  }
  /* Signals first: a SIGTERM that comes while the manager is set up is
   * then a graceful stop once the loop runs, not death by the default
   * action (exit status 143 instead of 0). */
  uv_signal_init(&loop, &st.sigint);
  uv_signal_init(&loop, &st.sigterm);
  st.sigint.data = st.sigterm.data = &st;
  uv_signal_start(&st.sigint, on_signal, SIGINT);
  uv_signal_start(&st.sigterm, on_signal, SIGTERM);
  rc = sb_manager_new(&loop, &mo, &st.m, msg, sizeof(msg));
  if (rc) {
    sb_log(SB_LOG_ERROR, "cannot start", "err=%s detail=%s",
           sb_err_name(rc), msg);
    uv_close((uv_handle_t *) &st.sigint, NULL);
    uv_close((uv_handle_t *) &st.sigterm, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);  /* let partial set-up close */
    uv_loop_close(&loop);
    status = 1;
    goto out;
  }
  sb_manager_on_done(st.m, on_done, &st);
  rc = sb_manager_start(st.m, msg, sizeof(msg));
  if (rc) {
    sb_log(SB_LOG_ERROR, "cannot start", "err=%s detail=%s",
           sb_err_name(rc), msg);
    st.status = 1;
    sb_manager_stop(st.m);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  status = rc ? 1 : st.status;
  if (uv_loop_close(&loop) != 0)
    sb_log(SB_LOG_WARN, "event loop closed with live handles", "loop=%s", "main");
  sb_log(SB_LOG_INFO, "stopped", "status=%d", status);

out:
  sb_buf_free(&err);
  free(pos.v);
  sb_opts_free(run_opts, SB_ARRAY_SIZE(run_opts), &cfg);
  return status;
}
