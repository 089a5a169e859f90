#!/usr/bin/env bash
# Every test of sqlpool, as CI runs it (.ci/run). Installs what it needs.
#   1. cargo fmt --check and cargo clippy --all-targets -D warnings
#   2. cargo test: the Rust core, the C tests (c_tests/c), the header and the
#      exported surface, fork
#   3. scripts/test_native.sh: install, CMake package, pkg-config, C/C++
#      tests through find_package, ASan+UBSan, valgrind
#   4. scripts/fuzz.sh: the fuzz corpus replayed, then 30 s of fuzzing
#   5. scripts/test_python.sh (the ctypes package, pytest), and
#      scripts/bench.sh --quick (benchmarks build and run; no timing is
#      asserted) when present
# Works from any directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cc >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc g++ libc6-dev
fi

section() { echo; echo "=== test.sh: $1"; }

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

section "cargo test"
cargo test

section "cargo test --features test-panic --test panic (a panic inside the library)"
cargo test --features test-panic --test panic

section "native packaging (scripts/test_native.sh)"
bash scripts/test_native.sh

section "fuzzing: corpus replay and a 30 s run (scripts/fuzz.sh)"
bash scripts/fuzz.sh --replay
bash scripts/fuzz.sh 30

section "python (scripts/test_python.sh)"
bash scripts/test_python.sh

if [ -f scripts/bench.sh ]; then
  section "benchmarks, quick mode (scripts/bench.sh --quick)"
  bash scripts/bench.sh --quick
fi

section "all passed"
