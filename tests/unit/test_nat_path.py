"""NAT along the path (issue 12): which chains lead to a DNAT rule, the lab host's FORWARD
policy, br_netfilter and docker-proxy, in the model, the diff and the drawing.

nat_path.json: a throw-away lab after `docker run -d --name web -p 8080:80 busybox httpd`
and `docker run -d --name other busybox sleep 1d` (`python3 -m labkit.probe --raw`);
nat_path_drop.json: the same lab after `iptables -P FORWARD DROP`.
"""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from labkit.draw.dot import to_dot
from labkit.model.build import from_raw
from labkit.model.diff import diff
from labkit.model.nat import (
    PortMapping,
    Proxy,
    entry_chains,
    parse_iptables_save,
    policy,
    port_mappings,
    proxy_from_argv,
)
from labkit.model.topology import Topology, from_json

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
PORT = '"port:tcp::8080:172.17.0.2:80"'


def raw(name: str) -> dict:
    return json.loads((SNAPSHOTS / f"{name}.json").read_text())


def load(name: str) -> Topology:
    return from_raw(raw(name))


# A learner's hand-made nat table: a user chain reached from PREROUTING through another one,
# a DNAT in a chain nothing jumps to, a DNAT in a base chain, and a loop of user chains.
HAND = """\
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:WEB - [0:0]
:PORTS - [0:0]
:FORGOTTEN - [0:0]
:LOOP - [0:0]
-A PREROUTING -i eth0 -j PORTS
-A OUTPUT -d 10.0.0.1/32 -g WEB
-A PREROUTING -p tcp --dport 81 -j DNAT --to-destination 10.0.0.3:80
-A PORTS -p tcp -m tcp --dport 8080 -j WEB
-A PORTS -j LOOP
-A LOOP -j PORTS
-A WEB -p tcp -j DNAT --to-destination 10.0.0.2:80
-A FORGOTTEN -p tcp --dport 9090 -j DNAT --to-destination 10.0.0.2:90
-A POSTROUTING -j LOOP
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -j FORGOTTEN
COMMIT
"""


# --- the model -------------------------------------------------------------------------------

def test_chains_are_followed_back_to_the_base_chains_through_jumps_and_gotos():
    rules = parse_iptables_save(HAND)
    # WEB: PREROUTING -> PORTS -> WEB and OUTPUT -g WEB; the loop PORTS <-> LOOP ends, and
    # POSTROUTING reaches PORTS through LOOP (the filter table's FORGOTTEN jump is another
    # table: it does not count).
    assert entry_chains("WEB", rules) == ("PREROUTING", "OUTPUT", "POSTROUTING")
    assert entry_chains("FORGOTTEN", rules) == ()
    assert entry_chains("PREROUTING", rules) == ("PREROUTING",)
    by_port = {pm.host_port: pm for pm in port_mappings(rules, follow=True)}
    assert by_port["*"].entry == ("PREROUTING", "OUTPUT", "POSTROUTING")
    assert by_port["9090"].entry == () and by_port["9090"].chain == "FORGOTTEN"
    assert by_port["81"].entry == ("PREROUTING",)
    # A rule read on its own (a traced hit) cannot know: None, not "no chain".
    assert {pm.entry for pm in port_mappings(rules)} == {None}


def test_docker_rules_recorded_in_the_lab_are_reached_from_prerouting_and_output():
    [web] = [pm for pm in load("nat_path").port_mappings if pm.chain == "DOCKER"]
    assert web == PortMapping("tcp", "8080", "172.17.0.2", "80", in_iface="!docker0",
                              chain="DOCKER", entry=("PREROUTING", "OUTPUT"))


def test_forward_policy_bridge_nf_and_proxies_from_the_recorded_scan():
    topo = load("nat_path")
    assert (topo.forward_policy, topo.bridge_nf) == ("ACCEPT", "on")
    assert topo.proxies == (Proxy("tcp", "0.0.0.0", "8080", "172.17.0.2", "80"),)
    assert str(topo.proxies[0]) == "docker-proxy tcp 0.0.0.0:8080→172.17.0.2:80"
    assert load("nat_path_drop").forward_policy == "DROP"
    assert policy(HAND, "FORWARD") == "DROP" and policy(HAND, "FORWARD", "nat") is None
    assert "lab host: FORWARD policy ACCEPT, bridged traffic goes through iptables" in (
        topo.summary().splitlines())


def test_br_netfilter_states_and_scans_from_before():
    scan = raw("nat_path")
    assert from_raw({**scan, "sysctl": {}}).bridge_nf == "not loaded"
    assert from_raw({**scan, "sysctl": {"net.bridge.bridge-nf-call-iptables": "0"}}
                    ).bridge_nf == "off"
    old = load("published_port")  # recorded before any of it was read: not known
    assert (old.forward_policy, old.bridge_nf, old.proxies) == (None, None, ())
    assert "lab host" not in old.summary()


