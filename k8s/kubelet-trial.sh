#!/bin/bash
# A trial, not yet a lesson's node (issue 15): one real kubelet 1.20.2 with its built-in
# dockershim, driving the lab's own dockerd, as node "node-1" at 10.192.0.3 (the articles'
# kubeadm-dind-cluster address) on a veth of the lab, with a dindnet bridge CNI config.
# Run after `k8s-lab up`; `k8s-lab down` stops it and removes its pods' containers.
#
# The kubelet writes global kernel sysctls at start (vm.overcommit_memory=1, kernel.panic=10,
# kernel.panic_on_oops=1, ...); in the lab they would land on the learner's machine. So it runs
# in a mount namespace of its own in which regular files holding the values it wants are
# bind-mounted over those /proc/sys entries: it reads its values back and writes nothing, and
# --protect-kernel-defaults makes it refuse to start (not write) if any still differed.
set -eu
DATA=${K8S_LAB_DATA:-/var/lib/k8s-lab}
D=$DATA/node-1
if [ "${1:-}" = --clean ]; then  # what the trial made, once the kubelet is stopped (k8s-lab down)
  # the pods' volumes (secret tmpfs) the kubelet mounted, then its bind of /var/lib/kubelet
  umount -R /var/lib/kubelet 2>/dev/null
  rm -rf /var/lib/kubelet /var/lib/dockershim /etc/cni/net.d/10-dindnet.conf \
    /var/lib/cni/networks/dindnet /var/lib/cni/results/dindnet-* /var/lib/cni/cache/results/dindnet-* /var/lib/cni/cache/results/cni-loopback-*
  # the CNI state folders the trial made, when nothing else (a lesson) is in them
  find /var/lib/cni -depth -type d -empty -delete 2>/dev/null
  # the bridge plugin's masquerade chains for dindnet's pods (comment: name: "dindnet" id: ...),
  # and POSTROUTING's jumps to them, deleted by number from the last
  iptables -t nat -L POSTROUTING -n --line-numbers | awk '/name: "dindnet"/ {print $1, $2}' \
    | sort -rn | while read -r num chain; do
        iptables -t nat -D POSTROUTING "$num"
        iptables -t nat -F "$chain" 2>/dev/null && iptables -t nat -X "$chain" 2>/dev/null
      done
  # the kubelet's own KUBE-* chains (KUBE-MARK-MASQ, KUBE-POSTROUTING, KUBE-FIREWALL, canaries)
  for t in nat filter mangle; do
    for c in PREROUTING INPUT FORWARD OUTPUT POSTROUTING; do
      iptables -t $t -L $c -n --line-numbers 2>/dev/null | awk '$2 ~ /^KUBE-/ {print $1}' \
        | sort -rn | while read -r num; do iptables -t $t -D $c "$num"; done
    done
    for c in $(iptables -t $t -S | awk '/^-N KUBE-/ {print $2}'); do iptables -t $t -F "$c"; done
    for c in $(iptables -t $t -S | awk '/^-N KUBE-/ {print $2}'); do iptables -t $t -X "$c"; done
  done
  # iptables-nft keeps a table once used: the mangle table the kubelet's canary made, if empty
  iptables -t mangle -S 2>/dev/null | grep -qv '^-P .* ACCEPT$' || nft delete table ip mangle 2>/dev/null
  ip link delete node-1 2>/dev/null; ip link delete dind0 2>/dev/null
  echo "kubelet-trial: removed node-1's link, the dind0 bridge, dindnet's CNI state and chains, the KUBE-* chains and /var/lib/kubelet"
  exit 0
fi
[ -f "$DATA/admin.conf" ] || { echo "kubelet-trial: run \`k8s-lab up\` first" >&2; exit 1; }
mkdir -p "$D/sysctl" /var/lib/kubelet /etc/cni/net.d /var/log/k8s-lab /run/k8s-lab
ip link show node-1 >/dev/null 2>&1 || {
  ip link add node-1 type veth peer name node-1-peer
  ip addr add 10.192.0.3/24 dev node-1
  ip link set node-1-peer up && ip link set node-1 up
}
# /var/lib/kubelet shared: the volumes the kubelet mounts in its namespace reach dockerd's.
mountpoint -q /var/lib/kubelet || mount --bind /var/lib/kubelet /var/lib/kubelet
mount --make-rshared /var/lib/kubelet
cat > /etc/cni/net.d/10-dindnet.conf <<'CNI'
{"cniVersion": "0.3.1", "name": "dindnet", "type": "bridge", "bridge": "dind0",
 "isDefaultGateway": true, "ipMasq": true,
 "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "gateway": "10.244.1.1"}}
CNI
[ -e /dev/kmsg ] || ln -s /dev/null /dev/kmsg  # cadvisor's OOM watcher opens it
cat > "$D/run.sh" <<RUN
#!/bin/bash
set -e
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \\
          kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
  f=\${kv%%=*}; echo "\${kv#*=}" > $D/sysctl/\${f//\//.}
  mount --bind $D/sysctl/\${f//\//.} /proc/sys/\$f
done
exec kubelet --v=2 --kubeconfig $DATA/admin.conf --root-dir /var/lib/kubelet \\
  --hostname-override node-1 --node-ip 10.192.0.3 --address 10.192.0.3 \\
  --healthz-bind-address 127.0.0.1 --read-only-port 0 \\
  --network-plugin=cni --cni-bin-dir=/usr/lib/cni --cni-conf-dir=/etc/cni/net.d \\
  --pod-infra-container-image=k8s.gcr.io/pause:3.2 --fail-swap-on=false --cgroup-driver=cgroupfs \\
  --cgroups-per-qos=false --enforce-node-allocatable= --protect-kernel-defaults=true \\
  --image-gc-high-threshold=100 --image-gc-low-threshold=99
RUN
chmod +x "$D/run.sh"
setsid unshare -m --propagation unchanged "$D/run.sh" > /var/log/k8s-lab/kubelet.log 2>&1 < /dev/null &
echo $! > /run/k8s-lab/kubelet.pid
for _ in $(seq 60); do
  kubectl get node node-1 2>/dev/null | grep -q ' Ready ' && { echo "kubelet-trial: node-1 Ready"; exit 0; }
  sleep 1
done
echo "kubelet-trial: node-1 not Ready after 60 s; see /var/log/k8s-lab/kubelet.log" >&2; exit 1
