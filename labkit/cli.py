"""The `labkit` command. Each subcommand's docstring is its help; the work happens elsewhere."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from .errors import LabError


def cmd_up(args: argparse.Namespace) -> int:
    """Build the lab image if needed, start the lab, and wait until it is ready."""
    from . import compose

    services = (compose.LAB_SERVICE, "jupyter") if args.course else (compose.LAB_SERVICE,)
    compose.up(build=args.build, services=services, wait=args.wait)
    if args.course:
        print("JupyterLab: run `docker compose logs jupyter` for its URL with the token.")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Stop and remove the course's containers (notebooks on the host are kept)."""
    from . import compose

    return compose.down(volumes=args.volumes)


def cmd_reset(args: argparse.Namespace) -> int:
    """Return the lab to its starting state (no containers, namespaces, extra rules)."""
    from .lab import Lab

    report = Lab.connect().reset()
    for action in report.actions if args.verbose else ():
        print(f"  {action}")
    print(report)
    return 0 if report.clean else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    """Say what works on this host and what to do about each problem (exit 0 = usable)."""
    from .doctor import gather, report, usable

    checks = gather()
    print(report(checks))
    return 0 if usable(checks) else 1


def cmd_run(args: argparse.Namespace) -> int:
    """Run a command in the lab; its output streams here and its exit status is passed on."""
    from .lab import Lab
    from .magics import stream_to_cell

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise LabError("no command given.", hint="for example: labkit run -- brctl show")
    # One argument is a shell command line; several are quoted word by word.
    line = command[0] if len(command) == 1 else " ".join(_quote(w) for w in command)
    result = Lab.connect().run(line, timeout=args.timeout, on_output=stream_to_cell)
    return 124 if result.timed_out else result.exit_code


def cmd_shell(args: argparse.Namespace) -> int:
    """Open an interactive root shell in the lab (like `docker compose exec dind bash`)."""
    from .lab import Lab

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

    from .lab import Lab
    from .render import Diagram

    lab = Lab.connect()
    try:
        topo = lab.snapshot()
    finally:
        lab.close()
    if args.svg:
        Path(args.svg).write_text(Diagram(topo, focus=args.focus or None).svg())
        print(f"wrote {args.svg}", file=sys.stderr)
    if args.json:
        print(topo.to_json(indent=2))
    elif not args.svg:
        print(topo.summary())
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
