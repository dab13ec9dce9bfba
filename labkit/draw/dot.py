"""Draw a Topology as Graphviz DOT text: pure, built in passes.

The drawing follows the course's pictures: the lab host is a large blue box; inside it each
namespace (container, `ip netns`, process-held) is an orange box; bridges are green boxes with
their addresses; interfaces (veth ends, eth0, ...) are yellow ellipses; a veth pair is a
double-headed edge between its two ends; bridge ports hang off their bridge (labelled with the
MACs the bridge learned there); a published port is an edge from the lab's port to the
container's interface. With a diff, what was added is highlighted and what was removed is
drawn faded.

`to_dot` first works out a `_Scene` (what is drawn, each interface's node id), then each pass
turns one part of it into DOT lines: the clusters with their interfaces and NAT nodes, the
edges, the warnings, the highlighted path, the legend.

Deterministic: the same topology (and diff, focus) gives byte-identical DOT, so the SVG from
one Graphviz version is byte-identical too. Node ids are built from stable names (namespace,
ifname, or, for docker's random vethXXXXXXX names, the end they are paired with).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from labkit.draw.highlight import Highlight
from labkit.draw.style import (
    ADDED,
    BRIDGE,
    FONT,
    IFACE,
    LAB,
    LEGEND,
    LEGEND_DIFF,
    MUTED,
    NOTE,
    NS,
    NS_KIND_WORDS,
    PORT,
    REMOVED,
    REMOVED_FILL,
    TRACE,
    VETH,
    WARN,
    WARN_FILL,
)
from labkit.errors import UsageError
from labkit.model.diff import Diff
from labkit.model.nat import Masquerade, PortMapping
from labkit.model.topology import Interface, Namespace, Topology, interface_order, is_hairpin

# Above this many namespaces, draw left to right: twenty containers side by side would be
# too wide for a notebook, stacked they stay readable.
WIDE_AFTER = 6

_DOCKER_VETH = re.compile(r"^veth[0-9a-f]{7}$")

#: a node id for each drawn interface, by (namespace, ifname)
Ids = dict[tuple[str, str], str]


def _q(s: str) -> str:
    """A DOT quoted string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _html(s: str) -> str:
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


@dataclass(frozen=True)
class _Item:
    """An interface to draw, with its diff status: "", "added", "changed" or "removed"."""

    ns: str
    itf: Interface
    status: str


@dataclass(frozen=True)
class _Scene:
    """What the passes draw: worked out once from the topology, diff and focus."""

    topology: Topology
    before: Topology | None
    namespaces: list[tuple[Namespace, str]]  # drawn, with their diff status
    items: dict[str, list[_Item]]  # interfaces drawn, by namespace name, in drawing order
    hidden: dict[str, int]  # veths left out of each namespace because of the focus
    ids: Ids
    focus: set[str] | None
    lab_name: str
    lab_drawn: bool  # the lab host's own namespace is drawn (not only its box)
    uplinks: set[tuple[str, str]]  # see Topology.uplinks

    def namespace(self, name: str) -> Namespace | None:
        return self.topology.namespace(name) or (
            self.before.namespace(name) if self.before else None)


def to_dot(topology: Topology, diff: Diff | None = None, focus: Iterable[str] | None = None,
           show_loopback: bool = False, legend: bool = True, title: str | None = None,
           highlight: Highlight | None = None) -> str:
    """The DOT source of the drawing.

    `focus`: names of namespaces to draw (container names, `ip netns` names, "lab"); ends
    of veth pairs outside the focus are drawn as small stubs. `diff`: highlight what it added
    or changed, and draw what it removed faded. `highlight`: a traced packet's path on top.
    """
    sc = _scene(topology, diff, focus, show_loopback)
    edges, stubs = _edges(sc)
    out = [*_header(sc, title), *_lab_cluster(sc), *_stub_nodes(stubs), *edges,
           *_warnings(sc)]
    if highlight is not None:
        out += _highlight(sc, highlight)
    if legend:
        out.append(_legend(diff is not None))
    out.append("}")
    return "\n".join(out) + "\n"


