"""Live modes 2-4 reproduced on this machine, as a non-root learner with no Docker socket.

* mode 2 (rootless): the learner starts dockerd in its own user+net+mount namespace, and the
  seed's facts hold there (docker0 172.17.0.1/16, busybox1 172.17.0.2 with its MAC, ping to
  busybox2, `-p` DNAT reachable), reset returns to the start and touches nothing outside;
* mode 3 (netns): the same learner under a seccomp filter refusing mount(2): the decision falls
  to the namespace-only lab, where the by-hand steps work with process-held namespaces;
* mode 4 (replay): under a filter refusing new user namespaces: the decision is replay.

Traffic stays on the lab's own namespaces and loopback.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

pytestmark = [pytest.mark.rootless, pytest.mark.slow]

# A fingerprint of the lab host's state: what reset must bring back.
STATE = (
    "ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort; echo --; "
    "ip -o -4 addr show | awk '{print $2, $4}' | sort; echo --; "
    "ip -4 route show | sort; echo --; "
    "iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'; echo --; "
    "sysctl -n net.ipv4.ip_forward; "
    "[ \"$LABKIT_NO_DOCKER\" = 1 ] || { docker ps -aq; docker network ls -q --filter type=custom; "
    "ip netns list; }"
)
# Live processes of the lab's user namespace, by name (the lab has no pid namespace: `ps`
# would show the whole container). Zombies are skipped: they hold nothing, and whether the
# container's init reaps them is not the lab's business.
LAB_COMMS = ("for p in /proc/[0-9]*; do grep -q '^State:.*Z' $p/status 2>/dev/null && continue; "
             "[ \"$(readlink $p/ns/user)\" = \"$(readlink /proc/self/ns/user)\" ] "
             "&& cat $p/comm 2>/dev/null; done | sort")


def ok(step: dict) -> dict:
    assert "error" not in step, step
    assert step.get("exit_code") == 0, step
    return step


# --- mode 2: the rootless lab ---------------------------------------------------------------


@pytest.fixture(scope="module")
def rootless(learner):
    """A freshly started rootless lab (cold start, images kept from earlier runs)."""
    out = learner.steps([{"stop": None}, {"connect": "rootless"}])
    yield out[1]
    learner.steps([{"stop": "rootless"}])


def test_detect_chooses_rootless(learner):
    report = learner.steps([{"detect": True}])[0]
    assert report["mode"] == "rootless", report["text"]
    assert report["available"] == ["rootless", "netns", "replay"]
    assert any("permission denied" in r for r in report["reasons"]), report["reasons"]


def test_rootless_starts_fast_and_idempotently(learner, rootless):
    t = rootless["timings"]
    print(f"rootless lab: dockerd answering after {t['engine']:.2f} s, "
          f"ready (seeded, baseline) after {t['engine'] + t['prepare']:.2f} s")
    assert rootless["kind"] == "rootless"
    assert t["engine"] < 20
    again = learner.steps([{"connect": "rootless"}])[0]
    assert again["pid"] == rootless["pid"]  # the running lab, not a second one
    assert again["seconds"] < 5


def test_lab_connect_picks_the_rootless_lab_and_says_so(learner, rootless):
    """A notebook's plain `Lab.connect()` on a host without Docker lands in the rootless lab."""
    connected, listed = learner.steps([
        {"lab_connect": True}, {"run": "docker network ls --format '{{.Name}}'"}])
    assert connected["mode"] == "rootless", connected
    assert connected["text"].startswith("Lab ready: commands run in a rootless lab")
    assert ok(listed)["stdout"].split() == ["bridge", "host", "none"]


