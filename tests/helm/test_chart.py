#!/usr/bin/env python3
"""test_chart.py -- tests of the Helm chart deploy/helm/smi-bridge.

  test_chart.py lint       helm lint --strict, default and scenario values
  test_chart.py schema     values that break values.schema.json are
                           rejected, naming the field
  test_chart.py dry-run    every scenario rendered and sent to the real API
                           server with `kubectl apply --dry-run=server`;
                           the objects it returns are checked field by
                           field; the plain manifests likewise
  test_chart.py rbac       the chart's RBAC installed for real, checked
                           with the API server's authorizer for the
                           ServiceAccount: what it may and may not do, and
                           that a server-side apply which creates an object
                           needs `create` besides `patch`

Scenarios are the chart's defaults plus each tests/helm/values/*.yaml; the
expected command lines and rules are written out below, independently of
the templates. Standard library only. Environment: HELM (else
tests/helm/build-helm.sh --check finds it), KUBECONFIG for dry-run and rbac
(a control plane started by tests/testenv), KUBECTL (default kubectl).
Prints one line per check and "N passed, N failed" at the end; exit 1 when
anything failed.
"""

import json
import os
import random
import re
import string
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CHART = os.path.join(REPO, "deploy", "helm", "smi-bridge")
MANIFESTS = os.path.join(REPO, "deploy", "manifests", "smi-bridge.yaml")
KUBECTL = os.environ.get("KUBECTL", "kubectl")

passed = 0
failed = 0


class Abort(Exception):
    """A step the remaining checks depend on failed."""


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   %s" % what, flush=True)
    else:
        failed += 1
        print("FAIL %s%s" % (what, (": " + detail) if detail else ""),
              flush=True)
    return cond


def expect_eq(actual, expected, what):
    return check(actual == expected, what, "expected %s, got %s" % (
        json.dumps(expected), json.dumps(actual)))


def run(argv, input=None, timeout=120):
    try:
        return subprocess.run(argv, input=input, capture_output=True,
                              text=True, timeout=timeout)
    except FileNotFoundError:
        raise Abort("%s: command not found" % argv[0])
    except subprocess.TimeoutExpired:
        raise Abort("%s: no answer within %ss" % (" ".join(argv[:3]),
                                                  timeout))


def must(argv, input=None, what=None):
    p = run(argv, input)
    if p.returncode != 0:
        raise Abort("%s failed (exit %d): %s" % (
            what or " ".join(argv[:4]), p.returncode,
            (p.stderr or p.stdout).strip()[-800:]))
    return p.stdout


def helm_bin():
    h = os.environ.get("HELM")
    if h:
        return h
    p = run([os.path.join(HERE, "build-helm.sh"), "--check"])
    if p.returncode != 0:
        raise Abort(p.stderr.strip())
    return p.stdout.strip()


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        m = re.search(r"project\(smi-bridge VERSION ([0-9.]+)", f.read())
    if not m:
        raise Abort("no project version in CMakeLists.txt")
    return m.group(1)


def suffix():
    return "".join(random.choice(string.ascii_lowercase + string.digits)
                   for _ in range(6))


# --- scenarios -------------------------------------------------------------

# What the controller reads and writes in each mode (src/translate's
# output kinds): the mesh's route kind only with native routes; the
# ServiceProfile only in Linkerd's native mode with the flag.
WRITE = ["list", "watch", "create", "patch", "delete"]
BASE_RULES = [
    (["split.smi-spec.io"], ["trafficsplits"], ["list", "watch"]),
    (["specs.smi-spec.io"], ["httproutegroups", "tcproutes", "udproutes"],
     ["list", "watch"]),
    (["access.smi-spec.io"], ["traffictargets"], ["list", "watch"]),
    ([""], ["services", "pods"], ["list", "watch"]),
    ([""], ["events"], ["create", "patch"]),
]
ISTIO_RULES = [
    (["networking.istio.io"], ["virtualservices"], WRITE),
    (["security.istio.io"], ["authorizationpolicies"], WRITE),
]
ISTIO_GATEWAY_RULES = [
    (["security.istio.io"], ["authorizationpolicies"], WRITE),
]
LINKERD_RULES = [
    (["policy.linkerd.io"], ["httproutes", "servers", "authorizationpolicies",
                             "meshtlsauthentications"], WRITE),
]
LINKERD_GATEWAY_RULES = [
    (["policy.linkerd.io"], ["servers", "authorizationpolicies",
                             "meshtlsauthentications"], WRITE),
]
PROFILE_RULES = [(["linkerd.io"], ["serviceprofiles"], WRITE)]
GATEWAY_RULES = [(["gateway.networking.k8s.io"], ["httproutes"], WRITE)]


