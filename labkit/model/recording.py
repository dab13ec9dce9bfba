"""A recording of a lesson run in a real lab: the data, and how it is assembled (pure).

A *recording* (`notebooks/recordings/NN-name.json`, format in docs/replay.md) holds, for every
cell of a lesson that reached the lab, what reached it: each command with its output and exit
status, and each topology snapshot the cell took (the diagram's). `labkit lesson build --record`
makes them from a real run (labkit.transport.replay.Recorder logs, `assemble` builds); nothing
ever invents an output.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from labkit.model.formats import RECORDING_FORMAT

#: the first line of the banner over replayed cells; tests find banners by it
BANNER = "▶ recorded in a real lab"

DOCKER_WORD = re.compile(r"(^|[\s;|&(`$])docker(\s|$)", re.M)
#: a CNI plugin called (by path or through a CNI_* variable), our cnitool, or a runtime that
#: calls the plugins itself (`ctr ... run --cni`)
CNI_WORD = re.compile(r"/opt/cni/bin|/usr/lib/cni|\bCNI_COMMAND=|(^|[\s;|&(`$])cnitool(\s|$)"
                      r"|(^|[\s;|&(`$])ctr\s[^\n]*\brun\s[^\n]*--cni\b", re.M)

#: the Kubernetes lab's own commands (k8s/k8s-lab.sh) and its client
K8S_WORD = re.compile(r"(^|[\s;|&(`$])(kubectl|k8s-lab|kubelet|kube-proxy)(\s|$)", re.M)

ALL_LIVE_MODES = ("docker", "rootless", "netns")


@dataclass(frozen=True)
class Need:
    """Something a command needs that not every live mode has."""

    what: str  # said to the learner: "{lesson} needs {what}"
    modes: tuple[str, ...]  # the live modes that have it
    pattern: re.Pattern[str]


#: most restrictive first: a lesson's need is the first one any of its commands has
NEEDS = (
    # The Kubernetes lab is the Docker lab's image plus Kubernetes (k8s/Dockerfile): no
    # rootless lab has it (its node namespaces, kubelets and engines need the lab's root).
    Need("Kubernetes, which only the Kubernetes lab carries (`labkit up --k8s`)", ("docker",),
         K8S_WORD),
    # Only the Docker lab's image carries Debian's plugins and cnitool, and a plugin writes
    # /var/lib/cni and /run/netns paths that the rootless labs do not give.
    Need("the CNI plugins, which only the Docker lab carries", ("docker",), CNI_WORD),
    Need("a Docker engine", ("docker", "rootless"), DOCKER_WORD),
)


def need_of(commands: Iterable[str]) -> Need | None:
    """The most restrictive need of these commands, None if any live mode runs them (pure)."""
    texts = list(commands)
    return next((n for n in NEEDS if any(n.pattern.search(t) for t in texts)), None)


def merge_streams(chunks: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Neighbouring (stream, text) chunks of the same stream joined into one, in order:
    output arrives in chunks as commands print it, and one block per stream is what is
    stored and compared (the recordings, the notebooks' outputs). Pure."""
    merged: list[tuple[str, str]] = []
    for stream, text in chunks:
        if merged and merged[-1][0] == stream:
            merged[-1] = (stream, merged[-1][1] + text)
        else:
            merged.append((stream, text))
    return merged


