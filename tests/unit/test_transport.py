"""transport: the wrapper script, the sentinel splitter, and LocalTransport (local processes,
no Docker)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest

from labkit.transport.jobs import KILL_AFTER, kill_job_command, wrap
from labkit.transport.local import LocalTransport
from labkit.transport.output import SentinelSplitter

TOKEN = "0123456789ab"
SENT = "\x1e" + TOKEN


# --- wrap / kill_job_command: shape --------------------------------------------------------


def test_wrap_argv_shape():
    argv = wrap("brctl show", 60.0, TOKEN, "/run/labkit/jobs")
    assert argv[:2] == ["sh", "-c"]
    # positional parameters: $0 labkit, $1 limit, $2 command, $3 token, $4 job dir
    assert argv[3:] == ["labkit", "60", "brctl show", TOKEN, "/run/labkit/jobs"]
    script = argv[2]
    assert f"timeout -k {KILL_AFTER} \"$1\" bash -c \"$2\"" in script
    assert "</dev/null" in script  # a cell's command never waits on stdin
    assert "\\036" in script and ">&2" in script  # sentinel on stderr


@pytest.mark.parametrize(("timeout", "limit"), [(None, "0"), (0, "0"), (0.0, "0"),
                                                 (1.5, "1.5"), (60.0, "60"), (120, "120")])
def test_wrap_limit(timeout, limit):
    assert wrap("true", timeout, TOKEN, "/j")[4] == limit


def test_wrap_keeps_the_command_out_of_the_script():
    """The command is an argument, never pasted into the script: quotes cannot break it."""
    nasty = "echo \"it's\" '$HOME' `x` $(y); exit 3"
    argv = wrap(nasty, 5, TOKEN, "/j")
    assert nasty not in argv[2]
    assert argv[5] == nasty


def test_kill_job_command_shape(tmp_path):
    argv = kill_job_command(TOKEN, "/run/labkit/jobs")
    assert argv[:2] == ["sh", "-c"] and len(argv) == 3
    assert f"/run/labkit/jobs/{TOKEN}" in argv[2]
    # the whole process group (negative pid), TERM first then KILL; behaviour is tested below
    assert re.search(r"kill -TERM (-- )?-\$pid", argv[2])
    assert re.search(r"kill -KILL (-- )?-\$pid", argv[2])


def test_kill_job_command_quotes_the_path():
    argv = kill_job_command(TOKEN, "/tmp/dir with space")
    assert f"'/tmp/dir with space/{TOKEN}'" in argv[2]


def test_kill_job_command_without_a_job_is_a_no_op(tmp_path):
    done = subprocess.run(kill_job_command(TOKEN, str(tmp_path)), capture_output=True,
                          timeout=10, check=False)
    assert done.returncode == 0


def test_wrap_runs_and_reports_status_as_sentinel(tmp_path):
    """Run the wrapper with the local sh: the sentinel carries the command's status."""
    done = subprocess.run(wrap("echo out; echo err >&2; exit 7", 10, TOKEN, str(tmp_path)),
                          capture_output=True, timeout=20, check=False)
    assert done.stdout.startswith(b"out\n")
    assert done.stderr == f"err\n{SENT}:7\n".encode()
    assert list(tmp_path.iterdir()) == []  # the job file is removed when the job ends


# --- SentinelSplitter ----------------------------------------------------------------------

# Docker copies a command's stdout and stderr to the client separately, so the end of stderr
# can arrive before the last of stdout (seen live: `echo x` lost its output in ~5 % of runs
# while only stderr carried a sentinel). Each stream now ends with its own sentinel:
# `\x1e<token>` on stdout, `\x1e<token>:<status>` on stderr.


def collect(token: str = TOKEN):
    seen: list[tuple[str, str]] = []
    return SentinelSplitter(token, lambda s, t: seen.append((s, t))), seen


def joined(seen, stream):
    return "".join(t for s, t in seen if s == stream)


