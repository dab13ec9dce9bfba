"""Lesson 13 (externalIPs and NodePort): test-svc, a NodePort Service on port 30454, was
changed so that its targetPort is a port web-1 does not use: every worker's port 30454 refuses.
Make it give web-1's page again. The check reads the Service, its Endpoints object, web-1's
container ports and, on each worker, the KUBE-NODEPORTS rules and the Service's chains
kube-proxy wrote, then asks each worker's port from the lab host. Needs the Kubernetes lab
(`labkit up --k8s`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab
from labkit.exercises.lessons.lesson12 import (
    chain_rules,
    endpoint_addresses,
    endpoint_targets,
    port_name,
    svc_chain,
)

if TYPE_CHECKING:
    from labkit.lab import Lab

NODES = ("kube-master", "kube-node-1", "kube-node-2")
#: the workers (they run kube-proxy) and their addresses on the node network
WORKERS = {"kube-node-1": "10.192.0.3", "kube-node-2": "10.192.0.4"}
SERVICE, NAMESPACE, POD = "test-svc", "default", "web-1"
CLUSTER_IP = "10.107.169.79"
#: the article's NodePort, pinned in the Service (else the API server picks one at random)
NODE_PORT = 30454

NO_K8S = ("this lab has no Kubernetes (`kubectl` is not found): lesson 13 needs the Kubernetes "
          "lab. In a terminal: `labkit up --k8s`, then run the lesson from the top")

#: the lesson's cells: web-1 on kube-node-1, then test-svc as the NodePort Service
POD_YAML = ('cat > /root/pods-13.yaml <<"EOF"\n'
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-1\n  labels:\n    app: lab-web\n"
            "spec:\n  nodeSelector:\n    kubernetes.io/hostname: kube-node-1\n  containers:\n"
            "  - name: lab-web\n    image: lab-web\n    imagePullPolicy: Never\n    ports:\n"
            "    - containerPort: 80\n      name: web-port\nEOF\n")
SVC_YAML = ('cat > /root/test-svc.yaml <<"EOF"\n'
            "kind: Service\napiVersion: v1\nmetadata:\n  name: test-svc\nspec:\n  type: NodePort\n"
            f"  clusterIP: {CLUSTER_IP}\n  selector:\n    app: lab-web\n  ports:\n"
            f"    - port: 80\n      targetPort: web-port\n      nodePort: {NODE_PORT}\nEOF\n")
SETUP = ("k8s-lab up\n" + POD_YAML + "kubectl apply -f /root/pods-13.yaml\n"
         "kubectl wait --for=condition=Ready pod/web-1 --timeout=90s\n"
         + SVC_YAML + "kubectl apply -f /root/test-svc.yaml\n")
BREAKS = ("# Break something on purpose: the Service sends connections to a port the pod does "
          "not use.\n"
          "kubectl patch service test-svc --type=json -p '[{\"op\": \"replace\", \"path\": "
          "\"/spec/ports/0/targetPort\", \"value\": 8080}]'\n")


# --- the functional core: what the Service, its pod and kube-proxy's rules say ----------------


def container_ports(pod: dict) -> dict[str, int]:
    """{port name or str(number): number} of every container port the pod declares."""
    found: dict[str, int] = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            number = int(port["containerPort"])
            found[str(number)] = number
            if port.get("name"):
                found[port["name"]] = number
    return found


def _declared(ports: dict[str, int]) -> str:
    named = [f"{n}: {v}" for n, v in ports.items() if not n.isdigit()]
    return ", ".join(named) or ", ".join(sorted(ports)) or "no port at all"


def nodeport_rules(rules: dict[str, list[str]], node_port: int) -> list[str]:
    """The targets of KUBE-NODEPORTS' rules for this port, in order ("KUBE-MARK-MASQ", ...)."""
    found = []
    for rule in rules.get("KUBE-NODEPORTS", []):
        words = rule.split()
        if "--dport" in words[:-1] and words[words.index("--dport") + 1] == str(node_port) \
                and "-j" in words[:-1]:
            found.append(words[words.index("-j") + 1])
    return found


