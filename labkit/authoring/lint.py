"""`labkit lesson check`: what makes a lesson wrong before anyone runs it.

One small rule per concern, each a pure function of a `Lesson` (the notebook's JSON, its
paired text source, the sanitizer's patterns) returning `Problem`s that name the cell
(numbered from 1, as in the notebook; the cell id too, to find it in the text source):

| rule | the lesson must ... |
| --- | --- |
| `opens-with-reset` | connect and `lab.reset()` in its first code cell, so it runs in any order |
| `metadata` | carry `{"labkit": {"format": 1, "lesson": N, "exercises": [...]}}` |
| `exercise-cells` | have the five cells of each exercise, in order, consistent with labkit.checks |
| `exercise-data` | use exercises that have a check, hints and a solution, and belong to it |
| `volatile-output` | store no output the sanitizer does not cover (ids, veth names, times, ...) |
| `text-in-sync` | agree with its text source (lessons/NN-name.md) |
| `own-state` | start every container, namespace and bridge it uses, after its reset |
| `ignore-reason` | give a reason beside every `NBVAL_IGNORE_OUTPUT` / `NBVAL_SKIP` |

I/O (reading files) happens only in `load_lesson`; `check(lesson)` runs every rule.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.authoring.build import ROLES, exercise_cell_problems

# --- the data the rules read -----------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a lesson. `cell` counts from 1; None for the whole lesson."""

    rule: str
    message: str
    cell: int | None = None
    cell_id: str | None = None

    def text(self, where: str = "") -> str:
        at = "" if self.cell is None else (
            f"cell {self.cell}" + (f" ({self.cell_id})" if self.cell_id else "") + ": ")
        prefix = f"{where}: " if where else ""
        return f"{prefix}{at}{self.message} [{self.rule}]"


@dataclass(frozen=True)
class Lesson:
    """What the rules look at. `text` is the paired text source's content (None: missing),
    `pairing` the `labkit.textsource.Pairing` (None: nothing pairs this notebook)."""

    path: Path
    nb: dict
    sanitize: tuple[tuple[str, str], ...] = ()
    sanitize_file: Path | None = None
    pairing: Any = None
    text: str | None = None
    require_text: bool = True

    @property
    def cells(self) -> list[dict]:
        return self.nb.get("cells", [])


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def role(cell: dict) -> tuple[str | None, str | None]:
    meta = cell.get("metadata", {}).get("labkit", {})
    return (meta.get("role"), meta.get("exercise")) if isinstance(meta, dict) else (None, None)


def _at(lesson: Lesson, index: int, rule: str, message: str) -> Problem:
    """A problem at the cell with 0-based `index`."""
    return Problem(rule, message, index + 1, lesson.cells[index].get("id"))


# --- loading (the only I/O) -------------------------------------------------------------------

SANITIZE_FILE = Path("tests") / "nbval-sanitize.cfg"


def sanitize_patterns(text: str) -> tuple[tuple[str, str], ...]:
    """The (regex, replace) pairs of an nbval sanitize file, read exactly as nbval reads them
    (a `regex:` line directly followed by its `replace:` line)."""
    pairs = re.findall(r"^regex: (.*)$\n^replace: (.*)$", text, flags=re.MULTILINE)
    return tuple(dict(pairs).items())  # nbval keeps them in a dict: a repeated regex once


def find_sanitize_file(path: Path) -> Path | None:
    """tests/nbval-sanitize.cfg in the notebook's folder or the nearest folder above it."""
    for folder in [path.parent, *path.parent.parents]:
        if (folder / SANITIZE_FILE).is_file():
            return folder / SANITIZE_FILE
    return None


