"""labkit.exercises' API (check, hint, solution, the registry) and the read-only helpers the
checks share (lessons/_lab.py), on a scripted fake lab: the corners the recorded real-lab
answers (test_checks_replay.py) do not reach."""

from __future__ import annotations

import pytest

from labkit import exercises
from labkit.errors import UsageError
from labkit.exercises import CheckResult, Exercise, Progress
from labkit.exercises.lessons import _lab
from labkit.result import Result


class ScriptedLab:
    """`run` answers from a dict: command -> (exit code, stdout); anything else exits 1."""

    def __init__(self, answers: dict[str, tuple[int, str]] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[tuple[str, dict]] = []

    def run(self, command: str, **kwargs) -> Result:
        self.asked.append((command, kwargs))
        code, out = self.answers.get(command, (1, ""))
        return Result(command, out, "", code, 0.0)


def exercise(problems: list[str], hints: tuple[str, ...] = ("one", "two")) -> Exercise:
    return Exercise(id="t/x", title="A test", lesson="t.ipynb", task="do it",
                    check=lambda lab: list(problems), hints=hints, solution="echo done\n")


# -- results and progress --------------------------------------------------------------------

def test_a_passing_result_is_truthy_and_says_done():
    result = exercise([]).run_check(ScriptedLab())
    assert result and result.passed and str(result) == "✓ t/x: A test — done, every check passes."


def test_a_failing_result_lists_each_problem_and_points_at_hint():
    result = exercise(["a is missing", "b is down"]).run_check(ScriptedLab())
    assert not result
    assert str(result).splitlines() == [
        "✗ t/x: A test — not yet:", "  - a is missing", "  - b is down",
        'Stuck? hint("t/x") shows one hint at a time.']


def test_ipython_shows_the_text():
    shown = []

    class Printer:
        def text(self, s):
            shown.append(s)

    CheckResult(exercise([]), ())._repr_pretty_(Printer(), False)
    assert shown == ["✓ t/x: A test — done, every check passes."]


def test_progress_gives_hints_one_at_a_time_then_none_and_forgets():
    ex, progress = exercise([]), Progress()
    assert progress.next_hint(ex) is None  # not before a failed check
    progress.record_check(ex, False)
    assert [progress.next_hint(ex), progress.next_hint(ex), progress.next_hint(ex)] == [
        (1, "one"), (2, "two"), None]
    progress.forget("t/x")
    assert progress.next_hint(ex) is None and progress.failed == {}
    progress.record_check(ex, False)
    assert progress.next_hint(ex) == (1, "one")
    progress.forget()
    assert progress.hints_shown == {}


# -- the registry and the notebook functions -------------------------------------------------

def test_every_lesson_module_is_found_in_lesson_order():
    ids = [e.id for e in exercises.exercises()]
    assert ids[:11] == ["lesson0/first-bridge", "lesson1/cable-down", "lesson1/find-the-peer",
                        "lesson2/cable-off", "lesson2/which-cable", "lesson3/way-out",
                        "lesson3/route-in", "lesson4/wrong-chain", "lesson4/port-by-hand",
                        "lesson5/no-masquerade", "lesson5/third-namespace"]
    assert [e.id for e in exercises.exercises("03-way-out.ipynb")] == [
        "lesson3/way-out", "lesson3/route-in"]
    assert exercises._lesson_order("lesson10") > exercises._lesson_order("lesson9")
    assert exercises._lesson_order("extra") > exercises._lesson_order("lesson99")


def test_an_unknown_id_names_the_ones_that_exist():
    with pytest.raises(UsageError, match=r"unknown exercise 'nope' \(must be one of \[lesson0"):
        exercises.get("nope")


def test_forget_finds_the_modules_again():
    before = exercises.exercises()
    exercises.forget()
    assert exercises._registry is None
    assert exercises.exercises() == before


def test_check_runs_against_the_given_lab_and_tells_progress(monkeypatch):
    told = []
    monkeypatch.setattr(exercises.progress, "record_check",
                        lambda ex, passed: told.append((ex.id, passed)))
    lab = ScriptedLab({"ip -j -d link show": (0, "[]")})
    result = exercises.check("lesson0/first-bridge", lab)
    assert not result and "no interface named hello0" in result.problems[0]
    assert told == [("lesson0/first-bridge", False)]


def test_hint_prints_the_next_then_says_there_are_no_more(monkeypatch, capsys):
    monkeypatch.setattr(exercises, "progress", Progress())
    exercises.progress.record_check(exercises.get("lesson3/route-in"), False)
    for _ in range(4):
        exercises.hint("lesson3/route-in")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Hint 1 of 3: Ask the outside host")
    assert out[2].startswith("Hint 3 of 3: `ip -n outside route add 172.17.0.0/16 via")
    assert out[3] == ('No more hints: all 3 were shown. solution("lesson3/route-in") prints '
                      "the solution.")


def test_solution_prints_a_lab_cell(capsys, monkeypatch):
    monkeypatch.setattr(exercises, "progress", Progress())
    exercises.solution("lesson0/first-bridge", give_up=True)
    assert capsys.readouterr().out == (
        "%%lab\nip link add hello0 type bridge\nip addr add 192.0.2.1/24 dev hello0\n"
        "ip link set hello0 up\nip addr show hello0\n")


# -- the helpers -----------------------------------------------------------------------------

def test_ip_reads_nothing_from_a_failed_or_garbled_command():
    assert _lab.links(ScriptedLab()) == []  # `ip` failed
    assert _lab.links(ScriptedLab({"ip -j -d link show": (0, "not json")})) == []
    assert _lab.ipv4(ScriptedLab({"ip -n lab-ns0 -j -4 addr show": (0, "")}), ns="lab-ns0") == {}


def test_a_container_that_is_not_running_has_no_links():
    stopped = '{"Running": false, "Pid": 0}'
    lab = ScriptedLab({"docker inspect -f '{{json .State}}' c1": (0, stopped)})
    assert _lab.links(lab, container="c1") == []
    assert [c for c, _ in lab.asked] == ["docker inspect -f '{{json .State}}' c1"]


def test_a_running_container_is_asked_through_nsenter():
    lab = ScriptedLab({
        "docker inspect -f '{{json .State}}' c1": (0, '{"Running": true, "Pid": 42}'),
        "nsenter -t 42 -n ip -j -4 addr show": (0, '[{"ifname": "eth0", "addr_info": '
                                                   '[{"family": "inet", "local": "172.17.0.2", '
                                                   '"prefixlen": 16}, {"family": "inet6"}]}]')})
    assert _lab.ipv4(lab, container="c1") == {"eth0": ["172.17.0.2/16"]}


def test_no_docker_means_no_container_names():
    assert _lab.container_names(ScriptedLab()) == []
    assert _lab.container_state(ScriptedLab(), "web") is None


def test_peer_in_lab_wants_a_veth_whose_indexes_point_at_each_other():
    inner = {"ifname": "eth0", "ifindex": 5, "link_index": 6, "linkinfo": {"info_kind": "veth"}}
    outer = {"ifname": "veth6", "ifindex": 6, "link_index": 5, "linkinfo": {"info_kind": "veth"}}
    lab = ScriptedLab()
    assert _lab.peer_in_lab(lab, inner, [outer]) == outer
    assert _lab.peer_in_lab(lab, inner, [{**outer, "link_index": 9}]) is None
    assert _lab.peer_in_lab(lab, {**inner, "linkinfo": {"info_kind": "bridge"}}, [outer]) is None
    assert _lab.peer_in_lab(lab, {"ifname": "eth0", "linkinfo": {"info_kind": "veth"}}) is None


def test_ping_goes_from_the_place_asked_for_and_only_once():
    lab = ScriptedLab({"docker exec web ping -c 1 -W 1 10.0.0.1": (0, ""),
                       "busybox ping -c 1 -W 1 10.0.0.1": (0, "")})
    assert _lab.ping(lab, "10.0.0.1", container="web")
    assert _lab.ping(lab, "10.0.0.1")
    assert not _lab.ping(lab, "10.0.0.1", ns="lab-ns0")
    assert lab.asked[-1] == ("ip netns exec lab-ns0 busybox ping -c 1 -W 1 10.0.0.1",
                             {"timeout": 10})


@pytest.mark.parametrize(("items", "text"), [([], "none"), (["a"], "a"), (["a", "b"], "a and b"),
                                              (["a", "b", "c"], "a, b and c")])
def test_names_reads_like_a_sentence(items, text):
    assert _lab.names(items) == text


def test_kind_is_up_and_in_subnet():
    assert _lab.kind({}) == "" and _lab.kind({"linkinfo": {"info_kind": "veth"}}) == "veth"
    assert _lab.is_up({"flags": ["BROADCAST", "UP"]}) and not _lab.is_up({})
    assert _lab.in_subnet("10.15.10.4/24", "10.15.10.0/24")
    assert not _lab.in_subnet("10.15.11.4/24", "10.15.10.0/24")
