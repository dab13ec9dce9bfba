"""Fixtures for the live-mode tests: a real non-root learner on this machine.

`learner` (session) creates the user `labkit-learner` when missing (needs root: CI and this
machine run tests as root), copies labkit, driver.py and jail.py where that user can read them,
and runs steps as that user the way Binder runs a notebook: no_new_privs, no supplementary
groups (so no docker group and no Docker socket), a clean environment. `jail=` adds a seccomp
filter that takes mount(2) ("nomount") or user namespaces ("nouserns") away.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

USER = "labkit-learner"
HERE = Path(__file__).parent
REPO = HERE.parent.parent
PYTHON = "/usr/bin/python3"  # the system one: root's pyenv is not readable by the learner


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "rootless: runs as a non-root user created by the test (needs root to "
        "create it); reproduces live modes 2-4")


class Learner:
    def __init__(self, home: str, code: Path) -> None:
        self.home = home
        self.code = code

    def argv(self, argv: list[str], jail: str | None = None) -> list[str]:
        inner = [PYTHON, str(self.code / "jail.py"), jail, "--", *argv] if jail else argv
        return ["setpriv", "--reuid", USER, "--regid", USER, "--clear-groups", "--nnp",
                "--reset-env", "env", f"PYTHONPATH={self.code}",
                "PATH=/usr/local/bin:/usr/bin:/bin", *inner]

    def sh(self, argv: list[str], jail: str | None = None, timeout: float = 120,
           **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(argv, jail), capture_output=True, text=True,
                              timeout=timeout, cwd=self.home, **kwargs)

    def steps(self, steps: list[dict], jail: str | None = None, timeout: float = 300
              ) -> list[dict]:
        done = self.sh([PYTHON, str(self.code / "driver.py"), json.dumps(steps)], jail,
                       timeout=timeout)
        assert done.returncode == 0, f"driver failed:\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def learner():
    if os.geteuid() != 0:
        msg = "creating the non-root learner needs root"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    for tool in ("setpriv", "useradd", "unshare", "nsenter", PYTHON):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing (util-linux, passwd, python3)", pytrace=False)
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", USER], check=True)
    home = pwd.getpwnam(USER).pw_dir
    code = Path(tempfile.mkdtemp(prefix="labkit-learner-code-"))
    shutil.copytree(REPO / "labkit", code / "labkit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("driver.py", "jail.py"):
        shutil.copy(HERE / name, code / name)
    subprocess.run(["chmod", "-R", "a+rX", str(code)], check=True)
    who = Learner(home, code)
    # One test session at a time drives the learner (two would stop each other's labs).
    with open(f"/tmp/{USER}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield who
        who.steps([{"stop": None}])
    shutil.rmtree(code, ignore_errors=True)
