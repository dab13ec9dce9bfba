"""What every transport offers (docker exec, local processes, nsenter, replay): `Transport`
runs one command, `Pipe` speaks to one long-lived process line by line (the probe)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from labkit.result import Result

#: called with ("stdout" | "stderr", text) as output arrives
OutputCallback = Callable[[str, str], None]

#: what one command keeps of its output (characters, all streams together): the first and the
#: last halves; 0 keeps everything. A cell with 20 MB of output would pass Jupyter's IOPub
#: limit and hide its exit status and its diagram.
MAX_OUTPUT = 1_000_000


class Pipe(Protocol):
    """A long-lived process in the lab spoken to line by line (the topology probe)."""

    def send(self, data: bytes) -> None: ...
    def read_line(self, timeout: float) -> bytes: ...
    def close(self) -> None: ...


class Transport(Protocol):
    kind: str  # "docker-exec" | "local"
    description: str

    def run(self, command: str, *, timeout: float | None = None,
            on_output: OutputCallback | None = None,
            max_output: int = MAX_OUTPUT) -> Result: ...

    def open_pipe(self, argv: list[str]) -> Pipe: ...

    def alive(self) -> bool: ...
