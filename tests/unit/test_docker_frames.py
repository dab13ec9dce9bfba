"""transport.docker: Docker's multiplexed exec stream read off a hijacked socket, without Docker
(a socketpair plays the daemon, http.client reads the 101 response as the SDK's does)."""

from __future__ import annotations

import http.client
import socket
import struct
import time
from types import SimpleNamespace

import pytest

from labkit.transport.docker import DockerExecPipe, _DockerFrames
from labkit.transport.output import SentinelSplitter

TOKEN = "0123456789ab"
SENT = b"\x1e" + TOKEN.encode()
UPGRADED = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream"
            b"\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def hijacked(sent_with_headers: bytes):
    """(sock, daemon): the exec socket as `APIClient.exec_start(socket=True)` hands it over,
    after the daemon sent `sent_with_headers` right behind the 101 headers (a fast command
    while the client was slow to read them), and the daemon's end to send the rest."""
    ours, daemon = socket.socketpair()
    ours.settimeout(60)  # the SDK's default timeout on its connections
    daemon.sendall(UPGRADED + sent_with_headers)
    response = http.client.HTTPResponse(ours)
    response.begin()  # reads the headers through a BufferedReader: it takes the frames too
    sock = response.fp.raw  # the SocketIO beneath, as docker.api.client hands it over
    sock._response = SimpleNamespace(raw=SimpleNamespace(_fp=response))  # as the SDK keeps it
    return sock, daemon


def read_all(frames: _DockerFrames) -> list[tuple[str, bytes]]:
    return list(frames.frames(time.monotonic() + 5))


def test_frames_read_with_the_headers_are_not_lost():
    # The flake: stdout's frames came with the headers, stderr's sentinel later; reading the
    # socket beneath the reader gave exit 0 with empty stdout.
    sock, daemon = hijacked(frame(1, b"hello\n") + frame(1, SENT + b"\n"))
    frames = _DockerFrames(sock)
    daemon.sendall(frame(2, SENT + b":0\n"))
    daemon.close()
    splitter = SentinelSplitter(TOKEN)
    for stream, data in read_all(frames):
        splitter.feed(stream, data)
    splitter.close()
    assert splitter.done and splitter.exit_code == 0
    assert "".join(splitter.text["stdout"]) == "hello\n"


@pytest.mark.parametrize("cut", [3, 8, 10])  # in a header, at its end, in the payload
def test_frame_split_between_reader_and_socket(cut):
    stream = frame(1, b"first\n") + frame(2, b"oops\n")
    boundary = len(frame(1, b"first\n")) + cut
    sock, daemon = hijacked(stream[:boundary])
    frames = _DockerFrames(sock)
    daemon.sendall(stream[boundary:])
    daemon.close()
    assert read_all(frames) == [("stdout", b"first\n"), ("stderr", b"oops\n")]


def test_nothing_read_ahead_leaves_the_socket_as_it_was():
    sock, daemon = hijacked(b"")
    frames = _DockerFrames(sock)
    assert frames.raw.gettimeout() == 60  # blocking again: `send` uses sendall
    daemon.sendall(frame(1, b"late\n"))
    daemon.close()
    assert read_all(frames) == [("stdout", b"late\n")]


def test_pipe_first_line_read_with_the_headers():
    # The probe's hello line is the first thing the pipe reads: the same loss, the same fix.
    sock, daemon = hijacked(frame(1, b'{"hello": "labkit.probe"}\n'))
    pipe = DockerExecPipe(_DockerFrames(sock))
    assert pipe.read_line(5) == b'{"hello": "labkit.probe"}'
    daemon.close()
    pipe.close()


def test_plain_socket_without_a_response():
    # A socket the SDK did not wrap (no `_response`): read as it is.
    ours, daemon = socket.socketpair()
    daemon.sendall(frame(1, b"x"))
    daemon.close()
    assert read_all(_DockerFrames(ours)) == [("stdout", b"x")]
