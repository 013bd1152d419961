#!/usr/bin/env python3
"""Convergence: how long the controller takes to write the objects for
N TrafficSplits, against how long the API server takes to accept N direct
creates of the same objects.

    tests/bench/converge.py [--splits 1000] [--runs 3] [--mesh istio]
                            [--kubeconfig K] [--settings raised,default]

Per run, in fresh namespaces of one control plane:

  direct    the N objects the controller would write (rendered offline
            with `smi-bridge translate`, so they are byte for byte the
            same) are POSTed by bench-create: the project's HTTP/2 client,
            64 requests in flight, no client-side rate limit.
  backlog   N TrafficSplits with their Services (root + two backends)
            exist; `smi-bridge run` starts; the clock runs from the
            process start until a watch has seen all N generated objects.
  live      the controller has started and synced an empty namespace;
            bench-create then creates the N TrafficSplits (Services exist
            already); the clock runs from the first create until the last
            generated object is seen.
  direct-apply  the objects of "direct" written by bench-create with
            server-side apply (--apply), as the controller writes them:
            not the baseline, but it shows what the API server charges
            for an apply over a create.

"direct" is timed the same way (from starting bench-create until the
watch has seen all N), so both include a process start, the kubeconfig
and a TLS handshake. Ratios are controller / direct of the same run;
the medians over the runs are printed.

Where runs share a control plane (--reuse-control-plane, or
--kubeconfig), the objects a run wrote (its Services, splits, generated
objects and Events) are deleted after it (--keep leaves them). That
bounds the stored objects, not the API server's heap (below). The
backlog's splits and Services are created first, then the run's phases
go in a random order (--fixed-order: as listed), each after a pause of
about SETTLE seconds (default 2, give or take half) in which the API
server finishes the previous phase's work: in fixed order, with fixed
pauses, the two apply phases (direct-apply and backlog) were slow or fast
together, and the creates the opposite, run after run -- whatever the API
server does periodically met each phase at the same point of every run.

Each run also starts on a new private control plane (empty etcd, a new
kube-apiserver process; --reuse-control-plane keeps one for all runs, and
with --kubeconfig there is only the one given). The API server's watch
cache keeps every event of a resource, the object included, in a ring
that grows to 100k events and is only overwritten when it wraps: writing
and deleting 1,000 VirtualServices left about 60 MB more live heap each
time, so a reused API server spent run by run more of each phase marking
a heap of gigabytes, and whether a garbage collection fell inside a phase
decided whether 1,000 writes took 0.9 s or 2.3 s. Before its phases a
run warms the new API server up (a few creates and applies of the
generated kind, then deleted: its handler for a custom resource is built
on the first request), and each phase records the API server's CPU time.

Settings: "raised" runs the controller with --kube-api-qps 100000
--kube-api-burst 100000 --workers 64 (the client-side write limit out of
the way, and as many reconciles at once as bench-create has requests in
flight: this measures the controller itself); "default" with its
defaults (20 QPS, burst 30, 4 workers), which is what a user gets. Extra
controller flags can be given after `--`.
"""

import json
import os
import random
import subprocess
import sys
import time

import benchlib as b

RES = {
    "istio": ("networking.istio.io/v1/virtualservices",
              ["--mesh", "istio"]),
    "linkerd": ("policy.linkerd.io/v1beta3/httproutes",
                ["--mesh", "linkerd"]),
}
SETTINGS = {
    "raised": ["--kube-api-qps", "100000", "--kube-api-burst", "100000",
               "--workers", "64"],
    "default": [],
}


def splits(ns, n, uid=False):
    objs = []
    for i in range(n):
        ts = b.traffic_split(ns, "web-%d" % i, "web-%d" % i,
                             ["web-%d-v1" % i, "web-%d-v2" % i])
        if uid:
            ts["metadata"]["uid"] = "00000000-0000-4000-8000-%012d" % i
        objs.append(ts)
    return objs


def services(ns, n):
    objs = []
    for i in range(n):
        for suffix in ("", "-v1", "-v2"):
            objs.append(b.service(ns, "web-%d%s" % (i, suffix),
                                  "web-%d%s" % (i, suffix)))
    return objs


def rendered(cluster, ns, n, mesh):
    """The objects the controller writes for n splits in ns."""
    path = cluster.path("input-%s.json" % ns)
    with open(path, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List",
                   "items": services(ns, n) + splits(ns, n, uid=True)}, f)
    p = subprocess.run([b.find_binary("SB_SMI_BRIDGE", "smi-bridge"),
                        "translate", "-f", path, "--mesh", mesh, "-o",
                        "json"], capture_output=True, text=True)
    if p.returncode != 0:
        b.die("translate: %s" % p.stderr[-500:])
    return json.loads(p.stdout)["items"]


