"""Pool, Connection, Result and Row: every public method, the parameter and
value types, the exceptions and the context managers on error paths."""

import gc
import os
import pickle
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

import sqlpool
from sqlpool import (
    CantOpen,
    InvalidArgument,
    Misuse,
    MultipleRowsError,
    OperationalError,
    PoolClosed,
    PoolTimeout,
    SqlpoolError,
)


def test_status_uses_sqlalchemy_wording_and_stats_count(pool):
    assert pool.status() == "Pool size: 5  Connections in pool: 1 Current Overflow: -4 Current Checked out connections: 0"
    with pool.connection() as a, pool.connection() as b:
        assert a is not b
        assert pool.status() == "Pool size: 5  Connections in pool: 0 Current Overflow: -3 Current Checked out connections: 2"
        assert (pool.size(), pool.checkedin(), pool.checkedout(), pool.overflow()) == (5, 0, 2, -3)
    s = pool.stats()
    assert s["checkouts"] == 2 and s["connections_created"] == 2 and s["idle"] == 2
    assert set(s) >= {"pool_size", "max_overflow", "waits", "timeouts", "statement_cache_hits", "resets_on_checkin"}


def test_options_reach_the_pool_and_bad_values_name_the_option(db):
    with sqlpool.Pool(db, pool_size=2, max_overflow=-1, timeout=None, recycle=None, lifo=True,
                      busy_timeout=0.5, statement_cache_capacity=0, read_snapshot=False, pre_ping=False) as p:
        assert p.stats()["pool_size"] == 2 and p.stats()["max_overflow"] == -1
        assert p.options["lifo"] is True
    for kwargs, name in [
        (dict(pool_size=0), "pool_size"),
        (dict(max_overflow=-2), "max_overflow"),
        (dict(recycle=-5), "recycle"),
        (dict(timeout=-1), "timeout"),
        (dict(pool_size=2**40), "pool_size"),
        (dict(max_overflow=2**31), "max_overflow"),
        (dict(statement_cache_capacity=-1), "statement_cache_capacity"),
        (dict(pool_size="5"), "pool_size"),
    ]:
        with pytest.raises(InvalidArgument, match=name):
            sqlpool.Pool(db, **kwargs)


def test_open_errors(tmp_path):
    with pytest.raises(CantOpen, match="missing.db") as e:
        sqlpool.Pool(str(tmp_path / "missing.db"))
    assert e.value.code == 6 and not (tmp_path / "missing.db").exists()
    notdb = tmp_path / "text.db"
    notdb.write_text("not a database " * 200)
    with pytest.raises(OperationalError) as e:
        sqlpool.Pool(str(notdb))
    assert e.value.sqlite_errorcode == 26 and str(notdb) in str(e.value)
    with pytest.raises(InvalidArgument, match="cache=shared"):
        sqlpool.Pool(":memory:")
    with sqlpool.Pool(tmp_path / "new.db", create=True, init_sql="CREATE TABLE IF NOT EXISTS x(a)") as p:
        assert p.execute("SELECT count(*) FROM x") == [(0,)]


def test_execute_and_the_cursor_like_result(pool):
    with pool.connection() as conn:
        r = conn.execute("SELECT i, f, s, b FROM t WHERE i <= ? ORDER BY i", (3,))
        assert r.columns == ("i", "f", "s", "b")
        assert [d[0] for d in r.description] == ["i", "f", "s", "b"]
        one = r.fetchone()
        assert one == (1, 0.25, "row 1", b"\x01\x00\xff")
        assert r.fetchmany(5) == [(2, 0.5, "row 2", b"\x02\x00\xff"), (3, 0.75, "row 3", b"\x03\x00\xff")]
        assert r.fetchone() is None and r.fetchall() == []
        assert [row[0] for row in conn.execute("SELECT i FROM t ORDER BY i")] == list(range(1, 101))
        assert len(conn.execute("SELECT * FROM t").fetchall()) == 100
        assert conn.execute("SELECT * FROM t WHERE i < 0").fetchall() == []
        assert conn.execute("SELECT 1 WHERE 0").description is not None
        with conn.execute("SELECT i FROM t") as r2:
            assert r2.fetchone() == (1,)
        r2.close()
        r2.close()
    assert pool.execute("SELECT s FROM t WHERE i = ?", [7]) == [("row 7",)]
    assert pool.execute_one("SELECT s FROM t WHERE i = ?", [7])["s"] == "row 7"
    assert pool.execute_one("SELECT s FROM t WHERE i = -1") is None
    with pytest.raises(MultipleRowsError, match="multiple rows") as e:
        pool.execute_one("SELECT s FROM t")
    assert isinstance(e.value, RuntimeError)
    assert list(pool.execute_many("SELECT i FROM t WHERE i < ?", (4,))) == [(1,), (2,), (3,)]


