#!/usr/bin/env bash
# Durable ledger ops/s, PostgreSQL against SQLite on this machine: the same workload
# (bench/ledger_bench: the version-checked apply, one writer, then 1/4/8 writers on one user) on
#   - SQLite: a fresh file, opened as the product opens it (WAL, synchronous=FULL);
#   - PostgreSQL 15: a throwaway cluster started with `scripts/postgres.sh start DIR --durable`
#     (fsync, synchronous_commit and full_page_writes on, as deployed), on a Unix socket.
# Both live in one temporary directory on the same disk. Prints each run's full figures, then
# the durable ops/s of each and their ratio, and stops the cluster (also on failure).
#
#   bench/postgres_vs_sqlite.sh [--ops N]     # N operations per measurement (default 1500)
#
# BUILD_DIR (default build) holds ledger_bench; it is built there when missing. TMPDIR picks the
# disk. The machine may be shared: run it on a quiet moment and say so next to the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
ops=1500
while [ $# -gt 0 ]; do
  case "$1" in
    --ops) ops=${2:?--ops needs a number}; shift 2 ;;
    *) echo "usage: bench/postgres_vs_sqlite.sh [--ops N]" >&2; exit 2 ;;
  esac
done
BUILD_DIR=${BUILD_DIR:-build}
bench="$BUILD_DIR/bench/ledger_bench"
if [ ! -x "$bench" ]; then
  cmake --build "$BUILD_DIR" --target ledger_bench >/dev/null ||
    { echo "postgres_vs_sqlite.sh: cannot build $bench (configure $BUILD_DIR first)" >&2; exit 1; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/depositbot-pgbench-XXXXXX")
chmod 755 "$work"  # the cluster runs as an unprivileged user when we are root
cleanup() {
  scripts/postgres.sh stop "$work/postgres" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
uri=$(scripts/postgres.sh start "$work/postgres" --durable)

# run NAME TARGET: the bench's figures on stdout (its log lines go to NAME.log), and its
# one-writer version-checked ops/s into $result.
result=""
run() {
  local name=$1 target=$2 out="$work/$1.out"
  echo "== $name"
  "$bench" --ops "$ops" --db "$target" >"$out" 2>"$work/$name.log" ||
    { cat "$out"; tail -20 "$work/$name.log" >&2; echo "postgres_vs_sqlite.sh: $name failed" >&2;
      exit 1; }
  cat "$out"
  result=$(sed -n 's/^ledger_bench: backend=.* versioned_ops_per_s=\([0-9]*\).*/\1/p' "$out")
  [ -n "$result" ] || { echo "postgres_vs_sqlite.sh: $name printed no figure" >&2; exit 1; }
  echo
}
run sqlite "$work/bench.db"
sqlite_ops=$result
run postgresql "$uri"
pg_ops=$result

echo "== durable ledger ops/s (version-checked apply, one writer, $ops ops per measurement)"
echo "sqlite (WAL, synchronous=FULL):              $sqlite_ops"
echo "postgresql 15 (fsync, synchronous_commit on): $pg_ops"
awk -v p="$pg_ops" -v s="$sqlite_ops" \
  'BEGIN { if (s > 0) printf "ratio postgresql/sqlite: %.2f\n", p / s }'
