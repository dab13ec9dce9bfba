#!/bin/bash
# Run JupyterLab as the learner: with the host user's uid (so edited notebooks keep their
# owner on the host) and in the group of the Docker socket (so labkit can reach the lab).
set -eu
course=/home/learner/course
uid=$(stat -c %u "$course" 2>/dev/null || echo 1000)
if [ "$uid" != 0 ] && [ "$uid" != "$(id -u learner)" ]; then
  usermod -u "$uid" learner >/dev/null 2>&1 || true
fi
run_as=learner
[ "$uid" = 0 ] && run_as=root   # notebooks owned by root (some Docker Desktop setups)
if [ -S /var/run/docker.sock ]; then
  sock_gid=$(stat -c %g /var/run/docker.sock)
  group=$(getent group "$sock_gid" | cut -d: -f1)
  [ -n "$group" ] || { groupadd -g "$sock_gid" dockerhost; group=dockerhost; }
  usermod -aG "$group" learner
  # Some Docker Desktop versions show the socket as root:root 0755, so the group does not
  # help: run as root there rather than touch the socket (its owner is the host's business).
  if ! setpriv --reuid=learner --regid=learner --init-groups test -w /var/run/docker.sock; then
    echo "course: the learner cannot use the Docker socket here; JupyterLab runs as root" >&2
    run_as=root
  fi
else
  echo "course: /var/run/docker.sock is not mounted: labkit cannot reach the lab" >&2
fi
home=$(getent passwd "$run_as" | cut -d: -f6)
chown -R "$(id -u learner)" /home/learner/.local /home/learner/.jupyter 2>/dev/null || true
echo "course: open the URL with the token below (http://127.0.0.1:${JUPYTER_PORT:-8888}/lab?token=...)"
cmd=(jupyter lab --ip=0.0.0.0 --port=8888 --no-browser
     --ServerApp.root_dir="$course" --LabApp.default_url=/lab/tree/00-welcome.ipynb "$@")
[ "$run_as" = root ] && cmd+=(--allow-root)
exec setpriv --reuid="$run_as" --regid="$(id -g "$run_as")" --init-groups \
  env HOME="$home" USER="$run_as" "${cmd[@]}"
