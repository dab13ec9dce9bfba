"""The inner dockerd's API over its unix socket (stdlib http.client; ~1 ms a request)."""

from __future__ import annotations

import http.client
import json
import os
import socket
from typing import Any

DOCKER_SOCKET = "/var/run/docker.sock"


class Docker:
    """Containers and networks of the lab's own dockerd.

    Container details (pid, sandbox path) are cached by container id: they cannot change
    while the container runs, and the cache is checked against /proc on every refresh.
    """

    def __init__(self, path: str = DOCKER_SOCKET) -> None:
        self.path = path
        self._inspect: dict[str, dict[str, Any]] = {}

    def _get(self, url: str) -> Any:
        conn = http.client.HTTPConnection("docker", timeout=5)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(self.path)
        conn.sock = sock
        try:
            conn.request("GET", url)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise OSError(f"dockerd answered {resp.status} to GET {url}")
            return json.loads(body)
        finally:
            conn.close()

    def containers(self) -> list[dict[str, Any]]:
        """Running containers: name, id, image, network mode, pid, sandbox path, networks."""
        out = []
        listed = self._get("/containers/json")
        for c in listed:
            info = self._details(c["Id"])
            out.append({
                "name": c["Names"][0].lstrip("/") if c.get("Names") else c["Id"][:12],
                "id": c["Id"],
                # As the container was started ("busybox", "nginx:1.25"): what the drawing
                # groups alike containers by.
                "image": c.get("Image") or "",
                "network_mode": (c.get("HostConfig") or {}).get("NetworkMode", ""),
                "networks": sorted((c.get("NetworkSettings") or {}).get("Networks") or {}),
                "pid": info["pid"],
                "sandbox": info["sandbox"],
            })
        for gone in set(self._inspect) - {c["Id"] for c in listed}:
            del self._inspect[gone]
        return out

    def _details(self, cid: str) -> dict[str, Any]:
        info = self._inspect.get(cid)
        if info is None or not still_there(info):
            full = self._get(f"/containers/{cid}/json")
            info = {
                "pid": full["State"].get("Pid") or 0,
                "sandbox": full["NetworkSettings"].get("SandboxKey") or "",
                "started": full["State"].get("StartedAt", ""),
            }
            self._inspect[cid] = info
        return info

    def networks(self) -> list[dict[str, Any]]:
        """Docker networks with the bridge device each one uses (docker0, br-<id>)."""
        out = []
        for n in self._get("/networks"):
            bridge = None
            if n.get("Driver") == "bridge":
                bridge = (n.get("Options") or {}).get("com.docker.network.bridge.name") or (
                    "br-" + n["Id"][:12])
            subnets = [c.get("Subnet") for c in (n.get("IPAM") or {}).get("Config") or []
                       if c.get("Subnet")]
            out.append({"name": n["Name"], "id": n["Id"], "driver": n.get("Driver"),
                        "bridge": bridge, "subnets": subnets})
        return out


def still_there(info: dict[str, Any]) -> bool:
    """Is the cached container's namespace still the one it had (sandbox file or process)?"""
    if info["sandbox"]:
        return os.path.exists(info["sandbox"])
    return info["pid"] > 0 and os.path.exists(f"/proc/{info['pid']}")
