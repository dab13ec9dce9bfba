"""vlan (802.1Q): the VLAN id; its lower device is IFLA_LINK, as for the generic link."""

from __future__ import annotations

from typing import Any

from labkit.model.kinds import link
from labkit.model.kinds.base import Kind


def scan(d: dict[str, Any]) -> dict[str, Any]:
    return {"id": d.get("IFLA_VLAN_ID")}


KIND = Kind("vlan", link.resolve, scan)
