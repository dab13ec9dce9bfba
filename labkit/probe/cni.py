"""What the CNI plugins leave on the lab host that the kernel does not hold: host-local's
leases, one file per address handed out, in /var/lib/cni/networks/NETWORK/ADDRESS.

Only reads, and only a directory listing plus one small file per lease, since it runs after
every cell. The lease file holds the container id and the interface name on a second line
(host-local writes "ID\\r\\nIFNAME"); a file of the id alone is read too.
"""

from __future__ import annotations

import ipaddress
import os

#: where host-local keeps its leases (its "dataDir" default)
LEASES = "/var/lib/cni/networks"


def leases(root: str = LEASES) -> list[dict[str, str | None]]:
    """Each lease as {network, address, container, ifname}; none when there is no store."""
    try:
        networks = sorted(os.listdir(root))
    except OSError:
        return []
    found: list[dict[str, str | None]] = []
    for network in networks:
        folder = os.path.join(root, network)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            try:
                ipaddress.ip_address(name)
            except ValueError:  # last_reserved_ip.0, lock
                continue
            try:
                with open(os.path.join(folder, name), encoding="utf-8",
                          errors="replace") as f:
                    lines = [line.strip() for line in f.read(4096).splitlines()]
            except OSError:  # released between the listing and now
                continue
            found.append({"network": network, "address": name,
                          "container": lines[0] if lines else "",
                          "ifname": lines[1] if len(lines) > 1 and lines[1] else None})
    return found
