"""Record what the lesson checks' commands answer in a real lab, for tests/unit/test_checks_*.

usage (a throw-away lab, never the course lab):
    docker run -d --name labkit-record-lab --network none --label org.labkit.role=test-throwaway \
        --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
        --security-opt apparmor=unconfined -v /sys/fs/cgroup:/sys/fs/cgroup:rw labkit-lab:latest
    .venv/bin/python tests/snapshots/checks/record.py labkit-record-lab [EXERCISE_ID[:STATE] ...]
    docker rm -f -v labkit-record-lab

For each exercise and state (STATES below): reset the lab, run the state's script, run the
check with every `lab.run` recorded (command -> Result fields), and write
tests/snapshots/checks/<lesson>-<exercise>.json with the answers and the live verdict.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from labkit import Lab
from labkit.exercises import get
from labkit.exercises.lessons import lesson7, lesson8, lesson10

HERE = Path(__file__).parent

#: exercise id -> [(state, script run after the reset)]; "setup"/"solution" stand for the
#: exercise's own scripts ("setup" is `start`: with a break-and-fix challenge's break). Wrong
#: states are typical learner mistakes.
# lesson 7: give back lab-br2's leaked leases; lab-web2's id and namespace for a DEL or ADD
_FREE_LAB_BR2 = ("for f in /var/lib/cni/networks/lab-br2/10.15.21.*; do "
                 "id=$(head -n 1 \"$f\" | tr -d '\\r'); CNI_COMMAND=DEL CNI_CONTAINERID=$id "
                 "CNI_NETNS= CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin /opt/cni/bin/bridge "
                 "< /root/lab-br2.conf; done")
_WEB2 = ("ID=$(docker inspect -f '{{.Id}}' lab-web2); "
         "NETNS=$(docker inspect -f '{{.NetworkSettings.SandboxKey}}' lab-web2); ")
_WEB2_ENV = ("CNI_CONTAINERID=$ID CNI_NETNS=$NETNS CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin "
             "/opt/cni/bin/bridge < /root/lab-br2.conf > /dev/null")

# lesson 7 without the cell before its last exercise: lab-web on lab-br1 and off it cleanly
_WITHOUT_WEB3 = (lesson7.LAB_BR1 + lesson7.web_run("lab-web") + " > /dev/null\n"
                 + lesson7.add("lab-web", "/root/lab-br1.conf") + " > /dev/null\n"
                 + lesson7.add("lab-web", "/root/lab-br1.conf").replace("ADD", "DEL") + "\n"
                 + "docker rm -f lab-web > /dev/null\n")
_WAIT_NO_PORT = ("for i in $(seq 50); do [ -z \"$(ip link show master lab-br1)\" ] "
                 "&& break; sleep 0.1; done")
_DEL_FROM_LEASE = ("f=$(ls /var/lib/cni/networks/lab-br1/10.15.20.*); "
                   "id=$(head -n 1 \"$f\" | tr -d '\\r'); CNI_COMMAND=DEL "
                   "CNI_CONTAINERID=$id CNI_NETNS= CNI_IFNAME=eth0 "
                   "CNI_PATH=/opt/cni/bin /opt/cni/bin/bridge < /root/lab-br1.conf")

# lesson 10: the solution's test-pod-3 applied, not waited for; the same with lab-web-2 left on
# the default pull policy (`lab-web` means lab-web:latest: Always); the first one renamed
_APPLY_3 = lesson10.EXERCISES[1].solution.split("kubectl rollout status")[0]
_PULL_3 = _APPLY_3.replace("        imagePullPolicy: Never\n        command:", "        command:")
# (replace: `apply` merges containers by name into a Deployment made by `create`, which has
# no note of what was applied before: lab-web would stay, with lab-web-1 beside it)
_RENAMED_3 = (_APPLY_3.replace("      - name: lab-web\n", "      - name: lab-web-1\n")
              .replace("kubectl apply -f", "kubectl replace -f"))

# lesson 13: one field of test-svc's first port replaced, then a moment for the controllers
_L13_PATCH = ("kubectl patch service test-svc --type=json -p '[{{\"op\": \"replace\", "
              "\"path\": \"/spec/ports/0/{path}\", \"value\": {value}}}]' && sleep 3")

# lesson 14: one field of the backend of the Ingress's /svc-2 replaced
_L14_PATCH = ("kubectl patch ingress lab-ingress --type=json -p '[{{\"op\": \"replace\", "
              "\"path\": \"/spec/rules/0/http/paths/1/backend/service/{path}\", "
              "\"value\": {value}}}]'")

STATES: dict[str, list[tuple[str, list[str]]]] = {
    "lesson0/first-bridge": [
        ("fresh", []),
        ("solved", ["solution"]),
        ("wrong-kind-down", ["ip link add hello0 type veth peer name hello1"]),
        ("wrong-address", ["ip link add hello0 type bridge",
                           "ip addr add 192.0.2.7/24 dev hello0", "ip link set hello0 up"]),
    ],
    "lesson1/cable-down": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        ("wrong-nomaster", ["setup", "peer=$(docker exec busybox2 cat /sys/class/net/eth0/iflink)"
                            "; n=$(ip -o link | awk -F': ' -v n=\"$peer\" '$1 == n {print $2}'"
                            " | cut -d@ -f1); ip link set \"$n\" nomaster; ip link set \"$n\" up"]),
    ],
    "lesson1/find-the-peer": [
        ("fresh", ["rm -f /tmp/busybox3-peer"]),
        ("setup", ["rm -f /tmp/busybox3-peer", "setup"]),
        ("solved", ["rm -f /tmp/busybox3-peer", "setup", "solution"]),
        ("wrong-eth0-peer", ["rm -f /tmp/busybox3-peer", "setup",
                             "docker run -dit --name busybox3 busybox sh",
                             "docker network create backend",
                             "docker network connect backend busybox3",
                             "peer=$(docker exec busybox3 cat /sys/class/net/eth0/iflink); "
                             "ip -o link | awk -F': ' -v n=\"$peer\" '$1 == n {print $2}' "
                             "> /tmp/busybox3-peer"]),
        ("wrong-peer", ["rm -f /tmp/busybox3-peer", "setup",
                        "docker run -dit --name busybox3 busybox sh",
                        "docker network create backend",
                        "docker network connect backend busybox3",
                        "peer=$(docker exec busybox1 cat /sys/class/net/eth0/iflink); "
                        "ip -o link | awk -F': ' -v n=\"$peer\" '$1 == n {print $2}' "
                        "> /tmp/busybox3-peer"]),
        ("wrong-not-veth", ["rm -f /tmp/busybox3-peer", "setup",
                            "docker run -dit --name busybox3 busybox sh",
                            "docker network create backend",
                            "docker network connect backend busybox3",
                            "echo docker0 > /tmp/busybox3-peer"]),
        ("wrong-stopped", ["rm -f /tmp/busybox3-peer", "setup",
                           "docker create --name busybox3 busybox sh"]),
        ("wrong-one-network", ["rm -f /tmp/busybox3-peer", "setup",
                               "docker run -dit --name busybox3 busybox sh"]),
        ("wrong-no-answer", ["rm -f /tmp/busybox3-peer", "setup",
                             "docker run -dit --name busybox3 busybox sh",
                             "docker network create backend",
                             "docker network connect backend busybox3"]),
        ("wrong-unknown-name", ["rm -f /tmp/busybox3-peer", "setup",
                                "docker run -dit --name busybox3 busybox sh",
                                "docker network create backend",
                                "docker network connect backend busybox3",
                                "echo vethnope@if9 > /tmp/busybox3-peer"]),
    ],
    "lesson2/cable-off": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        ("wrong-down", ["setup", "peer=$(docker exec busybox2 cat /sys/class/net/eth0/iflink)"
                        "; n=$(ip -o link | awk -F': ' -v n=\"$peer\" '$1 == n {print $2}'"
                        " | cut -d@ -f1); ip link set \"$n\" down; ip link set \"$n\" master"
                        " docker0"]),
        ("wrong-other-bridge", ["setup", "ip link add br9 type bridge",
                                "peer=$(docker exec busybox2 cat /sys/class/net/eth0/iflink)"
                                "; n=$(ip -o link | awk -F': ' -v n=\"$peer\" '$1 == n "
                                "{print $2}' | cut -d@ -f1); ip link set \"$n\" master br9"]),
    ],
    "lesson2/which-cable": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        ("wrong-no-answer", ["rm -f /tmp/busybox4-cable", "setup",
                             "docker run -dit --name busybox4 busybox sh"]),
        ("wrong-sender", ["setup", "docker run -dit --name busybox4 busybox sh",
                          "bridge link | grep -o 'veth[0-9a-f]*' | head -n 1 "
                          "> /tmp/busybox4-cable"]),
        ("wrong-other-port", ["setup", "docker run -dit --name busybox4 busybox sh",
                              "bridge link | grep -o 'veth[0-9a-f]*' | sed -n 2p "
                              "> /tmp/busybox4-cable"]),
        ("wrong-bridge", ["setup", "docker run -dit --name busybox4 busybox sh",
                          "echo docker0 > /tmp/busybox4-cable"]),
        ("wrong-unknown-name", ["setup", "docker run -dit --name busybox4 busybox sh",
                                "echo vethnope > /tmp/busybox4-cable"]),
    ],
    "lesson3/way-out": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        ("wrong-gateway", ["setup", "pid=$(docker inspect -f '{{.State.Pid}}' busybox1); "
                           "nsenter -t \"$pid\" -n ip route add default via 172.17.0.3"]),
    ],
    "lesson3/route-in": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        ("wrong-on-link", ["setup", "ip -n outside route add 172.17.0.0/16 dev eth0"]),
        ("wrong-via", ["setup", "ip -n outside route add 172.17.0.0/16 via 203.0.113.99"]),
        ("wrong-no-forward", ["setup", "solution", "sysctl -w net.ipv4.ip_forward=0"]),
    ],
    "lesson4/port-by-hand": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        ("wrong-prerouting-only", [
            "setup", "iptables -t nat -A PREROUTING -p tcp --dport 9090 -j DNAT "
            "--to-destination 172.17.0.2:80"]),
        ("wrong-destination", [
            "setup", "iptables -t nat -A OUTPUT -p tcp --dport 9090 -j DNAT "
            "--to-destination 172.17.0.9:80"]),
    ],
    "lesson4/wrong-chain": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        ("wrong-no-rule", ["setup", "iptables -t nat -F OUTPUT"]),
    ],
    "lesson5/no-masquerade": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        ("wrong-route-back", ["setup",
                              "ip -n outside route add 10.15.10.0/24 via 203.0.113.1"]),
    ],
    "lesson5/third-namespace": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        ("wrong-not-attached", [
            "setup", "ip netns add lab-ns2", "ip link add veth4 type veth peer name veth5",
            "ip link set veth5 netns lab-ns2", "ip -n lab-ns2 addr add 10.15.10.4/24 dev veth5",
            "ip -n lab-ns2 link set veth5 up"]),
        ("wrong-no-address", ["setup", "ip netns add lab-ns2"]),
        ("wrong-not-veth", ["setup", "ip netns add lab-ns2",
                            "ip -n lab-ns2 link add br9 type bridge",
                            "ip -n lab-ns2 addr add 10.15.10.4/24 dev br9"]),
        ("wrong-peer-inside", ["setup", "ip netns add lab-ns2",
                               "ip -n lab-ns2 link add veth4 type veth peer name veth5",
                               "ip -n lab-ns2 addr add 10.15.10.4/24 dev veth4",
                               "ip -n lab-ns2 link set veth4 up"]),
        ("wrong-taken-address", [
            "setup", "solution", "ip -n lab-ns2 addr flush dev eth0",
            "ip -n lab-ns2 addr add 10.15.10.3/24 dev eth0"]),
    ],
    "lesson6/check-drift": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        # a default route, but through another router than the one the plugin set
        ("wrong-other-gateway", ["setup", "ip -n lab-ns route add default via 10.15.10.1"]),
        # DEL and ADD again instead of a fix: the CHECK config's prevResult is out of date
        ("wrong-readded", ["setup", "cd /root/test-cni/conf && for c in DEL ADD; do "
                           "CNI_COMMAND=$c CNI_CONTAINERID=lab-ns CNI_NETNS=/var/run/netns/lab-ns "
                           "CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin /opt/cni/bin/bridge "
                           "< lab-br0.conf > /dev/null; done"]),
    ],
    "lesson6/second-network": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        # eth1 made by hand with ip: no lease, no bridge
        ("wrong-by-hand", ["setup", "ip link add veth9 type veth peer name eth1 netns lab-ns",
                           "ip -n lab-ns addr add 10.15.11.2/24 dev eth1",
                           "ip -n lab-ns link set eth1 up"]),
        # the config copied with its default route: ADD adds a second default route
        ("wrong-second-default", [
            "setup", "cd /root/test-cni/conf && sed 's/lab-br0/lab-br-eth1/g; s/10\\.15\\.10\\./"
            "10.15.11./g; /range/d; s/10.15.11.99/10.15.11.1/' lab-br0.conf > lab-br-eth1.conf && "
            "CNI_COMMAND=ADD CNI_CONTAINERID=lab-ns CNI_NETNS=/var/run/netns/lab-ns "
            "CNI_IFNAME=eth1 CNI_PATH=/opt/cni/bin /opt/cni/bin/bridge < lab-br-eth1.conf; true"]),
    ],
    "lesson7/leaked-leases": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        ("wrong-leases-freed-only", ["setup", _FREE_LAB_BR2]),
        ("wrong-half-add-undone-only", ["setup", _WEB2 + "CNI_COMMAND=DEL " + _WEB2_ENV]),
        ("wrong-other-id", ["setup", _FREE_LAB_BR2, _WEB2 + "CNI_COMMAND=DEL " + _WEB2_ENV,
                            _WEB2 + "CNI_COMMAND=ADD " + _WEB2_ENV.replace("$ID", "lab-web2")]),
        # lab-web2 works, but the old containers' chains stayed (their DEL had no namespace)
        ("wrong-chains-left", ["setup", _FREE_LAB_BR2, _WEB2 + "CNI_COMMAND=DEL " + _WEB2_ENV,
                               _WEB2 + "CNI_COMMAND=ADD " + _WEB2_ENV]),
    ],
    "lesson7/clean-del": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        ("wrong-rm-first", ["setup", "docker rm -f lab-web3", _WAIT_NO_PORT]),
        ("wrong-del-after-rm", ["setup", "docker rm -f lab-web3", _DEL_FROM_LEASE]),
        # the jump removed by hand, the chain itself not
        ("wrong-chain-left", ["setup", "docker rm -f lab-web3", _WAIT_NO_PORT, _DEL_FROM_LEASE,
                              "eval \"iptables -t nat $(iptables -t nat -S POSTROUTING | grep "
                              "10.15.20 | sed 's/^-A/-D/')\""]),
        # the cell before the exercise skipped: nothing of lab-web3 anywhere
        ("wrong-cell-skipped", [_WITHOUT_WEB3]),
    ],
    "lesson8/no-exec": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        # the learner ran the failing start, then fixed the mode: c1 is still in containerd
        ("wrong-left-behind", ["setup", f"{lesson8.CTR} run --rm --cni "
                               "docker.io/library/busybox:latest c1 true || true",
                               f"chmod +x {lesson8.PLUGIN}"]),
        ("wrong-config-changed", ["setup", f"sed -i s/logger/bridge/ {lesson8.CONFIG}"]),
    ],
    "lesson8/real-veth": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        ("wrong-only-logs", ["setup", "ip netns add lab-c1",
                             "cnitool add lab-veth-1 /var/run/netns/lab-c1"]),
        ("wrong-empty-result", ["setup", "solution",
                                "sed -i 's/^  cat <<JSON$/  echo {}; cat > \\/dev\\/null <<JSON/' "
                                f"{lesson8.PLUGIN}",
                                "cnitool del lab-veth-1 /var/run/netns/lab-c1",
                                "cnitool add lab-veth-1 /var/run/netns/lab-c1"]),
        ("wrong-del-keeps", ["setup", "solution",
                             f"sed -i 's/^  ip link del .*/  :/' {lesson8.PLUGIN}",
                             "cnitool add lab-veth-2 /var/run/netns/lab-c2",
                             "cnitool del lab-veth-2 /var/run/netns/lab-c2"]),
    ],
    # lesson 9 needs the Go lab (labkit-lab-go): record with one of those
    "lesson9/lost-master": [
        ("fresh", ["rm -rf /root/test-cni/simple-bridge"]),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        # cni-go2 plugged in by hand, the plugin left as the break made it
        ("wrong-kernel-only", ["setup", "i=$(docker exec cni-go2 cat /sys/class/net/eth0/iflink)"
                               "; p=$(ip -o link | awk -F': ' -v n=\"$i\" '$1 == n {print $2}'"
                               " | cut -d@ -f1); ip link set \"$p\" master lab-cni-mybr"]),
        # the plugin fixed and built, cni-go2 left cut off
        ("wrong-code-only", ["setup", "cd /root/test-cni/simple-bridge && sed -i "
                             "'s/netlink.LinkSetUp(hostVeth)/netlink.LinkSetMaster(hostVeth, br)/'"
                             " simple-bridge.go && go build simple-bridge.go"]),
    ],
    "lesson9/del": [
        ("fresh", ["rm -rf /root/test-cni/simple-bridge"]),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        # cmdDel deletes, but a second DEL fails: "not found" taken for an error
        ("wrong-second-del", ["setup", "cd /root/test-cni/simple-bridge && "
                              "sed -i '/^func cmdDel/,/^}/d' simple-bridge.go && "
                              "printf '%s\\n' 'func cmdDel(args *skel.CmdArgs) error {' "
                              "'return ns.WithNetNSPath(args.Netns, func(_ ns.NetNS) error {' "
                              "'return ip.DelLinkByName(args.IfName)' '})' '}' "
                              ">> simple-bridge.go && go build simple-bridge.go"]),
        # the source fixed, the binary not built again
        ("wrong-not-built", ["setup", "cd /root/test-cni/simple-bridge && sleep 1 && "
                             "sed -i '/^func cmdDel/,/^}/d' simple-bridge.go"]),
    ],
    # lesson 10 needs the Kubernetes lab (labkit-k8s): record with one of those
    "lesson10/pod-by-hand": [
        ("fresh", []),
        ("solved", ["solution"]),
        # the article's way round: the app owns the network and the other joins it
        ("wrong-no-pause", ["docker run -d --name web busybox httpd -f -p 80",
                            "docker run -dit --name side --net=container:web busybox"]),
        # pause there, but side started on a network of its own
        ("wrong-own-network", ["docker run -d --name pod-web k8s.gcr.io/pause:3.2",
                               "docker run -d --name web --net=container:pod-web busybox "
                               "httpd -f -p 80", "docker run -dit --name side busybox"]),
        # all three joined, but web serves no port 80
        ("wrong-no-server", ["docker run -d --name pod-web k8s.gcr.io/pause:3.2",
                             "docker run -dit --name web --net=container:pod-web busybox",
                             "docker run -dit --name side --net=container:pod-web busybox"]),
        # the server started in side, web a plain busybox: localhost:80 answers all the same
        ("wrong-server-in-side", ["docker run -d --name pod-web k8s.gcr.io/pause:3.2",
                                  "docker run -dit --name web --net=container:pod-web busybox",
                                  "docker run -d --name side --net=container:pod-web busybox "
                                  "httpd -f -p 80"]),
        # pod-web made again after the others joined it: they are in the old one's network
        ("wrong-old-pod", ["solution", "docker rm -f pod-web > /dev/null",
                           "docker run -d --name pod-web k8s.gcr.io/pause:3.2"]),
        # in a lab without Kubernetes (see ELSEWHERE)
        ("no-k8s", []),
    ],
    "lesson10/port-clash": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        # the article's test-pod-2: a second nginx on port 80 in the same pod
        ("wrong-same-port", ["setup", lesson10.TEST_POD_1.replace("test-pod-1", "test-pod-2")
                             + "sed -i '$a\\      - name: lab-web-2\\n        image: lab-web\\n"
                             "        imagePullPolicy: Never' /root/test-pod-2.yaml && "
                             "kubectl apply -f /root/test-pod-2.yaml > /dev/null 2>&1 && "
                             "sleep 20"]),
        # checked at once after the apply: the new pod has no containers yet
        ("wrong-starting", ["setup", _APPLY_3]),
        # lab-web-2 on the default pull policy: the node's engine tries a registry
        ("wrong-pull", ["setup", _PULL_3 + "sleep 20"]),
        ("wrong-no-lab-web", ["setup", _RENAMED_3]),
    ],
    # lesson 11 needs the Kubernetes lab too
    "lesson11/lost-route": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        # the route back, but through the master instead of node-2
        ("wrong-via-master", ["setup", "k8s-lab exec kube-node-1 ip route add 10.244.3.0/24 "
                              "via 10.192.0.2"]),
        # the route back with no gateway: node-2's pods taken for neighbours on the node network
        ("wrong-no-gateway", ["setup", "k8s-lab exec kube-node-1 ip route add 10.244.3.0/24 "
                              "dev eth0"]),
    ],
    # lesson 12 too: test-svc's selector asks for tier=front, which no pod has
    "lesson12/no-endpoints": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        # only web-1 given the label the selector asks for: one endpoint of three
        ("wrong-one-labelled", ["setup", "kubectl label pod web-1 tier=front && sleep 3"]),
        # a selector that picks the client instead of the web pods
        ("wrong-client", ["setup", "kubectl set selector service test-svc app=client && sleep 3"]),
    ],
    # lesson 13 too: test-svc's targetPort is 8080, a port web-1 does not use
    "lesson13/nodeport-refused": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        # the Service's own port changed instead of targetPort: still sent to 8080
        ("wrong-port", ["setup", _L13_PATCH.format(path="port", value="8080")]),
        # targetPort a name web-1's container does not declare: no endpoint at all
        ("wrong-name", ["setup", _L13_PATCH.format(path="targetPort", value='"http"')]),
        # made a ClusterIP Service: the port fixed, but no node opens 30454 any more
        ("wrong-clusterip", ["setup", "kubectl patch service test-svc --type=json -p '["
                             '{"op": "replace", "path": "/spec/type", "value": "ClusterIP"}, '
                             '{"op": "remove", "path": "/spec/ports/0/nodePort"}, '
                             '{"op": "replace", "path": "/spec/ports/0/targetPort", '
                             '"value": "web-port"}]' "' && sleep 3"]),
    ],
    # lesson 14: the Ingress's /svc-2 names a port test-svc-2 lacks (`web`), rendered again
    "lesson14/wrong-backend": [
        ("fresh", []),
        ("setup", ["setup"]),
        ("solved", ["setup", "solution"]),
        # the Ingress fixed, but our script not run again: nginx.conf still says 503
        ("stale", ["setup", _L14_PATCH.format(path="port/name", value='"http"')]),
        # the Service's name changed instead: no such Service
        ("wrong-service", ["setup", _L14_PATCH.format(path="name", value='"test-svc-3"')
                           + " && python3 /root/our-ingress.py lab-ingress > /dev/null"]),
    ],
}
#: states recorded in another lab (`record.py LAB EXERCISE_ID:STATE` records only that one,
#: keeping the file's others); a whole exercise's recording keeps them as they are
ELSEWHERE = {("lesson10/pod-by-hand", "no-k8s"): "a course lab (labkit-lab:latest)"}


class Recorder:
    """Stands in for the lab while a check runs: forwards `run` and writes down the answer."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.answers: list[dict] = []

    def run(self, command: str, **kwargs):
        result = self.lab.run(command, **kwargs)
        self.answers.append({"command": command, "kwargs": kwargs, "stdout": result.stdout,
                             "stderr": result.stderr, "exit_code": result.exit_code,
                             "timed_out": result.timed_out})
        return result


