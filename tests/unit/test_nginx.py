"""An nginx proxy's routes (issue 16: "the ingress proxy's host/path routes to Services"), on a
raw scan recorded in the Kubernetes lab (tests/snapshots/k8s_ingress.json: lesson 14 up to the
first run of our small script: web-1, web-2 and default-http-backend behind test-svc-1,
test-svc-2 and default-http-backend, the pod our-ingress on kube-node-2 with the nginx.conf the
script rendered from the Ingress lab-ingress; `python3 -m labkit.probe --raw`).

What the probe kept (probe/nginx.py: only a config with a location of its own), the routes
the model reads from it and the Services it names (model/nginx.py), what a diff says, and the
lines the drawing adds to the pod's box (draw/nginx.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from labkit.draw.dot import to_dot
from labkit.draw.style import ADDED, REMOVED
from labkit.model.build import from_raw
from labkit.model.diff import diff
from labkit.model.nginx import HttpRoute, NginxSyntaxError, parse, resolve, routes_from_conf
from labkit.model.topology import Topology, from_json
from labkit.probe.nginx import _LOCATION, conf_path

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"


def raw() -> dict:
    return json.loads((SNAPSHOTS / "k8s_ingress.json").read_text())


def conf() -> str:
    """The nginx.conf our script rendered, as the probe read it from the pod."""
    return next(c["nginx"]["text"] for e in raw()["namespaces"] for c in e["containers"]
                if "nginx" in c)


def routes(t: Topology) -> list[tuple[str | None, str, str]]:
    return [(r.host, r.path, r.target) for r in t.http_routes]


def test_the_probe_kept_our_ingress_config_and_no_web_server_s():
    """Only our-ingress's nginx: web-1, web-2 and default-http-backend run Debian's stock
    nginx.conf (no location of its own), which the scan leaves out."""
    kept = [(c["name"], c["nginx"]["path"]) for e in raw()["namespaces"]
            for c in e["containers"] if "nginx" in c]
    assert len(kept) == 1 and kept[0][1] == "/etc/nginx/nginx.conf"
    assert kept[0][0].startswith("k8s_nginx_our-ingress_default_")
    assert "upstream test-svc-1-80" in conf()


def test_the_routes_are_the_ingress_s_rules_named_by_their_services():
    t = from_raw(raw())
    assert routes(t) == [
        ("kubernetes.lab", "/svc-1", "pods of test-svc-1"),
        ("kubernetes.lab", "/svc-2", "pods of test-svc-2"),
        ("kubernetes.lab", "/", "pods of default-http-backend"),
        (None, "/", "pods of default-http-backend"),
    ]
    one = t.http_routes[0]
    assert (one.namespace, one.upstream) == ("our-ingress", "test-svc-1-80")
    # the pod's address, which kube-proxy's test-svc-1 sends to as well
    svc = next(s for s in t.services if s.name == "default/test-svc-1:http")
    assert one.servers == tuple(b.address for b in svc.backends)
    assert [r.default for r in t.http_routes] == [False, False, False, True]
    assert ("http route our-ingress: kubernetes.lab /svc-1 → pods of test-svc-1 "
            "(test-svc-1-80: 10.244.2.2:80)") in t.summary()


def test_routes_survive_the_snapshot_s_json():
    t = from_raw(raw())
    assert from_json(t.to_json()) == t
    assert '"http_routes"' not in Topology().to_json()  # a lab without one keeps its bytes


def test_a_route_no_service_matches_names_its_servers_and_a_return_its_status():
    """Our script rendered before a pod moved (its upstream still lists the old address),
    and a backend with no endpoints (`return 503`)."""
    text = ("http { upstream a-80 { server 10.244.9.9:80; }\n"
            "server { listen 80; server_name x.lab;\n"
            "  location /a { proxy_pass http://a-80/; }\n"
            "  location = /b { return 503; }  # b:nope: no endpoints\n"
            "  location /files { root /var/www; } } }\n")
    rs = resolve(routes_from_conf("proxy", text), from_raw(raw()).services)
    assert [(r.path, r.target) for r in rs] == [("/a", "10.244.9.9:80"), ("= /b", "503")]


@pytest.mark.parametrize("text, words", [
    ("http { server { location / { return 404; }", "ends inside a block"),
    ("http { server { listen 80 } }", "no `;`"),
    ("}", "closes nothing"),
    ('server_name "kubernetes.lab;', "unclosed quote"),
])
def test_a_config_that_does_not_parse_says_why(text, words):
    with pytest.raises(NginxSyntaxError, match=re.escape(words)):
        parse(text)


def test_a_broken_config_is_a_warning_and_the_rest_is_drawn():
    r = raw()
    for e in r["namespaces"]:
        for c in e["containers"]:
            if "nginx" in c:
                c["nginx"]["text"] = c["nginx"]["text"].replace("}\n", "", 1)
    t = from_raw(r)
    assert t.http_routes == ()
    assert any("nginx's /etc/nginx/nginx.conf" in w.message and "the file ends inside" in w.message
               and "its routes are not drawn" in w.message for w in t.warnings)
    assert t.namespace("our-ingress") is not None


def test_comments_quotes_and_variables_are_nginx_s():
    """A quoted `;` is a word, `#` starts a comment only where a token would, `${x}` is part
    of a word."""
    tree = parse('a "b c" \'d\'; # e;\nf { g ""; h ";" "}" ${host}y a#b "q\\"r"; }')
    assert tree == [("a", ["b c", "d"], None),
                    ("f", [], [("g", ['""'], None), ("h", [";", "}", "${host}y", "a#b", 'q\\"r'],
                                                     None)])]


@pytest.mark.parametrize("argv, path", [
    (["nginx", "-g", "daemon off;"], "/etc/nginx/nginx.conf"),
    (["nginx", "-c", "/tmp/lab.conf"], "/tmp/lab.conf"),
    (["nginx", "-c", "lab.conf"], "/etc/nginx/lab.conf"),
])
def test_the_config_file_nginx_was_started_with(argv, path):
    assert conf_path(argv) == path


def sent_elsewhere(t: Topology) -> Topology:
    """/svc-2 now answers 503 (lesson 14's exercise: the Ingress names a port test-svc-2
    does not have), /svc-1 is gone."""
    out = []
    for r in t.http_routes:
        if r.path == "/svc-2":
            out.append(HttpRoute(r.namespace, r.host, r.path, status="503"))
        elif r.path != "/svc-1":
            out.append(r)
    return replace(t, http_routes=tuple(out))


def test_a_diff_names_the_route_that_now_sends_elsewhere():
    t = from_raw(raw())
    lines = diff(t, sent_elsewhere(t)).lines()
    assert lines == [
        "- http route our-ingress: kubernetes.lab /svc-1 → pods of test-svc-1 "
        "(test-svc-1-80: 10.244.2.2:80)",
        "~ http route our-ingress: kubernetes.lab /svc-2 → 503, was → pods of test-svc-2"]


def pod_box(dot: str) -> str:
    return dot.split('subgraph "cluster_ns:our-ingress"')[1].split("\n    }")[0]


def test_the_pod_s_box_lists_the_routes_by_host():
    box = pod_box(to_dot(from_raw(raw())))
    text = re.sub(r"<[^>]+>", "|", box)
    lines = [x for x in text.split("|") if x.strip()]
    start = lines.index("nginx.conf routes")
    assert lines[start:start + 10] == [
        "nginx.conf routes", "kubernetes.lab",
        "/svc-1 → pods of", "test-svc-1", "/svc-2 → pods of", "test-svc-2",  # the pods' column
        "/ → pods of default-", "http-backend",
        "any other host", "/ → pods of default-"]


def test_a_cell_that_changed_a_route_highlights_it_and_strikes_the_one_it_removed():
    t = from_raw(raw())
    after = sent_elsewhere(t)
    box = pod_box(to_dot(after, diff(t, after)))
    assert f'<font color="{ADDED}"><b>/svc-2 → 503</b></font>' in box
    assert f'<font color="{REMOVED}"><s>/svc-1 → pods of</s></font>' in box
    assert box.count(f'color="{ADDED}"') == 1  # the routes nginx still has, unchanged


def test_no_route_no_line():
    t = from_raw(raw())
    assert "nginx.conf routes" not in to_dot(replace(t, http_routes=()))


def test_every_location_of_every_server_is_a_route_of_its_own():
    """Modifiers, nested locations, two servers of one name on two ports: none hides
    another; the port's first server is its default when none is marked."""
    text = ("http { upstream up { server 10.244.2.2 weight=2; server 10.244.2.3:80 down; }\n"
            "server { listen 80; server_name a.lab; location = / { return 404; }\n"
            "  location / { proxy_pass http://up; location /in { return 401; } } }\n"
            "server { listen 10.0.0.1:8443; server_name a.lab;\n"
            "  location ~ ^/api { proxy_pass http://10.244.2.2:8080; } } }\n")
    rs = routes_from_conf("proxy", text)
    assert [(r.listen, r.host, r.path, r.default, r.target) for r in rs] == [
        ("80", "a.lab", "/in", True, "401"),
        ("80", "a.lab", "= /", True, "404"),
        ("80", "a.lab", "/", True, "10.244.2.2:80, 10.244.2.3:80"),
        ("8443", "a.lab", "~ ^/api", True, "10.244.2.2:8080")]
    assert len({r.key for r in rs}) == 4
    assert rs[3].hosts == "a.lab, any other host (port 8443)"


