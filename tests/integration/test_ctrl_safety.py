"""Never touch what is not ours; repair what is; bad input loses nothing.

- A VirtualService that smi-bridge does not manage already has the name a
  split would generate: it is left byte-for-byte alone and the split gets a
  Conflict Event.
- A generated object edited by hand is put back; deleted by hand, it is
  recreated.
- An invalid TrafficSplit gets an InvalidSpec Warning and does not stop the
  others; a valid split edited into an invalid one keeps its outputs.
"""

import json

import harness as h
import controller as c

VS = "virtualservices.networking.istio.io"

FOREIGN = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: web-split
spec:
  hosts: [web.example.com]
  http:
  - route:
    - destination:
        host: somewhere-else
"""

SPLIT = """
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata:
  name: %s
spec:
  service: %s
  backends:
  - service: %s-v1
    weight: %s
  - service: %s-v2
    weight: 10
"""


def split(name, weight):
    return SPLIT % (name, name, name, weight, name)


def first_weight(o):
    return o["spec"]["http"][0]["route"][0].get("weight")


def main():
    with h.namespace("safety") as ns:
        c.services(ns, ["web", "web-v1", "web-v2", "api", "api-v1", "api-v2",
                        "bad", "bad-v1", "bad-v2"])
        h.apply(FOREIGN, ns)
        before = h.get(VS, "web-split", ns)
        with c.Controller(ns, "--mesh", "istio") as ctl:
            ctl.wait_ready()

            # Foreign object with our name: untouched, Conflict reported.
            h.apply(split("web", 90), ns)
            c.wait_event(ns, "web", "Conflict", contains="web-split")
            after = h.get(VS, "web-split", ns)
            h.expect_eq(after["metadata"]["resourceVersion"],
                        before["metadata"]["resourceVersion"],
                        "resourceVersion of the foreign VirtualService")
            h.expect_eq(after["spec"], before["spec"], "foreign spec")
            h.check("app.kubernetes.io/managed-by" not in
                    after["metadata"].get("labels", {}),
                    "the foreign VirtualService was labelled as ours")

            # An invalid split does not stop a valid one created after it.
            h.apply(split("bad", -5), ns)
            c.wait_event(ns, "bad", "InvalidSpec", contains="negative")
            h.apply(split("api", 90), ns)
            c.wait_object(VS, "api-split", ns,
                          lambda o: first_weight(o) == 90,
                          what="api-split after an invalid sibling")
            h.check(c.get_json(VS, "bad-split", ns) is None,
                    "an invalid split produced output")

            # Hand edit: repaired.
            h.kubectl("patch", VS, "api-split", "-n", ns, "--type=json",
                      "-p", json.dumps([{
                          "op": "replace",
                          "path": "/spec/http/0/route/0/weight",
                          "value": 1}]))
            c.wait_object(VS, "api-split", ns,
                          lambda o: first_weight(o) == 90,
                          what="api-split repaired after a hand edit")
            # Hand delete: recreated.
            h.kubectl("delete", VS, "api-split", "-n", ns)
            c.wait_object(VS, "api-split", ns,
                          lambda o: first_weight(o) == 90,
                          what="api-split recreated after a hand delete")

            # A bad edit keeps what works.
            rv = h.get(VS, "api-split", ns)["metadata"]["resourceVersion"]
            h.apply(split("api", "-1"), ns)
            c.wait_event(ns, "api", "InvalidSpec")
            live = h.get(VS, "api-split", ns)
            h.expect_eq(live["metadata"]["resourceVersion"], rv,
                        "resourceVersion after an invalid edit")
            h.check(ctl.metric('smi_bridge_translation_errors_total'
                               '{kind="TrafficSplit",reason="InvalidSpec"}')
                    >= 1, "invalid specs are not counted in the metrics")


h.run(main)
