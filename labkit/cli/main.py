"""The `labkit` command: the parser and the dispatch. Each command group lives in its own
module (lab, doctor, rootless, lesson); each command's docstring is its help."""

from __future__ import annotations

import argparse
import sys

from labkit.cli import doctor, lab, lesson, rootless
from labkit.errors import LabError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labkit", description="Drive the course's Docker-in-Docker networking lab.")
    sub = parser.add_subparsers(dest="cmd", metavar="COMMAND", required=True)
    lab.add_commands(sub)
    doctor.add_commands(sub)
    rootless.add_commands(sub)
    lesson.add_commands(sub)
    return parser


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
