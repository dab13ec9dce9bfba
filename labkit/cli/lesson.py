"""`labkit lesson check|build|release|new|sync`: the instructor's commands (docs/authoring.md).

Each command imports its tool when it runs: `labkit --help` must not load nbformat or
nbclient."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labkit.cli.command import add, add_group
from labkit.errors import LabError


def cmd_lesson_check(args: argparse.Namespace) -> int:
    """Lint lessons, naming each problem's cell (exit 1: a problem).

    Each lesson must reset the lab first; have a check, hints and a solution for every
    exercise; store no output the sanitizer does not cover; agree with its text source;
    and not use a container, namespace or bridge that only an earlier lesson made."""
    from labkit.authoring import lint

    paths = lint.lesson_paths(args.paths)
    if not paths:
        raise LabError("no lessons found (notebooks/NN-name.ipynb).",
                       hint="run from the repository root, or name the lessons")
    count = 0
    for path in paths:
        for problem in lint.check(lint.load_lesson(path, sanitize_file=args.sanitize)):
            print(problem.text(str(path)))
            count += 1
    print(f"{len(paths)} lesson(s) checked: " + (f"{count} problem(s)" if count else "no problems"),
          file=sys.stderr)
    return 1 if count else 0


def cmd_lesson_build(args: argparse.Namespace) -> int:
    """Re-run lessons in the lab and store their fresh outputs.

    With a progress bar. The text source is synced first (the newer file wins), then
    each lesson runs with labkit.authoring.build (--record: also its replay recording),
    then it is linted.
    The lab is the one `Lab.connect()` finds (LABKIT_LAB=NAME chooses another)."""
    from labkit.authoring import lint
    from labkit.authoring.lessonbuild import ProgressBar, build_lesson

    failed = 0
    for path in lint.lesson_paths(args.paths):
        bar = ProgressBar(path.stem)
        built = build_lesson(path, record=args.record, timeout=args.timeout,
                             on_cell=bar.update)
        if built.error:
            failed += 1
            bar.finish(f"FAILED after {built.seconds:.0f} s\n{built.error}")
            continue
        bar.finish(f"built in {built.seconds:.0f} s")
        for note in built.notes + built.problems:
            print(f"  {note}", file=sys.stderr)
        failed += bool(built.problems)
    return 1 if failed else 0


def cmd_lesson_release(args: argparse.Namespace) -> int:
    """Write the learner (no solutions) and instructor editions.

    OUT/learner/: the solution and check-solution cells deleted, outputs kept, the exercise
    text no longer offering the solution, replay recordings without those cells.
    OUT/instructor/: everything. Nothing is written when a learner file exists in OUT
    (unless --force) or a lesson cannot be released."""
    from labkit.authoring import lint
    from labkit.authoring.release import release

    written = release(lint.lesson_paths(args.paths), args.out, force=args.force)
    for path in written:
        print(path)
    return 0


def cmd_lesson_new(args: argparse.Namespace) -> int:
    """Make a new lesson that already passes `labkit lesson check`.

    Writes notebooks/NN-NAME.ipynb, lessons/NN-NAME.md and
    labkit/exercises/lessons/lessonNN.py (a working placeholder exercise)."""
    from labkit.authoring import lint
    from labkit.authoring.newlesson import create

    new = create(args.name, args.notebooks, number=args.number, title=args.title)
    for path in (new.notebook, new.text, new.module):
        print(path)
    problems = lint.check(lint.load_lesson(new.notebook))
    for problem in problems:
        print(problem.text(str(new.notebook)), file=sys.stderr)
    print(f"next: write the lesson, then `labkit lesson build {new.notebook}` stores its "
          "outputs (nbval fails until it has)", file=sys.stderr)
    return 1 if problems else 0


def cmd_lesson_sync(args: argparse.Namespace) -> int:
    """Bring each lesson's notebook and its text source in step.

    The text source is lessons/NN-name.md. The newer file wins unless --from says which
    side; outputs stay in the notebook (a changed cell keeps its old outputs until
    `labkit lesson build`)."""
    from labkit.authoring import lint
    from labkit.authoring.textsource import sync, text_only

    paths = lint.lesson_paths(args.paths)
    folders = [Path(p) for p in (args.paths or ["notebooks"]) if Path(p).is_dir()]
    paths += [p for folder in folders for p in text_only(folder) if p not in paths]
    for path in paths:
        print(f"{path}: {sync(path, prefer=args.prefer, force=args.force)}")
    return 0


#: the lesson arguments every lesson command takes
PATHS = {"nargs": "*", "metavar": "PATH",
         "help": "lessons or folders of lessons (default: notebooks/)"}


def add_commands(sub: argparse._SubParsersAction) -> None:
    """`labkit lesson check|build|release|new|sync`."""
    lesson = add_group(sub, "lesson", help="Write, check, build and release lessons.",
                       description="Instructors: lint, rebuild, release and create "
                       "lessons (docs/authoring.md).")
    p = add(lesson, "check", cmd_lesson_check)
    p.add_argument("paths", **PATHS)
    p.add_argument("--sanitize", metavar="FILE",
                   help="nbval sanitize file (default: tests/nbval-sanitize.cfg above the lesson)")
    p = add(lesson, "build", cmd_lesson_build)
    p.add_argument("paths", **PATHS)
    p.add_argument("--record", action="store_true",
                   help="also write each lesson's replay recording (recordings/NAME.json)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    p = add(lesson, "release", cmd_lesson_release)
    p.add_argument("out", metavar="OUT", help="folder for learner/ and instructor/")
    p.add_argument("paths", **PATHS)
    p.add_argument("--force", action="store_true",
                   help="overwrite learner notebooks that are already in OUT")
    p = add(lesson, "new", cmd_lesson_new)
    p.add_argument("name", help="short name, e.g. vlans (file: notebooks/NN-vlans.ipynb)")
    p.add_argument("--title", help="the lesson's title (default: NAME)")
    p.add_argument("--number", type=int, help="its number NN (default: the next free one)")
    p.add_argument("--notebooks", default="notebooks", help="the lessons' folder")
    p = add(lesson, "sync", cmd_lesson_sync)
    p.add_argument("paths", **PATHS)
    p.add_argument("--from", dest="prefer", choices=["newer", "text", "notebook"],
                   default="newer", help="which side wins (default: the newer file)")
    p.add_argument("--force", action="store_true",
                   help="take the text even over a notebook edited since its last sync "
                   "(a backup is kept in .labkit-backups/)")
