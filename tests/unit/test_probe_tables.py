"""labkit.probe.tables: one namespace's dumps turned into raw rows, from netlink messages
written out as pyroute2 gives them (no pyroute2, no kernel: a fake IPRoute replays them)."""

import socket

from labkit.probe import tables


def msg(attrs=(), **fields):
    return {"attrs": list(attrs), **fields}


class FakeIPRoute:
    """The four dumps the probe asks for, replayed."""

    def __init__(self, links=(), addrs=(), routes=(), neighbours=()):
        self._links, self._addrs, self._routes, self._neigh = links, addrs, routes, neighbours
        self.fdb_asked = False

    def get_links(self):
        return list(self._links)

    def get_addr(self):
        return list(self._addrs)

    def get_routes(self):
        return list(self._routes)

    def get_neighbours(self, family):
        assert family == tables.AF_BRIDGE
        self.fdb_asked = True
        return list(self._neigh)


LO = msg([("IFLA_IFNAME", "lo"), ("IFLA_MTU", 65536)], index=1, flags=0x9)
BR0 = msg([("IFLA_IFNAME", "br0"), ("IFLA_OPERSTATE", "UP"),
           ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "bridge"), ("IFLA_INFO_DATA", {
               "attrs": [("IFLA_BR_STP_STATE", 0), ("IFLA_BR_VLAN_FILTERING", 1)]})]})],
          index=2, flags=0x1)
PORT = msg([("IFLA_IFNAME", "veth1"), ("IFLA_MASTER", 2), ("IFLA_LINK", 2),
            ("IFLA_LINK_NETNSID", 0), ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "veth")]})],
           index=3, flags=0x1)


def test_links_common_fields_and_kind_details():
    lo, br0, port = tables.scan_links(FakeIPRoute(links=[LO, BR0, PORT]))
    assert lo["kind"] == "loopback" and lo["up"] and lo["mtu"] == 65536
    assert br0["kind"] == "bridge" and br0["info"] == {"stp": 0, "vlan_filtering": 1}
    assert (port["kind"], port["master"], port["link"], port["link_netnsid"]) == ("veth", 2, 2, 0)
    assert "info" not in port


def test_addresses_prefer_the_local_address_and_say_the_family():
    rows = tables.scan_addrs(FakeIPRoute(addrs=[
        msg([("IFA_ADDRESS", "10.0.0.9"), ("IFA_LOCAL", "10.0.0.1")], index=2,
            family=socket.AF_INET, prefixlen=24, scope=0),
        msg([("IFA_ADDRESS", "fe80::1")], index=2, family=socket.AF_INET6, prefixlen=64,
            scope=253),
    ]))
    assert rows == [
        {"index": 2, "family": 4, "address": "10.0.0.1", "prefixlen": 24, "scope": 0},
        {"index": 2, "family": 6, "address": "fe80::1", "prefixlen": 64, "scope": 253}]


def test_routes_of_the_main_table_only():
    main = msg([("RTA_GATEWAY", "10.0.0.1"), ("RTA_OIF", 2), ("RTA_TABLE", 254)],
               family=socket.AF_INET, dst_len=0, table=254, proto=3, scope=0, type=1)
    local = msg([("RTA_DST", "10.0.0.1"), ("RTA_TABLE", 255)], family=socket.AF_INET,
                dst_len=32, table=255, proto=2, scope=254, type=2)
    # RTA_TABLE, when given, wins over the header's 8-bit table field
    big = msg([("RTA_DST", "10.1.0.0"), ("RTA_TABLE", 1000)], family=socket.AF_INET,
              dst_len=16, table=252, proto=4, scope=0, type=1)
    assert tables.scan_routes(FakeIPRoute(routes=[main, local, big])) == [{
        "family": 4, "dst": None, "dst_len": 0, "gateway": "10.0.0.1", "oif": 2,
        "prefsrc": None, "protocol": 3, "scope": 0, "type": 1}]


def test_fdb_keeps_learned_entries_on_a_bridge():
    learned = msg([("NDA_LLADDR", "02:42:ac:11:00:02"), ("NDA_MASTER", 2)], ifindex=3, state=2)
    own = msg([("NDA_LLADDR", "aa:aa:aa:aa:aa:aa"), ("NDA_MASTER", 2)], ifindex=3,
              state=tables.NUD_PERMANENT)
    no_bridge = msg([("NDA_LLADDR", "33:33:00:00:00:01")], ifindex=3, state=2)
    assert tables.scan_fdb(FakeIPRoute(neighbours=[learned, own, no_bridge])) == [
        {"mac": "02:42:ac:11:00:02", "port": 3, "bridge": 2, "vlan": None, "state": 2}]


def test_the_fdb_is_read_only_where_there_is_a_bridge():
    ipr = FakeIPRoute(links=[LO])
    assert tables.scan_namespace(ipr) == {
        "links": tables.scan_links(ipr), "addrs": [], "routes": [], "fdb": []}
    assert not ipr.fdb_asked
    ipr = FakeIPRoute(links=[LO, BR0, PORT])
    assert sorted(tables.scan_namespace(ipr)) == ["addrs", "fdb", "links", "routes"]
    assert ipr.fdb_asked


def test_a_link_whose_operstate_lags_its_carrier_is_settling():
    """The kernel's linkwatch sets operstate up to a second after the carrier changes: a veth
    or bridge up with a carrier but still DOWN, or without one but still UP (docker0 right
    after `docker stop` of its only container), is read again (probe/scan.py)."""
    def link(name, kind, flags, state, index):
        return msg([("IFLA_IFNAME", name), ("IFLA_OPERSTATE", state),
                    ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", kind)]})],
                   index=index, flags=flags)

    up, carrier = tables.IFF_UP, tables.IFF_UP | tables.IFF_LOWER_UP
    links = [link("docker0", "bridge", up, "UP", 2),            # last port gone, still UP
             link("br1", "bridge", carrier, "DOWN", 3),          # first port came, still DOWN
             link("veth1", "veth", carrier, "LOWERLAYERDOWN", 4),  # its peer just came up
             link("br2", "bridge", up, "DOWN", 5),               # no port: DOWN, settled
             link("veth2", "veth", carrier, "UP", 6),            # settled
             link("tap0", "tun", up, "UP", 7)]                   # not a kind that lags here
    settling: list[str] = []
    tables.scan_links(FakeIPRoute(links=links), settling)
    assert settling == ["docker0", "br1", "veth1"]
