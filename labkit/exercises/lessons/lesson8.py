"""Lesson 8 (a CNI plugin in bash): find why the container gets no network (break and fix: the
plugin lost its execute bit); make the logger plugin build a veth pair for real, and take it
down again on DEL."""

from __future__ import annotations

import hashlib
import json
import shlex
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

PLUGIN = "/opt/cni/bin/logger"
LOG = "/var/log/cni/logger.log"
CONFIG = "/etc/cni/net.d/10-lab-test-net-1.conflist"
#: Docker's containerd (the lab has no other), named in full: the link the lesson makes for
#: ctr's default socket path (as lesson 7 does) may be gone.
CTR = "ctr --address /run/docker/containerd/containerd.sock -n lab"

#: The logger as the lesson leaves it: the article's script, its stderr sent to a log file, one
#: more line for CNI_ARGS, and the read loop fixed for a last line without a newline.
LOGGER = r"""#!/bin/bash
# everything this script writes to stderr goes to its log file (not in the article)
exec 2>> /var/log/cni/logger.log

log () {
  >&2 echo "$1"
}

log "Command: $CNI_COMMAND"
log "Container Id: $CNI_CONTAINERID"
log "Path to Network Namespace: $CNI_NETNS"
log "Network Interface: $CNI_IFNAME"
log "Arguments: $CNI_ARGS"  # (not in the article)
log "Path to CNI Plugins: $CNI_PATH"
log "Network Configuration:"
while IFS="" read -r line || [ -n "$line" ]
do
  log "$line"
done < /dev/stdin

if [[ $CNI_COMMAND == "ADD" ]]; then
  echo "{}"
fi
"""

CONFLIST = """{
  "cniVersion": "0.4.0",
  "name": "lab-test-net-1",
  "plugins": [
    { "type": "logger" }
  ]
}
"""

#: The lesson's state at the break-and-fix: the plugin installed, the network for ctr, busybox
#: in containerd's namespace `lab`, and the namespace of the cnitool step.
SETUP = (
    "mkdir -p /run/containerd\n"
    "ln -sf /var/run/docker/containerd/containerd.sock /run/containerd/containerd.sock\n"
    "mkdir -p /var/log/cni\n"
    f"cat > {PLUGIN} <<'EOF'\n{LOGGER}EOF\n"
    f"chmod +x {PLUGIN}\n"
    f"cat > {CONFIG} <<'EOF'\n{CONFLIST}EOF\n"
    f"docker save busybox | {CTR} images import - > /dev/null\n"
    "ip netns add lab-pod\n"
)

#: network name -> (the container end's address, the lab host's end): the exercise's configs.
NETS = {"lab-veth-1": ("10.15.40.2/24", "10.15.40.1/24"),
        "lab-veth-2": ("10.15.41.2/24", "10.15.41.1/24")}


def _netconf(name: str, n: int) -> str:
    address, host = NETS[name]
    return (f"cat > /etc/cni/net.d/2{n}-{name}.conflist <<'EOF'\n"
            "{\n"
            '  "cniVersion": "0.4.0",\n'
            f'  "name": "{name}",\n'
            '  "plugins": [\n'
            f'    {{ "type": "logger", "address": "{address}", "hostAddress": "{host}" }}\n'
            "  ]\n"
            "}\n"
            "EOF\n")


#: The notebook's cell before the last exercise: its two networks.
NETS_CELL = "".join(_netconf(name, n) for n, name in enumerate(NETS))

# --- the break and fix ------------------------------------------------------------------------


def _mode(lab: Lab, path: str) -> str | None:
    """`stat -c %A PATH` (-rwxr-xr-x), or None when there is no such file."""
    result = lab.run(f"stat -L -c %A {shlex.quote(path)}")
    return result.stdout.strip() if result.ok else None


