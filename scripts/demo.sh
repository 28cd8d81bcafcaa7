#!/usr/bin/env bash
# Runs the runtime on this machine in a sandbox prefix (default: .demo/ in the checkout):
# installs what is missing, builds, starts dockerd if none answers, builds the edge agent's
# image, writes configs and starts keyd, certd, identityd and edged under a small supervisor
# that restarts them; edged creates the edgeAgent container, which deploys two sample modules.
#
#   scripts/demo.sh            the hub emulator is the cloud (started here, under the
#                              supervisor): the device provisions through DPS with a symmetric
#                              key, the deployment is pushed to the emulated hub through its
#                              service API (as `az iot edge set-modules`), the agent reads it
#                              from its twin; ends with `iotedge list` and `iotedge check`
#   scripts/demo.sh --offline  no cloud at all: manual provisioning to a hub nobody serves, the
#                              agent reads a local manifest
#   scripts/demo.sh stop       stops everything; `clean` also removes the sandbox
# A second run restarts the daemons with the same state (same device, same deployment).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${EDGE_DEMO_DIR:-$root/.demo}
bin=$root/build/bin

demo_containers="edgeAgent SimulatedTemperatureSensor heartbeat"
network=azure-iot-edge
device=demo-device
# edged removes, at start-up, containers of a previous run; the scope keeps it to the demo's.
scope="iotedge-lite.demo=$(printf '%s' "$prefix" | md5sum | cut -c1-12)"

docker_api() { curl -s --max-time 10 --unix-socket /var/run/docker.sock "$@"; }

