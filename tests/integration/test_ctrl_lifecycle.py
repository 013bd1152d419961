"""Start-up and shutdown when the API server is absent, late or hung.

 1. SIGTERM during start-up: the API server accepts connections and never
    answers (discovery hangs); the controller is not ready and exits 0
    within the shutdown bound.
 2. API server unreachable at start (nothing listens on its port): one
    clear log line naming the server, /readyz 503 saying why, retries;
    the server comes up (a second kube-apiserver "B" on the fixture's
    etcd, apiserver.py) and the controller becomes ready and works.
 3. A hung API server (B stopped with SIGSTOP) while the controller
    leads: SIGTERM must not wait for the Lease release to time out.
 3b. The same, and a second SIGTERM while the first one waits: the
    process ends at once with status 1.
 4. A hung API server with a write in flight: the controller retries a
    write the server refuses (a namespace being deleted refuses new
    objects); B is frozen between two tries, so the next try hangs;
    SIGTERM must not wait for it either.
In every case the controller exits 0 within controller.SHUTDOWN_BOUND
(plus a second) of SIGTERM; the times are printed.

It starts and freezes an API server of its own: registered RUN_SERIAL.
"""

import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time

import harness as h
import controller as c
from apiserver import APIServer

VS = "virtualservices.networking.istio.io"
# Short leases: the leader of one part is stopped without releasing its
# Lease, and the next part's controller must not wait 15 s for it.
ELECT = ["--mesh", "istio", "--leader-elect",
         "--leader-elect-lease-duration", "4s",
         "--leader-elect-renew-deadline", "3s",
         "--leader-elect-retry-period", "500ms"]
SPLIT = """
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: web
spec:
  service: web
  backends:
  - service: web-v1
    weight: %d
  - service: web-v2
    weight: 10
"""


