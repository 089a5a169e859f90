#!/usr/bin/env bash
# sqlpool's benchmarks (issue 5), all in one bounded run.
#
#   scripts/bench.sh --quick   CI smoke run: builds every benchmark and runs
#                              each one briefly (criterion's --test mode, a
#                              few thousand operations elsewhere). Asserts no
#                              timings; fails only if a benchmark does not
#                              build, crashes, or returns wrong rows.
#   scripts/bench.sh           the report (about 15 minutes on 2 cores):
#                              writes docs/BENCHMARKS.md and docs/throughput.png
#
# What runs (every comparison in the same process or the same run):
#   cargo bench --bench checkout   uncontended checkout+checkin; scaling
#   cargo bench --bench query      point query: pool vs held vs open per query
#   cargo bench --bench step       the nuPlan-shaped 145-query step
#   cargo bench --bench contended  1/2/8/64 threads, pool 5 and 5+10, FIFO check
#   benches/c/bench_c.c            the C API from C, against the same SQLite
#   benches/c/contended_c.c        contended, from C: sqlpool vs a pthread
#                                  mutex + condvar pool written by hand
#   tests/many_pools.rs            10,000 pools in one process (full mode)
#   python/benchmarks/orm_dbapi.py DB-API module, SessionManager (issue 12)
#   benches/python/bench_python.py the Python package against sqlite3 and
#                                  SQLAlchemy (only when python/sqlpool exists)
#
# Environment: SQLPOOL_BENCH_DIR (default build/bench) holds the generated
# nuPlan-shaped database, the C program, the Python venv and results/.
# Installs gcc and python3-venv with apt-get when they do not work
# (scripts/tools.sh; as root, Debian);
# the Python venv gets sqlalchemy and matplotlib from PyPI.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode=full
for arg in "$@"; do
  case "$arg" in
    --quick) mode=quick ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$arg' (use --quick or nothing)" >&2; exit 2 ;;
  esac
done

if [ -x "$HOME/.cargo/bin/cargo" ] && ! command -v cargo >/dev/null 2>&1; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || { echo "bench.sh: cargo is not installed" >&2; exit 1; }

export SQLPOOL_BENCH_DIR="${SQLPOOL_BENCH_DIR:-$root/build/bench}"
mkdir -p "$SQLPOOL_BENCH_DIR"
bench_dir="$(cd "$SQLPOOL_BENCH_DIR" && pwd)"
export SQLPOOL_BENCH_DIR="$bench_dir"
results="$bench_dir/results"
rm -rf "$results"
mkdir -p "$results"
log="$bench_dir/bench-$mode.log"
: > "$log"
if [ "$mode" = quick ]; then export SQLPOOL_BENCH_QUICK=1; else unset SQLPOOL_BENCH_QUICK; fi

started=$(date +%s)
say() { echo "bench.sh [$(( $(date +%s) - started ))s]: $*" | tee -a "$log"; }
# Runs a command, its output to the terminal and the log.
run() { echo "+ $*" >> "$log"; "$@" 2>&1 | tee -a "$log"; return "${PIPESTATUS[0]}"; }

# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"
need cc venv 2>&1 | tee -a "$log"

target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
loadavg_start="$(cat /proc/loadavg)"
say "mode $mode; load average at start: $loadavg_start"

# --- build
say "building the library (release) and the benchmarks"
run cargo build --release --lib --quiet
run cargo bench --no-run --quiet --bench checkout --bench query --bench step --bench contended

# --- criterion benchmarks
for b in checkout point_query step scaling_pool_size scaling_pools; do
  rm -rf "$target/criterion/$b"
done
if [ "$mode" = quick ]; then
  crit_args=(--test)
else
  crit_args=(--warm-up-time 1 --measurement-time 3 --noplot)
fi
for b in checkout query step; do
  say "cargo bench --bench $b -- ${crit_args[*]}"
  run cargo bench --quiet --bench "$b" -- "${crit_args[@]}"
done

# --- contended (custom timed loop)
say "cargo bench --bench contended"
if [ "$mode" = quick ]; then
  run cargo bench --quiet --bench contended -- --quick
else
  run cargo bench --quiet --bench contended
fi

# --- the C program, against include/ and target/release
say "building and running benches/c/bench_c.c"
sqlite_h_dir="$(cargo metadata --format-version 1 | python3 -c '
import json, os, sys
m = json.load(sys.stdin)
for p in m["packages"]:
    if p["name"] == "libsqlite3-sys":
        print(os.path.join(os.path.dirname(p["manifest_path"]), "sqlite3"))
        break
