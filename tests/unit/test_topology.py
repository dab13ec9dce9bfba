"""labkit.model.topology: the resolve pass, JSON form and diff, replayed from snapshots recorded
in a real lab by tests/lab/test_probe_scenarios.py (LABKIT_RECORD_SNAPSHOTS=1)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
from recorded import states_around

from labkit.model.build import from_raw
from labkit.model.diff import diff, steady
from labkit.model.formats import SNAPSHOT_FORMAT
from labkit.model.topology import Route, Topology, from_json

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
ALL = sorted(p.stem for p in SNAPSHOTS.glob("*.json"))


def load(name: str) -> Topology:
    return from_raw(json.loads((SNAPSHOTS / f"{name}.json").read_text()))


@pytest.mark.parametrize("name", ALL)
def test_every_veth_peer_points_back(name):
    topo = load(name)
    for ns in topo.namespaces:
        for itf in ns.interfaces:
            if itf.peer is None:
                continue
            other = topo.namespace(itf.peer.namespace).interface(itf.peer.interface)
            assert other.kind == "veth"
            assert (other.peer.namespace, other.peer.interface) == (ns.name, itf.name)


@pytest.mark.parametrize("name", ALL)
def test_json_round_trip_is_exact_and_stable(name):
    topo = load(name)
    text = topo.to_json()
    back = from_json(text)
    assert back == topo
    assert back.to_json() == text
    assert json.loads(text)["format"] == SNAPSHOT_FORMAT


@pytest.mark.parametrize("name", ALL)
def test_no_change_against_itself(name):
    d = diff(load(name), load(name))
    assert not d and d.lines() == [] and d.summary() == "no change"


def test_seed_two_busybox_containers():
    topo = load("seed")
    assert [n.name for n in topo.namespaces] == ["lab", "busybox1", "busybox2"]
    lab = topo.lab
    assert lab.kind == "lab"
    docker0 = lab.interface("docker0")
    assert docker0.kind == "bridge" and docker0.alias == "bridge"
    assert [str(a) for a in docker0.addresses] == ["172.17.0.1/16"]
    for i, name in enumerate(("busybox1", "busybox2"), start=2):
        eth0 = topo.namespace(name).interface("eth0")
        assert eth0.mac == f"02:42:ac:11:00:0{i}"
        assert [str(a) for a in eth0.addresses] == [f"172.17.0.{i}/16"]
        lab_end = lab.interface(eth0.peer.interface)
        assert eth0.peer.namespace == "lab" and lab_end.master == "docker0"
        # busybox1 pinged busybox2 before the recording: docker0 learned both MACs there.
        assert any(f.mac == eth0.mac and f.port == lab_end.name and f.state == "learned"
                   for f in lab.fdb)
    routes = {str(r) for r in topo.namespace("busybox1").routes}
    assert {"default via 172.17.0.1 dev eth0", "172.17.0.0/16 dev eth0"} <= routes
    # The lab's own eth0 leads out of the lab: expected, so "info", not a warning.
    assert [(w.level, w.interface) for w in topo.warnings] == [("info", "eth0")]


def test_container_network_shares_and_host_network():
    shared = load("network_container").namespace("busybox1")
    modes = {c.name: c.network_mode for c in shared.containers}
    assert modes["busybox1"] == "default" and modes["sidecar"].startswith("container:")
    host_none = load("host_and_none")
    assert "hostnet" in {c.name for c in host_none.lab.containers}
    nonet = host_none.namespace("nonet")
    assert [i.name for i in nonet.interfaces] == ["lo"] and nonet.routes == ()
    assert "hostnet" not in {n.name for n in host_none.namespaces}


def test_user_defined_bridge_is_named_after_its_network():
    topo = load("user_bridge")
    br = next(i for i in topo.lab.interfaces if i.alias == "labnet-t")
    assert br.name.startswith("br-") and br.kind == "bridge"
    for n in ("n1", "n2"):
        peer = topo.namespace(n).interface("eth0").peer
        assert topo.lab.interface(peer.interface).master == br.name


def test_hand_made_netns_and_process_namespaces():
    hand = load("hand_netns")
    for n in ("red", "blue"):
        ns = hand.namespace(n)
        assert ns.kind == "netns" and ns.netns == (n,)
        assert str(ns.interface("eth0").peer) == f"lab:veth-{n}"
    proc = load("process_netns")
    ns = next(n for n in proc.namespaces if n.kind == "process")
    assert ns.command == "sleep" and ns.name == f"pid {ns.pid}"
    assert ns.label == f"sleep (pid {ns.pid})"
    assert str(proc.lab.interface("vhost0").peer) == f"{ns.name}:vproc0"


def test_a_containerd_task_namespace_is_named_after_the_task_not_its_pid():
    raw = json.loads((SNAPSHOTS / "process_netns.json").read_text())
    held = next(e for e in raw["namespaces"] if e.get("process"))
    held["process"]["containerd"] = "lab/ctr-web"
    topo = from_raw(raw)
    ns = next(n for n in topo.namespaces if n.kind == "process")
    assert ns.name == ns.label == "ctr-web" and ns.pid == held["process"]["pid"]
    assert str(topo.lab.interface("vhost0").peer) == "ctr-web:vproc0"


def test_lost_peer_is_a_warning_not_a_failure():
    topo = load("lost_peer")
    vlost = topo.lab.interface("vlost")
    assert vlost.kind == "veth" and vlost.peer is None
    [w] = [w for w in topo.warnings if w.level == "warning"]
    assert (w.namespace, w.interface) == ("lab", "vlost")
    assert "cannot see" in w.message
    assert "warning: lab:vlost:" in topo.summary()


def test_published_port_diff_reads_like_the_lesson():
    before, after = load("seed"), load("published_port")
    # Recorded after a reset, so busybox1/2 were made anew: compare only the port part.
    web_veth = after.namespace("web").interface("eth0").peer.interface
    lab = replace(after.lab, interfaces=tuple(i for i in after.lab.interfaces
                                              if i.name != web_veth))
    d = diff(replace(after, namespaces=(lab, *(n for n in after.namespaces[1:]
                                              if n.name != "web")),
                     port_mappings=before.port_mappings, masquerades=before.masquerades),
             after)
    lines = d.lines()
    assert lines == [
        "+ namespace web (container: eth0 172.17.0.4/16)",
        f"+ veth lab:{web_veth} ↔ web:eth0",
        "+ port tcp 8080→172.17.0.4:80 (DNAT in DOCKER)",
    ], lines
    assert d.summary() == ", ".join(lines)
    back = diff(after, before).lines()
    assert back[0] == "- namespace web"


def test_deleting_a_veth_removes_both_ends_in_one_line():
    before = load("process_netns")
    ns = next(n for n in before.namespaces if n.kind == "process")
    lab = before.lab
    after = replace(before, namespaces=(
        replace(lab, interfaces=tuple(i for i in lab.interfaces if i.name != "vhost0")),
        replace(ns, interfaces=tuple(i for i in ns.interfaces if i.name == "lo"), routes=())))
    assert diff(before, after).lines() == [f"- veth lab:vhost0 ↔ {ns.name}:vproc0"]


def test_changed_interface_fields_are_named():
    before = load("seed")
    lab = before.lab
    docker0 = lab.interface("docker0")
    after = replace(before, namespaces=(replace(lab, interfaces=tuple(
        replace(i, state="DOWN", mtu=1400) if i is docker0 else i for i in lab.interfaces)),
        *before.namespaces[1:]))
    assert diff(before, after).lines() == ["~ lab:docker0: state UP→DOWN, mtu 1500→1400"]


def test_summary_is_stable_text():
    assert load("seed").summary() == load("seed").summary()
    first = load("network_container").summary().splitlines()[1]
    assert first.startswith("busybox1 (container; also sidecar): eth0↔lab:veth")


def test_from_json_rejects_other_formats():
    with pytest.raises(ValueError, match="format 2 is not supported"):
        from_json('{"format": 2}')


def test_twenty_containers_are_in_natural_order():
    names = [n.name for n in load("twenty").namespaces]
    assert names[:4] == ["lab", "c1", "c2", "c3"] and names[-1] == "web"


# --- routes and renames, from the lessons' recordings (notebooks/recordings) ---------------

RECORDINGS = Path(__file__).resolve().parents[2] / "notebooks" / "recordings"


def test_a_route_a_cell_added_is_a_change():
    """Lesson 3's exercise: `ip -n outside route add 172.17.0.0/16 via 203.0.113.1`."""
    t7, t8 = states_around("03-way-out", "ip -n outside route add 172.17.0.0/16")
    assert "+ route outside:172.17.0.0/16 via 203.0.113.1 dev eth0" in diff(t7, t8).lines()
    assert "- route outside:172.17.0.0/16 via 203.0.113.1 dev eth0" in diff(t8, t7).lines()
    assert diff(*states_around("05-docker0-by-hand", "route add default via")).lines() == [
        "+ route lab-ns0:default via 10.15.10.1 dev eth0",
        "+ route lab-ns1:default via 10.15.10.1 dev eth0"]


