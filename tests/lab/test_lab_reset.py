"""`lab.reset()`: undoes everything reset.sh claims to, and is idempotent (10 resets in a row
leave the same state)."""

from __future__ import annotations

import re
import threading
import time

import pytest

from labkit import CommandTimeout, ResetReport

pytestmark = pytest.mark.lab

# Documentation ranges (RFC 5737): never routed anywhere, and only ever added inside the lab.
EXTRA_ADDR = "192.0.2.1/24"
EXTRA_NET = "198.51.100.0/24"
MARK = "labkit-test-dirt"


def fingerprint(lab) -> dict[str, str]:
    """The lab's state as reset promises it: containers, namespaces, links, addresses, routes,
    firewall (no counters, no comments), ip_forward."""
    parts = {
        "containers": "docker ps -a --format '{{.Names}} {{.Image}}' | sort",
        "networks": "docker network ls --format '{{.Name}} {{.Driver}}' | sort",
        "netns": "ip netns list",
        "links": "ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort",
        "addrs": "ip -4 addr",
        "routes": "ip route",
        "iptables": "iptables-save | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'",
        "ip_forward": "sysctl -n net.ipv4.ip_forward",
        "processes": "ps -eo ppid=,comm= | awk '$1 == 1 {print $2}' | sort",
    }
    script = "; ".join(f"echo '@@{k}'; {cmd}" for k, cmd in parts.items())
    out = lab.sh(script)
    chunks = re.split(r"^@@(\w+)\n", out, flags=re.M)[1:]
    return dict(zip(chunks[::2], chunks[1::2], strict=True))


def processes(lab, args: str) -> str:
    out = lab.sh("ps -eo pid=,args=")
    return "\n".join(line for line in out.splitlines() if line.split(None, 1)[1:] == [args])


def dirty(lab) -> None:
    """Every kind of change reset.sh says it undoes."""
    lab.sh(
        "set -e\n"
        "docker run -dit --name busybox1 busybox sh >/dev/null\n"
        "docker run -d --name web -p 8080:80 busybox httpd -f -p 80 >/dev/null\n"
        "docker create --name stopped busybox true >/dev/null\n"
        "docker network create testnet >/dev/null\n"
        "docker run -dit --name onnet --network testnet busybox sh >/dev/null\n"
        "ip netns add red\n"
        "ip link add br-test type bridge\n"
        "ip link add vt0 type veth peer name vt1\n"
        "ip link set vt0 master br-test\n"
        "ip link set br-test up; ip link set vt0 up\n"
        f"ip addr add {EXTRA_ADDR} dev docker0\n"
        f"ip route add {EXTRA_NET} dev docker0\n"
        f"iptables -t nat -A POSTROUTING -s {EXTRA_NET} -j MASQUERADE "
        f"-m comment --comment {MARK}\n"
        "iptables -t nat -N TESTCHAIN\n"
        f"iptables -A FORWARD -s {EXTRA_NET} -j DROP\n"
        "iptables -t mangle -A PREROUTING -j RETURN\n"
        "iptables -t mangle -P OUTPUT DROP\n"
        "iptables -P FORWARD DROP\n"
        "sysctl -qw net.ipv4.ip_forward=0\n"
        "sleep 3001 &\n"
        "unshare -n sleep 3002 &\n"
        # unshare makes the namespace before it execs sleep: wait until it has
        "for _ in $(seq 100); do pgrep -xf 'sleep 3002' >/dev/null && break; sleep 0.05; done\n"
        "true\n", timeout=120)


@pytest.fixture
def undo_drop_policies(lab):
    """After a test that ran `dirty`: ACCEPT policies again even if reset failed to restore
    them, because other tests (and other sessions) share this lab."""
    yield
    lab.run("iptables -t mangle -P OUTPUT ACCEPT; iptables -P FORWARD ACCEPT")


def assert_dirty(lab) -> None:
    fp = fingerprint(lab)
    assert "busybox1" in fp["containers"] and "testnet" in fp["networks"]
    assert "red" in fp["netns"]
    assert {"br-test", "vt0", "vt1"} <= set(fp["links"].split())
    # (the lab's seal holds `unreachable 198.51.100.0/24` at all times: look for the dirt's own)
    assert EXTRA_ADDR in fp["addrs"] and f"{EXTRA_NET} dev docker0" in fp["routes"]
    assert MARK in fp["iptables"] and "TESTCHAIN" in fp["iptables"]
    assert fp["ip_forward"] == "0\n"
    assert ":FORWARD DROP" in fp["iptables"] and ":OUTPUT DROP" in fp["iptables"]
    assert processes(lab, "sleep 3001") and processes(lab, "sleep 3002")


