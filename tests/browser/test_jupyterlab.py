"""A learner's session, end to end, in a real browser: the course's JupyterLab (the `jupyter`
service of docker-compose.yml, as `docker compose up` starts it), headless Chromium driven by
Playwright, a lesson run with "Run All Cells": lesson 1, the CNI lessons 6-8 (the Docker
lab) and 9 (the Go lab, tests/conftest.py's go_lab: its copy names that lab first), and
lessons 12, Services with the Services drawing, and 14, Ingress with nginx's routes (the
Kubernetes lab, k8s_lab, named the same way; their copies stop before the cleanup, which
would take the cluster down before the click).

Asserted for each: every cell ran without a traceback, the diagrams render as SVG in the
page (an inline <svg> or an <img src="data:image/svg+xml...">, JupyterLab uses either) and
fit their output's width (1500 and 1000 px windows), and the lesson's last exercise's check
widget says ✗ on the starting state and ✓ after the solution ran. Screenshots go to
artifacts/browser/ (kept by CI as test artifacts), with the timings of each lesson.

The browser runs a COPY of the lesson, uploaded through JupyterLab's contents API into a
temporary folder of the course and removed afterwards: the lessons in notebooks/ are never
touched. The lab is the course lab (or $LABKIT_LAB: then JupyterLab is started as its own
compose project, `labkit-browser`, so a course running on this machine is left alone).

Needs Debian's chromium (`apt-get install chromium`) and `pip install playwright` (never
`playwright install`: browser downloads fail here). Missing, they fail the run in CI and skip
the test elsewhere.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from labkit.exercises import get as get_exercise
from labkit.hosts import compose

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = Path(__file__).parents[2]
NOTEBOOKS = ROOT / "notebooks"
#: lesson -> (the exercise whose widget is clicked, a word its ✗ must name, or ""): lesson 1's
#: find-the-peer, and each CNI lesson's last exercise (after Run All its solution ran last, so
#: the click must give ✓)
LESSONS = {
    "01-docker0.ipynb": ("lesson1/find-the-peer", "busybox3"),
    "06-cni-by-hand.ipynb": ("lesson6/second-network", "lab-ns"),
    "07-cni-docker.ipynb": ("lesson7/clean-del", "lab-web3"),
    "08-cni-bash.ipynb": ("lesson8/real-veth", "lab-c1"),
    "09-cni-go.ipynb": ("lesson9/del", ""),
    "12-services-dns.ipynb": ("lesson12/no-endpoints", "tier=front"),
    "14-ingress.ipynb": ("lesson14/wrong-backend", "no such port"),
}
#: the lessons run in another lab than the everyday one: the fixture of tests/conftest.py
#: that gives it (GO_NOTEBOOKS, K8S_NOTEBOOKS there)
VARIANT_LABS = {"09-cni-go.ipynb": "go_lab", "12-services-dns.ipynb": "k8s_lab",
                "14-ingress.ipynb": "k8s_lab"}
#: lessons whose last cells take down what the check reads (lesson 12: `k8s-lab down`): the
#: copy ends with the cell that runs the solution's check
ENDS_AT_SOLUTION = {"12-services-dns.ipynb", "14-ingress.ipynb"}
ARTIFACTS = ROOT / "artifacts" / "browser"
PORT = os.environ.get("LABKIT_BROWSER_PORT", "18899")  # not 8888 (a learner's) nor 18888
CHROMIUM = "/usr/bin/chromium"
# From docs/machine-facts: what lets Debian's chromium run headless here, and stay offline.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RUN_ALL_TIMEOUT = 420  # s; lesson 1 takes about a minute on a 2-core machine, 6-9 less


def _need(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the browser test needs {what} in CI", pytrace=False)
    pytest.skip(f"needs {what}")


@pytest.fixture(scope="module")
def playwright_api():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("the playwright package (pip install playwright; never `playwright install`)")
    if not Path(CHROMIUM).exists():
        _need(f"Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        yield p


def _request(method: str, url: str, body: dict | None = None, timeout: float = 15) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        text = response.read().decode()
    return json.loads(text) if text else {}


def _compose_for_browser(token: str) -> tuple[list[str], dict[str, str]]:
    """The compose command line (and environment) that starts the course's JupyterLab.

    The course lab: the `labkit` project, as `docker compose up` starts it. A helper lab
    ($LABKIT_LAB): its own project and subnet, and the name passed to the kernel."""
    env = {**os.environ, "JUPYTER_TOKEN": token, "JUPYTER_PORT": PORT}
    argv = [*compose.compose_command(), "-f", "docker-compose.yml"]
    helper = os.environ.get("LABKIT_LAB")
    if helper:
        # Behind the Docker filter a lab is found by its label or its full id: a helper
        # lab's label is not the course's, so the kernel gets the id.
        helper = _full_id(helper)
        override = Path(tempfile.mkdtemp(prefix="labkit-browser-")) / "helper-lab.yml"
        # LABKIT_JUPYTER_IMAGE: a helper's own build of the image (its labkit)
        image = os.environ.get("LABKIT_JUPYTER_IMAGE")
        override.write_text("services:\n  jupyter:\n"
                            + (f"    image: {json.dumps(image)}\n" if image else "")
                            + "    environment:\n"
                            f"      LABKIT_LAB: {json.dumps(helper)}\n")
        # (LABKIT_BROWSER_PROJECT: two helpers' runs on one machine)
        project = os.environ.get("LABKIT_BROWSER_PROJECT", "labkit-browser")
        argv = [*argv, "-f", str(override), "-p", project]
        env["LAB_SUBNET"] = os.environ.get("LABKIT_BROWSER_SUBNET", "10.216.45.0/24")
    return argv, env


def _full_id(name: str) -> str:
    """A container's full id (what the Docker filter lets the kernel inspect)."""
    found = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True,
                           text=True, check=False)
    return found.stdout.strip() or name


