"""The namespace explorer: pick a namespace, see its links, addresses, routes and neighbours
(asked live) and its part of the picture."""

from __future__ import annotations

import ipywidgets as W

from labkit.draw.diagram import Diagram
from labkit.lab import Lab
from labkit.model import trace as _trace
from labkit.model.diff import steady
from labkit.notebook.widgets.common import _lab, _pre, _Readable, _svg_only

#: what the explorer asks in the chosen namespace, in iproute2's words
EXPLORE_COMMANDS = ("ip -br link", "ip -br addr", "ip route", "ip neigh")


class Explorer(_Readable, W.VBox):
    """Pick a namespace: its interfaces, addresses, routes and neighbours (`ip neigh`),
    asked live, and its part of the picture."""

    def __init__(self, lab: Lab | None = None) -> None:
        self.lab = _lab(lab)
        self.namespace = W.Dropdown(description="namespace")
        self.refresh_button = W.Button(description="Refresh", icon="refresh")
        self.details = W.HTML()
        self.details.add_class("labkit-explore-text")
        self.picture = W.HTML()
        self.namespace.observe(lambda _change: self._guard(self.details, self.show)(),
                               names="value")
        self.refresh_button.on_click(self._guard(self.details, self.refresh))
        super().__init__([W.HBox([self.namespace, self.refresh_button]), self.details,
                          self.picture])
        self.add_class("labkit-explorer")
        self.refresh()

    def refresh(self) -> None:
        self.topology = self.lab.snapshot()
        names = [ns.name for ns in self.topology.namespaces
                 if ns.kind in ("lab", "container", "netns", "pod", "process")]
        keep = self.namespace.value if self.namespace.value in names else None
        self.names = names
        self.namespace.options = names
        if keep:
            self.namespace.value = keep
        self.show()

    def show(self) -> str:
        name = self.namespace.value
        ns = self.topology.namespace(name) if name else None
        if ns is None:
            return ""
        prefix = _trace.in_namespace(ns)
        script = "\n".join(f"echo '$ {c}'; {prefix}{c} 2>&1; echo" for c in EXPLORE_COMMANDS)
        text = self.lab.run(script, timeout=20).stdout
        self.details.value = _pre(text.rstrip())
        self.picture.value = _svg_only(Diagram(steady(self.topology), focus=[name],
                                               legend=False).svg())
        return text

    def text(self) -> str:
        return ("Explore a namespace (interactive when the notebook runs): "
                + ", ".join(self.names) + ".")


def explorer(lab: Lab | None = None) -> Explorer:
    return Explorer(lab)
