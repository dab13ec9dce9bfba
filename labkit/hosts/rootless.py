"""The labs labkit starts in the learner's own container when no Docker engine is usable.

* ``rootless`` (live mode 2): dockerd runs inside a user+net+mount namespace made with
  `unshare -Urnm`; that namespace is the lab host (docker0, veths, NAT live there). Needs no
  setuid helper, no /dev/net/tun, no rootlesskit, so it works under no_new_privs (Binder).
* ``netns`` (live mode 3): a user+net namespace held by a `sleep`; the by-hand lessons run in
  it, with extra namespaces held by processes (no mount(2), so no `ip netns add`).

Both are found again through a state file (`lab.json`: holder pid and its user namespace), and
everything they run lives in that user namespace, so `stop()` finds it all.

    from labkit.hosts import rootless
    transport = rootless.connect_rootless()   # start if needed; a NamespaceTransport
    rootless.stop()                            # everything gone; `purge=True` drops images

Files: state (pid, log, baseline of a netns lab) in $XDG_RUNTIME_DIR/labkit/KIND or
~/.local/state/labkit/KIND; data (the engine's images, the runc wrapper) in
~/.local/share/labkit/KIND. See docs/rootless.md for the tricks and why each one is needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from labkit.errors import LabError
from labkit.hosts.modes import ModeReport, detect, probe_docker
from labkit.scripts import text as script
from labkit.transport.local import search_path, which
from labkit.transport.nsenter import NamespaceTransport, userns_of

KINDS = ("rootless", "netns")
#: in-namespace paths of the rootless lab (its private /run), as in the Docker lab
READY_FILE = "/run/labkit/ready"
JOB_DIR = "/run/labkit/jobs"
SOCKET = "/run/docker.sock"

Say = Callable[[str], None]


class RootlessUnavailable(LabError):
    kind = "rootless-unavailable"

    def __init__(self, report: ModeReport) -> None:
        super().__init__(
            f"This host allows no live lab labkit can start itself (it chose {report.mode}):\n"
            + "\n".join(f"  - {r}" for r in report.reasons),
            hint="the lessons can still be read with their recorded outputs (replay). For live "
            "labs, run the course where Docker works, or on a host that allows unprivileged "
            "user namespaces (see docs/rootless.md).")


class RootlessStartFailed(LabError):
    kind = "rootless-start-failed"

    def __init__(self, what: str, log: Path) -> None:
        tail = _tail(log)
        super().__init__(
            f"The {what}." + (f" Last lines of {log}:\n{tail}" if tail else ""),
            hint="run `labkit rootless stop` and try again; `labkit modes` "
            "says what this host allows.")


# --- where things live (pure) ---------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    state: Path  # pid, lab.json, log (runtime; may be under /run/user)
    data: Path  # engine data, bin/ (never under /run: the lab's /run is its own tmpfs)

    @classmethod
    def for_kind(cls, kind: str, env: dict[str, str] | None = None) -> Paths:
        env = dict(os.environ) if env is None else env
        home = Path(env.get("HOME") or Path.home())
        runtime = env.get("XDG_RUNTIME_DIR")
        state = (Path(runtime) / "labkit" if runtime else home / ".local/state/labkit") / kind
        data = Path(env.get("XDG_DATA_HOME") or home / ".local/share") / "labkit" / kind
        return cls(state, data)

    @property
    def record(self) -> Path:
        return self.state / "lab.json"

    @property
    def log(self) -> Path:
        return self.state / "lab.log"

    @property
    def bin(self) -> Path:
        return self.data / "bin"

    @property
    def lab_bin(self) -> Path:
        """Put first on the lab's PATH: wrappers that make host tools work in the lab."""
        return self.data / "lab-bin"


