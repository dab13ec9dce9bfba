"""A learner's progress kept in a small JSON file beside the notebooks, so it survives a
kernel restart and never lives inside the learner's notebook.

    from labkit.exercises.store import install
    install()          # ./.labkit-progress.json (the kernel runs in the notebook's folder)

`install()` swaps `labkit.exercises.progress` for a `FileProgress`; `hint()`, `check()` and the
widgets then read and write the file. `LABKIT_PROGRESS=PATH` puts it elsewhere,
`LABKIT_PROGRESS=off` keeps progress in memory only.

The file (format 1):

    {"format": 1,
     "exercises": {"lesson1/find-the-peer": {"hints_shown": 2, "checks": 3, "failed": 2,
                                             "passed": true, "gave_up": false}}}

`passed` is true once a check passed (it stays true: the lab may be reset afterwards).
`failed` (checks that failed: they open the hints) and `gave_up` (the learner opened the
solution before the last hint) came later within format 1; a file without them reads as
failed = checks unless passed, gave_up = false, so older files keep what they opened.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import labkit.exercises as _exercises
from labkit.exercises import Exercise, Progress
from labkit.model.formats import PROGRESS_FORMAT

FILE_NAME = ".labkit-progress.json"
ENV = "LABKIT_PROGRESS"


@dataclass
class FileProgress(Progress):
    """`Progress` that reads its file on creation and writes it after every change."""

    path: Path | None = None
    checks: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> FileProgress:
        """The progress stored at `path`; empty when the file is missing or unreadable (a
        damaged file must not stop a lesson: it is rewritten on the next change)."""
        store = cls(path=path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return store
        if not isinstance(data, dict) or data.get("format") != PROGRESS_FORMAT:
            return store
        for ex_id, entry in (data.get("exercises") or {}).items():
            if isinstance(entry, dict):
                store._read_entry(ex_id, entry)
        return store

    def _read_entry(self, ex_id: str, entry: dict) -> None:
        self.hints_shown[ex_id] = int(entry.get("hints_shown", 0))
        self.checks[ex_id] = int(entry.get("checks", 0))
        self.passed[ex_id] = bool(entry.get("passed", False))
        # An entry written before `failed` existed: every check failed unless one passed.
        self.failed[ex_id] = int(entry.get("failed", 0 if self.passed[ex_id]
                                           else self.checks[ex_id]))
        self.gave_up[ex_id] = bool(entry.get("gave_up", False))

    def to_dict(self) -> dict:
        tables = (self.hints_shown, self.checks, self.failed, self.passed, self.gave_up)
        ids = sorted(set().union(*tables))
        return {"format": PROGRESS_FORMAT, "exercises": {i: {
            "hints_shown": self.hints_shown.get(i, 0), "checks": self.checks.get(i, 0),
            "failed": self.failed.get(i, 0), "passed": self.passed.get(i, False),
            "gave_up": self.gave_up.get(i, False)} for i in ids}}

    def save(self) -> None:
        if self.path is None:
            return
        # Write then rename: a kernel killed mid-write leaves the old file, not half a file.
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only course folder: progress stays in memory, the lesson goes on

    # -- what the exercises call ----------------------------------------------------------

    def next_hint(self, exercise: Exercise) -> tuple[int, str] | None:
        got = super().next_hint(exercise)
        if got is not None:
            self.save()
        return got

    def record_check(self, exercise: Exercise, passed: bool) -> None:
        super().record_check(exercise, passed)
        self.checks[exercise.id] = self.checks.get(exercise.id, 0) + 1
        self.save()

    def give_up(self, exercise: Exercise) -> None:
        super().give_up(exercise)
        self.save()

    def forget(self, exercise_id: str | None = None) -> None:
        super().forget(exercise_id)
        if exercise_id is None:
            self.checks.clear()
        else:
            self.checks.pop(exercise_id, None)
        self.save()

    # -- what the widgets show ------------------------------------------------------------

    def shown(self, exercise: Exercise) -> list[str]:
        """The hints revealed so far, in order."""
        return list(exercise.hints[:self.hints_shown.get(exercise.id, 0)])

    def done(self, exercise_id: str) -> bool:
        return self.passed.get(exercise_id, False)

    def lesson_line(self, lesson: str) -> str:
        """"2 of 3 exercises done in this lesson" for a lesson's notebook file name."""
        ids = [e.id for e in _exercises.exercises(lesson)]
        done = sum(1 for i in ids if self.done(i))
        return f"{done} of {len(ids)} exercise{'s' if len(ids) != 1 else ''} done in this lesson"


def default_path() -> Path | None:
    """$LABKIT_PROGRESS, else .labkit-progress.json in the current folder (a notebook's
    kernel runs in the notebook's folder); None for LABKIT_PROGRESS=off."""
    chosen = os.environ.get(ENV)
    if chosen and chosen.lower() in ("off", "none", "0"):
        return None
    return Path(chosen) if chosen else Path.cwd() / FILE_NAME


def install(path: Path | str | None = None) -> FileProgress:
    """Make `labkit.exercises.progress` a `FileProgress` (idempotent for the same path).
    Hints already revealed in this kernel are kept."""
    current = _exercises.progress
    where = Path(path) if path is not None else default_path()
    if isinstance(current, FileProgress) and current.path == where:
        return current
    store = FileProgress.load(where) if where is not None else FileProgress()
    for ex_id, n in current.hints_shown.items():
        store.hints_shown[ex_id] = max(n, store.hints_shown.get(ex_id, 0))
    for ex_id, n in current.failed.items():
        store.failed[ex_id] = max(n, store.failed.get(ex_id, 0))
    for table, mine in ((current.passed, store.passed), (current.gave_up, store.gave_up)):
        for ex_id, flag in table.items():
            mine[ex_id] = mine.get(ex_id, False) or flag
    _exercises.progress = store
    return store
