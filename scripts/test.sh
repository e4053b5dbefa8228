#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with warnings as
# errors, and runs every test suite under CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build-test} scripts/build.sh -DDEPOSITBOT_WERROR=ON -DDEPOSITBOT_FAILPOINTS=ON
ctest --test-dir "${BUILD_DIR:-build-test}" --output-on-failure -j "$(nproc)"
