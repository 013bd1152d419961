#!/usr/bin/env python3
"""test-rbac-live.py -- the controller with exactly the chart's RBAC.

The chart's ServiceAccount, ClusterRole, ClusterRoleBinding and leases
Role are installed into a fresh namespace (default values: mesh auto,
native routes, leader election), and `smi-bridge run` (the binary of this
build, through tests/integration/controller.py) talks to the API server
with a kubeconfig holding only a token of that ServiceAccount and the
cluster CA.

1. Full scenarios succeed with those permissions alone: with --mesh istio
   a TrafficSplit is created, updated and deleted (VirtualService written,
   changed, pruned) and a TrafficTarget becomes an AuthorizationPolicy and
   is pruned; with --mesh linkerd the same TrafficSplit becomes a policy
   HTTPRoute and the TrafficTarget a Server, MeshTLSAuthentication,
   AuthorizationPolicy and per-route HTTPRoute, all pruned again. Leader
   election takes, renews and releases the Lease; Events are created and a
   repeat is patched. No request is refused. A controller with
   --watch-list (each kind's initial state read as a streamed watch)
   reaches readiness for each mesh with the same roles and makes no list
   request.
2. Least privilege: every request the controller made (its own debug log
   of each HTTP request, mapped to the RBAC verb the API server checks;
   a server-side apply that answered 201 Created counts as create and
   patch) is compared with what the roles grant. Both ways: nothing used
   is missing, and nothing granted goes unused.
3. One permission removed at a time (the ClusterRole edited in place):
   - create on virtualservices: a new split gets an ApplyFailed Warning
     Event and a log line, both naming the resource and `forbidden`; an
     existing VirtualService is still updated and a TrafficTarget still
     becomes an AuthorizationPolicy; once restored the split is written;
   - delete on virtualservices: pruning logs the forbidden delete, the
     object stays, other splits are still served; restored, it is pruned;
   - watch on pods (new controller): it lists, gets ready and reconciles,
     logs the forbidden watch naming pods, and recovers when restored;
   - list on pods (new controller): it logs the forbidden list; after the
     grace period it says it continues without pods and keeps serving the
     rest (a TrafficSplit is written; a TrafficTarget, which needs the
     pods, gets a MissingDependency Event and writes nothing); restored,
     the pods sync and the TrafficTarget is written.

Environment: as the integration tests (tests/integration/harness.py), plus
HELM (else tests/helm/build-helm.sh --check finds it).
"""

import base64
import json
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import harness as h  # noqa: E402
import controller as c  # noqa: E402
import ctrl_access  # noqa: E402

CHART = os.path.join(REPO, "deploy", "helm", "smi-bridge")
VS = "virtualservices.networking.istio.io"
IAP = "authorizationpolicies.security.istio.io"
LHR = "httproutes.policy.linkerd.io"
LSRV = "servers.policy.linkerd.io"
LAP = "authorizationpolicies.policy.linkerd.io"
LMTLS = "meshtlsauthentications.policy.linkerd.io"
ELECT = ["--leader-elect", "--leader-elect-lease-duration", "4s",
         "--leader-elect-renew-deadline", "3s",
         "--leader-elect-retry-period", "500ms"]

SPLIT = """
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: %(name)s
spec:
  service: %(name)s
  backends:
  - service: %(name)s-v1
    weight: %(w)d
  - service: %(name)s-v2
    weight: 10
"""

# The access scenario's route groups and TrafficTarget (with its HTTP rule).
GROUPS = ctrl_access.GROUPS
TARGET = ctrl_access.TARGET % ctrl_access.HTTP_RULE


def helm_bin():
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    p = h.run_cmd([os.path.join(HERE, "build-helm.sh"), "--check"],
                  check=False)
    h.check(p.returncode == 0, "no helm: %s" % p.stderr.strip())
    return p.stdout.strip()


# ---- what the controller asked for ------------------------------------------

REQ = re.compile(r'msg="http request" method=(\S+) '
                 r'path=("(?:[^"\\]|\\.)*"|\S+) status=(\d+)')


