#!/usr/bin/env bash
# Runs every test: formatting-independent, self-contained. Starts a throwaway PostgreSQL for the
# Postgres half of the store and API suites and stops it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/pg.sh
source tools/pg.sh
trap pg_stop EXIT
pg_start
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"
