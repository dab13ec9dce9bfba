"""An nginx reverse proxy's routes, read from the config file it was given: pure, no I/O.

Lesson 14's "small script" (standing in for an ingress controller) renders nginx.conf from an
Ingress: an `upstream` of the pods' addresses per backend, a `server` per host and a `location`
per path, each `proxy_pass`ing to an upstream or `return`ing a status. This module reads such
a file back into routes, host + path → the upstream's servers, and names the Service whose
endpoints (as kube-proxy wrote them, labkit.model.services) are exactly those servers: the
picture is drawn from what nginx was given, never from the Ingress the learner typed.

Only the file itself is read, not the files it `include`s: Debian's own nginx.conf keeps its
sites in included files, and its nginx is a web server here, not a proxy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from labkit.model.services import Service

__all__ = ["HttpRoute", "NginxSyntaxError", "parse", "resolve", "route_order", "routes_from_conf"]


class NginxSyntaxError(ValueError):
    """The file does not parse (an unclosed brace, a directive with no `;`)."""


@dataclass(frozen=True)
class HttpRoute:
    """One `location` of one `server` of an nginx in the lab, as its config file says."""

    namespace: str  # where that nginx runs: the pod "our-ingress"
    host: str | None  # the server's server_name(s); None: a server with none (any host)
    path: str  # the location's prefix: "/svc-1"
    upstream: str | None = None  # proxy_pass http://NAME...: NAME
    servers: tuple[str, ...] = ()  # the upstream's `server` addresses ("10.244.2.2:80")
    status: str | None = None  # `return 503`: "503"
    service: str | None = None  # the Service whose endpoints are exactly `servers` (resolve)

    @property
    def target(self) -> str:
        """Where it sends, shortest first: the Service, else the servers, else the status."""
        if self.service:
            return f"svc {self.service}"
        if self.servers:
            return ", ".join(self.servers)
        if self.status:
            return self.status
        return self.upstream or "?"

    def __str__(self) -> str:
        host = self.host or "any host"
        via = f" (upstream {self.upstream}: {', '.join(self.servers) or 'no server'})" \
            if self.upstream and self.service else ""
        return f"http route {self.namespace}: {host} {self.path} → {self.target}{via}"


def routes_from_conf(namespace: str, text: str) -> tuple[HttpRoute, ...]:
    """The routes of one nginx config file (raises NginxSyntaxError)."""
    tree = parse(text)
    http = [block for d, _, block in tree if d == "http" and block is not None] or [tree]
    upstreams: dict[str, tuple[str, ...]] = {}
    out = []
    for body in http:
        for d, args, block in body:
            if d == "upstream" and args and block is not None:
                upstreams[args[0]] = tuple(a[0] for name, a, _ in block
                                           if name == "server" and a)
        for d, _, block in body:
            if d == "server" and block is not None:
                out += _server_routes(namespace, block)
    return tuple(sorted((replace(r, servers=upstreams.get(r.upstream, ())) if r.upstream
                         else r for r in out), key=route_order))


def route_order(r: HttpRoute) -> tuple:
    """By nginx, then host (the server with no name, any other host, last), then path with
    `/` last: it takes what no longer prefix does."""
    return (r.namespace, r.host is None, r.host or "", r.path == "/", r.path)


def _server_routes(namespace: str, body: list[Directive]) -> list[HttpRoute]:
    names = [a for d, args, _ in body if d == "server_name" for a in args if a != '""']
    host = " ".join(names) or None
    out = []
    for d, args, block in body:
        if d != "location" or not args or block is None:
            continue
        path = args[-1]  # `location = /x`, `location ~ re`: the pattern is the last word
        route = HttpRoute(namespace, host, path)
        for name, a, _ in block:
            if name == "proxy_pass" and a:
                m = re.match(r"^\w+://([^/:$]+)", a[0])
                route = replace(route, upstream=m[1] if m else a[0])
            elif name == "return" and a:
                route = replace(route, status=a[0])
        if route.upstream or route.status:
            out.append(route)
    return out


def resolve(routes: Iterable[HttpRoute], services: Iterable[Service]) -> tuple[HttpRoute, ...]:
    """Each route named by the Service whose endpoints kube-proxy sends to are exactly the
    route's servers (ingress-nginx and our script send to the pods, not the cluster IP)."""
    by_backends: dict[frozenset[str], str] = {}
    for svc in sorted(services, key=lambda s: s.name):
        if svc.backends:
            name = svc.label.partition(":")[0]
            by_backends.setdefault(frozenset(b.address for b in svc.backends), name)
    return tuple(replace(r, service=by_backends.get(frozenset(r.servers)) if r.servers else None)
                 for r in routes)


# --- the file's grammar: directives ending in `;`, blocks in braces, `#` comments --------

Directive = tuple[str, list[str], "list[Directive] | None"]

_TOKEN = re.compile(r"""\s+|\#[^\n]*|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[{};]|[^\s{};"'#]+""")


def _tokens(text: str) -> Iterator[str]:
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # an unclosed quote
            line = text.count("\n", 0, pos) + 1
            raise NginxSyntaxError(f"line {line}: unclosed quote")
        tok = m[0]
        pos = m.end()
        if tok[0].isspace() or tok[0] == "#":
            continue
        if tok[0] in "\"'":
            tok = tok[1:-1] or '""'
        yield tok


def parse(text: str) -> list[Directive]:
    """The file as nested directives: (name, arguments, block or None)."""
    stack: list[list[Directive]] = [[]]
    words: list[str] = []
    for tok in _tokens(text):
        if tok == ";":
            if not words:
                raise NginxSyntaxError("a `;` with no directive before it")
            stack[-1].append((words[0], words[1:], None))
            words = []
        elif tok == "{":
            if not words:
                raise NginxSyntaxError("a `{` with no directive before it")
            block: list[Directive] = []
            stack[-1].append((words[0], words[1:], block))
            stack.append(block)
            words = []
        elif tok == "}":
            if words or len(stack) == 1:
                raise NginxSyntaxError("a `}` that closes nothing, or a directive with no `;`")
            stack.pop()
        else:
            words.append(tok)
    if words or len(stack) > 1:
        raise NginxSyntaxError("the file ends inside a block or a directive")
    return stack[0]
