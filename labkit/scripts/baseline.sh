#!/bin/bash
# Record the lab's starting state, right after the inner engine is ready and before any lesson.
# reset.sh brings the lab back to exactly this. Run by the lab's entrypoint (and by labkit for
# labs it starts itself). Writes /run/labkit/baseline/.
set -eu
export LC_ALL=C  # the order reset.sh compares in
B=${LABKIT_BASELINE:-/run/labkit/baseline}
mkdir -p "$B"
ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort > "$B/links"
ip -o link show up | awk -F': ' '{print $2}' | cut -d@ -f1 | sort > "$B/links-up"
ip -o -4 addr show | awk '{print $2, $4}' | sort > "$B/addrs"
ip -4 route show | sed -E 's/ (linkdown|dead)//g' | sort > "$B/routes"
iptables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]/[0:0]/' > "$B/iptables"
ip6tables-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]/[0:0]/' > "$B/ip6tables" || true
sysctl -n net.ipv4.ip_forward > "$B/ip_forward"
#source state.sh
# (run as a file, by the lab's entrypoint, the line above is only a comment)
command -v lab_state >/dev/null || . "$(dirname "$0")/state.sh"
lab_state > "$B/state"  # all of it, for reset.sh's last check
date -u +%FT%TZ > "$B/recorded-at"
