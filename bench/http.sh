#!/usr/bin/env bash
# Throughput and latency of POST /v1/payment_intents (idempotency key, durable write) on SQLite
# and PostgreSQL, against a minimal axum handler doing one equivalent INSERT on the same
# database (the ceiling). Load comes from wrk in a second process on loopback.
#
#   bench/http.sh [DURATION_SECONDS] [CONNECTIONS] [ROUNDS]
#
# Each round measures Rialto then the ceiling back to back on each backend; the summary gives
# the median of the rounds and Rialto's share of the ceiling.
#
# Needs wrk (Debian package `wrk`; installed here if missing). PostgreSQL runs with fsync ON so
# both backends do durable commits; SQLite runs in WAL mode with synchronous=FULL.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20}
conns=${2:-32}
rounds=${3:-3}
# Both servers get the same database pool size (POOL, default 16).
pool=${POOL:-16}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -p rialto-gateway --bin rialto --example insert_ceiling >&2
target_dir=${CARGO_TARGET_DIR:-target}
bin=$target_dir/release/rialto
ceiling=$target_dir/release/examples/insert_ceiling
work=$(mktemp -d /tmp/rialto-bench.XXXXXX)
export PG_FSYNC=on
# shellcheck source=tools/pg.sh
source tools/pg.sh
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; pg_stop; rm -rf "$work"; }
trap cleanup EXIT
pg_start

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }

run_wrk() { # url label
  RUN="$2-$RANDOM" wrk -t2 -c"$conns" -d"${duration}s" --timeout 10s -s bench/post_intent.lua "$1" | grep '^RESULT' | sed "s/^RESULT/$2/"
}

bench_backend() { # name url
  local name=$1 url=$2 port sk mer
  $bin --config /nonexistent migrate --database-url "$url" 2>/dev/null
  out=$($bin --config /nonexistent merchants create --name bench --database-url "$url" --json)
  sk=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["secret_key"])' <<<"$out")
  mer=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$out")
  export SK=$sk
  port=$(free_port)
  RIALTO__DATABASE__MAX_CONNECTIONS=$pool RIALTO__RATE_LIMIT__PER_SECOND=1000000 RIALTO__RATE_LIMIT__BURST=1000000 RIALTO__LOG__LEVEL=warn \
    $bin --config /nonexistent serve --listen "127.0.0.1:$port" --database-url "$url" >"$work/$name.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/health"
  run_wrk "http://127.0.0.1:$port" "rialto-$name"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  port=$(free_port)
  POOL=$pool DATABASE_URL=$url MERCHANT_ID=$mer LISTEN="127.0.0.1:$port" $ceiling >"$work/$name-ceiling.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/v1/payment_intents" || true
  sleep 0.3
  run_wrk "http://127.0.0.1:$port" "ceiling-$name"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB, $(uname -sr); duration ${duration}s, ${conns} connections, ${rounds} rounds, pool ${pool}" >&2
"$(pg_bindir)/psql" "$RIALTO_TEST_PG_URL" -qc "CREATE DATABASE rialto_bench" >/dev/null
for round in $(seq 1 "$rounds"); do
  bench_backend sqlite "sqlite://$work/bench-$round.db"
  bench_backend postgres "${RIALTO_TEST_PG_URL%/postgres}/rialto_bench"
done | tee "$work/results.txt"
python3 - "$work/results.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, *fields = line.split()
    kv = dict(f.split("=") for f in fields)
    rows.setdefault(label, []).append(kv)
print("\n| backend | server | req/s (median) | p50 ms | p99 ms | share of ceiling (median of per-round ratios) |")
print("|---|---|---|---|---|---|")
for backend in ("sqlite", "postgres"):
    med = {}
    for server in ("rialto", "ceiling"):
        runs = rows.get(f"{server}-{backend}", [])
        if not runs:
            continue
        med[server] = {k: statistics.median(float(r[k]) for r in runs) for k in ("rps", "p50_ms", "p99_ms")}
    for server, m in med.items():
        pairs = zip(rows.get(f"rialto-{backend}", []), rows.get(f"ceiling-{backend}", []))
        ratios = [float(r["rps"]) / float(c["rps"]) for r, c in pairs]
        share = ""
        if server == "rialto" and ratios:
            share = f"{100 * statistics.median(ratios):.0f}% (rounds: {', '.join(f'{100 * x:.0f}%' for x in ratios)})"
        print(f"| {backend} | {server} | {m['rps']:.0f} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | {share} |")
PY
