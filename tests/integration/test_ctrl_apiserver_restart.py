"""The controller survives its API server going away and etcd compaction.

Three controllers (Istio, Linkerd, Gateway API routes), each in its own
namespace, talk to a second API server "B" on the fixture's etcd
(apiserver.py); the test changes TrafficSplits through the fixture's own
API server while B is down, so the controllers are blind to them:

 1. B is killed mid-watch (SIGKILL). Meanwhile one split is created, one
    updated and one deleted. B comes back with its watch cache, which
    starts at etcd's current revision: re-watching from the old version
    gets 410, the controllers relist, and the deletion is seen only by the
    relist's sweep -- which must prune its outputs.
 2. B is killed again, more changes are made, etcd is compacted past
    every version the controllers hold, and B comes back without a watch
    cache, so etcd itself refuses the old version: 410 -> relist ->
    converged. The controller logs every 410 and every relist that
    completed ("cache resynced"); the test counts those lines.

After each outage the generated objects must be exactly the expected set
with the expected weights, every controller still running; at the end
each exits 0 on SIGTERM. The time from B being ready again to every
controller having converged is printed.

It restarts an API server and compacts etcd: registered RUN_SERIAL.
"""

import os
import shutil
import signal
import tempfile
import time

import harness as h
import controller as c
import ctrl_split
from apiserver import APIServer, compact

TS = "trafficsplits.split.smi-spec.io"
SPLIT = """
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: %s
spec:
  service: %s
  backends:
  - service: %s-v1
    weight: %d
  - service: %s-v2
    weight: %d
"""
NAMES = ["s1", "s2", "s3", "s4", "s5"]
# How long B stays down: long enough for the reflectors' backoff to grow
# (0.8, 1.6, 3.2 s, ...), as in a real restart.
DOWN_S = float(os.environ.get("SB_APISERVER_DOWN_S", "6"))
GONE_LINE = 'msg="watch expired, listing again"'
FAILED_LINE = 'msg="watch failed"'
GONE_ERR = "err=SB_EGONE"
RESYNCED_LINE = 'msg="cache resynced"'


def put(ns, name, w):
    h.apply(SPLIT % (name, name, name, w, name, 100 - w), ns)


def output_name(mode, ts):
    return ctrl_split.MODES[mode]["name"].replace("web", ts, 1)


def state(mode, ns):
    """{output name: {backend: weight}} of the managed outputs in ns."""
    res = ctrl_split.MODES[mode]["resource"]
    out = {}
    for name in c.names(res, ns, "app.kubernetes.io/managed-by=smi-bridge"):
        obj = c.get_json(res, name, ns)
        if obj is not None:
            out[name] = ctrl_split.weights(mode, obj)
    return out


def expected(mode, splits):
    return {output_name(mode, ts): {ts + "-v1": w, ts + "-v2": 100 - w}
            for ts, w in splits.items()}


class Setup:
    def __init__(self, mode, ns, ctl):
        self.mode, self.ns, self.ctl = mode, ns, ctl


def converge(setups, splits, what, timeout=90):
    """Waits until every controller's outputs are exactly `splits`;
    returns when that was first seen."""
    for s in setups:
        want = expected(s.mode, splits)
        h.wait_for(lambda: s.ctl.alive() and state(s.mode, s.ns) == want,
                   timeout=timeout, interval=0.1,
                   what="%s: %s outputs %s (have %s)"
                   % (what, s.mode, want, state(s.mode, s.ns)))
    return time.monotonic()


def change_all(setups, fn):
    for s in setups:
        fn(s.ns)


def relists(ctl):
    """(410s, relists completed) as the controller's log tells them: a 410
    on a version an event gave is "watch expired, listing again", on a
    version a list gave (nothing changed since) a "watch failed" with
    SB_EGONE; every relist that completed is a "cache resynced"."""
    gone = resynced = 0
    for line in ctl.logs().splitlines():
        if GONE_LINE in line or (FAILED_LINE in line and GONE_ERR in line):
            gone += 1
        elif RESYNCED_LINE in line:
            resynced += 1
    return gone, resynced


def failures(ctl):
    logs = ctl.logs()
    return logs.count('msg="watch failed"') + logs.count('msg="cannot list"')


def all_alive(setups, what):
    for s in setups:
        h.check(s.ctl.alive(), "%s: the %s controller exited (%s):\n%s"
                % (what, s.mode, s.ctl.proc.poll(), s.ctl.log_tail(40)))