def new_namespace(cluster, name):
    b.bulk_create(cluster, "/v1/namespaces", [b.namespace(name)], "ns-" + name)


SETTLE = [2.0]  # seconds; --settle


def settle():
    """Lets the API server finish what the last phase left it (garbage,
    watch fan-out) before the next timed phase starts: SETTLE seconds,
    give or take half, so that phases do not sit at fixed offsets from
    whatever the API server does periodically."""
    time.sleep(SETTLE[0] * random.uniform(0.5, 1.5))


def cleanup(cluster, namespaces, mesh):
    """Deletes what a run wrote in its namespaces. The test control plane
    runs no namespace controller, so the namespaces themselves stay
    (empty)."""
    kinds = [RES[mesh][0], "/v1/services",
             "split.smi-spec.io/v1alpha4/trafficsplits",
             "/v1/events"]  # the recorder's (core/v1)
    for ns in namespaces:
        for res in kinds:
            cluster.api.delete_collection(res, ns)


def direct(cluster, tag, n, mesh, apply=False):
    res = RES[mesh][0]
    kind = "direct-apply" if apply else "direct"
    ns = "%s-%s" % (kind, tag)
    new_namespace(cluster, ns)
    objs = rendered(cluster, ns, n, mesh)
    w = b.Watcher(cluster.api, res, ns)
    settle()
    cpu0 = cluster.apiserver_cpu()
    out, t0 = b.bulk_create_timed(cluster, res, objs, "%s-%s" % (kind, tag),
                                  apply=apply)
    t = w.reached(len(objs), timeout=600) - t0
    cpu = cluster.apiserver_cpu() - cpu0
    w.stop()
    b.log("%s %s: %d objects in %.2fs (bench-create: %.2fs; API server "
          "CPU %.2fs)" % (kind, tag, len(objs), t, out["seconds"], cpu))
    return {"seconds": t, "client_seconds": out["seconds"],
            "apiserver_cpu_seconds": cpu, "objects": len(objs),
            "namespace": ns}


def warm_up(cluster, tag, mesh):
    """Builds what a new API server builds on first use (the handler of
    the generated kind: its schema, its apply type converter) before
    anything is timed: a few creates and applies, deleted again."""
    res = RES[mesh][0]
    ns = "warm-up-" + tag
    new_namespace(cluster, ns)
    objs = rendered(cluster, ns, 16, mesh)
    b.bulk_create(cluster, res, objs[:8], "warm-up-create-" + tag)
    b.bulk_create(cluster, res, objs[8:], "warm-up-apply-" + tag, apply=True)
    cleanup(cluster, [ns], mesh)


def controller_stats(ctl):
    m = ctl.metrics()
    rest = {}
    for k, v in m.items():
        if k.startswith("rest_client_requests_total"):
            method = k.split('method="')[1].split('"')[0]
            rest[method] = rest.get(method, 0) + v
    return {
        "requests": rest,
        "reconciles": sum(v for k, v in m.items()
                          if k.startswith("controller_runtime_reconcile_total"
                                          )),
        "applied": sum(v for k, v in m.items()
                       if k.startswith("smi_bridge_objects_applied_total")),
        "cpu_seconds": ctl.cpu(),
        "rss_kib": ctl.status()["VmRSS"],
    }


def backlog_setup(cluster, tag, n, mesh):
    """The splits and Services a backlog phase starts from (untimed)."""
    ns = "backlog-%s" % tag
    new_namespace(cluster, ns)
    b.bulk_create(cluster, "/v1/services", services(ns, n), "svc-" + tag)
    b.bulk_create(cluster, "split.smi-spec.io/v1alpha4/trafficsplits",
                  splits(ns, n), "ts-" + tag)
    return ns, len(rendered(cluster, ns, n, mesh))


def backlog(cluster, tag, mesh, flags, ns, want):
    res, mesh_args = RES[mesh]
    w = b.Watcher(cluster.api, res, ns)
    settle()
    cpu0 = cluster.apiserver_cpu()
    with b.Controller(cluster, ["-n", ns] + mesh_args + flags,
                      name="backlog-" + tag) as ctl:
        t_ready = ctl.wait_ready() - ctl.t_start
        t = w.reached(want, timeout=1800, alive=ctl.alive) - ctl.t_start
        cpu_converged = ctl.cpu()
        api_cpu = cluster.apiserver_cpu() - cpu0
        w.stop()
        ctl.wait_quiet()
        st = dict(controller_stats(ctl), cpu_seconds_converged=cpu_converged,
                  apiserver_cpu_seconds=api_cpu)
    b.log("backlog %s: %d objects in %.2fs (synced after %.2fs); %s"
          % (tag, want, t, t_ready, json.dumps(st)))
    return dict(st, seconds=t, ready_seconds=t_ready, objects=want,
                namespace=ns)


