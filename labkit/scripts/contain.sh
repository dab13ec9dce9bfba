#!/bin/bash
# Keep every packet inside the lab, by construction (docs/containment.md). Run by the lab's
# entrypoint before its engine starts, by labkit before it records a rootless or
# namespace-only lab's baseline, and by reset.sh, which puts back whatever a learner undid.
#
# 1. The lab's uplinks, its links to the machine it runs on (Docker's eth0 in the course lab;
#    the rootless and namespace-only labs, made with `unshare -n`, have none), are found once,
#    when the entrypoint starts with --detect-uplinks, and kept in $B/uplinks.
# 2. Its routing table ends nowhere outside: Docker's default route via the uplink goes, and
#    `unreachable` routes of the worst metric catch the default and the documentation ranges
#    the lessons use. A lesson's own route (out0's 203.0.113.0/24, a learner's default) has a
#    better metric and wins, so every lesson runs unchanged.
# 3. A fence (nft tables inet and netdev labkit_fence) drops whatever would still leave by an
#    uplink, even after a learner adds a default route through it or a macvlan on it.
# Prints "did: ..." for what it changed; idempotent.
set -u
B=${LABKIT_BASELINE:-/run/labkit/baseline}
# The worst metric: any route a lesson or a learner adds is preferred to these.
METRIC=4294967295
# RFC 5737 documentation ranges: the simulated outside hosts live in them.
RANGES="default 192.0.2.0/24 198.51.100.0/24 203.0.113.0/24"
did() { echo "did: $*"; }
warn() { echo "warn: $*"; }

mkdir -p "$B"
if [ "${1:-}" = --detect-uplinks ]; then  # the entrypoint, before the engine makes docker0
  # Ethernet links only: Docker Desktop also gives containers tunl0, sit0, ... (no traffic)
  ip -o link show | grep ' link/ether ' | awk -F': ' '{print $2}' | cut -d@ -f1 > "$B/uplinks"
fi
uplinks=$(cat "$B/uplinks" 2>/dev/null)  # none recorded: a lab of its own namespace

for dev in $uplinks; do
  while read -r route; do
    [ -n "$route" ] || continue
    ip route del $route 2>/dev/null && did "removed route $route (it led out of the lab)"
  done < <(ip -4 route show default dev "$dev" 2>/dev/null)
done
for dst in $RANGES; do
  ip -4 route show | sed "s/ *$//" | grep -qxF "unreachable $dst metric $METRIC" && continue
  ip route replace unreachable "$dst" metric "$METRIC" \
    && did "added route unreachable $dst (nothing there leaves the lab)" \
    || warn "could not add route unreachable $dst"
done

[ -n "$uplinks" ] || exit 0
set_=$(printf '"%s", ' $uplinks)
want="table inet labkit_fence {
	chain forward {
		type filter hook forward priority -300; policy accept;
		oifname { ${set_%, } } counter drop comment \"nothing leaves the lab\"
	}
	chain output {
		type filter hook output priority -300; policy accept;
		oifname { ${set_%, } } counter drop comment \"nothing leaves the lab\"
	}
}"
# nft prints a table in its own words: compare with what it printed when the fence went up.
fence() { nft list table inet labkit_fence 2>/dev/null | sed -E 's/ packets [0-9]+ bytes [0-9]+//'; }
have=$(fence)
if [ -z "$have" ] || [ "$have" != "$(cat "$B/fence" 2>/dev/null)" ]; then
  nft delete table inet labkit_fence 2>/dev/null
  if echo "$want" | nft -f - && fence > "$B/fence"; then
    did "put up the fence on $(echo $uplinks | tr ' ' ,) (nft table inet labkit_fence)"
  else
    warn "could not put up the fence on $(echo $uplinks | tr ' ' ,) (nft); the routes above still hold"
  fi
fi
# The same at the uplink's own egress (kernel >= 5.16): a macvlan on eth0, or eth0 made a
# bridge port, sends through eth0 without eth0 being the output interface above. A kernel
# without the egress hook keeps the fence above; that is recorded once, not warned each time.
[ "$(cat "$B/fence-egress" 2>/dev/null)" = unsupported ] && exit 0
want="table netdev labkit_fence {"
for dev in $uplinks; do
  want="$want
	chain egress-$dev {
		type filter hook egress device \"$dev\" priority 0; policy accept;
		counter drop comment \"nothing leaves the lab\"
	}"
done
want="$want
}"
egress() { nft list table netdev labkit_fence 2>/dev/null | sed -E 's/ packets [0-9]+ bytes [0-9]+//'; }
have=$(egress)
if [ -z "$have" ] || [ "$have" != "$(cat "$B/fence-egress" 2>/dev/null)" ]; then
  nft delete table netdev labkit_fence 2>/dev/null
  if echo "$want" | nft -f - 2>/dev/null && egress > "$B/fence-egress"; then
    did "put up the fence at the egress of $(echo $uplinks | tr ' ' ,) (nft table netdev labkit_fence)"
  else
    echo unsupported > "$B/fence-egress"
  fi
fi
exit 0
