"""Lesson 3 (iptables and -p): publish a port by hand, with the DNAT rules Docker would write."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

PORT = 9090
WEB = "172.17.0.2:80"
URL = f"http://203.0.113.1:{PORT}/"
PAGE = "hello from web"

WEB_RUN = (
    "docker run -d --name web -p 8080:80 busybox \\\n"
    f"  sh -c 'echo \"{PAGE}\" > /var/www/index.html && httpd -f -p 80 -h /var/www'\n"
)

# The solution's rules: DNAT for the lab host's own addresses only, like Docker's.
_LOCAL_DNAT = ("iptables -t nat -A {chain} -m addrtype --dst-type LOCAL -p tcp --dport "
               f"{PORT} \\\n  -j DNAT --to-destination {WEB}\n")

_DNAT = re.compile(r"^-A (\S+) .*--dport (\d+)\b.*-j DNAT --to-destination (\S+)")


def _dnat_rules(lab: Lab) -> list[tuple[str, str]]:
    """(chain, destination) of every DNAT rule for PORT in the nat table."""
    rules = []
    for line in lab.run("iptables -t nat -S").stdout.splitlines():
        m = _DNAT.match(line)
        if m and int(m.group(2)) == PORT:
            rules.append((m.group(1), m.group(3)))
    return rules


def _get(lab: Lab, prefix: str) -> bool:
    result = lab.run(f"{prefix}curl -s -m 3 {URL}", timeout=15)
    return result.ok and PAGE in result.stdout


def check_port_by_hand(lab: Lab) -> list[str]:
    state = _lab.container_state(lab, "web")
    if state is None or not state.get("Running"):
        return ["the container web is not running: run the lesson's cell that starts it"]
    if "outside" not in _lab.netns_names(lab):
        return ["there is no namespace named outside: run the lesson's cell that makes the "
                "outside host first"]
    problems = []
    rules = _dnat_rules(lab)
    if not rules:
        problems.append(f"the nat table has no DNAT rule for port {PORT} "
                        f"(`iptables -t nat -S | grep {PORT}` finds none)")
    for chain, dest in rules:
        if dest != WEB:
            problems.append(f"the DNAT rule for port {PORT} in {chain} sends packets to {dest},"
                            f" but web listens on {WEB}")
    from_outside = _get(lab, "ip netns exec outside ")
    from_lab = _get(lab, "")
    chains = {chain for chain, _ in rules}
    if not from_outside:
        why = (" Packets that arrive from another host pass the nat table's PREROUTING chain: "
               "is there a rule for them there?" if rules and "PREROUTING" not in chains else "")
        problems.append(f"from the outside host, `curl {URL}` does not get web's page.{why}")
    if not from_lab:
        why = (" The lab host's own packets never pass PREROUTING: they take the nat table's "
               "OUTPUT chain." if rules and "OUTPUT" not in chains else "")
        problems.append(f"from the lab host itself, `curl {URL}` does not get web's page.{why}")
    return problems


EXERCISES = [
    Exercise(
        id="lesson3/port-by-hand",
        title="Publish a port by hand",
        lesson="03-iptables-p.ipynb",
        task=(f"Without Docker's help, make port {PORT} of the lab host lead to web's port 80, "
              f"like `-p {PORT}:80` would: `curl {URL}` must get web's page both from the "
              "outside host and from the lab host itself."),
        check=check_port_by_hand,
        hints=(
            "Copy what Docker did for 8080: `iptables -t nat -S DOCKER` shows its DNAT rule.",
            "A connection from the outside host is translated in the nat table's PREROUTING "
            "chain; one made by the lab host itself in its OUTPUT chain. You need both.",
            # --dst-type LOCAL, as Docker's jumps to DOCKER have: without it the rule would
            # also catch port 9090 to any other address, e.g. a container's to the outside.
            "`iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -p tcp --dport "
            f"{PORT} -j DNAT --to-destination {WEB}` (only for the lab host's own addresses, "
            "as Docker's rules are), then the same rule with OUTPUT in place of PREROUTING.",
        ),
        solution=(
            f"{_LOCAL_DNAT.format(chain='PREROUTING')}"
            f"{_LOCAL_DNAT.format(chain='OUTPUT')}"
            f"ip netns exec outside curl -s {URL}\n"
            f"curl -s {URL}\n"
        ),
        setup=_lab.OUTSIDE_SETUP + WEB_RUN,
    ),
]