def check_no_exec(lab: Lab) -> list[str]:
    config = lab.run(f"cat {CONFIG}")
    if not config.ok:
        return [f"there is no {CONFIG}: run the lesson's cells that write the network's "
                "config first"]
    if '"logger"' not in config.stdout:
        return [f"{CONFIG} no longer names the plugin logger: the task is to fix the cause "
                "without changing the config (put `{ \"type\": \"logger\" }` back)"]
    if _mode(lab, PLUGIN) is None:
        return [f"the network's config names the plugin logger, but there is no {PLUGIN}: "
                "ctr says `failed to find plugin \"logger\" in path [/opt/cni/bin /usr/lib/cni]`"
                "; run the lesson's cell that installs it"]
    if not lab.run(f"test -x {PLUGIN}").ok:  # root runs it with any execute bit set
        return [f"ctr stops with `fork/exec {PLUGIN}: permission denied`: the kernel refuses to "
                "start the plugin"]
    head = lab.run(f"head -c 2 {PLUGIN}").stdout
    if head != "#!":
        return [f"{PLUGIN} no longer starts with `#!`, so the kernel does not know it is a bash "
                "script: run the lesson's cell that writes it again"]
    left = lab.run(f"{CTR} containers ls -q").stdout.split()
    if left:
        return [f"containerd still holds {_lab.names(left)} from a start that failed "
                f"(`ctr -n lab tasks ls`): `ctr run` with that name stops with "
                f"`snapshot \"{left[0]}\": already exists` until it is removed"]
    return []


# --- the real veth ------------------------------------------------------------------------------


def _calls(lab: Lab) -> list[tuple[str, str]]:
    """(command, netns path) of each call the plugin logged, in order."""
    calls: list[tuple[str, str]] = []
    for line in lab.run(f"cat {LOG}").stdout.splitlines():
        if line.startswith("Command: "):
            calls.append((line.split(": ", 1)[1].strip(), ""))
        elif line.startswith("Path to Network Namespace: ") and calls:
            calls[-1] = (calls[-1][0], line.split(": ", 1)[1].strip())
    return calls


def _cached(lab: Lab, network: str, netns: str) -> dict | None:
    """The result libcni keeps of a successful ADD of `network` into `netns` ({} for an empty
    one), or None when it keeps none. cnitool names the container after the netns path."""
    container = "cnitool-" + hashlib.sha512(netns.encode()).hexdigest()[:20]
    out = lab.run(f"for f in /var/lib/cni/results/{network}-*; do [ -f \"$f\" ] && cat \"$f\" "
                  "&& echo; done").stdout
    for text in out.splitlines():
        try:
            entry = json.loads(text)
        except json.JSONDecodeError:
            continue
        result = entry.get("result") or {}
        if entry.get("containerId") == container or any(
                i.get("sandbox") == netns for i in result.get("interfaces", [])):
            return result
    return None


def _added(lab: Lab, ns: str, network: str) -> list[str]:
    """Problems with the pair the plugin made in `ns` for `network` ([] when it is right)."""
    address, host = NETS[network]
    netns = f"/var/run/netns/{ns}"
    how = f"`cnitool add {network} {netns}`"
    inner = next((i for i in _lab.links(lab, ns=ns) if i.get("ifname") == "eth0"), None)
    if inner is None:
        have = [i["ifname"] for i in _lab.links(lab, ns=ns)]
        called = ("ADD", netns) in _calls(lab)
        why = (f"the runtime did call the plugin's ADD for it ({LOG} shows it, and anything "
               "bash said), but the plugin made no interface there" if called
               else f"the plugin's log has no ADD for {netns}: run {how}")
        return [f"{ns} has no eth0 (`ip -n {ns} link` shows: {_lab.names(have)}): {why}"]
    if _lab.kind(inner) != "veth":
        return [f"{ns}'s eth0 is a {_lab.kind(inner) or 'plain device'}, not a veth end"]
    problems = []
    cidrs = _lab.ipv4(lab, ns=ns).get("eth0", [])
    if address not in cidrs:
        problems.append(f"{ns}'s eth0 has {_lab.names(cidrs)}, not the config's address "
                        f"{address}")
    if not _lab.is_up(inner):
        problems.append(f"{ns}'s eth0 is down")
    outer = _lab.peer_in_lab(lab, inner)
    if outer is None:
        problems.append(f"the other end of {ns}'s eth0 is not in the lab host")
        return problems
    if host not in _lab.ipv4(lab).get(outer["ifname"], []):
        problems.append(f"{outer['ifname']}, the lab host's end, does not have the config's "
                        f"hostAddress {host}")
    if not _lab.is_up(outer):
        problems.append(f"{outer['ifname']}, the lab host's end, is down")
    result = _cached(lab, network, netns)
    if result is None:
        problems.append(f"libcni keeps the result of every ADD that succeeded in "
                        f"/var/lib/cni/results, and has none for {ns}: {how} did not succeed "
                        "(it says why)")
    elif not any(ip.get("address") == address for ip in result.get("ips", [])):
        problems.append(f"the result your plugin printed for {ns} names no address {address} "
                        f"(libcni kept: {json.dumps(result)})")
    return problems


