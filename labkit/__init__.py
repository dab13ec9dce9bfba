"""labkit: run container-networking lessons in a real lab, and see what the kernel holds.

    from labkit import Lab
    lab = Lab.connect()

The names below load on first use (PEP 562): the probe that runs inside the lab imports
`labkit.probe` with Debian's python3 and must not pull in Docker, IPython or the notebook side.
Where each part lives: docs/architecture.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_ERRORS = ("CommandFailed", "CommandTimeout", "DockerUnavailable", "LabError", "LabGone",
           "LabNotFound", "LabStarting", "LabStopped", "UsageError")
__all__ = [
    "CommandFailed", "CommandTimeout", "DockerUnavailable", "Lab", "LabError", "LabGone",
    "LabNotFound", "LabStarting", "LabStopped", "ResetReport", "Result", "UsageError",
]

if TYPE_CHECKING:
    from labkit.errors import (
        CommandFailed,
        CommandTimeout,
        DockerUnavailable,
        LabError,
        LabGone,
        LabNotFound,
        LabStarting,
        LabStopped,
        UsageError,
    )
    from labkit.lab import Lab, ResetReport
    from labkit.result import Result


def __getattr__(name: str) -> Any:
    if name in _ERRORS:
        from labkit import errors

        return getattr(errors, name)
    if name == "Result":
        from labkit.result import Result

        return Result
    if name in ("Lab", "ResetReport"):
        import labkit.notebook  # noqa: F401 - hooks %%lab into every lab that connects
        from labkit import lab

        return getattr(lab, name)
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext labkit`: the %%lab, %lab and %lab_draw magics."""
    from labkit.notebook.magics import register

    register(ipython)