def live(cluster, tag, n, mesh, flags):
    res, mesh_args = RES[mesh]
    ns = "live-%s" % tag
    new_namespace(cluster, ns)
    b.bulk_create(cluster, "/v1/services", services(ns, n), "svc-" + tag)
    want = len(rendered(cluster, ns, n, mesh))
    w = b.Watcher(cluster.api, res, ns)
    b.log("live %s: starting the controller" % tag)
    with b.Controller(cluster, ["-n", ns] + mesh_args + flags,
                      name="live-" + tag) as ctl:
        ctl.wait_ready()
        ctl.wait_quiet(quiet=1.0)
        b.log("live %s: creating the splits" % tag)
        out, t0 = b.bulk_create_timed(
            cluster, "split.smi-spec.io/v1alpha4/trafficsplits",
            splits(ns, n), "live-ts-" + tag)
        t = w.reached(want, timeout=1800, alive=ctl.alive) - t0
        w.stop()
        ctl.wait_quiet()
        st = controller_stats(ctl)
    b.log("live %s: %d objects in %.2fs (creating the splits: %.2fs); %s"
          % (tag, want, t, out["seconds"], json.dumps(st)))
    return dict(st, seconds=t, create_seconds=out["seconds"], objects=want,
                namespace=ns)


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    ap = b.common_args(__doc__.split("\n")[0])
    ap.add_argument("--splits", type=int, default=1000)
    ap.add_argument("--mesh", choices=sorted(RES), default="istio")
    ap.add_argument("--settings", default="raised,default",
                    help="comma list of: raised, default")
    ap.add_argument("--modes", default="backlog,live",
                    help="comma list of: backlog, live")
    ap.add_argument("--default-runs", type=int, default=1,
                    help="runs with the default settings (they are slow)")
    ap.add_argument("--settle", type=float, default=SETTLE[0],
                    help="seconds to wait before each timed phase")
    ap.add_argument("--keep", action="store_true",
                    help="keep each run's objects (default: delete them)")
    ap.add_argument("--reuse-control-plane", action="store_true",
                    help="run every run on the one private control plane "
                    "(default: a new one per run)")
    ap.add_argument("--fixed-order", action="store_true",
                    help="run the phases in the order listed above "
                    "(default: shuffled per run)")
    args = ap.parse_args(argv)
    SETTLE[0] = args.settle
    settings = args.settings.split(",")
    modes = args.modes.split(",")
    results = {"machine": b.machine_notes(), "splits": args.splits,
               "mesh": args.mesh, "extra_flags": extra, "runs": []}

    uniq = "%04x" % (int(time.time()) & 0xffff)  # a reused cluster
    with b.Cluster(args) as cluster:
        fresh = cluster.private and not args.reuse_control_plane
        for run in range(args.runs):
            tag = "%s-r%d" % (uniq, run)
            if run > 0 and fresh:
                cluster.restart()
                b.log("run %d: a new control plane" % run)
            warm_up(cluster, tag, args.mesh)
            phases = [
                ("direct", lambda: direct(cluster, tag, args.splits,
                                          args.mesh)),
                ("direct-apply", lambda: direct(cluster, tag, args.splits,
                                                args.mesh, apply=True))]
            for s in settings:
                if s == "default" and run >= args.default_runs:
                    continue
                flags = SETTINGS[s] + extra
                stag = "%s-%s-r%d" % (s, uniq, run)
                for mode in modes:
                    if mode == "backlog":
                        ns, want = backlog_setup(cluster, stag, args.splits,
                                                 args.mesh)
                        fn = (lambda stag=stag, flags=flags, ns=ns,
                              want=want: backlog(cluster, stag, args.mesh,
                                                 flags, ns, want))
                    else:
                        fn = (lambda stag=stag, flags=flags: live(
                            cluster, stag, args.splits, args.mesh, flags))
                    phases.append(("%s-%s" % (mode, s), fn))
            if not args.fixed_order:
                random.shuffle(phases)
            b.log("run %d: %s" % (run, ", ".join(k for k, _ in phases)))
            r = {k: fn() for k, fn in phases}
            results["runs"].append(r)
            if not args.keep and not fresh:
                cleanup(cluster, [v["namespace"] for v in r.values()],
                        args.mesh)

    summary = {}
    for key in sorted({k for r in results["runs"] for k in r}):
        secs = [r[key]["seconds"] for r in results["runs"] if key in r]
        ratios = [r[key]["seconds"] / r["direct"]["seconds"]
                  for r in results["runs"] if key in r]
        summary[key] = {"median_seconds": round(b.median(secs), 2),
                        "median_ratio": round(b.median(ratios), 2),
                        "runs": len(secs)}
    results["summary"] = summary
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
