"""labkit.probe.serve: the probe's line protocol and command line, over a fake Probe that
returns a raw scan recorded in the lab image (no pyroute2, no lab)."""

import io
import json
from pathlib import Path

import pytest

from labkit.model.build import from_raw
from labkit.model.formats import RAW_FORMAT, SNAPSHOT_FORMAT
from labkit.probe import serve as S

RAW = json.loads((Path(__file__).resolve().parents[1] / "snapshots" / "raw_kinds.json")
                 .read_text())


class FakeProbe:
    def __init__(self, fail_on=()):
        self.calls = 0
        self.fail_on = set(fail_on)

    def scan(self):
        self.calls += 1
        if self.calls in self.fail_on:
            raise OSError("namespace vanished")
        return RAW


def run(requests, probe=None):
    out = io.StringIO()
    S.serve(probe or FakeProbe(), io.StringIO(requests), out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_hello_then_one_line_per_request():
    hello, snap, raw, default = run("snapshot\nraw\n\n")
    assert hello["hello"] == "labkit.probe"
    assert (hello["format"], hello["raw_format"]) == (SNAPSHOT_FORMAT, RAW_FORMAT)
    assert {"pyroute2", "pid"} <= set(hello)
    assert snap == json.loads(from_raw(RAW).to_json()) == default
    assert raw == RAW


def test_unknown_requests_and_failures_are_answered_and_serving_goes_on():
    probe = FakeProbe(fail_on={1})
    _, failed, unknown, snap = run("snapshot\nbogus\nsnapshot\n", probe)
    assert failed == {"error": "OSError: namespace vanished"}
    assert unknown == {"error": "unknown request 'bogus' (must be one of "
                                "['snapshot', 'raw', 'quit'])"}
    assert snap["format"] == SNAPSHOT_FORMAT and probe.calls == 2


def test_quit_stops_before_the_rest():
    probe = FakeProbe()
    lines = run("raw\nquit\nraw\n", probe)
    assert len(lines) == 2 and probe.calls == 1


def test_snapshot_json_is_one_line_and_sorted():
    text = S.snapshot_json(FakeProbe(), raw=True)
    assert "\n" not in text and text == json.dumps(RAW, sort_keys=True)
    assert S.snapshot_json(FakeProbe()) == from_raw(RAW).to_json()


@pytest.fixture
def fake_probe_class(monkeypatch):
    made = []

    class Probe(FakeProbe):
        def __init__(self, nat=True):
            super().__init__()
            made.append(nat)

    monkeypatch.setattr(S, "Probe", Probe)
    return made


@pytest.mark.parametrize("argv, want", [
    ([], lambda: from_raw(RAW).to_json()),
    (["--raw", "--no-nat"], lambda: json.dumps(RAW, sort_keys=True)),
])
def test_main_prints_one_scan(argv, want, fake_probe_class, capsys):
    assert S.main(argv) == 0
    assert capsys.readouterr().out == want() + "\n"
    assert fake_probe_class == ["--no-nat" not in argv]


def test_main_serves_stdin(fake_probe_class, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("raw\n"))
    assert S.main(["--serve"]) == 0
    hello, raw = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    assert hello["hello"] == "labkit.probe" and raw == RAW
