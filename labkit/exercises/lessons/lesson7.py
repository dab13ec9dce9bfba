"""Lesson 7 (CNI for a real container): find why a container gets no address from a small
network whose leases leaked (break and fix: containers removed without a DEL, and an ADD
that failed half-way); take a container off lab-br1 leaving nothing behind."""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab
from labkit.model import nat

if TYPE_CHECKING:
    from labkit.lab import Lab

PLUGIN = "CNI_PATH=/opt/cni/bin /opt/cni/bin/bridge"

#: The lesson's network, as its cell writes it (article 4's lab-br1).
LAB_BR1 = """\
cat > /root/lab-br1.conf <<"EOF"
{
    "cniVersion": "0.4.0",
    "name": "lab-br1",
    "type": "bridge",
    "bridge": "lab-br1",
    "isGateway": true,
    "ipMasq": true,
    "ipam": {
        "type": "host-local",
        "subnet": "10.15.20.0/24",
        "routes": [
            { "dst": "0.0.0.0/0" }
        ]
    }
}
EOF
"""


def web_run(name: str) -> str:
    """`docker run` of a --net=none busybox web server with a page of its own, as the lesson
    starts lab-web."""
    return (f"docker run --name {name} --net=none -d busybox \\\n"
            f"  sh -c 'echo \"hello from {name}\" > /var/www/index.html && httpd -f -p 80 "
            "-h /var/www'")


def add(name: str, conf: str) -> str:
    """The lesson's ADD for container `name`, its id and namespace from `docker inspect -f`."""
    return (f"CNI_COMMAND=ADD CNI_CONTAINERID=$(docker inspect -f '{{{{.Id}}}}' {name}) \\\n"
            f"  CNI_NETNS=$(docker inspect -f '{{{{.NetworkSettings.SandboxKey}}}}' {name}) \\\n"
            f"  CNI_IFNAME=eth0 {PLUGIN} < {conf}")


# --- break and fix: the leases of a small network leaked ------------------------------------

SMALL = "lab-br2"
SMALL_SUBNET = "10.15.21.0/24"
SMALL_RANGE = ("10.15.21.2", "10.15.21.3")
WEB2 = "lab-web2"

LAB_BR2 = f"""\
cat > /root/lab-br2.conf <<"EOF"
{{
    "cniVersion": "0.4.0",
    "name": "lab-br2",
    "type": "bridge",
    "bridge": "lab-br2",
    "isGateway": true,
    "ipMasq": true,
    "ipam": {{
        "type": "host-local",
        "subnet": "{SMALL_SUBNET}",
        "rangeStart": "{SMALL_RANGE[0]}",
        "rangeEnd": "{SMALL_RANGE[1]}",
        "routes": [
            {{ "dst": "0.0.0.0/0" }}
        ]
    }}
}}
EOF
"""

#: Two containers ADDed to lab-br2 and removed with `docker rm -f` (no DEL: their leases
#: fill the range), then lab-web2, whose ADD fails for want of an address, half-way: the
#: bridge plugin has already made the veth, so lab-web2 keeps an eth0 without an address.
LEAK = (
    "# Break something on purpose: a small network, used for a while, and a new container.\n"
    + LAB_BR2
    + "for name in lab-old1 lab-old2; do\n"
    "  docker run --name $name --net=none -d busybox sleep 3600 > /dev/null\n"
    "  " + add("$name", "/root/lab-br2.conf").replace("\n", "\n  ") + " > /dev/null\n"
    "  docker rm -f $name > /dev/null\n"
    "done\n"
    + web_run(WEB2) + " > /dev/null\n"
    + add(WEB2, "/root/lab-br2.conf") + "; echo\n"
)


def _short(cid: str) -> str:
    """A container id as `docker ps` shortens it, for messages."""
    return cid[:12] + "…" if len(cid) > 12 else cid


def _in_range(ip: str) -> bool:
    low, high = (ipaddress.ip_address(a) for a in SMALL_RANGE)
    return low <= ipaddress.ip_address(ip) <= high


def _page(lab: Lab, ip: str) -> str:
    """What the lab host gets from http://IP/ (a container of the lab's own)."""
    return lab.run(f"curl -s -m 3 http://{ip}/", timeout=10).stdout.strip()


