"""magics: option parsing and the status line (pure); the magics in a real IPython shell over
local processes, and their %config defaults with a lab that records what it was asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets import TraitError
from traitlets.config import Config

from labkit import lab as labmod
from labkit.errors import CommandFailed, CommandTimeout, UsageError
from labkit.lab import Lab
from labkit.model.diff import steady
from labkit.model.topology import from_json
from labkit.notebook import cell as cell_module
from labkit.notebook.cell import status_line
from labkit.notebook.magics import LabMagics, parse_options, register
from labkit.result import Result
from labkit.transport.local import LocalTransport

RECORDINGS = Path(__file__).resolve().parents[2] / "notebooks" / "recordings"


@pytest.mark.parametrize(("line", "expected"), [
    ("", {"timeout": None, "check": False}),
    ("--check", {"timeout": None, "check": True}),
    ("--timeout 5", {"timeout": 5.0, "check": False}),
    ("--timeout=2.5", {"timeout": 2.5, "check": False}),
    ("--timeout 0", {"timeout": 0.0, "check": False}),
    ("--check --timeout 60", {"timeout": 60.0, "check": True}),
    ("  --timeout=1   --check  ", {"timeout": 1.0, "check": True}),
    ("--no-draw", {"timeout": None, "check": False, "draw": False}),
    ("--check --no-draw --timeout 3", {"timeout": 3.0, "check": True, "draw": False}),
])
def test_parse_options(line, expected):
    assert parse_options(line) == {"max_output": None, "draw": True, "capture": None,
                                   **expected}


@pytest.mark.parametrize("line", ["--nope", "-t 5", "brctl", "--check --verbose"])
def test_unknown_option_lists_the_allowed_ones(line):
    with pytest.raises(UsageError) as err:
        parse_options(line)
    text = str(err.value)
    assert "unknown option" in text
    assert "(must be one of [--timeout, --max-output, --check, --no-draw, --capture])" in text
    assert ("usage: %%lab [--timeout SECONDS] [--max-output CHARS] [--check] [--no-draw]"
            in text)


@pytest.mark.parametrize("line", ["--timeout", "--timeout abc", "--timeout -1",
                                  "--timeout=-3", "--timeout="])
def test_bad_timeout(line):
    with pytest.raises(UsageError, match=r"--timeout needs a number of seconds >= 0"):
        parse_options(line)


@pytest.mark.parametrize("line", ["--timeout", "--timeout --check", "--max-output"])
def test_a_missing_value_is_named_as_missing(line):
    with pytest.raises(UsageError, match=r"needs a .* >= 0 after it, and none was given"):
        parse_options(line)


def r(code=0, stderr="", timed_out=False) -> Result:
    return Result("cmd", "", stderr, code, 0.1, timed_out)


def test_status_line():
    assert status_line(r(0)) is None
    assert status_line(r(1)) == "[exit status 1]"
    assert status_line(r(2, stderr="ls: /x: No such file")) == "[exit status 2]"
    line = status_line(r(127, stderr="bash: line 1: nosuchcmd: command not found\n"))
    assert line.startswith("[exit status 127] `nosuchcmd` is not installed in the lab")
    assert status_line(r(124, timed_out=True)).startswith("[exit status 124] the command was")


# --- the magics in an IPython shell (no Docker: a local lab, or a fake that records) -------


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    """A real IPython shell, not the process-wide instance: get_ipython() stays None for the
    other tests, and its profile and history stay in a temporary folder."""
    import os
    import sys

    main, ipdir = sys.modules["__main__"], os.environ.get("IPYTHONDIR")
    os.environ["IPYTHONDIR"] = str(tmp_path_factory.mktemp("ipython"))
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ip = InteractiveShell(config=config)
    assert register(ip) and register(ip)  # idempotent: one LabMagics
    yield ip
    sys.modules["__main__"] = main  # the shell put its own user module there
    if ipdir is None:
        os.environ.pop("IPYTHONDIR")
    else:
        os.environ["IPYTHONDIR"] = ipdir


@pytest.fixture
def magics(shell):
    m = shell.magics_manager.registry["LabMagics"]
    saved = {name: getattr(m, name) for name in ("timeout", "max_output", "draw")}
    yield m
    for name, value in saved.items():
        setattr(m, name, value)


@pytest.fixture
def local_lab(tmp_path, magics):
    before = labmod._current
    lab = Lab(LocalTransport(job_dir=str(tmp_path / "jobs")))._activate()
    magics.draw = False  # the diagram after a cell is tested with the topology
    yield lab
    labmod._current = before


class FakeLab:
    """Stands in for labkit's Lab: records what each cell asked for, draws a word."""

    replaying = False

    def __init__(self) -> None:
        self.runs: list[tuple[str, dict]] = []
        self.drawn = 0

    def run(self, command: str, **kwargs) -> Result:
        self.runs.append((command, kwargs))
        return Result(command, "ok\n", "", 0, 0.01)

    def after_cell(self) -> str:
        self.drawn += 1
        return "a diagram"


