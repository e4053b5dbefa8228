#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang + ASan/UBSan) into build-fuzz and runs each
# over its seed corpus (tests/fuzz/corpus/NAME).
#
#   scripts/fuzz.sh                  CI smoke: each target for a fixed number of executions
#   scripts/fuzz.sh --runs N         ... N executions per target (default 20000)
#   scripts/fuzz.sh --long SECONDS   each target for SECONDS (long runs; new inputs go to
#                                    build-fuzz/corpus/NAME, the repository corpus is read only)
#   scripts/fuzz.sh ... NAME...      only these targets
#
# Prints one line per target: "fuzz[NAME] runs=... execs_per_sec=... corpus=... result=ok".
# Exits non-zero when a target crashes, leaks or breaks a property; the input is saved as
# build-fuzz/artifacts/NAME/crash-* - copy it to tests/fuzz/corpus/NAME/ so that
# fuzz_regression_test keeps it fixed. BUILD_DIR and JOBS override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-2}
runs=20000
seconds=0
targets=()
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --long) seconds=$2; shift 2 ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done

CXX_BIN=${CXX:-}
if [[ -z "$CXX_BIN" || "$CXX_BIN" != *clang* ]]; then
  CXX_BIN=$(command -v clang++ || command -v clang++-14 || true)
fi
if [[ -z "$CXX_BIN" ]]; then
  echo "fuzz.sh: clang++ not found (scripts/install-deps.sh installs clang and libclang-rt-14-dev)" >&2
  exit 2
fi

cmake -S . -B "$BUILD_DIR" -DCMAKE_CXX_COMPILER="$CXX_BIN" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDEPOSITBOT_FUZZ=ON -DDEPOSITBOT_SANITIZE=ON -DDEPOSITBOT_TESTS=OFF -DDEPOSITBOT_BENCH=OFF \
  -DDEPOSITBOT_SKIP_LAYERS="app" >/dev/null
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(sed -n '/^set(DEPOSITBOT_FUZZ_TARGETS/,/^)/p' tests/fuzz/fuzz.cmake |
                         sed -e '1d' -e '$d' -e 's/#.*//' | awk 'NF {print $1}')
fi
build_targets=()
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
cmake --build "$BUILD_DIR" -j "$JOBS" --target "${build_targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for t in "${targets[@]}"; do
  bin="$BUILD_DIR/tests/fuzz/fuzz_$t"
  seeds="$ROOT/tests/fuzz/corpus/$t"
  work="$BUILD_DIR/corpus/$t"
  artifacts="$BUILD_DIR/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  limit=(-runs="$runs")
  ((seconds > 0)) && limit=(-max_total_time="$seconds")
  log="$BUILD_DIR/fuzz_$t.log"
  start=$(date +%s)
  # The first corpus directory receives new inputs; the repository's seeds are only read.
  if "$bin" "${limit[@]}" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$artifacts/" "$work" "$seeds" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    failed=1
  fi
  end=$(date +%s)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(find "$work" -type f | wc -l)
  echo "fuzz[$t] runs=${execs:-?} execs_per_sec=${speed:-?} seconds=$((end - start)) corpus=$corpus result=$result"
  if [[ $result != ok ]]; then
    grep -E "ERROR|runtime error|SUMMARY|==[0-9]+==|Test unit written|^#[0-9]+ " "$log" | tail -25 >&2 || true
    echo "fuzz[$t] log: $log; crash input: $(ls -t "$artifacts" | head -1)" >&2
  fi
done
exit $failed
