#!/bin/bash
# Bring the lab back to the state baseline.sh recorded: no containers, no user networks or
# volumes, no extra namespaces, links, addresses or routes, Docker's own iptables rules only.
# Best effort and idempotent; prints "did: ..." for each change and "warn: ..." for what it
# could not fix. Images (busybox) are kept.
set -u
B=${LABKIT_BASELINE:-/run/labkit/baseline}
if [ ! -s "$B/links" ]; then
  echo "warn: no baseline in $B: the lab did not finish starting (see docker compose logs dind)"
  exit 2
fi
did() { echo "did: $*"; }
warn() { echo "warn: $*"; }

# 1. Containers, user-defined networks and volumes of the inner engine (a namespace-only lab,
#    LABKIT_NO_DOCKER=1, has none, and must never reach some other engine).
[ "${LABKIT_NO_DOCKER:-}" = 1 ] || for c in $(docker ps -aq); do
  name=$(docker inspect -f '{{.Name}}' "$c" 2>/dev/null | sed 's,^/,,')
  docker rm -f "$c" >/dev/null 2>&1 && did "removed container ${name:-$c}" || warn "could not remove container $c"
done
[ "${LABKIT_NO_DOCKER:-}" = 1 ] || for n in $(docker network ls -q --filter type=custom); do
  name=$(docker network inspect -f '{{.Name}}' "$n" 2>/dev/null)
  docker network rm "$n" >/dev/null 2>&1 && did "removed network $name" || warn "could not remove network $name"
done
[ "${LABKIT_NO_DOCKER:-}" = 1 ] || docker volume prune -f >/dev/null 2>&1

