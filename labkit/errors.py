"""What can go wrong between a learner and the lab, each as one clear paragraph.

Every error says what happened, what was expected, and what to do next. The magics show
`str(error)` without a traceback; the CLI prints it and exits non-zero.
"""

from __future__ import annotations

import re


class LabError(Exception):
    """Base class: a problem the learner can act on. `str()` is the whole explanation."""

    #: one word for `labkit doctor` and tests
    kind = "lab"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message}\n\nWhat to do: {hint}")

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a traceback: the explanation is the message.
        return [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self.message}"] + (
            [f"\x1b[1mWhat to do:\x1b[0m {self.hint}"] if self.hint else [])


class DockerUnavailable(LabError):
    kind = "docker-unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"Docker is not reachable from here ({detail}). The lab is a Docker container, "
            "so labkit needs a running Docker engine.",
            hint="start Docker (Docker Desktop, or `sudo systemctl start docker` on Linux) and "
            "try again. Inside the course's JupyterLab container, check that "
            "/var/run/docker.sock is mounted (docker-compose.yml does this).",
        )


class LabNotFound(LabError):
    kind = "lab-not-started"

    def __init__(self, where: str = "") -> None:
        extra = f" ({where})" if where else ""
        super().__init__(
            f"The lab is not started: no container labelled org.labkit.role=lab exists{extra}.",
            hint="from the course folder run `docker compose up -d dind` (or `labkit up`), "
            "then run this cell again.",
        )


class LabStarting(LabError):
    kind = "lab-starting"

    def __init__(self, name: str, waited: float) -> None:
        super().__init__(
            f"The lab ({name}) is still starting: its Docker engine did not report ready "
            f"within {waited:.0f} s. The first start also makes the offline busybox image.",
            hint="wait a few seconds and run the cell again; `labkit doctor` shows progress. "
            "If it never becomes ready, `docker compose logs dind` shows why.",
        )


class LabStopped(LabError):
    kind = "lab-stopped"

    def __init__(self, name: str, status: str) -> None:
        super().__init__(
            f"The lab container {name} is stopped ({status}).",
            hint="`labkit up` starts it (`docker compose logs dind` says why it stopped); "
            "this notebook finds it again by itself: then run the cell again.",
        )


class LabGone(LabError):
    kind = "lab-gone"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"The lab container {name} disappeared while this session was using it "
            "(removed, or `docker compose down` was run).",
            hint="start a new lab with `labkit up` (or `docker compose up -d dind`); this "
            "notebook finds it by itself: then run the cell again. The new lab starts from a "
            "clean state.",
        )


class CommandTimeout(LabError):
    kind = "timeout"

    def __init__(self, command: str, timeout: float, result=None) -> None:
        self.result = result
        self.timeout = timeout
        super().__init__(
            f"`{command}` was still running after {timeout:g} s, so labkit stopped it "
            "(the process and its children were killed inside the lab).",
            hint="commands that never end on their own (ping without -c, tcpdump without -c, "
            "a server in the foreground) need a limit: add `-c 3`, run them in the background "
            f"with `&`, or give it longer (`%%lab --timeout {max(120, 2 * timeout):g}`).",
        )


class UsageError(LabError):
    kind = "usage"


class CommandFailed(LabError):
    kind = "command-failed"

    def __init__(self, result) -> None:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        shown = "\n".join(f"    {line}" for line in tail)
        super().__init__(
            f"`{result.command}` failed in the lab with exit status {result.exit_code}"
            + (f":\n{shown}" if shown else "."),
            hint=explain_exit(result) or "read the message above; fix the command and run it "
            "again.",
        )
        self.result = result


_SHELL_NOT_FOUND = re.compile(
    r"^(?:[^:\n]+: )?(?:line \d+: |\d+: )?([^:\n]+): (?:command )?not found$", re.M)
_EXEC_NOT_FOUND = re.compile(r'exec: "([^"]+)": executable file not found')


def explain_exit(result) -> str | None:
    """A plain-words hint for the failures learners meet most (pure)."""
    # Docker 20.10's CLI prints `docker exec` failures on stdout, `docker run`'s on stderr.
    missing_in_container = _EXEC_NOT_FOUND.search(result.stderr + result.stdout)
    if result.exit_code in (126, 127) and missing_in_container:
        name = missing_in_container.group(1)
        return (f"the container has no `{name}` program: busybox images have `sh` (not "
                "`bash`) and its applets (ip, ping, nc, httpd, ...); run curl from the lab "
                "itself.")
    if result.exit_code == 127 and "not found" in result.stderr:
        found = _SHELL_NOT_FOUND.search(result.stderr)
        what = f"`{found.group(1).strip()}`" if found else "that command"
        return (f"{what} is not installed in the lab (check the spelling). The lab has docker, "
                "ip, bridge, brctl, ifconfig, iptables, tcpdump, curl and conntrack; for a "
                "command inside a container use `docker exec busybox1 ...`.")
    if "the input device is not a TTY" in result.stderr:
        return ("a cell has no terminal to attach to: start the container in the background "
                "with `docker run -dit ...`, then run commands in it with `docker exec NAME CMD`.")
    if result.timed_out:
        return "the command was stopped by its timeout; see the note above."
    if result.exit_code == 126:
        return "the file exists but cannot be run (permissions, or not a program)."
    return None
