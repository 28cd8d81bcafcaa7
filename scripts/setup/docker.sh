#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock (starts dockerd when none does)
# and that the busybox test image the container tests use exists. Idempotent.
set -euo pipefail
sock=/var/run/docker.sock
answers() { curl -s --max-time 2 --unix-socket "$sock" http://localhost/_ping 2>/dev/null | grep -q OK; }
if ! answers; then
  if [ "$(id -u)" -ne 0 ]; then echo "setup/docker: dockerd not running and not root" >&2; exit 1; fi
  nohup dockerd >/var/log/edge-dockerd.log 2>&1 &
  for _ in $(seq 60); do answers && break; sleep 0.5; done
  answers || { echo "setup/docker: dockerd did not start; see /var/log/edge-dockerd.log" >&2; exit 1; }
fi
image=edge-test-busybox:1
if ! curl -s --unix-socket "$sock" "http://localhost/v1.41/images/$image/json" | grep -q '"Id"'; then
  ctx=$(mktemp -d)
  cp /bin/busybox "$ctx/busybox"
  cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin
LABEL net.azure-devices.edge.test=busybox
CMD ["/bin/sh", "-c", "echo hello from busybox"]
DOCKERFILE
  tar -C "$ctx" -cf "$ctx/ctx.tar" Dockerfile busybox
  curl -sf --unix-socket "$sock" -X POST -H 'Content-Type: application/x-tar' \
    --data-binary @"$ctx/ctx.tar" "http://localhost/v1.41/build?t=$image&rm=1" >/dev/null
  rm -rf "$ctx"
fi
echo "setup/docker: engine answers, $image present"
