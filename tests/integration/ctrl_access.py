"""TrafficTarget against the real API server: the destination
ServiceAccount's pods are found, their common labels become the selector,
relabelled pods move the selector, and pods of another ServiceAccount that
share the labels are a Conflict (nothing over-broad is written).

Used by test_ctrl_access_<mesh>.py.
"""

import time

import harness as h
import controller as c

GROUPS = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata:
  name: api-routes
spec:
  matches:
  - name: metrics
    pathRegex: /metrics
    methods: [GET]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata:
  name: api-port
spec:
  matches:
    ports: [8080]
"""

TARGET = """
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata:
  name: web-to-api
spec:
  destination:
    kind: ServiceAccount
    name: api
  rules:
  - kind: TCPRoute
    name: api-port
%s  sources:
  - kind: ServiceAccount
    name: web
"""

HTTP_RULE = """  - kind: HTTPRouteGroup
    name: api-routes
    matches: [metrics]
"""


def api_pods(ns, version):
    c.pods(ns, [("api-1", "api", {"app": "api", "version": version,
                                  "pod-template-hash": "aaa"}),
                ("api-2", "api", {"app": "api", "version": version,
                                  "pod-template-hash": "bbb"})])


def istio(ns):
    res = "authorizationpolicies.security.istio.io"

    def selector(o):
        return o["spec"].get("selector", {}).get("matchLabels")

    ap = c.wait_object(res, "web-to-api-access", ns,
                       lambda o: selector(o) == {"app": "api",
                                                 "version": "v1"},
                       what="AuthorizationPolicy selecting app=api,v1")
    rule = ap["spec"]["rules"][0]
    h.expect_eq(rule["from"][0]["source"]["principals"],
                ["cluster.local/ns/%s/sa/web" % ns], "principals")
    h.expect_eq(ap["spec"].get("action"), "ALLOW", "action")
    ops = [t["operation"] for t in rule.get("to", [])]
    h.check(any(o.get("paths") == ["/metrics*"] and o.get("ports") ==
                ["8080"] and o.get("methods") == ["GET"] for o in ops),
            "no operation GET /metrics* on port 8080 in %s" % ops)
    return res, "web-to-api-access", selector


def linkerd(ns):
    srv = c.wait_object("servers.policy.linkerd.io", "api-sa-8080", ns,
                        lambda o: o["spec"].get("podSelector", {}).get(
                            "matchLabels") == {"app": "api",
                                               "version": "v1"},
                        what="Server api-sa-8080 selecting app=api,v1")
    h.expect_eq(srv["spec"]["port"], 8080, "Server port")
    mtls = c.wait_object("meshtlsauthentications.policy.linkerd.io",
                         "web-to-api-access", ns)
    h.expect_eq(mtls["spec"]["identityRefs"],
                [{"kind": "ServiceAccount", "name": "web", "namespace": ns}],
                "identityRefs")
    ap = c.wait_object("authorizationpolicies.policy.linkerd.io",
                       "web-to-api-access-8080", ns)
    h.expect_eq(ap["spec"]["requiredAuthenticationRefs"][0]["name"],
                "web-to-api-access", "AuthorizationPolicy authentication")
    route = c.wait_object("httproutes.policy.linkerd.io",
                          "web-to-api-access-8080", ns)
    h.expect_eq(route["spec"]["parentRefs"][0]["name"], "api-sa-8080",
                "inbound route parent")
    h.expect_eq(ap["spec"]["targetRef"]["kind"], "HTTPRoute",
                "AuthorizationPolicy target")

    def selector(o):
        return o["spec"].get("podSelector", {}).get("matchLabels")
    return "servers.policy.linkerd.io", "api-sa-8080", selector


def scenario(mesh):
    with h.namespace("access-" + mesh) as ns:
        c.service_account(ns, "web")
        api_pods(ns, "v1")
        h.apply(GROUPS, ns)
        with c.Controller(ns, "--mesh", mesh) as ctl:
            ctl.wait_ready()
            h.apply(TARGET % HTTP_RULE, ns)
            res, name, selector = istio(ns) if mesh == "istio" \
                else linkerd(ns)

            # The pods are relabelled: the selector follows.
            h.kubectl("label", "pod", "api-1", "api-2", "version=v2",
                      "--overwrite", "-n", ns)
            c.wait_object(res, name, ns,
                          lambda o: selector(o) == {"app": "api",
                                                    "version": "v2"},
                          what="selector following the relabelled pods")

            # A pod of another ServiceAccount with the same labels: the
            # selector would catch it. Fail closed: the TrafficTarget gets a
            # Conflict Event and what exists stays exactly as it was (not
            # deleted: that would open the destination to everyone).
            before = c.get_json(res, name, ns)
            c.pods(ns, [("intruder", "batch", {"app": "api",
                                               "version": "v2"})])
            c.wait_event(ns, "web-to-api", "Conflict", contains="intruder")
            c.pods(ns, [("api-3", "api", {"app": "api", "version": "v2",
                                          "pod-template-hash": "ccc"})])
            time.sleep(1)  # a reconcile that ran would have had its chance
            after = c.get_json(res, name, ns)
            h.check(after is not None, "%s was deleted on a conflict" % name)
            h.expect_eq(after["metadata"]["resourceVersion"],
                        before["metadata"]["resourceVersion"],
                        "resourceVersion during the conflict")

            # The intruder is relabelled: the conflict clears and the
            # controller writes again (a narrower selector now).
            h.kubectl("label", "pod", "intruder", "app=batch", "--overwrite",
                      "-n", ns)
            h.kubectl("label", "pod", "api-1", "api-2", "api-3", "tier=api",
                      "-n", ns)
            c.wait_object(res, name, ns,
                          lambda o: selector(o) == {"app": "api",
                                                    "tier": "api",
                                                    "version": "v2"},
                          what="the selector after the conflict cleared")
