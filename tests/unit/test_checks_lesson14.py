"""Lesson 14's pure parts: the check's verdict on plain data (the Ingress, the Services, their
Endpoints, the nginx.conf our small script rendered); the shell around them is replayed from a
real lab in test_checks_replay.py (tests/snapshots/checks/lesson14-wrong-backend.json)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from labkit.exercises.lessons import lesson14 as l14

RECORDED = Path(__file__).resolve().parents[1] / "snapshots" / "checks"


def _backend(svc="test-svc-2", **port):
    return {"service": {"name": svc, "port": port or {"name": "http"}}}


def _ingress(backend=None):
    return {"spec": {"rules": [{"host": "kubernetes.lab", "http": {"paths": [
        {"path": "/svc-1", "pathType": "Prefix", "backend": _backend("test-svc-1")},
        {"path": "/svc-2", "pathType": "Prefix", "backend": backend or _backend()}]}}]}}


SERVICES = {"items": [{"metadata": {"name": n}, "spec": {"ports": [{"name": "http", "port": 80,
                                                                   "targetPort": "http"}]}}
                      for n in ("test-svc-1", "test-svc-2")]}
ENDPOINTS = {"items": [
    {"metadata": {"name": "test-svc-1"},
     "subsets": [{"addresses": [{"ip": "10.244.2.2"}], "ports": [{"name": "http", "port": 80}]}]},
    {"metadata": {"name": "test-svc-2"},
     "subsets": [{"addresses": [{"ip": "10.244.3.2"}], "ports": [{"name": "http", "port": 80}]}]}]}
CONF = """http {
  upstream test-svc-1-80 { server 10.244.2.2:80; }
  upstream test-svc-2-80 { server 10.244.3.2:80; }
  server {
    listen 80 default_server;
  }
  server {
    listen 80;
    server_name kubernetes.lab;
    location /svc-1 { proxy_pass http://test-svc-1-80/; }
    location /svc-2 { proxy_pass http://test-svc-2-80/; }
  }
}
"""
STALE = CONF.replace("location /svc-2 { proxy_pass http://test-svc-2-80/; }",
                     "location /svc-2 { return 503; }  # test-svc-2:web: no endpoints")


def test_the_lessons_state_has_no_problem():
    assert l14.location_of(CONF, "kubernetes.lab", "/svc-2") == "proxy_pass http://test-svc-2-80/;"
    assert l14.upstream_servers(CONF, "test-svc-2-80") == ["10.244.3.2:80"]
    assert l14.ingress_problems(_ingress(), SERVICES, ENDPOINTS, CONF) == []
    assert l14.ingress_problems(_ingress(_backend(number=80)), SERVICES, ENDPOINTS, CONF) == []


def test_a_port_the_service_lacks_is_explained():
    (problem,) = l14.ingress_problems(_ingress(_backend(name="web")), SERVICES, ENDPOINTS, STALE)
    assert "asks test-svc-2 for the port name 'web'" in problem
    assert "has no such port (it has http (80))" in problem and "not the pod's" in problem
    (problem,) = l14.ingress_problems(_ingress(_backend(number=8080)), SERVICES, ENDPOINTS, STALE)
    assert "for the port 8080" in problem


def test_a_missing_service_or_path_is_named():
    (problem,) = l14.ingress_problems(_ingress(_backend("test-svc-3")), SERVICES, ENDPOINTS, CONF)
    assert "names the Service 'test-svc-3', and there is no Service of that name" in problem
    (problem,) = l14.ingress_problems(_ingress(_backend("test-svc-1")), SERVICES, ENDPOINTS, CONF)
    assert "leads to test-svc-1, not test-svc-2" in problem
    no_path = _ingress()
    no_path["spec"]["rules"][0]["http"]["paths"].pop()
    (problem,) = l14.ingress_problems(no_path, SERVICES, ENDPOINTS, CONF)
    assert "has no path /svc-2 under host kubernetes.lab" in problem
    (problem,) = l14.ingress_problems(None, SERVICES, ENDPOINTS, CONF)
    assert problem.startswith("there is no Ingress lab-ingress")


def test_no_endpoint_is_named():
    ends = copy.deepcopy(ENDPOINTS)
    del ends["items"][1]["subsets"]
    (problem,) = l14.ingress_problems(_ingress(), SERVICES, ends, CONF)
    assert "test-svc-2's Endpoints object lists no address" in problem


def test_a_fixed_ingress_with_an_old_nginx_conf_asks_for_the_script():
    (problem,) = l14.ingress_problems(_ingress(), SERVICES, ENDPOINTS, STALE)
    assert "still has `location /svc-2 { return 503; }`" in problem
    assert problem.endswith("Run it again: `python3 /root/our-ingress.py lab-ingress`")


def test_the_recorded_solved_state_passes_on_its_own_data():
    path = RECORDED / "lesson14-wrong-backend.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    solved = next(s for s in data["states"] if s["state"] == "solved")
    answers = {a["command"]: a["stdout"] for a in solved["answers"]}
    ingress = json.loads(answers["kubectl get ingress lab-ingress -o json"])
    services = json.loads(answers["kubectl get services -o json"])
    endpoints = json.loads(answers["kubectl get endpoints -o json"])
    conf = answers["kubectl exec our-ingress -- cat /etc/nginx/nginx.conf"]
    assert l14.ingress_problems(ingress, services, endpoints, conf) == []
    assert l14.upstream_servers(conf, "test-svc-2-80") == ["10.244.3.2:80"]
