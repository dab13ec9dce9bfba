"""Lesson 9 (a CNI plugin in Go, the series' article 6): the article's `simple-bridge` as the
lesson leaves it (its two fixes for today's library made); a break and fix (the plugin rebuilt
with a wrong call: a container cut off, found in the kernel and in the source), and an
exercise: make its DEL undo what ADD did. Needs the Go lab (`labkit up --go`): the checks say
so on any other lab."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

SRC_DIR = "/root/test-cni/simple-bridge"
SOURCE = f"{SRC_DIR}/simple-bridge.go"
PLUGIN = f"{SRC_DIR}/simple-bridge"
CONF = "lab-cni-mybr-net.conf"
NS = "lab-ns"
BRIDGE = "lab-cni-mybr"
GATEWAY = "10.15.30.1/24"
CHECK_NS = "lab9-check"
CHECK_IP = "10.15.30.250/24"
NO_GO = ("this lab has no Go (`go` is not found): lesson 9 needs the Go lab. In a terminal: "
         "`labkit up --go` (it replaces the everyday lab), then run the lesson from the top")

#: The article's plugin as the lesson's first source cell writes it: the article's pieces put
#: together in one file, as it was written for the CNI library of 2021.
ARTICLE_SOURCE = """\
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"syscall"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types/current"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/containernetworking/plugins/pkg/ns"
	bv "github.com/containernetworking/plugins/pkg/utils/buildversion"
	"github.com/vishvananda/netlink"
)

type NetConf struct {
	BrName    string `json:"bridge"`
	IPAddress string `json:"ip"`
}

func init() {
	runtime.LockOSThread()
}

func loadNetConf(bytes []byte) (*NetConf, error) {
	n := &NetConf{}
	if err := json.Unmarshal(bytes, n); err != nil {
		return nil, err
	}
	return n, nil
}

func bridgeByName(name string) (*netlink.Bridge, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil, err
	}
	br, ok := l.(*netlink.Bridge)
	if !ok {
		return nil, fmt.Errorf("%q already exists but is not a bridge", name)
	}
	return br, nil
}

func setupBridge(n *NetConf) (*netlink.Bridge, error) {
	br := &netlink.Bridge{
		LinkAttrs: netlink.LinkAttrs{
			Name:   n.BrName,
			MTU:    1500,
			TxQLen: -1,
		},
	}

	err := netlink.LinkAdd(br)
	if err != nil && err != syscall.EEXIST {
		return nil, err
	}

	br, err = bridgeByName(n.BrName)
	if err != nil {
		return nil, err
	}

	if err := netlink.LinkSetUp(br); err != nil {
		return nil, err
	}

	return br, nil
}

func setupVeth(netns ns.NetNS, br *netlink.Bridge, ifName string, ipAddress string) error {
	hostIface := &current.Interface{}

	err := netns.Do(func(hostNS ns.NetNS) error {
		hostVeth, containerVeth, err := ip.SetupVeth(ifName, 1500, hostNS)
		if err != nil {
			return err
		}
		hostIface.Name = hostVeth.Name

		ipv4Addr, ipv4Net, err := net.ParseCIDR(ipAddress)
		if err != nil {
			return err
		}
		ipv4Net.IP = ipv4Addr
		addr := &netlink.Addr{IPNet: ipv4Net}

		link, err := netlink.LinkByName(containerVeth.Name)
		if err != nil {
			return err
		}

		if err = netlink.AddrAdd(link, addr); err != nil {
			return err
		}

		return nil
	})
	if err != nil {
		return err
	}

	hostVeth, err := netlink.LinkByName(hostIface.Name)
	if err != nil {
		return err
	}

	if err := netlink.LinkSetMaster(hostVeth, br); err != nil {
		return err
	}

	return nil
}

