"""The packet tracer: one real packet from a source to a destination, its path in words and
drawn on the lab's topology (labkit.model.trace is the pure part; this is its edge)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as W

from labkit.draw.diagram import Diagram
from labkit.draw.highlight import highlight
from labkit.lab import Lab
from labkit.model import trace as _trace
from labkit.model.diff import steady
from labkit.notebook.widgets.common import _lab, _pre, _Readable, _svg_only

if TYPE_CHECKING:
    from labkit.model.topology import Topology


class TraceResult:
    """A traced packet: its path in words, drawn over the lab's topology."""

    def __init__(self, topology: Topology, path: _trace.Path) -> None:
        self.topology = topology
        self.path = path
        self.diagram = Diagram(steady(topology), highlight=highlight(path), legend=False)

    def text(self) -> str:
        return self.path.text()

    def svg(self) -> str:
        return self.diagram.svg()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"image/svg+xml": self.svg(), "text/plain": self.text()}

    def __repr__(self) -> str:
        return self.text()


def _asker(lab: Lab, topo: Topology) -> _trace.Ask:
    def ask(ns: str, command: str) -> str:
        found = topo.namespace(ns)
        if found is None:
            return ""
        return lab.run(_trace.in_namespace(found) + command, timeout=20).stdout
    return ask


def trace_packet(source: str, destination: str, port: int | None = None,
                 lab: Lab | None = None) -> TraceResult:
    """Send one real packet (ping, or curl to `port`) from `source` (a namespace: "lab", a
    container, an `ip netns` name) to `destination` (an address of the lab, or a namespace)
    and show its path, built from the kernel's answers (see labkit.model.trace)."""
    lab = _lab(lab)
    topo = lab.snapshot()
    target = _trace.check_target(topo, source, destination)
    packet = _trace.Packet(source, target.address, port)
    done = lab.run(_trace.traffic_script(packet, topo), timeout=30)
    traffic = _trace.parse_traffic(done.stdout)
    return TraceResult(topo, _trace.walk(topo, packet, _asker(lab, topo), traffic))


def _services(topo: Topology) -> list[tuple[str, int | None]]:
    """What can be sent: a ping, or a connection to each published TCP port."""
    out: list[tuple[str, int | None]] = [("ping -c 1", None)]
    for pm, owner in topo.published():
        if pm.protocol == "tcp" and pm.host_port.isdigit():
            out.append((f"curl :{pm.host_port} (published → {owner.namespace} "
                        f"{pm.to_ip}:{pm.to_port or pm.host_port})", int(pm.host_port)))
    return list(dict.fromkeys(out))


class PacketTracer(_Readable, W.VBox):
    """Pick a source and a destination, press Trace: a real packet goes, and its path is
    drawn on the topology with the NAT rules it hit."""

    def __init__(self, lab: Lab | None = None) -> None:
        self.lab = _lab(lab)
        self.source = W.Dropdown(description="from")
        self.destination = W.Dropdown(description="to")
        self.what = W.Dropdown(description="send")
        self.trace_button = W.Button(description="Trace", icon="search",
                                     button_style="primary")
        self.refresh_button = W.Button(description="Refresh", icon="refresh",
                                       tooltip="read the lab's network again")
        self.result = W.HTML()
        self.result.add_class("labkit-trace-text")
        self.picture = W.HTML()
        self.picture.add_class("labkit-trace-picture")
        self.trace_button.on_click(self._guard(self.result, self.run))
        self.refresh_button.on_click(self._guard(self.result, self.refresh))
        super().__init__([W.HBox([self.source, self.destination, self.what]),
                          W.HBox([self.trace_button, self.refresh_button]),
                          self.result, self.picture])
        self.add_class("labkit-tracer")
        self.refresh()

    def refresh(self) -> None:
        self.topology = self.lab.snapshot()
        self.places = _trace.places(self.topology)
        self.source.options = _trace.sources(self.topology)
        self.destination.options = [(p.label, p.address) for p in self.places]
        self.what.options = _services(self.topology)

    def run(self) -> TraceResult:
        self.trace_button.disabled = True
        self.result.value = _pre("sending one packet and asking the kernel …")
        try:
            got = trace_packet(self.source.value, self.destination.value, self.what.value,
                               lab=self.lab)
        finally:
            self.trace_button.disabled = False
        self.result.value = _pre(got.text())
        self.picture.value = _svg_only(got.svg())
        return got

    def text(self) -> str:
        return ("Trace a packet (interactive when the notebook runs): from one of "
                f"{', '.join(_trace.sources(self.topology))} to one of "
                f"{', '.join(p.label for p in self.places)}.")


def packet_tracer(lab: Lab | None = None) -> PacketTracer:
    return PacketTracer(lab)
