"""Replay (live mode 4) shows exactly what the recordings hold.

Each lesson runs top to bottom in a real kernel with no lab at all (the mode forced to replay,
DOCKER_HOST pointing nowhere): every cell's outputs, diagrams included, must equal the
notebook's stored outputs after sanitizing (the recordings equal those, see
test_recordings.py), and each `%%lab` cell carries the "recorded in a real lab" banner.
A command that was never recorded gets an explanation, never an output.
"""

from __future__ import annotations

import os

import pytest
from recorded import LESSONS, NOTEBOOKS, assert_same_as_stored, read

from labkit.hosts.replay import load_all
from labkit.transport.replay import NotRecorded, ReplayTransport

NOWHERE = "unix:///nonexistent/labkit-test-no-docker.sock"


def replay_env(lesson: str) -> dict[str, str]:
    return {"LABKIT_LIVE_MODE": "replay", "DOCKER_HOST": NOWHERE, "LABKIT_LESSON": lesson,
            "LABKIT_RECORDINGS": str(NOTEBOOKS / "recordings")}


def execute(path, env: dict[str, str]):
    """Run a copy of the notebook in a kernel of this Python with `env` added."""
    from nbclient import NotebookClient

    from labkit.authoring.build import _this_python_kernel

    nb = read(path)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment
    try:
        NotebookClient(nb, km=_this_python_kernel(), timeout=120,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_replays_its_stored_outputs(lesson):
    replayed = execute(lesson, replay_env(lesson.name))
    assert_same_as_stored(read(lesson), replayed, lesson.name)


# --- the transport on its own (no kernel) -----------------------------------------------------


@pytest.fixture
def transport(monkeypatch):
    monkeypatch.setenv("LABKIT_RECORDINGS", str(NOTEBOOKS / "recordings"))
    return ReplayTransport(load_all(), lesson="01-docker0.ipynb", why="test: nothing is live")


def test_a_command_never_recorded_is_explained_not_invented(transport):
    with pytest.raises(NotRecorded) as err:
        transport.run("docker run -d --name never-recorded busybox")
    text = str(err.value)
    assert "is not in this lesson's recording" in text and "never makes an output up" in text
    assert "live mode 1" in text and "2 (rootless" in text and "mode 3" in text
    with pytest.raises(NotRecorded) as err:
        transport.run("ip link add never0 type dummy")
    assert "3 (namespace-only" in str(err.value)


def test_a_recorded_command_outside_its_cell_gives_the_recorded_output(transport):
    """A learner's own cell running a command the lesson ran: the recorded answer."""
    got = transport.run("brctl show\n")
    assert got.exit_code == 0 and "docker0" in got.stdout
    assert transport.snapshot_json()["format"] == 1  # the diagram after it is recorded too
