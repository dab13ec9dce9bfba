"""What a `%%lab` cell does once its options are read, without IPython: run the script in
the lab with its output streaming into the cell, say a bad exit status in a line of its own,
then show the diagram. labkit.notebook.magics is the IPython side; `labkit run` streams the
same way (labkit.transport.output.to_std_streams).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from labkit.errors import CommandFailed, CommandTimeout, UsageError, explain_exit
from labkit.notebook.banner import Banner
from labkit.notebook.capture import Capture, wrap
from labkit.result import Result
from labkit.transport.output import to_std_streams

if TYPE_CHECKING:
    from labkit.lab import Lab

EMPTY_CELL = ("this %%lab cell has no commands: write shell commands on the lines below "
              "%%lab, e.g. `brctl show`.")


def status_line(result: Result) -> str | None:
    """The line shown under a cell that did not end well (pure)."""
    if result.ok:
        return None
    line = f"[exit status {result.exit_code}]"
    hint = explain_exit(result)
    return f"{line} {hint}" if hint else line


def check_script(script: str) -> str:
    """The cell's script, or `UsageError` for a cell with nothing to run (pure)."""
    if not script.strip():
        raise UsageError(EMPTY_CELL)
    return script


def drawing_switch(line: str) -> bool | None:
    """`%lab_draw on|off` read (pure): True, False, or None for a bare `%lab_draw`."""
    word = line.strip().lower()
    if word not in ("on", "off", ""):
        raise UsageError(f"unknown value {word!r} (must be one of [on, off]).")
    return None if not word else word == "on"


def drawing_message(on: bool) -> str:
    return f"diagrams after %%lab cells: {'on' if on else 'off'}"


def run_script(lab: Lab, script: str, *, timeout: float | None, max_output: int | None,
               check: bool = False, draw: bool = True, capture: Capture | None = None) -> Result:
    """Run a cell's script in `lab`, its output streaming into the cell; a status line under
    a bad exit status (`check`: raise `CommandFailed` instead); then the diagram (`draw`).
    `capture`: tcpdump watches an interface meanwhile (labkit.notebook.capture); messages
    still quote the cell's own script, not the plumbing around it."""
    if lab.replaying:  # said before the output: it was recorded elsewhere
        from IPython.display import display  # only in a kernel: `labkit run` has no IPython

        display(Banner(lab.transport.why))
    try:
        try:
            result = lab.run(wrap(script, capture) if capture else script, timeout=timeout,
                             max_output=max_output, on_output=to_std_streams)
        except CommandTimeout as exc:
            raise CommandTimeout(script, exc.timeout, exc.result) from None
        result = replace(result, command=script)
        if not result.stdout.endswith("\n") and result.stdout:
            sys.stdout.write("\n")
        message = status_line(result)
        if message:
            if check:
                raise CommandFailed(result)
            sys.stderr.write(message + "\n")
    finally:
        # Even a cell that failed or timed out may have changed the network: draw it here,
        # or the next cell's picture would take the blame.
        if draw:
            show_diagram(lab)
    return result


def show_diagram(lab: Lab) -> None:
    """The picture after a cell. A drawing problem never fails the learner's cell."""
    from IPython.display import display  # only in a kernel: `labkit run` has no IPython

    try:
        shown = lab.after_cell()
    except Exception as exc:  # noqa: BLE001 - say it in one line, keep the cell's output
        sys.stderr.write(f"(no diagram this time: {exc})\n")
        return
    display(shown)
