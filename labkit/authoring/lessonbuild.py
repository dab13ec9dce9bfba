"""`labkit lesson build`: re-run lessons in the lab with a progress bar, keeping the text
sources in step.

For each lesson: bring the notebook and its text source in step (the newer wins, so an edit
made in lessons/NN-name.md is what runs), execute it with `labkit.authoring.build` (fresh
outputs; with `record`, the replay recording too), write the text source again from the
result, and lint it (`labkit.authoring.lint`): fresh outputs can bring new volatile text.

The progress bar (cell i/n, on stderr) follows `authoring.build`'s `on_cell` callback.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from labkit.authoring import lint, textsource
from labkit.authoring.build import build

#: told (cells done, cells in the notebook) after every cell
CellCallback = Callable[[int, int], None]


class ProgressBar:
    """`name [#####-----] cell 12/45  31 s` on one line of a terminal; on anything else
    (CI logs) a plain line at every tenth of the way."""

    def __init__(self, name: str, stream: TextIO | None = None, width: int = 24) -> None:
        self.name, self.stream, self.width = name, stream or sys.stderr, width
        self.start = time.monotonic()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_tenth = -1

    def line(self, done: int, total: int) -> str:
        filled = self.width * done // total if total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        return (f"{self.name} [{bar}] cell {done}/{total} "
                f"{time.monotonic() - self.start:4.0f} s")

    def update(self, done: int, total: int) -> None:
        if self.tty:
            self.stream.write("\r" + self.line(done, total))
            self.stream.flush()
            return
        tenth = 10 * done // total if total else 10
        if tenth != self.last_tenth:
            self.last_tenth = tenth
            self.stream.write(self.line(done, total) + "\n")
            self.stream.flush()

    def finish(self, message: str) -> None:
        self.stream.write(("\r\x1b[K" if self.tty else "") + f"{self.name}: {message}\n")
        self.stream.flush()


@dataclass
class Built:
    path: Path
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # what the sync did
    problems: list[str] = field(default_factory=list)  # lint findings in the fresh outputs


def build_lesson(path: str | Path, *, record: bool = False, timeout: int = 600,
                 on_cell: CellCallback | None = None,
                 builder: Callable[..., Path] | None = None) -> Built:
    """Sync, execute and store one lesson; never raises for a lesson that fails (the error
    is in the result, so the next lesson still builds). `builder` is for tests."""
    path = Path(path)
    result = Built(path)
    start = time.monotonic()
    try:
        pairing = textsource.pairing_for(path)
        if pairing is not None:
            did = textsource.sync(path)
            if did != "in sync":
                result.notes.append(did)
        (builder or build)(path, timeout=timeout, record=record, on_cell=on_cell)
        if pairing is not None:
            textsource.sync(path, prefer="notebook")
        result.problems = [p.text() for p in lint.check(lint.load_lesson(path))]
    except Exception as exc:  # noqa: BLE001 - reported per lesson; the others still build
        result.error = f"{type(exc).__name__}: {exc}" if not str(exc).startswith(
            str(path)) else str(exc)
    result.seconds = time.monotonic() - start
    return result
