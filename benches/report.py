#!/usr/bin/env python3
"""Writes docs/BENCHMARKS.md (and the throughput plot) from one run of
scripts/bench.sh: criterion's estimates (target/criterion/*/new/estimates.json,
the median) and the result files of the other benchmarks (build/bench/results).
Called by scripts/bench.sh; standard library only, plus matplotlib for --plot.
"""

import argparse
import glob
import json
import os
import platform
import re
import subprocess


def sh(*cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def criterion_medians(target):
    """full_id -> median ns."""
    out = {}
    for est in glob.glob(os.path.join(target, "criterion", "**", "new", "estimates.json"), recursive=True):
        bench = load_json(est.replace("estimates.json", "benchmark.json"))
        e = load_json(est)
        if bench and e:
            out[bench["full_id"]] = e["median"]["point_estimate"]
    return out


def fmt_ns(ns):
    if ns is None:
        return "n/a"
    if ns >= 1e6:
        return f"{ns / 1e6:,.2f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:,.1f} µs"
    if ns >= 1e3:
        return f"{ns / 1e3:,.2f} µs"
    return f"{ns:,.1f} ns"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r, digits=2):
    return "n/a" if r is None else f"{r:.{digits}f}×"



def save_figure(fig, axes, title, path, legend_size):
    """A plot's legend (on its first panel), title and file."""
    axes[0][0].legend(loc="best", fontsize=legend_size)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)

def verdict(ok):
    if ok is None:
        return "n/a"
    return "**met**" if ok else "**missed**"


