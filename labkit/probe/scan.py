"""The topology probe: runs inside the lab and reads every network namespace it holds.

Runs with the lab's own python3 (Debian bookworm: 3.11) and python3-pyroute2 (0.7); it needs
nothing else, so it may import only the stdlib, pyroute2 and labkit's pure modules
(topology, nat). Usage inside the lab:

    python3 -m labkit.probe            # print one snapshot (JSON, format 1) and exit
    python3 -m labkit.probe --raw      # print the raw scan instead (what tests record)
    python3 -m labkit.probe --serve    # keep running: one request line in, one JSON line out

The scan only reads (netlink dumps, /proc, the inner dockerd's API, `iptables-save -t nat`);
linking what it read (veth peers across namespaces, bridge masters, port mappings to
containers) is the pure pass in `labkit.topology.from_raw`, as plotnetcfg does it:
scan first, link afterwards, and what cannot be linked becomes a warning in the data.

How namespaces are entered: the scanning thread `setns()`s into a namespace just long enough
to open a netlink socket there (a socket stays bound to the namespace it was made in), then
returns. No helper process per namespace (pyroute2's NetNS forks one: ~10x slower).
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from labkit.model.formats import RAW_FORMAT

CLONE_NEWNET = 0x40000000
AF_BRIDGE = 7
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
NUD_PERMANENT = 0x80
RT_TABLE_MAIN = 254

DOCKER_SOCKET = "/var/run/docker.sock"
NETNS_DIRS = ("/run/netns", "/var/run/netns")
DOCKER_NETNS_DIR = "/var/run/docker/netns"


# --- entering namespaces -------------------------------------------------------------------

def _libc_setns() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)

    def setns(fd: int, nstype: int) -> None:
        if libc.setns(fd, nstype) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    return setns


# os.setns exists from Python 3.12; the lab's 3.11 needs libc.
_setns = getattr(os, "setns", None) or _libc_setns()


@contextmanager
def _inside(ns_fd: int, home_fd: int) -> Iterator[None]:
    """Run the block with this thread in the namespace `ns_fd`, then always come back."""
    _setns(ns_fd, CLONE_NEWNET)
    try:
        yield
    finally:
        _setns(home_fd, CLONE_NEWNET)


def _nsfs_dev() -> int:
    return os.stat("/proc/self/ns/net").st_dev


def _ns_inode(path: str, nsfs_dev: int | None = None) -> int | None:
    """The namespace's inode, or None when `path` is gone or not a namespace at all (a
    left-over file in /var/run/docker/netns or /run/netns whose bind mount is gone)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if nsfs_dev is not None and st.st_dev != nsfs_dev:
        return None
    return st.st_ino


# --- finding namespaces --------------------------------------------------------------------

class _Docker:
    """The inner dockerd's API over its unix socket (stdlib http.client; ~1 ms a request).

    Container details (pid, sandbox path) are cached by container id: they cannot change
    while the container runs, and the cache is checked against /proc on every refresh.
    """

    def __init__(self, path: str = DOCKER_SOCKET) -> None:
        self.path = path
        self._inspect: dict[str, dict[str, Any]] = {}

    def _get(self, url: str) -> Any:
        conn = http.client.HTTPConnection("docker", timeout=5)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(self.path)
        conn.sock = sock
        try:
            conn.request("GET", url)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise OSError(f"dockerd answered {resp.status} to GET {url}")
            return json.loads(body)
        finally:
            conn.close()

    def containers(self) -> list[dict[str, Any]]:
        """Running containers: name, id, network mode, pid, sandbox path, networks."""
        out = []
        listed = self._get("/containers/json")
        alive = set()
        for c in listed:
            cid = c["Id"]
            alive.add(cid)
            info = self._inspect.get(cid)
            if info is None or not _still_there(info):
                full = self._get(f"/containers/{cid}/json")
                info = {
                    "pid": full["State"].get("Pid") or 0,
                    "sandbox": full["NetworkSettings"].get("SandboxKey") or "",
                    "started": full["State"].get("StartedAt", ""),
                }
                self._inspect[cid] = info
            out.append({
                "name": c["Names"][0].lstrip("/") if c.get("Names") else cid[:12],
                "id": cid,
                "network_mode": (c.get("HostConfig") or {}).get("NetworkMode", ""),
                "networks": sorted((c.get("NetworkSettings") or {}).get("Networks") or {}),
                "pid": info["pid"],
                "sandbox": info["sandbox"],
            })
        for gone in set(self._inspect) - alive:
            del self._inspect[gone]
        return out

    def networks(self) -> list[dict[str, Any]]:
        """Docker networks with the bridge device each one uses (docker0, br-<id>)."""
        out = []
        for n in self._get("/networks"):
            bridge = None
            if n.get("Driver") == "bridge":
                bridge = (n.get("Options") or {}).get("com.docker.network.bridge.name") or (
                    "br-" + n["Id"][:12])
            subnets = [c.get("Subnet") for c in (n.get("IPAM") or {}).get("Config") or []
                       if c.get("Subnet")]
            out.append({"name": n["Name"], "id": n["Id"], "driver": n.get("Driver"),
                        "bridge": bridge, "subnets": subnets})
        return out


