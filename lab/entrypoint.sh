#!/bin/bash
# Start the inner Docker engine, seed the offline images, then say the lab is ready.
set -u
# /run survives a container restart: start from a clean slate.
rm -rf /run/labkit /var/run/docker.pid
mkdir -p /run/labkit
# reset.sh spares this process when it stops leftovers of the lessons.
echo $$ > /run/labkit/entrypoint.pid
log=/var/log/dockerd.log
# A lab always starts clean, networks included: without its network store, dockerd makes the
# default bridge afresh, so `docker network inspect bridge` reads the same on every start (a
# restored store adds a "Gateway" line that a first start does not have).
rm -f /var/lib/docker/network/files/local-kv.db
# Without --privileged (the capability-set fallback) Docker mounts /proc/sys read-only, and
# lessons could not switch ip_forward; the lab has CAP_SYS_ADMIN, so make it writable.
if grep -q ' /proc/sys proc ro' /proc/self/mounts; then
  mount -o remount,rw /proc/sys 2>/dev/null || echo "lab: /proc/sys stays read-only (sysctl -w will fail)"
fi
echo "lab: starting the inner Docker engine (log: $log)"
# docker0 keeps Docker's default 172.17.0.1/16 as long as the lab itself is not on 172.17/16.
dockerd --host=unix:///var/run/docker.sock >"$log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 1 120); do
  docker info >/dev/null 2>&1 && break
  if ! kill -0 "$dockerd_pid" 2>/dev/null; then
    echo "lab: dockerd exited; last lines of $log:"; tail -n 20 "$log"; exit 1
  fi
  sleep 0.5
done
if ! docker info >/dev/null 2>&1; then
  echo "lab: dockerd did not answer within 60 s; last lines of $log:"; tail -n 20 "$log"; exit 1
fi
/opt/labkit/labkit/scripts/seed-busybox.sh || { echo "lab: could not seed the offline images"; exit 1; }
# A lab always starts clean: containers and networks of an earlier run are removed before the
# starting state is recorded (lessons reset to that state).
left=$(docker ps -aq)
[ -z "$left" ] || { docker rm -f $left >/dev/null; echo "lab: removed $(echo "$left" | wc -l) container(s) left from an earlier run"; }
docker network prune -f >/dev/null
/opt/labkit/labkit/scripts/baseline.sh || { echo "lab: could not record the starting state"; exit 1; }
touch /run/labkit/ready
echo "lab: ready — docker0 is $(ip -4 -o addr show docker0 | awk '{print $4}')"
# Keep the engine in the foreground so the container lives and dies with it.
wait "$dockerd_pid"
echo "lab: dockerd exited with status $?; last lines of $log:"; tail -n 20 "$log"
exit 1
