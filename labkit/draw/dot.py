"""Draw a Topology as Graphviz DOT text: pure, built in passes.

The drawing follows the course's pictures: the lab host is a large blue box; inside it each
namespace (container, `ip netns`, process-held) is an orange box, its routes (the default
gateway, the routes someone added) listed under its name; bridges are green boxes with their
addresses; interfaces (veth ends, eth0, ...) are yellow ellipses, a veth end named as `ip link`
prints it (`6: vethXXXXXXX@if5`); a veth pair is a double-headed edge between its two ends;
bridge ports hang off their bridge (labelled with the MACs the bridge learned there); a
published port is an edge from the lab's port to the bridge the container hangs off, labelled
with the chains its DNAT rule is reached from, then on along the bridge port and the veth to
the container's interface, with the docker-proxy holding it open beside it; the lab box lists
its FORWARD policy (DROP in the warning colour) and br_netfilter's state. With a diff, what
was added is highlighted and what was removed is drawn faded; a link renamed or moved to
another namespace is drawn where it is now, as changed ("was veth1").

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from labkit.draw import nginx as nginx_draw
from labkit.draw import services as svc_draw
from labkit.draw.group import Group, groups
from labkit.draw.highlight import Highlight
from labkit.draw.layout import Layout
from labkit.draw.style import (
    ADDED,
    BRIDGE,
    FONT,
    GRID_WIDTH_PT,
    IFACE,
    LAB,
    LEGEND,
    LEGEND_DIFF,
    LEGEND_K8S,
    LEGEND_SERVICES,
    MUTED,
    NODE,
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
from labkit.model.nat import BASE_CHAINS, DNAT_CHAINS, Masquerade, PortMapping, Proxy
from labkit.model.topology import (
    HOST_FACTS,
    RANDOM_VETH,
    Endpoint,
    Interface,
    Lease,
    Namespace,
    Route,
    Topology,
    interface_order,
    is_hairpin,
    namespace_order,
    route_key,
)

# Always left to right, the namespaces stacked: side by side, three containers were already
# 1600 pt wide, scaled to a 1000 px notebook their 8 pt text came out at 4 px; stacked, every
# lesson's drawing reads at 9 px or more. And one container drawn the same way as two, or the
# second one's cell turned the whole picture round (busybox1 moved by 62% of the width).
RANKDIR = "LR"


# The routes labkit/scripts/contain.sh adds to seal the lab ("unreachable" ones of the worst
# metric): part of the lab, not of a lesson, so not drawn (the uplink says "sealed").
_SEAL_ROUTES = ("default", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")

# ifindexes grow with everything the lab ever made, so stored drawings must not change shape
# with their number of digits: the `ip link` line of a veth gets room for this many.
_INDEX_DIGITS = 4
# Graphviz's width of one Courier character at font size 10, in points (its own estimate).
_CHAR_PT = 6.0

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
    renamed: dict[tuple[str, str], tuple[str, str]]  # see Diff.renamed: now -> before
    routes: dict[str, list[tuple[Route, str]]]  # routes drawn, by namespace, with status
    grids: tuple[Group, ...] = ()  # alike containers drawn as grids (see _group_alike)
    ghosts: tuple[str, ...] = ()  # namespaces drawn invisibly: see labkit.draw.layout
    ghost_edges: tuple[tuple[str, str], ...] = ()  # invisible links that keep them in place
    services: tuple[svc_draw.Drawn, ...] = ()  # Kubernetes Service ports (draw/services.py)

    def peer_index(self, itf: Interface, removed: bool) -> int | None:
        """The ifindex of a veth's other end, as `ip link` prints it after "@if"."""
        if itf.peer is None:
            return None
        for topo in ((self.before, self.topology) if removed else (self.topology,)):
            ns = topo.namespace(itf.peer.namespace) if topo is not None else None
            other = ns.interface(itf.peer.interface) if ns is not None else None
            if other is not None:
                return other.index
        return None

    @cached_property
    def pods_by_node(self) -> dict[str, list[tuple[Namespace, str]]]:
        """See `_pods_by_node`: asked by several passes, worked out once per scene (a scene
        made with `replace` works it out again)."""
        return _pods_by_node(self)

    @cached_property
    def with_nodes(self) -> bool:
        """Kubernetes nodes are drawn: every namespace is then drawn compact (`_compact`)."""
        return any(ns.node is not None and ns.node == ns.name for ns, _ in self.namespaces)

    def namespace(self, name: str) -> Namespace | None:
        return self.topology.namespace(name) or (
            self.before.namespace(name) if self.before else None)


def to_dot(topology: Topology, diff: Diff | None = None, focus: Iterable[str] | None = None,
           show_loopback: bool = False, legend: bool = True, title: str | None = None,
           highlight: Highlight | None = None, layout: Layout | None = None) -> str:
    """The DOT source of the drawing.

    `focus`: names of namespaces to draw (container names, `ip netns` names, "lab"); ends
    of veth pairs outside the focus are drawn as small stubs. `diff`: highlight what it added
    or changed, and draw what it removed faded. `highlight`: a traced packet's path on top.
    `layout`: where earlier drawings put the namespaces (labkit.draw.layout `arrange`): they
    keep their slots, gone ones are held by invisible ghosts; without it, kind and name order.
    """
    sc = _group_alike(_scene(topology, diff, focus, show_loopback, layout or Layout()),
                      diff, highlight)
    edges, stubs = _edges(sc)
    # The legend is the graph's own label, under the drawing: never beside it, where it
    # made the drawing wider (and was the first thing cut off). With a title on top, a node.
    k8s = bool(sc.pods_by_node)
    kinds = (diff is not None, k8s, bool(sc.services))
    below = _legend_table(*kinds) if legend and not title else None
    out = [*_header(sc, title, below), *_lab_cluster(sc), *_stub_nodes(stubs), *edges,
           *svc_draw.edges(list(sc.services), lambda ip: _address_id(sc, ip), _q),
           *_node_edges(sc), *_grids(sc), *_warnings(sc), *_ghost_lines(sc), *_columns(sc)]
    if highlight is not None:
        out += _highlight(sc, highlight)
    if legend and title:
        out.append(_legend(*kinds))
    out.append("}")
    return "\n".join(out) + "\n"


# --- the scene: what is drawn, and the node ids ---------------------------------------------

def _scene(topology: Topology, diff: Diff | None, focus: Iterable[str] | None,
           show_loopback: bool, layout: Layout) -> _Scene:
    before = diff.before if diff is not None else None
    focus_set = _resolve_focus(topology, before, focus)
    ghosts = layout.ghosts if focus_set is None else ()  # a focus is a picture of its own
    namespaces = _drawn_namespaces(topology, before, focus_set, layout.order, ghosts)
    ghost_names = {g.name for g in ghosts}
    touched = diff.touched()[0] if diff is not None else set()
    renamed = diff.renamed() if diff is not None else {}
    items: dict[str, list[_Item]] = {}
    hidden: dict[str, int] = {}
    slot = {ns.name: i for i, (ns, _) in enumerate(namespaces)}
    for ns, status in namespaces:
        if ns.name in ghost_names:
            everything = [_Item(ns.name, itf, "ghost") for itf in ns.interfaces]
        else:
            everything = _ns_items(ns, status, before, touched, renamed)
            everything += _ghost_ends(ns, layout, ghost_names)
        visible, hidden_veths = _visible(everything, show_loopback, focus_set)
        if focus_set is not None:
            hidden[ns.name] = hidden_veths
        if not visible:  # --network none: draw lo so the box is not empty
            visible = everything
        served = _bridge_slots(everything, slot)
        items[ns.name] = sorted(visible, key=lambda it: _drawing_order(it.itf, slot, served))
    lab = topology.lab or (before.lab if before else None)
    lab_name = lab.name if lab else "lab"
    uplinks = topology.uplinks() | (before.uplinks() if before else set())
    drawn = {k: [_unlinked(it) for it in v] for k, v in items.items()}
    ids = _node_ids(drawn)
    return _Scene(topology=topology, before=before, namespaces=namespaces, items=drawn,
                  hidden=hidden, ids=ids, focus=focus_set, lab_name=lab_name,
                  lab_drawn=any(n.kind == "lab" for n, _ in namespaces),
                  uplinks=uplinks, renamed=renamed,
                  routes={ns.name: _ns_routes(ns, status, before, uplinks)
                          for ns, status in namespaces
                          if status != "removed" and ns.name not in ghost_names},
                  ghosts=tuple(n.name for n, _ in namespaces if n.name in ghost_names),
                  ghost_edges=_ghost_links(items, ids),
                  services=tuple(svc_draw.drawn(topology, before)))


