"""An nginx proxy's routes in the drawing (issue 16): pure DOT text, from its config file.

The routes (labkit.model.nginx) are small lines in the box of the namespace that nginx runs
in (lesson 14's pod our-ingress), under their server's hosts in italics: `/svc-1 → pods of
test-svc-1`. A route names the Service whose endpoints are its upstream's servers; nginx
itself connects to those pods' addresses, not to the Service's cluster IP, so no arrow leads
to the Service's box. With a diff, a route the cell added or sent elsewhere is highlighted; one
it removed is struck out.
"""

from __future__ import annotations

from collections.abc import Callable

from labkit.draw.style import ADDED, REMOVED
from labkit.model.nginx import HttpRoute, route_order
from labkit.model.topology import Topology

#: characters a line may take before it is broken (draw `_wrapped`): about the width of a
#: pod's own lines ("pod: pause + lab-web"), so the pods' column stays as it was
WIDTH = 24


def route_lines(topo: Topology, before: Topology | None, namespace: str,
                html: Callable[[str], str]) -> str:
    """The routes of the nginx in `namespace`, as lines for its box's label ("" if none)."""
    def mine(t: Topology) -> dict[tuple[str, str, str, str], HttpRoute]:
        return {r.key: r for r in t.http_routes if r.namespace == namespace}

    now = mine(topo)
    was = mine(before) if before is not None else now
    if not now and not was:
        return ""
    rows: list[tuple[HttpRoute, str]] = []
    for key in now.keys() | was.keys():
        r = now.get(key) or was[key]
        status = ("removed" if key not in now else "added" if key not in was
                  else "changed" if now[key] != was[key] else "")
        rows.append((r, status))
    rows.sort(key=lambda x: route_order(x[0]))
    out, server = [f"<b>{html('nginx.conf routes')}</b>"], None
    for r, status in rows:
        if r.key[:3] != server:
            server = r.key[:3]
            out += [f"<i>{html(line)}</i>" for line in _wrapped(r.hosts)]
        for line in _wrapped(f"{r.path} → {r.target}"):
            text = html(line)
            if status == "removed":
                text = f'<font color="{REMOVED}"><s>{text}</s></font>'
            elif status:
                text = f'<font color="{ADDED}"><b>{text}</b></font>'
            out.append(text)
    return "".join(f'<br/><font point-size="8">{line}</font>' for line in out)


def _wrapped(text: str) -> list[str]:
    """A line longer than WIDTH broken at its last space that fits, or after a hyphen when
    that space comes early; a few characters at least go on the next line ("test-svc-" and
    "1" read as two names)."""
    lines = []
    while len(text) > WIDTH:
        space, hyphen = text.rfind(" ", 0, WIDTH), text.rfind("-", 0, WIDTH)
        cut = space if space >= WIDTH // 2 or hyphen < 0 else hyphen
        if cut <= 0 or len(text) - cut < 4:
            break
        lines.append(text[:cut + 1].rstrip())
        text = text[cut + 1:]
    return [*lines, text]
