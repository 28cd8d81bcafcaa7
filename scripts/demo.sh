#!/usr/bin/env bash
# Runs the runtime on this machine in a sandbox prefix (default: .demo/ in the checkout):
# installs what is missing, builds, starts dockerd if none answers, builds the edge agent's
# image, writes configs, starts keyd, certd, identityd (manual provisioning to an offline hub) and
# edged under a small supervisor; edged creates the edgeAgent container (and keeps it running)
# with a local deployment manifest (offline mode: no cloud), then shows `iotedge list`.
# `scripts/demo.sh stop` stops everything; `scripts/demo.sh clean` also removes the sandbox.
# A second run restarts the daemons with the same state.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${EDGE_DEMO_DIR:-$root/.demo}
bin=$root/build/bin

demo_containers="edgeAgent SimulatedTemperatureSensor heartbeat"

stop_all() {
  # Daemons first (edged stops its modules on SIGTERM and must not re-create the agent), then
  # the demo's containers.
  local pids=""
  for pidfile in "$prefix"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pids="$pids $(cat "$pidfile")"
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
  # Each supervisor exits once its daemon has (edged stops its modules first).
  for pid in $pids; do
    for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -f "$prefix"/run/*.sock
  if curl -s --max-time 2 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; then
    for c in $demo_containers; do
      curl -s --unix-socket /var/run/docker.sock -X DELETE "http://localhost/v1.41/containers/$c?force=1" >/dev/null || true
    done
  fi
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
mkdir -p "$prefix"/{etc/aziot/keyd/config.d,etc/aziot/certd/config.d,var/lib/aziot/certd,etc/aziot/identityd/config.d,etc/aziot/edged/config.d,var/lib/aziot/keyd,var/lib/aziot/identityd,var/lib/aziot/edged,var/secrets,run,log}
# The device key identityd signs with (kept across runs, like a provisioned device).
[ -s "$prefix/var/secrets/device-id" ] || head -c 32 /dev/urandom >"$prefix/var/secrets/device-id"
chmod 0600 "$prefix/var/secrets/device-id"

cat > "$prefix/etc/aziot/keyd/config.toml" <<CFG
[aziot_keys]
homedir_path = "$prefix/var/lib/aziot/keyd"

[[principal]]
uid = $(id -u)
keys = ["*"]

[preloaded_keys]
device-id = "file://$prefix/var/secrets/device-id"

[endpoints]
aziot_keyd = "unix://$prefix/run/keyd.sock"
CFG

# A small supervisor: restarts a daemon that exits, until `demo.sh stop` (TERM stops both,
# the daemon first).
supervise() {
  local name=$1; shift
  (
    trap 'kill "$child" 2>/dev/null; wait "$child"; exit 0' TERM
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

# certd: the quickstart Edge CA (self-signed) that edged makes sure of at start-up.
cat > "$prefix/etc/aziot/certd/config.toml" <<CFG
homedir_path = "$prefix/var/lib/aziot/certd"

[cert_issuance]
aziot-edged-ca = { method = "self_signed", expiry_days = 90 }

[preloaded_certs]
aziot-edged-trust-bundle = ["aziot-edged-ca"]

[[principal]]
uid = $(id -u)
certs = ["*"]

[endpoints]
aziot_certd = "unix://$prefix/run/certd.sock"
aziot_keyd = "unix://$prefix/run/keyd.sock"
CFG
supervise aziot-certd AZIOT_CERTD_CONFIG="$prefix/etc/aziot/certd/config.toml" \
  AZIOT_CERTD_CONFIG_DIR="$prefix/etc/aziot/certd/config.d"

for _ in $(seq 100); do [ -S "$prefix/run/keyd.sock" ] && [ -S "$prefix/run/certd.sock" ] && break; sleep 0.1; done
keyd() { curl -sS --unix-socket "$prefix/run/keyd.sock" -H 'Content-Type: application/json' "$@"; echo; }
echo "demo: aziot-keyd is listening on $prefix/run/keyd.sock"
echo "demo: create an EC key pair and sign a digest through it:"
keyd -X POST 'http://keyd/keypair?api-version=2021-05-01' -d '{"keyId":"demo-ca","preferredAlgorithms":"ec-p256"}' | tee "$prefix/run/handle.json"
handle=$(sed -E 's/.*"keyHandle":"([^"]*)".*/\1/' "$prefix/run/handle.json")
digest=$(printf 'hello' | openssl dgst -sha256 -binary | base64)
keyd -X POST 'http://keyd/sign?api-version=2021-05-01' \
  -d "{\"keyHandle\":\"$handle\",\"algorithm\":\"ECDSA\",\"parameters\":{\"digest\":\"$digest\"}}"

echo "demo: building the edge agent image; edged starts it with a sample manifest (local, offline)"
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
# identityd: manual provisioning to a hub address nothing listens on (offline): the device
# identity comes from the config; hub calls fail fast and edged starts the agent anyway.
extra_principal=""
[ "$(id -u)" -eq 0 ] || extra_principal=$(printf '[[principal]]\nuid = %s\nname = "aziot-edge"\n' "$(id -u)")
cat > "$prefix/etc/aziot/identityd/config.toml" <<CFG
hostname = "demo-device"
homedir = "$prefix/var/lib/aziot/identityd"

[provisioning]
source = "manual"
iothub_hostname = "127.255.255.254"
device_id = "demo-device"

[provisioning.authentication]
method = "sas"
device_id_pk = "device-id"

$extra_principal
[endpoints]
aziot_identityd = "unix://$prefix/run/identityd.sock"
aziot_keyd = "unix://$prefix/run/keyd.sock"
aziot_certd = "unix://$prefix/run/certd.sock"
CFG
supervise aziot-identityd AZIOT_IDENTITYD_CONFIG="$prefix/etc/aziot/identityd/config.toml" \
  AZIOT_IDENTITYD_CONFIG_DIR="$prefix/etc/aziot/identityd/config.d"

# edged: the agent container is edged's (created, watched and re-created by its watchdog).
cat > "$prefix/etc/aziot/edged/config.toml" <<CFG
hostname = "demo-device"
homedir = "$prefix/var/lib/aziot/edged"

[agent]
name = "edgeAgent"
type = "docker"
imagePullPolicy = "never"

[agent.config]
image = "$agent_image"
createOptions = { HostConfig = { Binds = ["$prefix/run:/edge"] } }

[agent.env]
ConfigSource = "local"
LocalConfigPath = "/edge/deployment.json"
StorageFolder = "/edge/agent"
ReconcileIntervalSecs = "2"

[connect]
management_uri = "unix://$prefix/run/mgmt.sock"
workload_uri = "unix://$prefix/run/workload.sock"

[listen]
management_uri = "unix://$prefix/run/mgmt.sock"
workload_uri = "unix://$prefix/run/workload.sock"

[endpoints]
aziot_identityd_url = "unix://$prefix/run/identityd.sock"
aziot_keyd_url = "unix://$prefix/run/keyd.sock"
aziot_certd_url = "unix://$prefix/run/certd.sock"

[moby_runtime]
uri = "unix:///var/run/docker.sock"
network = "azure-iot-edge"
CFG
supervise aziot-edged AZIOT_EDGED_CONFIG="$prefix/etc/aziot/edged/config.toml" \
  AZIOT_EDGED_CONFIG_DIR="$prefix/etc/aziot/edged/config.d"
for _ in $(seq 100); do [ -S "$prefix/run/mgmt.sock" ] && break; sleep 0.1; done
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