# --- the scene: what is drawn, and the node ids ---------------------------------------------

def _scene(topology: Topology, diff: Diff | None, focus: Iterable[str] | None,
           show_loopback: bool) -> _Scene:
    before = diff.before if diff is not None else None
    focus_set = _resolve_focus(topology, before, focus)
    namespaces = _drawn_namespaces(topology, before, focus_set)
    touched = diff.touched()[0] if diff is not None else set()
    items: dict[str, list[_Item]] = {}
    hidden: dict[str, int] = {}
    for ns, status in namespaces:
        everything = _ns_items(ns, status, before, touched)
        visible, hidden_veths = _visible(everything, show_loopback, focus_set)
        if focus_set is not None:
            hidden[ns.name] = hidden_veths
        if not visible:  # --network none: draw lo so the box is not empty
            visible = everything
        items[ns.name] = sorted(visible, key=lambda it: interface_order(it.itf))
    lab = topology.lab or (before.lab if before else None)
    lab_name = lab.name if lab else "lab"
    return _Scene(topology=topology, before=before, namespaces=namespaces, items=items,
                  hidden=hidden, ids=_node_ids(items), focus=focus_set, lab_name=lab_name,
                  lab_drawn=any(n.kind == "lab" for n, _ in namespaces),
                  uplinks=topology.uplinks() | (before.uplinks() if before else set()))


def _resolve_focus(topo: Topology, before: Topology | None,
                   focus: Iterable[str] | None) -> set[str] | None:
    """The names of the namespaces `focus` means (by any of their names)."""
    if focus is None:
        return None
    wanted = {focus} if isinstance(focus, str) else set(focus)
    known = list(topo.namespaces) + list(before.namespaces if before else ())
    names = {ns.name for ns in known if _aliases(ns) & wanted}
    missing = wanted - {a for ns in known if ns.name in names for a in _aliases(ns)}
    if missing:
        allowed = sorted({ns.name for ns in known})
        raise UsageError(f"unknown namespace(s) {sorted(missing)} in focus "
                         f"(must be among {allowed})")
    return names


def _aliases(ns: Namespace) -> set[str]:
    return {ns.name, ns.label, *ns.netns, *(c.name for c in ns.containers)}


def _drawn_namespaces(topology: Topology, before: Topology | None,
                      focus: set[str] | None) -> list[tuple[Namespace, str]]:
    """The current namespaces, then the ones the diff removed; only those in focus."""
    out = [(ns, "added" if before is not None and before.namespace(ns.name) is None else "")
           for ns in topology.namespaces]
    if before is not None:
        now = {ns.name for ns in topology.namespaces}
        out += [(ns, "removed") for ns in before.namespaces if ns.name not in now]
    return [(n, s) for n, s in out if focus is None or n.name in focus]


def _ns_items(ns: Namespace, ns_status: str, before: Topology | None,
              touched: set[tuple[str, str]]) -> list[_Item]:
    """Every interface of a namespace with its diff status, then the ones the diff removed."""
    prev = before.namespace(ns.name) if before is not None else None
    out = [_Item(ns.name, itf, _itf_status(ns_status, ns.name, itf, before, prev, touched))
           for itf in ns.interfaces]
    if before is not None and ns_status != "removed":
        names_now = {i.name for i in ns.interfaces}
        out += [_Item(ns.name, itf, "removed") for itf in (prev.interfaces if prev else ())
                if itf.name not in names_now]
    return out


def _itf_status(ns_status: str, ns_name: str, itf: Interface, before: Topology | None,
                prev: Namespace | None, touched: set[tuple[str, str]]) -> str:
    if ns_status in ("removed", "added"):
        return ns_status
    if before is not None and (ns_name, itf.name) in touched:
        return "added" if prev is None or prev.interface(itf.name) is None else "changed"
    return ""


