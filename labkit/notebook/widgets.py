"""What a learner clicks in JupyterLab (ipywidgets 8): exercise checks, lab controls, a packet
tracer and a namespace explorer.

    from labkit.notebook.widgets import exercise_widget, lab_controls, packet_tracer, explorer
    exercise_widget("lesson1/find-the-peer")   # Check / Hint / Show solution, with progress
    lab_controls()                             # status, mode, reset, how to open a terminal
    packet_tracer()                            # pick source and destination, see the path
    explorer()                                 # pick a namespace: interfaces, routes, ip neigh

Saved and exported notebooks: every widget's output also carries `text/plain` and
`text/html` written by labkit (not ipywidgets' `Button(...)` repr), computed when the cell
ran and independent of the learner's progress, so a reader without a kernel reads what the
widget said, and strict nbval compares a stable text (it skips the widget-view mimetype).
No `Output` widget is used anywhere: what it captures goes to the cell under nbval and into
the widget in JupyterLab, so stored and fresh outputs would differ. Results are HTML widgets.
"""

from __future__ import annotations

import html
import shlex
from typing import TYPE_CHECKING

import ipywidgets as W

from labkit.exercises import CheckResult, get
from labkit.exercises import store as _progress
from labkit.model import trace as _trace

if TYPE_CHECKING:
    from labkit.lab import Lab
    from labkit.model.topology import Topology

__all__ = ["ExerciseWidget", "Explorer", "LabControls", "PacketTracer", "TraceResult",
           "exercise_widget", "explorer", "lab_controls", "packet_tracer", "terminal_command",
           "trace_packet"]

_HIDDEN = W.Layout(display="none")


def _pre(text: str) -> str:
    return ("<pre style=\"white-space: pre-wrap; margin: 0.3em 0\">"
            + html.escape(text) + "</pre>")


def _svg_only(svg: str) -> str:
    """Graphviz's SVG without its XML prolog, to sit inside an HTML widget."""
    at = svg.find("<svg")
    return svg[at:] if at >= 0 else svg


class _Readable:
    """Mixin: the widget's saved output reads as text (see the module docstring)."""

    def text(self) -> str:  # pragma: no cover - every widget defines its own
        raise NotImplementedError

    def html_text(self) -> str:
        return f"<div class=\"labkit-text\">{_pre(self.text())}</div>"

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)  # the widget view (and ipywidgets' repr)
        if data is None:  # a closed widget: only the text is left
            data = {}
        data["text/plain"] = self.text()
        data["text/html"] = self.html_text()
        return data

    def _guard(self, where: W.HTML, action):
        """Run a button's action; a failure is shown in the widget, not lost in a log."""
        def handler(_button=None):
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - the learner must see what went wrong
                where.value = _pre(f"✗ {type(exc).__name__}: {exc}")
        return handler


def _lab(lab: Lab | None) -> Lab:
    from labkit.lab import current

    return lab if lab is not None else current()


# --- exercises -------------------------------------------------------------------------------


