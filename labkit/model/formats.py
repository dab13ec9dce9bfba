"""Every file format labkit writes, with its version: one constant each (pure, stdlib only).

A version changes only on an incompatible change; readers refuse a version they do not know
and say how to refresh the file. The JSON Schemas beside this module (`schemas/`) describe
each format; the test suite validates real files against them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: a topology snapshot (`python3 -m labkit.probe`, `Topology.to_json`), docs/snapshot-format.md
SNAPSHOT_FORMAT = 1
#: the probe's raw scan (`python3 -m labkit.probe --raw`), what tests record
RAW_FORMAT = 1
#: a lesson's replay recording (notebooks/recordings/*.json), docs/replay.md
RECORDING_FORMAT = 1
#: a learner's progress (.labkit-progress.json beside the notebooks), docs/widgets.md
PROGRESS_FORMAT = 1
#: a lesson notebook's `labkit` metadata (`{"format": 1, "lesson": N, ...}`), docs/lessons.md;
#: `labkit lesson check` checks it (no schema here: nbformat validates the notebook)
LESSON_FORMAT = 1

SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA_FILES = {"snapshot": "snapshot.schema.json", "raw": "raw.schema.json",
                "recording": "recording.schema.json", "progress": "progress.schema.json"}


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one format (`snapshot`, `raw`, `recording`, `progress`)."""
    return json.loads((SCHEMAS / SCHEMA_FILES[name]).read_text(encoding="utf-8"))
