"""`labkit lesson release OUT/`: the editions a class gets.

* `OUT/learner/`: every lesson with its outputs, its exercise's solution cells **deleted**
  (the `solution` and `check-solution` cells, not just hidden), the exercise text no longer
  pointing at a solution, and its replay recording without those cells.
* `OUT/instructor/`: every lesson as it is, solutions included.

As in nbgrader, each transformation is one small function over the notebook JSON (a
"preprocessor"), and an edition is an ordered list of them (`LEARNER`, `INSTRUCTOR`). Each
released notebook says which edition it is in `metadata.labkit.edition`.

Bad input loses nothing: every lesson is read and transformed, and every target checked,
before anything is written; an existing learner notebook in OUT is never overwritten
without `force`; files are written to a temporary name and renamed into place.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit.authoring.cells import SOLUTION_ROLES, role, source
from labkit.authoring.textsource import as_notebook
from labkit.errors import UsageError
from labkit.exercises import get

Notebook = dict
Transform = Callable[[Notebook], Notebook]

def _role(cell: dict) -> str | None:
    return role(cell)[0]


def is_solution_cell(cell: dict) -> bool:
    """A cell the learner edition deletes: role solution/check-solution, or tagged solution."""
    return _role(cell) in SOLUTION_ROLES or "solution" in (
        cell.get("metadata", {}).get("tags") or [])


# --- the transformations (pure: each returns a new notebook) ---------------------------------


def drop_solution_cells(nb: Notebook) -> Notebook:
    """Delete the solution and check-solution cells (outputs and all)."""
    out = copy.deepcopy(nb)
    out["cells"] = [c for c in out["cells"] if not is_solution_cell(c)]
    return out


#: The sentence part of the standard exercise text that offers the solution, e.g.
#: '... shows a hint (one more each time you run it) and `solution("lesson0/x")` prints a
#: solution.' (with a line break anywhere in between).
_OFFER = re.compile(r",?\s+and\s+`solution\(\"[^\"]+\"\)`\s+prints\s+(?:a|the)\s+solution(?=[.;])")
#: Any other sentence that mentions the solution cell or solution("...").
_MENTION = re.compile(r"solution\(\"|(?:hidden|below)[^.]{0,40}\bsolution\b|\bsolution cell",
                      re.I)


def reword_exercise_text(nb: Notebook) -> Notebook:
    """In each exercise cell, take out what points at the deleted solution: the standard
    '... and `solution("ID")` prints a solution' and any other sentence mentioning it."""
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        if _role(cell) != "exercise":
            continue
        text = _OFFER.sub("", source(cell))
        if _MENTION.search(text):
            text = _drop_sentences(text)
        cell["source"] = text
    return out


def _drop_sentences(text: str) -> str:
    """Drop the sentences that mention the solution; sentences end at '. ' or a paragraph
    end (a '.' inside 10.15.10.4 or `a.b` is no sentence end)."""
    paragraphs = text.split("\n\n")
    kept = []
    for para in paragraphs:
        sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`(])", para)
        sentences = [s for s in sentences if not _MENTION.search(s)]
        if sentences:
            kept.append(" ".join(sentences) if len(sentences) > 1 else sentences[0])
    return "\n\n".join(kept)


def mark_edition(edition: str) -> Transform:
    """Record the edition in the notebook's labkit metadata (`learner` / `instructor`)."""

    def mark(nb: Notebook) -> Notebook:
        out = copy.deepcopy(nb)
        out.setdefault("metadata", {}).setdefault("labkit", {})["edition"] = edition
        return out

    mark.__name__ = f"mark_edition_{edition}"
    return mark


LEARNER: tuple[Transform, ...] = (drop_solution_cells, reword_exercise_text,
                                  mark_edition("learner"))
INSTRUCTOR: tuple[Transform, ...] = (mark_edition("instructor"),)
EDITIONS: dict[str, tuple[Transform, ...]] = {"learner": LEARNER, "instructor": INSTRUCTOR}


def apply(nb: Notebook, transforms: Sequence[Transform]) -> Notebook:
    """Run the transformations in order."""
    for transform in transforms:
        nb = transform(nb)
    return nb


