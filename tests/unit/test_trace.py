"""labkit.model.trace, pure: the path walked from recorded kernel answers of a real lab
(tests/snapshots/trace_lesson3.json: busybox1, busybox2, web -p 8080:80, the outside
namespace routed to 172.17.0.0/16), the traffic script's output parsed, targets checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.draw.dot import to_dot
from labkit.draw.highlight import highlight
from labkit.model import trace as T
from labkit.model.topology import from_json

REC = json.loads((Path(__file__).parents[1] / "snapshots" / "trace_lesson3.json").read_text())
TOPO = from_json(REC["topology"])


def recorded(i: int) -> T.Path:
    t = REC["traces"][i]
    packet = T.Packet(t["source"], t["destination"], t["port"])

    def ask(ns: str, cmd: str) -> str:
        return t["answers"].get(f"{ns}\t{cmd}", "")

    return T.walk(TOPO, packet, ask, T.parse_traffic(t["traffic"]))


def test_container_to_outside_goes_up_docker0_and_is_masqueraded():
    path = recorded(0)
    assert path.delivered and not path.warnings
    nodes = path.nodes()
    assert nodes[0] == ("busybox1", "eth0") and nodes[-1] == ("outside", "eth0")
    assert ("lab", "docker0") in nodes and ("lab", "out0") in nodes
    text = path.text()
    assert "ip -j route get 203.0.113.10 from 172.17.0.2 iif docker0" in text
    assert "MASQUERADE from 172.17.0.0/16 out not docker0" in text
    assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE  [+1]" in text
    seen = {(s.namespace, s.interface) for s in path.traffic.seen}
    assert {("busybox1", "eth0"), ("lab", "out0"), ("outside", "eth0")} <= seen


def test_container_to_container_is_switched_by_the_bridge_fdb():
    path = recorded(1)
    assert path.delivered
    bridge = [s for s in path.steps if s.kind == "bridge"]
    assert len(bridge) == 1 and "bridge -j fdb get 02:42:ac:11:00:03 br docker0" in bridge[0].asked
    assert path.nodes()[-1] == ("busybox2", "eth0")
    assert "nat rules it hit: none" in path.text()


def test_published_port_is_followed_through_its_dnat_rule():
    path = recorded(2)
    assert path.delivered
    nat = [s for s in path.steps if s.kind == "nat"]
    assert nat and "rewrites the destination to 172.17.0.4:80" in nat[0].text
    assert path.nodes()[-1] == ("web", "eth0")
    hl = highlight(path)
    assert [str(pm) for pm in hl.port_mappings] == ["tcp 8080→172.17.0.4:80"]


def test_without_answers_the_walk_stops_and_says_so():
    path = T.walk(TOPO, T.Packet("busybox1", "203.0.113.10"), lambda ns, cmd: "")
    assert not path.delivered
    assert "no route to 203.0.113.10" in path.text()


def test_targets_are_only_the_labs_own_addresses():
    assert T.check_target(TOPO, "busybox1", "outside").address == "203.0.113.10"
    with pytest.raises(T.TraceError, match="not an address of the lab"):
        T.check_target(TOPO, "busybox1", "8.8.8.8")
    with pytest.raises(T.TraceError, match="unknown source"):
        T.check_target(TOPO, "nowhere", "172.17.0.3")
    # the lab's uplink (eth0, address from the machine's network) is never a target
    assert all(p.interface != "eth0" for p in T.places(TOPO) if p.namespace == "lab")


def test_traffic_script_captures_where_the_packet_can_go():
    script = T.traffic_script(T.Packet("outside", "203.0.113.1", 8080), TOPO)
    assert "ip netns exec outside curl" in script
    assert script.count("tcpdump -nn -t -q -l -i any") == 3  # outside, lab, web
    assert "tcp port 80 or tcp port 8080" in script
    assert "iptables-save -c -t nat" in script


def test_counters_diff_lists_rules_not_policies():
    before = "*nat\n:PREROUTING ACCEPT [0:0]\n[0:0] -A POSTROUTING -j MASQUERADE\nCOMMIT\n"
    after = "*nat\n:PREROUTING ACCEPT [3:180]\n[2:120] -A POSTROUTING -j MASQUERADE\nCOMMIT\n"
    [hit] = T.rule_hits(before, after, "nat")
    assert hit.rule == "-A POSTROUTING -j MASQUERADE" and hit.packets == 2


def test_the_path_is_drawn_over_the_picture():
    dot = to_dot(TOPO, highlight=highlight(recorded(0)))
    assert dot.count('label="1"') == 1 and '"if:outside:eth0" [color="#1c7ed6"' in dot
    assert to_dot(TOPO, highlight=highlight(recorded(0))) == dot  # deterministic


def test_counters_keep_policies_and_tell_equal_rules_apart():
    text = ("*filter\n:FORWARD DROP [4:240]\n:DOCKER - [0:0]\n-A FORWARD -j DOCKER\n"
            "[1:60] -A DOCKER -j ACCEPT\n[2:120] -A DOCKER -j ACCEPT\nCOMMIT\n")
    assert T.parse_counters(text) == {("policy FORWARD DROP", 0): 4, ("policy DOCKER -", 0): 0,
                                      ("-A DOCKER -j ACCEPT", 0): 1,
                                      ("-A DOCKER -j ACCEPT", 1): 2}
    after = text.replace("[2:120]", "[5:300]")
    [hit] = T.rule_hits(text, after, "filter")
    assert (hit.packets, hit.target, str(hit)) == (3, "ACCEPT",
                                                   "filter: -A DOCKER -j ACCEPT  [+3]")


def test_a_hit_nat_rule_reads_as_the_nat_model():
    hit = T.RuleHit("nat", "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT "
                    "--to-destination 172.17.0.4:80", 1)
    other = T.RuleHit("filter", "-A FORWARD -o docker0 -j DNAT --to-destination 1.2.3.4", 1)
    pms, mqs = T.nat_of((hit, other))
    assert hit.target == "DNAT" and [str(pm) for pm in pms] == ["tcp 8080→172.17.0.4:80"]
    assert mqs == []
