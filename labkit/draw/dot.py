"""Draw a Topology as Graphviz DOT text (pure), and turn DOT into SVG (one small function).

The drawing follows the course's pictures: the lab host is a large blue box; inside it each
namespace (container, `ip netns`, process-held) is an orange box; bridges are green boxes with
their addresses; interfaces (veth ends, eth0, ...) are yellow ellipses; a veth pair is a
double-headed edge between its two ends; bridge ports hang off their bridge (labelled with the
MACs the bridge learned there); a published port is an edge from the lab's port to the
container's interface. With a diff, what was added is highlighted and what was removed is
drawn faded.

Deterministic: the same topology (and diff, focus) gives byte-identical DOT, so the SVG from
one Graphviz version is byte-identical too. Node ids are built from stable names (namespace,
ifname, or, for docker's random vethXXXXXXX names, the end they are paired with).
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from labkit.errors import UsageError
from labkit.model.topology import Diff, Interface, Namespace, Topology, interface_order, is_hairpin

# Colours: one place, so the legend and the drawing cannot disagree.
LAB = {"fill": "#e7f0fb", "line": "#2b6cb0"}
NS = {"fill": "#fde8d4", "line": "#dd6b20"}
BRIDGE = {"fill": "#c9efd3", "line": "#2f855a"}
IFACE = {"fill": "#fff4b3", "line": "#b7950b"}
PORT = {"fill": "#e9d8fd", "line": "#6b46c1"}
ADDED = "#d5006d"
REMOVED = "#a0a0a0"
WARN = "#c53030"
TRACE = "#1c7ed6"  # a traced packet's path (labkit.trace), drawn over the picture
# Monospace on purpose: Docker names veths and MACs at random, and with a fixed-width font
# their random letters cannot change the layout, so stored diagrams compare equal.
FONT = "Courier"

# Above this many namespaces, draw left to right: twenty containers side by side would be
# too wide for a notebook, stacked they stay readable.
WIDE_AFTER = 6

_DOCKER_VETH = re.compile(r"^veth[0-9a-f]{7}$")


def _q(s: str) -> str:
    """A DOT quoted string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _html(s: str) -> str:
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


@dataclass(frozen=True)
class Highlight:
    """What to emphasise on top of the drawing, e.g. the path of a traced packet: interfaces
    as (namespace, ifname) in the order the packet crossed them (joined by numbered arrows),
    and the NAT rules it hit. Names that are not drawn are skipped."""

    interfaces: tuple[tuple[str, str], ...] = ()
    port_mappings: tuple = ()
    masquerades: tuple = ()


@dataclass(frozen=True)
class _Item:
    """An interface to draw, with its diff status: "", "added", "changed" or "removed"."""

    ns: str
    itf: Interface
    status: str


def _ns_id(name: str) -> str:
    return "ns:" + name


def _itf_key(ns: str, itf: Interface) -> str:
    """A node id that survives docker's random veth names and br-<id> bridge names."""
    if itf.kind == "veth" and itf.peer is not None and _DOCKER_VETH.match(itf.name):
        return f"if:{ns}:veth-to:{itf.peer.namespace}:{itf.peer.interface}"
    if itf.kind == "bridge" and itf.alias:
        return f"if:{ns}:net:{itf.alias}"
    return f"if:{ns}:{itf.name}"


