"""The network model, pure and stdlib only: the topology as dataclasses built from the probe's
raw scan, the diff between two, NAT rules read from iptables-save, a packet's path, the
recording format, and the version of every file format (labkit.model.formats).

Nothing here touches Docker, netlink or a subprocess; every function is tested from snapshots
recorded in the real lab (tests/snapshots).
"""
