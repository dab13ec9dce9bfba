"""Each lesson executes in each live mode it claims, as the non-root learner (Binder-like:
no_new_privs, no docker group), top to bottom in a real kernel (nbclient):

* mode 2 (rootless): every lesson that claims it runs live; the checks pass after the
  solutions, and the same cells fail as in the course lab (e.g. the ping that must fail
  without ip_forward); the CNI lessons, which claim only mode 1, replay and say why;
* mode 3 (no mount(2), a seccomp filter): the by-hand lesson runs live, unchanged, through
  the `ip netns` / `brctl show` functions of scripts/netns-lab.sh; the others replay;
* mode 4 (no user namespaces): every lesson replays, its outputs equal to the stored ones
  (which equal the recordings: tests/lessons/test_recordings.py).

The kernel's Python is a venv the learner can read (/opt/labkit-learner-venv: nbclient,
ipykernel, graphviz, pyroute2 — what binder/requirements.txt gives a learner). Traffic stays
in the lab's own namespaces.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest
from recorded import LESSONS, NOTEBOOKS, assert_same_as_stored, failed_lab_cells, read, text_of

from labkit.model.recording import Recording

pytestmark = [pytest.mark.rootless, pytest.mark.slow]

VENV = Path(os.environ.get("LABKIT_LEARNER_VENV", "/opt/labkit-learner-venv"))
# What the lessons import in their kernel (the widgets included), besides labkit itself.
KERNEL_NEEDS = ("nbclient", "ipykernel", "graphviz", "pyroute2", "nbformat", "ipywidgets")
BY_HAND = "05-docker0-by-hand.ipynb"


def recording(lesson: Path) -> Recording:
    return Recording.from_json((NOTEBOOKS / "recordings" / f"{lesson.stem}.json").read_text())


def claimed(lesson: Path) -> tuple[str, ...]:
    """The live modes a lesson claims: its recording's, which follow from its commands."""
    return recording(lesson).live_modes


def need_of(lesson: Path):
    return recording(lesson).need


def replays_in(mode: str) -> list[Path]:
    return [p for p in LESSONS if mode not in claimed(p)]


@pytest.fixture(scope="module")
def kernel_python() -> Path:
    """A Python the learner can run notebooks with (made once; pip from the package index)."""
    python = VENV / "bin" / "python3"
    check = [str(python), "-c", "import " + ", ".join(KERNEL_NEEDS)]
    if not python.exists() or subprocess.run(check, capture_output=True).returncode != 0:
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *KERNEL_NEEDS],
                       check=True, timeout=600)
        subprocess.run(["chmod", "-R", "a+rX", str(VENV)], check=True)
    return python


