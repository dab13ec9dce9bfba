"""NAT along the path in the real lab (issue 12): a published port drawn through its bridge
and veth with the chains its DNAT rule is reached from, docker-proxy beside it, and the lab
host's FORWARD policy and br_netfilter state on its box; a cell's `iptables -P FORWARD DROP`
drawn and named, and the reset puts ACCEPT back."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.lab


def lab_label(dot: str) -> str:
    return next(ln for ln in dot.splitlines() if "(lab host)" in ln)


def test_a_published_port_is_drawn_along_its_path(lab):
    lab.draw()  # the clean lab: what the next drawing is compared with
    lab.sh("docker run -d --name web -p 8080:80 busybox httpd -f -p 80")
    ip = lab.sh("docker inspect -f '{{.NetworkSettings.IPAddress}}' web").strip()
    topo = lab.snapshot()
    web = topo.namespace("web")
    lab_end = web.interface("eth0").peer.interface
    [pm] = [pm for pm, _ in topo.published()]
    assert (pm.host_port, pm.to_ip, pm.chain, pm.entry) == (
        "8080", ip, "DOCKER", ("PREROUTING", "OUTPUT"))
    assert [str(p) for p in topo.proxies] == [f"docker-proxy tcp 0.0.0.0:8080→{ip}:80"]

    d = lab.draw()  # what changed since the clean lab, highlighted
    assert f"+ port tcp 8080→{ip}:80 (DNAT in DOCKER)" in d.diff.lines()
    assert f"+ docker-proxy tcp 0.0.0.0:8080→{ip}:80" in d.diff.lines()
    port = f'"port:tcp::8080:{ip}:80"'
    assert topo.namespace("lab").interface(lab_end).master == "docker0"
    assert f'{port} -> "if:lab:net:bridge" [' in d.dot
    assert "DNAT via PREROUTING, OUTPUT<br/>→ DOCKER → :80" in d.dot
    veth = '"if:lab:veth-to:web:eth0"'
    assert f'"if:lab:net:bridge" -> {veth} [constraint=false' in d.dot
    assert f'{veth} -> "if:web:eth0" [constraint=false' in d.dot
    proxy = f'"proxy:docker-proxy tcp 0.0.0.0:8080→{ip}:80"'
    assert f"{{rank=same; {port}; {proxy}}}" in d.dot and f"{port} -> {proxy}" in d.dot
    label = lab_label(d.dot)
    assert "FORWARD policy ACCEPT" in label
    assert "bridged traffic goes through iptables" in label  # the lab's br_netfilter is on
    assert "<svg" in d.svg()


def test_forward_drop_is_drawn_named_and_reset(lab):
    assert lab.snapshot().forward_policy == "ACCEPT"
    first = lab.after_cell()  # the first drawing of this session's lab state
    assert "FORWARD policy ACCEPT" in lab_label(first.dot)
    lab.sh("iptables -P FORWARD DROP")
    after = lab.after_cell()
    assert after.text() == "~ lab host FORWARD policy ACCEPT→DROP"
    label = lab_label(after.dot)
    assert "FORWARD policy DROP" in label and "(was ACCEPT)" in label
    assert "#c53030" in lab_label(lab.draw(changes=False).dot)  # DROP in the warning colour
    report = lab.reset()
    assert report.clean, report.warnings
    assert lab.sh("iptables -S FORWARD | head -1").strip() == "-P FORWARD ACCEPT"
    assert lab.snapshot().forward_policy == "ACCEPT"
