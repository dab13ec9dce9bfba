"""The exercise at the end of a lesson: its five cells, in order, each as docs/lessons.md
describes it (`exercise-cells`), and an exercise in labkit.exercises that has what a learner
needs and belongs to this lesson (`exercise-data`)."""

from __future__ import annotations

import re

from labkit.authoring.build import exercise_cell_problems
from labkit.authoring.cells import EXERCISE_ROLES, role, source
from labkit.authoring.lint.lesson import Lesson, Problem, at
from labkit.authoring.lint.outputs import output_texts
from labkit.authoring.textsource import as_notebook
from labkit.exercises import get

RULE = "exercise-cells"


def exercise_cells(lesson: Lesson) -> list[Problem]:
    """Each exercise has its five cells, in order, each as docs/lessons.md describes it, and
    the solution cell runs exactly the solution the tests run (authoring's own check)."""
    problems = []
    for text in exercise_cell_problems(as_notebook(lesson.nb)):
        m = re.match(r"cell (\d+): (.*)", text, re.S)
        if m:
            problems.append(at(lesson, int(m.group(1)) - 1, RULE, m.group(2)))
        else:
            problems.append(Problem(RULE, text))
    by_exercise: dict[str, list[tuple[int, str]]] = {}
    for index, cell in enumerate(lesson.cells):
        r, ex = role(cell)
        if r in EXERCISE_ROLES and not ex:
            problems.append(at(lesson, index, RULE, f'a "{r}" cell must name its exercise '
                               '("exercise": ID in its labkit metadata)'))
        if r in EXERCISE_ROLES and ex:
            by_exercise.setdefault(ex, []).append((index, r))
    for ex, found in by_exercise.items():
        problems += _exercise_layout(lesson, ex, found)
        for index, r in found:
            problems += _exercise_cell_shape(lesson, index, r, ex)
    return problems


def _exercise_layout(lesson: Lesson, ex: str, found: list[tuple[int, str]]) -> list[Problem]:
    """One cell of each role, in order, next to each other. `found`: (index, role)."""
    problems = []
    roles = [r for _, r in found]
    first = found[0][0]
    for wanted in EXERCISE_ROLES:
        if roles.count(wanted) != 1:
            problems.append(at(lesson, first, RULE, f"exercise {ex} has {roles.count(wanted)}"
                               f' "{wanted}" cells; it needs exactly one'))
    if sorted(roles) == sorted(EXERCISE_ROLES) and roles != list(EXERCISE_ROLES):
        problems.append(at(lesson, first, RULE, f"the cells of {ex} are in the order "
                           f"{roles}; they must be {list(EXERCISE_ROLES)}"))
    indexes = [i for i, _ in found]
    if indexes != list(range(first, first + len(indexes))):
        problems.append(at(lesson, first, RULE, f"the cells of {ex} must follow each "
                           "other, with nothing in between"))
    return problems


def _exercise_cell_shape(lesson: Lesson, index: int, r: str, ex: str) -> list[Problem]:
    """The cell of role `r` looks as docs/lessons.md says: its type, then its role's shape."""
    cell = lesson.cells[index]
    want_type = "markdown" if r == "exercise" else "code"
    if cell.get("cell_type") != want_type:
        return [at(lesson, index, RULE, f'the "{r}" cell of {ex} must be a {want_type} cell')]
    shape = _SHAPES.get(r)
    return [at(lesson, index, RULE, m) for m in shape(cell, ex)] if shape else []


def _check_shape(cell: dict, ex: str) -> list[str]:
    """`check(ID)` (or the widget), stored failing: on the starting state it explains."""
    src, shown = source(cell).strip(), "".join(output_texts(cell.get("outputs", [])))
    problems = []
    # The learner's check may be the widget (a button and hints around the same check).
    if not re.fullmatch(rf"(?:check|exercise_widget)\((['\"]){re.escape(ex)}\1\)", src):
        problems.append(f'the "check" cell must be exactly check("{ex}") or '
                        f'exercise_widget("{ex}") (it has {src[:60]!r})')
    if cell.get("outputs") and "✗" not in shown:
        problems.append(f"the stored check of {ex} does not fail (no ✗): on the lesson's "
                        "starting state it must explain what is missing")
    return problems


