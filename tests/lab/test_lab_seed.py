"""The seed's first steps, run unchanged in the live lab, give the seed's facts.

Every test starts from a reset lab (conftest), so busybox1 is always the first container.
"""

from __future__ import annotations

import json
import re
import time

import pytest

pytestmark = pytest.mark.lab


def run_busybox(lab, name: str) -> None:
    res = lab.run(f"docker run -dit --name {name} busybox sh", timeout=60)
    assert res.exit_code == 0, res.output
    assert re.fullmatch(r"[0-9a-f]{64}\n", res.stdout), res.stdout


def bridge_containers(lab) -> dict[str, dict]:
    """`docker network inspect bridge`'s containers, by name."""
    data = json.loads(lab.sh("docker network inspect bridge"))
    return {c["Name"]: c for c in data[0]["Containers"].values()}


def test_brctl_show_lists_docker0(lab):
    res = lab.run("brctl show")
    assert res.exit_code == 0, res.output
    header, *rows = res.stdout.splitlines()
    assert header.split() == ["bridge", "name", "bridge", "id", "STP", "enabled", "interfaces"]
    assert any(row.split()[0] == "docker0" for row in rows if row.strip())


def test_ifconfig_docker0(lab):
    out = lab.sh("ifconfig docker0")
    # net-tools 2.10 says "inet 172.17.0.1  netmask 255.255.0.0"; the seed's older one
    # "inet addr:172.17.0.1 ... Mask:255.255.0.0". Either is the seed's fact.
    assert re.search(r"inet (addr:)?172\.17\.0\.1\b", out), out
    assert re.search(r"(netmask |Mask:)255\.255\.0\.0\b", out), out


def test_docker_network_ls(lab):
    rows = [line.split() for line in lab.sh("docker network ls").splitlines()]
    assert rows[0] == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    names = {row[1]: row[2] for row in rows[1:]}
    assert names == {"bridge": "bridge", "host": "host", "none": "null"}


def test_busybox_image_is_offline(lab):
    """busybox:latest is made inside the lab; the lab has no registry to pull from."""
    out = lab.sh("docker image inspect -f '{{.Comment}}|{{json .RepoTags}}' busybox:latest")
    assert "busybox made offline by labkit" in out and '"busybox:latest"' in out


def test_busybox1_runs_and_gets_the_seeds_address_and_mac(lab):
    run_busybox(lab, "busybox1")
    assert lab.sh("docker inspect -f '{{.State.Running}}' busybox1") == "true\n"
    c = bridge_containers(lab)["busybox1"]
    assert c["IPv4Address"] == "172.17.0.2/16"
    assert c["MacAddress"] == "02:42:ac:11:00:02"
    # and as the container itself sees it
    inside = lab.sh("docker exec busybox1 ip -o -4 addr show eth0")
    assert "inet 172.17.0.2/16" in inside


def test_busybox2_gets_the_next_address(lab):
    run_busybox(lab, "busybox1")
    run_busybox(lab, "busybox2")
    cs = bridge_containers(lab)
    assert cs["busybox2"]["IPv4Address"] == "172.17.0.3/16"
    assert cs["busybox2"]["MacAddress"] == "02:42:ac:11:00:03"


def test_veth_pair_indexes_match(lab):
    """Host side `vethX@ifA` has index B; the container's `eth0@ifB` has index A."""
    run_busybox(lab, "busybox1")
    host = re.findall(r"^(\d+): (veth\w+)@if(\d+):", lab.sh("ip -o link"), re.M)
    assert len(host) == 1, host
    b, veth, a = host[0]
    inside = lab.sh("docker exec busybox1 ip -o link show eth0")
    found = re.match(r"(\d+): eth0@if(\d+):", inside)
    assert found, inside
    assert (found.group(1), found.group(2)) == (a, b)
    # the host end sits on docker0, as `brctl show` tells the learner
    assert veth in lab.sh("brctl show docker0")


def test_two_containers_two_veths_each_paired(lab):
    run_busybox(lab, "busybox1")
    run_busybox(lab, "busybox2")
    host = {int(b): int(a) for b, a in
            re.findall(r"^(\d+): veth\w+@if(\d+):", lab.sh("ip -o link"), re.M)}
    assert len(host) == 2
    for name in ("busybox1", "busybox2"):
        idx, peer = map(int, re.match(r"(\d+): eth0@if(\d+):",
                                      lab.sh(f"docker exec {name} ip -o link show eth0")).groups())
        assert host[peer] == idx


def test_busybox1_pings_busybox2(lab):
    run_busybox(lab, "busybox1")
    run_busybox(lab, "busybox2")
    res = lab.run("docker exec busybox1 ping -c 1 -W 5 172.17.0.3", timeout=30)
    assert res.exit_code == 0, res.output
    assert "1 packets transmitted, 1 packets received" in res.stdout


def test_port_publish_adds_dnat_and_serves(lab):
    res = lab.run("docker run -d -p 8080:80 busybox sh -c "
                  "'mkdir -p /var/www; echo hello > /var/www/index.html; "
                  "httpd -f -p 80 -h /var/www'", timeout=60)
    assert res.exit_code == 0, res.output
    rules = lab.sh("iptables -t nat -S DOCKER").splitlines()
    assert ("-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 "
            "-j DNAT --to-destination 172.17.0.2:80") in rules
    body = ""
    for _ in range(50):  # httpd needs a moment to listen
        body = lab.run("curl -s --max-time 2 localhost:8080", timeout=10).stdout
        if body:
            break
        time.sleep(0.1)
    assert body == "hello\n"


def test_publish_without_the_port_has_no_dnat(lab):
    """The DNAT rule comes from -p: a container without it adds none (reset removed the
    earlier ones)."""
    run_busybox(lab, "busybox1")
    assert "DNAT" not in lab.sh("iptables -t nat -S DOCKER")
