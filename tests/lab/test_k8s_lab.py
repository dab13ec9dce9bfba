"""The Kubernetes lab (k8s/Dockerfile), live: in one throw-away lab of that image, `k8s-lab up`
starts the articles' three-node cluster (kube-master, kube-node-1, kube-node-2 on
10.192.0.0/24); both workers' real kubelets register Ready; pods pinned to each worker get
10.244.2.x and 10.244.3.x and reach each other across nodes; a ClusterIP Service answers
through kube-proxy's rules; a Pod survives three PATCHes (the reflect2 crash the image's build
fixes); no global sysctl changes; `k8s-lab down`, and the lab's reset after an `up`, leave
nothing of the cluster behind; then the lab itself goes, volume included.

Runs only when selected (`make test-k8s`, i.e. `pytest -m k8s tests/lab/test_k8s_lab.py`): the
image takes minutes to build. The tests share one lab and run in file order.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time

import pytest

from labkit import Lab

# tests/conftest.py's K8S_IMAGE and THROWAWAY_LABEL (conftest is not importable)
K8S_IMAGE = os.environ.get("LABKIT_K8S_IMAGE", "labkit-k8s:latest")
THROWAWAY_LABEL = {"org.labkit.role": "test-throwaway"}
pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.lab(reset=False)]

NODES = {"kube-master": "10.192.0.2", "kube-node-1": "10.192.0.3", "kube-node-2": "10.192.0.4"}
POD_NETS = {"kube-node-1": "10.244.2.", "kube-node-2": "10.244.3."}  # the articles' per node
# (the lab's own dockerd and containerd stay: the nodes' are compared by count, in STATE)
CLUSTER = {"etcd", "kube-apiserver", "kube-controller", "kube-scheduler", "kubelet",
           "kube-proxy", "containerd-shim", "pause", "httpd", "sleep"}
# The kubelet would write these; none of them is per namespace (the learner's kernel's).
SYSCTLS = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
           "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
           "net/netfilter/nf_conntrack_max", "net/netfilter/nf_conntrack_tcp_timeout_established",
           "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
           "net/ipv4/conf/all/route_localnet")
# The lab's state the cluster may touch, one section per line group (compared before/after).
STATE = r"""
# (processes: not those of this script and of the lab's healthcheck, `docker info`, which
# makes the engine run `runc --version`: through k8s/runc-oom.sh, which runs awk)
echo @processes; ps -eo comm= | sort \
  | grep -vxE 'ps|sort|grep|bash|sh|timeout|cat|healthcheck.sh|docker|runc-oom.sh|runc|awk'
echo @netns; ip netns list
echo @links; ip -br link | awk '{print $1}'
echo @routes; ip route
echo @iptables; iptables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
echo @mounts; awk '{print $5}' /proc/self/mountinfo | sort
echo @files; ls -d /var/lib/k8s-lab /run/k8s-lab /root/.kube /var/lib/kubelet /var/lib/cni \
  /etc/cni/net.d /var/log/pods /var/log/containers /var/lib/dockershim /dev/kmsg 2>/dev/null
# the pods' cgroup folders (k8s/k8s-lab.sh, cgroup_name), in any hierarchy: none after down
echo @cgroups; find /sys/fs/cgroup -maxdepth 6 -type d \
  -name "k8s-lab-*-net$(stat -Lc %i /proc/1/ns/net)" 2>/dev/null
echo @sysctl; for f in SYSCTLS; do echo "$f $(cat /proc/sys/$f)"; done
""".replace("SYSCTLS", " ".join(SYSCTLS))

PODS = """
apiVersion: v1
kind: Pod
metadata: {name: "web-@", labels: {app: web}}
spec:
  nodeName: "kube-node-@"
  containers:
  - name: web
    image: busybox:latest
    imagePullPolicy: Never
    command: ["sh", "-c", "echo hello from web-@ > /index.html && exec httpd -f -p 80 -h /"]
