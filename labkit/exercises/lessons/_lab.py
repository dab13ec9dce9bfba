"""Small read-only questions the checks ask the lab, through iproute2's JSON output.

Each helper runs one command in the lab. A namespace is addressed the way a learner would:
`ns=None` is the lab host, `ns="lab-ns0"` a named one (`ip -n`), and `container="busybox1"`
a container's (`nsenter` into its process).
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from typing import TYPE_CHECKING, Any

from labkit.model import cni, nat

if TYPE_CHECKING:
    from labkit.lab import Lab


def _ip(lab: Lab, args: str, ns: str | None = None, container: str | None = None) -> Any:
    """`ip -j ARGS` in the chosen namespace, parsed; None when the command fails."""
    if container is not None:
        pid = container_pid(lab, container)
        if pid is None:
            return None
        prefix = f"nsenter -t {pid} -n ip"
    elif ns is not None:
        prefix = f"ip -n {shlex.quote(ns)}"
    else:
        prefix = "ip"
    result = lab.run(f"{prefix} -j {args}")
    if not result.ok:
        return None
    try:
        return json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        return None


def links(lab: Lab, ns: str | None = None, container: str | None = None) -> list[dict]:
    """`ip -j -d link show`: one dict per interface (ifname, ifindex, link_index, master,
    flags, linkinfo.info_kind, ...)."""
    return _ip(lab, "-d link show", ns, container) or []


def link(lab: Lab, name: str, ns: str | None = None) -> dict | None:
    return next((x for x in links(lab, ns) if x.get("ifname") == name), None)


def kind(itf: dict) -> str:
    """veth, bridge, ... or "" for a plain device (lo, a physical NIC)."""
    return (itf.get("linkinfo") or {}).get("info_kind", "")


def is_up(itf: dict) -> bool:
    """Administratively up (`ip link set ... up`), whether or not it has a carrier."""
    return "UP" in itf.get("flags", [])


def ipv4(lab: Lab, ns: str | None = None, container: str | None = None) -> dict[str, list[str]]:
    """{ifname: ["10.15.10.2/24", ...]} for IPv4 addresses."""
    found: dict[str, list[str]] = {}
    for itf in _ip(lab, "-4 addr show", ns, container) or []:
        cidrs = [f"{a['local']}/{a['prefixlen']}" for a in itf.get("addr_info", [])
                 if a.get("family") == "inet"]
        if cidrs:
            found[itf["ifname"]] = cidrs
    return found


def routes(lab: Lab, ns: str | None = None, container: str | None = None) -> list[dict]:
    """`ip -j route show`: one dict per route (dst "default" or a prefix, gateway, dev)."""
    return _ip(lab, "route show", ns, container) or []


def route_text(items: list[dict]) -> str:
    """Routes the way `ip route` prints their start, "; "-joined, for messages."""
    words = [" ".join(filter(None, (r.get("dst"), r.get("gateway") and f"via {r['gateway']}",
                                    r.get("dev") and f"dev {r['dev']}"))) for r in items]
    return "; ".join(words) or "none"


def in_subnet(cidr: str, subnet: str) -> bool:
    return ipaddress.ip_interface(cidr).ip in ipaddress.ip_network(subnet)


#: what a check says when the lesson's simulated outside host was not made
NO_OUTSIDE = ("there is no namespace named outside: run the lesson's cell that makes the "
              "outside host first")


def has_outside(lab: Lab) -> bool:
    """Is the lessons' simulated outside host (`ip netns add outside`) there?"""
    return "outside" in netns_names(lab)


def netns_names(lab: Lab) -> list[str]:
    """Named namespaces (`ip netns list`), sorted."""
    return sorted(n["name"] for n in (_ip(lab, "netns list") or []))


def not_running(lab: Lab, names: tuple[str, ...]) -> list[str]:
    """One problem per container of `names` that is not running, saying which to start."""
    which = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    return [f"{name} is not running: run the lesson's cells that start {which} first"
            for name in names
            if not (container_state(lab, name) or {}).get("Running")]


def container_state(lab: Lab, name: str) -> dict | None:
    """`docker inspect NAME`'s State, or None when there is no such container."""
    result = lab.run(f"docker inspect -f '{{{{json .State}}}}' {shlex.quote(name)}")
    return json.loads(result.stdout) if result.ok else None


def container_pid(lab: Lab, name: str) -> int | None:
    state = container_state(lab, name)
    if not state or not state.get("Running"):
        return None
    return state.get("Pid") or None


def container_names(lab: Lab) -> list[str]:
    result = lab.run("docker ps -a --format '{{.Names}}'")
    return sorted(result.stdout.split()) if result.ok else []


