"""The probe's orchestrator: read every namespace of the lab into one raw scan.

The scan only reads (netlink dumps, /proc, the inner dockerd's API, `iptables-save`, the
bridge-nf sysctl, docker-proxy's command lines: probe/firewall.py; host-local's leases:
probe/cni.py);
linking what it read (veth peers across namespaces, bridge masters, port mappings to
containers) is the pure pass in `labkit.model.build.from_raw`, as plotnetcfg does it: scan
first, link afterwards, and what cannot be linked becomes a warning in the data.
"""

from __future__ import annotations

import os
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from labkit.model.formats import RAW_FORMAT
from labkit.model.services import services_from_save
from labkit.probe.cni import leases
from labkit.probe.discover import Entry, discover, warning
from labkit.probe.docker import DOCKER_SOCKET, Docker
from labkit.probe.firewall import (
    docker_proxies,
    node_tables,
    start_node_saves,
    start_save,
    sysctls,
    tables,
)
from labkit.probe.netlink import Rtnl
from labkit.probe.netns import inside
from labkit.probe.tables import scan_namespace

SETTLE_TRIES, SETTLE_PAUSE = 10, 0.1  # a lagging operstate: read again, 1 s at most

class Probe:
    """One probe; keeps the docker cache between snapshots."""

    def __init__(self, docker_socket: str = DOCKER_SOCKET, nat: bool = True) -> None:
        # The tables are read by probe/netlink.py, not pyroute2's IPRoute: it decoded every
        # attribute, ~85 % of a scan at 100 containers (docs/benchmarks.md). pyroute2 is
        # imported once here for setns (netns.inside), so a missing one fails at start.
        import pyroute2.netns  # noqa: F401

        self._socket = Rtnl
        self.docker = Docker(docker_socket) if os.path.exists(docker_socket) else None
        self.engines: dict[str, Docker] = {}  # Kubernetes nodes' own (probe/nodes.py)
        self.nat = nat

    def scan(self) -> dict[str, Any]:
        """Read everything; return the raw scan (JSON-able, see docs/snapshot-format.md)."""
        t0 = time.perf_counter()
        warnings: list[dict[str, Any]] = []
        # iptables-save runs while netlink is read; its ~10 ms then cost nothing.
        save = start_save(warnings) if self.nat else None
        docker_networks: list[dict[str, Any]] = []
        if self.docker is not None:
            try:
                docker_networks = self.docker.networks()
            except (OSError, ValueError, KeyError) as e:
                warnings.append(warning(f"could not list the lab's docker networks ({e})"))
        nodes: list[dict[str, Any]] = []
        entries = discover(self.docker, warnings, nodes, self.engines)
        # the nodes' iptables-save too runs while netlink is read (~40 ms with 10 Services)
        node_saves = start_node_saves(nodes, warnings) if nodes else {}
        read: list[dict[str, Any]] = []
        namespaces = self._read_all(entries, read)
        # A veth set up a moment ago may show its carrier but not yet its operstate; read
        # again (at most 1 s): the diagram after the cell, not the next one, shows it UP.
        for _ in range(SETTLE_TRIES):
            if not self._settling:
                break
            time.sleep(SETTLE_PAUSE)
            read = []
            namespaces = self._read_all([dict(e) for e in entries], read)
        warnings += read
        if nodes:
            warnings += node_reads(nodes, node_saves)
        userns = os.readlink("/proc/self/ns/user") if os.environ.get("LABKIT_INIT_PID") else None
        proxies = docker_proxies(userns)
        texts = tables(save, warnings) if save is not None else {}
        out = {
            "raw_format": RAW_FORMAT,
            "namespaces": namespaces,
            "docker_networks": docker_networks,
            "nat": texts.get("nat"),
            "filter": texts.get("filter"),
            "sysctl": sysctls(),
            "proxies": proxies,
            "cni_leases": leases(),
            "warnings": warnings,
            "probe": {"elapsed_ms": round((time.perf_counter() - t0) * 1000, 1),
                      "pyroute2": pyroute2_version()},
        }
        if nodes:  # only a lab with a Kubernetes cluster in it: other scans stay as they were
            out["nodes"] = nodes
        return out

    def _read_all(self, entries: list[Entry], warnings: list[dict[str, Any]]) -> list[Entry]:
        self._settling: list[str] = []
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fds: dict[int, int] = {}
        sockets: dict[int, Any] = {}
        try:
            self._open_all(entries, home, fds, sockets)
            out = []
            for e in entries:
                ipr = sockets.get(e["inode"])
                if ipr is None:
                    warnings.append(warning(f"could not enter namespace {e['path']} "
                                            f"({e.get('error', 'unknown error')})"))
                    continue
                e.pop("error", None)
                # A namespace that vanished mid-read fails with an OSError from netlink or a
                # parser error; whichever it is, the other namespaces still count.
                try:
                    e.update(scan_namespace(ipr, self._settling))
                except Exception as err:  # noqa: BLE001 - one namespace gone, not the scan
                    warnings.append(warning(f"reading {e['path']} failed: {err}"))
                    continue
                out.append(e)
            map_netnsids(out, fds, sockets)
            return out
        finally:
            for s in sockets.values():
                s.close()
            for fd in fds.values():
                os.close(fd)
            os.close(home)

    def _open_all(self, entries: list[Entry], home: int, fds: dict[int, int],
                  sockets: dict[int, Any]) -> None:
        """An fd and a netlink socket for every namespace; failures are noted on the entry."""
        for e in entries:
            try:
                fds[e["inode"]] = os.open(e["path"], os.O_RDONLY)
            except OSError as err:
                # Gone between discovery and now (a process exited): nothing to read.
                e["error"] = str(err)
        for ino, fd in fds.items():
            try:
                with inside(fd, home):
                    sockets[ino] = self._socket()
            except OSError as err:
                next(e for e in entries if e["inode"] == ino)["error"] = str(err)


