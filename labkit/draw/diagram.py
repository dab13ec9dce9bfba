"""The drawing a notebook shows after a cell: SVG for the eye, a stable summary as text."""

from __future__ import annotations

from collections.abc import Iterable

from labkit.draw.dot import to_dot
from labkit.draw.highlight import Highlight
from labkit.draw.layout import Layout
from labkit.draw.svg import to_svg
from labkit.model.diff import Diff
from labkit.model.topology import Topology


class Diagram:
    """A display object: the DOT is made at once (pure), the SVG on first display."""

    def __init__(self, topology: Topology, diff: Diff | None = None,
                 focus: Iterable[str] | None = None, show_loopback: bool = False,
                 legend: bool = True, title: str | None = None,
                 highlight: Highlight | None = None, layout: Layout | None = None) -> None:
        self.topology = topology
        self.diff = diff
        # layout: where the lesson's earlier drawings put each namespace (Lab keeps it)
        self.dot = to_dot(topology, diff=diff, focus=focus, show_loopback=show_loopback,
                          legend=legend, title=title, highlight=highlight, layout=layout)
        self._svg: str | None = None

    def svg(self) -> str:
        if self._svg is None:
            self._svg = to_svg(self.dot)
        return self._svg

    def text(self) -> str:
        if self.diff is not None:
            return self.diff.summary()
        return self.topology.summary()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"image/svg+xml": self.svg(), "text/plain": self.text()}

    def __repr__(self) -> str:
        return self.text()
