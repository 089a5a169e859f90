#!/usr/bin/env python3
"""Point query through sqlpool vs Python's sqlite3, side by side in one run.

Generates a small nuPlan-shaped database (examples/nuplan/schema.sql +
generate.sql) unless --db is given, then times the same point query
("SELECT timestamp FROM lidar_pc WHERE token = ?", a different token each
time) several ways, in interleaved rounds, and prints the median
microseconds per query and the ratios the project targets:

    sqlpool (any way)        <= 1.5x   sqlite3 on a held connection
    connection per query     >= 10x    sqlpool

    SQLPOOL_LIBRARY=target/release/libsqlpool.so python3 python/benchmarks/point_query.py
"""

import argparse
import contextlib
import os
import sqlite3
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# This tree's package only when no other is found: PYTHONPATH or an
# installed sqlpool wins (so that an A/B run measures the tree it names).
sys.path.append(os.path.dirname(HERE))

import sqlpool  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "examples", "nuplan"))
from check_sql import generate_db  # noqa: E402
from query_session import execute_one  # noqa: E402  (nuPlan's helper, the reference)

SQL = "SELECT timestamp FROM lidar_pc WHERE token = ?"
WIDE = (
    "SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, "
    "ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token "
    "WHERE lp.token = ?"
)


def timed_rounds(ways, rounds):
    """ways: name -> (fn, ops). Runs each in turn, `rounds` times (interleaved,
    so that a noisy moment hits every way); returns name -> median us per op."""
    times = {name: [] for name in ways}
    for _ in range(rounds):
        for name, (fn, ops) in ways.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e6 / ops)
    return {name: statistics.median(v) for name, v in times.items()}


def fetchone_loop(execute, sql, params):
    """A way for timed_rounds: execute(sql, p).fetchone() for each p in params."""
    def run():
        for p in params:
            execute(sql, p).fetchone()

    return run


@contextlib.contextmanager
def bench_db(db, frames):
    """Yields db's absolute path, or that of a generated nuPlan-shaped database
    of `frames` frames (removed on exit) when db is None."""
    if db is not None:
        yield os.path.abspath(db)
        return
    tmp = tempfile.mkdtemp(prefix="sqlpool-bench-")
    try:
        path = os.path.join(tmp, "nuplan.db")
        generate_db(path, frames=frames)
        yield path
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="an existing nuPlan-shaped database")
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--n", type=int, default=2000, help="queries per round and way")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--sql", choices=["point", "wide"], default="point")
    args = ap.parse_args()
    sql = SQL if args.sql == "point" else WIDE

    with bench_db(args.db, args.frames) as path:
        held = sqlite3.connect(path, check_same_thread=False)
        held_row = sqlite3.connect(path)
        held_row.row_factory = sqlite3.Row
        tokens = [r[0] for r in held.execute("SELECT token FROM lidar_pc ORDER BY timestamp")]
        params = [(tokens[(i * 7) % len(tokens)],) for i in range(args.n)]

        pool = sqlpool.Pool(path)
        conn = pool.connection()
        ro_pool = sqlpool.Pool(path, read_only=True)
        ro_conn = ro_pool.connection()
        sqlpool.execute_one(sql, params[0], path)  # warm the shared pool
        expected = [tuple(held.execute(sql, p).fetchone()) for p in params[:50]]
        assert [tuple(conn.execute(sql, p).fetchone()) for p in params[:50]] == expected
        assert [tuple(sqlpool.execute_one(sql, p, path)) for p in params[:50]] == expected

        def sqlite3_per_query():
            for p in params[: max(1, len(params) // 10)]:
                execute_one(sql, p, path)

        def sqlpool_checkout_per_query():
            for p in params:
                with pool.connection() as c:
                    c.execute(sql, p).fetchone()

        def sqlpool_execute_one():
            ex = sqlpool.execute_one
            for p in params:
                ex(sql, p, path)

        ways = {
            "sqlite3, held connection": (fetchone_loop(held.execute, sql, params), len(params)),
            "sqlite3, held connection, Row": (fetchone_loop(held_row.execute, sql, params), len(params)),
            "sqlite3, connection per query (nuPlan)": (sqlite3_per_query, max(1, len(params) // 10)),
            "sqlpool, held connection": (fetchone_loop(conn.execute, sql, params), len(params)),
            "sqlpool, held connection, read_only pool": (fetchone_loop(ro_conn.execute, sql, params), len(params)),
            "sqlpool, checkout per query": (sqlpool_checkout_per_query, len(params)),
            "sqlpool.execute_one (drop-in)": (sqlpool_execute_one, len(params)),
        }
        us = timed_rounds(ways, args.rounds)
        print(f"{args.sql} query, {args.n} queries x {args.rounds} rounds, median us/query "
              f"(Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, library {sqlpool.library_path})")
        for name, v in us.items():
            print(f"  {name:<42} {v:8.2f} us")
        base = us["sqlite3, held connection"]
        per_query = us["sqlite3, connection per query (nuPlan)"]
        print("ratios:")
        for name in ("sqlpool, held connection", "sqlpool, held connection, read_only pool",
                     "sqlpool, checkout per query", "sqlpool.execute_one (drop-in)"):
            print(f"  {name:<42} {us[name] / base:5.2f}x sqlite3 held    "
                  f"{per_query / us[name]:6.1f}x faster than a connection per query")
        conn.close()
        pool.close()
        ro_conn.close()
        ro_pool.close()


if __name__ == "__main__":
    main()
