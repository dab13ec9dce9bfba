"""Read `iptables-save` text: pure parsing, no I/O. The one parser of it in labkit.

`parse_save` reads every table, with each rule's place (table, chain, position) and, for
`iptables-save -c`, its `[packets:bytes]` counters (`labkit.model.trace` diffs them). Two
things matter to the course's NAT picture: DNAT port mappings (what `docker run -p 8080:80`
adds: a packet for the lab's port 8080 goes to the container's 172.17.0.2:80), with the base
chains whose jumps lead to them (`entry_chains`), and MASQUERADE rules (containers reach the
outside behind the lab's address). Beside them: the filter table's chain policies
(`policy`: FORWARD's decides whether the lab routes at all) and docker-proxy, the userland
process that holds a published port open (`proxy_from_argv`).
"""

from __future__ import annotations

import hashlib
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
    # The base chains whose jumps lead to the rule (docker's DOCKER chain: PREROUTING for
    # packets from outside, OUTPUT for the lab's own), in the order a packet meets them;
    # () when none does (the rule is never reached), None when not known (a snapshot
    # written before labkit followed the jumps, or a rule read on its own).
    entry: tuple[str, ...] | None = None

    def __str__(self) -> str:
        host = f"{self.host_ip}:" if self.host_ip else ""
        to = f"{self.to_ip}:{self.to_port}" if self.to_port else self.to_ip
        return f"{self.protocol} {host}{self.host_port}→{to}"


@dataclass(frozen=True)
class Masquerade:
    """A MASQUERADE rule: traffic from `source` leaving by `out_iface` takes the lab's address.

    In a user chain (the bridge CNI plugin's `CNI-<hash>`, jumped to from POSTROUTING with
    `-s 10.15.10.100/32`), `source` is the jump's when the rule has none of its own, and
    `exempt` the destinations an ACCEPT or RETURN before it in its chain lets out unchanged
    (the plugin's `-d 10.15.10.0/24 -j ACCEPT`: the bridge's own subnet)."""

    source: str | None
    out_iface: str | None = None
    destination: str | None = None
    protocol: str | None = None
    port: str | None = None
    chain: str = ""
    exempt: tuple[str, ...] = ()

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
        if self.via:
            parts.append(f"via {self.via}")
        if self.exempt:
            parts.append(f"except to {', '.join(self.exempt)}")
        return " ".join(parts)

    @property
    def via(self) -> str | None:
        """The user chain the rule sits in (None in a base chain, or when not known)."""
        return self.chain if self.chain and self.chain not in BASE_CHAINS else None


@dataclass(frozen=True)
class Proxy:
    """A docker-proxy process: it listens on the lab's `host_ip:host_port` and copies each
    connection to `container_ip:container_port` (for what the DNAT rules do not catch: the
    lab's own connections to 127.0.0.1, and hairpin traffic without br_netfilter)."""

    protocol: str
    host_ip: str
    host_port: str
    container_ip: str
    container_port: str

    def __str__(self) -> str:
        return (f"docker-proxy {self.protocol} {_hostport(self.host_ip, self.host_port)}→"
                f"{_hostport(self.container_ip, self.container_port)}")


def _hostport(ip: str, port: str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# The chains a packet enters a table by, in the order it meets them (the others are user
# chains, reached only by a jump).
BASE_CHAINS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
# Where the kernel runs a DNAT target at all (iptables refuses it anywhere else).
DNAT_CHAINS = ("PREROUTING", "OUTPUT")

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
    tokens = split_words(line)
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


# A word of plain characters and "quoted" runs, as a shell reads it with no backslash
_WORD = re.compile(r'(?:"[^"]*"|[^\s"])+')


def split_words(line: str) -> list[str]:
    """`line`'s words as `shlex.split` gives them. iptables-save quotes only comments, with
    double quotes: those lines take a regular expression, not shlex, which was 90 % of the
    probe's scan with 10 Services (each worker's ~170 kube-proxy rules parsed per scan)."""
    if "\\" in line or "'" in line or line.count('"') % 2:
        try:
            return shlex.split(line)
        except ValueError:  # an unbalanced quote in a comment: fall back to plain splitting
            return line.split()
    if '"' not in line:
        return line.split()
    return [w.replace('"', "") for w in _WORD.findall(line)]


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


def entry_chains(chain: str, rules: list[Rule]) -> tuple[str, ...]:
    """The base chains from which a packet can reach `chain` by jumps (`-j`, `-g`) between
    `rules` (one table's, all of them), in BASE_CHAINS order. A jump's own matches are not
    weighed: a rule that can jump is a way in."""
    callers: dict[str, set[str]] = {}
    for r in rules:
        for to in (r.target, r.match("-g") or r.match("--goto")):
            if to:
                callers.setdefault(to, set()).add(r.chain)
    seen, todo = {chain}, [chain]
    while todo:  # backwards over the jumps; `seen` stops a loop of user chains
        for c in callers.get(todo.pop(), ()):
            if c not in seen:
                seen.add(c)
                todo.append(c)
    return tuple(c for c in BASE_CHAINS if c in seen)


def port_mappings(rules: list[Rule], follow: bool = False) -> list[PortMapping]:
    """The DNAT rules among `rules`; with `follow` (`rules` are the whole nat table), each
    with the base chains that lead to it (`PortMapping.entry`)."""
    out = []
    entries: dict[str, tuple[str, ...]] = {}
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
            entry=entries.setdefault(r.chain, entry_chains(r.chain, rules)) if follow else None,
        ))
    return out


