#!/usr/bin/env python3
"""sqlpool's Python package against what Python users would otherwise pick,
in one run: a point query and the nuPlan-shaped simulation step.

Ways compared (each in interleaved rounds; the median per round is kept):
  point query ("SELECT timestamp FROM lidar_pc WHERE token = ?", a different
  frame each time):
    sqlite3 held          one sqlite3 connection, held (the floor)
    sqlite3 per query     sqlite3.connect per query (nuPlan's execute_one)
    sqlpool Pool.execute_one, a checkout per query (pool.connection()), and
                          the drop-in sqlpool.execute_one(sql, params, db_file)
    SQLAlchemy QueuePool  engine.raw_connection() per query, and
                          engine.connect() + text() per query
                          (pool_pre_ping=True, as nuPlan's SessionManager)
  the step (145 queries in 8 batches, examples/nuplan/step_queries.sql), a
  connection per batch:
    sqlite3 held (autocommit reads), sqlite3.connect per batch, sqlpool
    (read-only pool: one read snapshot per checkout), SQLAlchemy
    raw_connection and engine.connect() + text().
Every way's rows are checked equal to the held sqlite3 connection's.

Usage: bench_python.py --db DB --step-sql step_queries.sql --out OUT.json [--quick]
The package is found through PYTHONPATH (python/) and the library through
SQLPOOL_LIBRARY, as scripts/bench.sh sets them.
"""

import argparse
import json
import os
import re
import sqlite3
import sys

import sqlalchemy
from sqlalchemy import create_engine, text
from sqlalchemy.pool import QueuePool

import sqlpool

# examples/nuplan: the step's parser and variables, and nuPlan's own helpers;
# python/benchmarks: the interleaved timing of the package's own benchmark.
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "examples", "nuplan"))
sys.path.insert(0, os.path.join(ROOT, "python", "benchmarks"))
from check_sql import parse_step_queries, step_variables  # noqa: E402
from point_query import timed_rounds  # noqa: E402
from query_session import execute_one  # noqa: E402

POINT_SQL = "SELECT timestamp FROM lidar_pc WHERE token = ?"


def step_params(names, token, ts):
    values = step_variables(token, ts)
    return tuple(values[n] for n in names)