def check_leaked_leases(lab: Lab) -> list[str]:
    if not (_lab.container_state(lab, WEB2) or {}).get("Running"):
        return [f"{WEB2} is not running: run the cell above the task (the one that breaks "
                "the lab) first"]
    ids = _lab.container_ids(lab)
    web2_id = next((cid for cid, name in ids.items() if name == WEB2), "")
    addrs = [c for cidrs in _lab.ipv4(lab, container=WEB2).values() for c in cidrs
             if _lab.in_subnet(c, SMALL_SUBNET)]
    leases = _lab.cni_leases(lab, SMALL)
    if not addrs:
        problems = []
        inner = next((i for i in _lab.links(lab, container=WEB2)
                      if i.get("ifname") == "eth0"), None)
        if inner is not None:
            problems.append(
                f"{WEB2} has an eth0, {'up' if _lab.is_up(inner) else 'down'}, but no address "
                f"in {SMALL_SUBNET} (`docker exec {WEB2} ip addr show eth0`): an ADD made the "
                "cable, then failed before an address was set. What did the plugin say?")
        stale = sorted(ip for ip, cid in leases.items() if cid not in ids)
        if stale:
            problems.append(
                f"host-local's store for {SMALL} (/var/lib/cni/networks/{SMALL}) holds "
                f"{_lab.names(stale)}, of a range that is only {SMALL_RANGE[0]}-"
                f"{SMALL_RANGE[1]}, for container ids no container has (compare the files' "
                "first lines with `docker ps -aq --no-trunc`)")
        elif inner is None:
            problems.append(f"{WEB2} has no eth0 (`docker exec {WEB2} ip addr show`): run the "
                            f"bridge plugin's ADD for it with /root/lab-br2.conf")
        return problems or [f"{WEB2} has no address in {SMALL_SUBNET} yet: run the ADD again"]
    ip = addrs[0].split("/")[0]
    if not _in_range(ip):
        return [f"{WEB2} has {ip}, outside {SMALL}'s range {SMALL_RANGE[0]}-{SMALL_RANGE[1]}: "
                "was the config changed? Keep it, and give addresses back instead"]
    problems = []
    owner = leases.get(ip)
    if owner is None:
        problems.append(f"{WEB2} has {ip}, but host-local has no lease for it (no file "
                        f"/var/lib/cni/networks/{SMALL}/{ip}): the next ADD may give it away "
                        "again. Let the plugin set the address (ADD), not `ip addr add`")
    elif owner != web2_id:
        problems.append(f"host-local's lease for {ip} names the container id {_short(owner)}, "
                        f"not {WEB2}'s ({_short(web2_id)}): run the ADD with CNI_CONTAINERID set "
                        f"to {WEB2}'s own id, or its DEL will never find it")
    if _page(lab, ip) != f"hello from {WEB2}":
        problems.append(f"the lab host gets no page from http://{ip}/ (`curl -s http://{ip}/`):"
                        f" is {WEB2}'s eth0 up, and its cable a port of {SMALL}?")
    return problems + _stale_chains(lab, SMALL, {*ids, *leases.values()})


def _stale_chains(lab: Lab, network: str, live: set[str]) -> list[str]:
    """One problem per CNI-... chain of `network` whose container id is not `live` (no
    container has it, no lease names it): what a DEL without a namespace leaves (the bridge
    plugin finds no eth0 to learn the address from)."""
    rules = _lab.nat_rules(lab)
    jumps = nat.cni_masquerades(rules, network)
    return [f"the nat table still has {chain}, the masquerading chain of container id "
            f"{_short(cid)}, which no container has any more"
            + (f", and POSTROUTING still sends {jumps[chain]} to it: that address is free "
               "again, so a stale rule now matches the next container to get it"
               if chain in jumps else "")
            + ". Its DEL, with no namespace, gave the address back and left the chain: "
            "remove it with iptables, as the lesson did for lab-web"
            for chain, cid in sorted(nat.cni_chains(rules, network).items()) if cid not in live]


# --- the exercise: off lab-br1 with nothing left ---------------------------------------------

BRIDGE = "lab-br1"
WEB3 = "lab-web3"

#: where the cell before the exercise keeps lab-web3's ADD result, as a runtime keeps one
#: (libcni: /var/lib/cni/results); the check's proof that the cell ran (lab.reset() removes it)
RESULT = "/var/lib/cni/lab-web3.json"

#: lab-br1's config, and lab-web3 plugged into it with the lesson's ADD, its result kept (in
#: the notebook, the cell before the exercise).
PLUGGED = (LAB_BR1 + web_run(WEB3) + " > /dev/null\n" + add(WEB3, "/root/lab-br1.conf")
           + f" | tee {RESULT}; echo\n")


