"""labkit.draw: DOT from recorded snapshots (golden files recorded before the split into
passes); determinism; SVG through the graphviz package and its errors."""

import json
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from labkit.draw import svg as svg_module
from labkit.draw.diagram import Diagram
from labkit.draw.dot import to_dot
from labkit.draw.highlight import highlight
from labkit.draw.svg import DrawFailed, GraphvizMissing, to_svg
from labkit.errors import UsageError
from labkit.model.build import from_raw
from labkit.model.diff import diff, steady
from labkit.model.topology import Topology, from_json
from labkit.model.trace import Packet, parse_traffic, walk

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
ALL = sorted(p.stem for p in SNAPSHOTS.glob("*.json"))


def load(name: str) -> Topology:
    return from_raw(json.loads((SNAPSHOTS / f"{name}.json").read_text()))


@pytest.fixture(scope="module")
def dot_program():
    if shutil.which("dot") is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz's dot is required in CI (apt-get install graphviz)")
        pytest.skip("Graphviz's dot is not installed (set CI=1 to make this a failure)")


def node_ids(dot: str) -> set[str]:
    return set(re.findall(r'^\s*"([^"]+)" \[', dot, re.M))


@pytest.mark.parametrize("name", ALL)
def test_dot_is_deterministic(name):
    topo = load(name)
    dot = to_dot(topo)
    assert dot == to_dot(load(name))
    assert dot == to_dot(from_json(topo.to_json()))  # the JSON form draws the same


@pytest.mark.parametrize("name", ALL)
def test_svg_is_byte_identical(name, dot_program):
    dot = to_dot(load(name))
    svg = to_svg(dot)
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    assert to_svg(dot) == svg


def test_seed_drawing_has_the_lessons_shapes():
    dot = to_dot(load("seed"))
    ids = node_ids(dot)
    # Node ids come from stable names: the docker0 network, not random veth names.
    assert {"if:lab:net:bridge", "if:busybox1:eth0", "if:busybox2:eth0",
            "if:lab:veth-to:busybox1:eth0", "if:lab:veth-to:busybox2:eth0"} <= ids
    assert not any(re.search(r"veth[0-9a-f]{7}", i) for i in ids)
    assert 'subgraph "cluster_ns:lab"' in dot and 'subgraph "cluster_ns:busybox1"' in dot
    # veth pair: one double-headed edge; bridge port: bridge to its port, with learned MAC.
    assert '"if:lab:veth-to:busybox1:eth0" -> "if:busybox1:eth0" [dir=both' in dot
    assert re.search(r'"if:lab:net:bridge" -> "if:lab:veth-to:busybox1:eth0" '
                     r'\[dir=none.*label="02:42:ac:11:00:02"', dot)
    assert '"legend"' in dot
    assert "lo" not in {i.split(":")[-1] for i in ids}  # loopback hidden by default


def test_published_port_edge_and_no_dns_noise():
    dot = to_dot(load("published_port"))
    assert re.search(r'"port:tcp::8080:172\.17\.0\.4:80" -> "if:web:eth0" \[label=":80"', dot)
    assert "127.0.0.11" not in dot  # docker's embedded-DNS DNAT leads nowhere drawable
    assert "172.17.0.4/32" not in dot  # the per-port hairpin MASQUERADE is not drawn alone


def test_diff_highlights_added_and_fades_removed():
    before, after = load("seed"), load("published_port")
    dot = to_dot(after, diff=diff(before, after))
    web = dot.split('subgraph "cluster_ns:web"')[1].split("}")[0]
    assert 'color="#d5006d"' in web  # the new namespace is highlighted
    # busybox1's old lab-side veth is gone: drawn faded (dashed, grey), id kept unique.
    old = before.namespace("busybox1").interface("eth0").peer.interface
    line = next(ln for ln in dot.splitlines() if f"<{old}<br/>" in ln)
    assert 'style="filled,dashed"' in line and "#a0a0a0" in line
    assert len(node_ids(dot)) == len(re.findall(r'^\s*"[^"]+" \[', dot, re.M))
    back = to_dot(before, diff=diff(after, before))
    web_removed = back.split('subgraph "cluster_ns:web"')[1].split("}")[0]
    assert 'style="rounded,dashed"' in web_removed


def test_focus_draws_only_some_namespaces():
    topo = load("twenty")
    dot = to_dot(topo, focus=["c2", "web"])
    clusters = re.findall(r'subgraph "cluster_ns:([^"]+)"', dot)
    assert clusters == ["lab", "c2", "web"]  # the lab box frames what is inside it
    assert '"if:lab:net:bridge"' not in dot  # lab not in focus: its devices are not drawn
    assert '"stub:lab:' in dot  # c2's veth leads to a stub naming the lab's end
    with_lab = to_dot(topo, focus=["lab", "c2"])
    assert "+20 veth(s) to namespaces not in focus" in with_lab
    with pytest.raises(UsageError, match=r"unknown namespace\(s\) \[.nope.\]"):
        to_dot(topo, focus=["nope"])


