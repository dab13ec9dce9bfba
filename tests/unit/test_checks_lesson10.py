"""Lesson 10's pure verdicts on kubectl's containerStatuses and `docker top` (the checks
themselves are replayed on real recordings in test_checks_replay.py; these are the states a
recording catches only by luck of timing: a container between ContainerCreating and running,
an image pull backing off)."""

from __future__ import annotations

import json

from labkit.exercises.lessons.lesson10 import container_problem, runs_httpd

POD = "test-pod-6cf6b4fdff-bc8nk"


def status(name: str, ready: bool = False, **state) -> dict:
    return {"name": name, "ready": ready, "image": "lab-web:latest", "state": state}


def test_a_ready_container_has_no_problem():
    assert container_problem(status("lab-web", ready=True, running={}), POD) is None


def test_a_container_being_made_is_still_starting_not_broken():
    for s in (status("lab-web-2", waiting={"reason": "ContainerCreating"}),
              {"name": "lab-web-2", "ready": False}):  # no state reported yet
        text = container_problem(s, POD)
        assert text.startswith("lab-web-2 is still starting")
        assert "run the check again in a few seconds" in text and "kubectl logs" not in text


def test_an_image_the_node_cannot_get_is_the_missing_registry():
    for reason in ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"):
        text = container_problem(status("lab-web-2", waiting={"reason": reason}), POD)
        assert text.startswith(f"lab-web-2 has no image ({reason}, image lab-web:latest)")
        assert "the lab has no registry" in text and "`imagePullPolicy: Never`" in text
        assert f"`kubectl describe pod {POD}` shows the event" in text


def test_a_crashing_container_points_at_its_logs():
    s = status("lab-web-2", waiting={"reason": "CrashLoopBackOff"})
    assert container_problem(s, POD) == (
        f"lab-web-2 is not ready (CrashLoopBackOff): `kubectl logs {POD} -c lab-web-2` says why")


def test_docker_top_lists_a_busybox_httpd_or_not():
    header = "UID  PID  PPID  C  STIME  TTY  TIME  CMD\n"
    assert runs_httpd(header + "root 1 0 0 00:40 ? 00:00:00 httpd -f -p 80\n")
    assert runs_httpd(header + "root 1 0 0 00:40 ? 00:00:00 /bin/httpd -f -p 80\n")
    assert not runs_httpd(header + "root 1 0 0 00:40 pts/0 00:00:00 sh\n")
    assert not runs_httpd("")
    # a server in web on another port is not the one side reached on :80
    assert not runs_httpd(header + "root 1 0 0 00:40 ? 00:00:00 httpd -f -p 8080\n")
    assert runs_httpd(header + "root 1 0 0 00:40 ? 00:00:00 busybox httpd -f\n")
    assert runs_httpd(header + "root 1 0 0 00:40 ? 00:00:00 httpd -f -p 0.0.0.0:80 -h /www\n")


class _Answers:
    """A lab that answers the check's two kubectl questions (the replayed recordings
    catch a pod already being made; this is the moment before, no containerStatuses)."""

    def __init__(self, pods: dict) -> None:
        self.pods = pods

    def run(self, command: str, **kwargs):
        from labkit.result import Result

        if command == "command -v kubectl":
            return Result(command, "/usr/bin/kubectl\n", "", 0, 0.0, False)
        assert command == "kubectl get pods -l app=lab-web -o json", command
        return Result(command, json.dumps(self.pods), "", 0, 0.0, False)


def test_a_pod_with_no_container_statuses_yet_is_still_starting():
    from labkit.exercises.lessons.lesson10 import check_port_clash

    pod = {"metadata": {"name": POD, "creationTimestamp": "2026-12-02T01:00:00Z"},
           "spec": {"containers": [{"name": "lab-web"}, {"name": "lab-web-2"}]},
           "status": {"phase": "Pending"}}
    assert check_port_clash(_Answers({"items": [pod]})) == [
        f"{POD} is still starting (Pending, no container yet): run the check again in a few "
        "seconds"]
