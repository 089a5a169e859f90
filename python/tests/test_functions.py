"""The C API additions for the DB-API and SQLAlchemy, through the Python
package: changes, last insert rowid, in_transaction, declared types, and
user-defined SQL functions per connection and per pool."""

import pytest

import sqlpool


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "f.db")
    with sqlpool.Pool(path, create=True, pool_size=1) as pool:
        with pool.connection() as conn:
            conn.executescript("CREATE TABLE t(id INTEGER PRIMARY KEY, name VARCHAR(20), data BLOB)")
    return path


def test_changes_and_last_insert_rowid(db):
    with sqlpool.Pool(db) as pool, pool.connection() as conn:
        conn.execute("INSERT INTO t(name) VALUES ('a'), ('b'), ('c')")
        assert conn.changes() == 3
        assert conn.last_insert_rowid() == 3
        conn.execute("UPDATE t SET name = 'x' WHERE id >= 2")
        assert conn.changes() == 2
        conn.execute("DELETE FROM t WHERE id = 1")
        assert conn.changes() == 1
        assert conn.last_insert_rowid() == 3


def test_in_transaction_is_the_holders_own_not_the_read_snapshot(db):
    with sqlpool.Pool(db, read_snapshot=True, pool_size=1) as pool:
        with pool.connection() as conn:
            assert conn.in_transaction is False
            result = conn.execute("SELECT 1 FROM t UNION ALL SELECT 2")
            result.fetchone()
            assert conn.in_transaction is False  # only the snapshot is open
            conn.executescript("BEGIN")
            assert conn.in_transaction is True
            conn.execute("INSERT INTO t(name) VALUES ('a')")
            conn.executescript("COMMIT")
            assert conn.in_transaction is False
            conn.executescript("BEGIN")
            conn.executescript("ROLLBACK")
            assert conn.in_transaction is False
            conn.executescript("BEGIN")
        with pool.connection() as conn:
            assert conn.in_transaction is False  # checkin rolled it back


def test_decltypes_of_table_columns_and_expressions(db):
    with sqlpool.Pool(db) as pool, pool.connection() as conn:
        result = conn.execute("SELECT id, name, data, id + 1 AS next FROM t")
        assert result.decltypes == ("INTEGER", "VARCHAR(20)", "BLOB", None)
        assert result.columns == ("id", "name", "data", "next")


def test_closed_connection_state_calls_raise_misuse(db):
    with sqlpool.Pool(db) as pool:
        conn = pool.connection()
        conn.close()
        with pytest.raises(sqlpool.Misuse):
            conn.changes()
        with pytest.raises(sqlpool.Misuse):
            conn.last_insert_rowid()
        with pytest.raises(sqlpool.Misuse):
            conn.in_transaction
