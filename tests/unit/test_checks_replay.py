"""The lesson checks, replayed: each check runs against the answers its own commands got in a
real lab (tests/snapshots/checks/*.json, written by tests/snapshots/checks/record.py), in
three kinds of state: fresh (after a reset, or at the exercise's start), solved (after the
exercise's solution) and typical mistakes.

The fake lab answers each command with what the real one answered, in order, and refuses a
command that was never recorded: a check that starts asking something new fails here until
the answers are recorded again.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from pathlib import Path

import pytest

from labkit.exercises import get
from labkit.result import Result

RECORDED = Path(__file__).resolve().parents[1] / "snapshots" / "checks"


class ReplayLab:
    """Just enough of `labkit.lab.Lab` for a check: `run`, answered from a recording."""

    def __init__(self, answers: list[dict]) -> None:
        self.queues: dict[str, deque[dict]] = defaultdict(deque)
        for a in answers:
            self.queues[a["command"]].append(a)
        self.asked: list[str] = []

    def run(self, command: str, **kwargs) -> Result:
        self.asked.append(command)
        queue = self.queues.get(command)
        if not queue:
            raise AssertionError(f"the check ran a command that was not recorded (or ran it "
                                 f"more often): {command!r}; record the answers again")
        a = queue.popleft()
        assert kwargs == a["kwargs"], f"{command!r}: run with {kwargs}, recorded {a['kwargs']}"
        return Result(command, a["stdout"], a["stderr"], a["exit_code"], 0.0, a["timed_out"])

    def unasked(self) -> list[str]:
        return [c for c, q in self.queues.items() for _ in q]


def recordings() -> list[tuple[str, dict]]:
    cases = []
    for f in sorted(RECORDED.glob("*.json")):
        data = json.loads(f.read_text(encoding="utf-8"))
        cases += [(data["exercise"], s) for s in data["states"]]
    return cases


CASES = recordings()

#: what each recorded state must make the check say: None = passes; else phrases (in order,
#: one per problem) that the problems must contain.
EXPECTED: dict[tuple[str, str], list[str] | None] = {
    ("lesson0/first-bridge", "fresh"): ["the lab has no interface named hello0 yet"],
    ("lesson0/first-bridge", "solved"): None,
    ("lesson0/first-bridge", "wrong-kind-down"): [
        "hello0 exists but it is a veth, not a bridge",
        "does not have the address 192.0.2.1/24 (it has: none)", "hello0 is down"],
    ("lesson0/first-bridge", "wrong-address"): ["(it has: 192.0.2.7/24)"],
    ("lesson1/cable-down", "fresh"): ["busybox1 is not running", "busybox2 is not running"],
    ("lesson1/cable-down", "setup"): [
        "busybox2's eth0 is up but has no carrier (NO-CARRIER"],
    ("lesson1/cable-down", "solved"): None,
    ("lesson1/cable-down", "wrong-nomaster"): [
        "is attached to nothing: it must be a port of docker0"],
    ("lesson1/find-the-peer", "fresh"): ["`docker ps -a` lists: none"],
    ("lesson1/find-the-peer", "setup"): ["`docker ps -a` lists: busybox1 and busybox2"],
    ("lesson1/find-the-peer", "solved"): None,
    ("lesson1/find-the-peer", "wrong-eth0-peer"): [
        "that is the other end of busybox3's eth0, its cable to docker0. The task asks for "
        "eth1's"],
    ("lesson1/find-the-peer", "wrong-peer"): [
        "a veth in the lab host, but it is not the other end of busybox3's eth1: its other "
        "end is busybox1's eth0"],
    ("lesson1/find-the-peer", "wrong-not-veth"): ["says 'docker0', which is a bridge"],
    ("lesson1/find-the-peer", "wrong-stopped"): ["its status is 'created'"],
    ("lesson1/find-the-peer", "wrong-one-network"): ["busybox3 has no eth1"],
    ("lesson1/find-the-peer", "wrong-no-answer"): ["/tmp/busybox3-peer does not exist yet"],
    ("lesson1/find-the-peer", "wrong-unknown-name"): [
        "says 'vethnope', but the lab host has no interface of that name"],
    ("lesson2/cable-off", "fresh"): ["busybox1 is not running", "busybox2 is not running",
                                     "busybox3 is not running"],
    ("lesson2/cable-off", "setup"): [
        "docker0 has 2 ports for three running containers (`bridge link`): the lab host's end "
        "of busybox2's cable is not on docker0, it is plugged into nothing"],
    ("lesson2/cable-off", "solved"): None,
    ("lesson2/cable-off", "wrong-down"): ["is down: a port passes nothing until it is up"],
    ("lesson2/cable-off", "wrong-other-bridge"): ["it is a port of br9 instead"],
    ("lesson2/which-cable", "fresh"): ["busybox1 is not running", "busybox2 is not running",
                                       "busybox3 is not running"],
    ("lesson2/which-cable", "setup"): ["there is no running container named busybox4"],
    ("lesson2/which-cable", "solved"): None,
    ("lesson2/which-cable", "wrong-no-answer"): ["/tmp/busybox4-cable does not exist yet"],
    ("lesson2/which-cable", "wrong-sender"): ["that is busybox1's cable"],
    ("lesson2/which-cable", "wrong-other-port"): ["but not the one 02:42:ac:11:00:05 is behind"],
    ("lesson2/which-cable", "wrong-bridge"): ["the bridge itself"],
    ("lesson2/which-cable", "wrong-unknown-name"): ["the lab host has no interface of that name"],
    ("lesson3/way-out", "fresh"): ["there is no namespace named outside"],
    ("lesson3/way-out", "setup"): ["no default route, only `172.17.0.0/16 dev eth0`"],
    ("lesson3/way-out", "solved"): None,
    ("lesson3/way-out", "wrong-gateway"): [
        "default route goes via 172.17.0.3, but its router is the lab host, 172.17.0.1"],
    ("lesson3/route-in", "fresh"): ["there is no namespace named outside"],
    ("lesson3/route-in", "setup"): ["the outside host has no route to 172.17.0.3"],
    ("lesson3/route-in", "solved"): None,
    ("lesson3/route-in", "wrong-on-link"): ["thinks 172.17.0.3 is on its own link"],
    ("lesson3/route-in", "wrong-via"): ["via 203.0.113.99, but only the lab host"],
    ("lesson3/route-in", "wrong-no-forward"): ["ip_forward is 0 in the lab host"],
    ("lesson4/port-by-hand", "fresh"): ["the container web is not running"],
    ("lesson4/port-by-hand", "setup"): ["no DNAT rule for port 9090", "from the outside host",
                                        "from the lab host itself"],
    ("lesson4/port-by-hand", "solved"): None,
    ("lesson4/port-by-hand", "wrong-prerouting-only"): [
        "The lab host's own packets never pass PREROUTING"],
    ("lesson4/port-by-hand", "wrong-destination"): [
        "in OUTPUT sends packets to 172.17.0.9:80", "nat table's PREROUTING chain",
        "from the lab host itself"],
    ("lesson4/wrong-chain", "fresh"): ["the container web is not running"],
    ("lesson4/wrong-chain", "setup"): [
        "the only DNAT rule for 8081 is in OUTPUT, and packets that arrive from another host"],
    ("lesson4/wrong-chain", "solved"): None,
    ("lesson4/wrong-chain", "wrong-no-rule"): ["there is no DNAT rule for 8081 at all",
                                               "from the lab host itself"],
    ("lesson5/no-masquerade", "fresh"): ["lab-ns0 and outside missing"],
    ("lesson5/no-masquerade", "setup"): ["no MASQUERADE rule for 10.15.10.0/24"],
    ("lesson5/no-masquerade", "solved"): None,
    ("lesson5/no-masquerade", "wrong-route-back"): [
        "the outside host now has a route to 10.15.10.0/24 (`10.15.10.0/24 via 203.0.113.1"],
    ("lesson5/third-namespace", "fresh"): ["(missing: lab-ns0 and lab-ns1)"],
    ("lesson5/third-namespace", "setup"): ["there is no namespace named lab-ns2"],
    ("lesson5/third-namespace", "solved"): None,
    ("lesson5/third-namespace", "wrong-not-attached"): [
        "is veth4 in the lab host, which is not attached", "veth4, the lab host's end"],
    ("lesson5/third-namespace", "wrong-no-address"): [
        "lab-ns2 exists but has no interface with an address in 10.15.10.0/24"],
    ("lesson5/third-namespace", "wrong-not-veth"): [
        "br9 has 10.15.10.4/24 but is down", "br9 is a bridge, not a veth end"],
    ("lesson5/third-namespace", "wrong-peer-inside"): [
        "the other end of lab-ns2's veth4 is not in the lab host"],
    ("lesson5/third-namespace", "wrong-taken-address"): [
        "has 10.15.10.3, the address lab-ns1 already uses"],
    ("lesson6/check-drift", "fresh"): ["there is no namespace lab-ns"],
    ("lesson6/check-drift", "setup"): [
        "lab-ns gets no answer from 203.0.113.10, and the plugin's CHECK with lab-br0-check.conf "
        "does not pass: run it, and read what it misses"],
    ("lesson6/check-drift", "solved"): None,
    ("lesson6/check-drift", "wrong-other-gateway"): [
        "default route goes via 10.15.10.1, not 10.15.10.99"],
    ("lesson6/check-drift", "wrong-readded"): ["eth0 was made again by a later ADD"],
    ("lesson6/second-network", "fresh"): ["there is no namespace lab-ns"],
    ("lesson6/second-network", "setup"): ["lab-ns has no eth1 yet"],
    ("lesson6/second-network", "solved"): None,
    ("lesson6/second-network", "wrong-by-hand"): [
        "host-local holds no lease for it", "no bridge lab-br-eth1", "not cabled to lab-br-eth1"],
    ("lesson6/second-network", "wrong-second-default"): ["lab-ns now has 2 default routes"],
    ("lesson7/leaked-leases", "fresh"): ["lab-web2 is not running"],
    ("lesson7/leaked-leases", "setup"): [
        "lab-web2 has an eth0, down, but no address in 10.15.21.0/24",
        "holds 10.15.21.2 and 10.15.21.3, of a range that is only 10.15.21.2-10.15.21.3, for "
        "container ids no container has"],
    ("lesson7/leaked-leases", "solved"): None,
    ("lesson7/leaked-leases", "wrong-leases-freed-only"): [
        "an ADD made the cable, then failed before an address was set"],
    ("lesson7/leaked-leases", "wrong-half-add-undone-only"): [
        "for container ids no container has"],
    ("lesson7/leaked-leases", "wrong-other-id"): [
        "names the container id lab-web2, not lab-web2's",
        "which no container has any more, and POSTROUTING still sends 10.15.21.3 to it",
        "which no container has any more, and POSTROUTING still sends 10.15.21.2 to it"],
    ("lesson7/leaked-leases", "wrong-chains-left"): [
        "a stale rule now matches the next container to get it",
        "gave the address back and left the chain: remove it with iptables"],
    ("lesson7/clean-del", "fresh"): ["there is no lab-br1"],
    ("lesson7/clean-del", "setup"): [
        "lab-web3 still exists (`docker ps -a`), plugged into lab-br1",
        "host-local still holds 10.15.20.2 for container id",
        "the nat table still masquerades 10.15.20.2 through CNI-",
        "lab-br1 still has a port, veth"],
    ("lesson7/clean-del", "solved"): None,
    ("lesson7/clean-del", "wrong-rm-first"): [
        "(no container has it any more)", "with the container gone, only iptables can"],
    ("lesson7/clean-del", "wrong-del-after-rm"): ["with the container gone, only iptables can"],
    ("lesson7/clean-del", "wrong-chain-left"): ["nothing jumps to it any more"],
    ("lesson7/clean-del", "wrong-cell-skipped"): [
        "nothing shows that lab-web3 was ever plugged into lab-br1"],
    ("lesson8/no-exec", "fresh"): ["there is no /etc/cni/net.d/10-lab-test-net-1.conflist"],
    ("lesson8/no-exec", "setup"): [
        "ctr stops with `fork/exec /opt/cni/bin/logger: permission denied`"],
    ("lesson8/no-exec", "solved"): None,
    ("lesson8/no-exec", "wrong-left-behind"): [
        "containerd still holds c1 from a start that failed"],
    ("lesson8/no-exec", "wrong-config-changed"): ["no longer names the plugin logger"],
    ("lesson8/real-veth", "fresh"): ["the two networks lab-veth-1 and lab-veth-2 are not all"],
    ("lesson8/real-veth", "setup"): ["there is no namespace lab-c1"],
    ("lesson8/real-veth", "solved"): None,
    ("lesson8/real-veth", "wrong-only-logs"): [
        "lab-c1 has no eth0 (`ip -n lab-c1 link` shows: lo): the runtime did call"],
    ("lesson8/real-veth", "wrong-empty-result"): [
        "the result your plugin printed for lab-c1 names no address 10.15.40.2/24"],
    ("lesson8/real-veth", "wrong-del-keeps"): [
        "the runtime called DEL for lab-c2 and it succeeded, but the pair is still there"],
    ("lesson9/lost-master", "fresh"): ["there is no plugin"],
    ("lesson9/lost-master", "setup"): [
        "is on no bridge, not on lab-cni-mybr: plug it in for cni-go2",
        "after its ADD, the host's end of the veth pair was on no bridge"],
    ("lesson9/lost-master", "solved"): None,
    ("lesson9/lost-master", "wrong-kernel-only"): [
        "after its ADD, the host's end of the veth pair was on no bridge"],
    ("lesson9/lost-master", "wrong-code-only"): ["is on no bridge, not on lab-cni-mybr"],
    ("lesson9/del", "fresh"): ["there is no plugin /root/test-cni/simple-bridge/simple-bridge"],
    ("lesson9/del", "setup"): ["after ADD then DEL, lab9-check still had eth0"],
    ("lesson9/del", "solved"): None,
    ("lesson9/del", "wrong-second-del"): ["a second DEL failed (link not found)"],
    ("lesson9/del", "wrong-not-built"): ["simple-bridge.go changed after the last build"],
    ("lesson10/pod-by-hand", "fresh"): ["there is no container pod-web"],
    ("lesson10/pod-by-hand", "solved"): None,
    ("lesson10/pod-by-hand", "wrong-no-pause"): ["there is no container pod-web"],
    ("lesson10/pod-by-hand", "wrong-own-network"): ["side's NetworkMode is default"],
    ("lesson10/pod-by-hand", "wrong-no-server"): ["side gets no answer from localhost:80"],
    ("lesson10/pod-by-hand", "wrong-server-in-side"): [
        "something answers on localhost:80, but web runs no web server"],
    ("lesson10/pod-by-hand", "wrong-old-pod"): [
        "web joined another container's network, a container that is gone (id ",
        "side joined another container's network, a container that is gone (id "],
    ("lesson10/pod-by-hand", "no-k8s"): ["this lab has no Kubernetes"],
    ("lesson10/port-clash", "fresh"): ["kubectl cannot reach the cluster"],
    ("lesson10/port-clash", "setup"): ["test-pod still has one container"],
    ("lesson10/port-clash", "solved"): None,
    ("lesson10/port-clash", "wrong-same-port"): ["lab-web-2 is not ready (Error)"],
    ("lesson10/port-clash", "wrong-starting"): [
        "lab-web is still starting (ContainerCreating): run the check again in a few seconds",
        "lab-web-2 is still starting (ContainerCreating)"],
    ("lesson10/port-clash", "wrong-pull"): [
        "lab-web-2 has no image (ImagePullBackOff, image lab-web): the lab has no registry"],
    ("lesson10/port-clash", "wrong-no-lab-web"): ["keep the first one, lab-web, as it was"],
    ("lesson11/lost-route", "fresh"): ["there are no nodes kube-master, kube-node-1 and "
                                       "kube-node-2: the cluster is not up"],
    ("lesson11/lost-route", "setup"): [
        "kube-node-1 has no route to 10.244.3.0/24, kube-node-2's pod CIDR"],
    ("lesson11/lost-route", "solved"): None,
    ("lesson11/lost-route", "wrong-via-master"): [
        "via 10.192.0.2, kube-master's address: kube-node-2's pods are reached through "
        "kube-node-2 itself"],
    ("lesson11/lost-route", "wrong-no-gateway"): [
        "kube-node-1's route to 10.244.3.0/24, kube-node-2's pod CIDR has no gateway"],
    ("lesson12/no-endpoints", "fresh"): ["there are no nodes kube-master, kube-node-1 and "
                                         "kube-node-2: the cluster is not up"],
    ("lesson12/no-endpoints", "setup"): [
        "test-svc selects pods labelled app=lab-web,tier=front, and no pod has all of these "
        "labels"],
    ("lesson12/no-endpoints", "solved"): None,
    ("lesson12/no-endpoints", "wrong-one-labelled"): [
        "leaves out web-2 and web-3 (labels web-2: app=lab-web; web-3: app=lab-web): it picks "
        "only web-1"],
    ("lesson12/no-endpoints", "wrong-client"): [
        "test-svc's selector app=client leaves out web-1, web-2 and web-3",
        "also picks client, which is no web server"],
    ("lesson13/nodeport-refused", "fresh"): ["there are no nodes kube-master, kube-node-1 and "
                                             "kube-node-2: the cluster is not up"],
    ("lesson13/nodeport-refused", "setup"): [
        "test-svc sends connections to port 8080 of its pods (targetPort 8080), but web-1's "
        "container listens on web-port: 80: kube-proxy rewrites them to 10.244.2.2:8080"],
    ("lesson13/nodeport-refused", "solved"): None,
    ("lesson13/nodeport-refused", "wrong-port"): [
        "sends connections to port 8080 of its pods (targetPort 8080)"],
    ("lesson13/nodeport-refused", "wrong-name"): [
        "test-svc's targetPort is the name 'http', and web-1's container has no port of that "
        "name (it declares web-port: 80)"],
    ("lesson13/nodeport-refused", "wrong-clusterip"): [
        "test-svc is of type ClusterIP, not NodePort"],
    ("lesson14/wrong-backend", "fresh"): ["there are no nodes kube-master, kube-node-1 and "
                                          "kube-node-2: the cluster is not up"],
    ("lesson14/wrong-backend", "setup"): [
        "lab-ingress's path /svc-2 asks test-svc-2 for the port name 'web', and test-svc-2 has "
        "no such port (it has http (80))"],
    ("lesson14/wrong-backend", "solved"): None,
    ("lesson14/wrong-backend", "stale"): [
        "the Ingress is right now, but the nginx.conf in our-ingress still has `location /svc-2 "
        "{ return 503; }`"],
    ("lesson14/wrong-backend", "wrong-service"): [
        "lab-ingress's path /svc-2 names the Service 'test-svc-3', and there is no Service of "
        "that name"],
}


def test_every_exercise_has_a_fresh_a_solved_and_a_wrong_recording():
    from labkit.exercises import exercises

    states = defaultdict(set)
    for ex_id, s in CASES:
        states[ex_id].add(s["state"].split("-")[0])
    missing = {e.id: sorted({"fresh", "solved", "wrong"} - states[e.id]) for e in exercises()
               if {"fresh", "solved", "wrong"} - states[e.id]}
    assert not missing, f"record these states (tests/snapshots/checks/record.py): {missing}"
    assert set(EXPECTED) == {(e, s["state"]) for e, s in CASES}


@pytest.mark.parametrize(("exercise_id", "state"), CASES,
                         ids=[f"{e}:{s['state']}" for e, s in CASES])
def test_check_says_what_the_real_lab_made_it_say(exercise_id, state):
    ex = get(exercise_id)
    lab = ReplayLab(state["answers"])
    result = ex.run_check(lab)
    assert list(result.problems) == state["problems"], "the verdict changed since recording"
    assert not lab.unasked(), f"recorded but no longer asked: {lab.unasked()}"
    want = EXPECTED[(exercise_id, state["state"])]
    if want is None:
        assert result.passed and result.text().startswith(f"✓ {exercise_id}: "), result.text()
        return
    assert not result.passed and len(result.problems) == len(want), result.problems
    for phrase, problem in zip(want, result.problems, strict=True):
        assert phrase in problem
    text = result.text()
    assert text.startswith(f"✗ {exercise_id}: {ex.title} — not yet:")
    assert text.endswith(f'Stuck? hint("{exercise_id}") shows one hint at a time.')