def _ghost_ends(ns: Namespace, layout: Layout, ghosts: set[str]) -> list[_Item]:
    """The interfaces of a drawn namespace that led into a ghost (the lab's veth end)."""
    have = {i.name for i in ns.interfaces}
    return [_Item(ns.name, itf, "ghost") for owner, itf in layout.ends
            if owner == ns.name and itf.name not in have and itf.peer is not None
            and itf.peer.namespace in ghosts]


def _unlinked(it: _Item) -> _Item:
    """A ghost's interface as a plain device, so the passes draw no edge or stub for it (its
    links are `_ghost_links`, invisible)."""
    if it.status != "ghost":
        return it
    return _Item(it.ns, replace(it.itf, kind="device", peer=None, master=None, lower=None),
                 it.status)


def _ghost_links(items: dict[str, list[_Item]], ids: Ids) -> tuple[tuple[str, str], ...]:
    """The links of the ghosts' interfaces (bridge to port, one veth end to the other, in
    the direction the passes draw them), between node ids, each once."""
    out: list[tuple[str, str]] = []
    for ns_name, lst in items.items():
        for it in lst:
            if it.status != "ghost":
                continue
            me = ids[(ns_name, it.itf.name)]
            master = ids.get((ns_name, it.itf.master)) if it.itf.master else None
            peer = it.itf.peer
            other = ids.get((peer.namespace, peer.interface)) if peer is not None else None
            out += [(master, me)] if master else []
            if other is not None and (other, me) not in out:
                out.append((me, other))
    return tuple(out)


def _drawing_order(itf: Interface, slot: dict[str, int],
                   served: dict[str, int] | None = None) -> tuple:
    """`interface_order`, but veths by the slot of the namespace they lead to, the last one
    first: Graphviz stacks what the lab's veths lead to in the order they come (rankdir=LR
    puts the first at the bottom), so the first namespace is drawn at the top and a new one
    goes below the others, and nothing already on the page moves down. Bridges by the first
    slot their ports lead to (`served`), the first first: declared by name, lesson 7's
    lab-br1 came before lab-br2, and lab-web3, made later on lab-br1, was drawn above
    lab-web2 (which moved by 20% of the width)."""
    key = interface_order(itf)
    to = itf.peer.namespace if itf.kind == "veth" and itf.peer is not None else None
    if itf.kind == "bridge" and served and itf.name in served:
        return (key[0], (0, served[itf.name]), *key[1:])
    return (key[0], (0, -slot[to]) if to in slot else (1, 0), *key[1:])


def _bridge_slots(items: list[_Item], slot: dict[str, int]) -> dict[str, int]:
    """Each bridge among `items` with the first slot a veth plugged into it leads to."""
    out: dict[str, int] = {}
    for it in items:
        peer = it.itf.peer
        if it.itf.master and peer is not None and peer.namespace in slot:
            out[it.itf.master] = min(out.get(it.itf.master, slot[peer.namespace]),
                                     slot[peer.namespace])
    return out


def _resolve_focus(topo: Topology, before: Topology | None,
                   focus: Iterable[str] | None) -> set[str] | None:
    """The names of the namespaces `focus` means (by any of their names)."""
    if focus is None:
        return None
    wanted = {focus} if isinstance(focus, str) else set(focus)
    known = list(topo.namespaces) + list(before.namespaces if before else ())
    names = {ns.name for ns in known if _aliases(ns) & wanted}
    # A Kubernetes node's box holds its pods: focusing on the node shows them too.
    names |= {ns.name for ns in known if ns.node in names and ns.node != ns.name}
    missing = wanted - {a for ns in known if ns.name in names for a in _aliases(ns)}
    if missing:
        allowed = sorted({ns.name for ns in known})
        raise UsageError(f"unknown namespace(s) {sorted(missing)} in focus "
                         f"(must be among {allowed})")
    return names


def _aliases(ns: Namespace) -> set[str]:
    return {ns.name, ns.label, *ns.netns, *(c.name for c in ns.containers)}


def _drawn_namespaces(topology: Topology, before: Topology | None, focus: set[str] | None,
                      order: Sequence[str] = (),
                      ghosts: Sequence[Namespace] = ()) -> list[tuple[Namespace, str]]:
    """The current namespaces, the ones the diff removed and the ghosts (only those in
    focus), in the drawing's order: first the names of `order`, where earlier drawings put
    them, then the rest by kind and name, a removed one in its own slot (Graphviz stacks the
    namespaces in this order, so a box keeps its place from cell to cell)."""
    out = [(ns, "added" if before is not None and before.namespace(ns.name) is None else "")
           for ns in topology.namespaces]
    now = {ns.name for ns in topology.namespaces}
    if before is not None:
        out += [(ns, "removed") for ns in before.namespaces if ns.name not in now]
    drawn = {ns.name for ns, _ in out}
    out += [(g, "removed") for g in ghosts if g.name not in drawn]
    slot = {name: i for i, name in enumerate(order)}
    out.sort(key=lambda x: (slot.get(x[0].name, len(slot)), namespace_order(x[0])))
    return [(n, s) for n, s in out if focus is None or n.name in focus]


def _ns_items(ns: Namespace, ns_status: str, before: Topology | None,
              touched: set[tuple[str, str]],
              renamed: dict[tuple[str, str], tuple[str, str]]) -> list[_Item]:
    """Every interface of a namespace with its diff status, then the ones the diff removed
    (not those renamed or moved away: they are drawn where they are now, as changed)."""
    prev = before.namespace(ns.name) if before is not None else None
    out = [_Item(ns.name, itf, _itf_status(ns_status, ns.name, itf, before, prev, touched,
                                           renamed))
           for itf in ns.interfaces]
    if before is not None and ns_status != "removed":
        names_now = {i.name for i in ns.interfaces}
        went = set(renamed.values())
        out += [_Item(ns.name, itf, "removed") for itf in (prev.interfaces if prev else ())
                if itf.name not in names_now and (ns.name, itf.name) not in went]
    return out


def _itf_status(ns_status: str, ns_name: str, itf: Interface, before: Topology | None,
                prev: Namespace | None, touched: set[tuple[str, str]],
                renamed: dict[tuple[str, str], tuple[str, str]]) -> str:
    if (ns_name, itf.name) in renamed:  # the same link, renamed or moved here
        return "changed"
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


def _ns_routes(ns: Namespace, status: str, before: Topology | None,
               uplinks: set[tuple[str, str]]) -> list[tuple[Route, str]]:
    """The routes a namespace's box lists, with their diff status: its default gateway and
    the routes someone added (not the kernel's own link routes, which follow from the
    addresses drawn; not the lab's way out by its uplink, nor the seal's routes)."""
    now = _worth_drawing(ns, uplinks)
    if before is None:
        return [(r, "") for r in now]
    prev = before.namespace(ns.name)
    was = _worth_drawing(prev, uplinks) if prev is not None else []
    out = [(r, "added" if status == "added" or r not in was else "") for r in now]
    out += [(r, "removed") for r in was if r not in now]
    return sorted(out, key=lambda x: (route_key(x[0]), x[1]))


def _worth_drawing(ns: Namespace, uplinks: set[tuple[str, str]]) -> list[Route]:
    return sorted((r for r in ns.routes if r.protocol != "kernel"
                   and (ns.name, r.dev) not in uplinks
                   and not (ns.kind == "lab" and r.type != "unicast" and r.dst in _SEAL_ROUTES)),
                  key=route_key)


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
    """A node id that survives random veth names (Docker's, a CNI plugin's) and br-<id>
    bridge names: Graphviz orders what it lays out by node id, so a random one could swap
    two rows from one run to the next."""
    if itf.kind == "veth" and itf.peer is not None and RANDOM_VETH.match(itf.name):
        return f"if:{ns}:veth-to:{itf.peer.namespace}:{itf.peer.interface}"
    if itf.kind == "bridge" and itf.alias:
        return f"if:{ns}:net:{itf.alias}"
    return f"if:{ns}:{itf.name}"


def _port_id(pm: PortMapping) -> str:
    return f"port:{pm.protocol}:{pm.host_ip or ''}:{pm.host_port}:{pm.to_ip}:{pm.to_port}"


def _masq_id(m: Masquerade) -> str:
    return "masq:" + str(m)


# --- pass: the graph's defaults -------------------------------------------------------------

def _ranksep(sc: _Scene) -> str:
    """The gap between columns, in inches: narrower with Kubernetes nodes, whose pods sit
    six columns from the lab's bridge, with the Services a seventh (the picture of 3 nodes
    was 1090 pt wide, its text at 7 px in a notebook; 0.15 takes 140 pt off and the cables
    still read)."""
    return "0.15" if sc.pods_by_node else "0.5"


