#!/bin/bash
# Bring the lab back to the state baseline.sh recorded: no containers, no user networks or
# volumes, no extra namespaces, links, addresses or routes, Docker's own iptables rules only, no
# CNI configs, plugin state or plugins of the lessons' own (/etc/cni/net.d, /var/lib/cni,
# /var/log/cni, /opt/cni/bin), no containers of containerd's own client (ctr).
# Best effort and idempotent; prints "did: ..." for each change and "warn: ..." for what it
# could not fix. Images (busybox) are kept.
set -u
export LC_ALL=C  # comm and sort must agree on the order, whatever the locale
B=${LABKIT_BASELINE:-/run/labkit/baseline}
if [ ! -s "$B/links" ]; then
  echo "warn: no baseline in $B: the lab did not finish starting (see docker compose logs dind)"
  exit 2
fi
did() { echo "did: $*"; }
warn() { echo "warn: $*"; }
#source state.sh
section() { awk -v s="@$1" '/^@/ { on = ($1 == s); next } on'; }  # one part of lab_state
lines() { [ -z "$1" ] || printf '%s\n' "$1"; }  # a variable's lines (none when it is empty)

# 0. The Kubernetes lab's cluster (k8s/k8s-lab.sh, only in that image): its own `down` stops
#    every process of it (the nodes' engines with their pods included) and removes its nodes'
#    namespaces, bridge, data and kubeconfig; what it could not undo the steps below find.
if command -v k8s-lab >/dev/null 2>&1 && k8s-lab present 2>/dev/null; then
  if out=$(timeout 60 k8s-lab down 2>&1); then
    did "stopped the Kubernetes cluster (k8s-lab down): ${out##*k8s-lab: down: }"
  else
    warn "k8s-lab down failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
  fi
fi

# 1. Containers, user-defined networks and volumes of the inner engine (a namespace-only lab,
#    LABKIT_NO_DOCKER=1, has none, and must never reach some other engine). An engine that
#    does not answer (stopped, hung) is not waited for.
docker_ok=1
if [ "${LABKIT_NO_DOCKER:-}" = 1 ]; then
  docker_ok=0
elif ! timeout 5 docker info >/dev/null 2>&1; then
  docker_ok=0
  warn "the lab's Docker engine does not answer, so its containers and networks were left as they are: \`labkit down\` then \`labkit up\` restarts the lab"
fi
[ "$docker_ok" = 1 ] && for c in $(timeout 20 docker ps -aq); do
  name=$(timeout 10 docker inspect -f '{{.Name}}' "$c" 2>/dev/null | sed 's,^/,,')
  timeout 30 docker rm -f "$c" >/dev/null 2>&1 && did "removed container ${name:-$c}" || warn "could not remove container ${name:-$c}"
done
[ "$docker_ok" = 1 ] && for n in $(timeout 20 docker network ls -q --filter type=custom); do
  name=$(timeout 10 docker network inspect -f '{{.Name}}' "$n" 2>/dev/null)
  timeout 20 docker network rm "$n" >/dev/null 2>&1 && did "removed network $name" || warn "could not remove network $name"
done
[ "$docker_ok" = 1 ] && timeout 20 docker volume prune -f >/dev/null 2>&1
# 1b. Containers started with containerd's own client (`ctr -n lab run`, the CNI lessons), in
#     the lessons' own containerd namespace `lab` (Docker's are in moby and plugins.moby: never
#     touched here). A start whose CNI ADD failed leaves one behind, its task CREATED, so that
#     the next `ctr run` of that name fails ("snapshot ... already exists"). Images stay.
ctr_sock=/run/docker/containerd/containerd.sock
ctrl() { timeout 20 ctr --address "$ctr_sock" -n lab "$@"; }
[ "$docker_ok" = 1 ] && [ -S "$ctr_sock" ] && command -v ctr >/dev/null \
  && for c in $(ctrl containers ls -q 2>/dev/null); do
  ctrl tasks rm -f "$c" >/dev/null 2>&1  # none, or one that is killed first
  if ctrl containers rm "$c" >/dev/null 2>&1; then
    did "removed containerd container $c (namespace lab)"
  elif ctrl containers ls -q 2>/dev/null | grep -qx "$c"; then
    warn "could not remove containerd container $c (namespace lab)"
  fi  # (else its own `ctr run --rm` removed it meanwhile)