class ExerciseWidget(_Readable, W.VBox):
    """Check / Hint / Show solution for one exercise, with the learner's progress.

    `check_now=True` runs the check when the widget is made, so the cell shows (and a saved
    notebook keeps) what the lab looked like at that point: ✗ and what is missing."""

    def __init__(self, exercise_id: str, lab: Lab | None = None, *,
                 check_now: bool = True) -> None:
        self.exercise = get(exercise_id)
        self._lab_given = lab
        self.store = _progress.install()
        self.last: CheckResult | None = None
        ex = self.exercise
        self.title = W.HTML(f"<b>Exercise: {html.escape(ex.title)}</b> "
                            f"<code>{html.escape(ex.id)}</code>")
        self.status = W.HTML()
        self.result = W.HTML()
        self.result.add_class("labkit-result")
        self.hints_box = W.HTML()
        self.solution_box = W.HTML()
        self.check_button = W.Button(description="Check", icon="check",
                                     button_style="primary", tooltip="run the check in the lab")
        self.hint_button = W.Button(description="Hint", icon="lightbulb-o")
        self.solution_button = W.Button(description="Show solution", icon="eye")
        self.run_button = W.Button(description="Run the solution", icon="play",
                                   button_style="warning", layout=W.Layout(display="none"))
        self.check_button.on_click(self._guard(self.result, self.check))
        self.hint_button.on_click(self._guard(self.hints_box, self.reveal_hint))
        self.solution_button.on_click(self._guard(self.solution_box, self.show_solution))
        self.run_button.on_click(self._guard(self.solution_box, self.run_solution))
        buttons = W.HBox([self.check_button, self.hint_button, self.solution_button,
                          self.run_button])
        super().__init__([self.title, self.status, buttons, self.result, self.hints_box,
                          self.solution_box])
        self.add_class("labkit-exercise")
        self._show_hints()
        if check_now:
            self.check()
        else:
            self._show_status()

    @property
    def lab(self) -> Lab:
        return _lab(self._lab_given)

    def check(self) -> CheckResult:
        """Run the exercise's check against the real lab and show ✓ or what is missing."""
        self.check_button.disabled = True
        self.result.value = _pre("checking the lab …")
        try:
            self.last = self.exercise.run_check(self.lab)
        finally:
            self.check_button.disabled = False
        self.store.record_check(self.exercise, self.last.passed)
        colour = "#2f855a" if self.last.passed else "#c53030"
        self.result.value = (f"<div style=\"color: {colour}\">{_pre(self.last.text())}</div>")
        self._show_status()
        return self.last

    def reveal_hint(self) -> None:
        got = self.store.next_hint(self.exercise)
        if got is None:
            self.hint_button.disabled = True
        self._show_hints()
        self._show_status()

    def show_solution(self) -> None:
        self.solution_box.value = ("<div>The solution (it goes in a <code>%%lab</code> cell, "
                                   "or press Run the solution):</div>"
                                   + _pre("%%lab\n" + self.exercise.solution.rstrip()))
        self.run_button.layout.display = None

    def run_solution(self) -> None:
        """Run the solution's commands in the lab, show their output, then check again."""
        self.run_button.disabled = True
        try:
            res = self.lab.run(self.exercise.solution)
        finally:
            self.run_button.disabled = False
        self.solution_box.value = (_pre("%%lab\n" + self.exercise.solution.rstrip())
                                   + "<div>It printed:</div>" + _pre(res.output.rstrip()
                                                                    or "(nothing)"))
        self.check()

    def _show_hints(self) -> None:
        shown = self.store.shown(self.exercise)
        total = len(self.exercise.hints)
        items = "".join(f"<li>{html.escape(h)}</li>" for h in shown)
        self.hints_box.value = (f"<div>Hints ({len(shown)} of {total}):</div><ol>{items}</ol>"
                                if shown else "")
        self.hint_button.disabled = len(shown) >= total
        self.hint_button.description = ("No more hints" if len(shown) >= total
                                         else f"Hint {len(shown) + 1} of {total}")

    def _show_status(self) -> None:
        ex = self.exercise
        done = "✓ done" if self.store.done(ex.id) else "not done yet"
        self.status.value = (f"<small>{html.escape(done)} · checks run: "
                             f"{self.store.checks.get(ex.id, 0)} · "
                             f"{html.escape(self.store.lesson_line(ex.lesson))}</small>")

    def text(self) -> str:
        if self.last is not None:
            return self.last.text()
        return (f"{self.exercise.id}: {self.exercise.title} — press Check to run the check "
                "in the lab.")


def exercise_widget(exercise_id: str, lab: Lab | None = None, *,
                    check_now: bool = True) -> ExerciseWidget:
    """The Check / Hint / Show solution widget of one exercise."""
    return ExerciseWidget(exercise_id, lab, check_now=check_now)


# --- lab controls ----------------------------------------------------------------------------

#: transport kind -> labkit.modes' mode name
_MODE_OF = {"docker-exec": "docker", "local": "docker", "rootless": "rootless",
            "netns": "netns", "replay": "replay"}


def terminal_command(kind: str, container_name: str | None = None,
                     compose_project: str | None = None) -> str:
    """How to open a root shell in this lab, in the learner's words (pure)."""
    from labkit.hosts.compose import LAB_SERVICE

    if kind == "docker-exec" and compose_project:
        return (f"docker compose exec {LAB_SERVICE} bash   (in the course's folder; Compose "
                f"v1: docker-compose exec {LAB_SERVICE} bash; or: labkit shell)")
    if kind == "docker-exec":
        return (f"docker exec -it {shlex.quote(container_name or 'LAB')} bash   "
                "(or: labkit shell)")
    if kind == "local":
        return "File › New › Terminal in this JupyterLab: it already runs inside the lab"
    if kind in ("rootless", "netns"):
        extra = " --kind netns" if kind == "netns" else ""
        return (f"python -m labkit.rootless shell{extra}   (in a terminal of this JupyterLab: "
                "File › New › Terminal)")
    return "no live lab on this host, so no terminal: `labkit doctor` says why"