def _visible(items: list[_Item], show_loopback: bool,
             focus: set[str] | None) -> tuple[list[_Item], int]:
    """The items worth drawing, and how many veths the focus left out."""
    visible = [it for it in items if show_loopback or it.itf.kind != "loopback"]
    if focus is None:
        return visible, 0
    # Veths into namespaces left out of the focus would only add clutter.
    kept = [it for it in visible if it.itf.kind != "veth" or it.itf.peer is None
            or it.itf.peer.namespace in focus]
    return kept, len(visible) - len(kept)


def _node_ids(items: dict[str, list[_Item]]) -> Ids:
    """Current interfaces first, so they keep the stable ids; a removed one whose stable id
    is taken (docker made a new vethXXXXXXX for the same container) uses its own name."""
    ids: Ids = {}
    used: set[str] = set()
    for removed in (False, True):
        for ns_name, lst in items.items():
            for it in lst:
                if (it.status == "removed") != removed:
                    continue
                nid = _itf_key(ns_name, it.itf)
                if nid in used:
                    nid = f"if:{ns_name}:{it.itf.name}:removed"
                used.add(nid)
                ids[(ns_name, it.itf.name)] = nid
    return ids


def _ns_id(name: str) -> str:
    return "ns:" + name


def _itf_key(ns: str, itf: Interface) -> str:
    """A node id that survives docker's random veth names and br-<id> bridge names."""
    if itf.kind == "veth" and itf.peer is not None and _DOCKER_VETH.match(itf.name):
        return f"if:{ns}:veth-to:{itf.peer.namespace}:{itf.peer.interface}"
    if itf.kind == "bridge" and itf.alias:
        return f"if:{ns}:net:{itf.alias}"
    return f"if:{ns}:{itf.name}"


def _port_id(pm: PortMapping) -> str:
    return f"port:{pm.protocol}:{pm.host_ip or ''}:{pm.host_port}:{pm.to_ip}:{pm.to_port}"


def _masq_id(m: Masquerade) -> str:
    return "masq:" + str(m)


# --- pass: the graph's defaults -------------------------------------------------------------

def _header(sc: _Scene, title: str | None) -> list[str]:
    n_inner = sum(1 for n, _ in sc.namespaces if n.kind != "lab")
    rankdir = "LR" if n_inner > WIDE_AFTER else "TB"
    return [
        "digraph labkit {",
        f'  graph [rankdir={rankdir}, fontname="{FONT}", fontsize=11, compound=true, '
        'nodesep=0.25, ranksep=0.5, newrank=true, outputorder=edgesfirst'
        + (f", label={_q(title)}, labelloc=t" if title else "") + "];",
        f'  node [fontname="{FONT}", fontsize=10, style=filled, penwidth=1.2];',
        f'  edge [fontname="{FONT}", fontsize=8, penwidth=1.2];',
    ]


# --- pass: clusters (the lab box, namespaces) with their interfaces and NAT nodes -----------

def _lab_cluster(sc: _Scene) -> list[str]:
    """The lab box: always drawn (everything lives inside it), its interfaces only in focus."""
    lab_status = next((s for n, s in sc.namespaces if n.kind == "lab"), "")
    out = [f"  subgraph {_q('cluster_' + _ns_id(sc.lab_name))} {{",
           f"    label=<<b>{_html(sc.lab_name)}</b> <font point-size=\"9\">(lab host)</font>>;",
           f'    style="rounded,filled"; fillcolor="{LAB["fill"]}"; '
           f'color="{_status_color(lab_status, LAB["line"])}"; penwidth=2.5; fontsize=13;']
    if sc.lab_drawn:
        out += _itf_nodes(sc.items.get(sc.lab_name, []), sc.ids, "    ", sc.uplinks)
        n_hidden = sc.hidden.get(sc.lab_name)
        if n_hidden:
            out.append(f'    "hidden:{_html(sc.lab_name)}" [shape=plaintext, style="", '
                       f'fontsize=8, fontcolor="{MUTED}", label="+{n_hidden} veth(s) to '
                       'namespaces not in focus"];')
        out += _nat_nodes(sc.topology, sc.before, "    ")
    for ns, status in sc.namespaces:
        if ns.kind != "lab":
            out += _ns_cluster(ns, status, sc.items.get(ns.name, []), sc.ids, "    ")
    out.append("  }")
    return out


