#!/usr/bin/env python3
"""nuPlan-style simulation steps in Ray workers, reading the log through sqlpool.

The pattern: each Ray worker process keeps one pool per log file (the
drop-in ``sqlpool.execute_many`` / ``execute_one`` take it from the
process's shared registry on first use), so a worker that simulates many
steps opens its connections once instead of once per query. Nothing
SQLite-related crosses process boundaries: tasks receive the file name and
the step variables; pools are created inside the workers.

The same steps run once in this process with Python's sqlite3 (a new
connection per query batch, as nuPlan does) and the results are checked
equal.

    pip install ./python ray
    SQLPOOL_LIBRARY=target/release/libsqlpool.so python3 examples/ray_simulation.py --steps 40
"""

import argparse
import os
import sqlite3
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "nuplan"))
from check_sql import parse_step_queries  # noqa: E402

import ray  # noqa: E402

import sqlpool  # noqa: E402

QUERIES = parse_step_queries(os.path.join(HERE, "nuplan", "step_queries.sql"))


def generate(path, frames):
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(open(os.path.join(HERE, "nuplan", "schema.sql"), encoding="utf-8").read())
    db.execute("INSERT INTO gen_params (id, frames) VALUES (1, ?)", (frames,))
    db.executescript(open(os.path.join(HERE, "nuplan", "generate.sql"), encoding="utf-8").read())
    db.close()


def step_variables(frames, step):
    token, ts = frames[(step * 7) % len(frames)]
    return {"lidar_pc_token": token, "timestamp": ts,
            "timestamp_window_start": ts - 2_000_000, "timestamp_window_end": ts + 8_000_000}


def run_step(query, db_file, variables):
    """One simulation step: the 145 queries, batch by batch, rows as tuples."""
    return [[tuple(r) for r in query(sql, [variables[n] for n in names], db_file)]
            for batch in QUERIES for sql, names in batch]


def sqlite3_execute_many(sql, params, db_file):
    """nuPlan's query_session.execute_many: a new connection per query."""
    conn = sqlite3.connect(db_file)
    try:
        yield from conn.execute(sql, params)
    finally:
        conn.close()


@ray.remote
def simulate(db_file, steps):
    """A Ray task: several steps through sqlpool's drop-in, in this worker's pool."""
    t0 = time.perf_counter()
    results = [run_step(sqlpool.execute_many, db_file, v) for v in steps]
    return os.getpid(), time.perf_counter() - t0, results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="a nuPlan-shaped log (default: generate one)")
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="sqlpool-ray-")
    db_file = args.db or os.path.join(tmp.name, "log.db")
    if not args.db:
        generate(db_file, args.frames)
    conn = sqlite3.connect(db_file)
    frames = conn.execute("SELECT token, timestamp FROM lidar_pc ORDER BY timestamp").fetchall()
    conn.close()
    steps = [step_variables(frames, s) for s in range(args.steps)]

    t0 = time.perf_counter()
    expected = [run_step(sqlite3_execute_many, db_file, v) for v in steps]
    sqlite3_s = time.perf_counter() - t0

    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {k: v for k, v in os.environ.items() if k == "SQLPOOL_LIBRARY"}})
    try:
        chunk = max(1, len(steps) // (args.workers * 2))
        tasks = [simulate.remote(db_file, steps[i:i + chunk]) for i in range(0, len(steps), chunk)]
        done = ray.get(tasks)
    finally:
        ray.shutdown()
    got = [step for _, _, results in done for step in results]
    assert got == expected, "sqlpool in Ray workers differs from sqlite3"
    worker_s = sum(s for _, s, _ in done)
    pids = {pid for pid, _, _ in done}
    print(f"{len(steps)} steps x 145 queries: identical results in {len(pids)} Ray worker processes")
    print(f"  sqlite3, connection per query, one process: {sqlite3_s * 1000 / len(steps):.2f} ms/step")
    print(f"  sqlpool drop-in, inside the Ray workers:    {worker_s * 1000 / len(steps):.2f} ms/step")
    tmp.cleanup()


if __name__ == "__main__":
    main()
