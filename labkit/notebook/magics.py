"""The magics: `%%lab` runs a cell's lines as one bash script in the lab, `%lab CMD` one line
(no diagram), `%lab_draw on|off` switches the diagram after each `%%lab` cell, and
`%%lab --no-draw` leaves it out after one cell (an exercise cell whose picture would give the
answer away; the cell's metadata cannot say it: a kernel never sees it). The work is in
labkit.notebook.cell; this module is the IPython side: options, defaults, registration.

Defaults are traitlets, set with `%config` (`%config LabMagics` lists them):

    %config LabMagics.timeout = 120       # seconds; a cell's --timeout wins
    %config LabMagics.max_output = 0      # characters kept of the output; 0 = all of it
    %config LabMagics.draw = False        # the same switch as `%lab_draw off`

Loaded by `Lab.connect()` (labkit.notebook's ON_ACTIVATE hook), or with `%load_ext labkit`.
"""

from __future__ import annotations

import argparse
import shlex

from IPython.core.getipython import get_ipython
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Float, Int

from labkit.errors import UsageError
from labkit.lab import DEFAULT_TIMEOUT, Lab, current
from labkit.notebook.capture import parse_capture
from labkit.notebook.cell import check_script, drawing_message, drawing_switch, run_script
from labkit.result import Result
from labkit.transport.protocol import MAX_OUTPUT


def usage(timeout: float | None = None, max_output: int | None = None) -> str:
    """The `%%lab` usage text, with the defaults in force (`%config LabMagics.timeout = 120`
    changes what it says; unset, the lab's own)."""
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    max_output = MAX_OUTPUT if max_output is None else max_output
    said_timeout = "0: no limit" if not timeout else f"{timeout:g}"
    help_timeout = (f"stop the cell's commands after this long (default {said_timeout}; "
                    "0 = no limit)")
    said_output = "0: all of it" if not max_output else (
        f"{max_output}: the first and\n                      last {max_output // 4} "
        "characters of stdout and of stderr")
    return f"""usage: %%lab [--timeout SECONDS] [--max-output CHARS] [--check] [--no-draw]
            [--capture WHERE]
  --timeout SECONDS   {help_timeout}
  --max-output CHARS  keep about this much of the output (default {said_output}); 0 = all of it
  --check             fail the cell (stop "Run all") when the exit status is not 0
  --no-draw           no diagram after this cell (the next one drawn shows its changes)
  --capture WHERE     "[NAMESPACE:]INTERFACE [tcpdump options and filter]": watch it with
                      tcpdump while the cell runs and print what it saw after the output,
                      e.g. --capture "docker0 -e icmp" or --capture "outside:eth0 icmp\""""


#: option -> (what it needs, in words; how to read it)
_NUMBERS = {"--timeout": ("a number of seconds", float),
            "--max-output": ("a whole number of characters", int)}


