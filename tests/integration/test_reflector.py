"""test_reflector.py -- the reflector and discovery against a real API server.

The reflector runs inside tests/integration/reflector-probe.c (built as
sb-reflector-probe), which prints every callback and every change of its
counters as a JSON line. The probe talks to an API server of its own ("B":
a second kube-apiserver on the fixture's etcd, same flags, another port),
so this test can kill and restart it while the cluster keeps changing
through the fixture's API server ("A"), where kubectl points:

 1. discovery: every SMI kind at its newest version, both meshes and
    Gateway API as installed by testenv.
 2. list + watch: objects made before the start arrive in the list, then
    creates, updates and deletes made with kubectl arrive as events.
 3. B killed (SIGKILL) mid-watch, changes made through A while it is down,
    B restarted with its watch cache: the watch cache starts at etcd's
    current revision, so the re-watch from the old version gets 410 and
    the reflector relists; the deletion shows up only as the SYNC_END
    sweep (no DELETE event).
 4. B stopped (SIGTERM), changes, B restarted without a watch cache
    (--watch-cache=false): the re-watch from the old version is served by
    etcd's history, so the changes arrive as events -- the deletion as a
    DELETE -- and nothing is relisted.
 5. B killed, changes, etcd compacted past the reflector's version, B
    restarted without a watch cache: etcd refuses the old revision, the
    API server turns that into 410, the reflector relists.
 6. a list whose continue token is compacted away between two pages
    (a consumer that stalls on the first item): 410, the list starts over
    from its first page and completes.
 7. the list streamed (watch-list: one watch with sendInitialEvents whose
    initial-events-end bookmark ends the list and which goes on as the
    watch), and B restarted with the WatchList feature off: the refused
    stream (422) is followed by a paginated list, with no error.
Also: watches that end normally (timeoutSeconds of 2-3 s) are followed by
a new watch from the same version, with no error and no relist.
In 3-5 the probe's store (SYNC_BEGIN/APPLY/DELETE/SYNC_END applied the way
the controller's cache applies them) must equal what kubectl reads, and
the counters must show which path was taken. The time from B being ready
again to the store being right is printed.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from apiserver import APIServer, die_with_parent, free_port  # noqa: E402


def probe_path():
    p = os.environ.get("SB_REFLECTOR_PROBE")
    if not p and h.SMI_BRIDGE:
        p = os.path.join(os.path.dirname(h.SMI_BRIDGE), "tests",
                         "integration", "sb-reflector-probe")
    h.check(p and os.access(p, os.X_OK),
            "sb-reflector-probe not found (build it, or set "
            "SB_REFLECTOR_PROBE): %s" % p)
    return p


class Probe:
    """sb-reflector-probe on B's kubeconfig; its lines, timestamped."""

    def __init__(self, args, workdir, name):
        self.lines = []
        self.cv = threading.Condition()
        self.errlog = os.path.join(workdir, name + ".stderr")
        err = open(self.errlog, "w")
        self.proc = subprocess.Popen([probe_path()] + args,
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=err, text=True,
                                     preexec_fn=die_with_parent)
        err.close()
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        for raw in self.proc.stdout:
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = {"ev": "GARBAGE", "raw": raw}
            with self.cv:
                self.lines.append((time.monotonic(), obj))
                self.cv.notify_all()

    def snapshot(self):
        with self.cv:
            return list(self.lines)

    def events(self, since=0):
        return [o for _, o in self.snapshot()[since:]
                if o["ev"] in ("SYNC_BEGIN", "APPLY", "DELETE", "SYNC_END")]

    def stats(self, after_events=False):
        """The last counters; with after_events, only counters printed
        after the last event (else {}), so that they include it."""
        for _, o in reversed(self.snapshot()):
            if o["ev"] == "STATS":
                return o
            if after_events and o["ev"] in EVENTS:
                break
        return {}

    def store(self):
        """The events applied like sb_cache does: APPLY puts and marks,
        DELETE removes, SYNC_END drops what the relist did not mark."""
        store, marked = {}, set()
        for o in self.events():
            if o["ev"] == "SYNC_BEGIN":
                marked = set()
            elif o["ev"] == "APPLY":
                store[o["name"]] = o.get("data", {})
                marked.add(o["name"])
            elif o["ev"] == "DELETE":
                store.pop(o["name"], None)
            else:
                store = {n: d for n, d in store.items() if n in marked}
        return store

    def close(self):
        self.proc.stdin.close()
        rc = self.proc.wait(30)
        self.reader.join(10)
        last = self.snapshot()[-1][1] if self.lines else {}
        h.expect_eq(last.get("ev"), "CLOSED", "the probe's last line")
        h.expect_eq(last.get("loop_close"), 0, "uv_loop_close() after close")
        h.expect_eq(rc, 0, "the probe's exit status")