def check_real_veth(lab: Lab) -> list[str]:
    if _mode(lab, PLUGIN) is None or lab.run("ls /etc/cni/net.d/20-lab-veth-1.conflist "
                                             "/etc/cni/net.d/21-lab-veth-2.conflist").exit_code:
        return [f"{PLUGIN} and the two networks lab-veth-1 and lab-veth-2 are not all there: "
                "run the lesson's cells that install the plugin and write the networks first"]
    spaces = _lab.netns_names(lab)
    if "lab-c1" not in spaces:
        return ["there is no namespace lab-c1 (`ip netns list` shows: "
                f"{_lab.names(spaces)}): `ip netns add lab-c1`, then "
                "`cnitool add lab-veth-1 /var/run/netns/lab-c1`"]
    problems = _added(lab, "lab-c1", "lab-veth-1")
    if problems:
        return problems
    if not _lab.ping(lab, NETS["lab-veth-1"][0].split("/")[0]):
        return ["the lab host gets no answer from lab-c1 (`ping -c 1 10.15.40.2`)"]
    if "lab-c2" not in spaces:
        return ["lab-c1 works; now the DEL: there is no namespace lab-c2 yet (`ip netns add "
                "lab-c2`, `cnitool add lab-veth-2 /var/run/netns/lab-c2`, then the same with "
                "`del`)"]
    netns = "/var/run/netns/lab-c2"
    calls = _calls(lab)
    adds = [i for i, c in enumerate(calls) if c == ("ADD", netns)]
    if not adds:
        return [f"your plugin's log has no ADD for {netns}: `cnitool add lab-veth-2 {netns}`, "
                "then its DEL"]
    if ("DEL", netns) not in calls[adds[-1]:]:
        return [f"your plugin's log has no DEL for {netns} after its last ADD: "
                f"`cnitool del lab-veth-2 {netns}`"]
    if _cached(lab, "lab-veth-2", netns) is not None:
        return ["libcni still keeps lab-c2's ADD result (/var/lib/cni/results): it drops it "
                f"only after a DEL that succeeded, so your plugin's DEL failed (see {LOG})"]
    left = [i["ifname"] for i in _lab.links(lab, ns="lab-c2") if i.get("ifname") != "lo"]
    host = NETS["lab-veth-2"][1]
    kept = [name for name, cidrs in _lab.ipv4(lab).items() if host in cidrs]
    if left or kept:
        return [f"the runtime called DEL for lab-c2 and it succeeded, but the pair is still "
                f"there (lab-c2 has {_lab.names(left or ['lo'])}"
                + (f"; the lab host's {kept[0]} has {host}" if kept else "")
                + "): DEL must remove it"]
    return []


VETH_PLUGIN = r"""#!/bin/bash
exec 2>> /var/log/cni/logger.log

log () {
  >&2 echo "$1"
}

log "Command: $CNI_COMMAND"
log "Container Id: $CNI_CONTAINERID"
log "Path to Network Namespace: $CNI_NETNS"
log "Network Interface: $CNI_IFNAME"
log "Arguments: $CNI_ARGS"
log "Path to CNI Plugins: $CNI_PATH"
log "Network Configuration:"
config=$(cat)
log "$config"

# a field of the config, from libcni's one-line JSON: "address": "10.15.40.2/24"
field () { printf '%s' "$config" | grep -o "\"$1\": *\"[^\"]*\"" | cut -d'"' -f4; }
# the lab host's end: a name of its own for each container and interface, found again on DEL
host=veth$(printf '%s' "$CNI_CONTAINERID/$CNI_IFNAME" | sha256sum | cut -c1-8)

case $CNI_COMMAND in
ADD)
  address=$(field address)
  ip link add "$host" type veth peer name "$CNI_IFNAME" netns "$CNI_NETNS" || exit 1
  ip addr add "$(field hostAddress)" dev "$host"
  ip link set "$host" up
  nsenter --net="$CNI_NETNS" ip addr add "$address" dev "$CNI_IFNAME"
  nsenter --net="$CNI_NETNS" ip link set "$CNI_IFNAME" up
  cat <<JSON
{
  "cniVersion": "0.4.0",
  "interfaces": [
    { "name": "$host" },
    { "name": "$CNI_IFNAME", "sandbox": "$CNI_NETNS" }
  ],
  "ips": [ { "version": "4", "address": "$address", "interface": 1 } ]
}
JSON
  ;;
DEL)
  # the namespace may be gone already (ctr's DEL): then so is the pair
  ip link del "$host" 2>/dev/null
  exit 0
  ;;
esac
"""

