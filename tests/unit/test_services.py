"""Kubernetes Services from kube-proxy's rules (issue 16), on a raw scan recorded in the
Kubernetes lab (tests/snapshots/k8s_services.json: `k8s-lab up`, a Deployment of three lab-web
pods, test-svc at 10.107.169.79:80 with the external IP 192.168.96.10, np-svc of type NodePort
with a named TCP port (nodePort 30454) and a UDP one, empty-svc whose selector matches no pod;
recorded with `python3 -m labkit.probe --raw`).

What the probe read (each worker's iptables, through its kube-proxy), what the model makes of
it (model/services.py: Service ports, their endpoints and shares, merged over the nodes),
what a diff says, and what the drawing shows (draw/services.py).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from labkit.draw.dot import to_dot
from labkit.draw.style import ADDED, SERVICE
from labkit.model import formats
from labkit.model.build import from_raw
from labkit.model.diff import diff
from labkit.model.services import Backend, Service, merge, services_from_save
from labkit.model.topology import Topology, from_json

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
WORKERS = ("kube-node-1", "kube-node-2")
PODS = ("10.244.2.2", "10.244.2.3", "10.244.3.2")


def raw() -> dict:
    return json.loads((SNAPSHOTS / "k8s_services.json").read_text())


def node_text(node: str) -> str:
    return next(n["iptables"] for n in raw()["nodes"] if n["name"] == node)


@pytest.fixture(scope="module")
def topo() -> Topology:
    return from_raw(raw())


def svc(topo: Topology, label: str) -> Service:
    return next(s for s in topo.services if s.label == label)


# --- the probe's raw scan ----------------------------------------------------------------

def test_each_worker_has_its_iptables_and_kube_master_none():
    nodes = {n["name"]: n for n in raw()["nodes"]}
    assert nodes["kube-master"]["kube_proxy"] is None and "iptables" not in nodes["kube-master"]
    for w in WORKERS:
        text = nodes[w]["iptables"]
        assert nodes[w]["kube_proxy"]["pid"] > 0
        assert text.startswith("*nat\n") and "*filter\n" in text and "# Generated" not in text


# --- the model -----------------------------------------------------------------------------

def test_one_nodes_rules_read_as_service_ports():
    assert [str(s) for s in services_from_save(node_text("kube-node-1"))] == [
        "service empty-svc 10.99.28.18:80/tcp → no endpoints (REJECT)",
        "service kubernetes:https 10.96.0.1:443/tcp → 10.192.0.2:6443 all",
        "service np-svc:http 10.102.98.70:8080/tcp NodePort 30454 → "
        "10.244.2.2:80 1/3, 10.244.2.3:80 1/3, 10.244.3.2:80 1/3",
        "service np-svc:udp 10.102.98.70:53/udp NodePort 31671 → "
        "10.244.2.2:53 1/3, 10.244.2.3:53 1/3, 10.244.3.2:53 1/3",
        "service test-svc 10.107.169.79:80/tcp external 192.168.96.10 → "
        "10.244.2.2:80 1/3, 10.244.2.3:80 1/3, 10.244.3.2:80 1/3",
    ]


def test_the_probabilities_as_written_and_each_endpoints_share(topo):
    test_svc = svc(topo, "test-svc")
    assert test_svc.chain == "KUBE-SVC-QKNQQNIN727HO3XU"  # lesson 12 computes this name
    assert test_svc.backends == (Backend("10.244.2.2:80", "0.33333333349", "1/3"),
                                 Backend("10.244.2.3:80", "0.50000000000", "1/3"),
                                 Backend("10.244.3.2:80", None, "1/3"))


def test_shares_follow_the_rules_not_the_count():
    """Rules a learner wrote by hand with other probabilities: each share is what the rule
    gets of what the rules before it left."""
    c = '-m comment --comment "default/web"'
    text = "\n".join([
        "*nat",
        '-A KUBE-SERVICES -d 10.96.0.50/32 -p tcp -m comment --comment "default/web cluster IP"'
        " -m tcp --dport 80 -j KUBE-SVC-X",
        f"-A KUBE-SVC-X {c} -m statistic --mode random --probability 0.75000000000 -j KUBE-SEP-A",
        f"-A KUBE-SVC-X {c} -j KUBE-SEP-B",
        f"-A KUBE-SEP-A -p tcp {c} -m tcp -j DNAT --to-destination 10.244.2.9:80",
        f"-A KUBE-SEP-B -p tcp {c} -m tcp -j DNAT --to-destination 10.244.3.9:80",
        "COMMIT", ""])
    (web,) = services_from_save(text)
    assert [(b.address, b.share) for b in web.backends] == [("10.244.2.9:80", "3/4"),
                                                           ("10.244.3.9:80", "1/4")]


def test_both_workers_wrote_the_same_so_each_port_is_drawn_once(topo):
    assert [(s.label, s.protocol, s.nodes) for s in topo.services] == [
        ("empty-svc", "tcp", WORKERS), ("kubernetes:https", "tcp", WORKERS),
        ("np-svc:http", "tcp", WORKERS), ("np-svc:udp", "udp", WORKERS),
        ("test-svc", "tcp", WORKERS)]


def test_a_node_whose_kube_proxy_is_behind_gets_an_entry_of_its_own():
    one = services_from_save(node_text("kube-node-1"))
    behind = [s if s.label != "test-svc" else replace(s, backends=s.backends[:1])
              for s in services_from_save(node_text("kube-node-2"))]
    merged = [s for s in merge({"kube-node-1": one, "kube-node-2": behind})
              if s.label == "test-svc"]
    assert [(len(s.backends), s.nodes) for s in merged] == [(3, ("kube-node-1",)),
                                                             (1, ("kube-node-2",))]


def test_the_snapshot_holds_the_services_and_reads_back(topo):
    data = topo.to_dict()
    schemas = {n: formats.schema(n) for n in formats.SCHEMA_FILES}
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values())
    Draft202012Validator(schemas["snapshot"], registry=registry).validate(data)
    assert from_json(topo.to_json()) == topo
    # a lab without Services writes no "services" at all (older snapshots keep their bytes)
    assert "services" not in replace(topo, services=()).to_dict()


# --- what a diff says ------------------------------------------------------------------------

def test_scaling_up_says_which_endpoints_came(topo):
    before = replace(topo, services=tuple(
        replace(s, backends=(Backend(s.backends[0].address, None, "all"),))
        if s.label == "test-svc" else s for s in topo.services))
    assert diff(before, topo).lines() == [
        "~ service test-svc: endpoints +10.244.2.3:80, +10.244.3.2:80"]


def test_a_new_nodeport_and_a_removed_service(topo):
    before = replace(topo, services=tuple(
        replace(s, node_port=None) if s.label == "np-svc:http" else s
        for s in topo.services if s.label != "np-svc:udp"))
    assert diff(before, topo).lines() == [
        "~ service np-svc:http: node port none→30454",
        "+ service np-svc:udp 10.102.98.70:53/udp NodePort 31671 → 10.244.2.2:53 1/3, "
        "10.244.2.3:53 1/3, 10.244.3.2:53 1/3 (on kube-node-1, kube-node-2)"]
    assert diff(topo, before).lines()[1].startswith("- service np-svc:udp ")


# --- the drawing -------------------------------------------------------------------------------

def test_each_service_is_a_box_with_an_arrow_to_each_endpoint(topo):
    dot = to_dot(topo)
    assert ('"svc:default/test-svc/tcp" [shape=box, style="rounded,filled", fontsize=8, '
            f'margin="0.04,0.03", fillcolor="{SERVICE["fill"]}", color="{SERVICE["line"]}", '
            'label="svc test-svc\\n10.107.169.79\\n80/tcp\\nexternal IPs\\n192.168.96.10"];'
            ) in dot
    # a named port: its name after the number
    assert 'label="svc kubernetes\\n10.96.0.1\\n443/tcp https"' in dot
    arrows = [line for line in dot.splitlines() if '-> "svc:default/test-svc/tcp"' in line]
    assert len(arrows) == 3 and all('dir=back' in a and 'taillabel="1/3"' in a for a in arrows)
    # the kubernetes Service leads to the API server on kube-master's eth0
    assert '"if:kube-master:eth0" -> "svc:default/kubernetes:https/tcp"' in dot
    assert "no endpoints\\n(REJECT)" in dot
    # in one column right of the pods, named in the legend
    assert '{rank=same; "column:services"; "svc:default/empty-svc/tcp";' in dot
    assert "Service (kube-proxy)" in dot


def test_each_worker_box_lists_the_nodeports_its_kube_proxy_opened(topo):
    dot = to_dot(topo)
    for w in WORKERS:
        label = next(line for line in dot.splitlines() if line.strip().startswith("label=<")
                     and f"<b>{w}</b>" in line)
        assert "NodePort 30454/tcp → svc np-svc:http" in label
        assert "NodePort 31671/udp → svc np-svc:udp" in label


def test_a_diff_highlights_only_the_endpoints_kube_proxy_added(topo):
    before = replace(topo, services=tuple(
        replace(s, backends=(Backend(s.backends[0].address, None, "all"),))
        if s.label == "test-svc" else s for s in topo.services))
    dot = to_dot(topo, diff=diff(before, topo))
    arrows = {line.split(" -> ")[0].strip(): line for line in dot.splitlines()
              if '-> "svc:default/test-svc/tcp"' in line}
    assert len(arrows) == 3
    for pod_ip, arrow in zip(PODS, sorted(arrows.items()), strict=True):
        # the first endpoint's share went from all to 1/3: changed too
        assert f'color="{ADDED}"' in arrow[1], pod_ip
    unchanged = [line for line in dot.splitlines() if '-> "svc:default/np-svc:http/tcp"' in line]
    assert unchanged and all(f'color="{SERVICE["line"]}"' in line for line in unchanged)
    box = next(line for line in dot.splitlines()
               if line.strip().startswith('"svc:default/test-svc/tcp" ['))
    assert f'color="{ADDED}", penwidth=3' in box


def test_a_service_only_one_node_wrote_says_so():
    t = from_raw(raw())
    lagging = tuple(replace(s, nodes=("kube-node-1",)) if s.label == "empty-svc" else s
                    for s in t.services)
    dot = to_dot(replace(t, services=lagging))
    assert '"svc:default/empty-svc/tcp@kube-node-1"' in dot and "only on\\nkube-node-1" in dot


def test_a_long_service_name_is_broken_after_a_hyphen():
    """The Service box sets the width of the picture's last column: lesson 14's
    default-http-backend on one line made the picture 1037 pt wide (text 7.7 px)."""
    from labkit.draw.services import _wrapped

    assert _wrapped("svc default-http-backend") == ["svc default-", "http-backend"]
    assert _wrapped("svc our-ingress") == ["svc our-ingress"]
    assert _wrapped("svc averyveryverylongname") == ["svc averyveryverylongname"]
