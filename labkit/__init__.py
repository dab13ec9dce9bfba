"""labkit: run container-networking lessons in a real lab, and see what the kernel holds.

    from labkit import Lab
    lab = Lab.connect()
"""

from .errors import (
    CommandFailed,
    CommandTimeout,
    DockerUnavailable,
    LabError,
    LabGone,
    LabNotFound,
    LabStarting,
    LabStopped,
)
from .lab import Lab, ResetReport
from .result import Result

__all__ = [
    "CommandFailed", "CommandTimeout", "DockerUnavailable", "Lab", "LabError", "LabGone",
    "LabNotFound", "LabStarting", "LabStopped", "ResetReport", "Result",
]
__version__ = "0.1.0"


def load_ipython_extension(ipython) -> None:
    """`%load_ext labkit`: the %%lab and %lab magics."""
    from .magics import register

    register(ipython)
