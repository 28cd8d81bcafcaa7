#!/usr/bin/env bash
# Runs the runtime on this machine in a sandbox prefix (default: .demo/ in the checkout):
# installs what is missing, builds, starts dockerd if none answers, writes configs, starts
# keyd and edged (management API) under a small supervisor, builds the edge agent's image and
# runs it with a local deployment manifest (offline mode: no cloud), then shows `iotedge list`.
# `scripts/demo.sh stop` stops everything; `scripts/demo.sh clean` also removes the sandbox.
# A second run restarts the daemons with the same state.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${EDGE_DEMO_DIR:-$root/.demo}
bin=$root/build/bin

demo_containers="edgeAgent SimulatedTemperatureSensor heartbeat"

stop_all() {
  if curl -s --max-time 2 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; then
    for c in $demo_containers; do
      curl -s --unix-socket /var/run/docker.sock -X DELETE "http://localhost/v1.41/containers/$c?force=1" >/dev/null || true
    done
  fi
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
bash "$root/scripts/setup/docker.sh"
"$root/scripts/build.sh"
stop_all
mkdir -p "$prefix"/{etc/aziot/keyd/config.d,etc/aziot/edged/config.d,var/lib/aziot/keyd,var/lib/aziot/edged,run,log}

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

cat > "$prefix/etc/aziot/edged/config.toml" <<CFG
homedir = "$prefix/var/lib/aziot/edged"

[listen]
management_uri = "unix://$prefix/run/mgmt.sock"

[moby_runtime]
uri = "unix:///var/run/docker.sock"
CFG
supervise aziot-edged AZIOT_EDGED_CONFIG="$prefix/etc/aziot/edged/config.toml" \
  AZIOT_EDGED_CONFIG_DIR="$prefix/etc/aziot/edged/config.d"

for _ in $(seq 100); do [ -S "$prefix/run/keyd.sock" ] && [ -S "$prefix/run/mgmt.sock" ] && break; sleep 0.1; done
keyd() { curl -sS --unix-socket "$prefix/run/keyd.sock" -H 'Content-Type: application/json' "$@"; echo; }
echo "demo: aziot-keyd is listening on $prefix/run/keyd.sock"
echo "demo: create an EC key pair and sign a digest through it:"
keyd -X POST 'http://keyd/keypair?api-version=2021-05-01' -d '{"keyId":"demo-ca","preferredAlgorithms":"ec-p256"}' | tee "$prefix/run/handle.json"
handle=$(sed -E 's/.*"keyHandle":"([^"]*)".*/\1/' "$prefix/run/handle.json")
digest=$(printf 'hello' | openssl dgst -sha256 -binary | base64)
keyd -X POST 'http://keyd/sign?api-version=2021-05-01' \
  -d "{\"keyHandle\":\"$handle\",\"algorithm\":\"ECDSA\",\"parameters\":{\"digest\":\"$digest\"}}"

echo "demo: building the edge agent image and deploying a sample manifest (local, offline)"
agent_image=$("$root/scripts/build-agent-image.sh" iotedge-lite/edge-agent:1.5)
cat > "$prefix/run/deployment.json" <<'MANIFEST'
{"modulesContent": {"$edgeAgent": {"properties.desired": {
  "schemaVersion": "1.1",
  "runtime": {"type": "docker", "settings": {}},
  "systemModules": {},
  "modules": {
    "SimulatedTemperatureSensor": {"version": "1.0", "type": "docker", "status": "running",
      "restartPolicy": "always", "imagePullPolicy": "never", "startupOrder": 1,
      "settings": {"image": "edge-test-busybox:1",
        "createOptions": "{\"Cmd\":[\"/bin/sh\",\"-c\",\"trap 'exit 0' TERM; i=0; while true; do i=$((i+1)); echo machine.temperature=$((20 + i % 7)); sleep 2 & wait; done\"]}"},
      "env": {"SendInterval": {"value": "2"}}},
    "heartbeat": {"version": "1.0", "type": "docker", "status": "running",
      "restartPolicy": "on-failure", "imagePullPolicy": "never", "startupOrder": 2,
      "settings": {"image": "edge-test-busybox:1",
        "createOptions": "{\"Cmd\":[\"/bin/sh\",\"-c\",\"trap 'exit 0' TERM; while true; do echo alive; sleep 5 & wait; done\"]}"}}
  }}}}}
MANIFEST
curl -sf --unix-socket /var/run/docker.sock -H 'Content-Type: application/json' -X POST \
  "http://localhost/v1.41/containers/create?name=edgeAgent" -d "{
    \"Image\": \"$agent_image\",
    \"Env\": [\"ConfigSource=local\", \"IOTEDGE_MANAGEMENTURI=unix:///edge/mgmt.sock\", \"LocalConfigPath=/edge/deployment.json\",
            \"StorageFolder=/edge/agent\", \"ReconcileIntervalSecs=2\"],
    \"Labels\": {\"net.azure-devices.edge.owner\": \"Microsoft.Azure.Devices.Edge.Agent\",
                \"net.azure-devices.edge.original-image\": \"$agent_image\"},
    \"HostConfig\": {\"Binds\": [\"$prefix/run:/edge\"]}}" >/dev/null
curl -sf --unix-socket /var/run/docker.sock -X POST http://localhost/v1.41/containers/edgeAgent/start
iotedge="$bin/iotedge -H unix://$prefix/run/mgmt.sock"
for _ in $(seq 60); do
  $iotedge list 2>/dev/null | grep -q '^heartbeat .*running' && break
  sleep 1
done
echo
$iotedge list
echo
echo "demo: the sensor's readings: $bin/iotedge -H unix://$prefix/run/mgmt.sock logs SimulatedTemperatureSensor"
echo "demo: edit $prefix/run/deployment.json and the agent applies it within seconds"
echo "demo: logs in $prefix/log/, stop with: scripts/demo.sh stop (or clean)"
