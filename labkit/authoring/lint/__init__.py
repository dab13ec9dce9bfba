"""`labkit lesson check`: what makes a lesson wrong before anyone runs it.

One small rule per concern, each a pure function of a `Lesson` (the notebook's JSON, its
paired text source, the sanitizer's patterns) returning `Problem`s that name the cell
(numbered from 1, as in the notebook; the cell id too, to find it in the text source). As
nbgrader runs one preprocessor per transformation, `check` runs the rules in `RULES` order;
each group lives in its own module:

| rule | module | the lesson must ... |
| --- | --- | --- |
| `opens-with-reset` | structure | connect and `lab.reset()` first, to run in any order |
| `metadata` | structure | carry `{"labkit": {"format": 1, "lesson": N, "exercises": [...]}}` |
| `exercise-cells` | exercises | have each exercise's five cells, in order, as in labkit.exercises |
| `exercise-data` | exercises | use exercises with a check, hints and a solution, of this lesson |
| `volatile-output` | outputs | store no output the sanitizer misses (ids, veth names, times, ...) |
| `text-in-sync` | sync | agree with its text source (lessons/NN-name.md) |
| `own-state` | state | start every container, namespace and bridge it uses, after its reset |
| `ignore-reason` | outputs | give a reason beside every `NBVAL_IGNORE_OUTPUT` / `NBVAL_SKIP` |

I/O (reading files) happens only in `lesson.load_lesson`; `check(lesson)` runs every rule.
"""

from __future__ import annotations

from labkit.authoring.lint.exercises import exercise_cells, exercise_data
from labkit.authoring.lint.lesson import Lesson, Problem, Rule, lesson_paths, load_lesson
from labkit.authoring.lint.outputs import ignore_reason, volatile_output
from labkit.authoring.lint.state import own_state
from labkit.authoring.lint.structure import lesson_metadata, opens_with_reset
from labkit.authoring.lint.sync import text_in_sync

#: every rule, in the order problems are listed
RULES: tuple[tuple[str, Rule], ...] = (
    ("opens-with-reset", opens_with_reset),
    ("metadata", lesson_metadata),
    ("exercise-cells", exercise_cells),
    ("exercise-data", exercise_data),
    ("volatile-output", volatile_output),
    ("text-in-sync", text_in_sync),
    ("own-state", own_state),
    ("ignore-reason", ignore_reason),
)


def check(lesson: Lesson, rules: tuple[tuple[str, Rule], ...] = RULES) -> list[Problem]:
    """Every problem every rule finds, sorted by cell (lesson-wide ones first)."""
    problems = [p for _, rule in rules for p in rule(lesson)]
    return sorted(problems, key=lambda p: (p.cell or 0))


__all__ = ["RULES", "Lesson", "Problem", "Rule", "check", "lesson_paths", "load_lesson"]