def to_dot(topology: Topology, diff: Diff | None = None, focus: Iterable[str] | None = None,
           show_loopback: bool = False, legend: bool = True, title: str | None = None,
           highlight: Highlight | None = None) -> str:
    """The DOT source of the drawing.

    `focus`: names of namespaces to draw (container names, `ip netns` names, "lab"); ends
    of veth pairs outside the focus are drawn as small stubs. `diff`: highlight what it added
    or changed, and draw what it removed faded.
    """
    before = diff.before if diff is not None else None
    focus_set = _resolve_focus(topology, before, focus)

    # Namespaces to draw: the current ones, then ones the diff removed.
    namespaces: list[tuple[Namespace, str]] = []
    seen = set()
    for ns in topology.namespaces:
        added = before is not None and before.namespace(ns.name) is None
        namespaces.append((ns, "added" if added else ""))
        seen.add(ns.name)
    if before is not None:
        for ns in before.namespaces:
            if ns.name not in seen:
                namespaces.append((ns, "removed"))
    if focus_set is not None:
        namespaces = [(n, s) for n, s in namespaces if n.name in focus_set]
    drawn_ns = {n.name for n, _ in namespaces}

    touched_itfs = diff.touched()[0] if diff is not None else set()
    items: dict[str, list[_Item]] = {}
    hidden: dict[str, int] = {}
    for ns, ns_status in namespaces:
        lst = []
        names_now = {i.name for i in ns.interfaces}
        for itf in ns.interfaces:
            if ns_status == "removed":
                status = "removed"
            elif ns_status == "added":
                status = "added"
            elif before is not None and (ns.name, itf.name) in touched_itfs:
                prev = before.namespace(ns.name)
                status = "added" if prev is None or prev.interface(itf.name) is None \
                    else "changed"
            else:
                status = ""
            lst.append(_Item(ns.name, itf, status))
        if before is not None and ns_status != "removed":
            prev = before.namespace(ns.name)
            for itf in prev.interfaces if prev else ():
                if itf.name not in names_now:
                    lst.append(_Item(ns.name, itf, "removed"))
        visible = [it for it in lst if show_loopback or it.itf.kind != "loopback"]
        if focus_set is not None:
            # Veths into namespaces left out of the focus would only add clutter.
            kept = [it for it in visible if it.itf.kind != "veth" or it.itf.peer is None
                    or it.itf.peer.namespace in focus_set]
            hidden[ns.name] = len(visible) - len(kept)
            visible = kept
        if not visible:  # --network none: draw lo so the box is not empty
            visible = lst
        items[ns.name] = sorted(visible, key=lambda it: interface_order(it.itf))

    # Current interfaces first, so they keep the stable ids; a removed one whose stable id
    # is taken (docker made a new vethXXXXXXX for the same container) uses its own name.
    ids: dict[tuple[str, str], str] = {}
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

    lab = topology.lab or (before.lab if before else None)
    lab_name = lab.name if lab else "lab"
    n_inner = sum(1 for n, _ in namespaces if n.kind != "lab")
    rankdir = "LR" if n_inner > WIDE_AFTER else "TB"

    out: list[str] = []
    w = out.append
    w("digraph labkit {")
    w(f'  graph [rankdir={rankdir}, fontname="{FONT}", fontsize=11, compound=true, '
      'nodesep=0.25, ranksep=0.5, newrank=true, outputorder=edgesfirst'
      + (f", label={_q(title)}, labelloc=t" if title else "") + "];")
    w(f'  node [fontname="{FONT}", fontsize=10, style=filled, penwidth=1.2];')
    w(f'  edge [fontname="{FONT}", fontsize=8, penwidth=1.2];')

    inner = [(n, s) for n, s in namespaces if n.kind != "lab"]
    lab_entry = next(((n, s) for n, s in namespaces if n.kind == "lab"), None)
    # The lab box: always drawn (everything lives inside it), its interfaces only in focus.
    w(f"  subgraph {_q('cluster_' + _ns_id(lab_name))} {{")
    lab_status = lab_entry[1] if lab_entry else ""
    w(f"    label=<<b>{_html(lab_name)}</b> <font point-size=\"9\">(lab host)</font>>;")
    w(f'    style="rounded,filled"; fillcolor="{LAB["fill"]}"; '
      f'color="{_status_color(lab_status, LAB["line"])}"; penwidth=2.5; fontsize=13;')
    if lab_entry is not None:
        uplinks = topology.uplinks() | (before.uplinks() if before is not None else set())
        _emit_items(w, items.get(lab_name, []), ids, lab_entry[0], "    ", uplinks)
        if hidden.get(lab_name):
            w(f'    "hidden:{_html(lab_name)}" [shape=plaintext, style="", fontsize=8, '
              f'fontcolor="#666666", label="+{hidden[lab_name]} veth(s) to namespaces '
              'not in focus"];')
        _emit_nat_nodes(w, topology, before, lab_name, items.get(lab_name, []), ids, "    ")
    for ns, status in inner:
        _emit_namespace(w, ns, status, items.get(ns.name, []), ids, "    ")
    w("  }")

    edges: list[str] = []
    stubs: dict[str, str] = {}
    _collect_edges(edges, stubs, items, ids, drawn_ns, topology, before, lab_name)
    for sid, label in sorted(stubs.items()):
        w(f"  {_q(sid)} [shape=plaintext, style=\"\", fontcolor=\"#666666\", "
          f"fontsize=9, label={_q(label)}];")
    out.extend(edges)

    warns = [x for x in topology.warnings if x.level == "warning"
             and (focus_set is None or x.namespace is None or x.namespace in focus_set)]
    if warns:
        text = "".join(f"{_html(str(x))}<br align=\"left\"/>" for x in warns)
        w(f"  \"warnings\" [shape=note, fillcolor=\"#fff5f5\", color=\"{WARN}\", "
          f"fontcolor=\"{WARN}\", label=<{text}>];")
    if highlight is not None:
        _emit_highlight(w, highlight, ids, topology, lab_name if lab_entry else None)
    if legend:
        _emit_legend(w, diff is not None)
    w("}")
    return "\n".join(out) + "\n"


