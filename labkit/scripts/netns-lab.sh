# labkit: `ip netns` and `brctl show` without mount(2), for the namespace-only lab (mode 3).
#
# Sourced by every bash the lab runs (BASH_ENV). `ip netns add` bind-mounts a namespace on
# /run/netns, which needs mount(2); this lab has none. So named namespaces are held by
# processes instead, and the `ip` function below maps iproute2's netns words onto them:
#
#   ip netns add NAME        setsid unshare -n sleep infinity; "PID INODE" in $LABKIT_NETNS_DIR/NAME
#   ip netns del NAME        kill the holder
#   ip netns list|identify|pids
#   ip netns exec NAME CMD   nsenter -t PID -n CMD
#   ip -n NAME ARGS          nsenter -t PID -n ip ARGS
#   ... netns NAME ...       (ip link set DEV netns NAME, ip link add ... peer ... netns NAME)
#                            the NAME becomes the holder's PID, which iproute2 accepts
#
# Everything else goes to the real `ip` unchanged. Not mapped: `ip netns exec` does not
# remount /sys for the namespace (so /sys/class/net inside shows the lab's links), and
# `ip netns list` prints no "(id: N)". reset.sh stops the holders like any other orphan; a
# name whose holder is gone is free again.

__labkit_ns_pid() {  # NAME -> the holder's PID (fails when there is none)
  local f="${LABKIT_NETNS_DIR:?}/$1" pid ino
  case $1 in ''|*/*|.*) return 1 ;; esac
  [ -r "$f" ] && read -r pid ino < "$f" || return 1
  if [ -n "$pid" ] && [ "$(stat -Lc %i "/proc/$pid/ns/net" 2>/dev/null)" = "$ino" ]; then
    echo "$pid"
    return 0
  fi
  rm -f "$f"  # its holder is gone (reset stopped it, or it was killed): the name is free
  return 1
}

__labkit_no_ns() {  # iproute2's own words
  echo "Cannot open network namespace \"$1\": No such file or directory" >&2
  return 1
}

__labkit_netns_names() {  # in the order they were made, like readdir of /run/netns mostly is
  local f
  [ -d "$LABKIT_NETNS_DIR" ] || return 0
  for f in $(ls -tr "$LABKIT_NETNS_DIR" 2>/dev/null); do
    __labkit_ns_pid "$f" >/dev/null && echo "$f"
  done
}

__labkit_netns() {
  local sub=${1:-list} name pid ino me rc=0 i
  [ $# -gt 0 ] && shift
  case $sub in
    add)
      [ $# -eq 1 ] || { echo "Usage: ip netns add NAME" >&2; return 255; }
      name=$1
      case $name in ''|*/*|.*) echo "Invalid netns name \"$name\"" >&2; return 1 ;; esac
      if __labkit_ns_pid "$name" >/dev/null; then
        echo "Cannot create namespace file \"/run/netns/$name\": File exists" >&2
        return 1
      fi
      mkdir -p "$LABKIT_NETNS_DIR"
      me=$(stat -Lc %i /proc/self/ns/net)
      # setsid and no LABKIT_JOB: a cell's timeout or interrupt does not end the namespace
      LABKIT_JOB= setsid unshare -n bash --norc -c 'exec -a "labkit-netns:$0" sleep infinity' "$name" \
        </dev/null >/dev/null 2>&1 &
      pid=$!
      disown "$pid" 2>/dev/null  # no "Killed" job notice when `ip netns del` ends it
      for i in $(seq 250); do
        ino=$(stat -Lc %i "/proc/$pid/ns/net" 2>/dev/null) || break
        [ "$ino" != "$me" ] && break
        sleep 0.02
      done
      if [ -z "$ino" ] || [ "$ino" = "$me" ]; then
        echo "ip netns add $name: could not start the process that holds it" >&2
        return 1
      fi
      echo "$pid $ino" > "$LABKIT_NETNS_DIR/$name"
      ;;
    del|delete)
      [ $# -ge 1 ] || { echo "Usage: ip netns del NAME" >&2; return 255; }
      for name in "$@"; do
        pid=$(__labkit_ns_pid "$name") || { __labkit_no_ns "$name"; rc=1; continue; }
        kill -KILL "$pid" 2>/dev/null
        rm -f "$LABKIT_NETNS_DIR/$name"
      done
      return $rc
      ;;
    list|show|ls|lst)
      if [ "${__labkit_json:-}" = 1 ]; then  # ip -j netns list: [{"name":"lab-ns0"},...]
        __labkit_netns_names | awk 'BEGIN {printf "["}
          {printf "%s{\"name\":\"%s\"}", (NR > 1 ? "," : ""), $0} END {print "]"}'
      else
        __labkit_netns_names
      fi
      ;;
    exec)
      [ $# -ge 2 ] || { echo "Usage: ip netns exec NAME CMD [ARGS...]" >&2; return 255; }
      name=$1
      shift
      pid=$(__labkit_ns_pid "$name") || { __labkit_no_ns "$name"; return 1; }
      nsenter -t "$pid" -n -- "$@"
      ;;
    identify)
      ino=$(stat -Lc %i "/proc/${1:-$$}/ns/net" 2>/dev/null) || { echo "Cannot open pid" >&2; return 1; }
      for name in $(__labkit_netns_names); do
        pid=$(__labkit_ns_pid "$name") && [ "$(stat -Lc %i "/proc/$pid/ns/net")" = "$ino" ] \
          && echo "$name"
      done
      ;;
    pids)
      pid=$(__labkit_ns_pid "${1:-}") || { __labkit_no_ns "${1:-}"; return 1; }
      ino=$(stat -Lc %i "/proc/$pid/ns/net")
      for i in /proc/[0-9]*; do
        [ "$(stat -Lc %i "$i/ns/net" 2>/dev/null)" = "$ino" ] && echo "${i#/proc/}"
      done | sort -n
      ;;
    *)
      echo "ip netns $sub: not available in the namespace-only lab (live mode 3: no mount(2));" \
        "add, del, list, exec, identify and pids are" >&2
      return 1
      ;;
  esac
}

