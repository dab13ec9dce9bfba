"""Kubernetes Services as kube-proxy wrote them into a node's iptables: pure, no I/O.

kube-proxy (iptables mode, v1.20) turns each port of each Service into rules of the node's
nat table, named by the port's "servicePortName" in their comments ("default/test-svc", or
"default/np-svc:http" for a named port):

- KUBE-SERVICES: `-d CLUSTER-IP --dport PORT -j KUBE-SVC-...` ("... cluster IP"), the same
  for each external IP ("... external IP"), and last the jump to KUBE-NODEPORTS;
- KUBE-NODEPORTS: `--dport NODEPORT -j KUBE-SVC-...`;
- KUBE-SVC-...: one jump per endpoint to its KUBE-SEP-..., `-m statistic --probability P`
  on all but the last (1/n, 1/(n-1), ...: each endpoint gets 1/n of the connections);
- KUBE-SEP-...: `-j DNAT --to-destination POD-IP:PORT`.

A Service port with no endpoint has no KUBE-SVC chain: its address is REJECTed in the filter
table instead ("... has no endpoints"). The picture is read from these rules only, never
from the objects the learner wrote: what a node's kernel holds is what its packets meet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache

from labkit.model.nat import Rule, parse_save

__all__ = ["Backend", "Service", "merge", "node_services", "services_from_save"]

# kube-proxy's comments on KUBE-SERVICES' rules (proxier.go): "NS/NAME[:PORT] WHAT"
_WHAT = re.compile(r"^(\S+) (cluster IP|external IP|has no endpoints)$")


@dataclass(frozen=True)
class Backend:
    """One endpoint behind a Service port: where KUBE-SEP-...'s DNAT sends a connection."""

    address: str  # "10.244.2.2:80"
    probability: str | None  # the rule's --probability as written; None: the last, the rest
    share: str  # of all new connections, worked out from the probabilities: "1/3"

    def __str__(self) -> str:
        return f"{self.address} {self.share}"


@dataclass(frozen=True)
class Service:
    """One port of a Service as kube-proxy wrote it, and on which nodes it wrote exactly so."""

    name: str  # servicePortName: "default/test-svc", "default/np-svc:http"
    protocol: str  # tcp, udp, sctp
    cluster_ip: str | None
    port: str | None
    backends: tuple[Backend, ...] = ()
    external_ips: tuple[str, ...] = ()
    node_port: str | None = None
    chain: str | None = None  # KUBE-SVC-...; None when it has no endpoints
    nodes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """What kubectl calls it: "test-svc" in the default namespace, "np-svc:http"."""
        return self.name.removeprefix("default/")

    @property
    def address(self) -> str:
        return f"{self.cluster_ip}:{self.port}/{self.protocol}"

    def __str__(self) -> str:
        s = f"service {self.label} {self.address}"
        if self.external_ips:
            s += " external " + ", ".join(self.external_ips)
        if self.node_port:
            s += f" NodePort {self.node_port}"
        s += (" → " + ", ".join(map(str, self.backends)) if self.backends
              else " → no endpoints (REJECT)")
        return s + (f" (on {', '.join(self.nodes)})" if self.nodes else "")


@lru_cache(maxsize=8)
def services_from_save(text: str) -> tuple[Service, ...]:
    """The Service ports in one node's `iptables-save` text (its nat and filter tables).

    Kept for the last few texts: the probe builds the snapshot after every cell, and a node's
    rules seldom change between cells (parsing both workers' was 12 of from_raw's 14.6 ms
    with 10 Services)."""
    rules = [r for r in parse_save(text) if isinstance(r, Rule)]
    nat = [r for r in rules if r.table == "nat"]
    rejects = [r for r in rules if r.table == "filter" and r.target == "REJECT"]
    return tuple(node_services(nat, rejects))