def rbac_of(method, path, status):
    """The (group, resource, verb)s the API server authorises a request
    as, or [] for discovery (non-resource URLs every authenticated user
    may read)."""
    base, _, query = path.partition("?")
    seg = [s for s in base.split("/") if s]
    if seg[:2] == ["api", "v1"]:
        group, rest = "", seg[2:]
    elif seg[:1] == ["apis"] and len(seg) >= 3:
        group, rest = seg[1], seg[3:]
    else:
        rest = []
    if not rest:
        h.check(method == "GET", "a %s to a discovery path %s" % (method,
                                                                   path))
        return []
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    resource, name = rest[0], rest[1] if len(rest) > 1 else None
    h.check(len(rest) <= 2, "a subresource request: %s %s" % (method, path))
    if method == "GET":
        verb = "get" if name else \
            "watch" if re.search(r"(^|&)watch=(true|1)", query) else "list"
    elif method == "POST":
        verb = "create"
    elif method == "PUT":
        verb = "update"
    elif method == "PATCH":
        # A server-side apply that creates the object is authorised as
        # create as well.
        return [(group, resource, "patch")] + \
            ([(group, resource, "create")] if status == 201 else [])
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        h.fail("unexpected method %s %s" % (method, path))
    return [(group, resource, verb)]


def requests_of(log):
    """[(method, path, status)] from the controller's debug log."""
    out = []
    for m in REQ.finditer(log):
        path = m.group(2)
        if path.startswith('"'):
            path = json.loads(path)
        out.append((m.group(1), path, int(m.group(3))))
    return out


def used_by(log):
    used = set()
    for method, path, status in requests_of(log):
        used.update(rbac_of(method, path, status))
    return used


def refused(log):
    return [(m, p) for m, p, s in requests_of(log) if s in (401, 403)]


def granted(role_objs):
    out = set()
    for role in role_objs:
        for r in role.get("rules", []):
            for g in r.get("apiGroups", []):
                for res in r.get("resources", []):
                    for v in r.get("verbs", []):
                        out.add((g, res, v))
    return out


def fmt(triples):
    return ", ".join("%s %s%s" % (v, r, "." + g if g else "")
                     for g, r, v in sorted(triples))


# ---- the roles ----------------------------------------------------------------

class Roles:
    """The installed ClusterRole, editable one verb at a time."""

    def __init__(self, name, ns):
        self.name = name
        self.ns = ns
        self.user = "system:serviceaccount:%s:%s" % (ns, name)
        self.original = self.get()
        self.changed = False

    def get(self):
        return json.loads(h.kubectl("get", "clusterrole", self.name, "-o",
                                    "json").stdout)

    def _replace(self, rules, verb, resource, group, allowed):
        role = self.get()
        role["rules"] = rules
        h.kubectl("replace", "-f", "-", input=json.dumps(role))
        # The authorizer follows the role through a watch: wait until it
        # answers as the role now says.
        res = resource + ("." + group if group else "")
        want = "yes" if allowed else "no"
        h.wait_for(lambda: h.kubectl(
            "auth", "can-i", verb, res, "-n", self.ns, "--as", self.user,
            check=False).stdout.strip() == want, timeout=20,
            what="can-i %s %s to say %s" % (verb, res, want))

    def remove(self, group, resource, verb):
        """Takes one verb on one resource out of the original rules."""
        rules = []
        found = False
        for r in self.original["rules"]:
            if group in r.get("apiGroups", []) and \
                    resource in r.get("resources", []) and \
                    verb in r.get("verbs", []):
                found = True
                others = [x for x in r["resources"] if x != resource]
                if others:
                    rules.append(dict(r, resources=others))
                rules.append(dict(r, resources=[resource],
                                  verbs=[v for v in r["verbs"]
                                         if v != verb]))
            else:
                rules.append(r)
        h.check(found, "the chart grants no %s on %s" % (verb, resource))
        self._replace(rules, verb, resource, group, False)
        self.changed = True
        h.log("removed: %s %s" % (verb, resource))

    def restore(self, group, resource, verb):
        if not self.changed:
            return
        self._replace(self.original["rules"], verb, resource, group, True)
        self.changed = False
        h.log("restored: %s %s" % (verb, resource))


# ---- scenarios ----------------------------------------------------------------

STARTED = []


def controller(ns, *args, **kw):
    """A Controller whose work directory (its log) is removed when the
    test passes and kept when it fails."""
    ctl = c.Controller(ns, *args, **kw)
    STARTED.append(ctl)
    return ctl

def weights_are(w):
    return lambda o: [r.get("weight") for r in
                      o["spec"]["http"][0]["route"]] == [w, 10]


def translated_count(ns, name):
    return max([e.get("count", 1) for e in c.events(ns, name, "Translated")]
               or [0])


