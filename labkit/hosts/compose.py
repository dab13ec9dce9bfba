"""Start and stop the lab with Docker Compose (v2 `docker compose` or v1 `docker-compose`),
falling back to an explicit capability set on hosts that refuse privileged containers.

The compose files are the single description of the lab; this module only chooses which
files and which compose command to use, then shows compose's own progress.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import LabError, LabStopped
from labkit.hosts.docker import docker_client, wait_until_ready
from labkit.hosts.locate import LabContainer, find_lab

LAB_SERVICE = "dind"
LAB_IMAGE = "labkit-lab:latest"
NOPRIV_FILE = "docker-compose.nopriv.yml"
# The Go lab (lesson 9): the same service from lab/Dockerfile.go, FROM the lab image plus Go
# and the CNI libraries. Started in the lab's place, so it is the course lab while it runs.
GO_FILE = "docker-compose.go.yml"
GO_IMAGE = "labkit-lab-go:latest"
# The Kubernetes lab (the pod lessons): k8s/Dockerfile, FROM the lab image plus Kubernetes
# v1.20.2 built from Debian's source; `k8s-lab up` inside it starts the three-node cluster.
K8S_FILE = "docker-compose.k8s.yml"
K8S_IMAGE = "labkit-k8s:latest"


@dataclass(frozen=True)
class Variant:
    """A lab built FROM the lab image and started in its place (`labkit up --go/--k8s`)."""

    what: str
    image: str
    building: str  # what is built, and what the first build costs
    needs: str = ""  # what the build needs of the mirror besides packages


VARIANTS = {
    "go": Variant("Go lab", GO_IMAGE, "the lab plus Debian's Go 1.19 and the CNI and netlink "
                  "libraries (first run: 30 to 40 s with a fast mirror, and about 470 MB of "
                  "disk)"),
    "k8s": Variant("Kubernetes lab", K8S_IMAGE, "the lab plus Kubernetes v1.20.2 compiled from "
                   "Debian's source package (first run: about 6 to 10 min on 2 cores, Go's "
                   "build output below; about 480 MB in the image and 2 GB of build cache)",
                   ", with deb-src,"),
}
# What runc says when the host's capability bounding set cannot grant --privileged.
REFUSALS = ("unable to apply caps", "operation not permitted")


@dataclass(frozen=True)
class Compose:
    command: tuple[str, ...]  # ("docker", "compose") or ("docker-compose",)
    project_dir: Path
    nopriv: bool = False
    go: bool = False
    k8s: bool = False

    def argv(self, *args: str) -> list[str]:
        files = ["-f", "docker-compose.yml"]
        if self.nopriv:
            files += ["-f", NOPRIV_FILE]
        if self.go:
            files += ["-f", GO_FILE]
        if self.k8s:
            files += ["-f", K8S_FILE]
        return [*self.command, *files, *args]

    def run(self, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), cwd=self.project_dir, text=True,
                              capture_output=capture, check=False)


class ComposeMissing(LabError):
    kind = "compose-missing"


def find_project_dir(start: Path | None = None) -> Path:
    """The folder holding docker-compose.yml: $LABKIT_PROJECT_DIR, the current folder or a
    parent, or the checkout labkit was installed from (editable installs)."""
    candidates = []
    if os.environ.get("LABKIT_PROJECT_DIR"):
        candidates.append(Path(os.environ["LABKIT_PROJECT_DIR"]))
    here = (start or Path.cwd()).resolve()
    candidates += [here, *here.parents, Path(__file__).resolve().parents[2]]
    for folder in candidates:
        if (folder / "docker-compose.yml").is_file() and (folder / "lab" / "Dockerfile").is_file():
            return folder
    raise ComposeMissing(
        "cannot find the course folder (docker-compose.yml and lab/Dockerfile). Run labkit "
        "from the course checkout, or set LABKIT_PROJECT_DIR to it.")


def compose_command() -> tuple[str, ...]:
    """Compose v2 if the docker CLI has it, else v1's `docker-compose`."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True,
                               check=False)
        if probe.returncode == 0:
            return ("docker", "compose")
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    raise ComposeMissing(
        "neither `docker compose` (Compose v2) nor `docker-compose` (v1) is installed. Install "
        "Docker Desktop, or the compose plugin (Debian: apt install docker-compose).")


def privileged_refused(client, image: str = LAB_IMAGE) -> str | None:
    """Try a throw-away privileged container; the reason if the host refuses it."""
    import docker.errors

    probe = client.containers.create(image, entrypoint=["true"], privileged=True,
                                     network_mode="none", labels={"org.labkit.role": "probe"})
    try:
        probe.start()
    except docker.errors.APIError as exc:
        text = str(exc.explanation or exc)
        for refusal in REFUSALS:
            if refusal in text:
                return text[text.index(refusal):].split('"')[0].split("\n")[0].strip(": ")
        raise
    finally:
        probe.remove(force=True)
    return None


