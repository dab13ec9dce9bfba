"""labkit.model.kinds: each device kind's pure scan and resolve step, from netlink attributes
written out by hand and from a raw scan recorded in the lab image (tests/snapshots/raw_kinds.json:
a bridge, a veth pair into `ip netns` red, a veth pair inside the lab, a vxlan, a macvlan,
a tap and a tun, a process-held namespace; the snapshot the probe printed for it beside it)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from labkit.model import kinds
from labkit.model.build import from_raw
from labkit.model.kinds import bridge, link, tun, veth, vlan, vxlan
from labkit.model.topology import Endpoint

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
RAW = json.loads((SNAPSHOTS / "raw_kinds.json").read_text())
LAB, RED = (e["inode"] for e in RAW["namespaces"][:2])


def nla(**attrs):
    """A nested attribute set as pyroute2 gives it: something with "attrs" pairs."""
    return {"attrs": list(attrs.items())}


def linkinfo(kind, **data):
    info = {"IFLA_INFO_KIND": kind}
    if data:
        info["IFLA_INFO_DATA"] = nla(**data)
    return nla(**info)


def scope(inode=LAB, raw=RAW, uplinks=()):
    entries = raw["namespaces"]
    names = {e["inode"]: n for e, n in zip(entries, ("lab", "red", "pid 28"), strict=True)}
    by_index = {e["inode"]: {lk["index"]: lk for lk in e["links"]} for e in entries}
    entry = next(e for e in entries if e["inode"] == inode)
    return kinds.Scope(entry, names, by_index, frozenset(uplinks))


def raw_link(name, inode=LAB):
    return next(lk for lk in scope(inode).links.values() if lk["name"] == name)


# --- the registry ---------------------------------------------------------------------------

def test_every_kind_module_is_registered_once_under_its_own_name():
    assert sorted(kinds.HANDLERS) == ["bridge", "tun", "veth", "vlan", "vxlan"]
    for mod in (veth, bridge, vxlan, vlan, tun):
        assert kinds.handler(mod.KIND.name) is mod.KIND
    # Kinds without a module (dummy, macvlan, a physical device) get the generic link.
    assert kinds.handler("macvlan") is link.KIND and kinds.handler(None) is link.KIND


# --- scan: attributes -> plain dicts --------------------------------------------------------

def test_vxlan_scan_keeps_what_is_set_and_prefers_ipv4():
    assert vxlan.scan({"IFLA_VXLAN_ID": 42, "IFLA_VXLAN_GROUP": "192.0.2.9",
                       "IFLA_VXLAN_LOCAL": "192.0.2.1", "IFLA_VXLAN_PORT": 4789,
                       "IFLA_VXLAN_LINK": 5}) == {
        "id": 42, "remote": "192.0.2.9", "local": "192.0.2.1", "dstport": 4789, "dev_index": 5}
    assert vxlan.scan({"IFLA_VXLAN_ID": 7, "IFLA_VXLAN_GROUP6": "2001:db8::1"}) == {
        "id": 7, "remote": "2001:db8::1"}


def test_bridge_vlan_and_tun_scans():
    assert bridge.scan({"IFLA_BR_STP_STATE": 1}) == {"stp": 1, "vlan_filtering": 0}
    assert bridge.scan({}) == {"stp": 0, "vlan_filtering": 0}
    assert vlan.scan({"IFLA_VLAN_ID": 7}) == {"id": 7}
    assert tun.scan({"IFLA_TUN_TYPE": 2}) == {"type": "tap"}
    assert tun.scan({"IFLA_TUN_TYPE": 1}) == {"type": "tun"}
    assert tun.scan({"IFLA_TUN_TYPE": 9}) == {"type": 9}  # unknown: the number, not a guess
    assert tun.scan({}) == {}


def test_link_scan_reads_the_common_fields_and_names_kindless_links():
    attrs = {"IFLA_IFNAME": "eth0", "IFLA_OPERSTATE": "UP", "IFLA_ADDRESS": "02:42:ac:11:00:02",
             "IFLA_MTU": 1500, "IFLA_LINK": 9, "IFLA_LINK_NETNSID": 0}
    assert kinds.scan(4, link.IFF_UP, attrs) == {
        "index": 4, "name": "eth0", "kind": "device", "operstate": "UP", "up": True,
        "mac": "02:42:ac:11:00:02", "mtu": 1500, "master": None, "link": 9, "link_netnsid": 0}
    lo = kinds.scan(1, link.IFF_UP | link.IFF_LOOPBACK, {"IFLA_IFNAME": "lo"})
    assert lo["kind"] == "loopback" and lo["operstate"] == "UNKNOWN"


@pytest.mark.parametrize("attrs, kind, info", [
    ({"IFLA_LINKINFO": linkinfo("vlan", IFLA_VLAN_ID=7)}, "vlan", {"id": 7}),
    ({"IFLA_LINKINFO": linkinfo("tun", IFLA_TUN_TYPE=1)}, "tun", {"type": "tun"}),
    ({"IFLA_LINKINFO": linkinfo("veth")}, "veth", None),  # no scanner, no data
    ({"IFLA_LINKINFO": linkinfo("macvlan", IFLA_MACVLAN_MODE=4)}, "macvlan", None),
    # pyroute2 gives undecoded data as a hex string: no details, the kind stays
    ({"IFLA_LINKINFO": nla(IFLA_INFO_KIND="vxlan", IFLA_INFO_DATA="00ff")}, "vxlan", None),
    # an attribute set of an unexpected shape: no details, no exception
    ({"IFLA_LINKINFO": nla(IFLA_INFO_KIND="vlan", IFLA_INFO_DATA={"x": 1})}, "vlan", None),
    ({"IFLA_LINKINFO": linkinfo("bridge", IFLA_BR_STP_STATE=[1])}, "bridge", None),
])
def test_scan_gives_each_kind_its_details(attrs, kind, info):
    lk = kinds.scan(3, 0, {"IFLA_IFNAME": "x", **attrs})
    assert lk["kind"] == kind and lk.get("info") == info


# --- resolve: raw numbers -> names ----------------------------------------------------------

def test_veth_peer_across_namespaces_via_netnsid():
    r = kinds.resolve(raw_link("veth-red"), scope())
    assert r == kinds.Resolved(peer=Endpoint("red", "eth0"))
    back = kinds.resolve(raw_link("eth0", RED), scope(RED))
    assert back.peer == Endpoint("lab", "veth-red") and back.problem is None


def test_veth_pair_inside_one_namespace():
    assert kinds.resolve(raw_link("veth-a"), scope()).peer == Endpoint("lab", "veth-b")


def test_vxlan_lower_is_its_underlay_device_and_the_ifindex_is_not_kept():
    r = kinds.resolve(raw_link("vx0"), scope())
    assert r.lower == Endpoint("lab", "veth-a") and r.peer is None
    assert r.info == {"dstport": 4789, "id": 42, "local": "192.0.2.1", "remote": "192.0.2.9"}


def test_generic_link_lower_and_kinds_without_one():
    assert kinds.resolve(raw_link("mv0"), scope()).lower == Endpoint("lab", "veth-a")
    for name in ("br0", "tap0", "lo"):
        r = kinds.resolve(raw_link(name), scope())
        assert r.lower is None and r.peer is None and r.problem is None
    assert kinds.resolve(raw_link("tap0"), scope()).info == {"type": "tap"}


def test_vlan_resolves_its_lower_device_like_the_generic_link():
    lk = dict(raw_link("mv0"), kind="vlan", name="veth-a.7", info={"id": 7})
    assert kinds.resolve(lk, scope()) == kinds.Resolved(lower=Endpoint("lab", "veth-a"),
                                                        info={"id": 7})


@pytest.mark.parametrize("change, uplinks, problem", [
    ({"link": 99, "link_netnsid": None}, (), ("veth peer ifindex 99 not found in this namespace",
                                              "warning")),
    ({"link": 99, "link_netnsid": 0}, (), ("veth peer ifindex 99 not found (netnsid 0)",
                                           "warning")),
    ({"link_netnsid": 5}, (), ("veth peer is in a namespace the probe cannot see "
                               "(netnsid 5, ifindex 2)", "warning")),
    # the lab's own uplink: its peer is outside the lab, which is expected
    ({"link_netnsid": 5}, (3,), ("veth peer is outside the lab (netnsid 5)", "info")),
])
def test_veth_peers_that_cannot_be_found_become_problems(change, uplinks, problem):
    lk = dict(raw_link("veth-red"), **change)
    r = kinds.resolve(lk, scope(uplinks=uplinks))
    assert r.peer is None and r.problem == problem


def test_a_veth_peer_that_does_not_point_back_is_unreliable():
    raw = json.loads(json.dumps(RAW))
    red = raw["namespaces"][1]["links"][1]
    red["link"] = 7  # eth0 now "points" at mv0, not veth-red
    r = kinds.resolve(raw_link("veth-red"), scope(raw=raw))
    assert r.peer == Endpoint("red", "eth0")
    assert r.problem == ("failed to find the veth peer reliably", "warning")


# --- the whole pass ------------------------------------------------------------------------

def test_the_recorded_scan_builds_the_snapshot_the_probe_printed():
    """The probe from before the split printed this snapshot for this scan."""
    want = json.loads((SNAPSHOTS / "probe" / "raw_kinds.snapshot.json").read_text())
    got = from_raw(RAW).to_dict()
    got.pop("probe")
    # Read since (issues 12, 14), so absent from this scan: not known, not "ACCEPT" or "off".
    assert (got.pop("forward_policy"), got.pop("bridge_nf"), got.pop("proxies"),
            got.pop("leases")) == (None, None, [], [])
    assert got == want


def test_a_kind_added_later_needs_only_its_own_module(monkeypatch):
    """What adding a kind takes: a Kind and its registration line."""
    def resolve(lk, sc):
        return replace(link.resolve(lk, sc), info={"seen": lk["name"]})

    monkeypatch.setitem(kinds.HANDLERS, "macvlan",
                        kinds.Kind("macvlan", resolve, lambda d: {"mode": d["IFLA_MACVLAN_MODE"]}))
    lk = kinds.scan(7, 0, {"IFLA_IFNAME": "mv0",
                           "IFLA_LINKINFO": linkinfo("macvlan", IFLA_MACVLAN_MODE=4)})
    assert lk["info"] == {"mode": 4}
    assert kinds.resolve(raw_link("mv0"), scope()).info == {"seen": "mv0"}
    assert kinds.resolve(raw_link("veth-a"), scope()).peer == Endpoint("lab", "veth-b")