def test_seed_facts_in_rootless_lab(learner, rootless):
    if not shutil.which("curl"):
        pytest.skip("curl is not installed here")
    steps = [
        {"connect": "rootless"}, {"reset": True},
        {"run": "brctl show"},
        {"run": "ifconfig docker0"},
        {"run": "docker network ls --format '{{.Name}}'"},
        {"run": "docker run -dit --name busybox1 busybox sh"},
        {"run": "docker run -dit --name busybox2 busybox sh"},
        {"run": "docker exec busybox1 ip -o -4 addr show eth0; "
                "docker exec busybox1 ip -o link show eth0"},
        {"run": "docker exec busybox2 ip -o -4 addr show eth0"},
        {"run": "docker exec busybox1 ping -c 2 -W 2 172.17.0.3"},
        {"run": "ip -o link show master docker0"},
        {"run": "docker run -d --name web -p 8080:80 busybox sh -c "
                "'echo hello-from-busybox > /var/www/index.html; exec httpd -f -p 80 -h /var/www'"},
        {"run": "iptables -t nat -S DOCKER"},
        {"run": "for i in $(seq 50); do curl -s --max-time 2 http://127.0.0.1:8080/ && exit 0; "
                "sleep 0.1; done; exit 1"},
        {"run": "ip netns add red && ip netns exec red ip -o link show lo && ip netns list"},
    ]
    out = learner.steps(steps)
    (brctl, ifconfig, nets, run1, run2, b1, b2, ping, vethes, web, nat, curl, netns) = out[2:]
    assert re.search(r"^docker0\s", ok(brctl)["stdout"], re.M)
    assert "inet 172.17.0.1  netmask 255.255.0.0" in ok(ifconfig)["stdout"]
    assert set(ok(nets)["stdout"].split()) == {"bridge", "host", "none"}
    print(f"docker run -d: {ok(run1)['duration']:.2f} s, then {ok(run2)['duration']:.2f} s")
    assert "inet 172.17.0.2/16" in ok(b1)["stdout"]
    assert "link/ether 02:42:ac:11:00:02" in b1["stdout"]
    assert "inet 172.17.0.3/16" in ok(b2)["stdout"]
    assert " 0% packet loss" in ok(ping)["stdout"]
    # veth pairing: busybox1's eth0@ifN is the lab-side veth N, whose @ifM is eth0's index
    eth0 = re.search(r"^(\d+): eth0@if(\d+):", b1["stdout"].split("\n", 1)[1], re.M)
    assert eth0, b1["stdout"]
    assert re.search(rf"^{eth0.group(2)}: veth\w+@if{eth0.group(1)}:", ok(vethes)["stdout"],
                     re.M), vethes["stdout"]
    ok(web)
    assert re.search(r"-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT "
                     r"--to-destination 172.17.0.4:80", ok(nat)["stdout"])
    assert ok(curl)["stdout"].strip() == "hello-from-busybox"
    assert "red" in ok(netns)["stdout"]


def contained(step: dict, namespaces: set[str], count: int = 1) -> None:
    """Every route from the namespaces named (and at least `count` in all) ends inside the lab
    (asked with `ip route get`'s RTM_GETROUTE in the lab; nothing is sent)."""
    assert "error" not in step, step
    assert step["contained"], "\n".join(step["paths"])
    starts = {p.split(" → ", 1)[0] for p in step["paths"]}
    assert namespaces <= starts and len(starts) >= count, (namespaces, starts)


def test_traffic_stays_in_the_rootless_lab(learner, rootless):
    """No route out of the lab host, a container or a hand-made namespace, after reset and
    with the lessons' outside host in place."""
    out = learner.steps([
        {"connect": "rootless"}, {"reset": True}, {"containment": True},
        {"run": "docker run -dit --name busybox1 busybox sh >/dev/null && "
                "ip netns add lab-ns0 && ip link add veth0 type veth peer name eth0 netns lab-ns0"
                " && ip -n lab-ns0 addr add 10.15.10.2/24 dev eth0 && ip addr add 10.15.10.1/24 "
                "dev veth0 && ip link set veth0 up && ip -n lab-ns0 link set eth0 up && "
                "ip -n lab-ns0 route add default via 10.15.10.1"},
        {"containment": True}, {"reset": True}])
    contained(out[2], {"lab"})
    ok(out[3])
    contained(out[4], {"lab", "busybox1", "lab-ns0"})


