"""Every stored recording still holds the command each `%%lab` cell of its lesson sends today.

Replay finds a recorded answer by the exact command text, so a lesson cell edited without
`labkit lesson build --record`, or a change to what labkit wraps around a cell (the
`--capture` plumbing), leaves learners in replay mode with `NotRecorded`. The slow replay
tests would find it after minutes; this finds it in the unit suite, and says which cell.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.model.recording import Recording, Run
from labkit.notebook.capture import wrap
from labkit.notebook.magics import parse_options

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def lab_cells(lesson: Path):
    """(cell id, source, the command the cell sends) for each `%%lab` cell."""
    nb = json.loads(lesson.read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] != "code" or not source.startswith("%%lab"):
            continue
        line, _, body = source.partition("\n")
        body += "\n"  # IPython hands a cell magic its body with the last line ended
        capture = parse_options(line[len("%%lab"):])["capture"]
        yield cell.get("id"), source, wrap(body, capture) if capture else body


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_each_lab_cell_sends_a_recorded_command(lesson):
    rec = Recording.from_json((NOTEBOOKS / "recordings" / f"{lesson.stem}.json").read_text())
    by_id = {c.id: c for c in rec.cells}
    stale = []
    for cell_id, source, command in lab_cells(lesson):
        cell = by_id.get(cell_id)
        sent = [e.command for e in cell.events if isinstance(e, Run)] if cell else []
        if command not in sent:
            stale.append(source.splitlines()[0] + " / " + source.splitlines()[1][:60])
    assert not stale, (f"{len(stale)} cell(s) of {lesson.name} send a command its recording "
                       "does not hold; run `labkit lesson build --record notebooks/`:\n"
                       + "\n".join(stale))
