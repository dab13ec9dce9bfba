#!/bin/bash
# k8s-lab: the articles' three-node Kubernetes v1.20.2 cluster inside the lab (issue 15).
#
#   k8s-lab up               start the cluster, print how long it took
#   k8s-lab down             stop every process of it and remove all it made (reports what)
#   k8s-lab status           each node's processes with their pids and memory (RSS)
#   k8s-lab exec NODE CMD..  run CMD on a node: its network and mount namespaces, its own
#                            dockerd as `docker` (the articles' `docker exec -it kube-node-1 bash`)
#
# The layout is kubeadm-dind-cluster's, the articles' cluster: nodes on 10.192.0.0/24
# (kube-master .2, kube-node-1 .3, kube-node-2 .4) joined by the bridge kube-br0 (10.192.0.1)
# in the lab's root namespace; pod network 10.244.0.0/16 with 10.244.<index+1>.0/24 per node
# on the CNI bridge dind0 (network dindnet), routes between nodes (no overlay); services
# 10.96.0.0/12. Every address is the lab's own: the cluster's traffic never leaves the lab.
#
# A node here is a network namespace plus a mount namespace of the lab (one kernel, one
# filesystem underneath): the mount namespace gives each node its own /run, /var/lib/docker,
# /var/lib/kubelet, /etc/cni/net.d, /var/lib/cni and /var/log/pods, as a node machine has.
# kube-master runs etcd, kube-apiserver, kube-controller-manager and kube-scheduler (no
# kubelet: its pod CIDR 10.244.1.0/24 stays unused). Each worker runs a dockerd of its own
# (with its containerd), a real kubelet with its built-in dockershim and a kube-proxy.
# Why a dockerd per node: a kubelet takes every k8s_* container of its engine for its own and
# removes the sandboxes it did not make, so two kubelets on one engine kill each other's pods.
set -u
DATA=${K8S_LAB_DATA:-/var/lib/k8s-lab}   # keys, etcd's data, the nodes' files: removed by `down`
RUN=${K8S_LAB_RUN:-/run/k8s-lab}         # pid files
LOGS=${K8S_LAB_LOGS:-/var/log/k8s-lab}
KUBECONFIG_PATH=${KUBECONFIG:-/root/.kube/config}
BRIDGE=kube-br0
NODE_NET=10.192.0
MASTER=kube-master
WORKERS="kube-node-1 kube-node-2"
SERVICE_CIDR=10.96.0.0/12
CLUSTER_DNS=10.96.0.10   # the kube-dns Service's address, as in the articles' cluster
CLUSTER_CIDR=10.244.0.0/16
APISERVER=https://$NODE_NET.2:6443
CONTROL="etcd kube-apiserver kube-controller-manager kube-scheduler"
NODE_PROCS="dockerd kubelet kube-proxy"
LIB=/usr/local/lib/k8s-lab
# The images every node's engine starts with (saved from the lab's engine: no registry).
NODE_IMAGES="k8s.gcr.io/pause:3.2 busybox:latest lab-web:latest"
# What a node has of its own, over the lab's folders of the same name (node_files).
BIND_TARGETS="/var/lib/kubelet /var/lib/dockershim /etc/cni/net.d /var/lib/cni /var/log/pods /var/log/containers"

say() { echo "k8s-lab: $*"; }
die() { echo "k8s-lab: $*" >&2; exit 1; }
must() {  # cmd... : run it; when it fails, say which step of `up` did (the caller returns 1)
  "$@" || { echo "k8s-lab: up: \`$*\` failed" >&2; return 1; }
}

index() { case $1 in kube-master) echo 1 ;; kube-node-1) echo 2 ;; kube-node-2) echo 3 ;; esac; }
node_ip() { echo "$NODE_NET.$(( $(index "$1") + 1 ))"; }
pod_cidr() { echo "10.244.$(index "$1").0/24"; }

pidfile() { echo "$RUN/pids/$1.$2"; }  # node process -> its pid file