def lock_versions(root):
    """name -> version from Cargo.lock, for the crates the benchmarks use."""
    out = {}
    try:
        text = open(os.path.join(root, "Cargo.lock"), encoding="utf-8").read()
    except OSError:
        return out
    for m in re.finditer(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', text):
        out.setdefault(m.group(1), m.group(2))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--mode", default="full")
    ap.add_argument("--out", required=True)
    ap.add_argument("--plot")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--loadavg-start", default="")
    ap.add_argument("--loadavg-end", default="")
    ap.add_argument("--elapsed", default="")
    ap.add_argument("--python-status", default="")
    ap.add_argument("--command", default="scripts/bench.sh")
    a = ap.parse_args()

    crit = criterion_medians(a.target)
    cont = load_json(os.path.join(a.results, "contended.json")) or {"runs": [], "fifo": []}
    cres = load_json(os.path.join(a.results, "c.json")) or {"results": []}
    c = {f"{r['group']}/{r['name']}": r["median_ns"] for r in cres["results"]}
    stepstats = load_json(os.path.join(a.results, "step_pool_stats.json")) or {}
    py = load_json(os.path.join(a.results, "python.json"))
    K = crit.get

    def run_of(impl, pool, hold, threads):
        size, overflow = pool
        for r in cont["runs"]:
            if (r["impl"], r["pool_size"], r["max_overflow"], r["hold"], r["threads"]) == (
                impl, size, overflow, hold, threads
            ):
                return r
        return None

    # ------------------------------------------------------------ targets
    targets = []  # (target, measured, ok)

    def add(target, value, ok_fn, shown=None):
        ok = None if value is None else ok_fn(value)
        targets.append((target, shown if shown is not None else fmt_ratio(value), ok))

    c_checkout_from_c = c.get("checkout/sqlpool_c")
    c_checkout_rust = K("checkout/sqlpool_c")
    add("C API checkout+checkin, pre_ping on, ≤ 100 ns (from the C program)", c_checkout_from_c,
        lambda v: v <= 100, fmt_ns(c_checkout_from_c))
    add("… same, through the extern functions from Rust", c_checkout_rust, lambda v: v <= 100, fmt_ns(c_checkout_rust))
    r = ratio(K("checkout/r2d2_default"), c_checkout_rust)
    add("≥ 20× faster than r2d2 default (test_on_check_out)", r, lambda v: v >= 20)
    r = ratio(K("checkout/r2d2_unchecked"), c_checkout_rust)
    add("≥ 4× faster than r2d2 unchecked", r, lambda v: v >= 4)
    r = ratio(c_checkout_rust, K("checkout/floor_parking_lot_mutex_vec"))
    add("≤ 2.5× the Mutex<Vec> pop+push floor (parking_lot, same process)", r, lambda v: v <= 2.5)
    r = ratio(c_checkout_from_c, c.get("checkout/floor_pthread_mutex_array"))
    add("… from C: ≤ 2.5× a pthread mutex + array pop+push", r, lambda v: v <= 2.5)

    for imp in ("sqlpool_c", "sqlpool_rust", "sqlpool_rust_unfair"):
        s = run_of(imp, (5, 0), "none", 64)
        rd = run_of("r2d2_default", (5, 0), "none", 64)
        if s and rd:
            add(f"64 threads, pool 5: {imp} throughput ≥ 2× r2d2's", ratio(s["ops_per_s"], rd["ops_per_s"]), lambda v: v >= 2)
            add(f"64 threads, pool 5: {imp} p99 wait ≤ ½ r2d2's", ratio(s["p99_wait_ns"], rd["p99_wait_ns"]), lambda v: v <= 0.5)
    fifo = {f["impl"]: f for f in cont.get("fifo", [])}
    if fifo:
        ok = all(f["in_order"] for k, f in fifo.items() if k == "sqlpool_rust_strict")
        targets.append(("strict mode serves waiters in order (16 waiters, pool of 1)", "yes" if ok else "no", ok))

    r = ratio(c.get("point_query/sqlpool_c_pool_query"), c.get("point_query/held_sqlite3"))
    add("point query through the pool from C ≤ 1.1× a held connection: one call (sqlpool_pool_query)", r,
        lambda v: v <= 1.1)
    r = ratio(c.get("point_query/sqlpool_c"), c.get("point_query/held_sqlite3"))
    add("… seven calls (checkout, prepare, bind, step, column, finalize, checkin)", r, lambda v: v <= 1.1)
    r = ratio(c.get("step/held_read_tx_per_batch"), c.get("step/held_autocommit"))
    add("(floor, no pool: the held connection with a read transaction per batch ≤ 0.4×)", r, lambda v: v <= 0.4)
    for way, key in (("immutable=1 URI, sqlpool_query + sqlpool_fetch", "step/sqlpool_c_read_only_immutable_fetch"),
                     ("sqlpool_query + sqlpool_fetch", "step/sqlpool_c_read_only_fetch"),
                     ("per-column accessors", "step/sqlpool_c_read_only")):
        r = ratio(c.get(key), c.get("step/held_autocommit"))
        add(f"step from C ({way}), read-only pool + snapshot ≤ 0.4× a held autocommit connection", r,
            lambda v: v <= 0.4)
        r = ratio(c.get("step/connection_per_batch"), c.get(key))
        add(f"step from C ({way}) ≥ 6× faster than a connection per batch", r, lambda v: v >= 6)
    created = cres.get("step_connections_created_per_step")
    if created is None and "read_only" in stepstats:
        created = stepstats["read_only"]["connections_created_per_step"]
    add("0 connections created per step after warm-up", created, lambda v: v == 0,
        "n/a" if created is None else f"{created:g}")
    if py:
        p = py["point_query_us"]
        best = min(p["sqlpool_pool_execute_one"], p["sqlpool_checkout_per_query"], p["sqlpool_dropin_execute_one"])
        add("Python point query ≤ 1.5× a held sqlite3 connection (best sqlpool way)", ratio(best, p["sqlite3_held"]), lambda v: v <= 1.5)
        add("… Pool.execute_one", ratio(p["sqlpool_pool_execute_one"], p["sqlite3_held"]), lambda v: v <= 1.5)
        add("Python point query ≥ 10× faster than sqlite3.connect per query", ratio(p["sqlite3_connect_per_query"], best), lambda v: v >= 10)
    sizes = [K(f"scaling_pool_size/sqlpool_c/{n}") for n in (5, 64, 1024)]
    if all(sizes):
        dev = max(abs(s / sizes[0] - 1) for s in sizes)
        add("checkout cost flat (±20 %) from pool size 5 to 1,024", dev, lambda v: v <= 0.2, f"max {dev * 100:.0f} % off size 5")
    pools = [K(f"scaling_pools/sqlpool_c/{n}") for n in (1, 10, 100)]
    if all(pools):
        dev = max(abs(s / pools[0] - 1) for s in pools)
        add("checkout cost flat (±20 %) from 1 to 100 pools", dev, lambda v: v <= 0.2, f"max {dev * 100:.0f} % off 1 pool")

    # ------------------------------------------------------------ machine, versions
    cpu = ""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo", encoding="utf-8"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    versions = lock_versions(a.root)
    git = sh("git", "rev-parse", "--short", "HEAD", cwd=a.root)
    dirty = sh("git", "status", "--porcelain", "--", "src", "include", "Cargo.toml", cwd=a.root)
    source = os.environ.get("SQLPOOL_BENCH_SOURCE") or (
        f"{git}{' + uncommitted changes in src/include' if dirty else ''}" if git else "not a git checkout"
    )

    L = []
    w = L.append
    w("# sqlpool benchmarks\n")
    w("Generated by `scripts/bench.sh` (issue 5). Every figure is a median, and every ratio is "
      "between figures measured in the same run (mostly the same process): the machine is shared "
      "and noisy, so absolute times do not carry from run to run; ratios do, roughly.\n")
    if a.mode != "full":
        w("> **Quick mode**: a smoke run, its timings mean nothing.\n")

    w("## Machine and versions\n")
    w("| | |\n|---|---|")
    w(f"| CPU | {cpu} × {os.cpu_count()} (nproc) |")
    w(f"| memory | {mem} |")
    w(f"| load average (1, 5, 15 min) at start | {' '.join(a.loadavg_start.split()[:3])} |")
    w(f"| load average at end | {' '.join(a.loadavg_end.split()[:3])} |")
    w(f"| kernel | {platform.release()} |")
    w(f"| run time | {a.elapsed} s |")
    w(f"| sqlpool | {cres.get('sqlpool_version', '?')}, source: {source} |")
    w(f"| SQLite (bundled, used by sqlpool, rusqlite, r2d2 and the C program) | {cres.get('sqlite_version', '?')} |")
    w(f"| rustc | {sh('rustc', '--version')} |")
    w(f"| C compiler | {sh('cc', '--version').splitlines()[0] if sh('cc', '--version') else '?'} |")
    w(f"| crates | rusqlite {versions.get('rusqlite', '?')}, r2d2 {versions.get('r2d2', '?')}, "
      f"r2d2_sqlite {versions.get('r2d2_sqlite', '?')}, criterion {versions.get('criterion', '?')}, "
      f"parking_lot {versions.get('parking_lot', '?')} |")
    if py:
        w(f"| Python | {py['python']}, its sqlite3 module on SQLite {py['sqlite3_sqlite_version']}, "
          f"SQLAlchemy {py['sqlalchemy']} |")
    w(f"| Python benchmarks | {a.python_status} |")
    w("")
    w(f"Command: `{a.command}` (see the header of scripts/bench.sh for what it runs; "
      "criterion with `--warm-up-time 1 --measurement-time 3`).\n")

    w("## Targets of issue 5\n")
    w("| target | measured | |\n|---|---|---|")
    for t, m, ok in targets:
        w(f"| {t} | {m} | {verdict(ok)} |")
    w("")

    # ------------------------------------------------------------ details
    w("## Uncontended checkout + checkin\n")
    floor = K("checkout/floor_parking_lot_mutex_vec")
    w("One thread, a connection taken and given back (criterion, same process; "
      "the C program's figures measured from C).\n")
    w("| what | median | × floor (parking_lot Mutex<Vec>) |\n|---|---|---|")
    rows = [
        ("floor: parking_lot `Mutex<Vec<Box<_>>>` pop+push", "checkout/floor_parking_lot_mutex_vec"),
        ("floor: std `Mutex<Vec<Box<_>>>` pop+push", "checkout/floor_std_mutex_vec"),
        ("`Instant::now()`", "checkout/instant_now"),
        ("sqlpool Rust API (defaults: pre_ping, recycle)", "checkout/sqlpool_rust"),
        ("sqlpool Rust API, no pre_ping, no recycle", "checkout/sqlpool_rust_no_preping_no_recycle"),
        ("sqlpool C API via its extern fns (defaults)", "checkout/sqlpool_c"),
        ("sqlpool C API via its extern fns, no pre_ping", "checkout/sqlpool_c_no_preping"),
        ("r2d2 + r2d2_sqlite, default test_on_check_out", "checkout/r2d2_default"),
        ("r2d2 + r2d2_sqlite, test_on_check_out off", "checkout/r2d2_unchecked"),
    ]
    for name, key in rows:
        w(f"| {name} | {fmt_ns(K(key))} | {fmt_ratio(ratio(K(key), floor))} |")
    cfloor = c.get("checkout/floor_pthread_mutex_array")
    for name, key in [
        ("from C: floor, pthread mutex + array pop+push", "checkout/floor_pthread_mutex_array"),
        ("from C: sqlpool_checkout + sqlpool_checkin (defaults)", "checkout/sqlpool_c"),
        ("from C: same, no pre_ping", "checkout/sqlpool_c_no_preping"),
    ]:
        w(f"| {name} | {fmt_ns(c.get(key))} | {fmt_ratio(ratio(c.get(key), cfloor))} of the C floor |")
    w("")
    w("Note: with rusqlite 0.32, r2d2_sqlite's `is_valid` is `execute_batch(\"\")`, which returns "
      "without calling SQLite, so r2d2's default check costs almost nothing here; the 2,079 ns "
      "of the issue's reference table cannot be reproduced with this r2d2_sqlite, and the "
      "“≥ 20× r2d2 default” target then asks for less than 10 ns.\n")

    w("## Contended: throughput and wait\n")
    w(f"Each thread does a fixed share of the operations: checkout (timed: the wait), the hold, "
      f"checkin. Median of {cont.get('reps', '?')} interleaved runs by ops/s; p50/p99/max of the "
      "checkout time of every operation of that run. `waits` = checkouts that had to queue "
      "(sqlpool's stats). r2d2 for “5+10” is max_size 15, min_idle 5.\n")
    for hold, title in (("none", "hold: nothing (the pool alone)"), ("point_query", "hold: one point query")):
        w(f"### {title}\n")
        w("| pool | threads | impl | ops/s | p50 wait | p99 wait | p99.9 wait | max wait | waits | handoffs / barges |\n"
          "|---|---|---|---|---|---|---|---|---|---|")
        for pool in ((5, 0), (5, 10)):
            for t in (1, 2, 8, 64):
                for imp in CONTENDED_IMPLS:
                    r = run_of(imp, pool, hold, t)
                    if not r:
                        continue
                    waits = "" if r["pool_waits"] is None else f"{r['pool_waits']:,}"
                    p999 = fmt_ns(r["p999_wait_ns"]) if "p999_wait_ns" in r else ""
                    moves = "" if r.get("handoffs") is None else f"{r['handoffs']:,} / {r['barges']:,}"
                    w(f"| {pool[0]}+{pool[1]} | {t} | {imp} | {r['ops_per_s']:,.0f} | {fmt_ns(r['p50_wait_ns'])} | "
                      f"{fmt_ns(r['p99_wait_ns'])} | {p999} | {fmt_ns(r['max_wait_ns'])} | {waits} | {moves} |")
        w("")
    if fifo:
        w("Waiters served in order (a pool of one connection, held; 16 threads queue one after "
          "the other, then it is checked in):\n")
        for k, f in fifo.items():
            w(f"- {k}: {'in order' if f['in_order'] else 'out of order'}: {f['order']}")
        w("\n(r2d2 tells no count of waiters, so its threads are given 20 ms each to block; with no "
          "thread arriving meanwhile, its condvar happens to serve them in order too.)\n")
        w("sqlpool_rust is the default, bounded fairness: a running thread may take a returned "
          "connection ahead of the queue while its oldest waiter has waited less than "
          "T = max(2 ms, 500 µs × waiters); after that connections go to the waiters in order. "
          "sqlpool_rust_strict (`fair = true`) hands every returned connection to the first "
          "waiter: a park and a wake-up (a thread switch) per checkout once a queue has formed. "
          "sqlpool_rust_unfair (`fair = false`, barging) never hands off, and bounds no wait. "
          "mutex_condvar is a pool written by hand (a vector under a mutex, a condition "
          "variable). Handoffs: checkouts given to a queued waiter; barges: checkouts taken "
          "while others were queued.\n")
    if a.plot and not a.no_plot:
        w(f"![throughput against threads](throughput.png)\n")

    w("## Point query\n")
    w("`SELECT timestamp FROM lidar_pc WHERE token = ?`, one row by primary key, a different frame "
      "each time, on the nuPlan-shaped database; whole round trip (checkout, prepare from the "
      "statement cache, bind, step, read, finalize, checkin).\n")
    held = K("point_query/held_rusqlite")
    w("| what | median | × held |\n|---|---|---|")
    for name, key in [
        ("held rusqlite connection, prepare_cached (floor)", "point_query/held_rusqlite"),
        ("sqlpool Rust API (defaults)", "point_query/sqlpool_rust"),
        ("sqlpool Rust API, read-only pool (snapshot)", "point_query/sqlpool_rust_read_only"),
        ("sqlpool C API via extern fns (defaults)", "point_query/sqlpool_c"),
        ("sqlpool C API via extern fns, read-only pool", "point_query/sqlpool_c_read_only"),
        ("r2d2 get + prepare_cached + drop", "point_query/r2d2_default"),
        ("open + query + close", "point_query/open_per_query"),
    ]:
        w(f"| {name} | {fmt_ns(K(key))} | {fmt_ratio(ratio(K(key), held))} |")
    w("")
    w("From the C program (benches/c/bench_c.c, linked with libsqlpool.a and so with the same "
      "SQLite), in three phases (checkout and point query; the step; what opens connections), "
      "each with its own interleaved repetitions. Seven calls per query (checkout, prepare, "
      "bind, step, column, finalize, checkin) against one (sqlpool_pool_query: the same work "
      "inside the library, the row written to a buffer).\n")
    w("| what | median | × C held |\n|---|---|---|")
    cheld = c.get("point_query/held_sqlite3")
    for name, key in [
        ("from C: held sqlite3 connection, statement kept (floor)", "point_query/held_sqlite3"),
        ("from C: through the pool (defaults)", "point_query/sqlpool_c"),
        ("from C: through a read-only pool", "point_query/sqlpool_c_read_only"),
        ("from C: one call, sqlpool_pool_query (defaults)", "point_query/sqlpool_c_pool_query"),
        ("from C: sqlite3_open_v2 + query + close", "point_query/open_per_query"),
    ]:
        w(f"| {name} | {fmt_ns(c.get(key))} | {fmt_ratio(ratio(c.get(key), cheld))} |")
    w("")

    w("## The nuPlan-shaped simulation step\n")
    w("145 read-only queries in 8 batches (examples/nuplan/step_queries.sql), a connection per "
      "batch, one thread, cycling over 32 frames; every way's rows are checked against the held "
      "connection's (the simulator's checksum). The step has the weight of issue 5's reference "
      "step (mostly point lookups, a handful of rows per frame, about 190 rows a step); the former, "
      "15 times heavier step is examples/nuplan/step_queries_heavy.sql.\n")
    hs = K("step/held_autocommit")
    w("| what | median per step | × held autocommit |\n|---|---|---|")
    for name, key in [
        ("held rusqlite connection, autocommit", "step/held_autocommit"),
        ("held rusqlite connection, one read transaction per batch (the snapshot's floor)", "step/held_read_tx_per_batch"),
        ("sqlpool Rust API, read-only pool (snapshot per checkout)", "step/sqlpool_rust_read_only"),
        ("sqlpool C API via extern fns, read-only pool", "step/sqlpool_c_read_only"),
        ("sqlpool Rust API, defaults (autocommit)", "step/sqlpool_rust_autocommit"),
        ("r2d2 (default), prepare_cached", "step/r2d2_default"),
        ("r2d2 + one read transaction per batch", "step/r2d2_read_tx_per_batch"),
        ("new rusqlite connection per batch (nuPlan)", "step/connection_per_batch"),
    ]:
        w(f"| {name} | {fmt_ns(K(key))} | {fmt_ratio(ratio(K(key), hs))} |")
    chs = c.get("step/held_autocommit")
    for name, key in [
        ("from C: held sqlite3 connection, autocommit, statements kept", "step/held_autocommit"),
        ("from C: same, one read transaction per batch (the snapshot's floor)", "step/held_read_tx_per_batch"),
        ("from C: read-only pool, snapshot per checkout, per-column accessors", "step/sqlpool_c_read_only"),
        ("from C: same, a query per sqlpool_query call (rows fetched into a buffer)", "step/sqlpool_c_read_only_fetch"),
        ("from C: same, the pool on an immutable=1 URI (no locking: files that never change)",
         "step/sqlpool_c_read_only_immutable_fetch"),
        ("from C: sqlite3_open_v2 per batch", "step/connection_per_batch"),
    ]:
        w(f"| {name} | {fmt_ns(c.get(key))} | {fmt_ratio(ratio(c.get(key), chs))} of C held |")
    w("")
    if stepstats:
        w("sqlpool's pool stats over steps after a 10-step warm-up (Rust API):\n")
        w("| pool | steps | connections created / step | checkouts / step | statement cache misses / step | hits / step | connections open |\n|---|---|---|---|---|---|---|")
        for k, s in stepstats.items():
            w(f"| {k} | {s['steps']} | {s['connections_created_per_step']:g} | {s['checkouts_per_step']:g} | "
              f"{s['statement_cache_misses_per_step']:g} | {s['statement_cache_hits_per_step']:g} | {s['connections_open']} |")
        w("")

    w("## Python\n")
    if py:
        p = py["point_query_us"]
        lib = py["sqlpool_library"]
        if lib.startswith(a.root + os.sep):
            lib = os.path.relpath(lib, a.root)
        elif lib.startswith(a.target + os.sep):
            lib = "target/" + os.path.relpath(lib, a.target)
        w(f"The package python/sqlpool (ctypes, library {lib}) against Python's "
          f"sqlite3 (SQLite {py['sqlite3_sqlite_version']}) and SQLAlchemy {py['sqlalchemy']} "
          "QueuePool (pool_size 5, max_overflow 10, pool_pre_ping=True, as nuPlan's SessionManager). "
          f"Median of {py['rounds']} interleaved rounds.\n")
        w("| point query | µs | × sqlite3 held |\n|---|---|---|")
        for k, v in p.items():
            w(f"| {k} | {v:,.2f} | {fmt_ratio(ratio(v, p['sqlite3_held']))} |")
        w("")
        s = py["step_us"]
        w("| step (145 queries, 8 batches) | ms | × sqlite3 held |\n|---|---|---|")
        for k, v in s.items():
            w(f"| {k} | {v / 1000:,.2f} | {fmt_ratio(ratio(v, s['sqlite3_held']))} |")
        w(f"\nConnections created per step after warm-up (read-only pool): {py['step_connections_created_per_step']:g}\n")
    else:
        w(f"Not run: {a.python_status}.\n")

    w("## Scaling\n")
    w("Checkout + checkin through the C API (extern fns), with every connection of the pool open "
      "and idle; then with N pools open in the process (measuring the middle one).\n")
    w("| what | C API | Rust API |\n|---|---|---|")
    for n in (5, 64, 1024):
        w(f"| pool size {n:,} | {fmt_ns(K(f'scaling_pool_size/sqlpool_c/{n}'))} | {fmt_ns(K(f'scaling_pool_size/sqlpool_rust/{n}'))} |")
    for n in (1, 10, 100):
        w(f"| {n} pools alive | {fmt_ns(K(f'scaling_pools/sqlpool_c/{n}'))} | |")
    w("")

    ccont = load_json(os.path.join(a.results, "contended_c.json")) or {"runs": []}
    issue11_section(w, run_of, fifo, c, ccont, a)
    many_pools_section(w, os.path.join(a.results, "many_pools.txt"))
    issue12_section(w, load_json(os.path.join(a.results, "orm_dbapi.json")))

    # The analyses made by hand (how choices were made, where time goes):
    # kept in benches/analyses.md so that a regeneration keeps them.
    analyses = os.path.join(a.root, "benches", "analyses.md")
    if os.path.exists(analyses):
        with open(analyses, encoding="utf-8") as f:
            w("")
            w(f.read().rstrip("\n"))

    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(L) + "\n")
    print(f"report: wrote {a.out}")

    if a.plot and not a.no_plot:
        plot(cont, a.plot)
        print(f"report: wrote {a.plot}")
        frontier = os.path.join(os.path.dirname(a.plot), "frontier.png")
        plot_frontier(cont, ccont, frontier)
        print(f"report: wrote {frontier}")