@dataclass(frozen=True)
class RootlessLab:
    """A running lab of one kind: the process holding its namespaces, and where its files are."""

    kind: str
    pid: int
    userns: str  # e.g. "user:[4026532301]", to tell our holder from a reused pid
    paths: Paths
    started: float
    timings: dict

    @property
    def ready(self) -> bool:
        if self.kind == "rootless":
            return os.path.exists(f"/proc/{self.pid}/root{READY_FILE}")
        return (self.paths.state / "ready").exists()

    @property
    def docker_host(self) -> str | None:
        """The engine's socket as seen from outside the namespace (for the Docker SDK)."""
        return f"unix:///proc/{self.pid}/root{SOCKET}" if self.kind == "rootless" else None

    def transport(self) -> NamespaceTransport:
        path = {"PATH": f"{self.paths.lab_bin}:{search_path()}"}
        if self.kind == "rootless":
            return NamespaceTransport(
                self.pid, mount=True, job_dir=JOB_DIR, kind="rootless", userns=self.userns,
                description=f"nsenter into the rootless lab (dockerd pid {self.pid})",
                env={"DOCKER_HOST": f"unix://{SOCKET}", "LABKIT_BUSYBOX": _busybox(), **path})
        return NamespaceTransport(
            self.pid, mount=False, job_dir=str(self.paths.state / "jobs"), kind="netns",
            userns=self.userns,
            description=f"nsenter into the namespace-only lab (holder pid {self.pid})",
            # No engine here, and the host's must never be reached from a lesson or reset.sh.
            env={"DOCKER_HOST": "unix:///nonexistent/labkit-netns-lab-has-no-docker.sock",
                 "LABKIT_NO_DOCKER": "1",
                 "LABKIT_BASELINE": str(self.paths.state / "baseline"),
                 # `ip netns add` needs mount(2): bash gets an `ip` function that holds named
                 # namespaces with processes instead (scripts/netns-lab.sh)
                 "BASH_ENV": str(resources.files("labkit").joinpath("scripts", "netns-lab.sh")),
                 "LABKIT_NETNS_DIR": str(self.paths.state / "netns"), **path})


# --- finding ----------------------------------------------------------------------------------


def _read_record(paths: Paths) -> dict | None:
    try:
        return json.loads(paths.record.read_text())
    except (OSError, ValueError):
        return None


def find(kind: str | None = None) -> RootlessLab | None:
    """The running lab of `kind` (or of either kind, rootless first), else None."""
    for k in (kind,) if kind else KINDS:
        paths = Paths.for_kind(k)
        rec = _read_record(paths)
        if not rec:
            continue
        pid = int(rec["pid"])
        if userns_of(pid) == rec["userns"] and rec["userns"] != userns_of(os.getpid()):
            return RootlessLab(k, pid, rec["userns"], paths, rec.get("started", 0.0),
                               rec.get("timings", {}))
    return None


# --- starting ---------------------------------------------------------------------------------


def _busybox() -> str:
    return os.environ.get("LABKIT_BUSYBOX") or which("busybox") or "/bin/busybox"


