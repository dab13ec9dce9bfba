#!/bin/bash
# k8s-lab: a real Kubernetes v1.20.2 control plane inside the lab (issue 15).
#
#   k8s-lab up      start etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
#                   write the kubeconfig (plain `kubectl get ns` then works)
#   k8s-lab down    stop them all and remove the cluster's data (etcd's included)
#   k8s-lab status  which of them run, with their pids and memory
#
# Everything listens on the lab's loopback only (K8S_LAB_ADDRESS): the cluster's traffic
# never leaves the lab. The binaries were built from Debian's source package (k8s/Dockerfile).
set -u
ADDR=${K8S_LAB_ADDRESS:-127.0.0.1}
DATA=${K8S_LAB_DATA:-/var/lib/k8s-lab}   # etcd's data, keys, tokens: removed by `down`
RUN=${K8S_LAB_RUN:-/run/k8s-lab}         # pid files
LOGS=${K8S_LAB_LOGS:-/var/log/k8s-lab}
KUBECONFIG_PATH=${KUBECONFIG:-/root/.kube/config}
SERVICE_CIDR=10.96.0.0/12                # kubeadm-dind-cluster's, the articles' cluster
CLUSTER_CIDR=10.244.0.0/16
COMPONENTS="etcd kube-apiserver kube-controller-manager kube-scheduler"

say() { echo "k8s-lab: $*"; }
die() { echo "k8s-lab: $*" >&2; exit 1; }

running() {  # component -> true when its pid file names a live process of that name
  local pid
  pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "${1:0:15}" ]
}

start() {  # component args... : in the background, in a session of its own, logging to a file
  local name=$1; shift
  setsid "$name" "$@" >"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
}

wait_for() {  # what seconds command... : poll until the command succeeds
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then
      say "$what did not come up within ${secs} s; last lines of its log:"
      tail -n 15 "$LOGS/$what.log" >&2
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
    server: https://$ADDR:6443
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

up() {
  for c in $COMPONENTS; do
    running "$c" && die "$c is already running: \`k8s-lab down\` first"
  done
  local t0=$SECONDS
  rm -rf "$DATA"
  mkdir -p "$DATA" "$RUN" "$LOGS" "$(dirname "$KUBECONFIG_PATH")"
  keys

  start etcd --name lab --data-dir "$DATA/etcd" \
    --listen-client-urls "http://$ADDR:2379" --advertise-client-urls "http://$ADDR:2379" \
    --listen-peer-urls "http://$ADDR:2380" --initial-advertise-peer-urls "http://$ADDR:2380" \
    --initial-cluster "lab=http://$ADDR:2380"
  wait_for etcd 30 curl -sf "http://$ADDR:2379/health" || return 1

  # The kubernetes Service's endpoints must be a node's address; loopback is refused ("may not
  # be in the loopback range"), so on loopback the apiserver writes none.
  local reconciler=
  case $ADDR in 127.*) reconciler="--endpoint-reconciler-type none" ;; esac
  # --kubelet-preferred-address-types InternalIP: a kubelet (logs, exec) is reached at its node
  # address, never by looking its name up: the lab's resolver is outside the lab.
  # 1.20 refuses an insecure port other than 0: a secure port with a certificate it makes in
  # --cert-dir, the static token above, and a key to sign service-account tokens with.
  start kube-apiserver --etcd-servers "http://$ADDR:2379" \
    --bind-address "$ADDR" --advertise-address "$ADDR" --secure-port 6443 --insecure-port 0 \
    --cert-dir "$DATA/pki" --token-auth-file "$DATA/tokens.csv" \
    --service-account-key-file "$DATA/pki/sa.pub" \
    --service-account-signing-key-file "$DATA/pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC \
    --allow-privileged=true --kubelet-preferred-address-types InternalIP \
    $reconciler
  wait_for kube-apiserver 90 curl -sf --cacert "$DATA/pki/apiserver.crt" \
    -H "Authorization: Bearer $TOKEN" "https://$ADDR:6443/readyz" || return 1
  kubeconfig "$KUBECONFIG_PATH" "$TOKEN"
  # The controllers and the scheduler use the same kubeconfig (the lab has one user).
  cp "$KUBECONFIG_PATH" "$DATA/admin.conf"

  # --address/--bind-address: their health ports on loopback too (10252/10257, 10251/10259),
  # which is also where `kubectl get componentstatuses` looks.
  start kube-controller-manager --kubeconfig "$DATA/admin.conf" \
    --address "$ADDR" --bind-address "$ADDR" --leader-elect=false \
    --service-account-private-key-file "$DATA/pki/sa.key" \
    --root-ca-file "$DATA/pki/apiserver.crt" \
    --service-cluster-ip-range "$SERVICE_CIDR" --cluster-cidr "$CLUSTER_CIDR"
  start kube-scheduler --kubeconfig "$DATA/admin.conf" \
    --address "$ADDR" --bind-address "$ADDR" --leader-elect=false
  wait_for kube-controller-manager 60 curl -sf "http://$ADDR:10252/healthz" || return 1
  wait_for kube-scheduler 60 curl -sf "http://$ADDR:10251/healthz" || return 1
  # Pods need their namespace's default service account, which the controllers make.
  wait_for kube-controller-manager 60 kubectl --kubeconfig "$KUBECONFIG_PATH" \
    -n default get serviceaccount default || return 1
  say "up in $((SECONDS - t0)) s: Kubernetes $(kube-apiserver --version | awk '{print $2}') on https://$ADDR:6443 (kubeconfig $KUBECONFIG_PATH; logs in $LOGS)"
}

