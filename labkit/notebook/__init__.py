"""The notebook side: the `%%lab` magics, the widgets, the replay banner.

Importing this package hooks the magics into every lab that becomes the current one (and, in
a kernel of `labkit lesson build --record`, the recorder); `labkit.Lab` imports it.
"""

from labkit.lab import ON_ACTIVATE
from labkit.notebook.magics import register_for
from labkit.notebook.recording import install_recorder

for _hook in (install_recorder, register_for):
    if _hook not in ON_ACTIVATE:
        ON_ACTIVATE.append(_hook)
