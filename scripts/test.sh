#!/usr/bin/env bash
# Every test of sqlpool, as CI runs it (.ci/run). Installs what it needs.
#   1. cargo fmt --check and cargo clippy --all-targets -D warnings
#   2. cargo test: the Rust core, the C tests (c_tests/c), the header and the
#      exported surface, fork
#   2a. cargo test --features test-panic (panic, ffi_shared_budget) and the
#      loom models (scripts/loom.sh)
#   2b. scripts/abi_check.sh: abidiff against the committed ABI of the 0.1
#      release (abi/): only additions
#   3. scripts/test_native.sh: install, CMake package, pkg-config, C/C++
#      tests through find_package, ASan+UBSan, valgrind
#   4. scripts/fuzz.sh: the fuzz corpus replayed, then 30 s of fuzzing
#   5. scripts/test_python.sh (pip install ./python, which compiles the
#      library into the package; pytest; wheel and sdist),
#      scripts/test_python_sqla.sh (DB-API, SQLAlchemy 2.x and 1.4, PEP 249's
#      dbapi20 and SQLAlchemy's dialect compliance suite), and
#      scripts/bench.sh --quick (benchmarks build and run; no timing is
#      asserted) when present
# Works from any directory. Each stage checks the tools it needs by what they
# must do and installs what is missing (scripts/tools.sh; Debian, as root).
# Prints the time of each stage at the end.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"

started=$SECONDS
stage_started=$SECONDS
stage_name=""
timings=()
section() {
  if [ -n "$stage_name" ]; then timings+=("$(printf '%5d s  %s' $((SECONDS - stage_started)) "$stage_name")"); fi
  stage_name="$1"
  stage_started=$SECONDS
  echo; echo "=== test.sh: $1"
}

section "tools (scripts/tools.sh: a C/C++ toolchain that compiles, links and runs; rustfmt, clippy)"
need cc
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

section "cargo test"
cargo test

section "cargo test --features test-panic: a panic inside the library (panic, ffi_shared_budget)"
cargo test --features test-panic --test panic --test ffi_shared_budget

section "loom models of the concurrency core (scripts/loom.sh)"
bash scripts/loom.sh

section "ABI against the 0.1 release (scripts/abi_check.sh, libabigail)"
bash scripts/abi_check.sh

section "native packaging (scripts/test_native.sh)"
bash scripts/test_native.sh

section "fuzzing: corpus replay and a 30 s run (scripts/fuzz.sh)"
bash scripts/fuzz.sh --replay
bash scripts/fuzz.sh 30

section "python (scripts/test_python.sh)"
bash scripts/test_python.sh

section "python: DB-API, SQLAlchemy dialect, SessionManager (scripts/test_python_sqla.sh)"
bash scripts/test_python_sqla.sh

if [ -f scripts/bench.sh ]; then
  section "benchmarks, quick mode (scripts/bench.sh --quick)"
  bash scripts/bench.sh --quick
fi

section "all passed"
printf '%s\n' "${timings[@]}"
echo "total: $((SECONDS - started)) s"
