#!/usr/bin/env bash
# Configures and builds into build/; every executable lands in build/bin/.
# Extra CMake arguments pass through, e.g. scripts/build.sh -DSANITIZE=address,undefined
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
