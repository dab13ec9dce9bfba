"""compose: the argv for each compose flavour, with and without the capability-set file."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.hosts.compose import NOPRIV_FILE, Compose, ComposeMissing, find_project_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [("docker", "compose"), ("docker-compose",)])
def test_argv_privileged(command):
    c = Compose(command, ROOT)
    assert c.argv("up", "-d", "dind") == [*command, "-f", "docker-compose.yml",
                                          "up", "-d", "dind"]


@pytest.mark.parametrize("command", [("docker", "compose"), ("docker-compose",)])
def test_argv_nopriv(command):
    c = Compose(command, ROOT, nopriv=True)
    assert c.argv("up", "-d", "dind") == [*command, "-f", "docker-compose.yml",
                                          "-f", "docker-compose.nopriv.yml",
                                          "up", "-d", "dind"]
    assert NOPRIV_FILE == "docker-compose.nopriv.yml"
    assert (ROOT / NOPRIV_FILE).is_file()


def test_argv_without_args():
    assert Compose(("docker-compose",), ROOT).argv() == ["docker-compose", "-f",
                                                          "docker-compose.yml"]


def test_find_project_dir_from_a_subfolder(monkeypatch):
    monkeypatch.delenv("LABKIT_PROJECT_DIR", raising=False)
    assert find_project_dir(ROOT / "labkit") == ROOT


def test_find_project_dir_env(monkeypatch, tmp_path):
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    monkeypatch.setenv("LABKIT_PROJECT_DIR", str(tmp_path))
    assert find_project_dir(Path("/")) == tmp_path


def test_find_project_dir_falls_back_to_the_checkout(monkeypatch):
    """Editable install: from an unrelated folder, labkit's own checkout is found."""
    monkeypatch.delenv("LABKIT_PROJECT_DIR", raising=False)
    assert find_project_dir(Path("/")) == ROOT


def test_compose_missing_is_a_lab_error():
    from labkit.errors import LabError

    assert issubclass(ComposeMissing, LabError)


@pytest.mark.parametrize("nopriv", [False, True])
def test_argv_go_lab(nopriv):
    """`labkit up --go`: the Go lab's file last, so its image and build win."""
    from labkit.hosts.compose import GO_FILE, GO_IMAGE, LAB_IMAGE

    c = Compose(("docker-compose",), ROOT, nopriv=nopriv, go=True)
    assert c.argv("up")[-3:] == ["-f", GO_FILE, "up"]
    text = (ROOT / GO_FILE).read_text()
    assert f"image: {GO_IMAGE}" in text and "dockerfile: lab/Dockerfile.go" in text
    # the Go lab is built FROM the lab image labkit builds first
    assert f"ARG LAB_IMAGE={LAB_IMAGE}" in (ROOT / "lab" / "Dockerfile.go").read_text()


@pytest.mark.parametrize("nopriv", [False, True])
def test_argv_k8s_lab(nopriv):
    """`labkit up --k8s`: the Kubernetes lab's file last, built FROM the lab image."""
    from labkit.hosts.compose import K8S_FILE, K8S_IMAGE, LAB_IMAGE

    c = Compose(("docker-compose",), ROOT, nopriv=nopriv, k8s=True)
    assert c.argv("up")[-3:] == ["-f", K8S_FILE, "up"]
    text = (ROOT / K8S_FILE).read_text()
    assert f"image: {K8S_IMAGE}" in text and "context: k8s" in text
    assert f"LAB_IMAGE: {LAB_IMAGE}" in text
    assert f"ARG LAB_IMAGE={LAB_IMAGE}" in (ROOT / "k8s" / "Dockerfile").read_text()


def test_go_and_k8s_together_are_refused():
    from labkit.errors import LabError
    from labkit.hosts import compose

    with pytest.raises(LabError, match="two different labs"):
        compose.up(go=True, k8s=True)
