"""Lesson 6 (CNI by hand): ask the plugin what is missing (break and fix: the default route
the plugin made deleted, found with CHECK); give the namespace a second network with the
plugin."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab
from labkit.model.cni import LEASES

if TYPE_CHECKING:
    from labkit.lab import Lab

NS = "lab-ns"
CONF_DIR = "/root/test-cni/conf"
GATEWAY = "10.15.10.99"
SUBNET = "10.15.10.0/24"
OUTSIDE = "203.0.113.10"
SECOND = {"name": "lab-br-eth1", "subnet": "10.15.11.0/24", "gateway": "10.15.11.1"}


def plugin(command: str, conf: str, ifname: str = "eth0") -> str:
    """The bridge plugin run by hand on lab-ns, as the lesson's cells run it."""
    return (f"cd {CONF_DIR} && CNI_COMMAND={command} CNI_CONTAINERID={NS} "
            f"CNI_NETNS=/var/run/netns/{NS} CNI_IFNAME={ifname} CNI_PATH=/opt/cni/bin "
            f"/opt/cni/bin/bridge < {conf}")


#: article 3's network, with the trailing comma the lesson removes already gone
LAB_BR0 = """\
{
    "cniVersion": "0.4.0",
    "name": "lab-br0",
    "type": "bridge",
    "bridge": "lab-br0",
    "isGateway": true,
    "ipMasq": true,
    "ipam": {
        "type": "host-local",
        "subnet": "10.15.10.0/24",
        "routes": [
            { "dst": "0.0.0.0/0" }
        ],
        "rangeStart": "10.15.10.100",
        "rangeEnd": "10.15.10.200",
        "gateway": "10.15.10.99"
    }
}
"""

#: The lesson's state at its exercises: lab-ns plugged by ADD, DEL and ADD again (so it has
#: 10.15.10.101), lo up, the outside host, and the CHECK config made from the last result.
SETUP = (
    f"ip netns add {NS}\n"
    f"mkdir -p {CONF_DIR}\n"
    f"cat > {CONF_DIR}/lab-br0.conf <<'EOF'\n{LAB_BR0}EOF\n"
    + plugin("ADD", "lab-br0.conf") + " > /dev/null\n"
    + plugin("DEL", "lab-br0.conf") + "\n"
    + plugin("ADD", "lab-br0.conf") + " > ../result.json\n"
    f"cd {CONF_DIR} && jq --slurpfile r ../result.json '. + {{prevResult: $r[0]}}' "
    "lab-br0.conf > lab-br0-check.conf\n"
    f"ip -n {NS} link set lo up\n"
    + _lab.OUTSIDE_SETUP
)


def _error_message(out: str) -> str:
    """The `msg` (and `details`) of a plugin's error object, else its output as it is."""
    try:
        err = json.loads(out)
    except ValueError:
        return out.strip() or "no message"
    if not isinstance(err, dict):
        return out.strip()
    return "; ".join(str(err[k]) for k in ("msg", "details") if err.get(k)) or out.strip()


def _no_lab_ns(lab: Lab) -> list[str]:
    if NS not in _lab.netns_names(lab):
        return [f"there is no namespace {NS}: run the lesson's cells from the top first"]
    return []