def _still_there(info: dict[str, Any]) -> bool:
    if info["sandbox"]:
        return os.path.exists(info["sandbox"])
    return info["pid"] > 0 and os.path.exists(f"/proc/{info['pid']}")


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def discover(docker: _Docker | None, warnings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every network namespace reachable in the lab, one entry per inode.

    Each entry: inode, path (to open it), and every way it is known: the lab's own, docker
    containers, `ip netns` names, docker sandbox files, holding processes.
    """
    by_inode: dict[int, dict[str, Any]] = {}
    nsfs = _nsfs_dev()

    def add(path: str, **known: Any) -> dict[str, Any] | None:
        ino = _ns_inode(path, nsfs)
        if ino is None:
            return None
        entry = by_inode.setdefault(ino, {
            "inode": ino, "path": path, "lab": False, "containers": [], "netns": [],
            "sandboxes": [], "pids": []})
        for key, value in known.items():
            if key == "lab":
                entry["lab"] = True
            else:
                entry[key].append(value)
        return entry

    # The lab's own namespace: the one its pid 1 (tini) lives in, or, in a lab without a pid
    # namespace of its own (rootless, namespace-only), its holder's (LABKIT_INIT_PID).
    holder = os.environ.get("LABKIT_INIT_PID")
    add(f"/proc/{holder or 1}/ns/net", lab=True)

    if docker is not None:
        try:
            containers = docker.containers()
        except (OSError, ValueError, KeyError) as e:
            warnings.append({"level": "warning", "namespace": None, "interface": None,
                             "message": f"could not ask the lab's dockerd for containers ({e})"})
            containers = []
        for c in containers:
            paths = [c["sandbox"]] if c["sandbox"] else []
            if c["pid"]:
                paths.append(f"/proc/{c['pid']}/ns/net")
            for p in paths:
                if add(p, containers=c) is not None:
                    break
            else:
                warnings.append({"level": "warning", "namespace": c["name"], "interface": None,
                                 "message": "container is running but its namespace is gone"})

    for d in NETNS_DIRS:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            e = add(os.path.join(d, name), netns=name)
            # /run and /var/run are one folder on Debian: count each name once.
            if e is not None and e["netns"].count(name) > 1:
                e["netns"].remove(name)
    # The namespace-only lab names namespaces held by processes (scripts/netns-lab.sh).
    held = os.environ.get("LABKIT_NETNS_DIR")
    for name in sorted(os.listdir(held)) if held and os.path.isdir(held) else []:
        try:
            pid, ino = open(os.path.join(held, name)).read().split()
        except (OSError, ValueError):
            continue
        if str(_ns_inode(f"/proc/{pid}/ns/net", nsfs)) == ino:
            add(f"/proc/{pid}/ns/net", netns=name)
    try:
        for name in sorted(os.listdir(DOCKER_NETNS_DIR)):
            add(os.path.join(DOCKER_NETNS_DIR, name), sandboxes=name)
    except OSError:
        pass

    # Namespaces held only by a process (unshare -n, a container engine's helpers, ...).
    me = os.getpid()
    # Without a pid namespace the whole container's processes are visible: only the lab's
    # (those in its user namespace) count.
    userns = os.readlink("/proc/self/ns/user") if holder else None
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        if userns is not None:
            try:
                if os.readlink(f"/proc/{pid}/ns/user") != userns:
                    continue
            except OSError:
                continue
        ino = _ns_inode(f"/proc/{pid}/ns/net")
        if ino is None:
            continue
        if ino in by_inode and not by_inode[ino]["pids"]:
            continue  # known another way: the processes in it are not its identity
        add(f"/proc/{pid}/ns/net", pids=pid)

    entries = list(by_inode.values())
    for e in entries:
        e["containers"] = sorted(
            ({"name": c["name"], "id": c["id"], "network_mode": c["network_mode"],
              "networks": c["networks"]} for c in e["containers"]),
            key=lambda c: c["name"])
        e["netns"] = sorted(set(e["netns"]))
        e["sandboxes"] = sorted(set(e["sandboxes"]))
        pids = sorted(e.pop("pids"))
        e["process"] = {"pid": pids[0], "comm": _comm(pids[0])} if pids else None
    # --network host containers share the lab's namespace; docker reports them without a
    # sandbox, and the loop above has already put them on the lab's entry.
    return entries


# --- reading one namespace -----------------------------------------------------------------

def _attrs(msg: Any) -> dict[str, Any]:
    # Last one wins, which is what iproute2 shows for repeated attributes.
    return dict(msg["attrs"])


def _link_info(attrs: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    info = attrs.get("IFLA_LINKINFO")
    if not info:
        return None, {}
    la = dict(info["attrs"])
    kind = la.get("IFLA_INFO_KIND")
    data = la.get("IFLA_INFO_DATA")
    handler = KIND_SCANNERS.get(kind)
    if handler is None or not data or isinstance(data, (str, bytes)):
        return kind, {}
    try:
        return kind, handler(dict(data["attrs"]))
    except (KeyError, TypeError):
        return kind, {}


def _scan_vxlan(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (
        ("id", d.get("IFLA_VXLAN_ID")),
        ("remote", d.get("IFLA_VXLAN_GROUP") or d.get("IFLA_VXLAN_GROUP6")),
        ("local", d.get("IFLA_VXLAN_LOCAL") or d.get("IFLA_VXLAN_LOCAL6")),
        ("dstport", d.get("IFLA_VXLAN_PORT")),
        ("dev_index", d.get("IFLA_VXLAN_LINK")),
    ) if v is not None}


def _scan_bridge(d: dict[str, Any]) -> dict[str, Any]:
    return {"stp": int(d.get("IFLA_BR_STP_STATE") or 0),
            "vlan_filtering": int(d.get("IFLA_BR_VLAN_FILTERING") or 0)}


def _scan_vlan(d: dict[str, Any]) -> dict[str, Any]:
    return {"id": d.get("IFLA_VLAN_ID")}


def _scan_tun(d: dict[str, Any]) -> dict[str, Any]:
    t = d.get("IFLA_TUN_TYPE")
    return {"type": {1: "tun", 2: "tap"}.get(t, t)} if t is not None else {}


# One small reader per device kind (plotnetcfg's handler table). Kinds without one still
# appear with their common fields; adding a kind never touches another kind's code.
KIND_SCANNERS = {
    "vxlan": _scan_vxlan,
    "bridge": _scan_bridge,
    "vlan": _scan_vlan,
    "tun": _scan_tun,
}


def scan_links(ipr: Any) -> list[dict[str, Any]]:
    links = []
    for m in ipr.get_links():
        a = _attrs(m)
        kind, info = _link_info(a)
        flags = m["flags"]
        if kind is None:
            kind = "loopback" if flags & IFF_LOOPBACK else "device"
        link = {
            "index": m["index"],
            "name": a.get("IFLA_IFNAME"),
            "kind": kind,
            "operstate": a.get("IFLA_OPERSTATE", "UNKNOWN"),
            "up": bool(flags & IFF_UP),
            "mac": a.get("IFLA_ADDRESS"),
            "mtu": a.get("IFLA_MTU"),
            "master": a.get("IFLA_MASTER"),
            "link": a.get("IFLA_LINK"),
            "link_netnsid": a.get("IFLA_LINK_NETNSID"),
        }
        if info:
            link["info"] = info
        links.append(link)
    return links


def scan_addrs(ipr: Any) -> list[dict[str, Any]]:
    out = []
    for m in ipr.get_addr():
        a = _attrs(m)
        out.append({
            "index": m["index"],
            "family": 4 if m["family"] == socket.AF_INET else 6,
            "address": a.get("IFA_LOCAL") or a.get("IFA_ADDRESS"),
            "prefixlen": m["prefixlen"],
            "scope": m["scope"],
        })
    return out


def scan_routes(ipr: Any) -> list[dict[str, Any]]:
    out = []
    for m in ipr.get_routes():
        a = _attrs(m)
        table = a.get("RTA_TABLE", m["table"])
        if table != RT_TABLE_MAIN:
            continue
        out.append({
            "family": 4 if m["family"] == socket.AF_INET else 6,
            "dst": a.get("RTA_DST"),
            "dst_len": m["dst_len"],
            "gateway": a.get("RTA_GATEWAY"),
            "oif": a.get("RTA_OIF"),
            "prefsrc": a.get("RTA_PREFSRC"),
            "protocol": m["proto"],
            "scope": m["scope"],
            "type": m["type"],
        })
    return out


def scan_fdb(ipr: Any) -> list[dict[str, Any]]:
    """Bridge forwarding entries the bridges learned (not the permanent own-MAC ones)."""
    out = []
    for m in ipr.get_neighbours(family=AF_BRIDGE):
        a = _attrs(m)
        if a.get("NDA_MASTER") is None or m["state"] & NUD_PERMANENT:
            continue
        out.append({"mac": a.get("NDA_LLADDR"), "port": m["ifindex"],
                    "bridge": a["NDA_MASTER"], "vlan": a.get("NDA_VLAN"),
                    "state": m["state"]})
    return out


# --- the scan ------------------------------------------------------------------------------

class Probe:
    """One probe; keeps the docker cache and pyroute2 loaded between snapshots."""

    def __init__(self, docker_socket: str = DOCKER_SOCKET, nat: bool = True) -> None:
        from pyroute2 import IPRoute  # noqa: F401 - load it once, here (~100-160 ms)

        self._IPRoute = IPRoute
        self.docker = _Docker(docker_socket) if os.path.exists(docker_socket) else None
        self.nat = nat

    def scan(self) -> dict[str, Any]:
        """Read everything; return the raw scan (JSON-able, see docs/snapshot-format.md)."""
        t0 = time.perf_counter()
        warnings: list[dict[str, Any]] = []
        # iptables-save runs while netlink is read; its ~10 ms then cost nothing.
        nat_proc = None
        if self.nat:
            try:
                nat_proc = subprocess.Popen(
                    ["iptables-save", "-t", "nat"], stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True)
            except OSError as e:
                warnings.append({"level": "warning", "namespace": None, "interface": None,
                                 "message": f"cannot run iptables-save ({e})"})
        docker_networks: list[dict[str, Any]] = []
        if self.docker is not None:
            try:
                docker_networks = self.docker.networks()
            except (OSError, ValueError, KeyError) as e:
                warnings.append({"level": "warning", "namespace": None, "interface": None,
                                 "message": f"could not list the lab's docker networks ({e})"})
        entries = discover(self.docker, warnings)
        namespaces = self._read_all(entries, warnings)
        nat_text = None
        if nat_proc is not None:
            out, err = nat_proc.communicate(timeout=10)
            if nat_proc.returncode == 0:
                # Drop iptables-save's "# Generated ... on <date>" lines: they only add noise.
                nat_text = "".join(ln for ln in out.splitlines(True) if not ln.startswith("#"))
            else:
                warnings.append({"level": "warning", "namespace": None, "interface": None,
                                 "message": f"iptables-save -t nat failed: {err.strip()}"})
        return {
            "raw_format": RAW_FORMAT,
            "namespaces": namespaces,
            "docker_networks": docker_networks,
            "nat": nat_text,
            "warnings": warnings,
            "probe": {"elapsed_ms": round((time.perf_counter() - t0) * 1000, 1),
                      "pyroute2": _pyroute2_version()},
        }

    def _read_all(self, entries: list[dict[str, Any]],
                  warnings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fds: dict[int, int] = {}
        sockets: dict[int, Any] = {}
        try:
            for e in entries:
                try:
                    fds[e["inode"]] = os.open(e["path"], os.O_RDONLY)
                except OSError as err:
                    # Gone between discovery and now (a process exited): nothing to read.
                    e["error"] = str(err)
            for ino, fd in fds.items():
                try:
                    with _inside(fd, home):
                        sockets[ino] = self._IPRoute()
                except OSError as err:
                    next(e for e in entries if e["inode"] == ino)["error"] = str(err)
            out = []
            for e in entries:
                ipr = sockets.get(e["inode"])
                if ipr is None:
                    warnings.append({"level": "warning", "namespace": None, "interface": None,
                                     "message": f"could not enter namespace {e['path']} "
                                                f"({e.get('error', 'unknown error')})"})
                    continue
                e.pop("error", None)
                try:
                    e["links"] = scan_links(ipr)
                    e["addrs"] = scan_addrs(ipr)
                    e["routes"] = scan_routes(ipr)
                    bridges = any(lk["kind"] == "bridge" for lk in e["links"])
                    e["fdb"] = scan_fdb(ipr) if bridges else []
                except Exception as err:  # a namespace that vanished mid-read
                    warnings.append({"level": "warning", "namespace": None, "interface": None,
                                     "message": f"reading {e['path']} failed: {err}"})
                    continue
                out.append(e)
            self._map_netnsids(out, fds, sockets)
            return out
        finally:
            for s in sockets.values():
                s.close()
            for fd in fds.values():
                os.close(fd)
            os.close(home)

    @staticmethod
    def _map_netnsids(entries: list[dict[str, Any]], fds: dict[int, int],
                      sockets: dict[int, Any]) -> None:
        """Record, per namespace, which namespace each netnsid its links use stands for.

        RTM_GETNSID with NETNSA_FD asks "what id did you give this other namespace?" (the
        kernel only reads: no id is allocated). Ask the likely candidate first (the lab for a
        container, every other namespace for the lab), so this stays ~2 queries per container.
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
                try:
                    nsid = ipr.get_netnsid(fd=fds[o["inode"]])["nsid"]
                except Exception:
                    continue
                if nsid is not None and nsid in wanted:
                    e["netnsids"][str(nsid)] = o["inode"]
                    wanted.discard(nsid)
                    if not wanted:
                        break


def _pyroute2_version() -> str:
    try:
        from importlib.metadata import version

        return version("pyroute2")
    except Exception:
        return "unknown"


def snapshot_json(probe: Probe, raw: bool = False) -> str:
    scan = probe.scan()
    if raw:
        return json.dumps(scan, sort_keys=True)
    from labkit.model.topology import from_raw

    return from_raw(scan).to_json()


def serve(probe: Probe, stdin: TextIO, stdout: TextIO) -> None:
    """Answer one request line with one JSON line, until EOF or "quit".

    Protocol (documented in docs/snapshot-format.md):
      - on start, one hello line: {"hello": "labkit.probe", "format": 1, "raw_format": 1, ...}
      - request "" / "snapshot" -> one snapshot (format 1), "raw" -> one raw scan
      - any failure -> {"error": "..."} on one line; the probe keeps serving
    """
    from labkit.model.topology import FORMAT

    hello = {"hello": "labkit.probe", "format": FORMAT, "raw_format": RAW_FORMAT,
             "pyroute2": _pyroute2_version(), "pid": os.getpid()}
    stdout.write(json.dumps(hello) + "\n")
    stdout.flush()
    for line in stdin:
        req = line.strip()
        if req == "quit":
            break
        try:
            if req in ("", "snapshot"):
                out = snapshot_json(probe)
            elif req == "raw":
                out = snapshot_json(probe, raw=True)
            else:
                out = json.dumps({"error": f"unknown request {req!r} "
                                           "(must be one of ['snapshot', 'raw', 'quit'])"})
        except Exception as e:  # keep serving: the next cell may succeed
            out = json.dumps({"error": f"{type(e).__name__}: {e}"})
        stdout.write(out + "\n")
        stdout.flush()


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python3 -m labkit.probe", description=__doc__.split("\n")[0])
    p.add_argument("--serve", action="store_true",
                   help="keep running: answer each stdin line with one JSON line")
    p.add_argument("--raw", action="store_true", help="print the raw scan, not the snapshot")
    p.add_argument("--no-nat", action="store_true", help="skip iptables-save")
    args = p.parse_args(argv)
    probe = Probe(nat=not args.no_nat)
    if args.serve:
        # A single-threaded probe: setns() moves only the scanning thread, and that is us.
        assert threading.current_thread() is threading.main_thread()
        serve(probe, sys.stdin, sys.stdout)
        return 0
    sys.stdout.write(snapshot_json(probe, raw=args.raw) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
