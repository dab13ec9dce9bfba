"""Which live lab this host allows, probed at runtime, and why.

Four modes, best first:

1. ``docker``   — a Docker engine labkit can use: the normal Docker-in-Docker lab.
2. ``rootless`` — user namespaces *and* mount(2) allowed: a rootless dockerd runs in the
   learner's own container, inside a user+net+mount namespace (`labkit.hosts.rootless`); every
   lesson runs live.
3. ``netns``    — user namespaces but no mount(2): a namespace-only lab (`unshare -Urn`,
   extra namespaces held by processes); the by-hand lessons run live, Docker cells cannot.
4. ``replay``   — none of that: lessons show recordings from a real lab.

`decide(facts)` is pure (unit-tested with made-up facts); `probe()` is the edge that gathers
`HostFacts` cheaply (each check is one short subprocess or socket call, all with timeouts,
none touching the network beyond a local Docker socket). `detect()` does both.
"""

from __future__ import annotations

import os
import platform
import socket
import struct
import subprocess
from dataclasses import dataclass, field, fields, replace

from labkit.transport.local import search_path, which

#: modes, best first
MODES = ("docker", "rootless", "netns", "replay")

TITLES = {
    "docker": "Docker lab (a Docker engine is usable)",
    "rootless": "rootless lab (dockerd in a user namespace of this container)",
    "netns": "namespace-only lab (user namespaces, no mount)",
    "replay": "replay (recorded outputs from a real lab)",
}

#: what each mode runs live
LESSONS = {
    "docker": "every lesson runs live",
    "rootless": "the docker0 lessons run live; the CNI lessons show recordings",
    "netns": "the by-hand namespace lesson runs live; the others show recordings",
    "replay": "every lesson shows recordings",
}

#: env var a teacher (or a test) sets to ask for a lower mode; a mode the host does not allow
#: is never forced
FORCE_ENV = "LABKIT_LIVE_MODE"

#: binaries each live mode needs (looked up on PATH plus the sbin directories)
NEEDS_ROOTLESS = ("dockerd", "containerd", "containerd-shim-runc-v2", "runc", "docker",
                  "docker-proxy", "iptables", "ip", "nsenter", "unshare", "setsid", "busybox")
NEEDS_NETNS = ("ip", "nsenter", "unshare", "setsid")



@dataclass(frozen=True)
class Check:
    """One probed fact: `ok` None means "not probed" (an earlier answer made it moot)."""

    ok: bool | None = None
    detail: str = ""


@dataclass(frozen=True)
class HostFacts:
    """What the probes found. Plain data, so decisions over it are pure."""

    docker: Check = Check()  # a Docker engine answered /_ping
    userns: Check = Check()  # `unshare -Ur true`
    netns: Check = Check()  # `unshare -Urn` + `ip link set lo up`
    mount: Check = Check()  # `unshare -Urnm` + tmpfs on /run
    sysfs: Check = Check()  # a fresh sysfs in that namespace (brctl needs it)
    tools: dict[str, str] = field(default_factory=dict)  # name -> path, found ones only
    static_busybox: Check = Check()
    no_new_privs: bool = False
    kernel: str = ""

    def missing(self, names: tuple[str, ...]) -> list[str]:
        return [n for n in names if n not in self.tools]


@dataclass(frozen=True)
class ModeReport:
    """The chosen mode, the modes the host allows, and the reasons, in words."""

    mode: str
    available: tuple[str, ...]
    reasons: tuple[str, ...]
    facts: HostFacts
    forced: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def number(self) -> int:
        return MODES.index(self.mode) + 1

    @property
    def title(self) -> str:
        return TITLES[self.mode]

    @property
    def lessons(self) -> str:
        return LESSONS[self.mode]

    @property
    def live(self) -> bool:
        return self.mode != "replay"

    @property
    def docker_cells_live(self) -> bool:
        return self.mode in ("docker", "rootless")

    def __str__(self) -> str:
        lines = [f"live mode {self.number} of 4: {self.title} — {self.lessons}."]
        lines += [f"  - {r}" for r in self.reasons]
        lines += [f"  ! {w}" for w in self.warnings]
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))


# --- the pure decision ----------------------------------------------------------------------


