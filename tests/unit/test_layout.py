"""The package's layout rules (docs/architecture.md), one test each (pure: no Docker, no lab).

Static rules walk every import with `ast`, function-level and `if TYPE_CHECKING:` ones
included. Run-time rules import modules in a fresh interpreter, so what this test process has
already loaded cannot hide anything.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "labkit"
DOCKERFILE = ROOT / "lab" / "Dockerfile"
STDLIB = frozenset(sys.stdlib_module_names)


# -- the import graph ------------------------------------------------------------------------

def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package."""
    mods = {}
    for f in sorted(package.rglob("*.py")):
        parts = list(f.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the dotted name imported (a module, or a module's attribute)
    line: int
    deferred: bool = False  # inside a function or an `if TYPE_CHECKING:` block


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def imports_of(name: str, path: Path) -> list[Import]:
    """Every import statement in the file, wherever it is (top level, function, if-block)."""
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, deferred: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(name, a.name, node.lineno, deferred) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.extend(Import(name, f"{mod}.{a.name}", node.lineno, deferred)
                         for a in node.names)
        inner = deferred or _is_type_checking(node) or isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return found


def resolve(target: str, mods: dict[str, Path]) -> str | None:
    """The package module a dotted name belongs to (`labkit.lab.Lab` -> `labkit.lab`)."""
    while target and target not in mods:
        target = target.rpartition(".")[0]
    return target or None


def import_graph(mods: dict[str, Path]) -> dict[str, dict[str, int]]:
    """module -> {imported package module: line of the first such import}."""
    edges: dict[str, dict[str, int]] = {m: {} for m in mods}
    for m, f in mods.items():
        for imp in imports_of(m, f):
            r = resolve(imp.target, mods)
            if r and r != m:
                edges[m].setdefault(r, imp.line)
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(edges[w])))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def cycle_path(comp: list[str], edges: dict[str, dict[str, int]]) -> str:
    """One concrete loop through the component, with the line of each import."""
    members = set(comp)
    path, seen = [comp[0]], {comp[0]}
    while True:
        here = path[-1]
        nxt = sorted(w for w in edges[here] if w in members)
        back = next((w for w in nxt if w in seen), None)
        step = back if back is not None else nxt[0]
        path.append(step)
        if back is not None:
            path = path[path.index(step):]
            break
        seen.add(step)
    steps = zip(path, path[1:], strict=False)
    return " -> ".join(f"{a} (line {edges[a][b]})" for a, b in steps) + f" -> {path[-1]}"


def test_cycle_finder_finds_a_planted_cycle():
    edges = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycle_path(["a", "b", "c"], edges) == "a (line 1) -> b (line 2) -> c (line 3) -> a"


def test_no_import_cycles_between_labkit_modules():
    edges = import_graph(module_files())
    found = cycles(edges)
    assert not found, "import cycles (function-level and TYPE_CHECKING imports count):\n" + \
        "\n".join(f"  {' <-> '.join(c)}\n    e.g. {cycle_path(c, edges)}" for c in found)


# -- what runs inside the lab ----------------------------------------------------------------

def dockerfile_copies(text: str) -> list[str]:
    """The labkit paths the lab image copies (`COPY labkit/X dest`), as written."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["COPY"]:
            found += [w for w in words[1:-1] if w.startswith("labkit/")]
    return found


def in_lab_modules(copies: list[str], mods: dict[str, Path]) -> set[str]:
    """The package modules that the image's COPY lines carry."""
    carried = set()
    for src in copies:
        path = (ROOT / src).resolve()
        carried |= {m for m, f in mods.items() if f == path or path in f.parents}
    return carried


def top(name: str) -> str:
    return name.partition(".")[0]


def outside(imports: list[Import], allowed: set[str], mods: dict[str, Path]) -> list[str]:
    """Imports of anything but the stdlib, pyroute2 and the `allowed` labkit modules."""
    bad = []
    for imp in imports:
        if top(imp.target) == "labkit":
            r = resolve(imp.target, mods)
            if r not in allowed:
                bad.append(f"{imp.module} line {imp.line}: {imp.target}")
        elif top(imp.target) not in STDLIB | {"pyroute2"}:
            bad.append(f"{imp.module} line {imp.line}: {imp.target}")
    return bad


def probe_side(mods: dict[str, Path]) -> set[str]:
    return {m for m in mods if m == "labkit" or m.split(".")[:2] in (["labkit", "model"],
                                                                     ["labkit", "probe"])}