def test_a_variable_is_shown_as_written_and_a_return_wins_over_proxy_pass():
    rs = routes_from_conf("proxy", "server { location / { proxy_pass http://$backend; }\n"
                                   "location /x { proxy_pass http://10.1.1.1; return 418; } }")
    assert [(r.path, r.servers, r.target) for r in rs] == [
        ("/x", ("10.1.1.1:80",), "418"), ("/", (), "http://$backend")]


def test_two_services_with_the_same_endpoints_are_both_named():
    t = from_raw(raw())
    svc = next(s for s in t.services if s.name == "default/test-svc-1:http")
    alias = replace(svc, name="default/a-alias")
    r = resolve(t.http_routes, (*t.services, alias))
    assert r[0].target == "pods of a-alias, test-svc-1"


def test_a_route_whose_servers_alone_changed_says_what_they_were():
    t = from_raw(raw())
    moved = replace(t, http_routes=tuple(
        replace(r, servers=("10.244.2.9:80",)) if r.path == "/svc-1" else r
        for r in t.http_routes))
    again = replace(moved, http_routes=resolve(moved.http_routes, ()))
    before = replace(t, http_routes=resolve(t.http_routes, ()))
    assert diff(before, again).lines() == [
        "~ http route our-ingress: kubernetes.lab /svc-1 → 10.244.2.9:80, was → 10.244.2.2:80"]
    same = replace(before, http_routes=tuple(
        replace(r, upstream="other") if r.path == "/svc-1" else r for r in before.http_routes))
    assert diff(before, same).lines() == [
        "~ http route our-ingress: kubernetes.lab /svc-1 → 10.244.2.2:80, upstream was "
        "test-svc-1-80"]


@pytest.mark.parametrize("text, kept", [
    ("http { server { location / { return 200; } } }", True),  # one line
    ("server {\n  location /a { proxy_pass http://up; }\n}", True),
    ("# location / { proxy_pass http://up; }\ninclude /etc/nginx/sites-enabled/*;", False),
    ("http { include /etc/nginx/conf.d/*.conf; }", False),  # Debian's stock file
])
def test_the_probe_keeps_a_config_with_a_location_of_its_own(text, kept):
    assert bool(_LOCATION.search(text)) is kept
