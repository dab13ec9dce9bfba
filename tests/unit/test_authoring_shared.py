"""What the authoring tools share: the cell vocabulary (labkit.authoring.cells), nbval's
sanitize file read by nbval's own parser (labkit.authoring.sanitize), and the one joining
of stream chunks (labkit.model.recording.merge_streams) that builds and recordings use."""

from __future__ import annotations

import nbformat
from lesson_samples import SANITIZE, good_lesson

from labkit.authoring import build, cells, release
from labkit.authoring.sanitize import (
    SANITIZE_FILE,
    find_sanitize_file,
    read_sanitize_file,
    sanitize_patterns,
    sanitized,
)
from labkit.model.recording import merge_streams


def test_one_vocabulary_of_exercise_roles():
    assert cells.EXERCISE_ROLES[-2:] == cells.SOLUTION_ROLES
    roles = [cells.role(c)[0] for c in good_lesson()["cells"] if cells.role(c)[0]]
    assert tuple(roles) == cells.EXERCISE_ROLES
    assert cells.role({"metadata": {"labkit": "oops"}}) == (None, None)


def test_a_cell_source_reads_the_same_from_json_and_nbformat():
    as_json = {"cell_type": "code", "source": ["%%lab\n", "ip link"], "metadata": {}}
    node = nbformat.v4.new_code_cell("%%lab\nip link")
    assert cells.source(as_json) == cells.source(node) == "%%lab\nip link"


def test_release_and_build_use_the_same_roles():
    sol = nbformat.v4.new_code_cell("x", metadata={"labkit": {"role": "check-solution"}})
    assert release.is_solution_cell(sol)
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "x", metadata={"labkit": {"role": "answer", "exercise": "lesson0/first-bridge"}})])
    [problem] = build.exercise_cell_problems(bad)
    assert "unknown labkit role 'answer'" in problem and "check-solution" in problem


def test_stream_chunks_are_joined_per_neighbouring_stream():
    chunks = [("stdout", "a"), ("stdout", "b\n"), ("stderr", "e\n"), ("stdout", "c\n")]
    assert merge_streams(chunks) == [("stdout", "ab\n"), ("stderr", "e\n"), ("stdout", "c\n")]
    assert merge_streams([]) == []


def test_a_builds_outputs_join_streams_but_not_across_a_rich_output():
    out = nbformat.v4.new_output
    outputs = [out("stream", name="stdout", text="a"), out("stream", name="stdout", text="b"),
               out("display_data", data={"text/plain": "pic"}),
               out("stream", name="stdout", text="c")]
    merged = build.merge_streams(outputs)
    assert [o.get("text", o.get("data")) for o in merged] == ["ab", {"text/plain": "pic"}, "c"]


def test_the_sanitize_file_is_read_as_nbval_reads_it():
    from nbval.plugin import get_sanitize_patterns

    text = SANITIZE.read_text()
    assert sanitize_patterns(text) == tuple(get_sanitize_patterns(text))
    # nbval keeps the patterns in a dict: a repeated regex once, at its first place, with
    # its last replacement; a `regex:` not directly followed by `replace:` is not a pattern
    twice = "regex: a\nreplace: 1\nregex: b\n\nreplace: 2\nregex: a\nreplace: 3\n"
    assert sanitize_patterns(twice) == (("a", "3"),)
    assert sanitized("a-a", sanitize_patterns(twice)) == "3-3"


def test_the_sanitize_file_is_found_above_the_notebook(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / SANITIZE_FILE).write_text("regex: x\nreplace: y\n")
    (tmp_path / "notebooks").mkdir()
    found = find_sanitize_file(tmp_path / "notebooks" / "00-a.ipynb")
    assert found == tmp_path / SANITIZE_FILE
    assert read_sanitize_file(found) == (("x", "y"),)
