"""The generic link: the fields every device has, and IFLA_LINK read as "the device under".

Kinds without a module of their own (dummy, macvlan, loopback, a physical device, ...) are
scanned and resolved by this one alone.
"""

from __future__ import annotations

from typing import Any

from labkit.model.kinds.base import Kind, Link, Resolved, Scope

IFF_UP = 0x1
IFF_LOOPBACK = 0x8


def link_info(attrs: dict[str, Any]) -> tuple[str | None, Any]:
    """(IFLA_INFO_KIND, IFLA_INFO_DATA) from a link's IFLA_LINKINFO. The data is a nested
    attribute set (anything with "attrs": a pyroute2 nla or, in tests, a dict), or None when
    there is none or pyroute2 could not decode it (it then gives a hex string)."""
    info = attrs.get("IFLA_LINKINFO")
    if not info:
        return None, None
    la = dict(info["attrs"])
    data = la.get("IFLA_INFO_DATA")
    if not data or isinstance(data, (str, bytes)):
        data = None
    return la.get("IFLA_INFO_KIND"), data


def scan(index: int, flags: int, attrs: dict[str, Any], kind: str | None) -> Link:
    """The common fields of one RTM_NEWLINK message (its attributes as a plain dict)."""
    if kind is None:
        kind = "loopback" if flags & IFF_LOOPBACK else "device"
    return {
        "index": index,
        "name": attrs.get("IFLA_IFNAME"),
        "kind": kind,
        "operstate": attrs.get("IFLA_OPERSTATE", "UNKNOWN"),
        "up": bool(flags & IFF_UP),
        "mac": attrs.get("IFLA_ADDRESS"),
        "mtu": attrs.get("IFLA_MTU"),
        "master": attrs.get("IFLA_MASTER"),
        "link": attrs.get("IFLA_LINK"),
        "link_netnsid": attrs.get("IFLA_LINK_NETNSID"),
    }


def resolve(lk: Link, scope: Scope) -> Resolved:
    """IFLA_LINK names the lower device (vlan, macvlan, ipvlan), maybe in another namespace."""
    target = scope.target(lk)
    return Resolved(lower=scope.endpoint(target) if target is not None else None,
                    info=dict(lk.get("info") or {}))


KIND = Kind("link", resolve)
