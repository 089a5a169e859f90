"""execute_one / execute_many against nuPlan's query_session helpers (a new
sqlite3 connection per query) on a generated nuPlan-shaped log, and the
registry of shared pools behind them."""

import os
import sqlite3
import time

import pytest

import sqlpool
from conftest import STEP_QUERIES, make_nuplan_db, sqlite3_step, sqlpool_step, step_variables
from query_session import execute_one as nuplan_execute_one  # examples/nuplan (conftest)
from query_session import execute_many as nuplan_execute_many


@pytest.fixture(autouse=True)
def fresh_registry():
    sqlpool.configure_shared(max_connections=0, idle_timeout=60.0)
    yield
    sqlpool.close_shared()
    sqlpool.configure_shared(max_connections=0, idle_timeout=60.0)


def test_the_145_step_queries_equal_sqlite3_for_several_steps(nuplan_db):
    assert sum(len(b) for b in STEP_QUERIES) == 145
    for step in range(4):
        v = step_variables(nuplan_db, step)
        assert sqlpool_step(nuplan_db, v) == sqlite3_step(nuplan_db, v)


def test_execute_one_and_execute_many_behave_as_nuplans_helpers(nuplan_db):
    v = step_variables(nuplan_db, 3)
    checked = 0
    for batch in STEP_QUERIES:
        for sql, names in batch:
            params = tuple(v[n] for n in names)
            ref = [tuple(r) for r in nuplan_execute_many(sql, params, nuplan_db)]
            got = list(sqlpool.execute_many(sql, params, nuplan_db))
            assert [tuple(r) for r in got] == ref, sql
            if got:
                assert got[0].keys() == list(next(nuplan_execute_many(sql, params, nuplan_db)).keys())
            if len(ref) <= 1:
                one = sqlpool.execute_one(sql, params, nuplan_db)
                want = nuplan_execute_one(sql, params, nuplan_db)
                assert (one is None and want is None) or (tuple(one) == tuple(want) and one.keys() == want.keys())
            else:
                with pytest.raises(RuntimeError, match="multiple rows"):
                    nuplan_execute_one(sql, params, nuplan_db)
                with pytest.raises(RuntimeError, match="multiple rows"):
                    sqlpool.execute_one(sql, params, nuplan_db)
            checked += 1
    assert checked == 145


def test_dict_and_list_parameters_and_row_access(nuplan_db):
    token = sqlite3.connect(nuplan_db).execute("SELECT token FROM lidar_pc LIMIT 1").fetchone()[0]
    row = sqlpool.execute_one("SELECT token, timestamp FROM lidar_pc WHERE token = :token", {"token": token}, nuplan_db)
    assert row["token"] == token and row[0] == token and isinstance(row["timestamp"], int)
    assert sqlpool.execute_one("SELECT timestamp FROM lidar_pc WHERE token = ?", [token], nuplan_db) == (row[1],)
    assert sqlpool.execute_one("SELECT timestamp FROM lidar_pc WHERE token = ?", (b"nope",), nuplan_db) is None


def test_execute_many_is_a_lazy_generator(nuplan_db):
    gen = sqlpool.execute_many("SELECT * FROM no_such_table", (), nuplan_db)
    assert hasattr(gen, "__next__")
    with pytest.raises(sqlpool.OperationalError, match="no such table"):
        next(gen)
    # Abandoned half-way: the connection goes back.
    rows = sqlpool.execute_many("SELECT token FROM lidar_box", (), nuplan_db)
    assert len(next(rows)) == 1
    rows.close()
    pool = sqlpool.shared_pool(nuplan_db)
    assert pool.checkedout() == 0


def test_errors_of_the_drop_ins(tmp_path, nuplan_db):
    with pytest.raises(sqlpool.CantOpen):
        sqlpool.execute_one("SELECT 1", (), str(tmp_path / "missing.db"))
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(sqlpool.InvalidArgument):
        sqlpool.execute_one("SELECT ?", (), nuplan_db)


def test_one_shared_pool_per_canonical_file(tmp_path):
    a = make_nuplan_db(str(tmp_path / "a.db"), frames=20)
    os.symlink(a, tmp_path / "link.db")
    sqlpool.close_shared()  # pools earlier tests left in the registry
    before = sqlpool.shared_stats()["pools"]
    sqlpool.execute_one("SELECT 1", (), a)
    sqlpool.execute_one("SELECT 1", (), str(tmp_path / "link.db"))
    sqlpool.execute_one("SELECT 1", (), str(tmp_path / "." / "a.db"))
    assert sqlpool.shared_stats()["pools"] == before + 1
    p1 = sqlpool.shared_pool(a)
    p2 = sqlpool.shared_pool(str(tmp_path / "link.db"))
    assert p1 is not p2 and p1.shared and p2.shared
    with p1.connection():
        assert p2.checkedout() == 1, "two Pool objects, one pool in the library"
    # Closing every reference closes the pool.
    sqlpool.close_shared()
    assert sqlpool.shared_stats()["pools"] == before
    assert sqlpool.execute_one("SELECT count(*) FROM log", (), a) == (1,)


def test_the_registry_caps_connections_across_many_files(tmp_path):
    files = [make_nuplan_db(str(tmp_path / f"log{i}.db"), frames=10 + i) for i in range(12)]
    sqlpool.configure_shared(max_connections=3, idle_timeout=None)
    for _ in range(2):
        for i, f in enumerate(files):
            assert sqlpool.execute_one("SELECT count(*) FROM lidar_pc", (), f) == (10 + i,)
            assert len(list(sqlpool.execute_many("SELECT token FROM lidar_pc", (), f))) == 10 + i
            s = sqlpool.shared_stats()
            assert s["open_connections"] <= 3, s
    s = sqlpool.shared_stats()
    assert s["max_connections"] == 3 and s["budget_evictions"] >= 9 and s["pools"] >= 12


def test_idle_pools_are_swept(tmp_path):
    files = [make_nuplan_db(str(tmp_path / f"log{i}.db"), frames=10) for i in range(3)]
    sqlpool.configure_shared(max_connections=0, idle_timeout=0.2)
    before = sqlpool.shared_stats()["idle_disposals"]
    for f in files:
        sqlpool.execute_one("SELECT count(*) FROM log", (), f)
    assert sqlpool.sweep_shared() == 0, "used just now"
    assert sqlpool.shared_stats()["open_connections"] >= 3
    time.sleep(0.3)
    sqlpool.sweep_shared()
    s = sqlpool.shared_stats()
    assert s["open_connections"] == 0 and s["idle_disposals"] >= before + 3, s
    assert sqlpool.execute_one("SELECT count(*) FROM log", (), files[0]) == (1,)
    with pytest.raises(sqlpool.InvalidArgument):
        sqlpool.configure_shared(max_connections=-1)