def load_lesson(path: str | Path, *, sanitize_file: str | Path | None = None,
                require_text: bool = True) -> Lesson:
    """Read a lesson, its sanitize patterns and its paired text source."""
    from labkit.authoring import textsource

    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    cfg = Path(sanitize_file) if sanitize_file else find_sanitize_file(path.resolve())
    patterns = sanitize_patterns(cfg.read_text(encoding="utf-8")) if cfg else ()
    pairing = textsource.pairing_for(path)
    text = None
    if pairing is not None and pairing.text.is_file():
        text = pairing.text.read_text(encoding="utf-8")
    return Lesson(path, nb, patterns, cfg, pairing, text, require_text)


# --- the rules --------------------------------------------------------------------------------

Rule = Callable[[Lesson], list[Problem]]


def _code_cells(lesson: Lesson) -> Iterator[tuple[int, dict]]:
    for index, cell in enumerate(lesson.cells):
        if cell.get("cell_type") == "code":
            yield index, cell


def opens_with_reset(lesson: Lesson) -> list[Problem]:
    """The first code cell connects to the lab and resets it, before anything else runs."""
    first = next(_code_cells(lesson), None)
    if first is None:
        return [Problem("opens-with-reset", "the lesson has no code cell: its first code cell "
                        "must be `lab = Lab.connect()` then `lab.reset()`")]
    index, cell = first
    lines = [ln.strip() for ln in source(cell).splitlines()]
    connect = next((i for i, ln in enumerate(lines) if "Lab.connect(" in ln
                    and not ln.startswith("#")), None)
    reset = next((i for i, ln in enumerate(lines) if re.match(r"(?:print\()?lab\.reset\(", ln)),
                 None)
    if connect is None or reset is None or reset < connect:
        missing = [what for what, at in (("`lab = Lab.connect()`", connect),
                                         ("`lab.reset()`", reset)) if at is None]
        why = (f"it has no {' and no '.join(missing)}" if missing
               else "it resets before it connects")
        return [_at(lesson, index, "opens-with-reset",
                    "the first code cell must connect to the lab and reset it "
                    f"(`lab = Lab.connect()` then `lab.reset()`), so the lesson runs in any "
                    f"order; {why}")]
    if any(ln.startswith("%") for ln in lines[:reset]):
        return [_at(lesson, index, "opens-with-reset",
                    "the first code cell runs lab commands before `lab.reset()`")]
    return []


def lesson_metadata(lesson: Lesson) -> list[Problem]:
    """`{"labkit": {"format": 1, "lesson": N, "exercises": [...]}}`, the ids in cell order."""
    meta = lesson.nb.get("metadata", {}).get("labkit")
    rule = "metadata"
    if not isinstance(meta, dict):
        return [Problem(rule, 'the notebook metadata has no "labkit" section ({"format": 1, '
                        '"lesson": N, "exercises": [...]}, see docs/lessons.md)')]
    problems = []
    if meta.get("format") != 1:
        problems.append(Problem(rule, f'labkit "format" is {meta.get("format")!r}; this '
                                "labkit reads format 1"))
    number = re.match(r"(\d+)-", lesson.path.name)
    if not isinstance(meta.get("lesson"), int):
        problems.append(Problem(rule, 'labkit "lesson" must be the lesson\'s number'))
    elif number and int(number.group(1)) != meta["lesson"]:
        problems.append(Problem(rule, f'labkit "lesson" is {meta["lesson"]} but the file '
                                f"name says {int(number.group(1))}"))
    in_cells: list[str] = []
    for cell in lesson.cells:
        ex = role(cell)[1]
        if ex and ex not in in_cells:
            in_cells.append(ex)
    if list(meta.get("exercises", [])) != in_cells:
        problems.append(Problem(rule, f'labkit "exercises" lists {meta.get("exercises", [])} '
                                f"but the cells hold {in_cells} (in this order)"))
    return problems


#: the cells of one exercise, in this order (docs/lessons.md)
EXERCISE_ORDER = ("exercise", "your-turn", "check", "solution", "check-solution")


