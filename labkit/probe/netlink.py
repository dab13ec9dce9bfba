"""A lean rtnetlink reader: the four dumps and the netnsid query the scan needs, stdlib only.

pyroute2 decodes every attribute of every message into objects (IPv6 devconf, stats, XDP,
...): at 100 containers that was ~85 ms of a ~95 ms read, the kernel's own part ~10 ms. This
module asks the same questions over a plain AF_NETLINK socket and decodes only the attributes
labkit.probe.tables and labkit.model.kinds read, into the shape pyroute2 gives them (a dict
of header fields with "attrs": [(name, value)], values formatted as pyroute2 formats them),
so tables.py reads either; tests/unit/test_probe_netlink.py checks the formats and the lab
test compares both readers over every namespace.

A socket belongs to the namespace it was opened in (open it after setns): `Rtnl()`.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any

NETLINK_ROUTE = 0
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_DUMP_INTR = 0x10
RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH, RTM_GETNSID = 18, 22, 26, 30, 90
# pyroute2's get_routes asks for family 255: the kernel then dumps every family's routes
ROUTES_ALL_FAMILIES = 255
NETNSA_NSID, NETNSA_FD = 1, 3
NLA_F_MASK = 0x3FFF  # the type without NLA_F_NESTED / NLA_F_NET_BYTEORDER
STATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
DUMP_RETRIES = 3

Decoder = Callable[[bytes], Any]


def hexdump(b: bytes) -> str:
    return ":".join(f"{c:02x}" for c in b)


def l2addr(b: bytes) -> str:
    return hexdump(b)


def lladdr(b: bytes) -> str:
    """pyroute2's lladdr: a MAC, an IPv4 or IPv6 address by length, "" when empty."""
    if len(b) == 4:
        return socket.inet_ntop(socket.AF_INET, b)
    if len(b) == 16:
        return socket.inet_ntop(socket.AF_INET6, b)
    return hexdump(b)


