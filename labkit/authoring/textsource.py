"""Each lesson's text source: the notebook's cells as MyST Markdown, paired by jupytext.

`jupytext.toml` at the repository root pairs `notebooks/NN-name.ipynb` (the artefact learners
open and nbval checks, stored with outputs) with `lessons/NN-name.md` (no outputs: what an
instructor reads, diffs and reviews). Both hold the same cells; this module says whether they
do and brings them back in step:

* `pairing_for(path)` finds the text source of a notebook through jupytext's own
  configuration (the same file JupyterLab's jupytext contents manager reads), or None;
* `render(nb, pairing)` is the text the notebook should have (pure);
* `cells_out_of_sync(nb, text, pairing)` names the cells changed, added or removed, the two
  cell lists aligned by difflib (pure);
* `sync(path)` writes whichever side is older from the newer one (outputs always stay in the
  notebook; a cell whose source changed keeps its old outputs until `labkit lesson build`).

jupytext is an authoring dependency (`pip install jupytext`); learners do not need it.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.authoring.cells import source as _source
from labkit.errors import UsageError


def _jupytext():
    try:
        import jupytext
    except ImportError:  # an authoring tool: say how to get it, not a traceback
        raise UsageError("the lesson commands need jupytext, which is not installed here",
                         hint="pip install 'jupytext>=1.16,<2' (or `make test`, whose "
                              ".venv has it)") from None
    return jupytext


@dataclass(frozen=True)
class Pairing:
    """Where a notebook's text source lives and how jupytext writes it."""

    notebook: Path
    text: Path
    fmt: dict[str, Any]  # jupytext's format of the text side ({"extension": ".md", ...})
    config: Any  # jupytext.config.JupytextConfiguration (filters, format options)


def pairing_for(path: str | Path) -> Pairing | None:
    """The text source paired with the notebook at `path` by the nearest jupytext config
    (looked up from the notebook's folder upwards), or None when nothing pairs it."""
    _jupytext()
    from jupytext.config import (
        find_jupytext_configuration_file,
        load_jupytext_configuration_file,
    )
    from jupytext.paired_paths import InconsistentPath, paired_paths

    path = Path(path).resolve()
    found = find_jupytext_configuration_file(str(path.parent))
    if not found:
        return None
    config = load_jupytext_configuration_file(found)
    formats = config.formats
    if isinstance(formats, (list, tuple)):
        formats = ",".join(formats)
    if not formats:
        return None
    try:
        pairs = paired_paths(str(path), "ipynb", formats)
    except InconsistentPath:  # e.g. a notebook outside notebooks/: not a paired lesson
        return None
    for other, fmt in pairs:
        if Path(other) != path and fmt.get("extension") != ".ipynb":
            return Pairing(path, Path(other), dict(fmt), config)
    return None


def as_notebook(nb: dict):
    """An nbformat NotebookNode of the notebook JSON `nb` (a copy; sources as strings, as
    nbformat.read gives them, whether `nb` came from json.load or nbformat)."""
    import nbformat
    from nbformat.v4.rwbase import rejoin_lines

    # keys sorted, as nbformat stores them: jupytext writes metadata in dict order
    return rejoin_lines(nbformat.from_dict(json.loads(json.dumps(nb, sort_keys=True))))


def render(nb: dict, pairing: Pairing) -> str:
    """The text source the notebook `nb` (its JSON) should have (pure)."""
    jupytext = _jupytext()

    node = as_notebook(nb)
    node.metadata.get("labkit", {}).pop(STAMP, None)  # bookkeeping, not the lesson's text
    return jupytext.writes(node, pairing.fmt, config=pairing.config)


def parse(text: str, pairing: Pairing) -> dict:
    """The notebook (without outputs) a text source describes (pure)."""
    jupytext = _jupytext()

    return jupytext.reads(text, pairing.fmt, config=pairing.config)


