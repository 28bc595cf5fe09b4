#!/usr/bin/env bash
# Where a create's time goes on PostgreSQL: statements (and so round trips) per create from
# pg_stat_statements, and CPU time per create of the server and of all PostgreSQL processes,
# for Rialto and for the insert ceiling (`bench/http.sh`'s two servers), under the same wrk load.
#
#   bench/pg_profile.sh [DURATION_SECONDS] [CONNECTIONS]
#
# Uses already built release binaries (run `bench/http.sh` or `cargo build --release -p
# rialto-gateway --bin rialto --example insert_ceiling` first).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
conns=${2:-32}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
target_dir=${CARGO_TARGET_DIR:-target}
bin=$target_dir/release/rialto
ceiling=$target_dir/release/examples/insert_ceiling
export PG_FSYNC=on
# shellcheck source=tools/pg.sh
source tools/pg.sh
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; pg_stop; }
trap cleanup EXIT
pg_start
psql() { "$(pg_bindir)/psql" "$@"; }
psql "$RIALTO_TEST_PG_URL" -qc "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DATA_DIR/data" -w restart >/dev/null
psql "$RIALTO_TEST_PG_URL" -qc "CREATE EXTENSION pg_stat_statements" >/dev/null
psql "$RIALTO_TEST_PG_URL" -qc "CREATE DATABASE rialto_profile" >/dev/null
url="${RIALTO_TEST_PG_URL%/postgres}/rialto_profile"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; return 1; }
cpu_ticks() { # pid… → user+system ticks
  for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0; done | paste -sd+ | bc
}
pg_pids() { pgrep -u postgres -d ' ' postgres || true; }
measure() { # label pid url
  local label=$1 pid=$2 base=$3 before_s before_p out creates
  psql "$RIALTO_TEST_PG_URL" -qc "SELECT pg_stat_statements_reset()" >/dev/null
  before_s=$(cpu_ticks "$pid"); before_p=$(cpu_ticks $(pg_pids))
  out=$(RUN="$label-$RANDOM" wrk -t2 -c"$conns" -d"${duration}s" -s bench/post_intent.lua "$base" | grep '^RESULT')
  creates=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$out")
  local ds dp hz; ds=$(( $(cpu_ticks "$pid") - before_s )); dp=$(( $(cpu_ticks $(pg_pids)) - before_p )); hz=$(getconf CLK_TCK)
  echo "$label: $out"
  echo "$label: CPU per create: server $(( ds * 1000000 / hz / creates )) us, postgres $(( dp * 1000000 / hz / creates )) us"
  echo "$label: statements per create (pg_stat_statements, calls / creates):"
  psql "$RIALTO_TEST_PG_URL" -Atc "SELECT to_char(sum(calls)::numeric / $creates, 'FM990.000') || '  ' || left(regexp_replace(query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'rialto_profile') GROUP BY query HAVING sum(calls) > $creates / 100 ORDER BY sum(calls) DESC" | sed 's/^/    /'
}
$bin --config /nonexistent migrate --database-url "$url" 2>/dev/null
out=$($bin --config /nonexistent merchants create --name bench --database-url "$url" --json)
export SK=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["secret_key"])' <<<"$out")
mer=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$out")
port=$(free_port)
RIALTO__DATABASE__MAX_CONNECTIONS=16 RIALTO__RATE_LIMIT__PER_SECOND=1000000 RIALTO__RATE_LIMIT__BURST=1000000 RIALTO__LOG__LEVEL=warn \
  $bin --config /nonexistent serve --listen "127.0.0.1:$port" --database-url "$url" >/dev/null 2>&1 &
pids+=($!); wait_http "http://127.0.0.1:$port/health"
measure rialto "${pids[-1]}" "http://127.0.0.1:$port"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
port=$(free_port)
POOL=16 DATABASE_URL=$url MERCHANT_ID=$mer LISTEN="127.0.0.1:$port" $ceiling >/dev/null 2>&1 &
pids+=($!); wait_http "http://127.0.0.1:$port/v1/payment_intents" || true; sleep 0.3
measure ceiling "${pids[-1]}" "http://127.0.0.1:$port"
