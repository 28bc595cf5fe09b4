#!/usr/bin/env bash
# Chain-level EIP-3009 relay throughput on the devnet: N authorizations relayed at once, one
# transaction each ("single") and in BatchRelayer batches from nonce lanes ("batched"), through
# the rail (no gateway, no database, no screening). Prints settled payments per second and gas
# per payment for each. See docs/BENCHMARKS.md.
#
#   bench/batch_relay.sh [N] [BATCH] [LANES] [MINING]
#
# N (default 1000) payments, BATCH (100) items per batch, LANES (3, the devnet has three
# relaying keys) nonce lanes, MINING: empty for automine (each transaction mined on arrival, the
# devnet's default) or a block time in seconds (interval mining).
set -euo pipefail
cd "$(dirname "$0")/.."
ANVIL_BIN="$(tools/devnet/install.sh | tail -1)"
export ANVIL_BIN
cargo run --release --quiet -p rialto-evm --example batch_relay_bench -- "${1:-1000}" "${2:-100}" "${3:-3}" ${4:+"$4"}