')"
[ -f "$sqlite_h_dir/sqlite3.h" ] || { echo "bench.sh: no sqlite3.h in $sqlite_h_dir" >&2; exit 1; }
run cc -O2 -Wall -Wextra -Werror -o "$bench_dir/bench_c" "$root/benches/c/bench_c.c" \
  -I"$root/include" -I"$sqlite_h_dir" "$target/release/libsqlpool.a" -lpthread -ldl -lm
db="$bench_dir/nuplan.db"
c_args=("$db" "$root/examples/nuplan/step_queries.sql" "$results/c.json")
[ "$mode" = quick ] && c_args+=(--quick)
run "$bench_dir/bench_c" "${c_args[@]}"
say "building and running benches/c/contended_c.c (sqlpool's C API against a pthread mutex + condvar pool)"
run cc -O2 -Wall -Wextra -Werror -o "$bench_dir/contended_c" "$root/benches/c/contended_c.c" \
  -I"$root/include" -I"$sqlite_h_dir" "$target/release/libsqlpool.a" -lpthread -ldl -lm
cc_args=("$db" "$results/contended_c.json")
[ "$mode" = quick ] && cc_args+=(--quick)
run "$bench_dir/contended_c" "${cc_args[@]}"

# --- thousands of pools (issue 11 §4): one test per process, full mode only
# (each creates 10,000 files and idles 10 s to measure the monitor).
if [ "$mode" = full ]; then
  for t in raw_connections open_pools open_shared open_shared_with_a_budget; do
    say "tests/many_pools.rs $t"
    if ! cargo test --release --quiet --test many_pools -- --ignored --nocapture --test-threads=1 --exact "$t" 2>&1 \
        | tee -a "$log" "$results/many_pools.txt"; then
      echo "bench.sh: tests/many_pools.rs $t failed" >&2
      exit 1
    fi
  done
fi

# --- Python
venv="$bench_dir/venv"
ensure_venv() {
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sqlalchemy, matplotlib' >/dev/null 2>&1; then
    say "creating the Python venv $venv (sqlalchemy, matplotlib)"
    python3 -m venv "$venv" >> "$log" 2>&1
    "$venv/bin/pip" install --quiet sqlalchemy matplotlib >> "$log" 2>&1
  fi
}
python_status="not run: python/sqlpool does not exist"
if [ -d "$root/python/sqlpool" ]; then
  ensure_venv
  say "benches/python/bench_python.py"
  py_args=(--db "$db" --step-sql "$root/examples/nuplan/step_queries.sql" --out "$results/python.json")
  [ "$mode" = quick ] && py_args+=(--quick)
  if SQLPOOL_LIBRARY="$target/release/libsqlpool.so" PYTHONPATH="$root/python" \
      run "$venv/bin/python" "$root/benches/python/bench_python.py" "${py_args[@]}"; then
    python_status="ok"
  else
    python_status="failed (see $log)"
    [ "$mode" = quick ] && { echo "bench.sh: the Python benchmark failed" >&2; exit 1; }
  fi
  say "python/benchmarks/orm_dbapi.py (DB-API module, SessionManager, dialect)"
  orm_args=(--json "$results/orm_dbapi.json")
  [ "$mode" = quick ] && orm_args+=(--frames 50 --n 50 --rounds 1 --threads 4 --thread-queries 20)
  if SQLPOOL_LIBRARY="$target/release/libsqlpool.so" PYTHONPATH="$root/python" \
      run "$venv/bin/python" "$root/python/benchmarks/orm_dbapi.py" "${orm_args[@]}"; then
    :
  else
    # The package is developed alongside; a library without the functions it
    # needs must not hide every other figure. Quick mode (CI) fails on it.
    python_status="failed (see $log)"
    [ "$mode" = quick ] && { echo "bench.sh: the Python benchmark failed" >&2; exit 1; }
  fi
else
  say "python/sqlpool does not exist: Python benchmarks skipped"
fi

loadavg_end="$(cat /proc/loadavg)"
elapsed=$(( $(date +%s) - started ))

# --- the report
cmdline="scripts/bench.sh${1:+ $*}"
report_args=(--root "$root" --target "$target" --results "$results" --mode "$mode"
  --loadavg-start "$loadavg_start" --loadavg-end "$loadavg_end" --elapsed "$elapsed"
  --python-status "$python_status" --command "$cmdline")
if [ "$mode" = quick ]; then
  # Proves the report builds; docs/ is left alone.
  run python3 "$root/benches/report.py" "${report_args[@]}" --out "$bench_dir/BENCHMARKS.quick.md" --no-plot
else
  ensure_venv
  mkdir -p "$root/docs"
  run "$venv/bin/python" "$root/benches/report.py" "${report_args[@]}" \
    --out "$root/docs/BENCHMARKS.md" --plot "$root/docs/throughput.png"
fi
say "done in ${elapsed}s (load average now: $loadavg_end)"