CONTENDED_IMPLS = ("sqlpool_rust", "sqlpool_rust_strict", "sqlpool_rust_unfair", "sqlpool_c",
                   "r2d2_default", "r2d2_unchecked", "mutex_condvar")


def plot(cont, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        "sqlpool_rust": ("sqlpool (Rust API, bounded)", "#1f77b4", "o", "-"),
        "sqlpool_rust_strict": ("sqlpool (Rust API, strict)", "#8c564b", "P", "-."),
        "sqlpool_rust_unfair": ("sqlpool (Rust API, barging)", "#9467bd", "D", ":"),
        "mutex_condvar": ("mutex + condvar by hand", "#7f7f7f", "x", ":"),
        "sqlpool_c": ("sqlpool (C API)", "#2ca02c", "s", "-"),
        "r2d2_default": ("r2d2 (default check)", "#d62728", "^", "--"),
        "r2d2_unchecked": ("r2d2 (no check)", "#ff7f0e", "v", "--"),
    }
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
    for row, (hold, htitle) in enumerate((("none", "hold: nothing"), ("point_query", "hold: one point query"))):
        for col, pool in enumerate(((5, 0), (5, 10))):
            ax = axes[row][col]
            for imp, (label, color, marker, ls) in styles.items():
                pts = sorted(
                    (r["threads"], r["ops_per_s"])
                    for r in cont["runs"]
                    if r["impl"] == imp and (r["pool_size"], r["max_overflow"]) == pool and r["hold"] == hold
                )
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] / 1000 for p in pts], marker=marker, ls=ls,
                            color=color, label=label)
            ax.set_xscale("log", base=2)
            ax.set_xticks([1, 2, 8, 64])
            ax.set_xticklabels(["1", "2", "8", "64"])
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            ax.set_title(f"pool {pool[0]}+{pool[1]}, {htitle}")
            if col == 0:
                ax.set_ylabel("thousand checkouts / s")
            if row == 1:
                ax.set_xlabel("threads (2 cores)")
    save_figure(fig, axes, "Contended checkout throughput: sqlpool vs r2d2 (median of interleaved runs)", path, 9)