def test_reset_returns_rootless_lab_to_start_and_spares_the_rest(learner, rootless):
    # A process of the same user outside the lab: reset must never touch it.
    bystander = subprocess.Popen(learner.argv(["sleep", "600"]))
    try:
        mess = ("docker run -dit --name busybox1 busybox sh; docker network create red-net; "
                "docker run -dit --name b2 --network red-net busybox sh; "
                "ip netns add blue; ip link add br-x type bridge; "
                "ip link add v1 type veth peer name v2; ip link set v2 netns blue; "
                "ip addr add 10.9.0.1/24 dev br-x; ip link set br-x up; "
                "iptables -t nat -A POSTROUTING -s 10.9.0.0/24 -j MASQUERADE; "
                "sysctl -qw net.ipv4.ip_forward=0; sleep 300 & echo started")
        out = learner.steps([{"connect": "rootless"}, {"reset": True}, {"run": STATE},
                             {"run": mess}, {"run": STATE}, {"reset": True}, {"run": STATE},
                             {"reset": True}, {"reset": True}, {"run": STATE},
                             {"run": LAB_COMMS}])
        before, dirty, first, after1 = out[2], out[4], out[5], out[6]
        second, third, after3, comms = out[7], out[8], out[9], out[10]
        assert ok(dirty)["stdout"] != ok(before)["stdout"]
        assert first["warnings"] == [], first
        assert any("stopped process" in a and "(sleep)" in a for a in first["actions"]), first
        assert ok(after1)["stdout"] == before["stdout"]
        assert second == {**second, "actions": [], "warnings": []}
        assert third["actions"] == [] and third["warnings"] == []
        assert ok(after3)["stdout"] == before["stdout"]
        assert "sleep" not in ok(comms)["stdout"].split()
        assert "dockerd" in comms["stdout"].split()
        assert bystander.poll() is None, "reset killed a process outside the lab"
    finally:
        bystander.kill()
        bystander.wait()


def test_timeout_kills_inside_the_rootless_lab(learner, rootless):
    out = learner.steps([{"connect": "rootless"},
                         {"run": "sleep 37", "timeout": 1},
                         {"run": LAB_COMMS}])
    assert out[1].get("timed_out"), out[1]
    assert "sleep" not in ok(out[2])["stdout"].split()


def test_docker_sdk_view_from_outside(learner, rootless):
    """The engine is reachable from outside the namespace through /proc/PID/root."""
    host = rootless["docker_host"]
    assert host == f"unix:///proc/{rootless['pid']}/root/run/docker.sock"
    done = learner.sh(["python3", "-c", "from labkit.hosts.modes import probe_docker; "
                       f"print(probe_docker({host!r}).ok)"])
    assert done.stdout.strip() == "True", done.stderr


def test_stop_leaves_nothing_and_restart_is_warm(learner, rootless):
    out = learner.steps([{"stop": "rootless"}, {"find": "rootless"}])
    assert out[0]["did"] and out[1]["found"] is None
    stat = f"/proc/{rootless['pid']}/stat"
    # gone, or a zombie (this machine's init does not reap)
    assert not os.path.exists(stat) or open(stat).read().rpartition(")")[2].split()[0] == "Z"
    left = subprocess.run(["ps", "-u", "labkit-learner", "-o", "stat=,comm="],
                          capture_output=True, text=True).stdout.splitlines()
    assert not [p for p in left if not p.startswith("Z") and p.split()[1] in
                ("dockerd", "containerd", "containerd-shim")], left
    again = learner.steps([{"connect": "rootless"},
                           {"run": "docker image inspect -f '{{.Id}}' busybox:latest"}])
    ok(again[1])
    print(f"warm restart: dockerd answering after {again[0]['timings']['engine']:.2f} s")


# --- mode 3: no mount(2) --------------------------------------------------------------------


