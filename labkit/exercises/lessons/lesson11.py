"""Lesson 11 (pods across nodes): a node lost its route to another worker's pod CIDR; find it
and put it back. Needs the Kubernetes lab (`labkit up --k8s`)."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

#: k8s/k8s-lab.sh's layout: each node's address on the node network, each worker's pod CIDR
NODE_IPS = {"kube-master": "10.192.0.2", "kube-node-1": "10.192.0.3", "kube-node-2": "10.192.0.4"}
POD_CIDRS = {"kube-node-1": "10.244.2.0/24", "kube-node-2": "10.244.3.0/24"}
#: the lesson's two pods: name -> the node it is pinned to
PODS = {"web-1": "kube-node-1", "web-2": "kube-node-2"}

NO_K8S = ("this lab has no Kubernetes (`kubectl` is not found): lesson 11 needs the Kubernetes "
          "lab. In a terminal: `labkit up --k8s`, then run the lesson from the top")


def _pod(name: str, node: str) -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n"
            f"    app: lab-web\nspec:\n  nodeSelector:\n    kubernetes.io/hostname: {node}\n"
            "  containers:\n  - name: lab-web\n    image: lab-web\n"
            "    imagePullPolicy: Never\n")


#: the lesson's cells before the exercise: the cluster and its two pods, one on each worker
PODS_YAML = ('cat > /root/pods-11.yaml <<"EOF"\n'
             + "---\n".join(_pod(name, node) for name, node in PODS.items()) + "EOF\n")
SETUP = ("k8s-lab up\n" + PODS_YAML + "kubectl apply -f /root/pods-11.yaml\n"
         "kubectl wait --for=condition=Ready pod/web-1 pod/web-2 --timeout=90s\n")
BREAKS = ("# Break something on purpose: a node forgets a way.\n"
          "k8s-lab exec kube-node-1 ip route del 10.244.3.0/24\n")


# --- the functional core: what the nodes' routing tables lack ------------------------------


def route_problems(tables: dict[str, list[dict]]) -> list[str]:
    """For each node's table (`ip -j route` dicts), what keeps it from reaching the pods of
    every other worker: each worker's pod CIDR must go via that worker's node address."""
    owner = {ip: node for node, ip in NODE_IPS.items()}
    problems = []
    for node in NODE_IPS:
        for peer, cidr in POD_CIDRS.items():
            if peer == node:
                continue  # its own pods are on its own bridge, dind0
            whose = f"{cidr}, {peer}'s pod CIDR"
            found = [r for r in tables.get(node, []) if r.get("dst") == cidr]
            if not found:
                problems.append(
                    f"{node} has no route to {whose}: a packet for one of {peer}'s pods has "
                    f"nowhere to go from {node} (`k8s-lab exec {node} ip route` lists what "
                    "it has)")
                continue
            gateway = found[0].get("gateway")
            if gateway is None:
                problems.append(
                    f"{node}'s route to {whose} has no gateway ({_lab.route_text(found[:1])}): "
                    f"{node} would look for {peer}'s pods on its own link, the node network, "
                    f"where nothing answers for them; they are behind {peer}")
            elif gateway != NODE_IPS[peer]:
                who = owner.get(gateway)
                what = f"{who}'s address" if who else "an address no node has"
                problems.append(
                    f"{node} sends {whose}, via {gateway}, {what}: {peer}'s pods are "
                    f"reached through {peer} itself")
    return problems


# --- the imperative shell: ask the lab --------------------------------------------------------


def _pod_ips(lab: Lab) -> dict[str, str] | str:
    """The lesson's pods' addresses, or a sentence saying what is wrong with them."""
    result = lab.run("kubectl get pods " + " ".join(PODS) + " -o json", timeout=30)
    if not result.ok and "NotFound" not in result.stderr:
        return ("kubectl cannot reach the cluster: is it up (`k8s-lab status`; "
                "`k8s-lab up` starts it)?")
    # with a pod missing, kubectl says NotFound on stderr and lists the others on stdout
    try:
        found = json.loads(result.stdout) if result.stdout.strip() else {}
    except json.JSONDecodeError:
        found = {}
    items = {p["metadata"]["name"]: p for p in found.get("items", [])}
    missing = [name for name in PODS if name not in items]
    if missing:
        none = "there is no pod" if len(missing) == 1 else "there are no pods"
        return (f"{none} {_lab.names(missing)}: run the lesson's cell that creates "
                "web-1 and web-2 (`kubectl apply -f /root/pods-11.yaml`)")
    ips = {}
    for name, pod in items.items():
        ip = pod.get("status", {}).get("podIP")
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in pod.get("status", {}).get("conditions", []))
        if not ip or not ready:
            return f"{name} is not running and ready yet (`kubectl get pods -o wide`)"
        ips[name] = ip
    return ips


def check_lost_route(lab: Lab) -> list[str]:
    not_up = _lab.cluster_not_up(lab, NO_K8S, tuple(NODE_IPS))
    if not_up:
        return [not_up]
    problems = route_problems({node: _lab.routes(lab, ns=node) for node in NODE_IPS})
    if problems:
        return problems
    ips = _pod_ips(lab)
    if isinstance(ips, str):
        return [ips]
    for src, dst in (("web-1", "web-2"), ("web-2", "web-1")):
        ask = (f"kubectl exec {src} -- curl -s -m 3 -o /dev/null -w '%{{http_code}}' "
               f"http://{shlex.quote(ips[dst])}/")
        code = lab.run(ask, timeout=30).stdout.strip()
        if code in ("", "000"):
            problems.append(
                f"the nodes' routes are right, but {src} (on {PODS[src]}) gets no answer from "
                f"{dst} at {ips[dst]} (on {PODS[dst]}): compare the two nodes' `ip route` "
                "and `ip link` again")
    return problems


EXERCISES = [
    Exercise(
        id="lesson11/lost-route",
        title="The lost way",
        lesson="11-pods-across-nodes.ipynb",
        task=("The cell above broke something on purpose: web-1 no longer reaches web-2 "
              "(`kubectl exec web-1 -- curl -s -m 3 http://10.244.3.2/` gets no answer), "
              "though both pods are running and ready. Find what is missing and put it back."),
        check=check_lost_route,
        hints=(
            "Follow the request: web-1's route sends it to its node, kube-node-1. What does "
            "kube-node-1 do with a packet for 10.244.3.2? `k8s-lab exec kube-node-1 ip route "
            "get 10.244.3.2` asks its routing table.",
            "Compare the nodes' tables (`k8s-lab exec NODE ip route` for each): every node "
            "has a route to each other worker's pod CIDR, via that worker's node address. "
            "Which one is gone?",
            "`k8s-lab exec kube-node-1 ip route add CIDR via ADDRESS` changes kube-node-1's "
            "table (kube-node-2 is 10.192.0.4 on the node network).",
        ),
        solution=("k8s-lab exec kube-node-1 ip route add 10.244.3.0/24 via 10.192.0.4\n"
                  "kubectl exec web-1 -- curl -s -o /dev/null -w '%{http_code}\\n' "
                  "http://10.244.3.2/\n"),
        setup=SETUP,
        breaks=BREAKS,
    ),
]