def test_splitter_sentinel_gives_the_status():
    sp, seen = collect()
    sp.feed("stdout", b"hello\n")
    assert sp.exit_code is None
    sp.feed("stderr", f"{SENT}:0\n".encode())
    assert sp.exit_code == 0
    sp.close()
    assert joined(seen, "stdout").startswith("hello\n")
    assert joined(seen, "stderr") == ""


def test_splitter_waits_for_both_streams():
    sp, seen = collect()
    sp.feed("stderr", f"e\n{SENT}:0\n".encode())
    assert sp.exit_code == 0
    assert not sp.done  # stdout may still be on its way
    sp.feed("stdout", b"late\n")
    sp.feed("stdout", f"{SENT}\n".encode())
    assert sp.done
    sp.close()
    assert (joined(seen, "stdout"), joined(seen, "stderr")) == ("late\n", "e\n")


def test_splitter_ignores_output_after_its_sentinel():
    """A background job (`sleep 1 && echo late &`) writing after the end is not this
    command's output."""
    sp, seen = collect()
    sp.feed("stdout", f"mine\n{SENT}\n".encode())
    sp.feed("stdout", b"late\n")
    sp.feed("stderr", f"{SENT}:0\n".encode())
    sp.close()
    assert joined(seen, "stdout") == "mine\n"


def test_splitter_stdout_sentinel_split_across_chunks():
    raw = f"out{SENT}\n".encode()
    for cut in range(1, len(raw)):
        sp, seen = collect()
        sp.feed("stdout", raw[:cut])
        sp.feed("stdout", raw[cut:])
        sp.feed("stderr", f"{SENT}:0\n".encode())
        assert sp.done, cut
        sp.close()
        assert joined(seen, "stdout") == "out", cut


def test_wrap_puts_a_sentinel_on_both_streams(tmp_path):
    done = subprocess.run(wrap("echo out; exit 7", 10, TOKEN, str(tmp_path)),
                          capture_output=True, timeout=20, check=False)
    assert done.stdout == f"out\n{SENT}\n".encode()
    assert done.stderr == f"{SENT}:7\n".encode()


@pytest.mark.parametrize("cut", range(1, len(SENT) + 4))
def test_splitter_sentinel_split_across_chunks(cut):
    raw = f"warning\n{SENT}:42\n".encode()
    head = len(b"warning\n")
    sp, seen = collect()
    sp.feed("stderr", raw[: head + cut])
    assert sp.exit_code is None
    sp.feed("stderr", raw[head + cut:])
    assert sp.exit_code == 42
    sp.close()
    assert joined(seen, "stderr") == "warning\n"


def test_splitter_sentinel_byte_by_byte():
    sp, seen = collect()
    for byte in f"e1\n{SENT}:3\n".encode():
        sp.feed("stderr", bytes([byte]))
    assert sp.exit_code == 3
    sp.close()
    assert joined(seen, "stderr") == "e1\n"


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_splitter_multibyte_utf8_split_across_chunks(stream):
    text = "naïve → 日本 🐳\n"
    data = text.encode()
    sp, seen = collect()
    for i in range(len(data)):  # one byte at a time: every split point
        sp.feed(stream, data[i:i + 1])
    sp.feed("stderr", f"{SENT}:0\n".encode())
    sp.close()
    assert joined(seen, stream) == text
    assert "\ufffd" not in joined(seen, stream)


def test_splitter_stderr_without_trailing_newline():
    sp, seen = collect()
    sp.feed("stderr", b"no newline at the end")
    sp.feed("stderr", f"{SENT}:1\n".encode())
    sp.close()
    assert sp.exit_code == 1
    assert joined(seen, "stderr") == "no newline at the end"


def test_splitter_stderr_without_newline_in_the_same_chunk():
    sp, seen = collect()
    sp.feed("stderr", f"oops{SENT}:2\n".encode())
    sp.close()
    assert sp.exit_code == 2 and joined(seen, "stderr") == "oops"


