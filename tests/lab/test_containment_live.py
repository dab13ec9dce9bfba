"""Traffic never leaves the lab, by construction (docs/containment.md): no route out of the lab
host, its containers or its hand-made namespaces, for the lessons' documentation ranges or any
other address; a fence on the uplink; reset puts both back; doctor says so.

Routes are only asked (`ip route get`, RTM_GETROUTE); the one test that sends packets sends
them to a documentation address after checking that the lab has no route to it, and counts
them on the lab's own interfaces.
"""

from __future__ import annotations

import json
import re

import pytest

from labkit.cli.doctor import gather
from labkit.exercises.lessons._lab import OUTSIDE_SETUP
from labkit.exercises.lessons.lesson5 import SETUP as LESSON5_SETUP
from labkit.model.containment import ADDRESSES

pytestmark = pytest.mark.lab

# The lessons' starting points for "going outside": a container on docker0, the simulated
# outside host (lessons 3-5), lesson 5's hand-made namespaces, one with a default route.
SCENE = ("set -e\ndocker run -dit --name busybox1 busybox sh >/dev/null\n" + OUTSIDE_SETUP
         + LESSON5_SETUP + "ip -n lab-ns0 route add default via 10.15.10.1\n")


def route_get(lab, where: str, dst: str) -> str:
    """`ip route get` in the lab host (`where` = "") or in a namespace (`ip -n NS`)."""
    netns = f"-n {where} " if where else ""
    res = lab.run(f"ip {netns}route get {dst}")
    return res.output.strip()


def assert_ends_inside(report) -> None:
    assert report.contained, "\n".join(str(p) for p in report.leaks())


def test_after_reset_no_address_has_a_way_out(lab):
    for dst in ADDRESSES:
        # The kernel's own words: an `unreachable` route (EHOSTUNREACH), nothing via eth0.
        assert "No route to host" in route_get(lab, "", dst), dst
    report = lab.containment()
    assert_ends_inside(report)
    assert report.uplinks == ("eth0",) and report.fence is True
    assert {p.start for p in report.paths} == {"lab"}


