"""The picture after every %%lab cell, in a real Jupyter kernel: a diagram when the network
changed (what the cell added named in its text), one line when it did not, none when off."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.lab


@pytest.fixture()
def kernel(lab):
    manager = pytest.importorskip("jupyter_client.manager")
    km, kc = manager.start_new_kernel(kernel_name="python3",
                                      env={**os.environ, "LABKIT_LAB": lab.container.id})
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def execute(kc, code: str) -> tuple[dict, list[dict]]:
    """Run code; return the error (if any) and the display_data bundles, in order."""
    msg_id = kc.execute(code)
    shown, error = [], {}
    while True:
        msg = kc.get_iopub_msg(timeout=90)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "display_data":
            shown.append(msg["content"]["data"])
        elif kind == "error":
            error = msg["content"]
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            return error, shown


def test_a_diagram_follows_each_cell_that_changes_the_network(kernel):
    error, _ = execute(kernel, "from labkit import Lab\nlab = Lab.connect()")
    assert not error, error

    error, [first] = execute(kernel, "%%lab\nbrctl show >/dev/null\n")
    assert not error, error
    assert first["image/svg+xml"].lstrip().startswith("<?xml")
    assert "bridge docker0 172.17.0.1/16" in first["text/plain"]

    error, [second] = execute(kernel, "%%lab\ndocker run -dit --name busybox1 busybox sh\n")
    assert not error, error
    assert "+ namespace busybox1 (container: eth0 172.17.0.2/16)" in second["text/plain"]
    assert "busybox1" in second["image/svg+xml"] and "172.17.0.2/16" in second["image/svg+xml"]

    error, [same] = execute(kernel, "%%lab\ndocker ps -q >/dev/null\n")
    assert not error, error
    assert "image/svg+xml" not in same
    assert same["text/plain"] == "(the network did not change: same diagram as above)"

    error, _ = execute(kernel, "%lab_draw off")
    assert not error, error
    error, shown = execute(kernel, "%%lab\ndocker run -dit --name busybox2 busybox sh\n")
    assert not error and shown == []

    error, _ = execute(kernel, "%lab_draw on")
    error, [removed] = execute(kernel, "%%lab\ndocker rm -f busybox1 >/dev/null\n")
    assert not error, error
    # busybox2 came while drawing was off, so it shows up now; busybox1 is drawn faded.
    assert "- namespace busybox1" in removed["text/plain"]
    assert "+ namespace busybox2" in removed["text/plain"]


def test_lab_draw_any_time_with_focus(lab):
    lab.run("docker run -dit --name busybox1 busybox sh; "
            "docker run -dit --name busybox2 busybox sh")
    whole = lab.draw(changes=False)
    only = lab.draw(focus=["busybox1"], changes=False)
    assert "busybox2" in whole.dot and "busybox2" not in only.dot
    assert "busybox1" in only.dot
    assert whole._repr_mimebundle_()["image/svg+xml"].count("<svg") == 1


def test_a_cell_can_say_no_diagram_and_the_next_one_still_sees_its_change(kernel):
    error, _ = execute(kernel, "from labkit import Lab\nlab = Lab.connect()")
    assert not error, error
    error, _ = execute(kernel, "%%lab\nbrctl show >/dev/null\n")
    assert not error, error
    # an exercise cell: the picture would show the answer, so it draws nothing
    error, shown = execute(kernel, "%%lab --no-draw\ndocker run -dit --name busybox3 busybox sh\n")
    assert not error, error
    assert not any("image/svg+xml" in s for s in shown)
    error, [later] = execute(kernel, "%%lab\nip link show docker0 >/dev/null\n")
    assert not error, error
    assert "+ namespace busybox3" in later["text/plain"]
