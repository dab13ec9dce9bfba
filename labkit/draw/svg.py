"""DOT text to SVG through the `graphviz` package: the only place that runs a program."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout  # not TimeoutError on 3.10

from labkit.errors import LabError

#: how long Graphviz may take to lay out one drawing
TIMEOUT = 20.0
_INSTALL_HINT = ("install Graphviz (Debian/Ubuntu: `apt-get install graphviz`, macOS: "
                 "`brew install graphviz`), then run the cell again")


class GraphvizMissing(LabError):
    kind = "graphviz-missing"


class DrawFailed(LabError):
    kind = "draw-failed"


def to_svg(dot_source: str, timeout: float = TIMEOUT) -> str:
    """Lay out DOT text with Graphviz's `dot` and return the SVG text."""
    try:
        import graphviz  # the notebook extra: the lab side never draws
    except ImportError:
        raise GraphvizMissing("the `graphviz` Python package is not installed, so labkit "
                              "cannot draw the lab",
                              hint="pip install 'labkit[notebook]' (or `pip install "
                              "graphviz`)") from None
    source = graphviz.Source(dot_source)
    try:
        # quiet: dot's warnings on stderr would land in the notebook's stored output.
        svg = _within(timeout, source.pipe, format="svg", engine="dot", quiet=True)
    except graphviz.ExecutableNotFound:
        raise GraphvizMissing("Graphviz's `dot` program is not installed, so labkit cannot "
                              "draw the lab", hint=_INSTALL_HINT) from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip()
        raise DrawFailed(f"Graphviz's dot failed ({exc.returncode}): {detail}") from None
    except FutureTimeout:
        raise DrawFailed(f"Graphviz's dot took more than {timeout:g} s to lay out the "
                         "drawing", hint="draw fewer namespaces: `lab.draw(focus=[...])`") \
            from None
    return svg.decode("utf-8")


def _within(timeout: float, fn, /, **kwargs):
    """fn(**kwargs), or FutureTimeout after `timeout` s. graphviz 0.21's pipe takes no timeout,
    so it runs in a daemon thread the caller stops waiting for (dot itself runs on)."""
    done: Future = Future()

    def run() -> None:
        try:
            done.set_result(fn(**kwargs))
        except Exception as exc:  # noqa: BLE001 - handed back to the caller, raised there
            done.set_exception(exc)

    threading.Thread(target=run, name="labkit-dot", daemon=True).start()
    return done.result(timeout=timeout)
