"""Lesson 1 (docker0): fix a cable that is down (break and fix); find the peer of a
container's second interface by the @ifN numbers (a transfer of the lesson's method: the
second network's bridge, eth1, and veth names that say nothing)."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

CONTAINER = "busybox3"
ANSWER = "/tmp/busybox3-peer"
NETWORK = "backend"
INNER = "eth1"  # busybox3's interface on NETWORK (eth0 is on docker0)
BUSYBOX2 = "172.17.0.3"

#: the lab's interface whose index a container's interface names (iflink); drop the @ifN
_PEER_NAME = ("ip -o link | awk -F': ' -v n=\"$peer\" '$1 == n {print $2}' | cut -d@ -f1")


def _owner_of(lab: Lab, lab_end: dict, containers: list[str]) -> str | None:
    """Which container holds the other end of this lab-side veth (for a helpful message)."""
    for name in containers:
        for itf in _lab.links(lab, container=name):
            if _lab.peer_in_lab(lab, itf, [lab_end]):
                return f"{name}'s {itf['ifname']}"
    return None


def check_cable_down(lab: Lab) -> list[str]:
    problems = _lab.not_running(lab, ("busybox1", "busybox2"))
    if problems:
        return problems
    inside = next((i for i in _lab.links(lab, container="busybox2")
                   if i.get("ifname") == "eth0"), None)
    outer = _lab.peer_in_lab(lab, inside) if inside else None
    if inside is None or outer is None:
        return ["busybox2's eth0 has no other end in the lab host any more: remove busybox2 "
                "and run it again (`docker rm -f busybox2`, then the lesson's `docker run`)"]
    if not _lab.is_up(outer):
        # Said from the container's side: finding the lab's end is the learner's part.
        problems.append(f"busybox1 gets no answer from busybox2 ({BUSYBOX2}): busybox2's eth0 "
                        "is up but has no carrier (NO-CARRIER in `docker exec busybox2 ip link "
                        "show eth0`): the other end of its cable, in the lab host, is down")
    if outer.get("master") != "docker0":
        where = f"attached to {outer['master']}" if outer.get("master") else "attached to nothing"
        problems.append(f"the lab host's end of busybox2's cable, {outer['ifname']}, is {where}:"
                        " it must be a port of docker0 (`ip link set NAME master docker0`)")
    if problems:
        return problems
    if not _lab.ping(lab, BUSYBOX2, container="busybox1"):
        return [f"the cable is up and on docker0, but busybox1 still gets no answer from "
                f"busybox2 ({BUSYBOX2}): `docker exec busybox1 ping -c 1 {BUSYBOX2}`"]
    return []


def check_find_the_peer(lab: Lab) -> list[str]:
    state = _lab.container_state(lab, CONTAINER)
    if state is None:
        return [f"there is no container named {CONTAINER} (`docker ps -a` lists: "
                f"{_lab.names(_lab.container_names(lab))})"]
    if not state.get("Running"):
        return [f"{CONTAINER} exists but is not running (its status is "
                f"{state.get('Status')!r}): start it with `docker start {CONTAINER}`, or "
                f"remove it and run it again with -dit so its shell keeps running"]
    inner = {i.get("ifname"): i for i in _lab.links(lab, container=CONTAINER)}
    if _lab.kind(inner.get("eth0", {})) != "veth":
        return [f"{CONTAINER} has no eth0 veth: was it started with a --network other than "
                "the default bridge?"]
    if _lab.kind(inner.get(INNER, {})) != "veth":
        return [f"{CONTAINER} has no {INNER}: connect it to a second network "
                f"(`docker network create {NETWORK}`, `docker network connect {NETWORK} "
                f"{CONTAINER}`)"]
    lab_links = _lab.links(lab)
    truth = _lab.peer_in_lab(lab, inner[INNER], lab_links)
    if truth is None:
        return [f"{CONTAINER}'s {INNER} has no other end in the lab host (that should not "
                "happen with a bridge network; disconnect and connect it again)"]
    return _answer_problems(lab, truth, inner["eth0"], lab_links)


def _answer_problems(lab: Lab, truth: dict, eth0: dict, lab_links: list[dict]) -> list[str]:
    """What is wrong with the name written in ANSWER (none when it is `truth`'s)."""
    answer = lab.run(f"cat {shlex.quote(ANSWER)}")
    if not answer.ok:
        return [f"{CONTAINER} runs on two networks, but {ANSWER} does not exist yet: write the "
                f"name of the lab-side end of its {INNER}'s veth pair into it "
                f"(`echo NAME > {ANSWER}`)"]
    written = answer.stdout.strip().split("@")[0]  # accept "vethabc1234@if7" too
    if not written:
        return [f"{ANSWER} is empty: write the name of the lab-side end of {CONTAINER}'s "
                f"{INNER} into it"]
    if written == truth["ifname"]:
        return []
    named = next((x for x in lab_links if x.get("ifname") == written), None)
    if named is None:
        return [f"{ANSWER} says {written!r}, but the lab host has no interface of that name "
                "(`ip -o link` lists them all)"]
    if _lab.kind(named) != "veth":
        return [f"{ANSWER} says {written!r}, which is a {_lab.kind(named) or 'plain device'}, "
                "not a veth end"]
    if _lab.peer_in_lab(lab, eth0, [named]):
        return [f"{ANSWER} says {written!r}: that is the other end of {CONTAINER}'s eth0, its "
                f"cable to docker0. The task asks for {INNER}'s, the cable to {NETWORK}'s "
                f"bridge: its @if number is another one"]
    owner = _owner_of(lab, named, [c for c in _lab.container_names(lab) if c != CONTAINER])
    where = f": its other end is {owner}" if owner else ""
    return [f"{ANSWER} says {written!r}, a veth in the lab host, but it is not the other end "
            f"of {CONTAINER}'s {INNER}{where}. Compare the numbers after @if on both sides"]


_TWO = ("docker run -dit --name busybox1 busybox sh\n"
        "docker run -dit --name busybox2 busybox sh\n")

EXERCISES = [
    Exercise(
        id="lesson1/cable-down",
        title="Fix a cable that is down",
        lesson="01-docker0.ipynb",
        task=("The cell above broke something on purpose: busybox1 no longer reaches "
              f"busybox2 (`docker exec busybox1 ping -c 1 {BUSYBOX2}` gets no answer). Find "
              "what is wrong, without the diagram, and fix it in the lab host."),
        check=check_cable_down,
        hints=(
            "Look at busybox2's side first: `docker exec busybox2 ip link show eth0`. What "
            "does its state say, and what does a veth need to have a carrier?",
            "A veth has a carrier only when both ends are up. Which interface of the lab host "
            "is the other end? The number after @if in busybox2's `eth0@ifM` is its index.",
            "`ip -o link | grep '^M:'` (M from busybox2's eth0@ifM) shows it without UP: "
            "`ip link set NAME up`.",
        ),
        solution=(
            "# the lab host's end of busybox2's cable, by its index\n"
            "peer=$(docker exec busybox2 cat /sys/class/net/eth0/iflink)\n"
            f"ip link set \"$({_PEER_NAME})\" up\n"
            f"docker exec busybox1 ping -c 2 {BUSYBOX2}\n"
        ),
        setup=_TWO,
        breaks=(
            "# Break something on purpose: the lab host's end of busybox2's cable goes down.\n"
            "peer=$(docker exec busybox2 cat /sys/class/net/eth0/iflink)\n"
            f"ip link set \"$({_PEER_NAME})\" down\n"
        ),
    ),
    Exercise(
        id="lesson1/find-the-peer",
        title="Find the peer of a second interface",
        lesson="01-docker0.ipynb",
        task=(f"Start a third container, `{CONTAINER}`, and give it a second network: "
              f"`docker network create {NETWORK}`, then `docker network connect {NETWORK} "
              f"{CONTAINER}`. It now has two interfaces, eth0 on docker0 and {INNER} on "
              f"{NETWORK}'s own bridge. Find the lab-side end of its **{INNER}** (the veth "
              f"names say nothing, and there are many), and write its name into `{ANSWER}`."),
        check=check_find_the_peer,
        hints=(
            f"`docker exec {CONTAINER} ip link` lists eth0@ifM and {INNER}@ifK: which number "
            f"belongs to {INNER}'s other end?",
            "The number after @if is an index in the other namespace, the lab host's: "
            "`ip -o link` starts each line with the index.",
            f"`cat /sys/class/net/{INNER}/iflink` inside the container prints K alone; the "
            "lab's line that starts with `K:` is the one (and its master is a br-... "
            f"bridge, {NETWORK}'s).",
        ),
        solution=(
            f"docker run -dit --name {CONTAINER} busybox sh\n"
            f"docker network create {NETWORK}\n"
            f"docker network connect {NETWORK} {CONTAINER}\n"
            f"# the index of {INNER}'s other end, as seen from inside the container\n"
            f"peer=$(docker exec {CONTAINER} cat /sys/class/net/{INNER}/iflink)\n"
            f"{_PEER_NAME} > {ANSWER}\n"
            f"cat {ANSWER}\n"
        ),
        setup=_TWO,
    ),
]