def node_reads(nodes: list[dict[str, Any]],
               started: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Read each node's iptables (probe/firewall.py `node_tables`; the first time from the
    processes `started` earlier, if given); its warnings. The kube-proxies of two workers
    write a change a few ms apart: when their Services differ (one caught before its sync),
    read again, 1 s at most, so the picture after a cell that made a Service shows it on
    both, not on one by chance."""
    for _ in range(SETTLE_TRIES):
        warnings: list[dict[str, Any]] = []
        node_tables(nodes, warnings, started)
        started = None
        texts = [n["iptables"] for n in nodes if n.get("iptables")]
        # the same kube-proxy rules: the same Services, without parsing them (half the
        # scan's time with 10 Services); different rules may still be the same Services
        if (len({kube_rules(t) for t in texts}) <= 1
                or len({tuple(services_from_save(t)) for t in texts}) <= 1):
            break
        time.sleep(SETTLE_PAUSE)
    return warnings


def kube_rules(text: str) -> frozenset[tuple[str, tuple[str, ...]]]:
    """The KUBE-* chains' rules of an iptables-save text, by chain: in order within a
    KUBE-SVC chain (its order gives the shares), as a set elsewhere (kube-proxy writes
    KUBE-SERVICES in map order)."""
    chains: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("-A KUBE-"):
            chains.setdefault(line.split(" ", 2)[1], []).append(line)
    return frozenset((c, tuple(v if c.startswith("KUBE-SVC-") else sorted(v)))
                     for c, v in chains.items())


def map_netnsids(entries: list[Entry], fds: dict[int, int], sockets: dict[int, Any]) -> None:
    """Record, per namespace, which namespace each netnsid its links use stands for.

    RTM_GETNSID with NETNSA_FD asks "what id did you give this other namespace?" (the kernel
    only reads: no id is allocated). Ask the likely candidate first (the lab for a container,
    every other namespace for the lab), so this stays ~2 queries per container.
    """
    lab = next((e for e in entries if e["lab"]), None)
    for e in entries:
        wanted = {lk["link_netnsid"] for lk in e["links"] if lk["link_netnsid"] is not None}
        e["netnsids"] = {}
        if not wanted:
            continue
        ipr = sockets[e["inode"]]
        candidates = [o for o in entries if o is not e]
        if lab is not None and lab is not e:
            candidates.sort(key=lambda o: o is not lab)
        for o in candidates:
            # Any failure (NetlinkError, a namespace gone) means "not this one".
            try:
                nsid = ipr.get_netnsid(fd=fds[o["inode"]])["nsid"]
            except Exception:  # noqa: BLE001 - try the next candidate
                continue
            if nsid is not None and nsid in wanted:
                e["netnsids"][str(nsid)] = o["inode"]
                wanted.discard(nsid)
                if not wanted:
                    break


def pyroute2_version() -> str:
    try:
        return version("pyroute2")
    except PackageNotFoundError:
        return "unknown"
