"""`%%lab --capture "docker0 -e icmp"`: watch an interface with tcpdump while the cell runs.

The lessons' captures used to be five lines of plumbing in every cell (tcpdump in the
background, wait until it listens, run, wait, print the file). Here that plumbing is one pure
function that wraps the cell's script in shell: tcpdump starts first (the script runs only
once tcpdump says it is listening), the script runs as it would alone (its output and exit
status are the cell's), then tcpdump stops and what it saw is printed under a line that
names the real command, so the learner can type it in a terminal.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from labkit.errors import UsageError

# tcpdump's flags every capture gets: -n numbers (no DNS lookups: nothing leaves the lab),
# -t no timestamps (stored outputs stay the same), -l a line at a time (nothing is lost when
# it is stopped).
BASE_FLAGS = ("-n", "-t", "-l")
# How long tcpdump may take to start listening, and how long it keeps watching after the
# script ends (for the last reply on its way).
START_WAIT_S = 5
AFTER_S = 0.3

_WHERE = re.compile(r"^(?:(?P<ns>[A-Za-z0-9_.-]+):)?(?P<itf>[A-Za-z0-9_.@-]+)$")

USAGE = ('--capture takes "[NAMESPACE:]INTERFACE [tcpdump options and filter]", e.g. '
         '--capture "docker0 -e icmp" or --capture "outside:eth0 icmp" (NAMESPACE: an '
         "`ip netns` name or a container name).")


@dataclass(frozen=True)
class Capture:
    """Where to watch and what tcpdump is told besides the base flags."""

    interface: str
    namespace: str | None = None
    args: tuple[str, ...] = ()

    def command(self) -> list[str]:
        """tcpdump's own command line (in the namespace, when there is one)."""
        return ["tcpdump", "-i", self.interface, *BASE_FLAGS, *self.args]

    def title(self) -> str:
        where = f" (in {self.namespace})" if self.namespace else ""
        return f"--- {shlex.join(self.command())}{where}: what it saw ---"


def parse_capture(text: str) -> Capture:
    """`"[NS:]IF [args...]"` read (pure). Raises `UsageError` with an example."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"cannot read --capture {text!r}: {exc}. {USAGE}") from None
    if not words:
        raise UsageError(f"--capture needs an interface. {USAGE}")
    where = _WHERE.match(words[0])
    if where is None:
        raise UsageError(f"{words[0]!r} is not [NAMESPACE:]INTERFACE. {USAGE}")
    if "-w" in words[1:] or "-r" in words[1:]:
        raise UsageError("--capture prints what tcpdump sees; -w and -r are not for it "
                         "(run tcpdump yourself in the cell to write a file).")
    return Capture(interface=where["itf"], namespace=where["ns"], args=tuple(words[1:]))


def _start(cap: Capture) -> str:
    """Shell that starts tcpdump in the background, in the namespace when there is one: an
    `ip netns` name, else a running container's (entered by its process)."""
    run = shlex.join(cap.command()) + ' >"$__cap_d/out" 2>"$__cap_d/err" &\n'
    if cap.namespace is None:
        return run
    ns = shlex.quote(cap.namespace)
    missing = shlex.quote(f"labkit: no namespace or running container named {cap.namespace}")
    return (f"if ip netns pids {ns} >/dev/null 2>&1; then ip netns exec {ns} {run}"
            f"else __cap_pid=$(docker inspect -f '{{{{.State.Pid}}}}' {ns} 2>/dev/null)\n"
            f'  [ "${{__cap_pid:-0}}" -gt 0 ] || {{ echo {missing} >&2; exit 2; }}\n'
            f'  nsenter -t "$__cap_pid" -n {run}'
            "fi\n")


def wrap(script: str, cap: Capture) -> str:
    """The cell's script with the capture around it (pure)."""
    tcpdump = shlex.join(cap.command())
    tries = int(START_WAIT_S / 0.1)
    return (
        "__cap_d=$(mktemp -d /tmp/labkit-capture.XXXXXX) || exit 2\n"
        "trap 'rm -rf \"$__cap_d\"' EXIT\n"
        # a timeout's TERM (or an interrupt) ends the shell without its EXIT trap: clean up
        # here too, before the KILL that may follow
        "trap 'rm -rf \"$__cap_d\"; exit 143' TERM INT HUP\n"
        # SIGINT to tcpdump, and first to whatever it runs under: in the rootless lab
        # `tcpdump` is a wrapper whose fakeroot shell would not pass the signal on
        "__cap_stop() { for c in $(cat /proc/$1/task/*/children 2>/dev/null); do "
        "__cap_stop $c; done; kill -INT $1 2>/dev/null; }\n"
        + _start(cap)
        + "__cap_tcpdump=$!\n"
        f"__cap_i=0; until grep -qs 'listening on' \"$__cap_d/err\"; do\n"
        f'  if ! kill -0 $__cap_tcpdump 2>/dev/null || [ $__cap_i -ge {tries} ]; then\n'
        f"    echo {shlex.quote('labkit: tcpdump did not start: ' + tcpdump)} >&2\n"
        '    cat "$__cap_d/err" >&2\n'
        "    kill $__cap_tcpdump 2>/dev/null; exit 2\n"
        "  fi\n"
        "  sleep 0.1; __cap_i=$((__cap_i + 1))\n"
        "done\n"
        f"(\n{script.rstrip()}\n)\n"
        "__cap_rc=$?\n"
        f"sleep {AFTER_S}; __cap_stop $__cap_tcpdump; wait $__cap_tcpdump\n"
        f"echo {shlex.quote(cap.title())}\n"
        # (tcpdump ends its output with an empty line when stopped: left out)
        'grep . "$__cap_d/out" || echo "(no packets)"\n'
        "exit $__cap_rc\n"
    )
