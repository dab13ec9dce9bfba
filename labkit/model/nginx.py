"""An nginx reverse proxy's routes, read from the config file it was given: pure, no I/O.

Lesson 14's "small script" (standing in for an ingress controller) renders nginx.conf from an
Ingress: an `upstream` of the pods' addresses per backend, a `server` per host and a `location`
per path, each `proxy_pass`ing to an upstream or `return`ing a status. This module reads such
a file back into routes, host + path → the upstream's servers, and names the Service whose
endpoints (as kube-proxy wrote them, labkit.model.services) are exactly those servers: the
picture is drawn from what nginx was given, never from the Ingress the learner typed.

Only the file itself is read, not the files it `include`s: Debian's own nginx.conf keeps its
sites in included files, and its nginx is a web server here, not a proxy. Nested locations
count as routes of their own; `if` blocks and rewrites are not followed.
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
    host: str | None  # the server's server_name(s), space-separated; None: it has none
    path: str  # the location as written, modifier included: "/svc-1", "= /healthz"
    listen: str = "80"  # the server's (first) listen port
    default: bool = False  # the server takes the hosts no other server on its port names
    proxy_pass: str | None = None  # the URL as written: "http://test-svc-1-80/"
    upstream: str | None = None  # the `upstream` block that URL names, if any
    servers: tuple[str, ...] = ()  # where nginx connects: the upstream's servers, or the URL's
    status: str | None = None  # `return 503`: "503"
    service: str | None = None  # the Services whose endpoints are exactly `servers` (resolve)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Its identity in a diff and a drawing: which nginx, port, host and location."""
        return (self.namespace, self.listen, self.host or "", self.path)

    @property
    def hosts(self) -> str:
        """The requests its server takes, by Host header: "kubernetes.lab", "any other host"."""
        words = [w for w in (self.host, "any other host" if self.default else None) if w]
        return (", ".join(words) or "an empty Host") + (
            f" (port {self.listen})" if self.listen != "80" else "")

    @property
    def target(self) -> str:
        """What answers: a `return`'s status (nginx answers it before it would proxy), else
        the pods of the Services the servers are, else the servers, else the URL."""
        if self.status:
            return self.status
        if self.service:
            return f"pods of {self.service}"
        if self.servers:
            return ", ".join(self.servers)
        return self.proxy_pass or "?"

    def __str__(self) -> str:
        via = (f" ({self.upstream or self.proxy_pass}: {', '.join(self.servers)})"
               if self.service and not self.status else "")
        return f"http route {self.namespace}: {self.hosts} {self.path} → {self.target}{via}"


def routes_from_conf(namespace: str, text: str) -> tuple[HttpRoute, ...]:
    """The routes of one nginx config file (raises NginxSyntaxError), in route_order."""
    tree = parse(text)
    http = [block for d, _, block in tree if d == "http" and block is not None] or [tree]
    upstreams: dict[str, tuple[str, ...]] = {}
    servers = []
    for body in http:
        for d, args, block in body:
            if d == "upstream" and args and block is not None:
                upstreams[args[0]] = tuple(_address(a[0]) for name, a, _ in block
                                           if name == "server" and a)
            elif d == "server" and block is not None:
                servers.append(block)
    # nginx's default server for a port: the one marked default_server, else its first
    ports = [_listen(b) for b in servers]
    marked = {p for p, d in ports if d}
    first: dict[str, int] = {}
    for i, (port, _) in enumerate(ports):
        first.setdefault(port, i)
    out = []
    for i, (block, (port, mark)) in enumerate(zip(servers, ports, strict=True)):
        default = mark or (port not in marked and first[port] == i)
        out += _server_routes(namespace, block, port, default, upstreams)
    return tuple(sorted(out, key=route_order))


def route_order(r: HttpRoute) -> tuple[str, int, bool, str, bool, str]:
    """By nginx, port, host (a server with no name last), then path with `/` last: it takes
    what no longer prefix does."""
    port = int(r.listen) if r.listen.isdigit() else 0
    return (r.namespace, port, r.host is None, r.host or "", r.path == "/", r.path)


def _listen(body: list[Directive]) -> tuple[str, bool]:
    """A server's first listen port ("80" without one, as nginx run by root) and whether it
    is marked default_server."""
    for d, args, _ in body:
        if d == "listen" and args:
            port = args[0].rpartition(":")[2] if not args[0].isdigit() else args[0]
            return (port if port.isdigit() else "80"), "default_server" in args[1:]
    return "80", False


