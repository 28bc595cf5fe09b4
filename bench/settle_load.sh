#!/usr/bin/env bash
# Settled gasless payments per second through the gateway on the devnet, single relays against
# BatchRelayer batches, on SQLite and PostgreSQL (issue 21, point 7). See docs/BENCHMARKS.md.
#
#   bench/settle_load.sh [N] [PROFILE]
#
# N payments (default 1000) per run; PROFILE `release` (default) or `debug` for the binary.
# Four runs: {single, batched} × {SQLite, PostgreSQL}; each prints one JSON line.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
profile=${2:-release}
if [ "$profile" = release ]; then
  cargo build --release -p rialto-gateway --bin rialto >&2
else
  cargo build -p rialto-gateway --bin rialto >&2
fi
export RIALTO_BIN="${CARGO_TARGET_DIR:-$PWD/target}/$profile/rialto"
ANVIL_BIN="$(tools/devnet/install.sh | tail -1)"
export ANVIL_BIN
(cd tools/browser && npm ci --no-audit --no-fund --loglevel=error >&2)
# shellcheck source=tools/pg.sh
export PG_FSYNC=on
source tools/pg.sh
trap pg_stop EXIT
pg_start
for mode in single batched; do
  (cd tools/browser && node settle_load.mjs "$n" "$mode")
  db="rialto_load_$mode"
  psql "$RIALTO_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >&2
  (cd tools/browser && node settle_load.mjs "$n" "$mode" "${RIALTO_TEST_PG_URL%/*}/$db")
done
