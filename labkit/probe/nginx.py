"""An nginx container's config file, read through its process's root: only reads /proc.

A container whose first process is nginx (lesson 14's our-ingress; the lessons' lab-web) has
its config at /etc/nginx/nginx.conf in its own filesystem, which /proc/PID/root shows. The
scan keeps the file only when it has a `location` of its own (a proxy's rendered config):
Debian's stock nginx.conf has none, so the lessons' web servers add nothing to the scan.
Parsing it is the model's job (labkit.model.nginx).
"""

from __future__ import annotations

import os
import re
from typing import Any

from labkit.probe.docker import in_root

DEFAULT_CONF = "/etc/nginx/nginx.conf"
MAX_BYTES = 256 * 1024  # a rendered config is a few kB; more is no proxy of a lesson's
# a location where a directive starts (a one-line config included), not in a comment
_LOCATION = re.compile(r"(?:^|[;{}])\s*location\b", re.M)


def nginx_config(pid: int) -> dict[str, Any] | None:
    """{"path", "text"} of the config nginx (pid `pid`) was started with, {"path", "error"}
    when it is too large to be a lesson's, or None: not nginx, gone, unreadable, or no
    `location` in it."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() != "nginx":
                return None
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        path = conf_path(argv)
        # symlinks resolved inside the container's root, not ours
        with open(in_root(f"/proc/{pid}/root", path), errors="replace") as f:
            text = f.read(MAX_BYTES + 1)
    except OSError:
        return None
    if len(text) > MAX_BYTES:
        return {"path": path, "error": f"larger than {MAX_BYTES // 1024} kB, not read"}
    return {"path": path, "text": text} if _LOCATION.search(text) else None


def conf_path(argv: list[str]) -> str:
    """`nginx -c FILE` (an absolute one; a relative one is under the prefix, which Debian's
    build puts at /etc/nginx), else the default."""
    for flag, value in zip(argv, argv[1:], strict=False):
        if flag == "-c":
            return value if value.startswith("/") else os.path.join("/etc/nginx", value)
    return DEFAULT_CONF