def test_docker_proxy_command_lines():
    argv = ["/usr/bin/docker-proxy", "-proto", "tcp", "-host-ip", "::", "-host-port", "8080",
            "-container-ip", "fd00::2", "-container-port", "80", "-use-listen-fd"]
    assert str(proxy_from_argv(argv)) == "docker-proxy tcp [::]:8080→[fd00::2]:80"
    assert proxy_from_argv(["docker-proxy", "--proto=udp", "--host-ip=0.0.0.0",
                            "--host-port=53", "--container-ip=10.0.0.2",
                            "--container-port=53"]) == Proxy("udp", "0.0.0.0", "53",
                                                             "10.0.0.2", "53")
    assert proxy_from_argv(["docker-proxy", "-proto", "tcp"]) is None


def test_the_new_fields_round_trip_through_json():
    topo = load("nat_path")
    assert from_json(topo.to_json()) == topo
    # An older snapshot, without them, still loads (additive, with defaults).
    d = json.loads(topo.to_json())
    for key in ("forward_policy", "bridge_nf", "proxies"):
        del d[key]
    for pm in d["port_mappings"]:
        del pm["entry"]
    old = from_json(d)
    assert old.forward_policy is None and old.port_mappings[0].entry is None


# --- the diff --------------------------------------------------------------------------------

def test_a_forward_policy_change_is_a_change_and_the_summary_names_it():
    d = diff(load("nat_path"), load("nat_path_drop"))
    assert d.lines() == ["~ lab host FORWARD policy ACCEPT→DROP"]
    assert diff(load("nat_path_drop"), load("nat_path")).summary() == (
        "~ lab host FORWARD policy DROP→ACCEPT")


def test_a_listener_or_br_netfilter_change_is_a_change_but_not_known_is_not():
    a = load("nat_path")
    gone = replace(a, proxies=())
    assert diff(a, gone).lines() == ["- docker-proxy tcp 0.0.0.0:8080→172.17.0.2:80"]
    assert diff(gone, a).lines() == ["+ docker-proxy tcp 0.0.0.0:8080→172.17.0.2:80"]
    assert diff(a, replace(a, bridge_nf="not loaded")).lines() == [
        "~ lab host br_netfilter on→not loaded"]
    assert not diff(replace(a, forward_policy=None), a)  # an older snapshot: no news


def test_a_port_reached_from_other_chains_is_one_change():
    a = load("nat_path")
    pm = a.port_mappings[0]
    b = replace(a, port_mappings=(replace(pm, entry=("PREROUTING",)),))
    assert diff(a, b).lines() == ["~ port tcp 8080→172.17.0.2:80 (DNAT in DOCKER): reached "
                                  "from PREROUTING, OUTPUT→PREROUTING"]
    # drawn as one port, changed (not a live port faded as removed, nor two arrows)
    dot = to_dot(b, diff=diff(a, b))
    [node] = [ln for ln in dot.splitlines() if ln.strip().startswith(PORT + " [")]
    assert "style=\"filled,bold\"" in node and "dashed" not in node
    assert "DNAT via PREROUTING<br/>" in node
    assert len(edges(dot, PORT)) == 2  # to the bridge, and the dotted line to docker-proxy


def test_one_mapping_in_prerouting_and_in_output_is_one_port_listing_both():
    """Lesson 3's exercise writes the same DNAT in PREROUTING and in OUTPUT: one box saying
    both, and two diff lines that name their chains."""
    a = load("nat_path")
    pm = replace(a.port_mappings[0], host_port="9090", chain="PREROUTING", entry=("PREROUTING",))
    b = replace(a, port_mappings=(*a.port_mappings, pm,
                                  replace(pm, chain="OUTPUT", entry=("OUTPUT",))))
    lines = diff(a, b).lines()
    assert "+ port tcp 9090→172.17.0.2:80 (DNAT in OUTPUT)" in lines
    assert "+ port tcp 9090→172.17.0.2:80 (DNAT in PREROUTING)" in lines
    dot = to_dot(b, diff=diff(a, b))
    nine = '"port:tcp::9090:172.17.0.2:80"'
    [node] = [ln for ln in dot.splitlines() if ln.strip().startswith(nine + " [")]
    assert "DNAT in OUTPUT → :80<br/>DNAT in PREROUTING → :80" in node
    assert len(edges(dot, nine)) == 1


def test_a_loopback_port_says_docker_proxy_answers():
    """`-p 127.0.0.1:8080:80`: Docker's OUTPUT jump skips 127.0.0.0/8, so docker-proxy
    answers, not the DNAT rule; and a port range reads as a range."""
    a = load("nat_path")
    pm = replace(a.port_mappings[0], host_ip="127.0.0.1")
    dot = to_dot(replace(a, port_mappings=(pm,), proxies=()))
    assert "unused for a loopback address:<br/>docker-proxy answers" in dot
    assert "#c53030" not in next(ln for ln in dot.splitlines() if "127.0.0.1:8080" in ln)
    wide = replace(a.port_mappings[0], host_port="8000:8010", to_port=None)
    assert "tcp :8000-8010<br/>" in to_dot(replace(a, port_mappings=(wide,), proxies=()))