def test_a_moved_or_renamed_veth_is_one_change():
    """Lesson 4: `ip link set veth1 netns lab-ns0`, then `ip link set veth1 name eth0`: the
    same link (kind, MAC, its peer's MAC), not one removed and another added."""
    t5, t6 = states_around("05-docker0-by-hand", "ip link set veth1 netns lab-ns0")
    t6b, t7 = states_around("05-docker0-by-hand", "ip link set veth1 name eth0")
    assert t6b == t6
    moved = diff(t5, t6)
    assert moved.lines() == ["~ lab:veth1: moved into lab-ns0"]  # veth0's new peer: implied
    assert moved.renamed() == {("lab-ns0", "veth1"): ("lab", "veth1")}
    renamed = diff(t6, t7)
    assert renamed.lines() == ["~ lab-ns0:veth1: renamed eth0, addresses []→[10.15.10.2/24]"]
    assert renamed.renamed() == {("lab-ns0", "eth0"): ("lab-ns0", "veth1")}
    assert diff(t5, t7).lines() == [
        "~ lab:veth1: moved into lab-ns0, renamed eth0, addresses []→[10.15.10.2/24]"]
    assert diff(t7, t5).lines() == [
        "~ lab-ns0:eth0: moved into lab, renamed veth1, addresses [10.15.10.2/24]→[]"]
    # The ifindex stayed (433 was free in lab-ns0), but it is not what matched them:
    assert t5.lab.interface("veth1").index == t6.namespace("lab-ns0").interface("veth1").index


