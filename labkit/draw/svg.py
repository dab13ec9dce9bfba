"""DOT text to SVG through the `graphviz` package: the only place that runs a program."""

from __future__ import annotations

import re
import subprocess

from labkit.errors import LabError

#: how long Graphviz may take to lay out one drawing
TIMEOUT = 20.0
_INSTALL_HINT = ("install Graphviz (Debian/Ubuntu: `apt-get install graphviz`, macOS: "
                 "`brew install graphviz`), then run the cell again")


#: the narrowest drawing's canvas, in points (750 pt = 1000 CSS px): see `fit_width`
MIN_WIDTH_PT = 750.0

_ROOT = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"\s+'
                   r'viewBox="([-\d.]+) ([-\d.]+) ([\d.]+) ([\d.]+)"')


class GraphvizMissing(LabError):
    kind = "graphviz-missing"


class DrawFailed(LabError):
    kind = "draw-failed"


def to_svg(dot_source: str, timeout: float = TIMEOUT) -> str:
    """Lay out DOT text with Graphviz's `dot` and return the SVG text."""
    try:
        # The notebook extra (the lab side never draws). graphviz's own backend builds the
        # command line and runs it; its `pipe()` takes no timeout, `run_check` passes one to
        # subprocess.run, which kills a `dot` that runs over it.
        from graphviz.backend import dot_command, execute
    except ImportError:
        raise GraphvizMissing("the `graphviz` Python package is not installed, so labkit "
                              "cannot draw the lab",
                              hint="pip install 'labkit[notebook]' (or `pip install "
                              "graphviz`)") from None
    cmd = dot_command.command("dot", "svg")
    try:
        # quiet: dot's warnings on stderr would land in the notebook's stored output.
        done = execute.run_check(cmd, input=dot_source.encode("utf-8"), capture_output=True,
                                 quiet=True, timeout=timeout)
    except execute.ExecutableNotFound:
        raise GraphvizMissing("Graphviz's `dot` program is not installed, so labkit cannot "
                              "draw the lab", hint=_INSTALL_HINT) from None
    except execute.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip()
        raise DrawFailed(f"Graphviz's dot failed ({exc.returncode}): {detail}") from None
    except subprocess.TimeoutExpired:
        raise DrawFailed(f"Graphviz's dot took more than {timeout:g} s to lay out the "
                         "drawing", hint="draw fewer namespaces: `lab.draw(focus=[...])`") \
            from None
    return fit_width(done.stdout.decode("utf-8"))


def fit_width(svg: str) -> str:
    """Graphviz's SVG made to scale to the width it is shown in (pure).

    Graphviz gives the size in points; JupyterLab shows an SVG output as an <img> with no
    max-width, so a wide drawing made the notebook scroll sideways and hid the legend. Here
    the width is 100% of the output area (no height: it follows from the viewBox), and the
    viewBox is at least MIN_WIDTH_PT wide, the drawing at its left: a small drawing is then
    shown at about its own size in a notebook 1000 px wide, not blown up to the full width,
    and a wide one is scaled down to fit. Works the same inline (<svg>) and as an <img>."""
    m = _ROOT.search(svg)
    if m is None:
        return svg
    x, y, w, h = m.group(3), m.group(4), float(m.group(5)), m.group(6)
    canvas = f"{max(w, MIN_WIDTH_PT):.2f}"
    root = (f'<svg width="100%" viewBox="{x} {y} {canvas} {h}" '
            'preserveAspectRatio="xMinYMin meet"')
    return svg[:m.start()] + root + svg[m.end():]
