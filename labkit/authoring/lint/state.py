"""Every container, namespace, bridge and Docker network a lesson uses is made by the lesson
itself, after its reset (`own-state`), so lessons run in any order. A heuristic over the
shell text the cells send to the lab: `lab_commands` finds it, `simple_commands` splits it,
`uses_and_creations` reads one command (docker, ip, brctl, bridge) for what it makes and uses.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from labkit.authoring.cells import source
from labkit.authoring.lint.lesson import Lesson, Problem, at, code_cells

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


def simple_commands(script: str) -> list[list[str]]:
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
    if cmd == "k8s-lab":
        return _k8s_lab(args)
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


#: what `k8s-lab up` makes in the lab (k8s/k8s-lab.sh: the nodes and their bridge)
K8S_LAB_NODES = ("kube-master", "kube-node-1", "kube-node-2")
K8S_LAB_BRIDGE = "kube-br0"


def _k8s_lab(args: list[str]) -> list[tuple[str, str, str]]:
    """`k8s-lab up` makes the nodes' namespaces and bridge; `k8s-lab exec NODE CMD` uses the
    node (what CMD names is the node's own, made by its kubelet and engine: not followed)."""
    if args[:1] == ["up"]:
        return [("make", "namespace", n) for n in K8S_LAB_NODES] + [
            ("make", "bridge", K8S_LAB_BRIDGE)]
    if args[:1] == ["exec"] and len(args) > 1:
        return [("use", "namespace", args[1])]
    return []


def _brctl(args: list[str]) -> list[tuple[str, str, str]]:
    if len(args) < 2:
        return []
    if args[0] == "addbr":
        return [("make", "bridge", args[1])]
    if args[0] in ("delbr", "addif", "delif", "show", "showmacs", "showstp", "stp",
                   "setageing", "setfd"):
        return [("use", "bridge", args[1])]
    return []


#: (0-based cell index, action, kind, name); action "reset", "make" or "use"
Event = tuple[int, str, str, str]

#: how a problem says that something was made
_MADE = {"container": "starts", "namespace": "makes", "bridge": "makes", "network": "creates"}


#: the bridge a CNI network config names (`"bridge": "lab-br1"`): the bridge plugin makes it
_CNI_BRIDGE = re.compile(r'"bridge"\s*:\s*"([\w.-]+)"')
_ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=.*")


def runs_cni_add(words: list[str]) -> bool:
    """Does this command run a CNI ADD: a plugin by hand (CNI_COMMAND=ADD ...), our cnitool,
    or a runtime that calls the plugins itself (`ctr run --cni`)? (pure, heuristic)"""
    n = next((i for i, w in enumerate(words) if not _ASSIGNMENT.fullmatch(w)), len(words))
    rest = words[n:]
    return ("CNI_COMMAND=ADD" in words[:n] or rest[:2] == ["cnitool", "add"]
            or (rest[:1] == ["ctr"] and "run" in rest and "--cni" in rest))


def lesson_events(lesson: Lesson) -> list[Event]:
    """The resets, and what each code cell makes and uses, in cell order (pure). A CNI ADD
    makes the bridges of the network configs the lesson wrote so far (which config it reads
    is known only at run time)."""
    events: list[Event] = []
    cni_bridges: list[str] = []
    for index, cell in code_cells(lesson):
        if re.search(r"\blab\.reset\(", source(cell)) and not source(cell).startswith("%%"):
            events.append((index, "reset", "", ""))
        for script in lab_commands(cell):
            cni_bridges += [b for b in _CNI_BRIDGE.findall(script) if b not in cni_bridges]
            for words in simple_commands(script):
                if runs_cni_add(words):
                    events += [(index, "make", "bridge", b) for b in cni_bridges]
                for action, kind, name in uses_and_creations(words):
                    if name and not name.startswith("$"):  # "$veth": known only at run time
                        events.append((index, action, kind, name))
    return events


def own_state(lesson: Lesson) -> list[Problem]:
    """Every container, namespace, bridge and Docker network a cell uses was made by an
    earlier cell of this lesson (after its last `lab.reset()`), not by a previous lesson.
    A heuristic over the lesson's own commands."""
    events = lesson_events(lesson)
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
            if later is not None and later > index:
                why = (f"which this lesson only {_MADE[kind]} later, in cell {later + 1}: "
                       "move that step before this one")
            else:
                why = (f"which no earlier cell of this lesson {_MADE[kind]} after its reset "
                       "(state left by another lesson?): build it here, so the lesson runs on "
                       "its own")
            problems.append(at(lesson, index, "own-state", f"uses the {kind} {name}, {why}"))
    return problems
