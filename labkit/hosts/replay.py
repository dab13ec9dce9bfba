"""The replay "lab": every recording found beside the notebooks, served by a ReplayTransport
(live mode 4, or a Docker lesson in the namespace-only lab)."""

from __future__ import annotations

import os
from pathlib import Path

from labkit.model.recording import Recording
from labkit.transport.replay import ReplayTransport

#: env var naming the recordings folder (default: found next to the notebooks)
DIR_ENV = "LABKIT_RECORDINGS"
#: env var naming the lesson a kernel runs (default: JupyterLab's JPY_SESSION_NAME)
LESSON_ENV = "LABKIT_LESSON"


def recordings_dir() -> Path | None:
    """$LABKIT_RECORDINGS, else `recordings/` next to the notebooks (the working folder of a
    notebook kernel), else the repository's notebooks/recordings."""
    env = os.environ.get(DIR_ENV)
    candidates = [Path(env)] if env else []
    candidates += [Path.cwd() / "recordings", Path.cwd() / "notebooks" / "recordings",
                   Path(__file__).resolve().parents[2] / "notebooks" / "recordings"]
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