def test_an_ipv6_wildcard_proxy_is_joined_to_its_port():
    a = load("nat_path")
    six = replace(a.proxies[0], host_ip="::")
    dot = to_dot(replace(a, proxies=(*a.proxies, six)))
    assert f"{PORT} -> {_q_proxy(six)} [dir=none" in dot


# --- the drawing -----------------------------------------------------------------------------

def edges(dot: str, a: str) -> list[str]:
    return [ln.strip() for ln in dot.splitlines() if ln.strip().startswith(a + " -> ")]


def test_a_published_port_goes_through_the_bridge_and_the_veth():
    topo = load("nat_path")
    dot = to_dot(topo)
    lab_end = '"if:lab:veth-to:web:eth0"'
    first = edges(dot, PORT)[0]
    assert first.startswith(f'{PORT} -> "if:lab:net:bridge" [')
    # the chains it is reached by, in the port's box (as the arrow's label it widened the
    # drawing by a rank)
    assert ('label=<tcp :8080<br/><font point-size="8">DNAT via PREROUTING, OUTPUT<br/>'
            "→ DOCKER → :80</font>>") in dot
    # The path's own edges beside the bridge port and veth edges, not moving the layout.
    assert any(e.startswith(f'"if:lab:net:bridge" -> {lab_end} [constraint=false')
               for e in edges(dot, '"if:lab:net:bridge"'))
    assert any(e.startswith(f'{lab_end} -> "if:web:eth0" [constraint=false')
               for e in edges(dot, lab_end))
    assert not any('-> "if:web:eth0"' in e for e in edges(dot, PORT))  # no skipping arrow
    assert not any("other" in e and "constraint=false" in e for e in dot.splitlines())


def _q_proxy(px) -> str:
    return '"proxy:' + str(px) + '"'


def test_docker_proxy_beside_its_port_and_the_lab_host_facts():
    dot = to_dot(load("nat_path"))
    proxy = '"proxy:docker-proxy tcp 0.0.0.0:8080→172.17.0.2:80"'
    assert f"{proxy} [shape=box" in dot
    assert 'label="docker-proxy\\ntcp 0.0.0.0:8080\\n→ 172.17.0.2:80"' in dot
    assert f"{{rank=same; {PORT}; {proxy}}}" in dot
    assert f"{PORT} -> {proxy} [dir=none, style=dotted" in dot
    lab_label = next(ln for ln in dot.splitlines() if "(lab host)" in ln)
    assert "FORWARD policy ACCEPT" in lab_label and "#c53030" not in lab_label
    assert "bridged traffic goes through iptables" in lab_label


def test_forward_drop_in_the_warning_colour_and_highlighted_when_a_cell_set_it():
    before, after = load("nat_path"), load("nat_path_drop")
    plain = next(ln for ln in to_dot(after).splitlines() if "(lab host)" in ln)
    assert '<font color="#c53030"><b>FORWARD policy DROP</b></font>' in plain
    changed = next(ln for ln in to_dot(after, diff=diff(before, after)).splitlines()
                   if "(lab host)" in ln)
    assert "(was ACCEPT)" in changed and "#d5006d" in changed


@pytest.mark.parametrize("state, words", [
    ("off", "bridged traffic skips iptables (bridge-nf-call-iptables=0)"),
    ("not loaded", "br_netfilter not loaded: bridged traffic skips iptables")])
def test_br_netfilter_in_plain_words(state, words):
    dot = to_dot(replace(load("nat_path"), bridge_nf=state))
    assert words in next(ln for ln in dot.splitlines() if "(lab host)" in ln)


def test_a_dnat_nothing_jumps_to_is_drawn_as_not_reached():
    topo = load("nat_path")
    pm = replace(topo.port_mappings[0], chain="FORGOTTEN", entry=())
    dot = to_dot(replace(topo, port_mappings=(pm,), proxies=()))
    [first] = edges(dot, PORT)
    assert ('<font point-size="8" color="#c53030">DNAT in FORGOTTEN → :80<br/>not reached: '
            "no jump from<br/>PREROUTING or OUTPUT</font>") in dot
    assert 'color="#c53030"' in first and "style=dashed" in first


def test_the_drawing_is_deterministic_and_only_the_port_edges_place_nodes():
    a = load("nat_path")
    dot = to_dot(a)
    assert dot == to_dot(load("nat_path"))
    # From the port: to its bridge and to its docker-proxy; the rest of the way to the
    # container is drawn with constraint=false, so publishing a port moves nothing else.
    targets = [e.split(" -> ", 1)[1].split(" [", 1)[0] for e in edges(dot, PORT)]
    assert targets == ['"if:lab:net:bridge"',
                       '"proxy:docker-proxy tcp 0.0.0.0:8080→172.17.0.2:80"']
    marked = [ln for ln in dot.splitlines() if "constraint=false" in ln]
    assert len(marked) == 2 and all('color="#6b46c1"' in ln for ln in marked)