def exercise_cells(lesson: Lesson) -> list[Problem]:
    """Each exercise has its five cells, in order, each as docs/lessons.md describes it, and
    the solution cell runs exactly the solution the tests run (authoring's own check)."""
    from labkit.authoring.textsource import as_notebook

    rule = "exercise-cells"
    problems = []
    for text in exercise_cell_problems(as_notebook(lesson.nb)):
        m = re.match(r"cell (\d+): (.*)", text, re.S)
        if m:
            problems.append(_at(lesson, int(m.group(1)) - 1, rule, m.group(2)))
        else:
            problems.append(Problem(rule, text))
    by_exercise: dict[str, list[tuple[int, str]]] = {}
    for index, cell in enumerate(lesson.cells):
        r, ex = role(cell)
        if r is not None and r in ROLES and not ex:
            problems.append(_at(lesson, index, rule, f'a "{r}" cell must name its exercise '
                                '("exercise": ID in its labkit metadata)'))
        if r in ROLES and ex:
            by_exercise.setdefault(ex, []).append((index, r))
    for ex, found in by_exercise.items():
        roles = [r for _, r in found]
        for wanted in EXERCISE_ORDER:
            if roles.count(wanted) != 1:
                where = found[0][0]
                problems.append(_at(lesson, where, rule, f"exercise {ex} has {roles.count(wanted)}"
                                    f' "{wanted}" cells; it needs exactly one'))
        if sorted(roles) == sorted(EXERCISE_ORDER) and roles != list(EXERCISE_ORDER):
            problems.append(_at(lesson, found[0][0], rule, f"the cells of {ex} are in the order "
                                f"{roles}; they must be {list(EXERCISE_ORDER)}"))
        indexes = [i for i, _ in found]
        if indexes != list(range(indexes[0], indexes[0] + len(indexes))):
            problems.append(_at(lesson, indexes[0], rule, f"the cells of {ex} must follow each "
                                "other, with nothing in between"))
        for index, r in found:
            problems += _exercise_cell_shape(lesson, index, r, ex)
    return problems


def _exercise_cell_shape(lesson: Lesson, index: int, r: str, ex: str) -> list[Problem]:
    cell = lesson.cells[index]
    rule = "exercise-cells"
    src = source(cell).strip()
    want_type = "markdown" if r == "exercise" else "code"
    if cell.get("cell_type") != want_type:
        return [_at(lesson, index, rule, f'the "{r}" cell of {ex} must be a {want_type} cell')]
    outputs = cell.get("outputs", [])
    shown = "".join(_output_texts(outputs))
    problems = []
    # The learner's check may be the widget (a button and hints around the same check).
    calls = "check|exercise_widget" if r == "check" else "check"
    if r in ("check", "check-solution") and not re.fullmatch(
            rf"(?:{calls})\((['\"]){re.escape(ex)}\1\)", src):
        wanted = ('check("{0}") or exercise_widget("{0}")' if r == "check"
                  else 'check("{0}")').format(ex)
        problems.append(_at(lesson, index, rule, f'the "{r}" cell must be exactly '
                            f'{wanted} (it has {src[:60]!r})'))
    if r == "check" and outputs and "✗" not in shown:
        problems.append(_at(lesson, index, rule, f"the stored check of {ex} does not fail (no ✗):"
                            " on the lesson's starting state it must explain what is missing"))
    if r == "check-solution" and outputs and "✓" not in shown:
        problems.append(_at(lesson, index, rule, f"the stored check after the solution of {ex} "
                            "does not pass (no ✓)"))
    if r == "your-turn":
        # An empty `%%lab` cell still says that the network did not change; anything more
        # means commands were left in the learner's cell.
        if any(not t.startswith("(the network did not change") for t in _output_texts(outputs)):
            problems.append(_at(lesson, index, rule, "the learner's cell must be stored without "
                                "output of its own (commands were left in it?)"))
        body = [ln for ln in src.splitlines()[1:] if ln.strip()]
        if not src.startswith("%%lab") or any(not ln.lstrip().startswith("#") for ln in body):
            problems.append(_at(lesson, index, rule, 'the "your-turn" cell must be `%%lab` '
                                "followed by comments only (the learner writes there)"))
    if r == "solution":
        meta = cell.get("metadata", {})
        if "solution" not in meta.get("tags", []):
            problems.append(_at(lesson, index, rule, 'the solution cell must be tagged '
                                '"solution"'))
        if not meta.get("jupyter", {}).get("source_hidden"):
            problems.append(_at(lesson, index, rule, "the solution cell's source must be hidden "
                                '("jupyter": {"source_hidden": true})'))
    if r == "exercise" and f'hint("{ex}")' not in src:
        problems.append(_at(lesson, index, rule, f'the exercise text must tell how to get a '
                            f'hint: hint("{ex}")'))
    return problems