@pytest.fixture(scope="module")
def course(lab):
    """JupyterLab from docker-compose.yml on 127.0.0.1:PORT with a fresh token."""
    token = secrets.token_hex(16)
    argv, env = _compose_for_browser(token)
    started = time.monotonic()
    # --no-deps: the lab is the fixture's; JupyterLab's own way to Docker is the filter.
    up = subprocess.run([*argv, "up", "-d", "--no-deps", "docker-filter", "jupyter"], cwd=ROOT,
                        env=env,
                        capture_output=True, text=True, check=False)
    assert up.returncode == 0, up.stderr[-2000:]
    base = f"http://127.0.0.1:{PORT}"
    for _ in range(120):
        try:
            _request("GET", f"{base}/api/status?token={token}", timeout=3)
            break
        except (OSError, urllib.error.URLError):
            time.sleep(0.5)
    else:
        logs = subprocess.run([*argv, "logs", "--tail", "40", "jupyter"], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=False)
        pytest.fail(f"JupyterLab did not answer on {base}:\n{logs.stdout[-3000:]}")
    # The image must hold this checkout's labkit (CI builds it; `docker-compose build jupyter`).
    probe = subprocess.run([*argv, "exec", "-T", "jupyter", "python", "-c",
                            "import labkit.widgets"], cwd=ROOT, env=env, capture_output=True,
                           text=True, check=False)
    assert probe.returncode == 0, ("the JupyterLab image has no labkit.widgets: rebuild it "
                                   f"(docker-compose build jupyter)\n{probe.stderr[-800:]}")
    yield base, token, time.monotonic() - started
    subprocess.run([*argv, "rm", "-sf", "jupyter", "docker-filter"], cwd=ROOT, env=env,
                   capture_output=True, check=False)


def lesson_copy(lesson: str, variant_lab: str | None = None) -> dict:
    """The lesson without its stored outputs (the page must show what this run drew), with the
    check cell as the check widget unless the lesson has one already. `variant_lab`: a first
    cell names it (its full id) for the kernel, as nbval's run of a Go or Kubernetes lesson
    does with LABKIT_LAB (the kernel of this JupyterLab was started with the everyday lab's).
    A lesson of ENDS_AT_SOLUTION ends with its check-solution cell."""
    nb = copy.deepcopy(json.loads((NOTEBOOKS / lesson).read_text()))
    if lesson in ENDS_AT_SOLUTION:
        roles = [c.get("metadata", {}).get("labkit", {}).get("role") for c in nb["cells"]]
        nb["cells"] = nb["cells"][:len(roles) - roles[::-1].index("check-solution")]
    exercise = LESSONS[lesson][0]
    has_widget = any("exercise_widget(" in "".join(c.get("source", "")) for c in nb["cells"])
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        role = cell.get("metadata", {}).get("labkit", {}).get("role")
        if role == "check" and not has_widget:
            cell["source"] = ("from labkit.widgets import exercise_widget\n\n"
                              f'exercise_widget("{exercise}")')
    nb.get("metadata", {}).pop("widgets", None)
    if variant_lab:
        name = json.dumps(_full_id(variant_lab))
        nb["cells"].insert(0, {"cell_type": "code", "metadata": {}, "outputs": [],
                               "execution_count": None,
                               "source": f"import os\nos.environ['LABKIT_LAB'] = {name}"})
    return nb


