"""labkit.widgets and labkit.exercises.store without a lab: progress file, terminal guidance, the
text a saved notebook keeps (stable, independent of progress), no Output widgets."""

from __future__ import annotations

import html
import importlib
import json
from pathlib import Path

import pytest

from labkit import exercises as ex_mod
from labkit.exercises import store as prog
from labkit.model import trace as T
from labkit.model.topology import from_json
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
        "hints_shown": 0, "checks": 3, "failed": 2, "passed": True, "gave_up": False}}}
    ex_mod.hint(EXERCISE)  # the failed check opened the hints
    again = prog.FileProgress.load(path)  # what a restarted kernel reads
    assert again.hints_shown[EXERCISE] == 1 and again.done(EXERCISE)
    assert again.lesson_line(ex.lesson) == "1 of 2 exercises done in this lesson"


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
    ("rootless", None, None, "labkit rootless shell"),
    ("netns", None, None, "labkit rootless shell --kind netns"),
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
    # The check on display failed, so hints are open; the solution waits for the last hint.
    assert w.solution_button.disabled and w.give_up_button.layout.display is None
    w.show_solution()
    assert w.solution_box.value == ""
    w.give_up()
    assert "docker run -dit --name busybox3" in w.solution_box.value
    assert w.run_button.layout.display is None and not w.solution_button.disabled
    assert w.give_up_button.layout.display == "none"


def test_exercise_widget_opens_hints_only_after_a_failed_check():
    lab = RecordedLab()
    w = widgets.exercise_widget(EXERCISE, lab, check_now=False)
    assert w.hint_button.disabled and "try first" in w.hint_button.tooltip
    assert w.solution_button.disabled and w.give_up_button.layout.display == "none"
    w.reveal_hint()
    assert w.hints_box.value == ""
    w.check()  # ✗: no busybox3
    assert not w.hint_button.disabled and w.hint_button.description == "Hint 1 of 3"
    for _ in range(3):
        w.reveal_hint()
    assert w.hint_button.disabled and w.hint_button.description == "No more hints"
    assert not w.solution_button.disabled and w.give_up_button.layout.display == "none"
    w.show_solution()
    assert "%%lab" in w.solution_box.value


def test_no_output_widgets_anywhere():
    import inspect
    import pkgutil

    for info in pkgutil.iter_modules(widgets.__path__, "labkit.notebook.widgets."):
        module = importlib.import_module(info.name)
        assert "W.Output(" not in inspect.getsource(module), info.name


def test_the_public_names_stay_where_the_lessons_import_them():
    import labkit.widgets as shim

    for name in shim.__all__:
        assert getattr(shim, name) is getattr(widgets, name)
    assert {"exercise_widget", "lab_controls", "packet_tracer", "explorer",
            "trace_packet"} <= set(shim.__all__)


# --- the other widgets over a recorded lab (tests/snapshots/trace_lesson3.json) -------------

REC = json.loads((Path(__file__).parents[1] / "snapshots" / "trace_lesson3.json").read_text())
TOPO = from_json(REC["topology"])


class SnapshotLab(RecordedLab):
    """A RecordedLab whose network is the recorded topology; `trace` answers a packet trace's
    commands as the real lab did."""

    def __init__(self, trace: dict | None = None, stdout: str = "") -> None:
        super().__init__(stdout, 0)
        self.trace = trace

    def snapshot(self):
        return TOPO

    def run(self, command: str, **kwargs) -> Result:
        self.commands.append(command)
        for key, out in (self.trace or {}).get("answers", {}).items():
            ns, cmd = key.split("\t", 1)
            found = TOPO.namespace(ns)
            if found is not None and command == T.in_namespace(found) + cmd:
                return Result(command, out, "", 0, 0.01)
        if self.trace is not None:  # the traffic script
            return Result(command, self.trace["traffic"], "", 0, 0.01)
        return self.result


def test_lab_controls_save_the_summary_and_the_terminal():
    bundle = widgets.lab_controls(RecordedLab())._repr_mimebundle_()
    assert bundle["text/plain"] == (
        "Lab ready: commands run in the lab container (docker exec).\n"
        "Open a terminal in the lab: docker exec -it LAB bash   (or: labkit shell)")
    assert bundle["text/html"] == ('<div class="labkit-text"><pre style="white-space: '
                                   'pre-wrap; margin: 0.3em 0">'
                                   + html.escape(bundle["text/plain"]) + "</pre></div>")


def test_packet_tracer_lists_sources_and_destinations_and_draws_the_path():
    t = REC["traces"][0]
    tracer = widgets.packet_tracer(SnapshotLab(t))
    text = tracer._repr_mimebundle_()["text/plain"]
    assert text.startswith("Trace a packet (interactive when the notebook runs): from one of ")
    assert t["source"] in text
    tracer.source.value, tracer.destination.value = t["source"], t["destination"]
    got = tracer.run()
    assert got.path.delivered and tracer.picture.value.startswith("<svg")
    assert got._repr_mimebundle_()["text/plain"] == got.text() == repr(got)


def test_explorer_asks_the_chosen_namespace_and_draws_its_part():
    lab = SnapshotLab(stdout="$ ip -br link\nlo UNKNOWN\n")
    ex = widgets.explorer(lab)
    assert ex._repr_mimebundle_()["text/plain"] == (
        "Explore a namespace (interactive when the notebook runs): " + ", ".join(ex.names) + ".")
    ex.namespace.value = ex.names[1]
    assert "ip -br link" in lab.commands[-1] and "ip neigh" in lab.commands[-1]
    assert ex.details.value.endswith("lo UNKNOWN</pre>")
    assert ex.picture.value.startswith("<svg")


def test_a_failing_button_says_why_in_the_widget():
    ex = widgets.explorer(SnapshotLab())

    def broken():
        raise RuntimeError("the lab went away")

    ex._guard(ex.details, broken)()
    assert "✗ RuntimeError: the lab went away" in ex.details.value
