#!/usr/bin/env bash
# Runs every test. Self-contained: starts a throwaway PostgreSQL for the Postgres half of the
# store and API suites (and stops it afterwards), runs the TypeScript SDK against a real
# gateway, installs the pinned devnet toolchain from npm and checks the committed contract
# artifacts deploy and work on a real local anvil chain.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/pg.sh
source tools/pg.sh
trap pg_stop EXIT
pg_start
# The devnet toolchain first: the EVM suites start real anvil chains.
ANVIL_BIN="$(tools/devnet/install.sh)"
export ANVIL_BIN
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"
echo "== TypeScript SDK against a real gateway" >&2
(
  cd sdk-ts
  npm ci --no-audit --no-fund --loglevel=error >&2
  RIALTO_BIN="${CARGO_TARGET_DIR:-$PWD/../target}/debug/rialto" npm test
)
echo "== devnet contracts on a local anvil chain" >&2
node contracts/build.mjs --check
node tools/devnet/smoke.mjs
echo "== schemathesis, every check, secret/publishable/operator keys, sandbox and devnet gateways" >&2
RIALTO_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/rialto" tools/fuzz/schemathesis.sh
