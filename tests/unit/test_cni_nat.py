"""The bridge CNI plugin's NAT in labkit's model and drawing: its MASQUERADE sits in a user
chain (`CNI-<24 hex>`) jumped to from POSTROUTING. Replays tests/snapshots/cni_bridge.json,
recorded in the real lab by tests/lab/test_cni_lab.py (article 3's lab-br0 network, added by
hand for the container id lab-ns)."""

import json
from pathlib import Path

from labkit.draw.dot import to_dot
from labkit.model.build import from_raw
from labkit.model.nat import Masquerade, cni_chain_name, masquerades, parse_iptables_save
from labkit.model.topology import from_json

RAW = json.loads((Path(__file__).resolve().parents[1] / "snapshots" / "cni_bridge.json")
                 .read_text())
CHAIN = "CNI-95c521ba458df43df4d8c523"


def test_the_chain_name_is_the_articles_for_its_network_and_container():
    # article 3: network "lab-br0", CNI_CONTAINERID=lab-ns, chain CNI-95c521ba458df43df4d8c523
    assert cni_chain_name("lab-br0", "lab-ns") == CHAIN
    # portmap's per-container DNAT chain: the same digest, fewer digits (28 characters in all)
    dn = cni_chain_name("lab-br0", "lab-ns", "CNI-DN-")
    assert dn == "CNI-DN-95c521ba458df43df4d8c" and len(dn) == 28


def test_the_recorded_chain_is_the_computed_one():
    assert f":{CHAIN} - " in RAW["nat"]
    assert "-A POSTROUTING -s 10.15.10.100/32 " in RAW["nat"]


def test_the_masquerade_in_the_plugins_chain_is_seen_through_its_jump():
    topo = from_raw(RAW)
    assert topo.masquerades == (
        Masquerade(source="172.17.0.0/16", out_iface="!docker0", chain="POSTROUTING"),
        Masquerade(source="10.15.10.100/32", destination="!224.0.0.0/4", chain=CHAIN,
                   exempt=("10.15.10.0/24",)),
    )
    cni = topo.masquerades[1]
    assert cni.via == CHAIN and topo.masquerades[0].via is None
    assert str(cni) == (f"MASQUERADE from 10.15.10.100/32 to !224.0.0.0/4 via {CHAIN} "
                        "except to 10.15.10.0/24")
    assert from_json(topo.to_json()) == topo  # the new field survives the JSON form


def test_the_note_names_the_chain_the_source_and_what_is_not_masqueraded():
    dot = to_dot(from_raw(RAW))
    assert ('label="MASQUERADE\\nfrom 10.15.10.100\\nvia CNI-95c5…,\\n'
            'not to 10.15.10.0/24, 224.0.0.0/4"') in dot
    # docker's own rule is drawn as before
    assert 'label="MASQUERADE\\nfrom 172.17.0.0/16\\nout not docker0"' in dot
    # each joined to the bridge its source is behind (one container's /32 too)
    assert '"if:lab:lab-br0" -> "masq:MASQUERADE from 10.15.10.100' in dot
    assert '"if:lab:net:bridge" -> "masq:MASQUERADE from 172.17.0.0/16' in dot


NAT = """*nat
:POSTROUTING ACCEPT [0:0]
:CNI-A - [0:0]
:CNI-B - [0:0]
-A POSTROUTING -s 10.0.0.2/32 -j CNI-A
-A POSTROUTING -s 10.0.0.3/32 -j CNI-A
-A CNI-A -s 10.0.0.0/24 -d 10.9.0.0/16 -j RETURN
-A CNI-A -d 10.0.0.0/24 -m comment --comment "x" -j ACCEPT
-A CNI-A -j MASQUERADE
-A CNI-B -s 10.0.1.0/24 -j MASQUERADE
COMMIT
"""


def test_each_jump_gives_its_source_and_only_a_bare_destination_is_exempt():
    ms = masquerades(parse_iptables_save(NAT))
    assert [(m.source, m.chain, m.exempt) for m in ms] == [
        ("10.0.0.2/32", "CNI-A", ("10.0.0.0/24",)),  # the RETURN has a source too: no exemption
        ("10.0.0.3/32", "CNI-A", ("10.0.0.0/24",)),
        ("10.0.1.0/24", "CNI-B", ()),  # nothing jumps there: the rule as it stands
    ]


# --- host-local's leases ----------------------------------------------------------------------


