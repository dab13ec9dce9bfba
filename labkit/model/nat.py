"""Read the NAT picture from `iptables-save -t nat` text: pure parsing, no I/O.

Two things matter to the course: DNAT port mappings (what `docker run -p 8080:80` adds:
a packet for the lab's port 8080 goes to the container's 172.17.0.2:80) and MASQUERADE
rules (containers reach the outside behind the lab's address).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class NatRule:
    """One `-A CHAIN ...` line: its matches as (option, negated, value) in line order."""

    chain: str
    matches: tuple[tuple[str, bool, str], ...]
    target: str | None
    target_args: tuple[tuple[str, str], ...]
    text: str

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


def parse_iptables_save(text: str) -> list[NatRule]:
    """The `-A` rules of the `*nat` table(s) in `text`, in order. Other tables are skipped."""
    rules: list[NatRule] = []
    table = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = line[1:]
            continue
        if table != "nat" or not line.startswith("-A "):
            continue
        rules.append(_parse_rule(line))
    return rules


def _parse_rule(line: str) -> NatRule:
    try:
        tokens = shlex.split(line)
    except ValueError:  # an unbalanced quote in a comment: fall back to plain splitting
        tokens = line.split()
    chain = tokens[1]
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
        value_tokens = []
        j = i + 1
        if tok not in _FLAGS:
            while j < len(tokens) and tokens[j] != "!" and not (
                    tokens[j].startswith("-") and len(tokens[j]) > 1
                    and not tokens[j][1].isdigit()):
                value_tokens.append(tokens[j])
                j += 1
        value = " ".join(value_tokens)
        if tok in ("-j", "--jump"):
            target = value
        elif tok in _TARGET_OPTS:
            target_args.append((tok, value))
        else:
            matches.append((tok, neg, value))
        neg = False
        i = j
    return NatRule(chain, tuple(matches), target, tuple(target_args), line)


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


def port_mappings(rules: list[NatRule]) -> list[PortMapping]:
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


def masquerades(rules: list[NatRule]) -> list[Masquerade]:
    return [
        Masquerade(source=r.match("-s"), out_iface=r.match("-o"),
                   destination=r.match("-d"), protocol=r.match("-p"),
                   port=r.match("--dport"), chain=r.chain)
        for r in rules if r.target == "MASQUERADE"
    ]
