"""Alike containers drawn as one grid, in the real lab (issue 12, "Scales"): 25 busybox
containers make a grid with its line; a cell that adds a route in one of them draws that one
in full, its new route highlighted, and the text after the cell names the change."""

from __future__ import annotations

import re

import pytest

from labkit.draw.group import SHOWN

pytestmark = pytest.mark.lab

N = 25


def in_full(dot: str) -> set[str]:
    return set(re.findall(r'subgraph "cluster_ns:([^"]+)"', dot)) - {"lab"}


def test_alike_containers_are_a_grid_until_a_cell_changes_one(lab):
    lab.run(f"for i in $(seq 1 {N}); do docker run -d --name g$i busybox sleep 1d >/dev/null "
            "|| exit 1; done", timeout=300, check=True)
    first = lab.after_cell()
    assert {c.image for ns in first.topology.namespaces for c in ns.containers} == {"busybox"}
    line = f"{N - SHOWN} alike containers"
    assert line in first.dot and "(busybox on docker0) drawn as one grid" in first.dot
    assert in_full(first.dot) == {"g1", "g2"}
    assert line in first.svg() and f"{N - SHOWN} veth pairs" in first.svg()

    # A cell that adds a route in g17 (from the lab host: a container has no NET_ADMIN).
    lab.run("nsenter -t $(docker inspect -f '{{.State.Pid}}' g17) -n "
            "ip route add 10.9.0.0/24 via 172.17.0.1", check=True)
    second = lab.after_cell()
    assert in_full(second.dot) == {"g1", "g2", "g17"}
    assert "<b>+ 10.9.0.0/24 via 172.17.0.1 dev eth0</b>" in second.dot
    assert f"{N - SHOWN - 1} alike containers" in second.dot
    assert ">g17</td>" not in second.dot  # not in the grid as well
    assert "g17" in second.text() and "10.9.0.0/24" in second.text()
    assert "g17" in second.svg()
