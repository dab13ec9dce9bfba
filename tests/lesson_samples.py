"""Small sample lessons for the authoring tests (lint, release, the `labkit lesson` CLI).

`good_lesson()` is a tiny lesson that passes every rule: it opens with the reset, starts its
own container, and ends with lesson 0's real exercise (so it must be called 00-welcome, the
lesson that exercise belongs to). Each lint test breaks one thing in a copy of it.
`in_repo(tmp_path, nb)` lays it out like the repository (jupytext.toml, notebooks/,
lessons/ with its text source, tests/nbval-sanitize.cfg).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from labkit.exercises import get

ROOT = Path(__file__).parents[1]
SANITIZE = ROOT / "tests" / "nbval-sanitize.cfg"
EXERCISE = "lesson0/first-bridge"
NAME = "00-welcome.ipynb"


def md(text: str, **labkit) -> dict:
    cell = {"cell_type": "markdown", "metadata": {}, "source": text}
    if labkit:
        cell["metadata"]["labkit"] = labkit
    return cell


def code(text: str, *outputs: dict, metadata: dict | None = None) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": metadata or {},
            "outputs": list(outputs), "source": text}


def stdout(text: str) -> dict:
    return {"name": "stdout", "output_type": "stream", "text": text}


def plain(text: str) -> dict:
    return {"data": {"text/plain": text}, "metadata": {}, "output_type": "display_data"}


OPENING = ("from labkit import Lab\nfrom labkit.exercises import check, hint, solution\n\n"
           "lab = Lab.connect()\nlab.reset()")


def exercise_cells(ex_id: str = EXERCISE) -> list[dict]:
    ex = get(ex_id)
    role = {"exercise": ex_id}
    return [
        md(f"## Exercise: {ex.title}\n\n{ex.task}\n\nWrite your commands in the next cell. "
           f'`hint("{ex_id}")` shows a hint and `solution("{ex_id}")` prints a solution.',
           role="exercise", **role),
        code("%%lab\n# Your turn: write your commands here.",
             metadata={"labkit": {"role": "your-turn", **role}}),
        code(f'check("{ex_id}")', plain(f"✗ {ex_id}: {ex.title} — not yet:\n  - missing"),
             metadata={"labkit": {"role": "check", **role}}),
        code("%%lab\n" + ex.solution.rstrip("\n"), stdout("3: hello0: <UP> ...\n"),
             metadata={"labkit": {"role": "solution", **role}, "tags": ["solution"],
                       "jupyter": {"source_hidden": True}}),
        code(f'check("{ex_id}")', plain(f"✓ {ex_id}: {ex.title} — done, every check passes."),
             metadata={"labkit": {"role": "check-solution", **role}}),
    ]


def good_lesson() -> dict:
    cells = [
        md("# 0 · A sample\n\nA tiny lesson."),
        code(OPENING, plain("The lab is back at its starting state.")),
        md("Start a container:"),
        code("%%lab\ndocker run -dit --name busybox1 busybox sh",
             stdout("1a5ffb573b7af80000dfff25a432526bb740c5a1e40f94e62c930383a0269193\n")),
        code("%%lab\ndocker exec busybox1 ping -c 1 172.17.0.1",
             stdout("64 bytes from 172.17.0.1: seq=0 ttl=64 time=0.081 ms\n")),
        *exercise_cells(),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"s-{i:02d}"
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"},
                         "labkit": {"format": 1, "lesson": 0, "exercises": [EXERCISE]}}}


def in_repo(tmp_path: Path, nb: dict, name: str = NAME, *, text: bool = True) -> Path:
    """Write `nb` as tmp_path/notebooks/NAME in a repository-like layout; with `text`, its
    paired text source too. Returns the notebook's path."""
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    (tmp_path / "tests").mkdir(exist_ok=True)
    shutil.copy(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    shutil.copy(SANITIZE, tmp_path / "tests" / "nbval-sanitize.cfg")
    path = tmp_path / "notebooks" / name
    path.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    if text:
        from labkit.authoring import textsource

        textsource.sync(path, prefer="notebook")
    return path
