"""The `labkit` command line: every command parses, bad ones get argparse's usage error
(exit 2), the help lists each command on one line, and the commands that need no lab
(modes, rootless status/stop) print what they should. No lab, no Docker."""

from __future__ import annotations

import json

import pytest

from labkit.cli import doctor, lab, lesson, rootless
from labkit.cli.command import command_line
from labkit.cli.main import build_parser, main
from labkit.errors import LabError
from labkit.hosts import modes
from labkit.hosts import rootless as hosts_rootless

PARSES = [
    (["up"], lab.cmd_up),
    (["up", "--build", "--course", "--wait", "5"], lab.cmd_up),
    (["down", "--volumes"], lab.cmd_down),
    (["reset", "-v"], lab.cmd_reset),
    (["run", "--timeout", "3", "--", "brctl", "show"], lab.cmd_run),
    (["shell"], lab.cmd_shell),
    (["topo", "--json", "--svg", "x.svg", "--focus", "ns1", "--focus", "ns2"], lab.cmd_topo),
    (["doctor"], doctor.cmd_doctor),
    (["modes", "--json"], rootless.cmd_modes),
    (["rootless", "start", "--kind", "netns"], rootless.cmd_start),
    (["rootless", "stop", "--purge"], rootless.cmd_stop),
    (["rootless", "status"], rootless.cmd_status),
    (["rootless", "run", "--kind", "rootless", "--timeout", "5", "--", "ip", "link"],
     rootless.cmd_run),
    (["rootless", "shell", "--kind", "netns"], rootless.cmd_shell),
    (["lesson", "check", "--sanitize", "s.cfg", "a.ipynb"], lesson.cmd_lesson_check),
    (["lesson", "build", "--record", "--timeout", "60", "a.ipynb", "b.ipynb"],
     lesson.cmd_lesson_build),
    (["lesson", "release", "out", "--force"], lesson.cmd_lesson_release),
    (["lesson", "new", "vlans", "--title", "VLANs", "--number", "7"], lesson.cmd_lesson_new),
    (["lesson", "sync", "--from", "text", "--force"], lesson.cmd_lesson_sync),
]


@pytest.mark.parametrize(("argv", "func"), PARSES, ids=[" ".join(a) for a, _ in PARSES])
def test_every_command_parses_to_its_function(argv, func):
    assert build_parser().parse_args(argv).func is func


def test_options_land_where_the_commands_read_them():
    args = build_parser().parse_args(["rootless", "run", "--kind", "netns", "--", "ip", "-br",
                                      "link"])
    assert (args.kind, args.timeout, args.command) == ("netns", 60.0, ["--", "ip", "-br", "link"])
    assert build_parser().parse_args(["rootless", "start"]).kind == "rootless"
    assert build_parser().parse_args(["rootless", "stop"]).kind is None
    args = build_parser().parse_args(["lesson", "build"])
    assert (args.paths, args.record, args.timeout) == ([], False, 600)
    assert build_parser().parse_args(["modes"]).json is False


@pytest.mark.parametrize(("argv", "usage"), [
    ([], "usage: labkit "),
    (["bogus"], "usage: labkit "),
    (["rootless"], "usage: labkit rootless "),
    (["rootless", "bogus"], "usage: labkit rootless "),
    (["rootless", "stop", "--timeout", "5"], "usage: labkit "),  # run's option, not stop's
    (["rootless", "start", "--kind", "vm"], "usage: labkit rootless start "),
    (["lesson", "bogus"], "usage: labkit lesson "),
    (["modes", "--yaml"], "usage: labkit "),
    (["lesson", "sync", "--from", "both"], "usage: labkit lesson sync "),
])
def test_a_bad_command_line_gets_the_usage_error(argv, usage, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith(usage)


def _command_rows(help_text: str) -> list[str]:
    """The lines of the COMMAND block of a --help text."""
    block = help_text.split("  COMMAND\n", 1)[1].split("\n\n", 1)[0]
    return block.splitlines()


@pytest.mark.parametrize(("argv", "names"), [
    ([], ["up", "down", "reset", "run", "shell", "topo", "doctor", "modes", "rootless",
          "lesson"]),
    (["rootless"], ["start", "stop", "status", "run", "shell"]),
    (["lesson"], ["check", "build", "release", "new", "sync"]),
])
def test_help_lists_every_command_on_one_line(argv, names, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    rows = _command_rows(capsys.readouterr().out)
    assert [row.split()[0] for row in rows] == names  # no row wrapped onto a second line
    assert all(len(row.split(None, 1)[1]) > 10 for row in rows)


@pytest.mark.parametrize("argv", [["rootless", "run"], ["rootless", "shell"], ["modes"],
                                  ["lesson", "build"], ["topo"]])
def test_each_command_has_its_own_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: labkit {' '.join(argv)} ")


def test_command_line_joins_the_words_after_the_dashes():
    assert command_line(["--", "brctl show"], example="") == "brctl show"
    assert command_line(["ip", "-br", "link"], example="") == "ip -br link"
    assert command_line(["--", "sh", "-c", "echo a; echo b"], example="") == \
        "sh -c 'echo a; echo b'"
    with pytest.raises(LabError, match="no command given") as err:
        command_line(["--"], example="labkit run -- true")
    assert err.value.hint == "for example: labkit run -- true"


def test_a_run_without_a_command_is_said_not_raised(capsys):
    assert main(["rootless", "run", "--"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("labkit: no command given.") and "labkit rootless run --" in err


def _report(**facts) -> modes.ModeReport:
    return modes.decide(modes.HostFacts(**facts))


def test_modes_prints_the_decision_and_exits_1_when_only_replay(monkeypatch, capsys):
    monkeypatch.setattr(modes, "detect", lambda full=False: _report())
    assert main(["modes"]) == 1
    assert capsys.readouterr().out == str(_report()) + "\n"
    live = _report(docker=modes.Check(True, "engine 20.10"))
    monkeypatch.setattr(modes, "detect", lambda full=False: live)
    assert main(["modes", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["mode"], out["number"]) == ("docker", 1)
    assert out["facts"]["docker"] == {"ok": True, "detail": "engine 20.10"}
    assert set(out) == {"mode", "number", "available", "reasons", "warnings", "facts"}


def test_rootless_status_and_stop_without_a_lab(monkeypatch, capsys):
    monkeypatch.setattr(hosts_rootless, "find", lambda kind=None: None)
    assert main(["rootless", "status"]) == 1
    assert capsys.readouterr().out == "null\n"
    stopped = []
    monkeypatch.setattr(hosts_rootless, "stop",
                        lambda kind=None, purge=False: stopped.append((kind, purge)) or [])
    assert main(["rootless", "stop", "--kind", "netns", "--purge"]) == 0
    assert capsys.readouterr().out == "nothing was running\n"
    assert stopped == [("netns", True)]