"""
CLIENT = """
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: kube-node-1
  containers:
  - {name: client, image: "busybox:latest", imagePullPolicy: Never, command: [sleep, "3600"]}
"""
SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def state(lab: Lab) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in lab.sh(STATE).splitlines():
        if line.startswith("@"):
            section = out.setdefault(line[1:], [])
        else:
            section.append(line)
    return out


def changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per section, the lines gone (-) and new (+): {} when the states are the same."""
    out = {}
    for key in before.keys() | after.keys():
        b, a = before.get(key, []), after.get(key, [])
        gone = [f"- {x}" for x in b if b.count(x) > a.count(x)]
        new = [f"+ {x}" for x in a if a.count(x) > b.count(x)]
        if gone or new:
            out[key] = sorted(set(gone + new))
    return out


def http_get(lab: Lab, pod: str, address: str) -> str:
    """The body busybox's nc gets from ADDRESS:80 in POD (not wget: Debian's busybox-static
    wget crashes)."""
    res = lab.run(f"""kubectl exec {pod} -- sh -c 'printf "GET / HTTP/1.0\\r\\n\\r\\n" """
                  f"""| nc -w 3 {address} 80'""", timeout=30)
    return res.stdout


def apply(lab: Lab, manifest: str) -> None:
    lab.sh(f"kubectl apply -f - <<'EOF'\n{manifest}\nEOF")


