"""The shell a lab command runs in: `wrap` puts the learner's command under coreutils'
`timeout` in its own process group (so a timeout or an interrupt kills the whole tree *in the
lab*), records that group's id in a job file, then prints a sentinel line on stdout and one with
the exit status on stderr. The sentinels let a command end even when something it started in the
background (`sleep 100 &`) still holds the output pipes open. `kill_job_command` stops a job
from outside. Pure: argv lists, unit-tested.
"""

from __future__ import annotations

import shlex

# Time given to `timeout -k` between TERM and KILL, and the extra wait on our side before we
# assume the lab itself is stuck.
KILL_AFTER = 2
GRACE = 10

#: starts both sentinel lines (`\036` in `wrap`'s printf): ASCII record separator, never in
#: ordinary command output
SENTINEL = "\x1e"


# Shell (dash) that ends every process of job $T and names the containers it started after
# $S (UTC, %FT%T) that still run. A process group is not enough: setsid, double forks and a
# fork bomb's children leave it. Each process of a job carries LABKIT_JOB=$T in its
# environment (a job has no cgroup of its own here), so stop them all and kill them, until
# none is left. A container belongs to dockerd, not to the job: it is named, not removed.
SWEEP = (
    'n=0; while [ $n -lt 50 ]; do '
    'p=$(grep -lzx "LABKIT_JOB=$T" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); '
    '[ -n "$p" ] || break; kill -STOP $p 2>/dev/null; kill -KILL $p 2>/dev/null; '
    'n=$((n + 1)); done; '
    '[ "${LABKIT_NO_DOCKER:-}" = 1 ] || [ -z "$S" ] || { c=$(docker ps -q 2>/dev/null); '
    '[ -z "$c" ] || '
    'c=$(docker inspect -f "{{.Created}} {{.Name}}" $c 2>/dev/null | awk -v s="$S" '
    "'substr($1, 1, 19) >= s {sub(\"^/\", \"\", $2); printf \"%s \", $2}'); "
    '[ -z "$c" ] || echo "labkit: containers this command started are still running: $c'
    '(docker rm -f $c removes them)" >&2; }; '
)


def wrap(command: str, timeout: float | None, token: str, job_dir: str) -> list[str]:
    """The argv that runs `command` in bash under `timeout`, then prints the sentinel lines
    `\\x1e<token>` on stdout and `\\x1e<token>:<status>` on stderr. Pure, so unit-tested."""
    limit = "0" if not timeout else f"{timeout:g}"
    script = (
        'mkdir -p "$4" 2>/dev/null; T=$3; '
        # The job dir is exported so that reset.sh can stop jobs left over from other cells.
        f'LABKIT_JOB_DIR="$4" LABKIT_JOB="$3" timeout -k {KILL_AFTER} "$1" bash -c "$2" '
        '</dev/null & pid=$!; '
        'echo "$pid" > "$4/$3" 2>/dev/null; '
        'wait "$pid"; rc=$?; '
        # Timed out (124: TERM, 137: KILL): nothing of the job may outlive it. (The job file's
        # time is its start: no `date` on every command's way.)
        f'case $rc in 124|137) S=$(date -u -r "$4/$3" +%FT%T 2>/dev/null); {SWEEP};; esac; '
        'rm -f "$4/$3"; '
        # reset.sh leaves a mark when it stops a job: say so in the cell it stopped.
        'if [ -e "$4/$3.reset" ]; then rm -f "$4/$3.reset"; echo "labkit: the lab was reset '
        'while this command ran (lab.reset() or labkit reset, perhaps in another notebook), '
        'so it was stopped" >&2; fi; '
        "printf '\\036%s\\n' \"$3\"; printf '\\036%s:%d\\n' \"$3\" \"$rc\" >&2"
    )
    return ["sh", "-c", script, "labkit", limit, command, token, job_dir]


def kill_job_command(token: str, job_dir: str) -> list[str]:
    """argv that stops a wrapped command (interrupted, or out of time on our side): its process
    group (TERM, then KILL), then every process it started (`SWEEP`). Prints what outlives
    it on stderr."""
    job = shlex.quote(f"{job_dir}/{token}")
    return ["sh", "-c",
            # No `--`: dash's kill (the lab's /bin/sh) rejects it and would kill nothing.
            f"T={shlex.quote(token)}; pid=$(cat {job} 2>/dev/null) || exit 0; "
            f"S=$(date -u -r {job} +%FT%T); kill -TERM -$pid 2>/dev/null; "
            f"sleep 1; kill -KILL -$pid 2>/dev/null; {SWEEP}rm -f {job}; exit 0"]
