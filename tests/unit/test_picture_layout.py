"""A stable picture from cell to cell (issue 12): the measure (labkit.draw.layout), and the
layout memory a Lab keeps, on snapshots recorded in a real lab with the real `dot`.

The scenario (tests/snapshots/layout_*.json, recorded by tests/lab/test_picture_layout.py
with LABKIT_RECORD_SNAPSHOTS=1): ten busybox containers (`ten`); a cell that removes busybox5
and adds a namespace made by hand, `ip netns add hand` with a veth into docker0 (`swap`); the cell
after it, which brings up hand's lo (`after`: busybox5 no longer drawn faded); a cell that
adds busybox4b, whose name sorts in the middle (`middle`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from recorded import NOTEBOOKS, states_around

from labkit.draw.dot import to_dot
from labkit.draw.layout import (
    Layout,
    arrange,
    displacements,
    drawing_width,
    label_positions,
    largest_move,
    remember_order,
)
from labkit.draw.svg import to_svg
from labkit.model.build import from_raw
from labkit.model.diff import diff, steady
from labkit.model.recording import Recording
from labkit.model.topology import Topology, from_json

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
BOUND = 0.05  # the issue's: no namespace already drawn moves by more than 5% of the width
CELLS = ("ten", "swap", "after", "middle")


def load(name: str) -> Topology:
    return steady(from_raw(json.loads((SNAPSHOTS / f"layout_{name}.json").read_text())))


def cells(names, memory: bool = True) -> list[str]:
    """The SVGs the cells show, one per state, as Lab.after_cell draws them (a diff from the
    state before, the layout remembered across cells unless `memory` is false)."""
    prev, mem, out = None, Layout(), []
    for name in names:
        topo = load(name)
        delta = diff(prev, topo) if prev is not None else None
        now, mem = arrange(mem, topo, prev, delta.before if delta is not None else None)
        out.append(to_svg(to_dot(topo, diff=delta, layout=now if memory else None)))
        prev = topo
    return out


def top_to_bottom(svg: str) -> list[str]:
    pos = label_positions(svg)
    return [n for n in sorted(pos, key=lambda n: pos[n][1]) if n != "lab"]


@pytest.fixture(scope="module")
def scenario() -> list[str]:
    return cells(CELLS)


# --- the measure ----------------------------------------------------------------------------

def test_the_measure_reads_each_namespace_label_from_the_top_left_corner(scenario):
    first = scenario[0]
    pos = label_positions(first)
    assert set(pos) == {"lab", *(f"busybox{i}" for i in range(1, 11))}
    assert all(0 <= x <= drawing_width(first) and y > 0 for x, y in pos.values())
    assert displacements(first, first) == dict.fromkeys(sorted(pos), 0.0)
    assert largest_move(first, first) == ("busybox1", 0.0)
    assert largest_move(first, "<svg/>") == ("", 0.0)


def test_without_the_memory_the_cell_after_a_removal_moves_the_boxes_below_it():
    """What the memory is for (and that the measure sees it): without it, the boxes under
    the removed busybox5 move up by a whole box once its faded box is gone."""
    svgs = cells(CELLS[:3], memory=False)
    name, moved = largest_move(svgs[1], svgs[2])
    assert moved > 3 * BOUND, (name, moved)


# --- the scenario, with the memory ----------------------------------------------------------

def test_removing_the_fifth_and_adding_a_namespace_moves_no_other_box(scenario):
    name, moved = largest_move(scenario[0], scenario[1])
    assert moved <= BOUND, (name, moved)
    order = top_to_bottom(scenario[1])
    assert order[:5] == ["busybox1", "busybox2", "busybox3", "busybox4", "busybox5"]
    assert order[-1] == "hand"  # the new one goes below what was drawn before


def test_the_cell_after_keeps_the_removed_ones_slot_empty(scenario):
    name, moved = largest_move(scenario[1], scenario[2])
    assert moved <= BOUND, (name, moved)
    assert "busybox5" not in label_positions(scenario[2])  # gone: its ghost has no text
    assert 'subgraph "cluster_ns:busybox5" { style=invis; }' in to_dot(
        load("after"), diff=diff(load("swap"), load("after")),
        layout=arrange(arrange(Layout(), load("swap"), load("ten"), load("ten"))[1],
                       load("after"), load("swap"), load("swap"))[0])


def test_a_namespace_whose_name_sorts_in_the_middle_goes_below_the_others(scenario):
    name, moved = largest_move(scenario[2], scenario[3])
    assert moved <= BOUND, (name, moved)
    assert top_to_bottom(scenario[3])[-1] == "busybox4b"


def test_every_cell_of_the_scenario_stays_within_the_bound_from_the_first(scenario):
    for later in scenario[1:]:
        name, moved = largest_move(scenario[0], later)
        assert moved <= BOUND, (name, moved)


def test_a_first_drawing_stacks_the_namespaces_in_name_order():
    """Without memory (a lesson's first drawing), the same names in the same order in any
    lesson: busybox1 above busybox2 (they swapped sides between lessons 1 and 2)."""
    svg = to_svg(to_dot(load("middle")))
    assert top_to_bottom(svg) == ["busybox1", "busybox2", "busybox3", "busybox4", "busybox4b",
                                  *(f"busybox{i}" for i in range(6, 11)), "hand"]


def test_the_dot_with_a_layout_is_deterministic():
    before, after = load("swap"), load("after")
    mem = arrange(Layout(), before, load("ten"), load("ten"))[1]
    now, _ = arrange(mem, after, before, before)
    assert to_dot(after, diff=diff(before, after), layout=now) == to_dot(
        load("after"), diff=diff(load("swap"), load("after")), layout=now)


def test_a_focus_draws_no_ghosts():
    mem = arrange(Layout(), load("swap"), load("ten"), load("ten"))[1]
    now, _ = arrange(mem, load("after"), load("swap"), None)
    assert "busybox5" in now.ghost_names()
    assert "busybox5" not in to_dot(load("after"), focus=["lab", "hand"], layout=now)


# --- the memory, pure -------------------------------------------------------------------------

def test_remember_order_keeps_known_slots_and_appends_new_names():
    assert remember_order(("a", "c"), ["a", "b", "c", "d"]) == ("a", "c", "b", "d")
    assert remember_order((), ["x", "y"]) == ("x", "y")


def test_a_gone_namespace_is_faded_in_its_slot_then_a_ghost_then_dropped_when_last():
    ten, swap = load("ten"), load("swap")
    now, mem = arrange(Layout(), ten, None, None)
    assert now.order == tuple(ns.name for ns in ten.namespaces) and not now.ghosts
    now, mem = arrange(mem, swap, ten, ten)  # busybox5 drawn faded: no ghost yet
    assert now.order.index("busybox5") == 5 and not now.ghosts
    assert mem.ghost_names() == {"busybox5"}
    assert [(ns, i.peer.interface) for ns, i in mem.ends] == [("lab", "eth0")]
    now, mem = arrange(mem, swap, swap, None)  # drawn without a diff: the ghost holds it
    assert now.ghost_names() == {"busybox5"}
    # A ghost with nothing live below it is dropped: the last one removed leaves no gap.
    only_four = Topology(namespaces=tuple(ns for ns in ten.namespaces
                                          if ns.name in ("lab", "busybox1", "busybox2")))
    now, mem = arrange(mem, only_four, swap, None)
    assert now.order == ("lab", "busybox1", "busybox2") and not now.ghosts
    assert mem == now


def test_a_namespace_made_again_takes_its_old_slot():
    ten, swap = load("ten"), load("swap")
    mem = arrange(arrange(Layout(), ten, None, None)[1], swap, ten, ten)[1]
    now, mem = arrange(mem, ten, swap, swap)  # busybox5 is back, hand removed (faded)
    assert now.order[5] == "busybox5" and not now.ghosts
    assert mem.order[-1] != "hand"  # hand was last: no ghost kept for it


@pytest.mark.parametrize("cell", ["ip link add veth0 type veth peer name veth1",
                                  "ip link set veth1 netns lab-ns0",
                                  "brctl addif lab-br0 veth0"])
def test_lesson_5s_namespace_keeps_its_column_as_its_cable_is_made(cell, dot_program):
    """Each kind of node has its column (dot.py `_columns`): lab-ns0 no longer jumps
    sideways when its veth pair is made, moved into it, or plugged into the bridge (it moved
    by 8%, 49% and 34% of the width before)."""
    before, after = states_around("05-docker0-by-hand", cell)
    mem = Layout()
    first, mem = arrange(mem, before, None, None)
    delta = diff(before, after)
    then, mem = arrange(mem, after, before, delta.before)
    moved = displacements(to_svg(to_dot(before, layout=first)),
                          to_svg(to_dot(after, diff=delta, layout=then)))
    assert moved["lab-ns0"] <= 0.10, moved


# --- the stored lessons, replayed cell by cell ------------------------------------------------

def lesson_drawings(lesson: str) -> list[tuple[str, str]]:
    """(cell source, SVG) of each drawing a lesson's recorded cells show, as Lab.after_cell
    makes them: a diff from the last drawing, the layout remembered from cell to cell,
    forgotten at `lab.reset()`; no drawing for `--no-draw` nor for a cell that changed
    nothing."""
    rec = Recording.from_json((NOTEBOOKS / "recordings" / f"{lesson}.json").read_text())
    drawn, mem, out = None, Layout(), []
    for cell in sorted(rec.cells, key=lambda c: c.index):
        src = cell.source
        if "lab.reset()" in src:
            drawn, mem = None, Layout()
        if cell.topology is None or "--no-draw" in src.splitlines()[0]:
            continue
        if not (src.startswith("%%lab") or "lab.draw(" in src):
            continue
        topo = steady(from_json(rec.topologies[cell.topology]))
        changes = "changes=False" not in src
        delta = diff(drawn, topo) if drawn is not None and changes else None
        if drawn is not None and changes and not delta:
            continue
        now, mem = arrange(mem, topo, drawn, delta.before if delta is not None else None)
        out.append((src, to_svg(to_dot(topo, diff=delta, layout=now))))
        drawn = topo
    return out


def move_at(drawings: list[tuple[str, str]], needle: str) -> tuple[str, float]:
    """The largest move (the lab host's label excepted) from the drawing before the first
    cell whose source holds `needle` to that cell's."""
    i = next(i for i, (src, _) in enumerate(drawings) if needle in src)
    return largest_move(drawings[i - 1][1], drawings[i][1], ignore=["lab"])


@pytest.fixture(scope="module")
def lesson5(dot_program) -> list[tuple[str, str]]:
    return lesson_drawings("05-docker0-by-hand")


def test_lesson_5s_published_port_does_not_restack_the_namespaces(lesson5):
    """The DNAT cell: the port's arrow into lab-br0 made Graphviz start its first order at
    the cable to `outside`, which went from the bottom to the top (28% of the width); the
    port is now declared where its bridge is (dot.py `_lab_nodes`)."""
    name, moved = move_at(lesson5, "-j DNAT --to-destination 10.15.10.2:80")
    assert moved <= BOUND, (name, moved)
    i = next(i for i, (src, _) in enumerate(lesson5) if "-j DNAT" in src)
    assert top_to_bottom(lesson5[i][1]) == ["lab-ns0", "lab-ns1", "outside"]


def test_lesson_5s_namespace_added_after_outside_goes_below_it(lesson5):
    """lab-ns2, on the bridge, made after `outside`, on none: drawn below it (the bridge's
    ports came first and put it above, moving `outside` by 13%: dot.py `_anchors`)."""
    name, moved = move_at(lesson5, "ip netns add lab-ns2")
    assert moved <= BOUND, (name, moved)
    i = next(i for i, (src, _) in enumerate(lesson5) if "ip netns add lab-ns2" in src)
    assert top_to_bottom(lesson5[i][1])[-2:] == ["outside", "lab-ns2"]


def test_lesson_4s_first_published_port_moves_nothing(dot_program):
    """docker-proxy's box beside the port, on one line, widened the port column (7%)."""
    drawings = lesson_drawings("04-iptables-p")
    for (_, a), (_, b) in zip(drawings, drawings[1:], strict=False):
        name, moved = largest_move(a, b, ignore=["lab"])
        assert moved <= BOUND, (name, moved)


def test_lesson_1s_containers_becoming_a_grid_move_nothing(dot_program):
    """22 containers, 20 of them drawn as a grid: the grid went on top of busybox1 and
    busybox2 and widened their column (21%); now it goes below them, and back (dot.py
    `_grid_nodes`)."""
    drawings = lesson_drawings("01-docker0")
    i = next(i for i, (src, svg) in enumerate(drawings) if "alike containers" in svg)
    for a, b in ((i - 1, i), (i, i + 1)):
        name, moved = largest_move(drawings[a][1], drawings[b][1], ignore=["lab"])
        assert moved <= BOUND, (a, b, name, moved)


@pytest.mark.parametrize(("lesson", "needle"), [
    # lab-web3 on lab-br1, made after lab-web2 on lab-br2 (bridges came by name: 20%)
    ("07-cni-docker", "docker run --name lab-web3"),
    # cni-go with no cable (--net=none): drawn on top, then back below when plugged in
    ("09-cni-go", "docker run -d --name cni-go --net=none"),
    # pod1 after busybox1 went: busybox2 (only lo, under busybox1's ghost) went on top (16.5%)
    ("10-pods-pause", "docker run -d --name pod1"),
])
def test_a_namespace_made_later_goes_below_the_others(lesson, needle, dot_program):
    drawings = lesson_drawings(lesson)
    i = next(i for i, (src, _) in enumerate(drawings) if needle in src)
    for a, b in ((i - 1, i), (i, i + 1)):
        name, moved = largest_move(drawings[a][1], drawings[b][1], ignore=["lab"])
        assert moved <= BOUND, (a, b, name, moved)
