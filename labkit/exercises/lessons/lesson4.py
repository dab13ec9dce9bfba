"""Lesson 4 (iptables and -p): fix a hand-made port mapping whose DNAT rule is in the wrong
chain (break and fix); publish a port by hand, with the DNAT rules Docker would write."""

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
BROKEN_PORT = 8081
BROKEN_URL = f"http://203.0.113.1:{BROKEN_PORT}/"

WEB_RUN = (
    "docker run -d --name web -p 8080:80 busybox \\\n"
    f"  sh -c 'echo \"{PAGE}\" > /var/www/index.html && httpd -f -p 80 -h /var/www'\n"
)

# The solution's rules: DNAT for the lab host's own addresses only, like Docker's.
_LOCAL_DNAT = ("iptables -t nat -A {chain} -m addrtype --dst-type LOCAL -p tcp --dport "
               f"{PORT} \\\n  -j DNAT --to-destination {WEB}\n")

_DNAT = re.compile(r"^-A (\S+) .*--dport (\d+)\b.*-j DNAT --to-destination (\S+)")


def _dnat_rules(lab: Lab, port: int = PORT) -> list[tuple[str, str]]:
    """(chain, destination) of every DNAT rule for `port` in the nat table."""
    rules = []
    for line in lab.run("iptables -t nat -S").stdout.splitlines():
        m = _DNAT.match(line)
        if m and int(m.group(2)) == port:
            rules.append((m.group(1), m.group(3)))
    return rules


def _get(lab: Lab, prefix: str, url: str = URL) -> bool:
    result = lab.run(f"{prefix}curl -s -m 3 {url}", timeout=15)
    return result.ok and PAGE in result.stdout


def _web_and_outside(lab: Lab) -> list[str]:
    """What both exercises need first: web running, the outside host made."""
    state = _lab.container_state(lab, "web")
    if state is None or not state.get("Running"):
        return ["the container web is not running: run the lesson's cell that starts it"]
    return [] if _lab.has_outside(lab) else [_lab.NO_OUTSIDE]


def check_wrong_chain(lab: Lab) -> list[str]:
    missing = _web_and_outside(lab)
    if missing:
        return missing
    chains = {chain for chain, _ in _dnat_rules(lab, BROKEN_PORT)}
    problems = []
    if not _get(lab, "ip netns exec outside ", BROKEN_URL):
        where = (f"the only DNAT rule for {BROKEN_PORT} is in {_lab.names(sorted(chains))}"
                 if chains else f"there is no DNAT rule for {BROKEN_PORT} at all")
        problems.append(f"from the outside host, `curl {BROKEN_URL}` does not get web's page: "
                        f"{where}, and packets that arrive from another host never pass "
                        "OUTPUT: they pass the nat table's PREROUTING chain"
                        if "PREROUTING" not in chains else
                        f"from the outside host, `curl {BROKEN_URL}` does not get web's page, "
                        "though PREROUTING has a DNAT rule for it: where does it send them?")
    if not _get(lab, "", BROKEN_URL):
        problems.append(f"from the lab host itself, `curl {BROKEN_URL}` no longer gets web's "
                        "page: keep a rule in OUTPUT for the lab host's own connections")
    return problems


def check_port_by_hand(lab: Lab) -> list[str]:
    missing = _web_and_outside(lab)
    if missing:
        return missing
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
        id="lesson4/wrong-chain",
        title="Fix a port mapping in the wrong chain",
        lesson="04-iptables-p.ipynb",
        task=(f"The cell above published web's port 80 as port {BROKEN_PORT} of the lab host, "
              f"by hand, with one DNAT rule. `curl {BROKEN_URL}` works from the lab host "
              "itself but not from the outside host. Find out why and fix it, so that both "
              "get web's page."),
        check=check_wrong_chain,
        hints=(
            f"Where is the rule? `iptables -t nat -S | grep {BROKEN_PORT}`.",
            "Which chain does a packet from another host pass on its way in, before routing? "
            "And which one a packet the lab host makes itself?",
            "Add the same rule to PREROUTING: `iptables -t nat -A PREROUTING -m addrtype "
            f"--dst-type LOCAL -p tcp --dport {BROKEN_PORT} -j DNAT --to-destination {WEB}`.",
        ),
        solution=(
            f"{_LOCAL_DNAT.format(chain='PREROUTING').replace(str(PORT), str(BROKEN_PORT))}"
            f"ip netns exec outside curl -s {BROKEN_URL}\n"
            f"curl -s {BROKEN_URL}\n"
        ),
        setup=_lab.OUTSIDE_SETUP + WEB_RUN,
        breaks=("# Publish web's port 80 as 8081, by hand: one DNAT rule (in which chain?)\n"
                + _LOCAL_DNAT.format(chain="OUTPUT").replace(str(PORT), str(BROKEN_PORT))),
    ),
    Exercise(
        id="lesson4/port-by-hand",
        title="Publish a port by hand",
        lesson="04-iptables-p.ipynb",
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
