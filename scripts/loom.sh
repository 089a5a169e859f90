#!/usr/bin/env bash
# Runs the loom models of the concurrency core (tests/loom_*.rs): the futex
# mutex, the handoff in each fairness mode and a handle-table slot's state
# machine and table (src/slot.rs, src/slot_table.rs), under every interleaving with
# up to LOOM_MAX_PREEMPTIONS preemptions (default 3; a few minutes at most on
# 2 cores). A separate target dir keeps the normal build warm.
set -euo pipefail
cd "$(dirname "$0")/.."
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"
for model in tests/loom_*.rs; do
    name="$(basename "$model" .rs)"
    cargo test --release --test "$name"
done