func cmdAdd(args *skel.CmdArgs) error {
	n, err := loadNetConf(args.StdinData)
	if err != nil {
		return err
	}

	br, err := setupBridge(n)
	if err != nil {
		return err
	}

	netns, err := ns.GetNS(args.Netns)
	if err != nil {
		return err
	}
	defer netns.Close()

	if err := setupVeth(netns, br, args.IfName, n.IPAddress); err != nil {
		return err
	}

	result := current.Result{}
	return result.Print()
}

func cmdCheck(args *skel.CmdArgs) error {
	return nil
}

func cmdDel(args *skel.CmdArgs) error {
	return nil
}

func main() {
	skel.PluginMain(cmdAdd, cmdCheck, cmdDel, version.All, bv.BuildString("simple-bridge"))
}
"""

#: The article's network config (its /etc/rkt/net.d/lab-cni-mybr-net.conf).
ARTICLE_CONF = """\
{
    "cniVersion": "0.4.0",
    "name": "lab-cni-mybr-net",
    "type": "simple-bridge",
    "bridge": "lab-cni-mybr",
    "ip": "10.15.30.100/24"
}
"""

#: Fix 1: today's ip.SetupVeth takes the container end's MAC address ("": a random one).
FIX_MAC = ('sed -i \'s/ip.SetupVeth(ifName, 1500, hostNS)/ip.SetupVeth(ifName, 1500, "", '
           'hostNS)/\' simple-bridge.go')
#: Fix 2: bring the container's end up after its address (today's SetupVeth leaves it down).
FIX_UP = ("sed -i '/netlink.AddrAdd(link, addr)/,/}/ s/^\\t\\t}$/&\\n\\n\\t\\tif err = "
          "netlink.LinkSetUp(link); err != nil {\\n\\t\\t\\treturn err\\n\\t\\t}/' "
          "simple-bridge.go")


def plugin(command: str, conf: str = CONF, ns: str = NS, container: str | None = None) -> str:
    """The plugin run by hand on a namespace of `ip netns`, as the lesson's cells run it."""
    return (f"CNI_COMMAND={command} CNI_CONTAINERID={container or ns} "
            f"CNI_NETNS=/var/run/netns/{ns} CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin "
            f"./simple-bridge < {conf}")


#: The lesson's state at its exercise: the source with both fixes, built; lab-ns plugged by
#: the plugin; the bridge with the lesson's address for the lab host.
SETUP = (
    f"mkdir -p {SRC_DIR}\n"
    f"cd {SRC_DIR}\n"
    f"cat > simple-bridge.go <<'EOF'\n{ARTICLE_SOURCE}EOF\n"
    f"cat > {CONF} <<'EOF'\n{ARTICLE_CONF}EOF\n"
    f"{FIX_MAC}\n{FIX_UP}\n"
    "go build simple-bridge.go\n"
    f"ip netns add {NS}\n"
    + plugin("ADD") + " > /dev/null\n"
    f"ip addr add {GATEWAY} dev {BRIDGE}\n"
)

#: A solution for the DEL exercise: cmdDel deletes the container's interface, and a second
#: DEL, with nothing left to delete, succeeds too.
DEL_FUNC = """\
func cmdDel(args *skel.CmdArgs) error {
	return ns.WithNetNSPath(args.Netns, func(_ ns.NetNS) error {
		err := ip.DelLinkByName(args.IfName)
		if err == ip.ErrLinkNotFound {
			return nil
		}
		return err
	})
}
"""

