"""Find the lab container on a Docker engine: by name, or by the label docker-compose.yml puts
on it. Reading Docker's answers into `LabContainer` is pure; only `find_lab` talks to Docker."""

from __future__ import annotations

import os
from dataclasses import dataclass

LAB_LABEL = "org.labkit.role=lab"
READY_FILE = "/run/labkit/ready"


@dataclass(frozen=True)
class LabContainer:
    id: str
    name: str
    status: str  # Docker's: created, running, paused, restarting, exited, dead
    health: str | None  # starting, healthy, unhealthy, or None without a healthcheck
    project: str | None  # the compose project, when started by compose
    created: str

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def ready(self) -> bool:
        return self.running and self.health == "healthy"

    @property
    def state(self) -> str:
        """One word for people: ready, starting, unhealthy, stopped."""
        if not self.running:
            return "stopped"
        return {"healthy": "ready", "unhealthy": "unhealthy"}.get(self.health or "", "starting")


def from_inspect(attrs: dict) -> LabContainer:
    """A `LabContainer` from `docker inspect` JSON (pure)."""
    state = attrs.get("State", {})
    labels = attrs.get("Config", {}).get("Labels") or {}
    return LabContainer(
        id=attrs["Id"],
        name=attrs.get("Name", "").lstrip("/"),
        status=state.get("Status", "unknown"),
        health=(state.get("Health") or {}).get("Status"),
        project=labels.get("com.docker.compose.project"),
        created=attrs.get("Created", ""),
    )


def choose(candidates: list[LabContainer], project: str | None = None) -> LabContainer | None:
    """Several labelled labs: prefer this compose project, then running, then the newest."""
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c.project == project, c.running, c.created))


def find_lab(client, name: str | None = None) -> LabContainer | None:
    """The lab container: `name` (or $LABKIT_LAB) if given, else the labelled one."""
    import docker.errors

    name = name or os.environ.get("LABKIT_LAB")
    if name:
        try:
            return from_inspect(client.api.inspect_container(name))
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            if exc.status_code != 403:
                raise
            # Behind labkit's Docker filter (JupyterLab) a container is inspected by its full
            # id only, and only the lab is listed: find the name there.
            found = client.api.containers(all=True, filters={"label": LAB_LABEL})
            ids = [c["Id"] for c in found if name in (c["Id"], *(n.lstrip("/")
                                                                    for n in c["Names"]))]
            return from_inspect(client.api.inspect_container(ids[0])) if ids else None
    found = client.api.containers(all=True, filters={"label": LAB_LABEL})
    labs = [from_inspect(client.api.inspect_container(c["Id"])) for c in found]
    return choose(labs, os.environ.get("COMPOSE_PROJECT_NAME", "labkit"))
