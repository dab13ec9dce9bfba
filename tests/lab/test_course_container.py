"""The README's first command, end to end: JupyterLab from docker-compose.yml serves the course
on 127.0.0.1 behind a token, and a notebook run by its kernel drives the lab."""

from __future__ import annotations

import json
import secrets
import subprocess
import urllib.error
import urllib.request

import pytest

from labkit.hosts import compose
from labkit.hosts.docker import docker_client

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
    comp.run("rm", "-sf", "jupyter", "docker-filter", capture=True)


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


PROBE_NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "id": c,
         "source": src}
        for c, src in (("a", "from labkit import Lab\nlab = Lab.connect()\nlab"),
                       ("b", "%%lab\nhostname\ndocker network ls --format '{{.Name}}'"),
                       ("c", "lab.reset()"))],
}


def test_a_notebook_kernel_in_the_course_container_drives_the_lab(course):
    """The learner's path: a kernel in the course container, labkit as installed there,
    Docker through the mounted socket, a diagram after the %%lab cell."""
    container, _, _ = course
    script = ("cat > /tmp/probe.ipynb && jupyter nbconvert --to notebook --execute "
              "/tmp/probe.ipynb --output /tmp/out.ipynb >/dev/null 2>&1 && cat /tmp/out.ipynb")
    exec_id = container.client.api.exec_create(container.id, ["sh", "-c", script],
                                                stdin=True, user="learner")["Id"]
    sock = container.client.api.exec_start(exec_id, socket=True)
    raw = getattr(sock, "_sock", sock)
    raw.sendall(json.dumps(PROBE_NOTEBOOK).encode())
    raw.shutdown(1)  # end of stdin
    out = b""
    while chunk := raw.recv(65536):
        out += chunk
    code = container.client.api.exec_inspect(exec_id)["ExitCode"]
    text = "".join(_frames(out))
    assert code == 0, text[-2000:]
    cells = json.loads(text)["cells"]
    outputs = [o for c in cells for o in c["outputs"]]
    plain = "\n".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                      for o in outputs)
    assert "Lab ready: commands run in the lab container (docker exec)." in plain
    assert "lab\n" in plain and "bridge\nhost\nnone\n" in plain
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs)
    assert "The lab is back at its starting state." in plain


def _frames(raw: bytes):
    """Docker's multiplexed exec output: 8-byte headers, then the payload."""
    while len(raw) >= 8:
        size = int.from_bytes(raw[4:8], "big")
        if raw[0] == 1:
            yield raw[8:8 + size].decode()
        raw = raw[8 + size:]


def test_the_learner_runs_as_the_owner_of_the_notebooks(course):
    """Edits keep the host user's ownership; there is no Docker socket in the container."""
    container, _, _ = course
    find_uid = ("import os\nfor p in os.listdir('/proc'):\n"
                "  if p.isdigit() and b'jupyter-lab' in open(f'/proc/{p}/cmdline','rb').read():\n"
                "    print(os.stat(f'/proc/{p}').st_uid); break")
    _, running_uid = container.exec_run(["python3", "-c", find_uid])
    _, owner_uid = container.exec_run(["stat", "-c", "%u", "/home/learner/course"])
    assert running_uid.strip() == owner_uid.strip()
    code, _ = container.exec_run(["test", "-e", "/var/run/docker.sock"])
    assert code != 0, "the host's Docker socket is mounted in JupyterLab"