def asciiz(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("utf-8", "replace")


def _int(fmt: str) -> Decoder:
    size = struct.calcsize(fmt)
    return lambda b: struct.unpack_from(fmt, b)[0] if len(b) >= size else hexdump(b)


u8, u16, u32, s32, be16 = _int("=B"), _int("=H"), _int("=I"), _int("=i"), _int(">H")


def ipaddr(family: int) -> Decoder:
    return lambda b: socket.inet_ntop(family, b) if len(b) in (4, 16) else hexdump(b)


ip4, ip6 = ipaddr(socket.AF_INET), ipaddr(socket.AF_INET6)


def state(b: bytes) -> str:
    return STATES[b[0]] if b and b[0] < len(STATES) else hexdump(b)


# IFLA_INFO_DATA of the kinds labkit.model.kinds reads (others: not decoded, not read)
INFO_DATA: dict[str, dict[int, tuple[str, Decoder]]] = {
    "bridge": {5: ("IFLA_BR_STP_STATE", u32), 7: ("IFLA_BR_VLAN_FILTERING", u8)},
    "vxlan": {1: ("IFLA_VXLAN_ID", u32), 2: ("IFLA_VXLAN_GROUP", ip4),
              3: ("IFLA_VXLAN_LINK", u32), 4: ("IFLA_VXLAN_LOCAL", ip4),
              15: ("IFLA_VXLAN_PORT", be16), 16: ("IFLA_VXLAN_GROUP6", ip6),
              17: ("IFLA_VXLAN_LOCAL6", ip6)},
    "vlan": {1: ("IFLA_VLAN_ID", u16)},
    "tun": {3: ("IFLA_TUN_TYPE", u8)},
}


def nlas(b: bytes, offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """(type, payload) of each attribute from `offset` on (4-byte aligned)."""
    end = len(b)
    while offset + 4 <= end:
        length, kind = struct.unpack_from("=HH", b, offset)
        if length < 4:
            return
        yield kind & NLA_F_MASK, b[offset + 4:offset + length]
        offset += (length + 3) & ~3


def decoded(b: bytes, offset: int, table: dict[int, tuple[str, Decoder]]) -> list:
    return [(table[k][0], table[k][1](v)) for k, v in nlas(b, offset) if k in table]


def linkinfo(b: bytes) -> dict[str, Any]:
    la = dict(nlas(b))
    kind = asciiz(la[1]) if 1 in la else None
    out: list = [("IFLA_INFO_KIND", kind)] if kind is not None else []
    if 2 in la and kind in INFO_DATA:
        out.append(("IFLA_INFO_DATA", {"attrs": decoded(la[2], 0, INFO_DATA[kind])}))
    return {"attrs": out}


LINK_ATTRS: dict[int, tuple[str, Decoder]] = {
    1: ("IFLA_ADDRESS", l2addr), 3: ("IFLA_IFNAME", asciiz), 4: ("IFLA_MTU", u32),
    5: ("IFLA_LINK", u32), 10: ("IFLA_MASTER", u32), 16: ("IFLA_OPERSTATE", state),
    18: ("IFLA_LINKINFO", linkinfo), 37: ("IFLA_LINK_NETNSID", s32)}
ADDR_ATTRS_BY_FAMILY = {f: {1: ("IFA_ADDRESS", ipaddr(f)), 2: ("IFA_LOCAL", ipaddr(f))}
                        for f in (socket.AF_INET, socket.AF_INET6)}
NEIGH_ATTRS: dict[int, tuple[str, Decoder]] = {
    2: ("NDA_LLADDR", lladdr), 5: ("NDA_VLAN", u16), 9: ("NDA_MASTER", u32)}


def route_attrs(family: int) -> dict[int, tuple[str, Decoder]]:
    addr = ipaddr(family) if family in (socket.AF_INET, socket.AF_INET6) else hexdump
    return {1: ("RTA_DST", addr), 4: ("RTA_OIF", u32), 5: ("RTA_GATEWAY", addr),
            7: ("RTA_PREFSRC", addr), 15: ("RTA_TABLE", u32)}


ROUTE_ATTRS = {f: route_attrs(f) for f in (socket.AF_INET, socket.AF_INET6)}


def parse_link(b: bytes) -> dict[str, Any]:
    family, _, index, flags = struct.unpack_from("=BxHiI", b)
    return {"family": family, "index": index, "flags": flags,
            "attrs": decoded(b, 16, LINK_ATTRS)}


def parse_addr(b: bytes) -> dict[str, Any]:
    family, prefixlen, _, scope, index = struct.unpack_from("=BBBBI", b)
    return {"family": family, "prefixlen": prefixlen, "scope": scope, "index": index,
            "attrs": decoded(b, 8, ADDR_ATTRS_BY_FAMILY.get(family, {}))}


def parse_route(b: bytes) -> dict[str, Any]:
    family, dst_len, _, _, table, proto, scope, rtype = struct.unpack_from("=8B", b)
    attrs = ROUTE_ATTRS.get(family) or route_attrs(family)
    return {"family": family, "dst_len": dst_len, "table": table, "proto": proto,
            "scope": scope, "type": rtype, "attrs": decoded(b, 12, attrs)}


def parse_neigh(b: bytes) -> dict[str, Any]:
    family, ifindex, st = struct.unpack_from("=BxxxiH", b)
    return {"family": family, "ifindex": ifindex, "state": st,
            "attrs": decoded(b, 12, NEIGH_ATTRS)}


def messages(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(type, flags, payload) of each netlink message in one datagram."""
    offset = 0
    while offset + 16 <= len(data):
        length, mtype, flags = struct.unpack_from("=IHH", data, offset)
        if length < 16:
            return
        yield mtype, flags, data[offset + 16:offset + length]
        offset += (length + 3) & ~3


class DumpInterrupted(Exception):
    """The table changed during the dump (NLM_F_DUMP_INTR): ask again."""


class Rtnl:
    """One rtnetlink socket in the namespace it was opened in, with pyroute2's dump names."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, mtype: int, body: bytes, flags: int = NLM_F_DUMP) -> list[bytes]:
        """Send one request; the payloads of its answers (a dump's, until NLMSG_DONE)."""
        self.seq += 1
        seq = self.seq
        self.sock.send(struct.pack("=IHHII", 16 + len(body), mtype, NLM_F_REQUEST | flags,
                                   seq, 0) + body)
        out: list[bytes] = []
        interrupted = False
        while True:
            for rtype, rflags, payload in messages(self.sock.recv(1 << 17)):
                interrupted |= bool(rflags & NLM_F_DUMP_INTR)
                if rtype == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", payload)[0]
                    if code:
                        raise OSError(code, os.strerror(code))
                    return out
                if rtype == NLMSG_DONE:
                    if interrupted:
                        raise DumpInterrupted()
                    return out
                out.append(payload)
                if not flags & NLM_F_DUMP:
                    return out

    def dump(self, mtype: int, body: bytes, parse: Callable[[bytes], dict]) -> list[dict]:
        for _ in range(DUMP_RETRIES):
            try:
                return [parse(p) for p in self.request(mtype, body)]
            except DumpInterrupted:
                continue
        raise OSError(errno.EAGAIN, "netlink dump interrupted by changes, again and again")

    def get_links(self) -> list[dict]:
        return self.dump(RTM_GETLINK, struct.pack("=BxHiII", 0, 0, 0, 0, 0), parse_link)

    def get_addr(self) -> list[dict]:
        return self.dump(RTM_GETADDR, struct.pack("=BBBBI", 0, 0, 0, 0, 0), parse_addr)

    def get_routes(self) -> list[dict]:
        return self.dump(RTM_GETROUTE, struct.pack("=8BI", ROUTES_ALL_FAMILIES, *[0] * 8),
                         parse_route)

    def get_neighbours(self, family: int = 0) -> list[dict]:
        return self.dump(RTM_GETNEIGH, struct.pack("=BxxxiHBB", family, 0, 0, 0, 0),
                         parse_neigh)

    def get_netnsid(self, fd: int) -> dict[str, Any]:
        """The id this namespace gave the namespace open as `fd`; as pyroute2 0.7 decodes
        it, unsigned (4294967295: none given)."""
        body = struct.pack("=Bxxx", 0) + struct.pack("=HHI", 8, NETNSA_FD, fd)
        for payload in self.request(RTM_GETNSID, body, flags=0):
            return {"nsid": dict(decoded(payload, 4, {NETNSA_NSID: ("nsid", u32)})).get("nsid")}
        return {"nsid": None}
