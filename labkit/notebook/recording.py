"""In a kernel of `labkit lesson build --record`: the recorder wrapped around the lab's
transport, and a snapshot after every cell that ran commands without drawing."""

from __future__ import annotations

import os
import sys

from labkit.lab import Lab
from labkit.transport.replay import RECORD_ENV, Recorder


def install_recorder(lab: Lab) -> None:
    """In a kernel started by `build --record`: log what the lab answers, and take a snapshot
    after each cell that ran commands without drawing (so every cell has its "after")."""
    path = os.environ.get(RECORD_ENV)
    if not path or isinstance(lab.transport, Recorder):
        return
    lab.transport = Recorder(lab.transport, path)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None:
        return

    def after(_result=None) -> None:
        if isinstance(lab.transport, Recorder) and lab.transport.pending:
            try:
                lab.snapshot()
            except Exception as exc:  # noqa: BLE001 - the build's own output shows the cell
                print(f"labkit: no snapshot after this cell ({exc})", file=sys.stderr)

    ip.events.register("post_run_cell", after)
