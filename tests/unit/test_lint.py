"""labkit.authoring.lint: each rule on a small sample lesson that breaks it (and the good one that
breaks none). Pure: the rules read notebook JSON; only the text-source tests write files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lesson_samples import (
    NAME,
    SANITIZE,
    code,
    good_lesson,
    in_repo,
    md,
    plain,
    stdout,
)

from labkit.authoring import lint, textsource
from labkit.authoring.lint.outputs import nbval_options
from labkit.authoring.lint.state import runs_cni_add, simple_commands, uses_and_creations
from labkit.authoring.sanitize import read_sanitize_file

PATTERNS = read_sanitize_file(SANITIZE)


def lesson(nb: dict, name: str = NAME, **kwargs) -> lint.Lesson:
    kwargs.setdefault("sanitize", PATTERNS)
    kwargs.setdefault("sanitize_file", SANITIZE)
    kwargs.setdefault("require_text", False)
    return lint.Lesson(Path("notebooks") / name, nb, **kwargs)


def problems(nb: dict, rule: str | None = None, **kwargs) -> list[lint.Problem]:
    found = lint.check(lesson(nb, **kwargs))
    return [p for p in found if rule is None or p.rule == rule]


def test_the_good_sample_passes_every_rule():
    assert problems(good_lesson()) == []


def test_problems_read_with_cell_number_id_and_rule():
    p = lint.Problem("own-state", "uses the container busybox1", 4, "s-03")
    assert p.text("notebooks/x.ipynb") == (
        "notebooks/x.ipynb: cell 4 (s-03): uses the container busybox1 [own-state]")


# --- opens-with-reset -------------------------------------------------------------------------


def test_a_lesson_that_does_not_reset_first_is_caught():
    nb = good_lesson()
    nb["cells"][1]["source"] = "from labkit import Lab\nlab = Lab.connect()"
    [p] = problems(nb, "opens-with-reset")
    assert p.cell == 2 and "lab.reset()" in p.message and "any order" in p.message


def test_a_lab_command_before_the_opening_cell_is_caught():
    nb = good_lesson()
    nb["cells"].insert(1, code("%%lab\nbrctl show"))
    [p] = problems(nb, "opens-with-reset")
    assert p.cell == 2


# --- metadata / exercise cells / exercise data -----------------------------------------------


def test_exercises_listed_in_metadata_must_match_the_cells():
    nb = good_lesson()
    nb["metadata"]["labkit"]["exercises"] = []
    [p] = problems(nb, "metadata")
    assert "lesson0/first-bridge" in p.message


def test_a_missing_solution_cell_is_caught():
    nb = good_lesson()
    nb["cells"] = [c for c in nb["cells"]
                   if c["metadata"].get("labkit", {}).get("role") != "solution"]
    found = problems(nb, "exercise-cells")
    assert any('0 "solution" cells' in p.message for p in found)


def test_a_solution_that_drifted_from_labkit_checks_is_caught():
    nb = good_lesson()
    sol = next(c for c in nb["cells"] if c["metadata"].get("labkit", {}).get("role") ==
               "solution")
    sol["source"] = "%%lab\nip link add hello0 type bridge"
    found = problems(nb, "exercise-cells")
    assert any("differs from the solution in labkit.exercises" in p.message for p in found)
    assert found[0].cell == nb["cells"].index(sol) + 1


def test_exercise_cells_out_of_order_and_unhidden_solution_are_caught():
    nb = good_lesson()
    a, b = len(nb["cells"]) - 2, len(nb["cells"]) - 3  # solution <-> check
    nb["cells"][a], nb["cells"][b] = nb["cells"][b], nb["cells"][a]
    nb["cells"][b]["metadata"].pop("jupyter")
    messages = " | ".join(p.message for p in problems(nb, "exercise-cells"))
    assert "in the order" in messages and "source must be hidden" in messages


def test_a_check_stored_as_passing_on_the_starting_state_is_caught():
    nb = good_lesson()
    chk = next(c for c in nb["cells"] if c["metadata"].get("labkit", {}).get("role") ==
               "check")
    chk["outputs"] = [plain("✓ done")]
    assert any("does not fail" in p.message for p in problems(nb, "exercise-cells"))


def test_an_exercise_of_another_lesson_is_caught():
    found = problems(good_lesson(), "exercise-data", name="01-other.ipynb")
    assert found and "belongs to 00-welcome.ipynb" in found[0].message


# --- volatile-output --------------------------------------------------------------------------


def test_outputs_the_sanitizer_covers_pass():
    nb = good_lesson()
    nb["cells"][4]["outputs"] = [stdout("6: vethe657f66@if5: <UP> mtu 1500\n"
                                        "    link/ether 5a:1b:2c:3d:4e:5f\n")]
    assert problems(nb, "volatile-output") == []


def test_a_timestamp_the_sanitizer_misses_is_caught():
    nb = good_lesson()
    nb["cells"][4]["outputs"] = [stdout("12:34:56.789012 IP 172.17.0.2 > 172.17.0.3: ICMP\n")]
    [p] = problems(nb, "volatile-output")
    assert p.cell == 5 and "a clock time" in p.message and "12:34:56.789012" in p.message


def test_an_ephemeral_port_in_tcpdump_is_caught_unless_the_sanitizer_covers_it():
    nb = good_lesson()
    nb["cells"][4]["outputs"] = [stdout("IP 203.0.113.10.45678 > 203.0.113.1.8080: Flags [S]\n")]
    found = problems(nb, "volatile-output", sanitize=())
    assert any("ephemeral port" in p.message for p in found), found
    # the course's sanitize file covers tcpdump's address.port form (the tracer's curl lines)
    assert problems(nb, "volatile-output") == []


@pytest.mark.parametrize(("text", "shape"), [
    ("1a5ffb573b7af80000dfff25a432526bb740c5a1e40f94e62c930383a0269193", "64-hex"),
    ("vethe657f66", "veth name"),
    ("link/ether 5a:1b:2c:3d:4e:5f", "random MAC"),
    ("time=0.081 ms", "timing"),
])
def test_without_a_sanitizer_each_volatile_shape_is_caught(text, shape):
    nb = good_lesson()
    nb["cells"][4]["outputs"] = [stdout(text + "\n")]
    found = problems(nb, "volatile-output", sanitize=())
    assert any(shape in p.message for p in found), found


def test_the_lab_outer_address_is_caught_and_ignored_output_is_not_checked():
    nb = good_lesson()
    nb["cells"][4]["outputs"] = [stdout("inet 10.213.87.2/24 scope global eth0\n")]
    assert any("outer address" in p.message for p in problems(nb, "volatile-output"))
    nb["cells"][4]["source"] = ("%%lab\n# the lab's address depends on where it runs\n"
                                "# NBVAL_IGNORE_OUTPUT\nip addr show eth0")
    assert problems(nb) == []


# --- text-in-sync -----------------------------------------------------------------------------


def test_a_paired_lesson_in_sync_passes(tmp_path):
    path = in_repo(tmp_path, good_lesson())
    assert (tmp_path / "lessons" / "00-welcome.md").is_file()
    assert lint.check(lint.load_lesson(path)) == []


def test_an_edited_text_source_is_caught_with_the_cell(tmp_path):
    path = in_repo(tmp_path, good_lesson())
    text = tmp_path / "lessons" / "00-welcome.md"
    text.write_text(text.read_text().replace("Start a container:", "Start one container:"))
    [p] = lint.check(lint.load_lesson(path))
    assert (p.rule, p.cell, p.cell_id) == ("text-in-sync", 3, "s-02")
    assert "source differs" in p.message and "labkit lesson sync" in p.message


def test_a_cell_inserted_in_the_text_source_is_one_problem_naming_it(tmp_path):
    """Cells are aligned, not compared by position: one cell added in the middle of the
    10-cell sample is one problem, not one per cell after it."""
    nb = good_lesson()
    assert len(nb["cells"]) == 10
    path = in_repo(tmp_path, nb)
    text = tmp_path / "lessons" / "00-welcome.md"
    ping = "```{code-cell}\n%%lab\ndocker exec busybox1 ping"
    text.write_text(text.read_text().replace(ping, "```{code-cell}\n%%lab\nip link show\n```"
                                                   "\n\n" + ping))
    [p] = lint.check(lint.load_lesson(path))
    assert p.rule == "text-in-sync" and p.cell is None
    assert "a %%lab cell 'ip link show' after cell 4, which the notebook lacks" in p.message
    assert "labkit lesson sync" in p.message


def test_a_cell_added_to_the_notebook_only_is_one_problem_at_that_cell(tmp_path):
    path = in_repo(tmp_path, good_lesson())
    nb = json.loads(path.read_text())
    nb["cells"].insert(4, {**code("%%lab\nip link show"), "id": "new"})
    path.write_text(json.dumps(nb, indent=1) + "\n")
    [p] = problems(nb, "text-in-sync", **_paired(path))
    assert (p.cell, p.cell_id) == (5, "new") and "the text source lacks this cell" in p.message


def test_a_removed_and_an_edited_cell_are_told_apart():
    """The pure alignment: keys stand for cells (type, source, metadata)."""
    cells = [("code", f"cell {i}", "{}") for i in range(10)]
    text = cells[:3] + cells[4:7] + [("code", "edited", "{}")] + cells[8:]
    found = textsource.compare_cells(cells, text)
    assert [(d.kind, d.cell) for d in found] == [("notebook-only", 4), ("changed", 8)]
    assert str(found[1]) == "cell 8: its source differs from the text source"


def _paired(path: Path) -> dict:
    loaded = lint.load_lesson(path)
    return {"pairing": loaded.pairing, "text": loaded.text, "require_text": True}


def test_a_missing_text_source_is_caught(tmp_path):
    path = in_repo(tmp_path, good_lesson(), text=False)
    [p] = lint.check(lint.load_lesson(path))
    assert p.rule == "text-in-sync" and "missing" in p.message


def test_an_unpaired_notebook_is_caught_when_a_text_source_is_required(tmp_path):
    path = tmp_path / NAME
    in_repo(tmp_path, good_lesson(), text=False).rename(path)
    [p] = lint.check(lint.load_lesson(path))
    assert "no text source is paired" in p.message


# --- own-state --------------------------------------------------------------------------------


def test_a_container_from_a_previous_lesson_is_caught():
    nb = good_lesson()
    del nb["cells"][3]  # the cell that starts busybox1
    [p] = problems(nb, "own-state")
    assert p.cell == 4 and "container busybox1" in p.message and "another lesson" in p.message


def test_a_namespace_made_too_late_is_caught():
    nb = good_lesson()
    nb["cells"][4:4] = [code("%%lab\nip netns exec outside ip link"),
                        code("%%lab\nip netns add outside")]
    [p] = problems(nb, "own-state")
    assert p.cell == 5 and "only makes later, in cell 6" in p.message


def test_a_reset_forgets_what_was_made_before_it():
    nb = good_lesson()
    nb["cells"].insert(4, code("print(lab.reset())"))
    [p] = problems(nb, "own-state")
    assert p.cell == 6 and "busybox1" in p.message


def test_a_bridge_made_by_a_cni_add_counts_as_made():
    nb = good_lesson()
    conf = 'cat > /root/n.conf <<"EOF"\n{"type": "bridge", "bridge": "lab-br1"}\nEOF\n'
    nb["cells"][4:4] = [code("%%lab\n" + conf), code("%%lab\nip link show master lab-br1")]
    [p] = problems(nb, "own-state")  # written, not yet added: the plugin has made nothing
    assert p.cell == 6 and "bridge lab-br1" in p.message
    nb["cells"].insert(5, code("%%lab\nCNI_COMMAND=ADD CNI_CONTAINERID=$ID CNI_NETNS=$NETNS "
                               "CNI_IFNAME=eth0 /opt/cni/bin/bridge < /root/n.conf"))
    assert problems(nb, "own-state") == []


@pytest.mark.parametrize(("script", "adds"), [
    ("CNI_COMMAND=ADD CNI_PATH=/opt/cni/bin /opt/cni/bin/bridge < x.conf", True),
    ("CNI_COMMAND=DEL CNI_PATH=/opt/cni/bin /opt/cni/bin/bridge < x.conf", False),
    ("cnitool add lab-br1 /var/run/netns/x", True),
    ("ctr -n lab run --cni --rm docker.io/library/busybox:latest web sh", True),
    ("ctr -n lab run --rm docker.io/library/busybox:latest web sh", False),
])
def test_cni_adds_are_recognised(script, adds):
    [words] = simple_commands(script)
    assert runs_cni_add(words) is adds


@pytest.mark.parametrize(("script", "expected"), [
    ("docker run -d --name web -p 8080:80 busybox", [("make", "container", "web")]),
    ("docker exec -u root busybox1 ip addr", [("use", "container", "busybox1")]),
    ("ip link add lab-br0 type bridge", [("make", "bridge", "lab-br0")]),
    ("brctl addif lab-br0 veth0", [("use", "bridge", "lab-br0")]),
    ("ip link set veth0 master lab-br0", [("use", "bridge", "lab-br0")]),
    ("ip link add out0 type veth peer name eth0 netns outside",
     [("use", "namespace", "outside")]),
    ("timeout 10 ip netns exec lab-ns0 brctl show x",
     [("use", "namespace", "lab-ns0"), ("use", "bridge", "x")]),
    ("ip -n lab-ns1 link set eth0 up", [("use", "namespace", "lab-ns1")]),
    ("docker network inspect bridge", [("use", "network", "bridge")]),
    # the Kubernetes lab's nodes: made by `k8s-lab up`; a node's own objects are not followed
    ("k8s-lab up", [("make", "namespace", "kube-master"), ("make", "namespace", "kube-node-1"),
                    ("make", "namespace", "kube-node-2"), ("make", "bridge", "kube-br0")]),
    ("k8s-lab exec kube-node-1 ip link show master dind0",
     [("use", "namespace", "kube-node-1")]),
])
def test_commands_are_read_for_what_they_make_and_use(script, expected):
    [words] = simple_commands(script)
    assert uses_and_creations(words) == expected


def test_scripts_are_split_into_commands_without_redirections():
    script = ("peer=$(docker exec busybox2 cat /sys/class/net/eth0/iflink)  # its peer\n"
              "conntrack -L 2> /dev/null && sh -c 'echo a; \\\n echo b' | sort\n")
    assert simple_commands(script) == [
        ["peer="], ["docker", "exec", "busybox2", "cat", "/sys/class/net/eth0/iflink"],
        ["conntrack", "-L"], ["sh", "-c", "echo a;   echo b"], ["sort"]]


# --- ignore-reason ----------------------------------------------------------------------------


def test_ignore_output_without_a_reason_is_caught():
    nb = good_lesson()
    nb["cells"][4]["source"] = "%%lab\n# NBVAL_IGNORE_OUTPUT\nip addr"
    [p] = problems(nb, "ignore-reason")
    assert p.cell == 5 and "without a reason" in p.message


def test_a_marker_with_text_on_its_line_is_invisible_to_nbval():
    nb = good_lesson()
    nb["cells"][4]["source"] = "%%lab\n# NBVAL_IGNORE_OUTPUT: the times change\nip addr"
    [p] = problems(nb, "ignore-reason")
    assert "nbval does not see" in p.message
    assert nbval_options(nb["cells"][4]) == set()


def test_an_ignore_tag_needs_a_reason_too():
    nb = good_lesson()
    nb["cells"][4]["metadata"]["tags"] = ["nbval-ignore-output"]
    [p] = problems(nb, "ignore-reason")
    assert "tagged" in p.message
    nb["cells"][4]["source"] = "%%lab\n# ping times differ from run to run\nping -c 1 x"
    assert problems(nb, "ignore-reason") == []


# --- the course's own lessons -----------------------------------------------------------------


def test_lesson_paths_finds_numbered_lessons_only(tmp_path):
    (tmp_path / "01-a.ipynb").write_text("{}")
    (tmp_path / "scratch.ipynb").write_text("{}")
    assert [p.name for p in lint.lesson_paths([tmp_path])] == ["01-a.ipynb"]


def test_markdown_cells_are_not_linted_for_commands():
    nb = good_lesson()
    nb["cells"].insert(3, md("Run `docker exec busybox9 sh` later."))
    assert problems(nb) == []


def test_lesson_paths_take_a_lessons_text_source_for_its_notebook(tmp_path):
    """`labkit lesson check lessons/NN-name.md` lints that lesson's notebook (as sync does),
    not the Markdown as if it were a notebook (a JSON traceback)."""
    assert lint.lesson_paths([tmp_path / "lessons" / "11-x.md"]) == [
        tmp_path / "notebooks" / "11-x.ipynb"]


def test_the_k8s_lab_names_are_the_scripts():
    """The lint's idea of what `k8s-lab up` makes is k8s/k8s-lab.sh's own."""
    from labkit.authoring.lint.state import K8S_LAB_BRIDGE, K8S_LAB_NODES

    script = (Path(__file__).resolve().parents[2] / "k8s" / "k8s-lab.sh").read_text()
    assigned = dict(re.findall(r'(?m)^(MASTER|WORKERS|BRIDGE)="?([^"\n]*)"?$', script))
    assert (assigned["MASTER"], *assigned["WORKERS"].split()) == K8S_LAB_NODES
    assert assigned["BRIDGE"] == K8S_LAB_BRIDGE