def peer_in_lab(lab: Lab, itf: dict, lab_links: list[dict] | None = None) -> dict | None:
    """For a veth end inside a namespace: its other end in the lab host, if it is there.

    The inner end's `link_index` is the outer end's ifindex, and the outer end's
    `link_index` points back at the inner end's ifindex (the `@ifN` numbers of `ip link`)."""
    if kind(itf) != "veth" or "link_index" not in itf:
        return None
    for other in lab_links if lab_links is not None else links(lab):
        if (other.get("ifindex") == itf["link_index"]
                and other.get("link_index") == itf.get("ifindex") and kind(other) == "veth"):
            return other
    return None


def ping(lab: Lab, target: str, *, ns: str | None = None, container: str | None = None) -> bool:
    """One ping, one second to answer, from the lab host, a named namespace or a container.
    Only ever aimed at the lab's own addresses."""
    if container is not None:
        cmd = f"docker exec {shlex.quote(container)} ping -c 1 -W 1 {target}"
    elif ns is not None:
        cmd = f"ip netns exec {shlex.quote(ns)} busybox ping -c 1 -W 1 {target}"
    else:
        cmd = f"busybox ping -c 1 -W 1 {target}"
    return lab.run(cmd, timeout=10).ok


def names(items: list[str]) -> str:
    """"a, b and c" / "none" for messages."""
    if not items:
        return "none"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


#: The simulated "outside" host of lessons 3-5: a namespace joined to the lab host by a veth
#: (out0 in the lab, eth0 inside), on 203.0.113.0/24 (TEST-NET-3, a documentation range, so
#: nothing here can ever be a real outside address).
OUTSIDE_SETUP = """\
ip netns add outside
ip link add out0 type veth peer name eth0 netns outside
ip addr add 203.0.113.1/24 dev out0
ip link set out0 up
ip -n outside addr add 203.0.113.10/24 dev eth0
ip -n outside link set eth0 up
ip -n outside link set lo up
"""


def container_ids(lab: Lab) -> dict[str, str]:
    """{full container id: name} of every container, running or not (`docker ps -a`)."""
    result = lab.run("docker ps -a --no-trunc --format '{{.ID}} {{.Names}}'")
    pairs = (line.split(None, 1) for line in result.stdout.splitlines() if result.ok)
    return {p[0]: p[1] for p in pairs if len(p) == 2}


def cni_store(lab: Lab) -> list[dict[str, str | None]]:
    """host-local's leases, every network's, as the probe reads them (labkit.probe.cni, run in
    the lab: one reader of the store, one parser, labkit.model.cni)."""
    result = lab.run("python3 -m labkit.probe.cni")
    try:
        found = json.loads(result.stdout) if result.ok else None
    except json.JSONDecodeError:
        found = None
    if not isinstance(found, list):  # never "no leases" when the reader did not answer
        raise RuntimeError("the lab did not list host-local's leases (`python3 -m "
                           f"labkit.probe.cni`: {(result.stderr or result.stdout)[-300:]!r}): "
                           "is its image older than this labkit? `labkit up --build`")
    return found


def cni_leases(lab: Lab, network: str) -> dict[str, str]:
    """{address: container id} of host-local's leases for `network` (cni_store)."""
    return cni.leases_of(cni_store(lab), network)


def nat_rules(lab: Lab) -> list[nat.Rule]:
    """The lab's nat table (`iptables-save -t nat`), parsed by labkit.model.nat."""
    return nat.parse_iptables_save(lab.run("iptables-save -t nat").stdout)



# --- the Kubernetes lab (lessons 10 and up) ---------------------------------------------------

#: the Kubernetes lab's nodes, each a network namespace of the lab (k8s/k8s-lab.sh)
K8S_NODES = ("kube-master", "kube-node-1", "kube-node-2")


def cluster_not_up(lab: Lab, no_k8s: str, nodes: tuple[str, ...] = K8S_NODES) -> str | None:
    """Why the cluster cannot be checked yet, or None: `no_k8s` (the lesson's own words) when
    this lab has no kubectl, else which of `nodes` have no namespace."""
    if not lab.run("command -v kubectl").ok:
        return no_k8s
    have = lab.run("ip netns list").stdout.split()
    absent = [node for node in nodes if node not in have]
    if not absent:
        return None
    none = "there is no node" if len(absent) == 1 else "there are no nodes"
    return (f"{none} {names(absent)}: the cluster is not up (`k8s-lab up`, "
            "then the lesson's cells from the top)")


def kube_json(lab: Lab, command: str) -> dict | None:
    """A `kubectl ... -o json` command's answer, or None when it fails or is not JSON."""
    result = lab.run(command, timeout=30)
    if not result.ok:
        return None
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
