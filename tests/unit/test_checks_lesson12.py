"""Lesson 12's pure parts: kube-proxy's chain names (against the article's and the lab's) and
the check's verdict on plain data; the shell around them is replayed from a real lab in
test_checks_replay.py (tests/snapshots/checks/lesson12-no-endpoints.json)."""

from __future__ import annotations

import json
from pathlib import Path

from labkit.exercises.lessons import lesson12 as l12

RECORDED = Path(__file__).resolve().parents[1] / "snapshots" / "checks"


def test_chain_names_are_kube_proxys():
    # kube-proxy 1.20 (no ":" for a port without a name), as the lab's kernel holds them
    assert l12.svc_chain(l12.port_name("default", "test-svc")) == "KUBE-SVC-QKNQQNIN727HO3XU"
    assert l12.svc_chain(l12.port_name("default", "kubernetes", "https")) == \
        "KUBE-SVC-NPX46M4PTMTKRN6Y"
    assert l12.svc_chain(l12.port_name("kube-system", "kube-dns", "dns"), "UDP") == \
        "KUBE-SVC-TCOU7JCQXEZGVUNU"
    # the article's, from kube-proxy 1.13, which wrote "default/test-svc:" for the same port
    assert l12.svc_chain("default/test-svc:") == "KUBE-SVC-W3OX4ZP4Y24AQZNW"
    assert l12.sep_chain("default/test-svc:", "10.244.2.4:80") == "KUBE-SEP-E2HMOHPUOGTHZJEP"


SAVE = """*nat
:KUBE-SVC-QKNQQNIN727HO3XU - [0:0]
:KUBE-SEP-AAAA - [0:0]
:KUBE-SEP-BBBB - [0:0]
-A KUBE-SEP-AAAA -s 10.244.2.2/32 -m comment --comment default/test-svc -j KUBE-MARK-MASQ
-A KUBE-SEP-AAAA -p tcp -m tcp -j DNAT --to-destination 10.244.2.2:80
-A KUBE-SEP-BBBB -p tcp -m tcp -j DNAT --to-destination 10.244.3.3:80
-A KUBE-SVC-QKNQQNIN727HO3XU -m statistic --mode random --probability 0.5 -j KUBE-SEP-AAAA
-A KUBE-SVC-QKNQQNIN727HO3XU -m comment --comment default/test-svc -j KUBE-SEP-BBBB
COMMIT
"""


def test_rules_parsed_into_jumps_and_targets():
    rules = l12.chain_rules(SAVE)
    assert l12.jumps(rules, "KUBE-SVC-QKNQQNIN727HO3XU") == ["KUBE-SEP-AAAA", "KUBE-SEP-BBBB"]
    assert l12.dnat_target(rules, "KUBE-SEP-AAAA") == "10.244.2.2:80"
    assert l12.dnat_target(rules, "KUBE-SEP-NONE") is None


def _pod(name, ip, **labels):
    return {"metadata": {"name": name, "labels": labels}, "status": {"podIP": ip}}


PODS = [_pod("web-1", "10.244.2.2", app="lab-web"), _pod("web-2", "10.244.3.3", app="lab-web"),
        _pod("web-3", "10.244.2.3", app="lab-web"), _pod("client", "10.244.3.2", app="client")]
SVC = {"spec": {"selector": {"app": "lab-web"}, "ports": [{"port": 80, "protocol": "TCP"}]}}


def _endpoints(*ips):
    return {"subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": [{"port": 80}]}]}


def test_a_selector_no_pod_matches_is_explained():
    svc = {"spec": {**SVC["spec"], "selector": {"app": "lab-web", "tier": "front"}}}
    (problem,) = l12.service_problems(svc, {}, PODS, {})
    assert "selects pods labelled app=lab-web,tier=front, and no pod has all" in problem
    assert "web-1's are app=lab-web" in problem


def test_fewer_jumps_than_endpoints_names_the_chain():
    ends = _endpoints("10.244.2.2", "10.244.3.3", "10.244.2.3")
    saves = {"kube-node-1": SAVE, "kube-node-2": SAVE}
    problems = l12.service_problems(SVC, ends, PODS, saves)
    assert problems == [
        f"your Service has 3 endpoints but {node}'s KUBE-SVC-QKNQQNIN727HO3XU jumps to 2: "
        f"kube-proxy on {node} has not rewritten its rules yet; run the check again in a "
        "second or two" for node in ("kube-node-1", "kube-node-2")]


def test_the_recorded_solved_state_passes_on_its_own_data():
    data = json.loads((RECORDED / "lesson12-no-endpoints.json").read_text(encoding="utf-8"))
    solved = next(s for s in data["states"] if s["state"] == "solved")
    answers = {a["command"]: a["stdout"] for a in solved["answers"]}
    pods = json.loads(answers["kubectl get pods -o json"])["items"]
    svc = json.loads(answers["kubectl get service test-svc -o json"])
    ends = json.loads(answers["kubectl get endpoints test-svc -o json"])
    saves = {n: answers[f"k8s-lab exec {n} iptables-save -t nat"] for n in l12.WORKERS}
    assert l12.service_problems(svc, ends, pods, saves) == []
    for node in l12.WORKERS:  # the chain kube-proxy wrote is the one computed here
        assert len(l12.jumps(l12.chain_rules(saves[node]), "KUBE-SVC-QKNQQNIN727HO3XU")) == 3