def _kept_address(lab: Lab) -> str | None:
    """lab-web3's address in the ADD result the cell kept; None when there is none."""
    found = lab.run(f"cat {RESULT}")
    try:
        ips = json.loads(found.stdout).get("ips") if found.ok else None
        return str(ips[0]["address"]).split("/")[0] if ips else None
    except (ValueError, AttributeError, KeyError, IndexError, TypeError):
        return None


def check_clean_del(lab: Lab) -> list[str]:
    ids = _lab.container_ids(lab)
    if _lab.link(lab, BRIDGE) is None:
        return [f"there is no {BRIDGE}: run the cell before the exercise, which plugs {WEB3} "
                "into it, first"]
    address = _kept_address(lab)
    if address is None and WEB3 not in ids.values():
        # with no trace of lab-web3 at all, "nothing left" would pass untouched
        return [f"nothing shows that {WEB3} was ever plugged into {BRIDGE}: there is no "
                f"container {WEB3}, and no {RESULT}, the ADD result the cell before the "
                f"exercise keeps. Run that cell first: it starts {WEB3} and plugs it in"]
    problems = []
    ports = [i["ifname"] for i in _lab.links(lab) if i.get("master") == BRIDGE]
    if WEB3 in ids.values():
        plugged = any(_lab.in_subnet(c, "10.15.20.0/24") for cidrs in
                      _lab.ipv4(lab, container=WEB3).values() for c in cidrs)
        problems.append(f"{WEB3} still exists (`docker ps -a`)" + (
            f", plugged into {BRIDGE}: take its network away first, while its namespace is "
            "still there" if plugged else ": remove it"))
    for ip, cid in sorted(_lab.cni_leases(lab, BRIDGE).items()):
        owner = ids.get(cid)
        problems.append(f"host-local still holds {ip} for container id {_short(cid)} "
                        + (f"({owner})" if owner else "(no container has it any more)")
                        + f": /var/lib/cni/networks/{BRIDGE}/{ip}")
    rules = _lab.nat_rules(lab)
    jumped = nat.cni_masquerades(rules, BRIDGE)
    for chain, ip in sorted(jumped.items(), key=lambda x: (x[1], x[0])):
        problems.append(f"the nat table still masquerades {ip} through {chain} "
                        "(`iptables -t nat -S POSTROUTING`): the bridge plugin's DEL removes "
                        "that only while the container's eth0 is there to tell it the address"
                        + ("" if WEB3 in ids.values() else "; with the container gone, only "
                           "iptables can, as in the lesson"))
    for chain in sorted(set(nat.cni_chains(rules, BRIDGE)) - set(jumped)):
        problems.append(f"the nat table still has the chain {chain} (`iptables -t nat -S "
                        f"{chain}`): nothing jumps to it any more, but it is there until "
                        f"`iptables -t nat -F {chain}` and `-X {chain}`")
    if ports:
        problems.append(f"{BRIDGE} still has {'a port' if len(ports) == 1 else 'ports'}, "
                        f"{_lab.names(ports)} (`ip link show master {BRIDGE}`)")
    return problems


