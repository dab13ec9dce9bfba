"""The README's first command, end to end: JupyterLab from docker-compose.yml serves the course
on 127.0.0.1 behind a token, and a notebook run by its kernel drives the lab."""

from __future__ import annotations

import json
import secrets
import subprocess
import urllib.error
import urllib.request

import pytest

from labkit import compose
from labkit.lab import docker_client

pytestmark = pytest.mark.lab

PORT = "18888"  # not 8888: a learner's own course may be running on this machine


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="module")
def course(lab, monkeypatch_module):
    token = secrets.token_hex(16)
    monkeypatch_module.setenv("JUPYTER_TOKEN", token)
    monkeypatch_module.setenv("JUPYTER_PORT", PORT)
    compose.up(services=(compose.LAB_SERVICE, "jupyter"))
    client = docker_client()
    [found] = client.containers.list(filters={"label": "org.labkit.role=jupyter"})
    base = f"http://127.0.0.1:{PORT}"
    for _ in range(60):  # JupyterLab needs a few seconds after its container starts
        try:
            if _status(f"{base}/api/status?token={token}") == 200:
                break
        except OSError:
            pass
        subprocess.run(["sleep", "0.5"], check=True)
    yield found, base, token
    comp = compose.Compose(compose.compose_command(), compose.find_project_dir())
    comp.run("rm", "-sf", "jupyter", capture=True)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_jupyterlab_needs_the_token_and_listens_on_loopback_only(course):
    container, base, token = course
    assert _status(f"{base}/api/status?token={token}") == 200
    assert _status(f"{base}/api/status") == 403
    bindings = container.attrs["HostConfig"]["PortBindings"]["8888/tcp"]
    assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]


def test_the_course_opens_on_the_welcome_notebook(course):
    _, base, token = course
    with urllib.request.urlopen(f"{base}/api/contents/00-welcome.ipynb?token={token}",
                                timeout=10) as response:
        assert json.load(response)["type"] == "notebook"
    # The front page sends the browser straight to the first lesson.
    with urllib.request.urlopen(f"{base}/?token={token}", timeout=10) as response:
        assert response.url.split("?")[0].endswith("/lab/tree/00-welcome.ipynb")


def test_a_notebook_kernel_in_the_course_container_drives_the_lab(course):
    container, _, _ = course
    script = (
        "cp /home/learner/course/00-welcome.ipynb /tmp/run.ipynb && "
        "jupyter nbconvert --to notebook --execute /tmp/run.ipynb --output /tmp/out.ipynb "
        ">/dev/null 2>&1 && cat /tmp/out.ipynb")
    code, out = container.exec_run(["sh", "-c", script], user="learner")
    assert code == 0, out.decode()[-2000:]
    cells = [c for c in json.loads(out)["cells"] if c["cell_type"] == "code"]
    text = "\n".join(
        "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
        for c in cells for o in c["outputs"])
    assert "Lab ready: commands run through docker-exec." in text
    assert "bridge: bridge" in text and "none: null" in text
    assert "172.17.0.1/16" in text
    assert "The lab is back at its starting state." in text


def test_the_learner_runs_as_the_owner_of_the_notebooks(course):
    """Edits keep the host user's ownership, and that user can reach the Docker socket."""
    container, _, _ = course
    find_uid = ("import os\nfor p in os.listdir('/proc'):\n"
                "  if p.isdigit() and b'jupyter-lab' in open(f'/proc/{p}/cmdline','rb').read():\n"
                "    print(os.stat(f'/proc/{p}').st_uid); break")
    _, running_uid = container.exec_run(["python3", "-c", find_uid])
    _, owner_uid = container.exec_run(["stat", "-c", "%u", "/home/learner/course"])
    assert running_uid.strip() == owner_uid.strip()
    _, socket_gid = container.exec_run(["stat", "-c", "%g", "/var/run/docker.sock"])
    _, groups = container.exec_run(["id", "-G", "learner"])
    assert socket_gid.strip() in groups.split() or owner_uid.strip() == b"0"
