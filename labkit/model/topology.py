"""The lab's network state as plain frozen dataclasses: build, (de)serialise, diff.

Pure code (stdlib only, Python 3.10+): it also runs inside the lab, where the probe uses
`from_raw` to turn its raw scan into a snapshot. The JSON form is documented in
docs/snapshot-format.md; FORMAT changes only on incompatible changes.

Identities are stable names, never kernel numbers: a namespace is known by its name
("lab", a container's name, an `ip netns` name, "pid 1234"), an interface by
(namespace, ifname). So a diff says "+ veth vethc2f1a9e ↔ busybox1:eth0", not ifindex 7.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from labkit.model.formats import SNAPSHOT_FORMAT
from labkit.model.nat import (
    Masquerade,
    PortMapping,
    masquerades,
    parse_iptables_save,
    port_mappings,
)

FORMAT = SNAPSHOT_FORMAT

__all__ = [
    "FORMAT", "Address", "Change", "Container", "Diff", "FdbEntry", "Interface", "Masquerade",
    "Namespace", "PortMapping", "ProbeWarning", "Route", "Topology", "diff", "from_json",
    "from_raw",
]

# iproute2's names for the numbers netlink gives (lib/rt_names.c).
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 16: "dhcp"}
ROUTE_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast",
               6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
NUD_NOARP = 0x40
# Namespace kinds, in the order they are listed and drawn.
KINDS = ("lab", "container", "netns", "docker", "process")


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
        parts = [self.dst if self.type == "unicast" else f"{self.type} {self.dst}"]
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

    def interface(self, name: str) -> Interface | None:
        return next((i for i in self.interfaces if i.name == name), None)

    @property
    def label(self) -> str:
        """What a learner calls it: the container name, `ip netns` name, or process."""
        if self.kind == "process":
            return f"{self.command or '?'} (pid {self.pid})"
        return self.name


@dataclass(frozen=True)
class Topology:
    namespaces: tuple[Namespace, ...] = ()
    port_mappings: tuple[PortMapping, ...] = ()
    masquerades: tuple[Masquerade, ...] = ()
    warnings: tuple[ProbeWarning, ...] = ()
    # How the probe ran (time taken, pyroute2 version): not part of the state.
    probe: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    def namespace(self, name: str) -> Namespace | None:
        return next((n for n in self.namespaces if n.name == name), None)

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
        d["format"] = FORMAT
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

    def summary(self) -> str:
        """A stable short text: one line per namespace, then NAT and warnings."""
        lines = []
        uplinks = self.uplinks()
        for ns in self.namespaces:
            itfs = sorted((i for i in ns.interfaces if i.kind != "loopback"),
                          key=interface_order)
            desc = ", ".join(f"{i.name} (uplink)" if (ns.name, i.name) in uplinks
                             else _itf_short(i) for i in itfs) or "only lo"
            also = [c.name for c in ns.containers if c.name != ns.name]
            also += [n for n in ns.netns if n != ns.name]
            kind = ns.kind + (f"; also {', '.join(also)}" if also else "")
            lines.append(f"{ns.label} ({kind}): {desc}")
        for pm, target in self.published():
            lines.append(f"port {pm} ({target})")
        for m in self.masquerades:
            lines.append(str(m))
        for w in self.warnings:
            if w.level == "warning":
                lines.append(str(w))
        return "\n".join(lines)


def interface_order(itf: Interface) -> tuple:
    """A stable order for a namespace's interfaces: by kind, then by what they lead to. Not
    by ifindex (a lab made afresh numbers its own uplink above the links lessons add) nor by
    Docker's random veth names."""
    rank = {"loopback": 0, "device": 1, "bridge": 2, "veth": 4}.get(itf.kind, 3)
    if itf.kind == "veth" and itf.peer is not None:
        return (rank, natural_key(itf.peer.namespace), natural_key(itf.peer.interface),
                natural_key(itf.name))
    if itf.kind == "bridge":
        return (rank, natural_key(itf.alias or ""), natural_key(itf.name))
    return (rank, natural_key(itf.name))