def issue11_section(w, run_of, fifo, c, ccont, a):
    """Issue 11: the fairness modes' targets, the same runs seen as ratios to
    r2d2, the C program's contended runs, and the frontier plot."""
    w("## Fairness modes under contention (issue 11)\n")
    w("The contended runs above, as issue 11 asks for them: the default (bounded: a running "
      "thread may take a returned connection while the oldest waiter has waited less than "
      "T = max(2 ms, 500 µs × waiters), then connections go to waiters in order) against "
      "strict (FIFO, direct handoff), barging (never hands off), r2d2 and a mutex + condvar "
      "pool written by hand; then from C, sqlpool's C API against the same pool written in C "
      "(benches/c/contended_c.c). Ratios are between runs of the same process, interleaved.\n")
    rows = []  # (target, measured, ok)

    def x(imp, pool, hold, t, base="r2d2_default", key="ops_per_s"):
        r, b = run_of(imp, pool, hold, t), run_of(base, pool, hold, t)
        return ratio(r[key], b[key]) if r and b else None

    for pool in ((5, 0), (5, 10)):
        rs = [(t, x("sqlpool_rust", pool, "point_query", t)) for t in (1, 2, 8, 64)]
        if all(v is not None for _, v in rs):
            rows.append((f"≥ 1.0× r2d2's throughput, point query held, {pool[0]}+{pool[1]}, 1/2/8/64 threads",
                         ", ".join(f"{fmt_ratio(v)} ({t})" for t, v in rs), all(v >= 1.0 for _, v in rs)))
        rs = [(t, x("sqlpool_rust", pool, "none", t)) for t in (8, 64)]
        if all(v is not None for _, v in rs):
            rows.append((f"≥ 2× r2d2's throughput, no hold, {pool[0]}+{pool[1]}, 8/64 threads",
                         ", ".join(f"{fmt_ratio(v)} ({t})" for t, v in rs), all(v >= 2.0 for _, v in rs)))
        for hold in ("point_query", "none"):
            for base, bname in (("r2d2_default", "r2d2's"), ("sqlpool_rust_unfair", "barging's")):
                me, other = run_of("sqlpool_rust", pool, hold, 64), run_of(base, pool, hold, 64)
                if me and other:
                    v = ratio(me["max_wait_ns"], other["max_wait_ns"])
                    rows.append((f"max wait at 64 threads ≤ ½ {bname}, {hold}, {pool[0]}+{pool[1]}",
                                 f"{fmt_ns(me['max_wait_ns'])} vs {fmt_ns(other['max_wait_ns'])} ({fmt_ratio(v)})",
                                 v is not None and v <= 0.5))
    if fifo.get("sqlpool_rust_strict"):
        f = fifo["sqlpool_rust_strict"]
        rows.append(("strict mode serves waiters in order (16 waiters, pool of 1)",
                     "in order" if f["in_order"] else "out of order", f["in_order"]))
    r = ratio(c.get("checkout/sqlpool_c"), c.get("checkout/floor_pthread_mutex_array"))
    rows.append(("uncontended checkout + checkin from C ≤ 2.5× a pthread mutex + array (same run)",
                 f"{fmt_ns(c.get('checkout/sqlpool_c'))} vs {fmt_ns(c.get('checkout/floor_pthread_mutex_array'))} "
                 f"({fmt_ratio(r)})", None if r is None else r <= 2.5))
    w("| target | measured | |\n|---|---|---|")
    for t, m, ok in rows:
        w(f"| {t} | {m} | {verdict(ok)} |")
    w("")
    w("Each configuration below: the median of the interleaved runs by ops/s, with that run's "
      "waits (time in checkout). Handoffs: checkouts given to a queued waiter; barges: taken "
      "while others were queued.\n")
    for hold, pool in (("point_query", (5, 0)), ("point_query", (5, 10)), ("none", (5, 0)), ("none", (5, 10))):
        w(f"### {'point query held' if hold == 'point_query' else 'no hold'}, pool {pool[0]}+{pool[1]}\n")
        w("| threads | impl | ops/s | × r2d2 | p50 | p99 | p99.9 | max wait | handoffs / barges |\n"
          "|---|---|---|---|---|---|---|---|---|")
        for t in (1, 2, 8, 64):
            for imp, label in (("sqlpool_rust", "sqlpool bounded (default)"), ("sqlpool_rust_strict", "sqlpool strict"),
                               ("sqlpool_rust_unfair", "sqlpool barging"), ("r2d2_default", "r2d2"),
                               ("mutex_condvar", "mutex + condvar by hand")):
                r = run_of(imp, pool, hold, t)
                if not r:
                    continue
                moves = "" if r.get("handoffs") is None else f"{r['handoffs']:,} / {r['barges']:,}"
                w(f"| {t} | {label} | {r['ops_per_s']:,.0f} | {fmt_ratio(x(imp, pool, hold, t))} | "
                  f"{fmt_ns(r['p50_wait_ns'])} | {fmt_ns(r['p99_wait_ns'])} | {fmt_ns(r.get('p999_wait_ns'))} | "
                  f"{fmt_ns(r['max_wait_ns'])} | {moves} |")
        w("")
    cruns = ccont.get("runs", [])
    if cruns:
        def crun(imp, pool, hold, t):
            for r in cruns:
                if (r["impl"], r["pool_size"], r["max_overflow"], r["hold"], r["threads"]) == (imp, pool[0], pool[1], hold, t):
                    return r
            return None
        w("### From C: sqlpool's C API against a pthread mutex + condvar pool\n")
        w("benches/c/contended_c.c: the hand-written pool keeps one prepared statement per connection "
          "(a C++ simulator's natural shape); sqlpool's point query is prepare (from its statement "
          "cache), bind, step, column, finalize. × hand: ops/s over the hand pool's in the same run.\n")
        w("| hold | pool | threads | impl | ops/s | × hand | p50 | p99 | p99.9 | max wait |\n"
          "|---|---|---|---|---|---|---|---|---|---|")
        for hold in ("point_query", "none"):
            for pool in ((5, 0), (5, 10)):
                for t in (1, 2, 8, 64):
                    hand = crun("c_mutex_condvar", pool, hold, t)
                    for imp, label in (("c_sqlpool", "sqlpool bounded (default)"), ("c_sqlpool_strict", "sqlpool strict"),
                                       ("c_mutex_condvar", "mutex + condvar in C")):
                        r = crun(imp, pool, hold, t)
                        if not r:
                            continue
                        w(f"| {hold} | {pool[0]}+{pool[1]} | {t} | {label} | {r['ops_per_s']:,.0f} | "
                          f"{fmt_ratio(ratio(r['ops_per_s'], hand['ops_per_s']) if hand else None)} | "
                          f"{fmt_ns(r['p50_wait_ns'])} | {fmt_ns(r['p99_wait_ns'])} | {fmt_ns(r['p999_wait_ns'])} | "
                          f"{fmt_ns(r['max_wait_ns'])} |")
        w("")
    if a.plot and not a.no_plot:
        w("![throughput against max wait](frontier.png)\n")


