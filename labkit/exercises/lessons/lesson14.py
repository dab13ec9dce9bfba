"""Lesson 14 (Ingress): the Ingress lab-ingress was changed so that its path /svc-2 (host
kubernetes.lab) names a port test-svc-2 does not have, and our small script rendered nginx.conf
again: /svc-2 answers 503. Make it give web-2's page again. The check reads the Ingress, the
Services, their Endpoints and the nginx.conf in pod our-ingress, then asks the NodePort from the
lab host. Needs the Kubernetes lab (`labkit up --k8s`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

NODES = ("kube-master", "kube-node-1", "kube-node-2")
INGRESS, HOST, PATH, SERVICE, POD = "lab-ingress", "kubernetes.lab", "/svc-2", "test-svc-2", "web-2"
#: the NodePort of our-ingress's Service (pinned in the lesson) on kube-node-1's address
URL = "http://10.192.0.3:32222/svc-2"

NO_K8S = ("this lab has no Kubernetes (`kubectl` is not found): lesson 14 needs the Kubernetes "
          "lab. In a terminal: `labkit up --k8s`, then run the lesson from the top")
RERUN = "python3 /root/our-ingress.py lab-ingress"

#: the lesson's cells up to the first run of our script (the outside host is not needed)
SETUP = (
    'k8s-lab up\n'
    'cat > /root/backends.yaml <<"EOF"\n'
    'apiVersion: v1\n'
    'kind: Pod\n'
    'metadata:\n'
    '  name: web-1\n'
    '  labels:\n'
    '    app: lab-web-1\n'
    'spec:\n'
    '  nodeSelector:\n'
    '    kubernetes.io/hostname: kube-node-1\n'
    '  containers:\n'
    '  - name: lab-web\n'
    '    image: lab-web\n'
    '    imagePullPolicy: Never\n'
    '    # a page that says which pod answered\n'
    '    command: ["sh", "-c", "echo \'web-1 (behind test-svc-1)\' > /var/www/htm'
    'l/index.html && exec nginx -g \'daemon off;\'"]\n'
    '    ports:\n'
    '    - containerPort: 80\n'
    '      name: http\n'
    '---\n'
    'apiVersion: v1\n'
    'kind: Pod\n'
    'metadata:\n'
    '  name: web-2\n'
    '  labels:\n'
    '    app: lab-web-2\n'
    'spec:\n'
    '  nodeSelector:\n'
    '    kubernetes.io/hostname: kube-node-2\n'
    '  containers:\n'
    '  - name: lab-web\n'
    '    image: lab-web\n'
    '    imagePullPolicy: Never\n'
    '    command: ["sh", "-c", "echo \'web-2 (behind test-svc-2)\' > /var/www/htm'
    'l/index.html && exec nginx -g \'daemon off;\'"]\n'
    '    ports:\n'
    '    - containerPort: 80\n'
    '      name: http\n'
    'EOF\n'
    'kubectl apply -f /root/backends.yaml\n'
    'kubectl wait --for=condition=Ready pod/web-1 pod/web-2 --timeout=90s\n'
    'cat > /root/services.yaml <<"EOF"\n'
    'apiVersion: v1\n'
    'kind: Service\n'
    'metadata:\n'
    '  name: test-svc-1\n'
    'spec:\n'
    '  clusterIP: 10.108.0.250\n'
    '  selector:\n'
    '    app: lab-web-1\n'
    '  ports:\n'
    '  - name: http\n'
    '    port: 80\n'
    '    targetPort: http\n'
    '---\n'
    'apiVersion: v1\n'
    'kind: Service\n'
    'metadata:\n'
    '  name: test-svc-2\n'
    'spec:\n'
    '  clusterIP: 10.103.200.191\n'
    '  selector:\n'
    '    app: lab-web-2\n'
    '  ports:\n'
    '  - name: http\n'
    '    port: 80\n'
    '    targetPort: http\n'
    '---\n'
    'apiVersion: v1\n'
    'kind: Service\n'
    'metadata:\n'
    '  name: default-http-backend\n'
    'spec:\n'
    '  clusterIP: 10.98.39.188\n'
    '  selector:\n'
    '    app: default-http-backend\n'
    '  ports:\n'
    '  - name: http\n'
    '    port: 80\n'
    '    targetPort: http\n'
    'EOF\n'
    'kubectl apply -f /root/services.yaml\n'
    'cat > /root/default-backend.yaml <<"EOF"\n'
    'apiVersion: v1\n'
    'kind: Pod\n'
    'metadata:\n'
    '  name: default-http-backend\n'
    '  labels:\n'
    '    app: default-http-backend\n'
    'spec:\n'
    '  nodeSelector:\n'
    '    kubernetes.io/hostname: kube-node-1\n'
    '  containers:\n'
    '  - name: lab-web\n'
    '    image: lab-web\n'
    '    imagePullPolicy: Never\n'
    '    # nginx with one server: 404 on every path but /healthz\n'
    '    command:\n'
    '    - sh\n'
    '    - -c\n'
    '    - |\n'
    "      cat > /etc/nginx/sites-enabled/default <<'CONF'\n"
    '      server {\n'
    '        listen 80 default_server;\n'
    '        location / { return 404 "default backend - 404\\n"; }\n'
    '        location = /healthz { return 200 "ok\\n"; }\n'
    '      }\n'
    '      CONF\n'
    "      exec nginx -g 'daemon off;'\n"
    '    ports:\n'
    '    - containerPort: 80\n'
    '      name: http\n'
    'EOF\n'
    'kubectl apply -f /root/default-backend.yaml\n'
    'kubectl wait --for=condition=Ready pod/default-http-backend --timeout=90s\n'
    'cat > /root/our-ingress.yaml <<"EOF"\n'
    'apiVersion: v1\n'
    'kind: Pod\n'
    'metadata:\n'
    '  name: our-ingress\n'
    '  labels:\n'
    '    app: our-ingress\n'
    'spec:\n'
    '  nodeSelector:\n'
    '    kubernetes.io/hostname: kube-node-2\n'
    '  containers:\n'
    '  - name: nginx\n'
    '    image: lab-web\n'
    '    imagePullPolicy: Never\n'
    '    ports:\n'
    '    - containerPort: 80\n'
    '      name: http\n'
    '---\n'
    'apiVersion: v1\n'
    'kind: Service\n'
    'metadata:\n'
    '  name: our-ingress\n'
    'spec:\n'
    '  type: NodePort\n'
    '  clusterIP: 10.108.175.68\n'
    '  selector:\n'
    '    app: our-ingress\n'
    '  ports:\n'
    '  - name: http\n'
    '    port: 80\n'
    '    targetPort: http\n'
    '    nodePort: 32222\n'
    'EOF\n'
    'kubectl apply -f /root/our-ingress.yaml\n'
    'kubectl wait --for=condition=Ready pod/our-ingress --timeout=90s\n'
    'cat > /root/our-ingress.py <<"EOF"\n'
    '#!/usr/bin/env python3\n'
    '"""Our small script, standing in for an ingress controller: read the Ingre'
    'ss and the\n'
    'Endpoints from the API server, write nginx.conf for the nginx in pod our-i'
    'ngress, reload it."""\n'
    'import json\n'
    'import subprocess\n'
    'import sys\n'
    '\n'
    '\n'
    'def get(*what):\n'
    '    out = subprocess.run(["kubectl", "get", *what, "-o", "json"], check=True,\n'
    '                         capture_output=True, text=True).stdout\n'
    '    return json.loads(out)\n'
    '\n'
    '\n'
    'def upstream(backend):\n'
    '    """The upstream\'s name and the pods\' addresses behind a backend (Servi'
    'ce and Endpoints)."""\n'
    '    name, want = backend["service"]["name"], backend["service"]["port"]\n'
    '    svc = next((s for s in services if s["metadata"]["name"] == name), None)\n'
    '    port = next((p for p in (svc or {}).get("spec", {}).get("ports", [])\n'
    '                 if p.get("name") == want.get("name") or p["port"] == want'
    '.get("number")), None)\n'
    '    if port is None:  # no such Service, or no such port in it\n'
    '        return f"{name}:{want.get(\'name\', want.get(\'number\'))}", []\n'
    '    ends = next((e for e in endpoints if e["metadata"]["name"] == name), {})\n'
    '    return f"{name}-{port[\'port\']}", [f\'{a["ip"]}:{p["port"]}\'\n'
    '                                     for s in ends.get("subsets") or []\n'
    '                                     for a in s.get("addresses") or [] for'
    ' p in s["ports"]\n'
    '                                     if p.get("name") == port.get("name")]\n'
    '\n'
    '\n'
    'def location(path, backend, rewrite):\n'
    '    name, servers = upstream(backend)\n'
    '    if not servers:  # as ingress-nginx does for a backend with no endpoint: 503\n'
    '        return f"    location {path} {{ return 503; }}  # {name}: no endpo'
    'ints\\n"\n'
    '    upstreams[name] = f"  upstream {name} {{ {\' \'.join(f\'server {s};\' for '
    's in servers)} }}\\n"\n'
    '    return f"    location {path} {{ proxy_pass http://{name}{rewrite}; }}\\n"\n'
    '\n'
    '\n'
    'ingress = get("ingress", sys.argv[1])\n'
    'services, endpoints = get("services")["items"], get("endpoints")["items"]\n'
    'rewrite = ingress["metadata"].get("annotations", {}).get(\n'
    '    "nginx.ingress.kubernetes.io/rewrite-target", "")\n'
    'upstreams, servers = {}, []\n'
    'default = ingress["spec"].get("defaultBackend")\n'
    'servers.append("  server {\\n    listen 80 default_server;\\n"\n'
    '               + (location("/", default, "") if default else "") + "  }\\n")\n'
    'for rule in ingress["spec"].get("rules", []):\n'
    '    paths = "".join(location(p.get("path", "/"), p["backend"], rewrite)\n'
    '                    for p in rule["http"]["paths"])\n'
    '    if default and all(p.get("path", "/") != "/" for p in rule["http"]["pa'
    'ths"]):\n'
    '        paths += location("/", default, "")  # the rest of this host: the '
    'default backend\n'
    '    servers.append(f"  server {{\\n    listen 80;\\n    server_name {rule[\'h'
    'ost\']};\\n{paths}  }}\\n")\n'
    'conf = ("user www-data;\\npid /run/nginx.pid;\\nworker_processes 1;\\nevents '
    '{}\\nhttp {\\n"\n'
    '        "  log_format lab \'$remote_addr \\"$host\\" \\"$request\\" $status \'\\n'
    '"\n'
    '        "                 \'upstream=$upstream_addr\';\\n"\n'
    '        "  access_log /var/log/nginx/access.log lab;\\n"\n'
    '        + "".join(upstreams.values()) + "".join(servers) + "}\\n")\n'
    'subprocess.run(["kubectl", "exec", "-i", "our-ingress", "--", "sh", "-c",\n'
    '                "cat > /etc/nginx/nginx.conf && nginx -t -q && nginx -s re'
    'load 2>/dev/null"],\n'
    '               input=conf, check=True, text=True)\n'
    'print(conf, end="")\n'
    'EOF\n'
    'cat > /root/ingress.yaml <<"EOF"\n'
    'apiVersion: networking.k8s.io/v1\n'
    'kind: Ingress\n'
    'metadata:\n'
    '  name: lab-ingress\n'
    '  annotations:\n'
    '    nginx.ingress.kubernetes.io/rewrite-target: /\n'
    'spec:\n'
    '  defaultBackend:\n'
    '    service:\n'
    '      name: default-http-backend\n'
    '      port:\n'
    '        name: http\n'
    '  rules:\n'
    '  - host: kubernetes.lab\n'
    '    http:\n'
    '      paths:\n'
    '      - path: /svc-1\n'
    '        pathType: Prefix\n'
    '        backend:\n'
    '          service:\n'
    '            name: test-svc-1\n'
    '            port:\n'
    '              name: http\n'
    '      - path: /svc-2\n'
    '        pathType: Prefix\n'
    '        backend:\n'
    '          service:\n'
    '            name: test-svc-2\n'
    '            port:\n'
    '              name: http\n'
    'EOF\n'
    'kubectl apply -f /root/ingress.yaml\n'
    'kubectl get ingress\n'
    'python3 /root/our-ingress.py lab-ingress > /dev/null\n'
)
BREAKS = (
    '# Break something on purpose: one path of the Ingress leads nowhere now.\n'
    'kubectl patch ingress lab-ingress --type=json -p \'[{"op": "replace", "path'
    '": "/spec/rules/0/http/paths/1/backend/service/port/name", "value": "web"}]\'\n'
    'python3 /root/our-ingress.py lab-ingress > /dev/null\n'
)
SOLUTION = (
    'kubectl patch ingress lab-ingress --type=json -p \'[{"op": "replace", "path'
    '": "/spec/rules/0/http/paths/1/backend/service/port/name", "value": "http"}]\'\n'
    '# nginx follows only when our script runs again\n'
    'python3 /root/our-ingress.py lab-ingress | grep svc-2\n'
)