# A worker's engine puts its containers (the pods') in a cgroup of this name, relative to its
# own: on a cgroup v1 machine, inside the lab's cgroup. `down` finds what is left there (a
# process no engine knows any more, such as a runc init caught mid-start) and removes it.
# The lab's network namespace in the name: the lab sees the machine's whole hierarchy, and
# another lab's nodes have the same names.
cgroup_name() { echo "k8s-lab-$1-net$(stat -Lc %i /proc/1/ns/net)"; }
node_cgroups() {  # node : its pods' cgroup folders, in every hierarchy
  find /sys/fs/cgroup -maxdepth 6 -type d -name "$(cgroup_name "$1")" 2>/dev/null
}
running() {  # node process -> true when its pid file names a live process of that name
  local pid
  pid=$(cat "$(pidfile "$1" "$2")" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "${2:0:15}" ]
}

node_mnt() {  # node -> its mount namespace: the one its dockerd holds (see node_engine)
  running "$1" dockerd && echo "/proc/$(cat "$(pidfile "$1" dockerd)")/ns/mnt"
}

on_node() {  # node cmd... : in the node's network namespace, and a worker's mount namespace
  local node=$1 mnt; shift
  if [ "$node" = $MASTER ]; then
    nsenter --net=/run/netns/"$node" "$@"
  elif mnt=$(node_mnt "$node"); then
    nsenter --net=/run/netns/"$node" --mount="$mnt" "$@"
  else  # never the lab's own view instead: there `docker` is the lab's engine
    echo "k8s-lab: $node's dockerd is not running, so its mount namespace is gone" >&2
    return 1
  fi
}

start() {  # node process args... : on the node, in a session of its own, logging to a file
  local node=$1 name=$2 mnt=; shift 2
  [ -z "${MNT:-}" ] || mnt=$(node_mnt "$node") || { say "$node has no dockerd"; return 1; }
  setsid nsenter --net=/run/netns/"$node" ${mnt:+--mount="$mnt"} "$name" "$@" \
    >"$LOGS/$node.$name.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile "$node" "$name")"
}

wait_for() {  # log seconds command... : poll until the command succeeds
  local log=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then
      say "$log did not come up within ${secs} s; last lines of $LOGS/$log.log:"
      tail -n 15 "$LOGS/$log.log" >&2
      return 1
    fi
    sleep 0.3
  done
}

keys() {  # the apiserver's static token and the service-account key pair, made once per up
  mkdir -p "$DATA/pki"
  TOKEN=$(openssl rand -hex 16)
  # token,user,uid,"groups": the lab's one user is a cluster admin (system:masters)
  echo "$TOKEN,admin,admin,\"system:masters\"" > "$DATA/tokens.csv"
  openssl genrsa -out "$DATA/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$DATA/pki/sa.key" -pubout -out "$DATA/pki/sa.pub" 2>/dev/null
  chmod 600 "$DATA/tokens.csv" "$DATA/pki/sa.key"
}

kubeconfig() {  # file user-token : the lab's cluster, trusting the apiserver's own certificate
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: $APISERVER
    certificate-authority: $DATA/pki/apiserver.crt
users:
- name: admin
  user:
    token: $2
contexts:
- name: lab
  context: {cluster: lab, user: admin}
current-context: lab
EOF
  chmod 600 "$1"
}

node_network() {  # the bridge, each node's namespace with eth0, and the routes between nodes
  # `ip netns add` makes /run/netns (and a mount on it) if missing: `down` undoes only that.
  [ -d /run/netns ] || echo dir > "$RUN/made-netns"
  grep -q ' /run/netns ' /proc/self/mountinfo || echo mount >> "$RUN/made-netns"
  must ip link add "$BRIDGE" type bridge || return 1
  must ip addr add "$NODE_NET.1/24" dev "$BRIDGE" || return 1
  must ip link set "$BRIDGE" up || return 1
  # With br_netfilter, frames bridged between nodes pass the lab's FORWARD chain, whose policy
  # an engine may set to DROP: let the nodes' frames through (removed by `down`).
  must iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment k8s-lab -j ACCEPT \
    || return 1
  local node peer
  for node in $MASTER $WORKERS; do
    must ip netns add "$node" || return 1
    must ip link add "ve-$node" type veth peer name eth0 netns "$node" || return 1
    must ip link set "ve-$node" master "$BRIDGE" up || return 1
    must ip -n "$node" addr add "$(node_ip "$node")/24" dev eth0 || return 1
    must ip -n "$node" link set lo up || return 1
    must ip -n "$node" link set eth0 up || return 1
  done
  # Every pod CIDR of a worker is reached through that worker (kubeadm-dind-cluster's static
  # routes), from the other nodes and from the lab itself (so `curl POD-IP` works there too).
  for peer in $WORKERS; do
    for node in $MASTER $WORKERS; do
      [ "$node" = "$peer" ] \
        || must ip -n "$node" route add "$(pod_cidr "$peer")" via "$(node_ip "$peer")" || return 1
    done
    must ip route add "$(pod_cidr "$peer")" via "$(node_ip "$peer")" || return 1
  done
  # A worker's own process (curl on the node) reaching a cluster IP: the kernel routes the
  # packet before kube-proxy's OUTPUT DNAT rewrites it, and a node has no default route, so
  # without this the connect fails with "network unreachable" before any rule is seen. On the
  # link, with no gateway: nothing answers for a service address there, so nothing leaves.
  for node in $WORKERS; do
    must ip -n "$node" route add "$SERVICE_CIDR" dev eth0 || return 1
  done
}

