"""locate: reading `docker inspect` answers and choosing among labs (pure)."""

from __future__ import annotations

from labkit.hosts.locate import LabContainer, choose, from_inspect


def inspect_json(*, name="/labkit_dind_1", status="running", health="healthy",
                 project="labkit", created="2024-01-01T00:00:00Z", cid="abc123") -> dict:
    state = {"Status": status, "Running": status == "running"}
    if health is not None:
        state["Health"] = {"Status": health, "FailingStreak": 0, "Log": []}
    labels = {"org.labkit.role": "lab"}
    if project:
        labels["com.docker.compose.project"] = project
    return {"Id": cid, "Name": name, "State": state, "Created": created,
            "Config": {"Labels": labels, "Image": "labkit-lab:latest"}}


def test_from_inspect_fields():
    lab = from_inspect(inspect_json())
    assert lab == LabContainer(id="abc123", name="labkit_dind_1", status="running",
                               health="healthy", project="labkit",
                               created="2024-01-01T00:00:00Z")
    assert lab.running and lab.ready and lab.state == "ready"


def test_from_inspect_starting_and_unhealthy():
    assert from_inspect(inspect_json(health="starting")).state == "starting"
    assert not from_inspect(inspect_json(health="starting")).ready
    assert from_inspect(inspect_json(health="unhealthy")).state == "unhealthy"


def test_from_inspect_stopped():
    lab = from_inspect(inspect_json(status="exited", health="unhealthy"))
    assert not lab.running and not lab.ready and lab.state == "stopped"


def test_from_inspect_without_healthcheck_or_labels():
    attrs = {"Id": "x", "Name": "/plain", "State": {"Status": "running"},
             "Config": {"Labels": None}}
    lab = from_inspect(attrs)
    assert lab.health is None and lab.project is None and lab.created == ""
    assert lab.running and not lab.ready and lab.state == "starting"


def test_from_inspect_minimal():
    lab = from_inspect({"Id": "only-id"})
    assert lab.id == "only-id" and lab.name == "" and lab.status == "unknown"


def lc(name, *, project="labkit", status="running", created="2024-01-01"):
    return LabContainer(id=name, name=name, status=status, health="healthy",
                        project=project, created=created)


def test_choose_none():
    assert choose([]) is None


def test_choose_prefers_the_project():
    ours, other = lc("ours", created="2020"), lc("other", project="x", created="2030")
    assert choose([other, ours], "labkit") is ours


def test_choose_then_running():
    stopped = lc("stopped", status="exited", created="2030")
    running = lc("running", created="2020")
    assert choose([stopped, running], "labkit") is running


def test_choose_then_newest():
    old, new = lc("old", created="2020-01-01"), lc("new", created="2024-06-01")
    assert choose([old, new], "labkit") is new
    assert choose([new, old], "labkit") is new


def test_choose_without_project_match():
    a, b = lc("a", project=None, created="2021"), lc("b", project="p", created="2022")
    assert choose([a, b], "labkit") is b
