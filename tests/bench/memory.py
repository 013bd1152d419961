#!/usr/bin/env python3
"""Memory and idle CPU of `smi-bridge run` under a large cache.

    tests/bench/memory.py [--pods 20000] [--smi 10000] [--runs 3]
                          [--idle-seconds 60] [--kubeconfig K]
                          [--modes floor,dry-run,write] [-- FLAGS...]

Load (created once, with bench-create): 20 namespaces; 300 workloads
(15 per namespace), each a ServiceAccount, a Service and ~67 Pods shaped
like one ReplicaSet's (labels app/version/pod-template-hash, two named
container ports; no scheduler runs, so they stay Pending); 10,000 SMI
objects, a third each of TrafficSplits (a root and two backends each),
HTTPRouteGroups (two matches) and TrafficTargets (destination one
workload's ServiceAccount, source another's, rules naming an
HTTPRouteGroup). Istio mode: a TrafficSplit needs no Service object, so
the split roots have none (only the 300 workload Services exist).

Per run and mode, a fresh controller process watches every namespace:

  floor     -n <an empty namespace>: the same watches, nothing cached --
            what the process costs with an empty cluster.
  dry-run   --dry-run: the whole load cached, nothing written (no
            generated objects exist, so none are cached).
  write     real writes: the ~6,700 generated objects (VirtualServices,
            AuthorizationPolicies) are written on the first run and are
            then in the cache too (watched like any generated kind).

Measured from /proc/<pid>/status: VmRSS, RssAnon (heap and stacks), RssFile
(shared libraries, mapped from the page cache) and VmHWM, right after the
caches have synced (/readyz) and again once every reconcile has settled;
smi_bridge_cache_bytes (the cache's own accounting) from /metrics; then
CPU (utime+stime from /proc/<pid>/stat) over --idle-seconds with nothing
changing. Medians over the runs are printed; --json keeps everything.
"""

import json
import sys
import time
import zlib

import benchlib as b

NAMESPACES = 20
WORKLOADS_PER_NS = 15


def load(cluster, npods, nsmi):
    nss = ["load-%02d" % i for i in range(NAMESPACES)]
    b.bulk_create(cluster, "/v1/namespaces", [b.namespace(n) for n in nss] +
                  [b.namespace("empty")], "namespaces")
    sas, svcs, workloads = [], [], []
    for ns in nss:
        sas.append(b.service_account(ns, "default"))
        for w in range(WORKLOADS_PER_NS):
            app = "app-%d" % w
            sas.append(b.service_account(ns, app))
            svcs.append(b.service(ns, app, app))
            workloads.append((ns, app))
    b.bulk_create(cluster, "/v1/serviceaccounts", sas, "sas")
    b.bulk_create(cluster, "/v1/services", svcs, "services")

    pods = []
    for i in range(npods):
        ns, app = workloads[i % len(workloads)]
        rs = "%09x" % (zlib.crc32(("%s/%s" % (ns, app)).encode()) * 7)
        rs = "".join("bcdfghjklmnpqrstvwxz2456789"[int(c, 16)] for c in rs)
        pods.append(b.pod(ns, "%s-%s-%05d" % (app, rs, i), app, app, rs))
    t0 = time.monotonic()
    for k in range(0, len(pods), 5000):
        b.bulk_create(cluster, "/v1/pods", pods[k:k + 5000], "pods-%d" % k)
    b.log("%d pods created in %.1fs" % (npods, time.monotonic() - t0))

    ts, hrg, tt = [], [], []
    for i in range(nsmi):
        ns, app = workloads[i % len(workloads)]
        src = workloads[(i + 1) % len(workloads)][1]
        if i % 3 == 0:
            ts.append(b.traffic_split(ns, "split-%d" % i, "split-%d" % i,
                                      [app, "%s-canary" % app]))
        elif i % 3 == 1:
            hrg.append(b.route_group(ns, "routes-%d" % i))
        else:
            tt.append(b.traffic_target(ns, "access-%d" % i, app, src,
                                       "routes-%d" % (i - 1)))
    b.bulk_create(cluster, "split.smi-spec.io/v1alpha4/trafficsplits", ts,
                  "ts")
    b.bulk_create(cluster, "specs.smi-spec.io/v1alpha4/httproutegroups", hrg,
                  "hrg")
    b.bulk_create(cluster, "access.smi-spec.io/v1alpha3/traffictargets", tt,
                  "tt")
    return {"namespaces": NAMESPACES, "workloads": len(workloads),
            "pods": npods, "services": len(svcs),
            "serviceaccounts": len(sas), "trafficsplits": len(ts),
            "httproutegroups": len(hrg), "traffictargets": len(tt)}