down() {
  local c pid stopped=
  # the reverse order: the clients first, etcd last (a kubelet too, if one was started)
  for c in kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do
    running "$c" || { rm -f "$RUN/$c.pid"; continue; }
    pid=$(cat "$RUN/$c.pid")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null && say "$c ($pid) did not stop on TERM: killed"
    rm -f "$RUN/$c.pid"
    stopped="$stopped $c"
  done
  # Anything of the cluster's still running (started by hand, or its pid file lost).
  for c in $COMPONENTS kubelet; do
    pkill -KILL -x "${c:0:15}" 2>/dev/null && say "stopped a $c that had no pid file"
  done
  # A kubelet's pods are the engine's k8s_* containers (pause and the pods' own).
  local pods
  pods=$(docker ps -aq --filter name=^k8s_ 2>/dev/null)
  [ -z "$pods" ] || { docker rm -f $pods >/dev/null && say "removed $(echo "$pods" | wc -w) pod container(s)"; }
  # What the kubelet trial made (its link, bridge, CNI state, volume mounts).
  if [ -e /var/lib/kubelet ] || ip link show node-1 >/dev/null 2>&1; then
    /usr/local/lib/k8s-lab/kubelet-trial.sh --clean | sed 's/^kubelet-trial/k8s-lab/'
  fi
  rm -rf "$DATA"
  rm -f "$KUBECONFIG_PATH"; rm -rf "$(dirname "$KUBECONFIG_PATH")/cache"  # kubectl's own cache
  rmdir "$(dirname "$KUBECONFIG_PATH")" 2>/dev/null
  say "down:${stopped:- nothing was running}; removed $DATA (etcd's data, keys, tokens) and $KUBECONFIG_PATH"
}

status() {
  local c pid rc=0 extra=
  [ -f "$RUN/kubelet.pid" ] && extra=kubelet  # the kubelet trial's
  for c in $COMPONENTS $extra; do
    if running "$c"; then
      pid=$(cat "$RUN/$c.pid")
      echo "$c: running, pid $pid, RSS $(awk '/^VmRSS:/{print $2, $3}' /proc/"$pid"/status)"
    else
      echo "$c: stopped"; rc=3
    fi
  done
  return $rc
}

case "${1:-}" in
  up) up || { say "up failed: stopping what started (logs stay in $LOGS)"; down >/dev/null; exit 1; } ;;
  down) down ;;
  status) status ;;
  *) echo "usage: k8s-lab up|down|status" >&2; exit 2 ;;
esac