def allows(facts: HostFacts) -> dict[str, list[str]]:
    """For each mode, what stands in its way (empty list: the host allows it). Pure."""
    blockers: dict[str, list[str]] = {m: [] for m in MODES}
    if not facts.docker.ok:
        detail = facts.docker.detail or "not probed"
        blockers["docker"].append(f"no usable Docker engine ({detail})")
    # Without user namespaces the later probes do not run: name only the first refusal.
    ns = [_refused("user namespaces", facts.userns)
          or _refused("network namespaces in a user namespace", facts.netns)]
    ns = [b for b in ns if b]
    blockers["netns"] += ns + _missing(facts, NEEDS_NETNS)
    blockers["rootless"] += ns
    if not ns and (m := _refused("mount(2) in a user namespace", facts.mount)):
        blockers["rootless"].append(m)
    blockers["rootless"] += _missing(facts, NEEDS_ROOTLESS)
    if "busybox" in facts.tools and facts.static_busybox.ok is False:
        blockers["rootless"].append(f"busybox is not static ({facts.static_busybox.detail}); "
                                    "install busybox-static to make the offline image")
    return blockers


def decide(facts: HostFacts, forced: str | None = None) -> ModeReport:
    """The best mode the facts allow, or `forced` when the host allows that one. Pure."""
    blockers = allows(facts)
    available = tuple(m for m in MODES if not blockers[m])
    best = available[0]
    reasons: list[str] = []
    if forced and forced not in MODES:
        reasons.append(f"{FORCE_ENV}={forced!r} ignored (must be one of {list(MODES)})")
        forced = None
    if forced and forced in available:
        chosen = forced
        if forced != best:
            reasons.append(f"{FORCE_ENV}={forced} asks for this mode "
                           f"(the host also allows {best})")
    else:
        if forced:
            reasons.append(f"{FORCE_ENV}={forced} asked for, but the host does not allow it: "
                           + "; ".join(blockers[forced]))
        chosen = best
    # Why nothing better was chosen, then what made the chosen one possible.
    for better in MODES[:MODES.index(chosen)]:
        if blockers[better]:
            reasons.append(f"not {better}: " + "; ".join(blockers[better]))
    reasons.append(_why(chosen, facts))
    warnings = []
    if chosen == "rootless" and facts.sysfs.ok is False:
        warnings.append("a fresh sysfs cannot be mounted in the lab's namespace, so `brctl` "
                        "and /sys/class/net show this container's links, not the lab's; "
                        "`ip link` and `bridge link` are right")
    return ModeReport(chosen, available, tuple(reasons), facts, forced, tuple(warnings))


def _refused(what: str, check: Check) -> str:
    if check.ok:
        return ""
    return f"{what} refused ({check.detail})" if check.ok is False else f"{what} not probed"


def _missing(facts: HostFacts, names: tuple[str, ...]) -> list[str]:
    gone = facts.missing(names)
    return [f"not found: {', '.join(gone)}"] if gone else []


def _why(mode: str, facts: HostFacts) -> str:
    if mode == "docker":
        return f"Docker engine: {facts.docker.detail}"
    if mode == "rootless":
        return ("user namespaces and mount(2) allowed; dockerd "
                f"{facts.tools.get('dockerd')} runs inside one")
    if mode == "netns":
        return "user and network namespaces allowed (extra namespaces are held by processes)"
    return "recordings only: nothing on this host can run the lab's commands"


# --- the edge: probing ----------------------------------------------------------------------