def test_reset_undoes_everything(lab, undo_drop_policies):
    clean = fingerprint(lab)
    baseline_forward = lab.sh("cat /run/labkit/baseline/ip_forward")
    dirty(lab)
    assert_dirty(lab)

    report = lab.reset()
    assert isinstance(report, ResetReport)
    assert report.clean, report.warnings
    assert str(report) == "The lab is back at its starting state."
    did = "\n".join(report.actions)
    for expected in ("removed container busybox1", "removed container stopped",
                     "removed network testnet", "deleted namespace red", "deleted link br-test",
                     f"removed address {EXTRA_ADDR} from docker0",
                     "restored Docker's iptables rules", "emptied iptables table mangle",
                     "set ip_forward back to 1"):
        assert expected in did, f"{expected!r} not in:\n{did}"

    after = fingerprint(lab)
    assert after["containers"] == "" and after["netns"] == ""
    assert after["networks"] == "bridge bridge\nhost host\nnone null\n"
    assert not {"br-test", "vt0", "vt1"} & set(after["links"].split())
    assert EXTRA_ADDR not in after["addrs"] and f"{EXTRA_NET} dev docker0" not in after["routes"]
    assert MARK not in after["iptables"] and "TESTCHAIN" not in after["iptables"]
    assert " DROP " not in after["iptables"]  # every policy is ACCEPT again
    assert "DNAT" not in lab.sh("iptables -t nat -S DOCKER")
    assert after["ip_forward"] == baseline_forward
    assert processes(lab, "sleep 3001") == "" and processes(lab, "sleep 3002") == ""
    assert after == clean


def test_reset_stops_a_command_still_running(lab):
    """A cell whose command is still running (interrupted, or another session) is stopped:
    its process is not parented to the lab's init, so the orphan rule misses it."""
    outcome: list = []
    worker = threading.Thread(
        target=lambda: outcome.append(lab.run("sleep 978", timeout=0)), daemon=True)
    worker.start()
    for _ in range(50):
        if processes(lab, "sleep 978"):
            break
        time.sleep(0.1)
    assert processes(lab, "sleep 978"), "the command did not start"
    try:
        lab.reset()
        assert processes(lab, "sleep 978") == ""
        worker.join(timeout=15)
        assert outcome and not outcome[0].ok
    finally:
        if processes(lab, "sleep 978"):  # never leave it behind
            lab.run("kill $(ps -eo pid=,args= | awk '$2 == \"sleep\" && $3 == \"978\" "
                    "{print $1}')")


def test_reset_after_a_timeout_leaves_no_trace(lab):
    clean = fingerprint(lab)
    with pytest.raises(CommandTimeout):
        lab.run("docker run --name slow busybox sleep 100", timeout=2)
    lab.reset()
    assert fingerprint(lab) == clean


def test_reset_on_a_clean_lab_reports_nothing(lab):
    first = lab.reset()  # the fixture reset already; this is a second one in a row
    assert first.actions == () and first.warnings == ()
    assert str(first) == "The lab is back at its starting state."


@pytest.mark.slow
def test_reset_ten_times_in_a_row_gives_the_same_state(lab, undo_drop_policies):
    dirty(lab)
    lab.reset()
    reference = fingerprint(lab)
    for i in range(10):
        report = lab.reset()
        assert report.clean, (i, report.warnings)
        assert report.actions == (), (i, report.actions)
        assert fingerprint(lab) == reference, f"reset #{i + 2} changed the state"


def test_lab_works_normally_after_reset(lab, undo_drop_policies):
    """Reset keeps the busybox image and the seed's numbering starts again at .2."""
    dirty(lab)
    lab.reset()
    lab.sh("docker run -dit --name busybox1 busybox sh")
    assert "172.17.0.2/16" in lab.sh("docker exec busybox1 ip -o -4 addr show eth0")
    assert lab.run("docker exec busybox1 ping -c 1 -W 5 172.17.0.1", timeout=30).ok


# --- what reset also puts back, and the truth when it cannot ----------------------------------


