"""Finding the lab's network namespaces, every way each one is known, one entry per inode.

Each entry: inode, path (to open it), and every way it is known: the lab's own, docker
containers, `ip netns` names, docker sandbox files, holding processes. Only reads /proc,
the namespace folders and the inner dockerd's API; no pyroute2.
"""

from __future__ import annotations

import os
from typing import Any

from labkit.probe.docker import Docker
from labkit.probe.netns import DOCKER_NETNS_DIR, NETNS_DIRS, ns_inode, nsfs_dev
from labkit.probe.nginx import nginx_config
from labkit.probe.nodes import node_programs, raw_nodes

Entry = dict[str, Any]


def warning(message: str, namespace: str | None = None) -> dict[str, Any]:
    """A raw warning, as the raw scan stores it (docs/snapshot-format.md)."""
    return {"level": "warning", "namespace": namespace, "interface": None, "message": message}


class _Found:
    """The namespaces found so far, by inode."""

    def __init__(self) -> None:
        self.by_inode: dict[int, Entry] = {}
        self.nsfs = nsfs_dev()

    def add(self, path: str, **known: Any) -> Entry | None:
        """Record `path`'s namespace and how it is known; None when it is no namespace."""
        ino = ns_inode(path, self.nsfs)
        if ino is None:
            return None
        entry = self.by_inode.setdefault(ino, {
            "inode": ino, "path": path, "lab": False, "containers": [], "netns": [],
            "sandboxes": [], "pids": []})
        for key, value in known.items():
            if key == "lab":
                entry["lab"] = True
            else:
                entry[key].append(value)
        return entry


def discover(docker: Docker | None, warnings: list[dict[str, Any]],
             nodes: list[dict[str, Any]] | None = None,
             engines: dict[str, Docker] | None = None) -> list[Entry]:
    """Every network namespace reachable in the lab, one entry per inode.

    `nodes`, when given, gets the Kubernetes nodes found (probe/nodes.py), whose engines'
    containers are listed like the lab's, each tagged with its node; `engines` keeps those
    engines' clients (and their caches) from one scan to the next."""
    found = _Found()
    # The lab's own namespace: the one its pid 1 (tini) lives in, or, in a lab without a pid
    # namespace of its own (rootless, namespace-only), its holder's (LABKIT_INIT_PID).
    holder = os.environ.get("LABKIT_INIT_PID")
    found.add(f"/proc/{holder or 1}/ns/net", lab=True)
    if docker is not None:
        _containers(found, docker, warnings)
    _named(found)
    if nodes is not None:
        _nodes(found, nodes, engines if engines is not None else {}, warnings,
               os.readlink("/proc/self/ns/user") if holder else None)
    _held(found, os.environ.get("LABKIT_NETNS_DIR"))
    _sandboxes(found)
    _processes(found, os.readlink("/proc/self/ns/user") if holder else None)
    # --network host containers share the lab's namespace; docker reports them without a
    # sandbox, and _containers has already put them on the lab's entry.
    return [_finish(e) for e in found.by_inode.values()]


def _containers(found: _Found, docker: Docker, warnings: list[dict[str, Any]],
                node: str | None = None) -> None:
    try:
        containers = docker.containers()
    except (OSError, ValueError, KeyError) as e:
        whose = f"node {node}'s" if node else "the lab's"
        warnings.append(warning(f"could not ask {whose} dockerd for containers ({e})", node))
        return
    for c in containers:
        if node is not None:
            c = {**c, "node": node}
        conf = nginx_config(c["pid"]) if c["pid"] else None
        if conf is not None:  # a proxy's own config (lesson 14's our-ingress)
            c = {**c, "nginx": conf}
        paths = [c["sandbox"]] if c["sandbox"] else []
        if c["pid"]:
            paths.append(f"/proc/{c['pid']}/ns/net")
        if not any(found.add(p, containers=c) is not None for p in paths):
            warnings.append(warning("container is running but its namespace is gone",
                                    c["name"]))