def _header(sc: _Scene, title: str | None, legend: str | None) -> list[str]:
    label = (f", label={_q(title)}, labelloc=t" if title else
             f", label=<{legend}>, labelloc=b, labeljust=l" if legend else "")
    return [
        "digraph labkit {",
        f'  graph [rankdir={RANKDIR}, fontname="{FONT}", fontsize=11, compound=true, '
        f'nodesep=0.25, ranksep={_ranksep(sc)}, newrank=true, outputorder=edgesfirst'
        + label + "];",
        f'  node [fontname="{FONT}", fontsize=10, style=filled, penwidth=1.2];',
        f'  edge [fontname="{FONT}", fontsize=8, penwidth=1.2];',
    ]


# --- pass: clusters (the lab box, namespaces) with their interfaces and NAT nodes -----------

def _lab_cluster(sc: _Scene) -> list[str]:
    """The lab box: always drawn (everything lives inside it), its interfaces only in focus."""
    lab_status = next((s for n, s in sc.namespaces if n.kind == "lab"), "")
    # labelloc/labeljust: not the legend's (the root graph's label), which they would inherit
    out = [f"  subgraph {_q('cluster_' + _ns_id(sc.lab_name))} {{",
           "    labelloc=t; labeljust=c;",
           f"    label=<<b>{_html(sc.lab_name)}</b> <font point-size=\"9\">(lab host)</font>"
           f"{_host_lines(sc)}{_route_lines(sc, sc.lab_name) if sc.lab_drawn else ''}>;",
           f'    style="rounded,filled"; fillcolor="{LAB["fill"]}"; '
           f'color="{_status_color(lab_status, LAB["line"])}"; penwidth=2.5; fontsize=13;',
           *_grid_nodes(sc, "    "), *svc_draw.nodes(list(sc.services), "    ", _q)]
    if sc.lab_drawn:
        out += _lab_nodes(sc, "    ")
        n_hidden = sc.hidden.get(sc.lab_name)
        if n_hidden:
            out.append(f'    "hidden:{_html(sc.lab_name)}" [shape=plaintext, style="", '
                       f'fontsize=8, fontcolor="{MUTED}", label="+{n_hidden} veth(s) to '
                       'namespaces not in focus"];')
        out += _nat_nodes(sc.topology, sc.before, "    ")
    loose = _loose(sc)
    inside = sc.pods_by_node
    in_nodes = {p.name for pods in inside.values() for p, _ in pods}
    # the loose ones first: see `_loose`; a Kubernetes node's pods inside its box
    for ns, status in sorted(sc.namespaces, key=lambda x: x[0].name not in loose):
        if ns.kind != "lab" and ns.name not in in_nodes:
            out += _ns_cluster(sc, ns, status, "    ", inside.get(ns.name, []))
    out.append("  }")
    return out


def _lab_nodes(sc: _Scene, pad: str) -> list[str]:
    """The lab's interfaces, each published port declared just before the bridge its arrow
    leads to. Graphviz's first order of each rank comes from walking the nodes in the order
    they were declared, from each one that no edge leads to: a port's arrow into the bridge
    ends the walk's start at the bridge, and a port declared after the lab's interfaces
    started it at the next such node, the veth to `outside`, which turned the stack upside
    down (lesson 5's DNAT cell moved `outside` by 28% of the width). Declared where its
    bridge is, the port starts the walk at the same point the bridge did."""
    ports = {pid: line for pid, line in _port_nodes(sc.topology, sc.before, pad)}
    before: dict[str, list[str]] = {}
    for rules, _ in _ports(sc.topology, sc.before):
        first = _port_entry(sc, rules)
        if first is not None and first.startswith(f"if:{sc.lab_name}:"):
            before.setdefault(first, []).append(ports.pop(_port_id(rules[0])))
    out = []
    for it, line in zip(sc.items.get(sc.lab_name, []),
                        _itf_nodes(sc, sc.items.get(sc.lab_name, []), pad), strict=True):
        out += before.pop(sc.ids[(it.ns, it.itf.name)], [])
        out.append(line)
    return out + [x for lines in before.values() for x in lines] + list(ports.values())


def _pods_by_node(sc: _Scene) -> dict[str, list[tuple[Namespace, str]]]:
    """The namespaces drawn inside each drawn Kubernetes node's box (its pods), by node; a
    pod whose node is not drawn (a focus) is drawn on its own."""
    nodes = {ns.name for ns, _ in sc.namespaces if ns.node is not None and ns.node == ns.name}
    out: dict[str, list[tuple[Namespace, str]]] = {}
    for ns, status in sc.namespaces:
        if ns.node in nodes and ns.node != ns.name:
            out.setdefault(ns.node, []).append((ns, status))
    return out


def _ns_cluster(sc: _Scene, ns: Namespace, status: str, pad: str,
                inner: Sequence[tuple[Namespace, str]] = ()) -> list[str]:
    """A namespace's box with its interfaces; a Kubernetes node's holds its pods' boxes."""
    is_node = ns.node is not None and ns.node == ns.name
    # A node's and a pod's routes are listed under the interface they leave by: in a box's
    # label they widened the gaps between the columns (the left-to-right drawing makes room
    # for a label there), 150 pt in the 3-node picture.
    under = _route_devs(sc, ns.name)
    routes = _route_lines(sc, ns.name, lambda r: r.dev not in under)
    out = [f"{pad}subgraph {_q('cluster_' + _ns_id(ns.name))} {{", f"{pad}  labelloc=t;",
           f"{pad}  label=<{_ns_title(ns)}{_ns_sub(sc, ns)}{routes}>;"]
    fill, line = (NODE["fill"], NODE["line"]) if is_node else (NS["fill"], NS["line"])
    width = "; penwidth=2" if is_node else ""
    if status == "removed":
        out.append(f'{pad}  style="rounded,dashed"; color="{REMOVED}"; fontcolor="{REMOVED}";')
    elif status == "added":
        out.append(f'{pad}  style="rounded,filled,bold"; fillcolor="{fill}"; '
                   f'color="{ADDED}"; penwidth=3;')
    else:
        out.append(f'{pad}  style="rounded,filled"; fillcolor="{fill}"; color="{line}"{width};')
    out += _itf_nodes(sc, sc.items.get(ns.name, []), pad + "  ")
    for pod, pod_status in inner:
        out += _ns_cluster(sc, pod, pod_status, pad + "  ")
    out.append(f"{pad}}}")
    return out


def _ns_title(ns: Namespace) -> str:
    """A namespace's name in bold; a pod's a size smaller: a Deployment's pod names
    (test-pod-6cf6b4fdff-6ttx6) widened the pods' column, the last of six, by 60 pt."""
    if ns.pod is not None:
        return f'<font point-size="9"><b>{_html(ns.label)}</b></font>'
    return f"<b>{_html(ns.label)}</b>"


def _wrap(words: list[str], width: int) -> list[str]:
    """Words joined by ", " into lines of at most `width` characters (a longer word alone)."""
    lines: list[str] = []
    for w in words:
        if lines and len(lines[-1]) + 2 + len(w) <= width:
            lines[-1] += ", " + w
        else:
            lines.append(w)
    return lines


def _route_devs(sc: _Scene, name: str) -> set[str]:
    """The interfaces of a Kubernetes node or pod, or of any namespace but the lab drawn
    beside the nodes, that list the routes leaving by them: its drawn veths (the others'
    routes stay in the box's label)."""
    ns = sc.namespace(name)
    if ns is None or not _compact(sc, ns):
        return set()
    return {it.itf.name for it in sc.items.get(name, []) if it.itf.kind == "veth"}


def _ns_sub(sc: _Scene, ns: Namespace) -> str:
    """The small lines under a namespace's name: its kind and other names; for a Kubernetes
    node what runs on it, for a pod its pause container and the containers sharing it; then
    the routes of an nginx proxy running in it (draw/nginx.py)."""
    return _ns_kind_lines(sc, ns) + nginx_draw.route_lines(sc.topology, sc.before, ns.name,
                                                            _html)


