# The lab host's network state in one canonical text, section by section: what baseline.sh
# records as the starting state and what reset.sh compares with it afterwards, so a reset that
# left anything behind says so. Defines functions only; baseline.sh and reset.sh `#source` it.
# Counters, "linkdown" flags and the order of lines are left out: they change on their own.

# iptables-save text without comments, counters, or tables that hold nothing: iptables-nft
# keeps a table once it was used, even after -F/-X, and that must not count as a change.
ipt_norm() {
  grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]/[0:0]/' | awk '
    /^\*/ { buf = $0 "\n"; keep = 0; next }
    /^COMMIT/ { if (keep) printf "%s%s\n", buf, $0; next }
    { buf = buf $0 "\n"; if ($0 !~ /^:[A-Z]+ ACCEPT \[0:0\]$/) keep = 1 }'
}

lab_state() {
  local LC_ALL=C  # comm and sort agree on the order whatever the caller's locale
  echo "@links"  # index name mtu mac: a renamed link keeps its index
  # (only Ethernet MACs: Docker Desktop's tunl0 and sit0 print `link/ipip 0.0.0.0` and the like)
  ip -o link show | sed -E 's/^([0-9]+): ([^:@ ]+)[^ ]*:.* mtu ([0-9]+) .*link\/ether ([0-9a-f]{2}(:[0-9a-f]{2}){5}) .*/\1 \2 \3 \4/; t; s/^([0-9]+): ([^:@ ]+)[^ ]*:.* mtu ([0-9]+) .*/\1 \2 \3 -/' | sort -n
  echo "@up"
  ip -o link show up | awk -F': ' '{print $2}' | cut -d@ -f1 | sort
  echo "@addrs"
  ip -o -4 addr show | awk '{print $2, $4}' | sort
  echo "@routes"
  ip -4 route show | sed -E 's/ (linkdown|dead)//g; s/ +$//' | sort
  echo "@tables"  # routes in tables other than main and local
  ip -4 route show table all | grep ' table ' | grep -v ' table local' | sed -E 's/ (linkdown|dead)//g; s/ +$//' | sort
  echo "@rules"
  ip -4 rule show | sed -E "s/[[:space:]]+/ /g; s/ +$//" | sort
  echo "@neigh"  # permanent entries only: the others come and go with traffic
  ip neigh show nud permanent | sort
  echo "@iptables"
  iptables-save 2>/dev/null | ipt_norm
  echo "@ip6tables"
  ip6tables-save 2>/dev/null | ipt_norm
  echo "@sysctl"  # what lessons and learners switch: forwarding, rp_filter, proxy_arp, ...
  local links
  links=$(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | tr '\n' '|')
  sysctl -a 2>/dev/null | grep -E "^net\.ipv4\.(ip_forward|ip_local_port_range|ping_group_range|conf\.(all|default|${links%|})\.)|^net\.ipv6\.conf\.(all|default)\.(disable_ipv6|forwarding) |^net\.bridge\." | sort
  # CNI's files: network configs, the plugins' state (host-local's leases, libcni's cache) and
  # logs. The section only when there are some, so a start recorded before it had one agrees.
  local cni
  cni=$(find /etc/cni/net.d /var/lib/cni /var/log/cni -mindepth 1 2>/dev/null | sort)
  [ -z "$cni" ] || printf '@cni\n%s\n' "$cni"
  # The plugins where runtimes look for them (in the lab a link to Debian's /usr/lib/cni): a
  # lesson's own plugin is one the start did not have.
  local bin
  bin=$(find /opt/cni/bin/ -mindepth 1 -maxdepth 1 2>/dev/null | sort)
  [ -z "$bin" ] || printf '@cni-bin\n%s\n' "$bin"
}
