"""Lesson 9: the exercise's start state (lesson9.SETUP) is made from the same source and the
same two fixes as the lesson's cells, so the tests start where a learner stands."""

from __future__ import annotations

from pathlib import Path

import nbformat

from labkit.exercises.lessons import lesson9

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "09-cni-go.ipynb"


def _cells() -> list[str]:
    return [c.source for c in nbformat.read(NOTEBOOK, 4).cells if c.cell_type == "code"]


def test_the_lesson_writes_the_article_source_of_lesson9():
    heredoc = "cat > simple-bridge.go <<\"EOF\"\n"
    cell = next(c for c in _cells() if heredoc in c)
    written = cell.split(heredoc, 1)[1].split("\nEOF\n", 1)[0] + "\n"
    assert written == lesson9.ARTICLE_SOURCE


def test_the_lesson_makes_the_two_fixes_of_lesson9():
    text = "\n".join(_cells())
    assert lesson9.FIX_MAC in text
    assert lesson9.FIX_UP in text
    assert lesson9.ARTICLE_CONF in text