def exercise_data(lesson: Lesson) -> list[Problem]:
    """The exercises the lesson uses exist in labkit.checks with a check, hints and a
    solution, and say that they belong to this lesson."""
    from labkit.exercises import get

    problems = []
    seen: set[str] = set()
    for index, cell in enumerate(lesson.cells):
        ex_id = role(cell)[1]
        if not ex_id or ex_id in seen:
            continue
        seen.add(ex_id)
        try:
            ex = get(ex_id)
        except Exception:  # noqa: BLE001 - exercise-cells already reports unknown ids
            continue
        missing = [what for what, ok in (
            ("a check", callable(ex.check)),
            ("hints", bool(ex.hints) and all(h.strip() for h in ex.hints)),
            ("a solution", bool(ex.solution.strip())),
            ("a task", bool(ex.task.strip()))) if not ok]
        if missing:
            problems.append(_at(lesson, index, "exercise-data", f"exercise {ex_id} in "
                                f"labkit.checks has no {' and no '.join(missing)}"))
        if ex.lesson != lesson.path.name:
            problems.append(_at(lesson, index, "exercise-data", f"exercise {ex_id} says it "
                                f"belongs to {ex.lesson}, not {lesson.path.name}"))
    return problems


# -- volatile outputs --

#: nbval does not compare these (tests/nbval-sanitize.cfg need not cover them)
NOT_COMPARED = {"image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json"}

_RANDOM_MAC = (r"(?i)(?<![\w:])(?!02:42:ac:11:)(?!00:00:00:00:00:00)(?!ff:ff:ff:ff:ff:ff)"
               r"(?!33:33:)(?!01:00:5e:)[0-9a-f]{2}(?::[0-9a-f]{2}){5}(?![\w:])")

#: Shapes of text that changes from run to run (what each is, the regex). After the
#: sanitizer ran, none may be left in a compared output, or nbval fails on the next run.
VOLATILE: tuple[tuple[str, str], ...] = (
    ("a 64-hex container/network id", r"\b[0-9a-f]{64}\b"),
    ("a Docker veth name (veth + 7 random hex)", r"\bveth[0-9a-f]{7}\b"),
    ("a random MAC address (only the containers' 02:42:ac:11:… are fixed)", _RANDOM_MAC),
    ("a timing", r"\btime[=<]\d|\b\d+(?:\.\d+)?\s?(?:ms|µs|usec|msec)\b"),
    ("a clock time", r"(?<![\w:.])\d{1,2}:\d\d:\d\d(?:\.\d+)?(?![\w:])"),
    ("a date", r"\b(?:19|20)\d\d-[01]\d-[0-3]\d\b"),
    ("an interface index", r"(?m)^\d+: [\w.-]+(?:@[\w.-]+)?:(?:\s|$)"),
    ("a veth peer index", r"@if\d+\b"),
    ("an ephemeral port", r"(?<=[:.=])(?:3[2-9]\d{3}|[45]\d{4}|60\d{3})\b(?!\.\d)"),
    ("an ICMP echo id", r"\bid \d+, seq"),
    ("a neighbour state", r"\b(?:REACHABLE|STALE|DELAY|PROBE)\b"),
    ("the lab's own outer address (its eth0: depends on where the lab runs)",
     r"\b10\.213\.87\.\d{1,3}\b"),
)


