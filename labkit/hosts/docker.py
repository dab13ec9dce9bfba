"""The Docker engine the lab runs on: a client for it, and waiting for the lab to be ready."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from labkit.errors import DockerUnavailable, LabStarting, LabStopped
from labkit.hosts.locate import READY_FILE, LabContainer, from_inspect

if TYPE_CHECKING:
    from docker import DockerClient  # the notebook extra; imported when a client is made


def docker_client() -> DockerClient:
    """A Docker SDK client, or `DockerUnavailable` saying why not."""
    try:
        import docker
    except ImportError:
        raise DockerUnavailable("the Python package `docker` is not installed; "
                                "pip install 'labkit[notebook]'") from None
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - every failure here means "no engine"
        raise DockerUnavailable(why_no_docker(str(exc) or type(exc).__name__)) from None
    return client


def why_no_docker(error: str) -> str:
    """The SDK's connection error in a learner's words (pure)."""
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if "FileNotFoundError" in error or "No such file" in error:
        return f"there is no Docker socket at {where}"
    if "Permission denied" in error or "PermissionError" in error:
        return (f"permission denied on {where}: your user may not use Docker "
                "(Linux: add it to the `docker` group, then log in again)")
    if "Connection refused" in error or "ConnectionRefused" in error:
        return f"nothing answers at {where}"
    return error.splitlines()[0][:200]


def wait_until_ready(client, lab: LabContainer, wait: float) -> LabContainer:
    """Poll until the lab's healthcheck passes (or, without one, its ready file exists)."""
    deadline = time.monotonic() + wait
    while True:
        lab = from_inspect(client.api.inspect_container(lab.id))
        if lab.ready:
            return lab
        if lab.running and lab.health is None and _has_ready_file(client, lab):
            return lab
        if not lab.running and lab.status not in ("created", "restarting"):
            raise LabStopped(lab.name, lab.status)
        if time.monotonic() >= deadline:
            raise LabStarting(lab.name, wait)
        time.sleep(0.5)


def _has_ready_file(client, lab: LabContainer) -> bool:
    exec_id = client.api.exec_create(lab.id, ["test", "-e", READY_FILE])["Id"]
    client.api.exec_start(exec_id)
    return client.api.exec_inspect(exec_id).get("ExitCode") == 0
