"""Exercises: each lesson ends with one. An exercise is data (`Exercise`): a task, hints, a
solution, and a check that inspects the real lab and says what is missing.

In a notebook:

    from labkit.exercises import check, hint, solution
    check("lesson5/third-namespace")     # ✓, or ✗ with one line per problem found
    hint("lesson5/third-namespace")      # the next hint, one more per call
    solution("lesson5/third-namespace")  # the commands of the solution

The exercises themselves live in `labkit.exercises.lessons` (one module per lesson, found
with pkgutil). The notebook cells that belong to an exercise are found by their metadata,
`{"labkit": {"role": ..., "exercise": ID}}`; see docs/lessons.md.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from labkit.errors import UsageError
from labkit.lab import current

if TYPE_CHECKING:
    from labkit.lab import Lab

#: A check looks at the lab and returns what is wrong, one plain sentence per problem; an
#: empty list means the exercise is done. It must only read the lab (and send traffic
#: between the lab's own namespaces), never change it.
CheckFunction = Callable[["Lab"], list[str]]


@dataclass(frozen=True)
class Exercise:
    """One exercise. `setup` is the shell script that builds the lesson's state at the point
    where the exercise starts (tests use it; the notebook builds the same state cell by
    cell). `solution` is the body of the hidden `%%lab` solution cell. A break-and-fix
    challenge also has `breaks`: the body of the notebook's `%%lab` cell that breaks something
    on purpose, run after `setup` (`start` is both)."""

    id: str
    title: str
    lesson: str
    task: str
    check: CheckFunction
    hints: tuple[str, ...]
    solution: str
    setup: str = ""
    breaks: str = ""

    @property
    def start(self) -> str:
        """The script that gives the state where the learner starts: setup, then the break."""
        return self.setup + self.breaks

    def run_check(self, lab: Lab) -> CheckResult:
        return CheckResult(self, tuple(self.check(lab)))


@dataclass(frozen=True)
class CheckResult:
    """What a check found. Truthy when the exercise is done."""

    exercise: Exercise
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems

    def __bool__(self) -> bool:
        return self.passed

    def text(self) -> str:
        head = f"{self.exercise.id}: {self.exercise.title}"
        if self.passed:
            return f"✓ {head} — done, every check passes."
        lines = [f"✗ {head} — not yet:"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append(f'Stuck? hint("{self.exercise.id}") shows one hint at a time.')
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.text())


@dataclass(frozen=True)
class Offer:
    """What a learner may open next, and if not, why (the exercise's state machine, pure):

        try ─ failed check ─▶ hints, one at a time ─ all shown ─▶ solution
                         └─ "give up" ─────────────────────────▶ solution

    A passed check opens everything (to compare with the solution). Hints wait for a failed
    check so a learner tries first; the solution waits for the hints or an explicit give-up."""

    hint: bool
    solution: bool
    give_up: bool
    why_no_hint: str = ""
    why_no_solution: str = ""


def offer(total_hints: int, hints_shown: int, failed_checks: int, *, passed: bool = False,
          gave_up: bool = False) -> Offer:
    """What is open for an exercise with this history (see `Offer`)."""
    tried = failed_checks > 0 or passed
    hints_left = total_hints - hints_shown
    solution = passed or gave_up or hints_left <= 0
    if not tried:
        why_hint = "No hint yet: hints open after a check that fails, so try first"
    elif hints_left <= 0:
        why_hint = f"No more hints: all {total_hints} were shown"
    else:
        why_hint = ""
    why_solution = "" if solution else (
        f"the solution opens after the hints ({hints_left} left) or once you give up")
    return Offer(hint=tried and hints_left > 0, solution=solution,
                 give_up=tried and not solution, why_no_hint=why_hint,
                 why_no_solution=why_solution)


@dataclass
class Progress:
    """How far a learner got, in memory: what `hint()` and `check()` use until the widgets
    install `labkit.exercises.store.FileProgress` (the same interface, kept in a file beside the
    notebooks so it survives a kernel restart)."""

    hints_shown: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    passed: dict[str, bool] = field(default_factory=dict)
    gave_up: dict[str, bool] = field(default_factory=dict)

    def offer(self, exercise: Exercise) -> Offer:
        i = exercise.id
        return offer(len(exercise.hints), self.hints_shown.get(i, 0), self.failed.get(i, 0),
                     passed=self.passed.get(i, False), gave_up=self.gave_up.get(i, False))

    def next_hint(self, exercise: Exercise) -> tuple[int, str] | None:
        """(number, text) of the next hint, counting from 1; None when none is open (see
        `offer`: before a failed check, or once all were shown)."""
        if not self.offer(exercise).hint:
            return None
        shown = self.hints_shown.get(exercise.id, 0)
        self.hints_shown[exercise.id] = shown + 1
        return shown + 1, exercise.hints[shown]

    def give_up(self, exercise: Exercise) -> None:
        """Open the solution without the remaining hints (the learner asked for it)."""
        self.gave_up[exercise.id] = True

    def forget(self, exercise_id: str | None = None) -> None:
        for table in (self.hints_shown, self.failed, self.passed, self.gave_up):
            if exercise_id is None:
                table.clear()
            else:
                table.pop(exercise_id, None)

    def record_check(self, exercise: Exercise, passed: bool) -> None:
        """Told about every check run: a failed one opens the hints, a passed one stays."""
        if not passed:
            self.failed[exercise.id] = self.failed.get(exercise.id, 0) + 1
        self.passed[exercise.id] = self.passed.get(exercise.id, False) or passed


progress = Progress()

_registry: dict[str, Exercise] | None = None


def _lesson_exercises() -> list[Exercise]:
    """Every lesson module's EXERCISES, in lesson order (labkit/exercises/lessons/lessonN.py;
    modules whose name starts with `_` are helpers)."""
    package = importlib.import_module(f"{__name__}.lessons")
    names = sorted((m.name for m in pkgutil.iter_modules(package.__path__)
                    if not m.name.startswith("_")), key=_lesson_order)
    found: list[Exercise] = []
    for name in names:
        found += importlib.import_module(f"{package.__name__}.{name}").EXERCISES
    return found


def _lesson_order(name: str) -> tuple:
    digits = "".join(c for c in name if c.isdigit())
    return (int(digits) if digits else 1 << 30, name)


def _load() -> dict[str, Exercise]:
    global _registry
    if _registry is None:
        _registry = {}
        for ex in _lesson_exercises():
            if ex.id in _registry:
                raise ValueError(f"two exercises share the id {ex.id!r}")
            _registry[ex.id] = ex
    return _registry


def forget() -> None:
    """Find the lesson modules again on next use (after `labkit lesson new` wrote one)."""
    global _registry
    _registry = None


def exercises(lesson: str | None = None) -> list[Exercise]:
    """All exercises in lesson order, or those of one lesson (its notebook's file name)."""
    return [e for e in _load().values() if lesson is None or e.lesson == lesson]


def get(exercise_id: str) -> Exercise:
    """The exercise with this id, or a `UsageError` listing the ids that exist."""
    found = _load().get(exercise_id)
    if found is None:
        known = ", ".join(_load())
        raise UsageError(f"unknown exercise {exercise_id!r} (must be one of [{known}])")
    return found


def check(exercise_id: str, lab: Lab | None = None) -> CheckResult:
    """Run the exercise's check against the lab (default: the one `%%lab` cells use)."""
    result = get(exercise_id).run_check(lab or current())
    progress.record_check(result.exercise, result.passed)
    return result


def hint(exercise_id: str) -> None:
    """Print the next hint; each call reveals one more, once a check has failed."""
    ex = get(exercise_id)
    got = progress.next_hint(ex)
    if got is None:
        now = progress.offer(ex)
        then = (f'solution("{ex.id}") prints the solution.' if now.solution
                else f'check("{ex.id}") runs the check.')
        print(f"{now.why_no_hint}. {then}")
        return
    number, text = got
    print(f"Hint {number} of {len(ex.hints)}: {text}")


def solution(exercise_id: str, *, give_up: bool = False) -> None:
    """Print the solution's commands (they go in a `%%lab` cell), once the hints were all
    shown, a check passed, or with `give_up=True`."""
    ex = get(exercise_id)
    if give_up:
        progress.give_up(ex)
    why = progress.offer(ex).why_no_solution
    if why:
        print(f"Not yet: {why}. hint(\"{ex.id}\") shows the next hint; "
              f"solution(\"{ex.id}\", give_up=True) shows the solution now.")
        return
    print(f"%%lab\n{ex.solution.rstrip()}")
