#!/usr/bin/env bash
# Runs the runtime on this machine in a sandbox prefix (default: .demo/ in the checkout):
# installs what is missing, builds, writes configs, starts the daemons that exist so far and
# shows them answering. `scripts/demo.sh stop` stops them; `scripts/demo.sh clean` also
# removes the sandbox. A second run restarts the daemons with the same state.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${EDGE_DEMO_DIR:-$root/.demo}
bin=$root/build/bin

stop_all() {
  for pidfile in "$prefix"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "${1:-start}" in
  stop) stop_all; echo "demo: stopped"; exit 0 ;;
  clean) stop_all; rm -rf "$prefix"; echo "demo: removed $prefix"; exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop|clean]" >&2; exit 2 ;;
esac

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
stop_all
mkdir -p "$prefix"/{etc/aziot/keyd/config.d,var/lib/aziot/keyd,run,log}

cat > "$prefix/etc/aziot/keyd/config.toml" <<CFG
[aziot_keys]
homedir_path = "$prefix/var/lib/aziot/keyd"

[[principal]]
uid = $(id -u)
keys = ["*"]

[endpoints]
aziot_keyd = "unix://$prefix/run/keyd.sock"
CFG

# A small supervisor: restarts a daemon that exits, until `demo.sh stop` (TERM stops both).
supervise() {
  local name=$1; shift
  (
    trap 'kill "$child" 2>/dev/null; exit 0' TERM
    while true; do
      env "$@" "$bin/$name" >>"$prefix/log/$name.log" 2>&1 &
      child=$!
      wait "$child" || true
      sleep 1
    done
  ) </dev/null >/dev/null 2>&1 &
  echo $! >"$prefix/run/$name.pid"
}
supervise aziot-keyd AZIOT_KEYD_CONFIG="$prefix/etc/aziot/keyd/config.toml" \
  AZIOT_KEYD_CONFIG_DIR="$prefix/etc/aziot/keyd/config.d"

for _ in $(seq 100); do [ -S "$prefix/run/keyd.sock" ] && break; sleep 0.1; done
keyd() { curl -sS --unix-socket "$prefix/run/keyd.sock" -H 'Content-Type: application/json' "$@"; echo; }
echo "demo: aziot-keyd is listening on $prefix/run/keyd.sock"
echo "demo: create an EC key pair and sign a digest through it:"
keyd -X POST 'http://keyd/keypair?api-version=2021-05-01' -d '{"keyId":"demo-ca","preferredAlgorithms":"ec-p256"}' | tee "$prefix/run/handle.json"
handle=$(sed -E 's/.*"keyHandle":"([^"]*)".*/\1/' "$prefix/run/handle.json")
digest=$(printf 'hello' | openssl dgst -sha256 -binary | base64)
keyd -X POST 'http://keyd/sign?api-version=2021-05-01' \
  -d "{\"keyHandle\":\"$handle\",\"algorithm\":\"ECDSA\",\"parameters\":{\"digest\":\"$digest\"}}"
echo "demo: logs in $prefix/log/, stop with: scripts/demo.sh stop (or clean)"