def _output_texts(outputs: list[dict]) -> Iterator[str]:
    for out in outputs:
        if out.get("output_type") == "stream":
            yield _join(out.get("text", ""))
        for mime, value in (out.get("data") or {}).items():
            if mime not in NOT_COMPARED and isinstance(value, (str, list)):
                yield _join(value)


def _join(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def nbval_options(cell: dict) -> set[str]:
    """nbval's markers on a cell, by its rules: a comment line that is exactly the marker,
    or a tag (`nbval-ignore-output`, ...)."""
    found = set()
    for line in source(cell).splitlines():
        line = line.strip()
        if line.startswith("#") and line.lstrip("#").strip() in NBVAL_MARKERS:
            found.add(line.lstrip("#").strip())
    for tag in cell.get("metadata", {}).get("tags", []) or []:
        marker = tag.upper().replace("-", "_")
        if marker in NBVAL_MARKERS:
            found.add(marker)
    return found


NBVAL_MARKERS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_CHECK_OUTPUT",
                 "NBVAL_RAISES_EXCEPTION", "PYTEST_VALIDATE_IGNORE_OUTPUT")


def sanitized(text: str, patterns: tuple[tuple[str, str], ...]) -> str:
    """What nbval compares: the text after every sanitize pattern, in order."""
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    return text


def volatile_output(lesson: Lesson) -> list[Problem]:
    """No compared output keeps a run-to-run shape once the sanitizer has run over it."""
    problems = []
    cfg = lesson.sanitize_file.name if lesson.sanitize_file else "the sanitize file"
    for index, cell in _code_cells(lesson):
        if nbval_options(cell) & {"NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP",
                                  "PYTEST_VALIDATE_IGNORE_OUTPUT"}:
            continue
        seen: set[str] = set()
        for text in _output_texts(cell.get("outputs", [])):
            clean = sanitized(text, lesson.sanitize)
            for what, regex in VOLATILE:
                m = re.search(regex, clean)
                if m and what not in seen:
                    seen.add(what)
                    problems.append(_at(lesson, index, "volatile-output", f"the stored output "
                                        f"shows {what}, {m.group(0).strip()!r}, which {cfg} does "
                                        "not cover: a fresh run will differ (make the command "
                                        "print something stable, or add a pattern with its "
                                        "reason)"))
    return problems


def text_in_sync(lesson: Lesson) -> list[Problem]:
    """The paired text source exists and holds the notebook's cells."""
    from labkit.authoring import textsource

    rule = "text-in-sync"
    if lesson.pairing is None:
        if not lesson.require_text:
            return []
        return [Problem(rule, "no text source is paired with this notebook (jupytext.toml at "
                        "the repository root pairs notebooks/*.ipynb with lessons/*.md)")]
    if lesson.text is None:
        return [Problem(rule, f"its text source {lesson.pairing.text.name} is missing: "
                        "`labkit lesson sync` writes it")]
    found = textsource.cells_out_of_sync(lesson.nb, lesson.text, lesson.pairing)
    problems = []
    for text in found:
        m = re.match(r"cell (\d+): (.*)", text)
        if m and int(m.group(1)) <= len(lesson.cells):
            problems.append(_at(lesson, int(m.group(1)) - 1, rule,
                                f"{m.group(2)} ({lesson.pairing.text.name}): `labkit lesson "
                                "sync` brings them in step"))
        else:
            problems.append(Problem(rule, f"{text} ({lesson.pairing.text.name})"))
    return problems


# -- own state --

#: what exists right after `lab.reset()`: Docker's bridge and its networks, nothing else
PREEXISTING: dict[str, set[str]] = {
    "container": set(), "namespace": set(), "bridge": {"docker0"},
    "network": {"bridge", "host", "none"},
}


@dataclass
class _State:
    created: dict[str, set[str]] = field(
        default_factory=lambda: {k: set(v) for k, v in PREEXISTING.items()})


