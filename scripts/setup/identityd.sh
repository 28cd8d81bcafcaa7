#!/usr/bin/env bash
# identityd test setup (idempotent): mosquitto_pub for the MQTT connect proofs, from the suite
# the installed libmosquitto1 comes from (bookworm-backports after the emulator's setup).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
command -v mosquitto_pub >/dev/null && exit 0
if dpkg-query -W -f='${Version}' libmosquitto1 2>/dev/null | grep -q bpo; then
  $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mosquitto-clients >/dev/null
else
  $SUDO apt-get install -y -qq --no-install-recommends mosquitto-clients >/dev/null
fi
