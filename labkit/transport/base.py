"""How a command reaches the lab: the thin edge between labkit and a process in the lab.

Two transports share one interface:

* `DockerExecTransport` — the kernel runs outside the lab (laptop, the course's JupyterLab
  container); each command is a `docker exec` into the lab container, through the Docker SDK.
* `LocalTransport` — the kernel runs inside a lab; commands are local subprocesses.

Both wrap the learner's command in the same small shell script (`wrap`): it runs the command
under coreutils' `timeout` in its own process group (so a timeout or an interrupt kills the
whole tree *in the lab*), records that group's id in a job file, then prints a sentinel line
on stdout and one with the exit status on stderr. The sentinels let a command end even when
something it started in the background (`sleep 100 &`) still holds the output pipes open.
"""

from __future__ import annotations

import codecs
import os
import re
import secrets
import select
import shlex
import signal
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from labkit.errors import CommandTimeout, DockerUnavailable, LabGone, LabStopped
from labkit.result import Result

#: called with ("stdout" | "stderr", text) as output arrives
OutputCallback = Callable[[str, str], None]

# Time given to `timeout -k` between TERM and KILL, and the extra wait on our side before we
# assume the lab itself is stuck.
KILL_AFTER = 2
GRACE = 10

_SENTINEL = "\x1e"  # ASCII record separator: never in ordinary command output


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


#: what one command keeps of its output (characters, all streams together): the first and the
#: last halves; 0 keeps everything. A cell with 20 MB of output would pass Jupyter's IOPub
#: limit and hide its exit status and its diagram.
MAX_OUTPUT = 1_000_000


class Bounded:
    """One stream's output, bounded: the first `head` characters pass on as they come, the
    last `tail` are held back in a ring until the end, what lies between is only counted.
    Pure; memory stays within head + tail + one chunk."""

    def __init__(self, head: int, tail: int) -> None:
        self.head, self.tail = head, tail
        self.passed = 0  # characters passed on live
        self.left_out = 0
        self._ring: list[str] = []
        self._ring_len = 0

    def add(self, text: str) -> str:
        """The part of `text` to pass on now (the rest is kept for `finish`)."""
        if not self.head and not self.tail:  # unbounded
            return text
        room = max(self.head - self.passed, 0)
        now, later = text[:room], text[room:]
        self.passed += len(now)
        if later:
            self._ring.append(later)
            self._ring_len += len(later)
            while self._ring and self._ring_len - len(self._ring[0]) >= self.tail:
                self.left_out += len(self._ring[0])
                self._ring_len -= len(self._ring.pop(0))
            if self._ring and self._ring_len > self.tail:  # cut into the oldest chunk
                cut = self._ring_len - self.tail
                self._ring[0] = self._ring[0][cut:]
                self._ring_len -= cut
                self.left_out += cut
        return now

    def finish(self) -> str:
        """The note about what was left out (if anything), then the tail."""
        tail = "".join(self._ring)
        self._ring, self._ring_len = [], 0
        if not self.left_out:
            return tail
        return (f"\n[labkit: {_size(self.left_out)} of output left out here; the first "
                f"{_size(self.head)} and the last {_size(self.tail)} are shown. "
                "`%%lab --max-output 0` or lab.run(..., max_output=0) keeps all of it]\n" + tail)


def _size(chars: int) -> str:
    for unit, n in (("MB", 1_000_000), ("kB", 1000)):
        if chars >= n:
            return f"{chars / n:.1f} {unit}"
    return f"{chars} characters"


