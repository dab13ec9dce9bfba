"""`labkit up|down|reset|run|shell|topo`: the course's lab.

Each command imports what it drives when it runs: `labkit --help` and a usage error must not
load Docker's client, Compose or the drawing code."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from labkit.cli.command import add, command_line
from labkit.errors import LabError
from labkit.hosts.shell import terminal_command


def cmd_up(args: argparse.Namespace) -> int:
    """Start the lab, building its image if needed, and wait for it."""
    from labkit.hosts import compose

    services = ((compose.LAB_SERVICE, "docker-filter", "jupyter") if args.course
                else (compose.LAB_SERVICE,))
    compose.up(build=args.build, services=services, wait=args.wait, go=args.go, k8s=args.k8s)
    if args.course:
        print("JupyterLab: run `docker compose logs jupyter` for its URL with the token.")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Stop and remove the course's containers (notebooks are kept)."""
    from labkit.hosts import compose

    return compose.down(volumes=args.volumes)


def cmd_reset(args: argparse.Namespace) -> int:
    """Return the lab to its starting state.

    No containers, namespaces or rules but the ones the lab starts with."""
    from labkit.lab import Lab

    report = Lab.connect().reset()
    for action in report.actions if args.verbose else ():
        print(f"  {action}")
    print(report)
    return 0 if report.clean else 1


def cmd_run(args: argparse.Namespace) -> int:
    """Run a command in the lab; its exit status is passed on.

    Its output streams here as it comes. One word after `--` is a shell command line;
    several are quoted word by word."""
    from labkit.lab import Lab
    from labkit.transport.output import to_std_streams

    line = command_line(args.command, example="labkit run -- brctl show")
    result = Lab.connect().run(line, timeout=args.timeout, on_output=to_std_streams)
    return 124 if result.timed_out else result.exit_code


def cmd_shell(args: argparse.Namespace) -> int:
    """Open an interactive root shell in the lab.

    Like `docker compose exec dind bash`, wherever the lab is."""
    from labkit.lab import Lab

    lab = Lab.connect()
    if lab.mode != "docker-exec":  # a rootless or namespace-only lab, or replay
        raise LabError(f"this lab is not a Docker container ({lab.summary})",
                       hint=f"its shell: {terminal_command(lab.mode)}")
    docker = shutil.which("docker")
    if not docker:
        raise LabError("the docker command-line client is not installed here.",
                       hint=f"use `docker exec -it {lab.name} bash` from a host terminal.")
    os.execvp(docker, [docker, "exec", "-it", "-w", "/root", lab.name, "bash", "-l"])
    return 0  # not reached


def cmd_topo(args: argparse.Namespace) -> int:
    """Print the lab's network: summary, JSON snapshot or drawing."""
    from labkit.draw.diagram import Diagram
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


def add_commands(sub: argparse._SubParsersAction) -> None:
    """`labkit up|down|reset|run|shell|topo`."""
    p = add(sub, "up", cmd_up)
    p.add_argument("--build", action="store_true", help="rebuild the lab image first")
    p.add_argument("--course", action="store_true", help="also start JupyterLab")
    p.add_argument("--wait", type=float, default=180, help="seconds to wait for the lab")
    p.add_argument("--go", action="store_true",
                   help="the Go lab (lesson 9) in the lab's place; `labkit up` goes back")
    p.add_argument("--k8s", action="store_true",
                   help="the Kubernetes lab (the pod lessons) in the lab's place; first build "
                   "about 6-10 min; `labkit up` goes back")
    p = add(sub, "down", cmd_down)
    p.add_argument("--volumes", action="store_true",
                   help="also delete the lab's inner Docker storage (images are made again)")
    p = add(sub, "reset", cmd_reset)
    p.add_argument("-v", "--verbose", action="store_true", help="list what was undone")
    p = add(sub, "run", cmd_run)
    p.add_argument("--timeout", type=float, default=60, help="seconds (0 = no limit)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    add(sub, "shell", cmd_shell)
    p = add(sub, "topo", cmd_topo)
    p.add_argument("--json", action="store_true", help="print the JSON snapshot")
    p.add_argument("--svg", metavar="FILE", help="write the diagram as SVG to FILE")
    p.add_argument("--focus", action="append", metavar="NAMESPACE",
                   help="draw only these namespaces (repeatable)")