def _server_routes(namespace: str, body: list[Directive], port: str, default: bool,
                   upstreams: dict[str, tuple[str, ...]]) -> list[HttpRoute]:
    names = [a for d, args, _ in body if d == "server_name" for a in args if a != '""']
    host = " ".join(names) or None
    out = []
    for path, block in _locations(body):
        route = HttpRoute(namespace, host, path, port, default)
        for name, a, _ in block:
            if name == "proxy_pass" and a:
                route = replace(route, proxy_pass=a[0], **_proxied(a[0], upstreams))
            elif name == "return" and a:
                route = replace(route, status=a[0])
        if route.proxy_pass or route.status:
            out.append(route)
    return out


def _locations(body: list[Directive]) -> Iterator[tuple[str, list[Directive]]]:
    """Each location of a server, nested ones too, with its modifier: "= /x", "~ ^/a"."""
    for d, args, block in body:
        if d == "location" and args and block is not None:
            yield " ".join(args), block
            yield from _locations(block)


_URL = re.compile(r"^\w+://(\[[^\]]+\]|[^/:]+)(?::(\d+))?")


def _proxied(url: str, upstreams: dict[str, tuple[str, ...]]) -> dict[str, object]:
    """Where a proxy_pass URL leads: the upstream it names and its servers, or the one
    address it names; nothing for a variable ("http://$backend": known only per request)."""
    m = _URL.match(url)
    if m is None or "$" in m[1]:
        return {}
    if m[2] is None and m[1] in upstreams:
        return {"upstream": m[1], "servers": upstreams[m[1]]}
    return {"servers": (f"{m[1]}:{m[2] or ('443' if url.startswith('https') else '80')}",)}


def _address(server: str) -> str:
    """An upstream `server`'s address with its port (nginx's default is 80)."""
    if server.startswith("unix:") or re.search(r":\d+$", server):
        return server
    return f"{server}:80"


def resolve(routes: Iterable[HttpRoute], services: Iterable[Service]) -> tuple[HttpRoute, ...]:
    """Each route named by the Services whose endpoints, as kube-proxy wrote them, are exactly
    the route's servers (ingress-nginx and our script send to the pods, not the cluster IP);
    two Services with the same endpoints are both named."""
    names: dict[frozenset[str], list[str]] = {}
    for svc in sorted(services, key=lambda s: s.name):
        name = svc.label.partition(":")[0]
        found = names.setdefault(frozenset(b.address for b in svc.backends), [])
        if svc.backends and name not in found:
            found.append(name)
    return tuple(replace(r, service=", ".join(names.get(frozenset(r.servers), [])) or None)
                 for r in routes)


# --- the file's grammar: directives ending in `;`, blocks in braces, `#` comments --------

Directive = tuple[str, list[str], "list[Directive] | None"]


def _tokens(text: str) -> Iterator[tuple[str, bool]]:
    """(token, quoted), as nginx's own reader splits a file: a quoted `;` is a word, `#`
    starts a comment only where a token would start, `${name}` is part of a word."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#":
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif c in ";{}":
            yield c, False
            i += 1
        elif c in "\"'":
            end = i + 1
            while end < n and text[end] != c:
                end += 2 if text[end] == "\\" else 1
            if end >= n:
                raise NginxSyntaxError(f"line {text.count(chr(10), 0, i) + 1}: unclosed quote")
            yield text[i + 1:end] or '""', True
            i = end + 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in ";{}":
                if text.startswith("${", i):
                    close = text.find("}", i)
                    i = n if close < 0 else close
                i += 1
            yield text[start:i], False


def parse(text: str) -> list[Directive]:
    """The file as nested directives: (name, arguments, block or None)."""
    stack: list[list[Directive]] = [[]]
    words: list[str] = []
    for tok, quoted in _tokens(text):
        if quoted or tok not in ";{}":
            words.append(tok)
        elif tok == ";":
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
        else:
            if words or len(stack) == 1:
                raise NginxSyntaxError("a `}` that closes nothing, or a directive with no `;`")
            stack.pop()
    if words or len(stack) > 1:
        raise NginxSyntaxError("the file ends inside a block or a directive")
    return stack[0]