MANY_POOLS_TAGS = (("many-raw", "SQLite connections, no pool (the floor)"), ("many-pools", "`Pool::open`"),
                   ("many-shared", "`shared::open_shared`"),
                   ("many-shared-budget", "`shared::open_shared`, budget of 64 connections"))


def many_pools_section(w, path):
    """Issue 11 §4, from the output of tests/many_pools.rs."""
    import re

    w("## Thousands of pools in one process (issue 11 §4)\n")
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        w("Not run (full mode only: `tests/many_pools.rs`).\n")
        return
    w("`tests/many_pools.rs` (ignored tests that print, never assert, times), one test per process, "
      "release build: 10,000 empty database files in directories of 100, one pool (or bare "
      "connection) each; then each pool used once and the monitor thread's CPU time (utime + "
      "stime from /proc, 10 ms resolution) read over 10 s idle. Fork: the parent's time in "
      "fork() (handlers included) and sqlpool's prepare handler alone (timed by handlers "
      "registered before and after it), best of 5. Targets: open cost flat, monitor idle CPU "
      "< 1 % of a core, fork prepare < 5 ms.\n")
    w("| | opening pools 1..1,000 | 9,001..10,000 | monitor CPU, 10 s idle | fork() in the parent | "
      "its minor page faults | sqlpool's prepare handler | sqlpool's parent handler |\n"
      "|---|---|---|---|---|---|---|---|")

    def find(pattern, fmt):
        m = re.search(pattern, text, re.M)
        return fmt(m) if m else ""

    for tag, label in MANY_POOLS_TAGS:
        cells = [
            find(rf"^{tag}: pools +1\.\. *1000 opened in +([\d.]+) ms", lambda m: f"{m[1]} ms"),
            find(rf"^{tag}: pools +9001\.\.10000 opened in +([\d.]+) ms", lambda m: f"{m[1]} ms"),
            find(rf"^{tag}: monitor thread CPU .*?: (\d+) ms \(([\d.]+) % of a core\)",
                 lambda m: f"{m[1]} ms ({m[2]} % of a core)"),
            find(rf"^{tag}: fork\(\) with .*?: ([\d.]+) ms", lambda m: f"{m[1]} ms"),
            find(rf"^{tag}: fork\(\) with .*?(\d+) minor page faults", lambda m: f"{int(m[1]):,}"),
            find(rf"^{tag}: sqlpool's fork prepare handler .*?: ([\d.]+) ms \(best of 5; worst ([\d.]+) ms\)",
                 lambda m: f"{m[1]} ms (worst {m[2]} ms)"),
            find(rf"^{tag}: sqlpool's fork parent handler .*?: ([\d.]+) ms \(best of 5; worst ([\d.]+) ms\)",
                 lambda m: f"{m[1]} ms (worst {m[2]} ms)"),
        ]
        w(f"| {label} | " + " | ".join(cells) + " |")
    w("")
    w("The parent handler's time is copy-on-write: it releases each pool's locks, so it writes "
      "about one page per pool while the child still shares them, and each such page is a minor "
      "fault and a 4 KiB copy (the page-fault column). The prepare handler only takes locks "
      "(their pages are written before fork() copies the page tables).\n")