#: The check's own trial: ADD, DEL, DEL again on a namespace of its own, each step's exit
#: status and (one-line) output after a word naming it; the namespace goes at the end.
_TRIAL = (
    f"ip netns delete {CHECK_NS} 2>/dev/null; ip netns add {CHECK_NS}\n"
    "conf='{\"cniVersion\": \"0.4.0\", \"name\": \"lab-cni-mybr-net\", "
    f"\"type\": \"simple-bridge\", \"bridge\": \"{BRIDGE}\", \"ip\": \"{CHECK_IP}\"}}'\n"
    f"run() {{ echo \"$conf\" | CNI_COMMAND=$1 CNI_CONTAINERID={CHECK_NS} "
    f"CNI_NETNS=/var/run/netns/{CHECK_NS} CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin "
    f"timeout 20 {PLUGIN} 2>&1 | tr -d '\\n'; echo \" rc=${{PIPESTATUS[1]}}\"; }}\n"
    "echo \"add $(run ADD)\"\n"
    f"ip -n {CHECK_NS} link show eth0 >/dev/null 2>&1 && echo 'eth0 after-add'\n"
    f"i=$(ip netns exec {CHECK_NS} cat /sys/class/net/eth0/iflink 2>/dev/null)\n"
    "peer=$(ip -o link | awk -F': ' -v n=\"$i\" '$1 == n {print $2}' | cut -d@ -f1)\n"
    "[ -n \"$peer\" ] && echo \"master $(basename \"$(readlink /sys/class/net/$peer/master)\")\"\n"
    "echo \"del $(run DEL)\"\n"
    f"ip -n {CHECK_NS} link show eth0 >/dev/null 2>&1 && echo 'eth0 after-del'\n"
    "echo \"del2 $(run DEL)\"\n"
    f"ip netns delete {CHECK_NS}\n"
)


def _message(out: str) -> str:
    """A plugin's error object said in words (its `msg`), else its output as it is."""
    try:
        err = json.loads(out)
    except ValueError:
        return out.strip() or "no output"
    if isinstance(err, dict) and err.get("msg"):
        return str(err["msg"])
    return out.strip()


def _steps(text: str) -> tuple[dict[str, tuple[int, str]], set[str]]:
    """The trial's answers: step -> (exit status, output), and its marks: `after-add` and
    `after-del` (eth0 was there), `master BRIDGE` (the bridge of eth0's peer after ADD)."""
    steps: dict[str, tuple[int, str]] = {}
    marks = set()
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "eth0":
            marks.add(rest)
        elif word == "master":
            marks.add(f"master {rest or 'none'}")
        elif word in ("add", "del", "del2"):
            out, _, rc = rest.rpartition(" rc=")
            steps[word] = (int(rc) if rc.isdigit() else -1, out)
    return steps, marks


def _trial(lab: Lab) -> tuple[dict[str, tuple[int, str]], set[str]]:
    return _steps(lab.run(_TRIAL, timeout=90).stdout)


TRIAL = f"the check ran your plugin on a namespace of its own, {CHECK_NS}"


def plugin_problems(lab: Lab) -> list[str]:
    """What keeps the lesson's plugin from being tried: no Go, no binary, a stale build."""
    if not lab.run("command -v go").ok:
        return [NO_GO]
    if not lab.run(f"test -x {PLUGIN}").ok:
        return [f"there is no plugin {PLUGIN} yet: build it (`cd ~/test-cni/simple-bridge && "
                "go build simple-bridge.go`; the lesson's cells from the top make it)"]
    if lab.run(f"test {SOURCE} -nt {PLUGIN}").ok:
        return ["simple-bridge.go changed after the last build: what runs is the binary, "
                "so run `go build simple-bridge.go` again (it prints nothing when it works, "
                "the compiler's errors when not)"]
    return []


def check_del(lab: Lab) -> list[str]:
    problems = plugin_problems(lab)
    if problems:
        return problems
    steps, marks = _trial(lab)
    trial = TRIAL
    rc, out = steps.get("add", (-1, ""))
    if rc != 0 or "after-add" not in marks:
        return [f"{trial}, and its ADD failed ({_message(out)}): ADD must keep working as in "
                "the lesson"]
    rc, out = steps.get("del", (-1, ""))
    if rc != 0:
        return [f"{trial}: ADD worked, then DEL failed: {_message(out)}"]
    if "after-del" in marks:
        return [f"{trial}: after ADD then DEL, {CHECK_NS} still had eth0 (and the lab host its "
                f"veth peer on {BRIDGE}): DEL must delete the interface CNI_IFNAME inside the "
                "namespace CNI_NETNS, as ADD made it there"]
    rc, out = steps.get("del2", (-1, ""))
    if rc != 0:
        return [f"{trial}: the first DEL deleted eth0, but a second DEL failed "
                f"({_message(out)}): a runtime may call DEL again, and the spec says it must "
                "succeed when there is nothing left to delete. Treat \"not found\" as done"]
    return []