node_files() {  # node : its files, and the binds that make them the usual paths in its namespace
  local node=$1 d=$DATA/nodes/$1 kv f
  mkdir -p "$d"/{run,docker,kubelet,dockershim,cni-conf,cni,log-pods,log-containers,sysctl}
  # The resolv.conf the kubelet hands on (--resolv-conf): empty, so no pod ever learns the
  # lab's own resolver, which is outside the lab; pods ask only the cluster's (--cluster-dns).
  : > "$d/resolv.conf"
  # The node's CNI network, as kubeadm-dind-cluster wrote it on every node (the articles'
  # /etc/cni/net.d/cni.conf), its own pod CIDR in it. Without the article's "routes" entry for
  # 0.0.0.0/0: with isDefaultGateway the bridge plugin 1.1.1 adds that route itself, and the
  # second one fails every pod ("failed to add route ... file exists").
  local cidr; cidr=$(pod_cidr "$node")
  cat > "$d/cni-conf/cni.conf" <<EOF
{
  "cniVersion": "0.3.1",
  "name": "dindnet",
  "type": "bridge",
  "bridge": "dind0",
  "isDefaultGateway": true,
  "hairpinMode": false,
  "ipMasq": true,
  "ipam": {
    "type": "host-local",
    "ranges": [
      [
        {
          "subnet": "$cidr",
          "gateway": "${cidr%.0/24}.1"
        }
      ]
    ]
  }
}
EOF
  # The kubelet wants vm.overcommit_memory=1, vm.panic_on_oom=0, kernel.panic=10,
  # kernel.panic_on_oops=1, kernel.keys.root_maxkeys=1000000 and kernel.keys.root_maxbytes=
  # 25000000, and writes those that differ. None is per namespace: from the lab they would
  # change the learner's kernel. In the node's mount namespace a file holding the wanted value
  # covers each: it reads them back and writes nothing (--protect-kernel-defaults: it would
  # refuse to start rather than write).
  local binds=""
  for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
            kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
    f=${kv%%=*}; echo "${kv#*=}" > "$d/sysctl/${f//\//.}"
    binds="$binds mount --bind $d/sysctl/${f//\//.} /proc/sys/$f &&"
  done
  # The binds' targets must exist in the lab's view: those made here are listed for `down`.
  local t
  for t in $BIND_TARGETS; do
    [ -d "$t" ] || { mkdir -p "$t" && echo "$t" >> "$RUN/made-dirs"; }
  done
  echo "$binds
    mount --bind $d/run /run && mount --bind $d/docker /var/lib/docker &&
    mount --bind $d/kubelet /var/lib/kubelet && mount --bind $d/dockershim /var/lib/dockershim &&
    mount --bind $d/cni-conf /etc/cni/net.d && mount --bind $d/cni /var/lib/cni &&
    mount --bind $d/log-pods /var/log/pods && mount --bind $d/log-containers /var/log/containers" \
    > "$d/binds.sh"
}