def _check_solution_shape(cell: dict, ex: str) -> list[str]:
    """`check(ID)`, stored passing."""
    src, shown = source(cell).strip(), "".join(output_texts(cell.get("outputs", [])))
    problems = []
    if not re.fullmatch(rf"check\((['\"]){re.escape(ex)}\1\)", src):
        problems.append(f'the "check-solution" cell must be exactly check("{ex}") '
                        f"(it has {src[:60]!r})")
    if cell.get("outputs") and "✓" not in shown:
        problems.append(f"the stored check after the solution of {ex} does not pass (no ✓)")
    return problems


def _your_turn_shape(cell: dict, ex: str) -> list[str]:
    """`%%lab` and comments only, stored without output of its own."""
    src = source(cell).strip()
    problems = []
    # An empty `%%lab` cell still says that the network did not change; anything more
    # means commands were left in the learner's cell.
    if any(not t.startswith("(the network did not change")
           for t in output_texts(cell.get("outputs", []))):
        problems.append("the learner's cell must be stored without output of its own "
                        "(commands were left in it?)")
    body = [ln for ln in src.splitlines()[1:] if ln.strip()]
    if not src.startswith("%%lab") or any(not ln.lstrip().startswith("#") for ln in body):
        problems.append('the "your-turn" cell must be `%%lab` followed by comments only (the '
                        "learner writes there)")
    return problems


def _solution_shape(cell: dict, ex: str) -> list[str]:
    """Tagged `solution`, its source hidden."""
    meta = cell.get("metadata", {})
    problems = []
    if "solution" not in meta.get("tags", []):
        problems.append('the solution cell must be tagged "solution"')
    if not meta.get("jupyter", {}).get("source_hidden"):
        problems.append("the solution cell's source must be hidden "
                        '("jupyter": {"source_hidden": true})')
    return problems


def _exercise_text_shape(cell: dict, ex: str) -> list[str]:
    """The task tells how to get a hint."""
    if f'hint("{ex}")' not in source(cell).strip():
        return [f'the exercise text must tell how to get a hint: hint("{ex}")']
    return []


#: each role's shape: what is wrong with a cell of that role, in words
_SHAPES = {
    "exercise": _exercise_text_shape,
    "your-turn": _your_turn_shape,
    "check": _check_shape,
    "solution": _solution_shape,
    "check-solution": _check_solution_shape,
}


def exercise_data(lesson: Lesson) -> list[Problem]:
    """The exercises the lesson uses exist in labkit.exercises with a check, hints and a
    solution, and say that they belong to this lesson."""
    problems = []
    seen: set[str] = set()
    for index, cell in enumerate(lesson.cells):
        ex_id = role(cell)[1]
        if not ex_id or ex_id in seen:
            continue
        seen.add(ex_id)
        try:
            ex = get(ex_id)
        except Exception:  # noqa: BLE001 - exercise-cells already reports unknown ids
            continue
        missing = [what for what, ok in (
            ("a check", callable(ex.check)),
            ("hints", bool(ex.hints) and all(h.strip() for h in ex.hints)),
            ("a solution", bool(ex.solution.strip())),
            ("a task", bool(ex.task.strip()))) if not ok]
        if missing:
            problems.append(at(lesson, index, "exercise-data", f"exercise {ex_id} in "
                               f"labkit.exercises has no {' and no '.join(missing)}"))
        if ex.lesson != lesson.path.name:
            problems.append(at(lesson, index, "exercise-data", f"exercise {ex_id} says it "
                               f"belongs to {ex.lesson}, not {lesson.path.name}"))
    return problems
