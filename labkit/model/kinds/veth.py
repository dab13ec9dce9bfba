"""veth: IFLA_LINK is the peer, not a lower device (plotnetcfg's handlers/veth.c)."""

from __future__ import annotations

from labkit.model.kinds.base import Kind, Link, Resolved, Scope


def resolve(lk: Link, scope: Scope) -> Resolved:
    target = scope.target(lk)
    info = dict(lk.get("info") or {})
    if target is None:
        # Outside the lab is expected for the lab's own uplink: only "info" then.
        level = "info" if lk["index"] in scope.uplinks else "warning"
        return Resolved(info=info, problem=(_not_found(lk, scope), level))
    ino, other = target
    peer = scope.endpoint(target)
    # A veth pair points both ways; anything else means the kernel state moved mid-scan.
    same_ns = ino == scope.entry["inode"]
    points_back = (other.get("link") == lk["index"]
                   and (other.get("link_netnsid") is None) == same_ns)
    if other.get("kind") != "veth" or not points_back:
        return Resolved(peer=peer, info=info,
                        problem=("failed to find the veth peer reliably", "warning"))
    return Resolved(peer=peer, info=info)


def _not_found(lk: Link, scope: Scope) -> str:
    nsid = lk.get("link_netnsid")
    if nsid is None:
        return f"veth peer ifindex {lk.get('link')} not found in this namespace"
    if str(nsid) in (scope.entry.get("netnsids") or {}):
        return f"veth peer ifindex {lk.get('link')} not found (netnsid {nsid})"
    if lk["index"] in scope.uplinks:
        return f"veth peer is outside the lab (netnsid {nsid})"
    return (f"veth peer is in a namespace the probe cannot see "
            f"(netnsid {nsid}, ifindex {lk.get('link')})")


KIND = Kind("veth", resolve)
