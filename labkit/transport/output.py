"""A command's output on its way to the caller: the sentinel lines `wrap` prints taken out
(`SentinelSplitter`), each stream bounded (`Bounded`), and `drive`, the loop every process
transport shares (run the wrapped command, feed its output through, kill it in the lab on a
timeout or an interrupt)."""

from __future__ import annotations

import codecs
import re
import secrets
import sys
import time
from collections.abc import Callable

from labkit.errors import CommandTimeout
from labkit.result import Result
from labkit.transport.jobs import GRACE, KILL_AFTER, SENTINEL, wrap
from labkit.transport.protocol import MAX_OUTPUT, OutputCallback


class Bounded:
    """One stream's output, bounded: the first `head` characters pass on as they come, the
    last `tail` are held back in a ring until the end, what lies between is only counted.
    Pure; memory stays within head + tail + one chunk."""

    def __init__(self, head: int, tail: int) -> None:
        self.head, self.tail = head, tail
        self.passed = 0  # characters passed on live
        self.left_out = 0
        self._ring: list[str] = []
        self._ring_len = 0

    def add(self, text: str) -> str:
        """The part of `text` to pass on now (the rest is kept for `finish`)."""
        if not self.head and not self.tail:  # unbounded
            return text
        room = max(self.head - self.passed, 0)
        now, later = text[:room], text[room:]
        self.passed += len(now)
        if later:
            self._ring.append(later)
            self._ring_len += len(later)
            while self._ring and self._ring_len - len(self._ring[0]) >= self.tail:
                self.left_out += len(self._ring[0])
                self._ring_len -= len(self._ring.pop(0))
            if self._ring and self._ring_len > self.tail:  # cut into the oldest chunk
                cut = self._ring_len - self.tail
                self._ring[0] = self._ring[0][cut:]
                self._ring_len -= cut
                self.left_out += cut
        return now

    def finish(self) -> str:
        """The note about what was left out (if anything), then the tail."""
        tail = "".join(self._ring)
        self._ring, self._ring_len = [], 0
        if not self.left_out:
            return tail
        return (f"\n[labkit: {_size(self.left_out)} of output left out here; the first "
                f"{_size(self.head)} and the last {_size(self.tail)} are shown. "
                "`%%lab --max-output 0` or lab.run(..., max_output=0) keeps all of it]\n" + tail)


def _size(chars: int) -> str:
    for unit, n in (("MB", 1_000_000), ("kB", 1000)):
        if chars >= n:
            return f"{chars / n:.1f} {unit}"
    return f"{chars} characters"


class SentinelSplitter:
    """Turns raw (stream, bytes) chunks into decoded text for the caller, holding back and
    removing the sentinel lines. Pure: fed by either transport.

    Each stream gets its own sentinel because Docker (and select() on two pipes) does not
    keep the order *between* stdout and stderr: only when both sentinels are in is all
    output in."""

    def __init__(self, token: str, on_output: OutputCallback | None = None,
                 max_output: int = MAX_OUTPUT) -> None:
        self._head = SENTINEL + token
        quarter = max(max_output, 0) // 4  # per stream: a head and a tail of a quarter each
        self._bounds = {s: Bounded(quarter, quarter) for s in ("stdout", "stderr")}
        self._markers = {
            "stdout": re.compile(re.escape(SENTINEL + token) + r"\n"),
            "stderr": re.compile(re.escape(SENTINEL + token) + r":(\d+)\n"),
        }
        self._decoders = {s: codecs.getincrementaldecoder("utf-8")("replace")
                          for s in ("stdout", "stderr")}
        self._pending = {"stdout": "", "stderr": ""}  # may be the start of a sentinel
        self._seen = {"stdout": False, "stderr": False}
        self._on_output = on_output
        self.text = {"stdout": [], "stderr": []}
        self.exit_code: int | None = None

    def feed(self, stream: str, data: bytes) -> None:
        if self._seen[stream]:  # a background job still writing after the end: not ours
            return
        pending = self._pending[stream] + self._decoders[stream].decode(data)
        found = self._markers[stream].search(pending)
        if found:
            self._seen[stream] = True
            if stream == "stderr":
                self.exit_code = int(found.group(1))
            self._emit(stream, pending[: found.start()])
            self._pending[stream] = ""
            return
        cut = pending.rfind(SENTINEL)
        if cut >= 0 and self._could_be_sentinel(stream, pending[cut:]):
            self._emit(stream, pending[:cut])  # keep the maybe-sentinel until the rest arrives
            self._pending[stream] = pending[cut:]
        else:
            self._emit(stream, pending)
            self._pending[stream] = ""

    def _could_be_sentinel(self, stream: str, tail: str) -> bool:
        """Is `tail` (starting at a \\x1e) the beginning of this stream's sentinel line?"""
        if self._head.startswith(tail):
            return True
        rest = tail[len(self._head):] if tail.startswith(self._head) else None
        return rest is not None and stream == "stderr" and re.fullmatch(r":\d*", rest) is not None

    def close(self) -> None:
        for stream, decoder in self._decoders.items():
            self._emit(stream, self._pending[stream] + decoder.decode(b"", final=True))
            self._pending[stream] = ""
            self._pass(stream, self._bounds[stream].finish())

    def _emit(self, stream: str, text: str) -> None:
        if text:
            self._pass(stream, self._bounds[stream].add(text))

    def _pass(self, stream: str, text: str) -> None:
        if text:
            self.text[stream].append(text)
            if self._on_output:
                self._on_output(stream, text)

    @property
    def done(self) -> bool:
        return self._seen["stdout"] and self._seen["stderr"]


