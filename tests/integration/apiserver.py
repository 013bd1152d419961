"""A second kube-apiserver ("B") on the fixture's etcd, for tests that stop
and restart the API server a controller talks to.

B runs the fixture's own command line (read from /proc) with another
--secure-port, so it serves the same cluster: changes made with kubectl
through the fixture's API server ("A") are what B serves too, and B can
be killed, restarted (with or without its watch cache) or not started at
all without disturbing A or the tests that use it.

    b = APIServer(workdir)        # picks a free port; not started yet
    b.kubeconfig                  # the admin kubeconfig pointing at B
    b.start("--watch-cache=true") # waits for /readyz; returns that time
    b.stop(signal.SIGKILL)        # returns the time it was gone

The process dies with the test (PR_SET_PDEATHSIG), so a test killed by a
timeout leaves no API server behind. Logs go to workdir/apiserver-b.N.log.
"""

import ctypes
import http.client
import os
import signal
import socket
import ssl
import subprocess
import time

import harness as h


def die_with_parent():
    os.setsid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class APIServer:
    def __init__(self, workdir):
        self.dir = h.TESTENV_DIR
        with open(os.path.join(self.dir, "kube-apiserver.pid")) as f:
            pid = f.read().strip()
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            argv = [a.decode() for a in f.read().split(b"\0") if a]
        h.check(argv and argv[0].endswith("kube-apiserver"),
                "the fixture's kube-apiserver is not running")
        self.port = free_port()
        self.argv = []
        i = 0
        while i < len(argv):
            a = argv[i]
            if a == "--secure-port":
                self.argv += [a, str(self.port)]
                i += 2
                continue
            if a.startswith("--secure-port="):
                a = "--secure-port=%d" % self.port
            self.argv.append(a)
            i += 1
        self.workdir = workdir
        self.proc = None
        self.starts = 0
        self.spawned = None
        pki = os.path.join(self.dir, "pki")
        self.ctx = ssl.create_default_context(
            cafile=os.path.join(pki, "ca.crt"))
        self.ctx.load_cert_chain(os.path.join(pki, "admin.crt"),
                                 os.path.join(pki, "admin.key"))
        with open(os.environ["KUBECONFIG"]) as f:
            kc = f.read()
        api = h.instance()["SB_TESTENV_API_URL"]
        h.check(api in kc, "the kubeconfig does not name %s" % api)
        self.url = "https://127.0.0.1:%d" % self.port
        self.kubeconfig = os.path.join(workdir, "kubeconfig-b")
        with open(self.kubeconfig, "w") as f:
            f.write(kc.replace(api, self.url))

    def ready(self):
        try:
            c = http.client.HTTPSConnection("127.0.0.1", self.port,
                                            context=self.ctx, timeout=2)
            c.request("GET", "/readyz")
            ok = c.getresponse().read() == b"ok"
            c.close()
            return ok
        except OSError:
            return False

    def start(self, *extra):
        self.starts += 1
        log = open(os.path.join(self.workdir, "apiserver-b.%d.log"
                                % self.starts), "w")
        self.proc = subprocess.Popen(self.argv + list(extra),
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=die_with_parent)
        log.close()
        t0 = self.spawned = time.monotonic()
        h.wait_for(lambda: self.proc.poll() is not None or self.ready(),
                   timeout=90, interval=0.05, what="API server B ready")
        h.check(self.proc.poll() is None, "API server B exited (log %s)"
                % log.name)
        t = time.monotonic()
        h.log("API server B ready in %.1f s (%s)" % (
            t - t0, " ".join(extra) or "watch cache on"))
        return t

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        return time.monotonic()


def compact():
    """Compacts the fixture's etcd at its current revision; returns it."""
    out = h.testenv("compact", "--dir", h.TESTENV_DIR)
    h.check(out.returncode == 0, "testenv compact: %s" % out.stderr)
    return int(out.stdout.split()[-1])
