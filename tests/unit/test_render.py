"""labkit.draw: DOT from recorded snapshots and the lessons' recordings (golden files,
re-recorded on purpose when the picture changes); determinism; what the picture shows (ifindex,
routes, renames, the uplink); the SVG's fit to the notebook; Graphviz and its errors."""

import json
import os
import re
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from recorded import states_around

from labkit.authoring.sanitize import read_sanitize_file, sanitized
from labkit.draw import svg as svg_module
from labkit.draw.diagram import Diagram
from labkit.draw.dot import to_dot
from labkit.draw.highlight import highlight
from labkit.draw.svg import MIN_WIDTH_PT, DrawFailed, GraphvizMissing, fit_width, to_svg
from labkit.errors import UsageError
from labkit.model.build import from_raw
from labkit.model.diff import diff, steady
from labkit.model.topology import Topology, from_json
from labkit.model.trace import Packet, parse_traffic, walk

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
ALL = sorted(p.stem for p in SNAPSHOTS.glob("*.json"))
RECORDINGS = Path(__file__).resolve().parents[2] / "notebooks" / "recordings"
SANITIZE = Path(__file__).resolve().parents[1] / "nbval-sanitize.cfg"


def load(name: str) -> Topology:
    return from_raw(json.loads((SNAPSHOTS / f"{name}.json").read_text()))


def recorded(lesson: str) -> dict[str, Topology]:
    """A lesson's recorded states, steady as the cells draw them (t1, t2, ...)."""
    rec = json.loads((RECORDINGS / f"{lesson}.json").read_text())
    return {k: steady(from_json(v)) for k, v in rec["topologies"].items()}


def cluster(dot: str, name: str) -> str:
    """The DOT text of one namespace's box (up to its first nested closing brace)."""
    return dot.split(f'subgraph "cluster_ns:{name}"')[1].split("\n    }")[0]


def drawn_size(svg: str) -> tuple[float, float]:
    """The drawing's own width and height in points (Graphviz's white background)."""
    m = re.search(r'<polygon fill="white" stroke="transparent" points="-4,4 -4,-([\d.]+) '
                  r'([\d.]+),', svg)
    return float(m.group(2)) + 4, float(m.group(1))


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
    # The spare `dot` (started ahead, each drawing its own): what a `dot` of its own writes,
    # cluster order included (one `dot` fed several graphs orders them differently).
    alone = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True,
                           check=True).stdout.decode()
    assert svg == fit_width(alone)


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
    header = dot.splitlines()[1]  # the legend: the graph's label, under the drawing
    assert "labelloc=b" in header and "lab host" in header and '"legend"' not in dot
    assert "lo" not in {i.split(":")[-1] for i in ids}  # loopback hidden by default


def test_published_port_edge_and_no_dns_noise():
    dot = to_dot(load("published_port"))
    # To the bridge, then on along its port and the veth (tests/unit/test_nat_path.py).
    assert '"port:tcp::8080:172.17.0.4:80" -> "if:lab:net:bridge" [' in dot
    assert "DNAT via PREROUTING, OUTPUT<br/>→ DOCKER → :80" in dot
    assert "127.0.0.11" not in dot  # docker's embedded-DNS DNAT leads nowhere drawable
    assert "172.17.0.4/32" not in dot  # the per-port hairpin MASQUERADE is not drawn alone


def test_diff_highlights_added_and_fades_removed():
    before, after = load("seed"), load("published_port")
    dot = to_dot(after, diff=diff(before, after))
    web = dot.split('subgraph "cluster_ns:web"')[1].split("}")[0]
    assert 'color="#d5006d"' in web  # the new namespace is highlighted
    # busybox1's old lab-side veth is gone: drawn faded (dashed, grey), id kept unique.
    old = before.namespace("busybox1").interface("eth0").peer.interface
    line = next(ln for ln in dot.splitlines() if f": {old}@if" in ln)
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


def test_namespaces_stack_left_to_right(dot_program):
    """Always stacked (rankdir LR): side by side, three containers were already 1600 pt wide,
    too small to read in a notebook; and one namespace is drawn the same way as two."""
    for name in ("twenty", "seed", "host_and_none", "lost_peer"):
        assert "rankdir=LR" in to_dot(load(name))
    width, _ = drawn_size(to_svg(to_dot(load("twenty"))))
    assert width < 1000  # fits a notebook's width; height grows instead


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