def _ns_kind_lines(sc: _Scene, ns: Namespace) -> str:
    small = '<br/><font point-size="8">{}</font>'
    if ns.pod is not None:  # the pause container's namespace, which the others share
        sub = "pod: " + " + ".join(("pause", *ns.pod.containers))
        if ns.node and all(p.name != ns.name for p, _ in sc.pods_by_node.get(ns.node, ())):
            sub += f"; on {ns.node}"  # drawn outside its node's box (a focus without it)
        return small.format(_html(sub))
    node = sc.topology.node(ns.name) if ns.node == ns.name else None
    if node is not None:
        # A few programs a line: in a left-to-right drawing a box's label widens the gaps
        # between the columns (kube-master's one line of four made the picture 150 pt wider).
        progs = _wrap(list(node.programs), 26)
        return small.format(_html(f"k8s node ({node.role})")) + "".join(
            small.format(_html(("runs " if i == 0 else "") + line))
            for i, line in enumerate(progs)) + svc_draw.node_port_lines(
            list(sc.services), ns.name, _html)
    kind = NS_KIND_WORDS.get(ns.kind, ns.kind)
    extra = [c.name for c in ns.containers if c.name != ns.name]
    extra += [f"netns {n}" for n in ns.netns if n != ns.name]
    sub = kind + ("; also " + ", ".join(extra) if extra else "")
    if ns.node is not None:
        sub += f"; on {ns.node}"
    return small.format(_html(sub))


def _host_lines(sc: _Scene) -> str:
    """The lab host's filter facts under its name: FORWARD's policy (DROP in the warning
    colour: only what a rule accepts is routed) and br_netfilter in words; a change the cell
    made is highlighted, with what it was."""
    topo, before = sc.topology, sc.before
    lines = []
    for attr in HOST_FACTS:
        now, words = getattr(topo, attr), topo.host_fact(attr)
        if words is None:
            continue
        text = _html(words)
        if attr == "forward_policy" and now != "ACCEPT":
            text = f'<font color="{WARN}"><b>{text}</b></font>'
        was = getattr(before, attr) if before is not None else None
        if was is not None and was != now:
            text = f'<font color="{ADDED}"><b>{text}</b> (was {_html(was)})</font>'
        lines.append(f'<br/><font point-size="8">{text}</font>')
    return "".join(lines)


def _route_lines(sc: _Scene, ns_name: str, which: Callable[[Route], bool] = lambda r: True,
                 dev: str | None = None) -> str:
    """The namespace's routes as `ip route` prints them, under its name in the box's label
    (compact, and no node that would move the layout): the ones a cell added highlighted,
    the ones it removed struck through and faded. `dev`: only those leaving by it, written
    without it (under the interface's name)."""
    lines = []
    for r, status in sc.routes.get(ns_name, ()):
        if not which(r) or (dev is not None and r.dev != dev):
            continue
        text = _html(str(replace(r, dev=None)) if dev is not None else str(r))
        if status == "added":
            text = f'<font color="{ADDED}"><b>+ {text}</b></font>'
        elif status == "removed":
            text = f'<font color="{REMOVED}"><s>{text}</s></font>'
        lines.append(f'<br/><font point-size="8">{text}</font>')
    return "".join(lines)


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


def _itf_nodes(sc: _Scene, items: list[_Item], pad: str) -> list[str]:
    out = []
    for it in items:
        itf = it.itf
        if itf.kind == "bridge":
            shape, col, base = "box", BRIDGE, "filled,rounded,"
        elif _in_cluster(sc, it):  # a rounded box: an ellipse took half as much again
            shape, col, base = "box", IFACE, "filled,rounded,"
        else:
            shape, col, base = "ellipse", IFACE, "filled,"
        extra = _status_attrs(it.status, base)
        if not extra and (not itf.up or itf.state == "DOWN"):
            extra = f', style="{base}dashed"'
        elif not extra and shape == "box" and col is IFACE:
            # room on both sides: a browser's Courier may be a little wider than Graphviz's
            extra = f', style="{base.rstrip(",")}", margin="0.12,0.03"'
        out.append(f"{pad}{_q(sc.ids[(it.ns, itf.name)])} [shape={shape}, "
                   f'fillcolor="{col["fill"]}", color="{col["line"]}", '
                   f"label={_label_for(sc, it)}{extra}];")
    return out


def _label_for(sc: _Scene, it: _Item) -> str:
    key = (it.ns, it.itf.name)
    if key in sc.uplinks:  # its address depends on where the lab runs: see Topology.uplinks
        # "sealed": nothing leaves by it (labkit/scripts/contain.sh); and never "outside",
        # the name of the lessons' simulated host.
        return (f"<{_html(it.itf.name)}<br/><font point-size=\"8\">lab uplink (sealed)<br/>"
                "to the machine's network</font>>")
    was = sc.renamed.get(key)
    was_text = None
    if was is not None:
        was_text = f"was {was[1]}" if was[0] == it.ns else f"was {was[0]}:{was[1]}"
    if it.itf.kind == "veth":
        peer = it.itf.peer
        after = (peer.interface if peer is not None and peer.namespace == it.ns
                 else sc.peer_index(it.itf, it.status == "removed"))
        if _in_cluster(sc, it):
            routes = (_route_lines(sc, it.ns, dev=it.itf.name)
                      if it.itf.name in _route_devs(sc, it.ns) else "")
            # one digit more for the lab's numbers (see _K8S_DIGITS): its own, its peer's
            to_lab = peer is not None and peer.namespace == sc.lab_name
            digits = (_K8S_DIGITS + (it.ns == sc.lab_name), _K8S_DIGITS + to_lab)
            return _veth_label(it.itf, after, was_text, digits=digits, mac=False, more=routes)
        return _veth_label(it.itf, after, was_text)
    if it.itf.kind == "bridge" and it.ns == sc.lab_name and _node_network(sc, it.itf.name):
        return _itf_label(it.itf, was_text, note="k8s node network")
    return _itf_label(it.itf, was_text)


def _node_network(sc: _Scene, bridge: str) -> bool:
    """Is this bridge of the lab the Kubernetes nodes' network (its ports lead to nodes)?"""
    lab = sc.namespace(sc.lab_name)
    ends = [i for i in (lab.interfaces if lab else ()) if i.master == bridge and i.peer]
    nodes = {n.name for n in sc.topology.nodes}
    return bool(ends) and all(i.peer.namespace in nodes for i in ends if i.peer)


# Inside a Kubernetes node the ifindexes are the node's own and stay small: two digits of
# room (four made every cable 24 pt wider, the 3-node picture 1500 pt wide). The lab's own
# (its ends of the nodes' cables, and the "@ifN" of a node's eth0) get three: they grow with
# the lab's history, every `k8s-lab up` making new cables, and a lab that had run a dozen
# clusters drew lesson 10 wider than its recording, so strict nbval failed.
_K8S_DIGITS = 2


def _compact(sc: _Scene, ns: Namespace) -> bool:
    """A Kubernetes node or pod, or a namespace other than the lab drawn beside the nodes
    (lesson 13's outside host: its ellipse, its MAC and its route in the box's label made the
    picture 1058 pt wide, its text 7.6 px in a notebook)."""
    return ns.node is not None or (sc.with_nodes and ns.name != sc.lab_name)


def _in_cluster(sc: _Scene, it: _Item) -> bool:
    """An interface of a compact namespace (`_compact`), or the lab's end of a cable to one:
    drawn compact (a rounded box, no MAC), so that nodes side by side with their pods stay
    readable in a notebook."""
    here = sc.namespace(it.ns)
    if here is not None and _compact(sc, here):
        return True
    peer = it.itf.peer
    there = sc.namespace(peer.namespace) if peer is not None and it.ns == sc.lab_name else None
    return there is not None and _compact(sc, there)


def _ip_link_name(itf: Interface, peer: int | str | None,
                  digits: int | tuple[int, int] = _INDEX_DIGITS) -> tuple[str, str]:
    """A veth as `ip link` names it ("6: veth1a2b@if5", "3: veth1@veth0" when both ends
    are in one namespace), and the same with every number at its full width (the shape):
    `digits` of room for both numbers, or (its own, its peer's)."""
    own, other = digits if isinstance(digits, tuple) else (digits, digits)

    def wide(n: int, room: int) -> str:
        return "9" * max(room, len(str(n)))

    head, shape = f"{itf.index}: {itf.name}", f"{wide(itf.index, own)}: {itf.name}"
    if peer is None:  # a lost peer: its number is unknown here
        return head, shape
    if isinstance(peer, str):  # the other end is in the same namespace: `ip` names it
        return head + f"@{peer}", shape + f"@{peer}"
    return head + f"@if{peer}", shape + f"@if{wide(peer, other)}"


