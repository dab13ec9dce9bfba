"""`labkit modes` and `labkit rootless start|stop|status|run|shell`: the live modes of hosts
without a Docker engine (docs/rootless.md). Both modules are stdlib-only, so they load here."""

from __future__ import annotations

import argparse
import json
import os
import sys

from labkit.cli.command import add, add_group, command_line
from labkit.hosts import modes, rootless
from labkit.transport.output import to_std_streams


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def mode_dict(report: modes.ModeReport) -> dict:
    """`labkit modes --json`: the decision, its reasons and every probed fact (pure)."""
    return {"mode": report.mode, "number": report.number, "available": report.available,
            "reasons": report.reasons, "warnings": report.warnings,
            "facts": modes.facts_dict(report.facts)}


def lab_dict(lab: rootless.RootlessLab | None) -> dict | None:
    """`labkit rootless status`: the running lab, or None (pure)."""
    return None if lab is None else {
        "kind": lab.kind, "pid": lab.pid, "userns": lab.userns, "ready": lab.ready,
        "docker_host": lab.docker_host, "timings": lab.timings}


def cmd_modes(args: argparse.Namespace) -> int:
    """Say which live mode this host allows, and why.

    The modes: docker, rootless, netns, replay (docs/rootless.md). Exit 0 when a live
    lab is possible, 1 when lessons can only replay."""
    report = modes.detect(full=True)
    print(json.dumps(mode_dict(report), indent=2) if args.json else report)
    return 0 if report.live else 1


def cmd_start(args: argparse.Namespace) -> int:
    """Start this user's lab without Docker (or find the one running)."""
    lab = rootless.start(args.kind, say=print)
    print(json.dumps({"kind": lab.kind, "pid": lab.pid, "timings": lab.timings}))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop this user's lab(s) and everything in their namespaces."""
    for line in rootless.stop(args.kind, purge=args.purge) or ["nothing was running"]:
        print(line)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print the running lab as JSON (exit 1 when none runs)."""
    lab = rootless.find(args.kind)
    print(json.dumps(lab_dict(lab), indent=1))
    return 0 if lab else 1


def cmd_run(args: argparse.Namespace) -> int:
    """Run a command in the lab (started if needed).

    Its exit status is passed on; words after `--` as for `labkit run`."""
    line = command_line(args.command, example="labkit rootless run -- brctl show")
    transport = rootless.connect_rootless(args.kind, say=_say)
    res = transport.run(line, timeout=args.timeout, on_output=to_std_streams)
    return 124 if res.timed_out else res.exit_code


def cmd_shell(args: argparse.Namespace) -> int:
    """Open an interactive root shell in the lab (started if needed)."""
    transport = rootless.connect_rootless(args.kind, say=_say)
    os.execvpe(transport.prefix[0], [*transport.prefix, "bash", "-i"], transport.env)
    return 0  # not reached


def add_commands(sub: argparse._SubParsersAction) -> None:
    """`labkit modes` and `labkit rootless ...`."""
    p = add(sub, "modes", cmd_modes)
    p.add_argument("--json", action="store_true", help="print the decision and facts as JSON")
    group = add_group(sub, "rootless", help="Start, stop or enter a lab without Docker (Binder).",
                      description="The lab of hosts without a Docker engine (Binder): dockerd "
                      "(--kind rootless) or bare network namespaces (--kind netns) in this "
                      "user's own namespaces (docs/rootless.md).")
    p = add(group, "start", cmd_start)
    p.add_argument("--kind", choices=rootless.KINDS, default="rootless",
                   help="which lab (default: rootless)")
    p = add(group, "stop", cmd_stop)
    p.add_argument("--kind", choices=rootless.KINDS, help="which lab (default: both)")
    p.add_argument("--purge", action="store_true",
                   help="also delete the engine's images and containers on disk")
    p = add(group, "status", cmd_status)
    p.add_argument("--kind", choices=rootless.KINDS,
                   help="which lab (default: the one running, rootless first)")
    best = "which lab (default: the best this host allows)"
    p = add(group, "run", cmd_run)
    p.add_argument("--kind", choices=rootless.KINDS, help=best)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    p = add(group, "shell", cmd_shell)
    p.add_argument("--kind", choices=rootless.KINDS, help=best)