def truth(ns):
    out = h.kubectl("get", "configmaps", "-n", ns, "-o", "json").stdout
    return {o["metadata"]["name"]: o.get("data", {})
            for o in json.loads(out)["items"]}


def converged(probe, ns):
    """Waits until the probe's store equals the cluster and it is watching
    again; returns when the store became right (the time the last event
    line arrived)."""
    want = truth(ns)

    def ok():
        st = probe.stats(after_events=True)
        return probe.store() == want and st.get("state") == "watching" \
            and st.get("synced") == 1
    h.wait_for(ok, timeout=120, interval=0.02,
               what="the reflector to converge on %s (has %s)"
               % (sorted(want), sorted(probe.store())))
    return [t for t, o in probe.snapshot() if o["ev"] != "STATS"][-1]


def cm(ns, name, value):
    h.kubectl("create", "configmap", name, "-n", ns,
              "--from-literal=k=%s" % value)


def set_cm(ns, name, value):
    h.kubectl("patch", "configmap", name, "-n", ns, "--type=merge", "-p",
              json.dumps({"data": {"k": value}}))


def del_cm(ns, name):
    h.kubectl("delete", "configmap", name, "-n", ns)


def names(evs, ev):
    return [o["name"] for o in evs if o["ev"] == ev]


EVENTS = ("SYNC_BEGIN", "APPLY", "DELETE", "SYNC_END")
# How long B stays down in case 3: long enough for the backoff to grow
# (0.8, 1.6, 3.2 s, ...), as in a real restart.
DOWN_S = float(os.environ.get("SB_REFLECTOR_DOWN_S", "8"))


def outage(probe, b, ns, sig, changes, extra, down_s, what):
    """Stops B with sig, makes changes through A, keeps B down for down_s
    seconds in all, starts it again with extra flags and waits for the
    probe to converge. Returns the probe's counters before and after and
    the events it delivered meanwhile."""
    st0, mark = probe.stats(), len(probe.snapshot())
    t_stop = b.stop(sig)
    h.wait_for(lambda: probe.stats().get("errors", 0) > st0["errors"] or
               probe.stats().get("watches", 0) > st0["watches"], timeout=30,
               interval=0.02, what="the probe to notice")
    changes()
    rest = down_s - (time.monotonic() - t_stop)
    if rest > 0:
        time.sleep(rest)
    t_ready = b.start(*extra)
    t_conv = converged(probe, ns)
    st = probe.stats()
    evs = [o for _, o in probe.snapshot()[mark:] if o["ev"] in EVENTS]
    h.log("%s: B down %.1f s; the store was right %.2f s after B started "
          "(%+.2f s from its /readyz), %.2f s after it stopped; failed "
          "requests %d, lists %d->%d, 410s %d->%d, watches %d->%d"
          % (what, b.spawned - t_stop, t_conv - b.spawned, t_conv - t_ready,
             t_conv - t_stop, st["errors"] - st0["errors"], st0["lists"],
             st["lists"], st0["gone"], st["gone"], st0["watches"],
             st["watches"]))
    return st0, st, evs


def discovery(workdir, b):
    p = Probe(["--discover", "--kubeconfig", b.kubeconfig], workdir,
              "discover")
    rc = p.proc.wait(60)
    p.reader.join(10)
    h.expect_eq(rc, 0, "probe --discover exit status")
    d = [o for _, o in p.snapshot() if o["ev"] == "DISCOVERY"][0]
    smi = d["smi"]
    h.expect_eq(smi["TrafficSplit"], {"group": "split.smi-spec.io",
                                      "version": "v1alpha4",
                                      "resource": "trafficsplits"},
                "TrafficSplit")
    for kind, res in (("HTTPRouteGroup", "httproutegroups"),
                      ("TCPRoute", "tcproutes"), ("UDPRoute", "udproutes")):
        h.expect_eq(smi[kind], {"group": "specs.smi-spec.io",
                                "version": "v1alpha4", "resource": res}, kind)
    h.expect_eq(smi["TrafficTarget"], {"group": "access.smi-spec.io",
                                       "version": "v1alpha3",
                                       "resource": "traffictargets"},
                "TrafficTarget")
    for flag in ("istio", "istio_v1", "linkerd", "linkerd_profiles",
                 "gateway_api"):
        h.expect_eq(d[flag], 1, flag)
    h.expect_eq(d["mesh"], -1, "mesh (both installed)")


