"""Lesson 3 (the way out): give a container its way out back (break and fix: the default
route deleted); let the outside host reach a container by routing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

TARGET = "172.17.0.3"  # busybox2
LAB_SIDE = "203.0.113.1"  # the lab host's address on the outside link
OUTSIDE = "203.0.113.10"
GATEWAY = "172.17.0.1"  # docker0
_PID = "pid=$(docker inspect -f '{{.State.Pid}}' busybox1)\n"


def check_way_out(lab: Lab) -> list[str]:
    if not _lab.has_outside(lab):
        return [_lab.NO_OUTSIDE]
    state = _lab.container_state(lab, "busybox1")
    if state is None or not state.get("Running"):
        return ["busybox1 is not running: run the lesson's cell that starts busybox1 and "
                "busybox2 first"]
    table = _lab.routes(lab, container="busybox1")
    default = next((r for r in table if r.get("dst") == "default"), None)
    if default is None:
        return [f"busybox1 gets no answer from the outside host ({OUTSIDE}): its routing "
                f"table has no default route, only `{_lab.route_text(table)}`, so a packet for "
                "any other network has nowhere to go"]
    if default.get("gateway") != GATEWAY:
        return [f"busybox1's default route goes via {default.get('gateway') or 'no router'}, "
                f"but its router is the lab host, {GATEWAY} on docker0"]
    if _lab.ping(lab, OUTSIDE, container="busybox1"):
        return []
    return [f"busybox1's default route is right, but it still gets no answer from "
            f"{OUTSIDE}: are ip_forward and the MASQUERADE rule still there (`sysctl "
            "net.ipv4.ip_forward`, `iptables -t nat -S POSTROUTING`)?"]


def check_route_in(lab: Lab) -> list[str]:
    if not _lab.has_outside(lab):
        return [_lab.NO_OUTSIDE]
    state = _lab.container_state(lab, "busybox2")
    if state is None or not state.get("Running"):
        return ["busybox2 is not running: run the lesson's cell that starts busybox1 and "
                "busybox2 first"]
    route = lab.run(f"ip -n outside -o route get {TARGET}")
    if not route.ok:
        table = lab.run("ip -n outside route").stdout.strip().replace("\n", "; ")
        return [f"the outside host has no route to {TARGET}: its routing table only has "
                f"`{table}`, so it does not know where 172.17.0.0/16 is"]
    words = route.stdout.split()
    via = words[words.index("via") + 1] if "via" in words else None
    if via is None:
        return [f"the outside host thinks {TARGET} is on its own link (`{route.stdout.strip()}`)"
                f": it must send such packets to a router, the lab host ({LAB_SIDE})"]
    if via != LAB_SIDE:
        return [f"the outside host sends packets for {TARGET} via {via}, but only the lab "
                f"host ({LAB_SIDE}) knows the way to 172.17.0.0/16"]
    if _lab.ping(lab, TARGET, ns="outside"):
        return []
    forward = lab.run("sysctl -n net.ipv4.ip_forward").stdout.strip()
    if forward != "1":
        return [f"the outside host's route is right, but ping {TARGET} gets no answer: "
                f"ip_forward is {forward} in the lab host, so it drops packets that are not "
                "for itself"]
    return [f"the outside host's route is right, but ping {TARGET} gets no answer: is "
            "something in the lab host's FORWARD chain dropping it (`iptables -S FORWARD`)?"]


_START = ("docker run -dit --name busybox1 busybox sh\n"
          "docker run -dit --name busybox2 busybox sh\n" + _lab.OUTSIDE_SETUP)

EXERCISES = [
    Exercise(
        id="lesson3/way-out",
        title="Give busybox1 its way out back",
        lesson="03-way-out.ipynb",
        task=("The cell above broke something on purpose: busybox1 still reaches busybox2, but "
              f"no longer the outside host (`docker exec busybox1 ping -c 1 {OUTSIDE}` gets "
              "no answer), while busybox2 does. Find what is missing and put it back."),
        check=check_way_out,
        hints=(
            "Compare how the two containers would send a packet to the outside host: "
            "`docker exec busybox1 ip route` and the same for busybox2.",
            f"busybox1 lost its default route, the one via {GATEWAY}. `docker exec busybox1 ip "
            "route add ...` is refused: a container may not change its own network (it has "
            "no CAP_NET_ADMIN).",
            "The lab host may: `nsenter -t PID -n CMD` runs its CMD in the network namespace "
            "of the process PID, and `docker inspect -f '{{.State.Pid}}' busybox1` prints "
            "busybox1's.",
        ),
        solution=(
            _PID + f'nsenter -t "$pid" -n ip route add default via {GATEWAY}\n'
            f"docker exec busybox1 ping -c 2 {OUTSIDE}\n"
        ),
        setup=_START,
        breaks=("# Break something on purpose: busybox1 loses a route.\n"
                + _PID + 'nsenter -t "$pid" -n ip route del default\n'),
    ),
    Exercise(
        id="lesson3/route-in",
        title="Reach a container from outside by routing",
        lesson="03-way-out.ipynb",
        task=(f"Make the outside host reach busybox2 at its own address, {TARGET}, with no "
              "NAT on the way in: `ip netns exec outside ping 172.17.0.3 -c 1` must get "
              "an answer."),
        check=check_route_in,
        hints=(
            "Ask the outside host how it would send a packet to 172.17.0.3: "
            "`ip -n outside route get 172.17.0.3`.",
            "The outside host needs a route for 172.17.0.0/16 through a router that knows "
            "that network. Which address of the lab host can it reach?",
            f"`ip -n outside route add 172.17.0.0/16 via {LAB_SIDE}` (the lab host already "
            "forwards: ip_forward is 1).",
        ),
        solution=(
            f"ip -n outside route add 172.17.0.0/16 via {LAB_SIDE}\n"
            f"ip netns exec outside ping {TARGET} -c 2\n"
        ),
        setup=_START,
    ),
]
