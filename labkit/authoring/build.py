"""For instructors: re-run a lesson in the real lab and store its fresh outputs.

    python -m labkit.authoring build notebooks/01-docker0.ipynb [...]
    python -m labkit.authoring build --record notebooks/0*.ipynb   # + replay recordings

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

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

#: cell roles, in `cell.metadata["labkit"]["role"]` (see docs/lessons.md)
ROLES = ("exercise", "your-turn", "check", "solution", "check-solution")


def exercise_cell_problems(nb) -> list[str]:
    """Mismatches between a notebook's exercise cells and the exercises in labkit (pure)."""
    from labkit.exercises import get

    problems = []
    for number, cell in enumerate(nb.cells, 1):
        meta = cell.get("metadata", {}).get("labkit", {})
        role, ex_id = meta.get("role"), meta.get("exercise")
        if role is None:
            continue
        if role not in ROLES:
            problems.append(f"cell {number}: unknown labkit role {role!r} "
                            f"(must be one of {list(ROLES)})")
            continue
        try:
            exercise = get(ex_id)
        except Exception as exc:  # noqa: BLE001 - reported, not raised: list every problem
            problems.append(f"cell {number}: {exc}")
            continue
        if role == "solution":
            body = cell.source.split("\n", 1)[1] if cell.source.startswith("%%lab") else ""
            if body.strip() != exercise.solution.strip():
                problems.append(f"cell {number}: the solution cell of {ex_id} differs from "
                                "the solution in labkit.checks (the tests run that one)")
    return problems


def merge_streams(outputs: list) -> list:
    """Join neighbouring stream outputs of the same name (pure). Output arrives in chunks as
    commands print it; stored as one block per stream it diffs and reads cleanly, and nbval
    compares the joined text anyway."""
    merged: list = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and last is not None
                and last.get("output_type") == "stream" and last.get("name") == out.get("name")):
            last["text"] += out["text"]
        else:
            merged.append(out)
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
    from labkit.authoring.textsource import backup, stamp

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
        from labkit.transport.replay import RECORD_ENV

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
        import labkit
        from labkit.model.recording import assemble

        return assemble(lesson, self.cells, {"labkit": labkit.__version__,
                                             "by": "python -m labkit.authoring build --record"})


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.authoring",
                                     description="Re-run lessons in the lab, store outputs.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="execute notebooks and store their outputs")
    b.add_argument("paths", nargs="+", type=Path)
    b.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    b.add_argument("--record", action="store_true",
                   help="also write each lesson's replay recording (recordings/NAME.json)")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.paths:
        start = time.monotonic()
        print(f"building {path} ...", end=" ", flush=True)
        try:
            build(path, timeout=args.timeout, record=args.record)
        except Exception as exc:  # noqa: BLE001 - report and go on with the next lesson
            failed += 1
            print(f"FAILED\n{exc}", file=sys.stderr)
            continue
        print(f"done in {time.monotonic() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
