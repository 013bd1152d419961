#!/usr/bin/env python3
"""The SMI CRDs in crds/ accept what real clients write, in every version.

Each manifest below is shaped like one a real client sends (Flagger and Argo
Rollouts v1alpha1 quantity or integer weights, OSM-era v1alpha2, v1alpha3/4
with matches, TrafficTarget and HTTPRouteGroup with their fields at the top
level in the oldest versions, headers as a list of maps and as a map). For
each one the test checks that the API server accepts it and returns the
same values -- through the version it was written in and through every
other served version, since with conversion None a controller may read an
object through any of them. It also checks that the schemas still refuse
what no version allows, and that the CRDs are installed as documented.
"""

import json

import harness as h

GROUPS = {
    "trafficsplits": ("split.smi-spec.io", ["v1alpha1", "v1alpha2",
                                            "v1alpha3", "v1alpha4"],
                      "v1alpha4"),
    "httproutegroups": ("specs.smi-spec.io", ["v1alpha1", "v1alpha2",
                                              "v1alpha3", "v1alpha4"],
                        "v1alpha4"),
    "tcproutes": ("specs.smi-spec.io", ["v1alpha1", "v1alpha2", "v1alpha3",
                                        "v1alpha4"], "v1alpha4"),
    "udproutes": ("specs.smi-spec.io", ["v1alpha4"], "v1alpha4"),
    "traffictargets": ("access.smi-spec.io", ["v1alpha1", "v1alpha2",
                                              "v1alpha3"], "v1alpha3"),
}