def _veth_label(itf: Interface, peer: int | str | None, was: str | None,
                digits: int | tuple[int, int] = _INDEX_DIGITS, mac: bool = True,
                more: str = "") -> str:
    """The `ip link` line in a cell of fixed width, left-aligned, so the drawing's geometry
    does not depend on how many digits the ifindexes have; the details below it (`more`:
    the routes leaving by it, as _route_lines writes them)."""
    head, shape = _ip_link_name(itf, peer, digits)
    width = round(_CHAR_PT * len(shape) + 2)
    small = _details(itf if mac else replace(itf, mac=None), was)
    if more:
        small += more if small else more.removeprefix("<br/>")
    rows = [f'<tr><td align="left" fixedsize="true" width="{width}" height="13">'
            f"{_html(head)}</td></tr>"]
    if small:
        rows.append(f'<tr><td><font point-size="8">{small}</font></td></tr>')
    return ('<<table border="0" cellborder="0" cellspacing="0" cellpadding="0">'
            + "".join(rows) + "</table>>")


def _details(itf: Interface, was: str | None) -> str:
    """The small lines under an interface's name: what it was, addresses, MAC, state."""
    lines = [was] if was else []
    lines += [str(a) for a in itf.addresses if a.scope != "link"]
    if itf.kind not in ("veth", "bridge", "device", "loopback"):
        lines.insert(0, itf.kind + "".join(f" {k} {v}" for k, v in itf.info if k == "id"))
    if itf.mac and itf.kind != "loopback":
        lines.append(itf.mac)
    if not itf.up or itf.state == "DOWN":
        lines.append("DOWN" if not itf.up else "no carrier")
    return "<br/>".join(_html(x) for x in lines)


def _itf_label(itf: Interface, was: str | None = None, note: str | None = None) -> str:
    title = _html(itf.name)
    if itf.kind == "bridge" and itf.alias and itf.alias not in (itf.name, "bridge"):
        title = f"{_html(itf.name)} <font point-size=\"8\">({_html(itf.alias)})</font>"
    small = "<br/>".join(filter(None, (_html(note) if note else "", _details(itf, was))))
    return f"<{title}<br/><font point-size=\"8\">{small}</font>>" if small else f"<{title}>"


def _port_nodes(topo: Topology, before: Topology | None, pad: str) -> list[tuple[str, str]]:
    """Each published port's node (id, DOT line), inside the lab box (see `_lab_nodes`)."""
    return [(_port_id(rules[0]),
             f"{pad}{_q(_port_id(rules[0]))} [shape=cds, fillcolor=\"{PORT['fill']}\", "
             f"color=\"{PORT['line']}\", label={_port_label(rules)}"
             f"{_status_attrs(status, 'filled,')}];") for rules, status in _ports(topo, before)]


def _nat_nodes(topo: Topology, before: Topology | None, pad: str) -> list[str]:
    """The docker-proxy beside the port it holds open, MASQUERADE rules and lease notes:
    nodes inside the lab box (the ports are `_lab_nodes`')."""
    out = []
    ports = _ports(topo, before)
    for px, status in _proxies(topo, before):
        # dashed: a process, not a rule
        attrs = _status_attrs(status, "filled,") or ', style="filled,dashed"'
        out.append(f"{pad}{_q(_proxy_id(px))} [shape=box, fillcolor=\"#ffffff\", "
                   f"color=\"{PORT['line']}\", fontsize=8, label={_q(_proxy_label(px))}"
                   f"{attrs}];")
        port = next((rules[0] for rules, _ in ports if _holds(px, rules[0])), None)
        if port is not None:  # beside its port, not a rank further on
            out.append(f"{pad}{{rank=same; {_q(_port_id(port))}; {_q(_proxy_id(px))}}}")
    for m, status in _masquerades(topo, before):
        out.append(f"{pad}{_q(_masq_id(m))} [shape=note, fillcolor=\"#ffffff\", "
                   f"color=\"{NOTE}\", fontsize=8, label={_q(_masq_label(m))}"
                   f"{_status_attrs(status, 'filled,')}];")
    for network, leases, status in _lease_notes(topo, before):
        lines = [f"host-local: {network}"] + [
            f"{x.address} → {' '.join(filter(None, (_short_id(x.container), x.ifname)))}"
            for x in leases]
        out.append(f"{pad}{_q(_lease_id(network))} [shape=note, fillcolor=\"#ffffff\", "
                   f"color=\"{NOTE}\", fontsize=8, label={_q(chr(10).join(lines))}"
                   f"{_status_attrs(status, 'filled,')}];")
    return out


def _short_id(container: str) -> str:
    """A container id as `docker ps` shortens it (12 hex digits): a runtime's 64-digit id made
    a lease note wider than the rest of the drawing."""
    return container[:12] + "…" if re.fullmatch(r"[0-9a-f]{64}", container) else container


def _lease_id(network: str) -> str:
    return "leases:" + network


def _lease_notes(topo: Topology, before: Topology | None
                 ) -> list[tuple[str, tuple[Lease, ...], str]]:
    """One note per CNI network with host-local leases (network, its leases, diff status):
    "added" when a lease came, "removed" (the old leases, faded) when the last one went."""
    def by_network(t: Topology | None) -> dict[str, tuple[Lease, ...]]:
        out: dict[str, list[Lease]] = {}
        for lease in t.leases if t is not None else ():
            out.setdefault(lease.network, []).append(lease)
        return {k: tuple(v) for k, v in out.items()}

    now, was = by_network(topo), by_network(before)
    notes = [(n, ls, "" if before is None or set(ls) <= set(was.get(n, ())) else "added")
             for n, ls in now.items()]
    if before is not None:
        notes += [(n, ls, "removed") for n, ls in was.items() if n not in now]
    return sorted(notes)


def _proxy_id(px: Proxy) -> str:
    return "proxy:" + str(px)


def _proxy_label(px: Proxy) -> str:
    """"docker-proxy", "tcp 0.0.0.0:8080", "→ 172.17.0.2:80": in three short lines the box is
    narrower than the lab's uplink, in the same column, so the first published port does not
    widen that column (on one line it did, and moved lesson 4's boxes by 7% of the width)."""
    head, _, rest = str(px).partition(" ")
    return head + "\n" + rest.replace("→", "\n→ ")


def _holds(px: Proxy, pm: PortMapping) -> bool:
    """The docker-proxy listening for the port `pm` maps: on its address, or on any address
    when the rule has none (0.0.0.0, and :: where Docker runs a second proxy for IPv6)."""
    any_ip = ("0.0.0.0", "::") if pm.host_ip is None else (pm.host_ip,)
    return px.host_ip in any_ip and (
        px.protocol, px.host_port, px.container_ip, px.container_port) == (
        pm.protocol, pm.host_port, pm.to_ip, pm.to_port or pm.host_port)


def _proxies(topo: Topology, before: Topology | None) -> list[tuple[Proxy, str]]:
    now = set(topo.proxies)
    out = [(p, "" if before is None or p in set(before.proxies) else "added")
           for p in topo.proxies]
    if before is not None:
        out += [(p, "removed") for p in before.proxies if p not in now]
    return sorted(out, key=lambda x: (str(x[0]), x[1]))


def _masq_label(m: Masquerade) -> str:
    if m.via is None:
        return str(m).replace(" from ", "\nfrom ").replace(" out ", "\nout ")
    # A rule in a user chain, e.g. the bridge CNI plugin's: "MASQUERADE / from 10.15.10.100 /
    # via CNI-95c5…, / not to 10.15.10.0/24, 224.0.0.0/4" (the chain's ACCEPT before it and
    # the rule's own `! -d`). The chain's name shortened: its first digits find it in
    # iptables-save.
    dest = m.destination or ""
    not_to = [*m.exempt, *([dest[1:]] if dest.startswith("!") else [])]
    lines = ["MASQUERADE"]
    if m.source:
        lines.append(f"from {m.source.removesuffix('/32')}")
    if dest and not dest.startswith("!"):
        lines.append(f"to {dest}")
    if m.protocol or m.out_iface:
        lines.append(str(Masquerade(None, m.out_iface, protocol=m.protocol, port=m.port))
                     .removeprefix("MASQUERADE "))
    via = m.via if len(m.via) <= 12 else m.via[:8] + "…"
    lines.append(f"via {via}" + ("," if not_to else ""))
    if not_to:
        lines.append("not to " + ", ".join(not_to))
    return "\n".join(lines)


#: a published port as drawn: every DNAT rule for one (protocol, address, port, target) — a
#: learner may write it in PREROUTING and in OUTPUT — with its diff status
Port = tuple[tuple[PortMapping, ...], str]


