"""Lesson 2 (is everyone connected?): plug a cable pulled off the bridge back in (break and
fix); predict, then find, the cable down which docker0 sends a frame for a new container (a
transfer of the lesson's method: the bridge's learned MACs, for a container the lesson never
looked at, behind veth names that say nothing)."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

CONTAINER = "busybox4"
ADDRESS = "172.17.0.5"  # busybox4's, the fourth container on docker0
MAC = "02:42:ac:11:00:05"
ANSWER = "/tmp/busybox4-cable"
SENDER = "busybox1"
BUSYBOX2 = "172.17.0.3"
BUSYBOX2_MAC = "02:42:ac:11:00:03"

#: the lab's interface whose index a container's interface names (iflink); drop the @ifN
_PEER_NAME = ("ip -o link | awk -F': ' -v n=\"$peer\" '$1 == n {print $2}' | cut -d@ -f1")


def _cable(lab: Lab, container: str, lab_links: list[dict]) -> dict | None:
    """The lab host's end of a container's eth0 (its port on docker0)."""
    eth0 = next((i for i in _lab.links(lab, container=container)
                 if i.get("ifname") == "eth0"), None)
    return _lab.peer_in_lab(lab, eth0, lab_links) if eth0 else None


def check_cable_off(lab: Lab) -> list[str]:
    problems = _lab.not_running(lab, ("busybox1", "busybox2", "busybox3"))
    if problems:
        return problems
    lab_links = _lab.links(lab)
    outer = _cable(lab, "busybox2", lab_links)
    if outer is None:
        return ["busybox2's eth0 has no other end in the lab host any more: remove busybox2 "
                "and run it again (`docker rm -f busybox2`, then the lesson's `docker run`)"]
    master = outer.get("master")
    if master != "docker0":
        ports = sum(1 for x in lab_links if x.get("master") == "docker0")
        # Said from what the learner can see: the bridge lacks a port (its name is theirs to find).
        where = (f"it is a port of {master} instead" if master else "it is plugged into nothing")
        problems.append(
            f"busybox1 gets no answer from busybox2 ({BUSYBOX2}), and docker0 has {ports} "
            f"port{'s' if ports != 1 else ''} for three running containers (`bridge link`): "
            f"the lab host's end of busybox2's cable is not on docker0, {where}")
    if not _lab.is_up(outer):
        problems.append(f"the lab host's end of busybox2's cable, {outer['ifname']}, is down: "
                        "a port passes nothing until it is up")
    if problems:
        return problems
    if not _lab.ping(lab, BUSYBOX2, container="busybox1"):
        return [f"busybox2's cable is up and on docker0, but busybox1 still gets no answer "
                f"from it: `docker exec busybox1 ping -c 1 {BUSYBOX2}`"]
    return []


def check_which_cable(lab: Lab) -> list[str]:
    problems = _lab.not_running(lab, ("busybox1", "busybox2", "busybox3"))
    if problems:
        return problems
    state = _lab.container_state(lab, CONTAINER)
    if state is None or not state.get("Running"):
        return [f"there is no running container named {CONTAINER} (`docker ps` lists: "
                f"{_lab.names(_lab.container_names(lab))}): start it with "
                f"`docker run -dit --name {CONTAINER} busybox sh`"]
    lab_links = _lab.links(lab)
    truth = _cable(lab, CONTAINER, lab_links)
    if truth is None:
        return [f"{CONTAINER} has no cable to docker0: was it started with a --network other "
                "than the default bridge?"]
    return _answer_problems(lab, truth, lab_links)


def _answer_problems(lab: Lab, truth: dict, lab_links: list[dict]) -> list[str]:
    """What is wrong with the name written in ANSWER (none when it is `truth`'s)."""
    answer = lab.run(f"cat {shlex.quote(ANSWER)}")
    if not answer.ok:
        return [f"{CONTAINER} runs, but {ANSWER} does not exist yet: write into it the name of "
                f"the docker0 port that a frame for {CONTAINER} ({MAC}) leaves the bridge by "
                f"(`echo NAME > {ANSWER}`)"]
    written = answer.stdout.strip().split("@")[0]  # accept "vethabc1234@if7" too
    if not written:
        return [f"{ANSWER} is empty: write the name of the port into it"]
    if written == truth["ifname"]:
        return []
    named = next((x for x in lab_links if x.get("ifname") == written), None)
    if named is None:
        return [f"{ANSWER} says {written!r}, but the lab host has no interface of that name "
                "(`bridge link` lists docker0's ports)"]
    if written == "docker0":
        return [f"{ANSWER} says 'docker0', the bridge itself: a frame leaves the bridge by one "
                "of its ports, a veth end (`bridge link` lists them)"]
    if named.get("master") != "docker0":
        return [f"{ANSWER} says {written!r}, which is not a port of docker0 "
                "(`bridge link` lists them)"]
    if _cable(lab, SENDER, lab_links) == named:
        return [f"{ANSWER} says {written!r}: that is {SENDER}'s cable, the one the echo request "
                "comes IN by, and a bridge never sends a frame back out of the port it came "
                "in by"]
    return [f"{ANSWER} says {written!r}, a port of docker0, but not the one {MAC} is behind: "
            f"which port does the bridge's table name for {CONTAINER}'s MAC (`bridge fdb show "
            "br docker0`)?"]


_THREE = ("docker run -dit --name busybox1 busybox sh\n"
          "docker run -dit --name busybox2 busybox sh\n"
          "docker run -dit --name busybox3 busybox sh\n")

EXERCISES = [
    Exercise(
        id="lesson2/cable-off",
        title="Plug a cable back into the bridge",
        lesson="02-connected.ipynb",
        task=("The cell above broke something on purpose: busybox1 no longer reaches "
              f"busybox2 (`docker exec busybox1 ping -c 1 -W 1 {BUSYBOX2}` gets no answer), "
              f"and docker0's table no longer lists busybox2's MAC, {BUSYBOX2_MAC} "
              "(`bridge fdb show br docker0`). Find what is wrong, without the diagram, and "
              "fix it in the lab host."),
        check=check_cable_off,
        hints=(
            "Is busybox2's cable whole? `docker exec busybox2 ip link show eth0`: LOWER_UP "
            "means both ends are up. Then ask the bridge which cables it has: `bridge link` "
            "(or `brctl show docker0`).",
            "Three containers run, so docker0 should have three ports. Which one is missing? "
            "The number after @if in busybox2's `eth0@ifM` is the index of its cable's end "
            "in the lab host.",
            "`ip -o link | grep '^M:'` (M from busybox2's eth0@ifM) names it; "
            "`ip link set NAME master docker0` (or `brctl addif docker0 NAME`) plugs it in.",
        ),
        solution=(
            "# the lab host's end of busybox2's cable, by its index\n"
            "peer=$(docker exec busybox2 cat /sys/class/net/eth0/iflink)\n"
            f"ip link set \"$({_PEER_NAME})\" master docker0\n"
            f"docker exec busybox1 ping -c 2 {BUSYBOX2}\n"
        ),
        setup=_THREE,
        breaks=(
            "# Break something on purpose: one cable comes off the bridge.\n"
            "peer=$(docker exec busybox2 cat /sys/class/net/eth0/iflink)\n"
            f"ip link set \"$({_PEER_NAME})\" nomaster\n"
        ),
    ),
    Exercise(
        id="lesson2/which-cable",
        title="Which cable does the frame go down?",
        lesson="02-connected.ipynb",
        task=(f"Start a fourth container, `{CONTAINER}` (it gets {ADDRESS}). Then "
              f"{SENDER} pings it: down which of docker0's cables does the bridge send the "
              "echo request? Predict it first, then find out from the lab host, without "
              f"the diagram, and write the name of that port (the lab host's veth end, a "
              f"`veth...` name) into `{ANSWER}`."),
        check=check_which_cable,
        hints=(
            f"The bridge sends a frame for a MAC it has learned out of the one port it learned "
            f"it behind. What is {CONTAINER}'s MAC (`docker exec {CONTAINER} ip link show "
            "eth0`)?",
            f"`bridge fdb show br docker0` lists the learned MACs and their ports. No line for "
            f"{MAC}? The bridge learns a MAC from a frame it sent: ping {CONTAINER} once "
            f"(`docker exec {SENDER} ping -c 1 {ADDRESS}`), then look again.",
            f"The port is the word after `dev` on {MAC}'s line: "
            f"`bridge fdb show br docker0 | grep {MAC}`.",
        ),
        solution=(
            f"docker run -dit --name {CONTAINER} busybox sh\n"
            f"# the bridge learns {CONTAINER}'s MAC from its answer\n"
            f"docker exec {SENDER} ping -c 1 {ADDRESS} > /dev/null\n"
            f"bridge fdb show br docker0 | grep {MAC} | cut -d' ' -f3 > {ANSWER}\n"
            f"cat {ANSWER}\n"
        ),
        setup=_THREE,
    ),
]
