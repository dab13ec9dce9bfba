"""Which containers are alike enough to be drawn together, as one grid (pure).

At 100 containers the drawing was one column 17 screens tall, each container a box with its
`eth0@ifN`, its veth pair and the same two routes. Containers that differ in nothing a lesson
looks at are grouped instead: the first few drawn in full (what one of them looks like), the
rest as one grid of name and address, with one edge to their bridge.

"Plain" (groupable) is strict, so that a grid never hides what a learner should see: one
container in the namespace, one interface besides lo, a veth whose other end is a port of a
bridge of the lab, both ends up; only the kernel's own routes and the default via that
bridge's address; no published port nor MASQUERADE aimed at it; no warning about it; nothing
the diff changed in it or at its end of the pair; not named by a highlighted path. Plain
containers are grouped by (image, bridge), and a group is drawn as a grid only when it holds
more than GROUP_AFTER of them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from labkit.model.diff import Diff
from labkit.model.topology import Interface, Namespace, Topology

__all__ = ["GROUP_AFTER", "SHOWN", "Group", "Member", "groups"]

# More alike containers than this on one bridge are drawn as a grid. A container drawn in full
# is about 117 pt tall, so 12 of them fill about two screens of a notebook 1000 px wide (12 x
# 117 pt x 4/3 = 1870 px): up to that the full picture is no taller than the grouped one is
# meant to be, and every veth pair stays visible (the lessons draw at most a handful). Twenty
# in full were 3.6 screens; grouped, they fit in one, and read at the same size.
GROUP_AFTER = 12
# Drawn in full at the head of a grid: what each of the others looks like.
SHOWN = 2


@dataclass(frozen=True)
class Member:
    """A container drawn as one cell of a grid."""

    namespace: str
    interface: str  # its end of the pair (eth0)
    lab_end: str  # the lab's end, a port of the bridge
    addresses: tuple[str, ...]  # "172.17.0.5/16", as `ip addr` shows them


@dataclass(frozen=True)
class Group:
    """Alike containers on one bridge: `shown` drawn in full, `members` in the grid."""

    image: str  # "" when the snapshot did not record it
    bridge: str  # the lab's bridge device (docker0, br-1a2b3c4d5e6f)
    network: str  # its docker network's name, or the bridge's name
    shown: tuple[str, ...]
    members: tuple[Member, ...]

    @property
    def line(self) -> str:
        """The line that says what the grid stands for (drawn in two: `head`, `tail`)."""
        return f"{self.head} {self.tail}"

    @property
    def head(self) -> str:
        return f"{len(self.members)} alike containers"

    @property
    def tail(self) -> str:
        where = f"{self.image} on {self.bridge}" if self.image else f"on {self.bridge}"
        return f"({where}) drawn as one grid"


def groups(topology: Topology, diff: Diff | None = None, focus: Iterable[str] | None = None,
           highlighted: Iterable[tuple[str, str]] = ()) -> list[Group]:
    """The groups to draw as grids (none with a focus: a focus names what to draw in full)."""
    lab = topology.lab
    if lab is None or focus is not None:
        return []
    held = _held(topology, lab, diff, highlighted)
    alike: dict[tuple[str, str], list[tuple[str, Member]]] = {}
    for ns in topology.namespaces:
        if ns.kind != "container" or ns.name in held:
            continue
        shape = _plain(ns, lab)
        if shape is not None:
            alike.setdefault(shape[:2], []).append((shape[2], shape[3]))
    out = []
    for (image, bridge), members in sorted(alike.items()):
        if len(members) > GROUP_AFTER:
            out.append(Group(image=image, bridge=bridge, network=members[0][0],
                             shown=tuple(m.namespace for _, m in members[:SHOWN]),
                             members=tuple(m for _, m in members[SHOWN:])))
    return out


def _plain(ns: Namespace, lab: Namespace) -> tuple[str, str, str, Member] | None:
    """(image, bridge, network, member) for a plain container's namespace, else None."""
    if len(ns.containers) != 1 or ns.netns:
        return None
    itfs = [i for i in ns.interfaces if i.kind != "loopback"]
    if len(itfs) != 1 or not _plain_veth(itfs[0]) or itfs[0].peer.namespace != lab.name:
        return None
    eth = itfs[0]
    end = lab.interface(eth.peer.interface)
    bridge = lab.interface(end.master) if end is not None and end.master else None
    if bridge is None or bridge.kind != "bridge" or not _plain_veth(end):
        return None
    gateways = {a.address for a in bridge.addresses}
    if not all(_plain_route(r, eth.name, gateways) for r in ns.routes):
        return None
    member = Member(ns.name, eth.name, end.name,
                    tuple(str(a) for a in eth.addresses if a.scope != "link"))
    return ns.containers[0].image, bridge.name, bridge.alias or bridge.name, member


def _plain_veth(itf: Interface) -> bool:
    return itf.kind == "veth" and itf.peer is not None and itf.up and itf.state != "DOWN"


def _plain_route(r, dev: str, gateways: set[str]) -> bool:
    """The kernel's own routes (the link's network), and the default via the bridge."""
    if r.dev != dev or r.type != "unicast":
        return False
    return r.protocol == "kernel" or (r.dst == "default" and r.gateway in gateways)


def _held(topology: Topology, lab: Namespace, diff: Diff | None,
          highlighted: Iterable[tuple[str, str]]) -> set[str]:
    """Namespaces that must be drawn in full: changed by the diff (in them, or at the lab's
    end of their pair), on a highlighted path, warned about, or aimed at by NAT."""
    by_lab_end = {i.name: i.peer.namespace for i in lab.interfaces
                  if i.kind == "veth" and i.peer is not None}
    spots: set[tuple[str | None, str | None]] = set(highlighted)
    spots |= {(w.namespace, w.interface) for w in topology.warnings if w.level == "warning"}
    if diff is not None:
        spots |= _changed_spots(topology, diff)
    held = {ns for ns, _ in spots if ns is not None and ns != lab.name}
    held |= {by_lab_end[i] for ns, i in spots if ns == lab.name and i in by_lab_end}
    held |= {t.namespace for _, t in topology.published()}
    held |= _masqueraded(topology)
    return held


def _changed_spots(topology: Topology, diff: Diff) -> set[tuple[str | None, str | None]]:
    """(namespace, interface or None) of everything the diff changed; a port mapping added
    or removed counts for the container it leads to (its arrow is drawn to that one)."""
    out: set[tuple[str | None, str | None]] = set()
    for c in diff.changes:
        out.add((c.namespace, c.key if c.what == "interface" else None))
        if c.what == "fdb":
            out.add((c.namespace, c.obj.port))
        elif c.what == "port":
            target = topology.owner_of(c.obj.to_ip)
            if target is not None:
                out.add((target.namespace, target.interface))
    return out


def _masqueraded(topology: Topology) -> set[str]:
    """Namespaces a MASQUERADE rule names alone (a /32 or /128 source or destination)."""
    out = set()
    for m in topology.masquerades:
        for net in (m.source, m.destination):
            if not net or net.startswith("!"):
                continue
            try:
                host = ipaddress.ip_network(net, strict=False)
            except ValueError:
                continue
            if host.num_addresses == 1:
                owner = topology.owner_of(str(host.network_address))
                if owner is not None:
                    out.add(owner.namespace)
    return out
