"""How the drawing looks: colours, the font, and the words of the legend and the box labels.

One place, so the legend and the drawing cannot disagree. The values are part of every stored
diagram (nbval compares the lessons' SVG byte for byte): changing one changes them all.
"""

from __future__ import annotations

# Fill and line colour of each kind of thing drawn.
LAB = {"fill": "#e7f0fb", "line": "#2b6cb0"}
NS = {"fill": "#fde8d4", "line": "#dd6b20"}
BRIDGE = {"fill": "#c9efd3", "line": "#2f855a"}
IFACE = {"fill": "#fff4b3", "line": "#b7950b"}
PORT = {"fill": "#e9d8fd", "line": "#6b46c1"}
# A Kubernetes node (its own network namespace, holding its pods' boxes): a machine of the
# cluster, so drawn apart from the namespaces inside it.
NODE = {"fill": "#edf2f7", "line": "#4a5568"}
# A Kubernetes Service: the virtual address kube-proxy's rules give a set of pods.
SERVICE = {"fill": "#e6fffa", "line": "#2c7a7b"}
ADDED = "#d5006d"
REMOVED = "#a0a0a0"
REMOVED_FILL = "#f4f4f4"
WARN = "#c53030"
WARN_FILL = "#fff5f5"
TRACE = "#1c7ed6"  # a traced packet's path (labkit.model.trace), drawn over the picture
VETH = "#4a5568"  # a veth pair's edge
NOTE = "#718096"  # MASQUERADE notes, the way out of the lab
MUTED = "#666666"  # stubs: things that are not drawn themselves

# Monospace on purpose: Docker names veths and MACs at random, and with a fixed-width font
# their random letters cannot change the layout, so stored diagrams compare equal.
FONT = "Courier"

# How wide a grid of alike containers may grow (labkit.draw.group), in points: beside the
# lab's bridge and veth column the drawing then stays within 750 pt (1000 px), its text at
# its own size.
GRID_WIDTH_PT = 300

# The second line of a namespace's box: what kind of namespace it is.
NS_KIND_WORDS = {"container": "container", "netns": "ip netns", "docker": "docker sandbox",
                 "process": "held by a process", "pod": "pod"}

# The legend, left to right: (words, fill, line).
LEGEND = (("lab host", LAB["fill"], LAB["line"]),
          ("namespace", NS["fill"], NS["line"]),
          ("bridge", BRIDGE["fill"], BRIDGE["line"]),
          ("interface", IFACE["fill"], IFACE["line"]),
          ("published port", PORT["fill"], PORT["line"]),
          ("↔ veth pair", "#ffffff", VETH))
# Added to the legend when Kubernetes nodes are drawn.
LEGEND_K8S = (("k8s node", NODE["fill"], NODE["line"]),)
# Added to it when kube-proxy wrote Services (labkit.draw.services).
LEGEND_SERVICES = (("Service (kube-proxy)", SERVICE["fill"], SERVICE["line"]),)
# Added to the legend when a diff is drawn.
LEGEND_DIFF = ((f"<font color=\"{ADDED}\">added/changed</font>", "#ffffff", ADDED),
               (f"<font color=\"{REMOVED}\">removed</font>", REMOVED_FILL, REMOVED))
