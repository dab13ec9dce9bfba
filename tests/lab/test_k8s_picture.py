"""The Kubernetes lab's picture, live (issue 15's diagram): in a throw-away lab of the
Kubernetes image, `k8s-lab up`, two busybox pods pinned to each worker with nodeName, then
one snapshot: the probe finds the three nodes by what runs in them, lists each worker
engine's pods, and the drawing puts each pod in its node's box with the address kubectl
reports for it; a ping from a pod on one worker to a pod on the other is traced over kube-br0.

Runs only when selected (`pytest -m k8s tests/lab/test_k8s_picture.py`), like
tests/lab/test_k8s_lab.py, on LABKIT_K8S_IMAGE (default labkit-k8s:latest) built FROM the
lab image of this checkout: the probe that runs is the lab image's (/opt/labkit).
"""

from __future__ import annotations

import os
import re
import time

import pytest

from labkit import Lab
from labkit.draw.dot import to_dot
from labkit.draw.svg import to_svg
from labkit.model.diff import diff
from labkit.notebook.widgets.tracer import trace_packet

K8S_IMAGE = os.environ.get("LABKIT_K8S_IMAGE", "labkit-k8s:latest")
pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.lab(reset=False)]

WORKERS = ("kube-node-1", "kube-node-2")


def pods_yaml() -> str:
    """Two pods a worker, pinned with nodeName (no scheduler needed), the image the nodes'
    engines were seeded with and never pulled."""
    docs = []
    for node in WORKERS:
        for i in (1, 2):
            docs.append(f"""apiVersion: v1
kind: Pod
metadata: {{name: pic-{node[-1]}-{i}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 0
  containers:
  - {{name: box, image: busybox:latest, imagePullPolicy: Never, command: [sleep, "3600"]}}
""")
    return "---\n".join(docs)


def service_yaml(ips: list[str]) -> str:
    """A Service without a selector and its Endpoints, written by hand: the two pods."""
    addresses = ", ".join(f"{{ip: {ip}}}" for ip in ips)
    return f"""apiVersion: v1
kind: Service
metadata: {{name: pic-svc}}
spec:
  clusterIP: 10.111.0.80
  ports: [{{port: 80, protocol: TCP}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: pic-svc}}
subsets: [{{addresses: [{addresses}], ports: [{{port: 80, protocol: TCP}}]}}]
"""


def test_each_pod_is_drawn_in_its_nodes_box(throwaway_lab):
    container = throwaway_lab("k8spic", image=K8S_IMAGE)
    lab = Lab.connect(name=container.name, wait=180)
    empty = lab.snapshot()  # the probe as it is without a cluster
    assert not empty.nodes and all(ns.node is None for ns in empty.namespaces)

    up = lab.run("k8s-lab up", timeout=240)
    assert up.exit_code == 0, up.output
    applied = lab.run(f"cat > /tmp/pic.yaml <<'EOF'\n{pods_yaml()}EOF\n"
                      "kubectl apply -f /tmp/pic.yaml && "
                      "kubectl wait --for=condition=Ready pod --all --timeout=120s", timeout=180)
    assert applied.exit_code == 0, applied.output
    wide = lab.sh("kubectl get pods -o wide --no-headers")
    # NAME READY STATUS RESTARTS AGE IP NODE ...
    kubectl = {f[0]: (f[5], f[6]) for f in (ln.split() for ln in wide.splitlines())}
    assert len(kubectl) == 4, wide

    start = time.monotonic()
    topo = lab.snapshot()
    print(f"snapshot with the cluster: {1000 * (time.monotonic() - start):.0f} ms "
          f"(probe {dict(topo.probe).get('elapsed_ms')} ms)")

    assert [n.name for n in topo.nodes] == ["kube-master", *WORKERS]
    assert topo.node("kube-master").role == "control plane"
    for name, (ip, node) in kubectl.items():
        ns = topo.namespace(name)
        assert ns is not None and ns.kind == "pod", topo.summary()
        assert ns.node == node and ns.pod.containers == ("box",)
        assert [a.address for a in ns.interface("eth0").addresses if a.family == 4] == [ip]

    dot = to_dot(topo)
    for node in WORKERS:
        box = dot.split(f'subgraph "cluster_ns:{node}"')[1]
        for name, (_ip, on) in kubectl.items():
            inside = f'subgraph "cluster_ns:{name}"' in box.split('subgraph "cluster_ns:kube-')[0]
            assert inside == (on == node), f"{name} on {on}, drawn in {node}'s box: {inside}"
    svg = to_svg(dot)
    width = float(re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+)', svg).group(1))
    print(f"2 workers x 2 pods: DOT {len(dot)} bytes, SVG {len(svg)} bytes, {width:.0f} pt wide")

    # A ping from a pod on kube-node-1 to one on kube-node-2, traced: over kube-br0.
    trace = trace_packet("pic-1-1", "pic-2-1", lab=lab)
    text = trace.text()
    assert "delivered" in text.splitlines()[0], text
    assert "kube-br0 switches the frame from ve-kube-node-1 to ve-kube-node-2" in text, text

    # The Services drawing (issue 16), from what both kube-proxies wrote: the API server's own
    # Service, then one in front of a pod on each worker (selector-less, its Endpoints
    # written here: these pods serve nothing, but kube-proxy writes the rules all the same).
    api = next(sv for sv in topo.services if sv.label == "kubernetes:https")
    assert [b.address for b in api.backends] == ["10.192.0.2:6443"] and api.nodes == WORKERS
    ips = [kubectl["pic-1-1"][0], kubectl["pic-2-1"][0]]
    made = lab.run(f"cat > /tmp/pic-svc.yaml <<'EOF'\n{service_yaml(ips)}EOF\n"
                   "kubectl apply -f /tmp/pic-svc.yaml", timeout=60)
    assert made.exit_code == 0, made.output
    waited = lab.run("for i in $(seq 50); do n=0; for w in kube-node-1 kube-node-2; do "
                     "k8s-lab exec $w iptables-save -t nat | grep -q 'default/pic-svc\" -m "
                     "statistic' && n=$((n+1)); done; [ $n = 2 ] && exit 0; sleep 0.2; done; "
                     "exit 1", timeout=60)
    assert waited.exit_code == 0, "kube-proxy wrote no rules for pic-svc on both workers in 10 s"
    with_svc = lab.snapshot()
    pic = next(sv for sv in with_svc.services if sv.label == "pic-svc")
    assert (pic.cluster_ip, pic.port, pic.nodes) == ("10.111.0.80", "80", WORKERS)
    assert sorted((b.address, b.share) for b in pic.backends) == [
        (f"{ip}:80", "1/2") for ip in sorted(ips)]
    changed = diff(topo, with_svc)
    assert any(line.startswith("+ service pic-svc 10.111.0.80:80/tcp") for line in changed.lines())
    arrows = [ln for ln in to_dot(with_svc, diff=changed).splitlines()
              if '-> "svc:default/pic-svc/tcp"' in ln]
    assert len(arrows) == 2 and all('label="1/2"' in a for a in arrows), arrows

    down = lab.run("k8s-lab down", timeout=90)
    assert down.exit_code == 0, down.output
    after = lab.snapshot()
    assert not after.nodes and not [ns for ns in after.namespaces if ns.kind == "pod"]
    assert not after.services