def _itf_short(i: Interface, peer: bool = True) -> str:
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

def _to_plain(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        out = {}
        for f in fields(obj):
            v = getattr(obj, f.name)
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
            v = tuple(sorted((k, _freeze(x)) for k, x in (v or {}).items()))
        elif sub is not None and isinstance(v, list):
            v = tuple(_from_plain(sub, x) for x in v)
        elif sub is not None and v is not None:
            v = _from_plain(sub, v)
        elif isinstance(v, list):
            v = tuple(v)
        kwargs[f.name] = v
    return cls(**kwargs)


def _freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    return v


_NESTED: dict[tuple[str, str], type] = {
    ("Topology", "namespaces"): Namespace,
    ("Topology", "port_mappings"): PortMapping,
    ("Topology", "masquerades"): Masquerade,
    ("Topology", "warnings"): ProbeWarning,
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
    if fmt != FORMAT:
        raise ValueError(
            f"snapshot format {fmt!r} is not supported (must be {FORMAT}); "
            "update labkit on both sides (the notebook and the lab) to the same version")
    return _from_plain(Topology, d)


# --- from the probe's raw scan: the resolve pass ------------------------------------------

def name_and_kind(e: dict[str, Any]) -> tuple[str, str]:
    if e.get("lab"):
        return "lab", "lab"
    containers = e.get("containers") or []
    if containers:
        # The container that owns the sandbox, not one that joined it (--network container:).
        owners = [c for c in containers
                  if not str(c.get("network_mode", "")).startswith("container:")]
        return (owners or containers)[0]["name"], "container"
    if e.get("netns"):
        return e["netns"][0], "netns"
    if e.get("sandboxes"):
        return f"docker:{e['sandboxes'][0]}", "docker"
    proc = e.get("process") or {}
    return f"pid {proc.get('pid', '?')}", "process"


def from_raw(raw: dict[str, Any]) -> Topology:
    """Link a raw scan into a Topology: names, veth peers across namespaces, masters, NAT.

    Nothing here fails on odd data: what cannot be linked becomes a ProbeWarning.
    """
    warnings = [ProbeWarning(w["message"], w.get("namespace"), w.get("interface"),
                             w.get("level", "warning")) for w in raw.get("warnings", [])]
    entries = raw.get("namespaces", [])
    names: dict[int, str] = {}
    kinds: dict[int, str] = {}
    for e in entries:
        name, kind = name_and_kind(e)
        if name in names.values():
            name = f"{name} ({kind} {e['inode']})"
        names[e["inode"]] = name
        kinds[e["inode"]] = kind
    by_index = {e["inode"]: {lk["index"]: lk for lk in e.get("links", [])} for e in entries}
    bridge_alias = {n["bridge"]: n["name"] for n in raw.get("docker_networks", [])
                    if n.get("bridge")}

    namespaces = []
    for e in entries:
        ino = e["inode"]
        ns_name = names[ino]
        links = by_index[ino]
        addrs: dict[int, list[Address]] = {}
        for a in e.get("addrs", []):
            addrs.setdefault(a["index"], []).append(Address(
                a["address"], a["prefixlen"], a.get("family", 4),
                SCOPES.get(a.get("scope", 0), str(a.get("scope")))))
        # The lab's own links to the machine (Docker gave the lab container eth0): addressed
        # or routed by, with no peer the probe can reach. Expected, so only "info".
        uplinks = set()
        if e.get("lab"):
            uplinks = {a["index"] for a in e.get("addrs", []) if a.get("scope", 0) == 0}
            uplinks |= {r["oif"] for r in e.get("routes", []) if not r.get("dst_len")}
        interfaces = []
        for lk in sorted(links.values(), key=lambda x: x["index"]):
            peer = lower = None
            target = _link_target(e, lk, names, by_index)
            if lk["kind"] == "veth":
                peer, problem = _resolve_veth(e, lk, target, uplinks, names, by_index)
                if problem:
                    level = "info" if lk["index"] in uplinks and target is None else "warning"
                    warnings.append(ProbeWarning(problem, ns_name, lk["name"], level))
            elif target is not None:
                lower = Endpoint(names[target[0]], target[1]["name"])
            info = dict(lk.get("info") or {})
            dev_index = info.pop("dev_index", None)  # vxlan's underlay device
            if dev_index and dev_index in links and lower is None:
                lower = Endpoint(ns_name, links[dev_index]["name"])
            master = links.get(lk.get("master") or -1, {}).get("name")
            interfaces.append(Interface(
                name=lk["name"], index=lk["index"], kind=lk["kind"],
                state=lk.get("operstate") or "UNKNOWN", up=bool(lk.get("up")),
                mac=lk.get("mac"), mtu=lk.get("mtu"),
                addresses=tuple(sorted(addrs.get(lk["index"], []),
                                       key=lambda a: (a.family, a.address, a.prefixlen))),
                master=master, peer=peer, lower=lower,
                alias=bridge_alias.get(lk["name"]) if kinds[ino] == "lab" else None,
                info=tuple(sorted(info.items())),
            ))
        routes = []
        for r in e.get("routes", []):
            dst = "default" if not r.get("dst_len") else f"{r['dst']}/{r['dst_len']}"
            routes.append(Route(
                dst=dst, dev=links.get(r.get("oif") or -1, {}).get("name"),
                gateway=r.get("gateway"), prefsrc=r.get("prefsrc"),
                protocol=PROTOCOLS.get(r.get("protocol", 0), str(r.get("protocol"))),
                scope=SCOPES.get(r.get("scope", 0), str(r.get("scope"))),
                type=ROUTE_TYPES.get(r.get("type", 1), str(r.get("type"))),
                family=r.get("family", 4)))
        fdb = []
        for f in e.get("fdb", []):
            fdb.append(FdbEntry(
                mac=f["mac"], bridge=links.get(f["bridge"], {}).get("name", str(f["bridge"])),
                port=links.get(f["port"], {}).get("name", str(f["port"])), vlan=f.get("vlan"),
                state="static" if f.get("state", 0) & NUD_NOARP else "learned"))
        proc = e.get("process") or {}
        namespaces.append(Namespace(
            name=ns_name, kind=kinds[ino], inode=ino,
            containers=tuple(Container(c["name"], c["id"][:12], c.get("network_mode", ""),
                                       tuple(c.get("networks", ())))
                             for c in e.get("containers", [])),
            netns=tuple(e.get("netns", ())),
            pid=proc.get("pid") if kinds[ino] == "process" else None,
            command=proc.get("comm") if kinds[ino] == "process" else None,
            interfaces=tuple(interfaces),
            routes=tuple(sorted(set(routes), key=_route_key)),
            fdb=tuple(sorted(set(fdb), key=lambda f: (f.bridge, f.mac, f.vlan or 0, f.port))),
        ))
    namespaces.sort(key=lambda n: (KINDS.index(n.kind) if n.kind in KINDS else 99,
                                   natural_key(n.name)))

    rules = parse_iptables_save(raw["nat"]) if raw.get("nat") else []
    return Topology(
        namespaces=tuple(namespaces),
        port_mappings=tuple(port_mappings(rules)),
        masquerades=tuple(masquerades(rules)),
        warnings=tuple(sorted(set(warnings), key=lambda w: (
            w.level, w.namespace or "", w.interface or "", w.message))),
        probe=tuple(sorted((k, _freeze(v)) for k, v in (raw.get("probe") or {}).items())),
    )


def _route_key(r: Route) -> tuple:
    return (r.family, r.dst != "default", r.dst, r.dev or "", r.gateway or "", r.type)


def _link_target(e: dict[str, Any], lk: dict[str, Any], names: dict[int, str],
                 by_index: dict[int, dict[int, dict[str, Any]]]
                 ) -> tuple[int, dict[str, Any]] | None:
    """The (namespace inode, link) that IFLA_LINK (+ IFLA_LINK_NETNSID) points at, if found."""
    idx = lk.get("link")
    if not idx or idx == lk["index"] and lk.get("link_netnsid") is None:
        return None
    nsid = lk.get("link_netnsid")
    if nsid is None:
        ino = e["inode"]
    else:
        ino = (e.get("netnsids") or {}).get(str(nsid))
        if ino is None or ino not in by_index:
            return None
    other = by_index[ino].get(idx)
    return (ino, other) if other is not None else None


def _resolve_veth(e: dict[str, Any], lk: dict[str, Any], target: tuple[int, dict] | None,
                  uplinks: set[int], names: dict[int, str],
                  by_index: dict[int, dict[int, dict[str, Any]]]
                  ) -> tuple[Endpoint | None, str | None]:
    if target is None:
        nsid = lk.get("link_netnsid")
        if nsid is None:
            return None, f"veth peer ifindex {lk.get('link')} not found in this namespace"
        if str(nsid) in (e.get("netnsids") or {}):
            return None, f"veth peer ifindex {lk.get('link')} not found (netnsid {nsid})"
        if lk["index"] in uplinks:
            return None, f"veth peer is outside the lab (netnsid {nsid})"
        return None, (f"veth peer is in a namespace the probe cannot see "
                      f"(netnsid {nsid}, ifindex {lk.get('link')})")
    ino, other = target
    # A veth pair points both ways; anything else means the kernel state moved mid-scan.
    same_ns = ino == e["inode"]
    points_back = (other.get("link") == lk["index"]
                   and (other.get("link_netnsid") is None) == same_ns)
    if other.get("kind") != "veth" or not points_back:
        return Endpoint(names[ino], other["name"]), "failed to find the veth peer reliably"
    return Endpoint(names[ino], other["name"]), None


# --- diff ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One difference. `op` is "+", "-" or "~"; `what` names the kind of thing."""

    op: str
    what: str  # namespace, interface, route, fdb, port, masquerade
    namespace: str | None
    key: str  # the thing's identity within its namespace (ifname, route dst, ...)
    before: Any = None
    after: Any = None
    fields: tuple[str, ...] = ()  # for "~": what changed

    def text(self) -> str:
        obj = self.after if self.after is not None else self.before
        where = f"{self.namespace}:" if self.namespace else ""
        if self.what == "namespace":
            s = f"{self.op} namespace {obj.label}"
            if self.op == "+":
                # Peers are left out here: each veth pair gets its own "+ veth" line.
                extra = ", ".join(_itf_short(i, peer=False)
                                  for i in sorted(obj.interfaces, key=interface_order)
                                  if i.kind != "loopback")
                s += f" ({obj.kind}: {extra})" if extra else f" ({obj.kind})"
            elif self.op == "~":
                s += " (" + ", ".join(self.fields) + ")"
            return s
        if self.what == "interface":
            if self.op == "~":
                parts = []
                for f in self.fields:
                    b, a = getattr(self.before, f), getattr(self.after, f)
                    parts.append(f"{f} {_fmt(b)}→{_fmt(a)}")
                return f"~ {where}{self.key}: " + ", ".join(parts)
            if obj.kind == "veth" and obj.peer is not None:
                me = f"{where}{obj.name}"
                if obj.peer.namespace == "lab" and self.namespace != "lab":
                    return f"{self.op} veth {obj.peer} ↔ {me}"  # the lab's end first
                return f"{self.op} veth {me} ↔ {obj.peer}"
            s = f"{self.op} {obj.kind} {where}{obj.name}"
            addrs = [str(a) for a in obj.addresses if a.scope != "link"]
            if addrs and self.op == "+":
                s += " " + " ".join(addrs)
            if obj.master and self.op == "+":
                s += f" master {obj.master}"
            return s
        if self.what == "route":
            return f"{self.op} route {where}{obj}"
        if self.what == "fdb":
            return f"{self.op} fdb {obj.mac} on {where}{obj.bridge} port {obj.port}"
        if self.what == "port":
            return f"{self.op} port {obj}"
        if self.what == "masquerade":
            return f"{self.op} {obj}"
        return f"{self.op} {self.what} {where}{self.key}"


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):
        return "[" + " ".join(str(x) for x in v) + "]"
    return str(v) if v is not None else "none"


@dataclass(frozen=True)
class Diff:
    before: Topology
    after: Topology
    changes: tuple[Change, ...] = ()

    @property
    def added(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.op == "+")

    @property
    def removed(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.op == "-")

    @property
    def changed(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.op == "~")

    def __bool__(self) -> bool:
        return bool(self.changes)

    def lines(self) -> list[str]:
        """One line per change, folded: a new namespace's own interfaces and routes are in
        its line, and a veth pair is one line, not one per end."""
        out = []
        new_ns = {c.key for c in self.changes if c.what == "namespace" and c.op in "+-"}
        # Routes that come and go with their interface are part of that interface's line.
        new_itf = {(c.op, c.namespace, c.key) for c in self.changes
                   if c.what == "interface" and c.op in "+-"}
        said_pairs: set[tuple[str, str]] = set()
        port_targets = {(c.op, (c.after or c.before).to_ip) for c in self.changes
                        if c.what == "port"}
        for c in self.changes:
            if c.what == "masquerade" and is_hairpin(c.after or c.before) and (
                    c.op, (c.after or c.before).source.removesuffix("/32")) in port_targets:
                continue  # part of the published port's line
            if c.what == "route" and (c.op, c.namespace, (c.after or c.before).dev) in new_itf:
                continue
            if c.what != "namespace" and c.namespace in new_ns:
                if c.what != "interface" or c.op not in "+-":
                    continue
                itf = c.after if c.op == "+" else c.before
                # keep a pair line if its other end is outside the new namespace
                if itf.kind != "veth" or itf.peer is None or itf.peer.namespace in new_ns:
                    continue
            if c.what == "interface" and c.op in "+-":
                itf = c.after if c.op == "+" else c.before
                if itf.peer is not None:
                    me = (c.namespace or "", itf.name)
                    other = (itf.peer.namespace, itf.peer.interface)
                    if (c.op, *other) in said_pairs:
                        continue
                    said_pairs.add((c.op, *me))
            out.append(c.text())
        return out

    def summary(self, limit: int = 6) -> str:
        """One line: "no change", or the first changes and how many more."""
        lines = self.lines()
        if not lines:
            return "no change"
        head = ", ".join(lines[:limit])
        return head + (f", … (+{len(lines) - limit} more)" if len(lines) > limit else "")

    def touched(self) -> tuple[set[tuple[str, str]], set[str]]:
        """What the drawing highlights: (namespace, ifname) pairs and namespace names."""
        itfs = {(c.namespace or "", c.key) for c in self.changes
                if c.what == "interface" and c.op in "+~"}
        nss = {c.key for c in self.changes if c.what == "namespace" and c.op == "+"}
        return itfs, nss


def _keyed(items: Iterable[Any], key: Any) -> dict[Any, Any]:
    return {key(x): x for x in items}


# Not "index": a kernel number, and a link made again under its name is no news to draw.
_ITF_FIELDS = ("kind", "state", "up", "mac", "mtu", "addresses", "master", "peer", "lower",
               "alias", "info")


def diff(before: Topology, after: Topology) -> Diff:
    """What changed from `before` to `after`, in a stable order."""
    ns_changes: list[Change] = []
    changes: list[Change] = []
    b_ns, a_ns = _keyed(before.namespaces, lambda n: n.name), _keyed(after.namespaces,
                                                                     lambda n: n.name)
    order = sorted(set(b_ns) | set(a_ns),
                   key=lambda n: (KINDS.index((a_ns.get(n) or b_ns[n]).kind)
                                  if (a_ns.get(n) or b_ns[n]).kind in KINDS else 99,
                                  natural_key(n)))
    for name in order:
        b, a = b_ns.get(name), a_ns.get(name)
        if b is None:
            ns_changes.append(Change("+", "namespace", None, name, None, a))
        elif a is None:
            ns_changes.append(Change("-", "namespace", None, name, b, None))
        else:
            fs = []
            if b.inode != a.inode:
                fs.append("recreated")
            if b.kind != a.kind:
                fs.append(f"kind {b.kind}→{a.kind}")
            bc, ac = {c.name for c in b.containers}, {c.name for c in a.containers}
            fs += [f"+container {x}" for x in sorted(ac - bc)]
            fs += [f"-container {x}" for x in sorted(bc - ac)]
            bn, an = set(b.netns), set(a.netns)
            fs += [f"+netns {x}" for x in sorted(an - bn)]
            fs += [f"-netns {x}" for x in sorted(bn - an)]
            if fs:
                ns_changes.append(Change("~", "namespace", None, name, b, a, tuple(fs)))
        bi = _keyed(b.interfaces if b else (), lambda i: i.name)
        ai = _keyed(a.interfaces if a else (), lambda i: i.name)
        for ifname in sorted(set(bi) | set(ai),
                             key=lambda n: interface_order(ai.get(n) or bi[n])):
            x, y = bi.get(ifname), ai.get(ifname)
            if x is None:
                changes.append(Change("+", "interface", name, ifname, None, y))
            elif y is None:
                changes.append(Change("-", "interface", name, ifname, x, None))
            else:
                # A bridge without a MAC of its own takes its lowest port's, and veth MACs
                # are random: whether adding a port changes it is chance, not news.
                fs = tuple(f for f in _ITF_FIELDS if getattr(x, f) != getattr(y, f)
                           and not (f == "mac" and x.kind == y.kind == "bridge"))
                if fs:
                    changes.append(Change("~", "interface", name, ifname, x, y, fs))
        for what, attr, fmt in (("route", "routes", _route_key), ("fdb", "fdb", None)):
            bs = set(getattr(b, attr) if b else ())
            as_ = set(getattr(a, attr) if a else ())
            srt = fmt or (lambda f: (f.bridge, f.mac, f.vlan or 0, f.port))
            for r in sorted(as_ - bs, key=srt):
                changes.append(Change("+", what, name, str(r), None, r))
            for r in sorted(bs - as_, key=srt):
                changes.append(Change("-", what, name, str(r), r, None))
    for what, attr in (("port", "port_mappings"), ("masquerade", "masquerades")):
        bs, as_ = set(getattr(before, attr)), set(getattr(after, attr))
        for r in sorted(as_ - bs, key=str):
            changes.append(Change("+", what, None, str(r), None, r))
        for r in sorted(bs - as_, key=str):
            changes.append(Change("-", what, None, str(r), r, None))
    # What a learner reads first: namespaces that came or went, then the details.
    return Diff(before, after, tuple(ns_changes + changes))


def steady(topology: Topology) -> Topology:
    """The topology without what comes and goes on its own: MACs a bridge learned (they
    appear with the first packet, IPv6 chatter included, and age out after 300 s) and
    link-local addresses. The per-cell diagram draws this, so the same commands always give
    the same picture."""
    from dataclasses import replace

    def itf(i: Interface) -> Interface:
        return replace(i, addresses=tuple(a for a in i.addresses if a.scope != "link"))

    return replace(topology, namespaces=tuple(
        replace(ns, interfaces=tuple(itf(i) for i in ns.interfaces),
                fdb=tuple(f for f in ns.fdb if f.state != "learned"))
        for ns in topology.namespaces))
