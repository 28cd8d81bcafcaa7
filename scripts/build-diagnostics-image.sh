#!/usr/bin/env bash
# Builds the image `iotedge check` runs its container checks in: FROM scratch with the static
# build/bin/iotedge-diagnostics (also installed as /usr/bin/dotnet, so upstream's command line
# `dotnet IotedgeDiagnosticsDotnet.dll <check>` works) and a CA bundle for the HTTPS check.
# Usage: build-diagnostics-image.sh [TAG]   (EXTRA_CA_FILE=pem adds trusted roots, e.g. a test CA)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib/engine-build.sh"
tag=${1:-iotedge-lite/azureiotedge-diagnostics:1.5.0}
binary=${EDGE_DIAGNOSTICS_BINARY:-$root/build/bin/iotedge-diagnostics}
[ -x "$binary" ] || { echo "build-diagnostics-image: $binary not built (run scripts/build.sh)" >&2; exit 1; }
ctx=$(mktemp -d)
chmod 0755 "$ctx"
trap 'rm -rf "$ctx" "$ctx.tar"' EXIT
install -D -m 0755 "$binary" "$ctx/usr/local/bin/iotedge-diagnostics"
strip --strip-all "$ctx/usr/local/bin/iotedge-diagnostics"
mkdir -p "$ctx/usr/bin" "$ctx/etc/ssl/certs" "$ctx/tmp"
ln "$ctx/usr/local/bin/iotedge-diagnostics" "$ctx/usr/bin/dotnet"
chmod 1777 "$ctx/tmp"
bundle=/etc/ssl/certs/ca-certificates.crt
{ [ -r "$bundle" ] && cat "$bundle"; [ -n "${EXTRA_CA_FILE:-}" ] && cat "$EXTRA_CA_FILE"; true; } \
  > "$ctx/etc/ssl/certs/ca-certificates.crt"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY . /
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
ENTRYPOINT []
CMD ["/usr/local/bin/iotedge-diagnostics", "local-time"]
DOCKERFILE
rm "$ctx/Dockerfile.tmp" 2>/dev/null || true
engine_build "$ctx" "$tag" || { echo "build-diagnostics-image: build failed" >&2; exit 1; }
echo "$tag"