# --- the functional core: what the Ingress, the Services, Endpoints and nginx.conf say -------


def _items(listing: dict | None) -> dict[str, dict]:
    return {i["metadata"]["name"]: i for i in (listing or {}).get("items") or []}


def backend_of(ingress: dict, host: str, path: str) -> dict | None:
    """The backend of `path` under `host` in the Ingress, or None."""
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        if rule.get("host") == host:
            for p in (rule.get("http") or {}).get("paths") or []:
                if p.get("path", "/") == path:
                    return p.get("backend")
    return None


def _port_words(want: dict) -> str:
    return f"port name {want['name']!r}" if "name" in want else f"port {want.get('number')}"


def endpoint_addresses(endpoints: dict | None, port_name: str | None) -> list[str]:
    """ip:port of every ready address of the Endpoints object for the Service port's name."""
    return sorted(f"{a['ip']}:{p['port']}" for s in (endpoints or {}).get("subsets") or []
                  for a in s.get("addresses") or [] for p in s.get("ports") or []
                  if p.get("name") == port_name)


def location_of(conf: str, server_name: str, path: str) -> str | None:
    """The text of `location PATH { ... }` in the server for `server_name` of nginx.conf."""
    for block in conf.split("  server {")[1:]:
        if f"server_name {server_name};" in block:
            found = re.search(r"location " + re.escape(path) + r" \{(.*?)\}", block)
            return found.group(1).strip() if found else None
    return None


