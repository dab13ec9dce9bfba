#!/usr/bin/env bash
# Make debian:bookworm-slim without a registry: debootstrap a minbase rootfs and `docker import` it.
# Used when `docker pull` cannot reach a registry (CI here). Safe to re-run: does nothing if the image exists.
set -euo pipefail
IMAGE=${1:-debian:bookworm-slim}
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE already present"; exit 0
fi
if timeout 60 docker pull "$IMAGE" >/dev/null 2>&1; then
  echo "pulled $IMAGE"; exit 0
fi
# The machine's own Debian mirror (deb822 or one-line format).
MIRROR=$(grep -hoE '^URIs: *http[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')
[ -n "$MIRROR" ] || MIRROR=$(grep -hoE '^deb +http[^ ]+' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')
MIRROR=${MIRROR:-http://deb.debian.org/debian}
ROOTFS=$(mktemp -d /tmp/bookworm-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
echo "no registry: building $IMAGE with debootstrap from $MIRROR"
debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >/tmp/debootstrap.log 2>&1 || {
  tail -20 /tmp/debootstrap.log; exit 1; }
# Like the official slim image: no apt caches, no docs.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | docker import -c 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "imported $IMAGE"
