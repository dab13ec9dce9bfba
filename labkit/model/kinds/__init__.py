"""Device kinds in plotnetcfg's manner: one module per kind, one registration line each.

Each module holds that kind's pure scan (IFLA_INFO_DATA -> the link's "info") and its resolve
step (raw ifindex/netnsid -> peer, lower device, warnings). The probe calls `scan` while it
dumps links inside the lab; `labkit.model.build` calls `resolve` in the pure pass. Both run
on plain dicts, so this package needs neither pyroute2 nor the lab. Adding a kind is a new
module here plus one line in HANDLERS; no other kind's code changes.
"""

from __future__ import annotations

from typing import Any

from labkit.model.kinds import bridge, link, tun, veth, vlan, vxlan
from labkit.model.kinds.base import Kind, Link, Resolved, Scope

__all__ = ["HANDLERS", "Kind", "Link", "Resolved", "Scope", "handler", "resolve", "scan"]

# plotnetcfg's main.c: the list of handlers. A kind not listed uses the generic link's.
HANDLERS: dict[str, Kind] = {k.name: k for k in (
    veth.KIND,
    bridge.KIND,
    vxlan.KIND,
    vlan.KIND,
    tun.KIND,
)}


def handler(kind: str | None) -> Kind:
    return HANDLERS.get(kind or "", link.KIND)


def scan(index: int, flags: int, attrs: dict[str, Any]) -> Link:
    """One raw link from one RTM_NEWLINK message: common fields, then the kind's "info"."""
    kind, data = link.link_info(attrs)
    lk = link.scan(index, flags, attrs, kind)
    read = handler(kind).scan
    if read is not None and data is not None:
        try:
            info = read(dict(data["attrs"]))
        except (KeyError, TypeError):  # an attribute of an unexpected shape: no details
            info = {}
        if info:
            lk["info"] = info
    return lk


def resolve(lk: Link, scope: Scope) -> Resolved:
    return handler(lk.get("kind")).resolve(lk, scope)
