"""Result: what a command printed and how it ended."""

from __future__ import annotations

import dataclasses

import pytest
from IPython.lib.pretty import pretty

from labkit.result import Result


def res(**kw) -> Result:
    base = {"command": "brctl show", "stdout": "out\n", "stderr": "err\n", "exit_code": 0,
            "duration": 0.0421}
    return Result(**{**base, **kw})


def test_ok():
    assert res().ok
    assert not res(exit_code=1).ok
    assert not res(exit_code=0, timed_out=True).ok


def test_output_lines_str():
    r = res(stdout="a\nb\n", stderr="e\n")
    assert r.output == "a\nb\ne\n"
    assert r.lines() == ["a", "b"]
    assert str(r) == "a\nb\n"


def test_repr():
    assert repr(res()) == "<Result 'brctl show': exit 0, 42 ms>"
    assert repr(res(exit_code=124, timed_out=True)) == "<Result 'brctl show': timed out, 42 ms>"


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        res().exit_code = 1  # type: ignore[misc]


def test_pretty_shows_output_and_status_when_failed():
    assert pretty(res()) == "out\nerr\n"
    assert pretty(res(exit_code=2)) == "out\nerr\n<Result 'brctl show': exit 2, 42 ms>"
    assert pretty(res(stdout="x", stderr="", exit_code=1)) == \
        "x\n<Result 'brctl show': exit 1, 42 ms>"
    assert pretty(res(stdout="", stderr="")) == "<Result 'brctl show': exit 0, 42 ms>"
