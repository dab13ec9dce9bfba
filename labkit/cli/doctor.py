"""`labkit doctor`: what works on this host, and what to do about each problem.

The checks gather facts at the edge; `report()` and `usable()` are pure over the results.
`gather()` imports Docker's client and the lab when it runs: `labkit --help` must not."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from labkit.cli.command import add


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not applicable / could not be tried
    detail: str
    fix: str = ""


def report(checks: list[Check]) -> str:
    marks = {True: "ok  ", False: "FAIL", None: "--  "}
    lines = []
    for c in checks:
        lines.append(f"[{marks[c.ok]}] {c.name}: {c.detail}")
        if c.ok is False and c.fix:
            lines.append(f"       what to do: {c.fix}")
    verdict = ("The lab is usable." if usable(checks)
               else "The lab is NOT usable yet: fix the first FAIL above, then run "
               "`labkit doctor` again.")
    return "\n".join(lines + ["", verdict])


def usable(checks: list[Check]) -> bool:
    """Usable means a live lab answered a command (the last check)."""
    live = [c for c in checks if c.name == "lab answers"]
    return bool(live) and live[0].ok is True


def gather() -> list[Check]:
    """Run every check in order; later checks are skipped when an earlier one fails."""

    from labkit.errors import LabError
    from labkit.hosts import compose
    from labkit.hosts.docker import docker_client
    from labkit.hosts.locate import find_lab
    from labkit.lab import Lab

    checks: list[Check] = []
    try:
        client = docker_client()
        version = client.version()
        checks.append(Check("Docker engine", True,
                            f"reachable, version {version.get('Version')} "
                            f"({version.get('Os')}/{version.get('Arch')})"))
    except LabError as exc:
        checks.append(Check("Docker engine", False, exc.message, exc.hint or ""))
        fallback = _without_docker()
        if fallback[0].ok:  # a live lab without Docker: the engine is not needed here
            checks[-1] = Check("Docker engine", None, exc.message + " Not needed: see live mode.")
        return checks + fallback

    try:
        cmd = compose.compose_command()
        checks.append(Check("Compose", True, " ".join(cmd)))
    except compose.ComposeMissing as exc:
        checks.append(Check("Compose", False, str(exc),
                            "install Compose to start the course with one command"))

    has_image = compose.image_exists(client)
    checks.append(Check("lab image", has_image,
                        compose.LAB_IMAGE + (" is built" if has_image else " is not built"),
                        "run `labkit up` (it builds the image)"))
    if has_image:
        try:
            refusal = compose.privileged_refused(client)
        except Exception as exc:  # noqa: BLE001 - report, do not crash the doctor
            checks.append(Check("privileged containers", None, f"could not test: {exc}"))
        else:
            checks.append(Check(
                "privileged containers", True,
                "allowed" if not refusal else
                f"refused ({refusal}); `labkit up` uses the explicit "
                "capability set of docker-compose.nopriv.yml instead"))

    lab = find_lab(client)
    if lab is None:
        checks.append(Check("lab container", False, "none (no container labelled "
                            "org.labkit.role=lab)",
                            "run `labkit up` or `docker compose up -d dind`"))
        return checks
    fix = {"stopped": "run `labkit up`; `docker compose logs dind` says why it stopped",
           "starting": "wait a few seconds and run `labkit doctor` again",
           "unhealthy": "see `docker compose logs dind`; then `labkit down && labkit up`"}
    checks.append(Check("lab container", lab.state == "ready", f"{lab.name} is {lab.state}",
                        fix.get(lab.state, "")))
    if lab.state != "ready":
        return checks
    try:
        live = Lab.connect(wait=5, start=False)
        res = live.run("ip -4 -o addr show docker0 | awk '{print $4}'; "
                       "docker image inspect -f '{{.Id}}' busybox:latest >/dev/null && "
                       "echo busybox", timeout=20)
        words = res.stdout.split()
        checks.append(Check("lab answers", res.ok,
                            f"docker0 {words[0] if words else '?'}, busybox image "
                            f"{'present' if 'busybox' in words else 'MISSING'}, "
                            f"round trip {res.duration * 1000:.0f} ms"))
        if words and words[0] != "172.17.0.1/16":
            checks.append(Check("docker0 address", False, f"{words[0]}, not 172.17.0.1/16: "
                                "lesson outputs will differ", "put the lab on a network that "
                                "is not 172.17.0.0/16 (LAB_SUBNET in docker-compose.yml)"))
        checks.append(_containment(live))
    except LabError as exc:
        checks.append(Check("lab answers", False, exc.message, exc.hint or ""))
    return checks


def _without_docker() -> list[Check]:
    """No Docker engine: which live mode this host allows (Binder and the like), and whether
    that lab is running and answers."""
    from labkit.errors import LabError
    from labkit.hosts import modes, rootless
    from labkit.lab import Lab

    report = modes.detect(full=True)
    checks = [Check("live mode", report.live or None, str(report).replace("\n", "; "))]
    if report.mode in ("netns", "replay"):  # some or all lessons show recordings here
        from labkit.hosts import replay

        found = replay.load_all()
        checks.append(Check(
            "recordings", bool(found),
            f"{len(found)} lessons recorded in a real lab, in {replay.recordings_dir()}"
            if found else "no lesson recordings found",
            None if found else "run the notebooks from the course folder, or set "
            "LABKIT_RECORDINGS to its notebooks/recordings"))
    if not report.live:
        return checks
    try:
        lab = Lab(rootless.connect_rootless(report=report, start_lab=False))
        res = lab.run("true", timeout=20)
        checks.append(Check("lab answers", res.ok, f"{report.mode} lab, round trip "
                            f"{res.duration * 1000:.0f} ms"))
        checks.append(_containment(lab))
    except LabError as exc:
        checks.append(Check("lab answers", False, exc.message,
                            "run `Lab.connect()` in a notebook (it starts the lab), or "
                            "`labkit rootless start`"))
    return checks


def _containment(lab) -> Check:
    """Whether any route in the lab leads out of it (asked of the kernel; nothing is sent)."""
    from labkit.errors import LabError

    try:
        found = lab.containment()
    except LabError as exc:
        return Check("traffic stays in the lab", None, f"could not check: {exc.message}")
    return Check("traffic stays in the lab", found.contained, found.summary(),
                 "`labkit reset` puts the lab's seal back (docs/containment.md)")


def cmd_doctor(args: argparse.Namespace) -> int:
    """Say what works here and what to do about each problem.

    Exit 0 when the lab is usable."""
    checks = gather()
    print(report(checks))
    return 0 if usable(checks) else 1


def add_commands(sub: argparse._SubParsersAction) -> None:
    """`labkit doctor`."""
    add(sub, "doctor", cmd_doctor)
