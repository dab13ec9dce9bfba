"""Every stored recording still holds the command each `%%lab` cell of its lesson sends today.

Replay finds a recorded answer by the exact command text, so a lesson cell edited without
`labkit lesson build --record`, or a change to what labkit wraps around a cell (the
`--capture` plumbing), leaves learners in replay mode with `NotRecorded`. The slow replay
tests would find it after minutes; this finds it in the unit suite, and says which cell.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from labkit.model.recording import Recording, Run
from labkit.notebook.capture import wrap
from labkit.notebook.magics import parse_options

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


#: a command a Python cell gives the lab as a plain string: `lab.run("...")`, `lab.sh('...')`
#: (f-strings are left out: their text is known only when they run) and `%lab ...` lines
_LITERAL = re.compile(r"""\blab\.(?:run|sh)\(\s*r?("|')(.*?)(?<!\\)\1""")
_LINE_MAGIC = re.compile(r"(?m)^\s*%lab\s+(.*)$")


def lab_cells(lesson: Path):
    """(cell id, source, a command the cell sends) for each `%%lab` cell, and for each plain
    command a Python cell sends."""
    nb = json.loads(lesson.read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] != "code":
            continue
        if not source.startswith("%%lab"):
            for command in [m.group(2) for m in _LITERAL.finditer(source)] + [
                    m.group(1) for m in _LINE_MAGIC.finditer(source)]:
                yield cell.get("id"), source, command.encode().decode("unicode_escape")
            continue
        line, _, body = source.partition("\n")
        body += "\n"  # IPython hands a cell magic its body with the last line ended
        capture = parse_options(line[len("%%lab"):])["capture"]
        yield cell.get("id"), source, wrap(body, capture) if capture else body


def stale(lesson: Path, rec: Recording) -> list[str]:
    """The cells of `lesson` that send a command `rec` does not hold for them."""
    by_id = {c.id: c for c in rec.cells}
    found = []
    for cell_id, source, command in lab_cells(lesson):
        cell = by_id.get(cell_id)
        sent = [e.command for e in cell.events if isinstance(e, Run)] if cell else []
        if command not in sent:
            lines = source.splitlines() + [""]
            found.append(f"{lines[0][:60]} / {command.splitlines()[0][:60]}")
    return found


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_each_lab_cell_sends_a_recorded_command(lesson):
    rec = Recording.from_json((NOTEBOOKS / "recordings" / f"{lesson.stem}.json").read_text())
    stale_cells = stale(lesson, rec)
    assert not stale_cells, (f"{len(stale_cells)} cell(s) of {lesson.name} send a command "
                             "its recording does not hold; run `labkit lesson build --record "
                             "notebooks/`:\n" + "\n".join(stale_cells))


def test_a_python_cells_command_is_checked_too(tmp_path):
    from labkit.model.recording import Cell

    nb = {"cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "outputs": [],
                     "source": 'print(lab.run("ip -br link").stdout)\n%lab ip route'}]}
    path = tmp_path / "09-x.ipynb"
    path.write_text(json.dumps(nb))
    def rec(*sent: str) -> Recording:
        return Recording("09-x.ipynb", (Cell(0, "c1", "", tuple(
            Run(c, (("stdout", ""),), 0) for c in sent)),), {})
    assert stale(path, rec("ip -br link", "ip route")) == []
    assert [s.split(" / ")[1] for s in stale(path, rec("ip route"))] == ["ip -br link"]