def _emit_highlight(w, hl: Highlight, ids: dict[tuple[str, str], str], topo: Topology,
                    lab_name: str | None) -> None:
    """Emphasise a path: a later DOT statement for a node only adds attributes (the node
    stays in its cluster), so the picture underneath is the same one, with the path on top."""
    path = [ids[x] for x in hl.interfaces if x in ids]
    for nid in dict.fromkeys(path):
        w(f'  {_q(nid)} [color="{TRACE}", penwidth=3.5];')
    hops = [(a, b) for a, b in zip(path, path[1:], strict=False) if a != b]
    for number, (a, b) in enumerate(hops, 1):
        w(f'  {_q(a)} -> {_q(b)} [color="{TRACE}", fontcolor="{TRACE}", penwidth=2.5, '
          f'arrowsize=0.8, label="{number}"];')
    if lab_name is None:  # the lab host is not drawn (focus): neither are its NAT rules
        return
    drawn_ports = {pm for pm, _ in _port_mappings(topo, None)}
    for pm in hl.port_mappings:
        if pm in drawn_ports:
            w(f'  {_q(_port_id(pm))} [color="{TRACE}", penwidth=3.5];')
    for m in hl.masquerades:
        if m in topo.masquerades and not is_hairpin(m):
            w(f'  {_q("masq:" + str(m))} [color="{TRACE}", penwidth=3.5];')


def _resolve_focus(topo: Topology, before: Topology | None,
                   focus: Iterable[str] | None) -> set[str] | None:
    if focus is None:
        return None
    if isinstance(focus, str):
        focus = [focus]
    wanted = set(focus)
    names = set()
    known = list(topo.namespaces) + list(before.namespaces if before else ())
    for ns in known:
        aliases = {ns.name, ns.label, *ns.netns, *(c.name for c in ns.containers)}
        if aliases & wanted:
            names.add(ns.name)
    missing = wanted - {a for ns in known if ns.name in names
                        for a in (ns.name, ns.label, *ns.netns, *(c.name for c in ns.containers))}
    if missing:
        allowed = sorted({ns.name for ns in known})
        raise UsageError(f"unknown namespace(s) {sorted(missing)} in focus "
                         f"(must be among {allowed})")
    return names


def _status_color(status: str, normal: str) -> str:
    return {"added": ADDED, "changed": ADDED, "removed": REMOVED}.get(status, normal)


def _style(status: str, base: str, warn: bool = False) -> str:
    """Attributes for a node or cluster in a given diff status."""
    if status == "removed":
        return (f'style="{base}dashed"; color="{REMOVED}"; fontcolor="{REMOVED}"; '
                'fillcolor="#f4f4f4"')
    if status in ("added", "changed"):
        return f'style="{base}bold"; color="{ADDED}"; penwidth=3'
    if warn:
        return f'color="{WARN}"; penwidth=2.5'
    return ""


