#!/usr/bin/env bash
# Time from a payer's funding to `succeeded`, p50/p99 over N payments, for each route kind into
# a JPMD-DEV merchant on the devnet (issue 17): direct from an allow-listed institution, USDC on
# the same chain through the issuer's mint, USDC on the other chain through CCIP and the mint.
# See docs/BENCHMARKS.md and gateway/tests/deposit_token_bench.rs (what "funding" means).
#
#   bench/deposit_token_routes.sh [N] [PROFILE]
#
# N payments per route kind (default 50); PROFILE `debug` (default) or `release` for the test
# binary. Prints one JSON line per route kind.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
profile=${2:-debug}
ANVIL_BIN="$(tools/devnet/install.sh | tail -1)"
export ANVIL_BIN
flags=()
if [ "$profile" = release ]; then
  flags=(--release)
fi
echo "nproc: $(nproc)" >&2
free -g >&2
BENCH_N="$n" cargo test "${flags[@]}" -p rialto-gateway --test deposit_token_bench -- \
  --ignored --nocapture --exact bench_funding_to_succeeded_per_deposit_token_route_kind |
  grep '^{"'
