"""labkit.authoring.release: the learner edition has no solutions (deleted, not hidden), keeps
outputs and says nothing of the solution; the instructor edition has everything; nothing in
OUT is overwritten without force, and bad input writes nothing."""

from __future__ import annotations

import json

import pytest
from lesson_samples import NAME, code, good_lesson, in_repo

from labkit.authoring import release
from labkit.errors import UsageError


def roles(nb: dict) -> list:
    return [c["metadata"].get("labkit", {}).get("role") for c in nb["cells"]]


def test_learner_edition_deletes_the_solution_cells_and_keeps_outputs():
    nb = good_lesson()
    learner = release.apply(nb, release.LEARNER)
    assert "solution" not in roles(learner) and "check-solution" not in roles(learner)
    assert len(learner["cells"]) == len(nb["cells"]) - 2
    assert learner["cells"][3]["outputs"] == nb["cells"][3]["outputs"]
    assert learner["metadata"]["labkit"]["edition"] == "learner"
    assert release.leaks(learner) == []
    assert "solution" in roles(nb), "the input is not changed"


def test_learner_edition_no_longer_offers_the_solution():
    text = ("Write your commands in the next cell and run it. `hint(\"lesson0/first-bridge\")` "
            "shows a hint (one more each\ntime you run it) and `solution(\"lesson0/first-bridge"
            "\")` prints a solution.")
    nb = {"cells": [{"cell_type": "markdown", "metadata": {"labkit": {"role": "exercise"}},
                     "source": text}], "metadata": {}}
    out = release.reword_exercise_text(nb)["cells"][0]["source"]
    assert out.endswith("shows a hint (one more each\ntime you run it).")
    nb["cells"][0]["source"] = ("Make a bridge at 10.15.10.4.\n\nThe hidden cell below holds "
                                "the solution. Check it with check().")
    out = release.reword_exercise_text(nb)["cells"][0]["source"]
    assert out == "Make a bridge at 10.15.10.4.\n\nCheck it with check()."


def test_instructor_edition_keeps_everything():
    nb = good_lesson()
    instructor = release.apply(nb, release.INSTRUCTOR)
    assert instructor["cells"] == nb["cells"]
    assert instructor["metadata"]["labkit"]["edition"] == "instructor"


def test_a_solution_left_in_an_unmarked_cell_is_a_leak():
    nb = good_lesson()
    from labkit.exercises import get

    nb["cells"].insert(3, code("%%lab\n" + get("lesson0/first-bridge").solution))
    learner = release.apply(nb, release.LEARNER)
    assert release.leaks(learner) == ["cell 4 holds the solution of lesson0/first-bridge"]


def test_learner_recording_drops_the_solution_cells_and_their_snapshots():
    nb = good_lesson()
    rec = {"format": 1, "cells": [
        {"index": 1, "id": "s-01", "source": "x", "events": [{"snapshot": "t1"}]},
        {"index": 8, "id": nb["cells"][8]["id"], "source": "%%lab ...",
         "events": [{"run": "ip link add hello0 type bridge"}, {"snapshot": "t2"}]}],
        "topologies": {"t1": {}, "t2": {"secret": True}}}
    out = release.learner_recording(rec, release.apply(nb, release.LEARNER))
    assert [c["id"] for c in out["cells"]] == ["s-01"] and list(out["topologies"]) == ["t1"]


def test_release_writes_both_editions_with_recordings(tmp_path):
    path = in_repo(tmp_path, good_lesson())
    (path.parent / "recordings").mkdir()
    (path.parent / "recordings" / "00-welcome.json").write_text(json.dumps(
        {"format": 1, "cells": [], "topologies": {}}))
    written = release.release([path], tmp_path / "out")
    names = sorted(str(p.relative_to(tmp_path / "out")) for p in written)
    assert names == ["instructor/00-welcome.ipynb", "instructor/recordings/00-welcome.json",
                     "learner/00-welcome.ipynb", "learner/recordings/00-welcome.json"]
    learner = json.loads((tmp_path / "out" / "learner" / NAME).read_text())
    assert "solution" not in roles(learner)


def test_an_existing_learner_notebook_is_not_overwritten_without_force(tmp_path):
    path = in_repo(tmp_path, good_lesson())
    out = tmp_path / "out"
    (out / "learner").mkdir(parents=True)
    (out / "learner" / NAME).write_text("a learner's own work")
    with pytest.raises(UsageError, match="--force"):
        release.release([path], out)
    assert (out / "learner" / NAME).read_text() == "a learner's own work"
    assert not (out / "instructor").exists(), "nothing at all was written"
    release.release([path], out, force=True)
    assert json.loads((out / "learner" / NAME).read_text())["cells"]


def test_bad_input_writes_nothing(tmp_path):
    good = in_repo(tmp_path, good_lesson())
    bad = tmp_path / "notebooks" / "01-broken.ipynb"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="01-broken.ipynb: cannot read it"):
        release.release([good, bad], tmp_path / "out")
    assert not (tmp_path / "out").exists()