def learner_recording(recording: dict, learner_nb: Notebook) -> dict:
    """A replay recording with only the cells the learner notebook still has (by cell id),
    and only the topologies those cells use: no trace of the solution's commands."""
    kept_ids = {c.get("id") for c in learner_nb["cells"]}
    out = copy.deepcopy(recording)
    out["cells"] = [c for c in out.get("cells", []) if c.get("id") in kept_ids]
    used = {ev["snapshot"] for c in out["cells"] for ev in c.get("events", [])
            if isinstance(ev, dict) and "snapshot" in ev}
    out["topologies"] = {k: v for k, v in out.get("topologies", {}).items() if k in used}
    return out


def leaks(learner_nb: Notebook) -> list[str]:
    """Where the learner edition still shows a solution: a solution cell left, or a code
    cell holding an exercise's solution commands (pure, after the transformations)."""
    found = []
    ids = {role(c)[1] for c in learner_nb["cells"]} - {None}
    solutions = {}
    for ex_id in ids:
        try:
            solutions[ex_id] = get(ex_id).solution.strip()
        except Exception:  # noqa: BLE001 - an unknown exercise is `lesson check`'s to report
            continue
    for number, cell in enumerate(learner_nb["cells"], 1):
        if is_solution_cell(cell):
            found.append(f"cell {number} is still a solution cell")
        src = source(cell)
        for ex_id, sol in solutions.items():
            if sol and cell.get("cell_type") == "code" and sol in src:
                found.append(f"cell {number} holds the solution of {ex_id}")
    return found


# --- planning and writing (the I/O) -----------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One file the release will write."""

    target: Path
    content: str
    edition: str
    source: Path


def _dump(nb: Notebook) -> str:
    # nbformat's own layout (indent 1, sorted keys, trailing newline), like the stored lessons
    import nbformat

    node = as_notebook(nb)
    nbformat.validate(node)
    return nbformat.writes(node) + "\n"


def plan(lessons: Sequence[Path], out: Path, *, force: bool = False) -> list[Planned]:
    """Everything the release will write, or a UsageError before anything is written."""
    planned: list[Planned] = []
    problems: list[str] = []
    for path in lessons:
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: cannot read it as a notebook ({exc})")
            continue
        for edition, transforms in EDITIONS.items():
            released = apply(nb, transforms)
            if edition == "learner":
                problems += [f"{path}: learner edition: {leak}" for leak in leaks(released)]
            planned.append(Planned(out / edition / path.name, _dump(released), edition, path))
            rec_path = path.parent / "recordings" / f"{path.stem}.json"
            if rec_path.is_file():
                rec = json.loads(rec_path.read_text(encoding="utf-8"))
                if edition == "learner":
                    rec = learner_recording(rec, released)
                planned.append(Planned(out / edition / "recordings" / rec_path.name,
                                       json.dumps(rec, indent=1, ensure_ascii=False) + "\n",
                                       edition, rec_path))
    if not force:
        existing = [p.target for p in planned if p.edition == "learner" and p.target.exists()]
        if existing:
            problems.append(f"{len(existing)} learner file(s) already exist in {out} (e.g. "
                            f"{existing[0]}): learners may have them; --force overwrites")
    if problems:
        raise UsageError("nothing was released:\n  " + "\n  ".join(problems))
    return planned


def write(planned: Sequence[Planned]) -> list[Path]:
    """Write the planned files (each to a temporary name first, then renamed into place)."""
    written = []
    for item in planned:
        item.target.parent.mkdir(parents=True, exist_ok=True)
        tmp = item.target.with_name(f".{item.target.name}.tmp")
        tmp.write_text(item.content, encoding="utf-8")
        os.replace(tmp, item.target)
        written.append(item.target)
    return written


def release(lessons: Sequence[Path], out: str | Path, *, force: bool = False) -> list[Path]:
    """Write OUT/learner/ and OUT/instructor/ for these lessons; the files written."""
    if not lessons:
        raise UsageError("no lessons to release", hint="name them, or run from the repository "
                         "root (notebooks/NN-name.ipynb)")
    return write(plan(list(lessons), Path(out), force=force))
