#!/bin/bash
# Make lab-web:latest with no registry: the articles' web server image (their mr.io/lab-web),
# Debian's nginx in a small root file system built with the image (k8s/Dockerfile, stage web).
# Run by the lab's entrypoint (seed.d) once the engine is up; idempotent.
set -eu
image=lab-web:latest
docker image inspect "$image" >/dev/null 2>&1 && exit 0
docker import -c 'CMD ["nginx", "-g", "daemon off;"]' -c 'EXPOSE 80' -c 'ENV PATH=/usr/sbin:/usr/bin:/bin' \
  -m "Debian's nginx 1.22 made offline by labkit" /usr/local/lib/k8s-lab/lab-web.tar "$image" >/dev/null
echo "lab: made $image offline"