def _emit_namespace(w, ns: Namespace, status: str, items: list[_Item],
                    ids: dict[tuple[str, str], str], pad: str) -> None:
    w(f"{pad}subgraph {_q('cluster_' + _ns_id(ns.name))} {{")
    kind = {"container": "container", "netns": "ip netns", "docker": "docker sandbox",
            "process": "held by a process"}.get(ns.kind, ns.kind)
    extra = [c.name for c in ns.containers if c.name != ns.name]
    extra += [f"netns {n}" for n in ns.netns if n != ns.name]
    sub = kind + ("; also " + ", ".join(extra) if extra else "")
    w(f"{pad}  label=<<b>{_html(ns.label)}</b><br/><font point-size=\"8\">{_html(sub)}</font>>;")
    if status == "removed":
        w(f'{pad}  style="rounded,dashed"; color="{REMOVED}"; fontcolor="{REMOVED}";')
    elif status == "added":
        w(f'{pad}  style="rounded,filled,bold"; fillcolor="{NS["fill"]}"; color="{ADDED}"; '
          "penwidth=3;")
    else:
        w(f'{pad}  style="rounded,filled"; fillcolor="{NS["fill"]}"; color="{NS["line"]}";')
    _emit_items(w, items, ids, ns, pad + "  ")
    w(f"{pad}}}")


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


def _emit_items(w, items: list[_Item], ids: dict[tuple[str, str], str], ns: Namespace,
                pad: str, uplinks: set = frozenset()) -> None:
    for it in items:
        itf = it.itf
        nid = ids[(it.ns, itf.name)]
        if itf.kind == "bridge":
            shape, col = "box", BRIDGE
            base = "filled,rounded,"
        else:
            shape, col = "ellipse", IFACE
            base = "filled,"
        attrs = [f"shape={shape}", f'fillcolor="{col["fill"]}"', f'color="{col["line"]}"',
                 f"label={_itf_label(itf, (it.ns, itf.name) in uplinks)}"]
        extra = _style(it.status, base, warn=False)
        down = not itf.up or itf.state == "DOWN"
        if not extra and down:
            extra = f'style="{base}dashed"'
        line = f"{pad}{_q(nid)} [" + ", ".join(attrs) + (", " + extra.replace(";", ",")
                                                            if extra else "") + "];"
        w(line)


def _emit_nat_nodes(w, topo: Topology, before: Topology | None, lab_name: str,
                    lab_items: list[_Item], ids: dict[tuple[str, str], str], pad: str) -> None:
    for pm, status in _port_mappings(topo, before):
        label = f"{pm.protocol} :{pm.host_port}" if not pm.host_ip else \
            f"{pm.protocol} {pm.host_ip}:{pm.host_port}"
        extra = _style(status, "filled,")
        w(f"{pad}{_q(_port_id(pm))} [shape=cds, fillcolor=\"{PORT['fill']}\", "
          f"color=\"{PORT['line']}\", label={_q(label)}"
          + (", " + extra.replace(";", ",") if extra else "") + "];")
    masq = _masquerades(topo, before)
    for m, status in masq:
        extra = _style(status, "filled,")
        w(f"{pad}{_q('masq:' + str(m))} [shape=note, fillcolor=\"#ffffff\", color=\"#718096\", "
          f"fontsize=8, label={_q(_masq_label(m))}"
          + (", " + extra.replace(";", ",") if extra else "") + "];")


def _masq_label(m) -> str:
    return str(m).replace(" from ", "\nfrom ").replace(" out ", "\nout ")


def _port_id(pm) -> str:
    return f"port:{pm.protocol}:{pm.host_ip or ''}:{pm.host_port}:{pm.to_ip}:{pm.to_port}"


