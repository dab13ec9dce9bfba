"""errors: each a clear paragraph with "What to do", and explain_exit's hints (pure)."""

from __future__ import annotations

import pytest

from labkit import errors
from labkit.errors import explain_exit
from labkit.result import Result


def res(command="nosuchcmd", stdout="", stderr="", exit_code=0, timed_out=False) -> Result:
    return Result(command, stdout, stderr, exit_code, 0.01, timed_out)


def test_explain_command_not_found_bash():
    hint = explain_exit(res(stderr="bash: line 1: nosuchcmd: command not found\n",
                            exit_code=127))
    assert hint is not None and "`nosuchcmd` is not installed in the lab" in hint
    assert "docker exec busybox1" in hint


def test_explain_command_not_found_without_a_name():
    hint = explain_exit(res(stderr="not found\n", exit_code=127))
    assert hint is not None and hint.startswith("that command is not installed")


def test_explain_127_without_not_found_is_silent():
    assert explain_exit(res(stderr="something else\n", exit_code=127)) is None


def test_explain_timeout_and_126():
    assert "timeout" in explain_exit(res(exit_code=124, timed_out=True))
    assert "cannot be run" in explain_exit(res(exit_code=126))


@pytest.mark.parametrize("code", [0, 1, 2, 124, 255])
def test_explain_ordinary_codes(code):
    assert explain_exit(res(exit_code=code)) is None


ERRORS = [
    errors.DockerUnavailable("connection refused"),
    errors.LabNotFound(),
    errors.LabNotFound("looked for 'x'"),
    errors.LabStarting("labkit_dind_1", 90),
    errors.LabStopped("labkit_dind_1", "exited"),
    errors.LabGone("labkit_dind_1"),
    errors.CommandTimeout("sleep 100", 5),
    errors.CommandFailed(res(command="false", exit_code=1)),
]


@pytest.mark.parametrize("exc", ERRORS, ids=lambda e: type(e).__name__)
def test_every_error_says_what_to_do(exc):
    text = str(exc)
    assert isinstance(exc, errors.LabError)
    assert exc.message and exc.hint
    assert text == f"{exc.message}\n\nWhat to do: {exc.hint}"
    lines = exc._render_traceback_()  # what IPython shows instead of a traceback
    assert type(exc).__name__ in lines[0] and exc.message in lines[0]
    assert exc.hint in lines[1]


def test_kinds_are_distinct():
    kinds = [type(e).kind for e in ERRORS]
    assert len(set(kinds)) == len(set(map(type, ERRORS)))


def test_command_failed_shows_the_last_lines():
    result = res(command="ls /nope", exit_code=2,
                 stderr="".join(f"line {i}\n" for i in range(10)))
    exc = errors.CommandFailed(result)
    assert exc.result is result
    assert "`ls /nope` failed in the lab with exit status 2" in exc.message
    assert "    line 9" in exc.message and "line 4" not in exc.message
    assert "line 5" in exc.message


def test_command_failed_uses_explain_exit():
    exc = errors.CommandFailed(res(stderr="bash: line 1: nosuchcmd: command not found\n",
                                   exit_code=127))
    assert "`nosuchcmd` is not installed" in exc.hint


def test_command_failed_without_output():
    exc = errors.CommandFailed(res(command="false", exit_code=1))
    assert exc.message.endswith("exit status 1.")


def test_command_timeout_keeps_the_partial_result():
    partial = res(command="sleep 100", stdout="half", exit_code=124, timed_out=True)
    exc = errors.CommandTimeout("sleep 100", 5, partial)
    assert exc.result is partial and "after 5 s" in exc.message


def test_explain_command_not_found_dash():
    hint = explain_exit(res(stderr="sh: 1: foo: not found\n", exit_code=127))
    assert hint is not None and hint.startswith("`foo` is not installed in the lab")


# Recorded from the lab (Docker 20.10's CLI): a program missing *inside a container*.
EXEC_MISSING = ('OCI runtime exec failed: exec failed: unable to start container process: '
                'exec: "bash": executable file not found in $PATH: unknown\n')
RUN_MISSING = ('docker: Error response from daemon: failed to create shim task: OCI runtime '
               'create failed: runc create failed: unable to start container process: exec: '
               '"nosuchprog": executable file not found in $PATH: unknown.\n')


def test_explain_program_missing_in_a_container_exec():
    """`docker exec busybox1 bash` exits 126 with the reason on stdout: the hint must not
    say that the file exists."""
    hint = explain_exit(res(command="docker exec busybox1 bash", stdout=EXEC_MISSING,
                            exit_code=126))
    assert hint is not None and "`bash`" in hint and "exists" not in hint


def test_explain_program_missing_in_a_container_run():
    hint = explain_exit(res(command="docker run --rm busybox nosuchprog", stderr=RUN_MISSING,
                            exit_code=127))
    assert hint is not None and "`nosuchprog`" in hint
    assert "executable file not found in $PATH`" not in hint