def named(sql):
    """? placeholders as :p0, :p1, ... for SQLAlchemy's text()."""
    counter = iter(range(1000))
    return re.sub(r"\?", lambda _: f":p{next(counter)}", sql)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--step-sql", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    path = args.db
    quick = args.quick
    n_point = 200 if quick else 3000
    n_steps = 1 if quick else 6
    rounds = 2 if quick else 9

    held = sqlite3.connect(path, check_same_thread=False)
    frames = held.execute("SELECT token, timestamp FROM lidar_pc ORDER BY timestamp").fetchall()
    params = [(frames[(i * 7) % len(frames)][0],) for i in range(n_point)]
    expected = {p: held.execute(POINT_SQL, p).fetchone()[0] for p in params[:50]}

    pool = sqlpool.Pool(path)
    pool_ro = sqlpool.Pool(path, read_only=True)
    engine = create_engine(
        f"sqlite:///{path}", poolclass=QueuePool, pool_size=5, max_overflow=10, pool_pre_ping=True
    )
    point_text = text(named(POINT_SQL))

    # --- correctness first
    for p, ts in expected.items():
        assert pool.execute_one(POINT_SQL, p)[0] == ts
        with pool.connection() as c:
            assert c.execute(POINT_SQL, p).fetchone()[0] == ts
        assert sqlpool.execute_one(POINT_SQL, p, path)[0] == ts
        assert execute_one(POINT_SQL, p, path)[0] == ts
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(POINT_SQL, p)
            assert cur.fetchone()[0] == ts
            cur.close()
        finally:
            raw.close()
        with engine.connect() as c:
            assert c.execute(point_text, {"p0": p[0]}).fetchone()[0] == ts

    # --- point query
    def sqlite3_held():
        ex = held.execute
        for p in params:
            ex(POINT_SQL, p).fetchone()

    per_query_n = max(1, n_point // 20)

    def sqlite3_per_query():
        for p in params[:per_query_n]:
            execute_one(POINT_SQL, p, path)

    def sqlpool_execute_one():
        ex = pool.execute_one
        for p in params:
            ex(POINT_SQL, p)

    def sqlpool_checkout():
        for p in params:
            with pool.connection() as c:
                c.execute(POINT_SQL, p).fetchone()

    def sqlpool_dropin():
        ex = sqlpool.execute_one
        for p in params:
            ex(POINT_SQL, p, path)

    def sqla_raw():
        for p in params:
            raw = engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute(POINT_SQL, p)
                cur.fetchone()
                cur.close()
            finally:
                raw.close()

    def sqla_text():
        for p in params:
            with engine.connect() as c:
                c.execute(point_text, {"p0": p[0]}).fetchone()

    point = timed_rounds(
        {
            "sqlite3_held": (sqlite3_held, n_point),
            "sqlite3_connect_per_query": (sqlite3_per_query, per_query_n),
            "sqlpool_pool_execute_one": (sqlpool_execute_one, n_point),
            "sqlpool_checkout_per_query": (sqlpool_checkout, n_point),
            "sqlpool_dropin_execute_one": (sqlpool_dropin, n_point),
            "sqlalchemy_raw_connection": (sqla_raw, n_point),
            "sqlalchemy_connect_text": (sqla_text, n_point),
        },
        rounds,
    )

    # --- the step
    batches = parse_step_queries(args.step_sql)
    assert len(batches) == 8 and sum(map(len, batches)) == 145
    texts = {sql: text(named(sql)) for b in batches for sql, _ in b}
    step_frames = [frames[len(frames) // 8 + k * (len(frames) * 3 // 4) // 32] for k in range(32)]

    def run_batch_dbapi(conn, batch, token, ts):
        out = []
        for sql, names in batch:
            cur = conn.execute(sql, step_params(names, token, ts))
            out.append([tuple(r) for r in cur.fetchall()])
        return out

    def step_sqlite3_held(token, ts):
        return [run_batch_dbapi(held, b, token, ts) for b in batches]

    def step_sqlite3_per_batch(token, ts):
        out = []
        for b in batches:
            c = sqlite3.connect(path)
            try:
                out.append(run_batch_dbapi(c, b, token, ts))
            finally:
                c.close()
        return out

    def step_sqlpool(token, ts):
        out = []
        for b in batches:
            with pool_ro.connection() as c:
                out.append([
                    [tuple(r) for r in c.execute(sql, step_params(names, token, ts)).fetchall()]
                    for sql, names in b
                ])
        return out

    def step_sqla_raw(token, ts):
        out = []
        for b in batches:
            raw = engine.raw_connection()
            try:
                cur = raw.cursor()
                rows = []
                for sql, names in b:
                    cur.execute(sql, step_params(names, token, ts))
                    rows.append([tuple(r) for r in cur.fetchall()])
                cur.close()
                out.append(rows)
            finally:
                raw.close()
        return out

    def step_sqla_text(token, ts):
        out = []
        for b in batches:
            with engine.connect() as c:
                out.append([
                    [
                        tuple(r)
                        for r in c.execute(
                            texts[sql],
                            {f"p{i}": v for i, v in enumerate(step_params(names, token, ts))},
                        ).fetchall()
                    ]
                    for sql, names in b
                ])
        return out

    step_ways = {
        "sqlite3_held": step_sqlite3_held,
        "sqlite3_connect_per_batch": step_sqlite3_per_batch,
        "sqlpool_read_only": step_sqlpool,
        "sqlalchemy_raw_connection": step_sqla_raw,
        "sqlalchemy_connect_text": step_sqla_text,
    }
    for token, ts in step_frames[:3]:
        want = step_sqlite3_held(token, ts)
        for name, fn in step_ways.items():
            assert fn(token, ts) == want, f"step rows differ: {name}"

    def steps_of(fn):
        def run():
            for k in range(n_steps):
                fn(*step_frames[k % len(step_frames)])
        return run

    step = timed_rounds({name: (steps_of(fn), n_steps) for name, fn in step_ways.items()}, rounds)

    created_before = pool_ro.stats()["connections_created"]
    for k in range(10):
        step_sqlpool(*step_frames[k])
    created_per_step = (pool_ro.stats()["connections_created"] - created_before) / 10

    result = {
        "quick": quick,
        "python": sys.version.split()[0],
        "sqlite3_sqlite_version": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "sqlpool_library": str(sqlpool.library_path),
        "sqlpool_version": sqlpool.library_version() if callable(sqlpool.library_version) else str(sqlpool.library_version),
        "rounds": rounds,
        "point_query_us": point,
        "step_us": step,
        "step_connections_created_per_step": created_per_step,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    print(f"Python {result['python']}, SQLite {sqlite3.sqlite_version}, SQLAlchemy {sqlalchemy.__version__}")
    print("point query, median us/query:")
    for k, v in point.items():
        print(f"  {k:<32} {v:10.2f}")
    print("step (145 queries), median us/step:")
    for k, v in step.items():
        print(f"  {k:<32} {v:10.1f}")
    pool.close()
    pool_ro.close()
    engine.dispose()


if __name__ == "__main__":
    main()