# Folders by layer, bottom first (docs/architecture.md): a folder imports only from itself and
# from lower layers, so the learner's side can change without touching what the lab runs.
LAYERS = (
    ("errors", "result", "scripts", "model"),
    ("probe", "transport", "draw"),
    ("hosts",),
    ("lab",),
    ("exercises",),
    ("notebook", "authoring"),
    ("cli",),
    ("labkit", "widgets"),  # the package's public names and the lessons' widgets shim
)


def _folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "labkit"


def layer_breaks(edges: dict[str, dict[str, int]]) -> list[str]:
    """Imports that go up or sideways between folders, as `module (line N) -> module`."""
    rank = {folder: i for i, layer in enumerate(LAYERS) for folder in layer}
    bad = []
    for m, targets in sorted(edges.items()):
        for t, line in sorted(targets.items()):
            a, b = _folder(m), _folder(t)
            if a != b and rank[b] >= rank[a]:
                bad.append(f"{m} (line {line}) -> {t}: {a} may not import {b}")
    return bad


def test_every_folder_has_a_layer():
    folders = {_folder(m) for m in module_files()}
    placed = {f for layer in LAYERS for f in layer}
    assert folders <= placed, f"put these folders in LAYERS: {sorted(folders - placed)}"


def test_folders_import_only_from_lower_layers():
    breaks = layer_breaks(import_graph(module_files()))
    assert not breaks, "imports against the layers:\n" + "\n".join(breaks)


def test_the_layer_check_catches_an_upward_import():
    edges = {"labkit.transport.docker": {"labkit.hosts.locate": 13}, "labkit.hosts.locate": {}}
    assert layer_breaks(edges) == ["labkit.transport.docker (line 13) -> labkit.hosts.locate: "
                                   "transport may not import hosts"]


def test_the_import_rules_catch_planted_imports():
    mods = module_files()
    planted = [Import("labkit.probe.scan", t, 1) for t in (
        "json", "pyroute2.IPRoute", "labkit.model.nat", "labkit.lab.Lab", "docker",
        "labkit.notebook")]
    assert outside(planted, probe_side(mods), mods) == [
        "labkit.probe.scan line 1: labkit.lab.Lab", "labkit.probe.scan line 1: docker",
        "labkit.probe.scan line 1: labkit.notebook"]
    assert dockerfile_copies("COPY certs/ /x/\nCOPY labkit/a.py labkit/b/ /opt/\n") == [
        "labkit/a.py", "labkit/b/"]


def test_the_probe_imports_only_the_stdlib_pyroute2_and_the_model():
    mods = module_files()
    imports = [i for m, f in mods.items() if m.startswith("labkit.probe") for i in imports_of(m, f)]
    bad = outside(imports, probe_side(mods), mods)
    assert not bad, ("labkit.probe runs inside the lab on Debian's python3: it may import the "
                     "stdlib, pyroute2, labkit.model and itself only, found:\n  "
                     + "\n  ".join(bad))


#: Run in a fresh `python3 -S -E` (no site-packages: like Debian's python3 in the lab, minus
#: pyroute2): import every module of the given packages and report what was asked for. The
#: meta_path finder only writes names down and returns None (it stubs nothing), so an import
#: of something absent still fails, and the report says which module failed and why.
IMPORT_ALL = r"""
import importlib, json, pkgutil, sys
asked = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        asked.append(name)
        return None
sys.meta_path.insert(0, Watch())
before = set(sys.modules)
failed = {}
for pkg in sys.argv[1:]:
    mod = importlib.import_module(pkg)
    for info in pkgutil.walk_packages(mod.__path__, pkg + "."):
        if info.name.rpartition(".")[2] == "__main__":
            continue  # runs the probe; it only imports labkit.probe.serve
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            failed[info.name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"asked": asked, "loaded": sorted(set(sys.modules) - before),
                  "failed": failed}))
"""


