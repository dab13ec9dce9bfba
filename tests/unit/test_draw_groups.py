"""labkit.draw.group and the grid pass of labkit.draw.dot: alike containers drawn as one grid
(issue 12, "Scales"), from the 100 containers recorded in a real lab
(tests/snapshots/raw_100_containers.json), cut down to 12, 13, 20 and 50."""

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from labkit.draw.diagram import Diagram
from labkit.draw.dot import to_dot
from labkit.draw.group import GROUP_AFTER, SHOWN, groups
from labkit.draw.highlight import Highlight
from labkit.draw.svg import to_svg
from labkit.model.build import from_raw
from labkit.model.diff import diff
from labkit.model.topology import ProbeWarning, Route, Topology, from_json

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
SCREEN_PX, NOTEBOOK_PX = 900, 1000


def load(name: str) -> Topology:
    return from_raw(json.loads((SNAPSHOTS / f"{name}.json").read_text()))


BIG = load("raw_100_containers")


def first(n: int, topo: Topology = BIG) -> Topology:
    """The recorded lab with only its first n containers (and the lab's ends of their pairs)."""
    keep = {ns.name for ns in topo.namespaces if ns.kind == "container"}
    keep = set(sorted(keep, key=lambda x: int(x[5:]))[:n]) | {topo.lab.name}
    lab = replace(topo.lab, interfaces=tuple(
        i for i in topo.lab.interfaces if i.peer is None or i.peer.namespace in keep))
    return replace(topo, namespaces=tuple(lab if ns.kind == "lab" else ns
                                          for ns in topo.namespaces if ns.name in keep))


def with_images(topo: Topology, image_of) -> Topology:
    return replace(topo, namespaces=tuple(
        replace(ns, containers=tuple(replace(c, image=image_of(ns.name)) for c in ns.containers))
        for ns in topo.namespaces))


def changed(topo: Topology, name: str, f) -> Topology:
    return replace(topo, namespaces=tuple(f(ns) if ns.name == name else ns
                                          for ns in topo.namespaces))


def drawn_in_full(dot: str) -> set[str]:
    return set(re.findall(r'subgraph "cluster_ns:([^"]+)"', dot)) - {"lab"}