@pytest.fixture
def uploaded(course, request):
    """The copy of the test's lesson, in a temporary folder of the course (its own progress
    file lands there); a Go or Kubernetes lesson's copy names its lab."""
    base, token, _ = course
    lesson = request.node.callspec.params["lesson"]
    variant = None
    if lesson in VARIANT_LABS:
        other = request.getfixturevalue(VARIANT_LABS[lesson])
        other.reset()  # the `lab` marker reset the everyday lab
        variant = other.name
    folder = f"browser-test-{secrets.token_hex(4)}"
    _request("PUT", f"{base}/api/contents/{folder}?token={token}", {"type": "directory"})
    path = f"{folder}/{lesson}"
    _request("PUT", f"{base}/api/contents/{path}?token={token}",
             {"type": "notebook", "format": "json", "content": lesson_copy(lesson, variant)})
    yield path
    # Not the contents API's DELETE: JupyterLab moves deleted files to notebooks/.Trash-UID.
    # The course folder is notebooks/ on this machine (a bind mount), so remove the folder
    # here, with what the kernel left in it (the progress file, checkpoints).
    shutil.rmtree(ROOT / "notebooks" / folder, ignore_errors=True)


def _dismiss_news(page) -> None:
    """JupyterLab 4 asks whether to fetch Jupyter news; say no, so it covers nothing."""
    for name in ("No", "Dismiss"):
        button = page.locator(".jp-toast-button, .jp-Notification-Toast-button, "
                              ".Toastify__toast button").filter(has_text=name)
        if button.count():
            button.first.click()
            return


def _run_all(page) -> None:
    """Run > Run All Cells, and make sure it took: on a loaded machine a click that opened the
    menu while JupyterLab was still settling once queued nothing (every prompt stayed
    `[ ]:` for 7 minutes). Tried a second time if no cell started within 30 s."""
    for _attempt in (1, 2):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(p not in ("", "[ ]:", "[]:") for p in page.evaluate(PROMPTS)):
                return
            time.sleep(0.5)
        page.keyboard.press("Escape")  # a menu left open
    raise AssertionError("Run All Cells started no cell, twice (30 s each)")


PROMPTS = """() => Array.from(document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt'))
    .map(p => p.textContent.trim())"""


