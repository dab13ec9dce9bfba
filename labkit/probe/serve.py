"""`python3 -m labkit.probe [--raw | --serve]`: the probe's command line and its line protocol.

    python3 -m labkit.probe            # print one snapshot (JSON, format 1) and exit
    python3 -m labkit.probe --raw      # print the raw scan instead (what tests record)
    python3 -m labkit.probe --serve    # keep running: one request line in, one JSON line out

Runs with the lab's own python3 (Debian bookworm: 3.11) and python3-pyroute2 (0.7); it needs
nothing else, so the probe imports only the stdlib, pyroute2 and labkit.model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import Any, Protocol, TextIO

from labkit.model.build import from_raw
from labkit.model.formats import RAW_FORMAT, SNAPSHOT_FORMAT
from labkit.probe.scan import Probe, pyroute2_version

REQUESTS = ["snapshot", "raw", "quit"]


class Scanner(Protocol):
    def scan(self) -> dict[str, Any]: ...


def snapshot_json(probe: Scanner, raw: bool = False) -> str:
    """One scan as one line of JSON: the snapshot, or the raw scan with `raw`."""
    scan = probe.scan()
    if raw:
        return json.dumps(scan, sort_keys=True)
    return from_raw(scan).to_json()


def serve(probe: Scanner, stdin: TextIO, stdout: TextIO) -> None:
    """Answer one request line with one JSON line, until EOF or "quit".

    Protocol (documented in docs/snapshot-format.md):
      - on start, one hello line: {"hello": "labkit.probe", "format": 1, "raw_format": 1, ...}
      - request "" / "snapshot" -> one snapshot (format 1), "raw" -> one raw scan
      - any failure -> {"error": "..."} on one line; the probe keeps serving
    """
    hello = {"hello": "labkit.probe", "format": SNAPSHOT_FORMAT, "raw_format": RAW_FORMAT,
             "pyroute2": pyroute2_version(), "pid": os.getpid()}
    stdout.write(json.dumps(hello) + "\n")
    stdout.flush()
    for line in stdin:
        req = line.strip()
        if req == "quit":
            break
        stdout.write(_answer(probe, req) + "\n")
        stdout.flush()


def _answer(probe: Scanner, req: str) -> str:
    try:
        if req in ("", "snapshot"):
            return snapshot_json(probe)
        if req == "raw":
            return snapshot_json(probe, raw=True)
        return json.dumps({"error": f"unknown request {req!r} (must be one of {REQUESTS})"})
    except Exception as e:  # noqa: BLE001 - keep serving: the next cell may succeed
        return json.dumps({"error": f"{type(e).__name__}: {e}"})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m labkit.probe",
                                description="The topology probe: runs inside the lab and "
                                            "reads every network namespace it holds.")
    p.add_argument("--serve", action="store_true",
                   help="keep running: answer each stdin line with one JSON line")
    p.add_argument("--raw", action="store_true", help="print the raw scan, not the snapshot")
    p.add_argument("--no-nat", action="store_true", help="skip iptables-save")
    args = p.parse_args(argv)
    probe = Probe(nat=not args.no_nat)
    if args.serve:
        # A single-threaded probe: setns() moves only the scanning thread, and that is us.
        assert threading.current_thread() is threading.main_thread()
        serve(probe, sys.stdin, sys.stdout)
        return 0
    sys.stdout.write(snapshot_json(probe, raw=args.raw) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
