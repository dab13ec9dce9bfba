"""Replay: lessons shown from recordings of real lab runs, where no live lab can run.

A *recording* (`notebooks/recordings/NN-name.json`, format in docs/replay.md) holds, for every
cell of a lesson that reached the lab, what reached it: each command with its output and exit
status, and each topology snapshot the cell took (the diagram's). `python -m labkit.authoring
build --record` makes them from a real run; nothing here ever invents an output.

* `Recorder` (authoring side): a transport wrapper that logs what a live lab answered, one
  JSON line per event, to the file named by $LABKIT_RECORD.
* `ReplayTransport` (learner side): answers a command from the recording of the cell being
  run; a command that is not recorded raises `NotRecorded`, saying which live mode it needs.
  Its probe pipe answers snapshot requests with the recorded snapshot.

Pure parts (`Recording.from_json`, `lesson_needs_docker`, `Cursor`-free lookups) are
unit-tested; the transport only adds IPython's cell context.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LabError
from .result import Result
from .transport import MAX_OUTPUT, OutputCallback

#: recording format; changes only on incompatible changes (see docs/replay.md)
FORMAT = 1

#: env var naming the event log a recording kernel writes (set by authoring.build --record)
RECORD_ENV = "LABKIT_RECORD"
#: env var naming the recordings folder (default: found next to the notebooks)
DIR_ENV = "LABKIT_RECORDINGS"
#: env var naming the lesson a kernel runs (default: JupyterLab's JPY_SESSION_NAME)
LESSON_ENV = "LABKIT_LESSON"

#: labkit's own scripts are stored by name, not by their (long) text
SCRIPTS = ("reset.sh",)

#: the first line of the banner over replayed cells; tests find banners by it
BANNER = "▶ recorded in a real lab"

_DOCKER_WORD = re.compile(r"(^|[\s;|&(`$])docker(\s|$)", re.M)


# --- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One command and what the lab answered. `output` keeps the order in which stdout and
    stderr chunks arrived (merged per stream), so a replayed cell shows them the same way."""

    command: str
    output: tuple[tuple[str, str], ...]
    exit_code: int
    timed_out: bool = False

    @property
    def stdout(self) -> str:
        return "".join(t for s, t in self.output if s == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(t for s, t in self.output if s == "stderr")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"run": self.command, "output": [list(c) for c in self.output],
                             "exit_code": self.exit_code}
        if self.timed_out:
            d["timed_out"] = True
        return d


@dataclass(frozen=True)
class Snap:
    """A snapshot the cell took at this point (by id into `Recording.topologies`)."""

    topology: str

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot": self.topology}


Event = Run | Snap


@dataclass(frozen=True)
class Cell:
    """What one notebook cell sent to the lab, in order."""

    index: int  # position in the notebook's cell list
    id: str | None  # nbformat cell id
    source: str
    events: tuple[Event, ...]

    @property
    def runs(self) -> list[Run]:
        return [e for e in self.events if isinstance(e, Run)]

    @property
    def topology(self) -> str | None:
        """The snapshot after the cell (its last one)."""
        snaps = [e.topology for e in self.events if isinstance(e, Snap)]
        return snaps[-1] if snaps else None


@dataclass(frozen=True)
class Recording:
    lesson: str  # the notebook's file name
    cells: tuple[Cell, ...]
    topologies: dict[str, dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def live_modes(self) -> tuple[str, ...]:
        """The live modes in which this lesson can run (a Docker lesson needs an engine)."""
        return ("docker", "rootless") if lesson_needs_docker(self) else (
            "docker", "rootless", "netns")

    def cell(self, index: int) -> Cell | None:
        return next((c for c in self.cells if c.index == index), None)

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "lesson": self.lesson, "recorded": self.meta,
            "live_modes": list(self.live_modes),
            "cells": [{"index": c.index, "id": c.id, "source": c.source,
                       "events": [e.to_dict() for e in c.events]} for c in self.cells],
            "topologies": self.topologies,
        }, indent=1, sort_keys=False, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> Recording:
        d = json.loads(text) if isinstance(text, str) else text
        if d.get("format") != FORMAT:
            raise ValueError(f"recording format {d.get('format')!r} is not supported (must be "
                             f"{FORMAT}); refresh it with `python -m labkit.authoring build "
                             "--record`")
        cells = tuple(Cell(c["index"], c.get("id"), c["source"], tuple(
            Run(e["run"], tuple((s, t) for s, t in e["output"]), e["exit_code"],
                e.get("timed_out", False)) if "run" in e else Snap(e["snapshot"])
            for e in c["events"])) for c in d["cells"])
        return cls(d["lesson"], cells, d.get("topologies", {}), d.get("recorded", {}))


