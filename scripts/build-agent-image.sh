#!/usr/bin/env bash
# Builds the edge agent's container image from build/bin/edge-agent: FROM scratch, holding
# only the binary (a static PIE: no shared library; a dynamic build gets the ones it loads) and
# the public root certificates as a hashed directory (the agent reads only the roots that
# anchor a server its trust bundle does not, and only during that handshake; the device's own
# trust bundle comes from the workload API). Usage: build-agent-image.sh [TAG]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib/engine-build.sh"
tag=${1:-iotedge-lite/edge-agent:1.5}
binary=${EDGE_AGENT_BINARY:-$root/build/bin/edge-agent}
[ -x "$binary" ] || { echo "build-agent-image: $binary not built (run scripts/build.sh)" >&2; exit 1; }
ctx=$(mktemp -d)
chmod 0755 "$ctx"
trap 'rm -rf "$ctx"' EXIT
install -D -m 0755 "$binary" "$ctx/usr/local/bin/edge-agent"
strip --strip-all "$ctx/usr/local/bin/edge-agent"
if readelf -l "$binary" | grep -q 'Requesting program interpreter'; then
  for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
    install -D -m 0755 "$(readlink -f "$lib")" "$ctx$lib"
  done
fi
mkdir -p "$ctx/tmp" "$ctx/etc/ssl/certs" && chmod 1777 "$ctx/tmp"
# Host names: the engine's /etc/hosts, then DNS (glibc's built-in lookups, no NSS module).
echo 'hosts: files dns' > "$ctx/etc/nsswitch.conf"
for cert in /etc/ssl/certs/*.[0-9]; do
  [ -e "$cert" ] && install -m 0644 "$(readlink -f "$cert")" "$ctx/etc/ssl/certs/$(basename "$cert")"
done
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY . /
ENV StorageFolder=/tmp SSL_CERT_DIR=/etc/ssl/certs
ENTRYPOINT ["/usr/local/bin/edge-agent"]
DOCKERFILE
engine_build "$ctx" "$tag" || { echo "build-agent-image: build failed" >&2; exit 1; }
echo "$tag"