done
# The link that lets a plain `ctr` find Docker's containerd (lessons 7 and 8 make it). The
# rest of /run/containerd is ctr's and the shims' (fifo/, runc/NAMESPACE/): it stays.
if [ -L /run/containerd/containerd.sock ]; then
  rm -f /run/containerd/containerd.sock \
    && did "removed the link /run/containerd/containerd.sock (to Docker's containerd)" \
    || warn "could not remove the link /run/containerd/containerd.sock"
fi

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

# 4. Links in the lab's own namespace. A link of the start that was renamed (ip link set docker0
#    name br-x) still has its index: it gets its name back instead of being deleted.
if [ -s "$B/state" ]; then
  while read -r idx name _; do
    cur=$(ip -o link show | awk -F': ' -v i="$idx" '$1 == i { print $2 }' | cut -d@ -f1)
    [ -n "$cur" ] && [ "$cur" != "$name" ] || continue
    ip link set dev "$cur" down && ip link set dev "$cur" name "$name" \
      && did "renamed $cur back to $name" || warn "could not rename $cur back to $name"
  done < <(section links < "$B/state")
fi
# Links that were not there at the start (bridges, veths, ...).
for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
  grep -qxF "$l" "$B/links" && continue
  ip link delete "$l" 2>/dev/null && did "deleted link $l"
done
for l in $(cat "$B/links"); do
  ip link show "$l" >/dev/null 2>&1 || warn "link $l is gone; restart the lab to get it back (labkit down; labkit up)"
done
# Their MTU and MAC address as at the start.
[ -s "$B/state" ] && while read -r _ name mtu mac; do
  now=$(ip -o link show dev "$name" 2>/dev/null) || continue
  case $now in *" mtu $mtu "*) ;; *)
    ip link set dev "$name" mtu "$mtu" && did "set the mtu of $name back to $mtu" \
      || warn "could not set the mtu of $name back to $mtu" ;;
  esac
  case $mac in -|00:00:00:00:00:00) continue ;; esac
  case "$now " in *" $mac "*) ;; *)
    ip link set dev "$name" address "$mac" && did "set the MAC address of $name back to $mac" \
      || warn "could not set the MAC address of $name back to $mac" ;;
  esac
done < <(section links < "$B/state")
for l in $(cat "$B/links-up"); do
  ip link show "$l" 2>/dev/null | grep -q '[<,]UP[,>]' || { ip link set "$l" up 2>/dev/null && did "brought $l up" || warn "could not bring $l up"; }
done

# 5. IPv4 addresses, routes, policy rules and other route tables of the lab's own namespace.
#    (No temporary files: a full /tmp must not stop a reset half-way.)
cur=$(ip -o -4 addr show | awk '{print $2, $4}' | sort)
while read -r dev cidr; do
  ip addr del "$cidr" dev "$dev" 2>/dev/null && did "removed address $cidr from $dev" || warn "could not remove address $cidr from $dev"
done < <(comm -13 "$B/addrs" <(lines "$cur"))
while read -r dev cidr; do
  ip addr add "$cidr" dev "$dev" 2>/dev/null && did "restored address $cidr on $dev" || warn "could not restore address $cidr on $dev"
done < <(comm -23 "$B/addrs" <(lines "$cur"))
# A list of the start against the same list now: remove what is new, restore what is gone.
# put_back NOUN COMMAND START NOW: each line, after the sed script $to_args, is the arguments
# of `COMMAND del|add` (`ip route`, `ip rule`).
to_args=
put_back() {
  local line
  while read -r line; do
    $2 del $(printf "%s\n" "$line" | sed -E "$to_args") 2>/dev/null && did "removed $1 $line" || warn "could not remove $1 $line"
  done < <(comm -13 <(lines "$3") <(lines "$4"))
  while read -r line; do
    $2 add $(printf "%s\n" "$line" | sed -E "$to_args") 2>/dev/null && did "restored $1 $line" || warn "could not restore $1 $line"
  done < <(comm -23 <(lines "$3") <(lines "$4"))
}
put_back route "ip route" "$(cat "$B/routes")" "$(ip -4 route show | sed -E 's/ (linkdown|dead)//g' | sort)"
if [ -s "$B/state" ]; then
  now=$(lab_state)
  put_back route "ip route" "$(section tables < "$B/state")" "$(lines "$now" | section tables)"
  to_args='s/^([0-9]+): /pref \1 /'  # "100: from 192.0.2.0/24 lookup 100"
  put_back rule "ip rule" "$(section rules < "$B/state")" "$(lines "$now" | section rules)"
  to_args=
