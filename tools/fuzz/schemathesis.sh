#!/usr/bin/env bash
# OpenAPI-driven fuzzing of a gateway with schemathesis, every check on: part of tools/test.sh.
#
#   tools/fuzz/schemathesis.sh [MAX_EXAMPLES]      # default 10 examples per operation and phase
#
# Builds `rialto` (unless RIALTO_BIN is given) and runs schemathesis with `--checks all` against
# /v1/openapi.json twice: on a sandbox gateway, and on a gateway watching a local devnet
# (`rialto devnet` + `serve --devnet-manifest`, so the chain-backed operations answer from real
# anvil chains). Each time it creates a merchant (secret and publishable key) and an operator
# key and runs every operation once per key. The business rules no schema can state are in
# tools/fuzz/schemathesis.toml, each with its reason. Exits non-zero on any failure.
#
# Reports go to $OUT (default target/fuzz/): per gateway and key a log, a JUnit XML and an
# NDJSON event stream; the failures per check are printed at the end.
#
# schemathesis comes from PyPI, pinned, into a venv under $HOME/.cache/rialto-fuzz-venv4.
# Environment: RIALTO_BIN, PORT (default 18080), OUT, ANVIL_BIN (else tools/devnet/install.sh),
# TARGETS (default "sandbox devnet").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCHEMATHESIS_VERSION=4.32.5
VENV=$HOME/.cache/rialto-fuzz-venv4
MAX_EXAMPLES=${1:-10}
PORT=${PORT:-18080}
OUT=${OUT:-$ROOT/target/fuzz}
TARGETS=${TARGETS:-sandbox devnet}
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/schemathesis" ] ||
   ! "$VENV/bin/pip" show schemathesis 2>/dev/null | grep -qx "Version: $SCHEMATHESIS_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

if [ -z "${RIALTO_BIN:-}" ]; then
  (cd "$ROOT" && cargo build -q -p rialto-gateway --bin rialto)
  RIALTO_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/rialto
fi

WORK=$(mktemp -d)
PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
cleanup() { stop_all; rm -rf "$WORK"; }
trap cleanup EXIT

# A fresh HOME-less environment so a developer's rialto.toml and RIALTO__ settings stay out;
# the master key file for the sandbox lands in the throwaway folder.
rialto() { (cd "$WORK" && env -i PATH="$PATH" HOME="$WORK" "$RIALTO_BIN" "$@"); }
json() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# Starts a gateway for target $1 on a fresh database and sets SK, PK and OP.
start_gateway() {
  local target=$1 db="sqlite://$WORK/$1.db" extra=() chain=base
  if [ "$target" = devnet ]; then
    local anvil=${ANVIL_BIN:-$("$ROOT/tools/devnet/install.sh")}
    (cd "$WORK" && exec env -i PATH="$PATH" HOME="$WORK" "$RIALTO_BIN" devnet \
      --manifest "$WORK/devnet.json" --anvil "$anvil" >"$OUT/devnet.log" 2>&1) &
    PIDS+=($!)
    for _ in $(seq 1 150); do [ -s "$WORK/devnet.json" ] && break; sleep 0.2; done
    [ -s "$WORK/devnet.json" ] || { echo "the devnet did not start, see $OUT/devnet.log"; exit 1; }
    extra=(--devnet-manifest "$WORK/devnet.json")
    # Intents settle on the devnet chain, so the chain-backed operations reach a real node.
    chain=devnet-base
  fi
  rialto migrate --database-url "$db" >/dev/null
  local merchant operator
  merchant=$(rialto merchants create --name "Fuzz Shop" --settlement-asset usdc \
    --settlement-chain "$chain" --settlement-address 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed \
    --database-url "$db" --json)
  operator=$(rialto operators create --name fuzz --database-url "$db" --json)
  SK=$(json "$merchant" secret_key)
  PK=$(json "$merchant" publishable_key)
  OP=$(json "$operator" operator_key)
  # Rate limits far above what schemathesis sends, so every request reaches its handler rather
  # than a 429 (the limits have their own tests).
  (cd "$WORK" && exec env -i PATH="$PATH" HOME="$WORK" RIALTO__LOG__FORMAT=json \
    RIALTO__RATE_LIMIT__PER_SECOND=1000000 RIALTO__RATE_LIMIT__BURST=1000000 "$RIALTO_BIN" serve \
    --listen "127.0.0.1:$PORT" --database-url "$db" "${extra[@]}" >"$OUT/server-$target.log" 2>&1) &
  PIDS+=($!)
  for _ in $(seq 1 150); do
    curl -fsS "http://127.0.0.1:$PORT/v1/openapi.json" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "the $target gateway did not start, see $OUT/server-$target.log"; exit 1
}

# The operations that read or write a chain or an exchange answer 503 (chain_unavailable,
# exchange_unavailable) on a gateway without chains or venues, by design; they are fuzzed on
# the devnet gateway, which has its chains and the sandbox exchange.
NEEDS_DEVNET=(create_deposit_address get_authorization_request submit_authorization
  submit_payment_transaction link_exchange_account)

status=0
for target in $TARGETS; do
  start_gateway "$target"
  skip=()
  if [ "$target" = sandbox ]; then
    for op in "${NEEDS_DEVNET[@]}"; do skip+=(--exclude-operation-id "$op"); done
  fi
  for kind in secret publishable operator; do
    case $kind in
      secret) key=$SK ;;
      publishable) key=$PK ;;
      operator) key=$OP ;;
    esac
    name="$target-$kind"
    echo "== schemathesis --checks all, $target gateway, $kind key, $MAX_EXAMPLES examples"
    (cd "$OUT" && RIALTO_FUZZ_KEY="$key" SCHEMATHESIS_HOOKS="$ROOT/tools/fuzz/hooks.py" \
      "$VENV/bin/schemathesis" --config-file "$ROOT/tools/fuzz/schemathesis.toml" run \
      "http://127.0.0.1:$PORT/v1/openapi.json" \
      --checks all \
      "${skip[@]}" \
      --max-examples "$MAX_EXAMPLES" \
      --generation-deterministic \
      --workers 1 \
      --no-color \
      --report junit,ndjson \
      --report-junit-path "$OUT/schemathesis-$name.xml" \
      --report-ndjson-path "$OUT/schemathesis-$name.ndjson" \
      >"$OUT/schemathesis-$name.log" 2>&1) || status=1
    grep -E "^(Test cases|API Operations|Failures|Errors|=+ [0-9])" "$OUT/schemathesis-$name.log" || true
    python3 "$ROOT/tools/fuzz/failures.py" "$OUT/schemathesis-$name.log"
  done
  stop_all
done
exit $status
