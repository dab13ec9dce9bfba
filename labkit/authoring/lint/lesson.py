"""What the lint's rules read (`Lesson`) and what they find (`Problem`), and the only I/O:
`load_lesson` reads a notebook, its sanitize patterns and its text source; `lesson_paths`
finds the lessons named on the command line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from labkit.authoring import textsource
from labkit.authoring.sanitize import Patterns, find_sanitize_file, read_sanitize_file
from labkit.hosts.compose import ComposeMissing, find_project_dir


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a lesson. `cell` counts from 1; None for the whole lesson."""

    rule: str
    message: str
    cell: int | None = None
    cell_id: str | None = None

    def text(self, where: str = "") -> str:
        at = "" if self.cell is None else (
            f"cell {self.cell}" + (f" ({self.cell_id})" if self.cell_id else "") + ": ")
        prefix = f"{where}: " if where else ""
        return f"{prefix}{at}{self.message} [{self.rule}]"


@dataclass(frozen=True)
class Lesson:
    """What the rules look at. `text` is the paired text source's content (None: missing),
    `pairing` its `textsource.Pairing` (None: nothing pairs this notebook)."""

    path: Path
    nb: dict
    sanitize: Patterns = ()
    sanitize_file: Path | None = None
    pairing: textsource.Pairing | None = None
    text: str | None = None
    require_text: bool = True

    @property
    def cells(self) -> list[dict]:
        return self.nb.get("cells", [])


#: a rule: a pure function of the lesson
Rule = Callable[[Lesson], list[Problem]]


def at(lesson: Lesson, index: int, rule: str, message: str) -> Problem:
    """A problem at the cell with 0-based `index`."""
    return Problem(rule, message, index + 1, lesson.cells[index].get("id"))


def code_cells(lesson: Lesson) -> Iterator[tuple[int, dict]]:
    """(0-based index, cell) of every code cell."""
    for index, cell in enumerate(lesson.cells):
        if cell.get("cell_type") == "code":
            yield index, cell


def load_lesson(path: str | Path, *, sanitize_file: str | Path | None = None,
                require_text: bool = True) -> Lesson:
    """Read a lesson, its sanitize patterns and its paired text source."""
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    cfg = Path(sanitize_file) if sanitize_file else find_sanitize_file(path.resolve())
    patterns = read_sanitize_file(cfg) if cfg else ()
    pairing = textsource.pairing_for(path)
    text = None
    if pairing is not None and pairing.text.is_file():
        text = pairing.text.read_text(encoding="utf-8")
    return Lesson(path, nb, patterns, cfg, pairing, text, require_text)


def lesson_paths(paths: list[str | Path] | None, default: str | Path = "notebooks") -> list[Path]:
    """The lessons named (files, or folders holding NN-name.ipynb); none named: `default`."""
    found: list[Path] = []
    if not paths and not Path(default).exists():
        # Run from elsewhere: the course checkout's lessons (compose finds that checkout).
        try:
            default = find_project_dir() / default
        except ComposeMissing:
            pass
    for p in [Path(x) for x in (paths or [default])]:
        if p.is_dir():
            found += sorted(p.glob("[0-9][0-9]-*.ipynb"))
        else:
            found.append(textsource.notebook_of(p))
    return found