def lab_status(lab: Lab) -> str:
    """One word: ready, starting, down (or replay)."""
    if lab.replaying:
        return "replay"
    if lab.container is not None:
        try:
            from labkit.hosts.docker import docker_client
            from labkit.hosts.locate import find_lab

            found = find_lab(docker_client(), lab.container.id)
        except Exception:  # noqa: BLE001 - no Docker answer is itself the answer
            return "down"
        if found is None or found.state == "stopped":
            return "down"
        if found.state != "ready":
            return "starting" if found.state == "starting" else "down"
    try:
        return "ready" if lab.alive() else "down"
    except Exception:  # noqa: BLE001
        return "down"


class LabControls(_Readable, W.VBox):
    """The lab's status and live mode, a Reset button, and how to open a terminal in it."""

    def __init__(self, lab: Lab | None = None) -> None:
        self.lab = _lab(lab)
        self.status = W.HTML()
        self.message = W.HTML()
        self.refresh_button = W.Button(description="Refresh", icon="refresh")
        self.reset_button = W.Button(description="Reset the lab", icon="undo",
                                     button_style="danger",
                                     tooltip="back to the starting state: no containers, "
                                             "namespaces, bridges or rules of yours")
        self.refresh_button.on_click(self._guard(self.message, self.refresh))
        self.reset_button.on_click(self._guard(self.message, self.reset))
        c = self.lab.container
        self.terminal = terminal_command(self.lab.mode, c.name if c else None,
                                         c.project if c else None)
        term = W.HTML("<div>Open a terminal in the lab: <code>"
                      + html.escape(self.terminal) + "</code></div>")
        super().__init__([self.status, W.HBox([self.refresh_button, self.reset_button]),
                          self.message, term])
        self.add_class("labkit-controls")
        self.refresh()

    def refresh(self) -> str:
        state = lab_status(self.lab)
        mode = _MODE_OF.get(self.lab.mode, self.lab.mode)
        colour = {"ready": "#2f855a", "starting": "#b7950b"}.get(state, "#c53030")
        self.status.value = (f"<b style=\"color: {colour}\">● lab {html.escape(state)}</b> "
                             f"· live mode: {html.escape(mode)} · "
                             f"{html.escape(self.lab.summary)}")
        return state

    def reset(self) -> None:
        self.reset_button.disabled = True
        self.message.value = _pre("resetting the lab …")
        try:
            report = self.lab.reset()
        finally:
            self.reset_button.disabled = False
        self.message.value = _pre(str(report))
        self.refresh()

    def text(self) -> str:
        return f"{self.lab.summary}\nOpen a terminal in the lab: {self.terminal}"


def lab_controls(lab: Lab | None = None) -> LabControls:
    return LabControls(lab)


# --- trace a packet --------------------------------------------------------------------------


class TraceResult:
    """A traced packet: its path in words, drawn over the lab's topology."""

    def __init__(self, topology: Topology, path: _trace.Path) -> None:
        from labkit.draw.dot import Diagram
        from labkit.model.topology import steady

        self.topology = topology
        self.path = path
        self.diagram = Diagram(steady(topology), highlight=_trace.highlight(path), legend=False)

    def text(self) -> str:
        return self.path.text()

    def svg(self) -> str:
        return self.diagram.svg()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"image/svg+xml": self.svg(), "text/plain": self.text()}

    def __repr__(self) -> str:
        return self.text()


def _asker(lab: Lab, topo: Topology) -> _trace.Ask:
    def ask(ns: str, command: str) -> str:
        found = topo.namespace(ns)
        if found is None:
            return ""
        return lab.run(_trace.in_namespace(found) + command, timeout=20).stdout
    return ask


def trace_packet(source: str, destination: str, port: int | None = None,
                 lab: Lab | None = None) -> TraceResult:
    """Send one real packet (ping, or curl to `port`) from `source` (a namespace: "lab", a
    container, an `ip netns` name) to `destination` (an address of the lab, or a namespace)
    and show its path, built from the kernel's answers (see labkit.trace)."""
    lab = _lab(lab)
    topo = lab.snapshot()
    target = _trace.check_target(topo, source, destination)
    packet = _trace.Packet(source, target.address, port)
    done = lab.run(_trace.traffic_script(packet, topo), timeout=30)
    traffic = _trace.parse_traffic(done.stdout)
    return TraceResult(topo, _trace.walk(topo, packet, _asker(lab, topo), traffic))


def _services(topo: Topology) -> list[tuple[str, int | None]]:
    """What can be sent: a ping, or a connection to each published TCP port."""
    out: list[tuple[str, int | None]] = [("ping -c 1", None)]
    for pm, owner in topo.published():
        if pm.protocol == "tcp" and pm.host_port.isdigit():
            out.append((f"curl :{pm.host_port} (published → {owner.namespace} "
                        f"{pm.to_ip}:{pm.to_port or pm.host_port})", int(pm.host_port)))
    return list(dict.fromkeys(out))


