"""`NamespaceTransport`: run commands inside the namespaces a process holds (the rootless and
namespace-only labs), as local processes entered with `nsenter`.

It is a `LocalTransport` with an argv prefix, so commands get the same `wrap` script (timeout
in its own process group, job file, sentinel) and timeouts and interrupts kill the same way:
the kill command runs inside the namespaces too, where the job file is.
"""

from __future__ import annotations

import os

from labkit.transport.local import LocalTransport, search_path, which

# Variables that would point the Docker CLI at some other engine than the lab's.
_DOCKER_VARS = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


def nsenter_argv(pid: int, *, mount: bool, nsenter: str = "nsenter") -> list[str]:
    """argv prefix that enters PID's user and network (and mount) namespaces. Pure.

    `--preserve-credentials` keeps our uid/gid as they are instead of switching to uid 0
    explicitly; either way we are the namespace's root, mapped to the learner outside."""
    argv = [nsenter, "-U", "--preserve-credentials", "-n"]
    if mount:
        argv.append("-m")
    return [*argv, "-t", str(pid), "--"]


def lab_env(base: dict[str, str], *, init_pid: int, client_pid: int,
            extra: dict[str, str]) -> dict[str, str]:
    """The environment of a command in the lab. Pure.

    LABKIT_INIT_PID and LABKIT_CLIENT tell reset.sh which processes are the lab's own and which
    are orphans (the lab has no pid namespace, see docs/rootless.md)."""
    env = {k: v for k, v in base.items() if k not in _DOCKER_VARS}
    env.update({"PATH": search_path(base.get("PATH", "/usr/local/bin:/usr/bin:/bin")),
                "LABKIT_INIT_PID": str(init_pid), "LABKIT_CLIENT": str(client_pid),
                "TERM": "dumb"})
    env.update(extra)
    return env


def userns_of(pid: int) -> str | None:
    """The user namespace of a live process, e.g. "user:[4026532301]" (None for a gone one, or
    a zombie: a zombie keeps its namespace link until reaped, and not every container's init
    reaps)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rpartition(b")")[2].split()[0] == b"Z":
                return None
        return os.readlink(f"/proc/{pid}/ns/user")
    except (OSError, IndexError):
        return None


class NamespaceTransport(LocalTransport):
    """Commands run in the namespaces held by `pid` (user + net, and mount if `mount`)."""

    def __init__(self, pid: int, *, mount: bool, job_dir: str, kind: str, description: str,
                 env: dict[str, str] | None = None, userns: str | None = None) -> None:
        self.pid = pid
        self.userns = userns
        self.kind = kind
        self.prefix = tuple(nsenter_argv(pid, mount=mount, nsenter=which("nsenter") or "nsenter"))
        super().__init__(job_dir=job_dir, env=lab_env(
            dict(os.environ), init_pid=pid, client_pid=os.getpid(), extra=env or {}))
        self.description = description

    def alive(self) -> bool:
        """The holder still runs and still holds the namespaces we entered (not a reused pid)."""
        now = userns_of(self.pid)
        return now is not None and (self.userns is None or now == self.userns)