def _ns_cluster(ns: Namespace, status: str, items: list[_Item], ids: Ids,
                pad: str) -> list[str]:
    kind = NS_KIND_WORDS.get(ns.kind, ns.kind)
    extra = [c.name for c in ns.containers if c.name != ns.name]
    extra += [f"netns {n}" for n in ns.netns if n != ns.name]
    sub = kind + ("; also " + ", ".join(extra) if extra else "")
    out = [f"{pad}subgraph {_q('cluster_' + _ns_id(ns.name))} {{",
           f"{pad}  label=<<b>{_html(ns.label)}</b><br/><font point-size=\"8\">"
           f"{_html(sub)}</font>>;"]
    if status == "removed":
        out.append(f'{pad}  style="rounded,dashed"; color="{REMOVED}"; fontcolor="{REMOVED}";')
    elif status == "added":
        out.append(f'{pad}  style="rounded,filled,bold"; fillcolor="{NS["fill"]}"; '
                   f'color="{ADDED}"; penwidth=3;')
    else:
        out.append(f'{pad}  style="rounded,filled"; fillcolor="{NS["fill"]}"; '
                   f'color="{NS["line"]}";')
    out += _itf_nodes(items, ids, pad + "  ")
    out.append(f"{pad}}}")
    return out


def _status_color(status: str, normal: str) -> str:
    return {"added": ADDED, "changed": ADDED, "removed": REMOVED}.get(status, normal)


def _status_attrs(status: str, base: str) -> str:
    """Node attributes for a diff status ("" when unchanged), after a comma."""
    if status == "removed":
        return (f', style="{base}dashed", color="{REMOVED}", fontcolor="{REMOVED}", '
                f'fillcolor="{REMOVED_FILL}"')
    if status in ("added", "changed"):
        return f', style="{base}bold", color="{ADDED}", penwidth=3'
    return ""


def _itf_nodes(items: list[_Item], ids: Ids, pad: str,
               uplinks: set[tuple[str, str]] = frozenset()) -> list[str]:
    out = []
    for it in items:
        itf = it.itf
        if itf.kind == "bridge":
            shape, col, base = "box", BRIDGE, "filled,rounded,"
        else:
            shape, col, base = "ellipse", IFACE, "filled,"
        extra = _status_attrs(it.status, base)
        if not extra and (not itf.up or itf.state == "DOWN"):
            extra = f', style="{base}dashed"'
        out.append(f"{pad}{_q(ids[(it.ns, itf.name)])} [shape={shape}, "
                   f'fillcolor="{col["fill"]}", color="{col["line"]}", '
                   f"label={_itf_label(itf, (it.ns, itf.name) in uplinks)}{extra}];")
    return out


def _itf_label(itf: Interface, uplink: bool = False) -> str:
    title = _html(itf.name)
    if uplink:  # its address depends on where the lab runs: see Topology.uplinks
        return f"<{title}<br/><font point-size=\"8\">uplink</font>>"
    if itf.kind == "bridge" and itf.alias and itf.alias not in (itf.name, "bridge"):
        title = f"{_html(itf.name)} <font point-size=\"8\">({_html(itf.alias)})</font>"
    lines = [str(a) for a in itf.addresses if a.scope != "link"]
    if itf.kind not in ("veth", "bridge", "device", "loopback"):
        lines.insert(0, itf.kind + "".join(f" {k} {v}" for k, v in itf.info if k == "id"))
    if itf.mac and itf.kind != "loopback":
        lines.append(itf.mac)
    if not itf.up or itf.state == "DOWN":
        lines.append("DOWN" if not itf.up else "no carrier")
    small = "<br/>".join(_html(x) for x in lines)
    return f"<{title}<br/><font point-size=\"8\">{small}</font>>" if small else f"<{title}>"