EXERCISES = [
    Exercise(
        id="lesson8/no-exec",
        title="Find why the container gets no network",
        lesson="08-cni-bash.ipynb",
        task=("The cell above broke something on purpose: "
              "`ctr -n lab run --rm --cni docker.io/library/busybox:latest c1 true` no longer "
              "starts the container. Run it, "
              "read ctr's error, and fix the cause without changing the network's config, so "
              "that the same command works again and the log shows its ADD and DEL."),
        check=check_no_exec,
        hints=(
            "ctr's last line says which plugin failed, for which command, and what the system "
            "said when ctr's library tried to start it.",
            "`fork/exec ...: permission denied` is the kernel refusing to run a file: compare "
            f"`stat -c '%A %n' {PLUGIN} /opt/cni/bin/bridge`.",
            f"`chmod +x {PLUGIN}`. The failed start left c1 in containerd: "
            "`ctr -n lab tasks rm -f c1` and `ctr -n lab containers rm c1` remove it.",
        ),
        solution=(
            f"chmod +x {PLUGIN}\n"
            "# a start that failed left c1 behind, its task CREATED\n"
            "ctr -n lab tasks rm -f c1 2> /dev/null\n"
            "ctr -n lab containers rm c1 2> /dev/null\n"
            f": > {LOG}\n"
            "ctr -n lab run --rm --cni docker.io/library/busybox:latest c1 true\n"
            f"grep Command {LOG}\n"
        ),
        setup=SETUP,
        breaks=("# Break something on purpose: a file changes.\n"
                f"chmod -x {PLUGIN}\n"),
    ),
    Exercise(
        id="lesson8/real-veth",
        title="Make the plugin build the network",
        lesson="08-cni-bash.ipynb",
        task=("Extend the logger (keep its log) so that ADD makes a veth pair: one end named "
              "CNI_IFNAME in the namespace CNI_NETNS, with the config's `address`, up; the "
              "other end in the lab host, with the config's `hostAddress`, up; and prints a "
              "result naming both ends and the address. DEL removes the pair. Then do what a "
              "runtime does for two pods: `ip netns add lab-c1` and `cnitool add lab-veth-1 "
              "/var/run/netns/lab-c1` (the lab host's `ping -c 1 10.15.40.2` must be "
              "answered); `ip netns add lab-c2`, `cnitool add lab-veth-2 "
              "/var/run/netns/lab-c2`, then `cnitool del lab-veth-2 /var/run/netns/lab-c2`."),
        check=check_real_veth,
        hints=(
            "Lesson 5 made such a pair by hand: `ip link add NAME type veth peer name eth0 "
            "netns lab-ns0`. `netns` takes a path too, such as $CNI_NETNS; inside it, "
            "`nsenter --net=\"$CNI_NETNS\" ip ...` runs any command.",
            "Read stdin once, `config=$(cat)`, and pick a field from libcni's one-line JSON: "
            "`printf '%s' \"$config\" | grep -o '\"address\": *\"[^\"]*\"' | cut -d'\"' -f4`.",
            "Give the lab host's end a name DEL can find again without the namespace, such as "
            "veth plus 8 hex digits of `sha256sum` over \"$CNI_CONTAINERID/$CNI_IFNAME\"; the "
            "result: `{\"cniVersion\": \"0.4.0\", \"interfaces\": [{\"name\": HOST}, "
            "{\"name\": IFNAME, \"sandbox\": NETNS}], \"ips\": [{\"version\": \"4\", "
            "\"address\": ADDRESS, \"interface\": 1}]}`. Anything bash says goes to the log.",
        ),
        solution=(
            f"cat > {PLUGIN} <<'EOF'\n{VETH_PLUGIN}EOF\n"
            f": > {LOG}\n"
            "ip netns add lab-c1\n"
            "cnitool add lab-veth-1 /var/run/netns/lab-c1; echo\n"
            "ping -c 1 10.15.40.2\n"
            "ip netns add lab-c2\n"
            "cnitool add lab-veth-2 /var/run/netns/lab-c2 > /dev/null\n"
            "cnitool del lab-veth-2 /var/run/netns/lab-c2\n"
            "ip -n lab-c2 -br link\n"
            f"grep -E '^(Command|Path to Network)' {LOG}\n"
        ),
        setup=SETUP + NETS_CELL,
    ),
]