def shown_at(svg: str, width_px: float = NOTEBOOK_PX) -> tuple[float, float]:
    """(height, smallest text) in CSS px of the SVG shown `width_px` wide (it scales to the
    output's width: labkit.draw.svg.fit_width)."""
    w, h = map(float, re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ([\d.]+)"', svg).groups())
    font = min(float(x) for x in re.findall(r'font-size="([\d.]+)"', svg))
    return h * width_px / w, font * width_px / w


def test_100_containers_fit_in_about_two_screens_and_stay_readable(dot_program):
    """Drawn in full they were one column 15700 px tall (17 screens) at 1000 px wide."""
    dot = to_dot(with_images(BIG, lambda _: "busybox"))
    assert "98 alike containers" in dot and "(busybox on docker0) drawn as one grid" in dot
    assert drawn_in_full(dot) == {"bench1", "bench2"}
    assert 'label="98 veth pairs"' in dot
    height, font = shown_at(to_svg(dot))
    assert height <= 2 * SCREEN_PX, height
    assert font >= 8, font


@pytest.mark.parametrize("n", [20, 50])
def test_20_and_50_containers_fit_too(n, dot_program):
    dot = to_dot(first(n))
    assert f"{n - SHOWN} alike containers" in dot and "(on docker0) drawn as one grid" in dot
    height, font = shown_at(to_svg(dot))
    assert height <= 2 * SCREEN_PX and font >= 8, (height, font)


def test_a_grid_starts_above_the_threshold():
    """Up to GROUP_AFTER alike containers are drawn in full: each veth pair visible."""
    assert groups(first(GROUP_AFTER)) == []
    assert "alike containers" not in to_dot(first(GROUP_AFTER))
    [g] = groups(first(GROUP_AFTER + 1))
    assert g.shown == ("bench1", "bench2") and len(g.members) == GROUP_AFTER + 1 - SHOWN
    assert g.members[0].addresses == ("172.17.0.4/16",) and g.bridge == "docker0"
    assert g.network == "bridge" and g.line == f"{len(g.members)} alike containers " \
        "(on docker0) drawn as one grid"


def test_every_container_is_named_once():
    """In full or in the grid, never lost and never twice; the lab's ends of the gridded
    pairs are not drawn (the grid's one edge stands for them)."""
    dot = to_dot(BIG)
    for i in range(1, 101):
        assert len(re.findall(rf"[>\"]bench{i}<", dot)) == 1, i
    assert len(re.findall(r'^    "if:lab:veth-to:[^"]+" \[', dot, re.M)) == SHOWN


def test_groups_are_by_image_and_bridge():
    mixed = with_images(BIG, lambda n: "busybox" if int(n[5:]) % 2 else "nginx:1.25")
    found = groups(mixed)
    assert [(g.image, len(g.shown) + len(g.members)) for g in found] == [
        ("busybox", 50), ("nginx:1.25", 50)]
    dot = to_dot(mixed)
    assert "(busybox on docker0)" in dot and "(nginx:1.25 on docker0)" in dot
    assert drawn_in_full(dot) == {"bench1", "bench3", "bench2", "bench4"}


def test_a_container_a_cell_changed_is_drawn_in_full():
    """A route added in bench50: bench50 leaves the grid, its new route highlighted, and the
    text after the cell still names the change."""
    route = Route(dst="10.9.0.0/24", dev="eth0", gateway="172.17.0.1", protocol="boot")
    after = changed(BIG, "bench50",
                    lambda ns: replace(ns, routes=(*ns.routes, route)))
    d = diff(BIG, after)
    dot = to_dot(after, diff=d)
    assert "bench50" in drawn_in_full(dot)
    assert "<b>+ 10.9.0.0/24 via 172.17.0.1 dev eth0</b>" in dot
    assert "97 alike containers" in dot
    assert not re.search(r">bench50</td>", dot)  # not in the grid as well
    shown = Diagram(after, diff=d)
    assert "bench50" in shown.text() and "10.9.0.0/24" in shown.text()


def test_a_change_at_the_labs_end_of_the_pair_is_drawn_in_full():
    """The lab's end of bench60's pair set down: the change is drawn on that end."""
    end = BIG.namespace("bench60").interface("eth0").peer.interface
    lab = BIG.lab
    after = changed(BIG, lab.name, lambda ns: replace(ns, interfaces=tuple(
        replace(i, up=False, state="DOWN") if i.name == end else i for i in ns.interfaces)))
    dot = to_dot(after, diff=diff(BIG, after))
    assert "bench60" in drawn_in_full(dot)
    assert '"if:lab:veth-to:bench60:eth0"' in dot


def test_a_new_container_is_never_in_a_grid():
    before = first(30)
    dot = to_dot(BIG, diff=diff(before, BIG))
    assert drawn_in_full(dot) == {f"bench{i}" for i in range(31, 101)} | {"bench1", "bench2"}
    assert "28 alike containers" in dot


def test_highlight_warning_and_nat_keep_containers_in_full():
    warned = replace(BIG, warnings=(*BIG.warnings, ProbeWarning("odd", "bench7", "eth0")))
    assert "bench7" in drawn_in_full(to_dot(warned))
    path = Highlight(interfaces=(("bench8", "eth0"), ("lab", "docker0")))
    assert "bench8" in drawn_in_full(to_dot(BIG, highlight=path))
    twenty = load("twenty")  # web has a published port and its hairpin MASQUERADE
    assert drawn_in_full(to_dot(twenty)) == {"c1", "c2", "web"}
    assert BIG.owner_of("172.17.0.22").namespace == "bench21"  # twenty's web address
    published = replace(BIG, port_mappings=twenty.port_mappings)
    assert "bench21" in drawn_in_full(to_dot(published))
    hairpin = replace(BIG, masquerades=twenty.masquerades)
    assert "bench21" in drawn_in_full(to_dot(hairpin))


def test_an_odd_container_is_drawn_in_full():
    """A second interface, an `ip netns` name, a route someone added: not alike."""
    extra = changed(BIG, "bench9", lambda ns: replace(ns, interfaces=(
        *ns.interfaces, replace(ns.interfaces[-1], name="eth1", index=999))))
    named = changed(BIG, "bench10", lambda ns: replace(ns, netns=("ten",)))
    routed = changed(BIG, "bench11", lambda ns: replace(ns, routes=(
        *ns.routes, Route(dst="10.0.0.0/8", dev="eth0", protocol="boot"))))
    for topo, name in ((extra, "bench9"), (named, "bench10"), (routed, "bench11")):
        dot = to_dot(topo)
        assert name in drawn_in_full(dot) and "97 alike containers" in dot, name


def test_a_focus_draws_everything_it_names_in_full():
    dot = to_dot(BIG, focus=[f"bench{i}" for i in range(1, 31)])
    assert len(drawn_in_full(dot)) == 30 and "alike containers" not in dot


def test_the_grid_is_deterministic_and_survives_json():
    topo = with_images(BIG, lambda _: "busybox")
    again = from_json(topo.to_json())
    assert again.namespace("bench5").containers[0].image == "busybox"
    assert to_dot(again) == to_dot(topo)
    assert BIG.namespace("bench5").containers[0].image == ""  # recorded before it was read
