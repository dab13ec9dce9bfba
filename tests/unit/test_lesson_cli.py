"""The `labkit lesson` commands: check (also over the course's own lessons: CI fails when a
lesson breaks a rule), sync, release, new, and build (live, on a tiny lesson)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lesson_samples import ROOT, good_lesson, in_repo

from labkit import exercises
from labkit.authoring import lint, textsource
from labkit.cli.main import main

NOTEBOOKS = ROOT / "notebooks"


def test_the_course_lessons_pass_lesson_check(capsys):
    assert main(["lesson", "check", str(NOTEBOOKS)]) == 0, capsys.readouterr().out
    count = len(list(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")))
    assert f"{count} lesson(s) checked: no problems" in capsys.readouterr().err


def test_check_exits_1_and_names_the_cell(tmp_path, capsys):
    nb = good_lesson()
    del nb["cells"][3]  # busybox1 is used but never started
    path = in_repo(tmp_path, nb)
    assert main(["lesson", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "00-welcome.ipynb: cell 4 (s-04): uses the container busybox1" in out


def test_sync_takes_an_edit_of_the_text_source_into_the_notebook(tmp_path, capsys):
    path = in_repo(tmp_path, good_lesson())
    text = tmp_path / "lessons" / "00-welcome.md"
    text.write_text(text.read_text().replace("ping -c 1", "ping -c 2"))
    assert main(["lesson", "sync", "--from", "text", str(path)]) == 0
    nb = json.loads(path.read_text())
    cell = nb["cells"][4]
    assert "ping -c 2" in "".join(cell["source"]) and cell["id"] == "s-04"
    assert cell["outputs"], "the old outputs stay until the next build"
    assert "jupytext" not in nb["metadata"]
    assert main(["lesson", "check", str(path)]) == 0


def test_sync_takes_the_lessons_metadata_from_the_text_source(tmp_path, capsys):
    path = in_repo(tmp_path, good_lesson())
    text = tmp_path / "lessons" / "00-welcome.md"
    before = text.read_text()
    assert "  exercises: [lesson0/first-bridge]\n" in before
    text.write_text(before.replace("  exercises: [lesson0/first-bridge]\n",
                                   "  exercises: [lesson0/first-bridge, lesson0/more]\n", 1))
    assert main(["lesson", "sync", "--from", "text", str(path)]) == 0
    meta = json.loads(path.read_text())["metadata"]["labkit"]
    assert meta["exercises"] == ["lesson0/first-bridge", "lesson0/more"]
    assert meta.get("synced_cells")


def test_sync_takes_an_edited_text_even_when_the_notebook_looks_newer(tmp_path, capsys):
    """After a git checkout or merge both files have new times: the notebook, unchanged since
    its last sync, must not overwrite the text's edit."""
    import os

    path = in_repo(tmp_path, good_lesson())
    assert main(["lesson", "sync", str(path)]) == 0  # stamped as synced
    text = tmp_path / "lessons" / "00-welcome.md"
    text.write_text(text.read_text().replace("ping -c 1", "ping -c 2"))
    later = text.stat().st_mtime + 60
    os.utime(path, (later, later))
    assert main(["lesson", "sync", str(path)]) == 0
    assert "ping -c 2" in path.read_text() and "ping -c 2" in text.read_text()


def test_sync_makes_the_notebook_of_a_lesson_written_as_text_first(tmp_path, capsys):
    path = in_repo(tmp_path, good_lesson())
    text = tmp_path / "lessons" / "00-welcome.md"
    (tmp_path / "lessons" / "01-next.md").write_text(
        text.read_text().replace("lesson: 0", "lesson: 1"))
    assert main(["lesson", "sync", str(path.parent)]) == 0
    made = path.parent / "01-next.ipynb"
    assert "01-next.ipynb: wrote" in capsys.readouterr().out and made.exists()
    cells = json.loads(made.read_text())["cells"]
    assert [c["cell_type"] for c in cells] == [c["cell_type"] for c in good_lesson()["cells"]]
    assert main(["lesson", "sync", str(made)]) == 0
    assert "in sync" in capsys.readouterr().out


