"""TrafficSplit create/update/match/group-change/delete, istio output."""
import harness as h
import ctrl_split

h.run(lambda: ctrl_split.scenario("istio"))