def leader_args():
    return ["--leader-elect", "--leader-elect-namespace=$(POD_NAMESPACE)",
            "--leader-elect-lease-duration=15s",
            "--leader-elect-renew-deadline=10s",
            "--leader-elect-retry-period=2s"]


def scenarios(version, namespaces=("team-a", "team-b")):
    """Each scenario: values file (or None), --set overrides and what the
    rendered objects must be."""
    ns_a, ns_b = namespaces
    return [
        {
            "name": "default",
            "values": None,
            "set": [],
            "fullname": "REL",
            "sa": "REL",
            "image": "localhost/smi-bridge:%s" % version,
            "pull": "IfNotPresent",
            "replicas": 2,
            "args": ["run", "--mesh=auto", "--routes=native"] +
            leader_args() + [
                "--metrics-addr=:8080", "--health-addr=:8081",
                "--cluster-domain=cluster.local",
                "--trust-domain=cluster.local", "--istio-api=v1",
                "--kube-api-qps=20", "--kube-api-burst=30",
                "--log-format=text", "-v=0"],
            "rules": BASE_RULES + ISTIO_RULES + LINKERD_RULES,
            "binding_namespaces": None,
            "lease_role": True,
            "ports": (8080, 8081),
            "service_port": 8080,
            "service_monitor": False,
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                          "limits": {"cpu": "500m", "memory": "256Mi"}},
        },
        {
            "name": "linkerd-gateway",
            "values": os.path.join(HERE, "values", "linkerd-gateway.yaml"),
            "set": [],
            "fullname": "REL",
            "sa": "REL",
            "image": "localhost/smi-bridge:%s" % version,
            "pull": "IfNotPresent",
            "replicas": 2,
            "args": ["run", "--mesh=linkerd", "--routes=gateway-api"] +
            leader_args() + [
                "--metrics-addr=:9090", "--health-addr=:9091",
                "--cluster-domain=cluster.local",
                "--trust-domain=cluster.local", "--istio-api=v1",
                "--linkerd-service-profile",
                "--kube-api-qps=50", "--kube-api-burst=100",
                "--log-format=json", "-v=3", "--some-future-flag=1"],
            # Gateway API routes: no policy.linkerd.io HTTPRoutes, and the
            # ServiceProfile flag has no effect.
            "rules": BASE_RULES + LINKERD_GATEWAY_RULES + GATEWAY_RULES,
            "binding_namespaces": None,
            "lease_role": True,
            "ports": (9090, 9091),
            "service_port": 9090,
            "service_monitor": True,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                          "limits": {"memory": "512Mi"}},
        },
        {
            "name": "istio-single",
            "values": os.path.join(HERE, "values", "istio-single.yaml"),
            "set": ["namespaces={%s,%s}" % (ns_a, ns_b)],
            "fullname": "bridge",
            "sa": "bridge-controller",
            "image": "registry.example/smi-bridge:0.1.0-test",
            "pull": "Always",
            "replicas": 1,
            "args": ["run", "--mesh=istio", "--routes=native",
                     "--namespace=%s" % ns_a, "--namespace=%s" % ns_b,
                     "--dry-run",
                     "--metrics-addr=:8080", "--health-addr=:8081",
                     "--cluster-domain=corp.example",
                     "--trust-domain=td.example", "--istio-api=v1beta1",
                     "--kube-api-qps=20", "--kube-api-burst=30",
                     "--log-format=text", "-v=0"],
            "rules": BASE_RULES + ISTIO_RULES,
            "binding_namespaces": [ns_a, ns_b],
            "lease_role": False,
            "ports": (8080, 8081),
            "service_port": None,
            "service_monitor": False,
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                          "limits": {"cpu": "500m", "memory": "256Mi"}},
        },
    ]


def helm_args(sc):
    a = []
    if sc["values"]:
        a += ["-f", sc["values"]]
    for s in sc["set"]:
        a += ["--set", s]
    return a


def render(helm, sc, release, namespace):
    return must([helm, "template", release, CHART, "--namespace", namespace]
                + helm_args(sc), what="helm template (%s)" % sc["name"])


