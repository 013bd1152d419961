"""TrafficTarget -> istio authorization; selector follows pods; conflicts."""
import harness as h
import ctrl_access

h.run(lambda: ctrl_access.scenario("istio"))