def istio_full(ns, kc):
    with controller(ns, "--mesh", "istio", *ELECT, kubeconfig=kc,
                      name="istio") as ctl:
        ctl.wait_ready()
        h.apply(SPLIT % {"name": "web", "w": 90}, ns)
        c.wait_object(VS, "web-split", ns, weights_are(90))
        c.wait_event(ns, "web", "Translated")
        h.apply(SPLIT % {"name": "web", "w": 50}, ns)
        c.wait_object(VS, "web-split", ns, weights_are(50))
        # The same message again: the Event's count is patched.
        h.wait_for(lambda: translated_count(ns, "web") >= 2, timeout=20,
                   what="the Translated Event's count to reach 2")
        h.apply(TARGET, ns)
        ap = c.wait_object(IAP, "web-to-api-access", ns)
        h.expect_eq(ap["spec"]["selector"]["matchLabels"], {"app": "api"},
                    "AuthorizationPolicy selector")
        h.kubectl("delete", "trafficsplit.split.smi-spec.io", "web", "-n", ns)
        h.kubectl("delete", "traffictarget.access.smi-spec.io", "web-to-api",
                  "-n", ns)
        c.wait_gone(VS, "web-split", ns)
        c.wait_gone(IAP, "web-to-api-access", ns)
        h.check(ctl.metric('leader_election_master_status'
                           '{name="smi-bridge"}') == 1.0,
                "the controller did not lead")
    return ctl.logs()


def streamed(ns, kc):
    """Controllers that read each kind's initial state as a streamed
    watch: ready with the same roles."""
    logs = ""
    for mesh in ("istio", "linkerd"):
        with controller(ns, "--mesh", mesh, "--watch-list", *ELECT,
                        kubeconfig=kc, name="streamed-" + mesh) as ctl:
            ctl.wait_ready()
            logs += ctl.logs()
    return logs


def linkerd_full(ns, kc):
    with controller(ns, "--mesh", "linkerd", *ELECT, kubeconfig=kc,
                      name="linkerd") as ctl:
        ctl.wait_ready()
        h.apply(SPLIT % {"name": "web", "w": 90}, ns)
        c.wait_object(LHR, "web-split-8080", ns)
        h.apply(TARGET, ns)
        c.wait_object(LSRV, "api-sa-8080", ns)
        c.wait_object(LMTLS, "web-to-api-access", ns)
        c.wait_object(LAP, "web-to-api-access-8080", ns)
        c.wait_object(LHR, "web-to-api-access-8080", ns)
        h.kubectl("delete", "traffictarget.access.smi-spec.io", "web-to-api",
                  "-n", ns)
        h.kubectl("delete", "trafficsplit.split.smi-spec.io", "web", "-n", ns)
        for res, name in ((LSRV, "api-sa-8080"),
                          (LMTLS, "web-to-api-access"),
                          (LAP, "web-to-api-access-8080"),
                          (LHR, "web-to-api-access-8080"),
                          (LHR, "web-split-8080")):
            c.wait_gone(res, name, ns)
    return ctl.logs()


def forbidden_line(log, what, resource, verb):
    """A log line `what` (e.g. "write failed") saying the API server
    refused verb on resource."""
    for line in log.splitlines():
        if 'msg="%s"' % what in line and "SB_EFORBIDDEN" in line and \
                'cannot %s resource \\"%s\\"' % (verb, resource) in line:
            return line
    return None