@pytest.fixture
def fake_lab(magics, monkeypatch):
    lab = FakeLab()
    monkeypatch.setattr(labmod, "_current", lab)
    return lab


def test_run_cell_streams_and_shows_the_status(shell, local_lab, capsys):
    shell.run_cell_magic("lab", "", "echo hi\necho oops >&2\nfalse")
    out, err = capsys.readouterr()
    assert out == "hi\n"
    assert err == "oops\n[exit status 1]\n"


def test_run_cell_success_has_no_status_line(shell, local_lab, capsys):
    shell.run_cell_magic("lab", "", "echo ok")
    assert capsys.readouterr() == ("ok\n", "")


def test_run_cell_ends_output_with_a_newline(shell, local_lab, capsys):
    shell.run_cell_magic("lab", "", "printf no-newline")
    assert capsys.readouterr().out == "no-newline\n"


def test_run_cell_check_raises(shell, local_lab, capsys):
    with pytest.raises(CommandFailed) as err:
        shell.run_cell_magic("lab", "--check", "echo before; exit 3")
    assert err.value.result.exit_code == 3
    assert capsys.readouterr().out == "before\n"


def test_run_cell_timeout(shell, local_lab):
    with pytest.raises(CommandTimeout) as err:
        shell.run_cell_magic("lab", "--timeout 1", "echo started; sleep 30")
    assert err.value.result.stdout == "started\n"


def test_line_magic_runs_its_line(shell, local_lab, capsys):
    shell.run_line_magic("lab", "echo one line --check")
    assert capsys.readouterr().out == "one line --check\n"  # the line is the command


def test_run_cell_empty(shell, fake_lab):
    with pytest.raises(UsageError, match="no commands"):
        shell.run_cell_magic("lab", "", "   \n\n")
    assert fake_lab.runs == []


def test_run_cell_bad_option_runs_nothing(shell, local_lab, tmp_path):
    flag = tmp_path / "ran"
    with pytest.raises(UsageError, match=r"unknown option '--bogus' \(must be one of"):
        shell.run_cell_magic("lab", "--bogus", f"touch {flag}")
    assert not flag.exists()


def test_config_sets_the_defaults_a_cell_runs_with(shell, magics, fake_lab, capsys):
    shell.run_cell_magic("lab", "", "true")
    # Unset: the lab's own defaults apply (lab.timeout, lab.max_output), as for lab.run.
    assert fake_lab.runs[-1][1]["timeout"] is None
    assert fake_lab.runs[-1][1]["max_output"] is None
    shell.run_line_magic("config", "LabMagics.timeout = 120")
    shell.run_line_magic("config", "LabMagics.max_output = 0")
    shell.run_cell_magic("lab", "", "true")
    assert {k: fake_lab.runs[-1][1][k] for k in ("timeout", "max_output")} == {
        "timeout": 120.0, "max_output": 0}
    shell.run_cell_magic("lab", "--timeout 5 --max-output 10", "true")  # the cell's own win
    assert {k: fake_lab.runs[-1][1][k] for k in ("timeout", "max_output")} == {
        "timeout": 5.0, "max_output": 10}
    shell.run_line_magic("lab", "true")  # %lab CMD uses the defaults too
    assert fake_lab.runs[-1][1]["timeout"] == 120.0
    with pytest.raises(TraitError):
        magics.timeout = -1
    # a mistake's usage text says the defaults now in force, not the built-in ones
    with pytest.raises(UsageError) as mistake:
        shell.run_cell_magic("lab", "--bogus", "true")
    assert "(default 120; 0 = no limit)" in str(mistake.value)
    assert "(default 0: all of it); 0 = all of it" in str(mistake.value)