@pytest.fixture(scope="module")
def lessons_dir(learner):
    """The lessons and their recordings, where the learner can read and run them."""
    work = Path(tempfile.mkdtemp(prefix="labkit-lessons-"))
    shutil.copytree(NOTEBOOKS, work / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(Path(__file__).parent / "run_notebook.py", learner.code / "run_notebook.py")
    uid = pwd.getpwnam("labkit-learner")
    subprocess.run(["chown", "-R", f"{uid.pw_uid}:{uid.pw_gid}", str(work)], check=True)
    subprocess.run(["chmod", "-R", "a+rX", str(learner.code)], check=True)
    yield work / "notebooks"
    shutil.rmtree(work, ignore_errors=True)


def run_lesson(learner, python: Path, folder: Path, name: str, jail: str | None):
    """Execute one lesson as the learner; (executed notebook, stderr of the run)."""
    out = folder / f"out-{jail or 'none'}-{name}"
    argv = ["env", f"PATH={python.parent}:/usr/local/bin:/usr/bin:/bin",
            f"LABKIT_LESSON={name}", str(python), str(learner.code / "run_notebook.py"),
            str(folder / name), str(out)]
    done = learner.sh(argv, jail=jail, timeout=600)
    assert done.returncode == 0, f"{name} ({jail or 'no jail'}) failed:\n{done.stderr[-4000:]}"
    return nbformat.read(out, as_version=4), done.stderr


def stderr_of(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs if o.get("name") == "stderr")


def assert_checks_as_stored(stored, live, name: str) -> None:
    for index, (want, got) in enumerate(zip(stored.cells, live.cells, strict=True)):
        role = want.get("metadata", {}).get("labkit", {}).get("role")
        if role in ("check", "check-solution"):
            mark = "✓" if role == "check-solution" else "✗"
            assert mark in text_of(got), f"{name} cell {index} ({role}): {text_of(got)}"


# --- mode 4: no user namespaces: everything replays ------------------------------------------


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_mode4_lesson_replays_the_recording(learner, kernel_python, lessons_dir, lesson):
    nb, _ = run_lesson(learner, kernel_python, lessons_dir, lesson.name, "nouserns")
    assert "live mode 4 of 4" in stderr_of(nb)
    assert_same_as_stored(read(lesson), nb, lesson.name)


# --- mode 3: no mount(2): the by-hand lesson live, the Docker lessons replayed ----------------


def test_mode3_by_hand_lesson_runs_live_unchanged(learner, kernel_python, lessons_dir):
    stored = read(NOTEBOOKS / BY_HAND)
    try:
        nb, _ = run_lesson(learner, kernel_python, lessons_dir, BY_HAND, "nomount")
    finally:
        learner.steps([{"stop": "netns"}])
    said = stderr_of(nb)
    assert "namespace-only lab" in said and "recorded" not in said.lower(), said
    assert [c.source for c in nb.cells] == [c.source for c in stored.cells]  # unchanged
    assert failed_lab_cells(nb) == failed_lab_cells(stored), "other cells failed than in " \
        "the course lab:\n" + "\n".join(text_of(nb.cells[i]) for i in failed_lab_cells(nb))
    assert_checks_as_stored(stored, nb, BY_HAND)
    by_source = {c.source: text_of(c) for c in nb.cells if c.cell_type == "code"}
    assert "lab-ns0\n" in by_source[next(s for s in by_source if "ip netns list" in s)]
    assert "lab-br0\t\t8000.02420a0f0a01\tno\t\tveth0" in by_source[
        next(s for s in by_source if "brctl addif lab-br0 veth0" in s)]
    assert "hello from lab-ns0" in by_source[next(s for s in by_source if "--dport 8080" in s)]
    # the article's word order, `ping 10.15.10.1 -c 3`
    pings = [t for s, t in by_source.items() if re.search(r"\bping .*-c 3\b", s)]
    assert pings and all(" 0% packet loss" in t for t in pings), pings
    # the diagram names the process-held namespaces as `ip netns` would
    svgs = [o for c in nb.cells for o in c.get("outputs", []) if "image/svg+xml" in
            o.get("data", {})]
    assert svgs and any("namespace lab-ns1 (netns" in o["data"]["text/plain"] for o in svgs)


def test_only_the_by_hand_lesson_claims_mode3():
    assert [p.name for p in LESSONS if "netns" in claimed(p)] == [BY_HAND]


@pytest.mark.parametrize("lesson", replays_in("netns"), ids=lambda p: p.stem)
def test_mode3_other_lessons_replay(learner, kernel_python, lessons_dir, lesson):
    nb, _ = run_lesson(learner, kernel_python, lessons_dir, lesson.name, "nomount")
    said = stderr_of(nb)
    assert f"live mode 3 of 4: namespace-only lab (user namespaces, no mount); {lesson.name} " \
        f"needs {need_of(lesson).what}" in said, said
    assert_same_as_stored(read(lesson), nb, lesson.name)


# --- mode 2: the rootless lab: every lesson live ---------------------------------------------


@pytest.fixture(scope="module")
def rootless_tools():
    missing = [t for t in ("tcpdump", "fakeroot", "conntrack", "curl") if not shutil.which(
        t, path="/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin")]
    if missing:
        pytest.fail(f"the lessons need {', '.join(missing)} on this host (binder/apt.txt lists "
                    "them; CI: apt-get install tcpdump fakeroot conntrack curl)", pytrace=False)


@pytest.mark.parametrize("lesson", [p for p in LESSONS if "rootless" in claimed(p)],
                         ids=lambda p: p.stem)
def test_mode2_lesson_runs_live(learner, kernel_python, lessons_dir, rootless_tools, lesson):
    stored = read(lesson)
    nb, _ = run_lesson(learner, kernel_python, lessons_dir, lesson.name, None)
    said = stderr_of(nb)
    assert "rootless lab" in said and "recorded" not in said.lower(), said
    assert failed_lab_cells(nb) == failed_lab_cells(stored), "other cells failed than in " \
        "the course lab:\n" + "\n".join(f"--- cell {i}\n{text_of(nb.cells[i])}"
                                        for i in failed_lab_cells(nb))
    assert_checks_as_stored(stored, nb, lesson.name)


@pytest.mark.parametrize("lesson", replays_in("rootless"), ids=lambda p: p.stem)
def test_mode2_cni_lessons_replay_and_say_why(learner, kernel_python, lessons_dir, lesson):
    nb, _ = run_lesson(learner, kernel_python, lessons_dir, lesson.name, None)
    said = stderr_of(nb)
    assert f"{lesson.name} needs {need_of(lesson).what}" in said and "live mode 2 of 4" in said, \
        said
    assert_same_as_stored(read(lesson), nb, lesson.name)


def test_mode2_stop(learner):
    """Last: the rootless lab the lessons used is stopped, nothing left behind."""
    out = learner.steps([{"stop": None}, {"find": "rootless"}])
    assert out[1]["found"] is None