def test_a_link_gone_with_its_namespace_is_no_rename():
    """A container removed and another one made with the same address (so the same MAC on
    its eth0): two namespaces, not a move."""
    rec = json.loads((RECORDINGS / "01-docker0.json").read_text())
    # the first state with busybox3 (found by content: a lesson's new cells renumber states)
    t4 = next(t for t in (steady(from_json(v)) for v in rec["topologies"].values())
              if t.namespace("busybox3") is not None)
    bb3 = t4.namespace("busybox3")
    again = replace(t4, namespaces=tuple(
        replace(n, name="busybox4", containers=()) if n is bb3 else n for n in t4.namespaces))
    d = diff(t4, again)
    assert not d.renamed()
    assert "- namespace busybox3" in d.lines()
    assert any(ln.startswith("+ namespace busybox4 (container: ") and "eth0 172.17.0.4/16" in ln
               for ln in d.lines()), d.lines()


def test_two_cables_into_one_namespace_keep_their_order_whatever_the_random_names():
    from labkit.model.topology import Endpoint, Interface, interface_order

    def pair(inner: str, outer: str) -> tuple[Interface, Interface]:
        return (Interface(inner, 3, "veth", "UP", True, peer=Endpoint("lab", outer)),
                Interface(outer, 9, "veth", "UP", True, peer=Endpoint("lab-ns", inner)))

    for a, b in (("veth09100304", "vethaeb552d3"), ("vethaeb552d3", "veth09100304")):
        (eth0, out0), (eth1, out1) = pair("eth0", a), pair("eth1", b)
        assert sorted([eth1, eth0], key=interface_order) == [eth0, eth1]  # inside lab-ns
        assert sorted([out1, out0], key=interface_order) == [out0, out1]  # their lab ends


def test_a_host_route_is_written_as_ip_route_writes_it():
    """No /32 (/128 for IPv6): `ip route` prints a host route as the bare address, and the
    drawing lists routes in its words (lesson 13's route to the external IP)."""
    host = Route("198.51.100.10/32", dev="eth0", gateway="203.0.113.1")
    assert str(host) == "198.51.100.10 via 203.0.113.1 dev eth0"
    assert str(Route("2001:db8::1/128", dev="eth0", family=6)) == "2001:db8::1 dev eth0"
    assert str(Route("10.244.2.0/24", gateway="10.192.0.3")) == "10.244.2.0/24 via 10.192.0.3"
