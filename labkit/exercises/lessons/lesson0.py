"""Lesson 0 (welcome): make a first bridge in the lab."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

BRIDGE = "hello0"
ADDRESS = "192.0.2.1/24"  # TEST-NET-1: a documentation range, never a real network


def check_first_bridge(lab: Lab) -> list[str]:
    itf = _lab.link(lab, BRIDGE)
    if itf is None:
        return [f"the lab has no interface named {BRIDGE} yet (`ip link show {BRIDGE}` "
                "finds nothing)"]
    problems = []
    if _lab.kind(itf) != "bridge":
        what = _lab.kind(itf) or "plain device"
        problems.append(f"{BRIDGE} exists but it is a {what}, not a bridge: delete it "
                        f"(`ip link delete {BRIDGE}`) and make it again as a bridge")
    have = _lab.ipv4(lab).get(BRIDGE, [])
    if ADDRESS not in have:
        problems.append(f"{BRIDGE} does not have the address {ADDRESS} (it has: "
                        f"{_lab.names(have)})")
    if not _lab.is_up(itf):
        problems.append(f"{BRIDGE} is down: a new interface stays down until you bring it up")
    return problems


EXERCISES = [
    Exercise(
        id="lesson0/first-bridge",
        title="Make your first bridge",
        lesson="00-welcome.ipynb",
        task=(f"Make a bridge named `{BRIDGE}` in the lab, give it the address `{ADDRESS}` "
              "and bring it up."),
        check=check_first_bridge,
        hints=(
            "`ip link add NAME type bridge` makes a bridge (`brctl addbr NAME` does the same).",
            "`ip addr add ADDRESS/PREFIX dev NAME` gives an interface an address.",
            "`ip link set NAME up` brings it up; `ip addr show hello0` shows all three at once.",
        ),
        solution=(
            f"ip link add {BRIDGE} type bridge\n"
            f"ip addr add {ADDRESS} dev {BRIDGE}\n"
            f"ip link set {BRIDGE} up\n"
            f"ip addr show {BRIDGE}\n"
        ),
    ),
]
