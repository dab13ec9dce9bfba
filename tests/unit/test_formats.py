"""labkit.model.formats: every file labkit writes matches its JSON Schema, and each schema
pins its format version to the one constant in formats.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from labkit.exercises import Exercise
from labkit.exercises.store import FileProgress
from labkit.model import formats
from labkit.model.build import from_raw
from labkit.model.recording import Recording

ROOT = Path(__file__).resolve().parents[2]
# Every recorded scan and snapshot (checks/ holds command answers, golden/ DOT text).
SNAPSHOTS = sorted([*(ROOT / "tests" / "snapshots").glob("*.json"),
                    *(ROOT / "tests" / "snapshots" / "probe").glob("*.json")])
RECORDINGS = sorted((ROOT / "notebooks" / "recordings").glob("*.json"))
#: the field each format keeps its version in, and the constant it must equal
VERSIONS = {"snapshot": ("format", formats.SNAPSHOT_FORMAT),
            "raw": ("raw_format", formats.RAW_FORMAT),
            "recording": ("format", formats.RECORDING_FORMAT),
            "progress": ("format", formats.PROGRESS_FORMAT)}

# The schemas refer to each other by their $id (recording -> snapshot, raw -> snapshot).
REGISTRY = Registry().with_resources(
    (s["$id"], Resource.from_contents(s)) for s in map(formats.schema, formats.SCHEMA_FILES))


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(formats.schema(name), registry=REGISTRY)


def check(name: str, data: object) -> None:
    """Fail with every error, each at its place in the file (not only the first)."""
    errors = sorted(validator(name).iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors[:20])


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(formats.SCHEMA_FILES))
def test_each_schema_is_valid_and_pins_its_version_constant(name):
    schema = formats.schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith("/" + formats.SCHEMA_FILES[name])
    field, constant = VERSIONS[name]
    assert schema["properties"][field]["const"] == constant
    assert field in schema["required"] and schema["additionalProperties"] is False


def test_every_schema_file_is_named_and_shipped():
    on_disk = {p.name for p in formats.SCHEMAS.glob("*.schema.json")}
    assert on_disk == set(formats.SCHEMA_FILES.values())
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"model/schemas/*.json"' in pyproject


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.stem)
def test_recorded_test_snapshots_match_their_schema(path):
    data = load(path)
    if "raw_format" in data:  # what the probe scanned in a real lab (most of them)
        check("raw", data)
        check("snapshot", json.loads(from_raw(data).to_json()))  # and what labkit makes of it
    elif "traces" in data:  # trace_lesson3: a snapshot and the kernel's recorded answers
        check("snapshot", data["topology"])
    else:
        check("snapshot", data)


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_lesson_recordings_match_their_schema(path):
    data = load(path)
    check("recording", data)
    for topology in data["topologies"].values():
        check("snapshot", topology)
    # What Recording writes back is the same format.
    check("recording", json.loads(Recording.from_json(data).to_json()))


def test_a_progress_file_written_by_file_progress(tmp_path):
    path = tmp_path / ".labkit-progress.json"
    exercise = Exercise(id="lesson9/schema-check", title="t", lesson="09-x.ipynb", task="",
                        check=lambda lab: [], hints=("one", "two"), solution="")
    store = FileProgress(path=path)
    store.record_check(exercise, False)
    store.next_hint(exercise)
    store.record_check(exercise, True)
    data = load(path)
    check("progress", data)
    assert data["exercises"]["lesson9/schema-check"] == {
        "hints_shown": 1, "checks": 2, "failed": 1, "passed": True, "gave_up": False}
    # a file from before `failed` and `gave_up` (both optional in format 1) still validates
    check("progress", {"format": 1, "exercises": {"lesson9/schema-check": {
        "hints_shown": 0, "checks": 0, "passed": False}}})


def test_an_empty_recording_and_topology_from_the_model():
    check("recording", json.loads(Recording("00-x.ipynb", (), {}).to_json()))
    check("snapshot", json.loads(from_raw(load(SNAPSHOTS[0])).to_json(indent=1)))


# --- what the schemas refuse, with a message that says why ----------------------------------

def _wrong_version(name: str) -> dict:
    field, constant = VERSIONS[name]
    good = {"snapshot": lambda: json.loads(from_raw(load(ROOT / "tests/snapshots/seed.json"))
                                           .to_json()),
            "raw": lambda: load(ROOT / "tests/snapshots/seed.json"),
            "recording": lambda: load(RECORDINGS[0]),
            "progress": lambda: {"format": formats.PROGRESS_FORMAT, "exercises": {}}}[name]()
    check(name, good)
    return {**good, field: constant + 1}


@pytest.mark.parametrize("name", sorted(formats.SCHEMA_FILES))
def test_a_wrong_format_version_is_refused_readably(name):
    field, constant = VERSIONS[name]
    with pytest.raises(ValidationError) as refused:
        validator(name).validate(_wrong_version(name))
    assert list(refused.value.absolute_path) == [field]
    assert f"{constant} was expected" in refused.value.message


def test_a_renamed_field_is_caught():
    raw = load(ROOT / "tests/snapshots/seed.json")
    snap = json.loads(from_raw(raw).to_json())
    itf = snap["namespaces"][0]["interfaces"][0]
    itf["ifname"] = itf.pop("name")
    messages = [e.message for e in validator("snapshot").iter_errors(snap)]
    assert any("'name' is a required property" in m for m in messages)
    assert any("'ifname' was unexpected" in m for m in messages)
    raw["namespaces"][0]["links"][0]["oper_state"] = raw["namespaces"][0]["links"][0].pop(
        "operstate")
    assert not validator("raw").is_valid(raw)
    progress = {"format": formats.PROGRESS_FORMAT,
                "exercises": {"lesson1/x": {"hints": 0, "checks": 0, "passed": False}}}
    assert not validator("progress").is_valid(progress)


def test_a_recording_keeps_no_probe_timing():
    rec = load(RECORDINGS[0])
    first = next(iter(rec["topologies"]))
    rec["topologies"][first]["probe"] = {"elapsed_ms": 3.0}
    assert not validator("recording").is_valid(rec)
