"""`labkit lesson build` in the real lab: a tiny lesson runs in a kernel that drives the lab,
and its fresh outputs are stored (moved here from tests/unit, which never touches a lab)."""

from __future__ import annotations

import json
import sys

import pytest
from lesson_samples import code

from labkit.authoring import textsource
from labkit.cli.main import main

pytestmark = pytest.mark.slow


def test_build_runs_a_tiny_lesson_in_the_lab(lab, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_LAB", lab.name)  # the kernel connects to the fixture's lab
    nb = {"cells": [code("from labkit import Lab\nlab = Lab.connect()\nlab.reset()"),
                    code("%%lab\nip -br addr show docker0")],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"t-{i}"
    path = tmp_path / "notebooks" / "09-tiny.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(nb))
    monkeypatch.setattr(sys, "argv", ["labkit"])
    assert textsource.pairing_for(path) is None
    main(["lesson", "build", str(path)])
    err = capsys.readouterr().err
    assert "cell 2/2" in err and "09-tiny: built in" in err
    built = json.loads(path.read_text())
    assert "172.17.0.1/16" in "".join(built["cells"][1]["outputs"][0]["text"])