def main():
    work = tempfile.mkdtemp(prefix="sb-reflector-")
    b = APIServer(work)
    probe = None
    ok = False
    try:
        b.start("--watch-cache=true")
        discovery(work, b)
        with h.namespace() as ns:
            # -- 2. list, then watch ------------------------------------
            cm(ns, "a", "1")
            cm(ns, "b", "1")
            probe = Probe(["--kubeconfig", b.kubeconfig, "--namespace", ns,
                           "--page-size", "1", "-v", "2"], work, "probe")
            converged(probe, ns)
            h.expect_eq(probe.stats()["lists"], 1, "lists")
            first = probe.events()
            h.expect_eq([o["ev"] for o in first],
                        ["SYNC_BEGIN", "APPLY", "APPLY", "SYNC_END"],
                        "the initial list (two pages of one)")
            mark = len(probe.snapshot())
            cm(ns, "c", "1")
            set_cm(ns, "a", "2")
            del_cm(ns, "b")
            converged(probe, ns)
            evs = probe.events(mark)
            h.expect_eq([(o["ev"], o["name"]) for o in evs],
                        [("APPLY", "c"), ("APPLY", "a"), ("DELETE", "b")],
                        "events for kubectl create, patch, delete")
            h.expect_eq(evs[1]["data"], {"k": "2"}, "the update's data")
            h.log("list+watch: initial list and 3 changes seen")

            # -- 2b. short watches end normally: re-watch, no error ------
            short = Probe(["--kubeconfig", b.kubeconfig, "--namespace", ns,
                           "--min-watch", "2"], work, "short")
            h.wait_for(lambda: short.stats().get("watches", 0) >= 3,
                       timeout=30, what="three watches of 2-3 s")
            st = short.stats()
            h.expect_eq((st["lists"], st["errors"], st["err"]), (1, 0, ""),
                        "lists, errors, error after normal watch ends")
            h.log("short watches: %d watches, %d bookmarks, no error"
                  % (st["watches"], st["bookmarks"]))
            short.close()

            # -- 3. killed, watch cache: 410 -> relist ------------------
            def changes3():
                cm(ns, "d", "1")
                set_cm(ns, "c", "2")
                del_cm(ns, "a")
            st0, st, evs = outage(probe, b, ns, signal.SIGKILL, changes3,
                                  ("--watch-cache=true",), DOWN_S,
                                  "killed, watch cache on")
            h.check(st["gone"] > st0["gone"],
                    "the re-watch after the restart got no 410")
            h.check(st["relists"] > st0["relists"], "no relist happened")
            h.check("SYNC_BEGIN" in [o["ev"] for o in evs],
                    "no SYNC_BEGIN after the restart")
            h.check("a" not in names(evs, "DELETE"),
                    "a relist reported the deletion as a DELETE event")

            # -- 4. stopped, no watch cache: re-watch from etcd history --
            def changes4():
                cm(ns, "e", "1")
                del_cm(ns, "c")
            st0, st, evs = outage(probe, b, ns, signal.SIGTERM, changes4,
                                  ("--watch-cache=false",), 0,
                                  "stopped, watch cache off")
            h.expect_eq(st["lists"], st0["lists"], "lists (no relist)")
            h.expect_eq(st["gone"], st0["gone"], "410s")
            h.expect_eq([(o["ev"], o["name"]) for o in evs],
                        [("APPLY", "e"), ("DELETE", "c")],
                        "the changes made while B was down, as events")

            # -- 5. killed, etcd compacted, no watch cache: 410 ---------
            def changes5():
                cm(ns, "f", "1")
                del_cm(ns, "d")
                out = h.testenv("compact", "--dir", h.TESTENV_DIR)
                h.check(out.returncode == 0,
                        "testenv compact: %s" % out.stderr)
                rev = int(out.stdout.split()[-1])
                h.check(rev > int(st_before["rv"]), "compacted at %d, not "
                        "past the probe's version %s"
                        % (rev, st_before["rv"]))
                h.log("etcd compacted at %d; the probe is at %s"
                      % (rev, st_before["rv"]))
            st_before = probe.stats()
            st0, st, evs = outage(probe, b, ns, signal.SIGKILL, changes5,
                                  ("--watch-cache=false",), 0,
                                  "killed, compacted, watch cache off")
            h.check(st["gone"] > st0["gone"], "no 410 after compaction")
            h.check(st["relists"] > st0["relists"], "no relist")
            h.check("d" not in names(evs, "DELETE"),
                    "a relist reported the deletion as a DELETE event")
            h.expect_eq(probe.store(), {"e": {"k": "1"}, "f": {"k": "1"}},
                        "the probe's store at the end")

            # -- 6. a continue token compacted away mid-list -------------
            # B has no watch cache now, so list pages come from etcd and
            # the continue token names an etcd revision. The probe stops
            # after the first item (a slow consumer); etcd is compacted
            # past the list's revision meanwhile.
            slow = Probe(["--kubeconfig", b.kubeconfig, "--namespace", ns,
                          "--page-size", "1", "--pause-first-apply-ms",
                          "3000"], work, "slow")
            h.wait_for(lambda: any(o["ev"] == "APPLY"
                                   for o in slow.events()),
                       timeout=30, what="the first list page")
            cm(ns, "g", "1")
            out = h.testenv("compact", "--dir", h.TESTENV_DIR)
            h.check(out.returncode == 0, "testenv compact: %s" % out.stderr)
            converged(slow, ns)
            st = slow.stats()
            h.expect_eq([o["ev"] for o in slow.events()],
                        ["SYNC_BEGIN", "APPLY", "SYNC_BEGIN", "APPLY",
                         "APPLY", "APPLY", "SYNC_END"],
                        "a list restarted after its continue token expired")
            h.expect_eq((st["lists"], st["gone"]), (2, 1),
                        "lists and 410s of the slow probe")
            with open(slow.errlog) as f:
                h.check("list expired, listing again" in f.read(),
                        "no 'list expired' line in the slow probe's log")
            h.log("continue token compacted mid-list: the list started "
                  "over and completed")
            slow.close()
            converged(probe, ns)
            probe.close()
            probe = None

            # -- 7. streamed lists (watch-list) --------------------------
            # B with its watch cache again: the list is one watch with
            # sendInitialEvents, whose initial-events-end bookmark ends it
            # and which goes on as the watch.
            b.stop(signal.SIGTERM)
            b.start("--watch-cache=true")
            stream = Probe(["--kubeconfig", b.kubeconfig, "--namespace", ns,
                            "--stream", "1", "-v", "2"], work, "stream")
            converged(stream, ns)
            st = stream.stats()
            h.expect_eq((st["lists"], st["streamed"], st["pages"],
                         st["watches"], st["errors"]), (1, 1, 0, 0, 0),
                        "lists, streamed, pages, watches, errors of a "
                        "streamed list")
            h.expect_eq([o["ev"] for o in stream.events()],
                        ["SYNC_BEGIN"] + ["APPLY"] * len(truth(ns)) +
                        ["SYNC_END"], "the streamed list's callbacks")
            mark = len(stream.snapshot())
            cm(ns, "h", "1")
            del_cm(ns, "e")
            converged(stream, ns)
            h.expect_eq([(o["ev"], o["name"]) for o in stream.events(mark)],
                        [("APPLY", "h"), ("DELETE", "e")],
                        "changes after the streamed list, on the same watch")
            h.expect_eq(stream.stats()["watches"], 0,
                        "watches started after the streamed list")
            stream.close()
            h.log("streamed list: one request, then the changes as events")

            # B without the WatchList feature refuses the stream (422):
            # the reflector lists in pages instead, with no error.
            b.stop(signal.SIGTERM)
            b.start("--watch-cache=true", "--feature-gates=WatchList=false")
            fb = Probe(["--kubeconfig", b.kubeconfig, "--namespace", ns,
                        "--stream", "1", "--page-size", "1"], work,
                       "fallback")
            converged(fb, ns)
            st = fb.stats()
            h.expect_eq((st["lists"], st["streamed"], st["pages"],
                         st["errors"], st["err"]),
                        (1, 1, len(truth(ns)), 0, ""),
                        "lists, streamed, pages, errors after a refusal")
            with open(fb.errlog) as f:
                h.check("the server does not stream lists" in f.read(),
                        "no 'does not stream lists' line in the log")
            fb.close()
            h.log("streamed list refused (WatchList off): listed in pages")
        ok = True
    finally:
        if probe:
            probe.proc.kill()
        b.stop(signal.SIGTERM)
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            h.log("logs of API server B and the probes: %s" % work)


h.run(main)