node_engine() {  # node : its own dockerd (and containerd), seeded from the lab's engine
  local node=$1
  # No bridge, NAT or iptables of its own: the pods' network is CNI's, made by the kubelet.
  # vfs: the node's /var/lib/docker is on the lab's overlay root (two small images only).
  # The node's mount namespace is made here and held by its dockerd (unshare and sh exec it):
  # the kubelet and kube-proxy join it, and it goes when dockerd stops.
  setsid nsenter --net=/run/netns/"$node" unshare --mount --propagation private \
    sh -c ". $DATA/nodes/$node/binds.sh && exec dockerd --bridge=none --iptables=false \
      --ip-masq=false --ip-forward=false --storage-driver vfs --cgroup-parent $(cgroup_name "$node")" \
    >"$LOGS/$node.dockerd.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile "$node" dockerd)"
  wait_for "$node.dockerd" 60 on_node "$node" docker info || return 1
  # shellcheck disable=SC2086
  docker save $NODE_IMAGES | on_node "$node" docker load -q >/dev/null || return 1
}

node_agents() {  # node : its kubelet and kube-proxy
  local node=$1 ip; ip=$(node_ip "$node")
  # cadvisor's OOM watcher opens /dev/kmsg, which a container lacks: a stand-in, gone on `down`
  if [ ! -e /dev/kmsg ] && [ ! -L /dev/kmsg ]; then
    must ln -s /dev/null /dev/kmsg && echo /dev/kmsg > "$RUN/made-kmsg" || return 1
  fi
  # --cluster-dns/--cluster-domain: what the kubelet writes into each pod's /etc/resolv.conf
  # (nameserver, search list, ndots:5), as kubeadm-dind-cluster's kubelets had (lesson 12 puts
  # the kube-dns Service at that address). --resolv-conf: an empty file (node_files), not the
  # lab's /etc/resolv.conf, whose resolvers are outside the lab: the kubelet would copy them
  # into pods (and into a pod with dnsPolicy Default), and DNS must never leave the lab.
  # --cgroups-per-qos=false --enforce-node-allocatable=: no kubepods cgroups on the machine's
  # hierarchy; evictions off (the lab's disk is the learner's: its fill level is not ours).
  MNT=1 start "$node" kubelet --v=2 --kubeconfig "$DATA/admin.conf" \
    --hostname-override "$node" --node-ip "$ip" --address "$ip" \
    --healthz-bind-address 127.0.0.1 --read-only-port 0 \
    --network-plugin=cni --cni-bin-dir=/opt/cni/bin --cni-conf-dir=/etc/cni/net.d \
    --pod-infra-container-image=k8s.gcr.io/pause:3.2 --fail-swap-on=false \
    --cgroup-driver=cgroupfs --cgroups-per-qos=false --enforce-node-allocatable= \
    --protect-kernel-defaults=true --eviction-hard= \
    --image-gc-high-threshold=100 --image-gc-low-threshold=99 \
    --cluster-dns "$CLUSTER_DNS" --cluster-domain cluster.local \
    --resolv-conf "$DATA/nodes/$node/resolv.conf"
  # iptables mode; conntrack settings 0 = leave the kernel's as they are (they are global).
  MNT=1 start "$node" kube-proxy --kubeconfig "$DATA/admin.conf" --hostname-override "$node" \
    --bind-address "$ip" --proxy-mode iptables --cluster-cidr "$CLUSTER_CIDR" \
    --healthz-bind-address 127.0.0.1:10256 --metrics-bind-address 127.0.0.1:10249 \
    --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 \
    --conntrack-tcp-timeout-close-wait=0
}