def lesson_needs_docker(rec: Recording) -> bool:
    """Does any recorded command of the lesson call docker? (labkit's reset is not counted: it
    skips Docker where there is none.) Pure."""
    return any(_DOCKER_WORD.search(r.command) for c in rec.cells for r in c.runs
               if not r.command.startswith("@"))


def stored_command(command: str) -> str:
    """How a command is stored: labkit's own scripts by name (`@reset.sh`)."""
    from .lab import script

    for name in SCRIPTS:
        if command == script(name):
            return f"@{name}"
    return command


# --- making a recording (authoring side) ------------------------------------------------------


def topology_key(topo: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The snapshot without how the probe ran (its timing), and a stable digest of it. Pure."""
    kept = {k: v for k, v in topo.items() if k != "probe"}
    digest = hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()
    return digest, kept


def assemble(lesson: str, cells: list[tuple[int, str | None, str, list[dict]]],
             meta: dict[str, Any]) -> Recording:
    """A Recording from per-cell event logs (lines the `Recorder` wrote). Equal snapshots
    are stored once, named t1, t2, ... in order of first appearance. Pure."""
    ids: dict[str, str] = {}
    topologies: dict[str, dict[str, Any]] = {}
    out = []
    for index, cell_id, source, events in cells:
        evs: list[Event] = []
        for e in events:
            if "snapshot" in e:
                digest, kept = topology_key(e["snapshot"])
                if digest not in ids:
                    ids[digest] = f"t{len(ids) + 1}"
                    topologies[ids[digest]] = kept
                evs.append(Snap(ids[digest]))
            else:
                evs.append(Run(e["run"], tuple((s, t) for s, t in e["output"]), e["exit_code"],
                               e.get("timed_out", False)))
        if evs:
            out.append(Cell(index, cell_id, source, tuple(evs)))
    return Recording(lesson, tuple(out), topologies, meta)


def _merge_chunk(chunks: list[list[str]], stream: str, text: str) -> None:
    if chunks and chunks[-1][0] == stream:
        chunks[-1][1] += text
    else:
        chunks.append([stream, text])


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
        chunks: list[list[str]] = []

        def seen(stream: str, text: str) -> None:
            _merge_chunk(chunks, stream, text)
            if on_output:
                on_output(stream, text)

        try:
            result = self.inner.run(command, timeout=timeout, on_output=seen,
                                    max_output=max_output)
        except Exception as exc:  # noqa: BLE001 - a timeout's partial output is still a fact
            partial = getattr(exc, "result", None)
            self._log({"run": stored_command(command), "output": chunks,
                       "exit_code": partial.exit_code if partial else -1, "timed_out": True})
            raise
        self._log({"run": stored_command(command), "output": chunks,
                   "exit_code": result.exit_code, **({"timed_out": True}
                                                     if result.timed_out else {})})
        return result

    def open_pipe(self, argv: list[str]):
        return _RecordingPipe(self.inner.open_pipe(argv), self._log)

    def alive(self) -> bool:
        return self.inner.alive()


def install_recorder(lab) -> None:
    """In a kernel started by `build --record`: log what the lab answers, and take a snapshot
    after each cell that ran commands without drawing (so every cell has its "after")."""
    path = os.environ.get(RECORD_ENV)
    if not path or isinstance(lab.transport, Recorder):
        return
    lab.transport = Recorder(lab.transport, path)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None:
        return

    def after(_result=None) -> None:
        if isinstance(lab.transport, Recorder) and lab.transport.pending:
            try:
                lab.snapshot()
            except Exception as exc:  # noqa: BLE001 - the build's own output shows the cell
                print(f"labkit: no snapshot after this cell ({exc})", file=sys.stderr)

    ip.events.register("post_run_cell", after)


# --- finding recordings -----------------------------------------------------------------------


def recordings_dir() -> Path | None:
    """$LABKIT_RECORDINGS, else `recordings/` next to the notebooks (the working folder of a
    notebook kernel), else the repository's notebooks/recordings."""
    env = os.environ.get(DIR_ENV)
    candidates = [Path(env)] if env else []
    candidates += [Path.cwd() / "recordings", Path.cwd() / "notebooks" / "recordings",
                   Path(__file__).resolve().parent.parent / "notebooks" / "recordings"]
    return next((c for c in candidates if c.is_dir()), None)


def load_all(folder: Path | None = None) -> list[Recording]:
    folder = folder or recordings_dir()
    if folder is None:
        return []
    return [Recording.from_json(p.read_text(encoding="utf-8"))
            for p in sorted(folder.glob("*.json"))]


def lesson_hint() -> str | None:
    """The notebook this kernel runs, if anyone says: $LABKIT_LESSON, or JupyterLab's
    JPY_SESSION_NAME (the notebook's path)."""
    for var in (LESSON_ENV, "JPY_SESSION_NAME"):
        value = os.environ.get(var)
        if value:
            return Path(value).name
    return None


# --- replaying (learner side) -----------------------------------------------------------------


class NotRecorded(LabError):
    kind = "not-recorded"

    def __init__(self, command: str, why: str, needs: str) -> None:
        first = command.strip().splitlines()[0] if command.strip() else command
        super().__init__(
            f"`{first[:120]}` is not in this lesson's recording, so there is no real output "
            f"to show: {why}. labkit never makes an output up.",
            hint=f"run it where a live lab is possible: {needs}. `labkit doctor` (or "
            "`python -m labkit.modes`) says what this host allows and why.")


def needs_for(command: str) -> str:
    """Which live modes can run this command (pure)."""
    if _DOCKER_WORD.search(command):
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
                           "recordings with `python -m labkit.authoring build --record "
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
        self._topology: dict[str, Any] | None = None  # the state after the last replay
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
        self._topology = None
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
                return {"format": 1, **rec.topologies[e.topology]}
            if isinstance(e, Run):
                break
        # Walk back from here through this lesson's earlier events.
        before = [c for c in rec.cells if c.index < cell.index]
        events = [e for c in before for e in c.events] + list(cell.events[:self._done])
        for e in reversed(events):
            if isinstance(e, Snap):
                return {"format": 1, **rec.topologies[e.topology]}
        raise LabError("The recording holds no snapshot for this point of the lesson.",
                       hint="refresh the recordings (`python -m labkit.authoring build "
                       "--record`)")

    def open_pipe(self, argv: list[str]) -> _ReplayProbePipe:
        return _ReplayProbePipe(self)

    def alive(self) -> bool:
        return True


class _ReplayProbePipe:
    """Speaks labkit.probe's --serve protocol, answering from the recording."""

    def __init__(self, transport: ReplayTransport) -> None:
        self._t = transport
        self._out = [json.dumps({"hello": "labkit.probe", "format": 1, "raw_format": 1,
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


class Banner:
    """Shown over each replayed `%%lab` cell: the output below is a recording, not this host."""

    def __init__(self, why: str) -> None:
        self.why = why

    @property
    def text(self) -> str:
        return (f"{BANNER} — not run here ({self.why}); the output and the diagram below were "
                "recorded when this lesson ran in a real lab.")

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.text)

    def _repr_html_(self) -> str:
        import html

        return ('<div style="border-left:4px solid #d08000;background:#fff6e0;padding:2px 8px;'
                f'font-family:sans-serif;font-size:90%"><b>{html.escape(BANNER)}</b> — not run '
                f'here ({html.escape(self.why)}); the output and the diagram below were recorded '
                "when this lesson ran in a real lab.</div>")


def connect_replay(report=None, *, lesson: str | None = None,
                   reason: str | None = None) -> ReplayTransport:
    """A replay transport over every recording found, starting at `lesson` (default: the
    notebook this kernel runs, if known). `reason` overrides the "why" taken from `report`."""
    why = reason or (f"live mode {report.number} of 4: {report.title}" if report else
                     "no live lab")
    return ReplayTransport(load_all(), lesson=lesson or lesson_hint(), why=why)


def lesson_recording(lesson: str | None) -> Recording | None:
    """The recording of a lesson by its notebook file name, if there is one."""
    if not lesson:
        return None
    return next((r for r in load_all() if r.lesson == lesson), None)
