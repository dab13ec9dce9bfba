#!/bin/bash
# Run JupyterLab as the learner, with the host user's uid (so edited notebooks keep their
# owner on the host). Docker is reached through labkit's filter ($DOCKER_HOST), not a socket.
set -eu
course=/home/learner/course
uid=$(stat -c %u "$course" 2>/dev/null || echo 1000)
if [ "$uid" != 0 ] && [ "$uid" != "$(id -u learner)" ]; then
  usermod -u "$uid" learner >/dev/null 2>&1 || true
fi
run_as=learner
[ "$uid" = 0 ] && run_as=root   # notebooks owned by root (some Docker Desktop setups)
# One token for the life of this container: `docker compose restart` keeps the same URL.
if [ -z "${JUPYTER_TOKEN:-}" ]; then
  saved=/var/lib/labkit-course/token
  mkdir -p "${saved%/*}" && chmod 700 "${saved%/*}"
  [ -s "$saved" ] || python3 -c 'import secrets; print(secrets.token_hex(24))' > "$saved"
  JUPYTER_TOKEN=$(cat "$saved")
  export JUPYTER_TOKEN
fi
home=$(getent passwd "$run_as" | cut -d: -f6)
chown -R "$(id -u learner)" /home/learner/.local /home/learner/.jupyter 2>/dev/null || true
echo "course: open http://127.0.0.1:${JUPYTER_PORT:-8888}/lab/tree/00-welcome.ipynb?token=$JUPYTER_TOKEN"
cmd=(jupyter lab --ip=0.0.0.0 --port=8888 --no-browser
     --ServerApp.root_dir="$course" --LabApp.default_url=/lab/tree/00-welcome.ipynb "$@")
[ "$run_as" = root ] && cmd+=(--allow-root)
exec setpriv --reuid="$run_as" --regid="$(id -g "$run_as")" --init-groups \
  env HOME="$home" USER="$run_as" "${cmd[@]}"
