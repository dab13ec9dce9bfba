"""What to emphasise on top of a drawing: the path of a traced packet."""

from __future__ import annotations

from dataclasses import dataclass

from labkit.model.nat import Masquerade, PortMapping
from labkit.model.trace import Path, nat_of


@dataclass(frozen=True)
class Highlight:
    """Interfaces as (namespace, ifname) in the order the packet crossed them (joined by
    numbered arrows), and the NAT rules it hit. Names that are not drawn are skipped."""

    interfaces: tuple[tuple[str, str], ...] = ()
    port_mappings: tuple[PortMapping, ...] = ()
    masquerades: tuple[Masquerade, ...] = ()


def highlight(path: Path) -> Highlight:
    """The Highlight that draws a traced packet's path on the topology."""
    pms, mqs = nat_of(path.traffic.hits) if path.traffic is not None else ([], [])
    return Highlight(interfaces=path.nodes(), port_mappings=tuple(pms), masquerades=tuple(mqs))
