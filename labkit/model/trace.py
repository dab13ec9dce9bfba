"""Trace a packet through the lab: the path, built from the kernel's own answers (pure).

Nothing here guesses. The path is walked hop by hop with the questions a person would ask:

* `ip -j route get DST [from SRC iif IN]` in each namespace the packet reaches: where does
  the kernel send it (or is it delivered here: `"type": "local"`)?
* through a bridge: `ip -j neigh get NEXTHOP dev OUT` (the MAC the sender resolved) and
  `bridge -j fdb get MAC br BRIDGE` (the port the bridge learned it on);
* across a veth pair: the other end, from the lab's topology (`labkit.model.topology`);
* NAT: the iptables rules whose packet counters moved while a real `ping -c 1` (or `curl`
  to a published port) ran; a DNAT rule that matched rewrites the destination;
* `tcpdump -i any` in every namespace on the way, during that same ping: which interfaces
  really saw the packet, and in which direction.

The questions go through an `ask(namespace, command) -> stdout` function, so this module is
pure: the notebook side (`labkit.notebook.widgets.trace_packet`) passes one that runs commands
in the lab, and the unit tests pass recorded answers. `traffic_script` is the one shell script that
makes the traffic and records counters and captures; `parse_traffic` reads its output.

Traffic only ever goes to the lab's own addresses: `check_target` refuses anything that no
namespace of the lab holds (and the lab's uplink, whose address depends on the machine).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from labkit.model.nat import (
    Chain,
    Masquerade,
    PortMapping,
    masquerades,
    parse_rule,
    parse_save,
    port_mappings,
)
from labkit.model.topology import Namespace, Topology

#: ask(namespace name, shell command) -> the command's stdout ("" when it failed)
Ask = Callable[[str, str], str]

MAX_HOPS = 16  # a routing loop ends here (and says so), not in an endless walk
SECTION = "@@labkit-trace "  # marks the parts of the traffic script's output


class TraceError(ValueError):
    """A trace that cannot be made, and why (unknown source, an address outside the lab)."""


@dataclass(frozen=True)
class Place:
    """Somewhere a trace can start or end: a namespace and one of its IPv4 addresses."""

    namespace: str
    address: str
    interface: str

    @property
    def label(self) -> str:
        return f"{self.namespace} {self.address} ({self.interface})"


def places(topo: Topology) -> list[Place]:
    """Every IPv4 address a packet can start from or go to, in the topology's order: the lab
    host, containers, `ip netns` namespaces (e.g. the lessons' `outside`), process-held ones.
    Loopback and the lab's uplink (its address depends on the machine) are left out."""
    uplinks = topo.uplinks()
    found = []
    for ns in topo.namespaces:
        if ns.kind not in ("lab", "container", "netns", "pod", "process"):
            continue
        for itf in ns.interfaces:
            if itf.kind == "loopback" or (ns.name, itf.name) in uplinks:
                continue
            for a in itf.addresses:
                if a.family == 4 and a.scope == "global":
                    found.append(Place(ns.name, a.address, itf.name))
    return found


def sources(topo: Topology) -> list[str]:
    """Namespaces a packet can be sent from (those with an address of their own)."""
    return list(dict.fromkeys(p.namespace for p in places(topo)))


def check_target(topo: Topology, source: str, destination: str) -> Place:
    """The `Place` for `destination` (an address, or a namespace name: its first address);
    `TraceError` for a source that is not in the lab or a target outside it."""
    if source not in sources(topo):
        raise TraceError(f"unknown source {source!r} (must be one of {sources(topo)})")
    here = places(topo)
    for p in here:
        if destination in (p.address, p.namespace):
            return p
    allowed = [p.address for p in here]
    raise TraceError(f"{destination!r} is not an address of the lab (must be one of "
                     f"{allowed}): traces only send packets between the lab's own hosts")


# --- running a command in a namespace -------------------------------------------------------


def in_namespace(ns: Namespace) -> str:
    """The shell prefix that runs a command in this namespace, from the lab host."""
    if ns.kind == "lab":
        return ""
    if ns.kind == "netns":
        return f"ip netns exec {shlex.quote(ns.netns[0] if ns.netns else ns.name)} "
    if ns.kind == "container":
        name = shlex.quote(ns.containers[0].name if ns.containers else ns.name)
        return f"nsenter -t \"$(docker inspect -f '{{{{.State.Pid}}}}' {name})\" -n "
    if ns.kind == "process" and ns.pid:
        return f"nsenter -t {ns.pid} -n "
    if ns.kind == "pod" and ns.pod is not None and ns.node:
        # Its pause container's process, asked of its node's own engine (k8s/k8s-lab.sh: a
        # node is a network and mount namespace of the lab, in the lab's pid namespace).
        ask = (f"k8s-lab exec {shlex.quote(ns.node)} docker inspect -f '{{{{.State.Pid}}}}' "
               f"{shlex.quote(ns.pod.pause)}")
        return f"nsenter -t \"$({ask})\" -n "
    raise TraceError(f"cannot run commands in namespace {ns.name!r} ({ns.kind})")


# --- the traffic: one script, counters and captures around a real ping / curl ---------------


@dataclass(frozen=True)
class Packet:
    """What to send: a ping, or a TCP connection (curl) to a port."""

    source: str
    destination: str  # an address of the lab
    port: int | None = None  # None: ping

    @property
    def command(self) -> str:
        return f"curl http://{self.destination}:{self.port}/" if self.port else \
            f"ping -c 1 {self.destination}"


def capture_filter(packet: Packet, topo: Topology) -> str:
    """tcpdump's filter: ICMP for a ping; for TCP the port and any port a DNAT rule for it
    leads to (after DNAT the packet carries the container's port)."""
    if packet.port is None:
        return "icmp"
    ports = {str(packet.port)} | {pm.to_port for pm in topo.port_mappings
                                 if pm.host_port == str(packet.port) and pm.to_port}
    # Only the handshake's SYN and SYN-ACK: enough to see the way there and back.
    return "(" + " or ".join(f"tcp port {p}" for p in sorted(ports, key=int)) + \
        ") and tcp[tcpflags] & tcp-syn != 0"


def watched_namespaces(packet: Packet, topo: Topology) -> list[str]:
    """Where tcpdump listens: the source, the lab host, the destination, and for a port the
    namespaces a DNAT rule for it can lead to."""
    names = [packet.source, topo.lab.name if topo.lab else "lab"]
    owner = topo.owner_of(packet.destination)
    if owner is not None:
        names.append(owner.namespace)
    if packet.port is not None:
        for pm in topo.port_mappings:
            t = topo.owner_of(pm.to_ip)
            if pm.host_port == str(packet.port) and t is not None:
                names.append(t.namespace)
    return [n for n in dict.fromkeys(names) if topo.namespace(n) is not None]


def traffic_script(packet: Packet, topo: Topology, wait: float = 2.0) -> str:
    """The shell script that sends one real packet (ping -c 1, or curl) from the source, with
    `tcpdump -i any` running in each watched namespace and the lab host's iptables counters
    read before and after. Its output is sections that `parse_traffic` reads."""
    watched = watched_namespaces(packet, topo)
    filt = capture_filter(packet, topo)
    lines = ["d=$(mktemp -d)", "pids="]
    for i, name in enumerate(watched):
        prefix = in_namespace(topo.namespace(name))
        lines.append(f"{prefix}tcpdump -nn -t -q -l -i any -c 20 {shlex.quote(filt)} "
                     f">$d/cap{i} 2>$d/err{i} & pids=\"$pids $!\"")
    # tcpdump says "listening on" once its capture runs: the ping must not come earlier.
    ready = " && ".join(f"grep -q listening $d/err{i}" for i in range(len(watched))) or "true"
    lines.append(f"for _ in $(seq 100); do {ready} && break; sleep 0.02; done")
    lines.append("iptables-save -c -t nat >$d/nat0; iptables-save -c -t filter >$d/filter0")
    sender = in_namespace(topo.namespace(packet.source))
    if packet.port is None:
        send = f"{sender}busybox ping -c 1 -W {int(wait)} {packet.destination}"
    else:
        send = (f"{sender}curl -s -m {int(wait)} -o /dev/null -w 'HTTP %{{http_code}}\\n' "
                f"http://{packet.destination}:{packet.port}/")
    lines.append(f"{send} >$d/send 2>&1; echo \"exit $?\" >>$d/send")
    lines.append("sleep 0.2")  # the reply's last copies reach the captures
    lines.append("iptables-save -c -t nat >$d/nat1; iptables-save -c -t filter >$d/filter1")
    lines.append("kill $pids 2>/dev/null; wait 2>/dev/null")
    lines.append(f"echo '{SECTION}send'; cat $d/send")
    for part in ("nat0", "filter0", "nat1", "filter1"):
        lines.append(f"echo '{SECTION}{part}'; cat $d/{part}")
    for i, name in enumerate(watched):
        lines.append(f"echo '{SECTION}capture {name}'; cat $d/cap{i}")
    lines.append("rm -rf \"$d\"")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Seen:
    """One line of tcpdump: a packet on an interface, with its direction (In, Out, or P:
    a bridge port forwarding a frame for another host)."""

    namespace: str
    interface: str
    direction: str
    text: str

    def __str__(self) -> str:
        return f"{self.namespace}:{self.interface} {self.direction:<3} {self.text}"


@dataclass(frozen=True)
class RuleHit:
    """An iptables rule whose packet counter moved while the packet ran."""

    table: str
    rule: str  # as iptables-save prints it, without the counters
    packets: int

    @property
    def target(self) -> str:
        return parse_rule(self.rule, self.table).target or ""

    def __str__(self) -> str:
        return f"{self.table}: {self.rule}  [+{self.packets}]"


@dataclass(frozen=True)
class Traffic:
    """What the script saw: the sender's output, the rules hit, the captured packets."""

    sent: str
    ok: bool
    hits: tuple[RuleHit, ...]
    seen: tuple[Seen, ...]


_TCPDUMP = re.compile(r"^(\S+)\s+(In|Out|P|M|B)\s+(.*)$")


def parse_counters(text: str) -> dict[tuple[str, int], int]:
    """{(rule, occurrence): packets} from `iptables-save -c` (pure). Chain policies
    (`:CHAIN ACCEPT [p:b]`, keyed "policy CHAIN ACCEPT") count too: they say a packet passed
    without matching a rule. Equal rule texts are told apart by their occurrence."""
    found: dict[tuple[str, int], int] = {}
    seen: dict[str, int] = {}
    for item in parse_save(text):
        if item.packets is None:
            continue
        key = f"policy {item.name} {item.policy}" if isinstance(item, Chain) else item.text
        n = seen.get(key, 0)
        seen[key] = n + 1
        found[(key, n)] = item.packets
    return found


def rule_hits(before: str, after: str, table: str) -> list[RuleHit]:
    """Rules (not policies) whose packet counters grew, in the order iptables lists them."""
    b, a = parse_counters(before), parse_counters(after)
    return [RuleHit(table, rule, a[(rule, n)] - b.get((rule, n), 0)) for rule, n in a
            if not rule.startswith("policy ") and a[(rule, n)] > b.get((rule, n), 0)]


def parse_traffic(text: str) -> Traffic:
    """Read `traffic_script`'s output (pure)."""
    parts: dict[str, str] = {}
    name = None
    for line in text.splitlines(keepends=True):
        if line.startswith(SECTION):
            name = line[len(SECTION):].strip()
            parts[name] = ""
        elif name is not None:
            parts[name] += line
    sent = parts.get("send", "")
    ok = sent.rstrip().endswith("exit 0")
    hits = rule_hits(parts.get("nat0", ""), parts.get("nat1", ""), "nat") + rule_hits(
        parts.get("filter0", ""), parts.get("filter1", ""), "filter")
    seen = []
    for key, body in parts.items():
        if not key.startswith("capture "):
            continue
        ns = key[len("capture "):]
        for line in body.splitlines():
            m = _TCPDUMP.match(line.strip())
            if m:
                seen.append(Seen(ns, m.group(1), m.group(2), m.group(3)))
    sent_text = "\n".join(x for x in sent.splitlines() if not x.startswith("exit "))
    return Traffic(sent_text, ok, tuple(hits), tuple(seen))


def nat_of(hits: tuple[RuleHit, ...]) -> tuple[list[PortMapping], list[Masquerade]]:
    """The port mappings and MASQUERADE rules among the hit nat rules (labkit.model.nat's model)."""
    rules = [parse_rule(h.rule) for h in hits if h.table == "nat"]
    return port_mappings(rules), masquerades(rules)


# --- the walk -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One line of the path: what happened where, the interfaces it crossed as
    (namespace, ifname) in order, and the question asked and the kernel's answer."""

    kind: str  # route, veth, bridge, deliver, nat, stop
    text: str
    crossed: tuple[tuple[str, str], ...] = ()
    asked: str = ""


@dataclass(frozen=True)
class Path:
    packet: Packet
    steps: tuple[Step, ...]
    delivered: bool
    traffic: Traffic | None = None
    warnings: tuple[str, ...] = field(default=())

    def nodes(self) -> tuple[tuple[str, str], ...]:
        """(namespace, interface) in the order the packet crossed them, for the drawing."""
        out: list[tuple[str, str]] = []
        for s in self.steps:
            for x in s.crossed:
                if not out or out[-1] != x:
                    out.append(x)
        return tuple(out)

    def text(self) -> str:
        """The path in words; the same lab and packet give the same text (no times)."""
        lines = [f"{self.packet.command} from {self.packet.source}: "
                 + ("delivered" if self.delivered else "not delivered")]
        for number, s in enumerate(self.steps, 1):
            lines.append(f"{number:>2}. {s.text}")
            if s.asked:
                lines.append(f"      kernel: {s.asked}")
        if self.traffic is not None:
            t = self.traffic
            lines.append(f"The real packet ({self.packet.command}): "
                         f"{'answered' if t.ok else 'no answer'}.")
            nat_hits = [h for h in t.hits if h.table == "nat"]
            if nat_hits:
                lines.append("nat rules it hit (iptables-save -c, lab host):")
                lines += [f"  {h.rule}  [+{h.packets}]" for h in nat_hits]
            else:
                lines.append("nat rules it hit: none (no nat counter moved).")
            if t.seen:
                lines.append("tcpdump -i any saw:")
                lines += [f"  {s}" for s in t.seen]
        lines += [f"! {w}" for w in self.warnings]
        return "\n".join(lines)


def _json(text: str) -> list | dict | None:
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return None


def _route_words(route: dict) -> str:
    parts = [route.get("type", ""), route.get("dst", "")]
    if route.get("gateway"):
        parts.append(f"via {route['gateway']}")
    if route.get("dev"):
        parts.append(f"dev {route['dev']}")
    if route.get("prefsrc"):
        parts.append(f"src {route['prefsrc']}")
    return " ".join(p for p in parts if p)


def _iface_matches(pattern: str, name: str) -> bool:
    """iptables' interface match: "docker0", "br+" (a prefix), "!docker0" (negated)."""
    neg = pattern.startswith("!")
    pat = pattern.lstrip("!")
    hit = name.startswith(pat[:-1]) if pat.endswith("+") else name == pat
    return hit != neg


class _Walk:
    """The walk's state; each method asks the kernel one kind of question."""

    def __init__(self, topo: Topology, packet: Packet, ask: Ask, traffic: Traffic | None):
        self.topo, self.packet, self.ask, self.traffic = topo, packet, ask, traffic
        self.hits = traffic.hits if traffic is not None else ()
        self.steps: list[Step] = []
        self.warnings: list[str] = []
        self.lab = topo.lab.name if topo.lab else "lab"

    def path(self, delivered: bool) -> Path:
        return Path(self.packet, tuple(self.steps), delivered, self.traffic,
                    tuple(self.warnings))

    def add(self, kind: str, text: str, crossed=(), asked: str = "") -> None:
        self.steps.append(Step(kind, text, tuple(crossed), asked))

    def run(self) -> Path:
        ns, iif = self.packet.source, None
        dst, port, src = self.packet.destination, self.packet.port, None
        dnat_done = False
        for _ in range(MAX_HOPS):
            here = self.topo.namespace(ns)
            if ns == self.lab and iif is not None and not dnat_done:
                pms = [pm for pm in nat_of(self.hits)[0]
                       if port is None or pm.host_port == str(port)]
                if pms and pms[0].to_ip != dst:
                    pm = pms[0]
                    dst, port = pm.to_ip, int(pm.to_port) if pm.to_port else port
                    self.add("nat", f"{ns}: DNAT ({pm}) rewrites the destination to {dst}"
                             + (f":{port}" if port else ""), [(ns, iif)])
                dnat_done = True
            cmd = f"ip -j route get {dst}" + (f" from {src} iif {iif}" if iif and src else "")
            answer = _json(self.ask(ns, cmd))
            route = answer[0] if isinstance(answer, list) and answer else None
            if route is None:
                self.add("stop", f"{ns}: no route to {dst}: the packet is dropped here",
                         [(ns, iif)] if iif else [], f"{cmd} → error")
                return self.path(False)
            src = src or route.get("prefsrc")
            asked = f"{cmd} → {_route_words(route)}"
            if route.get("type") == "local":
                at = next((i.name for i in here.interfaces
                           if any(a.address == dst for a in i.addresses)), iif or "lo")
                self.add("deliver", f"{ns}: {dst} is its own address (on {at}): delivered",
                         [(ns, x) for x in (iif, at) if x], asked)
                return self.path(True)
            oif, gateway = route.get("dev"), route.get("gateway")
            nexthop = gateway or dst
            self.add("route", f"{ns}: routes it out of {oif}"
                     + (f" to the gateway {gateway}" if gateway else f" ({dst} is on that link)"),
                     [(ns, x) for x in (iif, oif) if x], asked)
            if ns == self.lab:
                for mq in nat_of(self.hits)[1]:
                    if mq.out_iface is None or _iface_matches(mq.out_iface, oif):
                        self.add("nat", f"{ns}: {mq}: the source becomes {ns}'s own address "
                                 f"on {oif}", [(ns, oif)])
            arrived = self.cross(ns, oif, nexthop)
            if arrived is None:
                return self.path(False)
            ns, iif = arrived
        self.warnings.append(f"more than {MAX_HOPS} hops: a routing loop?")
        return self.path(False)

    def cross(self, ns: str, itf_name: str, nexthop: str) -> tuple[str, str] | None:
        """Follow the frame from `itf_name` over veth pairs and bridges to the namespace
        whose routing takes it next: (namespace, interface it came in on), or None."""
        for _ in range(MAX_HOPS):
            here = self.topo.namespace(ns)
            itf = here.interface(itf_name) if here else None
            if itf is None:
                self.warnings.append(f"{ns} has no interface {itf_name!r} in the topology")
                return None
            if itf.kind == "bridge":
                port, asked = self.bridge_port(ns, itf.name, nexthop)
                if port is None:
                    self.add("stop", f"{ns}: no port of {itf.name} leads to {nexthop}",
                             [(ns, itf.name)], asked)
                    return None
                self.add("bridge", f"{ns}: {itf.name} sends the frame to its port {port}",
                         [(ns, itf.name), (ns, port)], asked)
                itf_name = port
                continue
            if itf.kind != "veth" or itf.peer is None:
                self.add("stop", f"{ns}: {itf.name} leads out of the lab's namespaces; the "
                         "trace stops here", [(ns, itf.name)])
                return None
            peer = itf.peer
            self.add("veth", f"veth pair: {ns}:{itf.name} → {peer}",
                     [(ns, itf.name), (peer.namespace, peer.interface)])
            ns, itf_name = peer.namespace, peer.interface
            there = self.topo.namespace(ns)
            came = there.interface(itf_name) if there else None
            if came is None or not came.master:
                return ns, itf_name
            bridge = there.interface(came.master)
            if bridge is not None and any(a.address == nexthop for a in bridge.addresses):
                self.add("bridge", f"{ns}: {itf_name} is a port of {bridge.name}, and "
                         f"{nexthop} is {bridge.name}'s own address: up to {ns}'s routing",
                         [(ns, itf_name), (ns, bridge.name)])
                return ns, bridge.name
            port, asked = self.bridge_port(ns, came.master, nexthop)
            if port is None or port == itf_name:
                self.add("stop", f"{ns}: {came.master} has no other port leading to "
                         f"{nexthop}", [(ns, itf_name)], asked)
                return None
            self.add("bridge", f"{ns}: {came.master} switches the frame from {itf_name} to "
                     f"{port}", [(ns, itf_name), (ns, came.master), (ns, port)], asked)
            itf_name = port
        self.warnings.append(f"more than {MAX_HOPS} links: a bridging loop?")
        return None

    def bridge_port(self, ns: str, bridge: str, nexthop: str) -> tuple[str | None, str]:
        """The port of `bridge` that leads to `nexthop`: the bridge's forwarding database
        for the MAC of the interface holding `nexthop` (learned from the real packet)."""
        owner = self.topo.owner_of(nexthop)
        owner_ns = self.topo.namespace(owner.namespace) if owner else None
        owner_itf = owner_ns.interface(owner.interface) if owner_ns else None
        mac = owner_itf.mac if owner_itf else None
        if mac:
            cmd = f"bridge -j fdb get {mac} br {bridge}"
            got = _json(self.ask(ns, cmd))
            if isinstance(got, list) and got and got[0].get("ifname"):
                return got[0]["ifname"], f"{cmd} → dev {got[0]['ifname']}"
            self.warnings.append(f"{bridge} has not learned {mac} ({nexthop}): its port was "
                                 "taken from the topology")
        here = self.topo.namespace(ns)
        for itf in here.interfaces if here else ():
            if (itf.master == bridge and itf.peer is not None and owner is not None
                    and itf.peer.namespace == owner.namespace):
                return itf.name, ""
        return None, ""


def walk(topo: Topology, packet: Packet, ask: Ask, traffic: Traffic | None = None) -> Path:
    """Follow the packet from `packet.source` to its destination, one kernel answer at a
    time. `ask(ns, cmd)` runs a command in a namespace and returns its stdout. `traffic`
    (from `parse_traffic`) gives the NAT rules the real packet hit: a DNAT rewrites the
    destination in the lab host, as the kernel did; a MASQUERADE is named where it applied."""
    return _Walk(topo, packet, ask, traffic).run()