control_plane() {
  local m=$MASTER ip; ip=$(node_ip $MASTER)
  start $m etcd --name lab --data-dir "$DATA/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster lab=http://127.0.0.1:2380
  wait_for $m.etcd 30 on_node $m curl -sf http://127.0.0.1:2379/health || return 1
  # 1.20 refuses an insecure port other than 0: a secure port with a certificate it makes in
  # --cert-dir, the static token above, and a key to sign service-account tokens with.
  # --advertise-address: the `kubernetes` Service's endpoint is kube-master's address.
  # --kubelet-preferred-address-types InternalIP: a kubelet (logs, exec) is reached at its node
  # address, never by looking its name up: the lab's resolver is outside the lab.
  start $m kube-apiserver --etcd-servers http://127.0.0.1:2379 \
    --bind-address "$ip" --advertise-address "$ip" --secure-port 6443 --insecure-port 0 \
    --cert-dir "$DATA/pki" --token-auth-file "$DATA/tokens.csv" \
    --service-account-key-file "$DATA/pki/sa.pub" \
    --service-account-signing-key-file "$DATA/pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC \
    --allow-privileged=true --kubelet-preferred-address-types InternalIP
  wait_for $m.kube-apiserver 90 curl -sf --cacert "$DATA/pki/apiserver.crt" \
    -H "Authorization: Bearer $TOKEN" "$APISERVER/readyz" || return 1
  kubeconfig "$KUBECONFIG_PATH" "$TOKEN"
  # The controllers, the scheduler and the nodes' agents use the same kubeconfig (one user).
  cp "$KUBECONFIG_PATH" "$DATA/admin.conf"
  # Their health ports (10252/10257, 10251/10259) on kube-master's loopback.
  start $m kube-controller-manager --kubeconfig "$DATA/admin.conf" \
    --address 127.0.0.1 --bind-address 127.0.0.1 --leader-elect=false \
    --service-account-private-key-file "$DATA/pki/sa.key" \
    --root-ca-file "$DATA/pki/apiserver.crt" \
    --service-cluster-ip-range "$SERVICE_CIDR" --cluster-cidr "$CLUSTER_CIDR"
  start $m kube-scheduler --kubeconfig "$DATA/admin.conf" \
    --address 127.0.0.1 --bind-address 127.0.0.1 --leader-elect=false
  wait_for $m.kube-controller-manager 60 on_node $m curl -sf http://127.0.0.1:10252/healthz || return 1
  wait_for $m.kube-scheduler 60 on_node $m curl -sf http://127.0.0.1:10251/healthz || return 1
}

present() {  # true when anything of the cluster is there
  [ -e "$DATA" ] || [ -e "$RUN" ] || [ -e "$KUBECONFIG_PATH" ] || ip link show "$BRIDGE" >/dev/null 2>&1 \
    || ip netns list 2>/dev/null | grep -qE '^kube-(master|node-[12])( |$)' \
    || [ -n "$(for node in $WORKERS; do node_cgroups "$node"; done)" ]
}

clear_stale_cgroups() {  # remove this lab's pod cgroup folders that hold no process
  # Namespace inodes are reused: a lab removed without `k8s-lab down` leaves its empty folders
  # in the machine-wide hierarchy (cgroup v2's, or v1's "unified"), and a later lab whose
  # namespace got the same inode would find them and take them for a cluster of its own.
  local node dirs
  for node in $WORKERS; do
    dirs=$(node_cgroups "$node")
    [ -n "$dirs" ] || continue
    # shellcheck disable=SC2086
    [ -z "$(find $dirs -name cgroup.procs -exec cat {} + 2>/dev/null)" ] || continue
    # shellcheck disable=SC2086
    find $dirs -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}

up() {
  clear_stale_cgroups
  present && die "a cluster is there already: \`k8s-lab down\` first"
  local t0=$SECONDS node
  mkdir -p "$DATA/nodes" "$RUN/pids" "$LOGS" "$(dirname "$KUBECONFIG_PATH")"
  keys
  node_network || return 1
  for node in $WORKERS; do node_files "$node" || return 1; done
  # The nodes' engines start while the control plane does (each takes a few seconds).
  local pids="" rc=0
  for node in $WORKERS; do node_engine "$node" & pids="$pids $!"; done
  control_plane || rc=1
  for p in $pids; do wait "$p" || rc=1; done
  [ $rc = 0 ] || return 1
  for node in $WORKERS; do node_agents "$node" || return 1; done
  local wanted; wanted=$(echo $WORKERS | wc -w)
  wait_for kube-node-1.kubelet 90 sh -c "[ \$(kubectl get nodes --no-headers 2>/dev/null | grep -c ' Ready ') = $wanted ]" || return 1
  # The node's pod CIDR on its Node object too (kubectl get nodes -o wide shows the articles').
  for node in $WORKERS; do
    kubectl patch node "$node" -p "{\"spec\":{\"podCIDR\":\"$(pod_cidr "$node")\",\"podCIDRs\":[\"$(pod_cidr "$node")\"]}}" >/dev/null
  done
  # Pods need their namespace's default service account, which the controllers make.
  wait_for kube-master.kube-controller-manager 60 kubectl -n default get serviceaccount default || return 1
  # Each kube-proxy's first sync, which writes the API server's own Service: the picture after
  # `up` then always shows it on both workers, never on one by chance.
  for node in $WORKERS; do
    wait_for "$node.kube-proxy" 60 sh -c "nsenter --net=/run/netns/$node iptables-save -t nat | grep -q 'default/kubernetes:https cluster IP'" || return 1
  done
  say "up in $((SECONDS - t0)) s: Kubernetes $(kube-apiserver --version | awk '{print $2}') at $APISERVER; nodes $MASTER $(node_ip $MASTER) (control plane), $(for n in $WORKERS; do printf '%s %s (pods %s) ' "$n" "$(node_ip "$n")" "$(pod_cidr "$n")"; done)(kubeconfig $KUBECONFIG_PATH; logs in $LOGS)"
}

