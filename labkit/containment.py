"""Does any packet leave the lab? The kernel's own answer, `ip route get`, in every namespace.

The lab is sealed by scripts/contain.sh (docs/containment.md): `unreachable` routes of the
worst metric for the default and the documentation ranges, and a fence on the lab's uplinks.
This module checks the result the way the kernel decides it, without sending anything: for
each namespace of the lab and each address, it asks for a route (RTM_GETROUTE, what `ip route
get` does) and follows the path hop by hop: a container's gateway is an address of the lab
host, so the next question is the lab host's forwarding answer for a packet arriving there
(`ip route get DST from SRC iif DEV`). A path is contained when it ends inside the lab
(unreachable, a lab address, or a link with no host on it) and leaks when it reaches an uplink.

The path-following is pure (`follow`, over a `lookup` function); `python3 -m
labkit.containment` runs inside the lab and asks the kernel with iproute2 (`nsenter --net=NS ip
-j route get ...`), so it needs only the stdlib and the lab's tools.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

#: What the tests and `labkit doctor` ask about: the three documentation ranges the lessons'
#: simulated hosts use (RFC 5737) and one public address. Only routes are asked, never a packet.
ADDRESSES = ("203.0.113.10", "198.51.100.1", "192.0.2.1", "9.9.9.9")
#: The lab's uplinks, as contain.sh recorded them when the lab started.
UPLINKS_FILE = "uplinks"
MAX_HOPS = 8
CHECK_ARGV = ("python3", "-m", "labkit.containment", "--json")


@dataclass(frozen=True)
class Answer:
    """The kernel's route for one question, as `ip route get` prints it."""

    type: str  # unicast, local, broadcast, unreachable (also blackhole, prohibit, error)
    dev: str | None = None
    gateway: str | None = None
    prefsrc: str | None = None
    error: str | None = None  # the kernel's refusal ("No route to host")

    def __str__(self) -> str:
        if self.error:
            return f"unreachable ({self.error})"
        if self.type != "unicast":
            return self.type + (f" dev {self.dev}" if self.dev else "")
        return " ".join(p for p in (f"via {self.gateway}" if self.gateway else "",
                                    f"dev {self.dev}" if self.dev else "") if p)


@dataclass(frozen=True)
class Hop:
    namespace: str
    answer: Answer
    iif: str | None = None  # the interface the packet arrived on (None: made here)


@dataclass(frozen=True)
class Path:
    start: str  # the namespace the packet is made in
    dst: str
    hops: tuple[Hop, ...]
    contained: bool
    end: str  # where and why it stops, in a learner's words

    def __str__(self) -> str:
        steps = " → ".join(f"{h.namespace}: {h.answer}" for h in self.hops)
        mark = "stays in the lab" if self.contained else "LEAVES THE LAB"
        return f"{self.start} → {self.dst}: {mark} ({self.end}) [{steps}]"


@dataclass(frozen=True)
class Report:
    paths: tuple[Path, ...]
    uplinks: tuple[str, ...] = ()
    fence: bool | None = None  # the nft fence on the uplinks is up (None: no uplinks)
    warnings: tuple[str, ...] = field(default=())

    @property
    def contained(self) -> bool:
        return bool(self.paths) and all(p.contained for p in self.paths)

    def leaks(self) -> list[Path]:
        return [p for p in self.paths if not p.contained]

    def summary(self) -> str:
        """One line for `labkit doctor`."""
        names = sorted({p.start for p in self.paths})
        if not self.paths:
            return "could not be checked (no namespace answered)"
        if self.contained:
            fence = {True: "; the fence is up on " + ", ".join(self.uplinks),
                     False: "; but the fence on " + ", ".join(self.uplinks) + " is down",
                     None: ""}[self.fence]
            return (f"yes: {len(self.paths)} routes from {len(names)} namespace(s) end inside "
                    f"the lab{fence}")
        leaks = self.leaks()
        fence = (f"; the fence on {', '.join(self.uplinks)} still drops them" if self.fence
                 else "")
        return (f"NO: {len(leaks)} route(s) lead out of the lab{fence}: "
                + "; ".join(str(p) for p in leaks[:3]))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Report:
        d = json.loads(text)
        paths = tuple(Path(p["start"], p["dst"],
                           tuple(Hop(h["namespace"], Answer(**h["answer"]), h["iif"])
                                 for h in p["hops"]), p["contained"], p["end"])
                      for p in d["paths"])
        return cls(paths, tuple(d["uplinks"]), d["fence"], tuple(d["warnings"]))


