"""The lesson's frame: it opens by connecting and resetting the lab (`opens-with-reset`), and
its notebook metadata says which lesson it is and which exercises it holds (`metadata`)."""

from __future__ import annotations

import re

from labkit.authoring.cells import role, source
from labkit.authoring.lint.lesson import Lesson, Problem, at, code_cells
from labkit.model.formats import LESSON_FORMAT


def opens_with_reset(lesson: Lesson) -> list[Problem]:
    """The first code cell connects to the lab and resets it, before anything else runs."""
    first = next(code_cells(lesson), None)
    if first is None:
        return [Problem("opens-with-reset", "the lesson has no code cell: its first code cell "
                        "must be `lab = Lab.connect()` then `lab.reset()`")]
    index, cell = first
    lines = [ln.strip() for ln in source(cell).splitlines()]
    connect = next((i for i, ln in enumerate(lines) if "Lab.connect(" in ln
                    and not ln.startswith("#")), None)
    reset = next((i for i, ln in enumerate(lines) if re.match(r"(?:print\()?lab\.reset\(", ln)),
                 None)
    if connect is None or reset is None or reset < connect:
        missing = [what for what, line in (("`lab = Lab.connect()`", connect),
                                           ("`lab.reset()`", reset)) if line is None]
        why = (f"it has no {' and no '.join(missing)}" if missing
               else "it resets before it connects")
        return [at(lesson, index, "opens-with-reset",
                   "the first code cell must connect to the lab and reset it "
                   f"(`lab = Lab.connect()` then `lab.reset()`), so the lesson runs in any "
                   f"order; {why}")]
    if any(ln.startswith("%") for ln in lines[:reset]):
        return [at(lesson, index, "opens-with-reset",
                   "the first code cell runs lab commands before `lab.reset()`")]
    return []


def lesson_metadata(lesson: Lesson) -> list[Problem]:
    """`{"labkit": {"format": 1, "lesson": N, "exercises": [...]}}`, the ids in cell order."""
    meta = lesson.nb.get("metadata", {}).get("labkit")
    rule = "metadata"
    if not isinstance(meta, dict):
        return [Problem(rule, 'the notebook metadata has no "labkit" section ({"format": 1, '
                        '"lesson": N, "exercises": [...]}, see docs/lessons.md)')]
    problems = []
    if meta.get("format") != LESSON_FORMAT:
        problems.append(Problem(rule, f'labkit "format" is {meta.get("format")!r}; this '
                                f"labkit reads format {LESSON_FORMAT}"))
    number = re.match(r"(\d+)-", lesson.path.name)
    if not isinstance(meta.get("lesson"), int):
        problems.append(Problem(rule, 'labkit "lesson" must be the lesson\'s number'))
    elif number and int(number.group(1)) != meta["lesson"]:
        problems.append(Problem(rule, f'labkit "lesson" is {meta["lesson"]} but the file '
                                f"name says {int(number.group(1))}"))
    in_cells: list[str] = []
    for cell in lesson.cells:
        ex = role(cell)[1]
        if ex and ex not in in_cells:
            in_cells.append(ex)
    if list(meta.get("exercises", [])) != in_cells:
        problems.append(Problem(rule, f'labkit "exercises" lists {meta.get("exercises", [])} '
                                f"but the cells hold {in_cells} (in this order)"))
    return problems