def _nat_nodes(topo: Topology, before: Topology | None, pad: str) -> list[str]:
    """Published ports and MASQUERADE rules: nodes inside the lab box."""
    out = []
    for pm, status in _port_mappings(topo, before):
        label = f"{pm.protocol} :{pm.host_port}" if not pm.host_ip else \
            f"{pm.protocol} {pm.host_ip}:{pm.host_port}"
        out.append(f"{pad}{_q(_port_id(pm))} [shape=cds, fillcolor=\"{PORT['fill']}\", "
                   f"color=\"{PORT['line']}\", label={_q(label)}"
                   f"{_status_attrs(status, 'filled,')}];")
    for m, status in _masquerades(topo, before):
        out.append(f"{pad}{_q(_masq_id(m))} [shape=note, fillcolor=\"#ffffff\", "
                   f"color=\"{NOTE}\", fontsize=8, label={_q(_masq_label(m))}"
                   f"{_status_attrs(status, 'filled,')}];")
    return out


def _masq_label(m: Masquerade) -> str:
    return str(m).replace(" from ", "\nfrom ").replace(" out ", "\nout ")


def _port_mappings(topo: Topology,
                   before: Topology | None) -> list[tuple[PortMapping, str]]:
    """(mapping, status) for the mappings that lead into another namespace (see
    `Topology.published`), marked added or removed against `before`."""
    now = [pm for pm, _ in topo.published()]
    was = [pm for pm, _ in before.published()] if before is not None else now
    cands = [(pm, "" if pm in was else "added") for pm in now]
    cands += [(pm, "removed") for pm in was if pm not in now]
    return sorted(cands, key=lambda x: (_port_id(x[0]), x[1]))


def _masquerades(topo: Topology, before: Topology | None) -> list[tuple[Masquerade, str]]:
    """MASQUERADE rules to draw, with diff status; docker's per-port hairpin rules are part
    of the published port and are not drawn on their own."""
    now = set(topo.masquerades)
    out = [(m, "" if before is None or m in set(before.masquerades) else "added")
           for m in topo.masquerades]
    if before is not None:
        out += [(m, "removed") for m in before.masquerades if m not in now]
    return sorted(((m, st) for m, st in out if not is_hairpin(m)),
                  key=lambda x: (str(x[0]), x[1]))


# --- pass: links (bridge ports, veth pairs, lower devices, NAT) -----------------------------

def _edges(sc: _Scene) -> tuple[list[str], dict[str, str]]:
    """The edges, and the stubs they lead to (node id -> label)."""
    edges: list[str] = []
    stubs: dict[str, str] = {}
    done_pairs: set[frozenset[tuple[str, str]]] = set()
    for ns_name, items in sc.items.items():
        ns = sc.namespace(ns_name)
        learned: dict[str, list[str]] = {}
        for f in ns.fdb if ns else ():
            learned.setdefault(f.port, []).append(f.mac)
        for it in items:
            edges += _itf_edges(sc, it, learned, done_pairs, stubs)
    if sc.lab_name in {n.name for n, _ in sc.namespaces}:
        edges += _nat_edges(sc, stubs)
    return edges, stubs


