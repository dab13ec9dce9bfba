"""Reading one namespace's tables over its netlink socket: links, addresses, routes, FDB.

Each reader takes an open `pyroute2.IPRoute` (or anything with the same dump methods: the
unit tests pass recorded messages) and returns plain JSON-able rows. A link's kind-specific
details are read by that kind's module (labkit.model.kinds), pure and shared with the
resolve pass.
"""

from __future__ import annotations

import socket
from typing import Any

from labkit.model import kinds

AF_BRIDGE = 7
NUD_PERMANENT = 0x80
RT_TABLE_MAIN = 254

Row = dict[str, Any]


def _attrs(msg: Any) -> dict[str, Any]:
    # Last one wins, which is what iproute2 shows for repeated attributes.
    return dict(msg["attrs"])


def _family(msg: Any) -> int:
    return 4 if msg["family"] == socket.AF_INET else 6


IFF_UP, IFF_LOWER_UP = 0x1, 0x10000
#: operstates a veth or bridge still shows for up to a second after its carrier came (the
#: kernel's linkwatch updates them late): with the carrier there, the link is "settling"
LAGGING = ("DOWN", "LOWERLAYERDOWN")
#: the links whose operstate follows their carrier that late: a veth (its peer up or down),
#: a bridge (its first port came, its last one went: `docker stop` of the only container)
SETTLING_KINDS = ("veth", "bridge")


def scan_links(ipr: Any, settling: list[str] | None = None) -> list[Row]:
    """`ip -d link`: one row per link (see labkit.model.kinds.scan). `settling` gets the
    names of links up whose operstate the kernel has not caught up with their carrier yet:
    a carrier and still DOWN, or no carrier and still UP."""
    rows = []
    for m in ipr.get_links():
        row = kinds.scan(m["index"], m["flags"], _attrs(m))
        if settling is not None and m["flags"] & IFF_UP and row.get("kind") in SETTLING_KINDS:
            state = row.get("operstate")
            if state in LAGGING if m["flags"] & IFF_LOWER_UP else state == "UP":
                settling.append(str(row.get("name")))
        rows.append(row)
    return rows


def scan_addrs(ipr: Any) -> list[Row]:
    """`ip addr`."""
    out = []
    for m in ipr.get_addr():
        a = _attrs(m)
        out.append({
            "index": m["index"],
            "family": _family(m),
            "address": a.get("IFA_LOCAL") or a.get("IFA_ADDRESS"),
            "prefixlen": m["prefixlen"],
            "scope": m["scope"],
        })
    return out


def scan_routes(ipr: Any) -> list[Row]:
    """`ip route` (the main table only)."""
    out = []
    for m in ipr.get_routes():
        a = _attrs(m)
        if a.get("RTA_TABLE", m["table"]) != RT_TABLE_MAIN:
            continue
        out.append({
            "family": _family(m),
            "dst": a.get("RTA_DST"),
            "dst_len": m["dst_len"],
            "gateway": a.get("RTA_GATEWAY"),
            "oif": a.get("RTA_OIF"),
            "prefsrc": a.get("RTA_PREFSRC"),
            "protocol": m["proto"],
            "scope": m["scope"],
            "type": m["type"],
        })
    return out


def scan_fdb(ipr: Any) -> list[Row]:
    """`bridge fdb`: entries the bridges learned (not the permanent own-MAC ones)."""
    out = []
    for m in ipr.get_neighbours(family=AF_BRIDGE):
        a = _attrs(m)
        if a.get("NDA_MASTER") is None or m["state"] & NUD_PERMANENT:
            continue
        out.append({"mac": a.get("NDA_LLADDR"), "port": m["ifindex"],
                    "bridge": a["NDA_MASTER"], "vlan": a.get("NDA_VLAN"),
                    "state": m["state"]})
    return out


def scan_namespace(ipr: Any, settling: list[str] | None = None) -> Row:
    """Every table of one namespace (the FDB only where there is a bridge); `settling` as
    for scan_links."""
    links = scan_links(ipr, settling)
    bridges = any(lk["kind"] == "bridge" for lk in links)
    return {"links": links, "addrs": scan_addrs(ipr), "routes": scan_routes(ipr),
            "fdb": scan_fdb(ipr) if bridges else []}