def _ports(topo: Topology, before: Topology | None) -> list[Port]:
    """The published ports (mappings that lead into another namespace, see
    `Topology.published`), one per node id with all its rules, marked against `before`:
    added, removed, or changed when only the rules behind it did (other chains lead to it)."""
    def by_id(t: Topology) -> dict[str, tuple[PortMapping, ...]]:
        out: dict[str, list[PortMapping]] = {}
        for pm, _ in t.published():
            out.setdefault(_port_id(pm), []).append(pm)
        return {k: tuple(sorted(v, key=lambda pm: (pm.chain, pm.entry or ())))
                for k, v in out.items()}

    now = by_id(topo)
    was = by_id(before) if before is not None else now
    out: list[Port] = []
    for pid in sorted(now.keys() | was.keys()):
        if pid not in was:
            out.append((now[pid], "added"))
        elif pid not in now:
            out.append((was[pid], "removed"))
        else:
            out.append((now[pid], "" if set(now[pid]) == set(was[pid]) else "changed"))
    return out


def _reached(rules: tuple[PortMapping, ...]) -> bool:
    """Does a packet meet one of the rules (a jump from PREROUTING or OUTPUT leads to it)?
    A loopback port counts as fine: docker-proxy serves it, by design (see _dnat_lines)."""
    return any(pm.entry is None or _loopback(pm.host_ip)
               or any(c in pm.entry for c in DNAT_CHAINS) for pm in rules)


def _loopback(ip: str | None) -> bool:
    try:
        return ip is not None and ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


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
        anchors = _anchors(sc, items) if ns_name == sc.lab_name else {}
        for it in items:
            edges += _itf_edges(sc, it, learned, done_pairs, stubs)
            if it.itf.name in anchors:
                edges.append(f"  {_q(anchors[it.itf.name])} -> "
                             f"{_q(sc.ids[(it.ns, it.itf.name)])} [style=invis, weight=0];")
    edges += [f"  {_q(a)} -> {_q(b)} [style=invis, weight=0];" for a, b in _loose(sc).values()]
    if sc.lab_name in {n.name for n, _ in sc.namespaces}:
        edges += _nat_edges(sc, stubs)
    return edges, stubs


def _anchors(sc: _Scene, items: list[_Item]) -> dict[str, str]:
    """The lab's veth ends on no bridge (the cable to `outside`), each with a bridge next to
    it in the stack: an invisible edge from that bridge, made where the end comes, so
    Graphviz's first walk meets the end among the bridge's own ports, in slot order. Without
    it the walk took all of a bridge's ports first and the end on no bridge after them: a
    namespace added below `outside` was drawn above it (lesson 5's lab-ns2 moved `outside`
    by 13% of the width). The bridge: of the namespace above (`items` go bottom up), of its
    last cable, the one nearest; else of the namespace below."""
    ends = [it for it in items if it.itf.kind == "veth" and it.itf.peer is not None
            and it.itf.peer.namespace != sc.lab_name and it.status != "ghost"]
    out = {}
    for i, it in enumerate(ends):
        if it.itf.master:
            continue
        above = [e for e in ends[i + 1:] if e.itf.master]
        if above:
            bridge = [e for e in above if _leads_to(e) == _leads_to(above[0])][-1].itf.master
        else:
            bridge = next((e.itf.master for e in reversed(ends[:i]) if e.itf.master), None)
        nid = sc.ids.get((sc.lab_name, bridge)) if bridge else None
        if nid is not None:
            out[it.itf.name] = nid
    return out


def _loose(sc: _Scene) -> dict[str, tuple[str, str]]:
    """The namespaces no cable from the lab leads to (a container run with --net=none)
    below one that has (a loose one with none above is left alone), each with an invisible
    edge from the lab's end of the cable into the nearest one above it to its first node,
    which, with its box declared before the others, holds it in its slot: on its own
    Graphviz put it on top (lesson 9's cni-go moved lab-ns down by 13% of the width, and
    back up when its cable came)."""
    if not sc.lab_drawn or sc.focus is not None:
        return {}
    lab = sc.items.get(sc.lab_name, [])
    end_of: dict[str, str] = {}  # namespace -> the lab's end of its cable, the last drawn
    for it in lab:
        to = _leads_to(it)
        if it.itf.kind == "veth" and to is not None and to != sc.lab_name:
            end_of[to] = sc.ids[(it.ns, it.itf.name)]
    # a ghost holds its slot with its invisible cable, so a loose box below one hangs off it
    # (lesson 10: busybox2 under busybox1's ghost went on top, 16.5% of the width)
    owner = {v: k[0] for k, v in sc.ids.items()} if sc.ghost_edges else {}  # most scenes: none
    for a, b in sc.ghost_edges:
        for end, far in ((a, b), (b, a)):
            if owner.get(end) == sc.lab_name and owner.get(far) in sc.ghosts:
                end_of.setdefault(owner[far], end)
    # a Kubernetes node's pods hang off its own bridge, inside its box: never loose
    stack = [ns.name for ns, _ in sc.namespaces if ns.kind != "lab" and ns.node is None
             and sc.items.get(ns.name)]
    out = {}
    for i, name in enumerate(stack):
        if name in end_of or name in sc.ghosts:
            continue
        near = [end_of[n] for n in reversed(stack[:i]) if n in end_of]
        if near:
            out[name] = (near[0], sc.ids[(name, sc.items[name][0].itf.name)])
    return out


def _leads_to(it: _Item) -> str | None:
    return it.itf.peer.namespace if it.itf.peer is not None else None


def _itf_edges(sc: _Scene, it: _Item, learned: dict[str, list[str]],
               done_pairs: set[frozenset[tuple[str, str]]], stubs: dict[str, str]) -> list[str]:
    itf = it.itf
    me = sc.ids[(it.ns, itf.name)]
    faded, hot = it.status == "removed", it.status == "added"
    out = []
    # Bridge port: the bridge above its port.
    if itf.master and (it.ns, itf.master) in sc.ids:
        # Not on a Kubernetes node's ports: the label took a column of its own, 120 pt
        macs = sorted(learned.get(itf.name, [])) if not _in_cluster(sc, it) else []
        lab = f", label={_q(chr(10).join(macs))}, fontcolor=\"{BRIDGE['line']}\"" if macs else ""
        out.append(f"  {_q(sc.ids[(it.ns, itf.master)])} -> {_q(me)} "
                   f"[dir=none, color=\"{_edge_color(faded, hot, BRIDGE['line'])}\""
                   f"{_edge_style(faded, hot)}{lab}];")
    if itf.kind == "veth":
        veth = _veth_edge(sc, it, me, done_pairs, stubs)
        if veth is None:  # the pair was drawn from its other end
            return out
        if veth:
            out.append(veth)
    if itf.lower is not None and (itf.lower.namespace, itf.lower.interface) in sc.ids:
        out.append(f"  {_q(sc.ids[(itf.lower.namespace, itf.lower.interface)])} -> "
                   f"{_q(me)} [style=dotted, arrowhead=none, label=\"lower\"];")
    return out


def _veth_edge(sc: _Scene, it: _Item, me: str, done_pairs: set[frozenset[tuple[str, str]]],
               stubs: dict[str, str]) -> str | None:
    """One double-headed edge per veth pair (None for the second end); a veth whose peer is
    out of reach leads to a stub "peer not found". The lab's uplink has none: its label says
    where it leads (a stub beside the lab box only made the drawing wider)."""
    itf = it.itf
    if itf.peer is None and (it.ns, itf.name) in sc.uplinks:
        return ""
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
    """Published ports: from the lab's port to the bridge the container hangs off, labelled
    with the chains the DNAT rule is reached from, then along that bridge's port and the
    veth pair to the container's interface; MASQUERADE rules: from the bridge whose network
    they cover; docker-proxy: a dotted line to the port it holds open."""
    out = []
    ports = _ports(sc.topology, sc.before)
    for rules, status in ports:
        out += _port_path(sc, rules, status, stubs)
    for px, _status in _proxies(sc.topology, sc.before):
        port = next((rules[0] for rules, _ in ports if _holds(px, rules[0])), None)
        if port is not None:
            out.append(f"  {_q(_port_id(port))} -> {_q(_proxy_id(px))} [dir=none, "
                       f"style=dotted, color=\"{PORT['line']}\"];")
    lab_items = {it.itf.name: it for it in sc.items.get(sc.lab_name, [])}
    for m, _status in _masquerades(sc.topology, sc.before):
        br = _bridge_for(m.source, lab_items)
        if br is not None:
            out.append(f"  {_q(sc.ids[(sc.lab_name, br)])} -> {_q(_masq_id(m))} "
                       f"[dir=none, style=dashed, color=\"{NOTE}\"];")
    for network, leases, _status in _lease_notes(sc.topology, sc.before):
        br = _bridge_for(leases[0].address, lab_items)  # the bridge the addresses are on
        if br is not None:
            out.append(f"  {_q(sc.ids[(sc.lab_name, br)])} -> {_q(_lease_id(network))} "
                       f"[dir=none, style=dashed, color=\"{NOTE}\"];")
    return out