def service_problems(svc: dict | None, endpoints: dict | None, pod: dict,
                     saves: dict[str, str]) -> list[str]:
    """What keeps every worker's port 30454 from leading to web-1's port 80: the Service's
    type and NodePort, its targetPort (against web-1's container ports), its Endpoints
    object, and on each worker (`saves`: node -> `iptables-save -t nat`) the KUBE-NODEPORTS
    rules, the Service's chain and its endpoint's DNAT."""
    if svc is None:
        return [f"there is no Service {SERVICE}: run the lesson's cell that makes it a NodePort "
                "Service (`kubectl apply -f /root/test-svc.yaml`)"]
    spec = svc.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    port = next(iter(spec.get("ports") or []), {})
    if kind != "NodePort":
        return [f"{SERVICE} is of type {kind}, not NodePort: no node opens a port for it, so "
                f"there is nothing at port {NODE_PORT} (`kubectl get service {SERVICE}` shows "
                "its TYPE). Keep it a NodePort Service, with `nodePort: 30454`"]
    if port.get("nodePort") != NODE_PORT:
        return [f"{SERVICE}'s NodePort is {port.get('nodePort')}, not {NODE_PORT}: the task "
                f"asks for port {NODE_PORT} on every worker (`nodePort: {NODE_PORT}` in its "
                "port)"]
    declared = container_ports(pod)
    target = port.get("targetPort", port.get("port"))
    ip = (pod.get("status") or {}).get("podIP")
    if isinstance(target, str) and not target.isdigit() and target not in declared:
        return [f"{SERVICE}'s targetPort is the name {target!r}, and {POD}'s container has no "
                f"port of that name (it declares {_declared(declared)}): the endpoints "
                f"controller leaves {POD} out, so the Service has no endpoint and kube-proxy "
                f"rejects every connection to port {NODE_PORT} (`kubectl get endpoints "
                f"{SERVICE}` is empty)"]
    number = declared.get(str(target)) if isinstance(target, str) else int(target)
    if number not in declared.values():
        return [f"{SERVICE} sends connections to port {number} of its pods (targetPort "
                f"{target}), but {POD}'s container listens on {_declared(declared)}: kube-proxy "
                f"rewrites them to {ip}:{number}, where nothing listens, so {POD} refuses them. "
                "`port` is the Service's own port, `targetPort` the container's: point "
                "targetPort at the one the container declares"]
    want = [f"{ip}:{number}"]
    have = endpoint_addresses(endpoints)
    if have != want:
        return [f"{SERVICE}'s Endpoints object lists {_lab.names(have)}, not {POD}'s {want[0]}: "
                "the endpoints controller has not caught up yet (or the pod is not ready: "
                "`kubectl get pods -o wide`); run the check again in a few seconds"]
    chain = svc_chain(port_name(NAMESPACE, SERVICE, port.get("name", "")),
                      port.get("protocol", "TCP"))
    problems = []
    for node in WORKERS:
        rules = chain_rules(saves.get(node, ""))
        if chain not in nodeport_rules(rules, NODE_PORT):
            problems.append(f"{node}'s KUBE-NODEPORTS has no rule sending port {NODE_PORT} to "
                            f"{chain}: kube-proxy on {node} has not rewritten its rules yet; "
                            "run the check again in a second or two")
            continue
        targets = endpoint_targets(rules, chain)
        if targets != have:
            problems.append(f"{node}'s {chain} sends connections to {_lab.names(targets)}, not "
                            f"to the Endpoints object's {_lab.names(have)}: kube-proxy on "
                            f"{node} has not caught up yet; run the check again in a second")
    return problems


# --- the imperative shell: ask the lab --------------------------------------------------------


def check_nodeport_refused(lab: Lab) -> list[str]:
    not_up = _lab.cluster_not_up(lab, NO_K8S, NODES)
    if not_up:
        return [not_up]
    pod = _lab.kube_json(lab, f"kubectl get pod {POD} -o json")
    if pod is None:
        return [f"there is no pod {POD} (or kubectl cannot reach the cluster: `k8s-lab "
                "status`): run the lesson's cell that makes it (`kubectl apply -f "
                "/root/pods-13.yaml`)"]
    svc = _lab.kube_json(lab, f"kubectl get service {SERVICE} -o json")
    endpoints = _lab.kube_json(lab, f"kubectl get endpoints {SERVICE} -o json")
    saves = {node: lab.run(f"k8s-lab exec {node} iptables-save -t nat", timeout=30).stdout
             for node in WORKERS}
    problems = service_problems(svc, endpoints, pod, saves)
    if problems:
        return problems
    for node, ip in WORKERS.items():
        ask = f"curl -s -m 3 -o /dev/null -w '%{{http_code}}' http://{ip}:{NODE_PORT}/"
        code = lab.run(ask, timeout=30).stdout.strip()
        if code != "200":
            problems.append(f"the Service and the rules look right, but the lab host gets no "
                            f"page from {node}'s port {NODE_PORT} (HTTP code {code or 'none'}): "
                            f"try `curl -v -m 3 http://{ip}:{NODE_PORT}/`")
    return problems


EXERCISES = [
    Exercise(
        id="lesson13/nodeport-refused",
        title="A NodePort that refuses",
        lesson="13-externalip-nodeport.ipynb",
        task=("The cell above broke something on purpose: the NodePort still answers, but only "
              "with a refusal (`curl -m 3 http://10.192.0.3:30454/` in the lab host says "
              "`curl: (7) Failed to connect ... Couldn't connect to server` at once), though "
              "web-1 is running and ready. Make every worker's port 30454 give web-1's page "
              "again, and keep test-svc a NodePort Service on port 30454."),
        check=check_nodeport_refused,
        hints=(
            "A refusal is an answer: something rewrote the connection and sent it on, and "
            "whoever got it has nothing listening there. `kubectl get endpoints test-svc` says "
            "where kube-proxy sends it (address and port).",
            "Compare the Service's ports with the pod's: `kubectl get service test-svc -o "
            "yaml` (port, targetPort, nodePort) and `kubectl get pod web-1 -o "
            "jsonpath='{.spec.containers[0].ports}'`. Which of the Service's numbers must match "
            "the container's?",
            "`targetPort` is the container's port, by number or by its name. `kubectl patch "
            "service test-svc --type=json -p '[{\"op\": \"replace\", \"path\": "
            "\"/spec/ports/0/targetPort\", \"value\": ...}]'` changes it.",
        ),
        solution=("kubectl patch service test-svc --type=json -p '[{\"op\": \"replace\", "
                  "\"path\": \"/spec/ports/0/targetPort\", \"value\": \"web-port\"}]'\n"
                  "# the endpoints controller, then each node's kube-proxy, follow within a "
                  "second or two\n"
                  "sleep 3\n"
                  "kubectl get endpoints test-svc -o custom-columns=NAME:.metadata.name,"
                  "ENDPOINTS:.subsets[0].addresses[*].ip,PORT:.subsets[0].ports[0].port\n"),
        setup=SETUP,
        breaks=BREAKS,
    ),
]