def test_reset_puts_back_ipv6_rules_links_rules_tables_sysctls_and_neighbours(lab):
    start = lab.sh("ip -o link show docker0")
    lab.sh("set -e\n"
           "for i in 1 2 3; do ip6tables -A INPUT -s 2001:db8::/32 -j DROP; done\n"
           "ip link set docker0 mtu 1400\n"
           "ip link set docker0 address 02:00:00:00:00:99\n"
           "ip rule add pref 100 from 192.0.2.0/24 lookup 100\n"
           "ip route add 198.51.100.0/24 dev docker0 table 100\n"
           "sysctl -qw net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.docker0.proxy_arp=1\n"
           # (on eth0: a new MAC on docker0 flushes its neighbours by itself)
           "ip neigh add 192.0.2.99 lladdr 02:00:00:00:00:98 dev eth0 nud permanent\n")
    report = lab.reset()
    assert report.clean, report.warnings
    did = "\n".join(report.actions)
    for expected in ("emptied ip6tables table filter", "set the mtu of docker0 back to 1500",
                     "set the MAC address of docker0 back to",
                     "removed rule 100: from 192.0.2.0/24 lookup 100",
                     "removed route 198.51.100.0/24 dev docker0 table 100",
                     "set net.ipv4.conf.all.rp_filter back to",
                     "set net.ipv4.conf.docker0.proxy_arp back to 0",
                     "removed permanent neighbour entries"):
        assert expected in did, f"{expected!r} not in:\n{did}"
    assert lab.sh("ip -o link show docker0") == start
    assert "2001:db8" not in lab.sh("ip6tables-save")
    assert lab.sh("ip rule; ip route show table 100").count("lookup 100") == 0
    assert lab.reset().actions == ()  # and once is enough


def test_reset_gives_a_renamed_docker0_its_name_back(lab):
    lab.sh("ip link set docker0 down; ip link set docker0 name br-renamed")
    report = lab.reset()
    assert report.clean, report.warnings
    assert "renamed br-renamed back to docker0" in report.actions
    assert "172.17.0.1/16" in lab.sh("ip -4 -o addr show docker0")
    lab.sh("docker run -dit --name busybox1 busybox sh >/dev/null")
    assert lab.run("docker exec busybox1 ping -c 1 -W 5 172.17.0.1", timeout=30).ok


def test_reset_with_a_full_tmp_still_removes_an_address_and_a_route(lab):
    lab.sh(f"ip addr add {EXTRA_ADDR} dev docker0; ip route add {EXTRA_NET} dev docker0\n"
           "mkdir -p /tmp/full && mount -t tmpfs -o size=4k tmpfs /tmp/full\n"
           "head -c 8192 /dev/zero > /tmp/full/x 2>/dev/null; mount --bind /tmp/full /tmp")
    try:
        report = lab.reset()
    finally:
        lab.run("umount /tmp; umount /tmp/full; rmdir /tmp/full")
    assert report.clean, report.warnings
    assert f"removed address {EXTRA_ADDR} from docker0" in report.actions
    assert EXTRA_ADDR not in lab.sh("ip -4 addr") and f"{EXTRA_NET} dev" not in lab.sh("ip route")


def test_reset_says_what_it_could_not_put_back(lab):
    """Its last step compares the lab with the recorded start: a link of the start that is
    gone for good is named, and the report is not "clean"."""
    state = "/run/labkit/baseline/state"
    lab.sh(f"cp {state} {state}.saved && sed -i '/^@up$/i 999 ghost0 1500 -' {state}")
    try:
        report = lab.reset()
    finally:
        lab.sh(f"mv {state}.saved {state}")
    assert not report.clean
    assert any("still differs from the start (was at the start):  ghost0 1500 -" in w
               for w in report.warnings), report.warnings
    assert "could not be fixed" in str(report)


def test_reset_with_a_hung_engine_answers_fast_and_quotes_no_script(lab):
    lab.sh("docker run -dit --name busybox1 busybox sh >/dev/null; pkill -STOP -x dockerd")
    try:
        t0 = time.monotonic()
        report = lab.reset()
        took = time.monotonic() - t0
    finally:
        lab.run("pkill -CONT -x dockerd")
    assert took < 30, took
    assert any("Docker engine does not answer" in w for w in report.warnings), report.warnings
    assert all(len(w) < 400 and "#!/bin/bash" not in w for w in report.warnings)
    assert lab.reset().clean  # the engine answers again: busybox1 goes now
