"""Each item of the picture, in the real lab: what a cell does in the kernel shows up in the
diagram drawn after it (the DOT Lab.after_cell() gives, and its text). The same items are
covered on recorded snapshots by tests/unit/test_render*.py; here the kernel's own numbers
and names are compared with what is drawn."""

from __future__ import annotations

import re

import pytest

from labkit.draw.diagram import Diagram
from labkit.lab import NoChange

pytestmark = pytest.mark.lab


def after(lab, command: str) -> Diagram:
    """Run a cell's command and return the diagram drawn after it (it must have changed)."""
    res = lab.run(command, timeout=60)
    assert res.exit_code == 0, res.stderr
    shown = lab.after_cell()
    assert not isinstance(shown, NoChange), f"no diagram after: {command}"
    return shown


def test_veth_ends_are_labelled_as_ip_link_prints_them(lab):
    lab.after_cell()
    lab.run("docker run -dit --name busybox1 busybox sh", check=True)
    shown = lab.after_cell()
    # The kernel's own words: `ip -o link` inside the container and on the lab host.
    inside = lab.sh("docker exec busybox1 ip -o link show eth0")
    index, peer = re.match(r"(\d+): eth0@if(\d+):", inside).groups()
    host_end = lab.sh(f"ip -o link | grep '^{peer}: '")
    host_name = re.match(rf"{peer}: (veth\w+)@if{index}:", host_end).group(1)
    assert f"{index}: eth0@if{peer}" in shown.dot
    assert f"{peer}: {host_name}@if{index}" in shown.dot


def test_a_route_added_or_removed_by_a_cell_is_drawn(lab):
    lab.after_cell()
    after(lab, "ip netns add lab-ns0 && ip link add veth0 type veth peer name veth1 && "
               "ip link set veth1 netns lab-ns0 && "
               "ip netns exec lab-ns0 ip addr add 10.15.10.2/24 dev veth1 && "
               "ip netns exec lab-ns0 ip link set veth1 up")
    added = after(lab, "ip netns exec lab-ns0 ip route add default via 10.15.10.1 && "
                       "ip netns exec lab-ns0 ip route add 10.16.0.0/16 via 10.15.10.9")
    assert "<b>+ default via 10.15.10.1 dev veth1</b>" in added.dot
    assert "<b>+ 10.16.0.0/16 via 10.15.10.9 dev veth1</b>" in added.dot
    assert "lab-ns0" in added.text() and "route" in added.text()
    removed = after(lab, "ip netns exec lab-ns0 ip route del 10.16.0.0/16")
    assert "<s>10.16.0.0/16 via 10.15.10.9 dev veth1</s>" in removed.dot
    # the one left is drawn plainly now
    assert "default via 10.15.10.1 dev veth1" in removed.dot
    assert "+ default via" not in removed.dot


def test_moving_and_renaming_a_veth_end_is_drawn_as_the_same_interface(lab):
    lab.after_cell()
    after(lab, "ip netns add lab-ns0 && ip link add veth0 type veth peer name veth1")
    index = lab.sh("cat /sys/class/net/veth1/ifindex").strip()
    moved = after(lab, "ip link set veth1 netns lab-ns0 && "
                       "ip netns exec lab-ns0 ip link set veth1 name eth0")
    # the same link: its index kept, its old place said, no "-"/"+" pair for it
    assert re.search(rf"{index}: eth0@if\d+", moved.dot)
    assert "was lab:veth1" in moved.dot
    assert "- interface lab:veth1" not in moved.text()
    assert "moved into lab-ns0, renamed eth0" in moved.text()


def test_the_uplink_is_named_so_it_cannot_be_taken_for_the_outside_host(lab):
    shown = lab.draw(focus=["lab"], changes=False)
    uplinks = lab.snapshot().uplinks()
    assert uplinks, "the lab has an uplink to the machine's network"
    assert "lab uplink (sealed)" in shown.dot
    assert "outside" not in shown.dot.lower()
