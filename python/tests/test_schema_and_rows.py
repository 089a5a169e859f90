"""execute_one raises for any query with more than one row (two included),
and cached column lists follow the schema: after ALTER TABLE or a drop and
re-create, ``SELECT *`` has the new columns and values."""

import sqlite3

import pytest

import sqlpool
from sqlpool import dbapi2


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "s.db")
    with sqlite3.connect(path) as c:
        c.executescript("CREATE TABLE t(a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y'), (3, 'z');")
    c.close()
    return path


@pytest.mark.parametrize("rows", [2, 3])
def test_execute_one_raises_when_a_query_returns_more_than_one_row(db, rows):
    sql = "SELECT a FROM t WHERE a <= ?"
    with sqlpool.Pool(db) as pool:
        with pytest.raises(sqlpool.MultipleRowsError) as info:
            pool.execute_one(sql, (rows,))
        assert isinstance(info.value, RuntimeError)
        assert pool.execute_one(sql, (1,)) == (1,)
        assert pool.execute_one(sql, (0,)) is None
    with pytest.raises(sqlpool.MultipleRowsError):
        sqlpool.execute_one(sql, (rows,), db)
    sqlpool.close_shared()


def test_execute_one_raises_for_two_large_rows(db):
    # Rows that do not fit the first buffer take the second path.
    big = "x" * 200_000
    with sqlpool.Pool(db) as pool:
        with pool.connection() as conn:
            conn.execute("UPDATE t SET b = ?", (big,))
        with pytest.raises(sqlpool.MultipleRowsError):
            pool.execute_one("SELECT b FROM t WHERE a <= 2")
        assert pool.execute_one("SELECT b FROM t WHERE a = 2")[0] == big


def test_select_star_follows_alter_table_through_the_same_pool(db):
    with sqlpool.Pool(db) as pool:
        assert pool.execute("SELECT * FROM t WHERE a = 1")[0].keys() == ["a", "b"]
        with pool.connection() as conn:
            conn.execute("ALTER TABLE t ADD COLUMN c INTEGER DEFAULT 7")
        row = pool.execute("SELECT * FROM t WHERE a = 1")[0]
        assert row.keys() == ["a", "b", "c"] and row["c"] == 7
        row = pool.execute_one("SELECT * FROM t WHERE a = 1")
        assert row.as_dict() == {"a": 1, "b": "x", "c": 7}
        assert list(pool.execute_many("SELECT * FROM t WHERE a = 1"))[0]["c"] == 7
        with pool.connection() as conn:
            assert conn.execute("SELECT * FROM t WHERE a = 1").fetchone()["c"] == 7


def test_select_star_follows_a_drop_and_recreate_with_the_same_number_of_columns(db):
    with sqlpool.Pool(db) as pool:
        assert pool.execute_one("SELECT * FROM t WHERE a = 1").keys() == ["a", "b"]
        with pool.connection() as conn:
            conn.executescript("DROP TABLE t; CREATE TABLE t(a INTEGER, renamed TEXT); INSERT INTO t VALUES (1, 'new');")
        row = pool.execute_one("SELECT * FROM t WHERE a = 1")
        assert row.keys() == ["a", "renamed"] and row["renamed"] == "new"


def test_select_star_follows_a_schema_change_made_by_another_connection(db):
    with sqlpool.Pool(db, pool_size=2) as pool:
        assert pool.execute("SELECT * FROM t WHERE a = 1")[0].keys() == ["a", "b"]
        with sqlite3.connect(db) as other:
            other.execute("ALTER TABLE t ADD COLUMN d TEXT DEFAULT 'dee'")
        other.close()
        row = pool.execute("SELECT * FROM t WHERE a = 1")[0]
        assert row.keys() == ["a", "b", "d"] and row["d"] == "dee"
        row = pool.execute_one("SELECT * FROM t WHERE a = 2")
        assert row.keys() == ["a", "b", "d"] and row["d"] == "dee"


