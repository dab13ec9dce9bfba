"""The exercise widget: Check / Hint / Give up / Show solution / Run the solution, with the
learner's progress (labkit.exercises.store). Which buttons are open is
`labkit.exercises.offer`'s decision (pure): hints after a failed check, the solution after the
hints or a give-up."""

from __future__ import annotations

import html

import ipywidgets as W

from labkit.exercises import CheckResult, get
from labkit.exercises import store as _progress
from labkit.lab import Lab
from labkit.notebook.widgets.common import _lab, _pre, _Readable


class ExerciseWidget(_Readable, W.VBox):
    """Check / Hint / Show solution for one exercise, with the learner's progress.

    `check_now=True` runs the check when the widget is made, so the cell shows (and a saved
    notebook keeps) what the lab looked like at that point: ✗ and what is missing."""

    def __init__(self, exercise_id: str, lab: Lab | None = None, *,
                 check_now: bool = True) -> None:
        self.exercise = get(exercise_id)
        self._lab_given = lab
        self.store = _progress.install()
        self.last: CheckResult | None = None
        ex = self.exercise
        self.title = W.HTML(f"<b>Exercise: {html.escape(ex.title)}</b> "
                            f"<code>{html.escape(ex.id)}</code>")
        self.status = W.HTML()
        self.result = W.HTML()
        self.result.add_class("labkit-result")
        self.hints_box = W.HTML()
        self.solution_box = W.HTML()
        self.check_button = W.Button(description="Check", icon="check",
                                     button_style="primary", tooltip="run the check in the lab")
        self.hint_button = W.Button(description="Hint", icon="lightbulb-o")
        self.give_up_button = W.Button(description="Give up: show the solution", icon="flag",
                                       layout=W.Layout(display="none"))
        self.solution_button = W.Button(description="Show solution", icon="eye")
        self.run_button = W.Button(description="Run the solution", icon="play",
                                   button_style="warning", layout=W.Layout(display="none"))
        self.check_button.on_click(self._guard(self.result, self.check))
        self.hint_button.on_click(self._guard(self.hints_box, self.reveal_hint))
        self.give_up_button.on_click(self._guard(self.solution_box, self.give_up))
        self.solution_button.on_click(self._guard(self.solution_box, self.show_solution))
        self.run_button.on_click(self._guard(self.solution_box, self.run_solution))
        buttons = W.HBox([self.check_button, self.hint_button, self.give_up_button,
                          self.solution_button, self.run_button])
        super().__init__([self.title, self.status, buttons, self.result, self.hints_box,
                          self.solution_box])
        self.add_class("labkit-exercise")
        self._show_offer()
        if check_now:
            self.check()
        else:
            self._show_status()

    @property
    def lab(self) -> Lab:
        return _lab(self._lab_given)

    def check(self) -> CheckResult:
        """Run the exercise's check against the real lab and show ✓ or what is missing."""
        self.check_button.disabled = True
        self.result.value = _pre("checking the lab …")
        try:
            self.last = self.exercise.run_check(self.lab)
        finally:
            self.check_button.disabled = False
        self.store.record_check(self.exercise, self.last.passed)
        colour = "#2f855a" if self.last.passed else "#c53030"
        self.result.value = (f"<div style=\"color: {colour}\">{_pre(self.last.text())}</div>")
        self._show_status()
        self._show_offer()
        return self.last

    def reveal_hint(self) -> None:
        self.store.next_hint(self.exercise)  # None when none is open: the buttons say why
        self._show_offer()
        self._show_status()

    def give_up(self) -> None:
        """Open the solution without the remaining hints, and show it."""
        self.store.give_up(self.exercise)
        self._show_offer()
        self.show_solution()

    def show_solution(self) -> None:
        if not self.store.offer(self.exercise).solution:
            return  # the button is disabled then; a stray call shows nothing early
        self.solution_box.value = ("<div>The solution (it goes in a <code>%%lab</code> cell, "
                                   "or press Run the solution):</div>"
                                   + _pre("%%lab\n" + self.exercise.solution.rstrip()))
        self.run_button.layout.display = None

    def run_solution(self) -> None:
        """Run the solution's commands in the lab, show their output, then check again."""
        self.run_button.disabled = True
        try:
            res = self.lab.run(self.exercise.solution)
        finally:
            self.run_button.disabled = False
        self.solution_box.value = (_pre("%%lab\n" + self.exercise.solution.rstrip())
                                   + "<div>It printed:</div>" + _pre(res.output.rstrip()
                                                                    or "(nothing)"))
        self.check()

    def _show_offer(self) -> None:
        """The hints shown so far, and the buttons as `offer` says: open, or why not."""
        shown = self.store.shown(self.exercise)
        total = len(self.exercise.hints)
        now = self.store.offer(self.exercise)
        items = "".join(f"<li>{html.escape(h)}</li>" for h in shown)
        self.hints_box.value = (f"<div>Hints ({len(shown)} of {total}):</div><ol>{items}</ol>"
                                if shown else "")
        self.hint_button.disabled = not now.hint
        self.hint_button.description = ("No more hints" if len(shown) >= total
                                         else f"Hint {len(shown) + 1} of {total}")
        self.hint_button.tooltip = now.why_no_hint or "one more hint"
        self.solution_button.disabled = not now.solution
        self.solution_button.tooltip = now.why_no_solution or "show the solution's commands"
        self.give_up_button.layout.display = None if now.give_up else "none"

    def _show_status(self) -> None:
        ex = self.exercise
        done = "✓ done" if self.store.done(ex.id) else "not done yet"
        self.status.value = (f"<small>{html.escape(done)} · checks run: "
                             f"{self.store.checks.get(ex.id, 0)} · "
                             f"{html.escape(self.store.lesson_line(ex.lesson))}</small>")

    def text(self) -> str:
        if self.last is not None:
            return self.last.text()
        return (f"{self.exercise.id}: {self.exercise.title} — press Check to run the check "
                "in the lab.")


def exercise_widget(exercise_id: str, lab: Lab | None = None, *,
                    check_now: bool = True) -> ExerciseWidget:
    """The Check / Hint / Show solution widget of one exercise."""
    return ExerciseWidget(exercise_id, lab, check_now=check_now)
