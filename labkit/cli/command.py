"""What every `labkit` command group shares: how a command is added to the parser (its
docstring is its help) and how the words after `--` become one shell command line."""

from __future__ import annotations

import argparse
import inspect
import shlex
from collections.abc import Callable

from labkit.errors import LabError

#: a command: the parsed arguments in, the exit status out
Command = Callable[[argparse.Namespace], int]


def add(sub: argparse._SubParsersAction, name: str, func: Command) -> argparse.ArgumentParser:
    """Add `name` to the subcommands `sub`; the first line of `func`'s docstring is the one-line
    help `labkit --help` lists, the whole docstring the command's own --help."""
    doc = inspect.cleandoc(func.__doc__ or name)
    parser = sub.add_parser(name, help=doc.splitlines()[0], description=doc,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=func)
    return parser


def add_group(sub: argparse._SubParsersAction, name: str, help: str,
              description: str) -> argparse._SubParsersAction:
    """A command with its own subcommands (`labkit lesson ...`, `labkit rootless ...`)."""
    group = sub.add_parser(name, help=help, description=description)
    return group.add_subparsers(dest=f"{name}_cmd", metavar="COMMAND", required=True)


def command_line(words: list[str], example: str) -> str:
    """The words after `--` as one shell command line (pure): one word is a command line as
    typed; several are quoted word by word, as the shell had split them."""
    words = words[1:] if words[:1] == ["--"] else words
    if not words:
        raise LabError("no command given.", hint=f"for example: {example}")
    return words[0] if len(words) == 1 else " ".join(shlex.quote(w) for w in words)
