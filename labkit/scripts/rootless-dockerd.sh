# The rootless lab's first process, run as `unshare -Urnm --propagation private bash -c
# "$(cat this)" labkit-rootless STATE DATA BIN` by labkit.hosts.rootless. It becomes dockerd, and its
# pid is what `nsenter -t` enters. See docs/rootless.md for why each step is needed.
set -u
state=$1 data=$2 bin=$3
echo $$ > "$state/lab.pid"  # before the tmpfs below hides $XDG_RUNTIME_DIR
# A private /run: docker.sock, dockerd's exec-root and `ip netns add` (/run/netns) live here.
mount -t tmpfs -o mode=755 tmpfs /run || { echo "labkit: cannot mount a tmpfs on /run"; exit 1; }
mkdir -p /run/labkit /run/user/0
echo $$ > /run/labkit/entrypoint.pid  # reset.sh spares the lab's own process
# A sysfs of this network namespace, so brctl and /sys/class/net show the lab's links. The
# container's cgroup tree is carried over: runc tolerates a cgroup dir it may not write, not a
# missing one ("mkdir /sys/fs/cgroup/cpuset/ID: no such file or directory").
mkdir -p /run/labkit/cgroup
if mount --rbind /sys/fs/cgroup /run/labkit/cgroup 2>/dev/null && mount -t sysfs sysfs /sys 2>/dev/null; then
  mount --move /run/labkit/cgroup /sys/fs/cgroup \
    || echo "labkit: warning: cgroups not visible under the lab's sysfs"
else
  echo "labkit: warning: no sysfs of the lab's namespace; brctl shows the container's bridges"
fi
ip link set lo up
# ROOTLESSKIT_STATE_DIR makes dockerd 20.10 take its rootless defaults (no cgroups, XDG
# paths) without rootlesskit itself; it then insists that rootlesskit-docker-proxy is on PATH,
# which $bin provides as a link to docker-proxy. The proxies themselves run as docker-proxy
# (the real path), so `ps -C docker-proxy` finds them as in the Docker lab (lesson 3).
export ROOTLESSKIT_STATE_DIR=$data/rootlesskit XDG_RUNTIME_DIR=/run/user/0 PATH=$bin:$PATH
proxy=$(readlink -f "$bin/rootlesskit-docker-proxy")
exec dockerd --data-root "$data/docker" --exec-root /run/docker --pidfile /run/docker.pid \
  --host unix:///run/docker.sock --group root --config-file "$data/daemon.json" \
  --userland-proxy-path "$proxy" \
  --add-runtime labkit-runc="$bin/labkit-runc" --default-runtime labkit-runc \
  --shutdown-timeout 2