SECOND = "cni-go2"
SECOND_IP = "10.15.30.102/24"
#: The break: the plugin rebuilt with a wrong call where it plugs the host's end into the
#: bridge (it brings it up instead, which SetupVeth did already), then a second container
#: plugged in with it.
BREAKS = (
    "# Break something on purpose: the plugin is rebuilt from a changed source, and plugs in\n"
    "# a new container.\n"
    f"cd {SRC_DIR}\n"
    "sed -i 's/netlink.LinkSetMaster(hostVeth, br)/netlink.LinkSetUp(hostVeth)/' "
    "simple-bridge.go\n"
    "go build simple-bridge.go\n"
    f"docker run -d --name {SECOND} --net=none busybox sleep 3600 > /dev/null\n"
    f"jq '.ip = \"{SECOND_IP}\"' {CONF} > {SECOND}.conf\n"
    f"CNI_COMMAND=ADD CNI_CONTAINERID=$(docker inspect -f '{{{{.Id}}}}' {SECOND}) "
    f"CNI_NETNS=$(docker inspect -f '{{{{.NetworkSettings.SandboxKey}}}}' {SECOND}) "
    f"CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin ./simple-bridge < {SECOND}.conf > /dev/null\n"
)

#: cni-go2's eth0 seen from the lab host: the name of its peer, and that peer's bridge.
_SECOND_PEER = (
    f"i=$(docker exec {SECOND} cat /sys/class/net/eth0/iflink) || exit 1\n"
    "peer=$(ip -o link | awk -F': ' -v n=\"$i\" '$1 == n {print $2}' | cut -d@ -f1)\n"
    "echo \"$peer $(basename \"$(readlink /sys/class/net/$peer/master)\")\"\n"
)


def check_lost_master(lab: Lab) -> list[str]:
    problems = plugin_problems(lab)
    if problems:
        return problems
    running = lab.run(f"docker inspect -f '{{{{.State.Running}}}}' {SECOND}")
    if running.stdout.strip() != "true":
        return [f"there is no running container {SECOND}: run the hidden cell above the "
                "exercise again (it makes the break)"]
    peer = lab.run(_SECOND_PEER)
    name, _, master = peer.stdout.strip().partition(" ")
    if not peer.ok or not name:
        return [f"{SECOND} has no eth0 with a peer in the lab host: run the hidden cell above "
                "the exercise again"]
    problems = []
    if master != BRIDGE:
        problems.append(f"{SECOND}'s eth0 is cabled to {name} in the lab host, and {name} is "
                        + (f"on {master}" if master else "on no bridge")
                        + f", not on {BRIDGE}: plug it in for {SECOND}, as the plugin should "
                        "have")
    elif not _lab.ping(lab, "10.15.30.100", container=SECOND):
        problems.append(f"{name} is on {BRIDGE}, but {SECOND} still gets no answer from "
                        "10.15.30.100 (lab-ns): is lab-ns's eth0 there, and up?")
    steps, marks = _trial(lab)
    rc, out = steps.get("add", (-1, ""))
    if rc != 0 or "after-add" not in marks:
        problems.append(f"{TRIAL}, and its ADD failed ({_message(out)})")
    elif f"master {BRIDGE}" not in marks:
        problems.append(f"{TRIAL}: after its ADD, the host's end of the veth pair was on no "
                        f"bridge, so the next container the plugin plugs in is cut off as "
                        f"{SECOND} was. Find the line of simple-bridge.go that should plug it "
                        "into the bridge, fix it and build again")
    return problems