class SentinelSplitter:
    """Turns raw (stream, bytes) chunks into decoded text for the caller, holding back and
    removing the sentinel lines. Pure: fed by either transport.

    Each stream gets its own sentinel because Docker (and select() on two pipes) does not
    keep the order *between* stdout and stderr: only when both sentinels are in is all
    output in."""

    def __init__(self, token: str, on_output: OutputCallback | None = None,
                 max_output: int = MAX_OUTPUT) -> None:
        self._head = _SENTINEL + token
        quarter = max(max_output, 0) // 4  # per stream: a head and a tail of a quarter each
        self._bounds = {s: Bounded(quarter, quarter) for s in ("stdout", "stderr")}
        self._markers = {
            "stdout": re.compile(re.escape(_SENTINEL + token) + r"\n"),
            "stderr": re.compile(re.escape(_SENTINEL + token) + r":(\d+)\n"),
        }
        self._decoders = {s: codecs.getincrementaldecoder("utf-8")("replace")
                          for s in ("stdout", "stderr")}
        self._pending = {"stdout": "", "stderr": ""}  # may be the start of a sentinel
        self._seen = {"stdout": False, "stderr": False}
        self._on_output = on_output
        self.text = {"stdout": [], "stderr": []}
        self.exit_code: int | None = None

    def feed(self, stream: str, data: bytes) -> None:
        if self._seen[stream]:  # a background job still writing after the end: not ours
            return
        pending = self._pending[stream] + self._decoders[stream].decode(data)
        found = self._markers[stream].search(pending)
        if found:
            self._seen[stream] = True
            if stream == "stderr":
                self.exit_code = int(found.group(1))
            self._emit(stream, pending[: found.start()])
            self._pending[stream] = ""
            return
        cut = pending.rfind(_SENTINEL)
        if cut >= 0 and self._could_be_sentinel(stream, pending[cut:]):
            self._emit(stream, pending[:cut])  # keep the maybe-sentinel until the rest arrives
            self._pending[stream] = pending[cut:]
        else:
            self._emit(stream, pending)
            self._pending[stream] = ""

    def _could_be_sentinel(self, stream: str, tail: str) -> bool:
        """Is `tail` (starting at a \\x1e) the beginning of this stream's sentinel line?"""
        if self._head.startswith(tail):
            return True
        rest = tail[len(self._head):] if tail.startswith(self._head) else None
        return rest is not None and stream == "stderr" and re.fullmatch(r":\d*", rest) is not None

    def close(self) -> None:
        for stream, decoder in self._decoders.items():
            self._emit(stream, self._pending[stream] + decoder.decode(b"", final=True))
            self._pending[stream] = ""
            self._pass(stream, self._bounds[stream].finish())

    def _emit(self, stream: str, text: str) -> None:
        if text:
            self._pass(stream, self._bounds[stream].add(text))

    def _pass(self, stream: str, text: str) -> None:
        if text:
            self.text[stream].append(text)
            if self._on_output:
                self._on_output(stream, text)

    @property
    def done(self) -> bool:
        return self._seen["stdout"] and self._seen["stderr"]


class Pipe(Protocol):
    """A long-lived process in the lab spoken to line by line (the topology probe)."""

    def send(self, data: bytes) -> None: ...
    def read_line(self, timeout: float) -> bytes: ...
    def close(self) -> None: ...


class Transport(Protocol):
    kind: str  # "docker-exec" | "local"
    description: str

    def run(self, command: str, *, timeout: float | None = None,
            on_output: OutputCallback | None = None,
            max_output: int = MAX_OUTPUT) -> Result: ...

    def open_pipe(self, argv: list[str]) -> Pipe: ...

    def alive(self) -> bool: ...


# --- docker exec ----------------------------------------------------------------------------

_STREAMS = {1: "stdout", 2: "stderr"}


class _DockerFrames:
    """Reads Docker's multiplexed attach stream (8-byte header: stream, 0,0,0, length)
    from a hijacked socket, with deadlines (the SDK's own reader blocks forever)."""

    def __init__(self, sock) -> None:
        self.sock = sock
        self.raw = getattr(sock, "_sock", sock)
        self._buf = b""
        self.eof = False

    def _fill(self, deadline: float | None) -> bool:
        """Read more bytes; False on EOF. Raises TimeoutError past the deadline."""
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.raw], [], [], wait)
        if not ready:
            raise TimeoutError
        try:
            chunk = self.raw.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self._buf += chunk
        return True

    def frames(self, deadline: float | None) -> Iterator[tuple[str, bytes]]:
        while True:
            while len(self._buf) < 8:
                if not self._fill(deadline):
                    return
            stream, size = struct.unpack(">BxxxL", self._buf[:8])
            while len(self._buf) < 8 + size:
                if not self._fill(deadline):
                    return
            data, self._buf = self._buf[8:8 + size], self._buf[8 + size:]
            yield _STREAMS.get(stream, "stderr"), data

    def close(self) -> None:
        for closer in (getattr(self.raw, "close", None), getattr(self.sock, "close", None)):
            try:
                if closer:
                    closer()
            except OSError:
                pass


def _docker_errors(container_name: str, exc: Exception) -> Exception:
    """Translate SDK/HTTP failures into what a learner can act on."""
    import docker.errors
    import requests.exceptions

    if isinstance(exc, docker.errors.NotFound):
        return LabGone(container_name)
    if isinstance(exc, docker.errors.APIError) and exc.status_code == 409:
        return LabStopped(container_name, "not running")
    if isinstance(exc, (requests.exceptions.ConnectionError, FileNotFoundError,
                        ConnectionError, docker.errors.DockerException)):
        return DockerUnavailable(str(exc).splitlines()[0][:200])
    return exc


