"""Run a lesson notebook top to bottom as the learner, in a kernel of this Python (nbclient),
and write the executed notebook. Used by test_lessons_in_modes.py.

    python3 run_notebook.py IN.ipynb OUT.ipynb
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> int:
    import nbformat
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    class ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f",
                                    "{connection_file}"], display_name="Python 3",
                              language="python")

    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    nb = nbformat.read(src, as_version=4)
    client = NotebookClient(nb, km=KernelManager(kernel_name="python3",
                                                 kernel_spec_manager=ThisPython()),
                            timeout=300, resources={"metadata": {"path": str(src.parent)}})
    t0 = time.monotonic()
    rc = 0
    try:
        client.execute()
    except CellExecutionError as exc:
        print(f"cell failed: {str(exc)[:3000]}", file=sys.stderr)
        rc = 1
    nb.metadata["labkit_test"] = {"seconds": round(time.monotonic() - t0, 2)}
    nbformat.write(nb, out)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
