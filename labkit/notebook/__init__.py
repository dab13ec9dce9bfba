"""The notebook side: the `%%lab` magics, the widgets, the replay banner.

Importing this package hooks the magics into every lab that becomes the current one (and, in
a kernel of `labkit lesson build --record`, the recorder); `labkit.Lab` imports it. IPython is
needed only once a lab connects inside a kernel: a script or `labkit run` has none.
"""

from __future__ import annotations

from labkit.lab import ON_ACTIVATE, Lab
from labkit.notebook.recording import install_recorder


def register_magics(lab: Lab) -> None:
    """The %%lab magics, in an IPython kernel (plain Python has no IPython to load)."""
    try:
        from labkit.notebook.magics import register_for  # imports IPython: only if it exists
    except ImportError:
        return
    register_for(lab)


for _hook in (install_recorder, register_magics):
    if _hook not in ON_ACTIVATE:
        ON_ACTIVATE.append(_hook)
