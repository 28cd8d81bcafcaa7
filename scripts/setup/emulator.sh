#!/usr/bin/env bash
# Emulator setup (idempotent): mosquitto 2.0.21 with websockets from bookworm-backports
# (falls back to bookworm's 2.0.11, which has no websockets), and Microsoft's npm SDKs
# into tests/emulator/node/node_modules from the committed package-lock.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

installed() { dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | grep -q "install ok installed${2:+ .*$2}"; }

if ! installed mosquitto bpo || ! installed libmosquitto-dev bpo || ! installed mosquitto-dev bpo; then
  list=/etc/apt/sources.list.d/emulator-backports.list
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee "$list" >/dev/null
  fi
  $SUDO apt-get update -qq || true
  if ! $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports \
      mosquitto mosquitto-dev libmosquitto-dev libmosquitto1 >/dev/null; then
    echo "emulator setup: backports mosquitto unavailable; using bookworm's (no websockets)" >&2
    $SUDO apt-get install -y -qq --no-install-recommends mosquitto mosquitto-dev libmosquitto-dev >/dev/null
  fi
fi
# The Debian package enables a system broker on localhost:1883; the emulator runs its own.

node_dir="$root/tests/emulator/node"
# nodesource's nodejs bundles npm; Debian's does not (and conflicts with nodesource's).
if command -v node >/dev/null && ! command -v npm >/dev/null; then
  $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null || true
fi
if command -v npm >/dev/null; then
  stamp="$node_dir/node_modules/.package-lock.json"
  if [ ! -e "$stamp" ] || [ "$node_dir/package-lock.json" -nt "$stamp" ]; then
    # A failure here must not stop other components' tests: the SDK tests then fail and say why.
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error) ||
      echo "emulator setup: npm ci failed; the emulator SDK tests will fail" >&2
  fi
else
  echo "emulator setup: npm missing; SDK fidelity tests will fail" >&2
fi
