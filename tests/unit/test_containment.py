"""containment.follow/check: paths through the lab, from kernel answers recorded in the real lab
(busybox1 on docker0, the lessons' outside host on out0, the lab's uplink eth0)."""

from __future__ import annotations

from labkit.model.containment import ADDRESSES, Answer, Report, check, follow

UNREACH = Answer("unreachable", error="No route to host")
# Recorded with `python3 -m labkit.probe.containment` in a lab holding busybox1 and `outside`.
ANSWERS = {
    ("lab", "203.0.113.10", None, None): Answer("unicast", dev="out0", prefsrc="203.0.113.1"),
    ("lab", "203.0.113.10", "172.17.0.2", "docker0"): Answer("unicast", dev="out0"),
    ("outside", "203.0.113.10", None, None): Answer("local", dev="lo"),
    ("outside", "203.0.113.10", "203.0.113.1", "eth0"): Answer("local", dev="lo"),
    ("outside", "203.0.113.10", "172.17.0.2", "eth0"): Answer("local", dev="lo"),
    ("busybox1", "203.0.113.10", None, None): Answer("unicast", dev="eth0",
                                                     gateway="172.17.0.1", prefsrc="172.17.0.2"),
    ("busybox1", "9.9.9.9", None, None): Answer("unicast", dev="eth0", gateway="172.17.0.1",
                                                prefsrc="172.17.0.2"),
}
OWNERS = {"172.17.0.1": [("lab", "docker0")], "172.17.0.2": [("busybox1", "eth0")],
          "203.0.113.1": [("lab", "out0")], "203.0.113.10": [("outside", "eth0")]}
UPLINKS = {"lab": {"eth0"}}


def lookup(ns, dst, src, iif):
    return ANSWERS.get((ns, dst, src, iif), UNREACH)


def test_container_to_outside_host_ends_at_its_address():
    path = follow("busybox1", "203.0.113.10", lookup, OWNERS, UPLINKS)
    assert path.contained and path.end == "an address of outside"
    assert [(h.namespace, h.iif) for h in path.hops] == [
        ("busybox1", None), ("lab", "docker0"), ("outside", "eth0")]
    assert "busybox1: via 172.17.0.1 dev eth0 → lab: dev out0 → outside: local dev lo" in str(path)


def test_unreachable_in_the_lab_host_stops_a_container_packet():
    path = follow("busybox1", "9.9.9.9", lookup, OWNERS, UPLINKS)
    assert path.contained and path.end == "no route in lab: dropped there"
    assert str(path.hops[-1].answer) == "unreachable (No route to host)"


def test_a_route_by_the_uplink_is_a_leak():
    def out(ns, dst, src, iif):  # a learner's `ip route add default via 10.213.87.1`
        if ns == "lab":
            return Answer("unicast", dev="eth0", gateway="10.213.87.1")
        return lookup(ns, dst, src, iif)

    path = follow("busybox1", "9.9.9.9", out, OWNERS, UPLINKS)
    assert not path.contained and path.end == "out of lab by its uplink eth0"
    report = check(["lab", "busybox1"], out, OWNERS, UPLINKS, fence=True)
    assert not report.contained and len(report.leaks()) == len(ADDRESSES) + 2
    assert report.summary().startswith("NO: 6 route(s) lead out of the lab; the fence on eth0 "
                                       "still drops them: ")


def test_an_address_with_no_host_on_an_inner_link_stays_on_that_link():
    def on_link(ns, dst, src, iif):
        return Answer("unicast", dev="out0", prefsrc="203.0.113.1")

    path = follow("lab", "203.0.113.99", on_link, OWNERS, UPLINKS)
    assert path.contained
    assert path.end == "no lab host on lab's out0: dropped on that link, inside the lab"


def test_a_routing_loop_ends():
    def loop(ns, dst, src, iif):
        return Answer("unicast", dev="eth0" if ns == "busybox1" else "docker0",
                      gateway="172.17.0.1" if ns == "busybox1" else "172.17.0.2")

    path = follow("busybox1", "192.0.2.1", loop, OWNERS, {})
    assert path.contained and "routing loop" in path.end and len(path.hops) == 8


def test_report_round_trips_through_json_and_says_yes():
    report = check(["lab", "busybox1", "outside"], lookup, OWNERS, UPLINKS, fence=True)
    assert report.contained
    assert report.summary() == ("yes: 12 routes from 3 namespace(s) end inside the lab; "
                                "the fence is up on eth0")
    assert Report.from_json(report.to_json()) == report


def test_no_uplinks_means_no_fence_to_speak_of():
    report = check(["lab"], lookup, OWNERS, {}, fence=False)
    assert report.fence is None and report.summary().endswith("end inside the lab")
    assert not Report(()).contained  # nothing answered is not a yes
