"""`%%lab --capture`: reading the option and the shell it wraps around a cell (pure). The
wrapped script runs in the real lab in tests/lab/test_capture_live.py."""

from __future__ import annotations

import re
import subprocess

import pytest

from labkit.errors import UsageError
from labkit.notebook.capture import Capture, parse_capture, wrap
from labkit.notebook.magics import parse_options


@pytest.mark.parametrize(("text", "expected"), [
    ("docker0", Capture("docker0")),
    ("docker0 -e icmp", Capture("docker0", None, ("-e", "icmp"))),
    ("outside:eth0 icmp", Capture("eth0", "outside", ("icmp",))),
    ("busybox2:eth0 'icmp and host 172.17.0.2'",
     Capture("eth0", "busybox2", ("icmp and host 172.17.0.2",))),
])
def test_parse_capture(text, expected):
    assert parse_capture(text) == expected


@pytest.mark.parametrize(("text", "said"), [
    ("", "needs an interface"),
    ("a:b:c icmp", "is not [NAMESPACE:]INTERFACE"),
    ("docker0 'icmp", "cannot read --capture"),
    ("docker0 -w /tmp/x.pcap", "-w and -r are not for it"),
])
def test_bad_capture_says_how_to_write_it(text, said):
    with pytest.raises(UsageError, match=re.escape(said)) as err:
        parse_capture(text)
    assert "--capture \"docker0 -e icmp\"" in str(err.value) or "-w" in text


def test_the_option_reaches_the_cell():
    assert parse_options('--capture "docker0 -e icmp"')["capture"] == Capture(
        "docker0", None, ("-e", "icmp"))


def test_the_title_names_the_real_command():
    assert Capture("eth0", "outside", ("icmp",)).title() == (
        "--- tcpdump -i eth0 -n -t -l icmp (in outside): what it saw ---")


def test_the_wrapped_script_is_valid_shell_and_keeps_the_cell_whole():
    script = "echo 'it is' \"quoted\"\nexit 3"
    out = wrap(script, Capture("eth0", "it's", ("icmp",)))
    assert f"(\n{script}\n)\n" in out  # the cell runs as written, in a subshell
    assert "ip netns exec 'it'\"'\"'s' tcpdump" in out  # names are quoted for the shell
    subprocess.run(["sh", "-n"], input=out, text=True, check=True)  # parses
