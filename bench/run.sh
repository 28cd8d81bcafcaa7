#!/usr/bin/env bash
# Every benchmark figure in one run. First the component benchmarks (each prints its own
# baseline measured in the same run and the ratio), then the runtime as `scripts/demo.sh` runs
# it: phase times (config apply -> agent running, daemons started -> every socket answering),
# and the PSS (from /proc/<pid>/smaps_rollup) of every runtime process and their total, idle
# with the demo deployment and under a load on every daemon's API. `--runtime` runs only the
# runtime part. Needs root and dockerd (scripts/setup/docker.sh starts it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build.sh
bash scripts/setup/docker.sh >/dev/null

# --runtime: only the runtime part (the demo's phase times and PSS).
if [ "${1:-}" != "--runtime" ]; then
  for b in keyd certd identityd workload edged_modules agent; do
    echo "== bench_$b"
    "build/bench/bench_$b"
    echo
  done
fi

echo "== the runtime as the demo runs it"
prefix=$(mktemp -d)
log=$(mktemp)
trap 'EDGE_DEMO_DIR=$prefix scripts/demo.sh clean >/dev/null 2>&1 || true; rm -f "$log"' EXIT
start=$(date +%s.%N)
EDGE_DEMO_DIR=$prefix scripts/demo.sh >"$log" 2>&1 || { cat "$log"; exit 1; }
ready=$(date +%s.%N)
# demo.sh builds (a no-op here), starts keyd, certd, identityd and edged, lets edged start the
# agent, and waits until both sample modules run.
awk -v a="$start" -v b="$ready" 'BEGIN { printf "demo.sh end to end (deps check, no-op build, daemons, agent, 2 modules running): %.1f s\n", b - a }'
# Phase times stamped by demo.sh (NAME=epoch seconds).
t() { sed -n "s/^$1=//p" "$prefix/run/timings"; }
span() { awk -v a="$(t "$1")" -v b="$(t "$2")" 'BEGIN { printf "%.2f", b - a }'; }
echo "config apply -> agent running:                      $(span apply agent) s"
echo "daemons started -> all 5 sockets answering:         $(span daemons sockets) s"
echo "daemons started -> agent running:                   $(span daemons agent) s"
echo "daemons started -> both sample modules running:     $(span daemons modules) s"
echo "(the agent image is cached; in the default mode the device first provisions through DPS)"
# Baseline in the same run: the engine alone starting one container (docker run -d returns once
# it runs), the floor under "daemons started -> agent running".
b0=$(date +%s.%N)
docker run -d --name "bench-floor-$$" edge-test-busybox:1 sleep 60 >/dev/null
b1=$(date +%s.%N)
docker rm -f "bench-floor-$$" >/dev/null
awk -v a="$b0" -v b="$b1" -v r="$(span daemons agent)" 'BEGIN {
  printf "baseline: docker run -d of one busybox container:  %.2f s (daemons started -> agent running is %.1fx)\n", b - a, r / (b - a) }'

run=$prefix/run
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
# Prints every runtime process's PSS and the total, as "<label>".
report() {
  local total=0 pid kib
  echo "-- PSS, $1"
  for d in aziot-keyd aziot-certd aziot-identityd aziot-edged; do
    pid=$(pgrep -f "^$root/build/bin/$d\$" | head -1 || true)
    [ -n "$pid" ] || { echo "$d: not running"; continue; }
    kib=$(pss "$pid")
    total=$((total + kib))
    printf '%-26s %6d KiB\n' "$d" "$kib"
  done
  for c in edgeAgent SimulatedTemperatureSensor heartbeat; do
    pid=$(docker inspect -f '{{.State.Pid}}' "$c" 2>/dev/null || echo 0)
    [ "$pid" != 0 ] || continue
    kib=$(pss "$pid")
    total=$((total + kib))
    printf '%-26s %6d KiB (container)\n' "$c" "$kib"
  done
  printf '%-26s %6d KiB (daemons + agent + the 2 sample modules)\n' total "$total"
}

sleep 10
report "idle with the demo deployment"

# Load: for 10 s, keep-alive request streams on every daemon's API at once (key sign, device
# identity, Edge CA cert, module list, trust bundle), 200 requests per curl.
handle=$(curl -s --unix-socket "$run/aziot/keyd.sock" "http://localhost/key/device-id?api-version=2021-05-01" |
  sed -E 's/.*"keyHandle":"([^"]*)".*/\1/')
sign_body="{\"keyHandle\":\"$handle\",\"algorithm\":\"HMAC-SHA256\",\"parameters\":{\"message\":\"aGVsbG8=\"}}"
stream() {  # stream SOCKET URL [curl args]: repeats until the deadline; prints the request count
  local sock=$1 url=$2; shift 2
  local n=0 urls=()
  for _ in $(seq 200); do urls+=("$url"); done
  while [ "$(date +%s)" -lt "$deadline" ]; do
    curl -s --unix-socket "$sock" "$@" "${urls[@]}" >/dev/null && n=$((n + 200))
  done
  echo "$n"
}
deadline=$(($(date +%s) + 10))
counts=$(mktemp -d)
stream "$run/aziot/keyd.sock" "http://localhost/sign?api-version=2021-05-01" \
  -X POST -H 'Content-Type: application/json' -d "$sign_body" >"$counts/keyd" &
stream "$run/aziot/identityd.sock" "http://localhost/identities/identity?api-version=2020-09-01" >"$counts/identityd" &
stream "$run/aziot/certd.sock" "http://localhost/certificates/aziot-edged-ca?api-version=2020-09-01" >"$counts/certd" &
stream "$run/iotedge/mgmt.sock" "http://localhost/modules?api-version=2022-08-03" >"$counts/mgmt" &
stream "$run/iotedge/workload.sock" "http://localhost/trust-bundle?api-version=2019-01-30" >"$counts/workload" &
sleep 6
report "under load (keyd sign, identityd identity, certd cert, edged module list and trust bundle at once)"
echo "(the curl clients map the same libraries, so shared pages are split among more processes)"
wait
for f in keyd identityd certd mgmt workload; do
  awk -v n="$(cat "$counts/$f")" -v f="$f" 'BEGIN { printf "%-10s %7.0f req/s\n", f, n / 10 }'
done
rm -rf "$counts"
