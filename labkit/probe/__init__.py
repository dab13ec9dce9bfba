"""What runs inside the lab: the topology probe (`python3 -m labkit.probe`) and the
containment check (`python3 -m labkit.probe.containment`).

Inside the lab only Debian's python3, python3-pyroute2 and labkit's pure model exist, so this
package imports nothing else (tests/unit/test_layout.py checks it in a fresh interpreter). The
lab image carries only labkit/__init__.py, model/, probe/ and scripts/.
"""
