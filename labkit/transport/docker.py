"""`DockerExecTransport`: the kernel runs outside the lab (laptop, the course's JupyterLab
container); each command is a `docker exec` into the lab container, through the Docker SDK,
in the shell `wrap` gives it (labkit.transport.jobs)."""

from __future__ import annotations

import select
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

from labkit.errors import DockerUnavailable, LabGone, LabStopped
from labkit.result import Result
from labkit.transport.jobs import kill_job_command
from labkit.transport.output import drive
from labkit.transport.protocol import MAX_OUTPUT, OutputCallback

_STREAMS = {1: "stdout", 2: "stderr"}


class _DockerFrames:
    """Reads Docker's multiplexed attach stream (8-byte header: stream, 0,0,0, length)
    from a hijacked socket, with deadlines (the SDK's own reader blocks forever)."""

    def __init__(self, sock) -> None:
        self.sock = sock
        self.raw = getattr(sock, "_sock", sock)
        self._buf = _read_ahead(sock, self.raw)
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


def _read_ahead(sock, raw) -> bytes:
    """The first frames, if http.client already read them: it reads the 101 response's headers
    through a BufferedReader, which takes whatever the socket holds, and the SDK hands over
    the socket beneath it (`sock._response.raw._fp.fp` is that reader). A fast command's
    stdout can be in there (late header read under load): without these bytes it is lost."""
    reader = getattr(getattr(getattr(getattr(sock, "_response", None), "raw", None), "_fp",
                             None), "fp", None)
    if reader is None or not hasattr(raw, "settimeout"):
        return b""
    timeout = raw.gettimeout()
    raw.setblocking(False)  # peek: what is buffered, never a wait for more
    try:
        held = reader.peek()
        return reader.read(len(held)) if held else b""
    except (OSError, ValueError):  # closed already: nothing held
        return b""
    finally:
        raw.settimeout(timeout)


def _docker_errors(container_name: str, exc: Exception) -> Exception:
    """Translate SDK/HTTP failures into what a learner can act on."""
    # The Docker SDK is optional (not in the rootless/replay modes): imported when used.
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

    def __init__(self, client, container_id: str, name: str,
                 relocate: Callable[[], Any] | None = None) -> None:
        self.client = client  # docker.DockerClient
        self.api = client.api
        self.container_id = container_id
        self.name = name
        # Found by its label (not a name given): `relocate` finds the course's lab again when
        # `labkit up` makes it anew (labkit.hosts.locate, passed in by Lab.connect). A lab
        # named on purpose has none: that container or nothing.
        self.relocate = relocate
        self.description = f"docker exec into container {name}"

    def _exec(self, argv: list[str], *, stdin: bool = False):
        try:
            return self._exec_once(argv, stdin=stdin)
        except (LabStopped, LabGone):
            # Stopped, restarted or made anew (`labkit up`): find the lab again, by its label
            # as Lab.connect does, and go on with it; this kernel need not reconnect by hand.
            if self.relocate is None or not self._relocate():
                raise
            return self._exec_once(argv, stdin=stdin)

    def _relocate(self) -> bool:
        try:
            found = self.relocate()
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
        import docker.errors  # optional dependency, as in _docker_errors
        try:
            state = self.api.inspect_container(self.container_id)["State"]
        except docker.errors.NotFound:
            raise LabGone(self.name) from None
        except Exception as exc:  # noqa: BLE001 - translated, or re-raised as is
            raise _docker_errors(self.name, exc) from exc
        if state.get("Status") in ("removing", "dead"):  # `docker rm -f` caught mid-way
            raise LabGone(self.name)
        if not state.get("Running"):
            raise LabStopped(self.name, state.get("Status", "stopped"))

    def alive(self) -> bool:
        try:
            self._check_alive()
            return True
        except Exception:  # noqa: BLE001 - whatever the failure, the lab is not usable
            return False