def _port_mappings(topo: Topology, before: Topology | None):
    """(mapping, status) for the mappings that lead into another namespace (see
    `Topology.published`), marked added or removed against `before`."""
    now = [pm for pm, _ in topo.published()]
    was = [pm for pm, _ in before.published()] if before is not None else now
    cands = [(pm, "" if pm in was else "added") for pm in now]
    cands += [(pm, "removed") for pm in was if pm not in now]
    return sorted(cands, key=lambda x: (_port_id(x[0]), x[1]))


def _masquerades(topo: Topology, before: Topology | None):
    """MASQUERADE rules to draw, with diff status; docker's per-port hairpin rules are part
    of the published port and are not drawn on their own."""
    now = set(topo.masquerades)
    out = [(m, "" if before is None or m in set(before.masquerades) else "added")
           for m in topo.masquerades]
    if before is not None:
        out += [(m, "removed") for m in before.masquerades if m not in now]
    return sorted(((m, st) for m, st in out if not is_hairpin(m)),
                  key=lambda x: (str(x[0]), x[1]))


def _collect_edges(edges: list[str], stubs: dict[str, str], items: dict[str, list[_Item]],
                   ids: dict[tuple[str, str], str], drawn_ns: set[str], topo: Topology,
                   before: Topology | None, lab_name: str) -> None:
    done_pairs: set[frozenset] = set()
    # Veths whose peer is expected out of reach (the lab's uplink: an "info", not a warning).
    uplinks = topo.uplinks() | (before.uplinks() if before is not None else set())
    for ns_name in items:
        ns = topo.namespace(ns_name) or (before.namespace(ns_name) if before else None)
        learned: dict[str, list[str]] = {}
        for f in ns.fdb if ns else ():
            learned.setdefault(f.port, []).append(f.mac)
        for it in items[ns_name]:
            itf = it.itf
            me = ids[(ns_name, itf.name)]
            faded = it.status == "removed"
            hot = it.status == "added"
            # Bridge port: the bridge above its port.
            if itf.master and (ns_name, itf.master) in ids:
                macs = sorted(learned.get(itf.name, []))
                lab = f", label={_q(chr(10).join(macs))}, fontcolor=\"#2f855a\"" if macs else ""
                edges.append(f"  {_q(ids[(ns_name, itf.master)])} -> {_q(me)} "
                             f"[dir=none, color=\"{_edge_color(faded, hot, BRIDGE['line'])}\""
                             f"{_edge_style(faded, hot)}{lab}];")
            # veth pair: one double-headed edge per pair.
            if itf.kind == "veth" and itf.peer is not None:
                pair = frozenset({(ns_name, itf.name), (itf.peer.namespace, itf.peer.interface)})
                if pair in done_pairs:
                    continue
                done_pairs.add(pair)
                other = ids.get((itf.peer.namespace, itf.peer.interface))
                if other is None:
                    other = "stub:" + str(itf.peer)
                    stubs[other] = f"↔ {itf.peer}"
                edges.append(f"  {_q(me)} -> {_q(other)} [dir=both, arrowsize=0.6, "
                             f"color=\"{_edge_color(faded, hot, '#4a5568')}\""
                             f"{_edge_style(faded, hot)}];")
            elif itf.kind == "veth" and itf.peer is None and (ns_name, itf.name) in uplinks:
                stub = "stub:outside"
                stubs[stub] = "outside the lab\n(the machine's network)"
                edges.append(f"  {_q(me)} -> {_q(stub)} [dir=both, arrowsize=0.6, "
                             "style=dotted, color=\"#718096\"];")
            elif itf.kind == "veth" and itf.peer is None:
                stub = f"stub:lost:{ns_name}:{itf.name}"
                stubs[stub] = "peer not found"
                edges.append(f"  {_q(me)} -> {_q(stub)} [dir=both, arrowsize=0.6, "
                             f"style=dashed, color=\"{WARN}\"];")
            if itf.lower is not None and (itf.lower.namespace, itf.lower.interface) in ids:
                edges.append(f"  {_q(ids[(itf.lower.namespace, itf.lower.interface)])} -> "
                             f"{_q(me)} [style=dotted, arrowhead=none, label=\"lower\"];")
    # Published ports: the lab's port to the container's interface.
    if lab_name in drawn_ns:
        for pm, status in _port_mappings(topo, before):
            t = topo.owner_of(pm.to_ip) or (before.owner_of(pm.to_ip) if before else None)
            target = ids.get((t.namespace, t.interface))
            if target is None:
                target = "stub:" + str(t)
                stubs[target] = f"→ {t}"
            faded, hot = status == "removed", status == "added"
            to_port = ":" + str(pm.to_port or pm.host_port)
            edges.append(f"  {_q(_port_id(pm))} -> {_q(target)} [label={_q(to_port)}, "
                         f"color=\"{_edge_color(faded, hot, PORT['line'])}\", "
                         f"fontcolor=\"{PORT['line']}\"{_edge_style(faded, hot, bold=True)}];")
        lab_items = {it.itf.name: it for it in items.get(lab_name, [])}
        for m, _status in _masquerades(topo, before):
            br = _bridge_for(m.source, lab_items)
            if br is not None:
                edges.append(f"  {_q(ids[(lab_name, br)])} -> {_q('masq:' + str(m))} "
                             f"[dir=none, style=dashed, color=\"#718096\"];")