def import_all(where: Path, packages: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-S", "-E", "-c", IMPORT_ALL, *packages], cwd=where,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"importing {packages} failed:\n{done.stderr}"
    return json.loads(done.stdout)


def foreign(names: list[str], allowed_labkit: set[str]) -> list[str]:
    return sorted({n for n in names if (top(n) == "labkit" and n not in allowed_labkit)
                   or (top(n) != "labkit" and top(n) not in STDLIB | {"pyroute2"})})


def test_importing_the_probe_and_model_loads_only_the_stdlib_and_themselves(tmp_path):
    mods = module_files()
    got = import_all(ROOT, ["labkit.model", "labkit.probe"])
    assert not got["failed"], f"modules that do not import without site-packages: {got['failed']}"
    # What got loaded must be allowed; of what was only asked for, labkit's own names count
    # (the stdlib tries optional names too, e.g. copy's `org.python.core` for Jython).
    asked = [n for n in got["asked"] if top(n) == "labkit"]
    bad = foreign(asked + got["loaded"], probe_side(mods))
    assert not bad, f"importing labkit.probe and labkit.model loaded or asked for: {bad}"


def test_the_lab_image_carries_labkit_init_model_probe_and_scripts_only():
    copies = dockerfile_copies(DOCKERFILE.read_text(encoding="utf-8"))
    assert sorted(copies) == sorted(["labkit/__init__.py", "labkit/model/", "labkit/probe/",
                                     "labkit/scripts/"]), \
        f"lab/Dockerfile copies {copies} of labkit; the learner's side must stay out"


def test_everything_the_lab_image_carries_imports_only_what_it_carries():
    mods = module_files()
    carried = in_lab_modules(dockerfile_copies(DOCKERFILE.read_text(encoding="utf-8")), mods)
    # labkit/__init__.py names the learner's side lazily (PEP 562 `__getattr__`, the
    # IPython hook, TYPE_CHECKING): nothing in the lab asks for them, and the run-time test
    # below shows `import labkit` works there. Every other import counts, wherever it is.
    imports = [i for m in sorted(carried) for i in imports_of(m, mods[m])
               if not (m == "labkit" and i.deferred)]
    bad = outside(imports, carried, mods)
    assert not bad, ("modules in the lab image (lab/Dockerfile's COPY lines) import what the "
                     "image does not carry (function-level imports count: the call would fail "
                     "in the lab):\n  " + "\n  ".join(bad))


def test_the_lab_image_contents_import_alone(tmp_path):
    """Copy what the COPY lines copy, as the image does, and import it all there."""
    copies = dockerfile_copies(DOCKERFILE.read_text(encoding="utf-8"))
    for src in copies:
        dest = tmp_path / src
        if (ROOT / src).is_dir():
            shutil.copytree(ROOT / src, dest, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / src, dest)
    got = import_all(tmp_path, ["labkit.model", "labkit.probe"])
    assert not got["failed"], f"in the lab image's labkit, these do not import: {got['failed']}"


# -- docstrings, formats, public names -------------------------------------------------------

def test_every_subpackage_says_its_job():
    silent = []
    for folder in sorted(p for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        if not any(folder.glob("*.py")):
            continue  # data (templates, schemas)
        init = folder / "__init__.py"
        if not init.exists():
            silent.append(f"{folder.relative_to(ROOT)}/ has modules but no __init__.py")
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        if not doc or len(doc.split()) < 6:
            silent.append(f"{init.relative_to(ROOT)}: {doc!r}")
    assert not silent, ("each labkit subpackage's __init__.py starts with a docstring that "
                        "says its job:\n  " + "\n  ".join(silent))


FORMAT_NAME = re.compile(r"(^|_)FORMAT$")


def format_literals(path: Path) -> list[str]:
    """`X_FORMAT = 1` assignments and `{"format": 1}` / `{"raw_format": 1}` dict literals."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if (any(FORMAT_NAME.search(n) for n in names) and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, int)):
                found.append(f"line {node.lineno}: {', '.join(names)} = {node.value.value}")
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if (isinstance(k, ast.Constant) and isinstance(k.value, str)
                        and k.value.endswith("format") and isinstance(v, ast.Constant)
                        and isinstance(v.value, int) and not isinstance(v.value, bool)):
                    found.append(f"line {node.lineno}: {{{k.value!r}: {v.value}}}")
    return found


def test_format_literal_finder():
    src = 'A_FORMAT = 2\nFORMAT = 1\nx = {"format": 1, "raw_format": 3}\nFORMAT2 = 1\n'
    f = Path(__file__).with_name("_format_probe.tmp")
    try:
        f.write_text(src)
        assert format_literals(f) == ["line 1: A_FORMAT = 2", "line 2: FORMAT = 1",
                                      "line 3: {'format': 1}", "line 3: {'raw_format': 3}"]
    finally:
        f.unlink()


def test_each_file_format_version_is_defined_once_in_model_formats():
    formats = PACKAGE / "model" / "formats.py"
    defined = [line.split(":")[1].split("=")[0].strip() for line in format_literals(formats)]
    assert len(defined) == len(set(defined)) >= 4, f"formats.py defines {defined}"
    elsewhere = {str(f.relative_to(ROOT)): hits for f in sorted(PACKAGE.rglob("*.py"))
                 if f != formats and (hits := format_literals(f))}
    # The templates `labkit lesson new` fills in take the version from formats.py too.
    for template in sorted((PACKAGE / "templates").iterdir()):
        if re.search(r"^\s*(raw_)?format:\s*\d", template.read_text(encoding="utf-8"), re.M):
            elsewhere[str(template.relative_to(ROOT))] = ["a format version as a number"]
    assert not elsewhere, ("a file-format version written as a number outside "
                           "labkit/model/formats.py (import the constant from there):\n  "
                           + "\n  ".join(f"{f}: {h}" for f, hs in elsewhere.items() for h in hs))


PUBLIC = r"""
import sys
import labkit
heavy = sorted(m for m in ("docker", "IPython", "ipywidgets") if m in sys.modules)
assert not heavy, f"`import labkit` alone loaded {heavy}"
from labkit import Lab
heavy = sorted(m for m in ("docker", "IPython", "ipywidgets") if m in sys.modules)
assert not heavy, f"`from labkit import Lab` loaded {heavy}: a script or `labkit run` has none"
assert callable(labkit.load_ipython_extension)
from labkit.exercises import check, hint, solution
from labkit.widgets import exercise_widget, lab_controls, packet_tracer, explorer, trace_packet
print("ok")
"""


def test_the_names_lessons_use_stay_importable_and_labkit_lab_stays_light():
    done = subprocess.run([sys.executable, "-c", PUBLIC], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# -- tests/unit stays pure -------------------------------------------------------------------

#: live tests the collection guard must refuse, by file name
LIVE_TESTS = {
    "marker_lab": "@pytest.mark.lab\ndef test_a():\n    pass\n",
    "marker_docker": "@pytest.mark.docker\ndef test_a():\n    pass\n",
    "marker_rootless": "@pytest.mark.rootless\ndef test_a():\n    pass\n",
    "fixture_lab": "def test_a(lab):\n    pass\n",
    "fixture_throwaway": "def test_a(throwaway_lab):\n    pass\n",
    "fixture_built_on_lab": ("@pytest.fixture\ndef mine(lab):\n    return lab\n\n"
                             "def test_a(mine):\n    pass\n"),
    "usefixtures": "@pytest.mark.usefixtures('docker_api')\ndef test_a():\n    pass\n",
}


def run_guarded(tmp_path: Path, tests: dict[str, str]) -> str:
    """tests/conftest.py with these test files under unit/, in a pytest of its own; its
    output, ending with the exit status."""
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "unit").mkdir()
    for name, body in tests.items():
        (tmp_path / "unit" / f"test_{name}.py").write_text("import pytest\n\n" + body)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "unit"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DOCKER_HOST": "unix:///nonexistent"})
    return f"{done.stdout}{done.stderr}\nexit status {done.returncode}"


def test_the_guard_refuses_live_tests_collected_in_tests_unit(tmp_path):
    out = run_guarded(tmp_path, {**LIVE_TESTS, "pure": "def test_a(tmp_path):\n    pass\n"})
    assert "live tests collected under tests/unit" in out, out
    missed = [name for name in LIVE_TESTS if f"unit/test_{name}.py::test_a" not in out]
    assert not missed, f"the guard let these live tests through: {missed}\n{out}"
    assert "test_pure.py" not in out, out


def test_the_guard_fails_a_live_fixture_asked_for_at_run_time(tmp_path):
    out = run_guarded(tmp_path, {
        "dynamic": "def test_a(request):\n    request.getfixturevalue('lab')\n",
        "pure": "def test_b(tmp_path):\n    pass\n"})
    assert "asked for the live fixture" in out and "1 failed, 1 passed" in out, out


def test_ruff_is_clean_with_complexity_and_blind_except_rules():
    """pyproject.toml's rules, C90 (complexity <= 15) and BLE included: a blind `except
    Exception` must say why in its `# noqa: BLE001` comment."""
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'select = \[[^\]]*"C90"[^\]]*"BLE"', config), "C90 and BLE not selected"
    assert re.search(r"max-complexity = 15\b", config)
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "labkit", "tests",
                           "benchmarks"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    bare = [f"{f.relative_to(ROOT)}:{i}" for f in sorted(PACKAGE.rglob("*.py"))
            for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
            if re.search(r"#\s*noqa:\s*BLE001\s*$", line)]
    assert not bare, f"say why after `# noqa: BLE001 -`: {bare}"
