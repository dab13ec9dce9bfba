"""The notebook side: `%%lab` runs a cell's lines as one bash script in the lab, `%lab` one
line. Output streams into the cell as it comes (stdout normal, stderr on the red stream), a
non-zero exit status is shown in a line of its own, and after a `%%lab` cell the diagram of
the lab's network (`Lab.after_cell`) appears, highlighting what the cell changed.
`%lab_draw off` stops the diagrams.

Loaded by `Lab.connect()`, or with `%load_ext labkit`.
"""

from __future__ import annotations

import shlex
import sys

from labkit.errors import CommandFailed, UsageError, explain_exit
from labkit.result import Result

_USAGE = """usage: %%lab [--timeout SECONDS] [--max-output CHARS] [--check]
  --timeout SECONDS   stop the cell's commands after this long (default 60; 0 = no limit)
  --max-output CHARS  keep about this much of the output (default 1000000: the first and
                      last 250000 characters of stdout and of stderr); 0 = all of it
  --check             fail the cell (stop "Run all") when the exit status is not 0"""

_NUMBERS = {"--timeout": ("timeout", float, "a number of seconds"),
            "--max-output": ("max_output", int, "a whole number of characters")}


def parse_options(line: str) -> dict:
    """Options of `%%lab` (pure). Raises `UsageError` listing the allowed ones."""
    opts: dict = {"timeout": None, "max_output": None, "check": False}
    try:
        words = shlex.split(line)
    except ValueError as exc:  # an unbalanced quote
        raise UsageError(f"cannot read the options {line!r}: {exc}.\n" + _USAGE) from None
    while words:
        word = words.pop(0)
        name = word.partition("=")[0]
        if word == "--check":
            opts["check"] = True
        elif name in _NUMBERS:
            key, kind, what = _NUMBERS[name]
            value = word.partition("=")[2] or (words.pop(0) if words else "")
            try:
                opts[key] = kind(value)
                if opts[key] < 0:
                    raise ValueError
            except ValueError:
                raise UsageError(f"{name} needs {what} >= 0, not {value!r}.\n"
                                 + _USAGE) from None
        else:
            raise UsageError(f"unknown option {word!r} (must be one of [--timeout, "
                             "--max-output, --check]).\n" + _USAGE)
    return opts


def stream_to_cell(stream: str, text: str) -> None:
    """Write output as it arrives; Jupyter shows stderr on its red-tinted stream."""
    target = sys.stderr if stream == "stderr" else sys.stdout
    target.write(text)
    target.flush()


def status_line(result: Result) -> str | None:
    """The line shown under a cell that did not end well (pure)."""
    if result.ok:
        return None
    line = f"[exit status {result.exit_code}]"
    hint = explain_exit(result)
    return f"{line} {hint}" if hint else line


def run_cell(script: str, line: str = "", draw: bool = True) -> Result:
    from labkit.lab import current

    opts = parse_options(line)
    if not script.strip():
        raise UsageError("this %%lab cell has no commands: write shell commands on the lines "
                         "below %%lab, e.g. `brctl show`.")
    lab = current()
    if getattr(lab, "replaying", False):  # said before the output: it was recorded elsewhere
        from IPython.display import display

        from labkit.notebook.banner import Banner

        display(Banner(lab.transport.why))
    try:
        result = lab.run(script, timeout=opts["timeout"], max_output=opts["max_output"],
                         on_output=stream_to_cell)
        if not result.stdout.endswith("\n") and result.stdout:
            sys.stdout.write("\n")
        message = status_line(result)
        if message:
            if opts["check"]:
                raise CommandFailed(result)
            sys.stderr.write(message + "\n")
    finally:
        # Even a cell that failed or timed out may have changed the network: draw it here,
        # or the next cell's picture would take the blame.
        if draw and lab.draw_after_cells:
            show_diagram(lab)
    return result


def show_diagram(lab) -> None:
    """The picture after a cell. A drawing problem never fails the learner's cell."""
    from IPython.display import display

    try:
        shown = lab.after_cell()
    except Exception as exc:  # noqa: BLE001 - say it in one line, keep the cell's output
        sys.stderr.write(f"(no diagram this time: {exc})\n")
        return
    display(shown)


def set_drawing(line: str) -> str:
    """`%lab_draw on|off`: whether %%lab cells draw the network after they run."""
    from labkit.lab import current

    word = line.strip().lower()
    if word not in ("on", "off", ""):
        raise UsageError(f"unknown value {word!r} (must be one of [on, off]).")
    lab = current()
    if word:
        lab.draw_after_cells = word == "on"
    return f"diagrams after %%lab cells: {'on' if lab.draw_after_cells else 'off'}"


def register_for(lab) -> None:
    """The hook run when a lab connects (labkit.lab.ON_ACTIVATE): its cells need %%lab."""
    register()


def register(ipython=None) -> bool:
    """Register the magics in the running IPython (no-op elsewhere). True if registered."""
    if ipython is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        ipython = get_ipython()
    if ipython is None:
        return False

    def lab_cell(line: str, cell: str) -> None:
        run_cell(cell, line)

    def lab_line(line: str) -> None:
        run_cell(line, draw=False)

    def lab_draw(line: str) -> None:
        print(set_drawing(line))

    ipython.register_magic_function(lab_cell, "cell", "lab")
    ipython.register_magic_function(lab_line, "line", "lab")
    ipython.register_magic_function(lab_draw, "line", "lab_draw")
    return True
