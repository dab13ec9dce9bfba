"""The exercises' state machine without a lab: hints open after a failed check, the solution
after the last hint or a give-up (labkit.exercises.offer), as hint(), solution() and the
progress file apply it."""

from __future__ import annotations

import json

import pytest

from labkit import exercises as ex_mod
from labkit.exercises import Progress, offer
from labkit.exercises import store as prog

EXERCISE = "lesson5/third-namespace"


@pytest.fixture(autouse=True)
def _memory_progress(monkeypatch, tmp_path):
    monkeypatch.setattr(ex_mod, "progress", Progress())
    monkeypatch.setenv(prog.ENV, str(tmp_path / "default-progress.json"))


def test_nothing_opens_before_a_check():
    now = offer(3, 0, 0)
    assert (now.hint, now.solution, now.give_up) == (False, False, False)
    assert "after a check that fails" in now.why_no_hint
    assert "after the hints (3 left)" in now.why_no_solution


def test_a_failed_check_opens_the_hints_and_give_up_not_the_solution():
    now = offer(3, 0, 1)
    assert (now.hint, now.solution, now.give_up) == (True, False, True)
    assert now.why_no_hint == ""


def test_the_last_hint_opens_the_solution():
    assert offer(3, 2, 1).solution is False
    now = offer(3, 3, 1)
    assert (now.hint, now.solution, now.give_up) == (False, True, False)
    assert now.why_no_hint == "No more hints: all 3 were shown"


def test_giving_up_or_passing_opens_the_solution():
    assert offer(3, 0, 1, gave_up=True).solution
    passed = offer(3, 0, 0, passed=True)
    assert passed.solution and passed.hint and not passed.give_up


def test_hint_waits_for_a_failed_check(capsys):
    ex = ex_mod.get(EXERCISE)
    ex_mod.hint(EXERCISE)
    assert capsys.readouterr().out.startswith("No hint yet: hints open after a check that fails")
    ex_mod.progress.record_check(ex, False)
    ex_mod.hint(EXERCISE)
    assert capsys.readouterr().out.startswith(f"Hint 1 of {len(ex.hints)}: ")


def test_solution_waits_for_the_hints_or_give_up(capsys):
    ex = ex_mod.get(EXERCISE)
    ex_mod.solution(EXERCISE)
    out = capsys.readouterr().out
    assert out.startswith("Not yet: the solution opens after the hints") and "%%lab" not in out
    ex_mod.progress.record_check(ex, False)
    for _ in ex.hints:
        ex_mod.hint(EXERCISE)
    capsys.readouterr()
    ex_mod.solution(EXERCISE)
    assert capsys.readouterr().out.startswith("%%lab\n")
    ex_mod.progress.forget(EXERCISE)
    ex_mod.solution(EXERCISE, give_up=True)
    assert ex.solution.strip() in capsys.readouterr().out


def test_a_progress_file_from_before_failed_and_gave_up_keeps_what_it_opened(tmp_path):
    path = tmp_path / ".labkit-progress.json"
    path.write_text(json.dumps({"format": 1, "exercises": {
        EXERCISE: {"hints_shown": 1, "checks": 2, "passed": False},
        "lesson1/find-the-peer": {"hints_shown": 0, "checks": 1, "passed": True}}}))
    store = prog.FileProgress.load(path)
    ex = ex_mod.get(EXERCISE)
    assert store.failed[EXERCISE] == 2 and not store.gave_up[EXERCISE]
    assert store.offer(ex).hint and store.shown(ex) == [ex.hints[0]]
    assert store.failed["lesson1/find-the-peer"] == 0
    store.give_up(ex)  # written in the same format, with the new fields
    data = json.loads(path.read_text())
    assert data["format"] == 1 and data["exercises"][EXERCISE] == {
        "hints_shown": 1, "checks": 2, "failed": 2, "passed": False, "gave_up": True}