def test_sync_takes_the_text_source_for_its_lesson(tmp_path, capsys):
    path = in_repo(tmp_path, good_lesson())
    text = tmp_path / "lessons" / "00-welcome.md"
    (tmp_path / "lessons" / "02-text.md").write_text(
        text.read_text().replace("lesson: 0", "lesson: 2"))
    assert main(["lesson", "sync", str(tmp_path / "lessons" / "02-text.md")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (path.parent / "02-text.ipynb").exists()


def test_sync_of_a_lesson_that_does_not_exist_says_so(tmp_path, capsys):
    path = in_repo(tmp_path, good_lesson())
    assert main(["lesson", "sync", str(path.parent / "07-nothing.ipynb")]) != 0
    said = capsys.readouterr()
    assert "there is no lesson" in said.err + said.out and "Traceback" not in said.err


def test_sync_never_loses_a_learners_cell(tmp_path, capsys):
    """A learner adds a cell and edits another in the notebook; then the text source is
    newer: sync refuses, changes nothing and says how to go on; --force keeps a backup."""
    path = in_repo(tmp_path, good_lesson())
    text = tmp_path / "lessons" / "00-welcome.md"
    nb = json.loads(path.read_text())
    nb["cells"].insert(5, {"cell_type": "code", "id": "mine", "metadata": {}, "outputs": [],
                           "execution_count": None, "source": "%%lab\necho my own cell"})
    nb["cells"][4]["source"] = "%%lab\nping -c 9 172.17.0.2"
    path.write_text(json.dumps(nb, indent=1) + "\n")
    before = path.read_bytes()
    text.write_text(text.read_text().replace("# ", "# Edited: ", 1))
    import os
    os.utime(text, (path.stat().st_mtime + 10,) * 2)  # the text is the newer file

    assert main(["lesson", "sync", str(path)]) == 2  # a LabError: said, no traceback
    err = capsys.readouterr().err
    assert "was edited since it was last synced" in err and "cell(s) 5, 6" in err, err
    assert "--from notebook" in err and "--force" in err
    assert path.read_bytes() == before  # nothing lost, nothing changed
    assert not (path.parent / textsource.BACKUPS).exists()

    assert main(["lesson", "sync", "--force", str(path)]) == 0
    assert "the old notebook is in" in capsys.readouterr().out
    (saved,) = (path.parent / textsource.BACKUPS).iterdir()
    assert saved.read_bytes() == before and "echo my own cell" not in path.read_text()


def test_sync_from_the_notebook_keeps_a_learners_cells(tmp_path, capsys):
    path = in_repo(tmp_path, good_lesson())
    nb = json.loads(path.read_text())
    nb["cells"][4]["source"] = "%%lab\nping -c 9 172.17.0.2"
    path.write_text(json.dumps(nb, indent=1) + "\n")
    assert main(["lesson", "sync", "--from", "notebook", str(path)]) == 0
    assert "ping -c 9" in (tmp_path / "lessons" / "00-welcome.md").read_text()
    # and now the text may be taken again: the notebook is stamped as synced
    assert textsource.would_lose(json.loads(path.read_text()),
                                 (tmp_path / "lessons" / "00-welcome.md").read_text(),
                                 textsource.pairing_for(path)) == []


def test_release_via_the_cli(tmp_path, capsys):
    path = in_repo(tmp_path, good_lesson())
    assert main(["lesson", "release", str(tmp_path / "out"), str(path)]) == 0
    assert main(["lesson", "release", str(tmp_path / "out"), str(path)]) == 2  # no --force
    assert "nothing was released" in capsys.readouterr().err


def _repo_for_new(tmp_path: Path) -> Path:
    in_repo(tmp_path, good_lesson())
    checks = tmp_path / "labkit" / "exercises" / "lessons"
    checks.mkdir(parents=True)
    shutil.copy(ROOT / "labkit" / "exercises" / "lessons" / "lesson1.py", checks / "lesson1.py")
    return tmp_path / "notebooks"


def test_new_makes_a_lesson_that_passes_check(tmp_path, monkeypatch, capsys):
    notebooks = _repo_for_new(tmp_path)
    from labkit.authoring.newlesson import create

    with pytest.raises(Exception, match="lesson1.py already exists"):
        create("VLANs and trunks", notebooks)  # the next number, 1, has an exercise module
    new = create("VLANs and trunks", notebooks, number=7)
    assert new.notebook.name == "07-vlans-and-trunks.ipynb"
    assert new.exercise_id == "lesson7/vlans-and-trunks"
    assert new.module == tmp_path / "labkit" / "exercises" / "lessons" / "lesson7.py"
    # The generated exercise module is in tmp_path, not in the installed labkit: load it.
    spec = importlib.util.spec_from_file_location("generated_lesson", new.module)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    [exercise] = module.EXERCISES
    registry = {e.id: e for e in exercises.exercises()} | {exercise.id: exercise}
    monkeypatch.setattr(exercises, "_registry", registry)
    assert lint.check(lint.load_lesson(new.notebook)) == []
    # The new module lands in labkit/exercises/lessons: it passes the project's ruff rules.
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                           str(ROOT / "pyproject.toml"), str(new.module)],
                          capture_output=True, text=True, timeout=60)
    assert ruff.returncode == 0, ruff.stdout
    assert "TODO" in new.text.read_text()
    with pytest.raises(Exception, match="already exists"):
        create("VLANs and trunks", notebooks, number=7)


def test_new_refuses_a_name_without_letters(tmp_path):
    from labkit.authoring.newlesson import create
    from labkit.errors import UsageError

    with pytest.raises(UsageError, match="makes no file name"):
        create("---", _repo_for_new(tmp_path))


def test_the_progress_hook_counts_every_cell(tmp_path):
    """A pure-Python notebook (no lab) built for real: the callback hears every cell."""
    import nbformat

    from labkit.authoring.build import build
    from labkit.authoring.lessonbuild import ProgressBar

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x"),
                                         nbformat.v4.new_code_cell("1 + 1")])
    path = tmp_path / "00-x.ipynb"
    nbformat.write(nb, path)
    seen = []
    build(path, on_cell=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 2), (2, 2)]
    assert "[############------------] cell 1/2" in ProgressBar("x").line(1, 2)


def test_new_via_the_cli_lists_what_it_wrote(tmp_path, monkeypatch, capsys):
    """`labkit lesson new` prints the three files it wrote (the new exercise module is found
    by pkgutil: no list to edit)."""
    notebooks = _repo_for_new(tmp_path)
    monkeypatch.setattr(exercises, "_registry", None)
    main(["lesson", "new", "--notebooks", str(notebooks), "--number", "8", "Bonds"])
    out = capsys.readouterr().out.split()
    assert out == [str(notebooks / "08-bonds.ipynb"), str(tmp_path / "lessons" / "08-bonds.md"),
                   str(tmp_path / "labkit" / "exercises" / "lessons" / "lesson8.py")]
