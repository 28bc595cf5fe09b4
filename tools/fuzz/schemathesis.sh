#!/usr/bin/env bash
# OpenAPI-driven fuzzing of a sandbox gateway with schemathesis (not part of required CI).
#
#   tools/fuzz/schemathesis.sh [MAX_EXAMPLES]      # default 25 examples per operation
#
# Builds `rialto`, starts `rialto serve` in sandbox mode on a throwaway SQLite database, creates
# a merchant (secret and publishable key) and an operator key, and runs schemathesis against
# /v1/openapi.json for every operation three times, once per key, with the check that no
# answer is a 5xx (`not_a_server_error`). Reports go to $OUT (default target/fuzz/), one JUnit
# XML and one log per key; the summary line of each run is printed at the end.
#
# schemathesis comes from PyPI, pinned, into a venv under $HOME/.cache/rialto-fuzz-venv.
# Environment: RIALTO_BIN (use this binary instead of building), PORT (default 18080), OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCHEMATHESIS_VERSION=3.39.16
HYPOTHESIS_VERSION=6.131.0
VENV=$HOME/.cache/rialto-fuzz-venv
MAX_EXAMPLES=${1:-25}
PORT=${PORT:-18080}
OUT=${OUT:-$ROOT/target/fuzz}
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/schemathesis" ] ||
   ! "$VENV/bin/pip" show schemathesis 2>/dev/null | grep -qx "Version: $SCHEMATHESIS_VERSION" ||
   ! "$VENV/bin/pip" show hypothesis 2>/dev/null | grep -qx "Version: $HYPOTHESIS_VERSION"; then
  python3 -m venv "$VENV"
  # hypothesis pinned too: schemathesis 3.39.16 fails to generate any example with hypothesis
  # 6.170 ("'many' object has no attribute 'more'").
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" "hypothesis==$HYPOTHESIS_VERSION"
fi

if [ -z "${RIALTO_BIN:-}" ]; then
  (cd "$ROOT" && cargo build -q -p rialto-gateway --bin rialto)
  RIALTO_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/rialto
fi

WORK=$(mktemp -d)
DB="sqlite://$WORK/fuzz.db"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A fresh HOME-less environment so a developer's rialto.toml and RIALTO__ settings stay out;
# the master key file for the sandbox lands in the throwaway folder.
rialto() { (cd "$WORK" && env -i PATH="$PATH" HOME="$WORK" "$RIALTO_BIN" "$@"); }

rialto migrate --database-url "$DB" >/dev/null
MERCHANT=$(rialto merchants create --name "Fuzz Shop" --settlement-asset usdc \
  --settlement-chain base --settlement-address 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed \
  --database-url "$DB" --json)
OPERATOR=$(rialto operators create --name fuzz --database-url "$DB" --json)
json() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
SK=$(json "$MERCHANT" secret_key)
PK=$(json "$MERCHANT" publishable_key)
OP=$(json "$OPERATOR" operator_key)

# Rate limits far above what schemathesis sends, so every request reaches its handler rather
# than a 429 (the limits have their own tests).
(cd "$WORK" && exec env -i PATH="$PATH" HOME="$WORK" RIALTO__LOG__FORMAT=json \
  RIALTO__RATE_LIMIT__PER_SECOND=1000000 RIALTO__RATE_LIMIT__BURST=1000000 "$RIALTO_BIN" serve \
  --listen "127.0.0.1:$PORT" --database-url "$DB" >"$OUT/server.log" 2>&1) &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/v1/openapi.json" >/dev/null 2>&1 && break
  sleep 0.2
done

status=0
for kind in secret publishable operator; do
  case $kind in
    secret) key=$SK ;;
    publishable) key=$PK ;;
    operator) key=$OP ;;
  esac
  echo "== schemathesis, $kind key, $MAX_EXAMPLES examples per operation"
  "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/v1/openapi.json" \
    --header "Authorization: Bearer $key" \
    --experimental=openapi-3.1 \
    --checks not_a_server_error \
    --hypothesis-max-examples "$MAX_EXAMPLES" \
    --hypothesis-derandomize \
    --workers 1 \
    --junit-xml "$OUT/schemathesis-$kind.xml" \
    >"$OUT/schemathesis-$kind.log" 2>&1 || status=1
  tail -n 3 "$OUT/schemathesis-$kind.log"
  # Cases and 5xx answers, from the JUnit report and the server's own log.
  python3 - "$OUT/schemathesis-$kind.xml" <<'EOF' || echo "no JUnit report, see the log"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.iter("testcase")
total = failed = 0
for case in cases:
    total += 1
    if case.find("failure") is not None or case.find("error") is not None:
        failed += 1
print(f"operations: {total}, with a failing check: {failed}")
EOF
done
echo "5xx lines in the server log: $(grep -c '"status":5[0-9][0-9]' "$OUT/server.log" || true)"
exit $status
