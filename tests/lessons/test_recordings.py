"""The replay recordings agree with the lessons (no lab needed).

* every lesson has a recording, and every cell that reaches the lab is in it, with the
  cell's current source (else the recording is stale);
* what each recorded `%%lab` cell printed equals the notebook's stored output, after the
  sanitizing nbval uses;
* the format round-trips, and a lesson's live modes follow from its commands.

Refresh both together, on the course lab:
    labkit lesson build --record notebooks/0*.ipynb
"""

from __future__ import annotations

import pytest
from recorded import LAB_REACHING, LESSONS, NOTEBOOKS, comparable, read, sanitize

from labkit.model.recording import Cell, Recording, Run, Snap
from labkit.notebook.cell import status_line
from labkit.result import Result

REFRESH = "refresh with `labkit lesson build --record notebooks/0*.ipynb`"


def recording(lesson) -> Recording:
    path = NOTEBOOKS / "recordings" / f"{lesson.stem}.json"
    assert path.exists(), f"{lesson.name} has no recording ({path}); {REFRESH}"
    return Recording.from_json(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_lab_reaching_cell_is_recorded_with_its_current_source(lesson):
    nb, rec = read(lesson), recording(lesson)
    assert rec.lesson == lesson.name
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not LAB_REACHING.search(cell.source):
            continue
        got = rec.cell(index)
        assert got is not None, f"{lesson.name} cell {index} reaches the lab but is not " \
            f"recorded; {REFRESH}"
        assert got.source == cell.source, f"{lesson.name} cell {index} changed since it " \
            f"was recorded; {REFRESH}"
        # a command, or at least the snapshot a `lab.draw()` cell takes
        assert got.runs or got.topology, f"{lesson.name} cell {index}: recorded with no " \
            "command and no snapshot"
    for got in rec.cells:  # and nothing recorded for cells that are gone
        assert got.index < len(nb.cells) and nb.cells[got.index].source == got.source, \
            f"{lesson.name}: recorded cell {got.index} is not in the notebook; {REFRESH}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_recorded_lab_cells_print_what_the_notebook_stores(lesson):
    nb, rec = read(lesson), recording(lesson)
    for got in rec.cells:
        if not got.source.startswith("%%lab"):
            continue
        run = got.runs[0]
        # What run_cell prints: the output, a newline if it lacks one, the status line.
        result = Result(run.command, run.stdout, run.stderr, run.exit_code, 0.0, run.timed_out)
        printed: list[tuple[str, str]] = []
        for stream, text in run.output:
            printed.append((f"stream:{stream}", text))
        if run.stdout and not run.stdout.endswith("\n"):
            printed.append(("stream:stdout", "\n"))
        if line := status_line(result):
            printed.append(("stream:stderr", line + "\n"))
        joined: dict[str, str] = {}
        for kind, text in printed:
            joined[kind] = joined.get(kind, "") + text
        stored = {k: t for k, t in comparable(nb.cells[got.index].outputs)
                  if k.startswith("stream:")}
        assert {k: sanitize(t) for k, t in joined.items() if t} == stored, \
            f"{lesson.name} cell {got.index}: the recording and the stored output differ; " \
            f"{REFRESH}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_recording_round_trips_and_every_snapshot_is_stored(lesson):
    rec = recording(lesson)
    again = Recording.from_json(rec.to_json())
    assert again == rec
    used = {e.topology for c in rec.cells for e in c.events if isinstance(e, Snap)}
    assert used == set(rec.topologies), "unused or missing topologies"
    for c in rec.cells:
        if c.source.startswith("%%lab"):
            assert isinstance(c.events[-1], Snap), f"cell {c.index}: no diagram recorded"


def test_live_modes_follow_from_the_commands():
    def lesson(*commands: str) -> Recording:
        return Recording("x.ipynb", (Cell(1, None, "%%lab", tuple(
            Run(c, (("stdout", ""),), 0) for c in ("@reset.sh", *commands))),), {})

    by_hand = lesson("ip link add lab-br0 type bridge")
    assert by_hand.need is None and by_hand.live_modes == ("docker", "rootless", "netns")
    assert lesson("ip link; docker ps").live_modes == ("docker", "rootless")
    for cni in ("CNI_COMMAND=ADD CNI_NETNS=/var/run/netns/a /opt/cni/bin/bridge < c",
                "cnitool add lab-br0 /var/run/netns/a", "docker ps; ls /opt/cni/bin",
                "ctr -n lab run --rm --cni docker.io/library/busybox:latest c1 true"):
        assert lesson(cni).live_modes == ("docker",), cni
        assert "CNI plugins" in lesson(cni).need.what
    assert lesson("echo dockerd; echo cnitools").need is None  # words, not commands
    for k8s in ("k8s-lab up", "kubectl get nodes -o wide", "ps -C kubelet -o args= | tr ' ' '\\n'",
                "docker ps; kubectl get pods"):  # Kubernetes outranks Docker
        assert lesson(k8s).live_modes == ("docker",), k8s
        assert "Kubernetes lab" in lesson(k8s).need.what
    assert lesson("echo kubectl-like; ls /etc/kubernetes").need is None
    plain_ctr = lesson("ctr -n lab run --rm docker.io/library/busybox:latest c1 true").need
    assert plain_ctr is None or "CNI" not in plain_ctr.what  # ctr without --cni calls no plugin
    lessons = {p.name: recording(p).live_modes for p in LESSONS}
    assert "netns" in lessons["05-docker0-by-hand.ipynb"]
    assert "netns" not in lessons["01-docker0.ipynb"]