def _run(argv: list[str], timeout: float = 5.0) -> Check:
    """Run a probe; ok when it exits 0, else the first line it said (or why it did not run)."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "PATH": search_path()})
    except FileNotFoundError:
        return Check(False, f"{argv[0]} not found")
    except subprocess.TimeoutExpired:
        return Check(False, f"no answer within {timeout:g} s")
    if done.returncode == 0:
        return Check(True, "allowed")
    said = (done.stderr or done.stdout).strip().splitlines()
    return Check(False, said[-1][:160] if said else f"exit status {done.returncode}")


def docker_endpoint() -> str:
    """The engine the Docker CLI/SDK would use: DOCKER_HOST or the default socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def probe_docker(endpoint: str | None = None, timeout: float = 2.0) -> Check:
    """GET /_ping on the engine, without the Docker SDK (not installed in every mode)."""
    endpoint = endpoint or docker_endpoint()
    try:
        if endpoint.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(endpoint[len("unix://"):])
        elif endpoint.startswith("tcp://"):
            host, _, port = endpoint[len("tcp://"):].rpartition(":")
            sock = socket.create_connection((host, int(port)), timeout=timeout)
        else:
            return Check(False, f"{endpoint}: unsupported DOCKER_HOST scheme")
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            head = sock.recv(256).decode(errors="replace")
    except FileNotFoundError:
        return Check(False, f"{endpoint} does not exist")
    except PermissionError:
        return Check(False, f"{endpoint}: permission denied (not in the docker group?)")
    except OSError as exc:
        return Check(False, f"{endpoint}: {exc.strerror or exc}")
    if " 200 " in head.split("\r\n", 1)[0]:
        return Check(True, f"{endpoint} answers")
    return Check(False, f"{endpoint} answered {head.splitlines()[0] if head else 'nothing'}")


def probe_static(path: str | None) -> Check:
    """Is this binary static (usable as the only file of an image)? Reads its ELF program
    headers: a dynamic executable has a PT_INTERP entry naming its loader."""
    if not path:
        return Check(False, "not found")
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        return Check(False, f"{path}: {exc.strerror}")
    if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit ELF only; others: say so
        return Check(False, f"{path} is not a 64-bit ELF executable")
    order = "<" if head[5] == 1 else ">"
    phoff, = struct.unpack_from(order + "Q", head, 0x20)
    phentsize, phnum = struct.unpack_from(order + "HH", head, 0x36)
    for i in range(phnum):
        at = phoff + i * phentsize
        if at + 4 > len(head):
            break
        if struct.unpack_from(order + "I", head, at)[0] == 3:  # PT_INTERP
            return Check(False, f"{path} is dynamically linked")
    return Check(True, path)


def _no_new_privs() -> bool:
    try:
        with open("/proc/self/status") as f:
            return any(line.split() == ["NoNewPrivs:", "1"] for line in f)
    except OSError:
        return False


def probe(full: bool = True) -> HostFacts:
    """Gather the facts. With `full=False` stop as soon as the best mode is certain (a usable
    Docker engine needs no namespace probes)."""
    tools = {n: p for n in sorted(set(NEEDS_ROOTLESS) | set(NEEDS_NETNS)) if (p := which(n))}
    facts = HostFacts(tools=tools, no_new_privs=_no_new_privs(), kernel=platform.release(),
                      static_busybox=probe_static(tools.get("busybox")))
    facts = replace(facts, docker=probe_docker())
    if facts.docker.ok and not full:
        return facts
    facts = replace(facts, userns=_run(["unshare", "-Ur", "true"]))
    if not facts.userns.ok:
        return facts
    facts = replace(facts, netns=_run(["unshare", "-Urn", "ip", "link", "set", "lo", "up"]))
    # The rootless lab's own first steps: a private /run (for docker.sock and `ip netns`) and
    # a sysfs of the lab's network namespace.
    facts = replace(facts, mount=_run(["unshare", "-Urnm", "--propagation", "private", "sh",
                                       "-c", "mount -t tmpfs tmpfs /run"]))
    if facts.mount.ok:
        facts = replace(facts, sysfs=_run(["unshare", "-Urnm", "--propagation", "private",
                                           "sh", "-c", "mount -t sysfs sysfs /sys"]))
    return facts


def detect(full: bool = False) -> ModeReport:
    """Probe this host and choose the best live mode (honouring $LABKIT_LIVE_MODE)."""
    forced = os.environ.get(FORCE_ENV) or None
    # A forced lower mode must not be decided before the namespace probes ran.
    return decide(probe(full=full or bool(forced)), forced)


def facts_dict(facts: HostFacts) -> dict:
    """JSON-ready form (for `labkit modes --json` and test drivers)."""
    out = {}
    for f in fields(facts):
        value = getattr(facts, f.name)
        out[f.name] = {"ok": value.ok, "detail": value.detail} if isinstance(value, Check) \
            else value
    return out
