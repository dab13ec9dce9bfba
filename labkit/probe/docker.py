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

    def __init__(self, path: str = DOCKER_SOCKET, root: str | None = None) -> None:
        self.path = path
        # A node's engine (labkit.probe.nodes) sees the files of its own mount namespace:
        # its sandbox paths are read through `root` (/proc/<its pid>/root), and the images
        # a kubelet starts by id are named by their tag.
        self.root = root
        self._inspect: dict[str, dict[str, Any]] = {}
        self._tags: dict[str, str] = {}

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
        """Running containers: name, id, image, network mode, pid, sandbox path, networks;
        a Kubernetes pod's containers (a kubelet's dockershim labels them) also their pod."""
        out = []
        listed = self._get("/containers/json")
        for c in listed:
            info = self._details(c["Id"])
            entry = {
                "name": c["Names"][0].lstrip("/") if c.get("Names") else c["Id"][:12],
                "id": c["Id"],
                # As the container was started ("busybox", "nginx:1.25"): what the drawing
                # groups alike containers by.
                "image": self._image(c.get("Image") or ""),
                "network_mode": (c.get("HostConfig") or {}).get("NetworkMode", ""),
                "networks": sorted((c.get("NetworkSettings") or {}).get("Networks") or {}),
                "pid": info["pid"],
                "sandbox": info["sandbox"],
            }
            pod = pod_of(c.get("Labels") or {})
            if pod is not None:
                entry["pod"] = pod
            out.append(entry)
        for gone in set(self._inspect) - {c["Id"] for c in listed}:
            del self._inspect[gone]
        return out

    def _details(self, cid: str) -> dict[str, Any]:
        info = self._inspect.get(cid)
        if info is None or not still_there(info):
            full = self._get(f"/containers/{cid}/json")
            info = {
                "pid": full["State"].get("Pid") or 0,
                "sandbox": in_root(self.root, full["NetworkSettings"].get("SandboxKey") or ""),
                "started": full["State"].get("StartedAt", ""),
            }
            self._inspect[cid] = info
        return info

    def _image(self, image: str) -> str:
        """The image as a learner names it: a node engine's kubelet starts images by id."""
        if self.root is None or not image.startswith("sha256:"):
            return image
        if image not in self._tags:
            for im in self._get("/images/json"):
                self._tags[im["Id"]] = next(iter(im.get("RepoTags") or []), im["Id"][7:19])
            # an id the engine no longer lists (its image removed under a running container):
            # its short id, kept, so the next scans do not list the images again for it
            self._tags.setdefault(image, image[7:19])
        return self._tags[image]

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


#: the labels a kubelet's dockershim puts on the containers it makes (pkg/kubelet/dockershim)
POD_LABELS = {"name": "io.kubernetes.pod.name", "namespace": "io.kubernetes.pod.namespace",
              "container": "io.kubernetes.container.name", "type": "io.kubernetes.docker.type"}


def pod_of(labels: dict[str, str]) -> dict[str, str] | None:
    """The pod a container belongs to, from its labels: pod name and namespace, the
    container's name in the pod ("POD" for the pause container), and its type ("podsandbox"
    for the pause container, "container" for the others). None for any other container."""
    if POD_LABELS["name"] not in labels:
        return None
    return {k: labels.get(label, "") for k, label in POD_LABELS.items()}


def in_root(root: str | None, path: str) -> str:
    """`path` as seen by a process whose root is `root` (/proc/<pid>/root), from here: each
    symlink on the way resolved inside that root (an absolute one, /var/run -> /run, would
    otherwise lead back to our own /run). `path` itself when `root` is None or it is empty."""
    if root is None or not path:
        return path
    parts = [p for p in path.split("/") if p]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        here = os.path.join(root, *done, part)
        if os.path.islink(here) and hops < 40:
            hops += 1
            target = os.readlink(here)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        if part == "..":
            done = done[:-1]
        elif part != ".":
            done.append(part)
    return os.path.join(root, *done)


def still_there(info: dict[str, Any]) -> bool:
    """Is the cached container's namespace still the one it had (sandbox file or process)?"""
    if info["sandbox"]:
        return os.path.exists(info["sandbox"])
    return info["pid"] > 0 and os.path.exists(f"/proc/{info['pid']}")