class PacketTracer(_Readable, W.VBox):
    """Pick a source and a destination, press Trace: a real packet goes, and its path is
    drawn on the topology with the NAT rules it hit."""

    def __init__(self, lab: Lab | None = None) -> None:
        self.lab = _lab(lab)
        self.source = W.Dropdown(description="from")
        self.destination = W.Dropdown(description="to")
        self.what = W.Dropdown(description="send")
        self.trace_button = W.Button(description="Trace", icon="search",
                                     button_style="primary")
        self.refresh_button = W.Button(description="Refresh", icon="refresh",
                                       tooltip="read the lab's network again")
        self.result = W.HTML()
        self.result.add_class("labkit-trace-text")
        self.picture = W.HTML()
        self.picture.add_class("labkit-trace-picture")
        self.trace_button.on_click(self._guard(self.result, self.run))
        self.refresh_button.on_click(self._guard(self.result, self.refresh))
        super().__init__([W.HBox([self.source, self.destination, self.what]),
                          W.HBox([self.trace_button, self.refresh_button]),
                          self.result, self.picture])
        self.add_class("labkit-tracer")
        self.refresh()

    def refresh(self) -> None:
        self.topology = self.lab.snapshot()
        self.places = _trace.places(self.topology)
        self.source.options = _trace.sources(self.topology)
        self.destination.options = [(p.label, p.address) for p in self.places]
        self.what.options = _services(self.topology)

    def run(self) -> TraceResult:
        self.trace_button.disabled = True
        self.result.value = _pre("sending one packet and asking the kernel …")
        try:
            got = trace_packet(self.source.value, self.destination.value, self.what.value,
                               lab=self.lab)
        finally:
            self.trace_button.disabled = False
        self.result.value = _pre(got.text())
        self.picture.value = _svg_only(got.svg())
        return got

    def text(self) -> str:
        return ("Trace a packet (interactive when the notebook runs): from one of "
                f"{', '.join(_trace.sources(self.topology))} to one of "
                f"{', '.join(p.label for p in self.places)}.")


def packet_tracer(lab: Lab | None = None) -> PacketTracer:
    return PacketTracer(lab)


# --- explore a namespace ---------------------------------------------------------------------

#: what the explorer asks in the chosen namespace, in iproute2's words
EXPLORE_COMMANDS = ("ip -br link", "ip -br addr", "ip route", "ip neigh")


class Explorer(_Readable, W.VBox):
    """Pick a namespace: its interfaces, addresses, routes and neighbours (`ip neigh`),
    asked live, and its part of the picture."""

    def __init__(self, lab: Lab | None = None) -> None:
        self.lab = _lab(lab)
        self.namespace = W.Dropdown(description="namespace")
        self.refresh_button = W.Button(description="Refresh", icon="refresh")
        self.details = W.HTML()
        self.details.add_class("labkit-explore-text")
        self.picture = W.HTML()
        self.namespace.observe(lambda _change: self._guard(self.details, self.show)(),
                               names="value")
        self.refresh_button.on_click(self._guard(self.details, self.refresh))
        super().__init__([W.HBox([self.namespace, self.refresh_button]), self.details,
                          self.picture])
        self.add_class("labkit-explorer")
        self.refresh()

    def refresh(self) -> None:
        self.topology = self.lab.snapshot()
        names = [ns.name for ns in self.topology.namespaces
                 if ns.kind in ("lab", "container", "netns", "process")]
        keep = self.namespace.value if self.namespace.value in names else None
        self.names = names
        self.namespace.options = names
        if keep:
            self.namespace.value = keep
        self.show()

    def show(self) -> str:
        from labkit.draw.dot import Diagram
        from labkit.model.topology import steady

        name = self.namespace.value
        ns = self.topology.namespace(name) if name else None
        if ns is None:
            return ""
        prefix = _trace.in_namespace(ns)
        script = "\n".join(f"echo '$ {c}'; {prefix}{c} 2>&1; echo" for c in EXPLORE_COMMANDS)
        text = self.lab.run(script, timeout=20).stdout
        self.details.value = _pre(text.rstrip())
        self.picture.value = _svg_only(Diagram(steady(self.topology), focus=[name],
                                               legend=False).svg())
        return text

    def text(self) -> str:
        return ("Explore a namespace (interactive when the notebook runs): "
                + ", ".join(self.names) + ".")


def explorer(lab: Lab | None = None) -> Explorer:
    return Explorer(lab)