@contextlib.contextmanager
def _locked(paths: Paths) -> Iterator[None]:
    """One starter at a time (two notebooks connecting at once share one lab)."""
    paths.state.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(paths.state / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _spawn_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["PATH"] = search_path(env.get("PATH"))
    return env


def _need(name: str) -> str:
    path = which(name)
    if not path:
        raise LabError(f"`{name}` is not installed, and the rootless lab needs it.",
                       hint="install Debian's docker.io, iproute2, iptables and busybox-static "
                       "(binder/apt.txt lists them)")
    return path


def _install_bin(paths: Paths) -> None:
    """The runc wrapper and the rootlesskit-docker-proxy name dockerd insists on."""
    paths.bin.mkdir(parents=True, exist_ok=True)
    (paths.data / "rootlesskit").mkdir(exist_ok=True)
    (paths.data / "docker").mkdir(exist_ok=True)
    daemon_json = paths.data / "daemon.json"
    if not daemon_json.exists():  # our own, so no ~/.config/docker/daemon.json sneaks in
        daemon_json.write_text("{}\n")
    runc = paths.bin / "labkit-runc"
    runc.write_text(script("runc-devpts.sh").replace("@RUNC@", _need("runc")))
    runc.chmod(0o755)
    proxy = paths.bin / "rootlesskit-docker-proxy"
    if proxy.is_symlink() or proxy.exists():
        proxy.unlink()
    proxy.symlink_to(_need("docker-proxy"))


#: Debian's tcpdump, started as root, drops to the user `tcpdump` (initgroups, setgid, setuid),
#: and `-Z root` drops to root the same way. In a user namespace made without setuid helpers,
#: setgroups(2) is denied, so every drop fails ("Couldn't change to 'tcpdump' uid=102").
#: fakeroot's LD_PRELOAD library answers those calls with success and nothing else: tcpdump
#: keeps running as the namespace's root, with its capabilities over the lab's namespaces only.
#: A wrapper on PATH, not a shell function, so `timeout 10 tcpdump` and `ip netns exec X
#: tcpdump` get it too.
_TCPDUMP = """#!/bin/sh
# labkit: tcpdump in a lab without setgroups(2) (see labkit/hosts/rootless.py)
exec {fakeroot} -- {tcpdump} "$@"
"""


def _install_lab_bin(paths: Paths) -> None:
    paths.lab_bin.mkdir(parents=True, exist_ok=True)
    wrapper = paths.lab_bin / "tcpdump"
    tcpdump, fakeroot = which("tcpdump"), which("fakeroot")
    if tcpdump and fakeroot:
        wrapper.write_text(_TCPDUMP.format(fakeroot=fakeroot, tcpdump=tcpdump))
        wrapper.chmod(0o755)
    else:  # tcpdump then says why it cannot run; binder/apt.txt installs both
        wrapper.unlink(missing_ok=True)
    # `ping` is BusyBox's, as in the Docker lab (lab/Dockerfile): the articles' commands run
    # unchanged and print the same lines in every mode.
    ping = paths.lab_bin / "ping"
    ping.unlink(missing_ok=True)
    ping.symlink_to(_busybox())


def _spawn(kind: str, paths: Paths) -> tuple[int, str]:
    """Start the holder detached from us (`setsid -f`: it outlives this kernel) and return its
    pid and user namespace once it has written its pid file."""
    pidfile = paths.state / "lab.pid"
    pidfile.unlink(missing_ok=True)
    _install_lab_bin(paths)
    if kind == "rootless":
        _install_bin(paths)
        for name in ("dockerd", "containerd", "containerd-shim-runc-v2", "docker", "iptables"):
            _need(name)
        argv = ["unshare", "-Urnm", "--propagation", "private", "bash", "-c",
                script("rootless-dockerd.sh"), "labkit-rootless",
                str(paths.state), str(paths.data), str(paths.bin)]
    else:
        # `exec -a` names the holder in `ps`; it only sleeps, holding the namespaces.
        argv = ["unshare", "-Urn", "bash", "-c",
                'echo $$ > "$1/lab.pid"; ip link set lo up; exec -a labkit-netns-lab sleep '
                "infinity", "labkit-netns", str(paths.state)]
    with open(paths.log, "ab") as log:
        log.write(f"--- labkit: starting the {kind} lab at {time.ctime()}\n".encode())
        log.flush()
        subprocess.run([_need("setsid"), "-f", _need("unshare"), *argv[1:]],
                       stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=_spawn_env(),
                       check=False, timeout=20)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pid = int(pidfile.read_text())
        except (OSError, ValueError):
            time.sleep(0.01)
            continue
        ns = userns_of(pid)
        if ns and ns != userns_of(os.getpid()):
            return pid, ns
        time.sleep(0.01)
    raise RootlessStartFailed(f"{kind} lab did not start (no new user namespace)", paths.log)


def _wait_engine(pid: int, paths: Paths, wait: float) -> None:
    endpoint = f"unix:///proc/{pid}/root{SOCKET}"
    deadline = time.monotonic() + wait
    while not probe_docker(endpoint, timeout=1).ok:
        if userns_of(pid) is None:
            raise RootlessStartFailed("rootless lab's dockerd exited while starting", paths.log)
        if time.monotonic() > deadline:
            raise RootlessStartFailed(f"rootless lab's dockerd did not answer within {wait:g} s",
                                      paths.log)
        time.sleep(0.05)


_PREPARE_ROOTLESS = """
set -e
left=$(docker ps -aq)
[ -z "$left" ] || { docker rm -f $left >/dev/null; echo "lab: removed earlier containers"; }
docker network prune -f >/dev/null
"""


def _prepare(lab: RootlessLab, say: Say) -> dict:
    """Seed busybox (rootless), start clean, record the baseline reset.sh returns to."""
    transport = lab.transport()
    times = {}
    # With iptables-nft a table, once made, stays after -F/-X: make the empty filter and nat
    # tables before the baseline, so a lesson's first rule leaves nothing reset cannot undo.
    tables = ("for t in filter nat; do "
              "iptables -t $t -N labkit-x && iptables -t $t -X labkit-x; done")
    # contain.sh before the baseline: its routes are part of the starting state.
    steps = [("tables", tables), ("contain", script("contain.sh")),
             ("baseline", script("baseline.sh"))]
    if lab.kind == "rootless":
        steps = [("seed", script("seed-busybox.sh")), ("clean", _PREPARE_ROOTLESS), *steps[1:],
                 ("ready", f"touch {READY_FILE}")]
    for name, text in steps:
        t0 = time.monotonic()
        res = transport.run(text, timeout=180)
        times[name] = round(time.monotonic() - t0, 3)
        for line in res.stdout.splitlines():
            say(line)
        if not res.ok:
            raise RootlessStartFailed(
                f"{lab.kind} lab could not {name} (exit {res.exit_code}): "
                f"{res.output.strip()[-500:]}", lab.paths.log)
    if lab.kind == "netns":
        (lab.paths.state / "ready").touch()
    return times


def start(kind: str = "rootless", *, wait: float = 60.0, say: Say | None = None) -> RootlessLab:
    """Start the lab of `kind` for this user, or return the one already running. Idempotent
    and safe to call from two processes at once."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} (must be one of {list(KINDS)})")
    say = say or (lambda _text: None)
    paths = Paths.for_kind(kind)
    with _locked(paths):
        lab = find(kind)
        if lab and lab.ready:
            return lab
        if lab is None:
            _kill_userns(_read_record(paths))  # leftovers of a lab whose holder died
            say(f"labkit: starting the {kind} lab (state in {paths.state})")
            t0 = time.monotonic()
            pid, userns = _spawn(kind, paths)
            timings = {"spawn": round(time.monotonic() - t0, 3)}
            if kind == "rootless":
                _wait_engine(pid, paths, wait)
                timings["engine"] = round(time.monotonic() - t0, 3)
            lab = RootlessLab(kind, pid, userns, paths, time.time(), timings)
            _write_record(lab)
        timings = dict(lab.timings)
        t0 = time.monotonic()
        timings.update(_prepare(lab, say))
        timings["prepare"] = round(time.monotonic() - t0, 3)
        lab = RootlessLab(lab.kind, lab.pid, lab.userns, paths, lab.started, timings)
        _write_record(lab)
        say(f"labkit: {kind} lab ready (holder pid {lab.pid})")
        return lab


def _write_record(lab: RootlessLab) -> None:
    tmp = lab.paths.record.with_suffix(".tmp")
    tmp.write_text(json.dumps({"kind": lab.kind, "pid": lab.pid, "userns": lab.userns,
                               "started": lab.started, "timings": lab.timings,
                               "data": str(lab.paths.data)}, indent=1))
    tmp.replace(lab.paths.record)


# --- stopping ---------------------------------------------------------------------------------


def lab_processes(userns: str) -> list[int]:
    """Our processes in that user namespace: the holder, the engine, containers, leftovers."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            if userns_of(int(entry.name)) == userns:  # None: not ours, gone or a zombie
                found.append(int(entry.name))
    return found


def _kill_userns(record: dict | None, grace: float = 0.0) -> int:
    """TERM the holder, wait up to `grace` s, then KILL all that is left in its namespace."""
    if not record or record.get("userns") == userns_of(os.getpid()):
        return 0
    userns, pid = record["userns"], int(record["pid"])
    count = len(lab_processes(userns))
    if grace and userns_of(pid) == userns:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while userns_of(pid) == userns and time.monotonic() < deadline:
            time.sleep(0.05)
    victims = lab_processes(userns)
    for p in victims:
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while lab_processes(userns) and time.monotonic() < deadline:
        time.sleep(0.05)
    return max(count, len(victims))


def stop(kind: str | None = None, *, purge: bool = False) -> list[str]:
    """Stop the lab(s) and everything in their namespaces; with `purge`, also delete the
    engine's images and containers on disk. Safe to repeat. Returns what it did."""
    did = []
    for k in (kind,) if kind else KINDS:
        paths = Paths.for_kind(k)
        rec = _read_record(paths)
        if rec:
            # dockerd gets a moment to stop cleanly; what is left is killed (a lab always starts
            # clean, so nothing in its containers is worth waiting for).
            n = _kill_userns(rec, grace=1.0 if k == "rootless" else 0.0)
            did.append(f"stopped the {k} lab ({n} process{'es' if n != 1 else ''})")
        for name in ("lab.json", "lab.pid", "ready"):
            (paths.state / name).unlink(missing_ok=True)
        shutil.rmtree(paths.state / "baseline", ignore_errors=True)
        shutil.rmtree(paths.state / "jobs", ignore_errors=True)
        shutil.rmtree(paths.state / "netns", ignore_errors=True)
        if purge and paths.data.exists():
            # The engine's files include some only the namespace's root may delete.
            subprocess.run(["unshare", "-Ur", "rm", "-rf", str(paths.data)], check=False,
                           env=_spawn_env(), stderr=subprocess.DEVNULL)
            shutil.rmtree(paths.data, ignore_errors=True)
            did.append(f"deleted {paths.data}")
    return did


# --- the integration point ------------------------------------------------------------------


def connect_rootless(kind: str | None = None, *, start_lab: bool = True, wait: float = 60.0,
                     report: ModeReport | None = None, say: Say | None = None,
                     ) -> NamespaceTransport:
    """A transport into this user's rootless (or namespace-only) lab, started if needed.

    `kind` None: the best the host allows (`modes.detect()`); raises `RootlessUnavailable`
    when that is replay (or Docker: then `Lab.connect()`'s normal path is the one to use)."""
    if kind is None:
        report = report or detect()
        kind = {"rootless": "rootless", "netns": "netns"}.get(report.mode)
        if kind is None:
            raise RootlessUnavailable(report)
    lab = find(kind)
    if lab is None or not lab.ready:
        if not start_lab:
            raise LabError(f"The {kind} lab is not running.",
                           hint="run `labkit rootless start` (or connect with "
                           "start=True)")
        lab = start(kind, wait=wait, say=say)
    return lab.transport()


def _tail(path: Path, lines: int = 12) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
