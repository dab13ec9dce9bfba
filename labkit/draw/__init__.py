"""Pictures of the model: style.py (colours, words), dot.py (DOT text, pure, in passes),
svg.py (SVG through the graphviz package), diagram.py (the display object a notebook shows
after a cell), highlight.py (a traced packet's path drawn on top)."""