def lab_commands(cell: dict) -> list[str]:
    """The shell text a cell sends to the lab: a `%%lab` body, `%lab` lines, and the string
    literals given to `lab.run(...)`/`lab.sh(...)`."""
    src = source(cell)
    if src.lstrip().startswith("%%lab"):
        return [src.lstrip().split("\n", 1)[1] if "\n" in src.lstrip() else ""]
    found = [m.group(1) for m in re.finditer(r"(?m)^\s*%lab\s+(.*)$", src)]
    for m in re.finditer(r"\blab\.(?:run|sh)\(\s*[rf]?(\"\"\"|'''|\"|')(.*?)(?<!\\)\1", src,
                         re.S):
        found.append(m.group(2))
    return found


def _simple_commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script as word lists (a heuristic, not a shell):
    split at ; && || | ( ) and new lines, without redirections and comments."""
    script = script.replace("\\\n", " ")
    commands: list[list[str]] = []
    pending = ""
    for line in script.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        lex = shlex.shlex(pending, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        try:
            tokens = list(lex)
        except ValueError:  # an open quote: the command goes on on the next line
            continue
        pending = ""
        words: list[str] = []
        skip_next = False
        for tok in tokens:
            if skip_next:
                skip_next = False
                continue
            if tok and set(tok) <= set(";&|()"):
                if words:
                    commands.append(words)
                words = []
            elif tok and set(tok) <= set("<>&"):
                skip_next = True  # the redirection's target
                if words and words[-1].isdigit():
                    words.pop()  # the "2" of "2> /dev/null"
            else:
                tok = tok[:-1] if tok.endswith("$") else tok  # "x=$(...": the "$" of "$("
                if tok:
                    words.append(tok)
        if words:
            commands.append(words)
    return commands


_OPTS_WITH_VALUE = {"-e", "--env", "-u", "--user", "-w", "--workdir", "-f", "--format",
                    "-t", "--time", "-s", "--signal", "--env-file", "--detach-keys", "-n",
                    "--tail", "--since", "--until"}
_CONTAINER_VERBS = {"exec", "port", "logs", "stop", "start", "restart", "kill", "rm", "pause",
                    "unpause", "top", "attach", "stats", "wait", "rename", "diff", "export"}


def _positionals(words: list[str]) -> list[str]:
    out, skip = [], False
    for w in words:
        if skip:
            skip = False
        elif w.startswith("-"):
            skip = w in _OPTS_WITH_VALUE
        else:
            out.append(w)
    return out


def uses_and_creations(words: list[str]) -> list[tuple[str, str, str]]:
    """(action, kind, name) for one simple command: action "use" or "make"; kind one of
    container, namespace, bridge, network (pure, heuristic)."""
    while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
        words = words[1:]  # VAR=value before the command
    if not words:
        return []
    cmd, args = words[0], words[1:]
    if cmd in ("sudo", "nohup", "exec", "time", "env"):
        return uses_and_creations(args)
    if cmd == "timeout":
        rest = [a for a in args if not a.startswith("-")]
        return uses_and_creations(rest[1:]) if rest else []
    if cmd == "docker":
        return _docker(args)
    if cmd == "ip":
        return _ip(args)
    if cmd == "brctl":
        return _brctl(args)
    if cmd == "bridge":
        return [("use", "bridge", args[i + 1]) for i, a in enumerate(args[:-1])
                if a in ("br", "master")]
    return []


def _docker(args: list[str]) -> list[tuple[str, str, str]]:
    if args[:1] == ["container"]:
        args = args[1:]
    if not args:
        return []
    verb, rest = args[0], args[1:]
    found: list[tuple[str, str, str]] = []
    if verb in ("run", "create"):
        for i, a in enumerate(rest):
            value = rest[i + 1] if i + 1 < len(rest) else ""
            if a == "--name" or a.startswith("--name="):
                found.append(("make", "container", a.split("=", 1)[1] if "=" in a else value))
            if a in ("--network", "--net") or a.startswith(("--network=", "--net=")):
                net = a.split("=", 1)[1] if "=" in a else value
                if net.startswith("container:"):
                    found.append(("use", "container", net.split(":", 1)[1]))
                elif net:
                    found.append(("use", "network", net))
        return found
    if verb in _CONTAINER_VERBS:
        pos = _positionals(rest)
        names = pos[:1] if verb in ("exec", "port", "logs", "top", "attach", "rename") else pos
        return [("use", "container", n) for n in names]
    if verb == "network" and rest:
        sub, pos = rest[0], _positionals(rest[1:])
        if sub == "create" and pos:
            return [("make", "network", pos[-1])]
        if sub in ("inspect", "rm") and pos:
            return [("use", "network", n) for n in pos]
        if sub in ("connect", "disconnect") and len(pos) >= 2:
            return [("use", "network", pos[0]), ("use", "container", pos[1])]
    return []


def _ip(args: list[str]) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    ns = None
    while args and args[0].startswith("-"):
        if args[0] in ("-n", "-netns", "--netns") and len(args) > 1:
            ns = args[1]
            found.append(("use", "namespace", ns))
            args = args[2:]
        else:
            args = args[1:]
    if not args:
        return found
    obj, rest = args[0], args[1:]
    if obj == "netns" and rest:
        sub = rest[0]
        if sub in ("add", "attach") and len(rest) > 1:
            return found + [("make", "namespace", rest[1])]
        if sub == "exec" and len(rest) > 1:
            return found + [("use", "namespace", rest[1])] + uses_and_creations(rest[2:])
        if sub in ("del", "delete", "pids") and len(rest) > 1:
            return found + [("use", "namespace", rest[1])]
        return found
    if obj in ("link", "l", "addr", "a", "address", "route", "r", "neigh"):
        for i, word in enumerate(rest[:-1]):
            value = rest[i + 1]
            if word == "netns" and not value.isdigit():
                found.append(("use", "namespace", value))
            if word == "master" and ns is None:
                found.append(("use", "bridge", value))
        if obj in ("link", "l") and rest[:1] == ["add"] and "type" in rest and ns is None:
            kind = rest[rest.index("type") + 1] if rest.index("type") + 1 < len(rest) else ""
            pos = [w for w in rest[1:rest.index("type")] if w != "name"]
            if kind == "bridge" and pos:
                found.append(("make", "bridge", pos[-1]))
    return found


def _brctl(args: list[str]) -> list[tuple[str, str, str]]:
    if len(args) < 2:
        return []
    if args[0] == "addbr":
        return [("make", "bridge", args[1])]
    if args[0] in ("delbr", "addif", "delif", "show", "showmacs", "showstp", "stp",
                   "setageing", "setfd"):
        return [("use", "bridge", args[1])]
    return []


def own_state(lesson: Lesson) -> list[Problem]:
    """Every container, namespace, bridge and Docker network a cell uses was made by an
    earlier cell of this lesson (after its last `lab.reset()`), not by a previous lesson.
    A heuristic over the lesson's own commands."""
    events: list[tuple[int, str, str, str]] = []  # (index, action, kind, name)
    for index, cell in _code_cells(lesson):
        if re.search(r"\blab\.reset\(", source(cell)) and not source(cell).startswith("%%"):
            events.append((index, "reset", "", ""))
        for script in lab_commands(cell):
            for words in _simple_commands(script):
                for action, kind, name in uses_and_creations(words):
                    if name and not name.startswith("$"):  # "$veth": known only at run time
                        events.append((index, action, kind, name))
    made_at: dict[tuple[str, str], int] = {}
    for index, action, kind, name in events:
        if action == "make":
            made_at.setdefault((kind, name), index)
    state = _State()
    problems: list[Problem] = []
    reported: set[tuple[str, str]] = set()
    for index, action, kind, name in events:
        if action == "reset":
            state = _State()
        elif action == "make":
            state.created[kind].add(name)
        elif name not in state.created[kind] and (kind, name) not in reported:
            reported.add((kind, name))
            later = made_at.get((kind, name))
            what = {"container": "starts", "namespace": "makes", "bridge": "makes",
                    "network": "creates"}[kind]
            if later is not None and later > index:
                why = (f"which this lesson only {what} later, in cell {later + 1}: "
                       "move that step before this one")
            else:
                why = (f"which no earlier cell of this lesson {what} after its reset (state "
                       "left by another lesson?): build it here, so the lesson runs on its own")
            problems.append(_at(lesson, index, "own-state", f"uses the {kind} {name}, {why}"))
    return problems