stop_pid() {  # node process : TERM, then KILL after 5 s; echoes the name if one was stopped
  local pid
  running "$1" "$2" || { rm -f "$(pidfile "$1" "$2")"; return; }
  pid=$(cat "$(pidfile "$1" "$2")")
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null && say "$1's $2 ($pid) did not stop on TERM: killed" >&2
  rm -f "$(pidfile "$1" "$2")"
  echo "$1/$2"
}

sweep_cgroups() {  # node : kill what is left in its pods' cgroups, remove them; echoes a report
  local dirs pids said=""
  dirs=$(node_cgroups "$1")
  [ -n "$dirs" ] || return 0
  # A frozen task does not die of KILL until thawed (a container paused, or caught starting).
  # shellcheck disable=SC2086
  find $dirs -name freezer.state 2>/dev/null | while read -r f; do echo THAWED > "$f"; done
  # shellcheck disable=SC2086
  find $dirs -name cgroup.freeze 2>/dev/null | while read -r f; do echo 0 > "$f"; done
  for _ in $(seq 20); do
    # shellcheck disable=SC2086
    pids=$(find $dirs -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)
    [ -z "$pids" ] && break
    [ -n "$said" ] || say "killed $(echo $pids | wc -w) process(es) left in $1's pod cgroups:" \
      "$(for p in $pids; do cat /proc/"$p"/comm 2>/dev/null; done | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')" >&2
    said=1
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null; sleep 0.1
  done
  # Deepest first: a cgroup folder goes with rmdir once it has no children and no tasks.
  # shellcheck disable=SC2086
  find $dirs -depth -type d -exec rmdir {} + 2>/dev/null
  [ -z "$(node_cgroups "$1")" ] && echo " $1's pod cgroups,"
}

descendants() {  # pid : its children, theirs, ...
  local kid
  for kid in $(pgrep -P "$1"); do
    echo "$kid"; descendants "$kid"
  done
}

