"""For instructors: re-run a lesson in the real lab and store its fresh outputs.

    labkit lesson build notebooks/01-docker0.ipynb [...]
    labkit lesson build --record notebooks/0*.ipynb   # + replay recordings

`--record` also writes, per lesson, `notebooks/recordings/NN-name.json`: every command each
cell sent to the lab with its output and exit status, and the topology snapshots (what
replay shows where no live lab can run; format in docs/replay.md).

`build(path)` executes every cell with nbclient, in a kernel of this Python environment (the
one `pytest --nbval --nbval-current-env` uses), with the notebook's folder as working
directory, and writes the notebook back with the new outputs. It is safe to repeat: each
lesson resets the lab in its first cell. The lab is the one `Lab.connect()` finds (set
LABKIT_LAB=NAME to choose another).

Before running anything it checks the exercise cells against `labkit.exercises`, so a
solution cell cannot drift from the solution the tests run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from contextlib import contextmanager
from importlib.metadata import version
from itertools import groupby
from pathlib import Path

from labkit.authoring.cells import EXERCISE_ROLES, role, source
from labkit.authoring.textsource import backup, stamp
from labkit.exercises import get
from labkit.model.recording import assemble
from labkit.model.recording import merge_streams as merge_chunks
from labkit.transport.replay import RECORD_ENV


def exercise_cell_problems(nb) -> list[str]:
    """Mismatches between a notebook's exercise cells and the exercises in labkit (pure)."""
    problems = []
    for number, cell in enumerate(nb.cells, 1):
        kind, ex_id = role(cell)
        if kind is None:
            continue
        if kind not in EXERCISE_ROLES:
            problems.append(f"cell {number}: unknown labkit role {kind!r} "
                            f"(must be one of {list(EXERCISE_ROLES)})")
            continue
        try:
            exercise = get(ex_id)
        except Exception as exc:  # noqa: BLE001 - reported, not raised: list every problem
            problems.append(f"cell {number}: {exc}")
            continue
        if kind == "solution":
            text = source(cell)
            body = text.split("\n", 1)[1] if text.startswith("%%lab") else ""
            if body.strip() != exercise.solution.strip():
                problems.append(f"cell {number}: the solution cell of {ex_id} differs from "
                                "the solution in labkit.exercises (the tests run that one)")
    return problems


def merge_streams(outputs: list) -> list:
    """Join neighbouring stream outputs of the same name (pure). Output arrives in chunks as
    commands print it; stored as one block per stream it diffs and reads cleanly, and nbval
    compares the joined text anyway."""
    import nbformat  # an authoring dependency, like everything the build runs

    merged: list = []
    for is_stream, run in groupby(outputs, key=lambda o: o.get("output_type") == "stream"):
        if not is_stream:
            merged += run
            continue
        merged += [nbformat.v4.new_output("stream", name=name, text=text)
                   for name, text in merge_chunks((o["name"], o["text"]) for o in run)]
    return merged


def build(path: str | Path, *, timeout: int = 600, record: bool = False,
          on_cell: Callable[[int, int], None] | None = None) -> Path:
    """Execute the notebook at `path` in the lab and store its outputs in place. With
    `record`, also write its replay recording (`recordings_for(path)`). `on_cell(done,
    total)` hears about each executed cell (a progress bar)."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    problems = exercise_cell_problems(nb)
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    recorder = _CellLog(nb) if record else None

    def cell_done(cell, cell_index: int, **kwargs) -> None:
        if recorder is not None:
            recorder.cell_done(cell, cell_index, **kwargs)
        if on_cell is not None:
            on_cell(cell_index + 1, len(nb.cells))

    client = NotebookClient(
        nb,
        km=_this_python_kernel(),
        timeout=timeout,
        resources={"metadata": {"path": str(path.parent.resolve())}},
        record_timing=False,  # no timestamps in cell metadata: rebuilds diff cleanly
        on_cell_executed=cell_done,
    )
    if recorder is None:
        client.execute()
    else:
        with recorder.active():
            client.execute()
        out = recordings_for(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(recorder.recording(path.name).to_json(), encoding="utf-8")
    if on_cell is not None:
        on_cell(len(nb.cells), len(nb.cells))  # trailing Markdown cells run no hook
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
    nbformat.validate(nb)
    backup(path)  # its old outputs (and a learner's own, if it was not an instructor's copy)
    stamp(nb)  # these cells ran as they are: the notebook is in step with what it says
    nbformat.write(nb, path)
    return path


def recordings_for(path: str | Path) -> Path:
    """Where the replay recording of a lesson lives: recordings/ next to the notebook."""
    path = Path(path)
    return path.parent / "recordings" / f"{path.stem}.json"


class _CellLog:
    """The build's side of recording: the kernel (told by $LABKIT_RECORD) appends events to a
    log file; after each cell, the new lines are that cell's."""

    def __init__(self, nb) -> None:
        import tempfile

        self.nb = nb
        self.path = Path(tempfile.mkstemp(prefix="labkit-record-", suffix=".jsonl")[1])
        self.read = 0
        self.cells: list = []

    @contextmanager
    def active(self):
        old = os.environ.get(RECORD_ENV)
        os.environ[RECORD_ENV] = str(self.path)  # the kernel inherits it
        try:
            yield
        finally:
            if old is None:
                os.environ.pop(RECORD_ENV, None)
            else:
                os.environ[RECORD_ENV] = old
            self.path.unlink(missing_ok=True)

    def cell_done(self, cell, cell_index: int, **_kwargs) -> None:
        with open(self.path, encoding="utf-8") as f:
            f.seek(self.read)
            text = f.read()
            self.read = f.tell()
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        self.cells.append((cell_index, cell.get("id"), cell.source, events))

    def recording(self, lesson: str):
        return assemble(lesson, self.cells, {"labkit": version("labkit"),
                                             "by": "labkit lesson build --record"})


def _this_python_kernel():
    """A kernel manager for this interpreter, whatever `python3` kernelspec is installed
    (the same choice as nbval's --nbval-current-env)."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            # A build is not a learner: its checks must not land in the progress file.
            return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f",
                                    "{connection_file}"],
                              display_name="Python 3", language="python",
                              env={"LABKIT_PROGRESS": "off"})

    return KernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())
