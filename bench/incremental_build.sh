#!/usr/bin/env bash
# Incremental build time after touching one HTTP handler: the edit-compile loop of a developer
# working on the API. Usage: bench/incremental_build.sh [REV …] (default: HEAD). Each revision
# is checked out into a temporary worktree, built once (dependencies come from the shared
# target directory), then `gateway/src/api/payment_intents.rs` is touched and
# `cargo build -p rialto-gateway` timed ROUNDS times (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rialto-ci-target}"
rounds="${ROUNDS:-3}"
[ "$#" -gt 0 ] || set -- HEAD
for rev in "$@"; do
  dir="$(mktemp -d)"
  git worktree add -q --detach "$dir" "$rev"
  (
    cd "$dir"
    cargo build -q -p rialto-gateway
    for i in $(seq "$rounds"); do
      touch gateway/src/api/payment_intents.rs
      start=$(date +%s%N)
      cargo build -q -p rialto-gateway
      end=$(date +%s%N)
      ms=$(( (end - start) / 1000000 ))
      printf "%s round %s: %d.%d s\n" "$(git rev-parse --short HEAD)" "$i" $((ms / 1000)) $((ms % 1000 / 100))
    done
  )
  git worktree remove --force "$dir"
done