def _nodes(found: _Found, nodes: list[dict[str, Any]], engines: dict[str, Docker],
           warnings: list[dict[str, Any]], userns: str | None) -> None:
    """The Kubernetes nodes among the named namespaces, and their engines' containers."""
    named = {ino: e["netns"][0] for ino, e in found.by_inode.items()
             if e["netns"] and not e["lab"]}
    nodes += raw_nodes(node_programs(named, userns))
    for node in nodes:
        engine = node["engine"]
        socket = engine["socket"] if engine else None
        if socket is None:
            continue
        if socket not in engines:
            engines[socket] = Docker(socket, root=f"/proc/{engine['pid']}/root")
        _containers(found, engines[socket], warnings, node["name"])
    for gone in set(engines) - {n["engine"]["socket"] for n in nodes if n["engine"]}:
        del engines[gone]


def _named(found: _Found) -> None:
    """`ip netns` names."""
    for d in NETNS_DIRS:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            e = found.add(os.path.join(d, name), netns=name)
            # /run and /var/run are one folder on Debian: count each name once.
            if e is not None and e["netns"].count(name) > 1:
                e["netns"].remove(name)


def _held(found: _Found, held: str | None) -> None:
    """The namespace-only lab names namespaces held by processes (scripts/netns-lab.sh):
    one file per name holding "pid inode"."""
    for name in sorted(os.listdir(held)) if held and os.path.isdir(held) else []:
        try:
            with open(os.path.join(held, name)) as f:
                pid, ino = f.read().split()
        except (OSError, ValueError):
            continue
        if str(ns_inode(f"/proc/{pid}/ns/net", found.nsfs)) == ino:
            found.add(f"/proc/{pid}/ns/net", netns=name)


def _sandboxes(found: _Found) -> None:
    try:
        names = sorted(os.listdir(DOCKER_NETNS_DIR))
    except OSError:
        return
    for name in names:
        found.add(os.path.join(DOCKER_NETNS_DIR, name), sandboxes=name)


def _processes(found: _Found, userns: str | None) -> None:
    """Namespaces held only by a process (unshare -n, a container engine's helpers, ...).

    Without a pid namespace the whole container's processes are visible: only the lab's
    (those in its user namespace `userns`) count."""
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        if userns is not None and not _in_userns(pid, userns):
            continue
        ino = ns_inode(f"/proc/{pid}/ns/net")
        if ino is None:
            continue
        if ino in found.by_inode and not found.by_inode[ino]["pids"]:
            continue  # known another way: the processes in it are not its identity
        found.add(f"/proc/{pid}/ns/net", pids=pid)


def _in_userns(pid: int, userns: str) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/user") == userns
    except OSError:
        return False


def _finish(e: Entry) -> Entry:
    """Sorted, de-duplicated names; the lowest holding pid stands for its processes."""
    e["containers"] = sorted(
        ({"name": c["name"], "id": c["id"], "network_mode": c["network_mode"],
          "networks": c["networks"], "image": c.get("image", ""),
          # a node engine's containers only (probe/nodes.py), an nginx proxy's config
          # (probe/nginx.py): absent elsewhere
          **{k: c[k] for k in ("node", "pod", "nginx") if k in c}} for c in e["containers"]),
        key=lambda c: c["name"])
    e["netns"] = sorted(set(e["netns"]))
    e["sandboxes"] = sorted(set(e["sandboxes"]))
    pids = sorted(e.pop("pids"))
    e["process"] = {"pid": pids[0], "comm": comm(pids[0])} if pids else None
    task = next(filter(None, (containerd_task(parent_argv(p)) for p in pids)), None)
    if task:
        e["process"]["containerd"] = task
    return e


def parent_argv(pid: int) -> list[str]:
    """The command line of `pid`'s parent ([] when either is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            ppid = next(line.split()[1] for line in f if line.startswith("PPid:"))
        with open(f"/proc/{ppid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except (OSError, StopIteration, IndexError):
        return []


def containerd_task(argv: list[str]) -> str | None:
    """For a containerd shim's command line (`containerd-shim-runc-v2 -namespace lab -id web
    -address ...`), the task it runs: "lab/web". None for any other program, and for
    dockerd's own tasks (namespace moby), which the lab knows as Docker containers."""
    if not argv or not os.path.basename(argv[0]).startswith("containerd-shim"):
        return None
    pairs = zip(argv[1:-1], argv[2:], strict=True)
    opts = {a.lstrip("-"): v for a, v in pairs if a.startswith("-")}
    ns, task = opts.get("namespace"), opts.get("id")
    return f"{ns}/{task}" if ns and task and ns != "moby" else None


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"
