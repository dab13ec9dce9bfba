"""The notebook's side of the probe: one long-lived `python3 -m labkit.probe --serve` in the
lab, one request line in and one JSON line out (the probe itself is labkit.probe)."""

from __future__ import annotations

import json
from typing import Any

from labkit.model.formats import SNAPSHOT_FORMAT
from labkit.model.topology import Topology, from_json
from labkit.transport.local import LocalTransport

SERVE_ARGV = ("python3", "-m", "labkit.probe", "--serve")


class ProbeError(RuntimeError):
    pass


class ProbeSession:
    """Talk to one long-lived `python3 -m labkit.probe --serve`, one line each way.

    The transport is not this class's business: `pipe` is anything with
    `send(bytes)`, `read_line(timeout) -> bytes` (raising TimeoutError / EOFError) and
    `close()`, e.g. `lab.transport.open_pipe(list(SERVE_ARGV))`, or `ProbeSession.spawn(argv)`
    for a local process (`docker exec -i LAB python3 -m labkit.probe --serve`).
    """

    def __init__(self, pipe: Any, timeout: float = 30.0) -> None:
        self.pipe, self.timeout = pipe, timeout
        self.broken = False
        self.hello = self._read_line()
        if self.hello.get("hello") != "labkit.probe":
            raise ProbeError(f"not a labkit probe on the other end: {self.hello!r}")
        if self.hello.get("format") != SNAPSHOT_FORMAT:
            raise ProbeError(
                f"the lab's probe speaks snapshot format {self.hello.get('format')}, this "
                f"labkit reads format {SNAPSHOT_FORMAT}: use the same labkit in the lab and the "
                "notebook")

    @classmethod
    def spawn(cls, argv: list[str] | tuple[str, ...], timeout: float = 30.0) -> ProbeSession:
        """Start the probe as a local process `argv` (ending in the probe's --serve command)."""
        return cls(LocalTransport().open_pipe(list(argv)), timeout=timeout)

    def _read_line(self) -> dict[str, Any]:
        try:
            line = self.pipe.read_line(self.timeout)
        except TimeoutError:
            raise ProbeError(f"the probe did not answer within {self.timeout:.0f} s") from None
        except EOFError as e:
            raise ProbeError(f"the probe exited; its last words: {str(e)[-2000:]}") from None
        try:
            return json.loads(line)
        except ValueError:
            raise ProbeError(f"the probe wrote something that is not JSON: {line[:200]!r}") \
                from None

    def request(self, what: str = "snapshot") -> dict[str, Any]:
        if self.broken:
            raise ProbeError("this probe was interrupted mid-answer; start a new one")
        try:
            self.pipe.send(what.encode() + b"\n")
        except OSError as e:
            raise ProbeError(f"the probe is gone ({e})") from None
        try:
            answer = self._read_line()
        except BaseException:
            # Interrupted (KeyboardInterrupt while a diagram is drawn, a timeout): its answer
            # may still come, and would be read as the answer to the next request. One line
            # each way has no request ids, so this probe is done; the caller starts another.
            self.broken = True
            self.close()
            raise
        if "error" in answer:
            raise ProbeError(f"the probe failed: {answer['error']}")
        return answer

    def snapshot(self) -> Topology:
        """The lab's topology now, as a `labkit.model.topology.Topology`."""
        return from_json(self.request("snapshot"))

    def raw(self) -> dict[str, Any]:
        return self.request("raw")

    def close(self) -> None:
        try:
            self.pipe.send(b"quit\n")
        except (OSError, ValueError):
            pass
        self.pipe.close()

    def __enter__(self) -> ProbeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- entry points --------------------------------------------------------------------------
