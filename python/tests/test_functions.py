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


# ---------------------------------------------------------------- functions


def _scalar(conn, sql, params=()):
    return conn.execute(sql, params).fetchone()[0]


def test_a_connection_function_of_each_type_and_arity(db):
    with sqlpool.Pool(db) as pool, pool.connection() as conn:
        conn.create_function("echo", 1, lambda x: x, deterministic=True)
        conn.create_function("nargs", -1, lambda *a: len(a))
        conn.create_function("forty_two", 0, lambda: 42)
        for value in (7, -(2**63), 2.5, "héllo\x00there", "", b"\x00\xff", b"", None):
            assert _scalar(conn, "SELECT echo(?)", (value,)) == value
        assert _scalar(conn, "SELECT typeof(echo(x''))") == "blob"
        assert _scalar(conn, "SELECT nargs()") == 0
        assert _scalar(conn, "SELECT nargs(1, 'a', NULL, 2.0)") == 4
        assert _scalar(conn, "SELECT forty_two()") == 42
        assert _scalar(conn, "SELECT echo(True)") == 1


def test_none_result_errors_and_unsupported_results_fail_the_query(db):
    def boom(x):
        raise ValueError(f"bad value {x}")

    with sqlpool.Pool(db) as pool, pool.connection() as conn:
        conn.create_function("no_result", 0, lambda: None)
        conn.create_function("boom", 1, boom)
        conn.create_function("weird", 0, lambda: object())
        conn.create_function("huge", 0, lambda: 2**64)
        assert _scalar(conn, "SELECT no_result() IS NULL") == 1
        with pytest.raises(sqlpool.OperationalError, match="ValueError: bad value 3"):
            conn.execute("SELECT boom(3)")
        with pytest.raises(sqlpool.OperationalError, match="unsupported result type object"):
            conn.execute("SELECT weird()")
        with pytest.raises(sqlpool.OperationalError, match="OverflowError"):
            conn.execute("SELECT huge()")
        # The connection still works after a failed call.
        assert _scalar(conn, "SELECT no_result() IS NULL") == 1


def test_a_connection_function_lasts_across_checkouts_and_is_freed_with_the_connection(db):
    from sqlpool import _functions

    before = _functions.live_count()
    with sqlpool.Pool(db, pool_size=1) as pool:
        with pool.connection() as conn:
            conn.create_function("plus1", 1, lambda x: x + 1)
            conn.create_function("plus1", 1, lambda x: x + 2)  # replaces: the first is freed
            assert _functions.live_count() == before + 1
        with pool.connection() as conn:
            assert _scalar(conn, "SELECT plus1(1)") == 3
    assert _functions.live_count() == before


def test_pool_functions_run_on_every_connection_overflow_included(db):
    from sqlpool import _functions

    before = _functions.live_count()
    seen = set()

    def tag(x):
        seen.add(x)
        return f"<{x}>"

    pool = sqlpool.Pool(db, pool_size=1, max_overflow=2, functions=[("tag", 1, tag), ("twice", 1, lambda x: 2 * x, True)])
    conns = [pool.connection() for _ in range(3)]
    assert pool.overflow() == 2
    for i, conn in enumerate(conns):
        assert _scalar(conn, "SELECT tag(?) || twice(?)", (i, i)) == f"<{i}>{2 * i}"
    for conn in conns:
        conn.close()
    assert seen == {0, 1, 2}
    assert _functions.live_count() == before + 2
    pool.close()
    assert _functions.live_count() == before


def test_invalid_function_arguments_raise_invalid_argument(db):
    with sqlpool.Pool(db) as pool, pool.connection() as conn:
        with pytest.raises(sqlpool.InvalidArgument, match="n_args"):
            conn.create_function("f", 128, len)
        with pytest.raises(sqlpool.InvalidArgument, match="not callable"):
            conn.create_function("f", 1, 3)
        with pytest.raises(sqlpool.InvalidArgument):
            conn.create_function("x" * 300, 1, len)
    with pytest.raises(sqlpool.InvalidArgument, match="functions"):
        sqlpool.Pool(db, functions=[("f", 1)])


def test_pool_function_called_from_many_threads_at_once(db):
    import threading

    calls = []
    lock = threading.Lock()

    def square(x):
        with lock:
            calls.append(x)
        return x * x

    with sqlpool.Pool(db, pool_size=2, max_overflow=2, functions=[("square", 1, square, True)]) as pool:
        errors = []

        def work(k):
            try:
                for i in range(50):
                    assert pool.execute_one("SELECT square(?)", (k * 100 + i,))[0] == (k * 100 + i) ** 2
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(calls) == 200
