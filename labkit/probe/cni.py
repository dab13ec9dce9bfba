"""What the CNI plugins leave on the lab host that the kernel does not hold: host-local's
leases, one file per address handed out, in /var/lib/cni/networks/NETWORK/ADDRESS.

Only reads, and only a directory listing plus one small file per lease, since it runs after
every cell. The file's text is parsed by labkit.model.cni (the one parser of the store).
`python3 -m labkit.probe.cni` prints the same leases as JSON: the exercise checks read the
store through it, so the probe and the checks see it alike.
"""

from __future__ import annotations

import json
import os
import sys

from labkit.model.cni import LEASES, is_lease, parse_lease


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
            if not is_lease(name):  # last_reserved_ip.0, lock
                continue
            try:
                with open(os.path.join(folder, name), encoding="utf-8",
                          errors="replace") as f:
                    text = f.read(4096)
            except OSError:  # released between the listing and now
                continue
            found.append(parse_lease(network, name, text))
    return found


if __name__ == "__main__":
    json.dump(leases(*sys.argv[1:2]), sys.stdout)
    sys.stdout.write("\n")