def upstream_servers(conf: str, name: str) -> list[str]:
    found = re.search(r"upstream " + re.escape(name) + r" \{(.*?)\}", conf)
    return sorted(re.findall(r"server (\S+);", found.group(1))) if found else []


def ingress_problems(ingress: dict | None, services: dict | None, endpoints: dict | None,
                     conf: str) -> list[str]:
    """What keeps kubernetes.lab/svc-2 from reaching web-2: the path's backend in the Ingress
    (a Service and a port of it, with endpoints), then the nginx.conf our script rendered."""
    if ingress is None:
        return [f"there is no Ingress {INGRESS}: run the lesson's cell that makes it "
                "(`kubectl apply -f /root/ingress.yaml`)"]
    backend = backend_of(ingress, HOST, PATH)
    if backend is None or "service" not in backend:
        return [f"{INGRESS} has no path {PATH} under host {HOST} any more (`kubectl get ingress "
                f"{INGRESS} -o yaml`): the task keeps it, leading to {SERVICE}"]
    name, want = backend["service"].get("name"), backend["service"].get("port") or {}
    svcs, ends = _items(services), _items(endpoints)
    if name not in svcs:
        return [f"{INGRESS}'s path {PATH} names the Service {name!r}, and there is no Service of "
                f"that name (`kubectl get services`): our script finds no endpoint and renders "
                f"`return 503` for it. The path should lead to {SERVICE}"]
    if name != SERVICE:
        return [f"{INGRESS}'s path {PATH} leads to {name}, not {SERVICE}: the task wants "
                f"{POD}'s page there"]
    ports = (svcs[name].get("spec") or {}).get("ports") or []
    port = next((p for p in ports if ("name" in want and p.get("name") == want["name"])
                 or ("number" in want and p.get("port") == want["number"])), None)
    if port is None:
        have = ", ".join(f"{p.get('name') or '(no name)'} ({p.get('port')})" for p in ports)
        return [f"{INGRESS}'s path {PATH} asks {SERVICE} for the {_port_words(want)}, and "
                f"{SERVICE} has no such port (it has {have}): an Ingress backend's port is "
                "the Service's port, by its name or its number (`port`), not the pod's. Our "
                "script finds no endpoint for it and renders `return 503`"]
    addresses = endpoint_addresses(ends.get(name), port.get("name"))
    if not addresses:
        return [f"{SERVICE}'s Endpoints object lists no address (`kubectl get endpoints "
                f"{SERVICE}`): is {POD} running and ready?"]
    upstream = f"{name}-{port['port']}"
    location = location_of(conf, HOST, PATH)
    if location is None or f"proxy_pass http://{upstream}" not in location \
            or upstream_servers(conf, upstream) != addresses:
        said = f"`location {PATH} {{ {location} }}`" if location else f"no location {PATH}"
        return [f"the Ingress is right now, but the nginx.conf in our-ingress still has {said} "
                f"for {HOST}, not a proxy_pass to {upstream} ({_lab.names(addresses)}): nginx "
                f"knows only what our script last wrote. Run it again: `{RERUN}`"]
    return []


