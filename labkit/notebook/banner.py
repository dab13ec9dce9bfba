"""The banner over each replayed `%%lab` cell."""

from __future__ import annotations

from labkit.model.recording import BANNER


class Banner:
    """Shown over each replayed `%%lab` cell: the output below is a recording, not this host."""

    def __init__(self, why: str) -> None:
        self.why = why

    @property
    def text(self) -> str:
        return (f"{BANNER} — not run here ({self.why}); the output and the diagram below were "
                "recorded when this lesson ran in a real lab.")

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.text)

    def _repr_html_(self) -> str:
        import html

        return ('<div style="border-left:4px solid #d08000;background:#fff6e0;padding:2px 8px;'
                f'font-family:sans-serif;font-size:90%"><b>{html.escape(BANNER)}</b> — not run '
                f'here ({html.escape(self.why)}); the output and the diagram below were recorded '
                "when this lesson ran in a real lab.</div>")
