"""What the lab host does to packets on their way to a published port: its iptables tables,
whether br_netfilter shows bridged frames to iptables, and the docker-proxy listeners.

Only reads, in the namespace the probe runs in (the lab's, as for `iptables-save`): the
parsing is the model's (labkit.model.nat). Cheap on purpose, since it runs after every cell:
one `iptables-save` for all tables (it costs the same as `-t nat` alone, ~1.5 ms), one sysctl
file, and /proc/PID/comm of each process (cmdline only for docker-proxy's).
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from labkit.probe.discover import warning

# Per network namespace since Linux 5.3 ("br_netfilter: namespace bridge-nf-call-*"; on this
# course's kernel 6.18 a namespace's write leaves the others' value alone, each new one
# starts at 1): the lab has its own copy, so it is read here, in the lab, not on the
# machine. Absent when the br_netfilter module is not loaded (then iptables never sees
# bridged frames).
SYSCTLS = ("net/bridge/bridge-nf-call-iptables",)
#: the tables the raw scan keeps, each as `iptables-save -t TABLE` prints it
TABLES = ("nat", "filter")


def start_save(warnings: list[dict[str, Any]]) -> subprocess.Popen | None:
    """`iptables-save` started, to be read with `tables` while netlink is read."""
    try:
        return subprocess.Popen(["iptables-save"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    except OSError as e:
        warnings.append(warning(f"cannot run iptables-save ({e})"))
        return None


def tables(proc: subprocess.Popen, warnings: list[dict[str, Any]]) -> dict[str, str | None]:
    """Each of TABLES' text from `iptables-save`, without its "# Generated ... on <date>"
    lines (noise); a table the kernel does not have yet is "" (no rules, no chains)."""
    out, err = proc.communicate(timeout=10)
    if proc.returncode != 0:
        warnings.append(warning(f"iptables-save failed: {err.strip()}"))
        return dict.fromkeys(TABLES)
    return split_tables(out)


def split_tables(text: str) -> dict[str, str]:
    """`iptables-save` text cut into its tables ("*nat" to its COMMIT), comments dropped."""
    found: dict[str, list[str]] = {t: [] for t in TABLES}
    current: list[str] | None = None
    for line in text.splitlines(True):
        if line.startswith("#"):
            continue
        if line.startswith("*"):
            current = found.get(line[1:].strip())
        if current is not None:
            current.append(line)
        if line.startswith("COMMIT"):
            current = None
    return {t: "".join(lines) for t, lines in found.items()}


def sysctls(root: str = "/proc/sys") -> dict[str, str]:
    """The sysctls the picture shows, by dotted name; one whose file is absent is left out."""
    out = {}
    for path in SYSCTLS:
        try:
            with open(f"{root}/{path}") as f:
                out[path.replace("/", ".")] = f.read().strip()
        except OSError:
            continue
    return out


def docker_proxies(userns: str | None = None, proc: str = "/proc") -> list[list[str]]:
    """The command line of each docker-proxy process, sorted. Without a pid namespace of its
    own (LABKIT_INIT_PID) the lab sees the machine's processes: only those in its user
    namespace `userns` count."""
    out = []
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(f"{proc}/{name}/comm") as f:
                if f.read() != "docker-proxy\n":
                    continue
            if userns is not None and os.readlink(f"{proc}/{name}/ns/user") != userns:
                continue
            with open(f"{proc}/{name}/cmdline") as f:
                argv = f.read().split("\0")
        except OSError:  # exited meanwhile
            continue
        out.append([a for a in argv if a])
    return sorted(out)


def node_tables(nodes: list[dict[str, Any]], warnings: list[dict[str, Any]],
                started: dict[str, subprocess.Popen] | None = None) -> None:
    """Each node's `iptables-save` (nat and filter, what kube-proxy writes), read in the
    node's network namespace through its kube-proxy, all at once, into the node's
    "iptables"; a node without a kube-proxy (kube-master) has none. `started`: the
    processes `start_node_saves` began, while the scan read netlink."""
    procs = started if started is not None else start_node_saves(nodes, warnings)
    for node in nodes:
        proc = procs.get(node["name"])
        if proc is None:
            continue
        out, err = proc.communicate(timeout=10)
        if proc.returncode != 0:  # kube-proxy gone meanwhile (`k8s-lab down`)
            warnings.append(warning(f"cannot read {node['name']}'s iptables: {err.strip()}"))
            node["iptables"] = None
            continue
        node["iptables"] = "".join(split_tables(out).values())


def start_node_saves(nodes: list[dict[str, Any]],
                     warnings: list[dict[str, Any]]) -> dict[str, subprocess.Popen]:
    """Each kube-proxy's node's `iptables-save`, started (read with `node_tables`)."""
    procs = {}
    for node in nodes:
        pid = (node.get("kube_proxy") or {}).get("pid")
        if pid is None:
            continue
        try:
            procs[node["name"]] = subprocess.Popen(
                ["nsenter", f"--net=/proc/{pid}/ns/net", "iptables-save"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except OSError as e:
            warnings.append(warning(f"cannot read {node['name']}'s iptables ({e})"))
    return procs