def split_docs(text):
    """Non-empty YAML documents of a multi-document stream, as text."""
    docs = re.split(r"(?m)^---[ \t]*$", text)
    out = []
    for d in docs:
        body = [l for l in d.splitlines()
                if l.strip() and not l.lstrip().startswith("#")]
        if body:
            out.append(d.strip("\n") + "\n")
    return out


def kind_of(doc):
    m = re.search(r"(?m)^kind:[ \t]*(\S+)", doc)
    return m.group(1) if m else None


def to_json(doc):
    """YAML to JSON without a YAML library or a server: kubectl decodes it
    locally (a merge patch of nothing, printed)."""
    out = must([KUBECTL, "patch", "--local", "-f", "-", "--type", "merge",
                "-p", "{}", "-o", "json"], input=doc,
               what="kubectl patch --local")
    objs, dec, i = [], json.JSONDecoder(), 0
    while i < len(out):
        while i < len(out) and out[i].isspace():
            i += 1
        if i >= len(out):
            break
        o, i = dec.raw_decode(out, i)
        objs.append(o)
    return objs


# --- lint -------------------------------------------------------------------

def cmd_lint():
    helm = helm_bin()
    for sc in scenarios(project_version()):
        p = run([helm, "lint", "--strict", CHART] + helm_args(sc))
        check(p.returncode == 0, "helm lint --strict (%s)" % sc["name"],
              (p.stdout + p.stderr).strip()[-600:])
    # The chart follows the project version.
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        chart = f.read()
    v = project_version()
    check(re.search(r'(?m)^appVersion: "%s"$' % re.escape(v), chart)
          is not None, "Chart.yaml appVersion is %s" % v)
    check(re.search(r"(?m)^version: %s$" % re.escape(v), chart) is not None,
          "Chart.yaml version is %s" % v)


# --- schema -------------------------------------------------------------------

# (what, --set or values text, text the error must contain)
BAD_VALUES = [
    ("mesh: consul", ["--set", "mesh=consul"], "at '/mesh'"),
    ("replicas: -1", ["--set", "replicas=-1"], "at '/replicas'"),
    ("replicas: 0", ["--set", "replicas=0"], "at '/replicas'"),
    ("replicas: two", ["--set-string", "replicas=two"], "at '/replicas'"),
    ("logFormat: xml", ["--set", "logFormat=xml"], "at '/logFormat'"),
    ("routes: mesh", ["--set", "routes=mesh"], "at '/routes'"),
    ("istioAPI: v2", ["--set", "istioAPI=v2"], "at '/istioAPI'"),
    ("verbosity: 11", ["--set", "verbosity=11"], "at '/verbosity'"),
    ("kubeAPI.qps: 0", ["--set", "kubeAPI.qps=0"], "at '/kubeAPI/qps'"),
    ("health.port: 70000", ["--set", "health.port=70000"],
     "at '/health/port'"),
    ("namespaces: a string", ["--set", "namespaces=default"],
     "at '/namespaces'"),
    ("namespaces: [Bad_NS]", ["--set", "namespaces={Bad_NS}"],
     "at '/namespaces/0'"),
    ("leaseDuration: 15 (no unit)",
     ["--set-string", "leaderElection.leaseDuration=15"],
     "at '/leaderElection/leaseDuration'"),
    ("image.pullPolicy: Sometimes", ["--set", "image.pullPolicy=Sometimes"],
     "at '/image/pullPolicy'"),
    ("unknown key meshh", ["--set", "meshh=istio"], "'meshh' not allowed"),
    ("unknown nested key", ["--set", "leaderElection.enable=true"],
     "'enable' not allowed"),
    ("2 replicas without leader election",
     ["--set", "leaderElection.enabled=false"], "at '/replicas'"),
    ("metrics and health on one port", ["--set", "metrics.port=8081"],
     "metrics.port and health.port must differ"),
    ("ServiceMonitor without the Service",
     ["--set", "metrics.serviceMonitor.enabled=true",
      "--set", "metrics.service.enabled=false"],
     "metrics.serviceMonitor.enabled needs metrics.service.enabled"),
]


