"""host-local's lease store, parsed: pure code, no I/O. The one parser of it in labkit.

host-local (the CNI IPAM plugin of the lessons) keeps one file per address it handed out,
/var/lib/cni/networks/NETWORK/ADDRESS, holding the container id and, on a second line, the
interface name ("ID\\r\\nIFNAME"; a file of the id alone is read too). Beside them in that folder
are files that are not leases: `last_reserved_ip.0` and `lock`. The probe reads the files
(labkit.probe.cni, in the lab) and hands their text here; the exercise checks ask that same
reader in the lab (`python3 -m labkit.probe.cni`), so the store is read one way everywhere.
"""

from __future__ import annotations

import ipaddress

#: where host-local keeps its leases (its "dataDir" default)
LEASES = "/var/lib/cni/networks"


def is_lease(name: str) -> bool:
    """Is a file of the store a lease (named after an address), not `lock` and the like?"""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def parse_lease(network: str, address: str, text: str) -> dict[str, str | None]:
    """One lease file's text as {network, address, container, ifname} (the probe's raw
    form; ifname None when the file has no second line). host-local ends lines with \\r\\n."""
    lines = [line.strip() for line in text.splitlines()]
    return {"network": network, "address": address,
            "container": lines[0] if lines else "",
            "ifname": lines[1] if len(lines) > 1 and lines[1] else None}


def leases_of(found: list[dict[str, str | None]], network: str) -> dict[str, str]:
    """{address: container id} of the leases of `network` among `found` (parse_lease's form),
    the shape the checks ask about."""
    return {str(x["address"]): str(x["container"]) for x in found if x["network"] == network}
