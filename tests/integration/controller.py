"""Runs `smi-bridge run` as a child process for integration tests.

    with Controller(ns, "--mesh", "istio") as c:
        c.wait_ready()
        ...
    # leaving the block sends SIGTERM and checks the controller exited 0
    # within the shutdown bound (under AddressSanitizer that includes "no
    # leak": LeakSanitizer turns leaks into a non-zero exit).

Each controller watches only the test's namespace (-n), uses probe ports
picked free on 127.0.0.1, logs at -v 2 into a file kept for the failure
message, and takes its Lease (when --leader-elect is given) in the test's
namespace, so tests can run in parallel against one control plane.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import harness as h

SHUTDOWN_BOUND = 2.0  # seconds, the "exits 0 within 2 s"


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def valgrind_wanted():
    """The plain build runs one scenario under valgrind; sanitizer builds
    cannot (ASan and valgrind do not mix)."""
    return os.environ.get("SB_BUILD_TYPE", "") not in ("Asan", "")


class Controller:
    def __init__(self, ns, *args, kubeconfig=None, env=None, watch_ns=True,
                 valgrind=False, name="controller"):
        self.ns = ns
        self.args = list(args)
        self.kubeconfig = kubeconfig or os.environ.get("KUBECONFIG")
        self.env = dict(os.environ)
        if env:
            self.env.update(env)
        self.watch_ns = watch_ns
        # SB_CTRL_VALGRIND=1 runs every controller of a test under
        # valgrind (by hand, in a build without sanitizers).
        self.valgrind = valgrind or os.environ.get("SB_CTRL_VALGRIND") == "1"
        self.name = name
        self.proc = None
        self.health = free_port()
        self.metrics_port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sb-ctrl-")
        self.log_path = os.path.join(self.dir, name + ".log")
        self.out_path = os.path.join(self.dir, name + ".out")
        self.vg_path = os.path.join(self.dir, "valgrind.log")
        self.exit_code = None
        self._kept = None  # (log, output) once the work dir is removed

    def argv(self):
        argv = [h.SMI_BRIDGE, "run", "-v", "2",
                "--health-addr", "127.0.0.1:%d" % self.health,
                "--metrics-addr", "127.0.0.1:%d" % self.metrics_port]
        if self.kubeconfig:
            argv += ["--kubeconfig", self.kubeconfig]
        if self.watch_ns:
            argv += ["-n", self.ns]
        if "--leader-elect" in self.args:
            argv += ["--leader-elect-namespace", self.ns]
        argv += self.args
        if self.valgrind:
            argv = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                    "--errors-for-leak-kinds=definite,indirect",
                    "--show-leak-kinds=definite,indirect",
                    "--log-file=" + self.vg_path] + argv
        return argv

    def start(self):
        self.log_f = open(self.log_path, "w")
        self.out_f = open(self.out_path, "w")
        self.proc = subprocess.Popen(self.argv(), stdout=self.out_f,
                                     stderr=self.log_f, env=self.env)
        return self

    def logs(self):
        if self._kept is not None:
            return self._kept[0]
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def output(self):
        if self._kept is not None:
            return self._kept[1]
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def log_tail(self, n=25):
        return "\n".join(self.logs().splitlines()[-n:])

    def _get(self, port, path, timeout=2):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                        timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return None, ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def ready(self):
        if not self.alive():
            h.fail("%s exited (%s) before it was ready:\n%s"
                   % (self.name, self.proc.poll(), self.log_tail()))
        return self._get(self.health, "/readyz")[0] == 200

    def wait_ready(self, timeout=60):
        h.wait_for(self.ready, timeout=timeout, what="%s /readyz" % self.name)

    def metrics(self):
        """The /metrics exposition as {series-with-labels: value}."""
        status, text = self._get(self.metrics_port, "/metrics")
        h.check(status == 200, "/metrics answered %s" % status)
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
        return out

    def metric(self, series, default=0.0):
        return self.metrics().get(series, default)

    def stop(self, check_exit=True):
        """SIGTERM; the controller must exit 0 within the bound (plus the
        slowdown valgrind brings)."""
        if not self.alive():
            self.exit_code = self.proc.poll() if self.proc else None
            if check_exit and self.exit_code not in (0, None):
                h.fail("%s had already exited with %s:\n%s"
                       % (self.name, self.exit_code, self.log_tail()))
            return
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        bound = SHUTDOWN_BOUND * (15 if self.valgrind else 1) + 1
        try:
            self.exit_code = self.proc.wait(timeout=bound + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            h.fail("%s did not exit within %.0fs of SIGTERM:\n%s"
                   % (self.name, bound + 10, self.log_tail()))
        took = time.monotonic() - t0
        self.log_f.close()
        self.out_f.close()
        if check_exit:
            h.check(self.exit_code == 0, "%s exited with %s after SIGTERM:\n%s"
                    % (self.name, self.exit_code, self.log_tail(40)))
            h.check(took <= bound, "%s took %.2fs to stop (bound %.1fs)"
                    % (self.name, took, bound))
        if self.valgrind:
            with open(self.vg_path, encoding="utf-8", errors="replace") as f:
                vg = f.read()
            h.check("ERROR SUMMARY: 0 errors" in vg,
                    "valgrind found errors:\n%s" % vg[-4000:])
            h.check(("definitely lost: 0 bytes" in vg and
                     "indirectly lost: 0 bytes" in vg) or
                    "All heap blocks were freed" in vg,
                    "valgrind found leaks:\n%s" % vg[-4000:])
        return took

    def kill(self):
        """SIGKILL: the crash a leader election test needs."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self.log_f.close()
        self.out_f.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
            # Passed: keep the logs in memory (callers may still read
            # them), not on disk.
            self._kept = (self.logs(), self.output())
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            if self.alive():
                self.proc.kill()
                self.proc.wait()
            try:
                self.log_f.close()
                self.out_f.close()
            except Exception:
                pass
            # Keep the log in the failure output (and on disk).
            print("---- %s log (tail; whole log in %s) ----\n%s"
                  % (self.name, self.log_path, self.log_tail(60)))
        return False