def _itf_edges(sc: _Scene, it: _Item, learned: dict[str, list[str]],
               done_pairs: set[frozenset[tuple[str, str]]], stubs: dict[str, str]) -> list[str]:
    itf = it.itf
    me = sc.ids[(it.ns, itf.name)]
    faded, hot = it.status == "removed", it.status == "added"
    out = []
    # Bridge port: the bridge above its port.
    if itf.master and (it.ns, itf.master) in sc.ids:
        macs = sorted(learned.get(itf.name, []))
        lab = f", label={_q(chr(10).join(macs))}, fontcolor=\"{BRIDGE['line']}\"" if macs else ""
        out.append(f"  {_q(sc.ids[(it.ns, itf.master)])} -> {_q(me)} "
                   f"[dir=none, color=\"{_edge_color(faded, hot, BRIDGE['line'])}\""
                   f"{_edge_style(faded, hot)}{lab}];")
    if itf.kind == "veth":
        veth = _veth_edge(sc, it, me, done_pairs, stubs)
        if veth is None:  # the pair was drawn from its other end
            return out
        out.append(veth)
    if itf.lower is not None and (itf.lower.namespace, itf.lower.interface) in sc.ids:
        out.append(f"  {_q(sc.ids[(itf.lower.namespace, itf.lower.interface)])} -> "
                   f"{_q(me)} [style=dotted, arrowhead=none, label=\"lower\"];")
    return out


def _veth_edge(sc: _Scene, it: _Item, me: str, done_pairs: set[frozenset[tuple[str, str]]],
               stubs: dict[str, str]) -> str | None:
    """One double-headed edge per veth pair (None for the second end); a veth whose peer is
    out of reach leads to a stub: the outside for the lab's uplink, else "peer not found"."""
    itf = it.itf
    if itf.peer is None and (it.ns, itf.name) in sc.uplinks:
        stubs["stub:outside"] = "outside the lab\n(the machine's network)"
        return (f"  {_q(me)} -> {_q('stub:outside')} [dir=both, arrowsize=0.6, "
                f"style=dotted, color=\"{NOTE}\"];")
    if itf.peer is None:
        stub = f"stub:lost:{it.ns}:{itf.name}"
        stubs[stub] = "peer not found"
        return (f"  {_q(me)} -> {_q(stub)} [dir=both, arrowsize=0.6, "
                f"style=dashed, color=\"{WARN}\"];")
    pair = frozenset({(it.ns, itf.name), (itf.peer.namespace, itf.peer.interface)})
    if pair in done_pairs:
        return None
    done_pairs.add(pair)
    other = sc.ids.get((itf.peer.namespace, itf.peer.interface))
    if other is None:
        other = "stub:" + str(itf.peer)
        stubs[other] = f"↔ {itf.peer}"
    faded, hot = it.status == "removed", it.status == "added"
    return (f"  {_q(me)} -> {_q(other)} [dir=both, arrowsize=0.6, "
            f"color=\"{_edge_color(faded, hot, VETH)}\"{_edge_style(faded, hot)}];")


def _nat_edges(sc: _Scene, stubs: dict[str, str]) -> list[str]:
    """Published ports: the lab's port to the container's interface; MASQUERADE rules: from
    the bridge whose network they cover."""
    out = []
    for pm, status in _port_mappings(sc.topology, sc.before):
        t = sc.topology.owner_of(pm.to_ip) or (
            sc.before.owner_of(pm.to_ip) if sc.before else None)
        target = sc.ids.get((t.namespace, t.interface))
        if target is None:
            target = "stub:" + str(t)
            stubs[target] = f"→ {t}"
        faded, hot = status == "removed", status == "added"
        to_port = ":" + str(pm.to_port or pm.host_port)
        out.append(f"  {_q(_port_id(pm))} -> {_q(target)} [label={_q(to_port)}, "
                   f"color=\"{_edge_color(faded, hot, PORT['line'])}\", "
                   f"fontcolor=\"{PORT['line']}\"{_edge_style(faded, hot, bold=True)}];")
    lab_items = {it.itf.name: it for it in sc.items.get(sc.lab_name, [])}
    for m, _status in _masquerades(sc.topology, sc.before):
        br = _bridge_for(m.source, lab_items)
        if br is not None:
            out.append(f"  {_q(sc.ids[(sc.lab_name, br)])} -> {_q(_masq_id(m))} "
                       f"[dir=none, style=dashed, color=\"{NOTE}\"];")
    return out


