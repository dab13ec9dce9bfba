"""Lesson 12 (Services and cluster DNS): test-svc's selector was changed so it matches no pod;
make it load-balance over the lesson's three web pods again. The check reads the Service, its
Endpoints object and the KUBE-SVC chain kube-proxy wrote on each worker. Needs the Kubernetes
lab (`labkit up --k8s`)."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

NODES = ("kube-master", "kube-node-1", "kube-node-2")
WORKERS = ("kube-node-1", "kube-node-2")
SERVICE, NAMESPACE = "test-svc", "default"
#: the article's own cluster IP, pinned in the Service (a free one is picked at random)
CLUSTER_IP = "10.107.169.79"
#: the Service's backends: name -> the node it is pinned to; and the client, not a backend
WEB_PODS = {"web-1": "kube-node-1", "web-2": "kube-node-2", "web-3": "kube-node-1"}
CLIENT = ("client", "kube-node-2")

NO_K8S = ("this lab has no Kubernetes (`kubectl` is not found): lesson 12 needs the Kubernetes "
          "lab. In a terminal: `labkit up --k8s`, then run the lesson from the top")


def pod_yaml(name: str, node: str, app: str, port: bool) -> str:
    ports = ("    ports:\n    - containerPort: 80\n      name: web-port\n" if port else "")
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n"
            f"    app: {app}\nspec:\n  nodeSelector:\n    kubernetes.io/hostname: {node}\n"
            "  containers:\n  - name: lab-web\n    image: lab-web\n"
            f"    imagePullPolicy: Never\n{ports}")


def _file(path: str, docs: list[str]) -> str:
    return f'cat > {path} <<"EOF"\n' + "---\n".join(docs) + "EOF\n"


#: the lesson's cells: web-1 and the client first, the Service, then two more web pods
PODS_YAML = _file("/root/pods-12.yaml", [pod_yaml("web-1", WEB_PODS["web-1"], "lab-web", True),
                                         pod_yaml(CLIENT[0], CLIENT[1], "client", False)])
SVC_YAML = _file("/root/test-svc.yaml", [
    f"kind: Service\napiVersion: v1\nmetadata:\n  name: {SERVICE}\nspec:\n"
    f"  clusterIP: {CLUSTER_IP}\n  selector:\n    app: lab-web\n  ports:\n    - port: 80\n"
    "      targetPort: web-port\n"])
MORE_YAML = _file("/root/more-12.yaml", [pod_yaml(n, WEB_PODS[n], "lab-web", True)
                                         for n in ("web-2", "web-3")])
SETUP = ("k8s-lab up\n" + PODS_YAML + "kubectl apply -f /root/pods-12.yaml\n"
         "kubectl wait --for=condition=Ready pod/web-1 pod/client --timeout=90s\n"
         + SVC_YAML + "kubectl apply -f /root/test-svc.yaml\n"
         + MORE_YAML + "kubectl apply -f /root/more-12.yaml\n"
         "kubectl wait --for=condition=Ready pod/web-2 pod/web-3 --timeout=90s\n")
BREAKS = ("# Break something on purpose: the Service asks for one label more.\n"
          "kubectl patch service test-svc -p '{\"spec\":{\"selector\":{\"tier\":\"front\"}}}'\n")


# --- the functional core: kube-proxy's chain names, its rules, what is wrong ------------------


def _hash16(text: str) -> str:
    """kube-proxy's (pkg/proxy/iptables/proxier.go): base32 of sha256, first 16 characters."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def port_name(namespace: str, name: str, port: str = "") -> str:
    """A ServicePortName as kube-proxy 1.20 spells it: NAMESPACE/NAME, plus ":PORT" only for
    a named port (before 1.19 the ":" came always: "default/test-svc:")."""
    return f"{namespace}/{name}" + (f":{port}" if port else "")


def svc_chain(service_port: str, protocol: str = "tcp") -> str:
    """servicePortChainName: the Service port's chain."""
    return "KUBE-SVC-" + _hash16(service_port + protocol.lower())


def sep_chain(service_port: str, endpoint: str, protocol: str = "tcp") -> str:
    """servicePortEndpointChainName: one endpoint's chain ("10.244.2.2:80")."""
    return "KUBE-SEP-" + _hash16(service_port + protocol.lower() + endpoint)