def record(lab: Lab, exercise_id: str, only: str | None = None) -> dict:
    """All the exercise's states but those recorded ELSEWHERE, or just the state `only`; the
    states not recorded now are kept from the exercise's file."""
    ex = get(exercise_id)
    out = HERE / (exercise_id.replace("/", "-") + ".json")
    kept = ({s["state"]: s for s in json.loads(out.read_text(encoding="utf-8"))["states"]}
            if out.exists() else {})
    states = []
    for state, steps in STATES[exercise_id]:
        if (state != only) if only else (exercise_id, state) in ELSEWHERE:
            if state in kept:
                states.append(kept[state])
            continue
        report = lab.reset()
        assert report.clean, report.warnings
        for step in steps:
            script = {"setup": ex.start, "solution": ex.solution}.get(step, step)
            lab.run(script, timeout=120, check=True)
        recorder = Recorder(lab)
        problems = ex.check(recorder)  # type: ignore[arg-type]
        states.append({"state": state, "steps": steps, "problems": problems,
                       "answers": recorder.answers})
        print(f"{exercise_id} {state}: {problems or 'passed'}", file=sys.stderr)
    return {"exercise": exercise_id, "states": states}


def main(name: str, only: list[str]) -> None:
    lab = Lab.connect(name=name)
    for wanted in only or STATES:
        exercise_id, _, state = wanted.partition(":")
        out = HERE / (exercise_id.replace("/", "-") + ".json")
        out.write_text(json.dumps(record(lab, exercise_id, state or None), indent=1,
                                  ensure_ascii=False) + "\n", encoding="utf-8")
    lab.reset()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])  # exercise ids after the lab: record only those