def test_lab_draw_switches_the_diagram(shell, magics, fake_lab, capsys):
    shell.run_cell_magic("lab", "", "true")
    assert fake_lab.drawn == 1
    shell.run_line_magic("lab", "true")  # %lab CMD never draws
    assert fake_lab.drawn == 1
    shell.run_line_magic("lab_draw", "off")
    assert capsys.readouterr().out.endswith("diagrams after %%lab cells: off\n")
    assert magics.draw is False
    shell.run_cell_magic("lab", "", "true")
    assert fake_lab.drawn == 1
    shell.run_line_magic("lab_draw", "")
    assert capsys.readouterr().out == "diagrams after %%lab cells: off\n"
    shell.run_line_magic("config", "LabMagics.draw = True")
    shell.run_cell_magic("lab", "", "true")
    assert fake_lab.drawn == 2
    with pytest.raises(UsageError, match=r"unknown value 'maybe' \(must be one of \[on, off\]\)"):
        shell.run_line_magic("lab_draw", "maybe")


def test_no_draw_leaves_the_diagram_out_of_one_cell(shell, magics, fake_lab):
    shell.run_cell_magic("lab", "--no-draw", "true")
    assert fake_lab.drawn == 0 and fake_lab.runs[-1][0] == "true"  # it ran, undrawn
    shell.run_cell_magic("lab", "", "true")
    assert fake_lab.drawn == 1
    shell.run_line_magic("lab_draw", "off")
    shell.run_cell_magic("lab", "--no-draw", "true")  # off stays off
    assert fake_lab.drawn == 1


def test_the_cell_after_an_undrawn_one_shows_both_cells_changes(shell, magics, tmp_path,
                                                                monkeypatch):
    """Lesson 1's exercise: busybox2 comes in a drawn cell, busybox3 in an undrawn one; the
    next drawn cell shows busybox3 as new (changes since the last diagram shown)."""
    rec = json.loads((RECORDINGS / "01-docker0.json").read_text())
    every = [steady(from_json(v)) for v in rec["topologies"].values()]

    def first(names: set[str]):  # by content: a lesson's new cells renumber its states
        return next(t for t in every
                    if {n.name for n in t.namespaces if n.kind == "container"} == names)

    states = iter([first({"busybox1", "busybox2"}),
                   first({"busybox1", "busybox2", "busybox3"})])
    monkeypatch.setattr(labmod, "_current", labmod._current)  # put back afterwards
    lab = Lab(LocalTransport(job_dir=str(tmp_path / "jobs")))._activate()
    monkeypatch.setattr(lab, "snapshot", lambda: next(states))
    shown = []
    monkeypatch.setattr(cell_module, "show_diagram", lambda lab: shown.append(lab.after_cell()))
    shell.run_cell_magic("lab", "", "true")  # drawn: busybox1 and busybox2
    shell.run_cell_magic("lab", "--no-draw", "true")  # busybox3 started: not drawn
    shell.run_cell_magic("lab", "", "true")
    assert len(shown) == 2
    assert "+ namespace busybox3" in shown[1].text()


def test_a_usage_error_shows_without_a_traceback(shell, fake_lab, capsys):
    shell.run_cell("%%lab --timeout x\ntrue")
    out, err = capsys.readouterr()
    shown = out + err
    assert "--timeout needs a number of seconds >= 0, not 'x'." in shown
    assert "Traceback" not in shown and fake_lab.runs == []


def test_the_help_is_the_usage():
    assert ("%%lab [--timeout SECONDS] [--max-output CHARS] [--check] [--no-draw]"
            in LabMagics.lab_cell.__doc__)


def test_capture_wraps_the_cells_script_and_a_bad_one_runs_nothing(shell, fake_lab):
    shell.run_cell_magic("lab", '--capture "docker0 -e icmp"', "ping -c 1 172.17.0.2")
    sent = fake_lab.runs[-1][0]
    assert "tcpdump -i docker0 -n -t -l -e icmp" in sent and "(\nping -c 1 172.17.0.2\n)" in sent
    with pytest.raises(UsageError, match="--capture takes"):
        shell.run_cell_magic("lab", '--capture "a:b:c"', "true")
    assert len(fake_lab.runs) == 1


def test_a_captured_cell_that_times_out_quotes_its_own_script(shell, fake_lab, monkeypatch):
    from labkit.errors import CommandTimeout

    def too_long(command, **kwargs):
        raise CommandTimeout(command, 2)

    monkeypatch.setattr(fake_lab, "run", too_long)
    with pytest.raises(CommandTimeout) as err:
        shell.run_cell_magic("lab", '--capture "docker0"', "sleep 30")
    assert str(err.value).startswith("`sleep 30` was still running after 2 s")
