"""Shared fixtures for labkit's tests.

* `lab` (session): the live course lab, `Lab.connect()`; started with `labkit.hosts.compose.up()`
  when none exists. Docker unreachable: the fixture FAILS in CI (env `CI` non-empty) with the
  `labkit doctor` report, and skips elsewhere. `LABKIT_LAB=NAME` points it at another lab.
* Every test marked `@pytest.mark.lab` starts from a reset lab (`lab.reset()` before the
  test); `@pytest.mark.lab(reset=False)` opts out. Tests under tests/lab/ get the marker
  automatically.
* `throwaway_lab` (function): a factory for extra, short-lived lab containers (same image and
  capability set as docker-compose.nopriv.yml, label org.labkit.role=test-throwaway, never
  the course lab's label), removed with their volumes after the test; `image=` starts
  another lab image (the Kubernetes lab, K8S_IMAGE).
* `go_lab`, `k8s_lab` (session): the variant labs (VARIANTS): the Go lab (`labkit up --go`,
  image labkit-lab-go) for the lessons in GO_NOTEBOOKS, the Kubernetes lab (`labkit up
  --k8s`, image labkit-k8s) for those in K8S_NOTEBOOKS: the course lab when it is that
  variant, else one throw-away lab of it for the session. Their exercise tests get it as
  `lab`, and nbval runs their notebooks with LABKIT_LAB naming it, so the rest of the suite
  keeps the everyday lab.
* `@pytest.mark.k8s` tests need the Kubernetes lab image (k8s/Dockerfile, minutes to build):
  they run only when selected (`-m k8s`) and are skipped otherwise, so `make test` does not
  pay for them.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

LAB_DIR = Path(__file__).parent / "lab"
THROWAWAY_LABEL = {"org.labkit.role": "test-throwaway"}
LAB_IMAGE = "labkit-lab:latest"
GO_IMAGE = os.environ.get("LABKIT_GO_IMAGE", "labkit-lab-go:latest")  # a test build: its tag
#: lessons that need the Go lab (lab/Dockerfile.go): their notebooks and their exercises
GO_NOTEBOOKS = {"09-cni-go.ipynb"}
K8S_IMAGE = os.environ.get("LABKIT_K8S_IMAGE", "labkit-k8s:latest")  # k8s/Dockerfile
#: lessons that need the Kubernetes lab (k8s/Dockerfile)
K8S_NOTEBOOKS = {"10-pods-pause.ipynb", "11-pods-across-nodes.ipynb", "12-services-dns.ipynb",
                 "13-externalip-nodeport.ipynb", "14-ingress.ipynb"}


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: takes tens of seconds (deselect with -m 'not slow')")
    config.addinivalue_line(
        "markers", "docker: needs a Docker engine (builds or runs images), not the lab")
    config.pluginmanager.register(VariantNotebooks(), "labkit-variant-notebooks")
    config.addinivalue_line(
        "markers", f"k8s: needs the Kubernetes lab image {K8S_IMAGE} (k8s/Dockerfile); "
        "runs only when selected with -m k8s")


UNIT_DIR = Path(__file__).parent / "unit"
#: what a test needs when it touches Docker or a lab: never in tests/unit. `fixturenames` is
#: the whole closure, so a fixture built on one of these (or `usefixtures`) counts too.
LIVE_FIXTURES = {"lab", "docker_api", "throwaway_lab"}
LIVE_MARKERS = ("lab", "docker", "rootless")


def _in_unit(item: pytest.Item) -> bool:
    return UNIT_DIR in Path(str(item.path)).parents


def _live(item: pytest.Item) -> list[str]:
    """Why the test is live: its live markers and fixtures (empty: it is pure)."""
    marks = [f"@{m}" for m in LIVE_MARKERS if item.get_closest_marker(m) is not None]
    return marks + sorted(LIVE_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    live_in_unit = []
    k8s_selected = "k8s" in (config.getoption("markexpr", "") or "")
    for item in items:
        if item.get_closest_marker("k8s") is not None and not k8s_selected:
            item.add_marker(pytest.mark.skip(
                reason=f"a Kubernetes lab test: select it with -m k8s (needs {K8S_IMAGE}, "
                       "built from k8s/Dockerfile)"))
        if LAB_DIR in Path(str(item.path)).parents and item.get_closest_marker("lab") is None:
            item.add_marker(pytest.mark.lab)
        if _in_unit(item) and (why := _live(item)):
            live_in_unit.append(f"{item.nodeid} ({', '.join(why)})")
    # A variant image still being built in the background (.ci/run): the tests that need it
    # run last, so the build overlaps with everything else. Only the order changes (stable:
    # a notebook's cells stay together, in order); every test still runs.
    pending = {k for k, v in VARIANTS.items() if v.build_pending() is not None}
    if pending:
        items.sort(key=lambda item: variant_of(item) in pending)
    if live_in_unit:
        # tests/unit is pure: it passes with Docker unreachable and never touches a lab.
        raise pytest.UsageError("live tests collected under tests/unit (move them to "
                                "tests/lab or mark nothing live there): "
                                + ", ".join(live_in_unit))


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef, request) -> None:
    """The same rule for `request.getfixturevalue("lab")` inside a test, which collection
    cannot see: a live fixture set up for a tests/unit test fails that test."""
    item = getattr(request, "_pyfuncitem", None)  # the test that asked, whatever the scope
    if fixturedef.argname in LIVE_FIXTURES and item is not None and _in_unit(item):
        pytest.fail(f"{item.nodeid} asked for the live fixture {fixturedef.argname!r}: "
                    "tests/unit is pure (move the test to tests/lab)", pytrace=False)


def _doctor_report() -> str:
    try:
        from labkit.cli.doctor import gather, report

        return report(gather())
    except Exception as exc:  # noqa: BLE001 - the report is a courtesy; never hide the cause
        return f"(labkit doctor itself failed: {type(exc).__name__}: {exc})"


def _no_lab(reason: str) -> None:
    """Fail in CI (a lab that will not start fails the run); skip on a laptop."""
    text = f"{reason}\n\nlabkit doctor says:\n{_doctor_report()}"
    if in_ci():
        pytest.fail(f"the live lab is required in CI (CI={os.environ['CI']!r}): {text}",
                    pytrace=False)
    pytest.skip(f"no live lab: {reason.splitlines()[0]} (set CI=1 to make this a failure)")


@pytest.fixture(scope="session")
def docker_api():
    """The Docker SDK client (labkit's own connection checks), or skip/fail like `lab`."""
    from labkit import DockerUnavailable
    from labkit.hosts.docker import docker_client

    try:
        return docker_client()
    except DockerUnavailable as exc:
        reason = str(exc)
    _no_lab(reason)  # outside the except: no "during handling" noise in the report


@pytest.fixture(scope="session")
def lab(docker_api):
    """The live lab. Started (`labkit.hosts.compose.up()`) when no lab container exists."""
    from labkit import Lab, LabNotFound
    from labkit.hosts import compose

    try:
        return Lab.connect()
    except LabNotFound:
        if os.environ.get("LABKIT_LAB"):
            raise  # a named lab that does not exist is a mistake, not something to start
    # No lab yet: start it the way a learner would (`labkit up`); errors fail the session.
    compose.up()
    return Lab.connect()


@pytest.fixture(autouse=True)
def _reset_lab_for_lab_tests(request: pytest.FixtureRequest):
    """Before each `lab`-marked test: reset the lab so tests do not depend on each other."""
    marker = request.node.get_closest_marker("lab")
    if marker is not None and marker.kwargs.get("reset", True):
        live = request.getfixturevalue("lab")
        report = live.reset()
        assert report.clean, f"reset before the test left problems: {report.warnings}"
        live._activate()  # %%lab cells use this lab, whatever an earlier test connected to
    yield


@pytest.fixture
def throwaway_lab(docker_api):
    """Factory: `start(name_suffix="x")` -> a started docker SDK Container running the lab
    image with the explicit capability set. Removed (with its volume) after the test."""
    import docker.errors

    made = []

    def start(suffix: str = "lab", image: str = LAB_IMAGE):
        try:
            docker_api.images.get(image)
        except docker.errors.ImageNotFound:
            how = "run `labkit up`" if image == LAB_IMAGE else "see k8s/Dockerfile"
            pytest.fail(f"{image} is not built ({how})")
        container = docker_api.containers.create(
            image,
            name=f"labkit-test-{suffix}-{secrets.token_hex(3)}",
            labels=THROWAWAY_LABEL,
            cap_add=["ALL"],
            cap_drop=["SYS_RESOURCE"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
            network_mode="none",  # no traffic leaves it; its docker0 is still 172.17.0.1/16
        )
        made.append(container)
        container.start()
        return container

    from labkit import lab as labmod

    before = labmod._current
    yield start
    labmod._current = before  # connecting to a throw-away lab made it the magics' lab
    for container in made:
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass



# --- the variant labs: the Go lab (lesson 9), the Kubernetes lab (lessons 10-) -------------


@dataclass(frozen=True)
class Variant:
    """A lab image some lessons need instead of the everyday one."""

    image: str
    notebooks: frozenset[str]  # the lessons that need it: their notebooks and exercises
    probe: str  # a command that succeeds only in this variant's lab
    build: str  # how to build the image, for the skip/fail message
    #: the environment variable naming the file a build still under way writes its exit status
    #: to (.ci/run builds the Kubernetes image in the background: .ci/k8s-image.sh); "": none
    pending: str = ""

    def build_pending(self) -> Path | None:
        """The status file of a background build of this image not finished yet, else None."""
        status = os.environ.get(self.pending) if self.pending else None
        return Path(status) if status and not Path(status).exists() else None


VARIANTS = {
    "go": Variant(GO_IMAGE, frozenset(GO_NOTEBOOKS), "command -v go",
                  "`make lab-go-image` or `labkit up --go`"),
    "k8s": Variant(K8S_IMAGE, frozenset(K8S_NOTEBOOKS), "command -v k8s-lab",
                   "`labkit up --k8s` (or `docker build -t labkit-k8s:latest k8s/`)",
                   pending="LABKIT_K8S_BUILD_RC"),
}
#: how long a test waits for a variant image built in the background (cold: ~10 min alone)
BUILD_WAIT = 3600
_builds: dict[str, dict[str, object]] = {}  # image -> {"deadline": ..., "failed": why, ...}
_variant_labs: dict[str, dict[str, object]] = {}  # kind -> {"name": ..., "made": container}


def variant_lab_name(kind: str) -> str:
    """The name of a lab of this variant: the course lab if it is one, else a throw-away lab
    started once per session (removed in pytest_sessionfinish). Fails in CI when the image is
    not built (`.ci/run` builds them all), skips elsewhere."""
    known = _variant_labs.setdefault(kind, {})
    if "name" in known:
        return str(known["name"])
    import docker.errors

    from labkit import Lab, LabNotFound
    from labkit.hosts.docker import docker_client, wait_until_ready
    from labkit.hosts.locate import from_inspect

    variant = VARIANTS[kind]
    try:
        course = Lab.connect(start=False)  # the course lab, or LABKIT_LAB's
        if course.run(variant.probe).ok:
            known["name"] = course.name
            return course.name
    except LabNotFound:
        pass
    client = docker_client()
    _wait_for_build(variant)
    try:
        client.images.get(variant.image)
    except docker.errors.ImageNotFound:
        lessons = ", ".join(sorted(variant.notebooks))
        reason = f"{variant.image} is not built: {variant.build} builds it ({lessons} need it)"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    container = client.containers.run(
        variant.image, detach=True, name=f"labkit-test-{kind}-{secrets.token_hex(3)}",
        hostname="lab", labels=THROWAWAY_LABEL, cap_add=["ALL"], cap_drop=["SYS_RESOURCE"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
        network_mode="none")
    known.update(name=container.name, made=container)
    wait_until_ready(client, from_inspect(client.api.inspect_container(container.id)), 180)
    return container.name


def _wait_for_build(variant: Variant) -> None:
    """Until a background build of the variant's image ends (.ci/run); fail if it failed.
    Every cell of a variant's notebook asks again: a failure, and the deadline (one for the
    session, not one per test), are remembered, so a build that never ends costs one wait."""
    import time

    named = os.environ.get(variant.pending) if variant.pending else None
    if not named:
        return
    known = _builds.setdefault(variant.image, {})
    if "failed" in known:
        pytest.fail(str(known["failed"]), pytrace=False)
    status = Path(named)
    deadline = known.setdefault("deadline", time.monotonic() + BUILD_WAIT)
    started = time.monotonic()
    while not status.exists() and time.monotonic() < deadline:
        time.sleep(5)
    log = status.with_suffix(".log")
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else ""
    if not status.exists():
        known["failed"] = (f"{variant.image}: its background build did not end within "
                           f"{BUILD_WAIT} s of the first test that needed it (log: {log})\n{tail}")
    elif status.read_text().strip() != "0":
        known["failed"] = (f"the background build of {variant.image} failed "
                           f"(status {status.read_text().strip()!r}; log: {log}):\n{tail}")
    if "failed" in known:
        pytest.fail(str(known["failed"]), pytrace=False)
    if not known.get("said"):
        known["said"] = True
        print(f"{variant.image}: waited {time.monotonic() - started:.0f} s for its build")


def go_lab_name() -> str:
    return variant_lab_name("go")


def variant_of(item: pytest.Item) -> str | None:
    """The variant a test needs: for a lesson's notebook (nbval) or one of its exercises."""
    params = item.callspec.params if hasattr(item, "callspec") else {}
    exercise = params.get("exercise")
    if exercise is None and "exercise_id" in params:  # test_exercises.py's PARTIAL cases:
        from labkit.exercises import get  # without this they ran in the course lab

        exercise = get(params["exercise_id"])
    names = {Path(str(item.path)).name, getattr(exercise, "lesson", None)}
    return next((k for k, v in VARIANTS.items() if names & v.notebooks), None)


def needs_go(item: pytest.Item) -> bool:
    return variant_of(item) == "go"


def _connect_quietly(name: str):
    from labkit import Lab
    from labkit import lab as labmod

    before = labmod._current
    live = Lab.connect(name=name)
    labmod._current = before  # the magics keep the course lab until a test activates this one
    return live


@pytest.fixture(scope="session")
def go_lab(docker_api):
    """The Go lab, connected (see variant_lab_name)."""
    return _connect_quietly(variant_lab_name("go"))


@pytest.fixture(scope="session")
def k8s_lab(docker_api):
    """The Kubernetes lab, connected (see variant_lab_name)."""
    return _connect_quietly(variant_lab_name("k8s"))


@pytest.fixture
def variant_lab_if_needed(request):
    """The variant lab this test needs (variant_of), activated for the magics; else None."""
    kind = variant_of(request.node)
    if kind is None:
        return None
    live = request.getfixturevalue(f"{kind}_lab")
    live._activate()
    return live


class VariantNotebooks:
    """nbval starts a notebook's kernel when its first cell's test is set up, right after
    pytest_runtest_setup; the kernel takes LABKIT_LAB from this process. So this names the
    variant lab for the notebooks that need one, and what it was before for the others. A
    plugin, not a hook of this file: a conftest's hooks see only the tests under its folder,
    and the notebooks are in notebooks/."""

    def __init__(self) -> None:
        self.env_lab = os.environ.get("LABKIT_LAB")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # every test puts it back, not only notebooks: a test after a Go notebook (the
        # browser test, run in that order) found the Go lab named and used it
        kind = variant_of(item) if str(item.path).endswith(".ipynb") else None
        if kind is not None:
            os.environ["LABKIT_LAB"] = variant_lab_name(kind)
        elif self.env_lab is None:
            os.environ.pop("LABKIT_LAB", None)
        else:
            os.environ["LABKIT_LAB"] = self.env_lab


def pytest_sessionfinish(session: pytest.Session) -> None:
    for known in _variant_labs.values():
        made = known.get("made")
        if made is None:
            continue
        try:
            made.remove(force=True, v=True)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - already gone, or the engine stopped: nothing to do
            pass