def cmd_schema():
    helm = helm_bin()
    # The control: the defaults render, so a failure below is the value's.
    p = run([helm, "template", "x", CHART])
    check(p.returncode == 0, "default values render", p.stderr.strip())
    for what, args, needle in BAD_VALUES:
        p = run([helm, "template", "x", CHART] + args)
        msg = (p.stderr or "").strip()
        check(p.returncode != 0 and needle in msg,
              "rejected: %s (message names %s)" % (what, needle),
              "exit %d, stderr: %s" % (p.returncode, msg[-400:]))
    # A values file is checked the same way as --set.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write("mesh: istio\nlogFormat: yaml\n")
        f.flush()
        p = run([helm, "template", "x", CHART, "-f", f.name])
        check(p.returncode != 0 and "at '/logFormat'" in p.stderr,
              "rejected from a values file: logFormat: yaml",
              p.stderr.strip()[-400:])


# --- dry-run --------------------------------------------------------------------

def need_cluster():
    if not os.environ.get("KUBECONFIG"):
        raise Abort("KUBECONFIG is not set: run through ctest (the "
                    "controlplane fixture) or against a test control plane")


def kubectl(*args, input=None):
    return must([KUBECTL] + list(args), input=input)


def make_namespace(name):
    kubectl("create", "namespace", name)
    kubectl("label", "namespace", name,
            "pod-security.kubernetes.io/enforce=restricted",
            "pod-security.kubernetes.io/warn=restricted")


def drop_namespaces(names):
    # No namespace controller runs in the test control plane, so deleted
    # namespaces stay Terminating; the names are unique per run.
    for n in names:
        run([KUBECTL, "delete", "namespace", n, "--wait=false"])


def dry_run(docs):
    """Server-side dry run of docs; returns (objects, stderr)."""
    p = run([KUBECTL, "apply", "--dry-run=server", "-o", "json", "-f", "-"],
            input="---\n".join(docs))
    if p.returncode != 0:
        raise Abort("kubectl apply --dry-run=server rejected the chart: %s"
                    % p.stderr.strip()[-1200:])
    out = json.loads(p.stdout)
    return (out["items"] if out.get("kind") == "List" else [out]), p.stderr


def rules_of(role):
    return sorted((sorted(r.get("apiGroups", [])), sorted(r["resources"]),
                   sorted(r["verbs"])) for r in role.get("rules", []))


def expected_rules(rules):
    return sorted((sorted(g), sorted(r), sorted(v)) for g, r, v in rules)


