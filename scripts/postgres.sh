#!/usr/bin/env bash
# A throwaway PostgreSQL 15 (Debian's `postgresql` package) for the tests and benchmarks: a
# fresh cluster in a temporary folder, listening only on a Unix socket in that folder, run by an
# unprivileged user (PostgreSQL refuses to run as root; as root we use `nobody`). DIR is the
# caller's handle on it (any path the caller may write).
#
#   scripts/postgres.sh start DIR [--durable]   # prints the superuser URI on stdout
#   scripts/postgres.sh stop DIR                # stops it and removes DIR
#
# Without --durable the cluster skips fsync (tests only need what a crash of a process loses,
# not what a power cut loses); benchmarks pass --durable to measure PostgreSQL as deployed.
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop DIR [--durable]}
dir=${2:?usage: postgres.sh start|stop DIR [--durable]}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/pg_ctl" ] || { echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# The cluster itself lives in a fresh folder under /tmp that `nobody` can reach and whose socket
# path stays short (a Unix socket path has at most 107 bytes); DIR only records where.
case "$cmd" in
  start)
    "$0" stop "$dir"
    mkdir -p "$dir"
    cluster=$(mktemp -d /tmp/depositbot-pg.XXXXXX)
    echo "$cluster" >"$dir/cluster"
    [ "$(id -u)" -eq 0 ] && chown nobody "$cluster"
    owner=$(as_owner id -un)
    as_owner "$bin/initdb" -D "$cluster/data" -U "$owner" --auth=trust --encoding=UTF8 \
      --locale=C.UTF-8 >"$cluster/initdb.log" 2>&1 ||
      { cat "$cluster/initdb.log" >&2; exit 1; }
    settings="-c listen_addresses='' -c unix_socket_directories='$cluster' -c max_connections=300"
    if [ "${3:-}" != "--durable" ]; then
      settings="$settings -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    as_owner "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 -o "$settings" \
      start >/dev/null || { cat "$cluster/server.log" >&2; exit 1; }
    echo "postgresql://$owner@/postgres?host=$cluster"
    ;;
  stop)
    cluster=$(cat "$dir/cluster" 2>/dev/null || true)
    if [ -n "$cluster" ] && [ -d "$cluster/data" ]; then
      as_owner "$bin/pg_ctl" -D "$cluster/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    [ -n "$cluster" ] && rm -rf "$cluster"
    rm -rf "$dir"
    ;;
  *)
    echo "usage: postgres.sh start|stop DIR [--durable]" >&2
    exit 2
    ;;
esac
