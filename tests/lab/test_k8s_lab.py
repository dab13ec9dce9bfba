"""The Kubernetes lab (k8s/Dockerfile), live: in a throw-away lab of that image, `k8s-lab up`
starts a real Kubernetes v1.20.2 control plane on the lab's loopback, plain `kubectl` reaches
it, a Pod survives three PATCHes (the reflect2 crash the image's build fixes), and
`k8s-lab down` leaves nothing of the cluster behind; then the lab itself goes, volume included.

Runs only when selected (`pytest -m k8s tests/lab/test_k8s_lab.py`): the image takes minutes to
build. Build it first: `docker build -f lab/Dockerfile -t labkit-lab:latest .` and
`docker build -t labkit-k8s:latest k8s/`.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from labkit import Lab

# tests/conftest.py's K8S_IMAGE (conftest is not importable)
K8S_IMAGE = os.environ.get("LABKIT_K8S_IMAGE", "labkit-k8s:latest")
pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.lab(reset=False)]

CLUSTER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def processes(lab: Lab) -> str:
    return lab.sh("ps -eo comm=")


def test_k8s_lab_up_patch_down(throwaway_lab, docker_api):
    container = throwaway_lab("k8s", image=K8S_IMAGE)
    lab = Lab.connect(name=container.name, wait=180)

    # The entrypoint's seed.d made the kubelet's sandbox image with no registry.
    pause = lab.sh("docker image inspect -f '{{.Comment}}' k8s.gcr.io/pause:3.2")
    assert "built from Kubernetes v1.20.2 source" in pause
    version = lab.run("docker run --rm --network none k8s.gcr.io/pause:3.2 -v", timeout=60)
    assert "pause.c 3.2" in version.output, version.output

    start = time.monotonic()
    up = lab.run("k8s-lab up", timeout=240)
    took = time.monotonic() - start
    assert up.exit_code == 0, up.output
    assert "Kubernetes v1.20.2" in up.stdout, up.output
    print(f"k8s-lab up: {took:.1f} s")

    # Plain kubectl, no flags: /root/.kube/config was written by `up`.
    ns = lab.sh("kubectl get ns default")
    assert re.search(r"^default\s+Active\s", ns, re.M), ns
    assert "v1.20.2" in lab.sh("kubectl version --short")

    # The network rule: every listener of the cluster is on the lab's loopback.
    listeners = lab.sh("ss -Hltnp | grep -E 'etcd|kube-' | awk '{print $4}'").split()
    assert listeners and all(a.startswith("127.0.0.1:") for a in listeners), listeners

    # A Pod (Pending: this step has no kubelet), PATCHed three times: each a 200, and the
    # apiserver that served them is the one that started (reflect2 1.0.1 crashed it here).
    apiserver = lab.sh("cat /run/k8s-lab/kube-apiserver.pid").strip()
    lab.sh("kubectl run p1 --image=k8s.gcr.io/pause:3.2 --restart=Never")
    for i in range(3):
        patch = json.dumps({"metadata": {"labels": {"a": f"b{i}"}}})
        res = lab.run(f"kubectl patch pod p1 -v=6 -p '{patch}'")
        assert res.exit_code == 0, res.output
        assert re.search(r"PATCH https://127\.0\.0\.1:6443/api/v1/namespaces/default/pods/p1"
                         r"\S* 200 OK", res.output), res.output
        assert "pod/p1 patched" in res.stdout, res.output
    assert lab.sh("kubectl get pod p1 -o jsonpath='{.metadata.labels.a}'") == "b2"
    assert lab.sh("kubectl get --raw /livez") == "ok"
    assert lab.sh("cat /run/k8s-lab/kube-apiserver.pid").strip() == apiserver
    assert "kube-apiserver" in processes(lab).split()
    assert not lab.run("grep -l 'SIGSEGV\\|panic:' /var/log/k8s-lab/kube-apiserver.log").stdout

    down = lab.run("k8s-lab down", timeout=60)
    assert down.exit_code == 0, down.output
    left = set(processes(lab).split()) & {c[:15] for c in CLUSTER}
    assert not left, f"still running after k8s-lab down: {left}"
    assert lab.run("ls /var/lib/k8s-lab /root/.kube/config").exit_code != 0  # data gone

    # Nothing behind outside the lab either: the container and its /var/lib/docker volume.
    container.reload()
    volumes = [m["Name"] for m in container.attrs["Mounts"] if m.get("Type") == "volume"]
    container.remove(force=True, v=True)
    names = {c.name for c in docker_api.containers.list(all=True)}
    assert container.name not in names
    still = {v.name for v in docker_api.volumes.list()} & set(volumes)
    assert not still, f"volumes left: {still}"