# From a notebook cell or JupyterLab's terminal, as the learner: the host's engine through
# labkit's filter. Each line prints the outcome of one thing a learner might try.
HOST_ENGINE = """
import docker
c = docker.from_env()
def attempt(what, f):
    try:
        f()
        print(what, "ALLOWED")
    except docker.errors.APIError as e:
        print(what, e.status_code, "filter" if "labkit's Docker filter" in str(e) else str(e))
print("list", ",".join(sorted(x.name for x in c.containers.list(all=True))))  # the lab only
attempt("create", lambda: c.containers.create("labkit-lab:latest", volumes=["/etc:/host"]))
attempt("remove", lambda: c.api.remove_container("FILTER", force=True))
attempt("inspect-by-name", lambda: c.api.inspect_container("FILTER"))
attempt("images", lambda: c.images.list())
labs = c.api.containers(all=True, filters={"label": "org.labkit.role=lab"})
print("labs", len(labs))
# Query tricks: nginx and Docker read query keys differently; the filter answers each with the
# lab alone (it replaces the query), never the host's containers or the filter itself.
import http.client, json
LAB = "%7B%22label%22%3A%5B%22org.labkit.role%3Dlab%22%5D%7D"
FLT = "%7B%22label%22%3A%5B%22org.labkit.role%3Ddocker-filter%22%5D%7D"
ANY = "%7B%22label%22%3A%5B%22org.labkit.role%22%5D%7D"
for query in ("all=1", f"all=1&Filters={LAB}", f"all=1&%66ilters=%7B%7D&filters={LAB}",
              f"all=1&filters={FLT}", f"all=1&filters={ANY}"):
    conn = http.client.HTTPConnection("docker-filter", 2375, timeout=10)
    conn.request("GET", "/v1.41/containers/json?" + query)
    answer = conn.getresponse()
    body = answer.read()
    names = sorted(n for x in json.loads(body) for n in x["Names"]) if answer.status == 200 else []
    print("query", answer.status, ",".join(names))
"""


def test_jupyterlab_cannot_list_create_or_remove_the_hosts_containers(course, docker_api, lab):
    container, _, _ = course
    [flt] = docker_api.containers.list(filters={"label": "org.labkit.role=docker-filter"})
    code, out = container.exec_run(
        ["setpriv", "--reuid=learner", "--regid=learner", "--init-groups",
         "python3", "-c", HOST_ENGINE.replace("FILTER", flt.name)],
        environment={"DOCKER_HOST": "tcp://docker-filter:2375"})
    lines = out.decode().split("\n")
    assert code == 0, out
    assert f"list {lab.container.name}" in lines, out.decode()
    for what in ("create", "remove", "inspect-by-name", "images"):
        assert f"{what} 403 filter" in lines, out.decode()
    assert "labs 1" in lines  # what labkit needs still passes
    queries = [line for line in lines if line.startswith("query ")]
    assert queries == [f"query 200 /{lab.container.name}"] * 5, out.decode()
    assert flt.reload() is None and flt.status == "running"


def test_docker_in_the_terminal_is_the_labs_engine(course, lab):
    container, _, _ = course
    lab.sh("docker run -dit --name busybox1 busybox sh >/dev/null")
    code, out = container.exec_run(
        ["setpriv", "--reuid=learner", "--regid=learner", "--init-groups",
         "docker", "ps", "--format", "{{.Names}}"],
        environment={"DOCKER_HOST": "tcp://docker-filter:2375", "HOME": "/home/learner"})
    assert code == 0, out
    assert out.decode().split() == ["busybox1"], out.decode()


def test_the_token_survives_a_restart(course, docker_api):
    """Without JUPYTER_TOKEN, the URL printed at the first start still works after a
    restart (`docker compose restart` keeps the container)."""
    import re
    import time

    box = docker_api.containers.run("labkit-jupyter:latest", detach=True,
                                    labels={"org.labkit.role": "test-throwaway"},
                                    network_mode="none")
    try:
        def urls() -> list[str]:
            for _ in range(60):
                found = re.findall(r"token=([0-9a-f]+)", box.logs().decode())
                if found:
                    return found
                time.sleep(0.5)
            return []
        first = urls()
        box.restart(timeout=5)
        for _ in range(60):
            if len(urls()) >= 2:
                break
            time.sleep(0.5)
        tokens = urls()
    finally:
        box.remove(force=True)
    assert len(tokens) >= 2 and len(set(tokens)) == 1 and len(tokens[0]) == 48, tokens
    assert first == tokens[:1]


def test_a_lab_named_by_its_name_is_found_through_the_filter(course, lab):
    """LABKIT_LAB=NAME (a helper lab, a teacher's rehearsal) works from JupyterLab too, though
    the filter lets containers be inspected by full id only."""
    container, _, _ = course
    code, out = container.exec_run(
        ["setpriv", "--reuid=learner", "--regid=learner", "--init-groups", "python3", "-c",
         f"from labkit import Lab; print(Lab.connect(name={lab.container.name!r}).sh('echo ok'))"],
        environment={"DOCKER_HOST": "tcp://docker-filter:2375", "HOME": "/home/learner"})
    assert code == 0 and out.decode().split()[-1] == "ok", out.decode()
