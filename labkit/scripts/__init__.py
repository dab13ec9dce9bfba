"""The shell scripts labkit runs in the lab (reset, baseline, the seal, ...), sent as text.

A line `#include OTHER.sh` in a script becomes OTHER.sh's text run in a subshell (its `exit`
ends only it); `#source OTHER.sh` becomes its text as it is (the functions it defines).
"""

from __future__ import annotations

import re
from importlib import resources

_DIRECTIVE = re.compile(r"^#(include|source) (\S+)$", re.M)


def text(name: str) -> str:
    """The text of labkit/scripts/NAME, its #include and #source lines expanded."""
    body = resources.files("labkit").joinpath("scripts", name).read_text()
    return _DIRECTIVE.sub(lambda m: f"(\n{text(m.group(2))}\n)" if m.group(1) == "include"
                          else text(m.group(2)), body)