stop_all() {
  # Daemons first (edged stops its modules on SIGTERM and must not re-create the agent), the
  # emulator last, then the demo's containers.
  local pids="" name
  for name in aziot-edged aziot-identityd aziot-certd aziot-keyd iothub-emulator; do
    local pidfile=$prefix/run/$name.pid
    [ -e "$pidfile" ] || continue
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    # Each supervisor exits once its daemon has (edged stops its modules first).
    for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -f "$prefix"/run/*.sock "$prefix"/run/aziot/*.sock "$prefix"/run/iotedge/*.sock
  if docker_api http://localhost/_ping >/dev/null 2>&1; then
    for c in $demo_containers; do
      docker_api -X DELETE "http://localhost/v1.41/containers/$c?force=1" >/dev/null || true
    done
  fi
}

offline=0
command=start
for arg in "$@"; do
  case "$arg" in
    --offline) offline=1 ;;
    start|stop|clean) command=$arg ;;
    *) echo "usage: $0 [--offline] [start|stop|clean]" >&2; exit 2 ;;
  esac
done
case "$command" in
  stop) stop_all; echo "demo: stopped"; exit 0 ;;
  clean)
    stop_all
    rm -rf "$prefix"
    # The module network, unless something else still uses it.
    docker network rm "$network" >/dev/null 2>&1 || true
    echo "demo: removed $prefix"
    exit 0 ;;
esac

if [ "$offline" = 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "demo: the hub emulator listens on ports 443 and 8883, which needs root:" >&2
  echo "      run 'sudo $0', or '$0 --offline' (no cloud)" >&2
  exit 1
fi

"$root/scripts/install-deps.sh"
bash "$root/scripts/setup/docker.sh"
[ "$offline" = 1 ] || bash "$root/scripts/setup/emulator.sh"
"$root/scripts/build.sh"
stop_all

# A change of mode is a different device: start its identity and modules from scratch (a
# sandbox of an older demo.sh, without a mode file, too: its configs had another layout).
mode=$([ "$offline" = 1 ] && echo offline || echo emulator)
if [ -d "$prefix" ] && [ "$(cat "$prefix/mode" 2>/dev/null)" != "$mode" ]; then
  rm -rf "$prefix/var/lib/aziot/identityd" "$prefix/var/lib/aziot/edged" "$prefix/etc" "$prefix/run"
fi
mkdir -p "$prefix"/{etc/aziot/keyd/config.d,etc/aziot/certd/config.d,etc/aziot/identityd/config.d,etc/aziot/tpmd/config.d,etc/aziot/edged/config.d} \
  "$prefix"/{var/lib/aziot/keyd,var/lib/aziot/certd,var/lib/aziot/identityd,var/lib/aziot/edged,var/secrets/aziot/keyd,run/aziot,run/iotedge,log}
echo "$mode" >"$prefix/mode"
# Phase times for bench/run.sh (NAME=epoch seconds).
rm -f "$prefix/run/timings"
stamp() { echo "$1=$(date +%s.%N)" >>"$prefix/run/timings"; }
answers() { curl -s -o /dev/null --max-time 2 --unix-socket "$1" http://localhost/; }

# A small supervisor: restarts a program that exits, until `demo.sh stop` (TERM stops both,
# the program first).
supervise() {
  local name=$1; shift
  (
    trap 'kill "$child" 2>/dev/null; wait "$child"; exit 0' TERM
    while true; do
      env "$@" >>"$prefix/log/$name.log" 2>&1 &
      child=$!
      wait "$child" || true
      sleep 1
    done
  ) </dev/null >/dev/null 2>&1 &
  echo $! >"$prefix/run/$name.pid"
}
daemon() {  # daemon NAME VAR SHORT [ENV...]: a daemon reading its sandbox config
  local name=$1 var=$2 short=$3; shift 3
  supervise "$name" AZIOT_${var}_CONFIG="$prefix/etc/aziot/$short/config.toml" \
    AZIOT_${var}_CONFIG_DIR="$prefix/etc/aziot/$short/config.d" "$@" "$bin/$name"
}
wait_socket() {
  for _ in $(seq 150); do [ -S "$1" ] && return 0; sleep 0.1; done
  echo "demo: $1 did not appear; see $prefix/log/" >&2
  exit 1
}

# The sample deployment: a simulated temperature sensor and a heartbeat (busybox, no pulls).
manifest() {
  cat <<'MANIFEST'
{"modulesContent": {
 "$edgeAgent": {"properties.desired": {
  "schemaVersion": "1.1",
  "runtime": {"type": "docker", "settings": {"minDockerVersion": "v1.25"}},
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
  }}},
 "$edgeHub": {"properties.desired": {"schemaVersion": "1.1", "routes": {}}}}}
MANIFEST
}
json_field() { grep -o "\"$1\": *\"[^\"]*\"" "$2" | sed -E 's/.*: *"([^"]*)"/\1/'; }
secret() {  # a 32-byte base64 key kept across runs (the device's, or the enrollment's)
  [ -s "$1" ] || head -c 32 /dev/urandom | base64 >"$1"
  chmod 0600 "$1"
  cat "$1"
}
# A SAS token signed with a base64 key (IoT Hub's scheme: HMAC-SHA256 over "sr\nse").
sas_token() {  # RESOURCE KEY POLICY
  local se=$(($(date +%s) + 3600)) hexkey sig
  hexkey=$(printf '%s' "$2" | base64 -d | od -An -v -tx1 | tr -d ' \n')
  sig=$(printf '%s\n%s' "$1" "$se" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64)
  sig=$(printf '%s' "$sig" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
  printf 'SharedAccessSignature sr=%s&sig=%s&se=%s&skn=%s' "$1" "$sig" "$se" "$3"
}

echo "demo: building the edge agent image"
agent_image=$("$root/scripts/build-agent-image.sh" iotedge-lite/edge-agent:1.5)
version=$("$bin/iotedge" version | awk '{print $2}')
mkdir -p "$prefix/var/lib/aziot/edged/agent-storage" "$prefix/deployment"

if [ "$offline" = 1 ]; then
  # Manual provisioning to a hub address nothing listens on: the identity comes from the
  # config; hub calls fail fast and edged starts the agent anyway, which reads a local file.
  manifest >"$prefix/deployment/deployment.json"
  provisioning="[provisioning]
source = \"manual\"
connection_string = \"HostName=127.255.255.254;DeviceId=$device;SharedAccessKey=$(secret "$prefix/var/secrets/device-key")\""
  trust=""
  agent_env='ConfigSource = "local"
LocalConfigPath = "/deployment/deployment.json"'
else
  # The hub emulator as the cloud. It listens on the gateway address of the module network:
  # the host's daemons reach it there, and so do the agent and the modules in their containers
  # (a loopback address is unreachable from a container's own network namespace).
  docker network inspect "$network" >/dev/null 2>&1 || docker network create "$network" >/dev/null
  hub=$(docker network inspect -f '{{(index .IPAM.Config 0).Gateway}}' "$network")
  [ -n "$hub" ] || { echo "demo: network $network has no gateway address" >&2; exit 1; }
  state=$prefix/var/lib/iothub-emulator
  rm -f "$state/info.json"
  supervise iothub-emulator "$bin/iothub-emulator" --state-dir "$state" --hostname "$hub" --bind "$hub"
  for _ in $(seq 300); do [ -s "$state/info.json" ] && break; sleep 0.1; done
  [ -s "$state/info.json" ] || { echo "demo: the hub emulator did not start; see $prefix/log/iothub-emulator.log" >&2; exit 1; }
  echo "demo: hub + DPS emulator at https://$hub (MQTT $hub:8883), CA $state/ca.pem"
  hubapi() { curl -sS --fail-with-body --cacert "$state/ca.pem" -H 'Content-Type: application/json' "$@"; }
  # A DPS individual enrollment with a symmetric key (an edge device).
  enrollment_key=$(secret "$prefix/var/secrets/enrollment-key")
  hubapi "https://$hub/admin/enrollments" \
    -d "{\"registrationId\":\"$device\",\"type\":\"symmetricKey\",\"primaryKey\":\"$enrollment_key\",\"iotEdge\":true}" >/dev/null
  echo "demo: DPS enrollment '$device' (symmetric key) in ID scope $(json_field idScope "$state/info.json")"
  provisioning="[provisioning]
source = \"dps\"
global_endpoint = \"https://$hub/\"
id_scope = \"$(json_field idScope "$state/info.json")\"

[provisioning.attestation]
method = \"symmetric_key\"
registration_id = \"$device\"
symmetric_key = { value = \"$enrollment_key\" }"
  trust="trust_bundle_cert = \"file://$state/ca.pem\""
  agent_env=""
fi

# The device's super-config, turned into every daemon's config by `iotedge config apply`
# (a preview into the sandbox; no systemd, no service users needed), plus a drop-in per daemon
# with the sandbox's state directories and sockets.
cat >"$prefix/etc/aziot/config.toml" <<CFG
$trust

$provisioning

[agent]
name = "edgeAgent"
type = "docker"
imagePullPolicy = "never"

[agent.config]
image = "$agent_image"
createOptions = { HostConfig = { Binds = ["$prefix/var/lib/aziot/edged/agent-storage:/iotedge", "$prefix/deployment:/deployment:ro"] } }

[agent.env]
UpstreamProtocol = "Mqtt"
StorageFolder = "/iotedge"
ReconcileIntervalSecs = "2"
$agent_env

[connect]
workload_uri = "unix://$prefix/run/iotedge/workload.sock"
management_uri = "unix://$prefix/run/iotedge/mgmt.sock"

[listen]
workload_uri = "unix://$prefix/run/iotedge/workload.sock"
management_uri = "unix://$prefix/run/iotedge/mgmt.sock"

[moby_runtime]
uri = "unix:///var/run/docker.sock"
network = "$network"
CFG
chmod 0600 "$prefix/etc/aziot/config.toml"
touch -d '-1 second' "$prefix/etc/aziot/config.toml"
# Root runs every daemon here; the principals of absent service users become root's (which
# every daemon authorizes anyway).
uid_of() { id -u "$1" 2>/dev/null || id -u; }
rm -rf "$prefix/run/apply"
stamp apply
env EDGE_CLI_UID_AZIOTKS="$(uid_of aziotks)" EDGE_CLI_UID_AZIOTCS="$(uid_of aziotcs)" \
  EDGE_CLI_UID_AZIOTID="$(uid_of aziotid)" EDGE_CLI_UID_AZIOTTPM="$(uid_of aziottpm)" \
  EDGE_CLI_UID_IOTEDGE="$(uid_of iotedge)" \
  "$bin/iotedge" config apply -c "$prefix/etc/aziot/config.toml" --output-dir "$prefix/run/apply" >/dev/null
for d in keyd certd identityd tpmd edged; do
  install -m 0600 "$prefix/run/apply/$d.toml" "$prefix/etc/aziot/$d/config.d/00-super.toml"
done
install -m 0600 "$prefix/run/apply/device-id" "$prefix/var/secrets/aziot/keyd/device-id"
rm -rf "$prefix/run/apply"
run=$prefix/run
cat >"$prefix/etc/aziot/keyd/config.d/50-demo.toml" <<CFG
[aziot_keys]
homedir_path = "$prefix/var/lib/aziot/keyd"

[preloaded_keys]
device-id = "file://$prefix/var/secrets/aziot/keyd/device-id"

[endpoints]
aziot_keyd = "unix://$run/aziot/keyd.sock"
CFG
cat >"$prefix/etc/aziot/certd/config.d/50-demo.toml" <<CFG
homedir_path = "$prefix/var/lib/aziot/certd"

[endpoints]
aziot_certd = "unix://$run/aziot/certd.sock"
aziot_keyd = "unix://$run/aziot/keyd.sock"
CFG
cat >"$prefix/etc/aziot/identityd/config.d/50-demo.toml" <<CFG
homedir = "$prefix/var/lib/aziot/identityd"

[endpoints]
aziot_identityd = "unix://$run/aziot/identityd.sock"
aziot_keyd = "unix://$run/aziot/keyd.sock"
aziot_certd = "unix://$run/aziot/certd.sock"
CFG
cat >"$prefix/etc/aziot/edged/config.d/50-demo.toml" <<CFG
homedir = "$prefix/var/lib/aziot/edged"

[endpoints]
aziot_identityd_url = "unix://$run/aziot/identityd.sock"
aziot_keyd_url = "unix://$run/aziot/keyd.sock"
aziot_certd_url = "unix://$run/aziot/certd.sock"
CFG

stamp daemons
daemon aziot-keyd KEYD keyd
daemon aziot-certd CERTD certd
wait_socket "$run/aziot/keyd.sock"
wait_socket "$run/aziot/certd.sock"
if [ "$offline" = 1 ]; then
  daemon aziot-identityd IDENTITYD identityd
else
  # identityd trusts the emulator's CA for DPS and the hub (a real device: the public roots).
  daemon aziot-identityd IDENTITYD identityd SSL_CERT_FILE="$state/ca.pem"
fi
wait_socket "$run/aziot/identityd.sock"
daemon aziot-edged EDGED edged AZIOT_EDGED_SCOPE_LABEL="$scope"
wait_socket "$run/iotedge/mgmt.sock"
for _ in $(seq 100); do
  all=1
  for sock in aziot/keyd aziot/certd aziot/identityd iotedge/mgmt iotedge/workload; do
    answers "$run/$sock.sock" || { all=0; break; }
  done
  [ "$all" = 1 ] && break
  sleep 0.1
done
stamp sockets
echo "demo: keyd, certd, identityd and edged are running (sockets in $run)"

if [ "$offline" = 0 ]; then
  # Provisioned through DPS: the device exists in the hub once identityd has registered.
  for _ in $(seq 300); do
    hubapi "https://$hub/admin/devices/$device" >/dev/null 2>&1 && break
    sleep 0.2
  done
  hubapi "https://$hub/admin/devices/$device" >/dev/null ||
    { echo "demo: the device did not provision; see $prefix/log/aziot-identityd.log" >&2; exit 1; }
  echo "demo: '$device' provisioned through DPS to hub $hub"
  # The deployment, through the hub's service API as `az iot edge set-modules` sends it.
  service_key=$(json_field serviceConnectionString "$state/info.json" | sed -E 's/.*SharedAccessKey=//')
  # (The token goes through a 0600 file, not the command line other users can read.)
  (umask 077; echo "Authorization: $(sas_token "$hub" "$service_key" iothubowner)" >"$run/service-auth")
  manifest | hubapi -X POST "https://$hub/devices/$device/applyConfigurationContent?api-version=2020-09-30" \
    -H "@$run/service-auth" -d @- >/dev/null
  rm -f "$run/service-auth"
  echo "demo: deployment with 2 modules pushed to the hub; the agent reads it from its twin"
fi

iotedge="$bin/iotedge -H unix://$run/iotedge/mgmt.sock"
agent_seen=0
for _ in $(seq 600); do
  listing=$($iotedge list 2>/dev/null || true)
  if [ "$agent_seen" = 0 ] && grep -q '^edgeAgent .*running' <<<"$listing"; then
    stamp agent
    agent_seen=1
  fi
  grep -q '^heartbeat .*running' <<<"$listing" && break
  sleep 0.2
done
stamp modules
echo
$iotedge list
if [ "$offline" = 0 ]; then
  echo
  # The container checks run in our diagnostics image; it trusts the emulator's CA.
  EXTRA_CA_FILE="$state/ca.pem" "$root/scripts/build-diagnostics-image.sh" \
    "iotedge-lite/azureiotedge-diagnostics:$version" >/dev/null
  check_cmd="EDGE_CLI_ROOT=$prefix SSL_CERT_FILE=$state/ca.pem $bin/iotedge check --iothub-hostname $hub \
--aziot-edged $bin/aziot-edged --expected-aziot-version $version --expected-aziot-edged-version $version \
--dont-run host-local-time host-connect-iothub-amqp check-agent-image edge-hub-storage-mounted-from-host"
  echo "demo: $check_cmd"
  echo "demo: (versions are given so that check does not ask aka.ms; left out: host-local-time (asks"
  echo "demo:  pool.ntp.org), host-connect-iothub-amqp (the emulator has no AMQP; the agent uses MQTT),"
  echo "demo:  check-agent-image (the agent image is built here, not pulled), edge-hub-storage-mounted-"
  echo "demo:  from-host (no edgeHub module yet); the AMQP and HTTPS container checks are skipped"
  echo "demo:  because the agent's UpstreamProtocol is Mqtt; DNS and log rotation warn when dockerd"
  echo "demo:  has no /etc/docker/daemon.json with \"dns\" and \"log-opts\" (production advice))"
  env EDGE_CLI_ROOT="$prefix" SSL_CERT_FILE="$state/ca.pem" "$bin/iotedge" check --iothub-hostname "$hub" \
    --aziot-edged "$bin/aziot-edged" --expected-aziot-version "$version" --expected-aziot-edged-version "$version" \
    --dont-run host-local-time host-connect-iothub-amqp check-agent-image edge-hub-storage-mounted-from-host ||
    echo "demo: iotedge check found errors (above)"
fi
echo
echo "demo: the sensor's readings: $iotedge logs SimulatedTemperatureSensor"
if [ "$offline" = 1 ]; then
  echo "demo: edit $prefix/deployment/deployment.json and the agent applies it within seconds"
else
  echo "demo: the agent's reported state: curl --cacert $state/ca.pem https://$hub/admin/twins/$device/modules/%24edgeAgent"
fi
echo "demo: logs in $prefix/log/, stop with: scripts/demo.sh stop (or clean)"
