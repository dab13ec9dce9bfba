"""Pictures of the model: DOT text (pure), SVG through graphviz, and the display objects a
notebook shows after a cell."""
