"""The CNI parts of the lab image, live: Debian's plugins run by hand and through our cnitool
leave in the kernel what the series' article 3 shows, labkit's model sees the plugin's
MASQUERADE chain, and `lab.reset()` removes all of it and says so.

With LABKIT_RECORD_SNAPSHOTS=1 the first test also writes its raw scan to
tests/snapshots/cni_bridge.json, which tests/unit/test_cni_nat.py replays.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from labkit.exercises.lessons import lesson6
from labkit.model.build import from_raw
from labkit.model.nat import cni_chain_name
from labkit.transport.probe_client import SERVE_ARGV, ProbeSession

pytestmark = pytest.mark.lab

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"

# Article 3's network, its trailing comma removed: the one lesson 6 ends up with.
LAB_BR0 = lesson6.LAB_BR0
# The same network for cnitool, with portmap after the bridge (a runtime's port mapping).
LAB_PM = """{"cniVersion": "0.4.0", "name": "lab-pm", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true,
   "ipam": {"type": "host-local", "subnet": "10.22.0.0/24", "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
"""
CHAIN = "CNI-95c521ba458df43df4d8c523"  # the article's, for network lab-br0, container lab-ns


@pytest.fixture
def cni(lab):
    """The lab, with the CNI plugins and cnitool its image must carry."""
    missing = lab.run("ls /opt/cni/bin/bridge /opt/cni/bin/host-local /opt/cni/bin/portmap "
                      "/usr/local/bin/cnitool >/dev/null")
    assert missing.ok, f"the lab image has no CNI plugins or cnitool (rebuild it): {missing!r}"
    return lab


def write(lab, path: str, text: str) -> None:
    lab.sh(f"mkdir -p {os.path.dirname(path)} && cat > {path} <<'EOF'\n{text}EOF\n")


def add_by_hand(lab) -> dict:
    """Article 3's ADD: the bridge plugin run by hand into the namespace lab-ns."""
    write(lab, "/root/lab-br0.conf", LAB_BR0)
    out = lab.sh("ip netns add lab-ns\n"
                 "CNI_COMMAND=ADD CNI_CONTAINERID=lab-ns CNI_NETNS=/var/run/netns/lab-ns "
                 "CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin /opt/cni/bin/bridge < /root/lab-br0.conf")
    return json.loads(out)


def nat(lab) -> str:
    return lab.sh("iptables-save -t nat")


def test_the_bridge_plugin_by_hand_then_reset(cni):
    lab = cni
    result = add_by_hand(lab)
    # the result names the bridge, the host's end of the veth and the namespace's eth0
    names = [i["name"] for i in result["interfaces"]]
    assert names[0] == "lab-br0" and names[1].startswith("veth") and names[2] == "eth0"
    assert result["interfaces"][2]["sandbox"] == "/var/run/netns/lab-ns"
    assert result["ips"] == [{"version": "4", "interface": 2, "address": "10.15.10.100/24",
                              "gateway": "10.15.10.99"}]
    veth = names[1]

    # ... and the kernel holds every part of it
    assert "inet 10.15.10.99/24" in lab.sh("ip -4 -o addr show dev lab-br0")
    host_end = lab.sh(f"ip -o -d link show dev {veth}")
    assert "master lab-br0" in host_end and "link-netns lab-ns" in host_end and "veth" in host_end
    assert "inet 10.15.10.100/24" in lab.sh("ip netns exec lab-ns ip -4 -o addr show dev eth0")
    assert "default via 10.15.10.99 dev eth0" in lab.sh("ip netns exec lab-ns ip route")
    lease = lab.sh("cat /var/lib/cni/networks/lab-br0/10.15.10.100")
    assert lease.split() == ["lab-ns", "eth0"]  # host-local: who holds the address
    rules = nat(lab)
    assert "-A POSTROUTING -s 10.15.10.100/32" in rules and f"-j {CHAIN}" in rules
    chain = [line for line in rules.splitlines() if line.startswith(f"-A {CHAIN} ")]
    assert len(chain) == 2, rules
    assert " -d 10.15.10.0/24 " in chain[0] and chain[0].endswith("-j ACCEPT")
    assert " ! -d 224.0.0.0/4 " in chain[1] and chain[1].endswith("-j MASQUERADE")

    # labkit's model sees the MASQUERADE through the jump, with the subnet it exempts
    session = ProbeSession(lab.transport.open_pipe(list(SERVE_ARGV)))
    try:
        raw = session.raw()
    finally:
        session.close()
    if os.environ.get("LABKIT_RECORD_SNAPSHOTS") == "1":
        (SNAPSHOTS / "cni_bridge.json").write_text(json.dumps(raw, indent=1, sort_keys=True)
                                                   + "\n")
    topo = from_raw(raw)
    masq = [m for m in topo.masquerades if m.chain == CHAIN]
    assert [(m.source, m.exempt) for m in masq] == [("10.15.10.100/32", ("10.15.10.0/24",))]
    # ... and host-local's lease, which the kernel does not hold
    assert [str(x) for x in topo.leases] == ["lease lab-br0 10.15.10.100 → lab-ns eth0"]

    report = lab.reset()
    assert report.clean, report.warnings
    did = "\n".join(report.actions)
    for expected in ("deleted namespace lab-ns", "deleted link lab-br0",
                     f"removed iptables chain {CHAIN} (nat table) and the jump to it from "
                     "POSTROUTING -s 10.15.10.100/32",
                     "removed host-local's leases of network lab-br0 (10.15.10.100)"):
        assert expected in did, f"{expected!r} not in:\n{did}"
    assert "CNI-" not in nat(lab)
    assert lab.run("ip link show lab-br0").exit_code != 0
    assert lab.run(f"ip link show {veth}").exit_code != 0
    assert lab.sh("find /var/lib/cni /etc/cni/net.d -mindepth 1 2>/dev/null") == ""
    assert lab.reset().actions == ()  # once is enough


def test_cnitool_add_check_del_and_the_reset_after(cni):
    lab = cni
    write(lab, "/etc/cni/net.d/10-lab-br0.conf", LAB_BR0)
    write(lab, "/etc/cni/net.d/20-lab-pm.conflist", LAB_PM)
    lab.sh("ip netns add c1; ip netns add c2")
    one = json.loads(lab.sh("cnitool add lab-br0 /var/run/netns/c1"))
    assert one["ips"][0]["address"] == "10.15.10.100/24"
    # cnitool names the container as upstream's does: "cnitool-" + 20 hex digits
    lease = lab.sh("cat /var/lib/cni/networks/lab-br0/10.15.10.100").split()
    assert re.fullmatch(r"cnitool-[0-9a-f]{20}", lease[0]) and lease[1] == "eth0"
    assert f"-j {cni_chain_name('lab-br0', lease[0])}" in nat(lab)
    assert lab.run("cnitool check lab-br0 /var/run/netns/c1").ok
    assert "default via 10.15.10.99 dev eth0" in lab.sh("ip netns exec c1 ip route")

    # a conflist with portmap, and the runtime's port mapping through CAP_ARGS
    caps = '{"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}'
    two = json.loads(lab.sh(f"CAP_ARGS='{caps}' CNI_IFNAME=net1 cnitool add lab-pm "
                            "/var/run/netns/c2"))
    assert two["ips"][0]["address"] == "10.22.0.2/24"
    assert "inet 10.22.0.2/24" in lab.sh("ip netns exec c2 ip -4 -o addr show dev net1")
    rules = nat(lab)
    assert "-j DNAT --to-destination 10.22.0.2:80" in rules and ":CNI-HOSTPORT-DNAT" in rules

    # DEL undoes the ADD: lease, chain and veth go; the bridge stays (as the plugin does)
    lab.sh("cnitool del lab-br0 /var/run/netns/c1")
    assert lab.run("test -e /var/lib/cni/networks/lab-br0/10.15.10.100").exit_code != 0
    assert cni_chain_name("lab-br0", lease[0]) not in nat(lab)
    assert len(lab.sh("ip netns exec c1 ip -o link show").splitlines()) == 1  # only lo
    assert "lab-br0" in lab.sh("ip -o link show")

    report = lab.reset()
    assert report.clean, report.warnings
    did = "\n".join(report.actions)
    for expected in ("deleted link lab-br0", "deleted link cni0",
                     "removed CNI config /etc/cni/net.d/10-lab-br0.conf",
                     "removed CNI config /etc/cni/net.d/20-lab-pm.conflist",
                     "removed host-local's leases of network lab-pm (10.22.0.2)",
                     "removed iptables chain CNI-HOSTPORT-DNAT (nat table) and the jumps to "
                     "it from PREROUTING, OUTPUT",
                     "removed iptables chain CNI-HOSTPORT-MASQ (nat table)",
                     "removed iptables chain CNI-HOSTPORT-SETMARK (nat table)",
                     f"removed iptables chain {cni_chain_name('lab-pm', 'x', 'CNI-DN-')[:7]}",
                     "removed libcni's cache of results"):
        assert expected in did, f"{expected!r} not in:\n{did}"
    assert "CNI-" not in nat(lab)
    assert lab.sh("find /var/lib/cni /etc/cni/net.d -mindepth 1 2>/dev/null") == ""
    links = lab.sh("ip -o link show")
    assert "lab-br0" not in links and "cni0" not in links and "veth" not in links
    assert lab.reset().actions == ()


CTR = "ctr --address /run/docker/containerd/containerd.sock -n lab"
# A plugin of one's own, as lesson 8 writes one: it logs to a file and prints an empty result.
LOGGER = """#!/bin/bash
exec 2>> /var/log/cni/logger.log
echo "Command: $CNI_COMMAND" >&2
[ "$CNI_COMMAND" = ADD ] && echo '{}'
exit 0
"""


def test_reset_removes_a_plugin_of_ones_own_its_log_and_ctr_containers(cni):
    """Lesson 8's leftovers: a plugin in /opt/cni/bin (Debian's /usr/lib/cni) that no package
    installed, its log in /var/log/cni, and the container a `ctr run --cni` leaves in containerd
    when the plugin fails (its task CREATED). The reset removes them and keeps Debian's own
    plugins and the imported image."""
    lab = cni
    own = lab.sh("ls /usr/lib/cni")
    lab.sh("mkdir -p /var/log/cni")
    write(lab, "/opt/cni/bin/logger", LOGGER)
    write(lab, "/etc/cni/net.d/10-lab-log.conf",
          '{"cniVersion": "0.4.0", "name": "lab-log", "type": "logger"}\n')
    lab.sh(f"docker save busybox | {CTR} images import - >/dev/null")
    lab.sh("mkdir -p /run/containerd && "
           "ln -s /var/run/docker/containerd/containerd.sock /run/containerd/containerd.sock")
    # without its execute bit the plugin cannot run: ctr's ADD fails and c1 stays behind
    failed = lab.run(f"{CTR} run --rm --cni docker.io/library/busybox:latest c1 true")
    assert failed.exit_code != 0 and "permission denied" in failed.stderr, failed
    assert lab.sh(f"{CTR} containers ls -q").split() == ["c1"]
    lab.sh("chmod +x /opt/cni/bin/logger")
    lab.sh(f"{CTR} run --rm --cni docker.io/library/busybox:latest c2 true")
    assert lab.sh("cat /var/log/cni/logger.log").splitlines() == ["Command: ADD",
                                                                "Command: DEL"]
    assert lab.sh(f"{CTR} containers ls -q").split() == ["c1"]  # --rm removed c2 itself

    report = lab.reset()
    assert report.clean, report.warnings
    did = "\n".join(report.actions)
    for expected in ("removed containerd container c1 (namespace lab)",
                     "removed CNI plugin /opt/cni/bin/logger (a lesson's own)",
                     "removed CNI plugin log /var/log/cni/logger.log",
                     "removed CNI config /etc/cni/net.d/10-lab-log.conf",
                     "removed the link /run/containerd/containerd.sock"):
        assert expected in did, f"{expected!r} not in:\n{did}"
    assert lab.sh("ls /usr/lib/cni") == own  # Debian's plugins all stay
    assert lab.sh(f"{CTR} containers ls -q") == ""
    assert lab.run("test -L /run/containerd/containerd.sock").exit_code != 0
    assert "docker.io/library/busybox:latest" in lab.sh(f"{CTR} images ls -q")
    assert lab.reset().actions == ()
