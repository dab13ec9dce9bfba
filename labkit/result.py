"""The outcome of one command run in the lab."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """What a command printed and how it ended. `exit_code` is the shell's: 0 is success,
    127 "command not found", 124 "stopped by the timeout"."""

    command: str
    stdout: str
    stderr: str
    exit_code: int
    duration: float  # seconds, wall clock, as seen by the caller
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def output(self) -> str:
        """stdout then stderr, for quick looks; use the fields to tell them apart."""
        return self.stdout + self.stderr

    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def __str__(self) -> str:
        return self.stdout

    def __repr__(self) -> str:
        status = "timed out" if self.timed_out else f"exit {self.exit_code}"
        return f"<Result {self.command!r}: {status}, {self.duration * 1000:.0f} ms>"

    def _repr_pretty_(self, p, cycle) -> None:  # IPython: show what a terminal would
        p.text(self.output if self.output else repr(self))
        if not self.ok:
            p.text(("" if self.output.endswith("\n") or not self.output else "\n")
                   + repr(self))