# Writes are not what this measures: the client-side limit is raised so
# that the ~6,700 generated objects (and their Events) are written in
# seconds rather than minutes at 20 QPS.
RAISED = ["--kube-api-qps", "1000", "--kube-api-burst", "1000"]


def measure(cluster, mode, tag, flags, idle_seconds):
    args = ["--mesh", "istio"] + RAISED + flags
    if mode == "floor":
        args += ["-n", "empty"]
    elif mode == "dry-run":
        args += ["--dry-run"]
    with b.Controller(cluster, args, name="%s-%s" % (mode, tag)) as ctl:
        t_ready = ctl.wait_ready() - ctl.t_start
        synced = ctl.status()
        ctl.wait_quiet(quiet=5.0)
        settled = ctl.status()
        m = ctl.metrics()
        cache_bytes = m.get('smi_bridge_cache_bytes{controller="smi-bridge"}')
        cached = m.get('smi_bridge_cached_objects{controller="smi-bridge"}')
        applied = sum(v for k, v in m.items()
                      if k.startswith("smi_bridge_objects_applied_total"))
        c0, t0 = ctl.cpu(), time.monotonic()
        time.sleep(idle_seconds)
        c1, t1 = ctl.cpu(), time.monotonic()
        idle = ctl.status()
        m2 = ctl.metrics()
        rest_idle = sum(v for k, v in m2.items()
                        if k.startswith("rest_client_requests_total")) - \
            sum(v for k, v in m.items()
                if k.startswith("rest_client_requests_total"))
    r = {"ready_seconds": round(t_ready, 2), "synced": synced,
         "settled": settled, "after_idle": idle,
         "cache_bytes": cache_bytes, "cached_objects": cached,
         "applied": applied,
         "idle_cpu_seconds": round(c1 - c0, 3),
         "idle_wall_seconds": round(t1 - t0, 1),
         "idle_requests": rest_idle}
    b.log("%s %s: ready %.1fs; synced RSS %d KiB (anon %d, file %d); "
          "settled RSS %d KiB (anon %d, file %d), HWM %d KiB; cache %s "
          "bytes for %s objects; idle CPU %.2fs in %.0fs (%d requests)"
          % (mode, tag, t_ready, synced["VmRSS"], synced["RssAnon"],
             synced["RssFile"], settled["VmRSS"], settled["RssAnon"],
             settled["RssFile"], settled["VmHWM"], cache_bytes, cached,
             c1 - c0, t1 - t0, rest_idle))
    return r


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    ap = b.common_args(__doc__.split("\n")[0])
    ap.add_argument("--pods", type=int, default=20000)
    ap.add_argument("--smi", type=int, default=10000)
    ap.add_argument("--idle-seconds", type=float, default=60)
    ap.add_argument("--modes", default="floor,dry-run,write")
    ap.add_argument("--no-load", action="store_true",
                    help="the cluster already holds the load")
    args = ap.parse_args(argv)
    modes = args.modes.split(",")
    results = {"machine": b.machine_notes(), "extra_flags": extra,
               "runs": []}
    with b.Cluster(args) as cluster:
        if not args.no_load:
            results["load"] = load(cluster, args.pods, args.smi)
        # Mode by mode: the first "write" run writes the generated
        # objects, and every later controller (dry runs too) caches them.
        results["runs"] = [{} for _ in range(args.runs)]
        for mode in modes:
            for run in range(args.runs):
                results["runs"][run][mode] = measure(
                    cluster, mode, "r%d" % run, extra, args.idle_seconds)

    summary = {}
    for mode in modes:
        rs = [r[mode] for r in results["runs"]]
        summary[mode] = {
            "synced_rss_kib": b.median([r["synced"]["VmRSS"] for r in rs]),
            "settled_rss_kib": b.median([r["settled"]["VmRSS"] for r in rs]),
            "settled_anon_kib": b.median([r["settled"]["RssAnon"]
                                          for r in rs]),
            "settled_file_kib": b.median([r["settled"]["RssFile"]
                                          for r in rs]),
            "hwm_kib": b.median([r["settled"]["VmHWM"] for r in rs]),
            "cache_bytes": b.median([r["cache_bytes"] or 0 for r in rs]),
            "cached_objects": b.median([r["cached_objects"] or 0
                                        for r in rs]),
            "idle_cpu_seconds": b.median([r["idle_cpu_seconds"]
                                          for r in rs]),
            "idle_seconds": args.idle_seconds,
            "runs": len(rs)}
    results["summary"] = summary
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
