#!/usr/bin/env bash
# Fuzzes the C API with libFuzzer (fuzz/fuzz_api.c): random programs of API
# calls, misuse included, against a small pool. Installs clang and its
# fuzzer runtime (scripts/tools.sh) when a libFuzzer target does not link.
#   scripts/fuzz.sh [SECONDS]     fuzz for SECONDS (default 60), growing fuzz/corpus
#   scripts/fuzz.sh --replay      run every input of fuzz/corpus once (regression)
#   scripts/fuzz.sh --runs N      run N executions (for the long run: 10000000)
# SQLPOOL_FUZZ_SANITIZE (default address,undefined) instruments the harness;
# the library itself is not instrumented (stable Rust), so
# SQLPOOL_FUZZ_SANITIZE= (empty) runs about 4x faster for long runs.
# Prints libFuzzer's final stats (executions, corpus size); a crash, a leak or
# a broken invariant fails it and leaves the input in build/fuzz/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# clang on PATH is not enough: -fsanitize=fuzzer needs the compiler runtime.
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"
need fuzzer
out="$root/build/fuzz"
mkdir -p "$out" fuzz/corpus
cargo build --release
# The harness links the library under its soname, next to the binary.
cp target/release/libsqlpool.so "$out/libsqlpool.so.0"
ln -sf libsqlpool.so.0 "$out/libsqlpool.so"
sanitize="${SQLPOOL_FUZZ_SANITIZE-address,undefined}"
clang -g -O1 -fsanitize=fuzzer${sanitize:+,$sanitize} -Iinclude fuzz/fuzz_api.c \
  -L"$out" -lsqlpool -Wl,-rpath,"$out" -o "$out/fuzz_api"

if [ "${1:-}" = "--replay" ]; then
  "$out/fuzz_api" -runs=0 fuzz/corpus
  echo "fuzz: replayed $(ls fuzz/corpus | wc -l) corpus inputs, 0 failed"
  exit 0
fi
if [ "${1:-}" = "--runs" ]; then
  limit=(-runs="${2:?--runs needs a count}")
  seconds="(no limit)"
else
  seconds="${1:-60}"
  limit=(-max_total_time="$seconds")
fi
# -rss_limit_mb: the pool's handle tables and SQLite's page cache grow a bit.
cd "$out"
"$out/fuzz_api" "${limit[@]}" -print_final_stats=1 -rss_limit_mb=4096 \
  -max_len=512 "$root/fuzz/corpus" 2>&1 | tee "$out/last_run.log" | grep -E "^(#[0-9]+ *(DONE|INITED)|stat::|==[0-9]+==|SUMMARY)" || true
grep -q "stat::number_of_executed_units" "$out/last_run.log" || { echo "fuzz: the run did not finish"; tail -30 "$out/last_run.log"; exit 1; }
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/last_run.log")
echo "fuzz: $execs executions (time limit: ${seconds}s), 0 crashes"
