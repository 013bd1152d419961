"""One full controller scenario under valgrind: 0 errors, 0 leaks.

The controller runs under memcheck (--leak-check=full; definite and
indirect leaks count as errors) through a whole life: start-up and
discovery, the initial lists, a TrafficSplit with an HTTPRouteGroup match
and a TrafficTarget with pods (Istio VirtualService and
AuthorizationPolicy), updates of each, a hand edit repaired and a hand
delete recreated, deletes pruned, an invalid edit, then SIGTERM: exit 0,
"ERROR SUMMARY: 0 errors", nothing definitely or indirectly lost.

Only registered in builds without sanitizers (CMake checks the build type
and that valgrind is installed); run in a sanitizer build it fails
instead of pretending to pass.
"""

import json
import os

import harness as h
import controller as c

VS = "virtualservices.networking.istio.io"
AP = "authorizationpolicies.security.istio.io"

GROUP = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata:
  name: routes
spec:
  matches:
  - name: api
    pathRegex: %s
    methods: [GET]
"""

SPLIT = """
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: web
spec:
  service: web
  matches:
  - kind: HTTPRouteGroup
    name: routes
  backends:
  - service: web-v1
    weight: %s
  - service: web-v2
    weight: 10
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
  - kind: HTTPRouteGroup
    name: routes
    matches: [api]
  sources:
  - kind: ServiceAccount
    name: %s
"""

# valgrind slows the controller down some 20-50 times.
SLOW = 120


def weight(o):
    return o["spec"]["http"][0]["route"][0].get("weight")


def main():
    h.check(c.valgrind_wanted(),
            "this scenario needs a build without sanitizers (SB_BUILD_TYPE "
            "is %r); CMake registers it only there" % os.environ.get(
                "SB_BUILD_TYPE", ""))
    with h.namespace("valgrind") as ns:
        c.services(ns, ["web", "web-v1", "web-v2", "api"])
        c.pods(ns, [("api-1", "api", {"app": "api", "tier": "back"}),
                    ("web-1", "web", {"app": "web"})])
        c.service_account(ns, "gw")
        with c.Controller(ns, "--mesh", "istio", valgrind=True) as ctl:
            ctl.wait_ready(timeout=SLOW)

            h.apply(GROUP % "/api", ns)
            h.apply(SPLIT % 90, ns)
            h.apply(TARGET % "web", ns)
            c.wait_object(VS, "web-split", ns, lambda o: weight(o) == 90,
                          timeout=SLOW)
            c.wait_object(AP, "web-to-api-access", ns, lambda o: o["spec"][
                "selector"]["matchLabels"] == {"app": "api",
                                               "tier": "back"},
                          timeout=SLOW)

            # Updates: the split, the group both use, the target's source.
            h.apply(SPLIT % 50, ns)
            c.wait_object(VS, "web-split", ns, lambda o: weight(o) == 50,
                          timeout=SLOW)
            h.apply(GROUP % "/v2", ns)
            c.wait_object(VS, "web-split", ns,
                          lambda o: "/v2" in json.dumps(o["spec"]["http"][0]),
                          timeout=SLOW, what="the group's change rendered")
            h.apply(TARGET % "gw", ns)
            c.wait_object(AP, "web-to-api-access", ns,
                          lambda o: "sa/gw" in json.dumps(o["spec"]),
                          timeout=SLOW, what="the new source principal")

            # Hand edit: repaired. Hand delete: recreated.
            h.kubectl("patch", VS, "web-split", "-n", ns, "--type=json",
                      "-p", json.dumps([{
                          "op": "replace",
                          "path": "/spec/http/0/route/0/weight",
                          "value": 1}]))
            c.wait_object(VS, "web-split", ns, lambda o: weight(o) == 50,
                          timeout=SLOW, what="the hand edit repaired")
            h.kubectl("delete", AP, "web-to-api-access", "-n", ns)
            c.wait_object(AP, "web-to-api-access", ns, timeout=SLOW,
                          what="the hand delete recreated")

            # An invalid edit keeps the outputs and reports.
            h.apply(SPLIT % "-3", ns)
            c.wait_event(ns, "web", "InvalidSpec", timeout=SLOW)

            # Deletes: pruned.
            h.kubectl("delete", "trafficsplit.split.smi-spec.io", "web",
                      "-n", ns)
            h.kubectl("delete", "traffictarget.access.smi-spec.io",
                      "web-to-api", "-n", ns)
            c.wait_gone(VS, "web-split", ns, timeout=SLOW)
            c.wait_gone(AP, "web-to-api-access", ns, timeout=SLOW)
        # Leaving the block: SIGTERM, exit 0, valgrind's verdict checked.
        h.log("valgrind: 0 errors, no definite or indirect leak")


h.run(main)
