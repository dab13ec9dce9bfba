"""nbval's sanitize file (tests/nbval-sanitize.cfg), read by nbval's own parser: the lint
checks stored outputs against it and the replay tests compare through it, so both must see
exactly the patterns nbval applies."""

from __future__ import annotations

import re
from pathlib import Path

from labkit.errors import UsageError

#: where a repository keeps it, relative to its root
SANITIZE_FILE = Path("tests") / "nbval-sanitize.cfg"

Patterns = tuple[tuple[str, str], ...]


def sanitize_patterns(text: str) -> Patterns:
    """The (regex, replace) pairs of a sanitize file, as nbval applies them: its own parser
    (a `regex:` line directly followed by its `replace:` line), kept in a dict as nbval keeps
    them (a repeated regex counts once, at its first place, with its last replacement)."""
    try:
        # nbval's plugin module imports pytest: load it only when a sanitize file is read
        from nbval.plugin import get_sanitize_patterns
    except ImportError:  # an authoring tool: say how to get it, not a traceback
        raise UsageError("reading the nbval sanitize file needs nbval, which is not installed "
                         "here", hint="pip install 'nbval>=0.11' (or `make test`, whose .venv "
                         "has it)") from None
    return tuple(dict(get_sanitize_patterns(text)).items())


def read_sanitize_file(path: str | Path) -> Patterns:
    return sanitize_patterns(Path(path).read_text(encoding="utf-8"))


def find_sanitize_file(path: Path) -> Path | None:
    """tests/nbval-sanitize.cfg in the notebook's folder or the nearest folder above it."""
    for folder in [path.parent, *path.parent.parents]:
        if (folder / SANITIZE_FILE).is_file():
            return folder / SANITIZE_FILE
    return None


def sanitized(text: str, patterns: Patterns) -> str:
    """What nbval compares: the text after every pattern, in order (`re.sub`, as nbval)."""
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    return text
