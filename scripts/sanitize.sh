#!/usr/bin/env bash
# The test suites under sanitizers (issue 7, part 5).
#
#   scripts/sanitize.sh          both: ASan+UBSan (whole suite), then TSan (concurrency suites)
#   scripts/sanitize.sh asan     AddressSanitizer + UndefinedBehaviorSanitizer, every suite
#                                (-DDEPOSITBOT_SANITIZE=ON, build-asan)
#   scripts/sanitize.sh tsan     ThreadSanitizer, the suites that run threads or processes
#                                (-DDEPOSITBOT_TSAN=ON, build-tsan)
#
# Prints "sanitize[asan|tsan] build=...s test=...s result=ok|FAILED"; exits non-zero when a
# build fails, a test fails or a sanitizer reports. JOBS (default 2) sets build and ctest
# parallelism; ASAN_BUILD_DIR / TSAN_BUILD_DIR override the directories.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
modes=("$@")
((${#modes[@]})) || modes=(asan tsan)

# Suites with threads or processes; TSan is slow, so only these run under it. serve_test and
# throughput_test run the TSan-built depositbot serve (turns suspended on the model and resumed
# on the dispatcher's threads, busy answers, pacing, jobs) and check it exits 0.
TSAN_SUITES=(ledger_concurrency_test bank_storm_test tool_registry_test openai_chat_model_test
             purchase_test dispatcher_test telegram_client_test serve_test model_gate_test
             throughput_test http_client_test)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

failed=0
run_mode() {
  local mode=$1 dir flags targets=() regex=""
  case "$mode" in
    asan) dir=${ASAN_BUILD_DIR:-build-asan}; flags=(-DDEPOSITBOT_SANITIZE=ON) ;;
    tsan) dir=${TSAN_BUILD_DIR:-build-tsan}; flags=(-DDEPOSITBOT_TSAN=ON)
          targets=("${TSAN_SUITES[@]}")
          regex="^($(IFS='|'; echo "${TSAN_SUITES[*]}"))\$" ;;
    *) echo "sanitize.sh: unknown mode $mode (asan, tsan)" >&2; return 2 ;;
  esac
  local t0 t1 t2 result=ok
  t0=$(date +%s)
  # -O1 with line tables: what the sanitizers recommend, enough for symbolized reports, and
  # less than half the compile time of RelWithDebInfo's -O2 -g (537 s against 1448 s cold for
  # the ASan tree on two cores), which keeps .ci/run inside its hour.
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
    -DDEPOSITBOT_BENCH=OFF "${flags[@]}" >/dev/null
  if ((${#targets[@]})); then
    cmake --build "$dir" -j "$JOBS" --target "${targets[@]}" || result=FAILED
  else
    cmake --build "$dir" -j "$JOBS" || result=FAILED
  fi
  t1=$(date +%s)
  if [[ $result == ok ]]; then
    local args=(--test-dir "$dir" --output-on-failure -j "$JOBS" --timeout 1800)
    [[ -n $regex ]] && args+=(-R "$regex")
    ctest "${args[@]}" || result=FAILED
  fi
  t2=$(date +%s)
  echo "sanitize[$mode] build=$((t1 - t0))s test=$((t2 - t1))s result=$result"
  [[ $result == ok ]] || failed=1
}

for m in "${modes[@]}"; do run_mode "$m"; done
exit $failed