fi

# 6. Firewall and NAT: Docker's own rules only, counters zeroed; IPv6 too (an empty start
#    means no rules at all, not "nothing to restore").
firewall() {  # iptables|ip6tables nft-family
  local ipt=$1 family=$2 base=$B/$1 t
  [ -f "$base" ] || return 0
  for t in $($ipt-save 2>/dev/null | ipt_norm | sed -n 's/^\*//p'); do
    grep -qx "\*$t" "$base" && continue
    # No rules, no user chains, ACCEPT policies (-F/-X alone would keep a DROP policy).
    $ipt-save -t "$t" | sed -E '/^-A /d; /^:[^ ]+ - /d; s/^(:[A-Z]+) [A-Z]+ /\1 ACCEPT /' \
      | $ipt-restore && did "emptied $ipt table $t" || warn "could not empty $ipt table $t"
  done
  # iptables-nft keeps a table once used, empty or not: remove the ones the start did not
  # have, so the lab's state is the same as at the start, not only equivalent.
  if command -v nft >/dev/null; then
    for t in $(nft list tables "$family" 2>/dev/null | awk '{print $3}'); do
      grep -qx "\*$t" "$base" || nft delete table "$family" "$t" 2>/dev/null
    done
  fi
  if ! diff -q <(ipt_norm < "$base") <($ipt-save 2>/dev/null | ipt_norm) >/dev/null; then
    did "restored Docker's $ipt rules"
  fi
  if [ -s "$base" ]; then
    $ipt-restore < "$base" || warn "could not restore the $ipt rules"
  fi
}
# CNI plugins' chains (the bridge plugin's CNI-<hash> MASQUERADE chain and POSTROUTING's jump
# to it, portmap's CNI-HOSTPORT-* and CNI-DN-*, the firewall plugin's CNI-FORWARD) go with the
# rest in the restore below; named first, so the report says which went.
cni_chains() {  # "TABLE CHAIN JUMPS" for every CNI-* chain; JUMPS: the rules that lead to it
  iptables-save 2>/dev/null | awk '
    /^\*/ { t = substr($1, 2) }
    /^:CNI-/ { c = substr($1, 2); order[++n] = t " " c }
    /^-A / { for (i = 3; i < NF; i++) if (($i == "-j" || $i == "-g") && $(i + 1) ~ /^CNI-/) {
               k = t " " $(i + 1); j = $2
               for (m = 3; m < NF; m++) if ($m == "-s") j = j " -s " $(m + 1)
               sep = (k in from) ? ", " : ""; from[k] = from[k] sep j } }
    END { for (i = 1; i <= n; i++) print order[i], from[order[i]] }'
}
in_start() {  # TABLE CHAIN: the chain is in the recorded start's rules
  sed -n "/^\*$1\$/,/^COMMIT/p" "$B/iptables" 2>/dev/null | grep -q "^:$2 "
}
cni_before=$(cni_chains | while read -r t c jumps; do in_start "$t" "$c" || echo "$t $c $jumps"; done)
firewall iptables ip
firewall ip6tables ip6
iptables -Z; iptables -t nat -Z
cni_after=$(cni_chains)
while read -r t c jumps; do
  case $'\n'"$cni_after" in *$'\n'"$t $c "*) warn "could not remove iptables chain $c ($t table)"; continue ;; esac
  case $jumps in *", "*) to="the jumps to it" ;; *) to="the jump to it" ;; esac
  did "removed iptables chain $c ($t table)${jumps:+ and $to from $jumps}"
done < <(lines "$cni_before")

# 7. Kernel settings and caches lessons touch.
want=$(cat "$B/ip_forward")
[ "$(sysctl -n net.ipv4.ip_forward)" = "$want" ] || { sysctl -qw net.ipv4.ip_forward="$want" && did "set ip_forward back to $want" || warn "could not set ip_forward back to $want"; }
if [ -s "$B/state" ]; then
  while read -r key _ value; do
    [ -w "/proc/sys/${key//.//}" ] || continue
    printf '%s\n' "$value" > "/proc/sys/${key//.//}" 2>/dev/null \
      && did "set $key back to $value" || warn "could not set $key back to $value"
  done < <(comm -23 <(section sysctl < "$B/state") <(lab_state | section sysctl))
