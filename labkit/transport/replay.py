"""Recording and replaying at the transport: what a live lab answered, logged; and answers
from those logs where no live lab can run.

* `Recorder` (authoring side): wraps a live transport and logs what the lab answered, one JSON
  line per event, to the file named by $LABKIT_RECORD.
* `ReplayTransport` (learner side): answers a command from the recording of the cell being
  run; a command that is not recorded raises `NotRecorded`, saying which live mode it needs.
  Its probe pipe answers snapshot requests with the recorded snapshot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from labkit.errors import LabError
from labkit.model.formats import RAW_FORMAT, SNAPSHOT_FORMAT
from labkit.model.recording import Cell, Recording, Run, Snap, merge_streams, need_of
from labkit.result import Result
from labkit.scripts import text as script
from labkit.transport.protocol import MAX_OUTPUT, OutputCallback

#: env var naming the event log a recording kernel writes (set by `lesson build --record`)
RECORD_ENV = "LABKIT_RECORD"

#: labkit's own scripts are stored by name, not by their (long) text
SCRIPTS = ("reset.sh",)


def stored_command(command: str) -> str:
    """How a command is stored: labkit's own scripts by name (`@reset.sh`)."""
    for name in SCRIPTS:
        if command == script(name):
            return f"@{name}"
    return command


class _RecordingPipe:
    """The probe's pipe, logging each snapshot it answers."""

    def __init__(self, inner, log) -> None:
        self._inner = inner
        self._log = log

    def send(self, data: bytes) -> None:
        self._inner.send(data)

    def read_line(self, timeout: float) -> bytes:
        line = self._inner.read_line(timeout)
        try:
            msg = json.loads(line)
        except ValueError:
            return line
        if isinstance(msg, dict) and "namespaces" in msg:
            self._log({"snapshot": msg})
        return line

    def close(self) -> None:
        self._inner.close()


class Recorder:
    """Wraps a live transport; every command and snapshot is appended to `path` (JSON lines).
    Outputs are untouched, so a recorded build stores exactly what a plain build would."""

    def __init__(self, inner, path: str) -> None:
        self.inner = inner
        self.path = path
        self.kind = inner.kind
        self.description = inner.description
        self.pending = False  # a command ran since the last snapshot

    def __getattr__(self, name: str) -> Any:  # job_dir, pid, ... of the live transport
        return getattr(self.inner, name)

    def _log(self, event: dict[str, Any]) -> None:
        self.pending = "snapshot" not in event
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(event, ensure_ascii=False) + "\n")

    def run(self, command: str, *, timeout: float | None = None,
            on_output: OutputCallback | None = None, max_output: int = MAX_OUTPUT) -> Result:
        chunks: list[tuple[str, str]] = []

        def seen(stream: str, text: str) -> None:
            chunks.append((stream, text))
            if on_output:
                on_output(stream, text)

        try:
            result = self.inner.run(command, timeout=timeout, on_output=seen,
                                    max_output=max_output)
        except Exception as exc:  # noqa: BLE001 - a timeout's partial output is still a fact
            partial = getattr(exc, "result", None)
            self._log({"run": stored_command(command), "output": merge_streams(chunks),
                       "exit_code": partial.exit_code if partial else -1, "timed_out": True})
            raise
        self._log({"run": stored_command(command), "output": merge_streams(chunks),
                   "exit_code": result.exit_code, **({"timed_out": True}
                                                     if result.timed_out else {})})
        return result

    def open_pipe(self, argv: list[str]):
        return _RecordingPipe(self.inner.open_pipe(argv), self._log)

    def alive(self) -> bool:
        return self.inner.alive()


class NotRecorded(LabError):
    kind = "not-recorded"

    def __init__(self, command: str, why: str, needs: str) -> None:
        first = command.strip().splitlines()[0] if command.strip() else command
        super().__init__(
            f"`{first[:120]}` is not in this lesson's recording, so there is no real output "
            f"to show: {why}. labkit never makes an output up.",
            hint=f"run it where a live lab is possible: {needs}. `labkit doctor` (or "
            "`labkit modes`) says what this host allows and why.")


def needs_for(command: str) -> str:
    """Which live modes can run this command (pure)."""
    need = need_of([command])
    if need and need.modes == ("docker",):
        return f"live mode 1, the Docker lab (`labkit up`): this needs {need.what}"
    if need:
        return ("live mode 1 (a Docker engine) or 2 (rootless: user namespaces and mount(2) "
                "allowed); the namespace-only lab (mode 3) has no Docker engine")
    return ("live mode 1 (Docker), 2 (rootless) or 3 (namespace-only: user namespaces "
            "allowed)")


@dataclass
class _Context:
    """The cell IPython is running, as far as it tells us."""

    source: str | None = None
    cell_id: str | None = None
    serial: int = 0  # increases with every cell run