EXERCISES = [
    Exercise(
        id="lesson7/leaked-leases",
        title="Why lab-web2 gets no address",
        lesson="07-cni-docker.ipynb",
        task=(f"The cell above started `{WEB2}` with `--net=none` and ran the bridge plugin's ADD "
              f"for it with a small network, `{SMALL}` (/root/lab-br2.conf), the way the lesson "
              f"plugged lab-web into lab-br1; it printed an error. Find out what went wrong, "
              f"without changing /root/lab-br2.conf, and plug `{WEB2}` into `{SMALL}` so that "
              f"the lab host gets its page: `curl -s http://ADDRESS/` answers "
              f"\"hello from {WEB2}\". Leave nothing of the containers that are gone: no "
              "lease, no masquerading."),
        check=check_leaked_leases,
        hints=(
            f"Read the error, then look where host-local keeps its leases: "
            f"`ls /var/lib/cni/networks/{SMALL}`. Who holds those addresses? Each file's first "
            "line is a container id (`docker ps -aq --no-trunc` lists the ones that exist).",
            "Their containers were removed without a DEL. A DEL with a lease's id and an empty "
            "CNI_NETNS gives its address back: `CNI_COMMAND=DEL CNI_CONTAINERID=ID CNI_NETNS= "
            f"CNI_IFNAME=eth0 {PLUGIN} < /root/lab-br2.conf`. Their masquerading it cannot "
            "remove (as for lab-web): the chain is CNI- and the first 24 hex digits of "
            f"sha512(\"{SMALL}\" + id), `printf %s \"{SMALL}$ID\" | sha512sum | cut -c 1-24`.",
            f"The failed ADD left {WEB2} an eth0 without an address, and a second ADD stops "
            f"there. A DEL for {WEB2} itself (its own id and SandboxKey) removes it; then "
            "run the ADD again.",
        ),
        solution=(
            f"# give back the addresses of containers that are gone, and remove the\n"
            "# masquerading their DEL cannot (no namespace): the chain named after the id\n"
            f"for f in /var/lib/cni/networks/{SMALL}/10.15.21.*; do\n"
            "  id=$(head -n 1 \"$f\" | tr -d '\\r')\n"
            "  docker inspect \"$id\" > /dev/null 2>&1 && continue\n"
            f"  CNI_COMMAND=DEL CNI_CONTAINERID=$id CNI_NETNS= CNI_IFNAME=eth0 {PLUGIN} "
            "< /root/lab-br2.conf\n"
            f"  CHAIN=CNI-$(printf %s \"{SMALL}$id\" | sha512sum | cut -c 1-24)\n"
            "  eval \"iptables -t nat $(iptables -t nat -S POSTROUTING | grep -- \"-j $CHAIN\" "
            "| sed 's/^-A/-D/')\"\n"
            "  iptables -t nat -F $CHAIN\n"
            "  iptables -t nat -X $CHAIN\n"
            "done\n"
            f"# undo the failed ADD of {WEB2}, then ADD it again\n"
            f"ID=$(docker inspect -f '{{{{.Id}}}}' {WEB2})\n"
            f"NETNS=$(docker inspect -f '{{{{.NetworkSettings.SandboxKey}}}}' {WEB2})\n"
            f"CNI_COMMAND=DEL CNI_CONTAINERID=$ID CNI_NETNS=$NETNS CNI_IFNAME=eth0 {PLUGIN} "
            "< /root/lab-br2.conf\n"
            f"CNI_COMMAND=ADD CNI_CONTAINERID=$ID CNI_NETNS=$NETNS CNI_IFNAME=eth0 {PLUGIN} "
            "< /root/lab-br2.conf > /dev/null\n"
            f"docker exec {WEB2} ip addr show eth0 | grep 'inet '\n"
            "curl -s http://10.15.21.2/\n"
        ),
        setup=LAB_BR1,
        breaks=LEAK,
    ),
    Exercise(
        id="lesson7/clean-del",
        title="Off lab-br1, leaving nothing behind",
        lesson="07-cni-docker.ipynb",
        task=(f"`{WEB3}` is plugged into `{BRIDGE}` like lab-web was. Remove it so that nothing "
              f"of its network is left: no lease in /var/lib/cni/networks/{BRIDGE}, no "
              f"masquerading rule or CNI-... chain for its address, no veth on {BRIDGE}, and "
              f"no container `{WEB3}`. Do it as a runtime should, with the plugin (should the "
              "order go wrong, the lesson's `iptables` lines clean up what the plugin leaves). "
              f"Keep {RESULT}, the ADD's result: the check reads it."),
        check=check_clean_del,
        hints=(
            "Which does the bridge plugin's DEL need to find the address it masqueraded: the "
            "config, the container's id, or its eth0? What happens to the eth0 when the "
            "container goes?",
            "Run the DEL first, while the container and its namespace still exist, with the "
            "same CNI_CONTAINERID, CNI_NETNS and CNI_IFNAME as its ADD (`docker inspect -f`); "
            "then `docker rm -f`.",
        ),
        solution=(
            f"ID=$(docker inspect -f '{{{{.Id}}}}' {WEB3})\n"
            f"NETNS=$(docker inspect -f '{{{{.NetworkSettings.SandboxKey}}}}' {WEB3})\n"
            f"CNI_COMMAND=DEL CNI_CONTAINERID=$ID CNI_NETNS=$NETNS CNI_IFNAME=eth0 {PLUGIN} "
            "< /root/lab-br1.conf\n"
            f"docker rm -f {WEB3}\n"
            f"ls /var/lib/cni/networks/{BRIDGE}\n"
            f"ip link show master {BRIDGE}\n"
            "iptables -t nat -S POSTROUTING | grep 10.15.20 | wc -l\n"
        ),
        setup=PLUGGED,
    ),
]
