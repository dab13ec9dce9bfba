"""Big outputs are bounded (transport.Bounded, SentinelSplitter): the head passes on as it
comes, the tail at the end, what lies between is counted and said; arguments are checked."""

from __future__ import annotations

import pytest

from labkit.errors import UsageError, explain_exit
from labkit.lab import Lab
from labkit.notebook.magics import parse_options
from labkit.result import Result
from labkit.transport.output import Bounded, SentinelSplitter


def test_head_passes_live_tail_at_the_end_and_the_gap_is_said():
    b = Bounded(10, 5)
    live = "".join(b.add(chunk) for chunk in ("0123456", "789abcdef", "ghijklmnopqrstuvwxyz"))
    assert live == "0123456789"
    end = b.finish()
    assert end.endswith("vwxyz") and b.left_out == 36 - 15
    assert "[labkit: 21 characters of output left out here; the first 10 characters and the " \
           "last 5 characters are shown." in end


def test_small_output_is_untouched_and_unbounded_keeps_everything():
    b = Bounded(10, 5)
    assert b.add("short") == "short" and b.finish() == ""
    b = Bounded(8, 8)
    assert b.add("0123456789abc") == "01234567" and b.finish() == "89abc"  # nothing left out
    assert Bounded(0, 0).add("x" * 10_000) == "x" * 10_000


def test_memory_stays_bounded_for_20_mb():
    b = Bounded(1000, 1000)
    for _ in range(20_000):
        b.add("y" * 1000)
        assert b._ring_len <= 1000
    assert b.left_out == 20_000_000 - 2000
    assert "20.0 MB of output left out" in b.finish()


def test_splitter_bounds_each_stream_and_keeps_the_exit_status():
    seen = []
    sp = SentinelSplitter("tok", lambda s, t: seen.append((s, t)), max_output=400)
    for _ in range(100):
        sp.feed("stdout", b"z" * 100)
    sp.feed("stdout", b"END\n\x1etok\n")
    sp.feed("stderr", b"\x1etok:3\n")
    sp.close()
    out = "".join(sp.text["stdout"])
    assert sp.exit_code == 3 and out.startswith("z" * 100) and out.endswith("zzEND\n")
    assert len(out) < 400 + 300 and "left out here" in out
    assert "".join(t for s, t in seen if s == "stdout") == out


def test_max_output_option_and_an_unbalanced_quote():
    assert parse_options("--max-output 0")["max_output"] == 0
    assert parse_options("--max-output=5000 --timeout 3") == {
        "timeout": 3.0, "max_output": 5000, "check": False, "draw": True, "capture": None}
    with pytest.raises(UsageError, match="--max-output needs a whole number"):
        parse_options("--max-output lots")
    with pytest.raises(UsageError, match="cannot read the options .*No closing quotation"):
        parse_options("--timeout '3")


@pytest.mark.parametrize("kwargs, message", [
    ({"command": None}, "needs a shell command as a string, not None"),
    ({"command": "  "}, "needs a shell command"),
    ({"command": "true", "timeout": -1}, "timeout must be a number ≥ 0"),
    ({"command": "true", "max_output": "big"}, "max_output must be a number ≥ 0"),
])
def test_lab_run_checks_its_arguments_before_the_lab_sees_them(kwargs, message):
    with pytest.raises(UsageError, match=message):
        Lab(transport=None).run(**kwargs)


def test_docker_run_it_in_a_cell_gets_a_hint():
    res = Result("docker run -it busybox sh", "", "the input device is not a TTY\n", 1, 0.1)
    assert "docker run -dit" in explain_exit(res)
