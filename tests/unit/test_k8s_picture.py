"""Kubernetes nodes and pods (issue 15's diagram), on a raw scan recorded in the Kubernetes
lab (tests/snapshots/k8s_pods.json: `k8s-lab up`, then four busybox pods pinned with nodeName
on each worker, the fourth of each with a second container, recorded with
`python3 -m labkit.probe --raw`; tests/lab/test_k8s_picture.py does the same live).

What the probe found (the nodes by what runs in them, each worker engine's containers tagged
with their node and pod), what the model makes of it (a pod's namespace known by its pod, on
its node), and what the drawing shows (each node a box holding its interfaces and its pods).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path

import pytest

from labkit.draw.dot import to_dot
from labkit.draw.svg import to_svg
from labkit.model.build import from_raw
from labkit.model.topology import Pod, Topology, from_json
from labkit.probe.docker import in_root, pod_of
from labkit.probe.nodes import engine_socket, raw_nodes

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
GOLDEN = SNAPSHOTS / "golden" / "k8s_pods.dot"
WORKERS = {"kube-node-1": "10.244.2.0/24", "kube-node-2": "10.244.3.0/24"}
NODE_IPS = {"kube-master": "10.192.0.2", "kube-node-1": "10.192.0.3", "kube-node-2": "10.192.0.4"}


def raw() -> dict:
    return json.loads((SNAPSHOTS / "k8s_pods.json").read_text())


@pytest.fixture(scope="module")
def topo() -> Topology:
    return from_raw(raw())


def addresses(topo: Topology, ns: str, itf: str) -> list[str]:
    """Its IPv4 addresses (not the kernel's fe80:: ones)."""
    return [a.address for a in topo.namespace(ns).interface(itf).addresses if a.family == 4]


# --- the probe's raw scan ----------------------------------------------------------------

def test_the_scan_lists_the_nodes_by_what_runs_in_them():
    nodes = {n["name"]: n for n in raw()["nodes"]}
    assert sorted(nodes) == ["kube-master", "kube-node-1", "kube-node-2"]
    assert nodes["kube-master"]["engine"] is None
    assert {"etcd", "kube-apiserver", "kube-scheduler"} <= set(nodes["kube-master"]["programs"])
    for w in WORKERS:
        assert nodes[w]["programs"] == ["dockerd", "kube-proxy", "kubelet"]
        # the socket is read through the engine's own root: /var/run -> /run resolved there
        pid = nodes[w]["engine"]["pid"]
        assert nodes[w]["engine"]["socket"] == f"/proc/{pid}/root/run/docker.sock"


def test_a_node_engines_containers_carry_their_node_and_pod():
    containers = [c for e in raw()["namespaces"] for c in e["containers"]]
    assert len(containers) == 8 * 2 + 2  # a pause container and one or two others per pod
    assert all(c["node"] in WORKERS and c["pod"]["namespace"] == "default" for c in containers)
    pause = [c for c in containers if c["pod"]["type"] == "podsandbox"]
    assert {c["pod"]["container"] for c in pause} == {"POD"} and len(pause) == 8
    assert {c["image"] for c in containers} == {"k8s.gcr.io/pause:3.2", "busybox:latest"}


def test_a_lab_without_nodes_scans_as_before():
    """The fields came with Kubernetes: no other recorded scan or snapshot has them."""
    for path in SNAPSHOTS.glob("*.json"):
        if path.name.startswith("k8s_"):
            continue
        data = json.loads(path.read_text())
        if "raw_format" not in data:
            continue
        assert "nodes" not in data, path.name
        text = from_raw(data).to_json()
        assert '"node"' not in text and '"pod"' not in text and '"nodes"' not in text, path.name


# --- the model -----------------------------------------------------------------------------

def test_nodes_and_their_roles(topo):
    assert [(n.name, n.role, n.engine) for n in topo.nodes] == [
        ("kube-master", "control plane", False), ("kube-node-1", "worker", True),
        ("kube-node-2", "worker", True)]
    for name, ip in NODE_IPS.items():
        ns = topo.namespace(name)
        assert ns.kind == "netns" and ns.node == name
        assert addresses(topo, name, "eth0") == [ip]


def test_each_pod_is_on_its_node_with_its_pod_ip(topo):
    pods = [ns for ns in topo.namespaces if ns.kind == "pod"]
    assert sorted(p.name for p in pods) == sorted(
        f"busybox-{n}-{i}" for n in (1, 2) for i in (1, 2, 3, 4))
    for p in pods:
        node = f"kube-node-{p.name.split('-')[1]}"
        assert p.node == node and p.pod.name == p.name and p.pod.namespace == "default"
        assert p.pod.pause.startswith(f"k8s_POD_{p.name}_default_")
        (ip,) = addresses(topo, p.name, "eth0")
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(WORKERS[node])
        # its cable: eth0's peer is a port of its node's CNI bridge dind0
        peer = p.interface("eth0").peer
        assert peer.namespace == node
        assert topo.namespace(node).interface(peer.interface).master == "dind0"
    assert topo.namespace("busybox-1-4").pod.containers == ("box", "web")
    assert topo.namespace("busybox-2-1").pod.containers == ("box",)


def test_routes_between_nodes_lead_to_the_other_workers_pod_cidr(topo):
    for name in NODE_IPS:
        routes = {str(r) for r in topo.namespace(name).routes}
        for worker, cidr in WORKERS.items():
            if worker != name:
                assert f"{cidr} via {NODE_IPS[worker]} dev eth0" in routes


def test_the_summary_names_pods_and_nodes(topo):
    lines = topo.summary().splitlines()
    assert "busybox-1-4 (pod default/busybox-1-4 on kube-node-1: box, web): " \
           "eth0↔kube-node-1:veth12588048 10.244.2.5/24" in lines
    assert any(ln.startswith("kube-node-2 (netns; node): bridge dind0 10.244.3.1/24")
               for ln in lines)


def test_the_topology_round_trips_through_json(topo):
    back = from_json(topo.to_json())
    assert back == topo and back.nodes == topo.nodes
    assert back.namespace("busybox-1-4").pod == Pod("busybox-1-4", "default", ("box", "web"),
                                                   topo.namespace("busybox-1-4").pod.pause)


# --- the drawing ---------------------------------------------------------------------------

def clusters(dot: str) -> dict[str, str | None]:
    """Each namespace box's name -> the box it is drawn in (None: the top)."""
    out: dict[str, str | None] = {}
    stack: list[str] = []
    for line in dot.splitlines():
        m = re.match(r'\s*subgraph "cluster_ns:([^"]+)" \{', line)
        if m:
            out.setdefault(m.group(1), stack[-1] if stack else None)
            if not line.rstrip().endswith("}"):
                stack.append(m.group(1))
        elif line.strip() == "}" and stack:
            stack.pop()
    return out


def test_each_node_is_a_box_holding_its_interfaces_and_its_pods(topo):
    dot = to_dot(topo)
    where = clusters(dot)
    for name in NODE_IPS:
        assert where[name] == "lab"
    for p in (ns for ns in topo.namespaces if ns.kind == "pod"):
        assert where[p.name] == p.node
    node1 = dot.split('subgraph "cluster_ns:kube-node-1"')[1]
    assert '"if:kube-node-1:eth0"' in node1 and '"if:kube-node-1:dind0"' in node1
    # the pod's box lists the pause container and the containers that share its namespace
    assert "pod: pause + box + web" in dot.split('subgraph "cluster_ns:busybox-1-4"')[1]


def test_the_routes_to_other_nodes_pods_are_drawn_under_eth0(topo):
    dot = to_dot(topo)
    eth0 = next(ln for ln in dot.splitlines() if ln.strip().startswith('"if:kube-node-1:eth0"'))
    assert "10.192.0.3/24" in eth0 and "10.244.3.0/24 via 10.192.0.4" in eth0
    pod = next(ln for ln in dot.splitlines() if ln.strip().startswith('"if:busybox-2-3:eth0"'))
    assert "10.244.3.5/24" in pod and "default via 10.244.3.1" in pod
    assert "kube-br0 <" not in dot and "k8s node network" in dot  # the node network, named
    assert "k8s node</font>" in dot  # and the legend says what the grey boxes are


def test_the_drawing_is_deterministic_and_equals_the_golden_file(topo):
    dot = to_dot(topo)
    assert dot == to_dot(from_json(topo.to_json()))
    if os.environ.get("LABKIT_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(dot, encoding="utf-8")
    assert dot == GOLDEN.read_text(encoding="utf-8")


def test_three_nodes_with_four_pods_each_fit_a_notebook(topo, dot_program):
    """1500 pt wide before the node boxes (text at 5 px in a notebook 1000 px wide); now
    about 1000 pt, the text at 8-10 px (tests/lab/test_k8s_picture.py renders it live)."""
    svg = to_svg(to_dot(topo))
    width, height = map(float, re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ([\d.]+)"',
                                         svg).groups())
    assert width < 1100 and height < 1200


# --- the probe's pure helpers ----------------------------------------------------------------

def test_in_root_resolves_symlinks_inside_the_other_root(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "run").symlink_to("/run")  # absolute: Debian's /var/run
    assert in_root(str(tmp_path), "/var/run/docker.sock") == f"{tmp_path}/run/docker.sock"
    assert in_root(None, "/var/run/docker.sock") == "/var/run/docker.sock"
    assert in_root(str(tmp_path), "") == ""


def test_pod_labels():
    labels = {"io.kubernetes.pod.name": "web", "io.kubernetes.pod.namespace": "default",
              "io.kubernetes.container.name": "POD", "io.kubernetes.docker.type": "podsandbox"}
    assert pod_of(labels) == {"name": "web", "namespace": "default", "container": "POD",
                              "type": "podsandbox"}
    assert pod_of({"org.labkit.role": "x"}) is None


def test_engine_socket_from_the_command_line(monkeypatch, tmp_path):
    argv = {1: b"dockerd\0--bridge=none\0", 2: b"dockerd\0-H\0unix:///tmp/x.sock\0",
            3: b"dockerd\0--host=tcp://127.0.0.1:2375\0"}
    real_open = open

    def fake_open(path, *a, **k):
        m = re.fullmatch(r"/proc/(\d+)/cmdline", str(path))
        if m:
            import io
            return io.BytesIO(argv[int(m.group(1))])
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", fake_open)
    monkeypatch.setattr("labkit.probe.nodes.in_root", lambda root, p: root + p)
    assert engine_socket(1) == "/proc/1/root/var/run/docker.sock"
    assert engine_socket(2) == "/proc/2/root/tmp/x.sock"
    assert engine_socket(3) is None
    assert raw_nodes({"kube-master": [("etcd", 9)]}) == [
        {"name": "kube-master", "programs": ["etcd"], "engine": None, "kube_proxy": None}]


def test_a_trace_can_start_in_a_pod_and_enter_it_through_its_node(topo):
    """labkit.model.trace: pods are places (a ping from busybox-1-1 to busybox-2-1 was
    traced live across kube-br0 with this prefix), entered through their pause container's
    process, which their node's own engine knows."""
    from labkit.model.trace import in_namespace, places, sources

    assert {"busybox-1-1", "busybox-2-4", "kube-node-1"} <= set(sources(topo))
    assert ("busybox-2-1", "10.244.3.2") in {(p.namespace, p.address) for p in places(topo)}
    pod = topo.namespace("busybox-1-1")
    assert in_namespace(pod) == (
        "nsenter -t \"$(k8s-lab exec kube-node-1 docker inspect -f '{{.State.Pid}}' "
        f"{pod.pod.pause})\" -n ")
    assert in_namespace(topo.namespace("kube-node-2")) == "ip netns exec kube-node-2 "


def test_a_focus_on_a_node_shows_its_pods_and_keeps_its_routes(topo):
    """The namespace explorer draws one namespace: a node's box holds its pods, and with its
    eth0 left out (its other end is the lab's) its routes go back into the box's label."""
    dot = to_dot(topo, focus=["kube-node-1"])
    where = clusters(dot)
    assert {n for n, box in where.items() if box == "kube-node-1"} == {
        "busybox-1-1", "busybox-1-2", "busybox-1-3", "busybox-1-4"}
    assert "kube-node-2" not in where
    label = next(ln for ln in dot.splitlines() if "label=<<b>kube-node-1</b>" in ln)
    assert "10.244.3.0/24 via 10.192.0.4 dev eth0" in label


def test_a_pod_focused_without_its_node_names_its_node(topo):
    """Drawn on its own (no node box around it), a pod's box says where it runs; inside its
    node's box that would only repeat the box."""
    alone = to_dot(topo, focus=["busybox-2-3"])
    assert clusters(alone)["busybox-2-3"] == "lab"
    assert "pod: pause + box; on kube-node-2" in alone
    inside = to_dot(topo, focus=["kube-node-2"])
    assert "pod: pause + box<" in inside.split('subgraph "cluster_ns:busybox-2-3"')[1]
    assert "; on kube-node-2" not in inside


def test_pods_by_node_is_worked_out_once_per_scene(topo, monkeypatch):
    import labkit.draw.dot as dot_module

    calls = []
    real = dot_module._pods_by_node
    monkeypatch.setattr(dot_module, "_pods_by_node", lambda sc: calls.append(1) or real(sc))
    assert to_dot(topo) == GOLDEN.read_text(encoding="utf-8")
    assert len(calls) == 1


def test_the_summary_of_a_pod_with_only_its_pause_container(topo):
    """A pod between its sandbox and its first container (or whose containers all went): the
    summary says so rather than ending in ': '."""
    from dataclasses import replace

    pod = topo.namespace("busybox-2-1")
    bare = replace(pod, pod=replace(pod.pod, containers=()))
    only = replace(topo, namespaces=tuple(bare if ns is pod else ns for ns in topo.namespaces))
    line = next(ln for ln in only.summary().splitlines() if ln.startswith("busybox-2-1 "))
    assert line.startswith("busybox-2-1 (pod default/busybox-2-1 on kube-node-2: (only pause)):")


def test_a_node_engines_image_id_lookup_is_cached_hit_or_miss(monkeypatch):
    """A kubelet starts containers by image id; the probe names them by tag from one
    /images/json listing, and an id the listing lacks (the image removed under a running
    container) is remembered too, as its short id: not a listing per container per scan."""
    from labkit.probe.docker import Docker

    asked = []
    engine = Docker("/nonexistent.sock", root="/proc/1/root")
    monkeypatch.setattr(engine, "_get", lambda url: asked.append(url) or [
        {"Id": "sha256:" + "a" * 64, "RepoTags": ["busybox:latest"]}])
    for _ in range(3):
        assert engine._image("sha256:" + "a" * 64) == "busybox:latest"
        assert engine._image("sha256:" + "b" * 64) == "b" * 12
    assert asked == ["/images/json", "/images/json"]  # one for the hit, one for the miss
    assert engine._image("busybox") == "busybox"  # a name is kept as it is


def test_the_lab_s_ifindexes_growing_past_99_move_nothing(topo):
    """The lab's ifindexes grow with its history (every `k8s-lab up` makes new cables), a
    node's are new with each cluster: a lab that had run a dozen clusters drew lesson 10
    wider than its recording, and strict nbval failed. Three digits move no box."""
    from dataclasses import replace

    lab = topo.namespace("lab")
    older = replace(topo, namespaces=tuple(
        replace(ns, interfaces=tuple(replace(i, index=i.index + 100) for i in ns.interfaces))
        if ns is lab else ns for ns in topo.namespaces))
    assert any(i.index > 99 for i in older.namespace("lab").interfaces)

    def geometry(t: Topology) -> list[str]:
        return re.findall(r' (?:points|d|viewBox|x|y|width|height)="([^"]*)"', to_svg(to_dot(t)))

    assert geometry(older) == geometry(topo)
