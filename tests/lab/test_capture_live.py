"""`%%lab --capture` in the real lab: tcpdump listens before the cell's commands run, what it
saw comes after their output, the cell's exit status is its own, and nothing is left behind."""

from __future__ import annotations

import re

import pytest

from labkit.errors import CommandTimeout
from labkit.notebook.capture import parse_capture, wrap

pytestmark = pytest.mark.lab


def captured(lab, where: str, script: str, timeout: float = 60):
    return lab.run(wrap(script, parse_capture(where)), timeout=timeout)


def test_a_ping_between_containers_seen_on_docker0_and_inside_the_receiver(lab):
    lab.run("docker run -dit --name busybox1 busybox sh && "
            "docker run -dit --name busybox2 busybox sh", check=True)
    mac1 = lab.sh("docker exec busybox1 cat /sys/class/net/eth0/address").strip()
    res = captured(lab, "docker0 -e icmp",
                   "echo before; docker exec busybox1 ping -c 2 172.17.0.3 >/dev/null; echo after")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[:3] == ["before", "after",
                         "--- tcpdump -i docker0 -n -t -l -e icmp: what it saw ---"]
    # the very first request was seen: tcpdump listened before the ping started
    assert [re.search(r"length \d+: (.*?), id", ln).group(1) for ln in lines[3:]] == [
        "172.17.0.2 > 172.17.0.3: ICMP echo request",
        "172.17.0.3 > 172.17.0.2: ICMP echo reply"] * 2
    assert lines[3].startswith(mac1)
    inside = captured(lab, "busybox2:eth0 icmp", "docker exec busybox1 ping -c 1 172.17.0.3")
    assert "(in busybox2): what it saw ---" in inside.stdout
    assert "IP 172.17.0.2 > 172.17.0.3: ICMP echo request" in inside.stdout


def test_in_an_ip_netns_namespace_and_the_cells_status_kept(lab):
    lab.run("ip netns add lab-ns0 && ip netns exec lab-ns0 ip link set lo up", check=True)
    res = captured(lab, "lab-ns0:lo udp port 9",
                   "ip netns exec lab-ns0 sh -c 'echo hi > /dev/udp/127.0.0.1/9' 2>/dev/null "
                   "|| ip netns exec lab-ns0 busybox nc -u -w 1 127.0.0.1 9 </dev/null; exit 3")
    assert res.exit_code == 3
    assert "--- tcpdump -i lo -n -t -l udp port 9 (in lab-ns0): what it saw ---" in res.stdout
    nothing = captured(lab, "lab-ns0:lo icmp", "true")
    assert nothing.stdout.endswith("what it saw ---\n(no packets)\n")


def test_mistakes_are_said_and_nothing_is_left_behind(lab):
    bad = captured(lab, "nosuch0 icmp", "echo must-not-run")
    assert bad.exit_code == 2 and "must-not-run" not in bad.stdout
    assert "labkit: tcpdump did not start: tcpdump -i nosuch0" in bad.stderr
    ghost = captured(lab, "ghost:eth0", "echo must-not-run")
    assert ghost.exit_code == 2 and "no namespace or running container named ghost" in ghost.stderr
    with pytest.raises(CommandTimeout):
        captured(lab, "docker0", "sleep 30", timeout=2)
    assert lab.sh("pgrep -x tcpdump || true").strip() == ""  # stopped with the cell
    assert lab.sh("ls /tmp | grep -c '^labkit-capture' || true").strip() == "0"


def test_a_tcpdump_that_is_a_wrapper_script_is_stopped_too(lab):
    """In the rootless lab `tcpdump` is a wrapper (fakeroot's shell runs the real one and
    passes no SIGINT on): the capture stops what the wrapper runs, not only the wrapper."""
    lab.run("mkdir -p /tmp/wrap && printf '#!/bin/sh\\n/usr/bin/tcpdump \"$@\"\\n' "
            "> /tmp/wrap/tcpdump && chmod +x /tmp/wrap/tcpdump && "
            "docker run -dit --name busybox1 busybox sh >/dev/null", check=True)
    try:
        res = lab.run("export PATH=/tmp/wrap:$PATH\n" + wrap(
            "docker exec busybox1 ping -c 1 172.17.0.1 >/dev/null",
            parse_capture("docker0 icmp")), timeout=20)
    finally:
        lab.run("rm -rf /tmp/wrap")
    assert res.exit_code == 0, res.stderr
    assert "IP 172.17.0.2 > 172.17.0.1: ICMP echo request" in res.stdout