def chain_rules(save: str) -> dict[str, list[str]]:
    """`iptables-save` text -> {chain: its rules' text after `-A CHAIN `}, in order."""
    rules: dict[str, list[str]] = {}
    for line in save.splitlines():
        if line.startswith(":"):
            rules.setdefault(line[1:].split()[0], [])
        elif line.startswith("-A "):
            chain, _, rest = line[3:].partition(" ")
            rules.setdefault(chain, []).append(rest)
    return rules


def jumps(rules: dict[str, list[str]], chain: str) -> list[str]:
    """The KUBE-SEP chains a KUBE-SVC chain jumps to, in order."""
    found = []
    for rule in rules.get(chain, []):
        words = rule.split()
        if "-j" in words[:-1] and words[words.index("-j") + 1].startswith("KUBE-SEP-"):
            found.append(words[words.index("-j") + 1])
    return found


def dnat_target(rules: dict[str, list[str]], chain: str) -> str | None:
    """The address a KUBE-SEP chain rewrites the destination to ("10.244.2.2:80")."""
    for rule in rules.get(chain, []):
        words = rule.split()
        if "--to-destination" in words[:-1]:
            return words[words.index("--to-destination") + 1]
    return None


def endpoint_targets(rules: dict[str, list[str]], chain: str) -> list[str]:
    """The addresses a KUBE-SVC chain's KUBE-SEP chains rewrite to, sorted."""
    return sorted(t for t in (dnat_target(rules, s) for s in jumps(rules, chain)) if t)


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "none"


def endpoint_addresses(endpoints: dict | None) -> list[str]:
    """The ready "IP:PORT"s of an Endpoints object, sorted."""
    found = []
    for subset in (endpoints or {}).get("subsets") or []:
        for port in subset.get("ports") or []:
            found += [f"{a['ip']}:{port['port']}" for a in subset.get("addresses") or []]
    return sorted(found)


def service_problems(svc: dict | None, endpoints: dict | None, pods: list[dict],
                     saves: dict[str, str]) -> list[str]:
    """What keeps test-svc from load-balancing over web-1, web-2 and web-3: its selector
    (against the pods' labels), its Endpoints object, and on each worker (`saves`: node ->
    `iptables-save -t nat`) the KUBE-SVC chain's jumps and their KUBE-SEP chains' DNAT."""
    if svc is None:
        return [f"there is no Service {SERVICE}: run the lesson's cell that creates it "
                "(`kubectl apply -f /root/test-svc.yaml`)"]
    selector = svc.get("spec", {}).get("selector") or {}
    by_name = {p["metadata"]["name"]: p for p in pods}
    labels = {n: p["metadata"].get("labels") or {} for n, p in by_name.items()}
    chosen = sorted(n for n, have in labels.items()
                    if selector and all(have.get(k) == v for k, v in selector.items()))
    webs = sorted(WEB_PODS)
    if not selector:
        return [f"{SERVICE} has no selector: without one Kubernetes fills in no endpoints "
                "(`kubectl get service test-svc -o yaml` shows its spec); give it one that "
                "matches the web pods, app=lab-web"]
    if not chosen:
        return [f"{SERVICE} selects pods labelled {_labels(selector)}, and no pod has all of "
                f"these labels (web-1's are {_labels(labels.get('web-1', {}))}): so its "
                "Endpoints object lists no address, and kube-proxy has no KUBE-SVC chain to "
                "send a connection to (it rejects them instead: `k8s-lab exec kube-node-2 "
                "iptables-save -t filter | grep test-svc`). Make the selector and the web pods' "
                "labels agree"]
    problems = []
    missing = [n for n in webs if n not in chosen]
    extra = [n for n in chosen if n not in WEB_PODS]
    if missing:
        problems.append(
            f"{SERVICE}'s selector {_labels(selector)} leaves out {_lab.names(missing)} "
            f"(labels {'; '.join(f'{n}: {_labels(labels.get(n, {}))}' for n in missing)}): "
            f"it picks only {_lab.names(chosen)}")
    if extra:
        problems.append(f"{SERVICE}'s selector {_labels(selector)} also picks "
                        f"{_lab.names(extra)}, which is no web server: connections sent "
                        "there would be refused")
    if problems:
        return problems
    port = next(iter(svc["spec"].get("ports") or []), {})
    want = sorted(f"{(by_name[n].get('status') or {}).get('podIP')}:80" for n in webs)
    have = endpoint_addresses(endpoints)
    if have != want:
        return [f"{SERVICE}'s Endpoints object lists {_lab.names(have)}, not the web pods' "
                f"{_lab.names(want)}: the endpoints controller has not caught up yet (or a "
                "pod is not ready: `kubectl get pods -o wide`); run the check again in a few "
                "seconds"]
    spn = port_name(NAMESPACE, SERVICE, port.get("name", ""))
    chain = svc_chain(spn, port.get("protocol", "TCP"))
    for node in WORKERS:
        rules = chain_rules(saves.get(node, ""))
        seps = jumps(rules, chain)
        targets = endpoint_targets(rules, chain)
        if len(seps) != len(have):
            problems.append(
                f"your Service has {len(have)} endpoints but {node}'s {chain} jumps to "
                f"{len(seps)}: kube-proxy on {node} has not rewritten its rules yet; run the "
                "check again in a second or two")
        elif targets != have:
            problems.append(
                f"{node}'s {chain} sends connections to {_lab.names(targets)}, not to the "
                f"Endpoints object's {_lab.names(have)}")
    return problems