def issue12_section(w, o):
    """Issue 12: python/benchmarks/orm_dbapi.py."""
    w("## Python: DB-API module, SQLAlchemy dialect, SessionManager (issue 12)\n")
    if not o:
        w("Not run.\n")
        return
    w(f"`python/benchmarks/orm_dbapi.py` (Python {o['python']}, SQLAlchemy {o['sqlalchemy']}; a nuPlan-shaped "
      f"log, {o['lookups']:,} lookups per round and way, {o['rounds']} interleaved rounds, medians).\n")
    orm, db, th = o["orm_get_us"], o["dbapi_point_query_us"], o["threads_lookups_per_s"]
    sm, qp = orm.get("SessionManager (sqlpool)"), orm.get("SQLAlchemy QueuePool, pysqlite")
    d, h = db.get("sqlpool.dbapi2 cursor"), db.get("sqlite3 cursor, held connection")
    r1, r2 = ratio(sm, qp), ratio(d, h)
    w("| target | measured | |\n|---|---|---|")
    w(f"| ORM `session.get` by token: SessionManager ≤ 1.0× SQLAlchemy's QueuePool on pysqlite | "
      f"{sm:.1f} µs vs {qp:.1f} µs ({fmt_ratio(r1)}) | {verdict(r1 is not None and r1 <= 1.0)} |")
    w(f"| DB-API cursor point query: `sqlpool.dbapi2` ≤ 1.2× a held `sqlite3` connection | "
      f"{d:.2f} µs vs {h:.2f} µs ({fmt_ratio(r2)}) | {verdict(r2 is not None and r2 <= 1.2)} |")
    w("")
    w("| ORM `session.get` | µs per lookup |\n|---|---|")
    for k, v in orm.items():
        w(f"| {k} | {v:,.1f} |")
    w("")
    w("| DB-API point query | µs per query |\n|---|---|")
    for k, v in db.items():
        w(f"| {k} | {v:,.2f} |")
    w("")
    w(f"| {o['threads']} threads with a session each, {o['thread_queries']:,} lookups each | lookups/s |\n|---|---|")
    for k, v in th.items():
        w(f"| {k} | {v:,.0f} |")
    w("")


