"""Network namespaces: where they are, how to tell two apart, and how a thread enters one.

The scanning thread `setns()`s into a namespace just long enough to open a netlink socket
there (a socket stays bound to the namespace it was made in), then returns. No helper process
per namespace (pyroute2's NetNS forks one: ~10x slower).

setns is pyroute2's (`pyroute2.netns.setns`): given an open fd it calls setns(2) on it with
CLONE_NEWNET and leaves the fd open, the same in Debian bookworm's 0.7.2 and in 0.9.x. No
ctypes of our own is needed (the tables themselves are read by probe/netlink.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

NETNS_DIRS = ("/run/netns", "/var/run/netns")  # `ip netns add` names
DOCKER_NETNS_DIR = "/var/run/docker/netns"  # dockerd's sandboxes


@contextmanager
def inside(ns_fd: int, home_fd: int) -> Iterator[None]:
    """Run the block with this thread in the namespace `ns_fd`, then always come back."""
    # Imported here, not at the top: discovery (and the containment check) use this module
    # without pyroute2; only entering a namespace needs it.
    from pyroute2.netns import setns

    setns(ns_fd)
    try:
        yield
    finally:
        setns(home_fd)


def nsfs_dev() -> int:
    """The device number of nsfs: a namespace file is a bind mount of a file there."""
    return os.stat("/proc/self/ns/net").st_dev


def ns_inode(path: str, nsfs: int | None = None) -> int | None:
    """The namespace's inode, or None when `path` is gone or not a namespace at all (a
    left-over file in /var/run/docker/netns or /run/netns whose bind mount is gone)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if nsfs is not None and st.st_dev != nsfs:
        return None
    return st.st_ino