def _bridge_for(source: str | None, lab_items: dict[str, _Item]) -> str | None:
    """The lab's interface whose address lies in a MASQUERADE rule's source network."""
    if not source or source.startswith("!"):
        return None
    try:
        net = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return None
    for name, it in sorted(lab_items.items()):
        for a in it.itf.addresses:
            try:
                if ipaddress.ip_address(a.address) in net:
                    return name
            except ValueError:
                continue
    return None


def _edge_color(faded: bool, hot: bool, normal: str) -> str:
    return REMOVED if faded else ADDED if hot else normal


def _edge_style(faded: bool, hot: bool, bold: bool = False) -> str:
    if faded:
        return ", style=dashed"
    if hot:
        return ", penwidth=2.5"
    return ", penwidth=1.8" if bold else ""


def _stub_nodes(stubs: dict[str, str]) -> list[str]:
    return [f"  {_q(sid)} [shape=plaintext, style=\"\", fontcolor=\"{MUTED}\", "
            f"fontsize=9, label={_q(label)}];" for sid, label in sorted(stubs.items())]


# --- pass: warnings, highlight, legend ------------------------------------------------------

def _warnings(sc: _Scene) -> list[str]:
    warns = [x for x in sc.topology.warnings if x.level == "warning"
             and (sc.focus is None or x.namespace is None or x.namespace in sc.focus)]
    if not warns:
        return []
    text = "".join(f"{_html(str(x))}<br align=\"left\"/>" for x in warns)
    return [f"  \"warnings\" [shape=note, fillcolor=\"{WARN_FILL}\", color=\"{WARN}\", "
            f"fontcolor=\"{WARN}\", label=<{text}>];"]


def _highlight(sc: _Scene, hl: Highlight) -> list[str]:
    """Emphasise a path: a later DOT statement for a node only adds attributes (the node
    stays in its cluster), so the picture underneath is the same one, with the path on top."""
    path = [sc.ids[x] for x in hl.interfaces if x in sc.ids]
    out = [f'  {_q(nid)} [color="{TRACE}", penwidth=3.5];' for nid in dict.fromkeys(path)]
    hops = [(a, b) for a, b in zip(path, path[1:], strict=False) if a != b]
    out += [f'  {_q(a)} -> {_q(b)} [color="{TRACE}", fontcolor="{TRACE}", penwidth=2.5, '
            f'arrowsize=0.8, label="{number}"];' for number, (a, b) in enumerate(hops, 1)]
    if not sc.lab_drawn:  # the lab host is not drawn (focus): neither are its NAT rules
        return out
    drawn_ports = {pm for pm, _ in _port_mappings(sc.topology, None)}
    out += [f'  {_q(_port_id(pm))} [color="{TRACE}", penwidth=3.5];'
            for pm in hl.port_mappings if pm in drawn_ports]
    out += [f'  {_q(_masq_id(m))} [color="{TRACE}", penwidth=3.5];'
            for m in hl.masquerades if m in sc.topology.masquerades and not is_hairpin(m)]
    return out


def _legend(with_diff: bool) -> str:
    cells = [f"<td bgcolor=\"{fill}\" color=\"{line}\" border=\"1\" >"
             f"<font point-size=\"8\">{text}</font></td>"
             for text, fill, line in LEGEND + (LEGEND_DIFF if with_diff else ())]
    return ("  \"legend\" [shape=plaintext, style=\"\", label=<<table border=\"0\" "
            "cellspacing=\"2\" cellpadding=\"3\"><tr>" + "".join(cells) + "</tr></table>>];")
