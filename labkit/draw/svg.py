"""DOT text to SVG through the `graphviz` package: the only place that runs a program."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import threading

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
    source = dot_source.encode("utf-8")
    if os.name == "posix":
        program = shutil.which(str(cmd[0]))
        if program is None:
            raise _no_dot()
        return fit_width(_SPARE.draw([program, *map(str, cmd[1:])], source, timeout))
    try:
        # quiet: dot's warnings on stderr would land in the notebook's stored output.
        done = execute.run_check(cmd, input=source, capture_output=True, quiet=True,
                                 timeout=timeout)
    except execute.ExecutableNotFound:
        raise _no_dot() from None
    except execute.CalledProcessError as exc:
        raise _failed(exc.returncode, exc.stderr) from None
    except subprocess.TimeoutExpired:
        raise _too_slow(timeout) from None
    return fit_width(done.stdout.decode("utf-8"))


def _no_dot() -> GraphvizMissing:
    return GraphvizMissing("Graphviz's `dot` program is not installed, so labkit cannot draw "
                           "the lab", hint=_INSTALL_HINT)


def _failed(returncode: int, stderr: bytes | None) -> DrawFailed:
    detail = (stderr or b"").decode(errors="replace").strip()
    return DrawFailed(f"Graphviz's dot failed ({returncode}): {detail}")


def _too_slow(timeout: float) -> DrawFailed:
    return DrawFailed(f"Graphviz's dot took more than {timeout:g} s to lay out the drawing",
                      hint="draw fewer namespaces: `lab.draw(focus=[...])`")


class _Spare:
    """A `dot` started ahead of the next drawing, waiting on its stdin.

    Starting `dot` (linking pango, cairo and some 40 libraries) is about a quarter of a
    drawing's 37 ms with 10 Services; a spare started after each drawing has done it by the
    next cell. Each drawing still gets a `dot` of its own: one `dot` fed graph after graph
    orders clusters by where their names landed in its memory, so its SVG would differ from
    run to run (and from the lessons' stored outputs)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        # what it was started for: the program, and the directory and environment `dot`
        # reads its fonts' settings from (a spare started in other ones is not used)
        self._for: tuple = ()
        self._lock = threading.Lock()

    def draw(self, argv: list[str], source: bytes, timeout: float) -> str:
        want = (argv, os.getcwd(), dict(os.environ))
        for _ in range(2):
            with self._lock:
                proc, spare = self._take(want)
            try:
                out, err = proc.communicate(source, timeout=timeout)
            except subprocess.TimeoutExpired:
                _stop(proc)
                raise _too_slow(timeout) from None
            except BaseException:  # an interrupted cell: no `dot` left running
                _stop(proc)
                raise
            if not (spare and proc.returncode < 0):
                break  # else the spare was killed while it waited: once more, a fresh one
        if proc.returncode != 0:
            raise _failed(proc.returncode, err)  # warnings on stderr are dropped: quiet
        with self._lock:  # only after a drawing that worked: a failing `dot` gets no spare
            if self._proc is None:
                try:
                    self._proc, self._for = _start(argv), want
                except LabError:  # the drawing is made; the next one starts its own
                    pass
        return out.decode("utf-8")

    def _take(self, want: tuple) -> tuple[subprocess.Popen, bool]:
        """A `dot` for this drawing, and whether it is the spare."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None and self._for == want:
                return proc, True
            _stop(proc)  # exited, or started for another `dot` (PATH changed) or settings
        return _start(want[0]), False

    def forget(self) -> None:
        """In a forked child: the parent's spare is not ours. Only our copies of its pipes
        are closed (the parent's `dot` would otherwise never see its input end)."""
        self._lock = threading.Lock()  # another thread may have held it at the fork
        if self._proc is not None:
            for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
                if stream is not None:
                    stream.close()
            self._proc.returncode = 0  # not ours to wait for
        self._proc = None

    def stop(self) -> None:
        with self._lock:
            if self._proc is not None:
                _stop(self._proc)
            self._proc = None


def _start(argv: list[str]) -> subprocess.Popen:
    try:
        return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise _no_dot() from None
    except OSError as exc:  # not a program this machine runs, no permission, no memory
        raise DrawFailed(f"could not start Graphviz's dot ({argv[0]}): {exc}") from None


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.communicate()


_SPARE = _Spare()
atexit.register(_SPARE.stop)
if hasattr(os, "register_at_fork"):  # not on Windows, which has no spare
    os.register_at_fork(after_in_child=_SPARE.forget)


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
