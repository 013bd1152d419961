#!/usr/bin/env python3
"""The Istio, Linkerd and Gateway API CRDs are installed with their real
schemas, so the API server validates what smi-bridge writes.

For each mesh a well-formed object of a kind smi-bridge generates is
accepted, and the same object with one deliberate mistake is rejected with
a message naming the mistake: a VirtualService route weight "abc" (OpenAPI
type), a Linkerd Server without a pod selector (oneOf) and a Gateway API
HTTPRoute Service backend without a port (a CEL rule).
"""

import re

import harness as h

VIRTUALSERVICE = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: %(name)s
spec:
  hosts: [web.%(ns)s.svc.cluster.local]
  http:
  - route:
    - destination: {host: web-v1.%(ns)s.svc.cluster.local}
      weight: %(weight)s
    - destination: {host: web-v2.%(ns)s.svc.cluster.local}
      weight: 10
"""

SERVER = """
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata:
  name: %(name)s
spec:
  port: 8080
  proxyProtocol: HTTP/1
%(selector)s
"""

HTTPROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: %(name)s
spec:
  parentRefs:
  - {group: "", kind: Service, name: web, port: 80}
  rules:
  - backendRefs:
    - {group: "", kind: Service, name: web-v1, weight: 90%(port)s}
    - {group: "", kind: Service, name: web-v2, weight: 10, port: 80}
"""


def pair(ns, what, name, template, good, bad, reason):
    h.apply(template % dict(good, ns=ns, name=name), ns, server_side=True)
    msg = h.expect_rejected(template % dict(bad, ns=ns, name=name + "-bad"),
                            ns, reason)
    line = next(l for l in msg.splitlines() if re.search(reason, l))
    h.log("%s: valid object accepted, broken one rejected: %s"
          % (what, line.strip()[:160]))


def main():
    with h.namespace() as ns:
        pair(ns, "Istio VirtualService", "web", VIRTUALSERVICE,
             {"weight": "90"}, {"weight": '"abc"'},
             r"weight.*(integer|int32)")
        pair(ns, "Linkerd Server", "api-http", SERVER,
             {"selector": "  podSelector: {matchLabels: {app: api}}"},
             {"selector": ""},
             r"podSelector|oneOf|externalWorkloadSelector")
        pair(ns, "Gateway API HTTPRoute", "web-split", HTTPROUTE,
             {"port": ", port: 80"}, {"port": ""},
             r"Must have port for Service reference")
        # The accepted objects really are stored, with their values.
        vs = h.get("virtualservices.networking.istio.io", "web", ns)
        h.expect_eq(vs["spec"]["http"][0]["route"][0]["weight"], 90,
                    "VirtualService weight read back")
        srv = h.get("servers.policy.linkerd.io", "api-http", ns)
        h.expect_eq(srv["spec"]["podSelector"], {"matchLabels": {"app": "api"}},
                    "Server podSelector read back")
        route = h.get("httproutes.gateway.networking.k8s.io", "web-split", ns)
        h.expect_eq(route["spec"]["rules"][0]["backendRefs"][0].get("port"), 80,
                    "HTTPRoute backend port read back")


h.run(main)
