"""tun/tap (`ip tuntap`): which of the two it is."""

from __future__ import annotations

from typing import Any

from labkit.model.kinds import link
from labkit.model.kinds.base import Kind

TUN_TYPES = {1: "tun", 2: "tap"}  # IFF_TUN, IFF_TAP


def scan(d: dict[str, Any]) -> dict[str, Any]:
    t = d.get("IFLA_TUN_TYPE")
    return {"type": TUN_TYPES.get(t, t)} if t is not None else {}


KIND = Kind("tun", link.resolve, scan)
