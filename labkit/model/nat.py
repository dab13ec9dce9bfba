"""Read `iptables-save` text: pure parsing, no I/O. The one parser of it in labkit.

`parse_save` reads every table, with each rule's place (table, chain, position) and, for
`iptables-save -c`, its `[packets:bytes]` counters (`labkit.model.trace` diffs them). Two
things matter to the course's NAT picture: DNAT port mappings (what `docker run -p 8080:80`
adds: a packet for the lab's port 8080 goes to the container's 172.17.0.2:80) and MASQUERADE
rules (containers reach the outside behind the lab's address).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Rule:
    """One `-A CHAIN ...` line: its matches as (option, negated, value) in line order, where
    it stands (its table, and its 1-based position in its chain, as `iptables -L
    --line-numbers` counts) and, when the text came from `iptables-save -c`, its counters."""

    chain: str
    matches: tuple[tuple[str, bool, str], ...]
    target: str | None
    target_args: tuple[tuple[str, str], ...]
    text: str  # the line as iptables-save prints it, without the counters
    table: str = "nat"
    position: int = 0
    packets: int | None = None
    bytes: int | None = None

    def match(self, option: str) -> str | None:
        """The value of a match option, with a leading "!" when it is negated."""
        for opt, neg, value in self.matches:
            if opt == option:
                return "!" + value if neg else value
        return None

    def target_arg(self, option: str) -> str | None:
        for opt, value in self.target_args:
            if opt == option:
                return value
        return None


@dataclass(frozen=True)
class Chain:
    """A chain line, `:CHAIN POLICY [packets:bytes]`; a user-defined chain's policy is "-"."""

    table: str
    name: str
    policy: str
    packets: int | None = None
    bytes: int | None = None


@dataclass(frozen=True)
class PortMapping:
    """A DNAT rule: traffic to the lab's `host_port` goes to `to_ip:to_port`.

    Ports are kept as iptables writes them ("8080", or a range "8000:8010"). `in_iface` is
    e.g. "!docker0" (docker's rule: not for packets coming from the bridge itself).
    """

    protocol: str
    host_port: str
    to_ip: str
    to_port: str | None
    host_ip: str | None = None
    in_iface: str | None = None
    chain: str = ""

    def __str__(self) -> str:
        host = f"{self.host_ip}:" if self.host_ip else ""
        to = f"{self.to_ip}:{self.to_port}" if self.to_port else self.to_ip
        return f"{self.protocol} {host}{self.host_port}→{to}"


@dataclass(frozen=True)
class Masquerade:
    """A MASQUERADE rule: traffic from `source` leaving by `out_iface` takes the lab's address."""

    source: str | None
    out_iface: str | None = None
    destination: str | None = None
    protocol: str | None = None
    port: str | None = None
    chain: str = ""

    def __str__(self) -> str:
        parts = ["MASQUERADE"]
        if self.source:
            parts.append(f"from {self.source}")
        if self.destination:
            parts.append(f"to {self.destination}")
        if self.protocol:
            parts.append(self.protocol + (f"/{self.port}" if self.port else ""))
        if self.out_iface:
            neg = self.out_iface.startswith("!")
            parts.append(f"out {'not ' if neg else ''}{self.out_iface.lstrip('!')}")
        return " ".join(parts)


# Options that take no value (iptables-save prints these bare).
_FLAGS = {"--random", "--random-fully", "--persistent", "--rsource", "--rcheck", "--update",
          "--set", "--remove", "--syn"}
# Options that belong to the target (-j X ...) rather than to the matches.
_TARGET_OPTS = {"--to-destination", "--to-source", "--to-ports", "--to"}


_COUNTERS = re.compile(r"^\[(\d+):(\d+)\]\s+(.*)$")
_CHAIN = re.compile(r"^:(\S+) (\S+)(?: \[(\d+):(\d+)\])?$")