# -- nbval markers --


def ignore_reason(lesson: Lesson) -> list[Problem]:
    """`# NBVAL_IGNORE_OUTPUT` (or `NBVAL_SKIP`, or their tags) only with a reason: a comment
    line right above or below the marker (nbval wants the marker alone on its line)."""
    problems = []
    rule = "ignore-reason"
    for index, cell in _code_cells(lesson):
        lines = source(cell).splitlines()
        for i, line in enumerate(lines):
            text = line.strip().lstrip("#").strip()
            if not line.strip().startswith("#"):
                continue
            near = next((m for m in NBVAL_MARKERS if text.startswith(m)), None)
            if near is None:
                continue
            if text != near:
                problems.append(_at(lesson, index, rule, f"nbval does not see `{line.strip()}`:"
                                    " the marker must be alone on its line; put the reason on "
                                    "the comment line above it"))
                continue
            if near not in ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP",
                            "PYTEST_VALIDATE_IGNORE_OUTPUT"):
                continue
            around = [lines[j].strip() for j in (i - 1, i + 1) if 0 <= j < len(lines)]
            if not any(_is_reason(a) for a in around):
                problems.append(_at(lesson, index, rule, f"{near} without a reason: say why "
                                    "this output cannot be made stable, in a comment line right "
                                    "above the marker"))
        tags = {t.upper().replace("-", "_") for t in
                cell.get("metadata", {}).get("tags", []) or []}
        if tags & {"NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP"}:
            if not any(_is_reason(ln.strip()) for ln in lines):
                problems.append(_at(lesson, index, rule, "tagged to ignore its output (or be "
                                    "skipped) without a reason: add a comment line saying why"))
    return problems


