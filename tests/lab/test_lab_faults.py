"""Faults a learner causes, injected in the real lab: interrupts while a diagram is drawn,
cells that leave processes or containers behind, a reset under another kernel's cell."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

pytestmark = pytest.mark.lab


class InterruptOnce:
    """A probe pipe whose next read is cut short by Ctrl-C, the way an interrupt lands while
    the kernel waits for the probe's answer. The request itself reached the real probe."""

    def __init__(self, pipe) -> None:
        self.pipe, self.armed = pipe, True

    def send(self, data: bytes) -> None:
        self.pipe.send(data)

    def read_line(self, timeout: float) -> bytes:
        if self.armed:
            self.armed = False
            raise KeyboardInterrupt
        return self.pipe.read_line(timeout)

    def close(self) -> None:
        self.pipe.close()


def test_an_interrupted_diagram_does_not_leave_the_next_one_behind(lab):
    lab.snapshot()  # a live probe
    lab._probe.pipe = InterruptOnce(lab._probe.pipe)
    with pytest.raises(KeyboardInterrupt):
        lab.snapshot()  # its answer (the lab without busybox1) is still on its way
    lab.sh("docker run -dit --name busybox1 busybox sh >/dev/null")
    names = {ns.name for ns in lab.snapshot().namespaces}
    assert "busybox1" in names, f"the diagram is one cell behind: {sorted(names)}"
    lab.sh("docker rm -f busybox1 >/dev/null")
    assert "busybox1" not in {ns.name for ns in lab.snapshot().namespaces}


def test_reset_under_a_running_cell_says_so_in_that_cell(lab):
    outcome: list = []
    worker = threading.Thread(
        target=lambda: outcome.append(lab.run("echo started; sleep 977", timeout=0)),
        daemon=True)
    worker.start()
    for _ in range(50):
        if "sleep 977" in lab.sh("ps -eo args="):
            break
        time.sleep(0.1)
    lab.reset()
    worker.join(timeout=15)
    assert outcome, "the cell did not end"
    result = outcome[0]
    assert not result.ok and result.stdout.startswith("started")
    assert "the lab was reset while this command ran" in result.stderr, result.stderr


def count(lab, pattern: str) -> int:
    """Processes of the lab whose command line is exactly `pattern`."""
    return sum(1 for line in lab.sh("ps -eo args=").splitlines() if line.strip() == pattern)


def test_a_timeout_leaves_no_process_of_the_cell_behind(lab):
    """A child that ignores TERM, one in a session of its own, and a fork bomb's processes all
    end with the cell that started them."""
    from labkit import CommandTimeout

    script = ("(trap '' TERM; exec sleep 971) &\n"
              "setsid sleep 972 &\n"
              # a fork bomb, kept small by a depth limit and run as nobody: each level forks
              # two copies of itself, and each copy survives its parent
              "cat > /tmp/bomb.sh <<'EOF'\n"
              "[ $1 -gt 0 ] && { setsid sh /tmp/bomb.sh $(($1 - 1)) & setsid sh /tmp/bomb.sh "
              "$(($1 - 1)) & }; exec sleep 973\nEOF\n"
              "setpriv --reuid 65534 --regid 65534 --clear-groups sh /tmp/bomb.sh 6 &\n"
              "sleep 100\n")
    with pytest.raises(CommandTimeout):
        lab.run(script, timeout=3)
    left = {p: count(lab, p) for p in ("sleep 971", "sleep 972", "sleep 973",
                                         "sh /tmp/bomb.sh 0")}
    assert left == dict.fromkeys(left, 0), left
    assert lab.reset().clean


def test_an_interrupted_cell_leaves_no_process_and_names_its_container(lab):
    """Ctrl-C on a foreground `docker run ... ping`: the client ends with the cell, and the
    container, which belongs to the engine, is named with the command that removes it."""
    said: list[tuple[str, str]] = []
    # A real SIGINT, as Jupyter's interrupt sends it to the kernel
    timer = threading.Timer(4, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            lab.run("setsid sleep 974 & docker run --name pinger busybox ping 127.0.0.1",
                    timeout=60, on_output=lambda stream, text: said.append((stream, text)))
    finally:
        timer.cancel()
    assert count(lab, "sleep 974") == 0
    note = "".join(text for stream, text in said if stream == "stderr")
    assert "containers this command started are still running: pinger" in note, said
    assert "docker rm -f pinger" in note
    assert lab.reset().clean
