"""Helpers shared by the recording and replay tests: reading the lessons, sanitizing outputs
the way nbval does (tests/nbval-sanitize.cfg), and the parts of a cell's outputs that replay
adds (its banner, labkit's own stderr lines) and a comparison must leave out."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat

from labkit.authoring.sanitize import read_sanitize_file, sanitized
from labkit.model.recording import merge_streams

REPO = Path(__file__).resolve().parent.parent
# LABKIT_TEST_NOTEBOOKS: check another copy of the lessons (e.g. freshly built ones)
NOTEBOOKS = Path(os.environ.get("LABKIT_TEST_NOTEBOOKS") or REPO / "notebooks")
SANITIZE = REPO / "tests" / "nbval-sanitize.cfg"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))

#: a code cell that reaches the lab: %%lab, or Python calling the lab or a check
LAB_REACHING = re.compile(r"^%%lab|\blab\.(run|sh|reset|draw|snapshot)\(|"
                          r"\b(check|exercise_widget)\(|Lab\.connect\(", re.M)


#: the (regex, replace) pairs of tests/nbval-sanitize.cfg, read by nbval's own parser
PATTERNS = read_sanitize_file(SANITIZE)


def sanitize(text: str) -> str:
    """The text as nbval compares it."""
    return sanitized(text, PATTERNS)


def read(path: Path):
    return nbformat.read(path, as_version=4)


def comparable(outputs: list, *, replayed: bool = False) -> list[tuple[str, str]]:
    """A cell's outputs as (kind, sanitized text) pairs: streams joined per run of the same
    stream, rich outputs by their text/plain. With `replayed`, the banner over a replayed
    cell and labkit's own "labkit: ..." stderr lines (which mode was chosen) are left out."""
    from labkit.model.recording import BANNER

    out: list[tuple[str, str]] = []
    for o in outputs:
        if o["output_type"] == "stream":
            text = o["text"]
            if replayed and o["name"] == "stderr":
                text = "".join(line for line in text.splitlines(keepends=True)
                               if not line.startswith("labkit: "))
            if not text:
                continue
            # joined to the output before it when that is the same stream
            out = [*out[:-1], *merge_streams([*out[-1:], (f"stream:{o['name']}", text)])]
        elif o["output_type"] in ("display_data", "execute_result"):
            plain = o.get("data", {}).get("text/plain", "")
            if replayed and plain.startswith(BANNER):
                continue
            out.append((o["output_type"], plain))
        elif o["output_type"] == "error":
            out.append(("error", o.get("ename", "")))
    return [(k, sanitize(t)) for k, t in out]


def assert_same_as_stored(stored, replayed, name: str) -> None:
    """Every code cell of `replayed` shows what `stored` does (banner and labkit's own lines
    aside), and each replayed `%%lab` cell opens with the "recorded in a real lab" banner."""
    from labkit.model.recording import BANNER

    for index, (want, got) in enumerate(zip(stored.cells, replayed.cells, strict=True)):
        if want.cell_type != "code":
            continue
        if "lab_controls(" in want.source:
            # The lab's controls describe how the lab is reached: in replay that is the
            # point, so they must say replay instead of what the recording's lab said.
            assert "replay" in str(comparable(got.outputs, replayed=True)).lower(), \
                f"{name} cell {index}: the lab controls do not say they replay"
            continue
        assert comparable(got.outputs, replayed=True) == comparable(want.outputs), \
            f"{name} cell {index} replays differently from its stored output"
        if want.source.startswith("%%lab"):
            plain = [o.get("data", {}).get("text/plain", "") for o in got.outputs]
            assert plain and plain[0].startswith(BANNER), f"{name} cell {index}: no banner"


def failed_lab_cells(nb) -> list[int]:
    """Indexes of the %%lab cells whose command ended badly (their "[exit status" line)."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
            and c.source.startswith("%%lab") and any(
                o.get("name") == "stderr" and "[exit status" in o.get("text", "")
                for o in c.outputs)]


def text_of(cell) -> str:
    """All the text a cell showed (streams and text/plain), for looking for a fact."""
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                   for o in cell.outputs)


def states_around(lesson: str, needle: str):
    """The lab (steady topologies) before and after the first recorded cell of `lesson`
    whose source contains `needle`: found by what the cell does, since a lesson's new cells
    renumber its recorded states."""
    from labkit.model.diff import steady
    from labkit.model.recording import Recording
    from labkit.model.topology import from_json

    rec = Recording.from_json((NOTEBOOKS / "recordings" / f"{lesson}.json").read_text())
    last = None
    for cell in sorted(rec.cells, key=lambda c: c.index):
        if needle in cell.source and last is not None and cell.topology is not None:
            return tuple(steady(from_json(rec.topologies[t])) for t in (last, cell.topology))
        last = cell.topology or last
    raise LookupError(f"no recorded cell of {lesson} runs {needle!r} after a snapshot")