def _at_least_zero(option: str):
    """argparse's `type=` for a number option, failing with labkit's own words."""
    what, kind = _NUMBERS[option]

    def read(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = -1
        if value < 0:
            raise argparse.ArgumentTypeError(f"{option} needs {what} >= 0, not {text!r}")
        return value
    return read


@magics_class
class LabMagics(Magics):
    """`%%lab`, `%lab` and `%lab_draw`, with their defaults as configurable traitlets."""

    # None: the lab's own default (`lab.timeout`, `lab.max_output`), so one setting holds
    # for cells and for `lab.run` alike unless %config says otherwise.
    timeout = Float(None, allow_none=True, min=0, help="Seconds a %%lab cell's commands may "
                    f"run before labkit stops them (0: no limit; None: the lab's, "
                    f"{DEFAULT_TIMEOUT:g} s unless set).").tag(config=True)
    max_output = Int(None, allow_none=True, min=0, help="Characters of a cell's output kept: "
                     "the first and last quarter of it per stream (0: all of it; None: the "
                     f"lab's, {MAX_OUTPUT} unless set).").tag(config=True)
    draw = Bool(True, help="Draw the lab's network after each %%lab cell (%lab_draw on|off)."
                ).tag(config=True)

    @cell_magic("lab")
    @magic_arguments("%lab")  # IPython adds one %: the help reads `%%lab [--timeout ...]`
    @argument("--timeout", type=_at_least_zero("--timeout"), metavar="SECONDS",
              help="stop the cell's commands after this long (0 = no limit)")
    @argument("--max-output", type=_at_least_zero("--max-output"), metavar="CHARS",
              help="keep about this much of the output (0 = all of it)")
    @argument("--check", action="store_true",
              help='fail the cell (stop "Run all") when the exit status is not 0')
    @argument("--no-draw", action="store_true",
              help="no diagram after this cell (the next one drawn shows its changes too)")
    @argument("--capture", metavar="WHERE",
              help="watch an interface with tcpdump while the cell runs; what it saw is "
                   'printed after the output (e.g. --capture "docker0 -e icmp")')
    def lab_cell(self, line: str, cell: str) -> None:
        """Run the cell's lines as one bash script in the lab, then draw the network."""
        opts = parse_options(line, usage(self.timeout, self.max_output))
        # Not drawn, not compared: Lab.after_cell compares with the last diagram shown.
        self._run(cell, opts, draw=self.draw and opts["draw"])

    @line_magic("lab")
    def lab_line(self, line: str) -> None:
        """`%lab CMD`: run one command line in the lab (no diagram, no options)."""
        self._run(line, parse_options(""), draw=False)

    @line_magic("lab_draw")
    def lab_draw(self, line: str) -> None:
        """`%lab_draw on|off`: whether %%lab cells draw the network after they run."""
        switch = drawing_switch(line)
        if switch is not None:
            self.draw = switch
        print(drawing_message(self.draw))

    def _run(self, script: str, opts: dict, *, draw: bool) -> Result:
        check_script(script)  # before current(): an empty cell must not connect a lab
        return run_script(current(), script, check=opts["check"], draw=draw,
                          capture=opts["capture"],
                          timeout=self.timeout if opts["timeout"] is None else opts["timeout"],
                          max_output=(self.max_output if opts["max_output"] is None
                                      else opts["max_output"]))


# The parser @magic_arguments built from the declarations above, made to leave its mistakes
# to parse_options (labkit's words, with the usage) and to take no abbreviation (`--time`).
_PARSER = LabMagics.lab_cell.parser
_PARSER.exit_on_error = False
_PARSER.allow_abbrev = False


def parse_options(line: str, usage_text: str | None = None) -> dict:
    """Options of `%%lab` (pure). Raises `UsageError` listing the allowed ones, followed by
    `usage_text` (the usage with the built-in defaults if not given)."""
    said = usage_text if usage_text is not None else usage()
    try:
        words = shlex.split(line)
    except ValueError as exc:  # an unbalanced quote
        raise UsageError(f"cannot read the options {line!r}: {exc}.\n" + said) from None
    try:
        args, extra = _PARSER.parse_known_args(words)
    except argparse.ArgumentError as exc:
        raise UsageError(_mistake(exc) + ".\n" + said) from None
    if extra:
        raise UsageError(f"unknown option {extra[0]!r} (must be one of [--timeout, "
                         "--max-output, --check, --no-draw, --capture]).\n" + said)
    return {"timeout": args.timeout, "max_output": args.max_output, "check": args.check,
            "draw": not args.no_draw,
            "capture": parse_capture(args.capture) if args.capture is not None else None}


def _mistake(exc: argparse.ArgumentError) -> str:
    """argparse's complaint in labkit's words (pure)."""
    option = exc.argument_name or ""
    if option in _NUMBERS and exc.message.startswith(option):  # from _at_least_zero
        return exc.message
    if option in _NUMBERS:  # the value is missing
        return f"{option} needs {_NUMBERS[option][0]} >= 0 after it, and none was given"
    return f"{option}: {exc.message}"


def register(ipython: InteractiveShell | None = None) -> bool:
    """Register the magics in the running IPython (no-op elsewhere, or when they already
    are). True if they are there."""
    ipython = ipython if ipython is not None else get_ipython()
    if ipython is None:
        return False
    if LabMagics.__name__ not in ipython.magics_manager.registry:
        ipython.register_magics(LabMagics(ipython))
    return True


def register_for(lab: Lab) -> None:
    """The hook run when a lab connects (labkit.lab.ON_ACTIVATE): its cells need %%lab."""
    register()
