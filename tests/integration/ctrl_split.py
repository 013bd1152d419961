"""TrafficSplit lifecycle against the real API server, for one output mode:
create -> routes appear with the user's weights and our labels/owner;
update weights -> routes change; add matches -> matched rule + catch-all;
change the referenced HTTPRouteGroup -> re-rendered; drop a field from it
(the method) -> dropped from the routes too, though the cluster's object
still contains the new desired one, also when it was dropped while no
controller ran (stopped, field dropped, started again); delete -> pruned
(the test control plane has no garbage collector: pruning is ours).

Used by test_ctrl_split_<mode>.py.
"""

import re

import harness as h
import controller as c

MODES = {
    "istio": {
        "args": ["--mesh", "istio"],
        "resource": "virtualservices.networking.istio.io",
        "name": "web-split",
    },
    "linkerd": {
        "args": ["--mesh", "linkerd"],
        "resource": "httproutes.policy.linkerd.io",
        "name": "web-split-8080",
    },
    "gateway": {
        "args": ["--mesh", "istio", "--routes", "gateway-api"],
        "resource": "httproutes.gateway.networking.k8s.io",
        "name": "web-split-8080",
    },
}

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
    weight: %d
%s"""

MATCHES = """  matches:
  - kind: HTTPRouteGroup
    name: ab
"""

GROUP = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata:
  name: ab
spec:
  matches:
  - name: beta
    pathRegex: %s
"""


def group(path, method="GET"):
    """The HTTPRouteGroup "ab": one match on path, and on method unless
    None."""
    return GROUP % path + ("    methods: [%s]\n" % method if method else "")


def weights(mode, obj):
    """The weighted backends of the first rule: {backend: weight}."""
    spec = obj["spec"]
    if mode == "istio":
        rule = spec["http"][0]["route"]
        return {r["destination"]["host"].split(".")[0]: r.get("weight")
                for r in rule}
    rule = spec["rules"][0]["backendRefs"]
    return {r["name"]: r.get("weight") for r in rule}


def matched(mode, obj):
    """The first rule's match description as text ("" when none), and the
    number of rules (matched + catch-all = 2)."""
    spec = obj["spec"]
    if mode == "istio":
        rules = spec["http"]
        return (str(rules[0].get("match", "")), len(rules))
    rules = spec["rules"]
    return (str(rules[0].get("matches", "")), len(rules))


def scenario(mode):
    m = MODES[mode]
    res, name = m["resource"], m["name"]
    with h.namespace("split-" + mode) as ns:
        c.services(ns, ["web", "web-v1", "web-v2"])
        with c.Controller(ns, *m["args"]) as ctl:
            ctl.wait_ready()
            h.apply(SPLIT % (90, 10, ""), ns)
            obj = c.wait_object(res, name, ns,
                                lambda o: weights(mode, o) == {
                                    "web-v1": 90, "web-v2": 10},
                                what="%s %s with weights 90/10" % (res, name))
            labels = obj["metadata"].get("labels", {})
            h.expect_eq(labels.get("app.kubernetes.io/managed-by"),
                        "smi-bridge", "managed-by label")
            h.expect_eq(labels.get("smi-bridge.io/source-name"), "web",
                        "source-name label")
            h.check(re.fullmatch("[0-9a-f]{16}", obj["metadata"].get(
                "annotations", {}).get("smi-bridge.io/hash", "")),
                    "no smi-bridge.io/hash annotation: %s"
                    % obj["metadata"].get("annotations"))
            ts = h.get("trafficsplits.split.smi-spec.io", "web", ns)
            owners = obj["metadata"].get("ownerReferences", [])
            h.expect_eq([(o["kind"], o["uid"]) for o in owners],
                        [("TrafficSplit", ts["metadata"]["uid"])],
                        "ownerReferences")

            h.apply(SPLIT % (50, 50, ""), ns)
            c.wait_object(res, name, ns, lambda o: weights(mode, o) == {
                "web-v1": 50, "web-v2": 50}, what="weights 50/50")

            h.apply(group("/api"), ns)
            h.apply(SPLIT % (50, 50, MATCHES), ns)
            c.wait_object(res, name, ns,
                          lambda o: "/api" in matched(mode, o)[0] and
                          matched(mode, o)[1] == 2,
                          what="a matched rule for /api plus a catch-all")

            h.apply(group("/beta"), ns)
            c.wait_object(res, name, ns,
                          lambda o: "/beta" in matched(mode, o)[0],
                          what="the rule re-rendered after the "
                               "HTTPRouteGroup changed")
            h.check("GET" in matched(mode, h.get(res, name, ns))[0],
                    "the method match is not in the rule")

            h.apply(group("/beta", method=None), ns)
            c.wait_object(res, name, ns,
                          lambda o: "/beta" in matched(mode, o)[0] and
                          "GET" not in matched(mode, o)[0],
                          what="the method match dropped after the "
                               "HTTPRouteGroup dropped it")

            # The same while no smi-bridge runs: the next one removes the
            # field too -- nothing is remembered in the process, the hash
            # annotation on the object shows the change.
            h.apply(group("/beta"), ns)
            c.wait_object(res, name, ns,
                          lambda o: "GET" in matched(mode, o)[0],
                          what="the method match back")
            ctl.stop()
            h.apply(group("/beta", method=None), ns)
            ctl.start()
            ctl.wait_ready()
            c.wait_object(res, name, ns,
                          lambda o: "/beta" in matched(mode, o)[0] and
                          "GET" not in matched(mode, o)[0],
                          what="the method match dropped by a controller "
                               "started after the HTTPRouteGroup lost it")

            c.wait_event(ns, "web", "Translated")
            h.check(ctl.metric('controller_runtime_reconcile_total'
                               '{controller="smi-bridge",result="success"}')
                    > 0, "no successful reconcile in the metrics")

            h.kubectl("delete", "trafficsplit.split.smi-spec.io", "web",
                      "-n", ns)
            c.wait_gone(res, name, ns)
            h.expect_eq(c.names(res, ns, "app.kubernetes.io/managed-by="
                                "smi-bridge"), [], "generated objects left")