def test_rows_act_like_sqlite3_row(pool):
    row = pool.execute_one("SELECT i, s AS Name, f, i AS i FROM t WHERE i = 2")
    assert isinstance(row, sqlpool.Row) and isinstance(row, tuple)
    assert row[0] == row["i"] == 2
    assert row["name"] == row["NAME"] == row["Name"] == row[1] == "row 2"
    assert row[-2] == 0.5 and row[1:3] == ("row 2", 0.5)
    assert row.keys() == ["i", "Name", "f", "i"]
    assert row.as_dict() == {"i": 2, "Name": "row 2", "f": 0.5}
    assert len(row) == 4 and tuple(row) == (2, "row 2", 0.5, 2)
    with pytest.raises(IndexError):
        row["nope"]
    with pytest.raises(IndexError):
        row[9]
    assert "Name='row 2'" in repr(row)
    copy = pickle.loads(pickle.dumps(row))
    assert copy == row and copy["name"] == "row 2" and type(copy) is type(row)
    ref = sqlite3.connect(":memory:")
    ref.row_factory = sqlite3.Row
    sq = ref.execute("SELECT 2 AS i, 'row 2' AS Name, 0.5 AS f, 2 AS i").fetchone()
    assert tuple(sq) == tuple(row) and sq.keys() == row.keys() and sq["name"] == row["name"]


def test_parameter_and_value_types_round_trip(pool):
    values = [0, -1, 2**63 - 1, -(2**63), 1.5, -0.0, float("inf"), "", "héllo ✓", "nul\x00inside",
              b"", b"\x00\xff", None, True, False]
    with pool.connection() as conn:
        for v in values:
            got = conn.execute("SELECT ?, typeof(?)", (v, v)).fetchone()
            ref = sqlite3.connect(":memory:").execute("SELECT ?, typeof(?)", (v, v)).fetchone()
            assert tuple(got) == ref, v
        assert conn.execute("SELECT ?", (bytearray(b"ab"),)).fetchone()[0] == b"ab"
        assert conn.execute("SELECT ?", (memoryview(b"xyz"),)).fetchone()[0] == b"xyz"
        assert conn.execute("SELECT ?", (memoryview(b"abcdef")[::2],)).fetchone()[0] == b"ace"
        assert conn.execute("SELECT :a, :b, @c", {"a": 1, "b": "two", "c": None, "extra": 0}).fetchone() == (1, "two", None)
        assert conn.execute("SELECT ?1, ?2, ?1", (5, 6)).fetchone() == (5, 6, 5)
        assert conn.execute("SELECT 1", None).fetchone() == (1,)
        with pytest.raises(OverflowError):
            conn.execute("SELECT ?", (2**63,))
        with pytest.raises(InvalidArgument, match="type 'object' is not supported"):
            conn.execute("SELECT ?", (object(),))
        with pytest.raises(InvalidArgument, match="incorrect number of bindings") as e:
            conn.execute("SELECT ?, ?", (1,))
        assert e.value.code == 3
        with pytest.raises(InvalidArgument, match=":b"):
            conn.execute("SELECT :a, :b", {"a": 1})
        with pytest.raises(InvalidArgument, match="nameless"):
            conn.execute("SELECT ?", {"a": 1})
        with pytest.raises(InvalidArgument, match="unsupported type"):
            conn.execute("SELECT ?", "x")
        with pytest.raises(InvalidArgument, match="null character"):
            conn.execute("SELECT 1\x00")
        # Large values: rows bigger than the fetch buffer grow it.
        big = "x" * 300_000
        blob = os.urandom(200_000)
        assert conn.execute("SELECT ?, length(?)", (big, big)).fetchone() == (big, 300_000)
        assert pool.execute_one("SELECT ?", (blob,))[0] == blob
        assert pool.execute("SELECT ?", (blob,)) == [(blob,)]
        assert list(pool.execute_many("SELECT ?", (blob,))) == [(blob,)]
        many = conn.execute("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20000) "
                            "SELECT x, 'v' || x FROM n").fetchall()
        assert len(many) == 20000 and many[-1] == (20000, "v20000")


def test_writes_transactions_and_rollback_at_checkin(pool):
    with pool.connection() as conn:
        conn.execute("INSERT INTO kv VALUES (?, ?)", ("a", 1))
        conn.executescript("BEGIN; INSERT INTO kv VALUES ('b', 2);")
    # The open transaction was rolled back at checkin.
    assert pool.execute("SELECT k FROM kv ORDER BY k") == [("a",)]
    assert pool.stats()["resets_on_checkin"] == 1
    assert pool.execute_one("INSERT INTO kv VALUES ('c', 3) RETURNING k") == ("c",)
    with pytest.raises(OperationalError) as e:
        pool.execute("INSERT INTO kv VALUES ('a', 9)")
    assert e.value.sqlite_errorcode == 1555 and "UNIQUE" in str(e.value)
    with pytest.raises(OperationalError, match="no such table"):
        pool.execute("SELECT * FROM nope")
    with pytest.raises(OperationalError, match="syntax error"):
        with pool.connection() as conn:
            conn.executescript("SELEC 1")