def test_connection_execute_follows_a_schema_change_made_by_another_connection(db):
    with sqlpool.Pool(db, pool_size=1) as pool:
        with pool.connection() as conn:
            assert conn.execute("SELECT * FROM t").fetchall()[0].keys() == ["a", "b"]
            assert conn.execute("SELECT * FROM t WHERE a = 1").fetchone().keys() == ["a", "b"]
        with sqlite3.connect(db) as other:
            other.execute("ALTER TABLE t RENAME COLUMN b TO bee")
            other.execute("ALTER TABLE t ADD COLUMN c INTEGER DEFAULT 9")
            # Enough rows that the result comes in several batches.
            other.executemany("INSERT INTO t(a, bee) VALUES (?, ?)", [(i, "v" * 100) for i in range(10, 3000)])
        other.close()
        with pool.connection() as conn:
            row = conn.execute("SELECT * FROM t WHERE a = 1").fetchone()
            assert row.keys() == ["a", "bee", "c"] and row["c"] == 9
            rows = conn.execute("SELECT * FROM t").fetchall()
            assert len(rows) == 3 + 2990 and rows[-1].keys() == ["a", "bee", "c"] and rows[-1]["c"] == 9


def test_a_multi_batch_result_follows_a_rename_with_the_same_number_of_columns(db):
    with sqlite3.connect(db) as c:
        c.executemany("INSERT INTO t VALUES (?, ?)", [(i, "w" * 100) for i in range(10, 3000)])
    c.close()
    with sqlpool.Pool(db, pool_size=1) as pool:
        with pool.connection() as conn:
            assert conn.execute("SELECT * FROM t").fetchall()[-1].keys() == ["a", "b"]
        with sqlite3.connect(db) as other:
            other.execute("ALTER TABLE t RENAME COLUMN b TO renamed")
        other.close()
        with pool.connection() as conn:
            result = conn.execute("SELECT * FROM t")
            assert result.columns == ("a", "renamed")
            assert result.fetchall()[-1]["renamed"] == "w" * 100


def test_rows_of_mixed_types_decode_as_sqlite3_reads_them(tmp_path):
    # Rows with TEXT/BLOB/NULL columns are read with one format per length
    # combination (cached up to a bound, then column by column): both ways
    # must give sqlite3's values, on every read path.
    import random

    rng = random.Random(7)

    def value():
        kind = rng.randrange(5)
        if kind == 0:
            return None
        if kind == 1:
            return rng.randint(-2**63, 2**63 - 1)
        if kind == 2:
            return rng.random() * 1e6
        if kind == 3:
            return "".join(rng.choice("ab\u00e9\u4e2d") for _ in range(rng.choice((2, rng.randrange(40)))))
        return bytes(rng.randrange(256) for _ in range(rng.choice((8, rng.randrange(300)))))

    path = str(tmp_path / "mixed.db")
    with sqlite3.connect(path) as ref:
        ref.execute("CREATE TABLE m (a, b, c, d)")
        ref.executemany("INSERT INTO m VALUES (?, ?, ?, ?)", [tuple(value() for _ in range(4)) for _ in range(600)])
        ref.commit()
        with sqlpool.Pool(path) as pool:
            conn = dbapi2.connect(path)
            cur = conn.cursor()
            for cols in ("a, b, c, d", "d", "c, a", "b, b, b"):
                sql = f"SELECT {cols} FROM m"
                want = ref.execute(sql).fetchall()
                assert [tuple(r) for r in pool.execute(sql)] == want
                for rowid in range(1, 601, 7):
                    one = ref.execute(sql + " WHERE rowid = ?", (rowid,)).fetchone()
                    for _ in range(2):  # learns the statement, then the one-call path
                        assert cur.execute(sql + " WHERE rowid = ?", (rowid,)).fetchone() == one
            conn.close()
    ref.close()
