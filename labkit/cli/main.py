"""The `labkit` command. Each subcommand's docstring is its help; the work happens elsewhere."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from labkit.errors import LabError


def cmd_up(args: argparse.Namespace) -> int:
    """Build the lab image if needed, start the lab, and wait until it is ready."""
    from labkit.hosts import compose

    services = ((compose.LAB_SERVICE, "docker-filter", "jupyter") if args.course
                else (compose.LAB_SERVICE,))
    compose.up(build=args.build, services=services, wait=args.wait)
    if args.course:
        print("JupyterLab: run `docker compose logs jupyter` for its URL with the token.")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Stop and remove the course's containers (notebooks on the host are kept)."""
    from labkit.hosts import compose

    return compose.down(volumes=args.volumes)


def cmd_reset(args: argparse.Namespace) -> int:
    """Return the lab to its starting state (no containers, namespaces, extra rules)."""
    from labkit.lab import Lab

    report = Lab.connect().reset()
    for action in report.actions if args.verbose else ():
        print(f"  {action}")
    print(report)
    return 0 if report.clean else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    """Say what works on this host and what to do about each problem (exit 0 = usable)."""
    from labkit.cli.doctor import gather, report, usable

    checks = gather()
    print(report(checks))
    return 0 if usable(checks) else 1


def cmd_run(args: argparse.Namespace) -> int:
    """Run a command in the lab; its output streams here and its exit status is passed on."""
    from labkit.lab import Lab
    from labkit.notebook.magics import stream_to_cell

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise LabError("no command given.", hint="for example: labkit run -- brctl show")
    # One argument is a shell command line; several are quoted word by word.
    line = command[0] if len(command) == 1 else " ".join(_quote(w) for w in command)
    result = Lab.connect().run(line, timeout=args.timeout, on_output=stream_to_cell)
    return 124 if result.timed_out else result.exit_code


def cmd_shell(args: argparse.Namespace) -> int:
    """Open an interactive root shell in the lab (like `docker compose exec dind bash`)."""
    from labkit.lab import Lab

    lab = Lab.connect()
    if lab.mode == "local":
        os.execvp("bash", ["bash", "-l"])
    docker = shutil.which("docker")
    if not docker:
        raise LabError("the docker command-line client is not installed here.",
                       hint=f"use `docker exec -it {lab.name} bash` from a host terminal.")
    os.execvp(docker, [docker, "exec", "-it", "-w", "/root", lab.name, "bash", "-l"])
    return 0  # not reached


def cmd_topo(args: argparse.Namespace) -> int:
    """Print the lab's network as a versioned JSON snapshot, a text summary, or a drawing."""
    from pathlib import Path

    from labkit.draw.dot import Diagram
    from labkit.lab import Lab

    target = Path(args.svg) if args.svg else None
    if target is not None and (target.is_dir() or not target.parent.is_dir()):
        raise LabError(f"cannot write the drawing to {target}: "
                       + ("it is a folder" if target.is_dir() else
                          f"there is no folder {target.parent}"),
                       hint="give a file name in an existing folder, e.g. --svg lab.svg")
    lab = Lab.connect()
    try:
        topo = lab.snapshot()
    finally:
        lab.close()
    if target is not None:
        drawing = Diagram(topo, focus=args.focus or None).svg()
        try:
            target.write_text(drawing)
        except OSError as exc:
            raise LabError(f"cannot write the drawing to {target}: {exc.strerror}") from None
        print(f"wrote {args.svg}", file=sys.stderr)
    if args.json:
        print(topo.to_json(indent=2))
    elif not args.svg:
        print(topo.summary())
    return 0


def cmd_lesson_check(args: argparse.Namespace) -> int:
    """Lint lessons, naming each problem's cell (exit 1 when anything is wrong).

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
    """Re-run lessons in the lab and store their fresh outputs, with a progress bar.

    The text source is synced first (the newer file wins), then each lesson runs with
    labkit.authoring.build (--record: also its replay recording), then it is linted."""
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
    """Write the learner edition (no solutions) and the instructor edition of lessons.

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
    for path in (new.notebook, new.text, new.module, new.registry):
        print(path)
    problems = lint.check(lint.load_lesson(new.notebook))
    for problem in problems:
        print(problem.text(str(new.notebook)), file=sys.stderr)
    print(f"next: write the lesson, then `labkit lesson build {new.notebook}` stores its "
          "outputs (nbval fails until it has)", file=sys.stderr)
    return 1 if problems else 0


