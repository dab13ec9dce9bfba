"""labkit.widgets and labkit.progress without a lab: progress file, terminal guidance, the
text a saved notebook keeps (stable, independent of progress), no Output widgets."""

from __future__ import annotations

import json

import pytest

from labkit import exercises as ex_mod
from labkit.exercises import store as prog
from labkit.notebook import widgets
from labkit.result import Result

EXERCISE = "lesson1/find-the-peer"


@pytest.fixture(autouse=True)
def _memory_progress(monkeypatch, tmp_path):
    monkeypatch.setattr(ex_mod, "progress", ex_mod.Progress())
    monkeypatch.setenv(prog.ENV, str(tmp_path / "default-progress.json"))  # not the cwd


class RecordedLab:
    """Stands in for Lab in pure tests: answers every command with one recorded result."""

    mode = "docker-exec"
    container = None
    replaying = False
    summary = "Lab ready: commands run in the lab container (docker exec)."

    def __init__(self, stdout: str = "", exit_code: int = 1) -> None:
        self.result = Result("", stdout, "", exit_code, 0.01)
        self.commands: list[str] = []

    def run(self, command: str, **kwargs) -> Result:
        self.commands.append(command)
        return self.result

    def alive(self) -> bool:
        return True


def test_progress_survives_a_new_kernel(tmp_path):
    path = tmp_path / ".labkit-progress.json"
    store = prog.install(path)
    ex = ex_mod.get(EXERCISE)
    ex_mod.hint(EXERCISE)
    store.record_check(ex, False)
    store.record_check(ex, True)
    store.record_check(ex, False)  # passed once: stays done after a reset
    data = json.loads(path.read_text())
    assert data == {"format": 1, "exercises": {EXERCISE: {
        "hints_shown": 1, "checks": 3, "passed": True}}}
    again = prog.FileProgress.load(path)  # what a restarted kernel reads
    assert again.hints_shown[EXERCISE] == 1 and again.done(EXERCISE)
    assert again.lesson_line(ex.lesson) == "1 of 1 exercise done in this lesson"


def test_a_damaged_progress_file_does_not_stop_the_lesson(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{not json")
    assert prog.FileProgress.load(path).hints_shown == {}


def test_progress_can_be_switched_off(monkeypatch):
    monkeypatch.setenv(prog.ENV, "off")
    assert prog.default_path() is None
    assert prog.install().path is None


@pytest.mark.parametrize(("kind", "name", "project", "expected"), [
    ("docker-exec", "labkit_dind_1", "labkit", "docker compose exec dind bash"),
    ("docker-exec", "my-lab", None, "docker exec -it my-lab bash"),
    ("rootless", None, None, "python -m labkit.rootless shell"),
    ("netns", None, None, "python -m labkit.rootless shell --kind netns"),
    ("local", None, None, "File › New › Terminal"),
    ("replay", None, None, "no live lab"),
])
def test_terminal_guidance_names_the_command_for_the_mode(kind, name, project, expected):
    assert expected in widgets.terminal_command(kind, name, project)


def test_exercise_widget_saves_the_check_text_not_the_progress():
    lab = RecordedLab()  # `docker inspect busybox3` fails: no such container
    w = widgets.exercise_widget(EXERCISE, lab)
    bundle = w._repr_mimebundle_()
    assert bundle["text/plain"].startswith("✗ lesson1/find-the-peer")
    assert "there is no container named busybox3" in bundle["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"].startswith('<div class="labkit-text"><pre')
    w.reveal_hint()
    w.reveal_hint()
    assert "Hint 3 of 3" == w.hint_button.description
    assert widgets.exercise_widget(EXERCISE, lab)._repr_mimebundle_()["text/plain"] == \
        bundle["text/plain"]  # progress (hints, checks run) never reaches the saved text
    w.show_solution()
    assert "docker run -dit --name busybox3" in w.solution_box.value
    assert w.run_button.layout.display is None


def test_no_output_widgets_anywhere():
    import inspect

    assert "W.Output(" not in inspect.getsource(widgets)
