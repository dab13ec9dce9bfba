"""From the probe's raw scan to a Topology: the pure resolve pass (plotnetcfg's "post").

The probe only reads (labkit.probe); linking what it read happens here, after every namespace
is in: namespace names, veth peers across namespaces, lower devices and bridge masters (each
device kind's own resolve step, labkit.model.kinds), routes and FDB entries by device name,
and NAT rules. Nothing here fails on odd data: what cannot be linked becomes a ProbeWarning.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from labkit.model import kinds
from labkit.model.nat import (
    masquerades,
    parse_iptables_save,
    policy,
    port_mappings,
    proxy_from_argv,
)
from labkit.model.nginx import (
    HttpRoute,
    NginxSyntaxError,
    resolve,
    route_order,
    routes_from_conf,
)
from labkit.model.services import merge, services_from_save
from labkit.model.topology import (
    Address,
    Container,
    FdbEntry,
    Interface,
    Lease,
    Namespace,
    Node,
    Pod,
    ProbeWarning,
    Route,
    Topology,
    fdb_key,
    freeze,
    namespace_order,
    route_key,
)

__all__ = ["from_raw", "name_and_kind"]

# iproute2's names for the numbers netlink gives (lib/rt_names.c).
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 16: "dhcp"}
ROUTE_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast",
               6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
NUD_NOARP = 0x40

Raw = dict[str, Any]


def name_and_kind(e: Raw) -> tuple[str, str]:
    """What a learner calls one raw namespace, and which kind of namespace it is."""
    if e.get("lab"):
        return "lab", "lab"
    containers = e.get("containers") or []
    pod = _pod(containers)
    if pod is not None:  # a Kubernetes pod: known by its name, as kubectl shows it
        return (pod.name if pod.namespace == "default" else str(pod)), "pod"
    if containers:
        # The container that owns the sandbox, not one that joined it (--network container:).
        owners = [c for c in containers
                  if not str(c.get("network_mode", "")).startswith("container:")]
        return (owners or containers)[0]["name"], "container"
    if e.get("netns"):
        return e["netns"][0], "netns"
    if e.get("sandboxes"):
        return f"docker:{e['sandboxes'][0]}", "docker"
    proc = e.get("process") or {}
    if proc.get("containerd"):  # a containerd task (`ctr run`): its id, "lab/web" -> "web"
        return proc["containerd"].split("/", 1)[-1], "process"
    return f"pid {proc.get('pid', '?')}", "process"


def _pod(containers: list[Raw]) -> Pod | None:
    """The pod whose pause container owns this namespace (dockershim's labels), if any."""
    sandbox = next((c for c in containers
                    if (c.get("pod") or {}).get("type") == "podsandbox"), None)
    if sandbox is None:
        return None
    p = sandbox["pod"]
    return Pod(name=p["name"], namespace=p["namespace"], pause=sandbox["name"],
               containers=tuple(sorted(c["pod"]["container"] for c in containers
                                       if (c.get("pod") or {}).get("type") == "container"
                                       and c["pod"]["name"] == p["name"])))


def _node_of(e: Raw, nodes: set[str]) -> str | None:
    """The node a namespace is on: its engine's, or, for a node's own, its `ip netns` name."""
    on = {c["node"] for c in e.get("containers") or [] if c.get("node")}
    if on:
        return sorted(on)[0]
    return next((n for n in e.get("netns") or [] if n in nodes), None)


def from_raw(raw: Raw) -> Topology:
    """Link a raw scan into a Topology: names, veth peers across namespaces, masters, NAT."""
    warnings = [ProbeWarning(w["message"], w.get("namespace"), w.get("interface"),
                             w.get("level", "warning")) for w in raw.get("warnings", [])]
    entries = raw.get("namespaces", [])
    names, ns_kinds = _names(entries)
    by_index = {e["inode"]: {lk["index"]: lk for lk in e.get("links", [])} for e in entries}
    bridge_alias = {n["bridge"]: n["name"] for n in raw.get("docker_networks", [])
                    if n.get("bridge")}
    nodes = tuple(Node(n["name"], tuple(n.get("programs", ())), n.get("engine") is not None)
                  for n in sorted(raw.get("nodes", ()), key=lambda n: n["name"]))
    node_names = {n.name for n in nodes}
    namespaces = []
    http_routes: list[HttpRoute] = []
    for e in entries:
        scope = kinds.Scope(e, names, by_index, frozenset(_uplinks(e)))
        kind = ns_kinds[e["inode"]]
        interfaces = _interfaces(scope, bridge_alias if kind == "lab" else {}, warnings)
        ns = _namespace(e, scope.name, kind, interfaces, scope.links)
        node = _node_of(e, node_names)
        if node is not None:
            ns = replace(ns, node=node, pod=_pod(e.get("containers") or []))
        namespaces.append(ns)
        http_routes += _http_routes(e, ns.name, warnings)
    namespaces.sort(key=namespace_order)
    services = merge({n["name"]: services_from_save(n["iptables"])
                      for n in raw.get("nodes", ()) if n.get("iptables")})

    rules = parse_iptables_save(raw["nat"]) if raw.get("nat") else []
    proxies = (proxy_from_argv(argv) for argv in raw.get("proxies", ()))
    return Topology(
        namespaces=tuple(namespaces),
        port_mappings=tuple(port_mappings(rules, follow=True)),
        masquerades=tuple(masquerades(rules)),
        forward_policy=policy(raw["filter"], "FORWARD") if raw.get("filter") else None,
        bridge_nf=_bridge_nf(raw),
        proxies=tuple(sorted({p for p in proxies if p is not None}, key=str)),
        leases=tuple(sorted(Lease(**lease) for lease in raw.get("cni_leases", ()))),
        nodes=nodes,
        services=services,
        http_routes=resolve(sorted(http_routes, key=route_order), services),
        warnings=tuple(sorted(set(warnings), key=lambda w: (
            w.level, w.namespace or "", w.interface or "", w.message))),
        probe=tuple(sorted((k, freeze(v)) for k, v in (raw.get("probe") or {}).items())),
    )


def _http_routes(e: Raw, name: str, warnings: list[ProbeWarning]) -> list[HttpRoute]:
    """The routes of each nginx proxy's config in this namespace (probe/nginx.py); a file
    that does not parse is a warning (nginx -t would refuse it too), not a failed scan."""
    out: list[HttpRoute] = []
    for c in e.get("containers") or []:
        conf = c.get("nginx")
        if conf is None:
            continue
        try:
            if "error" in conf:
                raise NginxSyntaxError(conf["error"])
            out += routes_from_conf(name, conf["text"])
        except NginxSyntaxError as err:
            warnings.append(ProbeWarning(
                f"nginx's {conf['path']} in container {c['name']} could not be read ({err}): "
                "its routes are not drawn", name))
    return out


def _bridge_nf(raw: Raw) -> str | None:
    """br_netfilter's state from the lab's sysctls: None when the scan did not read them."""
    if "sysctl" not in raw:
        return None
    value = raw["sysctl"].get("net.bridge.bridge-nf-call-iptables")
    return "not loaded" if value is None else "off" if value == "0" else "on"


def _names(entries: list[Raw]) -> tuple[dict[int, str], dict[int, str]]:
    """Each namespace's name and kind, by inode; a name taken twice gets its inode added."""
    names: dict[int, str] = {}
    ns_kinds: dict[int, str] = {}
    for e in entries:
        name, kind = name_and_kind(e)
        if name in names.values():
            name = f"{name} ({kind} {e['inode']})"
        names[e["inode"]] = name
        ns_kinds[e["inode"]] = kind
    return names, ns_kinds


def _uplinks(e: Raw) -> set[int]:
    """The lab's own links to the machine (Docker gave the lab container eth0): addressed or
    routed by, with no peer the probe can reach. Expected, so their warnings are only "info"."""
    if not e.get("lab"):
        return set()
    uplinks = {a["index"] for a in e.get("addrs", []) if a.get("scope", 0) == 0}
    return uplinks | {r["oif"] for r in e.get("routes", []) if not r.get("dst_len")}


def _addresses(e: Raw) -> dict[int, list[Address]]:
    addrs: dict[int, list[Address]] = {}
    for a in e.get("addrs", []):
        addrs.setdefault(a["index"], []).append(Address(
            a["address"], a["prefixlen"], a.get("family", 4),
            SCOPES.get(a.get("scope", 0), str(a.get("scope")))))
    return addrs


def _interfaces(scope: kinds.Scope, bridge_alias: dict[str, str],
                warnings: list[ProbeWarning]) -> list[Interface]:
    """Every link of one namespace, linked by its kind's resolve step."""
    links = scope.links
    addrs = _addresses(scope.entry)
    out = []
    for lk in sorted(links.values(), key=lambda x: x["index"]):
        r = kinds.resolve(lk, scope)
        if r.problem:
            warnings.append(ProbeWarning(r.problem[0], scope.name, lk["name"], r.problem[1]))
        out.append(Interface(
            name=lk["name"], index=lk["index"], kind=lk["kind"],
            state=lk.get("operstate") or "UNKNOWN", up=bool(lk.get("up")),
            mac=lk.get("mac"), mtu=lk.get("mtu"),
            addresses=tuple(sorted(addrs.get(lk["index"], []),
                                   key=lambda a: (a.family, a.address, a.prefixlen))),
            master=links.get(lk.get("master") or -1, {}).get("name"),
            peer=r.peer, lower=r.lower,
            alias=bridge_alias.get(lk["name"]),
            info=tuple(sorted(r.info.items())),
        ))
    return out


def _routes(e: Raw, links: dict[int, Raw]) -> list[Route]:
    routes = []
    for r in e.get("routes", []):
        dst = "default" if not r.get("dst_len") else f"{r['dst']}/{r['dst_len']}"
        routes.append(Route(
            dst=dst, dev=links.get(r.get("oif") or -1, {}).get("name"),
            gateway=r.get("gateway"), prefsrc=r.get("prefsrc"),
            protocol=PROTOCOLS.get(r.get("protocol", 0), str(r.get("protocol"))),
            scope=SCOPES.get(r.get("scope", 0), str(r.get("scope"))),
            type=ROUTE_TYPES.get(r.get("type", 1), str(r.get("type"))),
            family=r.get("family", 4)))
    return routes


def _fdb(e: Raw, links: dict[int, Raw]) -> list[FdbEntry]:
    return [FdbEntry(
        mac=f["mac"], bridge=links.get(f["bridge"], {}).get("name", str(f["bridge"])),
        port=links.get(f["port"], {}).get("name", str(f["port"])), vlan=f.get("vlan"),
        state="static" if f.get("state", 0) & NUD_NOARP else "learned")
        for f in e.get("fdb", [])]


def _namespace(e: Raw, name: str, kind: str, interfaces: list[Interface],
               links: dict[int, Raw]) -> Namespace:
    proc = e.get("process") or {}
    return Namespace(
        name=name, kind=kind, inode=e["inode"],
        containers=tuple(Container(c["name"], c["id"][:12], c.get("network_mode", ""),
                                   tuple(c.get("networks", ())), c.get("image", ""))
                         for c in e.get("containers", [])),
        netns=tuple(e.get("netns", ())),
        pid=proc.get("pid") if kind == "process" else None,
        command=proc.get("comm") if kind == "process" else None,
        interfaces=tuple(interfaces),
        routes=tuple(sorted(set(_routes(e, links)), key=route_key)),
        fdb=tuple(sorted(set(_fdb(e, links)), key=fdb_key)),
    )