def _bridge_for(source: str | None, lab_items: dict[str, _Item]) -> str | None:
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


def _emit_legend(w, with_diff: bool) -> None:
    def cell(text: str, fill: str, line: str, extra: str = "") -> str:
        return (f"<td bgcolor=\"{fill}\" color=\"{line}\" border=\"1\" {extra}>"
                f"<font point-size=\"8\">{text}</font></td>")

    cells = [cell("lab host", LAB["fill"], LAB["line"]),
             cell("namespace", NS["fill"], NS["line"]),
             cell("bridge", BRIDGE["fill"], BRIDGE["line"]),
             cell("interface", IFACE["fill"], IFACE["line"]),
             cell("published port", PORT["fill"], PORT["line"]),
             cell("↔ veth pair", "#ffffff", "#4a5568")]
    if with_diff:
        cells += [cell(f"<font color=\"{ADDED}\">added/changed</font>", "#ffffff", ADDED),
                  cell(f"<font color=\"{REMOVED}\">removed</font>", "#f4f4f4", REMOVED)]
    w("  \"legend\" [shape=plaintext, style=\"\", label=<<table border=\"0\" cellspacing=\"2\" "
      "cellpadding=\"3\"><tr>" + "".join(cells) + "</tr></table>>];")


# --- SVG: the only place that runs a program ----------------------------------------------

def to_svg(dot_source: str, timeout: float = 20.0) -> str:
    """Lay out DOT text with Graphviz's `dot` and return the SVG text."""
    try:
        done = subprocess.run(["dot", "-Tsvg"], input=dot_source.encode(), capture_output=True,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise RuntimeError("Graphviz's `dot` program is not installed; install it "
                           "(Debian: apt-get install graphviz) to draw the lab") from None
    if done.returncode != 0:
        raise RuntimeError(f"dot failed ({done.returncode}): {done.stderr.decode().strip()}")
    return done.stdout.decode()


class Diagram:
    """A drawing for notebooks: SVG for the eye, a stable text summary for text/plain."""

    def __init__(self, topology: Topology, diff: Diff | None = None,
                 focus: Iterable[str] | None = None, show_loopback: bool = False,
                 legend: bool = True, title: str | None = None,
                 highlight: Highlight | None = None) -> None:
        self.topology = topology
        self.diff = diff
        self.dot = to_dot(topology, diff=diff, focus=focus, show_loopback=show_loopback,
                          legend=legend, title=title, highlight=highlight)
        self._svg: str | None = None

    def svg(self) -> str:
        if self._svg is None:
            self._svg = to_svg(self.dot)
        return self._svg

    def text(self) -> str:
        if self.diff is not None:
            return self.diff.summary()
        return self.topology.summary()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"image/svg+xml": self.svg(), "text/plain": self.text()}

    def __repr__(self) -> str:
        return self.text()
