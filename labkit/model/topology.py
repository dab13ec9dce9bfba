"""The lab's network state as plain frozen dataclasses, and their JSON form.

Pure code (stdlib only, Python 3.10+): it also runs inside the lab. Built from the probe's raw
scan by `labkit.model.build.from_raw`; compared by `labkit.model.diff`. The JSON form is
documented in docs/snapshot-format.md; `labkit.model.formats.SNAPSHOT_FORMAT` changes only on
incompatible changes.

Identities are stable names, never kernel numbers: a namespace is known by its name
("lab", a container's name, an `ip netns` name, "pid 1234"), an interface by
(namespace, ifname). So a diff says "+ veth vethc2f1a9e ↔ busybox1:eth0", not ifindex 7.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from labkit.model.formats import SNAPSHOT_FORMAT
from labkit.model.nat import Masquerade, PortMapping, Proxy
from labkit.model.nginx import HttpRoute
from labkit.model.services import Backend, Service

__all__ = [
    "Address", "Container", "Endpoint", "FdbEntry", "HttpRoute", "Interface", "Namespace",
    "Node", "Pod", "ProbeWarning", "Proxy", "Route", "Service", "Topology", "from_json",
]

# br_netfilter's state (Topology.bridge_nf) in a learner's words.
BRIDGE_NF_WORDS = {"on": "bridged traffic goes through iptables",
                   "off": "bridged traffic skips iptables (bridge-nf-call-iptables=0)",
                   "not loaded": "br_netfilter not loaded: bridged traffic skips iptables"}
# The lab host's filter facts (Topology attributes), in the order they are said.
HOST_FACTS = ("forward_policy", "bridge_nf")

# Namespace kinds, in the order they are listed and drawn.
NAMESPACE_KINDS = ("lab", "container", "netns", "pod", "docker", "process")


@dataclass(frozen=True)
class Address:
    address: str
    prefixlen: int
    family: int = 4
    scope: str = "global"

    def __str__(self) -> str:
        return f"{self.address}/{self.prefixlen}"


@dataclass(frozen=True)
class Endpoint:
    """Where the other end of a veth (or a vlan's lower device) is: namespace and ifname."""

    namespace: str
    interface: str

    def __str__(self) -> str:
        return f"{self.namespace}:{self.interface}"


@dataclass(frozen=True)
class Interface:
    name: str
    index: int
    kind: str  # veth, bridge, loopback, vxlan, tun, dummy, vlan, macvlan, device, ...
    state: str  # operstate as `ip link` shows it: UP, DOWN, UNKNOWN, LOWERLAYERDOWN
    up: bool  # administratively up (IFF_UP)
    mac: str | None = None
    mtu: int | None = None
    addresses: tuple[Address, ...] = ()
    master: str | None = None  # the bridge it is a port of (same namespace)
    peer: Endpoint | None = None  # veth: the other end
    lower: Endpoint | None = None  # vlan/macvlan/vxlan: the device underneath
    alias: str | None = None  # e.g. the docker network a bridge belongs to
    info: tuple[tuple[str, Any], ...] = ()  # kind-specific details (vxlan id, tun type, ...)


@dataclass(frozen=True)
class Route:
    dst: str  # "default" or a prefix
    dev: str | None = None
    gateway: str | None = None
    prefsrc: str | None = None
    protocol: str = "kernel"
    scope: str = "global"
    type: str = "unicast"
    family: int = 4

    def __str__(self) -> str:
        """As `ip route` prints it: a host route without its /32 (/128)."""
        dst = self.dst.removesuffix("/32" if self.family == 4 else "/128")
        parts = [dst if self.type == "unicast" else f"{self.type} {dst}"]
        if self.gateway:
            parts.append(f"via {self.gateway}")
        if self.dev:
            parts.append(f"dev {self.dev}")
        return " ".join(parts)


@dataclass(frozen=True)
class FdbEntry:
    """A MAC the bridge learned (or was given, state "static") on one of its ports."""

    mac: str
    bridge: str
    port: str
    vlan: int | None = None
    state: str = "learned"


@dataclass(frozen=True)
class Container:
    name: str
    id: str  # the short id (12 hex digits)
    network_mode: str = "default"
    networks: tuple[str, ...] = ()
    image: str = ""  # as it was started ("busybox"); "" in snapshots recorded before it


@dataclass(frozen=True)
class Pod:
    """A Kubernetes pod: its namespace is its pause container's (k8s_POD_...), which the
    pod's containers join (`--network container:`)."""

    name: str
    namespace: str = "default"  # the Kubernetes namespace (not a network namespace)
    containers: tuple[str, ...] = ()  # its containers' names in the pod, the pause one left out
    pause: str = ""  # the pause container's Docker name

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Node:
    """A Kubernetes node of the lab (k8s/k8s-lab.sh): an `ip netns` namespace (and a mount
    namespace) in which its programs run; a worker has an engine of its own."""

    name: str  # its `ip netns` name, which is also its Kubernetes node name
    programs: tuple[str, ...] = ()  # kubelet, kube-proxy, dockerd; etcd, kube-apiserver, ...
    engine: bool = False  # a dockerd of its own runs its pods

    @property
    def role(self) -> str:
        return "worker" if self.engine or "kubelet" in self.programs else "control plane"


@dataclass(frozen=True, order=True)
class Lease:
    """An address the CNI host-local plugin handed out (a file in /var/lib/cni/networks)."""

    network: str  # the CNI network's name (the config's "name")
    address: str
    container: str  # the CNI_CONTAINERID it went to
    ifname: str | None = None  # CNI_IFNAME, host-local's second line (None: no such line)

    def __str__(self) -> str:
        to = " ".join(filter(None, (self.container, self.ifname)))
        return f"lease {self.network} {self.address} → {to}"


@dataclass(frozen=True)
class ProbeWarning:
    """Something the probe saw but could not make sense of; kept as data, drawn in red."""

    message: str
    namespace: str | None = None
    interface: str | None = None
    level: str = "warning"  # "warning", or "info" for expected gaps (the lab's own uplink)

    def __str__(self) -> str:
        where = ":".join(p for p in (self.namespace, self.interface) if p)
        return f"{self.level}: {where + ': ' if where else ''}{self.message}"


@dataclass(frozen=True)
class Namespace:
    name: str
    kind: str  # lab, container, netns, docker (a sandbox with no container), process
    inode: int = 0
    containers: tuple[Container, ...] = ()
    netns: tuple[str, ...] = ()  # its `ip netns` names
    pid: int | None = None  # for kind "process": the process holding it
    command: str | None = None
    interfaces: tuple[Interface, ...] = ()
    routes: tuple[Route, ...] = ()
    fdb: tuple[FdbEntry, ...] = ()
    # Kubernetes (absent from the JSON when None): the node it is on (for a node's own
    # namespace, its own name), and for kind "pod" the pod.
    node: str | None = None
    pod: Pod | None = None

    def interface(self, name: str) -> Interface | None:
        return next((i for i in self.interfaces if i.name == name), None)

    @property
    def label(self) -> str:
        """What a learner calls it: the container name, `ip netns` name, or process (a
        containerd task's process: the task's id, which stays the same from run to run)."""
        if self.kind == "process" and self.name == f"pid {self.pid}":
            return f"{self.command or '?'} (pid {self.pid})"
        return self.name


@dataclass(frozen=True)
class Topology:
    namespaces: tuple[Namespace, ...] = ()
    port_mappings: tuple[PortMapping, ...] = ()
    masquerades: tuple[Masquerade, ...] = ()
    warnings: tuple[ProbeWarning, ...] = ()
    # The lab host's filter table FORWARD policy ("ACCEPT", "DROP"): with DROP, only what
    # docker's rules accept is routed. None: not known (iptables-save failed, an old snapshot).
    forward_policy: str | None = None
    # Whether iptables sees frames the lab's bridges forward (br_netfilter, the lab's own
    # net.bridge.bridge-nf-call-iptables): "on", "off", "not loaded", or None (not known).
    bridge_nf: str | None = None
    # docker-proxy listeners, sorted.
    proxies: tuple[Proxy, ...] = ()
    # host-local's leases (the CNI lessons), sorted.
    leases: tuple[Lease, ...] = ()
    # Kubernetes nodes, by name (absent from the JSON when none).
    nodes: tuple[Node, ...] = ()
    # Kubernetes Service ports as the nodes' kube-proxies wrote them (absent when none).
    services: tuple[Service, ...] = ()
    # An nginx proxy's routes, from its config file (lesson 14's our-ingress; absent when none).
    http_routes: tuple[HttpRoute, ...] = ()
    # How the probe ran (time taken, pyroute2 version): not part of the state.
    probe: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    def namespace(self, name: str) -> Namespace | None:
        return next((n for n in self.namespaces if n.name == name), None)

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    @property
    def lab(self) -> Namespace | None:
        return next((n for n in self.namespaces if n.kind == "lab"), None)

    def owner_of(self, ip: str) -> Endpoint | None:
        """The (namespace, interface) holding address `ip`, if any."""
        for ns in self.namespaces:
            for itf in ns.interfaces:
                if any(a.address == ip for a in itf.addresses):
                    return Endpoint(ns.name, itf.name)
        return None

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        d = _to_plain(self)
        d["format"] = SNAPSHOT_FORMAT
        return d

    def published(self) -> list[tuple[PortMapping, Any]]:
        """(mapping, endpoint it leads to) for the port mappings that lead into another
        namespace; docker's embedded-DNS rules (127.0.0.11) lead nowhere drawable."""
        lab = self.lab.name if self.lab else None
        out = []
        for pm in self.port_mappings:
            target = self.owner_of(pm.to_ip)
            if target is not None and target.namespace != lab:
                out.append((pm, target))
        return out

    def uplinks(self) -> set[tuple[str | None, str | None]]:
        """(namespace, interface) of the lab's own links to the machine's network. Their
        address and MAC come from wherever the lab was started (the compose network), so
        drawings and summaries leave them out: lesson outputs must not depend on it."""
        return {(w.namespace, w.interface) for w in self.warnings
                if w.level == "info" and w.interface}

    def host_fact(self, attr: str) -> str | None:
        """One of the lab host's filter facts in words (`forward_policy`, `bridge_nf`), or
        None when the snapshot did not read it."""
        value = getattr(self, attr)
        if value is None:
            return None
        if attr == "forward_policy":
            return f"FORWARD policy {value}"
        return BRIDGE_NF_WORDS.get(value, f"br_netfilter {value}")

    def host_facts(self) -> list[str]:
        """The lab host's filter facts in words: FORWARD's policy, br_netfilter's state."""
        return [f for f in map(self.host_fact, HOST_FACTS) if f is not None]

    def summary(self) -> str:
        """A stable short text: one line per namespace, then NAT and warnings."""
        lines = []
        uplinks = self.uplinks()
        for ns in self.namespaces:
            itfs = sorted((i for i in ns.interfaces if i.kind != "loopback"),
                          key=interface_order)
            desc = ", ".join(f"{i.name} (uplink)" if (ns.name, i.name) in uplinks
                             else interface_short(i) for i in itfs) or "only lo"
            also = [c.name for c in ns.containers if c.name != ns.name and ns.pod is None]
            also += [n for n in ns.netns if n != ns.name]
            kind = ns.kind + (f"; also {', '.join(also)}" if also else "")
            if ns.pod is not None:
                kind = (f"pod {ns.pod} on {ns.node}: "
                        + (", ".join(ns.pod.containers) or "(only pause)"))
            elif ns.node is not None:
                kind += f"; node {ns.node}" if ns.node != ns.name else "; node"
            lines.append(f"{ns.label} ({kind}): {desc}")
        for pm, target in self.published():
            lines.append(f"port {pm} ({target})")
        for m in self.masquerades:
            lines.append(str(m))
        lines += [str(p) for p in self.proxies]
        lines += [str(lease) for lease in self.leases]
        lines += [str(svc) for svc in self.services]
        lines += [str(r) for r in self.http_routes]
        host = self.host_facts()
        if host:
            lines.append("lab host: " + ", ".join(host))
        for w in self.warnings:
            if w.level == "warning":
                lines.append(str(w))
        return "\n".join(lines)


#: random veth names: Docker's (veth + 7 hex) and the CNI bridge plugin's (veth + 8 hex)
RANDOM_VETH = re.compile(r"^veth[0-9a-f]{7,8}$")


def interface_order(itf: Interface) -> tuple:
    """A stable order for a namespace's interfaces: by kind, then by what they lead to. Not
    by ifindex (a lab made afresh numbers its own uplink above the links lessons add) nor by
    Docker's random veth names."""
    rank = {"loopback": 0, "device": 1, "bridge": 2, "veth": 4}.get(itf.kind, 3)
    if itf.kind == "veth" and itf.peer is not None:
        # The pair's chosen name first (eth0, eth1 inside a namespace), not a random one:
        # two cables into one namespace swapped places from run to run.
        names = ((itf.peer.interface, itf.name) if RANDOM_VETH.match(itf.name)
                 else (itf.name, itf.peer.interface))
        return (rank, natural_key(itf.peer.namespace), *map(natural_key, names))
    if itf.kind == "bridge":
        return (rank, natural_key(itf.alias or ""), natural_key(itf.name))
    return (rank, natural_key(itf.name))


def namespace_order(ns: Namespace) -> tuple:
    """Namespaces by kind (the lab first), then by name."""
    rank = NAMESPACE_KINDS.index(ns.kind) if ns.kind in NAMESPACE_KINDS else 99
    return (rank, natural_key(ns.name))


def route_key(r: Route) -> tuple:
    return (r.family, r.dst != "default", r.dst, r.dev or "", r.gateway or "", r.type)


def fdb_key(f: FdbEntry) -> tuple:
    return (f.bridge, f.mac, f.vlan or 0, f.port)


def interface_short(i: Interface, peer: bool = True) -> str:
    """One interface in a few words: "eth0↔lab:veth1@br0 10.0.0.2/24", "bridge br0 ..."."""
    s = i.name
    if peer and i.peer is not None:
        s += f"↔{i.peer}"
    if i.master:
        s += f"@{i.master}"
    addrs = [str(a) for a in i.addresses if a.scope != "link"]
    if addrs:
        s += " " + " ".join(addrs)
    if i.kind not in ("veth", "device"):
        s = f"{i.kind} {s}"
    return s


def natural_key(name: str) -> tuple:
    """Sort "c2" before "c10": digits compare as numbers (strings and ints alternate)."""
    parts = re.split(r"(\d+)", name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def is_hairpin(m: Masquerade) -> bool:
    """Docker's per-port MASQUERADE (a container reaching its own published port)."""
    return bool(m.source) and m.source == m.destination


# --- JSON ---------------------------------------------------------------------------------

#: fields left out of the JSON while they hold their default: added with Kubernetes, so every
#: snapshot of a lab without a cluster keeps its bytes
_OMITTED_WHEN_EMPTY = {("Namespace", "node"), ("Namespace", "pod"), ("Topology", "nodes"),
                       ("Topology", "services"), ("Topology", "http_routes")}


def _to_plain(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        out = {}
        for f in fields(obj):
            v = getattr(obj, f.name)
            if (type(obj).__name__, f.name) in _OMITTED_WHEN_EMPTY and not v:
                continue
            if f.name in ("info", "probe"):
                out[f.name] = {k: _to_plain(x) for k, x in v}
            else:
                out[f.name] = _to_plain(v)
        return out
    if isinstance(obj, tuple):
        return [_to_plain(x) for x in obj]
    return obj


def _from_plain(cls: type, d: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        sub = _NESTED.get((cls.__name__, f.name))
        if f.name in ("info", "probe"):
            v = tuple(sorted((k, freeze(x)) for k, x in (v or {}).items()))
        elif sub is not None and isinstance(v, list):
            v = tuple(_from_plain(sub, x) for x in v)
        elif sub is not None and v is not None:
            v = _from_plain(sub, v)
        elif isinstance(v, list):
            v = tuple(v)
        kwargs[f.name] = v
    return cls(**kwargs)


def freeze(v: Any) -> Any:
    """JSON data made hashable: lists become tuples, dicts sorted (key, value) tuples."""
    if isinstance(v, list):
        return tuple(freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, freeze(x)) for k, x in v.items()))
    return v


_NESTED: dict[tuple[str, str], type] = {
    ("Topology", "namespaces"): Namespace,
    ("Topology", "port_mappings"): PortMapping,
    ("Topology", "masquerades"): Masquerade,
    ("Topology", "warnings"): ProbeWarning,
    ("Topology", "proxies"): Proxy,
    ("Topology", "leases"): Lease,
    ("Topology", "nodes"): Node,
    ("Topology", "services"): Service,
    ("Service", "backends"): Backend,
    ("Topology", "http_routes"): HttpRoute,
    ("Namespace", "pod"): Pod,
    ("Namespace", "containers"): Container,
    ("Namespace", "interfaces"): Interface,
    ("Namespace", "routes"): Route,
    ("Namespace", "fdb"): FdbEntry,
    ("Interface", "addresses"): Address,
    ("Interface", "peer"): Endpoint,
    ("Interface", "lower"): Endpoint,
}


def from_json(text: str | dict[str, Any]) -> Topology:
    """A Topology from its JSON form (a string or the parsed dict)."""
    d = json.loads(text) if isinstance(text, str) else text
    fmt = d.get("format")
    if fmt != SNAPSHOT_FORMAT:
        raise ValueError(
            f"snapshot format {fmt!r} is not supported (must be {SNAPSHOT_FORMAT}); "
            "update labkit on both sides (the notebook and the lab) to the same version")
    return _from_plain(Topology, d)
