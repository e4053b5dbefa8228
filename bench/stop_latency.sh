#!/usr/bin/env bash
# How long `depositbot serve` takes to exit on SIGTERM while idle in a long poll
# (issue 11, item 9). Starts the fake Telegram server, then RUNS times: serve with
# --poll-timeout 25, wait for its "serving" line and a parked poll, SIGTERM, time the exit.
#
#   bench/stop_latency.sh [BUILD_DIR] [RUNS]     (default build-test, 5)
#
# Prints "stop_latency run=N exit=CODE ms=..." per run and a summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-test}
RUNS=${2:-5}
BIN=$PWD/$BUILD/depositbot
FAKE_BIN=$PWD/$BUILD/tests/fake_telegram_server_main
work=$(mktemp -d)
trap 'kill -TERM "${fake:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
"$FAKE_BIN" --port 0 >"$work/fake.out" 2>"$work/fake.err" &
fake=$!
for _ in $(seq 100); do grep -q "listening on" "$work/fake.out" && break; sleep 0.1; done
port=$(grep -o "listening on [0-9]*" "$work/fake.out" | awk '{print $3}')
total=0
max=0
for r in $(seq "$RUNS"); do
  rm -f "$work"/db.sqlite*
  env -i PATH="$PATH" HOME="$HOME" TELEGRAM_BOT_TOKEN=7000000001:AAHfakeTokenForTests_0123456789abcdefg \
    TELEGRAM_API_BASE="http://127.0.0.1:$port" HTTP_LISTEN=127.0.0.1:0 \
    DEPOSITBOT_DB="$work/db.sqlite" RECONCILE_INTERVAL_SECONDS=0 \
    "$BIN" serve --poll-timeout 25 >"$work/serve.out" 2>"$work/serve.err" &
  serve=$!
  for _ in $(seq 100); do grep -q "depositbot serving" "$work/serve.out" && break; sleep 0.1; done
  sleep 1  # measurement only: let the first getUpdates park at the fake server
  t0=$(date +%s%N)
  kill -TERM "$serve"
  rc=0
  wait "$serve" || rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "stop_latency run=$r exit=$rc ms=$ms"
  total=$((total + ms))
  ((ms > max)) && max=$ms
done
echo "stop_latency[summary] runs=$RUNS mean_ms=$((total / RUNS)) max_ms=$max poll_timeout_s=25"
