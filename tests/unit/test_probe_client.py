"""labkit.transport.probe_client against the probe's own serve loop, in memory: both ends of
the line protocol agree (hello, snapshot, raw, errors), and the client's refusals say why."""

from __future__ import annotations

import io
import json
import queue
import threading
from pathlib import Path

import pytest

from labkit.model.build import from_raw
from labkit.probe import serve as S
from labkit.transport.probe_client import ProbeError, ProbeSession

RAW = json.loads((Path(__file__).resolve().parents[1] / "snapshots" / "raw_kinds.json")
                 .read_text())


class FakeProbe:
    """The probe with its scan recorded in the lab image (tests/snapshots/raw_kinds.json)."""

    def __init__(self, fail_on=()) -> None:
        self.calls, self.fail_on = 0, set(fail_on)

    def scan(self):
        self.calls += 1
        if self.calls in self.fail_on:
            raise OSError("namespace vanished")
        return RAW


class QueuePipe:
    """The client's pipe (send / read_line / close) over the probe's stdin and stdout."""

    def __init__(self, probe) -> None:
        self.requests: queue.Queue[str | None] = queue.Queue()
        self.answers: queue.Queue[bytes] = queue.Queue()
        self.closed = False
        threading.Thread(target=self._serve, args=(probe,), daemon=True).start()

    def _serve(self, probe) -> None:
        pipe = self

        class Out(io.StringIO):
            def write(self, text: str) -> int:
                for line in text.splitlines(keepends=True):
                    pipe.answers.put(line.encode())
                return len(text)

        S.serve(probe, iter(self.requests.get, None), Out())
        self.answers.put(b"")  # EOF

    def send(self, data: bytes) -> None:
        for line in data.decode().splitlines(keepends=True):
            self.requests.put(line)

    def read_line(self, timeout: float) -> bytes:
        try:
            line = self.answers.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None
        if not line:
            raise EOFError("served its last request")
        return line

    def close(self) -> None:
        self.closed = True
        self.requests.put(None)


def test_the_client_reads_what_the_probe_serves():
    with ProbeSession(QueuePipe(FakeProbe()), timeout=5) as session:
        assert session.hello["hello"] == "labkit.probe"
        assert session.snapshot() == from_raw(RAW)
        assert session.raw() == RAW


def test_a_probe_failure_is_a_probe_error_and_the_session_goes_on():
    with ProbeSession(QueuePipe(FakeProbe(fail_on={1})), timeout=5) as session:
        with pytest.raises(ProbeError, match="the probe failed: OSError: namespace vanished"):
            session.snapshot()
        assert session.raw() == RAW


class ScriptedPipe:
    def __init__(self, *lines: bytes, fail: BaseException | None = None) -> None:
        self.lines, self.fail, self.sent, self.closed = list(lines), fail, [], False

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def read_line(self, timeout: float) -> bytes:
        if not self.lines:
            raise self.fail or EOFError("gone")
        return self.lines.pop(0)

    def close(self) -> None:
        self.closed = True


HELLO = json.dumps({"hello": "labkit.probe", "format": 1}).encode() + b"\n"


@pytest.mark.parametrize("first, message", [
    (b'{"hello": "something else"}\n', "not a labkit probe on the other end"),
    (b'{"hello": "labkit.probe", "format": 99}\n', "speaks snapshot format 99"),
    (b"Traceback (most recent call last):\n", "something that is not JSON"),
])
def test_the_client_refuses_what_is_not_this_probe(first, message):
    with pytest.raises(ProbeError, match=message):
        ProbeSession(ScriptedPipe(first))


def test_silence_and_exit_are_said_plainly():
    with pytest.raises(ProbeError, match="did not answer within 3 s"):
        ProbeSession(ScriptedPipe(fail=TimeoutError()), timeout=3)
    with pytest.raises(ProbeError, match="the probe exited; its last words: No module named"):
        ProbeSession(ScriptedPipe(fail=EOFError("No module named pyroute2")))


def test_an_interrupted_answer_retires_the_session():
    """A KeyboardInterrupt while waiting: the late answer would pair with the next request,
    so the session is marked broken, closed, and refuses further requests."""
    pipe = ScriptedPipe(HELLO, fail=KeyboardInterrupt())
    session = ProbeSession(pipe)
    with pytest.raises(KeyboardInterrupt):
        session.snapshot()
    assert session.broken and pipe.closed and pipe.sent[-1] == b"quit\n"
    with pytest.raises(ProbeError, match="interrupted mid-answer"):
        session.raw()