def parse_save(text: str) -> list[Chain | Rule]:
    """Every chain line and `-A` rule of `text` (any tables, with or without `-c`), in order.
    A line before any `*table` line gets the table "" (iptables-save always writes one)."""
    out: list[Chain | Rule] = []
    table = ""
    positions: dict[str, int] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            table, positions = line[1:], {}
            continue
        chain = _CHAIN.match(line)
        if chain is not None:
            name, policy, packets, nbytes = chain.groups()
            out.append(Chain(table, name, policy, _int(packets), _int(nbytes)))
            continue
        counted = _COUNTERS.match(line)
        packets = nbytes = None
        if counted is not None:
            packets, nbytes, line = counted.groups()
        if not line.startswith("-A "):
            continue  # blank, a comment, COMMIT
        rule = parse_rule(line, table)
        positions[rule.chain] = positions.get(rule.chain, 0) + 1
        out.append(replace(rule, position=positions[rule.chain], packets=_int(packets),
                           bytes=_int(nbytes)))
    return out


def parse_iptables_save(text: str) -> list[Rule]:
    """The `-A` rules of the `*nat` table(s) in `text`, in order. Other tables are skipped."""
    return [r for r in parse_save(text) if isinstance(r, Rule) and r.table == "nat"]


def _int(digits: str | None) -> int | None:
    return int(digits) if digits is not None else None


def parse_rule(line: str, table: str = "nat") -> Rule:
    """One `-A CHAIN ...` line (without counters) as a `Rule` (its position is not known)."""
    try:
        tokens = shlex.split(line)
    except ValueError:  # an unbalanced quote in a comment: fall back to plain splitting
        tokens = line.split()
    matches: list[tuple[str, bool, str]] = []
    target = None
    target_args: list[tuple[str, str]] = []
    neg = False
    i = 2
    while i < len(tokens):
        tok = tokens[i]
        if tok == "!":
            neg = True
            i += 1
            continue
        if not tok.startswith("-"):
            i += 1  # a stray value; iptables-save does not print these
            continue
        j = i + 1 if tok in _FLAGS else _value_end(tokens, i + 1)
        value = " ".join(tokens[i + 1:j])
        if tok in ("-j", "--jump"):
            target = value
        elif tok in _TARGET_OPTS:
            target_args.append((tok, value))
        else:
            matches.append((tok, neg, value))
        neg = False
        i = j
    return Rule(tokens[1], tuple(matches), target, tuple(target_args), line, table)


def _value_end(tokens: list[str], j: int) -> int:
    """Where an option's value ends: at the next "!" or option ("-5" is a value, not one)."""
    while j < len(tokens) and tokens[j] != "!" and not (
            tokens[j].startswith("-") and len(tokens[j]) > 1 and not tokens[j][1].isdigit()):
        j += 1
    return j


def _split_hostport(dest: str) -> tuple[str, str | None]:
    """'172.17.0.2:80' -> ('172.17.0.2', '80'); '[fd00::2]:80' -> ('fd00::2', '80')."""
    if dest.startswith("["):
        host, _, rest = dest[1:].partition("]")
        return host, (rest[1:] or None) if rest.startswith(":") else None
    if dest.count(":") == 1:
        host, port = dest.split(":")
        return host, port or None
    return dest, None


def _strip_host_mask(addr: str | None) -> str | None:
    if addr is None:
        return None
    return addr[:-3] if addr.endswith("/32") else addr


def port_mappings(rules: list[Rule]) -> list[PortMapping]:
    out = []
    for r in rules:
        if r.target != "DNAT":
            continue
        dest = r.target_arg("--to-destination")
        if not dest:
            continue
        to_ip, to_port = _split_hostport(dest)
        out.append(PortMapping(
            protocol=r.match("-p") or "all",
            host_port=r.match("--dport") or "*",
            to_ip=to_ip,
            to_port=to_port,
            host_ip=_strip_host_mask(r.match("-d")),
            in_iface=r.match("-i"),
            chain=r.chain,
        ))
    return out


def masquerades(rules: list[Rule]) -> list[Masquerade]:
    return [
        Masquerade(source=r.match("-s"), out_iface=r.match("-o"),
                   destination=r.match("-d"), protocol=r.match("-p"),
                   port=r.match("--dport"), chain=r.chain)
        for r in rules if r.target == "MASQUERADE"
    ]
