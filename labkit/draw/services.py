"""Kubernetes Services in the drawing (issue 16): pure DOT text, from kube-proxy's rules.

A Service port (labkit.model.services) is drawn once, in the lab box, as what kube-proxy
made of it on the nodes: its virtual address (cluster IP, external IPs, NodePort), and a
dashed arrow to each endpoint's interface, labelled with the endpoint's share of the new
connections (1/3, from the rules' probabilities). A NodePort is also listed in the box of
each node whose kube-proxy opened it. With a diff, a Service kube-proxy added or rewrote,
and each arrow to a new endpoint, is highlighted; one it removed is drawn faded.

The Services are a column of their own at the right, beyond the pods (labkit.draw.dot
`_columns`): each arrow is laid out from the endpoint to the Service, drawn pointing back at
the endpoint, so the Services sit near the pods they lead to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from labkit.draw.style import ADDED, REMOVED, REMOVED_FILL, SERVICE
from labkit.model.services import Service
from labkit.model.topology import Topology


@dataclass(frozen=True)
class Drawn:
    """A Service port as drawn: its node id, its diff status ("", added, changed, removed),
    and what it was before the cell (None: no diff, or it is new)."""

    svc: Service
    id: str
    status: str
    was: Service | None = None

    @property
    def everywhere(self) -> bool:
        return "@" not in self.id


def service_id(svc: Service, everywhere: bool) -> str:
    """Stable: name and protocol, and the nodes when not all of them agree on it."""
    return f"svc:{svc.name}/{svc.protocol}" + ("" if everywhere else "@" + ",".join(svc.nodes))


def drawn(topo: Topology, before: Topology | None) -> list[Drawn]:
    """The Service ports to draw, now and (faded) removed, in a stable order."""
    def ids(t: Topology) -> dict[str, Service]:
        workers = tuple(sorted(n.name for n in t.nodes if "kube-proxy" in n.programs))
        return {service_id(s, s.nodes == workers): s for s in t.services}

    now = ids(topo)
    was = ids(before) if before is not None else now
    out = []
    for sid in sorted(now.keys() | was.keys()):
        if sid not in was:
            out.append(Drawn(now[sid], sid, "added"))
        elif sid not in now:
            out.append(Drawn(was[sid], sid, "removed"))
        else:
            out.append(Drawn(now[sid], sid, "" if now[sid] == was[sid] else "changed",
                             was[sid] if before is not None else None))
    return out


def label(svc: Service, everywhere: bool) -> str:
    """"svc test-svc" (its namespace under it if not default), its cluster IP, its port,
    external IPs, NodePort; "no endpoints" when kube-proxy rejects it; "only on kube-node-1"
    when the other kube-proxy has not written it so. Short lines: the box sets the width of
    the Services' column, the picture's last (one line as wide as "10.107.169.79:80/tcp"
    made lesson 12's picture 1070 pt wide, its text under 8 px in a notebook)."""
    name, _, port_name = svc.label.partition(":")
    namespace, _, name = name.rpartition("/")  # kube-system/kube-dns: two lines
    lines = [*_wrapped(f"svc {name}"), *([f"({namespace})"] if namespace else []),
             svc.cluster_ip or "(no cluster IP)"]
    if svc.port:
        lines.append(f"{svc.port}/{svc.protocol}" + (f" {port_name}" if port_name else ""))
    if svc.external_ips:
        lines += ["external IPs", *svc.external_ips]
    if svc.node_port:
        lines.append(f"NodePort {svc.node_port}")
    if not svc.backends:
        lines += ["no endpoints", "(REJECT)"]
    if not everywhere:
        lines += ["only on", *svc.nodes]
    return "\n".join(lines)


#: a little more than the box's widest line but for a long name ("NodePort 30454")
WIDTH = 15


def _wrapped(text: str) -> list[str]:
    """A long name broken after its hyphens ("svc default-", "http-backend"): lesson 14's
    default-http-backend on one line made the picture 1037 pt wide, its text 7.7 px."""
    lines = [""]
    for part in re.split(r"(?<=-)", text):
        if lines[-1] and len(lines[-1]) + len(part) > WIDTH:
            lines.append("")
        lines[-1] += part
    return lines


def nodes(items: list[Drawn], pad: str, q: Callable[[str], str]) -> list[str]:
    """The Service nodes, declared inside the lab box."""
    out = []
    for d in items:
        attrs = ""
        if d.status == "removed":
            attrs = (f', style="rounded,filled,dashed", color="{REMOVED}", '
                     f'fontcolor="{REMOVED}", fillcolor="{REMOVED_FILL}"')
        elif d.status:
            attrs = f', style="rounded,filled,bold", color="{ADDED}", penwidth=3'
        out.append(f"{pad}{q(d.id)} [shape=box, style=\"rounded,filled\", fontsize=8, "
                   f"margin=\"0.04,0.03\", fillcolor=\"{SERVICE['fill']}\", "
                   f"color=\"{SERVICE['line']}\", "
                   f"label={q(label(d.svc, d.everywhere))}{attrs}];")
    return out


def edges(items: list[Drawn], target: Callable[[str], str | None],
          q: Callable[[str], str]) -> list[str]:
    """An arrow from each Service to each endpoint's interface (`target`: the node id of
    the interface holding an address, or None when it is not drawn), its share as label;
    an endpoint kube-proxy added, or whose share it changed, highlighted."""
    out = []
    for d in items:
        old = {b.address: b for b in d.was.backends} if d.was is not None else None
        for b in d.svc.backends:
            to = target(b.address.rpartition(":")[0])
            if to is None:
                continue
            new = d.status == "added" or (old is not None and old.get(b.address) != b)
            color = REMOVED if d.status == "removed" else ADDED if new else SERVICE["line"]
            # Drawn from the endpoint, arrow back: the Services are the column right of
            # the pods, near the endpoints they lead to. The share as a tail label, by the
            # arrowhead: an edge's `label` took a column of its own (lesson 10's picture
            # 1026 pt wide instead of 992, its text under 8 px in a notebook).
            out.append(f"  {q(to)} -> {q(d.id)} [dir=back, style=dashed, "
                       f"color=\"{color}\", fontcolor=\"{color}\", taillabel={q(b.share)}, "
                       "labelfontsize=8, labeldistance=2.2, labelangle=20"
                       + (", penwidth=2.5" if new else "") + "];")
    return out


def node_port_lines(items: list[Drawn], node: str, html: Callable[[str], str]) -> str:
    """The NodePorts kube-proxy opened on `node`, as small lines for the node box's label."""
    out = []
    for d in items:
        svc = d.svc
        if not svc.node_port or node not in svc.nodes:
            continue
        text = html(f"NodePort {svc.node_port}/{svc.protocol} → svc {svc.label}")
        if d.status == "removed":
            text = f'<font color="{REMOVED}"><s>{text}</s></font>'
        elif d.status == "added" or (d.was is not None and (
                d.was.node_port, d.was.nodes) != (svc.node_port, svc.nodes)):
            text = f'<font color="{ADDED}"><b>{text}</b></font>'
        out.append(f'<br/><font point-size="8">{text}</font>')
    return "".join(out)