# (plural, version, name, manifest, {path: expected value})
CASES = [
    # Flagger's linkerd provider / Argo Rollouts default: v1alpha1 with
    # Quantity weights, an integer and a milli-quantity string mixed.
    ("trafficsplits", "v1alpha1", "quantity", """
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata:
  name: quantity
spec:
  service: podinfo
  backends:
  - service: podinfo-primary
    weight: 1
  - service: podinfo-canary
    weight: "500m"
""", {"spec.service": "podinfo",
      "spec.backends.0.service": "podinfo-primary",
      "spec.backends.0.weight": 1,
      "spec.backends.1.weight": "500m"}),
    # Flagger serialises resource.Quantity as strings; Argo writes ints.
    ("trafficsplits", "v1alpha1", "flagger", """
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata:
  name: flagger
spec:
  service: podinfo
  backends:
  - service: podinfo-primary
    weight: "100"
  - service: podinfo-canary
    weight: "0"
""", {"spec.backends.0.weight": "100", "spec.backends.1.weight": "0"}),
    ("trafficsplits", "v1alpha1", "argo", """
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata:
  name: argo
spec:
  service: rollout-root
  backends:
  - service: rollout-stable
    weight: 90
  - service: rollout-canary
    weight: 10
""", {"spec.backends.0.weight": 90, "spec.backends.1.weight": 10}),
    # OSM-era v1alpha2.
    ("trafficsplits", "v1alpha2", "bookstore-split", """
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata:
  name: bookstore-split
spec:
  service: bookstore.bookstore
  backends:
  - service: bookstore-v1
    weight: 75
  - service: bookstore-v2
    weight: 25
""", {"spec.service": "bookstore.bookstore",
      "spec.backends.0.weight": 75, "spec.backends.1.weight": 25}),
    ("trafficsplits", "v1alpha3", "ab-test", """
apiVersion: split.smi-spec.io/v1alpha3
kind: TrafficSplit
metadata:
  name: ab-test
spec:
  service: website
  matches:
  - kind: HTTPRouteGroup
    name: ab-test
  backends:
  - service: website-v1
    weight: 0
  - service: website-v2
    weight: 100
""", {"spec.matches.0.kind": "HTTPRouteGroup",
      "spec.matches.0.name": "ab-test",
      "spec.backends.0.weight": 0, "spec.backends.1.weight": 100}),
    ("trafficsplits", "v1alpha4", "canary", """
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: canary
spec:
  service: website
  matches:
  - kind: HTTPRouteGroup
    apiGroup: specs.smi-spec.io
    name: firefox-users
  - kind: HTTPRouteGroup
    name: debug
  backends:
  - service: website-v1
    weight: 900
  - service: website-v2
    weight: "100"
""", {"spec.matches.0.apiGroup": "specs.smi-spec.io",
      "spec.matches.1.name": "debug",
      "spec.backends.0.weight": 900, "spec.backends.1.weight": "100"}),

    # HTTPRouteGroup: v1alpha1/v1alpha2 keep `matches` at the top level.
    ("httproutegroups", "v1alpha1", "the-routes", """
apiVersion: specs.smi-spec.io/v1alpha1
kind: HTTPRouteGroup
metadata:
  name: the-routes
matches:
- name: metrics
  pathRegex: "/metrics"
  methods:
  - GET
""", {"matches.0.name": "metrics", "matches.0.pathRegex": "/metrics",
      "matches.0.methods": ["GET"]}),
    ("httproutegroups", "v1alpha2", "firefox", """
apiVersion: specs.smi-spec.io/v1alpha2
kind: HTTPRouteGroup
metadata:
  name: firefox
matches:
- name: firefox-users
  headers:
  - user-agent: ".*Firefox.*"
  - x-canary: "true"
""", {"matches.0.headers": [{"user-agent": ".*Firefox.*"},
                            {"x-canary": "true"}]}),
    ("httproutegroups", "v1alpha3", "api-routes", """
apiVersion: specs.smi-spec.io/v1alpha3
kind: HTTPRouteGroup
metadata:
  name: api-routes
spec:
  matches:
  - name: api
    pathRegex: "/api/v[0-9]+/.*"
    methods: ["GET", "POST"]
    headers:
    - x-tenant: "acme"
""", {"spec.matches.0.pathRegex": "/api/v[0-9]+/.*",
      "spec.matches.0.methods": ["GET", "POST"],
      "spec.matches.0.headers": [{"x-tenant": "acme"}]}),
    ("httproutegroups", "v1alpha4", "both-forms", """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata:
  name: both-forms
spec:
  matches:
  - name: as-map
    headers:
      user-agent: ".*Firefox.*"
      x-debug: "1"
  - name: as-list
    methods: ["*"]
    headers:
    - user-agent: ".*Chrome.*"
""", {"spec.matches.0.headers": {"user-agent": ".*Firefox.*",
                                 "x-debug": "1"},
      "spec.matches.1.methods": ["*"],
      "spec.matches.1.headers": [{"user-agent": ".*Chrome.*"}]}),

    # TCPRoute: metadata only in v1alpha1/2, `spec: {}` in v1alpha3.
    ("tcproutes", "v1alpha1", "plain", """
apiVersion: specs.smi-spec.io/v1alpha1
kind: TCPRoute
metadata:
  name: plain
""", {"metadata.name": "plain"}),
    ("tcproutes", "v1alpha3", "empty-spec", """
apiVersion: specs.smi-spec.io/v1alpha3
kind: TCPRoute
metadata:
  name: empty-spec
spec: {}
""", {"spec": {}}),
    ("tcproutes", "v1alpha4", "db-ports", """
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata:
  name: db-ports
spec:
  matches:
    ports: [5432, 6432]
""", {"spec.matches.ports": [5432, 6432]}),
    ("tcproutes", "v1alpha4", "all-ports", """
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata:
  name: all-ports
spec:
  matches:
    ports: []
""", {"spec.matches.ports": []}),
    ("udproutes", "v1alpha4", "dns", """
apiVersion: specs.smi-spec.io/v1alpha4
kind: UDPRoute
metadata:
  name: dns
spec:
  matches:
    name: dns
    ports: [53]
""", {"spec.matches.ports": [53], "spec.matches.name": "dns"}),

    # TrafficTarget v1alpha1: destination/specs/sources at the top level,
    # destination.port as in the spec's examples.
    ("traffictargets", "v1alpha1", "path-specific", """
apiVersion: access.smi-spec.io/v1alpha1
kind: TrafficTarget
metadata:
  name: path-specific
destination:
  kind: ServiceAccount
  name: service-a
  namespace: default
  port: 8080
specs:
- kind: HTTPRouteGroup
  name: the-routes
  matches:
  - metrics
sources:
- kind: ServiceAccount
  name: prometheus
  namespace: default
""", {"destination.name": "service-a", "destination.port": 8080,
      "specs.0.kind": "HTTPRouteGroup", "specs.0.matches": ["metrics"],
      "sources.0.name": "prometheus"}),
    ("traffictargets", "v1alpha2", "api-access", """
apiVersion: access.smi-spec.io/v1alpha2
kind: TrafficTarget
metadata:
  name: api-access
spec:
  destination:
    kind: ServiceAccount
    name: api
    namespace: default
    port: 8080
  rules:
  - kind: HTTPRouteGroup
    name: api-routes
    matches: ["api"]
  - kind: TCPRoute
    name: db-ports
  sources:
  - kind: ServiceAccount
    name: website
    namespace: default
""", {"spec.destination.port": 8080,
      "spec.rules.0.matches": ["api"], "spec.rules.1.kind": "TCPRoute",
      "spec.sources.0.name": "website"}),
    ("traffictargets", "v1alpha3", "l4-access", """
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata:
  name: l4-access
spec:
  destination:
    kind: ServiceAccount
    name: consul
    namespace: default
  rules:
  - kind: TCPRoute
    name: consul-tcp
  - kind: UDPRoute
    name: consul-udp
  - kind: HTTPRouteGroup
    name: the-routes
    matches: ["metrics"]
  sources:
  - kind: ServiceAccount
    name: consul-agent
    namespace: default
  - kind: ServiceAccount
    name: prometheus
""", {"spec.destination.name": "consul",
      "spec.rules.1.kind": "UDPRoute",
      "spec.rules.2.matches": ["metrics"],
      "spec.sources.1.name": "prometheus"}),
]

