#!/bin/bash
# Start the inner Docker engine, seed the offline images, then say the lab is ready. Stays in
# the foreground: on TERM (docker stop) it stops the engine cleanly; when the engine dies on its
# own it is started again (at most 3 times), so the lab lives as long as it can.
set -u
# /run survives a container restart: start from a clean slate.
rm -rf /run/labkit /var/run/docker.pid
mkdir -p /run/labkit
# reset.sh spares this process when it stops leftovers of the lessons.
echo $$ > /run/labkit/entrypoint.pid
log=/var/log/dockerd.log
# Nothing leaves the lab (docs/containment.md): before the engine starts, while the lab's only
# links are lo and its uplink, so the uplink is known for what it is.
/opt/labkit/labkit/scripts/contain.sh --detect-uplinks || { echo "lab: could not seal the lab off"; exit 1; }
# Without --privileged (the capability-set fallback) Docker mounts /proc/sys read-only, and
# lessons could not switch ip_forward; the lab has CAP_SYS_ADMIN, so make it writable.
if grep -q ' /proc/sys proc ro' /proc/self/mounts; then
  mount -o remount,rw /proc/sys 2>/dev/null || echo "lab: /proc/sys stays read-only (sysctl -w will fail)"
fi

dockerd_pid=
stopping=
# docker stop sends TERM (tini -g passes it to the whole group, dockerd included): stop the
# engine and wait for it, so no stale containerd pid file is left for the next start.
stop() {
  stopping=1
  echo "lab: stopping the inner Docker engine"
  # The lessons' containers are thrown away at the next start anyway: kill them now, or the
  # engine waits 10 s for each busybox sh that ignores TERM.
  left=$(timeout 5 docker ps -q 2>/dev/null)
  [ -z "$left" ] || timeout 5 docker kill $left >/dev/null 2>&1
  [ -n "$dockerd_pid" ] && kill -TERM "$dockerd_pid" 2>/dev/null
  # bash's wait returns early when a trapped signal arrives: wait until it is really gone
  while [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; do
    wait "$dockerd_pid" 2>/dev/null
  done
  echo "lab: stopped"
  exit 0
}
trap stop TERM INT

start_engine() {
  # Nothing of an earlier engine runs now (a new start, or the engine just died): its pid
  # files and sockets are stale, and containerd refuses to start beside a stale pid file.
  pkill -KILL -x containerd 2>/dev/null
  pkill -KILL -f containerd-shim 2>/dev/null
  for m in /var/run/docker/netns/*; do umount -l "$m" 2>/dev/null; done
  rm -rf /var/run/docker /var/run/docker.pid /var/run/docker.sock /run/containerd
  # A lab always starts clean, networks included: without its network store, dockerd makes the
  # default bridge afresh, so `docker network inspect bridge` reads the same on every start (a
  # restored store adds a "Gateway" line that a first start does not have).
  rm -f /var/lib/docker/network/files/local-kv.db
  # After a crash docker0 is still there, and an engine that finds it records its address as
  # an explicit Gateway: let the engine make it anew too.
  ip link delete docker0 2>/dev/null
  echo "lab: starting the inner Docker engine (log: $log)"
  # docker0 keeps Docker's default 172.17.0.1/16 as long as the lab itself is not on 172.17/16.
  # --shutdown-timeout 2: tini -g passes TERM to the engine too, which may stop the lessons'
  # containers before the trap below kills them; a busybox sh ignores TERM for 10 s otherwise.
  dockerd --host=unix:///var/run/docker.sock --shutdown-timeout 2 >>"$log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && return 0
    [ -n "$stopping" ] && return 1
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
      echo "lab: dockerd exited; last lines of $log:"; tail -n 20 "$log"; return 1
    fi
    sleep 0.5
  done
  echo "lab: dockerd did not answer within 60 s; last lines of $log:"; tail -n 20 "$log"
  return 1
}

start_engine || exit 1
/opt/labkit/labkit/scripts/seed-busybox.sh || { echo "lab: could not seed the offline images"; exit 1; }
# Images an image built on this one adds (the Kubernetes lab's k8s.gcr.io/pause:3.2, k8s/):
# each seed.d script makes its image offline, before the starting state is recorded.
for seed in /usr/local/lib/labkit/seed.d/*.sh; do
  [ -x "$seed" ] || continue
  "$seed" || { echo "lab: could not seed the offline images ($seed)"; exit 1; }
done
# A lab always starts clean: containers and networks of an earlier run are removed before the
# starting state is recorded (lessons reset to that state).
left=$(docker ps -aq)
[ -z "$left" ] || { docker rm -f $left >/dev/null; echo "lab: removed $(echo "$left" | wc -l) container(s) left from an earlier run"; }
docker network prune -f >/dev/null
/opt/labkit/labkit/scripts/baseline.sh || { echo "lab: could not record the starting state"; exit 1; }
touch /run/labkit/ready
echo "lab: ready — docker0 is $(ip -4 -o addr show docker0 | awk '{print $4}')"

# The engine in the foreground: when it dies on its own (killed, crashed), start it again.
crashes=0
while :; do
  wait "$dockerd_pid"
  status=$?
  [ -n "$stopping" ] && continue  # the TERM trap is stopping it
  kill -0 "$dockerd_pid" 2>/dev/null && continue  # wait was cut short by a signal
  crashes=$((crashes + 1))
  echo "lab: dockerd exited with status $status; last lines of $log:"; tail -n 10 "$log"
  if [ "$crashes" -gt 3 ]; then
    echo "lab: dockerd keeps dying; the lab stops. \`labkit up\` starts it again."
    exit 1
  fi
  rm -f /run/labkit/ready
  echo "lab: starting the engine again (restart $crashes of 3); its containers have stopped"
  start_engine || { echo "lab: the engine did not come back; \`labkit up\` starts the lab again"; exit 1; }
  touch /run/labkit/ready
done