# --- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One command and what the lab answered. `output` keeps the order in which stdout and
    stderr chunks arrived (merged per stream), so a replayed cell shows them the same way."""

    command: str
    output: tuple[tuple[str, str], ...]
    exit_code: int
    timed_out: bool = False

    @property
    def stdout(self) -> str:
        return "".join(t for s, t in self.output if s == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(t for s, t in self.output if s == "stderr")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"run": self.command, "output": [list(c) for c in self.output],
                             "exit_code": self.exit_code}
        if self.timed_out:
            d["timed_out"] = True
        return d


@dataclass(frozen=True)
class Snap:
    """A snapshot the cell took at this point (by id into `Recording.topologies`)."""

    topology: str

    def to_dict(self) -> dict[str, Any]:
        return {"snapshot": self.topology}


Event = Run | Snap


@dataclass(frozen=True)
class Cell:
    """What one notebook cell sent to the lab, in order."""

    index: int  # position in the notebook's cell list
    id: str | None  # nbformat cell id
    source: str
    events: tuple[Event, ...]

    @property
    def runs(self) -> list[Run]:
        return [e for e in self.events if isinstance(e, Run)]

    @property
    def topology(self) -> str | None:
        """The snapshot after the cell (its last one)."""
        snaps = [e.topology for e in self.events if isinstance(e, Snap)]
        return snaps[-1] if snaps else None


@dataclass(frozen=True)
class Recording:
    lesson: str  # the notebook's file name
    cells: tuple[Cell, ...]
    topologies: dict[str, dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def need(self) -> Need | None:
        """What the lesson's commands need beyond a namespace-only lab (labkit's own scripts,
        `@reset.sh`, are not counted: the reset skips Docker where there is none)."""
        return need_of(r.command for c in self.cells for r in c.runs
                       if not r.command.startswith("@"))

    @property
    def live_modes(self) -> tuple[str, ...]:
        """The live modes in which this lesson can run (a Docker lesson needs an engine, a CNI
        lesson the Docker lab)."""
        return self.need.modes if self.need else ALL_LIVE_MODES

    def cell(self, index: int) -> Cell | None:
        return next((c for c in self.cells if c.index == index), None)

    def to_json(self) -> str:
        return json.dumps({
            "format": RECORDING_FORMAT, "lesson": self.lesson, "recorded": self.meta,
            "live_modes": list(self.live_modes),
            "cells": [{"index": c.index, "id": c.id, "source": c.source,
                       "events": [e.to_dict() for e in c.events]} for c in self.cells],
            "topologies": self.topologies,
        }, indent=1, sort_keys=False, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> Recording:
        d = json.loads(text) if isinstance(text, str) else text
        if d.get("format") != RECORDING_FORMAT:
            raise ValueError(f"recording format {d.get('format')!r} is not supported (must be "
                             f"{RECORDING_FORMAT}); refresh it with `labkit lesson build "
                             "--record`")
        cells = tuple(Cell(c["index"], c.get("id"), c["source"], tuple(
            Run(e["run"], tuple((s, t) for s, t in e["output"]), e["exit_code"],
                e.get("timed_out", False)) if "run" in e else Snap(e["snapshot"])
            for e in c["events"])) for c in d["cells"])
        return cls(d["lesson"], cells, d.get("topologies", {}), d.get("recorded", {}))


def topology_key(topo: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The snapshot without how the probe ran (its timing), and a stable digest of it. Pure."""
    kept = {k: v for k, v in topo.items() if k != "probe"}
    digest = hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()
    return digest, kept


def assemble(lesson: str, cells: list[tuple[int, str | None, str, list[dict]]],
             meta: dict[str, Any]) -> Recording:
    """A Recording from per-cell event logs (lines the `Recorder` wrote). Equal snapshots
    are stored once, named t1, t2, ... in order of first appearance. Pure."""
    ids: dict[str, str] = {}
    topologies: dict[str, dict[str, Any]] = {}
    out = []
    for index, cell_id, source, events in cells:
        evs: list[Event] = []
        for e in events:
            if "snapshot" in e:
                digest, kept = topology_key(e["snapshot"])
                if digest not in ids:
                    ids[digest] = f"t{len(ids) + 1}"
                    topologies[ids[digest]] = kept
                evs.append(Snap(ids[digest]))
            else:
                evs.append(Run(e["run"], tuple((s, t) for s, t in e["output"]), e["exit_code"],
                               e.get("timed_out", False)))
        if evs:
            out.append(Cell(index, cell_id, source, tuple(evs)))
    return Recording(lesson, tuple(out), topologies, meta)
