"""How a learner opens a root shell in each kind of lab, in their words (pure): shown by the
lab controls widget and by `labkit shell` where it cannot open one itself."""

from __future__ import annotations

import shlex

from labkit.hosts.compose import LAB_SERVICE


def terminal_command(kind: str, container_name: str | None = None,
                     compose_project: str | None = None) -> str:
    """How to open a root shell in this lab, in the learner's words (pure)."""
    if kind == "docker-exec" and compose_project:
        return (f"docker compose exec {LAB_SERVICE} bash   (in the course's folder; Compose "
                f"v1: docker-compose exec {LAB_SERVICE} bash; or: labkit shell)")
    if kind == "docker-exec":
        return (f"docker exec -it {shlex.quote(container_name or 'LAB')} bash   "
                "(or: labkit shell)")
    if kind in ("rootless", "netns"):
        extra = " --kind netns" if kind == "netns" else ""
        return (f"labkit rootless shell{extra}   (in a terminal of this JupyterLab: "
                "File › New › Terminal)")
    return "no live lab on this host, so no terminal: `labkit doctor` says why"