def test_read_only_pools_refuse_writes(db):
    with sqlpool.Pool(db, read_only=True) as p:
        assert p.execute_one("SELECT count(*) FROM t") == (100,)
        with pytest.raises(OperationalError) as e:
            p.execute("DELETE FROM t")
        assert e.value.sqlite_errorcode & 0xFF == 8  # SQLITE_READONLY


def test_context_managers_check_in_on_exceptions(pool):
    with pytest.raises(ZeroDivisionError):
        with pool.connection() as conn:
            conn.execute("SELECT 1")
            1 / 0
    assert conn.closed and pool.checkedout() == 0
    with pytest.raises(OperationalError):
        with pool.connection():
            pool.execute("SELECT nope")
    assert pool.checkedout() == 0
    # A result outliving its connection, a connection used after checkin.
    with pool.connection() as conn:
        r = conn.execute("SELECT i FROM t")  # 100 rows fit one batch: done
        r_more = conn.execute("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 50000) SELECT x FROM n")
    assert len(r.fetchall()) == 100
    first = r_more.fetchmany(1)
    assert first == [(1,)]
    with pytest.raises(Misuse):
        r_more.fetchall()
    with pytest.raises(Misuse, match="checked in"):
        conn.execute("SELECT 1")
    conn.close()  # idempotent
    # A connection dropped without close is checked in by the GC.
    c = pool.connection()
    assert pool.checkedout() == 1
    del c
    gc.collect()
    assert pool.checkedout() == 0


def test_invalidate_dispose_and_close(pool):
    with pool.connection() as conn:
        conn.invalidate()
    assert pool.stats()["invalidated"] == 1
    pool.dispose()
    assert pool.checkedin() == 0
    assert pool.execute_one("SELECT 1") == (1,)
    held = pool.connection()
    pool.close()
    pool.close()  # idempotent
    assert pool.closed and "closed" in repr(pool)
    assert held.execute("SELECT 2").fetchone() == (2,), "checked-out connections stay usable"
    held.close()
    with pytest.raises(PoolClosed) as e:
        pool.connection()
    assert e.value.code == 5 and isinstance(e.value, SqlpoolError)
    with pytest.raises(PoolClosed):
        pool.execute("SELECT 1")


def test_checkout_timeout(db):
    with sqlpool.Pool(db, pool_size=1, max_overflow=0, timeout=0.1) as p:
        with p.connection():
            t0 = time.monotonic()
            with pytest.raises(PoolTimeout, match="timed out") as e:
                p.connection()
            assert time.monotonic() - t0 >= 0.09
            assert isinstance(e.value, TimeoutError) and e.value.code == 4
        assert p.stats()["timeouts"] == 1


def test_two_threads_on_one_connection_is_misuse_never_a_crash(pool):
    conn = pool.connection()
    errors = []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                conn.execute("SELECT count(*) FROM t").fetchone()
            except Misuse as e:
                errors.append(e)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    conn.close()
    assert all("another thread" in str(e) or "in use" in str(e) for e in errors)


def test_pool_garbage_collected_closes_and_pickles_reopen(db):
    p = sqlpool.Pool(db)
    fin = p._finalizer
    del p
    gc.collect()
    assert not fin.alive
    p = sqlpool.Pool(db, pool_size=3)
    q = pickle.loads(pickle.dumps(p))
    assert q is not p and q.path == p.path and q.size() == 3
    assert q.execute_one("SELECT count(*) FROM t") == (100,)
    p.close()
    q.close()


def test_interpreter_exit_with_open_pools_connections_and_results(db):
    code = f"""
import sqlpool
p = sqlpool.Pool({db!r})
c = p.connection()
r = c.execute("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000) SELECT x FROM n")
r.fetchone()
s = sqlpool.shared_pool({db!r})
sqlpool.execute_one("SELECT 1", (), {db!r})
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    assert "Exception" not in r.stderr and "Error" not in r.stderr, r.stderr


def test_status_matches_sqlalchemy_queuepool_for_the_same_state(db):
    sqlalchemy_pool = pytest.importorskip("sqlalchemy.pool")
    qp = sqlalchemy_pool.QueuePool(lambda: sqlite3.connect(db, check_same_thread=False), pool_size=5, max_overflow=10)
    with sqlpool.Pool(db) as ours:
        qp.connect().close()  # sqlpool opens its first connection at open
        assert ours.status() == qp.status()
        theirs = [qp.connect() for _ in range(7)]
        mine = [ours.connection() for _ in range(7)]
        assert ours.status() == qp.status()
        for c in theirs[:3] + mine[:3]:
            c.close()
        assert ours.status() == qp.status()
        for c in theirs[3:] + mine[3:]:
            c.close()
        assert ours.status() == qp.status()
    qp.dispose()