@dataclass(frozen=True)
class Difference:
    """One way the text source differs from the notebook. `kind`: "changed" (a cell both
    have), "notebook-only", "text-only" or "layout" (same cells, laid out differently).
    `cell` is the notebook's cell it concerns (1 = first); for a text-only cell, the notebook
    cell it would follow (0: before the first)."""

    kind: str
    message: str
    cell: int | None = None

    def __str__(self) -> str:
        return self.message if self.kind in ("layout", "text-only") else (
            f"cell {self.cell}: {self.message}")


#: what `cells_out_of_sync` says when only the layout differs
FORMATTING_ONLY = Difference("layout", "the text source is laid out differently (same cells): "
                             "`labkit lesson sync` rewrites it")


def _cell_key(cell: dict) -> tuple:
    meta = {k: v for k, v in cell.get("metadata", {}).items() if k != "jupytext"}
    return cell["cell_type"], _source(cell).rstrip("\n"), json.dumps(meta, sort_keys=True)


def _what_differs(a: tuple, b: tuple) -> str:
    return "its type" if a[0] != b[0] else "its source" if a[1] != b[1] else "its metadata"


def _first_line(key: tuple) -> str:
    """How a cell is named in a message: its kind and first line that says something
    ("a %%lab cell 'ip link show'", "a markdown cell '## Exercise: ...'")."""
    lines = [ln.strip() for ln in key[1].splitlines() if ln.strip()]
    kind = f"a {key[0]} cell"
    if lines and lines[0].startswith("%%"):
        kind, lines = f"a {lines[0].split()[0]} cell", lines[1:]
    if not lines:
        return f"{kind} (empty)"
    return f"{kind} {lines[0][:60] + '…' if len(lines[0]) > 60 else lines[0]!r}"