class ReplayTransport:
    """Answers commands from recordings. `why` says why this host replays (in the messages)."""

    kind = "replay"

    def __init__(self, recordings: list[Recording], *, lesson: str | None = None,
                 why: str = "this host cannot run a live lab") -> None:
        if not recordings:
            raise LabError("There are no recordings to replay (notebooks/recordings/*.json).",
                           hint="run the course where a live lab is possible, or refresh the "
                           "recordings with `labkit lesson build --record "
                           "notebooks/*.ipynb`")
        self.recordings = recordings
        self.why = why
        self.current = next((r for r in recordings if r.lesson == lesson), recordings[0])
        self.description = f"replay of recordings from a real lab ({why})"
        self.context = _Context()
        self._cell: tuple[Recording, Cell] | None = None  # the recorded cell being replayed
        self._cell_serial = -1
        self._done = 0  # events of that cell already replayed
        self._last_index = -1  # notebook index of the last recorded cell replayed
        self._hook()

    # -- IPython tells us which cell runs ------------------------------------------------------

    def _hook(self) -> None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        ip = get_ipython()
        if ip is not None:
            ip.events.register("pre_run_cell", self._pre_run_cell)

    def _pre_run_cell(self, info) -> None:
        self.context = _Context(getattr(info, "raw_cell", None), getattr(info, "cell_id", None),
                                self.context.serial + 1)

    # -- lookups (pure over the recordings and the cursor) ------------------------------------

    def _cells_for_context(self) -> list[tuple[Recording, Cell]]:
        """Recorded cells that are the one being run: same cell id, else same source; in the
        current lesson first, those after the last replayed cell first."""
        ctx = self.context
        if ctx.cell_id:
            by_id = [(r, c) for r in self.recordings for c in r.cells if c.id == ctx.cell_id]
            if by_id:
                return by_id
        if ctx.source is None:
            return []
        same = [(r, c) for r in self._lessons() for c in r.cells if c.source == ctx.source]
        return sorted(same, key=lambda rc: (rc[0] is not self.current,
                                            rc[0] is self.current and rc[1].index
                                            <= self._last_index, rc[1].index))

    def _lessons(self) -> list[Recording]:
        return [self.current] + [r for r in self.recordings if r is not self.current]

    def _find(self, command: str) -> tuple[Recording, Cell, int] | None:
        stored = stored_command(command)
        # 1. The cell being run, continuing where it left off.
        if self._cell is not None and self._cell_serial == self.context.serial:
            rec, cell = self._cell
            for i in range(self._done, len(cell.events)):
                e = cell.events[i]
                if isinstance(e, Run) and e.command == stored:
                    return rec, cell, i
        # 2. A recorded cell that is this cell (first command of a cell run).
        for rec, cell in self._cells_for_context():
            for i, e in enumerate(cell.events):
                if isinstance(e, Run) and e.command == stored:
                    return rec, cell, i
        # 3. The same command anywhere: a learner's own cell running a recorded command, or
        #    a script; the next occurrence after the last replayed cell first.
        found = [(rec, cell, i) for rec in self._lessons() for cell in rec.cells
                 for i, e in enumerate(cell.events) if isinstance(e, Run) and e.command == stored]
        found.sort(key=lambda x: (x[0] is not self.current,
                                  x[0] is self.current and x[1].index <= self._last_index,
                                  x[1].index))
        return found[0] if found else None

    # -- the transport interface ---------------------------------------------------------------

    def run(self, command: str, *, timeout: float | None = None,
            on_output: OutputCallback | None = None, max_output: int = MAX_OUTPUT) -> Result:
        # (a recording holds what a bounded run printed: nothing more to bound here)
        hit = self._find(command)
        if hit is None:
            raise NotRecorded(command, self.why, needs_for(command))
        rec, cell, i = hit
        run = cell.events[i]
        assert isinstance(run, Run)
        self.current, self._cell, self._cell_serial = rec, (rec, cell), self.context.serial
        self._done, self._last_index = i + 1, cell.index
        if on_output:
            for stream, text in run.output:
                on_output(stream, text)
        return Result(command=command, stdout=run.stdout, stderr=run.stderr,
                      exit_code=run.exit_code, duration=0.0, timed_out=run.timed_out)

    def snapshot_json(self) -> dict[str, Any]:
        """The recorded snapshot for "now": the next one the replayed cell took after its last
        replayed command, else the latest one recorded before that point."""
        if self._cell is None:
            raise LabError("Nothing has been replayed yet, so there is no recorded state to draw.",
                           hint="run the lesson's cells from the top (`lab.reset()` first)")
        rec, cell = self._cell
        for e in cell.events[self._done:]:
            if isinstance(e, Snap):
                return {"format": SNAPSHOT_FORMAT, **rec.topologies[e.topology]}
            if isinstance(e, Run):
                break
        # Walk back from here through this lesson's earlier events.
        before = [c for c in rec.cells if c.index < cell.index]
        events = [e for c in before for e in c.events] + list(cell.events[:self._done])
        for e in reversed(events):
            if isinstance(e, Snap):
                return {"format": SNAPSHOT_FORMAT, **rec.topologies[e.topology]}
        raise LabError("The recording holds no snapshot for this point of the lesson.",
                       hint="refresh the recordings (`labkit lesson build "
                       "--record`)")

    def open_pipe(self, argv: list[str]) -> _ReplayProbePipe:
        return _ReplayProbePipe(self)

    def alive(self) -> bool:
        return True


class _ReplayProbePipe:
    """Speaks labkit.probe's --serve protocol, answering from the recording."""

    def __init__(self, transport: ReplayTransport) -> None:
        self._t = transport
        self._out = [json.dumps({"hello": "labkit.probe", "format": SNAPSHOT_FORMAT,
                                 "raw_format": RAW_FORMAT,
                                 "pyroute2": "recorded", "pid": 0}).encode()]

    def send(self, data: bytes) -> None:
        for line in data.decode().splitlines() or [""]:
            if line.strip() in ("", "snapshot"):
                try:
                    self._out.append(json.dumps(self._t.snapshot_json()).encode())
                except LabError as exc:
                    self._out.append(json.dumps({"error": exc.message}).encode())
            elif line.strip() != "quit":
                self._out.append(json.dumps({"error": f"replay answers only snapshot, "
                                                      f"not {line.strip()!r}"}).encode())

    def read_line(self, timeout: float) -> bytes:
        if not self._out:
            raise EOFError("replay probe: nothing was asked")
        return self._out.pop(0)

    def close(self) -> None:
        self._out.clear()