EXERCISES = [
    Exercise(
        id="lesson9/lost-master",
        title="The container that gets no answer",
        lesson="09-cni-go.ipynb",
        task=(f"The cell above broke something on purpose: it rebuilt the plugin from a "
              f"changed simple-bridge.go and plugged in a new container, {SECOND}, with "
              f"10.15.30.102. `docker exec {SECOND} ping -c 1 10.15.30.100` gets no answer. "
              "Find in the kernel what the plugin did not do, put it right for "
              f"{SECOND}, then find the line in simple-bridge.go that caused it, fix it and "
              "build the plugin again, so the next container is plugged in right."),
        check=check_lost_master,
        hints=(
            f"Follow {SECOND}'s cable, as in lesson 1: `docker exec {SECOND} cat "
            "/sys/class/net/eth0/iflink` is the index of its peer in the lab host (`ip -o link` "
            "lists the indexes). Which bridge is that peer on? Compare with `ls "
            "/sys/class/net/lab-cni-mybr/brif`.",
            "The peer is on no bridge: `ip link set PEER master lab-cni-mybr` plugs it in. In "
            "the source, the lesson's notes say which call of setupVeth plugs the host's end "
            "into the bridge: `grep -n hostVeth simple-bridge.go` shows what is there now.",
            "setupVeth calls `netlink.LinkSetUp(hostVeth)` where it should call "
            "`netlink.LinkSetMaster(hostVeth, br)`. Put it back with `sed -i 's/.../.../'`, "
            "then `go build simple-bridge.go`.",
        ),
        solution=(
            "cd ~/test-cni/simple-bridge\n"
            "sed -i 's/netlink.LinkSetUp(hostVeth)/netlink.LinkSetMaster(hostVeth, br)/' "
            "simple-bridge.go\n"
            "go build simple-bridge.go\n"
            f"i=$(docker exec {SECOND} cat /sys/class/net/eth0/iflink)\n"
            "peer=$(ip -o link | awk -F': ' -v n=\"$i\" '$1 == n {print $2}' | cut -d@ -f1)\n"
            "ip link set \"$peer\" master lab-cni-mybr\n"
            "sleep 2\n"
            f"docker exec {SECOND} ping -c 1 10.15.30.100\n"
        ),
        setup=SETUP,
        breaks=BREAKS,
    ),
    Exercise(
        id="lesson9/del",
        title="Make DEL undo ADD",
        lesson="09-cni-go.ipynb",
        task=("The article's cmdDel does nothing, so DEL leaves the veth pair behind. Make "
              "the plugin's DEL delete the interface that ADD made in the container's "
              "namespace (the veth pair's other end goes with it), and make a second DEL, "
              "with nothing left to delete, succeed too, as the spec asks. Edit "
              "simple-bridge.go, build it, and try it on lab-ns."),
        check=check_del,
        hints=(
            "ADD did its work inside the namespace with `netns.Do`; cmdDel can do the same "
            "with `ns.WithNetNSPath(args.Netns, func(_ ns.NetNS) error { ... })`, which opens "
            "the namespace from its path and closes it again.",
            "The plugins' ip package has the deleting too: `ip.DelLinkByName(args.IfName)`. "
            "It returns `ip.ErrLinkNotFound` when there is no such interface: for a second "
            "DEL that is not an error.",
            "Go lets the functions of a file come in any order: `sed -i '/^func cmdDel/,/^}/d' "
            "simple-bridge.go` removes the old cmdDel, and `cat >> simple-bridge.go` with a "
            "heredoc can add the new one at the end.",
        ),
        solution=(
            "cd ~/test-cni/simple-bridge\n"
            "sed -i '/^func cmdDel/,/^}/d' simple-bridge.go\n"
            f"cat >> simple-bridge.go <<'EOF'\n\n{DEL_FUNC}EOF\n"
            "go build simple-bridge.go\n"
            + plugin("DEL") + " && echo \"DEL done\"\n"
            + plugin("DEL") + " && echo \"DEL done, again\"\n"
            f"ip -n {NS} -br link\n"
        ),
        setup=SETUP,
    ),
]
