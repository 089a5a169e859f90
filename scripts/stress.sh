#!/usr/bin/env bash
# The long forms of the reliability tests (scripts/test.sh runs the short
# ones): 64 threads x SQLPOOL_STRESS_OPS checkouts on a pool of 5 + 10
# (default 17000 each: over a million successful), and the fork torture repeated
# FORK_ROUNDS times (50 forks each, default 10: 500 forks). Release build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export SQLPOOL_STRESS_OPS="${SQLPOOL_STRESS_OPS:-17000}"
rounds="${FORK_ROUNDS:-10}"

echo "=== stress: torture, 64 threads x $SQLPOOL_STRESS_OPS checkouts"
cargo test --release --test torture -- --nocapture

echo "=== stress: fork torture, $rounds rounds of 50 forks"
cargo test --release --test fork --no-run
for i in $(seq 1 "$rounds"); do
  cargo test --release -q --test fork >/dev/null || { echo "fork round $i failed"; exit 1; }
done
echo "stress: fork: $((rounds * 50)) forks, 0 failed"
echo "stress: all passed"
