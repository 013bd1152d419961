"""Shared pieces of the controller benchmarks (converge.py, memory.py).

Standard library only, like the integration harness. What is here:

  Cluster      a control plane: a private one started with
               tests/testenv/testenv up --dir <work>/cp (and stopped again),
               or the one KUBECONFIG points at with --kubeconfig.
  Watcher      counts ADDED events of one resource in one namespace from a
               watch stream and notes when a target count was reached --
               how "every generated object exists" is timed without
               polling the API server.
  Controller   `smi-bridge run` as a child process, with /proc sampling
               (VmRSS, VmHWM, RssAnon, RssFile, utime+stime).
  bulk_create  writes a list of objects with tests/bench/bench-create (the
               project's HTTP/2 client, 64 requests in flight).
  generators   TrafficSplits, HTTPRouteGroups, TrafficTargets, Services,
               ServiceAccounts and Pods shaped like real ones.

Paths come from the environment CTest sets (SB_SMI_BRIDGE, SB_BENCH_CREATE,
SB_TESTENV, SB_BENCH_DIR), else from a build tree next to the sources
(build-rel/, then build/).
"""

import argparse
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SB_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(HERE)))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def die(msg):
    log("FAILED: " + msg)
    sys.exit(1)


def find_binary(env, rel):
    p = os.environ.get(env)
    if p:
        return p
    for b in ("build-rel", "build"):
        cand = os.path.join(SOURCE_DIR, b, rel)
        if os.path.exists(cand):
            return cand
    die("%s not set and no %s in a build tree" % (env, rel))


def common_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--kubeconfig",
                    help="use this cluster instead of starting a private "
                    "control plane (it must have the SMI and mesh CRDs)")
    ap.add_argument("--work", help="work directory (default: $SB_BENCH_DIR "
                    "or a temporary one)")
    ap.add_argument("--runs", type=int, default=3,
                    help="repetitions; the median is reported")
    ap.add_argument("--json", help="also write the results here")
    return ap


def median(v):
    return statistics.median(v) if v else float("nan")


# ---- the cluster -----------------------------------------------------------