def _port_path(sc: _Scene, rules: tuple[PortMapping, ...], status: str,
               stubs: dict[str, str]) -> list[str]:
    """One published port's way in. The bridge port and veth edges are the picture's own
    (they place the nodes); the path's are drawn beside them in the port's colour with
    constraint=false, so publishing a port does not move anything. Without a bridge on the
    way (a container's address on another kind of link) the arrow goes to the interface."""
    pm = rules[0]
    t = _port_target(sc, pm)
    target = sc.ids.get((t.namespace, t.interface))
    if target is None:
        target = "stub:" + str(t)
        stubs[target] = f"→ {t}"
    faded, hot = status == "removed", status == "added"
    reached = _reached(rules)
    color = _edge_color(faded, hot, PORT["line"] if reached else WARN)
    # not reached: dashed, as a rule that does nothing (unless the diff's own style says more)
    style = _edge_style(faded, hot, bold=True) if reached or faded or hot else ", style=dashed"
    hops = _bridge_hops(sc, t.namespace, t.interface) if target in sc.ids.values() else []
    first = hops[0] if hops else target
    out = [f"  {_q(_port_id(pm))} -> {_q(first)} [color=\"{color}\"{style}];"]
    # The way on in the port's colour even when added: beside the added (magenta) bridge
    # port and veth edges it would not show.
    on = _edge_color(faded, False, PORT["line"] if reached else WARN)
    on_style = _edge_style(faded, False, bold=True) if reached or faded else style
    path = [*hops, target] if hops else []
    out += [f"  {_q(a)} -> {_q(b)} [constraint=false, arrowsize=0.6, color=\"{on}\""
            f"{on_style}];" for a, b in zip(path, path[1:], strict=False)]
    return out


def _port_target(sc: _Scene, pm: PortMapping) -> Endpoint | None:
    """The interface a port's DNAT rule sends to (now, or as the diff's `before` had it)."""
    return sc.topology.owner_of(pm.to_ip) or (sc.before.owner_of(pm.to_ip) if sc.before
                                              else None)


def _port_entry(sc: _Scene, rules: tuple[PortMapping, ...]) -> str | None:
    """The node id a port's first arrow leads to (as `_port_path` draws it): the bridge on
    the way, else the interface, None for a stub."""
    t = _port_target(sc, rules[0])
    target = sc.ids.get((t.namespace, t.interface)) if t is not None else None
    if target is None:
        return None
    hops = _bridge_hops(sc, t.namespace, t.interface)
    return hops[0] if hops else target


def _bridge_hops(sc: _Scene, ns: str, ifname: str) -> list[str]:
    """Node ids from the lab's bridge to the lab's end of the veth leading to (ns, ifname):
    [bridge, lab end], or [] when the container's interface is no veth off a lab bridge."""
    here = sc.namespace(ns)
    itf = here.interface(ifname) if here is not None else None
    peer = itf.peer if itf is not None else None
    lab = sc.namespace(sc.lab_name)
    if peer is None or lab is None or peer.namespace != sc.lab_name:
        return []
    end = lab.interface(peer.interface)
    if end is None or not end.master:
        return []
    ids = [sc.ids.get((sc.lab_name, end.master)), sc.ids.get((sc.lab_name, end.name))]
    return [i for i in ids if i is not None] if None not in ids else []


def _dnat_lines(pm: PortMapping) -> list[str]:
    """"DNAT via PREROUTING, OUTPUT", "→ DOCKER → :80" (the base chains whose jumps lead to
    the rule, its chain, the port it sends the packet to); "DNAT in PREROUTING" for a rule in
    a base chain; "not reached" when no jump from PREROUTING or OUTPUT leads to it. Written in
    the port's box: as the arrow's label it sat between two ranks and widened the drawing."""
    to = f"→ :{pm.to_port or pm.host_port}"
    if _loopback(pm.host_ip):  # `-p 127.0.0.1:8080:80`: Docker's OUTPUT jump skips 127/8
        return [f"DNAT in {pm.chain} {to}", "unused for a loopback address:",
                "docker-proxy answers"]
    if pm.entry is None:  # a snapshot from before labkit followed the jumps
        return [f"DNAT in {pm.chain} {to}"]
    if not any(c in pm.entry for c in DNAT_CHAINS):
        return [f"DNAT in {pm.chain} {to}", "not reached: no jump from", "PREROUTING or OUTPUT"]
    if pm.chain in BASE_CHAINS:
        return [f"DNAT in {pm.chain} {to}"]
    return [f"DNAT via {', '.join(pm.entry)}", f"→ {pm.chain} {to}"]


def _port_label(rules: tuple[PortMapping, ...]) -> str:
    """The port as the lab listens for it, then how each of its DNAT rules is reached."""
    pm = rules[0]
    port = pm.host_port.replace(":", "-")  # a range, 8000:8010, is no address:port
    where = f":{port}" if not pm.host_ip else f"{pm.host_ip}:{port}"
    color = "" if _reached(rules) else f' color="{WARN}"'
    small = "<br/>".join(_html(x) for r in rules for x in _dnat_lines(r))
    return (f"<{_html(pm.protocol)} {_html(where)}<br/>"
            f'<font point-size="8"{color}>{small}</font>>')


def _bridge_for(source: str | None, lab_items: dict[str, _Item]) -> str | None:
    """The lab's interface a MASQUERADE rule's source lies behind: its address is in the
    source network (Docker's 172.17.0.0/16), or the source is in its network (the CNI bridge
    plugin's rule for one container, 10.15.10.100/32)."""
    if not source or source.startswith("!"):
        return None
    try:
        net = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return None
    for name, it in sorted(lab_items.items()):
        for a in it.itf.addresses:
            try:
                mine = ipaddress.ip_interface(f"{a.address}/{a.prefixlen}")
            except ValueError:
                continue
            if mine.ip in net or (mine.version == net.version
                                  and net.subnet_of(mine.network)):  # type: ignore[arg-type]
                return name
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


# --- pass: inside a Kubernetes node -----------------------------------------------------------

def _node_edges(sc: _Scene) -> list[str]:
    """In each node's box, an invisible edge from its link to the node network (eth0) to each
    of its bridges (dind0): routed, not bridged, so no edge joins them, and without one the
    pod bridge floated to the node's left, its pods' cables crossing the node."""
    out = []
    for ns, _ in sc.namespaces:
        if ns.node is None or ns.node != ns.name:
            continue
        items = sc.items.get(ns.name, [])
        uplink = _node_uplink(sc, ns.name)
        for it in items:
            if it.itf.kind == "bridge" and uplink is not None:
                out.append(f"  {_q(uplink)} -> {_q(sc.ids[(ns.name, it.itf.name)])} "
                           "[style=invis];")
    return out


def _address_id(sc: _Scene, ip: str) -> str | None:
    """The node id of the drawn interface holding `ip` (now, or before the cell for one the
    cell removed), or None."""
    for topo in (sc.topology, sc.before):
        owner = topo.owner_of(ip) if topo is not None else None
        if owner is not None and (owner.namespace, owner.interface) in sc.ids:
            return sc.ids[(owner.namespace, owner.interface)]
    return None


def _node_uplink(sc: _Scene, name: str) -> str | None:
    """The node id of a node's veth into the lab (its eth0 on the node network)."""
    return next((sc.ids[(name, it.itf.name)] for it in sc.items.get(name, [])
                 if it.itf.kind == "veth" and it.itf.peer is not None
                 and it.itf.peer.namespace == sc.lab_name), None)


# --- pass: columns --------------------------------------------------------------------------

#: the drawing's columns, left to right: published ports, bridges, the lab's ends of the veths
#: that lead to namespaces, the namespaces
COLUMNS = ("ports", "bridges", "veth ends", "namespaces")
# The width each column keeps when empty, in inches: a bridge's box, a veth end's ellipse
# (its `ip link` line is of fixed width), so that the first bridge or cable does not widen
# the columns before the namespaces. Not the ports': most drawings have none, and it would
# make every one of them wider (the text smaller) for one cell's sake.
_COLUMN_IN = {"ports": 0, "bridges": 1.7, "veth ends": 2.9, "namespaces": 0}


# With Kubernetes nodes the lab's veth ends are compact boxes (`_in_cluster`): their width.
_K8S_COLUMN_IN = {"veth ends": 2.1}


