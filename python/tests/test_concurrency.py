"""Threads sharing one pool; multiprocessing with fork, spawn and
forkserver; results identical to sqlite3's."""

import multiprocessing
import os
import sqlite3
import threading

import pytest

import sqlpool
from conftest import STEP_QUERIES, sqlite3_step, sqlpool_step, step_variables

POINT = "SELECT timestamp FROM lidar_pc WHERE token = ?"


def test_eight_threads_share_one_pool(nuplan_db):
    ref = sqlite3.connect(nuplan_db)
    frames = ref.execute("SELECT token, timestamp FROM lidar_pc ORDER BY timestamp").fetchall()
    boxes = ref.execute("SELECT count(*) FROM lidar_box").fetchone()[0]
    errors = []
    with sqlpool.Pool(nuplan_db, pool_size=4, max_overflow=2, read_only=True) as pool:

        def work(k):
            try:
                for i in range(300):
                    token, ts = frames[(i * 13 + k) % len(frames)]
                    if i % 3 == 0:
                        assert pool.execute_one(POINT, (token,)) == (ts,)
                    elif i % 3 == 1:
                        with pool.connection() as conn:
                            assert conn.execute(POINT, (token,)).fetchone()["timestamp"] == ts
                            assert conn.execute("SELECT count(*) FROM lidar_box").fetchone() == (boxes,)
                    else:
                        assert sqlpool.execute_one(POINT, [token], nuplan_db)[0] == ts
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        s = pool.stats()
        assert s["checked_out"] == 0 and s["connections_created"] - s["connections_closed"] <= 6
        assert s["checkouts"] >= 8 * 200  # and the checkouts that read statement metadata


# Set before a fork, used by the forked workers.
_POOL = None
_HELD = None


def step_with_inherited_pool(step):
    """In a forked worker: the parent's pool, on fresh connections."""
    v = step_variables(_POOL.path, step)
    out = []
    with _POOL.connection() as conn:
        for batch in STEP_QUERIES:
            for sql, names in batch:
                out.append([tuple(r) for r in conn.execute(sql, [v[n] for n in names])])
    stale = "usable"
    try:
        _HELD.execute("SELECT 1")
    except sqlpool.Misuse:
        stale = "misuse"
    return os.getpid(), out, stale


def step_with_pool_argument(args):
    """In a spawned worker: the pool arrives pickled and is reopened here;
    the drop-ins open their own shared pool."""
    pool, step = args
    v = step_variables(pool.path, step)
    out = []
    for batch in STEP_QUERIES:
        for sql, names in batch:
            out.append([tuple(r) for r in pool.execute(sql, [v[n] for n in names])])
    return os.getpid(), out, sqlpool_step(pool.path, v)


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_start_methods(nuplan_db, method):
    global _POOL, _HELD
    steps = list(range(6))
    expected = [sqlite3_step(nuplan_db, step_variables(nuplan_db, s)) for s in steps]
    ctx = multiprocessing.get_context(method)
    with sqlpool.Pool(nuplan_db, read_only=True) as pool:
        pool.execute_one("SELECT count(*) FROM log")  # connections exist before the fork
        if method == "fork":
            _POOL, _HELD = pool, pool.connection()
            try:
                with ctx.Pool(2) as workers:
                    results = workers.map(step_with_inherited_pool, steps)
            finally:
                _HELD.close()
                _POOL = _HELD = None
            assert all(stale == "misuse" for _, _, stale in results), "pre-fork connections are not the child's"
            assert [out for _, out, _ in results] == expected
        else:
            with ctx.Pool(2) as workers:
                results = workers.map(step_with_pool_argument, [(pool, s) for s in steps])
            assert [out for _, out, _ in results] == expected
            assert [dropin for _, _, dropin in results] == expected
        assert {pid for pid, _, _ in results} - {os.getpid()}, "ran in other processes"
        # The parent's pool is unharmed.
        assert pool.execute_one("SELECT count(*) FROM log") == (1,)
        assert pool.checkedout() == 0