_DIAGRAMS = ("Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
             ".jp-OutputArea-output img[src^=\"data:image/svg+xml\"], "
             ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output svg'))")
# Every diagram's image has loaded (an <img> not yet decoded has no size to measure).
DIAGRAMS_LOADED = f"() => {_DIAGRAMS}.every(e => e.tagName !== 'IMG' || e.complete)"
# The diagrams whose box leaves their output area, or that make it scroll sideways (the
# drawing scales to the output's width: labkit.draw.svg.fit_width). Outputs scrolled out of
# view are measured too: their boxes are laid out all the same.
DIAGRAMS_OUTSIDE_THEIR_AREA = f"""() => {_DIAGRAMS}.map((e, i) => {{
    const area = e.closest('.jp-OutputArea-output');
    const a = area.getBoundingClientRect(), b = e.getBoundingClientRect();
    const bad = b.width <= 0 || b.left < a.left - 1 || b.right > a.right + 1
        || area.scrollWidth > area.clientWidth + 1;
    return bad ? `diagram ${{i}}: ${{Math.round(b.left)}}..${{Math.round(b.right)}} px in `
        + `${{Math.round(a.left)}}..${{Math.round(a.right)}} (scroll ${{area.scrollWidth}}/`
        + `${{area.clientWidth}})` : null;
}}).filter(x => x)"""


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_lesson_runs_in_the_browser(playwright_api, course, uploaded, lesson):
    base, token, startup = course
    exercise, named = LESSONS[lesson]
    hints = len(get_exercise(exercise).hints)
    stem = lesson.split("-")[0]  # screenshots: 01-first-diagram.png, 06-first-diagram.png
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser = playwright_api.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    timings = {"jupyterlab start": startup}
    try:
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        t0 = time.monotonic()
        page.goto(f"{base}/lab/tree/{uploaded}?token={token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
        # The kernel starts with the notebook: wait for it before running.
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                               "#jp-main-statusbar :text('Idle')", timeout=90_000)
        timings["open notebook"] = time.monotonic() - t0
        _dismiss_news(page)

        t0 = time.monotonic()
        _run_all(page)
        deadline = time.monotonic() + RUN_ALL_TIMEOUT
        while True:
            prompts = page.evaluate(PROMPTS)
            # A cell whose source is hidden (the solution) shows an empty prompt.
            busy = [p for p in prompts if "*" in p or p in ("[ ]:", "[]:")]
            if prompts and not busy and prompts[-1].startswith("[") and any(prompts):
                break
            assert time.monotonic() < deadline, f"Run All did not finish: {prompts}"
            time.sleep(1)
        timings["run all"] = time.monotonic() - t0
        _dismiss_news(page)
        errors = page.locator(".jp-OutputArea-output[data-mime-type="
                              "'application/vnd.jupyter.stderr'] :text('Traceback')")
        assert errors.count() == 0, "a cell raised an exception"

        svg = page.locator(".jp-OutputArea-output img[src^='data:image/svg+xml'], "
                           ".jp-OutputArea-output svg")
        assert svg.count() >= 3, f"only {svg.count()} diagrams rendered as SVG"
        for width in (1500, 1000):  # the test's window, then a notebook 1000 px wide
            page.set_viewport_size({"width": width, "height": 1000})
            page.wait_for_function(DIAGRAMS_LOADED, timeout=30_000)
            overflow = page.evaluate(DIAGRAMS_OUTSIDE_THEIR_AREA)
            assert not overflow, f"at {width} px, diagrams wider than their output: {overflow}"
        svg.first.scroll_into_view_if_needed()
        svg.first.screenshot(path=str(ARTIFACTS / f"{stem}-first-diagram.png"))

        widget = page.locator(".labkit-exercise", has_text=exercise).first  # a lesson has two
        widget.wait_for(timeout=30_000)
        result = widget.locator(".labkit-result")
        widget.scroll_into_view_if_needed()
        page.wait_for_function("el => /[✓✗]/.test(el.innerText)", arg=result.element_handle(),
                               timeout=30_000)  # the view fills in after the model arrives
        # Displayed before the solution cell ran: the starting state, so ✗ and why.
        assert result.inner_text().lstrip().startswith("✗"), result.inner_text()
        assert named in result.inner_text()
        widget.screenshot(path=str(ARTIFACTS / f"{stem}-check-before.png"))

        t0 = time.monotonic()
        widget.get_by_role("button", name="Check").click()
        page.wait_for_function(
            "el => el.innerText.trim().startsWith('✓')", arg=result.element_handle(),
            timeout=60_000)
        timings["check click → ✓"] = time.monotonic() - t0
        widget.get_by_role("button", name=f"Hint 1 of {hints}").click()
        widget.locator("ol li").first.wait_for(timeout=10_000)
        widget.screenshot(path=str(ARTIFACTS / f"{stem}-check-after-solution.png"))
        page.screenshot(path=str(ARTIFACTS / f"{stem}-page.png"))
    finally:
        browser.close()
        _record_timings(lesson, timings)


def _record_timings(lesson: str, timings: dict[str, float]) -> None:
    """artifacts/browser/timings.json: {lesson: {step: seconds}}, this run's lessons."""
    path = ARTIFACTS / "timings.json"
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    known = {k: v for k, v in known.items() if k in LESSONS}  # the old flat format goes
    known[lesson] = {k: round(v, 1) for k, v in timings.items()}
    path.write_text(json.dumps(known, indent=1) + "\n")