# --- golden DOT: re-recorded on purpose for issue 12 (ifindex, routes, uplink, legend) ----

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
    DOT text, byte for byte (re-record on purpose, and say in the commit what changed)."""
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
    # A `dot` this machine cannot run: said so, not an OSError.
    slow.write_bytes(b"\x00\x01 not a program")
    with pytest.raises(DrawFailed, match=r"could not start Graphviz's dot .*Exec format"):
        to_svg("digraph { a }")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_does_not_hold_up_the_spare_dot(dot_program):
    """The spare `dot` waits for the end of its input: a child forked while it waited must not
    keep a copy of its stdin open (the parent's next drawing would wait for its timeout)."""
    to_svg("digraph { a }")  # leaves a spare
    child = os.fork()
    if child == 0:
        time.sleep(3)
        os._exit(0)
    try:
        assert "<svg" in to_svg("digraph { b }", timeout=2)
    finally:
        os.waitpid(child, 0)


# --- what the picture shows (issue 12): ifindex, routes, renames, the uplink, the width -----

def test_veth_ends_are_labelled_as_ip_link_prints_them():
    """Lesson 1: `6: vethXXXXXXX@if5` in the lab host, `5: eth0@if6` in the container."""
    _, t2 = states_around("01-docker0", "docker run -dit --name busybox1")
    eth0 = t2.namespace("busybox1").interface("eth0")
    lab_end = t2.lab.interface(eth0.peer.interface)
    dot = to_dot(t2)
    assert f">{eth0.index}: eth0@if{lab_end.index}</td>" in cluster(dot, "busybox1")
    assert f">{lab_end.index}: {lab_end.name}@if{eth0.index}</td>" in dot
    # Both ends in one namespace: `ip link` names the peer (lesson 4, before the move).
    t6, _ = states_around("05-docker0-by-hand", "ip link set veth1 netns lab-ns0")
    v0, v1 = t6.lab.interface("veth0"), t6.lab.interface("veth1")
    assert f">{v1.index}: veth1@veth0</td>" in to_dot(t6)
    assert f">{v0.index}: veth0@veth1</td>" in to_dot(t6)


def _renumbered(topo: Topology, f) -> Topology:
    return replace(topo, namespaces=tuple(
        replace(ns, interfaces=tuple(replace(i, index=f(i.index)) for i in ns.interfaces))
        for ns in topo.namespaces))


def test_the_ifindexes_digits_do_not_change_the_drawing(dot_program):
    """A lab numbers every link it ever made: the same lesson run again gets other numbers,
    maybe with more digits. The stored SVG must compare equal under nbval's sanitize file."""
    t13, t14 = states_around("05-docker0-by-hand", "route add default via")
    patterns = read_sanitize_file(SANITIZE)

    def drawn(f) -> str:
        before, after = _renumbered(t13, f), _renumbered(t14, f)
        return to_svg(to_dot(after, diff=diff(before, after)))

    first = drawn(lambda i: i)
    eth0 = t14.namespace("lab-ns0").interface("eth0")
    veth0 = t14.lab.interface("veth0")
    assert f">{eth0.index}: eth0@if{veth0.index}<" in first
    for f in (lambda i: i + 7, lambda i: i * 10 + 3, lambda i: i + 9000):  # more digits too
        again = drawn(f)
        assert again != first and sanitized(again, patterns) == sanitized(first, patterns)


def test_routes_are_drawn_in_their_namespace_and_a_new_one_is_highlighted():
    """Lesson 3's exercise adds a route to `outside`; busybox1's default gateway is drawn;
    the kernel's link routes and the lab's way out by its uplink are not."""
    t7, t8 = states_around("03-way-out", "ip -n outside route add 172.17.0.0/16")
    dot = to_dot(t8, diff=diff(t7, t8))
    outside = cluster(dot, "outside")
    assert ('<font color="#d5006d"><b>+ 172.17.0.0/16 via 203.0.113.1 dev eth0</b></font>'
            in outside)
    assert "203.0.113.0/24" not in outside and "fe80::" not in outside  # proto kernel
    assert "default via 172.17.0.1 dev eth0</font>" in cluster(dot, "busybox1")
    lab_label = next(ln for ln in dot.splitlines() if ln.startswith("    label=<<b>lab</b>"))
    assert "via" not in lab_label  # the uplink's default route depends on the machine
    back = to_dot(t7, diff=diff(t8, t7))
    assert '<font color="#a0a0a0"><s>172.17.0.0/16 via 203.0.113.1 dev eth0</s>' in back


def test_lesson_4s_default_routes_are_visible():
    t13, t14 = states_around("05-docker0-by-hand", "route add default via")
    dot = to_dot(t14, diff=diff(t13, t14))
    for ns in ("lab-ns0", "lab-ns1"):
        assert "<b>+ default via 10.15.10.1 dev eth0</b>" in cluster(dot, ns)
    assert "default via" not in to_dot(t13)


def test_a_moved_and_renamed_veth_is_drawn_as_changed_not_removed_and_added():
    """Lesson 4: `ip link set veth1 netns lab-ns0`, then `... name eth0` in lab-ns0."""
    for cell, node, was in (("ip link set veth1 netns lab-ns0", "if:lab-ns0:veth1",
                             "was lab:veth1"),
                            ("ip link set veth1 name eth0", "if:lab-ns0:eth0", "was veth1")):
        before, after = states_around("05-docker0-by-hand", cell)
        dot = to_dot(after, diff=diff(before, after))
        nodes = [ln for ln in dot.splitlines() if ln.lstrip().startswith('"if:')]
        assert not any("#a0a0a0" in ln for ln in nodes)  # nothing drawn faded (removed)
        line = next(ln for ln in dot.splitlines() if ln.lstrip().startswith(f'"{node}"'))
        assert f"{was}<br/>" in line and 'color="#d5006d", penwidth=3' in line
        assert '"if:lab:veth0" -> ' + f'"{node}"' + " [dir=both" in dot


def test_the_uplink_cannot_be_taken_for_the_lessons_outside_host():
    dot = to_dot(load("seed"))  # no `outside` namespace in it
    assert "lab uplink (sealed)" in dot
    assert "outside" not in dot.lower()


def test_fit_width_scales_to_the_output_and_keeps_small_drawings_small():
    wide = ('<svg width="1200pt" height="300pt"\n viewBox="0.00 0.00 1200.00 300.00" '
            'xmlns="http://www.w3.org/2000/svg">')
    assert fit_width(wide) == ('<svg width="100%" viewBox="0.00 0.00 1200.00 300.00" '
                               'preserveAspectRatio="xMinYMin meet" '
                               'xmlns="http://www.w3.org/2000/svg">')
    small = fit_width('<svg width="200pt" height="100pt"\n viewBox="0.00 0.00 200.00 100.00">')
    assert f'viewBox="0.00 0.00 {MIN_WIDTH_PT:.2f} 100.00"' in small  # its own size, at left
    assert fit_width("<svg>not graphviz's</svg>") == "<svg>not graphviz's</svg>"


def _smallest_font_px(svg: str, output_px: float = 1000) -> float:
    """The smallest text of the drawing in CSS px when shown `output_px` wide."""
    canvas = float(re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ', svg).group(1))
    return min(float(x) for x in re.findall(r'font-size="([\d.]+)"', svg)) * output_px / canvas


def test_the_lessons_drawings_fit_a_notebook_and_stay_readable(dot_program):
    """No width in points (JupyterLab shows an SVG as an <img> with no max-width, so that
    made the notebook scroll sideways); every state of every lesson and twenty containers
    read at 8 px or more in a 1000 px wide output (every state: lesson 12's widest had no
    more namespaces than others, but more Services)."""
    cases = {"twenty": to_dot(load("twenty"))}
    for path in sorted(RECORDINGS.glob("*.json")):
        for name, state in recorded(path.stem).items():
            cases[f"{path.stem}:{name}"] = to_dot(state)
    for name, dot in cases.items():
        svg = to_svg(dot)
        assert 'pt"' not in svg.split("<svg", 1)[1].split(">", 1)[0], name
        assert _smallest_font_px(svg) >= 8, (name, _smallest_font_px(svg))


def test_a_pod_uid_is_sanitized_whole_not_as_a_short_id():
    """A UID's last group is 12 hex digits: where a UID stands alone (`kubectl get pod -o
    jsonpath={.metadata.uid}`, a drawing's text) the short-id pattern, applied first, made it
    `2c88af9a-019f-4b16-a56e-<SHORT-ID>`, no longer a UID, and two runs differed in the rest."""
    patterns = read_sanitize_file(SANITIZE)
    one, two = ("uid: 2c88af9a-019f-4b16-a56e-865b7da71fcf\n",
                "uid: 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\n")
    assert sanitized(one, patterns) == sanitized(two, patterns) == "uid: <UID>\n"
    name = "k8s_POD_test-pod-7c5df5f574-w9wrq_default_2c88af9a-019f-4b16-a56e-865b7da71fcf_0"
    assert sanitized(name, patterns) == "k8s_POD_test-pod-7c5df5f574-<RND>_default_<UID>_0"
    assert sanitized("a69522601167", patterns) == "<SHORT-ID>"  # the short ids still go