def test_twenty_containers_stack_left_to_right(dot_program):
    topo = load("twenty")
    dot = to_dot(topo)
    assert "rankdir=LR" in dot and "rankdir=TB" in to_dot(load("seed"))
    svg = to_svg(dot)
    width, height = (float(x) for x in re.search(r'width="(\d+)pt" height="(\d+)pt"',
                                                  svg).groups())
    assert width < 1400  # fits a notebook's width; height grows instead


def test_warnings_are_drawn_in_red():
    dot = to_dot(load("lost_peer"))
    assert '"stub:lost:lab:vlost"' in dot and '"warnings" [shape=note' in dot
    assert "cannot see" in dot


def test_process_and_none_namespaces():
    dot = to_dot(load("process_netns"))
    assert re.search(r"<b>sleep \(pid \d+\)</b>", dot)
    dot = to_dot(load("host_and_none"))
    assert '"if:nonet:lo"' in dot  # an otherwise empty box shows its lo
    assert "also hostnet" not in dot  # the lab box does not list host-network containers


def test_diagram_mimebundle(dot_program):
    before, after = load("seed"), load("published_port")
    d = Diagram(after, diff=diff(before, after))
    bundle = d._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"}
    assert "<svg" in bundle["image/svg+xml"]
    assert bundle["text/plain"] == diff(before, after).summary()
    assert Diagram(after).text() == after.summary()
    unchanged = Diagram(after, diff=diff(after, replace(after)))
    assert unchanged.text() == "no change"


# --- golden DOT: recorded from the code before labkit.draw was split into passes ------------

GOLDEN = SNAPSHOTS / "golden"


def _trace_lesson3(i: int):
    rec = json.loads((SNAPSHOTS / "trace_lesson3.json").read_text())
    topo, t = from_json(rec["topology"]), rec["traces"][i]
    path = walk(topo, Packet(t["source"], t["destination"], t["port"]),
                lambda ns, cmd: t["answers"].get(f"{ns}\t{cmd}", ""), parse_traffic(t["traffic"]))
    return topo, path


def _golden_cases():
    topo, path = _trace_lesson3(2)
    return {
        "seed-to-published_port": lambda: to_dot(load("published_port"),
                                                 diff=diff(load("seed"), load("published_port"))),
        "twenty-focus-lab-c2": lambda: to_dot(load("twenty"), focus=["lab", "c2"]),
        "lost_peer": lambda: to_dot(load("lost_peer")),
        "trace_lesson3-path2": lambda: to_dot(steady(topo), highlight=highlight(path),
                                              legend=False, title="tcp 8080 from outside",
                                              show_loopback=True),
    }


@pytest.mark.parametrize("name", sorted(_golden_cases()))
def test_dot_equals_the_golden_file(name):
    """Diff and NAT nodes, focus with stubs, warnings, a highlighted path with a title: the
    DOT text is the one the lessons' stored SVGs were made from, byte for byte."""
    golden = (GOLDEN / f"{name}.dot").read_text(encoding="utf-8")
    assert _golden_cases()[name]() == golden


def test_dot_text_is_pure():
    """Only svg.py runs a program; the DOT passes import no subprocess and no graphviz."""
    source = (Path(svg_module.__file__).parent / "dot.py").read_text()
    assert not re.search(r"^\s*(import|from) (subprocess|graphviz)\b", source, re.M)


def test_missing_dot_program_says_to_install_graphviz(monkeypatch, tmp_path):
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on it
    with pytest.raises(GraphvizMissing, match="`dot` program is not installed") as got:
        to_svg("digraph { a }")
    assert "apt-get install graphviz" in str(got.value)


def test_dot_errors_and_timeouts_are_lab_errors(monkeypatch, tmp_path, dot_program):
    pytest.importorskip("graphviz")
    with pytest.raises(DrawFailed, match=r"Graphviz's dot failed \(1\): .*syntax error"):
        to_svg("digraph {")
    # A `dot` that never finishes: the drawing fails within the timeout, and it is killed.
    slow = tmp_path / "dot"
    slow.write_text(f"#!/bin/sh\necho $$ > {tmp_path}/pid\nexec sleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with pytest.raises(DrawFailed, match=r"took more than 0.3 s"):
        to_svg("digraph { a }", timeout=0.3)
    pid = int((tmp_path / "pid").read_text())
    assert not Path(f"/proc/{pid}").exists(), "the slow dot outlived the drawing"