@pytest.fixture(scope="module")
def k8s(docker_api):
    """One throw-away lab of the Kubernetes image, its start state and a running cluster."""
    import docker.errors

    from labkit import lab as labmod

    try:
        docker_api.images.get(K8S_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{K8S_IMAGE} is not built (see k8s/Dockerfile)")
    container = docker_api.containers.create(
        K8S_IMAGE, name=f"labkit-test-k8s-{secrets.token_hex(3)}", hostname="lab",
        labels=THROWAWAY_LABEL, cap_add=["ALL"], cap_drop=["SYS_RESOURCE"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
        network_mode="none")  # no traffic leaves it
    before = labmod._current
    container.start()
    try:
        lab = Lab.connect(name=container.name, wait=180)
        start_state = state(lab)
        t0 = time.monotonic()
        up = lab.run("k8s-lab up", timeout=240)
        took = time.monotonic() - t0
        assert up.exit_code == 0, up.output
        print(f"\nk8s-lab up: {took:.1f} s\n{lab.sh('k8s-lab status')}")
        yield {"lab": lab, "container": container, "start": start_state, "up": up.stdout}
    finally:
        labmod._current = before  # connecting to a throw-away lab made it the magics' lab
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass


def test_pause_image_made_offline(k8s):
    lab = k8s["lab"]
    pause = lab.sh("docker image inspect -f '{{.Comment}}' k8s.gcr.io/pause:3.2")
    assert "built from Kubernetes v1.20.2 source" in pause
    # every node's own engine was seeded with it (and busybox) from the lab's
    for node in POD_NETS:
        images = lab.sh(f"k8s-lab exec {node} docker images "
                        "--format '{{.Repository}}:{{.Tag}}'")
        assert {"k8s.gcr.io/pause:3.2", "busybox:latest"} <= set(images.split()), images


def test_three_nodes_on_the_node_network(k8s):
    lab = k8s["lab"]
    assert "Kubernetes v1.20.2" in k8s["up"]
    assert re.search(r"up in \d+ s", k8s["up"]), k8s["up"]
    assert set(lab.sh("ip netns list | awk '{print $1}'").split()) == set(NODES)
    assert "10.192.0.1/24" in lab.sh("ip -br addr show kube-br0")
    for node, ip in NODES.items():
        assert f"{ip}/24" in lab.sh(f"ip -n {node} -br addr show eth0"), node
    # kubeadm-dind-cluster's static routes: each worker's pod CIDR via that worker
    assert "10.244.3.0/24 via 10.192.0.4 dev eth0" in lab.sh("ip -n kube-node-1 route")
    assert "10.244.2.0/24 via 10.192.0.3 dev eth0" in lab.sh("ip -n kube-node-2 route")
    # plain kubectl (no flags) reaches the apiserver on kube-master, which advertises itself
    assert "v1.20.2" in lab.sh("kubectl version --short")
    assert lab.sh("kubectl get ep kubernetes -o jsonpath='{.subsets[0].addresses[0].ip}'") \
        == "10.192.0.2"
    # the control plane's own listeners are in kube-master's namespace, none in the lab's root
    assert not lab.sh("ss -Hltnp | grep -E 'etcd|kube-' || true")
    listeners = lab.sh("ip netns exec kube-master ss -Hltnp | awk '{print $4}'").split()
    assert "10.192.0.2:6443" in listeners, listeners
    assert all(a.startswith(("127.0.0.1:", "10.192.0.2:")) for a in listeners), listeners


def test_master_has_no_engine_to_exec(k8s):
    """kube-master runs no dockerd: `docker` there would be the lab's own engine."""
    lab = k8s["lab"]
    res = lab.run("k8s-lab exec kube-master docker ps")
    assert res.exit_code != 0
    assert "kube-master runs no dockerd" in res.stderr and "kube-node-1" in res.stderr, res.output
    assert "CONTAINER ID" not in res.stdout  # nothing of the lab's engine was listed
    # the master's network is still there to look at
    assert "10.192.0.2/24" in lab.sh("k8s-lab exec kube-master ip -br addr show eth0")


def test_workers_ready(k8s):
    lab = k8s["lab"]
    nodes = lab.sh("kubectl get nodes --no-headers -o custom-columns="
                   "N:.metadata.name,S:.status.conditions[-1].type,IP:.status.addresses[0].address,"
                   "C:.spec.podCIDR")
    rows = {line.split()[0]: line.split()[1:] for line in nodes.splitlines()}
    assert rows == {"kube-node-1": ["Ready", "10.192.0.3", "10.244.2.0/24"],
                    "kube-node-2": ["Ready", "10.192.0.4", "10.244.3.0/24"]}, nodes
    # each kubelet and kube-proxy runs in its node's network namespace
    for node in POD_NETS:
        pids = lab.sh(f"ip netns pids {node} | xargs -r ps -o comm= -p").split()
        assert {"kubelet", "kube-proxy", "dockerd", "containerd"} <= set(pids), (node, pids)


def test_pods_on_both_workers(k8s):
    lab = k8s["lab"]
    for n in ("1", "2"):
        apply(lab, PODS.replace("@", n))
    apply(lab, CLIENT)
    apply(lab, SERVICE)
    lab.sh("kubectl wait --for=condition=Ready pod/web-1 pod/web-2 pod/client --timeout=90s",
           timeout=120)
    pods = lab.sh("kubectl get pods --no-headers -o custom-columns=N:.metadata.name,"
                  "NODE:.spec.nodeName,IP:.status.podIP,S:.status.phase")
    rows = {line.split()[0]: line.split()[1:] for line in pods.splitlines()}
    for name, node in (("web-1", "kube-node-1"), ("web-2", "kube-node-2"),
                       ("client", "kube-node-1")):
        assert rows[name][0] == node and rows[name][2] == "Running", pods
        assert rows[name][1].startswith(POD_NETS[node]), pods
    k8s["ips"] = {name: row[1] for name, row in rows.items()}
    # the pod's sandbox is a pause container of its node's engine; its CNI state on that node
    names = lab.sh("k8s-lab exec kube-node-2 docker ps --format '{{.Names}}'")
    assert re.search(r"^k8s_POD_web-2_default_", names, re.M), names
    ip2 = k8s["ips"]["web-2"]
    assert lab.run(f"k8s-lab exec kube-node-2 test -f /var/lib/cni/networks/dindnet/{ip2}").ok
    assert "10.244.3.1/24" in lab.sh("k8s-lab exec kube-node-2 ip -br addr show dind0")


def test_pod_to_pod_across_nodes(k8s):
    lab, ips = k8s["lab"], k8s["ips"]
    assert "hello from web-2" in http_get(lab, "web-1", ips["web-2"])
    assert "hello from web-1" in http_get(lab, "web-2", ips["web-1"])


def test_cluster_ip_service(k8s):
    lab = k8s["lab"]
    svc = lab.sh("kubectl get svc web -o jsonpath='{.spec.clusterIP}'")
    assert svc.startswith("10.")
    # kube-proxy's rules on the client's node send it to either pod
    rules = lab.sh("k8s-lab exec kube-node-1 iptables -t nat -S KUBE-SERVICES")
    assert f"-d {svc}/32" in rules, rules
    seen = set()
    for _ in range(10):
        body = http_get(lab, "client", svc)
        seen |= set(re.findall(r"hello from (web-\d)", body))
        if len(seen) == 2:
            break
    assert seen == {"web-1", "web-2"}, seen


def test_pod_patch_three_times(k8s):
    """The reflect2 1.0.1 crash (Go >= 1.18) killed kube-apiserver on a Pod PATCH."""
    lab = k8s["lab"]
    apiserver = lab.sh("cat /run/k8s-lab/pids/kube-master.kube-apiserver")
    for i in range(3):
        patch = json.dumps({"metadata": {"labels": {"a": f"b{i}"}}})
        res = lab.run(f"kubectl patch pod web-1 -v=6 -p '{patch}'")
        assert res.exit_code == 0, res.output
        assert re.search(r"PATCH https://10\.192\.0\.2:6443/api/v1/namespaces/default/pods/"
                         r"web-1\S* 200 OK", res.output), res.output
    assert lab.sh("kubectl get pod web-1 -o jsonpath='{.metadata.labels.a}'") == "b2"
    assert lab.sh("kubectl get --raw /livez") == "ok"
    assert lab.sh("cat /run/k8s-lab/pids/kube-master.kube-apiserver") == apiserver
    assert not lab.run("grep -l 'SIGSEGV\\|panic:' /var/log/k8s-lab/*.log").stdout


def test_no_global_sysctl_changed(k8s):
    assert state(k8s["lab"])["sysctl"] == k8s["start"]["sysctl"]


def test_down_leaves_nothing(k8s):
    """kube-node-1 the usual way; kube-node-2's dockerd dies first, as an engine can, so its
    pods (web-2's httpd, the pause containers) are reached only through their shims."""
    lab = k8s["lab"]
    # the stand-in up made (the lab has no /dev/kmsg)
    assert lab.sh("readlink /dev/kmsg").strip() == "/dev/null"
    lab.sh("kill -KILL $(cat /run/k8s-lab/pids/kube-node-2.dockerd)")
    lab.sh("for i in $(seq 50); do [ -e /proc/$(cat /run/k8s-lab/pids/kube-node-2.dockerd) ] "
           "|| break; sleep 0.1; done")
    assert "httpd" in lab.sh("ps -eo comm="), "web-2's httpd went with its dockerd"
    # The pods' processes are in their node's cgroup folder (what down sweeps)...
    cgroups = lab.sh("for p in $(pgrep -x httpd); do cat /proc/$p/cgroup; done")
    for node in ("kube-node-1", "kube-node-2"):
        assert f"/k8s-lab-{node}-net" in cgroups, cgroups
    # ...and one there that no engine knows (as a runc init caught mid-start was): down kills it
    orphan = lab.sh("d=$(find /sys/fs/cgroup -maxdepth 6 -type d "
                    "-name k8s-lab-kube-node-1-net$(stat -Lc %i /proc/1/ns/net) | head -1); "
                    "setsid sleep 300 </dev/null >/dev/null 2>&1 & "
                    "echo $! > $d/cgroup.procs && echo $!").strip()
    down = lab.run("k8s-lab down", timeout=90)
    assert down.exit_code == 0, down.output
    assert "left in kube-node-1's pod cgroups: sleep x1" in down.output, down.output
    assert "kube-node-1's pod cgroups" in down.stdout.rsplit("removed", 1)[1], down.output
    assert not lab.run(f"test -e /proc/{orphan}").ok
    assert "stopped kube-node-1/kubelet" in down.stdout, down.output
    assert re.search(r"killed \d+ pod process\(es\) of kube-node-2's containerd-shim",
                     down.stdout), down.output
    assert not lab.run("test -e /dev/kmsg || test -L /dev/kmsg").ok  # the stand-in is gone
    after = state(lab)
    assert not set(after["processes"]) & CLUSTER, after["processes"]
    assert not [line for line in after["iptables"] if "KUBE-" in line or "k8s-lab" in line]
    assert not changes(k8s["start"], after)


def test_up_stops_at_a_failed_step(k8s):
    """A step of the network that fails (here a route the lab has already) stops `up` with
    the step named, and what was made is gone again."""
    lab = k8s["lab"]
    lab.sh("ip link add lab-k8s-t type veth peer name lab-k8s-u && ip link set lab-k8s-t up "
           "&& ip route add 10.244.3.0/24 dev lab-k8s-t")  # (the lab's kernel has no dummy)
    try:
        up = lab.run("k8s-lab up", timeout=240)
        assert up.exit_code == 1, up.output
        assert "`ip route add 10.244.3.0/24 via 10.192.0.4` failed" in up.stderr, up.output
        assert "up failed: stopping what started" in up.stdout, up.output
        assert "up in" not in up.stdout
    finally:
        lab.sh("ip link delete lab-k8s-t")
    assert not changes(k8s["start"], state(lab))


def test_up_clears_the_empty_pod_cgroups_an_earlier_lab_left(k8s):
    """Namespace inodes are reused: a lab removed without `k8s-lab down` leaves its empty pod
    cgroup folders in the machine-wide hierarchy, named for its namespace's inode; a later
    lab that got the same inode took them for a cluster of its own ("a cluster is there
    already"). up removes such folders (no process in them) and starts."""
    lab = k8s["lab"]
    planted = lab.sh("d=/sys/fs/cgroup/unified; [ -d $d ] || d=/sys/fs/cgroup; "
                     "d=$d/k8s-lab-kube-node-2-net$(stat -Lc %i /proc/1/ns/net); "
                     "mkdir $d && echo $d").strip()
    try:
        up = lab.run("k8s-lab up", timeout=240)
        assert up.exit_code == 0, up.output
    finally:
        down = lab.run("k8s-lab down", timeout=90)
        lab.run(f"rmdir {planted}")
    assert down.exit_code == 0, down.output
    assert not changes(k8s["start"], state(lab))


def test_reset_after_up(k8s):
    lab = k8s["lab"]
    assert lab.run("k8s-lab up", timeout=240).exit_code == 0
    apply(lab, PODS.replace("@", "2"))
    lab.sh("kubectl wait --for=condition=Ready pod/web-2 --timeout=90s", timeout=120)
    report = lab.reset()
    assert report.clean, report.warnings
    assert any("k8s-lab down" in a for a in report.actions), report.actions
    assert not changes(k8s["start"], state(lab))


def test_lab_removed_with_its_volume(k8s, docker_api):
    container = k8s["container"]
    container.reload()
    volumes = [m["Name"] for m in container.attrs["Mounts"] if m.get("Type") == "volume"]
    container.remove(force=True, v=True)
    assert container.name not in {c.name for c in docker_api.containers.list(all=True)}
    still = {v.name for v in docker_api.volumes.list()} & set(volumes)
    assert not still, f"volumes left: {still}"
