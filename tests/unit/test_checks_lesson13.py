"""Lesson 13's pure parts: the check's verdict on plain data (a NodePort Service, web-1's
ports, kube-proxy's KUBE-NODEPORTS rules); the shell around them is replayed from a real lab
in test_checks_replay.py (tests/snapshots/checks/lesson13-nodeport-refused.json)."""

from __future__ import annotations

import json
from pathlib import Path

from labkit.exercises.lessons import lesson13 as l13

RECORDED = Path(__file__).resolve().parents[1] / "snapshots" / "checks"
CHAIN = "KUBE-SVC-QKNQQNIN727HO3XU"  # default/test-svc + tcp, as kube-proxy 1.20 names it

SAVE = f"""*nat
:KUBE-NODEPORTS - [0:0]
:{CHAIN} - [0:0]
:KUBE-SEP-AAAA - [0:0]
-A KUBE-NODEPORTS -p tcp -m comment --comment default/test-svc -m tcp --dport 30454 -j \
KUBE-MARK-MASQ
-A KUBE-NODEPORTS -p tcp -m comment --comment default/test-svc -m tcp --dport 30454 -j {CHAIN}
-A KUBE-SEP-AAAA -p tcp -m tcp -j DNAT --to-destination 10.244.2.2:80
-A {CHAIN} -m comment --comment default/test-svc -j KUBE-SEP-AAAA
COMMIT
"""
POD = {"metadata": {"name": "web-1", "labels": {"app": "lab-web"}},
       "spec": {"containers": [{"name": "lab-web",
                                "ports": [{"containerPort": 80, "name": "web-port"}]}]},
       "status": {"podIP": "10.244.2.2"}}


def _svc(**port):
    return {"spec": {"type": port.pop("type", "NodePort"), "clusterIP": "10.107.169.79",
                     "ports": [{"port": 80, "protocol": "TCP", "targetPort": "web-port",
                                "nodePort": 30454, **port}]}}


def _endpoints(port=80):
    return {"subsets": [{"addresses": [{"ip": "10.244.2.2"}], "ports": [{"port": port}]}]}


SAVES = {"kube-node-1": SAVE, "kube-node-2": SAVE}


def test_the_lessons_state_has_no_problem():
    assert l13.container_ports(POD) == {"80": 80, "web-port": 80}
    assert l13.nodeport_rules(l13.chain_rules(SAVE), 30454) == ["KUBE-MARK-MASQ", CHAIN]
    assert l13.service_problems(_svc(), _endpoints(), POD, SAVES) == []
    assert l13.service_problems(_svc(targetPort=80), _endpoints(), POD, SAVES) == []


def test_a_target_port_nothing_listens_on_is_explained():
    (problem,) = l13.service_problems(_svc(targetPort=8080), _endpoints(8080), POD, SAVES)
    assert "sends connections to port 8080 of its pods (targetPort 8080)" in problem
    assert "listens on web-port: 80" in problem and "10.244.2.2:8080" in problem
    assert "`port` is the Service's own port, `targetPort` the container's" in problem


def test_a_target_port_name_the_pod_lacks_means_no_endpoint():
    (problem,) = l13.service_problems(_svc(targetPort="http"), {}, POD, SAVES)
    assert "targetPort is the name 'http'" in problem and "no endpoint" in problem


def test_type_and_node_port_come_first():
    (problem,) = l13.service_problems(_svc(type="ClusterIP"), _endpoints(), POD, SAVES)
    assert problem.startswith("test-svc is of type ClusterIP, not NodePort")
    (problem,) = l13.service_problems(_svc(nodePort=31000), _endpoints(), POD, SAVES)
    assert problem.startswith("test-svc's NodePort is 31000, not 30454")
    (problem,) = l13.service_problems(None, None, POD, SAVES)
    assert problem.startswith("there is no Service test-svc")


def test_a_worker_without_the_nodeport_rule_is_named():
    saves = {"kube-node-1": SAVE, "kube-node-2": "*nat\nCOMMIT\n"}
    (problem,) = l13.service_problems(_svc(), _endpoints(), POD, saves)
    assert problem.startswith(f"kube-node-2's KUBE-NODEPORTS has no rule sending port 30454 to "
                              f"{CHAIN}")


def test_the_recorded_solved_state_passes_on_its_own_data():
    data = json.loads((RECORDED / "lesson13-nodeport-refused.json").read_text(encoding="utf-8"))
    solved = next(s for s in data["states"] if s["state"] == "solved")
    answers = {a["command"]: a["stdout"] for a in solved["answers"]}
    pod = json.loads(answers["kubectl get pod web-1 -o json"])
    svc = json.loads(answers["kubectl get service test-svc -o json"])
    ends = json.loads(answers["kubectl get endpoints test-svc -o json"])
    saves = {n: answers[f"k8s-lab exec {n} iptables-save -t nat"] for n in l13.WORKERS}
    assert l13.service_problems(svc, ends, pod, saves) == []
    for node in l13.WORKERS:  # the rules kube-proxy wrote are the ones the check looks for
        assert l13.nodeport_rules(l13.chain_rules(saves[node]), 30454) == ["KUBE-MARK-MASQ", CHAIN]
