"""`LocalTransport`: the kernel runs inside a lab; commands are local subprocesses, in the
shell `wrap` gives them (labkit.transport.jobs). `NamespaceTransport` (nsenter.py) is one with
an argv prefix."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

from labkit.result import Result
from labkit.transport.jobs import kill_job_command
from labkit.transport.output import drive
from labkit.transport.protocol import MAX_OUTPUT, OutputCallback

# Debian puts dockerd, ip and iptables in /usr/sbin, which a non-root PATH often lacks.
SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def search_path(path: str | None = None) -> str:
    """PATH plus the sbin directories (where Debian keeps dockerd, ip, iptables)."""
    parts = (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep)
    return os.pathsep.join([p for p in parts if p] + [s for s in SBIN if s not in parts])


def which(name: str) -> str | None:
    return shutil.which(name, path=search_path())


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
