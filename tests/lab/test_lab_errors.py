"""Each error a learner will hit, produced for real (no mocks): a clear paragraph with
"What to do", and for timeouts no process left behind in the lab."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from labkit import (
    CommandFailed,
    CommandTimeout,
    DockerUnavailable,
    Lab,
    LabError,
    LabGone,
    LabNotFound,
    LabStarting,
)
from labkit.errors import explain_exit

pytestmark = pytest.mark.lab

NOWHERE = "unix:///tmp/labkit-test-nowhere.sock"


def in_lab_processes(lab, pattern: str) -> str:
    """Lines of `ps` in the lab whose command line matches `pattern` exactly."""
    out = lab.sh("ps -eo pid,ppid,pgid,args")
    return "\n".join(line for line in out.splitlines()
                     if line.split(None, 3)[3:] == [pattern])


# --- Docker not running ---------------------------------------------------------------------


@pytest.fixture
def no_docker(monkeypatch):
    """No Docker engine, and no fallback to a lab labkit would start itself (rootless): the
    live mode is forced to replay, as on a host that allows neither."""
    monkeypatch.setenv("DOCKER_HOST", NOWHERE)
    monkeypatch.setenv("LABKIT_LIVE_MODE", "replay")
    return {**os.environ}


def test_docker_not_running_named_lab(no_docker):
    with pytest.raises(DockerUnavailable) as err:
        Lab.connect(name="labkit_dind_1")
    text = str(err.value)
    assert "Docker is not reachable" in text
    assert "\n\nWhat to do: start Docker" in text


def test_docker_not_running_and_no_other_live_lab(no_docker, capsys):
    """Replay: the lesson's recordings, and an explanation for anything not recorded."""
    lab = Lab.connect()
    assert lab.replaying and lab.mode == "replay"
    assert "not docker: no usable Docker engine" in capsys.readouterr().err
    with pytest.raises(LabError) as err:
        lab.run("true")
    text = str(err.value)
    assert "not in this lesson's recording" in text and "live mode 1" in text
    assert "\n\nWhat to do:" in text


