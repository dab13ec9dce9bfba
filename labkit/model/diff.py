"""What changed between two topologies, in words a learner reads after a cell.

Pure: `diff(before, after)` compares by stable names (namespace, ifname, route), never by
kernel numbers; `steady(topology)` drops what comes and goes on its own, so the per-cell
diagram is the same for the same commands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from labkit.model.nginx import route_order
from labkit.model.topology import (
    Endpoint,
    Interface,
    Namespace,
    Topology,
    fdb_key,
    interface_order,
    interface_short,
    is_hairpin,
    namespace_order,
    route_key,
)

__all__ = ["Change", "Diff", "diff", "steady"]


@dataclass(frozen=True)
class Change:
    """One difference. `op` is "+", "-" or "~"; `what` names the kind of thing."""

    op: str
    what: str  # namespace, interface, route, fdb, port, masquerade, proxy, lease, host,
    # service, http route
    namespace: str | None
    key: str  # the thing's identity within its namespace (ifname, route dst, ...)
    before: Any = None
    after: Any = None
    fields: tuple[str, ...] = ()  # for "~": what changed
    was: Endpoint | None = None  # a renamed or moved interface: where it was before

    @property
    def obj(self) -> Any:
        return self.after if self.after is not None else self.before

    @property
    def where(self) -> str:
        return f"{self.namespace}:" if self.namespace else ""

    def text(self) -> str:
        if self.what == "namespace":
            return self._namespace_text()
        if self.what == "interface":
            return self._interface_text()
        obj, where = self.obj, self.where
        if self.what == "route":
            return f"{self.op} route {where}{obj}"
        if self.what == "fdb":
            return f"{self.op} fdb {obj.mac} on {where}{obj.bridge} port {obj.port}"
        if self.what == "port" and self.op == "~":  # only the chains leading to it changed
            return (f"~ port {self.key}: reached from {_chains(self.before.entry)}→"
                    f"{_chains(self.after.entry)}")
        if self.what == "port":
            return f"{self.op} port {self.key}"
        if self.what in ("masquerade", "proxy", "lease"):
            return f"{self.op} {obj}"
        if self.what == "service":
            return self._service_text()
        if self.what == "http route" and self.op == "~":  # nginx sends a path elsewhere
            b, a = self.before, self.after
            if b.target != a.target:
                return f"~ {a}, was → {b.target}"
            was = [f"{f.replace('_', ' ')} was {_fmt(getattr(b, f))}"
                   for f in ("servers", "proxy_pass", "upstream", "default")
                   if getattr(b, f) != getattr(a, f)]
            return f"~ {a}, " + ", ".join(was)
        if self.what == "http route":
            return f"{self.op} {obj}"
        if self.what == "host":  # the lab host's FORWARD policy, br_netfilter
            return f"~ lab host {self.key} {_fmt(self.before)}→{_fmt(self.after)}"
        return f"{self.op} {self.what} {where}{self.key}"

    def _namespace_text(self) -> str:
        obj = self.obj
        s = f"{self.op} namespace {obj.label}"
        if self.op == "+":
            # Peers are left out here: each veth pair gets its own "+ veth" line.
            extra = ", ".join(interface_short(i, peer=False)
                              for i in sorted(obj.interfaces, key=interface_order)
                              if i.kind != "loopback")
            s += f" ({obj.kind}: {extra})" if extra else f" ({obj.kind})"
        elif self.op == "~":
            s += " (" + ", ".join(self.fields) + ")"
        return s

    def _interface_text(self) -> str:
        obj, where = self.obj, self.where
        if self.op == "~" and self.was is not None:
            return self._rename_text()
        if self.op == "~":
            parts = [f"{f} {_fmt(getattr(self.before, f))}→{_fmt(getattr(self.after, f))}"
                     for f in self.fields]
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


    def _service_text(self) -> str:
        """"+ service test-svc 10.107.169.79:80/tcp → ...", or what kube-proxy changed in
        one: "~ service test-svc: endpoints +10.244.3.2:80, -10.244.2.2:80"."""
        if self.op != "~":
            return f"{self.op} {self.obj}"
        b, a = self.before, self.after
        parts = []
        for f in self.fields:
            if f == "backends":
                was, now = ({x.address for x in s.backends} for s in (b, a))
                moved = [f"+{x}" for x in sorted(now - was)] + [f"-{x}" for x in sorted(was - now)]
                parts.append("endpoints " + (", ".join(moved) if moved else "shares "
                             + " ".join(x.share for x in a.backends)))
            elif f == "external_ips":
                parts.append(f"external {_fmt(b.external_ips)}→{_fmt(a.external_ips)}")
            else:
                parts.append(f"{f.replace('_', ' ')} {_fmt(getattr(b, f))}→{_fmt(getattr(a, f))}")
        return f"~ service {a.label}: " + ", ".join(parts)

    def _rename_text(self) -> str:
        """"~ lab:veth1 moved into lab-ns0, renamed eth0", then what else changed."""
        was = self.was
        what = []
        if was.namespace != self.namespace:
            what.append(f"moved into {self.namespace}")
        if was.interface != self.key:
            what.append(f"renamed {self.key}")
        what += [f"{f} {_fmt(getattr(self.before, f))}→{_fmt(getattr(self.after, f))}"
                 for f in self.fields if f not in ("namespace", "name")]
        return f"~ {was}: " + ", ".join(what)


def _chains(entry: tuple[str, ...] | None) -> str:
    return "?" if entry is None else ", ".join(entry) or "no chain"


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):
        return "[" + " ".join(str(x) for x in v) + "]"
    return str(v) if v is not None else "none"


@dataclass(frozen=True)
class Diff:
    before: Topology
    after: Topology
    changes: tuple[Change, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.changes)

    def lines(self) -> list[str]:
        """One line per change, folded: a new namespace's own interfaces and routes are in
        its line, and a veth pair is one line, not one per end."""
        fold = _Folding(self.changes)
        return [c.text() for c in self.changes if not fold.folded(c)]

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

    def renamed(self) -> dict[tuple[str, str], tuple[str, str]]:
        """Interfaces renamed or moved to another namespace: (namespace, ifname) now ->
        (namespace, ifname) before. The drawing shows them changed, not removed and added."""
        return {(c.namespace or "", c.key): (c.was.namespace, c.was.interface)
                for c in self.changes if c.was is not None}


class _Folding:
    """Which changes `Diff.lines` leaves out because another line already says them.

    Stateful on purpose: the first end of a veth pair met is said, the other end folded."""

    def __init__(self, changes: tuple[Change, ...]) -> None:
        self.new_ns = {c.key for c in changes if c.what == "namespace" and c.op in "+-"}
        # Routes that come and go with their interface are part of that interface's line.
        self.new_itf = {(c.op, c.namespace, c.key) for c in changes
                        if c.what == "interface" and c.op in "+-"}
        self.port_targets = {(c.op, c.obj.to_ip) for c in changes if c.what == "port"}
        self.said_pairs: set[tuple[str, str, str]] = set()

    def folded(self, c: Change) -> bool:
        if c.what == "masquerade" and is_hairpin(c.obj) and (
                c.op, c.obj.source.removesuffix("/32")) in self.port_targets:
            return True  # part of the published port's line
        if c.what == "route" and (c.op, c.namespace, c.obj.dev) in self.new_itf:
            return True
        if c.what != "namespace" and c.namespace in self.new_ns and self._in_new_namespace(c):
            return True
        if c.what == "interface" and c.op in "+-":
            return self._other_end_said(c)
        return False

    def _in_new_namespace(self, c: Change) -> bool:
        if c.what != "interface" or c.op not in "+-":
            return True
        itf = c.obj
        # keep a pair line if its other end is outside the new namespace
        return itf.kind != "veth" or itf.peer is None or itf.peer.namespace in self.new_ns

    def _other_end_said(self, c: Change) -> bool:
        itf = c.obj
        if itf.peer is None:
            return False
        if (c.op, itf.peer.namespace, itf.peer.interface) in self.said_pairs:
            return True
        self.said_pairs.add((c.op, c.namespace or "", itf.name))
        return False


def _keyed(items: Iterable[Any], key: Any) -> dict[Any, Any]:
    return {key(x): x for x in items}


# Not "index": a kernel number, and a link made again under its name is no news to draw.
_ITF_FIELDS = ("kind", "state", "up", "mac", "mtu", "addresses", "master", "peer", "lower",
               "alias", "info")


def diff(before: Topology, after: Topology) -> Diff:
    """What changed from `before` to `after`, in a stable order."""
    ns_changes: list[Change] = []
    changes: list[Change] = []
    b_ns = _keyed(before.namespaces, lambda n: n.name)
    a_ns = _keyed(after.namespaces, lambda n: n.name)
    for name in sorted(set(b_ns) | set(a_ns), key=lambda n: namespace_order(a_ns.get(n)
                                                                            or b_ns[n])):
        b, a = b_ns.get(name), a_ns.get(name)
        ns_changes += _namespace_changes(name, b, a)
        changes += _interface_changes(name, b, a)
        changes += _table_changes(name, b, a)
    changes = _renames(before, after, changes)
    for what, attr in (("port", "port_mappings"), ("masquerade", "masquerades"),
                       ("proxy", "proxies"), ("lease", "leases")):
        name = _port_name if what == "port" else str
        changes += _set_changes(what, None, getattr(before, attr), getattr(after, attr),
                                name, name)
    changes = _entry_changes(changes)
    changes += _service_changes(before, after)
    changes += _http_route_changes(before, after)
    changes += _host_changes(before, after)
    # What a learner reads first: namespaces that came or went, then the details.
    return Diff(before, after, tuple(ns_changes + changes))


def _entry_changes(changes: list[Change]) -> list[Change]:
    """A port mapping removed and added again with only other chains leading to it (a jump
    to DOCKER deleted) is one "~" change, not two lines that read the same."""
    gone = {c.key: c for c in changes if c.what == "port" and c.op == "-"}
    new = {c.key: c for c in changes if c.what == "port" and c.op == "+"}
    both = {k for k in gone.keys() & new.keys()
            if replace(gone[k].before, entry=None) == replace(new[k].after, entry=None)}
    out = []
    for c in changes:
        if c.what != "port" or c.key not in both:
            out.append(c)
        elif c.op == "+":
            out.append(Change("~", "port", None, c.key, gone[c.key].before, c.after, ("entry",)))
    return out


_SERVICE_FIELDS = ("cluster_ip", "port", "external_ips", "node_port", "backends", "nodes")


def _service_changes(before: Topology, after: Topology) -> list[Change]:
    """Service ports kube-proxy added, removed or rewrote, by name and protocol. A port
    whose nodes' rules differ (one kube-proxy behind) has one entry per version: those
    are compared as sets."""
    def by_key(t: Topology) -> dict[tuple[str, str], list[Any]]:
        out: dict[tuple[str, str], list[Any]] = {}
        for svc in t.services:
            out.setdefault((svc.name, svc.protocol), []).append(svc)
        return out

    b, a = by_key(before), by_key(after)
    out = []
    for key in sorted(b.keys() | a.keys()):
        was, now = b.get(key, []), a.get(key, [])
        if was == now:
            continue
        if len(was) == 1 and len(now) == 1:
            fields = tuple(f for f in _SERVICE_FIELDS
                           if getattr(was[0], f) != getattr(now[0], f))
            out.append(Change("~", "service", None, key[0], was[0], now[0], fields))
            continue
        out += [Change("-", "service", None, key[0], s, None) for s in was if s not in now]
        out += [Change("+", "service", None, key[0], None, s) for s in now if s not in was]
    return out


def _http_route_changes(before: Topology, after: Topology) -> list[Change]:
    """An nginx proxy's routes added, removed, or sending elsewhere, by HttpRoute.key (our
    script rendered nginx.conf again)."""
    b = {r.key: r for r in before.http_routes}
    a = {r.key: r for r in after.http_routes}
    out = []
    for key in sorted(b.keys() | a.keys(), key=lambda k: route_order(a.get(k) or b[k])):
        was, now = b.get(key), a.get(key)
        if was != now:
            op = "+" if was is None else "-" if now is None else "~"
            out.append(Change(op, "http route", key[0], f"{key[2] or '*'}:{key[1]}{key[3]}",
                              was, now))
    return out


def _host_changes(before: Topology, after: Topology) -> list[Change]:
    """The lab host's FORWARD policy or br_netfilter state changed (`iptables -P FORWARD
    DROP`). Not from or to "not known": an older snapshot did not read them."""
    out = []
    for key, attr in (("FORWARD policy", "forward_policy"), ("br_netfilter", "bridge_nf")):
        b, a = getattr(before, attr), getattr(after, attr)
        if b is not None and a is not None and b != a:
            out.append(Change("~", "host", None, key, b, a))
    return out


def _namespace_changes(name: str, b: Namespace | None, a: Namespace | None) -> list[Change]:
    if b is None:
        return [Change("+", "namespace", None, name, None, a)]
    if a is None:
        return [Change("-", "namespace", None, name, b, None)]
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
    return [Change("~", "namespace", None, name, b, a, tuple(fs))] if fs else []


def _interface_changes(name: str, b: Namespace | None, a: Namespace | None) -> list[Change]:
    bi = _keyed(b.interfaces if b else (), lambda i: i.name)
    ai = _keyed(a.interfaces if a else (), lambda i: i.name)
    changes = []
    for ifname in sorted(set(bi) | set(ai), key=lambda n: interface_order(ai.get(n) or bi[n])):
        x, y = bi.get(ifname), ai.get(ifname)
        if x is None:
            changes.append(Change("+", "interface", name, ifname, None, y))
        elif y is None:
            changes.append(Change("-", "interface", name, ifname, x, None))
        else:
            fs = _changed_fields(x, y)
            if fs:
                changes.append(Change("~", "interface", name, ifname, x, y, fs))
    return changes


def _renames(before: Topology, after: Topology, changes: list[Change]) -> list[Change]:
    """A link that left one (namespace, ifname) and appeared at another is one link moved or
    renamed (`ip link set veth1 netns lab-ns0`, `... name eth0`): its "-" and "+" become one
    "~", and its peer's "peer" change, which only follows from it, goes."""
    gone = [c for c in changes if c.what == "interface" and c.op == "-"
            and after.namespace(c.namespace or "") is not None]  # not gone with its namespace
    new = [c for c in changes if c.what == "interface" and c.op == "+"]
    pairs: dict[int, Change] = {}  # id of the "-" change -> its "+"
    for g in gone:
        match = next((n for n in new if n not in pairs.values()
                      and _same_link(before, g.before, after, n.after)), None)
        if match is not None:
            pairs[id(g)] = match
    if not pairs:
        return changes
    moved = {(g.namespace, g.key): (n.namespace, n.key)
             for g in changes if id(g) in pairs for n in (pairs[id(g)],)}
    out = []
    for c in changes:
        if id(c) in pairs:
            out.append(_renamed(c, pairs[id(c)]))
        elif c in pairs.values():
            continue
        else:
            out += _without_followed_peer(c, moved)
    return out


def _same_link(before: Topology, x: Interface, after: Topology, y: Interface) -> bool:
    """The same kernel link under another name or namespace. Not by ifindex alone (a moved
    link keeps it only if the number is free in its new namespace) nor by name: by kind and
    MAC, and for a veth by its peer too (the peer's MAC), else the same ifindex."""
    if x.kind != y.kind or not x.mac or x.mac != y.mac or x.mac == "00:00:00:00:00:00":
        return False
    if x.kind == "veth" and x.peer is not None and y.peer is not None:
        return _mac_at(before, x.peer) == _mac_at(after, y.peer) is not None
    return x.index == y.index


def _mac_at(topo: Topology, end: Endpoint) -> str | None:
    ns = topo.namespace(end.namespace)
    itf = ns.interface(end.interface) if ns is not None else None
    return itf.mac if itf is not None else None


def _renamed(gone: Change, new: Change) -> Change:
    fs = _changed_fields(gone.before, new.after)
    return Change("~", "interface", new.namespace, new.key, gone.before, new.after,
                  tuple(f for f in fs if f != "peer"),
                  was=Endpoint(gone.namespace or "", gone.key))


def _without_followed_peer(c: Change, moved: dict) -> list[Change]:
    """`c` without a "peer" change that only says its peer was moved or renamed."""
    if c.what != "interface" or c.op != "~" or "peer" not in c.fields:
        return [c]
    b, a = c.before.peer, c.after.peer
    if b is None or a is None or moved.get((b.namespace, b.interface)) != (a.namespace,
                                                                             a.interface):
        return [c]
    fs = tuple(f for f in c.fields if f != "peer")
    return [replace(c, fields=fs)] if fs else []


def _changed_fields(x: Interface, y: Interface) -> tuple[str, ...]:
    # A bridge without a MAC of its own takes its lowest port's, and veth MACs are random:
    # whether adding a port changes it is chance, not news.
    return tuple(f for f in _ITF_FIELDS if getattr(x, f) != getattr(y, f)
                 and not (f == "mac" and x.kind == y.kind == "bridge"))


def _table_changes(name: str, b: Namespace | None, a: Namespace | None) -> list[Change]:
    changes = []
    for what, attr, key in (("route", "routes", route_key), ("fdb", "fdb", fdb_key)):
        changes += _set_changes(what, name, getattr(b, attr) if b else (),
                                getattr(a, attr) if a else (), key)
    return changes


def _set_changes(what: str, namespace: str | None, before: Iterable[Any],
                 after: Iterable[Any], key: Any, name: Any = str) -> list[Change]:
    bs, as_ = set(before), set(after)
    return ([Change("+", what, namespace, name(r), None, r) for r in sorted(as_ - bs, key=key)]
            + [Change("-", what, namespace, name(r), r, None) for r in sorted(bs - as_, key=key)])


def _port_name(pm: Any) -> str:
    """A DNAT rule's line: its mapping and its chain (a learner may write the same mapping
    in PREROUTING and in OUTPUT: two rules, two lines that must not read the same)."""
    return f"{pm} (DNAT in {pm.chain})" if pm.chain else str(pm)


def steady(topology: Topology) -> Topology:
    """The topology without what comes and goes on its own: MACs a bridge learned (they
    appear with the first packet, IPv6 chatter included, and age out after 300 s) and
    link-local addresses. The per-cell diagram draws this, so the same commands always give
    the same picture."""

    def itf(i: Interface) -> Interface:
        return replace(i, addresses=tuple(a for a in i.addresses if a.scope != "link"))

    return replace(topology, namespaces=tuple(
        replace(ns, interfaces=tuple(itf(i) for i in ns.interfaces),
                fdb=tuple(f for f in ns.fdb if f.state != "learned"))
        for ns in topology.namespaces))