class Cluster:
    """A control plane for the benchmark's lifetime."""

    def __init__(self, args):
        self.args = args
        base = args.work or os.environ.get("SB_BENCH_DIR")
        if base:
            os.makedirs(base, exist_ok=True)
            self.work = tempfile.mkdtemp(prefix="run-", dir=base)
        else:
            self.work = tempfile.mkdtemp(prefix="sb-bench-")
        self.private = not args.kubeconfig
        self.cpdir = os.path.join(self.work, "cp")
        self.testenv = os.environ.get(
            "SB_TESTENV", os.path.join(SOURCE_DIR, "tests/testenv/testenv"))
        self.env = dict(os.environ)

    def __enter__(self):
        if self.private:
            log("starting a private control plane in %s" % self.cpdir)
            subprocess.run([self.testenv, "build"], check=True,
                           stdout=subprocess.DEVNULL)
            self._up()
        else:
            self.env["KUBECONFIG"] = self.args.kubeconfig
            self.kubeconfig = self.env["KUBECONFIG"]
            self.api = API(self)
        return self

    def _up(self, replace=False):
        argv = [self.testenv, "up", "--dir", self.cpdir]
        if replace:
            argv.append("--replace")
        subprocess.run(argv, check=True,
                       stdout=subprocess.DEVNULL if replace else None)
        out = subprocess.run([self.testenv, "env", "--dir", self.cpdir],
                             check=True, capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            if line.startswith("export "):
                k, _, v = line[7:].partition("=")
                v = v.strip("'")
                if k == "PATH":
                    v = v.split(":")[0] + ":" + os.environ["PATH"]
                self.env[k] = v
        self.kubeconfig = self.env["KUBECONFIG"]
        self.api = API(self)

    def restart(self):
        """A new private control plane (empty etcd, a new kube-apiserver
        process) in place of the running one."""
        assert self.private, "restart: not a private control plane"
        self._up(replace=True)

    def apiserver_cpu(self):
        """CPU seconds the private kube-apiserver has used (NaN with
        --kubeconfig: that API server may not run on this machine)."""
        if not self.private:
            return float("nan")
        with open(os.path.join(self.cpdir, "kube-apiserver.pid")) as f:
            return proc_cpu_seconds(int(f.read().strip()))

    def __exit__(self, *exc):
        if self.private:
            subprocess.run([self.testenv, "down", "--dir", self.cpdir],
                           stdout=subprocess.DEVNULL)
        if not self.args.work and not os.environ.get("SB_BENCH_DIR"):
            shutil.rmtree(self.work, ignore_errors=True)

    def kubectl(self, *args, input=None, check=True):
        p = subprocess.run(["kubectl"] + list(args), env=self.env,
                           input=input, capture_output=True, text=True)
        if check and p.returncode != 0:
            die("kubectl %s: %s" % (" ".join(args), p.stderr.strip()))
        return p

    def path(self, name):
        return os.path.join(self.work, name)


class API:
    """Just enough of the API for reads and watches, over the admin
    kubeconfig's client certificate (or token)."""

    def __init__(self, cluster):
        cfg = json.loads(cluster.kubectl("config", "view", "--raw",
                                         "--minify", "-o", "json").stdout)
        clu = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        u = urllib.parse.urlparse(clu["server"])
        self.host, self.port = u.hostname, u.port or 443
        ctx = ssl.create_default_context()
        if clu.get("insecure-skip-tls-verify"):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif clu.get("certificate-authority-data"):
            ctx.load_verify_locations(cadata=base64.b64decode(
                clu["certificate-authority-data"]).decode())
        elif clu.get("certificate-authority"):
            ctx.load_verify_locations(cafile=clu["certificate-authority"])
        cert, key = user.get("client-certificate"), user.get("client-key")
        if user.get("client-certificate-data"):
            cert = cluster.path("client.crt")
            key = cluster.path("client.key")
            with open(cert, "wb") as f:
                f.write(base64.b64decode(user["client-certificate-data"]))
            with open(key, "wb") as f:
                f.write(base64.b64decode(user["client-key-data"]))
            os.chmod(key, 0o600)
        if cert:
            ctx.load_cert_chain(cert, key)
        self.ctx = ctx
        self.headers = {"Accept": "application/json"}
        if user.get("token"):
            self.headers["Authorization"] = "Bearer " + user["token"]

    def conn(self, timeout=60):
        return http.client.HTTPSConnection(self.host, self.port,
                                           context=self.ctx, timeout=timeout)

    def get(self, path):
        c = self.conn()
        try:
            c.request("GET", path, headers=self.headers)
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                die("GET %s: %d %s" % (path, r.status, body[:300]))
            return json.loads(body)
        finally:
            c.close()

    def delete_collection(self, res, ns):
        """Deletes every object of res in ns (one request; the API server
        deletes them one by one before it answers)."""
        c = self.conn(timeout=600)
        try:
            c.request("DELETE", res_path(res, ns), headers=self.headers)
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                die("DELETE %s: %d %s" % (res_path(res, ns), r.status,
                                          body[:300]))
        finally:
            c.close()


def res_path(res, ns=None):
    """'networking.istio.io/v1/virtualservices' or '/v1/pods' -> URL path."""
    group, version, resource = res.split("/")
    base = "/apis/%s/%s" % (group, version) if group else "/api/" + version
    if ns:
        base += "/namespaces/" + ns
    return base + "/" + resource


class Watcher(threading.Thread):
    """Counts distinct objects ADDED in ns; .reached(n) waits for n."""

    def __init__(self, api, res, ns):
        super().__init__(daemon=True)
        self.api, self.res, self.ns = api, res, ns
        self.names = set()
        self.times = {}
        self.cond = threading.Condition()
        self.error = None
        self.stopped = False
        lst = api.get(res_path(res, ns))
        self.rv = lst["metadata"]["resourceVersion"]
        for it in lst.get("items", []):
            self.names.add(it["metadata"]["name"])
        self.conn = None
        self.start()

    def run(self):
        try:
            while not self.stopped:
                self.conn = self.api.conn(timeout=None)
                q = "?watch=1&allowWatchBookmarks=true&timeoutSeconds=1800"
                q += "&resourceVersion=" + self.rv
                self.conn.request("GET", res_path(self.res, self.ns) + q,
                                  headers=self.api.headers)
                r = self.conn.getresponse()
                if r.status != 200:
                    raise RuntimeError("watch: %d %s" % (r.status,
                                                         r.read()[:300]))
                for line in r:
                    ev = json.loads(line)
                    md = ev["object"].get("metadata", {})
                    if md.get("resourceVersion"):
                        self.rv = md["resourceVersion"]
                    if ev["type"] in ("ADDED", "MODIFIED"):
                        with self.cond:
                            if md["name"] not in self.names:
                                self.names.add(md["name"])
                                self.times[len(self.names)] = \
                                    time.monotonic()
                            self.cond.notify_all()
                    elif ev["type"] == "ERROR":
                        raise RuntimeError("watch: %s" % ev["object"])
        except Exception as e:  # noqa: BLE001 - reported by reached()
            if not self.stopped:
                self.error = e
                with self.cond:
                    self.cond.notify_all()

    def count(self):
        with self.cond:
            return len(self.names)

    def reached(self, n, timeout, alive=None):
        """Monotonic time at which n objects had been seen, or die."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.names) < n:
                if self.error:
                    die(str(self.error))
                if alive and not alive():
                    die("the controller exited; %d of %d objects"
                        % (len(self.names), n))
                left = deadline - time.monotonic()
                if left <= 0:
                    die("only %d of %d %s after %.0fs"
                        % (len(self.names), n, self.res, timeout))
                self.cond.wait(min(left, 1.0))
            return self.times.get(n, time.monotonic())

    def stop(self):
        self.stopped = True
        try:
            if self.conn and self.conn.sock:
                self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# ---- writing objects -------------------------------------------------------

def bulk_create(cluster, res, objs, name, conc=64, apply=False,
                check=True):
    """Writes objs with bench-create; returns its JSON result."""
    return bulk_create_timed(cluster, res, objs, name, conc, apply,
                             check)[0]


def bulk_create_timed(cluster, res, objs, name, conc=64, apply=False,
                      check=True):
    """bulk_create, also returning the monotonic time bench-create was
    started at (after the input file was written)."""
    path = cluster.path(name + ".json")
    with open(path, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": objs}, f)
    argv = [find_binary("SB_BENCH_CREATE", "tests/bench/bench-create"),
            "--kubeconfig", cluster.kubeconfig, "-c", str(conc)]
    if apply:
        argv.append("--apply")
    t0 = time.monotonic()
    p = subprocess.run(argv + [res, path], env=cluster.env,
                       capture_output=True, text=True)
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        die("bench-create %s: %s" % (res, p.stderr.strip()[-500:]))
    if check and p.returncode != 0:
        die("bench-create %s: %d of %d failed: %s"
            % (res, out["failed"], out["objects"], out["first_error"]))
    return out, t0


def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name}}


def service_account(ns, name):
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": ns}}


def service(ns, name, app, ports=(8080,)):
    """Headless: thousands of cluster IPs would be allocated one at a time
    (the allocator serialises them), and a translation never reads the
    IP."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"app": app}},
            "spec": {"clusterIP": "None", "selector": {"app": app},
                     "ports": [{"name": "http-%d" % p, "port": p,
                                "targetPort": p, "protocol": "TCP"}
                               for p in ports]}}