# Manifests no version's schema allows: (reason regex, manifest).
REJECTED = [
    ("weight", """
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: fractional}
spec:
  service: web
  backends:
  - {service: web-v1, weight: 0.5}
"""),
    ("backends", """
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: no-backends}
spec:
  service: web
"""),
    ("methods", """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: bad-method}
spec:
  matches:
  - {name: m, methods: [FETCH]}
"""),
    ("ports", """
apiVersion: specs.smi-spec.io/v1alpha4
kind: UDPRoute
metadata: {name: bad-port}
spec:
  matches:
    ports: [70000]
"""),
    ("sources", """
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: no-sources}
spec:
  destination: {kind: ServiceAccount, name: api}
  rules:
  - {kind: TCPRoute, name: t}
"""),
    ("destination", """
apiVersion: access.smi-spec.io/v1alpha1
kind: TrafficTarget
metadata: {name: no-destination}
sources:
- {kind: ServiceAccount, name: web}
"""),
]


def dig(obj, path):
    for key in path.split("."):
        if isinstance(obj, list):
            idx = int(key)
            if idx >= len(obj):
                return "<missing>"
            obj = obj[idx]
        elif isinstance(obj, dict) and key in obj:
            obj = obj[key]
        else:
            return "<missing>"
    return obj


def check_crds():
    for plural, (group, versions, storage) in GROUPS.items():
        crd = h.get("crd", plural + "." + group)
        spec = crd["spec"]
        served = [v["name"] for v in spec["versions"] if v["served"]]
        h.expect_eq(sorted(served), versions, plural + " served versions")
        stored = [v["name"] for v in spec["versions"] if v["storage"]]
        h.expect_eq(stored, [storage], plural + " storage version")
        h.expect_eq(spec.get("conversion", {}).get("strategy"), "None",
                    plural + " conversion")
        h.expect_eq(crd["metadata"].get("labels", {}).get(
            "app.kubernetes.io/name"), "smi-bridge", plural + " label")
        established = [c for c in crd.get("status", {}).get("conditions", [])
                       if c["type"] == "Established"]
        h.check(established and established[0]["status"] == "True",
                plural + " is not Established")


def main():
    check_crds()
    with h.namespace() as ns:
        for plural, version, name, manifest, expect in CASES:
            group, versions, _ = GROUPS[plural]
            what = "%s %s/%s" % (plural, version, name)
            h.apply(manifest, ns)
            # Read back through the version written, then every other one.
            for read in [version] + [v for v in versions if v != version]:
                obj = h.get("%s.%s.%s" % (plural, read, group), name, ns)
                h.expect_eq(obj["apiVersion"], group + "/" + read,
                            what + " read as " + read + ": apiVersion")
                for path, want in expect.items():
                    h.expect_eq(dig(obj, path), want,
                                "%s read as %s: %s" % (what, read, path))
            h.log("ok %s (read back through %s)" % (what, ", ".join(versions)))

        for reason, manifest in REJECTED:
            msg = h.expect_rejected(manifest, ns, reason)
            h.log("rejected as expected: " + msg.strip().splitlines()[-1][:150])

        # Objects keep only what the schemas declare: an unknown field is
        # refused by kubectl's strict validation rather than silently lost.
        h.expect_rejected("""
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: typo}
spec:
  service: web
  backends: [{service: web-v1, weight: 1}]
  backend: []
""", ns, "unknown field")

        listing = json.loads(h.kubectl("get", "smi", "-n", ns, "-o",
                                       "json").stdout)
        h.expect_eq(len(listing["items"]), len(CASES),
                    "objects listed by `kubectl get smi`")


h.run(main)
