"""The lab controls: the lab's status and live mode, a Reset button, and how to open a terminal
in the lab."""

from __future__ import annotations

import html

import ipywidgets as W

from labkit.hosts.docker import docker_client
from labkit.hosts.locate import find_lab
from labkit.hosts.shell import terminal_command
from labkit.lab import Lab
from labkit.notebook.widgets.common import _lab, _pre, _Readable

#: transport kind -> labkit.hosts.modes' mode name
_MODE_OF = {"docker-exec": "docker", "rootless": "rootless",
            "netns": "netns", "replay": "replay"}


def lab_status(lab: Lab) -> str:
    """One word: ready, starting, down (or replay)."""
    if lab.replaying:
        return "replay"
    if lab.container is not None:
        try:
            found = find_lab(docker_client(), lab.container.id)
        except Exception:  # noqa: BLE001 - no Docker answer is itself the answer
            return "down"
        if found is None or found.state == "stopped":
            return "down"
        if found.state != "ready":
            return "starting" if found.state == "starting" else "down"
    try:
        return "ready" if lab.alive() else "down"
    except Exception:  # noqa: BLE001 - a status line never fails the widget: "down" says it
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
