"""magics: option parsing and the status line (pure), and run_cell over local processes."""

from __future__ import annotations

import pytest

from labkit import lab as labmod
from labkit.errors import CommandFailed, CommandTimeout, UsageError
from labkit.lab import Lab
from labkit.notebook.magics import parse_options, run_cell, status_line
from labkit.result import Result
from labkit.transport.base import LocalTransport


@pytest.mark.parametrize(("line", "expected"), [
    ("", {"timeout": None, "check": False}),
    ("--check", {"timeout": None, "check": True}),
    ("--timeout 5", {"timeout": 5.0, "check": False}),
    ("--timeout=2.5", {"timeout": 2.5, "check": False}),
    ("--timeout 0", {"timeout": 0.0, "check": False}),
    ("--check --timeout 60", {"timeout": 60.0, "check": True}),
    ("  --timeout=1   --check  ", {"timeout": 1.0, "check": True}),
])
def test_parse_options(line, expected):
    assert parse_options(line) == {"max_output": None, **expected}


@pytest.mark.parametrize("line", ["--nope", "-t 5", "brctl", "--check --verbose"])
def test_unknown_option_lists_the_allowed_ones(line):
    with pytest.raises(UsageError) as err:
        parse_options(line)
    text = str(err.value)
    assert "unknown option" in text
    assert "(must be one of [--timeout, --max-output, --check])" in text
    assert "usage: %%lab [--timeout SECONDS] [--max-output CHARS] [--check]" in text


@pytest.mark.parametrize("line", ["--timeout", "--timeout abc", "--timeout -1",
                                  "--timeout=-3", "--timeout="])
def test_bad_timeout(line):
    with pytest.raises(UsageError, match=r"--timeout needs a number of seconds >= 0"):
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


# --- run_cell with a local lab (the kernel-inside-the-lab mode; no Docker needed) ---------


@pytest.fixture
def local_lab(tmp_path):
    before = labmod._current
    lab = Lab(LocalTransport(job_dir=str(tmp_path / "jobs")))._activate()
    lab.draw_after_cells = False  # the diagram after a cell is tested with the topology
    yield lab
    labmod._current = before


def test_run_cell_streams_and_shows_the_status(local_lab, capsys):
    result = run_cell("echo hi\necho oops >&2\nfalse")
    out, err = capsys.readouterr()
    assert out == "hi\n"
    assert err == "oops\n[exit status 1]\n"
    assert result.exit_code == 1


def test_run_cell_success_has_no_status_line(local_lab, capsys):
    run_cell("echo ok")
    assert capsys.readouterr() == ("ok\n", "")


def test_run_cell_ends_output_with_a_newline(local_lab, capsys):
    run_cell("printf no-newline")
    assert capsys.readouterr().out == "no-newline\n"


def test_run_cell_check_raises(local_lab, capsys):
    with pytest.raises(CommandFailed) as err:
        run_cell("echo before; exit 3", "--check")
    assert err.value.result.exit_code == 3
    assert capsys.readouterr().out == "before\n"


def test_run_cell_timeout(local_lab):
    with pytest.raises(CommandTimeout) as err:
        run_cell("echo started; sleep 30", "--timeout 1")
    assert err.value.result.stdout == "started\n"


def test_run_cell_empty(local_lab):
    with pytest.raises(UsageError, match="no commands"):
        run_cell("   \n\n", "")


def test_run_cell_bad_option_runs_nothing(local_lab, tmp_path, capsys):
    flag = tmp_path / "ran"
    with pytest.raises(UsageError):
        run_cell(f"touch {flag}", "--bogus")
    assert not flag.exists()
