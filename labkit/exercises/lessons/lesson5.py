"""Lesson 5 (docker0 by hand): find why the way out broke (break and fix: the MASQUERADE rule
deleted); connect a third namespace to the hand-made bridge."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

BRIDGE = "lab-br0"
SUBNET = "10.15.10.0/24"
NEW = "lab-ns2"
OTHERS = {"lab-ns0": "10.15.10.2", "lab-ns1": "10.15.10.3"}

#: The lesson's state when the exercise starts: the bridge and two namespaces, as built cell
#: by cell in the notebook (lab-ns0 on veth0/veth1, lab-ns1 on veth2/veth3).
SETUP = """\
ip link add lab-br0 type bridge
ip addr add 10.15.10.1/24 dev lab-br0
ip link set lab-br0 address 02:42:0a:0f:0a:01
ip link set lab-br0 up
ip netns add lab-ns0
ip link add veth0 type veth peer name veth1
ip link set veth1 netns lab-ns0
ip -n lab-ns0 link set veth1 name eth0
ip -n lab-ns0 addr add 10.15.10.2/24 dev eth0
ip link set veth0 master lab-br0
ip link set veth0 up
ip -n lab-ns0 link set eth0 up
ip -n lab-ns0 link set lo up
ip netns add lab-ns1
ip link add veth2 type veth peer name veth3
ip link set veth3 netns lab-ns1
ip -n lab-ns1 link set veth3 name eth0
ip -n lab-ns1 addr add 10.15.10.3/24 dev eth0
ip link set veth2 master lab-br0
ip link set veth2 up
ip -n lab-ns1 link set eth0 up
ip -n lab-ns1 link set lo up
"""


OUTSIDE = "203.0.113.10"
MASQUERADE = f"-s {SUBNET} ! -o {BRIDGE} -j MASQUERADE"

#: The lesson's state at the break-and-fix: SETUP, default routes, the outside host and the
#: MASQUERADE rule, as the notebook's cells make them.
WAY_OUT = (SETUP + "ip -n lab-ns0 route add default via 10.15.10.1\n"
           "ip -n lab-ns1 route add default via 10.15.10.1\n" + _lab.OUTSIDE_SETUP
           + f"iptables -t nat -A POSTROUTING {MASQUERADE}\n")


def _leads_to_subnet(route: dict) -> bool:
    """A route of the outside host that would carry answers back to SUBNET."""
    dst = route.get("dst", "")
    return dst == "default" or (dst[:1].isdigit() and ipaddress.ip_network(
        dst, strict=False).overlaps(ipaddress.ip_network(SUBNET)))


def check_no_masquerade(lab: Lab) -> list[str]:
    spaces = _lab.netns_names(lab)
    missing = [ns for ns in ("lab-ns0", "outside") if ns not in spaces]
    if missing:
        return [f"{_lab.names(missing)} missing: run the lesson's cells that build the "
                "namespaces and the outside host first"]
    if not any(r.get("dst") == "default" for r in _lab.routes(lab, ns="lab-ns0")):
        return ["lab-ns0 has no default route: it was there before the break "
                "(`ip -n lab-ns0 route add default via 10.15.10.1`)"]
    back = [r for r in _lab.routes(lab, ns="outside") if _leads_to_subnet(r)]
    if back:
        return [f"the outside host now has a route to {SUBNET} (`{_lab.route_text(back)}`): "
                "it stands for the internet, which will never know your private network. "
                "Delete that route and let the lab host translate the source address instead"]
    rules = lab.run("iptables -t nat -S POSTROUTING").stdout
    problems = []
    if "MASQUERADE" not in rules or SUBNET not in rules:
        problems.append(f"lab-ns0's packets leave with their own source, 10.15.10.2, and the "
                        f"outside host has no route back to {SUBNET}: the nat table's "
                        f"POSTROUTING chain has no MASQUERADE rule for {SUBNET} "
                        "(`iptables -t nat -S POSTROUTING`)")
    elif not _lab.ping(lab, OUTSIDE, ns="lab-ns0"):
        problems.append(f"POSTROUTING masquerades {SUBNET}, but lab-ns0 still gets no answer "
                        f"from {OUTSIDE}: does the rule leave out only {BRIDGE} (`! -o "
                        f"{BRIDGE}`)?")
    return problems


def check_third_namespace(lab: Lab) -> list[str]:
    spaces = _lab.netns_names(lab)
    missing = [ns for ns in OTHERS if ns not in spaces]
    if missing or _lab.link(lab, BRIDGE) is None:
        return [f"the lesson's {BRIDGE}, lab-ns0 and lab-ns1 are not all there (missing: "
                f"{_lab.names(missing or [BRIDGE])}): run the lesson's cells that build them "
                "first"]
    if NEW not in spaces:
        return [f"there is no namespace named {NEW} (`ip netns list` shows: "
                f"{_lab.names(spaces)})"]
    addrs = {name: cidrs for name, cidrs in _lab.ipv4(lab, ns=NEW).items()
             if any(_lab.in_subnet(c, SUBNET) for c in cidrs)}
    if not addrs:
        return [f"{NEW} exists but has no interface with an address in {SUBNET}"]
    problems = []
    ifname, cidrs = sorted(addrs.items())[0]
    cidr = next(c for c in cidrs if _lab.in_subnet(c, SUBNET))
    ip = cidr.split("/")[0]
    taken = [ns for ns, addr in {**OTHERS, "the lab host": "10.15.10.1"}.items() if addr == ip]
    if taken:
        problems.append(f"{NEW}'s {ifname} has {ip}, the address {taken[0]} already uses: pick "
                        "a free one, such as 10.15.10.4")
    inner = next((i for i in _lab.links(lab, ns=NEW) if i.get("ifname") == ifname), {})
    if not _lab.is_up(inner):
        problems.append(f"{NEW}'s {ifname} has {cidr} but is down")
    if _lab.kind(inner) != "veth":
        problems.append(f"{NEW}'s {ifname} is a {_lab.kind(inner) or 'plain device'}, not a "
                        "veth end, so it leads nowhere")
        return problems
    outer = _lab.peer_in_lab(lab, inner)
    if outer is None:
        problems.append(f"the other end of {NEW}'s {ifname} is not in the lab host, so it "
                        f"cannot be attached to {BRIDGE}")
        return problems
    if outer.get("master") != BRIDGE:
        where = f"attached to {outer['master']}" if outer.get("master") else "not attached"
        problems.append(f"the other end of {NEW}'s {ifname} is {outer['ifname']} in the lab "
                        f"host, which is {where}: attach it to {BRIDGE}")
    if not _lab.is_up(outer):
        problems.append(f"{outer['ifname']}, the lab host's end of the pair, is down")
    if problems:
        return problems
    for ns, addr in OTHERS.items():
        if not _lab.ping(lab, addr, ns=NEW):
            problems.append(f"{NEW} cannot ping {ns} ({addr}) yet")
    return problems


EXERCISES = [
    Exercise(
        id="lesson5/no-masquerade",
        title="Find why the way out broke",
        lesson="05-docker0-by-hand.ipynb",
        task=("The cell above broke something on purpose: `ip netns exec lab-ns0 ping "
              f"{OUTSIDE} -c 1` gets no answer any more, though lab-ns0 still reaches "
              "lab-br0 and lab-ns1. Find what is missing, without changing the outside host, "
              "and put it back."),
        check=check_no_masquerade,
        hints=(
            "Do the pings reach the outside host, and from which address? `ip netns exec "
            "outside tcpdump -i eth0 -n -c 1 icmp` in a terminal while lab-ns0 pings.",
            f"The outside host cannot answer 10.15.10.2: it has no route to {SUBNET}. What "
            "gave the packets the lab host's address before?",
            f"`iptables -t nat -S POSTROUTING` has no MASQUERADE rule for {SUBNET} any more: "
            f"`iptables -t nat -A POSTROUTING {MASQUERADE}`.",
        ),
        solution=(
            f"iptables -t nat -A POSTROUTING {MASQUERADE}\n"
            f"ip netns exec lab-ns0 ping {OUTSIDE} -c 2\n"
        ),
        setup=WAY_OUT,
        breaks=("# Break something on purpose: a rule goes.\n"
                f"iptables -t nat -D POSTROUTING {MASQUERADE}\n"),
    ),
    Exercise(
        id="lesson5/third-namespace",
        title="Connect a third namespace",
        lesson="05-docker0-by-hand.ipynb",
        task=(f"Make a third namespace, `{NEW}`, connect it to `{BRIDGE}` with a new veth pair, "
              "give it the address 10.15.10.4/24, and make it reach the other two: "
              f"`ip netns exec {NEW} ping 10.15.10.2 -c 1` (and .3) must get answers."),
        check=check_third_namespace,
        hints=(
            "It is the same recipe as for lab-ns1, with new names: a namespace, a veth pair, "
            "one end moved into the namespace, the other end attached to the bridge.",
            "Names must be new: `ip link add veth4 type veth peer name veth5`, then "
            f"`ip link set veth5 netns {NEW}`.",
            "Both ends must be up, and lo inside the namespace too: "
            f"`ip link set veth4 master {BRIDGE}`, `ip link set veth4 up`, "
            f"`ip -n {NEW} link set eth0 up`.",
        ),
        solution=(
            f"ip netns add {NEW}\n"
            "ip link add veth4 type veth peer name veth5\n"
            f"ip link set veth5 netns {NEW}\n"
            f"ip -n {NEW} link set veth5 name eth0\n"
            f"ip -n {NEW} addr add 10.15.10.4/24 dev eth0\n"
            f"ip link set veth4 master {BRIDGE}\n"
            "ip link set veth4 up\n"
            f"ip -n {NEW} link set eth0 up\n"
            f"ip -n {NEW} link set lo up\n"
            f"ip netns exec {NEW} ping 10.15.10.2 -c 2\n"
            f"ip netns exec {NEW} ping 10.15.10.3 -c 2\n"
        ),
        setup=SETUP,
    ),
]
