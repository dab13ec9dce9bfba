"""A stable picture from cell to cell: where earlier drawings put each namespace, and how
much a drawing moved. Pure.

A learner follows the picture cell by cell, so what was already on the page stays where it
was. `arrange` is the memory a `Lab` keeps across a lesson's cells: each namespace keeps the
slot it was first drawn in (new ones go below the others), and one that is gone leaves a
ghost, drawn invisibly in its slot, so the boxes under it do not move up (see
docs/architecture.md, "A stable picture").

The measure (issue 12), read from Graphviz's SVG: the position of each namespace box's label
in two drawings, and the largest move of a namespace drawn in both, as a fraction of the
drawing's width (`largest_move`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from labkit.model.topology import Interface, Namespace, Topology, namespace_order

_CLUSTER = re.compile(r'<g id="[^"]*" class="cluster">\s*<title>cluster_ns:(.*?)</title>'
                      r'(.*?)</g>', re.S)
_TEXT = re.compile(r'<text\b[^>]*?\bx="([-\d.]+)" y="([-\d.]+)"')
_VIEWBOX = re.compile(r'<svg\b[^>]*?viewBox="[-\d.]+ [-\d.]+ ([\d.]+) [\d.]+"')
_POLY = re.compile(r'<polygon\b[^>]*?points="([^"]*)"')
_TRANSLATE = re.compile(r'<g id="graph0" class="graph" transform="[^"]*?'
                        r'translate\(([-\d.]+) ([-\d.]+)\)')
_UNESCAPE = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#45;", "-"), ("&amp;", "&"))


def _unescape(s: str) -> str:
    for a, b in _UNESCAPE:
        s = s.replace(a, b)
    return s


def label_positions(svg: str) -> dict[str, tuple[float, float]]:
    """Where each namespace box's label is (its first text line), by namespace name, in
    points from the drawing's top left corner: where a learner sees it, since the notebook
    shows the SVG anchored there (Graphviz's own y grows upwards from the bottom, so a drawing
    that grows taller moves everything down the page)."""
    t = _TRANSLATE.search(svg)
    dx, dy = (float(t.group(1)), float(t.group(2))) if t else (0.0, 0.0)
    out = {}
    for m in _CLUSTER.finditer(svg):
        text = _TEXT.search(m.group(2))
        if text is not None:
            out[_unescape(m.group(1))] = (float(text.group(1)) + dx, float(text.group(2)) + dy)
    return out


def drawing_width(svg: str) -> float:
    """The drawing's own width in points: the graph's background polygon (the viewBox may be
    widened to a minimum canvas by labkit.draw.svg.fit_width)."""
    poly = _POLY.search(svg)
    if poly is not None:
        xs = [float(p.split(",")[0]) for p in poly.group(1).split()]
        if xs:
            return max(xs) - min(xs)
    vb = _VIEWBOX.search(svg)
    return float(vb.group(1)) if vb else 0.0


def displacements(before: str, after: str) -> dict[str, float]:
    """How far each namespace drawn in both SVGs moved its label, as a fraction of the wider
    drawing's width (the lab host's box excepted: it holds everything)."""
    a, b = label_positions(before), label_positions(after)
    width = max(drawing_width(before), drawing_width(after)) or 1.0
    return {name: ((b[name][0] - a[name][0]) ** 2 + (b[name][1] - a[name][1]) ** 2) ** 0.5
            / width for name in sorted(a.keys() & b.keys())}


def largest_move(before: str, after: str, ignore: Iterable[str] = ()) -> tuple[str, float]:
    """The namespace that moved most between two SVGs, and by how much (a fraction of the
    width); ("", 0.0) when none is drawn in both."""
    skip = set(ignore)
    moves = {n: d for n, d in displacements(before, after).items() if n not in skip}
    if not moves:
        return "", 0.0
    name = max(sorted(moves), key=lambda n: moves[n])
    return name, moves[name]


def remember_order(known: Sequence[str], names: Iterable[str]) -> tuple[str, ...]:
    """The namespaces drawn before keep their slots; new ones go after them, in `names`' own
    order (kind, then name: labkit.model.topology.namespace_order, the tie-break that draws
    the same names in the same order in every lesson)."""
    seen = set(known)
    return (*known, *(n for n in names if n not in seen))


@dataclass(frozen=True)
class Layout:
    """Where a lesson's drawings put the namespaces: `order`, the names slot by slot, top to
    bottom; `ghosts`, the namespaces that are gone but hold their slot, as last drawn, and
    `ends`, the interfaces of other namespaces that led into them (namespace, interface), so
    the ghost is laid out just as the box was."""

    order: tuple[str, ...] = ()
    ghosts: tuple[Namespace, ...] = ()
    ends: tuple[tuple[str, Interface], ...] = ()

    def ghost_names(self) -> set[str]:
        return {g.name for g in self.ghosts}


def arrange(memory: Layout, topology: Topology, previous: Topology | None,
            before: Topology | None) -> tuple[Layout, Layout]:
    """The layout to draw `topology` with, and the one to remember for the next drawing.

    `previous`: the topology the last drawing showed; `before`: the diff's (the namespaces it
    removed are drawn faded in their slots), None for a drawing without a diff. A namespace
    gone since `previous` becomes a ghost; a ghost whose name comes back (the same container
    made again) is drawn in its old slot; ghosts with nothing drawn below them are dropped,
    since dropping them moves nothing."""
    now = {ns.name for ns in topology.namespaces}
    faded = [ns for ns in (before.namespaces if before else ()) if ns.name not in now]
    drawn = sorted([*topology.namespaces, *faded], key=namespace_order)
    order = remember_order(memory.order, [ns.name for ns in drawn])
    gone = [ns for ns in (previous.namespaces if previous else ()) if ns.name not in now]
    ghosts = {g.name: g for g in memory.ghosts if g.name not in now}
    ends = {(ns, itf.name): itf for ns, itf in memory.ends}
    for ns in gone:
        ghosts[ns.name] = ns
        ends.update(((o.name, i.name), i) for o in previous.namespaces
                    for i in o.interfaces if i.peer is not None and i.peer.namespace == ns.name)
    live = now | {ns.name for ns in faded}
    this = _trim(order, [g for g in ghosts.values() if g.name not in live], ends, live)
    return this, _trim(order, list(ghosts.values()), ends, now)


def _trim(order: tuple[str, ...], ghosts: list[Namespace],
          ends: dict[tuple[str, str], Interface], live: set[str]) -> Layout:
    """Only the slots of live namespaces and of ghosts with a live one below them."""
    names = {g.name for g in ghosts}
    kept = [n for n in order if n in live or n in names]
    while kept and kept[-1] not in live:
        kept.pop()
    keep = set(kept) - live
    return Layout(order=tuple(kept),
                  ghosts=tuple(sorted((g for g in ghosts if g.name in keep),
                                      key=lambda g: kept.index(g.name))),
                  ends=tuple(sorted(((ns, i) for (ns, _), i in ends.items()
                                     if i.peer is not None and i.peer.namespace in keep
                                     and ns not in keep),
                                    key=lambda x: (x[0], x[1].name))))
