"""`Lab`: the one object a notebook holds. It finds the lab, runs commands in it, resets it.

    from labkit import Lab
    lab = Lab.connect()
    lab.run("brctl show")        # -> Result(stdout, stderr, exit_code, duration)
    lab.reset()                  # back to the starting state
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from labkit.draw.diagram import Diagram
from labkit.draw.layout import Layout, arrange
from labkit.errors import (
    CommandFailed,
    CommandTimeout,
    DockerUnavailable,
    LabError,
    LabNotFound,
    LabStopped,
    UsageError,
)
from labkit.hosts import modes, replay, rootless
from labkit.hosts.compose import say as _say
from labkit.hosts.docker import docker_client, wait_until_ready
from labkit.hosts.locate import LabContainer, find_lab
from labkit.model.containment import CHECK_ARGV, Report
from labkit.model.diff import Diff, diff, steady
from labkit.model.topology import Topology
from labkit.result import Result
from labkit.scripts import text as script
from labkit.transport.docker import DockerExecTransport
from labkit.transport.probe_client import SERVE_ARGV, ProbeError, ProbeSession
from labkit.transport.protocol import MAX_OUTPUT, OutputCallback, Transport

_current: Lab | None = None

#: What else wakes up when a lab becomes the current one: the notebook layer registers its
#: magics here and `lesson build --record` its recorder, so the lab imports neither.
ON_ACTIVATE: list[Callable[[Lab], None]] = []

#: how each transport reaches the lab, in the learner's words
MODE_WORDS = {
    "docker-exec": "commands run in the lab container (docker exec)",
    "local": "commands run right here, as local processes",
    "rootless": "commands run in a rootless lab in this container (its own Docker engine)",
    "netns": "commands run in a namespace-only lab in this container (no Docker: only the "
             "by-hand lessons run live)",
    "replay": "no live lab here: cells show what they printed in a real lab (replay)",
}

#: default limit for one command, in seconds; lessons never need more
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class ResetReport:
    """What `Lab.reset()` changed (`actions`) and could not fix (`warnings`)."""

    actions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def clean(self) -> bool:
        return not self.warnings

    @classmethod
    def parse(cls, text: str) -> ResetReport:
        """From reset.sh's "did: ..." / "warn: ..." lines (pure)."""
        did = tuple(line[5:] for line in text.splitlines() if line.startswith("did: "))
        warn = tuple(line[6:] for line in text.splitlines() if line.startswith("warn: "))
        return cls(did, warn)

    def __str__(self) -> str:
        # Stable on purpose: a lesson's first cell shows this, whatever the lab held before.
        if self.clean:
            return "The lab is back at its starting state."
        return "The lab was reset, but some things could not be fixed:\n" + "\n".join(
            f"  - {w}" for w in self.warnings)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))


