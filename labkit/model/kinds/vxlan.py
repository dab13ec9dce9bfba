"""vxlan: VNI, remote/local, UDP port and the underlay device (IFLA_VXLAN_LINK)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from labkit.model.kinds import link
from labkit.model.kinds.base import Kind, Link, Resolved, Scope
from labkit.model.topology import Endpoint


def scan(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (
        ("id", d.get("IFLA_VXLAN_ID")),
        ("remote", d.get("IFLA_VXLAN_GROUP") or d.get("IFLA_VXLAN_GROUP6")),
        ("local", d.get("IFLA_VXLAN_LOCAL") or d.get("IFLA_VXLAN_LOCAL6")),
        ("dstport", d.get("IFLA_VXLAN_PORT")),
        ("dev_index", d.get("IFLA_VXLAN_LINK")),
    ) if v is not None}


def resolve(lk: Link, scope: Scope) -> Resolved:
    """The underlay device is in the vxlan's own namespace; it is drawn as `lower`, so its
    ifindex (a kernel number) is not kept in `info`."""
    r = link.resolve(lk, scope)
    info = dict(r.info)
    dev_index = info.pop("dev_index", None)
    lower = r.lower
    if dev_index and dev_index in scope.links and lower is None:
        lower = Endpoint(scope.name, scope.links[dev_index]["name"])
    return replace(r, lower=lower, info=info)


KIND = Kind("vxlan", resolve, scan)
