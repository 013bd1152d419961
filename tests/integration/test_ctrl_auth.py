"""Ways to reach the API server, and the dry run.

- client certificate (the fixture's admin kubeconfig),
- a bearer token issued with TokenRequest (`kubectl create token`),
- an exec credential plugin (a script printing an ExecCredential),
- a wrong CA: a clear TLS message, never ready, no crash;
- --dry-run: prints the would-be objects, creates nothing.
"""

import base64
import json
import os
import stat
import subprocess
import tempfile
import time

import harness as h
import controller as c

VS = "virtualservices.networking.istio.io"

SPLIT = """
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: %(name)s
spec:
  service: %(name)s
  backends:
  - service: web-v1
    weight: 80
  - service: web-v2
    weight: 20
"""


def admin_config():
    return json.loads(h.kubectl("config", "view", "--raw", "-o",
                                "json").stdout)


def cluster_of(cfg):
    return cfg["clusters"][0]["cluster"]


def write_config(path, cluster, user):
    cfg = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c",
                                                  "user": "u"}}],
        "current-context": "ctx",
    }
    with open(path, "w") as f:
        json.dump(cfg, f)  # JSON is YAML
    return path


def reconciles(ns, kubeconfig, name, what):
    """A controller with this kubeconfig gets ready and writes."""
    h.apply(SPLIT % {"name": name}, ns)
    with c.Controller(ns, "--mesh", "istio", kubeconfig=kubeconfig,
                      name=what) as ctl:
        ctl.wait_ready()
        c.wait_object(VS, name + "-split", ns, what="%s written with %s"
                      % (name + "-split", what))


def main():
    tmp = tempfile.mkdtemp(prefix="sb-auth-")
    admin = admin_config()
    cluster = cluster_of(admin)
    with h.namespace("auth") as ns:
        c.services(ns, ["web", "web-v1", "web-v2"])

        # --dry-run: output on stdout, nothing in the cluster.
        h.apply(SPLIT % {"name": "dry"}, ns)
        with c.Controller(ns, "--mesh", "istio", "--dry-run",
                          name="dry-run") as ctl:
            ctl.wait_ready()
            h.wait_for(lambda: "name: dry-split" in ctl.output(),
                       what="the dry run printing dry-split")
            time.sleep(1)
            h.check(c.get_json(VS, "dry-split", ns) is None,
                    "--dry-run created a VirtualService")
            out = ctl.output()
        h.check("# smi-bridge dry-run: apply VirtualService %s/dry-split"
                % ns in out, "dry-run output lacks the apply header:\n"
                + out[:2000])
        h.expect_eq(c.events(ns, "dry"), [], "Events written in dry-run")
        h.kubectl("delete", "trafficsplit.split.smi-spec.io", "dry", "-n", ns)

        # Client certificate: the fixture's own kubeconfig.
        h.check(admin["users"][0]["user"].get("client-certificate-data"),
                "the fixture kubeconfig does not use a client certificate")
        reconciles(ns, os.environ["KUBECONFIG"], "cert", "client-cert")

        # Bearer token from the TokenRequest API for a ServiceAccount
        # allowed everything.
        c.service_account(ns, "bridge")
        h.kubectl("create", "clusterrolebinding", "sb-auth-" + ns,
                  "--clusterrole=cluster-admin",
                  "--serviceaccount=%s:bridge" % ns)
        try:
            token = h.kubectl("create", "token", "bridge", "-n", ns,
                              "--duration=1h").stdout.strip()
            kc = write_config(os.path.join(tmp, "token.kubeconfig"), cluster,
                              {"token": token})
            reconciles(ns, kc, "token", "token")

            # Exec plugin printing an ExecCredential with that token.
            plugin = os.path.join(tmp, "plugin.sh")
            with open(plugin, "w") as f:
                f.write("#!/bin/sh\n"
                        "echo run >> %s/plugin.runs\n"
                        "cat <<'EOF'\n%s\nEOF\n"
                        % (tmp, json.dumps({
                            "apiVersion": "client.authentication.k8s.io/v1",
                            "kind": "ExecCredential",
                            "status": {"token": token}})))
            os.chmod(plugin, stat.S_IRWXU)
            kc = write_config(os.path.join(tmp, "exec.kubeconfig"), cluster,
                              {"exec": {
                                  "apiVersion":
                                      "client.authentication.k8s.io/v1",
                                  "command": plugin,
                                  "interactiveMode": "Never"}})
            reconciles(ns, kc, "exec", "exec-plugin")
            h.check(os.path.exists(os.path.join(tmp, "plugin.runs")),
                    "the exec plugin never ran")
        finally:
            h.kubectl("delete", "clusterrolebinding", "sb-auth-" + ns,
                      check=False)

        # A CA that did not sign the server's certificate.
        key = os.path.join(tmp, "ca.key")
        crt = os.path.join(tmp, "ca.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", crt, "-days", "1",
                        "-subj", "/CN=not-the-cluster-ca"], check=True,
                       capture_output=True)
        wrong = dict(cluster)
        with open(crt, "rb") as f:
            wrong["certificate-authority-data"] = \
                base64.b64encode(f.read()).decode()
        kc = write_config(os.path.join(tmp, "wrongca.kubeconfig"), wrong,
                          admin["users"][0]["user"])
        with c.Controller(ns, "--mesh", "istio", kubeconfig=kc,
                          name="wrong-ca") as ctl:
            h.wait_for(lambda: "certificate" in ctl.logs() and
                       "SB_ETLS" in ctl.logs(), timeout=20,
                       what="a clear TLS error in the log")
            h.check(ctl.alive(), "the controller died on a TLS error")
            h.check(not ctl.ready(), "ready although it cannot talk to "
                    "the API server")


h.run(main)