def check_drift(lab: Lab) -> list[str]:
    missing = _no_lab_ns(lab)
    if missing:
        return missing
    if not _lab.has_outside(lab):
        return [_lab.NO_OUTSIDE]
    conf = f"{CONF_DIR}/lab-br0-check.conf"
    if not lab.run(f"test -s {conf}").ok:
        return [f"{conf} is missing: run the lesson's cell that ADDs {NS} again and makes it"]
    checked = lab.run(plugin("CHECK", "lab-br0-check.conf"))
    made = lab.run(f"jq -r '.prevResult.interfaces[] | select(.sandbox) | .mac' {conf}")
    eth0 = _lab.link(lab, "eth0", NS) or {}
    if not checked.ok and made.ok and eth0 and made.stdout.strip() != eth0.get("address"):
        # an ADD since the config was made: CHECK compares with a result that is no more
        return [f"lab-ns's eth0 is not the one in {conf}'s prevResult (its MAC differs): eth0 "
                "was made again by a later ADD. Make the CHECK config from that ADD's result "
                "(the lesson's cell after the second ADD shows how), then CHECK again"]
    if not checked.ok and not _lab.ping(lab, OUTSIDE, ns=NS):
        # the symptom only: reading CHECK's message is the learner's step
        return [f"{NS} gets no answer from {OUTSIDE}, and the plugin's CHECK with "
                "lab-br0-check.conf does not pass: run it, and read what it misses"]
    if not checked.ok:
        return [f"{NS} reaches {OUTSIDE} again, but the plugin's CHECK still fails: "
                f"\"{_error_message(checked.stdout)}\". Put back what it names, as the "
                "plugin made it"]
    defaults = [r for r in _lab.routes(lab, ns=NS) if r.get("dst") == "default"]
    wrong = [r for r in defaults if r.get("gateway") != GATEWAY]
    if wrong:
        # the result's route has no "gw" (the config's route gave none), so CHECK only
        # looks for a default route, not for the router it goes through
        return [f"CHECK passes, but {NS}'s default route goes via "
                f"{wrong[0].get('gateway') or 'no router'}, not {GATEWAY}, the gateway in the "
                "result's \"ips\": CHECK found a default route and could not tell which "
                "router the plugin meant (its route names none)"]
    if not _lab.ping(lab, OUTSIDE, ns=NS):
        return [f"CHECK passes, but {NS} still gets no answer from {OUTSIDE}: is the "
                f"masquerading still there (`iptables-save | grep lab-br`)?"]
    return []


def check_second_network(lab: Lab) -> list[str]:
    missing = _no_lab_ns(lab)
    if missing:
        return missing
    problems = []
    addrs = _lab.ipv4(lab, ns=NS)
    if not any(_lab.in_subnet(c, SUBNET) for c in addrs.get("eth0", [])):
        problems.append(f"{NS}'s eth0 has lost its address in {SUBNET}: keep eth0 as the "
                        "lesson left it")
    defaults = [r for r in _lab.routes(lab, ns=NS) if r.get("dst") == "default"]
    if len(defaults) > 1:
        problems.append(f"{NS} now has {len(defaults)} default routes "
                        f"({_lab.route_text(defaults)}), and the kernel uses the first: the "
                        f"{SECOND['name']} config asked for one more (`routes`). DEL it with "
                        "that config, take `routes` out, and ADD again")
    elif [(r.get("gateway"), r.get("dev")) for r in defaults] != [(GATEWAY, "eth0")]:
        problems.append(f"{NS}'s default route must stay `default via {GATEWAY} dev eth0`; it "
                        f"has: {_lab.route_text(defaults)}")
    net, gw = SECOND["name"], SECOND["gateway"]
    eth1 = [c for c in addrs.get("eth1", []) if _lab.in_subnet(c, SECOND["subnet"])]
    if not eth1:
        if _lab.link(lab, "eth1", NS) is None:
            said = f"{NS} has no eth1 yet"
        else:
            said = (f"{NS}'s eth1 has {', '.join(addrs.get('eth1', [])) or 'no address'}, not "
                    f"an address in {SECOND['subnet']}")
        return problems + [f"{said}: ADD the network {net} with CNI_IFNAME=eth1"]
    address = eth1[0].split("/")[0]
    owner = _lab.cni_leases(lab, net).get(address)
    if owner is None:
        problems.append(f"eth1 has {eth1[0]}, but host-local holds no lease for it in "
                        f"{LEASES}/{net}/: the address must come from the plugin, with a "
                        f"network named {net}")
    elif owner != NS:
        problems.append(f"host-local's lease for {address} is held by {owner!r}, not {NS}: "
                        f"ADD with CNI_CONTAINERID={NS}")
    bridge = _lab.link(lab, net)
    if bridge is None or _lab.kind(bridge) != "bridge":
        problems.append(f"the lab host has no bridge {net}: name it in the config's \"bridge\"")
    elif not any(c.startswith(gw + "/") for c in _lab.ipv4(lab).get(net, [])):
        problems.append(f"the bridge {net} does not have the gateway's address {gw}: "
                        "\"isGateway\": true and \"gateway\" in the config's ipam")
    inner = _lab.link(lab, "eth1", NS) or {}
    outer = _lab.peer_in_lab(lab, inner)
    if outer is None or outer.get("master") != net:
        problems.append(f"{NS}'s eth1 is not cabled to {net} (its peer in the lab host is "
                        f"{(outer or {}).get('ifname', 'not there')})")
    if problems:
        return problems
    if not _lab.ping(lab, gw, ns=NS):
        return [f"{NS} cannot ping {gw} through eth1 yet"]
    return []


