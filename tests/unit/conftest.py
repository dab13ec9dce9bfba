"""Fixtures of the pure tests (tests/conftest.py has the shared ones)."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="module")
def dot_program():
    """Graphviz's `dot`, which the rendering tests run: a failure in CI, a skip elsewhere."""
    if shutil.which("dot") is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz's dot is required in CI (apt-get install graphviz)")
        pytest.skip("Graphviz's dot is not installed (set CI=1 to make this a failure)")
