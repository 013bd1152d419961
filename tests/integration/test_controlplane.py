#!/usr/bin/env python3
"""The test control plane offers what smi-bridge's tests rely on:

  - kubectl and kube-apiserver are the same, properly versioned build;
  - authentication and RBAC are real: a ServiceAccount token made through
    the TokenRequest API (`kubectl create token`) authenticates as that
    account, which may do nothing until a RoleBinding allows it;
  - `testenv compact` compacts etcd, so a read at an older revision fails
    the way a watch from a compacted resourceVersion does.
"""

import base64
import json
import os
import tempfile

import harness as h


def token_kubeconfig(path, token):
    """A kubeconfig for the fixture's API server that uses only token."""
    admin = json.loads(h.kubectl("config", "view", "--raw", "--minify",
                                 "-o", "json").stdout)
    cluster = admin["clusters"][0]["cluster"]
    cfg = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cfg, f)


def check_versions():
    v = json.loads(h.kubectl("version", "-o", "json").stdout)
    client = v["clientVersion"]["gitVersion"]
    server = v["serverVersion"]["gitVersion"]
    h.check(client.startswith("v1.") and "master" not in client,
            "kubectl reports version %s" % client)
    h.expect_eq(server, client, "kube-apiserver version (same as kubectl)")
    h.log("kubectl and kube-apiserver " + server)


def check_token_and_rbac(ns):
    h.kubectl("create", "serviceaccount", "reader", "-n", ns)
    token = h.kubectl("create", "token", "reader", "-n", ns,
                      "--duration", "10m").stdout.strip()
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    h.expect_eq(claims.get("sub"), "system:serviceaccount:%s:reader" % ns,
                "token subject")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "kubeconfig")
        token_kubeconfig(cfg, token)
        as_reader = ["--kubeconfig", cfg, "-n", ns]
        who = json.loads(h.kubectl("auth", "whoami", "-o", "json",
                                   *as_reader).stdout)
        h.expect_eq(who["status"]["userInfo"]["username"],
                    "system:serviceaccount:%s:reader" % ns, "whoami")
        denied = h.kubectl("get", "trafficsplits", *as_reader, check=False)
        h.check(denied.returncode != 0 and "forbidden" in denied.stderr,
                "a ServiceAccount without a RoleBinding could list "
                "trafficsplits: %s" % (denied.stderr or denied.stdout))
        h.kubectl("create", "role", "smi-reader", "-n", ns, "--verb",
                  "get,list,watch", "--resource",
                  "trafficsplits.split.smi-spec.io")
        h.kubectl("create", "rolebinding", "smi-reader", "-n", ns, "--role",
                  "smi-reader", "--serviceaccount", ns + ":reader")
        h.wait_for(lambda: h.kubectl("get", "trafficsplits", *as_reader,
                                     check=False).returncode == 0,
                   timeout=10, what="the RoleBinding to take effect")
    h.log("TokenRequest token authenticates; RBAC denies, then allows")


def etcd_post(url, path, body):
    p = h.run_cmd(["curl", "-sS", "-X", "POST", url + path, "-d",
                   json.dumps(body)])
    return json.loads(p.stdout)


def check_compaction(ns):
    etcd = h.instance()["SB_TESTENV_ETCD_URL"]
    h.kubectl("create", "configmap", "before", "-n", ns)
    p = h.testenv("compact", "--dir", h.TESTENV_DIR)
    h.expect_eq(p.returncode, 0, "testenv compact exit status (%s)"
                % p.stderr.strip())
    rev = int(p.stdout.rsplit(" ", 1)[1])
    # Revision 1 is long gone now: etcd says so, as it would to a watch.
    old = etcd_post(etcd, "/v3/kv/range",
                    {"key": base64.b64encode(b"/registry").decode(),
                     "revision": str(rev - 1)})
    h.check("compacted" in json.dumps(old),
            "a read below the compacted revision %d succeeded: %s"
            % (rev, json.dumps(old)[:200]))
    # ... while the API server keeps working.
    h.kubectl("create", "configmap", "after", "-n", ns)
    h.log("etcd compacted at revision %d; older reads fail" % rev)


def main():
    check_versions()
    with h.namespace() as ns:
        check_token_and_rbac(ns)
        check_compaction(ns)


h.run(main)