class Lab:
    """A live lab reached through a transport (docker exec, or local processes)."""

    def __init__(self, transport: Transport, container: LabContainer | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.transport = transport
        self._container = container
        self.timeout = timeout
        self.max_output = MAX_OUTPUT  # what one command keeps of its output (0: all of it)
        self._probe = None  # one long-lived probe in the lab, started on first use
        self._drawn = None  # the topology the last diagram showed
        self._layout = Layout()  # where the drawings so far put each namespace

    @property
    def container(self) -> LabContainer | None:
        """The lab container, as found when connecting, or again after `labkit up` made it
        anew (the transport follows it)."""
        return getattr(self.transport, "found", None) or self._container

    # -- finding the lab ---------------------------------------------------------------------

    @classmethod
    def connect(cls, name: str | None = None, *, wait: float = 90.0,
                start: bool = True) -> Lab:
        """The running lab: through Docker, else the best live mode this host allows (see
        labkit.hosts.modes). Waits up to `wait` s for a lab that is starting; starts a stopped
        one when `start` is true. Raises a `LabError` that says what to do otherwise."""
        if os.environ.get("LABKIT_LIVE_MODE") in ("rootless", "netns", "replay") and not name:
            return cls._connect_without_docker()  # a teacher rehearsing a lower mode
        try:
            client = docker_client()
        except DockerUnavailable:
            if name:
                raise
            return cls._connect_without_docker()
        found = find_lab(client, name)
        if found is None:
            raise LabNotFound(f"looked for {name!r}" if name else "")
        if not found.running:
            if not start:
                raise LabStopped(found.name, found.status)
            client.api.start(found.id)
        found = wait_until_ready(client, found, wait)
        follow = not (name or os.environ.get("LABKIT_LAB"))  # found by label, as find_lab does
        relocate = (lambda: find_lab(client)) if follow else None
        return cls(DockerExecTransport(client, found.id, found.name, relocate=relocate),
                   container=found)._activate()

    @classmethod
    def _connect_without_docker(cls) -> Lab:
        """No Docker engine (Binder, a locked-down JupyterHub): the best live mode this host
        allows, said out loud (see labkit.hosts.modes); replay hosts get a `LabError` saying why."""
        report = modes.detect(full=True)
        lesson = replay.lesson_hint()
        recorded = replay.lesson_recording(lesson)
        if (report.mode in ("rootless", "netns") and recorded and recorded.need
                and report.mode not in recorded.live_modes):
            # A lesson this live mode cannot run (Docker in the namespace-only lab, CNI
            # plugins outside the Docker lab): the whole lesson replays, so its outputs and
            # diagrams stay one consistent story.
            what = recorded.need.what
            _say(f"live mode {report.number} of 4: {report.title}; {lesson} needs {what}, so "
                 f"it shows recordings from a real lab (here: {report.lessons}).")
            return cls(replay.connect_replay(report, lesson=lesson, reason=(
                f"this lesson needs {what}, and this host allows live mode {report.number} "
                f"({report.title})")))._activate()
        if report.mode == "replay":
            if not replay.load_all():
                raise rootless.RootlessUnavailable(report)
            _say(f"live mode 4 of 4: {report.title}. Cells show what they printed in a real "
                 "lab; nothing runs live here because:")
            for reason in report.reasons:
                _say(f"  - {reason}")
            return cls(replay.connect_replay(report, lesson=lesson))._activate()
        if report.mode not in ("rootless", "netns"):
            raise rootless.RootlessUnavailable(report)
        print(f"labkit: no Docker engine here; {report.title}.", file=sys.stderr)
        return cls(rootless.connect_rootless(report=report, say=_say))._activate()

    def _activate(self) -> Lab:
        """Make this the lab that `%%lab` cells use, and load the magics in IPython."""
        global _current
        if _current is not None and _current is not self:
            _current.close()  # one probe per session: a re-run Lab.connect() replaces it
        _current = self
        for hook in ON_ACTIVATE:
            hook(self)
        return self

    @property
    def name(self) -> str:
        return self.container.name if self.container else "local"

    @property
    def mode(self) -> str:
        return self.transport.kind

    @property
    def replaying(self) -> bool:
        """True when cells show recordings instead of running (live mode 4, or a Docker
        lesson in the namespace-only lab)."""
        return self.transport.kind == "replay"

    def __repr__(self) -> str:
        # No container name here: it differs between Compose v1 and v2 and would make stored
        # notebook outputs depend on the tool that started the lab.
        return f"<Lab: ready, commands run by {self.transport.kind}>"

    @property
    def summary(self) -> str:
        """One line for people: how commands reach this lab."""
        return f"Lab ready: {MODE_WORDS.get(self.mode, self.mode)}."

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.summary)

    # -- running commands --------------------------------------------------------------------

    def run(self, command: str, *, timeout: float | None = None, check: bool = False,
            on_output: OutputCallback | None = None, max_output: int | None = None) -> Result:
        """Run a shell command (bash) in the lab and return its `Result`.

        `timeout` (s, default `self.timeout`; 0 for none) kills the command and its children
        in the lab and raises `CommandTimeout` (its `.result` holds the output so far).
        `check=True` raises `CommandFailed` on a non-zero exit. `on_output(stream, text)`
        sees output as it arrives. `max_output` (characters, default `self.max_output`, 0 for
        no limit) keeps the first and last halves of a long output and says what it left out."""
        if not isinstance(command, str) or not command.strip():
            raise UsageError(f"lab.run needs a shell command as a string, not {command!r}")
        for name, value in (("timeout", timeout), ("max_output", max_output)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or value < 0):
                raise UsageError(f"lab.run: {name} must be a number ≥ 0 (0: no limit), "
                                 f"not {value!r}")
        limit = self.timeout if timeout is None else timeout
        bound = self.max_output if max_output is None else int(max_output)
        result = self.transport.run(command, timeout=limit, on_output=on_output,
                                    max_output=bound)
        if result.timed_out:
            raise CommandTimeout(command, limit, result)
        if check and not result.ok:
            raise CommandFailed(result)
        return result

    def sh(self, command: str, **kwargs) -> str:
        """stdout of a command that must succeed (raises `CommandFailed` otherwise)."""
        return self.run(command, check=True, **kwargs).stdout

    # -- state -------------------------------------------------------------------------------

    def reset(self) -> ResetReport:
        """Back to the starting state: no containers, user networks, extra namespaces,
        bridges, veths, addresses or routes; Docker's own iptables rules with zeroed counters.
        Idempotent; images are kept."""
        # reset.sh finds commands still running from earlier cells through $LABKIT_JOB_DIR,
        # which the transport's wrapper exports.
        try:
            result = self.run(script("reset.sh"), timeout=120)
        except CommandTimeout as exc:  # never quote the script itself: say what happened
            self._drawn, self._layout = None, Layout()
            done = ResetReport.parse(exc.result.stdout if exc.result else "")
            return ResetReport(done.actions, (*done.warnings, (
                "the reset did not finish within 120 s (is the lab overloaded?); run it again, "
                "or restart the lab: `labkit down` then `labkit up`"),))
        # the next diagram shows the clean lab, laid out afresh, not what reset removed
        self._drawn, self._layout = None, Layout()
        report = ResetReport.parse(result.stdout)
        if result.exit_code not in (0,) and not report.warnings:
            report = ResetReport(report.actions, (result.stderr.strip()[-300:] or
                                                  f"reset exited with {result.exit_code}",))
        return report

    def alive(self) -> bool:
        return self.transport.alive()

    def containment(self) -> Report:
        """Whether traffic stays in the lab: the kernel's route, in every namespace of the
        lab, to each of labkit.model.containment's ADDRESSES (asked, never sent)."""
        result = self.run(" ".join(CHECK_ARGV), timeout=30)
        try:
            return Report.from_json(result.stdout)
        except (ValueError, KeyError, TypeError):
            raise LabError("the lab could not check where its traffic goes: "
                           f"{result.output.strip()[-300:] or 'no answer'}") from None

    # -- what the kernel holds ---------------------------------------------------------------

    def snapshot(self) -> Topology:
        """The lab's network now, from a probe process kept alive in the lab (started on
        first use: importing pyroute2 costs ~160 ms)."""
        for attempt in (1, 2):
            try:
                if self._probe is not None and self._probe.broken:  # interrupted mid-answer
                    self.close()
                if self._probe is None:
                    self._probe = ProbeSession(self.transport.open_pipe(list(SERVE_ARGV)))
                return self._probe.snapshot()
            except (ProbeError, OSError, EOFError, TimeoutError) as exc:
                self.close()
                if attempt == 2:  # a fresh probe failed too: say why
                    raise ProbeError(f"could not read the lab's network state: {exc}") from exc
        raise AssertionError("not reached")

    def draw(self, focus: list[str] | None = None, *, changes: bool = True,
             fdb: bool = False) -> Diagram:
        """A diagram of the lab's network now; what changed since the last diagram is
        highlighted (added) or faded (removed) unless `changes=False`. `focus` names the
        namespaces to show; `fdb=True` adds the MACs the bridges learned."""
        raw, topo, delta, layout = self._changes(changes)
        return Diagram(raw if fdb else topo, diff=delta, focus=focus, layout=layout)

    def after_cell(self) -> Diagram | NoChange:
        """What a `%%lab` cell shows under its output: a diagram when the network changed
        (or on the first cell), else one line saying nothing changed."""
        first = self._drawn is None
        _, topo, delta, layout = self._changes(True)
        # Judged before drawing: a cell that changed nothing costs no DOT (the hot path).
        return Diagram(topo, diff=delta, layout=layout) if first or delta else NoChange()

    def _changes(self, changes: bool) -> tuple[Topology, Topology, Diff | None, Layout]:
        """The lab now (raw and steady), what changed since the last drawing, and where to
        draw each namespace; it becomes the last drawing. Changes are always judged on the
        steady form. The layout memory keeps every namespace in its slot across cells (and
        in replay mode alike): see labkit.draw.layout."""
        raw = self.snapshot()
        topo = steady(raw)
        delta = diff(self._drawn, topo) if changes and self._drawn is not None else None
        layout, self._layout = arrange(self._layout, topo, self._drawn,
                                       delta.before if delta is not None else None)
        self._drawn = topo
        return raw, topo, delta, layout

    def close(self) -> None:
        """Stop the probe process (a new one starts when needed)."""
        if self._probe is not None:
            try:
                self._probe.close()
            except Exception:  # noqa: BLE001 - it may be gone with the lab
                pass
            self._probe = None


class NoChange:
    """Shown instead of a diagram identical to the previous one."""

    text = "(the network did not change: same diagram as above)"

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.text)


def current() -> Lab:
    """The lab `%%lab` cells use: the last one connected, else connect now."""
    return _current if _current is not None else Lab.connect()
