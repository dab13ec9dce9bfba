"""What every widget shares: a saved output that reads as text (`_Readable`, see the package's
docstring), text in a <pre>, Graphviz's SVG inside an HTML widget, and the lab a widget works on."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from labkit.lab import Lab, current

if TYPE_CHECKING:
    import ipywidgets as W


def _pre(text: str) -> str:
    return ("<pre style=\"white-space: pre-wrap; margin: 0.3em 0\">"
            + html.escape(text) + "</pre>")


def _svg_only(svg: str) -> str:
    """Graphviz's SVG without its XML prolog, to sit inside an HTML widget."""
    at = svg.find("<svg")
    return svg[at:] if at >= 0 else svg


class _Readable:
    """Mixin: the widget's saved output reads as text (see labkit.notebook.widgets)."""

    def text(self) -> str:  # pragma: no cover - every widget defines its own
        raise NotImplementedError

    def html_text(self) -> str:
        return f"<div class=\"labkit-text\">{_pre(self.text())}</div>"

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)  # the widget view (and ipywidgets' repr)
        if data is None:  # a closed widget: only the text is left
            data = {}
        data["text/plain"] = self.text()
        data["text/html"] = self.html_text()
        return data

    def _guard(self, where: W.HTML, action):
        """Run a button's action; a failure is shown in the widget, not lost in a log."""
        def handler(_button=None):
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - the learner must see what went wrong
                where.value = _pre(f"✗ {type(exc).__name__}: {exc}")
        return handler


def _lab(lab: Lab | None) -> Lab:
    return lab if lab is not None else current()