def compare_cells(want: list[tuple], have: list[tuple]) -> list[Difference]:
    """The differences between the notebook's cells (`want`) and the text's (`have`), as
    `_cell_key`s, aligned by difflib so that one inserted cell is one difference (pure).
    Where a run of cells was replaced, they are paired in order as changed cells; what is
    left over was added or removed."""
    found: list[Difference] = []
    matcher = difflib.SequenceMatcher(None, want, have, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        paired = min(i2 - i1, j2 - j1)
        for k in range(paired):
            found.append(Difference("changed", f"{_what_differs(want[i1 + k], have[j1 + k])} "
                                    "differs from the text source", i1 + k + 1))
        for i in range(i1 + paired, i2):
            found.append(Difference("notebook-only", "the text source lacks this cell", i + 1))
        for j in range(j1 + paired, j2):
            after = i1 + paired  # the notebook cell it follows (1 = first; 0: none)
            where = f"after cell {after}" if after else "before the first cell"
            found.append(Difference("text-only", f"the text source has {_first_line(have[j])}"
                                    f" {where}, which the notebook lacks", after))
    return found


def cells_out_of_sync(nb: dict, text: str, pairing: Pairing) -> list[Difference]:
    """What differs between the notebook and its text source, one `Difference` per cell
    added, removed or changed; [] when they agree (pure)."""
    if render(nb, pairing) == text:
        return []
    # Compare both sides after the same trip through jupytext, so only real differences
    # (a source, a cell's role metadata, a cell added or removed) count.
    want = [_cell_key(c) for c in parse(render(nb, pairing), pairing)["cells"]]
    have = [_cell_key(c) for c in parse(text, pairing)["cells"]]
    return compare_cells(want, have) or [FORMATTING_ONLY]


def notebook_from_text(text: str, nb: dict, pairing: Pairing) -> dict:
    """`nb` with the cells of the text source, keeping the outputs, ids and execution counts
    of the cells that did not change (jupytext's own merge; pure)."""
    _jupytext()
    import nbformat
    from jupytext.combine import combine_inputs_with_outputs

    parsed = parse(text, pairing)
    merged = combine_inputs_with_outputs(nbformat.from_dict(parsed), as_notebook(nb),
                                         pairing.fmt)
    merged.metadata.pop("jupytext", None)  # the pairing lives in jupytext.toml, not here
    # The lesson's own metadata (number, title, exercises) is the text's too; jupytext's
    # merge kept the notebook's. The sync stamps stay the notebook's bookkeeping.
    said = parsed.get("metadata", {}).get("labkit")
    if said is not None:
        stamps = merged.metadata.get("labkit", {}).get(STAMP)
        merged.metadata["labkit"] = {**{k: v for k, v in said.items() if k != STAMP},
                                     **({STAMP: stamps} if stamps is not None else {})}
    for cell in merged.cells:
        cell.metadata.pop("jupytext", None)
    return merged


#: nb.metadata["labkit"][STAMP]: a short digest of each cell as it was when the notebook was
#: last synced or built. A cell whose digest is not there was added or edited since, in the
#: notebook (a learner's own work); a cell that is there may be replaced by the text's.
STAMP = "synced_cells"
BACKUPS = ".labkit-backups"


def cell_digest(cell: dict) -> str:
    """What a cell says (type and source; not outputs or metadata), in 12 hex digits (pure)."""
    import hashlib

    said = json.dumps([cell["cell_type"], _source(cell).rstrip("\n")])
    return hashlib.sha256(said.encode()).hexdigest()[:12]


def stamp(nb: Any) -> bool:
    """Record the notebook's cells as synced; True when the stamp changed."""
    meta = nb.metadata.setdefault("labkit", {})
    digests = [cell_digest(c) for c in nb.cells]
    changed = meta.get(STAMP) != digests
    meta[STAMP] = digests
    return changed


def unchanged_since_sync(nb: dict) -> bool:
    """Are the notebook's cells exactly those it was last synced or built with? (pure;
    False without a stamp)"""
    synced = nb.get("metadata", {}).get("labkit", {}).get(STAMP)
    return synced is not None and list(synced) == [cell_digest(c) for c in nb.get("cells", [])]


def would_lose(nb: dict, text: str, pairing: Pairing) -> list[int]:
    """Notebook cells (1 = first) that taking the text source would throw away: added or
    edited in the notebook since it was last synced, and not in the text (pure). Without a
    stamp every cell the text lacks counts."""
    synced = set(nb.get("metadata", {}).get("labkit", {}).get(STAMP) or ())
    have = {_cell_key(c)[:2] for c in parse(text, pairing)["cells"]}
    return [n for n, c in enumerate(nb.get("cells", []), 1)
            if cell_digest(c) not in synced
            and (c["cell_type"], _source(c).rstrip("\n")) not in have]


def backup(path: Path) -> Path:
    """Copy a notebook aside before it is rewritten: `.labkit-backups/NAME.TIME.ipynb`."""
    import shutil
    import time

    folder = path.parent / BACKUPS
    folder.mkdir(exist_ok=True)
    target = folder / f"{path.stem}.{time.strftime('%Y%m%d-%H%M%S')}.ipynb"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{path.stem}.{time.strftime('%Y%m%d-%H%M%S')}-{n}.ipynb"
    shutil.copy2(path, target)
    return target


def _meta_differs(nb: Any, text: str, pairing: Pairing) -> bool:
    """Does the text's header say other lesson metadata (exercises, title) than the
    notebook? Not a formatting difference: a sync from the text must take it."""
    said = parse(text, pairing).get("metadata", {}).get("labkit") or {}
    has = nb.get("metadata", {}).get("labkit") or {}
    return ({k: v for k, v in said.items() if k != STAMP}
            != {k: v for k, v in has.items() if k != STAMP})


def notebook_of(path: str | Path) -> Path:
    """The lesson's notebook for a path naming it or its text source (lessons/NN-name.md:
    the same pair, so every lesson command takes either)."""
    path = Path(path)
    if path.suffix == ".md" and path.parent.name == "lessons":
        return path.parent.parent / "notebooks" / f"{path.stem}.ipynb"
    return path


def sync(path: str | Path, prefer: str = "newer", force: bool = False) -> str:
    """Bring a notebook and its text source in step; returns what was done, in words.

    `prefer`: "newer" (the file modified last wins, as `jupytext --sync` does), "text" or
    "notebook". A missing text source is always written from the notebook. A notebook edited
    since it was last synced is not overwritten from the text (`UsageError`) unless `force`;
    whenever it is rewritten, a copy goes to `.labkit-backups/` beside it."""
    import nbformat

    if prefer not in ("newer", "text", "notebook"):
        raise UsageError(f"unknown side {prefer!r} (must be one of ['newer', 'text', 'notebook'])")
    path = notebook_of(path)
    pairing = pairing_for(path)
    if pairing is None:
        raise UsageError(f"{path} has no paired text source",
                         hint="jupytext.toml at the repository root pairs notebooks/*.ipynb "
                              "with lessons/*.md")
    if not path.exists():
        if not pairing.text.exists():
            raise UsageError(f"there is no lesson {path}, and no text source {pairing.text} to "
                             "make it from",
                             hint="`labkit lesson new NN-name` starts a lesson")
        # A lesson written as text first: its notebook, with no outputs yet.
        made = notebook_from_text(pairing.text.read_text(encoding="utf-8"),
                                  nbformat.v4.new_notebook(), pairing)
        nbformat.validate(made)
        stamp(made)
        nbformat.write(made, path)
        _write_text(pairing, render(made, pairing))  # jupytext's canonical layout
        return (f"wrote {path} from {pairing.text} (new: `labkit lesson build {path}` stores "
                "its outputs)")
    nb = nbformat.read(path, as_version=4)
    if not pairing.text.exists():
        _write_text(pairing, render(nb, pairing))
        _stamp_file(nb, path)
        return f"wrote {pairing.text} (new)"
    text = pairing.text.read_text(encoding="utf-8")
    differences = cells_out_of_sync(nb, text, pairing)
    if not differences:
        _stamp_file(nb, path)
        return "in sync"
    # "newer": a notebook whose cells are all as last synced did not change, so the text did,
    # whatever the files' times say (a git checkout or merge gives both new times). Only
    # when the notebook changed too does the file written last win.
    from_text = prefer == "text" or (prefer == "newer" and (
        unchanged_since_sync(nb)
        or pairing.text.stat().st_mtime > path.stat().st_mtime))
    if from_text and (differences != [FORMATTING_ONLY] or _meta_differs(nb, text, pairing)):
        lost = would_lose(nb, text, pairing)
        if lost and not force:
            raise UsageError(
                f"{path} was edited since it was last synced, and {pairing.text} lacks its "
                f"cell(s) {', '.join(map(str, lost))}: taking the text would lose them. "
                "Nothing was changed.",
                hint=f"keep the notebook's cells: `labkit lesson sync --from notebook {path}`; "
                "take the text anyway (a backup is kept in .labkit-backups/): add --force.")
        merged = notebook_from_text(text, nb, pairing)
        nbformat.validate(merged)
        saved = backup(path)
        stamp(merged)
        nbformat.write(merged, path)
        _write_text(pairing, render(merged, pairing))  # jupytext's canonical layout
        return (f"updated {path} from {pairing.text} (changed cells keep their old outputs: "
                f"`labkit lesson build` refreshes them; the old notebook is in {saved})")
    _write_text(pairing, render(nb, pairing))
    _stamp_file(nb, path)
    return f"updated {pairing.text} from {path}"


def text_only(folder: str | Path) -> list[Path]:
    """The notebooks of `folder` that do not exist yet but whose text source does (a lesson
    written as text first), as paths to sync."""
    folder = Path(folder)
    first = next(iter(sorted(folder.glob("[0-9][0-9]-*.ipynb"))), None)
    pairing = pairing_for(first) if first else None
    if pairing is None:
        return []
    return [folder / f"{md.stem}.ipynb" for md in sorted(pairing.text.parent.glob(
        "[0-9][0-9]-*.md")) if not (folder / f"{md.stem}.ipynb").exists()]


def _stamp_file(nb: Any, path: Path) -> None:
    """Stamp the notebook on disk as synced (only its metadata changes)."""
    import nbformat

    if stamp(nb):
        nbformat.write(nb, path)


def _write_text(pairing: Pairing, text: str) -> None:
    pairing.text.parent.mkdir(parents=True, exist_ok=True)
    pairing.text.write_text(text, encoding="utf-8")
