"""Leader election with two replicas: exactly one writes; when it dies the
other takes over within the lease duration; a graceful stop hands over at
once (the Lease is released)."""

import json
import time

import harness as h
import controller as c

VS = "virtualservices.networking.istio.io"
LEASE_S, RENEW_S, RETRY_S = 4, 3, 0.5
ELECT = ["--mesh", "istio", "--leader-elect",
         "--leader-elect-lease-duration", "%ds" % LEASE_S,
         "--leader-elect-renew-deadline", "%ds" % RENEW_S,
         "--leader-elect-retry-period", "500ms"]

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
    weight: 10
"""

LEADER = 'leader_election_master_status{name="smi-bridge"}'


def leaders(ctls):
    return [x for x in ctls if x.alive() and x.metric(LEADER) == 1.0]


def holder(ns):
    lease = json.loads(h.kubectl("get", "lease", "smi-bridge", "-n", ns,
                                 "-o", "json").stdout)
    return lease["spec"].get("holderIdentity", "")


def weight_is(w):
    return lambda o: o["spec"]["http"][0]["route"][0].get("weight") == w


def main():
    with h.namespace("leader") as ns:
        c.services(ns, ["web", "web-v1", "web-v2"])
        a = c.Controller(ns, *ELECT, name="a").start()
        b = c.Controller(ns, *ELECT, name="b").start()
        try:
            a.wait_ready()
            b.wait_ready()
            lead = h.wait_for(lambda: leaders([a, b]), timeout=20,
                              what="a leader")
            h.expect_eq(len(lead), 1, "number of leaders")
            leader = lead[0]
            follower = b if leader is a else a
            h.check(holder(ns) != "", "the Lease has no holder")

            h.apply(SPLIT % 90, ns)
            c.wait_object(VS, "web-split", ns, weight_is(90))
            h.check("applied" not in follower.logs(),
                    "the follower wrote objects:\n" + follower.log_tail())

            # The leader dies without releasing: the follower waits for
            # the lease to expire, then writes.
            leader.kill()
            t0 = time.monotonic()
            h.apply(SPLIT % 70, ns)
            c.wait_object(VS, "web-split", ns, weight_is(70), timeout=30,
                          what="the follower taking over")
            took = time.monotonic() - t0
            h.log("takeover after a crash: %.1fs (lease %ds)" % (took,
                                                                 LEASE_S))
            h.check(took <= LEASE_S + RETRY_S + 3,
                    "takeover took %.1fs, more than the lease duration "
                    "(%ds) + retry period + 3s" % (took, LEASE_S))
            h.expect_eq(follower.metric(LEADER), 1.0, "new leader's metric")

            # A third replica; the leader stops gracefully: the Lease is
            # released, so the takeover does not wait for expiry.
            third = c.Controller(ns, *ELECT, name="c").start()
            try:
                third.wait_ready()
                h.expect_eq(third.metric(LEADER), 0.0, "follower's metric")
                t0 = time.monotonic()
                follower.stop()
                h.wait_for(lambda: third.metric(LEADER) == 1.0, timeout=10,
                           what="takeover after a graceful stop")
                took = time.monotonic() - t0
                h.log("takeover after a release: %.1fs" % took)
                h.check(took < LEASE_S, "takeover after release took %.1fs "
                        "(should not wait for the %ds lease)"
                        % (took, LEASE_S))
                h.apply(SPLIT % 60, ns)
                c.wait_object(VS, "web-split", ns, weight_is(60))
            finally:
                third.stop()
        except Exception:
            for x in (a, b):
                print("---- %s ----\n%s" % (x.name, x.log_tail(40)))
            for x in (a, b):
                if x.alive():
                    x.kill()
            raise


h.run(main)