ip() {
  local ns="" opts=() rest=() prev="" a pid
  while [ $# -gt 0 ]; do
    case $1 in
      -n|-netns|--netns) ns=${2:-}; shift 2 || shift ;;
      -b|-batch|-f|-family|-l|-loops|-rc|-rcvbuf) opts+=("$1" "${2:-}"); shift 2 || shift ;;
      -*) opts+=("$1"); shift ;;
      *) break ;;
    esac
  done
  if [ -z "$ns" ] && [ "${1:-}" = netns ]; then
    shift
    local __labkit_json=0
    case " ${opts[*]} " in *" -j "*|*" -json "*|*" --json "*) __labkit_json=1 ;; esac
    __labkit_netns "$@"
    return
  fi
  for a in "$@"; do  # "netns NAME" -> "netns PID" where NAME is one of ours
    if [ "$prev" = netns ] && pid=$(__labkit_ns_pid "$a"); then rest+=("$pid"); else rest+=("$a"); fi
    prev=$a
  done
  if [ -n "$ns" ]; then
    pid=$(__labkit_ns_pid "$ns") || { __labkit_no_ns "$ns"; return 1; }
    nsenter -t "$pid" -n -- ip "${opts[@]}" "${rest[@]}"
  else
    command ip "${opts[@]}" "${rest[@]}"
  fi
}

# `brctl show` reads /sys/class/net, and /sys here is the container's (a sysfs of the lab's
# namespace would need mount(2)): it would list the container's bridges, not the lab's. So
# `brctl show [BRIDGE...]` is answered from netlink, in brctl's own layout; the other brctl
# commands (addbr, delbr, addif, ...) use ioctls, which work, and go to the real brctl.
brctl() {
  [ "${1:-}" = show ] || { command brctl "$@"; return; }
  shift
  local br mac prio stp ports p rc=0
  printf 'bridge name\tbridge id\t\tSTP enabled\tinterfaces\n'
  for br in ${@:-$(command ip -o link show type bridge | awk -F': ' '{print $2}' | cut -d@ -f1 | sort)}; do
    if ! command ip -o -d link show dev "$br" type bridge >/dev/null 2>&1 \
        || [ -z "$(command ip -o link show dev "$br" type bridge 2>/dev/null)" ]; then
      echo "bridge $br does not exist!" >&2
      rc=1
      continue
    fi
    mac=$(command ip -o link show dev "$br" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2 | tr -d :)
    prio=$(command ip -o -d link show dev "$br" | grep -o ' priority [0-9]*' | head -1 | awk '{print $2}')
    stp=$(command ip -o -d link show dev "$br" | grep -o 'stp_state [0-9]' | awk '{print $2}')
    ports=$(command ip -o link show master "$br" | awk -F': ' '{print $2}' | cut -d@ -f1 | sort)
    printf '%s\t\t%04x.%s\t%s\t\t' "$br" "${prio:-32768}" "$mac" "$([ "${stp:-0}" = 0 ] && echo no || echo yes)"
    set -- $ports
    printf '%s\n' "${1:-}"
    [ $# -gt 0 ] && shift
    for p in "$@"; do printf '\t\t\t\t\t\t\t%s\n' "$p"; done
  done
  return $rc
}