def events(ns, name=None, reason=None):
    """core/v1 Events in ns (optionally about one object / one reason)."""
    out = json.loads(h.kubectl("get", "events", "-n", ns, "-o",
                               "json").stdout)
    evs = out.get("items", [])
    if name:
        evs = [e for e in evs if e["involvedObject"].get("name") == name]
    if reason:
        evs = [e for e in evs if e.get("reason") == reason]
    return evs


def wait_event(ns, name, reason, timeout=30, contains=None):
    def find():
        for e in events(ns, name, reason):
            if contains is None or contains in e.get("message", ""):
                return e
        return None
    return h.wait_for(find, timeout=timeout,
                      what="Event %s on %s%s" % (reason, name,
                                                 " containing %r" % contains
                                                 if contains else ""))


def get_json(resource, name, ns):
    p = h.kubectl("get", resource, name, "-n", ns, "-o", "json", check=False)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)


def wait_object(resource, name, ns, pred=None, timeout=30, what=None):
    """Waits until the object exists (and pred(obj) holds)."""
    def probe():
        obj = get_json(resource, name, ns)
        if obj is None:
            return None
        if pred and not pred(obj):
            return None
        return obj
    return h.wait_for(probe, timeout=timeout,
                      what=what or "%s %s/%s" % (resource, name, ns))


def wait_gone(resource, name, ns, timeout=30):
    h.wait_for(lambda: get_json(resource, name, ns) is None, timeout=timeout,
               what="%s %s/%s to be deleted" % (resource, name, ns))


def names(resource, ns, selector=None):
    args = ["get", resource, "-n", ns, "-o", "json"]
    if selector:
        args += ["-l", selector]
    out = json.loads(h.kubectl(*args).stdout)
    return sorted(i["metadata"]["name"] for i in out.get("items", []))


# ---- fixtures of cluster objects --------------------------------------------

def service_yaml(name, ports, selector=None, headless=True):
    """Headless by default: translations read ports and selectors only,
    and the test control plane's cluster IP range (a /24) would run out
    over a few runs -- no namespace controller ever frees an IP."""
    ps = "\n".join("  - name: p%d\n    port: %d\n    targetPort: %d"
                   % (p, p, p) for p in ports)
    sel = selector or {"app": name}
    sels = "\n".join("    %s: %s" % (k, v) for k, v in sel.items())
    return ("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n"
            "%s  selector:\n%s\n  ports:\n%s\n"
            % (name, "  clusterIP: None\n" if headless else "", sels, ps))


def services(ns, names, ports=(8080,), headless=True):
    h.apply("---\n".join(service_yaml(n, ports, headless=headless)
                         for n in names), ns)


def pod_yaml(name, sa, labels, ports=(8080,)):
    ls = "\n".join("    %s: %s" % (k, v) for k, v in labels.items())
    ps = "\n".join("    - containerPort: %d" % p for p in ports)
    return ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  labels:\n%s\n"
            "spec:\n  serviceAccountName: %s\n  containers:\n  - name: app\n"
            "    image: app:1\n    ports:\n%s\n" % (name, ls, sa, ps))


def service_account(ns, name):
    p = h.kubectl("create", "serviceaccount", name, "-n", ns, check=False)
    if p.returncode != 0 and "already exists" not in p.stderr.lower() \
            and "alreadyexists" not in p.stderr.lower():
        h.fail("cannot create ServiceAccount %s/%s: %s" % (ns, name,
                                                           p.stderr))


def pods(ns, specs):
    """specs: [(name, sa, labels)]; creates the ServiceAccounts too."""
    for sa in sorted({s[1] for s in specs}):
        service_account(ns, sa)
    h.apply("---\n".join(pod_yaml(n, sa, l) for n, sa, l in specs), ns)