class Blackhole:
    """Accepts TCP connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopped = False
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        self.stopped = True
        self.sock.close()
        for conn in self.conns:
            conn.close()


def kubeconfig_for(url, path):
    with open(os.environ["KUBECONFIG"]) as f:
        kc = f.read()
    api = h.instance()["SB_TESTENV_API_URL"]
    with open(path, "w") as f:
        f.write(kc.replace(api, url))
    return path


def readyz(ctl):
    return ctl._get(ctl.health, "/readyz")


def count(ctl, text):
    return ctl.logs().count(text)


def stop_within_bound(ctl, what):
    took = ctl.stop()  # checks exit 0 within the bound
    h.log("%s: exited 0 %.2f s after SIGTERM" % (what, took))
    return took


def sigterm_during_startup(work):
    hole = Blackhole()
    try:
        kc = kubeconfig_for("https://127.0.0.1:%d" % hole.port,
                            os.path.join(work, "kubeconfig-hole"))
        ctl = c.Controller("default", "--mesh", "istio", kubeconfig=kc,
                           name="startup").start()
        h.wait_for(lambda: hole.conns and 'msg="starting"' in ctl.logs(),
                   timeout=30, what="discovery to connect")
        time.sleep(0.3)
        status, body = readyz(ctl)
        h.expect_eq(status, 503, "/readyz while discovery hangs")
        h.check("waiting for API discovery" in body, "/readyz says %r"
                % body)
        stop_within_bound(ctl, "SIGTERM while discovery hangs")
    finally:
        hole.close()


def unreachable_at_start(b, ns):
    ctl = c.Controller(ns, "--mesh", "istio", kubeconfig=b.kubeconfig,
                       name="late")
    with ctl:
        line = 'msg="cannot discover the API"'
        h.wait_for(lambda: count(ctl, line) >= 2, timeout=30,
                   what="two failed discoveries")
        first = [l for l in ctl.logs().splitlines() if line in l][0]
        h.check("server=%s" % b.url in first and "retry_ms=" in first,
                "the discovery error does not name the server and the "
                "retry: %s" % first)
        status, body = readyz(ctl)
        h.expect_eq(status, 503, "/readyz while the server is down")
        h.check("waiting for API discovery:" in body and
                "onnect" in body, "/readyz does not say why: %r" % body)
        t_ready = b.start()
        ctl.wait_ready(timeout=60)
        now = time.monotonic()
        h.check('msg="API discovery succeeded"' in ctl.logs(),
                "no recovery line after discovery worked")
        h.log("unreachable at start: %d failed discoveries; ready %.2f s "
              "after the API server started (%+.2f s from its /readyz)"
              % (count(ctl, line), now - b.spawned, now - t_ready))
        h.apply(SPLIT % 90, ns)
        c.wait_object(VS, "web-split", ns, lambda o: o["spec"]["http"][0][
            "route"][0].get("weight") == 90)


def hung_while_leading(b, ns):
    ctl = c.Controller(ns, *ELECT, kubeconfig=b.kubeconfig,
                       name="leader").start()
    try:
        ctl.wait_ready()
        h.wait_for(lambda: 'msg="became leader"' in ctl.logs(), timeout=30,
                   what="leadership")
        b.proc.send_signal(signal.SIGSTOP)
        try:
            stop_within_bound(ctl, "SIGTERM as leader, API server hung")
        finally:
            b.proc.send_signal(signal.SIGCONT)
        h.check('msg="stopping without releasing the lease' in ctl.logs(),
                "no line about the release given up")
    finally:
        if ctl.alive():
            ctl.kill()


def second_sigterm(b, ns):
    """While the first SIGTERM waits for a hung server, a second one ends
    the process at once, with status 1 and one line saying so."""
    ctl = c.Controller(ns, *ELECT, kubeconfig=b.kubeconfig,
                       name="twice").start()
    try:
        ctl.wait_ready()
        h.wait_for(lambda: 'msg="became leader"' in ctl.logs(), timeout=30,
                   what="leadership")
        b.proc.send_signal(signal.SIGSTOP)
        try:
            ctl.proc.send_signal(signal.SIGTERM)
            h.wait_for(lambda: 'msg="stopping"' in ctl.logs(), timeout=10,
                       what="the graceful stop to begin")
            t0 = time.monotonic()
            ctl.proc.send_signal(signal.SIGTERM)
            rc = ctl.proc.wait(10)
            took = time.monotonic() - t0
        finally:
            b.proc.send_signal(signal.SIGCONT)
        h.expect_eq(rc, 1, "exit status after a second SIGTERM")
        h.check("second signal, exiting now" in ctl.logs(),
                "no line about the second signal")
        h.log("second SIGTERM: exited 1 %.2f s after it" % took)
    finally:
        ctl.kill()


def hung_with_write_in_flight(b, ns):
    h.apply(SPLIT % 80, ns)
    # The namespace now refuses new objects: every try to create the
    # VirtualService fails (403) and is retried with a growing delay.
    h.kubectl("delete", "namespace", ns, "--wait=false")
    ctl = c.Controller(ns, "--mesh", "istio", kubeconfig=b.kubeconfig,
                       name="inflight").start()
    try:
        failed = 'msg="write failed"'
        h.wait_for(lambda: count(ctl, failed) >= 6, timeout=60,
                   what="six refused writes")
        b.proc.send_signal(signal.SIGSTOP)
        try:
            # A try that started and got no answer: one reconcile more
            # than failed writes (each try fails with one), for a while.
            def out():
                logs = ctl.logs()
                return logs.count('msg="reconcile"') > logs.count(failed)
            h.wait_for(out, timeout=30, what="a try after B froze")
            time.sleep(0.5)
            h.check(out(), "the write was answered by a frozen server?")
            h.check(ctl.alive(), "the controller died:\n%s"
                    % ctl.log_tail())
            stop_within_bound(ctl, "SIGTERM with a write to a hung server")
        finally:
            b.proc.send_signal(signal.SIGCONT)
        h.check('msg="stopping without waiting for writes still out"'
                in ctl.logs(), "no line about the writes given up:\n%s"
                % ctl.log_tail())
    finally:
        if ctl.alive():
            ctl.kill()


def main():
    work = tempfile.mkdtemp(prefix="sb-lifecycle-")
    b = APIServer(work)
    ok = False
    try:
        sigterm_during_startup(work)
        with h.namespace("late") as ns:
            c.services(ns, ["web", "web-v1", "web-v2"])
            unreachable_at_start(b, ns)
            hung_while_leading(b, ns)
            second_sigterm(b, ns)
        ns = h.unique_name("inflight")
        h.kubectl("create", "namespace", ns)
        c.services(ns, ["web", "web-v1", "web-v2"])
        hung_with_write_in_flight(b, ns)
        ok = True
    finally:
        if b.proc:
            b.proc.send_signal(signal.SIGCONT)
        b.stop(signal.SIGTERM)
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            h.log("logs of API server B: %s" % work)


h.run(main)