def test_splitter_stderr_streams_before_the_sentinel():
    """Ordinary stderr is handed on at once, not held until the end."""
    sp, seen = collect()
    sp.feed("stderr", b"progress 1\n")
    assert seen == [("stderr", "progress 1\n")]


def test_splitter_streams_stderr_after_a_stray_record_separator():
    """A \\x1e that cannot start our sentinel must not hold back the rest of stderr."""
    sp, seen = collect()
    sp.feed("stderr", b"\x1e binary-ish header\n")
    sp.feed("stderr", b"progress " * 20 + b"\n")
    assert joined(seen, "stderr").startswith("\x1e binary-ish header\nprogress")


def test_splitter_stdout_passes_through():
    """stdout text, even with a record separator or another token's line, is output."""
    sp, seen = collect()
    sp.feed("stdout", b"plain \x1e text\n\x1effffffffffff:9\n")
    assert sp.exit_code is None
    sp.feed("stderr", f"{SENT}:0\n".encode())
    sp.close()
    assert sp.exit_code == 0
    assert joined(seen, "stdout") == "plain \x1e text\n\x1effffffffffff:9\n"


def test_splitter_ignores_another_token():
    """A nested labkit's sentinel (other token) is output, not our exit status."""
    sp, seen = collect()
    sp.feed("stderr", b"\x1effffffffffff:5\n")
    assert sp.exit_code is None
    sp.feed("stderr", f"{SENT}:0\n".encode())
    sp.close()
    assert sp.exit_code == 0
    assert joined(seen, "stderr") == "\x1effffffffffff:5\n"


def test_splitter_close_flushes_a_partial_sentinel():
    """A stream that ends mid-sentinel (the lab went away): nothing is lost, no status."""
    sp, seen = collect()
    sp.feed("stderr", f"bye\n{SENT[:5]}".encode())
    sp.close()
    assert sp.exit_code is None and not sp.done
    assert joined(seen, "stderr") == f"bye\n{SENT[:5]}"


def test_splitter_without_callback_keeps_text():
    sp = SentinelSplitter(TOKEN)
    sp.feed("stdout", b"a")
    sp.feed("stdout", b"b")
    sp.feed("stderr", f"{SENT}:0\n".encode())
    sp.close()
    assert "".join(sp.text["stdout"]).startswith("ab")


# --- LocalTransport: the same wrapper, run here (no Docker) --------------------------------


@pytest.fixture
def local(tmp_path):
    return LocalTransport(job_dir=str(tmp_path / "jobs"))


def test_local_result_fields(local):
    res = local.run("echo out; echo err >&2; exit 3", timeout=10)
    assert (res.stdout, res.stderr, res.exit_code) == ("out\n", "err\n", 3)
    assert res.duration > 0 and not res.timed_out and not res.ok


def test_local_background_job_does_not_block(local):
    """`sleep 30 &` keeps the pipes open; the sentinel still ends the command."""
    start = time.monotonic()
    res = local.run("sleep 30 & echo $!", timeout=10)
    try:
        assert res.exit_code == 0 and res.stdout.strip().isdigit()
        assert time.monotonic() - start < 5
    finally:
        if res.stdout.strip().isdigit():
            os.kill(int(res.stdout), signal.SIGKILL)  # the one process this test started


def test_local_timeout_kills_the_tree(local):
    marker = f"sleep {900 + os.getpid() % 97}"  # unique to this run
    res = local.run(f"bash -c '{marker} & {marker}'", timeout=1)
    assert res.timed_out and res.exit_code == 124  # Lab.run turns this into CommandTimeout
    assert 1 <= res.duration < 1 + KILL_AFTER + 1
    time.sleep(0.3)
    left = subprocess.run(["pgrep", "-f", f"^{marker}$"], capture_output=True, text=True,
                          check=False)
    assert left.stdout == "", f"still running after the timeout: {left.stdout}"


