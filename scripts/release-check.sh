#!/usr/bin/env bash
# The release configuration, built with warnings as errors so that it cannot rot unseen: the
# build scripts/run.sh ships (scripts/build.sh: RelWithDebInfo, no failpoints). Every other CI
# build compiles the failpoints in, and code under `#ifdef DEPOSITBOT_FAILPOINTS` (or
# only used there) then warns only here. Builds the product (the depositbot binary and its
# libraries) and the suites whose code depends on the failpoints; it runs no tests (CI runs
# them in the failpoint build).
#
# Prints "release-check build=...s result=ok|FAILED" and exits non-zero when the build fails.
# JOBS (default 2) sets build parallelism; RELEASE_BUILD_DIR (default build-release) the tree;
# BUILD_TYPE (default RelWithDebInfo, as scripts/build.sh) the CMake build type.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
dir=${RELEASE_BUILD_DIR:-build-release}
# The suites with `#ifdef DEPOSITBOT_FAILPOINTS` blocks (cli_chat_test, cli_db_test, serve_test).
mapfile -t suites < <(grep -l '^#if.*DEPOSITBOT_FAILPOINTS' tests/*_test.cpp |
                      xargs -n1 basename | sed 's/\.cpp$//')
targets=(depositbot "${suites[@]}")

t0=$(date +%s)
result=ok
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" -DDEPOSITBOT_WERROR=ON \
  -DDEPOSITBOT_FAILPOINTS=OFF -DDEPOSITBOT_BENCH=OFF >/dev/null
cmake --build "$dir" -j "$JOBS" --target "${targets[@]}" || result=FAILED
t1=$(date +%s)
echo "release-check build=$((t1 - t0))s result=$result"
[[ $result == ok ]]