def _columns(sc: _Scene) -> list[str]:
    """Each kind of node in a column of its own, held by an invisible chain of points (one
    per column, `rank=same` with its members): without it Graphviz put a namespace as far
    left as its links allowed, so its first cable, the first bridge port or a published port
    pushed the boxes sideways (lesson 5's lab-ns0 moved by half the drawing's width).
    `rank=same` does not join the chain to the graph's edges, so the order in which the
    namespaces are stacked (labkit.draw.layout) stays as it was."""
    members: dict[str, list[str]] = {c: [] for c in COLUMNS}
    for it in sc.items.get(sc.lab_name, []):
        itf = it.itf
        if itf.kind == "bridge":
            members["bridges"].append(sc.ids[(sc.lab_name, itf.name)])
        elif itf.kind == "veth" and itf.peer is not None and itf.peer.namespace != sc.lab_name:
            members["veth ends"].append(sc.ids[(sc.lab_name, itf.name)])
    if sc.lab_drawn:
        members["ports"] = [_port_id(rules[0]) for rules, _ in _ports(sc.topology, sc.before)]
    pods = {p.name for ps in sc.pods_by_node.values() for p, _ in ps}
    # A node's column member is its eth0 (its pods are further right, inside it).
    members["namespaces"] = [_node_uplink(sc, ns.name) if ns.node == ns.name
                             and _node_uplink(sc, ns.name) else
                             sc.ids[(ns.name, sc.items[ns.name][0].itf.name)]
                             for ns, _ in sc.namespaces
                             if ns.kind != "lab" and sc.items.get(ns.name)
                             and ns.name not in pods]
    widths = dict(_COLUMN_IN, **(_K8S_COLUMN_IN if sc.pods_by_node else {}))
    columns = COLUMNS
    if sc.services:  # one column of them, right of the pods (labkit.draw.services)
        columns += ("services",)
        members["services"] = [d.id for d in sc.services]
        widths["services"] = 0
    out = [f'  "column:{c}" [shape=box, style=invis, fixedsize=true, width={widths[c]}, '
           'height=0.01, label=""];' for c in columns]
    out.append("  " + " -> ".join(f'"column:{c}"' for c in columns) + " [style=invis];")
    out += [f'  {{rank=same; "column:{c}"; ' + "; ".join(_q(m) for m in ids) + "}"
            for c, ids in members.items() if ids]
    return out


# --- pass: ghosts ----------------------------------------------------------------------------

def _ghost_lines(sc: _Scene) -> list[str]:
    """The ghosts made invisible: drawn by the passes like any faded box, so they take the
    same room, then hidden by later statements (a later statement for a node or a cluster
    only sets attributes), and their links added as invisible edges, which keep them in their
    rank and slot."""
    if not sc.ghosts:
        return []
    lab = _q("cluster_" + _ns_id(sc.lab_name))
    out = [f"  subgraph {lab} {{"]
    # A pod's box is inside its node's: named again there (a subgraph is found by its name
    # under its parent), or a new empty box would be hidden instead.
    node_of = {p.name: node for node, ps in sc.pods_by_node.items() for p, _ in ps}
    for name in sc.ghosts:
        box = f"subgraph {_q('cluster_' + _ns_id(name))} {{ style=invis; }}"
        node = node_of.get(name)
        out.append(f"    subgraph {_q('cluster_' + _ns_id(node))} {{ {box} }}" if node
                   else f"    {box}")
    out.append("  }")
    out += [f"  {_q(sc.ids[(it.ns, it.itf.name)])} [style=invis];"
            for lst in sc.items.values() for it in lst if it.status == "ghost"]
    out += [f"  {_q(a)} -> {_q(b)} [style=invis];" for a, b in sc.ghost_edges]
    return out


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
    # By id: a traced rule is read on its own, without the chains that lead to it.
    drawn_ports = {_port_id(rules[0]) for rules, _ in _ports(sc.topology, None)}
    out += [f'  {_q(_port_id(pm))} [color="{TRACE}", penwidth=3.5];'
            for pm in hl.port_mappings if _port_id(pm) in drawn_ports]
    out += [f'  {_q(_masq_id(m))} [color="{TRACE}", penwidth=3.5];'
            for m in hl.masquerades if m in sc.topology.masquerades and not is_hairpin(m)]
    return out


def _legend_table(with_diff: bool, k8s: bool = False, services: bool = False) -> str:
    cells = [f"<td bgcolor=\"{fill}\" color=\"{line}\" border=\"1\" >"
             f"<font point-size=\"8\">{text}</font></td>"
             for text, fill, line in LEGEND + (LEGEND_K8S if k8s else ())
             + (LEGEND_SERVICES if services else ()) + (LEGEND_DIFF if with_diff else ())]
    return ("<table border=\"0\" cellspacing=\"2\" cellpadding=\"3\"><tr>" + "".join(cells)
            + "</tr></table>")


def _legend(with_diff: bool, k8s: bool = False, services: bool = False) -> str:
    return (f"  \"legend\" [shape=plaintext, style=\"\", "
            f"label=<{_legend_table(with_diff, k8s, services)}>];")


# --- pass: alike containers as grids (labkit.draw.group) ------------------------------------

def _group_alike(sc: _Scene, diff: Diff | None, highlight: Highlight | None) -> _Scene:
    """The scene without the containers a grid stands for, nor the lab's ends of their veth
    pairs (the grid's one edge to the bridge stands for those)."""
    found = groups(sc.topology, diff, sc.focus, highlight.interfaces if highlight else ())
    if not found:
        return sc
    gone = {m.namespace for g in found for m in g.members}
    lab_ends = {m.lab_end for g in found for m in g.members}
    items = {name: [it for it in lst if name != sc.lab_name or it.itf.name not in lab_ends]
             for name, lst in sc.items.items() if name not in gone}
    return replace(sc, namespaces=[(n, st) for n, st in sc.namespaces if n.name not in gone],
                   items=items, ids=_node_ids(items),
                   routes={k: v for k, v in sc.routes.items() if k not in gone},
                   grids=tuple(found))


def _grid_id(g: Group) -> str:
    return f"grid:{g.bridge}:{g.image}"


def _grid_nodes(sc: _Scene, pad: str) -> list[str]:
    """Each grid: a box in the lab's cluster, declared before the lab's other nodes: then
    Graphviz stacks it below the namespaces drawn in full (declared after them it went on
    top, and the cell where lesson 1's 22 containers became a grid moved busybox1 and
    busybox2 down by 21% of the width)."""
    return [f'{pad}{_q(_grid_id(g))} [shape=box, style="rounded,filled", '
            f'fillcolor="{NS["fill"]}", color="{NS["line"]}", margin="0.1,0.05", '
            f"label=<{_grid_table(g)}>];" for g in sc.grids]


def _grids(sc: _Scene) -> list[str]:
    """Each grid's one edge from its bridge, labelled with how many veth pairs it stands
    for (its box: `_grid_nodes`)."""
    out = []
    for g in sc.grids:
        bridge = sc.ids.get((sc.lab_name, g.bridge))
        if bridge is not None:
            pairs = f"{len(g.members)} veth pairs"
            out.append(f"  {_q(bridge)} -> {_q(_grid_id(g))} [dir=none, minlen=2, penwidth=4, "
                       f'color="{BRIDGE["line"]}", fontcolor="{BRIDGE["line"]}", '
                       f"label={_q(pairs)}];")
    return out


def _grid_table(g: Group) -> str:
    """The grid's line, then name and address of each container, row by row, in as many
    columns as GRID_WIDTH_PT holds."""
    name_w = max(len(m.namespace) for m in g.members) * _CHAR_PT
    addr_w = max((len(", ".join(m.addresses)) for m in g.members), default=0) * _CHAR_PT * 0.8
    cols = max(1, min(6, int(GRID_WIDTH_PT // (name_w + addr_w + 16))))
    cells = [f'<td align="left">{_html(m.namespace)}</td><td align="left">'
             f'<font point-size="8">{_html(", ".join(m.addresses))}</font></td>'
             for m in g.members]
    gap = '<td width="8"></td>'  # between one container's address and the next name
    rows = [gap.join(cells[i:i + cols]) for i in range(0, len(cells), cols)]
    span = f'<tr><td colspan="{3 * cols - 1}" align="left">'
    head = (f"{span}<b>{_html(g.head)}</b></td></tr>"
            f'{span}<font point-size="8">{_html(g.tail)}<br align="left"/>'
            f"each like {_html(', '.join(g.shown))}:<br align=\"left\"/>"
            f"one veth pair to {_html(g.bridge)}"
            '<br align="left"/></font></td></tr>')
    return ('<table border="0" cellborder="0" cellspacing="0" cellpadding="1">' + head
            + "".join(f"<tr>{r}</tr>" for r in rows) + "</table>")