#: said on stderr when a command's status arrived but the end of its stdout did not
INCOMPLETE_STDOUT = ("labkit: the command's standard output ended early on its way from the "
                     "lab; some of it may be missing (run the cell again)\n")


def drive(command: str, timeout: float | None, on_output: OutputCallback | None,
          job_dir: str, start: Callable, kill: Callable[[str], str],
          exit_status: Callable[[], int] | None = None,
          max_output: int = MAX_OUTPUT) -> Result | None:
    """The loop both transports share: wrap the command, feed its output through the
    sentinel splitter until both sentinels are in, and on a timeout or an interrupt kill it
    in the lab. `start(argv, deadline)` returns (chunks, close); `kill(token)` stops the job
    and returns what it says outlived it (containers), which goes to the cell's stderr.
    Output that ends without the sentinels takes `exit_status()`, or gives None (the caller
    knows why)."""
    token = secrets.token_hex(6)
    splitter = SentinelSplitter(token, on_output, max_output)
    began = time.monotonic()
    deadline = None if not timeout else began + timeout + KILL_AFTER + GRACE
    chunks, close = start(wrap(command, timeout, token, job_dir), deadline)
    try:
        for stream, data in chunks:
            splitter.feed(stream, data)
            if splitter.done:
                break
    except TimeoutError:
        note = kill(token)
        splitter.close()
        if note:
            splitter.text["stderr"].append(note)
        so_far = _result(command, splitter, time.monotonic() - began, timeout)
        raise CommandTimeout(command, timeout or 0, so_far) from None
    except KeyboardInterrupt:
        note = kill(token)
        splitter.close()  # the tail held back by the output bound, and the note on the gap
        if note and on_output is not None:
            on_output("stderr", note)
        raise
    finally:
        close()
    splitter.close()
    if splitter.exit_code is not None and not splitter.done:
        # The status came but stdout's end marker never did: the transport lost the end of
        # stdout (it has happened: frames read with the exec's headers). Say so, after all
        # of stderr, never pretend the output is whole.
        splitter.text["stderr"].append(INCOMPLETE_STDOUT)
        if on_output is not None:
            on_output("stderr", INCOMPLETE_STDOUT)
    if splitter.exit_code is None:
        if exit_status is None:
            return None
        splitter.exit_code = exit_status()
    return _result(command, splitter, time.monotonic() - began, timeout)


def _result(command: str, splitter: SentinelSplitter, duration: float,
            timeout: float | None) -> Result:
    code = splitter.exit_code if splitter.exit_code is not None else -1
    # `timeout` exits 124 after TERM and 137 after KILL; only trust that when time is up.
    timed_out = bool(timeout) and code in (124, 137) and duration >= timeout * 0.95
    return Result(command=command, stdout="".join(splitter.text["stdout"]),
                  stderr="".join(splitter.text["stderr"]), exit_code=code,
                  duration=duration, timed_out=timed_out)


def to_std_streams(stream: str, text: str) -> None:
    """An `OutputCallback` writing output to this process's stdout/stderr as it arrives: a
    terminal (`labkit run`), or a notebook cell, which shows stderr on its red-tinted stream."""
    target = sys.stderr if stream == "stderr" else sys.stdout
    target.write(text)
    target.flush()
