// cnitool: run a CNI network's plugins against a network namespace, as a container runtime would.
//
//	cnitool add|del|check NETWORK NETNS_PATH
//
// Upstream's cnitool (github.com/containernetworking/cni/cnitool, in no Debian package) does
// the same through the same library, libcni: it finds NETWORK by its "name" in the *.conf,
// *.json and *.conflist files of $NETCONFPATH (default /etc/cni/net.d), runs the plugins of the
// list in order (del: in reverse) with CNI_PATH as the plugins' search path, names the
// container "cnitool-" + 20 hex digits of sha512(netns path), and reads CNI_IFNAME (default
// eth0), CNI_ARGS ("K=V;K=V") and CAP_ARGS (JSON: the runtimeConfig a runtime would pass, e.g.
// portMappings). Ours keeps all of that and drops upstream's newer commands (gc, status); one
// change: CNI_PATH defaults to /opt/cni/bin, where the plugins are (upstream has no default).
// Built in GOPATH mode against Debian's golang-github-containernetworking-cni-dev (libcni 1.1).
package main

import (
	"context"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "cnitool: "+format+"\n", args...)
	os.Exit(1)
}

// runtimeConf is what a runtime tells the plugins about the container besides the config.
func runtimeConf(netns string) *libcni.RuntimeConf {
	hash := sha512.Sum512([]byte(netns))
	rt := &libcni.RuntimeConf{
		ContainerID: fmt.Sprintf("cnitool-%x", hash[:10]),
		NetNS:       netns,
		IfName:      env("CNI_IFNAME", "eth0"),
	}
	if args := os.Getenv("CNI_ARGS"); args != "" {
		for _, kv := range strings.Split(args, ";") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				fail("CNI_ARGS: %q is not KEY=VALUE", kv)
			}
			rt.Args = append(rt.Args, [2]string{k, v})
		}
	}
	if caps := os.Getenv("CAP_ARGS"); caps != "" {
		if err := json.Unmarshal([]byte(caps), &rt.CapabilityArgs); err != nil {
			fail("CAP_ARGS is not a JSON object: %v", err)
		}
	}
	return rt
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: cnitool add|del|check NETWORK NETNS_PATH")
	}
	list, err := libcni.LoadConfList(env("NETCONFPATH", "/etc/cni/net.d"), os.Args[2])
	if err != nil {
		fail("%v", err)
	}
	netns, err := filepath.Abs(os.Args[3])
	if err != nil {
		fail("%v", err)
	}
	cni := libcni.NewCNIConfig(filepath.SplitList(env("CNI_PATH", "/opt/cni/bin")), nil)
	rt, ctx := runtimeConf(netns), context.Background()
	switch os.Args[1] {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err == nil {
			err = result.Print()
		}
		if err != nil {
			fail("%v", err)
		}
	case "check":
		err = cni.CheckNetworkList(ctx, list, rt)
	case "del":
		err = cni.DelNetworkList(ctx, list, rt)
	default:
		fail("unknown command %q: add, del or check", os.Args[1])
	}
	if err != nil {
		fail("%v", err)
	}
}
