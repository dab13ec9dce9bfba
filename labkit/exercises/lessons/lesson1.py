"""Lesson 1 (docker0): start a third container and find its veth peer by the @ifN numbers."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

CONTAINER = "busybox3"
ANSWER = "/tmp/busybox3-peer"


def _owner_of(lab: Lab, lab_end: dict, containers: list[str]) -> str | None:
    """Which container holds the other end of this lab-side veth (for a helpful message)."""
    for name in containers:
        for itf in _lab.links(lab, container=name):
            if _lab.peer_in_lab(lab, itf, [lab_end]):
                return f"{name}'s {itf['ifname']}"
    return None


def check_find_the_peer(lab: Lab) -> list[str]:
    state = _lab.container_state(lab, CONTAINER)
    if state is None:
        return [f"there is no container named {CONTAINER} (`docker ps -a` lists: "
                f"{_lab.names(_lab.container_names(lab))})"]
    if not state.get("Running"):
        return [f"{CONTAINER} exists but is not running (its status is "
                f"{state.get('Status')!r}): start it with `docker start {CONTAINER}`, or "
                f"remove it and run it again with -dit so its shell keeps running"]
    inside = next((i for i in _lab.links(lab, container=CONTAINER)
                   if i.get("ifname") == "eth0"), None)
    if inside is None or _lab.kind(inside) != "veth":
        return [f"{CONTAINER} has no eth0 veth: was it started with a --network other than "
                "the default bridge?"]
    lab_links = _lab.links(lab)
    truth = _lab.peer_in_lab(lab, inside, lab_links)
    if truth is None:
        return [f"{CONTAINER}'s eth0 has no other end in the lab host (that should not "
                "happen with the default bridge network; remove the container and run it again)"]

    answer = lab.run(f"cat {shlex.quote(ANSWER)}")
    if not answer.ok:
        return [f"{CONTAINER} runs, but {ANSWER} does not exist yet: write the name of the "
                f"lab-side end of its veth pair into it (`echo NAME > {ANSWER}`)"]
    written = answer.stdout.strip().split("@")[0]  # accept "vethabc1234@if7" too
    if not written:
        return [f"{ANSWER} is empty: write the name of the lab-side end of {CONTAINER}'s veth "
                "pair into it"]
    if written == truth["ifname"]:
        return []
    named = next((x for x in lab_links if x.get("ifname") == written), None)
    if named is None:
        return [f"{ANSWER} says {written!r}, but the lab host has no interface of that name "
                "(`ip -o link` lists them all)"]
    if _lab.kind(named) != "veth":
        return [f"{ANSWER} says {written!r}, which is a {_lab.kind(named) or 'plain device'}, "
                "not a veth end"]
    owner = _owner_of(lab, named, [c for c in _lab.container_names(lab) if c != CONTAINER])
    where = f": its other end is {owner}" if owner else ""
    return [f"{ANSWER} says {written!r}, a veth in the lab host, but it is not the other end "
            f"of {CONTAINER}'s eth0{where}. Compare the numbers after @if on both sides"]


EXERCISES = [
    Exercise(
        id="lesson1/find-the-peer",
        title="Find a container's veth peer",
        lesson="01-docker0.ipynb",
        task=(f"Start a third container, `{CONTAINER}`, the same way as the first two. Then "
              "find the lab-side end of its veth pair from the `@ifN` numbers (not by "
              f"guessing from `brctl show`), and write its name into `{ANSWER}`."),
        check=check_find_the_peer,
        hints=(
            f"`docker run -dit --name {CONTAINER} busybox sh` starts it.",
            f"`docker exec {CONTAINER} ip link show eth0` prints `N: eth0@ifM:`; M is the "
            "index of the other end in the lab host.",
            "`ip -o link` in the lab lists `M: vethXXXXXXX@ifN:`: the line that starts with M "
            "is the one. `cat /sys/class/net/eth0/iflink` inside the container prints M alone.",
        ),
        solution=(
            f"docker run -dit --name {CONTAINER} busybox sh\n"
            "# the index of eth0's other end, as seen from inside the container\n"
            f"peer=$(docker exec {CONTAINER} cat /sys/class/net/eth0/iflink)\n"
            "# the lab's interface with that index; drop the @ifN suffix\n"
            "ip -o link | awk -F': ' -v n=\"$peer\" '$1 == n {print $2}' | cut -d@ -f1 "
            f"> {ANSWER}\n"
            f"cat {ANSWER}\n"
        ),
        setup=(
            "docker run -dit --name busybox1 busybox sh\n"
            "docker run -dit --name busybox2 busybox sh\n"
        ),
    ),
]