# --- the imperative shell: ask the lab --------------------------------------------------------


def check_wrong_backend(lab: Lab) -> list[str]:
    not_up = _lab.cluster_not_up(lab, NO_K8S, NODES)
    if not_up:
        return [not_up]
    ingress = _lab.kube_json(lab, f"kubectl get ingress {INGRESS} -o json")
    services = _lab.kube_json(lab, "kubectl get services -o json")
    endpoints = _lab.kube_json(lab, "kubectl get endpoints -o json")
    conf = lab.run("kubectl exec our-ingress -- cat /etc/nginx/nginx.conf", timeout=30).stdout
    problems = ingress_problems(ingress, services, endpoints, conf)
    if problems:
        return problems
    ask = f"curl -s -m 5 -w ' %{{http_code}}' -H 'Host: {HOST}' {URL}"
    answer = lab.run(ask, timeout=30).stdout.strip()
    if not answer.endswith(" 200") or POD not in answer:
        return [f"the Ingress and nginx.conf look right, but the lab host gets {answer!r} from "
                f"{HOST}{PATH}, not {POD}'s page: try `curl -v -H 'Host: {HOST}' {URL}`"]
    return []


EXERCISES = [
    Exercise(
        id="lesson14/wrong-backend",
        title="The wrong backend",
        lesson="14-ingress.ipynb",
        task=("The cell above broke something on purpose: `curl -H 'Host: kubernetes.lab' "
              "http://10.192.0.3:32222/svc-2` in the lab host now answers `503 Service "
              "Temporarily Unavailable`, though web-2 is running and ready and /svc-1 still "
              "works. Make /svc-2 give web-2's page again through the Ingress (keep the path "
              "and test-svc-2 as they are)."),
        check=check_wrong_backend,
        hints=(
            "nginx answers 503 itself: look at what our script wrote for /svc-2 "
            "(`kubectl exec our-ingress -- cat /etc/nginx/nginx.conf`; a drawn cell's picture "
            "lists it too, `/svc-2 → 503` in our-ingress's box). The script's comment names "
            "the backend it could not resolve.",
            "Compare the Ingress's backend for /svc-2 (`kubectl get ingress lab-ingress -o "
            "yaml`) with test-svc-2's ports (`kubectl get service test-svc-2 -o yaml`): "
            "the backend's port must be one of the Service's, by name or number.",
            "`kubectl patch ingress lab-ingress --type=json -p '[{\"op\": \"replace\", "
            "\"path\": \"/spec/rules/0/http/paths/1/backend/service/port/name\", "
            "\"value\": ...}]'` changes it. Then nginx must hear of it: run our script "
            "again.",
        ),
        solution=SOLUTION,
        setup=SETUP,
        breaks=BREAKS,
    ),
]
