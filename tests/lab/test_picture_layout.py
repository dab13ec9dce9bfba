"""A stable picture within a lesson, in the real lab through the public Lab API: with ten
containers drawn, a cell that removes the fifth and adds a namespace made by hand moves no
namespace's label by more than 5% of the drawing's width, nor does the cell after it (the
removed box gone), nor one that adds a container whose name sorts in the middle.

With LABKIT_RECORD_SNAPSHOTS=1 it also writes each state's raw scan to
tests/snapshots/layout_*.json, which tests/unit/test_picture_layout.py replays.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from labkit.draw.diagram import Diagram
from labkit.draw.layout import label_positions, largest_move
from labkit.transport.probe_client import SERVE_ARGV, ProbeSession

pytestmark = pytest.mark.lab

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
BOUND = 0.05

CELLS = {
    "ten": "for i in $(seq 1 10); do docker run -d --name busybox$i busybox sleep 1d "
           ">/dev/null; done",
    "swap": "docker rm -f busybox5 >/dev/null && ip netns add hand && "
            "ip link add veth-hand type veth peer name eth0 netns hand && "
            "ip link set veth-hand master docker0 up && "
            "ip -n hand addr add 172.17.0.50/16 dev eth0 && ip -n hand link set eth0 up",
    "after": "ip -n hand link set lo up",
    "middle": "docker run -d --name busybox4b busybox sleep 1d >/dev/null",
}


def record(lab, name: str) -> None:
    if os.environ.get("LABKIT_RECORD_SNAPSHOTS") != "1":
        return
    probe = ProbeSession(lab.transport.open_pipe(list(SERVE_ARGV)))
    try:
        raw = probe.raw()
    finally:
        probe.close()
    (SNAPSHOTS / f"layout_{name}.json").write_text(json.dumps(raw, indent=1, sort_keys=True)
                                                  + "\n")


def test_what_is_on_the_page_keeps_its_place_from_cell_to_cell(lab):
    lab.after_cell()  # the reset lab, drawn: the lesson's first diagram
    svgs = []
    for name, command in CELLS.items():
        lab.run(command, timeout=120, check=True)
        shown = lab.after_cell()
        assert isinstance(shown, Diagram), (name, shown)
        svgs.append(shown.svg())
        record(lab, name)
    assert set(label_positions(svgs[0])) >= {f"busybox{i}" for i in range(1, 11)}
    assert "hand" in label_positions(svgs[1]) and "busybox4b" in label_positions(svgs[3])
    assert "busybox5" not in label_positions(svgs[2])  # the faded box is gone after
    moves = [largest_move(a, b) for a, b in zip(svgs, svgs[1:], strict=False)]
    assert all(moved <= BOUND for _, moved in moves), moves
