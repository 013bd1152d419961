#!/usr/bin/env python3
"""test-incluster.py -- the controller in its image, configured in-cluster,
against the test control plane.

What a kubelet would do for the chart's Deployment is done here by hand:

- the chart's ServiceAccount, ClusterRole, bindings and leases Role are
  rendered with helm and applied to the control plane (release namespace
  of its own, the ClusterRole bound in one workload namespace, so the
  controller cannot meet other tests' objects);
- a token for that ServiceAccount (TokenRequest), the cluster CA and the
  namespace are written where a pod finds them,
  /var/run/secrets/kubernetes.io/serviceaccount, readable by the image's
  user only through world-readable modes (as a projected volume is);
- the container's command line, environment and user are taken from the
  rendered Deployment: its args with $(VAR) expanded from its env, the
  downward-API fields (metadata.namespace, metadata.name) filled in, its
  runAsUser/runAsGroup, its readOnlyRootFilesystem;
- KUBERNETES_SERVICE_HOST/PORT point at the API server, as a kubelet sets
  them; nothing else of the host's environment reaches the process.

300 Services in the workload namespace make their list larger than the
API server's compression threshold, so it comes gzip-encoded (checked
with a request of the test's own) and the image's libcurl must decode it.

Then `tests/image/image.sh run --read-only` starts the image and the test
checks: it lists without an error; the process runs as 65532:65532 with a read-only root; /healthz,
/readyz and /metrics answer; it takes the Lease under the pod's name; a
TrafficSplit becomes a VirtualService (read back with kubectl) and a
Translated Event whose source is the pod; the token never appears in the
log (at -v 2); SIGTERM to image.sh reaches the controller, which releases
the Lease (holderIdentity empty) and exits 0; no process or container is
left behind. Prints the time from launch to ready.

Environment: as the integration tests (tests/integration/harness.py), plus
HELM (else tests/helm/build-helm.sh --check finds it).
"""

import datetime
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import harness as h  # noqa: E402
import controller as c  # noqa: E402

IMAGE_SH = os.path.join(HERE, "image.sh")
CHART = os.path.join(REPO, "deploy", "helm", "smi-bridge")
SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
VS = "virtualservices.networking.istio.io"
STOP_BOUND = 3.0  # seconds from SIGTERM until the process is gone

SPLIT = """
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: web
spec:
  service: web
  backends:
  - service: web-v1
    weight: 80
  - service: web-v2
    weight: 20
"""


def helm_bin():
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    p = h.run_cmd([os.path.join(REPO, "tests", "helm", "build-helm.sh"),
                   "--check"], check=False)
    h.check(p.returncode == 0, "no helm: %s" % p.stderr.strip())
    return p.stdout.strip()


def to_objects(yaml_text):
    """Rendered YAML as objects, decoded by kubectl without the server."""
    out = h.kubectl("create", "--dry-run=client", "-o", "json", "-f", "-",
                    input=yaml_text).stdout
    obj = json.loads(out)
    return obj["items"] if obj.get("kind") == "List" else [obj]


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=2) as r:
            return r.status, r.headers.get("Content-Type", ""), \
                r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, "", e.read().decode()
    except OSError:
        return None, "", ""


def children(pid):
    """Pids whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces or parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(d))
    return out


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def proc_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def ids(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1:]
    return []


def mount_options(pid, mount_point):
    """Per-mount options of the mount at mount_point as the process sees
    it (the last one mounted there wins)."""
    opts = None
    with open("/proc/%d/mountinfo" % pid) as f:
        for line in f:
            fields = line.split()
            if fields[4] == mount_point:
                opts = fields[5].split(",")
    return opts


def containers():
    """{container id: name} of every buildah container in the storage
    image.sh uses (other users' too)."""
    p = h.run_cmd([IMAGE_SH, "buildah", "containers", "--notruncate",
                   "--format", "{{.ContainerID}} {{.ContainerName}}"],
                  check=False)
    out = {}
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) == 2:
            out[f[0]] = f[1]
    return out


def container_at(root):
    """The id of the buildah container mounted at root (a process's
    /proc/PID/root), or None. Ids are never reused; names may be."""
    p = h.run_cmd([IMAGE_SH, "buildah", "mount"], check=False)
    for line in p.stdout.splitlines():
        name, _, path = line.partition(" ")
        if path.strip() == root:
            ids = [i for i, n in containers().items() if n == name]
            return ids[0] if len(ids) == 1 else None
    return None