def outage(b, setups, changes, extra, what, before_start=None):
    """Kills B, makes changes through A, keeps B down DOWN_S seconds,
    starts it again with `extra` and returns (B ready, converged)."""
    n0 = {s.mode: relists(s.ctl) for s in setups}
    f0 = {s.mode: failures(s.ctl) for s in setups}
    t_stop = b.stop(signal.SIGKILL)
    # Each controller notices: a failed watch or re-watch is logged.
    for s in setups:
        h.wait_for(lambda: failures(s.ctl) > f0[s.mode], timeout=30,
                   what="the %s controller to notice B is gone" % s.mode)
    splits = changes()
    if before_start:
        before_start()
    rest = DOWN_S - (time.monotonic() - t_stop)
    if rest > 0:
        time.sleep(rest)
    all_alive(setups, what)
    t_ready = b.start(*extra)
    t_conv = converge(setups, splits, what)
    all_alive(setups, what)
    counts = []
    for s in setups:
        gone, resynced = relists(s.ctl)
        gone -= n0[s.mode][0]
        resynced -= n0[s.mode][1]
        h.check(gone > 0, "%s: the %s controller logged no 410"
                % (what, s.mode))
        h.check(resynced > 0, "%s: the %s controller logged no relist"
                % (what, s.mode))
        counts.append("%s %d/%d" % (s.mode, gone, resynced))
    h.log("%s: B down %.1f s; every controller converged %.2f s after B "
          "was ready; 410s/relists logged: %s" % (
              what, b.spawned - t_stop, t_conv - t_ready, ", ".join(counts)))
    return splits


def main():
    work = tempfile.mkdtemp(prefix="sb-apiserver-")
    b = APIServer(work)
    ok = False
    ctls = []
    try:
        b.start("--watch-cache=true")
        with h.namespace("restart-istio") as ni, \
                h.namespace("restart-linkerd") as nl, \
                h.namespace("restart-gw") as ng:
            setups = []
            for mode, ns in (("istio", ni), ("linkerd", nl),
                             ("gateway", ng)):
                c.services(ns, ["web"] + [n + sfx for n in NAMES
                                          for sfx in ("", "-v1", "-v2")])
                ctl = c.Controller(ns, *ctrl_split.MODES[mode]["args"],
                                   kubeconfig=b.kubeconfig, name=mode)
                ctls.append(ctl.start())
                setups.append(Setup(mode, ns, ctl))
            for s in setups:
                s.ctl.wait_ready()
            splits = {"s1": 90, "s2": 80, "s3": 70}
            for s in setups:
                for ts, w in splits.items():
                    put(s.ns, ts, w)
            converge(setups, splits, "initial")

            # -- 1. killed mid-watch; the watch cache makes it a 410 -------
            def changes1():
                for s in setups:
                    put(s.ns, "s4", 60)
                    put(s.ns, "s1", 50)
                    h.kubectl("delete", TS, "s2", "-n", s.ns)
                return {"s1": 50, "s3": 70, "s4": 60}
            splits = outage(b, setups, changes1, ("--watch-cache=true",),
                            "killed, watch cache on")

            # -- 2. killed, etcd compacted, no watch cache -----------------
            def changes2():
                for s in setups:
                    put(s.ns, "s3", 40)
                    h.kubectl("delete", TS, "s4", "-n", s.ns)
                    put(s.ns, "s5", 30)
                return {"s1": 50, "s3": 40, "s5": 30}

            def compact_now():
                rev = compact()
                h.log("etcd compacted at revision %d" % rev)
            splits = outage(b, setups, changes2, ("--watch-cache=false",),
                            "killed, compacted, watch cache off",
                            before_start=compact_now)

            # Still reconciling normally afterwards.
            for s in setups:
                put(s.ns, "s1", 20)
            splits["s1"] = 20
            converge(setups, splits, "after the outages")
            for s in setups:
                s.ctl.stop()
            ctls = []
        ok = True
    finally:
        for ctl in ctls:
            if ctl.alive():
                print("---- %s log (tail) ----\n%s" % (ctl.name,
                                                       ctl.log_tail(40)))
                ctl.kill()
        b.stop(signal.SIGTERM)
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            h.log("logs of API server B: %s" % work)


h.run(main)
