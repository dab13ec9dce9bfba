"""lab: ResetReport (pure), and Lab's own logic over local processes (no Docker)."""

from __future__ import annotations

import pytest

from labkit import lab as labmod
from labkit.errors import CommandFailed, CommandTimeout
from labkit.lab import Lab, ResetReport
from labkit.scripts import text as script
from labkit.transport.local import LocalTransport


def test_reset_report_parse():
    text = ("did: removed container busybox1\n"
            "noise from a tool\n"
            "did: deleted namespace red\n"
            "warn: could not delete namespace blue\n"
            "  did: indented lines are not report lines\n")
    rep = ResetReport.parse(text)
    assert rep.actions == ("removed container busybox1", "deleted namespace red")
    assert rep.warnings == ("could not delete namespace blue",)
    assert not rep.clean


def test_reset_report_empty_is_clean():
    rep = ResetReport.parse("")
    assert rep == ResetReport() and rep.clean
    assert str(rep) == "The lab is back at its starting state."


def test_reset_report_str_is_stable():
    """Actions do not show in str(): a lesson's first cell prints the same whatever the
    lab held before."""
    a = ResetReport(("removed container x",))
    b = ResetReport(())
    assert str(a) == str(b)


def test_reset_report_str_with_warnings():
    rep = ResetReport((), ("link eth0 is gone", "could not restore"))
    assert str(rep) == ("The lab was reset, but some things could not be fixed:\n"
                        "  - link eth0 is gone\n  - could not restore")


def test_scripts_are_packaged():
    assert script("reset.sh").startswith("#!/bin/bash")
    assert "iptables-save" in script("baseline.sh")


@pytest.fixture
def local(tmp_path):
    before = labmod._current
    yield Lab(LocalTransport(job_dir=str(tmp_path)), timeout=5)
    labmod._current = before


def test_lab_run_timeout_raises_with_partial_output(local):
    with pytest.raises(CommandTimeout) as err:
        local.run("echo so-far; sleep 30", timeout=1)
    assert err.value.result.stdout == "so-far\n"
    assert err.value.result.timed_out


def test_lab_default_timeout_applies(local):
    local.timeout = 1
    with pytest.raises(CommandTimeout):
        local.run("sleep 30")


def test_lab_check(local):
    assert local.run("exit 4").exit_code == 4
    with pytest.raises(CommandFailed) as err:
        local.run("echo bad >&2; exit 4", check=True)
    assert err.value.result.stderr == "bad\n"
    assert local.sh("echo fine") == "fine\n"


def test_lab_a_command_that_exits_124_itself_is_not_a_timeout(local):
    res = local.run("exit 124", timeout=5)
    assert res.exit_code == 124 and not res.timed_out


def test_lab_mode_and_repr(local):
    assert local.mode == "local" and local.name == "local"
    assert repr(local) == "<Lab: ready, commands run by local>"