def cmd_lesson_sync(args: argparse.Namespace) -> int:
    """Bring each lesson's notebook and its text source (lessons/NN-name.md) in step.

    The newer file wins unless --from says which side; outputs stay in the notebook (a
    changed cell keeps its old outputs until `labkit lesson build`)."""
    from labkit.authoring import lint
    from labkit.authoring.textsource import sync

    for path in lint.lesson_paths(args.paths):
        print(f"{path}: {sync(path, prefer=args.prefer, force=args.force)}")
    return 0


def _quote(word: str) -> str:
    import shlex

    return shlex.quote(word)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labkit", description="Drive the course's Docker-in-Docker networking lab.")
    sub = parser.add_subparsers(dest="cmd", metavar="COMMAND", required=True)

    def add(name: str, func, **kwargs) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=func.__doc__.splitlines()[0], description=func.__doc__,
                           **kwargs)
        p.set_defaults(func=func)
        return p

    p = add("up", cmd_up)
    p.add_argument("--build", action="store_true", help="rebuild the lab image first")
    p.add_argument("--course", action="store_true", help="also start JupyterLab")
    p.add_argument("--wait", type=float, default=180, help="seconds to wait for the lab")
    p = add("down", cmd_down)
    p.add_argument("--volumes", action="store_true",
                   help="also delete the lab's inner Docker storage (images are made again)")
    p = add("reset", cmd_reset)
    p.add_argument("-v", "--verbose", action="store_true", help="list what was undone")
    add("doctor", cmd_doctor)
    p = add("run", cmd_run)
    p.add_argument("--timeout", type=float, default=60, help="seconds (0 = no limit)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    add("shell", cmd_shell)
    p = add("topo", cmd_topo)
    p.add_argument("--json", action="store_true", help="print the JSON snapshot")
    p.add_argument("--svg", metavar="FILE", help="write the diagram as SVG to FILE")
    p.add_argument("--focus", action="append", metavar="NAMESPACE",
                   help="draw only these namespaces (repeatable)")
    _add_lesson_commands(sub)
    return parser


def _add_lesson_commands(sub) -> None:
    """`labkit lesson check|build|release|new|sync`: the instructor's commands."""
    group = sub.add_parser("lesson", help="write, check, build and release lessons",
                           description="Instructors: lint, rebuild, release and create "
                           "lessons (docs/authoring.md).")
    lesson = group.add_subparsers(dest="lesson_cmd", metavar="COMMAND", required=True)

    def add(name: str, func) -> argparse.ArgumentParser:
        p = lesson.add_parser(name, help=func.__doc__.splitlines()[0],
                              description=func.__doc__)
        p.set_defaults(func=func)
        return p

    paths = {"nargs": "*", "metavar": "PATH",
             "help": "lessons or folders of lessons (default: notebooks/)"}
    p = add("check", cmd_lesson_check)
    p.add_argument("paths", **paths)
    p.add_argument("--sanitize", metavar="FILE",
                   help="nbval sanitize file (default: tests/nbval-sanitize.cfg above the lesson)")
    p = add("build", cmd_lesson_build)
    p.add_argument("paths", **paths)
    p.add_argument("--record", action="store_true",
                   help="also write each lesson's replay recording (recordings/NAME.json)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    p = add("release", cmd_lesson_release)
    p.add_argument("out", metavar="OUT", help="folder for learner/ and instructor/")
    p.add_argument("paths", **paths)
    p.add_argument("--force", action="store_true",
                   help="overwrite learner notebooks that are already in OUT")
    p = add("new", cmd_lesson_new)
    p.add_argument("name", help="short name, e.g. vlans (file: notebooks/NN-vlans.ipynb)")
    p.add_argument("--title", help="the lesson's title (default: NAME)")
    p.add_argument("--number", type=int, help="its number NN (default: the next free one)")
    p.add_argument("--notebooks", default="notebooks", help="the lessons' folder")
    p = add("sync", cmd_lesson_sync)
    p.add_argument("paths", **paths)
    p.add_argument("--from", dest="prefer", choices=["newer", "text", "notebook"],
                   default="newer", help="which side wins (default: the newer file)")
    p.add_argument("--force", action="store_true",
                   help="take the text even over a notebook edited since its last sync "
                   "(a backup is kept in .labkit-backups/)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LabError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2 if exc.kind != "timeout" else 124
    except KeyboardInterrupt:
        print("labkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