# 2a. Commands labkit started that are still running (an interrupted cell, another session):
#     their process groups are in the job dir. Our own job is our parent (`timeout`).
#     Each one gets a mark first, so that its cell says why it ended.
for job in "${LABKIT_JOB_DIR:-/run/labkit/jobs}"/*; do
  [ -f "$job" ] || continue
  case $job in *.reset) continue ;; esac
  pid=$(cat "$job" 2>/dev/null)
  [ -n "$pid" ] && [ "$pid" != "$PPID" ] || continue
  : > "$job.reset"
  kill -KILL -"$pid" 2>/dev/null && did "stopped a running command (process group $pid)"
  rm -f "$job"
done

# 2. Processes the lessons left behind: anything in another network namespace, and orphans
#    re-parented to the lab's init (background jobs), except the engine and the entrypoint.
#    LABKIT_INIT_PID: the process holding the lab's namespaces when the lab has no pid
#    namespace of its own (the rootless and namespace-only labs); only processes in its user
#    namespace are looked at, so nothing outside the lab is ever touched.
init=${LABKIT_INIT_PID:-1}
root_ns=$(readlink /proc/$init/ns/net)
root_user=$(readlink /proc/$init/ns/user)
keep=" 1 $init $$ $(cat /run/labkit/entrypoint.pid 2>/dev/null) "
orphan() {  # pid ppid
  [ "$2" = 1 ] && return 0
  [ -n "${LABKIT_INIT_PID:-}" ] || return 1
  # No pid namespace: an orphan is re-parented outside the lab (init or a subreaper), while a
  # command labkit runs has its client as parent, named in its LABKIT_CLIENT.
  [ "$(readlink /proc/$2/ns/user 2>/dev/null)" = "$root_user" ] && return 1
  [ "$(tr '\0' '\n' < /proc/$1/environ 2>/dev/null | sed -n 's/^LABKIT_CLIENT=//p')" != "$2" ]
}
for p in /proc/[0-9]*; do
  pid=${p#/proc/}
  case "$keep" in *" $pid "*) continue;; esac
  [ "$(readlink "$p/ns/user" 2>/dev/null)" = "$root_user" ] || continue
  comm=$(cat "$p/comm" 2>/dev/null) || continue
  case "$comm" in dockerd|containerd|containerd-shim*|docker-proxy|tini) continue;; esac
  ns=$(readlink "$p/ns/net" 2>/dev/null) || continue
  ppid=$(awk '/^PPid:/{print $2}' "$p/status" 2>/dev/null)
  if [ "$ns" != "$root_ns" ] || orphan "$pid" "$ppid"; then
    kill -KILL "$pid" 2>/dev/null && did "stopped process $pid ($comm)"
  fi
done

# 3. Named network namespaces (ip netns add ...); a lab without a /run of its own cannot make
#    them, and those it sees are not its own.
[ -e /run/netns ] && [ ! -w /run/netns ] || for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
  ip netns delete "$ns" 2>/dev/null && did "deleted namespace $ns" || warn "could not delete namespace $ns"
done

# 4. Links in the lab's own namespace that were not there at the start (bridges, veths, ...).
for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
  grep -qxF "$l" "$B/links" && continue
  ip link delete "$l" 2>/dev/null && did "deleted link $l"
done
for l in $(cat "$B/links"); do
  ip link show "$l" >/dev/null 2>&1 || warn "link $l is gone; restart the lab to get it back (labkit down; labkit up)"
done
for l in $(cat "$B/links-up"); do
  ip link show "$l" 2>/dev/null | grep -q '[<,]UP[,>]' || { ip link set "$l" up 2>/dev/null && did "brought $l up"; }
done

# 5. IPv4 addresses and routes of the lab's own namespace.
# A private scratch folder: two resets at once (two kernels) must not share files.
tmp=$(mktemp -d)
ip -o -4 addr show | awk '{print $2, $4}' | sort > "$tmp/addrs"
comm -13 "$B/addrs" "$tmp/addrs" | while read -r dev cidr; do
  ip addr del "$cidr" dev "$dev" 2>/dev/null && did "removed address $cidr from $dev"
done
comm -23 "$B/addrs" "$tmp/addrs" | while read -r dev cidr; do
  ip addr add "$cidr" dev "$dev" 2>/dev/null && did "restored address $cidr on $dev"
done
ip -4 route show | sed -E 's/ (linkdown|dead)//g' | sort > "$tmp/routes"
comm -13 "$B/routes" "$tmp/routes" | while read -r route; do
  ip route del $route 2>/dev/null && did "removed route $route"
done
comm -23 "$B/routes" "$tmp/routes" | while read -r route; do
  ip route add $route 2>/dev/null && did "restored route $route"
done
rm -rf "$tmp"

# 6. Firewall and NAT: Docker's own rules only, counters zeroed.
# iptables-save text without comments, counters, or tables that hold nothing: iptables-nft
# keeps a table once it was used, even after -F/-X, and that must not count as a change.
ipt_norm() {
  grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]/[0:0]/' | awk '
    /^\*/ { buf = $0 "\n"; keep = 0; next }
    /^COMMIT/ { if (keep) printf "%s%s\n", buf, $0; next }
    { buf = buf $0 "\n"; if ($0 !~ /^:[A-Z]+ ACCEPT \[0:0\]$/) keep = 1 }'
}
for t in $(iptables-save | ipt_norm | sed -n 's/^\*//p'); do
  grep -qx "\*$t" "$B/iptables" && continue
  # No rules, no user chains, ACCEPT policies (-F/-X alone would keep a DROP policy).
  iptables-save -t "$t" | sed -E '/^-A /d; /^:[^ ]+ - /d; s/^(:[A-Z]+) [A-Z]+ /\1 ACCEPT /' \
    | iptables-restore && did "emptied iptables table $t"
done
# iptables-nft keeps a table once used, empty or not: remove the ones the start did not have,
# so the lab's state is the same as at the start, not only equivalent.
if command -v nft >/dev/null; then
  for t in $(nft list tables ip 2>/dev/null | awk '{print $3}'); do
    grep -qx "\*$t" "$B/iptables" || nft delete table ip "$t" 2>/dev/null
  done
fi
if ! diff -q <(ipt_norm < "$B/iptables") <(iptables-save | ipt_norm) >/dev/null; then
  did "restored Docker's iptables rules"
fi
iptables-restore < "$B/iptables" || warn "could not restore the iptables rules"
[ -s "$B/ip6tables" ] && ip6tables-restore < "$B/ip6tables" 2>/dev/null
iptables -Z; iptables -t nat -Z

# 7. Kernel settings and caches lessons touch.
want=$(cat "$B/ip_forward")
[ "$(sysctl -n net.ipv4.ip_forward)" = "$want" ] || { sysctl -qw net.ipv4.ip_forward="$want"; did "set ip_forward back to $want"; }
conntrack -F >/dev/null 2>&1
ip neigh flush all 2>/dev/null

# 8. The seal that keeps traffic in the lab (docs/containment.md): its routes came back in step
#    5; the fence on the uplink is put back if a lesson changed it.
#include contain.sh
exit 0