down() {
  local node stopped="" removed="" pods n
  for node in $WORKERS; do
    for n in kubelet kube-proxy; do stopped="$stopped $(stop_pid "$node" $n)"; done
    # The pods' containers, killed at once (a busybox PID 1 ignores TERM: dockerd would wait).
    if running "$node" dockerd; then
      pods=$(on_node "$node" docker ps -aq 2>/dev/null)
      [ -z "$pods" ] || { on_node "$node" docker rm -f $pods >/dev/null 2>&1
                          removed="$removed $(echo "$pods" | wc -w) pod container(s) on $node,"; }
    fi
    stopped="$stopped $(stop_pid "$node" dockerd)"  # its containerd and shims go with it
  done
  for n in kube-scheduler kube-controller-manager kube-apiserver etcd; do
    stopped="$stopped $(stop_pid $MASTER $n)"
  done
  # Anything of the cluster's still running (started by hand, or its pid file lost): every
  # process in a node's network namespace. A pod's processes are in the pod's namespace, not
  # the node's: when the node's dockerd died before `down` (no `docker rm` above), only their
  # containerd-shim, which is in the node's, leads to them. Its children (and theirs) go first.
  local kids
  for node in $MASTER $WORKERS; do
    [ -e /run/netns/"$node" ] || continue
    for pid in $(ip netns pids "$node" 2>/dev/null); do
      case $(cat /proc/"$pid"/comm 2>/dev/null) in containerd-shim*) ;; *) continue ;; esac
      kids=$(descendants "$pid")
      [ -z "$kids" ] && continue
      kill -KILL $kids 2>/dev/null
      say "killed $(echo $kids | wc -w) pod process(es) of $node's containerd-shim ($pid)"
    done
    for pid in $(ip netns pids "$node" 2>/dev/null); do
      kill -KILL "$pid" 2>/dev/null && say "killed $(cat /proc/"$pid"/comm 2>/dev/null || echo "pid $pid") left in $node"
    done
  done
  for node in $WORKERS; do removed="$removed$(sweep_cgroups "$node")"; done
  for node in $MASTER $WORKERS; do
    ip netns delete "$node" 2>/dev/null && removed="$removed namespace $node,"
  done
  if [ -f "$RUN/made-netns" ] && [ -z "$(ip netns list 2>/dev/null)" ]; then
    grep -qx mount "$RUN/made-netns" && umount /run/netns 2>/dev/null
    grep -qx dir "$RUN/made-netns" && rmdir /run/netns 2>/dev/null
  fi
  ip link delete "$BRIDGE" 2>/dev/null && removed="$removed bridge $BRIDGE (and its routes),"
  while iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment k8s-lab -j ACCEPT 2>/dev/null; do :; done
  # The stand-in /dev/kmsg node_agents made, if it is still that link (not in the report:
  # a detail of the lab's, like the binds' folders below)
  if [ -f "$RUN/made-kmsg" ] && [ "$(readlink /dev/kmsg 2>/dev/null)" = /dev/null ]; then
    rm -f /dev/kmsg
  fi
  # The empty folders node_files made in the lab's view as the binds' targets (last first).
  [ -f "$RUN/made-dirs" ] && tac "$RUN/made-dirs" | while read -r d; do rmdir "$d" 2>/dev/null; done
  [ -e "$DATA" ] && removed="$removed $DATA (etcd's data, keys, the nodes' engines, CNI state),"
  rm -rf "$DATA" "$RUN"
  [ -e "$KUBECONFIG_PATH" ] && removed="$removed $KUBECONFIG_PATH,"
  rm -f "$KUBECONFIG_PATH"; rm -rf "$(dirname "$KUBECONFIG_PATH")/cache"  # kubectl's own cache
  rmdir "$(dirname "$KUBECONFIG_PATH")" 2>/dev/null
  stopped=$(echo $stopped)
  removed=${removed%,}
  say "down: stopped ${stopped:-nothing (nothing was running)}; removed${removed:- nothing}"
}

status() {
  local node n pid rc=0
  for node in $MASTER $WORKERS; do
    [ $node = $MASTER ] && procs=$CONTROL || procs="$NODE_PROCS"
    for n in $procs; do
      if running "$node" "$n"; then
        pid=$(cat "$(pidfile "$node" "$n")")
        printf '%-12s %-24s running, pid %s, RSS %s\n' "$node" "$n" "$pid" \
          "$(awk '/^VmRSS:/{print $2, $3}' /proc/"$pid"/status)"
        if [ "$n" = dockerd ]; then  # dockerd's own containerd, its child
          for c in $(pgrep -P "$pid" -x containerd); do
            printf '%-12s %-24s running, pid %s, RSS %s\n' "$node" containerd "$c" \
              "$(awk '/^VmRSS:/{print $2, $3}' /proc/"$c"/status)"
          done
        fi
      else
        printf '%-12s %-24s stopped\n' "$node" "$n"; rc=3
      fi
    done
  done
  return $rc
}

case "${1:-}" in
  up) up || { say "up failed: stopping what started (logs stay in $LOGS)"; down >/dev/null; exit 1; } ;;
  down) down ;;
  status) status ;;
  exec)
    [ $# -ge 3 ] || die "usage: k8s-lab exec NODE CMD [ARGS...]"
    node=$2; shift 2
    [ -e /run/netns/"$node" ] || die "no node $node (nodes: $MASTER $WORKERS)"
    # kube-master has no engine of its own (no kubelet, no pods): `docker` there would be the
    # lab's, whose containers are no node's.
    [ "$node" != $MASTER ] || [ "${1##*/}" != docker ] \
      || die "$MASTER runs no dockerd (the control plane runs as plain processes, no kubelet, no pods): \`docker\` there would reach the lab's own engine. The pods' engines are the workers': $WORKERS"
    on_node "$node" "$@" ;;
  present) present ;;  # for the lab's reset: exit 0 when anything of the cluster is there
  *) echo "usage: k8s-lab up|down|status|exec NODE CMD..." >&2; exit 2 ;;
esac