# --- the imperative shell: ask the lab --------------------------------------------------------


def check_no_endpoints(lab: Lab) -> list[str]:
    not_up = _lab.cluster_not_up(lab, NO_K8S, NODES)
    if not_up:
        return [not_up]
    pods = _lab.kube_json(lab, "kubectl get pods -o json")
    if pods is None:
        return ["kubectl cannot reach the cluster: is it up (`k8s-lab status`; "
                "`k8s-lab up` starts it)?"]
    missing = [n for n in WEB_PODS if n not in {p["metadata"]["name"] for p in pods["items"]}]
    if missing:
        return [f"there is no pod {_lab.names(missing)}: run the lesson's cells that create "
                "the web pods (`kubectl apply -f /root/pods-12.yaml`, `/root/more-12.yaml`)"]
    svc = _lab.kube_json(lab, f"kubectl get service {SERVICE} -o json")
    endpoints = _lab.kube_json(lab, f"kubectl get endpoints {SERVICE} -o json")
    saves = {node: lab.run(f"k8s-lab exec {node} iptables-save -t nat", timeout=30).stdout
             for node in WORKERS}
    problems = service_problems(svc, endpoints, pods["items"], saves)
    if problems:
        return problems
    ask = (f"kubectl exec {CLIENT[0]} -- curl -s -m 3 -o /dev/null -w '%{{http_code}}' "
           f"http://{CLUSTER_IP}/")
    code = lab.run(ask, timeout=30).stdout.strip()
    if code != "200":
        return [f"the Service and the rules look right, but the client gets no page from "
                f"{CLUSTER_IP} (HTTP code {code or 'none'}): try `kubectl exec client -- curl "
                f"-v -m 3 http://{CLUSTER_IP}/`"]
    return []


EXERCISES = [
    Exercise(
        id="lesson12/no-endpoints",
        title="A Service with nobody behind it",
        lesson="12-services-dns.ipynb",
        task=("The cell above broke something on purpose: test-svc no longer answers "
              "(`kubectl exec client -- curl -s -m 3 http://10.107.169.79/` gets nothing), "
              "though web-1, web-2 and web-3 are running and ready. Make the Service "
              "load-balance over the three web pods again."),
        check=check_no_endpoints,
        hints=(
            "Ask the cluster what is behind the Service: `kubectl get endpoints test-svc`. "
            "An empty ENDPOINTS column means no pod was chosen.",
            "Which pods does the Service choose? `kubectl get service test-svc -o wide` shows "
            "its SELECTOR; `kubectl get pods --show-labels` shows what the pods carry.",
            "Either the selector or the pods must change: `kubectl set selector service "
            "test-svc KEY=VALUE` gives the Service a whole new selector; `kubectl label pod "
            "NAME KEY=VALUE` gives a pod one more label. (`kubectl apply` of the lesson's file "
            "would not do: it keeps a selector key it never wrote.)",
        ),
        solution=("kubectl set selector service test-svc app=lab-web\n"
                  "# the endpoints controller, then each node's kube-proxy, follow within a "
                  "second or two\n"
                  "sleep 3\n"
                  "kubectl get endpoints test-svc -o custom-columns=NAME:.metadata.name,"
                  "ENDPOINTS:.subsets[0].addresses[*].ip\n"),
        setup=SETUP,
        breaks=BREAKS,
    ),
]
