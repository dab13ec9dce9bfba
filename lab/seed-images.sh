#!/bin/bash
# Make busybox:latest inside the lab with no registry: Debian's static busybox plus applet links.
# Idempotent: an existing image is kept (the inner engine's storage is a volume).
set -eu
docker image inspect busybox:latest >/dev/null 2>&1 && exit 0
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp" "$root/var/www"
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  # Debian's busybox-static wget segfaults: leave it out so "not found" is the honest answer.
  [ "$applet" = wget ] && continue
  [ "$applet" = busybox ] && continue
  ln -s busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
chmod 1777 "$root/tmp"
tar --owner=0 --group=0 -C "$root" -c . \
  | docker import -c 'CMD ["sh"]' -c 'ENV PATH=/bin' -m 'busybox made offline by labkit' - busybox:latest >/dev/null
echo "lab: made busybox:latest offline"
