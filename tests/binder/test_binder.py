"""binder/ works the way repo2docker (Binder) uses it, checked without Binder.

The steps of a repo2docker build are replayed in a throw-away image made from the local
`debian:bookworm-slim`: apt.txt installed as root, then, as a non-root notebook user (uid
1000, like Binder's jovyan), an environment with requirements.txt, the repository copied to
$HOME, postBuild run there. Then, in containers without any network: `binder/start CMD` runs
CMD (it must `exec "$@"`), labkit imports and reports a live mode, JupyterLab is installed and
opens the welcome lesson.

repo2docker's real base is Ubuntu with conda; this is Debian with a venv: the apt names,
pip requirements and scripts are the same, which is what can break. Network: the image build
reaches the Debian and PyPI package registries (like CI's image builds); the checks run with
`--network none`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.docker]

REPO = Path(__file__).resolve().parents[2]
IMAGE = "labkit-binder-check:latest"
BASE = "debian:bookworm-slim"

DOCKERFILE = """\
FROM debian:bookworm-slim
# Optional extra CA for networks that inspect TLS (certs/README.md); none: nothing added.
COPY certs/ /usr/local/share/ca-certificates/labkit/
ENV DEBIAN_FRONTEND=noninteractive
# repo2docker: apt.txt, as root. python3 + venv stand in for repo2docker's conda.
COPY binder/apt.txt /tmp/apt.txt
RUN apt-get update -qq \\
 && apt-get install -y -qq --no-install-recommends ca-certificates python3 python3-venv \\
      $(grep -v '^#' /tmp/apt.txt) >/dev/null \\
 && update-ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/*
RUN useradd -m -u 1000 jovyan && mkdir /srv/env && chown jovyan /srv/env
ENV HOME=/home/jovyan PATH=/srv/env/bin:$PATH \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1
USER jovyan
# repo2docker: the environment with requirements.txt, before the repository is copied
RUN python3 -m venv /srv/env
COPY --chown=jovyan binder/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -q -r /tmp/requirements.txt
# repo2docker: the repository in $HOME, then postBuild there
COPY --chown=jovyan repo/ /home/jovyan/
WORKDIR /home/jovyan
RUN ./binder/postBuild
"""

#: what the repository copy holds (what a Binder launch of this repo would see)
PARTS = ("labkit", "binder", "notebooks", "docs", "pyproject.toml", "README.md")


def docker(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image(docker_api):
    if docker("image", "inspect", BASE).returncode != 0:
        pytest.fail(f"{BASE} is not here: make it with .ci/make-base-image.sh {BASE}",
                    pytrace=False)
    ctx = Path(tempfile.mkdtemp(prefix="labkit-binder-"))
    try:
        (ctx / "Dockerfile").write_text(DOCKERFILE)
        shutil.copytree(REPO / "certs", ctx / "certs")
        shutil.copytree(REPO / "binder", ctx / "binder")
        for part in PARTS:
            src = REPO / part
            if src.is_dir():
                shutil.copytree(src, ctx / "repo" / part, ignore=shutil.ignore_patterns(
                    "__pycache__", "*.pyc", ".ipynb_checkpoints"))
            else:
                shutil.copy(src, ctx / "repo" / part)
        built = docker("build", "-q", "-t", IMAGE, str(ctx), timeout=1500)
        assert built.returncode == 0, f"the repo2docker steps failed:\n{built.stderr[-5000:]}"
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    return IMAGE


def run(image: str, *argv: str) -> subprocess.CompletedProcess:
    """As the notebook user, no network, through binder/start like a Binder launch."""
    return docker("run", "--rm", "--network", "none", "-e", "LABKIT_PRESTART=0", image,
                  "./binder/start", *argv, timeout=120)


def test_start_execs_its_arguments(image):
    done = run(image, "python3", "-c", "print(42)")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "42\n"


def test_labkit_imports_and_reports_a_mode(image):
    done = run(image, "python3", "-c",
               "import labkit; from labkit.hosts import modes; print(modes.detect(full=True))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("live mode "), done.stdout
    # Docker's default seccomp profile refuses new user namespaces: this container replays.
    assert "live mode 4 of 4" in done.stdout, done.stdout


def test_jupyterlab_opens_the_course(image):
    done = run(image, "sh", "-c", "id -u; jupyter lab --version; "
               "cat ~/.jupyter/jupyter_server_config.py; ls notebooks/recordings")
    assert done.returncode == 0, done.stderr
    uid, version, *rest = done.stdout.splitlines()
    assert uid == "1000" and version.startswith("4.")
    assert 'default_url = "/lab/tree/notebooks/00-welcome.ipynb"' in "\n".join(rest)
    assert "01-docker0.json" in rest


def test_start_prestarts_nothing_where_nothing_is_allowed(image):
    """The default launch (prestart on) still execs at once; the prestart only logs."""
    done = docker("run", "--rm", "--network", "none", image, "./binder/start", "sh", "-c",
                  "sleep 3; cat /tmp/labkit-start.log", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "live mode 4 of 4" in done.stdout, done.stdout