def log_time(text, msg):
    """Wall-clock time of the first log line with msg="<msg>"."""
    m = re.search(r'^time=(\S+) level=\w+ msg="%s"' % re.escape(msg), text,
                  re.M)
    if not m:
        return None
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def lease(ns):
    return json.loads(h.kubectl("get", "lease", "smi-bridge", "-n", ns,
                                "-o", "json").stdout)["spec"]


def bulk_services(ns, n):
    """n headless Services (no cluster IP to allocate) with a long
    annotation each: their list is larger than the API server's response
    compression threshold (128 KiB)."""
    items = [{"apiVersion": "v1", "kind": "Service",
              "metadata": {"name": "bulk-%03d" % i, "namespace": ns,
                           "annotations": {"example.com/note": "x" * 600}},
              "spec": {"clusterIP": "None", "selector": {"app": "bulk"},
                       "ports": [{"name": "http", "port": 80}]}}
             for i in range(n)]
    h.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": items}))


def list_encoding(api_url, path):
    """The Content-Encoding of a list asked for with gzip allowed, as the
    controller asks, read with the admin client certificate."""
    pki = os.path.join(h.TESTENV_DIR, "pki")
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
    ctx.load_cert_chain(os.path.join(pki, "admin.crt"),
                        os.path.join(pki, "admin.key"))
    req = urllib.request.Request(api_url + path,
                                 headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        r.read()
        return r.headers.get("Content-Encoding", "")


def main():
    helm = helm_bin()
    inst = h.instance()
    api_port = inst["SB_TESTENV_API_URL"].rsplit(":", 1)[1]
    ca = os.path.join(h.TESTENV_DIR, "pki", "ca.crt")
    release = h.unique_name("smi-bridge")
    rel_ns = release  # the release namespace: ServiceAccount, Lease
    pod_name = release + "-5d8c7b9f4-x2k7q"
    metrics_port, health_port = c.free_port(), c.free_port()

    tmp = tempfile.mkdtemp(prefix="sb-incluster-")
    sa = os.path.join(tmp, "serviceaccount")
    log_path = os.path.join(tmp, "container.log")
    ok = False
    pid = ctr_id = None
    with h.namespace("incluster") as ns:
        h.kubectl("create", "namespace", rel_ns)
        made_rbac = False
        proc = None
        log_f = None
        try:
            sets = ["mesh=istio", "namespaces={%s}" % ns,
                    "metrics.port=%d" % metrics_port,
                    "health.port=%d" % health_port, "verbosity=2"]
            argv = [helm, "template", release, CHART, "--namespace", rel_ns]
            for s in sets:
                argv += ["--set", s]
            rbac = h.run_cmd(argv + [
                "--show-only", "templates/serviceaccount.yaml",
                "--show-only", "templates/rbac.yaml"]).stdout
            h.kubectl("apply", "-f", "-", input=rbac)
            made_rbac = True
            dep = to_objects(h.run_cmd(argv + [
                "--show-only", "templates/deployment.yaml"]).stdout)[0]
            pod = dep["spec"]["template"]["spec"]
            ctr = pod["containers"][0]
            h.expect_eq(pod["serviceAccountName"], release,
                        "the Deployment's ServiceAccount")

            # Lists the API server sends gzip-compressed, which the image's
            # libcurl must decode (the control: the server really does).
            bulk_services(ns, 300)
            h.expect_eq(list_encoding(inst["SB_TESTENV_API_URL"],
                                      "/api/v1/namespaces/%s/services"
                                      "?limit=500" % ns), "gzip",
                        "Content-Encoding of the Services list (control)")

            # The pod's service-account volume.
            os.mkdir(sa)
            token = h.kubectl("create", "token", release, "-n", rel_ns,
                              "--duration=1h").stdout.strip()
            with open(os.path.join(sa, "token"), "w") as f:
                f.write(token)
            with open(ca) as src, open(os.path.join(sa, "ca.crt"), "w") as f:
                f.write(src.read())
            with open(os.path.join(sa, "namespace"), "w") as f:
                f.write(rel_ns)
            os.chmod(sa, 0o755)
            for n in ("token", "ca.crt", "namespace"):
                os.chmod(os.path.join(sa, n), 0o644)

            # The container as the kubelet would start it.
            env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1",
                   "KUBERNETES_SERVICE_PORT": api_port}
            fields = {"metadata.namespace": rel_ns,
                      "metadata.name": pod_name}
            for e in ctr.get("env", []):
                ref = e.get("valueFrom", {}).get("fieldRef", {})
                h.check(ref.get("fieldPath") in fields,
                        "unexpected env entry in the Deployment: %s" % e)
                env[e["name"]] = fields[ref["fieldPath"]]
            h.check("POD_NAME" in env and "POD_NAMESPACE" in env,
                    "the Deployment sets POD_NAME and POD_NAMESPACE")
            args = [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1),
                                                            m.group(0)), a)
                    for a in ctr["args"]]
            sc = ctr["securityContext"]
            h.check(sc.get("readOnlyRootFilesystem") is True,
                    "the Deployment asks for a read-only root")
            user = "%d:%d" % (sc["runAsUser"], sc["runAsGroup"])
            h.check("--mesh=istio" in args and "--leader-elect" in args and
                    "--leader-elect-namespace=%s" % rel_ns in args and
                    "--namespace=%s" % ns in args,
                    "the Deployment's command line: %s" % args)
            cmd = [IMAGE_SH, "run", "--read-only", "--user", user,
                   "-v", "%s:%s:ro" % (sa, SA_MOUNT)]
            for k, v in sorted(env.items()):
                cmd += ["-e", "%s=%s" % (k, v)]
            cmd += ["--"] + args
            h.log("container: %s" % " ".join(args))

            log_f = open(log_path, "w")
            t_launch = time.time()
            t0 = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=log_f,
                                    stderr=subprocess.STDOUT)

            def logs():
                with open(log_path, encoding="utf-8",
                          errors="replace") as f:
                    return f.read()

            def ready():
                if proc.poll() is not None:
                    h.fail("the container exited (%s) before it was ready:"
                           "\n%s" % (proc.returncode, logs()[-3000:]))
                return http_get(health_port, "/readyz")[0] == 200

            h.wait_for(ready, timeout=60, interval=0.05,
                       what="/readyz of the containerised controller")
            t_ready = time.monotonic() - t0
            text = logs()
            h.check("cannot list" not in text,
                    "the containerised controller could not list: %s"
                    % [ln for ln in text.splitlines()
                       if "cannot list" in ln][:3])
            t_start = log_time(text, "starting")
            h.log("launch to ready: %.2fs (container set-up to the first "
                  "log line %.2fs, process start to ready %.2fs)"
                  % (t_ready, (t_start or t_launch) - t_launch,
                     t_ready - ((t_start or t_launch) - t_launch)))

            # The process: image.sh's child, exec'd into the entrypoint.
            kids = [p for p in children(proc.pid) if comm(p) == "smi-bridge"]
            h.expect_eq(len(kids), 1, "smi-bridge processes under image.sh")
            pid = kids[0]
            ctr_id = container_at(os.readlink("/proc/%d/root" % pid))
            h.check(ctr_id, "the process's root is no buildah container")
            h.expect_eq(ids(pid, "Uid"), ["65532"] * 4, "the process's uids")
            h.expect_eq(ids(pid, "Gid"), ["65532"] * 4, "the process's gids")
            h.check("ro" in (mount_options(pid, "/") or []),
                    "the root is not mounted read-only: %s"
                    % mount_options(pid, "/"))
            h.check("ro" in (mount_options(pid, SA_MOUNT) or []),
                    "the service-account volume is not read-only")

            # Probes and metrics.
            st, _, body = http_get(health_port, "/healthz")
            h.expect_eq((st, body), (200, "ok\n"), "/healthz")
            st, _, body = http_get(health_port, "/readyz")
            h.expect_eq((st, body), (200, "ok\n"), "/readyz")
            st, ctype, metrics = http_get(metrics_port, "/metrics")
            h.expect_eq(st, 200, "/metrics status")
            h.check(ctype.startswith("text/plain"), "/metrics content type "
                    "%r" % ctype)
            for family in ("workqueue_depth", "rest_client_requests_total",
                           "smi_bridge_cached_objects"):
                h.check("# TYPE %s " % family in metrics,
                        "/metrics lacks %s" % family)

            # Leader under the pod's name.
            h.wait_for(lambda: lease(rel_ns).get("holderIdentity", "")
                       .startswith(pod_name + "_"), timeout=20,
                       what="the Lease held under the pod's name")
            h.wait_for(lambda: 'leader_election_master_status{name='
                       '"smi-bridge"} 1' in http_get(metrics_port,
                                                     "/metrics")[2],
                       timeout=10, what="the leader metric")

            # A TrafficSplit becomes a VirtualService.
            c.services(ns, ["web", "web-v1", "web-v2"])
            h.apply(SPLIT, ns)
            vs = c.wait_object(VS, "web-split", ns, lambda o: [
                r.get("weight") for r in o["spec"]["http"][0]["route"]] ==
                [80, 20], what="VirtualService web-split with 80/20")
            h.expect_eq(vs["metadata"]["labels"].get(
                "app.kubernetes.io/managed-by"), "smi-bridge",
                "managed-by label")
            metrics = http_get(metrics_port, "/metrics")[2]
            for series in ('controller_runtime_reconcile_total{controller='
                           '"smi-bridge",result="success"}',
                           'smi_bridge_objects_applied_total{kind='
                           '"VirtualService"}'):
                h.check(re.search(r"^%s [1-9]" % re.escape(series), metrics,
                                  re.M), "/metrics lacks %s > 0" % series)
            ev = c.wait_event(ns, "web", "Translated")
            h.expect_eq((ev["source"].get("component"),
                         ev["source"].get("host"),
                         ev.get("reportingInstance")),
                        ("smi-bridge", pod_name, pod_name),
                        "the Event's source")

            # SIGTERM to image.sh reaches the controller.
            t1 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            h.wait_for(lambda: not proc_alive(pid), timeout=STOP_BOUND + 5,
                       interval=0.05, what="smi-bridge to exit on SIGTERM")
            took = time.monotonic() - t1
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                h.fail("image.sh did not end after its process did")
            total = time.monotonic() - t1
            proc = None
            text = logs()
            h.log("SIGTERM to exit: %.2fs (image.sh with clean-up %.2fs)"
                  % (took, total))
            h.expect_eq(rc, 0, "exit status of image.sh run (the "
                        "controller's)")
            h.check(took <= STOP_BOUND, "stopping took %.2fs (bound %.1fs)"
                    % (took, STOP_BOUND))
            h.check('msg="signal received; stopping" signal=15' in text,
                    "the controller did not log the SIGTERM")
            h.check('msg="released the lease"' in text,
                    "no 'released the lease' line")
            h.check(re.search(r'msg="stopped" status=0$', text, re.M),
                    "no 'stopped status=0' line")
            h.expect_eq(lease(rel_ns).get("holderIdentity", ""), "",
                        "the Lease's holderIdentity after the stop")
            h.check(token not in text and token.split(".")[2] not in text,
                    "the token appears in the log")
            h.check('level=debug msg="http request"' in text,
                    "the log is not at debug level, so the token check "
                    "proves little")
            # Only this run's container: others may share the storage.
            h.check(ctr_id not in containers(),
                    "the container %s was left behind" % ctr_id[:12])
            ok = True
        finally:
            # A failed run stops what it started: image.sh first; if that
            # does not end the process, the process itself (by its pid),
            # then image.sh ends and removes its container. A container
            # still there is found by the process's root, never by a name
            # pattern.
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    if pid and proc_alive(pid) and comm(pid) == "smi-bridge":
                        os.kill(pid, signal.SIGKILL)
                    try:
                        proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            if pid and proc_alive(pid) and comm(pid) == "smi-bridge":
                os.kill(pid, signal.SIGKILL)
            if ctr_id and not ok and ctr_id in containers():
                h.run_cmd([IMAGE_SH, "buildah", "rm", ctr_id], check=False)
            if log_f:
                log_f.close()
            # The token goes at once; the log stays when something failed.
            shutil.rmtree(sa, ignore_errors=True)
            if ok:
                shutil.rmtree(tmp, ignore_errors=True)
            elif os.path.exists(log_path):
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    tail = f.read().splitlines()[-40:]
                print("---- container log (tail; all of it in %s) ----\n%s"
                      % (log_path, "\n".join(tail)))
            if made_rbac:
                for kind in ("clusterrolebinding", "clusterrole"):
                    h.kubectl("delete", kind, release, "--ignore-not-found",
                              check=False)
            h.kubectl("delete", "namespace", rel_ns, "--wait=false",
                      check=False)


h.run(main)