def image_exists(client, image: str = LAB_IMAGE) -> bool:
    import docker.errors

    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False


def say(message: str) -> None:
    print(f"labkit: {message}", file=sys.stderr, flush=True)


def up(*, build: bool = False, services: tuple[str, ...] = (LAB_SERVICE,),
       wait: float = 180.0, go: bool = False, k8s: bool = False) -> LabContainer:
    """Build the lab image if missing (or asked), start the services, wait until the lab is
    ready. Returns the ready `LabContainer`. Progress goes to stderr.

    go: start the Go lab (lesson 9) in the lab's place; its image is built FROM the lab's, so
    that one first. Without it, a Go lab that runs is replaced by the everyday one.
    k8s: the same for the Kubernetes lab (k8s/Dockerfile)."""
    if go and k8s:
        raise LabError("--go and --k8s are two different labs: choose one.")
    client = docker_client()
    compose = Compose(compose_command(), find_project_dir())
    if build or not image_exists(client):
        say(f"building the lab image {LAB_IMAGE} (first run: a minute or two)")
        if compose.run("build", *services).returncode != 0:
            raise LabError("building the images failed (compose's messages are above).",
                           hint="a network that inspects TLS needs its CA in certs/ "
                           "(see certs/README.md); a missing base image on a host without a "
                           "registry is made by .ci/make-base-image.sh.")
    if go or k8s:
        # a variant lab: the same service from its own file, its image FROM the lab's
        compose = Compose(compose.command, compose.project_dir, go=go, k8s=k8s)
        variant = VARIANTS["go" if go else "k8s"]
        if build or not image_exists(client, variant.image):
            say(f"building the {variant.what} image {variant.image}: {variant.building}")
            if compose.run("build", LAB_SERVICE).returncode != 0:
                raise LabError(f"building the {variant.what} image failed (compose's messages "
                               "are above).", hint=f"it needs Debian's package mirror"
                               f"{variant.needs} once; see certs/README.md for a network that "
                               "inspects TLS.")
    refusal = privileged_refused(client)
    if refusal:
        say(f"this host refuses privileged containers ({refusal}); "
            "starting the lab with an explicit capability set "
            f"instead ({NOPRIV_FILE})")
        compose = Compose(compose.command, compose.project_dir, nopriv=True, go=go, k8s=k8s)
    say(f"starting {', '.join(services)} with {' '.join(compose.command)}")
    if compose.run("up", "-d", *services).returncode != 0:
        raise LabError("compose could not start the lab (its messages are above).",
                       hint="run `labkit doctor` to see what this host allows.")
    lab = find_lab(client)
    if lab is None:
        raise LabError("compose reported success but no lab container is labelled "
                       "org.labkit.role=lab.", hint="check docker-compose.yml's labels.")
    say("waiting for the lab's Docker engine to be ready")
    try:
        lab = wait_until_ready(client, lab, wait)
    except LabStopped:
        # A lab that stops while starting: its container's own state is broken (a killed
        # engine's leftovers in an old image's /run, say). Safe to make anew: the lab's inner
        # Docker storage is a volume, and the lessons reset the lab anyway.
        say(f"the lab stopped while starting; its last words:\n{_last_words(client, lab.id)}")
        say("making its container anew (the inner Docker storage volume is kept)")
        compose.run("rm", "-f", "-s", LAB_SERVICE)
        if compose.run("up", "-d", *services).returncode != 0 or find_lab(client) is None:
            raise LabError("compose could not start the lab again (its messages are above).",
                           hint="run `labkit doctor`; `labkit down --volumes` then "
                           "`labkit up` starts from nothing") from None
        lab = wait_until_ready(client, find_lab(client), wait)
    say(f"lab ready: container {lab.name}"
        + (" (the Kubernetes lab: `k8s-lab up` in it starts the cluster)" if k8s else ""))
    return lab


def _last_words(client, container_id: str, lines: int = 8) -> str:
    try:
        text = client.api.logs(container_id, tail=lines).decode(errors="replace")
    except Exception as exc:  # noqa: BLE001 - the logs are a courtesy, the restart goes on
        text = f"(no logs: {exc})"
    return "\n".join("  " + line for line in text.rstrip().splitlines())


def down(*, volumes: bool = False) -> int:
    """Stop and remove the course's containers (the learner's notebooks stay on the host)."""
    compose = Compose(compose_command(), find_project_dir())
    args = ["down", "--remove-orphans"] + (["--volumes"] if volumes else [])
    return compose.run(*args).returncode