fi
conntrack -F >/dev/null 2>&1
[ -z "$(ip neigh show nud permanent)" ] || { ip neigh flush nud permanent && did "removed permanent neighbour entries"; }
ip neigh flush all 2>/dev/null

# 7b. CNI's files: network configs lessons wrote in /etc/cni/net.d, and what plugins keep in
#     /var/lib/cni (host-local's leases, networks/NAME/ one file per address; libcni's cache of
#     results), and plugins' logs in /var/log/cni. What was there at the start stays. (Plugins' links went in steps 3 and 4: their
#     bridge, lab-br0 or cni0, is a link the start did not have, a veth goes with its namespace.)
start_cni=$([ -s "$B/state" ] && section cni < "$B/state")
cni_file() {  # what a path under /etc/cni or /var/lib/cni is, in the report's words
  case $1 in
    /etc/cni/*) echo "CNI config $1" ;;
    /var/log/cni/*) echo "CNI plugin log $1" ;;
    /var/lib/cni/networks/*)
      local held
      held=$(ls "$1" | grep -v -e '^lock$' -e '^last_reserved_ip' | tr '\n' ' ' | sed 's/ $//')
      echo "host-local's leases of network ${1##*/} (${held:-none held})" ;;
    /var/lib/cni/results) echo "libcni's cache of results ($(ls "$1" | wc -l) in $1)" ;;
    *) echo "$1" ;;
  esac
}
for f in /etc/cni/net.d/* /var/lib/cni/networks/* /var/lib/cni/* /var/log/cni/*; do
  [ -e "$f" ] || continue
  case $'\n'"$start_cni"$'\n' in *$'\n'"$f"$'\n'*) continue ;; esac
  # (an empty folder, networks/ once its networks went or results/ after a DEL, goes unsaid)
  [ -d "$f" ] && [ -z "$(ls -A "$f")" ] && { rmdir "$f" 2>/dev/null; continue; }
  what=$(cni_file "$f")
  rm -rf -- "$f" 2>/dev/null && did "removed $what" || warn "could not remove $what"
done

# Plugins a lesson installed where runtimes look for them, /opt/cni/bin: what the start did
# not have (Debian's plugins, the articles' or a node's own all were). A start recorded before
# this listing existed has no @cni-bin: then nothing is removed.
start_bin=$([ -s "$B/state" ] && section cni-bin < "$B/state")
if [ -n "$start_bin" ]; then
  for f in /opt/cni/bin/*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    case $'\n'"$start_bin"$'\n' in *$'\n'"$f"$'\n'*) continue ;; esac
    rm -rf -- "$f" 2>/dev/null && did "removed CNI plugin $f (a lesson's own)" \
      || warn "could not remove CNI plugin $f"
  done
fi

# 8. The seal that keeps traffic in the lab (docs/containment.md): its routes came back in step
#    5; the fence on the uplink is put back if a lesson changed it.
#include contain.sh

# 9. Say the truth: compare the lab now with the start, as baseline.sh recorded it (link
#    indexes aside: an engine started again made docker0 anew).
if [ -s "$B/state" ]; then
  strip() { awk '/^@links/ { l = 1; print; next } /^@/ { l = 0 } l { $1 = "" } { print }'; }
  # A section state.sh has listed only since (@cni-bin) is not compared with a start recorded
  # before it: that start never saw it (a lab started before labkit was updated).
  later=$(for s in @cni-bin; do grep -qx -- "$s" "$B/state" || printf '%s ' "$s"; done)
  unseen() { awk -v drop=" $later" '/^@/ { off = index(drop, " " $1 " ") > 0 } !off'; }
  diff <(strip < "$B/state") <(lab_state | unseen | strip) | awk '
    /^[0-9]/ { next }
    /^[<>]/ { side = ($1 == "<") ? "was at the start" : "is new"; sub(/^[<>] /, "")
              printf "warn: after the reset, this still differs from the start (%s): %s\n", side, $0 }' \
    | head -n 10
else
  warn "this lab was started by an older labkit (no $B/state): rebuild and restart it (labkit down; labkit up --build)"
fi
exit 0