BY_HAND = """
set -e
unshare -n sleep infinity & red=$!
unshare -n sleep infinity & blue=$!
sleep 0.2
ip link add br0 type bridge && ip addr add 10.0.0.1/24 dev br0 && ip link set br0 up
for ns in red blue; do
  pid=${!ns}
  ip link add veth-$ns type veth peer name ceth-$ns
  ip link set veth-$ns master br0 up
  ip link set ceth-$ns netns $pid
done
nsenter -t $red -n sh -c 'ip link set lo up; ip addr add 10.0.0.2/24 dev ceth-red
  ip link set ceth-red up; ip route add default via 10.0.0.1'
nsenter -t $blue -n sh -c 'ip link set lo up; ip addr add 10.0.0.3/24 dev ceth-blue
  ip link set ceth-blue up'
iptables -t nat -A POSTROUTING -s 10.0.0.0/24 ! -o br0 -j MASQUERADE
ping=ping; command -v ping >/dev/null || ping="busybox ping"
nsenter -t $red -n $ping -c 2 -W 2 10.0.0.3
bridge link | grep -c 'master br0'
"""


def test_detect_without_mount_chooses_netns(learner):
    report = learner.steps([{"detect": True}], jail="nomount")[0]
    assert report["mode"] == "netns", report["text"]
    assert any("mount(2)" in r and "refused" in r for r in report["reasons"]), report["reasons"]


def test_netns_lab_runs_the_by_hand_steps_and_resets(learner):
    if not (shutil.which("ping") or shutil.which("busybox")):
        pytest.skip("neither ping nor busybox is installed here")
    bystander = subprocess.Popen(learner.argv(["sleep", "600"]))
    try:
        out = learner.steps([{"stop": None}, {"connect": None}, {"run": STATE},
                             {"run": BY_HAND}, {"run": "docker ps"},
                             {"run": "ip netns add x && ip netns list"}, {"reset": True},
                             {"run": STATE},
                             {"reset": True}, {"run": LAB_COMMS}], jail="nomount")
        assert bystander.poll() is None, "reset killed a process outside the lab"
    finally:
        bystander.kill()
        bystander.wait()
    connected, before, by_hand, docker, netns_add, reset1, after, reset2, comms = out[1:]
    assert connected["kind"] == "netns", connected
    assert " 0% packet loss" in ok(by_hand)["stdout"], by_hand
    assert by_hand["stdout"].strip().endswith("2")  # two ports on br0
    # Docker cells cannot run here, and must never reach another engine.
    assert docker["exit_code"] != 0 and "nonexistent" in docker["stderr"]
    # No mount(2), yet `ip netns add` works: scripts/netns-lab.sh holds it with a process.
    assert ok(netns_add)["stdout"].split() == ["x"], netns_add
    assert reset1["warnings"] == [], reset1
    assert sum("stopped process" in a for a in reset1["actions"]) == 3, reset1  # red, blue, x
    assert ok(after)["stdout"] == ok(before)["stdout"]
    assert reset2["actions"] == [] and reset2["warnings"] == [], reset2
    assert ok(comms)["stdout"].split().count("sleep") == 1  # only the holder is left
    # No route out of the namespace-only lab, nor of a namespace made in it.
    seal = learner.steps([{"connect": None}, {"containment": True}, {"run": BY_HAND},
                          {"containment": True}, {"reset": True}], jail="nomount")
    contained(seal[1], {"lab"})
    contained(seal[3], {"lab"}, count=3)  # red and blue are held by processes: "pid N"
    learner.steps([{"stop": "netns"}])


# --- mode 4: no user namespaces -------------------------------------------------------------


def test_no_user_namespaces_means_replay(learner):
    out = learner.steps([{"detect": True}, {"connect": None}], jail="nouserns")
    assert out[0]["mode"] == "replay", out[0]["text"]
    assert out[0]["available"] == ["replay"]
    assert any("user namespaces refused" in r for r in out[0]["reasons"])
    assert out[1]["error"] == "RootlessUnavailable", out[1]


# --- mode 1, for completeness: root here can use the machine's engine -----------------------


def test_root_with_a_docker_engine_gets_mode_1():
    from labkit.hosts import modes

    if not modes.probe_docker().ok:
        pytest.skip("no Docker engine answers here")
    report = modes.detect()
    assert report.mode == "docker" and report.number == 1