def test_host_locals_lease_is_read_from_its_store(tmp_path):
    from labkit.probe.cni import leases

    store = tmp_path / "lab-br0"
    store.mkdir()
    (store / "10.15.10.100").write_bytes(b"lab-ns\r\neth0")  # as host-local 1.1.1 writes it
    (store / "10.15.10.7").write_bytes(b"old-id")  # a file of the id alone
    (store / "last_reserved_ip.0").write_text("10.15.10.100")
    (store / "lock").write_text("")
    assert leases(str(tmp_path)) == [
        {"network": "lab-br0", "address": "10.15.10.100", "container": "lab-ns",
         "ifname": "eth0"},
        {"network": "lab-br0", "address": "10.15.10.7", "container": "old-id", "ifname": None}]
    assert leases(str(tmp_path / "none")) == []  # no CNI used yet: no store


def test_the_lease_is_in_the_model_the_diff_and_the_drawing():
    from labkit.model.diff import diff

    topo = from_raw(RAW)
    assert [str(x) for x in topo.leases] == ["lease lab-br0 10.15.10.100 → lab-ns eth0"]
    assert "lease lab-br0 10.15.10.100 → lab-ns eth0" in topo.summary()
    assert from_json(topo.to_json()) == topo
    before = from_raw({**RAW, "cni_leases": []})
    assert "+ lease lab-br0 10.15.10.100 → lab-ns eth0" in diff(before, topo).lines()
    dot = to_dot(topo, diff(before, topo))
    note = next(line for line in dot.splitlines() if '"leases:lab-br0" [' in line)
    assert "host-local: lab-br0\\n10.15.10.100 → lab-ns eth0" in note
    assert '"if:lab:lab-br0" -> "leases:lab-br0"' in dot  # beside the bridge it numbers
    assert 'style="filled,bold"' in note  # added by the cell: highlighted
    gone = to_dot(before, diff(topo, before))
    note = next(line for line in gone.splitlines() if '"leases:lab-br0" [' in line)
    assert 'style="filled,dashed"' in note  # released by the cell (DEL): drawn faded


def test_a_runtimes_long_container_id_is_shortened_in_the_note():
    docker_id = "2296af8b515dcda2683deb4e95935427ffbce9a5e13332e33c52230fadc1aec0"  # article 4
    lease = {"network": "lab-br0", "address": "10.15.10.100", "container": docker_id,
             "ifname": "eth0"}
    dot = to_dot(from_raw({**RAW, "cni_leases": [lease]}))
    assert "10.15.10.100 → 2296af8b515d… eth0" in dot and docker_id not in dot


# --- one parser for the checks: the plugin's labels, and the store as the probe reads it -------


def test_the_plugins_rules_say_their_network_and_container():
    from labkit.model.nat import cni_chains, cni_masquerades, cni_owner

    rules = parse_iptables_save(RAW["nat"])
    owners = {(r.chain, cni_owner(r)) for r in rules}
    assert ("POSTROUTING", ("lab-br0", "lab-ns")) in owners
    assert (CHAIN, ("lab-br0", "lab-ns")) in owners
    assert ("POSTROUTING", None) in owners  # docker's own MASQUERADE has no such label
    assert cni_masquerades(rules, "lab-br0") == {CHAIN: "10.15.10.100"}
    assert cni_masquerades(rules, "lab-br1") == {}
    assert cni_chains(rules, "lab-br0") == {CHAIN: "lab-ns"}
    # the chain stays known by its labels once its jump went (`iptables -D POSTROUTING ...`)
    left = [r for r in rules if not (r.chain == "POSTROUTING" and r.target == CHAIN)]
    assert cni_masquerades(left, "lab-br0") == {} and cni_chains(left, "lab-br0") == {
        CHAIN: "lab-ns"}


def test_a_lease_files_text_is_parsed_once_for_probe_and_checks():
    from labkit.model.cni import is_lease, leases_of, parse_lease

    assert [n for n in ("10.15.10.100", "fd00::2", "lock", "last_reserved_ip.0")
            if is_lease(n)] == ["10.15.10.100", "fd00::2"]
    lease = parse_lease("lab-br0", "10.15.10.100", "lab-ns\r\neth0")
    assert lease == RAW["cni_leases"][0]  # the probe's raw form, as recorded in the lab
    assert parse_lease("n", "10.0.0.2", "")["container"] == ""
    assert leases_of([lease, parse_lease("lab-br1", "10.15.11.2", "x")], "lab-br0") == {
        "10.15.10.100": "lab-ns"}


def test_the_checks_read_the_store_through_the_probes_reader(tmp_path):
    import subprocess
    import sys

    store = tmp_path / "lab-br0"
    store.mkdir()
    (store / "10.15.10.100").write_bytes(b"lab-ns\r\neth0")
    (store / "lock").write_text("")
    out = subprocess.run([sys.executable, "-m", "labkit.probe.cni", str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [{"network": "lab-br0", "address": "10.15.10.100",
                                "container": "lab-ns", "ifname": "eth0"}]
