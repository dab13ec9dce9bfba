#!/bin/bash
# Start the inner Docker engine, seed the offline images, then say the lab is ready.
set -u
log=/var/log/dockerd.log
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
/usr/local/lib/labkit/seed-images.sh || { echo "lab: could not seed the offline images"; exit 1; }
touch /run/labkit-ready
echo "lab: ready — docker0 is $(ip -4 -o addr show docker0 | awk '{print $4}')"
# Keep the engine in the foreground so the container lives and dies with it.
wait "$dockerd_pid"
echo "lab: dockerd exited with status $?; last lines of $log:"; tail -n 20 "$log"
exit 1