def check_objects(sc, objs, release, ns, sm_docs):
    name = sc["name"]
    full = release if sc["fullname"] == "REL" else sc["fullname"]
    sa = release if sc["sa"] == "REL" else sc["sa"]
    by = {}
    for o in objs:
        by.setdefault(o["kind"], []).append(o)

    kinds = {"ServiceAccount": 1, "ClusterRole": 1, "Deployment": 1}
    if sc["binding_namespaces"]:
        kinds["RoleBinding"] = len(sc["binding_namespaces"])
    else:
        kinds["ClusterRoleBinding"] = 1
    if sc["lease_role"]:
        kinds["Role"] = 1
        kinds["RoleBinding"] = kinds.get("RoleBinding", 0) + 1
    if sc["service_port"]:
        kinds["Service"] = 1
    expect_eq({k: len(v) for k, v in by.items()}, kinds,
              "%s: objects the API server accepted" % name)

    dep = by["Deployment"][0]
    expect_eq(dep["metadata"]["name"], full, "%s: Deployment name" % name)
    spec = dep["spec"]
    expect_eq(spec["replicas"], sc["replicas"], "%s: replicas" % name)
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    sel = spec["selector"]["matchLabels"]
    expect_eq(sel, {"app.kubernetes.io/name": "smi-bridge",
                    "app.kubernetes.io/instance": release},
              "%s: selector" % name)
    for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance",
              "app.kubernetes.io/version", "app.kubernetes.io/managed-by",
              "app.kubernetes.io/part-of"):
        check(k in labels and k in dep["metadata"]["labels"],
              "%s: label %s on the Deployment and its pods" % (name, k))
    expect_eq(pod["serviceAccountName"], sa, "%s: serviceAccountName" % name)
    expect_eq(pod["securityContext"],
              {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
               "seccompProfile": {"type": "RuntimeDefault"}},
              "%s: pod securityContext" % name)
    c = pod["containers"][0]
    expect_eq(len(pod["containers"]), 1, "%s: one container" % name)
    expect_eq(c["image"], sc["image"], "%s: image" % name)
    expect_eq(c["imagePullPolicy"], sc["pull"], "%s: imagePullPolicy" % name)
    expect_eq(c.get("command"), None, "%s: the image's entrypoint" % name)
    expect_eq(c["args"], sc["args"], "%s: command line" % name)
    expect_eq(c["env"], [
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.name"}}}],
        "%s: POD_NAMESPACE and POD_NAME from the downward API" % name)
    expect_eq(c["securityContext"], {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"}},
        "%s: container securityContext" % name)
    mport, hport = sc["ports"]
    expect_eq(sorted((p["name"], p["containerPort"]) for p in c["ports"]),
              sorted([("metrics", mport), ("health", hport)]),
              "%s: container ports" % name)
    expect_eq((c["livenessProbe"]["httpGet"]["path"],
               c["livenessProbe"]["httpGet"]["port"]), ("/healthz", "health"),
              "%s: liveness probe" % name)
    expect_eq((c["readinessProbe"]["httpGet"]["path"],
               c["readinessProbe"]["httpGet"]["port"]), ("/readyz", "health"),
              "%s: readiness probe" % name)
    expect_eq(c["resources"], sc["resources"], "%s: resources" % name)

    expect_eq(by["ServiceAccount"][0]["metadata"]["name"], sa,
              "%s: ServiceAccount name" % name)
    role = by["ClusterRole"][0]
    expect_eq(rules_of(role), expected_rules(sc["rules"]),
              "%s: ClusterRole rules" % name)
    subject = [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]
    binds = [b for b in by.get("RoleBinding", [])
             if b["roleRef"]["kind"] == "ClusterRole"]
    if sc["binding_namespaces"]:
        expect_eq(sorted(b["metadata"]["namespace"] for b in binds),
                  sorted(sc["binding_namespaces"]),
                  "%s: the ClusterRole is bound in the listed namespaces "
                  "only" % name)
    else:
        binds = by["ClusterRoleBinding"]
    for b in binds:
        expect_eq((b["roleRef"]["name"], b["subjects"]),
                  (role["metadata"]["name"], subject),
                  "%s: %s %s grants the ClusterRole to the ServiceAccount"
                  % (name, b["kind"], b["metadata"].get("namespace", "")))
    if sc["lease_role"]:
        lr = by["Role"][0]
        expect_eq(lr["metadata"]["namespace"], ns,
                  "%s: the leases Role is in the release namespace" % name)
        expect_eq(rules_of(lr), expected_rules(
            [(["coordination.k8s.io"], ["leases"],
              ["get", "create", "update"])]), "%s: leases Role rules" % name)
        lb = [b for b in by["RoleBinding"] if b["roleRef"]["kind"] == "Role"]
        expect_eq([(b["roleRef"]["name"], b["subjects"]) for b in lb],
                  [(lr["metadata"]["name"], subject)],
                  "%s: the leases Role is bound to the ServiceAccount" % name)

    if sc["service_port"]:
        svc = by["Service"][0]
        expect_eq(svc["spec"]["selector"], sel,
                  "%s: the metrics Service selects the pods" % name)
        expect_eq([(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]],
                  [(sc["service_port"], "metrics")],
                  "%s: the metrics Service port" % name)

    # The ServiceMonitor CRD is not installed in the test control plane, so
    # that one document is checked here, decoded locally, and nothing else
    # is left out of the dry run.
    if sc["service_monitor"]:
        expect_eq(len(sm_docs), 1, "%s: one ServiceMonitor rendered" % name)
        sm = to_json(sm_docs[0])[0]
        expect_eq((sm["apiVersion"], sm["kind"], sm["metadata"]["namespace"]),
                  ("monitoring.coreos.com/v1", "ServiceMonitor", ns),
                  "%s: ServiceMonitor type and namespace" % name)
        sm_sel = sm["spec"]["selector"]["matchLabels"]
        svc_labels = by["Service"][0]["metadata"]["labels"]
        expect_eq(sm_sel, sel, "%s: ServiceMonitor selector" % name)
        check(all(svc_labels.get(k) == v for k, v in sm_sel.items()),
              "%s: the ServiceMonitor selects the metrics Service" % name,
              "Service labels %s" % json.dumps(svc_labels))
        expect_eq(sm["spec"]["endpoints"], [{
            "port": "metrics", "path": "/metrics", "interval": "15s",
            "scrapeTimeout": "5s"}], "%s: ServiceMonitor endpoint" % name)
        expect_eq(sm["metadata"]["labels"].get("release"), "prometheus",
                  "%s: ServiceMonitor extra labels" % name)
    else:
        expect_eq(sm_docs, [], "%s: no ServiceMonitor rendered" % name)


def cmd_dry_run():
    need_cluster()
    helm = helm_bin()
    version = project_version()
    tag = suffix()
    created = []
    try:
        ns = "chart-%s" % tag
        extra = ("chart-%s-a" % tag, "chart-%s-b" % tag)
        for n in (ns,) + extra:
            make_namespace(n)
            created.append(n)

        # The control for the Pod Security check below: a privileged
        # Deployment in the same namespace does draw the warning.
        bad = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
               "  name: priv\n  namespace: %s\nspec:\n  selector:\n"
               "    matchLabels: {a: b}\n  template:\n    metadata:\n"
               "      labels: {a: b}\n    spec:\n      containers:\n"
               "      - name: c\n        image: x\n        securityContext:\n"
               "          privileged: true\n" % ns)
        _, err = dry_run([bad])
        check("would violate PodSecurity" in err,
              "control: a privileged Deployment draws a restricted Pod "
              "Security warning", err.strip())

        for sc in scenarios(version, extra):
            # A release name that contains the chart's name is the full
            # name of its objects (the helpers' rule).
            release = "smi-bridge-%s" % tag
            docs = split_docs(render(helm, sc, release, ns))
            sm = [d for d in docs if kind_of(d) == "ServiceMonitor"]
            rest = [d for d in docs if kind_of(d) != "ServiceMonitor"]
            for d in sm:
                check("# Source: smi-bridge/templates/servicemonitor.yaml" in d,
                      "%s: the document kept out of the dry run is the "
                      "ServiceMonitor template" % sc["name"])
            objs, err = dry_run(rest)
            check("Warning" not in err,
                  "%s: no warnings (Pod Security restricted, deprecated "
                  "APIs)" % sc["name"], err.strip())
            check_objects(sc, objs, release, ns, sm)

        # deploy/manifests/smi-bridge.yaml as `kubectl apply -f` sends it.
        # A dry run persists nothing, so the objects in the new namespace
        # would not find it: its Namespace is applied for real first.
        with open(MANIFESTS) as f:
            docs = split_docs(f.read())
        expect_eq([kind_of(d) for d in docs][:1], ["Namespace"],
                  "manifests: the Namespace comes first")
        kubectl("apply", "-f", "-", input=docs[0])
        objs, err = dry_run(docs)
        check("Warning" not in err, "manifests: no warnings", err.strip())
        expect_eq(sorted(o["kind"] for o in objs), sorted([
            "Namespace", "ServiceAccount", "ClusterRole",
            "ClusterRoleBinding", "Role", "RoleBinding", "Service",
            "Deployment"]), "manifests: the objects the API server accepted")
        nsobj = [o for o in objs if o["kind"] == "Namespace"][0]
        expect_eq(nsobj["metadata"]["labels"].get(
            "pod-security.kubernetes.io/enforce"), "restricted",
            "manifests: the namespace enforces Pod Security restricted")
        check_objects(scenarios(version)[0],
                      [o for o in objs if o["kind"] != "Namespace"],
                      "smi-bridge", "smi-bridge", [])
        check_crds(helm)
    finally:
        drop_namespaces(created)


def check_crds(helm):
    """The CRDs shipped in the chart and in deploy/manifests/crds.yaml are
    the repository's crds/ (helm.generated checks the bytes) and the API
    server takes them. Nothing to check before crds/ exists."""
    src = os.path.join(REPO, "crds")
    files = sorted(f for f in os.listdir(src) if f.endswith(".yaml")) \
        if os.path.isdir(src) else []
    if not files:
        print("     (no crds/ in this tree yet: CRD checks not applicable)")
        return
    # <group>_<plural>.yaml holds the CRD <plural>.<group>.
    want = sorted("%s.%s" % (f[:-5].split("_", 1)[1], f.split("_", 1)[0])
                  for f in files)
    out = must([helm, "template", "smi-bridge", CHART, "--include-crds"])
    got = sorted(re.search(r"(?m)^  name:[ \t]*(\S+)", d).group(1)
                 for d in split_docs(out)
                 if kind_of(d) == "CustomResourceDefinition")
    expect_eq(got, want, "the chart installs the CRDs of crds/")
    p = run([KUBECTL, "apply", "--server-side", "--force-conflicts",
             "--field-manager", "smi-bridge-chart-test", "--dry-run=server",
             "-o", "json", "-f",
             os.path.join(REPO, "deploy", "manifests", "crds.yaml")])
    if not check(p.returncode == 0, "manifests: the API server takes "
                 "crds.yaml", p.stderr.strip()[-600:]):
        return
    out = json.loads(p.stdout)
    items = out["items"] if out.get("kind") == "List" else [out]
    expect_eq(sorted(o["metadata"]["name"] for o in items), want,
              "manifests: crds.yaml holds the CRDs of crds/")


# --- rbac ------------------------------------------------------------------------

def can_i(sa_user, verb, resource, namespace=None):
    args = [KUBECTL, "auth", "can-i", verb, resource, "--as", sa_user]
    args += ["-n", namespace] if namespace else ["--all-namespaces"]
    p = run(args)
    ans = p.stdout.strip()
    if ans not in ("yes", "no"):
        raise Abort("kubectl auth can-i %s %s: %s" % (verb, resource,
                                                      p.stderr.strip()))
    return ans == "yes"


def apply_as(token, server, ca, obj, field_manager="smi-bridge"):
    """Server-side apply of obj with a bearer token; returns the HTTP
    status (kubectl is avoided on purpose: it adds a GET first)."""
    api = obj["apiVersion"]
    base = "/api/" + api if "/" not in api else "/apis/" + api
    url = "%s%s/namespaces/%s/%s/%s?fieldManager=%s" % (
        server, base, obj["metadata"]["namespace"], obj["_plural"],
        obj["metadata"]["name"], field_manager)
    body = dict(obj)
    del body["_plural"]
    p = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
             "--cacert", ca, "-H", "Authorization: Bearer " + token,
             "-X", "PATCH", "-H", "Content-Type: application/apply-patch+yaml",
             "--data-binary", json.dumps(body), url])
    if p.returncode != 0:
        raise Abort("curl: %s" % p.stderr.strip())
    return int(p.stdout)