def policy(text: str, chain: str, table: str = "filter") -> str | None:
    """A base chain's policy in `iptables-save` text ("ACCEPT", "DROP"), None if absent."""
    return next((c.policy for c in parse_save(text)
                 if isinstance(c, Chain) and c.table == table and c.name == chain), None)


_PROXY_OPTS = {"-proto": "protocol", "-host-ip": "host_ip", "-host-port": "host_port",
               "-container-ip": "container_ip", "-container-port": "container_port"}


def proxy_from_argv(argv: list[str]) -> Proxy | None:
    """A docker-proxy command line (`-proto tcp -host-ip 0.0.0.0 -host-port 8080
    -container-ip 172.17.0.2 -container-port 80`, `--proto` too) as a Proxy; None when it
    lacks one of them."""
    found: dict[str, str] = {}
    pairs = zip(argv, argv[1:], strict=False)
    for opt, value in [tuple(a.split("=", 1)) for a in argv if "=" in a] + list(pairs):
        name = _PROXY_OPTS.get("-" + opt.lstrip("-"))
        if name is not None:
            found.setdefault(name, value)
    if len(found) != len(_PROXY_OPTS):
        return None
    return Proxy(**found)


def masquerades(rules: list[Rule]) -> list[Masquerade]:
    """The MASQUERADE rules among `rules` (one table's, in order). One in a user chain is
    seen through each jump that leads there (one Masquerade per jump, with the jump's source
    when the rule has none), with the destinations its chain exempts before it; a user chain
    nothing jumps to gives the rule as it stands."""
    out = []
    for i, r in enumerate(rules):
        if r.target != "MASQUERADE":
            continue
        m = Masquerade(source=r.match("-s"), out_iface=r.match("-o"),
                       destination=r.match("-d"), protocol=r.match("-p"),
                       port=r.match("--dport"), chain=r.chain)
        if r.chain in BASE_CHAINS:
            out.append(m)
            continue
        m = replace(m, exempt=_exempt(rules[:i], r.chain))
        jumps = [j for j in rules if r.chain in (j.target, j.match("-g"), j.match("--goto"))]
        seen = [replace(m, source=m.source or j.match("-s")) for j in jumps] or [m]
        out += dict.fromkeys(seen)  # two jumps with one source: one rule to draw
    return out


def _exempt(before: list[Rule], chain: str) -> tuple[str, ...]:
    """The destinations an ACCEPT or RETURN in `chain` lets through before a later rule of it,
    when the destination is its only condition."""
    out = []
    for r in before:
        if r.chain != chain or r.target not in ("ACCEPT", "RETURN"):
            continue
        # (`-m comment --comment "name: ..."` and the like only label it: no conditions)
        conditions = [c for c in r.matches if c[0] not in ("-m", "--comment")]
        if len(conditions) == 1 and conditions[0][:2] == ("-d", False):
            out.append(conditions[0][2])
    return tuple(out)


def cni_chain_name(network: str, container_id: str, prefix: str = "CNI-") -> str:
    """The name a CNI plugin gives a container's chain (the plugins' utils.FormatChainName):
    `prefix` + the first hex digits of sha512(network name + container id), 28 characters in
    all (iptables allows 28): the bridge plugin's MASQUERADE chain `CNI-` + 24 digits,
    portmap's DNAT chain `CNI-DN-` + 21."""
    digest = hashlib.sha512((network + container_id).encode()).hexdigest()
    return prefix + digest[:_CHAIN_NAME_MAX - len(prefix)]


_CHAIN_NAME_MAX = 28


_CNI_COMMENT = re.compile(r'^name: "([^"]*)" id: "([^"]*)"$')


def cni_owner(rule: Rule) -> tuple[str, str] | None:
    """(network, container id) of a rule a CNI plugin made: the bridge plugin labels its
    POSTROUTING jump and its chain's rules `-m comment --comment 'name: "NET" id: "ID"'`."""
    found = _CNI_COMMENT.match(rule.match("--comment") or "")
    return (found[1], found[2]) if found else None


def cni_masquerades(rules: list[Rule], network: str) -> dict[str, str]:
    """{CNI-... chain: source address} of the bridge plugin's masquerading for `network`:
    POSTROUTING's jumps to a CNI- chain labelled with the network (the nat table's rules).
    By chain: a stale jump and a new container's can share one address."""
    return {r.target: (r.match("-s") or "").split("/")[0] for r in rules
            if r.chain == "POSTROUTING" and r.target and r.target.startswith("CNI-")
            and (cni_owner(r) or ("",))[0] == network}


def cni_chains(rules: list[Rule], network: str) -> dict[str, str]:
    """{CNI-... chain: container id} of the chains the bridge plugin made for `network`, by
    their rules' labels, whether or not a jump still leads to them."""
    found: dict[str, str] = {}
    for r in rules:
        owner = cni_owner(r)
        if r.chain.startswith("CNI-") and owner is not None and owner[0] == network:
            found.setdefault(r.chain, owner[1])
    return found
