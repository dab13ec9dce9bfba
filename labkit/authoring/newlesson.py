"""`labkit lesson new NAME`: a new lesson that already passes `labkit lesson check`.

It writes, in the repository whose `notebooks/` folder is given (default: ./notebooks):

* `lessons/NN-name.md`: the text source, from `labkit/templates/lesson.md`: a title cell, the
  opening cell (connect, reset), one step, a summary, and the exercise's five cells;
* `notebooks/NN-name.ipynb`: the same cells as a notebook (no outputs yet: `labkit lesson
  build` stores them, and nbval fails until it has);
* `labkit/exercises/lessons/lessonNN.py`: the lesson's exercise, from
  `templates/exercise.py.txt`: a real, working placeholder (make a namespace) to replace with
  the lesson's own. labkit.exercises finds lesson modules by themselves (pkgutil): no list to
  edit.

Why generate the exercise instead of making it optional: every lesson ends with an exercise
(docs/lessons.md), the exercise cells are only consistent with labkit.exercises when the
exercise exists there, and the exercise tests (tests/lessons/test_exercises.py) then cover
the new lesson from its first commit. Nothing is written when any of these files exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import labkit.exercises
from labkit.authoring import textsource
from labkit.errors import UsageError
from labkit.model.formats import LESSON_FORMAT

TEMPLATES = Path(__file__).parent.parent / "templates"

#: as in the other lessons (the text source's code cells then say `ipython3`)
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
    "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}


@dataclass(frozen=True)
class NewLesson:
    number: int
    slug: str
    title: str
    notebook: Path
    text: Path
    module: Path

    @property
    def exercise_id(self) -> str:
        return f"lesson{self.number}/{self.slug}"


def slugify(name: str) -> str:
    """'VLANs and trunks' -> 'vlans-and-trunks' (the file name part of NN-name)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        raise UsageError(f"{name!r} makes no file name", hint="use letters and digits, "
                         "e.g. `labkit lesson new vlans`")
    return slug


def next_number(notebooks: Path) -> int:
    numbers = [int(p.name[:2]) for p in notebooks.glob("[0-9][0-9]-*.ipynb")]
    return max(numbers, default=-1) + 1


def fill(template: str, values: dict[str, str]) -> str:
    """Replace each {{key}}; an unknown key is a bug in the template (pure)."""

    def one(m: re.Match) -> str:
        if m.group(1) not in values:
            raise KeyError(f"template placeholder {{{{{m.group(1)}}}}} has no value")
        return values[m.group(1)]

    return re.sub(r"\{\{(\w+)\}\}", one, template)


def plan(name: str, notebooks: Path, *, number: int | None = None,
         title: str | None = None) -> NewLesson:
    """Where the new lesson's files go (nothing written)."""
    notebooks = Path(notebooks)
    root = notebooks.resolve().parent
    slug = slugify(name)
    number = next_number(notebooks) if number is None else number
    stem = f"{number:02d}-{slug}"
    name = name.strip()
    return NewLesson(number, slug, title or name[:1].upper() + name[1:],
                     notebooks / f"{stem}.ipynb", root / "lessons" / f"{stem}.md",
                     root / "labkit" / "exercises" / "lessons" / f"lesson{number}.py")


def values(new: NewLesson) -> dict[str, str]:
    namespace = f"lesson{new.number}"
    task = f"Make a network namespace named `{namespace}` in the lab."
    return {
        "number": str(new.number), "title": new.title, "slug": new.slug,
        "format": str(LESSON_FORMAT),
        "exercise_id": new.exercise_id, "exercise_title": "Make a namespace",
        "task": task, "namespace": namespace, "notebook": new.notebook.name,
        "function": re.sub(r"\W", "_", new.slug),
        "solution": f"ip netns add {namespace}\nip netns list",
        "solution_line1": f"ip netns add {namespace}", "solution_line2": "ip netns list",
    }


def notebook_from_text(text: str, number: int) -> dict:
    """The new notebook: the template's cells, ids like the other lessons' (l5-00, ...)."""
    import jupytext
    import nbformat

    nb = jupytext.reads(text, fmt="md:myst")
    nb.metadata.pop("jupytext", None)
    nb.metadata["language_info"] = dict(LANGUAGE_INFO)  # the build adds the version
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"l{number}-{i:02d}"
        cell.metadata.pop("jupytext", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(nb)
    return nb


def create(name: str, notebooks: str | Path = "notebooks", *, number: int | None = None,
           title: str | None = None) -> NewLesson:
    """Write the new lesson's files; refuses (writing nothing) when any exists."""
    import nbformat

    new = plan(name, Path(notebooks), number=number, title=title)
    if not Path(notebooks).is_dir():
        raise UsageError(f"{notebooks} is not a folder of lessons",
                         hint="run from the repository root, or give --notebooks")
    taken = [p for p in (new.notebook, new.text, new.module) if p.exists()]
    if taken:
        raise UsageError(f"nothing was written: {taken[0]} already exists",
                         hint="choose another name, or another number with --number")
    if not new.module.parent.is_dir():
        raise UsageError(f"{new.module.parent} is missing: is {notebooks} in a labkit "
                         "repository?")
    vals = values(new)
    md = fill((TEMPLATES / "lesson.md").read_text(encoding="utf-8"), vals)
    module = fill((TEMPLATES / "exercise.py.txt").read_text(encoding="utf-8"), vals)
    nb = notebook_from_text(md, new.number)

    nbformat.write(nb, new.notebook)
    pairing = textsource.pairing_for(new.notebook)
    text_path = pairing.text if pairing else new.text
    text_path.parent.mkdir(parents=True, exist_ok=True)
    text_path.write_text(textsource.render(nb, pairing) if pairing else md, encoding="utf-8")
    new.module.write_text(module, encoding="utf-8")
    _forget_loaded_exercises()
    return new


def _forget_loaded_exercises() -> None:
    """Exercises are found once per process: look again, so the new module is seen."""
    import importlib

    importlib.invalidate_caches()
    labkit.exercises.forget()