def without_write_verbs(ns, kc, roles):
    with controller(ns, "--mesh", "istio", *ELECT, kubeconfig=kc,
                      name="istio-minus-one") as ctl:
        ctl.wait_ready()
        h.apply(SPLIT % {"name": "web", "w": 90}, ns)
        c.wait_object(VS, "web-split", ns, weights_are(90))

        # create: the new split's VirtualService is refused.
        roles.remove("networking.istio.io", "virtualservices", "create")
        h.apply(SPLIT % {"name": "api", "w": 90}, ns)
        ev = c.wait_event(ns, "api", "ApplyFailed")
        h.expect_eq(ev["type"], "Warning", "ApplyFailed Event type")
        h.check("forbidden" in ev["message"] and
                'cannot create resource "virtualservices"' in ev["message"],
                "the ApplyFailed Event does not say what was forbidden: %s"
                % ev["message"])
        h.log("Event: %s" % ev["message"])
        line = h.wait_for(lambda: forbidden_line(
            ctl.logs(), "write failed", "virtualservices", "create"),
            what="a 'write failed' line for create virtualservices")
        h.log("log: %s" % line[line.find("level="):])
        # ... and the rest is served: an existing object is changed (a
        # patch), another kind is created.
        h.apply(SPLIT % {"name": "web", "w": 70}, ns)
        c.wait_object(VS, "web-split", ns, weights_are(70),
                      what="web-split updated without create")
        h.apply(TARGET, ns)
        c.wait_object(IAP, "web-to-api-access", ns)
        h.check(c.get_json(VS, "api-split", ns) is None,
                "api-split exists although create was not granted")
        h.check(ctl.metric('smi_bridge_apply_failures_total'
                           '{kind="VirtualService"}') >= 1,
                "the refused write is not counted in the metrics")
        roles.restore("networking.istio.io", "virtualservices", "create")
        c.wait_object(VS, "api-split", ns, weights_are(90), timeout=45,
                      what="api-split written once create is back")

        # delete: pruning is refused; the object stays, the rest is served.
        roles.remove("networking.istio.io", "virtualservices", "delete")
        h.kubectl("delete", "trafficsplit.split.smi-spec.io", "api", "-n", ns)
        line = h.wait_for(lambda: forbidden_line(
            ctl.logs(), "write failed", "virtualservices", "delete"),
            what="a 'write failed' line for delete virtualservices")
        h.log("log: %s" % line[line.find("level="):])
        h.check(c.get_json(VS, "api-split", ns) is not None,
                "api-split was deleted although delete was not granted")
        h.apply(SPLIT % {"name": "web", "w": 60}, ns)
        c.wait_object(VS, "web-split", ns, weights_are(60),
                      what="web-split updated without delete")
        roles.restore("networking.istio.io", "virtualservices", "delete")
        c.wait_gone(VS, "api-split", ns, timeout=45)
        h.check(ctl.alive(), "the controller died")
        cleanup(ns, ["web"], True)


def cleanup(ns, splits, target=False):
    """Deletes the SMI objects while the controller runs and waits for
    their outputs to be pruned (nothing else would prune them)."""
    for name in splits:
        h.kubectl("delete", "trafficsplit.split.smi-spec.io", name, "-n", ns)
    if target:
        h.kubectl("delete", "traffictarget.access.smi-spec.io", "web-to-api",
                  "-n", ns)
    for name in splits:
        c.wait_gone(VS, name + "-split", ns)
    if target:
        c.wait_gone(IAP, "web-to-api-access", ns)


def without_pod_watch(ns, kc, roles):
    roles.remove("", "pods", "watch")
    try:
        with controller(ns, "--mesh", "istio", *ELECT, kubeconfig=kc,
                          name="no-pod-watch") as ctl:
            ctl.wait_ready()
            line = h.wait_for(lambda: forbidden_line(
                ctl.logs(), "cannot watch", "pods", "watch") or
                forbidden_line(ctl.logs(), "watch failed", "pods", "watch"),
                what="a reflector line for the forbidden watch on pods")
            h.log("log: %s" % line[line.find("level="):])
            h.apply(SPLIT % {"name": "web", "w": 90}, ns)
            c.wait_object(VS, "web-split", ns, weights_are(90),
                          what="web-split written without a pod watch")
            roles.restore("", "pods", "watch")
            # The reflector says it recovered with the first event its
            # watch delivers: change a pod until it does.
            n = [0]

            def recovered():
                n[0] += 1
                h.kubectl("label", "pod", "api-1", "-n", ns, "--overwrite",
                          "touch=%d" % n[0])
                return re.search(r'msg="recovered" resource=pods ',
                                 ctl.logs())
            h.wait_for(recovered, timeout=60, interval=1,
                       what="the pods reflector to recover")
            cleanup(ns, ["web"])
    finally:
        roles.restore("", "pods", "watch")


