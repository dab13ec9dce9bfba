"""Does any packet leave the lab? The kernel's own answer, `ip route get`, in every namespace.

The lab is sealed by scripts/contain.sh (docs/containment.md): `unreachable` routes of the
worst metric for the default and the documentation ranges, and a fence on the lab's uplinks.
This module checks the result the way the kernel decides it, without sending anything: for
each namespace of the lab and each address, it asks for a route (RTM_GETROUTE, what `ip route
get` does) and follows the path hop by hop: a container's gateway is an address of the lab
host, so the next question is the lab host's forwarding answer for a packet arriving there
(`ip route get DST from SRC iif DEV`). A path is contained when it ends inside the lab
(unreachable, a lab address, or a link with no host on it) and leaks when it reaches an uplink.

The path-following is pure (labkit.model.containment); `python3 -m labkit.probe.containment`
runs inside the lab and asks the kernel with iproute2 (`nsenter --net=NS ip -j route get ...`),
so it needs only the stdlib and the lab's tools.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

from labkit.model.build import name_and_kind
from labkit.model.containment import (
    ADDRESSES,
    UPLINKS_FILE,
    Answer,
    Report,
    check,
    parse_route_get,
)
from labkit.probe.discover import discover
from labkit.probe.docker import DOCKER_SOCKET, Docker

# --- inside the lab: ask the kernel --------------------------------------------------------

def _ip(ns_path: str, *args: str) -> subprocess.CompletedProcess:
    """iproute2 in the namespace at `ns_path` (nsenter: the lab's tools, no pyroute2 needed, so
    this runs with any python3 on a rootless or namespace-only lab's host too)."""
    return subprocess.run(["nsenter", f"--net={ns_path}", "ip", *args], capture_output=True,
                          text=True, timeout=10, check=False)


def _fence_up() -> bool:
    try:
        out = subprocess.run(["nft", "list", "table", "inet", "labkit_fence"],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.count("drop") >= 2


def live_check(addresses: Iterable[str] = ADDRESSES, baseline: str | None = None) -> Report:
    """Ask the kernel of every namespace of the lab (runs inside the lab)."""
    baseline = baseline or os.environ.get("LABKIT_BASELINE", "/run/labkit/baseline")
    warnings: list[str] = []
    try:
        with open(os.path.join(baseline, UPLINKS_FILE)) as f:
            lab_uplinks = set(f.read().split())
    except OSError:
        lab_uplinks = set()
        warnings.append(f"no {UPLINKS_FILE} in {baseline}: the lab did not run contain.sh")
    # (a namespace-only lab has no engine, and must not ask one it can see on its host)
    docker = (Docker(DOCKER_SOCKET) if os.path.exists(DOCKER_SOCKET)
              and os.environ.get("LABKIT_NO_DOCKER") != "1" else None)
    raw_warnings: list[dict[str, Any]] = []
    entries = discover(docker, raw_warnings)
    warnings += [w["message"] for w in raw_warnings]
    paths: dict[str, str] = {}
    owners: dict[str, list[tuple[str, str]]] = {}
    uplinks: dict[str, set[str]] = {}
    for e in entries:
        name = name_and_kind(e)[0]
        addrs = _ip(e["path"], "-j", "-4", "addr", "show")
        if addrs.returncode != 0:
            continue  # gone since discovery
        paths[name] = e["path"]
        for link in json.loads(addrs.stdout or "[]"):
            for a in link.get("addr_info", []):
                owners.setdefault(a["local"], []).append((name, link["ifname"]))
        if e.get("lab"):
            uplinks[name] = lab_uplinks

    def lookup(ns: str, dst: str, src: str | None, iif: str | None) -> Answer:
        args = ["-j", "route", "get", dst, *(["from", src] if src else []),
                *(["iif", iif] if iif else [])]
        res = _ip(paths[ns], *args)
        return parse_route_get(res.returncode, res.stdout, res.stderr)

    fence = _fence_up() if lab_uplinks else None
    return check(list(paths), lookup, owners, uplinks, addresses, fence, warnings)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python3 -m labkit.probe.containment",
                                description=__doc__.split("\n")[0])
    p.add_argument("addresses", nargs="*", default=list(ADDRESSES))
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)
    report = live_check(args.addresses)
    if args.json:
        print(report.to_json())
    else:
        for path in report.paths:
            print(path)
        print("traffic stays in the lab:", report.summary())
    return 0 if report.contained else 1


if __name__ == "__main__":
    sys.exit(main())