def test_docker_not_running_cli(no_docker):
    run = subprocess.run([sys.executable, "-m", "labkit.cli", "run", "--", "true"],
                         env=no_docker, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert "no usable Docker engine" in run.stderr and "What to do:" in run.stderr
    assert "Traceback" not in run.stderr
    doctor = subprocess.run([sys.executable, "-m", "labkit.cli", "doctor"], env=no_docker,
                            capture_output=True, text=True, timeout=60, check=False)
    assert doctor.returncode == 1
    assert "[FAIL] Docker engine:" in doctor.stdout
    assert "what to do: start Docker" in doctor.stdout
    assert "NOT usable" in doctor.stdout


# --- lab not started ------------------------------------------------------------------------


def test_lab_not_started(lab):
    with pytest.raises(LabNotFound) as err:
        Lab.connect(name="no-such-lab")
    assert "The lab is not started" in str(err.value)
    assert "'no-such-lab'" in str(err.value)
    assert "What to do:" in str(err.value) and "labkit up" in str(err.value)


# --- lab still starting ---------------------------------------------------------------------


def test_lab_still_starting(lab, throwaway_lab):
    fresh = throwaway_lab("starting")
    start = time.monotonic()
    with pytest.raises(LabStarting) as err:
        Lab.connect(name=fresh.name, wait=0.5)
    assert time.monotonic() - start < 10
    text = str(err.value)
    assert f"The lab ({fresh.name}) is still starting" in text
    assert "What to do: wait a few seconds" in text


# --- command not found / command fails ------------------------------------------------------


def test_command_not_found(lab):
    res = lab.run("nosuchcmd --help")
    assert res.exit_code == 127
    assert "nosuchcmd: command not found" in res.stderr
    hint = explain_exit(res)
    assert hint and "`nosuchcmd` is not installed in the lab" in hint


def test_program_missing_in_a_container(lab):
    """`docker exec busybox1 bash`: busybox has no bash (and no wget, on purpose). Docker
    20.10's CLI prints the reason on stdout and exits 126; the hint must name the program
    and not claim that "the file exists"."""
    lab.sh("docker run -dit --name busybox1 busybox sh")
    res = lab.run("docker exec busybox1 bash")
    assert res.exit_code == 126
    assert 'exec: "bash": executable file not found in $PATH' in res.output
    hint = explain_exit(res)
    assert hint and "`bash`" in hint and "exists" not in hint


def test_program_missing_in_a_new_container(lab):
    res = lab.run("docker run --rm busybox nosuchprog")
    assert res.exit_code == 127
    assert 'exec: "nosuchprog": executable file not found' in res.stderr
    hint = explain_exit(res)
    assert hint and "`nosuchprog`" in hint
    assert "executable file not found in $PATH`" not in hint  # not taken for a name


def test_command_fails_with_check(lab):
    with pytest.raises(CommandFailed) as err:
        lab.run("echo partial; ls /no-such-dir", check=True)
    exc = err.value
    assert exc.result.exit_code == 2 and exc.result.stdout == "partial\n"
    assert "`echo partial; ls /no-such-dir` failed in the lab with exit status 2" in str(exc)
    assert "No such file or directory" in str(exc) and "What to do:" in str(exc)


def test_command_fails_without_check_is_a_result(lab):
    res = lab.run("false")
    assert res.exit_code == 1 and not res.ok


# --- command hangs past its timeout -----------------------------------------------------------


def test_timeout_raises_and_kills_the_process_in_the_lab(lab):
    start = time.monotonic()
    with pytest.raises(CommandTimeout) as err:
        lab.run("echo begun; sleep 987", timeout=1)
    took = time.monotonic() - start
    assert 1 <= took < 6, took
    assert err.value.result.stdout == "begun\n" and err.value.result.timed_out
    assert "was still running after 1 s" in str(err.value)
    assert "What to do:" in str(err.value)
    assert in_lab_processes(lab, "sleep 987") == ""


def test_timeout_kills_children_of_children(lab):
    with pytest.raises(CommandTimeout):
        lab.run("bash -c 'sleep 986 & sh -c \"sleep 985\" & wait'; sleep 984", timeout=1)
    time.sleep(0.2)
    for marker in ("sleep 986", "sleep 985", "sleep 984"):
        assert in_lab_processes(lab, marker) == "", marker


def test_timeout_kills_a_command_that_ignores_term(lab):
    start = time.monotonic()
    with pytest.raises(CommandTimeout):
        lab.run("trap '' TERM; sleep 983", timeout=1)
    assert time.monotonic() - start < 8
    assert in_lab_processes(lab, "sleep 983") == ""


def test_lab_still_works_after_a_timeout(lab):
    with pytest.raises(CommandTimeout):
        lab.run("sleep 982", timeout=0.5)
    assert lab.sh("echo alive") == "alive\n"
    # no job files left behind: only this command's own
    assert lab.sh("ls /run/labkit/jobs | wc -l") == "1\n"


def test_interrupt_kills_the_process_in_the_lab(lab):
    """Ctrl-C in the notebook (KeyboardInterrupt while waiting) stops the command in the lab."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    seen: list[str] = []
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        with pytest.raises(KeyboardInterrupt):
            lab.run("echo go; sleep 981", timeout=30, on_output=lambda s, t: seen.append(t))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    time.sleep(0.3)
    assert "go\n" in seen
    assert in_lab_processes(lab, "sleep 981") == ""


# --- lab container removed mid-session ------------------------------------------------------


def test_lab_removed_between_commands(lab, throwaway_lab):
    doomed = throwaway_lab("gone")
    other = Lab.connect(name=doomed.name, wait=120)
    assert other.sh("echo hi") == "hi\n"
    doomed.remove(force=True, v=True)
    with pytest.raises(LabGone) as err:
        other.run("echo hi")
    assert f"The lab container {doomed.name} disappeared" in str(err.value)
    assert "What to do: start a new lab" in str(err.value)
    assert not other.alive()


def test_lab_removed_during_a_command(lab, throwaway_lab):
    doomed = throwaway_lab("gone-mid")
    other = Lab.connect(name=doomed.name, wait=120)
    killer = threading.Timer(1.0, lambda: doomed.remove(force=True, v=True))
    killer.start()
    start = time.monotonic()
    try:
        with pytest.raises(LabGone):
            other.run("echo started; sleep 60", timeout=120)
    finally:
        killer.join()
    assert time.monotonic() - start < 30


# --- messages, not tracebacks -----------------------------------------------------------------


@pytest.mark.parametrize("args, said", [
    (["topo", "--svg", "/no/such/dir/x.svg"], "there is no folder /no/such/dir"),
    (["topo", "--svg", "/tmp"], "cannot write the drawing to /tmp: it is a folder"),
    (["topo", "--svg", "/tmp/labkit-test-x.svg", "--focus", "nope"],
     "unknown namespace(s) ['nope'] in focus"),
])
def test_cli_says_what_is_wrong_without_a_traceback(lab, args, said):
    run = subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode != 0
    assert said in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_draw_with_an_unknown_focus_is_a_usage_error(lab):
    from labkit.errors import UsageError

    with pytest.raises(UsageError, match=r"unknown namespace\(s\) \['nope'\] in focus"):
        lab.draw(focus=["nope"])
