#!/usr/bin/env bash
# The Kubernetes lab's image (k8s/Dockerfile), built while the rest of CI runs: .ci/run starts
# this in the background right after the base image. Its cost is the Go build of v1.20.2 (about
# 500 s of both cores), which needs only the base image; the last stage needs the lab image, so
# that one waits for STATE/images.done (.ci/run writes it once labkit-lab:latest is built).
#
# The build runs at the lowest CPU weight the engine can give it (a cgroup of its own), so the
# tests running meanwhile get the CPU whenever they want it and the build takes what is left.
# `nice` inside the Dockerfile is not enough: the build's container is a cgroup of its own,
# which competes with the tests' processes as a whole, whatever the nice value inside it.
#
# Usage: .ci/k8s-image.sh STATE PARENT_PID. Writes STATE/k8s-build.log, then the build's exit
# status to STATE/k8s-build.rc (tests/conftest.py waits for that file: LABKIT_K8S_BUILD_RC).
set -uo pipefail
cd "$(dirname "$0")/.."
STATE=$1 PARENT=$2
TAG=${LABKIT_K8S_IMAGE:-labkit-k8s:latest}  # the tests' name for it (tests/conftest.py)
export DOCKER_BUILDKIT=0  # the legacy builder: the one that honours --cgroup-parent/--cpu-shares
exec >"$STATE/k8s-build.log" 2>&1
start=$(date +%s)

# A cgroup with the smallest CPU weight, for the build's containers (cgroupfs driver, v1 or v2;
# a systemd driver takes a slice). Anything unexpected: the build runs at --cpu-shares 2 only.
parent_group() {
  local name=labkit-ci-background
  case "$(docker info -f '{{.CgroupDriver}} {{.CgroupVersion}}' 2>/dev/null)" in
    "cgroupfs 1")
      mkdir -p /sys/fs/cgroup/cpu/$name && echo 2 >/sys/fs/cgroup/cpu/$name/cpu.shares \
        && echo "/$name" ;;
    "cgroupfs 2")
      echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
      mkdir -p /sys/fs/cgroup/$name && echo 1 >/sys/fs/cgroup/$name/cpu.weight && echo "/$name" ;;
    systemd*)
      mkdir -p /run/systemd/system \
        && printf '[Slice]\nCPUWeight=1\n' >/run/systemd/system/$name.slice \
        && systemctl daemon-reload && echo "$name.slice" ;;
  esac
}
group=$(parent_group) || group=""
echo "build cgroup parent: ${group:-none: the default one, at --cpu-shares 2}"
opts=(--cpu-shares 2 ${group:+--cgroup-parent "$group"} --build-arg LAB_IMAGE=labkit-lab:latest)

# The status file appears whole (written aside, then renamed: the tests wait for it to exist),
# and always: a TERM from .ci/run, or a slip that ends this script, leaves 1 there too.
finish() {
  echo "$1" >"$STATE/k8s-build.rc.tmp" && mv "$STATE/k8s-build.rc.tmp" "$STATE/k8s-build.rc"
  exit "$1"
}
trap '[ -e "$STATE/k8s-build.rc" ] || finish 1' EXIT
# The build's client runs in the background, so a TERM (.ci/run ending) stops it too: killing the
# client of the legacy builder cancels the build.
build() {
  docker build "$@" &
  builder=$!
  wait "$builder"
}
builder=""
trap '[ -z "$builder" ] || kill "$builder" 2>/dev/null; finish 1' TERM INT
build "${opts[@]}" --target build k8s/ || finish 1
echo "Go build stage done in $(( $(date +%s) - start )) s; waiting for the lab image"
until [ -e "$STATE/images.done" ]; do
  kill -0 "$PARENT" 2>/dev/null || { echo ".ci/run ended before the lab image was built"; finish 1; }
  sleep 2
done
build "${opts[@]}" -t "$TAG" k8s/ || finish 1
docker image inspect -f '{{.Size}}' "$TAG" | awk -v s=$(( $(date +%s) - start )) -v t="$TAG" \
  '{ printf "%s: %d MB, built in %d s (in the background)\n", t, $1 / 1e6, s }'
finish 0
