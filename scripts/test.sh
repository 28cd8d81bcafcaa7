#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every test through CTest.
# Extra arguments go to ctest (e.g. scripts/test.sh -L keyd, or -R 'pkcs11').
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
for setup in "$root"/scripts/setup/*.sh; do
  [ -e "$setup" ] && bash "$setup"
done
"$root/scripts/build.sh"
cd "${BUILD_DIR:-$root/build}"
ctest --output-on-failure --timeout 300 -j"$(nproc)" "$@"
