"""A controller watching two namespaces (-n A -n B) keeps them apart.

- TrafficSplits in A and B get their VirtualServices; the same split in a
  namespace C that is not watched gets nothing.
- Deleting a split in A prunes exactly its output: A's other output and
  B's (same name as the pruned one) keep their resourceVersion.
- A restart lists both namespaces again (one reflector per resource and
  namespace): nothing is pruned or rewritten in either, and both are still
  reconciled afterwards. Each namespace's list may sweep only what is
  missing from that namespace; a sweep of the whole resource would drop
  the other namespace's objects from the cache and prune their outputs.
"""

import time

import harness as h
import controller as c

VS = "virtualservices.networking.istio.io"
TS = "trafficsplits.split.smi-spec.io"

SPLIT = """
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: %s
spec:
  service: %s
  backends:
  - service: %s-v1
    weight: %d
  - service: %s-v2
    weight: 10
"""

# How long "nothing happens" is watched for: several reconcile rounds.
SETTLE_S = 3.0


def split(name, weight):
    return SPLIT % (name, name, name, weight, name)


def weight_is(w):
    return lambda o: o["spec"]["http"][0]["route"][0].get("weight") == w


def rvs(nss):
    """{(ns, name): resourceVersion} of every VirtualService we manage."""
    out = {}
    for ns in nss:
        for name in c.names(VS, ns, "app.kubernetes.io/managed-by="
                            "smi-bridge"):
            out[(ns, name)] = c.get_json(VS, name, ns)["metadata"][
                "resourceVersion"]
    return out


def unchanged_for(nss, want, seconds, what):
    """The managed VirtualServices stay exactly `want` for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        h.expect_eq(sorted(rvs(nss).items()), sorted(want.items()), what)
        time.sleep(0.3)


def main():
    with h.namespace("ns-a") as a, h.namespace("ns-b") as b, \
            h.namespace("ns-c") as cns:
        for ns in (a, b, cns):
            c.services(ns, ["web", "web-v1", "web-v2", "api", "api-v1",
                            "api-v2"])
        args = ["--mesh", "istio", "-n", b]
        with c.Controller(a, *args) as ctl:
            ctl.wait_ready()
            h.apply(split("web", 90), a)
            h.apply(split("api", 80), a)
            h.apply(split("web", 70), b)
            h.apply(split("web", 60), cns)
            c.wait_object(VS, "web-split", a, weight_is(90))
            c.wait_object(VS, "api-split", a, weight_is(80))
            c.wait_object(VS, "web-split", b, weight_is(70))
            # C: the split is there, nothing is generated for it.
            h.check(h.exists(TS, "web", cns), "the split in C is missing")
            time.sleep(SETTLE_S)
            h.expect_eq(c.names(VS, cns), [], "VirtualServices in C")
            h.check('namespace="%s"' % cns not in ctl.logs(),
                    "the controller logged something about namespace C")

            # Delete in A: only A's web-split goes.
            before = rvs([a, b])
            h.kubectl("delete", TS, "web", "-n", a)
            c.wait_gone(VS, "web-split", a)
            del before[(a, "web-split")]
            unchanged_for([a, b], before, SETTLE_S,
                          "outputs after deleting A/web")
            h.expect_eq(c.names(VS, cns), [], "VirtualServices in C")

        # Restart: both namespaces are listed again, concurrently.
        before = rvs([a, b])
        h.expect_eq(sorted(before), sorted([(a, "api-split"),
                                            (b, "web-split")]),
                    "outputs before the restart")
        with c.Controller(a, *args, name="restarted") as ctl:
            ctl.wait_ready()
            unchanged_for([a, b], before, SETTLE_S,
                          "outputs after the restart")
            logs = ctl.logs()
            for ns in (a, b):
                h.check("resource=trafficsplits.split.smi-spec.io "
                        "namespace=%s" % ns in logs,
                        "no 'cache synced' line for the TrafficSplits of "
                        "%s" % ns)
            h.check('msg="deleted"' not in logs,
                    "the restarted controller deleted something:\n%s"
                    % ctl.log_tail(40))
            # Both are still reconciled after the restart.
            h.apply(split("api", 50), a)
            h.apply(split("web", 40), b)
            c.wait_object(VS, "api-split", a, weight_is(50))
            c.wait_object(VS, "web-split", b, weight_is(40))
            h.expect_eq(c.names(VS, cns), [], "VirtualServices in C")


h.run(main)
