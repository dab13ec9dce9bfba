"""bridge: STP and VLAN filtering from IFLA_INFO_DATA; its ports name it as their master."""

from __future__ import annotations

from typing import Any

from labkit.model.kinds import link
from labkit.model.kinds.base import Kind


def scan(d: dict[str, Any]) -> dict[str, Any]:
    return {"stp": int(d.get("IFLA_BR_STP_STATE") or 0),
            "vlan_filtering": int(d.get("IFLA_BR_VLAN_FILTERING") or 0)}


KIND = Kind("bridge", link.resolve, scan)
