"""Kubernetes nodes in the lab (k8s/k8s-lab.sh): `ip netns` namespaces in which a node's
own dockerd or a Kubernetes program runs. Only reads /proc; the node engines' containers are
listed by probe/discover.py as the lab engine's are, each tagged with its node.

A node is found by what runs in it, never by its name: kube-master (etcd, kube-apiserver,
...) and each worker (its dockerd, kubelet, kube-proxy). The lab's own dockerd runs in the
lab's namespace, which has no `ip netns` name, so it is no node.
"""

from __future__ import annotations

import os
from typing import Any

from labkit.probe.docker import DOCKER_SOCKET, in_root

#: what makes a named namespace a node (argv[0]'s name; /proc/PID/comm keeps 15 characters)
NODE_PROGRAMS = ("dockerd", "etcd", "kube-apiserver", "kube-controller-manager",
                 "kube-scheduler", "kubelet", "kube-proxy")
_COMMS = {p[:15] for p in NODE_PROGRAMS}


def node_programs(named: dict[int, str], userns: str | None = None
                  ) -> dict[str, list[tuple[str, int]]]:
    """For each named namespace (inode -> its `ip netns` name) in which a node program runs:
    (program, pid) of each, sorted. `userns`: only processes in that user namespace (a lab
    without a pid namespace of its own sees the whole machine's)."""
    out: dict[str, list[tuple[str, int]]] = {}
    if not named:
        return out
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/comm") as f:
                if f.read().strip() not in _COMMS:
                    continue
            if userns is not None and os.readlink(f"/proc/{name}/ns/user") != userns:
                continue
            ino = os.stat(f"/proc/{name}/ns/net").st_ino
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        program = os.path.basename(argv0)
        if ino in named and program in NODE_PROGRAMS:
            out.setdefault(named[ino], []).append((program, int(name)))
    return {k: sorted(v) for k, v in sorted(out.items())}


def engine_socket(pid: int) -> str | None:
    """The unix socket of the dockerd `pid`, from here (through its own root: the node's
    mount namespace has a /run of its own); None when it listens on none."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return None
    hosts = []
    for i, a in enumerate(argv):
        if a in ("-H", "--host") and i + 1 < len(argv):
            hosts.append(argv[i + 1])
        elif a.startswith("--host=") or a.startswith("-H="):
            hosts.append(a.split("=", 1)[1])
    paths = [h.removeprefix("unix://") for h in hosts if h.startswith("unix://")]
    if hosts and not paths:
        return None
    return in_root(f"/proc/{pid}/root", paths[0] if paths else DOCKER_SOCKET)


def raw_nodes(programs: dict[str, list[tuple[str, int]]]) -> list[dict[str, Any]]:
    """The raw scan's `nodes`: name, the programs running in it, its engine (dockerd's pid
    and socket), or None for a node without one (kube-master), and its kube-proxy's pid (the
    scan reads that node's iptables through it: probe/firewall.py `node_tables`)."""
    out = []
    for name, procs in programs.items():
        engine = next((pid for program, pid in procs if program == "dockerd"), None)
        proxy = next((pid for program, pid in procs if program == "kube-proxy"), None)
        socket = engine_socket(engine) if engine is not None else None
        out.append({"name": name, "programs": sorted({p for p, _ in procs}),
                    "engine": {"pid": engine, "socket": socket} if engine is not None
                    else None,
                    "kube_proxy": {"pid": proxy} if proxy is not None else None})
    return out

