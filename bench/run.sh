#!/usr/bin/env bash
# Every benchmark figure in one run. First the component benchmarks (each prints its own
# baseline measured in the same run and the ratio), then the runtime as `scripts/demo.sh` runs
# it: the time from starting the daemons to the sample deployment running, and the PSS (from
# /proc/<pid>/smaps_rollup) of every runtime process, idle with the demo deployment, and their
# total. Needs root and dockerd (scripts/setup/docker.sh starts it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build.sh
bash scripts/setup/docker.sh >/dev/null

for b in keyd certd identityd workload edged_modules agent; do
  echo "== bench_$b"
  "build/bench/bench_$b"
  echo
done

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
sleep 10  # idle

pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
total=0
for d in aziot-keyd aziot-certd aziot-identityd aziot-edged; do
  pid=$(pgrep -f "^$root/build/bin/$d\$" | head -1 || true)
  [ -n "$pid" ] || { echo "$d: not running"; continue; }
  kib=$(pss "$pid")
  total=$((total + kib))
  printf '%-18s PSS %6d KiB\n' "$d" "$kib"
done
for c in edgeAgent SimulatedTemperatureSensor heartbeat; do
  pid=$(docker inspect -f '{{.State.Pid}}' "$c" 2>/dev/null || echo 0)
  [ "$pid" != 0 ] || continue
  kib=$(pss "$pid")
  total=$((total + kib))
  printf '%-18s PSS %6d KiB (container)\n' "$c" "$kib"
done
printf 'total              PSS %6d KiB (daemons + agent + the 2 sample modules)\n' "$total"