def plot_frontier(cont, ccont, path):
    """Throughput against max wait at 8 and 64 threads: up and left is better."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        "sqlpool_rust": ("sqlpool bounded (default)", "#1f77b4", "o"),
        "sqlpool_rust_strict": ("sqlpool strict", "#8c564b", "P"),
        "sqlpool_rust_unfair": ("sqlpool barging", "#9467bd", "D"),
        "r2d2_default": ("r2d2", "#d62728", "^"),
        "mutex_condvar": ("mutex + condvar (Rust, by hand)", "#7f7f7f", "x"),
        "c_mutex_condvar": ("mutex + condvar (C, by hand)", "#000000", "*"),
        "c_sqlpool": ("sqlpool C API from C, bounded", "#2ca02c", "s"),
    }
    runs = cont.get("runs", []) + ccont.get("runs", [])
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for row, (hold, htitle) in enumerate((("point_query", "point query held"), ("none", "no hold"))):
        for col, pool in enumerate(((5, 0), (5, 10))):
            ax = axes[row][col]
            for imp, (label, color, marker) in styles.items():
                for t, filled in ((64, True), (8, False)):
                    pts = [r for r in runs if r["impl"] == imp and r["hold"] == hold and r["threads"] == t
                           and (r["pool_size"], r["max_overflow"]) == pool]
                    for r in pts:
                        ax.scatter([max(r["max_wait_ns"], 1) / 1e6], [r["ops_per_s"] / 1000], color=color,
                                   marker=marker, s=60, facecolors=color if filled else "none",
                                   label=f"{label}" if t == 64 else None)
            ax.set_xscale("log")
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            ax.set_title(f"{htitle}, pool {pool[0]}+{pool[1]} (filled: 64 threads, hollow: 8)")
            ax.set_xlabel("max wait in checkout (ms, log)")
            if col == 0:
                ax.set_ylabel("thousand checkouts / s")
    save_figure(fig, axes, "Throughput against the worst wait: up and to the left is better", path, 8)


if __name__ == "__main__":
    main()
