#!/usr/bin/env bash
# Runs every test. Self-contained: starts a throwaway PostgreSQL for the Postgres half of the
# store and API suites (and stops it afterwards), runs the TypeScript SDK against a real
# gateway, drives the hosted checkout page in Debian's chromium (tools/browser) and the x402
# facilitator with the real x402 npm packages (tools/x402), installs the pinned devnet toolchain
# from npm and checks the committed contract artifacts deploy and work on a real local anvil chain.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/pg.sh
source tools/pg.sh
trap pg_stop EXIT
pg_start
# The devnet toolchain first: the EVM suites start real anvil chains.
ANVIL_BIN="$(tools/devnet/install.sh)"
export ANVIL_BIN
# The local Solana endpoint is a cargo binary of the workspace (surfpool's offline simnet), built
# here so the Solana suites find it; no other install. Built with every target of the workspace,
# so it shares the test build's feature resolution and nothing is compiled twice.
cargo build --workspace --all-targets
SOLANA_SIMNET_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/rialto-solana-simnet"
export SOLANA_SIMNET_BIN
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"
echo "== TypeScript SDK against a real gateway" >&2
# Its devnet gets ANVIL_BIN and SOLANA_SIMNET_BIN from here (sdk-ts/test/harness.mjs passes
# both on): the Solana Pay helpers pay USDC and PYUSD intents on the simnet.
(
  cd sdk-ts
  npm ci --no-audit --no-fund --loglevel=error >&2
  RIALTO_BIN="${CARGO_TARGET_DIR:-$PWD/../target}/debug/rialto" npm test
)
echo "== hosted checkout in Debian's chromium against a real gateway on the devnet" >&2
tools/browser/install.sh
(
  cd tools/browser
  RIALTO_BIN="${CARGO_TARGET_DIR:-$PWD/../../target}/debug/rialto" \
    CHECKOUT_ARTIFACTS="${CARGO_TARGET_DIR:-$PWD/../../target}/browser-artifacts" npm test
)
echo "== x402 facilitator with the real x402 packages from npm" >&2
(
  # Uses sdk-ts/dist and its test harness, built just above.
  cd tools/x402
  npm ci --no-audit --no-fund --loglevel=error >&2
  RIALTO_BIN="${CARGO_TARGET_DIR:-$PWD/../../target}/debug/rialto" node --test x402.test.mjs
)
echo "== devnet contracts on a local anvil chain" >&2
node contracts/build.mjs --check
node tools/devnet/smoke.mjs
echo "== schemathesis, every check, secret/publishable/operator keys, sandbox and devnet gateways" >&2
RIALTO_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/rialto" tools/fuzz/schemathesis.sh
