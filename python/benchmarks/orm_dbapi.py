#!/usr/bin/env python3
"""The SessionManager, the dialect and the DB-API module against what they
replace, side by side in one run (interleaved rounds, median us per query):

  1. ORM point lookup by token (session.get of a LidarPc, a new token each
     time): sqlpool's SessionManager vs nuPlan's engine-per-thread (creator
     returning a read-only sqlite3 connection) vs SQLAlchemy's QueuePool on
     pysqlite. Target: SessionManager <= 1.0x QueuePool.
  2. DB-API cursor point query (cursor.execute + fetchone): sqlpool.dbapi2 vs
     a held sqlite3 connection. Target: <= 1.2x.
  3. 24 threads, each with its own session, each doing --thread-queries
     lookups: total lookups per second, SessionManager on its default pool
     (5 + 10) vs nuPlan's engine per thread.

    SQLPOOL_LIBRARY=target/release/libsqlpool.so python3 python/benchmarks/orm_dbapi.py
"""

import argparse
import json
import os
import sqlite3
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from point_query import bench_db, fetchone_loop, timed_rounds  # noqa: E402  (also puts the package on sys.path)

import nuplan_orm  # noqa: E402
import sqlalchemy  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import sqlpool  # noqa: E402
from sqlpool import dbapi2  # noqa: E402
from sqlpool.sqlalchemy import SessionManager  # noqa: E402

SQL = "SELECT timestamp FROM lidar_pc WHERE token = ?"


def orm_lookups(session, tokens):
    get = session.get
    model = nuplan_orm.LidarPc
    for token in tokens:
        get(model, token)
    session.expunge_all()  # the next round queries again instead of hitting the identity map


def threads_run(make_session, tokens, n_threads, per_thread):
    """Wall seconds for n_threads threads, each with its own session (made
    in the thread, kept alive to the end), doing per_thread lookups."""
    start = threading.Barrier(n_threads + 1)
    done = threading.Barrier(n_threads + 1)
    errors = []

    def work(k):
        try:
            s = make_session()
            s.get(nuplan_orm.LidarPc, tokens[k])  # connect outside the timing
            s.expunge_all()
            start.wait()
            for i in range(per_thread):
                s.get(nuplan_orm.LidarPc, tokens[(k * 31 + i) % len(tokens)])
                if i % 500 == 499:
                    s.expunge_all()
            done.wait()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            start.abort()
            done.abort()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    done.wait()
    elapsed = time.perf_counter() - t0
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="an existing nuPlan-shaped database")
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--n", type=int, default=1000, help="queries per round and way")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=24)
    ap.add_argument("--thread-queries", type=int, default=1000)
    ap.add_argument("--json", help="also write the medians here (for benches/report.py)")
    args = ap.parse_args()

    with bench_db(args.db, args.frames) as path:
        all_tokens = nuplan_orm.lidar_pc_tokens(path, args.frames, step=1)
        tokens = [all_tokens[(i * 7) % len(all_tokens)] for i in range(args.n)]
        params = [(bytes.fromhex(t),) for t in tokens]

        # 1. ORM point lookup
        manager = SessionManager(path, read_only=True)
        nuplan = nuplan_orm.NuplanSessionManager(path)
        queuepool = Session(bind=create_engine(f"sqlite:///file:{path}?mode=ro&uri=true"), autoflush=False)
        for s in (manager.session, nuplan.session, queuepool):
            assert nuplan_orm.row_of(s.get(nuplan_orm.LidarPc, tokens[0])) == nuplan_orm.row_of(
                nuplan.session.get(nuplan_orm.LidarPc, tokens[0]))
        orm = timed_rounds({
            "SessionManager (sqlpool)": (lambda: orm_lookups(manager.session, tokens), len(tokens)),
            "nuPlan engine per thread (sqlite3)": (lambda: orm_lookups(nuplan.session, tokens), len(tokens)),
            "SQLAlchemy QueuePool, pysqlite": (lambda: orm_lookups(queuepool, tokens), len(tokens)),
        }, args.rounds)

        # 2. DB-API cursor point query
        held = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        held_cur = held.cursor()
        dconn = dbapi2.connect(path, read_only=True)
        dcur = dconn.cursor()
        assert [dcur.execute(SQL, p).fetchone() for p in params[:20]] == [
            held_cur.execute(SQL, p).fetchone() for p in params[:20]]

        dbapi = timed_rounds({
            "sqlite3 cursor, held connection": (fetchone_loop(held_cur.execute, SQL, params), len(params)),
            "sqlpool.dbapi2 cursor": (fetchone_loop(dcur.execute, SQL, params), len(params)),
        }, args.rounds)

        # 3. threads with a session each
        total = args.threads * args.thread_queries
        threaded = {}
        for _ in range(3):
            for name, make in (
                ("SessionManager, default pool (5 + 10)", lambda: SessionManager(path, read_only=True)),
                ("nuPlan engine per thread", lambda: nuplan_orm.NuplanSessionManager(path)),
            ):
                m = make()
                secs = threads_run(lambda: m.session, all_tokens, args.threads, args.thread_queries)
                threaded.setdefault(name, []).append(total / secs)
        threaded = {k: sorted(v)[len(v) // 2] for k, v in threaded.items()}

        print(f"Python {sys.version.split()[0]}, SQLAlchemy {sqlalchemy.__version__}, SQLite "
              f"{sqlite3.sqlite_version} (sqlite3) / {dbapi2.sqlite_version} (sqlpool), library {sqlpool.library_path}")
        print(f"1. ORM session.get by token, {args.n} lookups x {args.rounds} rounds, median us/lookup")
        for name, v in orm.items():
            print(f"  {name:<40} {v:8.2f} us")
        qp = orm["SQLAlchemy QueuePool, pysqlite"]
        sm = orm["SessionManager (sqlpool)"]
        print(f"  SessionManager / QueuePool = {sm / qp:.2f}x (target <= 1.0x); "
              f"/ nuPlan = {sm / orm['nuPlan engine per thread (sqlite3)']:.2f}x")
        print(f"2. DB-API cursor point query, {args.n} x {args.rounds} rounds, median us/query")
        for name, v in dbapi.items():
            print(f"  {name:<40} {v:8.2f} us")
        ratio = dbapi["sqlpool.dbapi2 cursor"] / dbapi["sqlite3 cursor, held connection"]
        print(f"  dbapi2 / sqlite3 held = {ratio:.2f}x (target <= 1.2x)")
        print(f"3. {args.threads} threads with a session each, {args.thread_queries} lookups each, "
              f"median of 3, lookups/s")
        for name, v in threaded.items():
            print(f"  {name:<40} {v:10.0f} /s")
        a, b = threaded.values()
        print(f"  SessionManager / nuPlan throughput = {a / b:.2f}x")
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump({
                    "python": sys.version.split()[0], "sqlalchemy": sqlalchemy.__version__,
                    "lookups": args.n, "rounds": args.rounds, "threads": args.threads,
                    "thread_queries": args.thread_queries,
                    "orm_get_us": orm, "dbapi_point_query_us": dbapi, "threads_lookups_per_s": threaded,
                }, f, indent=1)


if __name__ == "__main__":
    main()