def test_local_streams_output(local):
    seen: list[tuple[float, str, str]] = []
    start = time.monotonic()
    res = local.run("echo a; sleep 1; echo b", timeout=10,
                    on_output=lambda s, t: seen.append((time.monotonic() - start, s, t)))
    end = time.monotonic() - start
    assert res.stdout == "a\nb\n"
    assert seen[0][1:] == ("stdout", "a\n")
    assert end - seen[0][0] >= 0.8


def test_local_timeout_kills_a_command_that_ignores_term(local):
    """TERM ignored: `timeout -k` follows with KILL, and the status says so (137)."""
    res = local.run("trap '' TERM; sleep 20", timeout=1)
    assert res.timed_out and res.exit_code == 137
    assert res.duration < 1 + KILL_AFTER + 2


def test_local_no_timeout(local):
    res = local.run("sleep 0.2; echo done", timeout=0)
    assert res.ok and res.stdout == "done\n"


def test_local_stdin_is_closed(local):
    """A command that reads stdin gets EOF at once instead of hanging the cell."""
    res = local.run("cat; echo after", timeout=5)
    assert res.ok and res.stdout == "after\n"


def test_local_interrupt_kills_the_command(local):
    """Ctrl-C while waiting: the command (in its own process group under `timeout`) dies."""
    marker = f"sleep {800 + os.getpid() % 97}"

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            local.run(marker, timeout=30)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    time.sleep(0.3)
    left = subprocess.run(["pgrep", "-f", f"^{marker}$"], capture_output=True, text=True,
                          check=False).stdout.split()
    for pid in left:  # do not leave it running even when the test fails
        os.kill(int(pid), signal.SIGKILL)
    assert left == [], "the command survived the interrupt"


def test_kill_job_command_kills_the_group(tmp_path):
    """Run for real with the local /bin/sh (dash on Debian, as in the lab)."""
    victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        (tmp_path / TOKEN).write_text(f"{victim.pid}\n")
        subprocess.run(kill_job_command(TOKEN, str(tmp_path)), timeout=10, check=False)
        assert victim.wait(timeout=5) == -signal.SIGTERM
        assert not (tmp_path / TOKEN).exists()
    finally:
        victim.kill()
        victim.wait()


# --- drive: the loop both transports share, fed recorded chunk streams ----------------------

def _drive_chunks(monkeypatch, chunks, exit_status=None):
    from labkit.transport import output

    shown: list[tuple[str, str]] = []
    token = "abcdef012345"
    monkeypatch.setattr(output.secrets, "token_hex", lambda n: token)

    def start(argv, deadline):
        return iter([(s, d.replace(b"TOKEN", token.encode())) for s, d in chunks]), lambda: None

    res = output.drive("echo x", None, lambda s, t: shown.append((s, t)), "/tmp/jobs",
                       start, lambda tok: "", exit_status=exit_status)
    return res, shown


def test_drive_whole_output_has_no_note(monkeypatch):
    res, _ = _drive_chunks(monkeypatch, [("stdout", b"x\n\x1eTOKEN\n"),
                                         ("stderr", b"\x1eTOKEN:0\n")])
    assert (res.stdout, res.stderr, res.exit_code) == ("x\n", "", 0)


def test_drive_says_when_stdout_ended_early(monkeypatch):
    # The status arrived on stderr, stdout's end marker never did: the output is not whole.
    from labkit.transport.output import INCOMPLETE_STDOUT

    res, shown = _drive_chunks(monkeypatch, [("stdout", b"par"), ("stderr", b"\x1eTOKEN:0\n")])
    assert res.exit_code == 0 and res.stdout == "par"
    assert res.stderr == INCOMPLETE_STDOUT
    assert ("stderr", INCOMPLETE_STDOUT) in shown


def test_drive_without_any_status_gives_none_or_the_wrappers_own(monkeypatch):
    assert _drive_chunks(monkeypatch, [("stdout", b"x")])[0] is None
    res, _ = _drive_chunks(monkeypatch, [("stdout", b"x")], exit_status=lambda: 137)
    assert res.exit_code == 137
