"""The course's cell vocabulary (docs/lessons.md), shared by build, lint and release: the
roles a cell can play in `metadata["labkit"]`, and how to read a cell whatever its form
(notebook JSON from json.load, or an nbformat NotebookNode). Pure."""

from __future__ import annotations

from typing import Any

#: the cells of one exercise, in this order (`cell.metadata["labkit"]["role"]`)
EXERCISE_ROLES = ("exercise", "your-turn", "check", "solution", "check-solution")

#: the cells only the instructor edition keeps
SOLUTION_ROLES = ("solution", "check-solution")


def source(cell: Any) -> str:
    """The cell's source as one string (notebook JSON may store it as a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def role(cell: Any) -> tuple[str | None, str | None]:
    """(role, exercise id) from the cell's labkit metadata; (None, None) when it has none."""
    meta = cell.get("metadata", {}).get("labkit", {})
    return (meta.get("role"), meta.get("exercise")) if isinstance(meta, dict) else (None, None)
