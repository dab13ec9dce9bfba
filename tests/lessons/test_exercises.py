"""The lessons' exercises: every check fails with an explanation on the lesson's starting
state (for a break-and-fix challenge: after its break), passes after the solution, and the
notebooks carry each exercise's cells as docs/lessons.md describes them.

Live tests use tests/conftest.py's `lab` (LABKIT_LAB, else the course lab), reset before
each test by the `lab` marker.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from labkit import exercises as ex_mod
from labkit.authoring.build import exercise_cell_problems, merge_streams
from labkit.errors import UsageError
from labkit.exercises import CheckResult, Exercise, Progress, exercises
from labkit.exercises.lessons import lesson7, lesson10

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
ALL = exercises()


def by_id(items: list[Exercise]) -> list:
    return [pytest.param(e, id=e.id) for e in items]


# --- live: the checks against the real lab --------------------------------------------------


@pytest.fixture
def lab(request, lab, variant_lab_if_needed):
    """The course lab, or the variant lab (Go, Kubernetes) an exercise's lesson needs
    (conftest's VARIANTS); the autouse reset then resets that one."""
    return variant_lab_if_needed or lab



# One test per exercise, not one for the starting state and one for the solution: the solution
# is run on the very state the failing check saw, so the lab is reset and the exercise's start
# (for lesson 10: a whole Kubernetes cluster) is run once instead of twice. Both claims are
# still asserted, each with its own message.
@pytest.mark.lab
@pytest.mark.parametrize("exercise", by_id(ALL))
def test_check_fails_on_the_starting_state_and_passes_after_the_solution(lab, exercise: Exercise):
    if exercise.start:
        lab.run(exercise.start, check=True)
    before = exercise.run_check(lab)
    assert not before.passed, "the check passes before the learner did anything"
    assert all(len(p) > 20 for p in before.problems), before.problems
    assert "✗" in before.text() and exercise.id in before.text()

    lab.run(exercise.solution, check=True)
    after = exercise.run_check(lab)
    assert after.passed, f"the check fails after the solution: {after.text()}"
    assert after.text().startswith("✓")
    # Whatever the solution built, no route from any namespace leads out of the lab.
    seal = lab.containment()
    assert seal.contained, "\n".join(str(p) for p in seal.leaks())


# Half-done work: the explanation must name what is still missing, not just say ✗.
PARTIAL = [
    ("lesson0/first-bridge", "ip link add hello0 type bridge",
     ["does not have the address 192.0.2.1/24", "hello0 is down"]),
    ("lesson0/first-bridge", "ip link add hello0 type veth peer name hello1",
     ["it is a veth, not a bridge"]),
    ("lesson1/cable-down", "",
     ["busybox2's eth0 is up but has no carrier", "in the lab host, is down"]),
    ("lesson1/cable-down", "peer=$(docker exec busybox2 cat /sys/class/net/eth0/iflink)\n"
     "n=$(ip -o link | awk -F': ' -v n=\"$peer\" '$1 == n {print $2}' | cut -d@ -f1)\n"
     "ip link set \"$n\" nomaster\nip link set \"$n\" up",
     ["is attached to nothing: it must be a port of docker0"]),
    ("lesson1/find-the-peer", "docker run -dit --name busybox3 busybox sh",
     ["busybox3 has no eth1: connect it to a second network"]),
    ("lesson1/find-the-peer", "docker run -dit --name busybox3 busybox sh\n"
     "docker network create backend\ndocker network connect backend busybox3\n"
     "peer=$(docker exec busybox3 cat /sys/class/net/eth0/iflink)\n"
     "ip -o link | awk -F': ' -v n=\"$peer\" '$1 == n {print $2}' | cut -d@ -f1"
     " > /tmp/busybox3-peer",
     ["that is the other end of busybox3's eth0, its cable to docker0"]),
    ("lesson1/find-the-peer", "docker run -dit --name busybox3 busybox sh\n"
     "docker network create backend\ndocker network connect backend busybox3\n"
     "echo docker0 > /tmp/busybox3-peer",
     ["which is a bridge, not a veth end"]),
    ("lesson2/cable-off", "",
     ["docker0 has 2 ports for three running containers", "it is plugged into nothing"]),
    ("lesson2/cable-off", "peer=$(docker exec busybox2 cat /sys/class/net/eth0/iflink)\n"
     "n=$(ip -o link | awk -F': ' -v n=\"$peer\" '$1 == n {print $2}' | cut -d@ -f1)\n"
     "ip link set \"$n\" down\nip link set \"$n\" master docker0",
     ["is down: a port passes nothing until it is up"]),
    ("lesson2/cable-off", "ip link add br9 type bridge\n"
     "peer=$(docker exec busybox2 cat /sys/class/net/eth0/iflink)\n"
     "n=$(ip -o link | awk -F': ' -v n=\"$peer\" '$1 == n {print $2}' | cut -d@ -f1)\n"
     "ip link set \"$n\" master br9",
     ["it is a port of br9 instead"]),
    ("lesson2/which-cable", "rm -f /tmp/busybox4-cable\ndocker run -dit --name busybox4 busybox sh",
     ["/tmp/busybox4-cable does not exist yet"]),
    ("lesson2/which-cable", "docker run -dit --name busybox4 busybox sh\n"
     "bridge link | grep -o 'veth[0-9a-f]*' | head -n 1 > /tmp/busybox4-cable",
     ["that is busybox1's cable, the one the echo request comes IN by"]),
    ("lesson2/which-cable", "docker run -dit --name busybox4 busybox sh\n"
     "echo docker0 > /tmp/busybox4-cable",
     ["the bridge itself"]),
    ("lesson3/way-out", "", ["its routing table has no default route, only `172.17.0.0/16"]),
    ("lesson3/way-out", "pid=$(docker inspect -f '{{.State.Pid}}' busybox1)\n"
     "nsenter -t \"$pid\" -n ip route add default via 172.17.0.3",
     ["default route goes via 172.17.0.3, but its router is the lab host"]),
    ("lesson3/route-in", "ip -n outside route add 172.17.0.0/16 dev eth0",
     ["thinks 172.17.0.3 is on its own link"]),
    ("lesson3/route-in", "ip -n outside route add 172.17.0.0/16 via 203.0.113.1\n"
     "sysctl -qw net.ipv4.ip_forward=0",
     ["ip_forward is 0"]),
    ("lesson4/port-by-hand",
     "iptables -t nat -A PREROUTING -p tcp --dport 9090 -j DNAT --to-destination 172.17.0.2:80",
     ["from the lab host itself", "OUTPUT chain"]),
    ("lesson4/port-by-hand",
     "iptables -t nat -A PREROUTING -p tcp --dport 9090 -j DNAT --to-destination 172.17.0.2:81",
     ["sends packets to 172.17.0.2:81, but web listens on 172.17.0.2:80"]),
    ("lesson4/wrong-chain", "", ["the only DNAT rule for 8081 is in OUTPUT",
                                 "they pass the nat table's PREROUTING chain"]),
    ("lesson4/wrong-chain", "iptables -t nat -F OUTPUT",
     ["there is no DNAT rule for 8081 at all", "from the lab host itself"]),
    ("lesson5/no-masquerade", "", ["no MASQUERADE rule for 10.15.10.0/24"]),
    ("lesson5/no-masquerade", "ip -n outside route add 10.15.10.0/24 via 203.0.113.1",
     ["it stands for the internet"]),
    ("lesson5/third-namespace", "ip netns add lab-ns2",
     ["lab-ns2 exists but has no interface with an address in 10.15.10.0/24"]),
    ("lesson5/third-namespace", "ip netns add lab-ns2\n"
     "ip link add veth4 type veth peer name veth5\nip link set veth5 netns lab-ns2\n"
     "ip -n lab-ns2 addr add 10.15.10.4/24 dev veth5\nip -n lab-ns2 link set veth5 up",
     ["is veth4 in the lab host, which is not attached: attach it to lab-br0",
      "veth4, the lab host's end of the pair, is down"]),
    ("lesson7/leaked-leases", "", ["but no address in 10.15.21.0/24",
                                   "for container ids no container has"]),
    ("lesson7/leaked-leases",
     "for f in /var/lib/cni/networks/lab-br2/10.15.21.*; do rm \"$f\"; done",
     ["an ADD made the cable, then failed before an address was set"]),
    ("lesson7/clean-del", "docker rm -f lab-web3",
     ["no container has it any more", "only iptables can"]),
    ("lesson8/no-exec", "", ["permission denied", "the kernel refuses to start the plugin"]),
    ("lesson8/no-exec", "ctr --address /run/docker/containerd/containerd.sock -n lab run --rm "
     "--cni docker.io/library/busybox:latest c1 true || true\nchmod +x /opt/cni/bin/logger",
     ["containerd still holds c1 from a start that failed"]),
    ("lesson8/real-veth", "ip netns add lab-c1\ncnitool add lab-veth-1 /var/run/netns/lab-c1",
     ["lab-c1 has no eth0", "the runtime did call the plugin's ADD"]),
    ("lesson8/real-veth", "ip netns add lab-c1\nip link add h1 type veth peer name eth0 netns "
     "lab-c1\nip -n lab-c1 addr add 10.15.40.2/24 dev eth0",
     ["lab-c1's eth0 is down", "h1, the lab host's end, does not have the config's hostAddress",
      "has none for lab-c1"]),
    # the pod's one set of ports: side's server answers localhost:80 as well as web's would
    ("lesson10/pod-by-hand", "docker run -d --name pod-web k8s.gcr.io/pause:3.2\n"
     "docker run -dit --name web --net=container:pod-web busybox\n"
     "docker run -d --name side --net=container:pod-web busybox httpd -f -p 80",
     ["but web runs no web server"]),
    ("lesson10/pod-by-hand", lesson10.EXERCISES[0].solution + "docker rm -f pod-web\n"
     "docker run -d --name pod-web k8s.gcr.io/pause:3.2",
     ["web joined another container's network, a container that is gone (id ",
      "side joined another container's network"]),
    # lab-web-2 left on the default pull policy, Always for an image with no tag
    ("lesson10/port-clash", lesson10.EXERCISES[1].solution.split("kubectl rollout")[0]
     .replace("        imagePullPolicy: Never\n        command:", "        command:")
     + "sleep 20",
     ["lab-web-2 has no image (", "the lab has no registry", "kubectl describe pod test-pod-"]),
]


@pytest.mark.lab
@pytest.mark.parametrize(("exercise_id", "commands", "expected"),
                         [pytest.param(*p, id=f"{p[0]}-{i}") for i, p in enumerate(PARTIAL)])
def test_check_names_what_is_still_missing(lab, exercise_id, commands, expected):
    exercise = ex_mod.get(exercise_id)
    if exercise.start:
        lab.run(exercise.start, check=True)
    if commands:  # "": the start state itself
        lab.run(commands, check=True)
    text = exercise.run_check(lab).text()
    for words in expected:
        assert words in text


#: lesson 7 up to its last exercise without the cell before it (lab-web3's): the lesson's
#: lab-web plugged into lab-br1 and taken off again cleanly, so lab-br1 holds nothing
LESSON7_WITHOUT_WEB3 = (
    lesson7.LAB_BR1 + lesson7.web_run("lab-web") + " > /dev/null\n"
    + lesson7.add("lab-web", "/root/lab-br1.conf") + " > /dev/null\n"
    + lesson7.add("lab-web", "/root/lab-br1.conf").replace("ADD", "DEL") + "\n"
    + "docker rm -f lab-web > /dev/null\n")


@pytest.mark.lab
def test_lesson7_clean_del_fails_when_the_cell_before_it_was_skipped(lab):
    """Nothing of lab-web3 left is also what a lab where it never was looks like: the check
    must say the cell was skipped, not pass."""
    lab.run(LESSON7_WITHOUT_WEB3, check=True)
    result = ex_mod.get("lesson7/clean-del").run_check(lab)
    assert not result.passed
    assert "nothing shows that lab-web3 was ever plugged into lab-br1" in result.text()


# --- pure: the exercise data, hints, solutions, notebooks ------------------------------------


@pytest.mark.parametrize("exercise", by_id(ALL))
def test_exercise_has_hints_a_solution_and_its_lesson(exercise: Exercise):
    assert exercise.hints and all(h.strip() for h in exercise.hints)
    assert exercise.solution.strip() and exercise.task.strip() and exercise.title
    assert (NOTEBOOKS / exercise.lesson).exists()


def test_every_lesson_has_an_exercise():
    lessons = {e.lesson for e in ALL}
    assert lessons == {p.name for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")}


def test_lessons_1_to_5_have_a_break_and_fix_challenge_first():
    for n in (1, 2, 3, 4, 5):
        mine = [e for e in ALL if e.lesson.startswith(f"0{n}-")]
        assert mine[0].breaks.strip() and not any(e.breaks for e in mine[1:]), n
        assert mine[0].start == mine[0].setup + mine[0].breaks


@pytest.mark.parametrize("exercise", by_id([e for e in ALL if e.breaks]))
def test_the_break_cell_is_in_the_notebook_just_before_the_challenge(exercise: Exercise):
    """The notebook breaks the lab with exactly the commands the tests break it with, in a
    %%lab cell right before the challenge's task; no diagram after it (it would show what
    broke)."""
    nb = nbformat.read(NOTEBOOKS / exercise.lesson, as_version=4)
    task = next(i for i, c in enumerate(nb.cells)
                if c.metadata.get("labkit", {}) == {"role": "exercise", "exercise": exercise.id})
    cell = nb.cells[task - 1]
    head, _, body = cell.source.partition("\n")
    assert head == "%%lab --no-draw" and body.strip() == exercise.breaks.strip()


def test_hints_come_one_at_a_time(capsys, monkeypatch):
    monkeypatch.setattr(ex_mod, "progress", Progress())
    exercise = ALL[0]
    ex_mod.progress.record_check(exercise, False)  # hints open after a failed check
    for n in range(1, len(exercise.hints) + 1):
        ex_mod.hint(exercise.id)
        assert capsys.readouterr().out.startswith(f"Hint {n} of {len(exercise.hints)}: ")
    ex_mod.hint(exercise.id)
    assert "No more hints" in capsys.readouterr().out


def test_solution_prints_the_commands(capsys, monkeypatch):
    monkeypatch.setattr(ex_mod, "progress", Progress())
    exercise = ALL[-1]
    ex_mod.solution(exercise.id, give_up=True)
    out = capsys.readouterr().out
    assert out.startswith("%%lab\n") and exercise.solution.strip() in out


def test_unknown_exercise_lists_the_known_ones():
    with pytest.raises(UsageError, match="must be one of .*lesson5/third-namespace"):
        ex_mod.get("lesson9/nope")


def test_check_result_text():
    exercise = ALL[0]
    failed = CheckResult(exercise, ("a thing is missing",))
    assert not failed and "  - a thing is missing" in failed.text()
    assert f'hint("{exercise.id}")' in failed.text()
    assert CheckResult(exercise, ()).passed


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")), ids=lambda p: p.name)
def test_notebook_exercise_cells(path: Path):
    """Anatomy (docs/lessons.md): reset first; then for each exercise, in this order: the
    task, a your-turn cell of comments only, a check, the hidden solution, the check again."""
    nb = nbformat.read(path, as_version=4)
    assert exercise_cell_problems(nb) == []
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "Lab.connect()" in first_code.source and "lab.reset()" in first_code.source
    roles = [(c.metadata.get("labkit", {}).get("role"), c) for c in nb.cells
             if c.metadata.get("labkit", {}).get("role")]
    ids = {c.metadata["labkit"]["exercise"] for _, c in roles}
    assert ids == set(nb.metadata["labkit"]["exercises"]) and ids
    order = [role for role, _ in roles]
    assert order == ["exercise", "your-turn", "check", "solution", "check-solution"] * len(ids)
    for role, cell in roles:
        if role == "your-turn":
            body = cell.source.splitlines()[1:]
            assert cell.source.startswith("%%lab") and all(x.startswith("#") for x in body)
        if role == "solution":
            assert "solution" in cell.metadata.get("tags", [])
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True
        if role == "check":
            out = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
            assert out.startswith("✗"), "the stored check must show the starting state's ✗"
        if role == "check-solution":
            out = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
            assert out.startswith("✓"), "the stored check after the solution must show ✓"


def test_merge_streams_joins_neighbours_of_the_same_stream():
    outs = [nbformat.v4.new_output("stream", name="stdout", text="a"),
            nbformat.v4.new_output("stream", name="stdout", text="b\n"),
            nbformat.v4.new_output("stream", name="stderr", text="e\n"),
            nbformat.v4.new_output("stream", name="stdout", text="c\n")]
    merged = merge_streams(outs)
    assert [(o.name, o.text) for o in merged] == [("stdout", "ab\n"), ("stderr", "e\n"),
                                                 ("stdout", "c\n")]