class DockerExecPipe:
    def __init__(self, frames: _DockerFrames) -> None:
        self._frames = frames
        self._stdout = b""
        self._it = None
        self.stderr = b""

    def send(self, data: bytes) -> None:
        self._frames.raw.sendall(data)

    def read_line(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._stdout:
            got = False
            for stream, data in self._frames.frames(deadline):
                got = True
                if stream == "stdout":
                    self._stdout += data
                    if b"\n" in data:
                        break
                else:
                    self.stderr = (self.stderr + data)[-4096:]
            if not got and self._frames.eof:
                raise EOFError(self.stderr.decode(errors="replace"))
        line, _, self._stdout = self._stdout.partition(b"\n")
        return line

    def close(self) -> None:
        self._frames.close()


class DockerExecTransport:
    """Run commands in a lab container through the Docker API (`docker exec`)."""

    kind = "docker-exec"
    job_dir = "/run/labkit/jobs"

    def __init__(self, client, container_id: str, name: str, follow: bool = False) -> None:
        self.client = client  # docker.DockerClient
        self.api = client.api
        self.container_id = container_id
        self.name = name
        # Found by its label (not a name given): follow the course's lab when `labkit up`
        # makes it anew. A lab named on purpose is that container or nothing.
        self.follow = follow
        self.description = f"docker exec into container {name}"

    def _exec(self, argv: list[str], *, stdin: bool = False):
        try:
            return self._exec_once(argv, stdin=stdin)
        except (LabStopped, LabGone):
            # Stopped, restarted or made anew (`labkit up`): find the lab again, by its label
            # as Lab.connect does, and go on with it; this kernel need not reconnect by hand.
            if not self.follow or not self._relocate():
                raise
            return self._exec_once(argv, stdin=stdin)

    def _relocate(self) -> bool:
        from labkit.hosts.locate import find_lab

        try:
            found = find_lab(self.client)
        except Exception:  # noqa: BLE001 - no lab to be found: the caller says so
            return False
        if found is None or not found.ready:
            return False
        self.container_id, self.name, self.found = found.id, found.name, found
        self.description = f"docker exec into container {found.name}"
        return True

    def _exec_once(self, argv: list[str], *, stdin: bool = False):
        try:
            exec_id = self.api.exec_create(
                self.container_id, argv, stdout=True, stderr=True, stdin=stdin, tty=False,
                workdir="/root", environment={"TERM": "dumb", "HOME": "/root"})["Id"]
            sock = self.api.exec_start(exec_id, socket=True)
        except Exception as exc:  # noqa: BLE001 - translated, or re-raised as is
            raise _docker_errors(self.name, exc) from exc
        return exec_id, _DockerFrames(sock)

    def run(self, command: str, *, timeout: float | None = None,
            on_output: OutputCallback | None = None, max_output: int = MAX_OUTPUT) -> Result:
        def start(argv: list[str], deadline: float | None):
            _, frames = self._exec(argv)
            return frames.frames(deadline), frames.close

        result = drive(command, timeout, on_output, self.job_dir, start, self._kill,
                       max_output=max_output)
        if result is None:  # the stream ended without the sentinel: the lab went away
            self._check_alive()
            raise LabGone(self.name)
        return result

    def _kill(self, token: str) -> str:
        said = b""
        try:
            _, frames = self._exec(kill_job_command(token, self.job_dir))
            for _, data in frames.frames(time.monotonic() + 5):
                said += data
            frames.close()
        except Exception:  # noqa: BLE001 - best effort: the lab may be gone already
            pass
        return said.decode(errors="replace")

    def open_pipe(self, argv: list[str]) -> DockerExecPipe:
        _, frames = self._exec(argv, stdin=True)
        return DockerExecPipe(frames)

    def _check_alive(self) -> None:
        import docker.errors
        try:
            state = self.api.inspect_container(self.container_id)["State"]
        except docker.errors.NotFound:
            raise LabGone(self.name) from None
        except Exception as exc:  # noqa: BLE001
            raise _docker_errors(self.name, exc) from exc
        if state.get("Status") in ("removing", "dead"):  # `docker rm -f` caught mid-way
            raise LabGone(self.name)
        if not state.get("Running"):
            raise LabStopped(self.name, state.get("Status", "stopped"))

    def alive(self) -> bool:
        try:
            self._check_alive()
            return True
        except Exception:  # noqa: BLE001
            return False


# --- local ----------------------------------------------------------------------------------


class LocalPipe:
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self._buf = b""
        self.stderr = b""  # its last words, kept for the error message

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read_line(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        out, err = self.proc.stdout.fileno(), self.proc.stderr.fileno()
        while b"\n" not in self._buf:
            # stderr is drained too: a full pipe (warnings, logging) would block the process.
            ready, _, _ = select.select([out, err], [], [],
                                        max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError
            if err in ready:
                self.stderr = (self.stderr + os.read(err, 65536))[-4096:]
            if out in ready:
                chunk = os.read(out, 65536)
                if not chunk:
                    raise EOFError(self.stderr.decode(errors="replace"))
                self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def close(self) -> None:
        # Closing stdin asks the other end to finish; kill it if it does not.
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


class LocalTransport:
    """Run commands as local subprocesses: the kernel itself runs inside a lab."""

    kind = "local"
    #: argv put before every process it starts; a subclass enters the lab's namespaces with
    #: it (`nsenter ... --`), so timeouts and kills work the same there.
    prefix: tuple[str, ...] = ()

    def __init__(self, job_dir: str | None = None, env: dict[str, str] | None = None) -> None:
        runtime = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
        self.job_dir = job_dir or os.path.join(runtime, f"labkit-jobs-{os.getuid()}")
        self.env = env
        self.description = "local processes (this kernel runs inside the lab)"

    def run(self, command: str, *, timeout: float | None = None,
            on_output: OutputCallback | None = None, max_output: int = MAX_OUTPUT) -> Result:
        procs: list[subprocess.Popen] = []

        def start(argv: list[str], deadline: float | None):
            proc = subprocess.Popen([*self.prefix, *argv], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=self.env, start_new_session=True)
            procs.append(proc)

            def close() -> None:
                proc.stdout.close()
                proc.stderr.close()

            return _pipe_chunks(proc, deadline), close

        def kill(token: str) -> str:
            return self._kill(procs[0], token)

        # Without the sentinels (the wrapper itself was killed), its own exit status.
        result = drive(command, timeout, on_output, self.job_dir, start, kill,
                       exit_status=lambda: procs[0].wait(), max_output=max_output)
        procs[0].wait()
        return result

    def _kill(self, proc: subprocess.Popen, token: str) -> str:
        done = subprocess.run([*self.prefix, *kill_job_command(token, self.job_dir)],
                              env=self.env, check=False, capture_output=True, text=True)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        return done.stdout + done.stderr

    def open_pipe(self, argv: list[str]) -> LocalPipe:
        proc = subprocess.Popen([*self.prefix, *argv], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        return LocalPipe(proc)

    def alive(self) -> bool:
        return True


def _pipe_chunks(proc: subprocess.Popen, deadline: float | None
                 ) -> Iterator[tuple[str, bytes]]:
    """(stream, bytes) from a process's stdout and stderr as they come, until both close."""
    fds = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
    while fds:
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
            raise TimeoutError
        ready, _, _ = select.select(list(fds), [], [], wait)
        if not ready:
            raise TimeoutError
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                yield fds[fd], chunk
            else:
                del fds[fd]


def drive(command: str, timeout: float | None, on_output: OutputCallback | None,
          job_dir: str, start: Callable, kill: Callable[[str], str],
          exit_status: Callable[[], int] | None = None,
          max_output: int = MAX_OUTPUT) -> Result | None:
    """The loop both transports share: wrap the command, feed its output through the
    sentinel splitter until both sentinels are in, and on a timeout or an interrupt kill it
    in the lab. `start(argv, deadline)` returns (chunks, close); `kill(token)` stops the job
    and returns what it says outlived it (containers), which goes to the cell's stderr.
    Output that ends without the sentinels takes `exit_status()`, or gives None (the caller
    knows why)."""
    token = secrets.token_hex(6)
    splitter = SentinelSplitter(token, on_output, max_output)
    began = time.monotonic()
    deadline = None if not timeout else began + timeout + KILL_AFTER + GRACE
    chunks, close = start(wrap(command, timeout, token, job_dir), deadline)
    try:
        for stream, data in chunks:
            splitter.feed(stream, data)
            if splitter.done:
                break
    except TimeoutError:
        note = kill(token)
        splitter.close()
        if note:
            splitter.text["stderr"].append(note)
        so_far = _result(command, splitter, time.monotonic() - began, timeout)
        raise CommandTimeout(command, timeout or 0, so_far) from None
    except KeyboardInterrupt:
        note = kill(token)
        splitter.close()  # the tail held back by the output bound, and the note on the gap
        if note and on_output is not None:
            on_output("stderr", note)
        raise
    finally:
        close()
    splitter.close()
    if splitter.exit_code is None:
        if exit_status is None:
            return None
        splitter.exit_code = exit_status()
    return _result(command, splitter, time.monotonic() - began, timeout)


def _result(command: str, splitter: SentinelSplitter, duration: float,
            timeout: float | None) -> Result:
    code = splitter.exit_code if splitter.exit_code is not None else -1
    # `timeout` exits 124 after TERM and 137 after KILL; only trust that when time is up.
    timed_out = bool(timeout) and code in (124, 137) and duration >= timeout * 0.95
    return Result(command=command, stdout="".join(splitter.text["stdout"]),
                  stderr="".join(splitter.text["stderr"]), exit_code=code,
                  duration=duration, timed_out=timed_out)
