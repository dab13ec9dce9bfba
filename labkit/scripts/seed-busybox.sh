#!/bin/bash
# Make busybox:latest with no registry: a static busybox plus applet links, every file owned
# by root. Used by the lab image (lab/entrypoint.sh) and by the rootless lab, whose engine
# maps only uid/gid 0 and so cannot unpack files owned by anyone else.
# Idempotent: an existing image is kept. LABKIT_BUSYBOX names the static busybox to copy.
set -eu
docker image inspect busybox:latest >/dev/null 2>&1 && exit 0
bb=${LABKIT_BUSYBOX:-/bin/busybox}
if [ ! -x "$bb" ]; then
  echo "lab: no busybox at $bb: install busybox-static (or set LABKIT_BUSYBOX)" >&2; exit 1
fi
if ldd "$bb" >/dev/null 2>&1; then
  echo "lab: $bb is dynamically linked; an image made of it alone would not run: install busybox-static" >&2
  exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp" "$root/var/www"
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
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