def test_starting_routes_are_the_seal_and_nothing_leads_out(lab):
    routes = lab.sh("ip -4 route show")
    for dst in ("default", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"):
        assert f"unreachable {dst} metric 4294967295" in routes, routes
    assert not re.search(r"^default via", routes, re.M), routes
    fence = lab.sh("nft list table inet labkit_fence")
    assert fence.count('oifname "eth0"') == 2 and fence.count("drop") == 2, fence


def test_lesson_routes_win_and_every_namespace_ends_inside(lab):
    lab.sh(SCENE)
    # out0's connected route beats the seal's 203.0.113.0/24: lesson 3 is unchanged.
    assert route_get(lab, "", "203.0.113.10").startswith("203.0.113.10 dev out0 src 203.0.113.1")
    assert "via 10.15.10.1 dev eth0" in route_get(lab, "lab-ns0", "9.9.9.9")
    report = lab.containment()
    assert_ends_inside(report)
    assert {"lab", "busybox1", "outside", "lab-ns0"} <= {p.start for p in report.paths}
    by = {(p.start, p.dst): p for p in report.paths}
    assert by[("busybox1", "203.0.113.10")].end == "an address of outside"
    assert [h.namespace for h in by[("busybox1", "9.9.9.9")].hops] == ["busybox1", "lab"]
    assert by[("lab-ns0", "198.51.100.1")].end == "no route in lab: dropped there"


def test_reset_takes_out_a_learners_way_out_and_puts_the_seal_back(lab):
    gateway = lab.sh("ip -4 -o addr show eth0 | awk '{print $4}'").split("/")[0]
    gateway = gateway.rsplit(".", 1)[0] + ".1"  # the machine's side of the lab's network
    lab.sh("ip route del unreachable default metric 4294967295\n"
           "ip route del unreachable 203.0.113.0/24 metric 4294967295\n"
           f"ip route add default via {gateway} dev eth0\n"
           "nft delete table inet labkit_fence")
    assert f"via {gateway} dev eth0" in route_get(lab, "", "203.0.113.10")
    broken = lab.containment()
    assert not broken.contained and broken.fence is False
    assert broken.summary().startswith("NO: 2 route(s) lead out of the lab: ")

    report = lab.reset()
    assert report.clean, report.warnings
    did = "\n".join(report.actions)
    for expected in (f"removed route default via {gateway} dev eth0",
                     "restored route unreachable default metric 4294967295",
                     "restored route unreachable 203.0.113.0/24 metric 4294967295",
                     "put up the fence on eth0"):
        assert expected in did, did
    assert_ends_inside(lab.containment())
    assert lab.reset().actions == ()  # and the next reset finds nothing to do


def test_a_packet_to_an_address_with_no_lab_host_is_dropped_inside(lab):
    """busybox1 pings 198.51.100.1 (TEST-NET-2): the packets reach the lab host on docker0 and
    none goes out of eth0, counted by an nft table of the test's own."""
    lab.sh("docker run -dit --name busybox1 busybox sh >/dev/null")
    assert "No route to host" in route_get(lab, "", "198.51.100.1")  # first: no way out
    lab.sh("nft -f - <<'EOF'\n"
           "table inet labkit_test {\n"
           "  chain pre { type filter hook prerouting priority -400;\n"
           "    iifname \"docker0\" ip daddr 198.51.100.1 counter; }\n"
           "  chain post { type filter hook postrouting priority 400;\n"
           "    oifname \"eth0\" counter; }\n"
           "}\nEOF")
    try:
        before = json.loads(lab.sh("ip -j -s link show eth0"))[0]["stats64"]["tx"]["packets"]
        ping = lab.run("docker exec busybox1 ping -c 3 -W 1 198.51.100.1", timeout=30)
        counters = lab.sh("nft list table inet labkit_test")
        after = json.loads(lab.sh("ip -j -s link show eth0"))[0]["stats64"]["tx"]["packets"]
    finally:
        lab.run("nft delete table inet labkit_test")
    assert "3 packets transmitted, 0 packets received" in ping.stdout, ping.output
    arrived, left = (int(n) for n in re.findall(r"counter packets (\d+)", counters))
    assert arrived == 3 and left == 0, counters
    assert after == before


def test_doctor_says_traffic_stays_in_the_lab(lab):
    check = next(c for c in gather() if c.name == "traffic stays in the lab")
    assert check.ok is True, check
    assert check.detail.startswith("yes: ") and "the fence is up on eth0" in check.detail


def test_the_lab_network_is_internal_and_jupyterlab_is_not_on_it(lab, docker_api):
    attrs = docker_api.api.inspect_container(lab.container.id)
    nets = attrs["NetworkSettings"]["Networks"]
    assert len(nets) == 1, nets
    (name,) = nets
    assert docker_api.api.inspect_network(name)["Internal"] is True
    for c in docker_api.api.containers(all=True,
                                       filters={"label": "org.labkit.role=jupyter"}):
        assert name not in docker_api.api.inspect_container(c["Id"])["NetworkSettings"][
            "Networks"], "JupyterLab must not share the lab's network"


def test_a_macvlan_on_the_uplink_sends_nothing_out(lab):
    """A macvlan on eth0 sends through eth0 without eth0 being the output interface: the
    fence at eth0's own egress (nft netdev) stops it. Sent to TEST-NET-2 only."""
    if "unsupported" in lab.sh("cat /run/labkit/baseline/fence-egress"):
        pytest.skip("this kernel has no netdev egress hook (< 5.16): the inet fence stands alone")
    tx = "cat /sys/class/net/eth0/statistics/tx_packets"
    before = lab.sh(tx)
    lab.sh("ip link add mv0 link eth0 type macvlan mode bridge\n"
           "ip addr add 198.51.100.7/24 dev mv0\nip link set mv0 up")
    lab.run("busybox ping -c 2 -W 1 198.51.100.1", timeout=30)
    fence = lab.sh("nft list table netdev labkit_fence")
    assert int(re.search(r"counter packets (\d+)", fence).group(1)) >= 2, fence
    assert lab.sh(tx) == before