EXERCISES = [
    Exercise(
        id="lesson6/check-drift",
        title="Ask the plugin what is missing",
        lesson="06-cni-by-hand.ipynb",
        task=(f"The cell above broke something on purpose: `ip netns exec {NS} ping {OUTSIDE} "
              "-c 1` gets no answer any more. Run the plugin's CHECK (with "
              "`lab-br0-check.conf`, the config that carries the result of the last ADD) to "
              "learn what is missing, put it back, and run CHECK again until it passes."),
        check=check_drift,
        hints=(
            "CHECK is the lesson's CHECK cell with `lab-br0-check.conf`: `cd ~/test-cni/conf`, "
            "then `CNI_COMMAND=CHECK CNI_CONTAINERID=lab-ns CNI_NETNS=/var/run/netns/lab-ns "
            "CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin /opt/cni/bin/bridge < lab-br0-check.conf`.",
            "Its message names a route. Which routes does the result list "
            "(`jq .prevResult.routes lab-br0-check.conf`), and which does lab-ns have "
            "(`ip -n lab-ns route`)?",
            f"The default route through the gateway is gone: `ip -n {NS} route add default "
            f"via {GATEWAY}`, then CHECK again.",
        ),
        solution=(
            f"cd {CONF_DIR.replace('/root', '~')}\n"
            + plugin("CHECK", "lab-br0-check.conf").split(" && ", 1)[1] + "; echo\n"
            f"ip -n {NS} route add default via {GATEWAY}\n"
            + plugin("CHECK", "lab-br0-check.conf").split(" && ", 1)[1]
            + ' && echo "CHECK passed"\n'
            f"ip netns exec {NS} ping {OUTSIDE} -c 1\n"
        ),
        setup=SETUP,
        breaks=("# Break something on purpose: something the plugin made goes.\n"
                f"ip -n {NS} route del default\n"),
    ),
    Exercise(
        id="lesson6/second-network",
        title="A second network",
        lesson="06-cni-by-hand.ipynb",
        task=(f"Give `{NS}` a second interface, `eth1`, on a second network of its own: a "
              f"config for a network named `{SECOND['name']}` with the bridge plugin, bridge "
              f"`{SECOND['name']}`, host-local addresses from {SECOND['subnet']} and the "
              f"gateway {SECOND['gateway']}. ADD it with the plugin (not with `ip`), keep "
              "`eth0` and its default route as they are, and make "
              f"`ip netns exec {NS} ping {SECOND['gateway']} -c 1` get an answer."),
        check=check_second_network,
        hints=(
            "Copy lab-br0.conf to lab-br-eth1.conf and change what names and numbers the network: "
            "name, bridge, subnet, gateway. Then the lesson's ADD with that file.",
            "Two things must differ in the ADD besides the file: the interface is eth1 "
            "(CNI_IFNAME=eth1), and the container id stays lab-ns (it is the same container).",
            "lab-ns already has a default route, through eth0: a `0.0.0.0/0` in lab-br-eth1's "
            "routes would add a second one, through eth1. Leave `routes` out, and `ipMasq` "
            "too: nothing needs to leave through lab-br-eth1.",
        ),
        solution=(
            'cat > ~/test-cni/conf/lab-br-eth1.conf <<"EOF"\n'
            "{\n"
            '    "cniVersion": "0.4.0",\n'
            '    "name": "lab-br-eth1",\n'
            '    "type": "bridge",\n'
            '    "bridge": "lab-br-eth1",\n'
            '    "isGateway": true,\n'
            '    "ipam": {\n'
            '        "type": "host-local",\n'
            '        "subnet": "10.15.11.0/24",\n'
            '        "gateway": "10.15.11.1"\n'
            "    }\n"
            "}\n"
            "EOF\n"
            f"cd {CONF_DIR.replace('/root', '~')}\n"
            + plugin("ADD", "lab-br-eth1.conf", "eth1").split(" && ", 1)[1] + " > /dev/null\n"
            f"ip netns exec {NS} ip -4 addr show eth1 | grep inet\n"
            f"ip netns exec {NS} ping {SECOND['gateway']} -c 1\n"
        ),
        setup=SETUP,
    ),
]