#: lookup(namespace, dst, src, iif) -> the kernel's answer in that namespace.
Lookup = Callable[[str, str, "str | None", "str | None"], Answer]


def follow(start: str, dst: str, lookup: Lookup, owners: dict[str, list[tuple[str, str]]],
           uplinks: dict[str, set[str]]) -> Path:
    """Follow `dst` from namespace `start` hop by hop (pure, given `lookup`).

    `owners`: address -> [(namespace, interface)] holding it; `uplinks`: namespace -> its
    links out of the lab (only the lab host has any)."""
    hops: list[Hop] = []
    ns, src, iif = start, None, None
    for _ in range(MAX_HOPS):
        answer = lookup(ns, dst, src, iif)
        hops.append(Hop(ns, answer, iif))
        if answer.error or answer.type in ("unreachable", "blackhole", "prohibit"):
            return Path(start, dst, tuple(hops), True, f"no route in {ns}: dropped there")
        if answer.type in ("local", "broadcast"):
            return Path(start, dst, tuple(hops), True, f"an address of {ns}")
        if answer.dev in uplinks.get(ns, set()):
            return Path(start, dst, tuple(hops), False, f"out of {ns} by its uplink {answer.dev}")
        nexthop = answer.gateway or dst
        there = [o for o in owners.get(nexthop, []) if o[0] != ns]
        if not there:
            who = "no lab host" if nexthop == dst else f"no lab host has the gateway {nexthop}"
            return Path(start, dst, tuple(hops), True,
                        f"{who} on {ns}'s {answer.dev}: dropped on that link, inside the lab")
        src = src or answer.prefsrc
        ns, iif = there[0]
    return Path(start, dst, tuple(hops), True, f"more than {MAX_HOPS} hops: a routing loop")


def check(namespaces: Iterable[str], lookup: Lookup, owners: dict[str, list[tuple[str, str]]],
          uplinks: dict[str, set[str]], addresses: Iterable[str] = ADDRESSES,
          fence: bool | None = None, warnings: Iterable[str] = ()) -> Report:
    """Every namespace × every address (pure, given `lookup`)."""
    paths = tuple(follow(ns, dst, lookup, owners, uplinks)
                  for ns in namespaces for dst in addresses)
    ups = tuple(sorted(u for links in uplinks.values() for u in links))
    return Report(paths, ups, fence if ups else None, tuple(warnings))


# --- inside the lab: ask the kernel --------------------------------------------------------

def _ip(ns_path: str, *args: str) -> subprocess.CompletedProcess:
    """iproute2 in the namespace at `ns_path` (nsenter: the lab's tools, no pyroute2 needed, so
    this runs with any python3 on a rootless or namespace-only lab's host too)."""
    return subprocess.run(["nsenter", f"--net={ns_path}", "ip", *args], capture_output=True,
                          text=True, timeout=10, check=False)


def parse_route_get(rc: int, stdout: str, stderr: str) -> Answer:
    """`ip -j route get ...`'s answer (pure): its route, or the kernel's refusal."""
    if rc != 0:
        why = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {rc}"
        return Answer("unreachable", error=why.removeprefix("RTNETLINK answers: "))
    route = (json.loads(stdout) or [{}])[0]
    return Answer(route.get("type", "unicast"), dev=route.get("dev"),
                  gateway=route.get("gateway"), prefsrc=route.get("prefsrc"))


def _fence_up() -> bool:
    try:
        out = subprocess.run(["nft", "list", "table", "inet", "labkit_fence"],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.count("drop") >= 2


def live_check(addresses: Iterable[str] = ADDRESSES, baseline: str | None = None) -> Report:
    """Ask the kernel of every namespace of the lab (runs inside the lab)."""
    from labkit.probe import DOCKER_SOCKET, _Docker, discover
    from labkit.topology import name_and_kind

    baseline = baseline or os.environ.get("LABKIT_BASELINE", "/run/labkit/baseline")
    warnings: list[str] = []
    try:
        with open(os.path.join(baseline, UPLINKS_FILE)) as f:
            lab_uplinks = set(f.read().split())
    except OSError:
        lab_uplinks = set()
        warnings.append(f"no {UPLINKS_FILE} in {baseline}: the lab did not run contain.sh")
    # (a namespace-only lab has no engine, and must not ask one it can see on its host)
    docker = (_Docker(DOCKER_SOCKET) if os.path.exists(DOCKER_SOCKET)
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

    p = argparse.ArgumentParser(prog="python3 -m labkit.containment",
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
