"""The stored outputs, as nbval will compare them: nothing volatile left once the sanitizer
ran (`volatile-output`), and every nbval marker that turns the comparison off comes with a
reason and sits where nbval sees it (`ignore-reason`)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from labkit.authoring.cells import source
from labkit.authoring.lint.lesson import Lesson, Problem, at, code_cells
from labkit.authoring.sanitize import sanitized

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

#: nbval's comment markers (a comment line that is exactly one of these, or the tag
#: spelt in lower case with dashes: `nbval-ignore-output`)
NBVAL_MARKERS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_CHECK_OUTPUT",
                 "NBVAL_RAISES_EXCEPTION", "PYTEST_VALIDATE_IGNORE_OUTPUT")

#: the markers that leave a cell's output uncompared
NOT_CHECKED = {"NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "PYTEST_VALIDATE_IGNORE_OUTPUT"}


def output_texts(outputs: list[dict]) -> Iterator[str]:
    """Every text of the outputs nbval compares (streams, and text in rich outputs)."""
    for out in outputs:
        if out.get("output_type") == "stream":
            yield _join(out.get("text", ""))
        for mime, value in (out.get("data") or {}).items():
            if mime not in NOT_COMPARED and isinstance(value, (str, list)):
                yield _join(value)


def _join(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def _tags(cell: dict) -> set[str]:
    """The cell's tags as nbval markers (`nbval-ignore-output` -> NBVAL_IGNORE_OUTPUT)."""
    return {t.upper().replace("-", "_") for t in cell.get("metadata", {}).get("tags", []) or []}


def nbval_options(cell: dict) -> set[str]:
    """nbval's markers on a cell, by its rules: a comment line that is exactly the marker,
    or a tag (`nbval-ignore-output`, ...)."""
    found = set()
    for line in source(cell).splitlines():
        line = line.strip()
        if line.startswith("#") and line.lstrip("#").strip() in NBVAL_MARKERS:
            found.add(line.lstrip("#").strip())
    return found | (_tags(cell) & set(NBVAL_MARKERS))


def volatile_output(lesson: Lesson) -> list[Problem]:
    """No compared output keeps a run-to-run shape once the sanitizer has run over it."""
    problems = []
    cfg = lesson.sanitize_file.name if lesson.sanitize_file else "the sanitize file"
    for index, cell in code_cells(lesson):
        if nbval_options(cell) & NOT_CHECKED:
            continue
        seen: set[str] = set()
        for text in output_texts(cell.get("outputs", [])):
            clean = sanitized(text, lesson.sanitize)
            for what, regex in VOLATILE:
                m = re.search(regex, clean)
                if m and what not in seen:
                    seen.add(what)
                    problems.append(at(lesson, index, "volatile-output", f"the stored output "
                                       f"shows {what}, {m.group(0).strip()!r}, which {cfg} does "
                                       "not cover: a fresh run will differ (make the command "
                                       "print something stable, or add a pattern with its "
                                       "reason)"))
    return problems


def ignore_reason(lesson: Lesson) -> list[Problem]:
    """`# NBVAL_IGNORE_OUTPUT` (or `NBVAL_SKIP`, or their tags) only with a reason: a comment
    line right above or below the marker (nbval wants the marker alone on its line)."""
    problems = []
    rule = "ignore-reason"
    for index, cell in code_cells(lesson):
        lines = source(cell).splitlines()
        for message in _marker_problems(lines):
            problems.append(at(lesson, index, rule, message))
        if _tags(cell) & {"NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP"}:
            if not any(_is_reason(ln.strip()) for ln in lines):
                problems.append(at(lesson, index, rule, "tagged to ignore its output (or be "
                                   "skipped) without a reason: add a comment line saying why"))
    return problems


def _marker_problems(lines: list[str]) -> Iterator[str]:
    """What is wrong with the comment markers in a cell's lines (pure)."""
    for i, line in enumerate(lines):
        if not line.strip().startswith("#"):
            continue
        text = line.strip().lstrip("#").strip()
        near = next((m for m in NBVAL_MARKERS if text.startswith(m)), None)
        if near is None:
            continue
        if text != near:
            yield (f"nbval does not see `{line.strip()}`: the marker must be alone on its "
                   "line; put the reason on the comment line above it")
            continue
        if near not in NOT_CHECKED:
            continue
        around = [lines[j].strip() for j in (i - 1, i + 1) if 0 <= j < len(lines)]
        if not any(_is_reason(a) for a in around):
            yield (f"{near} without a reason: say why this output cannot be made stable, in a "
                   "comment line right above the marker")


def _is_reason(line: str) -> bool:
    if not line.startswith("#"):
        return False
    text = line.lstrip("#").strip()
    return len(text.split()) >= 3 and not any(text.startswith(m) for m in NBVAL_MARKERS)