def traffic_split(ns, name, root, backends, weights=(90, 10)):
    return {"apiVersion": "split.smi-spec.io/v1alpha4",
            "kind": "TrafficSplit",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"service": root,
                     "backends": [{"service": b, "weight": w}
                                  for b, w in zip(backends, weights)]}}


def route_group(ns, name):
    return {"apiVersion": "specs.smi-spec.io/v1alpha4",
            "kind": "HTTPRouteGroup",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"matches": [
                {"name": "api", "pathRegex": "/api/.*",
                 "methods": ["GET", "POST"]},
                {"name": "metrics", "pathRegex": "/metrics",
                 "methods": ["GET"], "headers": [{"x-debug": "1"}]}]}}


def traffic_target(ns, name, dest_sa, src_sa, group):
    return {"apiVersion": "access.smi-spec.io/v1alpha3",
            "kind": "TrafficTarget",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"destination": {"kind": "ServiceAccount",
                                     "name": dest_sa, "namespace": ns},
                     "sources": [{"kind": "ServiceAccount", "name": src_sa,
                                  "namespace": ns}],
                     "rules": [{"kind": "HTTPRouteGroup", "name": group,
                                "matches": ["api", "metrics"]}]}}


def pod(ns, name, app, sa, rs_hash, ports=(8080, 9090)):
    """A Pod as a Deployment's ReplicaSet makes it (the fields that
    matter for the cache: labels, serviceAccountName, container ports)."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"app": app, "version": "v1",
                                    "pod-template-hash": rs_hash}},
            "spec": {"serviceAccountName": sa,
                     "containers": [{
                         "name": "app", "image": "registry.example/%s:1.0"
                         % app,
                         "ports": [{"name": "http" if p == 8080 else
                                    "metrics", "containerPort": p,
                                    "protocol": "TCP"} for p in ports],
                         "resources": {"requests": {"cpu": "10m",
                                                    "memory": "16Mi"}}}]}}


# ---- the controller ---------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem",
                     "Threads"):
                out[k] = int(v.split()[0])
    return out


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Controller:
    def __init__(self, cluster, args, name="controller", env=None):
        self.cluster = cluster
        self.health = free_port()
        self.metrics_port = free_port()
        self.log_path = cluster.path(name + ".log")
        # -v 2: every request with its duration in the log, for a
        # post-mortem of a slow run (a few thousand lines per run).
        self.argv = [find_binary("SB_SMI_BRIDGE", "smi-bridge"), "run",
                     "-v", "2", "--kubeconfig", cluster.kubeconfig,
                     "--health-addr", "127.0.0.1:%d" % self.health,
                     "--metrics-addr", "127.0.0.1:%d" % self.metrics_port
                     ] + list(args)
        self.env = dict(cluster.env)
        if env:
            self.env.update(env)
        self.proc = None

    def start(self):
        self.log_f = open(self.log_path, "w")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL,
                                     stderr=self.log_f, env=self.env)
        return self

    def alive(self):
        return self.proc.poll() is None

    def _get(self, port, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s"
                                        % (port, path), timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""
        except OSError:
            return None, ""

    def wait_ready(self, timeout=600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                die("controller exited: %s" % self.log_tail())
            if self._get(self.health, "/readyz")[0] == 200:
                return time.monotonic()
            time.sleep(0.05)
        die("controller not ready after %ds" % timeout)

    def metrics(self):
        status, text = self._get(self.metrics_port, "/metrics")
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                out[k] = float(v)
        return out

    def sum_metric(self, prefix, **labels):
        total = 0.0
        for k, v in self.metrics().items():
            if k.split("{")[0] != prefix:
                continue
            if all('%s="%s"' % (lk, lv) in k for lk, lv in labels.items()):
                total += v
        return total

    def status(self):
        return proc_status(self.proc.pid)

    def cpu(self):
        return proc_cpu_seconds(self.proc.pid)

    def wait_quiet(self, quiet=3.0, timeout=900):
        """Waits until the reconcile count and the queue depth have stood
        still for `quiet` seconds (everything settled)."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            m = self.metrics()
            cur = (sum(v for k, v in m.items()
                       if k.startswith("controller_runtime_reconcile_total")),
                   m.get('workqueue_depth{name="smi-bridge"}', 0),
                   sum(v for k, v in m.items()
                       if k.startswith("rest_client_requests_total")))
            if cur != last:
                last, since = cur, time.monotonic()
            elif cur[1] == 0 and time.monotonic() - since >= quiet:
                return
            time.sleep(0.25)
        die("controller did not settle in %ds" % timeout)

    def log_tail(self, n=20):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def stop(self):
        if self.proc and self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_f.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def machine_notes():
    notes = {"cpus": os.cpu_count()}
    try:
        with open("/proc/loadavg") as f:
            notes["loadavg"] = f.read().split()[:3]
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    notes["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    notes["kernel"] = os.uname().release
    return notes
