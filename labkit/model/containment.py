"""Does any packet leave the lab? Following the kernel's answers hop by hop (pure).

The lab is sealed by scripts/contain.sh (docs/containment.md): `unreachable` routes of the
worst metric for the default and the documentation ranges, and a fence on the lab's uplinks.
For each namespace of the lab and each address, `follow` takes the kernel's route (what `ip
route get` answers, through a `lookup` function) and follows the path: a container's gateway
is an address of the lab host, so the next question is the lab host's forwarding answer for a
packet arriving there (`ip route get DST from SRC iif DEV`). A path is contained when it ends
inside the lab (unreachable, a lab address, or a link with no host on it) and leaks when it
reaches an uplink. labkit.probe.containment asks the real kernel inside the lab.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

#: What the tests and `labkit doctor` ask about: the three documentation ranges the lessons'
#: simulated hosts use (RFC 5737) and one public address. Only routes are asked, never a packet.
ADDRESSES = ("203.0.113.10", "198.51.100.1", "192.0.2.1", "9.9.9.9")
#: The lab's uplinks, as contain.sh recorded them when the lab started.
UPLINKS_FILE = "uplinks"
MAX_HOPS = 8
CHECK_ARGV = ("python3", "-m", "labkit.probe.containment", "--json")


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


def parse_route_get(rc: int, stdout: str, stderr: str) -> Answer:
    """`ip -j route get ...`'s answer (pure): its route, or the kernel's refusal."""
    if rc != 0:
        why = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {rc}"
        return Answer("unreachable", error=why.removeprefix("RTNETLINK answers: "))
    route = (json.loads(stdout) or [{}])[0]
    return Answer(route.get("type", "unicast"), dev=route.get("dev"),
                  gateway=route.get("gateway"), prefsrc=route.get("prefsrc"))