def _is_reason(line: str) -> bool:
    if not line.startswith("#"):
        return False
    text = line.lstrip("#").strip()
    return len(text.split()) >= 3 and not any(text.startswith(m) for m in NBVAL_MARKERS)


#: every rule, in the order problems are listed
RULES: tuple[tuple[str, Rule], ...] = (
    ("opens-with-reset", opens_with_reset),
    ("metadata", lesson_metadata),
    ("exercise-cells", exercise_cells),
    ("exercise-data", exercise_data),
    ("volatile-output", volatile_output),
    ("text-in-sync", text_in_sync),
    ("own-state", own_state),
    ("ignore-reason", ignore_reason),
)


def check(lesson: Lesson, rules: tuple[tuple[str, Rule], ...] = RULES) -> list[Problem]:
    """Every problem every rule finds, sorted by cell (lesson-wide ones first)."""
    problems = [p for _, rule in rules for p in rule(lesson)]
    return sorted(problems, key=lambda p: (p.cell or 0))


def lesson_paths(paths: list[str | Path] | None, default: str | Path = "notebooks") -> list[Path]:
    """The lessons named (files, or folders holding NN-name.ipynb); none named: `default`."""
    found: list[Path] = []
    if not paths and not Path(default).exists():
        # Run from elsewhere: the course checkout's lessons (compose finds that checkout).
        from labkit.hosts.compose import ComposeMissing, find_project_dir

        try:
            default = find_project_dir() / default
        except ComposeMissing:
            pass
    for p in [Path(x) for x in (paths or [default])]:
        if p.is_dir():
            found += sorted(p.glob("[0-9][0-9]-*.ipynb"))
        else:
            found.append(p)
    return found