def cluster_access():
    """Server URL and CA file of the admin kubeconfig."""
    cfg = json.loads(kubectl("config", "view", "--raw", "--minify",
                             "-o", "json"))
    cl = cfg["clusters"][0]["cluster"]
    ca = tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False)
    if "certificate-authority-data" in cl:
        import base64
        ca.write(base64.b64decode(cl["certificate-authority-data"]))
    else:
        with open(cl["certificate-authority"], "rb") as f:
            ca.write(f.read())
    ca.close()
    return cl["server"], ca.name


def cmd_rbac():
    need_cluster()
    helm = helm_bin()
    tag = suffix()
    ns = "rbac-%s" % tag
    other = "rbac-%s-other" % tag
    release = "smi-bridge-%s" % tag
    created, ca = [], None
    try:
        for n in (ns, other):
            make_namespace(n)
            created.append(n)
        # The widest role: auto mesh (both meshes' kinds), native routes
        # with ServiceProfiles. (Gateway API routes replace the meshes'
        # route kinds; dry-run checks that role rule by rule.)
        docs = split_docs(must(
            [helm, "template", release, CHART, "--namespace", ns,
             "--set", "linkerdServiceProfile=true", "--show-only",
             "templates/serviceaccount.yaml", "--show-only",
             "templates/rbac.yaml"], what="helm template"))
        kubectl("apply", "-f", "-", input="---\n".join(docs))
        sa = "system:serviceaccount:%s:%s" % (ns, release)

        allowed = [
            ("list", "trafficsplits.split.smi-spec.io"),
            ("watch", "httproutegroups.specs.smi-spec.io"),
            ("list", "tcproutes.specs.smi-spec.io"),
            ("list", "udproutes.specs.smi-spec.io"),
            ("watch", "traffictargets.access.smi-spec.io"),
            ("list", "services"), ("watch", "pods"),
            ("create", "events"), ("patch", "events"),
        ]
        for kind in ("virtualservices.networking.istio.io",
                     "authorizationpolicies.security.istio.io",
                     "httproutes.policy.linkerd.io", "servers.policy.linkerd.io",
                     "authorizationpolicies.policy.linkerd.io",
                     "meshtlsauthentications.policy.linkerd.io",
                     "serviceprofiles.linkerd.io"):
            for verb in WRITE:
                allowed.append((verb, kind))
        denied = [
            ("get", "trafficsplits.split.smi-spec.io"),
            ("update", "trafficsplits.split.smi-spec.io"),
            ("patch", "traffictargets.access.smi-spec.io"),
            ("get", "services"), ("create", "pods"), ("get", "pods"),
            ("list", "serviceaccounts"), ("get", "secrets"),
            ("list", "httproutes.gateway.networking.k8s.io"),
            ("list", "secrets"), ("list", "configmaps"),
            ("update", "virtualservices.networking.istio.io"),
            ("get", "virtualservices.networking.istio.io"),
            ("deletecollection", "servers.policy.linkerd.io"),
            ("list", "events"), ("delete", "events"),
            ("list", "customresourcedefinitions.apiextensions.k8s.io"),
            ("list", "destinationrules.networking.istio.io"),
            ("create", "clusterroles.rbac.authorization.k8s.io"),
        ]
        for verb, res in allowed:
            check(can_i(sa, verb, res), "allowed everywhere: %s %s"
                  % (verb, res))
        for verb, res in denied:
            check(not can_i(sa, verb, res, other), "denied: %s %s"
                  % (verb, res))
        for verb in ("get", "create", "update"):
            check(can_i(sa, verb, "leases.coordination.k8s.io", ns),
                  "allowed in the release namespace: %s leases" % verb)
            check(not can_i(sa, verb, "leases.coordination.k8s.io", other),
                  "denied in another namespace: %s leases" % verb)
        for verb in ("list", "watch", "delete"):
            check(not can_i(sa, verb, "leases.coordination.k8s.io", ns),
                  "denied: %s leases" % verb)

        # Why `create` is granted with `patch`: a server-side apply that
        # creates the object is authorised as create. Shown with the
        # ServiceAccount's own token, with and without the chart's role.
        server, ca = cluster_access()
        token = kubectl("create", "token", release, "-n", ns).strip()
        vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
              "_plural": "virtualservices",
              "metadata": {"name": "rbac-probe", "namespace": other},
              "spec": {"hosts": ["web.%s.svc.cluster.local" % other],
                       "http": [{"route": [{"destination": {
                           "host": "web-v1.%s.svc.cluster.local" % other}}]}]}}
        expect_eq(apply_as(token, server, ca, vs), 201,
                  "server-side apply creates a VirtualService with the "
                  "chart's role")
        vs["spec"]["http"][0]["route"][0]["destination"]["host"] = \
            "web-v2.%s.svc.cluster.local" % other
        expect_eq(apply_as(token, server, ca, vs), 200,
                  "server-side apply changes it")
        # The same ClusterRole minus `create` on the generated kinds.
        role = json.loads(kubectl("get", "clusterrole", release, "-o", "json"))
        for r in role["rules"]:
            if "create" in r["verbs"] and "patch" in r["verbs"] and \
                    r["resources"] != ["events"]:
                r["verbs"] = [v for v in r["verbs"] if v != "create"]
        role["metadata"] = {"name": release}
        kubectl("replace", "-f", "-", input=json.dumps(role))
        check(not can_i(sa, "create", "virtualservices.networking.istio.io",
                        other), "the role without create is in force")
        expect_eq(apply_as(token, server, ca, vs), 200,
                  "without create: server-side apply still changes an "
                  "existing object")
        vs["metadata"]["name"] = "rbac-probe-2"
        expect_eq(apply_as(token, server, ca, vs), 403,
                  "without create: server-side apply that would create the "
                  "object is forbidden")
    finally:
        if ca:
            os.unlink(ca)
        for kind in ("clusterrolebinding", "clusterrole"):
            run([KUBECTL, "delete", kind, release, "--ignore-not-found"])
        drop_namespaces(created)


def main():
    cmds = {"lint": cmd_lint, "schema": cmd_schema, "dry-run": cmd_dry_run,
            "rbac": cmd_rbac}
    if len(sys.argv) != 2 or sys.argv[1] not in cmds:
        print("usage: test_chart.py %s" % "|".join(cmds), file=sys.stderr)
        return 2
    try:
        cmds[sys.argv[1]]()
    except Abort as e:
        check(False, "aborted", str(e))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