def without_pod_list(ns, kc, roles):
    roles.remove("", "pods", "list")
    try:
        with controller(ns, "--mesh", "istio", *ELECT, kubeconfig=kc,
                        name="no-pod-list") as ctl:
            line = h.wait_for(lambda: forbidden_line(
                ctl.logs(), "cannot list", "pods", "list"), timeout=30,
                what="a reflector line for the forbidden list of pods")
            h.log("log: %s" % line[line.find("level="):])
            h.apply(SPLIT % {"name": "web", "w": 90}, ns)
            h.apply(TARGET, ns)
            # The rest is served: splits need no pods.
            h.wait_for(lambda: "continuing without a resource" in
                       ctl.logs(), timeout=30,
                       what="the controller continuing without pods")
            ctl.wait_ready(timeout=30)
            c.wait_object(VS, "web-split", ns, weights_are(90),
                          what="web-split written without the pods")
            # What needs the pods says so and changes nothing.
            c.wait_event(ns, "web-to-api", "MissingDependency",
                         contains="Pods")
            h.check(c.get_json(IAP, "web-to-api-access", ns) is None,
                    "an AuthorizationPolicy was written without the pods")
            h.check(ctl.alive(), "the controller died")
            roles.restore("", "pods", "list")
            c.wait_object(IAP, "web-to-api-access", ns, timeout=90,
                          what="the AuthorizationPolicy once list is back")
            cleanup(ns, ["web"], True)
    finally:
        roles.restore("", "pods", "list")


def main():
    helm = helm_bin()
    release = h.unique_name("smi-bridge")
    tmp = tempfile.mkdtemp(prefix="sb-rbac-live-")
    with h.namespace("rbac-live") as ns:
        installed = False
        try:
            docs = h.run_cmd([helm, "template", release, CHART,
                              "--namespace", ns, "--show-only",
                              "templates/serviceaccount.yaml",
                              "--show-only", "templates/rbac.yaml"]).stdout
            h.kubectl("apply", "-f", "-", input=docs)
            installed = True
            roles = Roles(release, ns)
            lease_role = json.loads(h.kubectl(
                "get", "role", release + "-leader-election", "-n", ns, "-o",
                "json").stdout)
            grant = granted([roles.original, lease_role])

            # A kubeconfig with the ServiceAccount's token and the CA only.
            token = h.kubectl("create", "token", release, "-n", ns,
                              "--duration=1h").stdout.strip()
            admin = json.loads(h.kubectl("config", "view", "--raw",
                                         "--minify", "-o", "json").stdout)
            cl = admin["clusters"][0]["cluster"]
            ca = cl.get("certificate-authority-data")
            if not ca:
                with open(cl["certificate-authority"], "rb") as f:
                    ca = base64.b64encode(f.read()).decode()
            kc = os.path.join(tmp, "kubeconfig")
            with open(kc, "w") as f:
                json.dump({
                    "apiVersion": "v1", "kind": "Config",
                    "clusters": [{"name": "c", "cluster": {
                        "server": cl["server"],
                        "certificate-authority-data": ca}}],
                    "users": [{"name": release, "user": {"token": token}}],
                    "contexts": [{"name": "sa", "context": {
                        "cluster": "c", "user": release, "namespace": ns}}],
                    "current-context": "sa"}, f)
            os.chmod(kc, 0o600)

            # The workload: Services, pods of ServiceAccount api, the
            # source ServiceAccount, route groups.
            c.services(ns, ["web", "web-v1", "web-v2", "api", "api-v1",
                            "api-v2"])
            c.service_account(ns, "web")
            c.pods(ns, [("api-1", "api", {"app": "api"}),
                        ("api-2", "api", {"app": "api"})])
            h.apply(GROUPS, ns)

            stream_logs = streamed(ns, kc)
            h.expect_eq(fmt(t for t in used_by(stream_logs)
                            if t[2] == "list"),
                        "", "lists made by controllers that stream them")
            # (A stream's request line is logged when it ends, which it
            # may not before the process exits; the reflector's state
            # line for the end of its initial events is logged at once.)
            h.check(re.search(r'why="initial events end"', stream_logs),
                    "no streamed list in the --watch-list controllers' log")
            logs = istio_full(ns, kc) + linkerd_full(ns, kc) + stream_logs
            h.expect_eq(refused(logs), [], "requests refused with the "
                        "chart's roles")
            used = used_by(logs)
            h.log("used (%d): %s" % (len(used), fmt(used)))
            h.expect_eq(fmt(used - grant), "", "used but not granted")
            h.expect_eq(fmt(grant - used), "", "granted but never used")
            h.check(token not in logs, "the token appears in the log")

            without_write_verbs(ns, kc, roles)
            without_pod_watch(ns, kc, roles)
            without_pod_list(ns, kc, roles)
            for ctl in STARTED:
                shutil.rmtree(ctl.dir, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if installed:
                for kind in ("clusterrolebinding", "clusterrole"):
                    h.kubectl("delete", kind, release, "--ignore-not-found",
                              check=False)


h.run(main)
