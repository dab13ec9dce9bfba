"""What runs inside the lab: the topology probe (`python3 -m labkit.probe`) and the
containment check (`python3 -m labkit.probe.containment`).

One module per job: `netns` (finding and entering namespaces), `docker` (the inner dockerd's
API), `discover` (the lab's namespaces, each known every way it is), `netlink` (a lean rtnetlink
socket: the dumps the scan needs, decoded into pyroute2's shapes), `tables` (links,
addresses, routes, FDB of one namespace), `scan` (the Probe: all of it into one raw scan),
`serve` (the command line and the line protocol). Device kinds are read and resolved by
labkit.model.kinds, pure code shared with the notebook side.

Inside the lab only Debian's python3, python3-pyroute2 and labkit's pure model exist, so this
package imports nothing else (tests/unit/test_layout.py checks it in a fresh interpreter), and
pyroute2 only to enter a namespace (setns). The lab image carries only labkit/__init__.py, model/,
probe/ and scripts/.
"""
