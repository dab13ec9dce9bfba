"""What every device kind is made of: a pure scan of its netlink details and a resolve step.

plotnetcfg's `struct if_handler` (handler.h) in Python: `scan` reads a kind's IFLA_INFO_DATA
while the probe dumps links, `resolve` runs in the pure pass once every namespace is read
and turns raw numbers (ifindex, netnsid) into names. Problems become data (`Resolved.problem`),
never exceptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labkit.model.topology import Endpoint

Link = dict[str, Any]  # one raw link, as the probe scanned it (docs/snapshot-format.md)


@dataclass(frozen=True)
class Scope:
    """What the resolve pass knows while it links the devices of one namespace."""

    entry: dict[str, Any]  # the raw namespace: inode, netnsids, links, addrs, ...
    names: dict[int, str]  # every namespace's name, by inode
    by_index: dict[int, dict[int, Link]]  # every namespace's links, by inode then ifindex
    uplinks: frozenset[int] = frozenset()  # ifindexes of the lab's own links to the machine

    @property
    def name(self) -> str:
        return self.names[self.entry["inode"]]

    @property
    def links(self) -> dict[int, Link]:
        return self.by_index[self.entry["inode"]]

    def target(self, lk: Link) -> tuple[int, Link] | None:
        """The (namespace inode, link) that IFLA_LINK (+ IFLA_LINK_NETNSID) points at."""
        idx = lk.get("link")
        if not idx or idx == lk["index"] and lk.get("link_netnsid") is None:
            return None
        nsid = lk.get("link_netnsid")
        if nsid is None:
            ino = self.entry["inode"]
        else:
            ino = (self.entry.get("netnsids") or {}).get(str(nsid))
            if ino is None or ino not in self.by_index:
                return None
        other = self.by_index[ino].get(idx)
        return (ino, other) if other is not None else None

    def endpoint(self, target: tuple[int, Link]) -> Endpoint:
        return Endpoint(self.names[target[0]], target[1]["name"])


@dataclass(frozen=True)
class Resolved:
    """What a kind's resolve step found for one link."""

    peer: Endpoint | None = None  # veth: the other end
    lower: Endpoint | None = None  # vlan/macvlan/vxlan: the device underneath
    info: dict[str, Any] = field(default_factory=dict)  # kind-specific details to keep
    problem: tuple[str, str] | None = None  # (message, level): becomes a ProbeWarning


@dataclass(frozen=True)
class Kind:
    """One device kind: its name as `ip -d link` shows it, its scan and its resolve step."""

    name: str
    resolve: Callable[[Link, Scope], Resolved]
    # IFLA_INFO_DATA attributes (a plain dict) -> the link's "info"; None: nothing to read.
    scan: Callable[[dict[str, Any]], dict[str, Any]] | None = None