def node_services(nat: list[Rule], rejects: list[Rule] = ()) -> list[Service]:
    """The Service ports kube-proxy wrote: from the nat rules (those with endpoints) and the
    filter table's REJECT rules (those without), sorted by name and protocol."""
    chains: dict[str, list[Rule]] = {}
    for r in nat:
        chains.setdefault(r.chain, []).append(r)
    found: dict[tuple[str, str], Service] = {}

    def entry(name: str, proto: str) -> Service:
        return found.setdefault((name, proto), Service(name, proto, None, None))

    for r in chains.get("KUBE-SERVICES", []):
        what = _WHAT.match(r.match("--comment") or "")
        if what is None or not (r.target or "").startswith("KUBE-SVC-"):
            continue
        s = entry(what[1], r.match("-p") or "tcp")
        ip = _host(r.match("-d"))
        if what[2] == "cluster IP":
            s = replace(s, cluster_ip=ip, port=r.match("--dport"), chain=r.target)
        elif ip not in s.external_ips:
            s = replace(s, external_ips=(*s.external_ips, ip))
        found[(s.name, s.protocol)] = s
    for r in chains.get("KUBE-NODEPORTS", []):
        name = r.match("--comment")
        if name and (r.target or "").startswith("KUBE-SVC-"):
            s = entry(name, r.match("-p") or "tcp")
            found[(s.name, s.protocol)] = replace(s, node_port=r.match("--dport"),
                                                  chain=s.chain or r.target)
    for key, s in found.items():
        found[key] = replace(s, backends=_backends(chains, s.chain))
    for r in rejects:
        what = _WHAT.match(r.match("--comment") or "")
        if what is None or what[2] != "has no endpoints":
            continue
        s = entry(what[1], r.match("-p") or "tcp")
        if r.chain == "KUBE-SERVICES":
            s = replace(s, cluster_ip=_host(r.match("-d")), port=r.match("--dport"))
        elif r.match("-d") and _host(r.match("-d")) not in s.external_ips:
            s = replace(s, external_ips=(*s.external_ips, _host(r.match("-d"))))
        elif r.match("--dst-type") == "LOCAL":  # KUBE-EXTERNAL-SERVICES: its NodePort
            s = replace(s, node_port=r.match("--dport"))
        found[(s.name, s.protocol)] = s
    return sorted(found.values(), key=lambda s: (s.name, s.protocol))


def _backends(chains: dict[str, list[Rule]], chain: str | None) -> tuple[Backend, ...]:
    """A KUBE-SVC chain's jumps, each to the DNAT of its KUBE-SEP chain, with its share: the
    rule's probability of what the rules before it left (the last one takes the rest)."""
    out = []
    left = Fraction(1)
    for r in chains.get(chain or "", []):
        if not (r.target or "").startswith("KUBE-SEP-"):
            continue
        dnat = next((x for x in chains.get(r.target, []) if x.target == "DNAT"), None)
        if dnat is None:
            continue
        p = r.match("--probability")
        taken = left * Fraction(p).limit_denominator(1000) if p else left
        left -= taken
        out.append(Backend(dnat.target_arg("--to-destination") or "?", p, _fraction(taken)))
    return tuple(out)


def _fraction(f: Fraction) -> str:
    f = f.limit_denominator(100)
    return "all" if f == 1 else f"{f.numerator}/{f.denominator}"


def _host(addr: str | None) -> str | None:
    return addr.removesuffix("/32") if addr else addr


def merge(per_node: dict[str, Sequence[Service]]) -> tuple[Service, ...]:
    """One entry per Service port that the nodes' kube-proxies wrote alike, naming the nodes;
    a node that differs (its kube-proxy not caught up yet) gets an entry of its own."""
    nodes: dict[Service, list[str]] = {}
    for node in sorted(per_node):
        for s in per_node[node]:
            nodes.setdefault(replace(s, nodes=()), []).append(node)
    return tuple(sorted((replace(s, nodes=tuple(n)) for s, n in nodes.items()),
                        key=lambda s: (s.name, s.protocol, s.nodes)))
