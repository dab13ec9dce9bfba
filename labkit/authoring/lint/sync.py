"""The lesson agrees with its text source, lessons/NN-name.md (`text-in-sync`): the cells a
reviewer reads are the cells a learner runs."""

from __future__ import annotations

from labkit.authoring import textsource
from labkit.authoring.lint.lesson import Lesson, Problem, at

RULE = "text-in-sync"
_FIX = "`labkit lesson sync` brings them in step"


def text_in_sync(lesson: Lesson) -> list[Problem]:
    """The paired text source exists and holds the notebook's cells, cell by cell."""
    if lesson.pairing is None:
        if not lesson.require_text:
            return []
        return [Problem(RULE, "no text source is paired with this notebook (jupytext.toml at "
                        "the repository root pairs notebooks/*.ipynb with lessons/*.md)")]
    name = lesson.pairing.text.name
    if lesson.text is None:
        return [Problem(RULE, f"its text source {name} is missing: `labkit lesson sync` "
                        "writes it")]
    problems = []
    for diff in textsource.cells_out_of_sync(lesson.nb, lesson.text, lesson.pairing):
        if diff.kind == "layout":
            problems.append(Problem(RULE, f"{diff.message} ({name})"))
        elif diff.kind == "text-only" or not diff.cell or diff.cell > len(lesson.cells):
            problems.append(Problem(RULE, f"{diff} ({name}): {_FIX}"))
        else:
            problems.append(at(lesson, diff.cell - 1, RULE, f"{diff.message} ({name}): {_FIX}"))
    return problems
